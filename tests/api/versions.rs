//! `consensus_version` reads a consensus version that is not live, so researchers can compare
//! algorithms; promotion switches what the default reads.

use crate::helpers::{Built, CRAFTED, spawn_api};

#[tokio::test]
async fn a_version_that_is_not_live_can_be_read_beside_the_live_one() -> anyhow::Result<()> {
    // Arrange: v1 live, v2 built beside it
    let built = Built::new(6).await?;
    let api = spawn_api(&built.api_config()).await?;

    // Act
    let live = api.ok(&format!("/api/listing/{CRAFTED}")).await?;
    let v2 = api
        .ok(&format!("/api/listing/{CRAFTED}?consensus_version=v2"))
        .await?;
    let v2_fields = api
        .ok(&format!(
            "/api/listing/{CRAFTED}/consensus?consensus_version=v2"
        ))
        .await?;
    let v2_search = api
        .ok("/api/listings/78701?consensus_version=v2&status=PENDING")
        .await?;
    let v1_search = api.ok("/api/listings/78701?status=PENDING").await?;

    // Assert: v1 keeps last month's majority, v2 (time-aware) today's price and status
    assert_eq!(live["consensus"]["price"], 450_000);
    assert_eq!(live["consensus_info"]["consensus_version"], "v1");
    assert_eq!(v2["consensus"]["price"], 425_000);
    assert_eq!(v2["consensus"]["home_status"], "PENDING");
    assert_eq!(v2["consensus_info"]["consensus_version"], "v2");
    assert_eq!(v2_fields["consensus_version"], "v2");
    assert_eq!(v2_fields["fields"]["price"]["chosen"]["value"], 425_000);
    assert_eq!(
        v2_fields["fields"]["price"]["alternatives"][0]["value"],
        450_000
    );
    let pending = |page: &serde_json::Value| {
        page["listings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|listing| listing["zpid"] == CRAFTED)
    };
    assert!(pending(&v2_search), "v2 finds the crafted listing pending");
    assert!(!pending(&v1_search), "v1 does not");

    // Act: promote v2; the default follows, v1 stays readable by name
    let pool = built.stack.pool.clone();
    resi_projector::operate::promote(
        &pool,
        &built.stack.kafka,
        resi_projector::engine::ProjectionKind::Consensus,
        "v2",
        0,
        false,
    )
    .await?;
    let promoted = api.ok(&format!("/api/listing/{CRAFTED}")).await?;
    let retired = api
        .ok(&format!("/api/listing/{CRAFTED}?consensus_version=v1"))
        .await?;
    let stats = api.ok("/api/stats").await?;

    // Assert
    assert_eq!(promoted["consensus"]["price"], 425_000);
    assert_eq!(retired["consensus"]["price"], 450_000);
    assert_eq!(stats["live_consensus_version"], "v2");

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}

#[tokio::test]
async fn a_build_shows_what_it_decided_not_what_code_would_decide_today() -> anyhow::Result<()> {
    // Arrange: v2 built beside v1; what it shows of the crafted listing
    let built = Built::new(6).await?;
    let api = spawn_api(&built.api_config()).await?;
    let path = format!("/api/listing/{CRAFTED}/consensus?consensus_version=v2");
    let before = api.ok(&path).await?;
    assert_eq!(before["recomputed"], false);
    assert_eq!(before["fields"]["price"]["chosen"]["value"], 425_000);
    assert_eq!(before["fields"]["price"]["alternatives"][0]["miners"], 4);

    // Act: the algorithm the reading side would run changes under the build (here its
    // recorded half-life, so long that v2 weighs last month like today, as v1 does)
    let client = built.stack.pool.get().await?;
    client
        .execute(
            "UPDATE projection_versions SET params = '{\"half_life_hours\": \"1000000\"}'
              WHERE projection = 'consensus' AND version = 'v2'",
            &[],
        )
        .await?;
    let after = api.ok(&path).await?;

    // Assert: every value, support, confidence and supporter is the build's, unchanged
    assert_eq!(after["fields"], before["fields"]);
    assert_eq!(after["recomputed"], false);
    assert_eq!(after["consensus_params"]["half_life_hours"], "1000000");

    // Act: a row written before decisions were stored
    client
        .execute(
            "UPDATE consensus_v2.consensus_listings SET decisions = NULL WHERE listing_id = $1",
            &[&CRAFTED],
        )
        .await?;
    let legacy = api.ok(&path).await?;

    // Assert: decided again by the recorded algorithm, and said so
    assert_eq!(legacy["recomputed"], true);
    assert_eq!(legacy["fields"]["price"]["chosen"]["value"], 450_000);

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}
