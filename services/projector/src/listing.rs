//! The listing projection: `miner_attestations` (one row per attestation) and `listings` (one
//! row per listing) from the attestations topic.
//!
//! An attestation is inserted once (its event id is the key; a re-delivered one changes
//! nothing). The listings touched by a batch are then recomputed from their attestations in one
//! statement, so a listing's counts and latest values are a function of the set of its
//! attestations, never of their arrival order.
//!
//! A miner that sends a listing again with the same values (the same content hash, seed 000's
//! `data_hash` rule) re-reports it: the attestation is kept, the listing's `last_reported_at`
//! moves, but `total_attestations` counts independent reports, distinct (miner, content hash),
//! so the re-report adds nothing; with new values, the report is new and, being the latest,
//! supersedes the old values.
//!
//! A version behind the log (a replay, an outage) stages instead: a batch inserts its
//! attestations and notes the listings they touch in `listings_staged`, and one pass at the
//! log's end recomputes each noted listing once. A listing reported five times over the log is
//! then recomputed once, not five times, from all of its attestations.
//!
//! Either way, the attestations of epoch uploads are counted as they are inserted into
//! `epoch_rows` (per epoch, miner, zipcode and distance band), the coordinator's evidence of
//! what each miner sent; those shared counters are written last, so other lanes wait on them
//! for the shortest time.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use resi_events::{Event, EventPayload, ListingAttested};
use tokio_postgres::Transaction;
use tokio_postgres::types::Type;

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
    scraped_at: Vec<DateTime<Utc>>,
    submitted_at: Vec<DateTime<Utc>>,
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
    epoch_id: Vec<Option<String>>,
    epoch_zipcode: Vec<Option<String>>,
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
        self.epoch_id.push(attested.epoch_id.clone());
        self.epoch_zipcode.push(attested.zipcode.clone());
    }
}

/// The attestations of `events`, as columns.
fn columns<'a>(events: impl IntoIterator<Item = &'a Event>) -> Columns {
    let mut columns = Columns::default();
    for event in events {
        if let EventPayload::ListingAttested(attested) = &event.payload {
            columns.push(event, attested);
        }
    }
    columns
}

/// The distance band of attestation `a` from its zipcode `z`'s reference point: kilometres,
/// rounded up, 0 when either is unknown (see `epoch_rows`).
const DISTANCE_KM: &str = "CASE WHEN z.latitude IS NULL OR a.latitude_e7 IS NULL
                                 OR a.longitude_e7 IS NULL THEN 0
                            ELSE least(ceil(sqrt(
                                   power((a.latitude_e7 / 1e7 - z.latitude) * 110.57, 2)
                                 + power((a.longitude_e7 / 1e7 - z.longitude) * 111.32
                                         * cos(radians(z.latitude)), 2))), 100000)::int4 END";

/// `epoch_rows` recounted from the attestations of the version (`{schema}`), in its columns:
/// what the folds' counters must equal.
pub fn recount_epoch_rows(schema: &str) -> String {
    format!(
        "SELECT a.epoch_id, a.miner_hotkey, coalesce(a.epoch_zipcode, a.zip_code, '') AS zipcode,
                {DISTANCE_KM} AS distance_km, count(*)::int8 AS attestations,
                max(a.submitted_at) AS last_submitted_at
           FROM {schema}.miner_attestations a
           LEFT JOIN zipcodes z ON z.zipcode = coalesce(a.epoch_zipcode, a.zip_code, '')
          WHERE a.epoch_id IS NOT NULL
          GROUP BY 1, 2, 3, 4"
    )
}

/// Per (epoch, miner, zipcode, distance band): attestations and the latest upload time.
type EpochRows = BTreeMap<(String, String, String, i32), (i64, DateTime<Utc>)>;

