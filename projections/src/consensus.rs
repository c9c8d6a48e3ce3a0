//! Per-field consensus across miners, in versions that can be rebuilt side by side.
//!
//! The input of a listing's consensus is each miner's *latest* report of it (a newer report of
//! a miner supersedes its older ones, so a miner counts once per listing). For every field, the
//! distinct values reported are weighed; the value with the greatest weight is chosen.
//!
//! * **v1** (the seeds): a value's weight is the sum of the trust of the miners reporting it,
//!   the trust recorded in each attestation. Ties go to the value reported most recently.
//! * **v2** (time-aware): as v1, but each miner's trust is multiplied by
//!   `0.5^(age / half_life_hours)` (a week by default), where `age` is how much older its report
//!   is than the listing's newest report. Prices and statuses change for real; a stale majority
//!   should not outvote a fresh minority forever.
//! * **v3** (truth discovery, see `consensus/v3.rs`): v2's weights, values compared with
//!   tolerances, outliers rejected, and each miner weighed by its distance from the listing's
//!   truths.
//!
//! Each is a [`ConsensusAlgorithm`], built by name and parameters from a [`Registry`]; a
//! researcher's own algorithm registers beside them.
//!
//! For every value: the distinct miners supporting it, its (weighted) support, when it was first
//! and last reported, and its confidence, `supporting miners / miners reporting the field` (a
//! miner whose report lacks the field does not count against it). A listing's consensus score is
//! the mean confidence of its chosen values.

pub mod stored;
mod v3;

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::Arc;

use resi_events::CanonicalListing;

/// Microseconds since the Unix epoch.
pub type Micros = i64;

/// The fields consensus is built for, in a fixed order (it is the storage order too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// Price, whole dollars.
    Price,
    /// Bedrooms.
    Bedrooms,
    /// Bathrooms, tenths.
    Bathrooms,
    /// Living area, square feet.
    LivingArea,
    /// Normalised address.
    Address,
    /// Home type.
    HomeType,
    /// Listing status.
    Status,
    /// Latitude and longitude, 1e-7 degrees, as `lat,lon`.
    Coordinates,
    /// Zip code.
    Zip,
    /// City.
    City,
    /// State code.
    State,
}

impl Field {
    /// Every field, in order.
    pub const ALL: [Self; 11] = [
        Self::Price,
        Self::Bedrooms,
        Self::Bathrooms,
        Self::LivingArea,
        Self::Address,
        Self::HomeType,
        Self::Status,
        Self::Coordinates,
        Self::Zip,
        Self::City,
        Self::State,
    ];

    /// The field's name in tables and the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Price => "price",
            Self::Bedrooms => "bedrooms",
            Self::Bathrooms => "bathrooms",
            Self::LivingArea => "living_area",
            Self::Address => "address",
            Self::HomeType => "home_type",
            Self::Status => "home_status",
            Self::Coordinates => "coordinates",
            Self::Zip => "zip_code",
            Self::City => "city",
            Self::State => "state",
        }
    }

    /// The field by its name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|field| field.as_str() == name)
    }

    /// The field's value in `listing`, as the text consensus compares (integers in decimal).
    #[must_use]
    pub fn value_of(self, listing: &CanonicalListing) -> Option<String> {
        match self {
            Self::Price => listing.price_usd.map(|value| value.to_string()),
            Self::Bedrooms => listing.bedrooms.map(|value| value.to_string()),
            Self::Bathrooms => listing.bathrooms_tenths.map(|value| value.to_string()),
            Self::LivingArea => listing.living_area_sqft.map(|value| value.to_string()),
            Self::Address => listing.address.clone(),
            Self::HomeType => listing.home_type.clone(),
            Self::Status => listing.home_status.clone(),
            Self::Coordinates => listing
                .latitude_e7
                .zip(listing.longitude_e7)
                .map(|(latitude, longitude)| format!("{latitude},{longitude}")),
            Self::Zip => listing.zip_code.clone(),
            Self::City => listing.city.clone(),
            Self::State => listing.state.clone(),
        }
    }
}

