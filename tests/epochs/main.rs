//! The coordinator and the epochs projection on the real stack (Postgres, the broker): epochs
//! open and close on an injected clock, their nonce and honeypot reveal verify with Python's
//! standard library as a validator's would, one epoch per id whatever restarts or second
//! instances do, and a replay of the topic rebuilds equal tables. Then the gateway that serves
//! them ([`gateway`]).

mod gateway;
mod scores;
mod validation;
mod world;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone as _, Utc};
use resi_coordinator::reference::{self, ZipcodeType};
use resi_coordinator::secrets::start_text;
use resi_coordinator::{Coordinator, CoordinatorServiceConfig, TickReport};
use resi_events::{EpochClosed, EpochOpened, EventPayload};
use resi_projector::engine::ProjectionKind;
use resi_tests::harness::{Harness, Record, payloads};
use resi_tests::run_python;

const SECRET: &str = "the coordinator's test secret";

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, day, hour, minute, 0)
        .single()
        .expect("a valid instant")
}

async fn stack() -> anyhow::Result<Harness> {
    let harness = Harness::new().await?;
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    let mut client = resi_runtime::postgres::connection(&pool).await?;
    let rows = reference::parse(reference::EMBEDDED)?;
    let written = reference::import(&mut client, &rows).await?;
    assert_eq!(
        written,
        rows.len() as u64,
        "a first import writes every zipcode"
    );
    assert_eq!(
        reference::import(&mut client, &rows).await?,
        0,
        "importing again changes nothing"
    );
    Ok(harness)
}

fn config(harness: &Harness) -> CoordinatorServiceConfig {
    let mut config = CoordinatorServiceConfig {
        postgres: harness.postgres.clone(),
        kafka: harness.kafka.clone(),
        ..CoordinatorServiceConfig::default()
    };
    config.coordinator.nonce_secret = resi_coordinator::secrets::Secret::new(SECRET);
    // the lifecycle tests look at openings and closings; the validation test sets its window
    config.coordinator.validation_delay_minutes = 100 * 365 * 24 * 60;
    config
}

/// A small epoch opened now by the coordinator, its honeypots revealed to the test.
struct SmallEpoch {
    coordinator: Coordinator,
    epoch_id: String,
    opened: EpochOpened,
    honeypots: Vec<String>,
    /// The other zipcodes with their expected listings.
    regular: Vec<(String, u32)>,
}

/// Opens an epoch of about `listings` listings in zipcodes expecting `per_zipcode` each (small
/// enough for every miner to stay within a new miner's daily quota), with `configure` applied.
async fn small_epoch(
    harness: &Harness,
    listings: u32,
    per_zipcode: u32,
    configure: impl FnOnce(&mut CoordinatorServiceConfig),
) -> anyhow::Result<SmallEpoch> {
    let mut config = config(harness);
    config.coordinator.selection.target_listings = listings;
    config.coordinator.selection.min_zipcode_listings = per_zipcode * 3 / 4;
    config.coordinator.selection.default_expected_listings = per_zipcode;
    configure(&mut config);
    let mut coordinator = Coordinator::build(&config).await?;
    let report = coordinator.tick(Utc::now()).await?;
    let epoch_id = report.opened.first().cloned().context("no epoch opened")?;
    let opened = coordinator.ledger().opened[&epoch_id].clone();
    let honeypots =
        resi_coordinator::coordinator::reveal(&config.coordinator.nonce_secret, &opened)?.honeypots;
    let regular = opened
        .zipcodes
        .iter()
        .filter(|zipcode| !honeypots.contains(&zipcode.zipcode))
        .map(|zipcode| (zipcode.zipcode.clone(), zipcode.expected_listings))
        .collect();
    Ok(SmallEpoch {
        coordinator,
        epoch_id,
        opened,
        honeypots,
        regular,
    })
}

/// Every projection an epoch's scoring reads, at v1.
const SCORING_TARGETS: [(ProjectionKind, &str); 6] = [
    (ProjectionKind::Listing, "v1"),
    (ProjectionKind::Trust, "v1"),
    (ProjectionKind::Consensus, "v1"),
    (ProjectionKind::Epochs, "v1"),
    (ProjectionKind::Network, "v1"),
    (ProjectionKind::Scores, "v1"),
];

