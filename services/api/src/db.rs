//! Reading the projections: one read-only, repeatable-read transaction per request, in which
//! the schemas of the versions to read are resolved first. A promotion commits between two
//! requests or before a request's snapshot, never inside it, so a response comes from one
//! version of each projection, whole.

use anyhow::Context as _;
use deadpool_postgres::{Pool, Transaction};
use tokio_postgres::IsolationLevel;
use tokio_postgres::types::ToSql;

use crate::error::{ApiError, ApiResult};

/// Where the versions a request reads live.
#[derive(Clone, Debug, Default)]
pub struct Schemas {
    listing: Option<String>,
    trust: Option<String>,
    consensus: Option<String>,
    epochs: Option<String>,
    scores: Option<String>,
    network: Option<String>,
    /// The consensus version read (the live one unless the request named another).
    pub consensus_version: Option<String>,
}

impl Schemas {
    /// Resolves the live versions, and `consensus_version` instead of the live consensus
    /// version when given (any status: researchers compare a version being built or retired
    /// with the live one).
    #[tracing::instrument(skip_all, fields(consensus_version))]
    pub async fn resolve(
        transaction: &Transaction<'_>,
        consensus_version: Option<&str>,
    ) -> ApiResult<Self> {
        let statement = transaction
            .prepare_cached(
                "SELECT projection, version, schema_name, status = 'live' FROM projection_versions
                 WHERE status = 'live' OR (projection = 'consensus' AND version = $1)",
            )
            .await
            .context("failed to prepare the version lookup")
            .map_err(ApiError::from_postgres)?;
        let rows = transaction
            .query(&statement, &[&consensus_version])
            .await
            .context("failed to read projection versions")
            .map_err(ApiError::from_postgres)?;
        let mut schemas = Self::default();
        for row in &rows {
            let projection: &str = row.get(0);
            let version: String = row.get(1);
            let schema: String = row.get(2);
            let live: bool = row.get(3);
            match projection {
                "listing" if live => schemas.listing = Some(schema),
                "trust" if live => schemas.trust = Some(schema),
                "epochs" if live => schemas.epochs = Some(schema),
                "scores" if live => schemas.scores = Some(schema),
                "network" if live => schemas.network = Some(schema),
                "consensus" if consensus_version.is_none_or(|wanted| wanted == version) => {
                    schemas.consensus = Some(schema);
                    schemas.consensus_version = Some(version);
                }
                _ => {}
            }
        }
        if let Some(wanted) = consensus_version
            && schemas.consensus.is_none()
        {
            return Err(ApiError::NotFound(format!(
                "no consensus version {wanted:?} (GET /api/stats lists the versions)"
            )));
        }
        Ok(schemas)
    }

    /// The live listing projection's schema.
    pub fn listing(&self) -> ApiResult<&str> {
        self.listing.as_deref().ok_or(ApiError::NotBuilt("listing"))
    }

    /// The live trust projection's schema.
    pub fn trust(&self) -> ApiResult<&str> {
        self.trust.as_deref().ok_or(ApiError::NotBuilt("trust"))
    }

    /// The live epochs projection's schema.
    pub fn epochs(&self) -> ApiResult<&str> {
        self.epochs.as_deref().ok_or(ApiError::NotBuilt("epochs"))
    }

    /// The live scores projection's schema.
    pub fn scores(&self) -> ApiResult<&str> {
        self.scores.as_deref().ok_or(ApiError::NotBuilt("scores"))
    }

    /// The live scores projection's schema, when there is one (what only enriches an answer).
    #[must_use]
    pub fn scores_if_built(&self) -> Option<&str> {
        self.scores.as_deref()
    }

    /// The live network projection's schema.
    pub fn network(&self) -> ApiResult<&str> {
        self.network.as_deref().ok_or(ApiError::NotBuilt("network"))
    }

    /// The consensus version's schema.
    pub fn consensus(&self) -> ApiResult<&str> {
        self.consensus
            .as_deref()
            .ok_or(ApiError::NotBuilt("consensus"))
    }
}

/// A pooled connection; failing to get one is 503.
pub async fn connection(pool: &Pool) -> ApiResult<deadpool_postgres::Client> {
    pool.get()
        .await
        .context("failed to get a postgres connection")
        .map_err(ApiError::from_postgres)
}

/// Starts the request's snapshot: read only, repeatable read.
async fn snapshot(client: &mut deadpool_postgres::Client) -> ApiResult<Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .context("failed to begin a read-only transaction")
        .map_err(ApiError::from_postgres)
}

/// Runs a prepared (and cached, per connection) statement.
#[tracing::instrument(skip_all, fields(query = name))]
pub async fn query(
    transaction: &Transaction<'_>,
    name: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> ApiResult<Vec<tokio_postgres::Row>> {
    let started = std::time::Instant::now();
    let statement = transaction
        .prepare_cached(sql)
        .await
        .with_context(|| format!("failed to prepare {name}"))
        .map_err(ApiError::from_postgres)?;
    let rows = transaction
        .query(&statement, params)
        .await
        .with_context(|| format!("failed to run {name}"))
        .map_err(ApiError::from_postgres);
    resi_runtime::metrics::postgres(name, started.elapsed());
    rows
}

/// Like [`query`], for exactly one row.
pub async fn query_one(
    transaction: &Transaction<'_>,
    name: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> ApiResult<tokio_postgres::Row> {
    query(transaction, name, sql, params)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("{name} returned no row")))
}

/// Ends the snapshot (read-only: nothing to write, but the connection goes back clean).
async fn finish(transaction: Transaction<'_>) -> ApiResult<()> {
    transaction
        .commit()
        .await
        .context("failed to end the read-only transaction")
        .map_err(ApiError::from_postgres)
}

/// Runs `work` in a request's snapshot: a pooled connection, a read-only repeatable-read
/// transaction, the schemas of the live versions (or of `consensus_version`) resolved inside
/// it, then the end of the transaction.
pub async fn read<T>(
    pool: &Pool,
    consensus_version: Option<&str>,
    work: impl AsyncFnOnce(&Transaction<'_>, &Schemas) -> ApiResult<T>,
) -> ApiResult<T> {
    let mut client = connection(pool).await?;
    let transaction = snapshot(&mut client).await?;
    let schemas = Schemas::resolve(&transaction, consensus_version).await?;
    let result = work(&transaction, &schemas).await?;
    finish(transaction).await?;
    Ok(result)
}
