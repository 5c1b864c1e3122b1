//! Plan rendering: text, JSON and markdown of plans built from data (no AWS), snapshotted with insta.
//!
//! After an intended output change: `INSTA_UPDATE=always cargo test --test plan_render`, then read the
//! diff of every `.snap` file under tests/snapshots/ before keeping it.

use std::collections::BTreeMap;

use insta::assert_snapshot;
use s3rec::model::{
    Doc, DocKind, EncryptionDoc, LifecycleRuleDoc, PublicAccessBlockDoc, TransitionDoc, VersioningState,
};
use s3rec::plan::render::{self, Detail, NO_CHANGES};
use s3rec::plan::{Action, Address, Change, Edge, PLAN_FORMAT_VERSION, Plan, Resource, Value};
use serde_json::json;

const ENV: &str = "prod";

// ---------------------------------------------------------------------------------------------------
// building plans from data

fn plan(changes: Vec<Change>) -> Plan {
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        environment: ENV.to_string(),
        manifest_sha256: "9f2c4e0b5a1d7c3e8f6a2b4d0c9e7f1a3b5d7c9e1f3a5b7d9c1e3f5a7b9d1c3e".to_string(),
        account_id: Some("123456789012".to_string()),
        targets: Vec::new(),
        changes,
        edges: Vec::new(),
        findings: Vec::new(),
        warnings: Vec::new(),
        syncs: Vec::new(),
        migrations: Vec::new(),
        costs: Vec::new(),
        state: None,
    }
}

fn bucket_change(action: Action, logical: &str, before: Option<(&str, &str)>, after: Option<(&str, &str)>) -> Change {
    let (name, region) = after.or(before).expect("a bucket change has a before or an after");
    let current_region = match (before, after) {
        (Some((_, old)), Some((_, new))) if old != new => Some(old.to_string()),
        _ => None,
    };
    let value = |(name, region): (&str, &str)| Value::Bucket {
        name: name.to_string(),
        region: region.to_string(),
    };
    Change {
        irreversible: None,
        cause: None,
        address: Address::bucket(logical),
        action,
        resource: Resource::Bucket {
            logical: logical.to_string(),
            name: name.to_string(),
            region: region.to_string(),
            current_region,
            force_destroy: false,
            prevent_destroy: false,
        },
        before: before.map(value),
        after: after.map(value),
        reason: None,
    }
}

fn doc_change(action: Action, logical: &str, bucket: &str, before: Option<Doc>, after: Option<Doc>) -> Change {
    let kind = after
        .as_ref()
        .or(before.as_ref())
        .map(Doc::kind)
        .expect("a document change has a document");
    Change {
        irreversible: None,
        cause: None,
        address: Address::bucket_doc(logical, kind),
        action,
        resource: Resource::BucketDoc {
            logical: logical.to_string(),
            bucket: bucket.to_string(),
            region: "eu-west-1".to_string(),
            kind,
        },
        before: before.map(Value::Doc),
        after: after.map(Value::Doc),
        reason: None,
    }
}

