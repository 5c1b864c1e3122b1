//! The bucket's public access block: four switches, all off when not configured.

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::PublicAccessBlock,
    name: "public_access_block",
    manifest_field: "public_access_block",
    access: DocAccess {
        kind: DocKind::PublicAccessBlock,
        read_operation: "GetPublicAccessBlock",
        read_action: "s3:GetBucketPublicAccessBlock",
        write_actions: &["s3:PutBucketPublicAccessBlock"],
    },
    not_configured: &["NoSuchPublicAccessBlockConfiguration"],
    preconfigured_by_aws: true,
    render_root: "",
    after_own: &[],
    after_target: &[],
};
