//! What the network's participants report through the gateway, on the network topic.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::id::{EventId, IdHasher};
use crate::time::Timestamp;

/// A miner's progress on its epoch, as it says it (seed 003, "Status Updates").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MiningStatus {
    /// Scraping.
    InProgress,
    /// Done.
    Completed,
    /// Gave up.
    Failed,
    /// Ran out of time.
    Timeout,
}

impl MiningStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [
        Self::InProgress,
        Self::Completed,
        Self::Failed,
        Self::Timeout,
    ];

    /// The name miners send.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Timeout => "TIMEOUT",
        }
    }

    /// Parses [`Self::as_str`].
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// One zipcode a miner says it finished.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ZipcodeProgress {
    /// Five digits, one of the epoch's.
    pub zipcode: String,
    /// Listings it says it scraped there.
    pub listings_scraped: Option<u64>,
    /// When it says it finished, never later than the report arrived.
    pub completed_at: Option<Timestamp>,
}

/// A registered miner reported its progress with the epoch's nonce, signed. Only the gateway's
/// checks are facts (who signed, when it arrived, that the nonce and zipcodes are the epoch's);
/// the counts are the miner's claims, kept as claims.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct MinerStatusReported {
    /// The miner.
    pub miner_hotkey: String,
    /// The epoch.
    pub epoch_id: String,
    /// The signed commitment string (unique per hotkey: the gateway accepts each once).
    pub commitment: String,
    /// When the gateway received it.
    pub received_at: Timestamp,
    /// Status.
    pub status: MiningStatus,
    /// Listings it says it scraped in all.
    pub listings_scraped: Option<u64>,
    /// Zipcodes it says it finished.
    pub zipcodes_completed: Vec<ZipcodeProgress>,
    /// Whether it says its upload is complete.
    pub s3_upload_complete: bool,
    /// When it says the upload completed, never later than the report arrived.
    pub s3_upload_timestamp: Option<Timestamp>,
}

impl MinerStatusReported {
    /// The id: the hotkey and the commitment it signed, which the gateway accepts once.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        EventId(
            IdHasher::new("resi.miner-status.v1")
                .str(&self.miner_hotkey)
                .str(&self.commitment)
                .finish(),
        )
    }
}

/// `tao` in whole rao (10⁻⁹ TAO), rounded; negative or not a number is 0, beyond `u64` its
/// maximum.
#[must_use]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "rounded and clamped into u64 first"
)]
pub fn rao(tao: f64) -> u64 {
    (tao * 1e9).round().clamp(0.0, u64::MAX as f64) as u64
}

/// One registered neuron of a metagraph snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ObservedNeuron {
    /// UID on the subnet.
    pub uid: u32,
    /// SS58 hotkey.
    pub hotkey: String,
    /// SS58 coldkey that owns it.
    pub coldkey: String,
    /// Stake in rao (10⁻⁹ TAO), an integer so the event encodes the same everywhere.
    pub stake_rao: u64,
    /// Whether it may set weights.
    pub validator_permit: bool,
}

/// The gateway read a metagraph snapshot different from the last it recorded: who was
/// registered, with what stake and permit, as every later decision of the gateway saw it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct MetagraphObserved {
    /// Subnet.
    pub netuid: u32,
    /// Chain block the snapshot was read at.
    pub block: u64,
    /// Every neuron, by uid.
    pub neurons: Vec<ObservedNeuron>,
}

impl MetagraphObserved {
    /// The id: the snapshot's content, so every gateway replica recording it writes one event.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        let mut hasher = IdHasher::new("resi.metagraph.v1")
            .u64(u64::from(self.netuid))
            .u64(self.block)
            .u64(self.neurons.len() as u64);
        for neuron in &self.neurons {
            hasher = hasher
                .u64(u64::from(neuron.uid))
                .str(&neuron.hotkey)
                .str(&neuron.coldkey)
                .u64(neuron.stake_rao)
                .u64(u64::from(neuron.validator_permit));
        }
        EventId(hasher.finish())
    }
}
