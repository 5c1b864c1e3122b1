//! Multipart uploads that sync started and nobody owns any more.
//!
//! The index records an upload's id once CreateMultipartUpload answered. When the answer is lost (the
//! connection dropped after the server created the upload; the SDK may then send the request again and
//! create a second one) or the process is killed before it records the id, the upload lives on in S3,
//! costing storage, and no later run would resume or abort it. So sync writes an *intent* (bucket, key,
//! time) before every CreateMultipartUpload, and [`reconcile`] aborts every upload of an intent's key
//! that the index does not know. Uploads of keys without an unsettled intent and the ones the index
//! knows (kept for a later run to resume) are never touched. [`orphans`] is `doctor`'s read-only view: every upload
//! under a mapping's prefixes that the index does not know.

use std::collections::HashSet;

use super::spec::Scope;
use crate::aws::transfer;
use crate::aws::{Aws, AwsError};
use crate::state::StateError;
use crate::state::sync_index::SyncIndex;

/// Why reconciling stopped; the intents it could not settle stay for the next run.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Aws(Box<AwsError>),
    #[error(transparent)]
    State(#[from] StateError),
}

impl From<AwsError> for ReconcileError {
    fn from(e: AwsError) -> Self {
        ReconcileError::Aws(Box::new(e))
    }
}

/// Settles every recorded intent: aborts the uploads of its key that the index does not know, then
/// forgets the intent. Returns how many uploads were aborted. An intent whose listing or abort fails
/// stays for the next run.
///
/// The server's `Initiated` date is not compared with the intent's time: moto reports one fixed date
/// for every upload, and on AWS the clocks may differ by minutes. What makes an upload s3rec's is its
/// exact key, under a mapping's prefix, with a CreateMultipartUpload of s3rec's for that key unsettled.
pub async fn reconcile(aws: &Aws, index: &SyncIndex) -> Result<usize, ReconcileError> {
    let mut aborted = 0;
    for intent in index.upload_intents()? {
        let known: HashSet<String> = index
            .pending_uploads(&intent.bucket)?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        // The key itself is the prefix: one short listing per intent, only for files large enough
        // for a multipart upload.
        let listed = transfer::list_multipart_uploads(aws, &intent.bucket, &intent.region, &intent.key).await?;
        for (key, upload_id, _) in listed {
            if key != intent.key || known.contains(&upload_id) {
                continue;
            }
            transfer::abort_multipart_upload(aws, &intent.bucket, &intent.region, &key, &upload_id).await?;
            tracing::info!(
                "aborted multipart upload {upload_id} of s3://{}/{key}, which no run owned",
                intent.bucket
            );
            aborted += 1;
        }
        index.intent_reconciled(intent.id)?;
    }
    Ok(aborted)
}

/// One multipart upload in progress that the index does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    /// When the server started it, in Unix milliseconds.
    pub initiated_ms: i64,
}

/// Every multipart upload in progress under `scope` (a mapping's bucket and prefix) that the index does
/// not know: left by a lost answer or a killed run (the next sync aborts the ones it started), or
/// started by another tool. Without an index (no state yet) every upload there is unknown. Reads only.
pub async fn orphans(aws: &Aws, index: Option<&SyncIndex>, scope: &Scope) -> Result<Vec<Orphan>, ReconcileError> {
    let known: HashSet<String> = match index {
        Some(index) => index
            .pending_uploads(&scope.bucket)?
            .into_iter()
            .map(|(_, id)| id)
            .collect(),
        None => HashSet::new(),
    };
    let listed = transfer::list_multipart_uploads(aws, &scope.bucket, &scope.region, &scope.prefix).await?;
    Ok(listed
        .into_iter()
        .filter(|(_, id, _)| !known.contains(id))
        .map(|(key, upload_id, initiated_ms)| Orphan {
            bucket: scope.bucket.clone(),
            key,
            upload_id,
            initiated_ms,
        })
        .collect())
}
