//! Round-trip, golden-vector and garbage-decode tests of the event contract.

use std::path::PathBuf;

use proptest::prelude::*;
use resi_events::codec::{self, FORMAT_BINCODE2};
use resi_events::{
    Admission, CanonicalListing, DeadLetterReason, DeadLetterSubject, DeadLettered, DecodeError,
    EpochClosed, EpochEvidenceComplete, EpochMetadata, EpochOpened, EpochZipcode, Event,
    EventPayload, EvidenceSource, ListingAttested, MarketTier, MetagraphObserved, MinerBanned,
    MinerEpochEvidence, MinerFabricated, MinerStatusReported, MinerUnbanned, MiningStatus,
    ObservedNeuron, QualityAssessment, QualityIssue, ReasonCount, RejectReason, Timestamp,
    UploadDiscovery, UploadFormat, UploadObserved, UploadParsed, UploadRejectReason,
    UploadRejected, ZipcodeEvidence, ZipcodeProgress, honeypot_commitment,
};
use resi_events::{
    EpochValidated, MinerValidated, MinerVerdict, ValidatorResultsPublished, ValidatorScore,
    Verdict,
};

const FILE_TIME: Timestamp = Timestamp::from_micros(1_758_123_000_000_000);
const RECORD_TIME: Timestamp = Timestamp::from_micros(1_758_123_456_000_000);

fn listing() -> CanonicalListing {
    CanonicalListing {
        listing_id: "29420456".into(),
        uri: Some("/homedetails/29420456_zpid/".into()),
        url: Some("https://www.zillow.com/homedetails/29420456_zpid/".into()),
        price_usd: Some(459_900),
        address: Some("1204 E 7TH ST, AUSTIN, TX 78702".into()),
        bedrooms: Some(3),
        bathrooms_tenths: Some(25),
        living_area_sqft: Some(1_850),
        home_type: Some("SINGLE_FAMILY".into()),
        home_status: Some("FOR_SALE".into()),
        days_on_market: Some(12),
        zip_code: Some("78702".into()),
        city: Some("Austin".into()),
        state: Some("TX".into()),
        latitude_e7: Some(302_671_531),
        longitude_e7: Some(-977_430_608),
        listing_date: Some(20_340),
        mls_id: Some("ACT-1234567".into()),
    }
}

fn upload_observed() -> UploadObserved {
    UploadObserved {
        bucket: "resi-miner-data".into(),
        key: "data/hotkey=5C7VLT/job_id=zillow_zip_78702/data_20250917_153000_330.parquet".into(),
        etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
        size: 48_213,
        last_modified: FILE_TIME,
        miner_hotkey: "5C7VLT".into(),
        job_id: "zillow_zip_78702".into(),
        file_timestamp: FILE_TIME,
        declared_record_count: Some(330),
        format: UploadFormat::V1,
        epoch: None,
        epoch_id: None,
        zipcode: None,
        discovery: UploadDiscovery::Notification,
    }
}

