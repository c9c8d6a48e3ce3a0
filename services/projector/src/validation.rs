//! The validation tables of the scores projection: validators' results as admitted, and the
//! verdicts the coordinator decided from them (the first per epoch; a different later one is a
//! conflict).

use anyhow::Context as _;
use resi_events::{EpochValidated, Event, ValidatorResultsPublished};
use tokio_postgres::Transaction;

/// A count or stake as Postgres stores it (bigint), saturating.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Keeps a validator's results and its scores.
pub async fn keep_results(
    transaction: &Transaction<'_>,
    schema: &str,
    event: &Event,
    results: &ValidatorResultsPublished,
) -> anyhow::Result<bool> {
    let id = event.id.as_bytes().as_slice();
    let written = transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.validator_results
                   (results_id, epoch_id, validator_hotkey, upload_id, published_at, claimed_at,
                    stake_rao, metagraph_block, scores, entries_rejected)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (results_id) DO NOTHING"
            ),
            &[
                &id,
                &results.epoch_id,
                &results.validator_hotkey,
                &results.upload_id.as_bytes().as_slice(),
                &crate::datetime(results.published_at.as_micros()),
                &crate::datetime(results.claimed_at.as_micros()),
                &to_i64(results.stake_rao),
                &to_i64(results.metagraph_block),
                &i32::try_from(results.scores.len()).unwrap_or(i32::MAX),
                &to_i64(results.entries_rejected),
            ],
        )
        .await
        .context("failed to keep validator results")?;
    if written == 0 {
        return Ok(false);
    }
    let scores = &results.scores;
    let column = |get: fn(&resi_events::ValidatorScore) -> f64| -> Vec<f64> {
        scores.iter().map(get).collect()
    };
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.validator_scores
                   (results_id, epoch_id, validator_hotkey, miner_hotkey, data_quality, accuracy,
                    completeness, timeliness, total)
                 SELECT $1, $2, $3, * FROM unnest($4::text[], $5::float8[], $6::float8[],
                                                  $7::float8[], $8::float8[], $9::float8[])
                 ON CONFLICT (results_id, miner_hotkey) DO NOTHING"
            ),
            &[
                &id,
                &results.epoch_id,
                &results.validator_hotkey,
                &scores
                    .iter()
                    .map(|score| score.miner_hotkey.as_str())
                    .collect::<Vec<_>>(),
                &column(|score| score.data_quality),
                &column(|score| score.accuracy),
                &column(|score| score.completeness),
                &column(|score| score.timeliness),
                &column(|score| score.total_score),
            ],
        )
        .await
        .context("failed to keep validator scores")?;
    Ok(true)
}

/// Records an epoch's verdicts, the first only.
pub async fn validated(
    transaction: &Transaction<'_>,
    schema: &str,
    event: &Event,
    validated: &EpochValidated,
) -> anyhow::Result<bool> {
    let id = event.id.as_bytes().as_slice();
    let at = crate::datetime(event.event_time.as_micros());
    let written = transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.epoch_validations (epoch_id, validated_id, results_ids, validated_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (epoch_id) DO NOTHING"
            ),
            &[
                &validated.epoch_id,
                &id,
                &validated
                    .results_ids
                    .iter()
                    .map(|results| results.as_bytes().as_slice())
                    .collect::<Vec<_>>(),
                &at,
            ],
        )
        .await
        .context("failed to record an epoch's validation")?;
    if written == 0 {
        let kept: Vec<u8> = transaction
            .query_one(
                &format!("SELECT validated_id FROM {schema}.epoch_validations WHERE epoch_id = $1"),
                &[&validated.epoch_id],
            )
            .await
            .context("failed to read an epoch's validation")?
            .get(0);
        if kept != id {
            crate::record_conflict(
                transaction,
                &format!("{schema}.score_conflicts"),
                &validated.epoch_id,
                event,
                "a second, different verdict of the epoch's validators",
            )
            .await?;
        }
        return Ok(false);
    }
    let verdicts = &validated.verdicts;
    let stake = |get: fn(&resi_events::MinerVerdict) -> u64| -> Vec<i64> {
        verdicts
            .iter()
            .map(|verdict| to_i64(get(verdict)))
            .collect()
    };
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.miner_validations
                   (epoch_id, miner_hotkey, verdict, validation_score, stake_confirming,
                    stake_fake, stake_judging, validators, validated_at)
                 SELECT $1, *, $9 FROM unnest($2::text[], $3::text[], $4::float8[], $5::int8[],
                                              $6::int8[], $7::int8[], $8::int4[])
                 ON CONFLICT (epoch_id, miner_hotkey) DO NOTHING"
            ),
            &[
                &validated.epoch_id,
                &verdicts
                    .iter()
                    .map(|verdict| verdict.miner_hotkey.as_str())
                    .collect::<Vec<_>>(),
                &verdicts
                    .iter()
                    .map(|verdict| verdict.verdict.as_str())
                    .collect::<Vec<_>>(),
                &verdicts
                    .iter()
                    .map(|verdict| verdict.validation_score)
                    .collect::<Vec<_>>(),
                &stake(|verdict| verdict.stake_confirming),
                &stake(|verdict| verdict.stake_fake),
                &stake(|verdict| verdict.stake_judging),
                &verdicts
                    .iter()
                    .map(|verdict| i32::try_from(verdict.validators).unwrap_or(i32::MAX))
                    .collect::<Vec<_>>(),
                &at,
            ],
        )
        .await
        .context("failed to write miner validations")?;
    Ok(true)
}
