//! Inputs the pipeline must survive, each with the outcome it must record.

use crate::json_files;
use crate::parquet_files::{self, BATCH_ROWS};
use crate::report::Report;
use crate::world::{
    Entry, Miner, fabricate, hotkey, put_recorded, rng_for, v1_key, v2_dir, write_v1,
    write_v2_epoch,
};
use crate::{Behaviour, Expected, GeneratorConfig, ManifestObject, Shape, Sink};
use chrono::{Duration, NaiveDateTime};

const JOB: &str = "bad_inputs";

struct BadInputs {
    miner: Miner,
    at: NaiveDateTime,
    next_zpid: u64,
    rng: rand_chacha::ChaCha8Rng,
}

impl BadInputs {
    fn reports(&mut self, rows: usize) -> Vec<Report> {
        let at = self.at;
        (0..rows)
            .map(|_| {
                self.next_zpid += 1;
                fabricate(&mut self.rng, self.next_zpid, at - Duration::minutes(20))
            })
            .collect()
    }

    /// A distinct, valid v1 key for the next bad file (one second apart).
    fn next_key(&mut self, rows: usize) -> String {
        self.at += Duration::seconds(1);
        v1_key(&self.miner.hotkey, JOB, &crate::v1_file_name(self.at, rows))
    }

    #[allow(clippy::too_many_arguments)]
    async fn put(
        &self,
        sink: &mut Sink,
        objects: &mut Vec<ManifestObject>,
        key: String,
        format: &'static str,
        rows: usize,
        body: Vec<u8>,
        expected: Expected,
    ) -> anyhow::Result<()> {
        let entry = Entry {
            key,
            format,
            miner: &self.miner,
            rows,
            expected,
        };
        put_recorded(sink, objects, entry, body).await
    }
}

fn dead(reason: &str) -> Expected {
    Expected::DeadLettered {
        reason: reason.to_owned(),
    }
}

fn rejected(reason: &str) -> Expected {
    Expected::Rejected {
        reason: reason.to_owned(),
    }
}

/// Writes every bad input.
pub(crate) async fn write_all(
    config: &GeneratorConfig,
    sink: &mut Sink,
    objects: &mut Vec<ManifestObject>,
) -> anyhow::Result<()> {
    let mut rng = rng_for(config.seed, "bad-inputs", 0);
    let miner = Miner {
        hotkey: hotkey(&mut rng),
        behaviour: Behaviour::BadInputs,
        shape: Shape::V1,
        offset_secs: 0,
    };
    let mut bad = BadInputs {
        miner,
        at: config.start.naive_utc() + Duration::minutes(7),
        next_zpid: 80_000_000,
        rng,
    };

    // a Parquet file cut in half: no footer
    let reports = bad.reports(20);
    let whole = parquet_files::write([parquet_files::v1_batch(&reports)], BATCH_ROWS)?;
    let key = bad.next_key(20);
    bad.put(
        sink,
        objects,
        key,
        "v1",
        0,
        whole[..whole.len() / 2].to_vec(),
        dead("corrupt_file"),
    )
    .await?;

    let key = bad.next_key(10);
    bad.put(
        sink,
        objects,
        key,
        "v1",
        0,
        b"zpid,price\n1,100000\nthis is csv, not parquet\n".to_vec(),
        dead("corrupt_file"),
    )
    .await?;

    let reports = bad.reports(12);
    let key = bad.next_key(12);
    let body = parquet_files::v1_wrong_types(&reports)?;
    bad.put(sink, objects, key, "v1", 12, body, dead("wrong_schema"))
        .await?;

    let reports = bad.reports(12);
    let key = bad.next_key(12);
    let body = parquet_files::v1_without_ids(&reports)?;
    bad.put(sink, objects, key, "v1", 12, body, dead("wrong_schema"))
        .await?;

    // valid files whose keys do not fit the layout
    let reports = bad.reports(5);
    let body = parquet_files::write([parquet_files::v1_batch(&reports)], BATCH_ROWS)?;
    let key = v1_key(&bad.miner.hotkey, JOB, "export-final.parquet");
    bad.put(
        sink,
        objects,
        key,
        "v1",
        5,
        body.clone(),
        rejected("unparseable_path"),
    )
    .await?;
    let key = format!("data/hotkey={}/stray.parquet", bad.miner.hotkey);
    bad.put(
        sink,
        objects,
        key,
        "v1",
        5,
        body,
        rejected("unparseable_path"),
    )
    .await?;

    // the name declares 120 rows; the file has 100
    let reports = bad.reports(100);
    bad.at += Duration::seconds(1);
    let key = v1_key(&bad.miner.hotkey, JOB, &crate::v1_file_name(bad.at, 120));
    let body = parquet_files::write([parquet_files::v1_batch(&reports)], BATCH_ROWS)?;
    bad.put(
        sink,
        objects,
        key,
        "v1",
        100,
        body,
        Expected::Parsed { rows: 100 },
    )
    .await?;

    // zero rows: valid, nothing to attest
    let at = bad.at + Duration::seconds(1);
    bad.at = at;
    write_v1(config, sink, objects, &bad.miner, JOB, at, &[]).await?;

    // v2: metadata naming another miner, a listings file without metadata, unreadable metadata
    let reports = bad.reports(8);
    let epoch_start = config.start.naive_utc();
    let impostor = hotkey(&mut bad.rng);
    write_v2_epoch(
        config,
        sink,
        objects,
        &bad.miner,
        epoch_start,
        epoch_start + Duration::hours(3),
        &reports,
        &impostor,
    )
    .await?;
    let alone = v2_dir(&bad.miner.hotkey, "2025-09-17T04-00-00");
    let body = parquet_files::write([parquet_files::v2_batch(&reports)], BATCH_ROWS)?;
    bad.put(
        sink,
        objects,
        format!("{alone}/listings.parquet"),
        "v2",
        8,
        body.clone(),
        rejected("metadata_missing"),
    )
    .await?;
    let garbled = v2_dir(&bad.miner.hotkey, "2025-09-17T08-00-00");
    bad.put(
        sink,
        objects,
        format!("{garbled}/listings.parquet"),
        "v2",
        8,
        body,
        rejected("metadata_invalid"),
    )
    .await?;
    bad.put(
        sink,
        objects,
        format!("{garbled}/metadata.json"),
        "metadata",
        0,
        b"{\"epoch_id\": ".to_vec(),
        Expected::Companion,
    )
    .await?;
    write_epoch_json(&mut bad, config, sink, objects).await
}

