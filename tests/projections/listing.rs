//! The listing projection: attestations folded once, listings recomputed from them, two
//! instances splitting the partitions, and rebuilds (staged, and batch by batch) that give the
//! same tables.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use resi_events::{CanonicalListing, Event, EventPayload};
use resi_projector::engine::ProjectionKind;

use resi_tests::events::report;
use resi_tests::stack::{Stack, stop};

pub const HOUR: i64 = 3_600_000_000;
pub const START: i64 = 1_758_110_400_000_000;

pub fn attested(miner: &str, upload: u64, row: u64, zpid: u64, price: i64, at: i64) -> Event {
    let listing = CanonicalListing {
        listing_id: zpid.to_string(),
        price_usd: Some(price),
        bedrooms: Some(3),
        zip_code: Some(format!("{:05}", 78_700 + zpid % 5)),
        city: Some("AUSTIN".into()),
        state: Some("TX".into()),
        latitude_e7: Some(302_672_000),
        longitude_e7: Some(-977_431_000),
        ..CanonicalListing::default()
    };
    report(miner, (&upload.to_string(), row), at, 0.5, listing)
}

/// Five miners report 40 listings over two uploads each, the newer upload published first for
/// some miners; prices drift with time so the latest report is visible.
pub fn history() -> Vec<Event> {
    let mut events = Vec::new();
    for (index, miner) in ["5A", "5B", "5C", "5D", "5E"].iter().enumerate() {
        let miner_index = u64::try_from(index).unwrap_or_default();
        let mut uploads = vec![0_u64, 1];
        if index % 2 == 1 {
            uploads.reverse();
        }
        for upload in uploads {
            for zpid in 0..40_u64 {
                // each miner covers 3 of every 5 listings
                if (zpid + miner_index) % 5 >= 3 {
                    continue;
                }
                let at =
                    START + i64::try_from(upload * 24 + miner_index).unwrap_or_default() * HOUR;
                let price = 300_000
                    + i64::try_from(zpid * 1_000 + upload * 7 + miner_index).unwrap_or_default();
                events.push(attested(miner, upload, zpid, 1_000 + zpid, price, at));
            }
        }
    }
    events
}

/// One report: (scrape time, attestation id, miner, price); sorting puts the latest last.
type Report<'a> = (i64, [u8; 32], &'a str, i64);

/// Per listing: (attestations, distinct miners, first scrape, latest price).
fn expected(events: &[Event]) -> BTreeMap<String, (i64, i64, i64, i64)> {
    let mut by_listing: BTreeMap<String, Vec<Report<'_>>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for event in events {
        let EventPayload::ListingAttested(attested) = &event.payload else {
            continue;
        };
        if !seen.insert(event.id) {
            continue;
        }
        by_listing
            .entry(attested.listing.listing_id.clone())
            .or_default()
            .push((
                attested.scraped_at.as_micros(),
                event.id.0,
                attested.miner_hotkey.as_str(),
                attested.listing.price_usd.unwrap_or_default(),
            ));
    }
    by_listing
        .into_iter()
        .map(|(listing, mut reports)| {
            reports.sort();
            let miners: BTreeSet<&str> = reports.iter().map(|report| report.2).collect();
            let latest = reports.last().map_or(0, |report| report.3);
            let first = reports.first().map_or(0, |report| report.0);
            (
                listing,
                (
                    i64::try_from(reports.len()).unwrap_or_default(),
                    i64::try_from(miners.len()).unwrap_or_default(),
                    first,
                    latest,
                ),
            )
        })
        .collect()
}

pub use resi_tests::stack::listing_tables;

#[tokio::test]
async fn listings_fold_once_split_across_instances_and_rebuild_identically() -> anyhow::Result<()> {
    // Arrange
    let stack = Stack::new().await?;
    let attestations = stack.topics().attestations();
    let events = history();
    stack.publish(&attestations, &events).await?;

    // Act: two instances split the partitions of the first version
    let first = stack
        .spawn(ProjectionKind::Listing, "v1", Some((0, 2)))
        .await?;
    let second = stack
        .spawn(ProjectionKind::Listing, "v1", Some((1, 2)))
        .await?;
    stack.caught_up("listing", "v1", &attestations).await?;

    // Assert: every listing as the attestations say, none lost, none doubled
    let client = stack.pool.get().await?;
    let want = expected(&events);
    let rows = client
        .query(
            "SELECT listing_id, total_attestations, unique_miners_count,
                    (extract(epoch FROM first_seen_at) * 1000000)::bigint, price_usd
             FROM listing_v1.listings ORDER BY listing_id",
            &[],
        )
        .await?;
    let got: BTreeMap<String, (i64, i64, i64, i64)> = rows
        .iter()
        .map(|row| {
            (
                row.get(0),
                (
                    row.get(1),
                    i64::from(row.get::<_, i32>(2)),
                    row.get(3),
                    row.get::<_, Option<i64>>(4).unwrap_or_default(),
                ),
            )
        })
        .collect();
    assert_eq!(got, want);
    let total: i64 = client
        .query_one("SELECT count(*) FROM listing_v1.miner_attestations", &[])
        .await?
        .get(0);
    assert_eq!(total, i64::try_from(events.len())?);
    let before = stack.dump(&listing_tables("listing_v1")).await?;

    // Act: everything is delivered again
    stack.publish(&attestations, &events).await?;
    stack.caught_up("listing", "v1", &attestations).await?;
    // Assert: nothing changed
    assert_eq!(stack.dump(&listing_tables("listing_v1")).await?, before);

    // Act: two more versions rebuilt from offset 0 in batches of 7, so that a listing's
    // attestations span batches: v2 stages them while behind the log and recomputes each
    // listing once at its end; v3 folds every batch as it comes, so later batches add to rows
    // that exist, including a miner's second report and reports older than the latest one
    let staged = stack
        .spawn_batched(ProjectionKind::Listing, "v2", 7)
        .await?;
    let folded = stack
        .spawn_folding_each_batch(ProjectionKind::Listing, "v3", 7)
        .await?;
    stack.caught_up("listing", "v2", &attestations).await?;
    stack.caught_up("listing", "v3", &attestations).await?;
    // Assert: identical tables, both ways
    assert_eq!(
        stack.dump(&listing_tables("listing_v2")).await?,
        before,
        "a rebuild from the log through the staged listings gives the same tables"
    );
    assert_eq!(
        stack.dump(&listing_tables("listing_v3")).await?,
        before,
        "a rebuild from the log batch by batch gives the same tables"
    );
    // Assert: nothing is left staged, and the pass analysed the tables it wrote
    stack
        .staged_applied_and_analysed(
            "listing_v2",
            "listings_staged",
            &["miner_attestations", "listings"],
        )
        .await?;
    let status: String = client
        .query_one(
            "SELECT status FROM projection_versions WHERE projection = 'listing' AND version = 'v2'",
            &[],
        )
        .await
        .context("no v2")?
        .get(0);
    assert_eq!(status, "building");
    stop(vec![first, second, staged, folded]).await
}
