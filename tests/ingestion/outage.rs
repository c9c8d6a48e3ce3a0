//! An outage of the store is waited out, never turned into dead letters: the parser's reads are
//! refused as S3 refuses them when access is denied or credentials expire, for a while, and
//! every upload is parsed once they are allowed again.

use resi_events::EventType;
use resi_tests::faults::FaultyS3;
use resi_tests::harness::{Harness, PIPELINE_DEADLINE, count, v1_file, v1_key};

#[tokio::test]
async fn refused_reads_are_retried_until_they_pass_and_nothing_is_dead_lettered()
-> anyhow::Result<()> {
    // Arrange: three uploads announced, and a parser whose reads are refused
    let stack = Harness::new().await?;
    for (index, miner) in ["5Outage1", "5Outage2", "5Outage3"].iter().enumerate() {
        let first = 100_000 * (index as u64 + 1);
        stack
            .put(
                &v1_key(miner, "j", "20250917_150000", 5),
                v1_file(5, first)?,
            )
            .await?;
    }
    stack.observe(3).await?;
    let proxy = FaultyS3::start(stack.s3.endpoint.as_deref().unwrap_or_default()).await?;
    proxy.refuse(true);
    let mut config = stack.parser_config(0, 1);
    config.s3.endpoint = Some(proxy.endpoint.clone());

    // Act: the parser runs through many refusals, then the store lets it read again
    let parser = stack.spawn_parser(&config).await?;
    resi_tests::eventually(PIPELINE_DEADLINE, "many refused reads", || async {
        Ok((proxy.refused() >= 12).then_some(()))
    })
    .await?;
    let during = stack.read_all(&stack.topics.uploads()).await?;
    let dead_during = stack.read_all(&stack.topics.dead_letters()).await?;
    proxy.refuse(false);
    let after = stack
        .wait_for(&stack.topics.uploads(), "every upload parsed", |records| {
            count(records, EventType::UploadParsed) == 3
        })
        .await?;
    parser.stop().await?;

    // Assert: nothing moved on while the store refused, nothing was lost or dead-lettered
    assert_eq!(count(&during, EventType::UploadParsed), 0);
    assert!(dead_during.is_empty(), "{dead_during:?}");
    assert!(
        stack
            .read_all(&stack.topics.dead_letters())
            .await?
            .is_empty()
    );
    assert_eq!(count(&after, EventType::UploadParsed), 3);
    assert_eq!(
        stack.read_all(&stack.topics.attestations()).await?.len(),
        15,
        "every row attested once the store answered"
    );
    Ok(())
}
