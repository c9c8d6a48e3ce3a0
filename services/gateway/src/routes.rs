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
use utoipa::{IntoParams, ToSchema};

use crate::auth::{self, AuthError};
use crate::model::{
    EpochAssignment, EpochMetadata, EpochStatus, EpochSummary, ErrorBody, FolderAccessGranted,
    Health, MetagraphSummary, Stats, StatusAccepted, StructureInfo, Timing, ValidatorUploadGranted,
    ZipcodeAssignment,
};
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
            Self::Auth(AuthError::Banned) => (
                StatusCode::FORBIDDEN,
                "banned",
                AuthError::Banned.to_string(),
            ),
            Self::Auth(error) => (StatusCode::UNAUTHORIZED, error.code(), error.to_string()),
            Self::Limited(wait) => {
                metrics::counter!("resi_gateway_refusals_total", "reason" => "rate_limited")
                    .increment(1);
                let body = ErrorBody {
                    success: false,
                    error: "rate_limited".to_owned(),
                    detail: format!("too many requests; retry in {} s", wait.as_secs()),
                };
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
        let body = ErrorBody {
            success: false,
            error: code.to_owned(),
            detail,
        };
        (status, Json(body)).into_response()
    }
}

/// A query the client got wrong: a 400 in the gateway's error shape, not axum's plain text.
pub struct CheckedQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for CheckedQuery<T>
{
    type Rejection = GatewayError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| GatewayError::BadRequest("bad_request", rejection.body_text()))
    }
}

/// A JSON body the client got wrong: a 400 in the gateway's error shape.
pub struct CheckedJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S>
    for CheckedJson<T>
{
    type Rejection = GatewayError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| Self(value))
            .map_err(|rejection| GatewayError::BadRequest("bad_request", rejection.body_text()))
    }
}

/// Whole numbers as JSON clients write them: `1733280000` or `1733280000.0` (JavaScript's
/// numbers, and JSON Schema's "integer", are both); a fraction or an out-of-range value is a
/// 400 naming the field.
mod whole {
    use serde::de::{Deserialize as _, Deserializer, Error};

    fn value<E: Error>(number: &serde_json::Number) -> Result<i128, E> {
        if let Some(value) = number.as_i64() {
            return Ok(value.into());
        }
        if let Some(value) = number.as_u64() {
            return Ok(value.into());
        }
        let value = number.as_f64().unwrap_or(f64::NAN);
        if value.fract() == 0.0 && value.abs() < 1e19 {
            #[allow(clippy::cast_possible_truncation, reason = "whole and within i128")]
            return Ok(value as i128);
        }
        Err(E::custom(format!("{number} is not a whole number")))
    }

    fn convert<E: Error, T: TryFrom<i128>>(number: &serde_json::Number) -> Result<T, E> {
        T::try_from(value::<E>(number)?).map_err(|_| E::custom(format!("{number} is out of range")))
    }

    pub fn required<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        convert(&serde_json::Number::deserialize(deserializer)?)
    }

    pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<serde_json::Number>::deserialize(deserializer)?
            .map(|number| convert(&number))
            .transpose()
    }
}

/// What a signed GET carries in its query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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
    auth::fresh(
        query.timestamp,
        now.timestamp(),
        state.config.max_clock_skew_secs,
    )?;
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
    // one statement (the pool's sessions do not wait for the WAL flush, lib.rs)
    let client = resi_runtime::postgres::connection(&state.pool)
        .await
        .map_err(GatewayError::Unavailable)?;
    let scores = state.scores_schema.read().await.clone();
    let request = limits::SignedRequest {
        hotkey: &query.hotkey,
        commitment,
        expires_at: now + chrono::Duration::seconds(2 * state.config.max_clock_skew_secs + 60),
        action,
        limit,
        now,
    };
    let admission = limits::admit(&client, scores.as_deref(), &request)
        .await
        .map_err(GatewayError::Unavailable)?;
    match admission {
        limits::Admission::Admitted(_) => {}
        limits::Admission::Banned => return Err(AuthError::Banned.into()),
        limits::Admission::Replayed => return Err(AuthError::Replayed.into()),
        limits::Admission::Limited(wait) => return Err(GatewayError::Limited(wait)),
    }
    Ok(commitment.clone())
}

