//! Transfer Acceleration: on or off. A bucket that never had it and one where it is suspended behave
//! alike, so both read as off; S3 refuses it on bucket names with dots.

use super::{ApiCall, DocAccess, ImportRefs, Kind, KindProblem, KindSpec};
use crate::manifest::diagnostic::Problem;
use crate::manifest::types::Bucket;
use crate::model::DocKind;
use crate::model::desired::{Context, DesiredError};

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::TransferAcceleration,
    name: "transfer_acceleration",
    manifest_field: "transfer_acceleration",
    access: DocAccess {
        kind: DocKind::TransferAcceleration,
        read_operation: "GetBucketAccelerateConfiguration",
        read_action: "s3:GetAccelerateConfiguration",
        write_actions: &["s3:PutAccelerateConfiguration"],
        write_calls: &[PUT],
    },
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "transfer_acceleration",
    after_own: &[],
    after_target: &[],
};

/// Enables or suspends acceleration (there is no delete call).
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketAccelerateConfiguration",
    action: "s3:PutAccelerateConfiguration",
};

/// `true` when Transfer Acceleration is enabled.
pub struct TransferAcceleration;

impl Kind for TransferAcceleration {
    type Value = bool;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> bool {
        false
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<bool>, DesiredError> {
        Ok(b.transfer_acceleration)
    }

    fn to_manifest(enabled: &bool, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        bucket.transfer_acceleration = Some(*enabled);
        Ok(())
    }

    fn check(own: &Bucket, _effective: &Bucket) -> Vec<KindProblem> {
        if own.transfer_acceleration == Some(true) && own.name.contains('.') {
            return vec![KindProblem {
                problem: Problem::error(
                    "transfer-acceleration",
                    format!(
                        "S3 refuses Transfer Acceleration on bucket `{}`: the name contains a dot",
                        own.name
                    ),
                )
                .with_hint("use a bucket name without dots, or leave `transfer_acceleration` out"),
                pointer: "transfer_acceleration".into(),
                on_key: true,
            }];
        }
        Vec::new()
    }
}
