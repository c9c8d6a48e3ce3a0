//! `resi export snapshot`: the live consensus as open data. Parquet (zstd) under
//! `{prefix}snapshots/{date}/state={ST}/part-NNNNN.parquet`, sorted by zip code so that readers
//! prune row groups; each complete day's attestations not exported yet under
//! `{prefix}attestations/date={day}/part-NNNNN.parquet`; and `{prefix}snapshots/{date}/manifest.json`
//! naming the build, the log offsets it reflects, and every file with its rows and blake3.
//!
//! Everything is read in one repeatable-read transaction, so the rows, the checkpoints and the
//! build agree; rows stream through a cursor into one part file at a time, so memory is bounded
//! by `fetch_rows` and the row group size, never by the data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use tokio_postgres::Transaction;
use tracing::Instrument;

/// The manifest's schema version: bumped when a file's columns change.
pub const SCHEMA_VERSION: u32 = 2;

/// Hive's name for a partition whose value is missing (or not a plain state code).
const UNKNOWN_STATE: &str = "__HIVE_DEFAULT_PARTITION__";

/// Settings of the open-data export (`[open_data]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenDataConfig {
    /// Bucket written to; the upload bucket (`s3.bucket`) when unset.
    pub bucket: Option<String>,
    /// Key prefix of everything written.
    pub prefix: String,
    /// Rows per part file at most (a state with more is split).
    pub part_rows: u64,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// Rows fetched from Postgres at a time.
    pub fetch_rows: i64,
    /// Days of attestations one run writes at most (a first run backfills this many).
    pub max_days: u32,
}

impl Default for OpenDataConfig {
    fn default() -> Self {
        Self {
            bucket: None,
            prefix: "open-data/".to_owned(),
            part_rows: 1_000_000,
            row_group_rows: 100_000,
            fetch_rows: 10_000,
            max_days: 31,
        }
    }
}

/// One file written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its key in the bucket.
    pub key: String,
    /// Rows it holds.
    pub rows: u64,
    /// Its size.
    pub bytes: u64,
    /// blake3 of its bytes, hex.
    pub blake3: String,
}

/// A dataset: its files and their rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    /// Rows over every file.
    pub rows: u64,
    /// Every file.
    pub files: Vec<FileEntry>,
}

/// A day of attestations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// The day (UTC, by the time the upload was observed in the bucket).
    pub date: NaiveDate,
    /// Its files.
    #[serde(flatten)]
    pub dataset: Dataset,
}

/// The consensus build a snapshot reflects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    /// Its version name.
    pub version: String,
    /// The algorithm it runs.
    pub algorithm: Option<String>,
    /// Every parameter of it.
    pub params: BTreeMap<String, String>,
    /// The next offset of every partition of the attestations topic it had folded.
    pub offsets: BTreeMap<String, BTreeMap<i32, i64>>,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// See [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The snapshot's date.
    pub date: NaiveDate,
    /// When it was written.
    pub written_at: DateTime<Utc>,
    /// The consensus build and the log offsets the listings reflect.
    pub consensus: Build,
    /// The listing version its first-report times come from.
    pub listing_version: String,
    /// The scores version whose validators' verdicts fill the validation columns (none before
    /// one is built: every row unvalidated).
    #[serde(default)]
    pub validation_version: Option<String>,
    /// The listings.
    pub listings: Dataset,
    /// Days of attestations this run wrote (earlier days are in earlier snapshots' manifests
    /// and under their `date=` prefix).
    pub attestations: Vec<Day>,
}

/// A column of a file: its name and type; the statement yields the values in this order,
/// after the partition value.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int64,
    Int32,
    Float64,
    Timestamp,
    Bool,
}

