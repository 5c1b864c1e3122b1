//! Manifest → desired buckets: `defaults` applied, references resolved to physical names and ARNs,
//! generated policy statements added, every document in canonical form. Pure: the caller supplies the
//! account ID (from STS) and the default region.
//!
//! Each kind maps its own manifest section in its unit (`Kind::desired` in `model::kinds::KIND`). What
//! stays here is shared between kinds: applying `defaults`, resolving placeholders and references
//! (`${bucket.x.arn}`, roles, users, topics), and assembling the bucket policy, which several kinds
//! feed: the manifest's `policy` section plus the delivery statements that logging
//! (`kinds::logging::delivery_statements`) and inventory (`kinds::inventory::delivery_statements`)
//! generate on the bucket that receives their output.

use serde_json::{Value as Json, json};

use super::identity::{self, IdentityKind};
use super::kinds;
use super::{DesiredBucket, DocKind, bucket_arn};
use crate::manifest::check::effective_bucket;
use crate::manifest::types::{
    Bucket, BucketPolicy, ConditionScalar, ConditionValue, IdentityRef, Manifest, OneOrMany, Statement,
};

/// What the desired model needs to know beyond the manifest.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub manifest: &'a Manifest,
    /// The caller's account (from STS); needed for IAM and SNS ARNs.
    pub account_id: Option<&'a str>,
    /// Region of buckets that name none, and of the SNS topics.
    pub default_region: &'a str,
}

/// Why the desired model could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesiredError {
    #[error("{what} needs the AWS account ID, but the caller's account is unknown (STS did not answer)")]
    AccountUnknown { what: String },
    #[error("`{placeholder}` in {place} refers to something this manifest does not define")]
    Unresolved { placeholder: String, place: String },
}

/// Every bucket of the manifest as it should be.
pub fn buckets(ctx: &Context<'_>) -> Result<Vec<DesiredBucket>, DesiredError> {
    ctx.manifest
        .buckets
        .iter()
        .map(|(logical, b)| bucket(ctx, logical, b))
        .collect()
}

fn bucket(ctx: &Context<'_>, logical: &str, own: &Bucket) -> Result<DesiredBucket, DesiredError> {
    let b = effective_bucket(ctx.manifest, own);
    let region = b.region.clone().unwrap_or_else(|| ctx.default_region.to_string());
    let docs = super::kinds::desired_docs(ctx, logical, &b)?;
    Ok(DesiredBucket {
        logical: logical.to_string(),
        name: b.name.clone(),
        region,
        docs,
        prevent_destroy: b.prevent_destroy.unwrap_or(false),
        force_destroy: b.force_destroy,
    })
}

/// The bucket policy the manifest wants on bucket `logical`: `Some(None)` manages "no policy".
pub(crate) fn policy_doc(ctx: &Context<'_>, logical: &str, b: &Bucket) -> Result<Option<Option<Json>>, DesiredError> {
    // A bucket that receives other buckets' server access logs gets the statement that lets the
    // logging service deliver them, so its policy is managed even when the manifest writes none.
    // The same for a bucket that receives other buckets' inventory reports.
    let log_sources = kinds::logging::delivery_sources(ctx.manifest, logical);
    let inventory_sources = kinds::inventory::delivery_sources(ctx.manifest, logical);
    if b.policy.is_some() || !log_sources.is_empty() || !inventory_sources.is_empty() {
        let policy = b.policy.clone().unwrap_or_default();
        let sources = Sources {
            logs: &log_sources,
            inventory: &inventory_sources,
        };
        return Ok(Some(bucket_policy(ctx, logical, &b.name, &policy, &sources)?));
    }
    Ok(None)
}

/// The buckets that deliver into a bucket, each as (physical name, prefix): its access-log sources and
/// its inventory-report sources.
struct Sources<'a> {
    logs: &'a [(String, String)],
    inventory: &'a [(String, String)],
}

