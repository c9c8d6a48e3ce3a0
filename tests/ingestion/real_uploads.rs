//! Files written the way the network's miners really write them (`tests/fixtures/real/`, made by
//! pandas 2.2 and pyarrow 17 with `make_real_fixtures.py`): each ends with the outcome its
//! content calls for, its listings are attested with the upload's own time, and the API serves
//! them with zip code, city and state filled from the label and the address.

use std::collections::BTreeMap;

use resi_events::{
    EventPayload, EventType, ListingAttested, QualityIssue, RejectReason, Timestamp, UploadFormat,
    UploadObserved, UploadParsed, UploadRejectReason,
};
use resi_projector::engine::ProjectionKind;
use resi_tests::api::{TestApi, spawn_api};
use resi_tests::harness::{Harness, Record, count, payloads};

const REAL_V1: &str = "5RealV1MinerKaty77494AAAAAAAAAAAAAAAAAAAAAAAAAAA";
const EPOCH: &str = "5EpochJsonMinerPhiladelphiaCCCCCCCCCCCCCCCCCCCCC";
const EPOCH_ID: &str = "2025-10-21T12-00-00";

/// Every fixture file, keyed as in the bucket.
fn fixtures() -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let root = resi_tests::workspace_root().join("tests/fixtures/real");
    let mut files = BTreeMap::new();
    let mut pending = vec![root.join("data")];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let key = path
                    .strip_prefix(&root)?
                    .to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/");
                files.insert(key, std::fs::read(&path)?);
            }
        }
    }
    Ok(files)
}

/// The one key that ends with `suffix`.
fn key_ending<'k>(keys: impl IntoIterator<Item = &'k String>, suffix: &str) -> String {
    let found: Vec<&String> = keys
        .into_iter()
        .filter(|key| key.ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "one key ends with {suffix}: {found:?}");
    found[0].clone()
}

fn reasons(parsed: &UploadParsed) -> BTreeMap<RejectReason, u64> {
    parsed
        .rejections
        .iter()
        .map(|count| (count.reason, count.rows))
        .collect()
}

struct Outcomes {
    observed: BTreeMap<String, UploadObserved>,
    parsed: BTreeMap<String, UploadParsed>,
    rejected: BTreeMap<String, (UploadRejectReason, String)>,
}

fn outcomes(uploads: &[Record]) -> Outcomes {
    let mut outcomes = Outcomes {
        observed: BTreeMap::new(),
        parsed: BTreeMap::new(),
        rejected: BTreeMap::new(),
    };
    for payload in payloads(uploads) {
        match payload {
            EventPayload::UploadObserved(upload) => {
                outcomes.observed.insert(upload.key.clone(), upload.clone());
            }
            EventPayload::UploadParsed(parsed) => {
                outcomes.parsed.insert(parsed.key.clone(), parsed.clone());
            }
            EventPayload::UploadRejected(rejected) => {
                outcomes.rejected.insert(
                    rejected.key.clone(),
                    (rejected.reason, rejected.miner_hotkey.clone()),
                );
            }
            _ => {}
        }
    }
    outcomes
}

