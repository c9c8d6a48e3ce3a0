//! The OpenAPI document says what the server does: schemathesis (PyPI) generates requests from
//! it, valid and invalid, and checks every answer against it, with every check it has: no 5xx,
//! no answer outside the document, no request the document allows refused, none it forbids
//! accepted.

use crate::helpers::{Built, spawn_api};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_declares_what_the_server_enforces() -> anyhow::Result<()> {
    // Arrange
    let built = Built::new(20).await?;
    let api = spawn_api(&built.api_config()).await?;
    let base = format!("http://{}", api.address);

    // Act: a bounded, reproducible run (RESI_SCHEMATHESIS_EXAMPLES and _SEED run a longer or
    // a random one)
    let examples = std::env::var("RESI_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".to_owned());
    let seed =
        std::env::var("RESI_SCHEMATHESIS_SEED").unwrap_or_else(|_| "deterministic".to_owned());
    let existing = serde_json::json!({
        "zpid": built.world.homes.iter().take(5).map(|home| &home.id).collect::<Vec<_>>(),
        "hotkey": built.world.recent.iter().map(|(miner, _)| miner).collect::<Vec<_>>(),
    })
    .to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        resi_tests::run_python(
            "schemathesis_check.py",
            &[&base, &examples, &seed, &existing],
        )
    })
    .await??;
    api.stop().await?;

    // Assert
    assert_eq!(
        outcome["failures"],
        serde_json::json!([]),
        "{}",
        outcome["tail"].as_str().unwrap_or_default()
    );
    assert_eq!(
        outcome["exit_code"],
        0,
        "{}",
        outcome["tail"].as_str().unwrap_or_default()
    );
    resi_tests::stack::stop(vec![built.projector]).await
}
