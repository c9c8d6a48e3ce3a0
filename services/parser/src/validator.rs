//! Validators' results documents (seed 003 "Validator Results Format"):
//!
//! ```json
//! {"epoch_id": "2025-10-01T16-00-00", "validator_hotkey": "5F…",
//!  "validation_timestamp": "2025-10-01T20:30:00.000Z",
//!  "validation_results": {"5G…": {"score": {"data_quality": 0.85, "accuracy": 0.92,
//!     "completeness": 0.78, "timeliness": 0.95, "total_score": 0.87}}},
//!  "summary": {…}}
//! ```
//!
//! Admitted only from a hotkey that holds a validator permit and enough stake in the latest
//! metagraph snapshot the network projection holds; the document must name the validator and
//! epoch of its key. An entry that is not a valid score (a name that is not a hotkey, a score
//! missing, not a number or outside [0, 1]) is dropped and counted; the summary is the
//! validator's own and is not read.

use anyhow::Context as _;
use deadpool_postgres::GenericClient;
use resi_events::{Timestamp, UploadObserved, ValidatorResultsPublished, ValidatorScore};
use serde_json::Value;

/// A hotkey's standing in the latest snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// Holds a validator permit.
    pub permit: bool,
    /// Stake in rao.
    pub stake_rao: u64,
    /// The snapshot's block.
    pub block: u64,
}

/// `hotkey`'s standing in the live network projection's latest snapshot; `None` when it is
/// not registered or no snapshot was recorded.
#[tracing::instrument(skip_all, fields(hotkey))]
pub async fn standing(
    client: &impl GenericClient,
    hotkey: &str,
) -> anyhow::Result<Option<Standing>> {
    let Some(schema) = resi_runtime::postgres::live_schema(client, "network").await? else {
        return Ok(None);
    };
    let row = client
        .query_opt(
            &format!(
                "SELECT validator_permit, stake_rao, block FROM \"{schema}\".metagraph_neurons
                 WHERE hotkey = $1 ORDER BY block DESC, stake_rao DESC LIMIT 1"
            ),
            &[&hotkey],
        )
        .await
        .context("failed to read the validator's standing")?;
    Ok(row.map(|row| Standing {
        permit: row.get(0),
        stake_rao: u64::try_from(row.get::<_, i64>(1)).unwrap_or_default(),
        block: u64::try_from(row.get::<_, i64>(2)).unwrap_or_default(),
    }))
}

/// The standing that admits results, or why there is none: a registered hotkey with a
/// validator permit and at least `min_stake_rao`.
pub fn admitted(standing: Option<Standing>, min_stake_rao: u64) -> Result<Standing, String> {
    match standing {
        None => Err("the hotkey is not registered in the latest metagraph snapshot".to_owned()),
        Some(standing) if !standing.permit => {
            Err("the hotkey holds no validator permit".to_owned())
        }
        Some(standing) if standing.stake_rao < min_stake_rao => Err(format!(
            "the hotkey's stake of {} rao is below the {min_stake_rao} rao a validator needs",
            standing.stake_rao
        )),
        Some(standing) => Ok(standing),
    }
}

fn score_of(entry: &Value) -> Option<[f64; 5]> {
    let score = entry.get("score")?;
    let mut values = [0.0; 5];
    for (value, name) in values.iter_mut().zip([
        "data_quality",
        "accuracy",
        "completeness",
        "timeliness",
        "total_score",
    ]) {
        *value = score
            .get(name)?
            .as_f64()
            .filter(|v| (0.0..=1.0).contains(v))?;
    }
    Some(values)
}

