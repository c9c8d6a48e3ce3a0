//! Which partitions of a topic an instance owns.
//!
//! Consumers never rely on consumer-group rebalancing (Tansu cannot balance two members, and an
//! explicit split is easier to reason about during a replay): each instance is told its
//! partitions, either as a list or as its ordinal among `replicas` instances. A Kubernetes
//! StatefulSet names its pods `name-0`, `name-1`, …, so by default the ordinal is read from the
//! end of the host name.

use anyhow::{bail, ensure};
use serde::Deserialize;

/// How an instance finds its partitions.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AssignmentConfig {
    /// Partitions to own, explicitly. Empty: every partition `p` with
    /// `p % replicas == ordinal`.
    pub partitions: Vec<i32>,
    /// This instance's ordinal, from 0. Unset: the number after the last `-` of the host name
    /// (a StatefulSet pod), or 0 when there is none.
    pub ordinal: Option<u32>,
    /// How many instances share the topic (0 counts as 1).
    pub replicas: u32,
}

/// The ordinal a StatefulSet pod's host name carries (`parser-2` → 2).
#[must_use]
pub fn ordinal_from_hostname(hostname: &str) -> Option<u32> {
    hostname.rsplit_once('-')?.1.parse().ok()
}

impl AssignmentConfig {
    /// The ordinal in force.
    #[must_use]
    pub fn effective_ordinal(&self) -> u32 {
        self.ordinal.unwrap_or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .and_then(|host| ordinal_from_hostname(&host))
                .unwrap_or(0)
        })
    }

    /// The partitions this instance owns out of `partition_count`, sorted.
    pub fn resolve(&self, partition_count: i32) -> anyhow::Result<Vec<i32>> {
        if !self.partitions.is_empty() {
            let mut owned = self.partitions.clone();
            owned.sort_unstable();
            owned.dedup();
            if let Some(bad) = owned.iter().find(|p| !(0..partition_count).contains(*p)) {
                bail!("partition {bad} does not exist: the topic has {partition_count}");
            }
            return Ok(owned);
        }
        let replicas = self.replicas.max(1);
        let ordinal = self.effective_ordinal();
        ensure!(
            ordinal < replicas,
            "instance ordinal {ordinal} is not below the replica count {replicas}"
        );
        let owned: Vec<i32> = (0..partition_count)
            .filter(|partition| partition.unsigned_abs() % replicas == ordinal)
            .collect();
        ensure!(
            !owned.is_empty(),
            "instance {ordinal} of {replicas} owns none of {partition_count} partitions: use at most as many replicas as partitions"
        );
        Ok(owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_split_partitions_without_overlap() {
        let split = |ordinal| {
            AssignmentConfig {
                ordinal: Some(ordinal),
                replicas: 3,
                ..AssignmentConfig::default()
            }
            .resolve(8)
            .expect("resolves")
        };
        assert_eq!(split(0), vec![0, 3, 6]);
        assert_eq!(split(1), vec![1, 4, 7]);
        assert_eq!(split(2), vec![2, 5]);
    }

    #[test]
    fn explicit_lists_win_and_are_checked() {
        let explicit = AssignmentConfig {
            partitions: vec![3, 1, 3],
            ..AssignmentConfig::default()
        };
        assert_eq!(explicit.resolve(4).expect("valid"), vec![1, 3]);
        assert!(explicit.resolve(2).is_err(), "partition 3 of 2");
        let too_many = AssignmentConfig {
            ordinal: Some(4),
            replicas: 5,
            ..AssignmentConfig::default()
        };
        assert!(too_many.resolve(3).is_err(), "owns nothing");
    }

    #[test]
    fn stateful_set_host_names_carry_the_ordinal() {
        assert_eq!(ordinal_from_hostname("resi-projector-2"), Some(2));
        assert_eq!(ordinal_from_hostname("laptop"), None);
        assert_eq!(ordinal_from_hostname("parser-abc12"), None);
    }
}
