//! The bridge's metrics, each named once here.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `resi_bridge_objects_total` | counter | `outcome`: observed, rejected, already_published, outside_prefix, waiting | objects handled |
//! | `resi_bridge_notifications_total` | counter | `kind`: records, test_event, unreadable | queue messages read |
//! | `resi_bridge_visibility_extensions_total` | counter | | messages whose visibility was renewed |
//! | `resi_bridge_reconciled_objects_total` | counter | | objects seen by listing |
//! | `resi_bridge_reconciled_published_total` | counter | | events published by listing (what notifications missed) |
//! | `resi_bridge_failures_total` | counter | `kind`: sqs_receive, reconcile | failures that were retried |

/// An object was handled.
pub fn object(outcome: &'static str) {
    metrics::counter!("resi_bridge_objects_total", "outcome" => outcome).increment(1);
}

/// A queue message was read.
pub fn notification(kind: &'static str) {
    metrics::counter!("resi_bridge_notifications_total", "kind" => kind).increment(1);
}

/// Visibility of `messages` was renewed.
pub fn visibility_extended(messages: usize) {
    metrics::counter!("resi_bridge_visibility_extensions_total").increment(messages as u64);
}

/// A reconciliation listed `listed` objects and published `published` events.
pub fn reconciled(listed: usize, published: usize) {
    metrics::counter!("resi_bridge_reconciled_objects_total").increment(listed as u64);
    metrics::counter!("resi_bridge_reconciled_published_total").increment(published as u64);
}

/// A failure that will be retried.
pub fn failure(kind: &'static str) {
    metrics::counter!("resi_bridge_failures_total", "kind" => kind).increment(1);
}
