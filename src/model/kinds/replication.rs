//! Replication. S3 refuses it unless both the bucket and each destination are versioned, so it comes after versioning changes on both sides.

use super::{ApiCall, DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Replication,
    name: "replication",
    manifest_field: "replication",
    access: DocAccess {
        kind: DocKind::Replication,
        read_operation: "GetBucketReplication",
        read_action: "s3:GetReplicationConfiguration",
        write_actions: &["s3:PutReplicationConfiguration"],
        write_calls: &[PUT, DELETE],
    },
    not_configured: &[
        "ReplicationConfigurationNotFoundError",
        "NoSuchReplicationConfiguration",
    ],
    preconfigured_by_aws: false,
    render_root: "",
    after_own: &[DocKind::Versioning],
    after_target: &[DocKind::Versioning],
};

/// Replaces the configuration.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketReplication",
    action: "s3:PutReplicationConfiguration",
};

/// Removes it (S3 authorises the delete with the put action).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketReplication",
    action: "s3:PutReplicationConfiguration",
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ImportRefs, Kind};
use crate::import::{not_imported, storage_class};
use crate::manifest::types::{
    Bucket, Replication as ManifestReplication, ReplicationDestination, ReplicationFilter, ReplicationRule,
};
use crate::model::identity::IdentityKind;
use crate::model::bucket_arn;
use crate::model::desired::{Context, DesiredError, physical_bucket, role_arn};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationDoc {
    pub role_arn: String,
    /// Sorted by ID.
    pub rules: Vec<ReplicationRuleDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationRuleDoc {
    pub id: String,
    pub priority: i32,
    pub enabled: bool,
    pub prefix: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// ARN of the destination bucket.
    pub destination_bucket_arn: String,
    pub storage_class: Option<String>,
    pub delete_marker_replication: bool,
}

pub struct Replication;

impl Kind for Replication {
    type Value = Option<ReplicationDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Self::Value {
        None
    }

    fn canonical(r: Self::Value) -> Self::Value {
        r.map(|mut r| {
            for rule in &mut r.rules {
                if rule.prefix.as_deref() == Some("") {
                    rule.prefix = None;
                }
            }
            r.rules.sort_by(|a, b| a.id.cmp(&b.id));
            r
        })
    }

    fn desired(ctx: &Context<'_>, logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        if let Some(replication) = &b.replication {
            let place = format!("bucket.{logical}.replication");
            let role_arn = role_arn(ctx, &replication.role, &place)?;
            let mut rules = Vec::new();
            for r in &replication.rules {
                let dest = physical_bucket(ctx, &r.destination.bucket, &place)?;
                let filter = r.filter.clone().unwrap_or_default();
                rules.push(ReplicationRuleDoc {
                    id: r.id.clone(),
                    priority: i32::try_from(r.priority).unwrap_or(i32::MAX),
                    enabled: r.enabled,
                    prefix: filter.prefix,
                    tags: filter.tags.into_iter().collect(),
                    destination_bucket_arn: bucket_arn(&dest),
                    storage_class: r.destination.storage_class.map(|c| c.as_str().to_string()),
                    delete_marker_replication: r.delete_marker_replication,
                });
            }
            return Ok(Some(Some(ReplicationDoc { role_arn, rules })));
        }
        Ok(None)
    }

    fn referenced_buckets(r: &Self::Value) -> Vec<String> {
        r.iter()
            .flat_map(|r| &r.rules)
            .filter_map(|rule| rule.destination_bucket_arn.rsplit(":::").next().map(str::to_string))
            .collect()
    }

    fn named_identities(r: &Self::Value) -> Vec<String> {
        r.iter().map(|r| r.role_arn.clone()).collect()
    }

    fn to_manifest(r: &Self::Value, bucket: &mut Bucket, _physical: &str, refs: &ImportRefs<'_>) -> Result<(), String> {
        let Some(r) = r else { return Ok(()) };
        bucket.replication = Some(to_manifest_replication(r, refs)?);
        Ok(())
    }
}

/// The replication configuration, when its role and every destination are written by this import.
fn to_manifest_replication(r: &ReplicationDoc, refs: &ImportRefs<'_>) -> Result<ManifestReplication, String> {
    let Some(role) = refs.resolved.logical(IdentityKind::IamRole, &r.role_arn) else {
        return Err(not_imported(refs, "replication role", &r.role_arn));
    };
    let mut rules = Vec::new();
    for rule in &r.rules {
        let dest = rule
            .destination_bucket_arn
            .strip_prefix("arn:aws:s3:::")
            .unwrap_or(&rule.destination_bucket_arn);
        let Some(bucket) = refs.names.logical(dest) else {
            return Err(format!(
                "rule {} replicates to bucket {dest}, which this import does not include (import it too)",
                rule.id
            ));
        };
        let priority = u32::try_from(rule.priority)
            .map_err(|_| format!("rule {} has the negative priority {}", rule.id, rule.priority))?;
        let filter = ReplicationFilter {
            prefix: rule.prefix.clone(),
            tags: rule.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        rules.push(ReplicationRule {
            id: rule.id.clone(),
            priority,
            enabled: rule.enabled,
            filter: (filter != ReplicationFilter::default()).then_some(filter),
            destination: ReplicationDestination {
                bucket: bucket.to_string(),
                storage_class: rule.storage_class.as_deref().map(storage_class).transpose()?,
            },
            delete_marker_replication: rule.delete_marker_replication,
        });
    }
    Ok(ManifestReplication {
        role: role.to_string(),
        rules,
    })
}
