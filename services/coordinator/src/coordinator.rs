//! The coordinator's loop: one instance leads (a Postgres advisory lock held by its session),
//! reads what the epochs topic already says, opens the epochs that are due and closes the
//! ones whose grace period is over.
//!
//! The log is its only memory. Whether an epoch is open, which zipcodes earlier epochs
//! assigned (for cooldown and rotation) and which honeypots an epoch hid (sealed in its
//! opening) are all read back from the epochs topic, so a restart, a new machine or a standby
//! taking over continue exactly where the last leader stopped. An epoch is opened only when the
//! topic, read to its end by the leader, has no opening for it: a restart, a missed boundary or
//! a second instance never opens one twice. Should two openings ever reach the log (a leader
//! cut off from Postgres an instant before it publishes), the epochs projection keeps the first
//! and records the other as a conflict.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rdkafka::producer::FutureProducer;
use resi_events::{
    EpochClosed, EpochOpened, EpochZipcode, Event, EventPayload, MarketTier, Timestamp, Topics,
    codec, honeypot_commitment,
};
use resi_runtime::config::{KafkaConfig, PostgresConfig, TelemetryConfig};
use resi_runtime::kafka;
use serde::Deserialize;

use resi_projections::scores::Fabrication;

pub use crate::ledger::Ledger;
use crate::reference::{self, ReferenceZipcode, ZipcodeType};
use crate::schedule::{Schedule, Window, timestamp};
use crate::secrets::{self, Secret};
use crate::selection::{self, Candidate, Pool, SelectionConfig};

/// The selection algorithm's version, as miners see it.
pub const ALGORITHM_VERSION: &str = "v1.0";

/// The 50 states and DC: where listings are scraped unless `selection.states` says otherwise.
const STATES: [&str; 51] = [
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL", "IN",
    "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ",
    "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA",
    "WI", "WV", "WY",
];

/// The `coordinator` configuration section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoordinatorConfig {
    /// The epoch calendar.
    pub schedule: Schedule,
    /// The zipcode selection.
    pub selection: SelectionConfig,
    /// The secret of the nonces, selection seeds and honeypot seals (required; from a
    /// Kubernetes Secret in production). Changing it while an epoch is open leaves that epoch
    /// unclosable: rotate between epochs.
    pub nonce_secret: Secret,
    /// How often the leader looks at the clock, and a standby tries to lead, in milliseconds.
    pub tick_interval_ms: u64,
    /// Longest wait for the epochs topic to be read to its end, in seconds.
    pub read_timeout_secs: u64,
    /// Minutes after an epoch's closing (the end of its grace period) before its evidence is
    /// gathered: time for the last accepted uploads to reach the projections. The scores are
    /// then ready within the validators' window (COMPLETED).
    pub evidence_delay_minutes: u32,
    /// A reported listing farther than this from its zipcode's reference point is impossible,
    /// kilometres (distances are counted in whole kilometres, rounded up).
    pub far_km: f64,
    /// Fabricating epochs (since the last unban) after which a miner is banned.
    pub ban_after_epochs: u32,
    /// Minutes after an epoch's closing before the validators' results published by then are
    /// decided (each validator's latest counts; later ones are kept, not counted).
    pub validation_delay_minutes: u32,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self {
            schedule: Schedule::default(),
            selection: SelectionConfig::default(),
            nonce_secret: Secret::default(),
            tick_interval_ms: 10_000,
            read_timeout_secs: 30,
            evidence_delay_minutes: 5,
            far_km: 50.0,
            ban_after_epochs: 5,
            validation_delay_minutes: 60,
        }
    }
}

/// The coordinator's whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CoordinatorServiceConfig {
    /// Reference data, consensus and the leader lock.
    pub postgres: PostgresConfig,
    /// The broker.
    pub kafka: KafkaConfig,
    /// Logs, traces and metrics.
    pub telemetry: TelemetryConfig,
    /// The coordinator itself.
    pub coordinator: CoordinatorConfig,
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Whether this instance led.
    pub leader: bool,
    /// Epochs opened, by id.
    pub opened: Vec<String>,
    /// Epochs closed, by id.
    pub closed: Vec<String>,
    /// Epochs whose evidence was recorded, by id.
    pub evidenced: Vec<String>,
    /// Miners banned, by hotkey.
    pub banned: Vec<String>,
    /// Epochs whose validators' verdicts were recorded, by id.
    pub validated: Vec<String>,
}

