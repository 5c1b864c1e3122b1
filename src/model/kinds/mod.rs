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

/// The one list of document kinds: `Variant => module`, in the order plans, reads and the state list
/// them. Adding a kind is one line here plus its unit `model/kinds/MODULE.rs` (a marker type named like
/// the variant implementing [`Kind`]) and its adapter `aws/kinds/MODULE.rs`. Every dispatch over kinds
/// is generated from this list, in this module ([`define_doc_kinds`]) and in `aws::kinds`, which
/// invokes this macro with a callback of its own.
macro_rules! with_doc_kinds {
    ($callback:ident) => {
        $callback! {
            Versioning => versioning,
            Encryption => encryption,
            PublicAccessBlock => public_access_block,
            Ownership => ownership,
            Tags => tags,
            Lifecycle => lifecycle,
            Policy => policy,
            Logging => logging,
            Cors => cors,
            Notifications => notifications,
            Replication => replication,
            ObjectLock => object_lock,
            TransferAcceleration => transfer_acceleration,
            Inventory => inventory,
            Website => website,
            IntelligentTiering => intelligent_tiering,
        }
    };
}
pub(crate) use with_doc_kinds;

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::desired::{Context, DesiredError};
use crate::manifest::diagnostic::Problem;
use crate::manifest::types::Bucket;

/// What the importer converts a document against: the imported buckets' logical names and the related
/// IAM and SNS resources (see `import`).
pub use crate::import::Refs as ImportRefs;

/// One document kind: its descriptor, its canonical value type and everything the pure core does with
/// it. The defaults fit the common case (no canonicalization beyond equality, "AWS default" is the
/// unconfigured value, no references, every change reversible, nothing to check beyond the schema).
pub trait Kind {
    /// The document in canonical form; two values are the same configuration exactly when equal.
    type Value: Debug + Clone + PartialEq + Serialize + DeserializeOwned;

    const SPEC: KindSpec;

    /// The value of a bucket nobody configured (what the "not configured" read answers become).
    fn unconfigured() -> Self::Value;

    /// Brings a value into canonical form: sorted where AWS does not keep order, empty strings as absent.
    fn canonical(value: Self::Value) -> Self::Value {
        value
    }

    /// The value the manifest wants for bucket `logical` (`bucket` with `defaults` applied), or `None`
    /// when the manifest leaves the document out (unmanaged).
    fn desired(ctx: &Context<'_>, logical: &str, bucket: &Bucket) -> Result<Option<Self::Value>, DesiredError>;

    /// Writes a live value into the imported manifest `bucket` (physical name `physical`), or says why
    /// the manifest cannot hold it. Called only for values that are not [`Kind::is_aws_default`].
    fn to_manifest(
        value: &Self::Value,
        bucket: &mut Bucket,
        physical: &str,
        refs: &ImportRefs<'_>,
    ) -> Result<(), String>;

    /// Whether the value is what a bucket created today on AWS has without anyone configuring it:
    /// import leaves such documents out.
    fn is_aws_default(value: &Self::Value) -> bool {
        *value == Self::unconfigured()
    }

    /// Physical names of the buckets the value points at (the graph orders changes after them).
    fn referenced_buckets(_value: &Self::Value) -> Vec<String> {
        Vec::new()
    }

    /// ARNs of the IAM and SNS resources the value names (what `import --with-related` brings along).
    fn named_identities(_value: &Self::Value) -> Vec<String> {
        Vec::new()
    }

    /// Why changing the live value `before` (`None` for a new bucket) to `after` cannot be undone, or
    /// `None` when it can. Shown on the plan's change in text, JSON and markdown.
    fn irreversible(_before: Option<&Self::Value>, _after: &Self::Value) -> Option<String> {
        None
    }

    /// What the schema cannot say about the bucket's section (`own` as written, `effective` with
    /// `defaults` applied): problems with JSON pointers relative to the bucket (`"versioning"`).
    fn check(_own: &Bucket, _effective: &Bucket) -> Vec<KindProblem> {
        Vec::new()
    }
}

/// A problem a kind finds in a bucket's section, placed by `manifest::check`.
#[derive(Debug, Clone)]
pub struct KindProblem {
    pub problem: Problem,
    /// JSON pointer below the bucket, e.g. `object_lock/default_retention`.
    pub pointer: String,
    /// Whether the problem is about the entry as a whole (points at its key) rather than its value.
    pub on_key: bool,
}

/// Generates, from the one list ([`with_doc_kinds`]), the unit modules, [`DocKind`], [`Doc`] and every
/// dispatch from a kind or a document to its [`Kind`] implementation.
macro_rules! define_doc_kinds {
    ($($variant:ident => $module:ident,)*) => {
        $(pub mod $module;)*

        /// The configuration documents s3rec manages on a bucket, one AWS API pair (Get/Put) each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum DocKind {
            $($variant,)*
        }

        /// How many document kinds there are: what a plan reads per bucket.
        pub const COUNT: usize = [$(DocKind::$variant,)*].len();

        impl DocKind {
            pub const ALL: [DocKind; COUNT] = [$(DocKind::$variant,)*];
        }

        /// One configuration document in canonical form. The variant always matches its [`DocKind`].
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "value", rename_all = "snake_case")]
        pub enum Doc {
            $($variant(<$module::$variant as Kind>::Value),)*
        }

        /// The descriptor of `kind`.
        pub const fn spec(kind: DocKind) -> &'static KindSpec {
            match kind {
                $(DocKind::$variant => &<$module::$variant as Kind>::SPEC,)*
            }
        }

        impl Doc {
            pub fn kind(&self) -> DocKind {
                match self {
                    $(Doc::$variant(_) => DocKind::$variant,)*
                }
            }

            /// The document as a bucket that nobody configured has it (what `Get*` answers for a fresh
            /// bucket on AWS after the "not configured" errors are read as values).
            pub fn unconfigured(kind: DocKind) -> Doc {
                match kind {
                    $(DocKind::$variant => Doc::$variant(<$module::$variant as Kind>::unconfigured()),)*
                }
            }

            /// Brings a document into canonical form. Readers and the desired-model builder both call
            /// this, so equal meaning compares equal.
            pub fn canonical(self) -> Doc {
                match self {
                    $(Doc::$variant(v) => Doc::$variant(<$module::$variant as Kind>::canonical(v)),)*
                }
            }

            /// See [`Kind::is_aws_default`].
            pub fn is_aws_default(&self) -> bool {
                match self {
                    $(Doc::$variant(v) => <$module::$variant as Kind>::is_aws_default(v),)*
                }
            }

            /// See [`Kind::referenced_buckets`].
            pub fn referenced_buckets(&self) -> Vec<String> {
                match self {
                    $(Doc::$variant(v) => <$module::$variant as Kind>::referenced_buckets(v),)*
                }
            }

            /// See [`Kind::named_identities`].
            pub fn named_identities(&self) -> Vec<String> {
                match self {
                    $(Doc::$variant(v) => <$module::$variant as Kind>::named_identities(v),)*
                }
            }

            /// See [`Kind::irreversible`]; a `before` of another kind counts as absent.
            pub fn irreversible(before: Option<&Doc>, after: &Doc) -> Option<String> {
                match after {
                    $(Doc::$variant(a) => {
                        let b = match before {
                            Some(Doc::$variant(b)) => Some(b),
                            _ => None,
                        };
                        <$module::$variant as Kind>::irreversible(b, a)
                    })*
                }
            }

            /// See [`Kind::to_manifest`].
            pub fn to_manifest(&self, bucket: &mut Bucket, physical: &str, refs: &ImportRefs<'_>) -> Result<(), String> {
                match self {
                    $(Doc::$variant(v) => <$module::$variant as Kind>::to_manifest(v, bucket, physical, refs),)*
                }
            }
        }

        /// Every document the manifest manages on bucket `logical` (`bucket` with `defaults` applied),
        /// in canonical form; the first error in [`DocKind::ALL`] order is the answer.
        pub fn desired_docs(ctx: &Context<'_>, logical: &str, bucket: &Bucket) -> Result<BTreeMap<DocKind, Doc>, DesiredError> {
            let mut docs = BTreeMap::new();
            $(
                if let Some(v) = <$module::$variant as Kind>::desired(ctx, logical, bucket)? {
                    docs.insert(DocKind::$variant, Doc::$variant(v).canonical());
                }
            )*
            Ok(docs)
        }

        /// Every kind's own checks of one bucket (see [`Kind::check`]).
        pub fn check_bucket(own: &Bucket, effective: &Bucket) -> Vec<KindProblem> {
            let mut out = Vec::new();
            $(out.extend(<$module::$variant as Kind>::check(own, effective));)*
            out
        }
    };
}

