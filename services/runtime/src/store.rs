//! Where uploads live: an S3 bucket, or a local directory laid out the same way (`file:///path`).
//!
//! The bridge lists and inspects objects, the parser reads them; both go through [`Store`] so
//! the offline directory source behaves exactly like a bucket. Errors are classified once here:
//! a missing object, a permanent failure of the object itself (archived, so unreadable until an
//! operator restores it), or a transient failure of the store or this machine: throttling,
//! 5xx, connection trouble, but also expired or refused credentials, permissions and local I/O
//! (a full spool disk), which an operator fixes. A transient failure is retried, never turned
//! into a dead letter: an expired credential must not turn an hour of uploads into dead letters.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use resi_events::Timestamp;
use tokio::io::AsyncWriteExt as _;

use crate::config::S3Config;

/// Prefix of a local directory source.
pub const FILE_SCHEME: &str = "file://";

/// One object version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key (for a directory, the path relative to the root with `/` separators).
    pub key: String,
    /// Entity tag without quotes (for a directory, blake3 of the content).
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub last_modified: Timestamp,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("object not found: {0}")]
    NotFound(String),
    /// Worth retrying: throttling, a 5xx, a timeout, a broken connection, refused or expired
    /// credentials, local I/O.
    #[error("transient store failure: {0:#}")]
    Transient(anyhow::Error),
    /// A failure of the object itself that no retry mends (an archived object).
    #[error("store failure: {0:#}")]
    Permanent(anyhow::Error),
}

