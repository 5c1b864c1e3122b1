//! Default encryption: GetBucketEncryption / PutBucketEncryption / DeleteBucketEncryption.

use super::{AwsKind, invalid};
use crate::aws::read::encryption_from_sdk;
use crate::aws::write::encryption_to_sdk;
use crate::aws::{Aws, AwsError, Op};
use crate::model::EncryptionDoc;
use crate::model::kinds::encryption::Encryption;

impl AwsKind for Encryption {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Option<EncryptionDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_encryption().bucket(name).send().await;
        out.map(|out| encryption_from_sdk(out.server_side_encryption_configuration()))
            .map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, value: &Option<EncryptionDoc>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        let Some(encryption) = value else {
            let op = Op::bucket("DeleteBucketEncryption", "s3:PutEncryptionConfiguration", name);
            let result = s3.delete_bucket_encryption().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        };
        let op = Op::bucket("PutBucketEncryption", "s3:PutEncryptionConfiguration", name);
        let config = encryption_to_sdk(encryption).map_err(|e| invalid(&op, e))?;
        let result = s3
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}
