//! The RESI event contract.
//!
//! Every service speaks through the events defined here, published on the topics defined in
//! [`topics`]. The log is the source of truth, so this crate is deliberately strict:
//!
//! * event ids are derived from content with blake3 ([`id`]), never random, so a re-delivered
//!   upload or row produces the same id and downstream consumers can drop it;
//! * both miner row schemas map to one [`listing::CanonicalListing`] with exact integer types, so
//!   its content hash is stable across platforms and releases;
//! * the wire format ([`codec`]) is bincode 2 behind a one-byte format header; decoding garbage
//!   returns a typed error and never panics, and checked-in golden vectors catch accidental
//!   encoding changes.

pub mod codec;
pub mod epoch;
pub mod event;
pub mod evidence;
pub mod id;
pub mod layout;
mod legacy;
pub mod listing;
pub mod network;
pub mod normalize;
pub mod sanction;
pub mod time;
pub mod topics;
pub mod validation;

pub use codec::{DecodeError, decode, encode};
pub use epoch::{EpochClosed, EpochOpened, EpochZipcode, MarketTier, honeypot_commitment};
pub use event::{
    Admission, DeadLetterReason, DeadLetterSubject, DeadLettered, EpochMetadata, Event,
    EventPayload, EventType, ListingAttested, QualityAssessment, QualityIssue, ReasonCount,
    RejectReason, UploadDiscovery, UploadFormat, UploadObserved, UploadParsed, UploadRejectReason,
    UploadRejected,
};
pub use evidence::{EpochEvidenceComplete, EvidenceSource, MinerEpochEvidence, ZipcodeEvidence};
pub use id::{ContentHash, EventId};
pub use listing::CanonicalListing;
pub use network::{
    MetagraphObserved, MinerStatusReported, MiningStatus, ObservedNeuron, ZipcodeProgress,
};
pub use sanction::{MinerBanned, MinerFabricated, MinerUnbanned};
pub use time::Timestamp;
pub use topics::{TopicKind, TopicSpec, Topics};
pub use validation::{
    EpochValidated, MinerValidated, MinerVerdict, ValidatorResultsPublished, ValidatorScore,
    Verdict,
};
