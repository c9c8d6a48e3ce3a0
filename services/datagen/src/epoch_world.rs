//! An epoch world: one epoch's assignment worked by miners of every kind the scores must tell
//! apart, and the results validators publish about them.
//!
//! * **honest**: every listing of every regular zipcode, as it is;
//! * **lazy**: the first regular zipcode only;
//! * **late**: what an honest miner reports, uploaded after the deadline (the caller decides
//!   when the upload happens: [`Upload::late`] marks it);
//! * **duplicating**: every listing, a third of them twice in the same document;
//! * **colluding**: every listing with the same made-up prices as its partners;
//! * **fabricating**: what an honest miner reports, plus listings in a honeypot zipcode.
//!
//! Validators score miners by what they know the miners did: the **agreeing** ones give
//! fabricators 0 and everyone else a score by kind; the **lying** one says the opposite.

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use crate::json_files;
use crate::report::Report;

/// What a miner does with its assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Behaviour {
    /// Every listing as it is.
    Honest,
    /// One zipcode only.
    Lazy,
    /// Honest work, uploaded after the deadline.
    Late,
    /// Every listing, some twice.
    Duplicating,
    /// Made-up prices, the same as its partners'.
    Colluding,
    /// Honest work plus listings in a honeypot.
    Fabricating,
}

/// A miner of the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochMiner {
    /// Its hotkey (SS58-shaped).
    pub hotkey: String,
    /// What it does.
    pub behaviour: Behaviour,
}

/// The world's standard cast: four honest miners, and one of every other kind (two colluders).
#[must_use]
pub fn standard_miners() -> Vec<EpochMiner> {
    let miner = |name: &str, behaviour| EpochMiner {
        // 48 base58 characters: the shape of an SS58 address
        hotkey: format!("5{name:a<46}9"),
        behaviour,
    };
    vec![
        miner("HonestA", Behaviour::Honest),
        miner("HonestB", Behaviour::Honest),
        miner("HonestC", Behaviour::Honest),
        miner("HonestD", Behaviour::Honest),
        miner("Lazy", Behaviour::Lazy),
        miner("Late", Behaviour::Late),
        miner("Repeater", Behaviour::Duplicating),
        miner("CoopA", Behaviour::Colluding),
        miner("CoopB", Behaviour::Colluding),
        miner("Fabricating", Behaviour::Fabricating),
    ]
}

/// A zipcode of the assignment with where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct AssignedZipcode {
    /// Five digits.
    pub zipcode: String,
    /// Listings the assignment expects.
    pub expected: u32,
    /// Its reference point (latitude, longitude).
    pub place: (f64, f64),
}

/// One document to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// The miner.
    pub miner: String,
    /// Its key in the miners' bucket (the upload helper's doubled folder).
    pub key: String,
    /// The document.
    pub body: Vec<u8>,
    /// Whether it is to be uploaded after the deadline.
    pub late: bool,
}

/// The listings of a zipcode as they are. Ids are the zipcode's own range, so epochs that
/// assign a zipcode again see the same listings.
fn truth(zipcode: &AssignedZipcode, count: u32, scraped_at: NaiveDateTime) -> Vec<Report> {
    let base = zipcode.zipcode.parse::<u64>().unwrap_or_default() * 1_000 + 500_000_000;
    (0..u64::from(count))
        .map(|index| {
            let zpid = base + index;
            Report {
                zpid,
                street: format!("{} Elm Street", 100 + index),
                city: "Springfield".into(),
                state: "TX".into(),
                zip: zipcode.zipcode.clone(),
                price: Some(200_000 + i64::try_from(index).unwrap_or_default() * 1_000),
                bedrooms: Some(3),
                bathrooms: Some(2.0),
                living_area: Some(1_500),
                home_type: "SINGLE_FAMILY".into(),
                home_status: "FOR_SALE".into(),
                days_on_market: Some(7),
                latitude: Some(zipcode.place.0),
                longitude: Some(zipcode.place.1),
                listing_date: NaiveDate::from_ymd_opt(2025, 9, 1).unwrap_or_default(),
                mls_id: format!("MLS{zpid}"),
                scraped_at,
            }
        })
        .collect()
}

/// Every miner's documents for `epoch_id`: one per zipcode it works, `scraped_at` its scrape
/// time.
pub fn uploads(
    epoch_id: &str,
    regular: &[AssignedZipcode],
    honeypot: &AssignedZipcode,
    miners: &[EpochMiner],
    scraped_at: NaiveDateTime,
) -> anyhow::Result<Vec<Upload>> {
    let mut uploads = Vec::new();
    for miner in miners {
        let mut zipcodes: Vec<(&AssignedZipcode, Vec<Value>)> = Vec::new();
        for (index, zipcode) in regular.iter().enumerate() {
            if miner.behaviour == Behaviour::Lazy && index > 0 {
                continue;
            }
            let reports = truth(zipcode, zipcode.expected, scraped_at);
            let listings: Vec<Value> = match miner.behaviour {
                Behaviour::Colluding => reports
                    .iter()
                    .map(|report| {
                        let mut made_up = report.clone();
                        made_up.price = report.price.map(|price| price + 75_000);
                        json_files::real_listing(&made_up)
                    })
                    .collect(),
                Behaviour::Duplicating => reports
                    .iter()
                    .chain(reports.iter().step_by(3))
                    .map(json_files::real_listing)
                    .collect(),
                _ => reports.iter().map(json_files::real_listing).collect(),
            };
            zipcodes.push((zipcode, listings));
        }
        if miner.behaviour == Behaviour::Fabricating {
            let made_up = truth(honeypot, 10, scraped_at);
            zipcodes.push((
                honeypot,
                made_up.iter().map(json_files::real_listing).collect(),
            ));
        }
        for (zipcode, listings) in zipcodes {
            let document = json_files::document(
                epoch_id,
                &zipcode.zipcode,
                &miner.hotkey,
                scraped_at,
                listings,
            );
            uploads.push(Upload {
                miner: miner.hotkey.clone(),
                key: json_files::key(
                    &miner.hotkey,
                    epoch_id,
                    &zipcode.zipcode,
                    "data_20251021_091500.json",
                    true,
                ),
                body: json_files::bytes(&document)?,
                late: miner.behaviour == Behaviour::Late,
            });
        }
    }
    Ok(uploads)
}

