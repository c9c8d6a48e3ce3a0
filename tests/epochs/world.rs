//! Several epochs of the epoch world end to end ([`resi_datagen::epoch_world`]): honest, lazy,
//! late, duplicating, colluding and fabricating miners work five consecutive epochs, two
//! validators score them fairly and one lies. Honest miners lead every zipcode; the fabricator
//! is zeroed every epoch, flagged from the second, banned at the fifth and refused afterwards;
//! the liar moves nobody's trust; the late miner loses timeliness; weights sum to 1.
//!
//! The epochs are tomorrow's, so that uploads made now are on time. The late miner's documents
//! come through a directory source whose files carry a modification time after the deadline:
//! the store's `LastModified` is what timeliness reads, and a directory is the store whose
//! time a test can set.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use chrono::{DateTime, Duration, Utc};
use resi_coordinator::Coordinator;
use resi_coordinator::coordinator::reveal;
use resi_datagen::epoch_world::{self, AssignedZipcode, Behaviour, EpochMiner, standard_miners};
use resi_events::{EventPayload, EventType, UploadRejectReason, Verdict};
use resi_projector::engine::ProjectionKind;
use resi_tests::api::spawn_api;
use resi_tests::harness::{count, payloads};
use serde_json::Value;

use crate::{
    SCORING_TARGETS, assert_counters_recount, checksum, config as coordinator_config, places,
    publish_metagraph, put_results, stack, validators_bridge,
};

