//! Epoch JSON uploads: one document per assigned zipcode, as the network's miners write it
//! (`json.dump(…, indent=2)`):
//!
//! ```json
//! {"epoch_id": "2025-10-21T12-00-00", "zipcode": "19103", "miner_hotkey": "5…",
//!  "submission_timestamp": "…", "listing_count": 6,
//!  "listings": [{"zpid": "…", "mls_id": "…", "address": "…", "price": 450000, …}, …]}
//! ```
//!
//! The document is streamed: each listing is read, mapped and handed on before the next one is
//! read, so memory holds one listing (at most `parser.max_json_listing_bytes`) and one batch of
//! events, whatever the document's size. The document's `epoch_id`, `zipcode` and
//! `miner_hotkey` must agree with its key; they normally come before `listings` and are checked
//! before any row is emitted (a document that puts them after its listings is read once more,
//! for them alone, first).
//!
//! | canonical | listing key |
//! |---|---|
//! | listing id | `zpid`, else the zpid in `source_url`, else `mls-{mls_id}`, else a hash of address and zip code |
//! | `url` | `source_url` (or `url`) |
//! | price, bedrooms, bathrooms | `price`, `bedrooms`, `bathrooms` |
//! | living area | `sqft` (or `living_area`); 0 is unknown |
//! | home type, status | `property_type`, `listing_status` (or `home_type`, `home_status`) |
//! | days on market | `days_on_market` |
//! | zip code | `zipcode` (or `zip_code`), else the address's, else the document's |
//! | city, state | `city`, `state`, else the address's |
//! | coordinates | `latitude`, `longitude` |
//! | listing date, MLS id | `listing_date`, `mls_id` |
//! | scrape time | `scraped_timestamp` (ISO 8601, with or without offset; none: UTC) |
//!
//! Numbers may come as JSON numbers or as text, ids as text or numbers. Any other key is counted
//! (the summary's `extra_columns`) and ignored. A listing that is not an object is rejected as
//! `uncoercible_value`; a row of the mock scraper (`mock_generated`, `mock_…` zpids, the mock
//! site) as `synthetic`.

use std::cell::Cell as Shared;
use std::fmt;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::rc::Rc;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use resi_events::{Event, RejectReason, UploadObserved, UploadRejectReason};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::coerce::Cell;
use crate::emit::{AdmissionPlan, Emitter, Encoded, Extras, ParseOptions, Repeats};
use crate::file::{FileFailure, FileFailureKind};
use crate::row::{IdRule, RowValues, ZipValue};

/// Bytes read from the file at once.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Parses one epoch JSON document and hands out its attestation events a batch at a time
/// through `emit`, which returns `false` to stop. Returns the file's `UploadParsed` event.
pub fn parse_epoch_json<R: Read + Seek>(
    mut source: R,
    upload: &UploadObserved,
    admission: AdmissionPlan,
    options: ParseOptions,
    emit: impl FnMut(Vec<Encoded>) -> bool,
) -> Result<Event, FileFailure> {
    let mut emitter = Emitter::new(
        upload,
        admission,
        options,
        IdRule::AnySource,
        // one pass: every id is remembered for the duplicate check
        Repeats::Unknown,
        emit,
    );
    let mut known_header = None;
    loop {
        let mut reading = Reading {
            emitter: &mut emitter,
            upload,
            header: Header::default(),
            known_header: known_header.as_ref(),
            pass: Pass::Rows,
            extras: Extras::default(),
            abort: None,
        };
        match read_document(&mut source, &mut reading, options.max_json_listing_bytes) {
            Ok(()) => {
                let Reading { header, extras, .. } = reading;
                let declared = header.listing_count.or_else(|| {
                    known_header
                        .as_ref()
                        .and_then(|known: &Header| known.listing_count)
                });
                if !emitter.flush() {
                    return Err(FileFailure::new(
                        FileFailureKind::Stopped,
                        "stopped",
                        emitter.admitted(),
                    ));
                }
                return Ok(emitter.finish(extras, declared));
            }
            Err(Failure::HeaderAfterListings) if known_header.is_none() => {
                // the header follows the listings: read it alone, then read the rows again
                let mut header_pass = Reading {
                    emitter: &mut emitter,
                    upload,
                    header: Header::default(),
                    known_header: None,
                    pass: Pass::Header,
                    extras: Extras::default(),
                    abort: None,
                };
                read_document(
                    &mut source,
                    &mut header_pass,
                    options.max_json_listing_bytes,
                )
                .map_err(|failure| failure.into_file_failure(0))?;
                let header = header_pass.header;
                header
                    .check(upload)
                    .map_err(|failure| failure.into_file_failure(0))?;
                known_header = Some(header);
            }
            Err(Failure::Stopped) => {
                return Err(Failure::Stopped.into_file_failure(emitter.admitted()));
            }
            Err(failure) => {
                // the rows read before the failure were whole and valid: they stand
                if !emitter.flush() {
                    return Err(Failure::Stopped.into_file_failure(emitter.admitted()));
                }
                return Err(failure.into_file_failure(emitter.admitted()));
            }
        }
    }
}

