//! The API on port 0 over a fresh database whose projections the real projector built from
//! generated events, and one helper per request.

use std::net::SocketAddr;

use chrono::{DurationRound as _, TimeDelta, Utc};
use resi_api::ApiServiceConfig;
use resi_api::config::Quota;
use resi_events::{CanonicalListing, Event};
use resi_projector::engine::ProjectionKind;
use resi_runtime::shutdown::Shutdown;
use resi_tests::events::{HOUR, parsed, report};
use resi_tests::stack::{Running, Stack};

pub const ZIPS: [&str; 3] = ["78701", "78702", "78703"];
pub const HONEST: [&str; 3] = ["5Honest1", "5Honest2", "5Honest3"];
pub const CARELESS: &str = "5Careless";
/// The listing four miners reported a month ago and two report today.
pub const CRAFTED: &str = "400001";

/// One listing of the generated world, with what consensus must choose for it.
#[derive(Clone, Debug)]
pub struct Home {
    pub index: u64,
    pub id: String,
    pub zip: &'static str,
    pub latitude_e7: i32,
    pub longitude_e7: i32,
    pub first_price: i64,
    pub price: i64,
    pub bedrooms: u16,
    pub status: &'static str,
    pub home_type: &'static str,
    /// The careless miner reports a wrong price for it.
    pub careless_wrong: bool,
    /// Its price changed in the second round.
    pub changed: bool,
    /// Miners reporting it.
    pub miners: usize,
    /// Attestations of it.
    pub attestations: usize,
}

