//! The parser: reads each upload a row group at a time, maps rows of either schema to the
//! canonical listing, validates them, decides admission, and emits the events.

pub mod coerce;
pub mod row;
