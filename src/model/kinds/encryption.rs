//! Default encryption (SSE-S3 or SSE-KMS, with or without a bucket key).

use super::{ApiCall, DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Encryption,
    name: "encryption",
    manifest_field: "encryption",
    access: DocAccess {
        kind: DocKind::Encryption,
        read_operation: "GetBucketEncryption",
        read_action: "s3:GetEncryptionConfiguration",
        write_actions: &["s3:PutEncryptionConfiguration"],
        write_calls: &[PUT, DELETE],
    },
    not_configured: &["ServerSideEncryptionConfigurationNotFoundError"],
    preconfigured_by_aws: true,
    render_root: "",
    after_own: &[],
    after_target: &[],
};

/// Sets the default encryption.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketEncryption",
    action: "s3:PutEncryptionConfiguration",
};

/// Removes it (S3 authorises the delete with the put action).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketEncryption",
    action: "s3:PutEncryptionConfiguration",
};

use serde::{Deserialize, Serialize};

use super::{ImportRefs, Kind};
use crate::manifest::types::{Bucket, Encryption as ManifestEncryption, SseAlgorithm};
use crate::model::desired::{Context, DesiredError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionDoc {
    /// `AES256` or `aws:kms` (or `aws:kms:dsse` when observed).
    pub algorithm: String,
    pub kms_key_id: Option<String>,
    pub bucket_key: bool,
}

/// `None`: no default encryption configured (moto's answer for a new bucket; AWS encrypts with SSE-S3).
pub struct Encryption;

impl Kind for Encryption {
    type Value = Option<EncryptionDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Option<EncryptionDoc> {
        None
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        Ok(b.encryption.as_ref().map(|e| {
            let algorithm = serde_json::to_value(e.algorithm)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            Some(EncryptionDoc {
                algorithm,
                kms_key_id: e.kms_key_id.clone(),
                bucket_key: e.bucket_key,
            })
        }))
    }

    /// SSE-S3 without a bucket key, or none at all: AWS encrypts every new object with SSE-S3 since
    /// 2023; some S3-compatible servers report no configuration.
    fn is_aws_default(e: &Self::Value) -> bool {
        e.as_ref()
            .is_none_or(|e| e.algorithm == "AES256" && e.kms_key_id.is_none() && !e.bucket_key)
    }

    fn to_manifest(e: &Self::Value, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        let Some(e) = e else { return Ok(()) };
        let algorithm = match e.algorithm.as_str() {
            "AES256" => SseAlgorithm::Aes256,
            "aws:kms" => SseAlgorithm::AwsKms,
            other => return Err(format!("the manifest has no encryption algorithm `{other}`")),
        };
        if algorithm == SseAlgorithm::Aes256 && e.bucket_key {
            return Err("a bucket key with AES256 cannot be written (the manifest allows it only with aws:kms)".into());
        }
        bucket.encryption = Some(ManifestEncryption {
            algorithm,
            kms_key_id: e.kms_key_id.clone(),
            bucket_key: e.bucket_key,
        });
        Ok(())
    }
}
