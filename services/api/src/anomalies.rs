//! Per-miner anomaly signals over the trust projection's daily history (`miner_days`):
//! a **rejection-rate spike** (today's share of rejected rows more than [`SPIKE_FACTOR`] times
//! the share over the seven days before, on at least [`MIN_ROWS`] rows each) and a **trust
//! drop** (trust now at least [`TRUST_DROP`] below its highest day-end of the week before).
//! Days are UTC days of the events' times; "today" is the API's clock.

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::ApiResult;

/// Today's rejection rate must exceed this many times the week's.
pub const SPIKE_FACTOR: f64 = 3.0;
/// The week's rate counts as at least this, so a spotless week does not make one bad row a
/// spike.
pub const RATE_FLOOR: f64 = 0.01;
/// Rows a miner must have sent today, and in the week before, for its rates to mean anything.
pub const MIN_ROWS: i64 = 100;
/// A fall in trust from the week's highest day-end that counts as a drop.
pub const TRUST_DROP: f64 = 0.2;

/// One miner's figures over the last eight UTC days.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MinerSignals {
    /// The miner.
    pub miner_hotkey: String,
    /// Rows it sent today.
    pub rows_today: i64,
    /// Rejected rows / rows today (null without rows today).
    pub rejection_rate_today: Option<f64>,
    /// Rows it sent in the seven days before today.
    pub rows_7d: i64,
    /// Rejected rows / rows over the seven days before today (null without rows then).
    pub rejection_rate_7d: Option<f64>,
    /// Trust now.
    pub trust_score: Option<f64>,
    /// The highest trust it ended a day of the seven before today with.
    pub trust_7d_high: Option<f64>,
    /// `trust_7d_high − trust_score` (positive when trust fell).
    pub trust_drop: Option<f64>,
    /// Today's rejection rate is over [`SPIKE_FACTOR`] × the week's.
    pub rejection_spike: bool,
    /// Trust fell by at least [`TRUST_DROP`].
    pub trust_fell: bool,
}

impl MinerSignals {
    /// The signals of one miner's sums.
    #[must_use]
    pub fn of(
        miner_hotkey: String,
        (rows_today, rejected_today): (i64, i64),
        (rows_7d, rejected_7d): (i64, i64),
        (trust_score, trust_7d_high): (Option<f64>, Option<f64>),
    ) -> Self {
        let rate = |rejected: i64, rows: i64| (rows > 0).then(|| rejected as f64 / rows as f64);
        let rejection_rate_today = rate(rejected_today, rows_today);
        let rejection_rate_7d = rate(rejected_7d, rows_7d);
        let rejection_spike = match (rejection_rate_today, rejection_rate_7d) {
            (Some(today), Some(week)) => {
                rows_today >= MIN_ROWS
                    && rows_7d >= MIN_ROWS
                    && today > SPIKE_FACTOR * week.max(RATE_FLOOR)
            }
            _ => false,
        };
        let trust_drop = trust_7d_high.zip(trust_score).map(|(high, now)| high - now);
        Self {
            miner_hotkey,
            rows_today,
            rejection_rate_today,
            rows_7d,
            rejection_rate_7d,
            trust_score,
            trust_7d_high,
            trust_fell: trust_drop.is_some_and(|drop| drop >= TRUST_DROP),
            trust_drop,
            rejection_spike,
        }
    }

    /// Whether any signal is raised.
    #[must_use]
    pub fn anomalous(&self) -> bool {
        self.rejection_spike || self.trust_fell
    }
}

/// The statement of every miner active in the eight days up to `$1` (today), or of one miner
/// (`$2`, NULL for all), with its sums for today and the week before.
#[must_use]
pub fn signals_sql(trust: &str) -> String {
    format!(
        "SELECT d.miner_hotkey,
                COALESCE(sum(d.rows_read) FILTER (WHERE d.day = $1), 0)::int8,
                COALESCE(sum(d.rows_rejected) FILTER (WHERE d.day = $1), 0)::int8,
                COALESCE(sum(d.rows_read) FILTER (WHERE d.day < $1), 0)::int8,
                COALESCE(sum(d.rows_rejected) FILTER (WHERE d.day < $1), 0)::int8,
                max(t.trust_score),
                max(d.trust_end) FILTER (WHERE d.day < $1)
         FROM {trust}.miner_days d
         LEFT JOIN {trust}.miner_trust t USING (miner_hotkey)
         WHERE d.day BETWEEN $1::date - 7 AND $1::date
           AND ($2::text IS NULL OR d.miner_hotkey = $2)
         GROUP BY d.miner_hotkey
         ORDER BY d.miner_hotkey"
    )
}

/// The signals of the miners active in the last eight days (or of `miner`), today by the
/// API's clock.
pub async fn read(
    transaction: &deadpool_postgres::Transaction<'_>,
    trust: &str,
    miner: Option<&str>,
) -> ApiResult<(NaiveDate, Vec<MinerSignals>)> {
    let today = Utc::now().date_naive();
    let rows = db::query(
        transaction,
        "quality.miners",
        &signals_sql(trust),
        &[&today, &miner],
    )
    .await?;
    Ok((
        today,
        rows.iter()
            .map(|row| {
                MinerSignals::of(
                    row.get(0),
                    (row.get(1), row.get(2)),
                    (row.get(3), row.get(4)),
                    (row.get(5), row.get(6)),
                )
            })
            .collect(),
    ))
}

