//! What happens to a miner that fabricates (seed 003 Q12): each epoch in which it reported a
//! listing in a honeypot zipcode or an impossible one costs it trust; enough of them ban it.
//!
//! [`MinerFabricated`] goes on the uploads topic, keyed by the miner, so the trust projection
//! folds it in order with the miner's uploads. [`MinerBanned`] and [`MinerUnbanned`] go on the
//! epochs topic, beside the evidence they rest on, where the coordinator that decides them
//! reads them back; the scores projection keeps the bans that the parser and the gateway obey.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::id::{EventId, IdHasher};

/// A miner fabricated in an epoch.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct MinerFabricated {
    /// The miner.
    pub miner_hotkey: String,
    /// The epoch.
    pub epoch_id: String,
    /// The [`crate::MinerEpochEvidence`] that shows it.
    pub evidence_id: EventId,
    /// Listings it reported in the epoch's honeypot zipcodes.
    pub honeypot_listings: u64,
    /// Rows that cannot be true.
    pub impossible_rows: u64,
}

impl MinerFabricated {
    /// The id: the miner and the epoch only, so that an epoch costs a miner trust once even
    /// if its evidence is gathered twice (a coordinator stopped halfway through recording it).
    #[must_use]
    pub fn event_id(&self) -> EventId {
        EventId(
            IdHasher::new("resi.miner.fabricated.v1")
                .str(&self.miner_hotkey)
                .str(&self.epoch_id)
                .finish(),
        )
    }
}

/// A miner is banned: the parser refuses its uploads and the gateway its requests.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct MinerBanned {
    /// The miner.
    pub miner_hotkey: String,
    /// The epochs it fabricated in since it was last unbanned, oldest first.
    pub epochs: Vec<String>,
    /// The evidence of each, in the same order.
    pub evidence_ids: Vec<EventId>,
}

impl MinerBanned {
    /// The id: the miner and its evidence.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        let mut hasher = IdHasher::new("resi.miner.banned.v1")
            .str(&self.miner_hotkey)
            .u64(self.epochs.len() as u64);
        for epoch in &self.epochs {
            hasher = hasher.str(epoch);
        }
        hasher = hasher.u64(self.evidence_ids.len() as u64);
        for id in &self.evidence_ids {
            hasher = hasher.bytes(id.as_bytes());
        }
        EventId(hasher.finish())
    }
}

/// An operator lifted a ban.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct MinerUnbanned {
    /// The miner.
    pub miner_hotkey: String,
    /// The [`MinerBanned`] lifted.
    pub banned_id: EventId,
    /// Who lifted it.
    pub operator: String,
    /// Why.
    pub reason: String,
}

impl MinerUnbanned {
    /// The id: the ban lifted, by whom and why.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        EventId(
            IdHasher::new("resi.miner.unbanned.v1")
                .str(&self.miner_hotkey)
                .bytes(self.banned_id.as_bytes())
                .str(&self.operator)
                .str(&self.reason)
                .finish(),
        )
    }
}
