//! Faults of the real stack, injected between a service and it: a proxy in front of the S3 API
//! that passes every request through to it, except object reads while it is told to refuse
//! them, which it answers as S3 does when credentials expire or access is denied.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// The refusals the proxy answers with, in turn: (status, S3 error code).
const REFUSALS: [(u16, &str); 2] = [(403, "AccessDenied"), (400, "ExpiredToken")];

struct Shared {
    upstream: String,
    client: reqwest::Client,
    refusing: AtomicBool,
    refused: AtomicU64,
}

/// A proxy in front of an S3 endpoint.
pub struct FaultyS3 {
    /// Its address, to use as a service's `s3.endpoint`.
    pub endpoint: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultyS3 {
    /// Starts a proxy in front of `upstream` (e.g. `http://127.0.0.1:5000`), passing everything.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            refusing: AtomicBool::new(false),
            refused: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("failed to bind the proxy")?;
        let address = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            endpoint: format!("http://{address}"),
            shared,
            task,
        })
    }

    /// Whether object reads are refused from now on.
    pub fn refuse(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Object reads refused so far.
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    // an object read: GET of a key (path style: /{bucket}/{key})
    let reads_object = parts.method == Method::GET && path.trim_start_matches('/').contains('/');
    if reads_object && shared.refusing.load(Ordering::SeqCst) {
        let count = shared.refused.fetch_add(1, Ordering::SeqCst);
        let (status, code) = REFUSALS[usize::try_from(count).unwrap_or(0) % REFUSALS.len()];
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>refused by the test's proxy</Message><RequestId>proxy</RequestId></Error>"
        );
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
            [("content-type", "application/xml")],
            body,
        )
            .into_response();
    }
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            headers.insert(name.clone(), value.clone());
        }
    }
    let upstream = shared
        .client
        .request(parts.method, format!("{}{path}", shared.upstream))
        .headers(headers)
        .body(bytes)
        .send()
        .await;
    let Ok(answer) = upstream else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "transfer-encoding" && name != "content-length" {
            response = response.header(name, value);
        }
    }
    let body = answer.bytes().await.unwrap_or_default();
    response
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
