//! Kafka-protocol clients: shared settings, topic creation and the producer.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message as _;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureProducer;
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
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

/// What an event's Kafka headers say, as plain values: cheap to take on a parsing thread and
/// to send between tasks. rdkafka's own header list costs a C allocation per header, so it is
/// built only by the task that produces ([`EventHeaders::build`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventHeaders {
    event_type: &'static str,
    schema_version: u16,
    id: resi_events::EventId,
    trace: Option<crate::telemetry::TraceParent>,
}

impl EventHeaders {
    /// The headers of `event`.
    #[must_use]
    pub fn of(event: &Event) -> Self {
        Self::new(event.event_type(), event.schema_version, event.id)
    }

    /// The headers of an event of `event_type`, `schema_version` and `id`.
    #[must_use]
    pub const fn new(
        event_type: resi_events::EventType,
        schema_version: u16,
        id: resi_events::EventId,
    ) -> Self {
        Self {
            event_type: event_type.as_str(),
            schema_version,
            id,
            trace: None,
        }
    }

    /// The same headers carrying `trace` (the W3C `traceparent` of the span producing them).
    #[must_use]
    pub const fn with_trace(mut self, trace: Option<crate::telemetry::TraceParent>) -> Self {
        self.trace = trace;
        self
    }

    /// Type, schema version, id and format (the same as [`codec::headers_of`], built without
    /// allocating the values).
    #[must_use]
    pub fn build(&self) -> OwnedHeaders {
        let mut id_hex = [0_u8; 64];
        // 32 bytes always fit 64 hex digits
        let _ = hex::encode_to_slice(self.id.as_bytes(), &mut id_hex);
        let mut version = [0_u8; 5];
        let version_len = write_decimal(self.schema_version, &mut version);
        let format = [b'0' + codec::FORMAT_BINCODE2];
        let headers = OwnedHeaders::new_with_capacity(5)
            .insert(Header {
                key: codec::headers::EVENT_TYPE,
                value: Some(self.event_type.as_bytes()),
            })
            .insert(Header {
                key: codec::headers::SCHEMA_VERSION,
                value: Some(&version[..version_len]),
            })
            .insert(Header {
                key: codec::headers::EVENT_ID,
                value: Some(&id_hex[..]),
            })
            .insert(Header {
                key: codec::headers::FORMAT,
                value: Some(&format[..]),
            });
        match &self.trace {
            Some(trace) => headers.insert(Header {
                key: crate::telemetry::TRACEPARENT_HEADER,
                value: Some(trace.as_bytes()),
            }),
            None => headers,
        }
    }
}

/// The event's Kafka headers: type, schema version, id, format, and the current span's trace
/// context when spans are exported.
#[must_use]
pub fn event_headers(event: &Event) -> OwnedHeaders {
    EventHeaders::of(event)
        .with_trace(crate::telemetry::current_trace())
        .build()
}

/// The trace context a consumed record carries, if any.
#[must_use]
pub fn trace_of(message: &impl rdkafka::Message) -> Option<crate::telemetry::TraceParent> {
    use rdkafka::message::Headers as _;
    message.headers().and_then(|headers| {
        headers
            .iter()
            .find(|header| header.key == crate::telemetry::TRACEPARENT_HEADER)
            .and_then(|header| header.value)
            .and_then(crate::telemetry::TraceParent::parse)
    })
}

