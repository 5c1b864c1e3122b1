//! The pure diff: desired buckets, what AWS has, and what the state remembers → typed changes. IAM and
//! SNS resources are compared by [`identity`] with the same rules.
//!
//! No I/O. Equality of canonical documents decides everything; see `model` for how the two sides are
//! made comparable.

pub mod identity;

use std::collections::{BTreeMap, HashMap};

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
}

impl DiffError {
    pub fn hint(&self) -> &'static str {
        match self {
            DiffError::PreventDestroy { .. } => {
                "remove prevent_destroy from the bucket (or defaults) first, apply, then make the change"
            }
            DiffError::NotEmpty { .. } => {
                "empty the bucket, or set force_destroy: true on it and apply before removing it from the manifest"
            }
        }
    }
}

/// Compares and returns the changes in address order.
pub fn diff(inputs: &Inputs) -> Result<Vec<Change>, Vec<DiffError>> {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    let managed: HashMap<&Address, &Managed> = inputs.managed.iter().map(|m| (&m.address, m)).collect();
    for want in &inputs.desired {
        let have = inputs.observed.get(&want.name).cloned().flatten();
        bucket_changes(want, have.as_ref(), &managed, &mut changes, &mut errors);
    }
    leftovers(inputs, &mut changes, &mut errors);
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    if errors.is_empty() { Ok(changes) } else { Err(errors) }
}

/// Why a resource that needs no AWS call still appears in a plan: apply records it in the state.
pub const ADOPT_REASON: &str = "already as the manifest wants it; apply records it in the state";
/// Why a bucket whose `force_destroy`/`prevent_destroy` changed appears in a plan.
pub const GUARDS_REASON: &str = "force_destroy/prevent_destroy changed; apply records them in the state";

fn bucket_changes(
    want: &DesiredBucket,
    have: Option<&ObservedBucket>,
    managed: &HashMap<&Address, &Managed>,
    out: &mut Vec<Change>,
    errors: &mut Vec<DiffError>,
) {
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
                address: address.clone(),
                action: Action::Create,
                resource: resource(None),
                before: None,
                after: Some(after),
                reason: None,
            });
            true
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
            let reason = match managed.get(&address) {
                None => Some(ADOPT_REASON),
                Some(m) if m.force_destroy != want.force_destroy || m.prevent_destroy != want.prevent_destroy => {
                    Some(GUARDS_REASON)
                }
                Some(_) => None,
            };
            if let Some(reason) = reason {
                out.push(Change {
                    address: address.clone(),
                    action: Action::NoOp,
                    resource: resource(None),
                    before: Some(Value::Bucket {
                        name: h.name.clone(),
                        region: h.region.clone(),
                    }),
                    after: Some(after),
                    reason: Some(reason.to_string()),
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
            let preconfigured = matches!(
                kind,
                DocKind::Encryption | DocKind::PublicAccessBlock | DocKind::Ownership
            );
            if *doc == Doc::unconfigured(*kind) && !preconfigured {
                continue;
            }
            out.push(Change {
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
        let (action, reason) = if observed != *doc {
            (Action::Update, None)
        } else if !managed.contains_key(&doc_address) {
            (Action::NoOp, Some(ADOPT_REASON.to_string()))
        } else {
            continue;
        };
        out.push(Change {
            address: doc_address,
            action,
            resource,
            before: Some(Value::Doc(observed)),
            after: Some(Value::Doc(doc.clone())),
            reason,
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
    fn existing_resources_not_in_the_state_are_adopted_without_aws_calls() {
        let inputs = Inputs {
            desired: vec![desired(vec![Doc::Versioning(VersioningState::Enabled)])],
            observed: BTreeMap::from([(
                "logs-t".to_string(),
                Some(observed(vec![Doc::Versioning(VersioningState::Enabled)])),
            )]),
            ..Inputs::default()
        };
        let changes = diff(&inputs).expect("diff");
        assert_eq!(
            actions(&changes),
            vec![
                ("bucket.logs".to_string(), Action::NoOp),
                ("bucket.logs.versioning".to_string(), Action::NoOp)
            ]
        );
        assert!(changes.iter().all(|c| c.reason.as_deref() == Some(ADOPT_REASON)));
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