/// A coordinator instance.
pub struct Coordinator {
    config: CoordinatorConfig,
    kafka: KafkaConfig,
    postgres: PostgresConfig,
    pool: deadpool_postgres::Pool,
    producer: FutureProducer,
    topic: String,
    /// Where trust penalties go: the miners' uploads topic.
    uploads_topic: String,
    lock_key: i64,
    leader: Option<tokio_postgres::Client>,
    ledger: Ledger,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Coordinator")
            .field("topic", &self.topic)
            .field("leader", &self.leader.is_some())
            .finish_non_exhaustive()
    }
}

impl Coordinator {
    /// Checks the configuration, the epochs topic (one partition) and Postgres.
    pub async fn build(config: &CoordinatorServiceConfig) -> anyhow::Result<Self> {
        let settings = &config.coordinator;
        anyhow::ensure!(
            !settings.nonce_secret.is_empty(),
            "coordinator.nonce_secret is required (RESI__COORDINATOR__NONCE_SECRET)"
        );
        settings.schedule.validate()?;
        settings.selection.validate()?;
        let pool = resi_runtime::postgres::pool(&config.postgres)?;
        resi_runtime::postgres::check(&pool).await?;
        let topic = Topics::new(&config.kafka.topic_prefix).epochs();
        let partitions = kafka::keyed_partition_count(&config.kafka, &pool, &topic).await?;
        anyhow::ensure!(
            partitions == 1,
            "topic {topic} has {partitions} partitions; epochs need exactly one (total order)"
        );
        let uploads_topic = Topics::new(&config.kafka.topic_prefix).uploads();
        kafka::keyed_partition_count(&config.kafka, &pool, &uploads_topic).await?;
        let lock_key = i64::from_le_bytes(
            blake3::hash(format!("resi.coordinator:{topic}").as_bytes()).as_bytes()[..8]
                .try_into()
                .unwrap_or_default(),
        );
        Ok(Self {
            config: settings.clone(),
            kafka: config.kafka.clone(),
            postgres: config.postgres.clone(),
            pool,
            producer: kafka::producer(&config.kafka)?,
            topic,
            uploads_topic,
            lock_key,
            leader: None,
            ledger: Ledger::default(),
        })
    }

