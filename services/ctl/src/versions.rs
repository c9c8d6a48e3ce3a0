//! `resi replay | promote | versions | drop`: building projection versions beside the live ones
//! and switching between them.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use resi_projector::engine::{ProjectionKind, ProjectionTarget};
use resi_projector::operate::{self, Progress};
use resi_projector::{Projector, ProjectorServiceConfig};
use resi_runtime::assignment::AssignmentConfig;
use resi_runtime::shutdown::Shutdown;

use crate::CtlConfig;

/// An algorithm's parameters, by name.
type Params = std::collections::BTreeMap<String, String>;

fn projection(name: &str) -> anyhow::Result<ProjectionKind> {
    ProjectionKind::from_name(name)
        .with_context(|| format!("unknown projection {name:?}: use listing, trust or consensus"))
}

/// `resi replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The projection: listing, trust or consensus.
    pub projection: String,
    /// The version to build, a label (default: the next unused `vN`). A consensus build runs
    /// `--algorithm`, or else the one its label begins with (v1, v2_<label>).
    #[arg(long, alias = "label")]
    pub version: Option<String>,
    /// Consensus: the algorithm the new build runs (v1, v2, v3), recorded with the build.
    #[arg(long)]
    pub algorithm: Option<String>,
    /// Consensus: a parameter of the algorithm, `name=value` (repeatable), recorded with the
    /// build; the others keep their defaults.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Drop what an earlier replay of this (not live) version built, and start from offset 0.
    #[arg(long)]
    pub restart: bool,
    /// Exit once caught up with the log, instead of following it (for Jobs: replay, then
    /// promote).
    #[arg(long)]
    pub until_caught_up: bool,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 5)]
    pub progress_secs: u64,
}

/// `resi promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The projection: listing, trust or consensus.
    pub projection: String,
    /// The version to make live.
    pub version: String,
    /// Most records the version may still be behind the log.
    #[arg(long, default_value_t = 0)]
    pub max_lag: i64,
    /// Promote even if the version has not caught up.
    #[arg(long)]
    pub force: bool,
}

/// `resi drop`.
#[derive(Debug, Args)]
pub struct DropArgs {
    /// The projection: listing, trust or consensus.
    pub projection: String,
    /// The version to remove.
    pub version: String,
    /// Also drop a version that is still building.
    #[arg(long)]
    pub force: bool,
}

/// One progress line: position, rate, lag per partition, ETA.
fn progress_line(name: &str, version: &str, progress: &Progress, rate: f64) -> String {
    let lag = progress.lag();
    let staged = progress.staged();
    let eta = if lag == 0 {
        "caught up".to_owned()
    } else if lag == staged {
        // everything is consumed; the staged records are being applied in one pass
        format!("applying {staged} staged records")
    } else if rate > 0.0 {
        format!("ETA {:.0} s", lag as f64 / rate)
    } else {
        "ETA unknown".to_owned()
    };
    let partitions: Vec<String> = progress
        .lag_by_partition()
        .iter()
        .map(|(partition, lag)| format!("p{partition}={lag}"))
        .collect();
    let staged_note = if staged > 0 {
        format!(", {staged} of them staged")
    } else {
        String::new()
    };
    format!(
        "replay {name} {version}: at {} of {} records, {rate:.0} events/s, lag {lag} ({}){staged_note}, {eta}",
        progress.position(),
        progress.position() + lag - staged,
        partitions.join(" "),
    )
}

fn export(name: &'static str, version: &str, progress: &Progress, rate: f64) {
    for (partition, lag) in progress.lag_by_partition() {
        metrics::gauge!("resi_replay_lag", "projection" => name, "version" => version.to_owned(), "partition" => partition.to_string())
            .set(lag as f64);
    }
    metrics::gauge!("resi_replay_events_per_second", "projection" => name, "version" => version.to_owned())
        .set(rate);
}

/// `name=value` parameters as a map; a name given twice is refused.
pub fn params(given: &[String]) -> anyhow::Result<Params> {
    let mut params = Params::new();
    for pair in given {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--param {pair:?} is not name=value"))?;
        if params
            .insert(name.trim().to_owned(), value.trim().to_owned())
            .is_some()
        {
            bail!("--param {name} is given twice");
        }
    }
    Ok(params)
}

