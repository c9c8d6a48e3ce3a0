//! The projector: independent consumers that fold the log into Postgres projections.
//!
//! Every projection version has its own schema and its own checkpoints (projection, version,
//! topic, partition → next offset), written in the same transaction as its rows; a consumer
//! seeks to them when it starts. Kafka group offsets are never read or committed.

pub mod consensus;
pub mod engine;
pub mod listing;
pub mod metrics;
pub mod operate;
pub mod trust;
pub mod versions;

pub use engine::{Projector, ProjectorConfig, ProjectorServiceConfig};

/// Microseconds since the Unix epoch as a Postgres `timestamptz` (the epoch when out of range).
pub(crate) fn datetime(micros: i64) -> chrono::DateTime<chrono::Utc> {
    resi_events::Timestamp::from_micros(micros)
        .to_datetime()
        .unwrap_or_default()
}

const USAGE: &str = "usage: resi-projector [--config FILE]\n\nFolds the log into the projections' Postgres tables, one checkpoint per projection version\nand partition, written in the same transaction as the rows.\nConfiguration: RESI__SECTION__KEY environment variables or a TOML file (see the README).";

/// The `resi-projector` process: configuration, telemetry, then folding until a signal.
pub async fn service_main() -> anyhow::Result<()> {
    let (config, _telemetry) = resi_runtime::service::start::<ProjectorServiceConfig>(
        "resi-projector",
        USAGE,
        |config| &config.telemetry,
    )?;
    let projector = Projector::build(&config).await?;
    projector.run(resi_runtime::shutdown::on_signal()).await
}
