//! Object ownership controls (the manifest's `object_ownership`).

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Ownership,
    name: "ownership",
    manifest_field: "object_ownership",
    access: DocAccess {
        kind: DocKind::Ownership,
        read_operation: "GetBucketOwnershipControls",
        read_action: "s3:GetBucketOwnershipControls",
        write_actions: &["s3:PutBucketOwnershipControls"],
    },
    not_configured: &["OwnershipControlsNotFoundError"],
    preconfigured_by_aws: true,
    render_root: "object_ownership",
    after_own: &[],
    after_target: &[],
};
