//! What operators do with projection versions: list them with their lag, promote one, drop one.
//! The `resi` command line and the tests call these.
//!
//! Promotion is one transaction on `projection_versions`: the live version becomes `retired`
//! and the candidate `live`. Both versions' tables stay in place, each in its own schema, so a
//! reader that resolves the live schema once per request sees the old version or the new one,
//! never a mix and never an empty table. Rolling back is promoting the previous version.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use resi_events::Topics;
use resi_runtime::config::KafkaConfig;

use crate::engine::ProjectionKind;
use crate::versions;

/// One row of `projection_versions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// The projection.
    pub projection: String,
    /// The version.
    pub version: String,
    /// Where its tables are.
    pub schema: String,
    /// `building`, `live` or `retired`.
    pub status: String,
    /// When it was created, promoted and retired.
    pub created_at: DateTime<Utc>,
    /// When it last went live.
    pub promoted_at: Option<DateTime<Utc>>,
    /// When it last stopped being live.
    pub retired_at: Option<DateTime<Utc>>,
}

/// Every version, by projection and version.
pub async fn versions(client: &impl GenericClient) -> anyhow::Result<Vec<VersionInfo>> {
    let rows = client
        .query(
            "SELECT projection, version, schema_name, status, created_at, promoted_at, retired_at
             FROM projection_versions ORDER BY projection, created_at, version",
            &[],
        )
        .await
        .context("failed to read projection versions")?;
    Ok(rows
        .iter()
        .map(|row| VersionInfo {
            projection: row.get(0),
            version: row.get(1),
            schema: row.get(2),
            status: row.get(3),
            created_at: row.get(4),
            promoted_at: row.get(5),
            retired_at: row.get(6),
        })
        .collect())
}

/// The status of one version, if it exists.
pub async fn status(
    client: &impl GenericClient,
    projection: ProjectionKind,
    version: &str,
) -> anyhow::Result<Option<String>> {
    Ok(client
        .query_opt(
            "SELECT status FROM projection_versions WHERE projection = $1 AND version = $2",
            &[&projection.as_str(), &version],
        )
        .await
        .context("failed to read the version's status")?
        .map(|row| row.get(0)))
}

pub use resi_runtime::checkpoints::Progress;

/// A version's progress through its projection's topic.
pub async fn progress(
    client: &impl GenericClient,
    kafka: &KafkaConfig,
    projection: ProjectionKind,
    version: &str,
) -> anyhow::Result<Progress> {
    let topic = projection.topic(&Topics::new(&kafka.topic_prefix));
    let ends = resi_runtime::kafka::end_offsets(kafka, &topic).await?;
    progress_at(client, projection, version, &topic, &ends).await
}

/// Like [`progress`], against end offsets `ends` of `topic` read already (callers that measure
/// several versions of one topic read its end offsets once).
pub async fn progress_at(
    client: &impl GenericClient,
    projection: ProjectionKind,
    version: &str,
    topic: &str,
    ends: &BTreeMap<i32, i64>,
) -> anyhow::Result<Progress> {
    let (folded, staged) = versions::positions(client, projection.as_str(), version, topic).await?;
    Ok(Progress::new(ends, &folded).with_staged(staged))
}

/// What a promotion did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Promotion {
    /// The version that was live before, now retired.
    pub previous: Option<String>,
    /// The promoted version's lag when it was promoted.
    pub lag: i64,
}

/// Makes `version` the live version of `projection`, retiring the live one, in one
/// transaction. Refused while the version's lag is above `max_lag`, unless `force`.
pub async fn promote(
    pool: &Pool,
    kafka: &KafkaConfig,
    projection: ProjectionKind,
    version: &str,
    max_lag: i64,
    force: bool,
) -> anyhow::Result<Promotion> {
    let mut client = resi_runtime::postgres::connection(pool).await?;
    let name = projection.as_str();
    match status(&client, projection, version).await?.as_deref() {
        None => bail!("{name} {version} does not exist: replay it first"),
        Some("live") => bail!("{name} {version} is already live"),
        Some(_) => {}
    }
    let lag = progress(&client, kafka, projection, version).await?.lag();
    if lag > max_lag && !force {
        bail!(
            "{name} {version} has not caught up: {lag} records behind the log (at most {max_lag} allowed); let its replay catch up, or promote with --force"
        );
    }
    let transaction = client
        .transaction()
        .await
        .context("failed to begin the promotion")?;
    versions::lock(&transaction).await?;
    let previous = transaction
        .query_opt(
            "UPDATE projection_versions SET status = 'retired', retired_at = now()
             WHERE projection = $1 AND status = 'live' RETURNING version",
            &[&name],
        )
        .await
        .context("failed to retire the live version")?
        .map(|row| row.get(0));
    let promoted = transaction
        .execute(
            "UPDATE projection_versions SET status = 'live', promoted_at = now(), retired_at = NULL
             WHERE projection = $1 AND version = $2",
            &[&name, &version],
        )
        .await
        .context("failed to promote the version")?;
    anyhow::ensure!(
        promoted == 1,
        "{name} {version} disappeared during the promotion"
    );
    transaction
        .commit()
        .await
        .context("failed to commit the promotion")?;
    tracing::info!(projection = name, version, ?previous, lag, "promoted");
    Ok(Promotion { previous, lag })
}

/// Removes a version: its schema, its checkpoints, its row. A live version is never dropped;
/// one still building only with `force`.
pub async fn drop_version(
    pool: &Pool,
    projection: ProjectionKind,
    version: &str,
    force: bool,
) -> anyhow::Result<()> {
    let name = projection.as_str();
    let schema = versions::schema_name(name, version)?;
    let mut client = resi_runtime::postgres::connection(pool).await?;
    let transaction = client
        .transaction()
        .await
        .context("failed to begin dropping the version")?;
    versions::lock(&transaction).await?;
    match status(&transaction, projection, version).await?.as_deref() {
        None => bail!("{name} {version} does not exist"),
        Some("live") => {
            bail!("{name} {version} is live: promote another version first, then drop this one")
        }
        Some("building") if !force => bail!(
            "{name} {version} is still building (its replay may be running): drop it with --force"
        ),
        Some(_) => {}
    }
    transaction
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .with_context(|| format!("failed to drop schema {schema}"))?;
    transaction
        .execute(
            "DELETE FROM projection_versions WHERE projection = $1 AND version = $2",
            &[&name, &version],
        )
        .await
        .context("failed to delete the version")?;
    transaction
        .commit()
        .await
        .context("failed to commit dropping the version")?;
    tracing::info!(projection = name, version, "dropped");
    Ok(())
}

/// The next unused version name `v{n}` of `projection`.
pub async fn next_version(
    client: &impl GenericClient,
    projection: ProjectionKind,
) -> anyhow::Result<String> {
    let used = versions(client).await?;
    let highest = used
        .iter()
        .filter(|info| info.projection == projection.as_str())
        .filter_map(|info| {
            info.version
                .strip_prefix('v')?
                .split('_')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    Ok(format!("v{}", highest + 1))
}
