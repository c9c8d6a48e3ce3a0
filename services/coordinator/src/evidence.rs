//! Gathering an epoch's evidence from the live projections, once the epoch is closed and its
//! validators' window has passed: per miner, per assigned zipcode, what its uploads held
//! (trust's `epoch_uploads`), what it sent (listing's `epoch_rows`) and how much of it the
//! consensus confirms (consensus's `epoch_agreement`). The folds keep those counters as the
//! attestations arrive, so closing reads a few rows per miner and zipcode, however large the
//! epoch.
//!
//! A listing counts for the epoch of its miner's current report of it (sending an older scrape
//! of it again earns nothing). It is *checked* when at least two other miners reported it
//! (three or more in all); its fields count as agreeing as the consensus projection judged
//! them. A row is *impossible* when it was scraped after its upload (the parser's count) or
//! when its coordinates lie more than `far_km` from its zipcode's reference point, in whole
//! kilometres (the listing projection counts distances rounded up). Uploads that name no zipcode (the v2
//! layout: one file per epoch) have their row counts shared among the miner's zipcodes in
//! proportion to the listings it reported in each.

use std::collections::BTreeMap;

use anyhow::Context as _;
use resi_events::{
    EpochEvidenceComplete, EpochOpened, EventId, EvidenceSource, MinerEpochEvidence, Timestamp,
    ZipcodeEvidence,
};

/// The projections the evidence is read from.
const SOURCES: [&str; 3] = ["consensus", "listing", "trust"];

/// The live schema of each source projection, by name.
async fn live_schemas(
    client: &tokio_postgres::Client,
) -> anyhow::Result<BTreeMap<String, (String, String)>> {
    let rows = client
        .query(
            "SELECT projection, version, schema_name FROM projection_versions
              WHERE status = 'live' AND projection = ANY($1)",
            &[&SOURCES.as_slice()],
        )
        .await
        .context("failed to find the live projection versions")?;
    let schemas: BTreeMap<String, (String, String)> = rows
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect();
    for source in SOURCES {
        anyhow::ensure!(
            schemas.contains_key(source),
            "the {source} projection has no live version yet; the epoch's evidence waits for it"
        );
    }
    Ok(schemas)
}

/// What an upload-level query found for one miner in one zipcode (`None`: no zipcode).
#[derive(Default)]
struct UploadCounts {
    uploads: u32,
    rows_read: u64,
    rows_rejected: u64,
    duplicate_rows: u64,
    future_rows: u64,
}

fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Shares `total` among `weights` in proportion, the remainder to the heaviest.
fn share(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|weight| u128::from(*weight)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<u64> = weights
        .iter()
        .map(|weight| u64::try_from(u128::from(total) * u128::from(*weight) / sum).unwrap_or(0))
        .collect();
    let given: u64 = shares.iter().sum();
    if let Some(heaviest) =
        (0..weights.len()).max_by_key(|index| (weights[*index], std::cmp::Reverse(*index)))
    {
        shares[heaviest] += total - given;
    }
    shares
}

fn miner_entry<'a>(
    miners: &'a mut BTreeMap<String, MinerEpochEvidence>,
    epoch: &str,
    closed_id: EventId,
    hotkey: &str,
) -> &'a mut MinerEpochEvidence {
    miners
        .entry(hotkey.to_owned())
        .or_insert_with(|| MinerEpochEvidence {
            epoch_id: epoch.to_owned(),
            closed_id,
            miner_hotkey: hotkey.to_owned(),
            zipcodes: Vec::new(),
            unassigned_listings: 0,
        })
}

