//! Infrastructure faults under the running pipeline, each compared with a clean run over the
//! same uploads (a second database and topic set reading the same bucket, so the events carry
//! the same ids): Postgres restarted while the parser takes admissions, the bridge killed
//! between publishing an upload and deleting its SQS message, and the broker restarted while
//! the parser produces and the projector consumes. Nothing is lost, nothing doubled, nothing
//! dead-lettered, and every service recovers by itself.

use std::collections::BTreeSet;
use std::time::Duration;

use resi_events::{EventPayload, EventType};
use resi_projector::engine::ProjectionKind;
use resi_tests::broker::PrivateBroker;
use resi_tests::eventually;
use resi_tests::faults::{FaultyS3, TcpFault};
use resi_tests::harness::{Harness, PIPELINE_DEADLINE, Running, count, v1_file, v1_key};
use resi_tests::stack::{dump, listing_tables};
use secrecy::{ExposeSecret as _, SecretString};

/// Uploads per run: four miners, six files each, listings shared between miners.
const FILES: u64 = 24;
/// Rows per upload: six files of a miner stay under its daily limit (1,000 at the starting trust).
const ROWS: u64 = 150;

/// Puts the run's uploads into the harness's bucket.
async fn upload_all(stack: &Harness) -> anyhow::Result<()> {
    for file in 0..FILES {
        let miner = format!("5Fault{}", file % 4);
        // each miner well under its daily limit, so admission does not depend on file order
        let key = v1_key(
            &miner,
            "j",
            &format!("20250917_{:02}{:02}00", 10 + file / 60, file % 60),
            ROWS,
        );
        stack
            .put(&key, v1_file(ROWS, 10_000 + (file / 2) * 50)?)
            .await?;
    }
    Ok(())
}

/// Files the parser has finished.
async fn parsed(pool: &deadpool_postgres::Pool) -> anyhow::Result<i64> {
    let client = pool.get().await?;
    Ok(client
        .query_one(
            "SELECT count(*) FROM parser_admissions WHERE outcome IS NOT NULL",
            &[],
        )
        .await?
        .get(0))
}

/// What a run left: the listing tables, and the distinct ids of its attestations and
/// summaries with how many records carried them.
#[derive(Debug, PartialEq, Eq)]
struct Result {
    tables: String,
    attestations: BTreeSet<String>,
    summaries: BTreeSet<String>,
}

/// Waits until the run has parsed and folded every upload; what it left, and the records on
/// its topics (attestations, summaries) including any produced twice.
async fn result_of(stack: &Harness) -> anyhow::Result<(Result, usize, usize)> {
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;
    eventually(PIPELINE_DEADLINE, "every upload parsed", || async {
        Ok((parsed(&pool).await? == i64::try_from(FILES)?).then_some(()))
    })
    .await?;
    stack.projected(ProjectionKind::Listing, "v1").await?;
    let attestations = stack.read_all(&stack.topics.attestations()).await?;
    let uploads = stack.read_all(&stack.topics.uploads()).await?;
    let summaries: Vec<_> = uploads
        .iter()
        .filter(|record| record.event.event_type() == EventType::UploadParsed)
        .collect();
    let dead = stack.read_all(&stack.topics.dead_letters()).await?;
    anyhow::ensure!(dead.is_empty(), "an outage became dead letters: {dead:?}");
    let result = Result {
        tables: dump(&pool, &listing_tables("listing_v1")).await?,
        attestations: attestations
            .iter()
            .map(|record| record.event.id.to_hex())
            .collect(),
        summaries: summaries
            .iter()
            .map(|record| match &record.event.payload {
                // what the file held and how much of it was admitted; `admitted_before` is left
                // out: it follows the order the bridge happened to publish a miner's uploads in
                EventPayload::UploadParsed(parsed) => format!(
                    "{} {} read {} valid {} rejected {} admitted {} limited {}",
                    parsed.upload_id.to_hex(),
                    parsed.key,
                    parsed.rows_read,
                    parsed.rows_valid,
                    parsed.rows_rejected,
                    parsed.admission.admitted,
                    parsed.admission.rate_limited
                ),
                _ => String::new(),
            })
            .collect(),
    };
    Ok((result, attestations.len(), summaries.len()))
}

