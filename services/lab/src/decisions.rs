//! The decisions files: one row per listing and field, the chosen value with its confidence,
//! support and supporters, and the listing's score.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use arrow::array::{Array, ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// One decided field of one listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The listing.
    pub listing_id: String,
    /// The field's name (`price`, `home_status`, …).
    pub field: String,
    /// The chosen value, as consensus compares it.
    pub value: String,
    /// Supporting miners / miners reporting the field.
    pub confidence: f64,
    /// The chosen value's weighted support.
    pub support: f64,
    /// Miners supporting it.
    pub supporters: i32,
    /// Miners reporting the field.
    pub reporting: i32,
    /// The listing's consensus score.
    pub listing_score: f64,
}

/// Decisions by (listing, field).
pub type Decisions = BTreeMap<(String, String), Decision>;

/// The file schema.
#[must_use]
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("listing_id", DataType::Utf8, false),
        Field::new("field", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
        Field::new("confidence", DataType::Float64, false),
        Field::new("support", DataType::Float64, false),
        Field::new("supporters", DataType::Int32, false),
        Field::new("reporting", DataType::Int32, false),
        Field::new("listing_score", DataType::Float64, false),
    ]))
}

fn batch(rows: &[Decision]) -> anyhow::Result<RecordBatch> {
    let text = |get: fn(&Decision) -> &str| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|row| Some(get(row)))
                .collect::<StringArray>(),
        )
    };
    let float = |get: fn(&Decision) -> f64| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|row| Some(get(row)))
                .collect::<Float64Array>(),
        )
    };
    let int = |get: fn(&Decision) -> i32| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|row| Some(get(row)))
                .collect::<Int32Array>(),
        )
    };
    RecordBatch::try_new(
        schema(),
        vec![
            text(|row| &row.listing_id),
            text(|row| &row.field),
            text(|row| &row.value),
            float(|row| row.confidence),
            float(|row| row.support),
            int(|row| row.supporters),
            int(|row| row.reporting),
            float(|row| row.listing_score),
        ],
    )
    .context("decisions do not fit the schema")
}

/// Writes `decisions` (in key order) to `path`.
pub fn write(path: &Path, decisions: impl IntoIterator<Item = Decision>) -> anyhow::Result<u64> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    let file = std::fs::File::create(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema(), Some(properties))?;
    let mut rows = Vec::with_capacity(65_536);
    let mut written = 0;
    for decision in decisions {
        rows.push(decision);
        if rows.len() == 65_536 {
            writer.write(&batch(&rows)?)?;
            written += rows.len() as u64;
            rows.clear();
        }
    }
    writer.write(&batch(&rows)?)?;
    written += rows.len() as u64;
    writer.close()?;
    Ok(written)
}

fn column<'b, T: 'static>(batch: &'b RecordBatch, name: &str) -> anyhow::Result<&'b T> {
    batch
        .column_by_name(name)
        .with_context(|| format!("the decisions file has no column {name}"))?
        .as_any()
        .downcast_ref::<T>()
        .with_context(|| format!("column {name} is not of the lab's type"))
}

/// Reads the decisions file at `path`.
pub fn read(path: &Path) -> anyhow::Result<Decisions> {
    let file =
        std::fs::File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a Parquet file", path.display()))?
        .build()?;
    let mut decisions = Decisions::new();
    for batch in reader {
        let batch = batch?;
        let listing = column::<StringArray>(&batch, "listing_id")?;
        let field = column::<StringArray>(&batch, "field")?;
        let value = column::<StringArray>(&batch, "value")?;
        let confidence = column::<Float64Array>(&batch, "confidence")?;
        let support = column::<Float64Array>(&batch, "support")?;
        let supporters = column::<Int32Array>(&batch, "supporters")?;
        let reporting = column::<Int32Array>(&batch, "reporting")?;
        let score = column::<Float64Array>(&batch, "listing_score")?;
        for index in 0..batch.num_rows() {
            anyhow::ensure!(
                listing.is_valid(index) && field.is_valid(index) && value.is_valid(index),
                "{}: row {index} lacks its listing, field or value",
                path.display()
            );
            let decision = Decision {
                listing_id: listing.value(index).to_owned(),
                field: field.value(index).to_owned(),
                value: value.value(index).to_owned(),
                confidence: confidence.value(index),
                support: support.value(index),
                supporters: supporters.value(index),
                reporting: reporting.value(index),
                listing_score: score.value(index),
            };
            decisions.insert(
                (decision.listing_id.clone(), decision.field.clone()),
                decision,
            );
        }
    }
    Ok(decisions)
}

/// The decisions of a consensus build in the database (`{schema}` = `consensus_<version>`):
/// each listing's chosen values from `consensus_listings`, in the lab's field names. A build
/// stores each listing's score, not each field's confidence: both are the listing's score here,
/// and supporters and reporting miners are not known (0).
pub async fn from_build(
    client: &tokio_postgres::Client,
    schema: &str,
) -> anyhow::Result<Decisions> {
    anyhow::ensure!(
        schema
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'),
        "{schema:?} is not a build's schema"
    );
    let rows = client
        .query(
            &format!(
                "SELECT listing_id, consensus_score, price_usd::text, bedrooms::text,
                        bathrooms_tenths::text, living_area_sqft::text, address, home_type,
                        home_status,
                        CASE WHEN latitude_e7 IS NOT NULL AND longitude_e7 IS NOT NULL
                             THEN latitude_e7 || ',' || longitude_e7 END,
                        zip_code, city, state
                   FROM {schema}.consensus_listings"
            ),
            &[],
        )
        .await
        .with_context(|| format!("failed to read the decisions of {schema}"))?;
    let names =
        resi_projections::consensus::Field::ALL.map(resi_projections::consensus::Field::as_str);
    let mut decisions = Decisions::new();
    for row in rows {
        let listing: String = row.get(0);
        let score: f64 = row.get(1);
        for (offset, field) in names.iter().enumerate() {
            let Some(value) = row.get::<_, Option<String>>(offset + 2) else {
                continue;
            };
            decisions.insert(
                (listing.clone(), (*field).to_owned()),
                Decision {
                    listing_id: listing.clone(),
                    field: (*field).to_owned(),
                    value,
                    confidence: score,
                    support: 0.0,
                    supporters: 0,
                    reporting: 0,
                    listing_score: score,
                },
            );
        }
    }
    Ok(decisions)
}
