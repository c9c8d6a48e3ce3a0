//! What every upload layout shares once a row is read: mapping, the in-file duplicate check,
//! admission, the attestation events handed out a batch at a time, and the file's summary.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashSet;
use resi_events::{
    Admission, Event, EventId, EventPayload, EventType, ListingAttested, RejectReason, Timestamp,
    UploadObserved, UploadParsed, codec,
};
use resi_projections::trust;

use crate::quality;
use crate::row::{IdRule, RowContext, RowValues, map_row};

/// Duplicate listing ids listed in a summary at most.
pub const MAX_LISTED_DUPLICATES: usize = 100;
/// Extra columns (or JSON keys) listed in a summary at most.
pub const MAX_LISTED_EXTRA_COLUMNS: usize = 100;

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

/// How files are read, from the parser's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// Rows decoded (and events handed out) at once.
    pub batch_rows: usize,
    /// How far past the upload's `LastModified` a scrape time may be before it is clamped.
    pub max_scrape_skew_micros: i64,
    /// Largest JSON listing (or document header value), in bytes: memory per row stays bounded
    /// whatever the document holds.
    pub max_json_listing_bytes: u64,
    /// Most rows (listings) of one file: the memory a file's ids take is bounded by it.
    pub max_file_rows: u64,
    /// When the events are written (informational).
    pub record_time: Timestamp,
}

/// One encoded event, ready for the producer.
#[derive(Debug)]
pub struct Encoded {
    /// Message key.
    pub key: String,
    /// Format byte + bincode.
    pub payload: Vec<u8>,
    /// The event's type, schema version and id, which its headers carry (built into rdkafka's
    /// form only when produced).
    pub event_type: EventType,
    /// Schema version.
    pub schema_version: u16,
    /// Event id.
    pub id: EventId,
}

impl Encoded {
    /// Encodes an event.
    #[must_use]
    pub fn of(event: &Event) -> Self {
        Self {
            key: event.payload.partition_key().to_owned(),
            payload: codec::encode(event),
            event_type: event.event_type(),
            schema_version: event.schema_version,
            id: event.id,
        }
    }
}

/// A compact key of a listing id for the in-file duplicate check, the only state that grows with
/// a file (about 10 bytes per row): a numeric id below 2^63 (every zpid) is itself, any other
/// id is 63 bits of its blake3 hash with the top bit set, so the two kinds never meet and two
/// other ids collide with odds of about 1 in 10^7 in a file of a million of them.
#[must_use]
pub fn seen_key(listing_id: &str) -> u64 {
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

/// Which listing ids may repeat in a file.
#[derive(Debug)]
pub enum Repeats {
    /// Found by a first pass over the id columns: only these need remembering.
    Known(HashSet<u64>),
    /// Not known (a file read once): every id is remembered.
    Unknown,
}

/// The columns or keys a file has that its layout does not use, each name counted once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// Every distinct name noted, up to [`Self::MAX_COUNTED`].
    names: BTreeSet<String>,
}

impl Extras {
    /// Longest name kept (a longer one is cut at a character boundary).
    const MAX_NAME_BYTES: usize = 64;
    /// Distinct names remembered at most: a document can hold any number of keys, and memory
    /// stays bounded (the count then says "at least").
    const MAX_COUNTED: usize = 10_000;

    /// The extras of a file whose columns are `names`.
    #[must_use]
    pub fn of(names: Vec<String>) -> Self {
        let mut extras = Self::default();
        for name in names {
            extras.note(&name);
        }
        extras
    }

    /// Notes one extra name.
    pub fn note(&mut self, name: &str) {
        let mut end = name.len().min(Self::MAX_NAME_BYTES);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let kept = &name[..end];
        if self.names.len() < Self::MAX_COUNTED && !self.names.contains(kept) {
            self.names.insert(kept.to_owned());
        }
    }

