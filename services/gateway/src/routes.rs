//! The endpoints, with the paths, parameters and answers of seed 003 and the network's client
//! (`common/resi_api_client.py` of the miner and validator code).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{self, AuthError};
use crate::{GatewayState, Limit, limits, upload};

/// Why a request was not answered.
#[derive(Debug)]
pub enum GatewayError {
    /// Signature, clock, replay or registration.
    Auth(AuthError),
    /// Over a limit; retry after the duration.
    Limited(Duration),
    /// No such epoch (or none active).
    NotFound(&'static str, String),
    /// The request contradicts the epoch (wrong nonce, a zipcode not assigned, …).
    BadRequest(&'static str, String),
    /// Postgres, the broker or the projection is unavailable.
    Unavailable(anyhow::Error),
}

impl From<AuthError> for GatewayError {
    fn from(error: AuthError) -> Self {
        Self::Auth(error)
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, code, detail) = match self {
            Self::Auth(AuthError::NotAllowed(detail)) => {
                (StatusCode::FORBIDDEN, "not_allowed", detail)
            }
            Self::Auth(error) => (StatusCode::UNAUTHORIZED, error.code(), error.to_string()),
            Self::Limited(wait) => {
                metrics::counter!("resi_gateway_refusals_total", "reason" => "rate_limited")
                    .increment(1);
                let body = json!({
                    "success": false,
                    "error": "rate_limited",
                    "detail": format!("too many requests; retry in {} s", wait.as_secs()),
                });
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                if let Ok(value) = HeaderValue::from_str(&wait.as_secs().to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                return response;
            }
            Self::NotFound(code, detail) => (StatusCode::NOT_FOUND, code, detail),
            Self::BadRequest(code, detail) => {
                metrics::counter!("resi_gateway_refusals_total", "reason" => code).increment(1);
                (StatusCode::BAD_REQUEST, code, detail)
            }
            Self::Unavailable(error) => {
                tracing::warn!(error = format!("{error:#}"), "gateway request failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; retry shortly".to_owned(),
                )
            }
        };
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            metrics::counter!("resi_gateway_refusals_total", "reason" => code).increment(1);
        }
        // `detail` as FastAPI writes it, so the network's clients log the reason
        (status, Json(json!({"success": false, "error": code, "detail": detail}))).into_response()
    }
}

/// What a signed GET carries in its query.
#[derive(Debug, Deserialize)]
pub struct SignedQuery {
    /// SS58 hotkey.
    pub hotkey: String,
    /// Hex signature of the commitment.
    pub signature: String,
    /// Unix seconds, part of the commitment.
    pub timestamp: i64,
}

/// Who an endpoint serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Any registered hotkey.
    Registered,
    /// A validator with a permit and enough stake.
    Validator,
}

/// Checks a signed request: clock, signature, registration, first use, then the limit.
async fn authenticate(
    state: &GatewayState,
    query: &SignedQuery,
    commitment: &str,
    role: Role,
    action: &str,
    limit: Limit,
) -> Result<(), GatewayError> {
    authenticate_any(state, query, &[commitment.to_owned()], role, action, limit)
        .await
        .map(drop)
}

/// Like [`authenticate`] for a request that may sign any of `commitments` (the seed's and the
/// network client's spellings); the one it signed.
async fn authenticate_any(
    state: &GatewayState,
    query: &SignedQuery,
    commitments: &[String],
    role: Role,
    action: &str,
    limit: Limit,
) -> Result<String, GatewayError> {
    let now = Utc::now();
    auth::fresh(query.timestamp, now.timestamp(), state.config.max_clock_skew_secs)?;
    let mut verified = Err(AuthError::Forged);
    for candidate in commitments {
        verified = auth::verify(&query.hotkey, candidate, &query.signature).map(|()| candidate);
        if verified.is_ok() {
            break;
        }
    }
    let commitment = verified?;
    {
        let metagraph = state.metagraph.read().await;
        let neuron = metagraph.neuron(&query.hotkey).ok_or_else(|| {
            AuthError::NotAllowed("hotkey is not registered on the subnet".to_owned())
        })?;
        if role == Role::Validator
            && !(neuron.validator_permit && neuron.stake >= state.config.validator_min_stake)
        {
            return Err(AuthError::NotAllowed(format!(
                "a validator permit and at least {} stake are required",
                state.config.validator_min_stake
            ))
            .into());
        }
    }
    let client = resi_runtime::postgres::connection(&state.pool)
        .await
        .map_err(GatewayError::Unavailable)?;
    let expires = now + chrono::Duration::seconds(2 * state.config.max_clock_skew_secs + 60);
    if !limits::first_use(&client, &query.hotkey, commitment, expires)
        .await
        .map_err(GatewayError::Unavailable)?
    {
        return Err(AuthError::Replayed.into());
    }
    limits::take(&client, &query.hotkey, action, limit, now)
        .await
        .map_err(GatewayError::Unavailable)?
        .map_err(GatewayError::Limited)?;
    Ok(commitment.clone())
}