/// Reads a results document of `upload` (a validator's, with `standing`) into the event, or
/// says why it is not one.
pub fn read(
    bytes: &[u8],
    upload: &UploadObserved,
    standing: Standing,
) -> Result<ValidatorResultsPublished, String> {
    let document: Value =
        serde_json::from_slice(bytes).map_err(|error| format!("not JSON: {error}"))?;
    let text = |name: &str| {
        document
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("`{name}` is missing or not a string"))
    };
    let epoch_id = upload.epoch_id.clone().unwrap_or_default();
    let named_epoch = text("epoch_id")?;
    if named_epoch != epoch_id {
        return Err(format!(
            "the document is for epoch `{named_epoch}`, its key for `{epoch_id}`"
        ));
    }
    let named_validator = text("validator_hotkey")?;
    if named_validator != upload.miner_hotkey {
        return Err(format!(
            "the document names validator `{named_validator}`, its key `{}`",
            upload.miner_hotkey
        ));
    }
    let results = document
        .get("validation_results")
        .and_then(Value::as_object)
        .ok_or("`validation_results` is missing or not an object")?;
    let mut entries_rejected = 0_u64;
    let mut scores: Vec<ValidatorScore> = results
        .iter()
        .filter_map(|(miner, entry)| {
            let score = resi_events::layout::is_ss58_shaped(miner)
                .then(|| score_of(entry))
                .flatten();
            if score.is_none() {
                entries_rejected += 1;
            }
            let [
                data_quality,
                accuracy,
                completeness,
                timeliness,
                total_score,
            ] = score?;
            Some(ValidatorScore {
                miner_hotkey: miner.clone(),
                data_quality,
                accuracy,
                completeness,
                timeliness,
                total_score,
            })
        })
        .collect();
    scores.sort_by(|a, b| a.miner_hotkey.cmp(&b.miner_hotkey));
    // the validator's clock, never later than the store saw the document
    let claimed_at = document
        .get("validation_timestamp")
        .and_then(Value::as_str)
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .map(|at| Timestamp::from_datetime(at.with_timezone(&chrono::Utc)))
        .map_or(upload.last_modified, |at| at.min(upload.last_modified));
    Ok(ValidatorResultsPublished {
        upload_id: upload.event_id(),
        validator_hotkey: upload.miner_hotkey.clone(),
        epoch_id,
        published_at: upload.last_modified,
        claimed_at,
        stake_rao: standing.stake_rao,
        metagraph_block: standing.block,
        scores,
        entries_rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use resi_events::{UploadDiscovery, UploadFormat};

    const VALIDATOR: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
    const MINER: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    fn upload() -> UploadObserved {
        UploadObserved {
            bucket: "resi-validated-data".into(),
            key: format!("validators/{VALIDATOR}/epoch=2025-10-01T16-00-00/results.json"),
            etag: "e".into(),
            size: 10,
            last_modified: Timestamp::from_micros(1_759_338_000_000_000),
            miner_hotkey: VALIDATOR.into(),
            job_id: "2025-10-01T16-00-00".into(),
            file_timestamp: Timestamp::from_micros(1_759_338_000_000_000),
            declared_record_count: None,
            format: UploadFormat::ValidatorResults,
            epoch: None,
            epoch_id: Some("2025-10-01T16-00-00".into()),
            zipcode: None,
            discovery: UploadDiscovery::Listing,
        }
    }

    const STANDING: Standing = Standing {
        permit: true,
        stake_rao: 5_000_000_000_000,
        block: 7,
    };

    fn document(results: &str, validator: &str, at: &str) -> Vec<u8> {
        format!(
            r#"{{"epoch_id": "2025-10-01T16-00-00", "validator_hotkey": "{validator}",
                "validation_timestamp": "{at}", "validation_results": {results},
                "summary": {{"total_miners": 1, "average_score": 0.87, "top_performers": []}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn the_seeds_document_is_read_and_bad_entries_are_counted() {
        let results = format!(
            r#"{{"{MINER}": {{"score": {{"data_quality": 0.85, "accuracy": 0.92, "completeness": 0.78, "timeliness": 0.95, "total_score": 0.87}}}},
                "miner_hotkey_1": {{"score": {{"data_quality": 1, "accuracy": 1, "completeness": 1, "timeliness": 1, "total_score": 1}}}},
                "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy": {{"score": {{"data_quality": 0.5, "accuracy": 1.5, "completeness": 1, "timeliness": 1, "total_score": 1}}}},
                "5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw": {{"score": {{"total_score": 0.2}}}}}}"#
        );
        let read = read(
            &document(&results, VALIDATOR, "2025-10-01T16:30:00.000Z"),
            &upload(),
            STANDING,
        )
        .expect("read");
        assert_eq!(read.scores.len(), 1);
        assert_eq!(read.scores[0].miner_hotkey, MINER);
        assert_eq!(read.scores[0].total_score, 0.87);
        assert_eq!(read.entries_rejected, 3);
        assert_eq!(read.stake_rao, STANDING.stake_rao);
        assert_eq!(
            read.claimed_at,
            Timestamp::from_micros(1_759_336_200_000_000)
        );
        // a claim later than the store's time is clamped to it
        let late = super::read(
            &document("{}", VALIDATOR, "2030-01-01T00:00:00Z"),
            &upload(),
            STANDING,
        )
        .expect("read");
        assert_eq!(late.claimed_at, upload().last_modified);
    }

    #[test]
    fn documents_for_another_validator_or_epoch_or_of_another_shape_are_refused() {
        let other = "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy";
        assert!(read(&document("{}", other, "x"), &upload(), STANDING).is_err());
        assert!(read(b"[1, 2]", &upload(), STANDING).is_err());
        assert!(read(b"{not json", &upload(), STANDING).is_err());
        assert!(read(&document("[]", VALIDATOR, "x"), &upload(), STANDING).is_err());
        let mut wrong_epoch = upload();
        wrong_epoch.epoch_id = Some("2025-10-01T20-00-00".into());
        assert!(read(&document("{}", VALIDATOR, "x"), &wrong_epoch, STANDING).is_err());
    }

    #[test]
    fn only_permitted_staked_validators_are_admitted() {
        assert!(admitted(None, 1).is_err());
        let standing = |permit, stake_rao| {
            Some(Standing {
                permit,
                stake_rao,
                block: 1,
            })
        };
        assert!(admitted(standing(false, 10), 1).is_err());
        assert!(admitted(standing(true, 9), 10).is_err());
        assert_eq!(
            admitted(standing(true, 10), 10),
            standing(true, 10).ok_or_else(String::new)
        );
    }
}
