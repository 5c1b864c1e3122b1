//! The bucket's public access block: GetPublicAccessBlock / PutPublicAccessBlock / DeletePublicAccessBlock.

use super::AwsKind;
use crate::aws::read::public_access_block_from_sdk;
use crate::aws::write::public_access_block_to_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::PublicAccessBlockDoc;
use crate::model::kinds::public_access_block::PublicAccessBlock;

impl AwsKind for PublicAccessBlock {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<PublicAccessBlockDoc, AwsError> {
        let out = aws.s3(region).get_public_access_block().bucket(name).send().await;
        out.map(|out| public_access_block_from_sdk(out.public_access_block_configuration()))
            .map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, block: &PublicAccessBlockDoc) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        if *block == PublicAccessBlockDoc::default() {
            let op = Op::bucket("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock", name);
            let result = s3.delete_public_access_block().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        }
        let op = Op::bucket("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", name);
        let result = s3
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(public_access_block_to_sdk(block))
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}
