//! Where the state lives: the local SQLite file, or (`state.backend: s3`) that same file kept in S3 behind
//! a lock object, with every write a compare-and-swap.
//!
//! Every command works on a local SQLite file either way; with the S3 backend it is a working copy
//! (`.s3rec/s3/<env>.db`) that this module keeps in step with the remote object:
//! - a reader ([`refresh`]: `plan`, `state list`, `doctor`) sends one conditional GET, `If-None-Match`
//!   with the ETag of its copy, and downloads only when the remote moved;
//! - a writer ([`lease`]: `apply`, `sync`, `migrate`, `state push`) takes the lock first, then refreshes,
//!   then works; a background task pushes a snapshot every `checkpoint_interval` when something changed,
//!   and [`Lease::finish`] pushes the last one and releases the lock;
//! - every push is `PutObject` with `If-Match` (the ETag this run read or last wrote; `If-None-Match: *`
//!   for the first state), so a run whose lock was broken by hand still never overwrites another's state.
//!
//! docs/state.md describes the design for users.

pub mod cache;
pub mod lock;
pub mod moves;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::aws::state_store::{Condition, Fetched, ObjectRef, WriteOptions, Written};
use crate::aws::{Aws, AwsError};
use crate::manifest::Manifest;
use crate::manifest::types::StateBackend;
use crate::state::{RunLock, StateError};
use cache::Sidecar;
use lock::{HeldLock, LockInfo};

/// How often a long run pushes its progress when the manifest does not say.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// The metadata key that carries the ID of a push, so a push retried after a lost answer can tell its
/// own earlier attempt from another writer's.
const WRITE_ID: &str = "s3rec-write-id";

/// Reads `state.checkpoint_interval` (`30s`, `5m`): at least one second.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    if interval < Duration::from_secs(1) {
        return Err("it is shorter than one second".to_string());
    }
    Ok(interval)
}

/// The S3 backend's settings, resolved.
#[derive(Debug, Clone)]
pub struct Remote {
    pub environment: String,
    pub bucket: String,
    pub key: String,
    pub lock_key: String,
    pub region: String,
    pub kms_key: Option<String>,
    pub lock: bool,
    pub checkpoint_interval: Duration,
}

impl Remote {
    /// The remote state of `manifest`, or `None` for the local backend. `region` is the manifest's
    /// default region, used when `state.region` is left out.
    pub fn of(manifest: &Manifest, environment: &str, region: &str) -> Option<Remote> {
        let s = &manifest.state;
        match s.backend {
            StateBackend::Local => return None,
            StateBackend::S3 => {}
        }
        let key = s
            .key
            .clone()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| default_key(environment));
        Some(Remote {
            environment: environment.to_string(),
            // Validation refuses `backend: s3` without a bucket, so an empty name cannot reach AWS.
            bucket: s.bucket.clone().unwrap_or_default(),
            lock_key: lock_key(&key),
            key,
            region: s.region.clone().unwrap_or_else(|| region.to_string()),
            kms_key: s.kms_key.clone(),
            lock: s.lock.unwrap_or(true),
            checkpoint_interval: s
                .checkpoint_interval
                .as_deref()
                .and_then(|t| parse_interval(t).ok())
                .unwrap_or(DEFAULT_CHECKPOINT_INTERVAL),
        })
    }

    pub fn state_object(&self) -> ObjectRef<'_> {
        ObjectRef {
            bucket: &self.bucket,
            key: &self.key,
            region: &self.region,
        }
    }

    pub fn lock_object(&self) -> ObjectRef<'_> {
        ObjectRef {
            bucket: &self.bucket,
            key: &self.lock_key,
            region: &self.region,
        }
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    pub fn lock_url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.lock_key)
    }
}

/// The state key of an environment when `state.key` is left out.
pub fn default_key(environment: &str) -> String {
    format!("s3rec/{environment}.db")
}

/// The lock object's key: the state key with `.lock` appended, so one listing prefix finds both.
pub fn lock_key(key: &str) -> String {
    format!("{key}.lock")
}

