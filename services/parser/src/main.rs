//! `resi-parser`: upload events in, attestation events out.

use resi_parser::{Parser, ParserServiceConfig};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: resi-parser [--config FILE]\n\nReads uploads announced on the uploads topic and emits one attestation per admitted row.\nConfiguration: RESI__SECTION__KEY environment variables or a TOML file (see the README).";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (config, _telemetry) =
        resi_runtime::service::start::<ParserServiceConfig>("resi-parser", USAGE, |config| {
            &config.telemetry
        })?;
    let parser = Parser::build(&config).await?;
    parser.run(resi_runtime::shutdown::on_signal()).await
}
