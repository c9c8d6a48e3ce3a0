//! Deterministic sample data: what miners upload to S3, good and bad.
//!
//! A seeded model of the world — listings with true values that genuinely change over time —
//! is observed by simulated miners. Each listing is reported by about `reports_per_listing`
//! miners; careless miners disagree on some fields, and misbehaving ones fake prices, repeat
//! listings inside a file, flood the system or report wrong zip codes. Files are laid out exactly
//! as miners write them:
//!
//! * v1: `data/hotkey={hotkey}/job_id={job_id}/data_{YYYYMMDD_HHMMSS}_{count}.parquet`, in the
//!   tidy shape (every column typed and filled) or the shape the network's miners really write
//!   (six columns `null`-typed, the zip code only in `label` and `address`, NaT scrape times,
//!   file names in the miner's local time), or the nested property schema's (all fifteen
//!   content columns `null`-typed)
//! * v2: `data/hotkey={hotkey}/epoch={epoch_id}/listings.parquet` + `metadata.json`
//! * epoch JSON: `data/hotkey={hotkey}/[data/hotkey={hotkey}/]epoch={epoch_id}/zipcode={zip}/data_{local time}.json`,
//!   one document per zipcode, from real scrapers or the network's mock scraper
//!
//! On request it also writes every kind of bad input the pipeline must survive. A manifest
//! (`_resi/manifest.json`, outside the upload prefix) lists every object with the outcome the
//! pipeline should record for it, so tests can check the whole run.
//!
//! The same seed and knobs always give byte-identical objects.

mod bad_inputs;
pub mod epoch_world;
pub mod geography;
pub mod json_files;
pub mod parquet_files;
pub mod report;
mod sink;
mod world;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

pub use sink::Sink;

/// Key of the manifest, outside the upload prefix so the bridge never takes it for an upload.
pub const MANIFEST_KEY: &str = "_resi/manifest.json";

/// Where a run writes the truth of every listing it simulated (JSON lines, one [`TrueListing`]
/// each), beside the manifest and outside the prefixes the bridge reads.
pub const TRUTH_KEY: &str = "_resi/truth.jsonl";

/// What a listing really is at the end of a run: what a consensus should decide, field by
/// field, in the units the attestations carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrueListing {
    /// The listing's id (its zpid).
    pub listing_id: String,
    /// Price, whole dollars (after any change).
    pub price_usd: i64,
    /// Bedrooms.
    pub bedrooms: i64,
    /// Bathrooms, tenths.
    pub bathrooms_tenths: i64,
    /// Living area, square feet.
    pub living_area_sqft: i64,
    /// Status (after any change).
    pub home_status: String,
    /// Zip code.
    pub zip_code: String,
    /// Latitude, 1e-7 degrees.
    pub latitude_e7: i64,
    /// Longitude, 1e-7 degrees.
    pub longitude_e7: i64,
    /// Whether its price or status genuinely changed during the run.
    pub changed: bool,
}

