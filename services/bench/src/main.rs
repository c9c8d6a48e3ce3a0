//! `resi-bench`: the benchmarks behind BENCHMARKS.md. Each prints its figures and the knobs it
//! ran with; run them from a release build (`cargo run --release -p resi-bench -- …`).
//!
//! * `parse` — the parser in-process, Parquet bytes to encoded events, no broker: rows/s on
//!   one core (parsing a file is single-threaded).
//! * `rss` — peak resident memory while the parser reads files of growing size from disk, each
//!   in a fresh child process.
//! * `json` — the epoch JSON reader over documents of growing size (rows/s, peak RSS in a child
//!   process), beside tokenising the same bytes with serde_json in the same run.
//! * `e2e` — files in S3 to attestation events acknowledged by the broker, beside the broker's
//!   raw produce rate for the same number of messages of the same size, in the same run. Needs
//!   the local stack (`scripts/stack up`, then `source .stack/env`).
//! * `replay` — a projection rebuilt from offset 0 until caught up, beside the broker's raw
//!   consume rate of the same topic in the same run, and the peak RSS of the rebuild. Needs the
//!   local stack.
//! * `consensus` — the consensus projection rebuilt from the log over 5 M attestations,
//!   beside DuckDB computing the same v1 consensus from the Parquet files plus a COPY of its
//!   result into Postgres, with a cross-check that both built the same tables, and the peak RSS
//!   of the rebuild. Needs the local stack.
//! * `api` — the API under wrk over 1 M listings: by zpid, zip code and bounding box, at fixed
//!   rates and at the maximum, p50/p99 and requests/s. Needs Postgres and wrk.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use chrono::NaiveDate;
use clap::{Parser as _, Subcommand};
use rdkafka::producer::FutureProducer;
use resi_datagen::parquet_files::{BATCH_ROWS, v1_batch, write};
use resi_datagen::report::Report;
use resi_events::{Timestamp, UploadDiscovery, UploadFormat, UploadObserved};
use resi_parser::emit::{AdmissionPlan, ParseOptions};
use resi_parser::file::parse_file;

