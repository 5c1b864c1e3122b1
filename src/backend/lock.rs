//! The lock object of the S3 backend: `<key>.lock` beside the state, created with `If-None-Match: *`.
//!
//! The lock says who holds it (caller, host, process, s3rec version), for which operation and since
//! when, so a conflict names its holder and `s3rec state unlock` can check it removes the lock it was
//! shown. It is deleted by its own version ID, so in a versioned state bucket locks leave neither
//! noncurrent versions nor delete markers behind.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::cache::KeptLock;
use super::{BackendError, Remote};
use crate::aws::Aws;
use crate::aws::state_store::{Condition, SmallObject, Stored, WriteOptions, Written};

/// What a lock object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A random ID of this lock (and of the run that holds it): `state unlock` must name it.
    pub id: String,
    /// The command that holds it: `apply`, `sync`, `migrate run`, `state push`, ...
    pub operation: String,
    pub environment: String,
    /// The caller's ARN, when STS answered.
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    /// When it was taken, RFC 3339 UTC, and the same in Unix milliseconds for computing its age.
    pub created_at: String,
    pub created_ms: i64,
}

impl LockInfo {
    /// A new lock for `operation` by this process.
    pub fn new(operation: &str, environment: &str, who: Option<&str>) -> LockInfo {
        let now = SystemTime::now();
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            environment: environment.to_string(),
            who: who.unwrap_or("unknown caller").to_string(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: crate::state::time::format_rfc3339(now),
            created_ms: unix_ms(now),
        }
    }

