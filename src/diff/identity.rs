//! The pure diff of IAM users, roles and managed policies and SNS topics: desired, observed and what
//! the state manages → typed changes, with the same rules as buckets (adopt what already matches,
//! forget or prune what left the manifest, never delete a resource that was only renamed).

use std::collections::{BTreeMap, HashSet};

use super::ADOPT_REASON;
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

/// Compares and returns the changes (unsorted; the caller sorts all changes together).
pub fn diff(inputs: &IdentityInputs) -> Vec<Change> {
    let managed: HashSet<&Address> = inputs.managed.iter().map(|m| &m.address).collect();
    let mut out = Vec::new();
    for want in &inputs.desired {
        let address = Address::identity(want.kind, &want.logical, None);
        let have = inputs.observed.get(&address).cloned().flatten();
        resource_changes(want, have.as_ref(), &managed, &inputs.lost_keys, &mut out);
    }
    leftovers(inputs, &mut out);
    out
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

/// Whether going from `have` to `want` needs the resource deleted and created again: attributes IAM
/// cannot change in place.
fn needs_replacement(have: &IdentityDoc, want: &IdentityDoc) -> Option<String> {
    match (have, want) {
        (IdentityDoc::Role(h), IdentityDoc::Role(w)) if h.path != w.path => Some(format!(
            "IAM cannot move a role: its path is {} but the manifest wants {}",
            h.path, w.path
        )),
        (IdentityDoc::Policy(h), IdentityDoc::Policy(w)) if h.path != w.path => Some(format!(
            "IAM cannot move a policy: its path is {} but the manifest wants {}",
            h.path, w.path
        )),
        (IdentityDoc::Policy(h), IdentityDoc::Policy(w)) if h.description != w.description => {
            Some("IAM cannot change a policy's description".to_string())
        }
        _ => None,
    }
}

fn resource_changes(
    want: &DesiredIdentity,
    have: Option<&ObservedIdentity>,
    managed: &HashSet<&Address>,
    lost_keys: &HashSet<Address>,
    out: &mut Vec<Change>,
) {
    let address = Address::identity(want.kind, &want.logical, None);
    let after = Value::Identity(want.main.clone());
    let fresh = match have {
        None => {
            out.push(Change {
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
            if let Some(reason) = needs_replacement(&h.main, &want.main) {
                out.push(Change {
                    address: address.clone(),
                    action: Action::Replace,
                    resource: resource_of(want, None),
                    before,
                    after: Some(after),
                    reason: Some(reason),
                });
                true
            } else if h.main != want.main {
                out.push(Change {
                    address: address.clone(),
                    action: Action::Update,
                    resource: resource_of(want, None),
                    before,
                    after: Some(after),
                    reason: None,
                });
                false
            } else {
                if !managed.contains(&address) {
                    out.push(Change {
                        address: address.clone(),
                        action: Action::NoOp,
                        resource: resource_of(want, None),
                        before,
                        after: Some(after),
                        reason: Some(ADOPT_REASON.to_string()),
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
                        Action::NoOp,
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
                    out.push(change(Action::NoOp, Some(observed), doc.clone(), Some(ADOPT_REASON)));
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
            actions(&diff(&inputs)),
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
        assert_eq!(diff(&inputs), vec![]);
        inputs.observed.insert(
            Address("iam_user.app".into()),
            Some(observed_user(vec![IdentityDoc::InlinePolicy(None)])),
        );
        assert_eq!(
            actions(&diff(&inputs)),
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
        let changes = diff(&inputs);
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
        let changes = diff(&inputs);
        let key = changes
            .iter()
            .find(|c| c.address.as_str() == "iam_user.app.access_key")
            .expect("key change");
        assert_eq!(key.action, Action::NoOp);
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
        assert_eq!(diff(&inputs), vec![]);
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
            actions(&diff(&inputs)),
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
            actions(&diff(&inputs)),
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
        assert_eq!(
            actions(&diff(&inputs)),
            vec![("iam_user.app".to_string(), Action::NoOp)]
        );
        let pruning = IdentityInputs {
            prune: true,
            ..inputs.clone()
        };
        assert_eq!(
            actions(&diff(&pruning)),
            vec![("iam_user.app".to_string(), Action::Delete)]
        );
        let mut renamed = user(vec![IdentityDoc::InlinePolicy(None)]);
        renamed.logical = "app2".into();
        let renaming = IdentityInputs {
            desired: vec![renamed],
            ..pruning
        };
        let changes = diff(&renaming);
        let old = changes
            .iter()
            .find(|c| c.address.as_str() == "iam_user.app")
            .expect("old address");
        assert_eq!(old.action, Action::NoOp, "the same physical user is never deleted");
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
