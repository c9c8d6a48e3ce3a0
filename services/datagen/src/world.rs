//! The simulated world: true listings, miners, who reports what when, and the files that result.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};
use rand::seq::index;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::geography::{AREAS, HOME_TYPES, STREETS, SUFFIXES, ZipArea};
use crate::json_files;
use crate::parquet_files::{self, BATCH_ROWS};
use crate::report::Report;
use crate::{
    Behaviour, Expected, GeneratorConfig, MANIFEST_KEY, Manifest, ManifestMiner, ManifestObject,
    Shape, Sink, TRUTH_KEY, TrueListing,
};

/// Hours in an epoch (the network's cadence).
const EPOCH_HOURS: usize = 4;
/// Hours into an epoch when its mining ends and epoch-shaped miners upload.
const MINING_HOURS: i64 = 2;
/// Zipcodes the mock scraper fills per epoch.
const MOCK_ZIPCODES_PER_EPOCH: usize = 2;
/// Listings the mock scraper makes up per zipcode.
const MOCK_LISTINGS_PER_ZIPCODE: usize = 10;

/// A span of whole hours; the config bounds rounds and their spacing far below `i64::MAX` hours.
fn hours(hours: usize) -> Duration {
    Duration::hours(i64::try_from(hours).unwrap_or(i64::MAX / 3_600_000))
}

/// A deterministic generator for one purpose, independent of every other purpose's draws, so
/// changing one knob does not reshuffle unrelated data.
pub(crate) fn rng_for(seed: u64, purpose: &str, index: u64) -> ChaCha8Rng {
    let digest = blake3::Hasher::new()
        .update(&seed.to_le_bytes())
        .update(purpose.as_bytes())
        .update(&index.to_le_bytes())
        .finalize();
    ChaCha8Rng::from_seed(*digest.as_bytes())
}

/// A hotkey shaped like an SS58 address.
pub(crate) fn hotkey(rng: &mut impl RngCore) -> String {
    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let tail: String = (0..47)
        .map(|_| char::from(BASE58[rng.random_range(0..BASE58.len())]))
        .collect();
    format!("5{tail}")
}

#[derive(Clone, Debug)]
pub(crate) struct Miner {
    pub hotkey: String,
    pub behaviour: Behaviour,
    pub shape: Shape,
    /// Seconds after each round boundary at which this miner uploads.
    pub offset_secs: i64,
}

