//! The bucket's public access block: four switches, all off when not configured.

use super::{ApiCall, DocAccess, KindSpec};
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
        write_calls: &[PUT, DELETE],
    },
    not_configured: &["NoSuchPublicAccessBlockConfiguration"],
    preconfigured_by_aws: true,
    render_root: "",
    after_own: &[],
    after_target: &[],
};

/// Sets the four switches.
pub const PUT: ApiCall = ApiCall {
    operation: "PutPublicAccessBlock",
    action: "s3:PutBucketPublicAccessBlock",
};

/// Removes the block (S3 authorises the delete with the put action).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeletePublicAccessBlock",
    action: "s3:PutBucketPublicAccessBlock",
};

use serde::{Deserialize, Serialize};

use super::{ImportRefs, Kind};
use crate::manifest::types::{Bucket, PublicAccessBlock as ManifestPublicAccessBlock};
use crate::model::desired::{Context, DesiredError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlockDoc {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// "Not configured" is all four switches off.
pub struct PublicAccessBlock;

impl Kind for PublicAccessBlock {
    type Value = PublicAccessBlockDoc;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> PublicAccessBlockDoc {
        PublicAccessBlockDoc::default()
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<PublicAccessBlockDoc>, DesiredError> {
        Ok(b.public_access_block.map(|p| PublicAccessBlockDoc {
            block_public_acls: p.block_public_acls,
            ignore_public_acls: p.ignore_public_acls,
            block_public_policy: p.block_public_policy,
            restrict_public_buckets: p.restrict_public_buckets,
        }))
    }

    /// All four switches on: the default of new buckets since April 2023.
    fn is_aws_default(p: &PublicAccessBlockDoc) -> bool {
        p.block_public_acls && p.ignore_public_acls && p.block_public_policy && p.restrict_public_buckets
    }

    fn to_manifest(p: &PublicAccessBlockDoc, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        bucket.public_access_block = Some(ManifestPublicAccessBlock {
            block_public_acls: p.block_public_acls,
            ignore_public_acls: p.ignore_public_acls,
            block_public_policy: p.block_public_policy,
            restrict_public_buckets: p.restrict_public_buckets,
        });
        Ok(())
    }
}
