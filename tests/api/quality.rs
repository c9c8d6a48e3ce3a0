//! `GET /api/quality`: freshness, completeness, agreement and coverage, per area, and the
//! network's figures as gauges.

use reqwest::StatusCode;

use crate::helpers::{Built, ZIPS, spawn_api};

#[tokio::test]
async fn quality_counts_what_the_consensus_holds_and_sees_a_listing_go_stale() -> anyhow::Result<()>
{
    // Arrange
    let built = Built::new(40).await?;
    let api = spawn_api(&built.api_config()).await?;
    let stats = api.ok("/api/stats").await?;
    let total = stats["total_listings"].as_i64().unwrap_or_default();

    // Act
    let network = api.ok("/api/quality").await?;

    // Assert: every listing, every zip code, all reported within days
    assert_eq!(network["scope"], "network");
    assert_eq!(network["listings"].as_i64(), Some(total));
    let zipcodes = network["zipcodes"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        zipcodes
            .iter()
            .filter_map(|zip| zip["listings"].as_i64())
            .sum::<i64>(),
        total
    );
    assert_eq!(
        network["total_zipcodes"].as_u64(),
        Some(zipcodes.len() as u64)
    );
    assert_eq!(network["completeness"]["price"], 1.0);
    assert_eq!(network["completeness"]["zip_code"], 1.0);
    assert_eq!(network["freshness"]["stale_share"], 0.0);
    let median = network["freshness"]["median_hours"]
        .as_f64()
        .unwrap_or(-1.0);
    assert!((0.0..=96.0).contains(&median), "{median}");
    let agreement = &network["agreement"];
    assert_eq!(
        ["high", "medium", "low"]
            .iter()
            .filter_map(|level| agreement[level].as_i64())
            .sum::<i64>(),
        total
    );

    // Assert: each listing says how fresh and complete it is
    let listing = api
        .ok(&format!(
            "/api/listing/{}",
            zipcodes_first_listing(&api).await?
        ))
        .await?;
    let hours = listing["data_freshness_hours"].as_f64().unwrap_or(-1.0);
    assert!((0.0..=96.0).contains(&hours), "{listing}");
    let score = listing["freshness_score"].as_f64().unwrap_or(-1.0);
    assert!((score - (1.0 - hours / 168.0)).abs() < 0.01, "{listing}");
    assert_eq!(listing["field_completeness"], 1.0);

    // Act: one zip code, after one of its listings went unreported for ten days
    let zip = ZIPS[0];
    let page = api.ok(&format!("/api/listings/{zip}?limit=1")).await?;
    let in_zip = page["pagination"]["total"].as_i64().unwrap_or_default();
    let stale = page["listings"][0]["zpid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    built
        .stack
        .pool
        .get()
        .await?
        .execute(
            "UPDATE consensus_v1.consensus_listings
                SET last_reported_at = now() - interval '10 days' WHERE listing_id = $1",
            &[&stale],
        )
        .await?;
    let area = api.ok(&format!("/api/quality?zip={zip}")).await?;

    // Assert
    assert_eq!(area["scope"], "zip");
    assert_eq!(area["listings"].as_i64(), Some(in_zip));
    let share = area["freshness"]["stale_share"]
        .as_f64()
        .unwrap_or_default();
    assert!((share - 1.0 / in_zip as f64).abs() < 1e-9, "{share}");
    assert_eq!(area["zipcodes"][0]["zip_code"], zip);
    assert!(
        area["freshness"]["mean_score"]
            .as_f64()
            .is_some_and(|score| score < 1.0)
    );

    // Assert: the network's figures are gauges, and bad areas are refused
    let metrics = api.get("/metrics").await?.text;
    assert!(
        metrics
            .lines()
            .any(|line| line == format!("resi_quality_listings {total}")),
        "{metrics}"
    );
    for path in [
        "/api/quality?state=tx",
        "/api/quality?zip=7870",
        "/api/quality?limit=0",
    ] {
        assert_eq!(
            api.get(path).await?.status,
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
    let docs = api.ok("/openapi.json").await?;
    assert!(docs["paths"]["/api/quality"].is_object());

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}

/// The first listing of the first zip code.
async fn zipcodes_first_listing(api: &resi_tests::api::TestApi) -> anyhow::Result<String> {
    let page = api
        .ok(&format!("/api/listings/{}?limit=1", ZIPS[0]))
        .await?;
    Ok(page["listings"][0]["zpid"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}
