//! Everything s3rec knows about reaching AWS.
//!
//! This module is the only place in the crate that imports the AWS SDK crates. Keeping the SDK behind
//! one door means that credentials, regions, endpoints, retries and error wording are decided once,
//! and that an SDK upgrade touches one directory instead of every command.
//!
//! Commands get an [`Aws`] from [`connect`], ask it for per-service clients, and turn SDK failures
//! into [`AwsError`]s with [`Aws::error`] so that every message names the operation, the resource and
//! what the user should do next.

pub mod archive;
mod client;
pub mod iam;
pub mod identity;
mod kinds;
pub mod probe;
pub mod read;
pub mod s3control;
pub mod sns;
pub mod state_store;
pub mod transfer;
pub mod write;

pub use client::{
    Aws, AwsError, CallerIdentity, DEFAULT_REGION, MAX_ATTEMPTS, Op, Overrides, StaticCredentials, connect, sdk_error,
};
pub use read::{bucket_has_objects, read_bucket};
pub use write::{create_bucket, delete_bucket, put_doc};
