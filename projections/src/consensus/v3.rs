//! **v3**, truth discovery: values compared as what they are, and each miner weighed by how
//! close it comes to the truths of the listing.
//!
//! * A report's base weight is v2's: recorded trust × `0.5^(age / half_life_hours)`.
//! * Values agree within a tolerance: prices within `price_tolerance` (relative, 1 %), living
//!   areas within `area_tolerance` (2 %), coordinates within `coordinate_metres` (100 m); other
//!   fields exactly. Values are grouped greedily in sorted order (a group takes every value
//!   within the tolerance of its smallest), so the groups never depend on the reports' order.
//!   A group is represented by its member value of greatest weight.
//! * Outliers are rejected: a price or area farther than `outlier_mads` median absolute
//!   deviations from the field's median (with a floor of 0.5 % of the median) carries no weight,
//!   though its miner still counts as reporting the field. Median and deviation weigh each
//!   report by its age factor only: a stale majority does not make a fresh change an outlier,
//!   and a trusted liar does not make the honest values outliers. Needs three reports or more.
//! * Truth discovery (CRH, Li et al., SIGMOD 2014), within the listing: starting from the base
//!   weights, the groups with the greatest weight are taken as truths; each miner's loss is its
//!   smoothed share of fields outside the truths, `d = (wrong + 0.5) / (reported + 1)`; its
//!   factor becomes `ln(Σ d / d)`; weights are the base weights × factors; `rounds` times (5).
//!   A miner wrong about most of a listing's fields then weighs little on the rest.
//!
//! Confidence is, as in v1, the share of the miners reporting the field that are in the chosen
//! group; a miner agrees on a field when its value is in the chosen group.

use super::{
    AlgorithmError, ConsensusAlgorithm, Field, FieldConsensus, ListingConsensus, Micros,
    MinerReport, Params, ValueSupport, decayed, finish, param_text, rank, read_params, trust,
};

/// v3 with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TruthDiscovery {
    price_tolerance: f64,
    area_tolerance: f64,
    coordinate_metres: f64,
    half_life_hours: f64,
    outlier_mads: f64,
    rounds: u32,
}

/// How a field's values are compared.
#[derive(Clone, Copy)]
enum Comparison {
    Exact,
    /// Relative tolerance, with outlier rejection.
    Relative(f64),
    /// Metres between `lat_e7,lon_e7` points.
    Metres(f64),
}

/// One group of agreeing values: indices into the reports.
struct Group {
    members: Vec<usize>,
}

impl TruthDiscovery {
    /// v3 with `params` (the others at their defaults).
    ///
    /// # Errors
    /// A parameter it does not take or whose value is out of range.
    pub fn new(params: &Params) -> Result<Self, AlgorithmError> {
        let [price, area, metres, half_life, mads, rounds] = read_params(
            "v3",
            params,
            [
                ("price_tolerance", 0.01, "a share between 0 and 0.5", |v| {
                    (0.0..=0.5).contains(&v)
                }),
                ("area_tolerance", 0.02, "a share between 0 and 0.5", |v| {
                    (0.0..=0.5).contains(&v)
                }),
                ("coordinate_metres", 100.0, "metres, 0 to 10,000", |v| {
                    (0.0..=10_000.0).contains(&v)
                }),
                ("half_life_hours", 168.0, "hours, more than 0", |v| v > 0.0),
                ("outlier_mads", 5.0, "at least 1", |v| v >= 1.0),
                ("rounds", 5.0, "a whole number from 0 to 20", |v| {
                    v.fract() == 0.0 && (0.0..=20.0).contains(&v)
                }),
            ],
        )?;
        Ok(Self {
            price_tolerance: price,
            area_tolerance: area,
            coordinate_metres: metres,
            half_life_hours: half_life,
            outlier_mads: mads,
            // checked whole and within 0..=20 above
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            rounds: rounds as u32,
        })
    }

    const fn comparison(&self, field: Field) -> Comparison {
        match field {
            Field::Price => Comparison::Relative(self.price_tolerance),
            Field::LivingArea => Comparison::Relative(self.area_tolerance),
            Field::Coordinates => Comparison::Metres(self.coordinate_metres),
            _ => Comparison::Exact,
        }
    }
}

