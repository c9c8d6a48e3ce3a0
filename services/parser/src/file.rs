//! One upload file → attestation events and the file's summary. Pure CPU work, no I/O but the
//! reads of the file itself: it runs on a blocking thread and hands encoded events out a record
//! batch at a time, so memory holds one page per column and one batch of events, whatever the
//! file's size.

use foldhash::HashSet;

use arrow::array::AsArray as _;
use arrow::datatypes::{Int64Type, Schema};
use arrow::record_batch::RecordBatchReader as _;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::reader::ChunkReader;
use resi_events::{Event, UploadFormat, UploadObserved, UploadRejectReason};

use crate::coerce::{Cell, SchemaPlan};
use crate::columns::{CoercedBatch, id_plan, id_rule, id_specs, plan_format};
use crate::emit::{AdmissionPlan, Emitter, Encoded, Extras, ParseOptions, Repeats, seen_key};
use crate::row::listing_id;

/// Why a file could not be parsed to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileFailureKind {
    /// Not readable (no Parquet footer, not Parquet at all, corrupt pages, malformed JSON).
    Corrupt,
    /// Required columns or keys missing or of unusable types.
    WrongSchema,
    /// The file contradicts its upload (an epoch document naming another miner, epoch or
    /// zipcode than its key): rejected as a whole.
    Rejected(UploadRejectReason),
    /// The local copy of the file could not be read: a fault of this machine, retried.
    Io,
    /// More rows than `parser.max_file_rows`: memory per file is bounded by configuration,
    /// whatever the file claims.
    TooLarge,
    /// The consumer of the events went away (shutdown or crash): nothing to record.
    Stopped,
}

impl FileFailure {
    /// The failure of a file with more rows than `max_rows`.
    #[must_use]
    pub fn too_many_rows(max_rows: u64, admitted: u64) -> Self {
        Self::new(
            FileFailureKind::TooLarge,
            format!("more than {max_rows} rows (parser.max_file_rows)"),
            admitted,
        )
    }
}

/// A file that could not be parsed to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFailure {
    /// What went wrong.
    pub kind: FileFailureKind,
    /// The error, for people.
    pub detail: String,
    /// Attestations already handed out before the failure (they stand: their rows were valid).
    pub admitted: u64,
}

impl FileFailure {
    /// A failure after `admitted` attestations were handed out.
    #[must_use]
    pub fn new(kind: FileFailureKind, detail: impl Into<String>, admitted: u64) -> Self {
        Self {
            kind,
            detail: detail.into(),
            admitted,
        }
    }
}

/// A [`ChunkReader`] shared by the two passes over a file.
struct Shared<R>(std::sync::Arc<R>);

impl<R> Clone for Shared<R> {
    fn clone(&self) -> Self {
        Self(std::sync::Arc::clone(&self.0))
    }
}

impl<R: ChunkReader> parquet::file::reader::Length for Shared<R> {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

impl<R: ChunkReader> ChunkReader for Shared<R> {
    type T = R::T;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.0.get_read(start)
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        self.0.get_bytes(start, length)
    }
}

/// Id keys reserved up front at most (32 MiB): a footer may claim any row count.
const MAX_PRESIZED_ROWS: usize = 4 << 20;

/// A pass over a file's id columns.
struct IdPass<'f, R> {
    reader: &'f Shared<R>,
    metadata: &'f ArrowReaderMetadata,
    format: resi_events::UploadFormat,
    batch_rows: usize,
    max_rows: u64,
}

impl<R: ChunkReader + 'static> IdPass<'_, R> {
    /// The keys of listing ids that occur in more than one row, from a pass over the id
    /// columns only. It holds 8 bytes per row while it runs and frees them before rows are
    /// mapped, so the peak of a file is the larger of the two passes rather than their sum.
    ///
    /// A v1 file's ids are its zpids unless a row has none (then its `uri` or `url` tells):
    /// the pass reads the zpid column alone first, and the other id columns only if a zpid is
    /// missing.
    fn repeated_ids(&self, plan: &SchemaPlan) -> Result<HashSet<u64>, FileFailure> {
        let zpid_column = (self.format == resi_events::UploadFormat::V1)
            .then(|| plan.indices[id_specs(self.format)[0]])
            .flatten();
        if let Some(zpid) = zpid_column
            && let Some(keys) = self.keys(vec![zpid], true)?
        {
            return Ok(repeated(keys));
        }
        let id_columns = id_specs(self.format)
            .iter()
            .filter_map(|&spec| plan.indices[spec])
            .collect();
        Ok(repeated(self.keys(id_columns, false)?.unwrap_or_default()))
    }