/// An instant as the seeds write it: `2025-10-01T16:00:00.000Z`.
fn iso(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The live epochs schema.
async fn schema(client: &tokio_postgres::Client) -> anyhow::Result<String> {
    client
        .query_opt(
            "SELECT schema_name FROM projection_versions WHERE projection = 'epochs' AND status = 'live'",
            &[],
        )
        .await
        .context("failed to find the live epochs version")?
        .map(|row| row.get(0))
        .context("the epochs projection has no live version yet")
}

/// One epoch as the gateway answers it.
async fn epoch_body(
    client: &tokio_postgres::Client,
    schema: &str,
    epoch_id: &str,
    reveal: bool,
) -> anyhow::Result<Value> {
    let epoch = client
        .query_one(
            &format!(
                "SELECT start_time, end_time, submission_deadline, nonce, target_listings,
                        tolerance_percent, total_expected_listings, zipcode_count,
                        algorithm_version, selection_seed, honeypots, honeypot_commitment
                   FROM {schema}.epochs WHERE epoch_id = $1"
            ),
            &[&epoch_id],
        )
        .await
        .context("failed to read an epoch")?;
    let zipcodes: Vec<Value> = client
        .query(
            &format!(
                "SELECT zipcode, expected_listings, state, city, county, market_tier,
                        geographic_region
                   FROM {schema}.epoch_assignments WHERE epoch_id = $1 ORDER BY position"
            ),
            &[&epoch_id],
        )
        .await
        .context("failed to read an epoch's zipcodes")?
        .iter()
        .map(|row| {
            json!({
                "zipcode": row.get::<_, String>(0),
                "expectedListings": row.get::<_, i32>(1),
                "state": row.get::<_, String>(2),
                "city": row.get::<_, String>(3),
                "county": row.get::<_, String>(4),
                "marketTier": row.get::<_, String>(5),
                "geographicRegion": row.get::<_, String>(6),
            })
        })
        .collect();
    let mut body = json!({
        "success": true,
        "epochId": epoch_id,
        "epochStart": iso(epoch.get(0)),
        "epochEnd": iso(epoch.get(1)),
        "nonce": epoch.get::<_, String>(3),
        "targetListings": epoch.get::<_, i32>(4),
        "tolerancePercent": epoch.get::<_, i32>(5),
        "submissionDeadline": iso(epoch.get(2)),
        "zipcodes": zipcodes,
        "metadata": {
            "totalExpectedListings": epoch.get::<_, i64>(6),
            "zipcodeCount": epoch.get::<_, i32>(7),
            "algorithmVersion": epoch.get::<_, String>(8),
            "selectionSeed": epoch.get::<_, i64>(9),
        },
    });
    if reveal {
        // revealed by EpochClosed for anyone to check against the commitment
        body["honeypotCommitment"] = json!(epoch.get::<_, String>(11));
        body["honeypots"] = json!(epoch.get::<_, Option<Vec<String>>>(10));
    }
    Ok(body)
}

/// `GET /healthcheck`: `{status, version}` as the network's clients check it.
pub async fn healthcheck(State(state): State<Arc<GatewayState>>) -> Json<Value> {
    let database = match resi_runtime::postgres::connection(&state.pool).await {
        Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
        Err(_) => false,
    };
    let metagraph = state.metagraph.read().await;
    Json(json!({
        "status": if database { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "timestamp": Utc::now().timestamp(),
        "database_ok": database,
        "metagraph": {
            "netuid": metagraph.snapshot.netuid,
            "block": metagraph.snapshot.block,
            "neurons": metagraph.snapshot.neurons.len(),
        },
    }))
}

/// `GET /api/v1/zipcode-assignments/current?hotkey&signature&timestamp`: the active epoch's
/// assignment, for a registered miner signing `zipcode:assignment:current:{timestamp}`.
pub async fn current(
    State(state): State<Arc<GatewayState>>,
    Query(query): Query<SignedQuery>,
) -> Result<Json<Value>, GatewayError> {
    let commitment = format!("zipcode:assignment:current:{}", query.timestamp);
    let limit = state.config.limits.assignments;
    authenticate(&state, &query, &commitment, Role::Registered, "assignments", limit).await?;
    let client = resi_runtime::postgres::connection(&state.pool)
        .await
        .map_err(GatewayError::Unavailable)?;
    let schema = schema(&client).await.map_err(GatewayError::Unavailable)?;
    let active: Option<String> = client
        .query_opt(
            &format!(
                "SELECT epoch_id FROM {schema}.epochs
                  WHERE start_time <= now() AND now() < end_time
                  ORDER BY start_time DESC LIMIT 1"
            ),
            &[],
        )
        .await
        .map_err(|error| GatewayError::Unavailable(error.into()))?
        .map(|row| row.get(0));
    let Some(epoch_id) = active else {
        return Err(GatewayError::NotFound(
            "no_active_epoch",
            "no epoch is active; the next opens on the next 4-hour boundary".to_owned(),
        ));
    };
    let body = epoch_body(&client, &schema, &epoch_id, false)
        .await
        .map_err(GatewayError::Unavailable)?;
    metrics::counter!("resi_gateway_assignments_served_total").increment(1);
    Ok(Json(body))
}

/// `GET /api/v1/zipcode-assignments/epoch/{id}?hotkey&signature&timestamp`: a started epoch
/// of the last `history_days`, for a validator signing `zipcode:validation:{id}:{timestamp}`;
/// once closed, with its revealed honeypots.
pub async fn epoch(
    State(state): State<Arc<GatewayState>>,
    Path(epoch_id): Path<String>,
    Query(query): Query<SignedQuery>,
) -> Result<Json<Value>, GatewayError> {
    let commitment = format!("zipcode:validation:{epoch_id}:{}", query.timestamp);
    let limit = state.config.limits.assignments;
    authenticate(&state, &query, &commitment, Role::Validator, "assignments", limit).await?;
    let client = resi_runtime::postgres::connection(&state.pool)
        .await
        .map_err(GatewayError::Unavailable)?;
    let schema = schema(&client).await.map_err(GatewayError::Unavailable)?;
    let found = client
        .query_opt(
            &format!(
                "SELECT closed_event_id IS NOT NULL FROM {schema}.epochs
                  WHERE epoch_id = $1 AND start_time <= now()
                    AND start_time > now() - make_interval(days => $2)"
            ),
            &[&epoch_id, &i32::try_from(state.config.history_days).unwrap_or(i32::MAX)],
        )
        .await
        .map_err(|error| GatewayError::Unavailable(error.into()))?;
    let Some(found) = found else {
        return Err(GatewayError::NotFound(
            "unknown_epoch",
            format!("no started epoch {epoch_id} within the last {} days", state.config.history_days),
        ));
    };
    let body = epoch_body(&client, &schema, &epoch_id, found.get(0))
        .await
        .map_err(GatewayError::Unavailable)?;
    Ok(Json(body))
}

/// The client's address: the rightmost entry of the configured header (what the proxy in
/// front saw), else the peer.
fn client_ip(state: &GatewayState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    state
        .config
        .client_ip_header
        .as_deref()
        .and_then(|name| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
                .last()
        })
        .unwrap_or_else(|| peer.ip())
}

/// `GET /api/v1/zipcode-assignments/stats`: public; the current and next epoch and their
/// timing, as the network's clients poll it (`epochStatus.currentEpoch`, `timing`).
pub async fn stats(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>, GatewayError> {
    let client = resi_runtime::postgres::connection(&state.pool)
        .await
        .map_err(GatewayError::Unavailable)?;
    let now = Utc::now();
    let caller = client_ip(&state, &headers, peer).to_string();
    limits::take(&client, &caller, "stats", state.config.limits.stats, now)
        .await
        .map_err(GatewayError::Unavailable)?
        .map_err(GatewayError::Limited)?;
    let schema = schema(&client).await.map_err(GatewayError::Unavailable)?;
    let rows = client
        .query(
            &format!(
                "(SELECT epoch_id, start_time, end_time, zipcode_count, total_expected_listings,
                         closed_event_id IS NOT NULL
                    FROM {schema}.epochs WHERE start_time <= now()
                   ORDER BY start_time DESC LIMIT 1)
                 UNION ALL
                 (SELECT epoch_id, start_time, end_time, zipcode_count, total_expected_listings,
                         closed_event_id IS NOT NULL
                    FROM {schema}.epochs WHERE start_time > now()
                   ORDER BY start_time LIMIT 1)"
            ),
            &[],
        )
        .await
        .map_err(|error| GatewayError::Unavailable(error.into()))?;
    let describe = |row: &tokio_postgres::Row| {
        let start: DateTime<Utc> = row.get(1);
        let end: DateTime<Utc> = row.get(2);
        let status = if now < start {
            "PENDING"
        } else if now < end {
            "ACTIVE"
        } else if now < end + chrono::Duration::minutes(30) {
            "COMPLETED"
        } else {
            "ARCHIVED"
        };
        json!({
            "id": row.get::<_, String>(0),
            "status": status,
            "startTime": iso(start),
            "endTime": iso(end),
            "zipcodeCount": row.get::<_, i32>(3),
            "totalExpectedListings": row.get::<_, i64>(4),
            "honeypotsRevealed": row.get::<_, bool>(5),
        })
    };
    let current = rows
        .iter()
        .find(|row| row.get::<_, DateTime<Utc>>(1) <= now)
        .map(describe);
    let next = rows
        .iter()
        .find(|row| row.get::<_, DateTime<Utc>>(1) > now)
        .map(describe);
    let until_end = rows
        .iter()
        .find(|row| row.get::<_, DateTime<Utc>>(1) <= now && now < row.get::<_, DateTime<Utc>>(2))
        .map_or(0, |row| (row.get::<_, DateTime<Utc>>(2) - now).num_seconds());
    Ok(Json(json!({
        "success": true,
        "epochStatus": {
            "currentEpoch": current,
            "nextEpoch": next,
            "timing": {"serverTime": iso(now), "timeUntilEpochEnd": until_end},
        },
    })))
}

/// Where clients POST uploads to `bucket`.
fn upload_url(state: &GatewayState, bucket: &str) -> String {
    if let Some(template) = &state.config.upload_url {
        return template.replace("{bucket}", bucket);
    }
    match &state.s3.endpoint {
        Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        None => format!("https://{bucket}.s3.{}.amazonaws.com", state.s3.region),
    }
}

/// A policy for `grant`, signed with the gateway's current credentials.
async fn presign(state: &GatewayState, grant: &upload::Grant) -> Result<upload::Presigned, GatewayError> {
    use aws_credential_types::provider::ProvideCredentials as _;
    let credentials = state
        .credentials
        .provide_credentials()
        .await
        .map_err(|error| GatewayError::Unavailable(anyhow::anyhow!("no AWS credentials: {error}")))?;
    Ok(upload::presign(
        grant,
        &credentials,
        &state.s3.region,
        upload_url(state, &grant.bucket),
        Utc::now(),
    ))
}

/// `POST /get-folder-access`, as the network's miners send it.
#[derive(Debug, Deserialize)]
pub struct FolderAccess {
    /// The coldkey that owns the hotkey.
    pub coldkey: String,
    /// SS58 hotkey.
    pub hotkey: String,
    /// Unix seconds, part of the commitment.
    pub timestamp: i64,
    /// Hex signature of `s3:data:access:{coldkey}:{hotkey}:{timestamp}`.
    pub signature: String,
    /// When the miner wants the access to end (Unix seconds); at most the configured hours.
    pub expiry: Option<i64>,
}

/// `POST /get-folder-access`: a presigned POST policy for the miner's own folder
/// `data/hotkey={hotkey}/` (1 KiB–5 GiB per file, private, 24 hours), for a registered hotkey
/// whose coldkey is the one given.
pub async fn folder_access(
    State(state): State<Arc<GatewayState>>,
    Json(request): Json<FolderAccess>,
) -> Result<Json<Value>, GatewayError> {
    let commitment = format!(
        "s3:data:access:{}:{}:{}",
        request.coldkey, request.hotkey, request.timestamp
    );
    let signed = SignedQuery {
        hotkey: request.hotkey.clone(),
        signature: request.signature.clone(),
        timestamp: request.timestamp,
    };
    let limit = state.config.limits.s3_access;
    authenticate(&state, &signed, &commitment, Role::Registered, "s3_access", limit).await?;
    let owner = state
        .metagraph
        .read()
        .await
        .neuron(&request.hotkey)
        .map(|neuron| neuron.coldkey.clone());
    if owner.as_deref() != Some(request.coldkey.as_str()) {
        return Err(AuthError::NotAllowed("the coldkey does not own this hotkey".to_owned()).into());
    }
    let now = Utc::now();
    let longest = now + chrono::Duration::hours(state.config.miner_upload_hours);
    let expires = request
        .expiry
        .and_then(|expiry| DateTime::from_timestamp(expiry, 0))
        .filter(|expiry| *expiry > now)
        .map_or(longest, |expiry| expiry.min(longest));
    let folder = format!("{}hotkey={}/", state.s3.prefix, request.hotkey);
    let grant = upload::Grant {
        bucket: state.s3.bucket.clone(),
        prefix: folder.clone(),
        min_bytes: 1_024,
        max_bytes: 5 * 1_024 * 1_024 * 1_024,
        expires,
    };
    let presigned = presign(&state, &grant).await?;
    metrics::counter!("resi_gateway_upload_policies_total", "role" => "miner").increment(1);
    Ok(Json(json!({
        "success": true,
        "folder": folder,
        "url": presigned.url,
        "fields": presigned.fields,
        "expiry": iso(expires),
        "structure_info": {
            "folder_structure": format!("{}hotkey={{hotkey_id}}/job_id={{job_id}}/", state.s3.prefix),
            "description": "Upload files under your hotkey's folder; set the form's key to the folder plus your path",
        },
    })))
}

/// `POST /api/v1/s3-access/validator-upload`, as the network's validators send it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorUpload {
    /// SS58 hotkey.
    pub hotkey: String,
    /// Hex signature of `s3:validator:upload:{timestamp}`.
    pub signature: String,
    /// Unix seconds, part of the commitment.
    pub timestamp: i64,
    /// The epoch the results are for.
    pub epoch_id: String,
    /// Recorded for operators.
    pub purpose: Option<String>,
    /// Recorded for operators.
    pub estimated_data_size_mb: Option<u64>,
    /// Recorded for operators.
    pub retention_days: Option<u32>,
}