impl StoreError {
    /// Whether a retry may succeed.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// S3 error codes that mean "no such object".
const NOT_FOUND_CODES: [&str; 3] = ["NoSuchKey", "NotFound", "NoSuchBucket"];

fn classify<E>(what: &str, key: &str, error: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = error.code().unwrap_or_default().to_owned();
    if NOT_FOUND_CODES.contains(&code.as_str()) {
        return StoreError::NotFound(key.to_owned());
    }
    let status = error
        .raw_response()
        .map(|response| response.status().as_u16());
    // 412: the version asked for (If-Match) was replaced, so that version no longer exists
    if status == Some(404) || status == Some(412) || code == "PreconditionFailed" {
        return StoreError::NotFound(key.to_owned());
    }
    // only what the object itself is can make a failure permanent; everything else (the
    // network, the service, credentials, permissions, configuration) is fixed by waiting or by
    // an operator, and the upload must still be there afterwards
    let permanent =
        matches!(error, SdkError::ServiceError(_)) && PERMANENT_CODES.contains(&code.as_str());
    let detail = anyhow::anyhow!("{what} {key}: {}", DisplayErrorContext(&error));
    if permanent {
        StoreError::Permanent(detail)
    } else {
        StoreError::Transient(detail)
    }
}

/// S3 error codes that describe the object, not the store: an archived object cannot be read
/// until it is restored (then `resi dead-letters replay` re-drives it).
const PERMANENT_CODES: [&str; 1] = ["InvalidObjectState"];

/// A local I/O failure: this machine's fault (a full or missing spool directory), transient.
fn local_io(what: &str, error: impl Into<anyhow::Error>) -> FetchError {
    FetchError::Store(StoreError::Transient(error.into().context(what.to_owned())))
}

fn trim_etag(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

fn timestamp_of(modified: SystemTime) -> Timestamp {
    Timestamp::from_datetime(modified.into())
}

/// A readable local copy of an object: the file itself for a directory source, a spooled
/// temporary file (deleted when dropped) for S3.
#[derive(Debug)]
pub struct LocalObject {
    /// The open file.
    pub file: std::fs::File,
    /// Size in bytes.
    pub size: u64,
    _spooled: Option<tempfile::TempPath>,
}

/// Content etags of a directory's files, remembered by (path, size, mtime) so a re-listing does
/// not hash unchanged files again.
type EtagCache = Arc<Mutex<HashMap<PathBuf, (u64, SystemTime, String)>>>;

/// An upload store.
#[derive(Clone, Debug)]
pub enum Store {
    /// An S3 bucket.
    S3 {
        /// Client.
        client: aws_sdk_s3::Client,
        /// Bucket.
        bucket: String,
    },
    /// A local directory in the upload layout.
    Local {
        /// The directory.
        root: PathBuf,
        /// Content etags already computed.
        etags: EtagCache,
    },
}

impl Store {
    /// The store for `source`: `s3` (the configured bucket) or `file:///path`.
    pub async fn from_source(source: &str, s3: &S3Config) -> anyhow::Result<Self> {
        if let Some(path) = source.strip_prefix(FILE_SCHEME) {
            let root = PathBuf::from(path);
            anyhow::ensure!(
                root.is_absolute(),
                "a directory source must be absolute: file:///path, found {source}"
            );
            return Ok(Self::local(root));
        }
        anyhow::ensure!(
            source == "s3",
            "source must be `s3` or `file:///path`, found `{source}`"
        );
        Ok(Self::S3 {
            client: crate::s3::client(s3).await,
            bucket: s3.bucket.clone(),
        })
    }

    /// A directory store.
    #[must_use]
    pub fn local(root: PathBuf) -> Self {
        Self::Local {
            root,
            etags: EtagCache::default(),
        }
    }

    /// The store named by an upload event's `bucket` field: the same bucket through `client`,
    /// or a `file://` directory.
    #[must_use]
    pub fn for_bucket(bucket: &str, client: &aws_sdk_s3::Client) -> Self {
        match bucket.strip_prefix(FILE_SCHEME) {
            Some(path) => Self::local(PathBuf::from(path)),
            None => Self::S3 {
                client: client.clone(),
                bucket: bucket.to_owned(),
            },
        }
    }

    /// What upload events record as the bucket: the bucket name, or `file:///path`.
    #[must_use]
    pub fn bucket_label(&self) -> String {
        match self {
            Self::S3 { bucket, .. } => bucket.clone(),
            Self::Local { root, .. } => format!("{FILE_SCHEME}{}", root.display()),
        }
    }

    /// One page of the objects under `prefix`, and the token of the next page.
    #[tracing::instrument(skip_all, fields(store = %self.bucket_label(), prefix))]
    pub async fn list_page(
        &self,
        prefix: &str,
        continuation: Option<String>,
    ) -> Result<(Vec<ObjectInfo>, Option<String>), StoreError> {
        match self {
            Self::S3 { client, bucket } => {
                let output = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .set_continuation_token(continuation)
                    .send()
                    .await
                    .map_err(|error| classify("list", prefix, error))?;
                let objects = output
                    .contents()
                    .iter()
                    .filter_map(|object| {
                        Some(ObjectInfo {
                            key: object.key()?.to_owned(),
                            etag: trim_etag(object.e_tag().unwrap_or_default()),
                            size: object.size().and_then(|size| u64::try_from(size).ok())?,
                            last_modified: object.last_modified().map_or(Timestamp::EPOCH, |at| {
                                Timestamp::from_micros(at.secs() * 1_000_000)
                            }),
                        })
                    })
                    .collect();
                let next = output
                    .is_truncated()
                    .unwrap_or(false)
                    .then(|| output.next_continuation_token().map(str::to_owned))
                    .flatten();
                Ok((objects, next))
            }
            Self::Local { root, etags } => {
                let root = root.clone();
                let etags = Arc::clone(etags);
                let prefix = prefix.to_owned();
                tokio::task::spawn_blocking(move || list_directory(&root, &prefix, &etags))
                    .await
                    .map_err(|error| StoreError::Transient(error.into()))?
                    .map(|objects| (objects, None))
            }
        }
    }

    /// The current version of `key`, if it exists.
    #[tracing::instrument(skip_all, fields(store = %self.bucket_label(), key))]
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        match self {
            Self::S3 { client, bucket } => {
                match client.head_object().bucket(bucket).key(key).send().await {
                    Ok(output) => Ok(Some(ObjectInfo {
                        key: key.to_owned(),
                        etag: trim_etag(output.e_tag().unwrap_or_default()),
                        size: output
                            .content_length()
                            .and_then(|size| u64::try_from(size).ok())
                            .unwrap_or_default(),
                        last_modified: output.last_modified().map_or(Timestamp::EPOCH, |at| {
                            Timestamp::from_micros(at.secs() * 1_000_000)
                        }),
                    })),
                    Err(error) => match classify("head", key, error) {
                        StoreError::NotFound(_) => Ok(None),
                        other => Err(other),
                    },
                }
            }
            Self::Local { root, etags } => {
                let path = root.join(key);
                let etags = Arc::clone(etags);
                let key = key.to_owned();
                tokio::task::spawn_blocking(move || match std::fs::metadata(&path) {
                    Ok(metadata) if metadata.is_file() => {
                        local_info(&path, key, &metadata, &etags).map(Some)
                    }
                    Ok(_) => Ok(None),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(error) => Err(StoreError::Transient(error.into())),
                })
                .await
                .map_err(|error| StoreError::Transient(error.into()))?
            }
        }
    }

    /// The whole body of a small object (at most `max_bytes`), if it exists.
    #[tracing::instrument(skip_all, fields(store = %self.bucket_label(), key))]
    pub async fn get_small(
        &self,
        key: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Self::S3 { client, bucket } => {
                let output = match client.get_object().bucket(bucket).key(key).send().await {
                    Ok(output) => output,
                    Err(error) => {
                        return match classify("get", key, error) {
                            StoreError::NotFound(_) => Ok(None),
                            other => Err(other),
                        };
                    }
                };
                let size = output.content_length().unwrap_or_default();
                if u64::try_from(size).unwrap_or(u64::MAX) > max_bytes {
                    return Err(StoreError::Permanent(anyhow::anyhow!(
                        "{key} has {size} bytes, more than the {max_bytes} allowed"
                    )));
                }
                let body = output.body.collect().await.map_err(|error| {
                    StoreError::Transient(anyhow::anyhow!("reading {key}: {error}"))
                })?;
                Ok(Some(body.into_bytes().to_vec()))
            }
            Self::Local { root, .. } => {
                let path = root.join(key);
                match tokio::fs::read(&path).await {
                    Ok(bytes) if bytes.len() as u64 <= max_bytes => Ok(Some(bytes)),
                    Ok(bytes) => Err(StoreError::Permanent(anyhow::anyhow!(
                        "{key} has {} bytes, more than the {max_bytes} allowed",
                        bytes.len()
                    ))),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(error) => Err(StoreError::Transient(error.into())),
                }
            }
        }
    }

