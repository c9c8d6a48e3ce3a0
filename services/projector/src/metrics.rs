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
//! | `resi_projector_refused_total` | counter | `projection`, `version` | events the database refused for what they hold, isolated from their batch and dead-lettered |
//! | `resi_projector_dead_lettered_total` | counter | `projection`, `version`, `reason` | records dead-lettered: refused_by_projection, undecodable_event |
//! | `resi_projector_stalled_seconds` | gauge | `projection`, `version`, `lane` | how long the lane has not moved on (retrying a batch, or blocked), 0 while it folds; every `lag_report_interval_secs` |
//! | `resi_projector_epochs_scored_total` | counter | | epochs the scores projection scored (on their evidence's completion) |
//! | `resi_projector_epoch_scored_miners` | histogram | | miners scored in one epoch |
//! | `resi_projector_blocked` | gauge | `projection`, `version`, `lane` | 1 while the lane waits at an event of a newer schema version than it reads |

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

/// An epoch scored with `miners` miners' evidence.
pub fn epoch_scored(miners: usize) {
    metrics::counter!("resi_projector_epochs_scored_total").increment(1);
    metrics::histogram!("resi_projector_epoch_scored_miners").record(miners as f64);
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

/// Events refused by the database and isolated from their batch.
pub fn refused(projection: &'static str, version: &str, count: usize) {
    metrics::counter!(
        "resi_projector_refused_total",
        "projection" => projection,
        "version" => version.to_owned()
    )
    .increment(count as u64);
}

/// Records dead-lettered, by reason.
pub fn dead_lettered(projection: &'static str, version: &str, reason: &'static str, count: usize) {
    metrics::counter!(
        "resi_projector_dead_lettered_total",
        "projection" => projection,
        "version" => version.to_owned(),
        "reason" => reason
    )
    .increment(count as u64);
}

/// How long a lane has not moved on, and whether it is blocked.
pub fn stalled(projection: &'static str, version: &str, lane: usize, seconds: f64, blocked: bool) {
    let lane = lane.to_string();
    metrics::gauge!(
        "resi_projector_stalled_seconds",
        "projection" => projection,
        "version" => version.to_owned(),
        "lane" => lane.clone()
    )
    .set(seconds);
    metrics::gauge!(
        "resi_projector_blocked",
        "projection" => projection,
        "version" => version.to_owned(),
        "lane" => lane
    )
    .set(if blocked { 1.0 } else { 0.0 });
}
