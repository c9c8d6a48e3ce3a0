//! Lays reports out as Parquet the way pandas (`df.to_parquet()`) does: strings as UTF-8,
//! `datetime` as nanosecond timestamps, integer columns as int64 unless they hold a null, in
//! which case pandas has made them float64 — exactly what the parser must cope with.

use std::sync::Arc;

use anyhow::Context as _;
use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, NullArray, StringArray,
    TimestampNanosecondArray,
};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

use crate::report::Report;

/// Rows per record batch handed to the writer (the writer's row groups are set separately).
pub const BATCH_ROWS: usize = 65_536;

/// The v1 column names, in the order miners write them.
pub const V1_COLUMNS: [&str; 18] = [
    "uri",
    "datetime",
    "label",
    "zpid",
    "price",
    "address",
    "bedrooms",
    "bathrooms",
    "living_area",
    "home_type",
    "home_status",
    "days_on_zillow",
    "url",
    "zip_code",
    "city",
    "state",
    "latitude",
    "longitude",
];

/// The v2 column names, in the order miners write them.
pub const V2_COLUMNS: [&str; 13] = [
    "address",
    "zipcode",
    "price",
    "bedrooms",
    "bathrooms",
    "sqft",
    "listing_date",
    "property_type",
    "listing_status",
    "days_on_market",
    "mls_id",
    "source_url",
    "scraped_timestamp",
];

