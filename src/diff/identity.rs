//! The pure diff of IAM users, roles and managed policies and SNS topics: desired, observed and what
//! the state manages → typed changes, with the same rules as buckets (adopt what already matches,
//! forget or prune what left the manifest, never delete a resource that was only renamed).

use std::collections::{BTreeMap, HashSet};

use super::{ADOPTED_BY_UPDATE, DiffError};
use crate::model::identity::{DesiredIdentity, IdentityDoc, IdentityKind, ObservedIdentity, PartKind};
use crate::plan::{Action, Address, Change, Resource, Value};

/// An IAM or SNS resource (or part) the state manages, as far as the diff needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedIdentity {
    pub address: Address,
    pub kind: IdentityKind,
    pub logical: String,
    pub part: Option<PartKind>,
    /// Physical name of the owning user, role, policy or topic.
    pub name: String,
    /// The owner's ARN, derived from what the state recorded.
    pub arn: String,
    pub region: String,
    /// The value last applied.
    pub value: IdentityDoc,
}

/// Everything the identity diff compares.
#[derive(Debug, Clone, Default)]
pub struct IdentityInputs {
    pub desired: Vec<DesiredIdentity>,
    /// Live resources by the address of the resource itself (`iam_user.app`); `None` when absent.
    /// Managed resources that left the manifest are read too, so a prune knows whether they still exist.
    pub observed: BTreeMap<Address, Option<ObservedIdentity>>,
    pub managed: Vec<ManagedIdentity>,
    /// `state.prune`: delete managed resources that left the manifest.
    pub prune: bool,
    /// Access-key parts whose create an earlier run started and never finished, and whose secret file
    /// holds nothing: a key the user has there now was made by that call, and its secret is lost.
    pub lost_keys: HashSet<Address>,
}

/// Splits `iam_user.app.inline_policy` into kind, logical name and part.
pub fn parse_address(address: &Address) -> Option<(IdentityKind, String, Option<PartKind>)> {
    let mut segments = address.as_str().splitn(3, '.');
    let kind = IdentityKind::parse(segments.next()?)?;
    let logical = segments.next()?.to_string();
    let part = match segments.next() {
        None => None,
        Some(p) => Some(
            [
                PartKind::InlinePolicy,
                PartKind::Attachments,
                PartKind::AccessKey,
                PartKind::TopicPolicy,
                PartKind::Subscriptions,
            ]
            .into_iter()
            .find(|k| k.as_str() == p)?,
        ),
    };
    Some((kind, logical, part))
}

/// Compares and returns the changes (unsorted; the caller sorts all changes together), or every reason
/// the plan must not be made.
pub fn diff(inputs: &IdentityInputs) -> Result<Vec<Change>, Vec<DiffError>> {
    let managed: HashSet<&Address> = inputs.managed.iter().map(|m| &m.address).collect();
    // Physical resources the state manages under any logical name (a renamed resource is still ours).
    let managed_names: HashSet<(IdentityKind, &str)> = inputs
        .managed
        .iter()
        .filter(|m| m.part.is_none())
        .map(|m| (m.kind, m.name.as_str()))
        .collect();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for want in &inputs.desired {
        let address = Address::identity(want.kind, &want.logical, None);
        let have = inputs.observed.get(&address).cloned().flatten();
        let ours = managed.contains(&address) || managed_names.contains(&(want.kind, want.name.as_str()));
        let ctx = Known {
            managed: &managed,
            ours,
            lost_keys: &inputs.lost_keys,
        };
        resource_changes(want, have.as_ref(), &ctx, &mut out, &mut errors);
    }
    leftovers(inputs, &mut out);
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// What the state knows, as one resource's diff needs it.
struct Known<'a> {
    managed: &'a HashSet<&'a Address>,
    /// Whether the state manages the physical resource (under this logical name or another).
    ours: bool,
    lost_keys: &'a HashSet<Address>,
}

/// A human name for a kind, for messages: `IAM role`.
fn noun(kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::IamUser => "IAM user",
        IdentityKind::IamRole => "IAM role",
        IdentityKind::IamPolicy => "IAM policy",
        IdentityKind::SnsTopic => "SNS topic",
        IdentityKind::Account => "account setting",
    }
}

