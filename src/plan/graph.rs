//! The dependency graph of a plan: edges mean "must happen after", and apply walks it.
//!
//! Edges come from the changes themselves (a document after its bucket's creation, logging after its
//! target bucket and that bucket's policy, replication after versioning on both sides and the
//! destination bucket, deletes after whatever stops referring to the deleted bucket), so a saved plan
//! carries them and apply needs nothing else.

use std::collections::HashMap;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use super::{Action, Address, Change, Edge, Resource, Value};
use crate::model::{Doc, DocKind};

/// A plan whose edges form a cycle cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plan has a dependency cycle: {}", members.join(" → "))]
pub struct CycleError {
    pub members: Vec<String>,
}

/// Computes the "must happen after" edges between the changes of a plan.
pub fn edges(changes: &[Change]) -> Vec<Edge> {
    let by_bucket_name: HashMap<&str, &Change> = changes
        .iter()
        .filter_map(|c| match &c.resource {
            Resource::Bucket { name, .. } => Some((name.as_str(), c)),
            Resource::BucketDoc { .. } | Resource::Identity { .. } => None,
        })
        .collect();
    let doc_change = |bucket: &str, kind: DocKind| {
        changes.iter().find(|c| {
            matches!(&c.resource, Resource::BucketDoc { bucket: b, kind: k, .. } if b == bucket && *k == kind)
                && c.action.calls_aws()
        })
    };
    let mut out = Vec::new();
    let mut add = |before: &Address, after: &Address| {
        if before != after {
            out.push(Edge {
                before: before.clone(),
                after: after.clone(),
            });
        }
    };
    for change in changes.iter().filter(|c| c.action.calls_aws()) {
        let Resource::BucketDoc { bucket, .. } = &change.resource else {
            continue;
        };
        // A document after its bucket exists.
        if let Some(b) = by_bucket_name.get(bucket.as_str())
            && matches!(b.action, Action::Create | Action::Replace)
        {
            add(&b.address, &change.address);
        }
        // After the buckets and documents the new value refers to.
        if let Some(Value::Doc(doc)) = &change.after {
            for target in referenced_buckets(doc) {
                if let Some(t) = by_bucket_name.get(target.as_str())
                    && matches!(t.action, Action::Create | Action::Replace)
                {
                    add(&t.address, &change.address);
                }
                // What the kind's descriptor says must come first on the bucket it refers to (a log
                // target's policy, a replication destination's versioning).
                for kind in doc.kind().spec().after_target {
                    if let Some(p) = doc_change(&target, *kind) {
                        add(&p.address, &change.address);
                    }
                }
            }
            // After the documents of its own bucket that its descriptor names (S3 refuses replication
            // unless the source is versioned too), whether or not it refers to another bucket.
            for kind in doc.kind().spec().after_own {
                if let Some(p) = doc_change(bucket, *kind) {
                    add(&p.address, &change.address);
                }
            }
        }
        // Before the deletion of a bucket the old value referred to.
        if let Some(Value::Doc(doc)) = &change.before {
            for target in referenced_buckets(doc) {
                if let Some(t) = by_bucket_name.get(target.as_str())
                    && matches!(t.action, Action::Delete | Action::Replace)
                {
                    add(&change.address, &t.address);
                }
            }
        }
    }
    identity_edges(changes, &mut add);
    out.sort();
    out.dedup();
    out
}

