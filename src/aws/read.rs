//! Reading a bucket's live configuration into the canonical model.
//!
//! [`read_bucket`] makes one call to find the bucket and its region, then one call per requested
//! document, all at once, through the client of the bucket's own region. Every "not configured"
//! answer becomes the document's [`Doc::unconfigured`] value, and every answer is brought into
//! [`Doc::canonical`] form, so an untouched bucket compares equal to a manifest that wants it that way.
//!
//! The `*_from_sdk` mappers are pure and shared with `write.rs`'s tests, which check that writing a
//! document and reading it back is the identity for every field, including the ones moto drops.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CorsRule, DeleteMarkerReplicationStatus, ExpirationStatus,
    FilterRule, LambdaFunctionConfiguration, LifecycleRule, LoggingEnabled, NotificationConfigurationFilter,
    OwnershipControls, PublicAccessBlockConfiguration, QueueConfiguration, ReplicationConfiguration,
    ReplicationRuleStatus, ServerSideEncryptionConfiguration, Tag, TopicConfiguration,
};

use super::{Aws, AwsError, DEFAULT_REGION, Op};
use crate::model::{
    CorsRuleDoc, Doc, DocKind, EncryptionDoc, LifecycleRuleDoc, LoggingDoc, NoncurrentTransitionDoc, NotificationDoc,
    NotificationTarget, ObservedBucket, PublicAccessBlockDoc, ReplicationDoc, ReplicationRuleDoc, TransitionDoc,
    VersioningState,
};

/// Reads a bucket: `Ok(None)` when it does not exist, otherwise its region and the requested documents.
///
/// One GetBucketLocation call (through the default-region client) finds the bucket and its region;
/// then each requested kind is read with exactly one call, concurrently, through the client for the
/// bucket's region. A bucket that answers 403 is reported as taken by another account or denied.
///
/// A document the server does not implement at all ([`AwsError::Unsupported`]) reads as unconfigured:
/// such a server cannot hold one. [`read_managed_in`] is the read for documents that must be there.
pub async fn read_bucket(aws: &Aws, name: &str, kinds: &[DocKind]) -> Result<Option<ObservedBucket>, AwsError> {
    read_located(aws, name, kinds, IfUnsupported::Unconfigured).await
}

/// What a read makes of a document kind the server does not implement ([`AwsError::Unsupported`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfUnsupported {
    /// The unconfigured value: the server cannot hold such a document, so the bucket has none. For
    /// reads that only inform (findings, import, doctor's probes, emulator tests of every kind).
    Unconfigured,
    /// The error: the manifest manages the document, and s3rec cannot read or write it there.
    Fail,
}

/// [`read_bucket`] with the given treatment of unsupported documents.
async fn read_located(
    aws: &Aws,
    name: &str,
    kinds: &[DocKind],
    if_unsupported: IfUnsupported,
) -> Result<Option<ObservedBucket>, AwsError> {
    let Some(region) = locate_bucket(aws, name).await? else {
        return Ok(None);
    };
    let docs = read_docs(aws, name, &region, kinds, if_unsupported).await?;
    Ok(Some(ObservedBucket {
        name: name.to_string(),
        region,
        docs,
        non_empty: None,
    }))
}

/// The requested documents of a bucket in a known region, read concurrently with one call each; the
/// first error, in `DocKind::ALL` order, is the answer.
async fn read_docs(
    aws: &Aws,
    name: &str,
    region: &str,
    kinds: &[DocKind],
    if_unsupported: IfUnsupported,
) -> Result<BTreeMap<DocKind, Doc>, AwsError> {
    // DocKind::ALL order, each kind once, however often the caller named it.
    let wanted: Vec<DocKind> = DocKind::ALL.into_iter().filter(|k| kinds.contains(k)).collect();
    let reads: Vec<_> = wanted
        .iter()
        .map(|&kind| read_doc_as(aws, name, region, kind, if_unsupported))
        .collect();
    let mut docs = BTreeMap::new();
    for (kind, doc) in wanted.iter().zip(futures_util::future::join_all(reads).await) {
        docs.insert(*kind, doc?);
    }
    Ok(docs)
}

/// One bucket of the account as ListBuckets names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBucket {
    pub name: String,
    /// The bucket's region when the server says (AWS does since 2024; some emulators do not).
    pub region: Option<String>,
    /// Creation date, RFC 3339.
    pub created: Option<String>,
}

