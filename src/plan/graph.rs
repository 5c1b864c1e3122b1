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
            Resource::BucketDoc { .. } => None,
        })
        .collect();
    let doc_change = |bucket: &str, kind: DocKind| {
        changes.iter().find(|c| {
            matches!(&c.resource, Resource::BucketDoc { bucket: b, kind: k, .. } if b == bucket && *k == kind)
                && c.action != Action::NoOp
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
    for change in changes.iter().filter(|c| c.action != Action::NoOp) {
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
                match doc {
                    // S3 checks the log bucket's policy lets the logging service write.
                    Doc::Logging(_) => {
                        if let Some(p) = doc_change(&target, DocKind::Policy) {
                            add(&p.address, &change.address);
                        }
                    }
                    // S3 refuses replication unless both sides are versioned.
                    Doc::Replication(_) => {
                        for bucket_name in [bucket.as_str(), target.as_str()] {
                            if let Some(v) = doc_change(bucket_name, DocKind::Versioning) {
                                add(&v.address, &change.address);
                            }
                        }
                    }
                    _ => {}
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
    out.sort();
    out.dedup();
    out
}

/// Physical names of the buckets a document points at.
fn referenced_buckets(doc: &Doc) -> Vec<String> {
    match doc {
        Doc::Logging(Some(l)) => vec![l.target_bucket.clone()],
        Doc::Replication(Some(r)) => r
            .rules
            .iter()
            .filter_map(|rule| rule.destination_bucket_arn.rsplit(":::").next().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
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
    use crate::model::{LoggingDoc, VersioningState};

    fn bucket(logical: &str, action: Action) -> Change {
        Change {
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
}
