//! Server access logging. S3 checks that the target bucket's policy lets the logging service write, so a logging change comes after a change to that policy.

use super::{ApiCall, DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Logging,
    name: "logging",
    manifest_field: "logging",
    access: DocAccess {
        kind: DocKind::Logging,
        read_operation: "GetBucketLogging",
        read_action: "s3:GetBucketLogging",
        write_actions: &["s3:PutBucketLogging"],
        write_calls: &[PUT],
    },
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "",
    after_own: &[],
    after_target: &[DocKind::Policy],
};

/// Sets logging, or turns it off with an empty status (there is no delete call).
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketLogging",
    action: "s3:PutBucketLogging",
};

use serde::{Deserialize, Serialize};

use super::{ImportRefs, Kind};
use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::manifest::types::{Bucket, Logging as ManifestLogging, Manifest};
use crate::model::bucket_arn;
use crate::model::desired::{self, Context, DesiredError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingDoc {
    /// Physical name of the bucket that receives the logs.
    pub target_bucket: String,
    pub prefix: String,
}

pub struct Logging;

impl Kind for Logging {
    type Value = Option<LoggingDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Option<LoggingDoc> {
        None
    }

    fn desired(ctx: &Context<'_>, logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        let Some(logging) = &b.logging else { return Ok(None) };
        let target = desired::physical_bucket(ctx, &logging.target_bucket, &format!("bucket.{logical}.logging"))?;
        Ok(Some(Some(LoggingDoc {
            target_bucket: target,
            prefix: logging.prefix.clone(),
        })))
    }

    fn referenced_buckets(l: &Self::Value) -> Vec<String> {
        l.iter().map(|l| l.target_bucket.clone()).collect()
    }

    fn to_manifest(l: &Self::Value, bucket: &mut Bucket, _physical: &str, refs: &ImportRefs<'_>) -> Result<(), String> {
        let Some(l) = l else { return Ok(()) };
        let Some(target) = refs.names.logical(&l.target_bucket) else {
            return Err(format!(
                "it logs to bucket {}, which this import does not include (import it too)",
                l.target_bucket
            ));
        };
        bucket.logging = Some(ManifestLogging {
            target_bucket: target.to_string(),
            prefix: l.prefix.clone(),
        });
        Ok(())
    }
}

/// The buckets that log into `target` (logical name): each one's physical name and log prefix. A
/// managed target gets [`delivery_statements`] for them on its policy (built by `model::desired`'s
/// policy builder, with the inventory ones).
pub fn delivery_sources(manifest: &Manifest, target: &str) -> Vec<(String, String)> {
    manifest
        .buckets
        .values()
        .filter_map(|b| b.logging.as_ref().map(|l| (b, l)))
        .filter(|(_, l)| l.target_bucket == target)
        .map(|(b, l)| (b.name.clone(), l.prefix.clone()))
        .collect()
}

/// The statements that let `logging.s3.amazonaws.com` write the logs of `sources` into bucket
/// `name`: one per log prefix, limited by `aws:SourceArn` to those source buckets and by
/// `aws:SourceAccount` to this account (AWS's documented form). A source whose delivery the raw
/// statements already allow gets none, so a manifest that writes its own keeps working unchanged.
pub(crate) fn delivery_statements(
    ctx: &Context<'_>,
    name: &str,
    sources: &[(String, String)],
    raw: &[Json],
    place: &str,
) -> Result<Vec<Json>, DesiredError> {
    use crate::findings::policy::{Caller, Decision, Policy, Request};
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let account = ctx.account_id.ok_or_else(|| DesiredError::AccountUnknown {
        what: place.to_string(),
    })?;
    let written = Policy::parse(&json!({"Statement": raw})).unwrap_or_default();
    let arn = bucket_arn(name);
    let mut by_prefix: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (source, prefix) in sources {
        let object = format!("{arn}/{prefix}s3rec-log-object");
        let already = written.decide(&Request {
            caller: Caller::Service(crate::findings::LOGGING_SERVICE),
            action: "s3:PutObject",
            resource: &object,
            context: vec![
                ("aws:sourcearn".into(), bucket_arn(source)),
                ("aws:sourceaccount".into(), account.to_string()),
                ("aws:securetransport".into(), "true".into()),
            ],
        }) == Decision::Allow;
        if !already {
            by_prefix.entry(prefix.as_str()).or_default().push(bucket_arn(source));
        }
    }
    let many = by_prefix.len() > 1;
    Ok(by_prefix
        .into_iter()
        .enumerate()
        .map(|(i, (prefix, mut source_arns))| {
            source_arns.sort();
            source_arns.dedup();
            let sid = if many {
                format!("AllowS3ServerAccessLogs{}", i + 1)
            } else {
                "AllowS3ServerAccessLogs".to_string()
            };
            json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": crate::findings::LOGGING_SERVICE},
                "Action": "s3:PutObject",
                "Resource": format!("{arn}/{prefix}*"),
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_arns},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            })
        })
        .collect())
}
