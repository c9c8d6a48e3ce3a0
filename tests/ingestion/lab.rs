//! The consensus lab on a generated world: the attestation log exported as Parquet (read back by
//! DuckDB), algorithms run offline (the standard ones and one written here against the trait),
//! scored against the generator's truth and diffed.

use std::collections::BTreeMap;

use resi_datagen::{Expected, GeneratorConfig, Sink};
use resi_events::EventPayload;
use resi_lab::score::Scored;
use resi_projections::consensus::{
    ConsensusAlgorithm, Dataset, Field, FieldConsensus, ListingConsensus, MinerReport, Params,
    Registry, ValueSupport,
};
use resi_tests::harness::{Harness, Record, payloads, upload_outcomes};
use resi_tests::run_python;

/// A researcher's algorithm, written here against the trait: truth discovery across the whole
/// dataset (CRH), per field. Prices within 1 % of a group's smallest agree, other fields
/// exactly; a report weighs its trust × its miner's weight for the field, and a field's value is
/// the group of greatest weight (ties to the latest report), represented by its most weighted
/// exact value. `fit` learns the weights in five rounds: with the current decisions as truths, a
/// miner's loss d on a field is its smoothed share of wrong values over every listing it
/// reported, and its CRH weight ln(Σd / d); a miner keeps the full weight 1 unless its CRH
/// weight falls below half the typical (median) miner's, and then weighs their ratio. Miners of
/// like record so tie, and the tie goes to the latest report, as in v1.
#[derive(Clone, Default)]
struct GlobalTruth {
    weights: BTreeMap<(String, usize), f64>,
}

impl GlobalTruth {
    fn weight(&self, report: &MinerReport, slot: usize) -> f64 {
        report.trust.clamp(0.0, 1.0)
            * self
                .weights
                .get(&(report.miner.clone(), slot))
                .copied()
                .unwrap_or(1.0)
    }

    fn decide_listing(&self, reports: &[&MinerReport]) -> ListingConsensus {
        let mut reports = reports.to_vec();
        reports.sort_by(|left, right| left.miner.cmp(&right.miner));
        let mut fields = Vec::new();
        for (slot, field) in Field::ALL.into_iter().enumerate() {
            let mut reporting: Vec<(&str, &MinerReport)> = reports
                .iter()
                .filter_map(|report| report.values[slot].as_deref().map(|value| (value, *report)))
                .collect();
            if reporting.is_empty() {
                continue;
            }
            let number = |value: &str| value.parse::<f64>().unwrap_or(f64::NAN);
            reporting.sort_by(|left, right| {
                number(left.0)
                    .total_cmp(&number(right.0))
                    .then(left.0.cmp(right.0))
                    .then(left.1.miner.cmp(&right.1.miner))
            });
            let mut groups: Vec<Vec<(&str, &MinerReport)>> = Vec::new();
            for (value, report) in reporting.iter().copied() {
                let joins = groups.last().is_some_and(|group| {
                    if field == Field::Price {
                        let seed = number(group[0].0);
                        (number(value) - seed).abs() <= 0.01 * seed.abs()
                    } else {
                        group[0].0 == value
                    }
                });
                match groups.last_mut() {
                    Some(group) if joins => group.push((value, report)),
                    _ => groups.push(vec![(value, report)]),
                }
            }
            let mut values: Vec<ValueSupport> = groups
                .iter()
                .map(|group| {
                    // the exact value of greatest weight in the group, then the latest
                    let mut by_value: BTreeMap<&str, (f64, i64)> = BTreeMap::new();
                    for (value, report) in group {
                        let entry = by_value.entry(value).or_insert((0.0, i64::MIN));
                        entry.0 += self.weight(report, slot);
                        entry.1 = entry.1.max(report.reported_at);
                    }
                    let representative = by_value
                        .iter()
                        .max_by(|left, right| {
                            left.1
                                .0
                                .total_cmp(&right.1.0)
                                .then(left.1.1.cmp(&right.1.1))
                                .then(right.0.cmp(left.0))
                        })
                        .map(|(value, _)| (*value).to_owned())
                        .unwrap_or_default();
                    let mut miners: Vec<String> = group
                        .iter()
                        .map(|(_, report)| report.miner.clone())
                        .collect();
                    miners.sort();
                    let times = group.iter().map(|(_, report)| report.reported_at);
                    ValueSupport {
                        value: representative,
                        confidence: miners.len() as f64 / reporting.len() as f64,
                        miners,
                        support: group
                            .iter()
                            .fold(0.0, |sum, (_, report)| sum + self.weight(report, slot)),
                        first_reported: times.clone().min().unwrap_or_default(),
                        last_reported: times.max().unwrap_or_default(),
                    }
                })
                .collect();
            values.sort_by(|left, right| {
                right
                    .support
                    .total_cmp(&left.support)
                    .then(right.last_reported.cmp(&left.last_reported))
                    .then(left.value.cmp(&right.value))
            });
            fields.push(FieldConsensus { field, values });
        }
        let score = fields
            .iter()
            .filter_map(|field| field.chosen().map(|chosen| chosen.confidence))
            .sum::<f64>()
            / fields.len().max(1) as f64;
        let agreement = reports
            .iter()
            .map(|report| {
                let count = |chosen_only: bool| {
                    fields
                        .iter()
                        .filter(|field| {
                            let values = if chosen_only {
                                &field.values[..1]
                            } else {
                                &field.values[..]
                            };
                            values
                                .iter()
                                .any(|value| value.miners.contains(&report.miner))
                        })
                        .count()
                };
                let (agreed, reported) = (count(true), count(false));
                (
                    report.miner.clone(),
                    u32::try_from(agreed).unwrap_or(0),
                    u32::try_from(reported).unwrap_or(0),
                )
            })
            .collect();
        ListingConsensus {
            fields,
            miners: u32::try_from(reports.len()).unwrap_or(0),
            score,
            agreement,
        }
    }
}

