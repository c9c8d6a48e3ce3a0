//! Helpers shared by the integration suites: real endpoints from the environment (as
//! `scripts/stack env` prints them), unique names so tests never share state, and the Python
//! interpreter that has pyarrow.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use resi_projector::ProjectorServiceConfig;
use resi_projector::engine::{ProjectionKind, ProjectionTarget};
use resi_runtime::config::{KafkaConfig, PostgresConfig, S3Config};
use secrecy::SecretString;

pub mod api;
pub mod broker;
pub mod events;
pub mod faults;
pub mod harness;
pub mod stack;

/// The workspace root.
#[must_use]
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A name no other test (in this or a concurrent run) uses: `{prefix}_{pid}_{n}_{nanos}`.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Postgres settings pointing at a fresh, uniquely named database (created, not migrated).
pub async fn fresh_database() -> anyhow::Result<PostgresConfig> {
    let server = env_or(
        "RESI_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let admin = PostgresConfig {
        url: SecretString::from(server.clone()),
        ..PostgresConfig::default()
    };
    let name = unique_name(&database_prefix());
    resi_runtime::postgres::create_database_if_missing(&admin, &name).await?;
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    Ok(PostgresConfig {
        url: SecretString::from(format!("{base}/{name}")),
        pool_size: 4,
        ..PostgresConfig::default()
    })
}

/// `resi_test`, followed by `_{run}` when `RESI_TEST_RUN` names the run (ASCII letters and
/// digits): `scripts/test` drops that run's databases when it ends.
fn database_prefix() -> String {
    match std::env::var("RESI_TEST_RUN") {
        Ok(run) if !run.is_empty() && run.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            format!("resi_test_{run}")
        }
        _ => "resi_test".to_owned(),
    }
}

/// Drops the database `config` points at (one [`fresh_database`] made), even with sessions
/// still connected: a benchmark leaves gigabytes behind otherwise.
pub async fn drop_database(config: &PostgresConfig) -> anyhow::Result<()> {
    use secrecy::ExposeSecret as _;
    let name = config
        .url
        .expose_secret()
        .rsplit_once('/')
        .map(|(_, name)| name.to_owned())
        .unwrap_or_default();
    resi_runtime::postgres::drop_database(config, &name).await
}

/// Broker settings with a unique topic prefix and small partition counts.
#[must_use]
pub fn fresh_kafka() -> KafkaConfig {
    let mut config = KafkaConfig {
        brokers: env_or("RESI_TEST_KAFKA_BROKERS", "127.0.0.1:9092"),
        topic_prefix: format!("{}.", unique_name("t")),
        ..KafkaConfig::default()
    };
    config.partitions.uploads = 2;
    config.partitions.attestations = 3;
    config.partitions.dead_letters = 1;
    config
}

/// Settings of a projector that folds `targets` (projection, version) from `kafka` into
/// `postgres`, over every partition.
#[must_use]
pub fn projector_config(
    postgres: &PostgresConfig,
    kafka: &KafkaConfig,
    targets: &[(ProjectionKind, &str)],
) -> ProjectorServiceConfig {
    let mut config = ProjectorServiceConfig {
        postgres: postgres.clone(),
        kafka: kafka.clone(),
        ..ProjectorServiceConfig::default()
    };
    config.projector.projections = targets
        .iter()
        .map(|(projection, version)| ProjectionTarget::new(*projection, *version))
        .collect();
    config
}

/// S3 settings for a fresh, uniquely named bucket (created).
pub async fn fresh_bucket() -> anyhow::Result<(S3Config, aws_sdk_s3::Client)> {
    let config = S3Config {
        endpoint: Some(env_or("RESI_TEST_S3_ENDPOINT", "http://127.0.0.1:5000")),
        bucket: unique_name("resi-test").replace('_', "-"),
        force_path_style: true,
        access_key_id: Some("test".to_owned()),
        secret_access_key: Some(SecretString::from("test")),
        ..S3Config::default()
    };
    let client = resi_runtime::s3::client(&config).await;
    client
        .create_bucket()
        .bucket(&config.bucket)
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "failed to create bucket: {}",
                aws_sdk_s3::error::DisplayErrorContext(error)
            )
        })?;
    Ok((config, client))
}

/// The Python that has pyarrow and pandas (the stack's venv unless `RESI_PYTHON` says otherwise).
#[must_use]
pub fn python() -> PathBuf {
    std::env::var_os("RESI_PYTHON").map_or_else(
        || workspace_root().join(".stack/venv/bin/python"),
        PathBuf::from,
    )
}

/// Runs a script from `tests/support/` with the stack's Python and parses its JSON output.
pub fn run_python(script: &str, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let path = workspace_root().join("tests/support").join(script);
    let output = Command::new(python())
        .arg(&path)
        .args(args)
        .output()
        .with_context(|| format!("failed to run {} (is the stack up?)", python().display()))?;
    if !output.status.success() {
        bail!(
            "{script} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).with_context(|| format!("{script} printed no JSON"))
}

/// Pause between two checks of [`eventually`].
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns `Some`, or fails after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
