//! The AWS side of each document kind: one adapter file per kind (named like its model unit in
//! `model::kinds`) holding the SDK calls that read, write and remove the document and the conversions
//! between the SDK's types and the kind's canonical value, with their round-trip tests.
//!
//! The dispatch from a [`DocKind`] or a [`Doc`] to its adapter is generated from the model's one list
//! of kinds (`model::kinds::with_doc_kinds!`), so a kind without an adapter does not compile.
//! `aws::read` and `aws::write` call [`read_value`] and [`put_value`] and keep what is common: the
//! "not configured" answers, the canonical form, the bucket-level calls.

use std::future::Future;

use super::{Aws, AwsError, Op};
use crate::model::kinds::Kind;
use crate::model::{Doc, DocKind};

/// The SDK calls of one document kind.
pub(crate) trait AwsKind: Kind {
    /// Reads the document with one call. `op` names the read (from the kind's descriptor) for errors;
    /// "not configured" answers are returned as errors and mapped by the caller
    /// (`KindSpec::not_configured`), and the caller brings the value into canonical form.
    fn read(
        aws: &Aws,
        bucket: &str,
        region: &str,
        op: &Op,
    ) -> impl Future<Output = Result<Self::Value, AwsError>> + Send;

    /// Writes the value with the one call that sets it, or the call that removes the document when the
    /// value is the unconfigured one, so that reading the bucket back gives the same canonical value.
    fn put(
        aws: &Aws,
        bucket: &str,
        region: &str,
        value: &Self::Value,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A request s3rec could not build, which means a document the model should never hold.
pub(crate) fn invalid(op: &Op, detail: impl std::fmt::Display) -> AwsError {
    AwsError::InvalidRequest {
        operation: op.operation.to_string(),
        resource: op.resource.clone(),
        detail: detail.to_string(),
    }
}

// Conversions several adapters share. The SDK's numbers are signed where S3's never are, and S3 spells
// "absent" as an empty string or list in several answers.

/// Days and counts are `i32` in the SDK and never negative in S3's answers; a negative one is dropped
/// rather than wrapped.
fn non_negative(value: Option<i32>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

/// Object sizes are `i64` in the SDK; see [`non_negative`].
fn non_negative_size(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok())
}

/// An empty string is how S3 spells "no prefix" in several answers.
fn non_empty(value: Option<&str>) -> Option<String> {
    value.filter(|s| !s.is_empty()).map(str::to_string)
}

/// Days and counts are `u32` in the model and `i32` in the SDK.
fn to_i32(value: u32, what: &str) -> Result<i32, String> {
    i32::try_from(value).map_err(|_| format!("{what} {value} is larger than S3 accepts"))
}

fn opt_i32(value: Option<u32>, what: &str) -> Result<Option<i32>, String> {
    value.map(|v| to_i32(v, what)).transpose()
}

fn opt_i64(value: Option<u64>, what: &str) -> Result<Option<i64>, String> {
    value
        .map(|v| i64::try_from(v).map_err(|_| format!("{what} {v} is larger than S3 accepts")))
        .transpose()
}

/// A list S3 treats as absent when empty; sending `Some(vec![])` would write an empty element.
fn non_empty_list(items: &[String]) -> Option<Vec<String>> {
    if items.is_empty() { None } else { Some(items.to_vec()) }
}

macro_rules! define_adapters {
    ($($variant:ident => $module:ident,)*) => {
        $(mod $module;)*

        /// Reads one document of `kind` with its adapter (see [`AwsKind::read`]).
        pub(crate) async fn read_value(aws: &Aws, bucket: &str, region: &str, kind: DocKind, op: &Op) -> Result<Doc, AwsError> {
            match kind {
                $(DocKind::$variant => {
                    <crate::model::kinds::$module::$variant as AwsKind>::read(aws, bucket, region, op)
                        .await
                        .map(Doc::$variant)
                })*
            }
        }

        /// Writes one document with its adapter (see [`AwsKind::put`]).
        pub(crate) async fn put_value(aws: &Aws, bucket: &str, region: &str, doc: &Doc) -> Result<(), AwsError> {
            match doc {
                $(Doc::$variant(value) => {
                    <crate::model::kinds::$module::$variant as AwsKind>::put(aws, bucket, region, value).await
                })*
            }
        }
    };
}

crate::model::kinds::with_doc_kinds!(define_adapters);
