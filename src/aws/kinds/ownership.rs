//! Object ownership: GetBucketOwnershipControls / PutBucketOwnershipControls / DeleteBucketOwnershipControls.

use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};

use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::ownership::{self, Ownership};

impl AwsKind for Ownership {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Option<String>, AwsError> {
        let out = aws.s3(region).get_bucket_ownership_controls().bucket(name).send().await;
        out.map(|out| ownership_from_sdk(out.ownership_controls())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, value: &Option<String>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        let Some(ownership) = value else {
            let op = Op::write(&ownership::DELETE, name);
            let result = s3.delete_bucket_ownership_controls().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        };
        let op = Op::write(&ownership::PUT, name);
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

fn ownership_from_sdk(controls: Option<&OwnershipControls>) -> Option<String> {
    controls?
        .rules()
        .first()
        .map(|r| r.object_ownership().as_str().to_string())
}

fn ownership_to_sdk(ownership: &str) -> Result<OwnershipControls, String> {
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(ownership))
        .build()
        .map_err(|e| e.to_string())?;
    OwnershipControls::builder()
        .rules(rule)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_round_trips() {
        let ownership = ownership_to_sdk("BucketOwnerEnforced").unwrap();
        assert_eq!(
            ownership_from_sdk(Some(&ownership)).as_deref(),
            Some("BucketOwnerEnforced")
        );
    }
}
