//! The map page at `/`, in a real browser (Debian's Chromium, headless, driven by
//! playwright-core) over the real stack.

use crate::helpers::{Built, ZIPS, home, spawn_api};

#[tokio::test]
async fn the_map_shows_listings_a_click_shows_one_and_the_panel_agrees_with_the_api()
-> anyhow::Result<()> {
    // Arrange
    let built = Built::new(40).await?;
    // a listing of the zip code whose reported coordinates are a thousand miles off (a mistake
    // the consensus kept): searching the zip code must still frame the zip code
    let mut stray = home(41);
    stray.zip = ZIPS[0];
    (stray.latitude_e7, stray.longitude_e7) = (423_400_000, -711_400_000);
    built.report_now("stray", &stray).await?;
    let api = spawn_api(&built.api_config()).await?;
    let base = format!("http://{}/", api.address);
    let artifacts = resi_tests::workspace_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let screenshot = artifacts.join("map.png");
    let _ = std::fs::remove_file(&screenshot);

    // Act
    let output = tokio::task::spawn_blocking({
        let base = base.clone();
        let screenshot = screenshot.clone();
        move || {
            std::process::Command::new("node")
                .arg(resi_tests::workspace_root().join("tests/support/map_page.mjs"))
                .args([base.as_str(), ZIPS[0], &screenshot.display().to_string()])
                .output()
        }
    })
    .await??;
    anyhow::ensure!(
        output.status.success(),
        "the page test failed (is Chromium installed? scripts/stack installs it): {} {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout)?;

    // Assert: no error, nothing fetched from elsewhere, tiles drawn
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    assert!(
        seen["tiles"].as_u64().is_some_and(|tiles| tiles > 0),
        "{seen}"
    );
    assert!(
        seen["clusters"]
            .as_u64()
            .is_some_and(|clusters| clusters > 0),
        "{seen}"
    );
    assert!(
        seen["rendered"].as_u64().is_some_and(|points| points > 0),
        "{seen}"
    );
    // county borders: not fetched over the whole country, fetched once zoomed in
    assert_eq!(seen["county_fetches_at_start"], 0, "{seen}");
    assert_eq!(seen["county_fetches"], 1, "{seen}");
    assert_eq!(seen["counties_loaded"], true, "{seen}");
    // the clicked listing's panel shows its consensus as the API gives it
    let zpid = seen["zpid"].as_str().unwrap_or_default();
    let detail = api.ok(&format!("/api/listing/{zpid}")).await?;
    let price = detail["consensus"]["price"].as_i64().unwrap_or_default();
    assert_eq!(seen["price"].as_i64(), Some(price), "{seen}");
    let shown = seen["panel_price"]
        .as_str()
        .unwrap_or_default()
        .replace([',', '$'], "");
    assert_eq!(shown, price.to_string(), "{seen}");
    assert!(
        seen["panel_summary"]
            .as_str()
            .is_some_and(|summary| summary.contains(zpid))
    );
    assert!(
        seen["panel_miners"]
            .as_str()
            .is_some_and(|miners| miners.contains("5Honest1"))
    );
    // the quality panel shows the API's numbers
    let stats = api.ok("/api/stats").await?;
    assert_eq!(
        seen["quality_listings"].as_i64(),
        stats["total_listings"].as_i64()
    );
    assert_eq!(seen["quality_version"], "v1");
    // coverage by state: one row per state of /api/quality, with its listings
    let quality = api.ok("/api/quality?limit=1").await?;
    let want: Vec<(String, String)> = quality["states"]
        .as_array()
        .map(|states| {
            states
                .iter()
                .map(|each| {
                    (
                        each["state"].as_str().unwrap_or_default().to_owned(),
                        each["listings"].to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let shown: Vec<(String, String)> = seen["quality_states"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    (
                        row[0].as_str().unwrap_or_default().to_owned(),
                        row[1].as_str().unwrap_or_default().replace(',', ""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(!want.is_empty(), "{quality}");
    assert_eq!(shown, want, "{seen}");
    // no reference data in this database: nothing to check coordinates against
    assert_eq!(
        quality["location"]["misplaced_share"],
        serde_json::Value::Null
    );
    assert_eq!(seen["quality_misplaced"], "—", "{seen}");
    assert_eq!(
        seen["quality_anomalies"],
        format!(
            "none of {} active",
            stats["miner_anomalies"]["miners_active"]
        ),
        "{seen}"
    );
    // and the screenshot is kept for a person to look at
    assert!(std::fs::metadata(&screenshot)?.len() > 10_000);

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}
