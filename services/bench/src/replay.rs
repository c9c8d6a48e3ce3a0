//! `resi-bench replay`: a projection rebuilt from offset 0, beside the broker's raw consume
//! rate of the same topic in the same run, and the peak memory of the rebuild.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};
use resi_events::{CanonicalListing, Event, EventId, EventPayload, ListingAttested, Timestamp};
use resi_projector::engine::{ProjectionKind, ProjectionTarget};
use resi_runtime::config::KafkaConfig;

const HOUR: i64 = 3_600_000_000;
const START: i64 = 1_758_110_400_000_000;

/// The `index`th attestation: listings are reported by `reports` miners each, in `miners`
/// miners' uploads of 1,000 rows; one miner in ten disagrees on the price.
pub(crate) fn attestation(index: usize, listings: usize, miners: usize, reports: usize) -> Event {
    let listing = index % listings;
    let round = index / listings;
    let miner = (listing + round * (miners / reports).max(1)) % miners;
    let hotkey = format!("5BenchMiner{miner:03}");
    let upload = index / 1_000;
    let price =
        250_000 + (listing as i64 % 500) * 1_000 + i64::from(miner.is_multiple_of(10)) * 5_000;
    let canonical = CanonicalListing {
        listing_id: (20_000_000 + listing).to_string(),
        price_usd: Some(price),
        bedrooms: Some(u16::try_from(listing % 5 + 1).unwrap_or(3)),
        bathrooms_tenths: Some(20),
        living_area_sqft: Some(1_200 + u32::try_from(listing % 900).unwrap_or(0)),
        address: Some(format!("{} MAIN ST", listing % 9_000 + 1)),
        home_type: Some("SINGLE_FAMILY".into()),
        home_status: Some("FOR_SALE".into()),
        zip_code: Some(format!("{:05}", 78_700 + listing % 40)),
        city: Some("AUSTIN".into()),
        state: Some("TX".into()),
        latitude_e7: Some(302_000_000 + i32::try_from(listing % 100_000).unwrap_or(0)),
        longitude_e7: Some(-977_000_000 - i32::try_from(listing % 100_000).unwrap_or(0)),
        ..CanonicalListing::default()
    };
    let at = START + i64::try_from(round).unwrap_or(0) * 24 * HOUR + (miner as i64) * 60_000_000;
    let payload = ListingAttested {
        upload_id: EventId(*blake3::hash(format!("{hotkey}/{upload}").as_bytes()).as_bytes()),
        row_index: (index % 1_000) as u64,
        miner_hotkey: hotkey.clone(),
        key: format!("data/hotkey={hotkey}/job_id=bench/data_{upload}.parquet"),
        job_id: "bench".into(),
        scraped_at: Timestamp::from_micros(at),
        submitted_at: Timestamp::from_micros(at + HOUR),
        content_hash: canonical.content_hash(),
        listing: canonical,
        miner_trust: 0.5 + (miner % 5) as f64 / 10.0,
        epoch_id: None,
        zipcode: None,
    };
    Event::new(
        EventPayload::ListingAttested(Box::new(payload)),
        Timestamp::from_micros(at),
        Timestamp::from_micros(at + HOUR),
    )
}

/// Reads every record of `topic` from offset 0 up to its end offsets now, without decoding;
/// seconds, and the machine's busy core-seconds meanwhile.
pub async fn raw_consume(kafka: &KafkaConfig, topic: &str) -> anyhow::Result<(f64, f64)> {
    let ends = resi_runtime::kafka::end_offsets(kafka, topic).await?;
    let (kafka, topic) = (kafka.clone(), topic.to_owned());
    let cpu = crate::cpu::Sample::now()?;
    let seconds = tokio::task::spawn_blocking(move || read_raw(&kafka, &topic, &ends)).await??;
    Ok((seconds, crate::cpu::Sample::now()?.busy_since(&cpu)))
}

