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

/// The configuration documents s3rec manages on a bucket, one AWS API pair (Get/Put) each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Versioning,
    Encryption,
    PublicAccessBlock,
    Ownership,
    Tags,
    Lifecycle,
    Policy,
    Logging,
    Cors,
    Notifications,
    Replication,
    Inventory,
}

impl DocKind {
    pub const ALL: [DocKind; 12] = [
        DocKind::Versioning,
        DocKind::Encryption,
        DocKind::PublicAccessBlock,
        DocKind::Ownership,
        DocKind::Tags,
        DocKind::Lifecycle,
        DocKind::Policy,
        DocKind::Logging,
        DocKind::Cors,
        DocKind::Notifications,
        DocKind::Replication,
        DocKind::Inventory,
    ];

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

/// One configuration document in canonical form. The variant always matches its [`DocKind`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Doc {
    Versioning(VersioningState),
    /// `None`: no default encryption configured (moto's answer for a new bucket; AWS encrypts with SSE-S3).
    Encryption(Option<EncryptionDoc>),
    /// "Not configured" is all four switches off.
    PublicAccessBlock(PublicAccessBlockDoc),
    /// `None`: no ownership controls (ACLs enabled, the pre-2023 behaviour).
    Ownership(Option<String>),
    /// "Not configured" is the empty set.
    Tags(BTreeMap<String, String>),
    /// Sorted by rule ID; "not configured" is empty.
    Lifecycle(Vec<LifecycleRuleDoc>),
    /// Normalized policy JSON (see [`policy::normalize`]); `None` when the bucket has no policy.
    Policy(Option<serde_json::Value>),
    Logging(Option<LoggingDoc>),
    /// In the order given: S3 evaluates CORS rules first match first.
    Cors(Vec<CorsRuleDoc>),
    /// Sorted by ID; "not configured" is empty.
    Notifications(Vec<NotificationDoc>),
    Replication(Option<ReplicationDoc>),
    /// Sorted by ID; "not configured" is empty.
    Inventory(Vec<kinds::inventory::InventoryConfigDoc>),
}

impl Doc {
    pub fn kind(&self) -> DocKind {
        match self {
            Doc::Versioning(_) => DocKind::Versioning,
            Doc::Encryption(_) => DocKind::Encryption,
            Doc::PublicAccessBlock(_) => DocKind::PublicAccessBlock,
            Doc::Ownership(_) => DocKind::Ownership,
            Doc::Tags(_) => DocKind::Tags,
            Doc::Lifecycle(_) => DocKind::Lifecycle,
            Doc::Policy(_) => DocKind::Policy,
            Doc::Logging(_) => DocKind::Logging,
            Doc::Cors(_) => DocKind::Cors,
            Doc::Notifications(_) => DocKind::Notifications,
            Doc::Replication(_) => DocKind::Replication,
            Doc::Inventory(_) => DocKind::Inventory,
        }
    }

    /// The document as a bucket that nobody configured has it (what `Get*` answers for a fresh bucket
    /// on AWS after the "not configured" errors are read as values).
    pub fn unconfigured(kind: DocKind) -> Doc {
        match kind {
            DocKind::Versioning => Doc::Versioning(VersioningState::Unversioned),
            DocKind::Encryption => Doc::Encryption(None),
            DocKind::PublicAccessBlock => Doc::PublicAccessBlock(PublicAccessBlockDoc::default()),
            DocKind::Ownership => Doc::Ownership(None),
            DocKind::Tags => Doc::Tags(BTreeMap::new()),
            DocKind::Lifecycle => Doc::Lifecycle(Vec::new()),
            DocKind::Policy => Doc::Policy(None),
            DocKind::Logging => Doc::Logging(None),
            DocKind::Cors => Doc::Cors(Vec::new()),
            DocKind::Notifications => Doc::Notifications(Vec::new()),
            DocKind::Replication => Doc::Replication(None),
            DocKind::Inventory => Doc::Inventory(Vec::new()),
        }
    }

