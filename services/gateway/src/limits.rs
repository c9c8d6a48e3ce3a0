//! Limits every replica shares, kept in Postgres: each signed request accepted once, and
//! requests per caller per fixed window.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone as _, Utc};

use crate::Limit;

/// What [`admit`] decided of a signed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Recorded and counted; requests left in the window.
    Admitted(u32),
    /// The hotkey is banned: nothing recorded.
    Banned,
    /// The same hotkey already sent the same commitment: nothing counted.
    Replayed,
    /// Over the window's allowance; retry after the duration.
    Limited(Duration),
}

/// The window of `limit` that `now` falls in: its start, in seconds and as a time.
fn window_of(limit: Limit, now: DateTime<Utc>) -> anyhow::Result<(i64, i64, DateTime<Utc>)> {
    let window = i64::try_from(limit.window_secs.max(1)).unwrap_or(i64::MAX);
    let start_secs = now.timestamp().div_euclid(window) * window;
    let start = Utc
        .timestamp_opt(start_secs, 0)
        .single()
        .context("window start out of range")?;
    Ok((window, start_secs, start))
}

/// What `requests` in the window starting at `start_secs` leave of `limit`.
fn remaining(
    requests: i32,
    limit: Limit,
    window: i64,
    start_secs: i64,
    now: DateTime<Utc>,
) -> Result<u32, Duration> {
    let requests = u32::try_from(requests).unwrap_or(u32::MAX);
    if requests > limit.requests {
        let left = (start_secs + window - now.timestamp()).max(1);
        return Err(Duration::from_secs(left.unsigned_abs()));
    }
    Ok(limit.requests - requests)
}

/// A signed request to admit.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// SS58 hotkey.
    pub hotkey: &'a str,
    /// The commitment it signed.
    pub commitment: &'a str,
    /// When its replay record may be forgotten.
    pub expires_at: DateTime<Utc>,
    /// The limited action (`assignments`, `status`, `s3_access`).
    pub action: &'a str,
    /// The action's limit.
    pub limit: Limit,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Decides a signed request in one statement (one round trip, one commit): refused
/// if `scores` (the live scores schema) bans the hotkey, else recorded once per commitment
/// (until its `expires_at`), and only then counted against its action's limit.
pub async fn admit(
    client: &deadpool_postgres::Client,
    scores: Option<&str>,
    request: &SignedRequest<'_>,
) -> anyhow::Result<Admission> {
    let SignedRequest {
        hotkey,
        commitment,
        expires_at,
        action,
        limit,
        now,
    } = *request;
    let (window, start_secs, start) = window_of(limit, now)?;
    let ban = match scores {
        Some(schema) => {
            resi_runtime::postgres::plain_identifier(schema)?;
            format!(
                "SELECT EXISTS (SELECT 1 FROM \"{schema}\".miner_bans
                                 WHERE miner_hotkey = $1 AND banned) AS banned"
            )
        }
        None => "SELECT false AS banned".to_owned(),
    };
    // prepared once per connection and ban schema: one round trip per request
    let statement = client
        .prepare_cached(&format!(
            "WITH ban AS ({ban}),
                 used AS (
                   INSERT INTO gateway_signatures (hotkey, commitment, expires_at)
                   SELECT $1, $2, $3 WHERE NOT (SELECT banned FROM ban)
                   ON CONFLICT DO NOTHING RETURNING 1),
                 counted AS (
                   INSERT INTO gateway_rate_limits (caller, action, window_start, requests)
                   SELECT $1, $4, $5, 1 WHERE EXISTS (SELECT 1 FROM used)
                   ON CONFLICT (caller, action, window_start)
                   DO UPDATE SET requests = gateway_rate_limits.requests + 1
                   RETURNING requests)
                 SELECT (SELECT banned FROM ban), EXISTS (SELECT 1 FROM used),
                        (SELECT requests FROM counted)"
        ))
        .await
        .context("failed to prepare the admission of a signed request")?;
    let row = client
        .query_one(
            &statement,
            &[&hotkey, &commitment, &expires_at, &action, &start],
        )
        .await
        .context("failed to record a signed request")?;
    if row.get::<_, bool>(0) {
        return Ok(Admission::Banned);
    }
    if !row.get::<_, bool>(1) {
        return Ok(Admission::Replayed);
    }
    let requests: i32 = row
        .get::<_, Option<i32>>(2)
        .context("a recorded request was not counted")?;
    Ok(match remaining(requests, limit, window, start_secs, now) {
        Ok(left) => Admission::Admitted(left),
        Err(wait) => Admission::Limited(wait),
    })
}

/// Counts a request of `caller` for `action`; `Err(wait)` when the window's allowance is spent,
/// with how long until the next window.
pub async fn take(
    client: &tokio_postgres::Client,
    caller: &str,
    action: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<u32, Duration>> {
    let (window, start_secs, start) = window_of(limit, now)?;
    let requests: i32 = client
        .query_one(
            "INSERT INTO gateway_rate_limits (caller, action, window_start, requests)
             VALUES ($1, $2, $3, 1)
             ON CONFLICT (caller, action, window_start)
             DO UPDATE SET requests = gateway_rate_limits.requests + 1
             RETURNING requests",
            &[&caller, &action, &start],
        )
        .await
        .context("failed to count a request")?
        .get(0);
    Ok(remaining(requests, limit, window, start_secs, now))
}

/// Deletes signatures past their expiry and windows older than a day.
pub async fn forget_expired(pool: &deadpool_postgres::Pool) -> anyhow::Result<()> {
    let client = resi_runtime::postgres::connection(pool).await?;
    client
        .batch_execute(
            "DELETE FROM gateway_signatures WHERE expires_at < now();
             DELETE FROM gateway_rate_limits WHERE window_start < now() - interval '1 day';",
        )
        .await
        .context("failed to forget expired limits")
}

/// The live scores projection's schema, if there is one.
pub async fn scores_schema(pool: &deadpool_postgres::Pool) -> anyhow::Result<Option<String>> {
    let client = resi_runtime::postgres::connection(pool).await?;
    resi_runtime::postgres::live_schema(&client, "scores").await
}
