//! What one miner reports about one listing, before it is laid out as a v1 or v2 row.

use chrono::{NaiveDate, NaiveDateTime};

/// One reported listing, in the units miners' scrapers produce.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Zillow property id.
    pub zpid: u64,
    /// Street line, e.g. `1204 Oak Street`.
    pub street: String,
    /// City.
    pub city: String,
    /// Two-letter state.
    pub state: String,
    /// Five-digit zip code.
    pub zip: String,
    /// Price in dollars.
    pub price: Option<i64>,
    /// Bedrooms.
    pub bedrooms: Option<i64>,
    /// Bathrooms (halves allowed).
    pub bathrooms: Option<f64>,
    /// Living area, square feet.
    pub living_area: Option<i64>,
    /// v1 vocabulary, e.g. `SINGLE_FAMILY`.
    pub home_type: String,
    /// v1 vocabulary, e.g. `FOR_SALE`.
    pub home_status: String,
    /// Days on market when scraped.
    pub days_on_market: Option<i64>,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
    /// Date first listed.
    pub listing_date: NaiveDate,
    /// MLS number.
    pub mls_id: String,
    /// When the miner scraped it (UTC).
    pub scraped_at: NaiveDateTime,
}

impl Report {
    /// `1204 Oak Street, Austin, TX 78702`.
    #[must_use]
    pub fn full_address(&self) -> String {
        format!(
            "{}, {}, {} {}",
            self.street, self.city, self.state, self.zip
        )
    }

    fn slug(&self) -> String {
        format!("{}-{}-{}-{}", self.street, self.city, self.state, self.zip).replace(' ', "-")
    }

    /// The v1 `uri` column.
    #[must_use]
    pub fn uri(&self) -> String {
        format!("/homedetails/{}/{}_zpid/", self.slug(), self.zpid)
    }

    /// The listing page (v1 `url`, v2 `source_url`).
    #[must_use]
    pub fn url(&self) -> String {
        format!(
            "https://www.zillow.com/homedetails/{}/{}_zpid/",
            self.slug(),
            self.zpid
        )
    }

    /// The home type in the v2 vocabulary.
    #[must_use]
    pub fn v2_property_type(&self) -> &'static str {
        match self.home_type.as_str() {
            "SINGLE_FAMILY" => "house",
            "CONDO" => "condo",
            "TOWNHOUSE" => "townhouse",
            "MULTI_FAMILY" => "multi-family",
            _ => "apartment",
        }
    }

    /// The status in the v2 vocabulary.
    #[must_use]
    pub fn v2_listing_status(&self) -> &'static str {
        match self.home_status.as_str() {
            "PENDING" => "pending",
            "RECENTLY_SOLD" => "sold",
            _ => "active",
        }
    }
}
