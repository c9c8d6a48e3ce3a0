//! Foundation: the event contract over a real broker, migrations on a real Postgres, and the
//! sample-data generator read back with pyarrow from a real S3 API and from disk.

mod broker;
mod dataset;
mod fixtures;
mod migrations;
mod sessions;
