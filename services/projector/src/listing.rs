//! The listing projection: `miner_attestations` (one row per attestation) and `listings` (one
//! row per listing) from the attestations topic.
//!
//! An attestation is inserted once (its event id is the key; a re-delivered one changes
//! nothing). The listings touched by a batch are then recomputed from their attestations in one
//! statement, so a listing's counts and latest values are a function of the set of its
//! attestations, never of their arrival order.

use anyhow::Context as _;
use resi_events::{Event, EventPayload, ListingAttested};
use tokio_postgres::Transaction;

/// The tables of one version; `{schema}` is replaced by the version's schema.
pub const DDL: &str = include_str!("../sql/listing.sql");

fn date(day: Option<i32>) -> Option<chrono::NaiveDate> {
    day.and_then(|day| {
        chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?
            .checked_add_signed(chrono::Duration::days(i64::from(day)))
    })
}

/// Columns of a batch of attestations, for one multi-row insert.
#[derive(Default)]
struct Columns {
    id: Vec<Vec<u8>>,
    listing_id: Vec<String>,
    miner: Vec<String>,
    upload_id: Vec<Vec<u8>>,
    row_index: Vec<i64>,
    key: Vec<String>,
    job_id: Vec<String>,
    scraped_at: Vec<chrono::DateTime<chrono::Utc>>,
    submitted_at: Vec<chrono::DateTime<chrono::Utc>>,
    content_hash: Vec<Vec<u8>>,
    trust: Vec<f64>,
    uri: Vec<Option<String>>,
    url: Vec<Option<String>>,
    price: Vec<Option<i64>>,
    address: Vec<Option<String>>,
    bedrooms: Vec<Option<i32>>,
    bathrooms: Vec<Option<i32>>,
    area: Vec<Option<i32>>,
    home_type: Vec<Option<String>>,
    status: Vec<Option<String>>,
    days: Vec<Option<i32>>,
    zip: Vec<Option<String>>,
    city: Vec<Option<String>>,
    state: Vec<Option<String>>,
    latitude: Vec<Option<i32>>,
    longitude: Vec<Option<i32>>,
    listing_date: Vec<Option<chrono::NaiveDate>>,
    mls_id: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, event: &Event, attested: &ListingAttested) {
        let listing = &attested.listing;
        let int = |value: Option<u32>| value.and_then(|value| i32::try_from(value).ok());
        self.id.push(event.id.as_bytes().to_vec());
        self.listing_id.push(listing.listing_id.clone());
        self.miner.push(attested.miner_hotkey.clone());
        self.upload_id.push(attested.upload_id.as_bytes().to_vec());
        self.row_index
            .push(i64::try_from(attested.row_index).unwrap_or(i64::MAX));
        self.key.push(attested.key.clone());
        self.job_id.push(attested.job_id.clone());
        self.scraped_at
            .push(crate::datetime(attested.scraped_at.as_micros()));
        self.submitted_at
            .push(crate::datetime(attested.submitted_at.as_micros()));
        self.content_hash
            .push(attested.content_hash.as_bytes().to_vec());
        self.trust.push(attested.miner_trust);
        self.uri.push(listing.uri.clone());
        self.url.push(listing.url.clone());
        self.price.push(listing.price_usd);
        self.address.push(listing.address.clone());
        self.bedrooms.push(listing.bedrooms.map(i32::from));
        self.bathrooms.push(listing.bathrooms_tenths.map(i32::from));
        self.area.push(int(listing.living_area_sqft));
        self.home_type.push(listing.home_type.clone());
        self.status.push(listing.home_status.clone());
        self.days.push(int(listing.days_on_market));
        self.zip.push(listing.zip_code.clone());
        self.city.push(listing.city.clone());
        self.state.push(listing.state.clone());
        self.latitude.push(listing.latitude_e7);
        self.longitude.push(listing.longitude_e7);
        self.listing_date.push(date(listing.listing_date));
        self.mls_id.push(listing.mls_id.clone());
    }
}

