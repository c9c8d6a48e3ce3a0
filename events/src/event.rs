//! Event types and their content-derived ids.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::epoch::{EpochClosed, EpochOpened};
use crate::evidence::{EpochEvidenceComplete, MinerEpochEvidence};
use crate::id::{ContentHash, EventId, IdHasher};
use crate::listing::CanonicalListing;
use crate::network::{MetagraphObserved, MinerStatusReported};
use crate::sanction::{MinerBanned, MinerFabricated, MinerUnbanned};
use crate::time::Timestamp;
use crate::topics::TopicKind;
use crate::validation::{EpochValidated, MinerValidated, ValidatorResultsPublished};

/// An event as it travels on the log.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct Event {
    /// blake3 of the identifying content; see each payload's `event_id`.
    pub id: EventId,
    /// Schema version of the payload type (also sent as a Kafka header).
    pub schema_version: u16,
    /// When the fact happened, taken from the data (the file's timestamp, the scrape time).
    pub event_time: Timestamp,
    /// When this event was written. Informational only: ids and projections never depend on it.
    pub record_time: Timestamp,
    /// What happened.
    pub payload: EventPayload,
}

impl Event {
    /// Wraps a payload, deriving the id and schema version from it.
    #[must_use]
    pub fn new(payload: EventPayload, event_time: Timestamp, record_time: Timestamp) -> Self {
        Self {
            id: payload.event_id(),
            schema_version: payload.event_type().schema_version(),
            event_time,
            record_time,
            payload,
        }
    }

    /// The payload's type.
    #[must_use]
    pub const fn event_type(&self) -> EventType {
        self.payload.event_type()
    }
}

/// The kinds of event, with their names and current schema versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// [`UploadObserved`].
    UploadObserved,
    /// [`UploadParsed`].
    UploadParsed,
    /// [`UploadRejected`].
    UploadRejected,
    /// [`ListingAttested`].
    ListingAttested,
    /// [`DeadLettered`].
    DeadLettered,
    /// [`EpochOpened`].
    EpochOpened,
    /// [`EpochClosed`].
    EpochClosed,
    /// [`MinerStatusReported`].
    MinerStatusReported,
    /// [`MetagraphObserved`].
    MetagraphObserved,
    /// [`MinerEpochEvidence`].
    MinerEpochEvidence,
    /// [`EpochEvidenceComplete`].
    EpochEvidenceComplete,
    /// [`MinerFabricated`].
    MinerFabricated,
    /// [`MinerBanned`].
    MinerBanned,
    /// [`MinerUnbanned`].
    MinerUnbanned,
    /// [`ValidatorResultsPublished`].
    ValidatorResultsPublished,
    /// [`EpochValidated`].
    EpochValidated,
    /// [`MinerValidated`].
    MinerValidated,
}

impl EventType {
    /// Every event type, in the payload's variant order.
    pub const ALL: [Self; 17] = [
        Self::UploadObserved,
        Self::UploadParsed,
        Self::UploadRejected,
        Self::ListingAttested,
        Self::DeadLettered,
        Self::EpochOpened,
        Self::EpochClosed,
        Self::MinerStatusReported,
        Self::MetagraphObserved,
        Self::MinerEpochEvidence,
        Self::EpochEvidenceComplete,
        Self::MinerFabricated,
        Self::MinerBanned,
        Self::MinerUnbanned,
        Self::ValidatorResultsPublished,
        Self::EpochValidated,
        Self::MinerValidated,
    ];

