//! The registry of bucket document kinds: one pure descriptor ([`KindSpec`]) per [`DocKind`], in a
//! file of its own, holding everything about the kind that is not its value type or an SDK call: its
//! names, the API operations and IAM actions that read and write it, the error codes with which S3 says
//! "not configured", whether AWS configures it on new buckets, where the plan renderer starts its paths,
//! and which other documents a change to it must wait for in the graph.
//!
//! Every user reads these descriptors instead of keeping its own table: `aws::read` (operations,
//! "not configured" codes), `aws::probe` and `doctor` (probes and the printed policy), `model::grants`
//! (`manage`), `diff` (documents AWS pre-configures), `plan::graph` (edges) and `plan::render` (paths).
//! [`spec`] is an exhaustive match, so a new kind does not compile until it has a descriptor, and the
//! tests below fail if a descriptor is incomplete or names the wrong kind.

mod cors;
mod encryption;
pub mod inventory;
mod lifecycle;
mod logging;
mod notifications;
mod ownership;
mod policy;
mod public_access_block;
mod replication;
mod tags;
mod versioning;

use super::DocKind;

/// How s3rec reads and writes one configuration document, in IAM terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocAccess {
    pub kind: DocKind,
    /// The API operation that reads the document, e.g. `GetBucketLifecycleConfiguration`.
    pub read_operation: &'static str,
    /// The IAM action that authorises the read, e.g. `s3:GetLifecycleConfiguration`.
    pub read_action: &'static str,
    /// The IAM actions of every call `aws::write` may make to change or remove the document, sorted.
    /// S3 authorises most Delete* calls with the Put* action; the bucket policy is the exception.
    /// Names as in the Service Authorization Reference, "Actions, resources, and condition keys for
    /// Amazon S3".
    pub write_actions: &'static [&'static str],
}

/// Everything s3rec knows about one document kind apart from its value type and its SDK calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSpec {
    pub kind: DocKind,
    /// The name in resource addresses (`bucket.logs.lifecycle`) and output.
    pub name: &'static str,
    /// The bucket's field in the manifest that holds this document.
    pub manifest_field: &'static str,
    /// The one table of API operations and IAM actions for the kind.
    pub access: DocAccess,
    /// The error codes of the read with which S3 (and the S3-compatible servers s3rec has met) says
    /// "this bucket has no such configuration": answers, not failures, read as the unconfigured value.
    /// `NoSuchBucket` is never one: a bucket that vanishes mid-read is an error.
    pub not_configured: &'static [&'static str],
    /// Whether AWS configures the document on every new bucket (encryption, public access block and
    /// ownership since 2023): such documents are always written when s3rec creates a bucket, even when
    /// the manifest wants the unconfigured value, so AWS and S3-compatible servers end up alike.
    pub preconfigured_by_aws: bool,
    /// Where the plan renderer's paths start for this document: its name for scalar and list documents
    /// (`rules`, `tags`), empty for object-shaped ones whose fields are shown at the top.
    pub render_root: &'static str,
    /// Documents of the same bucket whose changes must come before a change to this one.
    pub after_own: &'static [DocKind],
    /// Documents of each bucket this one refers to (a log target, a replication destination) whose
    /// changes must come before a change to this one.
    pub after_target: &'static [DocKind],
}

/// The descriptor of `kind`.
pub const fn spec(kind: DocKind) -> &'static KindSpec {
    match kind {
        DocKind::Versioning => &versioning::SPEC,
        DocKind::Encryption => &encryption::SPEC,
        DocKind::PublicAccessBlock => &public_access_block::SPEC,
        DocKind::Ownership => &ownership::SPEC,
        DocKind::Tags => &tags::SPEC,
        DocKind::Lifecycle => &lifecycle::SPEC,
        DocKind::Policy => &policy::SPEC,
        DocKind::Logging => &logging::SPEC,
        DocKind::Cors => &cors::SPEC,
        DocKind::Notifications => &notifications::SPEC,
        DocKind::Replication => &replication::SPEC,
        DocKind::Inventory => &inventory::SPEC,
    }
}

/// Every descriptor, in [`DocKind::ALL`] order.
pub fn all() -> impl Iterator<Item = &'static KindSpec> {
    DocKind::ALL.into_iter().map(spec)
}

/// The actions that read and write `kind`, sorted: what `grants`' `manage` needs for it.
pub fn read_write_actions(kind: DocKind) -> Vec<&'static str> {
    let access = &spec(kind).access;
    let mut actions = vec![access.read_action];
    actions.extend_from_slice(access.write_actions);
    actions.sort_unstable();
    actions.dedup();
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A kind with a missing or wrong piece fails here rather than being silently left out.
    #[test]
    fn every_kind_has_a_complete_descriptor() {
        let mut names = BTreeSet::new();
        let mut fields = BTreeSet::new();
        let mut codes = BTreeSet::new();
        for kind in DocKind::ALL {
            let s = spec(kind);
            assert_eq!(s.kind, kind, "{kind:?}'s descriptor names another kind");
            assert_eq!(s.access.kind, kind, "{kind:?}'s access names another kind");
            assert!(!s.name.is_empty() && !s.manifest_field.is_empty(), "{kind:?}");
            assert!(names.insert(s.name), "{} twice", s.name);
            assert!(fields.insert(s.manifest_field), "{} twice", s.manifest_field);
            // Get*, or List* for the kinds S3 reads only as a listing (inventory configurations).
            assert!(
                s.access.read_operation.starts_with("Get") || s.access.read_operation.starts_with("List"),
                "{kind:?}"
            );
            assert!(s.access.read_action.starts_with("s3:Get"), "{kind:?}");
            assert!(!s.access.write_actions.is_empty(), "{kind:?} has no write action");
            assert!(
                s.access.write_actions.windows(2).all(|w| w[0] < w[1]),
                "{:?}",
                s.access.write_actions
            );
            for w in s.access.write_actions {
                assert!(w.starts_with("s3:Put") || w.starts_with("s3:Delete"), "{w}");
            }
            for code in s.not_configured {
                assert_ne!(*code, "NoSuchBucket");
                assert!(codes.insert(*code), "{code} claimed by two kinds");
            }
            assert!(!s.after_own.contains(&kind), "{kind:?} waits for itself");
        }
        assert_eq!(all().count(), DocKind::ALL.len());
    }

    #[test]
    fn manage_actions_of_a_kind_are_its_read_and_write_actions() {
        assert_eq!(
            read_write_actions(DocKind::Policy),
            ["s3:DeleteBucketPolicy", "s3:GetBucketPolicy", "s3:PutBucketPolicy"]
        );
        assert_eq!(
            read_write_actions(DocKind::Cors),
            ["s3:GetBucketCORS", "s3:PutBucketCORS"]
        );
    }
}
