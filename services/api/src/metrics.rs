//! The API's metrics (served at `GET /metrics`):
//!
//! - `resi_api_requests_total{route, method, status}`: requests answered.
//! - `resi_api_request_duration_seconds{route, method, status}`: time to answer (histogram).
//! - `resi_api_rejected_total{reason}`: requests refused before a handler ran
//!   (`rate_limited`, `invalid_api_key`, `key_lookups_limited`, `uri_too_long`, `timeout`).
//! - `resi_api_key_lookups_total{outcome}`: API keys looked up in the database (`found`,
//!   `unknown`); cached and throttled keys cost none.
//! - `resi_quality_listings`, `resi_quality_stale_share`, `resi_quality_freshness_score`,
//!   `resi_quality_median_hours`, `resi_quality_median_consensus_score`,
//!   `resi_quality_completeness`: the network's data quality (`crate::quality`).

use std::time::Duration;

/// One answered request. `route` is the matched route template (`/api/listing/{zpid}`), never
/// the raw path, so the label set stays small.
pub fn request(route: &str, method: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("resi_api_requests_total", &labels).increment(1);
    metrics::histogram!("resi_api_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
}

/// A request refused before its handler.
pub fn rejected(reason: &'static str) {
    metrics::counter!("resi_api_rejected_total", "reason" => reason).increment(1);
}

/// An API key looked up in the database.
pub fn key_lookup(outcome: &'static str) {
    metrics::counter!("resi_api_key_lookups_total", "outcome" => outcome).increment(1);
}
