//! Changing buckets: create, delete (optionally emptying first), and writing one canonical document.
//!
//! [`put_doc`] is the inverse of `read.rs`: each [`Doc`] becomes the one Put* call that sets it, or the
//! Delete* call when the document is its unconfigured value, so that reading the bucket back gives the
//! same canonical document. The calls and the model → SDK conversions are the kind adapters' (`aws::kinds`).

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier};

use super::kinds::invalid;
use super::{Aws, AwsError, DEFAULT_REGION, Op};
use crate::model::Doc;

/// DeleteObjects takes at most this many keys per request.
const DELETE_BATCH: usize = 1000;

/// How many per-key failures an [`AwsError::ObjectsNotDeleted`] spells out.
const REPORTED_FAILURES: usize = 5;

/// Creates a bucket in `region`. A bucket this account already owns counts as created.
pub async fn create_bucket(aws: &Aws, name: &str, region: &str) -> Result<(), AwsError> {
    let op = Op::bucket("CreateBucket", "s3:CreateBucket", name);
    let mut request = aws.s3(region).create_bucket().bucket(name);
    // us-east-1 is the one region that must not be named: AWS rejects a LocationConstraint for it.
    if region != DEFAULT_REGION {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(err) => match aws.error(&op, err) {
            err if err.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
            err => Err(err),
        },
    }
}

/// Deletes a bucket. With `force`, first deletes every object version and delete marker and aborts
/// every unfinished multipart upload; without it, a non-empty bucket fails with S3's `BucketNotEmpty`,
/// whose message says to set `force_destroy`.
pub async fn delete_bucket(aws: &Aws, name: &str, region: &str, force: bool) -> Result<(), AwsError> {
    if force {
        empty_bucket(aws, name, region).await?;
    }
    aws.s3(region)
        .delete_bucket()
        .bucket(name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&Op::bucket("DeleteBucket", "s3:DeleteBucket", name), e))
}

/// Deletes every version and delete marker, page by page, then aborts the multipart uploads.
async fn empty_bucket(aws: &Aws, name: &str, region: &str) -> Result<(), AwsError> {
    let s3 = aws.s3(region);
    let list_op = Op::bucket("ListObjectVersions", "s3:ListBucketVersions", name);
    let delete_op = Op::object("DeleteObjects", "s3:DeleteObjectVersion", name, "*");
    let mut failures: Vec<String> = Vec::new();
    let mut failed = 0usize;
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| aws.error(&list_op, e))?;
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let mut objects = Vec::new();
        for (key, version) in versions.chain(markers) {
            let Some(key) = key else { continue };
            let object = ObjectIdentifier::builder()
                .key(key)
                .set_version_id(version.map(str::to_string))
                .build()
                .map_err(|e| invalid(&delete_op, e))?;
            objects.push(object);
        }
        for batch in objects.chunks(DELETE_BATCH) {
            let delete = Delete::builder()
                .set_objects(Some(batch.to_vec()))
                .quiet(true)
                .build()
                .map_err(|e| invalid(&delete_op, e))?;
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(delete)
                .send()
                .await
                .map_err(|e| aws.error(&delete_op, e))?;
            for error in out.errors() {
                failed += 1;
                if failures.len() < REPORTED_FAILURES {
                    failures.push(format!(
                        "{} ({}): {}: {}",
                        error.key().unwrap_or("?"),
                        error.version_id().unwrap_or("null"),
                        error.code().unwrap_or("Unknown"),
                        error.message().unwrap_or_default()
                    ));
                }
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
        if key_marker.is_none() && version_marker.is_none() {
            break;
        }
    }
    if failed > 0 {
        if failed > failures.len() {
            failures.push(format!("and {} more", failed - failures.len()));
        }
        return Err(AwsError::ObjectsNotDeleted {
            bucket: name.to_string(),
            count: failed,
            detail: failures.join("; "),
        });
    }
    abort_multipart_uploads(aws, name, region).await
}

/// Aborts every unfinished multipart upload, whose parts would otherwise keep the bucket billable.
async fn abort_multipart_uploads(aws: &Aws, name: &str, region: &str) -> Result<(), AwsError> {
    let s3 = aws.s3(region);
    let list_op = Op::bucket("ListMultipartUploads", "s3:ListBucketMultipartUploads", name);
    let mut key_marker: Option<String> = None;
    let mut upload_marker: Option<String> = None;
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket(name)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(upload_marker.take())
            .send()
            .await
            .map_err(|e| aws.error(&list_op, e))?;
        for upload in page.uploads() {
            let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else {
                continue;
            };
            let op = Op::object("AbortMultipartUpload", "s3:AbortMultipartUpload", name, key);
            match s3
                .abort_multipart_upload()
                .bucket(name)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
            {
                Ok(_) => {}
                // Completed or aborted by someone else since the listing: gone either way.
                Err(e) => match aws.error(&op, e) {
                    err if err.code() == Some("NoSuchUpload") => {}
                    err => return Err(err),
                },
            }
        }
        if page.is_truncated() != Some(true) {
            return Ok(());
        }
        key_marker = page.next_key_marker().map(str::to_string);
        upload_marker = page.next_upload_id_marker().map(str::to_string);
        if key_marker.is_none() && upload_marker.is_none() {
            return Ok(());
        }
    }
}

/// Writes one canonical document to a bucket: the Put* call that sets it, or the Delete* call when the
/// document is its unconfigured value.
pub async fn put_doc(aws: &Aws, name: &str, region: &str, doc: &Doc) -> Result<(), AwsError> {
    super::kinds::put_value(aws, name, region, doc).await
}