    /// A local, readable copy of `key`. An S3 object is streamed into a temporary file under
    /// `spool_dir` chunk by chunk, so memory does not grow with the object; a directory's file is
    /// opened in place. Objects over `max_bytes` are refused before their body is read. With
    /// `etag`, an S3 object that has since been replaced by another version counts as missing:
    /// the new version is an upload of its own.
    #[tracing::instrument(skip_all, fields(store = %self.bucket_label(), key, bytes))]
    pub async fn fetch(
        &self,
        key: &str,
        etag: Option<&str>,
        spool_dir: &Path,
        max_bytes: u64,
    ) -> Result<LocalObject, FetchError> {
        match self {
            Self::S3 { client, bucket } => {
                let mut output = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .set_if_match(etag.map(|etag| format!("\"{etag}\"")))
                    .send()
                    .await
                    .map_err(|error| FetchError::Store(classify("get", key, error)))?;
                let size = output
                    .content_length()
                    .and_then(|size| u64::try_from(size).ok())
                    .unwrap_or_default();
                if size > max_bytes {
                    return Err(FetchError::TooLarge { size, max_bytes });
                }
                let spooled = tempfile::Builder::new()
                    .prefix("resi-upload-")
                    .suffix(".parquet")
                    .tempfile_in(spool_dir)
                    .map_err(|error| {
                        local_io(
                            &format!("failed to create a spool file in {}", spool_dir.display()),
                            error,
                        )
                    })?;
                let (file, path) = spooled.into_parts();
                let mut writer = tokio::fs::File::from_std(file);
                let mut written = 0_u64;
                while let Some(chunk) = output.body.try_next().await.map_err(|error| {
                    FetchError::Store(StoreError::Transient(anyhow::anyhow!(
                        "reading {key} after {written} bytes: {error}"
                    )))
                })? {
                    written += chunk.len() as u64;
                    writer
                        .write_all(&chunk)
                        .await
                        .map_err(|error| local_io("failed to write the spool file", error))?;
                }
                writer
                    .flush()
                    .await
                    .map_err(|error| local_io("failed to write the spool file", error))?;
                tracing::Span::current().record("bytes", written);
                let file = writer.into_std().await;
                Ok(LocalObject {
                    file,
                    size: written,
                    _spooled: Some(path),
                })
            }
            Self::Local { root, .. } => {
                let path = root.join(key);
                let file = match std::fs::File::open(&path) {
                    Ok(file) => file,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        return Err(FetchError::Store(StoreError::NotFound(key.to_owned())));
                    }
                    Err(error) => return Err(local_io("failed to open the file", error)),
                };
                let size = file
                    .metadata()
                    .map_err(|error| local_io("failed to read the file's size", error))?
                    .len();
                if size > max_bytes {
                    return Err(FetchError::TooLarge { size, max_bytes });
                }
                Ok(LocalObject {
                    file,
                    size,
                    _spooled: None,
                })
            }
        }
    }
}

