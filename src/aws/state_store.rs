//! The S3 calls of the state backend: conditional reads and writes of one object at a time.
//!
//! The remote state and its lock are plain objects. What makes them safe is the conditions: a read sends
//! `If-None-Match` with the ETag of the cached copy (so an unchanged state costs one request and no body),
//! a first write and every lock creation send `If-None-Match: *`, and every later write sends `If-Match`
//! with the ETag the run read. A failed condition is an answer here ([`Written::ConditionFailed`]), not an
//! error: the backend decides what it means.

use std::collections::HashMap;
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use tokio::io::AsyncWriteExt;

use super::{Aws, AwsError, Op};

/// One object of the backend: the state or its lock.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRef<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub region: &'a str,
}

/// The version of an object that a call read or wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The ETag without quotes.
    pub etag: String,
    /// The version ID in a versioned bucket.
    pub version_id: Option<String>,
}

/// What a conditional read found.
#[derive(Debug)]
pub enum Fetched {
    /// The object still has the ETag the caller has a copy of (HTTP 304); nothing was downloaded.
    Unchanged,
    /// There is no object at the key.
    Missing,
    /// The object's body was written to the destination file.
    Body { stored: Stored, bytes: u64 },
}

/// The precondition of a write.
#[derive(Debug, Clone, Copy)]
pub enum Condition<'a> {
    /// `If-None-Match: *`: only if no object exists at the key.
    Absent,
    /// `If-Match`: only if the object still has this ETag (unquoted).
    Matches(&'a str),
}

/// What a conditional write did.
#[derive(Debug)]
pub enum Written {
    Written(Stored),
    /// The precondition did not hold (HTTP 412), or another conditional write of the same key was in
    /// flight (HTTP 409 `ConditionalRequestConflict`).
    ConditionFailed,
}

/// What a write sends besides the body.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions<'a> {
    /// SSE-KMS with this key; SSE-S3 (AES256) when `None`.
    pub kms_key: Option<&'a str>,
    pub content_type: &'a str,
    /// User metadata (`x-amz-meta-*`), for example the ID of the write, so a retried write can recognise
    /// its own earlier attempt.
    pub metadata: &'a [(&'a str, &'a str)],
}

/// A small object read whole (a lock).
#[derive(Debug)]
pub struct SmallObject {
    pub body: Vec<u8>,
    pub stored: Stored,
    pub last_modified_ms: Option<i64>,
}

/// The precondition codes S3 answers with when a conditional write loses.
fn condition_failed(err: &AwsError) -> bool {
    matches!(err.code(), Some("PreconditionFailed" | "ConditionalRequestConflict"))
        || matches!(err, AwsError::Service { status: 412 | 409, .. })
}

fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