/// A number field's value.
fn number(value: &str) -> Option<f64> {
    value.parse::<i64>().ok().map(|value| value as f64)
}

/// A `lat_e7,lon_e7` value, degrees.
fn point(value: &str) -> Option<(f64, f64)> {
    let (latitude, longitude) = value.split_once(',')?;
    Some((
        latitude.parse::<i64>().ok()? as f64 / 1e7,
        longitude.parse::<i64>().ok()? as f64 / 1e7,
    ))
}

/// Metres between two points (equirectangular: exact enough within a listing's spread).
fn metres((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let x = (lon2 - lon1).to_radians() * ((lat1 + lat2) / 2.0).to_radians().cos();
    let y = (lat2 - lat1).to_radians();
    6_371_000.0 * x.hypot(y)
}

/// The lower weighted median of `values` (value, weight): the smallest value at which the
/// weights reach half of their sum (equal weights when they sum to nothing). `None` if empty.
fn weighted_median(values: &[(f64, f64)]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|left, right| left.0.total_cmp(&right.0));
    let total: f64 = sorted.iter().map(|(_, weight)| weight).sum();
    let equal = total <= 0.0;
    let half = if equal { sorted.len() as f64 } else { total } / 2.0;
    let mut reached = 0.0;
    for (value, weight) in &sorted {
        reached += if equal { 1.0 } else { *weight };
        if reached >= half {
            return Some(*value);
        }
    }
    sorted.last().map(|(value, _)| *value)
}

/// The groups of agreeing values among `reporting` (report indices with a value), and which
/// reports are outliers, judged with each report counting by its age factor `weights` (so that
/// a stale majority does not make a fresh change an outlier) and not by its trust (so that a
/// trusted liar does not make the honest values outliers).
fn group(
    comparison: Comparison,
    reporting: &[(usize, &str)],
    weights: &[f64],
    outlier_mads: f64,
) -> (Vec<Group>, Vec<usize>) {
    let mut outliers = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    match comparison {
        Comparison::Exact => {
            let mut sorted = reporting.to_vec();
            sorted.sort_by(|left, right| left.1.cmp(right.1).then(left.0.cmp(&right.0)));
            for (index, value) in sorted {
                match groups.last_mut() {
                    Some(last) if reporting_value(reporting, last.members[0]) == value => {
                        last.members.push(index);
                    }
                    _ => groups.push(Group {
                        members: vec![index],
                    }),
                }
            }
        }
        Comparison::Relative(tolerance) => {
            let mut numbers: Vec<(f64, usize)> = reporting
                .iter()
                .map(|(index, value)| (number(value).unwrap_or(f64::NAN), *index))
                .collect();
            numbers.sort_by(|left, right| left.0.total_cmp(&right.0).then(left.1.cmp(&right.1)));
            let finite: Vec<(f64, f64)> = numbers
                .iter()
                .filter(|(value, _)| value.is_finite())
                .map(|(value, index)| (*value, weights[*index]))
                .collect();
            if finite.len() >= 3
                && let Some(middle) = weighted_median(&finite)
            {
                let deviations: Vec<(f64, f64)> = finite
                    .iter()
                    .map(|(value, weight)| ((value - middle).abs(), *weight))
                    .collect();
                let spread = weighted_median(&deviations)
                    .unwrap_or_default()
                    .max(middle.abs() * 0.005);
                outliers.extend(
                    numbers
                        .iter()
                        .filter(|(value, _)| {
                            !value.is_finite() || (value - middle).abs() > outlier_mads * spread
                        })
                        .map(|(_, index)| *index),
                );
            }
            let mut seed = f64::NAN;
            for (value, index) in numbers {
                let within = (value - seed).abs() <= tolerance * seed.abs().max(1.0);
                match groups.last_mut() {
                    Some(last) if within => last.members.push(index),
                    _ => {
                        seed = value;
                        groups.push(Group {
                            members: vec![index],
                        });
                    }
                }
            }
        }
        Comparison::Metres(radius) => {
            let mut points: Vec<((f64, f64), usize)> = reporting
                .iter()
                .map(|(index, value)| (point(value).unwrap_or((f64::NAN, f64::NAN)), *index))
                .collect();
            points.sort_by(|left, right| {
                (left.0.0)
                    .total_cmp(&right.0.0)
                    .then((left.0.1).total_cmp(&right.0.1))
                    .then(left.1.cmp(&right.1))
            });
            let mut seeds: Vec<(f64, f64)> = Vec::new();
            for (at, index) in points {
                match seeds.iter().position(|seed| metres(*seed, at) <= radius) {
                    Some(found) => groups[found].members.push(index),
                    None => {
                        seeds.push(at);
                        groups.push(Group {
                            members: vec![index],
                        });
                    }
                }
            }
        }
    }
    (groups, outliers)
}

