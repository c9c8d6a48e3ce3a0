//! `GET /tiles/{z}/{x}/{y}.mvt`, decoded by an independent Mapbox Vector Tile decoder.

use reqwest::StatusCode;

use crate::helpers::{Built, home, spawn_api};

/// The XYZ tile holding a point at `zoom`.
fn tile_of(zoom: u32, longitude: f64, latitude: f64) -> (u32, u32) {
    let side = f64::from(1_u32 << zoom);
    let latitude = latitude.to_radians();
    let column = ((longitude + 180.0) / 360.0 * side).floor();
    let row = ((1.0 - (latitude.tan() + 1.0 / latitude.cos()).ln() / std::f64::consts::PI) / 2.0
        * side)
        .floor();
    (column as u32, row as u32)
}

fn decode(bytes: &[u8]) -> anyhow::Result<serde_json::Value> {
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), bytes)?;
    resi_tests::run_python("decode_tile.py", &[&file.path().display().to_string()])
}

#[tokio::test]
async fn tiles_hold_the_consensus_as_points_up_close_and_clusters_from_afar() -> anyhow::Result<()>
{
    // Arrange
    let built = Built::new(40).await?;
    let api = spawn_api(&built.api_config()).await?;
    let target = home(7);
    let (longitude, latitude) = (
        f64::from(target.longitude_e7) / 1e7,
        f64::from(target.latitude_e7) / 1e7,
    );

    // Act: the street-level tile holding one home
    let (x, y) = tile_of(16, longitude, latitude);
    let (status, headers, body) = api
        .bytes_with(&format!("/tiles/16/{x}/{y}.mvt"), &[])
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-type"].to_str()?,
        "application/vnd.mapbox-vector-tile"
    );
    let tile = decode(&body)?;

    // Assert: the home is a point with its consensus values, where the tile scheme puts it
    let detail = api.ok(&format!("/api/listing/{}", target.id)).await?;
    let features = tile["listings"]["features"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let point = features
        .iter()
        .find(|feature| feature["properties"]["zpid"] == target.id.as_str())
        .unwrap_or_else(|| panic!("home {} in {tile}", target.id));
    assert_eq!(point["properties"]["price"], detail["consensus"]["price"]);
    assert_eq!(
        point["properties"]["status"],
        detail["consensus"]["home_status"]
    );
    assert_eq!(point["id"].as_u64(), target.id.parse().ok());
    let extent = tile["listings"]["extent"].as_f64().unwrap_or_default();
    let side = f64::from(1_u32 << 16);
    let expected_x = ((longitude + 180.0) / 360.0 * side - f64::from(x)) * extent;
    let placed_x = point["coordinates"][0].as_f64().unwrap_or(-1.0);
    assert!(
        (placed_x - expected_x).abs() <= 1.0,
        "{placed_x} vs {expected_x}"
    );
    // the decoder flips y to point up: whatever its convention, the point is inside the tile
    let placed_y = point["coordinates"][1].as_f64().unwrap_or(-1.0);
    assert!((0.0..=extent).contains(&placed_y));

    // Act: a tile far out holding the whole world of the test
    let (x, y) = tile_of(6, longitude, latitude);
    let far = format!("/tiles/6/{x}/{y}.mvt");
    let (_, _, far_tile) = api.bytes_with(&far, &[]).await?;
    let body = far_tile.clone();
    let clusters = decode(&body)?;
    // Assert: clusters, not points, and they count every listing once
    assert!(clusters.get("listings").is_none());
    let counted: i64 = clusters["clusters"]["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|feature| feature["properties"]["count"].as_i64())
        .sum();
    let stats = api.ok("/api/stats").await?;
    assert_eq!(Some(counted), stats["total_listings"].as_i64());
    assert!(
        clusters["clusters"]["features"]
            .as_array()
            .is_some_and(|all| all.len() > 1)
    );

    // Assert: revalidation costs nothing while the build stands still
    let etag = headers["etag"].to_str()?.to_owned();
    let (x, y) = tile_of(16, longitude, latitude);
    let (status, _, body) = api
        .bytes_with(
            &format!("/tiles/16/{x}/{y}.mvt"),
            &[("if-none-match", &etag)],
        )
        .await?;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    // Act: an API that computes cluster tiles anew whenever the build moves sees the same
    let mut eager = built.api_config();
    eager.api.cluster_tile_reuse_secs = 0;
    let eager = spawn_api(&eager).await?;
    let (_, far_headers, far_body) = api.bytes_with(&far, &[]).await?;
    assert_eq!(far_body, far_tile);
    assert_eq!(eager.bytes_with(&far, &[]).await?.2, far_tile);
    // Act: a new listing arrives and the build moves on
    let newcomer = home(40);
    built.report_now("late", &newcomer).await?;
    // Assert: the default API reuses its far tile for a minute (same ETag, same counts) ...
    let (_, reused_headers, reused_body) = api.bytes_with(&far, &[]).await?;
    assert_eq!(reused_headers["etag"], far_headers["etag"]);
    assert_eq!(reused_body, far_tile);
    // ... the eager one counts the newcomer at once
    let (_, moved_headers, moved_body) = eager.bytes_with(&far, &[]).await?;
    assert_ne!(moved_headers["etag"], far_headers["etag"]);
    let recounted: i64 = decode(&moved_body)?["clusters"]["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|feature| feature["properties"]["count"].as_i64())
        .sum();
    assert_eq!(recounted, counted + 1);
    eager.stop().await?;

    // and a tile that does not exist is a 404
    for path in ["/tiles/2/4/0.mvt", "/tiles/21/0/0.mvt", "/tiles/3/1/1.png"] {
        assert_eq!(api.get(path).await?.status, StatusCode::NOT_FOUND, "{path}");
    }
    // a zoom or column that is no number is a bad parameter, and the document says so
    let bad = api.get("/tiles/a/0/0.mvt").await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("parameter z"), "{}", bad.text);
    let docs = api.ok("/openapi.json").await?;
    let operation = &docs["paths"]["/tiles/{z}/{x}/{y}.mvt"]["get"];
    assert!(
        operation["responses"]["200"]["content"]["application/vnd.mapbox-vector-tile"].is_object(),
        "{operation}"
    );

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}
