//! Postgres restarted under the projector, three times in the middle of its batches: the same
//! projector, never restarted, ends with the tables of a clean run; nothing is lost, doubled or
//! dead-lettered.

use std::time::Duration;

use resi_projector::engine::ProjectionKind;
use resi_tests::faults::TcpFault;
use resi_tests::stack::{Stack, stop};
use resi_tests::{harness::read_topic, projector_config};
use secrecy::{ExposeSecret as _, SecretString};

use crate::crash::{consensus_folded, equal_to_a_clean_build, many};

#[tokio::test]
async fn postgres_restarts_mid_batch_leave_the_tables_of_a_clean_run() -> anyhow::Result<()> {
    // Arrange: a projector whose Postgres is behind a proxy that can restart it
    let stack = Stack::new().await?;
    let attestations = stack.topics().attestations();
    let events = many();
    let total = i64::try_from(events.len())?;
    stack.publish(&attestations, &events).await?;
    let url = stack.postgres.url.expose_secret().to_owned();
    let server = url
        .split_once('@')
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or("127.0.0.1:5432", |(server, _)| server)
        .to_owned();
    let proxy = TcpFault::start(&server).await?;
    let mut postgres = stack.postgres.clone();
    postgres.url = SecretString::from(proxy.url_for(&url));
    let mut config = projector_config(
        &postgres,
        &stack.kafka,
        &[
            (ProjectionKind::Consensus, "v1"),
            (ProjectionKind::Listing, "v1"),
        ],
    );
    config.projector.batch_max_events = 40;
    // Act: three restarts of Postgres while the projector folds
    let projector = Stack::start(&config).await?;
    let mut restarts = Vec::new();
    for round in 1..=3_i64 {
        let target = total * round / 4;
        let at = consensus_folded(&stack, target).await?;
        proxy.outage(Duration::from_secs(2)).await?;
        restarts.push(at);
    }
    stack.caught_up("consensus", "v1", &attestations).await?;
    stack.caught_up("listing", "v1", &attestations).await?;
    assert!(
        !projector.1.is_finished(),
        "the projector recovered by itself, without a restart"
    );
    stop(vec![projector]).await?;
    // Assert: every restart came mid-log, and the tables are those of a clean build
    assert_eq!(proxy.outages(), 3);
    assert!(
        proxy.cut() >= 3,
        "each restart cut the projector's open connections: {} cut",
        proxy.cut()
    );
    assert!(
        proxy.accepted() > proxy.cut(),
        "the projector connected again after the restarts"
    );
    assert!(
        restarts.iter().all(|at| *at < total),
        "every restart came before the end of the log: {restarts:?} of {total}"
    );
    let dead = read_topic(&stack.kafka, &stack.topics().dead_letters()).await?;
    assert!(dead.is_empty(), "an outage is no poison: {dead:?}");
    equal_to_a_clean_build(&stack, &attestations, total).await
}
