//! The bridge: learns of miner uploads and publishes them as upload events.

pub mod notification;