/// Builds a version beside the live one, printing (and, with `telemetry.metrics_listen`,
/// exporting) progress until caught up, then following the log until stopped.
pub async fn replay(args: &ReplayArgs, config: &CtlConfig) -> anyhow::Result<()> {
    let kind = projection(&args.projection)?;
    let name = kind.as_str();
    let pool = resi_runtime::postgres::pool(&config.postgres)?;
    resi_runtime::postgres::migrate(&pool).await?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let version = match &args.version {
        Some(version) => version.clone(),
        None => operate::next_version(&client, kind).await?,
    };
    kind.check_version(&version)?;
    if kind != ProjectionKind::Consensus && (args.algorithm.is_some() || !args.params.is_empty()) {
        bail!("only consensus builds take --algorithm and --param");
    }
    match operate::status(&client, kind, &version).await?.as_deref() {
        Some("live") => bail!(
            "{name} {version} is live: replay builds a new version beside it; choose another --version"
        ),
        Some(status) if args.restart => {
            println!("replay {name} {version}: dropping the {status} build to start over");
            operate::drop_version(&pool, kind, &version, true).await?;
        }
        Some(status) => println!("replay {name} {version}: resuming the {status} build"),
        None => println!("replay {name} {version}: new version"),
    }
    if let Some(listen) = config.telemetry.metrics_listen {
        resi_runtime::metrics::serve(listen)?;
    }
    let mut service = ProjectorServiceConfig {
        postgres: config.postgres.clone(),
        kafka: config.kafka.clone(),
        telemetry: config.telemetry.clone(),
        projector: config.projector.clone(),
    };
    service.projector.projections = vec![ProjectionTarget {
        algorithm: args.algorithm.clone(),
        params: params(&args.params)?,
        ..ProjectionTarget::new(kind, version.clone())
    }];
    service.projector.assignment = AssignmentConfig::default();
    let projector = Projector::build(&service).await?;
    let (trigger, shutdown) = Shutdown::new();
    let mut folding = tokio::spawn(projector.run(shutdown));
    let mut signal = resi_runtime::shutdown::on_signal();
    let mut ticks = tokio::time::interval(Duration::from_secs(args.progress_secs.max(1)));
    ticks.tick().await;
    let mut last = (
        Instant::now(),
        operate::progress(&client, &config.kafka, kind, &version).await?,
    );
    let mut announced = false;
    loop {
        tokio::select! {
            result = &mut folding => {
                return result.context("the replay's fold loop panicked")?;
            }
            () = signal.wait() => break,
            _ = ticks.tick() => {}
        }
        let now = Instant::now();
        let progress = match operate::progress(&client, &config.kafka, kind, &version).await {
            Ok(progress) => progress,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "failed to read the replay's progress"
                );
                continue;
            }
        };
        let rate = (progress.position() - last.1.position()).max(0) as f64
            / now.duration_since(last.0).as_secs_f64();
        println!("{}", progress_line(name, &version, &progress, rate));
        export(name, &version, &progress, rate);
        if progress.lag() == 0 && !announced {
            announced = true;
            if args.until_caught_up {
                println!(
                    "replay {name} {version}: caught up; promote it with `resi promote {name} {version}`"
                );
                break;
            }
            println!("replay {name} {version}: caught up; following the log (Ctrl-C to stop)");
        }
        last = (now, progress);
    }
    trigger.trigger();
    folding.await.context("the replay's fold loop panicked")?
}

/// Promotes a version.
pub async fn promote(args: &PromoteArgs, config: &CtlConfig) -> anyhow::Result<()> {
    let kind = projection(&args.projection)?;
    let pool = resi_runtime::postgres::pool(&config.postgres)?;
    let promotion = operate::promote(
        &pool,
        &config.kafka,
        kind,
        &args.version,
        args.max_lag,
        args.force,
    )
    .await?;
    println!(
        "{} {} is live (lag {} at promotion); {}",
        kind.as_str(),
        args.version,
        promotion.lag,
        promotion.previous.map_or_else(
            || "no version was live before".to_owned(),
            |previous| format!(
                "{previous} retired (roll back with `resi promote {} {previous}`)",
                kind.as_str()
            )
        )
    );
    Ok(())
}

/// Lists the versions with their lag.
pub async fn list(config: &CtlConfig) -> anyhow::Result<()> {
    let pool = resi_runtime::postgres::pool(&config.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(
            || "-".to_owned(),
            |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    println!(
        "{:<10} {:<12} {:<9} {:>10} {:<21} {:<21} {:<21}",
        "PROJECTION", "VERSION", "STATUS", "LAG", "CREATED", "PROMOTED", "RETIRED"
    );
    for info in operate::versions(&client).await? {
        let lag = match ProjectionKind::from_name(&info.projection) {
            Some(kind) => operate::progress(&client, &config.kafka, kind, &info.version)
                .await
                .map_or_else(
                    |error| format!("? ({error:#})"),
                    |progress| progress.lag().to_string(),
                ),
            None => "-".to_owned(),
        };
        println!(
            "{:<10} {:<12} {:<9} {:>10} {:<21} {:<21} {:<21}",
            info.projection,
            info.version,
            info.status,
            lag,
            time(Some(info.created_at)),
            time(info.promoted_at),
            time(info.retired_at)
        );
    }
    Ok(())
}

/// Drops a version.
pub async fn drop(args: &DropArgs, config: &CtlConfig) -> anyhow::Result<()> {
    let kind = projection(&args.projection)?;
    let pool = resi_runtime::postgres::pool(&config.postgres)?;
    operate::drop_version(&pool, kind, &args.version, args.force).await?;
    println!("{} {} dropped", kind.as_str(), args.version);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::params;

    #[test]
    fn params_are_name_value_pairs_given_once() {
        let given = ["price_tolerance=0.02".to_owned(), " rounds = 3".to_owned()];
        let parsed = params(&given).expect("valid");
        assert_eq!(parsed["price_tolerance"], "0.02");
        assert_eq!(parsed["rounds"], "3");
        assert!(params(&["rounds".to_owned()]).is_err());
        assert!(params(&["rounds=3".to_owned(), "rounds=4".to_owned()]).is_err());
    }
}