    /// The keys of every row's listing id read from `columns`; `None` when `zpids_only` and a
    /// row has no zpid.
    fn keys(&self, columns: Vec<usize>, zpids_only: bool) -> Result<Option<Vec<u64>>, FileFailure> {
        let corrupt = |error: String| FileFailure::new(FileFailureKind::Corrupt, error, 0);
        let format = self.format;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
            self.reader.clone(),
            self.metadata.clone(),
        );
        let claimed_rows =
            usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        // a claim over the bound is refused unread; a file holding more than it claims is
        // refused once its rows pass the bound
        let max_rows = usize::try_from(self.max_rows).unwrap_or(usize::MAX);
        if claimed_rows > max_rows {
            return Err(FileFailure::too_many_rows(self.max_rows, 0));
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), columns);
        let batches = builder
            .with_projection(mask)
            .with_batch_size(self.batch_rows)
            .build()
            .map_err(|error| corrupt(error.to_string()))?;
        let plan = id_plan(batches.schema().as_ref(), format);
        let rule = id_rule(format);
        // sized by the footer's row count, which is the miner's claim: never beyond a bound,
        // and grown as rows arrive past it
        let mut keys = Vec::with_capacity(claimed_rows.min(MAX_PRESIZED_ROWS));
        for batch in batches {
            let batch = batch.map_err(|error| corrupt(error.to_string()))?;
            if keys.len().saturating_add(batch.num_rows()) > max_rows {
                return Err(FileFailure::too_many_rows(self.max_rows, 0));
            }
            if zpids_only && batch.column(0).null_count() > 0 {
                return Ok(None);
            }
            // the zpid column comes first when the file has one (a projection keeps file order)
            if format == resi_events::UploadFormat::V1
                && plan.indices[0] == Some(0)
                && batch.column(0).null_count() == 0
                && let Some(ids) = batch.column(0).as_primitive_opt::<Int64Type>()
            {
                // integer zpids (the usual case) are their own keys: no text round trip
                keys.extend(ids.values().iter().map(|&id| match u64::try_from(id) {
                    Ok(number) => number,
                    Err(_) => seen_key(&id.to_string()),
                }));
                continue;
            }
            let coerced = CoercedBatch::new(&batch, &plan, format)
                .map_err(|error| corrupt(error.to_string()))?;
            for row in 0..coerced.rows() {
                let values = coerced.values(row);
                if zpids_only && values.zpid == Cell::Missing {
                    return Ok(None);
                }
                if let Some(id) = listing_id(&values, rule) {
                    keys.push(seen_key(&id));
                }
            }
        }
        Ok(Some(keys))
    }
}

/// The keys that occur more than once.
fn repeated(mut keys: Vec<u64>) -> HashSet<u64> {
    keys.sort_unstable();
    keys.windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect()
}

/// Parses one upload of any layout (Parquet or epoch JSON, as `upload.format` says) and hands
/// out its attestation events a batch at a time through `emit`, which returns `false` to stop;
/// returns the file's `UploadParsed` event.
///
/// The decoders are given whatever a miner uploaded, and some of their bugs panic on crafted
/// files (a forged column offset, a page shorter than its bitmap): a panic is caught and the
/// file is corrupt, with the events handed out before it standing, as for any corrupt file.
pub fn parse_object(
    file: std::fs::File,
    upload: &UploadObserved,
    admission: AdmissionPlan,
    options: ParseOptions,
    emit: impl FnMut(Vec<Encoded>) -> bool,
) -> Result<Event, FileFailure> {
    parse_source(file, upload, admission, options, emit)
}

/// [`parse_object`] over an upload held in memory (the fuzz target's entry: the same code,
/// with no file to write).
pub fn parse_bytes(
    bytes: bytes::Bytes,
    upload: &UploadObserved,
    admission: AdmissionPlan,
    options: ParseOptions,
    emit: impl FnMut(Vec<Encoded>) -> bool,
) -> Result<Event, FileFailure> {
    parse_source(bytes, upload, admission, options, emit)
}

/// What an upload is read from: Parquet reads it in ranges, the JSON reader as a stream.
trait Source: ChunkReader + 'static {
    /// The same bytes as a stream.
    type Stream: std::io::Read + std::io::Seek;
    fn into_stream(self) -> Self::Stream;
}