/// Every zipcode's reference point (0, 0 where it has none).
async fn places(client: &tokio_postgres::Client) -> anyhow::Result<BTreeMap<String, (f64, f64)>> {
    Ok(client
        .query(
            "SELECT zipcode, coalesce(latitude, 0), coalesce(longitude, 0) FROM zipcodes",
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect())
}

/// Puts a metagraph snapshot of `neurons` (hotkey, validator permit, stake in rao; uids in
/// order) on the network topic, as the gateway records one.
async fn publish_metagraph(
    harness: &Harness,
    neurons: &[(String, bool, u64)],
) -> anyhow::Result<()> {
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    let topic = harness.topics.network();
    resi_runtime::kafka::keyed_partition_count(&harness.kafka, &pool, &topic).await?;
    let neurons = neurons
        .iter()
        .zip(0_u32..)
        .map(
            |((hotkey, validator_permit, stake_rao), uid)| resi_events::ObservedNeuron {
                uid,
                hotkey: hotkey.clone(),
                coldkey: format!("cold-{hotkey}"),
                stake_rao: *stake_rao,
                validator_permit: *validator_permit,
            },
        )
        .collect();
    let now = resi_events::Timestamp::now();
    let metagraph = resi_events::Event::new(
        EventPayload::MetagraphObserved(Box::new(resi_events::MetagraphObserved {
            netuid: 46,
            block: 4_000_000,
            neurons,
        })),
        now,
        now,
    );
    let producer = resi_runtime::kafka::producer(&harness.kafka)?;
    resi_runtime::kafka::publish(&producer, &topic, &metagraph).await
}

/// A validators' results bucket beside the miners' and a bridge listing it, as production's
/// `resi-validator-bridge` does: the bucket's name and the bridge.
async fn validators_bridge(
    harness: &Harness,
) -> anyhow::Result<(String, resi_tests::harness::Running)> {
    let bucket = format!("{}-validators", harness.s3.bucket);
    harness
        .s3_client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await?;
    let mut config = harness.bridge_config("s3", None);
    config.s3.bucket.clone_from(&bucket);
    config.s3.prefix = "validators/".to_owned();
    config.bridge.layout = resi_bridge::BucketLayout::Validators;
    Ok((bucket, harness.spawn_bridge(&config).await?))
}

/// Uploads a validator's results document for `epoch_id`.
async fn put_results(
    harness: &Harness,
    bucket: &str,
    validator: &str,
    epoch_id: &str,
    name: &str,
    body: Vec<u8>,
) -> anyhow::Result<()> {
    harness
        .s3_client
        .put_object()
        .bucket(bucket)
        .key(format!("validators/{validator}/epoch={epoch_id}/{name}"))
        .body(body.into())
        .send()
        .await?;
    Ok(())
}

fn report(opened: &[&str], closed: &[&str]) -> TickReport {
    TickReport {
        leader: true,
        opened: opened.iter().map(|id| (*id).to_owned()).collect(),
        closed: closed.iter().map(|id| (*id).to_owned()).collect(),
        evidenced: Vec::new(),
        banned: Vec::new(),
        validated: Vec::new(),
    }
}

fn openings(records: &[Record]) -> Vec<&EpochOpened> {
    payloads(records)
        .filter_map(|payload| match payload {
            EventPayload::EpochOpened(opened) => Some(opened.as_ref()),
            _ => None,
        })
        .collect()
}

fn closings(records: &[Record]) -> Vec<&EpochClosed> {
    payloads(records)
        .filter_map(|payload| match payload {
            EventPayload::EpochClosed(closed) => Some(closed),
            _ => None,
        })
        .collect()
}

/// Asserts that the epoch counters the listing and consensus folds kept in the schemas
/// `listing` and `consensus` equal a recount of the rows they hold, and that there are some.
async fn assert_counters_recount(
    client: &tokio_postgres::Client,
    listing: &str,
    consensus: &str,
) -> anyhow::Result<()> {
    let tables = [
        (
            format!("{listing}.epoch_rows"),
            resi_projector::listing::recount_epoch_rows(listing),
            "epoch_id, miner_hotkey, zipcode, distance_km, attestations, last_submitted_at",
            "true",
        ),
        (
            format!("{consensus}.epoch_agreement"),
            resi_projector::consensus::recount_epoch_agreement(consensus),
            "epoch_id, miner_hotkey, zipcode, listings, complete_listings, checked_listings, \
             agreed_fields, reported_fields",
            // a report moved to another epoch leaves its old row at zero
            "(listings, complete_listings, checked_listings, agreed_fields, reported_fields) \
             <> (0, 0, 0, 0, 0)",
        ),
    ];
    for (table, recount, columns, kept) in tables {
        let row = client
            .query_one(
                &format!(
                    "WITH kept AS (SELECT {columns} FROM {table} WHERE {kept}),
                          recount AS ({recount}),
                          differing AS ((TABLE kept EXCEPT TABLE recount)
                                        UNION ALL (TABLE recount EXCEPT TABLE kept))
                     SELECT (SELECT count(*) FROM recount),
                            (SELECT count(*) FROM differing),
                            (SELECT string_agg(d::text, E'\n') FROM (SELECT * FROM differing LIMIT 6) d)"
                ),
                &[],
            )
            .await
            .with_context(|| format!("recounting {table}"))?;
        let (rows, differing): (i64, i64) = (row.get(0), row.get(1));
        assert!(rows > 0, "{table}: nothing to count");
        assert_eq!(
            differing,
            0,
            "{table} differs from a recount of {rows} rows, e.g.\n{}",
            row.get::<_, Option<String>>(2).unwrap_or_default()
        );
    }
    Ok(())
}

/// A checksum of a table of a schema, row by row in key order.
async fn checksum(
    client: &tokio_postgres::Client,
    table: &str,
    order: &str,
) -> anyhow::Result<String> {
    Ok(client
        .query_one(
            &format!(
                "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY {order})), '') FROM {table} t"
            ),
            &[],
        )
        .await
        .with_context(|| format!("checksum of {table}"))?
        .get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epochs_open_and_close_on_the_clock_and_verify_as_a_validator_would() -> anyhow::Result<()>
{
    let harness = stack().await?;
    let mut coordinator = Coordinator::build(&config(&harness)).await?;

    // first start mid-epoch: the current epoch opens at once, late; the next waits its turn
    assert_eq!(
        coordinator.tick(at(1, 15, 44)).await?,
        report(&["2025-10-01T12-00-00"], &[])
    );
    assert_eq!(
        coordinator.tick(at(1, 15, 44)).await?,
        report(&[], &[]),
        "nothing twice"
    );
    assert_eq!(
        coordinator.tick(at(1, 15, 45)).await?,
        report(&["2025-10-01T16-00-00"], &[])
    );
    assert_eq!(
        coordinator.tick(at(1, 16, 14)).await?,
        report(&[], &[]),
        "grace period"
    );
    assert_eq!(
        coordinator.tick(at(1, 16, 15)).await?,
        report(&[], &["2025-10-01T12-00-00"])
    );
    assert_eq!(
        coordinator.tick(at(1, 19, 45)).await?,
        report(&["2025-10-01T20-00-00"], &[])
    );
    assert_eq!(
        coordinator.tick(at(1, 20, 15)).await?,
        report(&[], &["2025-10-01T16-00-00"])
    );
    // a boundary missed while down: the epoch that should be open is, the ones missed are not
    assert_eq!(
        coordinator.tick(at(2, 9, 0)).await?,
        report(&["2025-10-02T08-00-00"], &["2025-10-01T20-00-00"])
    );

    let records = harness.read_all(&harness.topics.epochs()).await?;
    let opened = openings(&records);
    let closed = closings(&records);
    let ids: Vec<&str> = opened
        .iter()
        .map(|opened| opened.epoch_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "2025-10-01T12-00-00",
            "2025-10-01T16-00-00",
            "2025-10-01T20-00-00",
            "2025-10-02T08-00-00"
        ]
    );
    assert_eq!(closed.len(), 3);
    let types: BTreeMap<String, ZipcodeType> = reference::parse(reference::EMBEDDED)?
        .into_iter()
        .map(|zipcode| (zipcode.zipcode, zipcode.kind))
        .collect();
    let mut assigned: BTreeMap<&str, &str> = BTreeMap::new();
    for opening in &opened {
        let total = opening.total_expected_listings();
        assert!(
            (9_000..=11_000).contains(&total),
            "{} expects {total}",
            opening.epoch_id
        );
        assert_eq!(opening.submission_deadline, opening.end);
        assert!(
            opening
                .zipcodes
                .windows(2)
                .all(|pair| pair[0].zipcode < pair[1].zipcode)
        );
        for zipcode in &opening.zipcodes {
            assert!(
                (200..=3_000).contains(&zipcode.expected_listings),
                "{zipcode:?}"
            );
            // consecutive epochs share no zipcode: the cooldown is 24 hours
            if let Some(earlier) = assigned.insert(&zipcode.zipcode, &opening.epoch_id) {
                panic!(
                    "{} assigned by {earlier} and again by {}",
                    zipcode.zipcode, opening.epoch_id
                );
            }
        }
    }
    for closing in &closed {
        let opening = opened
            .iter()
            .find(|opening| opening.epoch_id == closing.epoch_id)
            .context("the closed epoch was opened")?;
        assert!(closing.opens(opening));
        for honeypot in &closing.honeypots {
            assert!(
                opening
                    .zipcodes
                    .iter()
                    .any(|zipcode| &zipcode.zipcode == honeypot)
            );
            assert!(
                types[honeypot].has_no_homes(),
                "{honeypot} is {:?}",
                types[honeypot]
            );
        }
        // as a validator: Python's hmac and hashlib, nothing of ours
        let file = tempfile::NamedTempFile::new()?;
        std::fs::write(
            file.path(),
            serde_json::to_vec(&serde_json::json!({
                "secret": SECRET,
                "start_text": start_text(opening.start.to_datetime().context("start")?),
                "opened": opening,
                "closed": closing,
            }))?,
        )?;
        let verdict = run_python("verify_epoch.py", &[&file.path().to_string_lossy()])?;
        assert_eq!(
            verdict,
            serde_json::json!({"nonce": true, "selection_seed": true, "commitment": true}),
            "{}",
            opening.epoch_id
        );
    }

    // the projection, then a second build of it from offset 0: equal tables
    let projector = harness
        .spawn_projector(&[(ProjectionKind::Epochs, "v1")])
        .await?;
    harness.projected(ProjectionKind::Epochs, "v1").await?;
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let rows = client
        .query(
            "SELECT epoch_id, nonce, zipcode_count, total_expected_listings, commitment_verified
               FROM epochs_v1.epochs ORDER BY epoch_id",
            &[],
        )
        .await?;
    assert_eq!(rows.len(), 4);
    for (row, opening) in rows.iter().zip(&opened) {
        assert_eq!(row.get::<_, String>(0), opening.epoch_id);
        assert_eq!(row.get::<_, String>(1), opening.nonce);
        assert_eq!(row.get::<_, i32>(2) as usize, opening.zipcodes.len());
        assert_eq!(
            row.get::<_, i64>(3) as u64,
            opening.total_expected_listings()
        );
        let closed = closed
            .iter()
            .any(|closing| closing.epoch_id == opening.epoch_id);
        assert_eq!(
            row.get::<_, Option<bool>>(4),
            closed.then_some(true),
            "{}",
            opening.epoch_id
        );
    }
    // honeypots are marked once revealed, and only then
    let marks = client
        .query(
            "SELECT a.epoch_id, count(*) FILTER (WHERE a.is_honeypot),
                    count(*) FILTER (WHERE a.is_honeypot IS NULL),
                    count(*) FILTER (WHERE a.is_honeypot AND z.zipcode_type NOT IN ('PO BOX', 'UNIQUE'))
               FROM epochs_v1.epoch_assignments a JOIN zipcodes z USING (zipcode)
              GROUP BY a.epoch_id ORDER BY a.epoch_id",
            &[],
        )
        .await?;
    for row in &marks {
        let epoch: String = row.get(0);
        let revealed = closed.iter().find(|closing| closing.epoch_id == epoch);
        let honeypots = revealed.map_or(0, |closing| closing.honeypots.len() as i64);
        assert_eq!(row.get::<_, i64>(1), honeypots, "{epoch}");
        assert_eq!(row.get::<_, i64>(2) > 0, revealed.is_none(), "{epoch}");
        assert_eq!(row.get::<_, i64>(3), 0, "{epoch}");
    }
    let conflicts: i64 = client
        .query_one("SELECT count(*) FROM epochs_v1.epoch_conflicts", &[])
        .await?
        .get(0);
    assert_eq!(conflicts, 0);

    let rebuild = harness
        .spawn_projector(&[(ProjectionKind::Epochs, "v2")])
        .await?;
    harness.projected(ProjectionKind::Epochs, "v2").await?;
    for (table, order) in [
        ("epochs", "epoch_id"),
        ("epoch_assignments", "epoch_id, zipcode"),
        ("epoch_conflicts", "epoch_id, event_id"),
    ] {
        let live = checksum(&client, &format!("epochs_v1.{table}"), order).await?;
        let rebuilt = checksum(&client, &format!("epochs_v2.{table}"), order).await?;
        assert_eq!(live, rebuilt, "{table}");
    }
    rebuild.stop().await?;
    projector.stop().await?;
    Ok(())
}

/// Ticks `coordinator` until it leads (its predecessor's session has ended), within 30 s.
async fn lead(coordinator: &mut Coordinator, now: DateTime<Utc>) -> anyhow::Result<TickReport> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let report = coordinator.tick(now).await?;
        if report.leader {
            return Ok(report);
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "no lead within 30 s");
        tokio::time::sleep(resi_tests::POLL_INTERVAL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_and_second_instances_never_open_an_epoch_twice() -> anyhow::Result<()> {
    let harness = stack().await?;
    let config = config(&harness);
    let mut first = Coordinator::build(&config).await?;
    let mut second = Coordinator::build(&config).await?;

    // both tick at the same instant: one leads and opens, the other stands by
    let now = at(1, 15, 50);
    let (a, b) = tokio::join!(first.tick(now), second.tick(now));
    let (a, b) = (a?, b?);
    assert!(a.leader != b.leader, "exactly one leads: {a:?} {b:?}");
    let (mut leader, mut standby) = if a.leader {
        (first, second)
    } else {
        (second, first)
    };
    let opened: usize = [&a, &b].iter().map(|report| report.opened.len()).sum();
    assert_eq!(opened, 2, "the current and the pending epoch, once");
    assert_eq!(leader.tick(now).await?, report(&[], &[]));

    // the leader dies: the standby takes over and finds both epochs open on the log
    drop(leader);
    let taken = lead(&mut standby, now).await?;
    assert_eq!(taken, report(&[], &[]));

    // a restarted instance stands by while the new leader lives, and then leads without
    // opening anything twice; the next boundary opens the next epoch once
    let mut restarted = Coordinator::build(&config).await?;
    assert!(!restarted.tick(now).await?.leader);
    drop(standby);
    let taken = lead(&mut restarted, now).await?;
    assert_eq!(taken, report(&[], &[]));
    assert_eq!(
        restarted.tick(at(1, 19, 45)).await?,
        report(&["2025-10-01T20-00-00"], &["2025-10-01T12-00-00"])
    );
    leader = restarted;
    assert_eq!(leader.tick(at(1, 19, 46)).await?, report(&[], &[]));

    let records = harness.read_all(&harness.topics.epochs()).await?;
    let mut per_epoch: BTreeMap<&str, usize> = BTreeMap::new();
    for opening in openings(&records) {
        *per_epoch.entry(&opening.epoch_id).or_default() += 1;
    }
    assert_eq!(
        per_epoch,
        BTreeMap::from([
            ("2025-10-01T12-00-00", 1),
            ("2025-10-01T16-00-00", 1),
            ("2025-10-01T20-00-00", 1)
        ])
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_refuses_to_start_without_a_secret_or_reference_data() -> anyhow::Result<()>
{
    let harness = Harness::new().await?;
    let mut config = config(&harness);
    config.coordinator.nonce_secret = resi_coordinator::secrets::Secret::default();
    let error = Coordinator::build(&config).await.expect_err("no secret");
    assert!(format!("{error:#}").contains("nonce_secret"), "{error:#}");

    let mut coordinator = Coordinator::build(&self::config(&harness)).await?;
    let error = coordinator
        .tick(at(1, 15, 50))
        .await
        .expect_err("no reference data");
    assert!(
        format!("{error:#}").contains("resi zipcodes import"),
        "{error:#}"
    );
    let records = harness.read_all(&harness.topics.epochs()).await?;
    assert!(openings(&records).is_empty());
    Ok(())
}
