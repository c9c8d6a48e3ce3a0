//! The attestation files: one row per attestation, the columns a consensus algorithm reads and
//! the ones a researcher slices by.

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
use resi_projections::consensus::{Dataset, MinerReport};

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

/// One batch's columns, typed, and each row's values as the lab reads them.
struct Columns<'b> {
    id: &'b StringArray,
    listing: &'b StringArray,
    miner: &'b StringArray,
    scraped: &'b TimestampMicrosecondArray,
    submitted: &'b TimestampMicrosecondArray,
    trust: &'b Float64Array,
    price: &'b Int64Array,
    bedrooms: &'b Int32Array,
    bathrooms: &'b Int32Array,
    area: &'b Int64Array,
    latitude: &'b Int32Array,
    longitude: &'b Int32Array,
    /// In [`TEXT_COLUMNS`] order.
    texts: [&'b StringArray; TEXT_COLUMNS.len()],
    epoch: &'b StringArray,
    key: &'b StringArray,
}

impl<'b> Columns<'b> {
    fn of(batch: &'b RecordBatch) -> anyhow::Result<Self> {
        let [address, home_type, status, zip, city, state] = TEXT_COLUMNS;
        Ok(Self {
            id: column(batch, "attestation_id")?,
            listing: column(batch, "listing_id")?,
            miner: column(batch, "miner_hotkey")?,
            scraped: column(batch, "scraped_at")?,
            submitted: column(batch, "submitted_at")?,
            trust: column(batch, "miner_trust")?,
            price: column(batch, "price_usd")?,
            bedrooms: column(batch, "bedrooms")?,
            bathrooms: column(batch, "bathrooms_tenths")?,
            area: column(batch, "living_area_sqft")?,
            latitude: column(batch, "latitude_e7")?,
            longitude: column(batch, "longitude_e7")?,
            texts: [
                column(batch, address)?,
                column(batch, home_type)?,
                column(batch, status)?,
                column(batch, zip)?,
                column(batch, city)?,
                column(batch, state)?,
            ],
            epoch: column(batch, "epoch_id")?,
            key: column(batch, "upload_key")?,
        })
    }

    fn price(&self, index: usize) -> Option<i64> {
        self.price.is_valid(index).then(|| self.price.value(index))
    }

    fn small(array: &Int32Array, index: usize) -> Option<u16> {
        Self::int(array, index).and_then(|value| u16::try_from(value).ok())
    }

    fn int(array: &Int32Array, index: usize) -> Option<i32> {
        array.is_valid(index).then(|| array.value(index))
    }

    fn living_area(&self, index: usize) -> Option<u32> {
        self.area
            .is_valid(index)
            .then(|| self.area.value(index))
            .and_then(|value| u32::try_from(value).ok())
    }

