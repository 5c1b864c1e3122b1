//! Versioning: Enabled or Suspended; a bucket that was never versioned reads as unversioned.

use super::{ApiCall, DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Versioning,
    name: "versioning",
    manifest_field: "versioning",
    access: DocAccess {
        kind: DocKind::Versioning,
        read_operation: "GetBucketVersioning",
        read_action: "s3:GetBucketVersioning",
        write_actions: &["s3:PutBucketVersioning"],
        write_calls: &[PUT],
    },
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "versioning",
    after_own: &[],
    after_target: &[],
};

/// Sets Enabled or Suspended (there is no call that returns a bucket to unversioned).
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketVersioning",
    action: "s3:PutBucketVersioning",
};

use serde::{Deserialize, Serialize};

use super::{ImportRefs, Kind};
use crate::manifest::types::{Bucket, Versioning as ManifestVersioning};
use crate::model::desired::{Context, DesiredError};

/// Versioning as S3 reports it: a bucket that was never versioned differs from a suspended one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersioningState {
    Unversioned,
    Enabled,
    Suspended,
}

pub struct Versioning;

impl Kind for Versioning {
    type Value = VersioningState;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> VersioningState {
        VersioningState::Unversioned
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<VersioningState>, DesiredError> {
        Ok(b.versioning.map(|v| match v {
            ManifestVersioning::Enabled => VersioningState::Enabled,
            ManifestVersioning::Suspended => VersioningState::Suspended,
        }))
    }

    fn to_manifest(v: &VersioningState, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        bucket.versioning = match v {
            VersioningState::Enabled => Some(ManifestVersioning::Enabled),
            VersioningState::Suspended => Some(ManifestVersioning::Suspended),
            VersioningState::Unversioned => None,
        };
        Ok(())
    }
}