/// Edges of IAM and SNS resources:
/// - a part after its owner is created (or re-created);
/// - a change whose new value names an IAM or SNS resource's ARN (a bucket notification's topic, a
///   replication role, a principal in a policy, an attached policy) after every change to that resource
///   and its parts: S3 checks that a notification's topic policy lets it publish, IAM and S3 refuse
///   policies naming principals that do not exist;
/// - a change whose old value names a resource the plan deletes, before that delete, so nothing is left
///   pointing at it while it goes.
fn identity_edges(changes: &[Change], add: &mut impl FnMut(&Address, &Address)) {
    // Each identity resource's address and ARN, with its actionable changes (the resource and parts).
    let mut owners: Vec<(Address, &str, Vec<&Change>)> = Vec::new();
    for c in changes.iter().filter(|c| c.action.calls_aws()) {
        let Resource::Identity { kind, logical, arn, .. } = &c.resource else {
            continue;
        };
        let owner = Address::identity(*kind, logical, None);
        match owners.iter_mut().find(|(a, _, _)| *a == owner) {
            Some((_, _, list)) => list.push(c),
            None => owners.push((owner, arn.as_str(), vec![c])),
        }
    }
    for (owner, _, list) in &owners {
        if let Some(main) = list.iter().find(|c| c.address == *owner)
            && matches!(main.action, Action::Create | Action::Replace)
        {
            for part in list.iter().filter(|c| c.address != *owner) {
                add(&main.address, &part.address);
            }
        }
    }
    for change in changes.iter().filter(|c| c.action.calls_aws()) {
        let after = change.after.as_ref().map(quoted_json).unwrap_or_default();
        let before = change.before.as_ref().map(quoted_json).unwrap_or_default();
        for (owner, arn, list) in &owners {
            if change.address.within(owner.as_str()) || arn.is_empty() {
                continue;
            }
            let needle = format!("\"{arn}\"");
            if after.contains(&needle) {
                for c in list.iter().filter(|c| c.action != Action::Delete) {
                    add(&c.address, &change.address);
                }
            }
            if before.contains(&needle) {
                for c in list
                    .iter()
                    .filter(|c| c.action == Action::Delete && c.address == *owner)
                {
                    add(&change.address, &c.address);
                }
            }
        }
    }
}

