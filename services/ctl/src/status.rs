//! `resi status`: one look at every store the system depends on.

use std::time::Duration;

use anyhow::bail;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use resi_events::{TopicKind, Topics};

use crate::CtlConfig;

const TIMEOUT: Duration = Duration::from_secs(5);

/// Prints the status of Postgres, the topics and the bucket; fails if any is unhealthy.
pub async fn print(config: &CtlConfig) -> anyhow::Result<()> {
    let mut healthy = true;

    match postgres(config).await {
        Ok(line) => println!("postgres  ok    {line}"),
        Err(error) => {
            healthy = false;
            println!("postgres  FAIL  {error:#}");
        }
    }

    let kafka = config.kafka.clone();
    let topics = tokio::task::spawn_blocking(move || topic_lines(&kafka)).await?;
    match topics {
        Ok(lines) => {
            for (ok, line) in lines {
                healthy &= ok;
                println!(
                    "{}",
                    if ok {
                        format!("topic     ok    {line}")
                    } else {
                        format!("topic     FAIL  {line}")
                    }
                );
            }
        }
        Err(error) => {
            healthy = false;
            println!("broker    FAIL  {error:#}");
        }
    }

    let client = resi_runtime::s3::client(&config.s3).await;
    match client.head_bucket().bucket(&config.s3.bucket).send().await {
        Ok(_) => println!(
            "bucket    ok    s3://{}/{}",
            config.s3.bucket, config.s3.prefix
        ),
        Err(error) => {
            healthy = false;
            println!(
                "bucket    FAIL  s3://{}: {}",
                config.s3.bucket,
                aws_sdk_s3::error::DisplayErrorContext(error)
            );
        }
    }

    if !healthy {
        bail!("some stores are unreachable or behind");
    }
    Ok(())
}

async fn postgres(config: &CtlConfig) -> anyhow::Result<String> {
    let pool = resi_runtime::postgres::pool(&config.postgres)?;
    let (applied, pending) = resi_runtime::postgres::migration_status(&pool).await?;
    if !pending.is_empty() {
        bail!("migrations pending: {pending:?} (run `resi migrate`)");
    }
    Ok(format!("migrations applied: {applied:?}"))
}

/// One line per topic: partitions and the messages each holds (high minus low watermark).
fn topic_lines(config: &resi_runtime::config::KafkaConfig) -> anyhow::Result<Vec<(bool, String)>> {
    let consumer: BaseConsumer = resi_runtime::kafka::client_config(config).create()?;
    let topics = Topics::new(&config.topic_prefix);
    let mut lines = Vec::new();
    for kind in TopicKind::ALL {
        let name = topics.name(kind);
        let metadata = consumer.fetch_metadata(Some(&name), TIMEOUT)?;
        let partitions = metadata
            .topics()
            .first()
            .map_or(0, |topic| topic.partitions().len());
        if partitions == 0 {
            lines.push((false, format!("{name}: missing (run `resi topics create`)")));
            continue;
        }
        let mut messages = 0_i64;
        for partition in 0..partitions {
            let partition = i32::try_from(partition)?;
            let (low, high) = consumer.fetch_watermarks(&name, partition, TIMEOUT)?;
            messages += high - low;
        }
        lines.push((
            true,
            format!("{name}: {partitions} partitions, {messages} messages"),
        ));
    }
    Ok(lines)
}
