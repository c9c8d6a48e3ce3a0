//! Reference data: every US zipcode with its place and type.
//!
//! Generated from the PyPI `zipcodes` package by `scripts/zipcodes/generate.py` into
//! `data/zipcodes.csv.gz` (licences in `data/NOTICE`), embedded in the binary and loaded into
//! the `zipcodes` table by `resi zipcodes import`. The type says where residential listings can
//! exist: a PO-box-only or unique (single organisation) zipcode has none, which makes it a
//! honeypot whose truth is known.

use std::io::Read as _;

use anyhow::{Context as _, bail, ensure};

/// The checked-in reference data, gzipped CSV.
pub const EMBEDDED: &[u8] = include_bytes!("../data/zipcodes.csv.gz");

/// Most uncompressed bytes the reference file may hold (the real one is about 2.5 MB).
const MAX_REFERENCE_BYTES: u64 = 64 * 1024 * 1024;

/// What kind of delivery area a zipcode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ZipcodeType {
    /// Streets and homes.
    Standard,
    /// PO boxes only: no residential listings.
    PoBox,
    /// One organisation (a university, an agency, a large firm): no residential listings.
    Unique,
    /// APO/FPO: no listings.
    Military,
}

impl ZipcodeType {
    /// The name in the reference data and the database.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::PoBox => "PO BOX",
            Self::Unique => "UNIQUE",
            Self::Military => "MILITARY",
        }
    }

    /// Parses [`Self::as_str`].
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Standard, Self::PoBox, Self::Unique, Self::Military]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    /// Whether residential listings are known not to exist in such a zipcode.
    #[must_use]
    pub const fn has_no_homes(self) -> bool {
        matches!(self, Self::PoBox | Self::Unique)
    }
}

/// One zipcode of the reference data.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceZipcode {
    /// Five digits.
    pub zipcode: String,
    /// Type.
    pub kind: ZipcodeType,
    /// Whether USPS still delivers to it.
    pub active: bool,
    /// Two-letter state (or territory, or AA/AE/AP).
    pub state: String,
    /// City.
    pub city: String,
    /// County (empty where the data has none).
    pub county: String,
    /// Latitude, degrees.
    pub latitude: Option<f64>,
    /// Longitude, degrees.
    pub longitude: Option<f64>,
}

/// The US Census region of a state, or `Territories`, or `Military`.
#[must_use]
pub fn region(state: &str) -> &'static str {
    match state {
        "CT" | "ME" | "MA" | "NH" | "RI" | "VT" | "NJ" | "NY" | "PA" => "Northeast",
        "IL" | "IN" | "MI" | "OH" | "WI" | "IA" | "KS" | "MN" | "MO" | "NE" | "ND" | "SD" => {
            "Midwest"
        }
        "DE" | "DC" | "FL" | "GA" | "MD" | "NC" | "SC" | "VA" | "WV" | "AL" | "KY" | "MS"
        | "TN" | "AR" | "LA" | "OK" | "TX" => "South",
        "AZ" | "CO" | "ID" | "MT" | "NV" | "NM" | "UT" | "WY" | "AK" | "CA" | "HI" | "OR"
        | "WA" => "West",
        "AA" | "AE" | "AP" => "Military",
        _ => "Territories",
    }
}

/// Reads gzipped reference CSV (the generator's columns, in its order).
pub fn parse(gzipped: &[u8]) -> anyhow::Result<Vec<ReferenceZipcode>> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(gzipped)
        .take(MAX_REFERENCE_BYTES)
        .read_to_string(&mut text)
        .context("the zipcode reference data is not gzipped UTF-8")?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    ensure!(
        header == "zipcode,type,active,state,city,county,latitude,longitude",
        "unexpected reference header {header:?}"
    );
    let mut rows = Vec::with_capacity(45_000);
    for (number, line) in lines.enumerate() {
        let row = parse_row(line).with_context(|| format!("reference row {}", number + 2))?;
        rows.push(row);
    }
    Ok(rows)
}

fn parse_row(line: &str) -> anyhow::Result<ReferenceZipcode> {
    let fields: Vec<&str> = line.split(',').collect();
    let [
        zipcode,
        kind,
        active,
        state,
        city,
        county,
        latitude,
        longitude,
    ] = fields[..]
    else {
        bail!("expected 8 fields, found {}", fields.len());
    };
    ensure!(
        zipcode.len() == 5 && zipcode.bytes().all(|byte| byte.is_ascii_digit()),
        "zipcode {zipcode:?} is not five digits"
    );
    let coordinate = |text: &str| -> anyhow::Result<Option<f64>> {
        if text.is_empty() {
            return Ok(None);
        }
        let value: f64 = text
            .parse()
            .with_context(|| format!("coordinate {text:?}"))?;
        ensure!(value.is_finite(), "coordinate {text:?}");
        Ok(Some(value))
    };
    Ok(ReferenceZipcode {
        zipcode: zipcode.to_owned(),
        kind: ZipcodeType::parse(kind).with_context(|| format!("zipcode type {kind:?}"))?,
        active: active == "1",
        state: state.to_owned(),
        city: city.to_owned(),
        county: county.to_owned(),
        latitude: coordinate(latitude)?,
        longitude: coordinate(longitude)?,
    })
}

