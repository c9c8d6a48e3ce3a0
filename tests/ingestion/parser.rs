//! The parser: a crash half-way through a file, two instances sharing the uploads topic, and
//! records that are not events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rdkafka::producer::FutureRecord;
use resi_events::{DeadLetterReason, EventPayload, EventType, Timestamp};
use resi_parser::emit::{AdmissionPlan, ParseOptions};
use resi_parser::file::parse_file;

use resi_tests::harness::{Harness, count, payloads, v1_file, v1_key};

#[tokio::test]
async fn a_parser_killed_mid_file_resumes_and_loses_nothing() -> anyhow::Result<()> {
    // Arrange: one 1,000-row file, announced by the bridge
    let stack = Harness::new().await?;
    let body = v1_file(1_000, 7_000_000)?;
    let key = v1_key("5Crash", "j", "20250917_150000", 1_000);
    stack.put(&key, body.clone()).await?;
    let uploads = stack.topics.uploads();
    let announced = stack.observe(1).await?;
    let upload = payloads(&announced)
        .find_map(|payload| match payload {
            EventPayload::UploadObserved(upload) => Some(upload.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no upload"))?;
    // a parser that waits for every event's acknowledgement before the next: slow on purpose
    let mut slow = stack.parser_config(0, 1);
    slow.parser.max_in_flight = 1;
    slow.parser.batch_rows = 50;
    let attestations = stack.topics.attestations();

    // Act: kill it once some of the file is out, then start a normal one
    let crashing = stack.spawn_parser(&slow).await?;
    stack
        .wait_for(&attestations, "the first attestations", |records| {
            records.len() >= 20
        })
        .await?;
    crashing.kill().await;
    let before_restart = stack.read_all(&attestations).await?.len();
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    let parsed = stack
        .wait_for(&uploads, "the summary", |records| {
            count(records, EventType::UploadParsed) == 1
        })
        .await?;
    parser.stop().await?;

    // Assert: exactly the events of an uninterrupted parse, some of them delivered twice
    assert!(
        before_restart < 1_000,
        "killed before the end ({before_restart} out)"
    );
    let summary = payloads(&parsed)
        .find_map(|payload| match payload {
            EventPayload::UploadParsed(parsed) => Some(parsed.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no summary"))?;
    let plan = AdmissionPlan::new(0.5, upload.last_modified.utc_day(), 0);
    let options = ParseOptions {
        batch_rows: 1_000,
        max_scrape_skew_micros: 600_000_000,
        max_json_listing_bytes: 1 << 20,
        max_file_rows: 10_000_000,
        record_time: Timestamp::now(),
    };
    let mut expected = BTreeSet::new();
    parse_file(bytes::Bytes::from(body), &upload, plan, options, |batch| {
        for encoded in batch {
            expected.insert(
                resi_events::decode(&encoded.payload)
                    .map(|event| event.id)
                    .unwrap_or_else(|error| panic!("{error}")),
            );
        }
        true
    })
    .map_err(|failure| anyhow::anyhow!("{failure:?}"))?;
    let delivered = stack.read_all(&attestations).await?;
    let distinct: BTreeSet<_> = delivered.iter().map(|record| record.event.id).collect();
    assert_eq!(summary.admission.admitted, 1_000);
    assert_eq!(distinct, expected, "no event lost, no other event made");
    assert!(
        delivered.len() > distinct.len(),
        "the restart re-emitted the events before the crash with the same ids"
    );
    assert_eq!(count(&parsed, EventType::UploadParsed), 1);
    Ok(())
}

#[tokio::test]
async fn two_parsers_split_the_uploads_topic_and_dead_letter_garbage() -> anyhow::Result<()> {
    // Arrange: eight miners' files, spread over the topic's two partitions by miner
    let stack = Harness::new().await?;
    let miners: Vec<String> = (0..8).map(|miner| format!("5Miner{miner}")).collect();
    for (index, miner) in miners.iter().enumerate() {
        let first = 100_000 * (index as u64 + 1);
        stack
            .put(
                &v1_key(miner, "j", "20250917_150000", 5),
                v1_file(5, first)?,
            )
            .await?;
    }
    let uploads = stack.topics.uploads();
    stack.observe(miners.len()).await?;
    let producer = resi_runtime::kafka::producer(&stack.kafka)?;
    producer
        .send(
            FutureRecord::to(&uploads)
                .key("garbage")
                .payload(b"\x07not an event".as_slice()),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(error, _)| error)?;

    // Act
    let first = stack.spawn_parser(&stack.parser_config(0, 2)).await?;
    let second = stack.spawn_parser(&stack.parser_config(1, 2)).await?;
    let records = stack
        .wait_for(&uploads, "every summary", |records| {
            count(records, EventType::UploadParsed) == miners.len()
        })
        .await?;
    let dead_letters = stack
        .wait_for(
            &stack.topics.dead_letters(),
            "the garbage record",
            |records| !records.is_empty(),
        )
        .await?;
    first.stop().await?;
    second.stop().await?;

    // Assert
    let mut parsed_per_upload: BTreeMap<_, usize> = BTreeMap::new();
    let mut partitions = BTreeSet::new();
    for record in &records {
        if let EventPayload::UploadParsed(parsed) = &record.event.payload {
            *parsed_per_upload.entry(parsed.upload_id).or_default() += 1;
            partitions.insert(record.partition);
        }
    }
    assert_eq!(parsed_per_upload.len(), miners.len());
    assert!(
        parsed_per_upload.values().all(|times| *times == 1),
        "no file parsed twice: {parsed_per_upload:?}"
    );
    assert_eq!(partitions.len(), 2, "both instances had work");
    let attested = stack.read_all(&stack.topics.attestations()).await?;
    assert_eq!(attested.len(), miners.len() * 5);
    match &dead_letters[0].event.payload {
        EventPayload::DeadLettered(dead) => {
            assert_eq!(dead.reason, DeadLetterReason::UndecodableEvent);
        }
        other => panic!("{other:?}"),
    }
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;
    let client = pool.get().await?;
    let checkpointed: i64 = client
        .query_one(
            "SELECT count(*) FROM consumer_checkpoints WHERE topic = $1",
            &[&uploads],
        )
        .await?
        .get(0);
    assert_eq!(checkpointed, 2, "each instance checkpointed its partition");
    Ok(())
}

#[tokio::test]
async fn a_file_that_keeps_stopping_the_parser_is_dead_lettered_not_read_forever()
-> anyhow::Result<()> {
    // Arrange: one upload, and a parser slow enough to be stopped in the middle of it
    let stack = Harness::new().await?;
    stack
        .put(
            &v1_key("5Crashy", "j", "20250917_150000", 1_000),
            v1_file(1_000, 8_000_000)?,
        )
        .await?;
    let uploads = stack.topics.uploads();
    stack.observe(1).await?;
    let mut slow = stack.parser_config(0, 1);
    slow.parser.max_in_flight = 1;
    slow.parser.batch_rows = 50;
    slow.parser.max_parse_attempts = 3;
    let attestations = stack.topics.attestations();

    // Act: the parser is killed in the middle of the file three times, as a file that makes
    // it run out of memory would have it killed; then it starts once more
    let mut delivered = 0;
    for _ in 0..3 {
        let crashing = stack.spawn_parser(&slow).await?;
        delivered = stack
            .wait_for(&attestations, "more attestations", |records| {
                records.len() >= delivered + 20
            })
            .await?
            .len();
        crashing.kill().await;
    }
    let parser = stack.spawn_parser(&slow).await?;
    let dead_letters = stack
        .wait_for(&stack.topics.dead_letters(), "the dead letter", |records| {
            !records.is_empty()
        })
        .await?;
    parser.stop().await?;

    // Assert: dead-lettered with its attempts, its record checkpointed, no summary
    match &dead_letters[0].event.payload {
        EventPayload::DeadLettered(dead) => {
            assert_eq!(dead.reason, DeadLetterReason::RetriesExhausted);
            assert_eq!(dead.attempts, 3);
            assert!(dead.detail.contains("stopped 3 times"), "{}", dead.detail);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        count(&stack.read_all(&uploads).await?, EventType::UploadParsed),
        0
    );
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;
    let outcome: Option<String> = pool
        .get()
        .await?
        .query_one("SELECT outcome FROM parser_admissions", &[])
        .await?
        .get(0);
    assert_eq!(outcome.as_deref(), Some("dead_lettered"));
    Ok(())
}

#[tokio::test]
async fn a_file_that_makes_a_decoder_panic_is_dead_lettered_and_the_next_is_parsed()
-> anyhow::Result<()> {
    // Arrange: a miner's crafted file, then a good one (same miner: same partition, in order)
    let stack = Harness::new().await?;
    let crasher = std::fs::read(
        resi_tests::workspace_root().join("tests/fixtures/crashers/negative_column_start.parquet"),
    )?;
    let crafted = v1_key("5Crafty", "j", "20250917_150000", 9);
    stack.put(&crafted, crasher).await?;
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let uploads = stack.topics.uploads();
    stack
        .wait_for(&uploads, "the crafted upload", |records| {
            count(records, EventType::UploadObserved) == 1
        })
        .await?;
    stack
        .put(
            &v1_key("5Crafty", "j", "20250917_160000", 5),
            v1_file(5, 9_000_000)?,
        )
        .await?;
    stack
        .wait_for(&uploads, "the good upload", |records| {
            count(records, EventType::UploadObserved) == 2
        })
        .await?;
    bridge.stop().await?;

    // Act
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    let parsed = stack
        .wait_for(&uploads, "the good file's summary", |records| {
            count(records, EventType::UploadParsed) == 1
        })
        .await?;
    let dead_letters = stack.read_all(&stack.topics.dead_letters()).await?;
    parser.stop().await?;

    // Assert
    assert_eq!(dead_letters.len(), 1);
    match &dead_letters[0].event.payload {
        EventPayload::DeadLettered(dead) => {
            assert_eq!(dead.reason, DeadLetterReason::CorruptFile);
            assert!(dead.detail.contains("panic"), "{}", dead.detail);
        }
        other => panic!("{other:?}"),
    }
    let summary = payloads(&parsed)
        .find_map(|payload| match payload {
            EventPayload::UploadParsed(parsed) => Some(parsed.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no summary"))?;
    assert_eq!(summary.admission.admitted, 5);
    assert_ne!(summary.key, crafted, "the good file is the one parsed");
    Ok(())
}

#[tokio::test]
async fn control_characters_are_removed_and_later_uploads_still_fold() -> anyhow::Result<()> {
    // Arrange: a file whose text holds NUL and other control characters, then a clean one
    let stack = Harness::new().await?;
    let mut dirty = resi_tests::harness::reports(3, 9_100_000);
    dirty[0].city = "Aus\0tin".into();
    dirty[1].street = "12\u{7} Oak\u{0} Street".into();
    dirty[2].home_type = "SINGLE\u{1b}_FAMILY".into();
    let file = resi_datagen::parquet_files::write(
        [resi_datagen::parquet_files::v1_batch(&dirty)],
        10_000,
    )?;
    stack
        .put(&v1_key("5Dirty", "j", "20250917_150000", 3), file)
        .await?;
    stack
        .put(
            &v1_key("5Dirty", "j", "20250917_160000", 2),
            v1_file(2, 9_200_000)?,
        )
        .await?;

    // Act
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    let projector = stack
        .spawn_projector(&[(resi_projector::engine::ProjectionKind::Listing, "v1")])
        .await?;
    stack
        .wait_for(&stack.topics.uploads(), "both summaries", |records| {
            count(records, EventType::UploadParsed) == 2
        })
        .await?;
    stack
        .projected(resi_projector::engine::ProjectionKind::Listing, "v1")
        .await?;
    projector.stop().await?;
    parser.stop().await?;
    bridge.stop().await?;

    // Assert: every listing folded, with the control characters gone
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT listing_id, city, address, home_type FROM listing_v1.listings ORDER BY 1",
            &[],
        )
        .await?;
    assert_eq!(rows.len(), 5);
    let first: (String, String, String, String) = (
        rows[0].get(0),
        rows[0].get(1),
        rows[0].get(2),
        rows[0].get(3),
    );
    assert_eq!(first.1, "Austin");
    let second_address: String = rows[1].get(2);
    assert!(second_address.starts_with("12 OAK ST"), "{second_address}");
    let third_type: String = rows[2].get(3);
    assert_eq!(third_type, "SINGLE_FAMILY");
    assert!(
        stack
            .read_all(&stack.topics.dead_letters())
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn a_dead_lettered_upload_is_re_driven_once_its_cause_is_fixed() -> anyhow::Result<()> {
    use resi_ctl::{Command, CtlConfig, DeadLetterAction};

    // Arrange: an upload over a (too small) size limit, dead-lettered
    let stack = Harness::new().await?;
    stack
        .put(
            &v1_key("5Big", "j", "20250917_150000", 40),
            v1_file(40, 9_300_000)?,
        )
        .await?;
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let mut strict = stack.parser_config(0, 1);
    strict.parser.max_object_bytes = 100;
    let parser = stack.spawn_parser(&strict).await?;
    let dead_letters = stack
        .wait_for(&stack.topics.dead_letters(), "the dead letter", |records| {
            !records.is_empty()
        })
        .await?;
    parser.stop().await?;
    bridge.stop().await?;
    let id = dead_letters[0].event.id.to_hex();
    let ctl = CtlConfig {
        postgres: stack.postgres.clone(),
        kafka: stack.kafka.clone(),
        ..CtlConfig::default()
    };
    // the operator looks at it
    for action in [
        DeadLetterAction::List {
            reason: Some("too_large".into()),
            limit: 10,
            json: true,
        },
        DeadLetterAction::Show { id: id[..8].into() },
    ] {
        resi_ctl::run(Command::DeadLetters { action }, &ctl).await?;
    }

    // Act: the limit is raised, and the dead letter re-driven
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    resi_ctl::run(
        Command::DeadLetters {
            action: DeadLetterAction::Replay { id },
        },
        &ctl,
    )
    .await?;
    let uploads = stack
        .wait_for(&stack.topics.uploads(), "the summary", |records| {
            count(records, EventType::UploadParsed) == 1
        })
        .await?;
    parser.stop().await?;

    // Assert
    match &dead_letters[0].event.payload {
        EventPayload::DeadLettered(dead) => assert_eq!(dead.reason, DeadLetterReason::TooLarge),
        other => panic!("{other:?}"),
    }
    let summary = payloads(&uploads)
        .find_map(|payload| match payload {
            EventPayload::UploadParsed(parsed) => Some(parsed.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no summary"))?;
    assert_eq!(summary.admission.admitted, 40);
    assert_eq!(
        stack.read_all(&stack.topics.attestations()).await?.len(),
        40
    );
    Ok(())
}
