//! Server access logging. S3 checks that the target bucket's policy lets the logging service write, so a logging change comes after a change to that policy.

use super::{DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Logging,
    name: "logging",
    manifest_field: "logging",
    access: DocAccess {
        kind: DocKind::Logging,
        read_operation: "GetBucketLogging",
        read_action: "s3:GetBucketLogging",
        write_actions: &["s3:PutBucketLogging"],
    },
    not_configured: &[],
    preconfigured_by_aws: false,
    render_root: "",
    after_own: &[],
    after_target: &[DocKind::Policy],
};

use super::{ImportRefs, Kind};
use crate::manifest::types::{Bucket, Logging as ManifestLogging};
use crate::model::LoggingDoc;
use crate::model::desired::{self, Context, DesiredError};

pub struct Logging;

impl Kind for Logging {
    type Value = Option<LoggingDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Option<LoggingDoc> {
        None
    }

    fn desired(ctx: &Context<'_>, logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        let Some(logging) = &b.logging else { return Ok(None) };
        let target = desired::physical_bucket(ctx, &logging.target_bucket, &format!("bucket.{logical}.logging"))?;
        Ok(Some(Some(LoggingDoc {
            target_bucket: target,
            prefix: logging.prefix.clone(),
        })))
    }

    fn referenced_buckets(l: &Self::Value) -> Vec<String> {
        l.iter().map(|l| l.target_bucket.clone()).collect()
    }

    fn to_manifest(l: &Self::Value, bucket: &mut Bucket, _physical: &str, refs: &ImportRefs<'_>) -> Result<(), String> {
        let Some(l) = l else { return Ok(()) };
        let Some(target) = refs.names.logical(&l.target_bucket) else {
            return Err(format!(
                "it logs to bucket {}, which this import does not include (import it too)",
                l.target_bucket
            ));
        };
        bucket.logging = Some(ManifestLogging {
            target_bucket: target.to_string(),
            prefix: l.prefix.clone(),
        });
        Ok(())
    }
}
