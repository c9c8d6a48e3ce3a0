//! Operations: liveness, readiness (database and projection lag), database statistics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use resi_events::Topics;
use resi_projector::engine::ProjectionKind;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::ApiResult;
use crate::listings::only_consensus_version;
use crate::state::AppState;

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `healthy`: the process answers.
    pub status: &'static str,
    /// Now.
    pub timestamp: DateTime<Utc>,
}

/// `GET /health`: liveness (the process answers; nothing else is checked).
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process answers", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy",
        timestamp: Utc::now(),
    })
}

/// One live projection's lag.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProjectionLag {
    /// The live version.
    pub version: String,
    /// Events of its topic not folded yet (null when the broker could not be asked).
    pub lag: Option<i64>,
}

/// A partition of a live projection that has not moved on for longer than
/// `api.ready_max_stall_secs`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StalledPartition {
    /// The projection.
    pub projection: String,
    /// Its live version.
    pub version: String,
    /// The partition.
    pub partition: i32,
    /// `retrying` (a batch keeps failing) or `blocked` (an event of a newer schema version).
    pub state: String,
    /// What the projector last said of it.
    pub detail: String,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// `GET /ready`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `ok`, or why the database cannot be used.
    pub database: String,
    /// `ok`, or why the lag is unknown (an unreachable broker does not make the API unready:
    /// it still serves what is folded).
    pub broker: String,
    /// The live version and lag of each projection.
    pub projections: BTreeMap<String, ProjectionLag>,
    /// The largest lag that is still ready.
    pub max_lag: i64,
    /// Partitions of live projections that have not moved on for too long.
    pub stalled: Vec<StalledPartition>,
}

/// `GET /ready`: 200 when the database answers, every projection has a live version, none
/// lags its topic by more than `api.ready_max_lag` events and no partition of one has stood
/// still (retrying or blocked) for more than `api.ready_max_stall_secs`; 503 otherwise. The
/// answer is reused for `api.lag_cache_ms`.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready; the body says why", body = Readiness),
    ))]
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let readiness = {
        let cached = state.readiness.lock().await;
        cached
            .as_ref()
            .filter(|(at, _)| at.elapsed() < Duration::from_millis(state.config.lag_cache_ms))
            .map(|(_, readiness)| readiness.clone())
    };
    let readiness = match readiness {
        Some(readiness) => readiness,
        None => {
            let fresh = check_readiness(&state).await;
            *state.readiness.lock().await = Some((Instant::now(), fresh.clone()));
            fresh
        }
    };
    let status = if readiness.status == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

#[tracing::instrument(skip_all)]
async fn check_readiness(state: &AppState) -> Readiness {
    let mut readiness = Readiness {
        status: "not_ready",
        database: "ok".to_owned(),
        broker: "ok".to_owned(),
        projections: BTreeMap::new(),
        max_lag: state.config.ready_max_lag,
        stalled: Vec::new(),
    };
    let client = match state.pool.get().await {
        Ok(client) => client,
        Err(error) => {
            readiness.database = error.to_string();
            return readiness;
        }
    };
    let live: BTreeMap<String, String> = match resi_projector::operate::versions(&client).await {
        Ok(versions) => versions
            .into_iter()
            .filter(|version| version.status == "live")
            .map(|version| (version.projection, version.version))
            .collect(),
        Err(error) => {
            readiness.database = format!("{error:#}");
            return readiness;
        }
    };
    let topics = Topics::new(&state.kafka.topic_prefix);
    // listing and consensus share the attestations topic: its end offsets are read once
    let mut ends: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
    let mut all_ready = true;
    for kind in [
        ProjectionKind::Listing,
        ProjectionKind::Trust,
        ProjectionKind::Consensus,
    ] {
        let Some(version) = live.get(kind.as_str()) else {
            all_ready = false;
            continue;
        };
        let lag = match lag_of(&client, state, kind, version, &topics, &mut ends).await {
            Ok(lag) => Some(lag),
            Err(error) => {
                readiness.broker = format!("{error:#}");
                None
            }
        };
        if lag.is_some_and(|lag| lag > state.config.ready_max_lag) {
            all_ready = false;
        }
        readiness.projections.insert(
            kind.as_str().to_owned(),
            ProjectionLag {
                version: version.clone(),
                lag,
            },
        );
    }
    match stalled_partitions(&client, &live, state.config.ready_max_stall_secs).await {
        Ok(stalled) => readiness.stalled = stalled,
        Err(error) => {
            readiness.database = format!("{error:#}");
            all_ready = false;
        }
    }
    if all_ready && readiness.stalled.is_empty() {
        readiness.status = "ready";
    }
    readiness
}

