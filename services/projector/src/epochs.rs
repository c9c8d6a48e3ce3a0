//! The epochs projection: `epochs`, `epoch_assignments` and `epoch_conflicts` from the
//! coordinator's events.
//!
//! The epochs topic has one partition, so events arrive in the order the coordinator wrote
//! them. The first opening of an epoch is the epoch; a later, different one is recorded as a
//! conflict and changes nothing (the coordinator's leader lock makes one all but impossible).
//! A closing applies once: it reveals the honeypots, marks them among the assignments and
//! records whether the reveal opens the opening's commitment. Re-delivered events change
//! nothing.

use anyhow::Context as _;
use resi_events::{EpochClosed, EpochOpened, Event, EventPayload, honeypot_commitment};
use tokio_postgres::Transaction;

/// The tables of one version; `{schema}` is replaced by the version's schema.
pub const DDL: &str = include_str!("../sql/epochs.sql");

/// Folds one batch in `transaction`; the number of events that changed the tables.
pub async fn fold(
    transaction: &Transaction<'_>,
    schema: &str,
    events: &[&Event],
) -> anyhow::Result<usize> {
    let mut changed = 0;
    for event in events {
        let applied = match &event.payload {
            EventPayload::EpochOpened(opened) => open(transaction, schema, event, opened).await?,
            EventPayload::EpochClosed(closed) => close(transaction, schema, event, closed).await?,
            _ => false,
        };
        changed += usize::from(applied);
    }
    Ok(changed)
}

fn datetime(timestamp: resi_events::Timestamp) -> chrono::DateTime<chrono::Utc> {
    crate::datetime(timestamp.as_micros())
}

async fn conflict(
    transaction: &Transaction<'_>,
    schema: &str,
    epoch_id: &str,
    event: &Event,
    reason: &str,
) -> anyhow::Result<()> {
    crate::record_conflict(
        transaction,
        &format!("{schema}.epoch_conflicts"),
        epoch_id,
        event,
        reason,
    )
    .await
}

async fn open(
    transaction: &Transaction<'_>,
    schema: &str,
    event: &Event,
    opened: &EpochOpened,
) -> anyhow::Result<bool> {
    let id = event.id.as_bytes().as_slice();
    let inserted = transaction
        .query_opt(
            &format!(
                "INSERT INTO {schema}.epochs
                     (epoch_id, opened_event_id, start_time, end_time, submission_deadline, nonce,
                      target_listings, tolerance_percent, total_expected_listings, zipcode_count,
                      algorithm_version, selection_seed, zipcode_hash, honeypot_commitment)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (epoch_id) DO NOTHING
                 RETURNING epoch_id"
            ),
            &[
                &opened.epoch_id,
                &id,
                &datetime(opened.start),
                &datetime(opened.end),
                &datetime(opened.submission_deadline),
                &opened.nonce,
                &i32::try_from(opened.target_listings).unwrap_or(i32::MAX),
                &i32::try_from(opened.tolerance_percent).unwrap_or(i32::MAX),
                &i64::try_from(opened.total_expected_listings()).unwrap_or(i64::MAX),
                &i32::try_from(opened.zipcodes.len()).unwrap_or(i32::MAX),
                &opened.algorithm_version,
                &i64::try_from(opened.selection_seed).unwrap_or(i64::MAX),
                &opened.zipcode_hash,
                &opened.honeypot_commitment,
            ],
        )
        .await
        .context("failed to write an epoch")?;
    if inserted.is_none() {
        let stored: Vec<u8> = transaction
            .query_one(
                &format!("SELECT opened_event_id FROM {schema}.epochs WHERE epoch_id = $1"),
                &[&opened.epoch_id],
            )
            .await
            .context("failed to read an epoch")?
            .get(0);
        if stored != id {
            conflict(
                transaction,
                schema,
                &opened.epoch_id,
                event,
                "a second, different opening",
            )
            .await?;
        }
        return Ok(false);
    }
    let zipcodes = &opened.zipcodes;
    let column = |field: fn(&resi_events::EpochZipcode) -> &str| -> Vec<&str> {
        zipcodes.iter().map(field).collect()
    };
    let positions: Vec<i32> = (0..zipcodes.len())
        .map(|position| i32::try_from(position).unwrap_or(i32::MAX))
        .collect();
    let expected: Vec<i32> = zipcodes
        .iter()
        .map(|zipcode| i32::try_from(zipcode.expected_listings).unwrap_or(i32::MAX))
        .collect();
    let tiers: Vec<&str> = zipcodes
        .iter()
        .map(|zipcode| zipcode.market_tier.as_str())
        .collect();
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.epoch_assignments
                     (epoch_id, position, zipcode, expected_listings, state, city, county,
                      market_tier, geographic_region)
                 SELECT $1, * FROM unnest($2::int4[], $3::text[], $4::int4[], $5::text[],
                                          $6::text[], $7::text[], $8::text[], $9::text[])
                 ON CONFLICT DO NOTHING"
            ),
            &[
                &opened.epoch_id,
                &positions,
                &column(|zipcode| &zipcode.zipcode),
                &expected,
                &column(|zipcode| &zipcode.state),
                &column(|zipcode| &zipcode.city),
                &column(|zipcode| &zipcode.county),
                &tiers,
                &column(|zipcode| &zipcode.geographic_region),
            ],
        )
        .await
        .context("failed to write an epoch's assignments")?;
    Ok(true)
}

