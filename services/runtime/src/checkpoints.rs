//! Offsets of the consumers that are not projections (projections keep theirs beside their rows).
//!
//! A consumer writes the next offset of a partition only after everything it produced for the
//! records before it was acknowledged; on start it seeks to these offsets. Kafka group offsets
//! are never read or committed.

use std::collections::BTreeMap;

use anyhow::Context as _;
use deadpool_postgres::GenericClient;

/// Where a consumer (a parser, a projection version) stands in its topic: per partition, the
/// next offset it will process and the log's end offset, and the records it consumed but only
/// staged (a projection catching up applies them once it reaches the end).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// partition → (next offset to fold, end offset of the log).
    pub partitions: BTreeMap<i32, (i64, i64)>,
    /// partition → records consumed and staged, not applied yet (absent: none).
    pub staged: BTreeMap<i32, i64>,
}

impl Progress {
    /// Progress from the log's end offsets and the consumer's checkpoints (a partition never
    /// checkpointed stands at 0).
    #[must_use]
    pub fn new(ends: &BTreeMap<i32, i64>, checkpoints: &BTreeMap<i32, i64>) -> Self {
        Self {
            partitions: ends
                .iter()
                .map(|(partition, end)| {
                    let next = checkpoints.get(partition).copied().unwrap_or(0);
                    (*partition, (next, *end))
                })
                .collect(),
            staged: BTreeMap::new(),
        }
    }

    /// The same progress, with `staged` records per partition consumed but not applied yet.
    #[must_use]
    pub fn with_staged(mut self, staged: BTreeMap<i32, i64>) -> Self {
        self.staged = staged;
        self
    }

    /// Records of the log not yet folded: those not consumed, and those consumed but only
    /// staged.
    #[must_use]
    pub fn lag(&self) -> i64 {
        self.lag_by_partition().values().sum()
    }

    /// Records consumed but only staged, over every partition.
    #[must_use]
    pub fn staged(&self) -> i64 {
        self.staged.values().sum()
    }

    /// Records folded (or passed) so far, over every partition.
    #[must_use]
    pub fn position(&self) -> i64 {
        self.partitions.values().map(|(next, _)| next).sum()
    }

    /// The lag of each partition.
    #[must_use]
    pub fn lag_by_partition(&self) -> BTreeMap<i32, i64> {
        self.partitions
            .iter()
            .map(|(partition, (next, end))| {
                let staged = self.staged.get(partition).copied().unwrap_or(0).max(0);
                (*partition, (end - next).max(0) + staged)
            })
            .collect()
    }
}

/// The next offset per partition of `topic` for `consumer` (partitions never checkpointed are
/// absent: start them at 0).
#[tracing::instrument(skip_all, fields(consumer, topic))]
pub async fn load(
    client: &impl GenericClient,
    consumer: &str,
    topic: &str,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let rows = client
        .query(
            "SELECT partition, next_offset FROM consumer_checkpoints WHERE consumer = $1 AND topic = $2",
            &[&consumer, &topic],
        )
        .await
        .context("failed to read consumer checkpoints")?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Records `next_offset` for one partition (never moving it backwards).
#[tracing::instrument(skip_all, fields(consumer, topic, partition, next_offset))]
pub async fn store(
    client: &impl GenericClient,
    consumer: &str,
    topic: &str,
    partition: i32,
    next_offset: i64,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO consumer_checkpoints (consumer, topic, partition, next_offset)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (consumer, topic, partition) DO UPDATE
             SET next_offset = GREATEST(consumer_checkpoints.next_offset, EXCLUDED.next_offset),
                 updated_at = now()",
            &[&consumer, &topic, &partition, &next_offset],
        )
        .await
        .context("failed to write a consumer checkpoint")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_records_count_as_lag_until_applied() {
        let ends = BTreeMap::from([(0, 100), (1, 50), (2, 0)]);
        let next = BTreeMap::from([(0, 100), (1, 40)]);
        let progress = Progress::new(&ends, &next);
        assert_eq!(progress.lag(), 10);
        assert_eq!(progress.position(), 140);

        let staged = progress.with_staged(BTreeMap::from([(0, 30)]));
        assert_eq!(staged.lag(), 40, "consumed but staged is not folded");
        assert_eq!(staged.staged(), 30);
        assert_eq!(staged.position(), 140, "staging still moves the position");
        assert_eq!(
            staged.lag_by_partition(),
            BTreeMap::from([(0, 30), (1, 10), (2, 0)])
        );
    }
}
