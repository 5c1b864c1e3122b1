//! The sync engine: local directories backed up into S3, as the manifest's `sync` mappings say.
//!
//! - `spec`: a mapping resolved for running (buckets, routes, keys); pure.
//! - `walk`: the source tree, read in parallel.
//! - `sorted`: the walk and the listing sorted by key, on disk past a bounded buffer.
//! - `compare`: files, listing and index, merged as sorted streams → uploads, deletes and files left
//!   alone; pure.
//! - `run`: one mapping end to end (walk, list, compare, transfer, index), with progress.
//! - `uploads`: multipart uploads sync started and nothing owns: aborted after a run, listed by doctor.

pub mod compare;
pub mod run;
pub mod sorted;
pub mod spec;
pub mod uploads;
pub mod walk;
