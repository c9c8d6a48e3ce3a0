//! What a lane records when it cannot fold normally: partitions that are retrying or blocked
//! (`projection_faults`, read by the API's `/ready`), and events the database refused
//! (`projection_refusals`, beside their dead letters).

use anyhow::Context as _;
use deadpool_postgres::GenericClient;
use resi_events::EventId;

/// A partition's state while it does not fold normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneState {
    /// A batch keeps failing for a reason that is retried.
    Retrying,
    /// An event of a newer schema version waits for an upgrade.
    Blocked,
}

impl LaneState {
    /// The state's name in `projection_faults`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Retrying => "retrying",
            Self::Blocked => "blocked",
        }
    }
}

/// Where a lane folds: its version, topic and partitions.
#[derive(Clone, Copy, Debug)]
pub struct Lane<'a> {
    /// The projection.
    pub projection: &'a str,
    /// Its version.
    pub version: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// The lane's partitions.
    pub partitions: &'a [i32],
}

/// Records that the lane's partitions are in `state` (since the first time they were, while the
/// state stays the same).
pub async fn record(
    client: &impl GenericClient,
    lane: Lane<'_>,
    state: LaneState,
    detail: &str,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO projection_faults (projection, version, topic, partition, state, detail)
             SELECT $1, $2, $3, partition, $5, $6 FROM unnest($4::integer[]) AS lane (partition)
             ON CONFLICT (projection, version, topic, partition) DO UPDATE
             SET since = CASE WHEN projection_faults.state = EXCLUDED.state
                              THEN projection_faults.since ELSE now() END,
                 state = EXCLUDED.state, detail = EXCLUDED.detail, updated_at = now()",
            &[
                &lane.projection,
                &lane.version,
                &lane.topic,
                &lane.partitions,
                &state.as_str(),
                &detail,
            ],
        )
        .await
        .context("failed to record the lane's fault")?;
    Ok(())
}

/// Records that the lane's partitions fold normally again.
pub async fn clear(client: &impl GenericClient, lane: Lane<'_>) -> anyhow::Result<()> {
    client
        .execute(
            "DELETE FROM projection_faults
             WHERE projection = $1 AND version = $2 AND topic = $3 AND partition = ANY($4)",
            &[
                &lane.projection,
                &lane.version,
                &lane.topic,
                &lane.partitions,
            ],
        )
        .await
        .context("failed to clear the lane's faults")?;
    Ok(())
}

/// An event the database refused, by position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The event's id.
    pub event_id: EventId,
    /// The record's key.
    pub key: String,
    /// The event, encoded.
    pub payload: Vec<u8>,
    /// Why, as the database said it.
    pub detail: String,
}

/// Records refused events (in the transaction that folds the rest of their batch).
pub async fn store_refusals(
    client: &impl GenericClient,
    projection: &str,
    version: &str,
    topic: &str,
    refusals: &[Refusal],
) -> anyhow::Result<()> {
    for refusal in refusals {
        client
            .execute(
                "INSERT INTO projection_refusals
                   (projection, version, topic, partition, \"offset\", event_id, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT DO NOTHING",
                &[
                    &projection,
                    &version,
                    &topic,
                    &refusal.partition,
                    &refusal.offset,
                    &refusal.event_id.as_bytes().as_slice(),
                    &refusal.detail,
                ],
            )
            .await
            .context("failed to record a refused event")?;
    }
    Ok(())
}