/// `POST /api/v1/s3-access/validator-upload`: a presigned POST policy for
/// `validators/{hotkey}/epoch={epochId}/` on the results bucket (4 hours), for a validator
/// with a permit and enough stake, for an epoch that has started.
pub async fn validator_upload(
    State(state): State<Arc<GatewayState>>,
    Json(request): Json<ValidatorUpload>,
) -> Result<Json<Value>, GatewayError> {
    let commitment = format!("s3:validator:upload:{}", request.timestamp);
    let signed = SignedQuery {
        hotkey: request.hotkey.clone(),
        signature: request.signature.clone(),
        timestamp: request.timestamp,
    };
    let limit = state.config.limits.s3_access;
    authenticate(&state, &signed, &commitment, Role::Validator, "s3_access", limit).await?;
    let client = resi_runtime::postgres::connection(&state.pool)
        .await
        .map_err(GatewayError::Unavailable)?;
    let schema = schema(&client).await.map_err(GatewayError::Unavailable)?;
    let started = client
        .query_opt(
            &format!("SELECT 1 FROM {schema}.epochs WHERE epoch_id = $1 AND start_time <= now()"),
            &[&request.epoch_id],
        )
        .await
        .map_err(|error| GatewayError::Unavailable(error.into()))?;
    if started.is_none() {
        return Err(GatewayError::NotFound(
            "unknown_epoch",
            format!("no started epoch {}", request.epoch_id),
        ));
    }
    let expires = Utc::now() + chrono::Duration::hours(state.config.validator_upload_hours);
    let folder = format!("validators/{}/epoch={}/", request.hotkey, request.epoch_id);
    let grant = upload::Grant {
        bucket: state.config.validator_bucket.clone(),
        prefix: folder.clone(),
        min_bytes: 1,
        max_bytes: state.config.validator_max_upload_bytes,
        expires,
    };
    let presigned = presign(&state, &grant).await?;
    tracing::info!(hotkey = %request.hotkey, epoch = %request.epoch_id, purpose = ?request.purpose, estimated_mb = ?request.estimated_data_size_mb, retention_days = ?request.retention_days, "validator upload policy issued");
    metrics::counter!("resi_gateway_upload_policies_total", "role" => "validator").increment(1);
    Ok(Json(json!({
        "success": true,
        "bucket": grant.bucket,
        "folder": folder,
        "uploadUrl": presigned.url,
        "url": presigned.url,
        "fields": presigned.fields,
        "expiry": iso(expires),
    })))
}

