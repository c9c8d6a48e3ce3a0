//! The consensus projection: per listing and field, the value the miners agree on, under the
//! algorithm the version names (see [`resi_projections::consensus`]).
//!
//! State is each miner's latest report of each listing (`consensus_reports`). A batch keeps the
//! best report per (listing, miner) it carries, reads the stored reports of those listings in
//! one query, and decides again only the listings whose reports changed. It then writes the
//! reports with their agreement counts, the listings' consensus, and the miners' accuracy as
//! deltas, each as one multi-row statement. Every table is a function of the set of reports,
//! never of their arrival order, so a replay gives the same rows and a re-delivered
//! attestation changes nothing.
//!
//! A report of an epoch upload keeps its origin (epoch, zipcode, completeness), and every round
//! moves the per-(epoch, miner, zipcode) counters of `epoch_agreement` by what its decisions
//! changed: the coordinator's evidence of what consensus confirms, read in one small query when
//! the epoch closes. Like `miner_accuracy`, they are sums over the current reports.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use resi_events::{Event, EventPayload};
use std::sync::Arc;

use resi_projections::consensus::{
    ConsensusAlgorithm, Field, ListingConsensus, MinerReport, Params, Registry, decide, stored,
};
use tokio_postgres::Transaction;
use tokio_postgres::types::{ToSql, Type};

use crate::{copy_writer, datetime, partition_of};

/// The tables of one version; `{schema}` is replaced by the version's schema.
pub const DDL: &str = include_str!("../sql/consensus.sql");

/// The algorithm a consensus build runs when none is declared or recorded: the standard one
/// its name begins with, at its defaults (`v2_rerun` runs v2).
pub fn algorithm(version: &str) -> anyhow::Result<Arc<dyn ConsensusAlgorithm>> {
    let name = version.split('_').next().unwrap_or_default();
    Registry::standard()
        .build(name, &Params::new())
        .ok()
        .with_context(|| {
            format!(
                "consensus build {version:?} names no algorithm: declare one (--algorithm v3 --param name=value, or algorithm/params in projector.projections), or name the build after one (v1, v2_<label>)"
            )
        })
}

/// What a build's configuration declares it runs: an algorithm's name and parameters.
pub type Declared<'a> = Option<(&'a str, &'a Params)>;

/// Builds the algorithm `declared`, or else the one the build's name begins with.
pub fn declared_algorithm(
    version: &str,
    declared: Declared<'_>,
) -> anyhow::Result<Arc<dyn ConsensusAlgorithm>> {
    match declared {
        Some((name, params)) => Registry::standard()
            .build(name, params)
            .map_err(|error| anyhow::anyhow!("consensus build {version}: {error}")),
        None => algorithm(version),
    }
}

/// The algorithm and parameters recorded with the consensus build `version` (in
/// `projection_versions`), if any.
pub async fn recorded(
    client: &impl deadpool_postgres::GenericClient,
    version: &str,
) -> anyhow::Result<Option<(String, Params)>> {
    let row = client
        .query_opt(
            "SELECT algorithm, params FROM projection_versions
              WHERE projection = 'consensus' AND version = $1",
            &[&version],
        )
        .await
        .context("failed to read the build's algorithm")?;
    let Some(row) = row else {
        return Ok(None);
    };
    let Some(name) = row.get::<_, Option<String>>(0) else {
        return Ok(None);
    };
    let params: Option<serde_json::Value> = row.get(1);
    let params: Params = match params {
        Some(value) => serde_json::from_value(value)
            .context("the build's recorded parameters are not a map of names to values")?,
        None => Params::new(),
    };
    Ok(Some((name, params)))
}

/// Settles the algorithm the existing consensus build `version` runs, and builds it. The first
/// start records the declared algorithm (else the one its name begins with) with every
/// parameter in force; later starts run what was recorded, and refuse a declaration that
/// differs, so a build's rows never mix two algorithms.
pub async fn settle(
    client: &mut deadpool_postgres::Client,
    version: &str,
    declared: Declared<'_>,
) -> anyhow::Result<Arc<dyn ConsensusAlgorithm>> {
    let transaction = client
        .transaction()
        .await
        .context("failed to begin settling the build's algorithm")?;
    crate::versions::lock(&transaction).await?;
    if let Some((name, params)) = recorded(&transaction, version).await? {
        let running = Registry::standard()
            .build(&name, &params)
            .map_err(|error| {
                anyhow::anyhow!("consensus build {version} records {name} {params:?}: {error}")
            })?;
        if let Some((declared_name, declared_params)) = declared {
            let asked = declared_algorithm(version, declared)?;
            anyhow::ensure!(
                asked.name() == running.name() && asked.params() == running.params(),
                "consensus build {version} runs {name} {params:?}, not {declared_name} {declared_params:?}: build that under another label"
            );
        }
        return Ok(running);
    }
    let running = declared_algorithm(version, declared)?;
    let params = serde_json::to_value(running.params()).context("parameters as JSON")?;
    transaction
        .execute(
            "UPDATE projection_versions SET algorithm = $2, params = $3
              WHERE projection = 'consensus' AND version = $1",
            &[&version, &running.name(), &params],
        )
        .await
        .context("failed to record the build's algorithm")?;
    transaction
        .commit()
        .await
        .context("failed to commit the build's algorithm")?;
    tracing::info!(%version, algorithm = running.name(), params = ?running.params(), "consensus build's algorithm recorded");
    Ok(running)
}