fn reporting_value<'a>(reporting: &[(usize, &'a str)], index: usize) -> &'a str {
    reporting
        .iter()
        .find(|(candidate, _)| *candidate == index)
        .map(|(_, value)| *value)
        .unwrap_or_default()
}

/// One field's groups, outliers and the values reported.
struct FieldGroups<'r> {
    field: Field,
    comparison: Comparison,
    reporting: Vec<(usize, &'r str)>,
    groups: Vec<Group>,
    outliers: Vec<usize>,
}

impl FieldGroups<'_> {
    fn support(&self, group: &Group, weights: &[f64]) -> f64 {
        group
            .members
            .iter()
            .filter(|index| !self.outliers.contains(index))
            .fold(0.0, |sum, index| sum + weights[*index])
    }

    /// The index of the group with the greatest support (ties: the latest report, then the
    /// smaller representative), as [`rank`] orders the final values.
    fn chosen(&self, weights: &[f64], reports: &[&MinerReport]) -> usize {
        let values = self.values(weights, reports);
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|left, right| rank_order(&values[*left], &values[*right]));
        order.first().copied().unwrap_or_default()
    }

    /// The member whose value represents `group`: for numbers, the weighted median of the
    /// members' values (a value someone reported); otherwise the value of greatest weight,
    /// then the latest, then the smallest.
    fn representative(&self, group: &Group, weights: &[f64], reports: &[&MinerReport]) -> usize {
        let value = |index: usize| reporting_value(&self.reporting, index);
        if matches!(self.comparison, Comparison::Relative(_)) {
            let numbers: Vec<(f64, f64)> = group
                .members
                .iter()
                .map(|index| (number(value(*index)).unwrap_or(f64::NAN), weights[*index]))
                .collect();
            if let Some(median) = weighted_median(&numbers) {
                let mut at: Vec<usize> = group
                    .members
                    .iter()
                    .copied()
                    .filter(|index| number(value(*index)) == Some(median))
                    .collect();
                at.sort_unstable();
                if let Some(first) = at.first() {
                    return *first;
                }
            }
        }
        let mut by_value: Vec<(&str, f64, Micros, usize)> = Vec::new();
        for index in &group.members {
            match by_value.iter_mut().find(|entry| entry.0 == value(*index)) {
                Some(entry) => {
                    entry.1 += weights[*index];
                    entry.2 = entry.2.max(reports[*index].reported_at);
                }
                None => by_value.push((
                    value(*index),
                    weights[*index],
                    reports[*index].reported_at,
                    *index,
                )),
            }
        }
        by_value
            .into_iter()
            .max_by(|left, right| {
                left.1
                    .total_cmp(&right.1)
                    .then(left.2.cmp(&right.2))
                    .then(right.0.cmp(left.0))
            })
            .map(|entry| entry.3)
            .unwrap_or_default()
    }

    fn values(&self, weights: &[f64], reports: &[&MinerReport]) -> Vec<ValueSupport> {
        self.groups
            .iter()
            .map(|group| {
                let representative = self.representative(group, weights, reports);
                let mut miners: Vec<String> = group
                    .members
                    .iter()
                    .map(|index| reports[*index].miner.clone())
                    .collect();
                miners.sort();
                let times = group
                    .members
                    .iter()
                    .map(|index| reports[*index].reported_at);
                ValueSupport {
                    value: reporting_value(&self.reporting, representative).to_owned(),
                    confidence: miners.len() as f64 / self.reporting.len() as f64,
                    miners,
                    support: self.support(group, weights),
                    first_reported: times.clone().min().unwrap_or_default(),
                    last_reported: times.max().unwrap_or_default(),
                }
            })
            .collect()
    }
}