/// The same uploads through a pipeline with no fault.
async fn clean_run(faulted: &Harness) -> anyhow::Result<Result> {
    let clean = Harness::sharing_bucket(faulted).await?;
    clean.observe(FILES as usize).await?;
    let parser = clean.spawn_parser(&clean.parser_config(0, 1)).await?;
    let projector = clean
        .spawn_projector(&[(ProjectionKind::Listing, "v1")])
        .await?;
    let (result, _, _) = result_of(&clean).await?;
    parser.stop().await?;
    projector.stop().await?;
    Ok(result)
}

/// Checks the faulted run against the clean one and that its services ran throughout.
async fn compare(faulted: &Harness, services: Vec<Running>) -> anyhow::Result<()> {
    let (result, attestation_records, summary_records) = result_of(faulted).await?;
    for service in &services {
        assert!(service.is_running(), "every service recovered by itself");
    }
    for service in services {
        service.stop().await?;
    }
    let clean = clean_run(faulted).await?;
    assert_eq!(result.summaries.len(), FILES as usize);
    assert_eq!(
        result.attestations.len(),
        (FILES * ROWS) as usize,
        "nothing lost"
    );
    assert_eq!(
        result.summaries, clean.summaries,
        "the summaries of a clean run"
    );
    assert!(
        result.attestations == clean.attestations,
        "the attestations of a clean run: {} here, {} there",
        result.attestations.len(),
        clean.attestations.len()
    );
    if let Some((here, there)) = result
        .tables
        .lines()
        .zip(clean.tables.lines())
        .find(|(here, there)| here != there)
    {
        panic!("the tables differ from a clean run's:\n{here}\n{there}");
    }
    assert_eq!(
        result.tables.len(),
        clean.tables.len(),
        "the tables of a clean run"
    );
    // a record produced again after a fault carries the same id, and nothing else is doubled
    assert!(attestation_records >= result.attestations.len());
    assert!(summary_records >= result.summaries.len());
    Ok(())
}

fn server_of(url: &str) -> String {
    url.split_once('@')
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or("127.0.0.1:5432", |(server, _)| server)
        .to_owned()
}

