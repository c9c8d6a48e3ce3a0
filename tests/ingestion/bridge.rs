//! The bridge: notifications, listing, duplicates, late uploads.

use resi_events::{
    DeadLetterReason, DeadLetterSubject, EventPayload, EventType, UploadDiscovery,
    UploadRejectReason,
};

use resi_tests::harness::{Harness, count, payloads, v1_file, v1_key};

fn observed(records: &[resi_tests::harness::Record]) -> Vec<resi_events::UploadObserved> {
    payloads(records)
        .filter_map(|payload| match payload {
            EventPayload::UploadObserved(upload) => Some(upload.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn notifications_publish_each_upload_once_and_are_deleted_after() -> anyhow::Result<()> {
    // Arrange: a bucket that notifies a queue, and a bridge that never lists
    let stack = Harness::new().await?;
    let queue = stack.notify_queue().await?;
    let mut config = stack.bridge_config("s3", Some(queue.clone()));
    config.bridge.reconcile_interval_secs = 0;
    let bridge = stack.spawn_bridge(&config).await?;
    let sqs = stack.sqs().await;
    // a key S3 URL-encodes in its notification: `=` as %3D and the spaces as `+`
    let key = v1_key("5Notified", "zillow zip 78702", "20250917_153000", 3);

    // Act
    stack.put(&key, v1_file(3, 1_000)?).await?;
    let uploads = stack.topics.uploads();
    stack
        .wait_for(&uploads, "the notified upload", |records| {
            count(records, EventType::UploadObserved) == 1
        })
        .await?;
    let head = stack
        .s3_client
        .head_object()
        .bucket(&stack.s3.bucket)
        .key(&key)
        .send()
        .await?;
    let etag = head
        .e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    let encoded_key = key.replace('=', "%3D").replace(' ', "+");
    let notification = serde_json::json!({"Records": [{
        "eventName": "ObjectCreated:Put",
        "eventTime": "2025-09-17T15:30:01.000Z",
        "s3": {"bucket": {"name": stack.s3.bucket}, "object": {"key": encoded_key, "size": head.content_length(), "eTag": etag}}
    }]});
    for body in [
        notification.to_string(),
        // SNS-wrapped copy of the same notification
        serde_json::json!({"Type": "Notification", "Message": notification.to_string()}).to_string(),
        serde_json::json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": stack.s3.bucket}).to_string(),
        "this is not a notification".to_owned(),
    ] {
        sqs.send_message().queue_url(&queue).message_body(body).send().await?;
    }
    let dead_letters = stack
        .wait_for(
            &stack.topics.dead_letters(),
            "the unreadable message",
            |records| count(records, EventType::DeadLettered) == 1,
        )
        .await?;
    resi_tests::eventually(resi_tests::harness::PIPELINE_DEADLINE, "an empty queue", || async {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await?
            .attributes
            .unwrap_or_default();
        let waiting = |name| {
            attributes
                .get(&name)
                .and_then(|value| value.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        };
        Ok((waiting(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages) == 0
            && waiting(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible) == 0)
            .then_some(()))
    })
    .await?;
    bridge.stop().await?;

    // Assert
    let records = stack.read_all(&uploads).await?;
    let uploads_seen = observed(&records);
    assert_eq!(
        uploads_seen.len(),
        1,
        "duplicates publish nothing: {uploads_seen:?}"
    );
    assert_eq!(uploads_seen[0].key, key, "the key is URL-decoded");
    assert_eq!(uploads_seen[0].job_id, "zillow zip 78702");
    assert_eq!(uploads_seen[0].etag, etag);
    assert_eq!(uploads_seen[0].declared_record_count, Some(3));
    assert_eq!(uploads_seen[0].discovery, UploadDiscovery::Notification);
    match &dead_letters[0].event.payload {
        EventPayload::DeadLettered(dead) => {
            assert_eq!(dead.reason, DeadLetterReason::UnreadableNotification);
            assert!(
                matches!(&dead.subject, DeadLetterSubject::QueueMessage { body, .. } if body == "this is not a notification"),
                "{dead:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn listing_finds_every_upload_once_including_late_ones_across_restarts() -> anyhow::Result<()>
{
    // Arrange: no queue at all
    let stack = Harness::new().await?;
    stack
        .put(
            &v1_key("5Lister", "j", "20250917_150000", 2),
            v1_file(2, 10)?,
        )
        .await?;
    stack
        .put(
            &v1_key("5Lister", "j", "20250917_170000", 2),
            v1_file(2, 20)?,
        )
        .await?;
    stack
        .put("elsewhere/readme.txt", b"not an upload".to_vec())
        .await?;
    stack
        .put("data/hotkey=5Lister/stray.parquet", v1_file(1, 30)?)
        .await?;
    let config = stack.bridge_config("s3", None);
    let bridge = stack.spawn_bridge(&config).await?;
    let uploads = stack.topics.uploads();

    // Act: the first listing, then an upload that arrives late with an older file time
    stack
        .wait_for(&uploads, "the listed uploads", |records| {
            count(records, EventType::UploadObserved) == 2
                && count(records, EventType::UploadRejected) == 1
        })
        .await?;
    let late = v1_key("5Lister", "j", "20250917_130000", 2);
    stack.put(&late, v1_file(2, 40)?).await?;
    stack
        .wait_for(&uploads, "the late upload", |records| {
            count(records, EventType::UploadObserved) == 3
        })
        .await?;
    bridge.stop().await?;
    let restarted = resi_bridge::Bridge::build(&config).await?;
    let report = restarted.reconcile().await?;

    // Assert
    assert_eq!(report.listed, 4, "everything under data/ was listed");
    assert_eq!(report.published, 0, "a restart publishes nothing again");
    let records = stack.read_all(&uploads).await?;
    let uploads_seen = observed(&records);
    assert_eq!(uploads_seen.len(), 3, "{uploads_seen:?}");
    assert!(uploads_seen.iter().any(|upload| upload.key == late));
    assert!(
        uploads_seen
            .iter()
            .all(|upload| upload.discovery == UploadDiscovery::Listing)
    );
    let rejected: Vec<_> = payloads(&records)
        .filter_map(|payload| match payload {
            EventPayload::UploadRejected(rejected) => Some(rejected.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason, UploadRejectReason::UnparseablePath);
    assert_eq!(rejected[0].miner_hotkey, "5Lister");
    assert!(
        rejected[0].detail.contains("path segments"),
        "{}",
        rejected[0].detail
    );
    Ok(())
}

#[tokio::test]
async fn v2_listings_wait_for_their_metadata_and_a_late_one_still_publishes() -> anyhow::Result<()>
{
    // Arrange
    let stack = Harness::new().await?;
    let folder = "data/hotkey=5Epoch/epoch=2025-10-01T16-00-00";
    let reports = resi_tests::harness::reports(4, 500);
    let listings = resi_datagen::parquet_files::write(
        [resi_datagen::parquet_files::v2_batch(&reports)],
        1_000,
    )?;
    stack
        .put(&format!("{folder}/listings.parquet"), listings)
        .await?;
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let uploads = stack.topics.uploads();

    // Act: past the grace period it is rejected; then the metadata arrives
    stack
        .wait_for(&uploads, "the rejection", |records| {
            count(records, EventType::UploadRejected) == 1
        })
        .await?;
    let metadata = serde_json::json!({
        "epoch_id": "2025-10-01T16-00-00", "miner_hotkey": "5Epoch",
        "mining_start_time": "2025-10-01T16:05:00.000Z", "mining_end_time": "2025-10-01T19:45:00.000Z",
        "total_listings": 4, "zipcodes_completed": 1, "data_format_version": "2.0"
    });
    stack
        .put(
            &format!("{folder}/metadata.json"),
            metadata.to_string().into_bytes(),
        )
        .await?;
    let records = stack
        .wait_for(&uploads, "the late observation", |records| {
            count(records, EventType::UploadObserved) == 1
        })
        .await?;
    bridge.stop().await?;

    // Assert
    let rejected = payloads(&records).find_map(|payload| match payload {
        EventPayload::UploadRejected(rejected) => Some(rejected.reason),
        _ => None,
    });
    assert_eq!(rejected, Some(UploadRejectReason::MetadataMissing));
    let upload = &observed(&records)[0];
    assert_eq!(upload.declared_record_count, Some(4));
    assert_eq!(upload.job_id, "2025-10-01T16-00-00");
    assert_eq!(
        upload.file_timestamp.to_rfc3339(),
        "2025-10-01T19:45:00.000000Z"
    );
    assert_eq!(
        upload
            .epoch
            .as_ref()
            .map(|epoch| epoch.metadata_key.as_str()),
        Some(format!("{folder}/metadata.json").as_str())
    );
    Ok(())
}
