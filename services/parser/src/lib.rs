//! The parser: reads each upload a record batch (or JSON listing) at a time, maps rows of every
//! layout to the canonical listing, validates them, decides admission, and emits the events.

#[cfg(feature = "service")]
pub mod admission;
pub mod coerce;
pub mod columns;
pub mod emit;
pub mod epoch_json;
pub mod file;
pub mod fuzz;
#[cfg(feature = "service")]
pub mod metrics;
pub mod pages;
pub mod quality;
pub mod row;
#[cfg(feature = "service")]
pub mod service;
#[cfg(feature = "service")]
pub mod validator;

#[cfg(feature = "service")]
pub use service::{Parser, ParserConfig, ParserServiceConfig};

/// `resi parser`: configuration (from `file`, then the environment), telemetry, then parsing
/// until a signal.
#[cfg(feature = "service")]
pub async fn service_main(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (config, _telemetry) =
        resi_runtime::service::start::<ParserServiceConfig>("resi-parser", file, |config| {
            &config.telemetry
        })?;
    let parser = Parser::build(&config).await?;
    parser.run(resi_runtime::shutdown::on_signal()).await
}
