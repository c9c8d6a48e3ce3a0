//! `GET /tiles/{z}/{x}/{y}.mvt`: Mapbox Vector Tiles (spec 2.1) of the consensus listings, for
//! maps. From zoom [`POINTS_FROM_ZOOM`] on, layer `listings` holds every listing in the tile as
//! a point (`zpid`, `price`, `status`, `confidence`); below it, layer `clusters` holds one point
//! per grid cell of the tile (`count`, mean `price`, mean `confidence`), so a tile's size and
//! cost are bounded whatever the zoom. Answers carry an ETag made of the consensus build and
//! its checkpoints, so a client or CDN revalidates for the price of one small query. Tiles are
//! not counted against the per-client quota (a map asks for dozens at a time): a points tile is
//! one bounded index scan, and cluster tiles, whose cost grows with the listings under them, are
//! kept in memory and computed again at most once every `api.cluster_tile_reuse_secs` (60) while
//! the build moves, so asking again for a low-zoom tile costs nothing.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The zoom from which listings are points rather than clusters (a tile about 10 km wide).
pub const POINTS_FROM_ZOOM: u32 = 12;
/// Deepest zoom served.
pub const MAX_ZOOM: u32 = 20;
/// Points one tile holds at most (the rest are left out; zoom in to see them).
pub const MAX_POINTS: i64 = 20_000;
/// Cells per side of a cluster tile.
pub const GRID: f64 = 32.0;
/// Cluster tiles kept in memory at most (then the cache starts again empty).
const CACHED_TILES: usize = 4_096;

/// Tile coordinates per side (the spec's usual extent).
const EXTENT: u32 = 4_096;
/// Points this far outside the tile (in tile units) are kept, so that symbols at an edge are
/// drawn whole in both tiles.
const BUFFER: f64 = 64.0;

/// The MVT protobuf messages (vector_tile.proto, version 2.1), encoded with prost.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tile {
        #[prost(message, repeated, tag = "3")]
        pub layers: Vec<Layer>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Layer {
        #[prost(uint32, required, tag = "15")]
        pub version: u32,
        #[prost(string, required, tag = "1")]
        pub name: String,
        #[prost(message, repeated, tag = "2")]
        pub features: Vec<Feature>,
        #[prost(string, repeated, tag = "3")]
        pub keys: Vec<String>,
        #[prost(message, repeated, tag = "4")]
        pub values: Vec<Value>,
        #[prost(uint32, optional, tag = "5")]
        pub extent: Option<u32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Value {
        #[prost(string, optional, tag = "1")]
        pub string_value: Option<String>,
        #[prost(double, optional, tag = "3")]
        pub double_value: Option<f64>,
        #[prost(int64, optional, tag = "4")]
        pub int_value: Option<i64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Feature {
        #[prost(uint64, optional, tag = "1")]
        pub id: Option<u64>,
        #[prost(uint32, repeated, tag = "2")]
        pub tags: Vec<u32>,
        /// 1 = point.
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
        #[prost(uint32, repeated, tag = "4")]
        pub geometry: Vec<u32>,
    }
}

/// An attribute value, hashable so that a layer stores each distinct value once.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Attribute {
    Text(String),
    Integer(i64),
    /// A double by its bits (values are finite numbers from the database).
    Number(u64),
}

/// A layer being built: features, and keys and values each stored once.
struct LayerBuilder {
    layer: proto::Layer,
    keys: HashMap<&'static str, u32>,
    values: HashMap<Attribute, u32>,
}

impl LayerBuilder {
    fn new(name: &str) -> Self {
        Self {
            layer: proto::Layer {
                version: 2,
                name: name.to_owned(),
                features: Vec::new(),
                keys: Vec::new(),
                values: Vec::new(),
                extent: Some(EXTENT),
            },
            keys: HashMap::new(),
            values: HashMap::new(),
        }
    }

