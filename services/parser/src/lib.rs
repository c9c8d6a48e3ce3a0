//! The parser: reads each upload a record batch (or JSON listing) at a time, maps rows of every
//! layout to the canonical listing, validates them, decides admission, and emits the events.

#[cfg(feature = "service")]
pub mod admission;
pub mod coerce;
pub mod columns;
pub mod emit;
pub mod epoch_json;
pub mod file;
pub mod fuzz;
#[cfg(feature = "service")]
pub mod metrics;
pub mod pages;
pub mod quality;
pub mod row;
#[cfg(feature = "service")]
pub mod service;

#[cfg(feature = "service")]
pub use service::{Parser, ParserConfig, ParserServiceConfig};
