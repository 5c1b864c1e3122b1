//! Moving a whole state between this machine and S3: `s3rec state push` (a local database becomes the
//! remote state) and `s3rec state pull` (a local copy of the remote state, for inspection or for going
//! back to the local backend). Both move the SQLite file whole, so resources, the journal, the sync index
//! and migration inventories all go together.

use std::path::{Path, PathBuf};

use super::cache::{self, Sidecar};
use super::lock::{self, LockInfo};
use super::{BackendError, Remote};
use crate::aws::Aws;
use crate::state::StateDb;

/// What a state holds, in a line: for the summary of a push and for what a refused push would overwrite.
pub fn describe(db: &StateDb) -> Result<String, BackendError> {
    let resources = db.resources()?.len();
    let version = db.version()?;
    let last = db
        .runs(1)?
        .into_iter()
        .next()
        .map(|r| format!("; last run: {} #{} started {}", r.command, r.id, r.started_at))
        .unwrap_or_else(|| "; no runs".to_string());
    Ok(format!("{resources} managed resource(s), {version}{last}"))
}

/// What a push did.
#[derive(Debug)]
pub struct Pushed {
    pub etag: String,
    /// What the pushed state holds (see [`describe`]).
    pub summary: String,
    /// What it replaced, when `--force` overwrote a remote state.
    pub replaced: Option<String>,
}

/// Uploads the database at `source` as the remote state, under the lock. An existing remote state is
/// refused unless `force`, with a description of what would be overwritten; with `force` it is replaced
/// by compare-and-swap against the version just read, so a run that wrote in between is not lost.
pub async fn push(
    aws: &Aws,
    remote: &Remote,
    working_copy: &Path,
    source: &Path,
    force: bool,
    who: Option<&str>,
) -> Result<Pushed, BackendError> {
    // Opening the source checks it is an s3rec state (and brings its schema up to date).
    let summary = describe(&StateDb::open(source)?)?;
    let _local = crate::state::lock_run(working_copy)?;
    let held = if remote.lock {
        let info = LockInfo::new("state push", &remote.environment, who);
        Some(lock::acquire(aws, remote, info, None, None).await?)
    } else {
        None
    };
    let result = push_locked(aws, remote, working_copy, source, force, summary).await;
    let released = match &held {
        Some(held) => lock::release(aws, remote, held).await,
        None => Ok(()),
    };
    let pushed = result?;
    released?;
    Ok(pushed)
}

async fn push_locked(
    aws: &Aws,
    remote: &Remote,
    working_copy: &Path,
    source: &Path,
    force: bool,
    summary: String,
) -> Result<Pushed, BackendError> {
    // The remote as it is now, into the working copy: to say what a push would overwrite, and for the
    // compare-and-swap.
    let current = match super::refresh(aws, remote, working_copy).await {
        // The remote state was deleted: this push is what restores it.
        Err(BackendError::Vanished { .. }) => super::Snapshot { etag: None },
        other => other?,
    };
    let replaced = match &current.etag {
        Some(_) => Some(describe(&StateDb::open(working_copy)?)?),
        None => None,
    };
    if let (Some(etag), Some(what), false) = (&current.etag, &replaced, force) {
        return Err(BackendError::WouldOverwrite {
            environment: remote.environment.clone(),
            location: remote.url(),
            etag: etag.clone(),
            what: what.clone(),
        });
    }
    let snapshot = cache::push_path(working_copy);
    cache::snapshot(source, &snapshot)?;
    let etag = super::put_state(aws, remote, &snapshot, current.etag.as_deref()).await?;
    // The pushed snapshot becomes the working copy, so the next run starts from it without a download.
    cache::install(working_copy, &snapshot)?;
    cache::write_sidecar(
        working_copy,
        &Sidecar::new(&remote.bucket, &remote.key, Some(etag.clone()), false),
    )?;
    Ok(Pushed {
        etag,
        summary,
        replaced,
    })
}

/// Writes a copy of the remote state to `out` (refreshing the working copy first). Refuses to replace an
/// existing file unless `force`: it may be a local state with work of its own.
pub async fn pull(
    aws: &Aws,
    remote: &Remote,
    working_copy: &Path,
    out: &Path,
    force: bool,
) -> Result<(PathBuf, String), BackendError> {
    if out.exists() && !force {
        return Err(BackendError::Local {
            what: format!("{} already exists", out.display()),
            detail: "it may be a state with work of its own; move it away, choose another `--out`, or pass \
                     `--force` to replace it"
                .to_string(),
        });
    }
    {
        let _local = crate::state::lock_run(working_copy)?;
        let current = super::refresh(aws, remote, working_copy).await?;
        if current.etag.is_none() && !working_copy.exists() {
            return Err(BackendError::Local {
                what: format!("there is no state at {}", remote.url()),
                detail: format!(
                    "nothing was ever applied to {} with the S3 backend (or `state push` it first)",
                    remote.environment
                ),
            });
        }
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| BackendError::Local {
            what: format!("cannot create {}", parent.display()),
            detail: e.to_string(),
        })?;
    }
    // Written beside the target, then renamed over it: a file at `out` is never half a database.
    let mut partial = out.as_os_str().to_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    cache::snapshot(working_copy, &partial)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = out.as_os_str().to_os_string();
        side.push(suffix);
        std::fs::remove_file(PathBuf::from(side)).ok();
    }
    std::fs::rename(&partial, out).map_err(|e| BackendError::Local {
        what: format!("cannot write {}", out.display()),
        detail: e.to_string(),
    })?;
    let summary = describe(&StateDb::open(out)?)?;
    Ok((out.to_path_buf(), summary))
}
