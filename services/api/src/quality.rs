//! `GET /api/quality`: how fresh, complete and agreed the consensus is, for the whole network,
//! a state or a zip code, with each zip code's coverage against what the epochs expect there.
//! Freshness follows seed 002: hours since the latest report `h`, score `max(0, 1 − h/168)`,
//! stale past a week. Its totals aggregate the area's listings, so answers are reused for
//! `api.stats_cache_ms`, and the network-wide figures are exported as gauges.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::ApiResult;
use crate::params::Params;
use crate::state::AppState;

/// Hours after which a listing counts as stale, and its freshness score reaches 0 (a week).
pub const STALE_HOURS: f64 = 168.0;

/// A listing's freshness score after `hours` without a report.
#[must_use]
pub fn freshness_score(hours: f64) -> f64 {
    (1.0 - hours / STALE_HOURS).clamp(0.0, 1.0)
}

/// The share of the completeness fields ([`FIELDS`]) a listing's consensus has.
#[must_use]
pub fn completeness(values: &crate::model::ListingValues) -> f64 {
    let present = [
        values.price.is_some(),
        values.bedrooms.is_some(),
        values.bathrooms.is_some(),
        values.living_area.is_some(),
        values.address.is_some(),
        values.home_type.is_some(),
        values.home_status.is_some(),
        values.latitude.is_some() && values.longitude.is_some(),
        values.zip_code.is_some(),
        values.city.is_some(),
    ];
    present.iter().filter(|each| **each).count() as f64 / present.len() as f64
}

/// The fields whose presence completeness measures, by their column test.
const FIELDS: [(&str, &str); 10] = [
    ("price", "c.price_usd IS NOT NULL"),
    ("bedrooms", "c.bedrooms IS NOT NULL"),
    ("bathrooms", "c.bathrooms_tenths IS NOT NULL"),
    ("living_area", "c.living_area_sqft IS NOT NULL"),
    ("address", "c.address IS NOT NULL"),
    ("home_type", "c.home_type IS NOT NULL"),
    ("home_status", "c.home_status IS NOT NULL"),
    (
        "coordinates",
        "c.latitude_e7 IS NOT NULL AND c.longitude_e7 IS NOT NULL",
    ),
    ("zip_code", "c.zip_code IS NOT NULL"),
    ("city", "c.city IS NOT NULL"),
];

/// Freshness of an area's listings.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Freshness {
    /// Median hours since a listing's latest report.
    pub median_hours: Option<f64>,
    /// Mean of `max(0, 1 − hours/168)` over the listings.
    pub mean_score: Option<f64>,
    /// Share of listings not reported for more than 168 hours.
    pub stale_share: Option<f64>,
}

/// Agreement of an area's consensus.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Agreement {
    /// Median consensus score.
    pub median_score: Option<f64>,
    /// Mean consensus score.
    pub mean_score: Option<f64>,
    /// Listings scoring at least 0.8.
    pub high: i64,
    /// Listings scoring at least 0.6 and below 0.8.
    pub medium: i64,
    /// Listings scoring below 0.6.
    pub low: i64,
}

/// Listings whose coordinates lie farther than this from their zip code's reference point count
/// as misplaced: farther than any zip code area stretches from its point, so the zip code or the
/// coordinates are wrong.
pub const MISPLACED_KM: f64 = 100.0;

/// Where an area's listings are, against the zip-code reference data.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Location {
    /// Listings with coordinates and a zip code the reference data knows (`resi zipcodes
    /// import`).
    pub checked: i64,
    /// Of those, listings more than 100 km from their zip code's reference point.
    pub misplaced: i64,
    /// `misplaced / checked`.
    pub misplaced_share: Option<f64>,
}

/// One zip code's coverage.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ZipQuality {
    /// The zip code.
    pub zip_code: String,
    /// Listings the consensus holds there.
    pub listings: i64,
    /// Listings the latest epoch that assigned it expected there (none when no epoch did).
    pub expected_listings: Option<i64>,
    /// `listings / expected_listings`.
    pub coverage: Option<f64>,
    /// Median consensus score there.
    pub median_score: Option<f64>,
    /// Share of its listings stale (over 168 hours).
    pub stale_share: Option<f64>,
    /// Its listings more than 100 km from its reference point.
    pub misplaced: i64,
}

/// One state's coverage.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StateQuality {
    /// The state code.
    pub state: String,
    /// Listings the consensus holds there.
    pub listings: i64,
    /// Zip codes with listings there.
    pub zipcodes: i64,
    /// Listings the latest epochs expected in its zip codes that an epoch assigned (none when
    /// no epoch assigned one).
    pub expected_listings: Option<i64>,
    /// Listings in those assigned zip codes / `expected_listings`.
    pub coverage: Option<f64>,
    /// Share of its listings stale (over 168 hours).
    pub stale_share: Option<f64>,
}

