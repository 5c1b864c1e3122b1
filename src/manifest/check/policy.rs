//! Policy statements well-formed before AWS sees them: action and resource shapes, principals where a
//! resource policy needs them and nowhere else, known services, condition operators, unique Sids.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::{Ctx, On, ptr};
use crate::manifest::diagnostic::Problem;
use crate::manifest::schema::closest;
use crate::manifest::types::{OneOrMany, Statement};

/// Service prefixes s3rec's manifests plausibly grant. Unknown ones are errors with a suggestion; this is
/// where `s33:GetObject` or `S3:GetObject` typos are caught.
const SERVICES: &[&str] = &[
    "s3",
    "s3express",
    "s3-object-lambda",
    "iam",
    "sts",
    "sns",
    "sqs",
    "kms",
    "lambda",
    "logs",
    "cloudwatch",
    "cloudtrail",
    "ec2",
    "events",
    "glacier",
    "organizations",
    "access-analyzer",
    "backup",
    "dynamodb",
    "secretsmanager",
    "ssm",
    "athena",
    "glue",
    "firehose",
    "kinesis",
    "states",
    "tag",
];

/// Verbs S3, IAM and SNS actions start with; an action that starts otherwise is not one AWS has.
const VERBS: &[(&str, &[&str])] = &[
    (
        "s3",
        &[
            "Abort",
            "Associate",
            "Bypass",
            "Create",
            "Delete",
            "Describe",
            "Dissociate",
            "Get",
            "Initiate",
            "List",
            "ObjectOwnerOverrideToBucketOwner",
            "Pause",
            "Put",
            "Replicate",
            "Restore",
            "Submit",
            "Tag",
            "Untag",
            "Update",
        ],
    ),
    (
        "iam",
        &[
            "Add",
            "Attach",
            "Change",
            "Create",
            "Deactivate",
            "Delete",
            "Detach",
            "Disable",
            "Enable",
            "Generate",
            "Get",
            "List",
            "Pass",
            "Put",
            "Remove",
            "Reset",
            "Resync",
            "Set",
            "Simulate",
            "Tag",
            "Untag",
            "Update",
            "Upload",
        ],
    ),
    (
        "sns",
        &[
            "Add",
            "Check",
            "Confirm",
            "Create",
            "Delete",
            "Get",
            "List",
            "Opt",
            "Publish",
            "Put",
            "Remove",
            "Set",
            "Subscribe",
            "Tag",
            "Unsubscribe",
            "Untag",
            "Verify",
        ],
    ),
];

const CONDITION_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

const PRINCIPAL_KINDS: &[&str] = &["AWS", "Service", "Federated", "CanonicalUser"];

/// What a policy document is attached to decides which fields a statement needs.
#[derive(Clone, Copy)]
enum Kind<'a> {
    /// A bucket policy: needs a principal; resources must be this bucket or its objects.
    Bucket { name: &'a str, logical: &'a str },
    /// An identity policy: must not name a principal.
    Identity,
}

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    for (logical, bucket) in &m.buckets {
        if let Some(policy) = &bucket.policy {
            let at = ptr(&[&"buckets", logical, &"policy", &"statements"]);
            check_document(
                ctx,
                &policy.statements,
                &at,
                Kind::Bucket {
                    name: &bucket.name,
                    logical,
                },
            );
        }
    }
    for (logical, policy) in &m.iam.policies {
        let at = ptr(&[&"iam", &"policies", logical, &"statements"]);
        check_document(ctx, &policy.statements, &at, Kind::Identity);
        if policy.statements.is_empty() && policy.grants.is_empty() {
            ctx.report(
                Problem::error(
                    "policy",
                    format!("managed policy `{logical}` has no statements and no grants"),
                )
                .with_hint("IAM refuses an empty policy document"),
                &ptr(&[&"iam", &"policies", logical]),
                On::Key,
            );
        }
    }
}