    /// What the log said at the last tick.
    #[must_use]
    pub const fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Runs ticks on the system clock until `shutdown`; an unavailable broker or database is
    /// retried at the next tick, never fatal.
    pub async fn run(
        mut self,
        mut shutdown: resi_runtime::shutdown::Shutdown,
    ) -> anyhow::Result<()> {
        let interval = Duration::from_millis(self.config.tick_interval_ms.max(100));
        loop {
            match self.tick(Utc::now()).await {
                Ok(report) => crate::metrics::tick(&report),
                Err(error) => {
                    crate::metrics::failure();
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "coordinator tick failed; retrying at the next"
                    );
                }
            }
            tokio::select! {
                () = shutdown.wait() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
        if let Some(leader) = self.leader.take() {
            // ending the session releases the lock at once, so a standby takes over at its
            // next tick
            drop(leader);
        }
        Ok(())
    }

    /// Does what is due at `now`: leads if it can, opens due epochs, closes finished ones.
    #[tracing::instrument(skip(self), fields(now = %now))]
    pub async fn tick(&mut self, now: DateTime<Utc>) -> anyhow::Result<TickReport> {
        let mut report = TickReport::default();
        if !self.lead().await? {
            return Ok(report);
        }
        report.leader = true;
        self.refresh().await?;
        let schedule = self.config.schedule.clone();
        let current = schedule.window_at(now);
        let next = schedule.next(&current);
        let current_id = current.id.clone();
        for window in [current, next] {
            let due = now >= window.start - schedule.pending_lead() && now < window.end;
            if due && !self.ledger.opened.contains_key(&window.id) {
                self.open(&window, now).await?;
                report.opened.push(window.id.clone());
            }
        }
        crate::metrics::current_epoch_open(self.ledger.opened.contains_key(&current_id));
        let closable: Vec<EpochOpened> = self
            .ledger
            .opened
            .values()
            .filter(|opened| !self.ledger.closed.contains(&opened.epoch_id))
            .filter(|opened| {
                opened
                    .end
                    .to_datetime()
                    .is_some_and(|end| now >= end + schedule.grace_period())
            })
            .cloned()
            .collect();
        for opened in closable {
            self.close(&opened, now).await?;
            report.closed.push(opened.epoch_id.clone());
        }
        let delay = schedule.grace_period()
            + chrono::Duration::minutes(i64::from(self.config.evidence_delay_minutes));
        let due: Vec<(EpochOpened, resi_events::EventId, EpochClosed)> = self
            .ledger
            .closings
            .iter()
            .filter(|(epoch_id, _)| !self.ledger.evidenced.contains(*epoch_id))
            .filter_map(|(epoch_id, (closed_id, closed))| {
                let opened = self.ledger.opened.get(epoch_id)?;
                let end = opened.end.to_datetime()?;
                (now >= end + delay && closed.opened_id == opened.event_id())
                    .then(|| (opened.clone(), *closed_id, closed.clone()))
            })
            .collect();
        for (opened, closed_id, closed) in due {
            // evidence waits for its projections without holding up openings and closings
            match self.record_evidence(&opened, closed_id, &closed).await {
                Ok(()) => report.evidenced.push(opened.epoch_id.clone()),
                Err(error) => {
                    crate::metrics::evidence_failure();
                    tracing::warn!(epoch = %opened.epoch_id, error = format!("{error:#}"), "failed to record an epoch's evidence; retrying at the next tick");
                }
            }
        }
        report.banned = self.ban_due(now).await?;
        report.validated = self.validate_due(now).await?;
        Ok(report)
    }

    /// Decides every closed epoch whose validators' window has passed: each miner's verdict on
    /// the uploads topic (for its trust), then the epoch's on the epochs topic.
    async fn validate_due(&mut self, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
        let schedule = self.config.schedule.clone();
        let delay = chrono::Duration::minutes(i64::from(self.config.validation_delay_minutes));
        let due: Vec<(String, Timestamp)> = self
            .ledger
            .closings
            .keys()
            .filter(|epoch_id| !self.ledger.validation.validated.contains(*epoch_id))
            .filter_map(|epoch_id| {
                let opened = self.ledger.opened.get(epoch_id)?;
                let closed = closed_time(opened, &schedule).to_datetime()?;
                (now >= closed + delay).then(|| (epoch_id.clone(), timestamp(closed + delay)))
            })
            .collect();
        let mut validated = Vec::with_capacity(due.len());
        for (epoch_id, at) in due {
            let Some((epoch, miners)) = self.ledger.validation.decide(&epoch_id) else {
                continue;
            };
            tracing::info!(epoch = %epoch_id, validators = epoch.results_ids.len(), miners = miners.len(), "recording the validators' verdicts");
            crate::metrics::validated(epoch.results_ids.len());
            self.publish_penalties(&events_at(miners, at, EventPayload::MinerValidated))
                .await?;
            self.publish(&event_at(EventPayload::EpochValidated(Box::new(epoch)), at))
                .await?;
            validated.push(epoch_id);
        }
        Ok(validated)
    }

    /// Bans every miner whose fabricating epochs since its last ban or unban reached
    /// `ban_after_epochs`, with those epochs and their evidence.
    async fn ban_due(&mut self, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
        let threshold = usize::try_from(self.config.ban_after_epochs.max(1)).unwrap_or(usize::MAX);
        let due: Vec<resi_events::MinerBanned> = self
            .ledger
            .fabrications
            .iter()
            .filter(|(miner, epochs)| {
                epochs.len() >= threshold && !self.ledger.bans.contains_key(*miner)
            })
            .map(|(miner, epochs)| resi_events::MinerBanned {
                miner_hotkey: miner.clone(),
                epochs: epochs.iter().map(|(epoch, _)| epoch.clone()).collect(),
                evidence_ids: epochs.iter().map(|(_, id)| *id).collect(),
            })
            .collect();
        let mut banned = Vec::with_capacity(due.len());
        for ban in due {
            tracing::warn!(miner = %ban.miner_hotkey, epochs = ?ban.epochs, "banning a miner for fabricating");
            let miner = ban.miner_hotkey.clone();
            self.publish(&event_at(
                EventPayload::MinerBanned(Box::new(ban)),
                timestamp(now),
            ))
            .await?;
            banned.push(miner);
        }
        Ok(banned)
    }

    /// Gathers `opened`'s evidence and publishes it: each miner's, then the completion naming
    /// them, in order on the one partition.
    async fn record_evidence(
        &mut self,
        opened: &EpochOpened,
        closed_id: resi_events::EventId,
        closed: &EpochClosed,
    ) -> anyhow::Result<()> {
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        let (evidence, complete) =
            crate::evidence::gather(&client, opened, closed_id, self.config.far_km).await?;
        drop(client);
        let at = closed_time(opened, &self.config.schedule);
        tracing::info!(epoch = %opened.epoch_id, miners = evidence.len(), "recording the epoch's evidence");
        // who fabricated, by the rule the scores apply; each costs trust, once per epoch (the
        // penalty's id is the miner and the epoch, should this be recorded twice)
        let fabricated: Vec<resi_events::MinerFabricated> = evidence
            .iter()
            .filter_map(|miner| {
                let signals = Fabrication::of(closed, miner);
                signals.fabricated().then(|| resi_events::MinerFabricated {
                    miner_hotkey: miner.miner_hotkey.clone(),
                    epoch_id: opened.epoch_id.clone(),
                    evidence_id: miner.event_id(),
                    honeypot_listings: signals.honeypot_listings,
                    impossible_rows: signals.impossible_rows,
                })
            })
            .collect();
        self.publish_all(&events_at(evidence, at, EventPayload::MinerEpochEvidence))
            .await?;
        for penalty in &fabricated {
            tracing::warn!(miner = %penalty.miner_hotkey, epoch = %penalty.epoch_id, honeypot_listings = penalty.honeypot_listings, impossible_rows = penalty.impossible_rows, "a miner fabricated");
        }
        self.publish_penalties(&events_at(fabricated, at, EventPayload::MinerFabricated))
            .await?;
        self.publish(&event_at(
            EventPayload::EpochEvidenceComplete(Box::new(complete)),
            at,
        ))
        .await
    }

    /// Holds (or takes) the leader lock; false while another instance holds it.
    async fn lead(&mut self) -> anyhow::Result<bool> {
        if let Some(client) = &self.leader {
            // a live session still holds its lock
            if client.simple_query("SELECT 1").await.is_ok() {
                return Ok(true);
            }
            tracing::warn!("lost the leader session; trying to lead again");
            self.leader = None;
            self.ledger = Ledger::default();
        }
        let (client, connection) = resi_runtime::postgres::connection_config(&self.postgres)?
            .connect(tokio_postgres::NoTls)
            .await
            .context("failed to connect to postgres for the leader lock")?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "leader session ended");
            }
        });
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&self.lock_key])
            .await
            .context("failed to try the leader lock")?;
        if row.get::<_, bool>(0) {
            tracing::info!("leading");
            self.leader = Some(client);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Reads the epochs topic again when it grew since the last read.
    async fn refresh(&mut self) -> anyhow::Result<()> {
        let end = kafka::end_offsets(&self.kafka, &self.topic)
            .await?
            .values()
            .copied()
            .sum::<i64>();
        if end == self.ledger.end && end > 0 {
            return Ok(());
        }
        let records = kafka::read_to_end(
            &self.kafka,
            &self.topic,
            Duration::from_secs(self.config.read_timeout_secs),
        )
        .await?;
        let mut ledger = Ledger::default();
        ledger.end = end;
        for record in records {
            match codec::decode(&record.payload) {
                Ok(event) => ledger.apply(event),
                Err(error) => {
                    ledger.unreadable += 1;
                    tracing::warn!(offset = record.offset, %error, "an epochs record does not decode; ignored");
                }
            }
        }
        self.ledger = ledger;
        Ok(())
    }

    /// Still the leader right before writing: a session that died let another lead.
    async fn ensure_leading(&self) -> anyhow::Result<()> {
        let alive = match &self.leader {
            Some(client) => client.simple_query("SELECT 1").await.is_ok(),
            None => false,
        };
        anyhow::ensure!(alive, "lost the leader session before publishing");
        Ok(())
    }

    async fn publish(&mut self, event: &Event) -> anyhow::Result<()> {
        self.ensure_leading().await?;
        kafka::publish(&self.producer, &self.topic, event).await?;
        self.ledger.apply(event.clone());
        self.ledger.end += 1;
        Ok(())
    }

    /// Publishes events on the epochs topic all at once (one partition keeps their order),
    /// still the leader: an epoch's evidence is hundreds of events, and one acknowledgement
    /// after another cost a round trip each.
    async fn publish_all(&mut self, events: &[Event]) -> anyhow::Result<()> {
        self.ensure_leading().await?;
        enqueue_all(&self.producer, &self.topic, events).await?;
        for event in events {
            self.ledger.apply(event.clone());
            self.ledger.end += 1;
        }
        Ok(())
    }

    /// Publishes trust adjustments on the uploads topic (their ids are the miner and the epoch,
    /// so a repeat changes nothing), still the leader.
    async fn publish_penalties(&self, events: &[Event]) -> anyhow::Result<()> {
        self.ensure_leading().await?;
        enqueue_all(&self.producer, &self.uploads_topic, events).await
    }

    async fn open(&mut self, window: &Window, now: DateTime<Utc>) -> anyhow::Result<()> {
        let pool = self.pool_for(window).await?;
        let opened = plan(&self.config, window, &pool)?;
        let outside_band = {
            let (lower, upper) = self.config.selection.band();
            !(lower..=upper).contains(&opened.total_expected_listings())
        };
        if outside_band {
            crate::metrics::outside_band();
            tracing::warn!(epoch = %window.id, total = opened.total_expected_listings(), candidates = pool.regular.len(), "too few candidates to meet the target; opening the epoch with what there is");
        }
        let late = now > window.start;
        tracing::info!(epoch = %window.id, zipcodes = opened.zipcodes.len(), total = opened.total_expected_listings(), late, "opening epoch");
        self.publish(&event_at(
            EventPayload::EpochOpened(Box::new(opened)),
            timestamp(window.start),
        ))
        .await
    }

    async fn close(&mut self, opened: &EpochOpened, now: DateTime<Utc>) -> anyhow::Result<()> {
        let closed = reveal(&self.config.nonce_secret, opened)?;
        tracing::info!(epoch = %opened.epoch_id, honeypots = closed.honeypots.len(), "closing epoch");
        let at = now.min(
            opened
                .end
                .to_datetime()
                .map_or(now, |end| end + self.config.schedule.grace_period()),
        );
        self.publish(&event_at(EventPayload::EpochClosed(closed), timestamp(at)))
            .await
    }

    /// The candidates of `window`: the reference data, what the live consensus knows of each
    /// zipcode, and the earlier epochs on the log.
    async fn pool_for(&self, window: &Window) -> anyhow::Result<Pool> {
        let client = resi_runtime::postgres::connection(&self.pool).await?;
        let zipcodes = reference::load(&client).await?;
        anyhow::ensure!(
            !zipcodes.is_empty(),
            "the zipcodes table is empty: run `resi zipcodes import` once"
        );
        let known = known_zipcodes(&client).await?;
        let history = History::of(&self.ledger, window, &self.config.selection);
        Ok(candidates(
            &zipcodes,
            &known,
            &history,
            &self.config.selection,
        ))
    }
}

