//! The bucket policy: GetBucketPolicy / PutBucketPolicy / DeleteBucketPolicy.

use serde_json::Value as Json;

use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::policy::{self, Policy};
use crate::model::policy::normalize;

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
            let op = Op::write(&policy::DELETE, name);
            let result = s3.delete_bucket_policy().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        };
        let op = Op::write(&policy::PUT, name);
        let text = serde_json::to_string(&normalize(document)).map_err(|e| invalid(&op, e))?;
        let result = s3.put_bucket_policy().bucket(name).policy(text).send().await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

/// Parses the policy S3 hands back; `Err` carries why it is not JSON.
fn policy_from_sdk(policy: Option<&str>) -> Result<Option<serde_json::Value>, String> {
    match policy {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| format!("the bucket policy is not valid JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_s3_answers_is_parsed_and_blank_is_none() {
        assert_eq!(policy_from_sdk(None), Ok(None));
        assert_eq!(policy_from_sdk(Some("  ")), Ok(None));
        assert_eq!(
            policy_from_sdk(Some(r#"{"Version":"2012-10-17","Statement":[]}"#)),
            Ok(Some(serde_json::json!({"Version": "2012-10-17", "Statement": []})))
        );
        assert!(policy_from_sdk(Some("{not json")).is_err());
    }
}