/// Reads the whole document from its start, in `reading`'s pass.
fn read_document<R: Read + Seek, F: FnMut(Vec<Encoded>) -> bool>(
    source: &mut R,
    reading: &mut Reading<'_, '_, '_, F>,
    max_value_bytes: u64,
) -> Result<(), Failure> {
    source
        .seek(SeekFrom::Start(0))
        .map_err(|error| Failure::Io(error.to_string()))?;
    let budget = Rc::new(Shared::new(max_value_bytes));
    let limited = Budgeted {
        inner: &mut *source,
        budget: Rc::clone(&budget),
    };
    let mut deserializer =
        serde_json::Deserializer::from_reader(BufReader::with_capacity(READ_BUFFER_BYTES, limited));
    let seed = DocumentSeed {
        reading: &mut *reading,
        budget: &budget,
        max_value_bytes,
    };
    let outcome = seed
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    if let Some(abort) = reading.abort.take() {
        return Err(abort);
    }
    outcome.map_err(|error| Failure::of_json(&error, max_value_bytes))?;
    if !reading.header.listings_seen && reading.pass == Pass::Rows {
        return Err(Failure::Schema(
            "the document has no `listings` array".to_owned(),
        ));
    }
    Ok(())
}

/// Why a document was not read to its end.
#[derive(Debug)]
enum Failure {
    /// Not JSON, truncated, or a value over the size bound.
    Corrupt(String),
    /// JSON, but not the shape of an epoch document.
    Schema(String),
    /// The document contradicts its key.
    Rejected(UploadRejectReason, String),
    /// The spool file could not be read.
    Io(String),
    /// The header comes after the listings: read it first.
    HeaderAfterListings,
    /// More listings than `parser.max_file_rows`.
    TooManyRows(u64),
    /// The receiver of the events wants no more.
    Stopped,
}

impl Failure {
    fn of_json(error: &serde_json::Error, max_value_bytes: u64) -> Self {
        use serde_json::error::Category;
        match error.classify() {
            Category::Data => Self::Schema(error.to_string()),
            Category::Syntax | Category::Eof => Self::Corrupt(error.to_string()),
            Category::Io if error.to_string().contains(OVER_BUDGET) => Self::Corrupt(format!(
                "a listing or header value is larger than {max_value_bytes} bytes ({error})"
            )),
            Category::Io => Self::Io(error.to_string()),
        }
    }

    fn into_file_failure(self, admitted: u64) -> FileFailure {
        let (kind, detail) = match self {
            Self::Corrupt(detail) => (FileFailureKind::Corrupt, detail),
            Self::Schema(detail) => (FileFailureKind::WrongSchema, detail),
            Self::Rejected(reason, detail) => (FileFailureKind::Rejected(reason), detail),
            Self::Io(detail) => (FileFailureKind::Io, detail),
            Self::Stopped => (FileFailureKind::Stopped, "stopped".to_owned()),
            Self::TooManyRows(max_rows) => {
                return FileFailure::too_many_rows(max_rows, admitted);
            }
            Self::HeaderAfterListings => (
                FileFailureKind::Corrupt,
                "the document's header could not be read".to_owned(),
            ),
        };
        FileFailure::new(kind, detail, admitted)
    }
}

/// The message of the error a [`Budgeted`] reader returns when a value is over its bound.
const OVER_BUDGET: &str = "json value over the size bound";

/// A reader that fails once it has read more than its budget since the budget was last reset
/// (at every listing): a single value can never make the parser hold more than the bound.
struct Budgeted<'r, R> {
    inner: &'r mut R,
    budget: Rc<Shared<u64>>,
}

impl<R: Read> Read for Budgeted<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let left = self.budget.get();
        if left == 0 {
            return Err(std::io::Error::other(OVER_BUDGET));
        }
        let wanted = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buffer[..wanted])?;
        self.budget
            .set(left.saturating_sub(u64::try_from(read).unwrap_or(u64::MAX)));
        Ok(read)
    }
}

/// What a pass over the document is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// The rows (and the header, when it comes first).
    Rows,
    /// The header alone; the listings are skipped.
    Header,
}