fn tags(pairs: &[(&str, &str)]) -> Doc {
    Doc::Tags(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn rule(id: &str, prefix: Option<&str>, transitions: &[(u32, &str)], expiration_days: Option<u32>) -> LifecycleRuleDoc {
    LifecycleRuleDoc {
        id: id.to_string(),
        enabled: true,
        prefix: prefix.map(str::to_string),
        tags: BTreeMap::new(),
        object_size_greater_than: None,
        object_size_less_than: None,
        transitions: transitions
            .iter()
            .map(|(days, class)| TransitionDoc {
                days: *days,
                storage_class: class.to_string(),
            })
            .collect(),
        expiration_days,
        expired_object_delete_marker: None,
        noncurrent_transitions: Vec::new(),
        noncurrent_expiration_days: None,
        noncurrent_newer_versions: None,
        abort_incomplete_multipart_upload_days: None,
    }
}

/// A new bucket with several documents, listed out of order on purpose (the renderers sort by address).
fn create_bucket() -> Vec<Change> {
    let b = "acme-logs-prod";
    let lifecycle = Doc::Lifecycle(vec![rule(
        "tier",
        Some("logs/"),
        &[(30, "STANDARD_IA"), (90, "GLACIER")],
        Some(365),
    )]);
    vec![
        doc_change(Action::Create, "logs", b, None, Some(lifecycle)),
        doc_change(
            Action::Create,
            "logs",
            b,
            None,
            Some(tags(&[("env", "prod"), ("cost center", "it-42")])),
        ),
        bucket_change(Action::Create, "logs", None, Some((b, "eu-west-1"))),
        doc_change(
            Action::Create,
            "logs",
            b,
            None,
            Some(Doc::Versioning(VersioningState::Enabled)),
        ),
        doc_change(
            Action::Create,
            "logs",
            b,
            None,
            Some(policy(vec![deny_insecure_transport(b)])),
        ),
        doc_change(
            Action::Create,
            "logs",
            b,
            None,
            Some(Doc::Encryption(Some(EncryptionDoc {
                algorithm: "aws:kms".to_string(),
                kms_key_id: Some("alias/acme-logs".to_string()),
                bucket_key: true,
            }))),
        ),
        doc_change(
            Action::Create,
            "logs",
            b,
            None,
            Some(Doc::PublicAccessBlock(PublicAccessBlockDoc {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            })),
        ),
    ]
}

/// Lifecycle: a transition moves, an expiration is dropped, a rule is added. Tags: one changed, one
/// added, one removed.
fn update_lifecycle_and_tags() -> Vec<Change> {
    let b = "acme-data-prod";
    let mut old_tier = rule("tier", Some("raw/"), &[(30, "STANDARD_IA")], Some(400));
    old_tier.abort_incomplete_multipart_upload_days = Some(7);
    let mut new_tier = rule(
        "tier",
        Some("raw/"),
        &[(60, "STANDARD_IA"), (180, "DEEP_ARCHIVE")],
        None,
    );
    new_tier.abort_incomplete_multipart_upload_days = Some(7);
    let tmp = rule("expire-tmp", Some("tmp/"), &[], Some(7));
    vec![
        doc_change(
            Action::Update,
            "data",
            b,
            Some(Doc::Lifecycle(vec![old_tier])),
            Some(Doc::Lifecycle(vec![tmp, new_tier])),
        ),
        doc_change(
            Action::Update,
            "data",
            b,
            Some(tags(&[("env", "prod"), ("legacy", "yes"), ("team", "data")])),
            Some(tags(&[
                ("env", "prod"),
                ("owner", "data-eng@acme.example"),
                ("team", "platform"),
            ])),
        ),
    ]
}

fn deny_insecure_transport(bucket: &str) -> serde_json::Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

fn reader_grant(actions: serde_json::Value) -> serde_json::Value {
    json!({
        "Sid": "AnalyticsRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:role/analytics"},
        "Action": actions,
        "Resource": "arn:aws:s3:::acme-data-prod/curated/*"
    })
}

fn policy(statements: Vec<serde_json::Value>) -> Doc {
    Doc::Policy(Some(json!({"Statement": statements, "Version": "2012-10-17"}))).canonical()
}

/// The TLS statement is added and the reader grant widened to `s3:ListBucket`.
fn policy_change() -> Vec<Change> {
    let before = policy(vec![reader_grant(json!("s3:GetObject"))]);
    let after = policy(vec![
        reader_grant(json!(["s3:GetObject", "s3:ListBucket"])),
        deny_insecure_transport("acme-data-prod"),
    ]);
    vec![doc_change(
        Action::Update,
        "data",
        "acme-data-prod",
        Some(before),
        Some(after),
    )]
}

fn replace_bucket() -> Vec<Change> {
    let b = "acme-archive-prod";
    let mut change = bucket_change(
        Action::Replace,
        "archive",
        Some((b, "us-east-1")),
        Some((b, "eu-west-1")),
    );
    change.reason = Some("the bucket is in us-east-1 but the manifest wants eu-west-1".to_string());
    vec![change]
}

fn delete_bucket() -> Vec<Change> {
    let mut change = bucket_change(
        Action::Delete,
        "old-reports",
        Some(("acme-old-reports-prod", "eu-west-1")),
        None,
    );
    change.reason = Some("no longer in the manifest, and state.prune is on".to_string());
    vec![change]
}

/// A bucket dropped from the manifest without pruning: AWS keeps it, the state forgets it.
fn no_op() -> Vec<Change> {
    let mut change = bucket_change(Action::NoOp, "scratch", Some(("acme-scratch-prod", "eu-west-1")), None);
    change.before = None;
    change.reason = Some(
        "no longer in the manifest: the bucket is kept and no longer managed (set state.prune: true to delete it)"
            .to_string(),
    );
    vec![change]
}

/// An existing bucket s3rec never managed: adopted, then its versioning brought to the manifest.
fn adopt_then_update() -> Vec<Change> {
    let bucket = ("acme-legacy-prod", "eu-west-1");
    vec![
        bucket_change(Action::Adopt, "legacy", Some(bucket), Some(bucket)),
        doc_change(
            Action::Update,
            "legacy",
            bucket.0,
            Some(Doc::Versioning(VersioningState::Suspended)),
            Some(Doc::Versioning(VersioningState::Enabled)),
        ),
        doc_change(
            Action::Adopt,
            "legacy",
            bucket.0,
            Some(Doc::PublicAccessBlock(PublicAccessBlockDoc::default())),
            Some(Doc::PublicAccessBlock(PublicAccessBlockDoc::default())),
        ),
    ]
}

fn everything() -> Plan {
    let mut changes = Vec::new();
    changes.extend(delete_bucket());
    changes.extend(update_lifecycle_and_tags());
    changes.extend(create_bucket());
    changes.extend(no_op());
    changes.extend(policy_change());
    changes.extend(replace_bucket());
    let mut plan = plan(changes);
    plan.edges = ["versioning", "encryption", "public_access_block", "tags", "lifecycle"]
        .into_iter()
        .map(|kind| Edge {
            before: Address::bucket("logs"),
            after: Address::bucket_doc("logs", DocKind::parse(kind).unwrap()),
        })
        .collect();
    plan.warnings =
        vec!["bucket acme-legacy-uploads is in AWS but not in the manifest; s3rec leaves it alone".to_string()];
    plan
}

/// IAM and SNS changes: a role whose trust policy gains a principal and whose description changes, a
/// user's new access key (the secret's file, never the secret), and attachments.
fn identity_changes() -> Vec<Change> {
    use s3rec::model::identity::{AccessKeyDoc, IdentityDoc, IdentityKind, PartKind, RoleDoc};
    let change = |kind, logical: &str, part, action, before: Option<IdentityDoc>, after: Option<IdentityDoc>| Change {
        irreversible: None,
        cause: None,
        address: Address::identity(kind, logical, part),
        action,
        resource: Resource::Identity {
            kind,
            logical: logical.to_string(),
            name: format!("acme-{logical}-prod"),
            arn: format!("arn:aws:iam::123456789012:{}/acme-{logical}-prod", &kind.as_str()[4..]),
            region: "eu-west-1".to_string(),
            part,
        },
        before: before.map(Value::Identity),
        after: after.map(Value::Identity),
        reason: None,
    };
    let trust = |principals: &[&str]| {
        s3rec::model::policy::normalize(&json!({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "TrustPrincipals", "Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}],
        }))
    };
    let role = |description: &str, principals: &[&str]| {
        IdentityDoc::Role(RoleDoc {
            path: "/".to_string(),
            description: Some(description.to_string()),
            max_session_duration: 3600,
            trust: trust(principals),
            tags: BTreeMap::new(),
        })
    };
    vec![
        change(
            IdentityKind::IamRole,
            "deployer",
            None,
            Action::Update,
            Some(role("Deploys", &["arn:aws:iam::123456789012:user/acme-ci-prod"])),
            Some(role(
                "Deploys the site",
                &[
                    "arn:aws:iam::123456789012:user/acme-ci-prod",
                    "arn:aws:iam::210987654321:root",
                ],
            )),
        ),
        change(
            IdentityKind::IamRole,
            "deployer",
            Some(PartKind::Attachments),
            Action::Update,
            Some(IdentityDoc::Attachments(
                ["arn:aws:iam::aws:policy/AdministratorAccess".to_string()].into(),
            )),
            Some(IdentityDoc::Attachments(
                ["arn:aws:iam::123456789012:policy/acme-deploy-prod".to_string()].into(),
            )),
        ),
        change(
            IdentityKind::IamUser,
            "ci",
            Some(PartKind::AccessKey),
            Action::Create,
            None,
            Some(IdentityDoc::AccessKey(AccessKeyDoc {
                secret_file: Some(".s3rec/secrets/prod/acme-ci-prod.credentials".to_string()),
                access_key_id: None,
            })),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------------
// text, one scenario each

#[test]
fn text_create_bucket_with_documents() {
    assert_snapshot!(render::text(&plan(create_bucket()), false, Detail::Full));
}

#[test]
fn text_update_lifecycle_and_tags() {
    assert_snapshot!(render::text(&plan(update_lifecycle_and_tags()), false, Detail::Full));
}

#[test]
fn text_policy_change_is_a_unified_diff() {
    let out = render::text(&plan(policy_change()), false, Detail::Full);
    assert!(out.contains("      @@ -"), "{out}");
    assert_snapshot!(out);
}

#[test]
fn text_identity_changes_show_trust_as_a_diff_and_the_secret_file() {
    let out = render::text(&plan(identity_changes()), false, Detail::Full);
    assert!(
        out.contains("secret_file: \".s3rec/secrets/prod/acme-ci-prod.credentials\""),
        "{out}"
    );
    assert_snapshot!(out);
}

#[test]
fn markdown_identity_changes() {
    assert_snapshot!(render::markdown(&plan(identity_changes())));
}

#[test]
fn text_replace_bucket() {
    assert_snapshot!(render::text(&plan(replace_bucket()), false, Detail::Full));
}

#[test]
fn text_delete_with_reason() {
    let out = render::text(&plan(delete_bucket()), false, Detail::Full);
    assert!(
        out.contains("  # (no longer in the manifest, and state.prune is on)\n"),
        "{out}"
    );
    assert_snapshot!(out);
}

#[test]
fn text_no_op_only() {
    let out = render::text(&plan(no_op()), false, Detail::Full);
    assert!(out.ends_with(&format!("{NO_CHANGES}\n")), "{out}");
    assert_snapshot!(out);
}

#[test]
fn text_adopt_then_update() {
    let out = render::text(&plan(adopt_then_update()), false, Detail::Full);
    assert!(out.contains("\n  = bucket.legacy\n"), "{out}");
    assert!(out.contains("\n  ~ bucket.legacy.versioning\n"), "{out}");
    assert!(!out.contains("changes in the state only"), "{out}");
    assert!(
        out.contains("\nPlan: 0 to create, 1 to update, 0 to replace, 0 to destroy, 2 to adopt.\n"),
        "{out}"
    );
    assert_snapshot!(out);
}

#[test]
fn adopt_only_is_a_change_not_no_changes() {
    let only: Vec<Change> = adopt_then_update()
        .into_iter()
        .filter(|c| c.action == Action::Adopt)
        .collect();
    let plan = plan(only);
    assert!(plan.has_changes(), "an adoption is for a reviewer to see");
    assert_eq!(plan.counts().adopt, 2);
    let text = render::text(&plan, false, Detail::Full);
    assert!(!text.contains(NO_CHANGES), "{text}");
    assert!(
        text.contains("Plan: 0 to create, 0 to update, 0 to replace, 0 to destroy, 2 to adopt."),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render::json(&plan)).unwrap();
    assert_eq!(json["summary"]["adopt"], 2);
    assert_eq!(json["changes"][0]["action"], "adopt");
    let markdown = render::markdown(&plan);
    assert!(
        markdown.contains("| `=` adopt | `bucket.legacy` | existing bucket `acme-legacy-prod` in `eu-west-1` |"),
        "{markdown}"
    );
}

#[test]
fn markdown_adopt_then_update() {
    assert_snapshot!(render::markdown(&plan(adopt_then_update())));
}

#[test]
fn text_empty_plan() {
    assert_eq!(
        render::text(&plan(Vec::new()), false, Detail::Full),
        format!("{NO_CHANGES}\n")
    );
}

#[test]
fn text_everything() {
    let out = render::text(&everything(), false, Detail::Full);
    assert!(
        out.contains("\nPlan: 7 to create, 3 to update, 1 to replace, 1 to destroy.\n"),
        "{out}"
    );
    assert_snapshot!(out);
}

#[test]
fn text_legend_lists_only_the_actions_present() {
    let out = render::text(&plan(update_lifecycle_and_tags()), false, Detail::Full);
    assert!(out.contains("  ~ update in-place\n"));
    for absent in ["  + create\n", "-/+ replace\n", "  - destroy\n"] {
        assert!(!out.contains(absent), "{absent:?} in\n{out}");
    }
}

#[test]
fn text_is_stable() {
    assert_eq!(
        render::text(&everything(), false, Detail::Full),
        render::text(&everything(), false, Detail::Full)
    );
    let mut reversed = everything();
    reversed.changes.reverse();
    assert_eq!(
        render::text(&reversed, false, Detail::Full),
        render::text(&everything(), false, Detail::Full)
    );
}

#[test]
fn text_colour_only_on_request() {
    let plain = render::text(&everything(), false, Detail::Full);
    assert!(!plain.contains('\x1b'));
    let coloured = render::text(&everything(), true, Detail::Full);
    assert!(coloured.contains("  \x1b[32m+\x1b[0m bucket.logs\n"), "{coloured}");
    assert!(coloured.contains("  \x1b[33m~\x1b[0m bucket.data.tags\n"), "{coloured}");
    assert!(
        coloured.contains("  \x1b[31m-\x1b[0m bucket.old-reports\n"),
        "{coloured}"
    );
    assert!(
        coloured.contains("\x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m bucket.archive\n"),
        "{coloured}"
    );
    assert!(
        coloured.contains("Warning:\x1b[0m bucket acme-legacy-uploads"),
        "{coloured}"
    );
    assert_eq!(anstream::adapter::strip_str(&coloured).to_string(), plain);
}

#[test]
fn text_targets_warn() {
    let mut targeted = plan(replace_bucket());
    targeted.targets = vec!["bucket.archive".to_string()];
    let out = render::text(&targeted, false, Detail::Full);
    assert!(out.ends_with("\nWarning: resource targeting is in effect (bucket.archive): the plan covers only these addresses and may be incomplete.\n"), "{out}");
}

// ---------------------------------------------------------------------------------------------------
// json

#[test]
fn json_everything() {
    assert_snapshot!(render::json(&everything()));
}

#[test]
fn json_empty_plan() {
    assert_snapshot!(render::json(&plan(Vec::new())));
}

#[test]
fn json_parses_back_into_the_plan() {
    let original = everything();
    let out = render::json(&original);
    assert!(out.ends_with("}\n"));
    let back: Plan = serde_json::from_str(&out).expect("the JSON plan parses back into a Plan");
    assert_eq!(back, original);
    assert_eq!(back.format_version, 1);
    assert_eq!(back.environment, ENV);
    assert_eq!(back.changes.len(), original.changes.len());

    let document: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        document["summary"],
        json!({"create": 7, "update": 3, "replace": 1, "delete": 1})
    );
    let keys: Vec<&str> = document.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "format_version",
            "environment",
            "manifest_sha256",
            "account_id",
            "summary",
            "changes",
            "edges",
            "warnings"
        ]
    );
}

// ---------------------------------------------------------------------------------------------------
// markdown

#[test]
fn markdown_everything() {
    let out = render::markdown(&everything());
    assert!(out.starts_with("<!-- s3rec-plan:prod -->\n"));
    assert!(out.contains("\nPlan: 7 to create, 3 to update, 1 to replace, 1 to destroy.\n"));
    assert_snapshot!(out);
}

#[test]
fn markdown_empty_plan() {
    let out = render::markdown(&plan(Vec::new()));
    assert!(out.starts_with("<!-- s3rec-plan:prod -->\n"));
    assert_snapshot!(out);
}

#[test]
fn markdown_no_op_only() {
    assert_snapshot!(render::markdown(&plan(no_op())));
}

/// A plan over `buckets` buckets, large enough that its full markdown would not fit a pull-request
/// comment: most buckets are created with four documents, some have their policy rewritten, among the
/// first thousand every 25th is destroyed and every 40th replaced (moving region), and two findings are
/// open.
fn large_plan(buckets: usize) -> Plan {
    let mut changes = Vec::new();
    for i in 0..buckets {
        let logical = format!("data-{i:04}");
        let name = format!("acme-data-{i:04}-prod");
        if i < 1_000 && i % 25 == 7 {
            let mut change = bucket_change(Action::Delete, &logical, Some((&name, "eu-west-1")), None);
            change.reason = Some("no longer in the manifest, and state.prune is on".to_string());
            changes.push(change);
        } else if i < 1_000 && i % 40 == 13 {
            let mut change = bucket_change(
                Action::Replace,
                &logical,
                Some((&name, "us-east-1")),
                Some((&name, "eu-west-1")),
            );
            change.reason = Some("the bucket is in us-east-1 but the manifest wants eu-west-1".to_string());
            changes.push(change);
        } else if i % 10 == 3 {
            let before = policy(vec![reader_grant(json!("s3:GetObject"))]);
            let after = policy(vec![
                reader_grant(json!(["s3:GetObject", "s3:ListBucket"])),
                deny_insecure_transport(&name),
            ]);
            changes.push(doc_change(Action::Update, &logical, &name, Some(before), Some(after)));
        } else {
            changes.push(bucket_change(
                Action::Create,
                &logical,
                None,
                Some((&name, "eu-west-1")),
            ));
            changes.push(doc_change(
                Action::Create,
                &logical,
                &name,
                None,
                Some(Doc::Versioning(VersioningState::Enabled)),
            ));
            changes.push(doc_change(
                Action::Create,
                &logical,
                &name,
                None,
                Some(tags(&[("env", "prod"), ("team", "data")])),
            ));
            changes.push(doc_change(
                Action::Create,
                &logical,
                &name,
                None,
                Some(Doc::Lifecycle(vec![rule(
                    "tier",
                    Some("raw/"),
                    &[(30, "STANDARD_IA")],
                    Some(365),
                )])),
            ));
            changes.push(doc_change(
                Action::Create,
                &logical,
                &name,
                None,
                Some(Doc::PublicAccessBlock(PublicAccessBlockDoc::default())),
            ));
        }
    }
    let mut plan = plan(changes);
    plan.findings = vec![
        finding(
            "S3R001",
            "high",
            "bucket.data-0001",
            "Public read through the bucket policy",
        ),
        finding(
            "S3R004",
            "medium",
            "bucket.data-0002",
            "Objects are not encrypted with a KMS key",
        ),
    ];
    plan
}

fn finding(id: &str, severity: &str, resource: &str, title: &str) -> s3rec::findings::render::JsonFinding {
    s3rec::findings::render::JsonFinding {
        id: id.to_string(),
        severity: severity.to_string(),
        title: title.to_string(),
        resource: resource.to_string(),
        origin: "manifest".to_string(),
        detail: format!("{title} ({resource})"),
        file: Some("environments/prod.yaml".to_string()),
        line: Some(12),
        column: Some(5),
        pointer: "/buckets/data".to_string(),
        control: None,
        explanation: String::new(),
        fix: String::new(),
        acknowledged: false,
        reason: None,
    }
}

#[test]
fn markdown_of_a_thousand_buckets_fits_a_pull_request_comment() {
    let plan = large_plan(1_000);
    let full = render::text(&plan, false, Detail::Full);
    assert!(
        full.len() > 2 * render::MARKDOWN_LIMIT,
        "the plan must be too long to show whole: {}",
        full.len()
    );
    let out = render::markdown(&plan);
    assert!(
        out.len() <= render::MARKDOWN_LIMIT,
        "{} bytes is over the limit of {}",
        out.len(),
        render::MARKDOWN_LIMIT
    );
    assert!(out.starts_with("<!-- s3rec-plan:prod -->\n"));
    assert!(out.contains(&format!("\n{}\n", render::summary_line(plan.counts()))));
    assert!(
        out.contains("`s3rec plan -e prod --format json`"),
        "says how to get the whole plan"
    );
    assert!(out.contains("| high | `S3R001` Public read through the bucket policy |"));
    assert!(out.contains("| medium | `S3R004` Objects are not encrypted with a KMS key |"));
    let destructive: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .collect();
    assert_eq!(destructive.len(), 40 + 25);
    for change in destructive {
        let row = format!(
            "| `{}` {} | `{}` |",
            change.action.symbol(),
            if change.action == Action::Delete {
                "destroy"
            } else {
                "replace"
            },
            change.address
        );
        assert!(out.contains(&row), "no table row for {}", change.address);
        let block = format!(
            "  # {} {}\n",
            change.address,
            if change.action == Action::Delete {
                "will be destroyed"
            } else {
                "must be replaced"
            }
        );
        assert!(out.contains(&block), "no text of {}", change.address);
    }
    // Every other changed bucket is counted, none is left out at this size.
    assert!(out.contains("\n| `bucket.data-0000` | 5 | 0 | 0 |\n"), "{out}");
    assert!(out.contains("\n| `bucket.data-0003` | 0 | 1 | 0 |\n"));
    assert!(out.contains("\n| `bucket.data-0999` | 5 | 0 | 0 |\n"));
    assert!(!out.contains("more resources"));
    assert!(
        !out.contains("bucket.data-0000.versioning"),
        "other changes are counted, not listed"
    );
    let head: String = out.lines().take(24).collect::<Vec<_>>().join("\n");
    let tail: String = out
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert_snapshot!(format!("{head}\n[…]\n{tail}\n[{} bytes]", out.len()));
}

#[test]
fn a_shortened_markdown_plan_keeps_the_cost_line_of_plan_cost() {
    let mut plan = large_plan(1_000);
    plan.costs = (0..3)
        .map(|i| s3rec::plan::CostDelta {
            address: Address::bucket(&format!("data-{i:04}")),
            changed: vec!["lifecycle".to_string()],
            monthly_before: 10.0,
            monthly_after: 4.0,
            one_time_fees: 1.5,
            total_12_months: -60.0,
            error: None,
        })
        .collect();
    let out = render::markdown(&plan);
    assert!(out.contains("**This plan is shortened"), "the plan must be shortened");
    assert!(out.len() <= render::MARKDOWN_LIMIT, "{} bytes", out.len());
    assert!(
        out.contains("**Cost** of `prod`: $30.00 → $12.00 a month by month 12 (-$18.00), one-time fees $4.50\n"),
        "{out}"
    );
    for cost in &plan.costs {
        assert!(
            out.contains(&format!("- {}\n", cost.line())),
            "no line for {}",
            cost.address
        );
    }
}

#[test]
fn markdown_of_any_size_fits_and_says_what_it_left_out() {
    let plan = large_plan(8_000);
    let out = render::markdown(&plan);
    assert!(out.len() <= render::MARKDOWN_LIMIT, "{} bytes", out.len());
    assert!(out.contains(&format!("\n{}\n", render::summary_line(plan.counts()))));
    // The counts give way first: every destroy and replace stays.
    for change in plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
    {
        assert!(
            out.contains(&format!("| `{}` |", change.address)),
            "no row for {}",
            change.address
        );
    }
    assert!(
        out.contains(" more resources: see the whole plan |"),
        "{}",
        &out[out.len() - 2_000..]
    );
}

#[test]
fn markdown_with_more_destroys_than_fit_still_fits_and_counts_the_rest() {
    let changes = (0..3_000)
        .map(|i| {
            let mut change = bucket_change(
                Action::Delete,
                &format!("old-{i:04}"),
                Some((&format!("acme-old-{i:04}-prod"), "eu-west-1")),
                None,
            );
            change.reason = Some("no longer in the manifest, and state.prune is on".to_string());
            change
        })
        .collect();
    let out = render::markdown(&plan(changes));
    assert!(out.len() <= render::MARKDOWN_LIMIT, "{} bytes", out.len());
    assert!(out.contains("\nPlan: 0 to create, 0 to update, 0 to replace, 3000 to destroy.\n"));
    assert!(out.contains("| `-` destroy | `bucket.old-0000` |"));
    assert!(
        out.contains(" more destroys and replaces: see the whole plan |"),
        "{}",
        &out[out.len() - 2_000..]
    );
}

#[test]
fn markdown_of_a_small_plan_is_not_shortened() {
    let out = render::markdown(&everything());
    assert!(out.contains("<summary>Plan</summary>"));
    assert!(!out.contains("shortened"));
}

#[test]
fn docs_example_is_what_json_prints() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/plan-format.md")).unwrap();
    let example = doc.split("\n## Example\n").nth(1).expect("an Example section");
    let start = example.find("```json\n").expect("a json block") + "```json\n".len();
    let example = &example[start..start + example[start..].find("```").unwrap()];
    let parsed: Plan = serde_json::from_str(example).expect("the documented example is a plan");
    assert_eq!(render::json(&parsed), example);
    assert_eq!(parsed.counts().create, 2);
}

