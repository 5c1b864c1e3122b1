//! The bucket policy: GetBucketPolicy / PutBucketPolicy / DeleteBucketPolicy.

use serde_json::Value as Json;

use super::{AwsKind, invalid};
use crate::aws::read::policy_from_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::policy::Policy;
use crate::model::policy;

impl AwsKind for Policy {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Option<Json>, AwsError> {
        match aws.s3(region).get_bucket_policy().bucket(name).send().await {
            Ok(out) => policy_from_sdk(out.policy()).map_err(|detail| AwsError::BadResponse {
                operation: op.operation.to_string(),
                resource: op.resource.clone(),
                detail,
            }),
            Err(e) => Err(aws.error(op, e)),
        }
    }

    async fn put(aws: &Aws, name: &str, region: &str, value: &Option<Json>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        let Some(document) = value else {
            let op = Op::bucket("DeleteBucketPolicy", "s3:DeleteBucketPolicy", name);
            let result = s3.delete_bucket_policy().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        };
        let op = Op::bucket("PutBucketPolicy", "s3:PutBucketPolicy", name);
        let text = serde_json::to_string(&policy::normalize(document)).map_err(|e| invalid(&op, e))?;
        let result = s3.put_bucket_policy().bucket(name).policy(text).send().await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}
