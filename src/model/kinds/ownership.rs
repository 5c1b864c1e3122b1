//! Object ownership controls (the manifest's `object_ownership`).

use super::{ApiCall, DocAccess, KindSpec};
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
        write_calls: &[PUT, DELETE],
    },
    not_configured: &["OwnershipControlsNotFoundError"],
    preconfigured_by_aws: true,
    render_root: "object_ownership",
    after_own: &[],
    after_target: &[],
};

/// Sets the object ownership.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketOwnershipControls",
    action: "s3:PutBucketOwnershipControls",
};

/// Removes the ownership controls (S3 authorises the delete with the put action).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketOwnershipControls",
    action: "s3:PutBucketOwnershipControls",
};

use super::{ImportRefs, Kind};
use crate::manifest::types::{Bucket, ObjectOwnership};
use crate::model::desired::{Context, DesiredError};

/// `None`: no ownership controls (ACLs enabled, the pre-2023 behaviour).
pub struct Ownership;

impl Kind for Ownership {
    type Value = Option<String>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Option<String> {
        None
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<Option<String>>, DesiredError> {
        Ok(b.object_ownership.map(|o| {
            serde_json::to_value(o)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
        }))
    }

    /// `BucketOwnerEnforced` (the default of new buckets since April 2023), or no ownership controls
    /// at all, which the manifest cannot write.
    fn is_aws_default(o: &Option<String>) -> bool {
        o.as_deref().is_none_or(|o| o == "BucketOwnerEnforced")
    }

    fn to_manifest(o: &Option<String>, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        bucket.object_ownership = match o.as_deref() {
            Some("BucketOwnerPreferred") => Some(ObjectOwnership::BucketOwnerPreferred),
            Some("ObjectWriter") => Some(ObjectOwnership::ObjectWriter),
            Some("BucketOwnerEnforced") | None => None,
            Some(other) => return Err(format!("the manifest has no object ownership `{other}`")),
        };
        Ok(())
    }
}
