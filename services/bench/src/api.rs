//! `resi-bench api`: the API under wrk on loopback, over a database of N listings (1 M by
//! default): by zpid, by zip code and by bounding box, at fixed rates and at the maximum.
//!
//! The tables are the projections' own (created by the projector's DDL, live, granted to the
//! API's role), filled with `generate_series` in SQL rather than folded from the log: this
//! measures reads, and folding 3 M attestations first would only make the set-up slower. The
//! listings lie in 1,000-listing zip codes, each spread over 0.1° × 0.1° around its centre,
//! with three attestations each.
//!
//! Fixed rates use wrk's `delay()`: each connection waits `connections / rate` between its
//! requests, so the offered rate is about the target (wrk reports the rate achieved). wrk and
//! the API share the machine's two cores.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use resi_projector::engine::ProjectionKind;
use resi_runtime::config::PostgresConfig;
use secrecy::SecretString;

/// Listings per zip code.
const PER_ZIP: u64 = 1_000;

/// One wrk run's figures.
pub(crate) struct Figures {
    pub(crate) requests_per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) non_2xx: u64,
}

pub(crate) fn database_config(name: &str) -> PostgresConfig {
    let server = std::env::var("RESI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    PostgresConfig {
        url: SecretString::from(format!("{base}/{name}")),
        pool_size: 16,
        ..PostgresConfig::default()
    }
}

