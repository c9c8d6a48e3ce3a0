//! One upload file → attestation events and the file's summary. Pure CPU work, no I/O but the
//! reads of the file itself: it runs on a blocking thread and hands encoded events out a record
//! batch at a time, so memory holds one page per column and one batch of events, whatever the
//! file's size.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashSet;

use arrow::array::AsArray as _;
use arrow::datatypes::{Int64Type, Schema};
use arrow::record_batch::RecordBatchReader as _;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::reader::ChunkReader;
use resi_events::{
    Admission, Event, EventPayload, ListingAttested, RejectReason, Timestamp, UploadObserved,
    UploadParsed, codec,
};
use resi_projections::trust;
use resi_runtime::kafka::EventHeaders;

use crate::quality;
use crate::row::{CoercedBatch, id_plan, id_specs, plan_format};

/// Duplicate listing ids listed in a summary at most.
pub const MAX_LISTED_DUPLICATES: usize = 100;

/// The admission decision a file is parsed under (taken before its first row).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdmissionPlan {
    /// The miner's trust the decision used.
    pub trust_used: f64,
    /// The daily limit that trust gives.
    pub daily_limit: u64,
    /// The UTC day counted against.
    pub utc_day: i32,
    /// Listings admitted for this miner on that day before this file.
    pub admitted_before: u64,
}

impl AdmissionPlan {
    /// The plan for `trust` with `admitted_before` already admitted on `utc_day`.
    #[must_use]
    pub fn new(trust_used: f64, utc_day: i32, admitted_before: u64) -> Self {
        Self {
            trust_used,
            daily_limit: trust::daily_limit(trust_used),
            utc_day,
            admitted_before,
        }
    }

    fn remaining(&self) -> u64 {
        self.daily_limit.saturating_sub(self.admitted_before)
    }
}

/// One encoded event, ready for the producer.
#[derive(Debug)]
pub struct Encoded {
    /// Message key.
    pub key: String,
    /// Format byte + bincode.
    pub payload: Vec<u8>,
    /// Type, schema version, id and format headers (built into rdkafka's form when produced).
    pub headers: EventHeaders,
}

impl Encoded {
    /// Encodes an event.
    #[must_use]
    pub fn of(event: &Event) -> Self {
        Self {
            key: event.payload.partition_key().to_owned(),
            payload: codec::encode(event),
            headers: EventHeaders::of(event),
        }
    }
}

/// Why a file could not be parsed to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileFailureKind {
    /// Not readable Parquet (no footer, not Parquet at all, corrupt pages).
    Corrupt,
    /// Required columns missing or of unusable types.
    WrongSchema,
    /// The consumer of the events went away (shutdown or crash): nothing to record.
    Stopped,
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

/// Counts gathered while reading a file.
#[derive(Debug, Default)]
struct Tally {
    rows_read: u64,
    rows_valid: u64,
    rejections: BTreeMap<RejectReason, u64>,
    duplicate_rows: u64,
    duplicate_ids: BTreeSet<String>,
    // foldhash: randomly seeded per process like std's SipHash, so a miner cannot craft
    // colliding ids, at a fraction of its cost per row
    /// Keys of the ids that occur more than once in the file (found by a first pass over the
    /// id columns), and of those the ones met so far: only repeated ids need remembering.
    repeated: HashSet<u64>,
    seen: HashSet<u64>,
    zip_codes: HashSet<String>,
    admitted: u64,
    rate_limited: u64,
}