impl ConsensusAlgorithm for GlobalTruth {
    fn name(&self) -> &str {
        "global_truth"
    }

    fn params(&self) -> Params {
        Params::new()
    }

    fn decide(&self, reports: &[&MinerReport]) -> ListingConsensus {
        self.decide_listing(reports)
    }

    fn fit(&self, listings: &dyn Dataset) -> Option<std::sync::Arc<dyn ConsensusAlgorithm>> {
        let mut fitted = Self::default();
        for _ in 0..5 {
            // per (miner, field): wrong values, values reported
            let mut counts: BTreeMap<(String, usize), (f64, f64)> = BTreeMap::new();
            listings.for_each(&mut |reports| {
                let borrowed: Vec<&MinerReport> = reports.iter().collect();
                for field in fitted.decide_listing(&borrowed).fields {
                    let slot = Field::ALL
                        .iter()
                        .position(|candidate| *candidate == field.field)
                        .unwrap_or_default();
                    for (rank, value) in field.values.iter().enumerate() {
                        for miner in &value.miners {
                            let entry = counts.entry((miner.clone(), slot)).or_default();
                            entry.0 += f64::from(u8::from(rank > 0));
                            entry.1 += 1.0;
                        }
                    }
                }
            });
            let mut weights = BTreeMap::new();
            for slot in 0..Field::ALL.len() {
                let losses: Vec<(&String, f64)> = counts
                    .iter()
                    .filter(|((_, field), _)| *field == slot)
                    .map(|((miner, _), (wrong, reported))| {
                        (miner, (wrong + 0.5) / (reported + 1.0))
                    })
                    .collect();
                let total: f64 = losses.iter().map(|(_, loss)| loss).sum();
                let raw: Vec<(&String, f64)> = losses
                    .into_iter()
                    .map(|(miner, loss)| (miner, (total / loss).ln().max(0.0)))
                    .collect();
                let mut sorted: Vec<f64> = raw.iter().map(|(_, weight)| *weight).collect();
                sorted.sort_by(f64::total_cmp);
                let typical = sorted.get(sorted.len() / 2).copied().unwrap_or(1.0);
                for (miner, weight) in raw {
                    let weight = if weight >= typical / 2.0 || typical <= 0.0 {
                        1.0
                    } else {
                        weight / typical
                    };
                    weights.insert((miner.clone(), slot), weight);
                }
            }
            fitted.weights = weights;
        }
        Some(std::sync::Arc::new(fitted))
    }
}

