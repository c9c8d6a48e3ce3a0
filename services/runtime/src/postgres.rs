//! Postgres: the connection pool and the schema migrations.
//!
//! Migrations are the numbered files in `migrations/` at the workspace root, embedded at build
//! time. [`migrate`] applies the missing ones in order, each in its own transaction, under an
//! advisory lock so that a migration Job and starting services never race. An applied
//! migration whose file changed afterwards is an error: the schema must be reviewable from the
//! files alone.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use secrecy::ExposeSecret as _;
use tokio_postgres::NoTls;

use crate::config::PostgresConfig;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Advisory lock key held while migrating ("resi-mig" in ASCII).
const MIGRATION_LOCK: i64 = 0x7265_7369_2d6d_6967;

/// What a failed Postgres statement says about retrying it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The data itself was refused (SQLSTATE class 22, data exception: a value out of range,
    /// a NUL in text; class 23, integrity constraint violation): the same statement over the
    /// same data fails again, so retrying it can only wedge whoever retries.
    Data,
    /// Anything else: a lost connection, a timeout, a serialization failure or deadlock (class
    /// 40), exhausted resources (53), an operator's intervention (57), a system error (58, XX),
    /// or a bug in a statement (42), which a fix and a restart mend. Retried, never skipped.
    Transient,
}

/// Classifies a failure by the SQLSTATE of the first Postgres error in its chain; a failure
/// with none (no answer at all, a pool timeout) is transient.
#[must_use]
pub fn fault_of(error: &anyhow::Error) -> Fault {
    let state = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<tokio_postgres::Error>())
        .and_then(tokio_postgres::Error::code);
    match state.map(|state| state.code().get(..2).unwrap_or_default()) {
        Some("22" | "23") => Fault::Data,
        _ => Fault::Transient,
    }
}

/// Parses the configured URL and applies the connection settings.
pub fn connection_config(config: &PostgresConfig) -> anyhow::Result<tokio_postgres::Config> {
    let mut parsed: tokio_postgres::Config = config
        .url
        .expose_secret()
        .parse()
        .context("postgres.url is not a valid connection string")?;
    parsed.connect_timeout(Duration::from_secs(config.connect_timeout_secs));
    // session settings, after any the URL gives
    let mut options: Vec<String> = parsed
        .get_options()
        .map(str::to_owned)
        .into_iter()
        .collect();
    if config.statement_timeout_ms > 0 {
        options.push(format!(
            "-c statement_timeout={}",
            config.statement_timeout_ms
        ));
    }
    if !config.jit {
        options.push("-c jit=off".to_owned());
    }
    if !options.is_empty() {
        parsed.options(options.join(" "));
    }
    if parsed.get_application_name().is_none() {
        parsed.application_name("resi");
    }
    Ok(parsed)
}

/// A connection pool. Connections are made lazily; call [`check`] to fail fast at start.
pub fn pool(config: &PostgresConfig) -> anyhow::Result<Pool> {
    pool_with_session(config, None)
}

/// A connection pool whose every new connection first runs `session` (e.g. `SET ROLE …`), so
/// that no connection of the pool is ever used without it.
pub fn pool_with_session(config: &PostgresConfig, session: Option<String>) -> anyhow::Result<Pool> {
    let manager = Manager::from_config(
        connection_config(config)?,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let timeout = Duration::from_secs(config.connect_timeout_secs);
    let mut builder = Pool::builder(manager)
        .max_size(config.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout));
    if let Some(session) = session {
        let session = std::sync::Arc::new(session);
        builder = builder.post_create(Hook::async_fn(move |client, _| {
            let session = std::sync::Arc::clone(&session);
            Box::pin(async move {
                client
                    .batch_execute(&session)
                    .await
                    .map_err(HookError::Backend)
            })
        }));
    }
    builder.build().context("failed to build the postgres pool")
}

/// The schema of `projection`'s live version, if it has one. Callers put it into SQL, so it
/// is checked to be a plain identifier.
pub async fn live_schema(
    client: &impl deadpool_postgres::GenericClient,
    projection: &str,
) -> anyhow::Result<Option<String>> {
    Ok(live_version(client, projection)
        .await?
        .map(|(_, schema)| schema))
}

/// `projection`'s live version and its schema (checked as [`live_schema`]'s), if it has one.
pub async fn live_version(
    client: &impl deadpool_postgres::GenericClient,
    projection: &str,
) -> anyhow::Result<Option<(String, String)>> {
    let Some(row) = client
        .query_opt(
            "SELECT version, schema_name FROM projection_versions
              WHERE projection = $1 AND status = 'live'",
            &[&projection],
        )
        .await
        .with_context(|| format!("failed to look up the live {projection} version"))?
    else {
        return Ok(None);
    };
    let schema: String = row.get(1);
    plain_identifier(&schema)?;
    Ok(Some((row.get(0), schema)))
}

/// Checks that `schema`, about to be put into SQL, is a plain identifier (letters, digits,
/// underscores): projection schema names are, and nothing else may pass.
///
/// # Errors
/// It is empty or holds any other character.
pub fn plain_identifier(schema: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !schema.is_empty()
            && schema
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_'),
        "projection schema name {schema:?} is not a plain identifier"
    );
    Ok(())
}

/// One connection from `pool`, with the error every caller would write.
pub async fn connection(pool: &Pool) -> anyhow::Result<deadpool_postgres::Client> {
    pool.get().await.context("failed to connect to postgres")
}