mod api;
mod consensus;
mod cpu;
mod gateway;
mod json;
mod lab;
mod open_data;
mod replay;
mod scoring;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(clap::Parser)]
#[command(name = "resi-bench", about = "Benchmarks that print figures")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The API under wrk (loopback) over a database of many listings.
    Api {
        /// Listings in the database (loaded once into `resi_bench_api`, reused after).
        #[arg(long, default_value_t = 1_000_000)]
        listings: u64,
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Fixed rates to offer, requests/s (the maximum is always run too).
        #[arg(long, value_delimiter = ',', default_value = "500,2000")]
        rates: Vec<u32>,
        /// Which queries to run: zpid, zip, bbox, tile (a zoom-12 vector tile), clusters (low-zoom cluster tiles, once each, beside Postgres).
        #[arg(long, value_delimiter = ',', default_value = "zpid,zip,bbox")]
        queries: Vec<String>,
        /// Seconds of warm-up at the maximum rate before each query's runs (3 s left the bbox
        /// query's first paced run with a p99 of 0.7 s; 10 s does not).
        #[arg(long, default_value_t = 10)]
        warmup_seconds: u64,
    },
    /// The gateway's signed assignment request under wrk (loopback) at a fixed rate, beside
    /// its health check, and the cost of one signature verification.
    Gateway {
        /// Seconds of the run.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Requests per second offered.
        #[arg(long, default_value_t = 500)]
        rate: u32,
        /// wrk connections (each paced by `connections / rate` between its requests).
        #[arg(long, default_value_t = 25)]
        connections: u32,
    },
    /// An epoch's closing to its scores (evidence SQL, events, scoring) beside DuckDB
    /// computing the same scores from the same rows.
    Scoring {
        /// Miners, each reporting every listing of the epoch.
        #[arg(long, default_value_t = 500)]
        miners: u32,
        /// Listings the epoch expects.
        #[arg(long, default_value_t = 10_000)]
        listings: u32,
    },
    /// Parser throughput in-process (no broker).
    Parse {
        /// Rows in the file.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        /// Rows per row group (pyarrow's default is 1,048,576).
        #[arg(long, default_value_t = 1_048_576)]
        row_group_rows: usize,
        /// Timed repetitions; the best is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// `tidy` (every column typed and filled) or `real` (as the network's miners write:
        /// six columns null-typed, zip only in label and address, NaT scrape times).
        #[arg(long, default_value = "tidy")]
        shape: String,
    },
    /// The epoch JSON reader over large documents: rows/s and peak RSS.
    Json {
        /// Document sizes, MiB, one after the other.
        #[arg(long, value_delimiter = ',', default_value = "100,1024")]
        mib: Vec<u64>,
        /// Timed repetitions per size; the best is reported.
        #[arg(long, default_value_t = 2)]
        runs: usize,
        /// (Internal) parse this file in this process and print its figures.
        #[arg(long, hide = true)]
        child: Option<std::path::PathBuf>,
    },
    /// Peak RSS while parsing files of growing size.
    Rss {
        /// Row counts, one child process each.
        #[arg(long, value_delimiter = ',', default_value = "100000,300000,1000000")]
        rows: Vec<usize>,
        /// (Internal) parse this file in this process and print the peak RSS.
        #[arg(long, hide = true)]
        child: Option<std::path::PathBuf>,
    },
    /// S3 → parser → broker, beside the raw produce rate.
    E2e {
        /// Files, one miner each.
        #[arg(long, default_value_t = 20)]
        files: usize,
        /// Rows per file (at most 10,000: the daily limit of a trusted miner).
        #[arg(long, default_value_t = 10_000)]
        rows_per_file: usize,
    },
    /// The consensus projection rebuilt over millions of attestations, beside DuckDB computing
    /// the same consensus from the Parquet files and COPY loading it into Postgres.
    Consensus {
        /// Distinct listings.
        #[arg(long, default_value_t = 1_000_000)]
        listings: usize,
        /// Miners reporting them.
        #[arg(long, default_value_t = 50)]
        miners: usize,
        /// Reports per listing.
        #[arg(long, default_value_t = 5)]
        reports: usize,
        /// Keep the Parquet dataset here and reuse it in later runs of the same shape
        /// (default: a temporary directory).
        #[arg(long)]
        data: Option<std::path::PathBuf>,
        #[command(flatten)]
        fold: replay::FoldOptions,
        /// Rebuild from the log an earlier run of the same shape produced under this topic
        /// prefix (it prints it) instead of producing the attestations again.
        #[arg(long)]
        log_prefix: Option<String>,
        /// Also read the whole log without decoding it before the rebuild, to show what the
        /// broker alone takes.
        #[arg(long)]
        raw_consume: bool,
    },
    /// `resi lab run` (v1) over an export beside DuckDB deciding v1 from the same Parquet.
    Lab {
        /// Attestations in the export.
        #[arg(long, default_value_t = 5_000_000)]
        events: usize,
        /// Distinct listings they report.
        #[arg(long, default_value_t = 1_000_000)]
        listings: usize,
        /// Miners reporting them.
        #[arg(long, default_value_t = 50)]
        miners: usize,
    },
    /// `resi export snapshot` of the API benchmark's listings beside Postgres's own COPY.
    OpenData {
        /// Listings in the database.
        #[arg(long, default_value_t = 1_000_000)]
        listings: u64,
    },
    /// A projection rebuilt from offset 0, beside the raw consume rate of its topic.
    Replay {
        /// listing or consensus (both fold the attestations).
        #[arg(long, default_value = "consensus")]
        projection: String,
        /// Attestations in the log.
        #[arg(long, default_value_t = 500_000)]
        events: usize,
        /// Distinct listings they report.
        #[arg(long, default_value_t = 100_000)]
        listings: usize,
        /// Miners reporting them.
        #[arg(long, default_value_t = 50)]
        miners: usize,
        #[command(flatten)]
        fold: replay::FoldOptions,
    },
}

/// A row of a large honest file: distinct listings spread over a few zip codes.
pub(crate) fn report(zpid: u64) -> Report {
    let scraped = NaiveDate::from_ymd_opt(2025, 9, 17)
        .and_then(|day| day.and_hms_opt(12, 0, 0))
        .unwrap_or_default();
    Report {
        zpid,
        street: format!("{} Elm Street", zpid % 10_000),
        city: "Houston".into(),
        state: "TX".into(),
        zip: format!("{:05}", 77_000 + zpid % 40),
        price: Some(150_000 + i64::try_from(zpid % 5_000).unwrap_or_default() * 97),
        bedrooms: Some(i64::try_from(1 + zpid % 5).unwrap_or(3)),
        bathrooms: Some(1.0 + (zpid % 4) as f64 * 0.5),
        living_area: Some(900 + i64::try_from(zpid % 3_000).unwrap_or_default()),
        home_type: "SINGLE_FAMILY".into(),
        home_status: "FOR_SALE".into(),
        days_on_market: Some(i64::try_from(zpid % 90).unwrap_or_default()),
        latitude: Some(29.7 + (zpid % 1_000) as f64 * 1e-4),
        longitude: Some(-95.3 - (zpid % 1_000) as f64 * 1e-4),
        listing_date: NaiveDate::from_ymd_opt(2025, 8, 1).unwrap_or_default(),
        mls_id: format!("HAR{zpid}"),
        scraped_at: scraped,
    }
}