/// `GET /api/quality`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Quality {
    /// `network`, `state` or `zip`.
    pub scope: &'static str,
    /// The state asked for.
    pub state: Option<String>,
    /// The zip code asked for.
    pub zip: Option<String>,
    /// The consensus version read.
    pub consensus_version: String,
    /// When the figures were computed.
    pub computed_at: DateTime<Utc>,
    /// Listings in the area.
    pub listings: i64,
    /// Freshness.
    pub freshness: Freshness,
    /// Per field, the share of listings whose consensus has a value.
    pub completeness: BTreeMap<String, f64>,
    /// Mean of the fields' completeness.
    pub mean_completeness: Option<f64>,
    /// Consensus scores.
    pub agreement: Agreement,
    /// Coordinates against the zip codes' reference points.
    pub location: Location,
    /// The area's zip codes, by zip code (a page: `limit`, `offset`).
    pub zipcodes: Vec<ZipQuality>,
    /// Zip codes in the area in all.
    pub total_zipcodes: i64,
    /// Every state's coverage (network scope only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub states: Option<Vec<StateQuality>>,
    /// The network's miners with a raised anomaly signal (network scope only; absent before
    /// the trust projection is built).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miners: Option<crate::anomalies::MinerAnomalies>,
}

/// The statements of the figures (`$1` state or NULL, `$2` zip or NULL), of a page of zip
/// codes (`$3` limit, `$4` offset) and of every state's coverage, over the consensus schema and,
/// when built, the epochs one.
#[must_use]
pub fn quality_sql(consensus: &str, epochs: Option<&str>) -> [String; 3] {
    let area = "($1::text IS NULL OR c.state = $1) AND ($2::text IS NULL OR c.zip_code = $2)";
    let hours = "extract(epoch FROM now() - c.last_reported_at)::float8 / 3600.0";
    // an equirectangular distance: exact enough at 100 km
    let misplaced = format!(
        "sqrt(power((c.latitude_e7 / 1e7 - z.latitude) * 111.2, 2)
              + power((c.longitude_e7 / 1e7 - z.longitude) * 111.2 * cos(radians(z.latitude)), 2))
         > {MISPLACED_KM}"
    );
    let checked =
        "c.latitude_e7 IS NOT NULL AND c.longitude_e7 IS NOT NULL AND z.latitude IS NOT NULL
                   AND z.longitude IS NOT NULL";
    let fields: Vec<String> = FIELDS
        .iter()
        .map(|(_, test)| format!("avg(({test})::int)::float8"))
        .collect();
    let expected = epochs.map_or_else(
        || "NULL::bigint".to_owned(),
        |epochs| {
            format!(
                "(SELECT a.expected_listings::bigint FROM {epochs}.epoch_assignments a
                   WHERE a.zipcode = c.zip_code ORDER BY a.epoch_id DESC LIMIT 1)"
            )
        },
    );
    [
        format!(
            "SELECT count(*),
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY {hours}),
                    avg(greatest(0.0, 1.0 - {hours} / {STALE_HOURS})),
                    avg(({hours} > {STALE_HOURS})::int)::float8,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY c.consensus_score),
                    avg(c.consensus_score),
                    count(*) FILTER (WHERE c.consensus_score >= 0.8),
                    count(*) FILTER (WHERE c.consensus_score >= 0.6 AND c.consensus_score < 0.8),
                    count(*) FILTER (WHERE c.consensus_score < 0.6),
                    count(DISTINCT c.zip_code),
                    {},
                    count(*) FILTER (WHERE {checked}),
                    count(*) FILTER (WHERE {checked} AND {misplaced})
             FROM {consensus}.consensus_listings c
             LEFT JOIN zipcodes z ON z.zipcode = c.zip_code
             WHERE {area}",
            fields.join(", ")
        ),
        format!(
            "SELECT c.zip_code, count(*),
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY c.consensus_score),
                    avg(({hours} > {STALE_HOURS})::int)::float8,
                    {expected},
                    count(*) FILTER (WHERE {checked} AND {misplaced})
             FROM {consensus}.consensus_listings c
             LEFT JOIN zipcodes z ON z.zipcode = c.zip_code
             WHERE {area} AND c.zip_code IS NOT NULL
             GROUP BY c.zip_code ORDER BY c.zip_code LIMIT $3 OFFSET $4"
        ),
        format!(
            "SELECT z.state, sum(z.listings)::int8, count(*), sum(z.expected)::int8,
                    (sum(z.listings) FILTER (WHERE z.expected IS NOT NULL))::int8,
                    sum(z.stale)::float8 / sum(z.listings)::float8
             FROM (SELECT c.state, count(*) AS listings,
                          count(*) FILTER (WHERE {hours} > {STALE_HOURS}) AS stale,
                          {expected} AS expected
                   FROM {consensus}.consensus_listings c
                   WHERE c.state IS NOT NULL AND c.zip_code IS NOT NULL
                   GROUP BY c.state, c.zip_code) z
             GROUP BY z.state ORDER BY z.state"
        ),
    ]
}

