//! Epoch JSON documents as the network's miners write them: one per assigned zipcode,
//! `json.dump(..., indent=2)` of `{epoch_id, zipcode, miner_hotkey, submission_timestamp,
//! listing_count, listings}`, listings shaped by the miners' RapidAPI scraper or their mock
//! scraper.

use chrono::{Duration, NaiveDateTime};
use rand::Rng;
use serde_json::{Value, json};

use crate::report::Report;

/// ISO 8601 with an offset, as Python's `datetime.isoformat()` writes an aware UTC time.
fn iso(at: NaiveDateTime) -> String {
    format!("{}+00:00", at.format("%Y-%m-%dT%H:%M:%S%.6f"))
}

/// A listing as the miners' RapidAPI zipcode scraper returns it.
#[must_use]
pub fn real_listing(report: &Report) -> Value {
    let status = match report.home_status.as_str() {
        "RECENTLY_SOLD" => "SOLD",
        other => other,
    };
    json!({
        "zpid": report.zpid.to_string(),
        "mls_id": report.mls_id,
        "address": report.full_address(),
        "price": report.price,
        "property_type": report.home_type,
        "listing_status": status,
        "listing_date": iso(report.listing_date.and_hms_opt(0, 0, 0).unwrap_or_default()),
        "source_url": report.url(),
        "scraped_timestamp": iso(report.scraped_at),
        "zipcode": report.zip,
        "bedrooms": report.bedrooms,
        "bathrooms": report.bathrooms,
        "sqft": report.living_area,
        "days_on_market": report.days_on_market,
        "lot_size": null,
        "year_built": 1950 + report.zpid % 70,
        "zestimate": report.price.map(|price| price + 4_900),
        "latitude": report.latitude,
        "longitude": report.longitude,
        "data_source": "rapidapi_zillow",
        "api_cost_estimate": 0.015,
    })
}

/// A listing of the network's mock scraper for `zipcode`: made up, and saying so.
pub fn mock_listing(rng: &mut impl Rng, zipcode: &str, index: usize, now: NaiveDateTime) -> Value {
    let bedrooms = rng.random_range(1..=5_i64);
    let sqft = rng.random_range(800..4_000_i64);
    let listed = now - Duration::days(rng.random_range(1..180));
    let zpid = format!(
        "mock_{zipcode}_{index}_{}",
        rng.random_range(100_000..999_999)
    );
    json!({
        "zpid": zpid,
        "mls_id": format!("MLS{}", rng.random_range(1_000_000..9_999_999)),
        "address": format!("{} Main St", rng.random_range(100..9_999)),
        "price": 200_000 + bedrooms * 50_000 + sqft * 150,
        "bedrooms": bedrooms,
        "bathrooms": 2.0,
        "sqft": sqft,
        "listing_date": iso(listed),
        "property_type": "SINGLE_FAMILY",
        "listing_status": "FOR_SALE",
        "days_on_market": (now - listed).num_days(),
        "source_url": format!("https://mock-realestate-site.com/property/{zpid}"),
        "scraped_timestamp": iso(now),
        "zipcode": zipcode,
        "lot_size": null,
        "year_built": 2001,
        "garage_spaces": 2,
        "has_pool": null,
        "hoa_fee": null,
        "mock_generated": true,
        "mock_index": index,
    })
}

/// One zipcode's document.
#[must_use]
pub fn document(
    epoch_id: &str,
    zipcode: &str,
    miner: &str,
    submitted: NaiveDateTime,
    listings: Vec<Value>,
) -> Value {
    json!({
        "epoch_id": epoch_id,
        "zipcode": zipcode,
        "miner_hotkey": miner,
        "submission_timestamp": iso(submitted),
        "listing_count": listings.len(),
        "listings": listings,
    })
}

/// The key of a document. The upload helper puts the credential folder in front of a path that
/// already has it, so most documents land under `data/hotkey={hk}/data/hotkey={hk}/…`;
/// `doubled` chooses that form.
#[must_use]
pub fn key(hotkey: &str, epoch_id: &str, zipcode: &str, file_name: &str, doubled: bool) -> String {
    let path = format!("data/hotkey={hotkey}/epoch={epoch_id}/zipcode={zipcode}/{file_name}");
    if doubled {
        format!("data/hotkey={hotkey}/{path}")
    } else {
        path
    }
}

/// The bytes of a document, indented as `json.dump(..., indent=2)` writes it.
pub fn bytes(document: &Value) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec_pretty(document)?)
}
