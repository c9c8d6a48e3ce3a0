//! The parser service: consumes upload events from its partitions, reads each file, emits the
//! attestations, the file's summary or its dead letter, then checkpoints.
//!
//! Order of writes for one upload, each step safe to repeat:
//! 1. the admission decision (Postgres), reused if it exists;
//! 2. the attestations, all acknowledged by the broker;
//! 3. `UploadParsed` (or `DeadLettered`), acknowledged;
//! 4. in one Postgres transaction: the upload marked finished and the partition's checkpoint.
//!
//! A crash anywhere before 4 processes the file again from 1, which emits the same event ids,
//! so consumers drop the repeats. Failures of the broker or Postgres are retried with backoff
//! without moving on (nothing can be recorded without them); failures of the file itself end in
//! a dead letter.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument as _;

use anyhow::Context as _;
use deadpool_postgres::Pool;
use rdkafka::Message as _;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{DeliveryFuture, FutureProducer};
use resi_events::{
    DeadLetterReason, DeadLetterSubject, DeadLettered, Event, EventPayload, Timestamp, Topics,
    UploadFormat, UploadObserved, UploadRejectReason, UploadRejected, codec,
};
use resi_runtime::assignment::AssignmentConfig;
use resi_runtime::config::{KafkaConfig, PostgresConfig, S3Config, TelemetryConfig};
use resi_runtime::retry::{Backoff, RetryError, RetryPolicy, retry};
use resi_runtime::shutdown::Shutdown;
use resi_runtime::store::{FetchError, LocalObject, Store};
use resi_runtime::{checkpoints, kafka};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::admission;
use crate::emit::{AdmissionPlan, Encoded, ParseOptions};
use crate::file::{FileFailure, FileFailureKind, parse_object};
use crate::metrics;
use crate::validator;

/// The `parser` configuration section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParserConfig {
    /// Name of this consumer in checkpoints and broker logs. Instances that split one topic
    /// share it.
    pub consumer_name: String,
    /// Which partitions of the uploads topic this instance owns.
    pub assignment: AssignmentConfig,
    /// Directory S3 objects are streamed into while they are parsed (default: the system's
    /// temporary directory). Needs room for the largest object in flight.
    pub spool_dir: Option<PathBuf>,
    /// Objects larger than this are dead-lettered as too large, unread.
    pub max_object_bytes: u64,
    /// Rows decoded per record batch (and events handed to the producer at once).
    pub batch_rows: usize,
    /// Events awaiting the broker's acknowledgement at most, per file.
    pub max_in_flight: usize,
    /// How often each owned partition's lag is measured and exported, in seconds.
    pub lag_report_interval_secs: u64,
    /// How far past its upload's `LastModified` a row's scrape time may be, in seconds (the
    /// miners' clocks are not exact); later times are clamped to that bound.
    pub max_scrape_skew_secs: u64,
    /// Largest listing of an epoch JSON document (and largest header value), in bytes: a
    /// larger one makes the file `corrupt_file`. Memory per document stays within it.
    pub max_json_listing_bytes: u64,
    /// Most rows (listings) of one file; a file with more is dead-lettered `too_large`. The
    /// parser holds 8 bytes per row of a Parquet file's ids (and a set entry per listing of an
    /// epoch document) while it reads it, so this bounds a file's memory whatever it claims.
    pub max_file_rows: u64,
    /// Times a file may be started and not finished (the parser's process killed while
    /// reading it) before it is dead-lettered `retries_exhausted`: no file can put the parser
    /// in a crash loop.
    pub max_parse_attempts: u32,
    /// Backoff of S3 reads (a failing store is retried without a limit, a round of
    /// `max_attempts` at a time, and never dead-lettered), and while the broker or Postgres is
    /// unavailable.
    pub retry: RetryPolicy,
    /// Stake (TAO) a validator needs for its results to be admitted, besides a permit; the
    /// gateway's `validator_min_stake` for its upload policies.
    pub validator_min_stake: f64,
    /// Validator results documents larger than this are dead-lettered as too large, unread.
    pub max_results_bytes: u64,
}

