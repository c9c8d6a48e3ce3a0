//! The real stack for projection tests: a fresh database and topic prefix, a producer of
//! events, projector instances, and waits on checkpoints.

use std::time::Duration;

use crate::{eventually, fresh_database, fresh_kafka};
use resi_events::{Event, Topics};
use resi_projector::Projector;
use resi_projector::engine::ProjectionKind;
use resi_runtime::assignment::AssignmentConfig;
use resi_runtime::config::{KafkaConfig, PostgresConfig};
use resi_runtime::shutdown::{Shutdown, ShutdownTrigger};

/// A running projector instance.
pub type Running = (ShutdownTrigger, tokio::task::JoinHandle<anyhow::Result<()>>);

/// A fresh, migrated database and a fresh topic prefix with its topics.
pub struct Stack {
    /// The database.
    pub postgres: PostgresConfig,
    /// The broker, with this stack's topic prefix.
    pub kafka: KafkaConfig,
    /// A pool on the database (its owner, not the API's role).
    pub pool: deadpool_postgres::Pool,
}

impl Stack {
    /// Creates the database (migrated) and the topics (3 upload, 4 attestation partitions).
    pub async fn new() -> anyhow::Result<Self> {
        let postgres = fresh_database().await?;
        let pool = resi_runtime::postgres::pool(&postgres)?;
        resi_runtime::postgres::migrate(&pool).await?;
        let mut kafka = fresh_kafka();
        kafka.partitions.uploads = 3;
        kafka.partitions.attestations = 4;
        resi_runtime::kafka::ensure_topics(&kafka).await?;
        Ok(Self {
            postgres,
            kafka,
            pool,
        })
    }

    /// The stack's topic names.
    pub fn topics(&self) -> Topics {
        Topics::new(&self.kafka.topic_prefix)
    }

    /// Publishes `events` to `topic`, keyed as the contract says, each acknowledged.
    pub async fn publish(&self, topic: &str, events: &[Event]) -> anyhow::Result<()> {
        let producer = resi_runtime::kafka::producer(&self.kafka)?;
        let mut deliveries = Vec::with_capacity(events.len());
        for event in events {
            deliveries.push(resi_runtime::kafka::enqueue(&producer, topic, event).await?);
        }
        for delivery in deliveries {
            resi_runtime::kafka::delivered(delivery).await?;
        }
        Ok(())
    }

    /// Starts a projector folding one version; `split` = (ordinal, replicas) to own part of
    /// the partitions.
    pub async fn spawn(
        &self,
        projection: ProjectionKind,
        version: &str,
        split: Option<(u32, u32)>,
    ) -> anyhow::Result<Running> {
        let mut config =
            crate::projector_config(&self.postgres, &self.kafka, &[(projection, version)]);
        if let Some((ordinal, replicas)) = split {
            config.projector.assignment = AssignmentConfig {
                ordinal: Some(ordinal),
                replicas,
                ..AssignmentConfig::default()
            };
        }
        Self::start(&config).await
    }

    /// Starts a projector folding one version in batches of at most `batch_max_events`: small
    /// batches come full while it catches up, so a projection that stages does. Its apply
    /// passes read the staged reports 5 at a time, so listings straddle their rounds.
    pub async fn spawn_batched(
        &self,
        projection: ProjectionKind,
        version: &str,
        batch_max_events: usize,
    ) -> anyhow::Result<Running> {
        Self::start(&self.batched_config(projection, version, batch_max_events)).await
    }

    /// Starts a projector folding one version in batches of at most `batch_max_events`, each
    /// folded as it comes even while behind the log (`stage_when_behind = false`).
    pub async fn spawn_folding_each_batch(
        &self,
        projection: ProjectionKind,
        version: &str,
        batch_max_events: usize,
    ) -> anyhow::Result<Running> {
        let mut config = self.batched_config(projection, version, batch_max_events);
        config.projector.stage_when_behind = false;
        Self::start(&config).await
    }

    fn batched_config(
        &self,
        projection: ProjectionKind,
        version: &str,
        batch_max_events: usize,
    ) -> resi_projector::engine::ProjectorServiceConfig {
        let mut config =
            crate::projector_config(&self.postgres, &self.kafka, &[(projection, version)]);
        config.projector.batch_max_events = batch_max_events;
        config.projector.apply_chunk_rows = 5;
        config
    }

    /// Starts a projector of `config`.
    pub async fn start(
        config: &resi_projector::engine::ProjectorServiceConfig,
    ) -> anyhow::Result<Running> {
        let projector = Projector::build(config).await?;
        let (trigger, shutdown) = Shutdown::new();
        Ok((trigger, tokio::spawn(projector.run(shutdown))))
    }

