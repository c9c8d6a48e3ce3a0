//! The bridge service: turns objects in the upload store into upload events.
//!
//! Two paths find objects and both end in [`Bridge::handle`]:
//! * **notifications** — S3 `ObjectCreated` events from SQS. A message is deleted only after the
//!   broker acknowledged every event it led to; its visibility is extended while it is worked on;
//!   a message that is no notification at all is dead-lettered with its body, then deleted.
//! * **reconciliation** — listing the prefix on start and every `reconcile_interval_secs`, which
//!   finds what notifications missed (lost, late, or switched off) and is the only path of the
//!   directory source.
//!
//! Each object version (bucket, key, etag) is published at most once: `bridge_published` in
//! Postgres remembers it after the broker's acknowledgement. A crash between the two publishes
//! again with the same content-derived id, which consumers drop.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, Message};
use deadpool_postgres::Pool;
use futures::StreamExt as _;
use rdkafka::producer::FutureProducer;
use resi_events::layout::{KeyError, UploadKey, parse_upload_key, parse_validator_key};
use resi_events::{
    DeadLetterReason, DeadLetterSubject, DeadLettered, EpochMetadata, Event, EventPayload,
    Timestamp, Topics, UploadDiscovery, UploadFormat, UploadObserved, UploadRejectReason,
    UploadRejected,
};
use resi_runtime::config::{KafkaConfig, PostgresConfig, S3Config, TelemetryConfig};
use resi_runtime::kafka;
use resi_runtime::retry::{Backoff, RetryPolicy, retry};
use resi_runtime::shutdown::Shutdown;
use resi_runtime::store::{ObjectInfo, Store, StoreError};
use serde::Deserialize;
use tracing::Instrument as _;

use crate::metadata::{self, MetadataError};
use crate::metrics;
use crate::notification::{self, Notification};

/// What the layout (and, for v2, the metadata) says of an upload, beside the object itself.
struct Described {
    miner_hotkey: String,
    job_id: String,
    file_timestamp: Timestamp,
    declared_record_count: Option<u64>,
    format: UploadFormat,
    epoch: Option<EpochMetadata>,
    epoch_id: Option<String>,
    zipcode: Option<String>,
}

/// The `bridge` configuration section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BridgeConfig {
    /// `s3` (the configured bucket, with notifications when `sqs.queue_url` is set) or
    /// `file:///path` (a directory in the upload layout, found by listing only).
    pub source: String,
    /// Seconds between two listings of the prefix (the first is at start); 0 never lists, which
    /// leaves notifications alone to find uploads.
    pub reconcile_interval_secs: u64,
    /// A v2 `listings.parquet` whose `metadata.json` has not appeared this many seconds after
    /// the upload is rejected as `metadata_missing` (a metadata file arriving later still
    /// publishes it).
    pub metadata_grace_secs: u64,
    /// Objects handled at once.
    pub concurrency: usize,
    /// `metadata.json` files larger than this are invalid.
    pub max_metadata_bytes: u64,
    /// Retries of transient S3, SQS, broker and Postgres failures.
    pub retry: RetryPolicy,
    /// Whose bucket: `miners` (listing uploads) or `validators` (results documents under
    /// `s3.prefix`, `validators/` in production).
    pub layout: BucketLayout,
}

/// The key layout of the bucket a bridge watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketLayout {
    /// `{prefix}hotkey={hotkey}/…`: miners' listing uploads.
    #[default]
    Miners,
    /// `{prefix}{hotkey}/epoch={epoch_id}/….json`: validators' results.
    Validators,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            source: "s3".to_owned(),
            reconcile_interval_secs: 600,
            metadata_grace_secs: 300,
            concurrency: 32,
            max_metadata_bytes: 1 << 20,
            retry: RetryPolicy::default(),
            layout: BucketLayout::Miners,
        }
    }
}

/// An optional text where the empty text is none.
fn empty_is_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text.filter(|text| !text.is_empty()))
}