impl Aws {
    /// Downloads the object into `dest` unless it still has `cached_etag`. The body is streamed to the
    /// file, which the caller renames into place only after it was read whole.
    pub async fn fetch_if_changed(
        &self,
        obj: ObjectRef<'_>,
        cached_etag: Option<&str>,
        dest: &Path,
    ) -> Result<Fetched, AwsError> {
        let op = Op::object("GetObject", "s3:GetObject", obj.bucket, obj.key);
        let result = self
            .s3(obj.region)
            .get_object()
            .bucket(obj.bucket)
            .key(obj.key)
            .set_if_none_match(cached_etag.map(|e| format!("\"{e}\"")))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err) => {
                if let aws_sdk_s3::error::SdkError::ServiceError(service) = &err
                    && service.raw().status().as_u16() == 304
                {
                    return Ok(Fetched::Unchanged);
                }
                let err = self.error(&op, err);
                if matches!(err.code(), Some("NoSuchKey" | "NotFound")) {
                    return Ok(Fetched::Missing);
                }
                return Err(err);
            }
        };
        let stored = Stored {
            etag: out.e_tag().map(unquote).unwrap_or_default(),
            version_id: out.version_id().map(str::to_string),
        };
        let expected = out.content_length().and_then(|n| u64::try_from(n).ok());
        let mut body = out.body;
        let io = |e: std::io::Error| AwsError::Truncated {
            operation: "GetObject".to_string(),
            resource: format!("s3://{}/{}", obj.bucket, obj.key),
            detail: format!("writing {}: {e}", dest.display()),
        };
        let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
        let mut bytes = 0u64;
        while let Some(chunk) = body.try_next().await.map_err(|e| AwsError::Truncated {
            operation: "GetObject".to_string(),
            resource: format!("s3://{}/{}", obj.bucket, obj.key),
            detail: e.to_string(),
        })? {
            file.write_all(&chunk).await.map_err(io)?;
            bytes += chunk.len() as u64;
        }
        file.sync_all().await.map_err(io)?;
        if let Some(expected) = expected
            && expected != bytes
        {
            return Err(AwsError::Truncated {
                operation: "GetObject".to_string(),
                resource: format!("s3://{}/{}", obj.bucket, obj.key),
                detail: format!("{bytes} of {expected} bytes arrived"),
            });
        }
        Ok(Fetched::Body { stored, bytes })
    }

    /// Writes `body` (a file, streamed) to the object if `condition` holds.
    pub async fn put_file_if(
        &self,
        obj: ObjectRef<'_>,
        body: &Path,
        condition: Condition<'_>,
        options: WriteOptions<'_>,
    ) -> Result<Written, AwsError> {
        let op = Op::object("PutObject", "s3:PutObject", obj.bucket, obj.key);
        let stream = ByteStream::from_path(body)
            .await
            .map_err(|e| AwsError::InvalidRequest {
                operation: "PutObject".to_string(),
                resource: format!("s3://{}/{}", obj.bucket, obj.key),
                detail: format!("cannot read {}: {e}", body.display()),
            })?;
        self.put_if(op, obj, stream, condition, options).await
    }

    /// Writes a small `body` to the object if `condition` holds.
    pub async fn put_bytes_if(
        &self,
        obj: ObjectRef<'_>,
        body: Vec<u8>,
        condition: Condition<'_>,
        options: WriteOptions<'_>,
    ) -> Result<Written, AwsError> {
        let op = Op::object("PutObject", "s3:PutObject", obj.bucket, obj.key);
        self.put_if(op, obj, ByteStream::from(body), condition, options).await
    }

    async fn put_if(
        &self,
        op: Op,
        obj: ObjectRef<'_>,
        body: ByteStream,
        condition: Condition<'_>,
        options: WriteOptions<'_>,
    ) -> Result<Written, AwsError> {
        let mut request = self
            .s3(obj.region)
            .put_object()
            .bucket(obj.bucket)
            .key(obj.key)
            .content_type(options.content_type)
            .body(body);
        request = match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Matches(etag) => request.if_match(format!("\"{etag}\"")),
        };
        request = match options.kms_key {
            Some(key) => request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key),
            None => request.server_side_encryption(ServerSideEncryption::Aes256),
        };
        for (name, value) in options.metadata {
            request = request.metadata(*name, *value);
        }
        match request.send().await {
            Ok(out) => Ok(Written::Written(Stored {
                etag: out.e_tag().map(unquote).unwrap_or_default(),
                version_id: out.version_id().map(str::to_string),
            })),
            Err(err) => {
                let err = self.error(&op, err);
                if condition_failed(&err) {
                    Ok(Written::ConditionFailed)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// The ETag, version and user metadata of the object, or `None` when there is none.
    pub async fn head_state_object(
        &self,
        obj: ObjectRef<'_>,
    ) -> Result<Option<(Stored, HashMap<String, String>)>, AwsError> {
        let op = Op::object("HeadObject", "s3:GetObject", obj.bucket, obj.key);
        match self
            .s3(obj.region)
            .head_object()
            .bucket(obj.bucket)
            .key(obj.key)
            .send()
            .await
        {
            Ok(out) => Ok(Some((
                Stored {
                    etag: out.e_tag().map(unquote).unwrap_or_default(),
                    version_id: out.version_id().map(str::to_string),
                },
                out.metadata().cloned().unwrap_or_default(),
            ))),
            Err(err) => {
                let err = self.error(&op, err);
                if err.is_not_found() { Ok(None) } else { Err(err) }
            }
        }
    }

    /// Reads a small object whole (a lock), or `None` when there is none.
    pub async fn read_small_object(&self, obj: ObjectRef<'_>) -> Result<Option<SmallObject>, AwsError> {
        let op = Op::object("GetObject", "s3:GetObject", obj.bucket, obj.key);
        let out = match self
            .s3(obj.region)
            .get_object()
            .bucket(obj.bucket)
            .key(obj.key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) => {
                let err = self.error(&op, err);
                return if err.is_not_found() { Ok(None) } else { Err(err) };
            }
        };
        let stored = Stored {
            etag: out.e_tag().map(unquote).unwrap_or_default(),
            version_id: out.version_id().map(str::to_string),
        };
        let last_modified_ms = out.last_modified().and_then(|t| t.to_millis().ok());
        let body = out.body.collect().await.map_err(|e| AwsError::Truncated {
            operation: "GetObject".to_string(),
            resource: format!("s3://{}/{}", obj.bucket, obj.key),
            detail: e.to_string(),
        })?;
        Ok(Some(SmallObject {
            body: body.into_bytes().to_vec(),
            stored,
            last_modified_ms,
        }))
    }

    /// Deletes the object: exactly `version_id` when given (which leaves no delete marker and no
    /// noncurrent version behind in a versioned bucket), the current object otherwise. A missing object
    /// is not an error.
    pub async fn delete_state_object(&self, obj: ObjectRef<'_>, version_id: Option<&str>) -> Result<(), AwsError> {
        let action = if version_id.is_some() {
            "s3:DeleteObjectVersion"
        } else {
            "s3:DeleteObject"
        };
        let op = Op::object("DeleteObject", action, obj.bucket, obj.key);
        match self
            .s3(obj.region)
            .delete_object()
            .bucket(obj.bucket)
            .key(obj.key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                let err = self.error(&op, err);
                if err.is_not_found() { Ok(()) } else { Err(err) }
            }
        }
    }
}