/// An instant as the seeds write it: `2025-10-01T16:00:00.000Z`.
fn iso(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The live epochs schema.
async fn schema(client: &deadpool_postgres::Client) -> anyhow::Result<String> {
    let statement = client
        .prepare_cached(
            "SELECT schema_name FROM projection_versions WHERE projection = 'epochs' AND status = 'live'",
        )
        .await
        .context("failed to prepare the epochs version lookup")?;
    client
        .query_opt(&statement, &[])
        .await
        .context("failed to find the live epochs version")?
        .map(|row| row.get(0))
        .context("the epochs projection has no live version yet")
}

/// One epoch as the gateway answers it.
async fn epoch_body(
    client: &deadpool_postgres::Client,
    schema: &str,
    epoch_id: &str,
    reveal: bool,
) -> anyhow::Result<EpochAssignment> {
    // prepared once per connection: the answer's statements are the gateway's hottest
    let epoch_sql = format!(
        "SELECT start_time, end_time, submission_deadline, nonce, target_listings,
                tolerance_percent, total_expected_listings, zipcode_count,
                algorithm_version, selection_seed, honeypots, honeypot_commitment
           FROM {schema}.epochs WHERE epoch_id = $1"
    );
    let zipcodes_sql = format!(
        "SELECT zipcode, expected_listings, state, city, county, market_tier, geographic_region
           FROM {schema}.epoch_assignments WHERE epoch_id = $1 ORDER BY position"
    );
    let epoch_statement = client
        .prepare_cached(&epoch_sql)
        .await
        .context("failed to prepare the epoch's statement")?;
    let zipcodes_statement = client
        .prepare_cached(&zipcodes_sql)
        .await
        .context("failed to prepare the zipcodes' statement")?;
    let epoch = client
        .query_one(&epoch_statement, &[&epoch_id])
        .await
        .context("failed to read an epoch")?;
    let zipcodes = client
        .query(&zipcodes_statement, &[&epoch_id])
        .await
        .context("failed to read an epoch's zipcodes")?
        .iter()
        .map(|row| ZipcodeAssignment {
            zipcode: row.get(0),
            expected_listings: row.get(1),
            state: row.get(2),
            city: row.get(3),
            county: row.get(4),
            market_tier: row.get(5),
            geographic_region: row.get(6),
        })
        .collect();
    Ok(EpochAssignment {
        success: true,
        epoch_id: epoch_id.to_owned(),
        epoch_start: iso(epoch.get(0)),
        epoch_end: iso(epoch.get(1)),
        nonce: epoch.get(3),
        target_listings: epoch.get(4),
        tolerance_percent: epoch.get(5),
        submission_deadline: iso(epoch.get(2)),
        zipcodes,
        metadata: EpochMetadata {
            total_expected_listings: epoch.get(6),
            zipcode_count: epoch.get(7),
            algorithm_version: epoch.get(8),
            selection_seed: epoch.get(9),
        },
        // revealed by EpochClosed for anyone to check against the commitment
        honeypot_commitment: reveal.then(|| epoch.get(11)),
        honeypots: if reveal { epoch.get(10) } else { None },
    })
}

/// `GET /healthcheck`: `{status, version}` as the network's clients check it.
#[utoipa::path(
    get,
    path = "/healthcheck",
    tag = "operations",
    responses((status = 200, description = "Up; `status` says whether the database answers", body = Health))
)]
pub async fn healthcheck(State(state): State<Arc<GatewayState>>) -> Json<Health> {
    let database = match resi_runtime::postgres::connection(&state.pool).await {
        Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
        Err(_) => false,
    };
    let metagraph = state.metagraph.read().await;
    Json(Health {
        status: if database { "ok" } else { "degraded" }.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        timestamp: Utc::now().timestamp(),
        database_ok: database,
        metagraph: MetagraphSummary {
            netuid: metagraph.snapshot.netuid,
            block: metagraph.snapshot.block,
            neurons: metagraph.snapshot.neurons.len(),
        },
    })
}

