//! CORS rules: GetBucketCors / PutBucketCors / DeleteBucketCors.

use super::{AwsKind, invalid};
use crate::aws::read::cors_from_sdk;
use crate::aws::write::cors_to_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::CorsRuleDoc;
use crate::model::kinds::cors::Cors;

impl AwsKind for Cors {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Vec<CorsRuleDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_cors().bucket(name).send().await;
        out.map(|out| cors_from_sdk(out.cors_rules())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, rules: &Vec<CorsRuleDoc>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        if rules.is_empty() {
            let op = Op::bucket("DeleteBucketCors", "s3:PutBucketCORS", name);
            let result = s3.delete_bucket_cors().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        }
        let op = Op::bucket("PutBucketCors", "s3:PutBucketCORS", name);
        let config = cors_to_sdk(rules).map_err(|e| invalid(&op, e))?;
        let result = s3
            .put_bucket_cors()
            .bucket(name)
            .cors_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}