/// The `sqs` configuration section: where S3 sends its notifications.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqsConfig {
    /// Queue URL; unset or empty (an overlay's way to unset the shared one): no
    /// notifications, listing only.
    #[serde(deserialize_with = "empty_is_none")]
    pub queue_url: Option<String>,
    /// Endpoint for SQS-compatible queues; unset: `s3.endpoint` (moto and LocalStack serve
    /// both), else AWS. Region and credentials are the `s3` section's.
    pub endpoint: Option<String>,
    /// Long-poll wait, seconds (at most 20).
    pub wait_time_secs: i32,
    /// Messages per receive (at most 10).
    pub max_messages: i32,
    /// Visibility timeout given to received messages, and renewed at half its length while
    /// they are worked on.
    pub visibility_timeout_secs: i32,
}

impl Default for SqsConfig {
    fn default() -> Self {
        Self {
            queue_url: None,
            endpoint: None,
            wait_time_secs: 20,
            max_messages: 10,
            visibility_timeout_secs: 60,
        }
    }
}

/// Everything the bridge binary reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct BridgeServiceConfig {
    /// Where published object versions are remembered.
    pub postgres: PostgresConfig,
    /// The broker.
    pub kafka: KafkaConfig,
    /// The upload bucket.
    pub s3: S3Config,
    /// The notification queue.
    pub sqs: SqsConfig,
    /// Logs, traces and metrics.
    pub telemetry: TelemetryConfig,
    /// The bridge itself.
    pub bridge: BridgeConfig,
}

/// What became of one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// An `UploadObserved` was published.
    Observed,
    /// An `UploadRejected` was published.
    Rejected(UploadRejectReason),
    /// This version was published before.
    AlreadyPublished,
    /// Outside the prefix: not an upload.
    OutsidePrefix,
    /// A `metadata.json` whose listings are not there (yet), or a listings file still within the
    /// grace period for its metadata: the other file's arrival, or a later listing, decides.
    Waiting,
}

impl Handled {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Observed => "observed",
            Self::Rejected(_) => "rejected",
            Self::AlreadyPublished => "already_published",
            Self::OutsidePrefix => "outside_prefix",
            Self::Waiting => "waiting",
        }
    }
}

/// What `bridge_published` says of an object version.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Published {
    outcome: String,
    reason: Option<String>,
}

impl Published {
    /// A v2 listings file rejected for missing metadata is published again once it appears.
    fn awaits_metadata(&self) -> bool {
        self.outcome == "rejected"
            && self.reason.as_deref() == Some(UploadRejectReason::MetadataMissing.as_str())
    }
}

/// The bridge service.
pub struct Bridge {
    config: BridgeConfig,
    sqs_config: SqsConfig,
    prefix: String,
    store: Store,
    sqs: Option<aws_sdk_sqs::Client>,
    pool: Pool,
    producer: FutureProducer,
    topics: Topics,
    in_progress: KeyLocks,
}

/// One lock per object key, so that a notification and a listing that find the same object at
/// the same moment publish it once: the second waits, then finds it published.
#[derive(Default)]
struct KeyLocks {
    locks: std::sync::Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyLocks {
    async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::sync::Arc::clone(locks.entry(key.to_owned()).or_default())
        };
        let guard = std::sync::Arc::clone(&lock).lock_owned().await;
        KeyGuard {
            owner: self,
            key: key.to_owned(),
            _guard: guard,
        }
    }
}

struct KeyGuard<'a> {
    owner: &'a KeyLocks,
    key: String,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        let mut locks = self
            .owner
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // the map's reference and this guard's are the only ones left: nobody waits
        if locks
            .get(&self.key)
            .is_some_and(|lock| std::sync::Arc::strong_count(lock) <= 2)
        {
            locks.remove(&self.key);
        }
    }
}

fn is_transient(error: &StoreError) -> bool {
    error.is_transient()
}