/// Writes `value` in decimal into `out`; the number of bytes written.
fn write_decimal(value: u16, out: &mut [u8; 5]) -> usize {
    let mut digits = [0_u8; 5];
    let mut remaining = value;
    let mut count = 0;
    loop {
        digits[count] = b'0' + (remaining % 10) as u8;
        count += 1;
        remaining /= 10;
        if remaining == 0 {
            break;
        }
    }
    for index in 0..count {
        out[index] = digits[count - 1 - index];
    }
    count
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
    // a broker that is starting, or busy, times requests out: retry those with backoff
    let results = crate::retry::retry(
        "create topics",
        &crate::retry::RetryPolicy::default(),
        || admin.create_topics(&new_topics, &options),
        |_| true,
    )
    .await
    .map_err(crate::retry::RetryError::into_inner)
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

/// A consumer for explicitly assigned partitions: no group membership, no rebalancing, no
/// offsets stored or committed in Kafka (the caller keeps its checkpoints in Postgres and seeks
/// to them). `name` identifies the client in broker logs.
pub fn assigned_consumer(config: &KafkaConfig, name: &str) -> anyhow::Result<StreamConsumer> {
    let mut client = client_config(config);
    client
        .set("group.id", name)
        .set("client.id", name)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // a checkpoint older than the log start (never, with retention forever) restarts there
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100")
        .set("queued.max.messages.kbytes", "262144");
    client
        .create()
        .context("failed to create the kafka consumer")
}

/// How many partitions `topic` has.
#[tracing::instrument(skip_all, fields(topic))]
pub async fn partition_count(config: &KafkaConfig, topic: &str) -> anyhow::Result<i32> {
    let client: BaseConsumer = client_config(config)
        .create()
        .context("failed to create a kafka metadata client")?;
    let topic_name = topic.to_owned();
    let count = tokio::task::spawn_blocking(move || {
        let metadata = client
            .fetch_metadata(Some(&topic_name), Duration::from_secs(30))
            .with_context(|| format!("failed to read the metadata of {topic_name}"))?;
        let partitions = metadata
            .topics()
            .first()
            .map_or(0, |topic| topic.partitions().len());
        anyhow::ensure!(partitions > 0, "topic {topic_name} does not exist");
        i32::try_from(partitions).context("too many partitions")
    })
    .await
    .context("metadata task failed")??;
    Ok(count)
}

/// How many partitions keyed `topic` has, once checked against the count recorded when the
/// system first used it (recorded now if this is the first time). A different count fails:
/// producers place keys modulo the count, so a changed count moves existing keys to other
/// partitions and a listing's (or a miner's) events would be folded by two lanes in no common
/// order. The runbook's "Change a partition count" says what to do instead.
#[tracing::instrument(skip_all, fields(topic))]
pub async fn keyed_partition_count(
    config: &KafkaConfig,
    pool: &deadpool_postgres::Pool,
    topic: &str,
) -> anyhow::Result<i32> {
    let count = partition_count(config, topic).await?;
    let client = crate::postgres::connection(pool).await?;
    let recorded = client
        .query_opt(
            "WITH recorded AS (
                 INSERT INTO topic_partitions (topic, partitions) VALUES ($1, $2)
                 ON CONFLICT (topic) DO NOTHING
                 RETURNING partitions
             )
             SELECT partitions FROM recorded
             UNION ALL
             SELECT partitions FROM topic_partitions WHERE topic = $1
             LIMIT 1",
            &[&topic, &count],
        )
        .await
        .with_context(|| format!("failed to record the partition count of {topic}"))?;
    let recorded: i32 = match recorded {
        Some(row) => row.get(0),
        // another service recorded it after this statement's snapshot: read it now
        None => client
            .query_one(
                "SELECT partitions FROM topic_partitions WHERE topic = $1",
                &[&topic],
            )
            .await
            .with_context(|| format!("failed to read the recorded partition count of {topic}"))?
            .get(0),
    };
    anyhow::ensure!(
        recorded == count,
        "topic {topic} has {count} partitions, but the system was built with {recorded}: a \
         changed count moves existing keys to other partitions, so nothing runs against it \
         (see the runbook, \"Change a partition count\"; restore the topic or its recorded \
         count)"
    );
    pin(topic, count);
    Ok(count)
}