/// Why the state backend could not be used. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Aws(Box<AwsError>),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{what}: {detail}")]
    Local { what: String, detail: String },
    #[error(
        "the state of {environment} is locked: {holder}{}. Wait for that run to finish{}; if it is certainly \
         gone (killed, its runner lost), remove the lock with `s3rec state unlock -e {environment} {}`",
        waited.map(|w| format!(" (waited {})", lock::age_text(w))).unwrap_or_default(),
        if waited.is_none() { " or pass `--lock-timeout 10m` to wait for it" } else { "" },
        lock_id.as_deref().unwrap_or("LOCK_ID")
    )]
    LockHeld {
        environment: String,
        location: String,
        holder: String,
        lock_id: Option<String>,
        waited: Option<Duration>,
    },
    #[error(
        "the server at {endpoint} ignores conditional writes: a second `PutObject` with `If-None-Match: *` of \
         {location} succeeded, so its lock would not keep two runs apart and its compare-and-swap would not \
         stop a lost update. Use a server that supports conditional writes (AWS S3, recent MinIO or Ceph), or \
         set `state.lock: false` in the manifest to run without the protection, knowing that nothing then stops \
         two runs at once"
    )]
    ConditionsIgnored { endpoint: String, location: String },
    #[error(
        "someone else wrote the state {location} since this run read it (it expected ETag {expected}): this \
         run's state was not written, so nothing was overwritten. {}Run the command again: it reads the new \
         state, and plans from it",
        match saved { Some(path) => format!("This run's copy is kept in {}. ", path.display()), None => String::new() }
    )]
    Conflict {
        location: String,
        expected: String,
        saved: Option<PathBuf>,
    },
    #[error(
        "the state {location} is gone: this machine's copy was made from ETag {etag}, but there is no object \
         there now. If it was deleted by mistake, restore its last version (the state bucket should be \
         versioned), or upload this machine's copy with `s3rec state push -e {environment} --from {}`",
        copy.display()
    )]
    Vanished {
        environment: String,
        location: String,
        etag: String,
        copy: PathBuf,
    },
    #[error(
        "{location} already holds the state of {environment} (ETag {etag}: {what}); `state push` does not \
         overwrite it. Pull it first (`s3rec state pull -e {environment}`) to see what it holds, and pass \
         `--force` only if the pushed state should replace it"
    )]
    WouldOverwrite {
        environment: String,
        location: String,
        etag: String,
        what: String,
    },
    #[error(
        "the state could not be written to {location} ({source}); this run's changes are in {} only.{} Run the \
         command again here once S3 is reachable: it pushes them{}",
        copy.display(),
        match lock_id {
            Some(id) => format!(" The lock {id} is kept, so that no other run works from a state without them."),
            None => String::new(),
        },
        match lock_id {
            Some(id) => format!(" (and takes the lock over); if this machine's copy is lost, `s3rec state unlock -e {environment} {id}` frees the lock"),
            None => String::new(),
        }
    )]
    Unpushed {
        location: String,
        copy: PathBuf,
        environment: String,
        lock_id: Option<String>,
        source: Box<BackendError>,
    },
    #[error(
        "the state bucket {bucket} of {environment} does not exist ({message}). s3rec never creates it: it lives \
         outside the manifest, since it holds the state of the manifest that would create it. Create it once, \
         versioned, private and encrypted (docs/state.md shows how), or correct `state.bucket`/`state.region`; \
         `s3rec doctor -e {environment}` checks it"
    )]
    NoStateBucket {
        environment: String,
        bucket: String,
        message: String,
    },
    #[error("there is no state lock at {location}: environment {environment} is not locked")]
    NoLock { environment: String, location: String },
    #[error(
        "the state lock of {environment} is not `{asked}`: it is {holder}. Nothing was removed; check who holds \
         it, and pass its ID if it is truly stale"
    )]
    OtherLock {
        environment: String,
        asked: String,
        holder: String,
    },
}

impl BackendError {
    /// An AWS error met on the state or lock object of `remote`; a missing bucket gets its own message,
    /// because it is what a first run against a new state location meets.
    pub(crate) fn at(remote: &Remote, e: AwsError) -> BackendError {
        if e.code() == Some("NoSuchBucket") {
            return BackendError::NoStateBucket {
                environment: remote.environment.clone(),
                bucket: remote.bucket.clone(),
                message: e.to_string(),
            };
        }
        BackendError::Aws(Box::new(e))
    }
}

/// The working copy after a refresh: where it is, and which remote version it matches.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The ETag of the remote state, `None` when there is none yet (or for the local backend).
    pub etag: Option<String>,
}