impl Bridge {
    /// Connects to the store, the queue, Postgres and the broker.
    pub async fn build(config: &BridgeServiceConfig) -> anyhow::Result<Self> {
        let pool = resi_runtime::postgres::pool(&config.postgres)?;
        resi_runtime::postgres::check(&pool).await?;
        let store = Store::from_source(&config.bridge.source, &config.s3).await?;
        let notified = config.sqs.queue_url.is_some() && matches!(store, Store::S3 { .. });
        anyhow::ensure!(
            notified || config.bridge.reconcile_interval_secs > 0,
            "bridge.reconcile_interval_secs is 0 and no notification queue serves {}: nothing would find uploads",
            config.bridge.source
        );
        let sqs = match (&config.sqs.queue_url, &store) {
            (Some(_), Store::S3 { .. }) => Some(sqs_client(&config.sqs, &config.s3).await),
            _ => None,
        };
        let topics = Topics::new(&config.kafka.topic_prefix);
        kafka::keyed_partition_count(&config.kafka, &pool, &topics.uploads()).await?;
        Ok(Self {
            config: config.bridge.clone(),
            sqs_config: config.sqs.clone(),
            prefix: config.s3.prefix.clone(),
            store,
            sqs,
            pool,
            producer: kafka::producer(&config.kafka)?,
            topics,
            in_progress: KeyLocks::default(),
        })
    }

    /// What a key of the watched bucket says about itself, by the bucket's layout.
    fn parse_key(&self, key: &str) -> Result<UploadKey, KeyError> {
        match self.config.layout {
            BucketLayout::Miners => parse_upload_key(&self.prefix, key),
            BucketLayout::Validators => parse_validator_key(&self.prefix, key),
        }
    }