/// The document's own claims about itself.
#[derive(Clone, Debug, Default)]
struct Header {
    epoch_id: Option<String>,
    zipcode: Option<String>,
    miner_hotkey: Option<String>,
    listing_count: Option<u64>,
    listings_seen: bool,
}

impl Header {
    /// Whether every claim that is checked was read.
    const fn complete(&self) -> bool {
        self.epoch_id.is_some() && self.zipcode.is_some() && self.miner_hotkey.is_some()
    }

    /// The claims that are present must agree with the key.
    fn check(&self, upload: &UploadObserved) -> Result<(), Failure> {
        if let Some(miner) = &self.miner_hotkey
            && *miner != upload.miner_hotkey
        {
            return Err(Failure::Rejected(
                UploadRejectReason::MetadataMinerMismatch,
                format!(
                    "the document names miner {miner}, its key {}",
                    upload.miner_hotkey
                ),
            ));
        }
        for (name, claimed, actual) in [
            ("epoch", &self.epoch_id, &upload.epoch_id),
            ("zipcode", &self.zipcode, &upload.zipcode),
        ] {
            if let (Some(claimed), Some(actual)) = (claimed, actual)
                && claimed != actual
            {
                return Err(Failure::Rejected(
                    UploadRejectReason::MetadataInvalid,
                    format!("the document names {name} {claimed}, its key {actual}"),
                ));
            }
        }
        Ok(())
    }
}

/// The state of one pass, shared by the document's visitors.
struct Reading<'e, 'u, 'k, F> {
    emitter: &'e mut Emitter<'u, F>,
    upload: &'u UploadObserved,
    header: Header,
    /// The header read by an earlier pass, already checked.
    known_header: Option<&'k Header>,
    pass: Pass,
    extras: Extras,
    /// Set when a visitor stopped the pass for a reason of ours (not a JSON error).
    abort: Option<Failure>,
}

impl<F> Reading<'_, '_, '_, F> {
    fn stop<E: de::Error>(&mut self, failure: Failure) -> E {
        let message = format!("{failure:?}");
        self.abort = Some(failure);
        E::custom(message)
    }
}

struct DocumentSeed<'s, 'e, 'u, 'k, F> {
    reading: &'s mut Reading<'e, 'u, 'k, F>,
    budget: &'s Rc<Shared<u64>>,
    max_value_bytes: u64,
}

impl<'de, F: FnMut(Vec<Encoded>) -> bool> DeserializeSeed<'de> for DocumentSeed<'_, '_, '_, '_, F> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Vec<Encoded>) -> bool> Visitor<'de> for DocumentSeed<'_, '_, '_, '_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an epoch document: an object with a `listings` array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let reading = self.reading;
        while let Some(key) = map.next_key::<String>()? {
            self.budget.set(self.max_value_bytes);
            match key.as_str() {
                "epoch_id" => reading.header.epoch_id = map.next_value::<Scalar>()?.into_text(),
                "zipcode" => reading.header.zipcode = map.next_value::<Scalar>()?.into_zip(),
                "miner_hotkey" => {
                    reading.header.miner_hotkey = map.next_value::<Scalar>()?.into_text();
                }
                "listing_count" => {
                    reading.header.listing_count = map.next_value::<Scalar>()?.into_count();
                }
                "listings" => {
                    reading.header.listings_seen = true;
                    if reading.pass == Pass::Header {
                        // skipping stores nothing, so the bound does not apply
                        self.budget.set(u64::MAX);
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    if reading.known_header.is_none() {
                        if !reading.header.complete() {
                            return Err(reading.stop(Failure::HeaderAfterListings));
                        }
                        if let Err(failure) = reading.header.check(reading.upload) {
                            return Err(reading.stop(failure));
                        }
                    }
                    map.next_value_seed(ListingsSeed {
                        reading: &mut *reading,
                        budget: self.budget,
                        max_value_bytes: self.max_value_bytes,
                    })?;
                }
                _ => {
                    self.budget.set(u64::MAX);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct ListingsSeed<'s, 'e, 'u, 'k, F> {
    reading: &'s mut Reading<'e, 'u, 'k, F>,
    budget: &'s Rc<Shared<u64>>,
    max_value_bytes: u64,
}

impl<'de, F: FnMut(Vec<Encoded>) -> bool> DeserializeSeed<'de> for ListingsSeed<'_, '_, '_, '_, F> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Vec<Encoded>) -> bool> Visitor<'de> for ListingsSeed<'_, '_, '_, '_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("`listings`: an array of listing objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let reading = self.reading;
        loop {
            self.budget.set(self.max_value_bytes);
            let Some(MaybeListing(listing)) = seq.next_element::<MaybeListing>()? else {
                return Ok(());
            };
            match listing {
                Some(listing) => {
                    for key in &listing.extra_keys {
                        reading.extras.note(key);
                    }
                    reading.emitter.row(&listing.values());
                }
                None => reading.emitter.reject(RejectReason::UncoercibleValue),
            }
            if !reading.emitter.within_row_limit() {
                let max_rows = reading.emitter.max_rows();
                return Err(reading.stop(Failure::TooManyRows(max_rows)));
            }
            if reading.emitter.batch_full() && !reading.emitter.flush() {
                return Err(reading.stop(Failure::Stopped));
            }
        }
    }
}

/// A JSON value where a scalar is expected.
#[derive(Clone, Debug, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
    /// An object or array.
    Nested,
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E>(self, value: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(value))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Scalar, E> {
        Ok(Scalar::UInt(value))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(value))
    }
    fn visit_str<E>(self, value: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(value.to_owned()))
    }
    fn visit_string<E>(self, value: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(value))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }
}

