//! `resi`: every RESI service and every operator command, one binary.

use clap::Parser as _;
use resi_ctl::{Cli, CtlConfig};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // a service loads its own configuration and starts its own telemetry
    if let Some(service) = cli.command.service() {
        return resi_ctl::serve(service, cli.config.as_deref()).await;
    }
    let config: CtlConfig = resi_runtime::config::load(cli.config.as_deref())?;
    let _telemetry = resi_runtime::telemetry::init("resi-ctl", &config.telemetry)?;
    resi_ctl::run(cli.command, &config).await
}
