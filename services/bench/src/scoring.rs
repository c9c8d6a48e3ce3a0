//! `resi-bench scoring`: the time from an epoch's closing to its scores, at the seed's scale
//! (500 miners, 10,000 listings: every miner reports every listing, 5 M attestations), beside
//! DuckDB computing the same scores from the same rows in the same run.
//!
//! The coordinator opens a real epoch (its zipcodes, expected counts and honeypots); the
//! projection tables the evidence is read from — the listing build's attestations, the
//! consensus build's reports, the trust build's epoch uploads — are filled in Postgres with
//! `generate_series` (the pipeline's own speed is `resi-bench consensus` and `replay`), with
//! the miners' kinds mixed in: incomplete rows, far coordinates, disagreeing fields, late and
//! lazy miners, honeypot reports. Then the coordinator's tick past the epoch's evidence delay is
//! timed up to the scores projection's rows: gathering the evidence (SQL over the 5 M rows),
//! publishing it, folding and scoring it. DuckDB runs the same evidence query and the scoring
//! formula over the same rows exported from Postgres, loaded into its own tables first (the
//! load is reported apart); the per-miner totals of both must agree.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use futures::StreamExt as _;
use resi_projector::engine::ProjectionKind;

/// The synthetic rows, from the epoch's assignment (`$1` zipcodes, `$2` expected counts, `$3`
/// honeypots, `$4` miners, `$5` epoch id, `$6` deadline).
const FILL: &str = r"
CREATE TEMP TABLE bench_listings AS
  SELECT a.zipcode, a.position, coalesce(z.latitude, 0) AS lat, coalesce(z.longitude, 0) AS lon,
         'L' || a.zipcode || '-' || i AS listing_id, i
    FROM unnest($1::text[], $2::int4[]) WITH ORDINALITY AS a(zipcode, expected, position)
    LEFT JOIN zipcodes z ON z.zipcode = a.zipcode
   CROSS JOIN LATERAL generate_series(0, a.expected - 1) AS i;
INSERT INTO bench_listings
  SELECT h.zipcode, 0, coalesce(z.latitude, 0), coalesce(z.longitude, 0), 'H' || h.zipcode || '-' || i, i
    FROM unnest($3::text[]) AS h(zipcode)
    LEFT JOIN zipcodes z ON z.zipcode = h.zipcode
   CROSS JOIN generate_series(0, 4) AS i;
CREATE TEMP TABLE bench_miners AS
  SELECT m, 'bench-miner-' || lpad(m::text, 4, '0') AS hotkey,
         $6::timestamptz + CASE m % 20 WHEN 1 THEN interval '5 minutes'
                                       WHEN 2 THEN interval '1 hour'
                                       ELSE interval '-30 minutes' END AS submitted_at
    FROM generate_series(0, $4 - 1) AS m;
INSERT INTO listing_v1.miner_attestations
    (attestation_id, listing_id, miner_hotkey, upload_id, row_index, upload_key, job_id,
     scraped_at, submitted_at, content_hash, miner_trust, price_usd, address, bedrooms,
     bathrooms_tenths, living_area_sqft, zip_code, latitude_e7, longitude_e7, listing_date,
     epoch_id, epoch_zipcode)
  SELECT decode(md5(mi.hotkey || l.listing_id) || md5(l.listing_id || mi.hotkey), 'hex'),
         l.listing_id, mi.hotkey, decode(md5(mi.hotkey || l.zipcode), 'hex'), l.i,
         'bench/' || mi.hotkey || '/' || l.zipcode, $5, mi.submitted_at - interval '1 hour',
         mi.submitted_at, decode(md5(l.listing_id), 'hex'), 0.5,
         CASE WHEN mi.m % 10 = 3 AND l.i % 5 = 0 THEN NULL ELSE 200000 + l.i END,
         l.i || ' Elm Street', 3, 20, 1500, l.zipcode,
         (l.lat * 1e7)::int4 + CASE WHEN mi.m % 50 = 7 AND l.i % 100 = 0 THEN 10000000 ELSE 0 END,
         (l.lon * 1e7)::int4, date '2025-09-01', $5, l.zipcode
    FROM bench_listings l CROSS JOIN bench_miners mi
   WHERE (l.position > 0 AND NOT (mi.m % 25 = 5 AND l.position > 3))
      OR (l.position = 0 AND mi.m % 100 = 9);
INSERT INTO consensus_v1.consensus_listings
    (listing_id, consensus_score, unique_miners, last_reported_at, zip_code)
  SELECT listing_id, 0.9, count(*), max(submitted_at), min(zip_code)
    FROM listing_v1.miner_attestations GROUP BY listing_id;