/// The figures of an area, and for the network every active miner's signals (none before the
/// trust projection is built). Without a `page` (the gauges' refresh) the zip codes and states,
/// which only answers show, are not computed.
async fn compute(
    state: &AppState,
    area: (Option<String>, Option<String>),
    page: Option<(i64, i64)>,
) -> ApiResult<(Quality, Option<Vec<crate::anomalies::MinerSignals>>)> {
    db::read(&state.pool, None, async |transaction, schemas| {
        let consensus = schemas.consensus()?;
        let [totals_sql, zips_sql, states_sql] = quality_sql(consensus, schemas.epochs().ok());
        let (area_state, area_zip) = (&area.0, &area.1);
        let totals = db::query_one(
            transaction,
            "quality.totals",
            &totals_sql,
            &[area_state, area_zip],
        )
        .await?;
        let zips = match page {
            Some((limit, offset)) => {
                db::query(
                    transaction,
                    "quality.zipcodes",
                    &zips_sql,
                    &[area_state, area_zip, &limit, &offset],
                )
                .await?
            }
            None => Vec::new(),
        };
        let completeness: BTreeMap<String, f64> = FIELDS
            .iter()
            .enumerate()
            .filter_map(|(index, (name, _))| {
                totals
                    .get::<_, Option<f64>>(10 + index)
                    .map(|share| ((*name).to_owned(), share))
            })
            .collect();
        let states = match (&area, page) {
            ((None, None), Some(_)) => Some(
                db::query(transaction, "quality.states", &states_sql, &[])
                    .await?
                    .iter()
                    .map(|row| {
                        let expected: Option<i64> = row.get(3);
                        let covered: Option<i64> = row.get(4);
                        StateQuality {
                            state: row.get(0),
                            listings: row.get(1),
                            zipcodes: row.get(2),
                            coverage: expected
                                .filter(|expected| *expected > 0)
                                .zip(covered)
                                .map(|(expected, covered)| covered as f64 / expected as f64),
                            expected_listings: expected,
                            stale_share: row.get(5),
                        }
                    })
                    .collect(),
            ),
            _ => None,
        };
        let signals = match (&area, schemas.trust()) {
            ((None, None), Ok(trust)) => {
                Some(crate::anomalies::read(transaction, trust, None).await?)
            }
            _ => None,
        };
        let miners = signals
            .as_ref()
            .map(|(day, signals)| crate::anomalies::MinerAnomalies::of(*day, signals));
        let mean_completeness = (!completeness.is_empty())
            .then(|| completeness.values().sum::<f64>() / completeness.len() as f64);
        let quality = Quality {
            scope: match &area {
                (_, Some(_)) => "zip",
                (Some(_), None) => "state",
                (None, None) => "network",
            },
            state: area.0.clone(),
            zip: area.1.clone(),
            consensus_version: schemas.consensus_version.clone().unwrap_or_default(),
            computed_at: Utc::now(),
            listings: totals.get(0),
            freshness: Freshness {
                median_hours: totals.get(1),
                mean_score: totals.get(2),
                stale_share: totals.get(3),
            },
            completeness,
            mean_completeness,
            location: {
                let checked: i64 = totals.get(10 + FIELDS.len());
                let misplaced: i64 = totals.get(11 + FIELDS.len());
                Location {
                    checked,
                    misplaced,
                    misplaced_share: (checked > 0).then(|| misplaced as f64 / checked as f64),
                }
            },
            agreement: Agreement {
                median_score: totals.get(4),
                mean_score: totals.get(5),
                high: totals.get(6),
                medium: totals.get(7),
                low: totals.get(8),
            },
            total_zipcodes: totals.get(9),
            zipcodes: zips
                .iter()
                .map(|row| {
                    let listings: i64 = row.get(1);
                    let expected: Option<i64> = row.get(4);
                    ZipQuality {
                        zip_code: row.get(0),
                        listings,
                        coverage: expected
                            .filter(|expected| *expected > 0)
                            .map(|expected| listings as f64 / expected as f64),
                        expected_listings: expected,
                        median_score: row.get(2),
                        stale_share: row.get(3),
                        misplaced: row.get(5),
                    }
                })
                .collect(),
            states,
            miners,
        };
        Ok((quality, signals.map(|(_, signals)| signals)))
    })
    .await
}

