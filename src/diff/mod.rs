//! The pure diff: desired buckets, what AWS has, and what the state remembers → typed changes. IAM and
//! SNS resources are compared by [`identity`] with the same rules.
//!
//! No I/O. Equality of canonical documents decides everything; see `model` for how the two sides are
//! made comparable.

pub mod identity;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{DesiredBucket, Doc, DocKind, ObservedBucket};
use crate::plan::{Action, Address, Change, Resource, Value};

/// What the state remembers about a resource it manages, as far as the diff needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Managed {
    pub address: Address,
    /// Physical bucket name.
    pub bucket: String,
    pub region: String,
    /// For documents: which one. `None` for the bucket itself.
    pub kind: Option<DocKind>,
    pub force_destroy: bool,
    pub prevent_destroy: bool,
}

/// Everything the diff compares.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub desired: Vec<DesiredBucket>,
    /// Live state by physical bucket name; a missing bucket maps to `None`.
    pub observed: BTreeMap<String, Option<ObservedBucket>>,
    /// Resources the state manages.
    pub managed: Vec<Managed>,
    /// `state.prune`: delete managed buckets that left the manifest.
    pub prune: bool,
}

/// A plan that must not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error("{address} has prevent_destroy set, but this plan would {verb} bucket {bucket}")]
    PreventDestroy {
        address: String,
        bucket: String,
        verb: &'static str,
    },
    #[error("{address}: bucket {bucket} is not empty and force_destroy is not set, so it cannot be {verb}d")]
    NotEmpty {
        address: String,
        bucket: String,
        verb: &'static str,
    },
    /// A resource exists in AWS but not in the state, and the manifest wants an attribute AWS cannot
    /// change in place: honouring it would mean deleting something s3rec never managed.
    #[error(
        "{address}: {what} {name} already exists with {attribute} {actual}, but the manifest wants {wanted};          s3rec does not manage it (it is not in the state), so it will not delete and re-create it"
    )]
    Unmanaged {
        address: String,
        /// `bucket`, `IAM role`, `IAM policy`, ...
        what: &'static str,
        /// The physical name.
        name: String,
        /// The immutable attribute that differs: `region`, `path`, `description`.
        attribute: &'static str,
        /// Its value in AWS.
        actual: String,
        /// Its value in the manifest.
        wanted: String,
    },
}

impl DiffError {
    pub fn hint(&self) -> String {
        match self {
            DiffError::PreventDestroy { .. } => {
                "remove prevent_destroy from the bucket (or defaults) first, apply, then make the change".to_string()
            }
            DiffError::NotEmpty { .. } => {
                "empty the bucket, or set force_destroy: true on it and apply before removing it from the manifest"
                    .to_string()
            }
            DiffError::Unmanaged {
                address,
                what,
                name,
                attribute,
                actual,
                ..
            } => format!(
                "either set `{attribute}: {actual}` for {address} in the manifest, so s3rec adopts the {what} as it is, \
                 or remove {what} {name} by hand and plan again (s3rec will not delete what it never managed)"
            ),
        }
    }
}

/// Compares and returns the changes in address order.
pub fn diff(inputs: &Inputs) -> Result<Vec<Change>, Vec<DiffError>> {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    let managed: HashMap<&Address, &Managed> = inputs.managed.iter().map(|m| (&m.address, m)).collect();
    // Physical buckets the state manages, whatever their logical name (a renamed bucket is still ours).
    let managed_buckets: HashSet<&str> = inputs
        .managed
        .iter()
        .filter(|m| m.kind.is_none())
        .map(|m| m.bucket.as_str())
        .collect();
    for want in &inputs.desired {
        let have = inputs.observed.get(&want.name).cloned().flatten();
        let ours = Ours {
            managed: &managed,
            bucket: managed_buckets.contains(want.name.as_str()),
        };
        bucket_changes(want, have.as_ref(), &ours, &mut changes, &mut errors);
    }
    leftovers(inputs, &mut changes, &mut errors);
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    if errors.is_empty() { Ok(changes) } else { Err(errors) }
}

/// Why a bucket whose `force_destroy`/`prevent_destroy` changed appears in a plan.
pub const GUARDS_REASON: &str = "force_destroy/prevent_destroy changed; apply records them in the state";
/// Why a bucket the state knows under another logical name appears in a plan.
pub const RENAMED_REASON: &str = "managed under another name; apply records it under this one";
/// Why an existing resource that is not in the state yet is updated: the update adopts it.
pub const ADOPTED_BY_UPDATE: &str = "exists in AWS but is not in the state yet: this update adopts it";

