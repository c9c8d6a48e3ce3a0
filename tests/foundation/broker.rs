//! The event contract over a real Kafka-protocol broker.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use resi_events::codec::{self, headers};
use resi_events::{
    Event, EventPayload, EventType, Timestamp, Topics, UploadDiscovery, UploadFormat,
    UploadObserved,
};
use resi_runtime::kafka;
use resi_tests::{eventually, fresh_kafka};

#[tokio::test]
async fn topics_are_created_once_with_their_partition_counts() -> anyhow::Result<()> {
    // Arrange
    let config = fresh_kafka();

    // Act
    let first = kafka::ensure_topics(&config).await?;
    let second = kafka::ensure_topics(&config).await?;

    // Assert
    assert_eq!(first.created.len(), 5, "{first:?}");
    assert!(
        second.created.is_empty() && second.existing.len() == 5,
        "{second:?}"
    );
    let consumer: BaseConsumer = kafka::client_config(&config).create()?;
    let topics = Topics::new(&config.topic_prefix);
    for (name, partitions) in [
        (topics.uploads(), 2),
        (topics.attestations(), 3),
        (topics.dead_letters(), 1),
        // one partition whatever the configuration: the epochs need one total order
        (topics.epochs(), 1),
        (topics.network(), 3),
    ] {
        let metadata = consumer.fetch_metadata(Some(&name), Duration::from_secs(10))?;
        assert_eq!(
            metadata.topics()[0].partitions().len(),
            partitions,
            "{name}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_event_round_trips_through_the_broker_with_key_and_headers() -> anyhow::Result<()> {
    // Arrange
    let config = fresh_kafka();
    kafka::ensure_topics(&config).await?;
    let topic = Topics::new(&config.topic_prefix).uploads();
    let upload = UploadObserved {
        bucket: "b".into(),
        key: "data/hotkey=5Abc/job_id=j/data_20250917_153000_3.parquet".into(),
        etag: "\"e\"".into(),
        size: 10,
        last_modified: Timestamp::from_micros(1),
        miner_hotkey: "5Abc".into(),
        job_id: "j".into(),
        file_timestamp: Timestamp::from_micros(2),
        declared_record_count: Some(3),
        format: UploadFormat::V1,
        epoch: None,
        epoch_id: None,
        zipcode: None,
        discovery: UploadDiscovery::Notification,
    };
    let event = Event::new(
        EventPayload::UploadObserved(upload),
        Timestamp::from_micros(2),
        Timestamp::now(),
    );
    let producer = kafka::producer(&config)?;

    // Act
    let payload = codec::encode(&event);
    let record = FutureRecord::to(&topic)
        .key(event.payload.partition_key())
        .payload(&payload)
        .headers(kafka::event_headers(&event));
    producer
        .send(record, Duration::from_secs(10))
        .await
        .map_err(|(error, _)| error)?;

    // Assert: read every partition from offset 0 (the topics are new), without a consumer group
    // and without an earliest-offset lookup
    let mut consumer_config = kafka::client_config(&config);
    consumer_config
        .set("group.id", resi_tests::unique_name("g"))
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = consumer_config.create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..config.partitions.uploads {
        assignment.add_partition_offset(&topic, partition, Offset::Offset(0))?;
    }
    consumer.assign(&assignment)?;
    let (key, body, header_pairs) =
        eventually(Duration::from_secs(30), "the produced event", || {
            let polled = consumer.poll(Duration::from_millis(100));
            async move {
                Ok(match polled {
                    Some(Ok(message)) => {
                        let pairs: Vec<(String, String)> =
                            message.headers().map_or_else(Vec::new, |found| {
                                found
                                    .iter()
                                    .map(|header| {
                                        (
                                            header.key.to_owned(),
                                            String::from_utf8_lossy(
                                                header.value.unwrap_or_default(),
                                            )
                                            .into_owned(),
                                        )
                                    })
                                    .collect()
                            });
                        Some((
                            message.key().map(<[u8]>::to_vec),
                            message.payload().map(<[u8]>::to_vec),
                            pairs,
                        ))
                    }
                    Some(Err(error)) => return Err(error.into()),
                    None => None,
                })
            }
        })
        .await?;
    assert_eq!(
        key.as_deref(),
        Some(b"5Abc".as_slice()),
        "keyed by miner hotkey"
    );
    assert_eq!(codec::decode(&body.unwrap_or_default())?, event);
    assert!(
        header_pairs.contains(&(headers::EVENT_TYPE.to_owned(), "upload_observed".to_owned())),
        "{header_pairs:?}"
    );
    assert!(
        header_pairs.contains(&(headers::EVENT_ID.to_owned(), event.id.to_hex())),
        "{header_pairs:?}"
    );
    assert!(
        header_pairs.contains(&(
            headers::SCHEMA_VERSION.to_owned(),
            EventType::UploadObserved.schema_version().to_string()
        )),
        "{header_pairs:?}"
    );
    Ok(())
}
