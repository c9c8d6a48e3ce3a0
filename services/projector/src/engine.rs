//! The fold loop shared by every projection: consume a batch from the assigned partitions,
//! fold it and write the checkpoints in one transaction, repeat.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use deadpool_postgres::Pool;
use rdkafka::Message as _;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureProducer;
use resi_events::{
    DeadLetterReason, DeadLetterSubject, DeadLettered, DecodeError, Event, EventPayload, Timestamp,
    Topics, codec,
};
use resi_projections::consensus::{ConsensusAlgorithm, Params};
use resi_runtime::assignment::AssignmentConfig;
use resi_runtime::config::{KafkaConfig, PostgresConfig, TelemetryConfig};
use resi_runtime::kafka;
use resi_runtime::postgres::{Fault, fault_of};
use resi_runtime::retry::{Backoff, RetryPolicy};
use resi_runtime::shutdown::Shutdown;
use serde::Deserialize;
use tracing::Instrument as _;

use crate::faults::{self, Lane, LaneState, Refusal};
use crate::{consensus, epochs, listing, metrics, network, scores, trust, versions};

/// The projections this binary can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionKind {
    /// `listings`, `miner_attestations` from the attestations.
    Listing,
    /// `miner_trust`, `miner_rejections` from the upload summaries.
    Trust,
    /// `consensus_listings`, `consensus_reports`, `miner_accuracy` from the attestations; the
    /// version names the algorithm (`v1`, `v2`, or `v2_<label>` for another build of v2).
    Consensus,
    /// `epochs`, `epoch_assignments`, `epoch_conflicts` from the coordinator's events.
    Epochs,
    /// `miner_epoch_status`, `miner_zipcode_progress`, `metagraph_snapshots`,
    /// `metagraph_neurons` from the network topic (the gateway's events).
    Network,
    /// `epoch_scores`, `zipcode_rankings` from the evidence on the epochs topic; the version
    /// names the weights (`v1`, or `v1_<label>` for another build of v1).
    Scores,
}

impl ProjectionKind {
    /// The projection's name in `projection_versions` and checkpoints.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Listing => "listing",
            Self::Trust => "trust",
            Self::Consensus => "consensus",
            Self::Epochs => "epochs",
            Self::Network => "network",
            Self::Scores => "scores",
        }
    }

    /// The projection by its name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Listing,
            Self::Trust,
            Self::Consensus,
            Self::Epochs,
            Self::Network,
            Self::Scores,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }

    /// Checks that this projection can be built as `version` (a consensus build checks its
    /// algorithm when it starts, see [`consensus::settle`]).
    pub fn check_version(self, version: &str) -> anyhow::Result<()> {
        versions::schema_name(self.as_str(), version)?;
        if self == Self::Scores {
            scores::weights(version)?;
        }
        Ok(())
    }

    /// The topic the projection folds.
    #[must_use]
    pub fn topic(self, topics: &Topics) -> String {
        match self {
            Self::Listing => topics.attestations(),
            Self::Trust => topics.uploads(),
            Self::Consensus => topics.attestations(),
            Self::Epochs => topics.epochs(),
            Self::Network => topics.network(),
            Self::Scores => topics.epochs(),
        }
    }

    /// Whether a version of this projection that is behind the log stages its batches and
    /// applies them in one pass at the log's end (see [`ProjectorConfig::stage_when_behind`]).
    #[must_use]
    pub const fn stages(self) -> bool {
        matches!(self, Self::Consensus | Self::Listing)
    }

    /// The tables of one version (`{schema}` stands for the version's schema).
    #[must_use]
    pub const fn ddl(self) -> &'static str {
        match self {
            Self::Listing => listing::DDL,
            Self::Trust => trust::DDL,
            Self::Consensus => consensus::DDL,
            Self::Epochs => epochs::DDL,
            Self::Network => network::DDL,
            Self::Scores => scores::DDL,
        }
    }

    async fn fold(
        self,
        transaction: &tokio_postgres::Transaction<'_>,
        (schema, version): (&str, &str),
        algorithm: Option<&dyn ConsensusAlgorithm>,
        events: &[&Event],
    ) -> anyhow::Result<usize> {
        match self {
            Self::Listing => listing::fold(transaction, schema, events).await,
            Self::Trust => trust::fold(transaction, schema, events).await,
            Self::Consensus => {
                let algorithm = algorithm.context("a consensus build folds with its algorithm")?;
                consensus::fold(transaction, schema, algorithm, events).await
            }
            Self::Epochs => epochs::fold(transaction, schema, events).await,
            Self::Network => network::fold(transaction, schema, events).await,
            Self::Scores => {
                scores::fold(transaction, schema, &scores::weights(version)?, events).await
            }
        }
    }
}

/// One projection version this instance folds.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionTarget {
    /// Which projection.
    pub projection: ProjectionKind,
    /// Its version (`v1`, …): the schema is `{projection}_{version}`.
    pub version: String,
    /// Consensus: the algorithm a new build runs (default: the one its version begins with,
    /// v1 or v2). A build records it when it first starts and runs that ever after.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Consensus: the algorithm's parameters, by name (default: its defaults).
    #[serde(default)]
    pub params: Params,
}

impl ProjectionTarget {
    /// `version` of `projection`, declaring no algorithm.
    #[must_use]
    pub fn new(projection: ProjectionKind, version: impl Into<String>) -> Self {
        Self {
            projection,
            version: version.into(),
            algorithm: None,
            params: Params::new(),
        }
    }

