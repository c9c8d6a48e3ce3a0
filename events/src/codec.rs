//! The wire format: one format byte, then the event in bincode 2.
//!
//! The format byte lets the encoding evolve (or be replaced) without guessing: a reader that
//! meets a format it does not know returns [`DecodeError::UnknownFormat`] and the record goes to
//! the dead-letter topic instead of being misread.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use thiserror::Error;

use crate::event::{Event, EventType};

/// Format byte of bincode 2 with the standard configuration (little endian, varints).
pub const FORMAT_BINCODE2: u8 = 1;

/// Upper bound on what one event may claim while decoding. Garbage that declares a huge
/// collection fails with an error instead of allocating.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Kafka header names, so consumers and operators can route and filter without decoding.
pub mod headers {
    /// Event type name, e.g. `listing_attested`.
    pub const EVENT_TYPE: &str = "resi-event-type";
    /// Payload schema version, decimal.
    pub const SCHEMA_VERSION: &str = "resi-schema-version";
    /// Event id, hex.
    pub const EVENT_ID: &str = "resi-event-id";
    /// Wire format byte, decimal.
    pub const FORMAT: &str = "resi-format";
}

pub(crate) const fn bincode_config() -> Configuration<LittleEndian, Varint, Limit<MAX_EVENT_BYTES>>
{
    bincode::config::standard().with_limit::<MAX_EVENT_BYTES>()
}

/// Why bytes did not decode as an event.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Zero bytes.
    #[error("empty payload")]
    Empty,
    /// A format byte this release does not know.
    #[error("unknown event format {0}")]
    UnknownFormat(u8),
    /// The body is not a valid event.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// A valid event followed by extra bytes.
    #[error("{0} trailing bytes after the event")]
    TrailingBytes(usize),
    /// A schema version newer than this release reads.
    #[error("{event_type} schema version {version} is newer than this release reads")]
    UnsupportedSchemaVersion {
        /// The event type.
        event_type: &'static str,
        /// The version found.
        version: u16,
    },
}

/// Encodes an event with its format byte.
#[must_use]
pub fn encode(event: &Event) -> Vec<u8> {
    // a listing attestation takes about 500 bytes: one allocation for most events
    let mut bytes = Vec::with_capacity(640);
    bytes.push(FORMAT_BINCODE2);
    bincode::encode_into_std_write(event, &mut bytes, bincode_config())
        .unwrap_or_else(|_| unreachable!("writing into a Vec cannot fail"));
    bytes
}

/// Decodes bytes written by [`encode`]. Never panics, whatever the input.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let (&format, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if format != FORMAT_BINCODE2 {
        return Err(DecodeError::UnknownFormat(format));
    }
    let (event, read): (Event, usize) = bincode::decode_from_slice(body, bincode_config())
        .map_err(|error| DecodeError::Malformed(error.to_string()))?;
    if read != body.len() {
        return Err(DecodeError::TrailingBytes(body.len() - read));
    }
    let event_type: EventType = event.event_type();
    if event.schema_version > event_type.schema_version() {
        return Err(DecodeError::UnsupportedSchemaVersion {
            event_type: event_type.as_str(),
            version: event.schema_version,
        });
    }
    Ok(event)
}

/// The Kafka headers of an event: type, schema version, id and format.
#[must_use]
pub fn headers_of(event: &Event) -> [(&'static str, String); 4] {
    [
        (headers::EVENT_TYPE, event.event_type().as_str().to_owned()),
        (headers::SCHEMA_VERSION, event.schema_version.to_string()),
        (headers::EVENT_ID, event.id.to_hex()),
        (headers::FORMAT, FORMAT_BINCODE2.to_string()),
    ]
}
