//! The read-only HTTP API over the projections (axum).
//!
//! Every request reads in one read-only, repeatable-read transaction, as the SELECT-only role
//! `resi_api`, after resolving the live versions (or the requested consensus version) in that
//! same snapshot: a promotion never shows a mix of two versions. See the README for the
//! endpoints; `/openapi.json` and `/docs` describe them from the code.

pub mod anomalies;
pub mod config;
pub mod consensus;
pub mod db;
pub mod docs;
pub mod epochs;
pub mod error;
pub mod limit;
pub mod listings;
pub mod metrics;
pub mod miners;
pub mod model;
pub mod open_data;
pub mod ops;
pub mod page;
pub mod params;
pub mod plans;
pub mod quality;
pub mod state;
pub mod tiles;
pub mod validation;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use resi_runtime::shutdown::Shutdown;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use config::{ApiConfig, ApiServiceConfig};
use error::ApiError;
use state::AppState;

/// Largest request body accepted: the API takes none.
const MAX_BODY_BYTES: usize = 1_024;

/// The API, bound to its port and ready to serve.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: Arc<AppState>,
}

impl App {
    /// Validates the configuration, builds the pool (connections switch to the read-only role),
    /// checks the database and binds the listener.
    pub async fn build(config: &ApiServiceConfig) -> anyhow::Result<Self> {
        config.api.validate()?;
        let session = format!(
            "SET ROLE {role}; SET default_transaction_read_only = on",
            role = resi_projector::versions::READER_ROLE
        );
        let pool = resi_runtime::postgres::pool_with_session(&config.postgres, Some(session))?;
        resi_runtime::postgres::check(&pool).await.context(
            "the API could not read the database as its read-only role (have the migrations run?)",
        )?;
        let openapi_json = docs::openapi_json()?;
        let docs_html = docs::html(&openapi_json)?;
        let open_data_links = match (
            &config.api.open_data_base_url,
            config.api.open_data_presign_secs,
        ) {
            (Some(base), _) => open_data::Links::Public(base.clone()),
            (None, 0) => open_data::Links::S3,
            (None, secs) => open_data::Links::Presigned(
                resi_runtime::s3::client(&config.s3).await,
                aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(secs))
                    .context("api.open_data_presign_secs is not a presigning expiry")?,
            ),
        };
        let state = Arc::new(AppState {
            open_data_links,
            pool,
            config: config.api.clone(),
            kafka: config.kafka.clone(),
            limits: limit::RateLimits::new(&config.api)?,
            readiness: Mutex::new(None),
            stats: Mutex::new(HashMap::new()),
            quality: Mutex::new(HashMap::new()),
            exported_miners: Mutex::new(std::collections::BTreeSet::new()),
            tiles: Mutex::new(HashMap::new()),
            metrics: resi_runtime::metrics::handle()?,
            openapi_json,
            docs_html,
        });
        let listener = TcpListener::bind(config.api.listen)
            .await
            .with_context(|| format!("failed to listen on {}", config.api.listen))?;
        Ok(Self {
            listener,
            router: router(Arc::clone(&state)),
            state,
        })
    }

    /// Where it listens (the real port when configured with port 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("listener has no address")
    }

    /// Serves until `shutdown`, then stops accepting and finishes the requests in flight.
    pub async fn run_until_stopped(self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let state = Arc::clone(&self.state);
        let mut janitor_shutdown = shutdown.clone();
        let janitor = tokio::spawn(async move {
            let interval = Duration::from_secs(state.config.quality_interval_secs.max(1));
            let mut last_quality: Option<std::time::Instant> = None;
            loop {
                if last_quality.is_none_or(|at| at.elapsed() >= interval) {
                    quality::refresh(&state).await;
                    last_quality = Some(std::time::Instant::now());
                }
                if janitor_shutdown
                    .sleep(Duration::from_secs(60).min(interval))
                    .await
                {
                    break;
                }
                state.limits.forget_idle();
            }
        });
        tracing::info!(listen = %self.local_addr()?, "serving the api");
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
        .context("the api server failed")?;
        janitor.abort();
        Ok(())
    }
}