/// A miner's latest report of a listing, reduced to what consensus needs.
#[derive(Clone, Debug, PartialEq)]
pub struct MinerReport {
    /// The miner.
    pub miner: String,
    /// When the listing was scraped (the report's event time).
    pub reported_at: Micros,
    /// The miner's trust recorded in the attestation.
    pub trust: f64,
    /// The reported value of each field, by [`Field::ALL`] order.
    pub values: [Option<String>; Field::ALL.len()],
}

impl MinerReport {
    /// The report of `listing` by `miner`.
    #[must_use]
    pub fn of(miner: &str, reported_at: Micros, trust: f64, listing: &CanonicalListing) -> Self {
        Self {
            miner: miner.to_owned(),
            reported_at,
            trust,
            values: Field::ALL.map(|field| field.value_of(listing)),
        }
    }

    /// Whether `self` supersedes `other` as the same miner's latest report: later, or as late
    /// and greater by content (so the choice never depends on arrival order).
    #[must_use]
    pub fn supersedes(&self, other: &Self) -> bool {
        (self.reported_at, &self.values) > (other.reported_at, &other.values)
    }

    /// Whether `self`, reported in attestation `id`, takes the place of `current` (reported in
    /// `current_id`) as the miner's latest report: it supersedes it, or it is the same report
    /// under a smaller attestation id. A total order, so the outcome never depends on arrival.
    #[must_use]
    pub fn replaces(&self, id: &[u8], current: &Self, current_id: &[u8]) -> bool {
        self.supersedes(current)
            || (!current.supersedes(self) && self.values == current.values && id < current_id)
    }
}

/// A build's parameters, by name, as given (`--param name=value`) and as recorded.
pub type Params = BTreeMap<String, String>;

/// Why an algorithm could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlgorithmError {
    /// No algorithm of that name is registered.
    #[error("no consensus algorithm is called {name:?} (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names registered, comma-separated.
        known: String,
    },
    /// A parameter the algorithm does not take.
    #[error("{algorithm} takes no parameter {name:?} (it takes: {takes})")]
    UnknownParam {
        /// The algorithm.
        algorithm: String,
        /// The parameter.
        name: String,
        /// The parameters it takes, comma-separated.
        takes: String,
    },
    /// A parameter whose value is not valid.
    #[error("{algorithm}: parameter {name} = {value:?} is not valid: {why}")]
    BadParam {
        /// The algorithm.
        algorithm: String,
        /// The parameter.
        name: String,
        /// The value given.
        value: String,
        /// What a valid value is.
        why: String,
    },
}

/// A consensus algorithm: pure, one listing at a time. Given each miner's latest report of a
/// listing (one per miner, in any order), the decided fields with their supporters, support and
/// confidence, and each miner's agreement. Implementations must be deterministic: the same
/// reports in any order give the same decision.
pub trait ConsensusAlgorithm: Send + Sync {
    /// The algorithm's registered name.
    fn name(&self) -> &str;
    /// Every parameter with the value in force, defaults included: what a build records.
    fn params(&self) -> Params;
    /// Decides a listing from its miners' latest reports.
    fn decide(&self, reports: &[&MinerReport]) -> ListingConsensus;

    /// Learns across listings before deciding any: called by the lab (which sees its whole
    /// input) with a [`Dataset`] of every listing's reports; an algorithm that weighs miners by their
    /// record over all listings (truth discovery across the dataset) returns the fitted
    /// algorithm that decides. The folds decide each listing as its reports arrive and never
    /// call it, so a build can only run algorithms that need no fitting (v1, v2, v3 need none).
    fn fit(&self, _listings: &dyn Dataset) -> Option<Arc<dyn ConsensusAlgorithm>> {
        None
    }
}

