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

/// What precedes every payload: id, schema version, event and record time, payload variant.
type Header = (
    crate::id::EventId,
    u16,
    crate::time::Timestamp,
    crate::time::Timestamp,
    u32,
);

/// Decodes bytes written by [`encode`] by this release or an earlier one: an event of an older
/// schema version is read in its own layout and converted ([`crate::legacy`]). Never panics,
/// whatever the input.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let (&format, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if format != FORMAT_BINCODE2 {
        return Err(DecodeError::UnknownFormat(format));
    }
    let malformed = |error: bincode::error::DecodeError| DecodeError::Malformed(error.to_string());
    // the version decides the layout, so it is read before the payload
    let ((_, schema_version, _, _, variant), _): (Header, usize) =
        bincode::decode_from_slice(body, bincode_config()).map_err(malformed)?;
    let event_type = usize::try_from(variant)
        .ok()
        .and_then(|index| EventType::ALL.get(index).copied())
        .ok_or_else(|| DecodeError::Malformed(format!("unknown event variant {variant}")))?;
    if schema_version > event_type.schema_version() {
        return Err(DecodeError::UnsupportedSchemaVersion {
            event_type: event_type.as_str(),
            version: schema_version,
        });
    }
    let (event, read): (Event, usize) = if schema_version <= 1 && event_type.has_version_1_layout()
    {
        let (old, read): (crate::legacy::EventV1, usize) =
            bincode::decode_from_slice(body, bincode_config()).map_err(malformed)?;
        (old.into(), read)
    } else {
        bincode::decode_from_slice(body, bincode_config()).map_err(malformed)?
    };
    if read != body.len() {
        return Err(DecodeError::TrailingBytes(body.len() - read));
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
