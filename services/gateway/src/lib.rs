//! The gateway: where miners and validators ask for their epoch's zipcodes (seeds 003 and 004),
//! with the paths, parameters and answers the network's clients already use.
//!
//! Every request is signed by an SS58 hotkey over the seeds' commitment string ([`auth`]),
//! fresh within ±5 minutes, accepted once, from a hotkey the metagraph snapshot knows
//! ([`metagraph`]); limits per hotkey are counted in Postgres ([`limits`]) so that every
//! replica enforces the same ones. Assignments are read from the epochs projection, which the
//! coordinator's events build.

pub mod auth;
pub mod docs;
pub mod limits;
pub mod metagraph;
pub mod model;
pub mod routes;
pub mod upload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use resi_runtime::config::{KafkaConfig, PostgresConfig, S3Config, TelemetryConfig};
use resi_runtime::shutdown::Shutdown;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::RwLock;

/// Requests per window of one caller for one action.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length, seconds.
    pub window_secs: u64,
}

/// Limits per hotkey (seed 003, "Rate Limits").
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// `GET …/current` and `GET …/epoch/{id}`: 10 a minute.
    pub assignments: Limit,
    /// `POST …/status`: 5 a minute.
    pub status: Limit,
    /// `GET …/stats`, per client address: 30 a minute.
    pub stats: Limit,
    /// `POST /get-folder-access` and `POST …/s3-access/validator-upload`: 20 a day.
    pub s3_access: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            assignments: Limit {
                requests: 10,
                window_secs: 60,
            },
            status: Limit {
                requests: 5,
                window_secs: 60,
            },
            stats: Limit {
                requests: 30,
                window_secs: 60,
            },
            s3_access: Limit {
                requests: 20,
                window_secs: 86_400,
            },
        }
    }
}

/// The `gateway` configuration section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The metagraph snapshot (JSON file), re-read every `metagraph_refresh_secs`.
    pub metagraph_file: Option<PathBuf>,
    /// Or the snapshot as an S3 object, `s3://bucket/key` (read with the `s3` section's
    /// endpoint and credentials).
    pub metagraph_url: Option<String>,
    /// How often the snapshot is re-read, seconds.
    pub metagraph_refresh_secs: u64,
    /// Stake a validator needs for validator endpoints, TAO.
    pub validator_min_stake: f64,
    /// Largest distance between a request's timestamp and the clock, seconds.
    pub max_clock_skew_secs: i64,
    /// Per-hotkey limits.
    pub limits: Limits,
    /// Days of epochs validators may read back.
    pub history_days: i64,
    /// Bucket validators upload their results to.
    pub validator_bucket: String,
    /// Where clients POST uploads: `{bucket}` is replaced by the bucket. Unset: the S3
    /// endpoint's path-style URL when one is configured, else
    /// `https://{bucket}.s3.{region}.amazonaws.com`.
    pub upload_url: Option<String>,
    /// How long a miner's upload policy holds, hours.
    pub miner_upload_hours: i64,
    /// How long a validator's upload policy holds, hours.
    pub validator_upload_hours: i64,
    /// Largest validator results upload, bytes.
    pub validator_max_upload_bytes: u64,
    /// Minutes after an epoch's end during which status reports are still taken.
    pub status_grace_minutes: u32,
    /// Header whose rightmost address is the client's, set by the proxy in front (e.g.
    /// `x-forwarded-for` behind the ingress); unset, the peer address is the client.
    pub client_ip_header: Option<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 3000)),
            metagraph_file: None,
            metagraph_url: None,
            metagraph_refresh_secs: 60,
            validator_min_stake: 1_000.0,
            max_clock_skew_secs: 300,
            limits: Limits::default(),
            history_days: 14,
            client_ip_header: None,
            validator_bucket: "resi-validated-data".to_owned(),
            upload_url: None,
            miner_upload_hours: 24,
            validator_upload_hours: 4,
            validator_max_upload_bytes: 1024 * 1024 * 1024,
            status_grace_minutes: 15,
        }
    }
}

/// The gateway's whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct GatewayServiceConfig {
    /// The epochs projection and the shared limits.
    pub postgres: PostgresConfig,
    /// The upload bucket, its region and the credentials that sign upload policies.
    pub s3: S3Config,
    /// The broker status reports are published to.
    pub kafka: KafkaConfig,
    /// Logs, traces and metrics.
    pub telemetry: TelemetryConfig,
    /// The gateway itself.
    pub gateway: GatewayConfig,
}

