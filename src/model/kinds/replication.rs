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
