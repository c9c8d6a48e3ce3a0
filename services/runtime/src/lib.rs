//! What every RESI binary shares.
//!
//! Each service builds on the same pieces so that configuration, logs, traces and connections
//! behave the same everywhere: [`config`] (defaults → file → `RESI__SECTION__KEY` environment),
//! [`telemetry`] (tracing, JSON or pretty, OTLP export), [`postgres`] (pool and migrations),
//! [`kafka`] (client settings, topic creation, producer), [`s3`] and [`shutdown`].

pub mod assignment;
pub mod checkpoints;
pub mod config;
pub mod docs;
pub mod kafka;
pub mod metrics;
pub mod postgres;
pub mod retry;
pub mod s3;
pub mod service;
pub mod shutdown;
pub mod store;
pub mod telemetry;