/// Every bucket of the caller's account: one ListBuckets call per page (one page unless the account
/// has more buckets than a page holds).
pub async fn list_buckets(aws: &Aws) -> Result<Vec<ListedBucket>, AwsError> {
    let op = Op::account("ListBuckets", "s3:ListAllMyBuckets");
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .s3(aws.region())
            .list_buckets()
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
        for b in page.buckets() {
            let Some(name) = b.name() else { continue };
            out.push(ListedBucket {
                name: name.to_string(),
                region: b.bucket_region().filter(|r| !r.is_empty()).map(str::to_string),
                created: b
                    .creation_date()
                    .and_then(|d| d.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok()),
            });
        }
        match page.continuation_token() {
            Some(next) if !next.is_empty() && token.as_deref() != Some(next) => token = Some(next.to_string()),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// [`read_bucket`] for a bucket whose region is already known (from ListBuckets): no location call,
/// only one call per requested document. Without a region it falls back to [`read_bucket`].
pub async fn read_bucket_in(
    aws: &Aws,
    name: &str,
    region: Option<&str>,
    kinds: &[DocKind],
) -> Result<Option<ObservedBucket>, AwsError> {
    read_in(aws, name, region, kinds, IfUnsupported::Unconfigured).await
}

/// [`read_bucket_in`] for the documents a manifest manages: a document the server does not implement
/// is the error [`AwsError::Unsupported`], naming the endpoint, rather than an unconfigured value that
/// would plan a write the server cannot take.
pub async fn read_managed_in(
    aws: &Aws,
    name: &str,
    region: Option<&str>,
    kinds: &[DocKind],
) -> Result<Option<ObservedBucket>, AwsError> {
    read_in(aws, name, region, kinds, IfUnsupported::Fail).await
}

async fn read_in(
    aws: &Aws,
    name: &str,
    region: Option<&str>,
    kinds: &[DocKind],
    if_unsupported: IfUnsupported,
) -> Result<Option<ObservedBucket>, AwsError> {
    let Some(region) = region else {
        return read_located(aws, name, kinds, if_unsupported).await;
    };
    let docs = match read_docs(aws, name, region, kinds, if_unsupported).await {
        Ok(docs) => docs,
        // Deleted between the listing and the reads: gone, as read_bucket would say.
        Err(err) if err.code() == Some("NoSuchBucket") => return Ok(None),
        Err(err) => return Err(err),
    };
    Ok(Some(ObservedBucket {
        name: name.to_string(),
        region: region.to_string(),
        docs,
        non_empty: None,
    }))
}

/// Whether the bucket holds anything at all: a current object, an older version or a delete marker.
///
/// A bucket with only delete markers still refuses DeleteBucket, so they count.
pub async fn bucket_has_objects(aws: &Aws, name: &str, region: &str) -> Result<bool, AwsError> {
    let out = aws
        .s3(region)
        .list_object_versions()
        .bucket(name)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| aws.error(&Op::bucket("ListObjectVersions", "s3:ListBucketVersions", name), e))?;
    Ok(!out.versions().is_empty() || !out.delete_markers().is_empty())
}

/// Finds the bucket's region with one GetBucketLocation call; `None` when the bucket does not exist.
async fn locate_bucket(aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
    let op = Op::bucket("GetBucketLocation", "s3:GetBucketLocation", name);
    let result = aws.s3(aws.region()).get_bucket_location().bucket(name).send().await;
    match result {
        Ok(out) => Ok(Some(region_from_constraint(out.location_constraint()))),
        Err(err) => match aws.error(&op, err) {
            err if err.code() == Some("NoSuchBucket") => Ok(None),
            // Some endpoints answer GetBucketLocation only for their own region; the redirect names
            // the bucket's region, which is all this call was for.
            AwsError::WrongRegion {
                actual_region: Some(region),
                ..
            } => Ok(Some(region)),
            AwsError::AccessDenied {
                operation,
                action,
                caller,
                message,
                ..
            } => Err(AwsError::BucketNotAccessible {
                operation,
                action,
                bucket: name.to_string(),
                caller,
                message,
            }),
            other => Err(other),
        },
    }
}

/// Maps a LocationConstraint to a region: none or empty is us-east-1, the legacy `EU` is eu-west-1.
pub(crate) fn region_from_constraint(constraint: Option<&BucketLocationConstraint>) -> String {
    match constraint.map(BucketLocationConstraint::as_str) {
        None | Some("") => DEFAULT_REGION.to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(region) => region.to_string(),
    }
}

/// Reads one document with one call, mapping "not configured" answers to the unconfigured value.
/// The call is the kind's adapter's (`aws::kinds`); the operation and IAM action named in errors, and
/// the error codes that mean "not configured", come from the kind's descriptor (`model::kinds`).
///
/// A document the server does not implement reads as unconfigured (see [`read_bucket`]); this is the
/// read of documents the manifest leaves out and of doctor's probes.
pub(crate) async fn read_doc(aws: &Aws, name: &str, region: &str, kind: DocKind) -> Result<Doc, AwsError> {
    read_doc_as(aws, name, region, kind, IfUnsupported::Unconfigured).await
}

async fn read_doc_as(
    aws: &Aws,
    name: &str,
    region: &str,
    kind: DocKind,
    if_unsupported: IfUnsupported,
) -> Result<Doc, AwsError> {
    let spec = kind.spec();
    let access = &spec.access;
    let op = Op::bucket(access.read_operation, access.read_action, name);
    let result = super::kinds::read_value(aws, name, region, kind, &op).await;
    match result {
        Ok(doc) => Ok(doc.canonical()),
        Err(err) if err.code().is_some_and(|code| spec.not_configured.contains(&code)) => Ok(Doc::unconfigured(kind)),
        Err(err @ AwsError::Unsupported { .. }) if if_unsupported == IfUnsupported::Unconfigured => {
            tracing::debug!(bucket = name, kind = spec.name, "read as unconfigured: {err}");
            Ok(Doc::unconfigured(kind))
        }
        Err(err) => Err(err),
    }
}

/// Days and counts are `i32` in the SDK and never negative in S3's answers; a negative one is dropped
/// rather than wrapped.
fn non_negative(value: Option<i32>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

/// Object sizes are `i64` in the SDK; see [`non_negative`].
fn non_negative_size(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok())
}

/// An empty string is how S3 spells "no prefix" in several answers.
fn non_empty(value: Option<&str>) -> Option<String> {
    value.filter(|s| !s.is_empty()).map(str::to_string)
}

pub(crate) fn versioning_from_sdk(status: Option<&BucketVersioningStatus>) -> VersioningState {
    match status {
        Some(BucketVersioningStatus::Enabled) => VersioningState::Enabled,
        Some(BucketVersioningStatus::Suspended) => VersioningState::Suspended,
        // A bucket that was never versioned has no <Status>; unknown future values are read the same
        // way rather than failing the whole plan.
        _ => VersioningState::Unversioned,
    }
}

/// The first rule with a default encryption is the bucket's default encryption (S3 allows one rule).
pub(crate) fn encryption_from_sdk(config: Option<&ServerSideEncryptionConfiguration>) -> Option<EncryptionDoc> {
    let rule = config?
        .rules()
        .iter()
        .find(|r| r.apply_server_side_encryption_by_default().is_some())?;
    let default = rule.apply_server_side_encryption_by_default()?;
    Some(EncryptionDoc {
        algorithm: default.sse_algorithm().as_str().to_string(),
        kms_key_id: non_empty(default.kms_master_key_id()),
        bucket_key: rule.bucket_key_enabled().unwrap_or(false),
    })
}

pub(crate) fn public_access_block_from_sdk(config: Option<&PublicAccessBlockConfiguration>) -> PublicAccessBlockDoc {
    let Some(c) = config else {
        return PublicAccessBlockDoc::default();
    };
    PublicAccessBlockDoc {
        block_public_acls: c.block_public_acls().unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
        block_public_policy: c.block_public_policy().unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
    }
}

pub(crate) fn ownership_from_sdk(controls: Option<&OwnershipControls>) -> Option<String> {
    controls?
        .rules()
        .first()
        .map(|r| r.object_ownership().as_str().to_string())
}

pub(crate) fn tags_from_sdk(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// Maps lifecycle rules, reading the filter in all three shapes S3 answers with: the `Filter` with one
/// condition, the `Filter` with an `And`, and the legacy rule-level `Prefix`.
#[allow(deprecated)] // `LifecycleRule::prefix` is the legacy form, still returned for old rules.
pub(crate) fn lifecycle_from_sdk(rules: &[LifecycleRule]) -> Vec<LifecycleRuleDoc> {
    rules
        .iter()
        .map(|rule| {
            let mut prefix = non_empty(rule.prefix());
            let mut tags = BTreeMap::new();
            let mut greater = None;
            let mut less = None;
            if let Some(filter) = rule.filter() {
                if let Some(and) = filter.and() {
                    prefix = prefix.or_else(|| non_empty(and.prefix()));
                    tags.extend(tags_from_sdk(and.tags()));
                    greater = non_negative_size(and.object_size_greater_than());
                    less = non_negative_size(and.object_size_less_than());
                }
                prefix = prefix.or_else(|| non_empty(filter.prefix()));
                if let Some(tag) = filter.tag() {
                    tags.insert(tag.key().to_string(), tag.value().to_string());
                }
                greater = greater.or(non_negative_size(filter.object_size_greater_than()));
                less = less.or(non_negative_size(filter.object_size_less_than()));
            }
            let expiration = rule.expiration();
            let noncurrent_expiration = rule.noncurrent_version_expiration();
            LifecycleRuleDoc {
                id: rule.id().unwrap_or_default().to_string(),
                enabled: *rule.status() == ExpirationStatus::Enabled,
                prefix,
                tags,
                object_size_greater_than: greater,
                object_size_less_than: less,
                transitions: rule
                    .transitions()
                    .iter()
                    // Date-based transitions are not part of the model; they have no days to compare.
                    .filter_map(|t| {
                        Some(TransitionDoc {
                            days: non_negative(t.days())?,
                            storage_class: t.storage_class().map(|c| c.as_str().to_string()).unwrap_or_default(),
                        })
                    })
                    .collect(),
                expiration_days: expiration.and_then(|e| non_negative(e.days())),
                expired_object_delete_marker: expiration.and_then(|e| e.expired_object_delete_marker()),
                noncurrent_transitions: rule
                    .noncurrent_version_transitions()
                    .iter()
                    .filter_map(|t| {
                        Some(NoncurrentTransitionDoc {
                            days: non_negative(t.noncurrent_days())?,
                            storage_class: t.storage_class().map(|c| c.as_str().to_string()).unwrap_or_default(),
                            newer_noncurrent_versions: non_negative(t.newer_noncurrent_versions()),
                        })
                    })
                    .collect(),
                noncurrent_expiration_days: noncurrent_expiration.and_then(|e| non_negative(e.noncurrent_days())),
                noncurrent_newer_versions: noncurrent_expiration
                    .and_then(|e| non_negative(e.newer_noncurrent_versions())),
                abort_incomplete_multipart_upload_days: rule
                    .abort_incomplete_multipart_upload()
                    .and_then(|a| non_negative(a.days_after_initiation())),
            }
        })
        .collect()
}

/// Parses the policy S3 hands back; `Err` carries why it is not JSON.
pub(crate) fn policy_from_sdk(policy: Option<&str>) -> Result<Option<serde_json::Value>, String> {
    match policy {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| format!("the bucket policy is not valid JSON: {e}")),
    }
}

pub(crate) fn logging_from_sdk(logging: Option<&LoggingEnabled>) -> Option<LoggingDoc> {
    logging.map(|l| LoggingDoc {
        target_bucket: l.target_bucket().to_string(),
        prefix: l.target_prefix().to_string(),
    })
}

pub(crate) fn cors_from_sdk(rules: &[CorsRule]) -> Vec<CorsRuleDoc> {
    rules
        .iter()
        .map(|r| CorsRuleDoc {
            id: non_empty(r.id()),
            allowed_methods: r.allowed_methods().to_vec(),
            allowed_origins: r.allowed_origins().to_vec(),
            // An absent list and an empty one mean the same; the SDK reads both as empty.
            allowed_headers: r.allowed_headers().to_vec(),
            expose_headers: r.expose_headers().to_vec(),
            max_age_seconds: r.max_age_seconds(),
        })
        .collect()
}

/// The prefix and suffix of a notification filter. AWS answers the rule names capitalised (`Prefix`)
/// while the API takes them in lower case, so they are compared without case.
fn key_filter(filter: Option<&NotificationConfigurationFilter>) -> (Option<String>, Option<String>) {
    let rules: &[FilterRule] = filter
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default();
    let value = |wanted: &str| {
        rules
            .iter()
            .find(|r| r.name().is_some_and(|n| n.as_str().eq_ignore_ascii_case(wanted)))
            .and_then(|r| non_empty(r.value()))
    };
    (value("prefix"), value("suffix"))
}

pub(crate) fn notifications_from_sdk(
    topics: &[TopicConfiguration],
    queues: &[QueueConfiguration],
    lambdas: &[LambdaFunctionConfiguration],
) -> Vec<NotificationDoc> {
    let doc = |target, id: Option<&str>, arn: &str, events: Vec<String>, filter| {
        let (prefix, suffix) = key_filter(filter);
        NotificationDoc {
            id: id.unwrap_or_default().to_string(),
            target,
            arn: arn.to_string(),
            events,
            prefix,
            suffix,
        }
    };
    let events = |events: &[aws_sdk_s3::types::Event]| events.iter().map(|e| e.as_str().to_string()).collect();
    let topics = topics.iter().map(|c| {
        doc(
            NotificationTarget::Topic,
            c.id(),
            c.topic_arn(),
            events(c.events()),
            c.filter(),
        )
    });
    let queues = queues.iter().map(|c| {
        doc(
            NotificationTarget::Queue,
            c.id(),
            c.queue_arn(),
            events(c.events()),
            c.filter(),
        )
    });
    let lambdas = lambdas.iter().map(|c| {
        doc(
            NotificationTarget::Lambda,
            c.id(),
            c.lambda_function_arn(),
            events(c.events()),
            c.filter(),
        )
    });
    topics.chain(queues).chain(lambdas).collect()
}

/// Maps a replication configuration, reading the rule filter in its `Prefix`, `Tag` and `And` forms
/// as well as the legacy rule-level `Prefix`.
#[allow(deprecated)] // `ReplicationRule::prefix` is the legacy (V1) form, still returned for old rules.
pub(crate) fn replication_from_sdk(config: Option<&ReplicationConfiguration>) -> Option<ReplicationDoc> {
    let config = config?;
    let rules = config
        .rules()
        .iter()
        .map(|rule| {
            let mut prefix = non_empty(rule.prefix());
            let mut tags = BTreeMap::new();
            if let Some(filter) = rule.filter() {
                if let Some(and) = filter.and() {
                    prefix = prefix.or_else(|| non_empty(and.prefix()));
                    tags.extend(tags_from_sdk(and.tags()));
                }
                prefix = prefix.or_else(|| non_empty(filter.prefix()));
                if let Some(tag) = filter.tag() {
                    tags.insert(tag.key().to_string(), tag.value().to_string());
                }
            }
            let destination = rule.destination();
            ReplicationRuleDoc {
                id: rule.id().unwrap_or_default().to_string(),
                priority: rule.priority().unwrap_or(0),
                enabled: *rule.status() == ReplicationRuleStatus::Enabled,
                prefix,
                tags,
                destination_bucket_arn: destination.map(|d| d.bucket().to_string()).unwrap_or_default(),
                storage_class: destination
                    .and_then(|d| d.storage_class())
                    .map(|c| c.as_str().to_string()),
                delete_marker_replication: rule
                    .delete_marker_replication()
                    .and_then(|d| d.status())
                    .is_some_and(|s| *s == DeleteMarkerReplicationStatus::Enabled),
            }
        })
        .collect();
    Some(ReplicationDoc {
        role_arn: config.role().to_string(),
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_constraints_map_to_regions() {
        assert_eq!(region_from_constraint(None), "us-east-1");
        assert_eq!(
            region_from_constraint(Some(&BucketLocationConstraint::from(""))),
            "us-east-1"
        );
        assert_eq!(region_from_constraint(Some(&BucketLocationConstraint::Eu)), "eu-west-1");
        assert_eq!(
            region_from_constraint(Some(&BucketLocationConstraint::EuCentral1)),
            "eu-central-1"
        );
    }

    #[test]
    fn capitalised_filter_rule_names_are_read() {
        use aws_sdk_s3::types::{FilterRuleName, S3KeyFilter};
        let filter = NotificationConfigurationFilter::builder()
            .key(
                S3KeyFilter::builder()
                    .filter_rules(
                        FilterRule::builder()
                            .name(FilterRuleName::from("Prefix"))
                            .value("in/")
                            .build(),
                    )
                    .filter_rules(FilterRule::builder().name(FilterRuleName::Suffix).value(".csv").build())
                    .build(),
            )
            .build();
        assert_eq!(
            key_filter(Some(&filter)),
            (Some("in/".to_string()), Some(".csv".to_string()))
        );
    }

    /// Callers spawn bucket reads onto the runtime, so the future must stay `Send`; this fails to
    /// compile otherwise.
    #[allow(dead_code)]
    fn read_bucket_is_send(aws: &Aws) {
        fn send<T: Send>(_: T) {}
        send(read_bucket(aws, "bucket", &DocKind::ALL));
        send(bucket_has_objects(aws, "bucket", "us-east-1"));
    }
}