impl Miner {
    /// The time this miner's file names show for an upload at `at` (UTC): the real shapes use
    /// the miner's local clock.
    pub(crate) fn name_time(&self, at: NaiveDateTime, config: &GeneratorConfig) -> NaiveDateTime {
        match self.shape {
            Shape::V1 | Shape::V2 => at,
            Shape::V1Real | Shape::V1Nested | Shape::EpochJson => {
                at - Duration::hours(i64::from(config.local_clock_behind_hours))
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Change {
    round: usize,
    price: i64,
    status: &'static str,
}

#[derive(Clone, Debug)]
struct Truth {
    zpid: u64,
    area: &'static ZipArea,
    number: u32,
    street: &'static str,
    suffix: (&'static str, &'static str),
    bedrooms: i64,
    bathrooms: f64,
    living_area: i64,
    home_type: &'static str,
    latitude: f64,
    longitude: f64,
    price: i64,
    status: &'static str,
    days_on_market: i64,
    mls_id: String,
    change: Option<Change>,
}

fn weighted<'a>(rng: &mut impl Rng, choices: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = choices.iter().map(|(_, weight)| weight).sum();
    let mut pick = rng.random_range(0..total);
    for (choice, weight) in choices {
        if pick < *weight {
            return choice;
        }
        pick -= weight;
    }
    choices[0].0
}

fn round_to(value: f64, step: i64) -> i64 {
    // prices and areas here are far below 2^53
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let rounded = (value / step as f64).round() as i64 * step;
    rounded
}

impl Truth {
    fn draw(
        rng: &mut impl Rng,
        zpid: u64,
        area: &'static ZipArea,
        rounds: usize,
        change_rate: f64,
    ) -> Self {
        let home_type = weighted(rng, &HOME_TYPES);
        let bedrooms = match home_type {
            "CONDO" | "APARTMENT" => rng.random_range(0..=3),
            _ => rng.random_range(2..=6),
        };
        let bathrooms = (f64::from(u8::try_from(bedrooms).unwrap_or(2)) * 0.5
            + 1.0
            + if rng.random_bool(0.5) { 0.5 } else { 0.0 })
        .min(5.0);
        let living_area = 450 + bedrooms * 420 + rng.random_range(-150..350);
        // living areas are small positive integers
        #[allow(clippy::cast_precision_loss)]
        let size_factor = (living_area as f64 / 1_800.0).powf(0.8);
        #[allow(clippy::cast_precision_loss)]
        let price = round_to(
            area.median_price as f64 * size_factor * rng.random_range(0.8..1.25),
            100,
        );
        let status = weighted(rng, &[("FOR_SALE", 92), ("PENDING", 8)]);
        let change = (rounds > 1 && rng.random_bool(change_rate)).then(|| {
            let round = rng.random_range(1..rounds);
            if rng.random_bool(0.6) {
                #[allow(clippy::cast_precision_loss)]
                let cut = round_to(price as f64 * rng.random_range(0.90..0.98), 100);
                Change {
                    round,
                    price: cut,
                    status,
                }
            } else {
                Change {
                    round,
                    price,
                    status: if status == "PENDING" {
                        "RECENTLY_SOLD"
                    } else {
                        "PENDING"
                    },
                }
            }
        });
        let days_on_market = rng.random_range(0..120);
        Self {
            zpid,
            area,
            number: rng.random_range(100..9_999),
            street: STREETS[rng.random_range(0..STREETS.len())],
            suffix: SUFFIXES[rng.random_range(0..SUFFIXES.len())],
            bedrooms,
            bathrooms,
            living_area,
            home_type,
            latitude: area.latitude + rng.random_range(-0.03..0.03),
            longitude: area.longitude + rng.random_range(-0.03..0.03),
            price,
            status,
            days_on_market,
            mls_id: format!("{}{:07}", area.state, rng.random_range(0..10_000_000)),
            change,
        }
    }

    /// What an honest, careful miner sees at `round`, scraped at `scraped_at`.
    fn observe(
        &self,
        round: usize,
        scraped_at: NaiveDateTime,
        start: NaiveDateTime,
        rng: &mut impl Rng,
    ) -> Report {
        let (price, status) = match self.change {
            Some(change) if change.round <= round => (change.price, change.status),
            _ => (self.price, self.status),
        };
        let hours = (scraped_at - start).num_hours().max(0);
        let suffix = if rng.random_bool(0.5) {
            self.suffix.0
        } else {
            self.suffix.1
        };
        Report {
            zpid: self.zpid,
            street: format!("{} {} {suffix}", self.number, self.street),
            city: self.area.city.to_owned(),
            state: self.area.state.to_owned(),
            zip: self.area.zip.to_owned(),
            price: Some(price),
            bedrooms: Some(self.bedrooms),
            bathrooms: Some(self.bathrooms),
            living_area: Some(self.living_area),
            home_type: self.home_type.to_owned(),
            home_status: status.to_owned(),
            days_on_market: Some(self.days_on_market + hours / 24),
            latitude: Some(self.latitude),
            longitude: Some(self.longitude),
            listing_date: start.date() - Duration::days(self.days_on_market),
            mls_id: self.mls_id.clone(),
            scraped_at,
        }
    }
}

/// A listing nobody else reports (floods, bad inputs, the huge file).
pub(crate) fn fabricate(rng: &mut impl Rng, zpid: u64, scraped_at: NaiveDateTime) -> Report {
    let area = &AREAS[rng.random_range(0..AREAS.len())];
    let truth = Truth::draw(rng, zpid, area, 1, 0.0);
    truth.observe(0, scraped_at, scraped_at, rng)
}

fn careless(
    report: &mut Report,
    rate: f64,
    null_rate: f64,
    stale_status: Option<&str>,
    rng: &mut impl Rng,
) {
    if rng.random_bool(rate) {
        report.price = report.price.map(|price| {
            #[allow(clippy::cast_precision_loss)]
            let off = price as f64
                * rng.random_range(0.01..0.05)
                * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            round_to(price as f64 + off, 100)
        });
    }
    if rng.random_bool(rate) {
        report.bedrooms = report
            .bedrooms
            .map(|beds| (beds + if rng.random_bool(0.5) { 1 } else { -1 }).max(0));
    }
    if rng.random_bool(rate) {
        report.bathrooms = report.bathrooms.map(|baths| (baths + 0.5).min(6.0));
    }
    if rng.random_bool(rate) {
        #[allow(clippy::cast_precision_loss)]
        let scaled = report
            .living_area
            .map(|area| round_to(area as f64 * rng.random_range(0.85..1.15), 1));
        report.living_area = scaled;
    }
    if let Some(stale) = stale_status
        && rng.random_bool(rate)
    {
        stale.clone_into(&mut report.home_status);
    }
    if rng.random_bool(rate) {
        report.latitude = report
            .latitude
            .map(|lat| lat + rng.random_range(-0.000_5..0.000_5));
        report.longitude = report
            .longitude
            .map(|lon| lon + rng.random_range(-0.000_5..0.000_5));
    }
    if rng.random_bool(null_rate) {
        report.living_area = None;
    }
    if rng.random_bool(null_rate) {
        report.days_on_market = None;
    }
    if rng.random_bool(null_rate) {
        report.latitude = None;
        report.longitude = None;
    }
}

/// For each area, the miners that scrape it: every miner takes `zips_per_miner` areas, then
/// areas with fewer than `overlap` miners get more, so each listing can be seen `overlap` times.
fn territories(
    rng: &mut impl Rng,
    areas: usize,
    miners: usize,
    zips_per_miner: usize,
    overlap: usize,
) -> Vec<Vec<usize>> {
    let mut coverers: Vec<Vec<usize>> = vec![Vec::new(); areas];
    if miners == 0 {
        return coverers;
    }
    for miner in 0..miners {
        for area in index::sample(rng, areas, zips_per_miner.clamp(1, areas)) {
            coverers[area].push(miner);
        }
    }
    for (area, covering) in coverers.iter_mut().enumerate() {
        let mut next = area % miners;
        while covering.len() < overlap.min(miners) {
            if !covering.contains(&next) {
                covering.push(next);
            }
            next = (next + 1) % miners;
        }
        covering.sort_unstable();
    }
    coverers
}

pub(crate) struct World<'c> {
    config: &'c GeneratorConfig,
    start: NaiveDateTime,
    miners: Vec<Miner>,
    /// The areas of this world (indices into `AREAS`).
    areas: Vec<usize>,
    truths: Vec<Truth>,
    /// (miner, round) → listings it reports then, in listing order.
    schedule: BTreeMap<(usize, usize), Vec<usize>>,
}

impl<'c> World<'c> {
    pub(crate) fn build(config: &'c GeneratorConfig) -> Self {
        let start = config.start.naive_utc();
        let mut miner_rng = rng_for(config.seed, "miners", 0);
        let mut miners = Vec::new();
        let mut add = |count: usize, behaviour: Behaviour, shape: &dyn Fn(usize) -> Shape| {
            for index in 0..count {
                miners.push(Miner {
                    hotkey: hotkey(&mut miner_rng),
                    behaviour,
                    shape: shape(index),
                    offset_secs: miner_rng.random_range(0..3_600),
                });
            }
        };
        // the honest miners' layouts, from the last one back: v2, epoch JSON, real v1, tidy v1
        let honest = config.honest_miners;
        let v2_from = honest.saturating_sub(config.v2_miners);
        let json_from = v2_from.saturating_sub(config.epoch_json_miners);
        let real_from = json_from.saturating_sub(config.real_v1_miners);
        let honest_shape = |index: usize| match index {
            index if index >= v2_from => Shape::V2,
            index if index >= json_from => Shape::EpochJson,
            index if index >= real_from => Shape::V1Real,
            _ => Shape::V1,
        };
        add(honest, Behaviour::Honest, &honest_shape);
        add(config.fake_price_miners, Behaviour::FakePrices, &|_| {
            Shape::V1
        });
        add(config.duplicate_miners, Behaviour::DuplicateRows, &|_| {
            Shape::V1
        });
        add(config.flood_miners, Behaviour::Flood, &|_| Shape::V1);
        add(config.wrong_zip_miners, Behaviour::WrongZips, &|_| {
            Shape::V1
        });
        add(
            config.nested_schema_miners,
            Behaviour::NestedSchema,
            &|_| Shape::V1Nested,
        );
        // last, so that the miners who scrape are the first `scrapers` of the list
        add(config.mock_scraper_miners, Behaviour::MockScraper, &|_| {
            Shape::EpochJson
        });
        let scrapers = miners.len() - config.mock_scraper_miners;

        // the markets of this world, and the ones each miner scrapes
        let mut area_rng = rng_for(config.seed, "areas", 0);
        let areas: Vec<usize> = index::sample(
            &mut area_rng,
            AREAS.len(),
            config.areas.clamp(1, AREAS.len()),
        )
        .into_vec();
        // the mock scraper scrapes nothing: it has no territory
        let coverers = territories(
            &mut area_rng,
            areas.len(),
            scrapers,
            config.zips_per_miner,
            config.reports_per_listing,
        );

        let mut truth_rng = rng_for(config.seed, "listings", 0);
        let truths: Vec<(usize, Truth)> = (0..config.listings)
            .map(|index| {
                let zpid = 20_000_000 + index as u64 * 37 + truth_rng.random_range(0..37);
                let area = truth_rng.random_range(0..areas.len());
                (
                    area,
                    Truth::draw(
                        &mut truth_rng,
                        zpid,
                        &AREAS[areas[area]],
                        config.rounds,
                        config.change_rate,
                    ),
                )
            })
            .collect();

        let mut schedule: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        let mut assign_rng = rng_for(config.seed, "assignment", 0);
        // its own draws, so that who reports what first does not depend on who re-scrapes
        let mut rescrape_rng = rng_for(config.seed, "rescrape", 0);
        let rounds = config.rounds.max(1);
        for (listing, (area, truth)) in truths.iter().enumerate() {
            let candidates = &coverers[*area];
            let reporters = config.reports_per_listing.min(candidates.len());
            for pick in index::sample(&mut assign_rng, candidates.len(), reporters) {
                let miner = candidates[pick];
                let first_round = assign_rng.random_range(0..rounds);
                schedule
                    .entry((miner, first_round))
                    .or_default()
                    .push(listing);
                if let Some(change) = truth.change
                    && change.round > first_round
                    && rescrape_rng.random_bool(config.rescrape_rate)
                {
                    // a delta upload: the miner re-scrapes a listing that changed
                    schedule
                        .entry((miner, change.round))
                        .or_default()
                        .push(listing);
                }
            }
        }
        let truths = truths.into_iter().map(|(_, truth)| truth).collect();
        Self {
            config,
            start,
            miners,
            areas,
            truths,
            schedule,
        }
    }

    fn round_time(&self, miner: &Miner, round: usize) -> NaiveDateTime {
        self.start + hours(round * self.config.round_hours) + Duration::seconds(miner.offset_secs)
    }

    /// The epoch a round falls in.
    fn epoch_of(&self, round: usize) -> usize {
        round * self.config.round_hours / EPOCH_HOURS
    }

    /// When an epoch starts, on the world's clock.
    fn epoch_start(&self, epoch: usize) -> NaiveDateTime {
        self.start + hours(epoch * EPOCH_HOURS)
    }

    /// When an epoch's mining ends and a miner uploads its epoch files, on its clock.
    fn mining_end(&self, miner: &Miner, epoch: usize) -> NaiveDateTime {
        self.epoch_start(epoch)
            + Duration::hours(MINING_HOURS)
            + Duration::seconds(miner.offset_secs)
    }

    fn reports(&self, miner_index: usize, round: usize, listings: &[usize]) -> Vec<Report> {
        let miner = &self.miners[miner_index];
        let uploaded_at = self.round_time(miner, round);
        let mut rng = rng_for(
            self.config.seed,
            "reports",
            (miner_index as u64) << 32 | round as u64,
        );
        listings
            .iter()
            .map(|&listing| {
                let truth = &self.truths[listing];
                let scraped_at = uploaded_at - Duration::seconds(rng.random_range(300..6_600));
                let mut report = truth.observe(round, scraped_at, self.start, &mut rng);
                let stale = truth
                    .change
                    .filter(|change| change.round <= round)
                    .map(|_| truth.status);
                careless(
                    &mut report,
                    self.config.disagreement_rate,
                    self.config.null_rate,
                    stale,
                    &mut rng,
                );
                match miner.behaviour {
                    Behaviour::FakePrices => {
                        #[allow(clippy::cast_precision_loss)]
                        let fake = report.price.map(|price| {
                            round_to(price as f64 * rng.random_range(0.4..0.7), 1_000)
                        });
                        report.price = fake;
                    }
                    Behaviour::WrongZips => {
                        AREAS[rng.random_range(0..AREAS.len())]
                            .zip
                            .clone_into(&mut report.zip);
                    }
                    _ => {}
                }
                report
            })
            .collect()
    }

    pub(crate) async fn write_all(&self, sink: &mut Sink) -> anyhow::Result<Manifest> {
        let mut objects = Vec::new();
        for (&(miner_index, round), listings) in &self.schedule {
            let miner = &self.miners[miner_index];
            if matches!(miner.shape, Shape::V2 | Shape::EpochJson) {
                continue;
            }
            let mut by_job: BTreeMap<String, Vec<Report>> = BTreeMap::new();
            for (report, &listing) in self
                .reports(miner_index, round, listings)
                .into_iter()
                .zip(listings)
            {
                by_job
                    .entry(format!("zillow_zip_{}", self.truths[listing].area.zip))
                    .or_default()
                    .push(report);
            }
            for (job, mut reports) in by_job {
                if miner.behaviour == Behaviour::DuplicateRows {
                    let repeats: Vec<Report> = reports.iter().step_by(5).cloned().collect();
                    reports.extend(repeats);
                }
                let at = self.round_time(miner, round);
                write_v1(self.config, sink, &mut objects, miner, &job, at, &reports).await?;
            }
        }
        self.write_v2(sink, &mut objects).await?;
        self.write_epoch_json(sink, &mut objects).await?;
        self.write_mock(sink, &mut objects).await?;
        self.write_floods(sink, &mut objects).await?;
        self.write_truth(sink).await?;
        let changed_listings = self
            .truths
            .iter()
            .filter(|truth| truth.change.is_some())
            .count();
        Ok(Manifest {
            config: self.config.clone(),
            miners: self
                .miners
                .iter()
                .map(|miner| ManifestMiner {
                    hotkey: miner.hotkey.clone(),
                    behaviour: miner.behaviour,
                    shape: miner.shape,
                })
                .collect(),
            listings: self.truths.len(),
            changed_listings,
            objects,
        })
    }

    /// The truth of every listing, for scoring consensus algorithms against (`resi lab score`).
    async fn write_truth(&self, sink: &mut Sink) -> anyhow::Result<()> {
        let mut body = Vec::new();
        for truth in &self.truths {
            let (price, status) = match truth.change {
                Some(change) => (change.price, change.status),
                None => (truth.price, truth.status),
            };
            // coordinates and bathrooms here are small and finite
            #[allow(clippy::cast_possible_truncation)]
            let e7 = |degrees: f64| (degrees * 1e7).round() as i64;
            #[allow(clippy::cast_possible_truncation)]
            let tenths = (truth.bathrooms * 10.0).round() as i64;
            serde_json::to_writer(
                &mut body,
                &TrueListing {
                    listing_id: truth.zpid.to_string(),
                    price_usd: price,
                    bedrooms: truth.bedrooms,
                    bathrooms_tenths: tenths,
                    living_area_sqft: truth.living_area,
                    home_status: status.to_owned(),
                    zip_code: truth.area.zip.to_owned(),
                    latitude_e7: e7(truth.latitude),
                    longitude_e7: e7(truth.longitude),
                    changed: truth.change.is_some(),
                },
            )?;
            body.push(b'\n');
        }
        sink.put(TRUTH_KEY, body).await
    }

    async fn write_v2(
        &self,
        sink: &mut Sink,
        objects: &mut Vec<ManifestObject>,
    ) -> anyhow::Result<()> {
        let mut epochs: BTreeMap<(usize, usize), Vec<Report>> = BTreeMap::new();
        for (&(miner_index, round), listings) in &self.schedule {
            if self.miners[miner_index].shape == Shape::V2 {
                let reports = self.reports(miner_index, round, listings);
                epochs
                    .entry((miner_index, self.epoch_of(round)))
                    .or_default()
                    .extend(reports);
            }
        }
        for ((miner_index, epoch), reports) in epochs {
            let miner = &self.miners[miner_index];
            let epoch_start = self.epoch_start(epoch);
            let mining_end = self.mining_end(miner, epoch);
            write_v2_epoch(
                self.config,
                sink,
                objects,
                miner,
                epoch_start,
                mining_end,
                &reports,
                &miner.hotkey,
            )
            .await?;
        }
        Ok(())
    }

    /// The epoch JSON miners' uploads: one document per epoch and zipcode, uploaded when the
    /// epoch's mining ends.
    async fn write_epoch_json(
        &self,
        sink: &mut Sink,
        objects: &mut Vec<ManifestObject>,
    ) -> anyhow::Result<()> {
        let mut documents: BTreeMap<(usize, usize, String), Vec<Report>> = BTreeMap::new();
        for (&(miner_index, round), listings) in &self.schedule {
            if self.miners[miner_index].shape != Shape::EpochJson {
                continue;
            }
            for report in self.reports(miner_index, round, listings) {
                documents
                    .entry((miner_index, self.epoch_of(round), report.zip.clone()))
                    .or_default()
                    .push(report);
            }
        }
        for (index, ((miner_index, epoch, zipcode), reports)) in documents.into_iter().enumerate() {
            let miner = &self.miners[miner_index];
            let listings = reports.iter().map(json_files::real_listing).collect();
            let document = Document {
                miner,
                epoch,
                zipcode: &zipcode,
                doubled: index % 3 != 2,
                rows: reports.len(),
            };
            self.put_document(sink, objects, &document, listings)
                .await?;
        }
        Ok(())
    }

    /// The mock scraper miners' uploads: made-up listings for a few of the world's zipcodes
    /// each epoch.
    async fn write_mock(
        &self,
        sink: &mut Sink,
        objects: &mut Vec<ManifestObject>,
    ) -> anyhow::Result<()> {
        let epochs: std::collections::BTreeSet<usize> = (0..self.config.rounds.max(1))
            .map(|round| self.epoch_of(round))
            .collect();
        for (miner_index, miner) in self.miners.iter().enumerate() {
            if miner.behaviour != Behaviour::MockScraper {
                continue;
            }
            let mut rng = rng_for(self.config.seed, "mock", miner_index as u64);
            for &epoch in &epochs {
                let now = self.mining_end(miner, epoch);
                for pick in index::sample(
                    &mut rng,
                    self.areas.len(),
                    MOCK_ZIPCODES_PER_EPOCH.min(self.areas.len()),
                ) {
                    let zipcode = AREAS[self.areas[pick]].zip;
                    let listings = (0..MOCK_LISTINGS_PER_ZIPCODE)
                        .map(|index| json_files::mock_listing(&mut rng, zipcode, index, now))
                        .collect();
                    let document = Document {
                        miner,
                        epoch,
                        zipcode,
                        doubled: true,
                        rows: MOCK_LISTINGS_PER_ZIPCODE,
                    };
                    self.put_document(sink, objects, &document, listings)
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn put_document(
        &self,
        sink: &mut Sink,
        objects: &mut Vec<ManifestObject>,
        document: &Document<'_>,
        listings: Vec<serde_json::Value>,
    ) -> anyhow::Result<()> {
        let miner = document.miner;
        let epoch_id = self
            .epoch_start(document.epoch)
            .format("%Y-%m-%dT%H-%M-%S")
            .to_string();
        let uploaded = self.mining_end(miner, document.epoch);
        let file_name = crate::epoch_json_file_name(miner.name_time(uploaded, self.config));
        let key = json_files::key(
            &miner.hotkey,
            &epoch_id,
            document.zipcode,
            &file_name,
            document.doubled,
        );
        let body = json_files::bytes(&json_files::document(
            &epoch_id,
            document.zipcode,
            &miner.hotkey,
            uploaded,
            listings,
        ))?;
        let entry = Entry {
            key,
            format: "epoch_json",
            miner,
            rows: document.rows,
            expected: Expected::Parsed {
                rows: document.rows as u64,
            },
        };
        put_recorded(sink, objects, entry, body).await
    }

    async fn write_floods(
        &self,
        sink: &mut Sink,
        objects: &mut Vec<ManifestObject>,
    ) -> anyhow::Result<()> {
        for (miner_index, miner) in self.miners.iter().enumerate() {
            if miner.behaviour != Behaviour::Flood || self.config.flood_rows == 0 {
                continue;
            }
            let mut rng = rng_for(self.config.seed, "flood", miner_index as u64);
            let at = self.round_time(miner, 0) + Duration::minutes(1);
            let reports: Vec<Report> = (0..self.config.flood_rows as u64)
                .map(|row| {
                    fabricate(
                        &mut rng,
                        90_000_000 + (miner_index as u64) * 1_000_000 + row,
                        at - Duration::minutes(30),
                    )
                })
                .collect();
            write_v1(
                self.config,
                sink,
                objects,
                miner,
                "zillow_bulk",
                at,
                &reports,
            )
            .await?;
        }
        Ok(())
    }
}

/// One epoch JSON document to write.
struct Document<'m> {
    miner: &'m Miner,
    epoch: usize,
    zipcode: &'m str,
    /// Whether the key has the credential folder twice.
    doubled: bool,
    rows: usize,
}

/// Record batches of at most `BATCH_ROWS` rows; one empty batch for no rows, so that even a
/// zero-row file carries its schema.
fn batches<'r>(
    reports: &'r [Report],
    layout: fn(&[Report]) -> anyhow::Result<arrow::record_batch::RecordBatch>,
) -> impl Iterator<Item = anyhow::Result<arrow::record_batch::RecordBatch>> + 'r {
    let chunks: Vec<&[Report]> = if reports.is_empty() {
        vec![&[]]
    } else {
        reports.chunks(BATCH_ROWS).collect()
    };
    chunks.into_iter().map(layout)
}

pub(crate) fn v1_key(hotkey: &str, job: &str, file_name: &str) -> String {
    format!("data/hotkey={hotkey}/job_id={job}/{file_name}")
}

pub(crate) fn v2_dir(hotkey: &str, epoch_id: &str) -> String {
    format!("data/hotkey={hotkey}/epoch={epoch_id}")
}

async fn put_jsonl(
    config: &GeneratorConfig,
    sink: &mut Sink,
    key: &str,
    rows: impl Iterator<Item = serde_json::Value>,
) -> anyhow::Result<()> {
    if !config.emit_jsonl {
        return Ok(());
    }
    let mut body = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut body, &row)?;
        body.push(b'\n');
    }
    sink.put(
        &format!(
            "{}/rows/{key}.jsonl",
            MANIFEST_KEY.trim_end_matches("/manifest.json")
        ),
        body,
    )
    .await
}

/// What the manifest records of an object, apart from its size.
pub(crate) struct Entry<'m> {
    pub key: String,
    pub format: &'static str,
    pub miner: &'m Miner,
    pub rows: usize,
    pub expected: Expected,
}