#[tokio::test]
async fn real_miner_uploads_are_ingested_and_served() -> anyhow::Result<()> {
    // Arrange: the fixtures in the bucket, as the miners' upload helper left them
    let stack = Harness::new().await?;
    let files = fixtures()?;
    assert_eq!(files.len(), 7, "{:?}", files.keys());
    for (key, body) in &files {
        stack.put(key, body.clone()).await?;
    }
    let keys = files.keys();
    let first_v1 = key_ending(keys.clone(), "data_20251021_081500_4.parquet");
    let second_v1 = key_ending(keys.clone(), "data_20251021_121500_2.parquet");
    let nested = key_ending(keys.clone(), "data_20251021_090000_3.parquet");
    let doubled_json = key_ending(keys.clone(), "zipcode=19103/data_20251021_091500.json");
    let plain_json = key_ending(keys.clone(), "zipcode=19104/data_20251021_092000.json");
    let mock = key_ending(keys.clone(), "zipcode=77494/data_20251021_093000.json");
    let impostor = key_ending(keys.clone(), "data_20251021_094000.json");

    // Act: the bridge and the parser ingest them
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    let uploads = stack
        .wait_for(&stack.topics.uploads(), "every file's outcome", |records| {
            count(records, EventType::UploadParsed) == 6
                && count(records, EventType::UploadRejected) == 1
        })
        .await?;
    let attestations = stack
        .wait_for(
            &stack.topics.attestations(),
            "the attestations",
            |records| records.len() >= 11,
        )
        .await?;
    parser.stop().await?;
    bridge.stop().await?;

    // Assert: each file's outcome
    let Outcomes {
        observed,
        parsed,
        rejected,
    } = outcomes(&uploads);
    assert_eq!(
        rejected.get(&impostor),
        Some(&(UploadRejectReason::HotkeyMismatch, EPOCH.to_owned())),
        "a key naming two miners is refused under the first one"
    );
    assert!(
        stack
            .read_all(&stack.topics.dead_letters())
            .await?
            .is_empty()
    );

    let v1 = &parsed[&first_v1];
    assert_eq!((v1.rows_read, v1.rows_valid, v1.rows_rejected), (4, 4, 0));
    assert_eq!(v1.admission.admitted, 4);
    let resent = &parsed[&second_v1];
    assert_eq!((resent.rows_read, resent.rows_valid), (2, 2));

    let nested_summary = &parsed[&nested];
    assert_eq!(
        nested_summary.rows_read, 3,
        "the file is read, not dead-lettered"
    );
    assert_eq!(
        reasons(nested_summary),
        BTreeMap::from([
            (RejectReason::InvalidZipCode, 1),
            (RejectReason::NoListingValues, 2)
        ])
    );

    let doubled = &parsed[&doubled_json];
    assert_eq!(doubled.format, UploadFormat::EpochJson);
    assert_eq!((doubled.rows_read, doubled.rows_valid), (3, 3));
    assert_eq!(doubled.rows_outside_zipcode, 1);
    assert_eq!(doubled.declared_record_count, Some(3));
    assert_eq!(
        (doubled.epoch_id.as_deref(), doubled.zipcode.as_deref()),
        (Some(EPOCH_ID), Some("19103"))
    );
    assert_eq!(
        doubled.extra_columns,
        vec![
            "api_cost_estimate",
            "data_source",
            "lot_size",
            "year_built",
            "zestimate"
        ]
    );
    assert_eq!(observed[&doubled_json].miner_hotkey, EPOCH);
    let plain = &parsed[&plain_json];
    assert_eq!((plain.rows_valid, plain.rows_outside_zipcode), (2, 0));

    let made_up = &parsed[&mock];
    assert_eq!(
        reasons(made_up),
        BTreeMap::from([(RejectReason::Synthetic, 4)])
    );
    assert!(
        made_up
            .quality
            .issues
            .contains(&QualityIssue::SyntheticListings)
    );
    assert!(made_up.quality.score < resi_projections::trust::POOR_QUALITY);

    // times: the name's is the miner's local clock, kept as its claim; the store's is the
    // upload's, and the day the admission counted
    let upload = &observed[&first_v1];
    assert_eq!(upload.miner_hotkey, REAL_V1);
    assert_eq!(
        upload.file_timestamp.to_rfc3339(),
        "2025-10-21T08:15:00.000000Z"
    );
    assert!(upload.last_modified > upload.file_timestamp);
    assert_eq!(v1.admission.utc_day, upload.last_modified.utc_day());

    let attested: Vec<ListingAttested> = payloads(&attestations)
        .filter_map(|payload| match payload {
            EventPayload::ListingAttested(attested) => Some((**attested).clone()),
            _ => None,
        })
        .collect();
    let mut ids: Vec<&str> = attested
        .iter()
        .map(|attested| attested.listing.listing_id.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        vec![
            "2077001", "2077001", "2077002", "2077003", "2077004", "2077005", "3019101", "3019102",
            "3019103", "3019103", "3019104"
        ]
    );
    for attestation in &attested {
        let upload = &observed[&attestation.key];
        assert_eq!(
            attestation.submitted_at, upload.last_modified,
            "{}",
            attestation.key
        );
        assert!(attestation.scraped_at <= upload.last_modified);
        assert_eq!(attestation.epoch_id, upload.epoch_id);
        assert_eq!(attestation.zipcode, upload.zipcode);
    }
    let by_id = |id: &str| {
        attested
            .iter()
            .find(|attested| attested.listing.listing_id == id)
            .unwrap_or_else(|| panic!("{id} attested"))
    };
    let nat = by_id("2077004");
    assert_eq!(
        nat.scraped_at, observed[&first_v1].last_modified,
        "a NaT scrape time is the upload's"
    );
    assert_eq!(
        nat.listing.zip_code.as_deref(),
        Some("77494"),
        "zip:unknown, then the address"
    );
    assert_eq!(
        by_id("2077003").listing.living_area_sqft,
        None,
        "0 is unknown"
    );
    assert_eq!(
        by_id("3019101").listing.city.as_deref(),
        Some("Philadelphia")
    );
    assert_eq!(
        by_id("3019101").scraped_at,
        Timestamp::from_micros(1_761_052_200_000_001)
    );

    // and the API serves them
    let api = served(&stack).await?;
    let listing = api.ok("/api/listing/2077001").await?;
    let latest = &listing["latest_reported"];
    assert_eq!(
        (
            latest["zip_code"].as_str(),
            latest["city"].as_str(),
            latest["state"].as_str()
        ),
        (Some("77494"), Some("Katy"), Some("TX")),
        "{listing}"
    );
    assert_eq!(latest["price"], 415_000, "the miner's later report wins");
    assert_eq!(listing["consensus"]["price"], 415_000, "{listing}");
    assert_eq!(listing["consensus_info"]["unique_miners"], 1);
    assert_eq!(listing["consensus_info"]["total_attestations"], 2);

    let rereported = api.ok("/api/listing/3019103").await?;
    assert_eq!(
        rereported["consensus_info"]["total_attestations"], 1,
        "the same values again are a re-report: {rereported}"
    );
    assert_eq!(
        rereported["last_reported_at"], "2025-10-21T13:20:00Z",
        "{rereported}"
    );
    assert_eq!(rereported["last_updated_at"], "2025-10-21T13:12:00Z");
    assert_eq!(rereported["attestations"].as_array().map(Vec::len), Some(2));
    assert_eq!(rereported["latest_reported"]["state"], "PA", "{rereported}");

    let search = api.ok("/api/listings/77494?limit=10").await?;
    let found: Vec<&str> = search["listings"]
        .as_array()
        .map(|listings| {
            listings
                .iter()
                .filter_map(|listing| listing["zpid"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        found,
        vec!["2077001", "2077002", "2077003", "2077004", "2077005"],
        "no made-up listing: {search}"
    );
    api.stop().await?;
    Ok(())
}

/// The projector and the API over the test's stack, once the projections have caught up.
async fn served(stack: &Harness) -> anyhow::Result<TestApi> {
    let targets = [
        (ProjectionKind::Listing, "v1"),
        (ProjectionKind::Trust, "v1"),
        (ProjectionKind::Consensus, "v1"),
    ];
    let projector = stack.spawn_projector(&targets).await?;
    for (projection, version) in targets {
        stack.projected(projection, version).await?;
    }
    projector.stop().await?;
    spawn_api(&resi_tests::api::config(&stack.postgres, &stack.kafka)).await
}
