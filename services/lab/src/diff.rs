//! `resi lab diff`: two decision sets side by side — the listings and fields whose chosen value
//! differs, by how much, with examples, and (given the attestations) the miners whose agreement
//! with the decisions moves most.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use resi_projections::consensus::{Dataset as _, Field};
use serde::Serialize;

use crate::decisions::{self, Decisions};

/// How one field differs between the two sets.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FieldDiff {
    /// Decided in both, with different values.
    pub changed: u64,
    /// Decided only in A.
    pub only_a: u64,
    /// Decided only in B.
    pub only_b: u64,
    /// For numbers, the mean of |B − A| / |A| over the changed values.
    pub mean_relative_change: Option<f64>,
}

/// One differing decision.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    /// The listing.
    pub listing_id: String,
    /// The field.
    pub field: String,
    /// A's value and confidence.
    pub a: Option<(String, f64)>,
    /// B's value and confidence.
    pub b: Option<(String, f64)>,
}

/// A miner whose agreement with the decisions moves between A and B.
#[derive(Clone, Debug, Serialize)]
pub struct Mover {
    /// The miner.
    pub miner_hotkey: String,
    /// Share of its reported fields equal to A's chosen value.
    pub agreement_a: f64,
    /// The same under B.
    pub agreement_b: f64,
}

/// Two decision sets compared.
#[derive(Clone, Debug, Serialize)]
pub struct Diffed {
    /// Listings decided in A.
    pub listings_a: usize,
    /// Listings decided in B.
    pub listings_b: usize,
    /// Every listing with at least one differing field, sorted.
    pub changed_listings: Vec<String>,
    /// Per field.
    pub fields: BTreeMap<String, FieldDiff>,
    /// The first differing decisions, in listing order.
    pub examples: Vec<Example>,
    /// The miners whose agreement moves most (given the attestations), largest move first.
    pub movers: Vec<Mover>,
}