/// One row of the README's accuracy table: overall, each field, and the changed listings.
fn table(name: &str, scored: &Scored) -> String {
    let percent = |tally: Option<&resi_lab::score::Tally>| {
        tally.map_or_else(String::new, |tally| {
            format!("{:.2} %", tally.accuracy * 100.0)
        })
    };
    let fields: Vec<String> = resi_lab::score::SCORED
        .iter()
        .map(|field| percent(scored.fields.get(*field)))
        .collect();
    format!(
        "| {name} | {} | {} | {} | {} |",
        percent(Some(&scored.overall)),
        fields.join(" | "),
        percent(scored.changed.get("price")),
        percent(scored.changed.get("home_status")),
    )
}

#[tokio::test]
async fn a_new_algorithm_is_scored_offline_against_the_truth_and_diffed() -> anyhow::Result<()> {
    // Arrange: a world with careless and price-faking miners and listings that change, through
    // bridge and parser onto the log
    let stack = Harness::new().await?;
    let config = GeneratorConfig {
        seed: 41,
        honest_miners: 8,
        fake_price_miners: 1,
        listings: 400,
        areas: 4,
        zips_per_miner: 3,
        rounds: 4,
        change_rate: 0.3,
        flood_miners: 0,
        bad_inputs: false,
        ..GeneratorConfig::default()
    };
    let scratch = tempfile::tempdir()?;
    let generated = scratch.path().join("generated");
    // and a crafted listing: four miners reported last month's price, two today's
    let attested = world_on_the_log(&stack, &config, &generated).await?;

    // Act: export the log, read it back with DuckDB
    let export = scratch.path().join("export");
    let exported =
        resi_lab::export(&stack.kafka, &export, &resi_lab::export::Slice::default()).await?;
    assert_eq!(exported.attestations, attested);
    assert_eq!(exported.undecodable, 0);
    let seen = run_python("lab_export.py", &[&export.display().to_string()])?;
    assert_eq!(seen["rows"].as_u64(), Some(attested));
    assert!(seen["dates"].as_u64().is_some_and(|dates| dates >= 1));

    // Act: run v1, v2, v3 and the algorithm above, score each against the truth
    let truth = generated.join(resi_datagen::TRUTH_KEY);
    let registry = Registry::standard();
    let mut scores: BTreeMap<String, Scored> = BTreeMap::new();
    let algorithms: Vec<(String, Box<dyn ConsensusAlgorithm>)> = vec![
        (
            "v1".into(),
            Box::new(Arc(registry.build("v1", &Params::new())?)),
        ),
        (
            "v2".into(),
            Box::new(Arc(registry.build("v2", &Params::new())?)),
        ),
        (
            "v3".into(),
            Box::new(Arc(registry.build("v3", &Params::new())?)),
        ),
        ("global_truth".into(), Box::new(GlobalTruth::default())),
    ];
    for (name, algorithm) in &algorithms {
        let (ran, scored) = decide_and_score(
            name,
            algorithm.as_ref(),
            &export,
            scratch.path(),
            &generated,
        )?;
        assert_eq!(ran.attestations, attested);
        scores.insert(name.clone(), scored);
    }

    // Assert: the algorithm written here is right more often than v1 on the listings whose
    // price changed, and no less often on any field, on changed listings or per miner type
    let (v1, ours) = (&scores["v1"], &scores["global_truth"]);
    assert!(ours.changed["price"].accuracy > v1.changed["price"].accuracy);
    assert!(ours.fields["price"].accuracy > v1.fields["price"].accuracy);
    let pairs = |scored: &Scored| -> Vec<(String, f64)> {
        let prefixed = |prefix: &str, tallies: &BTreeMap<String, resi_lab::score::Tally>| {
            tallies
                .iter()
                .map(|(name, tally)| (format!("{prefix} {name}"), tally.accuracy))
                .collect::<Vec<_>>()
        };
        let mut all = prefixed("field", &scored.fields);
        all.extend(prefixed("changed", &scored.changed));
        all.extend(prefixed("miner type", &scored.miner_types));
        all
    };
    for ((name, theirs), (_, mine)) in pairs(v1).into_iter().zip(pairs(ours)) {
        assert!(mine >= theirs, "{name}: {mine} < v1's {theirs}");
    }
    assert_eq!(
        v1.miner_types.keys().collect::<Vec<_>>(),
        ["duplicate_rows", "fake_prices", "honest", "wrong_zips"]
    );
    assert!(v1.truth_listings == config.listings && v1.decided_listings == config.listings);
    // confident decisions are the right ones: v1's most confident bin beats its least
    let bins: Vec<f64> = v1
        .calibration
        .iter()
        .filter(|bin| bin.tally.decided > 0)
        .map(|bin| bin.tally.accuracy)
        .collect();
    assert!(bins.len() >= 2 && bins.last() > bins.first(), "{bins:?}");
    // the report: one page, its charts inline, nothing fetched
    let sets: Vec<(String, Scored)> = scores.clone().into_iter().collect();
    let page = resi_lab::report::html("lab", &sets)?;
    assert_eq!(page.matches("<svg").count(), 3);
    for name in scores.keys() {
        assert!(
            page.contains(&format!("<th>{name}</th>")),
            "{name} in the table"
        );
    }
    for fetch in ["src=", "href=", "<script", "<link", "url("] {
        assert!(!page.contains(fetch), "the page fetches nothing: {fetch}");
    }

    // Act: v1 against v2 as it stands
    let v2_path = scratch.path().join("v2.parquet");
    let v1_path = scratch.path().join("v1.parquet");
    let standard = resi_lab::diff(&v1_path, &v2_path, Some(&export), 5, 3)?;
    // Assert: the crafted listing is listed, and every difference is explained by the truth:
    // a listing the generator changed under the miners, or one where one of the two
    // decisions is wrong (v2 follows a careless miner's newer report, say)
    let true_listings = resi_lab::score::read_truth(&truth)?;
    let (v1_decisions, v2_decisions) = (
        resi_lab::decisions::read(&v1_path)?,
        resi_lab::decisions::read(&v2_path)?,
    );
    assert!(standard.changed_listings.contains(&"2077".to_owned()));
    for listing in standard.changed_listings.iter().filter(|id| *id != "2077") {
        let explained = true_listings[listing].changed
            || resi_lab::score::SCORED.iter().any(|field| {
                let judged = |decisions| judge(decisions, &true_listings, listing, field);
                let (a, b) = (judged(&v1_decisions), judged(&v2_decisions));
                a.value != b.value && (a.right == Some(false) || b.right == Some(false))
            });
        assert!(
            explained,
            "listing {listing} differs for no reason the truth gives"
        );
    }

    // Act: v1 against v2 whose reports halve their weight every hour
    let hourly: Params = [("half_life_hours".to_owned(), "1".to_owned())].into();
    let v2_hourly = scratch.path().join("v2_hourly.parquet");
    resi_lab::run(registry.build("v2", &hourly)?.as_ref(), &export, &v2_hourly)?;
    let diffed = resi_lab::diff(&v1_path, &v2_hourly, Some(&export), 5, 3)?;
    // Assert: the crafted listing is among the differences, and each listing listed is one whose
    // decisions differ in the files, field by field
    assert!(
        diffed.changed_listings.contains(&"2077".to_owned()),
        "{diffed:?}"
    );
    let (a, b) = (
        resi_lab::decisions::read(&v1_path)?,
        resi_lab::decisions::read(&v2_hourly)?,
    );
    let differing: std::collections::BTreeSet<&String> = a
        .iter()
        .filter(|(key, decision)| {
            b.get(*key)
                .is_none_or(|other| other.value != decision.value)
        })
        .map(|((listing, _), _)| listing)
        .collect();
    assert_eq!(
        diffed
            .changed_listings
            .iter()
            .collect::<std::collections::BTreeSet<_>>(),
        differing
    );
    let price = &diffed.fields["price"];
    assert!(
        price.changed > 0
            && price
                .mean_relative_change
                .is_some_and(|change| change > 0.0)
    );
    assert_eq!(diffed.examples.len(), 5);
    assert!(!diffed.movers.is_empty() && diffed.movers.len() <= 3);
    // and a decision set against itself differs nowhere
    let same = resi_lab::diff(&v1_path, &v1_path, None, 5, 3)?;
    assert!(same.changed_listings.is_empty() && same.fields.is_empty());
    Ok(())
}