/// A compact key of a listing id for the in-file duplicate check, the only state that grows with
/// a file (about 10 bytes per row): a numeric id below 2^63 (every zpid) is itself, any other
/// id is 63 bits of its blake3 hash with the top bit set, so the two kinds never meet and two
/// other ids collide with odds of about 1 in 10^7 in a file of a million of them.
fn seen_key(listing_id: &str) -> u64 {
    // the decimal form only (no leading zeros), so "0123" and "123" stay two ids
    if let Ok(number) = listing_id.parse::<u64>()
        && number < 1 << 63
        && (listing_id.len() == 1 || !listing_id.starts_with('0'))
    {
        return number;
    }
    let digest = blake3::hash(listing_id.as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(bytes) | (1 << 63)
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

/// The keys of listing ids that occur in more than one row, from a pass over the id columns
/// only. It holds 8 bytes per row while it runs and frees them before rows are mapped, so the
/// peak of a file is the larger of the two passes rather than their sum.
fn repeated_ids<R: ChunkReader + 'static>(
    reader: ParquetRecordBatchReaderBuilder<Shared<R>>,
    id_columns: Vec<usize>,
    format: resi_events::UploadFormat,
    batch_rows: usize,
    rows_in_file: usize,
) -> Result<HashSet<u64>, String> {
    let mask = ProjectionMask::roots(reader.parquet_schema(), id_columns);
    let batches = reader
        .with_projection(mask)
        .with_batch_size(batch_rows)
        .build()
        .map_err(|error| error.to_string())?;
    let plan = id_plan(batches.schema().as_ref(), format);
    let mut keys = Vec::with_capacity(rows_in_file);
    for batch in batches {
        let batch = batch.map_err(|error| error.to_string())?;
        if format == resi_events::UploadFormat::V1
            && let Some(ids) = batch.column(0).as_primitive_opt::<Int64Type>()
        {
            // integer zpids (the usual case) are their own keys: no text round trip
            keys.extend(ids.iter().flatten().map(|id| match u64::try_from(id) {
                Ok(number) => number,
                Err(_) => seen_key(&id.to_string()),
            }));
            continue;
        }
        let coerced =
            CoercedBatch::new(&batch, &plan, format).map_err(|error| error.to_string())?;
        keys.extend(
            (0..coerced.rows()).filter_map(|row| coerced.listing_id(row).map(|id| seen_key(&id))),
        );
    }
    keys.sort_unstable();
    Ok(keys
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect())
}

/// Parses one upload file and hands out its attestation events a batch at a time through
/// `emit`, which returns `false` to stop. Returns the file's `UploadParsed` event.
pub fn parse_file<R: ChunkReader + 'static>(
    reader: R,
    upload: &UploadObserved,
    admission: AdmissionPlan,
    batch_rows: usize,
    record_time: Timestamp,
    mut emit: impl FnMut(Vec<Encoded>) -> bool,
) -> Result<Event, FileFailure> {
    let failure = |kind, detail: String, admitted| FileFailure {
        kind,
        detail,
        admitted,
    };
    let reader = Shared(std::sync::Arc::new(reader));
    let metadata = ArrowReaderMetadata::load(&reader, ArrowReaderOptions::default())
        .map_err(|error| failure(FileFailureKind::Corrupt, error.to_string(), 0))?;
    let builder =
        ParquetRecordBatchReaderBuilder::new_with_metadata(reader.clone(), metadata.clone());
    let rows_in_file =
        usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or_default();
    let full_plan = plan_format(builder.schema(), upload.format)
        .map_err(|error| failure(FileFailureKind::WrongSchema, error.to_string(), 0))?;
    let id_columns = id_specs(upload.format)
        .iter()
        .filter_map(|&spec| full_plan.indices[spec])
        .collect();
    let repeated = repeated_ids(
        ParquetRecordBatchReaderBuilder::new_with_metadata(reader, metadata),
        id_columns,
        upload.format,
        batch_rows.max(1),
        rows_in_file,
    )
    .map_err(|detail| failure(FileFailureKind::Corrupt, detail, 0))?;
    // read only the columns the schema uses
    let used: Vec<usize> = full_plan.indices.iter().flatten().copied().collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), used);
    let batches = builder
        .with_projection(mask)
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(|error| failure(FileFailureKind::Corrupt, error.to_string(), 0))?;
    let projected: Schema = batches.schema().as_ref().clone();
    let plan = plan_format(&projected, upload.format)
        .map_err(|error| failure(FileFailureKind::WrongSchema, error.to_string(), 0))?;

    let upload_id = upload.event_id();
    let remaining = admission.remaining();
    let mut tally = Tally {
        repeated,
        ..Tally::default()
    };
    for batch in batches {
        let batch = batch.map_err(|error| {
            failure(
                FileFailureKind::Corrupt,
                format!("after {} rows: {error}", tally.rows_read),
                tally.admitted,
            )
        })?;
        let coerced = CoercedBatch::new(&batch, &plan, upload.format).map_err(|error| {
            failure(
                FileFailureKind::WrongSchema,
                error.to_string(),
                tally.admitted,
            )
        })?;
        let mut out = Vec::with_capacity(coerced.rows());
        for row in 0..coerced.rows() {
            let row_index = tally.rows_read;
            tally.rows_read += 1;
            let mapped = match coerced.map(row, upload.file_timestamp) {
                Ok(mapped) => mapped,
                Err(reason) => {
                    *tally.rejections.entry(reason).or_default() += 1;
                    continue;
                }
            };
            let listing_id = &mapped.listing.listing_id;
            let key = seen_key(listing_id);
            if tally.repeated.contains(&key) && !tally.seen.insert(key) {
                *tally
                    .rejections
                    .entry(RejectReason::DuplicateInFile)
                    .or_default() += 1;
                tally.duplicate_rows += 1;
                if tally.duplicate_ids.len() < MAX_LISTED_DUPLICATES {
                    tally.duplicate_ids.insert(listing_id.clone());
                }
                continue;
            }
            tally.rows_valid += 1;
            if let Some(zip) = &mapped.listing.zip_code
                && !tally.zip_codes.contains(zip)
            {
                tally.zip_codes.insert(zip.clone());
            }
            if tally.admitted >= remaining {
                tally.rate_limited += 1;
                continue;
            }
            tally.admitted += 1;
            let content_hash = mapped.listing.content_hash();
            let attested = ListingAttested {
                upload_id,
                row_index,
                miner_hotkey: upload.miner_hotkey.clone(),
                key: upload.key.clone(),
                job_id: upload.job_id.clone(),
                scraped_at: mapped.scraped_at,
                submitted_at: upload.file_timestamp,
                listing: mapped.listing,
                content_hash,
                miner_trust: admission.trust_used,
            };
            let event = Event::new(
                EventPayload::ListingAttested(Box::new(attested)),
                mapped.scraped_at,
                record_time,
            );
            out.push(Encoded::of(&event));
        }
        if !out.is_empty() && !emit(out) {
            return Err(failure(
                FileFailureKind::Stopped,
                "stopped".to_owned(),
                tally.admitted,
            ));
        }
    }
    Ok(summary(
        upload,
        admission,
        tally,
        full_plan.extra_columns,
        record_time,
    ))
}