/// Where a report came from, for the epoch counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Origin {
    /// The epoch of the upload, `None` outside epochs.
    epoch: Option<String>,
    /// The zipcode the report was filed under: the upload's, else the listing's, else ''.
    zipcode: String,
    /// Whether it carried every field the epoch score requires.
    complete: bool,
}

impl Origin {
    fn of(attested: &resi_events::ListingAttested) -> Self {
        let listing = &attested.listing;
        Self {
            epoch: attested.epoch_id.clone(),
            zipcode: attested
                .zipcode
                .clone()
                .or_else(|| listing.zip_code.clone())
                .unwrap_or_default(),
            complete: listing.address.is_some()
                && listing.price_usd.is_some()
                && listing.bedrooms.is_some()
                && listing.bathrooms_tenths.is_some()
                && listing.living_area_sqft.is_some()
                && listing.listing_date.is_some()
                && listing.zip_code.is_some(),
        }
    }

    /// The origin in columns `at`, `at + 1`, `at + 2` of `row` (epoch_id, epoch_zipcode,
    /// complete).
    fn read(row: &tokio_postgres::Row, at: usize) -> Self {
        Self {
            epoch: row.get(at),
            zipcode: row.get::<_, Option<String>>(at + 1).unwrap_or_default(),
            complete: row.get(at + 2),
        }
    }
}

/// One miner's current report of a listing.
struct Stored {
    report: MinerReport,
    attestation: Vec<u8>,
    origin: Origin,
    /// The origin as stored before this batch (meaningless for a new report).
    was: Origin,
    /// Agreement counts as stored before this batch (0 for a new report).
    agreed: i32,
    reported: i32,
    /// Whether the (listing, miner) pair existed before this batch.
    existed: bool,
    /// Whether this batch replaced or added the report.
    changed: bool,
}

/// Each (listing, miner)'s best report among some attestations: the one that replaces the
/// others (see [`MinerReport::replaces`]), with its attestation id.
type Incoming = BTreeMap<(String, String), (MinerReport, Vec<u8>, Origin)>;

/// Keeps `report` for (listing, miner) unless `incoming` holds one that it does not replace.
fn offer(
    incoming: &mut Incoming,
    (listing, miner): (&str, &str),
    report: MinerReport,
    id: Vec<u8>,
    origin: Origin,
) {
    match incoming.entry((listing.to_owned(), miner.to_owned())) {
        Entry::Occupied(mut kept) => {
            let (current, current_id, _) = kept.get();
            if report.replaces(&id, current, current_id) {
                kept.insert((report, id, origin));
            }
        }
        Entry::Vacant(free) => {
            free.insert((report, id, origin));
        }
    }
}

/// The best report per (listing, miner) of `events`.
fn reduce<'a>(events: impl IntoIterator<Item = &'a Event>) -> Incoming {
    let mut incoming = Incoming::new();
    for event in events {
        let EventPayload::ListingAttested(attested) = &event.payload else {
            continue;
        };
        let report = MinerReport::of(
            &attested.miner_hotkey,
            attested.scraped_at.as_micros(),
            attested.miner_trust,
            &attested.listing,
        );
        offer(
            &mut incoming,
            (&attested.listing.listing_id, &attested.miner_hotkey),
            report,
            event.id.as_bytes().to_vec(),
            Origin::of(attested),
        );
    }
    incoming
}

/// Folds one batch in `transaction`; the number of attestations that changed a miner's report.
pub async fn fold(
    transaction: &Transaction<'_>,
    schema: &str,
    algorithm: &dyn ConsensusAlgorithm,
    events: &[&Event],
) -> anyhow::Result<usize> {
    let incoming = reduce(events.iter().copied());
    let mut deltas = Deltas::default();
    let changed = apply(
        transaction,
        schema,
        algorithm,
        incoming,
        Lookup::Stored,
        &mut deltas,
    )
    .await?;
    deltas.store(transaction, schema).await?;
    Ok(changed)
}

/// Stages one batch of a version that is catching up: each (listing, miner)'s best report of
/// the batch is appended to `consensus_staged` (one binary COPY, no index to maintain), to be
/// applied by [`apply_staged`] once the version reaches the log's end. A listing reported five
/// times over the log is then decided once, not five times. The number of reports staged.
pub async fn stage(
    transaction: &Transaction<'_>,
    schema: &str,
    events: &[(i32, &Event)],
) -> anyhow::Result<usize> {
    let incoming = reduce(events.iter().map(|(_, event)| *event));
    if incoming.is_empty() {
        return Ok(0);
    }
    let partition_of = partition_of(events);
    let writer = copy_writer(
        transaction,
        &format!("{schema}.consensus_staged"),
        "partition, listing_id, miner_hotkey, attestation_id, reported_at, miner_trust, field_values, epoch_id, epoch_zipcode, complete",
        &[
            Type::INT4,
            Type::TEXT,
            Type::TEXT,
            Type::BYTEA,
            Type::TIMESTAMPTZ,
            Type::FLOAT8,
            Type::TEXT_ARRAY,
            Type::TEXT,
            Type::TEXT,
            Type::BOOL,
        ],
    )
    .await?;
    futures::pin_mut!(writer);
    let staged = incoming.len();
    for ((listing, miner), (report, id, origin)) in &incoming {
        writer
            .as_mut()
            .write(&[
                &partition_of(listing),
                listing,
                miner,
                id,
                &datetime(report.reported_at),
                &report.trust,
                &report.values.as_slice(),
                &origin.epoch,
                &origin.zipcode,
                &origin.complete,
            ])
            .await
            .context("failed to stage a consensus report")?;
    }
    writer
        .finish()
        .await
        .context("failed to finish staging consensus reports")?;
    Ok(staged)
}