impl Default for ParserConfig {
    fn default() -> Self {
        Self {
            consumer_name: "resi-parser".to_owned(),
            assignment: AssignmentConfig::default(),
            spool_dir: None,
            max_object_bytes: 4 << 30,
            batch_rows: 8_192,
            max_in_flight: 200_000,
            lag_report_interval_secs: 15,
            max_scrape_skew_secs: 600,
            max_json_listing_bytes: 1 << 20,
            max_file_rows: 10_000_000,
            max_parse_attempts: 3,
            retry: RetryPolicy::default(),
            validator_min_stake: 1_000.0,
            max_results_bytes: 16 << 20,
        }
    }
}

/// Everything the parser binary reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ParserServiceConfig {
    /// Where admission decisions and checkpoints live, and the trust projection.
    pub postgres: PostgresConfig,
    /// The broker.
    pub kafka: KafkaConfig,
    /// The upload store's client settings.
    pub s3: S3Config,
    /// Logs, traces and metrics.
    pub telemetry: TelemetryConfig,
    /// The parser itself.
    pub parser: ParserConfig,
}

/// A failure that says nothing about the file: the broker or Postgres.
type Infrastructure = anyhow::Error;

/// The parser service.
pub struct Parser {
    config: ParserConfig,
    pool: Pool,
    producer: FutureProducer,
    consumer: StreamConsumer,
    s3: aws_sdk_s3::Client,
    topics: Topics,
    partitions: Vec<i32>,
    spool_dir: PathBuf,
    kafka: KafkaConfig,
    /// This running parser, as the attempts it opens name it: host, process and start.
    runner: String,
}

impl Parser {
    /// Connects, reads the checkpoints and assigns this instance's partitions.
    pub async fn build(config: &ParserServiceConfig) -> anyhow::Result<Self> {
        let pool = resi_runtime::postgres::pool(&config.postgres)?;
        resi_runtime::postgres::check(&pool).await?;
        let topics = Topics::new(&config.kafka.topic_prefix);
        let uploads = topics.uploads();
        let count = kafka::keyed_partition_count(&config.kafka, &pool, &uploads).await?;
        kafka::keyed_partition_count(&config.kafka, &pool, &topics.attestations()).await?;
        let partitions = config.parser.assignment.resolve(count)?;
        let client = resi_runtime::postgres::connection(&pool).await?;
        let offsets = checkpoints::load(&client, &config.parser.consumer_name, &uploads).await?;
        let consumer = kafka::assigned_consumer(&config.kafka, &config.parser.consumer_name)?;
        kafka::assign_at(&consumer, &uploads, &partitions, &offsets)?;
        tracing::info!(topic = %uploads, ?partitions, ?offsets, "parser assigned");
        let spool_dir = config
            .parser
            .spool_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        Ok(Self {
            config: config.parser.clone(),
            pool,
            producer: kafka::producer(&config.kafka)?,
            consumer,
            s3: resi_runtime::s3::client(&config.s3).await,
            topics,
            partitions,
            spool_dir,
            kafka: config.kafka.clone(),
            runner: runner_name(),
        })
    }

    /// The partitions this instance owns.
    #[must_use]
    pub fn partitions(&self) -> &[i32] {
        &self.partitions
    }

