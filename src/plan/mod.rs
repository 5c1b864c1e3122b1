//! Plans: typed changes on resource addresses, the dependency graph between them, and the saved plan.
//!
//! A plan is plain data. `apply` is driven only by the changes in it, so nothing outside the plan is
//! touched; the JSON form (`plan --format json`, `plan --out FILE`) is versioned and documented in
//! docs/plan-format.md.

pub mod cause;
pub mod graph;
pub mod render;

pub use cause::Cause;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::identity::{IdentityDoc, IdentityKind, PartKind};
use crate::model::{Doc, DocKind};

/// Version of the plan JSON document. Fields are only added within a version.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What a change does, Terraform's way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete then create (a bucket that must move region).
    Replace,
    Delete,
    /// A resource that exists in AWS but not yet in the state passes under management: nothing happens
    /// in AWS, apply records it in the state. Its own action (not a no-op) so a reviewer sees it, and so
    /// the diff can refuse to ever delete or replace what s3rec does not manage yet.
    Adopt,
    /// Nothing to do in AWS; the state forgets or records something (e.g. a bucket dropped from the
    /// manifest without pruning).
    NoOp,
}

impl Action {
    /// The symbol printed before the address: `+ ~ -/+ - =`.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Adopt => "=",
            Action::NoOp => " ",
        }
    }

    /// Whether the change makes calls to AWS. Adoptions and no-ops only change the state.
    pub fn calls_aws(self) -> bool {
        match self {
            Action::Create | Action::Update | Action::Replace | Action::Delete => true,
            Action::Adopt | Action::NoOp => false,
        }
    }

    /// Whether a reviewer must see the change: everything but a no-op (adoptions included).
    pub fn is_visible(self) -> bool {
        self != Action::NoOp
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Adopt => "adopt",
            Action::NoOp => "no-op",
        }
    }
}

/// A resource address: `bucket.logs` for a bucket, `bucket.logs.lifecycle` for one of its documents.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(pub String);

impl Address {
    pub fn bucket(logical: &str) -> Address {
        Address(format!("bucket.{logical}"))
    }

    pub fn bucket_doc(logical: &str, kind: DocKind) -> Address {
        Address(format!("bucket.{logical}.{}", kind.as_str()))
    }

