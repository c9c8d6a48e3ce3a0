//! The Parquet layouts' columns, and a record batch read into [`RowValues`] a row at a time.

use arrow::array::RecordBatch;
use resi_events::UploadFormat;

use crate::coerce::{
    CoerceError, Coerced, ColumnSpec, SchemaError, SchemaPlan, Target, coerce, plan,
};
use crate::row::{IdRule, RowValues, ZipValue};

const fn text(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        target: Target::Text,
        required: false,
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

/// The v1 (Zillow) columns. None is required on its own: a file needs one column a listing id
/// can come from (see [`plan_format`]).
pub const V1_SPECS: [ColumnSpec; 18] = [
    text("zpid"),
    text("uri"),
    instant("datetime"),
    number("price"),
    text("address"),
    number("bedrooms"),
    number("bathrooms"),
    number("living_area"),
    text("home_type"),
    text("home_status"),
    number("days_on_zillow"),
    text("url"),
    text("zip_code"),
    text("city"),
    text("state"),
    number("latitude"),
    number("longitude"),
    text("label"),
];

/// The v2 (epoch) columns.
pub const V2_SPECS: [ColumnSpec; 13] = [
    text("address"),
    text("zipcode"),
    number("price"),
    number("bedrooms"),
    number("bathrooms"),
    number("sqft"),
    instant("listing_date"),
    text("property_type"),
    text("listing_status"),
    number("days_on_market"),
    text("mls_id"),
    text("source_url"),
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

/// The specs of a Parquet format.
#[must_use]
pub const fn specs(format: UploadFormat) -> &'static [ColumnSpec] {
    match format {
        UploadFormat::V1 => &V1_SPECS,
        UploadFormat::V2 | UploadFormat::EpochJson | UploadFormat::ValidatorResults => &V2_SPECS,
    }
}

/// Where a format's listing ids come from.
#[must_use]
pub const fn id_rule(format: UploadFormat) -> IdRule {
    match format {
        UploadFormat::V1 => IdRule::Zillow,
        UploadFormat::V2 | UploadFormat::EpochJson | UploadFormat::ValidatorResults => {
            IdRule::AnySource
        }
    }
}

/// Plans a file of `format`. The file must have at least one column a listing id can come
/// from (`null`-typed counts: its rows are then rejected one by one, not the file).
pub fn plan_format(
    schema: &arrow::datatypes::Schema,
    format: UploadFormat,
) -> Result<SchemaPlan, SchemaError> {
    let planned = plan(schema, specs(format))?;
    let (identifying, names) = match format {
        UploadFormat::V1 => (&[v1::ZPID, v1::URI, v1::URL][..], "zpid, uri or url"),
        UploadFormat::V2 | UploadFormat::EpochJson | UploadFormat::ValidatorResults => (
            &[v2::SOURCE_URL, v2::MLS_ID, v2::ADDRESS][..],
            "source_url, mls_id or address",
        ),
    };
    if identifying.iter().all(|&index| !planned.present[index]) {
        return Err(SchemaError::MissingColumn(names));
    }
    Ok(planned)
}

/// The specs (indices into [`specs`]) a format's listing id is derived from.
#[must_use]
pub const fn id_specs(format: UploadFormat) -> &'static [usize] {
    match format {
        UploadFormat::V1 => &[v1::ZPID, v1::URI, v1::URL],
        UploadFormat::V2 | UploadFormat::EpochJson | UploadFormat::ValidatorResults => {
            &[v2::SOURCE_URL, v2::MLS_ID, v2::ADDRESS, v2::ZIP]
        }
    }
}