/// One sample of every event type, every optional field filled, so a change to any field's
/// encoding changes a golden vector.
fn samples() -> Vec<(&'static str, Event)> {
    let upload = upload_observed();
    let upload_id = upload.event_id();
    let v2 = UploadObserved {
        key: "data/hotkey=5H2WNb/epoch=2025-10-01T16-00-00/listings.parquet".into(),
        miner_hotkey: "5H2WNb".into(),
        job_id: "2025-10-01T16-00-00".into(),
        format: UploadFormat::V2,
        epoch: Some(EpochMetadata {
            metadata_key: "data/hotkey=5H2WNb/epoch=2025-10-01T16-00-00/metadata.json".into(),
            epoch_id: "2025-10-01T16-00-00".into(),
            mining_start_time: Some(FILE_TIME),
            mining_end_time: Some(RECORD_TIME),
            zipcodes_completed: Some(25),
            data_format_version: Some("2.0".into()),
        }),
        epoch_id: Some("2025-10-01T16-00-00".into()),
        discovery: UploadDiscovery::Listing,
        ..upload.clone()
    };
    let epoch_json = UploadObserved {
        key: "data/hotkey=5H2WNb/data/hotkey=5H2WNb/epoch=2025-10-21T12-00-00/zipcode=19103/data_20251021_082030.json".into(),
        miner_hotkey: "5H2WNb".into(),
        job_id: "2025-10-21T12-00-00".into(),
        declared_record_count: None,
        format: UploadFormat::EpochJson,
        epoch_id: Some("2025-10-21T12-00-00".into()),
        zipcode: Some("19103".into()),
        ..upload.clone()
    };
    let parsed = UploadParsed {
        upload_id,
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
        miner_hotkey: upload.miner_hotkey.clone(),
        job_id: upload.job_id.clone(),
        format: UploadFormat::V1,
        rows_read: 331,
        rows_valid: 327,
        rows_rejected: 4,
        rejections: vec![
            ReasonCount {
                reason: RejectReason::InvalidZipCode,
                rows: 3,
            },
            ReasonCount {
                reason: RejectReason::DuplicateInFile,
                rows: 1,
            },
        ],
        declared_record_count: Some(330),
        duplicate_listing_ids: vec!["29420456".into()],
        duplicate_rows: 1,
        distinct_zip_codes: 2,
        extra_columns: vec!["label".into()],
        extra_column_count: 1,
        epoch_id: None,
        zipcode: None,
        rows_outside_zipcode: 0,
        future_scrape_times: 0,
        quality: QualityAssessment {
            score: 0.3,
            issues: vec![
                QualityIssue::DuplicateListingIds,
                QualityIssue::DeclaredCountMismatch,
            ],
        },
        admission: Admission {
            trust_used: 0.5,
            daily_limit: 1_000,
            utc_day: FILE_TIME.utc_day(),
            admitted_before: 900,
            admitted: 100,
            rate_limited: 227,
        },
    };
    let parsed_epoch_json = UploadParsed {
        key: epoch_json.key.clone(),
        job_id: epoch_json.job_id.clone(),
        format: UploadFormat::EpochJson,
        rejections: vec![
            ReasonCount {
                reason: RejectReason::Synthetic,
                rows: 3,
            },
            ReasonCount {
                reason: RejectReason::NoListingValues,
                rows: 1,
            },
        ],
        extra_columns: vec!["lot_size".into(), "year_built".into()],
        extra_column_count: 140,
        epoch_id: Some("2025-10-21T12-00-00".into()),
        zipcode: Some("19103".into()),
        rows_outside_zipcode: 7,
        future_scrape_times: 2,
        quality: QualityAssessment {
            score: 0.1,
            issues: vec![QualityIssue::SyntheticListings],
        },
        ..parsed.clone()
    };
    let rejected_hotkeys = UploadRejected {
        upload_id,
        bucket: upload.bucket.clone(),
        key: "data/hotkey=5C7VLT/data/hotkey=5Other/epoch=2025-10-21T12-00-00/zipcode=19103/data.json".into(),
        etag: upload.etag.clone(),
        miner_hotkey: "5C7VLT".into(),
        reason: UploadRejectReason::HotkeyMismatch,
        detail: "the key names two miners: `5C7VLT` and `5Other`".into(),
    };
    let rejected = UploadRejected {
        upload_id,
        bucket: upload.bucket.clone(),
        key: "data/hotkey=5C7VLT/stray.parquet".into(),
        etag: upload.etag.clone(),
        miner_hotkey: "5C7VLT".into(),
        reason: UploadRejectReason::UnparseablePath,
        detail: "file name does not match data_{YYYYMMDD_HHMMSS}_{count}.parquet".into(),
    };
    let listing = listing();
    let attested = ListingAttested {
        upload_id,
        row_index: 17,
        miner_hotkey: upload.miner_hotkey.clone(),
        key: upload.key.clone(),
        job_id: upload.job_id.clone(),
        scraped_at: FILE_TIME,
        submitted_at: FILE_TIME,
        content_hash: listing.content_hash(),
        listing,
        miner_trust: 0.8125,
        epoch_id: None,
        zipcode: None,
    };
    let attested_epoch_json = ListingAttested {
        key: epoch_json.key.clone(),
        job_id: epoch_json.job_id.clone(),
        epoch_id: Some("2025-10-21T12-00-00".into()),
        zipcode: Some("19103".into()),
        ..attested.clone()
    };
    let dead_upload = DeadLettered {
        subject: DeadLetterSubject::Upload {
            upload_id,
            miner_hotkey: upload.miner_hotkey.clone(),
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
        },
        reason: DeadLetterReason::CorruptFile,
        detail: "parquet: invalid footer".into(),
        attempts: 1,
    };
    let dead_record = DeadLettered {
        subject: DeadLetterSubject::Record {
            topic: "resi.attestations.v1".into(),
            partition: 3,
            offset: 42,
            key: "29420456".into(),
            payload: vec![9, 9, 9],
        },
        reason: DeadLetterReason::UndecodableEvent,
        detail: "unknown event format 9".into(),
        attempts: 1,
    };
    let dead_refused = DeadLettered {
        subject: DeadLetterSubject::Record {
            topic: "resi.attestations.v1".into(),
            partition: 5,
            offset: 1_234,
            key: "29420456".into(),
            payload: vec![1, 2, 3],
        },
        reason: DeadLetterReason::RefusedByProjection,
        detail: "listing v1: 22021 invalid byte sequence for encoding \"UTF8\": 0x00".into(),
        attempts: 1,
    };
    let dead_message = DeadLettered {
        subject: DeadLetterSubject::QueueMessage {
            queue: "https://sqs.us-east-1.amazonaws.com/123456789012/resi-upload-notifications"
                .into(),
            message_id: "0e6c3a5e-1f0b-4c55-9a43-6f1d1b8f4c21".into(),
            body: "not json".into(),
        },
        reason: DeadLetterReason::UnreadableNotification,
        detail: "message body is not JSON: expected ident at line 1 column 2".into(),
        attempts: 1,
    };
    let validator = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
    let results_upload = UploadObserved {
        bucket: "resi-validated-data".into(),
        key: format!("validators/{validator}/epoch=2025-10-01T16-00-00/results.json"),
        miner_hotkey: validator.into(),
        job_id: "2025-10-01T16-00-00".into(),
        declared_record_count: None,
        format: UploadFormat::ValidatorResults,
        epoch: None,
        epoch_id: Some("2025-10-01T16-00-00".into()),
        zipcode: None,
        ..upload.clone()
    };
    let not_a_validator = UploadRejected {
        upload_id: results_upload.event_id(),
        bucket: results_upload.bucket.clone(),
        key: results_upload.key.clone(),
        etag: results_upload.etag.clone(),
        miner_hotkey: validator.into(),
        reason: UploadRejectReason::NotAValidator,
        detail: "the hotkey holds no validator permit".into(),
    };
    let event = |payload| Event::new(payload, FILE_TIME, RECORD_TIME);
    vec![
        (
            "upload_observed_validator_results",
            event(EventPayload::UploadObserved(results_upload)),
        ),
        (
            "upload_rejected_not_a_validator",
            event(EventPayload::UploadRejected(not_a_validator)),
        ),
        (
            "validator_results_published",
            event(EventPayload::ValidatorResultsPublished(Box::new(
                validator_results(),
            ))),
        ),
        (
            "epoch_validated",
            event(EventPayload::EpochValidated(Box::new(epoch_validated()))),
        ),
        (
            "miner_validated",
            event(EventPayload::MinerValidated(Box::new(MinerValidated {
                miner_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_owned(),
                epoch_id: "2025-10-01T16-00-00".to_owned(),
                verdict: Verdict::Confirmed,
                validation_score: 0.87,
                validated_id: epoch_validated().event_id(),
            }))),
        ),
        (
            "upload_observed_v1",
            event(EventPayload::UploadObserved(upload)),
        ),
        (
            "upload_observed_v2",
            event(EventPayload::UploadObserved(v2)),
        ),
        (
            "upload_observed_epoch_json",
            event(EventPayload::UploadObserved(epoch_json)),
        ),
        ("upload_parsed", event(EventPayload::UploadParsed(parsed))),
        (
            "upload_parsed_epoch_json",
            event(EventPayload::UploadParsed(parsed_epoch_json)),
        ),
        (
            "upload_rejected",
            event(EventPayload::UploadRejected(rejected)),
        ),
        (
            "upload_rejected_hotkey_mismatch",
            event(EventPayload::UploadRejected(rejected_hotkeys)),
        ),
        (
            "listing_attested",
            event(EventPayload::ListingAttested(Box::new(attested))),
        ),
        (
            "listing_attested_epoch_json",
            event(EventPayload::ListingAttested(Box::new(attested_epoch_json))),
        ),
        (
            "dead_lettered_upload",
            event(EventPayload::DeadLettered(dead_upload)),
        ),
        (
            "dead_lettered_record",
            event(EventPayload::DeadLettered(dead_record)),
        ),
        (
            "dead_lettered_queue_message",
            event(EventPayload::DeadLettered(dead_message)),
        ),
        (
            "dead_lettered_refused_by_projection",
            event(EventPayload::DeadLettered(dead_refused)),
        ),
        (
            "epoch_opened",
            event(EventPayload::EpochOpened(Box::new(epoch_opened()))),
        ),
        (
            "epoch_closed",
            event(EventPayload::EpochClosed(epoch_closed())),
        ),
        (
            "miner_status_reported",
            event(EventPayload::MinerStatusReported(Box::new(
                MinerStatusReported {
                    miner_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_owned(),
                    epoch_id: "2025-10-01T16-00-00".to_owned(),
                    commitment: "zipcode:status:2025-10-01T16-00-00:1759338000".to_owned(),
                    received_at: RECORD_TIME,
                    status: MiningStatus::Completed,
                    listings_scraped: Some(1_250),
                    zipcodes_completed: vec![ZipcodeProgress {
                        zipcode: "19103".to_owned(),
                        listings_scraped: Some(245),
                        completed_at: Some(FILE_TIME),
                    }],
                    s3_upload_complete: true,
                    s3_upload_timestamp: Some(FILE_TIME),
                },
            ))),
        ),
        (
            "metagraph_observed",
            event(EventPayload::MetagraphObserved(Box::new(
                MetagraphObserved {
                    netuid: 46,
                    block: 4_000_000,
                    neurons: vec![ObservedNeuron {
                        uid: 2,
                        hotkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty".to_owned(),
                        coldkey: "5F3sa2TJAWMqDhXG6jhV4N8ko9SxwGy8TpaNS1repo5EYjQX".to_owned(),
                        stake_rao: 5_000_000_000_000,
                        validator_permit: true,
                    }],
                },
            ))),
        ),
        (
            "miner_epoch_evidence",
            event(EventPayload::MinerEpochEvidence(Box::new(
                miner_epoch_evidence(),
            ))),
        ),
        (
            "epoch_evidence_complete",
            event(EventPayload::EpochEvidenceComplete(Box::new(
                EpochEvidenceComplete {
                    epoch_id: "2025-10-01T16-00-00".to_owned(),
                    closed_id: epoch_closed().event_id(),
                    evidence_ids: vec![miner_epoch_evidence().event_id()],
                    sources: vec![
                        EvidenceSource {
                            projection: "consensus".to_owned(),
                            version: "v1".to_owned(),
                        },
                        EvidenceSource {
                            projection: "listing".to_owned(),
                            version: "v1".to_owned(),
                        },
                    ],
                },
            ))),
        ),
        (
            "miner_fabricated",
            event(EventPayload::MinerFabricated(Box::new(MinerFabricated {
                miner_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_owned(),
                epoch_id: "2025-10-01T16-00-00".to_owned(),
                evidence_id: miner_epoch_evidence().event_id(),
                honeypot_listings: 12,
                impossible_rows: 0,
            }))),
        ),
        (
            "miner_banned",
            event(EventPayload::MinerBanned(Box::new(miner_banned()))),
        ),
        (
            "miner_unbanned",
            event(EventPayload::MinerUnbanned(Box::new(MinerUnbanned {
                miner_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_owned(),
                banned_id: miner_banned().event_id(),
                operator: "ops@resi".to_owned(),
                reason: "the honeypot reveal was wrong".to_owned(),
            }))),
        ),
    ]
}

