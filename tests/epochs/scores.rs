//! An epoch end to end: miners upload epoch JSON documents as the network's miners write them,
//! the pipeline ingests them, the coordinator records each miner's evidence once the epoch is
//! over, and the scores projection ranks them. Honest miners lead their zipcodes; a miner that
//! reports listings in a honeypot zipcode gets nothing; a replay gives the same tables.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use resi_datagen::json_files;
use resi_events::{EventPayload, EventType};
use resi_projector::engine::ProjectionKind;
use resi_tests::api::spawn_api;
use resi_tests::harness::{count, payloads};
use serde_json::Value;

use crate::{SCORING_TARGETS, SmallEpoch, checksum, places, publish_metagraph, small_epoch, stack};

const HONEST: [&str; 3] = [
    "5HonestAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
    "5HonestBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2",
    "5HonestCccccccccccccccccccccccccccccccccccccccc3",
];
const LAZY: &str = "5LazyDddddddddddddddddddddddddddddddddddddddddd4";
const LIAR: &str = "5LiarEeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee5";
const FABRICATOR: &str = "5FakeFfffffffffffffffffffffffffffffffffffffffff6";

/// The listings of one zipcode as every honest miner reports them, at the zipcode's place.
pub(crate) fn listings(
    zipcode: &str,
    count: u32,
    first_zpid: u64,
    place: (f64, f64),
    price_offset: i64,
) -> Vec<Value> {
    let now = Utc::now().naive_utc();
    resi_tests::harness::reports(u64::from(count), first_zpid)
        .into_iter()
        .map(|mut report| {
            report.zip = zipcode.to_owned();
            report.latitude = Some(place.0);
            report.longitude = Some(place.1);
            report.price = report.price.map(|price| price + price_offset);
            report.scraped_at = now - Duration::minutes(5);
            json_files::real_listing(&report)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_is_scored_from_its_evidence_and_fabricators_get_nothing() -> anyhow::Result<()> {
    // Arrange: a small epoch open now, its honeypots known to the test
    let harness = stack().await?;
    // about five zipcodes of 60 listings; one fabricating epoch bans, so that a ban and its
    // lifting are seen in one epoch
    let SmallEpoch {
        mut coordinator,
        epoch_id,
        opened,
        honeypots,
        regular,
    } = small_epoch(&harness, 300, 60, |config| {
        config.coordinator.ban_after_epochs = 1;
    })
    .await?;
    assert!(!honeypots.is_empty());
    assert!(regular.len() >= 3, "{opened:?}");
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let places = places(&client).await?;

    // each miner's documents: honest ones everything, the lazy one a zipcode, the liar every
    // price off by $50,000, the fabricator everything plus listings in a honeypot
    let mut documents = Vec::new();
    for (index, (zipcode, expected)) in regular.iter().enumerate() {
        let first_zpid = 70_000_000 + 10_000 * index as u64;
        let place = places[zipcode];
        let truth = listings(zipcode, *expected, first_zpid, place, 0);
        for miner in HONEST.iter().chain([&FABRICATOR]) {
            documents.push((*miner, zipcode.clone(), truth.clone()));
        }
        if index == 0 {
            documents.push((LAZY, zipcode.clone(), truth.clone()));
        }
        documents.push((
            LIAR,
            zipcode.clone(),
            listings(zipcode, *expected, first_zpid, place, 50_000),
        ));
    }
    let honeypot = &honeypots[0];
    let made_up = listings(honeypot, 12, 79_000_000, places[honeypot], 0);
    documents.push((FABRICATOR, honeypot.clone(), made_up));
    let submitted = Utc::now().naive_utc();
    for (miner, zipcode, rows) in &documents {
        let document = json_files::document(&epoch_id, zipcode, miner, submitted, rows.clone());
        let key = json_files::key(
            miner,
            &epoch_id,
            zipcode,
            "data_20251021_091500.json",
            false,
        );
        harness.put(&key, json_files::bytes(&document)?).await?;
    }

    // Act: ingest, project, then the coordinator's clock passes the epoch's validator window
    let bridge = harness
        .spawn_bridge(&harness.bridge_config("s3", None))
        .await?;
    let parser = harness.spawn_parser(&harness.parser_config(0, 1)).await?;
    harness
        .wait_for(
            &harness.topics.uploads(),
            "every document parsed",
            |records| count(records, EventType::UploadParsed) == documents.len(),
        )
        .await?;
    parser.stop().await?;
    bridge.stop().await?;
    // the metagraph the weights are set by: every miner but the liar registered
    let neurons: Vec<(String, bool, u64)> = HONEST
        .iter()
        .chain([&LAZY, &FABRICATOR])
        .map(|hotkey| ((*hotkey).to_owned(), false, 1_000_000_000))
        .collect();
    publish_metagraph(&harness, &neurons).await?;
    let targets = SCORING_TARGETS;
    let projector = harness.spawn_projector(&targets).await?;
    for (projection, version) in &targets[..5] {
        harness.projected(*projection, version).await?;
    }
    let over = opened.end.to_datetime().unwrap_or_default() + Duration::minutes(15 + 5 + 1);
    let later = coordinator.tick(over).await?;
    assert!(later.closed.contains(&epoch_id), "{later:?}");
    assert!(later.evidenced.contains(&epoch_id), "{later:?}");
    assert_eq!(later.banned, vec![FABRICATOR.to_owned()], "{later:?}");
    // the next tick has nothing more to record
    let again = coordinator.tick(over).await?;
    assert!(
        again.evidenced.is_empty() && again.banned.is_empty(),
        "{again:?}"
    );
    harness.projected(ProjectionKind::Scores, "v1").await?;
    harness.projected(ProjectionKind::Epochs, "v1").await?;

    // Assert: the evidence says what the miners did
    let epochs = harness.read_all(&harness.topics.epochs()).await?;
    let evidence: BTreeMap<String, resi_events::MinerEpochEvidence> = payloads(&epochs)
        .filter_map(|payload| match payload {
            EventPayload::MinerEpochEvidence(evidence) if evidence.epoch_id == epoch_id => {
                Some((evidence.miner_hotkey.clone(), (**evidence).clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(evidence.len(), 6, "{:?}", evidence.keys());
    let honest = &evidence[HONEST[0]];
    assert_eq!(honest.zipcodes.len(), regular.len());
    for (zip, (zipcode, expected)) in honest.zipcodes.iter().zip({
        let mut sorted = regular.clone();
        sorted.sort();
        sorted
    }) {
        assert_eq!(zip.zipcode, zipcode);
        assert_eq!(zip.listings, u64::from(expected), "{zip:?}");
        assert_eq!(
            zip.checked_listings, zip.listings,
            "five miners report each listing"
        );
        assert_eq!(zip.agreed_fields, zip.checked_fields, "{zip:?}");
        assert_eq!(zip.impossible_rows, 0, "{zip:?}");
    }
    let liar = &evidence[LIAR];
    assert!(
        liar.zipcodes
            .iter()
            .all(|zip| zip.agreed_fields < zip.checked_fields)
    );
    let fabricated = evidence[FABRICATOR]
        .zipcodes
        .iter()
        .find(|zip| &zip.zipcode == honeypot)
        .expect("the honeypot's evidence");
    assert_eq!(fabricated.listings, 12);

    // the scores: honest first, the liar and the lazy behind, the fabricator zeroed
    let scores: BTreeMap<String, (f64, f64, f64, bool)> = client
        .query(
            "SELECT miner_hotkey, total, completeness, reward_share, fabricated
               FROM scores_v1.epoch_scores WHERE epoch_id = $1",
            &[&epoch_id],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2), row.get(3), row.get(4))))
        .collect();
    assert_eq!(scores.len(), 6);
    let total = |miner: &str| scores[miner].0;
    for miner in HONEST {
        assert!(total(miner) > total(LIAR), "{scores:?}");
        assert!(total(miner) > total(LAZY), "{scores:?}");
        assert!((scores[miner].1 - 1.0).abs() < 1e-9, "complete: {scores:?}");
    }
    assert!(total(LIAR) > 0.0 && total(LAZY) > 0.0);
    assert!(scores[FABRICATOR].3, "{scores:?}");
    assert_eq!(total(FABRICATOR), 0.0);
    assert_eq!(scores[FABRICATOR].2, 0.0);
    let shares: f64 = scores.values().map(|score| score.2).sum();
    assert!(
        (shares - 1.0).abs() < 1e-9,
        "every zipcode's reward is given: {shares}"
    );
    let winners: Vec<String> = client
        .query(
            "SELECT miner_hotkey FROM scores_v1.zipcode_rankings
              WHERE epoch_id = $1 AND rank = 1 ORDER BY zipcode",
            &[&epoch_id],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(winners.len(), regular.len());
    assert!(
        winners
            .iter()
            .all(|winner| HONEST.contains(&winner.as_str())),
        "{winners:?}"
    );
    let unranked: i64 = client
        .query_one(
            "SELECT count(*) FROM scores_v1.zipcode_rankings
              WHERE epoch_id = $1 AND miner_hotkey = $2 AND rank IS NOT NULL",
            &[&epoch_id, &FABRICATOR],
        )
        .await?
        .get(0);
    assert_eq!(unranked, 0);

    // the read API serves it all
    let api = spawn_api(&resi_tests::api::config(&harness.postgres, &harness.kafka)).await?;
    let listed = api.get("/api/epochs").await?;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let listed_epoch = listed.body["epochs"]
        .as_array()
        .and_then(|epochs| {
            epochs
                .iter()
                .find(|epoch| epoch["epoch_id"] == epoch_id.as_str())
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed_epoch["scored_miners"], 6, "{}", listed.text);
    assert_eq!(listed_epoch["honeypots_revealed"], true);
    assert_eq!(listed_epoch["commitment_verified"], true);
    let detail = api.get(&format!("/api/epochs/{epoch_id}")).await?;
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert_eq!(detail.body["honeypots"], serde_json::json!(honeypots));
    let marked: Vec<&str> = detail.body["zipcodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|zip| zip["is_honeypot"] == true)
        .filter_map(|zip| zip["zipcode"].as_str())
        .collect();
    assert_eq!(marked.len(), honeypots.len());
    let served = api.get(&format!("/api/epochs/{epoch_id}/scores")).await?;
    assert_eq!(served.status, 200, "{}", served.text);
    assert_eq!(served.body["scored"], true);
    let miners = served.body["miners"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(miners.len(), 6);
    assert!(
        HONEST.contains(&miners[0]["miner_hotkey"].as_str().unwrap_or_default()),
        "highest first"
    );
    assert_eq!(miners[5]["miner_hotkey"], FABRICATOR);
    assert_eq!(miners[5]["fabricated"], true);
    let (zipcode, _) = &regular[0];
    let ranked = api
        .get(&format!(
            "/api/epochs/{epoch_id}/rankings?zipcode={zipcode}"
        ))
        .await?;
    assert_eq!(ranked.status, 200, "{}", ranked.text);
    let rows = ranked.body["rankings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        rows.len(),
        6,
        "every miner that covered the zipcode: {}",
        ranked.text
    );
    assert_eq!(rows[0]["rank"], 1);
    assert!((rows[0]["reward"].as_f64().unwrap_or_default() - 0.55).abs() < 1e-9);
    assert!(rows.iter().all(|row| row["zipcode"] == zipcode.as_str()));
    let weights = api.get(&format!("/api/epochs/{epoch_id}/weights")).await?;
    assert_eq!(weights.status, 200, "{}", weights.text);
    assert_eq!(
        weights.body["unregistered"],
        serde_json::json!([LIAR]),
        "the liar has no uid"
    );
    let values: Vec<f64> = weights.body["weights"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        (values.iter().sum::<f64>() - 1.0).abs() < 1e-9,
        "{}",
        weights.text
    );
    assert_eq!(
        weights.body["uids"].as_array().map(Vec::len),
        Some(values.len())
    );
    assert!(
        !weights.body["uids"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|uid| uid == 4),
        "the fabricator gets no weight"
    );
    let history = api.get(&format!("/api/miners/{FABRICATOR}/epochs")).await?;
    assert_eq!(history.status, 200, "{}", history.text);
    assert_eq!(history.body["fabricated_epochs"], 1);
    assert_eq!(history.body["flagged"], false, "flagged from the second");
    assert_eq!(api.get("/api/miners/nobody/epochs").await?.status, 404);
    api.stop().await?;

    // the fabricator paid in trust, is banned, and its next upload is refused
    harness.projected(ProjectionKind::Trust, "v1").await?;
    let trust: BTreeMap<String, f64> = client
        .query(
            "SELECT miner_hotkey, trust_score FROM trust_v1.miner_trust",
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(trust[FABRICATOR] < trust[HONEST[0]] - 0.15, "{trust:?}");
    let penalties: i64 = client
        .query_one(
            "SELECT count FROM trust_v1.miner_rejections WHERE miner_hotkey = $1 AND reason = 'epoch:fabricated'",
            &[&FABRICATOR],
        )
        .await?
        .get(0);
    assert_eq!(penalties, 1);
    let banned: bool = client
        .query_one(
            "SELECT banned FROM scores_v1.miner_bans WHERE miner_hotkey = $1",
            &[&FABRICATOR],
        )
        .await?
        .get(0);
    assert!(banned);
    let (zipcode, expected) = &regular[1];
    let document = json_files::document(
        &epoch_id,
        zipcode,
        FABRICATOR,
        submitted,
        listings(zipcode, *expected, 71_000_000, places[zipcode], 0),
    );
    let refused_key = json_files::key(
        FABRICATOR,
        &epoch_id,
        zipcode,
        "data_20251021_101500.json",
        false,
    );
    harness
        .put(&refused_key, json_files::bytes(&document)?)
        .await?;
    let bridge = harness
        .spawn_bridge(&harness.bridge_config("s3", None))
        .await?;
    let parser = harness.spawn_parser(&harness.parser_config(0, 1)).await?;
    let uploads = harness
        .wait_for(&harness.topics.uploads(), "the banned miner's upload refused", |records| {
            payloads(records).any(|payload| matches!(payload, EventPayload::UploadRejected(rejected) if rejected.key == refused_key))
        })
        .await?;
    parser.stop().await?;
    bridge.stop().await?;
    let refusal = payloads(&uploads)
        .find_map(|payload| match payload {
            EventPayload::UploadRejected(rejected) if rejected.key == refused_key => {
                Some(rejected.reason)
            }
            _ => None,
        })
        .expect("the refusal");
    assert_eq!(refusal, resi_events::UploadRejectReason::MinerBanned);

    // an operator lifts the ban: an event too, folded like the others
    let ctl = resi_ctl::CtlConfig {
        postgres: harness.postgres.clone(),
        kafka: harness.kafka.clone(),
        ..resi_ctl::CtlConfig::default()
    };
    resi_ctl::miners::unban(&ctl, FABRICATOR, "ops", "reviewed the honeypot reveal").await?;
    assert!(
        resi_ctl::miners::unban(&ctl, HONEST[0], "ops", "never banned")
            .await
            .is_err()
    );
    harness.projected(ProjectionKind::Scores, "v1").await?;
    let lifted = client
        .query_one(
            "SELECT banned, unbanned_by FROM scores_v1.miner_bans WHERE miner_hotkey = $1",
            &[&FABRICATOR],
        )
        .await?;
    assert!(!lifted.get::<_, bool>(0));
    assert_eq!(lifted.get::<_, Option<String>>(1).as_deref(), Some("ops"));

    // a rebuild from offset 0 gives equal tables
    let rebuild = harness
        .spawn_projector(&[(ProjectionKind::Scores, "v1_replay")])
        .await?;
    harness
        .projected(ProjectionKind::Scores, "v1_replay")
        .await?;
    for (table, order) in [
        ("epoch_scores", "epoch_id, miner_hotkey"),
        ("zipcode_rankings", "epoch_id, zipcode, miner_hotkey"),
        ("scored_epochs", "epoch_id"),
        ("score_conflicts", "epoch_id, event_id"),
        ("miner_bans", "miner_hotkey"),
    ] {
        let live = checksum(&client, &format!("scores_v1.{table}"), order).await?;
        let rebuilt = checksum(&client, &format!("scores_v1_replay.{table}"), order).await?;
        assert_eq!(live, rebuilt, "{table}");
    }
    rebuild.stop().await?;
    projector.stop().await?;
    Ok(())
}