/// Folds one batch in `transaction`; the number of attestations that were new.
pub async fn fold(
    transaction: &Transaction<'_>,
    schema: &str,
    events: &[&Event],
) -> anyhow::Result<usize> {
    let mut columns = Columns::default();
    for event in events {
        if let EventPayload::ListingAttested(attested) = &event.payload {
            columns.push(event, attested);
        }
    }
    if columns.id.is_empty() {
        return Ok(0);
    }
    let c = &columns;
    let inserted: Vec<String> = transaction
        .query(
            &format!(
                "INSERT INTO {schema}.miner_attestations
                   (attestation_id, listing_id, miner_hotkey, upload_id, row_index, upload_key,
                    job_id, scraped_at, submitted_at, content_hash, miner_trust, uri, url,
                    price_usd, address, bedrooms, bathrooms_tenths, living_area_sqft, home_type,
                    home_status, days_on_market, zip_code, city, state, latitude_e7,
                    longitude_e7, listing_date, mls_id)
                 SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::bytea[],
                   $5::int8[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                   $10::bytea[], $11::float8[], $12::text[], $13::text[], $14::int8[],
                   $15::text[], $16::int4[], $17::int4[], $18::int4[], $19::text[], $20::text[],
                   $21::int4[], $22::text[], $23::text[], $24::text[], $25::int4[], $26::int4[],
                   $27::date[], $28::text[])
                 ON CONFLICT (attestation_id) DO NOTHING
                 RETURNING listing_id"
            ),
            &[
                &c.id,
                &c.listing_id,
                &c.miner,
                &c.upload_id,
                &c.row_index,
                &c.key,
                &c.job_id,
                &c.scraped_at,
                &c.submitted_at,
                &c.content_hash,
                &c.trust,
                &c.uri,
                &c.url,
                &c.price,
                &c.address,
                &c.bedrooms,
                &c.bathrooms,
                &c.area,
                &c.home_type,
                &c.status,
                &c.days,
                &c.zip,
                &c.city,
                &c.state,
                &c.latitude,
                &c.longitude,
                &c.listing_date,
                &c.mls_id,
            ],
        )
        .await
        .context("failed to insert attestations")?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if inserted.is_empty() {
        return Ok(0);
    }
    let new_attestations = inserted.len();
    let mut touched = inserted;
    touched.sort();
    touched.dedup();
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.listings AS current
                   (listing_id, uri, url, first_seen_at, last_updated_at, total_attestations,
                    unique_miners_count, latest_attestation, price_usd, address, bedrooms,
                    bathrooms_tenths, living_area_sqft, home_type, home_status, days_on_market,
                    zip_code, city, state, latitude_e7, longitude_e7, listing_date, mls_id)
                 SELECT latest.listing_id, latest.uri, latest.url, counts.first_seen,
                        latest.scraped_at, counts.total, counts.miners, latest.attestation_id,
                        latest.price_usd, latest.address, latest.bedrooms,
                        latest.bathrooms_tenths, latest.living_area_sqft, latest.home_type,
                        latest.home_status, latest.days_on_market, latest.zip_code, latest.city,
                        latest.state, latest.latitude_e7, latest.longitude_e7,
                        latest.listing_date, latest.mls_id
                 FROM (
                     SELECT DISTINCT ON (listing_id) *
                     FROM {schema}.miner_attestations
                     WHERE listing_id = ANY($1)
                     ORDER BY listing_id, scraped_at DESC, attestation_id DESC
                 ) AS latest
                 JOIN (
                     SELECT listing_id, min(scraped_at) AS first_seen, count(*) AS total,
                            count(DISTINCT miner_hotkey)::integer AS miners
                     FROM {schema}.miner_attestations
                     WHERE listing_id = ANY($1)
                     GROUP BY listing_id
                 ) AS counts USING (listing_id)
                 ON CONFLICT (listing_id) DO UPDATE SET
                   uri = EXCLUDED.uri, url = EXCLUDED.url,
                   first_seen_at = EXCLUDED.first_seen_at,
                   last_updated_at = EXCLUDED.last_updated_at,
                   total_attestations = EXCLUDED.total_attestations,
                   unique_miners_count = EXCLUDED.unique_miners_count,
                   latest_attestation = EXCLUDED.latest_attestation,
                   price_usd = EXCLUDED.price_usd, address = EXCLUDED.address,
                   bedrooms = EXCLUDED.bedrooms, bathrooms_tenths = EXCLUDED.bathrooms_tenths,
                   living_area_sqft = EXCLUDED.living_area_sqft,
                   home_type = EXCLUDED.home_type, home_status = EXCLUDED.home_status,
                   days_on_market = EXCLUDED.days_on_market, zip_code = EXCLUDED.zip_code,
                   city = EXCLUDED.city, state = EXCLUDED.state,
                   latitude_e7 = EXCLUDED.latitude_e7, longitude_e7 = EXCLUDED.longitude_e7,
                   listing_date = EXCLUDED.listing_date, mls_id = EXCLUDED.mls_id"
            ),
            &[&touched],
        )
        .await
        .context("failed to update listings")?;
    Ok(new_attestations)
}