    /// Consumes until `shutdown`.
    ///
    /// One dispatcher reads the consumer and hands each record to the worker of its partition;
    /// each owned partition has one worker, so the files of a partition (and so of a miner,
    /// uploads being keyed by miner) are handled strictly in order while the files of different
    /// partitions are parsed and produced concurrently.
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut senders = BTreeMap::new();
        let mut workers = Vec::with_capacity(self.partitions.len());
        for &partition in &self.partitions {
            // a small buffer: the consumer's own queue holds the rest
            let (sender, receiver) = mpsc::channel::<OwnedMessage>(2);
            senders.insert(partition, sender);
            workers.push(self.partition_worker(partition, receiver, shutdown.clone()));
        }
        let lag = self.report_lag(shutdown.clone());
        let dispatch = self.dispatch(senders, shutdown);
        let (dispatched, finished, ()) =
            tokio::join!(dispatch, futures::future::join_all(workers), lag);
        finished.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        dispatched
    }

    /// Exports each owned partition's lag (`resi_parser_lag`) until `shutdown`: the uploads
    /// topic's end offset minus this consumer's checkpoint. A failed measurement is logged and
    /// tried again at the next tick.
    async fn report_lag(&self, mut shutdown: Shutdown) {
        let interval = Duration::from_secs(self.config.lag_report_interval_secs.max(1));
        let topic = self.topics.uploads();
        loop {
            if let Err(error) = self.measure_lag(&topic).await {
                tracing::warn!(error = format!("{error:#}"), "failed to measure the lag");
            }
            if shutdown.sleep(interval).await {
                return;
            }
        }
    }

    async fn measure_lag(&self, topic: &str) -> anyhow::Result<()> {
        let ends = kafka::end_offsets(&self.kafka, topic).await?;
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        let done = checkpoints::load(&client, &self.config.consumer_name, topic).await?;
        for (partition, lag) in checkpoints::Progress::new(&ends, &done).lag_by_partition() {
            if self.partitions.contains(&partition) {
                metrics::lag(partition, lag);
            }
        }
        Ok(())
    }

    /// Reads the consumer until `shutdown`, routing records to their partition's worker.
    /// Dropping the senders on return lets every worker finish the record it holds and stop.
    async fn dispatch(
        &self,
        senders: BTreeMap<i32, mpsc::Sender<OwnedMessage>>,
        mut shutdown: Shutdown,
    ) -> anyhow::Result<()> {
        let mut consume_backoff = Backoff::endless(&self.config.retry);
        loop {
            let message = tokio::select! {
                () = shutdown.wait() => return Ok(()),
                received = self.consumer.recv() => match received {
                    Ok(message) => {
                        consume_backoff.reset();
                        message.detach()
                    }
                    Err(error) => {
                        metrics::failure("consume");
                        let delay = consume_backoff.pause();
                        tracing::warn!(%error, delay_ms = delay.as_millis() as u64, "kafka consumer error");
                        if shutdown.sleep(delay).await {
                            return Ok(());
                        }
                        continue;
                    }
                },
            };
            let Some(sender) = senders.get(&message.partition()) else {
                // only assigned partitions are delivered; anything else is a broker fault
                anyhow::bail!(
                    "received a record of partition {} which this instance does not own",
                    message.partition()
                );
            };
            tokio::select! {
                () = shutdown.wait() => return Ok(()),
                sent = sender.send(message) => {
                    if sent.is_err() {
                        // the worker ended early, which it only does on shutdown
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Handles the records of one partition in order, retrying infrastructure failures with
    /// backoff until they pass or shutdown is requested.
    async fn partition_worker(
        &self,
        partition: i32,
        mut records: mpsc::Receiver<OwnedMessage>,
        mut shutdown: Shutdown,
    ) -> anyhow::Result<()> {
        let uploads = self.topics.uploads();
        // the offset after records that needed no work, written with the next checkpoint or on
        // a tick
        let mut skipped: Option<i64> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let message = tokio::select! {
                biased;
                () = shutdown.wait() => break,
                _ = tick.tick() => {
                    self.flush_skipped(&uploads, partition, &mut skipped).await?;
                    continue;
                }
                received = records.recv() => match received {
                    Some(message) => message,
                    None => break,
                },
            };
            let mut backoff = Backoff::endless(&self.config.retry);
            loop {
                match self.handle(&message, &mut skipped).await {
                    Ok(()) => break,
                    Err(error) => {
                        metrics::failure("infrastructure");
                        let delay = backoff.pause();
                        tracing::error!(
                            error = format!("{error:#}"),
                            partition,
                            offset = message.offset(),
                            delay_ms = delay.as_millis() as u64,
                            "failed to process an upload record, retrying"
                        );
                        if shutdown.sleep(delay).await {
                            return Ok(());
                        }
                    }
                }
            }
        }
        self.flush_skipped(&uploads, partition, &mut skipped).await
    }

    async fn flush_skipped(
        &self,
        topic: &str,
        partition: i32,
        skipped: &mut Option<i64>,
    ) -> Result<(), Infrastructure> {
        let Some(next) = *skipped else {
            return Ok(());
        };
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        checkpoints::store(&client, &self.config.consumer_name, topic, partition, next).await?;
        *skipped = None;
        Ok(())
    }

    async fn handle(
        &self,
        message: &OwnedMessage,
        skipped: &mut Option<i64>,
    ) -> Result<(), Infrastructure> {
        let partition = message.partition();
        let next_offset = message.offset() + 1;
        let payload = message.payload().unwrap_or_default();
        let event = match codec::decode(payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, partition, offset = message.offset(), "undecodable record on the uploads topic");
                let dead = DeadLettered {
                    subject: DeadLetterSubject::Record {
                        topic: message.topic().to_owned(),
                        partition,
                        offset: message.offset(),
                        key: String::from_utf8_lossy(message.key().unwrap_or_default())
                            .into_owned(),
                        payload: payload.to_vec(),
                    },
                    reason: DeadLetterReason::UndecodableEvent,
                    detail: error.to_string(),
                    attempts: 1,
                };
                self.publish_dead_letter(dead, Timestamp::now()).await?;
                metrics::upload("undecodable");
                *skipped = Some(next_offset);
                return Ok(());
            }
        };
        let EventPayload::UploadObserved(upload) = event.payload else {
            *skipped = Some(next_offset);
            return Ok(());
        };
        // one upload is one trace: this span continues the bridge's (traceparent header)
        let span = tracing::info_span!(
            "parse_upload",
            miner = %upload.miner_hotkey,
            key = %upload.key,
            upload_id = %upload.event_id()
        );
        resi_runtime::telemetry::continue_trace(&span, kafka::trace_of(message), &[]);
        self.process(&upload, partition, next_offset)
            .instrument(span)
            .await?;
        *skipped = None;
        Ok(())
    }

    /// Processes one upload through to its checkpoint (in the caller's `parse_upload` span).
    async fn process(
        &self,
        upload: &UploadObserved,
        partition: i32,
        next_offset: i64,
    ) -> Result<(), Infrastructure> {
        let started = Instant::now();
        let upload_id = upload.event_id();
        let mut client = resi_runtime::postgres::connection(&self.pool).await?;
        // the store's time, not the file name's: a miner cannot move its files to other days
        let decision = admission::decide(
            &mut client,
            &upload_id,
            &upload.miner_hotkey,
            upload.last_modified.utc_day(),
        )
        .await?;
        drop(client);
        resi_runtime::metrics::postgres("parser.decide", started.elapsed());
        let (outcome, admitted, rate_limited) = if let Some(outcome) = &decision.outcome {
            tracing::info!(outcome, "upload was finished before; skipped");
            metrics::upload("already_finished");
            (None, 0, 0)
        } else {
            let (outcome, admitted, rate_limited) =
                self.parse_upload(upload, decision.plan).await?;
            (Some(outcome), admitted, rate_limited)
        };
        let complete_started = Instant::now();
        let mut client = resi_runtime::postgres::connection(&self.pool).await?;
        let transaction = client.transaction().await.context("failed to begin")?;
        if let Some(outcome) = outcome {
            admission::complete(&transaction, &upload_id, outcome, admitted, rate_limited).await?;
        }
        checkpoints::store(
            &transaction,
            &self.config.consumer_name,
            &self.topics.uploads(),
            partition,
            next_offset,
        )
        .await?;
        transaction
            .commit()
            .await
            .context("failed to commit the checkpoint")?;
        resi_runtime::metrics::postgres("parser.complete", complete_started.elapsed());
        metrics::file_seconds(started.elapsed());
        Ok(())
    }

    /// Reads the file and emits its events: `(outcome, admitted, rate_limited)`.
    async fn parse_upload(
        &self,
        upload: &UploadObserved,
        plan: AdmissionPlan,
    ) -> Result<(&'static str, u64, u64), Infrastructure> {
        if upload.format == UploadFormat::ValidatorResults {
            return self.validator_results(upload).await;
        }
        // a banned miner's files are not read: refused whole, with the reason recorded
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        let is_banned = admission::banned(&client, &upload.miner_hotkey).await?;
        drop(client);
        if is_banned {
            let detail =
                "the miner is banned for fabricating (GET /api/miners/{hotkey}/epochs)".to_owned();
            self.reject_upload(upload, UploadRejectReason::MinerBanned, detail)
                .await?;
            return Ok(("rejected", 0, 0));
        }
        let object = match self.fetch(upload, self.config.max_object_bytes).await? {
            Ok(object) => object,
            Err((reason, detail)) => {
                self.dead_letter_upload(upload, reason, detail, 1).await?;
                return Ok(("dead_lettered", 0, 0));
            }
        };

        // A file that stops the parser (its process killed while reading it, out of memory
        // say) would be read again on every start: such attempts are counted, and capped.
        let upload_id = upload.event_id();
        let attempt = admission::begin_attempt(&self.pool, &upload_id, &self.runner).await?;
        if attempt > self.config.max_parse_attempts {
            let detail = format!(
                "the parser stopped {} times while reading this upload, without finishing it",
                attempt - 1
            );
            self.dead_letter_upload(
                upload,
                DeadLetterReason::RetriesExhausted,
                detail,
                attempt - 1,
            )
            .await?;
            return Ok(("dead_lettered", 0, 0));
        }
        let emitted = self.emit_file(object.file, upload, plan).await;
        // the attempt ended here, not in a crash: it does not count
        admission::end_attempt(&self.pool, &upload_id, &self.runner).await?;
        match emitted? {
            Ok(parsed) => {
                let EventPayload::UploadParsed(summary) = &parsed.payload else {
                    unreachable!("parse_file returns an UploadParsed event");
                };
                let admission = summary.admission.clone();
                metrics::rows(
                    summary.rows_rejected,
                    admission.admitted,
                    admission.rate_limited,
                );
                kafka::publish(&self.producer, &self.topics.uploads(), &parsed).await?;
                tracing::info!(
                    rows = summary.rows_read,
                    admitted = admission.admitted,
                    rejected = summary.rows_rejected,
                    rate_limited = admission.rate_limited,
                    quality = summary.quality.score,
                    "upload parsed"
                );
                metrics::upload("parsed");
                Ok(("parsed", admission.admitted, admission.rate_limited))
            }
            Err(failure) => {
                let reason = match failure.kind {
                    FileFailureKind::Corrupt => DeadLetterReason::CorruptFile,
                    FileFailureKind::WrongSchema => DeadLetterReason::WrongSchema,
                    FileFailureKind::TooLarge => DeadLetterReason::TooLarge,
                    FileFailureKind::Rejected(reason) => {
                        self.reject_upload(upload, reason, failure.detail).await?;
                        return Ok(("rejected", failure.admitted, 0));
                    }
                    FileFailureKind::Io => {
                        anyhow::bail!("failed to read the spooled file: {}", failure.detail)
                    }
                    FileFailureKind::Stopped => {
                        anyhow::bail!("parsing stopped before the end of the file")
                    }
                };
                self.dead_letter_upload(upload, reason, failure.detail, 1)
                    .await?;
                Ok(("dead_lettered", failure.admitted, 0))
            }
        }
    }

    /// Fetches the upload into the spool: the object, or why it is dead-lettered. A failing
    /// store is an error (retried by the caller's loop), never a dead letter.
    async fn fetch(
        &self,
        upload: &UploadObserved,
        max_bytes: u64,
    ) -> Result<Result<LocalObject, (DeadLetterReason, String)>, Infrastructure> {
        let store = Store::for_bucket(&upload.bucket, &self.s3);
        let etag = matches!(store, Store::S3 { .. }).then_some(upload.etag.as_str());
        let fetch_started = Instant::now();
        let fetched = retry(
            "fetch upload",
            &self.config.retry,
            || store.fetch(&upload.key, etag, &self.spool_dir, max_bytes),
            |error| matches!(error, FetchError::Store(store_error) if store_error.is_transient()),
        )
        .await;
        metrics::fetch_seconds(fetch_started.elapsed());
        match fetched {
            Ok(object) => Ok(Ok(object)),
            // the store or this machine is failing (an outage, expired credentials, a full
            // spool disk): the upload waits for it, it is never dead-lettered for it
            Err(RetryError::Exhausted { attempts, last }) => {
                metrics::failure("store");
                anyhow::bail!("fetching the upload failed {attempts} times: {last}");
            }
            Err(RetryError::Permanent(error)) => {
                let reason = match &error {
                    FetchError::TooLarge { .. } => DeadLetterReason::TooLarge,
                    FetchError::Store(_) => DeadLetterReason::ObjectMissing,
                };
                Ok(Err((reason, error.to_string())))
            }
        }
    }

    /// A validator's results document: admitted as `ValidatorResultsPublished` on the epochs
    /// topic when its hotkey holds a permit and enough stake and the document is the seed's,
    /// refused with the reason recorded otherwise.
    async fn validator_results(
        &self,
        upload: &UploadObserved,
    ) -> Result<(&'static str, u64, u64), Infrastructure> {
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        let standing = validator::standing(&client, &upload.miner_hotkey).await?;
        drop(client);
        let min_stake_rao = resi_events::network::rao(self.config.validator_min_stake);
        let standing = match validator::admitted(standing, min_stake_rao) {
            Ok(standing) => standing,
            Err(detail) => {
                metrics::validator_results("not_a_validator");
                self.reject_upload(upload, UploadRejectReason::NotAValidator, detail)
                    .await?;
                return Ok(("rejected", 0, 0));
            }
        };
        let object = match self.fetch(upload, self.config.max_results_bytes).await? {
            Ok(object) => object,
            Err((reason, detail)) => {
                self.dead_letter_upload(upload, reason, detail, 1).await?;
                return Ok(("dead_lettered", 0, 0));
            }
        };
        let mut bytes = Vec::new();
        let mut file = &object.file;
        std::io::Seek::rewind(&mut file).context("failed to rewind the spooled results")?;
        std::io::Read::read_to_end(&mut file, &mut bytes)
            .context("failed to read the spooled results")?;
        match validator::read(&bytes, upload, standing) {
            Ok(results) => {
                tracing::info!(
                    validator = %results.validator_hotkey,
                    epoch = %results.epoch_id,
                    scores = results.scores.len(),
                    entries_rejected = results.entries_rejected,
                    "validator results admitted"
                );
                let event = Event::new(
                    EventPayload::ValidatorResultsPublished(Box::new(results)),
                    upload.last_modified,
                    Timestamp::now(),
                );
                kafka::publish(&self.producer, &self.topics.epochs(), &event).await?;
                metrics::validator_results("admitted");
                Ok(("parsed", 0, 0))
            }
            Err(detail) => {
                metrics::validator_results("results_invalid");
                self.reject_upload(upload, UploadRejectReason::ResultsInvalid, detail)
                    .await?;
                Ok(("rejected", 0, 0))
            }
        }
    }

    /// Parses on a blocking thread while this task hands the events to the producer; returns
    /// once every event is acknowledged. The outer error is the broker's, the inner the file's.
    async fn emit_file(
        &self,
        file: std::fs::File,
        upload: &UploadObserved,
        plan: AdmissionPlan,
    ) -> Result<Result<Event, FileFailure>, Infrastructure> {
        let (sender, mut receiver) = mpsc::channel::<Vec<Encoded>>(4);
        let options = ParseOptions {
            batch_rows: self.config.batch_rows,
            max_scrape_skew_micros: i64::try_from(self.config.max_scrape_skew_secs)
                .unwrap_or(i64::MAX / 1_000_000)
                .saturating_mul(1_000_000),
            max_json_listing_bytes: self.config.max_json_listing_bytes,
            max_file_rows: self.config.max_file_rows,
            record_time: Timestamp::now(),
        };
        let upload_for_parser = Arc::new(upload.clone());
        let parsing = tokio::task::spawn_blocking(move || {
            parse_object(file, &upload_for_parser, plan, options, |batch| {
                sender.blocking_send(batch).is_ok()
            })
        });
        let topic = self.topics.attestations();
        // the attestations carry the upload's trace, so the projector's fold continues it
        let trace = resi_runtime::telemetry::current_trace();
        let mut in_flight: VecDeque<DeliveryFuture> = VecDeque::new();
        let sending = async {
            while let Some(batch) = receiver.recv().await {
                for encoded in batch {
                    while in_flight.len() >= self.config.max_in_flight {
                        if let Some(oldest) = in_flight.pop_front() {
                            kafka::delivered(oldest).await?;
                        }
                    }
                    in_flight.push_back(
                        kafka::enqueue_encoded(
                            &self.producer,
                            &topic,
                            &encoded.key,
                            &encoded.payload,
                            kafka::EventHeaders::new(
                                encoded.event_type,
                                encoded.schema_version,
                                encoded.id,
                            )
                            .with_trace(trace)
                            .build(),
                        )
                        .await?,
                    );
                }
            }
            for delivery in in_flight.drain(..) {
                kafka::delivered(delivery).await?;
            }
            anyhow::Ok(())
        };
        let sent = sending.await;
        // dropping the receiver stops the parsing thread at its next batch
        drop(receiver);
        let parsed = parsing.await.context("the parsing thread was cancelled")?;
        sent?;
        Ok(parsed)
    }

    async fn dead_letter_upload(
        &self,
        upload: &UploadObserved,
        reason: DeadLetterReason,
        detail: String,
        attempts: u32,
    ) -> Result<(), Infrastructure> {
        tracing::warn!(reason = reason.as_str(), detail, "upload dead-lettered");
        metrics::upload("dead_lettered");
        let dead = DeadLettered {
            subject: DeadLetterSubject::Upload {
                upload_id: upload.event_id(),
                miner_hotkey: upload.miner_hotkey.clone(),
                bucket: upload.bucket.clone(),
                key: upload.key.clone(),
            },
            reason,
            detail,
            attempts,
        };
        self.publish_dead_letter(dead, upload.last_modified).await
    }

    /// Records that the upload is refused whole (its document names another miner, epoch or
    /// zipcode than its key, or its miner is banned): an `UploadRejected`, as the bridge records
    /// for bad keys.
    async fn reject_upload(
        &self,
        upload: &UploadObserved,
        reason: UploadRejectReason,
        detail: String,
    ) -> Result<(), Infrastructure> {
        tracing::warn!(reason = reason.as_str(), detail, "upload rejected");
        metrics::upload("rejected");
        let rejected = UploadRejected {
            upload_id: upload.event_id(),
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            etag: upload.etag.clone(),
            miner_hotkey: upload.miner_hotkey.clone(),
            reason,
            detail,
        };
        let event = Event::new(
            EventPayload::UploadRejected(rejected),
            upload.last_modified,
            Timestamp::now(),
        );
        kafka::publish(&self.producer, &self.topics.uploads(), &event).await
    }

    async fn publish_dead_letter(
        &self,
        dead: DeadLettered,
        event_time: Timestamp,
    ) -> Result<(), Infrastructure> {
        let event = Event::new(
            EventPayload::DeadLettered(dead),
            event_time,
            Timestamp::now(),
        );
        kafka::publish(&self.producer, &self.topics.dead_letters(), &event).await
    }
}

/// A name for this running parser, unique among every parser that ever ran: the host, the
/// process, its start and a count of the parsers it built.
fn runner_name() -> String {
    static BUILT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|host| host.trim().to_owned())
        .unwrap_or_default();
    format!(
        "{host}:{}:{}:{}",
        std::process::id(),
        resi_events::Timestamp::now().as_micros(),
        BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}