/// Records an object in the manifest, then writes it.
pub(crate) async fn put_recorded(
    sink: &mut Sink,
    objects: &mut Vec<ManifestObject>,
    entry: Entry<'_>,
    body: Vec<u8>,
) -> anyhow::Result<()> {
    objects.push(ManifestObject {
        key: entry.key.clone(),
        format: entry.format.to_owned(),
        miner: entry.miner.hotkey.clone(),
        behaviour: entry.miner.behaviour,
        rows: entry.rows as u64,
        bytes: body.len() as u64,
        expected: entry.expected,
    });
    sink.put(&entry.key, body).await
}

pub(crate) async fn write_v1(
    config: &GeneratorConfig,
    sink: &mut Sink,
    objects: &mut Vec<ManifestObject>,
    miner: &Miner,
    job: &str,
    at: NaiveDateTime,
    reports: &[Report],
) -> anyhow::Result<()> {
    let name_time = miner.name_time(at, config);
    let key = v1_key(
        &miner.hotkey,
        job,
        &crate::v1_file_name(name_time, reports.len()),
    );
    let layout = match miner.shape {
        Shape::V1Real => parquet_files::v1_real_batch,
        Shape::V1Nested => parquet_files::v1_nested_batch,
        Shape::V1 | Shape::V2 | Shape::EpochJson => parquet_files::v1_batch,
    };
    let body = parquet_files::write(batches(reports, layout), config.row_group_rows)?;
    if miner.shape == Shape::V1 {
        put_jsonl(
            config,
            sink,
            &key,
            reports.iter().map(parquet_files::v1_json),
        )
        .await?;
    }
    let expected = Expected::Parsed {
        rows: reports.len() as u64,
    };
    let entry = Entry {
        key,
        format: "v1",
        miner,
        rows: reports.len(),
        expected,
    };
    put_recorded(sink, objects, entry, body).await
}

