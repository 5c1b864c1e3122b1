//! Changing buckets: create, delete (optionally emptying first), and writing one canonical document.
//!
//! [`put_doc`] is the inverse of `read.rs`: each [`Doc`] becomes the one Put* call that sets it, or the
//! Delete* call when the document is its unconfigured value, so that reading the bucket back gives the
//! same canonical document. The pure `*_to_sdk` builders are tested against the read mappers below.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketLoggingStatus,
    BucketVersioningStatus, CorsConfiguration, CorsRule, CreateBucketConfiguration, Delete, DeleteMarkerReplication,
    DeleteMarkerReplicationStatus, Destination, Event, ExpirationStatus, FilterRule, FilterRuleName,
    LambdaFunctionConfiguration, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter,
    LoggingEnabled, NoncurrentVersionExpiration, NoncurrentVersionTransition, NotificationConfiguration,
    NotificationConfigurationFilter, ObjectIdentifier, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, QueueConfiguration, ReplicationConfiguration, ReplicationRule,
    ReplicationRuleAndOperator, ReplicationRuleFilter, ReplicationRuleStatus, S3KeyFilter, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, StorageClass, Tag,
    Tagging, TopicConfiguration, Transition, TransitionStorageClass, VersioningConfiguration,
};
use std::collections::BTreeMap;

use super::{Aws, AwsError, DEFAULT_REGION, Op};
use crate::model::{
    CorsRuleDoc, Doc, EncryptionDoc, LifecycleRuleDoc, LoggingDoc, NotificationDoc, NotificationTarget,
    PublicAccessBlockDoc, ReplicationDoc, VersioningState, policy,
};

/// DeleteObjects takes at most this many keys per request.
const DELETE_BATCH: usize = 1000;

/// How many per-key failures an [`AwsError::ObjectsNotDeleted`] spells out.
const REPORTED_FAILURES: usize = 5;

/// Creates a bucket in `region`. A bucket this account already owns counts as created.
pub async fn create_bucket(aws: &Aws, name: &str, region: &str) -> Result<(), AwsError> {
    let op = Op::bucket("CreateBucket", "s3:CreateBucket", name);
    let mut request = aws.s3(region).create_bucket().bucket(name);
    // us-east-1 is the one region that must not be named: AWS rejects a LocationConstraint for it.
    if region != DEFAULT_REGION {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(err) => match aws.error(&op, err) {
            err if err.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
            err => Err(err),
        },
    }
}

/// Deletes a bucket. With `force`, first deletes every object version and delete marker and aborts
/// every unfinished multipart upload; without it, a non-empty bucket fails with S3's `BucketNotEmpty`,
/// whose message says to set `force_destroy`.
pub async fn delete_bucket(aws: &Aws, name: &str, region: &str, force: bool) -> Result<(), AwsError> {
    if force {
        empty_bucket(aws, name, region).await?;
    }
    aws.s3(region)
        .delete_bucket()
        .bucket(name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&Op::bucket("DeleteBucket", "s3:DeleteBucket", name), e))
}