/// The listings an algorithm learns from: each listing's reports (each miner's latest), lent one
/// listing at a time and as many times over as it asks, so that a dataset need never be held as
/// reports all at once.
pub trait Dataset: Sync {
    /// How many listings.
    fn len(&self) -> usize;

    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `each` with each listing's reports, in listing order.
    fn for_each(&self, each: &mut dyn FnMut(&[MinerReport]));
}

/// A dataset held in memory, listing by listing: for tests and small experiments.
impl Dataset for Vec<Vec<MinerReport>> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn for_each(&self, each: &mut dyn FnMut(&[MinerReport])) {
        for reports in self {
            each(reports);
        }
    }
}

/// Builds an algorithm from its parameters.
pub type Constructor =
    Arc<dyn Fn(&Params) -> Result<Arc<dyn ConsensusAlgorithm>, AlgorithmError> + Send + Sync>;

/// Consensus algorithms by name. [`Registry::standard`] holds v1, v2 and v3; a researcher's
/// crate registers its own beside them and runs them through the same lab and folds.
#[derive(Clone)]
pub struct Registry {
    constructors: BTreeMap<String, Constructor>,
}

impl Registry {
    /// v1, v2 and v3.
    #[must_use]
    pub fn standard() -> Self {
        let mut registry = Self {
            constructors: BTreeMap::new(),
        };
        registry.register("v1", |params| {
            Ok(Arc::new(Plurality::v1(params)?) as Arc<dyn ConsensusAlgorithm>)
        });
        registry.register("v2", |params| {
            Ok(Arc::new(Plurality::v2(params)?) as Arc<dyn ConsensusAlgorithm>)
        });
        registry.register("v3", |params| {
            Ok(Arc::new(v3::TruthDiscovery::new(params)?) as Arc<dyn ConsensusAlgorithm>)
        });
        registry
    }

    /// Adds (or replaces) the algorithm `name`.
    pub fn register(
        &mut self,
        name: &str,
        constructor: impl Fn(&Params) -> Result<Arc<dyn ConsensusAlgorithm>, AlgorithmError>
        + Send
        + Sync
        + 'static,
    ) {
        self.constructors
            .insert(name.to_owned(), Arc::new(constructor));
    }

    /// The registered names, sorted.
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        self.constructors.keys().map(String::as_str).collect()
    }

    /// The algorithm `name` with `params` (the others at their defaults).
    ///
    /// # Errors
    /// An unknown name, or a parameter it does not take or whose value is not valid.
    pub fn build(
        &self,
        name: &str,
        params: &Params,
    ) -> Result<Arc<dyn ConsensusAlgorithm>, AlgorithmError> {
        let constructor = self
            .constructors
            .get(name)
            .ok_or_else(|| AlgorithmError::Unknown {
                name: name.to_owned(),
                known: self.names().join(", "),
            })?;
        constructor(params)
    }
}

/// A parameter an algorithm takes: name, default, what a valid value is, and the check.
type ParamSpec = (&'static str, f64, &'static str, fn(f64) -> bool);

/// Reads a build's parameters for `algorithm`: each of `defaults` (name, default value, what
/// a valid value is, how to parse it) from `params`, refusing names it does not know.
fn read_params<const N: usize>(
    algorithm: &str,
    params: &Params,
    defaults: [ParamSpec; N],
) -> Result<[f64; N], AlgorithmError> {
    if let Some(name) = params
        .keys()
        .find(|name| !defaults.iter().any(|(known, ..)| known == name))
    {
        return Err(AlgorithmError::UnknownParam {
            algorithm: algorithm.to_owned(),
            name: name.clone(),
            takes: if N == 0 {
                "none".to_owned()
            } else {
                defaults.map(|(known, ..)| known).join(", ")
            },
        });
    }
    let mut values = [0.0; N];
    for (slot, (name, default, why, valid)) in values.iter_mut().zip(defaults) {
        *slot = match params.get(name) {
            None => default,
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite() && valid(*value))
                .ok_or_else(|| AlgorithmError::BadParam {
                    algorithm: algorithm.to_owned(),
                    name: name.to_owned(),
                    value: text.clone(),
                    why: why.to_owned(),
                })?,
        };
    }
    Ok(values)
}

