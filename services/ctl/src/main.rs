//! `resi`: the operator command line.

use clap::Parser as _;
use resi_ctl::{Cli, CtlConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config: CtlConfig = resi_runtime::config::load(cli.config.as_deref())?;
    let _telemetry = resi_runtime::telemetry::init("resi-ctl", &config.telemetry)?;
    resi_ctl::run(cli.command, &config).await
}
