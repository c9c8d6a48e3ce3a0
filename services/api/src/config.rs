//! The API's configuration: the `api` section, beside the shared `postgres`, `kafka` and
//! `telemetry` sections.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use resi_runtime::config::{KafkaConfig, PostgresConfig, TelemetryConfig};
use serde::Deserialize;

/// Everything the `resi-api` binary reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiServiceConfig {
    /// The projections' database. The API switches every connection to `api.database_role`
    /// (SELECT only) and read-only transactions, whatever user this URL logs in as.
    pub postgres: PostgresConfig,
    /// The broker, read only for the projections' lag in `/ready`.
    pub kafka: KafkaConfig,
    /// Logs and traces (`/metrics` is served on `api.listen`, so `metrics_listen` stays unset).
    pub telemetry: TelemetryConfig,
    /// The API itself.
    pub api: ApiConfig,
    /// The store open-data links are presigned for (`api.open_data_presign_secs`).
    pub s3: resi_runtime::config::S3Config,
}

/// A request quota: `requests` per `per_secs` seconds, refilled continuously (GCRA), so a
/// client may burst up to `requests` and then gets one more every `per_secs / requests` s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quota {
    /// Requests allowed in one window.
    pub requests: u32,
    /// The window in seconds.
    pub per_secs: u64,
}

impl Default for Quota {
    /// The seed's quota: 100 requests per 15 minutes (so `RESI__API__RATE_LIMIT__REQUESTS`
    /// alone keeps the 15-minute window).
    fn default() -> Self {
        Self {
            requests: 100,
            per_secs: 15 * 60,
        }
    }
}

/// The `api` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address to listen on (`0.0.0.0:8080` in a container; port 0 picks a free port).
    pub listen: SocketAddr,
    /// The Postgres role every connection switches to (`SET ROLE`): created by the migrations
    /// with SELECT only. The login user must be a member of it (or be it).
    pub database_role: String,
    /// `/ready` answers 503 when a live projection is more than this many events behind its
    /// topic.
    pub ready_max_lag: i64,
    /// `/ready` answers 503 when a partition of a live projection has not moved on (its batch
    /// retried, or blocked at an event of a newer schema version) for this many seconds,
    /// whatever its lag.
    pub ready_max_stall_secs: u64,
    /// How long the projections' lag is reused by `/ready`, in milliseconds (probes from many
    /// kubelets then cost one broker round trip).
    pub lag_cache_ms: u64,
    /// How long `/api/stats` is reused, in milliseconds (its totals scan whole tables).
    pub stats_cache_ms: u64,
    /// Longest time a request may take, in milliseconds; then 503 `timeout`.
    pub request_timeout_ms: u64,
    /// Longest accepted request URI (path and query), in bytes; longer is 414. The default
    /// holds every request the OpenAPI document allows (each value at most 256 printable
    /// characters, percent-encoded).
    pub max_uri_bytes: usize,
    /// Quota of a client without an API key, per client IP (the seed's 100 per 15 minutes).
    pub rate_limit: Quota,
    /// Quotas of API keys, by tier name (a key's tier is stored with its hash).
    pub tiers: BTreeMap<String, Quota>,
    /// Header holding the client's address when the API is behind a proxy or an ingress, e.g.
    /// `x-forwarded-for`; the rightmost address in it (the one the trusted proxy appended) is
    /// the client. Unset uses the TCP peer address: never set it without a proxy in front, or
    /// clients choose their own rate-limit key.
    pub client_ip_header: Option<String>,
    /// Origins allowed by CORS; empty allows any origin (the API is read-only and public).
    pub cors_origins: Vec<String>,
    /// How long an API key lookup is reused, in milliseconds (a revoked key stops working
    /// within this time).
    pub api_key_cache_ms: u64,
    /// Lookups of keys not in the cache (new, unknown or wrong keys) per client IP: checked
    /// before the database is asked, so junk keys cost their sender, not the database.
    pub key_lookup_rate_limit: Quota,
    /// Public base URL of the open-data bucket (a CDN or the bucket's website endpoint):
    /// `/api/open-data` links files as `{base}/{key}`; unset, as `s3://bucket/key`.
    pub open_data_base_url: Option<String>,
    /// When no base URL is set and this is above 0, `/api/open-data` links files as presigned
    /// GETs of `[s3]`'s store valid this many seconds (the API then needs read access to the
    /// open-data bucket).
    pub open_data_presign_secs: u64,
    /// How often the network's data-quality gauges (`resi_quality_*`) are recomputed, in
    /// seconds (each time aggregates every listing).
    pub quality_interval_secs: u64,
    /// At most this many miners get `resi_miner_*` gauges (those with a raised anomaly signal
    /// first, then the busiest today), so a crowd of hotkeys cannot flood the metrics.
    pub quality_miner_gauges: usize,
    /// A cluster tile (below zoom 12) is reused this many seconds after it was computed, even
    /// when the build has moved on since: under streaming ingestion the build moves with every
    /// batch, and a low-zoom tile aggregates every listing under it.
    pub cluster_tile_reuse_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            database_role: "resi_api".to_owned(),
            ready_max_lag: 10_000,
            ready_max_stall_secs: 300,
            lag_cache_ms: 2_000,
            stats_cache_ms: 10_000,
            request_timeout_ms: 5_000,
            max_uri_bytes: 4_096,
            rate_limit: Quota::default(),
            tiers: BTreeMap::from([
                (
                    "developer".to_owned(),
                    Quota {
                        requests: 5_000,
                        per_secs: 15 * 60,
                    },
                ),
                (
                    "enterprise".to_owned(),
                    Quota {
                        requests: 100_000,
                        per_secs: 15 * 60,
                    },
                ),
            ]),
            client_ip_header: None,
            cors_origins: Vec::new(),
            api_key_cache_ms: 30_000,
            key_lookup_rate_limit: Quota {
                requests: 20,
                per_secs: 60,
            },
            open_data_base_url: None,
            open_data_presign_secs: 0,
            quality_interval_secs: 300,
            quality_miner_gauges: 256,
            cluster_tile_reuse_secs: 60,
        }
    }
}

impl ApiConfig {
    /// Checks what serde cannot: non-zero quotas, a plain role name.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, quota) in [
            ("rate_limit", &self.rate_limit),
            ("key_lookup_rate_limit", &self.key_lookup_rate_limit),
        ]
        .into_iter()
        .chain(
            self.tiers
                .iter()
                .map(|(name, quota)| (name.as_str(), quota)),
        ) {
            anyhow::ensure!(
                quota.requests > 0 && quota.per_secs > 0,
                "api quota {name} must allow at least one request in a window of at least one second"
            );
        }
        anyhow::ensure!(
            resi_projector::versions::is_identifier(&self.database_role),
            "api.database_role must be a plain role name (lower-case letters, digits, _)"
        );
        anyhow::ensure!(
            self.request_timeout_ms > 0,
            "api.request_timeout_ms must be positive"
        );
        // SigV4 presigned URLs live at most a week
        anyhow::ensure!(
            self.open_data_presign_secs <= 604_800,
            "api.open_data_presign_secs must be at most 604800 (a week)"
        );
        Ok(())
    }
}
