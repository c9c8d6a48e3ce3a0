//! Zipcode epochs and their scores: what the coordinator assigned, what the scores projection
//! made of each miner's evidence, the per-zipcode rankings and the weights a validator would
//! set. Assignments are shown once an epoch has started, honeypots once it is closed.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::state::AppState;

/// Minutes an epoch stays COMPLETED (validators score it) before it is ARCHIVED.
const VALIDATION_WINDOW_MINUTES: i64 = 30;

/// An epoch id, `YYYY-MM-DDTHH-00-00`.
pub(crate) fn epoch_id(raw: &str) -> ApiResult<String> {
    let bytes = raw.as_bytes();
    let shaped = bytes.len() == 19
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 | 13 | 16 => *byte == b'-',
            10 => *byte == b'T',
            14 | 15 | 17 | 18 => *byte == b'0',
            _ => byte.is_ascii_digit(),
        });
    if !shaped {
        return Err(ApiError::bad(
            "epoch_id",
            format!("{raw:?} is not YYYY-MM-DDTHH-00-00"),
        ));
    }
    Ok(raw.to_owned())
}

/// The lifecycle state of an epoch at `now`.
fn status(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> &'static str {
    if now < start {
        "PENDING"
    } else if now < end {
        "ACTIVE"
    } else if now < end + Duration::minutes(VALIDATION_WINDOW_MINUTES) {
        "COMPLETED"
    } else {
        "ARCHIVED"
    }
}

/// An epoch in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpochSummary {
    /// `YYYY-MM-DDTHH-00-00`.
    pub epoch_id: String,
    /// `PENDING`, `ACTIVE`, `COMPLETED` (30 minutes for validators) or `ARCHIVED`.
    pub status: &'static str,
    /// Start of mining.
    pub start_time: DateTime<Utc>,
    /// End of mining.
    pub end_time: DateTime<Utc>,
    /// Uploads after this are late.
    pub submission_deadline: DateTime<Utc>,
    /// Zipcodes assigned, honeypots included.
    pub zipcode_count: i32,
    /// Listings the epoch expects in all.
    pub total_expected_listings: i64,
    /// Whether the closing revealed the honeypots.
    pub honeypots_revealed: bool,
    /// Whether the reveal opened the commitment published at the opening (null before).
    pub commitment_verified: Option<bool>,
    /// Miners scored (null until the epoch's evidence is scored).
    pub scored_miners: Option<i32>,
}

/// `GET /api/epochs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpochList {
    /// Newest first.
    pub epochs: Vec<EpochSummary>,
    /// Epochs in all.
    pub total: i64,
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// One assigned zipcode.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignedZipcode {
    /// Five digits.
    pub zipcode: String,
    /// Listings expected.
    pub expected_listings: i32,
    /// Two-letter state.
    pub state: String,
    /// City.
    pub city: String,
    /// County.
    pub county: String,
    /// `PREMIUM`, `STANDARD` or `EMERGING`.
    pub market_tier: String,
    /// Census region.
    pub geographic_region: String,
    /// Whether it is a honeypot: null until the epoch is closed.
    pub is_honeypot: Option<bool>,
}

/// `GET /api/epochs/{epoch_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpochDetail {
    /// The epoch.
    #[serde(flatten)]
    pub summary: EpochSummary,
    /// SHA-256 commitment to the honeypots, published when the epoch opened.
    pub honeypot_commitment: String,
    /// The honeypots, once revealed.
    pub honeypots: Option<Vec<String>>,
    /// The zipcodes in the order miners received them (empty before the start).
    pub zipcodes: Vec<AssignedZipcode>,
}

/// The four components and their weighted sum, each 0 to 1.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreComponents {
    /// Data quality (25 %).
    pub quality: f64,
    /// Accuracy against the consensus (35 %).
    pub accuracy: f64,
    /// Completeness against the assignment (25 %).
    pub completeness: f64,
    /// Timeliness against the deadline (15 %).
    pub timeliness: f64,
    /// The weighted sum; 0 for a fabricator.
    pub total: f64,
}

