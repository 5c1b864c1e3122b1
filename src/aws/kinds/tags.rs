//! The bucket's tags: GetBucketTagging / PutBucketTagging / DeleteBucketTagging.

use std::collections::BTreeMap;


use aws_sdk_s3::types::{Tag, Tagging};
use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::tags::{self, Tags};

impl AwsKind for Tags {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<BTreeMap<String, String>, AwsError> {
        let out = aws.s3(region).get_bucket_tagging().bucket(name).send().await;
        out.map(|out| tags_from_sdk(out.tag_set())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        if tags.is_empty() {
            let op = Op::write(&tags::DELETE, name);
            let result = s3.delete_bucket_tagging().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        }
        let op = Op::write(&tags::PUT, name);
        let tagging = Tagging::builder()
            .set_tag_set(Some(tags_to_sdk(tags).map_err(|e| invalid(&op, e))?))
            .build()
            .map_err(|e| invalid(&op, e))?;
        let result = s3.put_bucket_tagging().bucket(name).tagging(tagging).send().await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

pub(super) fn tags_from_sdk(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

pub(super) fn tags_to_sdk(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, String> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        let tags: BTreeMap<String, String> = [("team", "data"), ("tier", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(tags_from_sdk(&tags_to_sdk(&tags).unwrap()), tags);
    }
}