const VALIDATORS: [&str; 3] = [
    "5VerifierAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "5VerifierBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "5VerifierLiarxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];
const EPOCHS: usize = 5;

fn of(miners: &[EpochMiner], behaviour: Behaviour) -> Vec<String> {
    miners
        .iter()
        .filter(|miner| miner.behaviour == behaviour)
        .map(|miner| miner.hotkey.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_epochs_of_the_epoch_world_rank_flag_ban_and_validate() -> anyhow::Result<()> {
    // Arrange: the coordinator, the metagraph (miners and three staked validators), every
    // service running
    let harness = stack().await?;
    let mut config = coordinator_config(&harness);
    config.coordinator.selection.target_listings = 120;
    config.coordinator.selection.min_zipcode_listings = 20;
    config.coordinator.selection.default_expected_listings = 24;
    config.coordinator.validation_delay_minutes = 60;
    let mut coordinator = Coordinator::build(&config).await?;
    let miners = standard_miners();
    let honest: BTreeSet<String> = of(&miners, Behaviour::Honest).into_iter().collect();
    let fabricator = of(&miners, Behaviour::Fabricating).remove(0);
    let late = of(&miners, Behaviour::Late).remove(0);
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let places = places(&client).await?;
    let neurons: Vec<(String, bool, u64)> = VALIDATORS
        .iter()
        .map(|hotkey| ((*hotkey).to_owned(), true, 5_000_000_000_000))
        .chain(miners.iter().map(|miner| (miner.hotkey.clone(), false, 1)))
        .collect();
    publish_metagraph(&harness, &neurons).await?;
    let targets = SCORING_TARGETS;
    let projector = harness.spawn_projector(&targets).await?;
    harness.projected(ProjectionKind::Network, "v1").await?;
    let late_root = tempfile::tempdir()?;
    let miners_bridge = harness
        .spawn_bridge(&harness.bridge_config("s3", None))
        .await?;
    let late_bridge = harness
        .spawn_bridge(
            &harness.bridge_config(&format!("file://{}", late_root.path().display()), None),
        )
        .await?;
    let (validators_bucket, validators_bridge) = validators_bridge(&harness).await?;
    let parser = harness.spawn_parser(&harness.parser_config(0, 1)).await?;
    let api = spawn_api(&resi_tests::api::config(&harness.postgres, &harness.kafka)).await?;

    // Act and assert, epoch by epoch
    let tomorrow = (Utc::now() + Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let mut documents = 0;
    let mut banned_at = None;
    for index in 0..EPOCHS {
        let start: DateTime<Utc> = tomorrow + Duration::hours(4 * index as i64);
        coordinator.tick(start + Duration::minutes(1)).await?;
        let opened = coordinator
            .ledger()
            .opened
            .values()
            .find(|opened| opened.start.to_datetime() == Some(start))
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no epoch opened at {start}"))?;
        let epoch_id = opened.epoch_id.clone();
        let honeypots = reveal(&config.coordinator.nonce_secret, &opened)?.honeypots;
        let assigned = |zipcode: &str, expected| AssignedZipcode {
            zipcode: zipcode.to_owned(),
            expected,
            place: places.get(zipcode).copied().unwrap_or_default(),
        };
        let regular: Vec<AssignedZipcode> = opened
            .zipcodes
            .iter()
            .filter(|zipcode| !honeypots.contains(&zipcode.zipcode))
            .map(|zipcode| assigned(&zipcode.zipcode, zipcode.expected_listings))
            .collect();
        let honeypot = assigned(&honeypots[0], 0);
        let uploads = epoch_world::uploads(
            &epoch_id,
            &regular,
            &honeypot,
            &miners,
            Utc::now().naive_utc() - Duration::minutes(5),
        )?;
        let deadline = opened.submission_deadline.to_datetime().unwrap_or_default();
        for upload in &uploads {
            if upload.late {
                // the store says it arrived an hour after the deadline
                let path = late_root.path().join(&upload.key);
                std::fs::create_dir_all(path.parent().unwrap_or(late_root.path()))?;
                std::fs::write(&path, &upload.body)?;
                let after = SystemTime::from(deadline + Duration::hours(1));
                std::fs::File::options()
                    .write(true)
                    .open(&path)?
                    .set_modified(after)?;
            } else {
                harness.put(&upload.key, upload.body.clone()).await?;
            }
        }
        documents += uploads.len();
        harness
            .wait_for(
                &harness.topics.uploads(),
                "the epoch's documents parsed",
                |records| count(records, EventType::UploadParsed) >= documents,
            )
            .await?;
        for (projection, version) in &targets[..5] {
            harness.projected(*projection, version).await?;
        }
        let closed = opened.end.to_datetime().unwrap_or_default() + Duration::minutes(15);
        let evidenced = coordinator.tick(closed + Duration::minutes(6)).await?;
        assert!(evidenced.evidenced.contains(&epoch_id), "{evidenced:?}");
        if evidenced.banned.contains(&fabricator) {
            banned_at = Some(index + 1);
        }
        for (position, validator) in VALIDATORS.iter().enumerate() {
            let body = epoch_world::validator_results(&epoch_id, validator, &miners, position == 2);
            put_results(
                &harness,
                &validators_bucket,
                validator,
                &epoch_id,
                "results.json",
                body,
            )
            .await?;
        }
        harness
            .wait_for(
                &harness.topics.epochs(),
                "the validators' results admitted",
                |records| count(records, EventType::ValidatorResultsPublished) == 3 * (index + 1),
            )
            .await?;
        let decided = coordinator.tick(closed + Duration::minutes(61)).await?;
        assert!(decided.validated.contains(&epoch_id), "{decided:?}");
        harness.projected(ProjectionKind::Scores, "v1").await?;

        // honest miners lead every zipcode; the fabricator has nothing; the late miner lost
        // its timeliness
        let rankings = api.get(&format!("/api/epochs/{epoch_id}/rankings")).await?;
        assert_eq!(rankings.status, 200, "{}", rankings.text);
        let first: Vec<String> = rankings.body["rankings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|row| row["rank"] == 1)
            .map(|row| row["miner_hotkey"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(first.len(), regular.len(), "{}", rankings.text);
        assert!(
            first.iter().all(|miner| honest.contains(miner)),
            "epoch {index}: {first:?}"
        );
        let scores = api.get(&format!("/api/epochs/{epoch_id}/scores")).await?;
        let by_miner: BTreeMap<String, Value> = scores.body["miners"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                (
                    row["miner_hotkey"].as_str().unwrap_or_default().to_owned(),
                    row.clone(),
                )
            })
            .collect();
        assert_eq!(by_miner[&fabricator]["fabricated"], true, "{}", scores.text);
        assert_eq!(by_miner[&fabricator]["total"], 0.0);
        assert_eq!(by_miner[&late]["timeliness"], 0.0, "{}", scores.text);
        for miner in &honest {
            assert_eq!(by_miner[miner]["timeliness"], 1.0, "{}", scores.text);
        }
        let weights = api.get(&format!("/api/epochs/{epoch_id}/weights")).await?;
        let sum: f64 = weights.body["weights"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .sum();
        assert!((sum - 1.0).abs() < 1e-9, "{}", weights.text);
        let history = api.get(&format!("/api/miners/{fabricator}/epochs")).await?;
        assert_eq!(
            history.body["fabricated_epochs"],
            index + 1,
            "{}",
            history.text
        );
        assert_eq!(
            history.body["flagged"],
            index >= 1,
            "flagged from the second: {}",
            history.text
        );
    }
    assert_eq!(
        banned_at,
        Some(EPOCHS),
        "banned at the fifth fabricating epoch"
    );

    // the verdicts: the liar's third of the stake changed none
    harness.projected(ProjectionKind::Trust, "v1").await?;
    let verdicts: Vec<(String, Verdict)> =
        payloads(&harness.read_all(&harness.topics.uploads()).await?)
            .filter_map(|payload| match payload {
                EventPayload::MinerValidated(validated) => {
                    Some((validated.miner_hotkey.clone(), validated.verdict))
                }
                _ => None,
            })
            .collect();
    assert_eq!(verdicts.len(), EPOCHS * miners.len());
    for (miner, verdict) in &verdicts {
        let expected = match miners
            .iter()
            .find(|m| &m.hotkey == miner)
            .map(|m| m.behaviour)
        {
            Some(Behaviour::Fabricating) => Verdict::Fake,
            Some(Behaviour::Colluding | Behaviour::Lazy) => Verdict::Undecided,
            _ => Verdict::Confirmed,
        };
        assert_eq!(*verdict, expected, "{miner}");
    }
    let validated: BTreeMap<String, (f64, i64)> = client
        .query(
            "SELECT miner_hotkey, trust_score, validated_submissions FROM trust_v1.miner_trust",
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect();
    for miner in &honest {
        assert_eq!(validated[miner].1, EPOCHS as i64, "{validated:?}");
        assert!(validated[miner].0 > 0.8, "{validated:?}");
    }
    assert_eq!(validated[&fabricator], (0.0, 0), "{validated:?}");

    // banned: the fabricator's next document is refused whole
    let next = tomorrow + Duration::hours(4 * EPOCHS as i64);
    coordinator.tick(next + Duration::minutes(1)).await?;
    let opened = coordinator
        .ledger()
        .opened
        .values()
        .find(|opened| opened.start.to_datetime() == Some(next))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no epoch opened at {next}"))?;
    let zipcode = &opened.zipcodes[0].zipcode;
    let refused_key = format!(
        "data/hotkey={fabricator}/epoch={}/zipcode={zipcode}/data_20251021_091500.json",
        opened.epoch_id
    );
    let document = resi_datagen::json_files::document(
        &opened.epoch_id,
        zipcode,
        &fabricator,
        Utc::now().naive_utc(),
        Vec::new(),
    );
    harness
        .put(&refused_key, resi_datagen::json_files::bytes(&document)?)
        .await?;
    let refused = harness
        .wait_for(&harness.topics.uploads(), "the banned miner's document refused", |records| {
            payloads(records).any(|payload| matches!(payload, EventPayload::UploadRejected(rejected) if rejected.key == refused_key))
        })
        .await?;
    let reason = payloads(&refused).find_map(|payload| match payload {
        EventPayload::UploadRejected(rejected) if rejected.key == refused_key => {
            Some(rejected.reason)
        }
        _ => None,
    });
    assert_eq!(reason, Some(UploadRejectReason::MinerBanned));

    // the evidence counters the folds kept equal a recount of their rows, and a rebuild from
    // offset 0 (which stages, then applies) keeps the same
    assert_counters_recount(&client, "listing_v1", "consensus_v1").await?;
    let rebuild = harness
        .spawn_projector(&[
            (ProjectionKind::Listing, "v1_replay"),
            (ProjectionKind::Consensus, "v1_replay"),
        ])
        .await?;
    harness
        .projected(ProjectionKind::Listing, "v1_replay")
        .await?;
    harness
        .projected(ProjectionKind::Consensus, "v1_replay")
        .await?;
    rebuild.stop().await?;
    assert_counters_recount(&client, "listing_v1_replay", "consensus_v1_replay").await?;
    for (table, order) in [
        (
            "listing_{}.epoch_rows",
            "epoch_id, miner_hotkey, zipcode, distance_km",
        ),
        (
            "consensus_{}.epoch_agreement",
            "epoch_id, miner_hotkey, zipcode",
        ),
    ] {
        let live = checksum(&client, &table.replace("{}", "v1"), order).await?;
        let rebuilt = checksum(&client, &table.replace("{}", "v1_replay"), order).await?;
        assert_eq!(live, rebuilt, "{table}");
    }

    api.stop().await?;
    parser.stop().await?;
    validators_bridge.stop().await?;
    late_bridge.stop().await?;
    miners_bridge.stop().await?;
    projector.stop().await?;
    Ok(())
}
