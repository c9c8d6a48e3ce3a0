//! S3 event notifications as SQS delivers them: straight from S3, or wrapped by SNS.

use chrono::DateTime;
use resi_events::Timestamp;
use resi_events::layout::decode_notification_key;
use serde::Deserialize;

/// An object was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectCreated {
    /// Bucket.
    pub bucket: String,
    /// Key, URL-decoded.
    pub key: String,
    /// Entity tag, when the notification carries one.
    pub etag: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// When S3 recorded the event.
    pub event_time: Option<Timestamp>,
}

/// What a queue message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    /// `s3:TestEvent`, sent when notifications are configured: nothing to do.
    Test,
    /// Event records: the object-created ones, and how many others (removals, …) were skipped.
    Records {
        /// Object-created records, in message order.
        created: Vec<ObjectCreated>,
        /// Records of other event types.
        skipped: usize,
    },
}

/// Why a message body is not a notification.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// Not JSON.
    #[error("message body is not JSON: {0}")]
    NotJson(String),
    /// JSON of another shape.
    #[error(
        "message is neither an S3 event, an S3 test event nor an SNS notification wrapping one"
    )]
    UnknownShape,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    #[serde(rename = "Event")]
    event: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    #[serde(rename = "eventTime")]
    event_time: Option<String>,
    s3: Option<Entity>,
}

#[derive(Deserialize)]
struct Entity {
    bucket: BucketEntity,
    object: ObjectEntity,
}

#[derive(Deserialize)]
struct BucketEntity {
    name: String,
}

#[derive(Deserialize)]
struct ObjectEntity {
    key: String,
    size: Option<u64>,
    #[serde(rename = "eTag")]
    etag: Option<String>,
}

/// Parses a message body.
pub fn parse(body: &str) -> Result<Notification, NotificationError> {
    parse_at_depth(body, 0)
}

fn parse_at_depth(body: &str, depth: u8) -> Result<Notification, NotificationError> {
    let envelope: Envelope = serde_json::from_str(body)
        .map_err(|error| NotificationError::NotJson(error.to_string()))?;
    if let (Some("Notification"), Some(message), 0) =
        (envelope.kind.as_deref(), envelope.message.as_deref(), depth)
    {
        return parse_at_depth(message, depth + 1);
    }
    if envelope.event.as_deref() == Some("s3:TestEvent") {
        return Ok(Notification::Test);
    }
    let records = envelope.records.ok_or(NotificationError::UnknownShape)?;
    let mut created = Vec::with_capacity(records.len());
    let mut skipped = 0;
    for record in records {
        match record.s3 {
            Some(entity) if record.event_name.starts_with("ObjectCreated:") => {
                created.push(ObjectCreated {
                    bucket: entity.bucket.name,
                    key: decode_notification_key(&entity.object.key),
                    etag: entity
                        .object
                        .etag
                        .map(|etag| etag.trim_matches('"').to_owned()),
                    size: entity.object.size,
                    event_time: record
                        .event_time
                        .as_deref()
                        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                        .map(|time| Timestamp::from_datetime(time.to_utc())),
                })
            }
            _ => skipped += 1,
        }
    }
    Ok(Notification::Records { created, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S3_EVENT: &str = r#"{"Records":[
        {"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2025-09-17T15:30:01.123Z",
         "s3":{"bucket":{"name":"resi-miner-data"},"object":{"key":"data/hotkey%3D5C7V/job_id%3Dzillow_zip_77494/data_20250917_153000_330.parquet","size":48213,"eTag":"9b2cf535f27731c974343645a3985328","sequencer":"0A1B"}}},
        {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"resi-miner-data"},"object":{"key":"old"}}},
        {"eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"resi-miner-data"},"object":{"key":"data/a+b.parquet","eTag":"\"abc-2\""}}}
    ]}"#;

    #[test]
    fn several_records_with_encoded_keys() {
        let Ok(Notification::Records { created, skipped }) = parse(S3_EVENT) else {
            panic!("records")
        };
        assert_eq!(skipped, 1, "the removal is skipped, not lost");
        assert_eq!(created.len(), 2);
        assert_eq!(
            created[0].key,
            "data/hotkey=5C7V/job_id=zillow_zip_77494/data_20250917_153000_330.parquet"
        );
        assert_eq!(created[0].size, Some(48_213));
        assert_eq!(
            created[0].event_time,
            Some(Timestamp::from_micros(1_758_123_001_123_000))
        );
        assert_eq!(created[1].key, "data/a b.parquet");
        assert_eq!(
            created[1].etag.as_deref(),
            Some("abc-2"),
            "quotes are trimmed"
        );
    }

    #[test]
    fn sns_wrapped_notifications_are_unwrapped() {
        let wrapped = serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": S3_EVENT});
        let Ok(Notification::Records { created, .. }) = parse(&wrapped.to_string()) else {
            panic!("records")
        };
        assert_eq!(created.len(), 2);
    }

    #[test]
    fn test_events_and_garbage() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2025-09-17T15:30:00Z","Bucket":"b"}"#;
        assert_eq!(parse(test), Ok(Notification::Test));
        assert!(matches!(
            parse("not json"),
            Err(NotificationError::NotJson(_))
        ));
        assert_eq!(
            parse(r#"{"hello":"world"}"#),
            Err(NotificationError::UnknownShape)
        );
        let nested = serde_json::json!({"Type": "Notification", "Message": serde_json::json!({"Type": "Notification", "Message": "{}"}).to_string()});
        assert_eq!(
            parse(&nested.to_string()),
            Err(NotificationError::UnknownShape),
            "SNS is unwrapped once only"
        );
    }
}
