//! `resi-bench consensus`: the consensus projection rebuilt from the log over millions of
//! attestations, beside DuckDB computing the same v1 consensus in one batch straight from the
//! miners' Parquet files and COPY loading its result into Postgres; and the peak RSS of the
//! rebuild. A cross-check requires both to have produced the same tables.
//!
//! The dataset: `listings` listings, each reported in `reports` rounds a day apart by miners
//! chosen round-robin out of `miners` (each round by a different miner, except that every
//! tenth listing's last round comes again from its first miner, whose newer report supersedes
//! its older one). One miner in ten is careless about prices; a quarter of the listings change
//! price and status in the last two rounds. Trust is a per-miner multiple of 1/8, so sums of
//! trust are exact and a tie is a tie in both engines. Every round of every miner is one v1
//! file under `data/hotkey=…/job_id=bench/`, written as miners write them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{Duration as Days, NaiveDate};
use futures::SinkExt as _;
use resi_datagen::parquet_files::{BATCH_ROWS, v1_batch, write};
use resi_datagen::report::Report;
use resi_events::{Timestamp, UploadDiscovery, UploadFormat, UploadObserved};
use resi_parser::emit::AdmissionPlan;
use resi_parser::file::parse_file;
use resi_projector::engine::ProjectionKind;
use tokio::io::AsyncReadExt as _;

/// The dataset's shape.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Distinct listings.
    pub listings: usize,
    /// Miners reporting them.
    pub miners: usize,
    /// Reports per listing (rounds).
    pub reports: usize,
}

impl Shape {
    fn reporter(self, listing: usize, round: usize) -> usize {
        let round = if round + 1 == self.reports && listing.is_multiple_of(10) {
            0
        } else {
            round
        };
        (listing + round * (self.miners / self.reports).max(1)) % self.miners
    }

    fn hotkey(miner: usize) -> String {
        format!("5ConsensusBenchMiner{miner:03}")
    }

    /// 0.5, 0.625, 0.75, 0.875 or 1: exact in binary.
    fn trust(miner: usize) -> f64 {
        0.5 + (miner % 5) as f64 * 0.125
    }

    fn report(self, listing: usize, round: usize, miner: usize) -> Report {
        let zpid = 30_000_000 + listing as u64;
        let day = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap_or_default()
            + Days::days(i64::try_from(round).unwrap_or_default());
        let scraped = day.and_hms_opt(6, 0, 0).unwrap_or_default()
            + Days::minutes(i64::try_from(miner).unwrap_or_default());
        let changed = round + 2 >= self.reports && listing.is_multiple_of(4);
        let base = 200_000 + i64::try_from(listing % 4_000).unwrap_or_default() * 250;
        let price =
            base - i64::from(changed) * 10_000 + i64::from(miner.is_multiple_of(10)) * 5_000;
        let zip = 73_000 + listing % 2_000;
        Report {
            zpid,
            // already in the parser's normal form, as the DuckDB query takes text as it is
            street: format!("{} MAIN ST", listing % 9_000 + 1),
            city: "AUSTIN".into(),
            state: "TX".into(),
            zip: format!("{zip:05}"),
            price: Some(price),
            bedrooms: Some(i64::try_from(listing % 5 + 1).unwrap_or(3)),
            bathrooms: Some(1.0 + (listing % 4) as f64 * 0.5),
            living_area: Some(900 + i64::try_from(listing % 3_000).unwrap_or_default()),
            home_type: "SINGLE_FAMILY".into(),
            home_status: if changed { "PENDING" } else { "FOR_SALE" }.into(),
            days_on_market: Some(i64::try_from(listing % 90).unwrap_or_default()),
            latitude: Some(30.1 + (listing % 2_000) as f64 * 1e-4),
            longitude: Some(-97.9 + (listing / 2_000 % 1_000) as f64 * 1e-4),
            listing_date: NaiveDate::from_ymd_opt(2025, 8, 1).unwrap_or_default(),
            mls_id: format!("ABR{zpid}"),
            scraped_at: scraped,
        }
    }
}

/// One file of the dataset.
struct DataFile {
    path: PathBuf,
    key: String,
    miner: usize,
    rows: usize,
}

