//! The projector's metrics, each named once here.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `resi_projector_events_total` | counter | `projection`, `version`, `outcome`: folded, skipped, already_folded, undecodable, staged (reports staged while behind), applied (staged reports applied) | records consumed, and staged reports applied |
//! | `resi_projector_batch_events` | histogram | `projection` | records per folded batch |
//! | `resi_projector_batch_seconds` | histogram | `projection` | one batch's transaction, from begin to commit |
//! | `resi_projector_apply_seconds` | histogram | `projection` | one pass applying a lane's staged records, from begin to commit |
//! | `resi_projector_apply_events` | histogram | `projection` | staged records (consensus reports, listing attestations) applied in one pass |
//! | `resi_projector_failures_total` | counter | `projection`, `kind`: consume, fold, apply | failures that were retried |
//! | `resi_projector_visible_seconds` | histogram | | from an attestation's upload to its listing committed (uploads of the last day) |
//! | `resi_projector_lag` | gauge | `projection`, `version`, `partition` | records of an owned partition not folded yet (staged ones included), every `lag_report_interval_secs` (consumer lag) |

use std::time::Duration;

/// Records of one batch, by outcome.
pub fn events(projection: &'static str, version: &str, outcome: &'static str, count: usize) {
    metrics::counter!(
        "resi_projector_events_total",
        "projection" => projection,
        "version" => version.to_owned(),
        "outcome" => outcome
    )
    .increment(count as u64);
}

/// One folded batch.
pub fn batch(projection: &'static str, size: usize, elapsed: Duration) {
    metrics::histogram!("resi_projector_batch_events", "projection" => projection)
        .record(size as f64);
    metrics::histogram!("resi_projector_batch_seconds", "projection" => projection)
        .record(elapsed.as_secs_f64());
}

/// One pass applying a lane's staged records.
pub fn apply(projection: &'static str, applied: usize, elapsed: Duration) {
    metrics::histogram!("resi_projector_apply_events", "projection" => projection)
        .record(applied as f64);
    metrics::histogram!("resi_projector_apply_seconds", "projection" => projection)
        .record(elapsed.as_secs_f64());
}

/// A failure that will be retried.
pub fn failure(projection: &'static str, kind: &'static str) {
    metrics::counter!("resi_projector_failures_total", "projection" => projection, "kind" => kind)
        .increment(1);
}

/// Records of an owned partition not folded yet (`resi_projector_lag`, gauge).
pub fn lag(projection: &'static str, version: &str, partition: i32, lag: i64) {
    metrics::gauge!(
        "resi_projector_lag",
        "projection" => projection,
        "version" => version.to_owned(),
        "partition" => partition.to_string()
    )
    .set(lag as f64);
}

/// One attestation became visible `seconds` after its upload.
pub fn visible(seconds: f64) {
    metrics::histogram!("resi_projector_visible_seconds").record(seconds);
}