/// One miner's score in an epoch.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinerEpochScore {
    /// The miner.
    pub miner_hotkey: String,
    /// The components.
    #[serde(flatten)]
    pub components: ScoreComponents,
    /// Listings it reported in honeypot zipcodes.
    pub honeypot_listings: i64,
    /// Rows that cannot be true (scraped after the upload, far from the zipcode).
    pub impossible_rows: i64,
    /// Whether it fabricated: every score 0, no reward.
    pub fabricated: bool,
    /// Regular zipcodes it covered.
    pub zipcodes_covered: i32,
    /// Its share of the epoch's rewards.
    pub reward_share: f64,
    /// The `MinerEpochEvidence` event the score was computed from (hex).
    pub evidence_id: String,
}

/// `GET /api/epochs/{epoch_id}/scores`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpochScores {
    /// The epoch.
    pub epoch_id: String,
    /// Whether the epoch's evidence has been scored.
    pub scored: bool,
    /// By total, highest first.
    pub miners: Vec<MinerEpochScore>,
}

/// One miner's place in one zipcode.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZipcodeRanking {
    /// The zipcode.
    pub zipcode: String,
    /// The miner.
    pub miner_hotkey: String,
    /// 1-based rank among the eligible miners; null when not eligible.
    pub rank: Option<i32>,
    /// Its share of the zipcode's reward (55 / 30 / 10 %, the rest 5 % shared).
    pub reward: f64,
    /// Its components in this zipcode alone.
    #[serde(flatten)]
    pub components: ScoreComponents,
}

/// `GET /api/epochs/{epoch_id}/rankings`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rankings {
    /// The epoch.
    pub epoch_id: String,
    /// The zipcode asked for, if any.
    pub zipcode: Option<String>,
    /// By zipcode, then rank (ineligible last).
    pub rankings: Vec<ZipcodeRanking>,
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// `GET /api/epochs/{epoch_id}/weights`: what a validator would pass to `set_weights`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Weights {
    /// The epoch.
    pub epoch_id: String,
    /// UIDs of the rewarded miners in the latest metagraph snapshot, ascending.
    pub uids: Vec<i32>,
    /// Their weights, summing to 1 (empty when nobody is rewarded).
    pub weights: Vec<f64>,
    /// Their hotkeys, in the same order.
    pub hotkeys: Vec<String>,
    /// Rewarded miners the snapshot does not know (left out of the vector).
    pub unregistered: Vec<String>,
}

/// One epoch of a miner.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinerEpoch {
    /// The epoch.
    pub epoch_id: String,
    /// The components.
    #[serde(flatten)]
    pub components: ScoreComponents,
    /// Whether it fabricated in this epoch.
    pub fabricated: bool,
    /// Its share of the epoch's rewards.
    pub reward_share: f64,
    /// The validators' verdict (`confirmed`, `fake`, `undecided`; null until decided).
    pub verdict: Option<String>,
    /// The validators' stake-weighted score.
    pub validation_score: Option<f64>,
}

/// `GET /api/miners/{hotkey}/epochs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinerEpochs {
    /// The miner.
    pub miner_hotkey: String,
    /// Epochs it fabricated in, in all.
    pub fabricated_epochs: i64,
    /// Flagged: two or more fabricating epochs (seed 003 Q12).
    pub flagged: bool,
    /// Newest first.
    pub epochs: Vec<MinerEpoch>,
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// Fabricating epochs at which a miner is flagged.
pub const FLAG_AFTER: i64 = 2;

/// The statements of the epoch endpoints over the given schemas, made once per request (`$n`
/// as each handler passes them).
pub struct EpochStatements {
    /// A page of epochs, newest first (`$1` limit, `$2` offset).
    pub list: String,
    /// Epochs in all.
    pub count: String,
    /// One epoch (`$1`).
    pub one: String,
    /// An epoch's zipcodes in assignment order (`$1`).
    pub zipcodes: String,
    /// An epoch's scores, highest first (`$1`).
    pub scores: String,
    /// Whether an epoch is scored (`$1`).
    pub scored: String,
    /// An epoch's rankings (`$1` epoch, `$2` zipcode or null, `$3` limit, `$4` offset).
    pub rankings: String,
    /// An epoch's rewarded miners with their UIDs (`$1`).
    pub weights: String,
    /// A miner's epochs, newest first (`$1` hotkey, `$2` limit, `$3` offset).
    pub miner: String,
    /// A miner's fabricating and scored epochs (`$1`).
    pub miner_fabricated: String,
}

