//! The validators' verdicts on an epoch's miners: read from the epochs topic, decided by stake
//! ([`resi_projections::validation`]), published once per epoch after the validators' window.

use std::collections::{BTreeMap, BTreeSet};

use resi_events::{EpochValidated, EventId, MinerValidated, ValidatorResultsPublished};

/// What the epochs topic says of validation.
#[derive(Debug, Default)]
pub struct ValidationLedger {
    /// Results of epochs not validated yet, by epoch, by id.
    pending: BTreeMap<String, BTreeMap<EventId, ValidatorResultsPublished>>,
    /// Epochs whose verdicts are on the log.
    pub validated: BTreeSet<String>,
}

impl ValidationLedger {
    /// Results published: kept until their epoch is validated; later ones change nothing.
    pub fn results(&mut self, id: EventId, results: ValidatorResultsPublished) {
        if !self.validated.contains(&results.epoch_id) {
            self.pending
                .entry(results.epoch_id.clone())
                .or_default()
                .insert(id, results);
        }
    }

    /// An epoch's verdicts are on the log.
    pub fn validated(&mut self, validated: &EpochValidated) {
        self.pending.remove(&validated.epoch_id);
        self.validated.insert(validated.epoch_id.clone());
    }

    /// The verdicts of `epoch_id` from every validator's latest results, and each miner's
    /// event for its trust (in hotkey order); `None` once the epoch is validated.
    #[must_use]
    pub fn decide(&self, epoch_id: &str) -> Option<(EpochValidated, Vec<MinerValidated>)> {
        if self.validated.contains(epoch_id) {
            return None;
        }
        let results = self.pending.get(epoch_id);
        let latest = resi_projections::validation::latest_per_validator(
            results.into_iter().flat_map(BTreeMap::values),
        );
        let validated = EpochValidated {
            epoch_id: epoch_id.to_owned(),
            results_ids: latest.iter().map(|results| results.event_id()).collect(),
            verdicts: resi_projections::validation::verdicts(&latest),
        };
        let validated_id = validated.event_id();
        let miners = validated
            .verdicts
            .iter()
            .map(|verdict| MinerValidated {
                miner_hotkey: verdict.miner_hotkey.clone(),
                epoch_id: epoch_id.to_owned(),
                verdict: verdict.verdict,
                validation_score: verdict.validation_score,
                validated_id,
            })
            .collect();
        Some((validated, miners))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resi_events::{Timestamp, ValidatorScore, Verdict};

    fn results(validator: &str, at: i64, total: f64) -> ValidatorResultsPublished {
        ValidatorResultsPublished {
            upload_id: EventId([u8::try_from(at).expect("small"); 32]),
            validator_hotkey: validator.into(),
            epoch_id: "e".into(),
            published_at: Timestamp::from_micros(at),
            claimed_at: Timestamp::from_micros(at),
            stake_rao: 10,
            metagraph_block: 1,
            scores: vec![ValidatorScore {
                miner_hotkey: "m".into(),
                data_quality: total,
                accuracy: total,
                completeness: total,
                timeliness: total,
                total_score: total,
            }],
            entries_rejected: 0,
        }
    }

    #[test]
    fn an_epoch_is_decided_once_from_the_results_before_its_verdict() {
        let mut ledger = ValidationLedger::default();
        for published in [
            results("a", 1, 0.9),
            results("b", 2, 0.8),
            results("a", 3, 0.7),
        ] {
            ledger.results(published.event_id(), published);
        }
        let (validated, miners) = ledger.decide("e").expect("due");
        assert_eq!(
            validated.results_ids.len(),
            2,
            "a's later results replace its first"
        );
        assert_eq!(miners.len(), 1);
        assert_eq!(miners[0].verdict, Verdict::Confirmed);
        assert_eq!(miners[0].validated_id, validated.event_id());
        ledger.validated(&validated);
        assert!(ledger.decide("e").is_none());
        // results after the verdict are not kept
        ledger.results(EventId([9; 32]), results("c", 9, 0.0));
        assert!(ledger.pending.is_empty());
        // an epoch nobody validated is decided with no verdicts
        let (empty, miners) = ledger.decide("other").expect("due");
        assert!(empty.verdicts.is_empty() && miners.is_empty());
    }
}
