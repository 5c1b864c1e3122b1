//! A live bucket policy in manifest terms: the statements that match a generated template exactly
//! become the template's switch, the rest stay raw statements, with the ARNs of imported buckets
//! written as `${bucket.NAME.arn}` and those of imported IAM and SNS resources as `${user.NAME.arn}`,
//! `${role.NAME.arn}`, `${policy.NAME.arn}` and `${topic.NAME.arn}`. The templates whose statements
//! depend on other resources (`restrict_to`, the log-delivery statement) are recognized afterwards,
//! against the model ([`super::templates`]).
//!
//! "Exactly" means equal after [`normalize`]: the same comparison `plan` makes, so a policy imported
//! this way plans with no change.

use serde_json::{Value as Json, json};

use super::naming::Names;
use super::related::Resolved;
use crate::manifest::types::{BucketPolicy, Statement};
use crate::model::desired::deny_insecure_transport_statement;
use crate::model::policy::normalize;

/// `policy` (normalized, as read) of bucket `bucket` as a manifest policy, or why it cannot be one.
pub fn bucket_policy(policy: &Json, bucket: &str, names: &Names, resolved: &Resolved) -> Result<BucketPolicy, String> {
    let Json::Object(top) = policy else {
        return Err("the policy is not a JSON object".to_string());
    };
    if let Some(other) = top.keys().find(|k| !matches!(k.as_str(), "Version" | "Statement")) {
        return Err(format!(
            "the policy has a top-level `{other}`, which the manifest cannot write"
        ));
    }
    if top.get("Version").and_then(Json::as_str) != Some("2012-10-17") {
        return Err("the policy's Version is not 2012-10-17, which the manifest always writes".to_string());
    }
    let statements = top
        .get("Statement")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let tls = normalized_statement(&deny_insecure_transport_statement(bucket));
    let mut out = BucketPolicy::default();
    for s in statements {
        if s == tls && out.deny_insecure_transport.is_none() {
            out.deny_insecure_transport = Some(true);
            continue;
        }
        let raw = with_references(&s, names, resolved);
        let statement: Statement = serde_json::from_value(raw)
            .map_err(|e| format!("a statement cannot be written in the manifest's statement shape ({e})"))?;
        out.statements.push(statement);
    }
    Ok(out)
}

/// One statement in the form [`normalize`] gives it inside a policy.
fn normalized_statement(statement: &Json) -> Json {
    normalize(&json!({"Statement": [statement]}))["Statement"][0].clone()
}

/// Every string naming an imported bucket's ARN (alone or followed by `/...`), or the ARN of an
/// imported IAM or SNS resource, refers to it by logical name instead, so the manifest works in every
/// environment.
pub fn with_references(value: &Json, names: &Names, resolved: &Resolved) -> Json {
    match value {
        Json::String(s) => Json::String(reference(s, names, resolved)),
        Json::Array(items) => Json::Array(items.iter().map(|v| with_references(v, names, resolved)).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), with_references(v, names, resolved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn reference(s: &str, names: &Names, resolved: &Resolved) -> String {
    if let Some(placeholder) = resolved.placeholder(s) {
        return placeholder;
    }
    let Some(rest) = s.strip_prefix("arn:aws:s3:::") else {
        return s.to_string();
    };
    let (bucket, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match names.logical(bucket) {
        Some(logical) => format!("${{bucket.{logical}.arn}}{tail}"),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new(&["acme-data-prod".to_string()], "prod", Some("acme-"))
    }

    #[test]
    fn the_tls_statement_in_any_spelling_becomes_the_template() {
        // Another tool's spelling: scalar principal, resources in the other order, a boolean condition.
        let live = normalize(&json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": ["s3:*"],
                "Resource": ["arn:aws:s3:::acme-data-prod/*", "arn:aws:s3:::acme-data-prod"],
                "Condition": {"Bool": {"aws:SecureTransport": false}}
            }]
        }));
        let p = bucket_policy(&live, "acme-data-prod", &names(), &Resolved::default()).expect("expressible");
        assert_eq!(p.deny_insecure_transport, Some(true));
        assert!(p.statements.is_empty());
    }

    #[test]
    fn a_near_miss_stays_raw_with_logical_references() {
        let live = normalize(&json!({
            "Statement": [{
                "Sid": "Tls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": ["arn:aws:s3:::acme-data-prod", "arn:aws:s3:::acme-data-prod/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }]
        }));
        let p = bucket_policy(&live, "acme-data-prod", &names(), &Resolved::default()).expect("expressible");
        assert_eq!(p.deny_insecure_transport, None);
        assert_eq!(p.statements.len(), 1);
        let text = serde_json::to_string(&p.statements[0]).expect("json");
        assert!(text.contains("${bucket.data.arn}/*"), "{text}");
        assert!(!text.contains("arn:aws:s3:::acme-data-prod"), "{text}");
    }

    #[test]
    fn what_the_manifest_cannot_write_is_refused_with_the_reason() {
        let with_id = json!({"Version": "2012-10-17", "Id": "x", "Statement": []});
        assert!(
            bucket_policy(&with_id, "b", &names(), &Resolved::default())
                .unwrap_err()
                .contains("`Id`")
        );
        let old = json!({"Version": "2008-10-17", "Statement": []});
        assert!(
            bucket_policy(&old, "b", &names(), &Resolved::default())
                .unwrap_err()
                .contains("Version")
        );
    }
}