/// What every handler shares.
pub struct GatewayState {
    /// Postgres.
    pub pool: deadpool_postgres::Pool,
    /// Settings.
    pub config: GatewayConfig,
    /// The latest metagraph snapshot.
    pub metagraph: RwLock<metagraph::Metagraph>,
    /// Where it is re-read from.
    pub metagraph_source: metagraph::Source,
    /// The upload bucket's settings.
    pub s3: S3Config,
    /// Credentials that sign upload policies (refreshed by the AWS chain when temporary).
    pub credentials: aws_credential_types::provider::SharedCredentialsProvider,
    /// Publishes status reports.
    pub producer: rdkafka::producer::FutureProducer,
    /// The network topic.
    pub network_topic: String,
    /// The live scores projection's schema (where bans are), re-read every
    /// `metagraph_refresh_secs`; `None` before there is one.
    pub scores_schema: RwLock<Option<String>>,
    /// `/openapi.json`, made once.
    pub openapi_json: String,
    /// `/docs`, made once.
    pub docs_html: String,
    /// The id of the last snapshot recorded on the log.
    pub recorded: tokio::sync::Mutex<Option<resi_events::EventId>>,
}

impl GatewayState {
    /// Records the current snapshot on the log unless it is the one recorded last, so that
    /// every decision can be replayed against the metagraph it was made with. Retried at the
    /// next refresh when the broker is unavailable.
    pub async fn record_metagraph(&self) -> anyhow::Result<()> {
        let observed = self.metagraph.read().await.observed();
        let id = observed.event_id();
        let mut recorded = self.recorded.lock().await;
        if *recorded == Some(id) {
            return Ok(());
        }
        let now = resi_events::Timestamp::now();
        let event = resi_events::Event::new(
            resi_events::EventPayload::MetagraphObserved(Box::new(observed)),
            now,
            now,
        );
        resi_runtime::kafka::publish(&self.producer, &self.network_topic, &event).await?;
        *recorded = Some(id);
        Ok(())
    }
}

/// The gateway, bound to its port.
pub struct Gateway {
    listener: TcpListener,
    state: Arc<GatewayState>,
}

