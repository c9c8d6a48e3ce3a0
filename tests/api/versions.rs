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
