//! One row of either schema → a canonical listing, or the reason it is rejected.

use arrow::array::RecordBatch;
use resi_events::id::IdHasher;
use resi_events::{CanonicalListing, RejectReason, Timestamp, UploadFormat, normalize};

use crate::coerce::{
    Cell, CoerceError, Coerced, ColumnSpec, SchemaError, SchemaPlan, Target, coerce, plan,
};

/// Prices outside this range (dollars) are rejected, as the seed's sanity check has it.
pub const PRICE_RANGE: std::ops::RangeInclusive<i64> = 1_000..=100_000_000;
/// Plausible bedroom counts.
pub const BEDROOM_RANGE: std::ops::RangeInclusive<f64> = 0.0..=50.0;
/// Plausible bathroom counts.
pub const BATHROOM_RANGE: std::ops::RangeInclusive<f64> = 0.0..=50.0;
/// Plausible living areas, square feet.
pub const LIVING_AREA_RANGE: std::ops::RangeInclusive<f64> = 100.0..=100_000.0;
/// Longest accepted listing id.
pub const MAX_LISTING_ID_LEN: usize = 64;

const fn text(name: &'static str, required: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        target: Target::Text,
        required,
    }
}
const fn number(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        target: Target::Number,
        required: false,
    }
}
const fn instant(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        target: Target::Instant,
        required: false,
    }
}

/// The v1 (Zillow) columns.
pub const V1_SPECS: [ColumnSpec; 18] = [
    text("zpid", true),
    text("uri", false),
    instant("datetime"),
    number("price"),
    text("address", false),
    number("bedrooms"),
    number("bathrooms"),
    number("living_area"),
    text("home_type", false),
    text("home_status", false),
    number("days_on_zillow"),
    text("url", false),
    text("zip_code", false),
    text("city", false),
    text("state", false),
    number("latitude"),
    number("longitude"),
    text("label", false),
];

/// The v2 (epoch) columns.
pub const V2_SPECS: [ColumnSpec; 13] = [
    text("address", false),
    text("zipcode", false),
    number("price"),
    number("bedrooms"),
    number("bathrooms"),
    number("sqft"),
    instant("listing_date"),
    text("property_type", false),
    text("listing_status", false),
    number("days_on_market"),
    text("mls_id", false),
    text("source_url", false),
    instant("scraped_timestamp"),
];

/// Indices into the specs, per field.
mod v1 {
    pub const ZPID: usize = 0;
    pub const URI: usize = 1;
    pub const DATETIME: usize = 2;
    pub const PRICE: usize = 3;
    pub const ADDRESS: usize = 4;
    pub const BEDROOMS: usize = 5;
    pub const BATHROOMS: usize = 6;
    pub const LIVING_AREA: usize = 7;
    pub const HOME_TYPE: usize = 8;
    pub const HOME_STATUS: usize = 9;
    pub const DAYS: usize = 10;
    pub const URL: usize = 11;
    pub const ZIP: usize = 12;
    pub const CITY: usize = 13;
    pub const STATE: usize = 14;
    pub const LATITUDE: usize = 15;
    pub const LONGITUDE: usize = 16;
    pub const LABEL: usize = 17;
}

mod v2 {
    pub const ADDRESS: usize = 0;
    pub const ZIP: usize = 1;
    pub const PRICE: usize = 2;
    pub const BEDROOMS: usize = 3;
    pub const BATHROOMS: usize = 4;
    pub const SQFT: usize = 5;
    pub const LISTING_DATE: usize = 6;
    pub const PROPERTY_TYPE: usize = 7;
    pub const LISTING_STATUS: usize = 8;
    pub const DAYS: usize = 9;
    pub const MLS_ID: usize = 10;
    pub const SOURCE_URL: usize = 11;
    pub const SCRAPED: usize = 12;
}

/// The specs of a format.
#[must_use]
pub const fn specs(format: UploadFormat) -> &'static [ColumnSpec] {
    match format {
        UploadFormat::V1 => &V1_SPECS,
        UploadFormat::V2 => &V2_SPECS,
    }
}

