//! The operator command line, as a library so that tests drive the same code paths.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use resi_datagen::{GeneratorConfig, Sink};
use resi_runtime::config::{KafkaConfig, PostgresConfig, S3Config, TelemetryConfig};
use serde::Deserialize;

mod api_keys;
mod dead_letters;
pub mod lab;
pub mod miners;
pub mod open_data;
mod status;
mod versions;

pub use api_keys::{ApiKeyAction, new_key};
pub use dead_letters::DeadLetterAction;
pub use versions::{DropArgs, PromoteArgs, ReplayArgs};

/// Configuration of the operator command line. Every section is optional; see the README for
/// each key. Environment: `RESI__POSTGRES__URL`, `RESI__KAFKA__BROKERS`, `RESI__S3__BUCKET`, ...
/// Sections of other binaries are accepted and ignored (see `resi_runtime::config`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CtlConfig {
    /// The database.
    pub postgres: PostgresConfig,
    /// The broker.
    pub kafka: KafkaConfig,
    /// The upload bucket.
    pub s3: S3Config,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// Batching and retries of `replay` (its projections and assignment come from the flags).
    pub projector: resi_projector::ProjectorConfig,
    /// The API's tiers (`api-key create` accepts only a configured tier).
    pub api: resi_api::ApiConfig,
    /// Where and how `export snapshot` writes open data.
    pub open_data: open_data::OpenDataConfig,
}

/// RESI operator tool.
#[derive(Debug, Parser)]
#[command(
    name = "resi",
    version,
    about = "Run and operate the RESI unified real-estate database: every service and operator command"
)]
pub struct Cli {
    /// Optional TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "RESI_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands: the services first, then the operator commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bridge: publish an upload event for every object miners upload (S3
    /// notifications via SQS and periodic listing, or a file:/// directory).
    Bridge,
    /// Run the parser: read the uploads announced on the log, emit one attestation per row.
    Parser,
    /// Run the projector: fold the log into the projections' tables, checkpoint by checkpoint.
    Projector,
    /// Run the API: serve the projections over HTTP, read-only.
    Api,
    /// Run the coordinator: open a zipcode epoch every 4 hours, close it after its window.
    Coordinator,
    /// Run the gateway: serve miners and validators their epoch's zipcodes, signed requests only.
    Gateway,
    /// Apply pending database migrations (idempotent).
    Migrate,
    /// Manage the broker's topics.
    Topics {
        /// Action.
        #[command(subcommand)]
        action: TopicsAction,
    },
    /// Write deterministic sample miner uploads to a directory or the configured bucket.
    Generate(Box<GenerateArgs>),
    /// Report what the system's stores hold: migrations, topics with their offsets, the bucket.
    /// Exits non-zero when a store is unreachable or behind.
    Status,
    /// Build a projection version from offset 0 into its own schema, beside the live one,
    /// printing progress; after catching up it keeps following the log.
    Replay(versions::ReplayArgs),
    /// Make a version live, retiring the live one, in one transaction. Refused until the
    /// version has caught up, unless forced. Rolling back is promoting the previous version.
    Promote(versions::PromoteArgs),
    /// List every projection version with its status and lag.
    Versions,
    /// Remove a retired version (or, forced, one still building): its schema and checkpoints.
    Drop(versions::DropArgs),
    /// Load the zipcode reference data the coordinator draws epochs from.
    Zipcodes {
        /// Action.
        #[command(subcommand)]
        action: ZipcodesAction,
    },
    /// Manage the API's keys.
    ApiKey {
        /// Action.
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Read the dead letters, and re-drive one once its cause is fixed.
    DeadLetters {
        /// Action.
        #[command(subcommand)]
        action: DeadLetterAction,
    },
    /// Operators' decisions about a miner (lifting a ban).
    Miners {
        /// Action.
        #[command(subcommand)]
        action: miners::MinersAction,
    },
    /// The consensus lab: export the attestation log as Parquet, run an algorithm offline,
    /// score decisions against the truth, diff two decision sets.
    Lab {
        /// Action.
        #[command(subcommand)]
        action: lab::LabAction,
    },
    /// Open data: the live consensus and the attestation history as Parquet in the bucket.
    Export {
        /// Action.
        #[command(subcommand)]
        action: ExportAction,
    },
}

/// `resi export`.
#[derive(Debug, Subcommand)]
pub enum ExportAction {
    /// Write today's snapshot of the live consensus (`{prefix}snapshots/{date}/`) and every
    /// complete day of attestations not exported yet, with a manifest; print the manifest.
    Snapshot {
        /// The snapshot's date (default: today, UTC).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// The last day of attestations to write (default: yesterday, the last complete day).
        #[arg(long)]
        through: Option<chrono::NaiveDate>,
    },
}

/// A long-running service of the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// `resi bridge`.
    Bridge,
    /// `resi parser`.
    Parser,
    /// `resi projector`.
    Projector,
    /// `resi api`.
    Api,
    /// `resi coordinator`.
    Coordinator,
    /// `resi gateway`.
    Gateway,
}