/// The bucket policy document: generated statements first, then the raw ones with placeholders resolved.
/// `None` when nothing is left (the bucket should have no policy).
fn bucket_policy(
    ctx: &Context<'_>,
    logical: &str,
    name: &str,
    p: &BucketPolicy,
    sources: &Sources<'_>,
) -> Result<Option<Json>, DesiredError> {
    let arn = bucket_arn(name);
    let both = json!([arn.clone(), format!("{arn}/*")]);
    let mut statements = Vec::new();
    if p.deny_insecure_transport == Some(true) {
        statements.push(deny_insecure_transport_statement(name));
    }
    if !p.restrict_to.is_empty() {
        let place = format!("bucket.{logical}.policy.restrict_to");
        let account = ctx
            .account_id
            .ok_or_else(|| DesiredError::AccountUnknown { what: place.clone() })?;
        let mut allowed = vec![format!("arn:aws:iam::{account}:root")];
        for identity in &p.restrict_to {
            allowed.push(match identity {
                IdentityRef::User(u) => user_arn(ctx, u, &place)?,
                IdentityRef::Role(r) => role_arn(ctx, r, &place)?,
            });
        }
        statements.push(json!({
            "Sid": "RestrictToNamedIdentities",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": both,
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": allowed}}
        }));
    }
    let place = format!("bucket.{logical}.policy");
    let mut raw = Vec::new();
    for s in &p.statements {
        raw.push(resolve_json(ctx, &statement_json(s), &place)?);
    }
    statements.extend(kinds::logging::delivery_statements(
        ctx,
        name,
        sources.logs,
        &raw,
        &place,
    )?);
    statements.extend(kinds::inventory::delivery_statements(
        ctx,
        name,
        sources.inventory,
        &raw,
        &place,
    )?);
    statements.extend(raw);
    if statements.is_empty() {
        return Ok(None);
    }
    Ok(Some(json!({"Version": "2012-10-17", "Statement": statements})))
}

/// The statement `policy.deny_insecure_transport: true` generates for bucket `name`; `import` compares
/// live statements with it, so both read this one definition.
pub fn deny_insecure_transport_statement(name: &str) -> Json {
    let arn = bucket_arn(name);
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// A manifest statement in IAM's JSON shape.
pub fn statement_json(s: &Statement) -> Json {
    let mut out = serde_json::Map::new();
    if let Some(sid) = &s.sid {
        out.insert("Sid".into(), json!(sid));
    }
    out.insert("Effect".into(), json!(s.effect));
    if let Some(p) = &s.principal {
        out.insert("Principal".into(), p.clone());
    }
    if let Some(p) = &s.not_principal {
        out.insert("NotPrincipal".into(), p.clone());
    }
    for (key, value) in [
        ("Action", &s.action),
        ("NotAction", &s.not_action),
        ("Resource", &s.resource),
        ("NotResource", &s.not_resource),
    ] {
        if let Some(v) = value {
            out.insert(
                key.into(),
                match v {
                    OneOrMany::One(one) => json!(one),
                    OneOrMany::Many(many) => json!(many),
                },
            );
        }
    }
    if let Some(conditions) = &s.condition {
        let mut ops = serde_json::Map::new();
        for (op, keys) in conditions {
            let mut inner = serde_json::Map::new();
            for (k, v) in keys {
                let scalar = |c: &ConditionScalar| match c {
                    ConditionScalar::Bool(b) => json!(b),
                    ConditionScalar::Number(n) => Json::Number(n.clone()),
                    ConditionScalar::String(s) => json!(s),
                };
                inner.insert(
                    k.clone(),
                    match v {
                        ConditionValue::Scalar(c) => scalar(c),
                        ConditionValue::Many(cs) => Json::Array(cs.iter().map(scalar).collect()),
                    },
                );
            }
            ops.insert(op.clone(), Json::Object(inner));
        }
        out.insert("Condition".into(), Json::Object(ops));
    }
    Json::Object(out)
}

/// Replaces `${...}` references in every string of `value`. IAM policy variables (`${aws:username}`)
/// pass through untouched.
pub fn resolve_json(ctx: &Context<'_>, value: &Json, place: &str) -> Result<Json, DesiredError> {
    Ok(match value {
        Json::String(s) => Json::String(resolve_str(ctx, s, place)?),
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|v| resolve_json(ctx, v, place))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.insert(resolve_str(ctx, k, place)?, resolve_json(ctx, v, place)?);
            }
            Json::Object(out)
        }
        other => other.clone(),
    })
}