/// The partitions of the live versions that have stood still for longer than `max_secs`.
async fn stalled_partitions(
    client: &deadpool_postgres::Client,
    live: &BTreeMap<String, String>,
    max_secs: u64,
) -> anyhow::Result<Vec<StalledPartition>> {
    let (projections, versions): (Vec<&str>, Vec<&str>) = live
        .iter()
        .map(|(projection, version)| (projection.as_str(), version.as_str()))
        .unzip();
    let max_secs = f64::from(u32::try_from(max_secs).unwrap_or(u32::MAX));
    let rows = client
        .query(
            "SELECT f.projection, f.version, f.partition, f.state, f.detail, f.since
             FROM projection_faults f
             JOIN unnest($1::text[], $2::text[]) AS live (projection, version)
               USING (projection, version)
             WHERE f.since < now() - make_interval(secs => $3)
             ORDER BY f.projection, f.partition",
            &[&projections, &versions, &max_secs],
        )
        .await
        .context("failed to read the projections' faults")?;
    Ok(rows
        .iter()
        .map(|row| StalledPartition {
            projection: row.get(0),
            version: row.get(1),
            partition: row.get(2),
            state: row.get(3),
            detail: row.get(4),
            since: row.get(5),
        })
        .collect())
}

/// A live version's lag, reading its topic's end offsets unless `ends` has them already.
async fn lag_of(
    client: &deadpool_postgres::Client,
    state: &AppState,
    kind: ProjectionKind,
    version: &str,
    topics: &Topics,
    ends: &mut BTreeMap<String, BTreeMap<i32, i64>>,
) -> anyhow::Result<i64> {
    let topic = kind.topic(topics);
    let topic_ends = match ends.entry(topic.clone()) {
        std::collections::btree_map::Entry::Occupied(read) => read.into_mut(),
        std::collections::btree_map::Entry::Vacant(unread) => {
            unread.insert(resi_runtime::kafka::end_offsets(&state.kafka, &topic).await?)
        }
    };
    let progress =
        resi_projector::operate::progress_at(client, kind, version, &topic, topic_ends).await?;
    Ok(progress.lag())
}

/// A projection version, as `/api/stats` lists it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct VersionView {
    /// `listing`, `trust` or `consensus`.
    pub projection: String,
    /// The version.
    pub version: String,
    /// `building`, `live` or `retired`.
    pub status: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last went live.
    pub promoted_at: Option<DateTime<Utc>>,
}

/// `GET /api/stats`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DatabaseStats {
    /// Listings.
    pub total_listings: i64,
    /// Attestations of all listings.
    pub total_attestations: i64,
    /// Miners with a trust record.
    pub total_miners: i64,
    /// Listings reported in the last 24 hours.
    pub recent_listings_24h: i64,
    /// Miners that uploaded in the last 24 hours.
    pub active_miners_24h: i64,
    /// Mean consensus score over the listings of the consensus version read.
    pub average_consensus_score: Option<f64>,
    /// The consensus version read (the live one unless `consensus_version` was given).
    pub consensus_version: Option<String>,
    /// The live consensus version.
    pub live_consensus_version: Option<String>,
    /// Consensus versions being built beside the live one.
    pub building_consensus_versions: Vec<String>,
    /// Every projection version.
    pub versions: Vec<VersionView>,
    /// Miners with a raised anomaly signal today (rejection-rate spike, trust drop).
    pub miner_anomalies: crate::anomalies::MinerAnomalies,
    /// When these figures were computed (they are reused for `api.stats_cache_ms`).
    pub last_updated: DateTime<Utc>,
}

