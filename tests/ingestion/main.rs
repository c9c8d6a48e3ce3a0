//! Ingestion on the real stack: the bridge (S3/SQS or a directory → upload events) and the
//! parser (upload events → attestations, summaries, dead letters), against moto, Tansu and
//! Postgres.

mod bridge;
mod dataset;
mod faults;
mod hostile;
mod lab;
mod layout;
mod outage;
mod parser;
mod real_uploads;
mod replay;
