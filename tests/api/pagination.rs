//! Keyset pagination stays stable while listings are added: walking the cursor yields every
//! listing that existed once, in order, never twice, even when new ones land between pages.

use std::collections::BTreeSet;

use chrono::Utc;
use resi_tests::events::report;

use crate::helpers::{Built, HONEST, ZIPS, canonical, home, spawn_api};

#[tokio::test]
async fn the_cursor_walk_is_stable_while_listings_are_added() -> anyhow::Result<()> {
    // Arrange
    let built = Built::new(60).await?;
    let api = spawn_api(&built.api_config()).await?;
    let zip = ZIPS[1];
    let before: Vec<String> = built
        .world
        .homes
        .iter()
        .filter(|home| home.zip == zip)
        .map(|home| home.id.clone())
        .collect();

    // Act: page by 4; after the first page, add listings whose ids sort between the existing
    // ones ("300001a" lies between "300001" and "300004"), on both sides of the cursor
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/listings/{zip}?limit=4&cursor={cursor}"),
            None => format!("/api/listings/{zip}?limit=4"),
        };
        let page = api.ok(&path).await?;
        seen.extend(
            page["listings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|listing| listing["zpid"].as_str().map(str::to_owned)),
        );
        pages += 1;
        if pages == 1 {
            let now = Utc::now().timestamp_micros();
            let added: Vec<_> = before
                .iter()
                .enumerate()
                .map(|(row, id)| {
                    let mut extra = home(id.parse::<u64>().unwrap_or_default() - 300_000);
                    extra.id = format!("{id}a");
                    report(
                        HONEST[0],
                        ("late", row as u64),
                        now,
                        0.9,
                        canonical(&extra, extra.price),
                    )
                })
                .collect();
            built
                .stack
                .publish(&built.stack.topics().attestations(), &added)
                .await?;
            built.caught_up().await?;
        }
        match page["pagination"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        anyhow::ensure!(pages < 100, "the walk does not end");
    }

    // Assert: ascending, no repeats, every original listing, and the added ones only past the
    // first page's cursor
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no listing twice: {seen:?}");
    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "ascending: {seen:?}"
    );
    for id in &before {
        assert!(seen.contains(id), "{id} was skipped");
    }
    let first_page_end = &seen[3];
    let added: Vec<&String> = seen.iter().filter(|id| id.ends_with('a')).collect();
    assert!(!added.is_empty());
    assert!(added.iter().all(|id| *id > first_page_end));
    let total = api.ok(&format!("/api/listings/{zip}?limit=1")).await?;
    assert_eq!(
        total["pagination"]["total"].as_u64(),
        Some(2 * before.len() as u64)
    );

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}
