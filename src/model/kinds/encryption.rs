//! Default encryption (SSE-S3 or SSE-KMS, with or without a bucket key).

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Encryption,
    name: "encryption",
    manifest_field: "encryption",
    access: DocAccess {
        kind: DocKind::Encryption,
        read_operation: "GetBucketEncryption",
        read_action: "s3:GetEncryptionConfiguration",
        write_actions: &["s3:PutEncryptionConfiguration"],
    },
    not_configured: &["ServerSideEncryptionConfigurationNotFoundError"],
    preconfigured_by_aws: true,
    render_root: "",
    after_own: &[],
    after_target: &[],
};
