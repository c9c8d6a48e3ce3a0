//! The projector: independent consumers that fold the log into Postgres projections.
//!
//! Every projection version has its own schema and its own checkpoints (projection, version,
//! topic, partition → next offset), written in the same transaction as its rows; a consumer
//! seeks to them when it starts. Kafka group offsets are never read or committed.

pub mod consensus;
pub mod engine;
pub mod epochs;
pub mod faults;
pub mod listing;
pub mod metrics;
pub mod network;
pub mod operate;
pub mod scores;
pub mod trust;
pub mod validation;
pub mod versions;

pub use engine::{Projector, ProjectorConfig, ProjectorServiceConfig};

/// Microseconds since the Unix epoch as a Postgres `timestamptz` (the epoch when out of range).
pub(crate) fn datetime(micros: i64) -> chrono::DateTime<chrono::Utc> {
    resi_events::Timestamp::from_micros(micros)
        .to_datetime()
        .unwrap_or_default()
}

/// The partition each listing of a batch came from, as a lookup: all of a listing's
/// attestations come from one partition (the listing is the key). For staged rows, which each
/// lane applies by partition.
pub(crate) fn partition_of<'a>(
    events: &[(i32, &'a resi_events::Event)],
) -> impl Fn(&str) -> i32 + 'a {
    let partitions: std::collections::HashMap<&'a str, i32> = events
        .iter()
        .filter_map(|(partition, event)| match &event.payload {
            resi_events::EventPayload::ListingAttested(attested) => {
                Some((attested.listing.listing_id.as_str(), *partition))
            }
            _ => None,
        })
        .collect();
    // every listing looked up came from these events
    move |listing| partitions.get(listing).copied().unwrap_or_default()
}

/// The events of `relevant` never folded before by this version, in log order and each id
/// once, recording them in `{schema}.folded_events` so that a re-delivery changes nothing.
pub(crate) async fn first_folds<'a>(
    transaction: &tokio_postgres::Transaction<'_>,
    schema: &str,
    relevant: Vec<&'a resi_events::Event>,
) -> anyhow::Result<Vec<&'a resi_events::Event>> {
    use anyhow::Context as _;
    if relevant.is_empty() {
        return Ok(relevant);
    }
    let ids: Vec<&[u8]> = relevant
        .iter()
        .map(|event| event.id.as_bytes().as_slice())
        .collect();
    let mut fresh: std::collections::HashSet<Vec<u8>> = transaction
        .query(
            &format!(
                "INSERT INTO {schema}.folded_events (event_id) SELECT unnest($1::bytea[])
                 ON CONFLICT DO NOTHING RETURNING event_id"
            ),
            &[&ids],
        )
        .await
        .context("failed to record folded events")?
        .iter()
        .map(|row| row.get(0))
        .collect();
    Ok(relevant
        .into_iter()
        .filter(|event| fresh.remove(event.id.as_bytes().as_slice()))
        .collect())
}

/// Records in `table` (an `(epoch_id, event_id, reason)` conflicts table) that `event` was not
/// applied, and why; the same event recorded again changes nothing.
pub(crate) async fn record_conflict(
    transaction: &tokio_postgres::Transaction<'_>,
    table: &str,
    epoch_id: &str,
    event: &resi_events::Event,
    reason: &str,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    tracing::warn!(table, epoch = epoch_id, event_id = %event.id, reason, "event not applied");
    transaction
        .execute(
            &format!(
                "INSERT INTO {table} (epoch_id, event_id, reason)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            ),
            &[&epoch_id, &event.id.as_bytes().as_slice(), &reason],
        )
        .await
        .with_context(|| format!("failed to record a conflict in {table}"))?;
    Ok(())
}

/// A binary COPY into `table` of `columns` typed `types`, ready for rows.
pub(crate) async fn copy_writer(
    transaction: &tokio_postgres::Transaction<'_>,
    table: &str,
    columns: &str,
    types: &[tokio_postgres::types::Type],
) -> anyhow::Result<tokio_postgres::binary_copy::BinaryCopyInWriter> {
    use anyhow::Context as _;
    let sink = transaction
        .copy_in(&format!(
            "COPY {table} ({columns}) FROM STDIN (FORMAT binary)"
        ))
        .await
        .with_context(|| format!("failed to start copying into {table}"))?;
    Ok(tokio_postgres::binary_copy::BinaryCopyInWriter::new(
        sink, types,
    ))
}

/// `resi projector`: configuration (from `file`, then the environment), telemetry, then folding
/// until a signal.
pub async fn service_main(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (config, _telemetry) =
        resi_runtime::service::start::<ProjectorServiceConfig>("resi-projector", file, |config| {
            &config.telemetry
        })?;
    let projector = Projector::build(&config).await?;
    projector.run(resi_runtime::shutdown::on_signal()).await
}