/// Deletes every version and delete marker, page by page, then aborts the multipart uploads.
async fn empty_bucket(aws: &Aws, name: &str, region: &str) -> Result<(), AwsError> {
    let s3 = aws.s3(region);
    let list_op = Op::bucket("ListObjectVersions", "s3:ListBucketVersions", name);
    let delete_op = Op::object("DeleteObjects", "s3:DeleteObjectVersion", name, "*");
    let mut failures: Vec<String> = Vec::new();
    let mut failed = 0usize;
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| aws.error(&list_op, e))?;
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let mut objects = Vec::new();
        for (key, version) in versions.chain(markers) {
            let Some(key) = key else { continue };
            let object = ObjectIdentifier::builder()
                .key(key)
                .set_version_id(version.map(str::to_string))
                .build()
                .map_err(|e| invalid(&delete_op, e))?;
            objects.push(object);
        }
        for batch in objects.chunks(DELETE_BATCH) {
            let delete = Delete::builder()
                .set_objects(Some(batch.to_vec()))
                .quiet(true)
                .build()
                .map_err(|e| invalid(&delete_op, e))?;
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(delete)
                .send()
                .await
                .map_err(|e| aws.error(&delete_op, e))?;
            for error in out.errors() {
                failed += 1;
                if failures.len() < REPORTED_FAILURES {
                    failures.push(format!(
                        "{} ({}): {}: {}",
                        error.key().unwrap_or("?"),
                        error.version_id().unwrap_or("null"),
                        error.code().unwrap_or("Unknown"),
                        error.message().unwrap_or_default()
                    ));
                }
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
        if key_marker.is_none() && version_marker.is_none() {
            break;
        }
    }
    if failed > 0 {
        if failed > failures.len() {
            failures.push(format!("and {} more", failed - failures.len()));
        }
        return Err(AwsError::ObjectsNotDeleted {
            bucket: name.to_string(),
            count: failed,
            detail: failures.join("; "),
        });
    }
    abort_multipart_uploads(aws, name, region).await
}

/// Aborts every unfinished multipart upload, whose parts would otherwise keep the bucket billable.
async fn abort_multipart_uploads(aws: &Aws, name: &str, region: &str) -> Result<(), AwsError> {
    let s3 = aws.s3(region);
    let list_op = Op::bucket("ListMultipartUploads", "s3:ListBucketMultipartUploads", name);
    let mut key_marker: Option<String> = None;
    let mut upload_marker: Option<String> = None;
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket(name)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(upload_marker.take())
            .send()
            .await
            .map_err(|e| aws.error(&list_op, e))?;
        for upload in page.uploads() {
            let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else {
                continue;
            };
            let op = Op::object("AbortMultipartUpload", "s3:AbortMultipartUpload", name, key);
            match s3
                .abort_multipart_upload()
                .bucket(name)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
            {
                Ok(_) => {}
                // Completed or aborted by someone else since the listing: gone either way.
                Err(e) => match aws.error(&op, e) {
                    err if err.code() == Some("NoSuchUpload") => {}
                    err => return Err(err),
                },
            }
        }
        if page.is_truncated() != Some(true) {
            return Ok(());
        }
        key_marker = page.next_key_marker().map(str::to_string);
        upload_marker = page.next_upload_id_marker().map(str::to_string);
        if key_marker.is_none() && upload_marker.is_none() {
            return Ok(());
        }
    }
}

