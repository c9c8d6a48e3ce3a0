//! `resi miners`: what operators decide about a miner, each decision an event on the log.

use anyhow::Context as _;
use clap::Subcommand;
use resi_events::{Event, EventId, EventPayload, MinerUnbanned, Timestamp, Topics};
use resi_runtime::kafka;

use crate::CtlConfig;

/// What to do.
#[derive(Debug, Subcommand)]
pub enum MinersAction {
    /// Lift a miner's standing ban: a `MinerUnbanned` event on the epochs topic. Its fabricating
    /// epochs count from zero again.
    Unban {
        /// The miner's hotkey.
        hotkey: String,
        /// Why, for the record.
        #[arg(long)]
        reason: String,
        /// Who lifts it (default: $USER).
        #[arg(long)]
        operator: Option<String>,
    },
}

/// Runs `action`.
pub async fn run(action: MinersAction, config: &CtlConfig) -> anyhow::Result<()> {
    match action {
        MinersAction::Unban {
            hotkey,
            reason,
            operator,
        } => {
            let operator = operator
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "operator".to_owned());
            let event = unban(config, &hotkey, &operator, &reason).await?;
            println!("unbanned {hotkey}: event {} on the epochs topic", event.id);
        }
    }
    Ok(())
}

/// Publishes the lifting of `hotkey`'s standing ban (read from the live scores projection).
pub async fn unban(
    config: &CtlConfig,
    hotkey: &str,
    operator: &str,
    reason: &str,
) -> anyhow::Result<Event> {
    anyhow::ensure!(
        !reason.trim().is_empty(),
        "say why the ban is lifted (--reason)"
    );
    let pool = resi_runtime::postgres::pool(&config.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let schema = resi_runtime::postgres::live_schema(&client, "scores")
        .await?
        .context("there is no live scores projection, so no ban to lift")?;
    let banned: Vec<u8> = client
        .query_opt(
            &format!(
                "SELECT banned_event_id FROM \"{schema}\".miner_bans
                  WHERE miner_hotkey = $1 AND banned"
            ),
            &[&hotkey],
        )
        .await
        .context("failed to read the miner's ban")?
        .map(|row| row.get(0))
        .with_context(|| format!("{hotkey} is not banned"))?;
    let banned_id = EventId(
        banned
            .try_into()
            .map_err(|_| anyhow::anyhow!("the ban's event id is not 32 bytes"))?,
    );
    let topic = Topics::new(&config.kafka.topic_prefix).epochs();
    kafka::keyed_partition_count(&config.kafka, &pool, &topic).await?;
    let now = Timestamp::now();
    let event = Event::new(
        EventPayload::MinerUnbanned(Box::new(MinerUnbanned {
            miner_hotkey: hotkey.to_owned(),
            banned_id,
            operator: operator.to_owned(),
            reason: reason.to_owned(),
        })),
        now,
        now,
    );
    let producer = kafka::producer(&config.kafka)?;
    kafka::publish(&producer, &topic, &event).await?;
    Ok(event)
}
