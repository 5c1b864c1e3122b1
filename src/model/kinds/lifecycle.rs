//! Lifecycle rules, sorted by ID.

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Lifecycle,
    name: "lifecycle",
    manifest_field: "lifecycle",
    access: DocAccess {
        kind: DocKind::Lifecycle,
        read_operation: "GetBucketLifecycleConfiguration",
        read_action: "s3:GetLifecycleConfiguration",
        write_actions: &["s3:PutLifecycleConfiguration"],
    },
    not_configured: &["NoSuchLifecycleConfiguration"],
    preconfigured_by_aws: false,
    render_root: "rules",
    after_own: &[],
    after_target: &[],
};

use super::{ImportRefs, Kind};
use crate::manifest::types::Bucket;
use crate::model::LifecycleRuleDoc;
use crate::model::desired::{self, Context, DesiredError};

/// Sorted by rule ID; "not configured" is empty.
pub struct Lifecycle;

impl Kind for Lifecycle {
    type Value = Vec<LifecycleRuleDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Self::Value {
        Vec::new()
    }

    fn canonical(mut rules: Self::Value) -> Self::Value {
        for r in &mut rules {
            r.canonicalize();
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        rules
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        Ok(b.lifecycle.as_ref().map(|rules| rules.iter().map(desired::lifecycle_rule).collect()))
    }

    fn to_manifest(rules: &Self::Value, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        bucket.lifecycle = Some(rules.iter().map(crate::import::lifecycle_rule).collect::<Result<_, _>>()?);
        Ok(())
    }
}
