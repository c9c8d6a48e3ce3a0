//! Golden vectors: each standard algorithm's decisions on a fixed set of report sets, checked
//! in (`tests/golden/algorithms.txt`). A change of any algorithm's decisions fails here; a
//! build records its algorithm by name, so a changed algorithm is a new name, not a silent
//! change of what old builds mean. `RESI_BLESS_GOLDEN=1` rewrites the file.

use std::fmt::Write as _;

use resi_events::CanonicalListing;
use resi_projections::consensus::{MinerReport, Params, Registry, decide};

const NOW: i64 = 1_763_856_000_000_000;
const DAY: i64 = 24 * 3_600 * 1_000_000;

fn home(price: i64, status: &str) -> CanonicalListing {
    CanonicalListing {
        listing_id: "1".into(),
        price_usd: Some(price),
        bedrooms: Some(3),
        bathrooms_tenths: Some(20),
        living_area_sqft: Some(1_500),
        address: Some("12 ELM ST".into()),
        home_type: Some("SINGLE_FAMILY".into()),
        home_status: Some(status.into()),
        zip_code: Some("78702".into()),
        city: Some("AUSTIN".into()),
        state: Some("TX".into()),
        latitude_e7: Some(302_000_000),
        longitude_e7: Some(-977_000_000),
        ..CanonicalListing::default()
    }
}

fn at(miner: &str, age_days: i64, trust: f64, listing: &CanonicalListing) -> MinerReport {
    MinerReport::of(miner, NOW - age_days * DAY, trust, listing)
}

/// The report sets: each a situation an algorithm must handle.
fn sets() -> Vec<(&'static str, Vec<MinerReport>)> {
    let sale = home(450_000, "FOR_SALE");
    let cut = home(425_000, "PENDING");
    let moved = |latitude: i32| CanonicalListing {
        latitude_e7: Some(latitude),
        ..sale.clone()
    };
    let mut wrong = home(250_000, "SOLD");
    wrong.address = Some("9 OAK AVE".into());
    wrong.bedrooms = Some(5);
    wrong.zip_code = Some("78704".into());
    vec![
        ("one report", vec![at("a", 0, 0.5, &sale)]),
        (
            "a stale majority and a fresh minority",
            vec![
                at("a", 30, 0.6, &sale),
                at("b", 31, 0.6, &sale),
                at("c", 29, 0.6, &sale),
                at("d", 0, 0.6, &cut),
                at("e", 1, 0.6, &cut),
            ],
        ),
        (
            "careless prices within a percent",
            vec![
                at("a", 0, 0.5, &sale),
                at("b", 0, 0.5, &home(451_000, "FOR_SALE")),
                at("c", 0, 0.5, &home(449_500, "FOR_SALE")),
                at("d", 0, 0.5, &home(470_000, "FOR_SALE")),
                at("e", 0, 0.5, &home(430_000, "FOR_SALE")),
            ],
        ),
        (
            "a trusted faker",
            vec![
                at("faker", 0, 1.0, &home(225_000, "FOR_SALE")),
                at("a", 0, 0.3, &sale),
                at("b", 0, 0.3, &sale),
                at("c", 0, 0.3, &sale),
            ],
        ),
        (
            "coordinates a few metres apart",
            vec![
                at("a", 0, 0.5, &moved(302_000_000)),
                at("b", 0, 0.5, &moved(302_001_000)),
                at("c", 0, 0.5, &moved(302_002_000)),
                at("d", 0, 0.5, &moved(302_500_000)),
            ],
        ),
        (
            "a miner wrong on most fields",
            vec![
                at("x", 0, 0.9, &wrong),
                at("a", 0, 0.5, &sale),
                at("b", 0, 0.5, &home(450_000, "PENDING")),
            ],
        ),
        ("a tie", vec![at("a", 0, 0.5, &sale), at("b", 0, 0.5, &cut)]),
    ]
}

fn decisions() -> String {
    let registry = Registry::standard();
    let mut text = String::new();
    for name in ["v1", "v2", "v3"] {
        let algorithm = registry.build(name, &Params::new()).expect("standard");
        for (set, reports) in sets() {
            let decided = decide(algorithm.as_ref(), &reports);
            let _ = writeln!(text, "{name} | {set} | score {:.9}", decided.score);
            for field in &decided.fields {
                let values: Vec<String> = field
                    .values
                    .iter()
                    .map(|value| {
                        format!(
                            "{} {:.9} [{}]",
                            value.value,
                            value.confidence,
                            value.miners.join(" ")
                        )
                    })
                    .collect();
                let _ = writeln!(text, "  {}: {}", field.field.as_str(), values.join(" > "));
            }
            let agreement: Vec<String> = decided
                .agreement
                .iter()
                .map(|(miner, agreed, reported)| format!("{miner} {agreed}/{reported}"))
                .collect();
            let _ = writeln!(text, "  agreement: {}", agreement.join(", "));
        }
    }
    text
}

#[test]
fn each_algorithm_decides_the_fixed_sets_as_pinned() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/algorithms.txt");
    let actual = decisions();
    if std::env::var_os("RESI_BLESS_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).expect("golden decisions present");
    assert_eq!(
        expected, actual,
        "an algorithm's decisions changed: register it under a new name instead"
    );
}