    /// The name used in headers, logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UploadObserved => "upload_observed",
            Self::UploadParsed => "upload_parsed",
            Self::UploadRejected => "upload_rejected",
            Self::ListingAttested => "listing_attested",
            Self::DeadLettered => "dead_lettered",
            Self::EpochOpened => "epoch_opened",
            Self::EpochClosed => "epoch_closed",
            Self::MinerStatusReported => "miner_status_reported",
            Self::MetagraphObserved => "metagraph_observed",
            Self::MinerEpochEvidence => "miner_epoch_evidence",
            Self::EpochEvidenceComplete => "epoch_evidence_complete",
            Self::MinerFabricated => "miner_fabricated",
            Self::MinerBanned => "miner_banned",
            Self::MinerUnbanned => "miner_unbanned",
            Self::ValidatorResultsPublished => "validator_results_published",
            Self::EpochValidated => "epoch_validated",
            Self::MinerValidated => "miner_validated",
        }
    }

    /// Whether the type existed in schema version 1, whose events share one older layout.
    #[must_use]
    pub const fn has_version_1_layout(self) -> bool {
        !matches!(
            self,
            Self::EpochOpened
                | Self::EpochClosed
                | Self::MinerStatusReported
                | Self::MetagraphObserved
                | Self::MinerEpochEvidence
                | Self::EpochEvidenceComplete
                | Self::MinerFabricated
                | Self::MinerBanned
                | Self::MinerUnbanned
                | Self::ValidatorResultsPublished
                | Self::EpochValidated
                | Self::MinerValidated
        )
    }

    /// The schema version this release writes. Readers accept this version and older ones
    /// (see [`crate::codec`] for how older layouts are read).
    ///
    /// * 2: uploads record the epoch and zipcode they belong to and the epoch JSON format;
    ///   summaries count rows outside the file's zipcode and every extra column; attestations
    ///   carry the epoch and zipcode; new row and upload rejection reasons; dead letters of
    ///   events a projection's database refused.
    /// * 3 (upload rejections): the `miner_banned` reason; (uploads) the validator results
    ///   format.
    /// * 4 (upload rejections): the `not_a_validator` and `results_invalid` reasons.
    #[must_use]
    pub const fn schema_version(self) -> u16 {
        match self {
            Self::UploadRejected => 4,
            Self::UploadObserved => 3,
            Self::UploadParsed | Self::ListingAttested | Self::DeadLettered => 2,
            Self::EpochOpened
            | Self::EpochClosed
            | Self::MinerStatusReported
            | Self::MetagraphObserved
            | Self::MinerEpochEvidence
            | Self::EpochEvidenceComplete
            | Self::MinerFabricated
            | Self::MinerBanned
            | Self::MinerUnbanned
            | Self::ValidatorResultsPublished
            | Self::EpochValidated
            | Self::MinerValidated => 1,
        }
    }

    /// The topic this event type is published on.
    #[must_use]
    pub const fn topic(self) -> TopicKind {
        match self {
            Self::UploadObserved
            | Self::UploadParsed
            | Self::UploadRejected
            | Self::MinerFabricated
            | Self::MinerValidated => TopicKind::Uploads,
            Self::ListingAttested => TopicKind::Attestations,
            Self::DeadLettered => TopicKind::DeadLetters,
            Self::EpochOpened
            | Self::EpochClosed
            | Self::MinerEpochEvidence
            | Self::EpochEvidenceComplete
            | Self::MinerBanned
            | Self::MinerUnbanned
            | Self::ValidatorResultsPublished
            | Self::EpochValidated => TopicKind::Epochs,
            Self::MinerStatusReported | Self::MetagraphObserved => TopicKind::Network,
        }
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventPayload {
    /// The bridge learnt of an uploaded file.
    UploadObserved(UploadObserved),
    /// The parser read a file; per-row outcomes are in the attestations.
    UploadParsed(UploadParsed),
    /// The upload cannot be processed as a whole (its path or metadata is wrong).
    UploadRejected(UploadRejected),
    /// One miner reported one listing.
    ListingAttested(Box<ListingAttested>),
    /// Something could not be processed after its retries; kept for inspection and reprocessing.
    DeadLettered(DeadLettered),
    /// The coordinator opened a zipcode epoch.
    EpochOpened(Box<EpochOpened>),
    /// The coordinator closed an epoch and revealed its honeypots.
    EpochClosed(EpochClosed),
    /// A miner reported its progress through the gateway.
    MinerStatusReported(Box<MinerStatusReported>),
    /// The gateway recorded the metagraph snapshot its decisions use.
    MetagraphObserved(Box<MetagraphObserved>),
    /// What the database knew of one miner's work in an epoch, for scoring.
    MinerEpochEvidence(Box<MinerEpochEvidence>),
    /// Every miner's evidence of an epoch is on the log.
    EpochEvidenceComplete(Box<EpochEvidenceComplete>),
    /// A miner fabricated in an epoch; its trust falls.
    MinerFabricated(Box<MinerFabricated>),
    /// A miner is banned.
    MinerBanned(Box<MinerBanned>),
    /// An operator lifted a miner's ban.
    MinerUnbanned(Box<MinerUnbanned>),
    /// A validator published its results for an epoch.
    ValidatorResultsPublished(Box<ValidatorResultsPublished>),
    /// The validators' stake decided on an epoch's miners.
    EpochValidated(Box<EpochValidated>),
    /// One miner's verdict, for its trust.
    MinerValidated(Box<MinerValidated>),
}

impl EventPayload {
    /// The payload's type.
    #[must_use]
    pub const fn event_type(&self) -> EventType {
        match self {
            Self::UploadObserved(_) => EventType::UploadObserved,
            Self::UploadParsed(_) => EventType::UploadParsed,
            Self::UploadRejected(_) => EventType::UploadRejected,
            Self::ListingAttested(_) => EventType::ListingAttested,
            Self::DeadLettered(_) => EventType::DeadLettered,
            Self::EpochOpened(_) => EventType::EpochOpened,
            Self::EpochClosed(_) => EventType::EpochClosed,
            Self::MinerStatusReported(_) => EventType::MinerStatusReported,
            Self::MetagraphObserved(_) => EventType::MetagraphObserved,
            Self::MinerEpochEvidence(_) => EventType::MinerEpochEvidence,
            Self::EpochEvidenceComplete(_) => EventType::EpochEvidenceComplete,
            Self::MinerFabricated(_) => EventType::MinerFabricated,
            Self::MinerBanned(_) => EventType::MinerBanned,
            Self::MinerUnbanned(_) => EventType::MinerUnbanned,
            Self::ValidatorResultsPublished(_) => EventType::ValidatorResultsPublished,
            Self::EpochValidated(_) => EventType::EpochValidated,
            Self::MinerValidated(_) => EventType::MinerValidated,
        }
    }

    /// The content-derived id.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        match self {
            Self::UploadObserved(upload) => upload.event_id(),
            Self::UploadParsed(parsed) => parsed.event_id(),
            Self::UploadRejected(rejected) => rejected.event_id(),
            Self::ListingAttested(attested) => attested.event_id(),
            Self::DeadLettered(dead) => dead.event_id(),
            Self::EpochOpened(opened) => opened.event_id(),
            Self::EpochClosed(closed) => closed.event_id(),
            Self::MinerStatusReported(status) => status.event_id(),
            Self::MetagraphObserved(metagraph) => metagraph.event_id(),
            Self::MinerEpochEvidence(evidence) => evidence.event_id(),
            Self::EpochEvidenceComplete(complete) => complete.event_id(),
            Self::MinerFabricated(fabricated) => fabricated.event_id(),
            Self::MinerBanned(banned) => banned.event_id(),
            Self::MinerUnbanned(unbanned) => unbanned.event_id(),
            Self::ValidatorResultsPublished(results) => results.event_id(),
            Self::EpochValidated(validated) => validated.event_id(),
            Self::MinerValidated(validated) => validated.event_id(),
        }
    }

    /// The Kafka message key: the miner hotkey on the uploads topic (total order per miner),
    /// the listing id on the attestations topic (total order per listing).
    #[must_use]
    pub fn partition_key(&self) -> &str {
        match self {
            Self::UploadObserved(upload) => &upload.miner_hotkey,
            Self::UploadParsed(parsed) => &parsed.miner_hotkey,
            Self::UploadRejected(rejected) => &rejected.miner_hotkey,
            Self::ListingAttested(attested) => &attested.listing.listing_id,
            Self::DeadLettered(dead) => dead.subject.key(),
            Self::EpochOpened(opened) => &opened.epoch_id,
            Self::EpochClosed(closed) => &closed.epoch_id,
            Self::MinerStatusReported(status) => &status.miner_hotkey,
            // every snapshot in one partition, in the order observed
            Self::MetagraphObserved(_) => "metagraph",
            Self::MinerEpochEvidence(evidence) => &evidence.epoch_id,
            Self::EpochEvidenceComplete(complete) => &complete.epoch_id,
            Self::MinerFabricated(fabricated) => &fabricated.miner_hotkey,
            Self::MinerBanned(banned) => &banned.miner_hotkey,
            Self::MinerUnbanned(unbanned) => &unbanned.miner_hotkey,
            Self::ValidatorResultsPublished(results) => &results.epoch_id,
            Self::EpochValidated(validated) => &validated.epoch_id,
            Self::MinerValidated(validated) => &validated.miner_hotkey,
        }
    }
}