INSERT INTO consensus_v1.consensus_reports
    (listing_id, miner_hotkey, attestation_id, reported_at, miner_trust, field_values,
     agreed_fields, reported_fields, epoch_id, epoch_zipcode, complete)
  SELECT a.listing_id, a.miner_hotkey, a.attestation_id, a.submitted_at, 0.5, '{}',
         CASE WHEN right(a.miner_hotkey, 1) = '4' THEN 8 ELSE 10 END, 10, a.epoch_id,
         coalesce(a.epoch_zipcode, a.zip_code, ''),
         a.address IS NOT NULL AND a.price_usd IS NOT NULL AND a.bedrooms IS NOT NULL
           AND a.bathrooms_tenths IS NOT NULL AND a.living_area_sqft IS NOT NULL
           AND a.listing_date IS NOT NULL AND a.zip_code IS NOT NULL
    FROM listing_v1.miner_attestations a;
INSERT INTO trust_v1.epoch_uploads
    (upload_id, miner_hotkey, epoch_id, zipcode, rows_read, rows_rejected, duplicate_rows,
     future_scrape_times, rows_outside_zipcode)
  SELECT upload_id, miner_hotkey, $5, epoch_zipcode,
         count(*) + CASE WHEN right(miner_hotkey, 1) = '1' THEN 20 ELSE 0 END,
         CASE WHEN right(miner_hotkey, 1) = '1' THEN 20 ELSE 0 END,
         CASE WHEN right(miner_hotkey, 1) = '2' THEN 10 ELSE 0 END, 0, 0
    FROM listing_v1.miner_attestations GROUP BY upload_id, miner_hotkey, epoch_zipcode;
ANALYZE listing_v1.miner_attestations;
ANALYZE consensus_v1.consensus_listings;
ANALYZE consensus_v1.consensus_reports;
ANALYZE trust_v1.epoch_uploads;
";

/// What is exported for DuckDB: (file, query).
const EXPORTS: [(&str, &str); 5] = [
    (
        "attestations",
        "SELECT miner_hotkey, epoch_zipcode, zip_code, listing_id,
                (extract(epoch FROM submitted_at) * 1000000)::int8 AS submitted_at,
                address, price_usd, bedrooms, bathrooms_tenths, living_area_sqft, listing_date,
                latitude_e7, longitude_e7
           FROM listing_v1.miner_attestations",
    ),
    (
        "zipcodes",
        "SELECT zipcode, latitude, longitude FROM zipcodes",
    ),
    (
        "consensus_listings",
        "SELECT listing_id, unique_miners FROM consensus_v1.consensus_listings",
    ),
    (
        "consensus_reports",
        "SELECT listing_id, miner_hotkey, agreed_fields, reported_fields FROM consensus_v1.consensus_reports",
    ),
    (
        "uploads",
        "SELECT miner_hotkey, zipcode, rows_read, rows_rejected, duplicate_rows, future_scrape_times
           FROM trust_v1.epoch_uploads",
    ),
];

async fn export(
    client: &deadpool_postgres::Client,
    query: &str,
    path: &Path,
) -> anyhow::Result<()> {
    let stream = client
        .copy_out(&format!(
            "COPY ({query}) TO STDOUT (FORMAT csv, HEADER true)"
        ))
        .await?;
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(path).await?);
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        tokio::io::AsyncWriteExt::write_all(&mut file, chunk.as_ref()).await?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    Ok(())
}

