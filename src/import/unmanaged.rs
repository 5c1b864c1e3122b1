//! Buckets of the account that no environment manages, with what a reviewer should know about each:
//! `import --list` and the unmanaged section of `plan --audit`. Pure: the planner lists and reads.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{Doc, DocKind, PublicAccessBlockDoc};

/// The documents read for each unmanaged bucket to find what is wrong with it.
pub const FINDING_KINDS: [DocKind; 4] = [
    DocKind::PublicAccessBlock,
    DocKind::Encryption,
    DocKind::Ownership,
    DocKind::Policy,
];

/// One bucket no environment manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    pub name: String,
    pub region: String,
    /// Creation date, RFC 3339, when the listing gave one.
    pub created: Option<String>,
    pub findings: Vec<String>,
}

/// The listed buckets whose names are not in `managed`, in name order.
pub fn unmanaged_names<'a>(listed: impl IntoIterator<Item = &'a str>, managed: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = listed
        .into_iter()
        .filter(|n| !managed.contains(*n))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What a reviewer cares about in one document, when it differs from what AWS gives a new bucket.
/// `plan --audit` reports the same findings for the documents a manifest leaves out.
pub fn finding(doc: &Doc) -> Option<String> {
    let all_blocked = PublicAccessBlockDoc {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    match doc {
        Doc::PublicAccessBlock(p) if *p == PublicAccessBlockDoc::default() => {
            Some("public access allowed: no public access block".to_string())
        }
        Doc::PublicAccessBlock(p) if *p != all_blocked => {
            Some(format!("public access not fully blocked ({})", off_switches(p)))
        }
        Doc::Ownership(o) if o.as_deref() != Some("BucketOwnerEnforced") => Some(format!(
            "ACLs enabled (object ownership {}, AWS default BucketOwnerEnforced)",
            o.as_deref().unwrap_or("not set")
        )),
        Doc::Encryption(None) => Some("no default encryption (AWS default is SSE-S3)".to_string()),
        Doc::Policy(Some(p)) if public_statement(p) => {
            Some("the bucket policy allows access to everyone (Principal \"*\")".to_string())
        }
        _ => None,
    }
}

fn off_switches(p: &PublicAccessBlockDoc) -> String {
    let mut off = Vec::new();
    for (on, name) in [
        (p.block_public_acls, "block_public_acls"),
        (p.ignore_public_acls, "ignore_public_acls"),
        (p.block_public_policy, "block_public_policy"),
        (p.restrict_public_buckets, "restrict_public_buckets"),
    ] {
        if !on {
            off.push(name);
        }
    }
    format!("{} off", off.join(", "))
}

fn public_statement(policy: &serde_json::Value) -> bool {
    policy["Statement"].as_array().is_some_and(|statements| {
        statements.iter().any(|s| {
            s["Effect"] == "Allow"
                && (s["Principal"] == "*" || s["Principal"]["AWS"] == "*")
                && s["Condition"].is_null()
        })
    })
}

/// The table `import --list` prints: one line per bucket, findings joined by `; `.
pub fn table(rows: &[Unmanaged]) -> String {
    let mut out = String::new();
    let name_w = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max("BUCKET".len());
    let region_w = rows
        .iter()
        .map(|r| r.region.len())
        .max()
        .unwrap_or(0)
        .max("REGION".len());
    let created_w = "2006-01-02T15:04:05Z".len();
    out.push_str(&format!(
        "{:name_w$}  {:region_w$}  {:created_w$}  FINDINGS\n",
        "BUCKET", "REGION", "CREATED"
    ));
    for r in rows {
        let findings = if r.findings.is_empty() {
            "-".to_string()
        } else {
            r.findings.join("; ")
        };
        out.push_str(&format!(
            "{:name_w$}  {:region_w$}  {:created_w$}  {findings}\n",
            r.name,
            r.region,
            r.created.as_deref().unwrap_or("-")
        ));
    }
    out
}

/// `import --list --format json`: `{"unmanaged": [...]}`.
pub fn json(rows: &[Unmanaged]) -> String {
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "unmanaged": rows })).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_no_environment_manages_are_listed() {
        let managed: BTreeSet<String> = ["a".to_string(), "c".to_string()].into();
        assert_eq!(unmanaged_names(["c", "b", "a", "d"], &managed), vec!["b", "d"]);
    }

    #[test]
    fn findings_name_what_a_reviewer_looks_for() {
        assert!(
            finding(&Doc::PublicAccessBlock(PublicAccessBlockDoc::default()))
                .expect("finding")
                .contains("public access allowed")
        );
        assert!(
            finding(&Doc::Ownership(Some("ObjectWriter".into())))
                .expect("finding")
                .contains("ACLs enabled")
        );
        assert!(
            finding(&Doc::Encryption(None))
                .expect("finding")
                .contains("no default encryption")
        );
        assert_eq!(finding(&Doc::Ownership(Some("BucketOwnerEnforced".into()))), None);
    }
}