/// `GET /api/stats`: totals, the last 24 hours, the consensus score and the versions.
#[utoipa::path(get, path = "/api/stats", tag = "operations",
    params(("consensus_version" = Option<String>, Query, pattern = "^[a-z_][a-z0-9_]{0,47}$", description = "Average this consensus version's scores")),
    responses(
        (status = 200, description = "Database statistics", body = DatabaseStats),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 404, description = "No such consensus version", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    ))]
pub async fn stats(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DatabaseStats>> {
    let version = only_consensus_version(query.as_deref())?;
    let cache_key = version.clone().unwrap_or_default();
    {
        let cache = state.stats.lock().await;
        if let Some((at, stats)) = cache.get(&cache_key)
            && at.elapsed() < Duration::from_millis(state.config.stats_cache_ms)
        {
            return Ok(Json(stats.clone()));
        }
    }
    let stats = compute_stats(&state, version.as_deref()).await?;
    let mut cache = state.stats.lock().await;
    // bounded: one entry per version name ever asked for, and versions are few
    if cache.len() > 64 {
        cache.clear();
    }
    cache.insert(cache_key, (Instant::now(), stats.clone()));
    Ok(Json(stats))
}

async fn compute_stats(state: &AppState, version: Option<&str>) -> ApiResult<DatabaseStats> {
    let answer = db::read(&state.pool, version, async |transaction, schemas| {
        let (listing, trust, consensus) = (schemas.listing()?, schemas.trust()?, schemas.consensus()?);
        let totals = db::query_one(
            transaction,
            "stats.totals",
            &format!(
                "SELECT (SELECT count(*) FROM {listing}.listings),
                        (SELECT coalesce(sum(total_attestations), 0)::bigint FROM {listing}.listings),
                        (SELECT count(*) FROM {trust}.miner_trust),
                        (SELECT count(*) FROM {listing}.listings
                          WHERE last_updated_at > now() - interval '24 hours'),
                        (SELECT count(*) FROM {trust}.miner_trust
                          WHERE last_submission > now() - interval '24 hours'),
                        (SELECT avg(consensus_score) FROM {consensus}.consensus_listings)"
            ),
            &[],
        )
        .await?;
        let versions = db::query(
            transaction,
            "stats.versions",
            "SELECT projection, version, status, created_at, promoted_at FROM projection_versions
             ORDER BY projection, created_at, version",
            &[],
        )
        .await?;
        let versions: Vec<VersionView> = versions
            .iter()
            .map(|row| VersionView {
                projection: row.get(0),
                version: row.get(1),
                status: row.get(2),
                created_at: row.get(3),
                promoted_at: row.get(4),
            })
            .collect();
        let (day, signals) = crate::anomalies::read(transaction, trust, None).await?;
        let consensus_versions = |status: &str| {
            versions
                .iter()
                .filter(|view| view.projection == "consensus" && view.status == status)
                .map(|view| view.version.clone())
                .collect::<Vec<_>>()
        };
        Ok(DatabaseStats {
            total_listings: totals.get(0),
            total_attestations: totals.get(1),
            total_miners: totals.get(2),
            recent_listings_24h: totals.get(3),
            active_miners_24h: totals.get(4),
            average_consensus_score: totals.get(5),
            consensus_version: schemas.consensus_version.clone(),
            live_consensus_version: consensus_versions("live").into_iter().next(),
            building_consensus_versions: consensus_versions("building"),
            last_updated: Utc::now(),
            versions,
            miner_anomalies: crate::anomalies::MinerAnomalies::of(day, &signals),
        })
    })
    .await?;
    Ok(answer)
}