/// Why an object could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Over the size limit.
    #[error("object has {size} bytes, more than the limit of {max_bytes}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max_bytes: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn list_directory(
    root: &Path,
    prefix: &str,
    etags: &Mutex<HashMap<PathBuf, (u64, SystemTime, String)>>,
) -> Result<Vec<ObjectInfo>, StoreError> {
    let mut objects = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let entries = match std::fs::read_dir(&directory) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(StoreError::Transient(error.into())),
        };
        for entry in entries {
            let entry = entry.map_err(|error| StoreError::Transient(error.into()))?;
            let path = entry.path();
            let metadata = entry
                .metadata()
                .map_err(|error| StoreError::Transient(error.into()))?;
            if metadata.is_dir() {
                pending.push(path);
                continue;
            }
            let Some(key) = path
                .strip_prefix(root)
                .ok()
                .and_then(|relative| relative.to_str())
                .map(|relative| relative.replace(std::path::MAIN_SEPARATOR, "/"))
            else {
                continue;
            };
            if metadata.is_file() && key.starts_with(prefix) {
                objects.push(local_info(&path, key, &metadata, etags)?);
            }
        }
    }
    objects.sort_by(|left, right| left.key.cmp(&right.key));
    Ok(objects)
}

fn local_info(
    path: &Path,
    key: String,
    metadata: &std::fs::Metadata,
    etags: &Mutex<HashMap<PathBuf, (u64, SystemTime, String)>>,
) -> Result<ObjectInfo, StoreError> {
    let modified = metadata
        .modified()
        .map_err(|error| StoreError::Transient(error.into()))?;
    let size = metadata.len();
    let cached = etags
        .lock()
        .ok()
        .and_then(|cache| cache.get(path).cloned())
        .filter(|(cached_size, cached_modified, _)| {
            *cached_size == size && *cached_modified == modified
        });
    let etag = match cached {
        Some((_, _, etag)) => etag,
        None => {
            let etag = hash_file(path).map_err(|error| StoreError::Transient(error.into()))?;
            if let Ok(mut cache) = etags.lock() {
                cache.insert(path.to_path_buf(), (size, modified, etag.clone()));
            }
            etag
        }
    };
    Ok(ObjectInfo {
        key,
        etag,
        size,
        last_modified: timestamp_of(modified),
    })
}

/// blake3 of a file's content, streamed.
fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0_u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_lists_like_a_bucket_with_content_etags() -> anyhow::Result<()> {
        let root = tempfile::tempdir()?;
        let folder = root.path().join("data/hotkey=5A/job_id=j");
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join("data_20250917_153000_1.parquet"), b"one")?;
        std::fs::write(root.path().join("outside.txt"), b"two")?;
        let store = Store::local(root.path().to_path_buf());

        let (objects, next) = store.list_page("data/", None).await?;

        assert_eq!(next, None);
        assert_eq!(objects.len(), 1, "{objects:?}");
        assert_eq!(
            objects[0].key,
            "data/hotkey=5A/job_id=j/data_20250917_153000_1.parquet"
        );
        assert_eq!(objects[0].etag, blake3::hash(b"one").to_hex().to_string());
        assert_eq!(objects[0].size, 3);
        let head = store.head(&objects[0].key).await?;
        assert_eq!(head.as_ref(), Some(&objects[0]));
        assert_eq!(store.head("data/none").await?, None);
        assert_eq!(store.get_small("data/none", 10).await?, None);
        assert!(matches!(
            store.fetch(&objects[0].key, None, root.path(), 2).await,
            Err(FetchError::TooLarge { size: 3, .. })
        ));
        assert!(matches!(
            store.fetch("data/none", None, root.path(), 2).await,
            Err(FetchError::Store(StoreError::NotFound(_)))
        ));
        Ok(())
    }

    #[tokio::test]
    async fn sources_are_s3_or_absolute_directories() {
        let s3 = S3Config::default();
        assert!(
            Store::from_source("file://relative/path", &s3)
                .await
                .is_err()
        );
        assert!(Store::from_source("gcs", &s3).await.is_err());
        let store = Store::from_source("file:///srv/uploads", &s3)
            .await
            .expect("directory");
        assert_eq!(store.bucket_label(), "file:///srv/uploads");
    }
}
