//! Miners: one miner's statistics and the leaderboard.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::listings::{consensus_version, only_consensus_version};
use crate::model::performance_tier;
use crate::params::{self, Params};
use crate::state::AppState;

/// A miner, as the trust and consensus projections see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinerStats {
    /// The miner's hotkey.
    pub miner_hotkey: String,
    /// Trust, 0 to 1 (live trust projection).
    pub trust_score: f64,
    /// `premium` (≥ 0.8), `standard` (≥ 0.6) or `basic`.
    pub performance_tier: &'static str,
    /// Uploads parsed.
    pub total_submissions: i64,
    /// Uploads confirmed by validators.
    pub validated_submissions: i64,
    /// Listings admitted on `submissions_date` (the daily quota's count).
    pub submissions_today: i64,
    /// The UTC day `submissions_today` counts.
    pub submissions_date: NaiveDate,
    /// Attestations submitted in the last 24 hours.
    pub recent_submissions_24h: i64,
    /// Its latest upload.
    pub last_submission: DateTime<Utc>,
    /// Share of its reported fields agreeing with the consensus (null before any).
    pub accuracy_score: Option<f64>,
    /// Listings it reports in the consensus.
    pub listings_reported: Option<i64>,
    /// Duplicate rows / rows read.
    pub duplicate_rate: f64,
    /// Rejected rows and uploads by reason.
    pub rejections: BTreeMap<String, i64>,
    /// The consensus version `accuracy_score` comes from.
    pub consensus_version: Option<String>,
    /// Its rejection rate today and over the week before, and its fall in trust (absent when
    /// it sent nothing in the last eight days).
    pub signals: Option<crate::anomalies::MinerSignals>,
}

/// The statements of `GET /api/miners/{hotkey}/stats`: trust, accuracy, attestations of the
/// last 24 hours, rejections (`$1` the hotkey).
#[must_use]
pub fn miner_sql(trust: &str, consensus: &str, listing: &str) -> [String; 4] {
    [
        format!(
            "SELECT trust_score, total_submissions, validated_submissions, submissions_today,
                    submissions_date, last_submission, duplicate_rate
             FROM {trust}.miner_trust WHERE miner_hotkey = $1"
        ),
        format!(
            "SELECT accuracy_score, listings FROM {consensus}.miner_accuracy
             WHERE miner_hotkey = $1"
        ),
        format!(
            "SELECT count(*) FROM {listing}.miner_attestations
             WHERE miner_hotkey = $1 AND submitted_at > now() - interval '24 hours'"
        ),
        format!("SELECT reason, count FROM {trust}.miner_rejections WHERE miner_hotkey = $1"),
    ]
}

/// `GET /api/miners/{hotkey}/stats`: one miner.
#[utoipa::path(
    get,
    path = "/api/miners/{hotkey}/stats",
    tag = "miners",
    params(
        ("hotkey" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "The miner's hotkey"),
        ("consensus_version" = Option<String>, Query, pattern = "^[a-z_][a-z0-9_]{0,47}$", description = "Take accuracy from this consensus version"),
    ),
    responses(
        (status = 200, description = "The miner", body = MinerStats),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 404, description = "No such miner or consensus version", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn stats(
    State(state): State<Arc<AppState>>,
    Path(hotkey): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<MinerStats>> {
    let hotkey = params::hotkey(&hotkey)?;
    let version = only_consensus_version(query.as_deref())?;

    let answer = db::read(
        &state.pool,
        version.as_deref(),
        async |transaction, schemas| {
            let (trust, listing) = (schemas.trust()?, schemas.listing()?);
            let [trust_sql, accuracy_sql, recent_sql, rejections_sql] =
                miner_sql(trust, schemas.consensus()?, listing);
            let rows = db::query(transaction, "miner.trust", &trust_sql, &[&hotkey]).await?;
            let Some(row) = rows.first() else {
                return Err(ApiError::NotFound(format!("no miner {hotkey:?}")));
            };
            let accuracy = db::query(transaction, "miner.accuracy", &accuracy_sql, &[&hotkey])
                .await?
                .first()
                .map(|row| (row.get::<_, f64>(0), row.get::<_, i64>(1)));
            let recent: i64 = db::query_one(transaction, "miner.recent", &recent_sql, &[&hotkey])
                .await?
                .get(0);
            let rejections =
                db::query(transaction, "miner.rejections", &rejections_sql, &[&hotkey]).await?;
            let (_, mut signals) =
                crate::anomalies::read(transaction, trust, Some(hotkey.as_str())).await?;

            let trust_score: f64 = row.get(0);
            Ok(MinerStats {
                trust_score,
                performance_tier: performance_tier(trust_score),
                total_submissions: row.get(1),
                validated_submissions: row.get(2),
                submissions_today: row.get(3),
                submissions_date: row.get(4),
                recent_submissions_24h: recent,
                last_submission: row.get(5),
                accuracy_score: accuracy.map(|(score, _)| score),
                listings_reported: accuracy.map(|(_, listings)| listings),
                duplicate_rate: row.get(6),
                rejections: rejections
                    .iter()
                    .map(|row| (row.get(0), row.get(1)))
                    .collect(),
                consensus_version: schemas.consensus_version.clone(),
                signals: signals.pop(),
                miner_hotkey: hotkey,
            })
        },
    )
    .await?;
    Ok(Json(answer))
}

/// One row of the leaderboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinerRank {
    /// The miner's hotkey.
    pub miner_hotkey: String,
    /// Trust, 0 to 1.
    pub trust_score: f64,
    /// `premium`, `standard` or `basic`.
    pub performance_tier: &'static str,
    /// Share of its reported fields agreeing with the consensus.
    pub accuracy_score: Option<f64>,
    /// Uploads parsed.
    pub total_submissions: i64,
    /// Duplicate rows / rows read.
    pub duplicate_rate: f64,
    /// Its latest upload.
    pub last_submission: DateTime<Utc>,
}

/// `GET /api/miners`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Leaderboard {
    /// The miners in the requested order.
    pub miners: Vec<MinerRank>,
    /// Miners in all.
    pub total: i64,
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
    /// The sort key.
    pub sort: &'static str,
    /// `asc` or `desc`.
    pub order: &'static str,
}

