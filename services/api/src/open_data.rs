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
    /// Where to download it: under `api.open_data_base_url` when set, else a presigned GET when
    /// `api.open_data_presign_secs` is set, else its `s3://` URL.
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

/// How download links are made: under a public base URL, presigned GETs, or `s3://` URLs.
pub enum Links {
    /// `{base}/{key}` (a CDN or the bucket's website endpoint).
    Public(String),
    /// A presigned GET of each object, with this expiry.
    Presigned(aws_sdk_s3::Client, aws_sdk_s3::presigning::PresigningConfig),
    /// `s3://{bucket}/{key}`.
    S3,
}

impl Links {
    /// The link of one object.
    pub async fn url(&self, bucket: &str, key: &str) -> String {
        match self {
            Self::Public(base) => format!("{}/{key}", base.trim_end_matches('/')),
            Self::Presigned(client, config) => {
                match client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .presigned(config.clone())
                    .await
                {
                    Ok(request) => request.uri().to_owned(),
                    // signing is local: only missing credentials fail it
                    Err(error) => {
                        tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&error), "could not presign an open-data link");
                        format!("s3://{bucket}/{key}")
                    }
                }
            }
            Self::S3 => format!("s3://{bucket}/{key}"),
        }
    }
}

async fn files(value: &serde_json::Value, links: &Links, bucket: &str) -> Vec<OpenDataFile> {
    let mut files = Vec::new();
    for file in value["files"].as_array().into_iter().flatten() {
        let (Some(key), Some(rows), Some(bytes), Some(blake3)) = (
            file["key"].as_str(),
            file["rows"].as_i64(),
            file["bytes"].as_i64(),
            file["blake3"].as_str(),
        ) else {
            continue;
        };
        files.push(OpenDataFile {
            key: key.to_owned(),
            url: links.url(bucket, key).await,
            rows,
            bytes,
            blake3: blake3.to_owned(),
        });
    }
    files
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
    let (rows, total) = db::read(&state.pool, None, async |transaction, _| {
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
        Ok((rows, total))
    })
    .await?;
    let links = &state.open_data_links;
    let mut snapshots = Vec::with_capacity(rows.len());
    for row in &rows {
        let bucket: String = row.get(3);
        let key: String = row.get(4);
        let manifest: serde_json::Value = row.get(5);
        let mut attestation_files = Vec::new();
        for day in manifest["attestations"].as_array().into_iter().flatten() {
            attestation_files.extend(files(day, links, &bucket).await);
        }
        snapshots.push(OpenDataSnapshot {
            date: row.get(0),
            written_at: row.get(1),
            listings: row.get(2),
            manifest_url: links.url(&bucket, &key).await,
            consensus_version: manifest["consensus"]["version"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            files: files(&manifest["listings"], links, &bucket).await,
            attestation_files,
        });
    }
    Ok(Json(OpenDataList { snapshots, total }))
}