/// Epoch JSON documents that cannot be attested: keys naming two miners or a bad zipcode, a
/// document naming another miner, one cut short, one whose listings are no array.
async fn write_epoch_json(
    bad: &mut BadInputs,
    config: &GeneratorConfig,
    sink: &mut Sink,
    objects: &mut Vec<ManifestObject>,
) -> anyhow::Result<()> {
    let epoch_start = config.start.naive_utc() + Duration::hours(12);
    let epoch_id = epoch_start.format("%Y-%m-%dT%H-%M-%S").to_string();
    let miner = bad.miner.hotkey.clone();
    let impostor = hotkey(&mut bad.rng);
    let reports = bad.reports(6);
    let zipcode = reports[0].zip.clone();
    let listings: Vec<serde_json::Value> = reports.iter().map(json_files::real_listing).collect();
    let submitted = epoch_start + Duration::hours(3);
    let document = |named: &str| {
        json_files::bytes(&json_files::document(
            &epoch_id,
            &zipcode,
            named,
            submitted,
            listings.clone(),
        ))
    };
    let mut next_name = || {
        bad.at += Duration::seconds(1);
        crate::epoch_json_file_name(bad.at)
    };
    // (key, body, listings in it, outcome)
    let mut cases: Vec<(String, Vec<u8>, usize, Expected)> = Vec::new();
    let rows = listings.len();
    let doubled_elsewhere = format!(
        "data/hotkey={miner}/data/hotkey={impostor}/epoch={epoch_id}/zipcode={zipcode}/{}",
        next_name()
    );
    cases.push((
        doubled_elsewhere,
        document(&impostor)?,
        rows,
        rejected("hotkey_mismatch"),
    ));
    let key = json_files::key(&miner, &epoch_id, &zipcode, &next_name(), true);
    cases.push((
        key,
        document(&impostor)?,
        rows,
        rejected("metadata_miner_mismatch"),
    ));
    let key = json_files::key(&miner, &epoch_id, "1234", &next_name(), false);
    cases.push((key, document(&miner)?, rows, rejected("unparseable_path")));
    let whole = document(&miner)?;
    let key = json_files::key(&miner, &epoch_id, &zipcode, &next_name(), true);
    cases.push((
        key,
        whole[..whole.len() / 2].to_vec(),
        0,
        dead("corrupt_file"),
    ));
    let not_a_list = serde_json::to_vec_pretty(&serde_json::json!({
        "epoch_id": epoch_id,
        "zipcode": zipcode,
        "miner_hotkey": miner,
        "listings": {"count": 6},
    }))?;
    let key = json_files::key(&miner, &epoch_id, &zipcode, &next_name(), false);
    cases.push((key, not_a_list, 0, dead("wrong_schema")));
    for (key, body, rows, expected) in cases {
        bad.put(sink, objects, key, "epoch_json", rows, body, expected)
            .await?;
    }
    Ok(())
}

/// Writes one huge v1 file, built and encoded a batch at a time.
pub(crate) async fn write_huge(
    config: &GeneratorConfig,
    sink: &mut Sink,
    objects: &mut Vec<ManifestObject>,
) -> anyhow::Result<()> {
    let mut rng = rng_for(config.seed, "huge", 0);
    let miner = Miner {
        hotkey: hotkey(&mut rng),
        behaviour: Behaviour::Honest,
        shape: Shape::V1,
        offset_secs: 0,
    };
    let at = config.start.naive_utc() + Duration::minutes(13);
    let rows = config.huge_file_rows;
    let batches = (0..rows).step_by(BATCH_ROWS).map(|first| {
        let count = BATCH_ROWS.min(rows - first);
        let reports: Vec<Report> = (first..first + count)
            .map(|row| {
                fabricate(
                    &mut rng,
                    50_000_000 + row as u64,
                    at - Duration::minutes(40),
                )
            })
            .collect();
        parquet_files::v1_batch(&reports)
    });
    let body = parquet_files::write(batches, config.row_group_rows)?;
    let key = v1_key(&miner.hotkey, "zillow_bulk", &crate::v1_file_name(at, rows));
    let entry = Entry {
        key,
        format: "v1",
        miner: &miner,
        rows,
        expected: Expected::Parsed { rows: rows as u64 },
    };
    put_recorded(sink, objects, entry, body).await
}
