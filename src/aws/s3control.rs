//! The account's settings in S3 Control: its public access block (`account.public_access_block`).
//!
//! Reads return the canonical value the manifest side builds; "not configured" is AWS's
//! `NoSuchPublicAccessBlockConfiguration`, read as no value at all. Writes are idempotent (a put
//! replaces the whole configuration, a delete of nothing is still nothing), so the executor may retry.

use aws_sdk_s3control::types::PublicAccessBlockConfiguration;

use super::identity::{Target, Write};
use super::probe::IdentityCall;
use super::{Aws, AwsError, Op};
use crate::model::PublicAccessBlockDoc;
use crate::model::identity::{IdentityDoc, IdentityKind, ObservedIdentity};
use crate::plan::Action;

/// The write and the delete, with the IAM action that authorises them (both are listed in
/// `probe::IDENTITY_ACCESS`; S3 Control has no separate action for the delete).
const ACCOUNT_PAB_WRITE: (&str, &str) = ("PutPublicAccessBlock", "s3:PutAccountPublicAccessBlock");
const ACCOUNT_PAB_DELETE: (&str, &str) = ("DeletePublicAccessBlock", "s3:PutAccountPublicAccessBlock");

/// The code S3 Control answers with when the account has no public access block.
const NOT_CONFIGURED: &str = "NoSuchPublicAccessBlockConfiguration";

/// Reads the account's public access block; `None` when the account has none. `target.name` is the
/// account ID.
pub async fn read(aws: &Aws, target: Target<'_>) -> Result<Option<ObservedIdentity>, AwsError> {
    let call = IdentityCall::GetAccountPublicAccessBlock;
    let op = Op::new(call.operation(), call.action(), target.arn);
    let answer = aws
        .s3control()
        .get_public_access_block()
        .account_id(target.name)
        .send()
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(e) => {
            let err = aws.error(&op, e);
            return if err.code() == Some(NOT_CONFIGURED) {
                Ok(None)
            } else {
                Err(err)
            };
        }
    };
    let c = out.public_access_block_configuration();
    let doc = PublicAccessBlockDoc {
        block_public_acls: c.and_then(|c| c.block_public_acls()).unwrap_or(false),
        ignore_public_acls: c.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
        block_public_policy: c.and_then(|c| c.block_public_policy()).unwrap_or(false),
        restrict_public_buckets: c.and_then(|c| c.restrict_public_buckets()).unwrap_or(false),
    };
    Ok(Some(ObservedIdentity {
        main: IdentityDoc::AccountPublicAccessBlock(doc),
        parts: Default::default(),
        pending_subscriptions: Vec::new(),
        other_inline: Vec::new(),
    }))
}

/// Performs one change on the account's public access block.
pub async fn write(aws: &Aws, w: &Write<'_>) -> Result<Option<IdentityDoc>, AwsError> {
    let t = w.target;
    if !w.action.calls_aws() {
        return Ok(None);
    }
    let client = aws.s3control();
    match (t.kind, w.part, w.action, w.after) {
        (IdentityKind::Account, None, Action::Delete, _) => {
            let op = Op::new(ACCOUNT_PAB_DELETE.0, ACCOUNT_PAB_DELETE.1, t.arn);
            match client.delete_public_access_block().account_id(t.name).send().await {
                Ok(_) => Ok(None),
                Err(e) => {
                    let err = aws.error(&op, e);
                    if err.code() == Some(NOT_CONFIGURED) {
                        Ok(None)
                    } else {
                        Err(err)
                    }
                }
            }
        }
        (IdentityKind::Account, None, _, Some(IdentityDoc::AccountPublicAccessBlock(doc))) => {
            let op = Op::new(ACCOUNT_PAB_WRITE.0, ACCOUNT_PAB_WRITE.1, t.arn);
            let configuration = PublicAccessBlockConfiguration::builder()
                .block_public_acls(doc.block_public_acls)
                .ignore_public_acls(doc.ignore_public_acls)
                .block_public_policy(doc.block_public_policy)
                .restrict_public_buckets(doc.restrict_public_buckets)
                .build();
            client
                .put_public_access_block()
                .account_id(t.name)
                .public_access_block_configuration(configuration)
                .send()
                .await
                .map_err(|e| aws.error(&op, e))?;
            Ok(None)
        }
        (kind, part, action, _) => Err(AwsError::InvalidRequest {
            operation: "write".to_string(),
            resource: t.arn.to_string(),
            detail: format!(
                "{kind} {action:?} of part {} with this value is not a change the S3 Control writer knows",
                part.map_or("(none)", |p| p.as_str())
            ),
        }),
    }
}
