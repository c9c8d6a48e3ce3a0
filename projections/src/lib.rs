//! The pure fold logic of the projections.
//!
//! Everything here is a function of events and prior state only — no clock, no I/O, no
//! randomness — so replaying the log through it gives the same tables every time.

pub mod consensus;
pub mod scores;
pub mod trust;
pub mod validation;