impl Gateway {
    /// Checks the configuration and the database, reads the metagraph, binds the port.
    pub async fn build(config: &GatewayServiceConfig) -> anyhow::Result<Self> {
        let settings = &config.gateway;
        let metagraph_source = match (&settings.metagraph_file, &settings.metagraph_url) {
            (Some(path), None) => metagraph::Source::File(path.clone()),
            (None, Some(url)) => {
                let (bucket, key) = metagraph::Source::parse_s3_url(url).with_context(|| {
                    format!("gateway.metagraph_url {url:?} is not s3://bucket/key")
                })?;
                metagraph::Source::S3 {
                    client: resi_runtime::s3::client(&config.s3).await,
                    bucket,
                    key,
                }
            }
            (Some(_), Some(_)) => anyhow::bail!(
                "set one of gateway.metagraph_file and gateway.metagraph_url, not both"
            ),
            (None, None) => anyhow::bail!(
                "gateway.metagraph_file or gateway.metagraph_url is required: the snapshot of registered hotkeys (README, \"Gateway\")"
            ),
        };
        let metagraph = metagraph_source.load().await?;
        // the gateway writes only replay records and rate counts: its sessions do not wait for
        // the WAL flush, which saves a request a flush wait per write; a crash may forget the
        // last few, re-allowing at worst a request of the last minutes once more
        let pool = resi_runtime::postgres::pool_with_session(
            &config.postgres,
            Some("SET synchronous_commit = off".to_owned()),
        )?;
        resi_runtime::postgres::check(&pool).await?;
        let shared = resi_runtime::s3::sdk_config(&config.s3, config.s3.endpoint.as_deref()).await;
        let credentials = shared
            .credentials_provider()
            .context("no AWS credentials to sign upload policies with")?;
        let network_topic = resi_events::Topics::new(&config.kafka.topic_prefix).network();
        resi_runtime::kafka::keyed_partition_count(&config.kafka, &pool, &network_topic).await?;
        let producer = resi_runtime::kafka::producer(&config.kafka)?;
        let scores_schema = limits::scores_schema(&pool).await?;
        let openapi_json = docs::openapi_json()?;
        let docs_html = resi_runtime::docs::html(&openapi_json)?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("failed to listen on {}", settings.listen))?;
        Ok(Self {
            listener,
            state: Arc::new(GatewayState {
                pool,
                config: settings.clone(),
                metagraph: RwLock::new(metagraph),
                metagraph_source,
                s3: config.s3.clone(),
                credentials,
                producer,
                network_topic,
                scores_schema: RwLock::new(scores_schema),
                openapi_json,
                docs_html,
                recorded: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// Where it listens (the real port when configured with port 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("listener has no address")
    }

    /// Serves until `shutdown`; re-reads the metagraph (recording each new snapshot on the log)
    /// and forgets expired limits meanwhile.
    pub async fn run(self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        if let Err(error) = self.state.record_metagraph().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "failed to record the metagraph; retrying at the next refresh"
            );
        }
        let state = Arc::clone(&self.state);
        let mut housekeeping = shutdown.clone();
        let janitor = tokio::spawn(async move {
            let every = Duration::from_secs(state.config.metagraph_refresh_secs.max(1));
            while !housekeeping.sleep(every).await {
                match state.metagraph_source.load().await {
                    Ok(fresh) => *state.metagraph.write().await = fresh,
                    Err(error) => {
                        metrics::counter!("resi_gateway_metagraph_failures_total").increment(1);
                        tracing::warn!(error = format!("{error:#}"), "keeping the last metagraph");
                    }
                }
                if let Err(error) = state.record_metagraph().await {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "failed to record the metagraph"
                    );
                }
                match limits::scores_schema(&state.pool).await {
                    Ok(schema) => *state.scores_schema.write().await = schema,
                    Err(error) => tracing::warn!(
                        error = format!("{error:#}"),
                        "keeping the last scores schema"
                    ),
                }
                if let Err(error) = limits::forget_expired(&state.pool).await {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "failed to forget expired limits"
                    );
                }
            }
        });
        tracing::info!(listen = %self.local_addr()?, "serving the gateway");
        axum::serve(
            self.listener,
            router(Arc::clone(&self.state)).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
        .context("the gateway failed")?;
        janitor.abort();
        Ok(())
    }
}

/// Counts every answer by route and status class, and times it.
async fn measure(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let class = match response.status().as_u16() {
        200..=299 => "2xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    };
    metrics::counter!("resi_gateway_requests_total", "route" => route.clone(), "status" => class)
        .increment(1);
    metrics::histogram!("resi_gateway_request_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Every route.
pub fn router(state: Arc<GatewayState>) -> Router {
    Router::new()
        .route("/healthcheck", get(routes::healthcheck))
        .route("/api/v1/zipcode-assignments/current", get(routes::current))
        .route(
            "/api/v1/zipcode-assignments/epoch/{epoch_id}",
            get(routes::epoch),
        )
        .route("/api/v1/zipcode-assignments/stats", get(routes::stats))
        .route("/api/v1/zipcode-assignments/status", post(routes::status))
        .route("/get-folder-access", post(routes::folder_access))
        .route(
            "/api/v1/s3-access/validator-upload",
            post(routes::validator_upload),
        )
        .route("/openapi.json", get(serve_openapi))
        .route("/docs", get(serve_docs))
        .layer(middleware::from_fn(measure))
        .with_state(state)
}

/// `GET /openapi.json`.
async fn serve_openapi(State(state): State<Arc<GatewayState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi_json.clone(),
    )
}

/// `GET /docs`: the document as a page, no scripts.
async fn serve_docs(State(state): State<Arc<GatewayState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        )],
        Html(state.docs_html.clone()),
    )
}

/// `resi gateway`: configuration (from `file`, then the environment), telemetry, then serving
/// until a signal.
pub async fn service_main(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (config, _telemetry) =
        resi_runtime::service::start::<GatewayServiceConfig>("resi-gateway", file, |config| {
            &config.telemetry
        })?;
    let gateway = Gateway::build(&config).await?;
    gateway.run(resi_runtime::shutdown::on_signal()).await
}
