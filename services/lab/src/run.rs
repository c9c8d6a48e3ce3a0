//! `resi lab run`: every listing of an attestation export decided by one algorithm, in-process
//! on all cores, with no database or broker.

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use resi_projections::consensus::{ConsensusAlgorithm, Dataset as _, MinerReport};
use serde::Serialize;

use crate::attestations;
use crate::decisions::{self, Decision};
use crate::progress;

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
    /// Seconds deciding and writing the decisions (the writer works beside the deciders).
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

/// Listings decided in parallel before their decisions go to the writer: enough to keep every
/// core busy, few enough that the decisions of a whole world are never held at once.
const CHUNK: usize = 50_000;

/// Decides every listing of the attestation export `input` with `algorithm` (each miner's
/// latest report, as the consensus projection keeps them) and writes the decisions to `output`.
/// Listings are decided in parallel on every core, a chunk at a time, while a writer thread
/// writes the chunk before; the output is in listing order whatever the scheduling.
pub fn run(algorithm: &dyn ConsensusAlgorithm, input: &Path, output: &Path) -> anyhow::Result<Ran> {
    let started = Instant::now();
    let (listings, attestations) = attestations::LatestReports::read(input)?;
    let read_seconds = started.elapsed().as_secs_f64();
    let total = listings.len();
    let fitted = algorithm.fit(&listings);
    let fitted_seconds = started.elapsed().as_secs_f64() - read_seconds;
    let algorithm: &dyn ConsensusAlgorithm = fitted.as_deref().unwrap_or(algorithm);
    let started = Instant::now();
    let bar = progress::bar("deciding", total);
    let decisions = std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Decision>>(2);
        let writer = scope.spawn(move || decisions::write(output, receiver.into_iter().flatten()));
        for chunk in (0..total).step_by(CHUNK) {
            let decided: Vec<Decision> = (chunk..total.min(chunk + CHUNK))
                .into_par_iter()
                .flat_map_iter(|index| {
                    decide_listing(
                        algorithm,
                        listings.listing_id(index),
                        &listings.reports(index),
                    )
                })
                .collect();
            bar.inc((total.min(chunk + CHUNK) - chunk) as u64);
            // the writer stopped: its error says why
            if sender.send(decided).is_err() {
                break;
            }
        }
        drop(sender);
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("the decisions writer panicked"))?
    })?;
    bar.finish_and_clear();
    let decide_seconds = started.elapsed().as_secs_f64();
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
