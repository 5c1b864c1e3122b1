//! Reading a bucket's live configuration into the canonical model.
//!
//! [`read_bucket`] makes one call to find the bucket and its region, then one call per requested
//! document, all at once, through the client of the bucket's own region. Every "not configured"
//! answer becomes the document's [`Doc::unconfigured`] value, and every answer is brought into
//! [`Doc::canonical`] form, so an untouched bucket compares equal to a manifest that wants it that way.
//!
//! The SDK → model conversions of each kind live in its adapter (`aws::kinds::KIND`), with the
//! round-trip tests that check writing a document and reading it back is the identity for every field,
//! including the ones moto drops.

use std::collections::BTreeMap;

use aws_sdk_s3::types::BucketLocationConstraint;

use super::{Aws, AwsError, DEFAULT_REGION, Op};
use crate::model::{Doc, DocKind, ObservedBucket};

/// Reads a bucket: `Ok(None)` when it does not exist, otherwise its region and the requested documents.
///
/// One GetBucketLocation call (through the default-region client) finds the bucket and its region;
/// then each requested kind is read with exactly one call, concurrently, through the client for the
/// bucket's region. A bucket that answers 403 is reported as taken by another account or denied.
///
/// A document the server does not implement at all ([`AwsError::Unsupported`]) reads as unconfigured:
/// such a server cannot hold one. [`read_managed_in`] is the read for documents that must be there.
pub async fn read_bucket(aws: &Aws, name: &str, kinds: &[DocKind]) -> Result<Option<ObservedBucket>, AwsError> {
    read_located(aws, name, kinds, IfUnsupported::Unconfigured).await
}

/// What a read makes of a document kind the server does not implement ([`AwsError::Unsupported`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfUnsupported {
    /// The unconfigured value: the server cannot hold such a document, so the bucket has none. For
    /// reads that only inform (findings, import, doctor's probes, emulator tests of every kind).
    Unconfigured,
    /// The error: the manifest manages the document, and s3rec cannot read or write it there.
    Fail,
}

/// [`read_bucket`] with the given treatment of unsupported documents.
async fn read_located(
    aws: &Aws,
    name: &str,
    kinds: &[DocKind],
    if_unsupported: IfUnsupported,
) -> Result<Option<ObservedBucket>, AwsError> {
    let Some(region) = locate_bucket(aws, name).await? else {
        return Ok(None);
    };
    let docs = read_docs(aws, name, &region, kinds, if_unsupported).await?;
    Ok(Some(ObservedBucket {
        name: name.to_string(),
        region,
        docs,
        non_empty: None,
    }))
}

/// The requested documents of a bucket in a known region, read concurrently with one call each; the
/// first error, in `DocKind::ALL` order, is the answer.
async fn read_docs(
    aws: &Aws,
    name: &str,
    region: &str,
    kinds: &[DocKind],
    if_unsupported: IfUnsupported,
) -> Result<BTreeMap<DocKind, Doc>, AwsError> {
    // DocKind::ALL order, each kind once, however often the caller named it.
    let wanted: Vec<DocKind> = DocKind::ALL.into_iter().filter(|k| kinds.contains(k)).collect();
    let reads: Vec<_> = wanted
        .iter()
        .map(|&kind| read_doc_as(aws, name, region, kind, if_unsupported))
        .collect();
    let mut docs = BTreeMap::new();
    for (kind, doc) in wanted.iter().zip(futures_util::future::join_all(reads).await) {
        docs.insert(*kind, doc?);
    }
    Ok(docs)
}

/// One bucket of the account as ListBuckets names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBucket {
    pub name: String,
    /// The bucket's region when the server says (AWS does since 2024; some emulators do not).
    pub region: Option<String>,
    /// Creation date, RFC 3339.
    pub created: Option<String>,
}