/// Inserts the attestations of `columns` that are not stored yet, in one statement; the
/// listing and upload time of each one inserted. Those of epoch uploads are added to `epoch`.
async fn insert_attestations(
    transaction: &Transaction<'_>,
    schema: &str,
    columns: &Columns,
    epoch: &mut EpochRows,
) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
    if columns.id.is_empty() {
        return Ok(Vec::new());
    }
    let c = columns;
    let rows = transaction
        .query(
            &format!(
                "WITH inserted AS (
                 INSERT INTO {schema}.miner_attestations
                   (attestation_id, listing_id, miner_hotkey, upload_id, row_index, upload_key,
                    job_id, scraped_at, submitted_at, content_hash, miner_trust, uri, url,
                    price_usd, address, bedrooms, bathrooms_tenths, living_area_sqft, home_type,
                    home_status, days_on_market, zip_code, city, state, latitude_e7,
                    longitude_e7, listing_date, mls_id, epoch_id, epoch_zipcode)
                 SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::bytea[],
                   $5::int8[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                   $10::bytea[], $11::float8[], $12::text[], $13::text[], $14::int8[],
                   $15::text[], $16::int4[], $17::int4[], $18::int4[], $19::text[], $20::text[],
                   $21::int4[], $22::text[], $23::text[], $24::text[], $25::int4[], $26::int4[],
                   $27::date[], $28::text[], $29::text[], $30::text[])
                 ON CONFLICT (attestation_id) DO NOTHING
                 RETURNING listing_id, submitted_at, miner_hotkey, epoch_id,
                           coalesce(epoch_zipcode, zip_code, '') AS zipcode, latitude_e7,
                           longitude_e7)
                 SELECT a.listing_id, a.submitted_at, a.miner_hotkey, a.epoch_id, a.zipcode,
                        CASE WHEN a.epoch_id IS NULL THEN 0 ELSE {DISTANCE_KM} END
                   FROM inserted a
                   LEFT JOIN zipcodes z ON a.epoch_id IS NOT NULL AND z.zipcode = a.zipcode"
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
                &c.epoch_id,
                &c.epoch_zipcode,
            ],
        )
        .await
        .context("failed to insert attestations")?;
    let mut inserted = Vec::with_capacity(rows.len());
    for row in rows {
        let submitted_at: DateTime<Utc> = row.get(1);
        if let Some(epoch_id) = row.get::<_, Option<String>>(3) {
            let key = (epoch_id, row.get(2), row.get(4), row.get(5));
            let counted = epoch.entry(key).or_insert((0, submitted_at));
            counted.0 += 1;
            counted.1 = counted.1.max(submitted_at);
        }
        inserted.push((row.get(0), submitted_at));
    }
    Ok(inserted)
}

/// Adds `rows` to `epoch_rows`, keys in order (so that two lanes never deadlock).
async fn store_epoch_rows(
    transaction: &Transaction<'_>,
    schema: &str,
    rows: &EpochRows,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let epoch: Vec<&str> = rows.keys().map(|key| key.0.as_str()).collect();
    let miner: Vec<&str> = rows.keys().map(|key| key.1.as_str()).collect();
    let zipcode: Vec<&str> = rows.keys().map(|key| key.2.as_str()).collect();
    let band: Vec<i32> = rows.keys().map(|key| key.3).collect();
    let count: Vec<i64> = rows.values().map(|value| value.0).collect();
    let last: Vec<DateTime<Utc>> = rows.values().map(|value| value.1).collect();
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.epoch_rows AS current
                   (epoch_id, miner_hotkey, zipcode, distance_km, attestations, last_submitted_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[],
                                      $5::int8[], $6::timestamptz[])
                 ON CONFLICT (epoch_id, miner_hotkey, zipcode, distance_km) DO UPDATE SET
                   attestations = current.attestations + EXCLUDED.attestations,
                   last_submitted_at = greatest(current.last_submitted_at,
                                                EXCLUDED.last_submitted_at)"
            ),
            &[&epoch, &miner, &zipcode, &band, &count, &last],
        )
        .await
        .context("failed to count the epoch's attestations")?;
    Ok(())
}

/// Recomputes, in one statement, the rows of the listings `filter` selects (an SQL condition on
/// `listing_id` whose one parameter is `$1`) from all of their attestations; the rows written.
async fn recompute(
    transaction: &Transaction<'_>,
    schema: &str,
    filter: &str,
    param: &(dyn tokio_postgres::types::ToSql + Sync),
) -> anyhow::Result<u64> {
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.listings AS current
                   (listing_id, uri, url, first_seen_at, last_updated_at, last_reported_at,
                    total_attestations, unique_miners_count, latest_attestation, price_usd,
                    address, bedrooms, bathrooms_tenths, living_area_sqft, home_type,
                    home_status, days_on_market, zip_code, city, state, latitude_e7,
                    longitude_e7, listing_date, mls_id)
                 SELECT latest.listing_id, latest.uri, latest.url, counts.first_seen,
                        coalesce(unchanged.since, latest.scraped_at), latest.scraped_at,
                        counts.reports, counts.miners, latest.attestation_id,
                        latest.price_usd, latest.address, latest.bedrooms,
                        latest.bathrooms_tenths, latest.living_area_sqft, latest.home_type,
                        latest.home_status, latest.days_on_market, latest.zip_code, latest.city,
                        latest.state, latest.latitude_e7, latest.longitude_e7,
                        latest.listing_date, latest.mls_id
                 FROM (
                     SELECT DISTINCT ON (listing_id) *
                     FROM {schema}.miner_attestations
                     WHERE {filter}
                     ORDER BY listing_id, scraped_at DESC, attestation_id DESC
                 ) AS latest
                 JOIN (
                     SELECT listing_id, min(scraped_at) AS first_seen,
                            count(DISTINCT (miner_hotkey, content_hash)) AS reports,
                            count(DISTINCT miner_hotkey)::integer AS miners
                     FROM {schema}.miner_attestations
                     WHERE {filter}
                     GROUP BY listing_id
                 ) AS counts USING (listing_id)
                 -- the first report of the latest values after the last report of others
                 CROSS JOIN LATERAL (
                     SELECT min(same.scraped_at) AS since
                     FROM {schema}.miner_attestations AS same
                     WHERE same.listing_id = latest.listing_id
                       AND same.content_hash = latest.content_hash
                       AND same.scraped_at > coalesce(
                           (SELECT max(other.scraped_at)
                            FROM {schema}.miner_attestations AS other
                            WHERE other.listing_id = latest.listing_id
                              AND other.content_hash <> latest.content_hash),
                           '-infinity')
                 ) AS unchanged
                 ON CONFLICT (listing_id) DO UPDATE SET
                   uri = EXCLUDED.uri, url = EXCLUDED.url,
                   first_seen_at = EXCLUDED.first_seen_at,
                   last_updated_at = EXCLUDED.last_updated_at,
                   last_reported_at = EXCLUDED.last_reported_at,
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
            &[param],
        )
        .await
        .context("failed to update listings")
}

