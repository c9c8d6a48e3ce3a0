//! Projections on the real stack: the projector folds events from Tansu into Postgres.

mod consensus;
mod crash;
mod listing;
mod outage;
mod poison;
mod trust;
mod versions;