/// Plans a file of `format`; a v2 file must have at least one column that can identify a listing.
pub fn plan_format(
    schema: &arrow::datatypes::Schema,
    format: UploadFormat,
) -> Result<SchemaPlan, SchemaError> {
    let planned = plan(schema, specs(format))?;
    if format == UploadFormat::V2
        && [v2::SOURCE_URL, v2::MLS_ID, v2::ADDRESS]
            .iter()
            .all(|&index| planned.indices[index].is_none())
    {
        return Err(SchemaError::MissingColumn("source_url, mls_id or address"));
    }
    Ok(planned)
}

/// The specs (indices into [`specs`]) a format's listing id is derived from.
#[must_use]
pub const fn id_specs(format: UploadFormat) -> &'static [usize] {
    match format {
        UploadFormat::V1 => &[v1::ZPID],
        UploadFormat::V2 => &[v2::SOURCE_URL, v2::MLS_ID, v2::ADDRESS, v2::ZIP],
    }
}

/// The plan of a batch that holds only the id columns of a file planned as `full` (`schema` is
/// the batch's): every other spec is absent.
#[must_use]
pub fn id_plan(schema: &arrow::datatypes::Schema, format: UploadFormat) -> SchemaPlan {
    let keep = id_specs(format);
    let indices = specs(format)
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            if !keep.contains(&index) {
                return None;
            }
            schema
                .fields()
                .iter()
                .position(|field| field.name().eq_ignore_ascii_case(spec.name))
        })
        .collect();
    SchemaPlan {
        indices,
        extra_columns: Vec::new(),
    }
}

/// A record batch with every used column coerced.
#[derive(Debug)]
pub struct CoercedBatch {
    format: UploadFormat,
    columns: Vec<Coerced>,
    rows: usize,
}