/// `GET /api/v1/zipcode-assignments/current?hotkey&signature&timestamp`: the active epoch's
/// assignment, for a registered miner signing `zipcode:assignment:current:{timestamp}`.
#[utoipa::path(
    get,
    path = "/api/v1/zipcode-assignments/current",
    tag = "miners",
    params(SignedQuery),
    responses(
        (status = 200, description = "The active epoch's zipcodes; signed `zipcode:assignment:current:{timestamp}`", body = EpochAssignment),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        (status = 401, description = "Forged, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "The hotkey is not registered, or banned for fabricating", body = ErrorBody),
        (status = 404, description = "No epoch is active", body = ErrorBody),
        (status = 429, description = "Over 10 requests a minute; see Retry-After", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    )
)]
pub async fn current(
    State(state): State<Arc<GatewayState>>,
    CheckedQuery(query): CheckedQuery<SignedQuery>,
) -> Result<Json<EpochAssignment>, GatewayError> {
    let commitment = format!("zipcode:assignment:current:{}", query.timestamp);
    let limit = state.config.limits.assignments;
    authenticate(
        &state,
        &query,
        &commitment,
        Role::Registered,
        "assignments",
        limit,
    )
    .await?;
    let client = resi_runtime::postgres::connection(&state.pool)
        .await
        .map_err(GatewayError::Unavailable)?;
    let schema = schema(&client).await.map_err(GatewayError::Unavailable)?;
    let active_statement = client
        .prepare_cached(&format!(
            "SELECT epoch_id FROM {schema}.epochs
              WHERE start_time <= now() AND now() < end_time
              ORDER BY start_time DESC LIMIT 1"
        ))
        .await
        .map_err(|error| GatewayError::Unavailable(error.into()))?;
    let active: Option<String> = client
        .query_opt(&active_statement, &[])
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
#[utoipa::path(
    get,
    path = "/api/v1/zipcode-assignments/epoch/{epoch_id}",
    tag = "validators",
    params(("epoch_id" = String, Path, description = "`YYYY-MM-DDTHH-00-00`"), SignedQuery),
    responses(
        (status = 200, description = "The epoch; once closed with `honeypots` and `honeypotCommitment`. Signed `zipcode:validation:{epoch_id}:{timestamp}`", body = EpochAssignment),
        (status = 400, description = "A missing or malformed parameter", body = ErrorBody),
        (status = 401, description = "Forged, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "Not a validator with a permit and enough stake", body = ErrorBody),
        (status = 404, description = "No such epoch started within the history window", body = ErrorBody),
        (status = 429, description = "Over 10 requests a minute; see Retry-After", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    )
)]
pub async fn epoch(
    State(state): State<Arc<GatewayState>>,
    Path(epoch_id): Path<String>,
    CheckedQuery(query): CheckedQuery<SignedQuery>,
) -> Result<Json<EpochAssignment>, GatewayError> {
    let commitment = format!("zipcode:validation:{epoch_id}:{}", query.timestamp);
    let limit = state.config.limits.assignments;
    authenticate(
        &state,
        &query,
        &commitment,
        Role::Validator,
        "assignments",
        limit,
    )
    .await?;
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
            &[
                &epoch_id,
                &i32::try_from(state.config.history_days).unwrap_or(i32::MAX),
            ],
        )
        .await
        .map_err(|error| GatewayError::Unavailable(error.into()))?;
    let Some(found) = found else {
        return Err(GatewayError::NotFound(
            "unknown_epoch",
            format!(
                "no started epoch {epoch_id} within the last {} days",
                state.config.history_days
            ),
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
                .next_back()
        })
        .unwrap_or_else(|| peer.ip())
}

/// `GET /api/v1/zipcode-assignments/stats`: public; the current and next epoch and their
/// timing, as the network's clients poll it (`epochStatus.currentEpoch`, `timing`).
#[utoipa::path(
    get,
    path = "/api/v1/zipcode-assignments/stats",
    tag = "miners",
    responses(
        (status = 200, description = "The current and next epochs; public", body = Stats),
        (status = 429, description = "Over 30 requests a minute from one address; see Retry-After", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    )
)]
pub async fn stats(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Stats>, GatewayError> {
    let client = resi_runtime::postgres::connection(&state.pool)
        .await
        .map_err(GatewayError::Unavailable)?;
    let now = Utc::now();
    let caller = client_ip(&state, &headers, peer).to_string();
    let taken = limits::take(&client, &caller, "stats", state.config.limits.stats, now)
        .await
        .map_err(GatewayError::Unavailable)?;
    taken.map_err(GatewayError::Limited)?;
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
        EpochSummary {
            id: row.get(0),
            status: status.to_owned(),
            start_time: iso(start),
            end_time: iso(end),
            zipcode_count: row.get(3),
            total_expected_listings: row.get(4),
            honeypots_revealed: row.get(5),
        }
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
        .map_or(0, |row| {
            (row.get::<_, DateTime<Utc>>(2) - now).num_seconds()
        });
    Ok(Json(Stats {
        success: true,
        epoch_status: EpochStatus {
            current_epoch: current,
            next_epoch: next,
            timing: Timing {
                server_time: iso(now),
                time_until_epoch_end: until_end,
            },
        },
    }))
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
async fn presign(
    state: &GatewayState,
    grant: &upload::Grant,
) -> Result<upload::Presigned, GatewayError> {
    use aws_credential_types::provider::ProvideCredentials as _;
    let credentials = state
        .credentials
        .provide_credentials()
        .await
        .map_err(|error| {
            GatewayError::Unavailable(anyhow::anyhow!("no AWS credentials: {error}"))
        })?;
    Ok(upload::presign(
        grant,
        &credentials,
        &state.s3.region,
        upload_url(state, &grant.bucket),
        Utc::now(),
    ))
}

/// `POST /get-folder-access`, as the network's miners send it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FolderAccess {
    /// The coldkey that owns the hotkey.
    pub coldkey: String,
    /// SS58 hotkey.
    pub hotkey: String,
    /// Unix seconds, part of the commitment.
    #[serde(deserialize_with = "whole::required")]
    pub timestamp: i64,
    /// Hex signature of `s3:data:access:{coldkey}:{hotkey}:{timestamp}`.
    pub signature: String,
    /// When the miner wants the access to end (Unix seconds); at most the configured hours.
    #[serde(default, deserialize_with = "whole::optional")]
    pub expiry: Option<i64>,
}

/// `POST /get-folder-access`: a presigned POST policy for the miner's own folder
/// `data/hotkey={hotkey}/` (1 KiB–5 GiB per file, private, 24 hours), for a registered hotkey
/// whose coldkey is the one given.
#[utoipa::path(
    post,
    path = "/get-folder-access",
    tag = "miners",
    request_body = FolderAccess,
    responses(
        (status = 200, description = "A presigned POST form for the miner's own folder. Signed `s3:data:access:{coldkey}:{hotkey}:{timestamp}`", body = FolderAccessGranted),
        (status = 400, description = "A body that is not the request's JSON", body = ErrorBody),
        (status = 401, description = "Forged, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "Not registered, or the coldkey does not own the hotkey", body = ErrorBody),
        (status = 429, description = "Over 20 requests a day; see Retry-After", body = ErrorBody),
        (status = 503, description = "Database or credentials unavailable", body = ErrorBody),
    )
)]
pub async fn folder_access(
    State(state): State<Arc<GatewayState>>,
    CheckedJson(request): CheckedJson<FolderAccess>,
) -> Result<Json<FolderAccessGranted>, GatewayError> {
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
    authenticate(
        &state,
        &signed,
        &commitment,
        Role::Registered,
        "s3_access",
        limit,
    )
    .await?;
    let owner = state
        .metagraph
        .read()
        .await
        .neuron(&request.hotkey)
        .map(|neuron| neuron.coldkey.clone());
    if owner.as_deref() != Some(request.coldkey.as_str()) {
        return Err(
            AuthError::NotAllowed("the coldkey does not own this hotkey".to_owned()).into(),
        );
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
    Ok(Json(FolderAccessGranted {
        success: true,
        folder,
        url: presigned.url,
        fields: presigned.fields,
        expiry: iso(expires),
        structure_info: StructureInfo {
            folder_structure: format!("{}hotkey={{hotkey_id}}/job_id={{job_id}}/", state.s3.prefix),
            description: "Upload files under your hotkey's folder; set the form's key to the folder plus your path"
                .to_owned(),
        },
    }))
}

/// `POST /api/v1/s3-access/validator-upload`, as the network's validators send it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorUpload {
    /// SS58 hotkey.
    pub hotkey: String,
    /// Hex signature of `s3:validator:upload:{timestamp}`.
    pub signature: String,
    /// Unix seconds, part of the commitment.
    #[serde(deserialize_with = "whole::required")]
    pub timestamp: i64,
    /// The epoch the results are for.
    pub epoch_id: String,
    /// Recorded for operators.
    pub purpose: Option<String>,
    /// Recorded for operators.
    #[serde(default, deserialize_with = "whole::optional")]
    pub estimated_data_size_mb: Option<u64>,
    /// Recorded for operators.
    #[serde(default, deserialize_with = "whole::optional")]
    pub retention_days: Option<u32>,
}

