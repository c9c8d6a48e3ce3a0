//! The upload key layout: what a key in the bucket says about itself.
//!
//! Miners' buckets ([`parse_upload_key`]):
//! * v1: `{prefix}hotkey={hotkey}/job_id={job_id}/data_{YYYYMMDD_HHMMSS}_{count}.parquet`
//! * v2: `{prefix}hotkey={hotkey}/epoch={epoch_id}/listings.parquet`, with
//!   `{prefix}hotkey={hotkey}/epoch={epoch_id}/metadata.json` beside it
//! * epoch JSON: `{prefix}hotkey={hotkey}/epoch={YYYY-MM-DDTHH-MM-SS}/zipcode={zip}/data_{YYYYMMDD_HHMMSS}.json`
//!
//! The network's upload helper puts the credential's folder (`data/hotkey={hotkey}/`) in front
//! of a path that already starts with `data/hotkey={hotkey}/`, so what lands in the bucket is
//! often `{prefix}hotkey={hotkey}/data/hotkey={hotkey}/…`. Both forms are the same upload
//! layout; the two hotkeys must be the same miner.
//!
//! The time in a file name is the miner's own wall clock (`datetime.now()`, local time), so it
//! is kept as the miner's claim only: the store's `LastModified` is the upload's time.
//!
//! Validators' results bucket ([`parse_validator_key`]):
//! `{prefix}{validator_hotkey}/epoch={YYYY-MM-DDTHH-MM-SS}/{name}.json`, the folder the gateway's
//! validator upload policy allows (`validators/` is the prefix).
//!
//! Keys outside the prefix are not uploads and are ignored. Every other key that does not fit
//! is an error with a reason, which the bridge records as an `UploadRejected`.

use chrono::NaiveDateTime;
use thiserror::Error;

use crate::time::Timestamp;

/// A key that fits the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadKey {
    /// A v1 delta file.
    V1 {
        /// The miner.
        hotkey: String,
        /// The scraping job.
        job_id: String,
        /// The timestamp in the file name, read as UTC (it is the miner's local clock).
        file_timestamp: Timestamp,
        /// The record count in the file name.
        declared_count: u64,
    },
    /// A v2 epoch's `listings.parquet`.
    V2Listings {
        /// The miner.
        hotkey: String,
        /// The epoch.
        epoch_id: String,
        /// Key of the `metadata.json` that belongs with it.
        metadata_key: String,
    },
    /// A v2 epoch's `metadata.json`.
    V2Metadata {
        /// The miner.
        hotkey: String,
        /// The epoch.
        epoch_id: String,
        /// Key of the `listings.parquet` it describes.
        listings_key: String,
    },
    /// One assigned zipcode's JSON document of an epoch.
    EpochJson {
        /// The miner.
        hotkey: String,
        /// The epoch, `YYYY-MM-DDTHH-MM-SS`.
        epoch_id: String,
        /// The zipcode, five digits.
        zipcode: String,
        /// The timestamp in the file name, read as UTC (the miner's local clock); `None` for
        /// a plain `data.json`.
        file_timestamp: Option<Timestamp>,
    },
    /// A validator's results document for an epoch.
    ValidatorResults {
        /// The validator.
        hotkey: String,
        /// The epoch, `YYYY-MM-DDTHH-MM-SS`.
        epoch_id: String,
    },
}

impl UploadKey {
    /// The miner named by the path.
    #[must_use]
    pub fn hotkey(&self) -> &str {
        match self {
            Self::V1 { hotkey, .. }
            | Self::V2Listings { hotkey, .. }
            | Self::V2Metadata { hotkey, .. }
            | Self::EpochJson { hotkey, .. }
            | Self::ValidatorResults { hotkey, .. } => hotkey,
        }
    }
}

