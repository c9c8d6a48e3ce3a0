//! The bridge: learns of miner uploads (S3 notifications via SQS, listing the bucket, or a local
//! directory) and publishes one upload event per object version.

pub mod metadata;
pub mod metrics;
pub mod notification;
pub mod service;

pub use service::{Bridge, BridgeConfig, BridgeServiceConfig, BucketLayout, Handled, SqsConfig};

/// `resi bridge`: configuration (from `file`, then the environment), telemetry, then publishing
/// until a signal.
pub async fn service_main(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (config, _telemetry) =
        resi_runtime::service::start::<BridgeServiceConfig>("resi-bridge", file, |config| {
            &config.telemetry
        })?;
    let bridge = Bridge::build(&config).await?;
    bridge.run(resi_runtime::shutdown::on_signal()).await
}
