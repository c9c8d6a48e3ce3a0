//! Events no fold can take never stop a lane: one the database refuses for what it holds is
//! isolated from its batch and dead-lettered while the rest is folded; one of a newer schema
//! version than the projector reads stops its lane without being skipped, and `/ready` says so.

use std::collections::BTreeSet;

use resi_events::{
    CanonicalListing, DeadLetterReason, DeadLetterSubject, Event, EventPayload, EventType,
};
use resi_projector::engine::ProjectionKind;
use resi_tests::events::report;
use resi_tests::harness::read_topic;
use resi_tests::stack::{Stack, stop};

use crate::listing::{START, attested};

fn count(rows: &[tokio_postgres::Row]) -> i64 {
    rows.first().map_or(0, |row| row.get(0))
}

#[tokio::test]
async fn an_event_the_database_refuses_is_dead_lettered_and_its_batch_folded() -> anyhow::Result<()>
{
    // Arrange: 40 listings, one of whose reports holds a NUL byte, which a Postgres text
    // column refuses (the parser never writes one; a log written by another producer might)
    let stack = Stack::new().await?;
    let topic = stack.topics().attestations();
    let mut events: Vec<Event> = (0..40_u64)
        .map(|zpid| attested("5Poisoner", 1, zpid, 2_000 + zpid, 250_000, START))
        .collect();
    let poisoned_listing = CanonicalListing {
        listing_id: "2017".into(),
        city: Some("AUS\0TIN".into()),
        price_usd: Some(250_000),
        zip_code: Some("78702".into()),
        ..CanonicalListing::default()
    };
    events[17] = report("5Poisoner", ("1", 17), START, 0.5, poisoned_listing);
    let poison = events[17].id;
    stack.publish(&topic, &events).await?;

    // Act: the listing and consensus projections fold the log
    let listing = stack.spawn(ProjectionKind::Listing, "v1", None).await?;
    let consensus = stack.spawn(ProjectionKind::Consensus, "v1", None).await?;
    stack.caught_up("listing", "v1", &topic).await?;
    stack.caught_up("consensus", "v1", &topic).await?;
    stop(vec![listing, consensus]).await?;

    // Assert: everything else folded, the refused event recorded and dead-lettered by each
    let client = stack.pool.get().await?;
    let listings = client
        .query("SELECT count(*) FROM listing_v1.listings", &[])
        .await?;
    let decided = client
        .query("SELECT count(*) FROM consensus_v1.consensus_listings", &[])
        .await?;
    assert_eq!((count(&listings), count(&decided)), (39, 39));
    let refusals = client
        .query(
            "SELECT projection, event_id, detail FROM projection_refusals ORDER BY projection",
            &[],
        )
        .await?;
    assert_eq!(refusals.len(), 2, "one refusal per projection");
    for row in &refusals {
        let event_id: Vec<u8> = row.get(1);
        let detail: String = row.get(2);
        assert_eq!(event_id, poison.as_bytes().to_vec());
        assert!(detail.contains("22021"), "{detail}");
    }
    let faults = client
        .query("SELECT count(*) FROM projection_faults", &[])
        .await?;
    assert_eq!(count(&faults), 0, "no lane stood still");
    let dead_letters = read_topic(&stack.kafka, &stack.topics().dead_letters()).await?;
    let refused: BTreeSet<_> = dead_letters
        .iter()
        .filter_map(|record| match &record.event.payload {
            EventPayload::DeadLettered(dead) => Some(dead),
            _ => None,
        })
        .filter(|dead| dead.reason == DeadLetterReason::RefusedByProjection)
        .map(|dead| match &dead.subject {
            DeadLetterSubject::Record { topic, payload, .. } => (
                topic.clone(),
                resi_events::decode(payload).map(|event| event.id).ok(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        refused,
        BTreeSet::from([(topic.clone(), Some(poison))]),
        "one dead letter (the same id from both projections), with the event"
    );
    Ok(())
}

#[tokio::test]
async fn an_event_of_a_newer_schema_stops_its_lane_and_ready_says_so() -> anyhow::Result<()> {
    // Arrange: one listing reported three times, the second report by a newer release
    let stack = Stack::new().await?;
    let topic = stack.topics().attestations();
    let mut newer = attested("5Newer", 1, 0, 3_000, 260_000, START + 1);
    newer.schema_version = EventType::ListingAttested.schema_version() + 1;
    let events = vec![
        attested("5Older", 1, 0, 3_000, 250_000, START),
        newer,
        attested("5Later", 1, 0, 3_000, 270_000, START + 2),
    ];
    stack.publish(&topic, &events).await?;

    // Act
    let listing = stack.spawn(ProjectionKind::Listing, "v1", None).await?;
    let client = stack.pool.get().await?;
    let detail: String = resi_tests::eventually(
        std::time::Duration::from_secs(60),
        "the lane to record that it is blocked",
        || async {
            let rows = client
                .query(
                    "SELECT detail FROM projection_faults WHERE state = 'blocked'",
                    &[],
                )
                .await?;
            Ok(rows.first().map(|row| row.get(0)))
        },
    )
    .await?;
    let mut config = resi_tests::api::config(&stack.postgres, &stack.kafka);
    config.api.ready_max_stall_secs = 0;
    let api = resi_tests::api::spawn_api(&config).await?;
    let ready = api.get("/ready").await?;
    api.stop().await?;
    stop(vec![listing]).await?;

    // Assert: the report before it folded, neither it nor the one after, and it is reported
    let folded = client
        .query(
            "SELECT miner_hotkey FROM listing_v1.miner_attestations ORDER BY scraped_at",
            &[],
        )
        .await?;
    let miners: Vec<String> = folded.iter().map(|row| row.get(0)).collect();
    assert_eq!(miners, vec!["5Older".to_owned()]);
    assert!(detail.contains("schema version"), "{detail}");
    assert_eq!(ready.status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let stalled = &ready.body["stalled"];
    assert_eq!(stalled[0]["state"], "blocked", "{}", ready.text);
    assert_eq!(stalled[0]["projection"], "listing");
    Ok(())
}