fn validator_results() -> ValidatorResultsPublished {
    ValidatorResultsPublished {
        upload_id: resi_events::EventId([7; 32]),
        validator_hotkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty".to_owned(),
        epoch_id: "2025-10-01T16-00-00".to_owned(),
        published_at: FILE_TIME,
        claimed_at: Timestamp::from_micros(1_758_122_000_000_000),
        stake_rao: 5_000_000_000_000,
        metagraph_block: 4_000_000,
        scores: vec![ValidatorScore {
            miner_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_owned(),
            data_quality: 0.85,
            accuracy: 0.92,
            completeness: 0.78,
            timeliness: 0.95,
            total_score: 0.87,
        }],
        entries_rejected: 2,
    }
}

fn epoch_validated() -> EpochValidated {
    EpochValidated {
        epoch_id: "2025-10-01T16-00-00".to_owned(),
        results_ids: vec![validator_results().event_id()],
        verdicts: vec![MinerVerdict {
            miner_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_owned(),
            verdict: Verdict::Confirmed,
            validation_score: 0.87,
            stake_confirming: 5_000_000_000_000,
            stake_fake: 0,
            stake_judging: 5_000_000_000_000,
            validators: 1,
        }],
    }
}

fn miner_banned() -> MinerBanned {
    MinerBanned {
        miner_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_owned(),
        epochs: vec!["2025-10-01T16-00-00".to_owned()],
        evidence_ids: vec![miner_epoch_evidence().event_id()],
    }
}