impl CoercedBatch {
    /// Coerces the used columns of `batch` as `planned` says.
    pub fn new(
        batch: &RecordBatch,
        planned: &SchemaPlan,
        format: UploadFormat,
    ) -> Result<Self, CoerceError> {
        let columns = specs(format)
            .iter()
            .zip(&planned.indices)
            .map(|(spec, index)| coerce(index.map(|index| batch.column(index)), spec))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            format,
            columns,
            rows: batch.num_rows(),
        })
    }

    /// Rows in the batch.
    #[must_use]
    pub const fn rows(&self) -> usize {
        self.rows
    }

    /// Maps one row. `file_time` stands in for a missing scrape time.
    pub fn map(&self, row: usize, file_time: Timestamp) -> Result<MappedRow, RejectReason> {
        match self.format {
            UploadFormat::V1 => self.map_v1(row, file_time),
            UploadFormat::V2 => self.map_v2(row, file_time),
        }
    }

    /// The listing id [`Self::map`] would give the row if the row is valid; `None` when the id
    /// columns alone already make it invalid. Needs only the [`id_specs`] columns.
    #[must_use]
    pub fn listing_id(&self, row: usize) -> Option<String> {
        let columns = &self.columns;
        match self.format {
            UploadFormat::V1 => listing_id(columns[v1::ZPID].text(row)).ok(),
            UploadFormat::V2 => {
                let url = plain_text(columns[v2::SOURCE_URL].text(row)).ok()?;
                let mls_id = plain_text(columns[v2::MLS_ID].text(row)).ok()?;
                let address =
                    normalized(columns[v2::ADDRESS].text(row), normalize::address).ok()?;
                let zip = zip_code(&columns[v2::ZIP], row).ok()??;
                v2_listing_id(url.as_deref(), mls_id.as_deref(), address.as_deref(), &zip).ok()
            }
        }
    }

    fn map_v1(&self, row: usize, file_time: Timestamp) -> Result<MappedRow, RejectReason> {
        let columns = &self.columns;
        let listing_id = listing_id(columns[v1::ZPID].text(row))?;
        let scraped_at = scrape_time(columns[v1::DATETIME].instant(row), file_time)?;
        let zip = match zip_code(&columns[v1::ZIP], row)? {
            Some(zip) => Some(zip),
            None => zip_code(&columns[v1::LABEL], row)?,
        };
        let mut listing = CanonicalListing {
            listing_id,
            zip_code: Some(zip.ok_or(RejectReason::InvalidZipCode)?),
            state: state(columns[v1::STATE].text(row))?,
            latitude_e7: coordinate(
                columns[v1::LATITUDE].number(row),
                90.0,
                RejectReason::LatitudeOutOfRange,
            )?,
            longitude_e7: coordinate(
                columns[v1::LONGITUDE].number(row),
                180.0,
                RejectReason::LongitudeOutOfRange,
            )?,
            uri: plain_text(columns[v1::URI].text(row))?,
            url: plain_text(columns[v1::URL].text(row))?,
            address: normalized(columns[v1::ADDRESS].text(row), normalize::address)?,
            city: normalized(columns[v1::CITY].text(row), normalize::text)?,
            home_type: normalized(columns[v1::HOME_TYPE].text(row), normalize::home_type)?,
            home_status: normalized(columns[v1::HOME_STATUS].text(row), normalize::home_status)?,
            ..CanonicalListing::default()
        };
        measurements(
            &mut listing,
            columns,
            row,
            [
                v1::PRICE,
                v1::BEDROOMS,
                v1::BATHROOMS,
                v1::LIVING_AREA,
                v1::DAYS,
            ],
        )?;
        Ok(MappedRow {
            listing,
            scraped_at,
        })
    }

    fn map_v2(&self, row: usize, file_time: Timestamp) -> Result<MappedRow, RejectReason> {
        let columns = &self.columns;
        let scraped_at = scrape_time(columns[v2::SCRAPED].instant(row), file_time)?;
        let url = plain_text(columns[v2::SOURCE_URL].text(row))?;
        let mls_id = plain_text(columns[v2::MLS_ID].text(row))?;
        let address = normalized(columns[v2::ADDRESS].text(row), normalize::address)?;
        let zip = zip_code(&columns[v2::ZIP], row)?.ok_or(RejectReason::InvalidZipCode)?;
        let listing_id =
            v2_listing_id(url.as_deref(), mls_id.as_deref(), address.as_deref(), &zip)?;
        let listing_date = match columns[v2::LISTING_DATE].instant(row) {
            Cell::Value(micros) => Some(Timestamp::from_micros(micros).utc_day()),
            Cell::Missing => None,
            Cell::Invalid => return Err(RejectReason::UncoercibleValue),
        };
        let mut listing = CanonicalListing {
            listing_id,
            url,
            mls_id,
            address,
            zip_code: Some(zip),
            listing_date,
            home_type: normalized(columns[v2::PROPERTY_TYPE].text(row), normalize::home_type)?,
            home_status: normalized(
                columns[v2::LISTING_STATUS].text(row),
                normalize::home_status,
            )?,
            ..CanonicalListing::default()
        };
        measurements(
            &mut listing,
            columns,
            row,
            [v2::PRICE, v2::BEDROOMS, v2::BATHROOMS, v2::SQFT, v2::DAYS],
        )?;
        Ok(MappedRow {
            listing,
            scraped_at,
        })
    }
}

/// A row that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct MappedRow {
    /// The canonical listing.
    pub listing: CanonicalListing,
    /// When it was scraped.
    pub scraped_at: Timestamp,
}

fn listing_id(cell: Cell<&str>) -> Result<String, RejectReason> {
    match cell {
        Cell::Value(id)
            if id.len() <= MAX_LISTING_ID_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(id.to_owned())
        }
        _ => Err(RejectReason::MissingListingId),
    }
}

