//! `resi-bench lab`: `resi lab run` with v1 over an export of millions of attestations, beside
//! DuckDB deciding v1 from the same Parquet in the same run, with a cross-check of every
//! decision; then `resi lab score` of the result.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use resi_events::EventPayload;

/// Writes `events` attestations (the replay benchmark's shape: `listings` listings reported by
/// `miners` miners in rounds a day apart, one miner in ten careless about prices) as a lab
/// export under `root`, one file per million rows.
fn write_export(root: &Path, events: usize, listings: usize, miners: usize) -> anyhow::Result<()> {
    let reports = events.div_ceil(listings).max(1);
    let directory = root.join("date=bench");
    std::fs::create_dir_all(&directory)?;
    for (part, start) in (0..events).step_by(1_000_000).enumerate() {
        let end = (start + 1_000_000).min(events);
        let file = std::fs::File::create(directory.join(format!("part-{part}.parquet")))?;
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(file, resi_lab::attestations::schema(), None)?;
        let mut rows = Vec::with_capacity(65_536);
        for index in start..end {
            let event = crate::replay::attestation(index, listings, miners, reports);
            if let EventPayload::ListingAttested(attested) = &event.payload {
                rows.push(resi_lab::attestations::Row::of(&event.id, attested));
            }
            if rows.len() == 65_536 {
                writer.write(&resi_lab::attestations::batch(&rows)?)?;
                rows.clear();
            }
        }
        writer.write(&resi_lab::attestations::batch(&rows)?)?;
        writer.close()?;
    }
    Ok(())
}

pub fn bench_lab(events: usize, listings: usize, miners: usize) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let export = scratch.path().join("export");
    let started = Instant::now();
    write_export(&export, events, listings, miners)?;
    println!(
        "lab: {events} attestations of {listings} listings by {miners} miners written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let ours = scratch.path().join("v1.parquet");
    let v1 = resi_projections::consensus::standard("v1")?;
    let cpu = crate::cpu::Sample::now()?;
    let started = Instant::now();
    let ran = resi_lab::run(v1.as_ref(), &export, &ours)?;
    let run_seconds = started.elapsed().as_secs_f64();
    let run_cpu = crate::cpu::Sample::now()?.busy_since(&cpu);
    println!(
        "lab: run v1 {run_seconds:.2} s (read {:.2} s, decide {:.2} s: {:.0} listings/s), {:.1} busy core-seconds, peak RSS {} MiB",
        ran.read_seconds,
        ran.decide_seconds,
        ran.listings_per_second,
        run_cpu,
        crate::peak_rss_kib()? / 1024
    );

    let theirs = scratch.path().join("duckdb.parquet");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("duckdb/lab_v1.py");
    let cpu = crate::cpu::Sample::now()?;
    let started = Instant::now();
    let output = std::process::Command::new(crate::consensus::python())
        .arg(&script)
        .arg("--input")
        .arg(&export)
        .arg("--output")
        .arg(&theirs)
        .output()
        .context("failed to run DuckDB's script (scripts/stack up installs DuckDB)")?;
    anyhow::ensure!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let duckdb_seconds = started.elapsed().as_secs_f64();
    let duckdb_cpu = crate::cpu::Sample::now()?.busy_since(&cpu);
    println!("lab: DuckDB v1 {duckdb_seconds:.2} s (process), {duckdb_cpu:.1} busy core-seconds");

    // every decision equal (values exactly, confidences and scores to rounding)
    let (mine, other) = (
        resi_lab::decisions::read(&ours)?,
        resi_lab::decisions::read(&theirs)?,
    );
    anyhow::ensure!(
        mine.len() == other.len(),
        "{} decisions here, {} by DuckDB",
        mine.len(),
        other.len()
    );
    let mut differing = 0;
    for (key, decision) in &mine {
        let same = other.get(key).is_some_and(|theirs| {
            theirs.value == decision.value
                && theirs.supporters == decision.supporters
                && theirs.reporting == decision.reporting
                && (theirs.confidence - decision.confidence).abs() < 1e-9
                && (theirs.listing_score - decision.listing_score).abs() < 1e-9
        });
        differing += usize::from(!same);
    }
    anyhow::ensure!(differing == 0, "{differing} decisions differ from DuckDB's");
    println!(
        "lab: every one of {} decisions equals DuckDB's; lab run / DuckDB = {:.2} (wall), {:.2} (core-seconds)",
        mine.len(),
        run_seconds / duckdb_seconds,
        run_cpu / duckdb_cpu
    );

    // scoring the decisions against a truth of every listing (its price the decided one, so
    // the score itself is no finding here: only its time is)
    let truth = scratch.path().join("truth.jsonl");
    let mut lines = String::new();
    for decision in mine.values().filter(|decision| decision.field == "price") {
        let truth = serde_json::json!({
            "listing_id": decision.listing_id,
            "price_usd": decision.value.parse::<i64>().unwrap_or_default(),
            "bedrooms": 0, "bathrooms_tenths": 0, "living_area_sqft": 0,
            "home_status": "FOR_SALE", "zip_code": "", "latitude_e7": 0, "longitude_e7": 0,
            "changed": false,
        });
        lines.push_str(&format!("{truth}\n"));
    }
    std::fs::write(&truth, lines)?;
    let started = Instant::now();
    let scored = resi_lab::score(&ours, &truth, None)?;
    println!(
        "lab: score of {} decided fields against {} true listings in {:.2} s",
        scored.overall.decided,
        scored.truth_listings,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
