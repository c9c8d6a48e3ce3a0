//! Every endpoint answers from the projections the real projector built, with the values the
//! generated world implies.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Built, CARELESS, CRAFTED, HONEST, ZIPS, spawn_api};

fn ids(page: &Value) -> Vec<String> {
    page["listings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|listing| listing["zpid"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn every_endpoint_answers_from_the_projections() -> anyhow::Result<()> {
    // Arrange
    let built = Built::new(60).await?;
    let api = spawn_api(&built.api_config()).await?;
    let homes = &built.world.homes;

    // Act / Assert: health and readiness (everything folded: lag 0 everywhere)
    let health = api.ok("/health").await?;
    assert_eq!(health["status"], "healthy");
    let ready = api.ok("/ready").await?;
    assert_eq!(ready["status"], "ready", "{ready}");
    for projection in ["listing", "trust", "consensus"] {
        assert_eq!(ready["projections"][projection]["version"], "v1");
        assert_eq!(ready["projections"][projection]["lag"], 0, "{ready}");
    }

    // by zip: every listing of the zip, by id, with the consensus values
    let zip = ZIPS[1];
    let page = api.ok(&format!("/api/listings/{zip}?limit=500")).await?;
    let expected: Vec<String> = homes
        .iter()
        .filter(|home| home.zip == zip)
        .map(|home| home.id.clone())
        .collect();
    assert_eq!(ids(&page), expected);
    assert_eq!(page["pagination"]["total"], expected.len());
    assert_eq!(page["consensus_version"], "v1");
    for listing in page["listings"].as_array().into_iter().flatten() {
        let home = homes
            .iter()
            .find(|home| listing["zpid"] == home.id.as_str())
            .expect("a known home");
        // money as an integer, the careless miner outvoted, the changed price chosen
        assert_eq!(listing["price"].as_i64(), Some(home.price), "{listing}");
        assert_eq!(listing["unique_miners"].as_u64(), Some(home.miners as u64));
        assert_eq!(
            listing["total_attestations"].as_u64(),
            Some(home.attestations as u64)
        );
        assert_eq!(listing["bedrooms"].as_u64(), Some(u64::from(home.bedrooms)));
        assert_eq!(
            listing["latitude"].as_f64(),
            Some(f64::from(home.latitude_e7) / 1e7)
        );
        assert!(
            listing["first_seen_at"]
                .as_str()
                .is_some_and(|at| chrono::DateTime::parse_from_rfc3339(at).is_ok())
        );
        // the seed's latest attestations of each listing (5 by default), newest first
        let shown = listing["attestations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(shown.len(), home.attestations.min(5), "{listing}");
        let times: Vec<&str> = shown
            .iter()
            .filter_map(|attestation| attestation["scraped_at"].as_str())
            .collect();
        assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "{times:?}");
        let level = listing["confidence_level"].as_str().unwrap_or_default();
        assert!(["high", "medium", "low"].contains(&level));
    }

    // filters: each matches the oracle
    let filtered = api.ok(&format!("/api/listings/{zip}?minPrice=300000&maxPrice=400000&status=for_sale&type=single_family&minBeds=3")).await?;
    let expected: Vec<String> = homes
        .iter()
        .filter(|home| {
            home.zip == zip
                && (300_000..=400_000).contains(&home.price)
                && home.status == "FOR_SALE"
                && home.home_type == "SINGLE_FAMILY"
                && home.bedrooms >= 3
        })
        .map(|home| home.id.clone())
        .collect();
    assert!(
        !expected.is_empty(),
        "the filter case must select something"
    );
    assert_eq!(ids(&filtered), expected);
    assert_eq!(filtered["pagination"]["total"], expected.len());

    let bare = api
        .ok(&format!("/api/listings/{zip}?attestations=0&limit=3"))
        .await?;
    assert!(
        bare["listings"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|listing| listing["attestations"] == serde_json::json!([]))
    );

    // seed-style offset paging still works
    let second = api
        .ok(&format!("/api/listings/{zip}?limit=5&offset=5"))
        .await?;
    let all_ids = ids(&page);
    assert_eq!(ids(&second), all_ids[5..10].to_vec());

    // bbox: the homes inside, by id (the grid is 0.01° apart; this box holds rows 1-2, columns 2-4)
    let bbox = api
        .ok("/api/listings?bbox=-97.7205,30.2695,-97.6995,30.2805&limit=500")
        .await?;
    let expected: Vec<String> = homes
        .iter()
        .filter(|home| (1..=2).contains(&(home.index / 10)) && (2..=4).contains(&(home.index % 10)))
        .map(|home| home.id.clone())
        .collect();
    assert_eq!(expected.len(), 6);
    assert_eq!(ids(&bbox), expected);
    assert_eq!(bbox["pagination"]["total"], 6);
    // the box between two corners, whichever way round they come
    let reversed = api
        .ok("/api/listings?bbox=-97.6995,30.2805,-97.7205,30.2695&limit=500")
        .await?;
    assert_eq!(ids(&reversed), expected);

    // what the document allows but nothing can match is an empty page, not an error
    for path in [
        format!("/api/listings/{zip}?minPrice=9&maxPrice=3"),
        format!("/api/listings/{zip}?status=%20"),
        format!("/api/listings/{zip}?type=--"),
    ] {
        let empty = api.ok(&path).await?;
        assert_eq!(empty["pagination"]["total"], 0, "{path}");
        assert_eq!(ids(&empty), Vec::<String>::new(), "{path}");
    }
    // a cursor with an offset: the rows after the cursor, skipping `offset` of them
    let first = api.ok(&format!("/api/listings/{zip}?limit=2")).await?;
    let cursor = first["pagination"]["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let skipped = api
        .ok(&format!(
            "/api/listings/{zip}?limit=3&offset=2&cursor={cursor}"
        ))
        .await?;
    assert_eq!(ids(&skipped), all_ids[4..7].to_vec());

    // one listing: consensus, latest report, attestations with trust
    let changed = homes
        .iter()
        .find(|home| home.changed && home.careless_wrong)
        .expect("a changed home the careless miner got wrong");
    let detail = api.ok(&format!("/api/listing/{}", changed.id)).await?;
    assert_eq!(detail["zpid"], changed.id.as_str());
    assert_eq!(detail["consensus"]["price"].as_i64(), Some(changed.price));
    assert_eq!(
        detail["latest_reported"]["price"].as_i64(),
        Some(changed.price)
    );
    assert_eq!(
        detail["consensus_info"]["total_attestations"].as_u64(),
        Some(changed.attestations as u64)
    );
    assert_eq!(detail["consensus_info"]["unique_miners"], 4);
    assert_eq!(detail["consensus_info"]["consensus_version"], "v1");
    let attestations = detail["attestations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(attestations.len(), changed.attestations.min(10));
    assert!(attestations.iter().all(|attestation| {
        attestation["miner_trust"].as_f64().is_some()
            && attestation["attestation_id"]
                .as_str()
                .is_some_and(|id| id.len() == 64)
    }));
    let newest: Vec<&str> = attestations
        .iter()
        .filter_map(|attestation| attestation["scraped_at"].as_str())
        .collect();
    assert!(
        newest.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first: {newest:?}"
    );

    // its consensus: the chosen price with its supporters, the careless value an alternative
    let consensus = api
        .ok(&format!("/api/listing/{}/consensus", changed.id))
        .await?;
    // the build's algorithm as recorded with it: v1, which takes no parameter
    assert_eq!(consensus["consensus_algorithm"], "v1");
    assert_eq!(consensus["consensus_params"], serde_json::json!({}));
    let price = &consensus["fields"]["price"];
    assert_eq!(price["chosen"]["value"].as_i64(), Some(changed.price));
    let supporters: BTreeSet<&str> = price["chosen"]["supporters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(supporters, HONEST.into_iter().collect());
    assert_eq!(price["chosen"]["confidence"].as_f64(), Some(0.75));
    let alternatives: Vec<i64> = price["alternatives"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|value| value["value"].as_i64())
        .collect();
    assert_eq!(alternatives, vec![changed.first_price + 1_000]);
    assert_eq!(price["alternatives"][0]["supporters"][0], CARELESS);
    assert_eq!(
        consensus["fields"]["bathrooms"]["chosen"]["value"].as_f64(),
        Some(2.0)
    );
    assert!(
        consensus["fields"]["coordinates"]["chosen"]["value"]["latitude"]
            .as_f64()
            .is_some()
    );

    // its history: three prices over time, the reports oldest first
    let history = api
        .ok(&format!("/api/listing/{}/history", changed.id))
        .await?;
    let prices: Vec<(i64, i64)> = history["price"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|period| Some((period["value"].as_i64()?, period["reports"].as_i64()?)))
        .collect();
    assert_eq!(prices.len(), 3, "{history}");
    assert_eq!(
        prices.last().copied(),
        Some((changed.price, 3)),
        "the new price is the latest period"
    );
    assert_eq!(
        history["total_reports"].as_u64(),
        Some(changed.attestations as u64)
    );
    let times: Vec<&str> = history["reports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|report| report["scraped_at"].as_str())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
    let statuses = history["home_status"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(statuses.len(), 1);

    // a miner: trust from the trust projection, accuracy from consensus, 24 h activity, rejections
    let honest = api.ok(&format!("/api/miners/{}/stats", HONEST[0])).await?;
    assert_eq!(honest["total_submissions"], 2);
    let recent = built
        .world
        .recent
        .iter()
        .find(|(miner, _)| *miner == HONEST[0])
        .map(|(_, count)| *count);
    assert_eq!(
        honest["recent_submissions_24h"].as_u64(),
        recent.map(|count| count as u64)
    );
    assert_eq!(honest["accuracy_score"].as_f64(), Some(1.0), "{honest}");
    assert_eq!(honest["rejections"]["invalid_zip_code"], 2);
    let tier = honest["performance_tier"].as_str().unwrap_or_default();
    let trust = honest["trust_score"].as_f64().unwrap_or(-1.0);
    assert_eq!(tier, resi_api::model::performance_tier(trust));
    let careless = api.ok(&format!("/api/miners/{CARELESS}/stats")).await?;
    assert!(
        careless["accuracy_score"]
            .as_f64()
            .is_some_and(|accuracy| accuracy < 1.0),
        "{careless}"
    );
    assert!(careless["trust_score"].as_f64() < honest["trust_score"].as_f64());
    assert_eq!(careless["rejections"]["duplicate_in_file"], 20);

    // the leaderboard, sorted both ways
    let board = api.ok("/api/miners?sort=trust_score&order=desc").await?;
    let trusts: Vec<f64> = board["miners"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|miner| miner["trust_score"].as_f64())
        .collect();
    assert_eq!(board["total"], 4);
    assert_eq!(trusts.len(), 4);
    assert!(
        trusts.windows(2).all(|pair| pair[0] >= pair[1]),
        "{trusts:?}"
    );
    let by_accuracy = api
        .ok("/api/miners?sort=accuracy_score&order=asc&limit=1")
        .await?;
    assert_eq!(by_accuracy["miners"][0]["miner_hotkey"], CARELESS);

    // stats: totals, 24 h, versions
    let stats = api.ok("/api/stats").await?;
    assert_eq!(
        stats["total_listings"].as_u64(),
        Some(homes.len() as u64 + 1)
    );
    let attestations: usize = homes.iter().map(|home| home.attestations).sum::<usize>() + 6;
    assert_eq!(
        stats["total_attestations"].as_u64(),
        Some(attestations as u64)
    );
    assert_eq!(stats["total_miners"], 4);
    let recently_updated = homes.iter().filter(|home| home.changed).count() + 1;
    assert_eq!(
        stats["recent_listings_24h"].as_u64(),
        Some(recently_updated as u64)
    );
    assert_eq!(stats["live_consensus_version"], "v1");
    assert_eq!(
        stats["building_consensus_versions"],
        serde_json::json!(["v2"])
    );
    assert!(
        stats["average_consensus_score"]
            .as_f64()
            .is_some_and(|score| score > 0.0 && score <= 1.0)
    );
    assert_eq!(
        stats["versions"].as_array().map(Vec::len),
        Some(crate::helpers::TARGETS.len())
    );

    // the crafted listing is in zip 78701 too
    let first_zip = api
        .ok(&format!("/api/listings/{}?limit=500", ZIPS[0]))
        .await?;
    assert!(ids(&first_zip).contains(&CRAFTED.to_owned()));

    // the documents
    let openapi = api.ok("/openapi.json").await?;
    assert!(
        openapi["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.1"))
    );
    for path in [
        "/api/listings/{zip}",
        "/api/listings",
        "/api/listing/{zpid}",
        "/api/listing/{zpid}/consensus",
        "/api/listing/{zpid}/history",
        "/api/miners/{hotkey}/stats",
        "/api/miners",
        "/api/stats",
        "/health",
        "/ready",
    ] {
        assert!(
            openapi["paths"][path]["get"].is_object(),
            "{path} is documented"
        );
    }
    let docs = api.get("/docs").await?;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.contains("/api/listing/{zpid}/consensus") && docs.text.contains("minPrice"));

    // metrics per route template and status
    let metrics = api.get("/metrics").await?;
    assert!(
        metrics.text.contains(
            r#"resi_api_requests_total{route="/api/listing/{zpid}",method="GET",status="200"}"#
        ),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains("resi_api_request_duration_seconds_bucket")
    );
    assert!(
        metrics
            .text
            .contains(r#"resi_postgres_seconds_bucket{step="listings.page""#),
        "Postgres latency per statement"
    );

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}

#[tokio::test]
async fn a_lagging_projection_makes_the_api_unready() -> anyhow::Result<()> {
    // Arrange: everything folded, then the projector stopped and more events published
    let built = Built::new(6).await?;
    let mut config = built.api_config();
    config.api.ready_max_lag = 2;
    let api = spawn_api(&config).await?;
    assert_eq!(api.get("/ready").await?.status, StatusCode::OK);
    resi_tests::stack::stop(vec![built.projector]).await?;
    let more = crate::helpers::world(6).events;

    // Act
    built
        .stack
        .publish(&built.stack.topics().attestations(), &more[..5])
        .await?;

    // Assert: 503, and the body says which projection lags by how much
    let ready = api.get("/ready").await?;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.text
    );
    assert_eq!(ready.body["status"], "not_ready");
    assert_eq!(ready.body["projections"]["listing"]["lag"], 5);
    assert_eq!(ready.body["projections"]["trust"]["lag"], 0);
    // the API still serves what is folded
    assert_eq!(api.get("/api/stats").await?.status, StatusCode::OK);
    api.stop().await
}