/// Applies the reports staged from `partitions` (see [`stage`]) in `transaction`, listing
/// after listing: they are read in listing order, so each listing is decided once, with its
/// stored and staged reports together, and written once. Then the staged rows are deleted.
/// `chunk_rows` staged reports are read per round. The number of staged reports applied.
///
/// When the version holds no report at all as the pass starts (a rebuild from offset 0), no
/// listing of these partitions can have stored reports during the pass either: only the
/// holder of the partitions' locks (this transaction) writes them. The pass then skips
/// looking them up.
pub async fn apply_staged(
    transaction: &Transaction<'_>,
    schema: &str,
    algorithm: &dyn ConsensusAlgorithm,
    partitions: &[i32],
    chunk_rows: usize,
) -> anyhow::Result<usize> {
    let chunk_rows = i32::try_from(chunk_rows.max(1)).unwrap_or(i32::MAX);
    // the sort of a whole catch-up (millions of reports) runs in memory or in few runs
    transaction
        .batch_execute("SET LOCAL work_mem = '256MB'")
        .await
        .context("failed to size the sort of staged reports")?;
    let statement = transaction
        .prepare(&format!(
            "SELECT listing_id, miner_hotkey, attestation_id, reported_at, miner_trust,
                    field_values, epoch_id, epoch_zipcode, complete
             FROM {schema}.consensus_staged WHERE partition = ANY($1)
             ORDER BY listing_id COLLATE \"C\""
        ))
        .await
        .context("failed to prepare reading staged reports")?;
    let stored = transaction
        .query_one(
            &format!("SELECT EXISTS (SELECT 1 FROM {schema}.consensus_reports)"),
            &[],
        )
        .await
        .context("failed to look for stored consensus reports")?
        .get::<_, bool>(0);
    let lookup = if stored {
        Lookup::Stored
    } else {
        Lookup::NothingStored
    };
    let portal = transaction
        .bind(&statement, &[&partitions])
        .await
        .context("failed to read staged reports")?;
    let mut applied = 0;
    let mut deltas = Deltas::default();
    // the reports of the previous chunk's last listing, which this chunk may continue
    let mut carried = Incoming::new();
    loop {
        let rows = transaction
            .query_portal(&portal, chunk_rows)
            .await
            .context("failed to read staged reports")?;
        let last = rows.len() < usize::try_from(chunk_rows).unwrap_or(usize::MAX);
        applied += rows.len();
        let mut incoming = std::mem::take(&mut carried);
        for row in rows {
            let listing: &str = row.get(0);
            let miner: &str = row.get(1);
            let (report, id) = stored_report(&row, listing, miner)?;
            offer(
                &mut incoming,
                (listing, miner),
                report,
                id,
                Origin::read(&row, 6),
            );
        }
        if !last && let Some(((listing, _), _)) = incoming.last_key_value() {
            // rows come in byte order of listing_id (COLLATE "C"), as the map's keys sort: the
            // last listing's reports are the map's tail, held back so that every listing is
            // decided once, with all of its reports
            let cut = (listing.clone(), String::new());
            carried = incoming.split_off(&cut);
        }
        apply(
            transaction,
            schema,
            algorithm,
            incoming,
            lookup,
            &mut deltas,
        )
        .await?;
        if last {
            break;
        }
    }
    transaction
        .execute(
            &format!("DELETE FROM {schema}.consensus_staged WHERE partition = ANY($1)"),
            &[&partitions],
        )
        .await
        .context("failed to delete applied staged reports")?;
    // last, so that the rows every lane shares are locked only from here to the commit, and
    // the other lanes' passes run meanwhile
    deltas.store(transaction, schema).await?;
    Ok(applied)
}

/// Gathers the planner's statistics of the version's tables (see the projector's apply pass).
pub async fn analyze(client: &tokio_postgres::Client, schema: &str) -> anyhow::Result<()> {
    client
        .batch_execute(&format!(
            "ANALYZE {schema}.consensus_reports, {schema}.consensus_listings, {schema}.miner_accuracy"
        ))
        .await
        .context("failed to analyse the consensus tables")
}

/// The report in `row`, read from `consensus_reports` or `consensus_staged` as listing,
/// miner, attestation id, reported_at, trust and field values (columns 0 to 5).
fn stored_report(
    row: &tokio_postgres::Row,
    listing: &str,
    miner: &str,
) -> anyhow::Result<(MinerReport, Vec<u8>)> {
    let values: Vec<Option<String>> = row.get(5);
    let values: [Option<String>; Field::ALL.len()] =
        values.try_into().map_err(|values: Vec<_>| {
            anyhow::anyhow!(
                "consensus report of {listing} by {miner} holds {} field values, not {}",
                values.len(),
                Field::ALL.len()
            )
        })?;
    let reported_at: DateTime<Utc> = row.get(3);
    let report = MinerReport {
        miner: miner.to_owned(),
        reported_at: reported_at.timestamp_micros(),
        trust: row.get(4),
        values,
    };
    Ok((report, row.get(2)))
}

