//! The bucket's tag set.

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Tags,
    name: "tags",
    manifest_field: "tags",
    access: DocAccess {
        kind: DocKind::Tags,
        read_operation: "GetBucketTagging",
        read_action: "s3:GetBucketTagging",
        write_actions: &["s3:PutBucketTagging"],
    },
    not_configured: &["NoSuchTagSet", "NoSuchTagSetError"],
    preconfigured_by_aws: false,
    render_root: "tags",
    after_own: &[],
    after_target: &[],
};
