//! The coordinator's Prometheus metrics.

use crate::coordinator::TickReport;

/// After a tick: leadership, and what was opened and closed.
pub fn tick(report: &TickReport) {
    metrics::gauge!("resi_coordinator_leader").set(if report.leader { 1.0 } else { 0.0 });
    metrics::counter!("resi_coordinator_epochs_opened_total").increment(report.opened.len() as u64);
    metrics::counter!("resi_coordinator_epochs_closed_total").increment(report.closed.len() as u64);
    metrics::counter!("resi_coordinator_epochs_evidenced_total")
        .increment(report.evidenced.len() as u64);
    metrics::counter!("resi_coordinator_miners_banned_total").increment(report.banned.len() as u64);
    metrics::counter!("resi_coordinator_epochs_validated_total")
        .increment(report.validated.len() as u64);
    if report.leader {
        metrics::gauge!("resi_coordinator_last_tick_seconds")
            .set(chrono::Utc::now().timestamp() as f64);
    } else {
        // only the leader vouches for the current epoch: a standby's stale 1 would hide a gap
        current_epoch_open(false);
    }
}

/// A tick that failed (broker or database unavailable).
pub fn failure() {
    metrics::counter!("resi_coordinator_tick_failures_total").increment(1);
}

/// An epoch opened outside its target band.
pub fn outside_band() {
    metrics::counter!("resi_coordinator_selection_outside_band_total").increment(1);
}

/// Whether the epoch that should be open now is, as the leader last saw the log.
pub fn current_epoch_open(open: bool) {
    metrics::gauge!("resi_coordinator_current_epoch_open").set(if open { 1.0 } else { 0.0 });
}

/// An epoch's evidence could not be gathered or published (retried at the next tick).
pub fn evidence_failure() {
    metrics::counter!("resi_coordinator_evidence_failures_total").increment(1);
}

/// An epoch's verdict was recorded, from `validators` validators' results.
pub fn validated(validators: usize) {
    metrics::gauge!("resi_coordinator_last_validation_validators").set(validators as f64);
    if validators == 0 {
        metrics::counter!("resi_coordinator_epochs_unvalidated_total").increment(1);
    }
}
