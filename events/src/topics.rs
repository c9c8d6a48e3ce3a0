//! Topic names, keys, partition counts and retention.
//!
//! | topic | key | default partitions | retention | holds |
//! |---|---|---|---|---|
//! | `{prefix}resi.uploads.v1` | miner hotkey | 6 | forever | `UploadObserved`, `UploadParsed`, `UploadRejected`, `MinerFabricated` |
//! | `{prefix}resi.attestations.v1` | listing id (zpid) | 12 | forever | `ListingAttested` |
//! | `{prefix}resi.dead-letters.v1` | miner hotkey or source key | 3 | forever | `DeadLettered` |
//! | `{prefix}resi.epochs.v1` | epoch id (miner for bans) | 1 (always) | forever | `EpochOpened`, `EpochClosed`, `MinerEpochEvidence`, `EpochEvidenceComplete`, `MinerBanned`, `MinerUnbanned` |
//! | `{prefix}resi.network.v1` | hotkey (`metagraph` for snapshots) | 3 | forever | `MinerStatusReported`, `MetagraphObserved` |
//!
//! Keys give total order per miner on the uploads topic (the trust projection folds a miner's
//! files in order) and per listing on the attestations topic (the consensus projection folds a
//! listing's reports in order). The epochs topic has one partition whatever the configuration:
//! its consumers need the coordinator's decisions in one total order. Every topic is kept forever: the log is the source of truth and
//! any projection is rebuilt from offset 0. The version suffix changes only with an incompatible
//! re-keying, which needs a migration of the log.

/// The role of a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// Upload lifecycle events, keyed by miner hotkey.
    Uploads,
    /// One event per admitted listing row, keyed by listing id.
    Attestations,
    /// Whatever could not be processed, with its reason.
    DeadLetters,
    /// The coordinator's epochs, in one partition.
    Epochs,
    /// What miners and validators report through the gateway, keyed by hotkey.
    Network,
}

impl TopicKind {
    /// Every topic.
    pub const ALL: [Self; 5] = [
        Self::Uploads,
        Self::Attestations,
        Self::DeadLetters,
        Self::Epochs,
        Self::Network,
    ];

    const fn base_name(self) -> &'static str {
        match self {
            Self::Uploads => "resi.uploads.v1",
            Self::Attestations => "resi.attestations.v1",
            Self::DeadLetters => "resi.dead-letters.v1",
            Self::Epochs => "resi.epochs.v1",
            Self::Network => "resi.network.v1",
        }
    }

    /// Default partition count.
    #[must_use]
    pub const fn default_partitions(self) -> i32 {
        match self {
            Self::Uploads => 6,
            Self::Attestations => 12,
            Self::DeadLetters => 3,
            Self::Epochs => 1,
            Self::Network => 3,
        }
    }

    /// Whether the partition count is fixed, whatever the configuration says.
    #[must_use]
    pub const fn fixed_partitions(self) -> bool {
        matches!(self, Self::Epochs)
    }
}

/// What to create for one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    /// Full name, prefix included.
    pub name: String,
    /// Role.
    pub kind: TopicKind,
    /// Partition count.
    pub partitions: i32,
    /// Topic-level configuration (`retention.ms`, `cleanup.policy`, ...).
    pub config: Vec<(&'static str, &'static str)>,
}

/// Topic names under a prefix. Tests use a unique prefix each, so they never share state.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    /// Topics under `prefix` (may be empty).
    #[must_use]
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Full name of a topic.
    #[must_use]
    pub fn name(&self, kind: TopicKind) -> String {
        format!("{}{}", self.prefix, kind.base_name())
    }

    /// The uploads topic.
    #[must_use]
    pub fn uploads(&self) -> String {
        self.name(TopicKind::Uploads)
    }

    /// The attestations topic.
    #[must_use]
    pub fn attestations(&self) -> String {
        self.name(TopicKind::Attestations)
    }

    /// The dead-letter topic.
    #[must_use]
    pub fn dead_letters(&self) -> String {
        self.name(TopicKind::DeadLetters)
    }

    /// The epochs topic.
    #[must_use]
    pub fn epochs(&self) -> String {
        self.name(TopicKind::Epochs)
    }

    /// The network topic.
    #[must_use]
    pub fn network(&self) -> String {
        self.name(TopicKind::Network)
    }

    /// Specs for every topic, with the given partition count per kind.
    #[must_use]
    pub fn specs(&self, partitions: impl Fn(TopicKind) -> i32) -> Vec<TopicSpec> {
        TopicKind::ALL
            .into_iter()
            .map(|kind| TopicSpec {
                name: self.name(kind),
                kind,
                partitions: if kind.fixed_partitions() {
                    kind.default_partitions()
                } else {
                    partitions(kind)
                },
                // kept forever: replay from offset 0 must see every event ever written
                config: vec![
                    ("cleanup.policy", "delete"),
                    ("retention.ms", "-1"),
                    ("retention.bytes", "-1"),
                ],
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_prefix_and_version() {
        let topics = Topics::new("t42.");
        assert_eq!(topics.uploads(), "t42.resi.uploads.v1");
        assert_eq!(topics.attestations(), "t42.resi.attestations.v1");
        assert_eq!(topics.dead_letters(), "t42.resi.dead-letters.v1");
        assert_eq!(topics.epochs(), "t42.resi.epochs.v1");
        assert_eq!(topics.network(), "t42.resi.network.v1");
    }

    #[test]
    fn specs_keep_everything_forever() {
        let specs = Topics::new("").specs(TopicKind::default_partitions);
        assert_eq!(specs.len(), 5);
        for spec in specs {
            assert!(spec.config.contains(&("retention.ms", "-1")), "{spec:?}");
            assert!(spec.partitions > 0);
        }
    }

    #[test]
    fn the_epochs_topic_keeps_one_partition() {
        let specs = Topics::new("").specs(|_| 24);
        let epochs = specs.iter().find(|spec| spec.kind == TopicKind::Epochs);
        assert_eq!(epochs.map(|spec| spec.partitions), Some(1));
    }
}
