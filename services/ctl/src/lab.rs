//! `resi lab`: the consensus lab (see [`resi_lab`]). Every command prints a readable table, or
//! its result as JSON with `--json`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use resi_projections::consensus::Registry;

use crate::CtlConfig;

/// What decisions are scored against.
#[derive(Debug, Args)]
pub struct Against {
    /// The truth file.
    #[arg(long)]
    truth: PathBuf,
    /// The generator's manifest, for accuracy per miner type (needs `--input`).
    #[arg(long, requires = "input")]
    manifest: Option<PathBuf>,
    /// The export the decisions came from.
    #[arg(long)]
    input: Option<PathBuf>,
}

impl Against {
    fn score(&self, decisions: &std::path::Path) -> anyhow::Result<resi_lab::score::Scored> {
        let types = self.manifest.as_deref().zip(self.input.as_deref());
        resi_lab::score(decisions, &self.truth, types)
    }
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum LabAction {
    /// Write the attestations topic (or a slice of it) as Parquet under `--out`, one directory
    /// per scrape date (`date=YYYY-MM-DD/part-0.parquet`).
    Export {
        /// The directory to write.
        #[arg(long)]
        out: PathBuf,
        /// Only attestations scraped at or after this time (RFC 3339).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Only attestations scraped before this time (RFC 3339).
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// Only listings of this zip code (repeatable).
        #[arg(long = "zipcode")]
        zipcodes: Vec<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decide every listing of an export with an algorithm, in-process on every core, and
    /// write the decisions as Parquet. No database or broker is needed.
    Run {
        /// The algorithm (v1, v2, v3).
        #[arg(long)]
        algorithm: String,
        /// A parameter of the algorithm, `name=value` (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// The export (a directory or a Parquet file).
        #[arg(long)]
        input: PathBuf,
        /// The decisions file to write.
        #[arg(long)]
        output: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Score a decisions file against the generator's truth (`_resi/truth.jsonl`).
    Score {
        /// The decisions file.
        #[arg(long)]
        decisions: PathBuf,
        /// The truth, and the miner types, to score against.
        #[command(flatten)]
        against: Against,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Score several decision sets against the same truth and write one self-contained HTML
    /// page comparing them: accuracy per field, calibration, confidence histogram.
    Report {
        /// A decision set, `name=path` (repeatable, in the order shown).
        #[arg(long = "decisions", value_name = "NAME=PATH", required = true)]
        decisions: Vec<String>,
        /// The truth, and the miner types, to score against.
        #[command(flatten)]
        against: Against,
        /// The page to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Compare two decision sets: decisions files, or builds in the database named
    /// `consensus:VERSION` (their chosen values; a build stores no per-field confidence).
    Diff {
        /// Decisions A: a file, or `consensus:VERSION`.
        a: String,
        /// Decisions B: a file, or `consensus:VERSION`.
        b: String,
        /// The export both came from, to list the miners whose agreement moves most.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Differing decisions listed as examples.
        #[arg(long, default_value_t = 20)]
        examples: usize,
        /// Miners listed.
        #[arg(long, default_value_t = 10)]
        movers: usize,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    table: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", table(value));
    }
    Ok(())
}

/// The decisions of `source`: a build (`consensus:VERSION`) or a decisions file.
async fn decisions(
    source: &str,
    config: &CtlConfig,
) -> anyhow::Result<resi_lab::decisions::Decisions> {
    match source.strip_prefix("consensus:") {
        Some(version) => {
            let pool = resi_runtime::postgres::pool(&config.postgres)?;
            let client = resi_runtime::postgres::connection(&pool).await?;
            let schema = resi_projector::versions::schema_name("consensus", version)?;
            resi_lab::decisions::from_build(&client, &schema).await
        }
        None => resi_lab::decisions::read(std::path::Path::new(source)),
    }
}

/// Runs `action`.
pub async fn run(action: LabAction, config: &CtlConfig) -> anyhow::Result<()> {
    match action {
        LabAction::Export {
            out,
            from,
            until,
            zipcodes,
            json,
        } => {
            let slice = resi_lab::export::Slice {
                from: from.map(|at| at.timestamp_micros()),
                until: until.map(|at| at.timestamp_micros()),
                zipcodes,
            };
            let exported = resi_lab::export(&config.kafka, &out, &slice).await?;
            print(json, &exported, |exported| {
                format!(
                    "exported {} attestations of {} records ({} undecodable) into {} files under {}\n",
                    exported.attestations,
                    exported.records,
                    exported.undecodable,
                    exported.files.len(),
                    out.display()
                )
            })
        }
        LabAction::Run {
            algorithm,
            params,
            input,
            output,
            json,
        } => {
            let params = crate::versions::params(&params)?;
            let algorithm = Registry::standard()
                .build(&algorithm, &params)
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let ran = tokio::task::spawn_blocking(move || {
                resi_lab::run(algorithm.as_ref(), &input, &output)
            })
            .await
            .context("the lab run panicked")??;
            print(json, &ran, resi_lab::table::ran)
        }
        LabAction::Score {
            decisions,
            against,
            json,
        } => {
            let scored = against.score(&decisions)?;
            print(json, &scored, resi_lab::table::scored)
        }
        LabAction::Report {
            decisions,
            against,
            out,
        } => {
            let mut sets = Vec::new();
            for pair in &decisions {
                let (name, path) = pair
                    .split_once('=')
                    .with_context(|| format!("--decisions {pair:?} is not name=path"))?;
                sets.push((name.to_owned(), against.score(std::path::Path::new(path))?));
            }
            let page = resi_lab::report::html("Consensus algorithms against the truth", &sets)?;
            std::fs::write(&out, page)
                .with_context(|| format!("failed to write {}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(())
        }
        LabAction::Diff {
            a,
            b,
            input,
            examples,
            movers,
            json,
        } => {
            let (a, b) = (decisions(&a, config).await?, decisions(&b, config).await?);
            let diffed = resi_lab::diff::diff_sets(&a, &b, input.as_deref(), examples, movers)?;
            print(json, &diffed, resi_lab::table::diffed)
        }
    }
}