    /// The first names in order, at most [`MAX_LISTED_EXTRA_COLUMNS`], and how many there are.
    fn summary(self) -> (Vec<String>, u32) {
        let count = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let listed = self
            .names
            .into_iter()
            .take(MAX_LISTED_EXTRA_COLUMNS)
            .collect();
        (listed, count)
    }
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
    seen: HashSet<u64>,
    zip_codes: HashSet<String>,
    rows_outside_zipcode: u64,
    future_scrape_times: u64,
    admitted: u64,
    rate_limited: u64,
}

/// Maps rows, keeps the counts, and hands the admitted rows' events out a batch at a time
/// through `emit`, which returns `false` to stop.
pub struct Emitter<'u, F> {
    upload: &'u UploadObserved,
    upload_id: EventId,
    admission: AdmissionPlan,
    options: ParseOptions,
    context: RowContext,
    rule: IdRule,
    repeats: Repeats,
    tally: Tally,
    out: Vec<Encoded>,
    emit: F,
}

impl<'u, F: FnMut(Vec<Encoded>) -> bool> Emitter<'u, F> {
    /// An emitter for `upload`, parsed under `admission`.
    pub fn new(
        upload: &'u UploadObserved,
        admission: AdmissionPlan,
        options: ParseOptions,
        rule: IdRule,
        repeats: Repeats,
        emit: F,
    ) -> Self {
        Self {
            upload,
            upload_id: upload.event_id(),
            admission,
            context: RowContext {
                upload_time: upload.last_modified,
                max_skew_micros: options.max_scrape_skew_micros,
                zipcode: upload.zipcode.clone(),
            },
            options,
            rule,
            repeats,
            tally: Tally::default(),
            out: Vec::new(),
            emit,
        }
    }

    /// Rows read so far.
    #[must_use]
    pub const fn rows_read(&self) -> u64 {
        self.tally.rows_read
    }

    /// `max_file_rows`.
    #[must_use]
    pub const fn max_rows(&self) -> u64 {
        self.options.max_file_rows
    }

    /// Whether the rows read so far are within `max_file_rows`.
    #[must_use]
    pub const fn within_row_limit(&self) -> bool {
        self.tally.rows_read <= self.options.max_file_rows
    }

    /// Attestations handed out or buffered so far.
    #[must_use]
    pub const fn admitted(&self) -> u64 {
        self.tally.admitted
    }

    /// Counts a row rejected before it could be read into values (a JSON listing that is not
    /// an object).
    pub fn reject(&mut self, reason: RejectReason) {
        self.tally.rows_read += 1;
        *self.tally.rejections.entry(reason).or_default() += 1;
    }

    /// Reads one row: rejected with its reason, or valid (then admitted or rate-limited).
    pub fn row(&mut self, values: &RowValues<'_>) {
        let row_index = self.tally.rows_read;
        self.tally.rows_read += 1;
        let mapped = match map_row(values, self.rule, &self.context) {
            Ok(mapped) => mapped,
            Err(reason) => {
                *self.tally.rejections.entry(reason).or_default() += 1;
                return;
            }
        };
        let listing_id = &mapped.listing.listing_id;
        let key = seen_key(listing_id);
        let may_repeat = match &self.repeats {
            Repeats::Known(repeated) => repeated.contains(&key),
            Repeats::Unknown => true,
        };
        if may_repeat && !self.tally.seen.insert(key) {
            *self
                .tally
                .rejections
                .entry(RejectReason::DuplicateInFile)
                .or_default() += 1;
            self.tally.duplicate_rows += 1;
            if self.tally.duplicate_ids.len() < MAX_LISTED_DUPLICATES {
                self.tally.duplicate_ids.insert(listing_id.clone());
            }
            return;
        }
        let tally = &mut self.tally;
        tally.rows_valid += 1;
        if mapped.future_scrape_time {
            tally.future_scrape_times += 1;
        }
        if let Some(zip) = &mapped.listing.zip_code {
            if self
                .upload
                .zipcode
                .as_ref()
                .is_some_and(|assigned| assigned != zip)
            {
                tally.rows_outside_zipcode += 1;
            }
            if !tally.zip_codes.contains(zip) {
                tally.zip_codes.insert(zip.clone());
            }
        }
        if tally.admitted >= self.admission.remaining() {
            tally.rate_limited += 1;
            return;
        }
        tally.admitted += 1;
        let content_hash = mapped.listing.content_hash();
        let attested = ListingAttested {
            upload_id: self.upload_id,
            row_index,
            miner_hotkey: self.upload.miner_hotkey.clone(),
            key: self.upload.key.clone(),
            job_id: self.upload.job_id.clone(),
            scraped_at: mapped.scraped_at,
            submitted_at: self.upload.last_modified,
            listing: mapped.listing,
            content_hash,
            miner_trust: self.admission.trust_used,
            epoch_id: self.upload.epoch_id.clone(),
            zipcode: self.upload.zipcode.clone(),
        };
        let event = Event::new(
            EventPayload::ListingAttested(Box::new(attested)),
            mapped.scraped_at,
            self.options.record_time,
        );
        self.out.push(Encoded::of(&event));
    }

