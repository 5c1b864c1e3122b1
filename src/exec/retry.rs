//! Retrying what AWS asks to be retried. The policy lives apart from the actions, as kube-rs keeps its
//! retry policy apart from reconcile: every action is idempotent, so running it again is always safe.

use std::future::Future;
use std::time::Duration;

use crate::aws::AwsError;

/// Attempts per action, the first included. The SDK already retries transport errors and throttling
/// inside one attempt; these attempts cover what it does not (eventual consistency after a create).
pub const ATTEMPTS: u32 = 6;
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);

/// Whether an error is worth another attempt: throttling, AWS's transient failures, and the
/// eventual-consistency answers of a bucket or role that was created a moment ago.
pub fn retryable(error: &AwsError) -> bool {
    if matches!(error, AwsError::Throttled { .. }) {
        return true;
    }
    matches!(
        error.code(),
        Some(
            "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "ServiceUnavailable"
                | "InternalError"
                | "InternalFailure"
                | "OperationAborted"
                | "NoSuchBucket"
                // IAM refuses concurrent changes to one entity; the next attempt goes through.
                | "ConcurrentModification"
        )
    )
}

/// Runs `op` until it succeeds, fails with an error that is not [`retryable`], or runs out of attempts,
/// sleeping with exponential backoff in between. Returns the value or the last error, each with the
/// number of attempts made.
pub async fn with_backoff<T, F, Fut>(mut op: F) -> Result<(T, u32), (AwsError, u32)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut delay = FIRST_DELAY;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok((v, attempt)),
            Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                tracing::debug!(attempt, error = %e, "retrying after {:?}", delay);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
                attempt += 1;
            }
            Err(e) => return Err((e, attempt)),
        }
    }
}
