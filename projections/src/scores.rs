//! The reference epoch score (seed 003 §3), a pure function of an epoch's opening, closing and
//! the evidence the coordinator recorded: per miner, four components and their weighted sum;
//! per assigned zipcode, the miners ranked by the same score restricted to that zipcode and the
//! zipcode's reward split among them; per miner, its share of the epoch's rewards.
//!
//! Components, each in 0..=1 (deviations from the seed's validator sketch are marked):
//! * **data quality** = mean of: listings with every required field / listings; rows the parser
//!   accepted / rows read; rows not repeating a listing of the same file / rows read. (The seed
//!   averages four checks; the parser's rejections already cover both "types correct" and
//!   "reasonable values", so they are one term here.)
//! * **accuracy** = fields agreeing with the consensus / fields reported, over the listings at
//!   least two other miners reported. Every such listing is a check (the seed samples 10 %).
//!   With nothing checkable it is [`ScoreWeights::unchecked_accuracy`] (0.5): a lone miner in a
//!   zipcode is neither confirmed nor refuted.
//! * **completeness** = 0.6 × assigned zipcodes covered + 0.4 × mean target score, the target
//!   score of a zipcode being 1.0 / 0.7 / 0.4 / 0 as its listings lie within 10 / 20 / 30 % / further
//!   from the expected count. Honeypots are not in the denominator: their truth is "no homes".
//! * **timeliness** = 1.0 when the last upload (the store's `LastModified`) is by the submission
//!   deadline, 0.5 within the grace period after it, 0 later.
//!
//! A miner that reported any listing in a honeypot zipcode, or any impossible listing (dated
//! after its upload, or far from its zipcode), **fabricated**: its scores are 0 and it takes no
//! reward (seed 003 Q12).
//!
//! Rewards per zipcode (seed 003 Q1, Q11): the eligible miners (not fabricating, score above
//! 0) ranked by score, ties by hotkey; ranks 1, 2, 3 take 55 %, 30 %, 10 % of the zipcode's
//! reward and the others share 5 % equally. A miner's epoch share is its rewards summed over the
//! zipcodes any miner covered, divided by their number; shares of a zipcode with fewer than four
//! eligible miners are not redistributed.

use std::collections::{BTreeMap, BTreeSet};

use resi_events::{EpochClosed, EpochOpened, MinerEpochEvidence, Timestamp, ZipcodeEvidence};

/// The weights and thresholds of a scores version.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreWeights {
    /// Weight of data quality (0.25).
    pub quality: f64,
    /// Weight of accuracy (0.35).
    pub accuracy: f64,
    /// Weight of completeness (0.25).
    pub completeness: f64,
    /// Weight of timeliness (0.15).
    pub timeliness: f64,
    /// Accuracy when nothing could be checked (0.5).
    pub unchecked_accuracy: f64,
    /// Minutes after the deadline during which an upload is late but counted (15).
    pub grace_minutes: i64,
    /// Reward shares of ranks 1, 2 and 3 of a zipcode (0.55, 0.30, 0.10).
    pub podium: [f64; 3],
    /// Reward share the other eligible miners of a zipcode split (0.05).
    pub rest: f64,
}

impl ScoreWeights {
    /// The seed's weights: version `v1` of the scores projection.
    #[must_use]
    pub const fn reference() -> Self {
        Self {
            quality: 0.25,
            accuracy: 0.35,
            completeness: 0.25,
            timeliness: 0.15,
            unchecked_accuracy: 0.5,
            grace_minutes: 15,
            podium: [0.55, 0.30, 0.10],
            rest: 0.05,
        }
    }

    /// Version `v2`: accuracy first. Agreement with the consensus weighs half the score and
    /// data nobody else could check earns a quarter instead of a half, so volume that cannot
    /// be cross-checked buys less rank; quality, completeness and timeliness share the rest
    /// (0.20 / 0.20 / 0.10). Ranks and rewards as in v1.
    #[must_use]
    pub const fn accuracy_first() -> Self {
        Self {
            quality: 0.20,
            accuracy: 0.50,
            completeness: 0.20,
            timeliness: 0.10,
            unchecked_accuracy: 0.25,
            ..Self::reference()
        }
    }
}

