//! The canonical model: one set of types for what the manifest wants (desired) and what AWS has
//! (observed), so "no change" is plain equality.
//!
//! Every bucket configuration document has one canonical form here. AWS's "not configured" answers are
//! mapped to explicit values (an empty tag set, no lifecycle rules, no policy), lists whose order AWS does
//! not keep are sorted, and policies are normalized JSON. Nothing here does I/O or knows the SDK.

pub mod desired;
pub mod grants;
pub mod identity;
pub mod kinds;
pub mod policy;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use kinds::{Doc, DocKind};

// The value types of the document kinds live in their units (`kinds::KIND`). They are re-exported
// here because they are the model's public vocabulary: the diff, the graph, import, doctor, findings
// and the integration tests (`tests/aws_buckets.rs`, `tests/plan_render.rs`) name them as
// `model::TYPE`, and a move should not rewrite every one of those users.
pub use kinds::cors::CorsRuleDoc;
pub use kinds::encryption::EncryptionDoc;
pub use kinds::lifecycle::{LifecycleRuleDoc, NoncurrentTransitionDoc, TransitionDoc};
pub use kinds::logging::LoggingDoc;
pub use kinds::notifications::{NotificationDoc, NotificationTarget};
pub use kinds::public_access_block::PublicAccessBlockDoc;
pub use kinds::replication::{ReplicationDoc, ReplicationRuleDoc};
pub use kinds::versioning::VersioningState;

impl DocKind {
    /// The bucket's field in the manifest that holds this document (its descriptor's).
    pub fn manifest_field(self) -> &'static str {
        kinds::spec(self).manifest_field
    }

    /// The name used in resource addresses (`bucket.logs.lifecycle`) and output (its descriptor's).
    pub fn as_str(self) -> &'static str {
        kinds::spec(self).name
    }

    /// The kind's descriptor in the registry ([`kinds`]).
    pub fn spec(self) -> &'static kinds::KindSpec {
        kinds::spec(self)
    }

    pub fn parse(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bucket as the manifest wants it: where it lives and the documents it manages (only those).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredBucket {
    /// Logical name from the manifest.
    pub logical: String,
    /// Physical bucket name.
    pub name: String,
    pub region: String,
    pub docs: BTreeMap<DocKind, Doc>,
    pub prevent_destroy: bool,
    pub force_destroy: bool,
}

/// What AWS has for one bucket: `None` when it does not exist; otherwise its region and the documents
/// that were read (the managed ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedBucket {
    pub name: String,
    pub region: String,
    pub docs: BTreeMap<DocKind, Doc>,
    /// Whether the bucket holds at least one object or version; read only for buckets a plan deletes.
    pub non_empty: Option<bool>,
}

/// Partition-aware ARN of a bucket.
pub fn bucket_arn(name: &str) -> String {
    format!("arn:aws:s3:::{name}")
}

/// Lowercase hex of `bytes` (digests in names, plans and the state).
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}