    /// Adds a point at tile coordinates (`x`, `y`) with `attributes`.
    fn point(
        &mut self,
        id: Option<u64>,
        (x, y): (i64, i64),
        attributes: Vec<(&'static str, Attribute)>,
    ) {
        let mut tags = Vec::with_capacity(attributes.len() * 2);
        for (key, value) in attributes {
            let next = u32::try_from(self.layer.keys.len()).unwrap_or(u32::MAX);
            let key_index = *self.keys.entry(key).or_insert_with(|| {
                self.layer.keys.push(key.to_owned());
                next
            });
            let next = u32::try_from(self.layer.values.len()).unwrap_or(u32::MAX);
            let value_index = *self.values.entry(value.clone()).or_insert_with(|| {
                self.layer.values.push(match value {
                    Attribute::Text(text) => proto::Value {
                        string_value: Some(text),
                        ..proto::Value::default()
                    },
                    Attribute::Integer(integer) => proto::Value {
                        int_value: Some(integer),
                        ..proto::Value::default()
                    },
                    Attribute::Number(bits) => proto::Value {
                        double_value: Some(f64::from_bits(bits)),
                        ..proto::Value::default()
                    },
                });
                next
            });
            tags.extend([key_index, value_index]);
        }
        // MoveTo, one point, then zigzag-encoded coordinates
        let zigzag = |value: i64| u32::try_from((value << 1) ^ (value >> 63)).unwrap_or(0);
        self.layer.features.push(proto::Feature {
            id,
            tags,
            r#type: Some(1),
            geometry: vec![(1 << 3) | 1, zigzag(x), zigzag(y)],
        });
    }
}

fn number(value: f64) -> Attribute {
    Attribute::Number(value.to_bits())
}

/// A tile's place: its bounds in degrees and the projection of a point into its coordinates.
#[derive(Clone, Copy, Debug)]
pub struct TileBounds {
    z: u32,
    x: u32,
    y: u32,
}

impl TileBounds {
    /// The tile, when it exists at its zoom.
    #[must_use]
    pub fn new(z: u32, x: u32, y: u32) -> Option<Self> {
        let side = 1_u64 << z.min(MAX_ZOOM);
        (z <= MAX_ZOOM && u64::from(x) < side && u64::from(y) < side).then_some(Self { z, x, y })
    }

    /// The tile holding a point at zoom `z`, when the zoom is served.
    #[must_use]
    pub fn containing(z: u32, longitude: f64, latitude: f64) -> Option<Self> {
        let (world_x, world_y) = world(z.min(MAX_ZOOM), longitude, latitude);
        // a point on the far edge belongs to the last tile
        let last = f64::from((1_u32 << z.min(MAX_ZOOM)) - 1);
        Self::new(
            z,
            world_x.floor().clamp(0.0, last) as u32,
            world_y.floor().clamp(0.0, last) as u32,
        )
    }

    /// Its column and row.
    #[must_use]
    pub fn column_row(self) -> (u32, u32) {
        (self.x, self.y)
    }

    /// Tile coordinates (0..EXTENT inside the tile) of a point.
    fn project(self, longitude: f64, latitude: f64) -> (f64, f64) {
        let (world_x, world_y) = world(self.z, longitude, latitude);
        (
            (world_x - f64::from(self.x)) * f64::from(EXTENT),
            (world_y - f64::from(self.y)) * f64::from(EXTENT),
        )
    }

    /// Longitude of a tile column edge (may be fractional).
    fn longitude(self, column: f64) -> f64 {
        column / side(self.z) * 360.0 - 180.0
    }

    /// Latitude of a tile row edge (may be fractional).
    fn latitude(self, row: f64) -> f64 {
        (PI * (1.0 - 2.0 * row / side(self.z)))
            .sinh()
            .atan()
            .to_degrees()
    }