/// The four components, their inputs' totals and the weighted sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Components {
    /// Data quality.
    pub quality: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// Completeness.
    pub completeness: f64,
    /// Timeliness.
    pub timeliness: f64,
    /// The weighted sum (0 for a fabricating miner).
    pub total: f64,
}

/// One miner's result in an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct MinerScore {
    /// The miner.
    pub miner_hotkey: String,
    /// Its components over every assigned zipcode.
    pub components: Components,
    /// Listings it reported in honeypot zipcodes.
    pub honeypot_listings: u64,
    /// Impossible rows in its uploads.
    pub impossible_rows: u64,
    /// Whether it fabricated (scores 0, no reward).
    pub fabricated: bool,
    /// Assigned zipcodes (honeypots excluded) it covered.
    pub zipcodes_covered: u32,
    /// Its share of the epoch's rewards (0..=1; the shares of all miners sum to at most 1).
    pub reward_share: f64,
}

/// One miner's place in one zipcode.
#[derive(Clone, Debug, PartialEq)]
pub struct ZipcodeRank {
    /// The zipcode.
    pub zipcode: String,
    /// The miner.
    pub miner_hotkey: String,
    /// Its components in this zipcode alone.
    pub components: Components,
    /// 1-based rank among the eligible miners; `None` when not eligible.
    pub rank: Option<u32>,
    /// Its share of the zipcode's reward.
    pub reward: f64,
}

/// An epoch scored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpochScores {
    /// Per miner, by hotkey.
    pub miners: Vec<MinerScore>,
    /// Per zipcode and miner, by zipcode then rank (ineligible last, by hotkey).
    pub rankings: Vec<ZipcodeRank>,
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The target score of `listings` found where `expected` were expected.
#[must_use]
pub fn target_score(listings: u64, expected: u32) -> f64 {
    if expected == 0 {
        return if listings == 0 { 1.0 } else { 0.0 };
    }
    let distance = (ratio(listings, u64::from(expected)).unwrap_or(0.0) - 1.0).abs();
    // a hair of slack so that exactly 10 % off is "within 10 %"
    match distance {
        d if d <= 0.10 + 1e-9 => 1.0,
        d if d <= 0.20 + 1e-9 => 0.7,
        d if d <= 0.30 + 1e-9 => 0.4,
        _ => 0.0,
    }
}

/// Timeliness of an upload made at `last_upload` against `deadline`.
#[must_use]
pub fn timeliness(last_upload: Timestamp, deadline: Timestamp, grace_minutes: i64) -> f64 {
    let late_micros = last_upload.as_micros() - deadline.as_micros();
    if late_micros <= 0 {
        1.0
    } else if late_micros <= grace_minutes.saturating_mul(60_000_000) {
        0.5
    } else {
        0.0
    }
}

/// The components of the work in `zipcodes` (each with its expected count) out of `assigned`
/// regular zipcodes.
fn components(
    zipcodes: &[(&ZipcodeEvidence, u32)],
    assigned: usize,
    deadline: Timestamp,
    weights: &ScoreWeights,
) -> Components {
    if zipcodes.is_empty() || assigned == 0 {
        return Components::default();
    }
    let sum = |field: fn(&ZipcodeEvidence) -> u64| -> u64 {
        zipcodes.iter().map(|(evidence, _)| field(evidence)).sum()
    };
    let rows = sum(|zip| zip.rows_read);
    let listings = sum(|zip| zip.listings);
    let quality_terms = [
        ratio(sum(|zip| zip.complete_listings), listings).unwrap_or(0.0),
        ratio(rows.saturating_sub(sum(|zip| zip.rows_rejected)), rows).unwrap_or(0.0),
        ratio(rows.saturating_sub(sum(|zip| zip.duplicate_rows)), rows).unwrap_or(0.0),
    ];
    let quality = quality_terms.iter().sum::<f64>() / 3.0;
    let accuracy = ratio(sum(|zip| zip.agreed_fields), sum(|zip| zip.checked_fields))
        .unwrap_or(weights.unchecked_accuracy);
    let covered = zipcodes.iter().filter(|(zip, _)| zip.listings > 0).count();
    let targets: f64 = zipcodes
        .iter()
        .map(|(zip, expected)| target_score(zip.listings, *expected))
        .sum();
    #[allow(clippy::cast_precision_loss, reason = "a few dozen zipcodes")]
    let completeness = 0.6 * (covered as f64 / assigned as f64) + 0.4 * (targets / assigned as f64);
    let last_upload = zipcodes
        .iter()
        .map(|(zip, _)| zip.last_upload)
        .max()
        .unwrap_or(deadline);
    let timeliness = timeliness(last_upload, deadline, weights.grace_minutes);
    let total = weights.quality * quality
        + weights.accuracy * accuracy
        + weights.completeness * completeness
        + weights.timeliness * timeliness;
    Components {
        quality,
        accuracy,
        completeness,
        timeliness,
        total,
    }
}