/// An event of what happened `at`, recorded now.
fn event_at(payload: EventPayload, at: Timestamp) -> Event {
    Event::new(payload, at, Timestamp::now())
}

/// One event per item, each its `payload`, happened `at`.
fn events_at<T>(items: Vec<T>, at: Timestamp, payload: fn(Box<T>) -> EventPayload) -> Vec<Event> {
    items
        .into_iter()
        .map(|item| event_at(payload(Box::new(item)), at))
        .collect()
}

/// Enqueues every event, then waits for every acknowledgement.
async fn enqueue_all(
    producer: &FutureProducer,
    topic: &str,
    events: &[Event],
) -> anyhow::Result<()> {
    let mut deliveries = Vec::with_capacity(events.len());
    for event in events {
        deliveries.push(kafka::enqueue(producer, topic, event).await?);
    }
    for delivery in deliveries {
        kafka::delivered(delivery).await?;
    }
    Ok(())
}

/// The end of `opened`'s grace period: the event time of its closing and its evidence.
fn closed_time(opened: &EpochOpened, schedule: &Schedule) -> Timestamp {
    opened
        .end
        .to_datetime()
        .map_or(opened.end, |end| timestamp(end + schedule.grace_period()))
}

/// What the live consensus knows of one zipcode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// Listings.
    pub listings: u32,
    /// Median consensus price, whole dollars.
    pub median_price: Option<i64>,
}

