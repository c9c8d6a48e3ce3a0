//! The checked-in fixtures written by pandas/pyarrow hold exactly the rows the generator writes
//! for the same knobs, so the parser can be proven to treat both alike.

use resi_datagen::{GeneratorConfig, Sink};
use resi_tests::{run_python, workspace_root};

#[tokio::test]
async fn pyarrow_fixtures_hold_the_generator_rows() -> anyhow::Result<()> {
    // Arrange
    let fixtures = workspace_root().join("tests/fixtures/pyarrow");
    let config: GeneratorConfig =
        serde_json::from_slice(&std::fs::read(fixtures.join("generator.json"))?)?;
    let generated = tempfile::tempdir()?;

    // Act
    resi_datagen::generate(
        &config,
        &mut Sink::Local {
            root: generated.path().to_owned(),
        },
    )
    .await?;
    let outcome = run_python(
        "compare_parquet.py",
        &[
            &fixtures.to_string_lossy(),
            &generated.path().to_string_lossy(),
        ],
    )?;

    // Assert
    assert_eq!(
        outcome["keys_only_in_first"],
        serde_json::json!([]),
        "every fixture has a generated twin"
    );
    assert_eq!(
        outcome["keys_only_in_second"],
        serde_json::json!([]),
        "every generated file has a fixture"
    );
    assert!(outcome["compared"].as_u64().unwrap_or(0) >= 4, "{outcome}");
    assert_eq!(outcome["mismatches"], serde_json::json!({}), "{outcome}");
    Ok(())
}