fn resource_of(want: &DesiredIdentity, part: Option<PartKind>) -> Resource {
    Resource::Identity {
        kind: want.kind,
        logical: want.logical.clone(),
        name: want.name.clone(),
        arn: want.arn.clone(),
        region: want.region.clone(),
        part,
    }
}

/// An attribute IAM cannot change in place, and its two values.
struct Immutable {
    attribute: &'static str,
    actual: String,
    wanted: String,
    reason: String,
}

/// Whether going from `have` to `want` needs the resource deleted and created again: attributes IAM
/// cannot change in place.
fn needs_replacement(have: &IdentityDoc, want: &IdentityDoc) -> Option<Immutable> {
    let described = |d: &Option<String>| d.clone().unwrap_or_else(|| "(none)".to_string());
    match (have, want) {
        (IdentityDoc::Role(h), IdentityDoc::Role(w)) if h.path != w.path => Some(Immutable {
            attribute: "path",
            reason: format!(
                "IAM cannot move a role: its path is {} but the manifest wants {}",
                h.path, w.path
            ),
            actual: h.path.clone(),
            wanted: w.path.clone(),
        }),
        (IdentityDoc::Policy(h), IdentityDoc::Policy(w)) if h.path != w.path => Some(Immutable {
            attribute: "path",
            reason: format!(
                "IAM cannot move a policy: its path is {} but the manifest wants {}",
                h.path, w.path
            ),
            actual: h.path.clone(),
            wanted: w.path.clone(),
        }),
        (IdentityDoc::Policy(h), IdentityDoc::Policy(w)) if h.description != w.description => Some(Immutable {
            attribute: "description",
            reason: "IAM cannot change a policy's description".to_string(),
            actual: described(&h.description),
            wanted: described(&w.description),
        }),
        _ => None,
    }
}

