//! CORS rules, in the order given (S3 evaluates them first match first).

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Cors,
    name: "cors",
    manifest_field: "cors",
    access: DocAccess {
        kind: DocKind::Cors,
        read_operation: "GetBucketCors",
        read_action: "s3:GetBucketCORS",
        write_actions: &["s3:PutBucketCORS"],
    },
    not_configured: &["NoSuchCORSConfiguration"],
    preconfigured_by_aws: false,
    render_root: "rules",
    after_own: &[],
    after_target: &[],
};