fn rank_order(left: &ValueSupport, right: &ValueSupport) -> std::cmp::Ordering {
    right
        .support
        .total_cmp(&left.support)
        .then(right.last_reported.cmp(&left.last_reported))
        .then(left.value.cmp(&right.value))
}

impl ConsensusAlgorithm for TruthDiscovery {
    fn name(&self) -> &'static str {
        "v3"
    }

    fn params(&self) -> Params {
        [
            ("price_tolerance", self.price_tolerance),
            ("area_tolerance", self.area_tolerance),
            ("coordinate_metres", self.coordinate_metres),
            ("half_life_hours", self.half_life_hours),
            ("outlier_mads", self.outlier_mads),
            ("rounds", f64::from(self.rounds)),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), param_text(value)))
        .collect()
    }

    fn decide(&self, reports: &[&MinerReport]) -> ListingConsensus {
        let newest: Micros = reports
            .iter()
            .map(|report| report.reported_at)
            .max()
            .unwrap_or_default();
        // hours are far below 2^53 microseconds
        #[allow(clippy::cast_possible_truncation)]
        let half_life = (self.half_life_hours * 3_600_000_000.0) as Micros;
        // one miner per report; in miner order, so that every sum runs in one order whatever
        // the input's
        let mut reports = reports.to_vec();
        reports.sort_by(|left, right| left.miner.cmp(&right.miner));
        let reports = reports.as_slice();
        let recency: Vec<f64> = reports
            .iter()
            .map(|report| decayed(report, newest, Some(half_life)))
            .collect();
        let base: Vec<f64> = reports
            .iter()
            .zip(&recency)
            .map(|(report, recency)| trust(report) * recency)
            .collect();
        let fields: Vec<FieldGroups<'_>> = Field::ALL
            .into_iter()
            .enumerate()
            .filter_map(|(slot, field)| {
                let reporting: Vec<(usize, &str)> = reports
                    .iter()
                    .enumerate()
                    .filter_map(|(index, report)| {
                        report.values[slot].as_deref().map(|value| (index, value))
                    })
                    .collect();
                if reporting.is_empty() {
                    return None;
                }
                let comparison = self.comparison(field);
                let (groups, outliers) = group(comparison, &reporting, &recency, self.outlier_mads);
                Some(FieldGroups {
                    field,
                    comparison,
                    reporting,
                    groups,
                    outliers,
                })
            })
            .collect();
        let mut weights = base.clone();
        for _ in 0..self.rounds {
            let mut wrong = vec![0.0_f64; reports.len()];
            let mut reported = vec![0.0_f64; reports.len()];
            for field in &fields {
                let chosen = &field.groups[field.chosen(&weights, reports)];
                for (index, _) in &field.reporting {
                    reported[*index] += 1.0;
                    if !chosen.members.contains(index) || field.outliers.contains(index) {
                        wrong[*index] += 1.0;
                    }
                }
            }
            let losses: Vec<f64> = wrong
                .iter()
                .zip(&reported)
                .map(|(wrong, reported)| (wrong + 0.5) / (reported + 1.0))
                .collect();
            let total: f64 = losses.iter().sum();
            let factors: Vec<f64> = losses.iter().map(|loss| (total / loss).ln()).collect();
            if factors.iter().all(|factor| *factor <= 0.0) {
                break;
            }
            weights = base
                .iter()
                .zip(&factors)
                .map(|(base, factor)| base * factor.max(0.0))
                .collect();
        }
        let decided = fields
            .iter()
            .map(|field| {
                let mut values = field.values(&weights, reports);
                rank(&mut values);
                FieldConsensus {
                    field: field.field,
                    values,
                }
            })
            .collect();
        finish(decided, reports)
    }
}

#[cfg(test)]
mod tests {
    use resi_events::CanonicalListing;

    use super::*;
    use crate::consensus::{Registry, decide};

    const NOW: Micros = 1_763_856_000_000_000;
    const DAY: Micros = 24 * 3_600 * 1_000_000;