/// The layouts miners upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadFormat {
    /// `data_{YYYYMMDD_HHMMSS}_{count}.parquet` with Zillow columns.
    V1,
    /// Per-epoch `listings.parquet` with a `metadata.json` beside it.
    V2,
    /// One JSON document per assigned zipcode of an epoch (`epoch=…/zipcode=…/data_….json`).
    EpochJson,
    /// A validator's results for an epoch (`validators/{hotkey}/epoch=…/….json`, schema
    /// version 3); the upload's `miner_hotkey` is the validator.
    ValidatorResults,
}

impl UploadFormat {
    /// The format's name, as in events, metrics and the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::EpochJson => "epoch_json",
            Self::ValidatorResults => "validator_results",
        }
    }
}

/// How the bridge learnt of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadDiscovery {
    /// An S3 `ObjectCreated` notification.
    Notification,
    /// Listing the bucket (reconciliation).
    Listing,
    /// A local directory source.
    LocalDirectory,
}

/// The `metadata.json` of a v2 (epoch) upload.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EpochMetadata {
    /// Key of the `metadata.json` object.
    pub metadata_key: String,
    /// Epoch id, e.g. `2025-10-01T16-00-00`.
    pub epoch_id: String,
    /// When the miner started mining the epoch.
    pub mining_start_time: Option<Timestamp>,
    /// When the miner finished mining the epoch.
    pub mining_end_time: Option<Timestamp>,
    /// Number of zip codes the miner says it completed.
    pub zipcodes_completed: Option<u32>,
    /// The `data_format_version` field, e.g. `2.0`.
    pub data_format_version: Option<String>,
}