/// `POST /api/v1/s3-access/validator-upload`: a presigned POST policy for
/// `validators/{hotkey}/epoch={epochId}/` on the results bucket (4 hours), for a validator
/// with a permit and enough stake, for an epoch that has started.
#[utoipa::path(
    post,
    path = "/api/v1/s3-access/validator-upload",
    tag = "validators",
    request_body = ValidatorUpload,
    responses(
        (status = 200, description = "A presigned POST form for the validator's results folder of the epoch. Signed `s3:validator:upload:{timestamp}`", body = ValidatorUploadGranted),
        (status = 400, description = "A body that is not the request's JSON", body = ErrorBody),
        (status = 401, description = "Forged, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "Not a validator with a permit and enough stake", body = ErrorBody),
        (status = 404, description = "No such epoch has started", body = ErrorBody),
        (status = 429, description = "Over 20 requests a day; see Retry-After", body = ErrorBody),
        (status = 503, description = "Database or credentials unavailable", body = ErrorBody),
    )
)]
pub async fn validator_upload(
    State(state): State<Arc<GatewayState>>,
    CheckedJson(request): CheckedJson<ValidatorUpload>,
) -> Result<Json<ValidatorUploadGranted>, GatewayError> {
    let commitment = format!("s3:validator:upload:{}", request.timestamp);
    let signed = SignedQuery {
        hotkey: request.hotkey.clone(),
        signature: request.signature.clone(),
        timestamp: request.timestamp,
    };
    let limit = state.config.limits.s3_access;
    authenticate(
        &state,
        &signed,
        &commitment,
        Role::Validator,
        "s3_access",
        limit,
    )
    .await?;
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
    Ok(Json(ValidatorUploadGranted {
        success: true,
        bucket: grant.bucket,
        folder,
        upload_url: presigned.url.clone(),
        url: presigned.url,
        fields: presigned.fields,
        expiry: iso(expires),
    }))
}