/// What shows a miner fabricated in an epoch: listings in the closing's honeypot zipcodes and
/// impossible rows. Any of either is fabrication.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fabrication {
    /// Listings reported in honeypot zipcodes.
    pub honeypot_listings: u64,
    /// Rows that cannot be true.
    pub impossible_rows: u64,
}

impl Fabrication {
    /// The signals in `evidence`, against the honeypots `closed` revealed.
    #[must_use]
    pub fn of(closed: &EpochClosed, evidence: &MinerEpochEvidence) -> Self {
        Self {
            // every valid row reported there, admitted or not: a miner whose trust fell is
            // rate-limited, and what it was not admitted for it still claimed
            honeypot_listings: evidence
                .zipcodes
                .iter()
                .filter(|zip| closed.honeypots.contains(&zip.zipcode))
                .map(|zip| {
                    zip.listings
                        .max(zip.rows_read.saturating_sub(zip.rows_rejected))
                })
                .sum(),
            impossible_rows: evidence
                .zipcodes
                .iter()
                .map(|zip| zip.impossible_rows)
                .sum(),
        }
    }

    /// Whether the miner fabricated.
    #[must_use]
    pub const fn fabricated(self) -> bool {
        self.honeypot_listings > 0 || self.impossible_rows > 0
    }
}

/// Scores an epoch from its opening, its closing and every miner's evidence.
#[must_use]
pub fn score_epoch(
    opened: &EpochOpened,
    closed: &EpochClosed,
    evidence: &[MinerEpochEvidence],
    weights: &ScoreWeights,
) -> EpochScores {
    let honeypots: BTreeSet<&str> = closed.honeypots.iter().map(String::as_str).collect();
    let expected: BTreeMap<&str, u32> = opened
        .zipcodes
        .iter()
        .filter(|zipcode| !honeypots.contains(zipcode.zipcode.as_str()))
        .map(|zipcode| (zipcode.zipcode.as_str(), zipcode.expected_listings))
        .collect();
    let deadline = opened.submission_deadline;
    let mut miners = Vec::with_capacity(evidence.len());
    let mut per_zipcode: BTreeMap<&str, Vec<ZipcodeRank>> = BTreeMap::new();
    let mut ordered: Vec<&MinerEpochEvidence> = evidence.iter().collect();
    ordered.sort_by(|left, right| left.miner_hotkey.cmp(&right.miner_hotkey));
    for miner in ordered {
        let signals = Fabrication::of(closed, miner);
        let fabricated = signals.fabricated();
        let regular: Vec<(&ZipcodeEvidence, u32)> = miner
            .zipcodes
            .iter()
            .filter_map(|zip| Some((zip, *expected.get(zip.zipcode.as_str())?)))
            .collect();
        let mut overall = components(&regular, expected.len(), deadline, weights);
        if fabricated {
            overall = Components::default();
        }
        for (zip, target) in &regular {
            let mut alone = components(&[(zip, *target)], 1, deadline, weights);
            if fabricated {
                alone = Components::default();
            }
            per_zipcode
                .entry(zip.zipcode.as_str())
                .or_default()
                .push(ZipcodeRank {
                    zipcode: zip.zipcode.clone(),
                    miner_hotkey: miner.miner_hotkey.clone(),
                    components: alone,
                    rank: None,
                    reward: 0.0,
                });
        }
        miners.push(MinerScore {
            miner_hotkey: miner.miner_hotkey.clone(),
            components: overall,
            honeypot_listings: signals.honeypot_listings,
            impossible_rows: signals.impossible_rows,
            fabricated,
            zipcodes_covered: u32::try_from(
                regular.iter().filter(|(zip, _)| zip.listings > 0).count(),
            )
            .unwrap_or(u32::MAX),
            reward_share: 0.0,
        });
    }
    let rankings = rank(per_zipcode, weights);
    let mut rewards: BTreeMap<&str, f64> = BTreeMap::new();
    let rewarded_zipcodes: BTreeSet<&str> = rankings
        .iter()
        .filter(|entry| entry.rank.is_some())
        .map(|entry| entry.zipcode.as_str())
        .collect();
    for entry in &rankings {
        *rewards.entry(entry.miner_hotkey.as_str()).or_default() += entry.reward;
    }
    #[allow(clippy::cast_precision_loss, reason = "a few dozen zipcodes")]
    let zipcode_count = rewarded_zipcodes.len().max(1) as f64;
    for miner in &mut miners {
        miner.reward_share = rewards
            .get(miner.miner_hotkey.as_str())
            .copied()
            .unwrap_or(0.0)
            / zipcode_count;
    }
    EpochScores { miners, rankings }
}