    /// The algorithm and parameters the target declares, if any.
    #[must_use]
    pub fn declared(&self) -> consensus::Declared<'_> {
        self.algorithm
            .as_deref()
            .map(|algorithm| (algorithm, &self.params))
    }
}

/// The `projector` configuration section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProjectorConfig {
    /// The projection versions to fold (default: listing, trust and consensus, each v1).
    pub projections: Vec<ProjectionTarget>,
    /// Which partitions of each projection's topic this instance owns.
    pub assignment: AssignmentConfig,
    /// Fold transactions each projection version runs at once. Each lane owns a share of the
    /// instance's partitions (round-robin) with a consumer of its own, so while one lane waits
    /// on Postgres another computes or writes; lanes never share a listing or a miner's
    /// uploads (both are partition keys), and shared rows (`miner_accuracy`) take deltas in one
    /// order. At most one lane per partition.
    pub fold_lanes: usize,
    /// Most records folded in one transaction.
    pub batch_max_events: usize,
    /// A version whose batches come full is behind the log (catching up after a replay
    /// started or an outage). With this on, the consensus and listing projections then stage
    /// each batch (consensus appends its reports; listing inserts its attestations and notes
    /// their listings) and, once a batch comes short of `batch_max_events` (or nothing arrives
    /// for `batch_max_wait_ms`) within a batch of the log's end, apply everything staged in one
    /// pass: a listing reported five times over the log is decided (or recomputed) and written
    /// once instead of five times. The tables end the same either way; staged records count in
    /// the lag until applied, and a version is caught up only once nothing is staged. Off:
    /// every batch is folded as it comes.
    pub stage_when_behind: bool,
    /// Staged reports an apply pass reads, decides and writes per round: enough for large
    /// writes, few enough to keep memory flat.
    pub apply_chunk_rows: usize,
    /// Longest wait for a batch to fill once its first record arrived, in milliseconds.
    pub batch_max_wait_ms: u64,
    /// How often each owned partition's lag is measured and exported, in seconds.
    pub lag_report_interval_secs: u64,
    /// Backoff while Postgres or the broker is unavailable (retried without limit).
    pub retry: RetryPolicy,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        Self {
            projections: vec![
                ProjectionTarget::new(ProjectionKind::Listing, "v1"),
                ProjectionTarget::new(ProjectionKind::Trust, "v1"),
                ProjectionTarget::new(ProjectionKind::Consensus, "v1"),
                ProjectionTarget::new(ProjectionKind::Epochs, "v1"),
                ProjectionTarget::new(ProjectionKind::Network, "v1"),
                ProjectionTarget::new(ProjectionKind::Scores, "v1"),
            ],
            assignment: AssignmentConfig::default(),
            fold_lanes: 2,
            batch_max_events: 20_000,
            stage_when_behind: true,
            apply_chunk_rows: 50_000,
            batch_max_wait_ms: 200,
            lag_report_interval_secs: 15,
            retry: RetryPolicy::default(),
        }
    }
}

/// Everything the projector binary reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProjectorServiceConfig {
    /// Where the projections live.
    pub postgres: PostgresConfig,
    /// The broker.
    pub kafka: KafkaConfig,
    /// Logs, traces and metrics.
    pub telemetry: TelemetryConfig,
    /// The projector itself.
    pub projector: ProjectorConfig,
}

/// One fold lane of a projection version: its partitions and their consumer.
struct Fold {
    kind: ProjectionKind,
    version: String,
    schema: String,
    topic: String,
    partitions: Vec<i32>,
    consumer: StreamConsumer,
    /// The consensus algorithm the build runs (consensus only).
    algorithm: Option<Arc<dyn ConsensusAlgorithm>>,
    /// Whether records of these partitions were staged and not applied when the lane started.
    staged_at_start: bool,
    /// The checkpoints of these partitions when the lane started.
    start_offsets: BTreeMap<i32, i64>,
    /// The lane's index among its version's lanes in this instance.
    lane: usize,
    /// Since when the lane has not moved on, and whether it is blocked; `None` while it folds.
    stalled: std::sync::Mutex<Option<(Instant, LaneState)>>,
}

impl Fold {
    fn lane(&self) -> Lane<'_> {
        Lane {
            projection: self.kind.as_str(),
            version: &self.version,
            topic: &self.topic,
            partitions: &self.partitions,
        }
    }

    fn set_stalled(&self, state: Option<LaneState>) {
        if let Ok(mut stalled) = self.stalled.lock() {
            *stalled = match (state, *stalled) {
                (None, _) => None,
                (Some(state), Some((since, current))) if current == state => Some((since, state)),
                (Some(state), _) => Some((Instant::now(), state)),
            };
        }
    }
}

/// The projector service: one fold loop per lane of each configured projection version.
pub struct Projector {
    config: ProjectorConfig,
    kafka: KafkaConfig,
    pool: Pool,
    folds: Vec<Fold>,
    /// Dead letters of records no projection can fold.
    producer: FutureProducer,
    topics: Topics,
}

