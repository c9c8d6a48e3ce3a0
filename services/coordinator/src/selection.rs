//! Which zipcodes an epoch assigns (seeds 003 and 004).
//!
//! * **Target.** The expected listings of the assigned zipcodes add up to `target_listings` ±
//!   `tolerance_percent` (10,000 ± 10 %); each zipcode expects between `min_zipcode_listings`
//!   and `max_zipcode_listings` (200–3,000).
//! * **Weights.** Candidates are drawn without replacement by an exponential race (Efraimidis–
//!   Spirakis): candidate *i* gets the key `−ln(uᵢ)/wᵢ` and the smallest keys are drawn first,
//!   which draws each with probability proportional to its weight among those left. The weight
//!   is the market tier's (PREMIUM 1.5, STANDARD 1.0, EMERGING 0.75: valuable listings are
//!   scraped more often) divided by `1 + n`, `n` the times the zipcode was assigned within the
//!   rotation window, so that zipcodes take turns (honeypots too, with the tier left out).
//! * **Cooldown.** A zipcode assigned by an epoch that started within `cooldown_hours` of this
//!   one is not a candidate (the caller leaves it out of the pool).
//! * **Honeypots.** 5–10 % of the assigned zipcodes (the share drawn per epoch, at least one)
//!   are zipcodes known to hold no homes (PO-box-only or unique ones, which the database also
//!   knows no listing of), drawn from distinct states first. Each shows the expected listings
//!   and tier of a regular zipcode of the same epoch, so neither gives it away; the list is
//!   sorted by zipcode, so its position does not either.
//! * **Determinism.** Every draw comes from blake3's extendable output keyed by the epoch's
//!   selection seed: the same pool and seed give the same epoch on any machine.

use resi_events::{EpochZipcode, MarketTier};
use serde::Deserialize;

/// The selection's settings (seed 004 §1.3).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SelectionConfig {
    /// Total expected listings per epoch.
    pub target_listings: u32,
    /// Allowed deviation from the target, percent.
    pub tolerance_percent: u32,
    /// Fewest expected listings of one zipcode.
    pub min_zipcode_listings: u32,
    /// Most expected listings of one zipcode.
    pub max_zipcode_listings: u32,
    /// A zipcode is not assigned again within this many hours.
    pub cooldown_hours: u32,
    /// Assignments within this many days lower a zipcode's weight.
    pub rotation_days: u32,
    /// Smallest share of honeypots, percent.
    pub honeypot_min_percent: u32,
    /// Largest share of honeypots, percent.
    pub honeypot_max_percent: u32,
    /// Expected listings of a zipcode the database knows too little of.
    pub default_expected_listings: u32,
    /// Reported listings from which the database's count and median price describe a zipcode.
    pub min_known_listings: u32,
    /// States to assign (empty: the 50 states and DC).
    pub states: Vec<String>,
}

impl Default for SelectionConfig {
    fn default() -> Self {
        Self {
            target_listings: 10_000,
            tolerance_percent: 10,
            min_zipcode_listings: 200,
            max_zipcode_listings: 3_000,
            cooldown_hours: 24,
            rotation_days: 7,
            honeypot_min_percent: 5,
            honeypot_max_percent: 10,
            default_expected_listings: 400,
            min_known_listings: 20,
            states: Vec::new(),
        }
    }
}

impl SelectionConfig {
    /// Checks the settings.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.target_listings > 0, "target_listings must be positive");
        anyhow::ensure!(
            self.tolerance_percent < 100,
            "tolerance_percent must be under 100"
        );
        anyhow::ensure!(
            0 < self.min_zipcode_listings && self.min_zipcode_listings <= self.max_zipcode_listings,
            "min_zipcode_listings must be positive and at most max_zipcode_listings"
        );
        anyhow::ensure!(
            0 < self.honeypot_min_percent
                && self.honeypot_min_percent <= self.honeypot_max_percent
                && self.honeypot_max_percent < 50,
            "honeypot percentages must satisfy 0 < min <= max < 50"
        );
        Ok(())
    }

    /// The lowest and highest acceptable total.
    #[must_use]
    pub fn band(&self) -> (u64, u64) {
        let target = u64::from(self.target_listings);
        let tolerance = u64::from(self.tolerance_percent);
        (
            target * (100 - tolerance) / 100,
            target * (100 + tolerance) / 100,
        )
    }
}

