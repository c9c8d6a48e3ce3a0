//! Who is registered: a metagraph snapshot (hotkey → coldkey, uid, stake, validator permit),
//! read from a JSON file that a sidecar refreshes with the `bittensor` SDK (README, "Gateway").

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

/// One registered neuron.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Neuron {
    /// UID on the subnet.
    pub uid: u32,
    /// SS58 hotkey.
    pub hotkey: String,
    /// SS58 coldkey that owns it.
    pub coldkey: String,
    /// Stake, TAO.
    pub stake: f64,
    /// Whether it may set weights.
    #[serde(default)]
    pub validator_permit: bool,
}

/// A snapshot as the sidecar writes it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Snapshot {
    /// Subnet.
    #[serde(default)]
    pub netuid: u32,
    /// Block the snapshot was read at.
    #[serde(default)]
    pub block: u64,
    /// Every neuron.
    pub neurons: Vec<Neuron>,
}

/// A snapshot indexed by hotkey.
#[derive(Clone, Debug, Default)]
pub struct Metagraph {
    /// The snapshot.
    pub snapshot: Snapshot,
    by_hotkey: HashMap<String, usize>,
}

/// Largest snapshot file read (a subnet has at most a few thousand neurons).
const MAX_SNAPSHOT_BYTES: u64 = 32 * 1024 * 1024;

impl Metagraph {
    /// Indexes `snapshot`.
    #[must_use]
    pub fn new(snapshot: Snapshot) -> Self {
        let by_hotkey = snapshot
            .neurons
            .iter()
            .enumerate()
            .map(|(index, neuron)| (neuron.hotkey.clone(), index))
            .collect();
        Self {
            snapshot,
            by_hotkey,
        }
    }

    /// Reads a snapshot file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let size = std::fs::metadata(path)
            .with_context(|| format!("failed to read the metagraph {}", path.display()))?
            .len();
        anyhow::ensure!(size <= MAX_SNAPSHOT_BYTES, "the metagraph {} is too large", path.display());
        let bytes = std::fs::read(path)
            .with_context(|| format!("failed to read the metagraph {}", path.display()))?;
        let snapshot: Snapshot = serde_json::from_slice(&bytes)
            .with_context(|| format!("the metagraph {} is not a snapshot", path.display()))?;
        Ok(Self::new(snapshot))
    }

    /// The neuron of `hotkey`, if registered.
    #[must_use]
    pub fn neuron(&self, hotkey: &str) -> Option<&Neuron> {
        self.by_hotkey
            .get(hotkey)
            .and_then(|index| self.snapshot.neurons.get(*index))
    }
}

impl Metagraph {
    /// The snapshot as an event: stakes in whole rao, neurons by uid.
    #[must_use]
    pub fn observed(&self) -> resi_events::MetagraphObserved {
        let mut neurons: Vec<resi_events::ObservedNeuron> = self
            .snapshot
            .neurons
            .iter()
            .map(|neuron| resi_events::ObservedNeuron {
                uid: neuron.uid,
                hotkey: neuron.hotkey.clone(),
                coldkey: neuron.coldkey.clone(),
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "rounded and clamped into u64 first"
                )]
                stake_rao: (neuron.stake * 1e9).round().clamp(0.0, u64::MAX as f64) as u64,
                validator_permit: neuron.validator_permit,
            })
            .collect();
        neurons.sort_by(|left, right| left.uid.cmp(&right.uid).then_with(|| left.hotkey.cmp(&right.hotkey)));
        resi_events::MetagraphObserved {
            netuid: self.snapshot.netuid,
            block: self.snapshot.block,
            neurons,
        }
    }
}