fn check_document(ctx: &mut Ctx<'_>, statements: &[Statement], at: &str, kind: Kind<'_>) {
    let mut sids: HashMap<&str, usize> = HashMap::new();
    for (i, st) in statements.iter().enumerate() {
        let here = format!("{at}/{i}");
        if let Some(sid) = &st.sid {
            if !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                ctx.report(
                    Problem::error("policy-sid", format!("Sid `{sid}` may only contain letters and digits"))
                        .with_hint("AWS refuses other characters in a Sid"),
                    &format!("{here}/Sid"),
                    On::Value,
                );
            }
            if let Some(first) = sids.insert(sid, i) {
                ctx.report(
                    Problem::error(
                        "policy-sid",
                        format!("Sid `{sid}` is already used by statement {first}"),
                    ),
                    &format!("{here}/Sid"),
                    On::Value,
                );
            }
        }
        exactly_one(ctx, st.action.is_some(), st.not_action.is_some(), "Action", &here);
        exactly_one(ctx, st.resource.is_some(), st.not_resource.is_some(), "Resource", &here);
        for (field, actions) in [("Action", &st.action), ("NotAction", &st.not_action)] {
            if let Some(actions) = actions {
                check_actions(ctx, actions, &format!("{here}/{field}"));
            }
        }
        for (field, resources) in [("Resource", &st.resource), ("NotResource", &st.not_resource)] {
            if let Some(resources) = resources {
                check_resources(ctx, resources, &format!("{here}/{field}"), kind);
            }
        }
        match kind {
            Kind::Bucket { .. } => {
                exactly_one(
                    ctx,
                    st.principal.is_some(),
                    st.not_principal.is_some(),
                    "Principal",
                    &here,
                );
            }
            Kind::Identity => {
                for (field, p) in [("Principal", &st.principal), ("NotPrincipal", &st.not_principal)] {
                    if p.is_some() {
                        ctx.report(
                            Problem::error("policy-principal", format!("an identity policy cannot have `{field}`"))
                                .with_hint("the principal is whoever the policy is attached to; remove this field"),
                            &format!("{here}/{field}"),
                            On::Key,
                        );
                    }
                }
            }
        }
        for (field, p) in [("Principal", &st.principal), ("NotPrincipal", &st.not_principal)] {
            if let Some(p) = p {
                check_principal(ctx, p, &format!("{here}/{field}"));
            }
        }
        if let Some(conditions) = &st.condition {
            for op in conditions.keys() {
                check_operator(
                    ctx,
                    op,
                    &format!("{here}/Condition/{}", crate::manifest::yaml::escape_pointer(op)),
                );
            }
        }
    }
}

fn exactly_one(ctx: &mut Ctx<'_>, plain: bool, not: bool, field: &str, here: &str) {
    if plain && not {
        ctx.report(
            Problem::error(
                "policy-statement",
                format!("a statement cannot have both `{field}` and `Not{field}`"),
            ),
            &format!("{here}/Not{field}"),
            On::Key,
        );
    } else if !plain && !not {
        ctx.report(
            Problem::error("policy-statement", format!("statement has no `{field}`"))
                .with_hint(format!("add `{field}:` (or `Not{field}:`)")),
            here,
            On::Value,
        );
    }
}

fn check_actions(ctx: &mut Ctx<'_>, actions: &OneOrMany, at: &str) {
    let values = actions.values();
    if values.is_empty() {
        ctx.report(
            Problem::error("policy-action", "the action list is empty"),
            at,
            On::Value,
        );
    }
    for (i, action) in values.iter().enumerate() {
        let here = match actions {
            OneOrMany::One(_) => at.to_string(),
            OneOrMany::Many(_) => format!("{at}/{i}"),
        };
        if let Some(problem) = action_problem(action) {
            ctx.report(problem, &here, On::Value);
        }
    }
}

/// Why `action` is not an IAM action, if it is not.
fn action_problem(action: &str) -> Option<Problem> {
    if action == "*" {
        return None;
    }
    let Some((service, name)) = action.split_once(':') else {
        return Some(
            Problem::error("policy-action", format!("`{action}` is not an action"))
                .with_hint("actions are `service:Name`, e.g. `s3:GetObject`"),
        );
    };
    if !SERVICES.contains(&service) {
        let known: Vec<String> = SERVICES.iter().map(|s| s.to_string()).collect();
        let hint = match closest(service, &known) {
            Some(s) => format!("did you mean `{s}:{name}`?"),
            None => "service prefixes are lowercase, e.g. `s3:`, `iam:`, `sns:`".to_string(),
        };
        return Some(
            Problem::error(
                "policy-action",
                format!("unknown service prefix `{service}:` in `{action}`"),
            )
            .with_hint(hint),
        );
    }
    if name.is_empty() {
        return Some(
            Problem::error("policy-action", format!("`{action}` names no action"))
                .with_hint(format!("e.g. `{service}:*`")),
        );
    }
    if let Some((_, verbs)) = VERBS.iter().find(|(s, _)| *s == service) {
        // A wildcard before the end hides the verb (`s3:*Object`); such patterns are legal as they are.
        let literal_head: String = name.chars().take_while(|c| *c != '*' && *c != '?').collect();
        let known = literal_head.is_empty()
            || (literal_head.starts_with(|c: char| c.is_ascii_uppercase())
                && verbs
                    .iter()
                    .any(|v| literal_head.starts_with(v) || v.starts_with(&literal_head)));
        if !known {
            return Some(
                Problem::error("policy-action", format!("`{action}` is not an {service} action")).with_hint(format!(
                    "{service} actions start with a verb such as {}",
                    verbs[..4.min(verbs.len())].join(", ")
                )),
            );
        }
    }
    None
}