    /// (west, south, east, north) in degrees, widened by the buffer.
    #[must_use]
    pub fn bounds(self) -> (f64, f64, f64, f64) {
        let margin = BUFFER / f64::from(EXTENT);
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        (
            self.longitude(x - margin).max(-180.0),
            self.latitude(y + 1.0 + margin).max(-85.06),
            self.longitude(x + 1.0 + margin).min(180.0),
            self.latitude(y - margin).min(85.06),
        )
    }
}

/// Tiles per side at zoom `z`.
fn side(z: u32) -> f64 {
    f64::from(1_u32 << z)
}

/// A point's place in tiles at zoom `z` (Web Mercator; latitudes clamped to its square).
fn world(z: u32, longitude: f64, latitude: f64) -> (f64, f64) {
    let latitude = latitude.clamp(-85.051_128_78, 85.051_128_78).to_radians();
    (
        (longitude + 180.0) / 360.0 * side(z),
        (1.0 - (latitude.tan() + 1.0 / latitude.cos()).ln() / PI) / 2.0 * side(z),
    )
}

/// The statements of a tile (`$1`–`$4` west, south, east, north in 1e-7 degrees): points, or
/// clusters (`$5`, `$6` the cell's width and height in 1e-7 degrees).
#[must_use]
pub fn tile_sql(consensus: &str) -> [String; 2] {
    let inside =
        "point(c.longitude_e7::float8, c.latitude_e7::float8) <@ box(point($1, $2), point($3, $4))";
    [
        format!(
            "SELECT c.listing_id, c.longitude_e7, c.latitude_e7, c.price_usd, c.home_status,
                    c.consensus_score
             FROM {consensus}.consensus_listings c WHERE {inside} LIMIT {MAX_POINTS}"
        ),
        format!(
            "SELECT count(*), avg(c.longitude_e7)::float8, avg(c.latitude_e7)::float8,
                    avg(c.price_usd)::float8, avg(c.consensus_score)::float8
             FROM {consensus}.consensus_listings c WHERE {inside}
             GROUP BY floor((c.longitude_e7 - $1) / $5), floor((c.latitude_e7 - $2) / $6)"
        ),
    ]
}

/// Parses `{y}.mvt`.
fn row_of(file: &str) -> Option<u32> {
    file.strip_suffix(".mvt")?.parse().ok()
}

/// `GET /tiles/{z}/{x}/{y}.mvt`.
#[utoipa::path(
    get,
    path = "/tiles/{z}/{x}/{y}.mvt",
    tag = "maps",
    params(
        ("z" = u32, Path, minimum = 0, maximum = 20, description = "Zoom: points from 12, clusters below"),
        ("x" = u32, Path, minimum = 0, description = "Column, below 2^z"),
        ("y" = u32, Path, minimum = 0, description = "Row, below 2^z (XYZ scheme, north at 0)"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 while the build has not moved"),
    ),
    responses(
        (status = 200, description = "A Mapbox Vector Tile (spec 2.1): layer `listings` (zpid, price, status, confidence) or `clusters` (count, price, confidence)", content_type = "application/vnd.mapbox-vector-tile", body = Vec<u8>,
            headers(("ETag" = String, description = "The consensus build and its position"), ("Cache-Control" = String, description = "public, max-age=60"))),
        (status = 304, description = "Not changed since the ETag given"),
        (status = 400, description = "A zoom or column that is not an integer", body = crate::error::ErrorBody),
        (status = 404, description = "No such tile, or no consensus built yet", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable or timed out", body = crate::error::ErrorBody),
    )
)]
pub async fn tile(
    State(state): State<Arc<AppState>>,
    Path((z, x, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let z: u32 = z
        .parse()
        .map_err(|_| ApiError::bad("z", "a zoom, an integer 0 to 20"))?;
    let x: u32 = x
        .parse()
        .map_err(|_| ApiError::bad("x", "a column, an integer below 2^z"))?;
    let bounds = row_of(&file)
        .and_then(|y| TileBounds::new(z, x, y))
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no tile {z}/{x}/{file}: zoom 0 to {MAX_ZOOM}, x and y below 2^zoom, .mvt"
            ))
        })?;
    let answer = db::read(&state.pool, None, async |transaction, schemas| {
        let consensus = schemas.consensus()?;
        let version = schemas.consensus_version.clone().unwrap_or_default();
        let position: i64 = db::query_one(
            transaction,
            "tiles.position",
            "SELECT coalesce(sum(next_offset), 0)::bigint FROM projection_checkpoints
              WHERE projection = 'consensus' AND version = $1",
            &[&version],
        )
        .await?
        .get(0);
        let etag = format!("\"{version}-{position}-{z}-{x}-{file}\"");
        let place_key = format!("{version}/{z}/{x}/{file}");
        let not_modified = |etag: &str| {
            headers
                .get(header::IF_NONE_MATCH)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag))
        };
        if z < POINTS_FROM_ZOOM
            && let Some((at, cached_etag, body)) = state.tiles.lock().await.get(&place_key)
            && (*cached_etag == etag
                || at.elapsed().as_secs() < state.config.cluster_tile_reuse_secs)
        {
            let body = (!not_modified(cached_etag)).then(|| body.clone());
            return Ok((cached_etag.clone(), body));
        }
        if not_modified(&etag) {
            return Ok((etag, None));
        }
        let (west, south, east, north) = bounds.bounds();
        let e7 = |degrees: f64| degrees * 1e7;
        let [points_sql, clusters_sql] = tile_sql(consensus);
        let place = |longitude_e7: f64, latitude_e7: f64| {
            let (px, py) = bounds.project(longitude_e7 / 1e7, latitude_e7 / 1e7);
            (px.round() as i64, py.round() as i64)
        };
        let mut tile = proto::Tile::default();
        if z >= POINTS_FROM_ZOOM {
            let rows = db::query(
                transaction,
                "tiles.points",
                &points_sql,
                &[&e7(west), &e7(south), &e7(east), &e7(north)],
            )
            .await?;
            let mut layer = LayerBuilder::new("listings");
            for row in &rows {
                let (Some(longitude), Some(latitude)) =
                    (row.get::<_, Option<i32>>(1), row.get::<_, Option<i32>>(2))
                else {
                    continue;
                };
                let zpid: String = row.get(0);
                let mut attributes = vec![
                    ("zpid", Attribute::Text(zpid.clone())),
                    ("confidence", number(row.get(5))),
                ];
                if let Some(price) = row.get::<_, Option<i64>>(3) {
                    attributes.push(("price", Attribute::Integer(price)));
                }
                if let Some(status) = row.get::<_, Option<String>>(4) {
                    attributes.push(("status", Attribute::Text(status)));
                }
                layer.point(
                    zpid.parse().ok(),
                    place(f64::from(longitude), f64::from(latitude)),
                    attributes,
                );
            }
            tile.layers.push(layer.layer);
        } else {
            let width = e7(east - west) / GRID;
            let height = e7(north - south) / GRID;
            let rows = db::query(
                transaction,
                "tiles.clusters",
                &clusters_sql,
                &[
                    &e7(west),
                    &e7(south),
                    &e7(east),
                    &e7(north),
                    &width,
                    &height,
                ],
            )
            .await?;
            let mut layer = LayerBuilder::new("clusters");
            for row in &rows {
                let (Some(longitude), Some(latitude)) =
                    (row.get::<_, Option<f64>>(1), row.get::<_, Option<f64>>(2))
                else {
                    continue;
                };
                let mut attributes = vec![
                    ("count", Attribute::Integer(row.get(0))),
                    (
                        "confidence",
                        number(row.get::<_, Option<f64>>(4).unwrap_or(0.0)),
                    ),
                ];
                if let Some(price) = row.get::<_, Option<f64>>(3) {
                    attributes.push(("price", Attribute::Integer(price.round() as i64)));
                }
                layer.point(None, place(longitude, latitude), attributes);
            }
            tile.layers.push(layer.layer);
        }
        let body = axum::body::Bytes::from(prost::Message::encode_to_vec(&tile));
        if z < POINTS_FROM_ZOOM {
            let mut cache = state.tiles.lock().await;
            if cache.len() >= CACHED_TILES {
                cache.clear();
            }
            cache.insert(
                place_key,
                (std::time::Instant::now(), etag.clone(), body.clone()),
            );
        }
        Ok((etag, Some(body)))
    })
    .await?;
    let (etag, body) = answer;
    let etag = HeaderValue::from_str(&etag)
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("a tile's etag: {error}")))?;
    let cache = HeaderValue::from_static("public, max-age=60");
    Ok(match body {
        None => (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response(),
        Some(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/vnd.mapbox-vector-tile"),
                ),
                (header::ETAG, etag),
                (header::CACHE_CONTROL, cache),
            ],
            body,
        )
            .into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_outside_their_zoom_do_not_exist() {
        assert!(TileBounds::new(0, 0, 0).is_some());
        assert!(TileBounds::new(1, 2, 0).is_none());
        assert!(TileBounds::new(MAX_ZOOM + 1, 0, 0).is_none());
        assert_eq!(row_of("12.mvt"), Some(12));
        assert_eq!(row_of("12.png"), None);
    }

    #[test]
    fn a_point_lands_where_the_tile_scheme_puts_it() {
        // London at zoom 10 is tile 511/340 in the XYZ scheme
        let london = (-0.1276, 51.5072);
        let tile = TileBounds::new(10, 511, 340).expect("a tile");
        let holding = TileBounds::containing(10, london.0, london.1).expect("a tile");
        assert_eq!((holding.z, holding.x, holding.y), (10, 511, 340));
        let (x, y) = tile.project(london.0, london.1);
        assert!(
            (0.0..4096.0).contains(&x) && (0.0..4096.0).contains(&y),
            "{x} {y}"
        );
        let (west, south, east, north) = tile.bounds();
        assert!(west < london.0 && london.0 < east && south < london.1 && london.1 < north);
        // and not in its neighbour
        let (x, _) = TileBounds::new(10, 512, 340)
            .expect("a tile")
            .project(london.0, london.1);
        assert!(x < 0.0);
    }
}