async fn close(
    transaction: &Transaction<'_>,
    schema: &str,
    event: &Event,
    closed: &EpochClosed,
) -> anyhow::Result<bool> {
    let stored = transaction
        .query_opt(
            &format!(
                "SELECT opened_event_id, honeypot_commitment, closed_event_id
                   FROM {schema}.epochs WHERE epoch_id = $1 FOR UPDATE"
            ),
            &[&closed.epoch_id],
        )
        .await
        .context("failed to read an epoch")?;
    let Some(stored) = stored else {
        conflict(
            transaction,
            schema,
            &closed.epoch_id,
            event,
            "closed but never opened",
        )
        .await?;
        return Ok(false);
    };
    let opened_id: Vec<u8> = stored.get(0);
    let commitment: String = stored.get(1);
    let closed_id: Option<Vec<u8>> = stored.get(2);
    if opened_id != closed.opened_id.as_bytes() {
        conflict(
            transaction,
            schema,
            &closed.epoch_id,
            event,
            "closes another opening",
        )
        .await?;
        return Ok(false);
    }
    if let Some(closed_id) = closed_id {
        if closed_id != event.id.as_bytes() {
            conflict(
                transaction,
                schema,
                &closed.epoch_id,
                event,
                "a second, different closing",
            )
            .await?;
        }
        return Ok(false);
    }
    let verified = honeypot_commitment(&closed.commitment_key, &closed.honeypots) == commitment;
    transaction
        .execute(
            &format!(
                "UPDATE {schema}.epochs
                    SET closed_event_id = $2, honeypots = $3, commitment_key = $4,
                        commitment_verified = $5
                  WHERE epoch_id = $1"
            ),
            &[
                &closed.epoch_id,
                &event.id.as_bytes().as_slice(),
                &closed.honeypots,
                &closed.commitment_key,
                &verified,
            ],
        )
        .await
        .context("failed to close an epoch")?;
    if verified {
        transaction
            .execute(
                &format!(
                    "UPDATE {schema}.epoch_assignments SET is_honeypot = (zipcode = ANY($2))
                      WHERE epoch_id = $1"
                ),
                &[&closed.epoch_id, &closed.honeypots],
            )
            .await
            .context("failed to mark an epoch's honeypots")?;
    } else {
        tracing::warn!(epoch = %closed.epoch_id, "the revealed honeypots do not open the epoch's commitment");
    }
    Ok(true)
}
