//! The API on port 0, in-process, and a client for it.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use resi_api::{ApiServiceConfig, App};
use resi_runtime::config::{KafkaConfig, PostgresConfig};
use resi_runtime::shutdown::{Shutdown, ShutdownTrigger};
use serde_json::Value;

/// API settings over a database and broker: port 0, answers never reused from a cache.
#[must_use]
pub fn config(postgres: &PostgresConfig, kafka: &KafkaConfig) -> ApiServiceConfig {
    let mut config = ApiServiceConfig {
        postgres: postgres.clone(),
        kafka: kafka.clone(),
        ..ApiServiceConfig::default()
    };
    config.api.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.api.lag_cache_ms = 0;
    config.api.stats_cache_ms = 0;
    config
}

/// A running API and a client for it.
pub struct TestApi {
    /// Where it listens.
    pub address: SocketAddr,
    /// A client for it.
    pub client: reqwest::Client,
    stop: ShutdownTrigger,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// An answer: status, headers and the body as JSON (Null when it is not JSON).
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON (Null when it is not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The error message of an error answer.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

/// Starts the API with `config`.
pub async fn spawn_api(config: &ApiServiceConfig) -> anyhow::Result<TestApi> {
    let app = App::build(config).await?;
    let address = app.local_addr()?;
    let (stop, shutdown) = Shutdown::new();
    let task = tokio::spawn(app.run_until_stopped(shutdown));
    Ok(TestApi {
        address,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        stop,
        task,
    })
}

impl TestApi {
    /// GET `path` (with its query).
    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.get_with(path, &[]).await
    }

    /// Sends GET `path` with extra headers.
    async fn send(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.client.get(format!("http://{}{path}", self.address));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Ok(request.send().await?)
    }

    /// GET `path` with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Answer> {
        let response = self.send(path, headers).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
            text,
        })
    }

    /// GET `path` with extra headers, the body as bytes (tiles and other binary answers).
    pub async fn bytes_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(StatusCode, HeaderMap, Vec<u8>)> {
        let response = self.send(path, headers).await?;
        let status = response.status();
        let headers = response.headers().clone();
        Ok((status, headers, response.bytes().await?.to_vec()))
    }

    /// GET `path`, expecting 200.
    pub async fn ok(&self, path: &str) -> anyhow::Result<Value> {
        let answer = self.get(path).await?;
        anyhow::ensure!(
            answer.status == StatusCode::OK,
            "GET {path}: {} {}",
            answer.status,
            answer.text
        );
        Ok(answer.body)
    }

    /// Tells the API to stop (it stops accepting, then finishes what is in flight).
    pub fn begin_stop(&self) {
        self.stop.trigger();
    }

    /// Stops the API gracefully and surfaces its error.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.trigger();
        self.task.await?
    }
}