    fn home(price: i64, latitude_e7: i32) -> CanonicalListing {
        CanonicalListing {
            listing_id: "1".into(),
            price_usd: Some(price),
            bedrooms: Some(3),
            living_area_sqft: Some(1_500),
            address: Some("1 ELM ST".into()),
            home_status: Some("FOR_SALE".into()),
            zip_code: Some("78702".into()),
            latitude_e7: Some(latitude_e7),
            longitude_e7: Some(-977_000_000),
            ..CanonicalListing::default()
        }
    }

    fn report(miner: &str, at: Micros, listing: &CanonicalListing) -> MinerReport {
        MinerReport::of(miner, at, 0.5, listing)
    }

    fn v3(params: &[(&str, &str)]) -> TruthDiscovery {
        let params: Params = params
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        TruthDiscovery::new(&params).expect("valid parameters")
    }

    fn chosen(consensus: &ListingConsensus, field: Field) -> (String, f64) {
        consensus
            .fields
            .iter()
            .find(|candidate| candidate.field == field)
            .and_then(FieldConsensus::chosen)
            .map(|value| (value.value.clone(), value.confidence))
            .unwrap_or_default()
    }

    #[test]
    fn prices_within_the_tolerance_agree_and_the_heaviest_value_represents_them() {
        let reports = [
            report("a", NOW, &home(400_000, 302_000_000)),
            report("b", NOW, &home(400_000, 302_000_000)),
            report("c", NOW, &home(402_000, 302_000_000)),
            report("d", NOW, &home(401_000, 302_000_000)),
            report("e", NOW, &home(350_000, 302_000_000)),
        ];
        let decided = decide(&v3(&[]), &reports);
        // 400,000, 401,000 and 402,000 lie within 1 %: four of five miners agree
        assert_eq!(chosen(&decided, Field::Price), ("400000".to_owned(), 0.8));
        // v1 compares text: 400,000 has two of five
        let v1 = Registry::standard()
            .build("v1", &Params::new())
            .expect("v1");
        assert_eq!(chosen(&decide(v1.as_ref(), &reports), Field::Price).1, 0.4);
        // with no tolerance, v3 compares exactly too
        let exact = decide(&v3(&[("price_tolerance", "0")]), &reports);
        assert_eq!(chosen(&exact, Field::Price), ("400000".to_owned(), 0.4));
        // agreement follows the groups: c and d agree on the price under v3
        let agreed = |consensus: &ListingConsensus, miner: &str| {
            consensus
                .agreement
                .iter()
                .find(|(who, ..)| who == miner)
                .map(|(_, agreed, reported)| (*agreed, *reported))
        };
        assert_eq!(agreed(&decided, "c"), Some((7, 7)));
        assert_eq!(agreed(&exact, "c"), Some((6, 7)));
    }

