//! The bucket's tag set.

use super::{ApiCall, DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Tags,
    name: "tags",
    manifest_field: "tags",
    access: DocAccess {
        kind: DocKind::Tags,
        read_operation: "GetBucketTagging",
        read_action: "s3:GetBucketTagging",
        write_actions: &["s3:PutBucketTagging"],
        write_calls: &[PUT, DELETE],
    },
    not_configured: &["NoSuchTagSet", "NoSuchTagSetError"],
    preconfigured_by_aws: false,
    render_root: "tags",
    after_own: &[],
    after_target: &[],
};

/// Replaces the tag set.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketTagging",
    action: "s3:PutBucketTagging",
};

/// Removes every tag (S3 authorises the delete with the put action).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketTagging",
    action: "s3:PutBucketTagging",
};

use std::collections::BTreeMap;

use super::{ImportRefs, Kind};
use crate::manifest::types::Bucket;
use crate::model::desired::{Context, DesiredError};

/// "Not configured" is the empty set.
pub struct Tags;

impl Kind for Tags {
    type Value = BTreeMap<String, String>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Self::Value {
        BTreeMap::new()
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        Ok(b.tags.as_ref().map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }

    fn to_manifest(tags: &Self::Value, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        if let Some(k) = tags.keys().find(|k| k.to_ascii_lowercase().starts_with("aws:")) {
            return Err(format!("tag `{k}` has the reserved `aws:` prefix, which only AWS may set"));
        }
        crate::import::refuse_env_text(tags.values().chain(tags.keys()))?;
        bucket.tags = Some(tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        Ok(())
    }
}
