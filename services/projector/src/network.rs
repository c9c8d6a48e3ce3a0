//! The network projection, from the gateway's events on the network topic:
//! `miner_epoch_status` and `miner_zipcode_progress` from `MinerStatusReported`;
//! `metagraph_snapshots` and `metagraph_neurons` from `MetagraphObserved`.
//!
//! Reports are keyed by hotkey, so one miner's arrive in log order; the latest by the gateway's
//! arrival time wins (two gateway replicas may publish a miner's reports a moment apart), and
//! every event counts once, however often it is delivered (or however many replicas record the
//! same snapshot). The neurons are the latest snapshot's by block.

use anyhow::Context as _;
use resi_events::{Event, EventPayload, MetagraphObserved, MinerStatusReported};
use tokio_postgres::Transaction;

/// The tables of one version; `{schema}` is replaced by the version's schema.
pub const DDL: &str = include_str!("../sql/network.sql");

fn datetime(timestamp: resi_events::Timestamp) -> chrono::DateTime<chrono::Utc> {
    crate::datetime(timestamp.as_micros())
}

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
                EventPayload::MinerStatusReported(_) | EventPayload::MetagraphObserved(_)
            )
        })
        .collect();
    if relevant.is_empty() {
        return Ok(0);
    }
    let mut changed = 0;
    for event in crate::first_folds(transaction, schema, relevant).await? {
        match &event.payload {
            EventPayload::MinerStatusReported(report) => {
                report_status(transaction, schema, report).await?
            }
            EventPayload::MetagraphObserved(metagraph) => {
                observe(transaction, schema, event, metagraph).await?;
            }
            _ => continue,
        }
        changed += 1;
    }
    Ok(changed)
}

async fn observe(
    transaction: &Transaction<'_>,
    schema: &str,
    event: &Event,
    metagraph: &MetagraphObserved,
) -> anyhow::Result<()> {
    let netuid = i32::try_from(metagraph.netuid).unwrap_or(i32::MAX);
    let block = i64::try_from(metagraph.block).unwrap_or(i64::MAX);
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.metagraph_snapshots (event_id, netuid, block, neurons, observed_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
            ),
            &[
                &event.id.as_bytes().as_slice(),
                &netuid,
                &block,
                &i32::try_from(metagraph.neurons.len()).unwrap_or(i32::MAX),
                &datetime(event.event_time),
            ],
        )
        .await
        .context("failed to record a metagraph snapshot")?;
    let latest: Option<i64> = transaction
        .query_one(
            &format!("SELECT max(block) FROM {schema}.metagraph_neurons WHERE netuid = $1"),
            &[&netuid],
        )
        .await
        .context("failed to read the latest metagraph")?
        .get(0);
    if latest.is_some_and(|latest| latest > block) {
        return Ok(());
    }
    transaction
        .execute(
            &format!("DELETE FROM {schema}.metagraph_neurons WHERE netuid = $1"),
            &[&netuid],
        )
        .await
        .context("failed to replace the metagraph")?;
    let uids: Vec<i32> = metagraph
        .neurons
        .iter()
        .map(|neuron| i32::try_from(neuron.uid).unwrap_or(i32::MAX))
        .collect();
    let hotkeys: Vec<&str> = metagraph
        .neurons
        .iter()
        .map(|neuron| neuron.hotkey.as_str())
        .collect();
    let coldkeys: Vec<&str> = metagraph
        .neurons
        .iter()
        .map(|neuron| neuron.coldkey.as_str())
        .collect();
    let stakes: Vec<i64> = metagraph
        .neurons
        .iter()
        .map(|neuron| i64::try_from(neuron.stake_rao).unwrap_or(i64::MAX))
        .collect();
    let permits: Vec<bool> = metagraph
        .neurons
        .iter()
        .map(|neuron| neuron.validator_permit)
        .collect();
    transaction
        .execute(
            &format!(
                "INSERT INTO {schema}.metagraph_neurons
                     (netuid, uid, hotkey, coldkey, stake_rao, validator_permit, block)
                 SELECT $1, * , $7 FROM unnest($2::int4[], $3::text[], $4::text[], $5::int8[], $6::bool[])
                 ON CONFLICT (netuid, uid) DO NOTHING"
            ),
            &[&netuid, &uids, &hotkeys, &coldkeys, &stakes, &permits, &block],
        )
        .await
        .context("failed to write the metagraph's neurons")?;
    Ok(())
}

async fn report_status(
    transaction: &Transaction<'_>,
    schema: &str,
    report: &MinerStatusReported,
) -> anyhow::Result<()> {
    {
        let received = datetime(report.received_at);
        let zipcodes = i32::try_from(report.zipcodes_completed.len()).unwrap_or(i32::MAX);
        let listings = report
            .listings_scraped
            .map(|count| i64::try_from(count).unwrap_or(i64::MAX));
        transaction
            .execute(
                &format!(
                    "INSERT INTO {schema}.miner_epoch_status AS s
                         (epoch_id, miner_hotkey, status, listings_scraped, zipcodes_completed,
                          s3_upload_complete, s3_upload_timestamp, reports, first_reported_at,
                          last_reported_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)
                     ON CONFLICT (epoch_id, miner_hotkey) DO UPDATE SET
                         reports = s.reports + 1,
                         first_reported_at = least(s.first_reported_at, excluded.first_reported_at),
                         last_reported_at = greatest(s.last_reported_at, excluded.last_reported_at),
                         status = CASE WHEN excluded.last_reported_at >= s.last_reported_at
                                       THEN excluded.status ELSE s.status END,
                         listings_scraped = CASE WHEN excluded.last_reported_at >= s.last_reported_at
                                       THEN excluded.listings_scraped ELSE s.listings_scraped END,
                         zipcodes_completed = CASE WHEN excluded.last_reported_at >= s.last_reported_at
                                       THEN excluded.zipcodes_completed ELSE s.zipcodes_completed END,
                         s3_upload_complete = CASE WHEN excluded.last_reported_at >= s.last_reported_at
                                       THEN excluded.s3_upload_complete ELSE s.s3_upload_complete END,
                         s3_upload_timestamp = CASE WHEN excluded.last_reported_at >= s.last_reported_at
                                       THEN excluded.s3_upload_timestamp ELSE s.s3_upload_timestamp END"
                ),
                &[
                    &report.epoch_id,
                    &report.miner_hotkey,
                    &report.status.as_str(),
                    &listings,
                    &zipcodes,
                    &report.s3_upload_complete,
                    &report.s3_upload_timestamp.map(datetime),
                    &received,
                ],
            )
            .await
            .context("failed to write a miner's epoch status")?;
        for zipcode in &report.zipcodes_completed {
            let scraped = zipcode
                .listings_scraped
                .map(|count| i64::try_from(count).unwrap_or(i64::MAX));
            transaction
                .execute(
                    &format!(
                        "INSERT INTO {schema}.miner_zipcode_progress AS p
                             (epoch_id, miner_hotkey, zipcode, listings_scraped, completed_at,
                              reported_at)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (epoch_id, miner_hotkey, zipcode) DO UPDATE SET
                             listings_scraped = excluded.listings_scraped,
                             completed_at = excluded.completed_at,
                             reported_at = excluded.reported_at
                         WHERE excluded.reported_at >= p.reported_at"
                    ),
                    &[
                        &report.epoch_id,
                        &report.miner_hotkey,
                        &zipcode.zipcode,
                        &scraped,
                        &zipcode.completed_at.map(datetime),
                        &received,
                    ],
                )
                .await
                .context("failed to write a miner's zipcode progress")?;
        }
    }
    Ok(())
}
