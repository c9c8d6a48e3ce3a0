//! Offsets of the consumers that are not projections (projections keep theirs beside their rows).
//!
//! A consumer writes the next offset of a partition only after everything it produced for the
//! records before it was acknowledged; on start it seeks to these offsets. Kafka group offsets
//! are never read or committed.

use std::collections::BTreeMap;

use anyhow::Context as _;
use deadpool_postgres::GenericClient;

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
