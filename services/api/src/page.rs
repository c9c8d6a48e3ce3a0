//! The map page at `/` and its assets, embedded in the binary (nothing fetched from elsewhere):
//! MapLibre GL (CSP build) and the US state borders, copied from npm by `web/build.mjs`, and
//! the page's own HTML, script and style.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The page's policy: its own scripts, worker, styles and the API; nothing else.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; worker-src 'self'; \
    connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
    frame-ancestors 'none'";

/// (name, content type, bytes) of every asset.
const ASSETS: [(&str, &str, &[u8]); 7] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "maplibre-gl-csp.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/maplibre-gl-csp.js"),
    ),
    (
        "maplibre-gl-csp-worker.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/maplibre-gl-csp-worker.js"),
    ),
    (
        "maplibre-gl.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/maplibre-gl.css"),
    ),
    (
        "us-borders.geojson",
        "application/geo+json",
        include_bytes!("../assets/us-borders.geojson"),
    ),
    (
        "us-counties.geojson",
        "application/geo+json",
        include_bytes!("../assets/us-counties.geojson"),
    ),
];

fn answer(content_type: &'static str, cache: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the map page.
pub async fn index() -> Response {
    answer(
        "text/html; charset=utf-8",
        "no-cache",
        include_bytes!("../assets/index.html"),
    )
}

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(each, _, _)| *each == name)
        .map(|(_, content_type, body)| answer(content_type, "public, max-age=3600", body))
        .ok_or_else(|| ApiError::NotFound(format!("no asset {name:?}")))
}