fn resource_changes(
    want: &DesiredIdentity,
    have: Option<&ObservedIdentity>,
    known: &Known<'_>,
    out: &mut Vec<Change>,
    errors: &mut Vec<DiffError>,
) {
    let (managed, lost_keys) = (known.managed, known.lost_keys);
    let address = Address::identity(want.kind, &want.logical, None);
    let after = Value::Identity(want.main.clone());
    let fresh = match have {
        None => {
            out.push(Change {
                irreversible: None,
                cause: None,
                address: address.clone(),
                action: Action::Create,
                resource: resource_of(want, None),
                before: None,
                after: Some(after),
                reason: None,
            });
            true
        }
        Some(h) => {
            let before = Some(Value::Identity(h.main.clone()));
            if let Some(immutable) = needs_replacement(&h.main, &want.main) {
                // Never delete what s3rec does not manage: a resource it never created or adopted is
                // someone's.
                if !known.ours {
                    errors.push(DiffError::Unmanaged {
                        address: address.to_string(),
                        what: noun(want.kind),
                        name: want.name.clone(),
                        attribute: immutable.attribute,
                        actual: immutable.actual,
                        wanted: immutable.wanted,
                    });
                    return;
                }
                out.push(Change {
                    irreversible: None,
                    cause: None,
                    address: address.clone(),
                    action: Action::Replace,
                    resource: resource_of(want, None),
                    before,
                    after: Some(after),
                    reason: Some(immutable.reason),
                });
                true
            } else if h.main != want.main {
                out.push(Change {
                    irreversible: None,
                    cause: None,
                    address: address.clone(),
                    action: Action::Update,
                    resource: resource_of(want, None),
                    before,
                    after: Some(after),
                    reason: (!known.ours).then(|| ADOPTED_BY_UPDATE.to_string()),
                });
                false
            } else {
                if !managed.contains(&address) {
                    // Known under another logical name (a rename): recorded under this one, nothing to
                    // adopt.
                    let (action, reason) = if known.ours {
                        (Action::NoOp, Some(super::RENAMED_REASON.to_string()))
                    } else {
                        (Action::Adopt, None)
                    };
                    out.push(Change {
                        irreversible: None,
                        cause: None,
                        address: address.clone(),
                        action,
                        resource: resource_of(want, None),
                        before,
                        after: Some(after),
                        reason,
                    });
                }
                false
            }
        }
    };
    for (part, doc) in &want.parts {
        let part_address = Address::identity(want.kind, &want.logical, Some(*part));
        if fresh {
            // A new (or re-created) resource has nothing attached; parts already equal to that need
            // no call.
            if IdentityDoc::unconfigured(*part).as_ref() == Some(doc) {
                continue;
            }
            out.push(Change {
                irreversible: None,
                cause: None,
                address: part_address,
                action: Action::Create,
                resource: resource_of(want, Some(*part)),
                before: None,
                after: Some(Value::Identity(doc.clone())),
                reason: None,
            });
            continue;
        }
        let observed = have
            .and_then(|h| h.parts.get(part))
            .cloned()
            .or_else(|| IdentityDoc::unconfigured(*part));
        let change = |action, before: Option<IdentityDoc>, after: IdentityDoc, reason: Option<&str>| Change {
            irreversible: None,
            cause: None,
            address: part_address.clone(),
            action,
            resource: resource_of(want, Some(*part)),
            before: before.map(Value::Identity),
            after: Some(Value::Identity(after)),
            reason: reason.map(str::to_string),
        };
        match (part, observed) {
            // Any existing key satisfies `access_key: true`: s3rec never rotates or adds keys silently.
            (PartKind::AccessKey, Some(existing)) if lost_keys.contains(&part_address) => {
                out.push(change(
                    Action::Replace,
                    Some(existing),
                    doc.clone(),
                    Some("an interrupted apply created this key and never wrote its secret: it is replaced, and the new secret saved"),
                ));
            }
            (PartKind::AccessKey, Some(existing)) => {
                if !managed.contains(&part_address) {
                    out.push(change(
                        Action::Adopt,
                        Some(existing.clone()),
                        existing,
                        Some("the user already has an access key; apply records it in the state (no new secret is written)"),
                    ));
                }
            }
            (_, None) => out.push(change(Action::Create, None, doc.clone(), None)),
            (_, Some(observed)) if observed != *doc => {
                out.push(change(Action::Update, Some(observed), doc.clone(), None));
            }
            (_, Some(observed)) => {
                // Nothing exists to adopt when both sides are "nothing configured" (no inline policy,
                // nothing attached): recording that would only add a no-op to the next plan.
                let nothing = IdentityDoc::unconfigured(*part).as_ref() == Some(&observed);
                if !managed.contains(&part_address) && !nothing {
                    out.push(change(Action::Adopt, Some(observed), doc.clone(), None));
                }
            }
        }
    }
}

