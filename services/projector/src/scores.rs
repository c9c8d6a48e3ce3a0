//! The scores projection: `epoch_scores` and `zipcode_rankings` from the epochs topic.
//!
//! The opening and the closing of each epoch and every miner's evidence are kept as they
//! arrive (the events' own bytes); at the epoch's `EpochEvidenceComplete`, exactly the evidence
//! it names is scored with the version's weights ([`resi_projections::scores`]) and written.
//! The topic has one partition, so the completion always follows its evidence. The first
//! completion of an epoch is the one scored; a later, different one, or one naming evidence
//! that is not on the log, is recorded as a conflict and changes nothing. Bans and their lifting
//! are kept in `miner_bans`; an unban that names no standing ban is a conflict (keyed by the
//! miner). Validators' results and verdicts are kept by [`crate::validation`].

use anyhow::Context as _;
use resi_events::{
    EpochClosed, EpochEvidenceComplete, EpochOpened, Event, EventPayload, MinerEpochEvidence, codec,
};
use resi_projections::scores::{self, Components, ScoreWeights};
use tokio_postgres::Transaction;

/// The tables of one version; `{schema}` is replaced by the version's schema.
pub const DDL: &str = include_str!("../sql/scores.sql");

/// The weights a version scores with: `v1` is the seed's reference, `v2` puts accuracy first
/// ([`ScoreWeights::accuracy_first`]); `v1_<label>` / `v2_<label>` is another build of one.
pub fn weights(version: &str) -> anyhow::Result<ScoreWeights> {
    let named = |name: &str| version == name || version.starts_with(&format!("{name}_"));
    if named("v1") {
        return Ok(ScoreWeights::reference());
    }
    if named("v2") {
        return Ok(ScoreWeights::accuracy_first());
    }
    anyhow::bail!("no scoring is named {version:?}; versions are v1, v2, v1_<label> or v2_<label>")
}

/// Folds one batch in `transaction`; the number of events that changed the tables.
pub async fn fold(
    transaction: &Transaction<'_>,
    schema: &str,
    weights: &ScoreWeights,
    events: &[&Event],
) -> anyhow::Result<usize> {
    let mut changed = 0;
    for event in events {
        let applied = match &event.payload {
            EventPayload::EpochOpened(opened) => open(transaction, schema, event, opened).await?,
            EventPayload::EpochClosed(closed) => close(transaction, schema, event, closed).await?,
            EventPayload::MinerEpochEvidence(evidence) => {
                keep_evidence(transaction, schema, event, evidence).await?
            }
            EventPayload::EpochEvidenceComplete(complete) => {
                complete_epoch(transaction, schema, weights, event, complete).await?
            }
            EventPayload::MinerBanned(banned) => ban(transaction, schema, event, banned).await?,
            EventPayload::MinerUnbanned(unbanned) => {
                unban(transaction, schema, event, unbanned).await?
            }
            EventPayload::ValidatorResultsPublished(results) => {
                crate::validation::keep_results(transaction, schema, event, results).await?
            }
            EventPayload::EpochValidated(validated) => {
                crate::validation::validated(transaction, schema, event, validated).await?
            }
            _ => false,
        };
        changed += usize::from(applied);
    }
    Ok(changed)
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
        &format!("{schema}.score_conflicts"),
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
    let written = transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.scored_epochs (epoch_id, opened_event_id, opened)
                 VALUES ($1, $2, $3) ON CONFLICT (epoch_id) DO NOTHING"
            ),
            &[
                &opened.epoch_id,
                &event.id.as_bytes().as_slice(),
                &codec::encode(event),
            ],
        )
        .await
        .context("failed to keep an epoch's opening")?;
    Ok(written > 0)
}

