//! The local working copy of a remote state: the SQLite file every command opens, and a small JSON file
//! beside it (`<db>.remote.json`) that says which remote version the copy was made from and whether a
//! run has changed it since.
//!
//! The copy is only ever replaced whole, by renaming a complete download over it after its `-wal` and
//! `-shm` files were removed (SQLite would otherwise replay an old write-ahead log into the new file).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::BackendError;

/// What the sidecar records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    pub bucket: String,
    pub key: String,
    /// The ETag of the remote state this copy is (or, when `dirty`, started from); `None` when there
    /// was no remote state yet.
    pub etag: Option<String>,
    /// A run has changed the copy since it matched `etag`, and not pushed all of it: the copy holds work
    /// the remote does not have (a run that was killed, or whose last push failed).
    pub dirty: bool,
    /// The lock a run here kept because its last push failed: nobody else may work from a remote state
    /// that lacks this copy's work, and the next run here takes the lock over and pushes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_lock: Option<KeptLock>,
}

/// A lock kept by a run on this machine (see [`Sidecar::kept_lock`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptLock {
    pub id: String,
    pub version_id: Option<String>,
}

impl Sidecar {
    /// A sidecar for a copy of `bucket`/`key` made from `etag`.
    pub fn new(bucket: &str, key: &str, etag: Option<String>, dirty: bool) -> Sidecar {
        Sidecar {
            bucket: bucket.to_string(),
            key: key.to_string(),
            etag,
            dirty,
            kept_lock: None,
        }
    }
}

fn sidecar_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(".remote.json");
    PathBuf::from(name)
}

fn with_suffix(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn local(what: &str, path: &Path, e: impl std::fmt::Display) -> BackendError {
    BackendError::Local {
        what: format!("{what} {}", path.display()),
        detail: e.to_string(),
    }
}

/// The sidecar of the copy at `db`, if it describes a copy of `bucket`/`key` (a copy of another
/// location, after `state.bucket` or `state.key` changed, is not one).
pub fn read_sidecar(db: &Path, bucket: &str, key: &str) -> Option<Sidecar> {
    let text = std::fs::read_to_string(sidecar_path(db)).ok()?;
    let sidecar: Sidecar = serde_json::from_str(&text).ok()?;
    (sidecar.bucket == bucket && sidecar.key == key && db.exists()).then_some(sidecar)
}

/// Writes the sidecar atomically (a temporary file renamed over it).
pub fn write_sidecar(db: &Path, sidecar: &Sidecar) -> Result<(), BackendError> {
    let path = sidecar_path(db);
    let tmp = with_suffix(&path, ".tmp");
    let text = serde_json::to_string_pretty(sidecar).map_err(|e| local("cannot write", &path, e))?;
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| local("cannot write", &path, e))
}

/// Where a download goes before it replaces the copy.
pub fn download_path(db: &Path) -> PathBuf {
    with_suffix(db, ".download")
}

/// Makes the downloaded file the copy. The caller holds the local run lock, so no s3rec process has the
/// old copy open.
pub fn install(db: &Path, downloaded: &Path) -> Result<(), BackendError> {
    if let Some(parent) = db.parent() {
        std::fs::create_dir_all(parent).map_err(|e| local("cannot create", parent, e))?;
    }
    for suffix in ["-wal", "-shm"] {
        let side = with_suffix(db, suffix);
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(local("cannot remove", &side, e)),
        }
    }
    std::fs::rename(downloaded, db).map_err(|e| local("cannot replace", db, e))
}

/// Keeps a copy with work the remote does not have beside the copy, under a name that says when, and
/// returns where. Nothing s3rec recorded is ever thrown away silently.
pub fn set_aside(db: &Path) -> Result<PathBuf, BackendError> {
    let stamp = crate::state::now_rfc3339().replace(':', "-");
    let aside = with_suffix(db, &format!(".unpushed-{stamp}.db"));
    snapshot(db, &aside)?;
    Ok(aside)
}

/// A consistent, compact copy of the database at `db` in `to` (`VACUUM INTO`): what a push uploads. It
/// reads one transaction's view, so writers of other connections may go on meanwhile.
pub fn snapshot(db: &Path, to: &Path) -> Result<(), BackendError> {
    match std::fs::remove_file(to) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(local("cannot remove", to, e)),
    }
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| local("cannot open", db, e))?;
    vacuum_into(&conn, to).map_err(|e| local("cannot copy", db, e))
}

/// `VACUUM INTO` on an open connection.
pub fn vacuum_into(conn: &Connection, to: &Path) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = to.to_string_lossy();
    conn.execute("VACUUM INTO ?1", [target.as_ref()])?;
    Ok(())
}

/// Where a push's snapshot is written.
pub fn push_path(db: &Path) -> PathBuf {
    with_suffix(db, ".push")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sidecar_of_another_location_is_not_this_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("prod.db");
        std::fs::write(&db, b"").expect("db");
        let sidecar = Sidecar::new("b", "s3rec/prod.db", Some("abc".to_string()), false);
        write_sidecar(&db, &sidecar).expect("write");
        assert_eq!(read_sidecar(&db, "b", "s3rec/prod.db"), Some(sidecar));
        assert_eq!(read_sidecar(&db, "other", "s3rec/prod.db"), None);
        assert_eq!(read_sidecar(&db, "b", "s3rec/other.db"), None);
        std::fs::remove_file(&db).expect("rm");
        assert_eq!(read_sidecar(&db, "b", "s3rec/prod.db"), None, "no copy, no sidecar");
    }

    #[test]
    fn installing_a_download_drops_the_old_write_ahead_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("prod.db");
        for (path, text) in [
            (&db, "old"),
            (&with_suffix(&db, "-wal"), "wal"),
            (&with_suffix(&db, "-shm"), "shm"),
        ] {
            std::fs::write(path, text).expect("write");
        }
        let downloaded = download_path(&db);
        std::fs::write(&downloaded, "new").expect("download");
        install(&db, &downloaded).expect("install");
        assert_eq!(std::fs::read_to_string(&db).expect("read"), "new");
        assert!(!with_suffix(&db, "-wal").exists());
        assert!(!with_suffix(&db, "-shm").exists());
        assert!(!downloaded.exists());
    }

    #[test]
    fn a_snapshot_is_a_readable_copy_and_set_aside_keeps_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("prod.db");
        let state = crate::state::StateDb::open(&db).expect("open");
        let version = state.version().expect("version");
        let to = push_path(&db);
        snapshot(&db, &to).expect("snapshot");
        let copy = crate::state::StateDb::open(&to).expect("open copy");
        assert_eq!(copy.version().expect("version"), version);
        let aside = set_aside(&db).expect("aside");
        assert!(aside.to_string_lossy().contains(".unpushed-"), "{}", aside.display());
        assert_eq!(
            crate::state::StateDb::open(&aside).expect("open").version().expect("v"),
            version
        );
    }
}
