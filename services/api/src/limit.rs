//! Per-client rate limits (GCRA, in memory, per API replica): by client IP for anonymous
//! requests, by key for requests with an API key (`x-api-key: …` or
//! `authorization: Bearer …`), whose tier names a larger quota. Keys are stored as blake3
//! hashes; a lookup is reused for `api.api_key_cache_ms`, so a request costs no database round
//! trip for its key.
//!
//! A presented key costs the database a lookup only if it is shaped like a key, is in neither
//! cache, and its client IP is within `api.key_lookup_rate_limit`: junk keys are refused or
//! throttled before any query. Valid keys and unknown ones are cached apart, each bounded, so a
//! flood of junk keys can never push the valid ones out.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use deadpool_postgres::Pool;
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota as GcraQuota, RateLimiter};
use tokio::sync::Mutex;

use crate::config::{ApiConfig, Quota};
use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;

type Limiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// Valid keys cached at most (keys are made by operators: far fewer in practice).
const VALID_KEY_ENTRIES: usize = 100_000;
/// Unknown keys cached at most (a flood of random keys must not grow memory without bound).
const UNKNOWN_KEY_ENTRIES: usize = 10_000;

/// Key hash → when it was looked up, and what it is.
type KeyCache = HashMap<[u8; 32], (Instant, KeyInfo)>;
/// Key hash → when it was found unknown or revoked.
type UnknownKeys = HashMap<[u8; 32], Instant>;

/// What a valid API key is.
#[derive(Clone, Debug)]
struct KeyInfo {
    key_id: String,
    tier: String,
}

/// The limiters and the key cache.
pub struct RateLimits {
    anonymous: Limiter<IpAddr>,
    anonymous_quota: Quota,
    tiers: BTreeMap<String, (Limiter<String>, Quota)>,
    lookups: Limiter<IpAddr>,
    keys: Mutex<KeyCache>,
    unknown: Mutex<UnknownKeys>,
    key_cache: Duration,
    client_ip_header: Option<String>,
    clock: DefaultClock,
}

fn gcra(quota: Quota) -> anyhow::Result<GcraQuota> {
    let burst = NonZeroU32::new(quota.requests).context("a quota needs at least one request")?;
    // one request refills every window / requests (at least a nanosecond, for huge quotas)
    let period =
        (Duration::from_secs(quota.per_secs) / quota.requests).max(Duration::from_nanos(1));
    Ok(GcraQuota::with_period(period)
        .context("a quota's window must be positive")?
        .allow_burst(burst))
}

/// The blake3 hash under which a key is stored.
#[must_use]
pub fn key_hash(key: &str) -> [u8; 32] {
    *blake3::hash(key.as_bytes()).as_bytes()
}