#[tokio::test]
async fn postgres_restarts_while_the_parser_takes_admissions_lose_and_double_nothing()
-> anyhow::Result<()> {
    // Arrange: uploads announced, a parser whose Postgres is behind a proxy that restarts it
    let stack = Harness::new().await?;
    upload_all(&stack).await?;
    stack.observe(FILES as usize).await?;
    let url = stack.postgres.url.expose_secret().to_owned();
    let proxy = TcpFault::start(&server_of(&url)).await?;
    let mut config = stack.parser_config(0, 1);
    config.postgres.url = SecretString::from(proxy.url_for(&url));
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;

    // Act: Postgres goes down again and again while the parser works through the files
    let parser = stack.spawn_parser(&config).await?;
    let deadline = tokio::time::Instant::now() + PIPELINE_DEADLINE;
    let mut during = Vec::new();
    loop {
        let done = parsed(&pool).await?;
        if done == i64::try_from(FILES)? || tokio::time::Instant::now() > deadline {
            break;
        }
        during.push(done);
        proxy.outage(Duration::from_millis(300)).await?;
        // the fault's schedule: up for a moment, enough to take a decision or two
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let projector = stack
        .spawn_projector(&[(ProjectionKind::Listing, "v1")])
        .await?;

    // Assert: restarts came while files were being parsed, and the run equals a clean one
    assert!(
        during.iter().filter(|done| **done > 0).count() >= 2,
        "restarts in the middle of the run: parsed files at each {during:?}"
    );
    assert!(
        proxy.cut() >= 2,
        "restarts cut open connections: {}",
        proxy.cut()
    );
    compare(&stack, vec![parser, projector]).await
}

#[tokio::test]
async fn a_bridge_killed_between_publishing_and_deleting_the_message_doubles_nothing()
-> anyhow::Result<()> {
    // Arrange: uploads notified to a queue, a bridge whose deletes of SQS messages never end
    let stack = Harness::new().await?;
    let queue_url = stack.notify_queue().await?;
    let proxy = FaultyS3::start(stack.s3.endpoint.as_deref().unwrap_or_default()).await?;
    proxy.hold_deletes(true);
    // notifications only: the bucket is listed once an hour, not during the test
    let mut config = stack.bridge_config("s3", Some(queue_url.clone()));
    config.bridge.reconcile_interval_secs = 3_600;
    config.sqs.visibility_timeout_secs = 2;
    config.s3.endpoint = Some(proxy.endpoint.clone());
    upload_all(&stack).await?;

    // Act: the bridge publishes, is killed while it deletes, and a new one takes over
    let bridge = stack.spawn_bridge(&config).await?;
    let before_kill = stack
        .wait_for(&stack.topics.uploads(), "an upload published", |records| {
            count(records, EventType::UploadObserved) >= 1
        })
        .await?;
    eventually(PIPELINE_DEADLINE, "a delete held", || async {
        Ok((proxy.held_deletes() >= 1).then_some(()))
    })
    .await?;
    bridge.kill().await;
    proxy.hold_deletes(false);
    let bridge = stack.spawn_bridge(&config).await?;
    let sqs = stack.sqs().await;
    eventually(PIPELINE_DEADLINE, "the queue to drain", || async {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await?
            .attributes
            .unwrap_or_default();
        let waiting: u64 = [
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|name| {
            attributes
                .get(name)
                .and_then(|value| value.parse::<u64>().ok())
        })
        .sum();
        let observed = count(
            &stack.read_all(&stack.topics.uploads()).await?,
            EventType::UploadObserved,
        );
        Ok((waiting == 0 && observed >= FILES as usize).then_some(()))
    })
    .await?;
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    let projector = stack
        .spawn_projector(&[(ProjectionKind::Listing, "v1")])
        .await?;

    // Assert: the upload whose delete died with the bridge was published once per bridge at
    // most, and parsed once
    assert!(count(&before_kill, EventType::UploadObserved) >= 1);
    let observed = stack.read_all(&stack.topics.uploads()).await?;
    let distinct: BTreeSet<_> = observed
        .iter()
        .filter(|record| record.event.event_type() == EventType::UploadObserved)
        .map(|record| record.event.id)
        .collect();
    assert_eq!(distinct.len(), FILES as usize);
    compare(&stack, vec![bridge, parser, projector]).await
}

#[tokio::test]
async fn broker_restarts_while_the_parser_produces_and_the_projector_consumes_lose_nothing()
-> anyhow::Result<()> {
    // Arrange: a broker of the test's own, the uploads announced on it
    let mut broker = PrivateBroker::start().await?;
    let stack = Harness::on_broker(&broker.brokers).await?;
    upload_all(&stack).await?;
    stack.observe(FILES as usize).await?;
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;
    let folded = || async {
        let client = pool.get().await?;
        let folded: i64 = client
            .query_one(
                "SELECT coalesce(sum(next_offset), 0)::bigint FROM projection_checkpoints",
                &[],
            )
            .await?
            .get(0);
        anyhow::Ok(folded)
    };

    // Act: the broker crashes and comes back twice while the parser produces and the
    // projector consumes
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    let projector = stack
        .spawn_projector(&[(ProjectionKind::Listing, "v1")])
        .await?;
    let files = i64::try_from(FILES)?;
    let mut at = Vec::new();
    for share in [1, 2] {
        let done = eventually(PIPELINE_DEADLINE, "the parser to go on", || async {
            let done = parsed(&pool).await?;
            Ok((done * 3 >= files * share).then_some(done))
        })
        .await?;
        broker.restart(Duration::from_secs(1)).await?;
        at.push((done, folded().await?));
    }

    // Assert: the restarts came mid-run, and the run equals a clean one
    assert_eq!(broker.restarts(), 2);
    let rows = i64::try_from(FILES * ROWS)?;
    assert!(
        at.iter()
            .all(|(done, folded)| *done < files && *folded < rows),
        "the broker restarted while files were left to parse and fold: {at:?}"
    );
    compare(&stack, vec![parser, projector]).await
}