#[tokio::test]
async fn where_stale_reports_outlive_a_change_v1_and_v2_differ_on_exactly_the_changed_listings()
-> anyhow::Result<()> {
    // Arrange: a market that moves: rounds a week apart, a third of the listings changing, and
    // miners that re-scrape a changed listing only one time in four, so the reports made before
    // a change often outnumber those made after. Every miner reports what it sees, without
    // mistakes, so that the only reason to disagree is time.
    let stack = Harness::new().await?;
    let config = GeneratorConfig {
        seed: 43,
        honest_miners: 8,
        fake_price_miners: 0,
        duplicate_miners: 0,
        wrong_zip_miners: 0,
        flood_miners: 0,
        disagreement_rate: 0.0,
        listings: 400,
        areas: 4,
        zips_per_miner: 3,
        reports_per_listing: 4,
        rounds: 4,
        round_hours: 168,
        change_rate: 0.3,
        rescrape_rate: 0.25,
        bad_inputs: false,
        ..GeneratorConfig::default()
    };
    let scratch = tempfile::tempdir()?;
    let generated = scratch.path().join("generated");
    // and the crafted listing: four miners reported last month's price, two today's
    world_on_the_log(&stack, &config, &generated).await?;
    let export = scratch.path().join("export");
    resi_lab::export(&stack.kafka, &export, &resi_lab::export::Slice::default()).await?;

    // Act: decide with v1 and v2 (a week's half-life), score both, diff them
    let registry = Registry::standard();
    let mut scores = BTreeMap::new();
    for name in ["v1", "v2", "v3"] {
        let algorithm = registry.build(name, &Params::new())?;
        let (_, scored) = decide_and_score(
            name,
            algorithm.as_ref(),
            &export,
            scratch.path(),
            &generated,
        )?;
        scores.insert(name, scored);
    }
    let (v1_path, v2_path) = (
        scratch.path().join("v1.parquet"),
        scratch.path().join("v2.parquet"),
    );
    let diffed = resi_lab::diff(&v1_path, &v2_path, Some(&export), 5, 3)?;

    // Assert: the diff lists the crafted listing and otherwise only listings the generator
    // changed, and on each of those v1 kept what the listing was before while v2 has what it
    // is now: the reports that outnumber the change are older than it
    let truths = resi_lab::score::read_truth(&generated.join(resi_datagen::TRUTH_KEY))?;
    let (v1, v2) = (
        resi_lab::decisions::read(&v1_path)?,
        resi_lab::decisions::read(&v2_path)?,
    );
    assert!(diffed.changed_listings.contains(&"2077".to_owned()));
    let listed: Vec<&String> = diffed
        .changed_listings
        .iter()
        .filter(|listing| *listing != "2077")
        .collect();
    for listing in &listed {
        assert!(truths[*listing].changed, "listing {listing} never changed");
        for field in resi_lab::score::SCORED {
            let (a, b) = (
                judge(&v1, &truths, listing, field),
                judge(&v2, &truths, listing, field),
            );
            if a.value != b.value {
                assert_eq!(
                    (a.right, b.right),
                    (Some(false), Some(true)),
                    "listing {listing}, {field}: v1 {:?}, v2 {:?}",
                    a.value,
                    b.value
                );
            }
        }
    }
    // and conversely, every listing the generator changed on which v1 kept the old value and v2
    // has the new one is listed: the diff is exactly those and the crafted listing
    let mut expected: std::collections::BTreeSet<&String> = truths
        .iter()
        .filter(|(listing, truth)| {
            truth.changed
                && resi_lab::score::SCORED.iter().any(|field| {
                    let (a, b) = (
                        judge(&v1, &truths, listing, field),
                        judge(&v2, &truths, listing, field),
                    );
                    (a.right, b.right) == (Some(false), Some(true))
                })
        })
        .map(|(listing, _)| listing)
        .collect();
    let crafted = "2077".to_owned();
    expected.insert(&crafted);
    assert_eq!(
        diffed
            .changed_listings
            .iter()
            .collect::<std::collections::BTreeSet<_>>(),
        expected
    );
    assert!(
        listed.len() >= 10,
        "{} changed listings listed",
        listed.len()
    );
    let (first, second) = (&scores["v1"], &scores["v2"]);
    assert!(second.changed["price"].accuracy > first.changed["price"].accuracy);
    for (field, tally) in &first.fields {
        assert!(second.fields[field].accuracy >= tally.accuracy, "{field}");
    }
    Ok(())
}