/// Listings and median price per zipcode in the live consensus version (none when there is
/// none yet).
#[tracing::instrument(skip_all)]
pub async fn known_zipcodes(
    client: &deadpool_postgres::Client,
) -> anyhow::Result<BTreeMap<String, Known>> {
    let Some(schema) = resi_runtime::postgres::live_schema(client, "consensus").await? else {
        return Ok(BTreeMap::new());
    };
    let rows = client
        .query(
            &format!(
                "SELECT zip_code, count(*)::bigint,
                        percentile_disc(0.5) WITHIN GROUP (ORDER BY price_usd)
                   FROM {schema}.consensus_listings
                  WHERE zip_code IS NOT NULL
                  GROUP BY zip_code"
            ),
            &[],
        )
        .await
        .context("failed to count listings per zipcode")?;
    Ok(rows
        .iter()
        .map(|row| {
            let listings: i64 = row.get(1);
            (
                row.get::<_, String>(0),
                Known {
                    listings: u32::try_from(listings).unwrap_or(u32::MAX),
                    median_price: row.get(2),
                },
            )
        })
        .collect())
}

/// Earlier epochs as the selection of one window sees them.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Zipcodes within the cooldown.
    pub cooling: BTreeSet<String>,
    /// Assignments per zipcode within the rotation window.
    pub recent: BTreeMap<String, u32>,
}

