//! The generator's output, read back with pyarrow, matches its manifest: every file is where
//! the layout says, with the rows the manifest (and the file name) declares.

use std::collections::BTreeMap;

use resi_datagen::parquet_files::{V1_COLUMNS, V1_EMPTY_IN_REAL_FILES, V2_COLUMNS};
use resi_datagen::{Behaviour, Expected, GeneratorConfig, MANIFEST_KEY, Manifest, Shape, Sink};
use resi_events::layout::{KeyError, UploadKey, parse_upload_key};
use resi_tests::{fresh_bucket, run_python};
use serde_json::Value;

fn small_config() -> GeneratorConfig {
    GeneratorConfig {
        seed: 11,
        honest_miners: 6,
        v2_miners: 1,
        epoch_json_miners: 2,
        real_v1_miners: 2,
        listings: 150,
        areas: 4,
        zips_per_miner: 2,
        rounds: 4,
        flood_rows: 300,
        bad_inputs: true,
        ..GeneratorConfig::default()
    }
}

/// Checks what pyarrow saw against the manifest; returns the rows pyarrow counted per format.
fn check_against_manifest(
    manifest: &Manifest,
    seen: &BTreeMap<String, Value>,
) -> BTreeMap<String, u64> {
    let mut expected_keys: Vec<&str> = manifest
        .objects
        .iter()
        .map(|object| object.key.as_str())
        .collect();
    expected_keys.push(MANIFEST_KEY);
    expected_keys.push(resi_datagen::TRUTH_KEY);
    expected_keys.sort_unstable();
    let seen_keys: Vec<&str> = seen
        .keys()
        .map(String::as_str)
        .filter(|key| !key.starts_with("_resi/rows/"))
        .collect();
    assert_eq!(
        seen_keys, expected_keys,
        "the store holds exactly the manifest's objects"
    );

    let mut rows_by_format = BTreeMap::new();
    for object in &manifest.objects {
        let found = &seen[&object.key];
        let is_good = matches!(object.expected, Expected::Parsed { .. });
        match (&object.expected, parse_upload_key("data/", &object.key)) {
            (Expected::DeadLettered { reason }, _) if reason == "corrupt_file" => {
                assert!(
                    found.get("error").is_some(),
                    "{} must not be readable: {found}",
                    object.key
                );
                continue;
            }
            (Expected::Rejected { reason }, Err(KeyError::Unparseable(_))) => {
                assert_eq!(reason, "unparseable_path", "{}", object.key)
            }
            (Expected::Rejected { reason }, Err(KeyError::HotkeyMismatch { .. })) => {
                assert_eq!(reason, "hotkey_mismatch", "{}", object.key)
            }
            (Expected::Rejected { reason }, other) => {
                assert!(
                    reason.starts_with("metadata_"),
                    "{}: {reason} with layout {other:?}",
                    object.key
                );
            }
            (
                _,
                Ok(UploadKey::V1 {
                    hotkey,
                    declared_count,
                    ..
                }),
            ) => {
                assert_eq!(hotkey, object.miner);
                if object.behaviour != Behaviour::BadInputs {
                    assert_eq!(
                        declared_count, object.rows,
                        "{}: the file name declares its row count",
                        object.key
                    );
                }
            }
            (
                _,
                Ok(UploadKey::V2Listings {
                    hotkey,
                    metadata_key,
                    ..
                }),
            ) => {
                assert_eq!(hotkey, object.miner);
                assert!(
                    !is_good || seen.contains_key(&metadata_key),
                    "{} has its metadata.json",
                    object.key
                );
            }
            (
                _,
                Ok(UploadKey::EpochJson {
                    hotkey, zipcode, ..
                }),
            ) => {
                assert_eq!(hotkey, object.miner);
                if is_good {
                    assert_eq!(found["miner_hotkey"], hotkey.as_str(), "{}", object.key);
                    assert_eq!(found["zipcode"], zipcode.as_str(), "{}", object.key);
                }
            }
            (Expected::Companion, Ok(UploadKey::V2Metadata { .. })) => continue,
            (expected, other) => panic!("{}: {expected:?} with layout {other:?}", object.key),
        }
        if object.format == "metadata" {
            continue;
        }
        let rows = found["rows"]
            .as_u64()
            .unwrap_or_else(|| panic!("pyarrow read {}: {found}", object.key));
        assert_eq!(rows, object.rows, "{} row count", object.key);
        let columns: Vec<&str> = found["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let shape = manifest
            .miners
            .iter()
            .find(|miner| miner.hotkey == object.miner)
            .map(|miner| miner.shape);
        if is_good && object.format != "epoch_json" {
            let schema: &[&str] = if object.format == "v1" {
                &V1_COLUMNS
            } else {
                &V2_COLUMNS
            };
            assert_eq!(columns, schema, "{} columns", object.key);
        }
        // what pandas writes for columns without a value: the null type
        let null_columns: &[&str] = match shape {
            Some(Shape::V1Real) => &V1_EMPTY_IN_REAL_FILES,
            Some(Shape::V1Nested) => &V1_COLUMNS[3..],
            _ => &[],
        };
        for column in null_columns {
            let position = columns
                .iter()
                .position(|name| name == column)
                .unwrap_or_else(|| panic!("{} has {column}", object.key));
            assert_eq!(found["types"][position], "null", "{} {column}", object.key);
        }
        *rows_by_format.entry(object.format.clone()).or_default() += rows;
    }
    rows_by_format
}

#[tokio::test]
async fn a_dataset_in_s3_reads_back_with_pyarrow() -> anyhow::Result<()> {
    // Arrange
    let (s3, client) = fresh_bucket().await?;
    let config = small_config();

    // Act
    let manifest =
        resi_datagen::generate(&config, &mut Sink::s3(client, s3.bucket.clone())).await?;
    let endpoint = s3.endpoint.clone().unwrap_or_default();
    let seen: BTreeMap<String, Value> = serde_json::from_value(run_python(
        "read_parquet.py",
        &["s3", &endpoint, &s3.bucket],
    )?)?;

    // Assert
    let rows = check_against_manifest(&manifest, &seen);
    for format in ["v1", "v2", "epoch_json"] {
        assert!(
            rows.get(format).copied().unwrap_or(0) > 0,
            "{format}: {rows:?}"
        );
    }
    let shapes: Vec<Shape> = manifest.miners.iter().map(|miner| miner.shape).collect();
    for wanted in [
        Shape::V1,
        Shape::V1Real,
        Shape::V1Nested,
        Shape::V2,
        Shape::EpochJson,
    ] {
        assert!(shapes.contains(&wanted), "{wanted:?} miner present");
    }
    let behaviours: Vec<Behaviour> = manifest
        .miners
        .iter()
        .map(|miner| miner.behaviour)
        .collect();
    for wanted in [
        Behaviour::Honest,
        Behaviour::FakePrices,
        Behaviour::DuplicateRows,
        Behaviour::Flood,
        Behaviour::WrongZips,
        Behaviour::NestedSchema,
        Behaviour::MockScraper,
    ] {
        assert!(behaviours.contains(&wanted), "{wanted:?} miner present");
    }
    let flood = manifest
        .objects
        .iter()
        .find(|object| object.behaviour == Behaviour::Flood && object.rows == 300);
    assert!(flood.is_some(), "the flood file has flood_rows rows");
    let reasons: Vec<&Expected> = manifest
        .objects
        .iter()
        .filter(|o| o.behaviour == Behaviour::BadInputs)
        .map(|o| &o.expected)
        .collect();
    for reason in ["corrupt_file", "wrong_schema"] {
        assert!(
            reasons.contains(&&Expected::DeadLettered {
                reason: reason.into()
            }),
            "{reason}"
        );
    }
    for reason in [
        "unparseable_path",
        "hotkey_mismatch",
        "metadata_miner_mismatch",
        "metadata_missing",
        "metadata_invalid",
    ] {
        assert!(
            reasons.contains(&&Expected::Rejected {
                reason: reason.into()
            }),
            "{reason}"
        );
    }
    assert!(
        reasons.contains(&&Expected::Parsed { rows: 0 }),
        "a zero-row file"
    );
    Ok(())
}

#[tokio::test]
async fn a_dataset_on_disk_with_a_huge_file_reads_back_with_pyarrow() -> anyhow::Result<()> {
    // Arrange
    let directory = tempfile::tempdir()?;
    let config = GeneratorConfig {
        huge_file_rows: 1_000_000,
        row_group_rows: 131_072,
        ..small_config()
    };

    // Act
    let manifest = resi_datagen::generate(
        &config,
        &mut Sink::Local {
            root: directory.path().to_owned(),
        },
    )
    .await?;
    let root = directory.path().to_string_lossy().into_owned();
    let seen: BTreeMap<String, Value> =
        serde_json::from_value(run_python("read_parquet.py", &["dir", &root])?)?;

    // Assert
    check_against_manifest(&manifest, &seen);
    let huge = manifest
        .objects
        .iter()
        .find(|object| object.rows == 1_000_000)
        .expect("the huge file is in the manifest");
    assert_eq!(seen[&huge.key]["rows"], 1_000_000);
    assert_eq!(
        seen[&huge.key]["row_groups"], 8,
        "1,000,000 rows in row groups of 131,072"
    );
    Ok(())
}

#[tokio::test]
async fn the_same_seed_gives_the_same_bytes() -> anyhow::Result<()> {
    let first = tempfile::tempdir()?;
    let second = tempfile::tempdir()?;
    let config = small_config();
    resi_datagen::generate(
        &config,
        &mut Sink::Local {
            root: first.path().to_owned(),
        },
    )
    .await?;
    resi_datagen::generate(
        &config,
        &mut Sink::Local {
            root: second.path().to_owned(),
        },
    )
    .await?;
    let other_seed = tempfile::tempdir()?;
    resi_datagen::generate(
        &GeneratorConfig { seed: 12, ..config },
        &mut Sink::Local {
            root: other_seed.path().to_owned(),
        },
    )
    .await?;
    let read = |root: &std::path::Path| -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let mut files = BTreeMap::new();
        let mut pending = vec![root.to_owned()];
        while let Some(directory) = pending.pop() {
            for entry in std::fs::read_dir(directory)? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    files.insert(
                        path.strip_prefix(root)?.to_string_lossy().into_owned(),
                        std::fs::read(&path)?,
                    );
                }
            }
        }
        Ok(files)
    };
    assert_eq!(read(first.path())?, read(second.path())?);
    assert_ne!(read(first.path())?, read(other_seed.path())?);
    Ok(())
}
