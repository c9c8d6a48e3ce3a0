//! `resi-bench gateway`: `GET /api/v1/zipcode-assignments/current` under wrk on loopback at a
//! fixed rate, every request signed by a different (hotkey, timestamp) as the network's miners
//! sign them (bittensor-wallet's Keypair), beside `GET /healthcheck` at the same rate on the
//! same gateway (no signature, no replay record, no limit: the HTTP floor); and the CPU cost of
//! one signature verification.
//!
//! The epoch is opened by the coordinator's own code and folded by the projector, on the local
//! stack, so the request reads what production reads. Each signed request is accepted once, so
//! wrk walks a list of distinct signed paths (each thread its own share).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use resi_projector::engine::ProjectionKind;
use serde_json::{Value, json};

/// Signed requests per hotkey: distinct timestamps within the ±300 s window.
const PER_KEY: usize = 200;

fn wrk_script(paths: &std::path::Path, delay_ms: f64) -> String {
    let mut lua = String::new();
    let _ = writeln!(lua, "local threads = 0");
    let _ = writeln!(
        lua,
        "function setup(thread) thread:set('share', threads); threads = threads + 1 end"
    );
    let _ = writeln!(
        lua,
        "function init(args) paths = {{}}; local n = 0; for line in io.lines('{}') do \
           if n % 2 == share then table.insert(paths, line) end; n = n + 1 end; next_path = 0 end",
        paths.display()
    );
    let _ = writeln!(
        lua,
        "function request() next_path = next_path % #paths + 1; return wrk.format('GET', paths[next_path]) end"
    );
    if delay_ms > 0.0 {
        let _ = writeln!(lua, "function delay() return {delay_ms:.3} end");
    }
    lua
}