/// A text value: trimmed, empty is missing.
#[derive(Clone, Debug, Default, PartialEq)]
enum Text {
    #[default]
    Missing,
    Value(String),
    Invalid,
}

impl Text {
    fn cell(&self) -> Cell<&str> {
        match self {
            Self::Missing => Cell::Missing,
            Self::Value(text) => match text.trim() {
                "" => Cell::Missing,
                trimmed => Cell::Value(trimmed),
            },
            Self::Invalid => Cell::Invalid,
        }
    }
}

impl Scalar {
    fn text(self) -> Text {
        match self {
            Self::Null => Text::Missing,
            Self::Text(text) => Text::Value(text),
            Self::Int(value) => Text::Value(value.to_string()),
            Self::UInt(value) => Text::Value(value.to_string()),
            // integral floats are identifiers or counts written by Python
            Self::Float(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => {
                Text::Value(format!("{value:.0}"))
            }
            Self::Float(value) => Text::Value(value.to_string()),
            Self::Bool(_) | Self::Nested => Text::Invalid,
        }
    }

    fn into_text(self) -> Option<String> {
        match self.text() {
            Text::Value(text) => Some(text.trim().to_owned()),
            Text::Missing | Text::Invalid => None,
        }
    }

    fn into_zip(self) -> Option<String> {
        let numeric = matches!(self, Self::Int(_) | Self::UInt(_));
        let text = self.into_text()?;
        if numeric {
            text.parse()
                .ok()
                .and_then(resi_events::normalize::zip_code_from_int)
        } else {
            Some(text)
        }
    }

    fn into_count(self) -> Option<u64> {
        match self {
            Self::Int(value) => u64::try_from(value).ok(),
            Self::UInt(value) => Some(value),
            Self::Text(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    // counts and coordinates from JSON: exact below 2^53, which every plausible value is
    #[allow(clippy::cast_precision_loss)]
    fn number(self) -> Cell<f64> {
        match self {
            Self::Null => Cell::Missing,
            Self::Int(value) => Cell::Value(value as f64),
            Self::UInt(value) => Cell::Value(value as f64),
            Self::Float(value) => Cell::Value(value),
            Self::Text(text) => match text.trim() {
                "" => Cell::Missing,
                trimmed => match trimmed.parse::<f64>() {
                    Ok(value) if value.is_nan() => Cell::Missing,
                    Ok(value) if value.is_finite() => Cell::Value(value),
                    _ => Cell::Invalid,
                },
            },
            Self::Bool(_) | Self::Nested => Cell::Invalid,
        }
    }

    fn instant(self) -> Cell<i64> {
        match self {
            Self::Null => Cell::Missing,
            Self::Text(text) => match text.trim() {
                "" => Cell::Missing,
                trimmed => parse_instant(trimmed).map_or(Cell::Invalid, Cell::Value),
            },
            _ => Cell::Invalid,
        }
    }
}

/// Microseconds since the epoch of an ISO 8601 instant: with an offset (what Python's
/// `isoformat()` writes for aware times), without one (UTC), or a date alone (its midnight, UTC).
fn parse_instant(text: &str) -> Option<i64> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_micros());
    }
    if let Ok(at) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(at.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc().timestamp_micros());
        }
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
}

