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