/// The bridge learnt of an uploaded file.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct UploadObserved {
    /// Bucket (or `file://` root for the local source).
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Entity tag; a rewritten object gets a new one and so a new upload id.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// Last-modified time reported by the store: the authoritative time of the upload, which
    /// the miner does not control. Scrape times are clamped to it and daily limits count its
    /// UTC day.
    pub last_modified: Timestamp,
    /// The miner, from `hotkey=` in the path (the validator, for validator results).
    pub miner_hotkey: String,
    /// `job_id=` in the path (v1) or the epoch id (v2, epoch JSON, validator results).
    pub job_id: String,
    /// The time the miner claims: the file name's (v1, epoch JSON; the miner's local wall clock,
    /// not UTC) or the metadata's mining end time (v2); `last_modified` when there is none.
    /// Recorded, never used for a decision.
    pub file_timestamp: Timestamp,
    /// Record count in the file name (v1) or the metadata's `total_listings` (v2).
    pub declared_record_count: Option<u64>,
    /// Row schema.
    pub format: UploadFormat,
    /// The epoch metadata, for v2 uploads.
    pub epoch: Option<EpochMetadata>,
    /// The epoch the upload belongs to (v2, epoch JSON), from the path.
    pub epoch_id: Option<String>,
    /// The zipcode the upload is for (epoch JSON), from its `zipcode=` folder.
    pub zipcode: Option<String>,
    /// How the bridge learnt of it (not part of the id).
    pub discovery: UploadDiscovery,
}

impl UploadObserved {
    /// Derives the upload id from (bucket, key, etag).
    #[must_use]
    pub fn derive_id(bucket: &str, key: &str, etag: &str) -> EventId {
        EventId(
            IdHasher::new("resi.upload.v1")
                .str(bucket)
                .str(key)
                .str(etag)
                .finish(),
        )
    }

    /// The upload id.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        Self::derive_id(&self.bucket, &self.key, &self.etag)
    }
}

