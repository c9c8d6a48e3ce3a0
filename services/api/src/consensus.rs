//! `GET /api/listing/{zpid}/consensus` (every field's values and their support) and
//! `GET /api/listing/{zpid}/history` (reported price and status over time).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, Utc};
use resi_projections::consensus::{Field, MinerReport, Registry, decide, stored};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::listings::only_consensus_version;
use crate::params::{self, Params};
use crate::state::AppState;

/// A field's value in the document: an integer, a number, text or a point.
fn field_value() -> utoipa::openapi::Schema {
    use utoipa::openapi::Schema;
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
    let number = || ObjectBuilder::new().schema_type(Type::Number);
    let any = AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .item(number())
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("latitude", number())
                .property("longitude", number())
                .required("latitude")
                .required("longitude"),
        )
        .build();
    Schema::AnyOf(any)
}

/// One distinct value of a field, with who supports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValueSupport {
    /// The value, typed: integers for price, bedrooms and living area; a number for
    /// bathrooms; `{latitude, longitude}` for coordinates; text otherwise.
    #[schema(schema_with = field_value)]
    pub value: Value,
    /// Distinct miners whose latest report carries it.
    pub miners: i64,
    /// Their hotkeys.
    pub supporters: Vec<String>,
    /// Trust-weighted support (the version's algorithm decides the weights).
    pub support: f64,
    /// Supporting miners / miners that reported the field.
    pub confidence: f64,
    /// Its first report.
    pub first_reported: Option<DateTime<Utc>>,
    /// Its latest report.
    pub last_reported: Option<DateTime<Utc>>,
}

/// One field's consensus.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldConsensus {
    /// The chosen value (null when no miner reported the field).
    pub chosen: Option<ValueSupport>,
    /// The other values reported, by support.
    pub alternatives: Vec<ValueSupport>,
}

/// `GET /api/listing/{zpid}/consensus`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingConsensus {
    /// The listing's id.
    pub zpid: String,
    /// The consensus version read.
    pub consensus_version: String,
    /// The algorithm the version runs, recorded with it.
    pub consensus_algorithm: String,
    /// Every parameter of that algorithm, as the version runs it.
    pub consensus_params: BTreeMap<String, String>,
    /// Mean confidence of the chosen values.
    pub consensus_score: f64,
    /// `high`, `medium` or `low`.
    pub confidence_level: &'static str,
    /// Distinct miners in the consensus.
    pub unique_miners: i32,
    /// The latest report counted.
    pub last_reported_at: DateTime<Utc>,
    /// Per field (price, bedrooms, bathrooms, living_area, address, home_type, home_status,
    /// coordinates, zip_code, city, state), as the build decided and stored them.
    pub fields: BTreeMap<String, FieldConsensus>,
    /// True only for a listing last written by a build that predates stored decisions: its
    /// fields were decided again from its stored reports by the build's recorded algorithm.
    /// Rebuilding the version stores them.
    pub recomputed: bool,
}

/// A value of `field` as the consensus stores it (text), typed for JSON.
fn typed(field: Field, text: &str) -> Value {
    let integer = || {
        text.parse::<i64>()
            .map_or_else(|_| Value::from(text), Value::from)
    };
    match field {
        Field::Price | Field::Bedrooms | Field::LivingArea => integer(),
        Field::Bathrooms => text.parse::<i64>().map_or_else(
            |_| Value::from(text),
            |tenths| Value::from(tenths as f64 / 10.0),
        ),
        Field::Coordinates => {
            let parsed = text.split_once(',').and_then(|(latitude, longitude)| {
                Some((
                    latitude.parse::<i32>().ok()?,
                    longitude.parse::<i32>().ok()?,
                ))
            });
            match parsed {
                Some((latitude, longitude)) => serde_json::json!({
                    "latitude": f64::from(latitude) / 1e7,
                    "longitude": f64::from(longitude) / 1e7,
                }),
                None => Value::from(text),
            }
        }
        _ => Value::from(text),
    }
}