/// Brings the working copy at `db` up to date with the remote state for reading. One conditional GET;
/// the body is downloaded only when the remote moved. The local backend needs nothing.
///
/// A copy with unpushed work (a run here was killed) is kept when the remote did not move (the next
/// locked run pushes it), and set aside, with a warning, when it did.
pub async fn refresh(aws: &Aws, remote: &Remote, db: &Path) -> Result<Snapshot, BackendError> {
    let sidecar = cache::read_sidecar(db, &remote.bucket, &remote.key);
    let download = cache::download_path(db);
    if let Some(parent) = db.parent() {
        std::fs::create_dir_all(parent).map_err(|e| BackendError::Local {
            what: format!("cannot create {}", parent.display()),
            detail: e.to_string(),
        })?;
    }
    let cached_etag = sidecar.as_ref().and_then(|s| s.etag.clone());
    let fetched = aws
        .fetch_if_changed(remote.state_object(), cached_etag.as_deref(), &download)
        .await
        .map_err(|e| BackendError::at(remote, e))?;
    match fetched {
        Fetched::Unchanged => {
            if sidecar.as_ref().is_some_and(|s| s.dirty) {
                eprintln!(
                    "note: {} holds state changes of an interrupted run on this machine that {} does not have yet; \
                     the next apply, sync or migrate pushes them",
                    db.display(),
                    remote.url()
                );
            }
            Ok(Snapshot { etag: cached_etag })
        }
        Fetched::Missing => match sidecar {
            Some(Sidecar { etag: Some(etag), .. }) => Err(BackendError::Vanished {
                environment: remote.environment.clone(),
                location: remote.url(),
                etag,
                copy: db.to_path_buf(),
            }),
            Some(_) => Ok(Snapshot { etag: None }),
            None => {
                // No remote state and no copy of it: start from an empty state. A stray file at the
                // copy's path (from another location) is kept aside rather than taken for this state.
                if db.exists() {
                    let aside = cache::set_aside(db)?;
                    eprintln!(
                        "note: {} was not a copy of {}; it was kept as {}",
                        db.display(),
                        remote.url(),
                        aside.display()
                    );
                    remove_db(db)?;
                }
                cache::write_sidecar(db, &Sidecar::new(&remote.bucket, &remote.key, None, false))?;
                Ok(Snapshot { etag: None })
            }
        },
        Fetched::Body { stored, .. } => {
            if sidecar.as_ref().is_some_and(|s| s.dirty) || (sidecar.is_none() && db.exists()) {
                let aside = cache::set_aside(db)?;
                eprintln!(
                    "warning: {} moved on while {} held changes that were never pushed (an interrupted run on this \
                     machine); they are kept in {} and the remote state is used",
                    remote.url(),
                    db.display(),
                    aside.display()
                );
            }
            cache::install(db, &download)?;
            cache::write_sidecar(
                db,
                &Sidecar::new(&remote.bucket, &remote.key, Some(stored.etag.clone()), false),
            )?;
            Ok(Snapshot {
                etag: Some(stored.etag),
            })
        }
    }
}