    /// `iam_user.app`, or `iam_user.app.inline_policy` for one of its parts.
    pub fn identity(kind: IdentityKind, logical: &str, part: Option<PartKind>) -> Address {
        match part {
            None => Address(format!("{kind}.{logical}")),
            Some(part) => Address(format!("{kind}.{logical}.{part}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this address is `target` or inside it (`bucket.logs` contains `bucket.logs.policy`).
    pub fn within(&self, target: &str) -> bool {
        self.0 == target || self.0.starts_with(&format!("{target}."))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The resource a change acts on, with what the executor needs to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resource {
    Bucket {
        logical: String,
        name: String,
        region: String,
        /// Region the bucket is in now, when that differs (a replace).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        current_region: Option<String>,
        #[serde(default)]
        force_destroy: bool,
        /// Remembered in the state so a later removal from the manifest is still blocked.
        #[serde(default)]
        prevent_destroy: bool,
    },
    BucketDoc {
        logical: String,
        bucket: String,
        region: String,
        kind: DocKind,
    },
    /// An IAM user, role or managed policy, or an SNS topic; or one part of it when `part` is set.
    Identity {
        kind: IdentityKind,
        logical: String,
        /// Physical name of the user, role, policy or topic.
        name: String,
        arn: String,
        /// The topic's region; for IAM (global), the manifest's default region.
        region: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        part: Option<PartKind>,
    },
}

/// The value of a resource before or after a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// A bucket's own attributes.
    Bucket {
        name: String,
        region: String,
    },
    Doc(Doc),
    /// An IAM or SNS resource's attributes, or one of its parts.
    Identity(IdentityDoc),
}

/// One typed change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    pub resource: Resource,
    /// The live value the plan was made against; `None` when the resource does not exist. A saved plan
    /// is refused when the live value no longer equals this.
    pub before: Option<Value>,
    /// The value after the change; `None` for a delete.
    pub after: Option<Value>,
    /// Why, when it is not obvious from before/after (e.g. "no longer in the manifest").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why this change cannot be undone (its kind's `Kind::irreversible`), e.g. enabling Object Lock;
    /// shown as a warning in every plan format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irreversible: Option<String>,
    /// Whether AWS moved away from what s3rec last applied (drift), the manifest changed (edit), or
    /// both; absent for resources the state does not hold yet. Set by the planner from the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

/// "must happen after": `after` runs only once `before` succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Edge {
    pub before: Address,
    pub after: Address,
}

/// A plan: every change, the order constraints between them, and what it was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub environment: String,
    /// SHA-256 of the manifest files (the environment and its `extends` chain), so a saved plan is
    /// refused when the manifest changed since.
    pub manifest_sha256: String,
    /// Caller account the plan was made with, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `--target` addresses the plan was limited to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    pub changes: Vec<Change>,
    pub edges: Vec<Edge>,
    /// Security findings on the estate as this plan leaves it (docs/findings.md), most severe first:
    /// the manifest's settings, and what AWS has for those it leaves out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::findings::render::JsonFinding>,
    /// Findings that do not change anything (audit warnings, unmanaged leftovers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The work of each sync mapping as it stands now. `apply` runs the mappings after the changes
    /// (deciding again what to upload, since files change between plan and apply).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syncs: Vec<SyncWork>,
    /// The state the plan was made against; `apply` refuses the plan once another run moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateVersion>,
    /// Where each migration stands. Information only: `apply` never runs migrations (they can take
    /// days); `s3rec migrate run` does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<MigrationWork>,
    /// With `plan --cost`: what each bucket whose lifecycle rules or versioning change would cost
    /// before and after, from a listing of its versions (docs/cost.md). Information only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub costs: Vec<CostDelta>,
}

/// Which state a plan was made against: the database's lineage (drawn when it was created, kept by every
/// copy) and its serial (bumped when a run begins and when it finishes). Two equal versions mean no run
/// changed the state in between.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateVersion {
    pub lineage: String,
    pub serial: u64,
}

impl StateVersion {
    /// Whether `now` is another state than this one. Two states no run ever changed (serial 0) are the
    /// same whatever their lineage: a plan made on one machine before the first apply anywhere is still
    /// good on a CI runner whose empty state was created a moment ago.
    pub fn moved_to(&self, now: &StateVersion) -> bool {
        self != now && !(self.serial == 0 && now.serial == 0)
    }
}

impl fmt::Display for StateVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "serial {} of lineage {}", self.serial, self.lineage)
    }
}

