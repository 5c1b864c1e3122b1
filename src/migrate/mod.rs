//! Migrations: buckets (or prefixes) moved onto local storage, verified object by object, and only
//! then, when the manifest asks and the operator confirms, deleted from S3.
//!
//! - `spec`: a migration resolved for running (bucket, region, prefix, destination, modes); pure.
//! - `local`: object keys → safe relative paths under the destination (refusals, collisions), the
//!   temporary names downloads are written to, and the free-space check.
//! - `verify`: a local file checked against what S3 says about the object (size, MD5 ETag, multipart
//!   ETag, stored full-object checksum).
//! - `status`: the per-bucket phase and counts, from the inventory; pure.
//! - `run`: the phases end to end (scan, restore, wait, download, verify, delete), resumable.

pub mod local;
pub mod run;
pub mod scan;
pub mod spec;
pub mod status;
pub mod verify;

use crate::manifest::types::ChecksumAlgorithm;

/// What S3 holds for one object version, as far as verifying a local copy of it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The object's size in bytes.
    pub size: u64,
    /// The ETag without quotes: an MD5 (`hex`) for single-part uploads, `hex-N` for multipart ones.
    pub etag: String,
    /// The part size the object was uploaded with, when the ETag is a multipart one and it is known
    /// (HEAD with `partNumber=1` gives the first part's length).
    pub part_size: Option<u64>,
    /// The checksum S3 stored with the object, when it has one.
    pub checksum: Option<StoredChecksum>,
    /// False when the ETag is known not to be an MD5 of the content: objects encrypted with SSE-KMS or
    /// SSE-C have opaque ETags.
    pub etag_is_md5: bool,
}

/// A checksum S3 keeps with an object (`x-amz-checksum-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// The value as S3 sends it: base64, with `-N` appended for composite multipart checksums.
    pub value: String,
    /// True for a checksum of the whole object (single PUTs, full-object multipart CRCs); false for
    /// a composite checksum of part checksums, which cannot be recomputed without the part layout.
    pub full_object: bool,
}