/// The plan of a batch that holds only the id columns of a file (`schema` is the batch's):
/// every other spec is absent.
#[must_use]
pub fn id_plan(schema: &arrow::datatypes::Schema, format: UploadFormat) -> SchemaPlan {
    let keep = id_specs(format);
    let indices: Vec<Option<usize>> = specs(format)
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
        present: indices.iter().map(Option::is_some).collect(),
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

    /// What row `row` holds.
    #[must_use]
    pub fn values(&self, row: usize) -> RowValues<'_> {
        let c = &self.columns;
        match self.format {
            UploadFormat::V1 => RowValues {
                zpid: c[v1::ZPID].text(row),
                uri: c[v1::URI].text(row),
                url: c[v1::URL].text(row),
                address: c[v1::ADDRESS].text(row),
                zip: ZipValue {
                    text: c[v1::ZIP].text(row),
                    numeric: c[v1::ZIP].source_is_numeric(),
                },
                label: c[v1::LABEL].text(row),
                city: c[v1::CITY].text(row),
                state: c[v1::STATE].text(row),
                home_type: c[v1::HOME_TYPE].text(row),
                home_status: c[v1::HOME_STATUS].text(row),
                price: c[v1::PRICE].number(row),
                bedrooms: c[v1::BEDROOMS].number(row),
                bathrooms: c[v1::BATHROOMS].number(row),
                living_area: c[v1::LIVING_AREA].number(row),
                days_on_market: c[v1::DAYS].number(row),
                latitude: c[v1::LATITUDE].number(row),
                longitude: c[v1::LONGITUDE].number(row),
                scraped_at: c[v1::DATETIME].instant(row),
                ..RowValues::default()
            },
            UploadFormat::V2 | UploadFormat::EpochJson | UploadFormat::ValidatorResults => {
                RowValues {
                    url: c[v2::SOURCE_URL].text(row),
                    mls_id: c[v2::MLS_ID].text(row),
                    address: c[v2::ADDRESS].text(row),
                    zip: ZipValue {
                        text: c[v2::ZIP].text(row),
                        numeric: c[v2::ZIP].source_is_numeric(),
                    },
                    home_type: c[v2::PROPERTY_TYPE].text(row),
                    home_status: c[v2::LISTING_STATUS].text(row),
                    price: c[v2::PRICE].number(row),
                    bedrooms: c[v2::BEDROOMS].number(row),
                    bathrooms: c[v2::BATHROOMS].number(row),
                    living_area: c[v2::SQFT].number(row),
                    days_on_market: c[v2::DAYS].number(row),
                    listing_date: c[v2::LISTING_DATE].instant(row),
                    scraped_at: c[v2::SCRAPED].instant(row),
                    ..RowValues::default()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, NullArray, StringArray};
    use arrow::datatypes::{Field, Schema};
    use chrono::NaiveDate;
    use resi_datagen::parquet_files::{v1_batch, v2_batch};
    use resi_datagen::report::Report;
    use resi_events::{RejectReason, Timestamp};

    use super::*;
    use crate::row::{MappedRow, RowContext, map_row};

    const UPLOADED: Timestamp = Timestamp::from_micros(1_758_123_000_000_000);

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
        let context = RowContext {
            upload_time: UPLOADED,
            max_skew_micros: 600_000_000,
            zipcode: None,
        };
        (0..coerced.rows())
            .map(|row| map_row(&coerced.values(row), id_rule(format), &context))
            .collect()
    }

    fn batch_of(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .expect("batch")
    }

    #[test]
    fn a_v1_row_maps_to_the_canonical_listing() {
        let rows = mapped(&v1_batch(&[report()]).expect("batch"), UploadFormat::V1);
        let MappedRow {
            listing,
            scraped_at,
            ..
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
        assert_eq!(listing.home_type.as_deref(), Some("SINGLE_FAMILY"));
        assert_eq!(listing.home_status.as_deref(), Some("FOR_SALE"));
        assert_eq!(listing.listing_date, Some(20_336));
        assert_eq!(listing.mls_id.as_deref(), Some("TX1234567"));
        assert_eq!(
            (listing.city.as_deref(), listing.state.as_deref()),
            (Some("Austin"), Some("TX")),
            "from the address"
        );
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
        let mut no_bedrooms = report();
        no_bedrooms.bedrooms = None;
        let rows = mapped(
            &v1_batch(&[
                report(),
                bad_price,
                bad_baths,
                bad_zip,
                bad_lat,
                no_bedrooms,
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
        let batch = batch_of(vec![
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
        ]);
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
            first.scraped_at, UPLOADED,
            "no datetime column: the upload's time"
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
    fn null_typed_columns_are_missing_values() {
        let rows = 2;
        let null = |_| Arc::new(NullArray::new(rows)) as ArrayRef;
        let batch = batch_of(vec![
            (
                "uri",
                Arc::new(StringArray::from(vec![
                    "https://zillow.com/homedetails/a/111_zpid/",
                    "/homedetails/b/222_zpid/",
                ])),
            ),
            (
                "label",
                Arc::new(StringArray::from(vec!["zip:77494", "zip:77494"])),
            ),
            ("zpid", null(())),
            ("price", Arc::new(Int64Array::from(vec![350_000, 420_000]))),
            (
                "address",
                Arc::new(StringArray::from(vec![
                    "1 Main St, Katy, TX 77494",
                    "2 Main St, Katy, TX 77494",
                ])),
            ),
            ("home_type", null(())),
            ("zip_code", null(())),
            ("city", null(())),
            ("state", null(())),
        ]);
        let mapped = mapped(&batch, UploadFormat::V1);
        let ids: Vec<_> = mapped
            .iter()
            .map(|row| row.as_ref().map(|row| row.listing.listing_id.clone()))
            .collect();
        assert_eq!(ids, vec![Ok("111".to_owned()), Ok("222".to_owned())]);
        let listing = &mapped[0].as_ref().expect("valid").listing;
        assert_eq!(
            (
                listing.zip_code.as_deref(),
                listing.city.as_deref(),
                listing.state.as_deref(),
                listing.home_type.as_deref()
            ),
            (Some("77494"), Some("Katy"), Some("TX"), None)
        );
    }

    #[test]
    fn a_file_needs_a_column_to_identify_listings() {
        let batch = batch_of(vec![("price", Arc::new(Int64Array::from(vec![1])))]);
        assert_eq!(
            plan_format(&batch.schema(), UploadFormat::V1),
            Err(SchemaError::MissingColumn("zpid, uri or url"))
        );
        let only_null_ids = batch_of(vec![("zpid", Arc::new(NullArray::new(1)))]);
        assert!(
            plan_format(&only_null_ids.schema(), UploadFormat::V1).is_ok(),
            "null-typed still names the column"
        );
    }
}
