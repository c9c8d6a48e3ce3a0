//! The consensus projection on the real stack: v1 and v2 built side by side decide the crafted
//! case differently, every listing equals the pure algorithm over the miners' latest reports,
//! re-delivery changes nothing, and a rebuild gives the same tables (staged while it catches up
//! and applied at the log's end).

use std::collections::BTreeMap;

use resi_events::{CanonicalListing, Event, EventPayload};
use resi_projections::consensus::{
    ConsensusAlgorithm, Field, MinerReport, Params, Registry, decide, standard,
};
use resi_projector::engine::ProjectionKind;

use crate::listing::{HOUR, history};
use resi_tests::events::report;
use resi_tests::stack::{Stack, stop};

const DAY: i64 = 24 * HOUR;
const TODAY: i64 = 1_763_856_000_000_000;

fn house(price: i64, status: &str) -> CanonicalListing {
    CanonicalListing {
        listing_id: "2077".into(),
        price_usd: Some(price),
        home_status: Some(status.into()),
        bedrooms: Some(3),
        zip_code: Some("78702".into()),
        city: Some("AUSTIN".into()),
        state: Some("TX".into()),
        ..CanonicalListing::default()
    }
}

/// Four miners reported last month's price and status; two report today's. Miner "e" also
/// has an older report, which its newer one supersedes.
pub fn crafted() -> Vec<Event> {
    let old = house(450_000, "FOR_SALE");
    let new = house(425_000, "PENDING");
    vec![
        report("a", ("a1", 0), TODAY - 30 * DAY, 0.6, old.clone()),
        report("b", ("b1", 0), TODAY - 31 * DAY, 0.6, old.clone()),
        report("c", ("c1", 0), TODAY - 29 * DAY, 0.6, old.clone()),
        report("d", ("d1", 0), TODAY - 30 * DAY, 0.6, old.clone()),
        report("e", ("e0", 0), TODAY - 30 * DAY, 0.6, old),
        report("e", ("e1", 0), TODAY, 0.6, new.clone()),
        report("f", ("f1", 0), TODAY - DAY / 2, 0.6, new),
    ]
}

/// The consensus tables of `schema`, ordered, every column but none that names the schema.
pub fn consensus_tables(schema: &str) -> [String; 3] {
    [
        format!(
            "SELECT listing_id, consensus_score, unique_miners, last_reported_at::text, price_usd,
                    bedrooms, bathrooms_tenths, living_area_sqft, address, home_type, home_status,
                    latitude_e7, longitude_e7, zip_code, city, state
             FROM {schema}.consensus_listings ORDER BY listing_id"
        ),
        format!(
            "SELECT listing_id, miner_hotkey, encode(attestation_id, 'hex'), reported_at::text,
                    miner_trust, field_values::text, agreed_fields, reported_fields
             FROM {schema}.consensus_reports ORDER BY listing_id, miner_hotkey"
        ),
        format!(
            "SELECT miner_hotkey, listings, agreed_fields, reported_fields, accuracy_score
             FROM {schema}.miner_accuracy ORDER BY miner_hotkey"
        ),
    ]
}

/// The pure algorithm over each miner's latest report: per listing (score, miners, chosen
/// price, chosen status), and per miner (listings, agreed, reported).
type Oracle = (
    BTreeMap<String, (f64, i32, Option<i64>, Option<String>)>,
    BTreeMap<String, (i64, i64, i64)>,
);

fn oracle(algorithm: &dyn ConsensusAlgorithm, events: &[Event]) -> Oracle {
    let mut latest: BTreeMap<(String, String), (MinerReport, [u8; 32])> = BTreeMap::new();
    for event in events {
        let EventPayload::ListingAttested(attested) = &event.payload else {
            continue;
        };
        let candidate = MinerReport::of(
            &attested.miner_hotkey,
            attested.scraped_at.as_micros(),
            attested.miner_trust,
            &attested.listing,
        );
        let key = (
            attested.listing.listing_id.clone(),
            attested.miner_hotkey.clone(),
        );
        let replace = latest
            .get(&key)
            .is_none_or(|(current, id)| candidate.replaces(&event.id.0, current, id));
        if replace {
            latest.insert(key, (candidate, event.id.0));
        }
    }
    let mut by_listing: BTreeMap<String, Vec<MinerReport>> = BTreeMap::new();
    for ((listing, _), (report, _)) in latest {
        by_listing.entry(listing).or_default().push(report);
    }
    let mut listings = BTreeMap::new();
    let mut miners: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for (listing, reports) in by_listing {
        let consensus = decide(algorithm, &reports);
        let chosen = |field: Field| {
            consensus
                .fields
                .iter()
                .find(|candidate| candidate.field == field)
                .and_then(|candidate| candidate.chosen())
                .map(|value| value.value.clone())
        };
        listings.insert(
            listing,
            (
                consensus.score,
                i32::try_from(consensus.miners).unwrap_or_default(),
                chosen(Field::Price).and_then(|price| price.parse().ok()),
                chosen(Field::Status),
            ),
        );
        for (miner, agreed, reported) in consensus.agreement {
            let entry = miners.entry(miner).or_default();
            entry.0 += 1;
            entry.1 += i64::from(agreed);
            entry.2 += i64::from(reported);
        }
    }
    (listings, miners)
}

