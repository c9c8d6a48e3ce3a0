//! The admission decision of an upload (the daily rate limit by trust), taken once and kept.
//!
//! Uploads are keyed by miner, so one parser instance handles all of a miner's files, in order:
//! the count of listings admitted before a file is the sum over the miner's finished files of
//! that UTC day. The decision is written before the first row is emitted and reused whenever the
//! file is processed again, so a crash can never change which rows are admitted.

use anyhow::Context as _;
use deadpool_postgres::GenericClient;
use resi_events::EventId;
use resi_projections::trust::INITIAL_TRUST;

use crate::emit::AdmissionPlan;

/// The recorded decision and, when the file was finished before, how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The plan the file is (or was) parsed under.
    pub plan: AdmissionPlan,
    /// `parsed`, `dead_lettered` or `rejected` when the file was finished already.
    pub outcome: Option<String>,
}

/// The trust the live trust projection serves for `miner`; the initial trust when there is no
/// live trust projection or it does not know the miner yet.
#[tracing::instrument(skip_all, fields(miner))]
pub async fn live_trust(client: &impl GenericClient, miner: &str) -> anyhow::Result<f64> {
    let Some(schema) = resi_runtime::postgres::live_schema(client, "trust").await? else {
        return Ok(INITIAL_TRUST);
    };
    let trust: Option<f64> = client
        .query_opt(
            &format!("SELECT trust_score FROM \"{schema}\".miner_trust WHERE miner_hotkey = $1"),
            &[&miner],
        )
        .await
        .context("failed to read the miner's trust")?
        .map(|row| row.get(0));
    Ok(trust.unwrap_or(INITIAL_TRUST).clamp(0.0, 1.0))
}

/// Whether the live scores projection holds a standing ban of `miner` (never, when there is no
/// live scores projection yet).
#[tracing::instrument(skip_all, fields(miner))]
pub async fn banned(client: &impl GenericClient, miner: &str) -> anyhow::Result<bool> {
    let Some(schema) = resi_runtime::postgres::live_schema(client, "scores").await? else {
        return Ok(false);
    };
    Ok(client
        .query_opt(
            &format!("SELECT 1 FROM \"{schema}\".miner_bans WHERE miner_hotkey = $1 AND banned"),
            &[&miner],
        )
        .await
        .context("failed to read the miner's ban")?
        .is_some())
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The decision for `upload_id`: the recorded one, or a new one (recorded before returning).
#[tracing::instrument(skip_all, fields(upload_id = %upload_id, miner, utc_day))]
pub async fn decide(
    client: &mut deadpool_postgres::Client,
    upload_id: &EventId,
    miner: &str,
    utc_day: i32,
) -> anyhow::Result<Decision> {
    let id = upload_id.as_bytes().as_slice();
    let transaction = client
        .transaction()
        .await
        .context("failed to begin the admission transaction")?;
    let select = "SELECT trust_used, daily_limit, utc_day, admitted_before, outcome
                  FROM parser_admissions WHERE upload_id = $1";
    if let Some(row) = transaction
        .query_opt(select, &[&id])
        .await
        .context("failed to read the admission decision")?
    {
        transaction.commit().await.context("failed to commit")?;
        return Ok(Decision {
            plan: AdmissionPlan {
                trust_used: row.get(0),
                daily_limit: to_u64(row.get(1)),
                utc_day: row.get(2),
                admitted_before: to_u64(row.get(3)),
            },
            outcome: row.get(4),
        });
    }
    let trust = live_trust(&transaction, miner).await?;
    let admitted_before: i64 = transaction
        .query_one(
            "SELECT COALESCE(SUM(admitted), 0)::bigint FROM parser_admissions
             WHERE miner_hotkey = $1 AND utc_day = $2 AND outcome IS NOT NULL",
            &[&miner, &utc_day],
        )
        .await
        .context("failed to count the miner's admissions of the day")?
        .get(0);
    let plan = AdmissionPlan::new(trust, utc_day, to_u64(admitted_before));
    transaction
        .execute(
            "INSERT INTO parser_admissions
                 (upload_id, miner_hotkey, utc_day, trust_used, daily_limit, admitted_before)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &id,
                &miner,
                &utc_day,
                &plan.trust_used,
                &to_i64(plan.daily_limit),
                &admitted_before,
            ],
        )
        .await
        .context("failed to record the admission decision")?;
    transaction
        .commit()
        .await
        .context("failed to commit the admission decision")?;
    Ok(Decision {
        plan,
        outcome: None,
    })
}

/// Marks the upload finished with what was admitted (inside the caller's transaction, beside
/// its checkpoint).
#[tracing::instrument(skip_all, fields(upload_id = %upload_id, outcome))]
pub async fn complete(
    client: &impl GenericClient,
    upload_id: &EventId,
    outcome: &str,
    admitted: u64,
    rate_limited: u64,
) -> anyhow::Result<()> {
    client
        .execute(
            "UPDATE parser_admissions
             SET outcome = $2, admitted = $3, rate_limited = $4, completed_at = now()
             WHERE upload_id = $1",
            &[
                &upload_id.as_bytes().as_slice(),
                &outcome,
                &to_i64(admitted),
                &to_i64(rate_limited),
            ],
        )
        .await
        .context("failed to record the end of the upload")?;
    Ok(())
}

/// Counts one more start of reading the upload by `runner` (one running parser process); the
/// number of starts, this one included, since the last one that ended (see [`end_attempt`]).
/// A runner that starts again an attempt it began and could not end (Postgres went away in
/// between) counts nothing more: only another runner's start means the first one died.
#[tracing::instrument(skip_all, fields(upload_id = %upload_id))]
pub async fn begin_attempt(
    pool: &deadpool_postgres::Pool,
    upload_id: &EventId,
    runner: &str,
) -> anyhow::Result<u32> {
    let client = resi_runtime::postgres::connection(pool).await?;
    let attempts: i32 = client
        .query_one(
            "UPDATE parser_admissions
             SET parse_attempts = parse_attempts
                     + CASE WHEN parse_attempt_by IS NOT DISTINCT FROM $2 THEN 0 ELSE 1 END,
                 parse_attempt_by = $2
             WHERE upload_id = $1 RETURNING parse_attempts",
            &[&upload_id.as_bytes().as_slice(), &runner],
        )
        .await
        .context("failed to count a parse attempt")?
        .get(0);
    Ok(u32::try_from(attempts).unwrap_or(u32::MAX))
}

/// Records that the attempt `runner` began ended in it (finished, or failed for a reason that
/// is retried), so that only attempts that never ended, crashes, are counted. Repeating it
/// changes nothing.
#[tracing::instrument(skip_all, fields(upload_id = %upload_id))]
pub async fn end_attempt(
    pool: &deadpool_postgres::Pool,
    upload_id: &EventId,
    runner: &str,
) -> anyhow::Result<()> {
    let client = resi_runtime::postgres::connection(pool).await?;
    client
        .execute(
            "UPDATE parser_admissions
             SET parse_attempts = greatest(parse_attempts - 1, 0), parse_attempt_by = NULL
             WHERE upload_id = $1 AND parse_attempt_by = $2",
            &[&upload_id.as_bytes().as_slice(), &runner],
        )
        .await
        .context("failed to end a parse attempt")?;
    Ok(())
}
