//! The parser's metrics, each named once here.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `resi_parser_uploads_total` | counter | `outcome`: parsed, dead_lettered, already_finished, undecodable | upload records handled |
//! | `resi_parser_rows_total` | counter | `outcome`: admitted, rejected, rate_limited | rows of parsed files |
//! | `resi_parser_failures_total` | counter | `kind`: consume, infrastructure (any failure of the store, broker or Postgres, retried), store (a round of S3 reads that all failed) | failures that were retried |
//! | `resi_parser_file_seconds` | histogram | | one upload from its record to its checkpoint |
//! | `resi_parser_fetch_seconds` | histogram | | reading an object from the store (with retries) |
//! | `resi_parser_lag` | gauge | `partition` | upload records of an owned partition not processed yet (consumer lag) |
//! | `resi_parser_validator_results_total` | counter | `outcome`: admitted, not_a_validator, results_invalid | validators' results documents |

use std::time::Duration;

/// An upload record was handled.
pub fn upload(outcome: &'static str) {
    metrics::counter!("resi_parser_uploads_total", "outcome" => outcome).increment(1);
}

/// A validator's results document was admitted or refused.
pub fn validator_results(outcome: &'static str) {
    metrics::counter!("resi_parser_validator_results_total", "outcome" => outcome).increment(1);
}

/// Rows of a parsed file.
pub fn rows(rejected: u64, admitted: u64, rate_limited: u64) {
    metrics::counter!("resi_parser_rows_total", "outcome" => "rejected").increment(rejected);
    metrics::counter!("resi_parser_rows_total", "outcome" => "admitted").increment(admitted);
    metrics::counter!("resi_parser_rows_total", "outcome" => "rate_limited")
        .increment(rate_limited);
}

/// A failure that will be retried.
pub fn failure(kind: &'static str) {
    metrics::counter!("resi_parser_failures_total", "kind" => kind).increment(1);
}

/// Time for one upload.
pub fn file_seconds(elapsed: Duration) {
    metrics::histogram!("resi_parser_file_seconds").record(elapsed.as_secs_f64());
}

/// Time to fetch one object.
pub fn fetch_seconds(elapsed: Duration) {
    metrics::histogram!("resi_parser_fetch_seconds").record(elapsed.as_secs_f64());
}

/// Upload records of `partition` not processed yet.
pub fn lag(partition: i32, lag: i64) {
    metrics::gauge!("resi_parser_lag", "partition" => partition.to_string()).set(lag as f64);
}