fn resolve_str(ctx: &Context<'_>, s: &str, place: &str) -> Result<String, DesiredError> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        out.push_str(&resolve_placeholder(ctx, inner, place)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve_placeholder(ctx: &Context<'_>, inner: &str, place: &str) -> Result<String, DesiredError> {
    if inner.contains(':') || matches!(inner, "*" | "?" | "$") {
        return Ok(format!("${{{inner}}}"));
    }
    let parts: Vec<&str> = inner.split('.').collect();
    match parts.as_slice() {
        ["account_id"] => ctx
            .account_id
            .map(str::to_string)
            .ok_or_else(|| DesiredError::AccountUnknown {
                what: place.to_string(),
            }),
        ["region"] => Ok(ctx.default_region.to_string()),
        ["env"] => Ok(ctx.manifest.environment.clone()),
        ["bucket", name] => physical_bucket(ctx, name, place),
        ["bucket", name, "arn"] => physical_bucket(ctx, name, place).map(|n| bucket_arn(&n)),
        ["user", name, "arn"] => user_arn(ctx, name, place),
        ["role", name, "arn"] => role_arn(ctx, name, place),
        ["policy", name, "arn"] => policy_arn(ctx, name, place),
        ["topic", name, "arn"] => topic_arn(ctx, name, place),
        _ => Err(DesiredError::Unresolved {
            placeholder: format!("${{{inner}}}"),
            place: place.to_string(),
        }),
    }
}

fn unresolved(what: &str, place: &str) -> DesiredError {
    DesiredError::Unresolved {
        placeholder: what.to_string(),
        place: place.to_string(),
    }
}

pub(crate) fn physical_bucket(ctx: &Context<'_>, logical: &str, place: &str) -> Result<String, DesiredError> {
    ctx.manifest
        .buckets
        .get(logical)
        .map(|b| b.name.clone())
        .ok_or_else(|| unresolved(&format!("bucket {logical}"), place))
}

fn account(ctx: &Context<'_>, place: &str) -> Result<String, DesiredError> {
    ctx.account_id
        .map(str::to_string)
        .ok_or_else(|| DesiredError::AccountUnknown {
            what: place.to_string(),
        })
}

pub fn user_arn(ctx: &Context<'_>, logical: &str, place: &str) -> Result<String, DesiredError> {
    let u = ctx
        .manifest
        .iam
        .users
        .get(logical)
        .ok_or_else(|| unresolved(&format!("user {logical}"), place))?;
    iam_arn(
        ctx,
        IdentityKind::IamUser,
        u.name.as_deref().unwrap_or(logical),
        &u.path,
        place,
    )
}

pub fn role_arn(ctx: &Context<'_>, logical: &str, place: &str) -> Result<String, DesiredError> {
    let r = ctx
        .manifest
        .iam
        .roles
        .get(logical)
        .ok_or_else(|| unresolved(&format!("role {logical}"), place))?;
    iam_arn(
        ctx,
        IdentityKind::IamRole,
        r.name.as_deref().unwrap_or(logical),
        &r.path,
        place,
    )
}

pub fn policy_arn(ctx: &Context<'_>, logical: &str, place: &str) -> Result<String, DesiredError> {
    let p = ctx
        .manifest
        .iam
        .policies
        .get(logical)
        .ok_or_else(|| unresolved(&format!("policy {logical}"), place))?;
    iam_arn(
        ctx,
        IdentityKind::IamPolicy,
        p.name.as_deref().unwrap_or(logical),
        &p.path,
        place,
    )
}

