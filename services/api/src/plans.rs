//! Every statement a request can run, by name, for the index check: the tests (and the
//! benchmark) EXPLAIN each one as a generic plan and require an index for every table it
//! reads. `/api/stats` and `/api/quality` are the exceptions: their totals aggregate whole
//! tables (or a state's listings), which is why they are cached (`api.stats_cache_ms`) instead.

use crate::{consensus, epochs, listings, miners, open_data, validation};

/// (name, SQL) of every per-request statement over the given schemas.
#[must_use]
pub fn statements(
    listing: &str,
    trust: &str,
    consensus: &str,
    scores: Option<&str>,
) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for (kind, name) in [
        (listings::AreaKind::Zip, "zip"),
        (listings::AreaKind::Bbox, "bbox"),
    ] {
        let (count, page) = listings::search_sql(consensus, listing, kind);
        all.push((
            format!("listings.{name}.count_area"),
            listings::area_count_sql(consensus, kind),
        ));
        all.push((format!("listings.{name}.count"), count));
        all.push((format!("listings.{name}.page"), page));
    }
    all.push(("open_data.snapshots".to_owned(), open_data::snapshots_sql()));
    all.extend(named_tiles(consensus));
    all.push((
        "listings.attestations".to_owned(),
        listings::latest_attestations_sql(listing, scores),
    ));
    let named = |prefix: &str, parts: &[&str], statements: Vec<String>| {
        parts
            .iter()
            .zip(statements)
            .map(|(part, sql)| (format!("{prefix}.{part}"), sql))
            .collect::<Vec<_>>()
    };
    all.extend(named(
        "listing",
        &["row", "consensus", "attestations", "validation"],
        listings::detail_sql(listing, consensus, trust, scores).to_vec(),
    ));
    all.extend(named(
        "consensus",
        &["listing", "reports"],
        consensus::consensus_sql(consensus).to_vec(),
    ));
    all.extend(named(
        "history",
        &["prices", "statuses", "count", "reports"],
        consensus::history_sql(listing).to_vec(),
    ));
    all.extend(named(
        "miner",
        &["trust", "accuracy", "recent", "rejections"],
        miners::miner_sql(trust, consensus, listing).to_vec(),
    ));
    for sort in miners::SORTS {
        for order in ["asc", "desc"] {
            all.extend(named(
                &format!("miners.{sort}.{order}"),
                &["page", "count"],
                miners::leaderboard_sql(trust, consensus, sort, order).to_vec(),
            ));
        }
    }
    all
}

/// How many `$n` parameters `sql` takes.
#[must_use]
pub fn parameter_count(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut highest = 0;
    for (index, byte) in bytes.iter().enumerate() {
        if *byte != b'$' {
            continue;
        }
        let digits: String = bytes[index + 1..]
            .iter()
            .take_while(|digit| digit.is_ascii_digit())
            .map(|digit| char::from(*digit))
            .collect();
        if let Ok(number) = digits.parse::<usize>() {
            highest = highest.max(number);
        }
    }
    highest
}

/// The generic plan of `sql` (the one a prepared statement settles on, independent of the
/// parameters), as EXPLAIN prints it, taken on `client` with sequential scans disabled so
/// that the plan shows a sequential scan only where no index can serve.
pub async fn generic_plan(
    client: &tokio_postgres::Client,
    name: &str,
    sql: &str,
) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let statement = format!("plan_{}", name.replace('.', "_"));
    let nulls = vec!["NULL"; parameter_count(sql)].join(", ");
    let execute = if nulls.is_empty() {
        format!("EXPLAIN EXECUTE {statement}")
    } else {
        format!("EXPLAIN EXECUTE {statement}({nulls})")
    };
    client
        .batch_execute(&format!(
            "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off;
             PREPARE {statement} AS {sql}"
        ))
        .await
        .with_context(|| format!("failed to prepare {name}"))?;
    let rows = client
        .simple_query(&execute)
        .await
        .with_context(|| format!("failed to explain {name}"))?;
    client
        .batch_execute(&format!(
            "DEALLOCATE {statement}; RESET plan_cache_mode; RESET enable_seqscan"
        ))
        .await
        .context("failed to reset the planner settings")?;
    Ok(rows
        .iter()
        .filter_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// (name, SQL) of every statement of the epoch endpoints over the given schemas.
#[must_use]
pub fn epoch_statements(epochs: &str, scores: &str, network: &str) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = epochs::EpochStatements::new(epochs, scores, network)
        .named()
        .into_iter()
        .map(|(name, sql)| (format!("epochs.{name}"), sql.to_owned()))
        .collect();
    all.extend(
        validation::ValidationStatements::new(scores)
            .named()
            .into_iter()
            .map(|(name, sql)| (format!("validation.{name}"), sql.to_owned())),
    );
    all
}

fn named_tiles(consensus: &str) -> Vec<(String, String)> {
    let [points, clusters] = crate::tiles::tile_sql(consensus);
    vec![
        ("tiles.points".to_owned(), points),
        ("tiles.clusters".to_owned(), clusters),
    ]
}