fn check_resources(ctx: &mut Ctx<'_>, resources: &OneOrMany, at: &str, kind: Kind<'_>) {
    for (i, resource) in resources.values().iter().enumerate() {
        let here = match resources {
            OneOrMany::One(_) => at.to_string(),
            OneOrMany::Many(_) => format!("{at}/{i}"),
        };
        if *resource == "*" || resource.starts_with("${") {
            continue;
        }
        if !resource.starts_with("arn:") {
            ctx.report(
                Problem::error("policy-resource", format!("`{resource}` is not an ARN"))
                    .with_hint("use `*`, an ARN such as `arn:aws:s3:::bucket/*`, or `${bucket.NAME.arn}/*`"),
                &here,
                On::Value,
            );
            continue;
        }
        if let Kind::Bucket { name, logical } = kind {
            // Any partition (aws, aws-cn, aws-us-gov) names the same bucket.
            let bucket_arn = format!("arn:aws:s3:::{name}");
            let own = resource
                .strip_prefix("arn:")
                .and_then(|r| r.split_once(':'))
                .and_then(|(_, rest)| rest.strip_prefix(&format!("s3:::{name}")))
                .is_some_and(|tail| tail.is_empty() || tail.starts_with('/'));
            if !own {
                ctx.report(
                    Problem::error(
                        "policy-resource",
                        format!("`{resource}` is not bucket `{logical}` or its objects"),
                    )
                    .with_hint(format!(
                        "a bucket policy may only name `{bucket_arn}` and `{bucket_arn}/...`"
                    )),
                    &here,
                    On::Value,
                );
            }
        }
    }
}

fn check_principal(ctx: &mut Ctx<'_>, principal: &Json, at: &str) {
    match principal {
        Json::String(s) if s == "*" => {}
        Json::Object(map) => {
            if map.is_empty() {
                ctx.report(
                    Problem::error("policy-principal", "the principal is empty"),
                    at,
                    On::Value,
                );
            }
            for (kind, values) in map {
                let here = format!("{at}/{kind}");
                if !PRINCIPAL_KINDS.contains(&kind.as_str()) {
                    let known: Vec<String> = PRINCIPAL_KINDS.iter().map(|s| s.to_string()).collect();
                    let hint = closest(kind, &known).map_or_else(
                        || "use AWS, Service, Federated or CanonicalUser".to_string(),
                        |s| format!("did you mean `{s}`?"),
                    );
                    ctx.report(
                        Problem::error("policy-principal", format!("unknown principal type `{kind}`")).with_hint(hint),
                        &here,
                        On::Key,
                    );
                    continue;
                }
                let list: Vec<&Json> = match values {
                    Json::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for (i, v) in list.iter().enumerate() {
                    let item_at = if values.is_array() {
                        format!("{here}/{i}")
                    } else {
                        here.clone()
                    };
                    match v.as_str() {
                        None => ctx.report(Problem::error("policy-principal", "principals are strings"), &item_at, On::Value),
                        Some(s) if kind == "Service" && !s.ends_with(".amazonaws.com") && !s.starts_with("${") => ctx.report(
                            Problem::error("policy-principal", format!("`{s}` is not a service principal"))
                                .with_hint("service principals look like `s3.amazonaws.com`"),
                            &item_at,
                            On::Value,
                        ),
                        Some(s)
                            if kind == "AWS"
                                && !(s == "*"
                                    || s.starts_with("arn:")
                                    || s.starts_with("${")
                                    || super::names::is_account_id(s)) =>
                        {
                            ctx.report(
                                Problem::error("policy-principal", format!("`{s}` is not an AWS principal"))
                                    .with_hint("use `*`, a 12-digit account ID, an ARN, or `${user.NAME.arn}` / `${role.NAME.arn}`"),
                                &item_at,
                                On::Value,
                            )
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        _ => ctx.report(
            Problem::error(
                "policy-principal",
                "a principal is `\"*\"` or a mapping such as `{AWS: ...}` or `{Service: ...}`",
            ),
            at,
            On::Value,
        ),
    }
}

fn check_operator(ctx: &mut Ctx<'_>, op: &str, at: &str) {
    let base = op
        .strip_prefix("ForAllValues:")
        .or_else(|| op.strip_prefix("ForAnyValue:"))
        .unwrap_or(op);
    let base = base.strip_suffix("IfExists").unwrap_or(base);
    if CONDITION_OPERATORS.contains(&base) {
        return;
    }
    let known: Vec<String> = CONDITION_OPERATORS.iter().map(|s| s.to_string()).collect();
    let hint = closest(base, &known).map_or_else(
        || "see the IAM condition operators: StringEquals, StringLike, Bool, IpAddress, ...".to_string(),
        |s| format!("did you mean `{s}`?"),
    );
    ctx.report(
        Problem::error("policy-condition", format!("unknown condition operator `{op}`")).with_hint(hint),
        at,
        On::Key,
    );
}

#[cfg(test)]
mod tests {
    use super::action_problem;

    #[test]
    fn actions() {
        for ok in [
            "*",
            "s3:GetObject",
            "s3:*",
            "s3:Get*",
            "s3:*Object",
            "iam:PassRole",
            "sns:Publish",
            "kms:Decrypt",
        ] {
            assert!(action_problem(ok).is_none(), "{ok}");
        }
        for bad in [
            "GetObject",
            "S3:GetObject",
            "s33:GetObject",
            "s3:",
            "s3:ReadObject",
            "s3:getObject",
        ] {
            assert!(action_problem(bad).is_some(), "{bad}");
        }
        let hint = action_problem("s33:GetObject").and_then(|p| p.hint).unwrap_or_default();
        assert!(hint.contains("s3:GetObject"), "{hint}");
    }
}
