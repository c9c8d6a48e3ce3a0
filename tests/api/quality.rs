//! `GET /api/quality`: freshness, completeness, agreement and coverage, per area, and the
//! network's figures as gauges.

use reqwest::StatusCode;

use resi_tests::events::parsed;

use crate::helpers::{Built, ZIPS, spawn_api};

const DAY: i64 = 86_400_000_000;

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
    // every state's coverage, adding up to the network
    let states = network["states"].as_array().cloned().unwrap_or_default();
    assert!(!states.is_empty(), "{network}");
    assert_eq!(
        states
            .iter()
            .filter_map(|state| state["listings"].as_i64())
            .sum::<i64>(),
        total
    );
    assert_eq!(
        states
            .iter()
            .filter_map(|state| state["zipcodes"].as_u64())
            .sum::<u64>(),
        zipcodes.len() as u64
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

    // Arrange: the zip codes' reference points (`resi zipcodes import` in production), and a
    // listing of 78702 whose coordinates are Boston's
    let client = built.stack.pool.get().await?;
    for zip in ZIPS {
        client
            .execute(
                "INSERT INTO zipcodes VALUES ($1, 'STANDARD', true, 'TX', 'Austin', 'Travis County', 30.27, -97.74)",
                &[&zip],
            )
            .await?;
    }
    let mut stray = crate::helpers::home(41);
    stray.zip = ZIPS[1];
    (stray.latitude_e7, stray.longitude_e7) = (423_400_000, -711_400_000);
    built.report_now("stray", &stray).await?;
    // Act
    let located = api.ok("/api/quality").await?;
    // Assert: every listing is checked, the stray one alone is misplaced, in its zip code
    let listings = located["listings"].as_i64().unwrap_or_default();
    assert_eq!(listings, total + 1);
    assert_eq!(
        located["location"]["checked"].as_i64(),
        Some(listings),
        "{located}"
    );
    assert_eq!(located["location"]["misplaced"], 1, "{located}");
    assert_eq!(
        located["location"]["misplaced_share"].as_f64(),
        Some(1.0 / listings as f64)
    );
    let misplaced_by_zip: Vec<(String, i64)> = located["zipcodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|zip| {
            (
                zip["zip_code"].as_str().unwrap_or_default().to_owned(),
                zip["misplaced"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        misplaced_by_zip,
        ZIPS.iter()
            .map(|zip| ((*zip).to_owned(), i64::from(*zip == ZIPS[1])))
            .collect::<Vec<_>>()
    );
    let metrics = api.get("/metrics").await?.text;
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("resi_quality_misplaced_share 0.0")),
        "{metrics}"
    );

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

#[tokio::test]
async fn a_miner_whose_rejections_spike_or_trust_falls_is_flagged_everywhere_an_operator_looks()
-> anyhow::Result<()> {
    // Arrange: beside the world's miners (few rows today), one miner rejected 1 % of its rows
    // every day of the week before and 30 % today, another sent good files all week and poor
    // ones today, a third is the same every day
    let built = Built::new(10).await?;
    let now = chrono::Utc::now().timestamp_micros();
    let mut summaries = Vec::new();
    for day in 1..=7_u64 {
        let at = now - i64::try_from(day)? * DAY;
        summaries.push(parsed("5Spiky", day, 0.9, 200, 1, at));
        summaries.push(parsed("5Falling", day, 0.95, 200, 0, at));
        summaries.push(parsed("5Steady", day, 0.8, 200, 3, at));
    }
    summaries.push(parsed("5Spiky", 100, 0.9, 200, 59, now));
    for index in 100..106 {
        summaries.push(parsed("5Falling", index, 0.05, 200, 0, now));
    }
    summaries.push(parsed("5Steady", 100, 0.8, 200, 3, now));
    built
        .stack
        .publish(&built.stack.topics().uploads(), &summaries)
        .await?;
    built.caught_up().await?;
    let mut config = built.api_config();
    config.api.quality_interval_secs = 1;
    let api = spawn_api(&config).await?;

    // Act
    let quality = api.ok("/api/quality").await?;
    let stats = api.ok("/api/stats").await?;
    let spiky = api.ok("/api/miners/5Spiky/stats").await?;
    let steady = api.ok("/api/miners/5Steady/stats").await?;

    // Assert: exactly the two are flagged, each for its own signal, in both summaries
    let miners = &quality["miners"];
    let flagged: Vec<(&str, bool, bool)> = miners["miners"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|each| {
                    (
                        each["miner_hotkey"].as_str().unwrap_or_default(),
                        each["rejection_spike"] == true,
                        each["trust_fell"] == true,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        flagged,
        vec![("5Falling", false, true), ("5Spiky", true, false)],
        "{miners}"
    );
    assert_eq!(
        (
            miners["rejection_spikes"].as_i64(),
            miners["trust_drops"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        miners["miners_active"].as_u64(),
        Some(built.world.recent.len() as u64 + 3),
        "the world's miners sent files in the last eight days, and the three"
    );
    assert_eq!(stats["miner_anomalies"], *miners);
    assert_eq!(miners["day"], chrono::Utc::now().date_naive().to_string());
    // Assert: the figures behind the spike
    let signals = &spiky["signals"];
    assert_eq!(signals["rows_today"], 200);
    assert_eq!(signals["rejection_rate_today"], 0.3);
    assert_eq!(signals["rows_7d"], 1_400);
    assert_eq!(signals["rejection_rate_7d"], 0.01);
    assert_eq!(steady["signals"]["rejection_spike"], false);
    assert_eq!(steady["signals"]["trust_fell"], false);
    // an area's quality is about its listings, not the network's miners
    assert!(
        api.ok("/api/quality?state=TX")
            .await?
            .get("miners")
            .is_none()
    );

    // Assert: the gauges the alert rules read, recomputed by the janitor
    let metrics = resi_tests::eventually(
        std::time::Duration::from_secs(30),
        "the miners' gauges",
        || async {
            let text = api.get("/metrics").await?.text;
            Ok(text
                .contains("resi_miner_rejection_rate_today{miner=\"5Spiky\"} 0.3")
                .then_some(text))
        },
    )
    .await?;
    for line in [
        "resi_miner_rejection_rate_7d{miner=\"5Spiky\"} 0.01",
        "resi_miner_rows_today{miner=\"5Spiky\"} 200",
        "resi_quality_miner_anomalies{signal=\"rejection_spike\"} 1",
        "resi_quality_miner_anomalies{signal=\"trust_drop\"} 1",
    ] {
        assert!(
            metrics.lines().any(|each| each == line),
            "{line}\n{metrics}"
        );
    }
    let drop = metrics
        .lines()
        .find_map(|line| line.strip_prefix("resi_miner_trust_drop{miner=\"5Falling\"} "))
        .and_then(|value| value.parse::<f64>().ok())
        .unwrap_or_default();
    assert!(drop >= 0.2, "{metrics}");

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}
