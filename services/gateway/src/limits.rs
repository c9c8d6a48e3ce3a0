//! Limits every replica shares, kept in Postgres: each signed request accepted once, and
//! requests per caller per fixed window.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone as _, Utc};

use crate::Limit;

/// Records a signed request in `client`'s transaction; false if the same hotkey already sent the same commitment.
pub async fn first_use(
    client: &tokio_postgres::Transaction<'_>,
    hotkey: &str,
    commitment: &str,
    expires_at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let inserted = client
        .execute(
            "INSERT INTO gateway_signatures (hotkey, commitment, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&hotkey, &commitment, &expires_at],
        )
        .await
        .context("failed to record a signed request")?;
    Ok(inserted == 1)
}

/// Counts a request of `caller` for `action`; `Err(wait)` when the window's allowance is spent,
/// with how long until the next window.
pub async fn take(
    client: &tokio_postgres::Transaction<'_>,
    caller: &str,
    action: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<u32, Duration>> {
    let window = i64::try_from(limit.window_secs.max(1)).unwrap_or(i64::MAX);
    let start_secs = now.timestamp().div_euclid(window) * window;
    let start = Utc
        .timestamp_opt(start_secs, 0)
        .single()
        .context("window start out of range")?;
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
    let requests = u32::try_from(requests).unwrap_or(u32::MAX);
    if requests > limit.requests {
        let left = (start_secs + window - now.timestamp()).max(1);
        return Ok(Err(Duration::from_secs(left.unsigned_abs())));
    }
    Ok(Ok(limit.requests - requests))
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
    let schema: Option<String> = client
        .query_opt(
            "SELECT schema_name FROM projection_versions
              WHERE projection = 'scores' AND status = 'live'",
            &[],
        )
        .await
        .context("failed to look up the live scores projection")?
        .map(|row| row.get(0));
    if let Some(schema) = &schema {
        anyhow::ensure!(
            schema
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_'),
            "projection schema name {schema:?} is not a plain identifier"
        );
    }
    Ok(schema)
}

/// Whether `schema` (the live scores projection's) holds a standing ban of `hotkey`.
pub async fn banned(
    client: &tokio_postgres::Transaction<'_>,
    schema: &str,
    hotkey: &str,
) -> anyhow::Result<bool> {
    Ok(client
        .query_opt(
            &format!("SELECT 1 FROM \"{schema}\".miner_bans WHERE miner_hotkey = $1 AND banned"),
            &[&hotkey],
        )
        .await
        .context("failed to read the hotkey's ban")?
        .is_some())
}
