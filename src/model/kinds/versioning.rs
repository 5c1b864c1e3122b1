//! Versioning: Enabled or Suspended; a bucket that was never versioned reads as unversioned.

use super::{DocAccess, KindSpec};
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
    },
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "versioning",
    after_own: &[],
    after_target: &[],
};

use super::{ImportRefs, Kind};
use crate::manifest::types::{Bucket, Versioning as ManifestVersioning};
use crate::model::VersioningState;
use crate::model::desired::{Context, DesiredError};

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