impl Projector {
    /// Creates each version's tables (the first version of a projection goes live), reads its
    /// checkpoints and assigns its partitions at them.
    pub async fn build(config: &ProjectorServiceConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.projector.fold_lanes >= 1,
            "projector.fold_lanes must be at least 1"
        );
        let pool = resi_runtime::postgres::pool(&config.postgres)?;
        resi_runtime::postgres::check(&pool).await?;
        let topics = Topics::new(&config.kafka.topic_prefix);
        let mut folds = Vec::new();
        for target in &config.projector.projections {
            let kind = target.projection;
            kind.check_version(&target.version)?;
            let topic = kind.topic(&topics);
            let mut client = resi_runtime::postgres::connection(&pool).await?;
            // a new consensus build must say what it runs before its tables exist
            if kind == ProjectionKind::Consensus
                && consensus::recorded(&client, &target.version)
                    .await?
                    .is_none()
            {
                consensus::declared_algorithm(&target.version, target.declared())?;
            }
            let (schema, status) =
                versions::ensure(&mut client, kind.as_str(), &target.version, kind.ddl()).await?;
            let algorithm = match kind {
                ProjectionKind::Consensus => {
                    Some(consensus::settle(&mut client, &target.version, target.declared()).await?)
                }
                _ => None,
            };
            let count = kafka::keyed_partition_count(&config.kafka, &pool, &topic).await?;
            let partitions = config.projector.assignment.resolve(count)?;
            let (offsets, staged) =
                versions::positions(&client, kind.as_str(), &target.version, &topic).await?;
            for (lane, partitions) in lanes(&partitions, config.projector.fold_lanes)
                .into_iter()
                .enumerate()
            {
                let name = format!("resi-projector.{}.{}.{lane}", kind.as_str(), target.version);
                let consumer = kafka::assigned_consumer(&config.kafka, &name)?;
                kafka::assign_at(&consumer, &topic, &partitions, &offsets)?;
                tracing::info!(projection = kind.as_str(), version = %target.version, lane, %schema, %status, %topic, ?partitions, ?offsets, "projection assigned");
                folds.push(Fold {
                    kind,
                    algorithm: algorithm.clone(),
                    version: target.version.clone(),
                    schema: schema.clone(),
                    topic: topic.clone(),
                    staged_at_start: partitions
                        .iter()
                        .any(|partition| staged.contains_key(partition)),
                    start_offsets: partitions
                        .iter()
                        .map(|partition| (*partition, offsets.get(partition).copied().unwrap_or(0)))
                        .collect(),
                    partitions,
                    consumer,
                    lane,
                    stalled: std::sync::Mutex::new(None),
                });
            }
        }
        Ok(Self {
            config: config.projector.clone(),
            kafka: config.kafka.clone(),
            pool,
            folds,
            producer: kafka::producer(&config.kafka)?,
            topics,
        })
    }

    /// Folds until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let loops = self
            .folds
            .iter()
            .map(|fold| self.fold_loop(fold, shutdown.clone()));
        tokio::select! {
            result = futures::future::try_join_all(loops) => { result?; }
            () = self.report_lag(shutdown.clone()) => {}
        }
        Ok(())
    }

    /// Exports each owned partition's lag (`resi_projector_lag`) every
    /// `lag_report_interval_secs`: the log's end offset (one metadata round trip per topic)
    /// minus the version's checkpoint. Failures are logged and retried at the next tick: the
    /// gauge is for alerts, never a reason to stop folding.
    async fn report_lag(&self, mut shutdown: Shutdown) {
        let interval = Duration::from_secs(self.config.lag_report_interval_secs.max(1));
        loop {
            // listing and consensus versions share the attestations topic: its end offsets are
            // read once per tick
            let mut ends: BTreeMap<&str, BTreeMap<i32, i64>> = BTreeMap::new();
            // a version's lanes are built one after the other: its checkpoints are read once
            self.report_stalls();
            for lanes in self
                .folds
                .chunk_by(|one, next| one.kind == next.kind && one.version == next.version)
            {
                if let Err(error) = self.report_version_lag(lanes, &mut ends).await {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        projection = lanes.first().map(|fold| fold.kind.as_str()),
                        "failed to measure the lag"
                    );
                }
            }
            if !shutdown.sleep(interval).await {
                continue;
            }
            // shutdown: wait for the fold loops to stop
            std::future::pending::<()>().await;
        }
    }

    /// Exports the lag of the partitions that `lanes` (every lane of one version) own.
    async fn report_version_lag<'a>(
        &self,
        lanes: &'a [Fold],
        ends: &mut BTreeMap<&'a str, BTreeMap<i32, i64>>,
    ) -> anyhow::Result<()> {
        // chunk_by never yields an empty chunk
        let Some(fold) = lanes.first() else {
            return Ok(());
        };
        let topic_ends = match ends.entry(&fold.topic) {
            std::collections::btree_map::Entry::Occupied(read) => read.into_mut(),
            std::collections::btree_map::Entry::Vacant(unread) => {
                unread.insert(kafka::end_offsets(&self.kafka, &fold.topic).await?)
            }
        };
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        let progress =
            crate::operate::progress_at(&client, fold.kind, &fold.version, &fold.topic, topic_ends)
                .await?;
        for (partition, lag) in progress.lag_by_partition() {
            if lanes
                .iter()
                .any(|lane| lane.partitions.contains(&partition))
            {
                metrics::lag(fold.kind.as_str(), &fold.version, partition, lag);
            }
        }
        Ok(())
    }

    /// Exports how long each lane has not moved on.
    fn report_stalls(&self) {
        for fold in &self.folds {
            let stalled = fold.stalled.lock().ok().and_then(|stalled| *stalled);
            let (seconds, blocked) = stalled.map_or((0.0, false), |(since, state)| {
                (since.elapsed().as_secs_f64(), state == LaneState::Blocked)
            });
            metrics::stalled(
                fold.kind.as_str(),
                &fold.version,
                fold.lane,
                seconds,
                blocked,
            );
        }
    }

    /// Folds batch after batch. While one batch is folded (most of its time is Postgres's),
    /// the next one is consumed and decoded, so the two overlap. Only a committed batch moves
    /// the checkpoint: a batch taken ahead and not yet folded when the process stops is simply
    /// read again from the checkpoint on the next start.
    ///
    /// A full batch of a projection that stages is staged; the first batch that is not full
    /// (or no record within the batch window) while the lane stands within a batch of the
    /// log's end first applies what the lane staged.
    async fn fold_loop(&self, fold: &Fold, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let projection = fold.kind.as_str();
        // a fault recorded before a restart is recorded again if it is still there
        self.clear_faults(fold).await;
        let mut backoff = Backoff::endless(&self.config.retry);
        let mut ahead: Option<anyhow::Result<Batch>> = None;
        let mut staged = fold.staged_at_start;
        // where the consumer stands in each partition, as far as the batches taken tell
        let mut positions = fold.start_offsets.clone();
        loop {
            let batch = match ahead.take() {
                Some(batch) => batch,
                None => tokio::select! {
                    () = shutdown.wait() => return Ok(()),
                    batch = self.next_batch(fold, staged) => batch,
                },
            };
            let consumed = match batch {
                Ok(consumed) => consumed,
                Err(error) => {
                    metrics::failure(projection, "consume");
                    let delay = backoff.pause();
                    let detail = format!("consuming: {error:#}");
                    tracing::warn!(error = detail, projection, "kafka consumer error");
                    self.record_fault(fold, LaneState::Retrying, &detail).await;
                    if shutdown.sleep(delay).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            positions.extend(&consumed.next_offsets);
            if let Some(blocked) = &consumed.blocked {
                // fold what came before the newer event, and take nothing after it
                if staged
                    && !self
                        .apply_until_committed(fold, &mut backoff, &mut shutdown)
                        .await
                {
                    return Ok(());
                }
                if consumed.records > 0
                    && self
                        .fold_until_committed(fold, &consumed, false, &mut backoff, &mut shutdown)
                        .await
                        .is_none()
                {
                    return Ok(());
                }
                return self.wait_blocked(fold, blocked, shutdown).await;
            }
            let stage = if !(self.config.stage_when_behind && fold.kind.stages()) {
                false
            } else if consumed.records >= self.config.batch_max_events {
                true
            } else if staged {
                // a short (or empty) batch while staging: the log's end, or only a slow fetch
                self.far_behind(fold, &positions).await
            } else {
                false
            };
            if staged && !stage {
                if !self
                    .apply_until_committed(fold, &mut backoff, &mut shutdown)
                    .await
                {
                    return Ok(());
                }
                staged = false;
            }
            if consumed.records == 0 {
                continue;
            }
            let mut watch_next = shutdown.clone();
            let (committed, next) = tokio::join!(
                self.fold_until_committed(fold, &consumed, stage, &mut backoff, &mut shutdown),
                async {
                    tokio::select! {
                        () = watch_next.wait() => None,
                        batch = self.next_batch(fold, staged || stage) => Some(batch),
                    }
                }
            );
            match committed {
                // records staged by this batch, or found staged by another folder
                Some(found_staged) => staged |= stage || found_staged,
                None => return Ok(()),
            }
            match next {
                Some(batch) => ahead = Some(batch),
                None => return Ok(()),
            }
        }
    }

    /// Runs `attempt` until it succeeds, retrying failures (counted as `kind` in
    /// `resi_projector_failures_total`) with backoff; `None` if shutdown came first. The attempts
    /// are transactions that fail only for reasons that are retried (a batch's data the database
    /// refuses is isolated inside the attempt, see [`Self::fold_batch`]); while they fail, the
    /// lane's partitions are recorded as retrying, for `/ready` and the stall alert.
    async fn until_committed<T, F, Attempt>(
        &self,
        fold: &Fold,
        kind: &'static str,
        backoff: &mut Backoff,
        shutdown: &mut Shutdown,
        mut attempt: F,
    ) -> Option<T>
    where
        F: FnMut() -> Attempt,
        Attempt: std::future::Future<Output = anyhow::Result<T>>,
    {
        let projection = fold.kind.as_str();
        let mut failed = false;
        loop {
            match attempt().await {
                Ok(done) => {
                    backoff.reset();
                    if failed {
                        self.clear_faults(fold).await;
                    }
                    return Some(done);
                }
                Err(error) => {
                    failed = true;
                    metrics::failure(projection, kind);
                    let delay = backoff.pause();
                    let detail = format!("{kind}: {error:#}");
                    tracing::error!(
                        error = detail,
                        projection,
                        kind,
                        delay_ms = delay.as_millis() as u64,
                        "{kind} failed, retrying"
                    );
                    self.record_fault(fold, LaneState::Retrying, &detail).await;
                    if shutdown.sleep(delay).await {
                        return None;
                    }
                }
            }
        }
    }

    /// Stops the lane at an event of a newer schema version than this release reads: it is not
    /// skipped (that would lose it), it waits for a release that reads it, and says so until
    /// shutdown (the projector's restart after the upgrade resumes at it).
    async fn wait_blocked(
        &self,
        fold: &Fold,
        blocked: &Blocked,
        mut shutdown: Shutdown,
    ) -> anyhow::Result<()> {
        let detail = format!(
            "partition {} offset {}: {}; upgrade the projector to read it",
            blocked.partition, blocked.offset, blocked.detail
        );
        fold.set_stalled(Some(LaneState::Blocked));
        loop {
            tracing::error!(
                projection = fold.kind.as_str(),
                version = %fold.version,
                detail,
                "lane blocked at an event of a newer schema version"
            );
            self.record_fault(fold, LaneState::Blocked, &detail).await;
            if shutdown.sleep(Duration::from_secs(60)).await {
                return Ok(());
            }
        }
    }

    /// Records the lane's fault for `/ready`; best effort (the database may be the fault).
    async fn record_fault(&self, fold: &Fold, state: LaneState, detail: &str) {
        fold.set_stalled(Some(state));
        let recorded = async {
            let client = resi_runtime::postgres::connection(&self.pool).await?;
            faults::record(&client, fold.lane(), state, detail).await
        };
        if let Err(error) = recorded.await {
            tracing::debug!(
                error = format!("{error:#}"),
                "failed to record a lane fault"
            );
        }
    }

    /// Records that the lane folds normally; best effort.
    async fn clear_faults(&self, fold: &Fold) {
        fold.set_stalled(None);
        let cleared = async {
            let client = resi_runtime::postgres::connection(&self.pool).await?;
            faults::clear(&client, fold.lane()).await
        };
        if let Err(error) = cleared.await {
            tracing::debug!(error = format!("{error:#}"), "failed to clear lane faults");
        }
    }

    /// Whether the lane's partitions still hold more than a batch past `positions`: then a
    /// short batch came from a slow fetch, not from the log's end, and staging goes on. An
    /// unreadable end counts as the end (applying early is only slower).
    async fn far_behind(&self, fold: &Fold, positions: &BTreeMap<i32, i64>) -> bool {
        match kafka::end_offsets(&self.kafka, &fold.topic).await {
            Ok(ends) => {
                let remaining: i64 = fold
                    .partitions
                    .iter()
                    .map(|partition| {
                        let end = ends.get(partition).copied().unwrap_or(0);
                        let at = positions.get(partition).copied().unwrap_or(0);
                        (end - at).max(0)
                    })
                    .sum();
                remaining > i64::try_from(self.config.batch_max_events).unwrap_or(i64::MAX)
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    projection = fold.kind.as_str(),
                    "failed to read the log's end; applying the staged records"
                );
                false
            }
        }
    }

    /// Applies what the lane staged until it commits, retrying with backoff; `false` if
    /// shutdown came first.
    async fn apply_until_committed(
        &self,
        fold: &Fold,
        backoff: &mut Backoff,
        shutdown: &mut Shutdown,
    ) -> bool {
        let span = tracing::info_span!("apply_staged", projection = fold.kind.as_str(), version = %fold.version);
        self.until_committed(fold, "apply", backoff, shutdown, || {
            self.apply_staged(fold).instrument(span.clone())
        })
        .await
        .is_some()
    }

    /// Applies the records staged from the lane's partitions, and marks them applied, in one
    /// transaction.
    async fn apply_staged(&self, fold: &Fold) -> anyhow::Result<()> {
        let started = Instant::now();
        let projection = fold.kind.as_str();
        let mut client = resi_runtime::postgres::connection(&self.pool).await?;
        let transaction = client.transaction().await.context("failed to begin")?;
        lock_partitions(&transaction, projection, &fold.version, &fold.partitions).await?;
        // staged records applied, and the upload times of staged attestations from the last day
        let (applied, recent_uploads) = match fold.kind {
            ProjectionKind::Consensus => (
                consensus::apply_staged(
                    &transaction,
                    &fold.schema,
                    fold.algorithm
                        .as_deref()
                        .context("a consensus build applies with its algorithm")?,
                    &fold.partitions,
                    self.config.apply_chunk_rows,
                )
                .await?,
                Vec::new(),
            ),
            ProjectionKind::Listing => {
                let applied =
                    listing::apply_staged(&transaction, &fold.schema, &fold.partitions).await?;
                (applied.attestations, applied.recent_uploads)
            }
            ProjectionKind::Trust
            | ProjectionKind::Epochs
            | ProjectionKind::Network
            | ProjectionKind::Scores => (0, Vec::new()),
        };
        versions::store_applied(
            &transaction,
            projection,
            &fold.version,
            &fold.topic,
            &fold.partitions,
        )
        .await?;
        transaction
            .commit()
            .await
            .context("failed to commit applying staged records")?;
        metrics::events(projection, &fold.version, "applied", applied);
        metrics::apply(projection, applied, started.elapsed());
        resi_runtime::metrics::postgres("projector.apply", started.elapsed());
        tracing::info!(projection, version = %fold.version, partitions = ?fold.partitions, applied, elapsed_ms = started.elapsed().as_millis() as u64, "staged records applied");
        // staged attestations of recent uploads became visible in the listings only now
        let now = chrono::Utc::now();
        for uploaded in recent_uploads {
            metrics::visible((now - uploaded).num_milliseconds() as f64 / 1e3);
        }
        // A pass writes most of a catch-up's rows at once. The live batches that follow look
        // listings up by id, and on tables the planner has no statistics for it reads a list
        // of ids by scanning the whole table; autovacuum, when it runs at all, analyses them
        // minutes later. Best effort, after the commit, so no lock outlives the pass.
        if applied == 0 {
            return Ok(());
        }
        let analysed = match fold.kind {
            ProjectionKind::Consensus => consensus::analyze(&client, &fold.schema).await,
            ProjectionKind::Listing => listing::analyze(&client, &fold.schema).await,
            ProjectionKind::Trust
            | ProjectionKind::Epochs
            | ProjectionKind::Network
            | ProjectionKind::Scores => Ok(()),
        };
        if let Err(error) = analysed {
            tracing::warn!(
                error = format!("{error:#}"),
                projection,
                "failed to analyse the tables after a pass"
            );
        }
        Ok(())
    }

    /// Folds (or stages) `consumed` until it commits, retrying with backoff; whether records
    /// of the batch's partitions stand staged, or `None` if shutdown came first.
    async fn fold_until_committed(
        &self,
        fold: &Fold,
        consumed: &Batch,
        stage: bool,
        backoff: &mut Backoff,
        shutdown: &mut Shutdown,
    ) -> Option<bool> {
        let projection = fold.kind.as_str();
        // the batch continues the trace of its first upload and links the others
        let span = tracing::info_span!(
            "fold_batch",
            projection,
            version = %fold.version,
            records = consumed.records,
            stage
        );
        resi_runtime::telemetry::continue_trace(
            &span,
            consumed.traces.first().copied(),
            &consumed.traces,
        );
        // a batch is folded until it commits: the consumer has moved past it
        self.until_committed(fold, "fold", backoff, shutdown, || {
            self.fold_batch(fold, consumed, stage)
                .instrument(span.clone())
        })
        .await
    }

    /// Waits for one record, then takes what arrives within the batch window. A consumer error
    /// after the first record ends the batch early: the records taken so far are past the
    /// consumer's position and must be folded, not dropped. With `staged` (records wait to be
    /// applied) an empty batch comes back after one batch window without records.
    async fn next_batch(&self, fold: &Fold, staged: bool) -> anyhow::Result<Batch> {
        let projection = fold.kind.as_str();
        let window = Duration::from_millis(self.config.batch_max_wait_ms);
        let mut batch = Batch::default();
        let first = if staged {
            match tokio::time::timeout(window, fold.consumer.recv()).await {
                Ok(first) => first?,
                Err(_) => return Ok(batch),
            }
        } else {
            fold.consumer.recv().await?
        };
        if !batch.push(&first, projection) {
            return Ok(batch);
        }
        let deadline = Instant::now() + window;
        while batch.records < self.config.batch_max_events {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, fold.consumer.recv()).await {
                Ok(Ok(message)) => {
                    if !batch.push(&message, projection) {
                        break;
                    }
                }
                Ok(Err(error)) => {
                    metrics::failure(projection, "consume");
                    tracing::warn!(%error, projection, "kafka consumer error; folding the batch so far");
                    break;
                }
                Err(_) => break,
            }
        }
        Ok(batch)
    }

    /// Folds `batch` (or stages it) and moves the checkpoints in one transaction; whether
    /// records of the batch's partitions stand staged afterwards.
    ///
    /// If the database refuses the batch for what it holds (a value out of a column's range, a
    /// constraint: [`Fault::Data`]), the batch is folded again halving it under savepoints
    /// until the refused events stand alone: they are recorded in `projection_refusals` and
    /// dead-lettered, the rest is folded, and the checkpoint moves on. Halves are folded in
    /// order, so a projection that depends on order (trust) sees the same order. Records that
    /// are no event are dead-lettered too. Anything else fails the attempt, which is retried.
    async fn fold_batch(&self, fold: &Fold, batch: &Batch, stage: bool) -> anyhow::Result<bool> {
        let started = Instant::now();
        let projection = fold.kind.as_str();
        let mut client = resi_runtime::postgres::connection(&self.pool).await?;
        let mut transaction = client.transaction().await.context("failed to begin")?;
        // Whoever else folds these partitions of this version (a second instance by mistake,
        // an operator's replay beside the projector) waits here, and then skips what was
        // folded meanwhile: an offset is folded exactly once per version.
        let partitions: Vec<i32> = batch.next_offsets.keys().copied().collect();
        lock_partitions(&transaction, projection, &fold.version, &partitions).await?;
        let (folded_up_to, staged) =
            versions::positions(&transaction, projection, &fold.version, &fold.topic).await?;
        let fresh = |partition: &i32, offset: &i64| {
            folded_up_to
                .get(partition)
                .is_none_or(|next| offset >= next)
        };
        let events: Vec<(i32, i64, &Event)> = batch
            .events
            .iter()
            .filter(|(partition, offset, _)| fresh(partition, offset))
            .map(|(partition, offset, event)| (*partition, *offset, event))
            .collect();
        let already = batch.events.len() - events.len();
        let (folded, refusals) = match self.fold_events(fold, &transaction, &events, stage).await {
            Ok(folded) => (folded, Vec::new()),
            Err(error) if fault_of(&error) == Fault::Data => {
                // the failed statement aborted the transaction: begin again, isolating
                drop(transaction);
                transaction = client.transaction().await.context("failed to begin")?;
                lock_partitions(&transaction, projection, &fold.version, &partitions).await?;
                tracing::warn!(error = format!("{error:#}"), projection, version = %fold.version, "the database refused a batch; isolating the events it refuses");
                Box::pin(self.fold_isolating(fold, &mut transaction, &events, stage)).await?
            }
            Err(error) => return Err(error),
        };
        let undecodable: Vec<&Undecodable> = batch
            .undecodable
            .iter()
            .filter(|record| fresh(&record.partition, &record.offset))
            .collect();
        faults::store_refusals(
            &transaction,
            projection,
            &fold.version,
            &fold.topic,
            &refusals,
        )
        .await?;
        versions::store_checkpoints(
            &transaction,
            projection,
            &fold.version,
            &fold.topic,
            &batch.next_offsets,
            stage.then_some(&batch.first_offsets),
        )
        .await?;
        // before the commit: a dead letter published twice is one event (its id is its
        // position and reason), one never published would be lost
        self.dead_letter(fold, &refusals, &undecodable).await?;
        transaction
            .commit()
            .await
            .context("failed to commit a batch")?;
        let outcome = if stage { "staged" } else { "folded" };
        metrics::events(projection, &fold.version, outcome, folded);
        metrics::events(projection, &fold.version, "already_folded", already);
        if !stage {
            metrics::events(
                projection,
                &fold.version,
                "skipped",
                events.len().saturating_sub(folded + refusals.len()),
            );
        }
        metrics::events(projection, &fold.version, "undecodable", undecodable.len());
        metrics::refused(projection, &fold.version, refusals.len());
        metrics::batch(projection, batch.records, started.elapsed());
        resi_runtime::metrics::postgres("projector.batch", started.elapsed());
        // staged attestations become visible in the listings when applied (see apply_staged)
        if fold.kind == ProjectionKind::Listing && !stage {
            let plain: Vec<&Event> = events.iter().map(|(_, _, event)| *event).collect();
            record_visibility(&plain);
        }
        Ok(stage
            || partitions
                .iter()
                .any(|partition| staged.contains_key(partition)))
    }

    /// Folds (or stages) `events` in `transaction`; how many were new.
    async fn fold_events(
        &self,
        fold: &Fold,
        transaction: &tokio_postgres::Transaction<'_>,
        events: &[(i32, i64, &Event)],
        stage: bool,
    ) -> anyhow::Result<usize> {
        if !stage {
            let plain: Vec<&Event> = events.iter().map(|(_, _, event)| *event).collect();
            return fold
                .kind
                .fold(
                    transaction,
                    (&fold.schema, &fold.version),
                    fold.algorithm.as_deref(),
                    &plain,
                )
                .await;
        }
        let by_partition: Vec<(i32, &Event)> = events
            .iter()
            .map(|(partition, _, event)| (*partition, *event))
            .collect();
        match fold.kind {
            ProjectionKind::Consensus => {
                consensus::stage(transaction, &fold.schema, &by_partition).await
            }
            ProjectionKind::Listing => {
                listing::stage(transaction, &fold.schema, &by_partition).await
            }
            ProjectionKind::Trust
            | ProjectionKind::Epochs
            | ProjectionKind::Network
            | ProjectionKind::Scores => {
                anyhow::bail!("the {} projection does not stage", fold.kind.as_str())
            }
        }
    }

    /// Folds `events` under a savepoint; where the database refuses them for their data, folds
    /// each half again, in order, down to single events, which are refused. How many were
    /// new, and the refused ones.
    async fn fold_isolating(
        &self,
        fold: &Fold,
        transaction: &mut tokio_postgres::Transaction<'_>,
        events: &[(i32, i64, &Event)],
        stage: bool,
    ) -> anyhow::Result<(usize, Vec<Refusal>)> {
        if events.is_empty() {
            return Ok((0, Vec::new()));
        }
        let savepoint = transaction
            .savepoint("isolate")
            .await
            .context("failed to set a savepoint")?;
        let error = match self.fold_events(fold, &savepoint, events, stage).await {
            Ok(folded) => {
                savepoint
                    .commit()
                    .await
                    .context("failed to release a savepoint")?;
                return Ok((folded, Vec::new()));
            }
            Err(error) if fault_of(&error) == Fault::Data => error,
            Err(error) => return Err(error),
        };
        savepoint
            .rollback()
            .await
            .context("failed to roll back to a savepoint")?;
        if let [(partition, offset, event)] = events {
            let refusal = Refusal {
                partition: *partition,
                offset: *offset,
                event_id: event.id,
                key: event.payload.partition_key().to_owned(),
                payload: codec::encode(event),
                detail: format!(
                    "{} {}: {}",
                    fold.kind.as_str(),
                    fold.version,
                    database_message(&error)
                ),
            };
            tracing::warn!(partition, offset, event_id = %event.id, detail = refusal.detail, "event refused by the database, dead-lettered");
            return Ok((0, vec![refusal]));
        }
        let (left, right) = events.split_at(events.len() / 2);
        let (left_folded, mut refused) =
            Box::pin(self.fold_isolating(fold, transaction, left, stage)).await?;
        let (right_folded, right_refused) =
            Box::pin(self.fold_isolating(fold, transaction, right, stage)).await?;
        refused.extend(right_refused);
        Ok((left_folded + right_folded, refused))
    }

    /// Publishes the dead letters of refused events and of records that are no event.
    async fn dead_letter(
        &self,
        fold: &Fold,
        refusals: &[Refusal],
        undecodable: &[&Undecodable],
    ) -> anyhow::Result<()> {
        let projection = fold.kind.as_str();
        let letters = refusals
            .iter()
            .map(|refusal| DeadLettered {
                subject: DeadLetterSubject::Record {
                    topic: fold.topic.clone(),
                    partition: refusal.partition,
                    offset: refusal.offset,
                    key: refusal.key.clone(),
                    payload: refusal.payload.clone(),
                },
                reason: DeadLetterReason::RefusedByProjection,
                detail: refusal.detail.clone(),
                attempts: 1,
            })
            .chain(undecodable.iter().map(|record| DeadLettered {
                subject: DeadLetterSubject::Record {
                    topic: fold.topic.clone(),
                    partition: record.partition,
                    offset: record.offset,
                    key: record.key.clone(),
                    payload: record.payload.clone(),
                },
                reason: DeadLetterReason::UndecodableEvent,
                detail: record.detail.clone(),
                attempts: 1,
            }));
        for letter in letters {
            let reason = letter.reason.as_str();
            let event = Event::new(
                EventPayload::DeadLettered(letter),
                Timestamp::now(),
                Timestamp::now(),
            );
            kafka::publish(&self.producer, &self.topics.dead_letters(), &event).await?;
            metrics::dead_lettered(projection, &fold.version, reason, 1);
        }
        Ok(())
    }
}