/// v2 rows have no zpid column: the zpid in a Zillow URL, else the MLS number, else a hash of
/// the normalised address and zip code.
fn v2_listing_id(
    url: Option<&str>,
    mls_id: Option<&str>,
    address: Option<&str>,
    zip: &str,
) -> Result<String, RejectReason> {
    if let Some(zpid) = url.and_then(zpid_from_url) {
        return Ok(zpid);
    }
    if let Some(mls) = mls_id {
        return listing_id(Cell::Value(mls)).map(|id| format!("mls-{id}"));
    }
    let address = address.ok_or(RejectReason::MissingListingId)?;
    let digest = IdHasher::new("resi.address-listing.v1")
        .str(address)
        .str(zip)
        .finish();
    Ok(format!("addr-{}", hex::encode(&digest[..10])))
}

/// `…/12345678_zpid/` → `12345678`.
#[must_use]
pub fn zpid_from_url(url: &str) -> Option<String> {
    let end = url.find("_zpid")?;
    let digits: String = url[..end]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty() && digits.len() <= 20).then(|| digits.chars().rev().collect())
}

fn scrape_time(cell: Cell<i64>, file_time: Timestamp) -> Result<Timestamp, RejectReason> {
    match cell {
        Cell::Value(micros) => Ok(Timestamp::from_micros(micros)),
        Cell::Missing => Ok(file_time),
        Cell::Invalid => Err(RejectReason::InvalidScrapeTime),
    }
}

/// Five digits; ZIP+4 keeps its first five; a zip that pandas turned into a number is padded.
fn zip_code(column: &Coerced, row: usize) -> Result<Option<String>, RejectReason> {
    match column.text(row) {
        Cell::Missing => Ok(None),
        Cell::Invalid => Err(RejectReason::InvalidZipCode),
        Cell::Value(text) => {
            let numeric = column
                .source_is_numeric()
                .then(|| text.parse::<i64>().ok())
                .flatten();
            numeric
                .map_or_else(
                    || normalize::zip_code_from_text(text),
                    normalize::zip_code_from_int,
                )
                .map(Some)
                .ok_or(RejectReason::InvalidZipCode)
        }
    }
}

fn state(cell: Cell<&str>) -> Result<Option<String>, RejectReason> {
    match cell {
        Cell::Missing => Ok(None),
        Cell::Invalid => Err(RejectReason::InvalidState),
        Cell::Value(text) => normalize::state(text)
            .map(Some)
            .ok_or(RejectReason::InvalidState),
    }
}

fn coordinate(
    cell: Cell<f64>,
    limit: f64,
    out_of_range: RejectReason,
) -> Result<Option<i32>, RejectReason> {
    match cell {
        Cell::Missing => Ok(None),
        Cell::Value(degrees) if (-limit..=limit).contains(&degrees) => {
            Ok(normalize::degrees_e7_from_f64(degrees))
        }
        Cell::Value(_) | Cell::Invalid => Err(out_of_range),
    }
}

fn plain_text(cell: Cell<&str>) -> Result<Option<String>, RejectReason> {
    normalized(cell, normalize::text)
}

fn normalized(
    cell: Cell<&str>,
    rule: fn(&str) -> Option<String>,
) -> Result<Option<String>, RejectReason> {
    match cell {
        Cell::Missing => Ok(None),
        Cell::Value(text) => Ok(rule(text)),
        Cell::Invalid => Err(RejectReason::UncoercibleValue),
    }
}

