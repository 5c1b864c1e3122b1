//! s3rec: declarative reconciliation of AWS S3 estates.
//!
//! The binary (`src/main.rs`) is a thin shell over this library so integration tests can drive the same
//! code. See ARCHITECTURE.md for the map.

pub mod aws;
pub mod backend;
pub mod checksum;
pub mod cli;
pub mod commands;
pub mod cost;
pub mod diff;
pub mod exec;
pub mod findings;
pub mod import;
pub mod interrupt;
pub mod manifest;
pub mod migrate;
pub mod model;
pub mod output;
pub mod plan;
pub mod planner;
pub mod report;
pub mod restore;
pub mod state;
pub mod style;
pub mod sync;
pub mod words;