with_doc_kinds!(define_doc_kinds);

/// How s3rec reads and writes one configuration document, in IAM terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocAccess {
    pub kind: DocKind,
    /// The API operation that reads the document, e.g. `GetBucketLifecycleConfiguration`.
    pub read_operation: &'static str,
    /// The IAM action that authorises the read, e.g. `s3:GetLifecycleConfiguration`.
    pub read_action: &'static str,
    /// The IAM actions of every call the kind's adapter may make to change or remove the document,
    /// sorted: exactly the actions of [`DocAccess::write_calls`] (a registry test holds them equal).
    /// S3 authorises most Delete* calls with the Put* action; the bucket policy and the website configuration are the exceptions.
    /// Names as in the Service Authorization Reference, "Actions, resources, and condition keys for
    /// Amazon S3".
    pub write_actions: &'static [&'static str],
    /// Every call the kind's adapter makes to change or remove the document, each with the IAM action
    /// that authorises it. The adapter builds its requests' [`Op`](crate::aws::Op) from these
    /// constants (the unit's `PUT`, `DELETE`, ...), so an operation and its action are written once.
    pub write_calls: &'static [ApiCall],
}

/// One API operation and the IAM action that authorises it, e.g. `DeleteBucketCors` with
/// `s3:PutBucketCORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCall {
    pub operation: &'static str,
    pub action: &'static str,
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

    /// The one table of write actions: `write_actions` (what `grants`, `doctor` and the probes read) is
    /// exactly the sorted set of the actions of the calls the adapters make (`write_calls`).
    #[test]
    fn write_actions_are_the_actions_of_the_write_calls() {
        for kind in DocKind::ALL {
            let access = &spec(kind).access;
            assert!(!access.write_calls.is_empty(), "{kind:?} lists no write call");
            let from_calls: BTreeSet<&str> = access.write_calls.iter().map(|c| c.action).collect();
            let listed: BTreeSet<&str> = access.write_actions.iter().copied().collect();
            assert_eq!(listed, from_calls, "{kind:?}");
            let mut operations = BTreeSet::new();
            for call in access.write_calls {
                assert!(
                    call.operation.starts_with("Put") || call.operation.starts_with("Delete"),
                    "{kind:?}: {}",
                    call.operation
                );
                assert!(operations.insert(call.operation), "{kind:?}: {} twice", call.operation);
            }
        }
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