/// Writes `listings.parquet` and `metadata.json` for one miner's epoch. `metadata_hotkey` is the
/// miner the metadata names (different from the path's only for the mismatch bad input).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_v2_epoch(
    config: &GeneratorConfig,
    sink: &mut Sink,
    objects: &mut Vec<ManifestObject>,
    miner: &Miner,
    epoch_start: NaiveDateTime,
    mining_end: NaiveDateTime,
    reports: &[Report],
    metadata_hotkey: &str,
) -> anyhow::Result<()> {
    let epoch_id = epoch_start.format("%Y-%m-%dT%H-%M-%S").to_string();
    let dir = v2_dir(&miner.hotkey, &epoch_id);
    let listings_key = format!("{dir}/listings.parquet");
    let body = parquet_files::write(
        batches(reports, parquet_files::v2_batch),
        config.row_group_rows,
    )?;
    put_jsonl(
        config,
        sink,
        &listings_key,
        reports.iter().map(parquet_files::v2_json),
    )
    .await?;
    let zipcodes: std::collections::BTreeSet<&str> =
        reports.iter().map(|report| report.zip.as_str()).collect();
    let metadata = json!({
        "epoch_id": epoch_id,
        "miner_hotkey": metadata_hotkey,
        "mining_start_time": format!("{}Z", (epoch_start + Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S%.3f")),
        "mining_end_time": format!("{}Z", mining_end.format("%Y-%m-%dT%H:%M:%S%.3f")),
        "total_listings": reports.len(),
        "zipcodes_completed": zipcodes.len(),
        "data_format_version": "2.0",
    });
    let metadata_body = serde_json::to_vec_pretty(&metadata)?;
    let expected = if metadata_hotkey == miner.hotkey {
        Expected::Parsed {
            rows: reports.len() as u64,
        }
    } else {
        Expected::Rejected {
            reason: "metadata_miner_mismatch".to_owned(),
        }
    };
    let entry = Entry {
        key: listings_key,
        format: "v2",
        miner,
        rows: reports.len(),
        expected,
    };
    put_recorded(sink, objects, entry, body).await?;
    let key = format!("{dir}/metadata.json");
    let entry = Entry {
        key,
        format: "metadata",
        miner,
        rows: 0,
        expected: Expected::Companion,
    };
    put_recorded(sink, objects, entry, metadata_body).await
}

#[cfg(test)]
mod tests;
