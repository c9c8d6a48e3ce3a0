//! What the epochs topic says, as the coordinator reads it back: openings, closings, evidence,
//! fabrications since each miner's last ban or unban, bans, and validators' results.

use std::collections::{BTreeMap, BTreeSet};

use resi_events::{EpochClosed, EpochOpened, Event, EventPayload};
use resi_projections::scores::Fabrication;

/// What the epochs topic says.
#[derive(Debug, Default)]
pub struct Ledger {
    /// The first opening of each epoch, by id.
    pub opened: BTreeMap<String, EpochOpened>,
    /// Epochs closed.
    pub closed: BTreeSet<String>,
    /// The first closing of each epoch, with its id.
    pub closings: BTreeMap<String, (resi_events::EventId, EpochClosed)>,
    /// Epochs whose evidence is complete on the log.
    pub evidenced: BTreeSet<String>,
    /// Per miner, the epochs it fabricated in since its last ban or unban, with the evidence.
    pub fabrications: BTreeMap<String, Vec<(String, resi_events::EventId)>>,
    /// Standing bans: the `MinerBanned` id by miner.
    pub bans: BTreeMap<String, resi_events::EventId>,
    /// Validators' results and the epochs decided.
    pub validation: crate::validation::ValidationLedger,
    /// Evidence read whose completion is not read yet.
    pending_evidence: BTreeMap<resi_events::EventId, resi_events::MinerEpochEvidence>,
    /// Records that did not decode.
    pub unreadable: u64,
    /// The end offset the ledger was read to.
    pub(crate) end: i64,
}

impl Ledger {
    /// Notes who fabricated in the completed epoch (its first completion only), from exactly
    /// the evidence it names.
    fn complete(&mut self, complete: &resi_events::EpochEvidenceComplete) {
        let named: Vec<(resi_events::EventId, resi_events::MinerEpochEvidence)> = complete
            .evidence_ids
            .iter()
            .filter_map(|id| Some((*id, self.pending_evidence.remove(id)?)))
            .collect();
        self.pending_evidence
            .retain(|_, evidence| evidence.epoch_id != complete.epoch_id);
        if self.evidenced.contains(&complete.epoch_id) {
            return;
        }
        let Some((_, closed)) = self.closings.get(&complete.epoch_id) else {
            return;
        };
        if !self.opened.contains_key(&complete.epoch_id) {
            return;
        }
        for (id, evidence) in &named {
            if !Fabrication::of(closed, evidence).fabricated()
                || self.bans.contains_key(&evidence.miner_hotkey)
            {
                continue;
            }
            self.fabrications
                .entry(evidence.miner_hotkey.clone())
                .or_default()
                .push((complete.epoch_id.clone(), *id));
        }
    }

    /// Takes one event of the topic into account, in log order.
    pub(crate) fn apply(&mut self, event: Event) {
        match event.payload {
            EventPayload::EpochOpened(opened) => {
                self.opened
                    .entry(opened.epoch_id.clone())
                    .or_insert(*opened);
            }
            EventPayload::EpochClosed(closed) => {
                self.closed.insert(closed.epoch_id.clone());
                self.closings
                    .entry(closed.epoch_id.clone())
                    .or_insert((event.id, closed));
            }
            EventPayload::MinerEpochEvidence(evidence) => {
                self.pending_evidence.insert(event.id, *evidence);
            }
            EventPayload::EpochEvidenceComplete(complete) => {
                self.complete(&complete);
                self.evidenced.insert(complete.epoch_id);
            }
            EventPayload::ValidatorResultsPublished(results) => {
                self.validation.results(event.id, *results);
            }
            EventPayload::EpochValidated(validated) => self.validation.validated(&validated),
            EventPayload::MinerBanned(banned) => {
                self.fabrications.remove(&banned.miner_hotkey);
                self.bans.insert(banned.miner_hotkey, event.id);
            }
            EventPayload::MinerUnbanned(unbanned)
                if self.bans.get(&unbanned.miner_hotkey) == Some(&unbanned.banned_id) =>
            {
                self.bans.remove(&unbanned.miner_hotkey);
                self.fabrications.remove(&unbanned.miner_hotkey);
            }
            _ => {}
        }
    }
}
