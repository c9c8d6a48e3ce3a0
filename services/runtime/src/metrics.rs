//! The Prometheus endpoint every service exposes.
//!
//! Services record with the `metrics` macros at the call site (each service documents its
//! metric names in its own `metrics` module); this installs the recorder and serves
//! `GET /metrics` in the Prometheus text format on `telemetry.metrics_listen`.

use std::net::SocketAddr;

use anyhow::Context as _;
use metrics_exporter_prometheus::PrometheusBuilder;

/// Latency buckets in seconds, from 1 ms to about 2 minutes.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0,
];

/// Installs the global recorder and serves `/metrics` on `listen`. Call once, inside the runtime.
pub fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .set_buckets(&LATENCY_BUCKETS)
        .context("invalid histogram buckets")?
        .install()
        .with_context(|| format!("failed to serve metrics on {listen}"))?;
    tracing::info!(%listen, "serving prometheus metrics");
    Ok(())
}