/// The leaderboard's sort keys.
pub const SORTS: [&str; 5] = [
    "trust_score",
    "accuracy_score",
    "total_submissions",
    "duplicate_rate",
    "last_submission",
];

/// The statements of `GET /api/miners`: a page (`$1` limit, `$2` offset) and the count.
/// `sort` is one of [`SORTS`] and `order` `asc` or `desc`: fixed names, never client text.
#[must_use]
pub fn leaderboard_sql(trust: &str, consensus: &str, sort: &str, order: &str) -> [String; 2] {
    let sort_column = if sort == "accuracy_score" {
        "a.accuracy_score".to_owned()
    } else {
        format!("t.{sort}")
    };
    let order = if order == "asc" {
        "ASC NULLS FIRST"
    } else {
        "DESC NULLS LAST"
    };
    [
        format!(
            "SELECT t.miner_hotkey, t.trust_score, a.accuracy_score, t.total_submissions,
                    t.duplicate_rate, t.last_submission
             FROM {trust}.miner_trust t
             LEFT JOIN {consensus}.miner_accuracy a ON a.miner_hotkey = t.miner_hotkey
             ORDER BY {sort_column} {order}, t.miner_hotkey
             LIMIT $1 OFFSET $2"
        ),
        format!("SELECT count(*) FROM {trust}.miner_trust"),
    ]
}

/// `GET /api/miners`: the leaderboard.
#[utoipa::path(
    get,
    path = "/api/miners",
    tag = "miners",
    params(
        ("sort" = Option<String>, Query, pattern = "^(trust_score|accuracy_score|total_submissions|duplicate_rate|last_submission)$", description = "trust_score (default), accuracy_score, total_submissions, duplicate_rate or last_submission"),
        ("order" = Option<String>, Query, pattern = "^(asc|desc)$", description = "desc (default) or asc"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Rows per page (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 100000, description = "Rows to skip"),
        ("consensus_version" = Option<String>, Query, pattern = "^[a-z_][a-z0-9_]{0,47}$", description = "Take accuracy from this consensus version"),
    ),
    responses(
        (status = 200, description = "The leaderboard", body = Leaderboard),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn leaderboard(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Leaderboard>> {
    let mut params = Params::parse(query.as_deref())?;
    let sort = params.choice("sort", &SORTS)?.unwrap_or("trust_score");
    let order = params.choice("order", &["asc", "desc"])?.unwrap_or("desc");
    let limit = params.integer("limit", 1, 500)?.unwrap_or(100);
    let offset = params.integer("offset", 0, 100_000)?.unwrap_or(0);
    let version = consensus_version(&mut params)?;
    params.finish()?;

    let answer = db::read(
        &state.pool,
        version.as_deref(),
        async |transaction, schemas| {
            let (trust, consensus) = (schemas.trust()?, schemas.consensus()?);
            let [page_sql, count_sql] = leaderboard_sql(trust, consensus, sort, order);
            let rows = db::query(transaction, "miners.page", &page_sql, &[&limit, &offset]).await?;
            let total: i64 = db::query_one(transaction, "miners.count", &count_sql, &[])
                .await?
                .get(0);
            Ok(Leaderboard {
                miners: rows
                    .iter()
                    .map(|row| {
                        let trust_score: f64 = row.get(1);
                        MinerRank {
                            miner_hotkey: row.get(0),
                            trust_score,
                            performance_tier: performance_tier(trust_score),
                            accuracy_score: row.get(2),
                            total_submissions: row.get(3),
                            duplicate_rate: row.get(4),
                            last_submission: row.get(5),
                        }
                    })
                    .collect(),
                total,
                limit,
                offset,
                sort,
                order,
            })
        },
    )
    .await?;
    Ok(Json(answer))
}
