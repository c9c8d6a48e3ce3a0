//! The trust projection: `miner_trust`, `miner_rejections`, `miner_days` and `epoch_uploads`
//! from the upload summaries.
//!
//! It folds `UploadParsed` (trust moves by the rule in [`resi_projections::trust`]),
//! `UploadRejected` (counted, trust unchanged), `MinerFabricated` (trust falls by the
//! fabrication penalty, counted as `epoch:fabricated`) and `MinerValidated` (the validators'
//! verdict: the bonus or the penalty; fake counted as `epoch:judged_fake`) from the uploads
//! topic. All are keyed by miner,
//! so a miner's events arrive in log order and the fold is deterministic. An event id is folded
//! once: a re-delivered summary changes nothing.

use std::collections::BTreeMap;

use anyhow::Context as _;
use resi_events::{Event, EventPayload};
use resi_projections::trust::{MinerTrust, Submission};
use tokio_postgres::Transaction;

/// The tables of one version; `{schema}` is replaced by the version's schema.
pub const DDL: &str = include_str!("../sql/trust.sql");

/// Folds one batch in `transaction`; the number of events that changed the tables.
pub async fn fold(
    transaction: &Transaction<'_>,
    schema: &str,
    events: &[&Event],
) -> anyhow::Result<usize> {
    let relevant: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|event| {
            matches!(
                event.payload,
                EventPayload::UploadParsed(_)
                    | EventPayload::UploadRejected(_)
                    | EventPayload::MinerFabricated(_)
                    | EventPayload::MinerValidated(_)
            )
        })
        .collect();
    if relevant.is_empty() {
        return Ok(0);
    }
    // in log order, each id once
    let new_events = crate::first_folds(transaction, schema, relevant).await?;
    if new_events.is_empty() {
        return Ok(0);
    }

    let miners: Vec<&str> = new_events
        .iter()
        .filter_map(|event| match &event.payload {
            EventPayload::UploadParsed(parsed) => Some(parsed.miner_hotkey.as_str()),
            EventPayload::MinerFabricated(fabricated) => Some(fabricated.miner_hotkey.as_str()),
            EventPayload::MinerValidated(validated) => Some(validated.miner_hotkey.as_str()),
            _ => None,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut states: BTreeMap<String, MinerTrust> = transaction
        .query(
            &format!(
                "SELECT miner_hotkey, trust_score, total_submissions, validated_submissions,
                        rows_read, duplicate_rows, submissions_today,
                        (submissions_date - DATE '1970-01-01')::integer,
                        (extract(epoch FROM last_submission) * 1000000)::bigint, last_quality
                 FROM {schema}.miner_trust WHERE miner_hotkey = ANY($1)"
            ),
            &[&miners],
        )
        .await
        .context("failed to read miner trust")?
        .iter()
        .map(|row| {
            (
                row.get(0),
                MinerTrust {
                    trust_score: row.get(1),
                    total_submissions: row.get(2),
                    validated_submissions: row.get(3),
                    rows_read: row.get(4),
                    duplicate_rows: row.get(5),
                    submissions_today: row.get(6),
                    submissions_day: row.get(7),
                    last_submission: row.get(8),
                    last_quality: row.get(9),
                },
            )
        })
        .collect();

    let mut rejections: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut days: BTreeMap<(String, i32), MinerDay> = BTreeMap::new();
    let mut touched = std::collections::BTreeSet::new();
    for event in &new_events {
        let day = event.event_time.utc_day();
        match &event.payload {
            EventPayload::UploadParsed(parsed) => {
                let submission = Submission::of(parsed, event.event_time.as_micros());
                let state = states.entry(parsed.miner_hotkey.clone()).or_default();
                state.apply(&submission);
                let trust = state.trust_score;
                touched.insert(parsed.miner_hotkey.clone());
                days.entry((parsed.miner_hotkey.clone(), day))
                    .or_default()
                    .parsed(parsed, trust);
                for count in &parsed.rejections {
                    *rejections
                        .entry((
                            parsed.miner_hotkey.clone(),
                            count.reason.as_str().to_owned(),
                        ))
                        .or_default() += i64::try_from(count.rows).unwrap_or(i64::MAX);
                }
            }
            EventPayload::MinerFabricated(fabricated) => {
                let state = states.entry(fabricated.miner_hotkey.clone()).or_default();
                state.fabricated();
                let trust = state.trust_score;
                touched.insert(fabricated.miner_hotkey.clone());
                days.entry((fabricated.miner_hotkey.clone(), day))
                    .or_default()
                    .trust(trust);
                *rejections
                    .entry((
                        fabricated.miner_hotkey.clone(),
                        "epoch:fabricated".to_owned(),
                    ))
                    .or_default() += 1;
            }
            EventPayload::MinerValidated(validated) => {
                let state = states.entry(validated.miner_hotkey.clone()).or_default();
                state.validated(validated.verdict);
                let trust = state.trust_score;
                touched.insert(validated.miner_hotkey.clone());
                days.entry((validated.miner_hotkey.clone(), day))
                    .or_default()
                    .trust(trust);
                if validated.verdict == resi_events::Verdict::Fake {
                    *rejections
                        .entry((
                            validated.miner_hotkey.clone(),
                            "epoch:judged_fake".to_owned(),
                        ))
                        .or_default() += 1;
                }
            }
            EventPayload::UploadRejected(rejected) => {
                days.entry((rejected.miner_hotkey.clone(), day))
                    .or_default()
                    .uploads_rejected += 1;
                *rejections
                    .entry((
                        rejected.miner_hotkey.clone(),
                        format!("upload:{}", rejected.reason.as_str()),
                    ))
                    .or_default() += 1;
            }
            _ => {}
        }
    }

    let rows: Vec<(&String, &MinerTrust)> = states
        .iter()
        .filter(|(miner, _)| touched.contains(*miner))
        .collect();
    if !rows.is_empty() {
        let miner: Vec<&str> = rows.iter().map(|(miner, _)| miner.as_str()).collect();
        let column = |get: fn(&MinerTrust) -> f64| {
            rows.iter()
                .map(|(_, state)| get(state))
                .collect::<Vec<f64>>()
        };
        let count = |get: fn(&MinerTrust) -> i64| {
            rows.iter()
                .map(|(_, state)| get(state))
                .collect::<Vec<i64>>()
        };
        let trust = column(|state| state.trust_score);
        let duplicate_rate = column(MinerTrust::duplicate_rate);
        let last_quality = column(|state| state.last_quality);
        let total = count(|state| state.total_submissions);
        let validated = count(|state| state.validated_submissions);
        let rows_read = count(|state| state.rows_read);
        let duplicate_rows = count(|state| state.duplicate_rows);
        let today = count(|state| state.submissions_today);
        let day: Vec<i32> = rows
            .iter()
            .map(|(_, state)| state.submissions_day)
            .collect();
        let last: Vec<chrono::DateTime<chrono::Utc>> = rows
            .iter()
            .map(|(_, state)| crate::datetime(state.last_submission))
            .collect();
        transaction
            .execute(
                &format!(
                    "INSERT INTO {schema}.miner_trust AS current
                       (miner_hotkey, trust_score, total_submissions, validated_submissions,
                        rows_read, duplicate_rows, duplicate_rate, submissions_today,
                        submissions_date, last_submission, last_quality)
                     SELECT miner, trust, total, validated, rows_read, duplicate_rows,
                            duplicate_rate, today, DATE '1970-01-01' + day, last, last_quality
                     FROM unnest($1::text[], $2::float8[], $3::int8[], $4::int8[], $5::int8[],
                                 $6::int8[], $7::float8[], $8::int8[], $9::int4[],
                                 $10::timestamptz[], $11::float8[])
                          AS batch (miner, trust, total, validated, rows_read, duplicate_rows,
                                    duplicate_rate, today, day, last, last_quality)
                     ON CONFLICT (miner_hotkey) DO UPDATE SET
                       trust_score = EXCLUDED.trust_score,
                       total_submissions = EXCLUDED.total_submissions,
                       validated_submissions = EXCLUDED.validated_submissions,
                       rows_read = EXCLUDED.rows_read,
                       duplicate_rows = EXCLUDED.duplicate_rows,
                       duplicate_rate = EXCLUDED.duplicate_rate,
                       submissions_today = EXCLUDED.submissions_today,
                       submissions_date = EXCLUDED.submissions_date,
                       last_submission = EXCLUDED.last_submission,
                       last_quality = EXCLUDED.last_quality"
                ),
                &[
                    &miner,
                    &trust,
                    &total,
                    &validated,
                    &rows_read,
                    &duplicate_rows,
                    &duplicate_rate,
                    &today,
                    &day,
                    &last,
                    &last_quality,
                ],
            )
            .await
            .context("failed to write miner trust")?;
    }
    write_epoch_uploads(transaction, schema, &new_events).await?;
    write_days(transaction, schema, &days).await?;
    if !rejections.is_empty() {
        let miner: Vec<&str> = rejections.keys().map(|(miner, _)| miner.as_str()).collect();
        let reason: Vec<&str> = rejections
            .keys()
            .map(|(_, reason)| reason.as_str())
            .collect();
        let count: Vec<i64> = rejections.values().copied().collect();
        transaction
            .execute(
                &format!(
                    "INSERT INTO {schema}.miner_rejections AS current (miner_hotkey, reason, count)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::int8[])
                     ON CONFLICT (miner_hotkey, reason) DO UPDATE
                     SET count = current.count + EXCLUDED.count"
                ),
                &[&miner, &reason, &count],
            )
            .await
            .context("failed to write miner rejections")?;
    }
    Ok(new_events.len())
}

/// What one batch adds to a miner's day.
#[derive(Debug, Default)]
struct MinerDay {
    uploads: i64,
    uploads_rejected: i64,
    rows_read: i64,
    rows_rejected: i64,
    trust_low: Option<f64>,
    trust_end: Option<f64>,
}

impl MinerDay {
    fn parsed(&mut self, parsed: &resi_events::UploadParsed, trust: f64) {
        self.uploads += 1;
        self.rows_read = self
            .rows_read
            .saturating_add(i64::try_from(parsed.rows_read).unwrap_or(i64::MAX));
        self.rows_rejected = self
            .rows_rejected
            .saturating_add(i64::try_from(parsed.rows_rejected).unwrap_or(i64::MAX));
        self.trust(trust);
    }

    fn trust(&mut self, trust: f64) {
        self.trust_low = Some(self.trust_low.map_or(trust, |low| low.min(trust)));
        self.trust_end = Some(trust);
    }
}

/// Adds a batch's days to `miner_days`: counts add up, the lowest trust is kept and the last
/// one in log order wins (a day with only rejected uploads keeps the trust it had).
async fn write_days(
    transaction: &Transaction<'_>,
    schema: &str,
    days: &BTreeMap<(String, i32), MinerDay>,
) -> anyhow::Result<()> {
    if days.is_empty() {
        return Ok(());
    }
    let miner: Vec<&str> = days.keys().map(|(miner, _)| miner.as_str()).collect();
    let day: Vec<i32> = days.keys().map(|(_, day)| *day).collect();
    let count = |get: fn(&MinerDay) -> i64| days.values().map(get).collect::<Vec<i64>>();
    let trust =
        |get: fn(&MinerDay) -> Option<f64>| days.values().map(get).collect::<Vec<Option<f64>>>();
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.miner_days AS current
                   (miner_hotkey, day, uploads, uploads_rejected, rows_read, rows_rejected,
                    trust_low, trust_end)
                 SELECT miner, DATE '1970-01-01' + day, uploads, uploads_rejected, rows_read,
                        rows_rejected, trust_low, trust_end
                 FROM unnest($1::text[], $2::int4[], $3::int8[], $4::int8[], $5::int8[],
                             $6::int8[], $7::float8[], $8::float8[])
                      AS batch (miner, day, uploads, uploads_rejected, rows_read, rows_rejected,
                                trust_low, trust_end)
                 ON CONFLICT (miner_hotkey, day) DO UPDATE SET
                   uploads = current.uploads + EXCLUDED.uploads,
                   uploads_rejected = current.uploads_rejected + EXCLUDED.uploads_rejected,
                   rows_read = current.rows_read + EXCLUDED.rows_read,
                   rows_rejected = current.rows_rejected + EXCLUDED.rows_rejected,
                   trust_low = LEAST(current.trust_low, EXCLUDED.trust_low),
                   trust_end = COALESCE(EXCLUDED.trust_end, current.trust_end)"
            ),
            &[
                &miner,
                &day,
                &count(|day| day.uploads),
                &count(|day| day.uploads_rejected),
                &count(|day| day.rows_read),
                &count(|day| day.rows_rejected),
                &trust(|day| day.trust_low),
                &trust(|day| day.trust_end),
            ],
        )
        .await
        .context("failed to write miner days")?;
    Ok(())
}