impl RateLimits {
    /// Limiters for the configured quotas.
    pub fn new(config: &ApiConfig) -> anyhow::Result<Self> {
        let tiers = config
            .tiers
            .iter()
            .map(|(name, quota)| {
                Ok((
                    name.clone(),
                    (RateLimiter::keyed(gcra(*quota)?).with_middleware(), *quota),
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            anonymous: RateLimiter::keyed(gcra(config.rate_limit)?).with_middleware(),
            anonymous_quota: config.rate_limit,
            tiers,
            lookups: RateLimiter::keyed(gcra(config.key_lookup_rate_limit)?).with_middleware(),
            keys: Mutex::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
            key_cache: Duration::from_millis(config.api_key_cache_ms),
            client_ip_header: config.client_ip_header.clone(),
            clock: DefaultClock::default(),
        })
    }

    /// Forgets clients whose quota is full again (called periodically, so memory follows the
    /// clients of the last window, not every client ever seen).
    pub fn forget_idle(&self) {
        self.anonymous.retain_recent();
        self.anonymous.shrink_to_fit();
        self.lookups.retain_recent();
        self.lookups.shrink_to_fit();
        for (limiter, _) in self.tiers.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// The client's address: the rightmost entry of the configured header, else the peer.
    fn client_ip(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        if let Some(header) = &self.client_ip_header {
            let forwarded = headers
                .get_all(header.as_str())
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
                .next_back();
            if forwarded.is_some() {
                return forwarded;
            }
        }
        peer.map(|peer| peer.ip())
    }

    /// What `key` is: from the caches, or (within the client's lookup quota) the database.
    async fn key_info(&self, pool: &Pool, key: &str, ip: IpAddr) -> Result<KeyLookup, ApiError> {
        if !is_key_shaped(key) {
            return Ok(KeyLookup::Unknown);
        }
        let hash = key_hash(key);
        if let Some((at, info)) = self.keys.lock().await.get(&hash)
            && at.elapsed() < self.key_cache
        {
            return Ok(KeyLookup::Valid(info.clone()));
        }
        if let Some(at) = self.unknown.lock().await.get(&hash)
            && at.elapsed() < self.key_cache
        {
            return Ok(KeyLookup::Unknown);
        }
        if let Err(not_until) = self.lookups.check_key(&ip) {
            return Ok(KeyLookup::Throttled(
                not_until.wait_time_from(self.clock.now()),
            ));
        }
        let client = crate::db::connection(pool).await?;
        let row = client
            .query_opt(
                "SELECT key_id, tier FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
                &[&hash.as_slice()],
            )
            .await
            .context("failed to look up an api key")
            .map_err(ApiError::from_postgres)?;
        metrics::key_lookup(if row.is_some() { "found" } else { "unknown" });
        let Some(row) = row else {
            let mut unknown = self.unknown.lock().await;
            if unknown.len() >= UNKNOWN_KEY_ENTRIES {
                unknown.clear();
            }
            unknown.insert(hash, Instant::now());
            return Ok(KeyLookup::Unknown);
        };
        let info = KeyInfo {
            key_id: row.get(0),
            tier: row.get(1),
        };
        let mut keys = self.keys.lock().await;
        if keys.len() >= VALID_KEY_ENTRIES {
            keys.retain(|_, (at, _)| at.elapsed() < self.key_cache);
        }
        if keys.len() < VALID_KEY_ENTRIES {
            keys.insert(hash, (Instant::now(), info.clone()));
        }
        Ok(KeyLookup::Valid(info))
    }
}

/// What a presented key turned out to be.
enum KeyLookup {
    /// A key of a tier.
    Valid(KeyInfo),
    /// Not a key, or a revoked one.
    Unknown,
    /// Not known without asking the database, and the client asked too often.
    Throttled(Duration),
}

/// Whether `key` has the shape `resi api-key create` gives keys: `resi_` + 8 hex + `_` + 48 hex.
fn is_key_shaped(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("resi_") else {
        return false;
    };
    let hex =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(rest.split_once('_'), Some((id, secret)) if hex(id, 8) && hex(secret, 48))
}

fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(key) = headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
    {
        return Some(key.trim().to_owned());
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|key| key.trim().to_owned())
}

/// Middleware: admits the request within its client's quota, else 429 with `Retry-After`.
/// Answers carry `x-ratelimit-limit` and `x-ratelimit-remaining`.
pub async fn middleware(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limits = &state.limits;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let ip = limits
        .client_ip(request.headers(), peer)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let key = presented_key(request.headers());
    let verdict = match &key {
        Some(key) => match limits.key_info(&state.pool, key, ip).await {
            Err(error) => return error.into_response(),
            Ok(KeyLookup::Throttled(retry_after)) => {
                metrics::rejected("key_lookups_limited");
                return ApiError::RateLimited { retry_after }.into_response();
            }
            Ok(KeyLookup::Unknown) => {
                // a wrong key still costs its sender a request, so keys cannot be guessed at
                // the speed of the network
                let _ = limits.anonymous.check_key(&ip);
                metrics::rejected("invalid_api_key");
                return ApiError::InvalidApiKey.into_response();
            }
            Ok(KeyLookup::Valid(info)) => match limits.tiers.get(&info.tier) {
                Some((limiter, quota)) => (limiter.check_key(&info.key_id), *quota),
                None => {
                    tracing::warn!(key_id = %info.key_id, tier = %info.tier, "api key of an unconfigured tier: anonymous quota");
                    (limits.anonymous.check_key(&ip), limits.anonymous_quota)
                }
            },
        },
        None => (limits.anonymous.check_key(&ip), limits.anonymous_quota),
    };
    let (decision, quota) = verdict;
    match decision {
        Ok(snapshot) => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            headers.insert("x-ratelimit-limit", HeaderValue::from(quota.requests));
            headers.insert(
                "x-ratelimit-remaining",
                HeaderValue::from(snapshot.remaining_burst_capacity()),
            );
            response
        }
        Err(not_until) => {
            metrics::rejected("rate_limited");
            let retry_after = not_until.wait_time_from(limits.clock.now());
            let mut response = ApiError::RateLimited { retry_after }.into_response();
            response
                .headers_mut()
                .insert("x-ratelimit-limit", HeaderValue::from(quota.requests));
            response
                .headers_mut()
                .insert("x-ratelimit-remaining", HeaderValue::from(0));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_key_shaped_keys_are_looked_up() {
        assert!(is_key_shaped(&format!("resi_0a1b2c3d_{}", "f".repeat(48))));
        for junk in [
            "",
            "resi_",
            "resi_0a1b2c3d_",
            "resi_0a1b2c3_ffffffffffffffffffffffffffffffffffffffffffffffff",
            "resi_0a1b2c3d_ffffffffffffffffffffffffffffffffffffffffffffffffff",
            "xesi_0a1b2c3d_ffffffffffffffffffffffffffffffffffffffffffffffff",
            "resi_0a1b2c3g_ffffffffffffffffffffffffffffffffffffffffffffffff",
            "' OR 1=1 --",
        ] {
            assert!(!is_key_shaped(junk), "{junk:?}");
        }
    }

    #[test]
    fn any_positive_quota_makes_a_limiter() {
        for (requests, per_secs) in [(1, 1), (100, 900), (u32::MAX, 1), (1, u64::from(u32::MAX))] {
            assert!(
                gcra(Quota { requests, per_secs }).is_ok(),
                "{requests}/{per_secs}s"
            );
        }
        assert!(
            gcra(Quota {
                requests: 0,
                per_secs: 1
            })
            .is_err()
        );
    }
}
