//! The `metadata.json` of a v2 (epoch) upload (seed 003).

use chrono::{DateTime, NaiveDateTime, Utc};
use resi_events::{EpochMetadata, Timestamp};
use serde::Deserialize;

/// What a v2 upload's metadata says, checked against its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// For the `UploadObserved` event.
    pub epoch: EpochMetadata,
    /// `total_listings`.
    pub total_listings: Option<u64>,
}

/// Why the metadata cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Not JSON of the expected shape.
    #[error("metadata.json is invalid: {0}")]
    Invalid(String),
    /// It names another miner than the path.
    #[error("metadata.json names miner {found}, the path names {expected}")]
    MinerMismatch {
        /// The path's miner.
        expected: String,
        /// The metadata's miner.
        found: String,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CountOrList {
    Count(u32),
    List(Vec<serde_json::Value>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Version {
    Text(String),
    Number(serde_json::Number),
}

#[derive(Deserialize)]
struct Raw {
    epoch_id: Option<String>,
    miner_hotkey: String,
    mining_start_time: Option<String>,
    mining_end_time: Option<String>,
    total_listings: Option<u64>,
    zipcodes_completed: Option<CountOrList>,
    data_format_version: Option<Version>,
}

fn instant(field: &str, text: Option<String>) -> Result<Option<Timestamp>, MetadataError> {
    let Some(text) = text else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
        return Ok(Some(Timestamp::from_datetime(at.with_timezone(&Utc))));
    }
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| Some(Timestamp::from_naive_utc(naive)))
        .map_err(|_| MetadataError::Invalid(format!("{field} `{text}` is not an ISO 8601 time")))
}

/// Parses `body` (the object at `metadata_key`) for the upload of `hotkey` in epoch `epoch_id`.
pub fn parse(
    body: &[u8],
    metadata_key: &str,
    hotkey: &str,
    epoch_id: &str,
) -> Result<Metadata, MetadataError> {
    let raw: Raw =
        serde_json::from_slice(body).map_err(|error| MetadataError::Invalid(error.to_string()))?;
    if raw.miner_hotkey != hotkey {
        return Err(MetadataError::MinerMismatch {
            expected: hotkey.to_owned(),
            found: raw.miner_hotkey,
        });
    }
    if let Some(declared) = &raw.epoch_id
        && declared != epoch_id
    {
        return Err(MetadataError::Invalid(format!(
            "epoch_id `{declared}` differs from the path's epoch `{epoch_id}`"
        )));
    }
    let zipcodes_completed = raw.zipcodes_completed.map(|value| match value {
        CountOrList::Count(count) => count,
        CountOrList::List(list) => u32::try_from(list.len()).unwrap_or(u32::MAX),
    });
    Ok(Metadata {
        epoch: EpochMetadata {
            metadata_key: metadata_key.to_owned(),
            epoch_id: epoch_id.to_owned(),
            mining_start_time: instant("mining_start_time", raw.mining_start_time)?,
            mining_end_time: instant("mining_end_time", raw.mining_end_time)?,
            zipcodes_completed,
            data_format_version: raw.data_format_version.map(|version| match version {
                Version::Text(text) => text,
                Version::Number(number) => number.to_string(),
            }),
        },
        total_listings: raw.total_listings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{
        "epoch_id": "2025-10-01T16-00-00",
        "miner_hotkey": "5H2W",
        "mining_start_time": "2025-10-01T16:05:00.000Z",
        "mining_end_time": "2025-10-01T19:45:00.000Z",
        "total_listings": 1250,
        "zipcodes_completed": 25,
        "data_format_version": "2.0"
    }"#;

    #[test]
    fn the_seed_example_parses() {
        let parsed = parse(
            SEED.as_bytes(),
            "k/metadata.json",
            "5H2W",
            "2025-10-01T16-00-00",
        )
        .expect("valid");
        assert_eq!(parsed.total_listings, Some(1250));
        assert_eq!(parsed.epoch.zipcodes_completed, Some(25));
        assert_eq!(parsed.epoch.data_format_version.as_deref(), Some("2.0"));
        assert_eq!(
            parsed
                .epoch
                .mining_end_time
                .map(Timestamp::to_rfc3339)
                .as_deref(),
            Some("2025-10-01T19:45:00.000000Z")
        );
    }

    #[test]
    fn problems_are_named() {
        assert!(matches!(
            parse(SEED.as_bytes(), "k", "5Other", "2025-10-01T16-00-00"),
            Err(MetadataError::MinerMismatch { .. })
        ));
        assert!(matches!(
            parse(SEED.as_bytes(), "k", "5H2W", "2025-10-02T00-00-00"),
            Err(MetadataError::Invalid(reason)) if reason.contains("epoch_id")
        ));
        assert!(matches!(
            parse(b"{\"epoch_id\": ", "k", "5H2W", "e"),
            Err(MetadataError::Invalid(_))
        ));
        let list = r#"{"miner_hotkey": "m", "zipcodes_completed": ["77494", "78702"], "data_format_version": 2}"#;
        let parsed = parse(list.as_bytes(), "k", "m", "e").expect("lists and numbers");
        assert_eq!(parsed.epoch.zipcodes_completed, Some(2));
        assert_eq!(parsed.epoch.data_format_version.as_deref(), Some("2"));
    }
}