fn miner_epoch_evidence() -> MinerEpochEvidence {
    MinerEpochEvidence {
        epoch_id: "2025-10-01T16-00-00".to_owned(),
        closed_id: epoch_closed().event_id(),
        miner_hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_owned(),
        zipcodes: vec![ZipcodeEvidence {
            zipcode: "19103".to_owned(),
            uploads: 2,
            rows_read: 2_410,
            rows_rejected: 12,
            duplicate_rows: 3,
            impossible_rows: 1,
            listings: 2_394,
            complete_listings: 2_300,
            checked_listings: 1_900,
            agreed_fields: 20_500,
            checked_fields: 20_900,
            last_upload: FILE_TIME,
        }],
        unassigned_listings: 7,
    }
}

fn epoch_opened() -> EpochOpened {
    let zipcode = |zipcode: &str, expected_listings, market_tier| EpochZipcode {
        zipcode: zipcode.to_owned(),
        expected_listings,
        state: "PA".to_owned(),
        city: "Philadelphia".to_owned(),
        county: "Philadelphia County".to_owned(),
        market_tier,
        geographic_region: "Northeast".to_owned(),
    };
    let honeypots = ["19101".to_owned()];
    EpochOpened {
        epoch_id: "2025-10-01T16-00-00".to_owned(),
        start: Timestamp::from_micros(1_759_334_400_000_000),
        end: Timestamp::from_micros(1_759_348_800_000_000),
        submission_deadline: Timestamp::from_micros(1_759_348_800_000_000),
        nonce: "376ce532f42cf2a5".to_owned(),
        target_listings: 10_000,
        tolerance_percent: 10,
        zipcodes: vec![
            zipcode("19103", 2_500, MarketTier::Premium),
            zipcode("19101", 300, MarketTier::Standard),
            zipcode("19140", 1_200, MarketTier::Emerging),
        ],
        algorithm_version: "v1.0".to_owned(),
        selection_seed: 12_345,
        zipcode_hash: "ab".repeat(32),
        honeypot_commitment: honeypot_commitment(&"cd".repeat(32), &honeypots),
        sealed_honeypots: "5a".repeat(512),
    }
}

