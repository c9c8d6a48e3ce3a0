//! A fresh, private slice of the real stack per test — database, topic prefix, bucket, queue —
//! and the bridge and parser running in-process against it.

use std::time::Duration;

use crate::{eventually, fresh_bucket, fresh_database, fresh_kafka, unique_name};
use anyhow::Context as _;
use aws_sdk_s3::types::{
    Event as S3Event, FilterRule, FilterRuleName, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use resi_bridge::{Bridge, BridgeServiceConfig};
use resi_events::{Event, EventPayload, Topics, codec};
use resi_parser::{Parser, ParserServiceConfig};
use resi_projector::Projector;
use resi_projector::engine::ProjectionKind;
use resi_runtime::config::{KafkaConfig, PostgresConfig, S3Config};
use resi_runtime::retry::RetryPolicy;
use resi_runtime::shutdown::{Shutdown, ShutdownTrigger};
use tokio::task::JoinHandle;

/// How long a test waits for the pipeline to reach a state: a deadline, not a pause (a passing
/// test waits only as long as the pipeline takes). Generous because a binary's tests run
/// together on two cores, and a projector recovering from broker restarts under that load was
/// seen to take longer than 90 s to catch up.
pub const PIPELINE_DEADLINE: Duration = Duration::from_secs(180);

/// Retries that give up fast enough for a test, yet still back off.
pub fn test_retry() -> RetryPolicy {
    RetryPolicy {
        initial_delay_ms: 20,
        max_delay_ms: 500,
        max_attempts: 3,
    }
}

/// One event as read back, with where it was.
#[derive(Clone, Debug)]
pub struct Record {
    /// Partition.
    pub partition: i32,
    /// The event.
    pub event: Event,
}

/// A test's own stack.
pub struct Harness {
    /// Its database (migrated).
    pub postgres: PostgresConfig,
    /// Its topics (created).
    pub kafka: KafkaConfig,
    /// Its bucket (created).
    pub s3: S3Config,
    /// A client of the bucket.
    pub s3_client: aws_sdk_s3::Client,
    /// Topic names.
    pub topics: Topics,
}

/// A service running in-process.
pub struct Running {
    trigger: ShutdownTrigger,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Asks it to stop and waits.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.trigger.trigger();
        self.task.await.context("service task panicked")?
    }

    /// Whether it still runs (it has not returned, failed or panicked).
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Ends it at once, wherever it is, as a crash would.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

impl Harness {
    /// A fresh database, topic prefix and bucket. Service logs go to the test's output when
    /// `RUST_LOG` is set.
    pub async fn new() -> anyhow::Result<Self> {
        Self::build(None, None).await
    }

    /// A fresh database and topic prefix on the broker at `brokers`, with a fresh bucket.
    pub async fn on_broker(brokers: &str) -> anyhow::Result<Self> {
        Self::build(Some(brokers), None).await
    }

    /// A fresh database and topic prefix reading `other`'s bucket: a second run over the same
    /// uploads, whose events carry the same ids.
    pub async fn sharing_bucket(other: &Self) -> anyhow::Result<Self> {
        Self::build(None, Some((other.s3.clone(), other.s3_client.clone()))).await
    }

    async fn build(
        brokers: Option<&str>,
        bucket: Option<(S3Config, aws_sdk_s3::Client)>,
    ) -> anyhow::Result<Self> {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let postgres = fresh_database().await?;
        let pool = resi_runtime::postgres::pool(&postgres)?;
        resi_runtime::postgres::migrate(&pool).await?;
        let mut kafka = fresh_kafka();
        if let Some(brokers) = brokers {
            brokers.clone_into(&mut kafka.brokers);
        }
        resi_runtime::kafka::ensure_topics(&kafka).await?;
        let (s3, s3_client) = match bucket {
            Some(bucket) => bucket,
            None => fresh_bucket().await?,
        };
        let topics = Topics::new(&kafka.topic_prefix);
        Ok(Self {
            postgres,
            kafka,
            s3,
            s3_client,
            topics,
        })
    }

    /// A queue that the bucket notifies of every object created under `data/`; its URL.
    pub async fn notify_queue(&self) -> anyhow::Result<String> {
        let shared = resi_runtime::s3::sdk_config(&self.s3, self.s3.endpoint.as_deref()).await;
        let sqs = aws_sdk_sqs::Client::new(&shared);
        let queue_url = sqs
            .create_queue()
            .queue_name(unique_name("q"))
            .send()
            .await?
            .queue_url
            .context("no queue url")?;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .and_then(|mut attributes| {
                attributes.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            })
            .context("no queue arn")?;
        let filter = NotificationConfigurationFilter::builder()
            .key(
                S3KeyFilter::builder()
                    .filter_rules(
                        FilterRule::builder()
                            .name(FilterRuleName::Prefix)
                            .value("data/")
                            .build(),
                    )
                    .build(),
            )
            .build();
        self.s3_client
            .put_bucket_notification_configuration()
            .bucket(&self.s3.bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(
                        QueueConfiguration::builder()
                            .queue_arn(arn)
                            .events(S3Event::from("s3:ObjectCreated:*"))
                            .filter(filter)
                            .build()?,
                    )
                    .build(),
            )
            .send()
            .await?;
        Ok(queue_url)
    }

    /// An SQS client of the stack.
    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(
            &resi_runtime::s3::sdk_config(&self.s3, self.s3.endpoint.as_deref()).await,
        )
    }

    /// Bridge settings for this stack: the bucket (or `source`), listing every second.
    pub fn bridge_config(&self, source: &str, queue_url: Option<String>) -> BridgeServiceConfig {
        let mut config = BridgeServiceConfig {
            postgres: self.postgres.clone(),
            kafka: self.kafka.clone(),
            s3: self.s3.clone(),
            ..BridgeServiceConfig::default()
        };
        config.bridge.source = source.to_owned();
        config.bridge.reconcile_interval_secs = 1;
        config.bridge.metadata_grace_secs = 1;
        config.bridge.retry = test_retry();
        config.sqs.queue_url = queue_url;
        config.sqs.wait_time_secs = 1;
        config.sqs.visibility_timeout_secs = 10;
        config
    }

    /// Parser settings for this stack, as instance `ordinal` of `replicas`.
    pub fn parser_config(&self, ordinal: u32, replicas: u32) -> ParserServiceConfig {
        let mut config = ParserServiceConfig {
            postgres: self.postgres.clone(),
            kafka: self.kafka.clone(),
            s3: self.s3.clone(),
            ..ParserServiceConfig::default()
        };
        config.parser.assignment.ordinal = Some(ordinal);
        config.parser.assignment.replicas = replicas;
        config.parser.retry = test_retry();
        config
    }

    /// Starts a bridge.
    pub async fn spawn_bridge(&self, config: &BridgeServiceConfig) -> anyhow::Result<Running> {
        let bridge = Bridge::build(config).await?;
        let (trigger, shutdown) = Shutdown::new();
        Ok(Running {
            trigger,
            task: tokio::spawn(bridge.run(shutdown)),
        })
    }

    /// Starts a parser.
    pub async fn spawn_parser(&self, config: &ParserServiceConfig) -> anyhow::Result<Running> {
        let parser = Parser::build(config).await?;
        let (trigger, shutdown) = Shutdown::new();
        Ok(Running {
            trigger,
            task: tokio::spawn(parser.run(shutdown)),
        })
    }

    /// Starts a projector folding `targets` (projection, version) over every partition.
    pub async fn spawn_projector(
        &self,
        targets: &[(ProjectionKind, &str)],
    ) -> anyhow::Result<Running> {
        let config = crate::projector_config(&self.postgres, &self.kafka, targets);
        let projector = Projector::build(&config).await?;
        let (trigger, shutdown) = Shutdown::new();
        Ok(Running {
            trigger,
            task: tokio::spawn(projector.run(shutdown)),
        })
    }

    /// Waits until a projection version has folded its topic up to the log's end, and that
    /// end holds records: an empty topic is "caught up" at once, which would let a caller that
    /// has not yet waited for the parser's output read tables that are still empty.
    pub async fn projected(&self, projection: ProjectionKind, version: &str) -> anyhow::Result<()> {
        let pool = resi_runtime::postgres::pool(&self.postgres)?;
        eventually(
            PIPELINE_DEADLINE,
            &format!("{} {version} to catch up", projection.as_str()),
            || async {
                let client = resi_runtime::postgres::connection(&pool).await?;
                let progress =
                    resi_projector::operate::progress(&client, &self.kafka, projection, version)
                        .await?;
                let written = progress.partitions.values().any(|(_, end)| *end > 0);
                Ok((written && progress.lag() == 0).then_some(()))
            },
        )
        .await
    }

    /// Announces the bucket's uploads: a bridge lists it until `expected` uploads are observed,
    /// then stops. The uploads topic's events so far.
    pub async fn observe(&self, expected: usize) -> anyhow::Result<Vec<Record>> {
        let bridge = self.spawn_bridge(&self.bridge_config("s3", None)).await?;
        let announced = self
            .wait_for(&self.topics.uploads(), "the upload events", |records| {
                count(records, resi_events::EventType::UploadObserved) == expected
            })
            .await?;
        bridge.stop().await?;
        Ok(announced)
    }

    /// Every event on `topic` so far, in partition order (records that do not decode skipped).
    pub async fn read_all(&self, topic: &str) -> anyhow::Result<Vec<Record>> {
        read_topic(&self.kafka, topic).await
    }

    /// Waits until the events on `topic` satisfy `done`; returns them.
    pub async fn wait_for(
        &self,
        topic: &str,
        what: &str,
        done: impl Fn(&[Record]) -> bool,
    ) -> anyhow::Result<Vec<Record>> {
        eventually(PIPELINE_DEADLINE, what, || async {
            let records = self.read_all(topic).await?;
            Ok(done(&records).then_some(records))
        })
        .await
    }

    /// Puts an object into the bucket.
    pub async fn put(&self, key: &str, body: Vec<u8>) -> anyhow::Result<()> {
        self.s3_client
            .put_object()
            .bucket(&self.s3.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .with_context(|| format!("failed to put {key}"))?;
        Ok(())
    }
}

/// Every event on `topic` of `kafka`'s broker so far, in partition order (records that do not
/// decode skipped: a test may write some, and they are the services' concern).
pub async fn read_topic(kafka: &KafkaConfig, topic: &str) -> anyhow::Result<Vec<Record>> {
    let records = resi_runtime::kafka::read_to_end(kafka, topic, Duration::from_secs(60)).await?;
    Ok(records
        .into_iter()
        .filter_map(|record| {
            codec::decode(&record.payload).ok().map(|event| Record {
                partition: record.partition,
                event,
            })
        })
        .collect())
}

/// The payloads of `records`.
pub fn payloads(records: &[Record]) -> impl Iterator<Item = &EventPayload> {
    records.iter().map(|record| &record.event.payload)
}

/// Counts the uploads with an outcome: parsed or rejected.
pub fn upload_outcomes(records: &[Record]) -> usize {
    payloads(records)
        .filter(|payload| {
            matches!(
                payload,
                EventPayload::UploadParsed(_) | EventPayload::UploadRejected(_)
            )
        })
        .count()
}

/// Counts the events of one type.
pub fn count(records: &[Record], wanted: resi_events::EventType) -> usize {
    payloads(records)
        .filter(|payload| payload.event_type() == wanted)
        .count()
}

/// `count` listings from `first_zpid` on, as a careful miner reports them.
pub fn reports(count: u64, first_zpid: u64) -> Vec<resi_datagen::report::Report> {
    use chrono::NaiveDate;
    (first_zpid..first_zpid + count)
        .map(|zpid| resi_datagen::report::Report {
            zpid,
            street: format!("{zpid} Oak Street"),
            city: "Austin".into(),
            state: "TX".into(),
            zip: "78702".into(),
            price: Some(250_000 + i64::try_from(zpid % 1_000).unwrap_or_default() * 100),
            bedrooms: Some(3),
            bathrooms: Some(2.5),
            living_area: Some(1_600),
            home_type: "SINGLE_FAMILY".into(),
            home_status: "FOR_SALE".into(),
            days_on_market: Some(4),
            latitude: Some(30.26),
            longitude: Some(-97.74),
            listing_date: NaiveDate::from_ymd_opt(2025, 9, 1).unwrap_or_default(),
            mls_id: format!("MLS{zpid}"),
            scraped_at: NaiveDate::from_ymd_opt(2025, 9, 17)
                .and_then(|day| day.and_hms_opt(12, 0, 0))
                .unwrap_or_default(),
        })
        .collect()
}

/// A v1 Parquet file of `count` listings from `first_zpid` on.
pub fn v1_file(count: u64, first_zpid: u64) -> anyhow::Result<Vec<u8>> {
    let reports = reports(count, first_zpid);
    resi_datagen::parquet_files::write([resi_datagen::parquet_files::v1_batch(&reports)], 10_000)
}

/// A v1 key of `hotkey` at `time` (`YYYYMMDD_HHMMSS`) declaring `count` rows.
pub fn v1_key(hotkey: &str, job: &str, time: &str, count: u64) -> String {
    format!("data/hotkey={hotkey}/job_id={job}/data_{time}_{count}.parquet")
}