/// One listing object, its values by meaning.
#[derive(Debug, Default)]
struct JsonListing {
    zpid: Text,
    url: Text,
    mls_id: Text,
    address: Text,
    zip: Text,
    zip_numeric: bool,
    city: Text,
    state: Text,
    home_type: Text,
    home_status: Text,
    price: Cell<f64>,
    bedrooms: Cell<f64>,
    bathrooms: Cell<f64>,
    living_area: Cell<f64>,
    days_on_market: Cell<f64>,
    latitude: Cell<f64>,
    longitude: Cell<f64>,
    listing_date: Cell<i64>,
    scraped_at: Cell<i64>,
    mock_generated: bool,
    extra_keys: Vec<String>,
}

impl JsonListing {
    fn values(&self) -> RowValues<'_> {
        RowValues {
            zpid: self.zpid.cell(),
            url: self.url.cell(),
            mls_id: self.mls_id.cell(),
            address: self.address.cell(),
            zip: ZipValue {
                text: self.zip.cell(),
                numeric: self.zip_numeric,
            },
            city: self.city.cell(),
            state: self.state.cell(),
            home_type: self.home_type.cell(),
            home_status: self.home_status.cell(),
            price: self.price,
            bedrooms: self.bedrooms,
            bathrooms: self.bathrooms,
            living_area: self.living_area,
            days_on_market: self.days_on_market,
            latitude: self.latitude,
            longitude: self.longitude,
            listing_date: self.listing_date,
            scraped_at: self.scraped_at,
            mock_generated: self.mock_generated,
            ..RowValues::default()
        }
    }
}

/// An element of the `listings` array: a listing object, or `None` for any other value.
struct MaybeListing(Option<JsonListing>);

impl<'de> de::Deserialize<'de> for MaybeListing {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListingVisitor).map(Self)
    }
}

struct ListingVisitor;

impl<'de> Visitor<'de> for ListingVisitor {
    type Value = Option<JsonListing>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a listing object")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use ListingKey as K;
        let mut listing = JsonListing::default();
        while let Some(key) = map.next_key::<ListingKey>()? {
            if let K::Other(name) = key {
                map.next_value::<IgnoredAny>()?;
                listing.extra_keys.push(name);
                continue;
            }
            let value = map.next_value::<Scalar>()?;
            match key {
                K::Zpid => listing.zpid = value.text(),
                K::Url => listing.url = value.text(),
                K::MlsId => listing.mls_id = value.text(),
                K::Address => listing.address = value.text(),
                K::Zip => {
                    listing.zip_numeric = matches!(value, Scalar::Int(_) | Scalar::UInt(_));
                    listing.zip = value.text();
                }
                K::City => listing.city = value.text(),
                K::State => listing.state = value.text(),
                K::HomeType => listing.home_type = value.text(),
                K::HomeStatus => listing.home_status = value.text(),
                K::Price => listing.price = value.number(),
                K::Bedrooms => listing.bedrooms = value.number(),
                K::Bathrooms => listing.bathrooms = value.number(),
                K::LivingArea => listing.living_area = value.number(),
                K::DaysOnMarket => listing.days_on_market = value.number(),
                K::Latitude => listing.latitude = value.number(),
                K::Longitude => listing.longitude = value.number(),
                K::ListingDate => listing.listing_date = value.instant(),
                K::ScrapedAt => listing.scraped_at = value.instant(),
                K::MockGenerated => listing.mock_generated = value == Scalar::Bool(true),
                K::Other(_) => {}
            }
        }
        Ok(Some(listing))
    }
}

/// A key of a listing object, read without allocating unless it is one the layout does not
/// use.
enum ListingKey {
    Zpid,
    Url,
    MlsId,
    Address,
    Zip,
    City,
    State,
    HomeType,
    HomeStatus,
    Price,
    Bedrooms,
    Bathrooms,
    LivingArea,
    DaysOnMarket,
    Latitude,
    Longitude,
    ListingDate,
    ScrapedAt,
    MockGenerated,
    Other(String),
}

