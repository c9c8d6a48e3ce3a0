//! `resi-bridge`: uploads in the store → upload events on the log.

use resi_bridge::{Bridge, BridgeServiceConfig};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: resi-bridge [--config FILE]\n\nPublishes an upload event for every object miners upload (S3 notifications via SQS and\nperiodic listing, or a file:/// directory).\nConfiguration: RESI__SECTION__KEY environment variables or a TOML file (see the README).";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (config, _telemetry) =
        resi_runtime::service::start::<BridgeServiceConfig>("resi-bridge", USAGE, |config| {
            &config.telemetry
        })?;
    let bridge = Bridge::build(&config).await?;
    bridge.run(resi_runtime::shutdown::on_signal()).await
}
