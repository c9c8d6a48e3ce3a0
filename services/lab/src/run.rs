//! `resi lab run`: every listing of an attestation export decided by one algorithm, in-process
//! on all cores, with no database or broker.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use resi_projections::consensus::{ConsensusAlgorithm, MinerReport};
use serde::Serialize;

use crate::attestations;
use crate::decisions::{self, Decision};

/// What a run did.
#[derive(Clone, Debug, Serialize)]
pub struct Ran {
    /// The algorithm and its parameters.
    pub algorithm: String,
    /// Every parameter in force.
    pub params: std::collections::BTreeMap<String, String>,
    /// Attestation rows read.
    pub attestations: u64,
    /// Listings decided.
    pub listings: usize,
    /// Decided fields written.
    pub decisions: u64,
    /// Seconds reading the export and keeping each miner's latest report.
    pub read_seconds: f64,
    /// Seconds the algorithm spent learning across listings (0 for one that does not).
    pub fit_seconds: f64,
    /// Seconds deciding.
    pub decide_seconds: f64,
    /// Listings decided per second.
    pub listings_per_second: f64,
}

/// The decided fields of one listing.
#[must_use]
pub fn decide_listing(
    algorithm: &dyn ConsensusAlgorithm,
    listing: &str,
    reports: &[MinerReport],
) -> Vec<Decision> {
    let borrowed: Vec<&MinerReport> = reports.iter().collect();
    let decided = algorithm.decide(&borrowed);
    decided
        .fields
        .iter()
        .filter_map(|field| {
            let chosen = field.chosen()?;
            let reporting: usize = field.values.iter().map(|value| value.miners.len()).sum();
            Some(Decision {
                listing_id: listing.to_owned(),
                field: field.field.as_str().to_owned(),
                value: chosen.value.clone(),
                confidence: chosen.confidence,
                support: chosen.support,
                supporters: i32::try_from(chosen.miners.len()).unwrap_or(i32::MAX),
                reporting: i32::try_from(reporting).unwrap_or(i32::MAX),
                listing_score: decided.score,
            })
        })
        .collect()
}

/// Decides every listing of the attestation export `input` with `algorithm` (each miner's
/// latest report, as the consensus projection keeps them) and writes the decisions to `output`.
/// Listings are decided in parallel on every core; the output is in listing order whatever the
/// scheduling.
pub fn run(algorithm: &dyn ConsensusAlgorithm, input: &Path, output: &Path) -> anyhow::Result<Ran> {
    let started = Instant::now();
    let (listings, attestations) = attestations::latest_reports(input)?;
    let read_seconds = started.elapsed().as_secs_f64();
    let listings: Vec<(String, Vec<MinerReport>)> = listings.into_iter().collect();
    let total = listings.len();
    let all: Vec<&[MinerReport]> = listings
        .iter()
        .map(|(_, reports)| reports.as_slice())
        .collect();
    let fitted = algorithm.fit(&all);
    let fitted_seconds = started.elapsed().as_secs_f64() - read_seconds;
    let algorithm: &dyn ConsensusAlgorithm = fitted.as_deref().unwrap_or(algorithm);
    let done = AtomicUsize::new(0);
    let last = std::sync::Mutex::new(Instant::now());
    let started = Instant::now();
    drop(all);
    let decided: Vec<Vec<Decision>> = listings
        .par_iter()
        .map(|(listing, reports)| {
            let decisions = decide_listing(algorithm, listing, reports);
            let count = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Ok(mut last) = last.try_lock()
                && last.elapsed() > Duration::from_secs(2)
            {
                *last = Instant::now();
                eprintln!(
                    "run: {count} of {total} listings ({:.0} %)",
                    100.0 * count as f64 / total.max(1) as f64
                );
            }
            decisions
        })
        .collect();
    let decide_seconds = started.elapsed().as_secs_f64();
    let decisions = decisions::write(output, decided.into_iter().flatten())?;
    Ok(Ran {
        algorithm: algorithm.name().to_owned(),
        params: algorithm.params(),
        attestations,
        listings: total,
        decisions,
        read_seconds,
        fit_seconds: fitted_seconds,
        decide_seconds,
        listings_per_second: total as f64 / decide_seconds.max(1e-9),
    })
}