/// Rows written per statement.
const IMPORT_CHUNK: usize = 5_000;

/// Upserts `rows` into the `zipcodes` table in one transaction; returns how many rows were
/// inserted or changed.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn import(
    client: &mut tokio_postgres::Client,
    rows: &[ReferenceZipcode],
) -> anyhow::Result<u64> {
    let transaction = client.transaction().await?;
    let mut changed = 0;
    for chunk in rows.chunks(IMPORT_CHUNK) {
        let column = |field: fn(&ReferenceZipcode) -> &str| -> Vec<&str> {
            chunk.iter().map(field).collect()
        };
        let kinds: Vec<&str> = chunk.iter().map(|row| row.kind.as_str()).collect();
        let active: Vec<bool> = chunk.iter().map(|row| row.active).collect();
        let latitudes: Vec<Option<f64>> = chunk.iter().map(|row| row.latitude).collect();
        let longitudes: Vec<Option<f64>> = chunk.iter().map(|row| row.longitude).collect();
        changed += transaction
            .execute(
                "INSERT INTO zipcodes AS z
                     (zipcode, zipcode_type, active, state, city, county, latitude, longitude)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[],
                                      $6::text[], $7::float8[], $8::float8[])
                 ON CONFLICT (zipcode) DO UPDATE SET
                     zipcode_type = excluded.zipcode_type, active = excluded.active,
                     state = excluded.state, city = excluded.city, county = excluded.county,
                     latitude = excluded.latitude, longitude = excluded.longitude
                 WHERE (z.zipcode_type, z.active, z.state, z.city, z.county, z.latitude, z.longitude)
                       IS DISTINCT FROM
                       (excluded.zipcode_type, excluded.active, excluded.state, excluded.city,
                        excluded.county, excluded.latitude, excluded.longitude)",
                &[
                    &column(|row| &row.zipcode),
                    &kinds,
                    &active,
                    &column(|row| &row.state),
                    &column(|row| &row.city),
                    &column(|row| &row.county),
                    &latitudes,
                    &longitudes,
                ],
            )
            .await
            .context("failed to write zipcodes")?;
    }
    transaction.commit().await?;
    Ok(changed)
}

/// Every zipcode of the `zipcodes` table, sorted.
#[tracing::instrument(skip_all)]
pub async fn load(client: &tokio_postgres::Client) -> anyhow::Result<Vec<ReferenceZipcode>> {
    let rows = client
        .query(
            "SELECT zipcode, zipcode_type, active, state, city, county, latitude, longitude
               FROM zipcodes ORDER BY zipcode",
            &[],
        )
        .await
        .context("failed to read zipcodes")?;
    rows.iter()
        .map(|row| {
            let kind: String = row.get(1);
            Ok(ReferenceZipcode {
                zipcode: row.get(0),
                kind: ZipcodeType::parse(&kind)
                    .with_context(|| format!("unknown zipcode type {kind:?} in the database"))?,
                active: row.get(2),
                state: row.get(3),
                city: row.get(4),
                county: row.get(5),
                latitude: row.get(6),
                longitude: row.get(7),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_data_covers_the_country() {
        let rows = parse(EMBEDDED).expect("embedded data parses");
        assert!(rows.len() > 40_000, "{}", rows.len());
        let count = |kind| rows.iter().filter(|row| row.kind == kind).count();
        assert!(count(ZipcodeType::Standard) > 25_000);
        assert!(count(ZipcodeType::PoBox) > 5_000);
        assert!(count(ZipcodeType::Unique) > 1_000);
        let philadelphia = rows
            .iter()
            .find(|row| row.zipcode == "19103")
            .expect("19103");
        assert_eq!(philadelphia.state, "PA");
        assert_eq!(philadelphia.city, "Philadelphia");
        assert_eq!(region(&philadelphia.state), "Northeast");
        assert!(
            rows.windows(2)
                .all(|pair| pair[0].zipcode < pair[1].zipcode)
        );
        let states: std::collections::BTreeSet<&str> =
            rows.iter().map(|row| row.state.as_str()).collect();
        for state in ["PA", "CA", "TX", "DC", "AK", "HI"] {
            assert!(states.contains(state), "{state}");
        }
    }

    #[test]
    fn malformed_rows_are_refused_with_their_line() {
        let gzip = |text: &str| {
            use std::io::Write as _;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(text.as_bytes()).expect("write");
            encoder.finish().expect("finish")
        };
        let header = "zipcode,type,active,state,city,county,latitude,longitude\n";
        let error = parse(&gzip(&format!("{header}1910,STANDARD,1,PA,X,Y,1,2\n")))
            .expect_err("short zipcode");
        assert!(format!("{error:#}").contains("row 2"), "{error:#}");
        assert!(parse(&gzip(&format!("{header}19103,HOUSEBOAT,1,PA,X,Y,1,2\n"))).is_err());
        assert!(parse(&gzip(&format!("{header}19103,STANDARD,1,PA,X,Y,NaN,2\n"))).is_err());
        assert!(parse(&gzip("nope\n")).is_err());
        assert!(parse(b"not gzip").is_err());
    }
}
