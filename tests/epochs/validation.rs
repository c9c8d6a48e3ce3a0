//! Validators' results end to end: validators upload results documents (seed 003's format) to
//! their folder of the results bucket; a second bridge watches that bucket, the parser admits
//! only permitted, staked validators, the coordinator decides each miner's verdict by stake
//! after the validators' window, trust moves by the verdict, and the API serves it on the
//! epoch, on the miners' epochs and on every attestation. A lying validator is outvoted. Then a
//! `scores` v2 with other weights is built beside v1 and promoted, and a replay rebuilds equal
//! validation and trust tables.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use resi_datagen::json_files;
use resi_events::{EventPayload, EventType, UploadRejectReason, Verdict};
use resi_projector::engine::ProjectionKind;
use resi_tests::api::spawn_api;
use resi_tests::harness::{count, payloads};
use serde_json::{Value, json};

use crate::scores::listings;
use crate::{
    SCORING_TARGETS, SmallEpoch, checksum, places, publish_metagraph, put_results, small_epoch,
    stack, validators_bridge,
};

const HONEST: [&str; 2] = [
    "5HonestAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
    "5HonestBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2",
];
const FABRICATOR: &str = "5FakeFfffffffffffffffffffffffffffffffffffffffff6";
/// Covers one zipcode only; no validator judges it.
const LAZY: &str = "5LazyDddddddddddddddddddddddddddddddddddddddddd4";
const AGREEING: [&str; 2] = [
    "5VerifierAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "5VerifierBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
];
const LIAR: &str = "5VerifierLiarxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
const NO_PERMIT: &str = "5NoPermitAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A results document as seed 003 shows it: each miner with its five scores.
fn results(epoch_id: &str, validator: &str, totals: &[(&str, f64)]) -> Vec<u8> {
    let scores: serde_json::Map<String, Value> = totals
        .iter()
        .map(|(miner, total)| {
            (
                (*miner).to_owned(),
                json!({"score": {"data_quality": total, "accuracy": total, "completeness": total,
                                  "timeliness": total, "total_score": total}}),
            )
        })
        .collect();
    serde_json::to_vec_pretty(&json!({
        "epoch_id": epoch_id,
        "validator_hotkey": validator,
        "validation_timestamp": "2025-10-01T20:30:00.000Z",
        "validation_results": scores,
        "summary": {"total_miners": totals.len(), "average_score": 0.5, "top_performers": []},
    }))
    .unwrap_or_default()
}