const LISTING_COLUMNS: [(&str, Kind); 19] = [
    ("listing_id", Kind::Text),
    ("zip_code", Kind::Text),
    ("city", Kind::Text),
    ("address", Kind::Text),
    ("price_usd", Kind::Int64),
    ("bedrooms", Kind::Int32),
    ("bathrooms", Kind::Float64),
    ("living_area_sqft", Kind::Int32),
    ("home_type", Kind::Text),
    ("home_status", Kind::Text),
    ("latitude", Kind::Float64),
    ("longitude", Kind::Float64),
    ("consensus_score", Kind::Float64),
    ("unique_miners", Kind::Int32),
    ("first_reported_at", Kind::Timestamp),
    ("last_reported_at", Kind::Timestamp),
    ("is_validated", Kind::Bool),
    ("validation_score", Kind::Float64),
    ("validation_timestamp", Kind::Timestamp),
];

const ATTESTATION_COLUMNS: [(&str, Kind); 23] = [
    ("attestation_id", Kind::Text),
    ("listing_id", Kind::Text),
    ("miner_hotkey", Kind::Text),
    ("upload_key", Kind::Text),
    ("scraped_at", Kind::Timestamp),
    ("submitted_at", Kind::Timestamp),
    ("price_usd", Kind::Int64),
    ("bedrooms", Kind::Int32),
    ("bathrooms", Kind::Float64),
    ("living_area_sqft", Kind::Int32),
    ("address", Kind::Text),
    ("home_type", Kind::Text),
    ("home_status", Kind::Text),
    ("zip_code", Kind::Text),
    ("city", Kind::Text),
    ("state", Kind::Text),
    ("latitude", Kind::Float64),
    ("longitude", Kind::Float64),
    ("miner_trust", Kind::Float64),
    ("epoch_id", Kind::Text),
    ("is_validated", Kind::Bool),
    ("validation_score", Kind::Float64),
    ("validation_timestamp", Kind::Timestamp),
];

fn schema(columns: &[(&str, Kind)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, kind)| {
                let data_type = match kind {
                    Kind::Text => DataType::Utf8,
                    Kind::Int64 => DataType::Int64,
                    Kind::Int32 => DataType::Int32,
                    Kind::Float64 => DataType::Float64,
                    Kind::Bool => DataType::Boolean,
                    Kind::Timestamp => {
                        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
                    }
                };
                // ids are never null; every reported value may be
                Field::new(
                    *name,
                    data_type,
                    !name.ends_with("_id") || *name == "epoch_id",
                )
            })
            .collect::<Vec<_>>(),
    ))
}

/// Column builders for one batch.
enum Builder {
    Text(StringBuilder),
    Int64(Int64Builder),
    Int32(Int32Builder),
    Float64(Float64Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Bool(BooleanBuilder),
}

impl Builder {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Text => Self::Text(StringBuilder::new()),
            Kind::Int64 => Self::Int64(Int64Builder::new()),
            Kind::Int32 => Self::Int32(Int32Builder::new()),
            Kind::Float64 => Self::Float64(Float64Builder::new()),
            Kind::Bool => Self::Bool(BooleanBuilder::new()),
            Kind::Timestamp => {
                Self::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
        }
    }

    fn push(&mut self, row: &tokio_postgres::Row, index: usize) -> anyhow::Result<()> {
        match self {
            Self::Text(builder) => builder.append_option(row.try_get::<_, Option<&str>>(index)?),
            Self::Int64(builder) => builder.append_option(row.try_get::<_, Option<i64>>(index)?),
            Self::Int32(builder) => builder.append_option(row.try_get::<_, Option<i32>>(index)?),
            Self::Float64(builder) => {
                builder.append_option(row.try_get::<_, Option<f64>>(index)?);
            }
            Self::Timestamp(builder) => builder.append_option(
                row.try_get::<_, Option<DateTime<Utc>>>(index)?
                    .map(|time| time.timestamp_micros()),
            ),
            Self::Bool(builder) => builder.append_option(row.try_get::<_, Option<bool>>(index)?),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Text(builder) => Arc::new(builder.finish()),
            Self::Int64(builder) => Arc::new(builder.finish()),
            Self::Int32(builder) => Arc::new(builder.finish()),
            Self::Float64(builder) => Arc::new(builder.finish()),
            Self::Timestamp(builder) => Arc::new(builder.finish()),
            Self::Bool(builder) => Arc::new(builder.finish()),
        }
    }
}