async fn close(
    transaction: &Transaction<'_>,
    schema: &str,
    event: &Event,
    closed: &EpochClosed,
) -> anyhow::Result<bool> {
    // a closing of another opening than the one kept changes nothing
    let written = transaction
        .execute(
            &format!(
                "UPDATE {schema}.scored_epochs SET closed_event_id = $2, closed = $3
                  WHERE epoch_id = $1 AND opened_event_id = $4 AND closed_event_id IS NULL"
            ),
            &[
                &closed.epoch_id,
                &event.id.as_bytes().as_slice(),
                &codec::encode(event),
                &closed.opened_id.as_bytes().as_slice(),
            ],
        )
        .await
        .context("failed to keep an epoch's closing")?;
    Ok(written > 0)
}

async fn keep_evidence(
    transaction: &Transaction<'_>,
    schema: &str,
    event: &Event,
    evidence: &MinerEpochEvidence,
) -> anyhow::Result<bool> {
    let written = transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.score_evidence (event_id, epoch_id, miner_hotkey, evidence)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING"
            ),
            &[
                &event.id.as_bytes().as_slice(),
                &evidence.epoch_id,
                &evidence.miner_hotkey,
                &codec::encode(event),
            ],
        )
        .await
        .context("failed to keep a miner's evidence")?;
    Ok(written > 0)
}

fn decode<T>(bytes: &[u8], pick: fn(EventPayload) -> Option<T>) -> anyhow::Result<T> {
    let event = codec::decode(bytes).context("a kept event no longer decodes")?;
    pick(event.payload).context("a kept event is of another type")
}

async fn complete_epoch(
    transaction: &Transaction<'_>,
    schema: &str,
    weights: &ScoreWeights,
    event: &Event,
    complete: &EpochEvidenceComplete,
) -> anyhow::Result<bool> {
    let epoch = transaction
        .query_opt(
            &format!(
                "SELECT opened, closed, closed_event_id, complete_event_id
                   FROM {schema}.scored_epochs WHERE epoch_id = $1 FOR UPDATE"
            ),
            &[&complete.epoch_id],
        )
        .await
        .context("failed to read an epoch to score")?;
    let Some(epoch) = epoch else {
        conflict(
            transaction,
            schema,
            &complete.epoch_id,
            event,
            "no opening of the epoch",
        )
        .await?;
        return Ok(false);
    };
    if let Some(scored) = epoch.get::<_, Option<Vec<u8>>>(3) {
        if scored != event.id.as_bytes() {
            conflict(
                transaction,
                schema,
                &complete.epoch_id,
                event,
                "a second, different completion",
            )
            .await?;
        }
        return Ok(false);
    }
    let (Some(closed), Some(closed_id)) = (
        epoch.get::<_, Option<Vec<u8>>>(1),
        epoch.get::<_, Option<Vec<u8>>>(2),
    ) else {
        conflict(
            transaction,
            schema,
            &complete.epoch_id,
            event,
            "the epoch is not closed",
        )
        .await?;
        return Ok(false);
    };
    if closed_id != complete.closed_id.as_bytes() {
        conflict(
            transaction,
            schema,
            &complete.epoch_id,
            event,
            "evidence of another closing",
        )
        .await?;
        return Ok(false);
    }
    let opened: EpochOpened = decode(&epoch.get::<_, Vec<u8>>(0), |payload| match payload {
        EventPayload::EpochOpened(opened) => Some(*opened),
        _ => None,
    })?;
    let closed: EpochClosed = decode(&closed, |payload| match payload {
        EventPayload::EpochClosed(closed) => Some(closed),
        _ => None,
    })?;
    let ids: Vec<&[u8]> = complete
        .evidence_ids
        .iter()
        .map(|id| id.as_bytes().as_slice())
        .collect();
    let rows = transaction
        .query(
            &format!(
                "SELECT event_id, evidence FROM {schema}.score_evidence
                  WHERE event_id = ANY($1) AND epoch_id = $2"
            ),
            &[&ids, &complete.epoch_id],
        )
        .await
        .context("failed to read the evidence to score")?;
    if rows.len() != ids.len() {
        conflict(
            transaction,
            schema,
            &complete.epoch_id,
            event,
            "evidence it names is not on the log",
        )
        .await?;
        return Ok(false);
    }
    let mut evidence = Vec::with_capacity(rows.len());
    for row in &rows {
        evidence.push(decode(
            &row.get::<_, Vec<u8>>(1),
            |payload| match payload {
                EventPayload::MinerEpochEvidence(evidence) => Some(*evidence),
                _ => None,
            },
        )?);
    }
    let evidence_ids: std::collections::BTreeMap<&str, Vec<u8>> = rows
        .iter()
        .zip(&evidence)
        .map(|(row, evidence)| (evidence.miner_hotkey.as_str(), row.get::<_, Vec<u8>>(0)))
        .collect();
    let scored = scores::score_epoch(&opened, &closed, &evidence, weights);
    write_scores(
        transaction,
        schema,
        &complete.epoch_id,
        &scored,
        &evidence_ids,
    )
    .await?;
    transaction
        .execute(
            &format!(
                "UPDATE {schema}.scored_epochs SET complete_event_id = $2, miners = $3
                  WHERE epoch_id = $1"
            ),
            &[
                &complete.epoch_id,
                &event.id.as_bytes().as_slice(),
                &i32::try_from(scored.miners.len()).unwrap_or(i32::MAX),
            ],
        )
        .await
        .context("failed to mark an epoch scored")?;
    crate::metrics::epoch_scored(scored.miners.len());
    Ok(true)
}