/// What the state says about one desired bucket.
struct Ours<'a> {
    /// Every managed address.
    managed: &'a HashMap<&'a Address, &'a Managed>,
    /// Whether the state manages the physical bucket (under this logical name or another).
    bucket: bool,
}

fn bucket_changes(
    want: &DesiredBucket,
    have: Option<&ObservedBucket>,
    ours: &Ours<'_>,
    out: &mut Vec<Change>,
    errors: &mut Vec<DiffError>,
) {
    let managed = ours.managed;
    let address = Address::bucket(&want.logical);
    let after = Value::Bucket {
        name: want.name.clone(),
        region: want.region.clone(),
    };
    let resource = |current_region: Option<String>| Resource::Bucket {
        logical: want.logical.clone(),
        name: want.name.clone(),
        region: want.region.clone(),
        current_region,
        force_destroy: want.force_destroy,
        prevent_destroy: want.prevent_destroy,
    };
    let fresh = match have {
        None => {
            out.push(Change {
                irreversible: None,
                cause: None,
                address: address.clone(),
                action: Action::Create,
                resource: resource(None),
                before: None,
                after: Some(after),
                reason: None,
            });
            true
        }
        // Never delete what s3rec does not manage: a bucket it never created or adopted is someone's.
        Some(h) if h.region != want.region && !ours.bucket => {
            errors.push(DiffError::Unmanaged {
                address: address.to_string(),
                what: "bucket",
                name: want.name.clone(),
                attribute: "region",
                actual: h.region.clone(),
                wanted: want.region.clone(),
            });
            return;
        }
        Some(h) if h.region != want.region => {
            if want.prevent_destroy {
                errors.push(DiffError::PreventDestroy {
                    address: address.to_string(),
                    bucket: want.name.clone(),
                    verb: "replace",
                });
            }
            if h.non_empty == Some(true) && !want.force_destroy {
                errors.push(DiffError::NotEmpty {
                    address: address.to_string(),
                    bucket: want.name.clone(),
                    verb: "replace",
                });
            }
            out.push(Change {
                irreversible: None,
                cause: None,
                address: address.clone(),
                action: Action::Replace,
                resource: resource(Some(h.region.clone())),
                before: Some(Value::Bucket {
                    name: h.name.clone(),
                    region: h.region.clone(),
                }),
                after: Some(after),
                reason: Some(format!(
                    "the bucket is in {} but the manifest wants {}",
                    h.region, want.region
                )),
            });
            true
        }
        Some(h) => {
            // Nothing to do in AWS, but the state must learn of the bucket, or of new destroy guards
            // (they decide what a later removal from the manifest may do).
            let recorded = match managed.get(&address) {
                None if !ours.bucket => Some((Action::Adopt, None)),
                None => Some((Action::NoOp, Some(RENAMED_REASON))),
                Some(m) if m.force_destroy != want.force_destroy || m.prevent_destroy != want.prevent_destroy => {
                    Some((Action::NoOp, Some(GUARDS_REASON)))
                }
                Some(_) => None,
            };
            if let Some((action, reason)) = recorded {
                out.push(Change {
                    irreversible: None,
                    cause: None,
                    address: address.clone(),
                    action,
                    resource: resource(None),
                    before: Some(Value::Bucket {
                        name: h.name.clone(),
                        region: h.region.clone(),
                    }),
                    after: Some(after),
                    reason: reason.map(str::to_string),
                });
            }
            false
        }
    };
    for (kind, doc) in &want.docs {
        let doc_address = Address::bucket_doc(&want.logical, *kind);
        let resource = Resource::BucketDoc {
            logical: want.logical.clone(),
            bucket: want.name.clone(),
            region: want.region.clone(),
            kind: *kind,
        };
        if fresh {
            // A new bucket has nothing configured; documents already equal to that need no call, except
            // the ones AWS pre-configures on new buckets (encryption, public access block, ownership),
            // which are always written so that AWS and S3-compatible servers end up alike.
            let preconfigured = kind.spec().preconfigured_by_aws;
            if *doc == Doc::unconfigured(*kind) && !preconfigured {
                continue;
            }
            out.push(Change {
                irreversible: Doc::irreversible(None, doc),
                cause: None,
                address: doc_address,
                action: Action::Create,
                resource,
                before: None,
                after: Some(Value::Doc(doc.clone())),
                reason: None,
            });
            continue;
        }
        let observed = have
            .and_then(|h| h.docs.get(kind))
            .cloned()
            .unwrap_or_else(|| Doc::unconfigured(*kind));
        // A document not configured on either side holds nothing to adopt: recording it would only
        // make it an adoption in every later plan of a bucket s3rec created.
        let nothing = observed == Doc::unconfigured(*kind);
        let action = if observed != *doc {
            Action::Update
        } else if !managed.contains_key(&doc_address) && !nothing {
            Action::Adopt
        } else {
            continue;
        };
        out.push(Change {
            irreversible: (action == Action::Update)
                .then(|| Doc::irreversible(Some(&observed), doc))
                .flatten(),
            cause: None,
            address: doc_address,
            action,
            resource,
            before: Some(Value::Doc(observed)),
            after: Some(Value::Doc(doc.clone())),
            reason: None,
        });
    }
}

