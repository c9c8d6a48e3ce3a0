//! `resi dead-letters list | show | replay`: what could not be processed, readable, and re-driven
//! once its cause is fixed.
//!
//! The dead-letter topic holds bincode events; these commands decode them (a dead letter
//! published twice, by a retry or by several projections, is one id, listed once). `replay`
//! re-drives one:
//! * an upload: its admission record is removed (so the parser decides afresh) and its original
//!   `UploadObserved` is published again; the parser reads the file as if it were new;
//! * an event a projection refused: the event is published again on its topic, for a release
//!   that folds it (projections keep what they already hold, by event id);
//! * an undecodable record or a queue message cannot be re-driven: the command says what to do.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use resi_events::{
    DeadLetterReason, DeadLetterSubject, DeadLettered, Event, EventId, EventPayload, Timestamp,
    Topics, codec,
};
use resi_runtime::kafka::{self, StoredRecord};

use crate::CtlConfig;

/// Dead-letter actions.
#[derive(Debug, Subcommand)]
pub enum DeadLetterAction {
    /// List the dead letters, newest last: id, when, reason, what, detail.
    List {
        /// Only this reason (e.g. `corrupt_file`, `refused_by_projection`).
        #[arg(long)]
        reason: Option<String>,
        /// At most this many (the newest).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter in full (an embedded event decoded), as JSON.
    Show {
        /// Its id (hex, or a unique prefix of at least 8 digits).
        id: String,
    },
    /// Re-drive one dead letter once its cause is fixed.
    Replay {
        /// Its id (hex, or a unique prefix of at least 8 digits).
        id: String,
    },
}

/// How long reading a topic may take.
const READ_DEADLINE: Duration = Duration::from_secs(300);

/// One dead letter as found on the topic: the first time it was published.
#[derive(Debug)]
struct Found {
    event: Event,
    dead: DeadLettered,
    partition: i32,
    offset: i64,
    copies: usize,
}

/// Runs one action.
pub async fn run(action: DeadLetterAction, config: &CtlConfig) -> anyhow::Result<()> {
    let topics = Topics::new(&config.kafka.topic_prefix);
    let letters = read(config, &topics.dead_letters()).await?;
    match action {
        DeadLetterAction::List {
            reason,
            limit,
            json,
        } => {
            let chosen: Vec<&Found> = letters
                .values()
                .filter(|found| {
                    reason
                        .as_deref()
                        .is_none_or(|reason| found.dead.reason.as_str() == reason)
                })
                .collect();
            let shown = &chosen[chosen.len().saturating_sub(limit)..];
            for found in shown {
                if json {
                    println!("{}", serde_json::to_string(&summary(found))?);
                } else {
                    println!("{}", line(found));
                }
            }
            if !json {
                println!(
                    "{} of {} dead letters ({} matching)",
                    shown.len(),
                    letters.len(),
                    chosen.len()
                );
            }
        }
        DeadLetterAction::Show { id } => {
            let found = find(&letters, &id)?;
            println!("{}", serde_json::to_string_pretty(&detail(found))?);
        }
        DeadLetterAction::Replay { id } => {
            let found = find(&letters, &id)?;
            replay(config, &topics, found).await?;
        }
    }
    Ok(())
}

/// The dead letters of `topic`, by id, in the order first published.
async fn read(config: &CtlConfig, topic: &str) -> anyhow::Result<BTreeMap<(i64, EventId), Found>> {
    let records = kafka::read_to_end(&config.kafka, topic, READ_DEADLINE).await?;
    let mut by_id: BTreeMap<EventId, Found> = BTreeMap::new();
    for StoredRecord {
        partition,
        offset,
        payload,
        ..
    } in records
    {
        let Ok(event) = codec::decode(&payload) else {
            continue;
        };
        let EventPayload::DeadLettered(dead) = &event.payload else {
            continue;
        };
        let dead = dead.clone();
        by_id
            .entry(event.id)
            .and_modify(|found| found.copies += 1)
            .or_insert(Found {
                event,
                dead,
                partition,
                offset,
                copies: 1,
            });
    }
    // ordered by when each was first recorded, then id
    Ok(by_id
        .into_iter()
        .map(|(id, found)| ((found.event.record_time.as_micros(), id), found))
        .collect())
}

fn find<'a>(letters: &'a BTreeMap<(i64, EventId), Found>, id: &str) -> anyhow::Result<&'a Found> {
    let wanted = id.trim().to_ascii_lowercase();
    anyhow::ensure!(
        wanted.len() >= 8 && wanted.bytes().all(|byte| byte.is_ascii_hexdigit()),
        "a dead letter's id is hex, at least its first 8 digits"
    );
    let matches: Vec<&Found> = letters
        .values()
        .filter(|found| found.event.id.to_hex().starts_with(&wanted))
        .collect();
    match matches.as_slice() {
        [found] => Ok(found),
        [] => anyhow::bail!("no dead letter {wanted}"),
        many => anyhow::bail!("{} dead letters start with {wanted}", many.len()),
    }
}

