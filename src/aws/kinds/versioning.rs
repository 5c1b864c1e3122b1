//! Versioning: GetBucketVersioning / PutBucketVersioning (there is no delete: S3 cannot return a bucket
//! to unversioned).

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use super::{AwsKind, invalid};
use crate::aws::read::versioning_from_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::VersioningState;
use crate::model::kinds::versioning::Versioning;

impl AwsKind for Versioning {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<VersioningState, AwsError> {
        let out = aws.s3(region).get_bucket_versioning().bucket(name).send().await;
        out.map(|out| versioning_from_sdk(out.status())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, state: &VersioningState) -> Result<(), AwsError> {
        let op = Op::bucket("PutBucketVersioning", "s3:PutBucketVersioning", name);
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