/// Why a key is not an upload.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Outside the configured prefix: not ours, ignored.
    #[error("key is outside the upload prefix")]
    OutsidePrefix,
    /// Inside the prefix but not in the layout; the reason says what is wrong.
    #[error("{0}")]
    Unparseable(String),
    /// The key names one miner in its first `hotkey=` folder and another in the repeated one.
    #[error("the key names two miners: `{outer}` and `{inner}`")]
    HotkeyMismatch {
        /// The first `hotkey=` folder's miner (the one the store's credentials allowed).
        outer: String,
        /// The repeated folder's miner.
        inner: String,
    },
}

fn unparseable(reason: impl Into<String>) -> KeyError {
    KeyError::Unparseable(reason.into())
}

/// A path segment `name=value`, with a non-empty value.
fn segment<'k>(part: &'k str, name: &str) -> Result<&'k str, KeyError> {
    let value = part
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('='))
        .ok_or_else(|| unparseable(format!("expected `{name}=…`, found `{part}`")))?;
    if value.is_empty() {
        return Err(unparseable(format!("`{name}=` is empty")));
    }
    Ok(value)
}

fn all_digits(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYYMMDD` and `HHMMSS` as an instant, read as UTC.
fn name_time(date: &str, time: &str) -> Result<Timestamp, KeyError> {
    let at = NaiveDateTime::parse_from_str(&format!("{date}{time}"), "%Y%m%d%H%M%S")
        .map_err(|_| unparseable(format!("`{date}_{time}` is not a valid date and time")))?;
    Ok(Timestamp::from_naive_utc(at))
}

/// Parses `data_{YYYYMMDD_HHMMSS}_{count}.parquet`.
fn v1_file_name(name: &str) -> Result<(Timestamp, u64), KeyError> {
    let expected = "file name does not match data_{YYYYMMDD_HHMMSS}_{count}.parquet";
    let stem = name
        .strip_prefix("data_")
        .and_then(|rest| rest.strip_suffix(".parquet"))
        .ok_or_else(|| unparseable(format!("{expected}: `{name}`")))?;
    let mut pieces = stem.splitn(3, '_');
    let (Some(date), Some(time), Some(count)) = (pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(unparseable(format!("{expected}: `{name}`")));
    };
    if !all_digits(date, 8)
        || !all_digits(time, 6)
        || count.is_empty()
        || !count.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(unparseable(format!("{expected}: `{name}`")));
    }
    let at = name_time(date, time)?;
    let declared = count
        .parse()
        .map_err(|_| unparseable(format!("record count `{count}` is too large")))?;
    Ok((at, declared))
}

/// Parses `data_{YYYYMMDD_HHMMSS}.json` (or a plain `data.json`, which claims no time).
fn epoch_json_file_name(name: &str) -> Result<Option<Timestamp>, KeyError> {
    if name == "data.json" {
        return Ok(None);
    }
    let expected = "file name does not match data_{YYYYMMDD_HHMMSS}.json";
    let stem = name
        .strip_prefix("data_")
        .and_then(|rest| rest.strip_suffix(".json"))
        .ok_or_else(|| unparseable(format!("{expected}: `{name}`")))?;
    match stem.split_once('_') {
        Some((date, time)) if all_digits(date, 8) && all_digits(time, 6) => {
            name_time(date, time).map(Some)
        }
        _ => Err(unparseable(format!("{expected}: `{name}`"))),
    }
}

/// An epoch id as the network writes it: `YYYY-MM-DDTHH-MM-SS`.
fn epoch_id(value: &str) -> Result<String, KeyError> {
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H-%M-%S")
        .ok()
        .filter(|_| value.len() == "2025-10-21T12-00-00".len())
        .map(|_| value.to_owned())
        .ok_or_else(|| unparseable(format!("epoch `{value}` is not YYYY-MM-DDTHH-MM-SS")))
}

/// Parses a (URL-decoded) key under `prefix`.
pub fn parse_upload_key(prefix: &str, key: &str) -> Result<UploadKey, KeyError> {
    let relative = key.strip_prefix(prefix).ok_or(KeyError::OutsidePrefix)?;
    let (hotkey_part, rest) = relative.split_once('/').unwrap_or((relative, ""));
    let hotkey = segment(hotkey_part, "hotkey")?.to_owned();
    // the upload helper's repeated credential folder: `data/hotkey={hotkey}/`
    let rest = match rest.strip_prefix("data/") {
        Some(repeated) if repeated.starts_with("hotkey=") => {
            let (inner_part, inner_rest) = repeated.split_once('/').unwrap_or((repeated, ""));
            let inner = segment(inner_part, "hotkey")?;
            if inner != hotkey {
                return Err(KeyError::HotkeyMismatch {
                    outer: hotkey,
                    inner: inner.to_owned(),
                });
            }
            inner_rest
        }
        _ => rest,
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let directory = &key[..key.len() - parts.last().map_or(0, |file| file.len())];
    match parts.as_slice() {
        [folder, file] if folder.starts_with("job_id=") => {
            let job_id = segment(folder, "job_id")?.to_owned();
            let (file_timestamp, declared_count) = v1_file_name(file)?;
            Ok(UploadKey::V1 {
                hotkey,
                job_id,
                file_timestamp,
                declared_count,
            })
        }
        [folder, file] if folder.starts_with("epoch=") => {
            let epoch_id = segment(folder, "epoch")?.to_owned();
            match *file {
                "listings.parquet" => Ok(UploadKey::V2Listings {
                    hotkey,
                    epoch_id,
                    metadata_key: format!("{directory}metadata.json"),
                }),
                "metadata.json" => Ok(UploadKey::V2Metadata {
                    hotkey,
                    epoch_id,
                    listings_key: format!("{directory}listings.parquet"),
                }),
                other => Err(unparseable(format!(
                    "an epoch folder holds listings.parquet and metadata.json, or zipcode=… folders, not `{other}`"
                ))),
            }
        }
        [folder, zipcode_part, file] if folder.starts_with("epoch=") => {
            let epoch_id = epoch_id(segment(folder, "epoch")?)?;
            let zipcode = segment(zipcode_part, "zipcode")?;
            if !all_digits(zipcode, 5) {
                return Err(unparseable(format!(
                    "zipcode `{zipcode}` is not five digits"
                )));
            }
            Ok(UploadKey::EpochJson {
                hotkey,
                epoch_id,
                zipcode: zipcode.to_owned(),
                file_timestamp: epoch_json_file_name(file)?,
            })
        }
        [folder, _] | [folder, _, _]
            if !folder.starts_with("job_id=") && !folder.starts_with("epoch=") =>
        {
            Err(unparseable(format!(
                "expected `job_id=…` or `epoch=…`, found `{folder}`"
            )))
        }
        _ => Err(unparseable(format!(
            "expected hotkey=…/job_id=…/data_….parquet, hotkey=…/epoch=…/listings.parquet or hotkey=…/epoch=…/zipcode=…/data_….json, found {} path segments",
            parts.len() + 1
        ))),
    }
}

/// Whether `text` has an SS58 address's shape: 40 to 64 base58 characters (no checksum check;
/// what it admits cannot smuggle a separator or a path).
#[must_use]
pub fn is_ss58_shaped(text: &str) -> bool {
    (40..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() && !b"0OIl".contains(&b))
}

/// Parses a (URL-decoded) key of the validators' results bucket under `prefix`.
pub fn parse_validator_key(prefix: &str, key: &str) -> Result<UploadKey, KeyError> {
    let relative = key.strip_prefix(prefix).ok_or(KeyError::OutsidePrefix)?;
    match relative.split('/').collect::<Vec<_>>().as_slice() {
        [hotkey, folder, file] => {
            if !is_ss58_shaped(hotkey) {
                return Err(unparseable(format!(
                    "`{hotkey}` is not a validator's SS58 hotkey"
                )));
            }
            let epoch_id = epoch_id(segment(folder, "epoch")?)?;
            if !file.ends_with(".json") || file.len() == ".json".len() {
                return Err(unparseable(format!(
                    "results are a `….json` document, not `{file}`"
                )));
            }
            Ok(UploadKey::ValidatorResults {
                hotkey: (*hotkey).to_owned(),
                epoch_id,
            })
        }
        parts => Err(unparseable(format!(
            "expected {{validator_hotkey}}/epoch=…/….json, found {} path segments",
            parts.len()
        ))),
    }
}

/// Decodes a key as S3 event notifications send it: `+` is a space and `%XX` a byte.
/// Invalid escapes are kept as they are; invalid UTF-8 is replaced, never a panic.
#[must_use]
pub fn decode_notification_key(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    decoded.push(byte);
                    index += 3;
                    continue;
                }
                decoded.push(b'%');
            }
            other => decoded.push(other),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_keys() {
        let key = "data/hotkey=5C7VLT/job_id=zillow_zip_77494/data_20250917_153000_330.parquet";
        let parsed = parse_upload_key("data/", key).expect("v1 key");
        assert_eq!(
            parsed,
            UploadKey::V1 {
                hotkey: "5C7VLT".into(),
                job_id: "zillow_zip_77494".into(),
                file_timestamp: Timestamp::from_micros(1_758_123_000_000_000),
                declared_count: 330,
            }
        );
    }

    #[test]
    fn v2_keys_know_their_companion() {
        let listings = parse_upload_key(
            "data/",
            "data/hotkey=5H/epoch=2025-10-01T16-00-00/listings.parquet",
        )
        .expect("v2");
        assert_eq!(
            listings,
            UploadKey::V2Listings {
                hotkey: "5H".into(),
                epoch_id: "2025-10-01T16-00-00".into(),
                metadata_key: "data/hotkey=5H/epoch=2025-10-01T16-00-00/metadata.json".into(),
            }
        );
        let metadata =
            parse_upload_key("data/", "data/hotkey=5H/epoch=e/metadata.json").expect("metadata");
        assert!(
            matches!(metadata, UploadKey::V2Metadata { listings_key, .. } if listings_key == "data/hotkey=5H/epoch=e/listings.parquet")
        );
    }

    #[test]
    fn bad_keys_say_why() {
        assert_eq!(
            parse_upload_key("data/", "other/x.parquet"),
            Err(KeyError::OutsidePrefix)
        );
        for (key, needle) in [
            ("data/hotkey=5C/stray.parquet", "path segments"),
            (
                "data/hotkey=5C/job_id=j/export-final.parquet",
                "data_{YYYYMMDD_HHMMSS}_{count}",
            ),
            (
                "data/hotkey=5C/job_id=j/data_20251301_000000_5.parquet",
                "not a valid date",
            ),
            (
                "data/hotkey=5C/job_id=j/data_20250917_153000_.parquet",
                "data_{YYYYMMDD_HHMMSS}_{count}",
            ),
            (
                "data/hotkey=/job_id=j/data_20250917_153000_5.parquet",
                "`hotkey=` is empty",
            ),
            (
                "data/miner=5C/job_id=j/data_20250917_153000_5.parquet",
                "expected `hotkey=…`",
            ),
            (
                "data/hotkey=5C/run=1/data_20250917_153000_5.parquet",
                "expected `job_id=…` or `epoch=…`",
            ),
            ("data/hotkey=5C/epoch=e/listings.csv", "not `listings.csv`"),
            (
                "data/hotkey=5C/job_id=j/data_20250917_153000_99999999999999999999999.parquet",
                "too large",
            ),
        ] {
            match parse_upload_key("data/", key) {
                Err(KeyError::Unparseable(reason)) => {
                    assert!(reason.contains(needle), "{key}: {reason}")
                }
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn epoch_json_keys_in_both_forms() {
        let expected = UploadKey::EpochJson {
            hotkey: "5Fk".into(),
            epoch_id: "2025-10-21T12-00-00".into(),
            zipcode: "19103".into(),
            file_timestamp: Some(Timestamp::from_micros(1_761_049_230_000_000)),
        };
        for key in [
            "data/hotkey=5Fk/epoch=2025-10-21T12-00-00/zipcode=19103/data_20251021_122030.json",
            "data/hotkey=5Fk/data/hotkey=5Fk/epoch=2025-10-21T12-00-00/zipcode=19103/data_20251021_122030.json",
        ] {
            assert_eq!(
                parse_upload_key("data/", key),
                Ok(expected.clone()),
                "{key}"
            );
        }
        assert!(matches!(
            parse_upload_key(
                "data/",
                "data/hotkey=5Fk/epoch=2025-10-21T12-00-00/zipcode=19103/data.json"
            ),
            Ok(UploadKey::EpochJson {
                file_timestamp: None,
                ..
            })
        ));
        assert_eq!(
            parse_upload_key(
                "data/",
                "data/hotkey=5Fk/data/hotkey=5Other/epoch=2025-10-21T12-00-00/zipcode=19103/data_20251021_122030.json"
            ),
            Err(KeyError::HotkeyMismatch {
                outer: "5Fk".into(),
                inner: "5Other".into()
            })
        );
    }

    #[test]
    fn the_repeated_folder_serves_every_layout() {
        let key = "data/hotkey=5C/data/hotkey=5C/job_id=j/data_20250917_153000_5.parquet";
        assert!(matches!(
            parse_upload_key("data/", key),
            Ok(UploadKey::V1 {
                declared_count: 5,
                ..
            })
        ));
    }

    #[test]
    fn bad_epoch_json_keys_say_why() {
        for (key, needle) in [
            (
                "data/hotkey=5C/epoch=2025-10-21T12-00-00/zipcode=1910/data_20251021_122030.json",
                "not five digits",
            ),
            (
                "data/hotkey=5C/epoch=yesterday/zipcode=19103/data_20251021_122030.json",
                "YYYY-MM-DDTHH-MM-SS",
            ),
            (
                "data/hotkey=5C/epoch=2025-10-21T12-00-00/zipcode=19103/listings.csv",
                "data_{YYYYMMDD_HHMMSS}.json",
            ),
            (
                "data/hotkey=5C/epoch=2025-10-21T12-00-00/zip=19103/data_20251021_122030.json",
                "expected `zipcode=…`",
            ),
            (
                "data/hotkey=5C/epoch=2025-10-21T12-00-00/zipcode=19103/data_20251321_122030.json",
                "not a valid date",
            ),
        ] {
            match parse_upload_key("data/", key) {
                Err(KeyError::Unparseable(reason)) => {
                    assert!(reason.contains(needle), "{key}: {reason}")
                }
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn notification_keys_are_url_decoded() {
        assert_eq!(
            decode_notification_key("data/hotkey%3D5C/job_id%3Dj/a+b.parquet"),
            "data/hotkey=5C/job_id=j/a b.parquet"
        );
        assert_eq!(decode_notification_key("100%25"), "100%");
        assert_eq!(decode_notification_key("bad%zz%"), "bad%zz%");
        assert_eq!(decode_notification_key("%ff"), "\u{fffd}");
    }

    #[test]
    fn validator_keys_name_the_validator_and_the_epoch() {
        let validator = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
        let key = format!("validators/{validator}/epoch=2025-10-01T16-00-00/results.json");
        assert_eq!(
            parse_validator_key("validators/", &key),
            Ok(UploadKey::ValidatorResults {
                hotkey: validator.into(),
                epoch_id: "2025-10-01T16-00-00".into(),
            })
        );
        assert_eq!(
            parse_validator_key("validators/", "other/x"),
            Err(KeyError::OutsidePrefix)
        );
        for bad in [
            format!("validators/{validator}/epoch=2025-10-01/results.json"),
            format!("validators/{validator}/epoch=2025-10-01T16-00-00/results.txt"),
            format!("validators/{validator}/epoch=2025-10-01T16-00-00/.json"),
            format!("validators/{validator}/results.json"),
            "validators/hotkey=5F/epoch=2025-10-01T16-00-00/results.json".to_owned(),
            "validators/../epoch=2025-10-01T16-00-00/results.json".to_owned(),
        ] {
            assert!(
                matches!(
                    parse_validator_key("validators/", &bad),
                    Err(KeyError::Unparseable(_))
                ),
                "{bad}"
            );
        }
    }
}
