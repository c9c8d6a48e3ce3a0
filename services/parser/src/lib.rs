//! The parser: reads each upload a record batch (or JSON listing) at a time, maps rows of every
//! layout to the canonical listing, validates them, decides admission, and emits the events.

pub mod admission;
pub mod coerce;
pub mod columns;
pub mod emit;
pub mod epoch_json;
pub mod file;
pub mod metrics;
pub mod quality;
pub mod row;
pub mod service;

pub use service::{Parser, ParserConfig, ParserServiceConfig};
