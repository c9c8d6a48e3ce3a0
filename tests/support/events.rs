//! Events as the parser writes them, built directly, for tests that start at the log.

use resi_events::{
    Admission, CanonicalListing, Event, EventId, EventPayload, ListingAttested, QualityAssessment,
    ReasonCount, RejectReason, Timestamp, UploadFormat, UploadParsed,
};

/// An hour in microseconds.
pub const HOUR: i64 = 3_600_000_000;
/// A day in microseconds.
pub const DAY: i64 = 24 * HOUR;

/// An attestation of `listing` by `miner` in row `row` of `upload`, scraped at `at`, with the
/// miner's trust.
pub fn report(
    miner: &str,
    (upload, row): (&str, u64),
    at: i64,
    trust: f64,
    listing: CanonicalListing,
) -> Event {
    let payload = ListingAttested {
        upload_id: EventId(*blake3::hash(format!("{miner}/{upload}").as_bytes()).as_bytes()),
        row_index: row,
        miner_hotkey: miner.to_owned(),
        key: format!("data/hotkey={miner}/job_id=j/data_{upload}.parquet"),
        job_id: "j".into(),
        scraped_at: Timestamp::from_micros(at),
        submitted_at: Timestamp::from_micros(at + HOUR),
        content_hash: listing.content_hash(),
        listing,
        miner_trust: trust,
        epoch_id: None,
        zipcode: None,
    };
    Event::new(
        EventPayload::ListingAttested(Box::new(payload)),
        Timestamp::from_micros(at),
        Timestamp::from_micros(at + HOUR),
    )
}

/// The summary of upload `index` of `miner`: `rows` rows read, `duplicates` of them repeated
/// and one with a bad zip code, of submission quality `quality`, parsed at `at`.
pub fn parsed(miner: &str, index: u64, quality: f64, rows: u64, duplicates: u64, at: i64) -> Event {
    let payload = UploadParsed {
        upload_id: EventId(*blake3::hash(format!("{miner}/{index}").as_bytes()).as_bytes()),
        bucket: "resi-miner-data".into(),
        key: format!("data/hotkey={miner}/job_id=j/data_{index}.parquet"),
        miner_hotkey: miner.to_owned(),
        job_id: "j".into(),
        format: UploadFormat::V1,
        rows_read: rows,
        rows_valid: rows - duplicates - 1,
        rows_rejected: duplicates + 1,
        rejections: vec![
            ReasonCount {
                reason: RejectReason::DuplicateInFile,
                rows: duplicates,
            },
            ReasonCount {
                reason: RejectReason::InvalidZipCode,
                rows: 1,
            },
        ],
        declared_record_count: Some(rows),
        duplicate_listing_ids: Vec::new(),
        duplicate_rows: duplicates,
        distinct_zip_codes: 3,
        extra_columns: Vec::new(),
        extra_column_count: 0,
        epoch_id: None,
        zipcode: None,
        rows_outside_zipcode: 0,
        future_scrape_times: 0,
        quality: QualityAssessment {
            score: quality,
            issues: Vec::new(),
        },
        admission: Admission {
            trust_used: 0.5,
            daily_limit: 1_000,
            utc_day: i32::try_from(at / DAY).unwrap_or_default(),
            admitted_before: 0,
            admitted: rows - duplicates - 1,
            rate_limited: 0,
        },
    };
    Event::new(
        EventPayload::UploadParsed(payload),
        Timestamp::from_micros(at),
        Timestamp::from_micros(at),
    )
}