/// Why a single row was rejected.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// No usable listing id (zpid, or for v2 a Zillow URL, MLS id or address).
    MissingListingId,
    /// Zip code is not five digits.
    InvalidZipCode,
    /// State is not a two-letter US state.
    InvalidState,
    /// Latitude outside [-90, 90].
    LatitudeOutOfRange,
    /// Longitude outside [-180, 180].
    LongitudeOutOfRange,
    /// Price outside 1,000–100,000,000 dollars.
    PriceOutOfRange,
    /// Bedrooms outside the plausible range.
    ImplausibleBedrooms,
    /// Bathrooms outside the plausible range.
    ImplausibleBathrooms,
    /// Living area outside the plausible range.
    ImplausibleLivingArea,
    /// Scrape time missing or not a valid timestamp.
    InvalidScrapeTime,
    /// A value could not be coerced to its column's type.
    UncoercibleValue,
    /// The listing id appeared earlier in the same file; the first occurrence is kept.
    DuplicateInFile,
    /// Made up by a mock scraper (`mock_generated`, a `mock_…` zpid or a mock source site):
    /// never attested.
    Synthetic,
    /// An id and a zip code but not one reported value (price, address, rooms, area, type,
    /// status, days on market, coordinates, listing date, MLS id).
    NoListingValues,
}

impl RejectReason {
    /// The reason's name, as in events, metrics and the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingListingId => "missing_listing_id",
            Self::InvalidZipCode => "invalid_zip_code",
            Self::InvalidState => "invalid_state",
            Self::LatitudeOutOfRange => "latitude_out_of_range",
            Self::LongitudeOutOfRange => "longitude_out_of_range",
            Self::PriceOutOfRange => "price_out_of_range",
            Self::ImplausibleBedrooms => "implausible_bedrooms",
            Self::ImplausibleBathrooms => "implausible_bathrooms",
            Self::ImplausibleLivingArea => "implausible_living_area",
            Self::InvalidScrapeTime => "invalid_scrape_time",
            Self::UncoercibleValue => "uncoercible_value",
            Self::DuplicateInFile => "duplicate_in_file",
            Self::Synthetic => "synthetic",
            Self::NoListingValues => "no_listing_values",
        }
    }
}

/// A count of rows per rejection reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ReasonCount {
    /// The reason.
    pub reason: RejectReason,
    /// How many rows.
    pub rows: u64,
}

/// A finding of the file-level quality check (seed 001, `validate_submission_quality`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum QualityIssue {
    /// Some price below 1,000 or above 100,000,000 (×0.5).
    SuspiciousPriceRange,
    /// The same listing id more than once in the file (×0.3).
    DuplicateListingIds,
    /// More than 50 distinct zip codes in one file (×0.7).
    ExcessiveGeographicSpread,
    /// Declared record count differs from the rows in the file.
    DeclaredCountMismatch,
    /// Most rows were rejected.
    HighRejectionRate,
    /// Rows made up by a mock scraper.
    SyntheticListings,
}

/// The file-level quality score and what lowered it.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct QualityAssessment {
    /// In [0, 1]; 1 is a clean file.
    pub score: f64,
    /// What lowered the score, sorted.
    pub issues: Vec<QualityIssue>,
}

/// The rate-limit decision for a file, recorded so that a replay never decides again.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct Admission {
    /// The miner's trust score the decision used, as the trust projection served it.
    pub trust_used: f64,
    /// The daily limit that trust gives (listings per UTC day).
    pub daily_limit: u64,
    /// The UTC day counted against, as days since 1970-01-01 (of the upload's `last_modified`).
    pub utc_day: i32,
    /// Listings admitted for this miner on that day before this file.
    pub admitted_before: u64,
    /// Listings of this file admitted.
    pub admitted: u64,
    /// Valid listings of this file over the limit, not emitted.
    pub rate_limited: u64,
}