impl History {
    /// The epochs of `ledger` that started before `window`.
    #[must_use]
    pub fn of(ledger: &Ledger, window: &Window, config: &SelectionConfig) -> Self {
        let start = timestamp(window.start).as_micros();
        let hour = 3_600_000_000_i64;
        let cooldown = start - i64::from(config.cooldown_hours) * hour;
        let rotation = start - i64::from(config.rotation_days) * 24 * hour;
        let mut history = Self::default();
        for opened in ledger.opened.values() {
            let began = opened.start.as_micros();
            if began >= start || began < rotation {
                continue;
            }
            for zipcode in &opened.zipcodes {
                *history.recent.entry(zipcode.zipcode.clone()).or_default() += 1;
                if began >= cooldown {
                    history.cooling.insert(zipcode.zipcode.clone());
                }
            }
        }
        history
    }
}

/// The selection's pool from the reference data, what the database knows and the history.
#[must_use]
pub fn candidates(
    zipcodes: &[ReferenceZipcode],
    known: &BTreeMap<String, Known>,
    history: &History,
    config: &SelectionConfig,
) -> Pool {
    let states: BTreeSet<&str> = if config.states.is_empty() {
        STATES.into_iter().collect()
    } else {
        config.states.iter().map(String::as_str).collect()
    };
    let mut pool = Pool::default();
    for zipcode in zipcodes {
        if !zipcode.active
            || !states.contains(zipcode.state.as_str())
            || history.cooling.contains(&zipcode.zipcode)
        {
            continue;
        }
        let knowledge = known.get(&zipcode.zipcode).copied().unwrap_or_default();
        let described = knowledge.listings >= config.min_known_listings;
        let expected = if described {
            knowledge.listings
        } else {
            config.default_expected_listings
        };
        let tier = match knowledge.median_price {
            Some(price) if described => MarketTier::of_median_price(price),
            _ => MarketTier::Standard,
        };
        let candidate = Candidate {
            zipcode: EpochZipcode {
                zipcode: zipcode.zipcode.clone(),
                expected_listings: expected,
                state: zipcode.state.clone(),
                city: zipcode.city.clone(),
                county: zipcode.county.clone(),
                market_tier: tier,
                geographic_region: reference::region(&zipcode.state).to_owned(),
            },
            recent_assignments: history.recent.get(&zipcode.zipcode).copied().unwrap_or(0),
        };
        if zipcode.kind == ZipcodeType::Standard {
            if (config.min_zipcode_listings..=config.max_zipcode_listings).contains(&expected) {
                pool.regular.push(candidate);
            }
        } else if zipcode.kind.has_no_homes() && knowledge.listings == 0 {
            pool.honeypots.push(candidate);
        }
    }
    pool
}

