//! Retrying what AWS asks to be retried, and what a broken connection left undecided. The policy lives
//! apart from the actions, as kube-rs keeps its retry policy apart from reconcile: every action is
//! idempotent (creating an access key reconciles from AWS first), so running it again is always safe.
//! The executor re-reads a resource after an ambiguous outcome before it retries (see `exec::perform`);
//! plan reads use [`read`].

use std::future::Future;
use std::time::Duration;

use crate::aws::AwsError;

/// Attempts per action, the first included. The SDK already retries transport errors and throttling
/// inside one attempt; these attempts cover what it does not (eventual consistency after a create) and
/// what outlasted its attempts (a run of faults on a flaky network: at 30% faulty requests, five SDK
/// attempts in a row fail about once in 400 calls).
pub const ATTEMPTS: u32 = 6;
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);

/// Whether an error is worth another attempt: throttling, AWS's transient failures, a connection that
/// broke or an answer that was cut (the SDK's own attempts already gave up on them), and the
/// eventual-consistency answers of a bucket or role that was created a moment ago.
pub fn retryable(error: &AwsError) -> bool {
    if matches!(error, AwsError::Throttled { .. }) || error.is_ambiguous() {
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

/// A read with the executor's retry policy: plan reads retry what a write would, so one read that hit a
/// run of faults does not abort the whole plan.
pub async fn read<T, F, Fut>(op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    with_backoff(op).await.map(|(v, _)| v).map_err(|(e, _)| e)
}
