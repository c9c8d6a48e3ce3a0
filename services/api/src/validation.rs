//! `GET /api/epochs/{epoch_id}/validation`: what each validator published for an epoch, how it
//! agrees with the reference score and with the stake-weighted verdict, and the verdicts.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use resi_projections::validation::{CONFIRM_AT, FAKE_AT};
use serde::Serialize;
use utoipa::ToSchema;

use axum::extract::RawQuery;

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::state::AppState;

/// One validator's results for the epoch (each publication, newest first per validator).
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidatorResultsView {
    /// The validator.
    pub validator_hotkey: String,
    /// When the store received the document.
    pub published_at: DateTime<Utc>,
    /// The validator's stake (rao) when its results were admitted.
    pub stake_rao: i64,
    /// Miners it scored.
    pub miners_scored: i32,
    /// Entries of its document that were not a valid score.
    pub entries_rejected: i64,
    /// Whether the verdict counted these results (each validator's latest before it).
    pub counted: bool,
    /// Mean absolute difference of its totals from the reference scores (null when they share
    /// no miner).
    pub mean_abs_diff_from_reference: Option<f64>,
    /// Share of its judgments (confirm / fake / neither) that match the verdict.
    pub agreement_with_verdict: Option<f64>,
}

/// The verdict on one miner.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinerVerdictView {
    /// The miner.
    pub miner_hotkey: String,
    /// `confirmed`, `fake` or `undecided`.
    pub verdict: String,
    /// Stake-weighted mean of the validators' totals.
    pub validation_score: f64,
    /// Stake (rao) that confirmed.
    pub stake_confirming: i64,
    /// Stake (rao) that found it fake.
    pub stake_fake: i64,
    /// Stake (rao) that judged it.
    pub stake_judging: i64,
    /// Validators that judged it.
    pub validators: i32,
}

/// `GET /api/epochs/{epoch_id}/validation`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpochValidation {
    /// The epoch.
    pub epoch_id: String,
    /// When the verdict was recorded (null before: results still count).
    pub validated_at: Option<DateTime<Utc>>,
    /// Every publication.
    pub validators: Vec<ValidatorResultsView>,
    /// One verdict per miner judged, by hotkey.
    pub verdicts: Vec<MinerVerdictView>,
}

/// The statements over the scores schema (`$1` the epoch).
pub struct ValidationStatements {
    /// When the epoch was decided.
    pub decided: String,
    /// The publications with their agreement.
    pub validators: String,
    /// The verdicts.
    pub verdicts: String,
}

impl ValidationStatements {
    /// The statements over `scores`.
    #[must_use]
    pub fn new(scores: &str) -> Self {
        // a judgment as the verdict's rule makes it: confirm, fake, or neither
        let judgment = |total: &str| {
            format!(
                "CASE WHEN {total} >= {CONFIRM_AT:?} THEN 'confirmed'
                      WHEN {total} <= {FAKE_AT:?} THEN 'fake' ELSE 'undecided' END"
            )
        };
        Self {
            decided: format!(
                "SELECT validated_at FROM {scores}.epoch_validations WHERE epoch_id = $1"
            ),
            validators: format!(
                "SELECT r.validator_hotkey, r.published_at, r.stake_rao, r.scores,
                        r.entries_rejected, COALESCE(r.results_id = ANY(ev.results_ids), false),
                        (SELECT avg(abs(vs.total - es.total))
                           FROM {scores}.validator_scores vs
                           JOIN {scores}.epoch_scores es
                             ON es.epoch_id = vs.epoch_id AND es.miner_hotkey = vs.miner_hotkey
                          WHERE vs.results_id = r.results_id),
                        (SELECT avg(CASE WHEN mv.verdict = {judged} THEN 1.0 ELSE 0.0 END)
                           FROM {scores}.validator_scores vs
                           JOIN {scores}.miner_validations mv
                             ON mv.epoch_id = vs.epoch_id AND mv.miner_hotkey = vs.miner_hotkey
                          WHERE vs.results_id = r.results_id)::float8
                   FROM {scores}.validator_results r
                   LEFT JOIN {scores}.epoch_validations ev ON ev.epoch_id = r.epoch_id
                  WHERE r.epoch_id = $1
                  ORDER BY r.validator_hotkey, r.published_at DESC, r.results_id",
                judged = judgment("vs.total"),
            ),
            verdicts: format!(
                "SELECT miner_hotkey, verdict, validation_score, stake_confirming, stake_fake,
                        stake_judging, validators
                   FROM {scores}.miner_validations WHERE epoch_id = $1 ORDER BY miner_hotkey"
            ),
        }
    }

    /// Every statement with its name, for the index check.
    #[must_use]
    pub fn named(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("decided", &self.decided),
            ("validators", &self.validators),
            ("verdicts", &self.verdicts),
        ]
    }
}