/// Part files of one dataset: one open at a time, written to a scratch file, uploaded when it
/// is closed.
struct Parts<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    /// Key prefix of the dataset (`…/snapshots/{date}/`).
    prefix: String,
    /// The partition column's name in keys (`state`, `date`).
    partition_name: &'static str,
    columns: &'static [(&'static str, Kind)],
    schema: SchemaRef,
    config: &'a OpenDataConfig,
    scratch: PathBuf,
    builders: Vec<Builder>,
    buffered: usize,
    open: Option<Part>,
    /// Parts written per partition value so far.
    counts: BTreeMap<String, usize>,
    dataset: Dataset,
}

struct Part {
    partition: String,
    key: String,
    path: PathBuf,
    writer: ArrowWriter<std::fs::File>,
    rows: u64,
}

impl<'a> Parts<'a> {
    fn new(
        (s3, bucket): (&'a aws_sdk_s3::Client, &'a str),
        prefix: String,
        (partition_name, columns): (&'static str, &'static [(&'static str, Kind)]),
        config: &'a OpenDataConfig,
        scratch: &Path,
    ) -> Self {
        Self {
            s3,
            bucket,
            prefix,
            partition_name,
            columns,
            schema: schema(columns),
            config,
            scratch: scratch.to_owned(),
            builders: columns
                .iter()
                .map(|(_, kind)| Builder::new(*kind))
                .collect(),
            buffered: 0,
            open: None,
            counts: BTreeMap::new(),
            dataset: Dataset::default(),
        }
    }

    /// Adds a row whose column 0 is the partition value and whose next columns follow
    /// `columns`.
    async fn push(&mut self, row: &tokio_postgres::Row) -> anyhow::Result<()> {
        let partition: &str = row.try_get(0)?;
        let switch = self.open.as_ref().is_none_or(|part| {
            part.partition != partition || part.rows + self.buffered as u64 >= self.config.part_rows
        });
        if switch {
            self.close().await?;
            self.open(partition)?;
        }
        for (index, builder) in self.builders.iter_mut().enumerate() {
            builder
                .push(row, index + 1)
                .with_context(|| format!("column {}", self.columns[index].0))?;
        }
        self.buffered += 1;
        if self.buffered >= 8_192 {
            self.flush()?;
        }
        Ok(())
    }

    fn open(&mut self, partition: &str) -> anyhow::Result<()> {
        let index = self.counts.entry(partition.to_owned()).or_default();
        let key = format!(
            "{}{}={partition}/part-{index:05}.parquet",
            self.prefix, self.partition_name
        );
        *index += 1;
        let path = self
            .scratch
            .join(format!("part-{}.parquet", self.dataset.files.len()));
        let file = std::fs::File::create(&path)
            .with_context(|| format!("failed to create {}", path.display()))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(self.config.row_group_rows.max(1)))
            .build();
        self.open = Some(Part {
            partition: partition.to_owned(),
            key,
            path,
            writer: ArrowWriter::try_new(file, self.schema.clone(), Some(properties))?,
            rows: 0,
        });
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        let part = self
            .open
            .as_mut()
            .context("rows buffered with no part open")?;
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        part.writer
            .write(&RecordBatch::try_new(self.schema.clone(), columns)?)?;
        part.rows += self.buffered as u64;
        self.buffered = 0;
        Ok(())
    }

    /// Closes the open part and uploads it.
    async fn close(&mut self) -> anyhow::Result<()> {
        self.flush()?;
        let Some(part) = self.open.take() else {
            return Ok(());
        };
        part.writer.close()?;
        let bytes = std::fs::metadata(&part.path)?.len();
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(std::fs::File::open(&part.path)?)?;
        let body = ByteStream::from_path(&part.path)
            .await
            .with_context(|| format!("failed to read {}", part.path.display()))?;
        self.s3
            .put_object()
            .bucket(self.bucket)
            .key(&part.key)
            .content_type("application/vnd.apache.parquet")
            .body(body)
            .send()
            .instrument(tracing::info_span!("s3.put_object", key = %part.key, bytes))
            .await
            .with_context(|| format!("failed to upload s3://{}/{}", self.bucket, part.key))?;
        std::fs::remove_file(&part.path).ok();
        self.dataset.rows += part.rows;
        self.dataset.files.push(FileEntry {
            key: part.key,
            rows: part.rows,
            bytes,
            blake3: hasher.finalize().to_hex().to_string(),
        });
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<Dataset> {
        self.close().await?;
        Ok(self.dataset)
    }
}

/// Streams the rows of `statement` (column 0 the partition value) into `parts`.
async fn stream(
    transaction: &Transaction<'_>,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    fetch_rows: i64,
    parts: &mut Parts<'_>,
) -> anyhow::Result<()> {
    transaction
        .execute(
            &format!("DECLARE open_data NO SCROLL CURSOR FOR {statement}"),
            params,
        )
        .instrument(tracing::info_span!("postgres.declare"))
        .await
        .context("failed to open the export's cursor")?;
    loop {
        let rows = transaction
            .query(
                &format!("FETCH FORWARD {} FROM open_data", fetch_rows.max(1)),
                &[],
            )
            .instrument(tracing::info_span!("postgres.fetch"))
            .await
            .context("failed to fetch rows to export")?;
        for row in &rows {
            parts.push(row).await?;
        }
        if rows.is_empty() {
            break;
        }
    }
    transaction
        .batch_execute("CLOSE open_data")
        .await
        .context("failed to close the export's cursor")?;
    Ok(())
}

/// The live version of `projection`: (version, schema).
async fn live(
    transaction: &deadpool_postgres::Transaction<'_>,
    projection: &str,
) -> anyhow::Result<(String, String)> {
    resi_runtime::postgres::live_version(transaction, projection)
        .await?
        .with_context(|| format!("no live {projection} version to export"))
}

/// The validation columns of the snapshot's listings and of the attestations (`a`), from the
/// live scores version's verdicts when there is one: an attestation is validated when
/// validators confirmed its miner in its epoch; a listing when any of its attestations is.
fn validation_sql(listing: &str, scores: Option<&str>) -> [(String, String); 2] {
    match scores {
        Some(scores) => [
            (
                "COALESCE(val.is_validated, false), val.validation_score, val.validation_timestamp"
                    .to_owned(),
                // from the verdicts, through the attestations' epoch index: no scan of every
                // attestation when few epochs were judged
                format!(
                    "LEFT JOIN (SELECT a.listing_id, bool_or(v.verdict = 'confirmed') AS is_validated,
                                       max(v.validation_score) AS validation_score,
                                       max(v.validated_at) AS validation_timestamp
                                FROM {scores}.miner_validations v
                                JOIN {listing}.miner_attestations a
                                  ON a.epoch_id = v.epoch_id AND a.miner_hotkey = v.miner_hotkey
                                GROUP BY a.listing_id) val USING (listing_id)"
                ),
            ),
            (
                "COALESCE(v.verdict = 'confirmed', false), v.validation_score, v.validated_at"
                    .to_owned(),
                format!(
                    "LEFT JOIN {scores}.miner_validations v
                       ON v.epoch_id = a.epoch_id AND v.miner_hotkey = a.miner_hotkey"
                ),
            ),
        ],
        None => [
            (
                "false, NULL::float8, NULL::timestamptz".to_owned(),
                String::new(),
            ),
            (
                "false, NULL::float8, NULL::timestamptz".to_owned(),
                String::new(),
            ),
        ],
    }
}

/// Writes the snapshot of `date` and every complete day of attestations up to `through` not
/// exported yet (at most `max_days`), and records them in `open_data_exports`.
pub async fn snapshot(
    pool: &deadpool_postgres::Pool,
    (s3, upload_bucket): (&aws_sdk_s3::Client, &str),
    config: &OpenDataConfig,
    date: NaiveDate,
    through: NaiveDate,
) -> anyhow::Result<Manifest> {
    let bucket = config.bucket.as_deref().unwrap_or(upload_bucket);
    let scratch = tempfile::tempdir().context("failed to make a scratch directory")?;
    let mut client = resi_runtime::postgres::connection(pool).await?;
    let transaction = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .context("failed to begin the export's transaction")?;
    let (version, consensus) = live(&transaction, "consensus").await?;
    let (listing_version, listing) = live(&transaction, "listing").await?;
    let scores = resi_runtime::postgres::live_version(&transaction, "scores").await?;
    let [
        (listing_validation, listing_validation_join),
        (attestation_validation, attestation_validation_join),
    ] = validation_sql(&listing, scores.as_ref().map(|(_, schema)| schema.as_str()));
    let (algorithm, params) =
        match resi_projector::consensus::recorded(&transaction, &version).await? {
            Some((name, params)) => (Some(name), params),
            None => (None, BTreeMap::new()),
        };
    let mut offsets: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
    for row in transaction
        .query(
            "SELECT topic, partition, next_offset FROM projection_checkpoints
              WHERE projection = 'consensus' AND version = $1",
            &[&version],
        )
        .await?
    {
        offsets
            .entry(row.get(0))
            .or_default()
            .insert(row.get(1), row.get(2));
    }

    let snapshot_prefix = format!("{}snapshots/{date}/", config.prefix);
    let mut parts = Parts::new(
        (s3, bucket),
        snapshot_prefix.clone(),
        ("state", &LISTING_COLUMNS),
        config,
        scratch.path(),
    );
    stream(
        &transaction,
        &format!(
            "SELECT CASE WHEN c.state ~ '^[A-Z]{{2}}$' THEN c.state ELSE '{UNKNOWN_STATE}' END
                      AS part,
                    c.listing_id, c.zip_code, c.city, c.address, c.price_usd, c.bedrooms,
                    c.bathrooms_tenths / 10.0::float8, c.living_area_sqft, c.home_type,
                    c.home_status, c.latitude_e7 / 1e7::float8, c.longitude_e7 / 1e7::float8,
                    c.consensus_score, c.unique_miners, l.first_seen_at, c.last_reported_at,
                    {listing_validation}
             FROM {consensus}.consensus_listings c
             LEFT JOIN {listing}.listings l USING (listing_id)
             {listing_validation_join}
             ORDER BY 1, c.zip_code COLLATE \"C\", c.listing_id COLLATE \"C\""
        ),
        &[],
        config.fetch_rows,
        &mut parts,
    )
    .await?;
    let listings = parts.finish().await?;

    // complete days not exported yet, oldest first
    let last: Option<NaiveDate> = transaction
        .query_one(
            "SELECT max(day) FROM open_data_exports WHERE kind = 'attestations'",
            &[],
        )
        .await
        .context("failed to read what was exported before")?
        .get(0);
    let first: Option<NaiveDate> = match last {
        Some(day) => day.succ_opt(),
        None => transaction
            .query_one(
                &format!("SELECT min(submitted_at)::date FROM {listing}.miner_attestations"),
                &[],
            )
            .await?
            .get(0),
    };
    let mut days = Vec::new();
    if let Some(first) = first {
        let first = first.max(through - chrono::Days::new(u64::from(config.max_days.max(1)) - 1));
        let mut day = first;
        while day <= through {
            let prefix = format!("{}attestations/", config.prefix);
            let mut parts = Parts::new(
                (s3, bucket),
                prefix,
                ("date", &ATTESTATION_COLUMNS),
                config,
                scratch.path(),
            );
            let start = day.and_hms_opt(0, 0, 0).context("midnight")?.and_utc();
            let end = start + chrono::Duration::days(1);
            stream(
                &transaction,
                &format!(
                    "SELECT $3::text, encode(a.attestation_id, 'hex'), a.listing_id,
                            a.miner_hotkey, a.upload_key, a.scraped_at, a.submitted_at,
                            a.price_usd, a.bedrooms, a.bathrooms_tenths / 10.0::float8,
                            a.living_area_sqft, a.address, a.home_type, a.home_status,
                            a.zip_code, a.city, a.state, a.latitude_e7 / 1e7::float8,
                            a.longitude_e7 / 1e7::float8, a.miner_trust, a.epoch_id,
                            {attestation_validation}
                     FROM {listing}.miner_attestations a
                     {attestation_validation_join}
                     WHERE a.submitted_at >= $1 AND a.submitted_at < $2
                     ORDER BY a.zip_code COLLATE \"C\", a.listing_id COLLATE \"C\",
                              a.scraped_at, a.attestation_id"
                ),
                &[&start, &end, &day.to_string()],
                config.fetch_rows,
                &mut parts,
            )
            .await?;
            days.push(Day {
                date: day,
                dataset: parts.finish().await?,
            });
            day = day.succ_opt().context("the calendar ended")?;
        }
    }
    transaction.commit().await?;

    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        validation_version: scores.as_ref().map(|(version, _)| version.clone()),
        date,
        written_at: Utc::now(),
        consensus: Build {
            version,
            algorithm,
            params,
            offsets,
        },
        listing_version,
        listings,
        attestations: days,
    };
    let manifest_key = format!("{snapshot_prefix}manifest.json");
    let body = serde_json::to_vec_pretty(&manifest)?;
    s3.put_object()
        .bucket(bucket)
        .key(&manifest_key)
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .instrument(tracing::info_span!("s3.put_object", key = %manifest_key))
        .await
        .with_context(|| format!("failed to upload s3://{bucket}/{manifest_key}"))?;

    // recorded once everything is in the bucket: a run that fails before writes it all again
    let mut client = resi_runtime::postgres::connection(pool).await?;
    let transaction = client.transaction().await?;
    let document = serde_json::to_value(&manifest)?;
    transaction
        .execute(
            "INSERT INTO open_data_exports (kind, day, bucket, key, rows, manifest)
             VALUES ('snapshot', $1, $2, $3, $4, $5)
             ON CONFLICT (kind, day) DO UPDATE SET bucket = EXCLUDED.bucket, key = EXCLUDED.key,
               rows = EXCLUDED.rows, manifest = EXCLUDED.manifest, written_at = now()",
            &[
                &date,
                &bucket,
                &manifest_key,
                &i64::try_from(manifest.listings.rows)?,
                &document,
            ],
        )
        .await?;
    for day in &manifest.attestations {
        let key = format!("{}attestations/date={}/", config.prefix, day.date);
        transaction
            .execute(
                "INSERT INTO open_data_exports (kind, day, bucket, key, rows, manifest)
                 VALUES ('attestations', $1, $2, $3, $4, $5)
                 ON CONFLICT (kind, day) DO UPDATE SET bucket = EXCLUDED.bucket,
                   key = EXCLUDED.key, rows = EXCLUDED.rows, manifest = EXCLUDED.manifest,
                   written_at = now()",
                &[
                    &day.date,
                    &bucket,
                    &key,
                    &i64::try_from(day.dataset.rows)?,
                    &serde_json::to_value(day)?,
                ],
            )
            .await?;
    }
    transaction.commit().await?;
    tracing::info!(
        date = %date,
        listings = manifest.listings.rows,
        files = manifest.listings.files.len(),
        days = manifest.attestations.len(),
        "open-data snapshot written"
    );
    Ok(manifest)
}