impl EpochStatements {
    /// The statements over `epochs`, `scores` and `network`.
    #[must_use]
    pub fn new(epochs: &str, scores: &str, network: &str) -> Self {
        let components = "quality, accuracy, completeness, timeliness, total";
        Self {
            list: format!(
                "SELECT e.epoch_id, e.start_time, e.end_time, e.submission_deadline,
                        e.zipcode_count, e.total_expected_listings, e.closed_event_id IS NOT NULL,
                        e.commitment_verified, s.miners
                   FROM {epochs}.epochs e
                   LEFT JOIN {scores}.scored_epochs s ON s.epoch_id = e.epoch_id
                  ORDER BY e.start_time DESC LIMIT $1 OFFSET $2"
            ),
            count: format!("SELECT count(*) FROM {epochs}.epochs"),
            one: format!(
                "SELECT e.epoch_id, e.start_time, e.end_time, e.submission_deadline,
                        e.zipcode_count, e.total_expected_listings, e.closed_event_id IS NOT NULL,
                        e.commitment_verified, s.miners, e.honeypot_commitment, e.honeypots
                   FROM {epochs}.epochs e
                   LEFT JOIN {scores}.scored_epochs s ON s.epoch_id = e.epoch_id
                  WHERE e.epoch_id = $1"
            ),
            zipcodes: format!(
                "SELECT zipcode, expected_listings, state, city, county, market_tier,
                        geographic_region, is_honeypot
                   FROM {epochs}.epoch_assignments WHERE epoch_id = $1 ORDER BY position"
            ),
            scores: format!(
                "SELECT miner_hotkey, {components}, honeypot_listings, impossible_rows, fabricated,
                        zipcodes_covered, reward_share, evidence_id
                   FROM {scores}.epoch_scores WHERE epoch_id = $1
                  ORDER BY total DESC, miner_hotkey"
            ),
            scored: format!(
                "SELECT complete_event_id IS NOT NULL FROM {scores}.scored_epochs WHERE epoch_id = $1"
            ),
            rankings: format!(
                "SELECT zipcode, miner_hotkey, rank, reward, {components}
                   FROM {scores}.zipcode_rankings
                  WHERE epoch_id = $1 AND ($2::text IS NULL OR zipcode = $2)
                  ORDER BY zipcode, rank NULLS LAST, miner_hotkey LIMIT $3 OFFSET $4"
            ),
            weights: format!(
                "SELECT s.miner_hotkey, s.reward_share, n.uid
                   FROM {scores}.epoch_scores s
                   LEFT JOIN LATERAL (
                     SELECT uid FROM {network}.metagraph_neurons
                      WHERE hotkey = s.miner_hotkey ORDER BY block DESC, netuid LIMIT 1) n ON true
                  WHERE s.epoch_id = $1 AND s.reward_share > 0
                  ORDER BY n.uid NULLS LAST, s.miner_hotkey"
            ),
            miner: format!(
                "SELECT s.epoch_id, s.quality, s.accuracy, s.completeness, s.timeliness, s.total,
                        s.fabricated, s.reward_share, v.verdict, v.validation_score
                   FROM {scores}.epoch_scores s
                   LEFT JOIN {scores}.miner_validations v
                     ON v.epoch_id = s.epoch_id AND v.miner_hotkey = s.miner_hotkey
                  WHERE s.miner_hotkey = $1
                  ORDER BY s.epoch_id DESC LIMIT $2 OFFSET $3"
            ),
            miner_fabricated: format!(
                "SELECT count(*) FILTER (WHERE fabricated), count(*)
                   FROM {scores}.epoch_scores WHERE miner_hotkey = $1"
            ),
        }
    }