fn remove_db(db: &Path) -> Result<(), BackendError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        match std::fs::remove_file(PathBuf::from(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(BackendError::Local {
                    what: format!("cannot remove {}", db.display()),
                    detail: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// What a run that changes the state asks for.
#[derive(Debug, Clone)]
pub struct LeaseRequest<'a> {
    /// The command, as the lock names it: `apply`, `sync`, `migrate run`, `state push`.
    pub operation: &'a str,
    /// The caller's ARN for the lock, when known.
    pub who: Option<&'a str>,
    /// How long to wait for another run's lock; `None` fails at once.
    pub lock_timeout: Option<Duration>,
}

/// A run's hold on the state: the local run lock, and with the S3 backend the remote lock, the ETag to
/// compare-and-swap against, and the checkpoint task. End it with [`Lease::finish`].
pub struct Lease {
    _local: Vec<RunLock>,
    remote: Option<RemoteLease>,
}

struct RemoteLease {
    aws: Arc<Aws>,
    remote: Remote,
    db: PathBuf,
    lock: Option<HeldLock>,
    stop: watch::Sender<bool>,
    checkpoints: tokio::task::JoinHandle<Pusher>,
}

/// The push side of a lease: the ETag the next push must match, and what was last pushed.
struct Pusher {
    etag: Option<String>,
    /// `PRAGMA data_version` of `conn` at the last push: it changes when another connection commits.
    pushed_version: Option<i64>,
    conn: Option<rusqlite::Connection>,
    /// The copy holds work from before this run (a killed run here) that must be pushed even when this
    /// run changes nothing.
    must_push: bool,
    failure: Option<BackendError>,
    pushes: u32,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("remote", &self.remote.as_ref().map(|r| r.remote.url()))
            .finish_non_exhaustive()
    }
}

/// Takes the state for a run that changes it. Local backend: the OS file lock beside the database.
/// S3 backend: that, then the lock object, then a refresh under the lock; the copy is marked as
/// changing, and checkpoints start.
pub async fn lease(
    aws: Option<&Arc<Aws>>,
    remote: Option<&Remote>,
    db: &Path,
    request: LeaseRequest<'_>,
    local_locks: impl FnOnce() -> Result<Vec<RunLock>, StateError>,
) -> Result<Lease, BackendError> {
    let (Some(aws), Some(remote)) = (aws, remote) else {
        return Ok(Lease {
            _local: local_locks()?,
            remote: None,
        });
    };
    if let Some(parent) = db.parent() {
        std::fs::create_dir_all(parent).map_err(|e| BackendError::Local {
            what: format!("cannot create {}", parent.display()),
            detail: e.to_string(),
        })?;
    }
    let local = local_locks()?;
    let kept = cache::read_sidecar(db, &remote.bucket, &remote.key).and_then(|s| s.kept_lock);
    let held = if remote.lock {
        let info = LockInfo::new(request.operation, &remote.environment, request.who);
        Some(lock::acquire(aws, remote, info, request.lock_timeout, kept.as_ref()).await?)
    } else {
        None
    };
    let refreshed = async {
        let before = cache::read_sidecar(db, &remote.bucket, &remote.key);
        let snapshot = refresh(aws, remote, db).await?;
        // A copy that was dirty and is still in place (the remote did not move) is this machine's
        // unpushed work: this run pushes it.
        let must_push = before.is_some_and(|s| s.dirty)
            && cache::read_sidecar(db, &remote.bucket, &remote.key).is_some_and(|s| s.dirty);
        cache::write_sidecar(
            db,
            &Sidecar::new(&remote.bucket, &remote.key, snapshot.etag.clone(), true),
        )?;
        Ok::<_, BackendError>((snapshot, must_push))
    }
    .await;
    let (snapshot, must_push) = match refreshed {
        Ok(r) => r,
        Err(e) => {
            if let Some(held) = &held {
                lock::release(aws, remote, held).await.ok();
            }
            return Err(e);
        }
    };
    let mut pusher = Pusher {
        etag: snapshot.etag,
        pushed_version: None,
        conn: None,
        must_push,
        failure: None,
        pushes: 0,
    };
    // The checkpoint task compares `data_version` with what it saw at the start, so the connection is
    // opened before this run writes anything. A state that does not exist yet is created by the run's
    // own `StateDb::open` later; the first checkpoint then pushes it.
    if db.exists() {
        pusher.watch(db);
    }
    let (stop, stopped) = watch::channel(false);
    let checkpoints = tokio::spawn(checkpoint_loop(
        Arc::clone(aws),
        remote.clone(),
        db.to_path_buf(),
        pusher,
        stopped,
    ));
    Ok(Lease {
        _local: local,
        remote: Some(RemoteLease {
            aws: Arc::clone(aws),
            remote: remote.clone(),
            db: db.to_path_buf(),
            lock: held,
            stop,
            checkpoints,
        }),
    })
}

impl Pusher {
    /// Opens the connection whose `data_version` tells whether anything changed since the last push.
    fn watch(&mut self, db: &Path) {
        match rusqlite::Connection::open_with_flags(
            db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) {
            Ok(conn) => {
                self.pushed_version = data_version(&conn);
                self.conn = Some(conn);
            }
            Err(e) => tracing::debug!("cannot watch {} for changes yet: {e}", db.display()),
        }
    }

    /// Whether the copy holds anything the remote does not.
    fn changed(&self) -> bool {
        if self.must_push || self.etag.is_none() {
            return true;
        }
        match &self.conn {
            Some(conn) => data_version(conn) != self.pushed_version,
            None => true,
        }
    }

    /// Uploads a snapshot of the copy with compare-and-swap, and moves the expected ETag on.
    async fn push(&mut self, aws: &Aws, remote: &Remote, db: &Path) -> Result<(), BackendError> {
        if self.conn.is_none() && db.exists() {
            self.watch(db);
        }
        let version = self.conn.as_ref().and_then(data_version);
        let snapshot = cache::push_path(db);
        let (from, to) = (db.to_path_buf(), snapshot.clone());
        let started = Instant::now();
        tokio::task::spawn_blocking(move || cache::snapshot(&from, &to))
            .await
            .map_err(|e| BackendError::Local {
                what: "the state snapshot".to_string(),
                detail: e.to_string(),
            })??;
        let snapshot_time = started.elapsed();
        let bytes = std::fs::metadata(&snapshot).map(|m| m.len()).unwrap_or(0);
        let etag = match put_state(aws, remote, &snapshot, self.etag.as_deref()).await {
            Ok(etag) => etag,
            // Someone else wrote: this run's copy is kept beside the working copy, which the next
            // refresh replaces.
            Err(BackendError::Conflict { location, expected, .. }) => {
                return Err(BackendError::Conflict {
                    location,
                    expected,
                    saved: cache::set_aside(db).ok(),
                });
            }
            Err(e) => return Err(e),
        };
        std::fs::remove_file(&snapshot).ok();
        tracing::info!(
            "pushed the state to {} ({bytes} bytes): snapshot {:.2}s, upload {:.2}s",
            remote.url(),
            snapshot_time.as_secs_f64(),
            (started.elapsed() - snapshot_time).as_secs_f64()
        );
        self.etag = Some(etag.clone());
        self.pushed_version = version;
        self.must_push = false;
        self.pushes += 1;
        cache::write_sidecar(db, &Sidecar::new(&remote.bucket, &remote.key, Some(etag), true))
    }
}

/// Uploads `snapshot` as the remote state if the remote still has `expected` (`None`: if there is none
/// yet), and returns the new ETag. A failed condition is [`BackendError::Conflict`] unless the object is
/// this push's own earlier attempt (the SDK retries, an answer gets lost), which its write ID tells.
pub(crate) async fn put_state(
    aws: &Aws,
    remote: &Remote,
    snapshot: &Path,
    expected: Option<&str>,
) -> Result<String, BackendError> {
    let write_id = uuid::Uuid::new_v4().to_string();
    let metadata = [(WRITE_ID, write_id.as_str())];
    let options = WriteOptions {
        kms_key: remote.kms_key.as_deref(),
        content_type: "application/vnd.sqlite3",
        metadata: &metadata,
    };
    let condition = match expected {
        Some(etag) => Condition::Matches(etag),
        None => Condition::Absent,
    };
    match aws
        .put_file_if(remote.state_object(), snapshot, condition, options)
        .await
    {
        Ok(Written::Written(stored)) => Ok(stored.etag),
        Ok(Written::ConditionFailed) => match own_write(aws, remote, &write_id).await {
            Some(etag) => Ok(etag),
            None => Err(BackendError::Conflict {
                location: remote.url(),
                expected: expected.unwrap_or("none (no state yet)").to_string(),
                saved: None,
            }),
        },
        Err(e) if e.is_ambiguous() => match own_write(aws, remote, &write_id).await {
            Some(etag) => Ok(etag),
            None => Err(BackendError::at(remote, e)),
        },
        Err(e) => Err(BackendError::at(remote, e)),
    }
}

/// The ETag of the remote state if its last write carries `write_id`.
async fn own_write(aws: &Aws, remote: &Remote, write_id: &str) -> Option<String> {
    match aws.head_state_object(remote.state_object()).await {
        Ok(Some((stored, metadata))) if metadata.get(WRITE_ID).map(String::as_str) == Some(write_id) => {
            Some(stored.etag)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("cannot read back {} after an unclear write: {e}", remote.url());
            None
        }
    }
}

fn data_version(conn: &rusqlite::Connection) -> Option<i64> {
    conn.pragma_query_value(None, "data_version", |row| row.get(0)).ok()
}

/// Pushes a snapshot every `checkpoint_interval` while anything changed, until told to stop. A push that
/// finds the remote moved ends the checkpoints (the run's final push reports it); other failures are
/// warnings, and the next interval tries again.
async fn checkpoint_loop(
    aws: Arc<Aws>,
    remote: Remote,
    db: PathBuf,
    mut pusher: Pusher,
    mut stopped: watch::Receiver<bool>,
) -> Pusher {
    loop {
        tokio::select! {
            () = tokio::time::sleep(remote.checkpoint_interval) => {}
            _ = stopped.changed() => return pusher,
        }
        if !pusher.changed() {
            continue;
        }
        match pusher.push(&aws, &remote, &db).await {
            Ok(()) => tracing::debug!("checkpoint {} of {}", pusher.pushes, remote.url()),
            Err(e @ BackendError::Conflict { .. }) => {
                crate::output::print_error(format_args!("checkpoint of the state refused: {e}"));
                pusher.failure = Some(e);
                return pusher;
            }
            Err(e) => eprintln!("warning: checkpoint of the state failed (the next one retries): {e}"),
        }
    }
}

impl Lease {
    /// Ends the run's hold: stops the checkpoints, pushes what changed (compare-and-swap), marks the copy
    /// clean, and releases the locks. The lock is released even when the push fails; the copy then stays
    /// marked as holding unpushed work, so the next run here pushes it or sets it aside.
    pub async fn finish(self) -> Result<(), BackendError> {
        let Some(r) = self.remote else {
            return Ok(());
        };
        r.stop.send(true).ok();
        let pushed = match r.checkpoints.await {
            Ok(mut pusher) => match pusher.failure.take() {
                Some(e) => Err(e),
                None if pusher.changed() => pusher.push(&r.aws, &r.remote, &r.db).await.map(|()| pusher),
                None => Ok(pusher),
            },
            Err(e) => Err(BackendError::Local {
                what: "the checkpoint task".to_string(),
                detail: e.to_string(),
            }),
        };
        match pushed {
            Ok(pusher) => {
                let clean = cache::write_sidecar(
                    &r.db,
                    &Sidecar::new(&r.remote.bucket, &r.remote.key, pusher.etag.clone(), false),
                );
                let released = match &r.lock {
                    Some(held) => lock::release(&r.aws, &r.remote, held).await,
                    None => Ok(()),
                };
                clean.and(released)
            }
            // Someone else wrote the state: this run's copy is set aside, and the lock (if it is still
            // ours) goes, since the remote state is theirs now.
            Err(e @ BackendError::Conflict { .. }) => {
                if let Some(held) = &r.lock {
                    lock::release(&r.aws, &r.remote, held).await.ok();
                }
                Err(e)
            }
            // The work of this run is only in the working copy. Releasing the lock would let another run
            // plan from a state without it, so the lock is kept, and recorded, for the next run here.
            Err(e) => {
                let lock_id = r.lock.as_ref().map(|held| {
                    let mut sidecar = cache::read_sidecar(&r.db, &r.remote.bucket, &r.remote.key)
                        .unwrap_or_else(|| Sidecar::new(&r.remote.bucket, &r.remote.key, None, true));
                    sidecar.dirty = true;
                    sidecar.kept_lock = Some(held.kept());
                    if let Err(e) = cache::write_sidecar(&r.db, &sidecar) {
                        tracing::warn!("cannot record the kept lock: {e}");
                    }
                    held.info.id.clone()
                });
                Err(BackendError::Unpushed {
                    location: r.remote.url(),
                    copy: r.db.clone(),
                    environment: r.remote.environment.clone(),
                    lock_id,
                    source: Box::new(e),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_durations_of_at_least_a_second() {
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval(" 5m "), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_interval("500ms").is_err());
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("").is_err());
    }

    fn manifest(state: &str) -> Manifest {
        let parsed = serde_json::json!({
            "environment": "prod",
            "state": serde_json::from_str::<serde_json::Value>(state).expect("state json"),
        });
        serde_json::from_value(parsed).expect("manifest")
    }

    #[test]
    fn the_remote_of_a_manifest_fills_in_key_lock_region_and_interval() {
        let m = manifest(r#"{"backend": "s3", "bucket": "acme-state"}"#);
        let r = Remote::of(&m, "prod", "eu-west-1").expect("s3 backend");
        assert_eq!(r.url(), "s3://acme-state/s3rec/prod.db");
        assert_eq!(r.lock_url(), "s3://acme-state/s3rec/prod.db.lock");
        assert_eq!(r.region, "eu-west-1");
        assert!(r.lock);
        assert_eq!(r.checkpoint_interval, DEFAULT_CHECKPOINT_INTERVAL);
        assert_eq!(r.kms_key, None);

        let m = manifest(
            r#"{"backend": "s3", "bucket": "b", "key": "team/x.db", "region": "us-west-2", "kms_key": "alias/k", "lock": false, "checkpoint_interval": "15s"}"#,
        );
        let r = Remote::of(&m, "prod", "eu-west-1").expect("s3 backend");
        assert_eq!((r.key.as_str(), r.lock_key.as_str()), ("team/x.db", "team/x.db.lock"));
        assert_eq!(r.region, "us-west-2");
        assert_eq!(r.kms_key.as_deref(), Some("alias/k"));
        assert!(!r.lock);
        assert_eq!(r.checkpoint_interval, Duration::from_secs(15));

        assert!(Remote::of(&manifest(r#"{"backend": "local"}"#), "prod", "eu-west-1").is_none());
    }
}
