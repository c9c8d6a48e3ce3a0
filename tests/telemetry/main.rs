//! Telemetry end to end: with OTLP export on, one upload is one trace from the bridge (S3)
//! through the parser to the projector's fold (Postgres), its context carried in the events'
//! `traceparent` Kafka header. The spans are received by a real OTLP/HTTP receiver in this
//! process (protobuf decoded with the OpenTelemetry protocol's own types).
//!
//! A binary of its own: the tracing subscriber it installs is global to the process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use resi_projector::engine::ProjectionKind;
use resi_runtime::config::TelemetryConfig;
use resi_tests::harness::{Harness, v1_file, v1_key};

/// One received span: trace id, span id, parent span id (hex; empty for a root), name.
#[derive(Clone, Debug)]
struct ReceivedSpan {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
}

type Received = Arc<Mutex<Vec<ReceivedSpan>>>;

async fn receive(State(received): State<Received>, body: Bytes) -> &'static str {
    if let Ok(request) = ExportTraceServiceRequest::decode(body) {
        let spans = request
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans)
            .map(|span| ReceivedSpan {
                trace_id: hex::encode(span.trace_id),
                span_id: hex::encode(span.span_id),
                parent_span_id: hex::encode(span.parent_span_id),
                name: span.name,
            });
        if let Ok(mut all) = received.lock() {
            all.extend(spans);
        }
    }
    ""
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upload_is_one_trace_from_the_bucket_to_postgres() -> anyhow::Result<()> {
    // Arrange: the receiver, and this process's telemetry exporting to it
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let traces_url = format!("http://{}/v1/traces", listener.local_addr()?);
    let receiver = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(Arc::clone(&received));
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let guard = resi_runtime::telemetry::init_with_export(
        "resi-telemetry-test",
        &TelemetryConfig::default(),
        Some(Some(&traces_url)),
    )?;
    let harness = Harness::new().await?;
    let key = v1_key("5Traced", "job-1", "20251001_120000", 3);
    harness.put(&key, v1_file(3, 70_000)?).await?;

    // Act: the whole pipeline on that one upload
    let bridge = harness
        .spawn_bridge(&harness.bridge_config("s3", None))
        .await?;
    let parser = harness.spawn_parser(&harness.parser_config(0, 1)).await?;
    let projector = harness
        .spawn_projector(&[(ProjectionKind::Listing, "v1")])
        .await?;
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    resi_tests::eventually(
        Duration::from_secs(90),
        "the upload's listings in Postgres",
        || async {
            let folded: i64 = pool
                .get()
                .await?
                .query_one("SELECT count(*) FROM listing_v1.listings", &[])
                .await
                .map_or(0, |row| row.get(0));
            Ok((folded == 3).then_some(()))
        },
    )
    .await?;
    bridge.stop().await?;
    parser.stop().await?;
    projector.stop().await?;
    // flushing posts with a blocking client: off the runtime's threads
    tokio::task::spawn_blocking(move || drop(guard)).await?;

    // Assert: the upload's root span in the bridge, the parser's span its descendant, the
    // projector's fold a child of the parser's span, all in one trace
    let spans = resi_tests::eventually(Duration::from_secs(30), "the spans to arrive", || async {
        let spans = received.lock().map(|all| all.clone()).unwrap_or_default();
        let complete = ["handle_upload", "parse_upload", "fold_batch"]
            .iter()
            .all(|name| spans.iter().any(|span| span.name == *name));
        Ok(complete.then_some(spans))
    })
    .await?;
    let find = |name: &str| {
        spans
            .iter()
            .filter(|span| span.name == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let roots = find("handle_upload");
    let parses = find("parse_upload");
    let folds = find("fold_batch");
    assert_eq!(parses.len(), 1, "one upload, parsed once: {parses:?}");
    let parse = &parses[0];
    let root = roots
        .iter()
        .find(|root| root.trace_id == parse.trace_id)
        .unwrap_or_else(|| panic!("the parse continues an upload's trace: {roots:?} / {parse:?}"));
    assert!(
        root.parent_span_id.is_empty() || root.parent_span_id.chars().all(|digit| digit == '0'),
        "the upload starts its trace: {root:?}"
    );
    // the parse's parent is a span of the bridge's trace (its publish)
    let bridge_spans: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|span| span.trace_id == root.trace_id)
        .collect();
    assert!(
        bridge_spans
            .iter()
            .any(|span| span.span_id == parse.parent_span_id && span.name != "parse_upload"),
        "{parse:?} hangs under a bridge span: {bridge_spans:?}"
    );
    let fold = folds
        .iter()
        .find(|fold| fold.parent_span_id == parse.span_id)
        .unwrap_or_else(|| panic!("a fold continues the parse: {folds:?}"));
    assert_eq!(fold.trace_id, root.trace_id);
    // and the trace covers the stores: Postgres statements of the fold and S3 reads of the parse
    let in_trace: Vec<&str> = spans
        .iter()
        .filter(|span| span.trace_id == root.trace_id)
        .map(|span| span.name.as_str())
        .collect();
    assert!(in_trace.len() >= 5, "{in_trace:?}");
    Ok(())
}