/// What the database said of a failed statement: its SQLSTATE and message when there is one.
fn database_message(error: &anyhow::Error) -> String {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<tokio_postgres::Error>())
        .and_then(tokio_postgres::Error::as_db_error)
        .map_or_else(
            || format!("{error:#}"),
            |db| format!("{} {}", db.code().code(), db.message()),
        )
}

/// Takes the version's advisory lock of each of `partitions` (in the transaction), in order,
/// so that two folders of one version never interleave on a partition nor deadlock.
async fn lock_partitions(
    transaction: &tokio_postgres::Transaction<'_>,
    projection: &str,
    version: &str,
    partitions: &[i32],
) -> anyhow::Result<()> {
    let key = versions::lock_key(projection, version);
    let mut ordered = partitions.to_vec();
    ordered.sort_unstable();
    for partition in ordered {
        transaction
            .execute("SELECT pg_advisory_xact_lock($1, $2)", &[&key, &partition])
            .await
            .context("failed to lock the batch's partitions")?;
    }
    Ok(())
}

/// `partitions` dealt round-robin into at most `lanes` non-empty lanes (one empty lane when
/// the instance owns no partition, so it still reports as assigned).
fn lanes(partitions: &[i32], lanes: usize) -> Vec<Vec<i32>> {
    let count = lanes.clamp(1, partitions.len().max(1));
    let mut dealt = vec![Vec::new(); count];
    for (index, partition) in partitions.iter().enumerate() {
        dealt[index % count].push(*partition);
    }
    dealt
}

