//! Who is registered: a metagraph snapshot (hotkey → coldkey, uid, stake, validator permit),
//! read from a JSON file or an S3 object that a job refreshes with the `bittensor` SDK
//! (README, "Gateway"; `k8s/overlays/prod/metagraph-cronjob.yaml`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
        anyhow::ensure!(
            size <= MAX_SNAPSHOT_BYTES,
            "the metagraph {} is too large",
            path.display()
        );
        let bytes = std::fs::read(path)
            .with_context(|| format!("failed to read the metagraph {}", path.display()))?;
        Self::parse(&bytes, &path.display().to_string())
    }

    fn parse(bytes: &[u8], source: &str) -> anyhow::Result<Self> {
        let snapshot: Snapshot = serde_json::from_slice(bytes)
            .with_context(|| format!("the metagraph {source} is not a snapshot"))?;
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
                stake_rao: resi_events::network::rao(neuron.stake),
                validator_permit: neuron.validator_permit,
            })
            .collect();
        neurons.sort_by(|left, right| {
            left.uid
                .cmp(&right.uid)
                .then_with(|| left.hotkey.cmp(&right.hotkey))
        });
        resi_events::MetagraphObserved {
            netuid: self.snapshot.netuid,
            block: self.snapshot.block,
            neurons,
        }
    }
}

/// Where the snapshot is read from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A file (a mounted ConfigMap or a volume a sidecar writes).
    File(PathBuf),
    /// An object a job writes (`s3://bucket/key`).
    S3 {
        /// The client.
        client: aws_sdk_s3::Client,
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
}

impl Source {
    /// `s3://bucket/key` split, or `None` when `url` is not one.
    #[must_use]
    pub fn parse_s3_url(url: &str) -> Option<(String, String)> {
        let (bucket, key) = url.strip_prefix("s3://")?.split_once('/')?;
        (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key.to_owned()))
    }

    /// Reads the snapshot; the object's size is checked before its body is read.
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    pub async fn load(&self) -> anyhow::Result<Metagraph> {
        match self {
            Self::File(path) => Metagraph::load(path),
            Self::S3 {
                client,
                bucket,
                key,
            } => {
                let name = format!("s3://{bucket}/{key}");
                let object = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .with_context(|| format!("failed to read the metagraph {name}"))?;
                let size = object.content_length().unwrap_or(i64::MAX);
                anyhow::ensure!(
                    u64::try_from(size).is_ok_and(|size| size <= MAX_SNAPSHOT_BYTES),
                    "the metagraph {name} is too large ({size} bytes)"
                );
                let bytes = object
                    .body
                    .collect()
                    .await
                    .with_context(|| format!("failed to read the metagraph {name}"))?
                    .into_bytes();
                anyhow::ensure!(
                    bytes.len() as u64 <= MAX_SNAPSHOT_BYTES,
                    "the metagraph {name} is too large"
                );
                Metagraph::parse(&bytes, &name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_name_a_bucket_and_a_key() {
        assert_eq!(
            Source::parse_s3_url("s3://resi-network/metagraph/46.json"),
            Some(("resi-network".to_owned(), "metagraph/46.json".to_owned()))
        );
        assert_eq!(Source::parse_s3_url("s3://bucket/"), None);
        assert_eq!(Source::parse_s3_url("s3:///key"), None);
        assert_eq!(Source::parse_s3_url("/etc/metagraph.json"), None);
    }
}