/// `arn:aws:iam::ACCOUNT:KIND/PATH/NAME`: users, roles and managed policies share this shape.
pub(crate) fn iam_arn(
    ctx: &Context<'_>,
    kind: IdentityKind,
    name: &str,
    path: &str,
    place: &str,
) -> Result<String, DesiredError> {
    Ok(identity::arn(
        kind,
        &account(ctx, place)?,
        ctx.default_region,
        path,
        name,
    ))
}

pub fn topic_arn(ctx: &Context<'_>, logical: &str, place: &str) -> Result<String, DesiredError> {
    let t = ctx
        .manifest
        .sns
        .topics
        .get(logical)
        .ok_or_else(|| unresolved(&format!("topic {logical}"), place))?;
    let name = t.name.as_deref().unwrap_or(logical);
    Ok(identity::arn(
        IdentityKind::SnsTopic,
        &account(ctx, place)?,
        ctx.default_region,
        "",
        name,
    ))
}

/// The documents a desired bucket manages, by kind.
pub fn managed_kinds(b: &DesiredBucket) -> Vec<DocKind> {
    b.docs.keys().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Doc;

    fn manifest(yaml: &str) -> Manifest {
        crate::manifest::load::valid_for_tests(yaml)
    }

    #[test]
    fn defaults_apply_and_unmanaged_documents_are_left_out() {
        let m = manifest(
            "environment: t\ndefaults:\n  versioning: enabled\n  tags: {team: a}\nbuckets:\n  logs:\n    name: logs-${env}\n    tags: {tier: b}\n",
        );
        let ctx = Context {
            manifest: &m,
            account_id: Some("123456789012"),
            default_region: "eu-west-1",
        };
        let b = buckets(&ctx).expect("desired");
        assert_eq!(b[0].name, "logs-t");
        assert_eq!(b[0].region, "eu-west-1");
        assert_eq!(
            b[0].docs.keys().copied().collect::<Vec<_>>(),
            vec![DocKind::Versioning, DocKind::Tags]
        );
        let Doc::Tags(tags) = &b[0].docs[&DocKind::Tags] else {
            panic!("tags")
        };
        assert_eq!(tags.len(), 2);
    }

    #[test]
    fn tls_only_policy_and_placeholders_resolve() {
        let m = manifest(
            "environment: t\niam:\n  roles:\n    app:\n      trust: {services: [ec2.amazonaws.com]}\nbuckets:\n  data:\n    name: data-t\n    policy:\n      deny_insecure_transport: true\n      statements:\n        - Sid: AppRead\n          Effect: Allow\n          Principal: {AWS: \"${role.app.arn}\"}\n          Action: s3:GetObject\n          Resource: \"${bucket.data.arn}/*\"\n",
        );
        let ctx = Context {
            manifest: &m,
            account_id: Some("123456789012"),
            default_region: "us-east-1",
        };
        let b = buckets(&ctx).expect("desired");
        let Doc::Policy(Some(policy)) = &b[0].docs[&DocKind::Policy] else {
            panic!("policy")
        };
        let text = policy.to_string();
        assert!(text.contains("arn:aws:iam::123456789012:role/app"), "{text}");
        assert!(text.contains("arn:aws:s3:::data-t/*"), "{text}");
        assert!(text.contains("DenyInsecureTransport"), "{text}");
    }

    #[test]
    fn account_is_required_for_arns() {
        let m = manifest(
            "environment: t\niam:\n  roles:\n    rep:\n      trust: {services: [s3.amazonaws.com]}\nbuckets:\n  a:\n    name: a-t\n    versioning: enabled\n    replication:\n      role: rep\n      rules: [{id: r, destination: {bucket: b}}]\n  b:\n    name: b-t\n    versioning: enabled\n",
        );
        let ctx = Context {
            manifest: &m,
            account_id: None,
            default_region: "us-east-1",
        };
        assert!(matches!(buckets(&ctx), Err(DesiredError::AccountUnknown { .. })));
    }
}