fn strings(values: impl Iterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn floats(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(values.collect::<Float64Array>())
}

/// int64, or float64 when any value is missing (pandas' NaN promotion).
fn pandas_ints(values: &[Option<i64>]) -> ArrayRef {
    if values.iter().all(Option::is_some) {
        Arc::new(values.iter().copied().collect::<Int64Array>())
    } else {
        // pandas holds these as float64: exact below 2^53, which every count and price here is
        #[allow(clippy::cast_precision_loss)]
        let promoted = values.iter().map(|value| value.map(|v| v as f64));
        floats(promoted)
    }
}

fn nanos(report: &Report) -> i64 {
    report
        .scraped_at
        .and_utc()
        .timestamp_nanos_opt()
        .unwrap_or(i64::MAX)
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> anyhow::Result<RecordBatch> {
    let fields: Vec<Field> = columns
        .iter()
        // pyarrow marks every column from a DataFrame nullable
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .context("failed to assemble a record batch")
}

/// One v1 record batch.
pub fn v1_batch(reports: &[Report]) -> anyhow::Result<RecordBatch> {
    let column = |pick: fn(&Report) -> Option<i64>| {
        pandas_ints(&reports.iter().map(pick).collect::<Vec<_>>())
    };
    let timestamps: TimestampNanosecondArray =
        reports.iter().map(|report| Some(nanos(report))).collect();
    batch(vec![
        ("uri", strings(reports.iter().map(Report::uri))),
        ("datetime", Arc::new(timestamps)),
        (
            "label",
            strings(reports.iter().map(|report| report.zip.clone())),
        ),
        (
            "zpid",
            strings(reports.iter().map(|report| report.zpid.to_string())),
        ),
        ("price", column(|report| report.price)),
        ("address", strings(reports.iter().map(Report::full_address))),
        ("bedrooms", column(|report| report.bedrooms)),
        (
            "bathrooms",
            floats(reports.iter().map(|report| report.bathrooms)),
        ),
        ("living_area", column(|report| report.living_area)),
        (
            "home_type",
            strings(reports.iter().map(|report| report.home_type.clone())),
        ),
        (
            "home_status",
            strings(reports.iter().map(|report| report.home_status.clone())),
        ),
        ("days_on_zillow", column(|report| report.days_on_market)),
        ("url", strings(reports.iter().map(Report::url))),
        (
            "zip_code",
            strings(reports.iter().map(|report| report.zip.clone())),
        ),
        (
            "city",
            strings(reports.iter().map(|report| report.city.clone())),
        ),
        (
            "state",
            strings(reports.iter().map(|report| report.state.clone())),
        ),
        (
            "latitude",
            floats(reports.iter().map(|report| report.latitude)),
        ),
        (
            "longitude",
            floats(reports.iter().map(|report| report.longitude)),
        ),
    ])
}

/// The v1 columns the network's miners leave empty: their scrapers never fill them, so pandas
/// writes them `null`-typed.
pub const V1_EMPTY_IN_REAL_FILES: [&str; 6] = [
    "home_type",
    "home_status",
    "url",
    "zip_code",
    "city",
    "state",
];

/// Whether the real shape's scrape time of `report` is NaT (pandas could not read the stored
/// time): one listing in fifty, by zpid, so the choice is deterministic.
#[must_use]
pub fn real_scrape_time_missing(report: &Report) -> bool {
    report.zpid.is_multiple_of(50)
}

fn null_column(rows: usize) -> ArrayRef {
    Arc::new(NullArray::new(rows))
}

/// One v1 record batch as the network's miners really write it: `uri` (absolute or relative),
/// `datetime` as timestamp[ns, tz=UTC] with NaT, `label` as `zip:NNNNN`, and the six columns
/// their scrapers never fill `null`-typed; the zip code, city and state are only in `label` and
/// `address`.
pub fn v1_real_batch(reports: &[Report]) -> anyhow::Result<RecordBatch> {
    let column = |pick: fn(&Report) -> Option<i64>| {
        pandas_ints(&reports.iter().map(pick).collect::<Vec<_>>())
    };
    let timestamps = reports
        .iter()
        .map(|report| (!real_scrape_time_missing(report)).then(|| nanos(report)))
        .collect::<TimestampNanosecondArray>()
        .with_timezone("UTC");
    let uri = |report: &Report| {
        if report.zpid.is_multiple_of(2) {
            format!("https://zillow.com{}", report.uri())
        } else {
            report.uri()
        }
    };
    let rows = reports.len();
    batch(vec![
        ("uri", strings(reports.iter().map(uri))),
        ("datetime", Arc::new(timestamps)),
        (
            "label",
            strings(reports.iter().map(|report| format!("zip:{}", report.zip))),
        ),
        ("zpid", column(|report| i64::try_from(report.zpid).ok())),
        ("price", column(|report| report.price)),
        ("address", strings(reports.iter().map(Report::full_address))),
        ("bedrooms", column(|report| report.bedrooms)),
        (
            "bathrooms",
            floats(reports.iter().map(|report| report.bathrooms)),
        ),
        ("living_area", column(|report| report.living_area)),
        ("home_type", null_column(rows)),
        ("home_status", null_column(rows)),
        ("days_on_zillow", column(|report| report.days_on_market)),
        ("url", null_column(rows)),
        ("zip_code", null_column(rows)),
        ("city", null_column(rows)),
        ("state", null_column(rows)),
        (
            "latitude",
            floats(reports.iter().map(|report| report.latitude)),
        ),
        (
            "longitude",
            floats(reports.iter().map(|report| report.longitude)),
        ),
    ])
}

/// One v1 record batch of a miner on the nested property schema: its content has none of the
/// fifteen fields at the top level, so only `uri`, `datetime` and `label` carry data.
pub fn v1_nested_batch(reports: &[Report]) -> anyhow::Result<RecordBatch> {
    let timestamps = reports
        .iter()
        .map(|report| Some(nanos(report)))
        .collect::<TimestampNanosecondArray>()
        .with_timezone("UTC");
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("uri", strings(reports.iter().map(Report::url))),
        ("datetime", Arc::new(timestamps)),
        (
            "label",
            strings(reports.iter().map(|report| format!("zip:{}", report.zip))),
        ),
    ];
    columns.extend(
        V1_COLUMNS[3..]
            .iter()
            .map(|&name| (name, null_column(reports.len()))),
    );
    batch(columns)
}

/// One v2 record batch.
pub fn v2_batch(reports: &[Report]) -> anyhow::Result<RecordBatch> {
    let column = |pick: fn(&Report) -> Option<i64>| {
        pandas_ints(&reports.iter().map(pick).collect::<Vec<_>>())
    };
    // v2 prices are floats in the miners' schema
    #[allow(clippy::cast_precision_loss)]
    let prices = floats(
        reports
            .iter()
            .map(|report| report.price.map(|price| price as f64)),
    );
    batch(vec![
        ("address", strings(reports.iter().map(Report::full_address))),
        (
            "zipcode",
            strings(reports.iter().map(|report| report.zip.clone())),
        ),
        ("price", prices),
        ("bedrooms", column(|report| report.bedrooms)),
        (
            "bathrooms",
            floats(reports.iter().map(|report| report.bathrooms)),
        ),
        ("sqft", column(|report| report.living_area)),
        (
            "listing_date",
            strings(
                reports
                    .iter()
                    .map(|report| report.listing_date.format("%Y-%m-%d").to_string()),
            ),
        ),
        (
            "property_type",
            strings(
                reports
                    .iter()
                    .map(|report| report.v2_property_type().to_owned()),
            ),
        ),
        (
            "listing_status",
            strings(
                reports
                    .iter()
                    .map(|report| report.v2_listing_status().to_owned()),
            ),
        ),
        ("days_on_market", column(|report| report.days_on_market)),
        (
            "mls_id",
            strings(reports.iter().map(|report| report.mls_id.clone())),
        ),
        ("source_url", strings(reports.iter().map(Report::url))),
        (
            "scraped_timestamp",
            strings(
                reports
                    .iter()
                    .map(|report| report.scraped_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ),
        ),
    ])
}

/// Writes batches into one Parquet file (snappy, as pandas does). The first batch's schema is
/// the file's; pass an empty batch for a zero-row file.
pub fn write(
    batches: impl IntoIterator<Item = anyhow::Result<RecordBatch>>,
    row_group_rows: usize,
) -> anyhow::Result<Vec<u8>> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .build();
    let mut writer: Option<ArrowWriter<Vec<u8>>> = None;
    for batch in batches {
        let batch = batch?;
        let active = match &mut writer {
            Some(active) => active,
            None => writer.insert(
                ArrowWriter::try_new(Vec::new(), batch.schema(), Some(properties.clone()))
                    .context("failed to start a parquet writer")?,
            ),
        };
        active
            .write(&batch)
            .context("failed to write a record batch")?;
    }
    let writer = writer
        .context("a parquet file needs a schema: pass at least one (possibly empty) batch")?;
    writer
        .into_inner()
        .context("failed to finish the parquet file")
}

/// A v1 file whose `price` column is boolean and `bedrooms` text: types no coercion can fix.
pub fn v1_wrong_types(reports: &[Report]) -> anyhow::Result<Vec<u8>> {
    // v1_batch lays its columns out in V1_COLUMNS order
    let good = v1_batch(reports)?;
    let columns = V1_COLUMNS
        .iter()
        .zip(good.columns())
        .map(|(&name, array)| {
            let array = match name {
                "price" => Arc::new(reports.iter().map(|_| Some(true)).collect::<BooleanArray>())
                    as ArrayRef,
                "bedrooms" => strings(reports.iter().map(|_| "three".to_owned())),
                _ => Arc::clone(array),
            };
            (name, array)
        })
        .collect();
    write([batch(columns)], BATCH_ROWS)
}

/// A v1 file without any column a listing id can come from (`zpid`, `uri`, `url`).
pub fn v1_without_ids(reports: &[Report]) -> anyhow::Result<Vec<u8>> {
    let mut trimmed = v1_batch(reports)?;
    for column in ["zpid", "uri", "url"] {
        let index = trimmed
            .schema()
            .index_of(column)
            .with_context(|| format!("v1 batches have {column}"))?;
        trimmed.remove_column(index);
    }
    write([Ok(trimmed)], BATCH_ROWS)
}

/// The JSON row a pandas user would build the same file from (for the pyarrow fixtures).
#[must_use]
pub fn v1_json(report: &Report) -> Value {
    json!({
        "uri": report.uri(),
        "datetime": report.scraped_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "label": report.zip,
        "zpid": report.zpid.to_string(),
        "price": report.price,
        "address": report.full_address(),
        "bedrooms": report.bedrooms,
        "bathrooms": report.bathrooms,
        "living_area": report.living_area,
        "home_type": report.home_type,
        "home_status": report.home_status,
        "days_on_zillow": report.days_on_market,
        "url": report.url(),
        "zip_code": report.zip,
        "city": report.city,
        "state": report.state,
        "latitude": report.latitude,
        "longitude": report.longitude,
    })
}

/// The JSON row of a v2 file.
#[must_use]
pub fn v2_json(report: &Report) -> Value {
    json!({
        "address": report.full_address(),
        "zipcode": report.zip,
        "price": report.price,
        "bedrooms": report.bedrooms,
        "bathrooms": report.bathrooms,
        "sqft": report.living_area,
        "listing_date": report.listing_date.format("%Y-%m-%d").to_string(),
        "property_type": report.v2_property_type(),
        "listing_status": report.v2_listing_status(),
        "days_on_market": report.days_on_market,
        "mls_id": report.mls_id,
        "source_url": report.url(),
        "scraped_timestamp": report.scraped_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}
