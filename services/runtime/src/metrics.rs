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

/// The process's Prometheus recorder, installed on first use, for a service that serves
/// `/metrics` on its own HTTP router (the API) instead of the exporter's listener. Every caller
/// gets the same handle, so several in-process instances (tests) share one recorder.
pub fn handle() -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .context("invalid histogram buckets")?
        .build_recorder();
    let handle = recorder.handle();
    if HANDLE.set(handle.clone()).is_ok() {
        // first caller: this recorder becomes the global one (unless another recorder was
        // installed by other means, in which case its metrics are not served here)
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "a metrics recorder was already installed; /metrics serves only its own"
            );
        }
        return Ok(handle);
    }
    HANDLE.get().cloned().context("metrics recorder vanished")
}

/// Records how long one Postgres call took: `resi_postgres_seconds{step}`, one histogram name
/// for every service (Prometheus adds the service as the target's labels); `step` names the
/// call, e.g. `parser.decide` or the API's statement name.
pub fn postgres(step: &'static str, elapsed: std::time::Duration) {
    metrics::histogram!("resi_postgres_seconds", "step" => step).record(elapsed.as_secs_f64());
}
