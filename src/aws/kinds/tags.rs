//! The bucket's tags: GetBucketTagging / PutBucketTagging / DeleteBucketTagging.

use std::collections::BTreeMap;

use aws_sdk_s3::types::Tagging;

use super::{AwsKind, invalid};
use crate::aws::read::tags_from_sdk;
use crate::aws::write::tags_to_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::tags::Tags;

impl AwsKind for Tags {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<BTreeMap<String, String>, AwsError> {
        let out = aws.s3(region).get_bucket_tagging().bucket(name).send().await;
        out.map(|out| tags_from_sdk(out.tag_set())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        if tags.is_empty() {
            let op = Op::bucket("DeleteBucketTagging", "s3:PutBucketTagging", name);
            let result = s3.delete_bucket_tagging().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        }
        let op = Op::bucket("PutBucketTagging", "s3:PutBucketTagging", name);
        let tagging = Tagging::builder()
            .set_tag_set(Some(tags_to_sdk(tags).map_err(|e| invalid(&op, e))?))
            .build()
            .map_err(|e| invalid(&op, e))?;
        let result = s3.put_bucket_tagging().bucket(name).tagging(tagging).send().await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}
