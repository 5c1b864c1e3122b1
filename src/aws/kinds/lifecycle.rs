//! Lifecycle rules: GetBucketLifecycleConfiguration / PutBucketLifecycleConfiguration / DeleteBucketLifecycle.

use super::{AwsKind, invalid};
use crate::aws::read::lifecycle_from_sdk;
use crate::aws::write::lifecycle_to_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::LifecycleRuleDoc;
use crate::model::kinds::lifecycle::Lifecycle;

impl AwsKind for Lifecycle {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Vec<LifecycleRuleDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_lifecycle_configuration().bucket(name).send().await;
        out.map(|out| lifecycle_from_sdk(out.rules())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, rules: &Vec<LifecycleRuleDoc>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        if rules.is_empty() {
            let op = Op::bucket("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration", name);
            let result = s3.delete_bucket_lifecycle().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        }
        let op = Op::bucket("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration", name);
        let config = lifecycle_to_sdk(rules).map_err(|e| invalid(&op, e))?;
        let result = s3
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}
