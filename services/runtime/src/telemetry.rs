//! One telemetry set-up for every binary.
//!
//! * `RUST_LOG` filters (default `info`), e.g. `RUST_LOG=resi_parser=debug,rdkafka=warn`.
//! * Output is pretty for people or JSON for log shippers ([`LogFormat`]).
//! * When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are exported over OTLP/HTTP (protobuf),
//!   with the W3C trace-context propagator installed so trace ids can cross Kafka headers.

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::{LogFormat, TelemetryConfig};

/// The environment variable that turns OTLP export on.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Flushes and stops trace export when dropped; keep it alive for the life of `main`.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("failed to flush traces at shutdown: {error}");
        }
    }
}

/// Installs the global subscriber for `service_name`; spans are exported over OTLP/HTTP when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
pub fn init(
    service_name: &'static str,
    config: &TelemetryConfig,
) -> anyhow::Result<TelemetryGuard> {
    let export = match std::env::var(OTLP_ENDPOINT_ENV) {
        Ok(endpoint) if !endpoint.trim().is_empty() => Some(None),
        _ => None,
    };
    init_with_export(service_name, config, export)
}

/// Like [`init`], choosing the export in code: `None` exports nothing, `Some(None)` exports as
/// the `OTEL_EXPORTER_OTLP_*` variables say, `Some(Some(url))` posts spans to that traces URL
/// (e.g. `http://127.0.0.1:4318/v1/traces`; tests use it for an in-process receiver).
pub fn init_with_export(
    service_name: &'static str,
    config: &TelemetryConfig,
    export: Option<Option<&str>>,
) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let output = match config.log_format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_target(true).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let provider = export
        .map(|traces_url| otlp_provider(service_name, traces_url))
        .transpose()?;
    let otel_layer = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name)));
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .with(otel_layer)
        .try_init()
        .context("failed to install the tracing subscriber")?;
    Ok(TelemetryGuard { provider })
}

fn otlp_provider(
    service_name: &'static str,
    traces_url: Option<&str>,
) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig as _;
    // without a URL the exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _HEADERS, _TIMEOUT)
    let builder = opentelemetry_otlp::SpanExporter::builder().with_http();
    let builder = match traces_url {
        Some(url) => builder.with_endpoint(url),
        None => builder,
    };
    let exporter = builder
        .build()
        .context("failed to build the OTLP span exporter")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
}

/// The Kafka header carrying the W3C trace context from one service to the next.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// A W3C `traceparent` value (`00-{trace id}-{span id}-{flags}`, 55 bytes): plain bytes, so
/// event headers that carry it stay `Copy` and cheap to hand between tasks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceParent([u8; 55]);

impl TraceParent {
    /// The header value.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Parses a header value; `None` unless it is a well-formed version-00 traceparent.
    #[must_use]
    pub fn parse(value: &[u8]) -> Option<Self> {
        let bytes: [u8; 55] = value.try_into().ok()?;
        let well_formed = bytes.starts_with(b"00-")
            && bytes[35] == b'-'
            && bytes[52] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(index, byte)| matches!(index, 2 | 35 | 52) || byte.is_ascii_hexdigit());
        well_formed.then_some(Self(bytes))
    }
}

impl std::fmt::Debug for TraceParent {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// The trace context of the current span, when spans are exported (None otherwise: nothing
/// to continue).
#[must_use]
pub fn current_trace() -> Option<TraceParent> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return None;
    }
    let text = format!(
        "00-{}-{}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags().to_u8()
    );
    TraceParent::parse(text.as_bytes())
}

/// Makes `span` a child of the remote span `parent` (from a Kafka header), and links it to
/// `others` (the other traces a batch carries), so one upload is one trace across services.
pub fn continue_trace(span: &tracing::Span, parent: Option<TraceParent>, others: &[TraceParent]) {
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let extract = |trace: &TraceParent| {
        let carrier = std::collections::HashMap::from([(
            TRACEPARENT_HEADER.to_owned(),
            String::from_utf8_lossy(trace.as_bytes()).into_owned(),
        )]);
        TraceContextPropagator::new().extract(&carrier)
    };
    if let Some(parent) = parent {
        // fails only when the span is disabled (no subscriber records it): nothing to continue
        let _ = span.set_parent(extract(&parent));
    }
    for other in others.iter().filter(|other| Some(**other) != parent) {
        span.add_link(extract(other).span().span_context().clone());
    }
}

/// Makes `span` the root of a new trace (one per upload), linked to `cause` (the listing or
/// notification batch whose span found it), if any.
pub fn start_trace(span: &tracing::Span, cause: Option<TraceParent>) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    // an empty parent context makes the span a root: a fresh trace id
    let _ = span.set_parent(opentelemetry::Context::new());
    if let Some(cause) = cause {
        continue_trace(span, None, &[cause]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_round_trips_and_malformed_ones_are_refused() {
        let good = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            TraceParent::parse(good).map(|trace| trace.as_bytes().to_vec()),
            Some(good.to_vec())
        );
        assert!(
            TraceParent::parse(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7").is_none()
        );
        assert!(
            TraceParent::parse(b"00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01")
                .is_none()
        );
        assert!(
            TraceParent::parse(b"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .is_none()
        );
    }
}
