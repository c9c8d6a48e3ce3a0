//! Versions as an operator runs them: `resi replay` builds v2 beside the live v1, `resi promote`
//! switches readers while they query without pause, a lagging version is refused, and `drop`
//! removes only what is not live.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use resi_ctl::{Command, CtlConfig};
use resi_projector::engine::ProjectionKind;
use resi_projector::{operate, versions};
use resi_tests::eventually;

use crate::consensus::crafted;
use crate::listing::history;
use resi_tests::stack::{Stack, stop};

/// What one read of the live consensus saw: its schema, listing count and checksum.
type Seen = (String, i64, String);

fn checksum(schema: &str) -> String {
    format!(
        "SELECT count(*), md5(string_agg(listing_id || ':' || coalesce(price_usd::text, '-')
                || ':' || coalesce(home_status, '-'), ',' ORDER BY listing_id))
         FROM {schema}.consensus_listings"
    )
}

/// One request as the API makes it: a read-only snapshot, the live schema resolved once.
async fn read_live(pool: &deadpool_postgres::Pool) -> anyhow::Result<Seen> {
    let mut client = pool.get().await?;
    let transaction = client
        .build_transaction()
        .isolation_level(deadpool_postgres::tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let schema: String = transaction
        .query_one(
            "SELECT schema_name FROM projection_versions WHERE projection = 'consensus' AND status = 'live'",
            &[],
        )
        .await?
        .get(0);
    let row = transaction.query_one(&checksum(&schema), &[]).await?;
    transaction.commit().await?;
    Ok((schema, row.get(0), row.get(1)))
}

#[tokio::test]
async fn promotion_under_continuous_reads_is_atomic_refused_when_behind_and_drop_spares_live()
-> anyhow::Result<()> {
    // Arrange: v1 live and caught up
    let stack = Stack::new().await?;
    let attestations = stack.topics().attestations();
    let mut events = history();
    events.extend(crafted());
    stack.publish(&attestations, &events).await?;
    let live = stack.spawn(ProjectionKind::Consensus, "v1", None).await?;
    stack.caught_up("consensus", "v1", &attestations).await?;
    let ctl = CtlConfig {
        postgres: stack.postgres.clone(),
        kafka: stack.kafka.clone(),
        ..CtlConfig::default()
    };

    // Act: the operator replays v2 until it has caught up
    resi_ctl::run(
        Command::Replay(resi_ctl::ReplayArgs {
            projection: "consensus".into(),
            version: Some("v2".into()),
            algorithm: None,
            params: Vec::new(),
            restart: false,
            until_caught_up: true,
            progress_secs: 1,
        }),
        &ctl,
    )
    .await?;
    let client = stack.pool.get().await?;
    let v1: (i64, String) = {
        let row = client.query_one(&checksum("consensus_v1"), &[]).await?;
        (row.get(0), row.get(1))
    };
    let v2: (i64, String) = {
        let row = client.query_one(&checksum("consensus_v2"), &[]).await?;
        (row.get(0), row.get(1))
    };
    assert_eq!(v1.0, v2.0, "both versions hold every listing");
    assert_ne!(v1.1, v2.1, "the algorithms disagree on the crafted listing");

    // Act: readers query the live version without pause while it is promoted back and forth
    let stopped = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let pool = stack.pool.clone();
        let stopped = Arc::clone(&stopped);
        let reads = Arc::clone(&reads);
        readers.push(tokio::spawn(async move {
            let mut seen: Vec<anyhow::Result<Seen>> = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                seen.push(read_live(&pool).await);
                reads.fetch_add(1, Ordering::Relaxed);
            }
            seen
        }));
    }
    let more_reads = || {
        let target = reads.load(Ordering::Relaxed) + 30;
        let reads = Arc::clone(&reads);
        async move {
            eventually(Duration::from_secs(30), "readers to keep reading", || {
                let done = reads.load(Ordering::Relaxed) >= target;
                async move { Ok(done.then_some(())) }
            })
            .await
        }
    };
    more_reads().await?;
    let promoted = operate::promote(
        &stack.pool,
        &stack.kafka,
        ProjectionKind::Consensus,
        "v2",
        0,
        false,
    )
    .await?;
    assert_eq!(promoted.previous.as_deref(), Some("v1"));
    more_reads().await?;
    resi_ctl::run(
        Command::Promote(resi_ctl::PromoteArgs {
            projection: "consensus".into(),
            version: "v1".into(),
            max_lag: 0,
            force: false,
        }),
        &ctl,
    )
    .await?;
    more_reads().await?;
    operate::promote(
        &stack.pool,
        &stack.kafka,
        ProjectionKind::Consensus,
        "v2",
        0,
        false,
    )
    .await?;
    more_reads().await?;
    stopped.store(true, Ordering::Relaxed);

    // Assert: no read failed, and each saw one whole version
    let mut schemas = BTreeSet::new();
    for reader in readers {
        for seen in reader.await? {
            let (schema, count, sum) = seen?;
            let want = match schema.as_str() {
                "consensus_v1" => &v1,
                "consensus_v2" => &v2,
                other => panic!("read an unexpected schema {other}"),
            };
            assert_eq!(
                (count, &sum),
                (want.0, &want.1),
                "a read of {schema} saw a mix"
            );
            schemas.insert(schema);
        }
    }
    assert_eq!(schemas.len(), 2, "readers saw both versions: {schemas:?}");
    stop(vec![live]).await?;

    // Act + Assert: a version that has not caught up is refused, unless forced
    let mut raw = stack.pool.get().await?;
    versions::ensure(
        &mut raw,
        "consensus",
        "v2_late",
        ProjectionKind::Consensus.ddl(),
    )
    .await?;
    let refused = operate::promote(
        &stack.pool,
        &stack.kafka,
        ProjectionKind::Consensus,
        "v2_late",
        0,
        false,
    )
    .await;
    let message = format!(
        "{:#}",
        refused
            .err()
            .ok_or_else(|| anyhow::anyhow!("promoted a version that is behind"))?
    );
    assert!(message.contains("has not caught up"), "{message}");
    let forced = operate::promote(
        &stack.pool,
        &stack.kafka,
        ProjectionKind::Consensus,
        "v2_late",
        0,
        true,
    )
    .await?;
    assert_eq!(forced.lag, i64::try_from(events.len())?);

    // Act + Assert: drop spares the live version and, unforced, one still building
    assert!(
        operate::drop_version(&stack.pool, ProjectionKind::Consensus, "v2_late", true)
            .await
            .is_err()
    );
    versions::ensure(
        &mut raw,
        "consensus",
        "v1_next",
        ProjectionKind::Consensus.ddl(),
    )
    .await?;
    assert!(
        operate::drop_version(&stack.pool, ProjectionKind::Consensus, "v1_next", false)
            .await
            .is_err()
    );
    operate::drop_version(&stack.pool, ProjectionKind::Consensus, "v1_next", true).await?;
    resi_ctl::run(
        Command::Drop(resi_ctl::DropArgs {
            projection: "consensus".into(),
            version: "v1".into(),
            force: false,
        }),
        &ctl,
    )
    .await?;
    let listed: Vec<(String, String)> = operate::versions(&raw)
        .await?
        .into_iter()
        .filter(|info| info.projection == "consensus")
        .map(|info| (info.version, info.status))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("v2".to_owned(), "retired".to_owned()),
            ("v2_late".to_owned(), "live".to_owned()),
        ]
    );
    let schemas_left: i64 = raw
        .query_one(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name IN ('consensus_v1', 'consensus_v1_next')",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(schemas_left, 0, "dropped versions leave no schema behind");
    Ok(())
}
