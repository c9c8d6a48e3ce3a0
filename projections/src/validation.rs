//! The validators' verdict on a miner's epoch, weighted by stake.
//!
//! Each validator's total score of a miner is a judgment:
//!
//! ```text
//! confirm  when total_score ≥ CONFIRM_AT   (the data holds up)
//! fake     when total_score ≤ FAKE_AT      (seed 003: fabricated data scores zero)
//! neither  otherwise
//! ```
//!
//! Over the validators that judged the miner (each counted once, with the stake its results
//! were admitted with), the verdict is `confirmed` when the confirming stake is more than half
//! of the judging stake, `fake` when the fake-finding stake is, `undecided` otherwise. The
//! validation score is the stake-weighted mean of the totals. So one validator cannot move a
//! miner's trust against a majority of stake, whatever it writes.

use std::collections::BTreeMap;

use resi_events::{MinerVerdict, ValidatorResultsPublished, Verdict};

/// A total at or above this confirms the miner's data.
pub const CONFIRM_AT: f64 = 0.5;
/// A total at or below this finds it fake.
pub const FAKE_AT: f64 = 0.05;

/// Each validator's latest results (by publication time, then id), in id order: what a
/// validator publishes again replaces what it said before.
#[must_use]
pub fn latest_per_validator<'a>(
    results: impl IntoIterator<Item = &'a ValidatorResultsPublished>,
) -> Vec<&'a ValidatorResultsPublished> {
    let mut latest: BTreeMap<&str, &ValidatorResultsPublished> = BTreeMap::new();
    for published in results {
        let key = (published.published_at, published.event_id());
        latest
            .entry(&published.validator_hotkey)
            .and_modify(|kept| {
                if key > (kept.published_at, kept.event_id()) {
                    *kept = published;
                }
            })
            .or_insert(published);
    }
    let mut kept: Vec<&ValidatorResultsPublished> = latest.into_values().collect();
    kept.sort_by_key(|published| published.event_id());
    kept
}

#[derive(Default)]
struct Tally {
    confirming: u128,
    fake: u128,
    judging: u128,
    weighted_total: f64,
    validators: u32,
}

fn to_u64(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// The verdict on every miner judged by `results` (one per validator), by hotkey. Validators
/// without stake do not count.
#[must_use]
pub fn verdicts(results: &[&ValidatorResultsPublished]) -> Vec<MinerVerdict> {
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for published in results.iter().filter(|published| published.stake_rao > 0) {
        let stake = u128::from(published.stake_rao);
        for score in &published.scores {
            let tally = tallies.entry(&score.miner_hotkey).or_default();
            tally.judging += stake;
            tally.validators += 1;
            tally.weighted_total += published.stake_rao as f64 * score.total_score;
            if score.total_score >= CONFIRM_AT {
                tally.confirming += stake;
            } else if score.total_score <= FAKE_AT {
                tally.fake += stake;
            }
        }
    }
    tallies
        .into_iter()
        .map(|(miner, tally)| {
            let verdict = if tally.confirming * 2 > tally.judging {
                Verdict::Confirmed
            } else if tally.fake * 2 > tally.judging {
                Verdict::Fake
            } else {
                Verdict::Undecided
            };
            MinerVerdict {
                miner_hotkey: miner.to_owned(),
                verdict,
                validation_score: (tally.weighted_total / tally.judging as f64).clamp(0.0, 1.0),
                stake_confirming: to_u64(tally.confirming),
                stake_fake: to_u64(tally.fake),
                stake_judging: to_u64(tally.judging),
                validators: tally.validators,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use resi_events::{EventId, Timestamp, ValidatorScore};

    fn results(
        validator: &str,
        stake_rao: u64,
        at: i64,
        totals: &[(&str, f64)],
    ) -> ValidatorResultsPublished {
        ValidatorResultsPublished {
            upload_id: EventId([at as u8; 32]),
            validator_hotkey: validator.into(),
            epoch_id: "2025-10-01T16-00-00".into(),
            published_at: Timestamp::from_micros(at),
            claimed_at: Timestamp::from_micros(at),
            stake_rao,
            metagraph_block: 1,
            scores: totals
                .iter()
                .map(|(miner, total)| ValidatorScore {
                    miner_hotkey: (*miner).into(),
                    data_quality: *total,
                    accuracy: *total,
                    completeness: *total,
                    timeliness: *total,
                    total_score: *total,
                })
                .collect(),
            entries_rejected: 0,
        }
    }

    #[test]
    fn a_lying_validator_is_outvoted_by_the_stake_majority() {
        let a = results("a", 100, 1, &[("honest", 0.8), ("faker", 0.0)]);
        let b = results("b", 100, 2, &[("honest", 0.9), ("faker", 0.02)]);
        let liar = results("liar", 100, 3, &[("honest", 0.0), ("faker", 1.0)]);
        let verdicts = verdicts(&[&a, &b, &liar]);
        let of = |miner: &str| {
            verdicts
                .iter()
                .find(|v| v.miner_hotkey == miner)
                .expect("judged")
        };
        assert_eq!(of("honest").verdict, Verdict::Confirmed);
        assert_eq!(of("faker").verdict, Verdict::Fake);
        assert_eq!(
            (of("honest").stake_confirming, of("honest").stake_judging),
            (200, 300)
        );
        assert!((of("honest").validation_score - 1.7 / 3.0).abs() < 1e-12);
        // the same liar with most of the stake wins: stake, not heads, decides
        let rich_liar = results("liar", 1_000, 3, &[("honest", 0.0), ("faker", 1.0)]);
        let verdicts = super::verdicts(&[&a, &b, &rich_liar]);
        assert_eq!(
            verdicts
                .iter()
                .find(|v| v.miner_hotkey == "honest")
                .expect("judged")
                .verdict,
            Verdict::Fake
        );
    }

    #[test]
    fn a_split_or_middling_judgment_is_undecided_and_unstaked_validators_do_not_count() {
        let a = results("a", 100, 1, &[("m", 0.9)]);
        let b = results("b", 100, 2, &[("m", 0.0)]);
        assert_eq!(verdicts(&[&a, &b])[0].verdict, Verdict::Undecided);
        let c = results("c", 100, 3, &[("m", 0.3)]);
        assert_eq!(verdicts(&[&c])[0].verdict, Verdict::Undecided);
        let unstaked = results("d", 0, 4, &[("m", 0.0), ("other", 1.0)]);
        let only = verdicts(&[&a, &unstaked]);
        assert_eq!(only.len(), 1, "an unstaked validator judges no one");
        assert_eq!(only[0].verdict, Verdict::Confirmed);
    }

    #[test]
    fn a_validators_later_results_replace_its_earlier_ones() {
        let first = results("a", 100, 1, &[("m", 0.9)]);
        let second = results("a", 100, 5, &[("m", 0.0)]);
        let other = results("b", 100, 2, &[("m", 0.9)]);
        let latest = latest_per_validator([&second, &first, &other]);
        assert_eq!(latest.len(), 2);
        assert!(
            latest
                .iter()
                .any(|kept| kept.published_at == Timestamp::from_micros(5))
        );
        assert!(
            !latest
                .iter()
                .any(|kept| kept.published_at == Timestamp::from_micros(1))
        );
    }
}