/// What the dead letter is about, in a few words.
fn what(dead: &DeadLettered) -> String {
    match &dead.subject {
        DeadLetterSubject::Upload {
            miner_hotkey, key, ..
        } => format!("upload {key} (miner {miner_hotkey})"),
        DeadLetterSubject::Record {
            topic,
            partition,
            offset,
            ..
        } => format!("record {topic}/{partition}@{offset}"),
        DeadLetterSubject::QueueMessage { message_id, .. } => {
            format!("queue message {message_id}")
        }
    }
}

fn line(found: &Found) -> String {
    let mut detail = found.dead.detail.replace('\n', " ");
    if detail.len() > 120 {
        let mut end = 117;
        while !detail.is_char_boundary(end) {
            end -= 1;
        }
        detail.truncate(end);
        detail.push_str("...");
    }
    format!(
        "{}  {}  {:<24} {}  {}",
        &found.event.id.to_hex()[..16],
        found.event.record_time,
        found.dead.reason.as_str(),
        what(&found.dead),
        detail
    )
}

fn summary(found: &Found) -> serde_json::Value {
    serde_json::json!({
        "id": found.event.id.to_hex(),
        "recorded_at": found.event.record_time.to_rfc3339(),
        "reason": found.dead.reason.as_str(),
        "what": what(&found.dead),
        "detail": found.dead.detail,
        "attempts": found.dead.attempts,
        "copies": found.copies,
        "position": format!("{}@{}", found.partition, found.offset),
    })
}

fn detail(found: &Found) -> serde_json::Value {
    let mut value = summary(found);
    value["dead_letter"] = serde_json::to_value(&found.event).unwrap_or_default();
    if let DeadLetterSubject::Record { payload, .. } = &found.dead.subject {
        // the bytes are kept for re-driving; show what they hold
        value["record"] = match codec::decode(payload) {
            Ok(event) => serde_json::to_value(&event).unwrap_or_default(),
            Err(error) => {
                serde_json::json!({"undecodable": error.to_string(), "bytes": hex::encode(payload)})
            }
        };
    }
    value
}

async fn replay(config: &CtlConfig, topics: &Topics, found: &Found) -> anyhow::Result<()> {
    let producer = kafka::producer(&config.kafka)?;
    match &found.dead.subject {
        DeadLetterSubject::Upload { upload_id, key, .. } => {
            let uploads = topics.uploads();
            let observed = kafka::read_to_end(&config.kafka, &uploads, READ_DEADLINE)
                .await?
                .into_iter()
                .filter_map(|record| codec::decode(&record.payload).ok())
                .find(|event| {
                    matches!(&event.payload, EventPayload::UploadObserved(upload) if upload.event_id() == *upload_id)
                })
                .with_context(|| format!("the upload event of {key} is not on {uploads}"))?;
            let pool = resi_runtime::postgres::pool(&config.postgres)?;
            let client = resi_runtime::postgres::connection(&pool).await?;
            let removed = client
                .execute(
                    "DELETE FROM parser_admissions WHERE upload_id = $1 AND outcome = 'dead_lettered'",
                    &[&upload_id.as_bytes().as_slice()],
                )
                .await
                .context("failed to remove the upload's admission record")?;
            let again = Event {
                record_time: Timestamp::now(),
                ..observed
            };
            kafka::publish(&producer, &uploads, &again).await?;
            println!(
                "re-driven: {key} published again on {uploads} (admission record removed: {removed}); the parser reads it as new"
            );
        }
        DeadLetterSubject::Record { topic, payload, .. }
            if found.dead.reason == DeadLetterReason::RefusedByProjection =>
        {
            let event = codec::decode(payload).context("the refused event no longer decodes")?;
            kafka::publish(&producer, topic, &event).await?;
            println!(
                "re-driven: event {} published again on {topic}; a release that folds it takes it, what was folded stays",
                event.id
            );
        }
        DeadLetterSubject::Record { .. } => anyhow::bail!(
            "a record that is no event cannot be re-driven: find its producer (`resi dead-letters show` has its bytes)"
        ),
        DeadLetterSubject::QueueMessage { .. } => anyhow::bail!(
            "a queue message that is no notification cannot be re-driven; the bridge's listing of the bucket finds every upload anyway"
        ),
    }
    Ok(())
}
