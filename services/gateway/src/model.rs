//! The answers, typed: the handlers serialise these and the OpenAPI document describes the
//! same types, so the two cannot drift. Field names are the network clients' (camelCase,
//! with the snake_case the seed's folder-access answer uses).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

/// Every refusal: `detail` as FastAPI writes it, so the network's clients log the reason.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always false.
    pub success: bool,
    /// A stable code: `bad_hotkey`, `bad_signature`, `forged`, `expired`, `replayed`,
    /// `not_allowed`, `banned`, `rate_limited`, `no_active_epoch`, `unknown_epoch`, `epoch_not_open`,
    /// `wrong_nonce`, `unassigned_zipcode`, `bad_status`, `bad_time`, `too_many_zipcodes`,
    /// `bad_request`, `unavailable`.
    pub error: String,
    /// A sentence for people.
    pub detail: String,
}

/// One assigned zipcode.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZipcodeAssignment {
    /// Five digits.
    pub zipcode: String,
    /// Listings the network expects there.
    pub expected_listings: i32,
    /// Two-letter state.
    pub state: String,
    /// City.
    pub city: String,
    /// County.
    pub county: String,
    /// `PREMIUM`, `STANDARD` or `EMERGING` (README, "Zipcode epochs").
    pub market_tier: String,
    /// Census region.
    pub geographic_region: String,
}

/// How an epoch's zipcodes were chosen.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochMetadata {
    /// Sum of the zipcodes' expected listings.
    pub total_expected_listings: i64,
    /// Zipcodes assigned.
    pub zipcode_count: i32,
    /// The selection algorithm.
    pub algorithm_version: String,
    /// The seed the selection drew with (from the nonce).
    pub selection_seed: i64,
}

/// An epoch's assignment, the same for every miner.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochAssignment {
    /// Always true.
    pub success: bool,
    /// `YYYY-MM-DDTHH-00-00`.
    pub epoch_id: String,
    /// RFC 3339.
    pub epoch_start: String,
    /// RFC 3339.
    pub epoch_end: String,
    /// To be sent back with status reports and written into uploads.
    pub nonce: String,
    /// Listings the epoch aims at.
    pub target_listings: i32,
    /// Allowed distance from the target, percent.
    pub tolerance_percent: i32,
    /// Uploads after this are late (RFC 3339).
    pub submission_deadline: String,
    /// The zipcodes, in the selection's order.
    pub zipcodes: Vec<ZipcodeAssignment>,
    /// How they were chosen.
    pub metadata: EpochMetadata,
    /// Closed epochs only: the hash published when the epoch opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honeypot_commitment: Option<String>,
    /// Closed epochs only: the zipcodes known to have no residential listings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honeypots: Option<Vec<String>>,
}

/// The metagraph snapshot the gateway decides with.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetagraphSummary {
    /// Subnet.
    pub netuid: u32,
    /// Block the snapshot was read at.
    pub block: u64,
    /// Registered neurons.
    pub neurons: usize,
}

/// `GET /healthcheck`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer.
    pub status: String,
    /// The gateway's version.
    pub version: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// Whether the database answered.
    pub database_ok: bool,
    /// The snapshot in use.
    pub metagraph: MetagraphSummary,
}

/// An epoch as `stats` describes it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochSummary {
    /// Epoch id.
    pub id: String,
    /// `PENDING`, `ACTIVE`, `COMPLETED` (30 minutes for validators) or `ARCHIVED`.
    pub status: String,
    /// RFC 3339.
    pub start_time: String,
    /// RFC 3339.
    pub end_time: String,
    /// Zipcodes assigned.
    pub zipcode_count: i32,
    /// Sum of their expected listings.
    pub total_expected_listings: i64,
    /// Whether `EpochClosed` revealed the honeypots.
    pub honeypots_revealed: bool,
}

/// The server's clock against the current epoch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    /// RFC 3339.
    pub server_time: String,
    /// Seconds until the active epoch ends; 0 when none is active.
    pub time_until_epoch_end: i64,
}

/// The current and next epochs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochStatus {
    /// The latest epoch that has started.
    pub current_epoch: Option<EpochSummary>,
    /// The next one, once assigned.
    pub next_epoch: Option<EpochSummary>,
    /// Timing.
    pub timing: Timing,
}

/// `GET /api/v1/zipcode-assignments/stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Always true.
    pub success: bool,
    /// The epochs.
    pub epoch_status: EpochStatus,
}

/// How a miner lays out its folder.
#[derive(Debug, Serialize, ToSchema)]
pub struct StructureInfo {
    /// `data/hotkey={hotkey_id}/job_id={job_id}/`.
    pub folder_structure: String,
    /// A sentence for people.
    pub description: String,
}

/// `POST /get-folder-access`: an S3 presigned POST form.
#[derive(Debug, Serialize, ToSchema)]
pub struct FolderAccessGranted {
    /// Always true.
    pub success: bool,
    /// The only prefix the policy allows.
    pub folder: String,
    /// Where to POST the multipart form.
    pub url: String,
    /// Form fields to send before the file (`key` ends in `${filename}`).
    pub fields: BTreeMap<String, String>,
    /// When the policy ends (RFC 3339).
    pub expiry: String,
    /// The layout the network expects.
    pub structure_info: StructureInfo,
}

/// `POST /api/v1/s3-access/validator-upload`: an S3 presigned POST form.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorUploadGranted {
    /// Always true.
    pub success: bool,
    /// The results bucket.
    pub bucket: String,
    /// The only prefix the policy allows: `validators/{hotkey}/epoch={epochId}/`.
    pub folder: String,
    /// Where to POST the multipart form.
    pub upload_url: String,
    /// The same, under the name miners' clients read.
    pub url: String,
    /// Form fields to send before the file.
    pub fields: BTreeMap<String, String>,
    /// When the policy ends (RFC 3339).
    pub expiry: String,
}

/// `POST /api/v1/zipcode-assignments/status`, accepted.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusAccepted {
    /// Always true.
    pub success: bool,
    /// `status recorded`.
    pub message: String,
    /// The epoch.
    pub epoch_id: String,
    /// The status as recorded.
    pub status: String,
}