fn summary(
    upload: &UploadObserved,
    admission: AdmissionPlan,
    tally: Tally,
    mut extra_columns: Vec<String>,
    record_time: Timestamp,
) -> Event {
    extra_columns.sort();
    let rows_rejected = tally.rejections.values().sum();
    let rejections = tally
        .rejections
        .into_iter()
        .map(|(reason, rows)| resi_events::ReasonCount { reason, rows })
        .collect::<Vec<_>>();
    let mut parsed = UploadParsed {
        upload_id: upload.event_id(),
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
        miner_hotkey: upload.miner_hotkey.clone(),
        job_id: upload.job_id.clone(),
        format: upload.format,
        rows_read: tally.rows_read,
        rows_valid: tally.rows_valid,
        rows_rejected,
        rejections,
        declared_record_count: upload.declared_record_count,
        duplicate_listing_ids: tally.duplicate_ids.into_iter().collect(),
        duplicate_rows: tally.duplicate_rows,
        distinct_zip_codes: u32::try_from(tally.zip_codes.len()).unwrap_or(u32::MAX),
        extra_columns,
        quality: resi_events::QualityAssessment {
            score: 1.0,
            issues: Vec::new(),
        },
        admission: Admission {
            trust_used: admission.trust_used,
            daily_limit: admission.daily_limit,
            utc_day: admission.utc_day,
            admitted_before: admission.admitted_before,
            admitted: tally.admitted,
            rate_limited: tally.rate_limited,
        },
    };
    parsed.quality = quality::assess(&parsed);
    Event::new(
        EventPayload::UploadParsed(parsed),
        upload.file_timestamp,
        record_time,
    )
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::NaiveDate;
    use resi_datagen::parquet_files::{v1_batch, v1_without_zpid, write};
    use resi_datagen::report::Report;
    use resi_events::{QualityIssue, UploadDiscovery, UploadFormat, decode};

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
            last_modified: Timestamp::from_micros(0),
            miner_hotkey: "5M".into(),
            job_id: "j".into(),
            file_timestamp: Timestamp::from_micros(1_758_114_000_000_000),
            declared_record_count: Some(declared),
            format: UploadFormat::V1,
            epoch: None,
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
        let mut events = Vec::new();
        let outcome = parse_file(
            bytes,
            &upload(6),
            admission,
            batch_rows,
            Timestamp::from_micros(7),
            |batch| {
                events.extend(
                    batch
                        .iter()
                        .map(|encoded| decode(&encoded.payload).expect("decodes")),
                );
                true
            },
        );
        (outcome, events)
    }

    #[test]
    fn duplicate_keys_tell_distinct_ids_apart() {
        assert_eq!(seen_key("123"), 123);
        assert_eq!(seen_key("0"), 0);
        assert_ne!(seen_key("0123"), seen_key("123"));
        assert_ne!(seen_key("mls-123"), seen_key("123"));
        assert!(seen_key("-5") >= 1 << 63);
        assert!(seen_key("9223372036854775808") >= 1 << 63);
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
    fn broken_files_fail_with_their_kind() {
        let plan = AdmissionPlan::new(0.5, 0, 0);
        let whole = file();
        let (truncated, _) = run(whole.slice(..whole.len() / 2), plan, 2);
        assert_eq!(
            truncated.expect_err("truncated").kind,
            FileFailureKind::Corrupt
        );
        let without_zpid = Bytes::from(v1_without_zpid(&[report(1, 300_000)]).expect("parquet"));
        let (missing, _) = run(without_zpid, plan, 2);
        let failure = missing.expect_err("no zpid");
        assert_eq!(failure.kind, FileFailureKind::WrongSchema);
        assert!(failure.detail.contains("zpid"), "{}", failure.detail);
    }
}