/// A number as a build records it: shortest form that reads back the same.
fn param_text(value: f64) -> String {
    format!("{value}")
}

/// v2's default half-life of a report's weight, relative to the listing's newest report: one
/// week.
pub const HALF_LIFE: Micros = 7 * 24 * 3_600 * 1_000_000;

/// A report's recorded trust, as a weight: clamped to 0..=1, 0 when not a number.
fn trust(report: &MinerReport) -> f64 {
    if report.trust.is_nan() {
        0.0
    } else {
        report.trust.clamp(0.0, 1.0)
    }
}

/// The factor of `report`'s age behind `newest`: halved every `half_life` (1 without one).
fn decayed(report: &MinerReport, newest: Micros, half_life: Option<Micros>) -> f64 {
    half_life.map_or(1.0, |half_life| {
        let age = (newest - report.reported_at).max(0) as f64;
        0.5_f64.powf(age / half_life as f64)
    })
}

/// **v1** and **v2**: the trust-weighted plurality of exact values; v2 halves a report's weight
/// every `half_life_hours` (168) of age behind the listing's newest report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plurality {
    name: &'static str,
    half_life: Option<Micros>,
}

impl Plurality {
    /// v1, which takes no parameter.
    ///
    /// # Errors
    /// Any parameter.
    pub fn v1(params: &Params) -> Result<Self, AlgorithmError> {
        read_params("v1", params, [])?;
        Ok(Self {
            name: "v1",
            half_life: None,
        })
    }

    /// v2 with `half_life_hours` (168 by default).
    ///
    /// # Errors
    /// Another parameter, or a half-life that is not a positive number of hours.
    pub fn v2(params: &Params) -> Result<Self, AlgorithmError> {
        let [hours] = read_params(
            "v2",
            params,
            [("half_life_hours", 168.0, "hours, more than 0", |v| v > 0.0)],
        )?;
        // hours are far below 2^53 microseconds
        #[allow(clippy::cast_possible_truncation)]
        let half_life = (hours * 3_600_000_000.0) as Micros;
        Ok(Self {
            name: "v2",
            half_life: Some(half_life),
        })
    }
}

impl ConsensusAlgorithm for Plurality {
    fn name(&self) -> &str {
        self.name
    }

    fn params(&self) -> Params {
        self.half_life
            .map(|half_life| {
                (
                    "half_life_hours".to_owned(),
                    param_text(half_life as f64 / 3_600_000_000.0),
                )
            })
            .into_iter()
            .collect()
    }

    fn decide(&self, reports: &[&MinerReport]) -> ListingConsensus {
        // in miner order, so that every sum runs in one order whatever the input's
        let mut reports = reports.to_vec();
        reports.sort_by(|left, right| left.miner.cmp(&right.miner));
        let reports = reports.as_slice();
        let newest = reports
            .iter()
            .map(|report| report.reported_at)
            .max()
            .unwrap_or_default();
        let weights: Vec<f64> = reports
            .iter()
            .map(|report| trust(report) * decayed(report, newest, self.half_life))
            .collect();
        let mut fields = Vec::new();
        for (index, field) in Field::ALL.into_iter().enumerate() {
            let mut by_value: BTreeMap<&str, ValueSupport> = BTreeMap::new();
            let mut reporting = 0_u32;
            for (report, weight) in reports.iter().zip(&weights) {
                let Some(value) = report.values[index].as_deref() else {
                    continue;
                };
                reporting += 1;
                let entry = by_value.entry(value).or_insert_with(|| ValueSupport {
                    value: value.to_owned(),
                    miners: Vec::new(),
                    support: 0.0,
                    first_reported: report.reported_at,
                    last_reported: report.reported_at,
                    confidence: 0.0,
                });
                entry.miners.push(report.miner.clone());
                entry.support += weight;
                entry.first_reported = entry.first_reported.min(report.reported_at);
                entry.last_reported = entry.last_reported.max(report.reported_at);
            }
            if reporting == 0 {
                continue;
            }
            let mut values: Vec<ValueSupport> = by_value
                .into_values()
                .map(|mut value| {
                    value.miners.sort();
                    value.confidence =
                        f64::from(u32::try_from(value.miners.len()).unwrap_or(u32::MAX))
                            / f64::from(reporting);
                    value
                })
                .collect();
            rank(&mut values);
            fields.push(FieldConsensus { field, values });
        }
        finish(fields, reports)
    }
}