/// The total an agreeing validator gives a kind of miner.
#[must_use]
pub const fn fair_score(behaviour: Behaviour) -> f64 {
    match behaviour {
        Behaviour::Honest => 0.9,
        Behaviour::Duplicating => 0.7,
        Behaviour::Late => 0.6,
        Behaviour::Lazy => 0.4,
        Behaviour::Colluding => 0.3,
        Behaviour::Fabricating => 0.0,
    }
}

/// A validator's results document (seed 003's format) for `epoch_id`: fair scores, or, from a
/// lying validator, fabricators 1 and everyone else 0.
#[must_use]
pub fn validator_results(
    epoch_id: &str,
    validator: &str,
    miners: &[EpochMiner],
    lying: bool,
) -> Vec<u8> {
    let results: serde_json::Map<String, Value> = miners
        .iter()
        .map(|miner| {
            let total = match (lying, miner.behaviour) {
                (false, behaviour) => fair_score(behaviour),
                (true, Behaviour::Fabricating) => 1.0,
                (true, _) => 0.0,
            };
            (
                miner.hotkey.clone(),
                json!({"score": {"data_quality": total, "accuracy": total,
                                 "completeness": total, "timeliness": total,
                                 "total_score": total}}),
            )
        })
        .collect();
    serde_json::to_vec_pretty(&json!({
        "epoch_id": epoch_id,
        "validator_hotkey": validator,
        "validation_timestamp": "2025-10-01T20:30:00.000Z",
        "validation_results": results,
        "summary": {"total_miners": miners.len(), "average_score": 0.5, "top_performers": []},
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_does_what_it_says() {
        let scraped = NaiveDate::from_ymd_opt(2025, 10, 1)
            .and_then(|day| day.and_hms_opt(12, 0, 0))
            .unwrap_or_default();
        let regular = [
            AssignedZipcode {
                zipcode: "19103".into(),
                expected: 9,
                place: (39.95, -75.17),
            },
            AssignedZipcode {
                zipcode: "19104".into(),
                expected: 6,
                place: (39.96, -75.19),
            },
        ];
        let honeypot = AssignedZipcode {
            zipcode: "19101".into(),
            expected: 0,
            place: (39.95, -75.16),
        };
        let miners = standard_miners();
        assert!(
            miners
                .iter()
                .all(|miner| resi_events::layout::is_ss58_shaped(&miner.hotkey))
        );
        let uploads =
            uploads("2025-10-01T16-00-00", &regular, &honeypot, &miners, scraped).expect("uploads");
        let of = |behaviour: Behaviour| {
            let hotkey = &miners
                .iter()
                .find(|miner| miner.behaviour == behaviour)
                .expect("cast")
                .hotkey;
            uploads
                .iter()
                .filter(|upload| &upload.miner == hotkey)
                .collect::<Vec<_>>()
        };
        let listings = |upload: &Upload| -> Vec<Value> {
            serde_json::from_slice::<Value>(&upload.body).expect("json")["listings"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(of(Behaviour::Honest).len(), 2);
        assert_eq!(of(Behaviour::Lazy).len(), 1);
        assert!(of(Behaviour::Late).iter().all(|upload| upload.late));
        assert_eq!(listings(of(Behaviour::Duplicating)[0]).len(), 9 + 3);
        let fabricated = of(Behaviour::Fabricating);
        assert_eq!(fabricated.len(), 3);
        assert!(
            fabricated
                .iter()
                .any(|upload| upload.key.contains("zipcode=19101"))
        );
        let honest_price = &listings(of(Behaviour::Honest)[0])[0]["price"];
        let colluding: Vec<Value> = miners
            .iter()
            .filter(|miner| miner.behaviour == Behaviour::Colluding)
            .map(|miner| {
                listings(
                    uploads
                        .iter()
                        .find(|upload| upload.miner == miner.hotkey)
                        .expect("upload"),
                )[0]["price"]
                    .clone()
            })
            .collect();
        assert_eq!(colluding[0], colluding[1], "colluders agree");
        assert_ne!(&colluding[0], honest_price);
        let lying: Value =
            serde_json::from_slice(&validator_results("e", "v", &miners, true)).expect("json");
        let fair: Value =
            serde_json::from_slice(&validator_results("e", "v", &miners, false)).expect("json");
        let fabricator = &fabricated[0].miner;
        assert_eq!(
            lying["validation_results"][fabricator]["score"]["total_score"],
            1.0
        );
        assert_eq!(
            fair["validation_results"][fabricator]["score"]["total_score"],
            0.0
        );
    }
}
