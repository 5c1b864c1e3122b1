//! Everything s3rec knows about reaching AWS.
//!
//! This module is the only place in the crate that imports the AWS SDK crates. Keeping the SDK behind
//! one door means that credentials, regions, endpoints, retries and error wording are decided once,
//! and that an SDK upgrade touches one directory instead of every command.
//!
//! Commands get an [`Aws`] from [`connect`], ask it for per-service clients, and turn SDK failures
//! into [`AwsError`]s with [`Aws::error`] so that every message names the operation, the resource and
//! what the user should do next.

pub mod archive;
mod client;
pub mod iam;
pub mod identity;
mod kinds;
pub mod probe;
pub mod read;
pub mod s3control;
pub mod sns;
pub mod state_store;
pub mod transfer;
pub mod write;

pub use client::{
    Aws, AwsError, CallerIdentity, DEFAULT_REGION, MAX_ATTEMPTS, Op, Overrides, StaticCredentials, connect, sdk_error,
};
pub use read::{bucket_has_objects, read_bucket};
pub use write::{create_bucket, delete_bucket, put_doc};

/// Why percent-encoded text from AWS does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PercentError {
    /// A `%` not followed by two hex digits.
    Malformed,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

/// Decodes RFC 3986 percent-encoding (`+` stays a plus), strictly: percent-encoding passes a
/// malformed escape through as text, but AWS never sends one, so text with one is refused rather
/// than guessed at. Used for IAM's policy documents and S3's URL-encoded listings.
pub(crate) fn percent_decode(text: &str) -> Result<String, PercentError> {
    let well_formed = text.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return Err(PercentError::Malformed);
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| PercentError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_plus_signs_and_rejects_what_aws_never_sends() {
        assert_eq!(percent_decode("a+b%20c").as_deref(), Ok("a+b c"));
        assert_eq!(percent_decode("caf%C3%A9").as_deref(), Ok("café"));
        assert_eq!(percent_decode("%+1"), Err(PercentError::Malformed));
        assert_eq!(percent_decode("%4"), Err(PercentError::Malformed));
        assert_eq!(percent_decode("%"), Err(PercentError::Malformed));
        assert_eq!(percent_decode("%ff"), Err(PercentError::NotUtf8));
    }
}