/// Orders a field's values: greatest support first; ties to the most recent report, then to the
/// smaller value, so the order is total and independent of the input's order.
fn rank(values: &mut [ValueSupport]) {
    values.sort_by(|left, right| {
        right
            .support
            .total_cmp(&left.support)
            .then(right.last_reported.cmp(&left.last_reported))
            .then(left.value.cmp(&right.value))
    });
}

/// A listing's consensus from its decided fields: the score (mean confidence of the chosen
/// values) and each miner's agreement (fields whose chosen value it supports, of the fields it
/// reported).
fn finish(fields: Vec<FieldConsensus>, reports: &[&MinerReport]) -> ListingConsensus {
    let score = if fields.is_empty() {
        0.0
    } else {
        fields
            .iter()
            .filter_map(|field| field.chosen().map(|chosen| chosen.confidence))
            .sum::<f64>()
            / fields.len() as f64
    };
    let mut agreement: Vec<(String, u32, u32)> = reports
        .iter()
        .map(|report| {
            let mut agreed = 0;
            let mut reported = 0;
            for consensus in &fields {
                let index = Field::ALL
                    .iter()
                    .position(|field| *field == consensus.field)
                    .unwrap_or_default();
                if report.values[index].is_some() {
                    reported += 1;
                    if consensus
                        .chosen()
                        .is_some_and(|chosen| chosen.miners.binary_search(&report.miner).is_ok())
                    {
                        agreed += 1;
                    }
                }
            }
            (report.miner.clone(), agreed, reported)
        })
        .collect();
    agreement.sort();
    ListingConsensus {
        fields,
        miners: u32::try_from(reports.len()).unwrap_or(u32::MAX),
        score,
        agreement,
    }
}

/// One distinct value of a field and who supports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueSupport {
    /// The value.
    pub value: String,
    /// Supporting miners, sorted.
    pub miners: Vec<String>,
    /// Sum of the supporting miners' weights under the algorithm.
    pub support: f64,
    /// Earliest report of the value among its supporters.
    pub first_reported: Micros,
    /// Latest report of the value among its supporters.
    pub last_reported: Micros,
    /// Supporting miners / miners reporting the field.
    pub confidence: f64,
}

/// A field's consensus: the chosen value first, then the alternatives by falling support.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldConsensus {
    /// The field.
    pub field: Field,
    /// Every distinct value; the first is the chosen one.
    pub values: Vec<ValueSupport>,
}

impl FieldConsensus {
    /// The chosen value.
    #[must_use]
    pub fn chosen(&self) -> Option<&ValueSupport> {
        self.values.first()
    }
}

/// A listing's consensus.
#[derive(Clone, Debug, PartialEq)]
pub struct ListingConsensus {
    /// Fields that at least one miner reported, in [`Field::ALL`] order.
    pub fields: Vec<FieldConsensus>,
    /// Distinct miners reporting the listing.
    pub miners: u32,
    /// Mean confidence of the chosen values (0 when no field has a value).
    pub score: f64,
    /// Per miner (sorted): (fields agreeing with the chosen value, fields reported).
    pub agreement: Vec<(String, u32, u32)>,
}