fn migration_work(phase: &str, scanned: bool) -> s3rec::plan::MigrationWork {
    s3rec::plan::MigrationWork {
        migration: "retire".into(),
        bucket: "acme-old".into(),
        phase: phase.into(),
        scanned,
        counts: s3rec::migrate::status::Tally {
            objects: 10,
            bytes: 18 << 20,
            to_restore: 2,
            to_restore_bytes: 12 << 20,
            restoring: 1,
            to_download: 3,
            to_download_bytes: 3 << 20,
            verified: 4,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn migrations_are_information_not_changes() {
    let mut p = plan(Vec::new());
    p.migrations = vec![migration_work("restore", false)];
    assert!(!p.has_changes(), "a pending migration is not something apply does");
    let out = render::text(&p, false, Detail::Full);
    assert_eq!(
        out,
        format!(
            "  # migration.retire (s3://acme-old): phase restore (not scanned yet; counted from a listing): 10 objects (18.0 MiB); 2 to restore (12.0 MiB), 1 restoring, 3 to download (3.0 MiB), 0 to verify, 4 verified, 0 eligible for delete\n\n{NO_CHANGES}\n"
        )
    );
    let md = render::markdown(&p);
    assert!(md.contains("- migration.retire (s3://acme-old): phase restore"), "{md}");

    let mut failed = migration_work("blocked", true);
    failed.counts.refused = 2;
    assert!(
        failed.line().contains("2 refused (keys that cannot be files)"),
        "{}",
        failed.line()
    );
    let broken = s3rec::plan::MigrationWork {
        error: Some("bucket acme-old does not exist".into()),
        ..migration_work("scan", false)
    };
    assert_eq!(
        broken.line(),
        "migration.retire: cannot be assessed: bucket acme-old does not exist"
    );
}

// ---------------------------------------------------------------------------------------------------
// the compact view (the default) and the causes of changes

#[test]
fn compact_everything() {
    let out = render::text(&everything(), false, Detail::Compact);
    // One block per resource: the new bucket's documents are lines of its block, not blocks.
    assert!(
        out.contains("\n  + bucket.logs: new bucket \"acme-logs-prod\" in eu-west-1\n"),
        "{out}"
    );
    assert!(!out.contains("\n  + bucket.logs.lifecycle"), "{out}");
    // A new policy is its statements, not its text; a changed one stays a line diff.
    assert!(
        out.contains("      + policy: 1 statement: DenyInsecureTransport\n"),
        "{out}"
    );
    assert!(out.contains("          @@ -"), "{out}");
    assert!(
        out.contains("\nPlan: 7 to create, 3 to update, 1 to replace, 1 to destroy.\n"),
        "{out}"
    );
    // Most of what remains is the changed policy's line diff, which stays whole.
    let full = render::text(&everything(), false, Detail::Full);
    assert!(
        out.lines().count() * 5 < full.lines().count() * 3,
        "compact {} lines, full {}",
        out.lines().count(),
        full.lines().count()
    );
    assert_snapshot!(out);
}

#[test]
fn compact_identity_changes() {
    assert_snapshot!(render::text(&plan(identity_changes()), false, Detail::Compact));
}

#[test]
fn compact_adopt_then_update() {
    assert_snapshot!(render::text(&plan(adopt_then_update()), false, Detail::Compact));
}

#[test]
fn compact_no_op_only_and_empty() {
    let out = render::text(&plan(no_op()), false, Detail::Compact);
    assert!(out.ends_with(&format!("{NO_CHANGES}\n")), "{out}");
    assert_snapshot!(out);
    assert_eq!(
        render::text(&plan(Vec::new()), false, Detail::Compact),
        format!("{NO_CHANGES}\n")
    );
}

#[test]
fn compact_colour_only_on_request() {
    let plain = render::text(&everything(), false, Detail::Compact);
    let coloured = render::text(&everything(), true, Detail::Compact);
    assert!(
        coloured.contains("  \x1b[32m+\x1b[0m bucket.logs: new bucket"),
        "{coloured}"
    );
    assert_eq!(anstream::adapter::strip_str(&coloured).to_string(), plain);
}

/// The lifecycle and tags updates of `update_lifecycle_and_tags` with causes: the tags drifted (someone
/// retagged in the console), the lifecycle rules were edited, and a policy moved on both sides.
fn with_causes() -> Plan {
    use s3rec::plan::Cause;
    let mut changes = update_lifecycle_and_tags();
    changes.extend(policy_change());
    for change in &mut changes {
        change.cause = match change.address.as_str() {
            "bucket.data.lifecycle" => Some(Cause::Edit),
            "bucket.data.tags" => Some(Cause::Drift),
            "bucket.data.policy" => Some(Cause::DriftAndEdit),
            other => panic!("unexpected change {other}"),
        };
    }
    plan(changes)
}

#[test]
fn causes_in_compact_text() {
    let out = render::text(&with_causes(), false, Detail::Compact);
    assert!(out.contains("      ~ lifecycle  [edit]\n"), "{out}");
    assert!(out.contains("      ~ tags  [drift]\n"), "{out}");
    assert!(out.contains("      ~ policy  [drift + edit]\n"), "{out}");
    assert!(
        out.contains(
            "Plan: 0 to create, 3 to update, 0 to replace, 0 to destroy. 2 of these changes undo drift (changes made in AWS outside s3rec).\n"
        ),
        "{out}"
    );
    assert_snapshot!(out);
}

#[test]
fn causes_in_full_text() {
    let out = render::text(&with_causes(), false, Detail::Full);
    assert!(
        out.contains("  # bucket.data.tags will be updated in-place [drift]\n"),
        "{out}"
    );
    assert!(
        out.contains("  # bucket.data.lifecycle will be updated in-place [edit]\n"),
        "{out}"
    );
    assert!(out.contains("[drift]: AWS changed outside s3rec"), "{out}");
}

#[test]
fn causes_in_json() {
    let out = render::json(&with_causes());
    let document: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        document["summary"],
        json!({"create": 0, "update": 3, "replace": 0, "delete": 0, "drift": 2})
    );
    let causes: BTreeMap<&str, &str> = document["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["address"].as_str().unwrap(), c["cause"].as_str().unwrap()))
        .collect();
    assert_eq!(
        causes,
        BTreeMap::from([
            ("bucket.data.lifecycle", "edit"),
            ("bucket.data.policy", "drift_and_edit"),
            ("bucket.data.tags", "drift"),
        ])
    );
    let back: Plan = serde_json::from_str(&out).unwrap();
    assert_eq!(back, with_causes());
}

#[test]
fn causes_in_markdown() {
    let out = render::markdown(&with_causes());
    assert!(out.contains("| `~` update (drift) | `bucket.data.tags` |"), "{out}");
    assert!(out.contains("| `~` update (edit) | `bucket.data.lifecycle` |"), "{out}");
    assert!(
        out.contains("| `~` update (drift + edit) | `bucket.data.policy` |"),
        "{out}"
    );
    assert!(out.contains("2 of these changes undo drift"), "{out}");
    assert_snapshot!(out);
}