fn read_raw(kafka: &KafkaConfig, topic: &str, ends: &BTreeMap<i32, i64>) -> anyhow::Result<f64> {
    let mut config = resi_runtime::kafka::client_config(kafka);
    config
        .set("group.id", resi_tests::unique_name("bench-raw"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .set("queued.max.messages.kbytes", "262144");
    let consumer: BaseConsumer = config.create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in ends.keys() {
        assignment.add_partition_offset(topic, *partition, Offset::Offset(0))?;
    }
    consumer.assign(&assignment)?;
    // done when every partition's position reaches its end offset (offsets may have gaps, so
    // records are not counted against the end offsets)
    let started = Instant::now();
    let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
    let mut bytes = 0_usize;
    let deadline = started + Duration::from_secs(1_800);
    while ends
        .iter()
        .any(|(partition, end)| positions.get(partition).copied().unwrap_or(0) < *end)
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "raw consume stalled at {positions:?}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            bytes += message.payload().map_or(0, <[u8]>::len);
            positions.insert(message.partition(), message.offset() + 1);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(bytes > 0, "read no payload");
    Ok(seconds)
}

fn reset_peak_rss() {
    // writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0); without it the peak includes setup
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A fresh, migrated database and fresh topics (12 attestation partitions) on the local stack.
pub async fn fresh_stack() -> anyhow::Result<(
    resi_runtime::config::PostgresConfig,
    deadpool_postgres::Pool,
    KafkaConfig,
)> {
    let postgres = resi_tests::fresh_database().await?;
    let pool = resi_runtime::postgres::pool(&postgres)?;
    resi_runtime::postgres::migrate(&pool).await?;
    let mut kafka = resi_tests::fresh_kafka();
    kafka.partitions.attestations = 12;
    resi_runtime::kafka::ensure_topics(&kafka).await?;
    Ok((postgres, pool, kafka))
}

/// How the rebuilding projector folds.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct FoldOptions {
    /// The projector's `batch_max_events` (default: the projector's own default).
    #[arg(long)]
    pub batch_events: Option<usize>,
    /// Fold every batch as it comes, even while behind the log (`stage_when_behind = false`).
    #[arg(long)]
    pub fold_each_batch: bool,
}

/// What [`rebuild`] measured.
pub struct Rebuilt {
    /// From the projector's start until its checkpoints reached the log's end.
    pub seconds: f64,
    /// This process's resident memory when the rebuild started, KiB.
    pub rss_start_kib: u64,
    /// Its peak resident memory during the rebuild, KiB.
    pub rss_peak_kib: u64,
    /// The machine's busy core-seconds over `seconds` (broker, Postgres and projector).
    pub busy_core_seconds: f64,
    /// The machine's cores.
    pub cores: usize,
}

/// Builds `projection` v1 from offset 0 with a projector in this process until its
/// checkpoints reach the end of the log, then stops it.
pub async fn rebuild(
    postgres: &resi_runtime::config::PostgresConfig,
    kafka: &KafkaConfig,
    pool: &deadpool_postgres::Pool,
    projection: ProjectionKind,
    fold: FoldOptions,
) -> anyhow::Result<Rebuilt> {
    let mut config = resi_projector::ProjectorServiceConfig {
        postgres: postgres.clone(),
        kafka: kafka.clone(),
        ..Default::default()
    };
    if let Some(events) = fold.batch_events {
        config.projector.batch_max_events = events;
    }
    config.projector.stage_when_behind = !fold.fold_each_batch;
    println!(
        "  projector batches of at most {} events, {}",
        config.projector.batch_max_events,
        if fold.fold_each_batch {
            "each folded as it comes"
        } else {
            "staged while behind the log and applied at its end (where the projection stages)"
        }
    );
    config.projector.projections = vec![ProjectionTarget::new(projection, "v1")];
    reset_peak_rss();
    let rss_start_kib = crate::peak_rss_kib()?;
    let cpu = crate::cpu::Sample::now()?;
    let started = Instant::now();
    let projector = resi_projector::Projector::build(&config).await?;
    let (trigger, shutdown) = resi_runtime::shutdown::Shutdown::new();
    let task = tokio::spawn(projector.run(shutdown));
    let client = pool.get().await?;
    let deadline = Instant::now() + Duration::from_secs(3_600);
    loop {
        // a busy broker can leave a watermark request unanswered (Tansu stalls during its
        // maintenance): asked again at the next check, as an operator's `versions` would be
        match resi_projector::operate::progress(&client, kafka, projection, "v1").await {
            Ok(progress) if progress.lag() == 0 => break,
            Ok(progress) => {
                anyhow::ensure!(Instant::now() < deadline, "rebuild stalled: {progress:?}");
            }
            Err(error) => {
                anyhow::ensure!(Instant::now() < deadline, "rebuild stalled: {error:#}");
                eprintln!("  progress unknown for now: {error:#}");
            }
        }
        // one checkpoint query and one watermark request per check
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let busy = crate::cpu::Sample::now()?;
    let rss_peak_kib = crate::peak_rss_kib()?;
    trigger.trigger();
    task.await??;
    Ok(Rebuilt {
        seconds,
        rss_start_kib,
        rss_peak_kib,
        busy_core_seconds: busy.busy_since(&cpu),
        cores: busy.cores,
    })
}

/// Runs the benchmark.
pub async fn bench_replay(
    projection: ProjectionKind,
    events: usize,
    listings: usize,
    miners: usize,
    fold: FoldOptions,
) -> anyhow::Result<()> {
    let (postgres, pool, kafka) = fresh_stack().await?;
    let topic = projection.topic(&resi_events::Topics::new(&kafka.topic_prefix));
    let reports = events.div_ceil(listings.max(1));
    println!(
        "replay: {} from {events} attestations ({listings} listings, {miners} miners, ~{reports} reports per listing), 12 partitions",
        projection.as_str()
    );
    let producer = resi_runtime::kafka::producer(&kafka)?;
    let mut in_flight = std::collections::VecDeque::new();
    let mut bytes = 0_usize;
    for index in 0..events {
        let event = attestation(index, listings, miners, reports);
        bytes += resi_events::codec::encode(&event).len();
        in_flight.push_back(resi_runtime::kafka::enqueue(&producer, &topic, &event).await?);
        if in_flight.len() >= 200_000
            && let Some(oldest) = in_flight.pop_front()
        {
            resi_runtime::kafka::delivered(oldest).await?;
        }
    }
    for delivery in in_flight {
        resi_runtime::kafka::delivered(delivery).await?;
    }
    println!(
        "replay: {events} events, {:.1} MiB encoded, in the log",
        bytes as f64 / 1_048_576.0
    );

    let (raw_before, raw_busy_before) = raw_consume(&kafka, &topic).await?;

    let rebuilt = rebuild(&postgres, &kafka, &pool, projection, fold).await?;
    let (replay, rss_before, rss_peak) =
        (rebuilt.seconds, rebuilt.rss_start_kib, rebuilt.rss_peak_kib);
    let client = pool.get().await?;

    let (raw_after, raw_busy_after) = raw_consume(&kafka, &topic).await?;
    let raw = (raw_before + raw_after) / 2.0;
    let raw_busy = (raw_busy_before + raw_busy_after) / 2.0;
    let total = events as f64;
    println!(
        "replay: {} v1 from offset 0 to caught up: {replay:.2} s = {:.0} events/s (consume, decode, fold, commit with checkpoints)",
        projection.as_str(),
        total / replay
    );
    println!(
        "replay: raw consume of the same topic: {raw:.2} s = {:.0} records/s (mean of {:.0} before and {:.0} after)",
        total / raw,
        total / raw_before,
        total / raw_after
    );
    println!("replay: replay / raw = {:.0} %", 100.0 * raw / replay);
    print_cpu(total, raw, raw_busy, &rebuilt);
    println!(
        "replay: peak RSS during the replay {:.1} MiB (at its start {:.1} MiB)",
        rss_peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    let sizes = client
        .query_one(
            &format!(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = '{}_v1' AND c.relkind = 'r'",
                projection.as_str()
            ),
            &[],
        )
        .await?;
    println!(
        "replay: tables of {}_v1: {}",
        projection.as_str(),
        sizes.get::<_, Option<String>>(0).unwrap_or_default()
    );
    drop(client);
    discard(&postgres, &pool).await;
    Ok(())
}

/// What the machine's cores did: the work of the raw read and of the replay in core-seconds,
/// and the ratio the replay's work allows at best on these cores, however it were scheduled.
fn print_cpu(events: f64, raw: f64, raw_busy: f64, rebuilt: &Rebuilt) {
    let (replay, busy, cores) = (rebuilt.seconds, rebuilt.busy_core_seconds, rebuilt.cores);
    println!(
        "replay: machine busy (all processes, {cores} cores): raw read {raw_busy:.1} core-s ({:.2} cores), replay {busy:.1} core-s ({:.2} cores, {:.1} µs per event)",
        raw_busy / raw,
        busy / replay,
        busy * 1e6 / events
    );
    let floor = busy / cores as f64;
    println!(
        "replay: {busy:.1} core-s on {cores} cores take at least {floor:.2} s: replay / raw at most {:.0} % on this machine; beyond the raw read's work {:.1} core-s ({:.1} µs per event)",
        100.0 * raw / floor.max(f64::EPSILON),
        busy - raw_busy,
        (busy - raw_busy) * 1e6 / events
    );
}

/// Drops a run's database: the next run (or the test suite) would otherwise share the disk and
/// the page cache with it, and a 5 M rebuild leaves about 6 GB.
pub async fn discard(
    postgres: &resi_runtime::config::PostgresConfig,
    pool: &deadpool_postgres::Pool,
) {
    pool.close();
    if let Err(error) = resi_tests::drop_database(postgres).await {
        println!("could not drop this run's database: {error:#}");
    }
}
