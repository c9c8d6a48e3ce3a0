//! `resi export snapshot`: the live consensus and the attestation history as Parquet in a real
//! S3 API, read back with DuckDB and compared with what the API serves of the same build.

use std::collections::BTreeMap;

use crate::helpers::{Built, spawn_api};

#[tokio::test]
async fn a_snapshot_read_with_duckdb_equals_the_apis_view_of_the_build() -> anyhow::Result<()> {
    // Arrange: v1 live over the world, a fresh bucket
    let built = Built::new(40).await?;
    let (s3_config, s3) = resi_tests::fresh_bucket().await?;
    let mut config = resi_ctl::open_data::OpenDataConfig {
        part_rows: 25,
        ..resi_ctl::open_data::OpenDataConfig::default()
    };
    config.row_group_rows = 10;
    config.fetch_rows = 7;
    let today = chrono::Utc::now().date_naive();
    // validators confirmed one miner in an epoch that three of its reports (of three listings)
    // belong to
    let client = built.stack.pool.get().await?;
    let validated = client
        .execute(
            "UPDATE listing_v1.miner_attestations SET epoch_id = '2026-01-01T00-00-00'
              WHERE attestation_id IN (SELECT DISTINCT ON (listing_id) attestation_id
                                         FROM listing_v1.miner_attestations
                                        WHERE miner_hotkey = '5Honest1'
                                        ORDER BY listing_id, attestation_id LIMIT 3)",
            &[],
        )
        .await?;
    assert_eq!(validated, 3);
    client
        .execute(
            "INSERT INTO scores_v1.miner_validations
               (epoch_id, miner_hotkey, verdict, validation_score, stake_confirming, stake_fake,
                stake_judging, validators, validated_at)
             VALUES ('2026-01-01T00-00-00', '5Honest1', 'confirmed', 0.875, 3, 0, 3, 2, now())",
            &[],
        )
        .await?;

    let export = async || {
        resi_ctl::open_data::snapshot(
            &built.stack.pool,
            (&s3, &s3_config.bucket),
            &config,
            today,
            today,
        )
        .await
    };

    // Act
    let manifest = export().await?;
    let scratch = tempfile::tempdir()?;
    let mut files: Vec<&resi_ctl::open_data::FileEntry> = manifest.listings.files.iter().collect();
    files.extend(
        manifest
            .attestations
            .iter()
            .flat_map(|day| &day.dataset.files),
    );
    for file in &files {
        let object = s3
            .get_object()
            .bucket(&s3_config.bucket)
            .key(&file.key)
            .send()
            .await?;
        let bytes = object.body.collect().await?.into_bytes();
        // Assert: every file is what the manifest says
        assert_eq!(
            blake3::hash(&bytes).to_hex().to_string(),
            file.blake3,
            "{}",
            file.key
        );
        assert_eq!(bytes.len() as u64, file.bytes);
        let path = scratch
            .path()
            .join(file.key.strip_prefix(&config.prefix).unwrap_or(&file.key));
        std::fs::create_dir_all(path.parent().expect("a key has a directory"))?;
        std::fs::write(path, &bytes)?;
    }
    let read = resi_tests::run_python(
        "open_data.py",
        &[&scratch.path().display().to_string(), &today.to_string()],
    )?;

    // Assert: the snapshot is the build: its version and the offsets it had folded
    assert_eq!(manifest.consensus.version, "v1");
    assert_eq!(manifest.consensus.algorithm.as_deref(), Some("v1"));
    let checkpoints: i64 = client
        .query_one(
            "SELECT coalesce(sum(next_offset), 0)::bigint FROM projection_checkpoints
              WHERE projection = 'consensus' AND version = 'v1'",
            &[],
        )
        .await?
        .get(0);
    let offsets: i64 = manifest
        .consensus
        .offsets
        .values()
        .flat_map(|p| p.values())
        .sum();
    assert!(offsets > 0 && offsets == checkpoints);
    // parts split at part_rows, one state per file
    assert!(manifest.listings.files.len() >= 2);
    assert!(
        manifest
            .listings
            .files
            .iter()
            .all(|file| file.rows <= 25 && file.key.contains("/state="))
    );

    // Assert: DuckDB reads exactly the listings the API serves, value for value
    let api = spawn_api(&built.api_config()).await?;
    let stats = api.ok("/api/stats").await?;
    let snapshot = read["listings"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        Some(snapshot.len() as u64),
        stats["total_listings"].as_u64(),
        "{stats}"
    );
    assert_eq!(manifest.listings.rows, snapshot.len() as u64);
    let zips: std::collections::BTreeSet<String> = snapshot
        .iter()
        .filter_map(|row| row["zip_code"].as_str().map(str::to_owned))
        .collect();
    let mut served: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for zip in &zips {
        let page = api.ok(&format!("/api/listings/{zip}?limit=500")).await?;
        for listing in page["listings"].as_array().into_iter().flatten() {
            let zpid = listing["zpid"].as_str().unwrap_or_default();
            let detail = api.ok(&format!("/api/listing/{zpid}")).await?;
            served.insert(
                listing["zpid"].as_str().unwrap_or_default().to_owned(),
                serde_json::json!({
                    "zpid": listing["zpid"],
                    "price": listing["price"],
                    "home_status": listing["home_status"],
                    "state": listing["state"],
                    "zip_code": listing["zip_code"],
                    "unique_miners": listing["unique_miners"],
                    "is_validated": detail["is_validated"],
                    "validation_score": detail["validation_score"],
                }),
            );
        }
    }
    assert_eq!(snapshot, served.into_values().collect::<Vec<_>>());
    // the validation columns: the three listings, and the three reports in the history
    assert_eq!(
        snapshot
            .iter()
            .filter(|row| row["is_validated"] == true && row["validation_score"] == 0.875)
            .count(),
        3
    );
    assert_eq!(read["validated_attestations"], 3);
    assert_eq!(manifest.validation_version.as_deref(), Some("v1"));

    // Assert: every attestation of the build, by the day its upload was seen
    let attestations: i64 = client
        .query_one("SELECT count(*) FROM listing_v1.miner_attestations", &[])
        .await?
        .get(0);
    assert_eq!(read["attestations"].as_i64(), Some(attestations));
    assert_eq!(
        manifest
            .attestations
            .iter()
            .map(|day| day.dataset.rows)
            .sum::<u64>(),
        u64::try_from(attestations)?
    );

    // Act: the next run, the same day
    let again = export().await?;
    // Assert: no day of attestations is written twice; the listings are the same files
    assert!(again.attestations.is_empty());
    assert_eq!(again.listings, manifest.listings);

    // Assert: the API lists the snapshot and links its files
    let listed = api.ok("/api/open-data").await?;
    assert_eq!(listed["total"], 1);
    let first = &listed["snapshots"][0];
    assert_eq!(first["date"], today.to_string());
    assert_eq!(first["consensus_version"], "v1");
    assert_eq!(
        first["files"].as_array().map(Vec::len),
        Some(manifest.listings.files.len())
    );
    assert!(
        first["manifest_url"]
            .as_str()
            .is_some_and(|url| url.ends_with(&format!("snapshots/{today}/manifest.json")))
    );
    let docs = api.ok("/openapi.json").await?;
    assert!(docs["paths"]["/api/open-data"].is_object());

    // Act: an API configured to presign its links
    let mut presigning = built.api_config();
    presigning.s3 = s3_config.clone();
    presigning.api.open_data_presign_secs = 900;
    let presigned_api = spawn_api(&presigning).await?;
    let listed = presigned_api.ok("/api/open-data").await?;
    // Assert: plain HTTP GETs, valid 15 minutes, that fetch the files the manifest describes
    let snapshot = &listed["snapshots"][0];
    let manifest_url = snapshot["manifest_url"].as_str().unwrap_or_default();
    assert!(
        manifest_url.starts_with("http") && manifest_url.contains("X-Amz-Expires=900"),
        "{manifest_url}"
    );
    let http = reqwest::Client::new();
    let fetched: resi_ctl::open_data::Manifest = http
        .get(manifest_url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(fetched.listings, manifest.listings);
    for file in snapshot["files"].as_array().into_iter().flatten() {
        let bytes = http
            .get(file["url"].as_str().unwrap_or_default())
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        assert_eq!(
            serde_json::Value::from(blake3::hash(&bytes).to_hex().to_string()),
            file["blake3"]
        );
    }
    presigned_api.stop().await?;

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}