/// Ranks each zipcode's miners and splits its reward.
fn rank(per_zipcode: BTreeMap<&str, Vec<ZipcodeRank>>, weights: &ScoreWeights) -> Vec<ZipcodeRank> {
    let mut rankings = Vec::new();
    for (_, mut entries) in per_zipcode {
        entries.sort_by(|left, right| {
            let eligible = |entry: &ZipcodeRank| entry.components.total > 0.0;
            eligible(right)
                .cmp(&eligible(left))
                .then_with(|| right.components.total.total_cmp(&left.components.total))
                .then_with(|| left.miner_hotkey.cmp(&right.miner_hotkey))
        });
        let eligible = entries
            .iter()
            .filter(|entry| entry.components.total > 0.0)
            .count();
        let others = eligible.saturating_sub(weights.podium.len());
        for (index, entry) in entries.iter_mut().enumerate().take(eligible) {
            entry.rank = Some(u32::try_from(index + 1).unwrap_or(u32::MAX));
            #[allow(clippy::cast_precision_loss, reason = "a few hundred miners")]
            let reward = weights
                .podium
                .get(index)
                .copied()
                .unwrap_or(weights.rest / others.max(1) as f64);
            entry.reward = reward;
        }
        rankings.extend(entries);
    }
    rankings
}

#[cfg(test)]
mod tests {
    use resi_events::{EpochZipcode, EventId, MarketTier};

    use super::*;

    const DEADLINE: i64 = 1_759_348_800_000_000;

    fn opened(zipcodes: &[(&str, u32)]) -> EpochOpened {
        EpochOpened {
            epoch_id: "2025-10-01T16-00-00".to_owned(),
            start: Timestamp::from_micros(DEADLINE - 4 * 3_600_000_000),
            end: Timestamp::from_micros(DEADLINE),
            submission_deadline: Timestamp::from_micros(DEADLINE),
            nonce: "00".repeat(8),
            target_listings: 10_000,
            tolerance_percent: 10,
            zipcodes: zipcodes
                .iter()
                .map(|(zipcode, expected)| EpochZipcode {
                    zipcode: (*zipcode).to_owned(),
                    expected_listings: *expected,
                    state: "PA".to_owned(),
                    city: "Philadelphia".to_owned(),
                    county: "Philadelphia".to_owned(),
                    market_tier: MarketTier::Standard,
                    geographic_region: "Northeast".to_owned(),
                })
                .collect(),
            algorithm_version: "v1".to_owned(),
            selection_seed: 1,
            zipcode_hash: String::new(),
            honeypot_commitment: String::new(),
            sealed_honeypots: String::new(),
        }
    }

    fn closed(honeypots: &[&str]) -> EpochClosed {
        EpochClosed {
            epoch_id: "2025-10-01T16-00-00".to_owned(),
            opened_id: EventId([0; 32]),
            honeypots: honeypots.iter().map(|zip| (*zip).to_owned()).collect(),
            commitment_key: String::new(),
        }
    }

    /// Clean work: `listings` listings, all complete and checked, `agreed` of 10 fields agreeing.
    fn zip(zipcode: &str, listings: u64, agreed: u64, minutes_late: i64) -> ZipcodeEvidence {
        ZipcodeEvidence {
            zipcode: zipcode.to_owned(),
            uploads: 1,
            rows_read: listings,
            rows_rejected: 0,
            duplicate_rows: 0,
            impossible_rows: 0,
            listings,
            complete_listings: listings,
            checked_listings: listings,
            agreed_fields: listings * agreed,
            checked_fields: listings * 10,
            last_upload: Timestamp::from_micros(DEADLINE + minutes_late * 60_000_000),
        }
    }

