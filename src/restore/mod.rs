//! Restores: a sync mapping's backup brought back as it was at a point in time, from the versions S3
//! keeps in the mapping's destinations.
//!
//! - `keys`: object keys back to the relative paths sync made them from (the key template inverted); pure.
//! - `pick`: `--at` read, and per key the version current at that time; pure.
//! - `set`: the set to restore, each version with its path, and the keys that get none; pure.
//! - `cost`: the estimated cost and time of restoring archived objects, per tier; pure.
//! - `inplace`: the copies and delete markers that make the destinations look as they did; pure.
//! - `run`: listing, choosing, and the download into a directory with the migration's key safety,
//!   verification and resumable downloads, journaled so a killed restore continues where it stopped.

pub mod cost;
pub mod inplace;
pub mod keys;
pub mod pick;
pub mod run;
pub mod set;