/// Partition counts of keyed topics as checked by [`keyed_partition_count`]: this process
/// places each key of such a topic itself, by the checked count, so partitions added while it
/// runs (which librdkafka would start hashing keys over) never receive an existing key.
static PINNED: std::sync::LazyLock<std::sync::RwLock<BTreeMap<String, i32>>> =
    std::sync::LazyLock::new(Default::default);

fn pin(topic: &str, partitions: i32) {
    PINNED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(topic.to_owned(), partitions);
}

fn pinned(topic: &str) -> Option<i32> {
    PINNED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(topic)
        .copied()
}

/// The partition librdkafka's default partitioner (`consistent_random`) gives a non-empty
/// `key` among `partitions`: CRC-32 of the key modulo the count.
#[must_use]
pub fn placement(key: &[u8], partitions: i32) -> i32 {
    let count = u32::try_from(partitions.max(1)).unwrap_or(1);
    // the remainder is below `partitions`, an i32
    i32::try_from(crc32fast::hash(key) % count).unwrap_or(0)
}

/// The end offset (high watermark) of every partition of `topic`: the offset the next record
/// will get, so a consumer whose next offset equals it has read everything.
#[tracing::instrument(skip_all, fields(topic))]
pub async fn end_offsets(config: &KafkaConfig, topic: &str) -> anyhow::Result<BTreeMap<i32, i64>> {
    let count = partition_count(config, topic).await?;
    let client: BaseConsumer = client_config(config)
        .create()
        .context("failed to create a kafka metadata client")?;
    let topic_name = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        (0..count)
            .map(|partition| {
                let (_, high) = client
                    .fetch_watermarks(&topic_name, partition, Duration::from_secs(30))
                    .with_context(|| {
                        format!("failed to read the end offset of {topic_name}/{partition}")
                    })?;
                Ok((partition, high))
            })
            .collect()
    })
    .await
    .context("watermark task failed")?
}

/// One record as stored, undecoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The broker's timestamp, milliseconds since the epoch, when it has one.
    pub timestamp_ms: Option<i64>,
    /// Key.
    pub key: Vec<u8>,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Every record of `topic` up to its end offsets as they are when called, in partition order,
/// read without a consumer group (for operators' tools and tests, not for services: it holds
/// the whole topic in memory). Fails if the records cannot be read within `deadline`.
#[tracing::instrument(skip_all, fields(topic))]
pub async fn read_to_end(
    config: &KafkaConfig,
    topic: &str,
    deadline: Duration,
) -> anyhow::Result<Vec<StoredRecord>> {
    let ends = end_offsets(config, topic).await?;
    let consumer: BaseConsumer = client_config(config)
        .set("group.id", "resi-reader")
        .set("enable.auto.commit", "false")
        .create()
        .context("failed to create a kafka reader")?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut assignment = TopicPartitionList::new();
        for (&partition, &end) in &ends {
            if end > 0 {
                assignment.add_partition_offset(&topic, partition, Offset::Offset(0))?;
            }
        }
        let mut records = Vec::new();
        if assignment.count() == 0 {
            return Ok(records);
        }
        consumer.assign(&assignment)?;
        let stop = std::time::Instant::now() + deadline;
        let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
        while ends
            .iter()
            .any(|(partition, end)| positions.get(partition).copied().unwrap_or(0) < *end)
        {
            if std::time::Instant::now() >= stop {
                bail!("reading {topic} took longer than {deadline:?}");
            }
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let message = message?;
            positions.insert(message.partition(), message.offset() + 1);
            if message.offset() >= ends.get(&message.partition()).copied().unwrap_or(0) {
                continue;
            }
            records.push(StoredRecord {
                partition: message.partition(),
                offset: message.offset(),
                timestamp_ms: message.timestamp().to_millis(),
                key: message.key().unwrap_or_default().to_vec(),
                payload: message.payload().unwrap_or_default().to_vec(),
            });
        }
        records.sort_by_key(|record| (record.partition, record.offset));
        Ok(records)
    })
    .await
    .context("reader task failed")?
}