    /// Brings a document into canonical form: sorted where AWS does not keep order, empty strings as
    /// absent, policies normalized. Readers and the desired-model builder both call this, so equal
    /// meaning compares equal.
    pub fn canonical(self) -> Doc {
        match self {
            Doc::Lifecycle(mut rules) => {
                for r in &mut rules {
                    r.canonicalize();
                }
                rules.sort_by(|a, b| a.id.cmp(&b.id));
                Doc::Lifecycle(rules)
            }
            Doc::Policy(p) => Doc::Policy(p.map(|v| policy::normalize(&v))),
            Doc::Notifications(mut n) => {
                for c in &mut n {
                    c.events.sort();
                    c.events.dedup();
                    if c.prefix.as_deref() == Some("") {
                        c.prefix = None;
                    }
                    if c.suffix.as_deref() == Some("") {
                        c.suffix = None;
                    }
                }
                n.sort_by(|a, b| a.id.cmp(&b.id));
                Doc::Notifications(n)
            }
            Doc::Replication(Some(mut r)) => {
                for rule in &mut r.rules {
                    if rule.prefix.as_deref() == Some("") {
                        rule.prefix = None;
                    }
                }
                r.rules.sort_by(|a, b| a.id.cmp(&b.id));
                Doc::Replication(Some(r))
            }
            Doc::Inventory(configs) => Doc::Inventory(kinds::inventory::canonical(configs)),
            Doc::Cors(mut rules) => {
                for r in &mut rules {
                    r.allowed_methods.sort();
                }
                Doc::Cors(rules)
            }
            // Already canonical: single values and sets the model keeps in a map.
            doc @ (Doc::Versioning(_)
            | Doc::Encryption(_)
            | Doc::PublicAccessBlock(_)
            | Doc::Ownership(_)
            | Doc::Tags(_)
            | Doc::Logging(_)
            | Doc::Replication(None)) => doc,
        }
    }
}

/// Versioning as S3 reports it: a bucket that was never versioned differs from a suspended one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersioningState {
    Unversioned,
    Enabled,
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionDoc {
    /// `AES256` or `aws:kms` (or `aws:kms:dsse` when observed).
    pub algorithm: String,
    pub kms_key_id: Option<String>,
    pub bucket_key: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlockDoc {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRuleDoc {
    pub id: String,
    pub enabled: bool,
    pub prefix: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub object_size_greater_than: Option<u64>,
    pub object_size_less_than: Option<u64>,
    /// `(days, storage class)`, sorted by days.
    pub transitions: Vec<TransitionDoc>,
    pub expiration_days: Option<u32>,
    pub expired_object_delete_marker: Option<bool>,
    pub noncurrent_transitions: Vec<NoncurrentTransitionDoc>,
    pub noncurrent_expiration_days: Option<u32>,
    pub noncurrent_newer_versions: Option<u32>,
    pub abort_incomplete_multipart_upload_days: Option<u32>,
}

impl LifecycleRuleDoc {
    /// An enabled rule for the whole bucket with no actions yet; callers set what they need.
    pub fn enabled(id: &str) -> LifecycleRuleDoc {
        LifecycleRuleDoc {
            id: id.to_string(),
            enabled: true,
            prefix: None,
            tags: BTreeMap::new(),
            object_size_greater_than: None,
            object_size_less_than: None,
            transitions: Vec::new(),
            expiration_days: None,
            expired_object_delete_marker: None,
            noncurrent_transitions: Vec::new(),
            noncurrent_expiration_days: None,
            noncurrent_newer_versions: None,
            abort_incomplete_multipart_upload_days: None,
        }
    }

    fn canonicalize(&mut self) {
        if self.prefix.as_deref() == Some("") {
            self.prefix = None;
        }
        self.transitions.sort_by_key(|t| t.days);
        self.noncurrent_transitions.sort_by_key(|t| t.days);
        // S3 reports `ExpiredObjectDeleteMarker: false` for rules that never set it.
        if self.expired_object_delete_marker == Some(false) {
            self.expired_object_delete_marker = None;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionDoc {
    pub days: u32,
    pub storage_class: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentTransitionDoc {
    pub days: u32,
    pub storage_class: String,
    pub newer_noncurrent_versions: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingDoc {
    /// Physical name of the bucket that receives the logs.
    pub target_bucket: String,
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRuleDoc {
    pub id: Option<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

/// What a notification configuration sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationTarget {
    Topic,
    Queue,
    Lambda,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationDoc {
    pub id: String,
    pub target: NotificationTarget,
    pub arn: String,
    /// Sorted.
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationDoc {
    pub role_arn: String,
    /// Sorted by ID.
    pub rules: Vec<ReplicationRuleDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationRuleDoc {
    pub id: String,
    pub priority: i32,
    pub enabled: bool,
    pub prefix: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// ARN of the destination bucket.
    pub destination_bucket_arn: String,
    pub storage_class: Option<String>,
    pub delete_marker_replication: bool,
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
