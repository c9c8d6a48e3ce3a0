//! The listing projection: `miner_attestations` (one row per attestation) and `listings` (one
//! row per listing) from the attestations topic.
//!
//! An attestation is inserted once (its event id is the key; a re-delivered one changes
//! nothing). In the same statement the listings it touches are brought up to date from the
//! batch's new attestations: counts added, the earliest and the latest report kept. A listing's
//! counts and latest values are therefore a function of the set of its attestations, never of
//! their arrival order.

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
    // The attestations and the listings they touch in one statement. Its parts share one
    // snapshot, so `miner_attestations` read below holds what came before this batch: a
    // listing's row is brought up to date from its new attestations alone (counts added, the
    // earliest and latest kept), never read back whole. Each result is still a function of the
    // set of attestations (a sum, a minimum, a count of distinct miners, the greatest by scrape
    // time and id), so it does not depend on their order, and re-delivered ones (no row
    // inserted) change nothing.
    let keep_latest: String = LATEST_COLUMNS
        .iter()
        .map(|column| {
            format!(
                "{column} = CASE WHEN (EXCLUDED.last_updated_at, EXCLUDED.latest_attestation)
                     > (current.last_updated_at, current.latest_attestation)
                   THEN EXCLUDED.{column} ELSE current.{column} END"
            )
        })
        .collect::<Vec<_>>()
        .join(",\n                   ");
    let row = transaction
        .query_one(
            &format!(
                "WITH new AS (
                   INSERT INTO {schema}.miner_attestations
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
                   RETURNING *
                 ),
                 latest AS (
                   SELECT DISTINCT ON (listing_id) * FROM new
                   ORDER BY listing_id, scraped_at DESC, attestation_id DESC
                 ),
                 counts AS (
                   SELECT listing_id, min(scraped_at) AS first_seen, count(*) AS total
                   FROM new GROUP BY listing_id
                 ),
                 -- miners attesting a listing for the first time
                 first_reports AS (
                   SELECT reporters.listing_id, count(*)::integer AS miners
                   FROM (SELECT DISTINCT listing_id, miner_hotkey FROM new) AS reporters
                   WHERE NOT EXISTS (
                     SELECT 1 FROM {schema}.miner_attestations seen
                     WHERE seen.listing_id = reporters.listing_id
                       AND seen.miner_hotkey = reporters.miner_hotkey)
                   GROUP BY reporters.listing_id
                 ),
                 _listings AS (
                   INSERT INTO {schema}.listings AS current
                     (listing_id, uri, url, first_seen_at, last_updated_at, total_attestations,
                      unique_miners_count, latest_attestation, price_usd, address, bedrooms,
                      bathrooms_tenths, living_area_sqft, home_type, home_status, days_on_market,
                      zip_code, city, state, latitude_e7, longitude_e7, listing_date, mls_id)
                   SELECT latest.listing_id, latest.uri, latest.url, counts.first_seen,
                          latest.scraped_at, counts.total, coalesce(first_reports.miners, 0),
                          latest.attestation_id, latest.price_usd, latest.address,
                          latest.bedrooms, latest.bathrooms_tenths, latest.living_area_sqft,
                          latest.home_type, latest.home_status, latest.days_on_market,
                          latest.zip_code, latest.city, latest.state, latest.latitude_e7,
                          latest.longitude_e7, latest.listing_date, latest.mls_id
                   FROM latest JOIN counts USING (listing_id)
                   LEFT JOIN first_reports USING (listing_id)
                   ON CONFLICT (listing_id) DO UPDATE SET
                   first_seen_at = least(current.first_seen_at, EXCLUDED.first_seen_at),
                   total_attestations = current.total_attestations + EXCLUDED.total_attestations,
                   unique_miners_count = current.unique_miners_count + EXCLUDED.unique_miners_count,
                   {keep_latest}
                 )
                 SELECT count(*) FROM new"
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
        .context("failed to insert attestations and update their listings")?;
    let new_attestations: i64 = row.get(0);
    Ok(usize::try_from(new_attestations).unwrap_or_default())
}

/// The `listings` columns that hold the latest attestation's values, replaced when a newer
/// attestation arrives. Every expression of an `UPDATE`'s `SET` reads the row as it was, so
/// the comparison of `last_updated_at` and `latest_attestation` holds for all of them.
const LATEST_COLUMNS: [&str; 19] = [
    "uri",
    "url",
    "price_usd",
    "address",
    "bedrooms",
    "bathrooms_tenths",
    "living_area_sqft",
    "home_type",
    "home_status",
    "days_on_market",
    "zip_code",
    "city",
    "state",
    "latitude_e7",
    "longitude_e7",
    "listing_date",
    "mls_id",
    "last_updated_at",
    "latest_attestation",
];