/// The opening of `window` drawn from `pool`: nonce, selection, commitment and seal.
pub fn plan(
    config: &CoordinatorConfig,
    window: &Window,
    pool: &Pool,
) -> anyhow::Result<EpochOpened> {
    let described = pool.describe();
    let zipcode_hash = secrets::pool_hash(described.iter().map(String::as_str));
    let nonce = secrets::nonce(
        &config.nonce_secret,
        &window.id,
        &secrets::start_text(window.start),
        &zipcode_hash,
    );
    let selection = selection::select(pool, &config.selection, nonce.selection_seed);
    let key = secrets::commitment_key(&config.nonce_secret, &window.id);
    Ok(EpochOpened {
        epoch_id: window.id.clone(),
        start: timestamp(window.start),
        end: timestamp(window.end),
        submission_deadline: timestamp(window.end),
        nonce: nonce.nonce,
        target_listings: config.selection.target_listings,
        tolerance_percent: config.selection.tolerance_percent,
        zipcodes: selection.zipcodes,
        algorithm_version: ALGORITHM_VERSION.to_owned(),
        selection_seed: nonce.selection_seed,
        zipcode_hash,
        honeypot_commitment: honeypot_commitment(&key, &selection.honeypots),
        sealed_honeypots: secrets::seal(&config.nonce_secret, &window.id, &selection.honeypots)?,
    })
}

