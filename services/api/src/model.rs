//! The JSON the API answers with. Money is whole dollars as integers, ids are strings,
//! timestamps are RFC 3339 (UTC).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use utoipa::ToSchema;

/// A listing's field values (chosen by consensus, or as one miner reported them).
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct ListingValues {
    /// Normalised street address.
    pub address: Option<String>,
    /// Price in whole US dollars.
    pub price: Option<i64>,
    /// Bedrooms.
    pub bedrooms: Option<i32>,
    /// Bathrooms (2.5 = two and a half).
    pub bathrooms: Option<f64>,
    /// Living area in square feet.
    pub living_area: Option<i32>,
    /// `SINGLE_FAMILY`, `CONDO`, `TOWNHOUSE`, …
    pub home_type: Option<String>,
    /// `FOR_SALE`, `PENDING`, `RECENTLY_SOLD`, `FOR_RENT`, …
    pub home_status: Option<String>,
    /// Five-digit zip code.
    pub zip_code: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Two-letter state code.
    pub state: Option<String>,
    /// Degrees north.
    pub latitude: Option<f64>,
    /// Degrees east.
    pub longitude: Option<f64>,
}

/// The columns [`ListingValues::from_row`] reads, prefixed with a table alias.
#[must_use]
pub fn value_columns(alias: &str) -> String {
    [
        "address",
        "price_usd",
        "bedrooms",
        "bathrooms_tenths",
        "living_area_sqft",
        "home_type",
        "home_status",
        "zip_code",
        "city",
        "state",
        "latitude_e7",
        "longitude_e7",
    ]
    .map(|column| format!("{alias}.{column}"))
    .join(", ")
}

/// Degrees from units of 1e-7 degrees.
#[must_use]
pub fn degrees(e7: Option<i32>) -> Option<f64> {
    e7.map(|value| f64::from(value) / 1e7)
}

/// Bathrooms from tenths.
#[must_use]
pub fn bathrooms(tenths: Option<i32>) -> Option<f64> {
    tenths.map(|value| f64::from(value) / 10.0)
}

impl ListingValues {
    /// Reads the [`value_columns`] starting at column `first`.
    #[must_use]
    pub fn from_row(row: &Row, first: usize) -> Self {
        Self {
            address: row.get(first),
            price: row.get(first + 1),
            bedrooms: row.get(first + 2),
            bathrooms: bathrooms(row.get(first + 3)),
            living_area: row.get(first + 4),
            home_type: row.get(first + 5),
            home_status: row.get(first + 6),
            zip_code: row.get(first + 7),
            city: row.get(first + 8),
            state: row.get(first + 9),
            latitude: degrees(row.get(first + 10)),
            longitude: degrees(row.get(first + 11)),
        }
    }
}

/// `high` (≥ 0.8), `medium` (≥ 0.6) or `low`, as the seed grades a consensus score.
#[must_use]
pub fn confidence_level(score: f64) -> &'static str {
    if score >= 0.8 {
        "high"
    } else if score >= 0.6 {
        "medium"
    } else {
        "low"
    }
}

/// `premium` (≥ 0.8), `standard` (≥ 0.6) or `basic`, as the seed grades a trust score.
#[must_use]
pub fn performance_tier(trust: f64) -> &'static str {
    if trust >= 0.8 {
        "premium"
    } else if trust >= 0.6 {
        "standard"
    } else {
        "basic"
    }
}

/// One listing of a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingSummary {
    /// The listing's id (the zpid for Zillow listings).
    pub zpid: String,
    /// The values chosen by consensus.
    #[serde(flatten)]
    pub values: ListingValues,
    /// The listing's page.
    pub url: Option<String>,
    /// When a miner first reported it.
    pub first_seen_at: Option<DateTime<Utc>>,
    /// Since when its latest values have been reported: the scrape time of the first report of
    /// them after any report of other values.
    pub last_updated_at: Option<DateTime<Utc>>,
    /// The scrape time of its latest report, re-reports of unchanged values included.
    pub last_reported_at: Option<DateTime<Utc>>,
    /// Independent reports of it: distinct (miner, values) pairs, so a miner's re-report of
    /// unchanged values counts once.
    pub total_attestations: Option<i64>,
    /// Distinct miners whose latest report counts in the consensus.
    pub unique_miners: i32,
    /// Mean confidence of the chosen values (0 to 1).
    pub consensus_score: f64,
    /// `high`, `medium` or `low`.
    pub confidence_level: &'static str,
    /// Its latest attestations, newest first (`attestations` per listing, 5 by default).
    pub attestations: Vec<AttestationBrief>,
}