fn datetime(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

fn value_support(field: Field, value: &resi_projections::consensus::ValueSupport) -> ValueSupport {
    ValueSupport {
        value: typed(field, &value.value),
        miners: i64::try_from(value.miners.len()).unwrap_or(i64::MAX),
        supporters: value.miners.clone(),
        support: value.support,
        confidence: value.confidence,
        first_reported: datetime(value.first_reported),
        last_reported: datetime(value.last_reported),
    }
}

/// Every field's values with their support, in the API's shape.
fn fields_of(
    decided: &[resi_projections::consensus::FieldConsensus],
) -> BTreeMap<String, FieldConsensus> {
    Field::ALL
        .into_iter()
        .map(|field| {
            let mut result = FieldConsensus {
                chosen: None,
                alternatives: Vec::new(),
            };
            if let Some(consensus) = decided.iter().find(|each| each.field == field) {
                let mut values = consensus.values.iter();
                result.chosen = values.next().map(|value| value_support(field, value));
                result.alternatives = values.map(|value| value_support(field, value)).collect();
            }
            (field.as_str().to_owned(), result)
        })
        .collect()
}

/// The statements of `GET /api/listing/{zpid}/consensus`: the listing's consensus and its
/// miners' latest reports (`$1` the id).
#[must_use]
pub fn consensus_sql(consensus: &str) -> [String; 2] {
    [
        format!(
            "SELECT consensus_score, unique_miners, last_reported_at, decisions
             FROM {consensus}.consensus_listings WHERE listing_id = $1"
        ),
        format!(
            "SELECT miner_hotkey, reported_at, miner_trust, field_values
             FROM {consensus}.consensus_reports WHERE listing_id = $1"
        ),
    ]
}

/// `GET /api/listing/{zpid}/consensus`: per field, every value with its support.
#[utoipa::path(
    get,
    path = "/api/listing/{zpid}/consensus",
    tag = "listings",
    params(
        ("zpid" = String, Path, pattern = "^[A-Za-z0-9_-]{1,128}$", description = "The listing's id"),
        ("consensus_version" = Option<String>, Query, pattern = "^[a-z_][a-z0-9_]{0,47}$", description = "Read this consensus version instead of the live one"),
    ),
    responses(
        (status = 200, description = "The listing's consensus", body = ListingConsensus),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 404, description = "No consensus for this listing, or no such version", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn consensus(
    State(state): State<Arc<AppState>>,
    Path(zpid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListingConsensus>> {
    let zpid = params::listing_id(&zpid)?;
    let version = only_consensus_version(query.as_deref())?;

    let answer = db::read(
        &state.pool,
        version.as_deref(),
        async |transaction, schemas| {
            let schema = schemas.consensus()?;
            let [listing_sql, reports_sql] = consensus_sql(schema);
            let rows = db::query(transaction, "consensus.listing", &listing_sql, &[&zpid]).await?;
            let Some(row) = rows.first() else {
                return Err(ApiError::NotFound(format!(
                    "no consensus for listing {zpid:?}"
                )));
            };
            let reports =
                db::query(transaction, "consensus.reports", &reports_sql, &[&zpid]).await?;

            let version = schemas.consensus_version.as_deref().unwrap_or_default();
            let algorithm = match resi_projector::consensus::recorded(transaction, version)
                .await
                .map_err(ApiError::Internal)?
            {
                Some((name, params)) => Registry::standard().build(&name, &params),
                None => resi_projections::consensus::standard(
                    version.split('_').next().unwrap_or_default(),
                ),
            }
            .map_err(|error| {
                ApiError::Internal(anyhow::anyhow!(
                    "consensus version {version:?} runs no known algorithm: {error}"
                ))
            })?;
            let mut reports = reports
                .iter()
                .map(|report| {
                    let values: Vec<Option<String>> = report.get(3);
                    let reported_at: DateTime<Utc> = report.get(1);
                    Ok(MinerReport {
                        miner: report.get(0),
                        reported_at: reported_at.timestamp_micros(),
                        trust: report.get(2),
                        values: values.try_into().map_err(|values: Vec<_>| {
                            ApiError::Internal(anyhow::anyhow!(
                                "a consensus report holds {} field values",
                                values.len()
                            ))
                        })?,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            // stored supporters index the reports in the build's order: by miner, bytewise
            // (not the database's collation)
            reports.sort_by(|a, b| a.miner.cmp(&b.miner));
            let decisions: Option<&[u8]> = row.get(3);
            let (fields, recomputed) = match decisions {
                Some(bytes) => (
                    stored::decode(bytes, &reports).map_err(|error| {
                        ApiError::Internal(anyhow::anyhow!(
                            "listing {zpid:?} of consensus version {version:?}: {error}"
                        ))
                    })?,
                    false,
                ),
                None => (decide(algorithm.as_ref(), &reports).fields, true),
            };
            let score: f64 = row.get(0);
            Ok(ListingConsensus {
                zpid,
                consensus_version: schemas.consensus_version.clone().unwrap_or_default(),
                consensus_algorithm: algorithm.name().to_owned(),
                consensus_params: algorithm.params(),
                consensus_score: score,
                confidence_level: crate::model::confidence_level(score),
                unique_miners: row.get(1),
                last_reported_at: row.get(2),
                fields: fields_of(&fields),
                recomputed,
            })
        },
    )
    .await?;
    Ok(Json(answer))
}

/// One report of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryReport {
    /// When the miner scraped it.
    pub scraped_at: DateTime<Utc>,
    /// The miner.
    pub miner_hotkey: String,
    /// The reported price.
    pub price: Option<i64>,
    /// The reported status.
    pub home_status: Option<String>,
}

/// One value a field had, over the time it was reported.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValuePeriod {
    /// The value (an integer for the price, text for the status).
    #[schema(schema_with = field_value)]
    pub value: Value,
    /// Its first report.
    pub first_reported: DateTime<Utc>,
    /// Its latest report.
    pub last_reported: DateTime<Utc>,
    /// Reports carrying it.
    pub reports: i64,
    /// Distinct miners reporting it.
    pub miners: i64,
}

/// `GET /api/listing/{zpid}/history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingHistory {
    /// The listing's id.
    pub zpid: String,
    /// Every price reported, by first report.
    pub price: Vec<ValuePeriod>,
    /// Every status reported, by first report.
    pub home_status: Vec<ValuePeriod>,
    /// The reports, oldest first (a page of them: `limit`, `offset`).
    pub reports: Vec<HistoryReport>,
    /// Reports of the listing in all.
    pub total_reports: i64,
}

/// The statements of `GET /api/listing/{zpid}/history`: price periods, status periods, the
/// number of reports, a page of reports (`$1` the id, `$2` limit, `$3` offset).
#[must_use]
pub fn history_sql(listing: &str) -> [String; 4] {
    let periods = |column: &str| {
        format!(
            "SELECT {column}::text, min(scraped_at), max(scraped_at), count(*),
                    count(DISTINCT miner_hotkey)
             FROM {listing}.miner_attestations
             WHERE listing_id = $1 AND {column} IS NOT NULL
             GROUP BY {column} ORDER BY min(scraped_at), {column}"
        )
    };
    [
        periods("price_usd"),
        periods("home_status"),
        format!("SELECT count(*) FROM {listing}.miner_attestations WHERE listing_id = $1"),
        format!(
            "SELECT scraped_at, miner_hotkey, price_usd, home_status
             FROM {listing}.miner_attestations WHERE listing_id = $1
             ORDER BY scraped_at, attestation_id LIMIT $2 OFFSET $3"
        ),
    ]
}

/// `GET /api/listing/{zpid}/history`: the price and status reported over time.
#[utoipa::path(
    get,
    path = "/api/listing/{zpid}/history",
    tag = "listings",
    params(
        ("zpid" = String, Path, pattern = "^[A-Za-z0-9_-]{1,128}$", description = "The listing's id"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Reports per page (default 100)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 1000000, description = "Reports to skip"),
    ),
    responses(
        (status = 200, description = "The listing's history", body = ListingHistory),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 404, description = "No such listing", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn history(
    State(state): State<Arc<AppState>>,
    Path(zpid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListingHistory>> {
    let zpid = params::listing_id(&zpid)?;
    let mut params = Params::parse(query.as_deref())?;
    let limit = params.integer("limit", 1, 1_000)?.unwrap_or(100);
    let offset = params.integer("offset", 0, 1_000_000)?.unwrap_or(0);
    params.finish()?;

    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let listing = schemas.listing()?;
        let [prices_sql, statuses_sql, count_sql, reports_sql] = history_sql(listing);
        let prices = db::query(transaction, "history.prices", &prices_sql, &[&zpid]).await?;
        let statuses = db::query(transaction, "history.statuses", &statuses_sql, &[&zpid]).await?;
        let total_reports: i64 = db::query_one(transaction, "history.count", &count_sql, &[&zpid])
            .await?
            .get(0);
        if total_reports == 0 {
            return Err(ApiError::NotFound(format!("no listing {zpid:?}")));
        }
        let reports = db::query(
            transaction,
            "history.reports",
            &reports_sql,
            &[&zpid, &limit, &offset],
        )
        .await?;

        let period = |field: Field, row: &tokio_postgres::Row| ValuePeriod {
            value: typed(field, row.get::<_, &str>(0)),
            first_reported: row.get(1),
            last_reported: row.get(2),
            reports: row.get(3),
            miners: row.get(4),
        };
        Ok(ListingHistory {
            price: prices.iter().map(|row| period(Field::Price, row)).collect(),
            home_status: statuses
                .iter()
                .map(|row| period(Field::Status, row))
                .collect(),
            reports: reports
                .iter()
                .map(|row| HistoryReport {
                    scraped_at: row.get(0),
                    miner_hotkey: row.get(1),
                    price: row.get(2),
                    home_status: row.get(3),
                })
                .collect(),
            total_reports,
            zpid,
        })
    })
    .await?;
    Ok(Json(answer))
}
