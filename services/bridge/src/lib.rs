//! The bridge: learns of miner uploads (S3 notifications via SQS, listing the bucket, or a local
//! directory) and publishes one upload event per object version.

pub mod metadata;
pub mod metrics;
pub mod notification;
pub mod service;

pub use service::{Bridge, BridgeConfig, BridgeServiceConfig, Handled, SqsConfig};