/// Whether a round looks up the stored reports of its listings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Some may exist: read them.
    Stored,
    /// None can exist (see [`apply_staged`]).
    NothingStored,
}

/// Per miner, what a fold adds to `miner_accuracy`: (listings, agreed fields, reported fields).
type AccuracyDeltas = BTreeMap<String, (i64, i64, i64)>;

/// Per (epoch, miner, zipcode), what a fold adds to `epoch_agreement`: listings, complete
/// listings, checked listings, agreed fields, reported fields.
type EpochDeltas = BTreeMap<EpochKey, [i64; 5]>;

/// (epoch, miner, zipcode).
type EpochKey = (String, String, String);

/// What a fold adds to the tables every lane shares, written last (see [`Deltas::store`]).
#[derive(Default)]
struct Deltas {
    accuracy: AccuracyDeltas,
    epoch: EpochDeltas,
}

impl Deltas {
    /// Moves the epoch counters of `origin` by `sign` times one report: the listing, whether
    /// complete, and when `checked` (three miners or more), its agreement.
    fn epoch(
        &mut self,
        miner: &str,
        origin: &Origin,
        sign: i64,
        (checked, agreed, reported): (bool, i32, i32),
    ) {
        let Some(epoch) = &origin.epoch else {
            return;
        };
        let counts = self
            .epoch
            .entry((epoch.clone(), miner.to_owned(), origin.zipcode.clone()))
            .or_default();
        let checked = i64::from(checked);
        let moved = [
            1,
            i64::from(origin.complete),
            checked,
            checked * i64::from(agreed),
            checked * i64::from(reported),
        ];
        for (count, by) in counts.iter_mut().zip(moved) {
            *count += sign * by;
        }
    }

    /// Writes the deltas: last in a transaction, so that the rows every lane shares are locked
    /// only from there to the commit.
    async fn store(&self, transaction: &Transaction<'_>, schema: &str) -> anyhow::Result<()> {
        store_epoch_agreement(transaction, schema, &self.epoch).await?;
        store_accuracy(transaction, schema, &self.accuracy).await
    }
}

/// Merges `incoming` into the stored reports of its listings, decides again the listings whose
/// reports changed, and writes them, adding the miners' agreement changes to `accuracy`; the
/// number of reports that changed.
async fn apply(
    transaction: &Transaction<'_>,
    schema: &str,
    algorithm: &dyn ConsensusAlgorithm,
    incoming: Incoming,
    lookup: Lookup,
    deltas: &mut Deltas,
) -> anyhow::Result<usize> {
    if incoming.is_empty() {
        return Ok(0);
    }
    let mut listings = match lookup {
        Lookup::Stored => {
            let listing_ids: Vec<&str> = incoming
                .keys()
                .map(|(listing, _)| listing.as_str())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            read_reports(transaction, schema, &listing_ids).await?
        }
        Lookup::NothingStored => BTreeMap::new(),
    };

    let mut changed: BTreeSet<String> = BTreeSet::new();
    for ((listing, miner), (report, id, origin)) in incoming {
        let reports = listings.entry(listing.clone()).or_default();
        match reports.get_mut(&miner) {
            Some(current) if !report.replaces(&id, &current.report, &current.attestation) => {}
            Some(current) => {
                current.report = report;
                current.attestation = id;
                current.origin = origin;
                current.changed = true;
                changed.insert(listing);
            }
            None => {
                reports.insert(
                    miner,
                    Stored {
                        report,
                        attestation: id,
                        was: origin.clone(),
                        origin,
                        agreed: 0,
                        reported: 0,
                        existed: false,
                        changed: true,
                    },
                );
                changed.insert(listing);
            }
        }
    }
    if changed.is_empty() {
        return Ok(0);
    }
    // decided first, so that the rows can borrow the values
    let decided: Vec<(&str, &BTreeMap<String, Stored>, ListingConsensus)> = changed
        .iter()
        .filter_map(|listing| {
            let reports = listings.get(listing)?;
            let inputs: Vec<&MinerReport> = reports.values().map(|stored| &stored.report).collect();
            Some((listing.as_str(), reports, decide(algorithm, &inputs)))
        })
        .collect();
    let mut writes = Writes::default();
    let mut changed_reports = 0;
    for &(listing, reports, ref consensus) in &decided {
        let new = reports.values().all(|stored| !stored.existed);
        // checked: reported by three miners or more (the coordinator's rule for a check)
        let was_checked = reports.values().filter(|stored| stored.existed).count() >= 3;
        let checked = consensus.miners >= 3;
        let agreement: BTreeMap<&str, (u32, u32)> = consensus
            .agreement
            .iter()
            .map(|(miner, agreed, reported)| (miner.as_str(), (*agreed, *reported)))
            .collect();
        for (miner, stored) in reports {
            let (agreed, reported) = agreement.get(miner.as_str()).copied().unwrap_or_default();
            let agreed = i32::try_from(agreed).unwrap_or(i32::MAX);
            let reported = i32::try_from(reported).unwrap_or(i32::MAX);
            if stored.existed {
                let before = (was_checked, stored.agreed, stored.reported);
                deltas.epoch(miner, &stored.was, -1, before);
            }
            deltas.epoch(miner, &stored.origin, 1, (checked, agreed, reported));
            let delta = deltas.accuracy.entry(miner.clone()).or_default();
            delta.0 += i64::from(!stored.existed);
            delta.1 += i64::from(agreed) - i64::from(stored.agreed);
            delta.2 += i64::from(reported) - i64::from(stored.reported);
            changed_reports += usize::from(stored.changed);
            // a report is written when it is new or replaced, or when its agreement moved
            // (the chosen values changed); the other reports of the listing stay as they are
            if stored.changed || agreed != stored.agreed || reported != stored.reported {
                writes.report(new, (listing, miner, stored), agreed, reported);
            }
        }
        writes.listing(new, listing, consensus, reports);
    }
    writes.store(transaction, schema).await?;
    Ok(changed_reports)
}

