//! The projector process killed with SIGKILL while it folds small batches, restarted each
//! time, ends with the same tables as a clean run.

use std::time::Duration;

use anyhow::Context as _;
use resi_events::{CanonicalListing, Event};
use resi_projector::engine::ProjectionKind;
use resi_tests::eventually;
use secrecy::ExposeSecret as _;

use crate::consensus::consensus_tables;
use crate::listing::{HOUR, START, listing_tables};
use resi_tests::events::report;
use resi_tests::stack::{Stack, stop};

/// Twelve miners, two uploads each, over 400 listings: several thousand attestations.
pub fn many() -> Vec<Event> {
    let mut events = Vec::new();
    for miner in 0..12_u32 {
        for upload in 0..2_i64 {
            for zpid in 0..400_u32 {
                if (zpid + miner) % 4 >= 2 {
                    continue;
                }
                let listing = CanonicalListing {
                    listing_id: (5_000 + zpid).to_string(),
                    price_usd: Some(
                        200_000 + i64::from(zpid) * 100 + i64::from(miner % 3) * 5 + upload,
                    ),
                    home_status: Some(if upload == 0 { "FOR_SALE" } else { "PENDING" }.into()),
                    zip_code: Some(format!("{:05}", 78_700 + zpid % 7)),
                    state: Some("TX".into()),
                    ..CanonicalListing::default()
                };
                let at = START + (upload * 48 + i64::from(miner)) * HOUR;
                let trust = 0.3 + f64::from(miner) / 20.0;
                events.push(report(
                    &format!("m{miner:02}"),
                    (&format!("u{upload}"), u64::from(zpid)),
                    at,
                    trust,
                    listing,
                ));
            }
        }
    }
    events
}

#[tokio::test]
async fn a_projector_killed_mid_batch_restarts_to_the_tables_of_a_clean_run() -> anyhow::Result<()>
{
    // Arrange
    let stack = Stack::new().await?;
    let attestations = stack.topics().attestations();
    let events = many();
    let total = i64::try_from(events.len())?;
    stack.publish(&attestations, &events).await?;
    let binary = env!("CARGO_BIN_EXE_resi-test-projector");
    let config_dir = tempfile::tempdir()?;
    let config = config_dir.path().join("projector.toml");
    std::fs::write(
        &config,
        format!(
            "[postgres]\nurl = \"{}\"\n\n[kafka]\nbrokers = \"{}\"\ntopic_prefix = \"{}\"\n\n\
             [projector]\nbatch_max_events = 40\n\n\
             [[projector.projections]]\nprojection = \"consensus\"\nversion = \"v1\"\n\n\
             [[projector.projections]]\nprojection = \"listing\"\nversion = \"v1\"\n",
            stack.postgres.url.expose_secret(),
            stack.kafka.brokers,
            stack.kafka.topic_prefix
        ),
    )?;
    let log = config_dir.path().join("projector.log");
    let start = || {
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let mut command = tokio::process::Command::new(binary);
        command
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(output.try_clone()?)
            .stderr(output)
            .kill_on_drop(true);
        // the file alone configures it, not the stack's environment
        for (name, _) in std::env::vars() {
            if name.starts_with("RESI__") {
                command.env_remove(name);
            }
        }
        command.spawn().context("failed to start resi-projector")
    };

    // Act: three times, start the process and kill it with SIGKILL while it folds
    let mut kills = Vec::new();
    for round in 1..=3_i64 {
        let mut child = start()?;
        let target = total * round / 4;
        let at = consensus_folded(&stack, target).await.with_context(|| {
            format!(
                "the projector's log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })?;
        child.start_kill()?; // SIGKILL
        child.wait().await?;
        kills.push(at);
    }
    assert!(
        kills.iter().all(|at| *at < total),
        "every kill came before the end of the log: {kills:?} of {total}"
    );

    // Act: a last start runs to the end; a clean build of both projections beside it
    let mut child = start()?;
    stack.caught_up("consensus", "v1", &attestations).await?;
    stack.caught_up("listing", "v1", &attestations).await?;
    child.start_kill()?;
    child.wait().await?;

    // Assert: the crashed run's tables equal the clean run's
    equal_to_a_clean_build(&stack, &attestations, total).await
}

/// Waits until consensus has folded `target` attestations or more; how many it has.
pub async fn consensus_folded(stack: &Stack, target: i64) -> anyhow::Result<i64> {
    eventually(
        Duration::from_secs(120),
        "the projector to fold further",
        || async {
            let client = stack.pool.get().await?;
            let folded: i64 = client
                .query_one(
                    "SELECT coalesce(sum(next_offset), 0)::bigint FROM projection_checkpoints
                     WHERE projection = 'consensus'",
                    &[],
                )
                .await?
                .get(0);
            Ok((folded >= target).then_some(folded))
        },
    )
    .await
}

/// Builds consensus v1 and listing afresh beside `consensus_v1` and `listing_v1` (as
/// `consensus_v1_clean` and `listing_v2`) and checks that their tables are equal, with `total`
/// attestations: nothing lost, nothing doubled.
pub async fn equal_to_a_clean_build(
    stack: &Stack,
    attestations: &str,
    total: i64,
) -> anyhow::Result<()> {
    let clean = vec![
        stack
            .spawn(ProjectionKind::Consensus, "v1_clean", None)
            .await?,
        stack.spawn(ProjectionKind::Listing, "v2", None).await?,
    ];
    stack
        .caught_up("consensus", "v1_clean", attestations)
        .await?;
    stack.caught_up("listing", "v2", attestations).await?;
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
    stop(clean).await
}
