//! Faults of the real stack, injected between a service and it: a proxy in front of the S3 and
//! SQS API that passes every request through to it, except object reads while it is told to
//! refuse them (answered as S3 does when credentials expire or access is denied) and SQS
//! deletes while it is told to hold them (never answered, as when the caller dies first); and a
//! TCP proxy whose outage is what a restart of the server behind it does to its clients.

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
    holding_deletes: AtomicBool,
    held_deletes: AtomicU64,
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
            holding_deletes: AtomicBool::new(false),
            held_deletes: AtomicU64::new(0),
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

    /// Whether SQS message deletes are held from now on: received, never forwarded nor
    /// answered, so the caller waits on them until it dies.
    pub fn hold_deletes(&self, holding: bool) {
        self.shared.holding_deletes.store(holding, Ordering::SeqCst);
    }

    /// SQS deletes held so far.
    #[must_use]
    pub fn held_deletes(&self) -> u64 {
        self.shared.held_deletes.load(Ordering::SeqCst)
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
    // SQS's JSON protocol names the action in a header
    let deletes = parts
        .headers
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .is_some_and(|target| target.starts_with("AmazonSQS.DeleteMessage"));
    if deletes && shared.holding_deletes.load(Ordering::SeqCst) {
        shared.held_deletes.fetch_add(1, Ordering::SeqCst);
        return std::future::pending().await;
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

/// A TCP proxy in front of a server (Postgres, the broker), whose [`TcpFault::outage`] does to
/// the clients what a restart of the server does: every open connection is cut mid-stream
/// (whatever statement or commit it carried), and new connections are refused until the
/// server is back.
pub struct TcpFault {
    /// Its address, to use in place of the server's.
    pub address: SocketAddr,
    upstream: SocketAddr,
    served: Arc<std::sync::Mutex<Option<Served>>>,
    outages: AtomicU64,
    accepted: Arc<AtomicU64>,
    cut: Arc<AtomicU64>,
}

/// The listener's task and the connections it forwards.
struct Served {
    accept: tokio::task::JoinHandle<()>,
    connections: Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>,
}

impl TcpFault {
    /// Starts a proxy in front of `upstream` (`host:port`), passing everything.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let upstream = tokio::net::lookup_host(upstream)
            .await?
            .next()
            .with_context(|| format!("{upstream} does not resolve"))?;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("failed to bind the proxy")?;
        let address = listener.local_addr()?;
        let proxy = Self {
            address,
            upstream,
            served: Arc::new(std::sync::Mutex::new(None)),
            outages: AtomicU64::new(0),
            accepted: Arc::new(AtomicU64::new(0)),
            cut: Arc::new(AtomicU64::new(0)),
        };
        proxy.serve(listener);
        Ok(proxy)
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let connections = Arc::new(std::sync::Mutex::new(tokio::task::JoinSet::new()));
        let upstream = self.upstream;
        let accepted = Arc::clone(&self.accepted);
        let accept = tokio::spawn({
            let connections = Arc::clone(&connections);
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut connections) = connections.lock() else {
                        return;
                    };
                    connections.spawn(async move {
                        if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        if let Ok(mut served) = self.served.lock() {
            *served = Some(Served {
                accept,
                connections,
            });
        }
    }

    /// `url` (`scheme://user@host:port/path`) with the proxy's address for its host and port.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let (user, rest) = rest
            .rsplit_once('@')
            .map_or(("", rest), |(user, rest)| (user, rest));
        let path = rest.find('/').map_or("", |at| &rest[at..]);
        let at = if user.is_empty() { "" } else { "@" };
        format!("{scheme}://{user}{at}{}{path}", self.address)
    }

    /// Cuts every connection and refuses new ones for `down`, then serves again on the same
    /// address.
    pub async fn outage(&self, down: std::time::Duration) -> anyhow::Result<()> {
        let served = self.served.lock().ok().and_then(|mut served| served.take());
        if let Some(served) = served {
            served.accept.abort();
            let _ = served.accept.await;
            if let Ok(mut connections) = served.connections.lock() {
                // those still open are cut
                while connections.try_join_next().is_some() {}
                self.cut
                    .fetch_add(connections.len() as u64, Ordering::SeqCst);
                connections.abort_all();
            }
        }
        self.outages.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(down).await;
        // the port was closed a moment ago: bind again until the system lets it go
        let listener = crate::eventually(
            std::time::Duration::from_secs(10),
            "the proxy's port to be free again",
            || async { Ok(tokio::net::TcpListener::bind(self.address).await.ok()) },
        )
        .await?;
        self.serve(listener);
        Ok(())
    }

    /// Outages so far.
    #[must_use]
    pub fn outages(&self) -> u64 {
        self.outages.load(Ordering::SeqCst)
    }

    /// Connections the proxy accepted so far.
    #[must_use]
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Open connections the outages cut so far.
    #[must_use]
    pub fn cut(&self) -> u64 {
        self.cut.load(Ordering::SeqCst)
    }
}

impl Drop for TcpFault {
    fn drop(&mut self) {
        if let Ok(mut served) = self.served.lock()
            && let Some(served) = served.take()
        {
            served.accept.abort();
            if let Ok(mut connections) = served.connections.lock() {
                connections.abort_all();
            }
        }
    }
}