/// The network's miners with a raised signal.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MinerAnomalies {
    /// The UTC day called today.
    pub day: NaiveDate,
    /// Miners with uploads in the eight days up to today.
    pub miners_active: i64,
    /// Miners whose rejection rate spiked today.
    pub rejection_spikes: i64,
    /// Miners whose trust fell.
    pub trust_drops: i64,
    /// The miners with a raised signal, by hotkey.
    pub miners: Vec<MinerSignals>,
}

impl MinerAnomalies {
    /// The summary of every active miner's signals.
    #[must_use]
    pub fn of(day: NaiveDate, signals: &[MinerSignals]) -> Self {
        let count = |raised: fn(&MinerSignals) -> bool| {
            i64::try_from(signals.iter().filter(|each| raised(each)).count()).unwrap_or(i64::MAX)
        };
        Self {
            day,
            miners_active: i64::try_from(signals.len()).unwrap_or(i64::MAX),
            rejection_spikes: count(|each| each.rejection_spike),
            trust_drops: count(|each| each.trust_fell),
            miners: signals
                .iter()
                .filter(|each| each.anomalous())
                .cloned()
                .collect(),
        }
    }
}

/// Exports each active miner's figures (`resi_miner_*{miner}`, at most `limit` miners, those
/// with most rows today first) and the counts (`resi_quality_miner_anomalies{signal}`).
/// `exported` holds the miners exported before: those no longer active are zeroed, so an
/// alert on them resolves instead of holding their last value.
pub fn export(
    signals: &[MinerSignals],
    limit: usize,
    exported: &mut std::collections::BTreeSet<String>,
) {
    let anomalies = MinerAnomalies::of(Utc::now().date_naive(), signals);
    metrics::gauge!("resi_quality_miner_anomalies", "signal" => "rejection_spike")
        .set(anomalies.rejection_spikes as f64);
    metrics::gauge!("resi_quality_miner_anomalies", "signal" => "trust_drop")
        .set(anomalies.trust_drops as f64);
    let mut chosen: Vec<&MinerSignals> = signals.iter().collect();
    // the anomalous ones always, then the busiest
    chosen.sort_by(|a, b| {
        b.anomalous()
            .cmp(&a.anomalous())
            .then(b.rows_today.cmp(&a.rows_today))
            .then(a.miner_hotkey.cmp(&b.miner_hotkey))
    });
    chosen.truncate(limit);
    let now: std::collections::BTreeSet<String> = chosen
        .iter()
        .map(|each| each.miner_hotkey.clone())
        .collect();
    let set = |miner: &str, values: [f64; 4]| {
        let names = [
            "resi_miner_rows_today",
            "resi_miner_rejection_rate_today",
            "resi_miner_rejection_rate_7d",
            "resi_miner_trust_drop",
        ];
        for (name, value) in names.into_iter().zip(values) {
            metrics::gauge!(name, "miner" => miner.to_owned()).set(value);
        }
    };
    for gone in exported.difference(&now) {
        set(gone, [0.0; 4]);
    }
    for each in chosen {
        set(
            &each.miner_hotkey,
            [
                each.rows_today as f64,
                each.rejection_rate_today.unwrap_or(0.0),
                each.rejection_rate_7d.unwrap_or(0.0),
                each.trust_drop.unwrap_or(0.0),
            ],
        );
    }
    *exported = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals(
        today: (i64, i64),
        week: (i64, i64),
        trust: (Option<f64>, Option<f64>),
    ) -> MinerSignals {
        MinerSignals::of("5Miner".into(), today, week, trust)
    }

    #[test]
    fn a_spike_is_three_times_the_weeks_rate_on_enough_rows() {
        assert!(signals((200, 40), (1_000, 50), (None, None)).rejection_spike);
        // three times exactly is not over
        assert!(!signals((200, 30), (1_000, 50), (None, None)).rejection_spike);
        // too few rows today, or no week to compare with
        assert!(!signals((99, 90), (1_000, 50), (None, None)).rejection_spike);
        assert!(!signals((200, 90), (0, 0), (None, None)).rejection_spike);
        assert!(!signals((200, 90), (99, 0), (None, None)).rejection_spike);
        // a spotless week: the floor stops one bad row from counting
        assert!(!signals((200, 1), (1_000, 0), (None, None)).rejection_spike);
        assert!(signals((200, 7), (1_000, 0), (None, None)).rejection_spike);
    }

    #[test]
    fn a_drop_is_measured_from_the_weeks_highest_day_end() {
        let fell = signals((0, 0), (0, 0), (Some(0.55), Some(0.8)));
        assert!(fell.trust_fell);
        assert!((fell.trust_drop.unwrap_or_default() - 0.25).abs() < 1e-12);
        assert!(!signals((0, 0), (0, 0), (Some(0.65), Some(0.8))).trust_fell);
        assert!(!signals((0, 0), (0, 0), (Some(0.2), None)).trust_fell);
    }

    #[test]
    fn the_summary_counts_each_signal_and_lists_only_the_raised() {
        let all = [
            signals((200, 40), (1_000, 50), (Some(0.5), Some(0.5))),
            signals((200, 2), (1_000, 10), (Some(0.3), Some(0.9))),
            signals((200, 2), (1_000, 10), (Some(0.9), Some(0.9))),
        ];
        let summary = MinerAnomalies::of(Utc::now().date_naive(), &all);
        assert_eq!(
            (
                summary.miners_active,
                summary.rejection_spikes,
                summary.trust_drops
            ),
            (3, 1, 1)
        );
        assert_eq!(summary.miners.len(), 2);
    }
}