/// A v1 file of `rows` rows from `first_zpid` on, built a batch at a time.
fn v1_file(rows: usize, first_zpid: u64, row_group_rows: usize) -> anyhow::Result<Vec<u8>> {
    v1_file_of(v1_batch, rows, first_zpid, row_group_rows)
}

/// A v1 file laid out by `layout`.
fn v1_file_of(
    layout: fn(&[Report]) -> anyhow::Result<arrow::record_batch::RecordBatch>,
    rows: usize,
    first_zpid: u64,
    row_group_rows: usize,
) -> anyhow::Result<Vec<u8>> {
    let batches = (0..rows).step_by(BATCH_ROWS).map(|start| {
        let count = BATCH_ROWS.min(rows - start);
        let reports: Vec<Report> = (start..start + count)
            .map(|row| report(first_zpid + row as u64))
            .collect();
        layout(&reports)
    });
    write(batches, row_group_rows)
}

fn upload(key: &str, rows: usize, hotkey: &str) -> UploadObserved {
    UploadObserved {
        bucket: "bench".into(),
        key: key.to_owned(),
        etag: "bench".into(),
        size: 0,
        // uploaded after every scrape of the benchmark: no scrape time is clamped
        last_modified: UPLOADED_AT,
        miner_hotkey: hotkey.to_owned(),
        job_id: "bench".into(),
        file_timestamp: Timestamp::from_micros(1_758_110_400_000_000),
        declared_record_count: Some(rows as u64),
        format: UploadFormat::V1,
        epoch: None,
        epoch_id: None,
        zipcode: None,
        discovery: UploadDiscovery::Listing,
    }
}

/// When the benchmarks' uploads were made: after every scrape time they hold (2030-03-17).
pub(crate) const UPLOADED_AT: Timestamp = Timestamp::from_micros(1_900_000_000_000_000);

/// The parser's default options.
pub(crate) fn parse_options() -> ParseOptions {
    ParseOptions {
        batch_rows: 8_192,
        max_scrape_skew_micros: 600_000_000,
        max_json_listing_bytes: 1 << 20,
        max_file_rows: 10_000_000,
        record_time: Timestamp::now(),
    }
}

/// Admits everything: the benchmark measures parsing, not the rate limit.
pub(crate) fn admit_all() -> AdmissionPlan {
    AdmissionPlan {
        trust_used: 1.0,
        daily_limit: u64::MAX,
        utc_day: 0,
        admitted_before: 0,
    }
}

/// Parses `reader`; (rows emitted, bytes of encoded events).
fn parse_counting<R: parquet::file::reader::ChunkReader + 'static>(
    reader: R,
    upload: &UploadObserved,
) -> anyhow::Result<(u64, u64)> {
    let mut events = 0_u64;
    let mut bytes = 0_u64;
    parse_file(reader, upload, admit_all(), parse_options(), |batch| {
        events += batch.len() as u64;
        bytes += batch
            .iter()
            .map(|encoded| encoded.payload.len() as u64)
            .sum::<u64>();
        true
    })
    .map_err(|failure| anyhow::anyhow!("parse failed: {failure:?}"))?;
    Ok((events, bytes))
}