impl Command {
    /// The service this command runs, if it runs one.
    #[must_use]
    pub const fn service(&self) -> Option<Service> {
        match self {
            Self::Bridge => Some(Service::Bridge),
            Self::Parser => Some(Service::Parser),
            Self::Projector => Some(Service::Projector),
            Self::Api => Some(Service::Api),
            Self::Coordinator => Some(Service::Coordinator),
            Self::Gateway => Some(Service::Gateway),
            _ => None,
        }
    }
}

/// Runs `service` until a signal, configured from `file` and the environment.
pub async fn serve(service: Service, file: Option<&std::path::Path>) -> anyhow::Result<()> {
    match service {
        Service::Bridge => resi_bridge::service_main(file).await,
        Service::Parser => resi_parser::service_main(file).await,
        Service::Projector => resi_projector::service_main(file).await,
        Service::Api => resi_api::service_main(file).await,
        Service::Coordinator => resi_coordinator::service_main(file).await,
        Service::Gateway => resi_gateway::service_main(file).await,
    }
}

/// Zipcode reference data actions.
#[derive(Debug, Subcommand)]
pub enum ZipcodesAction {
    /// Write every US zipcode (place and type) into the `zipcodes` table; idempotent.
    Import {
        /// A gzipped CSV written by `scripts/zipcodes/generate.py` instead of the data built in.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

/// Topic actions.
#[derive(Debug, Subcommand)]
pub enum TopicsAction {
    /// Create the uploads, attestations and dead-letter topics if missing.
    Create,
}

/// Where to write and which knobs to turn; unset knobs keep the generator's defaults.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Write under this directory instead of the S3 bucket.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Start from the knobs in this JSON file (e.g. a manifest's `config`); flags override them.
    #[arg(long)]
    pub from_json: Option<PathBuf>,
    /// Seed of every random choice.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Honest miners.
    #[arg(long)]
    pub honest_miners: Option<usize>,
    /// Honest miners that upload in the v2 (epoch) layout.
    #[arg(long)]
    pub v2_miners: Option<usize>,
    /// Honest miners that upload one epoch JSON document per zipcode, as the network's do.
    #[arg(long)]
    pub epoch_json_miners: Option<usize>,
    /// Honest miners that write v1 files as the network's do (null-typed columns, zip only in
    /// label and address, NaT scrape times, local-time file names).
    #[arg(long)]
    pub real_v1_miners: Option<usize>,
    /// Miners on the nested property schema (v1 files without content columns).
    #[arg(long)]
    pub nested_schema_miners: Option<usize>,
    /// Miners running the network's mock scraper (made-up listings).
    #[arg(long)]
    pub mock_scraper_miners: Option<usize>,
    /// Hours the clocks in real-shaped file names are behind UTC.
    #[arg(long)]
    pub local_clock_behind_hours: Option<u32>,
    /// Distinct listings.
    #[arg(long)]
    pub listings: Option<usize>,
    /// Zip-code areas the listings lie in (at most 40).
    #[arg(long)]
    pub areas: Option<usize>,
    /// Areas each miner scrapes.
    #[arg(long)]
    pub zips_per_miner: Option<usize>,
    /// Miners reporting each listing.
    #[arg(long)]
    pub reports_per_listing: Option<usize>,
    /// Upload rounds.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Hours between rounds (2, the network's cadence, by default).
    #[arg(long)]
    pub round_hours: Option<usize>,
    /// When the first round starts (RFC 3339, e.g. 2026-12-03T00:00:00Z); by default a fixed
    /// day, so that a seed gives byte-identical files whenever it runs.
    #[arg(long)]
    pub start: Option<chrono::DateTime<chrono::Utc>>,
    /// Per-field probability of a careless mistake.
    #[arg(long)]
    pub disagreement_rate: Option<f64>,
    /// Share of listings that genuinely change.
    #[arg(long)]
    pub change_rate: Option<f64>,
    /// Probability that a miner re-scrapes a listing it reported after the listing changes.
    #[arg(long)]
    pub rescrape_rate: Option<f64>,
    /// Probability of a missing optional value.
    #[arg(long)]
    pub null_rate: Option<f64>,
    /// Miners faking prices.
    #[arg(long)]
    pub fake_price_miners: Option<usize>,
    /// Miners repeating listings inside a file.
    #[arg(long)]
    pub duplicate_miners: Option<usize>,
    /// Miners uploading a flood file.
    #[arg(long)]
    pub flood_miners: Option<usize>,
    /// Rows per flood file.
    #[arg(long)]
    pub flood_rows: Option<usize>,
    /// Miners reporting wrong zip codes.
    #[arg(long)]
    pub wrong_zip_miners: Option<usize>,
    /// Also write every kind of bad input.
    #[arg(long)]
    pub bad_inputs: bool,
    /// Rows of an extra huge file (e.g. 1000000).
    #[arg(long)]
    pub huge_file_rows: Option<usize>,
    /// Maximum rows per Parquet row group.
    #[arg(long)]
    pub row_group_rows: Option<usize>,
    /// Also write each file's rows as JSON lines under `_resi/rows/`.
    #[arg(long)]
    pub emit_jsonl: bool,
}

impl GenerateArgs {
    /// The generator configuration: defaults, then the JSON file, then the given flags.
    pub fn generator_config(&self) -> anyhow::Result<GeneratorConfig> {
        let mut config = match &self.from_json {
            Some(path) => serde_json::from_slice(
                &std::fs::read(path)
                    .with_context(|| format!("failed to read {}", path.display()))?,
            )
            .with_context(|| format!("{} is not a generator configuration", path.display()))?,
            None => GeneratorConfig::default(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(value) = self.$field { config.$field = value; } )* };
        }
        set!(
            seed,
            honest_miners,
            v2_miners,
            epoch_json_miners,
            real_v1_miners,
            nested_schema_miners,
            mock_scraper_miners,
            local_clock_behind_hours,
            listings,
            areas,
            zips_per_miner,
            reports_per_listing,
            rounds,
            round_hours,
            start,
            disagreement_rate,
            change_rate,
            rescrape_rate,
            null_rate,
            fake_price_miners,
            duplicate_miners,
            flood_miners,
            flood_rows,
            wrong_zip_miners,
            huge_file_rows,
            row_group_rows
        );
        config.bad_inputs |= self.bad_inputs;
        config.emit_jsonl |= self.emit_jsonl;
        Ok(config)
    }
}

