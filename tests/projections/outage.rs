//! Postgres restarted under the projector, three times in the middle of its batches: the same
//! projector, never restarted, ends with the tables of a clean run; nothing is lost, doubled or
//! dead-lettered.

use std::time::Duration;

use resi_projector::engine::ProjectionKind;
use resi_tests::faults::TcpFault;
use resi_tests::stack::{Stack, stop};
use resi_tests::{eventually, harness::read_topic, projector_config};
use secrecy::{ExposeSecret as _, SecretString};

use crate::consensus::consensus_tables;
use crate::crash::many;
use crate::listing::listing_tables;

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
    let position = || async {
        let client = stack.pool.get().await?;
        let folded: i64 = client
            .query_one(
                "SELECT coalesce(sum(next_offset), 0)::bigint FROM projection_checkpoints
                 WHERE projection = 'consensus'",
                &[],
            )
            .await?
            .get(0);
        anyhow::Ok(folded)
    };

    // Act: three restarts of Postgres while the projector folds
    let projector = Stack::start(&config).await?;
    let mut restarts = Vec::new();
    for round in 1..=3_i64 {
        let target = total * round / 4;
        let at = eventually(
            Duration::from_secs(120),
            "the projector to fold further",
            || async {
                let folded = position().await?;
                Ok((folded >= target).then_some(folded))
            },
        )
        .await?;
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
    let clean = vec![
        stack
            .spawn(ProjectionKind::Consensus, "v1_clean", None)
            .await?,
        stack.spawn(ProjectionKind::Listing, "v2", None).await?,
    ];
    stack
        .caught_up("consensus", "v1_clean", &attestations)
        .await?;
    stack.caught_up("listing", "v2", &attestations).await?;

    // Assert: every restart came mid-log, and the tables are those of the clean run
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
    assert_eq!(
        stack.dump(&consensus_tables("consensus_v1")).await?,
        stack.dump(&consensus_tables("consensus_v1_clean")).await?
    );
    assert_eq!(
        stack.dump(&listing_tables("listing_v1")).await?,
        stack.dump(&listing_tables("listing_v2")).await?
    );
    let client = stack.pool.get().await?;
    let attested: i64 = client
        .query_one("SELECT count(*) FROM listing_v1.miner_attestations", &[])
        .await?
        .get(0);
    assert_eq!(attested, total, "nothing lost, nothing doubled");
    let dead = read_topic(&stack.kafka, &stack.topics().dead_letters()).await?;
    assert!(dead.is_empty(), "an outage is no poison: {dead:?}");
    stop(clean).await
}