/// Takes one connection and runs `SELECT 1`.
#[tracing::instrument(skip_all)]
pub async fn check(pool: &Pool) -> anyhow::Result<()> {
    let client = pool.get().await.context("failed to connect to postgres")?;
    client
        .simple_query("SELECT 1")
        .await
        .context("postgres did not answer SELECT 1")?;
    Ok(())
}

/// A session on the `postgres` database of the server at `config`, to create or drop database
/// `name` (checked to be a plain identifier first), and the task driving it.
async fn admin_session(
    config: &PostgresConfig,
    name: &str,
) -> anyhow::Result<(
    tokio_postgres::Client,
    tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
)> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        bail!("database name {name:?} must be non-empty ASCII letters, digits and underscores");
    }
    let mut admin = connection_config(config)?;
    admin.dbname("postgres");
    let (client, connection) = admin
        .connect(NoTls)
        .await
        .context("failed to connect to the postgres database")?;
    Ok((client, tokio::spawn(connection)))
}

/// Ends a session from [`admin_session`] and surfaces its connection's failure.
async fn end_admin_session(
    client: tokio_postgres::Client,
    driver: tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
) -> anyhow::Result<()> {
    drop(client);
    driver
        .await
        .context("postgres connection task failed")?
        .context("postgres connection failed")
}

/// Creates database `name` through the server at `config` (connected to its `postgres`
/// database) unless it exists. Used by the local stack and the tests.
#[tracing::instrument(skip_all, fields(database = %name))]
pub async fn create_database_if_missing(config: &PostgresConfig, name: &str) -> anyhow::Result<()> {
    let (client, driver) = admin_session(config, name).await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .context("failed to look up the database")?
        .is_some();
    if !exists {
        match client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
        {
            Ok(()) => tracing::info!("created database"),
            // another process created it between the lookup and now
            Err(error)
                if error.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(error) => return Err(error).context("failed to create the database"),
        }
    }
    end_admin_session(client, driver).await
}

/// Drops database `name` through the server at `config`, terminating its sessions, if it
/// exists. Used by the tests and the benchmarks for the databases they made.
#[tracing::instrument(skip_all, fields(database = %name))]
pub async fn drop_database(config: &PostgresConfig, name: &str) -> anyhow::Result<()> {
    let (client, driver) = admin_session(config, name).await?;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .context("failed to drop the database")?;
    end_admin_session(client, driver).await
}

/// Versions applied to the database and versions this release has but the database lacks.
#[tracing::instrument(skip_all)]
pub async fn migration_status(pool: &Pool) -> anyhow::Result<(Vec<i32>, Vec<i32>)> {
    let client = pool.get().await.context("failed to connect to postgres")?;
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .context("failed to look for schema_migrations")?
        .get(0);
    let applied: Vec<i32> = if exists {
        client
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .context("failed to read schema_migrations")?
            .into_iter()
            .map(|row| row.get(0))
            .collect()
    } else {
        Vec::new()
    };
    let pending = MIGRATIONS
        .iter()
        .map(|(version, _, _)| *version)
        .filter(|version| !applied.contains(version))
        .collect();
    Ok((applied, pending))
}

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this call.
    pub applied: Vec<i32>,
    /// Versions that were already applied.
    pub already_applied: Vec<i32>,
}

fn checksum(sql: &str) -> String {
    blake3::hash(sql.as_bytes()).to_hex().to_string()
}

/// Applies every pending migration.
#[tracing::instrument(skip_all)]
pub async fn migrate(pool: &Pool) -> anyhow::Result<MigrationReport> {
    let mut client = pool.get().await.context("failed to connect to postgres")?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("failed to take the migration lock")?;
    let outcome = apply_pending(&mut client).await;
    // a failed unlock is harmless: the lock goes with the session when the pool drops it
    if let Err(error) = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
    {
        tracing::warn!(%error, "failed to release the migration lock");
    }
    outcome
}

async fn apply_pending(client: &mut deadpool_postgres::Client) -> anyhow::Result<MigrationReport> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .context("failed to create schema_migrations")?;
    let applied: BTreeMap<i32, (String, String)> = client
        .query("SELECT version, name, checksum FROM schema_migrations", &[])
        .await
        .context("failed to read schema_migrations")?
        .into_iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect();
    if let Some((&newest, (name, _))) = applied.last_key_value()
        && !MIGRATIONS.iter().any(|(version, _, _)| *version == newest)
    {
        bail!(
            "the database has migration {newest} ({name}), which this release does not know: it is older than the schema"
        );
    }
    let mut report = MigrationReport {
        applied: Vec::new(),
        already_applied: Vec::new(),
    };
    for &(version, name, sql) in MIGRATIONS {
        let sum = checksum(sql);
        if let Some((_, recorded)) = applied.get(&version) {
            if *recorded != sum {
                bail!(
                    "migration {version} ({name}) was changed after it was applied; add a new migration instead"
                );
            }
            report.already_applied.push(version);
            continue;
        }
        let transaction = client
            .transaction()
            .await
            .context("failed to begin a migration transaction")?;
        transaction
            .batch_execute(sql)
            .await
            .with_context(|| format!("migration {version} ({name}) failed"))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                &[&version, &name, &sum],
            )
            .await
            .context("failed to record the migration")?;
        transaction
            .commit()
            .await
            .with_context(|| format!("failed to commit migration {version}"))?;
        tracing::info!(version, name, "applied migration");
        report.applied.push(version);
    }
    Ok(report)
}