/// What one migration has left to do, from the state's inventory or, before the first scan, from a
/// listing of its source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationWork {
    pub migration: String,
    pub bucket: String,
    /// The phase (`scan` before the first `migrate run`, then `restore`, `wait`, `download`, `verify`,
    /// `delete`, `done` or `blocked`).
    pub phase: String,
    /// Whether the figures come from a recorded scan (true) or from a listing made for this plan.
    pub scanned: bool,
    /// Objects and bytes to restore, to download, verified, eligible for delete, ...
    #[serde(flatten)]
    pub counts: crate::migrate::status::Tally,
    /// Why the migration could not be assessed (its source bucket does not exist, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl MigrationWork {
    /// `migration.old: phase restore: 120 objects (3.2 GiB); 40 to restore (1.1 GiB), 68 to download (2.0 GiB), ...`.
    pub fn line(&self) -> String {
        let size = crate::words::size;
        if let Some(error) = &self.error {
            return format!("migration.{}: cannot be assessed: {error}", self.migration);
        }
        let c = &self.counts;
        let mut parts = Vec::new();
        if c.to_restore > 0 {
            parts.push(format!("{} to restore ({})", c.to_restore, size(c.to_restore_bytes)));
        }
        if c.restoring > 0 {
            parts.push(format!("{} restoring", c.restoring));
        }
        parts.push(format!("{} to download ({})", c.to_download, size(c.to_download_bytes)));
        parts.push(format!("{} to verify", c.to_verify));
        parts.push(format!("{} verified", c.verified));
        parts.push(format!("{} eligible for delete", c.eligible_for_delete));
        for (n, what) in [
            (c.deleted, "deleted"),
            (c.failed, "failed"),
            (c.refused, "refused (keys that cannot be files)"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let source = if self.scanned {
            ""
        } else {
            " (not scanned yet; counted from a listing)"
        };
        format!(
            "migration.{} (s3://{}): phase {}{source}: {} ({}); {}",
            self.migration,
            self.bucket,
            self.phase,
            crate::words::counted(c.objects, "object"),
            size(c.bytes),
            parts.join(", ")
        )
    }
}

/// The cost of one bucket's changes to lifecycle rules or versioning, projected over 12 months from its
/// listed versions with the rules before and after (`crate::cost`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostDelta {
    /// The bucket's address (`bucket.logs`).
    pub address: Address,
    /// What changes: `lifecycle`, `versioning`.
    pub changed: Vec<String>,
    /// The monthly cost in the 12th month, before and after the change (steady state, fees aside).
    pub monthly_before: f64,
    pub monthly_after: f64,
    /// The one-time fees the change brings (transition requests, early deletion), after minus before.
    pub one_time_fees: f64,
    /// The 12 months' total after minus before, fees included.
    pub total_12_months: f64,
    /// Why the bucket could not be priced (no prices for its region, a refused listing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CostDelta {
    /// `bucket.logs (lifecycle): $12.40 → $3.10 a month (-$9.30), one-time fees $4.00, 12 months -$98.20`.
    pub fn line(&self) -> String {
        let money = crate::cost::render::money;
        let what = self.changed.join(", ");
        if let Some(error) = &self.error {
            return format!("{} ({what}): cost not known: {error}", self.address);
        }
        let signed = |x: f64| {
            if x < 0.0 {
                format!("-{}", money(-x))
            } else {
                format!("+{}", money(x))
            }
        };
        format!(
            "{} ({what}): {} → {} a month ({}), one-time fees {}, 12 months {}",
            self.address,
            money(self.monthly_before),
            money(self.monthly_after),
            signed(self.monthly_after - self.monthly_before),
            money(self.one_time_fees),
            signed(self.total_12_months)
        )
    }
}

/// What one sync mapping would upload and delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncWork {
    pub mapping: String,
    pub uploads: usize,
    pub upload_bytes: u64,
    pub deletes: usize,
    pub unchanged: usize,
    /// Deletes land in a versioned bucket, where they become delete markers (the data stays).
    #[serde(default)]
    pub delete_markers: bool,
    /// Why the mapping could not be compared (a missing source directory, say). `apply` still runs it,
    /// so the run fails with the same message instead of passing in silence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The uploads by where they land (region and storage class: a route may send files to another
    /// bucket or class), for `plan --cost`. Empty when there are no uploads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upload_classes: Vec<UploadClass>,
}

/// Uploads of one sync mapping that land in one region and storage class.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UploadClass {
    pub region: String,
    pub storage_class: String,
    pub uploads: usize,
    pub bytes: u64,
}

impl SyncWork {
    pub fn has_work(&self) -> bool {
        self.uploads > 0 || self.deletes > 0 || self.error.is_some()
    }

    /// `sync.photos: 120 to upload (1.2 GiB), 3 to delete (delete markers: the bucket is versioned)`.
    pub fn line(&self) -> String {
        if let Some(error) = &self.error {
            return format!("sync.{}: cannot be compared: {error}", self.mapping);
        }
        let mut parts = Vec::new();
        if self.uploads > 0 {
            parts.push(format!(
                "{} to upload ({})",
                self.uploads,
                crate::words::size(self.upload_bytes)
            ));
        }
        if self.deletes > 0 {
            let markers = if self.delete_markers {
                " (as delete markers: the bucket is versioned, so the data stays recoverable)"
            } else {
                ""
            };
            parts.push(format!("{} to delete{markers}", self.deletes));
        }
        if parts.is_empty() {
            format!(
                "sync.{}: up to date ({})",
                self.mapping,
                crate::words::counted(self.unchanged, "file")
            )
        } else {
            format!(
                "sync.{}: {}, {} unchanged",
                self.mapping,
                parts.join(", "),
                self.unchanged
            )
        }
    }
}