/// How long after its upload each attestation became visible in the listings (committed), for
/// uploads of the last day: a replay of old history would only drown the live figure.
fn record_visibility(events: &[&Event]) {
    const DAY_MICROS: i64 = 86_400_000_000;
    let now = resi_events::Timestamp::now().as_micros();
    for event in events {
        if let resi_events::EventPayload::ListingAttested(attested) = &event.payload {
            let delay = now - attested.submitted_at.as_micros();
            if (0..=DAY_MICROS).contains(&delay) {
                metrics::visible(delay as f64 / 1e6);
            }
        }
    }
}

/// Traces one batch's span continues or links to, at most.
const MAX_TRACE_LINKS: usize = 32;

/// Consumed records, decoded once: the events, each partition's next offset, the records
/// that are no event (dead-lettered with the batch), and the first event of a newer schema
/// version, where the batch ends.
#[derive(Default)]
struct Batch {
    /// (partition, offset, event) in consumption order.
    events: Vec<(i32, i64, Event)>,
    /// The distinct trace contexts the records carry (one per upload), first seen first.
    traces: Vec<resi_runtime::telemetry::TraceParent>,
    next_offsets: BTreeMap<i32, i64>,
    /// Each partition's first offset in the batch.
    first_offsets: BTreeMap<i32, i64>,
    records: usize,
    undecodable: Vec<Undecodable>,
    /// An event this release cannot read yet: the batch ends before it.
    blocked: Option<Blocked>,
}