/// The stored reports of `listing_ids`, by listing and miner.
async fn read_reports(
    transaction: &Transaction<'_>,
    schema: &str,
    listing_ids: &[&str],
) -> anyhow::Result<BTreeMap<String, BTreeMap<String, Stored>>> {
    let rows = transaction
        .query(
            &format!(
                "SELECT listing_id, miner_hotkey, attestation_id, reported_at, miner_trust,
                        field_values, epoch_id, epoch_zipcode, complete, agreed_fields,
                        reported_fields
                 FROM {schema}.consensus_reports WHERE listing_id = ANY($1)"
            ),
            &[&listing_ids],
        )
        .await
        .context("failed to read consensus reports")?;
    let mut listings: BTreeMap<String, BTreeMap<String, Stored>> = BTreeMap::new();
    for row in rows {
        let listing: String = row.get(0);
        let miner: String = row.get(1);
        let (report, attestation) = stored_report(&row, &listing, &miner)?;
        let origin = Origin::read(&row, 6);
        let stored = Stored {
            report,
            attestation,
            was: origin.clone(),
            origin,
            agreed: row.get(9),
            reported: row.get(10),
            existed: true,
            changed: false,
        };
        listings.entry(listing).or_default().insert(miner, stored);
    }
    Ok(listings)
}

/// One row of `consensus_reports` that a round writes.
struct ReportRow<'a> {
    listing: &'a str,
    miner: &'a str,
    stored: &'a Stored,
    reported_at: DateTime<Utc>,
    /// The report's field values, as the `text[]` a COPY writes.
    values: &'a [Option<String>],
    agreed: i32,
    reported: i32,
}

/// One row of `consensus_listings` that a round writes: the chosen values, typed.
struct ListingRow<'a> {
    listing: &'a str,
    score: f64,
    miners: i32,
    last_reported: DateTime<Utc>,
    price: Option<i64>,
    bedrooms: Option<i32>,
    bathrooms: Option<i32>,
    area: Option<i32>,
    text: [Option<&'a str>; 6],
    latitude: Option<i32>,
    longitude: Option<i32>,
    /// Every field's values with their support, as [`stored::encode`] keeps them.
    decisions: Vec<u8>,
}

/// Fields kept as text columns in `consensus_listings`, in column order.
const TEXT_FIELDS: [Field; 6] = [
    Field::Address,
    Field::HomeType,
    Field::Status,
    Field::Zip,
    Field::City,
    Field::State,
];

/// The columns of `consensus_reports`, in the order both writes give them.
const REPORT_COLUMNS: &str = "listing_id, miner_hotkey, attestation_id, reported_at, miner_trust, field_values, agreed_fields, reported_fields, epoch_id, epoch_zipcode, complete";

/// The columns of `consensus_listings`, in the order both writes give them.
const LISTING_COLUMNS: &str = "listing_id, consensus_score, unique_miners, last_reported_at, price_usd, bedrooms, bathrooms_tenths, living_area_sqft, address, home_type, home_status, zip_code, city, state, latitude_e7, longitude_e7, decisions";

/// The rows of one round. A listing none of whose reports was stored before the round has no
/// row in either table, and its partition is locked by this transaction, so nothing else
/// writes it: its rows go in with a binary COPY, which costs Postgres less than an upsert (a
/// rebuild writes almost every row this way). The rows of the other listings are upserted,
/// each table with one multi-row statement.
#[derive(Default)]
struct Writes<'a> {
    new_reports: Vec<ReportRow<'a>>,
    new_listings: Vec<ListingRow<'a>>,
    reports: Vec<ReportRow<'a>>,
    listings: Vec<ListingRow<'a>>,
}

