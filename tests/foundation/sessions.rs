//! Session settings every service's connections carry, on a real Postgres.

use resi_runtime::config::PostgresConfig;
use resi_runtime::postgres::pool;
use resi_tests::fresh_database;
use secrecy::{ExposeSecret as _, SecretString};

async fn show(config: &PostgresConfig, setting: &str) -> anyhow::Result<String> {
    let client = pool(config)?.get().await?;
    Ok(client
        .query_one(&format!("SHOW {setting}"), &[])
        .await?
        .get(0))
}

#[tokio::test]
async fn sessions_run_without_jit_and_with_the_statement_timeout_unless_configured()
-> anyhow::Result<()> {
    // Arrange
    let default = fresh_database().await?;
    let with_jit = PostgresConfig {
        jit: true,
        statement_timeout_ms: 0,
        ..default.clone()
    };
    // options the URL gives are kept beside the configured ones
    let separator = if default.url.expose_secret().contains('?') {
        '&'
    } else {
        '?'
    };
    let with_url_options = PostgresConfig {
        url: SecretString::from(format!(
            "{}{separator}options=-c%20work_mem%3D7MB",
            default.url.expose_secret()
        )),
        ..default.clone()
    };

    // Act / Assert
    assert_eq!(show(&default, "jit").await?, "off");
    assert_eq!(show(&default, "statement_timeout").await?, "30s");
    // left to the server's own configuration, not set by the client
    let jit_source: String = pool(&with_jit)?
        .get()
        .await?
        .query_one("SELECT source FROM pg_settings WHERE name = 'jit'", &[])
        .await?
        .get(0);
    assert_ne!(jit_source, "client");
    assert_eq!(show(&with_jit, "statement_timeout").await?, "0");
    assert_eq!(show(&with_url_options, "work_mem").await?, "7MB");
    assert_eq!(show(&with_url_options, "jit").await?, "off");
    Ok(())
}

#[tokio::test]
async fn failures_are_classified_by_what_postgres_says() -> anyhow::Result<()> {
    use anyhow::Context as _;
    use resi_runtime::postgres::{Fault, fault_of};

    // Arrange
    let config = fresh_database().await?;
    let client = pool(&config)?.get().await?;
    client
        .batch_execute("CREATE TABLE faults (id integer PRIMARY KEY, name text, small smallint)")
        .await?;
    client
        .execute("INSERT INTO faults VALUES (1, 'one', 1)", &[])
        .await?;
    let fault = |result: Result<u64, tokio_postgres::Error>| {
        let error = result
            .context("a statement failed")
            .expect_err("the statement fails");
        fault_of(&error)
    };

    // Act / Assert: the data itself is refused
    let nul = "a\0b";
    assert_eq!(
        fault(
            client
                .execute("INSERT INTO faults VALUES (2, $1, 1)", &[&nul])
                .await
        ),
        Fault::Data,
        "a NUL byte in text (22021)"
    );
    assert_eq!(
        fault(
            client
                .execute("INSERT INTO faults VALUES (1, 'again', 1)", &[])
                .await
        ),
        Fault::Data,
        "a duplicate key (23505)"
    );
    assert_eq!(
        fault(
            client
                .execute("INSERT INTO faults VALUES (3, 'big', 40000)", &[])
                .await
        ),
        Fault::Data,
        "a value out of a column's range (22003)"
    );
    // anything else is retried
    assert_eq!(
        fault(
            client
                .execute("INSERT INTO no_such_table VALUES (1)", &[])
                .await
        ),
        Fault::Transient,
        "a statement that names nothing (42P01): a bug a release mends"
    );
    assert_eq!(
        fault_of(&anyhow::anyhow!("the pool timed out")),
        Fault::Transient,
        "no answer from the database at all"
    );
    Ok(())
}
