//! Where generated objects go: a local directory or an S3 bucket.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, bail};
use aws_sdk_s3::error::DisplayErrorContext;
use tokio::task::JoinSet;

/// Uploads in flight at once; S3-compatible test servers answer each PUT slowly.
const CONCURRENT_UPLOADS: usize = 8;

/// The destination of generated objects.
#[derive(Debug)]
pub enum Sink {
    /// Files under a directory, the key as relative path.
    Local {
        /// The directory.
        root: PathBuf,
    },
    /// Objects in a bucket, uploaded a few at a time.
    S3 {
        /// Client.
        client: aws_sdk_s3::Client,
        /// Bucket.
        bucket: String,
        /// Uploads in flight.
        in_flight: JoinSet<anyhow::Result<()>>,
    },
}

impl Sink {
    /// A sink writing into `bucket`.
    #[must_use]
    pub fn s3(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self::S3 {
            client,
            bucket: bucket.into(),
            in_flight: JoinSet::new(),
        }
    }

    /// Writes one object (for S3, starts its upload; [`Sink::finish`] waits for all).
    pub async fn put(&mut self, key: &str, body: Vec<u8>) -> anyhow::Result<()> {
        match self {
            Self::Local { root } => write_local(root, key, body).await,
            Self::S3 {
                client,
                bucket,
                in_flight,
            } => {
                while in_flight.len() >= CONCURRENT_UPLOADS {
                    join_one(in_flight).await?;
                }
                in_flight.spawn(put_object(
                    client.clone(),
                    bucket.clone(),
                    key.to_owned(),
                    body,
                ));
                Ok(())
            }
        }
    }

    /// Waits until every object is written.
    pub async fn finish(&mut self) -> anyhow::Result<()> {
        if let Self::S3 { in_flight, .. } = self {
            while !in_flight.is_empty() {
                join_one(in_flight).await?;
            }
        }
        Ok(())
    }
}

async fn join_one(in_flight: &mut JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
    match in_flight.join_next().await {
        Some(joined) => joined.context("an upload task panicked")?,
        None => Ok(()),
    }
}

#[tracing::instrument(skip_all, fields(key = %key, bytes = body.len()))]
async fn write_local(root: &Path, key: &str, body: Vec<u8>) -> anyhow::Result<()> {
    if Path::new(key)
        .components()
        .any(|part| !matches!(part, Component::Normal(_)))
    {
        bail!("key {key:?} must be a plain relative path");
    }
    let path = root.join(key);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    tokio::fs::write(&path, body)
        .await
        .with_context(|| format!("failed to write {}", path.display()))
}

#[tracing::instrument(skip_all, fields(bucket = %bucket, key = %key, bytes = body.len()))]
async fn put_object(
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    body: Vec<u8>,
) -> anyhow::Result<()> {
    client
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(body.into())
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "failed to put s3://{bucket}/{key}: {}",
                DisplayErrorContext(error)
            )
        })?;
    Ok(())
}