    /// How long ago the lock was taken, by this machine's clock (zero when the clocks disagree).
    pub fn age(&self) -> Duration {
        let ms = unix_ms(SystemTime::now()).saturating_sub(self.created_ms);
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    /// "apply by arn:... on host (pid 123, s3rec 0.1.0), taken 2024-05-01T09:30:00Z, 5m ago".
    pub fn describe(&self) -> String {
        format!(
            "{} by {} on {} (pid {}, s3rec {}), taken {} ({} ago)",
            self.operation,
            self.who,
            self.host,
            self.pid,
            self.version,
            self.created_at,
            age_text(self.age())
        )
    }
}

/// An age rounded for people: `42s`, `5m 3s`, `2h 10m`, `3days 4h`.
pub fn age_text(age: Duration) -> String {
    let secs = age.as_secs();
    let rounded = match secs {
        0..3600 => secs,
        3600..86_400 => secs - secs % 60,
        _ => secs - secs % 3600,
    };
    humantime::format_duration(Duration::from_secs(rounded)).to_string()
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A lock this process holds.
#[derive(Debug, Clone)]
pub struct HeldLock {
    pub info: LockInfo,
    stored: Stored,
}

impl HeldLock {
    /// What the sidecar records when a run keeps its lock after a failed push.
    pub fn kept(&self) -> KeptLock {
        KeptLock {
            id: self.info.id.clone(),
            version_id: self.stored.version_id.clone(),
        }
    }
}

/// The lock as another reader finds it.
#[derive(Debug, Clone)]
pub struct FoundLock {
    /// `None` when the object is not a lock s3rec can read (written by hand, damaged).
    pub info: Option<LockInfo>,
    pub raw: String,
    pub etag: String,
    pub version_id: Option<String>,
}

impl FoundLock {
    fn from_object(object: SmallObject) -> FoundLock {
        let raw = String::from_utf8_lossy(&object.body).into_owned();
        FoundLock {
            info: serde_json::from_slice(&object.body).ok(),
            raw,
            etag: object.stored.etag,
            version_id: object.stored.version_id,
        }
    }

    /// The ID `state unlock` takes: the lock's own, or for a lock s3rec cannot read, its ETag.
    pub fn id(&self) -> &str {
        self.info.as_ref().map_or(self.etag.as_str(), |i| i.id.as_str())
    }

    /// Who holds it, for messages.
    pub fn describe(&self) -> String {
        match &self.info {
            Some(info) => format!("lock {} held for {}", info.id, info.describe()),
            None => format!(
                "a lock object s3rec cannot read (ETag {}: {})",
                self.etag,
                self.raw.chars().take(200).collect::<String>()
            ),
        }
    }
}

/// A version ID that names a real version: S3 answers `null` for objects of unversioned (or suspended)
/// buckets, and deleting "version null" could remove a lock another run wrote in the meantime.
fn real_version(version_id: Option<&str>) -> Option<&str> {
    version_id.filter(|v| !v.is_empty() && *v != "null")
}

/// The lock object as it is now, if there is one.
pub async fn read(aws: &Aws, remote: &Remote) -> Result<Option<FoundLock>, BackendError> {
    let object = aws
        .read_small_object(remote.lock_object())
        .await
        .map_err(|e| BackendError::at(remote, e))?;
    Ok(object.map(FoundLock::from_object))
}

/// The first wait between attempts with `--lock-timeout`, and the longest.
const FIRST_WAIT: Duration = Duration::from_millis(500);
const LONGEST_WAIT: Duration = Duration::from_secs(15);

/// Takes the lock for `info.operation`, waiting up to `timeout` (with backoff) while another run holds
/// it; without a timeout a held lock fails at once, naming its holder and age.
///
/// Right after taking it, the same conditional create is sent once more: a server that honours
/// `If-None-Match: *` refuses it, one that ignores the header accepts it, and such a server would let two
/// runs hold the lock at once, so it is refused (unless the manifest says `lock: false`).
///
/// `inherit` is a lock an earlier run on this machine kept because its last push failed: this run takes
/// it over (and pushes that run's work), instead of waiting for it.
pub async fn acquire(
    aws: &Aws,
    remote: &Remote,
    info: LockInfo,
    timeout: Option<Duration>,
    inherit: Option<&KeptLock>,
) -> Result<HeldLock, BackendError> {
    let body = serde_json::to_vec_pretty(&info).map_err(|e| BackendError::Local {
        what: "the lock".to_string(),
        detail: e.to_string(),
    })?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut wait = FIRST_WAIT;
    let mut announced = false;
    loop {
        let attempt = aws
            .put_bytes_if(
                remote.lock_object(),
                body.clone(),
                Condition::Absent,
                lock_options(remote),
            )
            .await;
        let stored = match attempt {
            Ok(Written::Written(stored)) => Some(stored),
            Ok(Written::ConditionFailed) => None,
            // The create may have landed although the answer was lost: the lock then holds our ID.
            Err(e) if e.is_ambiguous() => None,
            Err(e) => return Err(BackendError::at(remote, e)),
        };
        let stored = match stored {
            Some(stored) => stored,
            None => match read(aws, remote).await? {
                Some(found) if found.info.as_ref().is_some_and(|i| i.id == info.id) => Stored {
                    etag: String::new(),
                    version_id: found.version_id,
                },
                Some(found) if inherit.is_some_and(|kept| kept.id == found.id()) => {
                    eprintln!(
                        "Taking over the state lock {} that an earlier run on this machine kept when it could not \
                         push its state; this run pushes that work.",
                        found.id()
                    );
                    aws.delete_state_object(remote.lock_object(), real_version(found.version_id.as_deref()))
                        .await
                        .map_err(|e| BackendError::at(remote, e))?;
                    continue;
                }
                Some(found) => {
                    let now = Instant::now();
                    match deadline {
                        Some(deadline) if now + wait.min(LONGEST_WAIT) < deadline => {
                            if !announced {
                                eprintln!(
                                    "Waiting for the state lock of {} ({}), up to {}...",
                                    remote.environment,
                                    found.describe(),
                                    age_text(deadline - now)
                                );
                                announced = true;
                            }
                            tokio::time::sleep(jitter(wait)).await;
                            wait = (wait * 2).min(LONGEST_WAIT);
                            continue;
                        }
                        Some(_) | None => {
                            return Err(BackendError::LockHeld {
                                environment: remote.environment.clone(),
                                location: remote.lock_url(),
                                holder: found.describe(),
                                lock_id: Some(found.id().to_string()),
                                waited: timeout,
                            });
                        }
                    }
                }
                // Released between our attempt and the read: try again at once.
                None => continue,
            },
        };
        let held = HeldLock { info, stored };
        refuse_ignored_conditions(aws, remote, &held, body).await?;
        return Ok(held);
    }
}

/// Sends the lock's create again; see [`acquire`].
async fn refuse_ignored_conditions(
    aws: &Aws,
    remote: &Remote,
    held: &HeldLock,
    body: Vec<u8>,
) -> Result<(), BackendError> {
    match aws
        .put_bytes_if(remote.lock_object(), body, Condition::Absent, lock_options(remote))
        .await
    {
        Ok(Written::ConditionFailed) => Ok(()),
        Ok(Written::Written(second)) => {
            // Both versions are ours; remove them so the bucket keeps no trace of the probe.
            for version in [
                real_version(second.version_id.as_deref()),
                real_version(held.stored.version_id.as_deref()),
            ] {
                if let Err(e) = aws.delete_state_object(remote.lock_object(), version).await {
                    tracing::warn!("could not remove the lock after the conditional-write probe: {e}");
                }
                if version.is_none() {
                    break;
                }
            }
            Err(BackendError::ConditionsIgnored {
                endpoint: aws.endpoint_url().unwrap_or("the AWS endpoint").to_string(),
                location: remote.lock_url(),
            })
        }
        Err(e) if e.is_ambiguous() => {
            // Nothing to learn from a lost answer; the lock itself is held. The next run probes again.
            tracing::warn!("the conditional-write probe of the state lock got no answer: {e}");
            Ok(())
        }
        Err(e) => {
            release(aws, remote, held).await.ok();
            Err(BackendError::at(remote, e))
        }
    }
}

fn lock_options(remote: &Remote) -> WriteOptions<'_> {
    WriteOptions {
        kms_key: remote.kms_key.as_deref(),
        content_type: "application/json",
        metadata: &[],
    }
}

/// Up to a quarter more or less than `wait`, so runs that wait together do not retry together.
fn jitter(wait: Duration) -> Duration {
    let spread = wait.as_millis() / 4;
    let random = u128::from(uuid::Uuid::new_v4().as_u128() as u64) % (2 * spread + 1);
    let millis = wait.as_millis() - spread + random;
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

/// Releases a lock this process holds. In a versioned bucket its own version is deleted, which cannot
/// touch a lock someone else took after ours was broken by hand; otherwise the lock is read first and
/// deleted only if it still has our ID.
pub async fn release(aws: &Aws, remote: &Remote, held: &HeldLock) -> Result<(), BackendError> {
    if let Some(version) = real_version(held.stored.version_id.as_deref()) {
        return aws
            .delete_state_object(remote.lock_object(), Some(version))
            .await
            .map_err(|e| BackendError::at(remote, e));
    }
    match read(aws, remote).await? {
        Some(found) if found.info.as_ref().is_some_and(|i| i.id == held.info.id) => aws
            .delete_state_object(remote.lock_object(), None)
            .await
            .map_err(|e| BackendError::at(remote, e)),
        Some(found) => {
            eprintln!(
                "warning: the state lock of {} is no longer this run's (it is {}); it was left alone",
                remote.environment,
                found.describe()
            );
            Ok(())
        }
        None => Ok(()),
    }
}

/// Removes the lock whose ID is `lock_id` (`s3rec state unlock`; for a lock s3rec cannot read, its ETag).
/// Returns the lock that was removed.
pub async fn unlock(aws: &Aws, remote: &Remote, lock_id: &str) -> Result<FoundLock, BackendError> {
    let Some(found) = read(aws, remote).await? else {
        return Err(BackendError::NoLock {
            environment: remote.environment.clone(),
            location: remote.lock_url(),
        });
    };
    if found.id() != lock_id {
        return Err(BackendError::OtherLock {
            environment: remote.environment.clone(),
            asked: lock_id.to_string(),
            holder: found.describe(),
        });
    }
    aws.delete_state_object(remote.lock_object(), real_version(found.version_id.as_deref()))
        .await
        .map_err(|e| BackendError::at(remote, e))?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_rounded_for_people() {
        assert_eq!(age_text(Duration::from_secs(42)), "42s");
        assert_eq!(age_text(Duration::from_secs(303)), "5m 3s");
        assert_eq!(age_text(Duration::from_secs(2 * 3600 + 10 * 60 + 7)), "2h 10m");
        assert_eq!(age_text(Duration::from_secs(3 * 86_400 + 4 * 3600 + 59)), "3days 4h");
    }

    #[test]
    fn null_versions_are_not_deleted_by_id() {
        assert_eq!(real_version(Some("null")), None);
        assert_eq!(real_version(Some("")), None);
        assert_eq!(real_version(None), None);
        assert_eq!(real_version(Some("3HL4kqtJlcpXroDTDmJ")), Some("3HL4kqtJlcpXroDTDmJ"));
    }

    #[test]
    fn a_lock_round_trips_and_describes_its_holder() {
        let info = LockInfo::new("apply", "prod", Some("arn:aws:iam::123456789012:user/ci"));
        let text = serde_json::to_vec(&info).expect("serialize");
        let back: LockInfo = serde_json::from_slice(&text).expect("parse");
        assert_eq!(back, info);
        let shown = back.describe();
        assert!(
            shown.starts_with("apply by arn:aws:iam::123456789012:user/ci on "),
            "{shown}"
        );
        assert!(shown.contains(&format!("pid {}", std::process::id())), "{shown}");
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        for _ in 0..200 {
            let j = jitter(Duration::from_millis(1000));
            assert!((750..=1250).contains(&j.as_millis()), "{j:?}");
        }
    }
}
