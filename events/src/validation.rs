//! What validators say of miners' epochs (seed 003 "Validator Results Format"), and the
//! stake-weighted verdict that moves trust.
//!
//! * [`ValidatorResultsPublished`]: the parser read a validator's results document from
//!   `validators/{hotkey}/epoch={epoch_id}/…json`, from a hotkey that held a validator permit and
//!   enough stake in the latest metagraph snapshot. Epochs topic, keyed by the epoch, so the
//!   coordinator that decides verdicts reads it back with the epoch's other facts.
//! * [`EpochValidated`]: the coordinator's verdict on every miner the counted results judged,
//!   naming exactly those results. Epochs topic.
//! * [`MinerValidated`]: one miner's verdict, on the uploads topic keyed by the miner, so the
//!   trust projection folds it in order with the miner's uploads.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::id::{EventId, IdHasher};
use crate::time::Timestamp;

/// One validator's score of one miner's epoch, as its document gives it (each in [0, 1]).
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct ValidatorScore {
    /// The miner judged.
    pub miner_hotkey: String,
    /// Seed 003 §3's components.
    pub data_quality: f64,
    /// Agreement with other sources.
    pub accuracy: f64,
    /// Coverage of the assignment.
    pub completeness: f64,
    /// Submission time against the deadline.
    pub timeliness: f64,
    /// The validator's total.
    pub total_score: f64,
}

/// A validator's results for an epoch, admitted.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct ValidatorResultsPublished {
    /// The upload the results came in.
    pub upload_id: EventId,
    /// The validator, from the key (the document must name the same).
    pub validator_hotkey: String,
    /// The epoch, from the key (the document must name the same).
    pub epoch_id: String,
    /// The store's `LastModified` of the document: when the results were published.
    pub published_at: Timestamp,
    /// The document's `validation_timestamp`, clamped to `published_at`; the validator's claim.
    pub claimed_at: Timestamp,
    /// The validator's stake in rao in the snapshot the parser admitted it by.
    pub stake_rao: u64,
    /// That snapshot's block.
    pub metagraph_block: u64,
    /// The scores, one per miner, by hotkey.
    pub scores: Vec<ValidatorScore>,
    /// Entries of the document that were not a valid score (recorded, not counted).
    pub entries_rejected: u64,
}

impl ValidatorResultsPublished {
    /// The id: the upload's, so re-reading the same object changes nothing and a rewritten
    /// document is new results.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        EventId(
            IdHasher::new("resi.validator.results.v1")
                .bytes(self.upload_id.as_bytes())
                .finish(),
        )
    }
}

/// What the validators' stake decided about a miner's epoch.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// More than half the stake that judged the miner confirmed its data.
    Confirmed,
    /// More than half the stake that judged the miner found its data fake.
    Fake,
    /// No such majority.
    Undecided,
}

impl Verdict {
    /// The verdict's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Fake => "fake",
            Self::Undecided => "undecided",
        }
    }
}

/// The verdict on one miner's epoch.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct MinerVerdict {
    /// The miner.
    pub miner_hotkey: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Stake-weighted mean of the validators' total scores.
    pub validation_score: f64,
    /// Stake (rao) of the validators that confirmed.
    pub stake_confirming: u64,
    /// Stake (rao) of the validators that found it fake.
    pub stake_fake: u64,
    /// Stake (rao) of every validator that judged the miner.
    pub stake_judging: u64,
    /// How many validators judged the miner.
    pub validators: u32,
}

/// The verdicts of an epoch, from exactly the results it names.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct EpochValidated {
    /// The epoch.
    pub epoch_id: String,
    /// The [`ValidatorResultsPublished`] counted: each validator's latest, in id order.
    pub results_ids: Vec<EventId>,
    /// One per miner judged, by hotkey.
    pub verdicts: Vec<MinerVerdict>,
}

impl EpochValidated {
    /// The id: the epoch and the results counted.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        let mut hasher = IdHasher::new("resi.epoch.validated.v1")
            .str(&self.epoch_id)
            .u64(self.results_ids.len() as u64);
        for id in &self.results_ids {
            hasher = hasher.bytes(id.as_bytes());
        }
        EventId(hasher.finish())
    }
}

/// One miner's verdict, for its trust.
#[derive(Clone, Debug, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct MinerValidated {
    /// The miner.
    pub miner_hotkey: String,
    /// The epoch.
    pub epoch_id: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Stake-weighted mean of the validators' total scores.
    pub validation_score: f64,
    /// The [`EpochValidated`] it comes from.
    pub validated_id: EventId,
}

impl MinerValidated {
    /// The id: the miner and the epoch only, so an epoch moves a miner's trust once even if
    /// the verdict is recorded twice.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        EventId(
            IdHasher::new("resi.miner.validated.v1")
                .str(&self.miner_hotkey)
                .str(&self.epoch_id)
                .finish(),
        )
    }
}
