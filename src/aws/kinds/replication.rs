//! Replication: GetBucketReplication / PutBucketReplication / DeleteBucketReplication.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, ReplicationConfiguration, ReplicationRule,
    ReplicationRuleAndOperator, ReplicationRuleFilter, ReplicationRuleStatus, StorageClass, Tag,
};

use super::non_empty;
use super::tags::{tags_from_sdk, tags_to_sdk};
use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::replication::{self, Replication, ReplicationDoc, ReplicationRuleDoc};

impl AwsKind for Replication {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Option<ReplicationDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_replication().bucket(name).send().await;
        out.map(|out| replication_from_sdk(out.replication_configuration()))
            .map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, value: &Option<ReplicationDoc>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        let Some(replication) = value else {
            let op = Op::write(&replication::DELETE, name);
            let result = s3.delete_bucket_replication().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        };
        let op = Op::write(&replication::PUT, name);
        let config = replication_to_sdk(replication).map_err(|e| invalid(&op, e))?;
        let result = s3
            .put_bucket_replication()
            .bucket(name)
            .replication_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

/// Maps a replication configuration, reading the rule filter in its `Prefix`, `Tag` and `And` forms
/// as well as the legacy rule-level `Prefix`.
#[allow(deprecated)] // `ReplicationRule::prefix` is the legacy (V1) form, still returned for old rules.
fn replication_from_sdk(config: Option<&ReplicationConfiguration>) -> Option<ReplicationDoc> {
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

/// Builds replication rules in the current (V2) schema: a `Filter` (`Prefix`, one `Tag`, or an `And`
/// of a prefix and tags), a priority and an explicit delete-marker replication status, which V2 requires.
fn replication_to_sdk(doc: &ReplicationDoc) -> Result<ReplicationConfiguration, String> {
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
    use super::*;
    use crate::model::Doc;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
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
}