/// Writes the dataset under `root` (or finds it there from an earlier run of the same shape).
fn dataset(root: &Path, shape: Shape) -> anyhow::Result<Vec<DataFile>> {
    let marker = root.join("shape.txt");
    let wanted = format!("{shape:?}");
    let reuse = std::fs::read_to_string(&marker).is_ok_and(|found| found == wanted);
    if !reuse && root.join("data").exists() {
        std::fs::remove_dir_all(root.join("data"))?;
    }
    let started = Instant::now();
    let mut files = Vec::new();
    for round in 0..shape.reports {
        let mut by_miner: Vec<Vec<usize>> = vec![Vec::new(); shape.miners];
        for listing in 0..shape.listings {
            by_miner[shape.reporter(listing, round)].push(listing);
        }
        for (miner, listings) in by_miner.into_iter().enumerate() {
            if listings.is_empty() {
                continue;
            }
            let hotkey = Shape::hotkey(miner);
            let stamp = format!("202509{:02}_060000", round + 1);
            let key = format!(
                "data/hotkey={hotkey}/job_id=bench/data_{stamp}_{}.parquet",
                listings.len()
            );
            let path = root.join(&key);
            if !reuse {
                let batches = listings.chunks(BATCH_ROWS).map(|chunk| {
                    let reports: Vec<Report> = chunk
                        .iter()
                        .map(|&listing| shape.report(listing, round, miner))
                        .collect();
                    v1_batch(&reports)
                });
                let bytes = write(batches, 1_048_576)?;
                std::fs::create_dir_all(path.parent().context("a key has a folder")?)?;
                std::fs::write(&path, bytes)?;
            }
            files.push(DataFile {
                path,
                key,
                miner,
                rows: listings.len(),
            });
        }
    }
    std::fs::write(root.join("trust.csv"), {
        let mut csv = String::from("miner,trust\n");
        for miner in 0..shape.miners {
            csv.push_str(&format!(
                "{},{}\n",
                Shape::hotkey(miner),
                Shape::trust(miner)
            ));
        }
        csv
    })?;
    if !reuse {
        std::fs::write(&marker, wanted)?;
    }
    let rows: usize = files.iter().map(|file| file.rows).sum();
    let bytes: u64 = files
        .iter()
        .filter_map(|file| std::fs::metadata(&file.path).ok())
        .map(|metadata| metadata.len())
        .sum();
    println!(
        "consensus: dataset {} ({} files, {rows} rows, {:.1} MiB of Parquet) in {:.1} s",
        if reuse { "found" } else { "written" },
        files.len(),
        bytes as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64()
    );
    Ok(files)
}

/// Parses every file as the parser does (each miner admitted in full at its trust) and
/// produces the attestations to the log; the number produced.
async fn produce(
    files: &[DataFile],
    kafka: &resi_runtime::config::KafkaConfig,
    topic: &str,
) -> anyhow::Result<usize> {
    let producer = resi_runtime::kafka::producer(kafka)?;
    let mut in_flight = std::collections::VecDeque::new();
    let mut produced = 0;
    for file in files {
        let hotkey = Shape::hotkey(file.miner);
        let upload = UploadObserved {
            bucket: "bench".into(),
            key: file.key.clone(),
            etag: file.key.clone(),
            size: 0,
            // uploaded after every scrape of the benchmark: no scrape time is clamped
            last_modified: crate::UPLOADED_AT,
            miner_hotkey: hotkey,
            job_id: "bench".into(),
            file_timestamp: Timestamp::from_micros(1_756_706_400_000_000),
            declared_record_count: Some(file.rows as u64),
            format: UploadFormat::V1,
            epoch: None,
            epoch_id: None,
            zipcode: None,
            discovery: UploadDiscovery::Listing,
        };
        let plan = AdmissionPlan {
            trust_used: Shape::trust(file.miner),
            daily_limit: u64::MAX,
            utc_day: 0,
            admitted_before: 0,
        };
        let path = file.path.clone();
        let encoded = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            let reader = std::fs::File::open(&path)?;
            parse_file(reader, &upload, plan, crate::parse_options(), |batch| {
                all.extend(batch);
                true
            })
            .map_err(|failure| anyhow::anyhow!("parse failed: {failure:?}"))?;
            anyhow::Ok(all)
        })
        .await??;
        anyhow::ensure!(
            encoded.len() == file.rows,
            "{}: {} events from {} rows",
            file.key,
            encoded.len(),
            file.rows
        );
        for event in encoded {
            in_flight.push_back(
                resi_runtime::kafka::enqueue_encoded(
                    &producer,
                    topic,
                    &event.key,
                    &event.payload,
                    resi_runtime::kafka::EventHeaders::new(
                        event.event_type,
                        event.schema_version,
                        event.id,
                    )
                    .build(),
                )
                .await?,
            );
            produced += 1;
            if in_flight.len() >= 200_000
                && let Some(oldest) = in_flight.pop_front()
            {
                resi_runtime::kafka::delivered(oldest).await?;
            }
        }
    }
    for delivery in in_flight {
        resi_runtime::kafka::delivered(delivery).await?;
    }
    Ok(produced)
}

