//! `GET /api/open-data`: the open-data snapshots `resi export snapshot` wrote, newest first,
//! with their manifests and a link to every file.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::ApiResult;
use crate::params::Params;
use crate::state::AppState;

/// One file of a snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenDataFile {
    /// Its key in the bucket.
    pub key: String,
    /// Where to download it: under `api.open_data_base_url` when set, else its `s3://` URL.
    pub url: String,
    /// Rows it holds.
    pub rows: i64,
    /// Its size in bytes.
    pub bytes: i64,
    /// blake3 of its bytes, hex.
    pub blake3: String,
}

/// One snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenDataSnapshot {
    /// Its date.
    pub date: NaiveDate,
    /// When it was written.
    pub written_at: DateTime<Utc>,
    /// Listings in it.
    pub listings: i64,
    /// Its manifest.
    pub manifest_url: String,
    /// The consensus version it holds.
    pub consensus_version: String,
    /// The listing files (`state=ST/part-NNNNN.parquet`, sorted by zip code).
    pub files: Vec<OpenDataFile>,
    /// The attestation files this run wrote (`date=YYYY-MM-DD/…`), day by day.
    pub attestation_files: Vec<OpenDataFile>,
}

/// `GET /api/open-data`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenDataList {
    /// Snapshots, newest first.
    pub snapshots: Vec<OpenDataSnapshot>,
    /// Snapshots in all.
    pub total: i64,
}

/// The statement listing snapshots (`$1` limit, `$2` offset).
#[must_use]
pub fn snapshots_sql() -> String {
    "SELECT day, written_at, rows, bucket, key, manifest FROM open_data_exports
      WHERE kind = 'snapshot' ORDER BY day DESC LIMIT $1 OFFSET $2"
        .to_owned()
}

fn url(base: Option<&str>, bucket: &str, key: &str) -> String {
    match base {
        Some(base) => format!("{}/{key}", base.trim_end_matches('/')),
        None => format!("s3://{bucket}/{key}"),
    }
}

fn files(value: &serde_json::Value, base: Option<&str>, bucket: &str) -> Vec<OpenDataFile> {
    value["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|file| {
            let key = file["key"].as_str()?;
            Some(OpenDataFile {
                key: key.to_owned(),
                url: url(base, bucket, key),
                rows: file["rows"].as_i64()?,
                bytes: file["bytes"].as_i64()?,
                blake3: file["blake3"].as_str()?.to_owned(),
            })
        })
        .collect()
}

/// `GET /api/open-data`: the snapshots, newest first.
#[utoipa::path(
    get,
    path = "/api/open-data",
    tag = "open data",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Snapshots per page (default 30)"),
        ("offset" = Option<i64>, Query, minimum = 0, maximum = 100000, description = "Snapshots to skip"),
    ),
    responses(
        (status = 200, description = "The snapshots", body = OpenDataList),
        (status = 400, description = "A bad parameter", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<OpenDataList>> {
    let mut params = Params::parse(query.as_deref())?;
    let limit = params.integer("limit", 1, 100)?.unwrap_or(30);
    let offset = params.integer("offset", 0, 100_000)?.unwrap_or(0);
    params.finish()?;
    let base = state.config.open_data_base_url.clone();
    let answer = db::read(&state.pool, None, async |transaction, _| {
        let rows = db::query(
            transaction,
            "open_data.snapshots",
            &snapshots_sql(),
            &[&limit, &offset],
        )
        .await?;
        let total: i64 = db::query_one(
            transaction,
            "open_data.count",
            "SELECT count(*) FROM open_data_exports WHERE kind = 'snapshot'",
            &[],
        )
        .await?
        .get(0);
        let snapshots = rows
            .iter()
            .map(|row| {
                let bucket: String = row.get(3);
                let key: String = row.get(4);
                let manifest: serde_json::Value = row.get(5);
                let base = base.as_deref();
                OpenDataSnapshot {
                    date: row.get(0),
                    written_at: row.get(1),
                    listings: row.get(2),
                    manifest_url: url(base, &bucket, &key),
                    consensus_version: manifest["consensus"]["version"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    files: files(&manifest["listings"], base, &bucket),
                    attestation_files: manifest["attestations"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|day| files(day, base, &bucket))
                        .collect(),
                }
            })
            .collect();
        Ok(OpenDataList { snapshots, total })
    })
    .await?;
    Ok(Json(answer))
}