impl Source for std::fs::File {
    type Stream = Self;
    fn into_stream(self) -> Self {
        self
    }
}

impl Source for bytes::Bytes {
    type Stream = std::io::Cursor<Self>;
    fn into_stream(self) -> Self::Stream {
        std::io::Cursor::new(self)
    }
}

/// Reads `source` as the upload's layout, guarded.
fn parse_source<S: Source>(
    source: S,
    upload: &UploadObserved,
    admission: AdmissionPlan,
    options: ParseOptions,
    emit: impl FnMut(Vec<Encoded>) -> bool,
) -> Result<Event, FileFailure> {
    guarded(emit, |counting| match upload.format {
        UploadFormat::EpochJson => crate::epoch_json::parse_epoch_json(
            source.into_stream(),
            upload,
            admission,
            options,
            counting,
        ),
        UploadFormat::V1 | UploadFormat::V2 => {
            parse_file(source, upload, admission, options, counting)
        }
        // read by the service as results, never as listings
        UploadFormat::ValidatorResults => Err(FileFailure::new(
            FileFailureKind::WrongSchema,
            "a validator results document holds no listings",
            0,
        )),
    })
}

/// How the detail of a failure that was a panic begins.
pub const PANIC_DETAIL: &str = "reading the file made the parser panic";

/// Runs `parse` with `emit` counting the events handed out, and turns a panic into a corrupt
/// file.
fn guarded<E: FnMut(Vec<Encoded>) -> bool>(
    mut emit: E,
    parse: impl FnOnce(&mut dyn FnMut(Vec<Encoded>) -> bool) -> Result<Event, FileFailure>,
) -> Result<Event, FileFailure> {
    let handed = std::cell::Cell::new(0_u64);
    let mut counting = |batch: Vec<Encoded>| {
        handed.set(handed.get() + batch.len() as u64);
        emit(batch)
    };
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&mut counting)));
    parsed.unwrap_or_else(|panic| {
        Err(FileFailure::new(
            FileFailureKind::Corrupt,
            format!("{PANIC_DETAIL}: {}", panic_message(panic.as_ref())),
            handed.get(),
        ))
    })
}

