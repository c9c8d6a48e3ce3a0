//! The attestation files: one row per attestation, the columns a consensus algorithm reads and
//! the ones a researcher slices by.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use arrow::array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use resi_events::{CanonicalListing, ListingAttested};
use resi_projections::consensus::MinerReport;

/// The file schema.
#[must_use]
pub fn schema() -> SchemaRef {
    let time = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("attestation_id", DataType::Utf8, false),
        Field::new("listing_id", DataType::Utf8, false),
        Field::new("miner_hotkey", DataType::Utf8, false),
        Field::new("scraped_at", time(), false),
        Field::new("submitted_at", time(), false),
        Field::new("miner_trust", DataType::Float64, false),
        Field::new("price_usd", DataType::Int64, true),
        Field::new("bedrooms", DataType::Int32, true),
        Field::new("bathrooms_tenths", DataType::Int32, true),
        Field::new("living_area_sqft", DataType::Int64, true),
        text("address"),
        text("home_type"),
        text("home_status"),
        Field::new("latitude_e7", DataType::Int32, true),
        Field::new("longitude_e7", DataType::Int32, true),
        text("zip_code"),
        text("city"),
        text("state"),
        text("epoch_id"),
        Field::new("upload_key", DataType::Utf8, false),
    ]))
}

/// One attestation, as a row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The event id, hex.
    pub attestation_id: String,
    /// The miner.
    pub miner_hotkey: String,
    /// When scraped, microseconds.
    pub scraped_at: i64,
    /// When uploaded (the store's time), microseconds.
    pub submitted_at: i64,
    /// Trust recorded with it.
    pub miner_trust: f64,
    /// The listing.
    pub listing: CanonicalListing,
    /// Its epoch, if an epoch upload.
    pub epoch_id: Option<String>,
    /// Its upload's key.
    pub upload_key: String,
}

impl Row {
    /// The row of `attested`, event `id`.
    #[must_use]
    pub fn of(id: &resi_events::EventId, attested: &ListingAttested) -> Self {
        Self {
            attestation_id: id.to_hex(),
            miner_hotkey: attested.miner_hotkey.clone(),
            scraped_at: attested.scraped_at.as_micros(),
            submitted_at: attested.submitted_at.as_micros(),
            miner_trust: attested.miner_trust,
            listing: attested.listing.clone(),
            epoch_id: attested.epoch_id.clone(),
            upload_key: attested.key.clone(),
        }
    }

    /// The consensus input this row is.
    #[must_use]
    pub fn report(&self) -> MinerReport {
        MinerReport::of(
            &self.miner_hotkey,
            self.scraped_at,
            self.miner_trust,
            &self.listing,
        )
    }
}

/// `rows` as one record batch.
pub fn batch(rows: &[Row]) -> anyhow::Result<RecordBatch> {
    let text = |get: &dyn Fn(&Row) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(get).collect::<StringArray>())
    };
    let time = |get: &dyn Fn(&Row) -> i64| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|row| Some(get(row)))
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|row| Some(row.attestation_id.as_str())),
        text(&|row| Some(row.listing.listing_id.as_str())),
        text(&|row| Some(row.miner_hotkey.as_str())),
        time(&|row| row.scraped_at),
        time(&|row| row.submitted_at),
        Arc::new(
            rows.iter()
                .map(|row| Some(row.miner_trust))
                .collect::<Float64Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|row| row.listing.price_usd)
                .collect::<Int64Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|row| row.listing.bedrooms.map(i32::from))
                .collect::<Int32Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|row| row.listing.bathrooms_tenths.map(i32::from))
                .collect::<Int32Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|row| row.listing.living_area_sqft.map(i64::from))
                .collect::<Int64Array>(),
        ),
        text(&|row| row.listing.address.as_deref()),
        text(&|row| row.listing.home_type.as_deref()),
        text(&|row| row.listing.home_status.as_deref()),
        Arc::new(
            rows.iter()
                .map(|row| row.listing.latitude_e7)
                .collect::<Int32Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|row| row.listing.longitude_e7)
                .collect::<Int32Array>(),
        ),
        text(&|row| row.listing.zip_code.as_deref()),
        text(&|row| row.listing.city.as_deref()),
        text(&|row| row.listing.state.as_deref()),
        text(&|row| row.epoch_id.as_deref()),
        text(&|row| Some(row.upload_key.as_str())),
    ];
    RecordBatch::try_new(schema(), columns).context("attestation rows do not fit the schema")
}