/// Exports the network's figures as gauges (`resi_quality_*`).
fn export(quality: &Quality) {
    metrics::gauge!("resi_quality_listings").set(quality.listings as f64);
    let gauges = [
        ("resi_quality_stale_share", quality.freshness.stale_share),
        ("resi_quality_freshness_score", quality.freshness.mean_score),
        ("resi_quality_median_hours", quality.freshness.median_hours),
        (
            "resi_quality_median_consensus_score",
            quality.agreement.median_score,
        ),
        ("resi_quality_completeness", quality.mean_completeness),
        (
            "resi_quality_misplaced_share",
            quality.location.misplaced_share,
        ),
    ];
    for (name, value) in gauges {
        if let Some(value) = value {
            metrics::gauge!(name).set(value);
        }
    }
}

/// Recomputes the network's figures and the miners' signals for the gauges (the API's janitor
/// calls it every `api.quality_interval_secs`).
pub async fn refresh(state: &AppState) {
    let signals = match compute(state, (None, None), None).await {
        Ok((quality, signals)) => {
            export(&quality);
            Ok(signals)
        }
        // the miners' signals need only the trust projection: read them on their own
        Err(error) => {
            // nothing to measure before the first consensus version is built
            if !matches!(error, crate::error::ApiError::NotBuilt(_)) {
                tracing::warn!(%error, "could not compute the data-quality gauges");
            }
            db::read(&state.pool, None, async |transaction, schemas| {
                crate::anomalies::read(transaction, schemas.trust()?, None).await
            })
            .await
            .map(|(_, signals)| Some(signals))
        }
    };
    match signals {
        Ok(Some(signals)) => {
            let mut exported = state.exported_miners.lock().await;
            crate::anomalies::export(&signals, state.config.quality_miner_gauges, &mut exported);
        }
        Ok(None) | Err(crate::error::ApiError::NotBuilt(_)) => {}
        Err(error) => tracing::warn!(%error, "could not compute the miners' anomaly signals"),
    }
}

/// A state code: two capital letters.
fn state_code(value: String) -> ApiResult<String> {
    if value.len() == 2 && value.bytes().all(|byte| byte.is_ascii_uppercase()) {
        Ok(value)
    } else {
        Err(crate::error::ApiError::bad(
            "state",
            "a two-letter state code in capitals, e.g. TX",
        ))
    }
}

/// `GET /api/quality`: freshness, completeness and agreement of the network, a state or a zip
/// code, and the coverage of its zip codes.
#[utoipa::path(
    get,
    path = "/api/quality",
    tag = "operations",
    params(
        ("state" = Option<String>, Query, pattern = "^[A-Z]{2}$", description = "One state"),
        ("zip" = Option<String>, Query, pattern = "^[0-9]{5}$", description = "One zip code"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Zip codes per page (default 50)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 100000, description = "Zip codes to skip"),
    ),
    responses(
        (status = 200, description = "Data quality", body = Quality),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn quality(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Quality>> {
    let mut params = Params::parse(query.as_deref())?;
    let area_state = params.text("state").map(state_code).transpose()?;
    let zip = params
        .text("zip")
        .map(|zip| crate::params::zip_code(&zip))
        .transpose()?;
    let limit = params.integer("limit", 1, 500)?.unwrap_or(50);
    let offset = params.integer("offset", 0, 100_000)?.unwrap_or(0);
    params.finish()?;
    let key = format!(
        "{}|{}|{limit}|{offset}",
        area_state.as_deref().unwrap_or_default(),
        zip.as_deref().unwrap_or_default()
    );
    {
        let cache = state.quality.lock().await;
        if let Some((at, quality)) = cache.get(&key)
            && at.elapsed() < Duration::from_millis(state.config.stats_cache_ms)
        {
            return Ok(Json(quality.clone()));
        }
    }
    let (quality, _) = compute(&state, (area_state, zip), Some((limit, offset))).await?;
    if quality.scope == "network" {
        export(&quality);
    }
    let mut cache = state.quality.lock().await;
    // bounded: areas are many, so the cache is dropped whole when it fills
    if cache.len() > 1_024 {
        cache.clear();
    }
    cache.insert(key, (Instant::now(), quality.clone()));
    Ok(Json(quality))
}