async fn trust_rows(
    client: &tokio_postgres::Client,
    schema: &str,
) -> anyhow::Result<BTreeMap<String, (f64, i64)>> {
    Ok(client
        .query(
            &format!(
                "SELECT miner_hotkey, trust_score, validated_submissions FROM {schema}.miner_trust"
            ),
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_verdicts_move_trust_by_stake_and_a_liar_is_outvoted() -> anyhow::Result<()> {
    // Arrange: a small epoch open now, the metagraph with three staked validators and a hotkey
    // without a permit, known to the network projection before any results arrive
    let harness = stack().await?;
    let SmallEpoch {
        mut coordinator,
        epoch_id,
        opened,
        honeypots,
        regular,
        ..
    } = small_epoch(&harness, 200, 40, |config| {
        config.coordinator.validation_delay_minutes = 60;
    })
    .await?;
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let places = places(&client).await?;
    let stake = 5_000_000_000_000; // 5,000 TAO each
    let neurons: Vec<(String, bool, u64)> = AGREEING
        .iter()
        .chain([&LIAR])
        .map(|hotkey| ((*hotkey).to_owned(), true, stake))
        .chain([(NO_PERMIT.to_owned(), false, stake)])
        .chain(
            HONEST
                .iter()
                .chain([&FABRICATOR, &LAZY])
                .map(|hotkey| ((*hotkey).to_owned(), false, 1)),
        )
        .collect();
    publish_metagraph(&harness, &neurons).await?;
    let targets = SCORING_TARGETS;
    let projector = harness.spawn_projector(&targets).await?;
    harness.projected(ProjectionKind::Network, "v1").await?;

    // the miners' documents: honest ones every regular zipcode, the fabricator those and a
    // honeypot, the lazy one the first zipcode
    let mut documents = 0;
    let submitted = Utc::now().naive_utc();
    for (index, (zipcode, expected)) in regular.iter().enumerate() {
        let truth = listings(
            zipcode,
            *expected,
            80_000_000 + 10_000 * index as u64,
            places[zipcode],
            0,
        );
        let lazy = (index == 0).then_some(&LAZY);
        for miner in HONEST.iter().chain([&FABRICATOR]).chain(lazy) {
            let document =
                json_files::document(&epoch_id, zipcode, miner, submitted, truth.clone());
            let key = json_files::key(miner, &epoch_id, zipcode, "data_20251021_091500.json", true);
            harness.put(&key, json_files::bytes(&document)?).await?;
            documents += 1;
        }
    }
    let honeypot = &honeypots[0];
    let made_up = listings(honeypot, 8, 89_000_000, places[honeypot], 0);
    let document = json_files::document(&epoch_id, honeypot, FABRICATOR, submitted, made_up);
    let key = json_files::key(
        FABRICATOR,
        &epoch_id,
        honeypot,
        "data_20251021_091500.json",
        true,
    );
    harness.put(&key, json_files::bytes(&document)?).await?;
    documents += 1;

    // the validators' documents, in their own bucket: two agree, one lies, one has no permit,
    // and one document is not the seed's shape
    let judged = |honest: f64, fabricator: f64| {
        HONEST
            .iter()
            .map(move |miner| (*miner, honest))
            .chain([(FABRICATOR, fabricator)])
            .collect::<Vec<_>>()
    };
    let uploads = [
        (
            AGREEING[0],
            "results.json",
            results(&epoch_id, AGREEING[0], &judged(0.9, 0.0)),
        ),
        (
            AGREEING[1],
            "results.json",
            results(&epoch_id, AGREEING[1], &judged(0.8, 0.02)),
        ),
        (
            LIAR,
            "results.json",
            results(&epoch_id, LIAR, &judged(0.0, 1.0)),
        ),
        (
            NO_PERMIT,
            "results.json",
            results(&epoch_id, NO_PERMIT, &judged(0.0, 1.0)),
        ),
        (
            AGREEING[0],
            "broken.json",
            results(&epoch_id, LIAR, &judged(1.0, 1.0)),
        ),
    ];
    let (validators_bucket, validators_bridge) = validators_bridge(&harness).await?;
    for (validator, name, body) in uploads {
        put_results(
            &harness,
            &validators_bucket,
            validator,
            &epoch_id,
            name,
            body,
        )
        .await?;
    }

    // Act: both bridges and the parser ingest; the coordinator's clock passes the epoch, its
    // evidence and the validators' window
    let miners_bridge = harness
        .spawn_bridge(&harness.bridge_config("s3", None))
        .await?;
    let parser = harness.spawn_parser(&harness.parser_config(0, 1)).await?;
    let upload_events = harness
        .wait_for(
            &harness.topics.uploads(),
            "every document handled",
            |records| {
                count(records, EventType::UploadParsed) == documents
                    && count(records, EventType::UploadRejected) == 2
            },
        )
        .await?;
    let epoch_events = harness
        .wait_for(
            &harness.topics.epochs(),
            "three validators' results admitted",
            |records| count(records, EventType::ValidatorResultsPublished) == 3,
        )
        .await?;
    parser.stop().await?;
    validators_bridge.stop().await?;
    miners_bridge.stop().await?;
    let refusals: BTreeMap<String, UploadRejectReason> = payloads(&upload_events)
        .filter_map(|payload| match payload {
            EventPayload::UploadRejected(rejected) => Some((rejected.key.clone(), rejected.reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        refusals[&format!("validators/{NO_PERMIT}/epoch={epoch_id}/results.json")],
        UploadRejectReason::NotAValidator
    );
    assert_eq!(
        refusals[&format!("validators/{}/epoch={epoch_id}/broken.json", AGREEING[0])],
        UploadRejectReason::ResultsInvalid,
        "a document naming another validator than its folder"
    );
    let admitted: Vec<&resi_events::ValidatorResultsPublished> = payloads(&epoch_events)
        .filter_map(|payload| match payload {
            EventPayload::ValidatorResultsPublished(results) => Some(results.as_ref()),
            _ => None,
        })
        .collect();
    assert!(admitted.iter().all(|results| results.stake_rao == stake
        && results.scores.len() == 3
        && results.metagraph_block == 4_000_000));

    for (projection, version) in &targets[..5] {
        harness.projected(*projection, version).await?;
    }
    let before = trust_rows(&client, "trust_v1").await?;
    let closed = opened.end.to_datetime().unwrap_or_default() + Duration::minutes(15);
    let evidenced = coordinator.tick(closed + Duration::minutes(6)).await?;
    assert!(evidenced.evidenced.contains(&epoch_id), "{evidenced:?}");
    assert!(
        evidenced.validated.is_empty(),
        "the validators' window is open: {evidenced:?}"
    );
    let decided = coordinator.tick(closed + Duration::minutes(61)).await?;
    assert_eq!(decided.validated, vec![epoch_id.clone()], "{decided:?}");
    let again = coordinator.tick(closed + Duration::minutes(120)).await?;
    assert!(again.validated.is_empty(), "decided once: {again:?}");
    harness.projected(ProjectionKind::Trust, "v1").await?;
    harness.projected(ProjectionKind::Scores, "v1").await?;

    // Assert: the verdicts by stake — the liar's third of the stake moved nothing
    let verdicts: BTreeMap<String, (Verdict, f64)> =
        payloads(&harness.read_all(&harness.topics.uploads()).await?)
            .filter_map(|payload| match payload {
                EventPayload::MinerValidated(validated) => Some((
                    validated.miner_hotkey.clone(),
                    (validated.verdict, validated.validation_score),
                )),
                _ => None,
            })
            .collect();
    assert_eq!(verdicts.len(), 3, "{verdicts:?}");
    for miner in HONEST {
        assert_eq!(verdicts[miner].0, Verdict::Confirmed, "{verdicts:?}");
        assert!((verdicts[miner].1 - 1.7 / 3.0).abs() < 1e-9, "{verdicts:?}");
    }
    assert_eq!(verdicts[FABRICATOR].0, Verdict::Fake, "{verdicts:?}");
    let after = trust_rows(&client, "trust_v1").await?;
    for miner in HONEST {
        assert!(
            (after[miner].0 - (before[miner].0 + 0.1).min(1.0)).abs() < 1e-9,
            "confirmed: +0.1 ({before:?} → {after:?})"
        );
        assert_eq!(after[miner].1, before[miner].1 + 1);
    }
    assert!(
        (after[FABRICATOR].0 - (before[FABRICATOR].0 - 0.2 - 0.5).max(0.0)).abs() < 1e-9,
        "fabrication −0.2, judged fake −0.5: {before:?} → {after:?}"
    );
    let judged_fake: i64 = client
        .query_one(
            "SELECT count FROM trust_v1.miner_rejections WHERE miner_hotkey = $1 AND reason = 'epoch:judged_fake'",
            &[&FABRICATOR],
        )
        .await?
        .get(0);
    assert_eq!(judged_fake, 1);

    // the API: the epoch's validation, the miners' epochs, every attestation of the epoch
    let api = spawn_api(&resi_tests::api::config(&harness.postgres, &harness.kafka)).await?;
    let validation = api
        .get(&format!("/api/epochs/{epoch_id}/validation"))
        .await?;
    assert_eq!(validation.status, 200, "{}", validation.text);
    assert!(
        validation.body["validated_at"].is_string(),
        "{}",
        validation.text
    );
    let by_validator: BTreeMap<String, Value> = validation.body["validators"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            (
                row["validator_hotkey"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                row.clone(),
            )
        })
        .collect();
    assert_eq!(by_validator.len(), 3, "{}", validation.text);
    assert!(by_validator.values().all(|row| row["counted"] == true));
    assert_eq!(by_validator[LIAR]["agreement_with_verdict"], 0.0);
    for validator in AGREEING {
        assert_eq!(by_validator[validator]["agreement_with_verdict"], 1.0);
        assert!(
            by_validator[validator]["mean_abs_diff_from_reference"].as_f64()
                < by_validator[LIAR]["mean_abs_diff_from_reference"].as_f64(),
            "{}",
            validation.text
        );
    }
    assert_eq!(
        validation.body["verdicts"].as_array().map(Vec::len),
        Some(3)
    );
    let history = api
        .get(&format!("/api/miners/{}/epochs", HONEST[0]))
        .await?;
    assert_eq!(history.status, 200, "{}", history.text);
    assert_eq!(
        history.body["epochs"][0]["verdict"], "confirmed",
        "{}",
        history.text
    );
    // what no consensus could check, sampled for validators: the fabricator's honeypot
    // listings (nobody else reported them); nothing of an honest miner's
    harness.projected(ProjectionKind::Epochs, "v1").await?;
    let sample = api
        .get(&format!(
            "/api/epochs/{epoch_id}/spot-checks?miner={FABRICATOR}&limit=50"
        ))
        .await?;
    assert_eq!(sample.status, 200, "{}", sample.text);
    let drawn = sample.body["listings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(drawn.len(), 8, "{}", sample.text);
    assert!(
        drawn
            .iter()
            .all(|row| row["zipcode"] == honeypot.as_str() && row["other_miners"] == 0)
    );
    let again = api
        .get(&format!(
            "/api/epochs/{epoch_id}/spot-checks?miner={FABRICATOR}&limit=50"
        ))
        .await?;
    assert_eq!(again.body, sample.body, "the same draw every time");
    let none = api
        .get(&format!(
            "/api/epochs/{epoch_id}/spot-checks?miner={}",
            HONEST[0]
        ))
        .await?;
    assert_eq!(
        none.body["listings"],
        serde_json::json!([]),
        "{}",
        none.text
    );
    assert_eq!(
        api.get(&format!("/api/epochs/{epoch_id}/spot-checks"))
            .await?
            .status,
        400
    );
    let zpid = 80_000_000_u64.to_string();
    let listing = api.get(&format!("/api/listing/{zpid}")).await?;
    assert_eq!(listing.status, 200, "{}", listing.text);
    assert_eq!(listing.body["is_validated"], true, "{}", listing.text);
    let attestations = listing.body["attestations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(attestations.len(), 4, "{}", listing.text);
    for attestation in &attestations {
        let miner = attestation["miner_hotkey"].as_str().unwrap_or_default();
        assert_eq!(
            attestation["is_validated"],
            HONEST.contains(&miner),
            "{attestation}"
        );
        assert_eq!(
            attestation["validation_score"].is_number(),
            miner != LAZY,
            "a score where validators judged the miner: {attestation}"
        );
    }
    let openapi = api.get("/openapi.json").await?;
    assert!(openapi.body["paths"]["/api/epochs/{epoch_id}/validation"].is_object());

    // scores v2, other weights, built beside v1 from the same log and promoted
    let v2 = harness
        .spawn_projector(&[(ProjectionKind::Scores, "v2")])
        .await?;
    harness.projected(ProjectionKind::Scores, "v2").await?;
    let totals = |schema: &'static str| {
        let client = &client;
        let epoch_id = &epoch_id;
        async move {
            anyhow::Ok(
                client
                    .query(
                        &format!("SELECT miner_hotkey, total FROM {schema}.epoch_scores WHERE epoch_id = $1"),
                        &[epoch_id],
                    )
                    .await?
                    .iter()
                    .map(|row| (row.get::<_, String>(0), row.get::<_, f64>(1)))
                    .collect::<BTreeMap<_, _>>(),
            )
        }
    };
    let (v1_totals, v2_totals) = (totals("scores_v1").await?, totals("scores_v2").await?);
    assert_eq!(v1_totals.len(), 4);
    assert_eq!(
        v1_totals.keys().collect::<Vec<_>>(),
        v2_totals.keys().collect::<Vec<_>>()
    );
    // the lazy miner's completeness (0.25) weighs less under v2: 0.8125 → 0.85
    assert!(
        (v1_totals[LAZY] - 0.8125).abs() < 1e-9 && (v2_totals[LAZY] - 0.85).abs() < 1e-9,
        "other weights give other totals: {v1_totals:?} {v2_totals:?}"
    );
    resi_projector::operate::promote(
        &pool,
        &harness.kafka,
        ProjectionKind::Scores,
        "v2",
        0,
        false,
    )
    .await?;
    let served = api.get(&format!("/api/epochs/{epoch_id}/scores")).await?;
    let served_totals: BTreeMap<String, f64> = served.body["miners"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            (
                row["miner_hotkey"].as_str().unwrap_or_default().to_owned(),
                row["total"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert_eq!(served_totals.len(), v2_totals.len());
    assert!(
        served_totals
            .iter()
            .all(|(miner, total)| (total - v2_totals[miner]).abs() < 1e-9),
        "the API reads the promoted build: {served_totals:?} {v2_totals:?}"
    );
    api.stop().await?;

    // a rebuild from offset 0 gives equal validation and trust tables
    let rebuild = harness
        .spawn_projector(&[
            (ProjectionKind::Scores, "v1_replay"),
            (ProjectionKind::Trust, "v1_replay"),
        ])
        .await?;
    harness
        .projected(ProjectionKind::Scores, "v1_replay")
        .await?;
    harness
        .projected(ProjectionKind::Trust, "v1_replay")
        .await?;
    for (table, order) in [
        ("scores_{}.validator_results", "results_id"),
        ("scores_{}.validator_scores", "results_id, miner_hotkey"),
        ("scores_{}.epoch_validations", "epoch_id"),
        ("scores_{}.miner_validations", "epoch_id, miner_hotkey"),
        ("trust_{}.miner_trust", "miner_hotkey"),
        ("trust_{}.miner_rejections", "miner_hotkey, reason"),
    ] {
        let live = checksum(&client, &table.replace("{}", "v1"), order).await?;
        let rebuilt = checksum(&client, &table.replace("{}", "v1_replay"), order).await?;
        assert_eq!(live, rebuilt, "{table}");
    }
    rebuild.stop().await?;
    v2.stop().await?;
    projector.stop().await?;
    Ok(())
}