/// Compares decision sets `a` and `b`; `examples` differing decisions are listed.
#[must_use]
pub fn diff_decisions(a: &Decisions, b: &Decisions, examples: usize) -> Diffed {
    let listings = |set: &Decisions| {
        set.keys()
            .map(|(listing, _)| listing.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    };
    let mut diffed = Diffed {
        listings_a: listings(a),
        listings_b: listings(b),
        changed_listings: Vec::new(),
        fields: BTreeMap::new(),
        examples: Vec::new(),
        movers: Vec::new(),
    };
    let mut changed: BTreeSet<&str> = BTreeSet::new();
    let mut relative: BTreeMap<&str, (f64, u64)> = BTreeMap::new();
    let keys: BTreeSet<&(String, String)> = a.keys().chain(b.keys()).collect();
    for key in keys {
        let (listing, field) = key;
        let (left, right) = (a.get(key), b.get(key));
        let entry = diffed.fields.entry(field.clone()).or_default();
        match (left, right) {
            (Some(left), Some(right)) if left.value == right.value => continue,
            (Some(left), Some(right)) => {
                entry.changed += 1;
                if let (Ok(from), Ok(to)) = (left.value.parse::<f64>(), right.value.parse::<f64>())
                    && from != 0.0
                {
                    let sum = relative.entry(field).or_default();
                    sum.0 += ((to - from) / from).abs();
                    sum.1 += 1;
                }
            }
            (Some(_), None) => entry.only_a += 1,
            (None, Some(_)) => entry.only_b += 1,
            (None, None) => continue,
        }
        changed.insert(listing);
        if diffed.examples.len() < examples {
            diffed.examples.push(Example {
                listing_id: listing.clone(),
                field: field.clone(),
                a: left.map(|decision| (decision.value.clone(), decision.confidence)),
                b: right.map(|decision| (decision.value.clone(), decision.confidence)),
            });
        }
    }
    for (field, (sum, count)) in relative {
        if let Some(entry) = diffed.fields.get_mut(field) {
            entry.mean_relative_change = Some(sum / count as f64);
        }
    }
    diffed
        .fields
        .retain(|_, field| field.changed + field.only_a + field.only_b > 0);
    diffed.changed_listings = changed.into_iter().map(str::to_owned).collect();
    diffed
}

/// Per miner, (fields equal to the chosen value, fields reported) under `decisions`, over each
/// miner's latest reports in the attestation export `input`.
fn agreement(
    reports: &crate::attestations::LatestReports,
    decisions: &Decisions,
) -> BTreeMap<String, (u64, u64)> {
    let mut agreement: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for index in 0..reports.len() {
        let listing = reports.listing_id(index).to_owned();
        for report in reports.reports(index) {
            let counts = agreement.entry(report.miner.clone()).or_default();
            for (slot, field) in Field::ALL.iter().enumerate() {
                let Some(value) = report.values[slot].as_deref() else {
                    continue;
                };
                let Some(decision) = decisions.get(&(listing.clone(), field.as_str().to_owned()))
                else {
                    continue;
                };
                counts.1 += 1;
                counts.0 += u64::from(decision.value == value);
            }
        }
    }
    agreement
}

/// Compares the decisions files `a` and `b`; with the attestation export `input`, lists the
/// `movers` miners whose agreement moves most.
pub fn diff(
    a: &Path,
    b: &Path,
    input: Option<&Path>,
    examples: usize,
    movers: usize,
) -> anyhow::Result<Diffed> {
    let (a, b) = (decisions::read(a)?, decisions::read(b)?);
    diff_sets(&a, &b, input, examples, movers)
}

/// Compares decision sets `a` and `b` (from files or builds, see [`decisions::from_build`]);
/// with the attestation export `input`, lists the `movers` miners whose agreement moves most.
pub fn diff_sets(
    a: &Decisions,
    b: &Decisions,
    input: Option<&Path>,
    examples: usize,
    movers: usize,
) -> anyhow::Result<Diffed> {
    let mut diffed = diff_decisions(a, b, examples);
    if let Some(input) = input {
        let (reports, _) = crate::attestations::LatestReports::read(input)?;
        let (under_a, under_b) = (agreement(&reports, a), agreement(&reports, b));
        let share = |(agreed, reported): (u64, u64)| agreed as f64 / reported.max(1) as f64;
        let mut moved: Vec<Mover> = under_a
            .iter()
            .map(|(miner, counts)| Mover {
                miner_hotkey: miner.clone(),
                agreement_a: share(*counts),
                agreement_b: share(under_b.get(miner).copied().unwrap_or_default()),
            })
            .filter(|mover| mover.agreement_a != mover.agreement_b)
            .collect();
        moved.sort_by(|left, right| {
            (right.agreement_b - right.agreement_a)
                .abs()
                .total_cmp(&(left.agreement_b - left.agreement_a).abs())
                .then(left.miner_hotkey.cmp(&right.miner_hotkey))
        });
        moved.truncate(movers);
        diffed.movers = moved;
    }
    Ok(diffed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::Decision;

    fn set(values: &[(&str, &str, &str)]) -> Decisions {
        values
            .iter()
            .map(|(listing, field, value)| {
                (
                    ((*listing).to_owned(), (*field).to_owned()),
                    Decision {
                        listing_id: (*listing).into(),
                        field: (*field).into(),
                        value: (*value).into(),
                        confidence: 0.5,
                        support: 1.0,
                        supporters: 1,
                        reporting: 2,
                        listing_score: 0.5,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn differences_are_listed_by_field_with_the_relative_change() {
        let a = set(&[
            ("1", "price", "100"),
            ("1", "home_status", "FOR_SALE"),
            ("2", "price", "200"),
            ("3", "city", "AUSTIN"),
        ]);
        let b = set(&[
            ("1", "price", "110"),
            ("1", "home_status", "FOR_SALE"),
            ("2", "price", "200"),
            ("4", "city", "DALLAS"),
        ]);
        let diffed = diff_decisions(&a, &b, 2);
        assert_eq!(diffed.changed_listings, ["1", "3", "4"]);
        assert_eq!(diffed.fields["price"].changed, 1);
        let change = diffed.fields["price"]
            .mean_relative_change
            .unwrap_or_default();
        assert!((change - 0.1).abs() < 1e-12, "{change}");
        assert_eq!(
            (diffed.fields["city"].only_a, diffed.fields["city"].only_b),
            (1, 1)
        );
        assert!(!diffed.fields.contains_key("home_status"));
        assert_eq!(diffed.examples.len(), 2);
        assert!(diff_decisions(&a, &a, 5).changed_listings.is_empty());
    }
}
