//! The bucket policy, normalized. The one document whose Delete call has its own IAM action.

use super::{ApiCall, DocAccess, KindSpec};
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
        write_calls: &[PUT, DELETE],
    },
    not_configured: &["NoSuchBucketPolicy"],
    preconfigured_by_aws: false,
    render_root: "policy",
    after_own: &[],
    after_target: &[],
};

/// Replaces the policy.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketPolicy",
    action: "s3:PutBucketPolicy",
};

/// Removes the policy: the one delete S3 authorises with an action of its own.
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketPolicy",
    action: "s3:DeleteBucketPolicy",
};

use serde_json::Value as Json;

use super::{ImportRefs, Kind};
use crate::manifest::types::Bucket;
use crate::model::desired::{self, Context, DesiredError};

/// Normalized policy JSON (see `model::policy::normalize`); `None` when the bucket has no policy.
pub struct Policy;

impl Kind for Policy {
    type Value = Option<Json>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Option<Json> {
        None
    }

    fn canonical(p: Option<Json>) -> Option<Json> {
        p.map(|v| crate::model::policy::normalize(&v))
    }

    /// A bucket that receives other buckets' server access logs or inventory reports gets the
    /// statements that let the services deliver them, so its policy is managed even when the manifest
    /// writes none. Several kinds feed the policy, so it is assembled by the shared
    /// `model::desired::policy_doc` rather than here.
    fn desired(ctx: &Context<'_>, logical: &str, b: &Bucket) -> Result<Option<Option<Json>>, DesiredError> {
        desired::policy_doc(ctx, logical, b)
    }

    fn named_identities(p: &Option<Json>) -> Vec<String> {
        let mut out = std::collections::BTreeSet::new();
        if let Some(p) = p {
            crate::import::related::iam_principal_arns(p, &mut out);
        }
        out.into_iter().collect()
    }

    fn to_manifest(p: &Option<Json>, bucket: &mut Bucket, physical: &str, refs: &ImportRefs<'_>) -> Result<(), String> {
        let Some(p) = p else { return Ok(()) };
        bucket.policy = Some(crate::import::policy::bucket_policy(p, physical, refs.names, refs.resolved)?);
        Ok(())
    }
}