/// The knobs of a dataset.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Honest miners (of which `v2_miners`, `epoch_json_miners` and `real_v1_miners` upload in
    /// those layouts, the rest in the tidy v1 shape).
    pub honest_miners: usize,
    /// Honest miners that upload v2 (epoch) files instead of v1.
    pub v2_miners: usize,
    /// Honest miners that upload one epoch JSON document per zipcode, as the network's miners do.
    pub epoch_json_miners: usize,
    /// Honest miners that write v1 files the way the network's miners really do.
    pub real_v1_miners: usize,
    /// Miners on the nested property schema: v1 files whose content columns are all `null`.
    pub nested_schema_miners: usize,
    /// Miners running the network's mock scraper: epoch JSON of made-up listings.
    pub mock_scraper_miners: usize,
    /// How many hours the clocks in real-shaped file names are behind UTC (the miners' local
    /// time).
    pub local_clock_behind_hours: u32,
    /// Distinct listings in the world.
    pub listings: usize,
    /// Zip-code areas the listings lie in (at most 40).
    pub areas: usize,
    /// Areas each miner scrapes (its jobs, one `job_id` per zip code).
    pub zips_per_miner: usize,
    /// How many miners report each listing (overlap), capped at the number of miners.
    pub reports_per_listing: usize,
    /// Upload rounds.
    pub rounds: usize,
    /// Hours between rounds: 2 is the network's cadence; days or weeks make a world in which a
    /// listing's reports span enough time for recency to matter.
    pub round_hours: usize,
    /// Start of the first round.
    pub start: DateTime<Utc>,
    /// Probability that a careless report gets a field wrong, per field.
    pub disagreement_rate: f64,
    /// Share of listings whose price or status genuinely changes during the run.
    pub change_rate: f64,
    /// Probability that a miner which reported a listing before it changed scrapes it again
    /// after; below 1, stale reports outlive the change.
    pub rescrape_rate: f64,
    /// Probability that an optional value is missing.
    pub null_rate: f64,
    /// Miners that report fake prices.
    pub fake_price_miners: usize,
    /// Miners whose files repeat listings (duplicate zpids inside one file).
    pub duplicate_miners: usize,
    /// Miners that also upload one flood file of fabricated listings.
    pub flood_miners: usize,
    /// Rows in each flood file.
    pub flood_rows: usize,
    /// Miners that report wrong (but well-formed) zip codes.
    pub wrong_zip_miners: usize,
    /// Also write the bad inputs (truncated, not Parquet, wrong types, missing columns, bad path,
    /// count mismatch, zero rows, v2 metadata problems).
    pub bad_inputs: bool,
    /// Rows of one extra huge file (e.g. 1,000,000); 0 for none.
    pub huge_file_rows: usize,
    /// Maximum rows per Parquet row group (pyarrow's default is 1,048,576).
    pub row_group_rows: usize,
    /// Also write each file's rows as JSON lines (`{key}.jsonl`) for building fixtures with pandas.
    pub emit_jsonl: bool,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: 46,
            honest_miners: 8,
            v2_miners: 1,
            epoch_json_miners: 2,
            real_v1_miners: 3,
            nested_schema_miners: 1,
            mock_scraper_miners: 1,
            local_clock_behind_hours: 4,
            listings: 2_000,
            areas: 12,
            zips_per_miner: 4,
            reports_per_listing: 3,
            rounds: 6,
            round_hours: 2,
            start: DateTime::from_timestamp(1_758_067_200, 0).unwrap_or_default(), // 2025-09-17T00:00:00Z
            disagreement_rate: 0.05,
            change_rate: 0.1,
            rescrape_rate: 1.0,
            null_rate: 0.02,
            fake_price_miners: 1,
            duplicate_miners: 1,
            flood_miners: 1,
            flood_rows: 5_000,
            wrong_zip_miners: 1,
            bad_inputs: false,
            huge_file_rows: 0,
            row_group_rows: 1_048_576,
            emit_jsonl: false,
        }
    }
}

/// The longest world the generator makes: a century of hours.
const MAX_WORLD_HOURS: usize = 24 * 366 * 100;

impl GeneratorConfig {
    /// Refuses knobs the generator cannot honour, instead of panicking halfway through a run.
    ///
    /// # Errors
    /// A rate outside 0–1, rounds zero hours apart, or a world longer than a century.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, rate) in [
            ("disagreement_rate", self.disagreement_rate),
            ("change_rate", self.change_rate),
            ("rescrape_rate", self.rescrape_rate),
            ("null_rate", self.null_rate),
        ] {
            anyhow::ensure!(
                (0.0..=1.0).contains(&rate),
                "{name} must be between 0 and 1, not {rate}"
            );
        }
        anyhow::ensure!(self.round_hours > 0, "round_hours must be at least 1");
        anyhow::ensure!(
            self.rounds.saturating_mul(self.round_hours) <= MAX_WORLD_HOURS,
            "{} rounds {} hours apart is longer than a century",
            self.rounds,
            self.round_hours
        );
        Ok(())
    }
}