    /// Every statement with its name, for the index check.
    #[must_use]
    pub fn named(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("list", &self.list),
            ("count", &self.count),
            ("one", &self.one),
            ("zipcodes", &self.zipcodes),
            ("scores", &self.scores),
            ("scored", &self.scored),
            ("rankings", &self.rankings),
            ("weights", &self.weights),
            ("miner", &self.miner),
            ("miner_fabricated", &self.miner_fabricated),
        ]
    }
}

fn components(row: &tokio_postgres::Row, first: usize) -> ScoreComponents {
    ScoreComponents {
        quality: row.get(first),
        accuracy: row.get(first + 1),
        completeness: row.get(first + 2),
        timeliness: row.get(first + 3),
        total: row.get(first + 4),
    }
}

fn summary(row: &tokio_postgres::Row, now: DateTime<Utc>) -> EpochSummary {
    let start: DateTime<Utc> = row.get(1);
    let end: DateTime<Utc> = row.get(2);
    EpochSummary {
        epoch_id: row.get(0),
        status: status(start, end, now),
        start_time: start,
        end_time: end,
        submission_deadline: row.get(3),
        zipcode_count: row.get(4),
        total_expected_listings: row.get(5),
        honeypots_revealed: row.get(6),
        commitment_verified: row.get(7),
        scored_miners: row.get(8),
    }
}

/// `GET /api/epochs`: the epochs, newest first.
#[utoipa::path(
    get,
    path = "/api/epochs",
    tag = "epochs",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Rows per page (default 50)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 100000, description = "Rows to skip"),
    ),
    responses(
        (status = 200, description = "The epochs", body = EpochList),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable, timed out, or no epochs projection yet", body = crate::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<EpochList>> {
    let mut params = Params::parse(query.as_deref())?;
    let limit = params.integer("limit", 1, 500)?.unwrap_or(50);
    let offset = params.integer("offset", 0, 100_000)?.unwrap_or(0);
    params.finish()?;
    let now = Utc::now();
    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let sql = EpochStatements::new(schemas.epochs()?, schemas.scores()?, schemas.network()?);
        let rows = db::query(transaction, "epochs.list", &sql.list, &[&limit, &offset]).await?;
        let total: i64 = db::query_one(transaction, "epochs.count", &sql.count, &[])
            .await?
            .get(0);
        Ok(EpochList {
            epochs: rows.iter().map(|row| summary(row, now)).collect(),
            total,
            limit,
            offset,
        })
    })
    .await?;
    Ok(Json(answer))
}

