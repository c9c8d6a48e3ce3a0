//! `resi-bench open-data`: `resi export snapshot` of N listings (1 M by default, the API
//! benchmark's database) into S3 (moto), beside Postgres's own `COPY (the export's query) TO
//! STDOUT` of the same rows in the same run: the read no export can beat.

use std::time::Instant;

use anyhow::Context as _;
use futures::StreamExt as _;

pub(crate) async fn bench_open_data(listings: u64) -> anyhow::Result<()> {
    let mut postgres = crate::api::database_config("resi_bench_api");
    postgres.statement_timeout_ms = 0;
    crate::api::load(&postgres, listings).await?;
    let pool = resi_runtime::postgres::pool(&postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    // earlier runs' records, so that each run writes the same
    client
        .batch_execute("TRUNCATE open_data_exports")
        .await
        .context("failed to clear earlier runs")?;

    // the peer: the same rows, in the same order, as text straight out of Postgres (the
    // validation columns as the export has them without a scores version)
    let started = Instant::now();
    let stream = client
        .copy_out(
            "COPY (SELECT c.*, l.first_seen_at, false, NULL::float8, NULL::timestamptz
                   FROM consensus_v1.consensus_listings c
                   LEFT JOIN listing_v1.listings l USING (listing_id)
                   ORDER BY c.state, c.zip_code COLLATE \"C\", c.listing_id COLLATE \"C\")
             TO STDOUT",
        )
        .await?;
    futures::pin_mut!(stream);
    let mut bytes = 0_usize;
    while let Some(chunk) = stream.next().await {
        bytes += chunk?.len();
    }
    let copy_seconds = started.elapsed().as_secs_f64();
    println!(
        "open-data: COPY TO STDOUT {copy_seconds:.2} s ({:.1} MiB of text)",
        bytes as f64 / 1_048_576.0
    );

    let (s3, s3_client) = resi_tests::fresh_bucket().await?;
    let config = resi_ctl::open_data::OpenDataConfig::default();
    let date = chrono::Utc::now().date_naive();
    // listings only: no day of attestations is due before 2000
    let through = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).context("a date")?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let cpu = crate::cpu::Sample::now()?;
    let started = Instant::now();
    let manifest =
        resi_ctl::open_data::snapshot(&pool, (&s3_client, &s3.bucket), &config, date, through)
            .await?;
    let seconds = started.elapsed().as_secs_f64();
    let busy = crate::cpu::Sample::now()?.busy_since(&cpu);
    let size: u64 = manifest.listings.files.iter().map(|file| file.bytes).sum();
    anyhow::ensure!(
        manifest.listings.rows == listings,
        "exported {} rows",
        manifest.listings.rows
    );
    println!(
        "open-data: export {} listings in {seconds:.2} s ({:.0} rows/s), {} files, {:.1} MiB of Parquet, \
         {busy:.1} busy core-seconds, peak RSS {} MiB; export / COPY = {:.2}",
        manifest.listings.rows,
        manifest.listings.rows as f64 / seconds,
        manifest.listings.files.len(),
        size as f64 / 1_048_576.0,
        crate::peak_rss_kib()? / 1024,
        seconds / copy_seconds
    );
    Ok(())
}