/// One attestation, as a search shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttestationBrief {
    /// The reporting miner.
    pub miner_hotkey: String,
    /// When the miner scraped the listing.
    pub scraped_at: DateTime<Utc>,
    /// When the upload carrying it was made.
    pub submitted_at: DateTime<Utc>,
    /// The miner's trust when the attestation was admitted.
    pub miner_trust_at_report: f64,
    /// Whether the validators' stake confirmed the miner's data in the epoch the attestation
    /// was uploaded for (false outside epochs and until the verdict).
    pub is_validated: bool,
    /// The validators' stake-weighted score of that epoch of the miner (0 to 1).
    pub validation_score: Option<f64>,
}

/// Where a page is and how to get the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped (0 when paging by cursor).
    pub offset: i64,
    /// Rows matching the filters.
    pub total: i64,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A page of listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingPage {
    /// The listings, by id.
    pub listings: Vec<ListingSummary>,
    /// This page.
    pub pagination: Pagination,
    /// The consensus version whose chosen values these are.
    pub consensus_version: String,
}

/// The seed's `consensus_info`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsensusInfo {
    /// Independent reports of the listing: distinct (miner, values) pairs, so a miner's re-report
    /// of unchanged values counts once.
    pub total_attestations: i64,
    /// Distinct miners in the consensus.
    pub unique_miners: i32,
    /// Mean confidence of the chosen values (null until the consensus has the listing).
    pub consensus_score: Option<f64>,
    /// `high`, `medium` or `low` (null with the score).
    pub confidence_level: Option<&'static str>,
    /// The consensus version read.
    pub consensus_version: Option<String>,
}

/// One attestation of a listing, with its miner's trust.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttestationView {
    /// The attestation's event id (hex).
    pub attestation_id: String,
    /// The reporting miner.
    pub miner_hotkey: String,
    /// When the miner scraped the listing.
    pub scraped_at: DateTime<Utc>,
    /// When the upload carrying it was made.
    pub submitted_at: DateTime<Utc>,
    /// The reported price.
    pub price: Option<i64>,
    /// The reported status.
    pub home_status: Option<String>,
    /// The miner's trust when the attestation was admitted.
    pub miner_trust_at_report: f64,
    /// The miner's trust now (live trust projection).
    pub miner_trust: Option<f64>,
    /// Whether the validators' stake confirmed the miner's data in the epoch the attestation
    /// was uploaded for (false outside epochs and until the verdict).
    pub is_validated: bool,
    /// The validators' stake-weighted score of that epoch of the miner (0 to 1).
    pub validation_score: Option<f64>,
    /// When the verdict was recorded.
    pub validation_timestamp: Option<DateTime<Utc>>,
}

/// `GET /api/listing/{zpid}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingDetail {
    /// The listing's id.
    pub zpid: String,
    /// The values chosen by consensus (null until the consensus has the listing).
    pub consensus: Option<ListingValues>,
    /// The values of the most recent report.
    pub latest_reported: Option<ListingValues>,
    /// The listing's `uri` (v1 files).
    pub uri: Option<String>,
    /// The listing's page.
    pub url: Option<String>,
    /// When a miner first reported it.
    pub first_seen_at: Option<DateTime<Utc>>,
    /// Since when its latest values have been reported: the scrape time of the first report of
    /// them after any report of other values.
    pub last_updated_at: Option<DateTime<Utc>>,
    /// The scrape time of its latest report, re-reports of unchanged values included.
    pub last_reported_at: Option<DateTime<Utc>>,
    /// The seed's consensus summary.
    pub consensus_info: ConsensusInfo,
    /// The latest attestations, newest first (at most 10).
    pub attestations: Vec<AttestationView>,
    /// Whether any of its attestations is validated.
    pub is_validated: bool,
    /// The highest validation score among its attestations' epochs.
    pub validation_score: Option<f64>,
    /// Hours since its latest report (seed 002's `data_freshness_hours`).
    pub data_freshness_hours: Option<f64>,
    /// `max(0, 1 − hours/168)`: 1 when just reported, 0 after a week.
    pub freshness_score: Option<f64>,
    /// Share of the consensus's fields (price, bedrooms, bathrooms, living area, address, home
    /// type, status, coordinates, zip code, city) that have a value.
    pub field_completeness: Option<f64>,
}
