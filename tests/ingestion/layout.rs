//! A keyed topic's partition count is fixed for the life of the system: producers place keys
//! modulo the count, so a changed count would split a listing's (or a miner's) events across
//! two lanes. Every service records the count it first sees and refuses to start against
//! another, and a running one keeps placing keys by the count it checked.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::OwnedHeaders;
use resi_projector::engine::ProjectionKind;
use resi_runtime::config::KafkaConfig;
use resi_runtime::kafka;
use resi_tests::harness::Harness;

/// Deletes `topic` and creates it again, empty, with `partitions`.
async fn recreate(config: &KafkaConfig, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = kafka::client_config(config).create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    admin.delete_topics(&[topic], &options).await?;
    resi_tests::eventually(
        Duration::from_secs(30),
        "the topic created again",
        || async {
            let created = admin
                .create_topics(
                    &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
                    &options,
                )
                .await?;
            Ok(created.first().is_some_and(Result::is_ok).then_some(()))
        },
    )
    .await?;
    resi_tests::eventually(Duration::from_secs(30), "the new count", || async {
        Ok((kafka::partition_count(config, topic).await.ok() == Some(partitions)).then_some(()))
    })
    .await
}

#[tokio::test]
async fn no_service_starts_against_a_changed_partition_count() -> anyhow::Result<()> {
    // Arrange: every service has started once, recording the counts it saw
    let stack = Harness::new().await?;
    let targets = [(ProjectionKind::Listing, "v1")];
    stack
        .spawn_bridge(&stack.bridge_config("s3", None))
        .await?
        .stop()
        .await?;
    stack
        .spawn_parser(&stack.parser_config(0, 1))
        .await?
        .stop()
        .await?;
    stack.spawn_projector(&targets).await?.stop().await?;
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let recorded: Vec<(String, i32)> = client
        .query(
            "SELECT topic, partitions FROM topic_partitions ORDER BY topic",
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let uploads = kafka::partition_count(&stack.kafka, &stack.topics.uploads()).await?;
    let attestations = kafka::partition_count(&stack.kafka, &stack.topics.attestations()).await?;
    let mut expected = vec![
        (stack.topics.attestations(), attestations),
        (stack.topics.uploads(), uploads),
    ];
    expected.sort();
    assert_eq!(recorded, expected);

    for (topic, count, users) in [
        (stack.topics.uploads(), uploads, ["bridge", "parser"]),
        (
            stack.topics.attestations(),
            attestations,
            ["parser", "projector"],
        ),
    ] {
        // Act: the broker's count changes under the system
        recreate(&stack.kafka, &topic, count + 1).await?;
        let refusals = [
            (
                "bridge",
                stack
                    .spawn_bridge(&stack.bridge_config("s3", None))
                    .await
                    .err(),
            ),
            (
                "parser",
                stack.spawn_parser(&stack.parser_config(0, 1)).await.err(),
            ),
            ("projector", stack.spawn_projector(&targets).await.err()),
        ];
        recreate(&stack.kafka, &topic, count).await?;

        // Assert: whoever uses the topic refuses, naming it and the count it was built with
        for (service, refusal) in refusals {
            match refusal {
                Some(error) => {
                    let message = format!("{error:#}");
                    assert!(users.contains(&service), "{service}: {message}");
                    assert!(message.contains(&topic), "{message}");
                    assert!(
                        message.contains(&format!("{} partitions", count + 1))
                            && message.contains(&format!("was built with {count}")),
                        "{message}"
                    );
                }
                None => assert!(
                    !users.contains(&service),
                    "{service} started against {topic}"
                ),
            }
        }
    }

    // once the broker's counts are the recorded ones again, everything starts
    for running in [
        stack.spawn_bridge(&stack.bridge_config("s3", None)).await?,
        stack.spawn_parser(&stack.parser_config(0, 1)).await?,
        stack.spawn_projector(&targets).await?,
    ] {
        running.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn keys_land_where_librdkafka_puts_them_and_stay_there_when_partitions_are_added()
-> anyhow::Result<()> {
    // Arrange: a keyed topic of 5 partitions that no service has checked yet
    let stack = Harness::new().await?;
    let topic = format!("{}.placement", stack.kafka.topic_prefix);
    create(&stack.kafka, &topic, 5).await?;
    let keys: Vec<String> = (0..200).map(|index| format!("listing-{index}")).collect();
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;

    // Act: librdkafka places the keys; then the count is checked (pinned), the topic grows to
    // 8 partitions, and a new producer, which sees 8, writes the same keys
    produce(&stack.kafka, &topic, &keys).await?;
    let before = kafka::read_to_end(&stack.kafka, &topic, Duration::from_secs(30)).await?;
    kafka::keyed_partition_count(&stack.kafka, &pool, &topic).await?;
    recreate(&stack.kafka, &topic, 8).await?;
    produce(&stack.kafka, &topic, &keys).await?;
    let after = kafka::read_to_end(&stack.kafka, &topic, Duration::from_secs(30)).await?;

    // Assert: the placement is librdkafka's, and the pinned count keeps every key where it was
    let placed = |records: &[kafka::StoredRecord]| -> Vec<(String, i32)> {
        let mut placed: Vec<(String, i32)> = records
            .iter()
            .map(|record| {
                (
                    String::from_utf8_lossy(&record.key).into_owned(),
                    record.partition,
                )
            })
            .collect();
        placed.sort();
        placed
    };
    let mut expected: Vec<(String, i32)> = keys
        .iter()
        .map(|key| (key.clone(), kafka::placement(key.as_bytes(), 5)))
        .collect();
    expected.sort();
    assert_eq!(placed(&before), expected, "librdkafka's consistent_random");
    assert_eq!(
        placed(&after),
        expected,
        "placed by the pinned count, not 8"
    );
    assert!(
        keys.iter()
            .any(|key| kafka::placement(key.as_bytes(), 8) != kafka::placement(key.as_bytes(), 5)),
        "8 partitions would have moved keys"
    );
    Ok(())
}

async fn create(config: &KafkaConfig, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = kafka::client_config(config).create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await?;
    resi_tests::eventually(Duration::from_secs(30), "the topic", || async {
        Ok((kafka::partition_count(config, topic).await.ok() == Some(partitions)).then_some(()))
    })
    .await
}

/// Writes one record per key through the services' producer path, with a fresh producer.
async fn produce(config: &KafkaConfig, topic: &str, keys: &[String]) -> anyhow::Result<()> {
    let producer = kafka::producer(config)?;
    let mut deliveries = Vec::new();
    for key in keys {
        deliveries
            .push(kafka::enqueue_encoded(&producer, topic, key, b"x", OwnedHeaders::new()).await?);
    }
    for delivery in deliveries {
        kafka::delivered(delivery).await?;
    }
    Ok(())
}
