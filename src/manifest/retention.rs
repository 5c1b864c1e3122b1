//! A sync mapping's `retention` as the lifecycle rules it stands for. Pure.
//!
//! A backup's retention is a property of the mapping (how long old versions of *these* files live), but
//! S3 enforces it per bucket, through lifecycle rules filtered by prefix. This module is the one place
//! that turns the first into the second: the desired model adds the rules to each destination bucket's
//! lifecycle document, and validation checks them against the bucket's own rules.

use super::types::{
    DeleteMarkers, Expiration, LifecycleFilter, LifecycleRule, Manifest, NoncurrentExpiration, Retention, SyncMapping,
};

/// The ID prefix of generated rules; a bucket's own rule may not use an ID that starts with it.
pub const RULE_ID_PREFIX: &str = "s3rec-retention-";

/// One lifecycle rule generated for a mapping's destination.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionRule {
    /// The sync mapping that declares the retention.
    pub mapping: String,
    /// Logical name of the destination bucket.
    pub bucket: String,
    /// The key prefix the rule covers ("" for the whole bucket).
    pub prefix: String,
    pub rule: LifecycleRule,
}

/// Every rule the manifest's retention settings generate, in mapping order, then destination order.
pub fn rules(manifest: &Manifest) -> Vec<RetentionRule> {
    manifest
        .sync
        .iter()
        .filter_map(|(name, mapping)| mapping.retention.as_ref().map(|r| (name, mapping, r)))
        .flat_map(|(name, mapping, retention)| mapping_rules(name, mapping, retention))
        .collect()
}

/// The rules generated for bucket `logical`.
pub fn rules_for(manifest: &Manifest, logical: &str) -> Vec<LifecycleRule> {
    rules(manifest)
        .into_iter()
        .filter(|r| r.bucket == logical)
        .map(|r| r.rule)
        .collect()
}

/// Whether lifecycle rules filtered by these two prefixes can apply to one object.
pub fn prefixes_overlap(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn mapping_rules(name: &str, mapping: &SyncMapping, retention: &Retention) -> Vec<RetentionRule> {
    mapping
        .destinations()
        .into_iter()
        .enumerate()
        .map(|(i, (bucket, prefix))| {
            // The first destination's rule is named after the mapping alone, so the common case of one
            // destination reads plainly in the bucket's lifecycle; more get their position.
            let id = if i == 0 {
                format!("{RULE_ID_PREFIX}{name}")
            } else {
                format!("{RULE_ID_PREFIX}{name}-{}", i + 1)
            };
            RetentionRule {
                mapping: name.to_string(),
                bucket,
                rule: rule(id, &prefix, retention),
                prefix,
            }
        })
        .collect()
}

/// The lifecycle rule of one destination: old versions expire after `noncurrent_days` (the newest
/// `keep_versions` of them excepted), and delete markers with nothing left to hide are removed.
fn rule(id: String, prefix: &str, retention: &Retention) -> LifecycleRule {
    LifecycleRule {
        id,
        enabled: true,
        filter: (!prefix.is_empty()).then(|| LifecycleFilter {
            prefix: Some(prefix.to_string()),
            ..LifecycleFilter::default()
        }),
        transitions: Vec::new(),
        expiration: match retention.delete_markers {
            Some(DeleteMarkers::Expire) => Some(Expiration {
                days: None,
                expired_object_delete_marker: Some(true),
            }),
            Some(DeleteMarkers::Keep) | None => None,
        },
        noncurrent_version_transitions: Vec::new(),
        noncurrent_version_expiration: retention.noncurrent_days.map(|days| NoncurrentExpiration {
            days,
            newer_noncurrent_versions: retention.keep_versions,
        }),
        abort_incomplete_multipart_upload_days: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(yaml: &str) -> Manifest {
        crate::manifest::load::valid_for_tests(&format!(
            "environment: test\nbuckets:\n  backups:\n    name: b-${{env}}\n    versioning: enabled\n  photos:\n    name: p-${{env}}\n    versioning: enabled\nsync:\n{yaml}"
        ))
    }

    #[test]
    fn a_mapping_s_retention_is_one_rule_per_destination_prefix() {
        let m = manifest(
            "  home:\n    source: /home\n    bucket: backups\n    prefix: home/\n    retention: {noncurrent_days: 30, keep_versions: 5, delete_markers: expire}\n    routes:\n      - {extensions: [jpg], bucket: photos, prefix: pics/}\n      - {extensions: [pdf], bucket: backups, prefix: home/pdf/}\n      - {extensions: [png], bucket: photos, prefix: pics/}\n",
        );
        let generated = rules(&m);
        let summary: Vec<(&str, &str, &str)> = generated
            .iter()
            .map(|r| (r.bucket.as_str(), r.prefix.as_str(), r.rule.id.as_str()))
            .collect();
        // `home/pdf/` is inside `home/`, and the second `pics/` route repeats the first.
        assert_eq!(
            summary,
            vec![
                ("backups", "home/", "s3rec-retention-home"),
                ("photos", "pics/", "s3rec-retention-home-2"),
            ]
        );
        assert_eq!(
            generated[0].rule,
            LifecycleRule {
                id: "s3rec-retention-home".to_string(),
                enabled: true,
                filter: Some(LifecycleFilter {
                    prefix: Some("home/".to_string()),
                    ..LifecycleFilter::default()
                }),
                transitions: Vec::new(),
                expiration: Some(Expiration {
                    days: None,
                    expired_object_delete_marker: Some(true),
                }),
                noncurrent_version_transitions: Vec::new(),
                noncurrent_version_expiration: Some(NoncurrentExpiration {
                    days: 30,
                    newer_noncurrent_versions: Some(5),
                }),
                abort_incomplete_multipart_upload_days: None,
            }
        );
        assert_eq!(rules_for(&m, "photos").len(), 1);
        assert_eq!(rules_for(&m, "other").len(), 0);
    }

    #[test]
    fn a_whole_bucket_rule_has_no_filter_and_kept_markers_no_expiration() {
        let m = manifest(
            "  all:\n    source: /data\n    bucket: backups\n    retention: {noncurrent_days: 7, delete_markers: keep}\n",
        );
        let generated = rules(&m);
        assert_eq!(generated.len(), 1);
        let rule = &generated[0].rule;
        assert_eq!(rule.filter, None);
        assert_eq!(rule.expiration, None);
        assert_eq!(
            rule.noncurrent_version_expiration,
            Some(NoncurrentExpiration {
                days: 7,
                newer_noncurrent_versions: None
            })
        );
    }

    #[test]
    fn mappings_without_retention_generate_nothing() {
        let m = manifest("  all:\n    source: /data\n    bucket: backups\n");
        assert!(rules(&m).is_empty());
    }

    #[test]
    fn overlapping_prefixes() {
        assert!(prefixes_overlap("", "a/"));
        assert!(prefixes_overlap("a/b/", "a/"));
        assert!(prefixes_overlap("a/", "a/"));
        assert!(!prefixes_overlap("a/", "b/"));
        assert!(!prefixes_overlap("logs/", "logs2/x"));
    }
}
