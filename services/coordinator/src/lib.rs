//! The coordinator: opens a zipcode epoch every 4 hours and closes it after its submission
//! window (seeds 003 and 004), every decision an event on `resi.epochs.v1`.
//!
//! * [`schedule`]: the calendar and each epoch's lifecycle;
//! * [`reference`]: every US zipcode, its place and type (`resi zipcodes import`);
//! * [`selection`]: which zipcodes an epoch assigns, honeypots among them;
//! * [`secrets`]: nonce, selection seed, honeypot commitment key and seal;
//! * [`evidence`]: what the projections knew of each miner's work, once an epoch is over;
//! * [`coordinator`]: leadership and the loop that publishes.

pub mod coordinator;
pub mod evidence;
mod ledger;
pub mod metrics;
pub mod reference;
pub mod schedule;
pub mod secrets;
pub mod selection;
pub mod validation;

pub use coordinator::{Coordinator, CoordinatorConfig, CoordinatorServiceConfig, TickReport};

/// `resi coordinator`: configuration (from `file`, then the environment), telemetry, then
/// ticking until a signal.
pub async fn service_main(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (config, _telemetry) = resi_runtime::service::start::<CoordinatorServiceConfig>(
        "resi-coordinator",
        file,
        |config| &config.telemetry,
    )?;
    let coordinator = Coordinator::build(&config).await?;
    coordinator.run(resi_runtime::shutdown::on_signal()).await
}
