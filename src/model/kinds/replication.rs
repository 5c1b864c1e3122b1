//! Replication. S3 refuses it unless both the bucket and each destination are versioned, so it comes after versioning changes on both sides.

use super::{DocAccess, KindSpec};
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

use super::{ImportRefs, Kind};
use crate::manifest::types::Bucket;
use crate::model::ReplicationDoc;
use crate::model::desired::{self, Context, DesiredError};

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
        desired::replication_doc(ctx, logical, b)
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
        bucket.replication = Some(crate::import::replication(r, refs)?);
        Ok(())
    }
}
