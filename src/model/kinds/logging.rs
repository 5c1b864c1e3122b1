//! Server access logging. S3 checks that the target bucket's policy lets the logging service write, so a logging change comes after a change to that policy.

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Logging,
    name: "logging",
    manifest_field: "logging",
    access: DocAccess {
        kind: DocKind::Logging,
        read_operation: "GetBucketLogging",
        read_action: "s3:GetBucketLogging",
        write_actions: &["s3:PutBucketLogging"],
    },
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "",
    after_own: &[],
    after_target: &[DocKind::Policy],
};
