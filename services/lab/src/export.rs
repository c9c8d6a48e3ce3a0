//! `resi lab export`: the attestations topic, from offset 0 to its end offsets when the export
//! starts, as Parquet files partitioned by scrape date.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Message as _, Offset, TopicPartitionList};
use resi_events::EventPayload;
use resi_runtime::config::KafkaConfig;
use serde::Serialize;

use crate::attestations::{self, Row};

/// Which attestations to export.
#[derive(Clone, Debug, Default)]
pub struct Slice {
    /// Scraped at or after, microseconds.
    pub from: Option<i64>,
    /// Scraped before, microseconds.
    pub until: Option<i64>,
    /// Only listings of these zip codes (all when empty).
    pub zipcodes: Vec<String>,
}

impl Slice {
    fn holds(&self, row: &Row) -> bool {
        self.from.is_none_or(|from| row.scraped_at >= from)
            && self.until.is_none_or(|until| row.scraped_at < until)
            && (self.zipcodes.is_empty()
                || row
                    .listing
                    .zip_code
                    .as_ref()
                    .is_some_and(|zip| self.zipcodes.contains(zip)))
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Exported {
    /// Records read from the topic.
    pub records: u64,
    /// Attestations written.
    pub attestations: u64,
    /// Records that did not decode as events of a schema this build knows (skipped).
    pub undecodable: u64,
    /// Files written, by path.
    pub files: Vec<PathBuf>,
    /// The end offset of each partition the export read up to (what it reflects).
    pub offsets: BTreeMap<i32, i64>,
}

/// Rows buffered per output file before they are written as a row group.
const ROW_GROUP: usize = 65_536;

/// One open output file per scrape date.
struct Partitions {
    root: PathBuf,
    writers: BTreeMap<String, (ArrowWriter<std::fs::File>, Vec<Row>, PathBuf)>,
}

impl Partitions {
    fn push(&mut self, row: Row) -> anyhow::Result<()> {
        let date = chrono::DateTime::from_timestamp_micros(row.scraped_at).map_or_else(
            || "unknown".to_owned(),
            |at| at.format("%Y-%m-%d").to_string(),
        );
        if !self.writers.contains_key(&date) {
            let directory = self.root.join(format!("date={date}"));
            std::fs::create_dir_all(&directory)
                .with_context(|| format!("failed to create {}", directory.display()))?;
            let path = directory.join("part-0.parquet");
            let file = std::fs::File::create(&path)
                .with_context(|| format!("failed to create {}", path.display()))?;
            let properties = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
                .build();
            let writer = ArrowWriter::try_new(file, attestations::schema(), Some(properties))?;
            self.writers
                .insert(date.clone(), (writer, Vec::new(), path));
        }
        let (writer, rows, _) = self
            .writers
            .get_mut(&date)
            .context("the date's writer was just made")?;
        rows.push(row);
        if rows.len() >= ROW_GROUP {
            writer.write(&attestations::batch(rows)?)?;
            rows.clear();
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        for (_, (mut writer, rows, path)) in self.writers {
            if !rows.is_empty() {
                writer.write(&attestations::batch(&rows)?)?;
            }
            writer.close()?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// Exports the attestations of `kafka`'s attestations topic that `slice` holds into `root`
/// (`date=YYYY-MM-DD/part-0.parquet`), reading every partition from offset 0 to its end offset
/// when the export starts. Memory holds one row group per date being written.
pub async fn export(kafka: &KafkaConfig, root: &Path, slice: &Slice) -> anyhow::Result<Exported> {
    let topic = resi_events::Topics::new(&kafka.topic_prefix).attestations();
    let ends = resi_runtime::kafka::end_offsets(kafka, &topic).await?;
    let (kafka, root, slice) = (kafka.clone(), root.to_owned(), slice.clone());
    tokio::task::spawn_blocking(move || read_topic(&kafka, &topic, &ends, &root, &slice))
        .await
        .context("the export's reader panicked")?
}

fn read_topic(
    kafka: &KafkaConfig,
    topic: &str,
    ends: &BTreeMap<i32, i64>,
    root: &Path,
    slice: &Slice,
) -> anyhow::Result<Exported> {
    let mut config = resi_runtime::kafka::client_config(kafka);
    config
        .set("group.id", "resi-lab-export")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100");
    let consumer: BaseConsumer = config.create().context("failed to create a consumer")?;
    let mut assignment = TopicPartitionList::new();
    for partition in ends.keys() {
        assignment.add_partition_offset(topic, *partition, Offset::Offset(0))?;
    }
    consumer.assign(&assignment)?;
    let mut partitions = Partitions {
        root: root.to_owned(),
        writers: BTreeMap::new(),
    };
    let mut exported = Exported {
        offsets: ends.clone(),
        ..Exported::default()
    };
    let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
    let mut last_moved = Instant::now();
    let total: i64 = ends.values().sum();
    let bar = crate::progress::bar("exporting", usize::try_from(total).unwrap_or(0));
    // done when every partition's position reaches its end offset (offsets may have gaps)
    while ends
        .iter()
        .any(|(partition, end)| positions.get(partition).copied().unwrap_or(0) < *end)
    {
        anyhow::ensure!(
            last_moved.elapsed() < Duration::from_secs(120),
            "the export stopped moving at {positions:?} (ends {ends:?})"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.context("failed to read the attestations topic")?;
        last_moved = Instant::now();
        if message.offset() >= ends.get(&message.partition()).copied().unwrap_or(0) {
            continue;
        }
        positions.insert(message.partition(), message.offset() + 1);
        bar.inc(1);
        exported.records += 1;
        let Some(payload) = message.payload() else {
            continue;
        };
        // a record the lab cannot decode is not an attestation it can use: counted, not fatal
        let Ok(event) = resi_events::decode(payload) else {
            exported.undecodable += 1;
            continue;
        };
        if let EventPayload::ListingAttested(attested) = &event.payload {
            let row = Row::of(&event.id, attested);
            if slice.holds(&row) {
                partitions.push(row)?;
                exported.attestations += 1;
            }
        }
    }
    bar.finish_and_clear();
    exported.files = partitions.finish()?;
    Ok(exported)
}