/// The message a panic carried, when it was text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// Parses one Parquet upload and hands out its attestation events a batch at a time through
/// `emit`, which returns `false` to stop. Returns the file's `UploadParsed` event.
pub fn parse_file<R: ChunkReader + 'static>(
    reader: R,
    upload: &UploadObserved,
    admission: AdmissionPlan,
    options: ParseOptions,
    emit: impl FnMut(Vec<Encoded>) -> bool,
) -> Result<Event, FileFailure> {
    use FileFailureKind::{Corrupt, Stopped, WrongSchema};
    let batch_rows = options.batch_rows.max(1);
    let reader = Shared(std::sync::Arc::new(reader));
    // nor is its reading of the footer: walk that first too
    crate::pages::check_footer(&reader).map_err(|detail| FileFailure::new(Corrupt, detail, 0))?;
    let metadata = ArrowReaderMetadata::load(&reader, ArrowReaderOptions::default())
        .map_err(|error| FileFailure::new(Corrupt, error.to_string(), 0))?;
    // the parquet crate's reading of page headers is not bounded by their bytes: check them first
    crate::pages::check(&reader, metadata.metadata())
        .map_err(|detail| FileFailure::new(Corrupt, detail, 0))?;
    let builder =
        ParquetRecordBatchReaderBuilder::new_with_metadata(reader.clone(), metadata.clone());
    let full_plan = plan_format(builder.schema(), upload.format)
        .map_err(|error| FileFailure::new(WrongSchema, error.to_string(), 0))?;
    let repeated = IdPass {
        reader: &reader,
        metadata: &metadata,
        format: upload.format,
        batch_rows,
        max_rows: options.max_file_rows,
    }
    .repeated_ids(&full_plan)?;
    // read only the columns the schema uses
    let used: Vec<usize> = full_plan.indices.iter().flatten().copied().collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), used);
    let batches = builder
        .with_projection(mask)
        .with_batch_size(batch_rows)
        .build()
        .map_err(|error| FileFailure::new(Corrupt, error.to_string(), 0))?;
    let projected: Schema = batches.schema().as_ref().clone();
    let plan = plan_format(&projected, upload.format)
        .map_err(|error| FileFailure::new(WrongSchema, error.to_string(), 0))?;

    let mut emitter = Emitter::new(
        upload,
        admission,
        options,
        id_rule(upload.format),
        Repeats::Known(repeated),
        emit,
    );
    for batch in batches {
        let batch = batch.map_err(|error| {
            FileFailure::new(
                Corrupt,
                format!("after {} rows: {error}", emitter.rows_read()),
                emitter.admitted(),
            )
        })?;
        let coerced = CoercedBatch::new(&batch, &plan, upload.format).map_err(|error| {
            FileFailure::new(WrongSchema, error.to_string(), emitter.admitted())
        })?;
        for row in 0..coerced.rows() {
            emitter.row(&coerced.values(row));
        }
        if !emitter.flush() {
            return Err(FileFailure::new(Stopped, "stopped", emitter.admitted()));
        }
    }
    Ok(emitter.finish(Extras::of(full_plan.extra_columns), None))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::NaiveDate;
    use resi_datagen::parquet_files::{v1_batch, write};
    use resi_datagen::report::Report;
    use resi_events::{
        EventPayload, QualityIssue, Timestamp, UploadDiscovery, UploadFormat, decode,
    };

    use super::*;

    fn report(zpid: u64, price: i64) -> Report {
        Report {
            zpid,
            street: format!("{zpid} Oak Street"),
            city: "Austin".into(),
            state: "TX".into(),
            zip: "78702".into(),
            price: Some(price),
            bedrooms: Some(3),
            bathrooms: Some(2.0),
            living_area: Some(1_500),
            home_type: "SINGLE_FAMILY".into(),
            home_status: "FOR_SALE".into(),
            days_on_market: Some(3),
            latitude: Some(30.2),
            longitude: Some(-97.7),
            listing_date: NaiveDate::from_ymd_opt(2025, 9, 1).unwrap_or_default(),
            mls_id: format!("MLS{zpid}"),
            scraped_at: NaiveDate::from_ymd_opt(2025, 9, 17)
                .and_then(|day| day.and_hms_opt(12, 0, 0))
                .unwrap_or_default(),
        }
    }

    fn upload(declared: u64) -> UploadObserved {
        UploadObserved {
            bucket: "bucket".into(),
            key: "data/hotkey=5M/job_id=j/data_20250917_130000_6.parquet".into(),
            etag: "etag".into(),
            size: 1,
            last_modified: Timestamp::from_micros(1_758_114_000_000_000),
            miner_hotkey: "5M".into(),
            job_id: "j".into(),
            file_timestamp: Timestamp::from_micros(1_758_099_600_000_000),
            declared_record_count: Some(declared),
            format: UploadFormat::V1,
            epoch: None,
            epoch_id: None,
            zipcode: None,
            discovery: UploadDiscovery::Notification,
        }
    }

    /// Six rows: four valid listings, one repeated listing, one price out of range.
    fn file() -> Bytes {
        let reports = vec![
            report(1, 300_000),
            report(2, 310_000),
            report(1, 300_000),
            report(3, 5),
            report(4, 320_000),
            report(5, 330_000),
        ];
        Bytes::from(write([v1_batch(&reports)], 4).expect("parquet"))
    }

    fn run(
        bytes: Bytes,
        admission: AdmissionPlan,
        batch_rows: usize,
    ) -> (Result<Event, FileFailure>, Vec<Event>) {
        run_within(bytes, admission, batch_rows, 10_000_000)
    }

    fn run_within(
        bytes: Bytes,
        admission: AdmissionPlan,
        batch_rows: usize,
        max_file_rows: u64,
    ) -> (Result<Event, FileFailure>, Vec<Event>) {
        let mut events = Vec::new();
        let options = ParseOptions {
            batch_rows,
            max_scrape_skew_micros: 600_000_000,
            max_json_listing_bytes: 1 << 20,
            max_file_rows,
            record_time: Timestamp::from_micros(7),
        };
        let outcome = parse_file(bytes, &upload(6), admission, options, |batch| {
            events.extend(
                batch
                    .iter()
                    .map(|encoded| decode(&encoded.payload).expect("decodes")),
            );
            true
        });
        (outcome, events)
    }

    #[test]
    fn rows_are_validated_deduplicated_and_admitted_up_to_the_quota() {
        // 1,000 a day at trust 0.5, 997 used already: three of the four valid rows fit
        let plan = AdmissionPlan::new(0.5, 20_348, 997);

        let (outcome, events) = run(file(), plan, 2);

        let parsed = match outcome.expect("parsed").payload {
            EventPayload::UploadParsed(parsed) => parsed,
            other => panic!("{other:?}"),
        };
        assert_eq!(parsed.rows_read, 6);
        assert_eq!(parsed.rows_valid, 4);
        assert_eq!(parsed.rows_rejected, 2);
        assert_eq!(parsed.duplicate_rows, 1);
        assert_eq!(parsed.duplicate_listing_ids, vec!["1".to_owned()]);
        assert_eq!(parsed.distinct_zip_codes, 1);
        assert_eq!(parsed.admission.admitted, 3);
        assert_eq!(parsed.admission.rate_limited, 1);
        assert_eq!(parsed.admission.daily_limit, 1_000);
        assert_eq!(
            parsed.quality.issues,
            vec![
                QualityIssue::SuspiciousPriceRange,
                QualityIssue::DuplicateListingIds
            ]
        );
        let rows: Vec<u64> = events
            .iter()
            .map(|event| match &event.payload {
                EventPayload::ListingAttested(attested) => attested.row_index,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            rows,
            vec![0, 1, 4],
            "the first valid rows, by their index in the file"
        );
    }

    /// `bytes` with a footer whose total row count claims one row per row group, while the
    /// row groups keep their real counts. parquet's writer sums the row groups' counts, so the
    /// claim is forged in the encoded footer: it is the first byte where the honest footer and
    /// one written with one-row groups differ (the total comes before the row groups).
    fn claiming_one_row_per_group(bytes: &Bytes) -> Bytes {
        use parquet::file::metadata::{
            ParquetMetaData, ParquetMetaDataBuilder, ParquetMetaDataReader, ParquetMetaDataWriter,
        };
        let metadata = ParquetMetaDataReader::new()
            .parse_and_finish(bytes)
            .expect("a footer");
        let footer = |metadata: &ParquetMetaData| {
            let mut out = Vec::new();
            ParquetMetaDataWriter::new(&mut out, metadata)
                .finish()
                .expect("footer written");
            out
        };
        let honest = footer(&metadata);
        let mut one_row_groups = ParquetMetaDataBuilder::new(metadata.file_metadata().clone());
        for group in metadata.row_groups() {
            one_row_groups = one_row_groups.add_row_group(
                group
                    .clone()
                    .into_builder()
                    .set_num_rows(1)
                    .build()
                    .expect("row group"),
            );
        }
        let claiming = footer(&one_row_groups.build());
        assert_eq!(
            honest.len(),
            claiming.len(),
            "small counts are one byte each"
        );
        let total = (0..honest.len())
            .find(|&index| honest[index] != claiming[index])
            .expect("the counts differ");
        let mut forged = honest;
        forged[total] = claiming[total];
        let footer_len = u32::from_le_bytes(
            bytes[bytes.len() - 8..bytes.len() - 4]
                .try_into()
                .expect("four bytes"),
        ) as usize;
        let mut out = bytes[..bytes.len() - 8 - footer_len].to_vec();
        out.extend_from_slice(&forged);
        Bytes::from(out)
    }

    #[test]
    fn a_file_over_the_row_bound_is_too_large_whatever_its_footer_claims() {
        let plan = AdmissionPlan::new(0.9, 20_348, 0);
        let honest = file();
        assert!(
            run_within(honest.clone(), plan, 2, 6).0.is_ok(),
            "six rows fit six"
        );

        // the footer's claim is over the bound: refused before a row is read
        let (outcome, events) = run_within(honest.clone(), plan, 2, 5);
        let failure = outcome.expect_err("too large");
        assert_eq!(failure.kind, FileFailureKind::TooLarge);
        assert!(
            failure.detail.contains("more than 5 rows"),
            "{}",
            failure.detail
        );
        assert!(events.is_empty());

        // a footer that claims two rows holds six: refused once the rows pass the bound
        let forged = claiming_one_row_per_group(&honest);
        let metadata = ParquetRecordBatchReaderBuilder::try_new(forged.clone())
            .expect("readable")
            .metadata()
            .clone();
        assert_eq!(metadata.file_metadata().num_rows(), 2);
        assert_eq!(
            metadata
                .row_groups()
                .iter()
                .map(|group| group.num_rows())
                .sum::<i64>(),
            6
        );
        let (outcome, events) = run_within(forged.clone(), plan, 2, 5);
        assert_eq!(
            outcome.expect_err("too large").kind,
            FileFailureKind::TooLarge
        );
        assert!(
            events.is_empty(),
            "the bound is met in the id pass, before any event"
        );
        let (outcome, events) = run_within(forged, plan, 2, 6);
        assert!(outcome.is_ok(), "the rows, not the claim, count");
        assert_eq!(events.len(), 4);
    }

    #[test]
    fn parsing_again_gives_the_same_events() {
        let plan = AdmissionPlan::new(0.9, 20_348, 0);
        let (first_summary, first) = run(file(), plan, 2);
        let (second_summary, second) = run(file(), plan, 5);
        let ids = |events: &[Event]| events.iter().map(|event| event.id).collect::<Vec<_>>();
        assert_eq!(ids(&first), ids(&second));
        assert_eq!(first.len(), 4);
        assert_eq!(
            first_summary.expect("parsed").payload,
            second_summary.expect("parsed").payload
        );
    }

    #[test]
    fn a_row_without_zpid_is_checked_for_duplicates_by_its_uri() {
        use std::sync::Arc;

        use arrow::array::{ArrayRef, Int64Array, RecordBatch};

        // rows 0 and 2 are the same listing: row 2 names it only in its uri
        let mut batch =
            v1_batch(&[report(1, 300_000), report(2, 310_000), report(1, 300_000)]).expect("batch");
        let zpid = batch.schema().index_of("zpid").expect("zpid");
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[zpid] = Arc::new(Int64Array::from(vec![Some(1), Some(2), None]));
        let mut fields: Vec<arrow::datatypes::Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|field| field.as_ref().clone())
            .collect();
        fields[zpid] =
            arrow::datatypes::Field::new("zpid", arrow::datatypes::DataType::Int64, true);
        batch = RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns)
            .expect("batch");
        let bytes = Bytes::from(write([Ok(batch)], 4).expect("parquet"));

        let (outcome, events) = run(bytes, AdmissionPlan::new(0.9, 0, 0), 2);

        let parsed = match outcome.expect("parsed").payload {
            EventPayload::UploadParsed(parsed) => parsed,
            other => panic!("{other:?}"),
        };
        assert_eq!(parsed.duplicate_rows, 1);
        assert_eq!(parsed.duplicate_listing_ids, vec!["1".to_owned()]);
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn files_that_make_the_decoders_panic_are_corrupt() {
        let crashers =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/crashers");
        for name in [
            "negative_column_start.parquet",
            "bit_chunk_out_of_bounds.parquet",
        ] {
            let file = std::fs::File::open(crashers.join(name)).expect("crasher fixture");
            let options = ParseOptions {
                batch_rows: 1_024,
                max_scrape_skew_micros: 0,
                max_json_listing_bytes: 1 << 20,
                max_file_rows: 10_000_000,
                record_time: Timestamp::EPOCH,
            };
            let failure = parse_object(
                file,
                &upload(6),
                AdmissionPlan::new(0.9, 0, 0),
                options,
                |_| true,
            )
            .expect_err(name);
            assert_eq!(failure.kind, FileFailureKind::Corrupt, "{name}");
            assert!(
                failure.detail.contains("panic"),
                "{name}: {}",
                failure.detail
            );
        }
    }

    #[test]
    fn broken_files_fail_with_their_kind() {
        let plan = AdmissionPlan::new(0.5, 0, 0);
        let whole = file();
        let (truncated, _) = run(whole.slice(..whole.len() / 2), plan, 2);
        assert_eq!(
            truncated.expect_err("truncated").kind,
            FileFailureKind::Corrupt
        );
        let mut without_ids = v1_batch(&[report(1, 300_000)]).expect("batch");
        for column in ["zpid", "uri", "url"] {
            let index = without_ids.schema().index_of(column).expect("v1 column");
            without_ids.remove_column(index);
        }
        let without_ids = Bytes::from(write([Ok(without_ids)], 4).expect("parquet"));
        let (missing, _) = run(without_ids, plan, 2);
        let failure = missing.expect_err("nothing identifies a listing");
        assert_eq!(failure.kind, FileFailureKind::WrongSchema);
        assert!(
            failure.detail.contains("zpid, uri or url"),
            "{}",
            failure.detail
        );
    }
}