    #[test]
    fn coordinates_within_the_radius_agree() {
        // 1e-7 degrees of latitude is about 1.1 cm: 3,000 is about 33 m, 30,000 about 330 m
        let reports = [
            report("a", NOW, &home(400_000, 302_000_000)),
            report("b", NOW, &home(400_000, 302_003_000)),
            report("c", NOW, &home(400_000, 302_030_000)),
        ];
        let decided = decide(&v3(&[]), &reports);
        let (_, confidence) = chosen(&decided, Field::Coordinates);
        assert!((confidence - 2.0 / 3.0).abs() < 1e-12, "{confidence}");
        let tight = decide(&v3(&[("coordinate_metres", "10")]), &reports);
        assert!((chosen(&tight, Field::Coordinates).1 - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn an_outlier_carries_no_weight() {
        // a trusted miner's absurd price against three less trusted ones that agree
        let mut absurd = report("liar", NOW, &home(4_000, 302_000_000));
        absurd.trust = 1.0;
        let reports = [
            absurd,
            MinerReport {
                trust: 0.3,
                ..report("a", NOW, &home(400_000, 302_000_000))
            },
            MinerReport {
                trust: 0.3,
                ..report("b", NOW, &home(399_000, 302_000_000))
            },
            MinerReport {
                trust: 0.3,
                ..report("c", NOW, &home(401_000, 302_000_000))
            },
        ];
        let no_rounds = v3(&[("rounds", "0")]);
        let decided = decide(&no_rounds, &reports);
        assert_eq!(chosen(&decided, Field::Price).0, "400000");
        let price = decided
            .fields
            .iter()
            .find(|field| field.field == Field::Price)
            .expect("price");
        let liar = price
            .values
            .iter()
            .find(|value| value.value == "4000")
            .expect("the outlier is listed");
        assert!(liar.support.abs() < f64::EPSILON, "{}", liar.support);
    }

    #[test]
    fn a_miner_wrong_on_most_fields_weighs_little_on_the_rest() {
        // "x" is trusted but wrong on everything but the status, where it stands alone against
        // two miners who are right on every other field
        let mut wrong = home(250_000, 303_000_000);
        wrong.bedrooms = Some(5);
        wrong.living_area_sqft = Some(3_000);
        wrong.address = Some("9 OAK AVE".into());
        wrong.zip_code = Some("78704".into());
        wrong.home_status = Some("PENDING".into());
        let reports = [
            MinerReport {
                trust: 0.9,
                ..report("x", NOW, &wrong)
            },
            report("a", NOW, &home(400_000, 302_000_000)),
            report("b", NOW, &home(400_000, 302_000_000)),
        ];
        // the honest pair split on the status: by trust alone, x's 0.9 beats each 0.5
        let mut split = reports.clone();
        split[2].values[6] = Some("SOLD".into());
        let plain = decide(&v3(&[("rounds", "0")]), &split);
        assert_eq!(chosen(&plain, Field::Status).0, "PENDING");
        let discovered = decide(&v3(&[]), &split);
        assert_eq!(chosen(&discovered, Field::Status).0, "FOR_SALE");
        assert_eq!(chosen(&discovered, Field::Price).0, "400000");
    }

    #[test]
    fn fresh_reports_outweigh_a_stale_majority() {
        let reports = [
            report("a", NOW - 30 * DAY, &home(450_000, 302_000_000)),
            report("b", NOW - 30 * DAY, &home(450_000, 302_000_000)),
            report("c", NOW - 31 * DAY, &home(450_000, 302_000_000)),
            report("d", NOW, &home(425_000, 302_000_000)),
            report("e", NOW - DAY, &home(425_000, 302_000_000)),
        ];
        assert_eq!(
            chosen(&decide(&v3(&[]), &reports), Field::Price).0,
            "425000"
        );
    }

    #[test]
    fn the_order_of_the_reports_changes_nothing() {
        let mut reports: Vec<MinerReport> = (0..9_i64)
            .map(|index| {
                let price = 400_000 + (index % 4) * 3_000 + i64::from(index == 7) * 90_000;
                let latitude = 302_000_000 + i32::try_from(index * 150).unwrap_or(0);
                report(
                    &format!("m{index}"),
                    NOW - index * DAY / 3,
                    &home(price, latitude),
                )
            })
            .collect();
        let algorithm = v3(&[]);
        let first = decide(&algorithm, &reports);
        reports.reverse();
        assert_eq!(decide(&algorithm, &reports), first);
        reports.swap(0, 4);
        reports.swap(2, 8);
        assert_eq!(decide(&algorithm, &reports), first);
    }

    #[test]
    fn parameters_are_checked_and_recorded_with_their_defaults() {
        let registry = Registry::standard();
        let bad = |name: &str, value: &str| {
            let params: Params = [(name.to_owned(), value.to_owned())].into();
            registry
                .build("v3", &params)
                .err()
                .map(|error| error.to_string())
        };
        assert!(bad("price_tolerance", "2").is_some_and(|error| error.contains("price_tolerance")));
        assert!(bad("rounds", "2.5").is_some());
        assert!(bad("rounds", "NaN").is_some());
        assert!(bad("tolerance", "0.1").is_some_and(|error| error.contains("takes no parameter")));
        let params = v3(&[("price_tolerance", "0.02")]).params();
        assert_eq!(params["price_tolerance"], "0.02");
        assert_eq!(params["area_tolerance"], "0.02");
        assert_eq!(params["rounds"], "5");
        assert_eq!(params.len(), 6);
        assert!(
            registry.build("v1", &params).is_err(),
            "v1 takes no parameter"
        );
        assert!(registry.build("v9", &Params::new()).is_err());
    }
}