/// Every miner's evidence of `opened`'s epoch, and the completion naming it.
#[tracing::instrument(skip_all, fields(epoch = %opened.epoch_id))]
pub async fn gather(
    client: &tokio_postgres::Client,
    opened: &EpochOpened,
    closed_id: EventId,
    far_km: f64,
) -> anyhow::Result<(Vec<MinerEpochEvidence>, EpochEvidenceComplete)> {
    let schemas = live_schemas(client).await?;
    let schema = |name: &str| schemas[name].1.clone();
    let (listing, consensus, trust) = (schema("listing"), schema("consensus"), schema("trust"));
    let assigned: Vec<&str> = opened
        .zipcodes
        .iter()
        .map(|zip| zip.zipcode.as_str())
        .collect();
    let epoch = opened.epoch_id.as_str();

    let mut uploads: BTreeMap<(String, Option<String>), UploadCounts> = BTreeMap::new();
    for row in client
        .query(
            &format!(
                "SELECT miner_hotkey, CASE WHEN zipcode = ANY($2) THEN zipcode END,
                        count(*)::int8, sum(rows_read)::int8, sum(rows_rejected)::int8,
                        sum(duplicate_rows)::int8, sum(future_scrape_times)::int8
                   FROM {trust}.epoch_uploads
                  WHERE epoch_id = $1 AND (zipcode IS NULL OR zipcode = ANY($2))
                  GROUP BY 1, 2"
            ),
            &[&epoch, &assigned],
        )
        .await
        .context("failed to read the epoch's uploads")?
    {
        uploads.insert(
            (row.get(0), row.get(1)),
            UploadCounts {
                uploads: u32::try_from(row.get::<_, i64>(2)).unwrap_or(u32::MAX),
                rows_read: unsigned(row.get(3)),
                rows_rejected: unsigned(row.get(4)),
                duplicate_rows: unsigned(row.get(5)),
                future_rows: unsigned(row.get(6)),
            },
        );
    }

    // per miner and zipcode: what it reported and how much consensus confirms
    let reported = client
        .query(
            &format!(
                "WITH agreement AS (
                   SELECT miner_hotkey, zipcode, listings, complete_listings, checked_listings,
                          agreed_fields, reported_fields
                     FROM {consensus}.epoch_agreement WHERE epoch_id = $1),
                 sent AS (
                   SELECT miner_hotkey, zipcode, max(last_submitted_at) AS last_submitted_at,
                          coalesce(sum(attestations) FILTER (WHERE distance_km > $3::float8), 0)
                            AS far_rows
                     FROM {listing}.epoch_rows WHERE epoch_id = $1
                    GROUP BY 1, 2)
                 SELECT miner_hotkey, zipcode = ANY($2), zipcode,
                        coalesce(a.listings, 0), coalesce(a.complete_listings, 0),
                        coalesce(a.checked_listings, 0), coalesce(a.agreed_fields, 0),
                        coalesce(a.reported_fields, 0), s.last_submitted_at,
                        coalesce(s.far_rows, 0)::int8
                   FROM agreement a FULL JOIN sent s USING (miner_hotkey, zipcode)
                  WHERE coalesce(a.listings, 0) > 0 OR s.miner_hotkey IS NOT NULL"
            ),
            &[&epoch, &assigned, &far_km],
        )
        .await
        .context("failed to read the epoch's counters")?;

    let mut miners: BTreeMap<String, MinerEpochEvidence> = BTreeMap::new();
    for row in &reported {
        let hotkey: String = row.get(0);
        let is_assigned: Option<bool> = row.get(1);
        let miner = miner_entry(&mut miners, epoch, closed_id, &hotkey);
        let listings = unsigned(row.get(3));
        if is_assigned != Some(true) {
            miner.unassigned_listings += listings;
            continue;
        }
        let zipcode: String = row.get(2);
        let last_upload = row
            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(8)
            .map_or(opened.submission_deadline, Timestamp::from_datetime);
        let counts = uploads
            .remove(&(hotkey.clone(), Some(zipcode.clone())))
            .unwrap_or_default();
        miner.zipcodes.push(ZipcodeEvidence {
            zipcode,
            uploads: counts.uploads,
            rows_read: counts.rows_read.max(listings),
            rows_rejected: counts.rows_rejected,
            duplicate_rows: counts.duplicate_rows,
            impossible_rows: counts.future_rows + unsigned(row.get(9)),
            listings,
            complete_listings: unsigned(row.get(4)),
            checked_listings: unsigned(row.get(5)),
            agreed_fields: unsigned(row.get(6)),
            checked_fields: unsigned(row.get(7)),
            last_upload,
        });
    }
    // uploads of assigned zipcodes that left no attestation (every row rejected) still count
    let mut unzipped: BTreeMap<String, UploadCounts> = BTreeMap::new();
    for ((hotkey, zipcode), counts) in uploads {
        match zipcode {
            None => {
                unzipped.insert(hotkey, counts);
            }
            Some(zipcode) => {
                let miner = miner_entry(&mut miners, epoch, closed_id, &hotkey);
                miner.zipcodes.push(ZipcodeEvidence {
                    zipcode,
                    uploads: counts.uploads,
                    rows_read: counts.rows_read,
                    rows_rejected: counts.rows_rejected,
                    duplicate_rows: counts.duplicate_rows,
                    impossible_rows: counts.future_rows,
                    listings: 0,
                    complete_listings: 0,
                    checked_listings: 0,
                    agreed_fields: 0,
                    checked_fields: 0,
                    last_upload: opened.submission_deadline,
                });
            }
        }
    }
    for (hotkey, counts) in unzipped {
        let Some(miner) = miners.get_mut(&hotkey) else {
            continue;
        };
        let weights: Vec<u64> = miner.zipcodes.iter().map(|zip| zip.listings).collect();
        let spread = |total| share(total, &weights);
        let (read, rejected, duplicates, future) = (
            spread(counts.rows_read),
            spread(counts.rows_rejected),
            spread(counts.duplicate_rows),
            spread(counts.future_rows),
        );
        for (index, zip) in miner.zipcodes.iter_mut().enumerate() {
            zip.uploads += u32::from(weights[index] > 0);
            zip.rows_read = (zip.rows_read + read[index]).max(zip.listings);
            zip.rows_rejected += rejected[index];
            zip.duplicate_rows += duplicates[index];
            zip.impossible_rows += future[index];
        }
    }
    let mut evidence: Vec<MinerEpochEvidence> = miners.into_values().collect();
    for miner in &mut evidence {
        miner
            .zipcodes
            .sort_by(|left, right| left.zipcode.cmp(&right.zipcode));
    }
    let mut evidence_ids: Vec<EventId> =
        evidence.iter().map(MinerEpochEvidence::event_id).collect();
    evidence_ids.sort_unstable_by_key(|id| *id.as_bytes());
    let complete = EpochEvidenceComplete {
        epoch_id: epoch.to_owned(),
        closed_id,
        evidence_ids,
        sources: schemas
            .iter()
            .map(|(projection, (version, _))| EvidenceSource {
                projection: projection.clone(),
                version: version.clone(),
            })
            .collect(),
    };
    Ok((evidence, complete))
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_are_proportional_and_whole() {
        assert_eq!(share(10, &[1, 1]), vec![5, 5]);
        assert_eq!(share(10, &[1, 2]), vec![3, 7]);
        assert_eq!(share(7, &[0, 0]), vec![0, 0]);
        assert_eq!(share(0, &[3, 1]), vec![0, 0]);
        assert_eq!(share(5, &[1, 1, 1]).iter().sum::<u64>(), 5);
    }
}