fn bench_parse(rows: usize, row_group_rows: usize, runs: usize, shape: &str) -> anyhow::Result<()> {
    let built = Instant::now();
    let layout = match shape {
        "tidy" => v1_batch,
        "real" => resi_datagen::parquet_files::v1_real_batch,
        other => anyhow::bail!("--shape is tidy or real, not {other}"),
    };
    let file = Bytes::from(v1_file_of(layout, rows, 10_000_000, row_group_rows)?);
    println!(
        "parse: {shape} v1, {rows} rows, {row_group_rows} rows per row group, {:.1} MiB of Parquet (built in {:.1} s)",
        file.len() as f64 / 1_048_576.0,
        built.elapsed().as_secs_f64()
    );
    let upload = upload(
        "data/hotkey=5Bench/job_id=bench/data_20250917_120000_1.parquet",
        rows,
        "5Bench",
    );
    let mut best = Duration::MAX;
    let mut encoded_bytes = 0;
    for run in 1..=runs.max(1) {
        let started = Instant::now();
        let (events, bytes) = parse_counting(file.clone(), &upload)?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            events == rows as u64,
            "expected {rows} events, got {events}"
        );
        println!(
            "  run {run}: {:.3} s, {:.0} rows/s",
            elapsed.as_secs_f64(),
            rows as f64 / elapsed.as_secs_f64()
        );
        best = best.min(elapsed);
        encoded_bytes = bytes;
    }
    println!(
        "parse: best {:.3} s = {:.0} rows/s on one core; {:.0} bytes per encoded event",
        best.as_secs_f64(),
        rows as f64 / best.as_secs_f64(),
        encoded_bytes as f64 / rows as f64
    );
    Ok(())
}

/// Runs `resi-bench {subcommand} --child {path}` and reads the numbers it prints.
pub(crate) fn child_figures(subcommand: &str, path: &std::path::Path) -> anyhow::Result<Vec<f64>> {
    let output = std::process::Command::new(std::env::current_exe()?)
        .args([subcommand, "--child"])
        .arg(path)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|field| field.parse().ok())
        .collect())
}

pub(crate) fn peak_rss_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")
}

fn bench_rss(rows: &[usize], child: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    if let Some(path) = child {
        let before = peak_rss_kib()?;
        let file = std::fs::File::open(&path)?;
        let (events, _) = parse_counting(file, &upload("data/x", 0, "5Bench"))?;
        println!("{events} {before} {}", peak_rss_kib()?);
        return Ok(());
    }
    let directory = tempfile::tempdir()?;
    println!(
        "rss: peak resident memory of a process parsing one file from disk (pyarrow's row group size, 1,048,576 rows)"
    );
    for &count in rows {
        let path = directory.path().join(format!("{count}.parquet"));
        std::fs::write(&path, v1_file(count, 10_000_000, 1_048_576)?)?;
        let size = std::fs::metadata(&path)?.len();
        let fields = child_figures("rss", &path)?;
        let [events, before, peak] = fields[..] else {
            anyhow::bail!("unexpected child output {fields:?}");
        };
        println!(
            "  {count:>9} rows, {:>6.1} MiB file: {events} events, peak RSS {:.1} MiB (at start {:.1} MiB)",
            size as f64 / 1_048_576.0,
            peak / 1024.0,
            before / 1024.0
        );
    }
    Ok(())
}