/// The Python of the local stack, with DuckDB (scripts/requirements.txt).
pub(crate) fn python() -> PathBuf {
    std::env::var_os("RESI_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.stack/venv/bin/python"),
        PathBuf::from,
    )
}

/// Streams one CSV file into `table` with COPY; rows copied.
async fn copy_csv(
    client: &deadpool_postgres::Client,
    table: &str,
    path: &Path,
) -> anyhow::Result<u64> {
    let sink = client
        .copy_in(&format!("COPY {table} FROM STDIN (FORMAT csv)"))
        .await
        .with_context(|| format!("COPY into {table}"))?;
    let mut sink = std::pin::pin!(sink);
    let mut file = tokio::fs::File::open(path).await?;
    let mut buffer = vec![0_u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        sink.send(bytes::Bytes::copy_from_slice(&buffer[..read]))
            .await?;
    }
    Ok(sink.finish().await?)
}

/// Rows of `query`'s symmetric difference between the two schemas (`{a}`/`{b}` replaced).
async fn differing(client: &deadpool_postgres::Client, query: &str) -> anyhow::Result<i64> {
    let one = query
        .replace("{a}", "consensus_v1")
        .replace("{b}", "duckdb_v1");
    let other = query
        .replace("{a}", "duckdb_v1")
        .replace("{b}", "consensus_v1");
    let row = client
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM ({one}) d) + (SELECT count(*) FROM ({other}) d)"
            ),
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// Runs the benchmark.
pub async fn bench_consensus(
    shape: Shape,
    data: Option<PathBuf>,
    fold: crate::replay::FoldOptions,
    log_prefix: Option<String>,
    raw_consume: bool,
) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let root = data.unwrap_or_else(|| scratch.path().join("dataset"));
    std::fs::create_dir_all(&root)?;
    println!(
        "consensus: {} listings x {} reports by {} miners, into {}",
        shape.listings,
        shape.reports,
        shape.miners,
        root.display()
    );
    let files = dataset(&root, shape)?;

    let (postgres, pool, mut kafka) = crate::replay::fresh_stack().await?;
    let rows: usize = files.iter().map(|file| file.rows).sum();
    let produced = if let Some(prefix) = log_prefix {
        // a log an earlier run of the same shape produced: its end offsets must hold every row
        kafka.topic_prefix = prefix;
        let topic = resi_events::Topics::new(&kafka.topic_prefix).attestations();
        let ends = resi_runtime::kafka::end_offsets(&kafka, &topic).await?;
        let records: i64 = ends.values().sum();
        anyhow::ensure!(
            usize::try_from(records).ok() == Some(rows),
            "{topic} holds {records} records, the dataset {rows} rows"
        );
        println!("consensus: {records} attestations already in the log ({topic})");
        rows
    } else {
        let topic = resi_events::Topics::new(&kafka.topic_prefix).attestations();
        let started = Instant::now();
        let count = produce(&files, &kafka, &topic).await?;
        println!(
            "consensus: {count} attestations parsed from the files and in the log ({topic}, 12 partitions) in {:.0} s; --log-prefix {} measures again without producing",
            started.elapsed().as_secs_f64(),
            kafka.topic_prefix
        );
        count
    };

    if raw_consume {
        let topic = resi_events::Topics::new(&kafka.topic_prefix).attestations();
        let (seconds, _) = crate::replay::raw_consume(&kafka, &topic).await?;
        println!(
            "consensus: raw consume of the log (every record, not decoded): {seconds:.1} s = {:.0} records/s",
            produced as f64 / seconds
        );
    }
    println!("consensus: rebuilding consensus v1 from offset 0");
    let rebuilt =
        crate::replay::rebuild(&postgres, &kafka, &pool, ProjectionKind::Consensus, fold).await?;
    println!(
        "consensus: rebuild from the log: {:.1} s = {:.0} attestations/s (consume, decode, fold, commit)",
        rebuilt.seconds,
        produced as f64 / rebuilt.seconds
    );
    println!(
        "consensus: peak RSS of the rebuild {:.1} MiB (at its start {:.1} MiB)",
        rebuilt.rss_peak_kib as f64 / 1024.0,
        rebuilt.rss_start_kib as f64 / 1024.0
    );

    println!("consensus: DuckDB over the Parquet files, then COPY into Postgres");
    let out = scratch.path().join("duckdb");
    std::fs::create_dir_all(&out)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("duckdb/consensus_v1.py");
    let glob = root.join("data/**/*.parquet");
    let started = Instant::now();
    let output = tokio::process::Command::new(python())
        .arg(&script)
        .arg("--files")
        .arg(&glob)
        .arg("--trust")
        .arg(root.join("trust.csv"))
        .arg("--out")
        .arg(&out)
        .output()
        .await
        .context("failed to run DuckDB's script (scripts/stack up installs DuckDB)")?;
    let duckdb = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("consensus: DuckDB {duckdb:.1} s");
    let client = pool.get().await?;
    // the COPY and the cross-check each take longer than a service's statement timeout
    client.batch_execute("SET statement_timeout = 0").await?;
    client
        .batch_execute(&resi_projector::consensus::DDL.replace("{schema}", "duckdb_v1"))
        .await?;
    let started = Instant::now();
    let mut copied = BTreeMap::new();
    for table in ["consensus_listings", "consensus_reports", "miner_accuracy"] {
        let rows = copy_csv(
            &client,
            &format!("duckdb_v1.{table}"),
            &out.join(format!("{table}.csv")),
        )
        .await?;
        copied.insert(table, rows);
    }
    let copy = started.elapsed().as_secs_f64();
    println!("consensus: COPY {copy:.1} s; cross-checking the two results");

    // the two must agree: every column but the attestation ids, which only the log has
    let listings = differing(
        &client,
        "SELECT listing_id, round(consensus_score::numeric, 12), unique_miners, last_reported_at,
                price_usd, bedrooms, bathrooms_tenths, living_area_sqft, address, home_type,
                home_status, latitude_e7, longitude_e7, zip_code, city, state
         FROM {a}.consensus_listings EXCEPT
         SELECT listing_id, round(consensus_score::numeric, 12), unique_miners, last_reported_at,
                price_usd, bedrooms, bathrooms_tenths, living_area_sqft, address, home_type,
                home_status, latitude_e7, longitude_e7, zip_code, city, state
         FROM {b}.consensus_listings",
    )
    .await?;
    let reports = differing(
        &client,
        "SELECT listing_id, miner_hotkey, reported_at, miner_trust, field_values, agreed_fields,
                reported_fields FROM {a}.consensus_reports EXCEPT
         SELECT listing_id, miner_hotkey, reported_at, miner_trust, field_values, agreed_fields,
                reported_fields FROM {b}.consensus_reports",
    )
    .await?;
    let miners = differing(
        &client,
        "SELECT miner_hotkey, listings, agreed_fields, reported_fields,
                round(accuracy_score::numeric, 12) FROM {a}.miner_accuracy EXCEPT
         SELECT miner_hotkey, listings, agreed_fields, reported_fields,
                round(accuracy_score::numeric, 12) FROM {b}.miner_accuracy",
    )
    .await?;
    let count = |table: &str| format!("SELECT count(*) FROM consensus_v1.{table}");
    let built_listings: i64 = client
        .query_one(&count("consensus_listings"), &[])
        .await?
        .get(0);
    let built_reports: i64 = client
        .query_one(&count("consensus_reports"), &[])
        .await?
        .get(0);

    println!(
        "consensus: DuckDB {duckdb:.1} s + COPY {copy:.1} s = {:.1} s ({} listings, {} reports, {} miners copied)",
        duckdb + copy,
        copied["consensus_listings"],
        copied["consensus_reports"],
        copied["miner_accuracy"]
    );
    println!(
        "consensus: rebuild / (DuckDB + COPY) = {:.2} (target <= 2)",
        rebuilt.seconds / (duckdb + copy)
    );
    println!(
        "consensus: cross-check over {built_listings} listings and {built_reports} reports: {listings} listing rows, {reports} report rows and {miners} miner rows differ"
    );
    drop(client);
    crate::replay::discard(&postgres, &pool).await;
    anyhow::ensure!(
        listings == 0 && reports == 0 && miners == 0,
        "the rebuild and DuckDB disagree"
    );
    Ok(())
}
