//! Versioning: GetBucketVersioning / PutBucketVersioning (there is no delete: S3 cannot return a bucket
//! to unversioned).

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::versioning::{self, Versioning, VersioningState};

impl AwsKind for Versioning {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<VersioningState, AwsError> {
        let out = aws.s3(region).get_bucket_versioning().bucket(name).send().await;
        out.map(|out| versioning_from_sdk(out.status())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, state: &VersioningState) -> Result<(), AwsError> {
        let op = Op::write(&versioning::PUT, name);
        let status = match state {
            VersioningState::Enabled => BucketVersioningStatus::Enabled,
            VersioningState::Suspended => BucketVersioningStatus::Suspended,
            VersioningState::Unversioned => {
                return Err(invalid(
                    &op,
                    "S3 cannot return a bucket to unversioned; only Enabled or Suspended can be written",
                ));
            }
        };
        let config = VersioningConfiguration::builder().status(status).build();
        let result = aws
            .s3(region)
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

fn versioning_from_sdk(status: Option<&BucketVersioningStatus>) -> VersioningState {
    match status {
        Some(BucketVersioningStatus::Enabled) => VersioningState::Enabled,
        Some(BucketVersioningStatus::Suspended) => VersioningState::Suspended,
        // A bucket that was never versioned has no <Status>; unknown future values are read the same
        // way rather than failing the whole plan.
        _ => VersioningState::Unversioned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioning_round_trips() {
        for state in [VersioningState::Enabled, VersioningState::Suspended] {
            let status = match state {
                VersioningState::Enabled => BucketVersioningStatus::Enabled,
                _ => BucketVersioningStatus::Suspended,
            };
            assert_eq!(versioning_from_sdk(Some(&status)), state);
        }
        assert_eq!(versioning_from_sdk(None), VersioningState::Unversioned);
    }
}