/// Managed resources and parts the manifest no longer has: deleted when pruning is on, otherwise
/// forgotten (left in AWS as they are).
fn leftovers(inputs: &IdentityInputs, out: &mut Vec<Change>) {
    let mut desired_addresses: HashSet<Address> = HashSet::new();
    let mut desired_names: HashSet<(IdentityKind, &str)> = HashSet::new();
    for d in &inputs.desired {
        desired_addresses.insert(Address::identity(d.kind, &d.logical, None));
        for part in d.parts.keys() {
            desired_addresses.insert(Address::identity(d.kind, &d.logical, Some(*part)));
        }
        desired_names.insert((d.kind, d.name.as_str()));
    }
    let gone_owners: HashSet<Address> = inputs
        .managed
        .iter()
        .filter(|m| m.part.is_none() && !desired_addresses.contains(&m.address))
        .map(|m| m.address.clone())
        .collect();
    for m in &inputs.managed {
        if desired_addresses.contains(&m.address) {
            continue;
        }
        let owner = Address::identity(m.kind, &m.logical, None);
        if m.part.is_some() && gone_owners.contains(&owner) {
            // Forgetting or deleting the owner takes its parts along in the state.
            continue;
        }
        let resource = Resource::Identity {
            kind: m.kind,
            logical: m.logical.clone(),
            name: m.name.clone(),
            arn: m.arn.clone(),
            region: m.region.clone(),
            part: m.part,
        };
        let forget = |reason: &str| Change {
            irreversible: None,
            cause: None,
            address: m.address.clone(),
            action: Action::NoOp,
            resource: resource.clone(),
            before: None,
            after: None,
            reason: Some(reason.to_string()),
        };
        let live = inputs.observed.get(&owner).cloned().flatten();
        if m.part.is_none() && desired_names.contains(&(m.kind, m.name.as_str())) {
            out.push(forget("managed under another name now"));
        } else if !inputs.prune {
            out.push(forget(
                "no longer in the manifest: left in AWS as it is and no longer managed (set state.prune: true to delete it)",
            ));
        } else if let Some(live) = live {
            let before = match m.part {
                None => Some(live.main.clone()),
                Some(p) => live.parts.get(&p).cloned(),
            };
            match before {
                Some(before) => out.push(Change {
                    irreversible: None,
                    cause: None,
                    address: m.address.clone(),
                    action: Action::Delete,
                    resource,
                    before: Some(Value::Identity(before)),
                    after: None,
                    reason: Some("no longer in the manifest, and state.prune is on".to_string()),
                }),
                None => out.push(forget("already deleted outside s3rec")),
            }
        } else {
            out.push(forget("already deleted outside s3rec"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::json;

    use super::*;
    use crate::model::identity::{AccessKeyDoc, SubscriptionDoc, TopicDoc, UserDoc};

    fn user(parts: Vec<IdentityDoc>) -> DesiredIdentity {
        DesiredIdentity {
            kind: IdentityKind::IamUser,
            logical: "app".into(),
            name: "app-t".into(),
            arn: "arn:aws:iam::123456789012:user/app-t".into(),
            region: "us-east-1".into(),
            main: IdentityDoc::User(UserDoc {
                path: "/".into(),
                tags: BTreeMap::new(),
            }),
            parts: parts.into_iter().map(|p| (p.part().expect("a part"), p)).collect(),
        }
    }

    fn observed_user(parts: Vec<IdentityDoc>) -> ObservedIdentity {
        ObservedIdentity {
            main: user(vec![]).main,
            parts: parts.into_iter().map(|p| (p.part().expect("a part"), p)).collect(),
            pending_subscriptions: Vec::new(),
            other_inline: Vec::new(),
        }
    }

    fn ok(inputs: &IdentityInputs) -> Vec<Change> {
        diff(inputs).expect("no refusal")
    }

    fn actions(changes: &[Change]) -> Vec<(String, Action)> {
        let mut out: Vec<_> = changes.iter().map(|c| (c.address.to_string(), c.action)).collect();
        out.sort();
        out
    }

    fn managed_all(want: &DesiredIdentity) -> Vec<ManagedIdentity> {
        std::iter::once(None)
            .chain(want.parts.keys().map(|p| Some(*p)))
            .map(|part| ManagedIdentity {
                address: Address::identity(want.kind, &want.logical, part),
                kind: want.kind,
                logical: want.logical.clone(),
                part,
                name: want.name.clone(),
                arn: want.arn.clone(),
                region: want.region.clone(),
                value: want.main.clone(),
            })
            .collect()
    }

    fn grants_policy() -> serde_json::Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    }

    #[test]
    fn a_new_user_is_created_with_its_configured_parts_only() {
        let want = user(vec![
            IdentityDoc::InlinePolicy(Some(grants_policy())),
            IdentityDoc::Attachments(BTreeSet::new()),
            IdentityDoc::AccessKey(AccessKeyDoc {
                secret_file: Some(".s3rec/secrets/t/app-t.credentials".into()),
                access_key_id: None,
            }),
        ]);
        let inputs = IdentityInputs {
            desired: vec![want],
            ..IdentityInputs::default()
        };
        assert_eq!(
            actions(&ok(&inputs)),
            vec![
                ("iam_user.app".to_string(), Action::Create),
                ("iam_user.app.access_key".to_string(), Action::Create),
                ("iam_user.app.inline_policy".to_string(), Action::Create),
            ],
            "no attachments means no call"
        );
    }

    #[test]
    fn matching_resources_give_no_changes_and_drift_gives_updates() {
        let want = user(vec![
            IdentityDoc::InlinePolicy(Some(grants_policy())),
            IdentityDoc::Attachments(BTreeSet::from(["arn:aws:iam::123456789012:policy/p".to_string()])),
        ]);
        let mut inputs = IdentityInputs {
            desired: vec![want.clone()],
            observed: BTreeMap::from([(
                Address("iam_user.app".into()),
                Some(observed_user(want.parts.values().cloned().collect())),
            )]),
            managed: managed_all(&want),
            prune: false,
            lost_keys: HashSet::new(),
        };
        assert_eq!(ok(&inputs), vec![]);
        inputs.observed.insert(
            Address("iam_user.app".into()),
            Some(observed_user(vec![IdentityDoc::InlinePolicy(None)])),
        );
        assert_eq!(
            actions(&ok(&inputs)),
            vec![
                ("iam_user.app.attachments".to_string(), Action::Update),
                ("iam_user.app.inline_policy".to_string(), Action::Update),
            ]
        );
    }

    #[test]
    fn a_key_whose_create_was_interrupted_before_its_secret_was_written_is_replaced() {
        let want = user(vec![IdentityDoc::AccessKey(AccessKeyDoc {
            secret_file: Some(".s3rec/secrets/t/app-t.credentials".into()),
            access_key_id: None,
        })]);
        let existing = IdentityDoc::AccessKey(AccessKeyDoc {
            secret_file: None,
            access_key_id: Some("AKIALOST".into()),
        });
        let inputs = IdentityInputs {
            desired: vec![want],
            observed: BTreeMap::from([(
                Address("iam_user.app".into()),
                Some(observed_user(vec![existing.clone()])),
            )]),
            lost_keys: HashSet::from([Address("iam_user.app.access_key".into())]),
            ..IdentityInputs::default()
        };
        let changes = ok(&inputs);
        let key = changes
            .iter()
            .find(|c| c.address.as_str() == "iam_user.app.access_key")
            .expect("key change");
        assert_eq!(key.action, Action::Replace);
        assert_eq!(
            key.before,
            Some(Value::Identity(existing)),
            "the lost key is the one deleted"
        );
    }

    #[test]
    fn an_existing_access_key_satisfies_the_manifest_and_is_never_replaced() {
        let want = user(vec![IdentityDoc::AccessKey(AccessKeyDoc {
            secret_file: Some(".s3rec/secrets/t/app-t.credentials".into()),
            access_key_id: None,
        })]);
        let existing = IdentityDoc::AccessKey(AccessKeyDoc {
            secret_file: None,
            access_key_id: Some("AKIAEXAMPLE".into()),
        });
        let inputs = IdentityInputs {
            desired: vec![want],
            observed: BTreeMap::from([(
                Address("iam_user.app".into()),
                Some(observed_user(vec![existing.clone()])),
            )]),
            ..IdentityInputs::default()
        };
        let changes = ok(&inputs);
        let key = changes
            .iter()
            .find(|c| c.address.as_str() == "iam_user.app.access_key")
            .expect("key change");
        assert_eq!(key.action, Action::Adopt);
        assert_eq!(
            key.after,
            Some(Value::Identity(existing)),
            "the existing key's ID is recorded"
        );
    }

    #[test]
    fn subscriptions_compare_by_endpoint_whatever_their_confirmation() {
        let subs = BTreeSet::from([SubscriptionDoc {
            protocol: "email".into(),
            endpoint: "ops@example.com".into(),
        }]);
        let want = DesiredIdentity {
            kind: IdentityKind::SnsTopic,
            logical: "events".into(),
            name: "events-t".into(),
            arn: "arn:aws:sns:us-east-1:123456789012:events-t".into(),
            region: "us-east-1".into(),
            main: IdentityDoc::Topic(TopicDoc {
                display_name: None,
                tags: BTreeMap::new(),
            }),
            parts: BTreeMap::from([(PartKind::Subscriptions, IdentityDoc::Subscriptions(subs.clone()))]),
        };
        // SNS lists the e-mail subscription as pending confirmation: same endpoint, so no drift.
        let observed = ObservedIdentity {
            main: want.main.clone(),
            parts: BTreeMap::from([(PartKind::Subscriptions, IdentityDoc::Subscriptions(subs.clone()))]),
            pending_subscriptions: subs.into_iter().collect(),
            other_inline: Vec::new(),
        };
        let inputs = IdentityInputs {
            managed: managed_all(&want),
            desired: vec![want],
            observed: BTreeMap::from([(Address("sns_topic.events".into()), Some(observed))]),
            prune: false,
            lost_keys: HashSet::new(),
        };
        assert_eq!(ok(&inputs), vec![]);
    }

    #[test]
    fn a_policy_whose_path_changes_is_replaced_and_its_new_version_is_an_update() {
        use crate::model::identity::PolicyDoc;
        let doc = |path: &str, document| {
            IdentityDoc::Policy(PolicyDoc {
                path: path.into(),
                description: None,
                document,
            })
        };
        let want = DesiredIdentity {
            kind: IdentityKind::IamPolicy,
            logical: "p".into(),
            name: "p-t".into(),
            arn: "arn:aws:iam::123456789012:policy/new/p-t".into(),
            region: "us-east-1".into(),
            main: doc("/new/", grants_policy()),
            parts: BTreeMap::new(),
        };
        let observed = |main| ObservedIdentity {
            main,
            parts: BTreeMap::new(),
            pending_subscriptions: Vec::new(),
            other_inline: Vec::new(),
        };
        let mut inputs = IdentityInputs {
            managed: managed_all(&want),
            desired: vec![want],
            observed: BTreeMap::from([(
                Address("iam_policy.p".into()),
                Some(observed(doc("/", grants_policy()))),
            )]),
            prune: false,
            lost_keys: HashSet::new(),
        };
        assert_eq!(
            actions(&ok(&inputs)),
            vec![("iam_policy.p".to_string(), Action::Replace)]
        );
        inputs.observed.insert(
            Address("iam_policy.p".into()),
            Some(observed(doc(
                "/new/",
                json!({"Version": "2012-10-17", "Statement": []}),
            ))),
        );
        assert_eq!(
            actions(&ok(&inputs)),
            vec![("iam_policy.p".to_string(), Action::Update)]
        );
    }

    #[test]
    fn leftovers_are_forgotten_unless_pruning_and_renames_are_never_deleted() {
        let gone = user(vec![IdentityDoc::InlinePolicy(None)]);
        let inputs = IdentityInputs {
            managed: managed_all(&gone),
            observed: BTreeMap::from([(Address("iam_user.app".into()), Some(observed_user(vec![])))]),
            ..IdentityInputs::default()
        };
        assert_eq!(actions(&ok(&inputs)), vec![("iam_user.app".to_string(), Action::NoOp)]);
        let pruning = IdentityInputs {
            prune: true,
            ..inputs.clone()
        };
        assert_eq!(
            actions(&ok(&pruning)),
            vec![("iam_user.app".to_string(), Action::Delete)]
        );
        let mut renamed = user(vec![IdentityDoc::InlinePolicy(None)]);
        renamed.logical = "app2".into();
        let renaming = IdentityInputs {
            desired: vec![renamed],
            ..pruning
        };
        let changes = ok(&renaming);
        let old = changes
            .iter()
            .find(|c| c.address.as_str() == "iam_user.app")
            .expect("old address");
        assert_eq!(old.action, Action::NoOp, "the same physical user is never deleted");
    }

    fn policy_doc(path: &str, description: Option<&str>) -> IdentityDoc {
        IdentityDoc::Policy(crate::model::identity::PolicyDoc {
            path: path.into(),
            description: description.map(str::to_string),
            document: grants_policy(),
        })
    }

    fn desired_policy(main: IdentityDoc) -> DesiredIdentity {
        DesiredIdentity {
            kind: IdentityKind::IamPolicy,
            logical: "p".into(),
            name: "p-t".into(),
            arn: "arn:aws:iam::123456789012:policy/p-t".into(),
            region: "us-east-1".into(),
            main,
            parts: BTreeMap::new(),
        }
    }

    fn observed_main(main: IdentityDoc) -> Option<ObservedIdentity> {
        Some(ObservedIdentity {
            main,
            parts: BTreeMap::new(),
            pending_subscriptions: Vec::new(),
            other_inline: Vec::new(),
        })
    }

    #[test]
    fn an_unmanaged_policy_or_role_is_never_replaced_the_plan_is_refused() {
        // Path and description are immutable in IAM: an existing policy s3rec never managed is refused
        // with both values and the ways out, never deleted and re-created.
        for (live, wanted, attribute) in [
            (policy_doc("/", None), policy_doc("/new/", None), "path"),
            (
                policy_doc("/", Some("old")),
                policy_doc("/", Some("new")),
                "description",
            ),
        ] {
            let inputs = IdentityInputs {
                desired: vec![desired_policy(wanted)],
                observed: BTreeMap::from([(Address("iam_policy.p".into()), observed_main(live))]),
                ..IdentityInputs::default()
            };
            let errors = diff(&inputs).expect_err("refused");
            assert_eq!(errors.len(), 1, "{errors:?}");
            let DiffError::Unmanaged {
                address,
                what,
                attribute: a,
                ..
            } = &errors[0]
            else {
                panic!("{errors:?}")
            };
            assert_eq!((address.as_str(), *what, *a), ("iam_policy.p", "IAM policy", attribute));
            let hint = errors[0].hint();
            assert!(hint.contains("remove IAM policy p-t by hand"), "{hint}");
        }
        let role = |path: &str| {
            IdentityDoc::Role(crate::model::identity::RoleDoc {
                path: path.into(),
                description: None,
                trust: json!({"Version": "2012-10-17", "Statement": []}),
                max_session_duration: 3600,
                tags: BTreeMap::new(),
            })
        };
        let want = DesiredIdentity {
            kind: IdentityKind::IamRole,
            logical: "r".into(),
            name: "r-t".into(),
            arn: "arn:aws:iam::123456789012:role/svc/r-t".into(),
            region: "us-east-1".into(),
            main: role("/svc/"),
            parts: BTreeMap::new(),
        };
        let inputs = IdentityInputs {
            desired: vec![want],
            observed: BTreeMap::from([(Address("iam_role.r".into()), observed_main(role("/")))]),
            ..IdentityInputs::default()
        };
        let errors = diff(&inputs).expect_err("refused");
        assert!(
            errors[0]
                .to_string()
                .contains("IAM role r-t already exists with path /, but the manifest wants /svc/"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn existing_resources_not_in_the_state_are_adopted_and_drift_updates_adopt_them() {
        let want = user(vec![IdentityDoc::InlinePolicy(Some(grants_policy()))]);
        let inputs = IdentityInputs {
            desired: vec![want.clone()],
            observed: BTreeMap::from([(
                Address("iam_user.app".into()),
                Some(observed_user(vec![IdentityDoc::InlinePolicy(Some(grants_policy()))])),
            )]),
            ..IdentityInputs::default()
        };
        assert_eq!(
            actions(&ok(&inputs)),
            vec![
                ("iam_user.app".to_string(), Action::Adopt),
                ("iam_user.app.inline_policy".to_string(), Action::Adopt),
            ]
        );
        // The same user with another path: an update (IAM moves users in place) that says it adopts.
        let mut moved = observed_user(vec![IdentityDoc::InlinePolicy(Some(grants_policy()))]);
        moved.main = IdentityDoc::User(UserDoc {
            path: "/old/".into(),
            tags: BTreeMap::new(),
        });
        let inputs = IdentityInputs {
            observed: BTreeMap::from([(Address("iam_user.app".into()), Some(moved))]),
            ..inputs
        };
        let changes = ok(&inputs);
        let main = changes
            .iter()
            .find(|c| c.address.as_str() == "iam_user.app")
            .expect("user");
        assert_eq!(main.action, Action::Update);
        assert_eq!(main.reason.as_deref(), Some(ADOPTED_BY_UPDATE));
    }

    #[test]
    fn addresses_parse_back() {
        assert_eq!(
            parse_address(&Address("iam_user.app.inline_policy".into())),
            Some((IdentityKind::IamUser, "app".to_string(), Some(PartKind::InlinePolicy)))
        );
        assert_eq!(
            parse_address(&Address("sns_topic.events".into())),
            Some((IdentityKind::SnsTopic, "events".to_string(), None))
        );
        assert_eq!(parse_address(&Address("bucket.logs".into())), None);
    }
}
