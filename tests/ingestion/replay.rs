//! Determinism end to end: a generated dataset ingested live (bridge, parser, projector with
//! every projection, admission reading the live trust), then every projection replayed from
//! offset 0 into fresh tables; each table's ordered dump has the same checksum.

use resi_datagen::{Expected, GeneratorConfig, Sink};
use resi_events::EventPayload;
use resi_projector::engine::ProjectionKind;

use resi_tests::harness::{Harness, payloads, upload_outcomes};

/// Checksum of every table of `schema`: (table, rows, md5 of its rows as text, in order).
async fn checksums(
    client: &deadpool_postgres::Client,
    schema: &str,
) -> anyhow::Result<Vec<(String, i64, String)>> {
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = $1 ORDER BY table_name",
            &[&schema],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    anyhow::ensure!(!tables.is_empty(), "{schema} has no tables");
    let mut sums = Vec::new();
    for table in tables {
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '')
                     FROM {schema}.{table} AS t"
                ),
                &[],
            )
            .await?;
        sums.push((table, row.get(0), row.get(1)));
    }
    Ok(sums)
}

#[tokio::test]
async fn a_live_ingest_and_a_replay_of_every_projection_give_equal_tables() -> anyhow::Result<()> {
    // Arrange: a dataset with disagreeing, careless and malicious miners in the bucket
    let stack = Harness::new().await?;
    let config = GeneratorConfig {
        seed: 29,
        honest_miners: 5,
        v2_miners: 1,
        listings: 150,
        areas: 4,
        zips_per_miner: 2,
        rounds: 3,
        flood_rows: 1_200,
        ..GeneratorConfig::default()
    };
    let manifest = resi_datagen::generate(
        &config,
        &mut Sink::s3(stack.s3_client.clone(), stack.s3.bucket.clone()),
    )
    .await?;
    let expected = manifest
        .objects
        .iter()
        .filter(|object| object.expected != Expected::Companion)
        .count();

    // Act: ingest live, every projection folding as the uploads arrive
    let live: [(ProjectionKind, &str); 3] = [
        (ProjectionKind::Listing, "v1"),
        (ProjectionKind::Trust, "v1"),
        (ProjectionKind::Consensus, "v1"),
    ];
    let projector = stack.spawn_projector(&live).await?;
    let bridge = stack.spawn_bridge(&stack.bridge_config("s3", None)).await?;
    let parser = stack.spawn_parser(&stack.parser_config(0, 1)).await?;
    let uploads = stack
        .wait_for(
            &stack.topics.uploads(),
            "every upload's outcome",
            |records| upload_outcomes(records) >= expected,
        )
        .await?;
    parser.stop().await?;
    bridge.stop().await?;
    for (projection, version) in live {
        stack.projected(projection, version).await?;
    }
    projector.stop().await?;
    let rate_limited: u64 = payloads(&uploads)
        .filter_map(|payload| match payload {
            EventPayload::UploadParsed(parsed) => Some(parsed.admission.rate_limited),
            _ => None,
        })
        .sum();
    assert!(
        rate_limited > 0,
        "admission decided by the live trust is part of the log"
    );

    // Act: replay every projection into fresh tables
    let replayed: [(ProjectionKind, &str); 3] = [
        (ProjectionKind::Listing, "v2"),
        (ProjectionKind::Trust, "v2"),
        (ProjectionKind::Consensus, "v1_replay"),
    ];
    let replay = stack.spawn_projector(&replayed).await?;
    for (projection, version) in replayed {
        stack.projected(projection, version).await?;
    }
    replay.stop().await?;

    // Assert: equal checksums over every ordered table
    let pool = resi_runtime::postgres::pool(&stack.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    for ((kind, live), (_, replay)) in live.iter().zip(replayed) {
        let projection = kind.as_str();
        let original = checksums(&client, &format!("{projection}_{live}")).await?;
        assert!(
            original.iter().any(|(_, rows, _)| *rows > 0),
            "{projection} {live} holds rows"
        );
        assert_eq!(
            checksums(&client, &format!("{projection}_{replay}")).await?,
            original,
            "{projection}: live {live} and replay {replay}"
        );
    }
    Ok(())
}