/// The parser read a file.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct UploadParsed {
    /// The upload's id.
    pub upload_id: EventId,
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// The miner.
    pub miner_hotkey: String,
    /// Job or epoch id.
    pub job_id: String,
    /// Row schema.
    pub format: UploadFormat,
    /// Rows in the file.
    pub rows_read: u64,
    /// Rows that passed validation (admitted or rate-limited).
    pub rows_valid: u64,
    /// Rows rejected by validation.
    pub rows_rejected: u64,
    /// Rejected rows by reason, sorted by reason.
    pub rejections: Vec<ReasonCount>,
    /// Declared record count, if any.
    pub declared_record_count: Option<u64>,
    /// Listing ids that occur more than once in the file, sorted, at most 100.
    pub duplicate_listing_ids: Vec<String>,
    /// Rows whose listing id occurred earlier in the file.
    pub duplicate_rows: u64,
    /// Distinct zip codes among valid rows.
    pub distinct_zip_codes: u32,
    /// Columns (or JSON keys) present in the file that the schema does not use, sorted, at
    /// most 100.
    pub extra_columns: Vec<String>,
    /// How many distinct extra columns or keys the file has (`extra_columns` lists at most 100).
    pub extra_column_count: u32,
    /// The epoch the upload belongs to (v2, epoch JSON).
    pub epoch_id: Option<String>,
    /// The zipcode the upload is for (epoch JSON).
    pub zipcode: Option<String>,
    /// Valid rows whose zip code is not the upload's zipcode (epoch JSON).
    pub rows_outside_zipcode: u64,
    /// Valid rows whose scrape time was later than the upload (beyond the allowed clock skew),
    /// clamped to it.
    pub future_scrape_times: u64,
    /// File-level quality.
    pub quality: QualityAssessment,
    /// Rate-limit decision.
    pub admission: Admission,
}

impl UploadParsed {
    /// Derives the id from the upload id.
    #[must_use]
    pub fn derive_id(upload_id: &EventId) -> EventId {
        EventId(
            IdHasher::new("resi.upload-parsed.v1")
                .bytes(upload_id.as_bytes())
                .finish(),
        )
    }

    /// The event id.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        Self::derive_id(&self.upload_id)
    }

    /// Whether the file's row count differs from the count it declared.
    #[must_use]
    pub fn declared_count_mismatch(&self) -> bool {
        self.declared_record_count
            .is_some_and(|declared| declared != self.rows_read)
    }
}

/// Why an upload was rejected as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadRejectReason {
    /// The key does not fit the upload layout.
    UnparseablePath,
    /// A v2 `listings.parquet` without its `metadata.json`.
    MetadataMissing,
    /// `metadata.json` is not valid JSON of the expected shape.
    MetadataInvalid,
    /// `metadata.json` or the epoch JSON document names a different miner than the path.
    MetadataMinerMismatch,
    /// The key names two different miners (`hotkey=A/data/hotkey=B/…`).
    HotkeyMismatch,
    /// The miner is banned for fabricating (schema version 3).
    MinerBanned,
    /// Validator results from a hotkey without a validator permit or enough stake (schema
    /// version 4).
    NotAValidator,
    /// A validator results document that is not the seed's shape, or names another validator
    /// or epoch than its key (schema version 4).
    ResultsInvalid,
}

impl UploadRejectReason {
    /// The reason's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnparseablePath => "unparseable_path",
            Self::MetadataMissing => "metadata_missing",
            Self::MetadataInvalid => "metadata_invalid",
            Self::MetadataMinerMismatch => "metadata_miner_mismatch",
            Self::HotkeyMismatch => "hotkey_mismatch",
            Self::MinerBanned => "miner_banned",
            Self::NotAValidator => "not_a_validator",
            Self::ResultsInvalid => "results_invalid",
        }
    }
}

/// The upload cannot be processed as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct UploadRejected {
    /// The upload id (bucket, key, etag).
    pub upload_id: EventId,
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Entity tag.
    pub etag: String,
    /// The miner, when the path names one; otherwise empty.
    pub miner_hotkey: String,
    /// Why.
    pub reason: UploadRejectReason,
    /// Human-readable detail.
    pub detail: String,
}

impl UploadRejected {
    /// Derives the id from the upload id.
    #[must_use]
    pub fn derive_id(upload_id: &EventId) -> EventId {
        EventId(
            IdHasher::new("resi.upload-rejected.v1")
                .bytes(upload_id.as_bytes())
                .finish(),
        )
    }

    /// The event id.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        Self::derive_id(&self.upload_id)
    }
}

