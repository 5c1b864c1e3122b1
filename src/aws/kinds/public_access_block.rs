//! The bucket's public access block: GetPublicAccessBlock / PutPublicAccessBlock / DeletePublicAccessBlock.

use aws_sdk_s3::types::PublicAccessBlockConfiguration;

use super::AwsKind;
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::public_access_block::{self, PublicAccessBlock, PublicAccessBlockDoc};

impl AwsKind for PublicAccessBlock {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<PublicAccessBlockDoc, AwsError> {
        let out = aws.s3(region).get_public_access_block().bucket(name).send().await;
        out.map(|out| public_access_block_from_sdk(out.public_access_block_configuration()))
            .map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, block: &PublicAccessBlockDoc) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        if *block == PublicAccessBlockDoc::default() {
            let op = Op::write(&public_access_block::DELETE, name);
            let result = s3.delete_public_access_block().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        }
        let op = Op::write(&public_access_block::PUT, name);
        let result = s3
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(public_access_block_to_sdk(block))
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

fn public_access_block_from_sdk(config: Option<&PublicAccessBlockConfiguration>) -> PublicAccessBlockDoc {
    let Some(c) = config else {
        return PublicAccessBlockDoc::default();
    };
    PublicAccessBlockDoc {
        block_public_acls: c.block_public_acls().unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
        block_public_policy: c.block_public_policy().unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
    }
}

fn public_access_block_to_sdk(doc: &PublicAccessBlockDoc) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(doc.block_public_acls)
        .ignore_public_acls(doc.ignore_public_acls)
        .block_public_policy(doc.block_public_policy)
        .restrict_public_buckets(doc.restrict_public_buckets)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_access_block_round_trips() {
        let block = PublicAccessBlockDoc {
            block_public_acls: true,
            ignore_public_acls: false,
            block_public_policy: true,
            restrict_public_buckets: false,
        };
        assert_eq!(
            public_access_block_from_sdk(Some(&public_access_block_to_sdk(&block))),
            block
        );
    }
}
