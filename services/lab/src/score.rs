//! `resi lab score`: a decisions file against the truth the generator wrote beside its uploads
//! (`_resi/truth.jsonl`): accuracy per field, on the listings that genuinely changed, per miner
//! type (on the listings miners of that type reported), and confidence calibration.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::decisions::{self, Decisions};

/// What a listing really is: one line of the generator's truth file.
pub use resi_datagen::TrueListing as Truth;

/// Coordinates within this many metres of the truth are right.
pub const COORDINATE_METRES: f64 = 10.0;

/// The fields the truth holds, in the order reports list them.
pub const SCORED: [&str; 7] = [
    "price",
    "bedrooms",
    "bathrooms",
    "living_area",
    "home_status",
    "coordinates",
    "zip_code",
];

/// Whether `value` (as a decision holds it) is right for `field` of `truth`; `None` for a field
/// the truth does not hold.
#[must_use]
pub fn right(field: &str, value: &str, truth: &Truth) -> Option<bool> {
    let number = |expected: i64| Some(value.parse::<i64>().ok() == Some(expected));
    match field {
        "price" => number(truth.price_usd),
        "bedrooms" => number(truth.bedrooms),
        "bathrooms" => number(truth.bathrooms_tenths),
        "living_area" => number(truth.living_area_sqft),
        "home_status" => Some(value == truth.home_status),
        "zip_code" => Some(value == truth.zip_code),
        "coordinates" => {
            let point = value.split_once(',').and_then(|(latitude, longitude)| {
                Some((
                    latitude.parse::<i64>().ok()?,
                    longitude.parse::<i64>().ok()?,
                ))
            });
            Some(point.is_some_and(|(latitude, longitude)| {
                let degrees = |e7: i64| e7 as f64 / 1e7;
                let mean = degrees(latitude + truth.latitude_e7) / 2.0;
                let x = (degrees(longitude) - degrees(truth.longitude_e7)).to_radians()
                    * mean.to_radians().cos();
                let y = (degrees(latitude) - degrees(truth.latitude_e7)).to_radians();
                6_371_000.0 * x.hypot(y) <= COORDINATE_METRES
            }))
        }
        _ => None,
    }
}

/// Right and decided counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Decided fields scored.
    pub decided: u64,
    /// Of which right.
    pub right: u64,
    /// right / decided (0 when nothing was decided).
    pub accuracy: f64,
}

impl Tally {
    fn add(&mut self, right: bool) {
        self.decided += 1;
        self.right += u64::from(right);
        self.accuracy = self.right as f64 / self.decided as f64;
    }
}

/// One confidence bin.
#[derive(Clone, Debug, Serialize)]
pub struct Bin {
    /// Lowest confidence in the bin.
    pub from: f64,
    /// Highest (exclusive, but 1.0 belongs to the last bin).
    pub to: f64,
    /// Fields decided with a confidence in the bin, and how many were right.
    pub tally: Tally,
}

/// A decision set's score.
#[derive(Clone, Debug, Serialize)]
pub struct Scored {
    /// Listings in the truth.
    pub truth_listings: usize,
    /// Of which decided (at least one field).
    pub decided_listings: usize,
    /// Every scored field together.
    pub overall: Tally,
    /// Per field.
    pub fields: BTreeMap<String, Tally>,
    /// Price and status of the listings that genuinely changed.
    pub changed: BTreeMap<String, Tally>,
    /// Per miner type: every scored field of the listings miners of that type reported.
    pub miner_types: BTreeMap<String, Tally>,
    /// Ten confidence bins: a calibrated algorithm's 0.9 bin is right about 90 % of the time.
    pub calibration: Vec<Bin>,
}

/// Reads the generator's truth file.
pub fn read_truth(path: &Path) -> anyhow::Result<BTreeMap<String, Truth>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
    let mut truth = BTreeMap::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let listing: Truth = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}", path.display(), index + 1))?;
        truth.insert(listing.listing_id.clone(), listing);
    }
    Ok(truth)
}

/// Which miner type (behaviour) each hotkey of a generator manifest is.
pub fn read_miner_types(manifest: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    #[derive(Deserialize)]
    struct Miner {
        hotkey: String,
        behaviour: serde_json::Value,
    }
    #[derive(Deserialize)]
    struct Manifest {
        miners: Vec<Miner>,
    }
    let body = std::fs::read(manifest)
        .with_context(|| format!("failed to read {}", manifest.display()))?;
    let manifest: Manifest = serde_json::from_slice(&body)
        .with_context(|| format!("{} is not a generator manifest", manifest.display()))?;
    Ok(manifest
        .miners
        .into_iter()
        .map(|miner| {
            let behaviour = miner
                .behaviour
                .as_str()
                .map_or_else(|| miner.behaviour.to_string(), str::to_owned);
            (miner.hotkey, behaviour)
        })
        .collect())
}

/// Per miner type, the listings its miners reported, from the attestation export `input`.
pub fn listings_by_type(
    input: &Path,
    types: &BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let mut by_type: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    crate::attestations::read(input, |row| {
        if let Some(kind) = types.get(&row.miner_hotkey) {
            by_type
                .entry(kind.clone())
                .or_default()
                .insert(row.listing.listing_id);
        }
    })?;
    Ok(by_type)
}

