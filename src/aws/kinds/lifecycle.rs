//! Lifecycle rules: GetBucketLifecycleConfiguration / PutBucketLifecycleConfiguration / DeleteBucketLifecycle.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration, NoncurrentVersionTransition, Tag,
    Transition, TransitionStorageClass,
};

use super::tags::{tags_from_sdk, tags_to_sdk};
use super::{non_empty, non_negative, non_negative_size, opt_i32, opt_i64, to_i32};
use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::lifecycle::{self, Lifecycle, LifecycleRuleDoc, NoncurrentTransitionDoc, TransitionDoc};

impl AwsKind for Lifecycle {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Vec<LifecycleRuleDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_lifecycle_configuration().bucket(name).send().await;
        out.map(|out| lifecycle_from_sdk(out.rules())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, rules: &Vec<LifecycleRuleDoc>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        if rules.is_empty() {
            let op = Op::write(&lifecycle::DELETE, name);
            let result = s3.delete_bucket_lifecycle().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        }
        let op = Op::write(&lifecycle::PUT, name);
        let config = lifecycle_to_sdk(rules).map_err(|e| invalid(&op, e))?;
        let result = s3
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

/// Maps lifecycle rules, reading the filter in all three shapes S3 answers with: the `Filter` with one
/// condition, the `Filter` with an `And`, and the legacy rule-level `Prefix`.
#[allow(deprecated)] // `LifecycleRule::prefix` is the legacy form, still returned for old rules.
fn lifecycle_from_sdk(rules: &[LifecycleRule]) -> Vec<LifecycleRuleDoc> {
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

fn lifecycle_to_sdk(rules: &[LifecycleRuleDoc]) -> Result<BucketLifecycleConfiguration, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Doc;

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
}