fn epoch_closed() -> EpochClosed {
    EpochClosed {
        epoch_id: "2025-10-01T16-00-00".to_owned(),
        opened_id: epoch_opened().event_id(),
        honeypots: vec!["19101".to_owned()],
        commitment_key: "cd".repeat(32),
    }
}

#[test]
fn a_closing_opens_its_commitment_and_nothing_else() {
    let opened = epoch_opened();
    let closed = epoch_closed();
    assert!(closed.opens(&opened));
    let other_set = EpochClosed {
        honeypots: vec!["19103".to_owned()],
        ..closed.clone()
    };
    assert!(!other_set.opens(&opened), "a different reveal");
    let other_key = EpochClosed {
        commitment_key: "ce".repeat(32),
        ..closed.clone()
    };
    assert!(!other_key.opens(&opened), "a different key");
    let mut altered = opened.clone();
    altered.zipcodes[0].expected_listings += 1;
    assert!(!closed.opens(&altered), "an opening altered after the fact");
    assert_eq!(opened.total_expected_listings(), 4_000);
}

#[test]
fn every_sample_round_trips() {
    for (name, event) in samples() {
        let bytes = codec::encode(&event);
        assert_eq!(bytes[0], FORMAT_BINCODE2, "{name}");
        assert_eq!(codec::decode(&bytes).as_ref(), Ok(&event), "{name}");
        let json = serde_json::to_string(&event).expect("json");
        let from_json: Event = serde_json::from_str(&json).expect("from json");
        assert_eq!(from_json, event, "{name} via json");
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The checked-in vectors pin the wire format and the content hash. If this fails, an encoding
/// changed: bump the format byte or the schema version rather than re-blessing, unless no event
/// in any log can have the old form. `RESI_BLESS_GOLDEN=1` rewrites the files.
#[test]
fn encodings_match_golden_vectors() {
    let bless = std::env::var_os("RESI_BLESS_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (name, event) in samples() {
        let path = golden_dir().join(format!("{name}.hex"));
        let actual = hex::encode(codec::encode(&event));
        if bless {
            std::fs::write(&path, format!("{actual}\n")).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("missing golden vector {}: {error}", path.display()));
        if expected.trim() != actual {
            mismatches.push(name);
        }
        let golden_bytes = hex::decode(expected.trim()).expect("golden is hex");
        assert_eq!(
            codec::decode(&golden_bytes).as_ref(),
            Ok(&event),
            "{name} golden decodes"
        );
    }
    assert!(
        mismatches.is_empty(),
        "encodings changed for {mismatches:?}"
    );
}

/// The sample as schema version 1 could hold it: what a version 1 vector decodes to.
fn as_schema1(mut event: Event) -> Event {
    match &mut event.payload {
        EventPayload::UploadObserved(upload) => {
            upload.zipcode = None;
            upload.epoch_id = (upload.format != UploadFormat::V1).then(|| upload.job_id.clone());
        }
        EventPayload::UploadParsed(parsed) => {
            parsed.zipcode = None;
            parsed.epoch_id = (parsed.format != UploadFormat::V1).then(|| parsed.job_id.clone());
            parsed.rows_outside_zipcode = 0;
            parsed.future_scrape_times = 0;
            parsed.extra_column_count = u32::try_from(parsed.extra_columns.len()).unwrap_or(0);
        }
        EventPayload::ListingAttested(attested) => {
            attested.epoch_id = None;
            attested.zipcode = None;
        }
        EventPayload::UploadRejected(_)
        | EventPayload::DeadLettered(_)
        | EventPayload::EpochOpened(_)
        | EventPayload::EpochClosed(_)
        | EventPayload::MinerStatusReported(_)
        | EventPayload::MetagraphObserved(_)
        | EventPayload::MinerEpochEvidence(_)
        | EventPayload::EpochEvidenceComplete(_)
        | EventPayload::MinerFabricated(_)
        | EventPayload::MinerBanned(_)
        | EventPayload::MinerUnbanned(_)
        | EventPayload::ValidatorResultsPublished(_)
        | EventPayload::EpochValidated(_)
        | EventPayload::MinerValidated(_) => {}
    }
    event
}

/// Logs written by the first release replay unchanged: every schema version 1 vector (the
/// encodings that release wrote, checked in when it was current) still decodes, to the event
/// it holds with the fields it did not have left unknown, and with the same id.
#[test]
fn schema_version_1_vectors_still_decode() {
    let directory = golden_dir().join("schema1");
    let samples = samples();
    let mut decoded = 0;
    for entry in std::fs::read_dir(&directory).expect("schema 1 vectors") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("vector name")
            .to_owned();
        let (_, sample) = samples
            .iter()
            .find(|(sample_name, _)| *sample_name == name)
            .unwrap_or_else(|| panic!("no sample for {name}"));
        let bytes = hex::decode(std::fs::read_to_string(&path).expect("read").trim()).expect("hex");
        assert_eq!(bytes[1 + 32], 1, "{name} is a version 1 vector");
        let event = codec::decode(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(event, as_schema1(sample.clone()), "{name}");
        assert_eq!(
            event.id, sample.id,
            "{name}: ids do not depend on the version"
        );
        // encoded again, it is a current event
        assert_eq!(codec::decode(&codec::encode(&event)), Ok(event), "{name}");
        decoded += 1;
    }
    assert_eq!(decoded, 8, "every version 1 vector was read");
}

/// Vectors written at older schema versions of types whose layout did not change (schema 2:
/// rejections before `miner_banned`, uploads before the validator results format; schema 3:
/// rejections before `not_a_validator` and `results_invalid`) still decode, to the same event
/// and id.
#[test]
fn older_schema_version_vectors_still_decode() {
    let samples = samples();
    for (version, expected) in [(2_u16, 5), (3, 2)] {
        let mut decoded = 0;
        let directory = golden_dir().join(format!("schema{version}"));
        for entry in std::fs::read_dir(&directory).expect("older schema vectors") {
            let path = entry.expect("entry").path();
            let name = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .expect("name")
                .to_owned();
            let (_, sample) = samples
                .iter()
                .find(|(sample_name, _)| *sample_name == name)
                .unwrap_or_else(|| panic!("no sample for {name}"));
            let bytes =
                hex::decode(std::fs::read_to_string(&path).expect("read").trim()).expect("hex");
            assert_eq!(
                u16::from(bytes[1 + 32]),
                version,
                "{name} is a version {version} vector"
            );
            let mut event = codec::decode(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(event.schema_version, version, "{name}");
            assert_eq!(event.id, sample.id, "{name}");
            event.schema_version = sample.schema_version;
            assert_eq!(&event, sample, "{name}");
            decoded += 1;
        }
        assert_eq!(decoded, expected, "every version {version} vector was read");
    }
}

#[test]
fn ids_and_hashes_match_golden_values() {
    let path = golden_dir().join("ids.txt");
    let mut lines = String::new();
    for (name, event) in samples() {
        lines.push_str(&format!("{name} {}\n", event.id));
    }
    lines.push_str(&format!(
        "listing_content_hash {}\n",
        listing().content_hash()
    ));
    if std::env::var_os("RESI_BLESS_GOLDEN").is_some() {
        std::fs::write(&path, &lines).expect("write golden ids");
        return;
    }
    let expected = std::fs::read_to_string(&path).expect("golden ids present");
    assert_eq!(expected, lines, "an id or content hash derivation changed");
}

#[test]
fn ids_ignore_record_time_and_discovery() {
    let upload = upload_observed();
    let by_listing = UploadObserved {
        discovery: UploadDiscovery::Listing,
        ..upload.clone()
    };
    let first = Event::new(EventPayload::UploadObserved(upload), FILE_TIME, RECORD_TIME);
    let again = Event::new(
        EventPayload::UploadObserved(by_listing),
        FILE_TIME,
        Timestamp::now(),
    );
    assert_eq!(first.id, again.id);
    let other_etag = UploadObserved {
        etag: "\"new\"".into(),
        ..upload_observed()
    };
    assert_ne!(
        first.id,
        other_etag.event_id(),
        "a rewritten object is a new upload"
    );
}

#[test]
fn typed_errors_for_known_bad_inputs() {
    assert_eq!(codec::decode(&[]), Err(DecodeError::Empty));
    assert_eq!(
        codec::decode(&[0xff, 1, 2]),
        Err(DecodeError::UnknownFormat(0xff))
    );
    let mut bytes = codec::encode(&samples()[0].1);
    bytes.push(0);
    assert_eq!(codec::decode(&bytes), Err(DecodeError::TrailingBytes(1)));
    let truncated = &codec::encode(&samples()[4].1)[..40];
    assert!(matches!(
        codec::decode(truncated),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn newer_schema_versions_are_refused() {
    for (name, mut event) in samples() {
        let event_type = event.event_type();
        event.schema_version = event_type.schema_version() + 1;
        let bytes = codec::encode(&event);
        assert_eq!(
            codec::decode(&bytes),
            Err(DecodeError::UnsupportedSchemaVersion {
                event_type: event_type.as_str(),
                version: event_type.schema_version() + 1,
            }),
            "{name}"
        );
    }
}

#[test]
fn huge_declared_lengths_fail_without_allocating() {
    // format byte, then an event id (32 bytes), then a varint claiming a 2^60-byte string later on
    let mut bytes = vec![FORMAT_BINCODE2];
    bytes.extend_from_slice(&[7; 32]);
    bytes.extend_from_slice(&[1, 0, 0, 0]);
    bytes.push(0xfd);
    bytes.extend_from_slice(&(1_u64 << 60).to_le_bytes());
    assert!(matches!(
        codec::decode(&bytes),
        Err(DecodeError::Malformed(_))
    ));
}

fn arbitrary_listing() -> impl Strategy<Value = CanonicalListing> {
    (
        "[0-9]{1,12}",
        proptest::option::of(any::<i64>()),
        proptest::option::of(".{0,40}"),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<i32>()),
        proptest::option::of(any::<i32>()),
        proptest::option::of("[0-9]{5}"),
    )
        .prop_map(
            |(id, price, address, beds, baths, area, lat, lon, zip)| CanonicalListing {
                listing_id: id,
                price_usd: price,
                address,
                bedrooms: beds,
                bathrooms_tenths: baths,
                living_area_sqft: area,
                latitude_e7: lat,
                longitude_e7: lon,
                zip_code: zip,
                ..CanonicalListing::default()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = codec::decode(&bytes);
    }

    #[test]
    fn garbage_after_a_valid_format_byte_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = vec![FORMAT_BINCODE2];
        bytes.extend(body);
        let _ = codec::decode(&bytes);
    }

    #[test]
    fn mutated_encodings_never_panic(sample in any::<prop::sample::Index>(), position in any::<prop::sample::Index>(), value in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let all = samples();
        let mut bytes = codec::encode(&all[sample.index(all.len())].1);
        let at = position.index(bytes.len());
        bytes[at] = value;
        let _ = codec::decode(&bytes);
        let keep = cut.index(bytes.len());
        let _ = codec::decode(&bytes[..keep]);
    }

    #[test]
    fn arbitrary_listings_round_trip(listing in arbitrary_listing(), row in any::<u64>(), trust in 0.0_f64..=1.0) {
        let upload_id = upload_observed().event_id();
        let attested = ListingAttested {
            upload_id,
            row_index: row,
            miner_hotkey: "m".into(),
            key: "k".into(),
            job_id: "j".into(),
            scraped_at: FILE_TIME,
            submitted_at: FILE_TIME,
            content_hash: listing.content_hash(),
            listing,
            miner_trust: trust,
            epoch_id: None,
            zipcode: Some("78702".into()),
        };
        let event = Event::new(EventPayload::ListingAttested(Box::new(attested)), FILE_TIME, RECORD_TIME);
        prop_assert_eq!(codec::decode(&codec::encode(&event)), Ok(event));
    }
}