    fn miner(hotkey: &str, zipcodes: Vec<ZipcodeEvidence>) -> MinerEpochEvidence {
        MinerEpochEvidence {
            epoch_id: "2025-10-01T16-00-00".to_owned(),
            closed_id: EventId([0; 32]),
            miner_hotkey: hotkey.to_owned(),
            zipcodes,
            unassigned_listings: 0,
        }
    }

    fn close(left: f64, right: f64) -> bool {
        (left - right).abs() < 1e-9
    }

    #[test]
    fn the_target_bands_are_the_seeds() {
        assert!(close(target_score(100, 100), 1.0));
        assert!(close(target_score(90, 100), 1.0));
        assert!(close(target_score(110, 100), 1.0));
        assert!(close(target_score(81, 100), 0.7));
        assert!(close(target_score(130, 100), 0.4));
        assert!(close(target_score(69, 100), 0.0));
        assert!(close(target_score(0, 0), 1.0));
    }

    #[test]
    fn an_honest_complete_punctual_miner_scores_one() {
        let epoch = opened(&[("19103", 100), ("19104", 200)]);
        let scores = score_epoch(
            &epoch,
            &closed(&[]),
            &[miner(
                "honest",
                vec![zip("19103", 100, 10, -5), zip("19104", 200, 10, 0)],
            )],
            &ScoreWeights::reference(),
        );
        let honest = &scores.miners[0];
        assert!(close(honest.components.total, 1.0), "{honest:?}");
        assert!(
            close(honest.reward_share, 0.55),
            "alone, it takes the podium's first share"
        );
        assert_eq!(scores.rankings.len(), 2);
        assert!(scores.rankings.iter().all(|entry| entry.rank == Some(1)));
    }

    #[test]
    fn each_component_answers_to_its_own_failing() {
        let epoch = opened(&[("19103", 100), ("19104", 100)]);
        let weights = ScoreWeights::reference();
        let lazy = miner("lazy", vec![zip("19103", 100, 10, 0)]);
        let late = miner(
            "late",
            vec![zip("19103", 100, 10, 10), zip("19104", 100, 10, 10)],
        );
        let very_late = miner(
            "very_late",
            vec![zip("19103", 100, 10, 60), zip("19104", 100, 10, 60)],
        );
        let wrong = miner(
            "wrong",
            vec![zip("19103", 100, 5, 0), zip("19104", 100, 5, 0)],
        );
        let mut sloppy_zip = zip("19103", 100, 10, 0);
        sloppy_zip.rows_read = 120;
        sloppy_zip.rows_rejected = 20;
        sloppy_zip.duplicate_rows = 12;
        sloppy_zip.complete_listings = 50;
        let sloppy = miner("sloppy", vec![sloppy_zip, zip("19104", 100, 10, 0)]);
        let scores = score_epoch(
            &epoch,
            &closed(&[]),
            &[lazy, late, very_late, wrong, sloppy],
            &weights,
        );
        let by = |hotkey: &str| {
            &scores
                .miners
                .iter()
                .find(|m| m.miner_hotkey == hotkey)
                .expect("miner")
                .components
        };
        assert!(close(by("lazy").completeness, 0.6 * 0.5 + 0.4 * 0.5));
        assert!(close(by("late").timeliness, 0.5));
        assert!(close(by("very_late").timeliness, 0.0));
        assert!(close(by("wrong").accuracy, 0.5));
        // 150/200 complete, 200/220 accepted, 208/220 unique
        let quality = (150.0 / 200.0 + 200.0 / 220.0 + 208.0 / 220.0) / 3.0;
        assert!(close(by("sloppy").quality, quality), "{:?}", by("sloppy"));
        for hotkey in ["lazy", "late", "very_late", "wrong", "sloppy"] {
            assert!(by(hotkey).total < 1.0 && by(hotkey).total > 0.0, "{hotkey}");
        }
    }