/// The summaries of `events` that belong to an epoch, one row per upload.
async fn write_epoch_uploads(
    transaction: &Transaction<'_>,
    schema: &str,
    events: &[&Event],
) -> anyhow::Result<()> {
    let parsed: Vec<&resi_events::UploadParsed> = events
        .iter()
        .filter_map(|event| match &event.payload {
            EventPayload::UploadParsed(parsed) if parsed.epoch_id.is_some() => Some(parsed),
            _ => None,
        })
        .collect();
    if parsed.is_empty() {
        return Ok(());
    }
    let count = |get: fn(&resi_events::UploadParsed) -> u64| -> Vec<i64> {
        parsed
            .iter()
            .map(|upload| i64::try_from(get(upload)).unwrap_or(i64::MAX))
            .collect()
    };
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.epoch_uploads
                   (upload_id, miner_hotkey, epoch_id, zipcode, rows_read, rows_rejected,
                    duplicate_rows, future_scrape_times, rows_outside_zipcode)
                 SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[],
                                      $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[])
                 ON CONFLICT (upload_id) DO NOTHING"
            ),
            &[
                &parsed
                    .iter()
                    .map(|upload| upload.upload_id.as_bytes().as_slice())
                    .collect::<Vec<_>>(),
                &parsed
                    .iter()
                    .map(|upload| upload.miner_hotkey.as_str())
                    .collect::<Vec<_>>(),
                &parsed
                    .iter()
                    .map(|upload| upload.epoch_id.as_deref())
                    .collect::<Vec<_>>(),
                &parsed
                    .iter()
                    .map(|upload| upload.zipcode.as_deref())
                    .collect::<Vec<_>>(),
                &count(|upload| upload.rows_read),
                &count(|upload| upload.rows_rejected),
                &count(|upload| upload.duplicate_rows),
                &count(|upload| upload.future_scrape_times),
                &count(|upload| upload.rows_outside_zipcode),
            ],
        )
        .await
        .context("failed to write epoch uploads")?;
    Ok(())
}
