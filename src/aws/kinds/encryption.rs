//! Default encryption: GetBucketEncryption / PutBucketEncryption / DeleteBucketEncryption.

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use super::non_empty;
use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::encryption::{self, Encryption, EncryptionDoc};

impl AwsKind for Encryption {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Option<EncryptionDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_encryption().bucket(name).send().await;
        out.map(|out| encryption_from_sdk(out.server_side_encryption_configuration()))
            .map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, value: &Option<EncryptionDoc>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        let Some(encryption) = value else {
            let op = Op::write(&encryption::DELETE, name);
            let result = s3.delete_bucket_encryption().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        };
        let op = Op::write(&encryption::PUT, name);
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

/// The first rule with a default encryption is the bucket's default encryption (S3 allows one rule).
fn encryption_from_sdk(config: Option<&ServerSideEncryptionConfiguration>) -> Option<EncryptionDoc> {
    let rule = config?
        .rules()
        .iter()
        .find(|r| r.apply_server_side_encryption_by_default().is_some())?;
    let default = rule.apply_server_side_encryption_by_default()?;
    Some(EncryptionDoc {
        algorithm: default.sse_algorithm().as_str().to_string(),
        kms_key_id: non_empty(default.kms_master_key_id()),
        bucket_key: rule.bucket_key_enabled().unwrap_or(false),
    })
}

fn encryption_to_sdk(doc: &EncryptionDoc) -> Result<ServerSideEncryptionConfiguration, String> {
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(doc.algorithm.as_str()))
        .set_kms_master_key_id(doc.kms_key_id.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(doc.bucket_key)
        .build();
    ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trips() {
        let encryption = EncryptionDoc {
            algorithm: "aws:kms".into(),
            kms_key_id: Some("alias/data".into()),
            bucket_key: true,
        };
        assert_eq!(
            encryption_from_sdk(Some(&encryption_to_sdk(&encryption).unwrap())),
            Some(encryption)
        );
    }
}