/// Runs `algorithm` over the export into `{dir}/{name}.parquet` and scores the decisions
/// against the generated world's truth, printing the accuracy table's row.
fn decide_and_score(
    name: &str,
    algorithm: &dyn ConsensusAlgorithm,
    export: &std::path::Path,
    dir: &std::path::Path,
    generated: &std::path::Path,
) -> anyhow::Result<(resi_lab::run::Ran, Scored)> {
    let output = dir.join(format!("{name}.parquet"));
    let ran = resi_lab::run(algorithm, export, &output)?;
    let scored = resi_lab::score(
        &output,
        &generated.join(resi_datagen::TRUTH_KEY),
        Some((&generated.join(resi_datagen::MANIFEST_KEY), export)),
    )?;
    eprintln!("{}", table(name, &scored));
    Ok((ran, scored))
}

/// A decision set's value for one field of a listing, and whether the truth says it is right
/// (`None`: nothing decided, or nothing the truth can judge).
struct Judged<'d> {
    value: Option<&'d str>,
    right: Option<bool>,
}

fn judge<'d>(
    decisions: &'d resi_lab::decisions::Decisions,
    truths: &BTreeMap<String, resi_lab::score::Truth>,
    listing: &str,
    field: &str,
) -> Judged<'d> {
    let value = decisions
        .get(&(listing.to_owned(), field.to_owned()))
        .map(|decision| decision.value.as_str());
    Judged {
        value,
        right: value.and_then(|value| resi_lab::score::right(field, value, &truths[listing])),
    }
}