/// Every `.parquet` file under `root` (a file, or a directory searched recursively), sorted.
pub fn files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if root.is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let mut found = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory)
            .with_context(|| format!("failed to list {}", directory.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "parquet")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    anyhow::ensure!(
        !found.is_empty(),
        "no .parquet file under {}",
        root.display()
    );
    Ok(found)
}

fn column<'b, T: 'static>(batch: &'b RecordBatch, name: &str) -> anyhow::Result<&'b T> {
    batch
        .column_by_name(name)
        .with_context(|| format!("the attestation file has no column {name}"))?
        .as_any()
        .downcast_ref::<T>()
        .with_context(|| format!("column {name} is not of the lab's type"))
}

fn text_at(array: &StringArray, index: usize) -> Option<String> {
    array.is_valid(index).then(|| array.value(index).to_owned())
}

/// Reads every row of the attestation files under `root`, calling `each` with it.
pub fn read(root: &Path, mut each: impl FnMut(Row)) -> anyhow::Result<u64> {
    let mut rows = 0;
    for path in files(root)? {
        rows += read_file(&path, &mut each)?;
    }
    Ok(rows)
}

/// Reads every row of the attestation file `path`, calling `each` with it.
fn read_file(path: &Path, mut each: impl FnMut(Row)) -> anyhow::Result<u64> {
    let mut rows = 0;
    {
        let file = std::fs::File::open(path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .with_context(|| format!("{} is not a Parquet file", path.display()))?
            .with_batch_size(8_192)
            .build()?;
        for batch in reader {
            let batch = batch.with_context(|| format!("failed to read {}", path.display()))?;
            let id = column::<StringArray>(&batch, "attestation_id")?;
            let listing = column::<StringArray>(&batch, "listing_id")?;
            let miner = column::<StringArray>(&batch, "miner_hotkey")?;
            let scraped = column::<TimestampMicrosecondArray>(&batch, "scraped_at")?;
            let submitted = column::<TimestampMicrosecondArray>(&batch, "submitted_at")?;
            let trust = column::<Float64Array>(&batch, "miner_trust")?;
            let price = column::<Int64Array>(&batch, "price_usd")?;
            let bedrooms = column::<Int32Array>(&batch, "bedrooms")?;
            let bathrooms = column::<Int32Array>(&batch, "bathrooms_tenths")?;
            let area = column::<Int64Array>(&batch, "living_area_sqft")?;
            let address = column::<StringArray>(&batch, "address")?;
            let home_type = column::<StringArray>(&batch, "home_type")?;
            let status = column::<StringArray>(&batch, "home_status")?;
            let latitude = column::<Int32Array>(&batch, "latitude_e7")?;
            let longitude = column::<Int32Array>(&batch, "longitude_e7")?;
            let zip = column::<StringArray>(&batch, "zip_code")?;
            let city = column::<StringArray>(&batch, "city")?;
            let state = column::<StringArray>(&batch, "state")?;
            let epoch = column::<StringArray>(&batch, "epoch_id")?;
            let key = column::<StringArray>(&batch, "upload_key")?;
            for index in 0..batch.num_rows() {
                let int = |array: &Int32Array| array.is_valid(index).then(|| array.value(index));
                let small =
                    |array: &Int32Array| int(array).and_then(|value| u16::try_from(value).ok());
                each(Row {
                    attestation_id: id.value(index).to_owned(),
                    miner_hotkey: miner.value(index).to_owned(),
                    scraped_at: scraped.value(index),
                    submitted_at: submitted.value(index),
                    miner_trust: trust.value(index),
                    listing: CanonicalListing {
                        listing_id: listing.value(index).to_owned(),
                        price_usd: price.is_valid(index).then(|| price.value(index)),
                        bedrooms: small(bedrooms),
                        bathrooms_tenths: small(bathrooms),
                        living_area_sqft: area
                            .is_valid(index)
                            .then(|| area.value(index))
                            .and_then(|value| u32::try_from(value).ok()),
                        address: text_at(address, index),
                        home_type: text_at(home_type, index),
                        home_status: text_at(status, index),
                        latitude_e7: int(latitude),
                        longitude_e7: int(longitude),
                        zip_code: text_at(zip, index),
                        city: text_at(city, index),
                        state: text_at(state, index),
                        ..CanonicalListing::default()
                    },
                    epoch_id: text_at(epoch, index),
                    upload_key: key.value(index).to_owned(),
                });
                rows += 1;
            }
        }
    }
    Ok(rows)
}

/// Each miner's latest report of each listing among the attestations under `root` (the rule the
/// consensus projection keeps: see `MinerReport::replaces`), by listing, each listing's reports
/// in miner order; and the rows read. One ordered map, filled file by file: reading the files
/// in parallel into a map each and merging them measured 2.8 times slower and 1.6 times larger
/// (BENCHMARKS.md, "Consensus lab").
pub fn latest_reports(root: &Path) -> anyhow::Result<(BTreeMap<String, Vec<MinerReport>>, u64)> {
    let mut latest: BTreeMap<(String, String), (MinerReport, String)> = BTreeMap::new();
    let rows = read(root, |row| {
        let report = row.report();
        let key = (row.listing.listing_id.clone(), row.miner_hotkey.clone());
        match latest.get(&key) {
            Some((current, current_id))
                if !report.replaces(
                    row.attestation_id.as_bytes(),
                    current,
                    current_id.as_bytes(),
                ) => {}
            _ => {
                latest.insert(key, (report, row.attestation_id));
            }
        }
    })?;
    let mut by_listing: BTreeMap<String, Vec<MinerReport>> = BTreeMap::new();
    for ((listing, _), (report, _)) in latest {
        by_listing.entry(listing).or_default().push(report);
    }
    Ok((by_listing, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, miner: &str, at: i64, price: Option<i64>) -> Row {
        Row {
            attestation_id: id.into(),
            miner_hotkey: miner.into(),
            scraped_at: at,
            submitted_at: at + 1,
            miner_trust: 0.5,
            listing: CanonicalListing {
                listing_id: "7".into(),
                price_usd: price,
                bedrooms: Some(3),
                latitude_e7: Some(302_000_000),
                longitude_e7: Some(-977_000_000),
                home_status: Some("FOR_SALE".into()),
                ..CanonicalListing::default()
            },
            epoch_id: None,
            upload_key: "data/k.parquet".into(),
        }
    }

    #[test]
    fn rows_round_trip_and_each_miner_counts_with_its_latest_report() -> anyhow::Result<()> {
        let directory = tempfile::tempdir()?;
        let rows = vec![
            row("aa", "m1", 10, Some(400_000)),
            row("bb", "m1", 20, Some(410_000)),
            row("cc", "m2", 15, None),
        ];
        let path = directory.path().join("date=x/part-0.parquet");
        std::fs::create_dir_all(path.parent().context("a parent")?)?;
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path)?, schema(), None)?;
        writer.write(&batch(&rows)?)?;
        writer.close()?;
        let mut read = Vec::new();
        assert_eq!(super::read(directory.path(), |row| read.push(row))?, 3);
        assert_eq!(read, rows);
        let (latest, count) = latest_reports(directory.path())?;
        assert_eq!(count, 3);
        let reports = &latest["7"];
        assert_eq!(reports.len(), 2);
        let m1 = reports.iter().find(|report| report.miner == "m1");
        assert_eq!(
            m1.and_then(|report| report.values[0].clone()).as_deref(),
            Some("410000")
        );
        assert!(files(&directory.path().join("nothing")).is_err());
        Ok(())
    }
}