/// Price, bedrooms, bathrooms, living area and days on market, validated.
fn measurements(
    listing: &mut CanonicalListing,
    columns: &[Coerced],
    row: usize,
    [price, bedrooms, bathrooms, area, days]: [usize; 5],
) -> Result<(), RejectReason> {
    listing.price_usd = match columns[price].number(row) {
        Cell::Missing => None,
        Cell::Value(dollars) => {
            let whole =
                normalize::dollars_from_f64(dollars).ok_or(RejectReason::PriceOutOfRange)?;
            if !PRICE_RANGE.contains(&whole) {
                return Err(RejectReason::PriceOutOfRange);
            }
            Some(whole)
        }
        Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    listing.bedrooms = match columns[bedrooms].number(row) {
        Cell::Missing => None,
        Cell::Value(count) if BEDROOM_RANGE.contains(&count) && count.fract() == 0.0 => {
            u16::try_from(count as i64).ok()
        }
        Cell::Value(_) => return Err(RejectReason::ImplausibleBedrooms),
        Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    listing.bathrooms_tenths = match columns[bathrooms].number(row) {
        Cell::Missing => None,
        Cell::Value(count) if BATHROOM_RANGE.contains(&count) => {
            normalize::tenths_from_f64(count).and_then(|tenths| u16::try_from(tenths).ok())
        }
        Cell::Value(_) => return Err(RejectReason::ImplausibleBathrooms),
        Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    listing.living_area_sqft = match columns[area].number(row) {
        Cell::Missing => None,
        Cell::Value(sqft) if LIVING_AREA_RANGE.contains(&sqft) => {
            normalize::dollars_from_f64(sqft).and_then(|rounded| u32::try_from(rounded).ok())
        }
        Cell::Value(_) => return Err(RejectReason::ImplausibleLivingArea),
        Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    listing.days_on_market = match columns[days].number(row) {
        Cell::Missing => None,
        Cell::Value(value) if value >= 0.0 && value.fract() == 0.0 && value <= 36_500.0 => {
            u32::try_from(value as i64).ok()
        }
        Cell::Value(_) | Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use chrono::NaiveDate;
    use resi_datagen::parquet_files::{v1_batch, v2_batch};
    use resi_datagen::report::Report;

    use super::*;

    const FILE_TIME: Timestamp = Timestamp::from_micros(1_758_123_000_000_000);

    fn report() -> Report {
        Report {
            zpid: 29_420_456,
            street: "1204 East 7th Street".into(),
            city: "Austin".into(),
            state: "TX".into(),
            zip: "78702".into(),
            price: Some(459_900),
            bedrooms: Some(3),
            bathrooms: Some(2.5),
            living_area: Some(1_850),
            home_type: "SINGLE_FAMILY".into(),
            home_status: "FOR_SALE".into(),
            days_on_market: Some(12),
            latitude: Some(30.267_153_1),
            longitude: Some(-97.743_060_8),
            listing_date: NaiveDate::from_ymd_opt(2025, 9, 5).unwrap_or_default(),
            mls_id: "TX1234567".into(),
            scraped_at: NaiveDate::from_ymd_opt(2025, 9, 17)
                .and_then(|d| d.and_hms_opt(14, 0, 0))
                .unwrap_or_default(),
        }
    }

    fn mapped(batch: &RecordBatch, format: UploadFormat) -> Vec<Result<MappedRow, RejectReason>> {
        let planned = plan_format(&batch.schema(), format).expect("plan");
        let coerced = CoercedBatch::new(batch, &planned, format).expect("coerce");
        (0..coerced.rows())
            .map(|row| coerced.map(row, FILE_TIME))
            .collect()
    }

    #[test]
    fn a_v1_row_maps_to_the_canonical_listing() {
        let rows = mapped(&v1_batch(&[report()]).expect("batch"), UploadFormat::V1);
        let MappedRow {
            listing,
            scraped_at,
        } = rows[0].clone().expect("valid");
        assert_eq!(scraped_at, Timestamp::from_micros(1_758_117_600_000_000));
        assert_eq!(listing.listing_id, "29420456");
        assert_eq!(listing.price_usd, Some(459_900));
        assert_eq!(
            listing.address.as_deref(),
            Some("1204 E 7TH ST, AUSTIN, TX 78702")
        );
        assert_eq!(
            (
                listing.bedrooms,
                listing.bathrooms_tenths,
                listing.living_area_sqft
            ),
            (Some(3), Some(25), Some(1_850))
        );
        assert_eq!(
            (listing.latitude_e7, listing.longitude_e7),
            (Some(302_671_531), Some(-977_430_608))
        );
        assert_eq!(
            (listing.zip_code.as_deref(), listing.state.as_deref()),
            (Some("78702"), Some("TX"))
        );
        assert_eq!(
            listing.uri.as_deref(),
            Some("/homedetails/1204-East-7th-Street-Austin-TX-78702/29420456_zpid/")
        );
    }

    #[test]
    fn a_v2_row_of_the_same_listing_gets_the_same_identity() {
        let rows = mapped(&v2_batch(&[report()]).expect("batch"), UploadFormat::V2);
        let MappedRow { listing, .. } = rows[0].clone().expect("valid");
        assert_eq!(
            listing.listing_id, "29420456",
            "the zpid comes from the Zillow source_url"
        );
        assert_eq!(
            listing.home_type.as_deref(),
            Some("SINGLE_FAMILY"),
            "house maps to the v1 vocabulary"
        );
        assert_eq!(
            listing.home_status.as_deref(),
            Some("FOR_SALE"),
            "active maps to FOR_SALE"
        );
        assert_eq!(listing.listing_date, Some(20_336));
        assert_eq!(listing.mls_id.as_deref(), Some("TX1234567"));
    }

    #[test]
    fn bad_values_reject_only_their_row_with_a_reason() {
        let mut bad_price = report();
        bad_price.price = Some(500);
        let mut bad_baths = report();
        bad_baths.bathrooms = Some(80.0);
        let mut bad_zip = report();
        bad_zip.zip = "7870".into();
        let mut bad_lat = report();
        bad_lat.latitude = Some(91.0);
        let mut half_bedroom = report();
        half_bedroom.bedrooms = None;
        let rows = mapped(
            &v1_batch(&[
                report(),
                bad_price,
                bad_baths,
                bad_zip,
                bad_lat,
                half_bedroom,
            ])
            .expect("batch"),
            UploadFormat::V1,
        );
        let outcomes: Vec<Option<RejectReason>> =
            rows.iter().map(|row| row.as_ref().err().copied()).collect();
        assert_eq!(
            outcomes,
            vec![
                None,
                Some(RejectReason::PriceOutOfRange),
                Some(RejectReason::ImplausibleBathrooms),
                Some(RejectReason::InvalidZipCode),
                Some(RejectReason::LatitudeOutOfRange),
                None,
            ]
        );
        assert_eq!(
            rows[5].as_ref().map(|row| row.listing.bedrooms).ok(),
            Some(None),
            "a missing value is not an error"
        );
    }

    #[test]
    fn pandas_coercions_are_undone() {
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "ZPID",
                Arc::new(Int64Array::from(vec![Some(7), Some(8), None])),
            ),
            (
                "zip_code",
                Arc::new(Int64Array::from(vec![2134, 2134, 2134])),
            ),
            (
                "bedrooms",
                Arc::new(Float64Array::from(vec![Some(3.0), Some(2.5), Some(1.0)])),
            ),
            (
                "price",
                Arc::new(StringArray::from(vec!["350000", "350000", "350000"])),
            ),
            ("extra", Arc::new(StringArray::from(vec!["x", "y", "z"]))),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .expect("batch");
        let planned = plan_format(&batch.schema(), UploadFormat::V1).expect("plan");
        assert_eq!(planned.extra_columns, vec!["extra".to_owned()]);
        let rows = mapped(&batch, UploadFormat::V1);
        let first = rows[0].clone().expect("valid");
        assert_eq!(first.listing.listing_id, "7");
        assert_eq!(
            first.listing.zip_code.as_deref(),
            Some("02134"),
            "an integer zip is padded"
        );
        assert_eq!(first.listing.price_usd, Some(350_000));
        assert_eq!(
            first.scraped_at, FILE_TIME,
            "no datetime column: the file's time"
        );
        assert_eq!(
            rows[1].as_ref().err(),
            Some(&RejectReason::ImplausibleBedrooms)
        );
        assert_eq!(
            rows[2].as_ref().err(),
            Some(&RejectReason::MissingListingId)
        );
    }

    #[test]
    fn zpids_come_out_of_zillow_urls() {
        assert_eq!(
            zpid_from_url("https://www.zillow.com/homedetails/x/29420456_zpid/").as_deref(),
            Some("29420456")
        );
        assert_eq!(zpid_from_url("https://example.com/listing/42"), None);
        assert_eq!(zpid_from_url("_zpid"), None);
    }
}