/// A ban: the miner's row says banned, with the epochs it rests on. A ban already recorded
/// changes nothing.
async fn ban(
    transaction: &Transaction<'_>,
    schema: &str,
    event: &Event,
    banned: &resi_events::MinerBanned,
) -> anyhow::Result<bool> {
    let written = transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.miner_bans AS current
                     (miner_hotkey, banned, banned_event_id, epochs)
                 VALUES ($1, true, $2, $3)
                 ON CONFLICT (miner_hotkey) DO UPDATE
                 SET banned = true, banned_event_id = EXCLUDED.banned_event_id,
                     epochs = EXCLUDED.epochs, unbanned_event_id = NULL, unbanned_by = NULL,
                     unban_reason = NULL
                 WHERE current.banned_event_id <> EXCLUDED.banned_event_id"
            ),
            &[
                &banned.miner_hotkey,
                &event.id.as_bytes().as_slice(),
                &banned.epochs,
            ],
        )
        .await
        .context("failed to record a ban")?;
    Ok(written > 0)
}

/// An operator lifted the ban it names; lifting another (or none) is a conflict.
async fn unban(
    transaction: &Transaction<'_>,
    schema: &str,
    event: &Event,
    unbanned: &resi_events::MinerUnbanned,
) -> anyhow::Result<bool> {
    let written = transaction
        .execute(
            &format!(
                "UPDATE {schema}.miner_bans
                    SET banned = false, unbanned_event_id = $3, unbanned_by = $4, unban_reason = $5
                  WHERE miner_hotkey = $1 AND banned_event_id = $2 AND banned"
            ),
            &[
                &unbanned.miner_hotkey,
                &unbanned.banned_id.as_bytes().as_slice(),
                &event.id.as_bytes().as_slice(),
                &unbanned.operator,
                &unbanned.reason,
            ],
        )
        .await
        .context("failed to lift a ban")?;
    if written == 0 {
        let already = transaction
            .query_opt(
                &format!(
                    "SELECT 1 FROM {schema}.miner_bans
                      WHERE miner_hotkey = $1 AND unbanned_event_id = $2"
                ),
                &[&unbanned.miner_hotkey, &event.id.as_bytes().as_slice()],
            )
            .await
            .context("failed to read a ban")?
            .is_some();
        if !already {
            conflict(
                transaction,
                schema,
                &unbanned.miner_hotkey,
                event,
                "an unban of no standing ban",
            )
            .await?;
        }
    }
    Ok(written > 0)
}

/// The columns of `components`, in table order.
fn columns(components: &Components) -> [f64; 5] {
    [
        components.quality,
        components.accuracy,
        components.completeness,
        components.timeliness,
        components.total,
    ]
}