impl Plan {
    /// Changes that do something in AWS.
    pub fn actionable(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action.calls_aws())
    }

    /// Changes a reviewer must see: the actionable ones and adoptions.
    pub fn visible(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action.is_visible())
    }

    /// Whether applying would do anything worth a review: a change, an adoption, or files to sync.
    pub fn has_changes(&self) -> bool {
        self.visible().next().is_some() || self.syncs.iter().any(SyncWork::has_work)
    }

    /// `(create, update, replace, delete, adopt)` counts, for the summary line.
    pub fn counts(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::Adopt => s.adopt += 1,
                Action::NoOp => {}
            }
            if c.cause.is_some_and(Cause::is_drift) {
                s.drift += 1;
            }
        }
        s
    }
}

/// The field of a saved plan file that holds the SHA-256 of the plan's content.
pub const PLAN_DIGEST_FIELD: &str = "plan_sha256";

impl Plan {
    /// SHA-256 (lowercase hex) of the plan's JSON document ([`render::json`]). A plan read back from its
    /// file serializes to the same document, so the digest survives saving and is the plan's identity:
    /// a saved file carries it, and the state records it for the run that executed the plan.
    pub fn sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        crate::model::hex(&Sha256::digest(render::json(self).as_bytes()))
    }
}

/// Why a saved plan file is refused.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("it is not an s3rec plan of format version {PLAN_FORMAT_VERSION}")]
    NotAPlan,
    #[error("it carries no `{PLAN_DIGEST_FIELD}`, so s3rec cannot tell whether it was changed after it was made")]
    NoDigest,
    #[error(
        "it was changed after `s3rec plan` wrote it: its content no longer matches its `{PLAN_DIGEST_FIELD}` \
         (recorded {recorded}, content {actual})"
    )]
    Modified { recorded: String, actual: String },
    #[error("it is not a valid s3rec plan: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// The text of a saved plan file: the plan's JSON document with [`PLAN_DIGEST_FIELD`] added.
pub fn seal(plan: &Plan) -> String {
    let document = render::json(plan);
    let mut value: serde_json::Value = match serde_json::from_str(&document) {
        Ok(value) => value,
        // `render::json` always writes a JSON object; were it not one, the file would be refused on reading.
        Err(_) => return document,
    };
    if let Some(fields) = value.as_object_mut() {
        fields.insert(PLAN_DIGEST_FIELD.to_string(), serde_json::Value::String(plan.sha256()));
    }
    let mut out = serde_json::to_string_pretty(&value).unwrap_or(document);
    out.push('\n');
    out
}

/// Reads a saved plan file's text, refusing one whose content does not match its digest: a plan edited
/// by hand would otherwise be applied as written, bypassing the review of the plan that was shown.
pub fn unseal(text: &str) -> Result<Plan, SavedPlanError> {
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|_| SavedPlanError::NotAPlan)?;
    let version = value.get("format_version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(PLAN_FORMAT_VERSION)) {
        return Err(SavedPlanError::NotAPlan);
    }
    let recorded = match value.as_object_mut().and_then(|f| f.remove(PLAN_DIGEST_FIELD)) {
        Some(serde_json::Value::String(digest)) => digest,
        _ => return Err(SavedPlanError::NoDigest),
    };
    let plan: Plan = serde_json::from_value(value)?;
    let actual = plan.sha256();
    if actual != recorded {
        return Err(SavedPlanError::Modified { recorded, actual });
    }
    Ok(plan)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    /// Resources that pass under management without an AWS call. Left out of the JSON when zero, so a
    /// plan without adoptions prints (and digests) as it did before adoptions were counted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub adopt: usize,
    /// Of the changes above, those that undo drift: AWS moved away from what s3rec last applied. Left
    /// out of the JSON when zero, like `adopt`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drift: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