/// Opens an epoch, starts the gateway and measures.
pub async fn bench_gateway(seconds: u64, rate: u32, connections: u32) -> anyhow::Result<()> {
    let harness = resi_tests::harness::Harness::new().await?;
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    {
        let mut client = resi_runtime::postgres::connection(&pool).await?;
        let rows = resi_coordinator::reference::parse(resi_coordinator::reference::EMBEDDED)?;
        resi_coordinator::reference::import(&mut client, &rows).await?;
    }
    let mut coordinator_config = resi_coordinator::CoordinatorServiceConfig {
        postgres: harness.postgres.clone(),
        kafka: harness.kafka.clone(),
        ..resi_coordinator::CoordinatorServiceConfig::default()
    };
    coordinator_config.coordinator.nonce_secret =
        resi_coordinator::secrets::Secret::new("bench secret");
    let mut coordinator = resi_coordinator::Coordinator::build(&coordinator_config).await?;
    coordinator.tick(Utc::now()).await?;
    // the scores projection too, so that every request pays the ban lookup production pays
    let projector = harness
        .spawn_projector(&[
            (ProjectionKind::Epochs, "v1"),
            (ProjectionKind::Scores, "v1"),
        ])
        .await?;
    harness.projected(ProjectionKind::Epochs, "v1").await?;
    harness.projected(ProjectionKind::Scores, "v1").await?;
    projector.stop().await?;

    // distinct signed requests, more than the run sends
    let wanted = usize::try_from(u64::from(rate) * (seconds + 5))? * 5 / 4;
    let keys = wanted.div_ceil(PER_KEY);
    let now = Utc::now().timestamp();
    let mut messages = Vec::with_capacity(keys * PER_KEY);
    for key in 0..keys {
        for offset in 0..PER_KEY {
            let timestamp = now - i64::try_from(offset)?;
            messages.push(json!({
                "uri": format!("//bench/{key}"),
                "message": format!("zipcode:assignment:current:{timestamp}"),
                "wrap": false,
            }));
        }
    }
    let request_file = tempfile::NamedTempFile::new()?;
    std::fs::write(request_file.path(), serde_json::to_vec(&messages)?)?;
    let signing = Instant::now();
    let signed = resi_tests::run_python(
        "sign_requests.py",
        &[&request_file.path().to_string_lossy()],
    )?;
    let signed: Vec<(String, String)> = signed
        .as_array()
        .context("signatures")?
        .iter()
        .map(|item| {
            (
                item["hotkey"].as_str().unwrap_or_default().to_owned(),
                item["signature"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    println!(
        "gateway: {} requests signed by {keys} hotkeys with bittensor-wallet in {:.1} s",
        signed.len(),
        signing.elapsed().as_secs_f64()
    );

    // the CPU cost of one verification, on one core, before the server shares them
    let started = Instant::now();
    let sample = signed.len().min(5_000);
    for (index, (hotkey, signature)) in signed.iter().take(sample).enumerate() {
        let message = messages[index]["message"].as_str().unwrap_or_default();
        resi_gateway::auth::verify(hotkey, message, signature)
            .map_err(|error| anyhow::anyhow!("a bench signature failed: {error}"))?;
    }
    #[allow(clippy::cast_precision_loss, reason = "a few thousand")]
    let per_verify = started.elapsed().as_secs_f64() / sample as f64;

    let directory = tempfile::tempdir()?;
    let metagraph = directory.path().join("metagraph.json");
    let mut neurons: Vec<Value> = Vec::new();
    for (uid, (hotkey, _)) in signed.iter().step_by(PER_KEY).enumerate() {
        neurons.push(json!({"uid": uid, "hotkey": hotkey, "coldkey": hotkey, "stake": 1.0}));
    }
    std::fs::write(
        &metagraph,
        serde_json::to_vec(&json!({"netuid": 46, "block": 1, "neurons": neurons}))?,
    )?;
    let mut paths = String::new();
    for (index, (hotkey, signature)) in signed.iter().enumerate() {
        let timestamp = now - i64::try_from(index % PER_KEY)?;
        let _ = writeln!(
            paths,
            "/api/v1/zipcode-assignments/current?hotkey={hotkey}&signature={signature}&timestamp={timestamp}"
        );
    }
    let path_file = directory.path().join("paths.txt");
    std::fs::write(&path_file, paths)?;
    std::fs::write(
        directory.path().join("health.txt"),
        "/healthcheck\n/healthcheck\n",
    )?;

    let mut config = resi_gateway::GatewayServiceConfig {
        postgres: resi_runtime::config::PostgresConfig {
            pool_size: 16,
            ..harness.postgres.clone()
        },
        kafka: harness.kafka.clone(),
        s3: harness.s3.clone(),
        ..resi_gateway::GatewayServiceConfig::default()
    };
    config.gateway.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.gateway.metagraph_file = Some(metagraph);
    config.gateway.limits.assignments = resi_gateway::Limit {
        requests: u32::MAX,
        window_secs: 60,
    };
    let gateway = resi_gateway::Gateway::build(&config).await?;
    let address = gateway.local_addr()?;
    let (stop, shutdown) = resi_runtime::shutdown::Shutdown::new();
    let server = tokio::spawn(gateway.run(shutdown));

    // wrk paces each connection by a delay between its requests, so the rate achieved is below
    // the offered one by the response time: more connections, longer delays, closer rates
    let connections = connections.max(1);
    let delay = f64::from(connections) * 1_000.0 / f64::from(rate);
    println!(
        "gateway: wrk -t2 -c{connections} on loopback at {rate} requests/s for {seconds} s, gateway, Postgres and wrk on the same 2 cores"
    );
    println!(
        "{:<12} {:>12} {:>10} {:>10} {:>8}",
        "request", "achieved", "p50 ms", "p99 ms", "non-2xx"
    );
    // warm the pool's connections and the server (signed paths are spent once, so not those)
    let health = directory.path().join("health.txt");
    tokio::task::block_in_place(|| {
        crate::api::wrk(address, &wrk_script(&health, delay), connections, 5)
    })?;
    for (name, file) in [("healthcheck", health.clone()), ("current", path_file)] {
        let figures = tokio::task::block_in_place(|| {
            crate::api::wrk(address, &wrk_script(&file, delay), connections, seconds)
        })?;
        println!(
            "{name:<12} {:>12.0} {:>10.2} {:>10.2} {:>8}",
            figures.requests_per_second, figures.p50_ms, figures.p99_ms, figures.non_2xx,
        );
    }
    println!(
        "gateway: one signature verification costs {:.1} µs of one core ({} verified)",
        per_verify * 1e6,
        sample
    );
    stop.trigger();
    tokio::time::timeout(Duration::from_secs(30), server).await???;
    resi_tests::drop_database(&harness.postgres).await?;
    Ok(())
}