/// Writes a generated world, uploads it, has bridge and parser put it on the log, and adds the
/// crafted listing; returns how many attestations the log then holds.
async fn world_on_the_log(
    stack: &Harness,
    config: &GeneratorConfig,
    generated: &std::path::Path,
) -> anyhow::Result<u64> {
    let manifest = resi_datagen::generate(
        config,
        &mut Sink::Local {
            root: generated.to_owned(),
        },
    )
    .await?;
    let mut s3 = Sink::s3(stack.s3_client.clone(), stack.s3.bucket.clone());
    let objects: Vec<_> = manifest
        .objects
        .iter()
        .filter(|object| object.expected != Expected::Companion)
        .collect();
    for object in &manifest.objects {
        s3.put(&object.key, std::fs::read(generated.join(&object.key))?)
            .await?;
    }
    s3.finish().await?;
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    stack
        .wait_for(
            &stack.topics.uploads(),
            "every upload parsed",
            |records: &[Record]| upload_outcomes(records) >= objects.len(),
        )
        .await?;
    parser.stop().await?;
    bridge.stop().await?;
    let producer = resi_runtime::kafka::producer(&stack.kafka)?;
    for event in &crafted_listing() {
        let delivery =
            resi_runtime::kafka::enqueue(&producer, &stack.topics.attestations(), event).await?;
        resi_runtime::kafka::delivered(delivery).await?;
    }
    Ok(
        payloads(&stack.read_all(&stack.topics.attestations()).await?)
            .filter(|payload| matches!(payload, EventPayload::ListingAttested(_)))
            .count() as u64,
    )
}

/// Listing 2077: four miners reported last month's price and status, two report today's.
fn crafted_listing() -> Vec<resi_events::Event> {
    const DAY: i64 = 24 * 3_600 * 1_000_000;
    let today = chrono::Utc::now().timestamp_micros();
    let listing = |price: i64, status: &str| resi_events::CanonicalListing {
        listing_id: "2077".into(),
        price_usd: Some(price),
        home_status: Some(status.into()),
        zip_code: Some("78702".into()),
        ..resi_events::CanonicalListing::default()
    };
    let old = [
        "5CraftedOld1",
        "5CraftedOld2",
        "5CraftedOld3",
        "5CraftedOld4",
    ]
    .into_iter()
    .map(|miner| {
        resi_tests::events::report(
            miner,
            ("old", 0),
            today - 30 * DAY,
            0.6,
            listing(450_000, "FOR_SALE"),
        )
    });
    let new = ["5CraftedNew1", "5CraftedNew2"].into_iter().map(|miner| {
        resi_tests::events::report(miner, ("new", 0), today, 0.6, listing(425_000, "PENDING"))
    });
    old.chain(new).collect()
}

/// A shared algorithm, boxed like a researcher's own.
struct Arc(std::sync::Arc<dyn ConsensusAlgorithm>);

impl ConsensusAlgorithm for Arc {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn params(&self) -> Params {
        self.0.params()
    }
    fn decide(&self, reports: &[&MinerReport]) -> ListingConsensus {
        self.0.decide(reports)
    }
}