/// Folds one batch in `transaction`; the number of attestations that were new.
pub async fn fold(
    transaction: &Transaction<'_>,
    schema: &str,
    events: &[&Event],
) -> anyhow::Result<usize> {
    let mut epoch = EpochRows::new();
    let inserted = insert_attestations(
        transaction,
        schema,
        &columns(events.iter().copied()),
        &mut epoch,
    )
    .await?;
    if inserted.is_empty() {
        return Ok(0);
    }
    let new_attestations = inserted.len();
    let mut touched: Vec<String> = inserted.into_iter().map(|(listing, _)| listing).collect();
    touched.sort();
    touched.dedup();
    recompute(transaction, schema, "listing_id = ANY($1)", &touched).await?;
    store_epoch_rows(transaction, schema, &epoch).await?;
    Ok(new_attestations)
}

/// Stages one batch of a version that is catching up: inserts its new attestations and notes,
/// per new attestation, its partition, listing and upload time in `listings_staged` (one binary
/// COPY, no index), for [`apply_staged`]. The number of attestations that were new.
pub async fn stage(
    transaction: &Transaction<'_>,
    schema: &str,
    events: &[(i32, &Event)],
) -> anyhow::Result<usize> {
    let columns = columns(events.iter().map(|(_, event)| *event));
    let mut epoch = EpochRows::new();
    let inserted = insert_attestations(transaction, schema, &columns, &mut epoch).await?;
    if inserted.is_empty() {
        return Ok(0);
    }
    let partition_of = crate::partition_of(events);
    let writer = crate::copy_writer(
        transaction,
        &format!("{schema}.listings_staged"),
        "partition, listing_id, submitted_at",
        &[Type::INT4, Type::TEXT, Type::TIMESTAMPTZ],
    )
    .await?;
    futures::pin_mut!(writer);
    for (listing, submitted_at) in &inserted {
        writer
            .as_mut()
            .write(&[&partition_of(listing), listing, submitted_at])
            .await
            .context("failed to stage a listing")?;
    }
    writer
        .finish()
        .await
        .context("failed to finish staging listings")?;
    store_epoch_rows(transaction, schema, &epoch).await?;
    Ok(inserted.len())
}

/// What an apply pass did: the staged attestations applied, and the upload times of those
/// uploaded in the last day (for the visibility histogram).
pub struct Applied {
    /// Staged attestations applied.
    pub attestations: usize,
    /// Upload times of those uploaded in the last day.
    pub recent_uploads: Vec<DateTime<Utc>>,
}

/// Recomputes, in `transaction`, each listing noted in `listings_staged` by `partitions` once,
/// from all of its attestations, then deletes the notes.
pub async fn apply_staged(
    transaction: &Transaction<'_>,
    schema: &str,
    partitions: &[i32],
) -> anyhow::Result<Applied> {
    // a whole catch-up's attestations are sorted by listing in one statement
    transaction
        .batch_execute("SET LOCAL work_mem = '256MB'")
        .await
        .context("failed to size the sort of staged listings")?;
    recompute(
        transaction,
        schema,
        &format!(
            "listing_id IN (SELECT listing_id FROM {schema}.listings_staged WHERE partition = ANY($1))"
        ),
        &partitions,
    )
    .await?;
    let deleted = transaction
        .query(
            &format!(
                "WITH applied AS (
                   DELETE FROM {schema}.listings_staged WHERE partition = ANY($1)
                   RETURNING submitted_at)
                 SELECT count(*),
                        coalesce(array_agg(submitted_at)
                                   FILTER (WHERE submitted_at > now() - interval '1 day'),
                                 '{{}}')
                 FROM applied"
            ),
            &[&partitions],
        )
        .await
        .context("failed to delete applied staged listings")?;
    let row = deleted
        .first()
        .context("counting the applied staged listings returned no row")?;
    Ok(Applied {
        attestations: usize::try_from(row.get::<_, i64>(0)).unwrap_or_default(),
        recent_uploads: row.get(1),
    })
}

/// Gathers the planner's statistics of the version's tables (see the projector's apply pass).
pub async fn analyze(client: &tokio_postgres::Client, schema: &str) -> anyhow::Result<()> {
    client
        .batch_execute(&format!(
            "ANALYZE {schema}.miner_attestations, {schema}.listings"
        ))
        .await
        .context("failed to analyse the listing tables")
}