/// Every bucket of the caller's account: one ListBuckets call per page (one page unless the account
/// has more buckets than a page holds).
pub async fn list_buckets(aws: &Aws) -> Result<Vec<ListedBucket>, AwsError> {
    let op = Op::account("ListBuckets", "s3:ListAllMyBuckets");
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .s3(aws.region())
            .list_buckets()
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
        for b in page.buckets() {
            let Some(name) = b.name() else { continue };
            out.push(ListedBucket {
                name: name.to_string(),
                region: b.bucket_region().filter(|r| !r.is_empty()).map(str::to_string),
                created: b
                    .creation_date()
                    .and_then(|d| d.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok()),
            });
        }
        match page.continuation_token() {
            Some(next) if !next.is_empty() && token.as_deref() != Some(next) => token = Some(next.to_string()),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// [`read_bucket`] for a bucket whose region is already known (from ListBuckets): no location call,
/// only one call per requested document. Without a region it falls back to [`read_bucket`].
pub async fn read_bucket_in(
    aws: &Aws,
    name: &str,
    region: Option<&str>,
    kinds: &[DocKind],
) -> Result<Option<ObservedBucket>, AwsError> {
    read_in(aws, name, region, kinds, IfUnsupported::Unconfigured).await
}

/// [`read_bucket_in`] for the documents a manifest manages: a document the server does not implement
/// is the error [`AwsError::Unsupported`], naming the endpoint, rather than an unconfigured value that
/// would plan a write the server cannot take.
pub async fn read_managed_in(
    aws: &Aws,
    name: &str,
    region: Option<&str>,
    kinds: &[DocKind],
) -> Result<Option<ObservedBucket>, AwsError> {
    read_in(aws, name, region, kinds, IfUnsupported::Fail).await
}

async fn read_in(
    aws: &Aws,
    name: &str,
    region: Option<&str>,
    kinds: &[DocKind],
    if_unsupported: IfUnsupported,
) -> Result<Option<ObservedBucket>, AwsError> {
    let Some(region) = region else {
        return read_located(aws, name, kinds, if_unsupported).await;
    };
    let docs = match read_docs(aws, name, region, kinds, if_unsupported).await {
        Ok(docs) => docs,
        // Deleted between the listing and the reads: gone, as read_bucket would say.
        Err(err) if err.code() == Some("NoSuchBucket") => return Ok(None),
        Err(err) => return Err(err),
    };
    Ok(Some(ObservedBucket {
        name: name.to_string(),
        region: region.to_string(),
        docs,
        non_empty: None,
    }))
}

/// Whether the bucket holds anything at all: a current object, an older version or a delete marker.
///
/// A bucket with only delete markers still refuses DeleteBucket, so they count.
pub async fn bucket_has_objects(aws: &Aws, name: &str, region: &str) -> Result<bool, AwsError> {
    let out = aws
        .s3(region)
        .list_object_versions()
        .bucket(name)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| aws.error(&Op::bucket("ListObjectVersions", "s3:ListBucketVersions", name), e))?;
    Ok(!out.versions().is_empty() || !out.delete_markers().is_empty())
}

/// Finds the bucket's region with one GetBucketLocation call; `None` when the bucket does not exist.
async fn locate_bucket(aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
    let op = Op::bucket("GetBucketLocation", "s3:GetBucketLocation", name);
    let result = aws.s3(aws.region()).get_bucket_location().bucket(name).send().await;
    match result {
        Ok(out) => Ok(Some(region_from_constraint(out.location_constraint()))),
        Err(err) => match aws.error(&op, err) {
            err if err.code() == Some("NoSuchBucket") => Ok(None),
            // Some endpoints answer GetBucketLocation only for their own region; the redirect names
            // the bucket's region, which is all this call was for.
            AwsError::WrongRegion {
                actual_region: Some(region),
                ..
            } => Ok(Some(region)),
            AwsError::AccessDenied {
                operation,
                action,
                caller,
                message,
                ..
            } => Err(AwsError::BucketNotAccessible {
                operation,
                action,
                bucket: name.to_string(),
                caller,
                message,
            }),
            other => Err(other),
        },
    }
}

/// Maps a LocationConstraint to a region: none or empty is us-east-1, the legacy `EU` is eu-west-1.
pub(crate) fn region_from_constraint(constraint: Option<&BucketLocationConstraint>) -> String {
    match constraint.map(BucketLocationConstraint::as_str) {
        None | Some("") => DEFAULT_REGION.to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(region) => region.to_string(),
    }
}

/// Reads one document with one call, mapping "not configured" answers to the unconfigured value.
/// The call is the kind's adapter's (`aws::kinds`); the operation and IAM action named in errors, and
/// the error codes that mean "not configured", come from the kind's descriptor (`model::kinds`).
///
/// A document the server does not implement reads as unconfigured (see [`read_bucket`]); this is the
/// read of documents the manifest leaves out and of doctor's probes.
pub(crate) async fn read_doc(aws: &Aws, name: &str, region: &str, kind: DocKind) -> Result<Doc, AwsError> {
    read_doc_as(aws, name, region, kind, IfUnsupported::Unconfigured).await
}

async fn read_doc_as(
    aws: &Aws,
    name: &str,
    region: &str,
    kind: DocKind,
    if_unsupported: IfUnsupported,
) -> Result<Doc, AwsError> {
    let spec = kind.spec();
    let access = &spec.access;
    let op = Op::bucket(access.read_operation, access.read_action, name);
    let result = super::kinds::read_value(aws, name, region, kind, &op).await;
    match result {
        Ok(doc) => Ok(doc.canonical()),
        Err(err) if err.code().is_some_and(|code| spec.not_configured.contains(&code)) => Ok(Doc::unconfigured(kind)),
        Err(err @ AwsError::Unsupported { .. }) if if_unsupported == IfUnsupported::Unconfigured => {
            tracing::debug!(bucket = name, kind = spec.name, "read as unconfigured: {err}");
            Ok(Doc::unconfigured(kind))
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_constraints_map_to_regions() {
        assert_eq!(region_from_constraint(None), "us-east-1");
        assert_eq!(
            region_from_constraint(Some(&BucketLocationConstraint::from(""))),
            "us-east-1"
        );
        assert_eq!(region_from_constraint(Some(&BucketLocationConstraint::Eu)), "eu-west-1");
        assert_eq!(
            region_from_constraint(Some(&BucketLocationConstraint::EuCentral1)),
            "eu-central-1"
        );
    }

    /// Callers spawn bucket reads onto the runtime, so the future must stay `Send`; this fails to
    /// compile otherwise.
    #[allow(dead_code)]
    fn read_bucket_is_send(aws: &Aws) {
        fn send<T: Send>(_: T) {}
        send(read_bucket(aws, "bucket", &DocKind::ALL));
        send(bucket_has_objects(aws, "bucket", "us-east-1"));
    }
}