impl ListingKey {
    fn of(name: &str) -> Self {
        match name {
            "zpid" => Self::Zpid,
            "source_url" | "url" => Self::Url,
            "mls_id" => Self::MlsId,
            "address" => Self::Address,
            "zipcode" | "zip_code" => Self::Zip,
            "city" => Self::City,
            "state" => Self::State,
            "property_type" | "home_type" => Self::HomeType,
            "listing_status" | "home_status" => Self::HomeStatus,
            "price" => Self::Price,
            "bedrooms" => Self::Bedrooms,
            "bathrooms" => Self::Bathrooms,
            "sqft" | "living_area" => Self::LivingArea,
            "days_on_market" => Self::DaysOnMarket,
            "latitude" => Self::Latitude,
            "longitude" => Self::Longitude,
            "listing_date" => Self::ListingDate,
            "scraped_timestamp" => Self::ScrapedAt,
            "mock_generated" => Self::MockGenerated,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl<'de> de::Deserialize<'de> for ListingKey {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(ListingKeyVisitor)
    }
}

struct ListingKeyVisitor;

impl Visitor<'_> for ListingKeyVisitor {
    type Value = ListingKey;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a key of a listing")
    }
    fn visit_str<E>(self, name: &str) -> Result<ListingKey, E> {
        Ok(ListingKey::of(name))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use resi_events::{
        EventPayload, ListingAttested, Timestamp, UploadDiscovery, UploadFormat, UploadParsed,
        decode,
    };
    use serde_json::json;

    use super::*;

    const UPLOADED: Timestamp = Timestamp::from_micros(1_761_055_200_000_000); // 2025-10-21T14:00Z

    fn upload() -> UploadObserved {
        UploadObserved {
            bucket: "bucket".into(),
            key:
                "data/hotkey=5Fk/epoch=2025-10-21T12-00-00/zipcode=19103/data_20251021_100000.json"
                    .into(),
            etag: "etag".into(),
            size: 1,
            last_modified: UPLOADED,
            miner_hotkey: "5Fk".into(),
            job_id: "2025-10-21T12-00-00".into(),
            file_timestamp: Timestamp::from_micros(1_761_040_800_000_000),
            declared_record_count: None,
            format: UploadFormat::EpochJson,
            epoch: None,
            epoch_id: Some("2025-10-21T12-00-00".into()),
            zipcode: Some("19103".into()),
            discovery: UploadDiscovery::Notification,
        }
    }

    fn listing(zpid: &str) -> serde_json::Value {
        json!({
            "zpid": zpid,
            "mls_id": format!("PAPH{zpid}"),
            "address": format!("{zpid} Walnut St, Philadelphia, PA 19103"),
            "price": 450_000,
            "bedrooms": 2,
            "bathrooms": 1.5,
            "sqft": null,
            "listing_date": "2025-09-30T14:03:11.123456+00:00",
            "property_type": "CONDO",
            "listing_status": "FOR_SALE",
            "days_on_market": 21,
            "source_url": format!("https://www.zillow.com/homedetails/x/{zpid}_zpid/"),
            "zipcode": "19103",
            "scraped_timestamp": "2025-10-21T13:10:00.000001+00:00",
            "latitude": 39.95,
            "longitude": -75.17,
            "lot_size": null,
            "year_built": 1920,
            "data_source": "rapidapi_zillow"
        })
    }

    fn document(listings: Vec<serde_json::Value>) -> serde_json::Value {
        json!({
            "epoch_id": "2025-10-21T12-00-00",
            "zipcode": "19103",
            "miner_hotkey": "5Fk",
            "submission_timestamp": "2025-10-21T13:59:00+00:00",
            "listing_count": listings.len(),
            "listings": listings,
        })
    }

    fn options() -> ParseOptions {
        ParseOptions {
            batch_rows: 2,
            max_scrape_skew_micros: 600_000_000,
            max_json_listing_bytes: 64 * 1024,
            max_file_rows: 10_000_000,
            record_time: Timestamp::from_micros(7),
        }
    }

    fn run_bytes(
        bytes: Vec<u8>,
        options: ParseOptions,
    ) -> (Result<UploadParsed, FileFailure>, Vec<ListingAttested>) {
        let mut attested = Vec::new();
        let outcome = parse_epoch_json(
            Cursor::new(bytes),
            &upload(),
            AdmissionPlan::new(0.9, UPLOADED.utc_day(), 0),
            options,
            |batch| {
                for encoded in batch {
                    match decode(&encoded.payload).expect("decodes").payload {
                        EventPayload::ListingAttested(event) => attested.push(*event),
                        other => panic!("{other:?}"),
                    }
                }
                true
            },
        )
        .map(|event| match event.payload {
            EventPayload::UploadParsed(parsed) => parsed,
            other => panic!("{other:?}"),
        });
        (outcome, attested)
    }

    fn run(
        document: &serde_json::Value,
    ) -> (Result<UploadParsed, FileFailure>, Vec<ListingAttested>) {
        run_bytes(
            serde_json::to_vec_pretty(document).expect("json"),
            options(),
        )
    }

    #[test]
    fn a_real_document_is_read_row_by_row() {
        let mut mock = listing("mock_19103_0_123456");
        mock["mock_generated"] = json!(true);
        mock["source_url"] = json!("https://mock-realestate-site.com/property/mock_19103_0_123456");
        let mut elsewhere = listing("333");
        elsewhere["zipcode"] = json!("19104");
        elsewhere["address"] = json!("333 Spruce St, Philadelphia, PA 19104");
        let mut text_numbers = listing("444");
        text_numbers["price"] = json!("510000");
        text_numbers["zipcode"] = json!(null);
        text_numbers["address"] = json!("444 Pine St");
        let (parsed, attested) = run(&document(vec![
            listing("111"),
            listing("222"),
            mock,
            json!("not a listing"),
            listing("111"),
            elsewhere,
            text_numbers,
        ]));
        let parsed = parsed.expect("parsed");
        assert_eq!(parsed.rows_read, 7);
        assert_eq!(parsed.rows_valid, 4);
        let reasons: Vec<_> = parsed
            .rejections
            .iter()
            .map(|count| (count.reason, count.rows))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (RejectReason::UncoercibleValue, 1),
                (RejectReason::DuplicateInFile, 1),
                (RejectReason::Synthetic, 1),
            ]
        );
        assert_eq!(parsed.declared_record_count, Some(7));
        assert_eq!(parsed.rows_outside_zipcode, 1);
        assert_eq!(
            parsed.extra_columns,
            vec!["data_source", "lot_size", "year_built"]
        );
        assert_eq!(parsed.extra_column_count, 3);
        assert_eq!(parsed.epoch_id.as_deref(), Some("2025-10-21T12-00-00"));
        assert_eq!(parsed.zipcode.as_deref(), Some("19103"));