/// Scores an epoch of `miners` × about `listings`.
#[allow(clippy::too_many_lines)]
pub async fn bench_scoring(miners: u32, listings: u32) -> anyhow::Result<()> {
    let harness = resi_tests::harness::Harness::new().await?;
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    {
        let mut client = resi_runtime::postgres::connection(&pool).await?;
        let rows = resi_coordinator::reference::parse(resi_coordinator::reference::EMBEDDED)?;
        resi_coordinator::reference::import(&mut client, &rows).await?;
    }
    let mut config = resi_coordinator::CoordinatorServiceConfig {
        postgres: harness.postgres.clone(),
        kafka: harness.kafka.clone(),
        ..resi_coordinator::CoordinatorServiceConfig::default()
    };
    config.coordinator.nonce_secret = resi_coordinator::secrets::Secret::new("bench secret");
    config.coordinator.selection.target_listings = listings;
    config.coordinator.selection.default_expected_listings = 400;
    config.coordinator.selection.min_zipcode_listings = 100;
    let mut coordinator = resi_coordinator::Coordinator::build(&config).await?;
    let opened_at = Utc::now();
    coordinator.tick(opened_at).await?;
    let opened = coordinator
        .ledger()
        .opened
        .values()
        .next()
        .cloned()
        .context("no epoch opened")?;
    let honeypots =
        resi_coordinator::coordinator::reveal(&config.coordinator.nonce_secret, &opened)?.honeypots;
    let regular: Vec<(String, i32)> = opened
        .zipcodes
        .iter()
        .filter(|zip| !honeypots.contains(&zip.zipcode))
        .map(|zip| {
            (
                zip.zipcode.clone(),
                i32::try_from(zip.expected_listings).unwrap_or(0),
            )
        })
        .collect();
    // the builds the evidence is read from, created (and made live) by the projector
    let targets = [
        (ProjectionKind::Listing, "v1"),
        (ProjectionKind::Trust, "v1"),
        (ProjectionKind::Consensus, "v1"),
        (ProjectionKind::Epochs, "v1"),
        (ProjectionKind::Scores, "v1"),
    ];
    let projector = harness.spawn_projector(&targets).await?;
    harness.projected(ProjectionKind::Scores, "v1").await?;
    projector.stop().await?;

    let client = resi_runtime::postgres::connection(&pool).await?;
    client.batch_execute("SET statement_timeout = 0").await?;
    let deadline = opened
        .submission_deadline
        .to_datetime()
        .context("deadline")?;
    let zipcodes: Vec<&str> = regular.iter().map(|(zip, _)| zip.as_str()).collect();
    let expected: Vec<i32> = regular.iter().map(|(_, count)| *count).collect();
    let started = Instant::now();
    // one statement per step: parameters bind only in single statements
    let fill = FILL
        .replace("$1::text[]", &sql_array(&zipcodes))
        .replace(
            "$2::int4[]",
            &format!(
                "ARRAY[{}]::int4[]",
                expected
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        )
        .replace(
            "$3::text[]",
            &sql_array(&honeypots.iter().map(String::as_str).collect::<Vec<_>>()),
        )
        .replace("$4", &miners.to_string())
        .replace("$5", &format!("'{}'", opened.epoch_id))
        .replace(
            "$6::timestamptz",
            &format!("'{}'::timestamptz", deadline.to_rfc3339()),
        );
    client
        .batch_execute(&fill)
        .await
        .context("failed to fill the tables")?;
    // the counters the listing and consensus folds keep as they go (the epochs tests check that
    // theirs equal this recount; the folds' cost of keeping them is measured below)
    client
        .batch_execute(&format!(
            "INSERT INTO listing_v1.epoch_rows {};
             INSERT INTO consensus_v1.epoch_agreement {};",
            resi_projector::listing::recount_epoch_rows("listing_v1"),
            resi_projector::consensus::recount_epoch_agreement("consensus_v1"),
        ))
        .await
        .context("failed to count the filled rows")?;
    let attestations: i64 = client
        .query_one("SELECT count(*) FROM listing_v1.miner_attestations", &[])
        .await?
        .get(0);
    println!(
        "scoring: {miners} miners, {} regular zipcodes ({} listings expected), {} honeypots; {attestations} attestations filled in {:.0} s",
        regular.len(),
        expected.iter().sum::<i32>(),
        honeypots.len(),
        started.elapsed().as_secs_f64()
    );

    // the evidence query alone, then the whole path from the tick to the scores
    let evidence_started = Instant::now();
    let (evidence, _) = resi_coordinator::evidence::gather(
        &client,
        &opened,
        resi_events::EventId([0; 32]),
        config.coordinator.far_km,
    )
    .await?;
    let gather_seconds = evidence_started.elapsed().as_secs_f64();
    println!(
        "scoring: evidence of {} miners gathered in {gather_seconds:.2} s",
        evidence.len()
    );
    let projector = harness
        .spawn_projector(&[
            (ProjectionKind::Epochs, "v1"),
            (ProjectionKind::Scores, "v1"),
        ])
        .await?;
    let due = opened.end.to_datetime().context("end")?
        + chrono::Duration::minutes(i64::from(config.coordinator.schedule.grace_period_minutes))
        + chrono::Duration::minutes(i64::from(config.coordinator.evidence_delay_minutes) + 1);
    let tick_started = Instant::now();
    let report = coordinator.tick(due).await?;
    anyhow::ensure!(report.evidenced.contains(&opened.epoch_id), "{report:?}");
    let tick_seconds = tick_started.elapsed().as_secs_f64();
    loop {
        let scored: Option<bool> = client
            .query_opt(
                "SELECT complete_event_id IS NOT NULL FROM scores_v1.scored_epochs WHERE epoch_id = $1",
                &[&opened.epoch_id],
            )
            .await?
            .map(|row| row.get(0));
        if scored == Some(true) {
            break;
        }
        anyhow::ensure!(
            tick_started.elapsed() < Duration::from_secs(600),
            "not scored in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ours = tick_started.elapsed().as_secs_f64();
    projector.stop().await?;
    println!(
        "scoring: closing → scores {ours:.2} s (tick: evidence gathered and published {tick_seconds:.2} s; then folded and scored)"
    );

    // DuckDB over the same rows
    let scratch = tempfile::tempdir()?;
    let export_started = Instant::now();
    for (name, query) in EXPORTS {
        export(&client, query, &scratch.path().join(format!("{name}.csv"))).await?;
    }
    let assignment = scratch.path().join("assignment.csv");
    let mut lines = String::from("zipcode,expected,honeypot\n");
    for zip in &opened.zipcodes {
        let honeypot = honeypots.contains(&zip.zipcode);
        lines.push_str(&format!(
            "{},{},{honeypot}\n",
            zip.zipcode, zip.expected_listings
        ));
    }
    std::fs::write(&assignment, lines)?;
    println!(
        "scoring: exported for DuckDB in {:.0} s",
        export_started.elapsed().as_secs_f64()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("duckdb/scores_v1.py");
    let output = tokio::process::Command::new(crate::consensus::python())
        .arg(&script)
        .arg("--dir")
        .arg(scratch.path())
        .arg("--deadline-micros")
        .arg(opened.submission_deadline.as_micros().to_string())
        .arg("--grace-minutes")
        .arg(config.coordinator.schedule.grace_period_minutes.to_string())
        .arg("--far-km")
        .arg(config.coordinator.far_km.to_string())
        .output()
        .await
        .context("failed to run DuckDB's script (scripts/stack up installs DuckDB)")?;
    anyhow::ensure!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut duckdb_seconds = f64::NAN;
    let mut load_seconds = f64::NAN;
    let mut totals = std::collections::BTreeMap::new();
    for line in stdout.lines() {
        if let Some(value) = line.strip_prefix("seconds=") {
            duckdb_seconds = value.parse()?;
        } else if let Some(value) = line.strip_prefix("load_seconds=") {
            load_seconds = value.parse()?;
        } else if let Some((miner, total)) = line.split_once(',') {
            totals.insert(miner.to_owned(), total.parse::<f64>()?);
        }
    }
    let rows = client
        .query(
            "SELECT miner_hotkey, total FROM scores_v1.epoch_scores WHERE epoch_id = $1",
            &[&opened.epoch_id],
        )
        .await?;
    let mut worst = 0.0_f64;
    for row in &rows {
        let miner: String = row.get(0);
        let total: f64 = row.get(1);
        let theirs = totals
            .get(&miner)
            .copied()
            .context("a miner DuckDB did not score")?;
        worst = worst.max((total - theirs).abs());
    }
    anyhow::ensure!(
        rows.len() == totals.len(),
        "{} miners scored here, {} by DuckDB",
        rows.len(),
        totals.len()
    );
    anyhow::ensure!(worst < 1e-9, "the totals differ by up to {worst}");
    fold_cost(&pool, 100, 1_000).await?;
    println!(
        "scoring: DuckDB {duckdb_seconds:.2} s (after loading its tables in {load_seconds:.1} s); every miner's total agrees (max difference {worst:.1e})"
    );
    println!(
        "scoring: closing → scores is {:.2} × DuckDB's query; the evidence query alone {:.2} ×",
        ours / duckdb_seconds,
        gather_seconds / duckdb_seconds
    );
    Ok(())
}

fn sql_array(items: &[&str]) -> String {
    format!(
        "ARRAY[{}]::text[]",
        items
            .iter()
            .map(|item| format!("'{}'", item.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(",")
    )
}

/// The `index`th of `miners × listings` attestations of one zipcode, miner after miner (one
/// upload each), as an epoch upload or not.
fn attestation(index: usize, listings: usize, epoch: bool) -> resi_events::Event {
    use resi_events::{CanonicalListing, Event, EventId, EventPayload, ListingAttested, Timestamp};
    const AT: i64 = 1_758_110_400_000_000;
    let (miner, listing) = (index / listings, index % listings);
    let hotkey = format!("5BenchFoldMiner{miner:03}");
    let canonical = CanonicalListing {
        listing_id: (30_000_000 + listing).to_string(),
        // one miner in ten disagrees on the price: the consensus moves as miners arrive
        price_usd: Some(300_000 + i64::from(miner % 10 == 3) * 5_000),
        bedrooms: Some(3),
        bathrooms_tenths: Some(20),
        living_area_sqft: Some(1_500),
        address: Some(format!("{listing} ELM ST")),
        zip_code: Some("78701".into()),
        state: Some("TX".into()),
        latitude_e7: Some(302_700_000),
        longitude_e7: Some(-977_400_000),
        listing_date: Some(20_300),
        ..CanonicalListing::default()
    };
    let at = AT + i64::try_from(miner).unwrap_or(0) * 60_000_000;
    let payload = ListingAttested {
        upload_id: EventId(*blake3::hash(hotkey.as_bytes()).as_bytes()),
        row_index: listing as u64,
        miner_hotkey: hotkey.clone(),
        key: format!("data/hotkey={hotkey}/epoch=bench/zipcode=78701/data.json"),
        job_id: "bench".into(),
        scraped_at: Timestamp::from_micros(at),
        submitted_at: Timestamp::from_micros(at + 60_000_000),
        content_hash: canonical.content_hash(),
        listing: canonical,
        miner_trust: 0.5,
        epoch_id: epoch.then(|| "bench-fold-epoch".to_owned()),
        zipcode: epoch.then(|| "78701".to_owned()),
    };
    Event::new(
        EventPayload::ListingAttested(Box::new(payload)),
        Timestamp::from_micros(at),
        Timestamp::from_micros(at + 60_000_000),
    )
}

/// Seconds to fold `events` into fresh builds `{name}` of the listing and consensus
/// projections, 1,000 events per transaction as the projector folds a live batch.
async fn fold_all(
    client: &mut deadpool_postgres::Client,
    name: &str,
    events: &[resi_events::Event],
) -> anyhow::Result<(f64, f64)> {
    let (listing, consensus) = (format!("listing_{name}"), format!("consensus_{name}"));
    client
        .batch_execute(&format!(
            "{}; {}",
            resi_projector::listing::DDL.replace("{schema}", &listing),
            resi_projector::consensus::DDL.replace("{schema}", &consensus)
        ))
        .await?;
    let (mut listing_seconds, mut consensus_seconds) = (0.0, 0.0);
    for batch in events.chunks(1_000) {
        let batch: Vec<&resi_events::Event> = batch.iter().collect();
        let started = Instant::now();
        let transaction = client.transaction().await?;
        resi_projector::listing::fold(&transaction, &listing, &batch).await?;
        transaction.commit().await?;
        listing_seconds += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let transaction = client.transaction().await?;
        resi_projector::consensus::fold(
            &transaction,
            &consensus,
            resi_projector::consensus::algorithm("v1")?.as_ref(),
            &batch,
        )
        .await?;
        transaction.commit().await?;
        consensus_seconds += started.elapsed().as_secs_f64();
    }
    client
        .batch_execute(&format!(
            "DROP SCHEMA {listing} CASCADE; DROP SCHEMA {consensus} CASCADE"
        ))
        .await?;
    Ok((listing_seconds, consensus_seconds))
}

/// What keeping the epoch counters costs the folds: `miners × listings` attestations of one
/// zipcode folded as epoch uploads (counted) and as plain uploads (not), twice each in turn;
/// the best time of each, per attestation.
pub async fn fold_cost(
    pool: &deadpool_postgres::Pool,
    miners: usize,
    listings: usize,
) -> anyhow::Result<()> {
    let mut client = resi_runtime::postgres::connection(pool).await?;
    let count = miners * listings;
    let epoch: Vec<resi_events::Event> =
        (0..count).map(|i| attestation(i, listings, true)).collect();
    let plain: Vec<resi_events::Event> = (0..count)
        .map(|i| attestation(i, listings, false))
        .collect();
    let mut best = [(f64::MAX, f64::MAX); 2];
    for round in 0..2 {
        for (which, events) in [&plain, &epoch].into_iter().enumerate() {
            let (listing, consensus) =
                fold_all(&mut client, &format!("fold_{which}_{round}"), events).await?;
            best[which].0 = best[which].0.min(listing);
            best[which].1 = best[which].1.min(consensus);
        }
    }
    let micros = |seconds: f64| seconds * 1e6 / count as f64;
    println!(
        "scoring: folds of {count} attestations ({miners} miners × {listings} listings), µs per attestation: listing {:.1} plain / {:.1} counted ({:+.0} %), consensus {:.1} plain / {:.1} counted ({:+.0} %)",
        micros(best[0].0),
        micros(best[1].0),
        (best[1].0 / best[0].0 - 1.0) * 100.0,
        micros(best[0].1),
        micros(best[1].1),
        (best[1].1 / best[0].1 - 1.0) * 100.0,
    );
    Ok(())
}