/// A stand-in event id, as long as a real one.
const EVENT_ID_HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Produces `count` messages of `size` bytes as fast as the producer takes them; seconds until
/// every one is acknowledged.
async fn raw_produce(
    producer: &FutureProducer,
    topic: &str,
    count: usize,
    size: usize,
) -> anyhow::Result<f64> {
    let payload = vec![0x5a_u8; size];
    let started = Instant::now();
    let mut in_flight = std::collections::VecDeque::new();
    for index in 0..count {
        let key = format!("{}", 10_000_000 + index);
        // the four headers every event carries, with values of the same lengths
        let headers = [
            (resi_events::codec::headers::EVENT_TYPE, "listing_attested"),
            (resi_events::codec::headers::SCHEMA_VERSION, "1"),
            (resi_events::codec::headers::EVENT_ID, EVENT_ID_HEX),
            (resi_events::codec::headers::FORMAT, "1"),
        ]
        .iter()
        .fold(
            rdkafka::message::OwnedHeaders::new_with_capacity(4),
            |headers, (key, value)| {
                headers.insert(rdkafka::message::Header {
                    key,
                    value: Some(value.as_bytes()),
                })
            },
        );
        in_flight.push_back(
            resi_runtime::kafka::enqueue_encoded(producer, topic, &key, &payload, headers).await?,
        );
        if in_flight.len() >= 200_000
            && let Some(oldest) = in_flight.pop_front()
        {
            resi_runtime::kafka::delivered(oldest).await?;
        }
    }
    for delivery in in_flight {
        resi_runtime::kafka::delivered(delivery).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

async fn bench_e2e(files: usize, rows_per_file: usize) -> anyhow::Result<()> {
    let total = files * rows_per_file;
    let postgres = resi_tests::fresh_database().await?;
    let pool = resi_runtime::postgres::pool(&postgres)?;
    resi_runtime::postgres::migrate(&pool).await?;
    let mut kafka = resi_tests::fresh_kafka();
    kafka.partitions.uploads = 6;
    kafka.partitions.attestations = 12;
    resi_runtime::kafka::ensure_topics(&kafka).await?;
    let (s3, s3_client) = resi_tests::fresh_bucket().await?;
    let topics = resi_events::Topics::new(&kafka.topic_prefix);
    // a live trust projection that trusts every bench miner (10,000 listings a day each)
    let client = pool.get().await?;
    client
        .batch_execute(
            "CREATE SCHEMA bench_trust;
             CREATE TABLE bench_trust.miner_trust (miner_hotkey text PRIMARY KEY, trust_score double precision NOT NULL);
             INSERT INTO projection_versions (projection, version, schema_name, status) VALUES ('trust', 'bench', 'bench_trust', 'live');",
        )
        .await?;
    let mut sizes = 0_u64;
    for file in 0..files {
        let hotkey = format!("5BenchMiner{file:02}");
        client
            .execute(
                "INSERT INTO bench_trust.miner_trust VALUES ($1, 0.95)",
                &[&hotkey],
            )
            .await?;
        let body = v1_file(
            rows_per_file,
            10_000_000 + (file * rows_per_file) as u64,
            1_048_576,
        )?;
        sizes += body.len() as u64;
        let key = format!(
            "data/hotkey={hotkey}/job_id=bench/data_20250917_120000_{rows_per_file}.parquet"
        );
        s3_client
            .put_object()
            .bucket(&s3.bucket)
            .key(&key)
            .body(body.into())
            .send()
            .await?;
    }
    println!(
        "e2e: {files} files × {rows_per_file} rows = {total} rows, {:.1} MiB of Parquet in S3 (moto)",
        sizes as f64 / 1_048_576.0
    );
    let mut bridge_config = resi_bridge::BridgeServiceConfig {
        postgres: postgres.clone(),
        kafka: kafka.clone(),
        s3: s3.clone(),
        ..Default::default()
    };
    bridge_config.bridge.reconcile_interval_secs = 3_600;
    let bridge = resi_bridge::Bridge::build(&bridge_config).await?;
    let report = bridge.reconcile().await?;
    anyhow::ensure!(report.published == files, "bridge published {report:?}");

    // the same producer settings, to a twin of the attestations topic (same partitions), with
    // messages of an attestation's size; measured before and after the pipeline, because the
    // broker's speed drifts as its storage grows
    let sample = parse_counting(
        Bytes::from(v1_file(1_000, 10_000_000, 1_048_576)?),
        &upload("data/x", 1_000, "5BenchMiner00"),
    )?;
    let size = usize::try_from(sample.1 / sample.0).unwrap_or(300);
    let producer = resi_runtime::kafka::producer(&kafka)?;
    let mut raw_kafka = kafka.clone();
    raw_kafka.topic_prefix = format!("{}raw.", kafka.topic_prefix);
    resi_runtime::kafka::ensure_topics(&raw_kafka).await?;
    let raw_topic = resi_events::Topics::new(&raw_kafka.topic_prefix).attestations();
    let raw_before = raw_produce(&producer, &raw_topic, total, size).await?;

    let parser_config = resi_parser::ParserServiceConfig {
        postgres: postgres.clone(),
        kafka: kafka.clone(),
        s3: s3.clone(),
        ..Default::default()
    };
    let parser = resi_parser::Parser::build(&parser_config).await?;
    let (trigger, shutdown) = resi_runtime::shutdown::Shutdown::new();
    let started = Instant::now();
    let task = tokio::spawn(parser.run(shutdown));
    let metadata_client: rdkafka::consumer::BaseConsumer =
        resi_runtime::kafka::client_config(&kafka).create()?;
    let attestations = topics.attestations();
    let deadline = Instant::now() + Duration::from_secs(1_800);
    loop {
        let mut acknowledged = 0_i64;
        for partition in 0..kafka.partitions.attestations {
            let (_, high) = rdkafka::consumer::Consumer::fetch_watermarks(
                &metadata_client,
                &attestations,
                partition,
                Duration::from_secs(10),
            )?;
            acknowledged += high;
        }
        if acknowledged >= total as i64 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "pipeline stalled at {acknowledged}"
        );
        // each check asks the broker for every partition's watermarks: often enough for a
        // 1 % error on a run of seconds, rarely enough not to load the broker being measured
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let pipeline = started.elapsed().as_secs_f64();
    trigger.trigger();
    task.await??;

    let raw_after = raw_produce(&producer, &raw_topic, total, size).await?;
    let raw = (raw_before + raw_after) / 2.0;
    println!(
        "e2e: pipeline {:.2} s = {:.0} events/s (S3 GET, parse, produce, acknowledged)",
        pipeline,
        total as f64 / pipeline
    );
    println!(
        "e2e: raw produce of {total} messages of {size} bytes: {:.2} s = {:.0} messages/s (mean of {:.0} before and {:.0} after)",
        raw,
        total as f64 / raw,
        total as f64 / raw_before,
        total as f64 / raw_after
    );
    println!("e2e: pipeline / raw = {:.0} %", 100.0 * raw / pipeline);
    // 600,000 records a run: leave the broker's storage as it was, so a second run (or the test
    // suite) does not measure a broker slowed by this one's data
    if let Err(error) = delete_topics(&kafka, &[&kafka.topic_prefix, &raw_kafka.topic_prefix]).await
    {
        println!(
            "e2e: could not delete this run's topics ({error}); `scripts/stack reset-broker` starts the broker afresh"
        );
    }
    drop(client);
    replay::discard(&postgres, &pool).await;
    Ok(())
}

/// Deletes the three topics under each prefix.
async fn delete_topics(
    kafka: &resi_runtime::config::KafkaConfig,
    prefixes: &[&str],
) -> anyhow::Result<()> {
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        resi_runtime::kafka::client_config(kafka).create()?;
    let names: Vec<String> = prefixes
        .iter()
        .flat_map(|prefix| {
            let topics = resi_events::Topics::new(*prefix);
            [
                topics.uploads(),
                topics.attestations(),
                topics.dead_letters(),
            ]
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let options = rdkafka::admin::AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(300)))
        .request_timeout(Some(Duration::from_secs(300)));
    for result in admin.delete_topics(&names, &options).await? {
        if let Err((name, code)) = result {
            println!("e2e: could not delete topic {name}: {code}");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // with RUST_LOG set, the services' own logs (e.g. RUST_LOG=resi_projector=info shows each
    // lane's pass over its staged records and how long it took)
    let _telemetry = match std::env::var("RUST_LOG") {
        Ok(_) => Some(resi_runtime::telemetry::init_with_export(
            "resi-bench",
            &resi_runtime::config::TelemetryConfig::default(),
            None,
        )?),
        Err(_) => None,
    };
    match Cli::parse().command {
        Command::Api {
            listings,
            seconds,
            rates,
            queries,
            warmup_seconds,
        } => api::bench_api(listings, seconds, &rates, &queries, warmup_seconds).await,
        Command::Gateway {
            seconds,
            rate,
            connections,
        } => gateway::bench_gateway(seconds, rate, connections).await,
        Command::Scoring { miners, listings } => scoring::bench_scoring(miners, listings).await,
        Command::Parse {
            rows,
            row_group_rows,
            runs,
            shape,
        } => bench_parse(rows, row_group_rows, runs, &shape),
        Command::Json { mib, runs, child } => json::bench_json(&mib, runs, child),
        Command::Rss { rows, child } => bench_rss(&rows, child),
        Command::E2e {
            files,
            rows_per_file,
        } => bench_e2e(files, rows_per_file).await,
        Command::Consensus {
            listings,
            miners,
            reports,
            data,
            fold,
            log_prefix,
            raw_consume,
        } => {
            let shape = consensus::Shape {
                listings,
                miners,
                reports,
            };
            consensus::bench_consensus(shape, data, fold, log_prefix, raw_consume).await
        }
        Command::Lab {
            events,
            listings,
            miners,
        } => lab::bench_lab(events, listings, miners),
        Command::OpenData { listings } => open_data::bench_open_data(listings).await,
        Command::Replay {
            projection,
            events,
            listings,
            miners,
            fold,
        } => {
            let kind = resi_projector::engine::ProjectionKind::from_name(&projection)
                .context("--projection is listing or consensus")?;
            replay::bench_replay(kind, events, listings, miners, fold).await
        }
    }
}
