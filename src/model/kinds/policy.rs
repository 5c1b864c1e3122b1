//! The bucket policy, normalized. The one document whose Delete call has its own IAM action.

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Policy,
    name: "policy",
    manifest_field: "policy",
    access: DocAccess {
        kind: DocKind::Policy,
        read_operation: "GetBucketPolicy",
        read_action: "s3:GetBucketPolicy",
        write_actions: &["s3:DeleteBucketPolicy", "s3:PutBucketPolicy"],
    },
    not_configured: &["NoSuchBucketPolicy"],
    preconfigured_by_aws: false,
    render_root: "policy",
    after_own: &[],
    after_target: &[],
};