/// Managed resources that the manifest no longer has: deleted when pruning is on, otherwise forgotten.
fn leftovers(inputs: &Inputs, out: &mut Vec<Change>, errors: &mut Vec<DiffError>) {
    let desired_addresses: Vec<Address> = inputs
        .desired
        .iter()
        .flat_map(|b| {
            std::iter::once(Address::bucket(&b.logical))
                .chain(b.docs.keys().map(|k| Address::bucket_doc(&b.logical, *k)))
        })
        .collect();
    let desired_names: Vec<&str> = inputs.desired.iter().map(|b| b.name.as_str()).collect();
    for m in &inputs.managed {
        if desired_addresses.contains(&m.address) {
            continue;
        }
        let bucket_gone = !desired_names.contains(&m.bucket.as_str());
        let forget = |reason: String| Change {
            irreversible: None,
            cause: None,
            address: m.address.clone(),
            action: Action::NoOp,
            resource: match m.kind {
                None => Resource::Bucket {
                    logical: logical_of(&m.address),
                    name: m.bucket.clone(),
                    region: m.region.clone(),
                    current_region: None,
                    force_destroy: m.force_destroy,
                    prevent_destroy: m.prevent_destroy,
                },
                Some(kind) => Resource::BucketDoc {
                    logical: logical_of(&m.address),
                    bucket: m.bucket.clone(),
                    region: m.region.clone(),
                    kind,
                },
            },
            before: None,
            after: None,
            reason: Some(reason),
        };
        match m.kind {
            Some(_) if !bucket_gone => {
                out.push(forget("no longer in the manifest: left as it is and no longer managed".to_string()));
            }
            Some(_) => {
                // A document of a bucket that leaves the manifest goes with its bucket.
                if !inputs.prune {
                    out.push(forget("its bucket is no longer in the manifest".to_string()));
                }
            }
            None if !bucket_gone => {
                // Same physical bucket under a new logical name: a rename, never a delete.
                out.push(forget("the bucket is managed under another name now".to_string()));
            }
            None if !inputs.prune => out.push(forget(
                "no longer in the manifest: the bucket is kept and no longer managed (set state.prune: true to delete it)"
                    .to_string(),
            )),
            None => {
                let live = inputs.observed.get(&m.bucket).cloned().flatten();
                let Some(live) = live else {
                    out.push(forget("already deleted outside s3rec".to_string()));
                    continue;
                };
                if m.prevent_destroy {
                    errors.push(DiffError::PreventDestroy {
                        address: m.address.to_string(),
                        bucket: m.bucket.clone(),
                        verb: "delete",
                    });
                }
                if live.non_empty == Some(true) && !m.force_destroy {
                    errors.push(DiffError::NotEmpty {
                        address: m.address.to_string(),
                        bucket: m.bucket.clone(),
                        verb: "delete",
                    });
                }
                out.push(Change {
                    irreversible: None,
                    cause: None,
                    address: m.address.clone(),
                    action: Action::Delete,
                    resource: Resource::Bucket {
                        logical: logical_of(&m.address),
                        name: m.bucket.clone(),
                        region: live.region.clone(),
                        current_region: None,
                        force_destroy: m.force_destroy,
                        prevent_destroy: m.prevent_destroy,
                    },
                    before: Some(Value::Bucket {
                        name: live.name.clone(),
                        region: live.region.clone(),
                    }),
                    after: None,
                    reason: Some("no longer in the manifest, and state.prune is on".to_string()),
                });
            }
        }
    }
}

