//! Whole datasets through bridge and parser: every object of the generator's manifest ends with
//! the outcome the manifest expects, and pandas-written files attest exactly what the
//! generator's own files attest.

use std::collections::BTreeMap;
use std::path::Path;

use resi_datagen::{Expected, GeneratorConfig, Sink};
use resi_events::EventPayload;

use resi_tests::harness::{Harness, Record, payloads, upload_outcomes};

/// What the log recorded for each key: (outcome, detail) — the parsed row count or the reason.
fn outcomes(uploads: &[Record], dead_letters: &[Record]) -> BTreeMap<String, Vec<Expected>> {
    let mut found: BTreeMap<String, Vec<Expected>> = BTreeMap::new();
    for payload in payloads(uploads).chain(payloads(dead_letters)) {
        let (key, outcome) = match payload {
            EventPayload::UploadParsed(parsed) => (
                parsed.key.clone(),
                Expected::Parsed {
                    rows: parsed.rows_read,
                },
            ),
            EventPayload::UploadRejected(rejected) => (
                rejected.key.clone(),
                Expected::Rejected {
                    reason: rejected.reason.as_str().to_owned(),
                },
            ),
            EventPayload::DeadLettered(dead) => match &dead.subject {
                resi_events::DeadLetterSubject::Upload { key, .. } => (
                    key.clone(),
                    Expected::DeadLettered {
                        reason: dead.reason.as_str().to_owned(),
                    },
                ),
                other => panic!("unexpected dead letter {other:?}"),
            },
            _ => continue,
        };
        found.entry(key).or_default().push(outcome);
    }
    found
}

#[tokio::test]
async fn every_generated_object_ends_with_its_expected_outcome() -> anyhow::Result<()> {
    // Arrange: good, careless and malicious miners and every bad input, in the bucket
    let stack = Harness::new().await?;
    let config = GeneratorConfig {
        seed: 23,
        honest_miners: 4,
        v2_miners: 1,
        listings: 120,
        areas: 4,
        zips_per_miner: 2,
        rounds: 2,
        flood_rows: 1_500,
        bad_inputs: true,
        ..GeneratorConfig::default()
    };
    let manifest = resi_datagen::generate(
        &config,
        &mut Sink::s3(stack.s3_client.clone(), stack.s3.bucket.clone()),
    )
    .await?;
    let expected: BTreeMap<String, Expected> = manifest
        .objects
        .iter()
        .filter(|object| object.expected != Expected::Companion)
        .map(|object| (object.key.clone(), object.expected.clone()))
        .collect();

    // Act
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    let done = upload_outcomes;
    let dead_expected = expected
        .values()
        .filter(|outcome| matches!(outcome, Expected::DeadLettered { .. }))
        .count();
    let dead_letters = stack
        .wait_for(
            &stack.topics.dead_letters(),
            "every dead letter",
            |records| records.len() >= dead_expected,
        )
        .await?;
    let uploads = stack
        .wait_for(&stack.topics.uploads(), "every outcome", |records| {
            done(records) + dead_expected >= expected.len()
        })
        .await?;
    parser.stop().await?;
    bridge.stop().await?;

    // Assert: one outcome per object, the expected one
    let found = outcomes(&uploads, &dead_letters);
    for (key, outcome) in &expected {
        assert_eq!(
            found.get(key),
            Some(&vec![outcome.clone()]),
            "outcome of {key}"
        );
    }
    assert_eq!(found.len(), expected.len(), "no outcome for anything else");
    let rate_limited: u64 = payloads(&uploads)
        .filter_map(|payload| match payload {
            EventPayload::UploadParsed(parsed) => Some(parsed.admission.rate_limited),
            _ => None,
        })
        .sum();
    assert!(
        rate_limited > 0,
        "the flood goes over the daily limit of a new miner"
    );
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Runs bridge and parser over a directory; the attestations per key as
/// (row index, listing id, content hash), sorted.
async fn attest_directory(
    root: &Path,
    files: usize,
) -> anyhow::Result<BTreeMap<String, Vec<(u64, String, String)>>> {
    let stack = Harness::new().await?;
    let source = format!("file://{}", root.display());
    let bridge = stack
        .spawn_bridge(&stack.bridge_config(&source, None))
        .await?;
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    stack
        .wait_for(&stack.topics.uploads(), "every file parsed", |records| {
            payloads(records)
                .filter(|payload| matches!(payload, EventPayload::UploadParsed(_)))
                .count()
                == files
        })
        .await?;
    parser.stop().await?;
    bridge.stop().await?;
    let mut attested: BTreeMap<String, Vec<(u64, String, String)>> = BTreeMap::new();
    for record in stack.read_all(&stack.topics.attestations()).await? {
        if let EventPayload::ListingAttested(attestation) = record.event.payload {
            attested.entry(attestation.key.clone()).or_default().push((
                attestation.row_index,
                attestation.listing.listing_id.clone(),
                attestation.content_hash.to_hex(),
            ));
        }
    }
    for rows in attested.values_mut() {
        rows.sort();
    }
    Ok(attested)
}

#[tokio::test]
async fn pandas_written_files_attest_exactly_what_generator_files_attest() -> anyhow::Result<()> {
    // Arrange: the generator's files, and the pandas fixtures beside the same metadata files,
    // each in a directory source
    let fixtures = resi_tests::workspace_root().join("tests/fixtures/pyarrow");
    let config: GeneratorConfig =
        serde_json::from_slice(&std::fs::read(fixtures.join("generator.json"))?)?;
    let generated = tempfile::tempdir()?;
    let manifest = resi_datagen::generate(
        &config,
        &mut Sink::Local {
            root: generated.path().to_owned(),
        },
    )
    .await?;
    let pandas = tempfile::tempdir()?;
    copy_tree(&fixtures.join("data"), &pandas.path().join("data"))?;
    for object in manifest
        .objects
        .iter()
        .filter(|object| object.format == "metadata")
    {
        std::fs::copy(
            generated.path().join(&object.key),
            pandas.path().join(&object.key),
        )?;
    }
    let files = manifest
        .objects
        .iter()
        .filter(|object| matches!(object.expected, Expected::Parsed { .. }))
        .count();

    // Act
    let from_generator = attest_directory(generated.path(), files).await?;
    let from_pandas = attest_directory(pandas.path(), files).await?;

    // Assert
    assert_eq!(from_generator.len(), files, "every file attested something");
    assert_eq!(from_pandas, from_generator);
    Ok(())
}