/// A zipcode the selection may draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// What miners are shown (for a honeypot, its tier and expected listings are replaced).
    pub zipcode: EpochZipcode,
    /// Times assigned within the rotation window.
    pub recent_assignments: u32,
}

/// The candidates of one epoch, each list sorted by zipcode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pool {
    /// Zipcodes with homes, out of cooldown, within the listing bounds.
    pub regular: Vec<Candidate>,
    /// Zipcodes known to hold no homes, out of cooldown.
    pub honeypots: Vec<Candidate>,
}

impl Pool {
    /// The lines [`crate::secrets::pool_hash`] hashes: every candidate with what the selection
    /// reads of it.
    #[must_use]
    pub fn describe(&self) -> Vec<String> {
        let line = |role: &str, candidate: &Candidate| {
            let zipcode = &candidate.zipcode;
            format!(
                "{role}:{}:{}:{}:{}",
                zipcode.zipcode,
                zipcode.expected_listings,
                zipcode.market_tier.as_str(),
                candidate.recent_assignments
            )
        };
        self.regular
            .iter()
            .map(|candidate| line("r", candidate))
            .chain(self.honeypots.iter().map(|candidate| line("h", candidate)))
            .collect()
    }
}

/// What the selection chose.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// Every assigned zipcode, honeypots included, sorted by zipcode.
    pub zipcodes: Vec<EpochZipcode>,
    /// The honeypots, sorted.
    pub honeypots: Vec<String>,
    /// Sum of the expected listings shown.
    pub total_expected_listings: u64,
    /// Whether the total is outside the band (the pool was too small).
    pub outside_band: bool,
}

/// A deterministic stream of random numbers: blake3's output keyed by the seed.
struct Draws(blake3::OutputReader);

impl Draws {
    fn new(seed: u64, purpose: &str) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key("resi coordinator selection v1");
        hasher.update(purpose.as_bytes());
        hasher.update(&seed.to_le_bytes());
        Self(hasher.finalize_xof())
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.0.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss, reason = "53 bits are exact in an f64")]
        let value = ((self.next_u64() >> 11) + 1) as f64;
        value / (1_u64 << 53) as f64
    }

    /// Uniform in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64 {
        // the bias of a 64-bit modulus is below 2^-40 for any bound used here
        self.next_u64() % bound.max(1)
    }
}

fn tier_weight(tier: MarketTier) -> f64 {
    match tier {
        MarketTier::Premium => 1.5,
        MarketTier::Standard => 1.0,
        MarketTier::Emerging => 0.75,
    }
}

/// How much recent assignments hold a candidate back.
fn rotation(candidate: &Candidate) -> f64 {
    f64::from(1 + candidate.recent_assignments)
}

/// The order an exponential race draws `candidates` in.
fn race(
    candidates: &[Candidate],
    draws: &mut Draws,
    weight: impl Fn(&Candidate) -> f64,
) -> Vec<usize> {
    let mut keys: Vec<(f64, usize)> = candidates
        .iter()
        .enumerate()
        .map(|(index, candidate)| (-draws.unit().ln() / weight(candidate), index))
        .collect();
    keys.sort_by(|left, right| left.0.total_cmp(&right.0).then(left.1.cmp(&right.1)));
    keys.into_iter().map(|(_, index)| index).collect()
}