/// Writes one canonical document to a bucket: the Put* call that sets it, or the Delete* call when the
/// document is its unconfigured value.
pub async fn put_doc(aws: &Aws, name: &str, region: &str, doc: &Doc) -> Result<(), AwsError> {
    let s3 = aws.s3(region);
    let op = |operation: &'static str, action: &'static str| Op::bucket(operation, action, name);
    match doc {
        Doc::Versioning(state) => {
            let op = op("PutBucketVersioning", "s3:PutBucketVersioning");
            let status = match state {
                VersioningState::Enabled => BucketVersioningStatus::Enabled,
                VersioningState::Suspended => BucketVersioningStatus::Suspended,
                VersioningState::Unversioned => {
                    return Err(invalid(
                        &op,
                        "S3 cannot return a bucket to unversioned; only Enabled or Suspended can be written",
                    ));
                }
            };
            let config = VersioningConfiguration::builder().status(status).build();
            let result = s3
                .put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(config)
                .send()
                .await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Encryption(None) => {
            let op = op("DeleteBucketEncryption", "s3:PutEncryptionConfiguration");
            let result = s3.delete_bucket_encryption().bucket(name).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Encryption(Some(encryption)) => {
            let op = op("PutBucketEncryption", "s3:PutEncryptionConfiguration");
            let config = encryption_to_sdk(encryption).map_err(|e| invalid(&op, e))?;
            let result = s3
                .put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(config)
                .send()
                .await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::PublicAccessBlock(block) if *block == PublicAccessBlockDoc::default() => {
            let op = op("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock");
            let result = s3.delete_public_access_block().bucket(name).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::PublicAccessBlock(block) => {
            let op = op("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock");
            let result = s3
                .put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(public_access_block_to_sdk(block))
                .send()
                .await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Ownership(None) => {
            let op = op("DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls");
            let result = s3.delete_bucket_ownership_controls().bucket(name).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Ownership(Some(ownership)) => {
            let op = op("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls");
            let controls = ownership_to_sdk(ownership).map_err(|e| invalid(&op, e))?;
            let result = s3
                .put_bucket_ownership_controls()
                .bucket(name)
                .ownership_controls(controls)
                .send()
                .await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Tags(tags) if tags.is_empty() => {
            let op = op("DeleteBucketTagging", "s3:PutBucketTagging");
            let result = s3.delete_bucket_tagging().bucket(name).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Tags(tags) => {
            let op = op("PutBucketTagging", "s3:PutBucketTagging");
            let tagging = Tagging::builder()
                .set_tag_set(Some(tags_to_sdk(tags).map_err(|e| invalid(&op, e))?))
                .build()
                .map_err(|e| invalid(&op, e))?;
            let result = s3.put_bucket_tagging().bucket(name).tagging(tagging).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Lifecycle(rules) if rules.is_empty() => {
            let op = op("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration");
            let result = s3.delete_bucket_lifecycle().bucket(name).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Lifecycle(rules) => {
            let op = op("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration");
            let config = lifecycle_to_sdk(rules).map_err(|e| invalid(&op, e))?;
            let result = s3
                .put_bucket_lifecycle_configuration()
                .bucket(name)
                .lifecycle_configuration(config)
                .send()
                .await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Policy(None) => {
            let op = op("DeleteBucketPolicy", "s3:DeleteBucketPolicy");
            let result = s3.delete_bucket_policy().bucket(name).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Policy(Some(document)) => {
            let op = op("PutBucketPolicy", "s3:PutBucketPolicy");
            let text = serde_json::to_string(&policy::normalize(document)).map_err(|e| invalid(&op, e))?;
            let result = s3.put_bucket_policy().bucket(name).policy(text).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Logging(logging) => {
            let op = op("PutBucketLogging", "s3:PutBucketLogging");
            // An empty BucketLoggingStatus is how S3 turns logging off; there is no DeleteBucketLogging.
            let status = logging_to_sdk(logging.as_ref()).map_err(|e| invalid(&op, e))?;
            let result = s3
                .put_bucket_logging()
                .bucket(name)
                .bucket_logging_status(status)
                .send()
                .await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Cors(rules) if rules.is_empty() => {
            let op = op("DeleteBucketCors", "s3:PutBucketCORS");
            let result = s3.delete_bucket_cors().bucket(name).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Cors(rules) => {
            let op = op("PutBucketCors", "s3:PutBucketCORS");
            let config = cors_to_sdk(rules).map_err(|e| invalid(&op, e))?;
            let result = s3
                .put_bucket_cors()
                .bucket(name)
                .cors_configuration(config)
                .send()
                .await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Notifications(notifications) => {
            let op = op("PutBucketNotificationConfiguration", "s3:PutBucketNotification");
            // An empty configuration removes every notification; there is no Delete call.
            let config = notifications_to_sdk(notifications).map_err(|e| invalid(&op, e))?;
            // `skip_destination_validation` is deliberately left unset: AWS then checks that each topic,
            // queue or function exists and lets S3 publish to it, which is the error a user wants at
            // apply time rather than silently lost events. moto does not need it either: it checks only
            // that each destination ARN is in the bucket's region.
            let result = s3
                .put_bucket_notification_configuration()
                .bucket(name)
                .notification_configuration(config)
                .send()
                .await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Replication(None) => {
            let op = op("DeleteBucketReplication", "s3:PutReplicationConfiguration");
            let result = s3.delete_bucket_replication().bucket(name).send().await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Replication(Some(replication)) => {
            let op = op("PutBucketReplication", "s3:PutReplicationConfiguration");
            let config = replication_to_sdk(replication).map_err(|e| invalid(&op, e))?;
            let result = s3
                .put_bucket_replication()
                .bucket(name)
                .replication_configuration(config)
                .send()
                .await;
            result.map(|_| ()).map_err(|e| aws.error(&op, e))
        }
        Doc::Inventory(configs) => super::kinds::inventory::put(aws, region, name, configs).await,
    }
}

/// A request s3rec could not build, which means a document the model should never hold.
fn invalid(op: &Op, detail: impl std::fmt::Display) -> AwsError {
    AwsError::InvalidRequest {
        operation: op.operation.to_string(),
        resource: op.resource.clone(),
        detail: detail.to_string(),
    }
}

/// Days and counts are `u32` in the model and `i32` in the SDK.
fn to_i32(value: u32, what: &str) -> Result<i32, String> {
    i32::try_from(value).map_err(|_| format!("{what} {value} is larger than S3 accepts"))
}

fn opt_i32(value: Option<u32>, what: &str) -> Result<Option<i32>, String> {
    value.map(|v| to_i32(v, what)).transpose()
}

fn opt_i64(value: Option<u64>, what: &str) -> Result<Option<i64>, String> {
    value
        .map(|v| i64::try_from(v).map_err(|_| format!("{what} {v} is larger than S3 accepts")))
        .transpose()
}

fn tags_to_sdk(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, String> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| e.to_string()))
        .collect()
}

pub(crate) fn encryption_to_sdk(doc: &EncryptionDoc) -> Result<ServerSideEncryptionConfiguration, String> {
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(doc.algorithm.as_str()))
        .set_kms_master_key_id(doc.kms_key_id.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(doc.bucket_key)
        .build();
    ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| e.to_string())
}

pub(crate) fn public_access_block_to_sdk(doc: &PublicAccessBlockDoc) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(doc.block_public_acls)
        .ignore_public_acls(doc.ignore_public_acls)
        .block_public_policy(doc.block_public_policy)
        .restrict_public_buckets(doc.restrict_public_buckets)
        .build()
}

pub(crate) fn ownership_to_sdk(ownership: &str) -> Result<OwnershipControls, String> {
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(ownership))
        .build()
        .map_err(|e| e.to_string())?;
    OwnershipControls::builder()
        .rules(rule)
        .build()
        .map_err(|e| e.to_string())
}

/// Builds the `Filter` of a lifecycle rule in the form S3 wants: nothing for "every object", the one
/// condition alone when there is one, and an `And` when there are several (S3 rejects a `Filter` with
/// two sibling conditions).
fn lifecycle_filter(rule: &LifecycleRuleDoc) -> Result<LifecycleRuleFilter, String> {
    let prefix = rule.prefix.clone().filter(|p| !p.is_empty());
    let greater = opt_i64(rule.object_size_greater_than, "object_size_greater_than")?;
    let less = opt_i64(rule.object_size_less_than, "object_size_less_than")?;
    let conditions =
        usize::from(prefix.is_some()) + rule.tags.len() + usize::from(greater.is_some()) + usize::from(less.is_some());
    let filter = LifecycleRuleFilter::builder();
    let filter = if conditions > 1 {
        filter.and(
            LifecycleRuleAndOperator::builder()
                .set_prefix(prefix)
                .set_tags(if rule.tags.is_empty() {
                    None
                } else {
                    Some(tags_to_sdk(&rule.tags)?)
                })
                .set_object_size_greater_than(greater)
                .set_object_size_less_than(less)
                .build(),
        )
    } else if let Some((key, value)) = rule.tags.iter().next() {
        filter.tag(
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| e.to_string())?,
        )
    } else {
        // Zero or one of these is set: the one condition alone, or an empty `<Filter/>` for every object.
        filter
            .set_prefix(prefix)
            .set_object_size_greater_than(greater)
            .set_object_size_less_than(less)
    };
    Ok(filter.build())
}

pub(crate) fn lifecycle_to_sdk(rules: &[LifecycleRuleDoc]) -> Result<BucketLifecycleConfiguration, String> {
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        let mut builder = LifecycleRule::builder()
            .id(&rule.id)
            .status(if rule.enabled {
                ExpirationStatus::Enabled
            } else {
                ExpirationStatus::Disabled
            })
            .filter(lifecycle_filter(rule)?);
        for t in &rule.transitions {
            builder = builder.transitions(
                Transition::builder()
                    .days(to_i32(t.days, "transition days")?)
                    .storage_class(TransitionStorageClass::from(t.storage_class.as_str()))
                    .build(),
            );
        }
        if rule.expiration_days.is_some() || rule.expired_object_delete_marker.is_some() {
            builder = builder.expiration(
                LifecycleExpiration::builder()
                    .set_days(opt_i32(rule.expiration_days, "expiration days")?)
                    .set_expired_object_delete_marker(rule.expired_object_delete_marker)
                    .build(),
            );
        }
        for t in &rule.noncurrent_transitions {
            builder = builder.noncurrent_version_transitions(
                NoncurrentVersionTransition::builder()
                    .noncurrent_days(to_i32(t.days, "noncurrent transition days")?)
                    .storage_class(TransitionStorageClass::from(t.storage_class.as_str()))
                    .set_newer_noncurrent_versions(opt_i32(t.newer_noncurrent_versions, "newer_noncurrent_versions")?)
                    .build(),
            );
        }
        if rule.noncurrent_expiration_days.is_some() || rule.noncurrent_newer_versions.is_some() {
            builder = builder.noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .set_noncurrent_days(opt_i32(rule.noncurrent_expiration_days, "noncurrent expiration days")?)
                    .set_newer_noncurrent_versions(opt_i32(
                        rule.noncurrent_newer_versions,
                        "newer_noncurrent_versions",
                    )?)
                    .build(),
            );
        }
        if let Some(days) = rule.abort_incomplete_multipart_upload_days {
            builder = builder.abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(to_i32(days, "abort_incomplete_multipart_upload_days")?)
                    .build(),
            );
        }
        out.push(builder.build().map_err(|e| e.to_string())?);
    }
    BucketLifecycleConfiguration::builder()
        .set_rules(Some(out))
        .build()
        .map_err(|e| e.to_string())
}

pub(crate) fn logging_to_sdk(logging: Option<&LoggingDoc>) -> Result<BucketLoggingStatus, String> {
    let Some(logging) = logging else {
        return Ok(BucketLoggingStatus::builder().build());
    };
    let enabled = LoggingEnabled::builder()
        .target_bucket(&logging.target_bucket)
        .target_prefix(&logging.prefix)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(BucketLoggingStatus::builder().logging_enabled(enabled).build())
}

/// A list S3 treats as absent when empty; sending `Some(vec![])` would write an empty element.
fn non_empty_list(items: &[String]) -> Option<Vec<String>> {
    if items.is_empty() { None } else { Some(items.to_vec()) }
}

pub(crate) fn cors_to_sdk(rules: &[CorsRuleDoc]) -> Result<CorsConfiguration, String> {
    let rules = rules
        .iter()
        .map(|r| {
            CorsRule::builder()
                .set_id(r.id.clone())
                .set_allowed_methods(Some(r.allowed_methods.clone()))
                .set_allowed_origins(Some(r.allowed_origins.clone()))
                .set_allowed_headers(non_empty_list(&r.allowed_headers))
                .set_expose_headers(non_empty_list(&r.expose_headers))
                .set_max_age_seconds(r.max_age_seconds)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    CorsConfiguration::builder()
        .set_cors_rules(Some(rules))
        .build()
        .map_err(|e| e.to_string())
}

/// The `prefix`/`suffix` key filter of one notification, or none when it filters nothing.
fn notification_filter(doc: &NotificationDoc) -> Option<NotificationConfigurationFilter> {
    let mut rules = Vec::new();
    for (name, value) in [
        (FilterRuleName::Prefix, &doc.prefix),
        (FilterRuleName::Suffix, &doc.suffix),
    ] {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            rules.push(FilterRule::builder().name(name).value(value).build());
        }
    }
    if rules.is_empty() {
        return None;
    }
    Some(
        NotificationConfigurationFilter::builder()
            .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
            .build(),
    )
}

pub(crate) fn notifications_to_sdk(docs: &[NotificationDoc]) -> Result<NotificationConfiguration, String> {
    let mut config = NotificationConfiguration::builder();
    for doc in docs {
        let events: Vec<Event> = doc.events.iter().map(|e| Event::from(e.as_str())).collect();
        let id = if doc.id.is_empty() { None } else { Some(doc.id.clone()) };
        config = match doc.target {
            NotificationTarget::Topic => config.topic_configurations(
                TopicConfiguration::builder()
                    .set_id(id)
                    .topic_arn(&doc.arn)
                    .set_events(Some(events))
                    .set_filter(notification_filter(doc))
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
            NotificationTarget::Queue => config.queue_configurations(
                QueueConfiguration::builder()
                    .set_id(id)
                    .queue_arn(&doc.arn)
                    .set_events(Some(events))
                    .set_filter(notification_filter(doc))
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
            NotificationTarget::Lambda => config.lambda_function_configurations(
                LambdaFunctionConfiguration::builder()
                    .set_id(id)
                    .lambda_function_arn(&doc.arn)
                    .set_events(Some(events))
                    .set_filter(notification_filter(doc))
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
        };
    }
    Ok(config.build())
}

/// Builds replication rules in the current (V2) schema: a `Filter` (`Prefix`, one `Tag`, or an `And`
/// of a prefix and tags), a priority and an explicit delete-marker replication status, which V2 requires.
pub(crate) fn replication_to_sdk(doc: &ReplicationDoc) -> Result<ReplicationConfiguration, String> {
    let mut rules = Vec::with_capacity(doc.rules.len());
    for rule in &doc.rules {
        let prefix = rule.prefix.clone().filter(|p| !p.is_empty());
        let filter = ReplicationRuleFilter::builder();
        let filter = match (prefix, rule.tags.len()) {
            (prefix, 0) => filter.prefix(prefix.unwrap_or_default()),
            (None, 1) => {
                let (key, value) = rule.tags.iter().next().ok_or("a tag filter without a tag")?;
                filter.tag(
                    Tag::builder()
                        .key(key)
                        .value(value)
                        .build()
                        .map_err(|e| e.to_string())?,
                )
            }
            (prefix, _) => filter.and(
                ReplicationRuleAndOperator::builder()
                    .set_prefix(prefix)
                    .set_tags(Some(tags_to_sdk(&rule.tags)?))
                    .build(),
            ),
        };
        let destination = Destination::builder()
            .bucket(&rule.destination_bucket_arn)
            .set_storage_class(rule.storage_class.as_deref().map(StorageClass::from))
            .build()
            .map_err(|e| e.to_string())?;
        let delete_markers = if rule.delete_marker_replication {
            DeleteMarkerReplicationStatus::Enabled
        } else {
            DeleteMarkerReplicationStatus::Disabled
        };
        rules.push(
            ReplicationRule::builder()
                .id(&rule.id)
                .priority(rule.priority)
                .status(if rule.enabled {
                    ReplicationRuleStatus::Enabled
                } else {
                    ReplicationRuleStatus::Disabled
                })
                .filter(filter.build())
                .destination(destination)
                .delete_marker_replication(DeleteMarkerReplication::builder().status(delete_markers).build())
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    ReplicationConfiguration::builder()
        .role(&doc.role_arn)
        .set_rules(Some(rules))
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    //! Writing a document and reading the same SDK value back must be the identity on canonical
    //! documents, for every field the model has. moto drops some fields (see tests/aws_buckets.rs), so
    //! this is where those are checked.

    use super::*;
    use crate::aws::read::{
        cors_from_sdk, encryption_from_sdk, lifecycle_from_sdk, logging_from_sdk, notifications_from_sdk,
        ownership_from_sdk, public_access_block_from_sdk, replication_from_sdk,
    };
    use crate::model::{NoncurrentTransitionDoc, ReplicationRuleDoc, TransitionDoc};

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn lifecycle_rules_round_trip_in_every_filter_form() {
        let rules = vec![
            LifecycleRuleDoc {
                prefix: Some("logs/".into()),
                transitions: vec![
                    TransitionDoc {
                        days: 30,
                        storage_class: "STANDARD_IA".into(),
                    },
                    TransitionDoc {
                        days: 90,
                        storage_class: "GLACIER".into(),
                    },
                ],
                expiration_days: Some(365),
                ..LifecycleRuleDoc::enabled("prefix-only")
            },
            LifecycleRuleDoc {
                tags: tags(&[("stage", "tmp")]),
                expired_object_delete_marker: Some(true),
                ..LifecycleRuleDoc::enabled("tag-only")
            },
            LifecycleRuleDoc {
                object_size_greater_than: Some(1024),
                enabled: false,
                ..LifecycleRuleDoc::enabled("size-only")
            },
            LifecycleRuleDoc {
                prefix: Some("in/".into()),
                tags: tags(&[("a", "1"), ("b", "2")]),
                object_size_greater_than: Some(1),
                object_size_less_than: Some(1 << 40),
                noncurrent_transitions: vec![NoncurrentTransitionDoc {
                    days: 10,
                    storage_class: "GLACIER_IR".into(),
                    newer_noncurrent_versions: Some(2),
                }],
                noncurrent_expiration_days: Some(40),
                noncurrent_newer_versions: Some(3),
                abort_incomplete_multipart_upload_days: Some(7),
                ..LifecycleRuleDoc::enabled("and")
            },
            LifecycleRuleDoc::enabled("everything"),
        ];
        let doc = Doc::Lifecycle(rules).canonical();
        let Doc::Lifecycle(rules) = &doc else { unreachable!() };
        let sdk = lifecycle_to_sdk(rules).unwrap();
        assert!(
            sdk.rules()[0].filter().unwrap().and().is_some(),
            "several conditions need an And"
        );
        assert_eq!(Doc::Lifecycle(lifecycle_from_sdk(sdk.rules())).canonical(), doc);
    }

    #[test]
    fn replication_rules_round_trip_in_every_filter_form() {
        let base = ReplicationRuleDoc {
            id: "all".into(),
            priority: 1,
            enabled: true,
            prefix: None,
            tags: BTreeMap::new(),
            destination_bucket_arn: "arn:aws:s3:::dst".into(),
            storage_class: None,
            delete_marker_replication: false,
        };
        let doc = Doc::Replication(Some(ReplicationDoc {
            role_arn: "arn:aws:iam::123456789012:role/replication".into(),
            rules: vec![
                base.clone(),
                ReplicationRuleDoc {
                    id: "prefix".into(),
                    priority: 2,
                    prefix: Some("docs/".into()),
                    storage_class: Some("STANDARD_IA".into()),
                    delete_marker_replication: true,
                    ..base.clone()
                },
                ReplicationRuleDoc {
                    id: "tag".into(),
                    priority: 3,
                    tags: tags(&[("replicate", "yes")]),
                    enabled: false,
                    ..base.clone()
                },
                ReplicationRuleDoc {
                    id: "and".into(),
                    priority: 4,
                    prefix: Some("x/".into()),
                    tags: tags(&[("replicate", "yes")]),
                    ..base.clone()
                },
            ],
        }))
        .canonical();
        let Doc::Replication(Some(replication)) = &doc else {
            unreachable!()
        };
        let sdk = replication_to_sdk(replication).unwrap();
        assert_eq!(Doc::Replication(replication_from_sdk(Some(&sdk))).canonical(), doc);
    }

    #[test]
    fn the_other_documents_round_trip() {
        let encryption = EncryptionDoc {
            algorithm: "aws:kms".into(),
            kms_key_id: Some("alias/data".into()),
            bucket_key: true,
        };
        assert_eq!(
            encryption_from_sdk(Some(&encryption_to_sdk(&encryption).unwrap())),
            Some(encryption)
        );

        let block = PublicAccessBlockDoc {
            block_public_acls: true,
            ignore_public_acls: false,
            block_public_policy: true,
            restrict_public_buckets: false,
        };
        assert_eq!(
            public_access_block_from_sdk(Some(&public_access_block_to_sdk(&block))),
            block
        );

        let ownership = ownership_to_sdk("BucketOwnerEnforced").unwrap();
        assert_eq!(
            ownership_from_sdk(Some(&ownership)).as_deref(),
            Some("BucketOwnerEnforced")
        );

        let logging = LoggingDoc {
            target_bucket: "logs".into(),
            prefix: "app/".into(),
        };
        let status = logging_to_sdk(Some(&logging)).unwrap();
        assert_eq!(logging_from_sdk(status.logging_enabled()), Some(logging));
        assert!(logging_to_sdk(None).unwrap().logging_enabled().is_none());

        let cors = vec![
            CorsRuleDoc {
                id: Some("app".into()),
                allowed_methods: vec!["GET".into(), "PUT".into()],
                allowed_origins: vec!["https://example.com".into()],
                allowed_headers: vec!["*".into()],
                expose_headers: vec!["ETag".into()],
                max_age_seconds: Some(600),
            },
            CorsRuleDoc {
                id: None,
                allowed_methods: vec!["GET".into()],
                allowed_origins: vec!["*".into()],
                allowed_headers: Vec::new(),
                expose_headers: Vec::new(),
                max_age_seconds: None,
            },
        ];
        assert_eq!(cors_from_sdk(cors_to_sdk(&cors).unwrap().cors_rules()), cors);

        let notifications = Doc::Notifications(vec![
            NotificationDoc {
                id: "topic".into(),
                target: NotificationTarget::Topic,
                arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
                events: vec!["s3:ObjectCreated:*".into(), "s3:ObjectRemoved:*".into()],
                prefix: Some("in/".into()),
                suffix: Some(".csv".into()),
            },
            NotificationDoc {
                id: "queue".into(),
                target: NotificationTarget::Queue,
                arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
                events: vec!["s3:ObjectCreated:Put".into()],
                prefix: None,
                suffix: None,
            },
            NotificationDoc {
                id: "lambda".into(),
                target: NotificationTarget::Lambda,
                arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
                events: vec!["s3:ObjectRemoved:Delete".into()],
                prefix: None,
                suffix: Some(".jpg".into()),
            },
        ])
        .canonical();
        let Doc::Notifications(docs) = &notifications else {
            unreachable!()
        };
        let sdk = notifications_to_sdk(docs).unwrap();
        let read = notifications_from_sdk(
            sdk.topic_configurations(),
            sdk.queue_configurations(),
            sdk.lambda_function_configurations(),
        );
        assert_eq!(Doc::Notifications(read).canonical(), notifications);
    }
}
