//! Lifecycle rules, sorted by ID.

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Lifecycle,
    name: "lifecycle",
    manifest_field: "lifecycle",
    access: DocAccess {
        kind: DocKind::Lifecycle,
        read_operation: "GetBucketLifecycleConfiguration",
        read_action: "s3:GetLifecycleConfiguration",
        write_actions: &["s3:PutLifecycleConfiguration"],
    },
    not_configured: &["NoSuchLifecycleConfiguration"],
    preconfigured_by_aws: false,
    render_root: "rules",
    after_own: &[],
    after_target: &[],
};
