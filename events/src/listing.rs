//! The canonical listing that both miner row schemas map to.
//!
//! | field | v1 (Zillow) column | v2 (epoch) column | type and unit |
//! |---|---|---|---|
//! | `listing_id` | `zpid` | zpid from a Zillow `source_url`, else `mls:{mls_id}`, else `addr:{hash}` | text |
//! | `uri` | `uri` | — | text |
//! | `url` | `url` | `source_url` | text |
//! | `price_usd` | `price` | `price` | whole US dollars |
//! | `address` | `address` | `address` | [`normalize::address`] |
//! | `bedrooms` | `bedrooms` | `bedrooms` | count |
//! | `bathrooms_tenths` | `bathrooms` | `bathrooms` | tenths (2.5 baths → 25) |
//! | `living_area_sqft` | `living_area` | `sqft` | square feet |
//! | `home_type` | `home_type` | `property_type` | [`normalize::home_type`] |
//! | `home_status` | `home_status` | `listing_status` | [`normalize::home_status`] |
//! | `days_on_market` | `days_on_zillow` | `days_on_market` | days |
//! | `zip_code` | `zip_code` | `zipcode` | five digits |
//! | `city` | `city` | — | trimmed text |
//! | `state` | `state` | — | two upper-case letters |
//! | `latitude_e7`, `longitude_e7` | `latitude`, `longitude` | — | degrees × 10⁷ |
//! | `listing_date` | — | `listing_date` | days since 1970-01-01 |
//! | `mls_id` | — | `mls_id` | trimmed text |
//!
//! The scrape time (`datetime` in v1, `scraped_timestamp` in v2) is the attestation's
//! `scraped_at`, not a listing field: the same values scraped at two times are the same report.
//!
//! [`normalize::address`]: crate::normalize::address
//! [`normalize::home_type`]: crate::normalize::home_type
//! [`normalize::home_status`]: crate::normalize::home_status

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::id::{ContentHash, IdHasher};

/// One listing as a miner reported it, after type coercion and normalisation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
pub struct CanonicalListing {
    /// The listing's identity across miners: the zpid for Zillow listings.
    pub listing_id: String,
    /// The v1 `uri` column.
    pub uri: Option<String>,
    /// The listing's page (v1 `url`, v2 `source_url`).
    pub url: Option<String>,
    /// Asking or sold price in whole US dollars.
    pub price_usd: Option<i64>,
    /// Normalised street address.
    pub address: Option<String>,
    /// Number of bedrooms.
    pub bedrooms: Option<u16>,
    /// Number of bathrooms in tenths (2.5 → 25).
    pub bathrooms_tenths: Option<u16>,
    /// Living area in square feet.
    pub living_area_sqft: Option<u32>,
    /// Home type, e.g. `SINGLE_FAMILY`, `CONDO`, `TOWNHOUSE`.
    pub home_type: Option<String>,
    /// Listing status, e.g. `FOR_SALE`, `PENDING`, `RECENTLY_SOLD`, `FOR_RENT`.
    pub home_status: Option<String>,
    /// Days the listing has been on the market.
    pub days_on_market: Option<u32>,
    /// Five-digit zip code.
    pub zip_code: Option<String>,
    /// City name, trimmed.
    pub city: Option<String>,
    /// Two-letter state code.
    pub state: Option<String>,
    /// Latitude in units of 1e-7 degrees.
    pub latitude_e7: Option<i32>,
    /// Longitude in units of 1e-7 degrees.
    pub longitude_e7: Option<i32>,
    /// Date first listed, as days since 1970-01-01.
    pub listing_date: Option<i32>,
    /// MLS number, when the source has one.
    pub mls_id: Option<String>,
}

impl CanonicalListing {
    /// blake3 over the listing's bincode encoding, in the `resi.listing-content.v1` domain.
    ///
    /// The golden vectors of the codec pin the encoding, so this hash is stable for as long as
    /// they pass.
    #[must_use]
    pub fn content_hash(&self) -> ContentHash {
        thread_local! {
            // the parser hashes every row: reuse one buffer per thread instead of allocating
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUFFER.with_borrow_mut(|buffer| {
            buffer.clear();
            bincode::encode_into_std_write(self, buffer, crate::codec::bincode_config())
                .unwrap_or_else(|_| unreachable!("encoding into a Vec cannot fail"));
            ContentHash(
                IdHasher::new("resi.listing-content.v1")
                    .bytes(buffer)
                    .finish(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_depends_on_every_value() {
        let base = CanonicalListing {
            listing_id: "1".into(),
            price_usd: Some(100_000),
            ..CanonicalListing::default()
        };
        let other_price = CanonicalListing {
            price_usd: Some(100_001),
            ..base.clone()
        };
        let null_price = CanonicalListing {
            price_usd: None,
            ..base.clone()
        };
        assert_eq!(base.content_hash(), base.clone().content_hash());
        assert_ne!(base.content_hash(), other_price.content_hash());
        assert_ne!(base.content_hash(), null_price.content_hash());
    }
}