/// Every route with its layers.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/listings", get(listings::by_bbox))
        .route("/api/listings/{zip}", get(listings::by_zip))
        .route("/api/listing/{zpid}", get(listings::detail))
        .route("/api/listing/{zpid}/consensus", get(consensus::consensus))
        .route("/api/listing/{zpid}/history", get(consensus::history))
        .route("/api/miners", get(miners::leaderboard))
        .route("/api/miners/{hotkey}/stats", get(miners::stats))
        .route("/api/miners/{hotkey}/epochs", get(epochs::miner))
        .route("/api/epochs", get(epochs::list))
        .route("/api/epochs/{epoch_id}", get(epochs::detail))
        .route("/api/epochs/{epoch_id}/scores", get(epochs::scores))
        .route("/api/epochs/{epoch_id}/rankings", get(epochs::rankings))
        .route("/api/epochs/{epoch_id}/weights", get(epochs::weights))
        .route(
            "/api/epochs/{epoch_id}/validation",
            get(validation::validation),
        )
        .route(
            "/api/epochs/{epoch_id}/spot-checks",
            get(validation::spot_checks),
        )
        .route("/api/stats", get(ops::stats))
        .route("/api/open-data", get(open_data::list))
        .route("/api/quality", get(quality::quality))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            limit::middleware,
        ));
    let cors = if state.config.cors_origins.is_empty() {
        CorsLayer::new().allow_origin(AllowOrigin::any())
    } else {
        CorsLayer::new().allow_origin(AllowOrigin::list(
            state
                .config
                .cors_origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ))
    }
    .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
    .allow_headers([header::AUTHORIZATION, HeaderName::from_static("x-api-key")])
    .expose_headers([
        header::RETRY_AFTER,
        HeaderName::from_static("x-ratelimit-limit"),
        HeaderName::from_static("x-ratelimit-remaining"),
    ]);
    let mut router = Router::new()
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(serve_metrics))
        .route("/openapi.json", get(serve_openapi))
        .route("/docs", get(serve_docs))
        .route("/", get(page::index))
        .route("/assets/{name}", get(page::asset))
        .route("/tiles/{z}/{x}/{file}", get(tiles::tile))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), timeout))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), measure))
        .layer(CompressionLayer::new())
        .layer(cors)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    for (name, value) in SECURITY_HEADERS {
        let value = HeaderValue::from_static(value);
        // the map page states its own, wider policy; every other answer gets the strict one
        router = router.layer(if name == header::CONTENT_SECURITY_POLICY {
            SetResponseHeaderLayer::if_not_present(name, value)
        } else {
            SetResponseHeaderLayer::overriding(name, value)
        });
    }
    router.layer(TraceLayer::new_for_http()).with_state(state)
}

/// Headers every answer carries.
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    ),
    (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
];

/// Refuses over-long URIs, and answers 503 `timeout` when a request outlives
/// `api.request_timeout_ms` (its database work is abandoned with it).
async fn timeout(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |path_and_query| path_and_query.as_str().len());
    if uri_bytes > state.config.max_uri_bytes {
        metrics::rejected("uri_too_long");
        return ApiError::UriTooLong(state.config.max_uri_bytes).into_response();
    }
    let limit = Duration::from_millis(state.config.request_timeout_ms);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::rejected("timeout");
            ApiError::Timeout(limit).into_response()
        }
    }
}

/// Counts and times every request by route template, method and status.
async fn measure(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    metrics::request(
        &route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

async fn serve_metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

async fn serve_openapi(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi_json.clone(),
    )
}

async fn serve_docs(State(state): State<Arc<AppState>>) -> Html<String> {
    Html(state.docs_html.clone())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint (see /docs)".to_owned())
}

async fn method_not_allowed() -> Response {
    let mut response = ApiError::NotFound(String::new()).into_response();
    *response.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    *response.body_mut() = axum::body::Body::from(
        r#"{"error":{"code":"method_not_allowed","message":"the API is read-only: use GET"}}"#,
    );
    response
}

/// `resi api`: configuration (from `file`, then the environment), telemetry, then serving until
/// a signal.
pub async fn service_main(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let config: ApiServiceConfig = resi_runtime::config::load(file)?;
    anyhow::ensure!(
        config.telemetry.metrics_listen.is_none(),
        "telemetry.metrics_listen is not used by resi-api: its /metrics is served on api.listen"
    );
    let _telemetry = resi_runtime::telemetry::init("resi-api", &config.telemetry)?;
    let app = App::build(&config).await?;
    app.run_until_stopped(resi_runtime::shutdown::on_signal())
        .await
}