/// Assigns `partitions` of `topic`, each at its checkpoint (0 when it has none).
pub fn assign_at(
    consumer: &StreamConsumer,
    topic: &str,
    partitions: &[i32],
    checkpoints: &BTreeMap<i32, i64>,
) -> anyhow::Result<()> {
    let mut assignment = TopicPartitionList::new();
    for &partition in partitions {
        let next = checkpoints.get(&partition).copied().unwrap_or(0);
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(next))
            .with_context(|| format!("failed to assign {topic}/{partition}"))?;
    }
    consumer
        .assign(&assignment)
        .with_context(|| format!("failed to assign partitions {partitions:?} of {topic}"))
}

/// Encodes `event` and enqueues it for `topic`, keyed by its partition key, waiting for queue
/// space when the producer's buffer is full. The returned future resolves when the broker
/// acknowledged the write (or delivery finally failed).
pub async fn enqueue(
    producer: &FutureProducer,
    topic: &str,
    event: &Event,
) -> anyhow::Result<DeliveryFuture> {
    let payload = codec::encode(event);
    enqueue_encoded(
        producer,
        topic,
        event.payload.partition_key(),
        &payload,
        event_headers(event),
    )
    .await
}

/// Like [`enqueue`] for an event already encoded.
pub async fn enqueue_encoded(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    payload: &[u8],
    headers: OwnedHeaders,
) -> anyhow::Result<DeliveryFuture> {
    let mut record = FutureRecord::to(topic)
        .key(key)
        .payload(payload)
        .headers(headers);
    if let Some(partitions) = pinned(topic)
        && !key.is_empty()
    {
        record = record.partition(placement(key.as_bytes(), partitions));
    }
    let mut backoff = Duration::from_millis(1);
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                // the local queue drains as the broker acknowledges; let it, then try again
                record = returned;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(100));
            }
            Err((error, _)) => {
                return Err(error).with_context(|| format!("failed to produce to {topic}"));
            }
        }
    }
}

/// Waits for a delivery; an error says which topic failed.
pub async fn delivered(delivery: DeliveryFuture) -> anyhow::Result<()> {
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, message))) => Err(error).with_context(|| {
            format!(
                "the broker did not accept a message for {}",
                message.topic()
            )
        }),
        Err(_) => anyhow::bail!("the producer was dropped before delivery"),
    }
}

/// Produces `event` and waits until the broker acknowledged it.
#[tracing::instrument(skip_all, fields(topic, event_type = event.event_type().as_str(), event_id = %event.id))]
pub async fn publish(producer: &FutureProducer, topic: &str, event: &Event) -> anyhow::Result<()> {
    delivered(enqueue(producer, topic, event).await?).await
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers as _;
    use resi_events::{EventPayload, Timestamp, UploadRejectReason, UploadRejected};

    use super::*;

    #[test]
    fn headers_match_the_contract() {
        let rejected = UploadRejected {
            upload_id: resi_events::EventId([7; 32]),
            bucket: "b".into(),
            key: "k".into(),
            etag: "e".into(),
            miner_hotkey: "m".into(),
            reason: UploadRejectReason::UnparseablePath,
            detail: "d".into(),
        };
        let event = Event::new(
            EventPayload::UploadRejected(rejected),
            Timestamp::EPOCH,
            Timestamp::EPOCH,
        );
        let built = event_headers(&event);
        let pairs: Vec<(String, String)> = built
            .iter()
            .map(|header| {
                (
                    header.key.to_owned(),
                    String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = codec::headers_of(&event)
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect();
        assert_eq!(pairs, expected);
        let mut out = [0_u8; 5];
        let written = write_decimal(65_535, &mut out);
        assert_eq!(&out[..written], b"65535");
        let written = write_decimal(0, &mut out);
        assert_eq!(&out[..written], b"0");
    }
}