/// `GET /api/epochs/{epoch_id}`: one epoch, its zipcodes once started, honeypots once closed.
#[utoipa::path(
    get,
    path = "/api/epochs/{epoch_id}",
    tag = "epochs",
    params(("epoch_id" = String, Path, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-00-00$", description = "The epoch")),
    responses(
        (status = 200, description = "The epoch", body = EpochDetail),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 404, description = "No such epoch", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable, timed out, or no epochs projection yet", body = crate::error::ErrorBody),
    )
)]
pub async fn detail(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult<Json<EpochDetail>> {
    let epoch = epoch_id(&raw)?;
    let now = Utc::now();
    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let sql = EpochStatements::new(schemas.epochs()?, schemas.scores()?, schemas.network()?);
        let rows = db::query(transaction, "epochs.one", &sql.one, &[&epoch]).await?;
        let Some(row) = rows.first() else {
            return Err(ApiError::NotFound(format!("no epoch {epoch:?}")));
        };
        let summary = summary(row, now);
        let started = summary.status != "PENDING";
        let zipcodes = if started {
            db::query(transaction, "epochs.zipcodes", &sql.zipcodes, &[&epoch])
                .await?
                .iter()
                .map(|zip| AssignedZipcode {
                    zipcode: zip.get(0),
                    expected_listings: zip.get(1),
                    state: zip.get(2),
                    city: zip.get(3),
                    county: zip.get(4),
                    market_tier: zip.get(5),
                    geographic_region: zip.get(6),
                    is_honeypot: zip.get(7),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(EpochDetail {
            honeypot_commitment: row.get(9),
            honeypots: row.get(10),
            zipcodes,
            summary,
        })
    })
    .await?;
    Ok(Json(answer))
}

/// `GET /api/epochs/{epoch_id}/scores`: every miner's score, components and reward share.
#[utoipa::path(
    get,
    path = "/api/epochs/{epoch_id}/scores",
    tag = "epochs",
    params(("epoch_id" = String, Path, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-00-00$", description = "The epoch")),
    responses(
        (status = 200, description = "The scores (empty until the epoch's evidence is scored)", body = EpochScores),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 404, description = "No such epoch", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable, timed out, or no scores projection yet", body = crate::error::ErrorBody),
    )
)]
pub async fn scores(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult<Json<EpochScores>> {
    let epoch = epoch_id(&raw)?;
    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let sql = EpochStatements::new(schemas.epochs()?, schemas.scores()?, schemas.network()?);
        let scored = db::query(transaction, "epochs.scored", &sql.scored, &[&epoch]).await?;
        let Some(scored) = scored.first() else {
            return Err(ApiError::NotFound(format!(
                "no epoch {epoch:?} in the scores projection"
            )));
        };
        let miners = db::query(transaction, "epochs.scores", &sql.scores, &[&epoch])
            .await?
            .iter()
            .map(|row| MinerEpochScore {
                miner_hotkey: row.get(0),
                components: components(row, 1),
                honeypot_listings: row.get(6),
                impossible_rows: row.get(7),
                fabricated: row.get(8),
                zipcodes_covered: row.get(9),
                reward_share: row.get(10),
                evidence_id: hex::encode(row.get::<_, Vec<u8>>(11)),
            })
            .collect();
        Ok(EpochScores {
            epoch_id: epoch.clone(),
            scored: scored.get(0),
            miners,
        })
    })
    .await?;
    Ok(Json(answer))
}

/// `GET /api/epochs/{epoch_id}/rankings`: each zipcode's miners by rank, with their rewards.
#[utoipa::path(
    get,
    path = "/api/epochs/{epoch_id}/rankings",
    tag = "epochs",
    params(
        ("epoch_id" = String, Path, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-00-00$", description = "The epoch"),
        ("zipcode" = Option<String>, Query, pattern = "^[0-9]{5}$", description = "Only this zipcode"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 5000, description = "Rows per page (default 1000)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 1000000, description = "Rows to skip"),
    ),
    responses(
        (status = 200, description = "The rankings", body = Rankings),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable, timed out, or no scores projection yet", body = crate::error::ErrorBody),
    )
)]
pub async fn rankings(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Rankings>> {
    let epoch = epoch_id(&raw)?;
    let mut params = Params::parse(query.as_deref())?;
    let zipcode = params
        .text("zipcode")
        .map(|zip| params::zip_code(&zip))
        .transpose()?;
    let limit = params.integer("limit", 1, 5_000)?.unwrap_or(1_000);
    let offset = params.integer("offset", 0, 1_000_000)?.unwrap_or(0);
    params.finish()?;
    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let sql = EpochStatements::new(schemas.epochs()?, schemas.scores()?, schemas.network()?);
        let rows = db::query(
            transaction,
            "epochs.rankings",
            &sql.rankings,
            &[&epoch, &zipcode, &limit, &offset],
        )
        .await?;
        Ok(Rankings {
            epoch_id: epoch.clone(),
            zipcode: zipcode.clone(),
            rankings: rows
                .iter()
                .map(|row| ZipcodeRanking {
                    zipcode: row.get(0),
                    miner_hotkey: row.get(1),
                    rank: row.get(2),
                    reward: row.get(3),
                    components: components(row, 4),
                })
                .collect(),
            limit,
            offset,
        })
    })
    .await?;
    Ok(Json(answer))
}

