//! Event and record times.

use std::fmt;

use bincode::{Decode, Encode};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant in UTC with microsecond precision, stored as microseconds since the Unix epoch.
///
/// Microseconds are what Postgres `timestamptz` keeps, so a value survives a round trip through
/// the database unchanged. Serialised to JSON as RFC 3339.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// Builds a timestamp from microseconds since the Unix epoch.
    #[must_use]
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    #[must_use]
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The current wall-clock time. Only for record times: never feed it into an event id.
    #[must_use]
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Converts from chrono, truncating below the microsecond.
    #[must_use]
    pub fn from_datetime(datetime: DateTime<Utc>) -> Self {
        Self(datetime.timestamp_micros())
    }

    /// Interprets a naive date-time as UTC.
    #[must_use]
    pub fn from_naive_utc(naive: NaiveDateTime) -> Self {
        Self::from_datetime(Utc.from_utc_datetime(&naive))
    }

    /// Converts to chrono; `None` only for instants outside chrono's range (about ±262,000 years).
    #[must_use]
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.0)
    }

    /// The UTC calendar day, as days since 1970-01-01 (negative before).
    #[must_use]
    pub const fn utc_day(self) -> i32 {
        const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;
        // the quotient of an i64 by a day in microseconds always fits in i32
        #[allow(clippy::cast_possible_truncation)]
        let day = self.0.div_euclid(MICROS_PER_DAY) as i32;
        day
    }

    /// RFC 3339 text with microseconds and a `Z` suffix.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        match self.to_datetime() {
            Some(datetime) => datetime.to_rfc3339_opts(SecondsFormat::Micros, true),
            None => format!("@{}us", self.0),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|datetime| Self::from_datetime(datetime.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_day_is_floor_division() {
        assert_eq!(Timestamp::from_micros(0).utc_day(), 0);
        assert_eq!(Timestamp::from_micros(86_400_000_000 - 1).utc_day(), 0);
        assert_eq!(Timestamp::from_micros(86_400_000_000).utc_day(), 1);
        assert_eq!(Timestamp::from_micros(-1).utc_day(), -1);
    }

    #[test]
    fn rfc3339_round_trips_through_json() {
        let original = Timestamp::from_micros(1_758_123_456_789_012);
        let json = serde_json::to_string(&original).expect("serialise");
        assert_eq!(json, "\"2025-09-17T15:37:36.789012Z\"");
        let back: Timestamp = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, original);
    }
}
