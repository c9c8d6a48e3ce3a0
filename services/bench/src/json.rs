//! `resi-bench json`: the epoch JSON reader over one large document, beside the cost of merely
//! tokenising the same bytes with serde_json (every byte read, nothing kept), in the same run;
//! and the reader's peak resident memory, in a child process of its own.

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use resi_datagen::json_files;
use resi_events::{Timestamp, UploadDiscovery, UploadFormat, UploadObserved};
use resi_parser::epoch_json::parse_epoch_json;
use serde::de::IgnoredAny;

use crate::{UPLOADED_AT, admit_all, parse_options, peak_rss_kib, report};

const EPOCH_ID: &str = "2025-09-17T12-00-00";
const ZIPCODE: &str = "77000";

/// Writes a document of at least `bytes` bytes, one listing at a time; its listing count.
fn write_document(path: &Path, bytes: u64) -> anyhow::Result<u64> {
    let file = std::fs::File::create(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    write!(
        out,
        "{{\n  \"epoch_id\": \"{EPOCH_ID}\",\n  \"zipcode\": \"{ZIPCODE}\",\n  \"miner_hotkey\": \"5Bench\",\n  \"submission_timestamp\": \"2025-09-17T15:00:00+00:00\",\n  \"listings\": ["
    )?;
    let mut written = 0_u64;
    let mut listings = 0_u64;
    while written < bytes {
        let mut value = json_files::real_listing(&report(10_000_000 + listings));
        // every listing of the document is in its zipcode
        value["zipcode"] = ZIPCODE.into();
        let text = serde_json::to_string_pretty(&value)?.replace('\n', "\n    ");
        if listings > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"\n    ")?;
        out.write_all(text.as_bytes())?;
        written += text.len() as u64 + 6;
        listings += 1;
    }
    write!(out, "\n  ],\n  \"listing_count\": {listings}\n}}\n")?;
    out.flush()?;
    Ok(listings)
}

fn upload(size: u64) -> UploadObserved {
    UploadObserved {
        bucket: "bench".into(),
        key: format!(
            "data/hotkey=5Bench/epoch={EPOCH_ID}/zipcode={ZIPCODE}/data_20250917_110000.json"
        ),
        etag: "bench".into(),
        size,
        last_modified: UPLOADED_AT,
        miner_hotkey: "5Bench".into(),
        job_id: EPOCH_ID.into(),
        file_timestamp: Timestamp::from_micros(1_758_106_800_000_000),
        declared_record_count: None,
        format: UploadFormat::EpochJson,
        epoch: None,
        epoch_id: Some(EPOCH_ID.into()),
        zipcode: Some(ZIPCODE.into()),
        discovery: UploadDiscovery::Listing,
    }
}

/// Parses the document in this process: (events, seconds, peak RSS KiB before, after).
fn parse_here(path: &Path) -> anyhow::Result<(u64, f64, u64, u64)> {
    let before = peak_rss_kib()?;
    let size = std::fs::metadata(path)?.len();
    let started = Instant::now();
    let mut events = 0_u64;
    parse_epoch_json(
        std::fs::File::open(path)?,
        &upload(size),
        admit_all(),
        parse_options(),
        |batch| {
            events += batch.len() as u64;
            true
        },
    )
    .map_err(|failure| anyhow::anyhow!("parse failed: {failure:?}"))?;
    Ok((
        events,
        started.elapsed().as_secs_f64(),
        before,
        peak_rss_kib()?,
    ))
}

/// Tokenises the document with serde_json and keeps nothing: the floor of reading it.
fn scan(path: &Path) -> anyhow::Result<f64> {
    let started = Instant::now();
    let reader = std::io::BufReader::with_capacity(64 * 1024, std::fs::File::open(path)?);
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    serde::Deserialize::deserialize(&mut deserializer).map(|_: IgnoredAny| ())?;
    Ok(started.elapsed().as_secs_f64())
}

/// The benchmark over documents of each size in `mebibytes`; with `child`, only parses that
/// file and prints its figures.
pub fn bench_json(mebibytes: &[u64], runs: usize, child: Option<PathBuf>) -> anyhow::Result<()> {
    if let Some(path) = child {
        let (events, seconds, before, peak) = parse_here(&path)?;
        println!("{events} {seconds} {before} {peak}");
        return Ok(());
    }
    let directory = tempfile::tempdir()?;
    println!(
        "json: the epoch JSON reader (a child process per run) beside tokenising the same bytes"
    );
    for &mib in mebibytes {
        let path = directory.path().join(format!("{mib}.json"));
        let listings = write_document(&path, mib << 20)?;
        let size = std::fs::metadata(&path)?.len();
        // read once, so every measurement starts from the page cache
        std::io::copy(&mut std::fs::File::open(&path)?, &mut std::io::sink())?;
        let mut best_parse = f64::MAX;
        let mut best_scan = f64::MAX;
        let mut peak_rss = 0.0_f64;
        for _ in 0..runs.max(1) {
            let (events, seconds, peak) = parse_in_child(&path)?;
            anyhow::ensure!(
                events == listings,
                "{events} events from {listings} listings"
            );
            best_parse = best_parse.min(seconds);
            peak_rss = peak_rss.max(peak);
            best_scan = best_scan.min(scan(&path).context("the serde_json scan failed")?);
        }
        println!(
            "  {:>5.0} MiB, {listings:>8} listings: reader {best_parse:.2} s = {:.0} rows/s ({:.0} MiB/s), peak RSS {peak_rss:.1} MiB; tokenising alone {best_scan:.2} s (the reader takes {:.2} × its time)",
            size as f64 / 1_048_576.0,
            listings as f64 / best_parse,
            size as f64 / 1_048_576.0 / best_parse,
            best_parse / best_scan,
        );
        std::fs::remove_file(&path)?;
    }
    Ok(())
}

/// Parses `path` in a child process: (events, seconds, peak RSS MiB).
fn parse_in_child(path: &Path) -> anyhow::Result<(u64, f64, f64)> {
    let fields = crate::child_figures("json", path)?;
    let [events, seconds, _before, peak] = fields[..] else {
        anyhow::bail!("unexpected child output {fields:?}");
    };
    // counts and kibibytes printed by the child: exact in f64
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((events as u64, seconds, peak / 1024.0))
}