/// Decides a listing with `algorithm` from its miners' latest reports (one per miner; order
/// does not matter), owned or borrowed (a fold decides from the reports it holds, without
/// copying them).
#[must_use]
pub fn decide<R: Borrow<MinerReport>>(
    algorithm: &dyn ConsensusAlgorithm,
    reports: &[R],
) -> ListingConsensus {
    let reports: Vec<&MinerReport> = reports.iter().map(Borrow::borrow).collect();
    algorithm.decide(&reports)
}

/// The standard algorithm `name` at its default parameters.
///
/// # Errors
/// No standard algorithm is called `name`.
pub fn standard(name: &str) -> Result<Arc<dyn ConsensusAlgorithm>, AlgorithmError> {
    Registry::standard().build(name, &Params::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1() -> Plurality {
        Plurality::v1(&Params::new()).expect("v1")
    }

    fn v2() -> Plurality {
        Plurality::v2(&Params::new()).expect("v2")
    }

    const DAY: Micros = 24 * 3_600 * 1_000_000;
    const TODAY: Micros = 1_763_856_000_000_000;

    fn listing(price: i64, status: &str) -> CanonicalListing {
        CanonicalListing {
            listing_id: "2077".into(),
            price_usd: Some(price),
            home_status: Some(status.into()),
            zip_code: Some("78702".into()),
            city: Some("AUSTIN".into()),
            ..CanonicalListing::default()
        }
    }

    fn report(miner: &str, at: Micros, trust: f64, listing: &CanonicalListing) -> MinerReport {
        MinerReport::of(miner, at, trust, listing)
    }

    #[test]
    fn a_dataset_in_memory_lends_each_listing_in_order_on_every_pass() {
        let (first, second) = (listing(400_000, "FOR_SALE"), listing(410_000, "PENDING"));
        let listings = vec![
            vec![
                report("m1", TODAY, 0.5, &first),
                report("m2", TODAY, 0.5, &first),
            ],
            vec![report("m1", TODAY + DAY, 0.5, &second)],
        ];
        let dataset: &dyn Dataset = &listings;
        assert_eq!((dataset.len(), dataset.is_empty()), (2, false));
        for _ in 0..2 {
            let mut lent = Vec::new();
            dataset.for_each(&mut |reports| lent.push(reports.to_vec()));
            assert_eq!(lent, listings);
        }
    }

    fn chosen(consensus: &ListingConsensus, field: Field) -> &str {
        consensus
            .fields
            .iter()
            .find(|candidate| candidate.field == field)
            .and_then(FieldConsensus::chosen)
            .map(|value| value.value.as_str())
            .unwrap_or_default()
    }

    /// Four miners report last month's price, two report today's: v1 keeps the majority, v2
    /// follows the fresh reports.
    #[test]
    fn a_stale_majority_wins_v1_and_loses_v2() {
        let old = listing(450_000, "FOR_SALE");
        let new = listing(425_000, "PENDING");
        let reports = vec![
            report("a", TODAY - 30 * DAY, 0.6, &old),
            report("b", TODAY - 31 * DAY, 0.6, &old),
            report("c", TODAY - 29 * DAY, 0.6, &old),
            report("d", TODAY - 30 * DAY, 0.6, &old),
            report("e", TODAY, 0.6, &new),
            report("f", TODAY - DAY / 2, 0.6, &new),
        ];
        let v1 = decide(&v1(), &reports);
        let v2 = decide(&v2(), &reports);
        assert_eq!(chosen(&v1, Field::Price), "450000");
        assert_eq!(chosen(&v1, Field::Status), "FOR_SALE");
        assert_eq!(chosen(&v2, Field::Price), "425000");
        assert_eq!(chosen(&v2, Field::Status), "PENDING");
        // confidence is the share of miners, whatever the weights
        let price_v2 = &v2.fields[0].values;
        assert_eq!(price_v2[0].miners, vec!["e".to_owned(), "f".to_owned()]);
        assert!((price_v2[0].confidence - 2.0 / 6.0).abs() < 1e-12);
        assert!((price_v2[1].confidence - 4.0 / 6.0).abs() < 1e-12);
        // fields everyone agrees on are certain in both
        assert_eq!(chosen(&v1, Field::Zip), "78702");
        let zip = v1.fields.iter().find(|field| field.field == Field::Zip);
        assert!(zip.is_some_and(|zip| (zip.values[0].confidence - 1.0).abs() < 1e-12));
    }

    #[test]
    fn trust_outweighs_numbers_and_ties_go_to_the_latest_report() {
        let honest = listing(300_000, "FOR_SALE");
        let fake = listing(1_000, "FOR_SALE");
        let reports = vec![
            report("good", TODAY, 0.9, &honest),
            report("bad1", TODAY, 0.2, &fake),
            report("bad2", TODAY, 0.2, &fake),
            report("bad3", TODAY, 0.2, &fake),
        ];
        let consensus = decide(&v1(), &reports);
        assert_eq!(chosen(&consensus, Field::Price), "300000");
        assert_eq!(
            consensus.agreement,
            vec![
                ("bad1".to_owned(), 3, 4),
                ("bad2".to_owned(), 3, 4),
                ("bad3".to_owned(), 3, 4),
                ("good".to_owned(), 4, 4),
            ]
        );

        let tie = vec![
            report("x", TODAY - DAY, 0.5, &listing(100_000, "FOR_SALE")),
            report("y", TODAY, 0.5, &listing(110_000, "FOR_SALE")),
        ];
        assert_eq!(chosen(&decide(&v1(), &tie), Field::Price), "110000");
    }

    #[test]
    fn the_order_of_reports_does_not_matter() {
        let mut reports = vec![
            report("a", TODAY, 0.5, &listing(1_000_000, "FOR_SALE")),
            report("b", TODAY, 0.5, &listing(1_000_001, "FOR_SALE")),
            report("c", TODAY - DAY, 0.7, &listing(1_000_001, "SOLD")),
        ];
        let forward = decide(&v2(), &reports);
        reports.reverse();
        assert_eq!(decide(&v2(), &reports), forward);
        assert!(forward.score > 0.0 && forward.score <= 1.0);
    }

    #[test]
    fn a_later_report_supersedes_and_missing_fields_do_not_count_against() {
        let early = report("a", TODAY - DAY, 0.5, &listing(1, "FOR_SALE"));
        let late = report("a", TODAY, 0.5, &listing(2, "FOR_SALE"));
        assert!(late.supersedes(&early));
        assert!(!early.supersedes(&late));
        assert!(!late.supersedes(&late));
        // the same report twice: the smaller attestation id keeps it, whatever arrives first
        assert!(late.replaces(&[1], &late, &[2]));
        assert!(!late.replaces(&[2], &late, &[1]));
        assert!(late.replaces(&[9], &early, &[1]));
        assert!(!early.replaces(&[0], &late, &[9]));

        let without_city = CanonicalListing {
            city: None,
            ..listing(5, "FOR_SALE")
        };
        let consensus = decide(
            &v1(),
            &[
                report("a", TODAY, 0.5, &listing(5, "FOR_SALE")),
                report("b", TODAY, 0.5, &without_city),
            ],
        );
        let city = consensus
            .fields
            .iter()
            .find(|field| field.field == Field::City);
        assert!(city.is_some_and(|city| (city.values[0].confidence - 1.0).abs() < 1e-12));
        assert_eq!(consensus.miners, 2);
    }

    #[test]
    fn fields_round_trip_by_name() {
        for field in Field::ALL {
            assert_eq!(Field::from_name(field.as_str()), Some(field));
        }
        assert_eq!(
            standard("v2").map(|v2| v2.name().to_owned()),
            Ok("v2".to_owned())
        );
        assert!(standard("v9").is_err());
    }
}