/// A record that does not decode as an event.
struct Undecodable {
    partition: i32,
    offset: i64,
    key: String,
    payload: Vec<u8>,
    detail: String,
}

/// Where a lane stops: an event of a newer schema version.
#[derive(Clone, Debug)]
struct Blocked {
    partition: i32,
    offset: i64,
    detail: String,
}

impl Batch {
    /// Takes one record; `false` once the batch must end (before a record of a newer schema).
    fn push(&mut self, message: &rdkafka::message::BorrowedMessage<'_>, projection: &str) -> bool {
        let payload = message.payload().unwrap_or_default();
        let decoded = codec::decode(payload);
        if let Err(error @ DecodeError::UnsupportedSchemaVersion { .. }) = &decoded {
            // neither folded nor skipped: the lane waits for a release that reads it
            self.blocked = Some(Blocked {
                partition: message.partition(),
                offset: message.offset(),
                detail: error.to_string(),
            });
            return false;
        }
        self.records += 1;
        self.next_offsets
            .insert(message.partition(), message.offset() + 1);
        self.first_offsets
            .entry(message.partition())
            .or_insert(message.offset());
        if let Some(trace) = kafka::trace_of(message)
            && !self.traces.contains(&trace)
            // a batch of many uploads links a bounded number of them
            && self.traces.len() < MAX_TRACE_LINKS
        {
            self.traces.push(trace);
        }
        match decoded {
            Ok(event) => self
                .events
                .push((message.partition(), message.offset(), event)),
            Err(error) => {
                tracing::warn!(%error, projection, partition = message.partition(), offset = message.offset(), "undecodable record dead-lettered");
                self.undecodable.push(Undecodable {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                    payload: payload.to_vec(),
                    detail: error.to_string(),
                });
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::lanes;

    #[test]
    fn partitions_are_dealt_round_robin_into_at_most_one_lane_each() {
        assert_eq!(lanes(&[0, 1, 2, 3, 4], 2), vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(lanes(&[7], 4), vec![vec![7]]);
        assert_eq!(lanes(&[0, 1, 2], 1), vec![vec![0, 1, 2]]);
        assert_eq!(lanes(&[], 3), vec![Vec::<i32>::new()]);
    }
}