/// `POST /api/v1/zipcode-assignments/status`, as the network's miners send it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// SS58 hotkey.
    pub hotkey: String,
    /// Hex signature of `zipcode:status:{epochId}:{timestamp}` (the network's client) or
    /// `miner:status:{hotkey}:{epochId}:{timestamp}` (seed 003).
    pub signature: String,
    /// Unix seconds, part of the commitment.
    pub timestamp: i64,
    /// The epoch.
    pub epoch_id: String,
    /// The epoch's nonce, as the assignment gave it.
    pub nonce: String,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED` or `TIMEOUT`.
    pub status: String,
    /// Listings scraped in all, as the miner says.
    pub listings_scraped: Option<u64>,
    /// Zipcodes finished, as the miner says.
    #[serde(default)]
    pub zipcodes_completed: Vec<ZipcodeReport>,
    /// Whether the upload is complete.
    #[serde(default)]
    pub s3_upload_complete: bool,
    /// When the upload completed (RFC 3339).
    pub s3_upload_timestamp: Option<String>,
}

/// One finished zipcode of a [`StatusReport`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZipcodeReport {
    /// Five digits.
    pub zipcode: String,
    /// Listings scraped there.
    pub listings_scraped: Option<u64>,
    /// When it finished (RFC 3339).
    pub completed_at: Option<String>,
}

/// Most zipcodes one report may list (an epoch assigns a few dozen).
const MAX_REPORTED_ZIPCODES: usize = 500;

/// A claimed time: RFC 3339, never later than the report's arrival.
fn claimed_time(
    text: Option<&str>,
    received: DateTime<Utc>,
) -> Result<Option<resi_events::Timestamp>, GatewayError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| {
        GatewayError::BadRequest("bad_time", format!("{text:?} is not an RFC 3339 time"))
    })?;
    Ok(Some(resi_events::Timestamp::from_datetime(
        parsed.with_timezone(&Utc).min(received),
    )))
}

/// `POST /api/v1/zipcode-assignments/status`: a registered miner's progress on the open epoch
/// (active, or within `status_grace_minutes` of its end), with the epoch's nonce and only the
/// epoch's zipcodes; recorded as a `MinerStatusReported` event.
pub async fn status(
    State(state): State<Arc<GatewayState>>,
    Json(report): Json<StatusReport>,
) -> Result<Json<Value>, GatewayError> {
    let commitments = [
        format!("zipcode:status:{}:{}", report.epoch_id, report.timestamp),
        format!("miner:status:{}:{}:{}", report.hotkey, report.epoch_id, report.timestamp),
    ];
    let signed = SignedQuery {
        hotkey: report.hotkey.clone(),
        signature: report.signature.clone(),
        timestamp: report.timestamp,
    };
    let limit = state.config.limits.status;
    let commitment =
        authenticate_any(&state, &signed, &commitments, Role::Registered, "status", limit).await?;
    let status = resi_events::MiningStatus::parse(&report.status).ok_or_else(|| {
        GatewayError::BadRequest(
            "bad_status",
            format!("status {:?} is not IN_PROGRESS, COMPLETED, FAILED or TIMEOUT", report.status),
        )
    })?;
    if report.zipcodes_completed.len() > MAX_REPORTED_ZIPCODES {
        return Err(GatewayError::BadRequest(
            "too_many_zipcodes",
            format!("at most {MAX_REPORTED_ZIPCODES} zipcodes per report"),
        ));
    }
    let client = resi_runtime::postgres::connection(&state.pool)
        .await
        .map_err(GatewayError::Unavailable)?;
    let schema = schema(&client).await.map_err(GatewayError::Unavailable)?;
    let grace = i32::try_from(state.config.status_grace_minutes).unwrap_or(i32::MAX);
    let epoch = client
        .query_opt(
            &format!(
                "SELECT nonce, array(SELECT zipcode FROM {schema}.epoch_assignments a
                                      WHERE a.epoch_id = e.epoch_id)
                   FROM {schema}.epochs e
                  WHERE epoch_id = $1 AND start_time <= now()
                    AND now() < end_time + make_interval(mins => $2)"
            ),
            &[&report.epoch_id, &grace],
        )
        .await
        .map_err(|error| GatewayError::Unavailable(error.into()))?
        .ok_or_else(|| {
            GatewayError::BadRequest(
                "epoch_not_open",
                format!("epoch {} is not open for status reports", report.epoch_id),
            )
        })?;
    if epoch.get::<_, String>(0) != report.nonce {
        return Err(GatewayError::BadRequest(
            "wrong_nonce",
            "the nonce is not the epoch's".to_owned(),
        ));
    }
    let assigned: Vec<String> = epoch.get(1);
    let received = Utc::now();
    let mut zipcodes = Vec::with_capacity(report.zipcodes_completed.len());
    for zipcode in &report.zipcodes_completed {
        if !assigned.contains(&zipcode.zipcode) {
            return Err(GatewayError::BadRequest(
                "unassigned_zipcode",
                format!("zipcode {:?} is not one of the epoch's", zipcode.zipcode),
            ));
        }
        zipcodes.push(resi_events::ZipcodeProgress {
            zipcode: zipcode.zipcode.clone(),
            listings_scraped: zipcode.listings_scraped,
            completed_at: claimed_time(zipcode.completed_at.as_deref(), received)?,
        });
    }
    let reported = resi_events::MinerStatusReported {
        miner_hotkey: report.hotkey.clone(),
        epoch_id: report.epoch_id.clone(),
        commitment,
        received_at: resi_events::Timestamp::from_datetime(received),
        status,
        listings_scraped: report.listings_scraped,
        zipcodes_completed: zipcodes,
        s3_upload_complete: report.s3_upload_complete,
        s3_upload_timestamp: claimed_time(report.s3_upload_timestamp.as_deref(), received)?,
    };
    let event = resi_events::Event::new(
        resi_events::EventPayload::MinerStatusReported(Box::new(reported)),
        resi_events::Timestamp::from_datetime(received),
        resi_events::Timestamp::now(),
    );
    resi_runtime::kafka::publish(&state.producer, &state.network_topic, &event)
        .await
        .map_err(GatewayError::Unavailable)?;
    metrics::counter!("resi_gateway_status_reports_total", "status" => status.as_str()).increment(1);
    Ok(Json(json!({
        "success": true,
        "message": "status recorded",
        "epochId": report.epoch_id,
        "status": status.as_str(),
    })))
}
