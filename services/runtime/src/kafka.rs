//! Kafka-protocol clients: shared settings, topic creation and the producer.

use std::time::Duration;

use anyhow::{Context as _, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureProducer;
use resi_events::{Event, Topics, codec};
use secrecy::ExposeSecret as _;

use crate::config::{KafkaConfig, ProducerTuning};

/// Bootstrap servers and the extra properties, for any client.
#[must_use]
pub fn client_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.brokers);
    for (key, value) in &config.properties {
        // environment variables cannot hold dots, so sasl_password means sasl.password
        client.set(key.replace('_', "."), value.expose_secret());
    }
    client
}

/// A producer with batching, compression and idempotence, tuned by `kafka.producer`.
pub fn producer(config: &KafkaConfig) -> anyhow::Result<FutureProducer> {
    let tuning: &ProducerTuning = &config.producer;
    let mut client = client_config(config);
    client
        .set("acks", "all")
        .set("enable.idempotence", tuning.idempotence.to_string())
        .set("compression.type", &tuning.compression)
        .set("linger.ms", tuning.linger_ms.to_string())
        .set("batch.size", tuning.batch_bytes.to_string())
        .set("batch.num.messages", "100000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("message.timeout.ms", tuning.delivery_timeout_ms.to_string());
    client
        .create()
        .context("failed to create the kafka producer")
}

/// The event's Kafka headers: type, schema version, id and format.
#[must_use]
pub fn event_headers(event: &Event) -> OwnedHeaders {
    codec::headers_of(event).iter().fold(
        OwnedHeaders::new_with_capacity(4),
        |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        },
    )
}

/// What [`ensure_topics`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TopicReport {
    /// Topics created by this call.
    pub created: Vec<String>,
    /// Topics that existed already.
    pub existing: Vec<String>,
}

/// Creates the uploads, attestations and dead-letter topics under the configured prefix, with
/// their partition counts and retention. Idempotent: existing topics are left as they are.
#[tracing::instrument(skip_all, fields(prefix = %config.topic_prefix))]
pub async fn ensure_topics(config: &KafkaConfig) -> anyhow::Result<TopicReport> {
    let admin: AdminClient<DefaultClientContext> = client_config(config)
        .create()
        .context("failed to create the kafka admin client")?;
    let specs = Topics::new(&config.topic_prefix).specs(|kind| config.partitions.of(kind));
    let new_topics: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|spec| {
            spec.config.iter().fold(
                NewTopic::new(
                    &spec.name,
                    spec.partitions,
                    TopicReplication::Fixed(config.replication_factor),
                ),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .context("failed to create topics")?;
    let mut report = TopicReport::default();
    for result in results {
        match result {
            Ok(name) => {
                tracing::info!(topic = %name, "created topic");
                report.created.push(name);
            }
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => report.existing.push(name),
            Err((name, code)) => bail!("failed to create topic {name}: {code}"),
        }
    }
    Ok(report)
}
