//! Listings: search by zip code or bounding box, one listing, its consensus and its history.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::model::{
    AttestationBrief, AttestationView, ConsensusInfo, ListingDetail, ListingPage, ListingSummary,
    ListingValues, Pagination, confidence_level, value_columns,
};
use crate::params::{self, Page, Params};
use crate::state::AppState;

/// Default and largest page of a search.
const SEARCH_LIMIT: (i64, i64) = (100, 500);
/// Latest attestations shown with each listing of a search (the seed showed 5), and the most a
/// client may ask for (`attestations`).
const SEARCH_ATTESTATIONS: i64 = 5;
const MAX_SEARCH_ATTESTATIONS: i64 = 10;
/// Latest attestations shown with a listing.
const DETAIL_ATTESTATIONS: i64 = 10;

/// The `consensus_version` parameter, if given: a plain version name.
pub fn consensus_version(params: &mut Params) -> ApiResult<Option<String>> {
    let Some(version) = params.text("consensus_version") else {
        return Ok(None);
    };
    if resi_projector::versions::is_identifier(&version) {
        Ok(Some(version))
    } else {
        Err(ApiError::bad(
            "consensus_version",
            "not a version name (lower-case letters, digits and _, e.g. v2)",
        ))
    }
}

/// The query of an endpoint whose only parameter is `consensus_version`.
pub fn only_consensus_version(query: Option<&str>) -> ApiResult<Option<String>> {
    let mut params = Params::parse(query)?;
    let version = consensus_version(&mut params)?;
    params.finish()?;
    Ok(version)
}

/// The search filters shared by the zip-code and bounding-box searches.
#[derive(Debug, Default)]
struct Filters {
    min_price: Option<i64>,
    max_price: Option<i64>,
    status: Option<String>,
    home_type: Option<String>,
    min_beds: Option<i32>,
}

impl Filters {
    const fn is_empty(&self) -> bool {
        self.min_price.is_none()
            && self.max_price.is_none()
            && self.status.is_none()
            && self.home_type.is_none()
            && self.min_beds.is_none()
    }

    fn take(params: &mut Params) -> ApiResult<Self> {
        // a minimum above the maximum matches nothing, as it says
        let min_price = params.integer("minPrice", 0, i64::MAX)?;
        let max_price = params.integer("maxPrice", 0, i64::MAX)?;
        // spelled as listings are (`sold`, `Pending`); a value with nothing left to compare
        // (white space, punctuation) becomes the empty one no listing has, and matches nothing
        let status = params
            .text("status")
            .map(|raw| printable("status", raw))
            .transpose()?
            .map(|raw| resi_events::normalize::home_status(&raw).unwrap_or_default());
        let home_type = params
            .text("type")
            .map(|raw| printable("type", raw))
            .transpose()?
            .map(|raw| resi_events::normalize::home_type(&raw).unwrap_or_default());
        let min_beds = params
            .integer("minBeds", 0, 100)?
            .map(|beds| i32::try_from(beds).unwrap_or(i32::MAX));
        Ok(Self {
            min_price,
            max_price,
            status,
            home_type,
            min_beds,
        })
    }
}

/// A value of printable ASCII (`^[ -~]{1,256}$`): enumerations are words, and a limit in
/// characters is then one in bytes, so a valid request always fits `api.max_uri_bytes`.
fn printable(name: &str, raw: String) -> ApiResult<String> {
    if raw.bytes().all(|byte| (b' '..=b'~').contains(&byte)) {
        Ok(raw)
    } else {
        Err(ApiError::bad(name, "not printable ASCII"))
    }
}

/// Where a search looks.
enum Area {
    Zip(String),
    /// min lon, min lat, max lon, max lat, in units of 1e-7 degrees.
    Bbox([f64; 4]),
}

