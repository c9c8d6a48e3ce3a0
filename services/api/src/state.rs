//! What every handler shares.

use std::collections::HashMap;
use std::time::Instant;

use deadpool_postgres::Pool;
use resi_runtime::config::KafkaConfig;
use tokio::sync::Mutex;

use crate::config::ApiConfig;
use crate::limit::RateLimits;
use crate::ops::{DatabaseStats, Readiness};

/// The application state behind every route.
pub struct AppState {
    /// Connections as the SELECT-only role, in read-only transactions.
    pub pool: Pool,
    /// The `api` section.
    pub config: ApiConfig,
    /// The broker, for the projections' lag.
    pub kafka: KafkaConfig,
    /// Per-client quotas.
    pub limits: RateLimits,
    /// The last readiness check.
    pub readiness: Mutex<Option<(Instant, Readiness)>>,
    /// The last statistics, per consensus version asked for ("" for the live one).
    pub stats: Mutex<HashMap<String, (Instant, DatabaseStats)>>,
    /// Cluster tiles by build and place: when computed, their ETag and bytes (see `crate::tiles`).
    pub tiles: Mutex<HashMap<String, (Instant, String, axum::body::Bytes)>>,
    /// The last data-quality figures, per area and page asked for.
    pub quality: Mutex<HashMap<String, (Instant, crate::quality::Quality)>>,
    /// The miners whose `resi_miner_*` gauges were exported last (see `crate::anomalies`).
    pub exported_miners: Mutex<std::collections::BTreeSet<String>>,
    /// How `/api/open-data` links files.
    pub open_data_links: crate::open_data::Links,
    /// Renders `/metrics`.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
    /// The docs page, rendered once.
    pub docs_html: String,
}