impl<'a> Writes<'a> {
    fn report(
        &mut self,
        new: bool,
        (listing, miner, stored): (&'a str, &'a str, &'a Stored),
        agreed: i32,
        reported: i32,
    ) {
        let row = ReportRow {
            listing,
            miner,
            stored,
            reported_at: datetime(stored.report.reported_at),
            values: stored.report.values.as_slice(),
            agreed,
            reported,
        };
        if new {
            self.new_reports.push(row);
        } else {
            self.reports.push(row);
        }
    }

    fn listing(
        &mut self,
        new: bool,
        listing: &'a str,
        consensus: &'a ListingConsensus,
        reports: &BTreeMap<String, Stored>,
    ) {
        let chosen = |field: Field| {
            consensus
                .fields
                .iter()
                .find(|candidate| candidate.field == field)
                .and_then(|candidate| candidate.chosen())
                .map(|value| value.value.as_str())
        };
        let number = |field: Field| chosen(field).and_then(|value| value.parse::<i64>().ok());
        let int = |field: Field| number(field).and_then(|value| i32::try_from(value).ok());
        let coordinates = chosen(Field::Coordinates).and_then(|value| {
            let (latitude, longitude) = value.split_once(',')?;
            Some((
                latitude.parse::<i32>().ok()?,
                longitude.parse::<i32>().ok()?,
            ))
        });
        let newest = reports
            .values()
            .map(|stored| stored.report.reported_at)
            .max()
            .unwrap_or_default();
        let miners: Vec<&str> = reports.keys().map(String::as_str).collect();
        let row = ListingRow {
            listing,
            score: consensus.score,
            miners: i32::try_from(consensus.miners).unwrap_or(i32::MAX),
            last_reported: datetime(newest),
            price: number(Field::Price),
            bedrooms: int(Field::Bedrooms),
            bathrooms: int(Field::Bathrooms),
            area: int(Field::LivingArea),
            text: TEXT_FIELDS.map(chosen),
            latitude: coordinates.map(|(latitude, _)| latitude),
            longitude: coordinates.map(|(_, longitude)| longitude),
            decisions: stored::encode(consensus, &miners),
        };
        if new {
            self.new_listings.push(row);
        } else {
            self.listings.push(row);
        }
    }

    async fn store(&self, transaction: &Transaction<'_>, schema: &str) -> anyhow::Result<()> {
        // rows of new listings (see above)
        copy_rows(
            transaction,
            &format!("{schema}.consensus_reports"),
            (REPORT_COLUMNS, &REPORT_TYPES),
            &self.new_reports,
            ReportRow::params,
        )
        .await?;
        copy_rows(
            transaction,
            &format!("{schema}.consensus_listings"),
            (LISTING_COLUMNS, &LISTING_TYPES),
            &self.new_listings,
            ListingRow::params,
        )
        .await?;
        upsert_reports(transaction, schema, &self.reports).await?;
        upsert_listings(transaction, schema, &self.listings).await
    }
}

/// A parameter of a COPY row or a statement.
type Param<'r> = &'r (dyn ToSql + Sync);

impl ReportRow<'_> {
    /// The row's values in [`REPORT_COLUMNS`] order, typed as [`REPORT_TYPES`].
    fn params(&self) -> [Param<'_>; 11] {
        [
            &self.listing,
            &self.miner,
            &self.stored.attestation,
            &self.reported_at,
            &self.stored.report.trust,
            &self.values,
            &self.agreed,
            &self.reported,
            &self.stored.origin.epoch,
            &self.stored.origin.zipcode,
            &self.stored.origin.complete,
        ]
    }
}

const REPORT_TYPES: [Type; 11] = [
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
    Type::TIMESTAMPTZ,
    Type::FLOAT8,
    Type::TEXT_ARRAY,
    Type::INT4,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
];

impl ListingRow<'_> {
    /// The row's values in [`LISTING_COLUMNS`] order, typed as [`LISTING_TYPES`].
    fn params(&self) -> [Param<'_>; 17] {
        let t = &self.text;
        [
            &self.listing,
            &self.score,
            &self.miners,
            &self.last_reported,
            &self.price,
            &self.bedrooms,
            &self.bathrooms,
            &self.area,
            &t[0],
            &t[1],
            &t[2],
            &t[3],
            &t[4],
            &t[5],
            &self.latitude,
            &self.longitude,
            &self.decisions,
        ]
    }
}

const LISTING_TYPES: [Type; 17] = [
    Type::TEXT,
    Type::FLOAT8,
    Type::INT4,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT4,
    Type::INT4,
    Type::BYTEA,
];

/// Inserts `rows` into `table` with one binary COPY (nothing when there are none).
async fn copy_rows<T, const N: usize>(
    transaction: &Transaction<'_>,
    table: &str,
    (columns, types): (&str, &[Type; N]),
    rows: &[T],
    params: impl for<'r> Fn(&'r T) -> [Param<'r>; N],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let writer = copy_writer(transaction, table, columns, types).await?;
    futures::pin_mut!(writer);
    for row in rows {
        writer
            .as_mut()
            .write(&params(row))
            .await
            .with_context(|| format!("failed to copy a row into {table}"))?;
    }
    writer
        .finish()
        .await
        .with_context(|| format!("failed to finish copying into {table}"))?;
    Ok(())
}