/// How a simulated miner behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Reports what it sees, with occasional careless mistakes.
    Honest,
    /// Reports prices far from the truth.
    FakePrices,
    /// Repeats listings inside its files.
    DuplicateRows,
    /// Also uploads a flood of fabricated listings.
    Flood,
    /// Reports other, well-formed zip codes.
    WrongZips,
    /// Uses the nested property schema: its files carry no content columns.
    NestedSchema,
    /// Runs the network's mock scraper: made-up listings.
    MockScraper,
    /// Not a miner: the author of the bad inputs.
    BadInputs,
}

/// How a miner lays its uploads out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// v1 Parquet, every column typed and filled.
    V1,
    /// v1 Parquet as the network's miners write it.
    V1Real,
    /// v1 Parquet of the nested property schema: no content columns.
    V1Nested,
    /// v2 `listings.parquet` with `metadata.json`.
    V2,
    /// One epoch JSON document per zipcode.
    EpochJson,
}

/// What the pipeline should record for an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Expected {
    /// An `UploadParsed` with this many rows read.
    Parsed {
        /// Rows in the file.
        rows: u64,
    },
    /// An `UploadRejected` with this reason.
    Rejected {
        /// `UploadRejectReason` name.
        reason: String,
    },
    /// A `DeadLettered` with this reason.
    DeadLettered {
        /// `DeadLetterReason` name.
        reason: String,
    },
    /// Not an upload itself: the `metadata.json` of a v2 upload.
    Companion,
}

/// One written object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestObject {
    /// Object key.
    pub key: String,
    /// `v1`, `v2`, `metadata` or `epoch_json`.
    pub format: String,
    /// Miner hotkey from the path.
    pub miner: String,
    /// Why the object exists.
    pub behaviour: Behaviour,
    /// Rows written (0 for non-Parquet objects).
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// What the pipeline should record.
    pub expected: Expected,
}

/// One simulated miner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestMiner {
    /// Hotkey.
    pub hotkey: String,
    /// Behaviour.
    pub behaviour: Behaviour,
    /// How it lays its uploads out.
    pub shape: Shape,
}

/// Everything a run wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The knobs used.
    pub config: GeneratorConfig,
    /// The miners.
    pub miners: Vec<ManifestMiner>,
    /// Distinct true listings.
    pub listings: usize,
    /// Listings that genuinely changed during the run.
    pub changed_listings: usize,
    /// Every object, in write order.
    pub objects: Vec<ManifestObject>,
}

/// Generates the dataset into `sink` and returns its manifest (also written to the sink).
pub async fn generate(config: &GeneratorConfig, sink: &mut Sink) -> anyhow::Result<Manifest> {
    config.validate()?;
    let mut manifest = world::World::build(config).write_all(sink).await?;
    if config.bad_inputs {
        bad_inputs::write_all(config, sink, &mut manifest.objects).await?;
    }
    if config.huge_file_rows > 0 {
        bad_inputs::write_huge(config, sink, &mut manifest.objects).await?;
    }
    let body = serde_json::to_vec_pretty(&manifest)?;
    sink.put(MANIFEST_KEY, body).await?;
    sink.finish().await?;
    tracing::info!(objects = manifest.objects.len(), "generated sample data");
    Ok(manifest)
}

/// `data_{YYYYMMDD_HHMMSS}_{count}.parquet`.
#[must_use]
pub fn v1_file_name(at: NaiveDateTime, rows: usize) -> String {
    format!("data_{}_{rows}.parquet", at.format("%Y%m%d_%H%M%S"))
}

/// `data_{YYYYMMDD_HHMMSS}.json`.
#[must_use]
pub fn epoch_json_file_name(at: NaiveDateTime) -> String {
    format!("data_{}.json", at.format("%Y%m%d_%H%M%S"))
}