/// Scores `decisions` against `truth`; `by_type` (optional) groups listings per miner type.
#[must_use]
pub fn score_decisions(
    decisions: &Decisions,
    truth: &BTreeMap<String, Truth>,
    by_type: &BTreeMap<String, BTreeSet<String>>,
) -> Scored {
    let mut scored = Scored {
        truth_listings: truth.len(),
        decided_listings: 0,
        overall: Tally::default(),
        fields: SCORED
            .iter()
            .map(|field| ((*field).to_owned(), Tally::default()))
            .collect(),
        changed: ["price", "home_status"]
            .iter()
            .map(|field| ((*field).to_owned(), Tally::default()))
            .collect(),
        miner_types: by_type
            .keys()
            .map(|kind| (kind.clone(), Tally::default()))
            .collect(),
        calibration: (0..10)
            .map(|bin| Bin {
                from: f64::from(bin) / 10.0,
                to: f64::from(bin + 1) / 10.0,
                tally: Tally::default(),
            })
            .collect(),
    };
    let mut decided_listings = BTreeSet::new();
    for ((listing, field), decision) in decisions {
        let Some(truth) = truth.get(listing) else {
            continue;
        };
        let Some(right) = right(field, &decision.value, truth) else {
            continue;
        };
        decided_listings.insert(listing.as_str());
        scored.overall.add(right);
        if let Some(tally) = scored.fields.get_mut(field) {
            tally.add(right);
        }
        if truth.changed
            && let Some(tally) = scored.changed.get_mut(field)
        {
            tally.add(right);
        }
        for (kind, listings) in by_type {
            if listings.contains(listing)
                && let Some(tally) = scored.miner_types.get_mut(kind)
            {
                tally.add(right);
            }
        }
        // confidence in 0..=1; 1.0 belongs to the last bin
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bin = ((decision.confidence.clamp(0.0, 1.0) * 10.0) as usize).min(9);
        scored.calibration[bin].tally.add(right);
    }
    scored.decided_listings = decided_listings.len();
    scored
}

/// Scores the decisions file `decisions` against the truth file `truth`; with `manifest` and
/// the attestation export `input`, per miner type too.
pub fn score(
    decisions: &Path,
    truth: &Path,
    types: Option<(&Path, &Path)>,
) -> anyhow::Result<Scored> {
    let decisions = decisions::read(decisions)?;
    let truth = read_truth(truth)?;
    let by_type = match types {
        Some((manifest, input)) => listings_by_type(input, &read_miner_types(manifest)?)?,
        None => BTreeMap::new(),
    };
    Ok(score_decisions(&decisions, &truth, &by_type))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::Decision;

    fn truth(changed: bool) -> Truth {
        Truth {
            listing_id: "1".into(),
            price_usd: 400_000,
            bedrooms: 3,
            bathrooms_tenths: 25,
            living_area_sqft: 1_500,
            home_status: "FOR_SALE".into(),
            zip_code: "78702".into(),
            latitude_e7: 302_000_000,
            longitude_e7: -977_000_000,
            changed,
        }
    }

    fn decision(field: &str, value: &str, confidence: f64) -> ((String, String), Decision) {
        (
            ("1".to_owned(), field.to_owned()),
            Decision {
                listing_id: "1".into(),
                field: field.into(),
                value: value.into(),
                confidence,
                support: 1.0,
                supporters: 1,
                reporting: 1,
                listing_score: confidence,
            },
        )
    }

    #[test]
    fn fields_are_right_by_their_units_and_coordinates_within_ten_metres() {
        let truth = truth(false);
        assert_eq!(right("price", "400000", &truth), Some(true));
        assert_eq!(right("price", "400100", &truth), Some(false));
        assert_eq!(right("bathrooms", "25", &truth), Some(true));
        assert_eq!(right("home_status", "PENDING", &truth), Some(false));
        // 500e-7 degrees of latitude is about 5.6 m; 2,000e-7 about 22 m
        assert_eq!(
            right("coordinates", "302000500,-977000000", &truth),
            Some(true)
        );
        assert_eq!(
            right("coordinates", "302002000,-977000000", &truth),
            Some(false)
        );
        assert_eq!(right("coordinates", "nonsense", &truth), Some(false));
        assert_eq!(
            right("city", "AUSTIN", &truth),
            None,
            "the truth holds no city"
        );
    }

    #[test]
    fn a_score_counts_fields_changed_listings_types_and_confidence_bins() {
        let decisions: Decisions = [
            decision("price", "400000", 1.0),
            decision("home_status", "PENDING", 0.4),
            decision("city", "AUSTIN", 1.0),
        ]
        .into();
        let truth: BTreeMap<String, Truth> = [("1".to_owned(), truth(true))].into();
        let by_type: BTreeMap<String, BTreeSet<String>> = [
            ("fake_prices".to_owned(), ["1".to_owned()].into()),
            ("honest".to_owned(), BTreeSet::new()),
        ]
        .into();
        let scored = score_decisions(&decisions, &truth, &by_type);
        assert_eq!((scored.overall.decided, scored.overall.right), (2, 1));
        assert_eq!(scored.fields["price"].accuracy, 1.0);
        assert_eq!(scored.fields["home_status"].accuracy, 0.0);
        assert_eq!(scored.changed["home_status"].decided, 1);
        assert_eq!(scored.miner_types["fake_prices"].decided, 2);
        assert_eq!(scored.miner_types["honest"].decided, 0);
        assert_eq!(
            scored.calibration[9].tally.right, 1,
            "1.0 belongs to the last bin"
        );
        assert_eq!(scored.calibration[4].tally.decided, 1);
        assert_eq!(scored.decided_listings, 1);
    }
}
