//! The read-only API on the real stack: projections built by the real projector from
//! generated events in a fresh database per test, the API on port 0 in front of them.

mod endpoints;
mod errors;
mod helpers;
mod open_data;
mod page;
mod pagination;
mod plans;
mod protection;
mod quality;
mod schema;
mod tiles;
mod versions;
