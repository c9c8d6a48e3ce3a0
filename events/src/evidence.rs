//! What the database knew of each miner's work in an epoch, recorded on the epochs topic once
//! the epoch's window for validators has passed, so that a score is a pure function of the log.
//!
//! The coordinator gathers the facts from the live projections (uploads and their summaries,
//! attestations, consensus) and publishes one [`MinerEpochEvidence`] per miner that uploaded
//! for the epoch, then one [`EpochEvidenceComplete`] naming exactly those events. A scores
//! projection folds them with its own weights and formula: a new formula is a new version built
//! from the same evidence, and replaying the log gives the same scores whenever it is replayed.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::id::{EventId, IdHasher};
use crate::time::Timestamp;

/// One miner's work in one assigned zipcode (honeypots included: they look like the others).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ZipcodeEvidence {
    /// Five digits.
    pub zipcode: String,
    /// Uploads of the epoch for this zipcode.
    pub uploads: u32,
    /// Rows those uploads held.
    pub rows_read: u64,
    /// Rows the parser rejected.
    pub rows_rejected: u64,
    /// Rows repeating a listing earlier in the same file.
    pub duplicate_rows: u64,
    /// Rows that cannot be true: scraped after their upload, or outside the zipcode.
    pub impossible_rows: u64,
    /// Distinct listings admitted.
    pub listings: u64,
    /// Of those, listings with every field a validator requires (address, price, bedrooms,
    /// bathrooms, living area, listing date, zip code).
    pub complete_listings: u64,
    /// Listings at least two other miners also reported: the ones consensus can check.
    pub checked_listings: u64,
    /// Fields of the checked listings that agree with the consensus value.
    pub agreed_fields: u64,
    /// Fields of the checked listings reported.
    pub checked_fields: u64,
    /// The latest upload's `LastModified` (the store's time, not the miner's).
    pub last_upload: Timestamp,
}

/// One miner's evidence for one epoch.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct MinerEpochEvidence {
    /// The epoch.
    pub epoch_id: String,
    /// The [`crate::EpochClosed`] whose honeypots the scoring uses.
    pub closed_id: EventId,
    /// The miner.
    pub miner_hotkey: String,
    /// Its assigned zipcodes it uploaded for, sorted by zipcode.
    pub zipcodes: Vec<ZipcodeEvidence>,
    /// Listings it uploaded for the epoch in zipcodes the epoch did not assign.
    pub unassigned_listings: u64,
}

impl MinerEpochEvidence {
    /// The id: every fact, so that a second gathering that saw something else is told apart.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        let mut hasher = IdHasher::new("resi.epoch.evidence.miner.v1")
            .str(&self.epoch_id)
            .bytes(self.closed_id.as_bytes())
            .str(&self.miner_hotkey)
            .u64(self.unassigned_listings)
            .u64(self.zipcodes.len() as u64);
        for zipcode in &self.zipcodes {
            hasher = hasher
                .str(&zipcode.zipcode)
                .u64(u64::from(zipcode.uploads))
                .u64(zipcode.rows_read)
                .u64(zipcode.rows_rejected)
                .u64(zipcode.duplicate_rows)
                .u64(zipcode.impossible_rows)
                .u64(zipcode.listings)
                .u64(zipcode.complete_listings)
                .u64(zipcode.checked_listings)
                .u64(zipcode.agreed_fields)
                .u64(zipcode.checked_fields)
                .u64(zipcode.last_upload.as_micros().cast_unsigned());
        }
        EventId(hasher.finish())
    }
}

/// A projection build the evidence was read from.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EvidenceSource {
    /// `listing`, `consensus` or `trust`.
    pub projection: String,
    /// Its live version when the evidence was gathered.
    pub version: String,
}

/// Every miner's evidence of an epoch has been published: exactly the events named here.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EpochEvidenceComplete {
    /// The epoch.
    pub epoch_id: String,
    /// The closing the evidence goes with.
    pub closed_id: EventId,
    /// The [`MinerEpochEvidence`] ids, sorted.
    pub evidence_ids: Vec<EventId>,
    /// The builds it was read from, sorted by projection.
    pub sources: Vec<EvidenceSource>,
}

impl EpochEvidenceComplete {
    /// The id: the epoch, the closing, the evidence and its sources.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        let mut hasher = IdHasher::new("resi.epoch.evidence.complete.v1")
            .str(&self.epoch_id)
            .bytes(self.closed_id.as_bytes())
            .u64(self.evidence_ids.len() as u64);
        for id in &self.evidence_ids {
            hasher = hasher.bytes(id.as_bytes());
        }
        hasher = hasher.u64(self.sources.len() as u64);
        for source in &self.sources {
            hasher = hasher.str(&source.projection).str(&source.version);
        }
        EventId(hasher.finish())
    }
}