    /// Runs the notification loop (if configured) and the reconciliation loop until
    /// `shutdown`.
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let notifications = async {
            match &self.sqs {
                Some(sqs) => self.notification_loop(sqs, shutdown.clone()).await,
                None => Ok(()),
            }
        };
        let reconciliation = self.reconciliation_loop(shutdown.clone());
        let (notified, reconciled) = tokio::join!(notifications, reconciliation);
        notified.and(reconciled)
    }

    async fn reconciliation_loop(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let interval = Duration::from_secs(self.config.reconcile_interval_secs);
        if interval.is_zero() {
            return Ok(());
        }
        loop {
            if let Err(error) = self.reconcile().await {
                metrics::failure("reconcile");
                tracing::error!(
                    error = format!("{error:#}"),
                    "reconciliation failed; the next one retries"
                );
            }
            tokio::select! {
                () = shutdown.wait() => return Ok(()),
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Lists the whole prefix once and publishes every object version not yet published.
    #[tracing::instrument(skip_all, fields(store = %self.store.bucket_label()))]
    pub async fn reconcile(&self) -> anyhow::Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        let mut continuation = None;
        let discovery = match self.store {
            Store::S3 { .. } => UploadDiscovery::Listing,
            Store::Local { .. } => UploadDiscovery::LocalDirectory,
        };
        loop {
            let (objects, next) = retry(
                "list uploads",
                &self.config.retry,
                || self.store.list_page(&self.prefix, continuation.clone()),
                is_transient,
            )
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
            report.listed += objects.len();
            let candidates = self.unpublished(objects).await?;
            let outcomes: Vec<anyhow::Result<Handled>> = futures::stream::iter(candidates)
                .map(|object| self.handle(object, discovery))
                .buffer_unordered(self.config.concurrency.max(1))
                .collect()
                .await;
            for outcome in outcomes {
                match outcome {
                    Ok(Handled::Observed | Handled::Rejected(_)) => report.published += 1,
                    Ok(_) => {}
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "object not published; the next reconciliation retries"
                        );
                    }
                }
            }
            continuation = next;
            if continuation.is_none() {
                break;
            }
        }
        metrics::reconciled(report.listed, report.published);
        tracing::info!(
            listed = report.listed,
            published = report.published,
            failed = report.failed,
            "reconciled"
        );
        Ok(report)
    }

    /// Drops from a listed page what needs no work, with one query: versions already published,
    /// and `metadata.json` files whose listings need nothing from them.
    #[tracing::instrument(skip_all, fields(objects = objects.len()))]
    async fn unpublished(&self, objects: Vec<ObjectInfo>) -> anyhow::Result<Vec<ObjectInfo>> {
        let mut keys: Vec<String> = objects.iter().map(|object| object.key.clone()).collect();
        let listings_of: HashMap<String, String> = objects
            .iter()
            .filter_map(|object| match self.parse_key(&object.key) {
                Ok(UploadKey::V2Metadata { listings_key, .. }) => {
                    Some((object.key.clone(), listings_key))
                }
                _ => None,
            })
            .collect();
        keys.extend(listings_of.values().cloned());
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        let rows = client
            .query(
                "SELECT key, etag, outcome, reason FROM bridge_published WHERE bucket = $1 AND key = ANY($2)",
                &[&self.store.bucket_label(), &keys],
            )
            .await
            .context("failed to read published uploads")?;
        let mut published: HashMap<(String, String), Published> = HashMap::new();
        let mut awaiting_metadata: HashSet<String> = HashSet::new();
        for row in rows {
            let entry = Published {
                outcome: row.get(2),
                reason: row.get(3),
            };
            let key: String = row.get(0);
            if entry.awaits_metadata() {
                awaiting_metadata.insert(key.clone());
            }
            published.insert((key, row.get(1)), entry);
        }
        Ok(objects
            .into_iter()
            .filter(|object| match listings_of.get(&object.key) {
                // a metadata.json matters only to listings rejected while it was missing;
                // listings not published yet are handled as themselves
                Some(listings_key) => awaiting_metadata.contains(listings_key),
                None => !published.contains_key(&(object.key.clone(), object.etag.clone())),
            })
            .collect())
    }

    #[tracing::instrument(skip_all, fields(key, etag))]
    async fn published(&self, key: &str, etag: &str) -> anyhow::Result<Option<Published>> {
        let started = std::time::Instant::now();
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        let row = client
            .query_opt(
                "SELECT outcome, reason FROM bridge_published WHERE bucket = $1 AND key = $2 AND etag = $3",
                &[&self.store.bucket_label(), &key, &etag],
            )
            .await
            .context("failed to read published uploads")?;
        resi_runtime::metrics::postgres("bridge.published", started.elapsed());
        Ok(row.map(|row| Published {
            outcome: row.get(0),
            reason: row.get(1),
        }))
    }

    /// Publishes what one object version means, unless that was done before. Each object
    /// starts a trace of its own (the upload's, continued by the parser and the projector
    /// through the events' `traceparent` header), linked to the listing or the notification
    /// batch that found it.
    pub async fn handle(
        &self,
        object: ObjectInfo,
        discovery: UploadDiscovery,
    ) -> anyhow::Result<Handled> {
        let span = tracing::info_span!(
            "handle_upload",
            key = %object.key,
            etag = %object.etag,
            discovery = ?discovery
        );
        resi_runtime::telemetry::start_trace(&span, resi_runtime::telemetry::current_trace());
        let handled = self
            .handle_inner(object, discovery)
            .instrument(span)
            .await?;
        metrics::object(handled.as_str());
        Ok(handled)
    }

    async fn handle_inner(
        &self,
        object: ObjectInfo,
        discovery: UploadDiscovery,
    ) -> anyhow::Result<Handled> {
        let layout = self.parse_key(&object.key);
        // a metadata.json is handled through its listings file, which takes the lock
        let _guard = match &layout {
            Ok(UploadKey::V2Metadata { .. }) => None,
            _ => Some(self.in_progress.lock(&object.key).await),
        };
        let layout = match layout {
            Ok(layout) => layout,
            Err(KeyError::OutsidePrefix) => return Ok(Handled::OutsidePrefix),
            Err(KeyError::HotkeyMismatch { outer, inner }) => {
                if self.published(&object.key, &object.etag).await?.is_some() {
                    return Ok(Handled::AlreadyPublished);
                }
                let detail = format!("the key names two miners: `{outer}` and `{inner}`");
                return self
                    .reject(
                        &object,
                        &outer,
                        UploadRejectReason::HotkeyMismatch,
                        detail,
                        discovery,
                    )
                    .await;
            }
            Err(KeyError::Unparseable(reason)) => {
                if self.published(&object.key, &object.etag).await?.is_some() {
                    return Ok(Handled::AlreadyPublished);
                }
                let first = object
                    .key
                    .strip_prefix(&self.prefix)
                    .and_then(|rest| rest.split('/').next());
                let hotkey = match self.config.layout {
                    BucketLayout::Miners => first.and_then(|part| part.strip_prefix("hotkey=")),
                    BucketLayout::Validators => first,
                }
                .unwrap_or_default()
                .to_owned();
                return self
                    .reject(
                        &object,
                        &hotkey,
                        UploadRejectReason::UnparseablePath,
                        reason,
                        discovery,
                    )
                    .await;
            }
        };
        match layout {
            UploadKey::V1 {
                hotkey,
                job_id,
                file_timestamp,
                declared_count,
            } => {
                let described = Described {
                    miner_hotkey: hotkey,
                    job_id,
                    file_timestamp,
                    declared_record_count: Some(declared_count),
                    format: UploadFormat::V1,
                    epoch: None,
                    epoch_id: None,
                    zipcode: None,
                };
                self.observe_once(&object, described, discovery).await
            }
            UploadKey::EpochJson {
                hotkey,
                epoch_id,
                zipcode,
                file_timestamp,
            } => {
                // the document is read by the parser: it may be gigabytes, the bridge reads
                // nothing of it
                let described = Described {
                    miner_hotkey: hotkey,
                    job_id: epoch_id.clone(),
                    file_timestamp: file_timestamp.unwrap_or(object.last_modified),
                    declared_record_count: None,
                    format: UploadFormat::EpochJson,
                    epoch: None,
                    epoch_id: Some(epoch_id),
                    zipcode: Some(zipcode),
                };
                self.observe_once(&object, described, discovery).await
            }
            UploadKey::ValidatorResults { hotkey, epoch_id } => {
                // the parser reads the document and checks the validator's permit and stake
                let described = Described {
                    miner_hotkey: hotkey,
                    job_id: epoch_id.clone(),
                    file_timestamp: object.last_modified,
                    declared_record_count: None,
                    format: UploadFormat::ValidatorResults,
                    epoch: None,
                    epoch_id: Some(epoch_id),
                    zipcode: None,
                };
                self.observe_once(&object, described, discovery).await
            }
            UploadKey::V2Listings {
                hotkey,
                epoch_id,
                metadata_key,
            } => {
                if let Some(published) = self.published(&object.key, &object.etag).await?
                    && !published.awaits_metadata()
                {
                    return Ok(Handled::AlreadyPublished);
                }
                self.handle_v2(object, hotkey, epoch_id, metadata_key, discovery)
                    .await
            }
            UploadKey::V2Metadata { listings_key, .. } => {
                let listings = retry(
                    "head listings",
                    &self.config.retry,
                    || self.store.head(&listings_key),
                    is_transient,
                )
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
                match listings {
                    // the listings file is the upload: handle it now that its metadata exists
                    Some(listings) => Box::pin(self.handle_inner(listings, discovery)).await,
                    None => Ok(Handled::Waiting),
                }
            }
        }
    }

    async fn handle_v2(
        &self,
        object: ObjectInfo,
        hotkey: String,
        epoch_id: String,
        metadata_key: String,
        discovery: UploadDiscovery,
    ) -> anyhow::Result<Handled> {
        let body = retry(
            "get metadata",
            &self.config.retry,
            || {
                self.store
                    .get_small(&metadata_key, self.config.max_metadata_bytes)
            },
            is_transient,
        )
        .await;
        let body = match body {
            Ok(Some(body)) => body,
            Ok(None) => {
                let age_micros = Timestamp::now().as_micros() - object.last_modified.as_micros();
                let grace_micros = i64::try_from(self.config.metadata_grace_secs)
                    .unwrap_or(i64::MAX / 2)
                    * 1_000_000;
                if age_micros < grace_micros {
                    return Ok(Handled::Waiting);
                }
                let detail = format!(
                    "{metadata_key} does not exist {}s after the listings were uploaded",
                    self.config.metadata_grace_secs
                );
                return self
                    .reject(
                        &object,
                        &hotkey,
                        UploadRejectReason::MetadataMissing,
                        detail,
                        discovery,
                    )
                    .await;
            }
            // too large or unreadable for good: the metadata cannot be used
            Err(resi_runtime::retry::RetryError::Permanent(error)) => {
                return self
                    .reject(
                        &object,
                        &hotkey,
                        UploadRejectReason::MetadataInvalid,
                        error.to_string(),
                        discovery,
                    )
                    .await;
            }
            Err(error) => return Err(anyhow::anyhow!("{error}")),
        };
        let parsed = match metadata::parse(&body, &metadata_key, &hotkey, &epoch_id) {
            Ok(parsed) => parsed,
            Err(error) => {
                let reason = match error {
                    MetadataError::Invalid(_) => UploadRejectReason::MetadataInvalid,
                    MetadataError::MinerMismatch { .. } => {
                        UploadRejectReason::MetadataMinerMismatch
                    }
                };
                return self
                    .reject(&object, &hotkey, reason, error.to_string(), discovery)
                    .await;
            }
        };
        let upload = self.observed(
            &object,
            Described {
                miner_hotkey: hotkey,
                job_id: epoch_id.clone(),
                file_timestamp: parsed.epoch.mining_end_time.unwrap_or(object.last_modified),
                declared_record_count: parsed.total_listings,
                format: UploadFormat::V2,
                epoch: Some(parsed.epoch),
                epoch_id: Some(epoch_id),
                zipcode: None,
            },
            discovery,
        );
        self.observe(upload).await
    }

    /// The upload event of `object` in this bridge's store.
    fn observed(
        &self,
        object: &ObjectInfo,
        described: Described,
        discovery: UploadDiscovery,
    ) -> UploadObserved {
        UploadObserved {
            bucket: self.store.bucket_label(),
            key: object.key.clone(),
            etag: object.etag.clone(),
            size: object.size,
            last_modified: object.last_modified,
            miner_hotkey: described.miner_hotkey,
            job_id: described.job_id,
            file_timestamp: described.file_timestamp,
            declared_record_count: described.declared_record_count,
            format: described.format,
            epoch: described.epoch,
            epoch_id: described.epoch_id,
            zipcode: described.zipcode,
            discovery,
        }
    }

    /// Publishes what `object` is, unless that object version was published before.
    async fn observe_once(
        &self,
        object: &ObjectInfo,
        described: Described,
        discovery: UploadDiscovery,
    ) -> anyhow::Result<Handled> {
        if self.published(&object.key, &object.etag).await?.is_some() {
            return Ok(Handled::AlreadyPublished);
        }
        self.observe(self.observed(object, described, discovery))
            .await
    }

    async fn observe(&self, upload: UploadObserved) -> anyhow::Result<Handled> {
        // the store's time: the name's is the miner's claim (and its local clock)
        let event_time = upload.last_modified;
        let (key, etag, discovery) = (upload.key.clone(), upload.etag.clone(), upload.discovery);
        let event = Event::new(
            EventPayload::UploadObserved(upload),
            event_time,
            Timestamp::now(),
        );
        self.publish_and_remember(&event, &key, &etag, "observed", None, discovery)
            .await?;
        tracing::info!(key, upload_id = %event.id, "upload observed");
        Ok(Handled::Observed)
    }

    async fn reject(
        &self,
        object: &ObjectInfo,
        hotkey: &str,
        reason: UploadRejectReason,
        detail: String,
        discovery: UploadDiscovery,
    ) -> anyhow::Result<Handled> {
        let bucket = self.store.bucket_label();
        let rejected = UploadRejected {
            upload_id: UploadObserved::derive_id(&bucket, &object.key, &object.etag),
            bucket,
            key: object.key.clone(),
            etag: object.etag.clone(),
            miner_hotkey: hotkey.to_owned(),
            reason,
            detail,
        };
        tracing::warn!(key = %object.key, reason = reason.as_str(), detail = %rejected.detail, "upload rejected");
        let event = Event::new(
            EventPayload::UploadRejected(rejected),
            object.last_modified,
            Timestamp::now(),
        );
        self.publish_and_remember(
            &event,
            &object.key,
            &object.etag,
            "rejected",
            Some(reason.as_str()),
            discovery,
        )
        .await?;
        Ok(Handled::Rejected(reason))
    }

    /// Publishes, waits for the broker's acknowledgement, then remembers the object version.
    #[tracing::instrument(skip_all, fields(key, outcome))]
    async fn publish_and_remember(
        &self,
        event: &Event,
        key: &str,
        etag: &str,
        outcome: &str,
        reason: Option<&str>,
        discovery: UploadDiscovery,
    ) -> anyhow::Result<()> {
        let topic = self.topics.uploads();
        retry(
            "publish upload event",
            &self.config.retry,
            || kafka::publish(&self.producer, &topic, event),
            |_| true,
        )
        .await
        .map_err(|error| anyhow::anyhow!("{error:#}"))?;
        let upload_id = match &event.payload {
            EventPayload::UploadRejected(rejected) => rejected.upload_id,
            _ => event.id,
        };
        let discovery_name = match discovery {
            UploadDiscovery::Notification => "notification",
            UploadDiscovery::Listing => "listing",
            UploadDiscovery::LocalDirectory => "local_directory",
        };
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        client
            .execute(
                "INSERT INTO bridge_published (bucket, key, etag, upload_id, outcome, reason, discovery)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (bucket, key, etag) DO UPDATE
                 SET upload_id = EXCLUDED.upload_id, outcome = EXCLUDED.outcome,
                     reason = EXCLUDED.reason, discovery = EXCLUDED.discovery, published_at = now()",
                &[
                    &self.store.bucket_label(),
                    &key,
                    &etag,
                    &upload_id.as_bytes().as_slice(),
                    &outcome,
                    &reason,
                    &discovery_name,
                ],
            )
            .await
            .context("failed to remember the published upload")?;
        Ok(())
    }

    async fn notification_loop(
        &self,
        sqs: &aws_sdk_sqs::Client,
        mut shutdown: Shutdown,
    ) -> anyhow::Result<()> {
        let Some(queue_url) = self.sqs_config.queue_url.clone() else {
            return Ok(());
        };
        let mut backoff = Backoff::endless(&self.config.retry);
        loop {
            let received = tokio::select! {
                () = shutdown.wait() => return Ok(()),
                received = sqs
                    .receive_message()
                    .queue_url(&queue_url)
                    .max_number_of_messages(self.sqs_config.max_messages.clamp(1, 10))
                    .wait_time_seconds(self.sqs_config.wait_time_secs.clamp(0, 20))
                    .visibility_timeout(self.sqs_config.visibility_timeout_secs)
                    .send() => received,
            };
            let messages = match received {
                Ok(output) => {
                    backoff.reset();
                    output.messages.unwrap_or_default()
                }
                Err(error) => {
                    metrics::failure("sqs_receive");
                    let delay = backoff.pause();
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), delay_ms = delay.as_millis() as u64, "failed to receive notifications, retrying");
                    if shutdown.sleep(delay).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let work = futures::future::join_all(
                messages
                    .iter()
                    .map(|message| self.handle_message(sqs, &queue_url, message)),
            );
            tokio::pin!(work);
            // renew the visibility of the batch while it is worked on
            let renew_every = Duration::from_secs(
                u64::try_from(self.sqs_config.visibility_timeout_secs / 2)
                    .unwrap_or(1)
                    .max(1),
            );
            loop {
                tokio::select! {
                    _ = &mut work => break,
                    () = tokio::time::sleep(renew_every) => {
                        self.extend_visibility(sqs, &queue_url, &messages).await;
                    }
                }
            }
        }
    }

    #[tracing::instrument(skip_all, fields(messages = messages.len()))]
    async fn extend_visibility(
        &self,
        sqs: &aws_sdk_sqs::Client,
        queue_url: &str,
        messages: &[Message],
    ) {
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter_map(|(index, message)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(message.receipt_handle()?)
                    .visibility_timeout(self.sqs_config.visibility_timeout_secs)
                    .build()
                    .ok()
            })
            .collect();
        if let Err(error) = sqs
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "failed to extend message visibility");
        } else {
            metrics::visibility_extended(messages.len());
        }
    }

    /// Handles one queue message; deletes it when everything it announced is published.
    #[tracing::instrument(skip_all, fields(message_id = message.message_id().unwrap_or_default()))]
    async fn handle_message(&self, sqs: &aws_sdk_sqs::Client, queue_url: &str, message: &Message) {
        let body = message.body().unwrap_or_default();
        let done = match notification::parse(body) {
            Ok(Notification::Test) => {
                metrics::notification("test_event");
                true
            }
            Ok(Notification::Records { created, skipped }) => {
                metrics::notification("records");
                if skipped > 0 {
                    tracing::debug!(skipped, "records of other event types skipped");
                }
                let mut all_done = true;
                for record in created {
                    let outcome = self.handle_notified(record).await;
                    if let Err(error) = outcome {
                        all_done = false;
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "notification not handled; the message will be delivered again"
                        );
                    }
                }
                all_done
            }
            Err(error) => {
                metrics::notification("unreadable");
                let dead = DeadLettered {
                    subject: DeadLetterSubject::QueueMessage {
                        queue: queue_url.to_owned(),
                        message_id: message.message_id().unwrap_or_default().to_owned(),
                        body: body.to_owned(),
                    },
                    reason: DeadLetterReason::UnreadableNotification,
                    detail: error.to_string(),
                    attempts: 1,
                };
                let event = Event::new(
                    EventPayload::DeadLettered(dead),
                    Timestamp::now(),
                    Timestamp::now(),
                );
                match kafka::publish(&self.producer, &self.topics.dead_letters(), &event).await {
                    Ok(()) => {
                        tracing::warn!(%error, "unreadable queue message dead-lettered");
                        true
                    }
                    Err(publish_error) => {
                        tracing::warn!(
                            error = format!("{publish_error:#}"),
                            "failed to dead-letter a queue message; it will be delivered again"
                        );
                        false
                    }
                }
            }
        };
        if !done {
            return;
        }
        let Some(handle) = message.receipt_handle() else {
            return;
        };
        if let Err(error) = sqs
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(handle)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "failed to delete a handled message; it will be delivered again and found published");
        }
    }

    async fn handle_notified(
        &self,
        record: notification::ObjectCreated,
    ) -> anyhow::Result<Handled> {
        if record.bucket != self.store.bucket_label() {
            tracing::debug!(bucket = %record.bucket, "notification for another bucket");
            return Ok(Handled::OutsidePrefix);
        }
        if !record.key.starts_with(&self.prefix) {
            return Ok(Handled::OutsidePrefix);
        }
        // The object's own LastModified, as a listing would find it, is the upload's time: the
        // notification's eventTime is a moment later and finer (milliseconds), so an upload
        // found both ways would be described two ways, and which one reached the log would
        // depend on which way came first. A version replaced since is gone; the current one is
        // published instead (its own notification then finds it published).
        let object = match retry(
            "head object",
            &self.config.retry,
            || self.store.head(&record.key),
            is_transient,
        )
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?
        {
            Some(object) => object,
            None => {
                tracing::info!(key = %record.key, "notified object no longer exists");
                return Ok(Handled::Waiting);
            }
        };
        self.handle(object, UploadDiscovery::Notification).await
    }
}

/// What one reconciliation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Objects listed.
    pub listed: usize,
    /// Events published.
    pub published: usize,
    /// Objects that failed and wait for the next reconciliation.
    pub failed: usize,
}

async fn sqs_client(sqs: &SqsConfig, s3: &S3Config) -> aws_sdk_sqs::Client {
    let endpoint = sqs.endpoint.as_deref().or(s3.endpoint.as_deref());
    aws_sdk_sqs::Client::new(&resi_runtime::s3::sdk_config(s3, endpoint).await)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_empty_queue_url_is_no_queue() {
        let load = |url: &str| {
            resi_runtime::config::load_from_env_iter::<super::BridgeServiceConfig>(
                None,
                [("RESI__SQS__QUEUE_URL".to_owned(), url.to_owned())],
            )
            .expect("config")
            .sqs
            .queue_url
        };
        assert_eq!(load(""), None);
        assert_eq!(
            load("http://127.0.0.1:5000/123/q"),
            Some("http://127.0.0.1:5000/123/q".to_owned())
        );
    }
}