    /// Waits until rows went through `schema.staged` (the statistics count inserts into it) and
    /// each of `tables` was analysed after an apply pass; fails at once if any staged row is
    /// left (call it once the version has caught up).
    pub async fn staged_applied_and_analysed(
        &self,
        schema: &str,
        staged: &str,
        tables: &[&str],
    ) -> anyhow::Result<()> {
        let tables: Vec<String> = tables.iter().map(|table| (*table).to_owned()).collect();
        eventually(
            Duration::from_secs(30),
            &format!(
                "rows staged in {schema}.{staged} to show in the table statistics, and {tables:?} \
                 analysed after the pass"
            ),
            || async {
                let client = self.pool.get().await?;
                let row = client
                    .query_one(
                        &format!(
                            "SELECT n_tup_ins, (SELECT count(*) FROM {schema}.{staged}),
                                    (SELECT count(*) FROM pg_stat_user_tables
                                     WHERE schemaname = $1 AND relname = ANY($2)
                                       AND last_analyze IS NOT NULL)
                             FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $3"
                        ),
                        &[&schema, &tables, &staged],
                    )
                    .await?;
                let (inserted, left, analysed): (i64, i64, i64) =
                    (row.get(0), row.get(1), row.get(2));
                anyhow::ensure!(left == 0, "{left} staged rows were never applied");
                Ok((inserted > 0 && analysed == i64::try_from(tables.len())?).then_some(()))
            },
        )
        .await
    }

    /// Waits until the version has folded everything in `topic`: its checkpoints stand at
    /// the log's end and nothing it consumed is still staged.
    pub async fn caught_up(
        &self,
        projection: &str,
        version: &str,
        topic: &str,
    ) -> anyhow::Result<()> {
        let kind = ProjectionKind::from_name(projection)
            .ok_or_else(|| anyhow::anyhow!("no projection is named {projection}"))?;
        let ends = resi_runtime::kafka::end_offsets(&self.kafka, topic).await?;
        eventually(
            // generous: the suite runs its tests (and a projector process) side by side
            Duration::from_secs(180),
            "the projection to reach the log's end",
            || async {
                let client = self.pool.get().await?;
                let progress =
                    resi_projector::operate::progress_at(&client, kind, version, topic, &ends)
                        .await?;
                Ok((progress.lag() == 0).then_some(()))
            },
        )
        .await
    }

    /// The rows of `queries`, as text.
    pub async fn dump(&self, queries: &[String]) -> anyhow::Result<String> {
        dump(&self.pool, queries).await
    }
}

/// Stops instances and surfaces their errors.
pub async fn stop(instances: Vec<Running>) -> anyhow::Result<()> {
    for (trigger, _) in &instances {
        trigger.trigger();
    }
    for (_, task) in instances {
        task.await??;
    }
    Ok(())
}

/// The rows of `queries` on `pool`'s database, as text (values of every column type the
/// tests compare).
pub async fn dump(pool: &deadpool_postgres::Pool, queries: &[String]) -> anyhow::Result<String> {
    let client = pool.get().await?;
    let mut out = String::new();
    for query in queries {
        for row in client.query(query.as_str(), &[]).await? {
            let line: Vec<String> = (0..row.len())
                .map(|index| {
                    row.try_get::<_, Option<String>>(index)
                        .map(|value| value.unwrap_or_else(|| "NULL".to_owned()))
                        .or_else(|_| {
                            row.try_get::<_, Option<i64>>(index)
                                .map(|value| format!("{value:?}"))
                        })
                        .or_else(|_| {
                            row.try_get::<_, Option<i32>>(index)
                                .map(|value| format!("{value:?}"))
                        })
                        .or_else(|_| {
                            row.try_get::<_, Option<f64>>(index)
                                .map(|value| format!("{value:.12?}"))
                        })
                        .unwrap_or_else(|_| "?".to_owned())
                })
                .collect();
            out.push_str(&line.join("|"));
            out.push('\n');
        }
    }
    Ok(out)
}

/// The listing projection's tables in `schema`, as rows to compare (no column a clock sets).
pub fn listing_tables(schema: &str) -> [String; 2] {
    [
        format!(
            "SELECT listing_id, uri, url, first_seen_at::text, last_updated_at::text, total_attestations,
                    unique_miners_count, encode(latest_attestation, 'hex'), price_usd, address, bedrooms,
                    bathrooms_tenths, living_area_sqft, home_type, home_status, days_on_market, zip_code,
                    city, state, latitude_e7, longitude_e7, listing_date::text, mls_id
             FROM {schema}.listings ORDER BY listing_id"
        ),
        format!(
            "SELECT encode(attestation_id, 'hex'), listing_id, miner_hotkey, row_index, upload_key,
                    scraped_at::text, submitted_at::text, encode(content_hash, 'hex'), price_usd
             FROM {schema}.miner_attestations ORDER BY 1"
        ),
    ]
}