/// The closing of `opened`: its honeypots unsealed, and the key of its commitment.
pub fn reveal(secret: &Secret, opened: &EpochOpened) -> anyhow::Result<EpochClosed> {
    let mut honeypots = secrets::unseal(secret, &opened.epoch_id, &opened.sealed_honeypots)
        .with_context(|| format!("cannot open the honeypots of epoch {}", opened.epoch_id))?;
    honeypots.sort_unstable();
    let closed = EpochClosed {
        epoch_id: opened.epoch_id.clone(),
        opened_id: opened.event_id(),
        honeypots,
        commitment_key: secrets::commitment_key(secret, &opened.epoch_id),
    };
    anyhow::ensure!(
        closed.opens(opened),
        "the honeypots of epoch {} do not open its commitment (was the secret changed?)",
        opened.epoch_id
    );
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn config() -> CoordinatorConfig {
        CoordinatorConfig {
            nonce_secret: Secret::new("test secret"),
            ..CoordinatorConfig::default()
        }
    }

    /// What the live consensus would say of a few Pennsylvania zipcodes.
    fn known() -> BTreeMap<String, Known> {
        [
            ("19103", 1_800, 980_000),
            ("19104", 900, 420_000),
            ("19140", 650, 90_000),
            ("19106", 5, 700_000),
            ("15213", 5_000, 300_000),
        ]
        .into_iter()
        .map(|(zipcode, listings, price)| {
            (
                zipcode.to_owned(),
                Known {
                    listings,
                    median_price: Some(price),
                },
            )
        })
        .collect()
    }

    #[test]
    fn candidates_take_counts_and_tiers_from_the_database() {
        let zipcodes = reference::parse(reference::EMBEDDED).expect("reference");
        let config = config();
        let pool = candidates(&zipcodes, &known(), &History::default(), &config.selection);
        let regular = |zipcode: &str| {
            pool.regular
                .iter()
                .find(|candidate| candidate.zipcode.zipcode == zipcode)
                .map(|candidate| {
                    (
                        candidate.zipcode.expected_listings,
                        candidate.zipcode.market_tier,
                    )
                })
        };
        assert_eq!(regular("19103"), Some((1_800, MarketTier::Premium)));
        assert_eq!(regular("19104"), Some((900, MarketTier::Standard)));
        assert_eq!(regular("19140"), Some((650, MarketTier::Emerging)));
        // too few known listings: the default estimate and tier
        assert_eq!(regular("19106"), Some((400, MarketTier::Standard)));
        // more than one zipcode's maximum: left out
        assert_eq!(regular("15213"), None);
        // territories and PO boxes are no regular candidates; PO boxes are honeypots
        assert!(
            pool.regular
                .iter()
                .all(|candidate| candidate.zipcode.state != "PR")
        );
        let types: BTreeMap<&str, ZipcodeType> = zipcodes
            .iter()
            .map(|zipcode| (zipcode.zipcode.as_str(), zipcode.kind))
            .collect();
        assert!(pool.honeypots.len() > 5_000);
        for candidate in &pool.honeypots {
            assert!(types[candidate.zipcode.zipcode.as_str()].has_no_homes());
        }
        for candidate in &pool.regular {
            assert_eq!(
                types[candidate.zipcode.zipcode.as_str()],
                ZipcodeType::Standard
            );
        }
    }

    /// Fifty epochs in a row, as the coordinator plans them from the real reference data and
    /// its own ledger: every one in the band, no zipcode within 24 hours of its last
    /// assignment, every closing opens its commitment with honeypots of no-home zipcodes.
    #[test]
    fn fifty_planned_epochs_keep_the_band_and_the_cooldown() {
        let zipcodes = reference::parse(reference::EMBEDDED).expect("reference");
        let types: BTreeMap<&str, ZipcodeType> = zipcodes
            .iter()
            .map(|zipcode| (zipcode.zipcode.as_str(), zipcode.kind))
            .collect();
        let config = config();
        let (lower, upper) = config.selection.band();
        let mut ledger = Ledger::default();
        let mut window = config.schedule.window_at(
            Utc.with_ymd_and_hms(2025, 10, 1, 16, 0, 0)
                .single()
                .expect("valid"),
        );
        let mut last_assigned: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for _ in 0..50 {
            let history = History::of(&ledger, &window, &config.selection);
            let pool = candidates(&zipcodes, &known(), &history, &config.selection);
            let opened = plan(&config, &window, &pool).expect("plan");
            assert_eq!(
                plan(&config, &window, &pool).expect("plan"),
                opened,
                "deterministic"
            );
            let total = opened.total_expected_listings();
            assert!(
                (lower..=upper).contains(&total),
                "{} expects {total}",
                window.id
            );
            let closed = reveal(&config.nonce_secret, &opened).expect("reveal");
            assert!(closed.opens(&opened));
            let share = closed.honeypots.len() as f64 / opened.zipcodes.len() as f64;
            assert!(
                (0.05..=0.10).contains(&share) || closed.honeypots.len() == 1,
                "{share}"
            );
            for honeypot in &closed.honeypots {
                assert!(types[honeypot.as_str()].has_no_homes(), "{honeypot}");
            }
            for zipcode in &opened.zipcodes {
                if let Some(last) = last_assigned.get(&zipcode.zipcode) {
                    assert!(
                        window.start - *last >= chrono::Duration::hours(24),
                        "{} again after {}",
                        zipcode.zipcode,
                        window.start - *last
                    );
                }
                last_assigned.insert(zipcode.zipcode.clone(), window.start);
            }
            ledger.opened.insert(opened.epoch_id.clone(), opened);
            window = config.schedule.next(&window);
        }
    }

    #[test]
    fn another_secret_cannot_close_an_epoch() {
        let zipcodes = reference::parse(reference::EMBEDDED).expect("reference");
        let config = config();
        let window = config.schedule.window_at(
            Utc.with_ymd_and_hms(2025, 10, 1, 16, 0, 0)
                .single()
                .expect("valid"),
        );
        let pool = candidates(&zipcodes, &known(), &History::default(), &config.selection);
        let opened = plan(&config, &window, &pool).expect("plan");
        assert!(reveal(&Secret::new("another"), &opened).is_err());
    }
}
