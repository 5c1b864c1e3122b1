//! Object ownership: GetBucketOwnershipControls / PutBucketOwnershipControls / DeleteBucketOwnershipControls.

use super::{AwsKind, invalid};
use crate::aws::read::ownership_from_sdk;
use crate::aws::write::ownership_to_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::ownership::Ownership;

impl AwsKind for Ownership {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Option<String>, AwsError> {
        let out = aws.s3(region).get_bucket_ownership_controls().bucket(name).send().await;
        out.map(|out| ownership_from_sdk(out.ownership_controls())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, value: &Option<String>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        let Some(ownership) = value else {
            let op = Op::bucket("DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls", name);
            let result = s3.delete_bucket_ownership_controls().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        };
        let op = Op::bucket("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls", name);
        let controls = ownership_to_sdk(ownership).map_err(|e| invalid(&op, e))?;
        let result = s3
            .put_bucket_ownership_controls()
            .bucket(name)
            .ownership_controls(controls)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}
