//! Versioning: Enabled or Suspended; a bucket that was never versioned reads as unversioned.

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Versioning,
    name: "versioning",
    manifest_field: "versioning",
    access: DocAccess {
        kind: DocKind::Versioning,
        read_operation: "GetBucketVersioning",
        read_action: "s3:GetBucketVersioning",
        write_actions: &["s3:PutBucketVersioning"],
    },
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "versioning",
    after_own: &[],
    after_target: &[],
};