async fn stored(stack: &Stack, schema: &str) -> anyhow::Result<Oracle> {
    let client = stack.pool.get().await?;
    let listings = client
        .query(
            &format!(
                "SELECT listing_id, consensus_score, unique_miners, price_usd, home_status
                 FROM {schema}.consensus_listings"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2), row.get(3), row.get(4))))
        .collect();
    let miners = client
        .query(
            &format!(
                "SELECT miner_hotkey, listings, agreed_fields, reported_fields
                 FROM {schema}.miner_accuracy"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2), row.get(3))))
        .collect();
    Ok((listings, miners))
}

fn assert_matches(got: &Oracle, want: &Oracle) {
    assert_eq!(got.0.len(), want.0.len(), "listings");
    for (listing, (score, miners, price, status)) in &want.0 {
        let Some(row) = got.0.get(listing) else {
            panic!("listing {listing} is missing");
        };
        assert!(
            (row.0 - score).abs() < 1e-9,
            "{listing}: score {} != {score}",
            row.0
        );
        assert_eq!(
            (row.1, &row.2, &row.3),
            (*miners, price, status),
            "{listing}"
        );
    }
    assert_eq!(got.1, want.1, "miner agreement");
}

#[tokio::test]
async fn builds_decide_by_their_recorded_algorithms_side_by_side_and_rebuild_identically()
-> anyhow::Result<()> {
    // Arrange
    let stack = Stack::new().await?;
    let attestations = stack.topics().attestations();
    let mut events = history();
    events.extend(crafted());
    stack.publish(&attestations, &events).await?;

    // Act: v1 split over two instances, v2 built beside it by a third
    let instances = vec![
        stack
            .spawn(ProjectionKind::Consensus, "v1", Some((0, 2)))
            .await?,
        stack
            .spawn(ProjectionKind::Consensus, "v1", Some((1, 2)))
            .await?,
        stack.spawn(ProjectionKind::Consensus, "v2", None).await?,
    ];
    stack.caught_up("consensus", "v1", &attestations).await?;
    stack.caught_up("consensus", "v2", &attestations).await?;

    // Assert: the crafted case, v1 keeps the stale majority, v2 follows the fresh reports
    let client = stack.pool.get().await?;
    let chosen = |schema: &str| {
        format!(
            "SELECT price_usd, home_status, unique_miners
             FROM {schema}.consensus_listings WHERE listing_id = '2077'"
        )
    };
    let v1 = client.query_one(&chosen("consensus_v1"), &[]).await?;
    let v2 = client.query_one(&chosen("consensus_v2"), &[]).await?;
    assert_eq!(
        (v1.get::<_, Option<i64>>(0), v1.get::<_, Option<String>>(1)),
        (Some(450_000), Some("FOR_SALE".to_owned()))
    );
    assert_eq!(
        (v2.get::<_, Option<i64>>(0), v2.get::<_, Option<String>>(1)),
        (Some(425_000), Some("PENDING".to_owned()))
    );
    assert_eq!(v1.get::<_, i32>(2), 6, "miner e counts once");
    // each miner's latest report is stored once: the values and their supporters follow
    let prices: Vec<(Option<String>, i64)> = client
        .query(
            "SELECT field_values[1], count(*) FROM consensus_v2.consensus_reports
             WHERE listing_id = '2077' GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        prices,
        [
            (Some("425000".to_owned()), 2),
            (Some("450000".to_owned()), 4)
        ]
    );

    // Assert: every listing and every miner's agreement as the pure algorithms decide
    assert_matches(
        &stored(&stack, "consensus_v1").await?,
        &oracle(standard("v1")?.as_ref(), &events),
    );
    assert_matches(
        &stored(&stack, "consensus_v2").await?,
        &oracle(standard("v2")?.as_ref(), &events),
    );
    let status: String = client
        .query_one(
            "SELECT status FROM projection_versions WHERE projection = 'consensus' AND version = 'v2'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(status, "building", "v2 builds beside the live v1");

    // Assert: the lab's diff of the two builds lists exactly the listings whose chosen values
    // the two algorithms decide differently, the crafted one among them
    let (v1_oracle, v2_oracle) = (
        oracle(standard("v1")?.as_ref(), &events),
        oracle(standard("v2")?.as_ref(), &events),
    );
    let expected: Vec<String> = v1_oracle
        .0
        .iter()
        .filter(|(listing, (_, _, price, status))| {
            v2_oracle
                .0
                .get(*listing)
                .is_none_or(|(_, _, other_price, other_status)| {
                    (price, status) != (other_price, other_status)
                })
        })
        .map(|(listing, _)| listing.clone())
        .collect();
    let diffed = resi_lab::diff::diff_decisions(
        &resi_lab::decisions::from_build(&client, "consensus_v1").await?,
        &resi_lab::decisions::from_build(&client, "consensus_v2").await?,
        10,
    );
    assert!(expected.contains(&"2077".to_owned()));
    assert_eq!(diffed.changed_listings, expected);

    // Act: everything is delivered again
    let before = stack.dump(&consensus_tables("consensus_v1")).await?;
    stack.publish(&attestations, &events).await?;
    stack.caught_up("consensus", "v1", &attestations).await?;
    // Assert: nothing changed
    assert_eq!(stack.dump(&consensus_tables("consensus_v1")).await?, before);

    // Act: v1 rebuilt from offset 0 under another name, in batches small enough to come full,
    // so that it stages what it consumes and applies it at the log's end
    let rebuild = stack
        .spawn_batched(ProjectionKind::Consensus, "v1_rebuild", 16)
        .await?;
    stack
        .caught_up("consensus", "v1_rebuild", &attestations)
        .await?;
    // Assert: identical tables, reached through the staging table
    assert_eq!(
        stack
            .dump(&consensus_tables("consensus_v1_rebuild"))
            .await?,
        before,
        "a rebuild from the log gives the same tables"
    );
    // Assert: nothing is left staged, and the pass analysed the tables it wrote
    stack
        .staged_applied_and_analysed(
            "consensus_v1_rebuild",
            "consensus_staged",
            &["consensus_reports", "consensus_listings"],
        )
        .await?;

    // Act: a build labelled exp1 that declares v3 with a parameter
    let params: Params = [("price_tolerance".to_owned(), "0.02".to_owned())].into();
    let mut config = resi_tests::projector_config(
        &stack.postgres,
        &stack.kafka,
        &[(ProjectionKind::Consensus, "exp1")],
    );
    config.projector.projections[0].algorithm = Some("v3".to_owned());
    config.projector.projections[0].params = params.clone();
    let exp1 = Stack::start(&config).await?;
    stack.caught_up("consensus", "exp1", &attestations).await?;
    // Assert: it decided by v3 with that parameter, recorded with the build, defaults included
    let v3 = Registry::standard().build("v3", &params)?;
    assert_matches(
        &stored(&stack, "consensus_exp1").await?,
        &oracle(v3.as_ref(), &events),
    );
    let row = client
        .query_one(
            "SELECT algorithm, params FROM projection_versions
              WHERE projection = 'consensus' AND version = 'exp1'",
            &[],
        )
        .await?;
    let recorded: Params = serde_json::from_value(row.get(1))?;
    assert_eq!(row.get::<_, String>(0), "v3");
    assert_eq!(recorded, v3.params());
    assert_eq!(recorded["price_tolerance"], "0.02");
    assert_eq!(recorded["rounds"], "5");
    // Assert: a start declaring another algorithm for it is refused; one declaring nothing
    // runs what was recorded
    config.projector.projections[0].algorithm = Some("v1".to_owned());
    config.projector.projections[0].params = Params::new();
    let refused = resi_projector::Projector::build(&config).await.err();
    assert!(
        refused
            .as_ref()
            .is_some_and(|error| format!("{error:#}").contains("under another label")),
        "{refused:?}"
    );
    config.projector.projections[0].algorithm = None;
    assert!(resi_projector::Projector::build(&config).await.is_ok());
    // Assert: a new build that declares nothing and names no algorithm is refused before it
    // has tables
    let unnamed = resi_tests::projector_config(
        &stack.postgres,
        &stack.kafka,
        &[(ProjectionKind::Consensus, "exp2")],
    );
    assert!(resi_projector::Projector::build(&unnamed).await.is_err());
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM projection_versions WHERE version = 'exp2')",
            &[],
        )
        .await?
        .get(0);
    assert!(!exists, "a refused build leaves nothing behind");

    let mut all = instances;
    all.push(rebuild);
    all.push(exp1);
    stop(all).await
}