/// One miner reported one listing.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct ListingAttested {
    /// The upload the row came from.
    pub upload_id: EventId,
    /// Index of the row in the file (0-based), part of the id.
    pub row_index: u64,
    /// The miner.
    pub miner_hotkey: String,
    /// Object key of the file.
    pub key: String,
    /// Job or epoch id.
    pub job_id: String,
    /// When the row was scraped: the miner's claim, clamped to the upload's `last_modified`
    /// (plus the parser's allowed clock skew), and `last_modified` when the row has none.
    pub scraped_at: Timestamp,
    /// When the file was uploaded: the store's `last_modified`.
    pub submitted_at: Timestamp,
    /// The reported listing.
    pub listing: CanonicalListing,
    /// Hash of the listing's fields.
    pub content_hash: ContentHash,
    /// The miner's trust when the parser decided to admit the row.
    pub miner_trust: f64,
    /// The epoch of the upload (v2, epoch JSON).
    pub epoch_id: Option<String>,
    /// The zipcode the upload is for (epoch JSON).
    pub zipcode: Option<String>,
}

impl ListingAttested {
    /// Derives the attestation id from the upload id and the row index.
    #[must_use]
    pub fn derive_id(upload_id: &EventId, row_index: u64) -> EventId {
        EventId(
            IdHasher::new("resi.attestation.v1")
                .bytes(upload_id.as_bytes())
                .u64(row_index)
                .finish(),
        )
    }

    /// The attestation id.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        Self::derive_id(&self.upload_id, self.row_index)
    }
}

/// What was dead-lettered.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeadLetterSubject {
    /// An upload that could not be read.
    Upload {
        /// The upload id.
        upload_id: EventId,
        /// The miner.
        miner_hotkey: String,
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// A log record that could not be processed, with its bytes for reprocessing.
    Record {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// Message key, lossily as text.
        key: String,
        /// The raw payload.
        payload: Vec<u8>,
    },
    /// A queue message that is not a readable S3 notification, with its body.
    QueueMessage {
        /// Queue URL.
        queue: String,
        /// The queue's message id.
        message_id: String,
        /// The message body.
        body: String,
    },
}

impl DeadLetterSubject {
    /// Message key on the dead-letter topic.
    #[must_use]
    pub fn key(&self) -> &str {
        match self {
            Self::Upload { miner_hotkey, .. } => miner_hotkey,
            Self::Record { key, .. } => key,
            Self::QueueMessage { message_id, .. } => message_id,
        }
    }
}

/// Why something was dead-lettered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// The object no longer exists.
    ObjectMissing,
    /// Not a readable Parquet file (truncated, not Parquet, corrupt pages).
    CorruptFile,
    /// Parquet, but required columns are missing or have unusable types.
    WrongSchema,
    /// Over the configured size limit.
    TooLarge,
    /// A log record that does not decode as an event.
    UndecodableEvent,
    /// A transient failure that persisted through every retry.
    RetriesExhausted,
    /// A queue message that is not an S3 event notification.
    UnreadableNotification,
    /// An event a projection's database refused for what it holds (a value out of a column's
    /// range, a constraint): the rest of its batch was folded without it.
    RefusedByProjection,
}

impl DeadLetterReason {
    /// The reason's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ObjectMissing => "object_missing",
            Self::CorruptFile => "corrupt_file",
            Self::WrongSchema => "wrong_schema",
            Self::TooLarge => "too_large",
            Self::UndecodableEvent => "undecodable_event",
            Self::RetriesExhausted => "retries_exhausted",
            Self::UnreadableNotification => "unreadable_notification",
            Self::RefusedByProjection => "refused_by_projection",
        }
    }
}

/// Something could not be processed.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct DeadLettered {
    /// What.
    pub subject: DeadLetterSubject,
    /// Why.
    pub reason: DeadLetterReason,
    /// Human-readable detail (the error chain).
    pub detail: String,
    /// Attempts made before giving up.
    pub attempts: u32,
}

impl DeadLettered {
    /// The id: the subject and the reason, so a repeated failure of the same thing is one event.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        let hasher = IdHasher::new("resi.dead-letter.v1").str(self.reason.as_str());
        let hasher = match &self.subject {
            DeadLetterSubject::Upload { upload_id, .. } => {
                hasher.str("upload").bytes(upload_id.as_bytes())
            }
            DeadLetterSubject::Record {
                topic,
                partition,
                offset,
                ..
            } => hasher
                .str("record")
                .str(topic)
                .bytes(&partition.to_le_bytes())
                .bytes(&offset.to_le_bytes()),
            DeadLetterSubject::QueueMessage {
                queue, message_id, ..
            } => hasher.str("queue-message").str(queue).str(message_id),
        };
        EventId(hasher.finish())
    }
}