/// Upserts reports of listings that had reports before, as one statement.
async fn upsert_reports(
    transaction: &Transaction<'_>,
    schema: &str,
    rows: &[ReportRow<'_>],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let listing: Vec<&str> = rows.iter().map(|row| row.listing).collect();
    let miner: Vec<&str> = rows.iter().map(|row| row.miner).collect();
    let attestation: Vec<&[u8]> = rows
        .iter()
        .map(|row| row.stored.attestation.as_slice())
        .collect();
    let reported_at: Vec<DateTime<Utc>> = rows.iter().map(|row| row.reported_at).collect();
    let trust: Vec<f64> = rows.iter().map(|row| row.stored.report.trust).collect();
    let v: [Vec<Option<&str>>; Field::ALL.len()] = std::array::from_fn(|field| {
        rows.iter()
            .map(|row| row.values[field].as_deref())
            .collect()
    });
    let agreed: Vec<i32> = rows.iter().map(|row| row.agreed).collect();
    let reported: Vec<i32> = rows.iter().map(|row| row.reported).collect();
    let epoch: Vec<Option<&str>> = rows
        .iter()
        .map(|row| row.stored.origin.epoch.as_deref())
        .collect();
    let zipcode: Vec<&str> = rows
        .iter()
        .map(|row| row.stored.origin.zipcode.as_str())
        .collect();
    let complete: Vec<bool> = rows.iter().map(|row| row.stored.origin.complete).collect();
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.consensus_reports AS current ({REPORT_COLUMNS})
                 SELECT l, m, a, r, t, ARRAY[v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10],
                        agreed, reported, e, z, c
                 FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[],
                             $5::float8[], $6::text[], $7::text[], $8::text[], $9::text[],
                             $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                             $15::text[], $16::text[], $17::int4[], $18::int4[], $19::text[],
                             $20::text[], $21::bool[])
                   AS batch (l, m, a, r, t, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10,
                             agreed, reported, e, z, c)
                 ON CONFLICT (listing_id, miner_hotkey) DO UPDATE SET
                   attestation_id = EXCLUDED.attestation_id,
                   reported_at = EXCLUDED.reported_at, miner_trust = EXCLUDED.miner_trust,
                   field_values = EXCLUDED.field_values,
                   agreed_fields = EXCLUDED.agreed_fields,
                   reported_fields = EXCLUDED.reported_fields,
                   epoch_id = EXCLUDED.epoch_id, epoch_zipcode = EXCLUDED.epoch_zipcode,
                   complete = EXCLUDED.complete"
            ),
            &[
                &listing,
                &miner,
                &attestation,
                &reported_at,
                &trust,
                &v[0],
                &v[1],
                &v[2],
                &v[3],
                &v[4],
                &v[5],
                &v[6],
                &v[7],
                &v[8],
                &v[9],
                &v[10],
                &agreed,
                &reported,
                &epoch,
                &zipcode,
                &complete,
            ],
        )
        .await
        .context("failed to write consensus reports")?;
    Ok(())
}

/// Upserts the rows of listings that had reports before, as one statement.
async fn upsert_listings(
    transaction: &Transaction<'_>,
    schema: &str,
    rows: &[ListingRow<'_>],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let listing: Vec<&str> = rows.iter().map(|row| row.listing).collect();
    let score: Vec<f64> = rows.iter().map(|row| row.score).collect();
    let miners: Vec<i32> = rows.iter().map(|row| row.miners).collect();
    let last_reported: Vec<DateTime<Utc>> = rows.iter().map(|row| row.last_reported).collect();
    let price: Vec<Option<i64>> = rows.iter().map(|row| row.price).collect();
    let bedrooms: Vec<Option<i32>> = rows.iter().map(|row| row.bedrooms).collect();
    let bathrooms: Vec<Option<i32>> = rows.iter().map(|row| row.bathrooms).collect();
    let area: Vec<Option<i32>> = rows.iter().map(|row| row.area).collect();
    let t: [Vec<Option<&str>>; 6] =
        std::array::from_fn(|column| rows.iter().map(|row| row.text[column]).collect());
    let latitude: Vec<Option<i32>> = rows.iter().map(|row| row.latitude).collect();
    let longitude: Vec<Option<i32>> = rows.iter().map(|row| row.longitude).collect();
    let decisions: Vec<&[u8]> = rows.iter().map(|row| row.decisions.as_slice()).collect();
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.consensus_listings AS current ({LISTING_COLUMNS})
                 SELECT * FROM unnest($1::text[], $2::float8[], $3::int4[],
                   $4::timestamptz[], $5::int8[], $6::int4[], $7::int4[], $8::int4[],
                   $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                   $14::text[], $15::int4[], $16::int4[], $17::bytea[])
                 ON CONFLICT (listing_id) DO UPDATE SET
                   consensus_score = EXCLUDED.consensus_score,
                   unique_miners = EXCLUDED.unique_miners,
                   last_reported_at = EXCLUDED.last_reported_at,
                   price_usd = EXCLUDED.price_usd, bedrooms = EXCLUDED.bedrooms,
                   bathrooms_tenths = EXCLUDED.bathrooms_tenths,
                   living_area_sqft = EXCLUDED.living_area_sqft,
                   address = EXCLUDED.address, home_type = EXCLUDED.home_type,
                   home_status = EXCLUDED.home_status, zip_code = EXCLUDED.zip_code,
                   city = EXCLUDED.city, state = EXCLUDED.state,
                   latitude_e7 = EXCLUDED.latitude_e7, longitude_e7 = EXCLUDED.longitude_e7,
                   decisions = EXCLUDED.decisions"
            ),
            &[
                &listing,
                &score,
                &miners,
                &last_reported,
                &price,
                &bedrooms,
                &bathrooms,
                &area,
                &t[0],
                &t[1],
                &t[2],
                &t[3],
                &t[4],
                &t[5],
                &latitude,
                &longitude,
                &decisions,
            ],
        )
        .await
        .context("failed to write consensus listings")?;
    Ok(())
}