/// How many honeypots go with `regular` regular zipcodes at `percent` of the whole: as close
/// to `percent` as whole zipcodes allow within the configured share, at least one.
fn honeypot_count(regular: usize, percent: u32, config: &SelectionConfig) -> usize {
    let share = |percent: u32| f64::from(percent) / f64::from(100 - percent);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "small, non-negative counts"
    )]
    let count = |value: f64| value as usize;
    let lowest = count((regular as f64 * share(config.honeypot_min_percent)).ceil());
    let highest = count((regular as f64 * share(config.honeypot_max_percent)).floor());
    let wanted = count((regular as f64 * share(percent)).round());
    wanted
        .clamp(lowest.min(highest), highest.max(lowest))
        .max(1)
}

/// Draws an epoch's zipcodes from `pool` with `seed`.
#[must_use]
pub fn select(pool: &Pool, config: &SelectionConfig, seed: u64) -> Selection {
    let (lower, upper) = config.band();
    let mut draws = Draws::new(seed, "regular");
    let order = race(&pool.regular, &mut draws, |candidate| {
        tier_weight(candidate.zipcode.market_tier) / rotation(candidate)
    });
    let span = config.honeypot_max_percent - config.honeypot_min_percent + 1;
    #[allow(clippy::cast_possible_truncation, reason = "below span, a u32")]
    let percent = config.honeypot_min_percent + draws.below(u64::from(span)) as u32;

    // regular zipcodes up to their share of the target
    let regular_goal = u64::from(config.target_listings) * u64::from(100 - percent) / 100;
    let expected = |index: usize| u64::from(pool.regular[index].zipcode.expected_listings);
    let mut taken: Vec<usize> = Vec::new();
    let mut total = 0;
    let mut rest = order.iter().copied();
    for index in rest.by_ref() {
        if total >= regular_goal {
            break;
        }
        if total + expected(index) <= upper {
            taken.push(index);
            total += expected(index);
        }
    }
    let remaining: Vec<usize> = rest.collect();

    // honeypots, distinct states first, each dressed as a regular zipcode of this epoch
    let count = honeypot_count(taken.len(), percent, config).min(pool.honeypots.len());
    let mut honeypot_draws = Draws::new(seed, "honeypots");
    let honeypot_order = race(&pool.honeypots, &mut honeypot_draws, |candidate| {
        1.0 / rotation(candidate)
    });
    let mut states = std::collections::BTreeSet::new();
    let mut chosen: Vec<usize> = Vec::new();
    for distinct_first in [true, false] {
        for &index in &honeypot_order {
            if chosen.len() == count {
                break;
            }
            let state = &pool.honeypots[index].zipcode.state;
            if chosen.contains(&index) || (distinct_first && states.contains(state)) {
                continue;
            }
            states.insert(state.clone());
            chosen.push(index);
        }
    }
    let mut honeypots: Vec<EpochZipcode> = Vec::with_capacity(chosen.len());
    for index in chosen {
        let mut zipcode = pool.honeypots[index].zipcode.clone();
        if !taken.is_empty() {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "an index below taken.len()"
            )]
            let model = &pool.regular[taken[honeypot_draws.below(taken.len() as u64) as usize]];
            zipcode.expected_listings = model.zipcode.expected_listings;
            zipcode.market_tier = model.zipcode.market_tier;
        }
        total += u64::from(zipcode.expected_listings);
        honeypots.push(zipcode);
    }

    // back into the band: give back the last regular draws, or draw more
    while total > upper && taken.len() > 1 {
        if let Some(index) = taken.pop() {
            total -= expected(index);
        }
    }
    for index in remaining {
        if total >= lower {
            break;
        }
        if total + expected(index) <= upper {
            taken.push(index);
            total += expected(index);
        }
    }

    let mut honeypot_ids: Vec<String> = honeypots.iter().map(|zip| zip.zipcode.clone()).collect();
    honeypot_ids.sort_unstable();
    let mut zipcodes: Vec<EpochZipcode> = taken
        .iter()
        .map(|&index| pool.regular[index].zipcode.clone())
        .chain(honeypots)
        .collect();
    zipcodes.sort_by(|left, right| left.zipcode.cmp(&right.zipcode));
    Selection {
        zipcodes,
        honeypots: honeypot_ids,
        total_expected_listings: total,
        outside_band: total < lower || total > upper,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    const STATES: [&str; 6] = ["PA", "NJ", "NY", "CA", "TX", "FL"];

    fn candidate(zipcode: u32, expected: u32, tier: MarketTier, recent: u32) -> Candidate {
        let state = STATES[zipcode as usize % STATES.len()];
        Candidate {
            zipcode: EpochZipcode {
                zipcode: format!("{zipcode:05}"),
                expected_listings: expected,
                state: state.to_owned(),
                city: format!("City {zipcode}"),
                county: format!("County {}", zipcode % 17),
                market_tier: tier,
                geographic_region: crate::reference::region(state).to_owned(),
            },
            recent_assignments: recent,
        }
    }

    /// A pool like the country's: thousands of candidates of every size and tier.
    fn pool(seed: u64, regular: u32, honeypots: u32) -> Pool {
        let mut draws = Draws::new(seed, "test pool");
        let tiers = MarketTier::ALL;
        let regular = (0..regular)
            .map(|index| {
                #[allow(clippy::cast_possible_truncation, reason = "small")]
                let expected = 200 + draws.below(2_801) as u32;
                #[allow(clippy::cast_possible_truncation, reason = "small")]
                let tier = tiers[draws.below(3) as usize];
                candidate(10_000 + index * 3, expected, tier, 0)
            })
            .collect();
        let honeypots = (0..honeypots)
            .map(|index| candidate(10_001 + index * 3, 0, MarketTier::Standard, 0))
            .collect();
        Pool { regular, honeypots }
    }

    fn check(selection: &Selection, pool: &Pool, config: &SelectionConfig) {
        let (lower, upper) = config.band();
        assert!(
            !selection.outside_band,
            "{}",
            selection.total_expected_listings
        );
        assert!((lower..=upper).contains(&selection.total_expected_listings));
        let shown: u64 = selection
            .zipcodes
            .iter()
            .map(|zip| u64::from(zip.expected_listings))
            .sum();
        assert_eq!(shown, selection.total_expected_listings);
        for zip in &selection.zipcodes {
            assert!(
                (config.min_zipcode_listings..=config.max_zipcode_listings)
                    .contains(&zip.expected_listings),
                "{zip:?}"
            );
        }
        let unique: BTreeSet<&str> = selection
            .zipcodes
            .iter()
            .map(|zip| zip.zipcode.as_str())
            .collect();
        assert_eq!(unique.len(), selection.zipcodes.len(), "no zipcode twice");
        assert!(
            selection
                .zipcodes
                .windows(2)
                .all(|pair| pair[0].zipcode < pair[1].zipcode)
        );
        let honeypot_pool: BTreeSet<&str> = pool
            .honeypots
            .iter()
            .map(|c| c.zipcode.zipcode.as_str())
            .collect();
        assert!(!selection.honeypots.is_empty());
        for honeypot in &selection.honeypots {
            assert!(honeypot_pool.contains(honeypot.as_str()));
            assert!(unique.contains(honeypot.as_str()));
        }
        let share = selection.honeypots.len() as f64 / selection.zipcodes.len() as f64;
        if selection.zipcodes.len() >= 10 {
            assert!(
                (0.05..=0.10).contains(&share),
                "{} honeypots of {}",
                selection.honeypots.len(),
                selection.zipcodes.len()
            );
        }
    }

    /// Runs 50 epochs as the coordinator does: zipcodes within the cooldown (24 h = the last 6
    /// epochs) are left out, the rest carry their assignments of the last 7 days (42 epochs)
    /// when `rotate`. Returns how often each zipcode was assigned.
    fn fifty_epochs(rotate: bool) -> BTreeMap<String, u32> {
        let config = SelectionConfig::default();
        let full = pool(7, 3_000, 600);
        let mut history: Vec<(u32, BTreeSet<String>)> = Vec::new();
        let mut assigned: BTreeMap<String, u32> = BTreeMap::new();
        for epoch in 0..50_u32 {
            let cooled: BTreeSet<&String> = history
                .iter()
                .filter(|(start, _)| epoch - start < 6)
                .flat_map(|(_, zips)| zips)
                .collect();
            let recent = |zipcode: &str| {
                history
                    .iter()
                    .filter(|(start, zips)| rotate && epoch - start < 42 && zips.contains(zipcode))
                    .count() as u32
            };
            let keep = |list: &[Candidate]| -> Vec<Candidate> {
                list.iter()
                    .filter(|c| !cooled.contains(&c.zipcode.zipcode))
                    .map(|c| Candidate {
                        recent_assignments: recent(&c.zipcode.zipcode),
                        ..c.clone()
                    })
                    .collect()
            };
            let epoch_pool = Pool {
                regular: keep(&full.regular),
                honeypots: keep(&full.honeypots),
            };
            let selection = select(&epoch_pool, &config, u64::from(epoch) * 7919 + 1);
            check(&selection, &epoch_pool, &config);
            let zips: BTreeSet<String> = selection
                .zipcodes
                .iter()
                .map(|zip| zip.zipcode.clone())
                .collect();
            for (start, earlier) in &history {
                if epoch - start < 6 {
                    assert!(
                        earlier.is_disjoint(&zips),
                        "cooldown broken at epoch {epoch}"
                    );
                }
            }
            for zip in &zips {
                *assigned.entry(zip.clone()).or_default() += 1;
            }
            history.push((epoch, zips));
        }
        assigned
    }

    #[test]
    fn fifty_epochs_meet_the_target_bounds_cooldown_and_rotation() {
        let repeats = |assigned: &BTreeMap<String, u32>| -> u32 {
            assigned.values().map(|count| count - 1).sum()
        };
        let rotated = fifty_epochs(true);
        let unrotated = fifty_epochs(false);
        // the same draws, except that recent assignments hold a zipcode back
        assert!(
            repeats(&rotated) < repeats(&unrotated),
            "rotation: {} repeated assignments, without: {}",
            repeats(&rotated),
            repeats(&unrotated)
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_epoch_and_another_seed_another() {
        let config = SelectionConfig::default();
        let pool = pool(3, 500, 100);
        assert_eq!(select(&pool, &config, 42), select(&pool, &config, 42));
        assert_ne!(
            select(&pool, &config, 42).zipcodes,
            select(&pool, &config, 43).zipcodes
        );
    }

    #[test]
    fn premium_zipcodes_are_drawn_more_often() {
        let config = SelectionConfig::default();
        let mut counts: BTreeMap<MarketTier, u32> = BTreeMap::new();
        let pool = pool(11, 900, 50);
        for seed in 0..200 {
            for zip in select(&pool, &config, seed).zipcodes {
                if !pool
                    .honeypots
                    .iter()
                    .any(|c| c.zipcode.zipcode == zip.zipcode)
                {
                    *counts.entry(zip.market_tier).or_default() += 1;
                }
            }
        }
        let premium = counts
            .get(&MarketTier::Premium)
            .copied()
            .unwrap_or_default();
        let emerging = counts
            .get(&MarketTier::Emerging)
            .copied()
            .unwrap_or_default();
        assert!(premium > emerging * 3 / 2, "{counts:?}");
    }

    #[test]
    fn a_pool_too_small_says_so() {
        let config = SelectionConfig::default();
        // one regular zipcode and one honeypot show at most 6,000 expected listings
        let pool = pool(5, 1, 1);
        let selection = select(&pool, &config, 1);
        assert!(selection.outside_band);
        assert!(selection.total_expected_listings < config.band().0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_ample_pool_and_seed_meet_the_band(seed in any::<u64>(), pool_seed in any::<u64>(), regular in 300_u32..2_000, honeypots in 20_u32..200) {
            let config = SelectionConfig::default();
            let pool = pool(pool_seed, regular, honeypots);
            let selection = select(&pool, &config, seed);
            check(&selection, &pool, &config);
        }
    }
}
