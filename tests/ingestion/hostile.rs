//! Values a miner controls buy it nothing: a report dated years ahead is clamped to its upload
//! and wins neither consensus nor the listing's latest values, and files renamed to other days
//! are admitted against the day they were really uploaded.

use chrono::{Duration, Utc};
use resi_events::{EventPayload, EventType, ListingAttested, UploadParsed};
use resi_projector::engine::ProjectionKind;
use resi_tests::harness::{Harness, count, payloads, reports, v1_file, v1_key};

/// A v1 file of one report of listing 7777777 at `price`, scraped at `scraped_at`.
fn one_report(price: i64, scraped_at: chrono::NaiveDateTime) -> anyhow::Result<Vec<u8>> {
    let mut report = reports(1, 7_777_777).remove(0);
    report.price = Some(price);
    report.scraped_at = scraped_at;
    resi_datagen::parquet_files::write([resi_datagen::parquet_files::v1_batch(&[report])], 10)
}

fn summaries(records: &[resi_tests::harness::Record]) -> Vec<UploadParsed> {
    payloads(records)
        .filter_map(|payload| match payload {
            EventPayload::UploadParsed(parsed) => Some(parsed.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_report_dated_years_ahead_wins_nothing() -> anyhow::Result<()> {
    // Arrange: two honest miners report a price scraped an hour ago; a third reports another
    // price "scraped" in 2030
    let stack = Harness::new().await?;
    let hour_ago = (Utc::now() - Duration::hours(1)).naive_utc();
    for miner in ["5HonestA", "5HonestB"] {
        stack
            .put(
                &v1_key(miner, "j", "20250917_150000", 1),
                one_report(400_000, hour_ago)?,
            )
            .await?;
    }
    let in_2030 = chrono::NaiveDate::from_ymd_opt(2030, 1, 1)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    stack
        .put(
            &v1_key("5Forger", "j", "20300101_000000", 1),
            one_report(999_000, in_2030)?,
        )
        .await?;
    let mut parser_config = stack.parser_config(0, 1);
    parser_config.parser.max_scrape_skew_secs = 0;

    // Act: ingest and project them
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let parser = stack.spawn_parser(&parser_config).await?;
    let uploads = stack
        .wait_for(&stack.topics.uploads(), "three summaries", |records| {
            count(records, EventType::UploadParsed) == 3
        })
        .await?;
    let targets = [
        (ProjectionKind::Listing, "v1"),
        (ProjectionKind::Consensus, "v1"),
        (ProjectionKind::Consensus, "v2"),
    ];
    let projector = stack.spawn_projector(&targets).await?;
    for (projection, version) in targets {
        stack.projected(projection, version).await?;
    }
    // an honest miner reports the listing again, after the forger's upload
    stack
        .put(
            &v1_key("5HonestA", "j", "20250917_160000", 1),
            one_report(400_000, Utc::now().naive_utc())?,
        )
        .await?;
    stack
        .wait_for(&stack.topics.uploads(), "the fourth summary", |records| {
            count(records, EventType::UploadParsed) == 4
        })
        .await?;
    for (projection, version) in targets {
        stack.projected(projection, version).await?;
    }
    projector.stop().await?;
    parser.stop().await?;
    bridge.stop().await?;

    // Assert: the forged time was clamped to the upload and counted
    let observed: Vec<_> = payloads(&uploads)
        .filter_map(|payload| match payload {
            EventPayload::UploadObserved(upload) => Some(upload.clone()),
            _ => None,
        })
        .collect();
    let forged_upload = observed
        .iter()
        .find(|upload| upload.miner_hotkey == "5Forger")
        .ok_or_else(|| anyhow::anyhow!("the forger's upload"))?;
    let forged: Vec<ListingAttested> =
        payloads(&stack.read_all(&stack.topics.attestations()).await?)
            .filter_map(|payload| match payload {
                EventPayload::ListingAttested(attested) if attested.miner_hotkey == "5Forger" => {
                    Some((**attested).clone())
                }
                _ => None,
            })
            .collect();
    assert_eq!(forged.len(), 1);
    assert_eq!(forged[0].scraped_at, forged_upload.last_modified);
    let forged_summary = summaries(&uploads)
        .into_iter()
        .find(|parsed| parsed.miner_hotkey == "5Forger")
        .ok_or_else(|| anyhow::anyhow!("the forger's summary"))?;
    assert_eq!(forged_summary.future_scrape_times, 1);

    // and neither consensus algorithm nor the listing takes its price
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;
    let client = pool.get().await?;
    for schema in ["consensus_v1", "consensus_v2"] {
        let price: i64 = client
            .query_one(
                &format!(
                    "SELECT price_usd FROM {schema}.consensus_listings WHERE listing_id = '7777777'"
                ),
                &[],
            )
            .await?
            .get(0);
        assert_eq!(price, 400_000, "{schema}");
    }
    let latest: i64 = client
        .query_one(
            "SELECT price_usd FROM listing_v1.listings WHERE listing_id = '7777777'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(
        latest, 400_000,
        "a later honest report supersedes the forged one"
    );
    Ok(())
}

#[tokio::test]
async fn files_renamed_to_other_days_are_admitted_against_the_day_they_were_uploaded()
-> anyhow::Result<()> {
    // Arrange: a new miner (trust 0.5: 1,000 listings a day) names three files of 600 rows
    // after three different days
    let stack = Harness::new().await?;
    for (index, day) in ["20250101", "20250202", "20250303"].iter().enumerate() {
        let first = 1_000_000 * (index as u64 + 1);
        stack
            .put(
                &v1_key("5Renamer", "j", &format!("{day}_120000"), 600),
                v1_file(600, first)?,
            )
            .await?;
    }

    // Act
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    let uploads = stack
        .wait_for(&stack.topics.uploads(), "three summaries", |records| {
            count(records, EventType::UploadParsed) == 3
        })
        .await?;
    parser.stop().await?;
    bridge.stop().await?;

    // Assert: one day's limit in all, counted on the day of the uploads
    let parsed = summaries(&uploads);
    let admitted: u64 = parsed.iter().map(|parsed| parsed.admission.admitted).sum();
    let limited: u64 = parsed
        .iter()
        .map(|parsed| parsed.admission.rate_limited)
        .sum();
    assert_eq!((admitted, limited), (1_000, 800));
    let today = resi_events::Timestamp::now().utc_day();
    assert!(
        parsed
            .iter()
            .all(|parsed| (today - 1..=today).contains(&parsed.admission.utc_day)),
        "{parsed:?}"
    );
    Ok(())
}
