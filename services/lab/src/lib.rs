//! The consensus lab: a researcher's loop from idea to evidence without the services.
//!
//! * [`export`]: the attestations topic (or a slice of it) as Parquet, one directory per scrape
//!   date (`date=YYYY-MM-DD/part-N.parquet`), readable by DuckDB, polars or pandas.
//! * [`run`]: every listing decided in-process by any [`ConsensusAlgorithm`] (the standard ones
//!   or a researcher's own), on all cores, into a decisions file.
//! * [`score`]: a decisions file against the generator's truth: accuracy per field, on the
//!   listings that genuinely changed, per miner type, and confidence calibration.
//! * [`diff`]: two decisions files: what changed, by how much, with examples.
//!
//! [`ConsensusAlgorithm`]: resi_projections::consensus::ConsensusAlgorithm

pub mod attestations;
pub mod decisions;
pub mod diff;
pub mod export;
pub mod progress;
pub mod report;
pub mod run;
pub mod score;
pub mod table;

pub use diff::diff;
pub use export::export;
pub use run::run;
pub use score::score;