/// `POST /api/v1/zipcode-assignments/status`, as the network's miners send it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// SS58 hotkey.
    pub hotkey: String,
    /// Hex signature of `zipcode:status:{epochId}:{timestamp}` (the network's client) or
    /// `miner:status:{hotkey}:{epochId}:{timestamp}` (seed 003).
    pub signature: String,
    /// Unix seconds, part of the commitment.
    #[serde(deserialize_with = "whole::required")]
    pub timestamp: i64,
    /// The epoch.
    pub epoch_id: String,
    /// The epoch's nonce, as the assignment gave it.
    pub nonce: String,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED` or `TIMEOUT`.
    pub status: String,
    /// Listings scraped in all, as the miner says.
    #[serde(default, deserialize_with = "whole::optional")]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZipcodeReport {
    /// Five digits.
    pub zipcode: String,
    /// Listings scraped there.
    #[serde(default, deserialize_with = "whole::optional")]
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
#[utoipa::path(
    post,
    path = "/api/v1/zipcode-assignments/status",
    tag = "miners",
    request_body = StatusReport,
    responses(
        (status = 200, description = "Recorded on the log. Signed `zipcode:status:{epochId}:{timestamp}` or `miner:status:{hotkey}:{epochId}:{timestamp}`", body = StatusAccepted),
        (status = 400, description = "A body that is not the request's JSON, a wrong nonce, an unassigned zipcode, an epoch not open, a bad status or time", body = ErrorBody),
        (status = 401, description = "Forged, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "The hotkey is not registered, or banned for fabricating", body = ErrorBody),
        (status = 429, description = "Over 5 reports a minute; see Retry-After", body = ErrorBody),
        (status = 503, description = "Database or broker unavailable", body = ErrorBody),
    )
)]
pub async fn status(
    State(state): State<Arc<GatewayState>>,
    CheckedJson(report): CheckedJson<StatusReport>,
) -> Result<Json<StatusAccepted>, GatewayError> {
    let commitments = [
        format!("zipcode:status:{}:{}", report.epoch_id, report.timestamp),
        format!(
            "miner:status:{}:{}:{}",
            report.hotkey, report.epoch_id, report.timestamp
        ),
    ];
    let signed = SignedQuery {
        hotkey: report.hotkey.clone(),
        signature: report.signature.clone(),
        timestamp: report.timestamp,
    };
    let limit = state.config.limits.status;
    let commitment = authenticate_any(
        &state,
        &signed,
        &commitments,
        Role::Registered,
        "status",
        limit,
    )
    .await?;
    let status = resi_events::MiningStatus::parse(&report.status).ok_or_else(|| {
        GatewayError::BadRequest(
            "bad_status",
            format!(
                "status {:?} is not IN_PROGRESS, COMPLETED, FAILED or TIMEOUT",
                report.status
            ),
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
    metrics::counter!("resi_gateway_status_reports_total", "status" => status.as_str())
        .increment(1);
    Ok(Json(StatusAccepted {
        success: true,
        message: "status recorded".to_owned(),
        epoch_id: report.epoch_id,
        status: status.as_str().to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::{FolderAccess, StatusReport};

    #[test]
    fn whole_numbers_may_be_written_as_floats_and_fractions_are_refused() {
        let access: FolderAccess = serde_json::from_str(
            r#"{"coldkey": "c", "hotkey": "h", "signature": "s", "timestamp": 1733280000.0, "expiry": 1733290000}"#,
        )
        .expect("whole floats");
        assert_eq!(
            (access.timestamp, access.expiry),
            (1_733_280_000, Some(1_733_290_000))
        );
        let fraction = serde_json::from_str::<FolderAccess>(
            r#"{"coldkey": "c", "hotkey": "h", "signature": "s", "timestamp": 1.5}"#,
        );
        assert!(
            fraction
                .expect_err("a fraction")
                .to_string()
                .contains("not a whole number")
        );
        let negative = serde_json::from_str::<StatusReport>(
            r#"{"hotkey": "h", "signature": "s", "timestamp": 1, "epochId": "e", "nonce": "n", "status": "COMPLETED", "listingsScraped": -1}"#,
        );
        assert!(
            negative
                .expect_err("a negative count")
                .to_string()
                .contains("out of range")
        );
        let absent = serde_json::from_str::<StatusReport>(
            r#"{"hotkey": "h", "signature": "s", "timestamp": 1, "epochId": "e", "nonce": "n", "status": "COMPLETED"}"#,
        )
        .expect("optional counts");
        assert_eq!(absent.listings_scraped, None);
    }
}