impl Area {
    /// `minLon,minLat,maxLon,maxLat` in decimal degrees (the document's [`BBOX_PATTERN`]);
    /// the box between the two corners, whichever way round they are given.
    fn bbox(raw: &str) -> ApiResult<Self> {
        let parts: Vec<&str> = raw.split(',').collect();
        let [min_lon, min_lat, max_lon, max_lat] = parts.as_slice() else {
            return Err(ApiError::bad(
                "bbox",
                "expected minLon,minLat,maxLon,maxLat",
            ));
        };
        let mut corners = [0.0; 4];
        for (slot, (text, limit)) in
            corners
                .iter_mut()
                .zip([(min_lon, 180), (min_lat, 90), (max_lon, 180), (max_lat, 90)])
        {
            let degrees = decimal_degrees(text, limit).ok_or_else(|| {
                ApiError::bad(
                    "bbox",
                    format!("{text:?} is not a decimal coordinate within ±{limit}"),
                )
            })?;
            *slot = (degrees * 1e7).round();
        }
        Ok(Self::Bbox(corners))
    }
}

/// A bounding box as the document declares it: four decimal coordinates, longitudes within
/// ±180 and latitudes within ±90.
pub const BBOX_PATTERN: &str = concat!(
    r"^-?(180(\.0+)?|(1[0-7][0-9]|[0-9]{1,2})(\.[0-9]+)?),",
    r"-?(90(\.0+)?|[0-8]?[0-9](\.[0-9]+)?),",
    r"-?(180(\.0+)?|(1[0-7][0-9]|[0-9]{1,2})(\.[0-9]+)?),",
    r"-?(90(\.0+)?|[0-8]?[0-9](\.[0-9]+)?)$"
);

/// `-?digits(.digits)?` within ±`limit` (an integer part of at most three digits, no leading
/// `+`, exponent or spaces), as [`BBOX_PATTERN`] has it.
fn decimal_degrees(text: &str, limit: u32) -> Option<f64> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|fraction| !digits(fraction)) {
        return None;
    }
    let whole_value: u32 = whole.parse().ok()?;
    let fraction_zero = fraction.is_none_or(|fraction| fraction.bytes().all(|byte| byte == b'0'));
    // the pattern: 180 or 90 only with a zero fraction; below it, at most two or three digits
    let allowed = match limit {
        180 => {
            whole.len() <= 2
                || (whole.len() == 3 && whole.starts_with('1') && whole_value < 180)
                || (whole == "180" && fraction_zero)
        }
        _ => (whole.len() <= 2 && whole_value < 90) || (whole == "90" && fraction_zero),
    };
    if !allowed {
        return None;
    }
    text.parse().ok()
}