/// `GET /api/epochs/{epoch_id}/weights`: the normalised weight vector of the rewarded miners by
/// UID, as a validator would set it.
#[utoipa::path(
    get,
    path = "/api/epochs/{epoch_id}/weights",
    tag = "epochs",
    params(("epoch_id" = String, Path, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-00-00$", description = "The epoch")),
    responses(
        (status = 200, description = "The weights", body = Weights),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable, timed out, or no scores or network projection yet", body = crate::error::ErrorBody),
    )
)]
pub async fn weights(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult<Json<Weights>> {
    let epoch = epoch_id(&raw)?;
    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let sql = EpochStatements::new(schemas.epochs()?, schemas.scores()?, schemas.network()?);
        let rows = db::query(transaction, "epochs.weights", &sql.weights, &[&epoch]).await?;
        let mut answer = Weights {
            epoch_id: epoch.clone(),
            uids: Vec::new(),
            weights: Vec::new(),
            hotkeys: Vec::new(),
            unregistered: Vec::new(),
        };
        for row in &rows {
            let hotkey: String = row.get(0);
            match row.get::<_, Option<i32>>(2) {
                Some(uid) => {
                    answer.uids.push(uid);
                    answer.weights.push(row.get(1));
                    answer.hotkeys.push(hotkey);
                }
                None => answer.unregistered.push(hotkey),
            }
        }
        let sum: f64 = answer.weights.iter().sum();
        if sum > 0.0 {
            for weight in &mut answer.weights {
                *weight /= sum;
            }
        }
        Ok(answer)
    })
    .await?;
    Ok(Json(answer))
}

/// `GET /api/miners/{hotkey}/epochs`: a miner's epochs, newest first, and whether it is
/// flagged for fabricating.
#[utoipa::path(
    get,
    path = "/api/miners/{hotkey}/epochs",
    tag = "miners",
    params(
        ("hotkey" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "The miner's hotkey"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Rows per page (default 50)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 100000, description = "Rows to skip"),
    ),
    responses(
        (status = 200, description = "The miner's epochs", body = MinerEpochs),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 404, description = "The miner was never scored", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable, timed out, or no scores projection yet", body = crate::error::ErrorBody),
    )
)]
pub async fn miner(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<MinerEpochs>> {
    let hotkey = params::hotkey(&raw)?;
    let mut params = Params::parse(query.as_deref())?;
    let limit = params.integer("limit", 1, 500)?.unwrap_or(50);
    let offset = params.integer("offset", 0, 100_000)?.unwrap_or(0);
    params.finish()?;
    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let sql = EpochStatements::new(schemas.epochs()?, schemas.scores()?, schemas.network()?);
        let counts = db::query_one(
            transaction,
            "epochs.miner_fabricated",
            &sql.miner_fabricated,
            &[&hotkey],
        )
        .await?;
        let (fabricated_epochs, scored): (i64, i64) = (counts.get(0), counts.get(1));
        if scored == 0 {
            return Err(ApiError::NotFound(format!(
                "no scored epoch of miner {hotkey:?}"
            )));
        }
        let rows = db::query(
            transaction,
            "epochs.miner",
            &sql.miner,
            &[&hotkey, &limit, &offset],
        )
        .await?;
        Ok(MinerEpochs {
            miner_hotkey: hotkey.clone(),
            fabricated_epochs,
            flagged: fabricated_epochs >= FLAG_AFTER,
            epochs: rows
                .iter()
                .map(|row| MinerEpoch {
                    epoch_id: row.get(0),
                    components: components(row, 1),
                    fabricated: row.get(6),
                    reward_share: row.get(7),
                    verdict: row.get(8),
                    validation_score: row.get(9),
                })
                .collect(),
            limit,
            offset,
        })
    })
    .await?;
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_ids_are_the_coordinators() {
        assert!(epoch_id("2025-10-01T16-00-00").is_ok());
        for bad in [
            "2025-10-01T16-00-01",
            "2025-10-01 16-00-00",
            "2025-10-01T16:00:00",
            "x",
            "",
        ] {
            assert!(epoch_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_lifecycle_follows_the_clock() {
        let start = DateTime::from_timestamp(1_759_334_400, 0).unwrap_or_default();
        let end = start + Duration::hours(4);
        assert_eq!(status(start, end, start - Duration::minutes(1)), "PENDING");
        assert_eq!(status(start, end, start), "ACTIVE");
        assert_eq!(status(start, end, end), "COMPLETED");
        assert_eq!(status(start, end, end + Duration::minutes(30)), "ARCHIVED");
    }
}