/// `epoch_agreement` recounted from the reports of the version (`{schema}`), in its columns:
/// what the folds' counters must equal.
pub fn recount_epoch_agreement(schema: &str) -> String {
    format!(
        "SELECT r.epoch_id, r.miner_hotkey, r.epoch_zipcode AS zipcode, count(*)::int8 AS listings,
                count(*) FILTER (WHERE r.complete)::int8 AS complete_listings,
                count(*) FILTER (WHERE l.unique_miners >= 3)::int8 AS checked_listings,
                coalesce(sum(r.agreed_fields) FILTER (WHERE l.unique_miners >= 3), 0)::int8
                  AS agreed_fields,
                coalesce(sum(r.reported_fields) FILTER (WHERE l.unique_miners >= 3), 0)::int8
                  AS reported_fields
           FROM {schema}.consensus_reports r
           JOIN {schema}.consensus_listings l USING (listing_id)
          WHERE r.epoch_id IS NOT NULL
          GROUP BY 1, 2, 3"
    )
}

/// Adds the batch's epoch deltas to `epoch_agreement`, keys in order (so two instances writing
/// the same rows never deadlock); deltas that cancel out are not written.
async fn store_epoch_agreement(
    transaction: &Transaction<'_>,
    schema: &str,
    deltas: &EpochDeltas,
) -> anyhow::Result<()> {
    let moved: Vec<(&EpochKey, &[i64; 5])> = deltas
        .iter()
        .filter(|(_, counts)| counts.iter().any(|count| *count != 0))
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    let epoch: Vec<&str> = moved.iter().map(|(key, _)| key.0.as_str()).collect();
    let miner: Vec<&str> = moved.iter().map(|(key, _)| key.1.as_str()).collect();
    let zipcode: Vec<&str> = moved.iter().map(|(key, _)| key.2.as_str()).collect();
    let column = |index: usize| -> Vec<i64> { moved.iter().map(|(_, c)| c[index]).collect() };
    let (listings, complete, checked, agreed, reported) =
        (column(0), column(1), column(2), column(3), column(4));
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.epoch_agreement AS current
                   (epoch_id, miner_hotkey, zipcode, listings, complete_listings,
                    checked_listings, agreed_fields, reported_fields)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[],
                                      $5::int8[], $6::int8[], $7::int8[], $8::int8[])
                 ON CONFLICT (epoch_id, miner_hotkey, zipcode) DO UPDATE SET
                   listings = current.listings + EXCLUDED.listings,
                   complete_listings = current.complete_listings + EXCLUDED.complete_listings,
                   checked_listings = current.checked_listings + EXCLUDED.checked_listings,
                   agreed_fields = current.agreed_fields + EXCLUDED.agreed_fields,
                   reported_fields = current.reported_fields + EXCLUDED.reported_fields"
            ),
            &[
                &epoch, &miner, &zipcode, &listings, &complete, &checked, &agreed, &reported,
            ],
        )
        .await
        .context("failed to update the epoch agreement counters")?;
    Ok(())
}

/// Adds the batch's agreement deltas to `miner_accuracy`, miners in order (so two instances
/// writing the same miners never deadlock).
async fn store_accuracy(
    transaction: &Transaction<'_>,
    schema: &str,
    deltas: &AccuracyDeltas,
) -> anyhow::Result<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    let miners: Vec<&str> = deltas.keys().map(String::as_str).collect();
    let listings: Vec<i64> = deltas.values().map(|delta| delta.0).collect();
    let agreed: Vec<i64> = deltas.values().map(|delta| delta.1).collect();
    let reported: Vec<i64> = deltas.values().map(|delta| delta.2).collect();
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.miner_accuracy AS current
                   (miner_hotkey, listings, agreed_fields, reported_fields, accuracy_score)
                 SELECT m, l, a, r,
                        -- a delta row can agree on more than it adds (agreement also changes on
                        -- fields reported before), and CHECK applies before ON CONFLICT
                        CASE WHEN r > 0 THEN least(1, greatest(0, a::float8 / r)) ELSE 0 END
                 FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS batch (m, l, a, r)
                 ON CONFLICT (miner_hotkey) DO UPDATE SET
                   listings = current.listings + EXCLUDED.listings,
                   agreed_fields = current.agreed_fields + EXCLUDED.agreed_fields,
                   reported_fields = current.reported_fields + EXCLUDED.reported_fields,
                   accuracy_score = CASE
                     WHEN current.reported_fields + EXCLUDED.reported_fields > 0
                     THEN (current.agreed_fields + EXCLUDED.agreed_fields)::float8
                          / (current.reported_fields + EXCLUDED.reported_fields)
                     ELSE 0 END"
            ),
            &[&miners, &listings, &agreed, &reported],
        )
        .await
        .context("failed to update miner accuracy")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_name_their_algorithm() {
        let name = |version: &str| algorithm(version).map(|algorithm| algorithm.name().to_owned());
        assert_eq!(name("v1").ok().as_deref(), Some("v1"));
        assert_eq!(name("v2").ok().as_deref(), Some("v2"));
        assert_eq!(name("v2_rerun").ok().as_deref(), Some("v2"));
        assert_eq!(name("v3").ok().as_deref(), Some("v3"));
        assert!(name("exp1").is_err());
        assert!(name("").is_err());
        let params: Params = [("price_tolerance".to_owned(), "0.02".to_owned())].into();
        let declared = declared_algorithm("exp1", Some(("v3", &params))).ok();
        assert_eq!(
            declared.map(|algorithm| algorithm.params()["price_tolerance"].clone()),
            Some("0.02".to_owned())
        );
        assert!(declared_algorithm("exp1", Some(("v1", &params))).is_err());
    }
}