/// `GET /api/listings/{zip}`: listings of a zip code.
#[utoipa::path(
    get,
    path = "/api/listings/{zip}",
    tag = "listings",
    params(
        ("zip" = String, Path, pattern = "^[0-9]{5}$", description = "Five-digit zip code"),
        SearchParams,
    ),
    responses(
        (status = 200, description = "A page of listings, by id", body = ListingPage),
        (status = 400, description = "A bad parameter, named in the message", body = crate::error::ErrorBody),
        (status = 404, description = "No such consensus version", body = crate::error::ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn by_zip(
    State(state): State<Arc<AppState>>,
    Path(zip): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListingPage>> {
    let area = Area::Zip(params::zip_code(&zip)?);
    search(&state, area, query.as_deref()).await.map(Json)
}

/// `GET /api/listings?bbox=…`: listings inside a bounding box.
#[utoipa::path(
    get,
    path = "/api/listings",
    tag = "listings",
    params(
        ("bbox" = String, Query, pattern = "^-?(180(\\.0+)?|(1[0-7][0-9]|[0-9]{1,2})(\\.[0-9]+)?),-?(90(\\.0+)?|[0-8]?[0-9](\\.[0-9]+)?),-?(180(\\.0+)?|(1[0-7][0-9]|[0-9]{1,2})(\\.[0-9]+)?),-?(90(\\.0+)?|[0-8]?[0-9](\\.[0-9]+)?)$", description = "minLon,minLat,maxLon,maxLat in decimal degrees: the box between the two corners"),
        SearchParams,
    ),
    responses(
        (status = 200, description = "A page of listings, by id", body = ListingPage),
        (status = 400, description = "A bad parameter, named in the message", body = crate::error::ErrorBody),
        (status = 404, description = "No such consensus version", body = crate::error::ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn by_bbox(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListingPage>> {
    let mut params = Params::parse(query.as_deref())?;
    let bbox = params.text("bbox").ok_or_else(|| {
        ApiError::bad(
            "bbox",
            "required (or search by zip code: /api/listings/{zip})",
        )
    })?;
    let area = Area::bbox(&bbox)?;
    search_with(&state, area, params).await.map(Json)
}

/// The search parameters, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case, dead_code)]
pub struct SearchParams {
    /// Lowest price in dollars.
    #[param(minimum = 0)]
    minPrice: Option<i64>,
    /// Highest price in dollars (below `minPrice`: nothing matches).
    #[param(minimum = 0)]
    maxPrice: Option<i64>,
    /// Listing status, e.g. `FOR_SALE` (other spellings are normalised: `sold`, `active`;
    /// one with nothing left to compare matches nothing).
    #[param(pattern = "^[ -~]{1,256}$")]
    status: Option<String>,
    /// Home type, e.g. `SINGLE_FAMILY`, `CONDO` (normalised like `status`).
    #[param(pattern = "^[ -~]{1,256}$")]
    r#type: Option<String>,
    /// Fewest bedrooms.
    #[param(minimum = 0, maximum = 100)]
    minBeds: Option<i32>,
    /// Rows per page (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// Opaque cursor from `pagination.next_cursor`: stable while listings are added.
    #[param(pattern = "^c1\\.([0-9a-f]{2}){1,126}$")]
    cursor: Option<String>,
    /// Rows to skip (the seed's paging; after `cursor` when both are given).
    #[param(minimum = 0, maximum = 100000)]
    offset: Option<i64>,
    /// Latest attestations shown with each listing (default 5).
    #[param(minimum = 0, maximum = 10)]
    attestations: Option<i64>,
    /// Read this consensus version instead of the live one.
    #[param(pattern = "^[a-z_][a-z0-9_]{0,47}$")]
    consensus_version: Option<String>,
}

async fn search(state: &AppState, area: Area, query: Option<&str>) -> ApiResult<ListingPage> {
    search_with(state, area, Params::parse(query)?).await
}

async fn search_with(state: &AppState, area: Area, mut params: Params) -> ApiResult<ListingPage> {
    let filters = Filters::take(&mut params)?;
    let page = Page::take(&mut params, SEARCH_LIMIT.0, SEARCH_LIMIT.1)?;
    let per_listing = params
        .integer("attestations", 0, MAX_SEARCH_ATTESTATIONS)?
        .unwrap_or(SEARCH_ATTESTATIONS);
    let version = consensus_version(&mut params)?;
    params.finish()?;

    let (total, rows, latest, read_version) = db::read(
        &state.pool,
        version.as_deref(),
        async |transaction, schemas| {
            let (consensus, listing) = (schemas.consensus()?, schemas.listing()?);

            let mut area_params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
            let kind = match area {
                Area::Zip(zip) => {
                    area_params.push(Box::new(zip));
                    AreaKind::Zip
                }
                Area::Bbox(corners) => {
                    area_params.extend(
                        corners.map(|corner| Box::new(corner) as Box<dyn ToSql + Sync + Send>),
                    );
                    AreaKind::Bbox
                }
            };
            let (count_sql, page_sql) = search_sql(consensus, listing, kind);
            let mut params: Vec<&(dyn ToSql + Sync)> = area_params
                .iter()
                .map(|param| param.as_ref() as &(dyn ToSql + Sync))
                .collect();
            params.extend([
                &filters.min_price as &(dyn ToSql + Sync),
                &filters.max_price,
                &filters.status,
                &filters.home_type,
                &filters.min_beds,
            ]);
            // without filters the count reads the area's index alone (an index-only scan),
            // not every listing's row
            let total: i64 = if filters.is_empty() {
                let sql = area_count_sql(consensus, kind);
                db::query_one(
                    transaction,
                    "listings.count_area",
                    &sql,
                    &params[..area_params.len()],
                )
                .await?
                .get(0)
            } else {
                db::query_one(transaction, "listings.count", &count_sql, &params)
                    .await?
                    .get(0)
            };
            params.extend([
                &page.after as &(dyn ToSql + Sync),
                &page.limit,
                &page.offset,
            ]);
            let rows = db::query(transaction, "listings.page", &page_sql, &params).await?;
            let mut latest: HashMap<String, Vec<AttestationBrief>> = HashMap::new();
            if per_listing > 0 && !rows.is_empty() {
                let ids: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
                let sql = latest_attestations_sql(listing, schemas.scores_if_built());
                for row in db::query(
                    transaction,
                    "listings.attestations",
                    &sql,
                    &[&ids, &per_listing],
                )
                .await?
                {
                    latest
                        .entry(row.get(0))
                        .or_default()
                        .push(AttestationBrief {
                            miner_hotkey: row.get(1),
                            scraped_at: row.get(2),
                            submitted_at: row.get(3),
                            miner_trust_at_report: row.get(4),
                            is_validated: row.get(5),
                            validation_score: row.get(6),
                        });
                }
            }
            Ok((total, rows, latest, schemas.consensus_version.clone()))
        },
    )
    .await?;

    let mut latest = latest;
    let listings: Vec<ListingSummary> = rows
        .iter()
        .map(|row| {
            let score: f64 = row.get(18);
            let zpid: String = row.get(0);
            ListingSummary {
                attestations: latest.remove(&zpid).unwrap_or_default(),
                zpid,
                values: ListingValues::from_row(row, 1),
                url: row.get(13),
                first_seen_at: row.get(14),
                last_updated_at: row.get(15),
                last_reported_at: row.get(19),
                total_attestations: row.get(16),
                unique_miners: row.get(17),
                consensus_score: score,
                confidence_level: confidence_level(score),
            }
        })
        .collect();
    let full_page = i64::try_from(listings.len()).unwrap_or(i64::MAX) == page.limit;
    let next_cursor = listings
        .last()
        .filter(|_| full_page)
        .map(|last| params::encode_cursor(&last.zpid));
    Ok(ListingPage {
        listings,
        pagination: Pagination {
            limit: page.limit,
            offset: page.offset,
            total,
            next_cursor,
        },
        consensus_version: read_version.unwrap_or_default(),
    })
}

/// The two kinds of search area.
#[derive(Clone, Copy, Debug)]
pub enum AreaKind {
    /// `$1` is the zip code.
    Zip,
    /// `$1..$4` are min lon, min lat, max lon, max lat in 1e-7 degrees.
    Bbox,
}

/// The area's condition and how many parameters it takes.
const fn area_condition(kind: AreaKind) -> (&'static str, usize) {
    match kind {
        AreaKind::Zip => ("c.zip_code = $1", 1),
        AreaKind::Bbox => (
            "point(c.longitude_e7::float8, c.latitude_e7::float8) <@ box(point($1, $2), point($3, $4))",
            4,
        ),
    }
}

/// The count of a search without filters: the area's parameters only.
#[must_use]
pub fn area_count_sql(consensus: &str, kind: AreaKind) -> String {
    let (area_sql, _) = area_condition(kind);
    format!("SELECT count(*) FROM {consensus}.consensus_listings c WHERE {area_sql}")
}

/// The count and page statements of a search: the area's parameters, then minPrice,
/// maxPrice, status, type, minBeds; the page's also the cursor, limit and offset.
#[must_use]
pub fn search_sql(consensus: &str, listing: &str, kind: AreaKind) -> (String, String) {
    let (area_sql, next) = area_condition(kind);
    let filter_sql = format!(
        "{area_sql}
           AND (${a}::bigint IS NULL OR c.price_usd >= ${a})
           AND (${b}::bigint IS NULL OR c.price_usd <= ${b})
           AND (${c}::text IS NULL OR c.home_status = ${c})
           AND (${d}::text IS NULL OR c.home_type = ${d})
           AND (${e}::int IS NULL OR c.bedrooms >= ${e})",
        a = next + 1,
        b = next + 2,
        c = next + 3,
        d = next + 4,
        e = next + 5,
    );
    let count_sql =
        format!("SELECT count(*) FROM {consensus}.consensus_listings c WHERE {filter_sql}");
    let page_sql = format!(
        "SELECT c.listing_id, {values}, l.url, l.first_seen_at, l.last_updated_at,
                l.total_attestations, c.unique_miners, c.consensus_score, l.last_reported_at
         FROM {consensus}.consensus_listings c
         LEFT JOIN {listing}.listings l ON l.listing_id = c.listing_id
         WHERE {filter_sql} AND (${f}::text IS NULL OR c.listing_id > ${f})
         ORDER BY c.listing_id
         LIMIT ${g} OFFSET ${h}",
        values = value_columns("c"),
        f = next + 6,
        g = next + 7,
        h = next + 8,
    );
    (count_sql, page_sql)
}

/// What an attestation's validation is: the validators' verdict on its miner's epoch in the
/// live scores projection (`v`), or nothing while there is none.
fn validation_columns(scores: Option<&str>) -> (&'static str, String) {
    match scores {
        Some(scores) => (
            "COALESCE(v.verdict = 'confirmed', false), v.validation_score, v.validated_at",
            format!(
                "LEFT JOIN {scores}.miner_validations v
                   ON v.epoch_id = a.epoch_id AND v.miner_hotkey = a.miner_hotkey"
            ),
        ),
        None => ("false, NULL::float8, NULL::timestamptz", String::new()),
    }
}

/// The latest attestations of each listing of a page (`$1` the ids, `$2` how many each): one
/// index range scan per listing, with their validation (`scores`, the live scores schema).
#[must_use]
pub fn latest_attestations_sql(listing: &str, scores: Option<&str>) -> String {
    let (validation, join) = validation_columns(scores);
    format!(
        "SELECT page.id, a.miner_hotkey, a.scraped_at, a.submitted_at, a.miner_trust, {validation}
         FROM unnest($1::text[]) AS page(id)
         CROSS JOIN LATERAL (
             SELECT miner_hotkey, scraped_at, submitted_at, miner_trust, epoch_id
             FROM {listing}.miner_attestations
             WHERE listing_id = page.id
             ORDER BY scraped_at DESC, attestation_id DESC
             LIMIT $2
         ) a
         {join}"
    )
}

/// The statements of `GET /api/listing/{zpid}`: the listing, its consensus, its latest
/// attestations with their miners' trust and validation (`$1` the id, `$2` how many), and the
/// listing's validation over every epoch attestation (`$1`).
#[must_use]
pub fn detail_sql(
    listing: &str,
    consensus: &str,
    trust: &str,
    scores: Option<&str>,
) -> [String; 4] {
    let (validation, join) = validation_columns(scores);
    [
        format!(
            "SELECT l.uri, l.url, l.first_seen_at, l.last_updated_at, l.total_attestations,
                    l.unique_miners_count, l.last_reported_at, {values}
             FROM {listing}.listings l WHERE l.listing_id = $1",
            values = value_columns("l"),
        ),
        format!(
            "SELECT c.consensus_score, c.unique_miners, {values}
             FROM {consensus}.consensus_listings c WHERE c.listing_id = $1",
            values = value_columns("c"),
        ),
        format!(
            "SELECT a.attestation_id, a.miner_hotkey, a.scraped_at, a.submitted_at, a.price_usd,
                    a.home_status, a.miner_trust, t.trust_score, {validation}
             FROM {listing}.miner_attestations a
             LEFT JOIN {trust}.miner_trust t ON t.miner_hotkey = a.miner_hotkey
             {join}
             WHERE a.listing_id = $1
             ORDER BY a.scraped_at DESC, a.attestation_id DESC
             LIMIT $2"
        ),
        match scores {
            Some(scores) => format!(
                "SELECT COALESCE(bool_or(v.verdict = 'confirmed'), false), max(v.validation_score)
                 FROM {listing}.miner_attestations a
                 JOIN {scores}.miner_validations v
                   ON v.epoch_id = a.epoch_id AND v.miner_hotkey = a.miner_hotkey
                 WHERE a.listing_id = $1"
            ),
            None => "SELECT false, NULL::float8 WHERE $1::text IS NOT NULL".to_owned(),
        },
    ]
}

/// `GET /api/listing/{zpid}`: one listing, its consensus and its latest attestations.
#[utoipa::path(
    get,
    path = "/api/listing/{zpid}",
    tag = "listings",
    params(
        ("zpid" = String, Path, pattern = "^[A-Za-z0-9_-]{1,128}$", description = "The listing's id"),
        ("consensus_version" = Option<String>, Query, pattern = "^[a-z_][a-z0-9_]{0,47}$", description = "Read this consensus version instead of the live one"),
    ),
    responses(
        (status = 200, description = "The listing", body = ListingDetail),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 404, description = "No such listing or consensus version", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn detail(
    State(state): State<Arc<AppState>>,
    Path(zpid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ListingDetail>> {
    let zpid = params::listing_id(&zpid)?;
    let version = only_consensus_version(query.as_deref())?;

    let detail = db::read(
        &state.pool,
        version.as_deref(),
        async |transaction, schemas| {
            let (listing, trust) = (schemas.listing()?, schemas.trust()?);
            let [listing_sql, consensus_sql, attestations_sql, validation_sql] = detail_sql(
                listing,
                schemas.consensus()?,
                trust,
                schemas.scores_if_built(),
            );
            let listing_row = db::query(transaction, "listing.row", &listing_sql, &[&zpid]).await?;
            let consensus_row =
                db::query(transaction, "listing.consensus", &consensus_sql, &[&zpid]).await?;
            let (Some(listing_row), consensus_row) = (listing_row.first(), consensus_row.first())
            else {
                return Err(ApiError::NotFound(format!("no listing {zpid:?}")));
            };
            let attestations = db::query(
                transaction,
                "listing.attestations",
                &attestations_sql,
                &[&zpid, &DETAIL_ATTESTATIONS],
            )
            .await?;
            let validation =
                db::query_one(transaction, "listing.validation", &validation_sql, &[&zpid]).await?;

            let score: Option<f64> = consensus_row.map(|row| row.get(0));
            let last_reported: Option<DateTime<Utc>> = listing_row.get(6);
            let freshness_hours = last_reported
                .map(|at| (Utc::now() - at).num_milliseconds().max(0) as f64 / 3_600_000.0);
            let consensus = consensus_row.map(|row| ListingValues::from_row(row, 2));
            Ok(ListingDetail {
                latest_reported: Some(ListingValues::from_row(listing_row, 7)),
                uri: listing_row.get(0),
                url: listing_row.get(1),
                first_seen_at: listing_row.get(2),
                last_updated_at: listing_row.get(3),
                last_reported_at: listing_row.get(6),
                consensus_info: ConsensusInfo {
                    total_attestations: listing_row.get(4),
                    unique_miners: consensus_row
                        .map_or_else(|| listing_row.get(5), |row| row.get(1)),
                    consensus_score: score,
                    confidence_level: score.map(confidence_level),
                    consensus_version: schemas.consensus_version.clone(),
                },
                attestations: attestations
                    .iter()
                    .map(|row| AttestationView {
                        attestation_id: hex::encode(row.get::<_, Vec<u8>>(0)),
                        miner_hotkey: row.get(1),
                        scraped_at: row.get(2),
                        submitted_at: row.get(3),
                        price: row.get(4),
                        home_status: row.get(5),
                        miner_trust_at_report: row.get(6),
                        miner_trust: row.get(7),
                        is_validated: row.get(8),
                        validation_score: row.get(9),
                        validation_timestamp: row.get(10),
                    })
                    .collect(),
                is_validated: validation.get(0),
                validation_score: validation.get(1),
                data_freshness_hours: freshness_hours,
                freshness_score: freshness_hours.map(crate::quality::freshness_score),
                field_completeness: consensus.as_ref().map(crate::quality::completeness),
                consensus,
                zpid,
            })
        },
    )
    .await?;
    Ok(Json(detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_declares_the_bbox_grammar_the_server_parses() {
        let document: serde_json::Value =
            serde_json::from_str(&crate::docs::openapi_json().expect("document")).expect("json");
        let parameters = document["paths"]["/api/listings"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let bbox = parameters
            .iter()
            .find(|parameter| parameter["name"] == "bbox")
            .expect("bbox");
        assert_eq!(bbox["schema"]["pattern"], BBOX_PATTERN);
    }

    #[test]
    fn coordinates_follow_the_pattern() {
        for (text, limit) in [
            ("180", 180),
            ("-180.000", 180),
            ("179.9999999", 180),
            ("-97.7205", 180),
            ("0", 90),
            ("90.0", 90),
            ("-89.5", 90),
            ("07", 90),
        ] {
            assert!(decimal_degrees(text, limit).is_some(), "{text}");
        }
        for (text, limit) in [
            ("180.1", 180),
            ("181", 180),
            ("200", 180),
            ("0180", 180),
            ("90.01", 90),
            ("100", 90),
            ("+5", 90),
            ("5.", 90),
            (".5", 90),
            ("1e1", 90),
            (" 5", 90),
            ("-", 90),
            ("NaN", 90),
        ] {
            assert!(decimal_degrees(text, limit).is_none(), "{text}");
        }
    }
}
