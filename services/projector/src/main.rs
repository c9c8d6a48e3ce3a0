//! `resi-projector`: the log in, projection tables out.

use resi_projector::{Projector, ProjectorServiceConfig};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: resi-projector [--config FILE]\n\nFolds the log into the projections' Postgres tables, one checkpoint per projection version\nand partition, written in the same transaction as the rows.\nConfiguration: RESI__SECTION__KEY environment variables or a TOML file (see the README).";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (config, _telemetry) = resi_runtime::service::start::<ProjectorServiceConfig>(
        "resi-projector",
        USAGE,
        |config| &config.telemetry,
    )?;
    let projector = Projector::build(&config).await?;
    projector.run(resi_runtime::shutdown::on_signal()).await
}
