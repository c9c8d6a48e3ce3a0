//! Layouts of older schema versions, read so that a log written by an earlier release replays
//! unchanged. Each is converted into the current type with the fields it did not have left at
//! their "unknown" value; ids never change between versions, because they are derived from
//! fields every version has.
//!
//! Schema version 1 is the first contract: every event type at version 1, in one layout.

use bincode::Decode;

use crate::event::{
    Admission, DeadLettered, EpochMetadata, Event, EventPayload, ListingAttested,
    QualityAssessment, ReasonCount, UploadDiscovery, UploadFormat, UploadObserved, UploadParsed,
    UploadRejected,
};
use crate::id::{ContentHash, EventId};
use crate::listing::CanonicalListing;
use crate::time::Timestamp;

/// An event of schema version 1.
#[derive(Decode)]
pub(crate) struct EventV1 {
    id: EventId,
    #[allow(
        dead_code,
        reason = "read to keep the layout; the codec checked it already"
    )]
    schema_version: u16,
    event_time: Timestamp,
    record_time: Timestamp,
    payload: PayloadV1,
}

/// The payloads of schema version 1, in their variant order.
#[derive(Decode)]
enum PayloadV1 {
    UploadObserved(UploadObservedV1),
    UploadParsed(UploadParsedV1),
    UploadRejected(UploadRejected),
    ListingAttested(Box<ListingAttestedV1>),
    DeadLettered(DeadLettered),
}

#[derive(Decode)]
struct UploadObservedV1 {
    bucket: String,
    key: String,
    etag: String,
    size: u64,
    last_modified: Timestamp,
    miner_hotkey: String,
    job_id: String,
    file_timestamp: Timestamp,
    declared_record_count: Option<u64>,
    format: UploadFormat,
    epoch: Option<EpochMetadata>,
    discovery: UploadDiscovery,
}

#[derive(Decode)]
struct UploadParsedV1 {
    upload_id: EventId,
    bucket: String,
    key: String,
    miner_hotkey: String,
    job_id: String,
    format: UploadFormat,
    rows_read: u64,
    rows_valid: u64,
    rows_rejected: u64,
    rejections: Vec<ReasonCount>,
    declared_record_count: Option<u64>,
    duplicate_listing_ids: Vec<String>,
    duplicate_rows: u64,
    distinct_zip_codes: u32,
    extra_columns: Vec<String>,
    quality: QualityAssessment,
    admission: Admission,
}

#[derive(Decode)]
struct ListingAttestedV1 {
    upload_id: EventId,
    row_index: u64,
    miner_hotkey: String,
    key: String,
    job_id: String,
    scraped_at: Timestamp,
    submitted_at: Timestamp,
    listing: CanonicalListing,
    content_hash: ContentHash,
    miner_trust: f64,
}

/// The epoch id of an upload of `format` whose job id is `job_id` (v2 files used the epoch).
fn epoch_of(format: UploadFormat, job_id: &str) -> Option<String> {
    (format != UploadFormat::V1).then(|| job_id.to_owned())
}

impl From<UploadObservedV1> for UploadObserved {
    fn from(old: UploadObservedV1) -> Self {
        Self {
            epoch_id: epoch_of(old.format, &old.job_id),
            zipcode: None,
            bucket: old.bucket,
            key: old.key,
            etag: old.etag,
            size: old.size,
            last_modified: old.last_modified,
            miner_hotkey: old.miner_hotkey,
            job_id: old.job_id,
            file_timestamp: old.file_timestamp,
            declared_record_count: old.declared_record_count,
            format: old.format,
            epoch: old.epoch,
            discovery: old.discovery,
        }
    }
}

impl From<UploadParsedV1> for UploadParsed {
    fn from(old: UploadParsedV1) -> Self {
        Self {
            epoch_id: epoch_of(old.format, &old.job_id),
            zipcode: None,
            rows_outside_zipcode: 0,
            future_scrape_times: 0,
            extra_column_count: u32::try_from(old.extra_columns.len()).unwrap_or(u32::MAX),
            upload_id: old.upload_id,
            bucket: old.bucket,
            key: old.key,
            miner_hotkey: old.miner_hotkey,
            job_id: old.job_id,
            format: old.format,
            rows_read: old.rows_read,
            rows_valid: old.rows_valid,
            rows_rejected: old.rows_rejected,
            rejections: old.rejections,
            declared_record_count: old.declared_record_count,
            duplicate_listing_ids: old.duplicate_listing_ids,
            duplicate_rows: old.duplicate_rows,
            distinct_zip_codes: old.distinct_zip_codes,
            extra_columns: old.extra_columns,
            quality: old.quality,
            admission: old.admission,
        }
    }
}

impl From<ListingAttestedV1> for ListingAttested {
    fn from(old: ListingAttestedV1) -> Self {
        Self {
            upload_id: old.upload_id,
            row_index: old.row_index,
            miner_hotkey: old.miner_hotkey,
            key: old.key,
            job_id: old.job_id,
            scraped_at: old.scraped_at,
            submitted_at: old.submitted_at,
            listing: old.listing,
            content_hash: old.content_hash,
            miner_trust: old.miner_trust,
            // a version 1 attestation does not say which layout its upload had
            epoch_id: None,
            zipcode: None,
        }
    }
}

impl From<EventV1> for Event {
    fn from(old: EventV1) -> Self {
        let payload = match old.payload {
            PayloadV1::UploadObserved(upload) => EventPayload::UploadObserved(upload.into()),
            PayloadV1::UploadParsed(parsed) => EventPayload::UploadParsed(parsed.into()),
            PayloadV1::UploadRejected(rejected) => EventPayload::UploadRejected(rejected),
            PayloadV1::ListingAttested(attested) => {
                EventPayload::ListingAttested(Box::new((*attested).into()))
            }
            PayloadV1::DeadLettered(dead) => EventPayload::DeadLettered(dead),
        };
        Self {
            id: old.id,
            // converted, the event is in the current layout, and says so if encoded again
            schema_version: payload.event_type().schema_version(),
            event_time: old.event_time,
            record_time: old.record_time,
            payload,
        }
    }
}
