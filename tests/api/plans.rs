//! Every statement a request runs is served by an index: its generic plan (the one a
//! prepared statement uses), with sequential scans disabled, has no sequential scan left,
//! which the planner keeps only where no index can serve.

use resi_projector::engine::ProjectionKind;

use crate::helpers::Built;

#[tokio::test]
async fn every_request_statement_uses_an_index() -> anyhow::Result<()> {
    // Arrange
    let built = Built::new(6).await?;
    let owner = built.stack.pool.get().await?;
    // the epoch endpoints' projections, empty: their statements are planned all the same
    for (kind, schema) in [
        (ProjectionKind::Epochs, "epochs_plans"),
        (ProjectionKind::Scores, "scores_plans"),
        (ProjectionKind::Network, "network_plans"),
    ] {
        owner
            .batch_execute(&kind.ddl().replace("{schema}", schema))
            .await?;
    }
    let mut statements = resi_api::plans::statements(
        "listing_v1",
        "trust_v1",
        "consensus_v1",
        Some("scores_plans"),
    );
    statements.extend(resi_api::plans::statements(
        "listing_v1",
        "trust_v1",
        "consensus_v1",
        None,
    ));
    statements.push((
        "validation.spot_checks".to_owned(),
        resi_api::validation::spot_checks_sql("listing_v1", "consensus_v1", "epochs_plans"),
    ));
    statements.extend(resi_api::plans::epoch_statements(
        "epochs_plans",
        "scores_plans",
        "network_plans",
    ));

    // Act
    let mut unindexed = Vec::new();
    for (name, sql) in &statements {
        let plan = resi_api::plans::generic_plan(&owner, name, sql).await?;
        if plan.contains("Seq Scan") {
            unindexed.push(format!("{name}:\n{plan}"));
        }
    }

    // Assert
    assert!(
        statements.len() >= 30,
        "every endpoint's statements are listed"
    );
    assert!(
        unindexed.is_empty(),
        "statements without an index:\n{}",
        unindexed.join("\n\n")
    );
    resi_tests::stack::stop(vec![built.projector]).await
}