async fn write_scores(
    transaction: &Transaction<'_>,
    schema: &str,
    epoch_id: &str,
    scored: &scores::EpochScores,
    evidence_ids: &std::collections::BTreeMap<&str, Vec<u8>>,
) -> anyhow::Result<()> {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let component = |index: usize, rows: &mut dyn Iterator<Item = [f64; 5]>| -> Vec<f64> {
        rows.map(|values| values[index]).collect()
    };
    let miners = &scored.miners;
    let hotkeys: Vec<&str> = miners
        .iter()
        .map(|miner| miner.miner_hotkey.as_str())
        .collect();
    let values = |index| {
        component(
            index,
            &mut miners.iter().map(|miner| columns(&miner.components)),
        )
    };
    let evidence: Vec<&[u8]> = miners
        .iter()
        .map(|miner| {
            evidence_ids
                .get(miner.miner_hotkey.as_str())
                .map_or(&[][..], Vec::as_slice)
        })
        .collect();
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.epoch_scores
                     (epoch_id, miner_hotkey, quality, accuracy, completeness, timeliness, total,
                      honeypot_listings, impossible_rows, fabricated, zipcodes_covered,
                      reward_share, evidence_id)
                 SELECT $1, * FROM unnest($2::text[], $3::float8[], $4::float8[], $5::float8[],
                                          $6::float8[], $7::float8[], $8::int8[], $9::int8[],
                                          $10::bool[], $11::int4[], $12::float8[], $13::bytea[])
                 ON CONFLICT (epoch_id, miner_hotkey) DO NOTHING"
            ),
            &[
                &epoch_id,
                &hotkeys,
                &values(0),
                &values(1),
                &values(2),
                &values(3),
                &values(4),
                &miners
                    .iter()
                    .map(|miner| count(miner.honeypot_listings))
                    .collect::<Vec<_>>(),
                &miners
                    .iter()
                    .map(|miner| count(miner.impossible_rows))
                    .collect::<Vec<_>>(),
                &miners
                    .iter()
                    .map(|miner| miner.fabricated)
                    .collect::<Vec<_>>(),
                &miners
                    .iter()
                    .map(|miner| i32::try_from(miner.zipcodes_covered).unwrap_or(i32::MAX))
                    .collect::<Vec<_>>(),
                &miners
                    .iter()
                    .map(|miner| miner.reward_share)
                    .collect::<Vec<_>>(),
                &evidence,
            ],
        )
        .await
        .context("failed to write epoch scores")?;
    let rankings = &scored.rankings;
    let ranked = |index| {
        component(
            index,
            &mut rankings.iter().map(|entry| columns(&entry.components)),
        )
    };
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.zipcode_rankings
                     (epoch_id, zipcode, miner_hotkey, rank, reward, quality, accuracy,
                      completeness, timeliness, total)
                 SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int4[], $5::float8[],
                                          $6::float8[], $7::float8[], $8::float8[], $9::float8[],
                                          $10::float8[])
                 ON CONFLICT (epoch_id, zipcode, miner_hotkey) DO NOTHING"
            ),
            &[
                &epoch_id,
                &rankings
                    .iter()
                    .map(|entry| entry.zipcode.as_str())
                    .collect::<Vec<_>>(),
                &rankings
                    .iter()
                    .map(|entry| entry.miner_hotkey.as_str())
                    .collect::<Vec<_>>(),
                &rankings
                    .iter()
                    .map(|entry| {
                        entry
                            .rank
                            .map(|rank| i32::try_from(rank).unwrap_or(i32::MAX))
                    })
                    .collect::<Vec<_>>(),
                &rankings
                    .iter()
                    .map(|entry| entry.reward)
                    .collect::<Vec<_>>(),
                &ranked(0),
                &ranked(1),
                &ranked(2),
                &ranked(3),
                &ranked(4),
            ],
        )
        .await
        .context("failed to write zipcode rankings")?;
    Ok(())
}