    /// Whether a batch of events is ready to be handed out.
    #[must_use]
    pub fn batch_full(&self) -> bool {
        self.out.len() >= self.options.batch_rows.max(1)
    }

    /// Hands the buffered events out; `false` when the receiver wants no more.
    pub fn flush(&mut self) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let batch = std::mem::take(&mut self.out);
        (self.emit)(batch)
    }

    /// The file's `UploadParsed`, once every row was read and flushed. `declared` overrides the
    /// upload's declared count when the file itself declares one (an epoch JSON document).
    #[must_use]
    pub fn finish(self, extras: Extras, declared: Option<u64>) -> Event {
        debug_assert!(self.out.is_empty(), "flush before finishing");
        let tally = self.tally;
        let rows_rejected = tally.rejections.values().sum();
        let rejections = tally
            .rejections
            .into_iter()
            .map(|(reason, rows)| resi_events::ReasonCount { reason, rows })
            .collect::<Vec<_>>();
        let upload = self.upload;
        let (extra_columns, extra_column_count) = extras.summary();
        let mut parsed = UploadParsed {
            upload_id: self.upload_id,
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            miner_hotkey: upload.miner_hotkey.clone(),
            job_id: upload.job_id.clone(),
            format: upload.format,
            rows_read: tally.rows_read,
            rows_valid: tally.rows_valid,
            rows_rejected,
            rejections,
            declared_record_count: declared.or(upload.declared_record_count),
            duplicate_listing_ids: tally.duplicate_ids.into_iter().collect(),
            duplicate_rows: tally.duplicate_rows,
            distinct_zip_codes: u32::try_from(tally.zip_codes.len()).unwrap_or(u32::MAX),
            extra_columns,
            extra_column_count,
            epoch_id: upload.epoch_id.clone(),
            zipcode: upload.zipcode.clone(),
            rows_outside_zipcode: tally.rows_outside_zipcode,
            future_scrape_times: tally.future_scrape_times,
            quality: resi_events::QualityAssessment {
                score: 1.0,
                issues: Vec::new(),
            },
            admission: Admission {
                trust_used: self.admission.trust_used,
                daily_limit: self.admission.daily_limit,
                utc_day: self.admission.utc_day,
                admitted_before: self.admission.admitted_before,
                admitted: tally.admitted,
                rate_limited: tally.rate_limited,
            },
        };
        parsed.quality = quality::assess(&parsed);
        Event::new(
            EventPayload::UploadParsed(parsed),
            upload.last_modified,
            self.options.record_time,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn extras_are_listed_up_to_a_bound_and_all_counted() {
        let mut extras = Extras::default();
        for index in 0..150 {
            extras.note(&format!("column_{index:03}"));
            extras.note(&format!("column_{index:03}"));
        }
        extras.note(&"é".repeat(100));
        let (listed, count) = extras.summary();
        assert_eq!(count, 151);
        assert_eq!(listed.len(), MAX_LISTED_EXTRA_COLUMNS);
        assert_eq!(listed[0], "column_000");
        assert!(listed.iter().all(|name| name.len() <= 64));
    }
}