/// `bucket.logs.policy` → `logs`.
fn logical_of(address: &Address) -> String {
    address.as_str().split('.').nth(1).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PublicAccessBlockDoc, VersioningState};

    fn desired(docs: Vec<Doc>) -> DesiredBucket {
        DesiredBucket {
            logical: "logs".into(),
            name: "logs-t".into(),
            region: "us-east-1".into(),
            docs: docs.into_iter().map(|d| (d.kind(), d)).collect(),
            prevent_destroy: false,
            force_destroy: false,
        }
    }

    fn observed(docs: Vec<Doc>) -> ObservedBucket {
        ObservedBucket {
            name: "logs-t".into(),
            region: "us-east-1".into(),
            docs: docs.into_iter().map(|d| (d.kind(), d)).collect(),
            non_empty: None,
        }
    }

    fn actions(changes: &[Change]) -> Vec<(String, Action)> {
        changes.iter().map(|c| (c.address.to_string(), c.action)).collect()
    }

    #[test]
    fn a_missing_bucket_is_created_with_its_documents() {
        let inputs = Inputs {
            desired: vec![desired(vec![
                Doc::Versioning(VersioningState::Enabled),
                Doc::Tags(BTreeMap::new()),
                Doc::PublicAccessBlock(PublicAccessBlockDoc::default()),
            ])],
            observed: BTreeMap::from([("logs-t".to_string(), None)]),
            ..Inputs::default()
        };
        let changes = diff(&inputs).expect("diff");
        assert_eq!(
            actions(&changes),
            vec![
                ("bucket.logs".to_string(), Action::Create),
                ("bucket.logs.public_access_block".to_string(), Action::Create),
                ("bucket.logs.versioning".to_string(), Action::Create),
            ],
            "empty tags need no call on a new bucket; the public access block is always written"
        );
    }

    #[test]
    fn equal_documents_give_no_changes_and_drift_gives_an_update() {
        let want = desired(vec![
            Doc::Versioning(VersioningState::Enabled),
            Doc::Tags(BTreeMap::new()),
        ]);
        let same = Inputs {
            desired: vec![want.clone()],
            managed: ["bucket.logs", "bucket.logs.versioning", "bucket.logs.tags"]
                .iter()
                .map(|a| Managed {
                    address: Address(a.to_string()),
                    bucket: "logs-t".into(),
                    region: "us-east-1".into(),
                    kind: None,
                    force_destroy: false,
                    prevent_destroy: false,
                })
                .collect(),
            observed: BTreeMap::from([(
                "logs-t".to_string(),
                Some(observed(vec![
                    Doc::Versioning(VersioningState::Enabled),
                    Doc::Tags(BTreeMap::new()),
                ])),
            )]),
            ..Inputs::default()
        };
        assert_eq!(diff(&same).expect("diff"), vec![]);
        let drifted = Inputs {
            observed: BTreeMap::from([(
                "logs-t".to_string(),
                Some(observed(vec![
                    Doc::Versioning(VersioningState::Suspended),
                    Doc::Tags(BTreeMap::new()),
                ])),
            )]),
            ..same
        };
        let changes = diff(&drifted).expect("diff");
        assert_eq!(
            actions(&changes),
            vec![("bucket.logs.versioning".to_string(), Action::Update)]
        );
        assert_eq!(
            changes[0].before,
            Some(Value::Doc(Doc::Versioning(VersioningState::Suspended)))
        );
    }

    #[test]
    fn existing_resources_not_in_the_state_are_adopted_then_updated() {
        let inputs = Inputs {
            desired: vec![desired(vec![
                Doc::Versioning(VersioningState::Enabled),
                Doc::Tags(BTreeMap::from([("team".to_string(), "data".to_string())])),
                Doc::Tags(BTreeMap::new()),
            ])],
            observed: BTreeMap::from([(
                "logs-t".to_string(),
                Some(observed(vec![Doc::Versioning(VersioningState::Suspended)])),
            )]),
            ..Inputs::default()
        };
        let changes = diff(&inputs).expect("diff");
        assert_eq!(
            actions(&changes),
            vec![
                ("bucket.logs".to_string(), Action::Adopt),
                ("bucket.logs.versioning".to_string(), Action::Update)
            ],
            "tags not configured on either side hold nothing to adopt"
        );
        let same = Inputs {
            observed: BTreeMap::from([(
                "logs-t".to_string(),
                Some(observed(vec![Doc::Versioning(VersioningState::Enabled)])),
            )]),
            ..inputs
        };
        assert_eq!(
            actions(&diff(&same).expect("diff")),
            vec![
                ("bucket.logs".to_string(), Action::Adopt),
                ("bucket.logs.versioning".to_string(), Action::Adopt)
            ]
        );
    }

    fn in_region(region: &str, non_empty: bool) -> BTreeMap<String, Option<ObservedBucket>> {
        BTreeMap::from([(
            "logs-t".to_string(),
            Some(ObservedBucket {
                name: "logs-t".into(),
                region: region.into(),
                docs: BTreeMap::new(),
                non_empty: Some(non_empty),
            }),
        )])
    }

    #[test]
    fn an_unmanaged_bucket_in_another_region_is_refused_never_replaced() {
        for non_empty in [false, true] {
            let inputs = Inputs {
                desired: vec![desired(vec![])],
                observed: in_region("us-west-2", non_empty),
                ..Inputs::default()
            };
            let errors = diff(&inputs).expect_err("refused");
            assert_eq!(
                errors,
                vec![DiffError::Unmanaged {
                    address: "bucket.logs".into(),
                    what: "bucket",
                    name: "logs-t".into(),
                    attribute: "region",
                    actual: "us-west-2".into(),
                    wanted: "us-east-1".into(),
                }],
                "one error, never the not-empty one"
            );
            let hint = errors[0].hint();
            assert!(hint.contains("set `region: us-west-2` for bucket.logs"), "{hint}");
            assert!(hint.contains("remove bucket logs-t by hand"), "{hint}");
            assert!(!hint.contains("removing it from the manifest"), "{hint}");
        }
    }

    #[test]
    fn a_managed_bucket_in_another_region_is_still_replaced() {
        let mut m = managed_bucket(false, false);
        m.address = Address::bucket("logs");
        m.bucket = "logs-t".into();
        let inputs = Inputs {
            desired: vec![desired(vec![])],
            observed: in_region("us-west-2", false),
            managed: vec![m.clone()],
            ..Inputs::default()
        };
        assert_eq!(
            actions(&diff(&inputs).expect("diff")),
            vec![("bucket.logs".to_string(), Action::Replace)]
        );
        // Managed under another logical name (a rename): still s3rec's bucket.
        m.address = Address::bucket("old-logs");
        let renamed = Inputs {
            managed: vec![m],
            ..inputs
        };
        let changes = diff(&renamed).expect("diff");
        assert!(
            changes
                .iter()
                .any(|c| c.address.as_str() == "bucket.logs" && c.action == Action::Replace),
            "{changes:?}"
        );
    }

    fn managed_bucket(prevent: bool, force: bool) -> Managed {
        Managed {
            address: Address("bucket.old".into()),
            bucket: "old-t".into(),
            region: "us-east-1".into(),
            kind: None,
            force_destroy: force,
            prevent_destroy: prevent,
        }
    }

    fn old_live(non_empty: bool) -> BTreeMap<String, Option<ObservedBucket>> {
        BTreeMap::from([(
            "old-t".to_string(),
            Some(ObservedBucket {
                name: "old-t".into(),
                region: "us-east-1".into(),
                docs: BTreeMap::new(),
                non_empty: Some(non_empty),
            }),
        )])
    }

    #[test]
    fn removed_buckets_are_forgotten_unless_pruning() {
        let inputs = Inputs {
            managed: vec![managed_bucket(false, false)],
            observed: old_live(false),
            ..Inputs::default()
        };
        assert_eq!(
            actions(&diff(&inputs).expect("diff")),
            vec![("bucket.old".to_string(), Action::NoOp)]
        );
        let pruning = Inputs { prune: true, ..inputs };
        assert_eq!(
            actions(&diff(&pruning).expect("diff")),
            vec![("bucket.old".to_string(), Action::Delete)]
        );
    }

    #[test]
    fn prevent_destroy_and_non_empty_buckets_block_the_plan() {
        let inputs = Inputs {
            managed: vec![managed_bucket(true, false)],
            observed: old_live(true),
            prune: true,
            ..Inputs::default()
        };
        let errors = diff(&inputs).expect_err("blocked");
        assert_eq!(errors.len(), 2, "{errors:?}");
        let forced = Inputs {
            managed: vec![managed_bucket(false, true)],
            ..inputs
        };
        assert_eq!(
            actions(&diff(&forced).expect("diff")),
            vec![("bucket.old".to_string(), Action::Delete)]
        );
    }
}