/// A value as JSON text, in which an ARN appears as a quoted string exactly when the value refers to it.
fn quoted_json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Physical names of the buckets a document points at (its kind's [`crate::model::kinds::Kind::referenced_buckets`]).
fn referenced_buckets(doc: &Doc) -> Vec<String> {
    doc.referenced_buckets()
}

/// The changes as a DAG of indices into `changes`.
#[derive(Debug)]
pub struct ChangeGraph {
    pub graph: DiGraph<usize, ()>,
    nodes: Vec<NodeIndex>,
}

impl ChangeGraph {
    /// Builds the graph and checks it has no cycle (a cycle names its members).
    pub fn new(changes: &[Change], edges: &[Edge]) -> Result<ChangeGraph, CycleError> {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..changes.len()).map(|i| graph.add_node(i)).collect();
        let index: HashMap<&Address, NodeIndex> = changes.iter().zip(&nodes).map(|(c, n)| (&c.address, *n)).collect();
        for e in edges {
            if let (Some(a), Some(b)) = (index.get(&e.before), index.get(&e.after)) {
                graph.add_edge(*a, *b, ());
            }
        }
        if toposort(&graph, None).is_err() {
            let members = tarjan_scc(&graph)
                .into_iter()
                .find(|scc| scc.len() > 1)
                .unwrap_or_default()
                .into_iter()
                .map(|n| changes[graph[n]].address.to_string())
                .collect();
            return Err(CycleError { members });
        }
        Ok(ChangeGraph { graph, nodes })
    }

    /// Indices of the changes that must finish before change `i`.
    pub fn dependencies(&self, i: usize) -> Vec<usize> {
        self.graph
            .neighbors_directed(self.nodes[i], petgraph::Direction::Incoming)
            .map(|n| self.graph[n])
            .collect()
    }

    /// Indices of the changes that wait for change `i`.
    pub fn dependents(&self, i: usize) -> Vec<usize> {
        self.graph
            .neighbors_directed(self.nodes[i], petgraph::Direction::Outgoing)
            .map(|n| self.graph[n])
            .collect()
    }

    /// Every change that directly or indirectly waits for change `i`.
    pub fn descendants(&self, i: usize) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = self.dependents(i);
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            if !seen[n] {
                seen[n] = true;
                out.push(n);
                stack.extend(self.dependents(n));
            }
        }
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identity::{IdentityDoc, IdentityKind, PartKind};
    use crate::model::{LoggingDoc, VersioningState};

    fn bucket(logical: &str, action: Action) -> Change {
        Change {
            irreversible: None,
            cause: None,
            address: Address::bucket(logical),
            action,
            resource: Resource::Bucket {
                logical: logical.into(),
                name: format!("{logical}-t"),
                region: "us-east-1".into(),
                current_region: None,
                force_destroy: false,
                prevent_destroy: false,
            },
            before: None,
            after: None,
            reason: None,
        }
    }

    fn doc(logical: &str, doc: Doc, before: Option<Doc>) -> Change {
        Change {
            irreversible: None,
            cause: None,
            address: Address::bucket_doc(logical, doc.kind()),
            action: Action::Update,
            resource: Resource::BucketDoc {
                logical: logical.into(),
                bucket: format!("{logical}-t"),
                region: "us-east-1".into(),
                kind: doc.kind(),
            },
            before: before.map(Value::Doc),
            after: Some(Value::Doc(doc)),
            reason: None,
        }
    }

    fn pairs(edges: &[Edge]) -> Vec<(String, String)> {
        edges
            .iter()
            .map(|e| (e.before.to_string(), e.after.to_string()))
            .collect()
    }

    #[test]
    fn documents_follow_their_bucket_and_logging_follows_its_target() {
        let logging = Doc::Logging(Some(LoggingDoc {
            target_bucket: "logs-t".into(),
            prefix: "a/".into(),
        }));
        let changes = vec![
            bucket("app", Action::Create),
            doc("app", logging, None),
            doc("app", Doc::Versioning(VersioningState::Enabled), None),
            bucket("logs", Action::Create),
            doc("logs", Doc::Policy(None), None),
        ];
        let edges = edges(&changes);
        assert_eq!(
            pairs(&edges),
            vec![
                ("bucket.app".into(), "bucket.app.logging".into()),
                ("bucket.app".into(), "bucket.app.versioning".into()),
                ("bucket.logs".into(), "bucket.app.logging".into()),
                ("bucket.logs".into(), "bucket.logs.policy".into()),
                ("bucket.logs.policy".into(), "bucket.app.logging".into()),
            ]
        );
        let graph = ChangeGraph::new(&changes, &edges).expect("acyclic");
        assert_eq!(graph.descendants(3), vec![1, 4]);
    }

    #[test]
    fn inventory_follows_its_destination_and_the_destination_policy() {
        let config = crate::model::kinds::inventory::InventoryConfigDoc {
            id: "weekly".into(),
            enabled: true,
            destination_bucket_arn: "arn:aws:s3:::reports-t".into(),
            destination_account: None,
            destination_prefix: None,
            format: "CSV".into(),
            schedule: "Weekly".into(),
            included_versions: "All".into(),
            optional_fields: Vec::new(),
            prefix: None,
        };
        let changes = vec![
            bucket("app", Action::Create),
            doc("app", Doc::Inventory(vec![config]), None),
            bucket("reports", Action::Create),
            doc("reports", Doc::Policy(None), None),
        ];
        assert_eq!(
            pairs(&edges(&changes)),
            vec![
                ("bucket.app".into(), "bucket.app.inventory".into()),
                ("bucket.reports".into(), "bucket.app.inventory".into()),
                ("bucket.reports".into(), "bucket.reports.policy".into()),
                ("bucket.reports.policy".into(), "bucket.app.inventory".into()),
            ]
        );
    }

    #[test]
    fn deletes_wait_for_what_stops_referring_to_them() {
        let old_logging = Doc::Logging(Some(LoggingDoc {
            target_bucket: "logs-t".into(),
            prefix: String::new(),
        }));
        let changes = vec![
            doc("app", Doc::Logging(None), Some(old_logging)),
            bucket("logs", Action::Delete),
        ];
        assert_eq!(
            pairs(&edges(&changes)),
            vec![("bucket.app.logging".into(), "bucket.logs".into())]
        );
    }

    #[test]
    fn a_cycle_is_reported_with_its_members() {
        let changes = vec![bucket("a", Action::Create), bucket("b", Action::Create)];
        let edges = vec![
            Edge {
                before: Address::bucket("a"),
                after: Address::bucket("b"),
            },
            Edge {
                before: Address::bucket("b"),
                after: Address::bucket("a"),
            },
        ];
        let err = ChangeGraph::new(&changes, &edges).expect_err("cycle");
        let mut members = err.members.clone();
        members.sort();
        assert_eq!(members, vec!["bucket.a", "bucket.b"]);
        assert!(err.to_string().contains("dependency cycle"));
    }

    fn identity(
        kind: IdentityKind,
        logical: &str,
        part: Option<PartKind>,
        action: Action,
        value: IdentityDoc,
    ) -> Change {
        let arn = match kind {
            IdentityKind::SnsTopic => format!("arn:aws:sns:us-east-1:123456789012:{logical}-t"),
            _ => format!("arn:aws:iam::123456789012:{}/{logical}-t", &kind.as_str()[4..]),
        };
        let value = Some(Value::Identity(value));
        Change {
            irreversible: None,
            cause: None,
            address: Address::identity(kind, logical, part),
            action,
            resource: Resource::Identity {
                kind,
                logical: logical.into(),
                name: format!("{logical}-t"),
                arn,
                region: "us-east-1".into(),
                part,
            },
            before: if action == Action::Delete { value.clone() } else { None },
            after: if action == Action::Delete { None } else { value },
            reason: None,
        }
    }

    #[test]
    fn notifications_wait_for_their_topic_and_its_policy_and_replication_for_its_role() {
        use crate::model::identity::{RoleDoc, TopicDoc};
        use crate::model::{NotificationDoc, NotificationTarget, ReplicationDoc};
        let topic = IdentityDoc::Topic(TopicDoc {
            display_name: None,
            tags: Default::default(),
        });
        let role = IdentityDoc::Role(RoleDoc {
            path: "/".into(),
            description: None,
            max_session_duration: 3600,
            trust: serde_json::json!({}),
            tags: Default::default(),
        });
        let notifications = Doc::Notifications(vec![NotificationDoc {
            id: "n".into(),
            target: NotificationTarget::Topic,
            arn: "arn:aws:sns:us-east-1:123456789012:events-t".into(),
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: None,
            suffix: None,
        }]);
        let replication = Doc::Replication(Some(ReplicationDoc {
            role_arn: "arn:aws:iam::123456789012:role/replication-t".into(),
            rules: Vec::new(),
        }));
        let changes = vec![
            doc("app", notifications, None),
            doc("app", replication, None),
            identity(IdentityKind::SnsTopic, "events", None, Action::Create, topic),
            identity(
                IdentityKind::SnsTopic,
                "events",
                Some(PartKind::TopicPolicy),
                Action::Create,
                IdentityDoc::TopicPolicy(
                    serde_json::json!({"Resource": "arn:aws:sns:us-east-1:123456789012:events-t"}),
                ),
            ),
            identity(IdentityKind::IamRole, "replication", None, Action::Create, role),
            identity(
                IdentityKind::IamRole,
                "replication",
                Some(PartKind::Attachments),
                Action::Create,
                IdentityDoc::Attachments(["arn:aws:iam::123456789012:policy/p-t".to_string()].into()),
            ),
            // Not referred to by anything: no edges.
            identity(
                IdentityKind::IamPolicy,
                "unrelated",
                None,
                Action::Delete,
                IdentityDoc::InlinePolicy(None),
            ),
        ];
        let edges = edges(&changes);
        assert_eq!(
            pairs(&edges),
            vec![
                ("iam_role.replication".into(), "bucket.app.replication".into()),
                ("iam_role.replication".into(), "iam_role.replication.attachments".into()),
                (
                    "iam_role.replication.attachments".into(),
                    "bucket.app.replication".into()
                ),
                ("sns_topic.events".into(), "bucket.app.notifications".into()),
                ("sns_topic.events".into(), "sns_topic.events.policy".into()),
                ("sns_topic.events.policy".into(), "bucket.app.notifications".into()),
            ]
        );
        ChangeGraph::new(&changes, &edges).expect("acyclic");
    }

    #[test]
    fn a_policy_that_stops_naming_a_deleted_user_goes_first() {
        use crate::model::identity::UserDoc;
        let user = IdentityDoc::User(UserDoc {
            path: "/".into(),
            tags: Default::default(),
        });
        let before = Doc::Policy(Some(
            serde_json::json!({"Principal": {"AWS": "arn:aws:iam::123456789012:user/old-t"}}),
        ));
        let changes = vec![
            doc("app", Doc::Policy(None), Some(before)),
            identity(IdentityKind::IamUser, "old", None, Action::Delete, user),
        ];
        assert_eq!(
            pairs(&edges(&changes)),
            vec![("bucket.app.policy".into(), "iam_user.old".into())]
        );
    }
}