/// `GET /api/epochs/{epoch_id}/validation`.
#[utoipa::path(
    get,
    path = "/api/epochs/{epoch_id}/validation",
    tag = "epochs",
    params(("epoch_id" = String, Path, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-00-00$", description = "The epoch")),
    responses(
        (status = 200, description = "The validators' results and verdicts", body = EpochValidation),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable, timed out, or no scores projection yet", body = crate::error::ErrorBody),
    )
)]
pub async fn validation(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult<Json<EpochValidation>> {
    let epoch = crate::epochs::epoch_id(&raw)?;
    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let sql = ValidationStatements::new(schemas.scores()?);
        let decided = db::query(transaction, "validation.decided", &sql.decided, &[&epoch]).await?;
        let validators = db::query(
            transaction,
            "validation.validators",
            &sql.validators,
            &[&epoch],
        )
        .await?;
        let verdicts =
            db::query(transaction, "validation.verdicts", &sql.verdicts, &[&epoch]).await?;
        Ok(EpochValidation {
            epoch_id: epoch.clone(),
            validated_at: decided.first().map(|row| row.get(0)),
            validators: validators
                .iter()
                .map(|row| ValidatorResultsView {
                    validator_hotkey: row.get(0),
                    published_at: row.get(1),
                    stake_rao: row.get(2),
                    miners_scored: row.get(3),
                    entries_rejected: row.get(4),
                    counted: row.get(5),
                    mean_abs_diff_from_reference: row.get(6),
                    agreement_with_verdict: row.get(7),
                })
                .collect(),
            verdicts: verdicts
                .iter()
                .map(|row| MinerVerdictView {
                    miner_hotkey: row.get(0),
                    verdict: row.get(1),
                    validation_score: row.get(2),
                    stake_confirming: row.get(3),
                    stake_fake: row.get(4),
                    stake_judging: row.get(5),
                    validators: row.get(6),
                })
                .collect(),
        })
    })
    .await?;
    Ok(Json(answer))
}

/// A listing a miner reported in an epoch that no consensus could check.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpotCheck {
    /// The listing.
    pub listing_id: String,
    /// The assigned zipcode it was reported for.
    pub zipcode: Option<String>,
    /// The reported price.
    pub price: Option<i64>,
    /// The reported address.
    pub address: Option<String>,
    /// When the miner scraped it.
    pub scraped_at: DateTime<Utc>,
    /// Other miners that reported it (fewer than two: nothing to check it against).
    pub other_miners: i32,
}

/// `GET /api/epochs/{epoch_id}/spot-checks`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpotChecks {
    /// The epoch.
    pub epoch_id: String,
    /// The miner.
    pub miner_hotkey: String,
    /// The sample, in its order.
    pub listings: Vec<SpotCheck>,
}

/// The sample's statement (`$1` epoch, `$2` miner, `$3` how many): the miner's listings of the
/// epoch that at most one other miner reported, ordered by a hash of the epoch's commitment key
/// (revealed at closing, so a miner cannot know beforehand which of its listings are drawn)
/// and the listing id.
#[must_use]
pub fn spot_checks_sql(listing: &str, consensus: &str, epochs: &str) -> String {
    format!(
        "SELECT a.listing_id, a.epoch_zipcode, a.price_usd, a.address, a.scraped_at,
                greatest(coalesce(cl.unique_miners, 1) - 1, 0)
           FROM {epochs}.epochs e
           JOIN {listing}.miner_attestations a
             ON a.epoch_id = e.epoch_id AND a.miner_hotkey = $2
           LEFT JOIN {consensus}.consensus_listings cl ON cl.listing_id = a.listing_id
          WHERE e.epoch_id = $1 AND e.commitment_key IS NOT NULL
            AND coalesce(cl.unique_miners, 1) < 3
          ORDER BY md5(e.commitment_key || a.listing_id), a.attestation_id
          LIMIT $3"
    )
}

/// `GET /api/epochs/{epoch_id}/spot-checks?miner=`: a sample of what a miner reported in a closed
/// epoch that no consensus could check (at most one other miner reported it), for validators
/// to check by hand; every co-reported listing is checked by the scores already.
#[utoipa::path(
    get,
    path = "/api/epochs/{epoch_id}/spot-checks",
    tag = "epochs",
    params(
        ("epoch_id" = String, Path, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-00-00$", description = "The epoch"),
        ("miner" = String, Query, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "The miner's hotkey"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "Listings in the sample (default 20)"),
    ),
    responses(
        (status = 200, description = "The sample (empty before the epoch closes)", body = SpotChecks),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable, timed out, or no listing, consensus or epochs projection yet", body = crate::error::ErrorBody),
    )
)]
pub async fn spot_checks(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<SpotChecks>> {
    let epoch = crate::epochs::epoch_id(&raw)?;
    let mut params = Params::parse(query.as_deref())?;
    let miner = params
        .text("miner")
        .ok_or_else(|| ApiError::bad("miner", "the miner's hotkey is required"))?;
    let miner = params::hotkey(&miner)?;
    let limit = params.integer("limit", 1, 200)?.unwrap_or(20);
    params.finish()?;
    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let sql = spot_checks_sql(schemas.listing()?, schemas.consensus()?, schemas.epochs()?);
        let rows = db::query(
            transaction,
            "validation.spot_checks",
            &sql,
            &[&epoch, &miner, &limit],
        )
        .await?;
        Ok(SpotChecks {
            epoch_id: epoch.clone(),
            miner_hotkey: miner.clone(),
            listings: rows
                .iter()
                .map(|row| SpotCheck {
                    listing_id: row.get(0),
                    zipcode: row.get(1),
                    price: row.get(2),
                    address: row.get(3),
                    scraped_at: row.get(4),
                    other_miners: row.get(5),
                })
                .collect(),
        })
    })
    .await?;
    Ok(Json(answer))
}