/// Runs one command.
pub async fn run(command: Command, config: &CtlConfig) -> anyhow::Result<()> {
    match command {
        Command::Bridge
        | Command::Parser
        | Command::Projector
        | Command::Api
        | Command::Coordinator
        | Command::Gateway => {
            anyhow::bail!("a service loads its own configuration: run it with `serve`")
        }
        Command::Migrate => {
            let pool = resi_runtime::postgres::pool(&config.postgres)?;
            let report = resi_runtime::postgres::migrate(&pool).await?;
            println!(
                "migrations: {} applied now {:?}, {} already applied",
                report.applied.len(),
                report.applied,
                report.already_applied.len()
            );
        }
        Command::Topics {
            action: TopicsAction::Create,
        } => {
            let report = resi_runtime::kafka::ensure_topics(&config.kafka).await?;
            println!(
                "topics: created {:?}, existing {:?}",
                report.created, report.existing
            );
        }
        Command::Status => status::print(config).await?,
        Command::Replay(args) => versions::replay(&args, config).await?,
        Command::Promote(args) => versions::promote(&args, config).await?,
        Command::Versions => versions::list(config).await?,
        Command::Drop(args) => versions::drop(&args, config).await?,
        Command::ApiKey { action } => api_keys::run(action, config).await?,
        Command::Zipcodes {
            action: ZipcodesAction::Import { file },
        } => {
            let data = match &file {
                Some(path) => std::fs::read(path)
                    .with_context(|| format!("failed to read {}", path.display()))?,
                None => resi_coordinator::reference::EMBEDDED.to_vec(),
            };
            let rows = resi_coordinator::reference::parse(&data)?;
            let pool = resi_runtime::postgres::pool(&config.postgres)?;
            let mut client = resi_runtime::postgres::connection(&pool).await?;
            let changed = resi_coordinator::reference::import(&mut client, &rows).await?;
            println!(
                "zipcodes: {} in the reference data, {changed} written or changed",
                rows.len()
            );
        }
        Command::DeadLetters { action } => dead_letters::run(action, config).await?,
        Command::Miners { action } => miners::run(action, config).await?,
        Command::Lab { action } => lab::run(action, config).await?,
        Command::Export {
            action: ExportAction::Snapshot { date, through },
        } => {
            let today = chrono::Utc::now().date_naive();
            let pool = resi_runtime::postgres::pool(&config.postgres)?;
            let s3 = resi_runtime::s3::client(&config.s3).await;
            let manifest = open_data::snapshot(
                &pool,
                (&s3, &config.s3.bucket),
                &config.open_data,
                date.unwrap_or(today),
                through.unwrap_or_else(|| today.pred_opt().unwrap_or(today)),
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&manifest)?);
        }
        Command::Generate(args) => {
            let generator = args.generator_config()?;
            let mut sink = match &args.out {
                Some(root) => Sink::Local { root: root.clone() },
                None => Sink::s3(
                    resi_runtime::s3::client(&config.s3).await,
                    config.s3.bucket.clone(),
                ),
            };
            let manifest = resi_datagen::generate(&generator, &mut sink)
                .await
                .context("failed to generate sample data")?;
            let rows: u64 = manifest.objects.iter().map(|object| object.rows).sum();
            println!(
                "generated {} objects, {rows} rows, {} miners, {} listings ({} changed) into {}",
                manifest.objects.len(),
                manifest.miners.len(),
                manifest.listings,
                manifest.changed_listings,
                args.out.as_ref().map_or_else(
                    || format!("s3://{}", config.s3.bucket),
                    |out| out.display().to_string()
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{Cli, Command};

    #[test]
    fn a_generated_world_can_be_dated_from_a_given_start() -> anyhow::Result<()> {
        let at = "2026-12-03T00:00:00Z";
        let cli = Cli::try_parse_from(["resi", "generate", "--listings", "10", "--start", at])?;
        let Command::Generate(args) = cli.command else {
            anyhow::bail!("not the generate command");
        };
        let config = args.generator_config()?;
        assert_eq!(config.start, at.parse::<chrono::DateTime<chrono::Utc>>()?);
        assert_eq!(config.listings, 10);
        // without it, the fixed day that keeps a seed's files byte-identical
        let cli = Cli::try_parse_from(["resi", "generate"])?;
        let Command::Generate(args) = cli.command else {
            anyhow::bail!("not the generate command");
        };
        assert_eq!(
            args.generator_config()?.start,
            resi_datagen::GeneratorConfig::default().start
        );
        Ok(())
    }
}