/// Creates (or reuses, when it already holds `listings`) the benchmark database.
pub(crate) async fn load(postgres: &PostgresConfig, listings: u64) -> anyhow::Result<()> {
    let admin = database_config("postgres");
    let name = "resi_bench_api";
    resi_runtime::postgres::create_database_if_missing(&admin, name).await?;
    // loading a million rows takes longer than any request may
    let loader = PostgresConfig {
        statement_timeout_ms: 0,
        ..postgres.clone()
    };
    let pool = resi_runtime::postgres::pool(&loader)?;
    resi_runtime::postgres::migrate(&pool).await?;
    let mut client = resi_runtime::postgres::connection(&pool).await?;
    for kind in [
        ProjectionKind::Listing,
        ProjectionKind::Trust,
        ProjectionKind::Consensus,
    ] {
        resi_projector::versions::ensure(&mut client, kind.as_str(), "v1", kind.ddl()).await?;
    }
    let present: i64 = client
        .query_one("SELECT count(*) FROM consensus_v1.consensus_listings", &[])
        .await?
        .get(0);
    if u64::try_from(present).unwrap_or(0) == listings {
        println!("api: reusing {listings} listings in {name}");
        return Ok(());
    }
    let started = Instant::now();
    let count = i64::try_from(listings)?;
    let zips = (listings / PER_ZIP).max(1);
    let zips = i64::try_from(zips)?;
    // the zip of listing g is g % zips, so a zip's listings are spread over the id range
    let sql = format!(
        "TRUNCATE consensus_v1.consensus_listings, listing_v1.listings, listing_v1.miner_attestations,
                  trust_v1.miner_trust;
         INSERT INTO trust_v1.miner_trust
         SELECT '5BenchMiner' || lpad(m::text, 3, '0'), 0.3 + (m % 7) / 10.0, 100 + m, 0, 10000, m,
                m / 10000.0, 500, current_date, now() - (m % 48) * interval '1 hour', 0.8
         FROM generate_series(0, 99) m;
         CREATE TEMP TABLE bench_points AS
         SELECT g, g % {zips} AS z,
                (260000000 + ((g % {zips}) / 40) * 5000000 + (g * 7919 % 1000000) - 500000)::int AS lat,
                (-1200000000 + ((g % {zips}) % 40) * 12000000 + (g * 104729 % 1000000) - 500000)::int AS lon
         FROM generate_series(0::bigint, {count} - 1) g;
         INSERT INTO consensus_v1.consensus_listings
         SELECT (1000000 + g)::text, 0.5 + (g % 50) / 100.0, 1 + g % 5,
                now() - (g % 72) * interval '1 hour', 100000 + (g * 7919 % 900000), 1 + g % 6,
                10 + (g % 4) * 5, 800 + g % 3000, (g % 9999 + 1) || ' MAIN ST',
                (ARRAY['SINGLE_FAMILY','CONDO','TOWNHOUSE'])[1 + g % 3],
                (ARRAY['FOR_SALE','PENDING','RECENTLY_SOLD','FOR_RENT'])[1 + g % 4],
                lat, lon, lpad((10000 + z)::text, 5, '0'), 'CITY ' || z, 'TX'
         FROM bench_points;
         INSERT INTO listing_v1.listings
         SELECT (1000000 + g)::text, NULL, 'https://www.zillow.com/homedetails/' || (1000000 + g) || '_zpid/',
                now() - interval '30 days', now() - (g % 72) * interval '1 hour',
                now() - (g % 72) * interval '1 hour', 3, 3,
                decode(md5(g::text), 'hex'), 100000 + (g * 7919 % 900000), (g % 9999 + 1) || ' MAIN ST',
                1 + g % 6, 10 + (g % 4) * 5, 800 + g % 3000,
                (ARRAY['SINGLE_FAMILY','CONDO','TOWNHOUSE'])[1 + g % 3],
                (ARRAY['FOR_SALE','PENDING','RECENTLY_SOLD','FOR_RENT'])[1 + g % 4],
                g % 90, lpad((10000 + z)::text, 5, '0'), 'CITY ' || z, 'TX', lat, lon, NULL, NULL
         FROM bench_points;
         INSERT INTO listing_v1.miner_attestations
         SELECT decode(md5(g || '/' || r), 'hex'), (1000000 + g)::text,
                '5BenchMiner' || lpad(((g + r * 33) % 100)::text, 3, '0'),
                decode(md5('upload/' || (g / 1000)), 'hex'), g % 1000,
                'data/hotkey=x/job_id=bench/data_' || (g / 1000) || '.parquet', 'bench',
                now() - (g % 72 + r) * interval '1 hour', now() - (g % 72 + r - 1) * interval '1 hour',
                decode(md5('content/' || g), 'hex'), 0.5, NULL,
                'https://www.zillow.com/homedetails/' || (1000000 + g) || '_zpid/',
                100000 + (g * 7919 % 900000), NULL, 1 + g % 6, 10 + (g % 4) * 5, 800 + g % 3000,
                NULL, (ARRAY['FOR_SALE','PENDING','RECENTLY_SOLD','FOR_RENT'])[1 + g % 4], NULL,
                NULL, NULL, NULL, NULL, NULL, NULL, NULL
         FROM bench_points, generate_series(0, 2) r;"
    );
    client
        .batch_execute(&sql)
        .await
        .context("failed to load the benchmark listings")?;
    // one statement each: VACUUM cannot run in the implicit transaction of a multi-statement batch
    for table in [
        "consensus_v1.consensus_listings",
        "listing_v1.listings",
        "listing_v1.miner_attestations",
        "trust_v1.miner_trust",
    ] {
        client
            .batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await
            .with_context(|| format!("failed to analyze {table}"))?;
    }
    println!(
        "api: loaded {listings} listings, {} attestations in {:.0} s",
        3 * listings,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A wrk script requesting random paths of `endpoint`; `delay_ms` between a connection's
/// requests (0: as fast as possible).
fn script(endpoint: &str, listings: u64, delay_ms: f64) -> String {
    let zips = (listings / PER_ZIP).max(1);
    let path = match endpoint {
        "zpid" => format!(
            "'/api/listing/' .. (1000000 + math.random(0, {}))",
            listings - 1
        ),
        "zip" => format!(
            "'/api/listings/' .. string.format('%05d', 10000 + math.random(0, {}))",
            zips - 1
        ),
        // the city-level tile (zoom 12, about 0.09° wide here) around a random zip code's centre
        "tile" => format!(
            "(function() local z = math.random(0, {last}); \
               local lat = math.rad(26.0 + math.floor(z / 40) * 0.5 - 0.03 + math.random() * 0.06); \
               local lon = -120.0 + (z % 40) * 1.2 - 0.03 + math.random() * 0.06; \
               local x = math.floor((lon + 180.0) / 360.0 * 4096); \
               local y = math.floor((1.0 - math.log(math.tan(lat) + 1.0 / math.cos(lat)) / math.pi) / 2.0 * 4096); \
               return string.format('/tiles/12/%d/%d.mvt', x, y) end)()",
            last = zips - 1
        ),
        // a 0.02° square inside a random zip code's 0.1° area
        _ => format!(
            "(function() local z = math.random(0, {last}); \
               local lat = 26.0 + math.floor(z / 40) * 0.5 - 0.04 + math.random() * 0.06; \
               local lon = -120.0 + (z % 40) * 1.2 - 0.04 + math.random() * 0.06; \
               return string.format('/api/listings?bbox=%.4f,%.4f,%.4f,%.4f', lon, lat, lon + 0.02, lat + 0.02) end)()",
            last = zips - 1
        ),
    };
    let mut lua = String::new();
    let _ = writeln!(lua, "math.randomseed(42)");
    let _ = writeln!(
        lua,
        "request = function() return wrk.format('GET', {path}) end"
    );
    if delay_ms > 0.0 {
        let _ = writeln!(lua, "delay = function() return {delay_ms:.3} end");
    }
    lua
}

fn milliseconds(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(value) = text.strip_suffix("us") {
        (value, 0.001)
    } else if let Some(value) = text.strip_suffix("ms") {
        (value, 1.0)
    } else if let Some(value) = text.strip_suffix('s') {
        (value, 1_000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().ok().map(|value| value * factor)
}

fn parse_wrk(output: &str) -> anyhow::Result<Figures> {
    let mut figures = Figures {
        requests_per_second: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        non_2xx: 0,
    };
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => figures.p50_ms = milliseconds(value).context("p50")?,
            ["99%", value] => figures.p99_ms = milliseconds(value).context("p99")?,
            ["Requests/sec:", value] => figures.requests_per_second = value.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", value] => figures.non_2xx = value.parse()?,
            _ => {}
        }
    }
    anyhow::ensure!(
        figures.requests_per_second > 0.0,
        "wrk printed no rate:\n{output}"
    );
    Ok(figures)
}

pub(crate) fn wrk(
    address: std::net::SocketAddr,
    lua: &str,
    connections: u32,
    seconds: u64,
) -> anyhow::Result<Figures> {
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), lua)?;
    let output = std::process::Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(file.path())
        .arg(format!("http://{address}"))
        .output()
        .context("failed to run wrk (apt-get install wrk)")?;
    anyhow::ensure!(
        output.status.success(),
        "wrk failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_wrk(&String::from_utf8_lossy(&output.stdout))
}

/// A zip code's centre in the middle of the benchmark's listings (zip areas sit every 1.2° from
/// 120° W and every 0.5° from 26° N), so that the deeper zooms hold listings too.
const CENTRE: (f64, f64) = (-100.8, 30.0);

/// Cluster tiles (below zoom 12) over the middle of the data, one per zoom: the first request
/// (computed), the same again (from the API's memory, median of 21), and the peer: Postgres
/// running the tile's own aggregate for the same bounds (median of 3), so the ratio is what
/// encoding, HTTP and the API add to the database's work.
async fn clusters(
    address: std::net::SocketAddr,
    postgres: &resi_runtime::config::PostgresConfig,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let pool = resi_runtime::postgres::pool(postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let [_, clusters_sql] = resi_api::tiles::tile_sql("consensus_v1");
    let statement = client.prepare(&clusters_sql).await?;
    println!(
        "{:<5} {:>12} {:>10} {:>9} {:>10} {:>10} {:>10} {:>9}",
        "zoom", "tile", "listings", "clusters", "first ms", "cached ms", "SQL ms", "first/SQL"
    );
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    for z in [0_u32, 2, 4, 6, 8, 10, 11] {
        let tile = resi_api::tiles::TileBounds::containing(z, CENTRE.0, CENTRE.1)
            .context("a tile of the data")?;
        let (x, y) = tile.column_row();
        let url = format!("http://{address}/tiles/{z}/{x}/{y}.mvt");
        let get = async || -> anyhow::Result<(f64, usize)> {
            let started = Instant::now();
            let body = http
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            Ok((started.elapsed().as_secs_f64() * 1e3, body.len()))
        };
        let (first, _) = get().await?;
        let mut cached = Vec::new();
        for _ in 0..21 {
            cached.push(get().await?.0);
        }
        let bounds = tile.bounds();
        let (west, south, east, north) = (
            bounds.0 * 1e7,
            bounds.1 * 1e7,
            bounds.2 * 1e7,
            bounds.3 * 1e7,
        );
        let (width, height) = (
            (east - west) / resi_api::tiles::GRID,
            (north - south) / resi_api::tiles::GRID,
        );
        let mut sql = Vec::new();
        let mut rows = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            rows = client
                .query(&statement, &[&west, &south, &east, &north, &width, &height])
                .await?;
            sql.push(started.elapsed().as_secs_f64() * 1e3);
        }
        let listings: i64 = rows.iter().map(|row| row.get::<_, i64>(0)).sum();
        let sql = median(sql);
        println!(
            "{z:<5} {:>12} {listings:>10} {:>9} {first:>10.1} {:>10.2} {sql:>10.1} {:>9.2}",
            format!("{x}/{y}"),
            rows.len(),
            median(cached),
            first / sql,
        );
    }
    Ok(())
}

/// Loads the data, starts the API in this process and runs wrk against each endpoint at each
/// rate.
pub async fn bench_api(
    listings: u64,
    seconds: u64,
    rates: &[u32],
    queries: &[String],
    warmup_seconds: u64,
) -> anyhow::Result<()> {
    anyhow::ensure!(listings >= PER_ZIP, "--listings must be at least {PER_ZIP}");
    let postgres = database_config("resi_bench_api");
    load(&postgres, listings).await?;
    let mut config = resi_api::ApiServiceConfig {
        postgres,
        ..resi_api::ApiServiceConfig::default()
    };
    config.api.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.api.rate_limit = resi_api::config::Quota {
        requests: u32::MAX,
        per_secs: 1,
    };
    let app = resi_api::App::build(&config).await?;
    let address = app.local_addr()?;
    let (stop, shutdown) = resi_runtime::shutdown::Shutdown::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown));
    println!(
        "api: {listings} listings, wrk -t2 on loopback, {seconds} s per run, API and wrk on the same 2 cores"
    );
    println!(
        "{:<6} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "query", "target rps", "achieved", "p50 ms", "p99 ms", "non-2xx"
    );
    for endpoint in queries.iter().map(String::as_str) {
        anyhow::ensure!(
            ["zpid", "zip", "bbox", "tile", "clusters"].contains(&endpoint),
            "--queries takes zpid, zip, bbox, tile and clusters"
        );
        if endpoint == "clusters" {
            clusters(address, &config.postgres).await?;
            continue;
        }
        // warm the caches and the prepared statements
        let _ = tokio::task::block_in_place(|| {
            wrk(
                address,
                &script(endpoint, listings, 0.0),
                16,
                warmup_seconds.max(1),
            )
        })?;
        for rate in rates.iter().copied().map(Some).chain([None]) {
            let connections: u32 = match rate {
                Some(rate) => (rate / 50).clamp(8, 64),
                None => 32,
            };
            let delay = rate.map_or(0.0, |rate| {
                f64::from(connections) * 1_000.0 / f64::from(rate)
            });
            let figures = tokio::task::block_in_place(|| {
                wrk(
                    address,
                    &script(endpoint, listings, delay),
                    connections,
                    seconds,
                )
            })?;
            println!(
                "{endpoint:<6} {:>12} {:>12.0} {:>10.2} {:>10.2} {:>8}",
                rate.map_or_else(|| "max".to_owned(), |rate| rate.to_string()),
                figures.requests_per_second,
                figures.p50_ms,
                figures.p99_ms,
                figures.non_2xx,
            );
        }
    }
    stop.trigger();
    tokio::time::timeout(Duration::from_secs(30), server).await???;
    Ok(())
}