    fn text(array: &'b StringArray, index: usize) -> Option<&'b str> {
        array.is_valid(index).then(|| array.value(index))
    }
}

/// Reads every batch of the attestation files under `root`, calling `each` with its file and
/// columns; returns the rows read.
fn batches(
    root: &Path,
    mut each: impl FnMut(&Path, &Columns<'_>, usize) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut rows = 0;
    for path in files(root)? {
        let file = std::fs::File::open(&path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .with_context(|| format!("{} is not a Parquet file", path.display()))?
            .with_batch_size(8_192)
            .build()?;
        for batch in reader {
            let batch = batch.with_context(|| format!("failed to read {}", path.display()))?;
            each(&path, &Columns::of(&batch)?, batch.num_rows())?;
            rows += batch.num_rows() as u64;
        }
    }
    Ok(rows)
}

/// Reads every row of the attestation files under `root`, calling `each` with it.
pub fn read(root: &Path, mut each: impl FnMut(Row)) -> anyhow::Result<u64> {
    batches(root, |_, columns, rows| {
        for index in 0..rows {
            let text = |slot: usize| Columns::text(columns.texts[slot], index).map(str::to_owned);
            let [address, home_type, home_status, zip_code, city, state] =
                std::array::from_fn(text);
            each(Row {
                attestation_id: columns.id.value(index).to_owned(),
                miner_hotkey: columns.miner.value(index).to_owned(),
                scraped_at: columns.scraped.value(index),
                submitted_at: columns.submitted.value(index),
                miner_trust: columns.trust.value(index),
                listing: CanonicalListing {
                    listing_id: columns.listing.value(index).to_owned(),
                    price_usd: columns.price(index),
                    bedrooms: Columns::small(columns.bedrooms, index),
                    bathrooms_tenths: Columns::small(columns.bathrooms, index),
                    living_area_sqft: columns.living_area(index),
                    address,
                    home_type,
                    home_status,
                    latitude_e7: Columns::int(columns.latitude, index),
                    longitude_e7: Columns::int(columns.longitude, index),
                    zip_code,
                    city,
                    state,
                    ..CanonicalListing::default()
                },
                epoch_id: Columns::text(columns.epoch, index).map(str::to_owned),
                upload_key: columns.key.value(index).to_owned(),
            });
        }
        Ok(())
    })
}

/// Text values are interned: an index into [`LatestReports`]'s texts, or this for none.
const NO_TEXT: u32 = u32::MAX;

/// The text columns a report keeps, in this order.
const TEXT_COLUMNS: [&str; 6] = [
    "address",
    "home_type",
    "home_status",
    "zip_code",
    "city",
    "state",
];

/// One report as the lab holds it: numbers as numbers, hotkey and texts interned. A fraction of
/// the size of a [`MinerReport`]'s twelve strings; reports are built from it only when decided.
#[derive(Clone, Copy, Debug)]
struct Compact {
    reported_at: i64,
    trust: f64,
    price: Option<i64>,
    living_area: Option<u32>,
    latitude: Option<i32>,
    longitude: Option<i32>,
    bedrooms: Option<u16>,
    bathrooms: Option<u16>,
    miner: u32,
    texts: [u32; TEXT_COLUMNS.len()],
}

/// Distinct strings by number, each held once.
#[derive(Default)]
struct Interner {
    numbers: std::collections::HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
    strings: Vec<Arc<str>>,
}

impl Interner {
    fn number(&mut self, value: &str) -> anyhow::Result<u32> {
        if let Some(&number) = self.numbers.get(value) {
            return Ok(number);
        }
        let number = u32::try_from(self.strings.len())
            .ok()
            .filter(|&number| number != NO_TEXT)
            .context("more distinct strings than the lab can number")?;
        let value: Arc<str> = value.into();
        self.numbers.insert(value.clone(), number);
        self.strings.push(value);
        Ok(number)
    }
}

/// Each miner's latest report of each listing among the attestations under `root` (the rule the
/// consensus projection keeps: see `MinerReport::replaces`), listings in id order and each
/// listing's reports in miner order. Held compactly (numbers as numbers, strings interned) and
/// turned into [`MinerReport`]s one listing at a time, when decided.
pub struct LatestReports {
    listing_ids: Vec<Arc<str>>,
    miners: Vec<Arc<str>>,
    texts: Vec<Arc<str>>,
    /// Listing `i`'s reports are `reports[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    reports: Vec<Compact>,
}

impl LatestReports {
    /// Reads the attestation files under `root`; also returns the rows read.
    ///
    /// # Errors
    /// A file that cannot be read, lacks a column or holds an attestation id that is not an
    /// event id.
    pub fn read(root: &Path) -> anyhow::Result<(Self, u64)> {
        let (mut listings, mut miners, mut texts) = (
            Interner::default(),
            Interner::default(),
            Interner::default(),
        );
        let mut latest: std::collections::HashMap<
            (u32, u32),
            (Compact, [u8; 32]),
            foldhash::fast::RandomState,
        > = std::collections::HashMap::default();
        let rows = batches(root, |path, columns, rows| {
            for index in 0..rows {
                let mut text_numbers = [NO_TEXT; TEXT_COLUMNS.len()];
                for (number, array) in text_numbers.iter_mut().zip(columns.texts) {
                    if let Some(text) = Columns::text(array, index) {
                        *number = texts.number(text)?;
                    }
                }
                let report = Compact {
                    reported_at: columns.scraped.value(index),
                    trust: columns.trust.value(index),
                    price: columns.price(index),
                    living_area: columns.living_area(index),
                    latitude: Columns::int(columns.latitude, index),
                    longitude: Columns::int(columns.longitude, index),
                    bedrooms: Columns::small(columns.bedrooms, index),
                    bathrooms: Columns::small(columns.bathrooms, index),
                    miner: miners.number(columns.miner.value(index))?,
                    texts: text_numbers,
                };
                let id = columns.id.value(index);
                let mut event_id = [0_u8; 32];
                hex::decode_to_slice(id, &mut event_id).with_context(|| {
                    format!(
                        "{}: attestation_id {id:?} is not an event id",
                        path.display()
                    )
                })?;
                let key = (listings.number(columns.listing.value(index))?, report.miner);
                let replace = match latest.get(&key) {
                    None => true,
                    Some((current, current_id)) => {
                        match report.reported_at.cmp(&current.reported_at) {
                            std::cmp::Ordering::Greater => true,
                            std::cmp::Ordering::Less => false,
                            // as late: the full rule decides, on the values as text
                            std::cmp::Ordering::Equal => {
                                let strings = (miners.strings.as_slice(), texts.strings.as_slice());
                                report_of(strings, &report).replaces(
                                    &event_id,
                                    &report_of(strings, current),
                                    current_id,
                                )
                            }
                        }
                    }
                };
                if replace {
                    latest.insert(key, (report, event_id));
                }
            }
            Ok(())
        })?;
        // listings in id order, each one's reports in miner order
        let rank = |strings: &[Arc<str>]| {
            let mut order: Vec<u32> = (0..strings.len() as u32).collect();
            order.sort_unstable_by(|&a, &b| strings[a as usize].cmp(&strings[b as usize]));
            let mut rank = vec![0_u32; strings.len()];
            for (position, number) in order.iter().enumerate() {
                rank[*number as usize] = position as u32;
            }
            (order, rank)
        };
        let (listing_order, listing_rank) = rank(&listings.strings);
        let (_, miner_rank) = rank(&miners.strings);
        let mut reports: Vec<(u32, u32, Compact)> = latest
            .into_iter()
            .map(|((listing, miner), (report, _))| {
                (
                    listing_rank[listing as usize],
                    miner_rank[miner as usize],
                    report,
                )
            })
            .collect();
        reports.sort_unstable_by_key(|&(listing, miner, _)| (listing, miner));
        let mut starts = Vec::with_capacity(listing_order.len() + 1);
        for (index, (listing, _, _)) in reports.iter().enumerate() {
            while starts.len() <= *listing as usize {
                starts.push(index);
            }
        }
        starts.push(reports.len());
        let listing_ids = listing_order
            .iter()
            .map(|&number| listings.strings[number as usize].clone())
            .collect();
        Ok((
            Self {
                listing_ids,
                miners: miners.strings,
                texts: texts.strings,
                starts,
                reports: reports.into_iter().map(|(_, _, report)| report).collect(),
            },
            rows,
        ))
    }

    /// Listing `index`'s id.
    #[must_use]
    pub fn listing_id(&self, index: usize) -> &str {
        &self.listing_ids[index]
    }

    /// Listing `index`'s reports, each miner's latest, in miner order.
    #[must_use]
    pub fn reports(&self, index: usize) -> Vec<MinerReport> {
        self.reports[self.starts[index]..self.starts[index + 1]]
            .iter()
            .map(|report| report_of((&self.miners[..], &self.texts[..]), report))
            .collect()
    }
}

impl Dataset for LatestReports {
    fn len(&self) -> usize {
        self.listing_ids.len()
    }

    fn for_each(&self, each: &mut dyn FnMut(&[MinerReport])) {
        for index in 0..self.len() {
            each(&self.reports(index));
        }
    }
}

/// The consensus input `report` is, given the interned (miners, texts).
fn report_of((miners, texts): (&[Arc<str>], &[Arc<str>]), report: &Compact) -> MinerReport {
    let text = |slot: usize| {
        let number = report.texts[slot];
        (number != NO_TEXT).then(|| texts[number as usize].to_string())
    };
    let [address, home_type, home_status, zip_code, city, state] = std::array::from_fn(text);
    let listing = CanonicalListing {
        price_usd: report.price,
        bedrooms: report.bedrooms,
        bathrooms_tenths: report.bathrooms,
        living_area_sqft: report.living_area,
        address,
        home_type,
        home_status,
        latitude_e7: report.latitude,
        longitude_e7: report.longitude,
        zip_code,
        city,
        state,
        ..CanonicalListing::default()
    };
    MinerReport::of(
        &miners[report.miner as usize],
        report.reported_at,
        report.trust,
        &listing,
    )
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

    /// An event id: 64 hex digits.
    fn id(digit: char) -> String {
        std::iter::repeat_n(digit, 64).collect()
    }

    #[test]
    fn rows_round_trip_and_each_miner_counts_with_its_latest_report() -> anyhow::Result<()> {
        let directory = tempfile::tempdir()?;
        let mut later_twin = row(&id('1'), "m3", 30, Some(500_000));
        later_twin.miner_trust = 0.9;
        let mut rows = vec![
            row(&id('a'), "m1", 10, Some(400_000)),
            row(&id('b'), "m1", 20, Some(410_000)),
            row(&id('c'), "m2", 15, None),
            // as late: the greater price wins, then the same report under the smaller id
            row(&id('5'), "m3", 30, Some(490_000)),
            row(&id('4'), "m3", 30, Some(500_000)),
            later_twin,
        ];
        rows[2].listing.address = Some("1 Main St".into());
        rows[2].listing.city = None;
        let path = directory.path().join("date=x/part-0.parquet");
        std::fs::create_dir_all(path.parent().context("a parent")?)?;
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path)?, schema(), None)?;
        writer.write(&batch(&rows)?)?;
        writer.close()?;
        let mut read = Vec::new();
        assert_eq!(super::read(directory.path(), |row| read.push(row))?, 6);
        assert_eq!(read, rows);
        let (latest, count) = LatestReports::read(directory.path())?;
        assert_eq!((count, latest.len(), latest.listing_id(0)), (6, 1, "7"));
        // each miner's latest, in miner order, equal to the report its row makes
        assert_eq!(
            latest.reports(0),
            [rows[1].report(), rows[2].report(), rows[5].report()]
        );
        let mut lent = Vec::new();
        Dataset::for_each(&latest, &mut |reports| lent.push(reports.to_vec()));
        assert_eq!(lent, [latest.reports(0)]);
        assert!(files(&directory.path().join("nothing")).is_err());
        Ok(())
    }

    #[test]
    fn listings_come_in_id_order_and_an_id_that_is_no_event_id_is_refused() -> anyhow::Result<()> {
        let directory = tempfile::tempdir()?;
        let mut rows: Vec<Row> = ["9", "10", "8"]
            .iter()
            .map(|listing| {
                let mut row = row(&id('e'), "m1", 1, Some(1));
                row.listing.listing_id = (*listing).into();
                row
            })
            .collect();
        let write = |rows: &[Row]| -> anyhow::Result<()> {
            let path = directory.path().join("part-0.parquet");
            let mut writer = parquet::arrow::ArrowWriter::try_new(
                std::fs::File::create(&path)?,
                schema(),
                None,
            )?;
            writer.write(&batch(rows)?)?;
            writer.close()?;
            Ok(())
        };
        write(&rows)?;
        let (latest, _) = LatestReports::read(directory.path())?;
        let ids: Vec<&str> = (0..latest.len())
            .map(|index| latest.listing_id(index))
            .collect();
        assert_eq!(ids, ["10", "8", "9"]);
        rows[1].attestation_id = "not hex".into();
        write(&rows)?;
        let refused = LatestReports::read(directory.path())
            .err()
            .map(|error| error.to_string());
        assert!(
            refused.is_some_and(|error| error.contains("is not an event id")),
            "refused"
        );
        Ok(())
    }
}