        let ids: Vec<_> = attested
            .iter()
            .map(|event| event.listing.listing_id.as_str())
            .collect();
        assert_eq!(ids, vec!["111", "222", "333", "444"]);
        let first = &attested[0];
        assert_eq!(first.epoch_id.as_deref(), Some("2025-10-21T12-00-00"));
        assert_eq!(first.zipcode.as_deref(), Some("19103"));
        assert_eq!(first.submitted_at, UPLOADED);
        assert_eq!(first.scraped_at.as_micros(), 1_761_052_200_000_001);
        let listing = &first.listing;
        assert_eq!(
            (
                listing.city.as_deref(),
                listing.state.as_deref(),
                listing.price_usd,
                listing.bathrooms_tenths,
                listing.living_area_sqft,
                listing.home_type.as_deref(),
                listing.listing_date,
                listing.latitude_e7
            ),
            (
                Some("Philadelphia"),
                Some("PA"),
                Some(450_000),
                Some(15),
                None,
                Some("CONDO"),
                Some(20_361),
                Some(399_500_000)
            )
        );
        let last = &attested[3].listing;
        assert_eq!(last.price_usd, Some(510_000), "numbers as text");
        assert_eq!(
            last.zip_code.as_deref(),
            Some("19103"),
            "the document's zipcode"
        );
    }

    #[test]
    fn a_mock_scraper_document_attests_nothing() {
        let mock = |index: u32| {
            let zpid = format!("mock_19103_{index}_55555{index}");
            let mut value = listing(&zpid);
            value["mock_generated"] = json!(true);
            value["mock_index"] = json!(index);
            value["source_url"] =
                json!(format!("https://mock-realestate-site.com/property/{zpid}"));
            value
        };
        let (parsed, attested) = run(&document((0..5).map(mock).collect()));
        let parsed = parsed.expect("parsed");
        assert!(attested.is_empty());
        assert_eq!(parsed.rows_rejected, 5);
        assert_eq!(parsed.rejections[0].reason, RejectReason::Synthetic);
        assert!(
            parsed
                .quality
                .issues
                .contains(&resi_events::QualityIssue::SyntheticListings)
        );
        assert!(parsed.quality.score < resi_projections::trust::POOR_QUALITY);
    }

    #[test]
    fn a_header_after_the_listings_is_still_checked_first() {
        let late = |miner: &str| {
            format!(
                r#"{{"listings": [{}], "epoch_id": "2025-10-21T12-00-00", "zipcode": "19103", "miner_hotkey": "{miner}"}}"#,
                listing("111")
            )
            .into_bytes()
        };
        let (parsed, attested) = run_bytes(late("5Fk"), options());
        assert_eq!(parsed.expect("parsed").rows_valid, 1);
        assert_eq!(attested.len(), 1);

        let (refused, attested) = run_bytes(late("5Other"), options());
        let failure = refused.expect_err("another miner");
        assert_eq!(
            failure.kind,
            FileFailureKind::Rejected(UploadRejectReason::MetadataMinerMismatch)
        );
        assert!(attested.is_empty(), "nothing is emitted before the check");

        // no header at all: the key says everything
        let bare = format!(r#"{{"listings": [{}]}}"#, listing("111")).into_bytes();
        assert_eq!(run_bytes(bare, options()).0.expect("parsed").rows_valid, 1);
    }

    #[test]
    fn a_document_of_another_zipcode_or_epoch_is_rejected() {
        let mut other_zip = document(vec![listing("111")]);
        other_zip["zipcode"] = json!("19104");
        let failure = run(&other_zip).0.expect_err("other zipcode");
        assert_eq!(
            failure.kind,
            FileFailureKind::Rejected(UploadRejectReason::MetadataInvalid)
        );
        assert!(
            failure.detail.contains("zipcode 19104"),
            "{}",
            failure.detail
        );
        let mut other_epoch = document(vec![listing("111")]);
        other_epoch["epoch_id"] = json!("2025-10-21T08-00-00");
        assert_eq!(
            run(&other_epoch).0.expect_err("other epoch").kind,
            FileFailureKind::Rejected(UploadRejectReason::MetadataInvalid)
        );
    }

    #[test]
    fn broken_documents_fail_with_their_kind() {
        let whole =
            serde_json::to_vec_pretty(&document(vec![listing("1"), listing("2")])).expect("json");
        let (truncated, attested) = run_bytes(whole[..whole.len() - 40].to_vec(), options());
        let failure = truncated.expect_err("truncated");
        assert_eq!(failure.kind, FileFailureKind::Corrupt);
        assert_eq!(failure.admitted, 1, "the first listing was complete");
        assert_eq!(attested.len(), 1, "and it stands");

        let (not_json, _) = run_bytes(b"PAR1 not json".to_vec(), options());
        assert_eq!(
            not_json.expect_err("garbage").kind,
            FileFailureKind::Corrupt
        );

        for shape in [
            json!([1, 2]),
            json!({"listings": {"a": 1}}),
            json!({"epoch_id": "x"}),
        ] {
            let (wrong, _) = run(&shape);
            assert_eq!(
                wrong.expect_err("wrong shape").kind,
                FileFailureKind::WrongSchema,
                "{shape}"
            );
        }
    }

    #[test]
    fn memory_per_listing_is_bounded_by_configuration() {
        let mut huge = listing("111");
        huge["description"] = json!("x".repeat(200 * 1024));
        let (outcome, _) = run(&document(vec![listing("100"), huge]));
        let failure = outcome.expect_err("over the bound");
        assert_eq!(failure.kind, FileFailureKind::Corrupt);
        assert!(
            failure.detail.contains("larger than 65536 bytes"),
            "{}",
            failure.detail
        );
        // the same listing under a bound that allows it
        let mut roomy = options();
        roomy.max_json_listing_bytes = 1 << 20;
        let mut huge = listing("111");
        huge["description"] = json!("x".repeat(200 * 1024));
        let bytes = serde_json::to_vec(&document(vec![huge])).expect("json");
        assert_eq!(run_bytes(bytes, roomy).0.expect("parsed").rows_valid, 1);
    }

    #[test]
    fn a_document_over_the_row_bound_is_too_large() {
        let listings: Vec<serde_json::Value> = (0..5)
            .map(|index| listing(&format!("{}", 500 + index)))
            .collect();
        let bytes = serde_json::to_vec(&document(listings)).expect("json");
        let mut bounded = options();
        bounded.max_file_rows = 5;
        assert_eq!(
            run_bytes(bytes.clone(), bounded)
                .0
                .expect("five fit")
                .rows_valid,
            5
        );
        bounded.max_file_rows = 4;
        let (outcome, _) = run_bytes(bytes, bounded);
        let failure = outcome.expect_err("over the bound");
        assert_eq!(failure.kind, FileFailureKind::TooLarge);
        assert!(
            failure.detail.contains("more than 4 rows"),
            "{}",
            failure.detail
        );
    }

    #[test]
    fn instants_in_the_forms_python_writes() {
        let expected = 1_761_048_191_000_000;
        for text in [
            "2025-10-21T12:03:11+00:00",
            "2025-10-21T08:03:11-04:00",
            "2025-10-21 12:03:11+00:00",
            "2025-10-21T12:03:11",
            "2025-10-21T12:03:11Z",
        ] {
            assert_eq!(parse_instant(text), Some(expected), "{text}");
        }
        assert_eq!(parse_instant("2025-10-21"), Some(1_761_004_800_000_000));
        assert_eq!(parse_instant("yesterday"), None);
    }
}