    #[test]
    fn unchecked_work_is_neither_confirmed_nor_refuted() {
        let epoch = opened(&[("19103", 100)]);
        let mut alone = zip("19103", 100, 10, 0);
        alone.checked_listings = 0;
        alone.agreed_fields = 0;
        alone.checked_fields = 0;
        let scores = score_epoch(
            &epoch,
            &closed(&[]),
            &[miner("alone", vec![alone])],
            &ScoreWeights::reference(),
        );
        assert!(close(scores.miners[0].components.accuracy, 0.5));
    }

    #[test]
    fn honeypot_rows_count_even_when_none_was_admitted() {
        let mut limited = zip("19101", 0, 0, 0);
        limited.rows_read = 12;
        limited.rows_rejected = 2;
        let signals = Fabrication::of(
            &closed(&["19101"]),
            &miner("limited", vec![zip("19103", 10, 10, 0), limited]),
        );
        assert_eq!(signals.honeypot_listings, 10, "valid rows, rate-limited");
        assert!(signals.fabricated());
        let mut garbage = zip("19101", 0, 0, 0);
        garbage.rows_read = 4;
        garbage.rows_rejected = 4;
        let signals = Fabrication::of(&closed(&["19101"]), &miner("garbage", vec![garbage]));
        assert!(
            !signals.fabricated(),
            "rows rejected as invalid claim nothing"
        );
    }

    #[test]
    fn a_honeypot_listing_or_an_impossible_row_zeroes_the_miner() {
        let epoch = opened(&[("19103", 100), ("19101", 100)]);
        let weights = ScoreWeights::reference();
        let trap = miner(
            "trap",
            vec![zip("19103", 100, 10, 0), zip("19101", 3, 10, 0)],
        );
        let mut dated = zip("19103", 100, 10, 0);
        dated.impossible_rows = 1;
        let future = miner("future", vec![dated]);
        let honest = miner("honest", vec![zip("19103", 90, 9, 0)]);
        let scores = score_epoch(
            &epoch,
            &closed(&["19101"]),
            &[trap, future, honest],
            &weights,
        );
        for hotkey in ["trap", "future"] {
            let fabricator = scores
                .miners
                .iter()
                .find(|m| m.miner_hotkey == hotkey)
                .expect("miner");
            assert!(fabricator.fabricated, "{hotkey}");
            assert!(close(fabricator.components.total, 0.0));
            assert!(close(fabricator.reward_share, 0.0));
        }
        let honest = scores
            .miners
            .iter()
            .find(|m| m.miner_hotkey == "honest")
            .expect("honest");
        assert!(!honest.fabricated);
        assert!(
            close(honest.components.completeness, 1.0),
            "the honeypot is not owed listings"
        );
        let first = scores
            .rankings
            .iter()
            .find(|entry| entry.rank == Some(1))
            .expect("a winner");
        assert_eq!(first.miner_hotkey, "honest");
        assert!(
            scores
                .rankings
                .iter()
                .filter(|entry| entry.miner_hotkey != "honest")
                .all(|entry| entry.rank.is_none())
        );
    }

    #[test]
    fn rewards_follow_rank_and_sum_to_at_most_one() {
        let epoch = opened(&[("19103", 100), ("19104", 100)]);
        let miners: Vec<MinerEpochEvidence> = (0..6_u64)
            .map(|index| {
                miner(
                    &format!("m{index}"),
                    vec![
                        zip("19103", 100, 10 - index, 0),
                        zip("19104", 100, 10 - index, 0),
                    ],
                )
            })
            .collect();
        let scores = score_epoch(&epoch, &closed(&[]), &miners, &ScoreWeights::reference());
        let share = |hotkey: &str| {
            scores
                .miners
                .iter()
                .find(|m| m.miner_hotkey == hotkey)
                .expect("miner")
                .reward_share
        };
        assert!(close(share("m0"), 0.55));
        assert!(close(share("m1"), 0.30));
        assert!(close(share("m2"), 0.10));
        for rest in ["m3", "m4", "m5"] {
            assert!(close(share(rest), 0.05 / 3.0), "{rest}");
        }
        let total: f64 = scores.miners.iter().map(|m| m.reward_share).sum();
        assert!(close(total, 1.0));
        // input order does not matter
        let mut reversed = miners.clone();
        reversed.reverse();
        assert_eq!(
            score_epoch(&epoch, &closed(&[]), &reversed, &ScoreWeights::reference()),
            scores
        );
    }
}
