//! Projection versions: one schema each, `building`, `live` or `retired`, recorded in
//! `projection_versions`.

use std::collections::BTreeMap;

use anyhow::Context as _;
use deadpool_postgres::GenericClient;

/// The role the API reads as: SELECT only, created by the migrations.
pub const READER_ROLE: &str = "resi_api";

/// Whether `name` is safe to splice into SQL as an identifier (schemas and versions are).
#[must_use]
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

/// The schema of a projection version: `{projection}_{version}`.
pub fn schema_name(projection: &str, version: &str) -> anyhow::Result<String> {
    let schema = format!("{projection}_{version}");
    anyhow::ensure!(
        is_identifier(&schema),
        "projection version {version:?} does not make a plain schema name ({schema:?}): use lower-case letters, digits and _"
    );
    Ok(schema)
}

/// Takes the lock every change of `projection_versions` holds until its transaction ends.
pub async fn lock(transaction: &impl GenericClient) -> anyhow::Result<()> {
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('projection_versions'))",
            &[],
        )
        .await
        .context("failed to lock projection versions")?;
    Ok(())
}

/// Makes sure the version exists with its tables (`ddl` with `{schema}` replaced), recorded as
/// `building`, and makes it live when the projection has no live version yet (the first
/// version of a projection serves as soon as it exists). Returns the version's schema and
/// status. Safe to run from several instances at once.
pub async fn ensure(
    client: &mut deadpool_postgres::Client,
    projection: &str,
    version: &str,
    ddl: &str,
) -> anyhow::Result<(String, String)> {
    let schema = schema_name(projection, version)?;
    let transaction = client
        .transaction()
        .await
        .context("failed to begin the version transaction")?;
    // one writer of projection_versions at a time, so two instances cannot both go live
    lock(&transaction).await?;
    transaction
        .batch_execute(&ddl.replace("{schema}", &schema))
        .await
        .with_context(|| format!("failed to create the tables of {schema}"))?;
    // the API reads every version (live or not) through its SELECT-only role (migration 0003)
    transaction
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA {schema} TO {READER_ROLE};
             GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {READER_ROLE};"
        ))
        .await
        .with_context(|| format!("failed to grant {READER_ROLE} read access to {schema}"))?;
    transaction
        .execute(
            "INSERT INTO projection_versions (projection, version, schema_name, status)
             VALUES ($1, $2, $3, 'building') ON CONFLICT (projection, version) DO NOTHING",
            &[&projection, &version, &schema],
        )
        .await
        .context("failed to record the projection version")?;
    transaction
        .execute(
            "UPDATE projection_versions SET status = 'live', promoted_at = now()
             WHERE projection = $1 AND version = $2 AND status = 'building'
               AND NOT EXISTS (SELECT 1 FROM projection_versions WHERE projection = $1 AND status = 'live')",
            &[&projection, &version],
        )
        .await
        .context("failed to make the first version live")?;
    let status: String = transaction
        .query_one(
            "SELECT status FROM projection_versions WHERE projection = $1 AND version = $2",
            &[&projection, &version],
        )
        .await
        .context("failed to read the version's status")?
        .get(0);
    transaction
        .commit()
        .await
        .context("failed to commit the projection version")?;
    Ok((schema, status))
}

/// The first key of a version's advisory locks (the second is the partition).
#[must_use]
pub fn lock_key(projection: &str, version: &str) -> i32 {
    let hash = blake3::hash(format!("resi-projection/{projection}/{version}").as_bytes());
    let [a, b, c, d, ..] = *hash.as_bytes();
    i32::from_le_bytes([a, b, c, d])
}

/// Where one projection version stands in `topic`: per partition, the next offset and the
/// records consumed but only staged (`next_offset - staged_from`, partitions with some).
pub async fn positions(
    client: &impl GenericClient,
    projection: &str,
    version: &str,
    topic: &str,
) -> anyhow::Result<(BTreeMap<i32, i64>, BTreeMap<i32, i64>)> {
    let rows = client
        .query(
            "SELECT partition, next_offset, next_offset - staged_from FROM projection_checkpoints
             WHERE projection = $1 AND version = $2 AND topic = $3",
            &[&projection, &version, &topic],
        )
        .await
        .context("failed to read projection checkpoints")?;
    let next = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    let staged = rows
        .iter()
        .filter_map(|row| Some((row.get(0), row.get::<_, Option<i64>>(2)?)))
        .collect();
    Ok((next, staged))
}

/// Records the next offsets of a batch (inside the batch's transaction). With `staged_from`
/// (each partition's first offset in the batch) the batch was staged, not applied: a partition
/// with nothing staged yet starts its staged range there.
pub async fn store_checkpoints(
    client: &impl GenericClient,
    projection: &str,
    version: &str,
    topic: &str,
    next_offsets: &BTreeMap<i32, i64>,
    staged_from: Option<&BTreeMap<i32, i64>>,
) -> anyhow::Result<()> {
    let partitions: Vec<i32> = next_offsets.keys().copied().collect();
    let offsets: Vec<i64> = next_offsets.values().copied().collect();
    let first: Vec<Option<i64>> = partitions
        .iter()
        .map(|partition| staged_from.and_then(|first| first.get(partition).copied()))
        .collect();
    client
        .execute(
            "INSERT INTO projection_checkpoints
               (projection, version, topic, partition, next_offset, staged_from)
             SELECT $1, $2, $3, partition, next_offset, staged_from
             FROM unnest($4::integer[], $5::bigint[], $6::bigint[])
               AS batch (partition, next_offset, staged_from)
             ON CONFLICT (projection, version, topic, partition) DO UPDATE
             SET next_offset = GREATEST(projection_checkpoints.next_offset, EXCLUDED.next_offset),
                 staged_from = CASE WHEN EXCLUDED.staged_from IS NULL
                                    THEN projection_checkpoints.staged_from
                                    ELSE coalesce(projection_checkpoints.staged_from,
                                                  projection_checkpoints.next_offset) END,
                 updated_at = now()",
            &[&projection, &version, &topic, &partitions, &offsets, &first],
        )
        .await
        .context("failed to write projection checkpoints")?;
    Ok(())
}

/// Marks the staged records of `partitions` applied (inside the transaction that applied them).
pub async fn store_applied(
    client: &impl GenericClient,
    projection: &str,
    version: &str,
    topic: &str,
    partitions: &[i32],
) -> anyhow::Result<()> {
    client
        .execute(
            "UPDATE projection_checkpoints SET staged_from = NULL, updated_at = now()
             WHERE projection = $1 AND version = $2 AND topic = $3 AND partition = ANY($4)
               AND staged_from IS NOT NULL",
            &[&projection, &version, &topic, &partitions],
        )
        .await
        .context("failed to mark staged records applied")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert_eq!(schema_name("trust", "v1").ok().as_deref(), Some("trust_v1"));
        assert!(schema_name("consensus", "v2_decay").is_ok());
        assert!(schema_name("trust", "v1; DROP TABLE x").is_err());
        assert!(schema_name("trust", "V1").is_err());
        assert!(!is_identifier("1abc"));
        assert!(!is_identifier(""));
    }
}