/// The generated world: listings, and the events that describe it.
pub struct World {
    pub homes: Vec<Home>,
    pub events: Vec<Event>,
    pub summaries: Vec<Event>,
    /// Attestations each miner submitted in the last 24 hours.
    pub recent: Vec<(&'static str, usize)>,
}

pub fn canonical(home: &Home, price: i64) -> CanonicalListing {
    CanonicalListing {
        listing_id: home.id.clone(),
        url: Some(format!(
            "https://www.zillow.com/homedetails/{}_zpid/",
            home.id
        )),
        price_usd: Some(price),
        address: Some(format!("{} CONGRESS AVE", 100 + home.index)),
        bedrooms: Some(home.bedrooms),
        bathrooms_tenths: Some(20),
        living_area_sqft: Some(1_200),
        home_type: Some(home.home_type.to_owned()),
        home_status: Some(home.status.to_owned()),
        zip_code: Some(home.zip.to_owned()),
        city: Some("AUSTIN".into()),
        state: Some("TX".into()),
        latitude_e7: Some(home.latitude_e7),
        longitude_e7: Some(home.longitude_e7),
        ..CanonicalListing::default()
    }
}

/// A home of the world by its index (ids 300000…).
pub fn home(index: u64) -> Home {
    let careless_wrong = index.is_multiple_of(6);
    let changed = index.is_multiple_of(5);
    let reported_by_careless = index.is_multiple_of(2);
    Home {
        index,
        id: (300_000 + index).to_string(),
        zip: ZIPS[usize::try_from(index % 3).unwrap_or_default()],
        latitude_e7: 302_600_000 + i32::try_from(index / 10).unwrap_or_default() * 100_000,
        longitude_e7: -977_400_000 + i32::try_from(index % 10).unwrap_or_default() * 100_000,
        first_price: 200_000 + i64::try_from(index).unwrap_or_default() * 5_000,
        price: 200_000
            + i64::try_from(index).unwrap_or_default() * 5_000
            + if changed { 10_000 } else { 0 },
        bedrooms: u16::try_from(1 + index % 5).unwrap_or_default(),
        status: if index.is_multiple_of(4) {
            "PENDING"
        } else {
            "FOR_SALE"
        },
        home_type: if index.is_multiple_of(3) {
            "CONDO"
        } else {
            "SINGLE_FAMILY"
        },
        careless_wrong,
        changed,
        miners: 3 + usize::from(reported_by_careless),
        attestations: 3 + usize::from(reported_by_careless) + if changed { 3 } else { 0 },
    }
}

/// `count` homes (ids 300000…) reported by three honest miners three days ago, half of them
/// by a careless miner too; a fifth changed price two hours ago (all honest miners report the
/// new price); plus the crafted listing that consensus v1 and v2 decide differently.
pub fn world(count: u64) -> World {
    let now = Utc::now()
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or_else(|_| Utc::now());
    let micros = |time: chrono::DateTime<Utc>| time.timestamp_micros();
    let round0 = micros(now - TimeDelta::days(3));
    let round1 = micros(now - TimeDelta::hours(2));
    let homes: Vec<Home> = (0..count).map(home).collect();
    let mut events = Vec::new();
    for (rank, miner) in HONEST.iter().enumerate() {
        let offset = i64::try_from(rank).unwrap_or_default() * 60_000_000;
        for home in &homes {
            events.push(report(
                miner,
                (&format!("{miner}-r0"), home.index),
                round0 + offset,
                0.9,
                canonical(home, home.first_price),
            ));
            if home.changed {
                events.push(report(
                    miner,
                    (&format!("{miner}-r1"), home.index),
                    round1 + offset,
                    0.9,
                    canonical(home, home.price),
                ));
            }
        }
    }
    for home in homes.iter().filter(|home| home.miners == 4) {
        let price = if home.careless_wrong {
            home.first_price + 1_000
        } else {
            home.first_price
        };
        events.push(report(
            CARELESS,
            ("careless-r0", home.index),
            round0,
            0.4,
            canonical(home, price),
        ));
    }
    // the crafted listing: four miners a month ago, two today (seed 000's example, in reverse)
    let crafted = Home {
        index: 999,
        id: CRAFTED.to_owned(),
        zip: ZIPS[0],
        latitude_e7: 302_000_000,
        longitude_e7: -978_000_000,
        first_price: 450_000,
        price: 450_000,
        bedrooms: 3,
        status: "FOR_SALE",
        home_type: "SINGLE_FAMILY",
        careless_wrong: false,
        changed: false,
        miners: 6,
        attestations: 6,
    };
    let month_ago = micros(now - TimeDelta::days(30));
    for (rank, miner) in ["5Old1", "5Old2", "5Old3", "5Old4"].iter().enumerate() {
        let at = month_ago + i64::try_from(rank).unwrap_or_default() * HOUR;
        events.push(report(
            miner,
            ("old", 0),
            at,
            0.6,
            canonical(&crafted, 450_000),
        ));
    }
    for (rank, miner) in ["5New1", "5New2"].iter().enumerate() {
        let at = micros(now) - i64::try_from(rank + 1).unwrap_or_default() * HOUR;
        let mut listing = canonical(&crafted, 425_000);
        listing.home_status = Some("PENDING".into());
        events.push(report(miner, ("new", 0), at, 0.6, listing));
    }
    let mut summaries = Vec::new();
    for (rank, miner) in HONEST.iter().enumerate() {
        let rank = u64::try_from(rank).unwrap_or_default();
        summaries.push(parsed(
            miner,
            0,
            0.9 - 0.1 * rank as f64,
            120,
            2 * rank,
            round0,
        ));
        summaries.push(parsed(miner, 1, 0.9, 40, 0, round1));
    }
    summaries.push(parsed(CARELESS, 0, 0.3, 80, 20, round0));
    let changed = homes.iter().filter(|home| home.changed).count();
    World {
        recent: HONEST
            .iter()
            .map(|miner| (*miner, changed))
            .chain([(CARELESS, 0)])
            .collect(),
        homes,
        events,
        summaries,
    }
}

/// A database whose listing v1, trust v1 and consensus v1 (live) and v2 (building) were
/// folded from `world` by the real projector, which keeps running.
pub struct Built {
    pub stack: Stack,
    pub world: World,
    pub projector: Running,
}

/// The projections every API test reads (the epoch ones over empty topics: no epoch yet).
pub const TARGETS: [(ProjectionKind, &str); 7] = [
    (ProjectionKind::Listing, "v1"),
    (ProjectionKind::Trust, "v1"),
    (ProjectionKind::Consensus, "v1"),
    (ProjectionKind::Consensus, "v2"),
    (ProjectionKind::Epochs, "v1"),
    (ProjectionKind::Scores, "v1"),
    (ProjectionKind::Network, "v1"),
];

impl Built {
    /// Publishes the world of `count` homes and folds it.
    pub async fn new(count: u64) -> anyhow::Result<Self> {
        let stack = Stack::new().await?;
        let world = world(count);
        let topics = stack.topics();
        stack.publish(&topics.attestations(), &world.events).await?;
        stack.publish(&topics.uploads(), &world.summaries).await?;
        let config = resi_tests::projector_config(&stack.postgres, &stack.kafka, &TARGETS);
        let projector = resi_projector::Projector::build(&config).await?;
        let (trigger, shutdown) = Shutdown::new();
        let projector = (trigger, tokio::spawn(projector.run(shutdown)));
        let built = Self {
            stack,
            world,
            projector,
        };
        built.caught_up().await?;
        Ok(built)
    }

    /// Waits until every target stands at the end of its topic.
    pub async fn caught_up(&self) -> anyhow::Result<()> {
        let topics = self.stack.topics();
        for (kind, version) in TARGETS {
            self.stack
                .caught_up(kind.as_str(), version, &kind.topic(&topics))
                .await?;
        }
        Ok(())
    }

    /// One more report of `home` by 5Honest1 now (upload `upload`), folded before it returns.
    pub async fn report_now(&self, upload: &str, home: &Home) -> anyhow::Result<()> {
        self.stack
            .publish(
                &self.stack.topics().attestations(),
                &[report(
                    HONEST[0],
                    (upload, 0),
                    Utc::now().timestamp_micros(),
                    0.9,
                    canonical(home, home.price),
                )],
            )
            .await?;
        self.caught_up().await
    }

    /// API settings over this database: port 0, a quota no test reaches unless it sets one.
    pub fn api_config(&self) -> ApiServiceConfig {
        let mut config = ApiServiceConfig {
            postgres: self.stack.postgres.clone(),
            kafka: self.stack.kafka.clone(),
            ..ApiServiceConfig::default()
        };
        config.api.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.api.rate_limit = Quota {
            requests: 100_000,
            per_secs: 60,
        };
        config.api.lag_cache_ms = 0;
        config.api.stats_cache_ms = 0;
        config
    }
}

pub use resi_tests::api::spawn_api;
