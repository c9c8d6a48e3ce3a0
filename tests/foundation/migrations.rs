//! Migrations on a real Postgres: applied once, in order, safely in parallel, and never edited.

use resi_runtime::postgres::{migrate, pool};
use resi_tests::fresh_database;

#[tokio::test]
async fn migrations_apply_once() -> anyhow::Result<()> {
    // Arrange
    let database = pool(&fresh_database().await?)?;

    // Act
    let first = migrate(&database).await?;
    let second = migrate(&database).await?;

    // Assert
    assert!(
        !first.applied.is_empty() && first.already_applied.is_empty(),
        "{first:?}"
    );
    assert!(second.applied.is_empty(), "{second:?}");
    assert_eq!(second.already_applied, first.applied);
    let client = database.get().await?;
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('projection_versions', 'projection_checkpoints')",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(tables, 2);
    Ok(())
}

#[tokio::test]
async fn concurrent_migrators_take_turns() -> anyhow::Result<()> {
    let database = pool(&fresh_database().await?)?;
    let (left, right) = tokio::join!(migrate(&database), migrate(&database));
    let (left, right) = (left?, right?);
    let mut applied = [left.applied, right.applied].concat();
    applied.sort_unstable();
    let recorded: i64 = database
        .get()
        .await?
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await?
        .get(0);
    assert_eq!(
        applied.len() as i64,
        recorded,
        "each migration applied by exactly one of them"
    );
    Ok(())
}

/// Migrates a fresh database, tampers with its bookkeeping, and returns what the next
/// `migrate` says.
async fn migrate_after(tampering: &str) -> anyhow::Result<String> {
    let database = pool(&fresh_database().await?)?;
    migrate(&database).await?;
    database.get().await?.execute(tampering, &[]).await?;
    let error = migrate(&database)
        .await
        .expect_err("a tampered schema must be refused");
    Ok(format!("{error:#}"))
}

#[tokio::test]
async fn an_edited_migration_is_refused() -> anyhow::Result<()> {
    let error =
        migrate_after("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1").await?;
    assert!(error.contains("changed after it was applied"), "{error}");
    Ok(())
}

#[tokio::test]
async fn a_database_newer_than_the_release_is_refused() -> anyhow::Result<()> {
    let error = migrate_after(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')",
    )
    .await?;
    assert!(error.contains("does not know"), "{error}");
    Ok(())
}
