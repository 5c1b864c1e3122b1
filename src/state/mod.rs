//! The state database: what s3rec manages in one environment, and what every run did.
//!
//! One SQLite file per environment (`.s3rec/<env>.db` by default) holds three things:
//! - `resources`: every managed resource by address, with the serialized [`plan::Value`] last applied
//!   and its SHA-256, so a later plan knows what s3rec owns and what it last wrote;
//! - `runs`: one row per `apply` (or other mutating command), with the plan it executed and how it ended;
//! - `journal`: one row per action of a run, written *before* the AWS call and finished after it, so a
//!   crash leaves a `started` row saying the action may be half-done.
//!
//! The API is synchronous and meant for one task at a time (the executor's); every write is its own
//! short transaction (or, through [`StateDb::atomically`], a few writes that belong together), so readers in other processes (`s3rec state list`, `sqlite3`) never block a run.
//! docs/state.md describes the schema and how to inspect it.
//!
//! [`plan::Value`]: crate::plan::Value

pub mod inventory;
mod journal;
pub mod migrations;
pub mod sync_index;
pub mod time;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use journal::{JournalEntry, Outcome, RunOutcome, RunRecord};
pub use time::now_rfc3339;

use crate::manifest::types::StateSettings;
pub use crate::plan::StateVersion;
use crate::plan::{Address, Value};

/// Directory, under the project root, of the default state databases.
pub const STATE_DIR: &str = ".s3rec";

/// How long a write waits for another process's write to finish before giving up. Writes are single
/// short transactions, so anything longer than this means a process is stuck holding the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the state database could not be used. Every message says what to do about it.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    #[error("cannot create the state directory {path}: {source}; check that the project directory is writable")]
    #[diagnostic(code(s3rec::state::create_dir))]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another s3rec run holds the state database {path}; wait for it to finish and retry (if no s3rec is \
         running, close any other program that has the file open, such as an sqlite3 shell in a transaction)"
    )]
    #[diagnostic(code(s3rec::state::locked))]
    Locked { path: String },
    #[error(
        "another s3rec run is working on this (it holds {path}); wait for it to finish: two applies (or syncs) \
         of one environment, or two runs of one migration, never interleave"
    )]
    #[diagnostic(code(s3rec::state::busy))]
    RunInProgress { path: String },
    #[error("cannot open the run lock {path}: {source}; check that the state directory is writable")]
    #[diagnostic(code(s3rec::state::lock_file))]
    LockFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the state database {path} has schema version {found}, but this s3rec understands versions up to \
         {supported}; a newer s3rec wrote it, so upgrade s3rec (older binaries never modify a newer state)"
    )]
    #[diagnostic(code(s3rec::state::too_new))]
    SchemaTooNew { path: String, found: u32, supported: u32 },
    #[error(
        "{path} is not an s3rec state database ({reason}); point `state.path` in the manifest at another \
         file, or move this one away"
    )]
    #[diagnostic(code(s3rec::state::not_state))]
    NotStateDb { path: String, reason: String },
    #[error(
        "cannot upgrade the state database {path} to schema version {version}: {source}; the database was \
         left at version {previous}, unchanged; fix the cause (disk space, permissions) and run s3rec again"
    )]
    #[diagnostic(code(s3rec::state::migration))]
    Migration {
        path: String,
        version: u32,
        previous: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the recorded value of {address} in {path} cannot be read ({reason}); if a newer s3rec wrote it, \
         upgrade s3rec; otherwise the file was edited or damaged: restore it from a backup"
    )]
    #[diagnostic(code(s3rec::state::unreadable))]
    Unreadable {
        path: String,
        address: String,
        reason: String,
    },
    #[error(
        "the state database {path} is damaged ({source}); restore it from a backup (see docs/state.md) or \
         move it away and re-import the estate"
    )]
    #[diagnostic(code(s3rec::state::corrupt))]
    Corrupt {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{what} in {path}: this is a bug in s3rec; please report it with the output of `s3rec state journal`")]
    #[diagnostic(code(s3rec::state::misuse))]
    Misuse { path: String, what: String },
    #[error("state database {path}: {source}; check that the file and its directory are readable and writable")]
    #[diagnostic(code(s3rec::state::sqlite))]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
}

/// Where the local state database of `environment` lives: `state.path` relative to the project root when
/// the manifest sets it (an absolute path is used as is), `.s3rec/<env>.db` otherwise.
pub fn state_path(project_root: &Path, environment: &str, settings: &StateSettings) -> PathBuf {
    match settings.path.as_deref() {
        Some(path) if !path.is_empty() => project_root.join(path),
        _ => project_root.join(STATE_DIR).join(format!("{environment}.db")),
    }
}

/// Takes the environment's run lock (`<state>.lock` beside the database at `db`, an exclusive OS file
/// lock) for as long as the returned guard lives. Apply holds it from before its first change to after its
/// last, so two runs on this machine never change one environment at once; the OS releases it if s3rec
/// dies. (Runs on other machines are kept apart by the S3 backend's lock object.)
pub fn lock_run(db: &Path) -> Result<RunLock, StateError> {
    lock_file(db.with_extension("lock"))
}

/// Takes the run lock of one migration (`<state>.migrate-NAME.lock`). A migration can run for days while
/// restores finish; with the local backend it must not keep `apply` or `sync` of the environment waiting,
/// only a second run of the same migration.
pub fn lock_migration(db: &Path, name: &str) -> Result<RunLock, StateError> {
    let file = format!(
        "{}.migrate-{name}.lock",
        db.file_stem().and_then(|s| s.to_str()).unwrap_or("state")
    );
    lock_file(db.with_file_name(file))
}

fn lock_file(path: PathBuf) -> Result<RunLock, StateError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| StateError::CreateDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StateError::LockFile {
            path: path.display().to_string(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(RunLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(StateError::RunInProgress {
            path: path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StateError::LockFile {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Holds the run lock of an environment; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

/// The id of a run (a row of `runs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The id of a journal entry (a row of `journal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(pub i64);

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One managed resource as recorded after it was applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    pub address: Address,
    /// What the resource is: `bucket`, or `bucket_<document>` (`bucket_lifecycle`) for a bucket's
    /// configuration document. See [`kind_of`].
    pub kind: String,
    /// Physical name (the bucket name for a bucket and for its documents).
    pub name: String,
    pub region: String,
    /// The value last applied, exactly as the plan carried it.
    pub value: Value,
    pub force_destroy: bool,
    pub prevent_destroy: bool,
    /// When it was applied (RFC 3339 UTC, see [`now_rfc3339`]).
    pub applied_at: String,
    /// The run that applied it, when it came from a recorded run.
    pub run_id: Option<RunId>,
}

impl ResourceRecord {
    /// A record of `value` applied now, with the kind derived from the value and both destroy guards off.
    pub fn new(address: Address, name: &str, region: &str, value: Value, run_id: Option<RunId>) -> ResourceRecord {
        ResourceRecord {
            address,
            kind: kind_of(&value),
            name: name.to_string(),
            region: region.to_string(),
            value,
            force_destroy: false,
            prevent_destroy: false,
            applied_at: now_rfc3339(),
            run_id,
        }
    }

    /// The JSON text stored for the value. `serde_json` writes struct fields in declaration order and
    /// maps in insertion order, so the same value always gives the same text and the same hash.
    pub fn value_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.value)
    }

    /// SHA-256 (lowercase hex) of [`ResourceRecord::value_json`].
    pub fn value_sha256(&self) -> Result<String, serde_json::Error> {
        Ok(sha256_hex(self.value_json()?.as_bytes()))
    }
}

/// The `kind` recorded for a value: `bucket` for a bucket, `bucket_<document>` for its documents,
/// `iam_*`/`sns_*` for IAM and SNS resources and their parts.
pub fn kind_of(value: &Value) -> String {
    match value {
        Value::Bucket { .. } => "bucket".to_string(),
        Value::Doc(doc) => format!("bucket_{}", doc.kind().as_str()),
        Value::Identity(doc) => {
            use crate::model::identity::IdentityDoc as D;
            match doc {
                D::User(_) => "iam_user",
                D::Role(_) => "iam_role",
                D::Policy(_) => "iam_policy",
                D::Topic(_) => "sns_topic",
                D::InlinePolicy(_) => "iam_inline_policy",
                D::Attachments(_) => "iam_attachments",
                D::AccessKey(_) => "iam_access_key",
                D::TopicPolicy(_) => "sns_topic_policy",
                D::Subscriptions(_) => "sns_subscriptions",
                D::AccountPublicAccessBlock(_) => "account_public_access_block",
            }
            .to_string()
        }
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::model::hex(&Sha256::digest(bytes))
}

/// An open state database.
pub struct StateDb {
    conn: Connection,
    path: PathBuf,
    /// Runs this handle began and has not finished. Their `started` entries are in flight, not
    /// interrupted, so [`StateDb::interrupted_entries`] leaves them out.
    open_runs: Vec<RunId>,
}

impl fmt::Debug for StateDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateDb")
            .field("path", &self.path)
            .field("open_runs", &self.open_runs)
            .finish_non_exhaustive()
    }
}

impl StateDb {
    /// Opens (creating when missing) the state database at `path` and brings its schema up to date.
    ///
    /// The parent directory is created. The database runs in WAL mode so readers never block the
    /// writer; writes wait up to [`BUSY_TIMEOUT`] for another process before failing with
    /// [`StateError::Locked`]. A database written by a newer s3rec is refused untouched.
    pub fn open(path: &Path) -> Result<StateDb, StateError> {
        let shown = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StateError::CreateDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
        // No URI flag: `state.path` is a plain file name, never a `file:` URI with options.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| classify(&shown, e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| classify(&shown, e))?;

        // Whose file this is, and which schema it has, is checked before anything is written (switching
        // to WAL writes the file header), so a wrong `state.path` pointing at another program's
        // database, or a state from a newer s3rec, is refused without being touched.
        let application_id: i32 = conn
            .pragma_query_value(None, "application_id", |row| row.get(0))
            .map_err(|e| classify(&shown, e))?;
        if application_id != 0 && application_id != migrations::APPLICATION_ID {
            return Err(StateError::NotStateDb {
                path: shown,
                reason: format!("its SQLite application id is {application_id:#x}, not s3rec's"),
            });
        }
        let found = match migrations::inspect(&conn) {
            Ok(migrations::Found::Current) => {
                configure(&conn).map_err(|e| classify(&shown, e))?;
                migrations::migrate(&mut conn)
            }
            Ok(other) => Ok(other),
            Err(source) => Err(migrations::MigrationFailure { version: 0, source }),
        };
        match found {
            Ok(migrations::Found::Current) => {}
            Ok(migrations::Found::Newer(found)) => {
                return Err(StateError::SchemaTooNew {
                    path: shown,
                    found,
                    supported: migrations::latest_version(),
                });
            }
            Ok(migrations::Found::Foreign) => {
                return Err(StateError::NotStateDb {
                    path: shown,
                    reason: "it already holds tables that s3rec did not create".to_string(),
                });
            }
            Err(failure) => {
                // A busy or damaged file says so; any other failure is reported as the migration that
                // failed, since its transaction was rolled back and the version before it still stands.
                return Err(match classify(&shown, failure.source) {
                    StateError::Sqlite { source, .. } if failure.version > 0 => StateError::Migration {
                        path: shown,
                        version: failure.version,
                        previous: failure.version - 1,
                        source,
                    },
                    other => other,
                });
            }
        }
        Ok(StateDb {
            conn,
            path: path.to_path_buf(),
            open_runs: Vec::new(),
        })
    }

    /// The file this database was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the environment's run lock; see [`lock_run`].
    pub fn lock_for_run(&self) -> Result<RunLock, StateError> {
        lock_run(&self.path)
    }

    /// Takes the run lock of one migration; see [`lock_migration`].
    pub fn lock_for_migration(&self, name: &str) -> Result<RunLock, StateError> {
        lock_migration(&self.path, name)
    }

    /// The schema version of the open database (always the latest once `open` succeeded).
    pub fn schema_version(&self) -> Result<u32, StateError> {
        migrations::user_version(&self.conn).map_err(|e| self.err(e))
    }

    /// The state's lineage and serial (see [`StateVersion`]).
    pub fn version(&self) -> Result<StateVersion, StateError> {
        let read = |key: &str| -> Result<String, StateError> {
            self.conn
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")
                .and_then(|mut stmt| stmt.query_row([key], |row| row.get::<_, String>(0)))
                .map_err(|e| self.err(e))
        };
        let lineage = read("lineage")?;
        let serial = read("serial")?;
        let serial = serial.parse::<u64>().map_err(|_| StateError::Unreadable {
            path: self.path.display().to_string(),
            address: "meta.serial".to_string(),
            reason: format!("`{serial}` is not a number"),
        })?;
        Ok(StateVersion { lineage, serial })
    }

    /// Moves the serial on: another run changed (or is about to change) the state.
    fn bump_serial(&self) -> Result<(), StateError> {
        self.conn
            .prepare_cached("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'serial'")
            .and_then(|mut stmt| stmt.execute([]))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every managed resource, sorted by address.
    pub fn resources(&self) -> Result<Vec<ResourceRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {RESOURCE_COLUMNS} FROM resources ORDER BY address"))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], RawResource::from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(|raw| raw.decode(&self.path)).collect()
    }

    /// The recorded resource at `address`, if s3rec manages it.
    pub fn resource(&self, address: &Address) -> Result<Option<ResourceRecord>, StateError> {
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {RESOURCE_COLUMNS} FROM resources WHERE address = ?1"))
            .and_then(|mut stmt| stmt.query_row([address.as_str()], RawResource::from_row).optional())
            .map_err(|e| self.err(e))?;
        raw.map(|raw| raw.decode(&self.path)).transpose()
    }

    /// Records `record` as applied, replacing what was recorded at its address.
    pub fn upsert_resource(&self, record: &ResourceRecord) -> Result<(), StateError> {
        let json = record.value_json().map_err(|e| StateError::Unreadable {
            path: self.path.display().to_string(),
            address: record.address.to_string(),
            reason: format!("it could not be serialized for writing: {e}"),
        })?;
        let sha = sha256_hex(json.as_bytes());
        self.conn
            .prepare_cached(
                "INSERT INTO resources (address, kind, name, region, value_json, value_sha256, force_destroy, \
                 prevent_destroy, applied_at, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (address) DO UPDATE SET kind = excluded.kind, name = excluded.name, \
                 region = excluded.region, value_json = excluded.value_json, value_sha256 = excluded.value_sha256, \
                 force_destroy = excluded.force_destroy, prevent_destroy = excluded.prevent_destroy, \
                 applied_at = excluded.applied_at, run_id = excluded.run_id",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    record.address.as_str(),
                    record.kind,
                    record.name,
                    record.region,
                    json,
                    sha,
                    record.force_destroy,
                    record.prevent_destroy,
                    record.applied_at,
                    record.run_id.map(|r| r.0),
                ])
            })
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Forgets the resource at `address` (after it was deleted, or when management stops). Returns
    /// whether anything was recorded there.
    pub fn remove_resource(&self, address: &Address) -> Result<bool, StateError> {
        let removed = self
            .conn
            .prepare_cached("DELETE FROM resources WHERE address = ?1")
            .and_then(|mut stmt| stmt.execute([address.as_str()]))
            .map_err(|e| self.err(e))?;
        Ok(removed > 0)
    }

    /// Runs `f` in one transaction: every write it makes is kept, or (when it fails, or s3rec dies
    /// before the commit) none is. The executor journals a success and records its resource this way,
    /// so the state never shows one without the other.
    pub fn atomically<T>(&self, f: impl FnOnce(&StateDb) -> Result<T, StateError>) -> Result<T, StateError> {
        // `unchecked_transaction` because the handle is shared (`&self`); the executor is its only
        // writer, one call at a time, so no other transaction can be open on this connection.
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let out = f(self)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Turns a SQLite error from this database into a [`StateError`].
    fn err(&self, e: rusqlite::Error) -> StateError {
        classify(&self.path.display().to_string(), e)
    }

    fn misuse(&self, what: String) -> StateError {
        StateError::Misuse {
            path: self.path.display().to_string(),
            what,
        }
    }
}

/// A second connection to an existing, migrated state database, for the tables that many tasks write
/// at once (the sync index, migration inventories). Rows there can be rebuilt (from a listing, or by
/// verifying a file in place), so commits need no fsync each: `synchronous = NORMAL`.
fn side_connection(path: &Path) -> Result<Connection, StateError> {
    let shown = path.display().to_string();
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(&shown, e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| classify(&shown, e))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(|e| classify(&shown, e))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| classify(&shown, e))?;
    Ok(conn)
}

/// Per-connection settings. WAL lets `s3rec state list` and `sqlite3` read while a run writes.
/// `synchronous = FULL` makes each journal row durable before the AWS call it announces: with the
/// WAL default (`NORMAL`) a power cut could lose the `started` row of an action that did happen, which
/// is the one thing the journal exists to remember. Runs write a few rows per action, so the cost of
/// the extra fsync is nothing next to an AWS round trip.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Some file systems (network shares) cannot do WAL; SQLite then keeps its rollback journal,
        // which is correct but makes readers and the writer wait for each other.
        tracing::warn!("the state database could not switch to WAL mode (it uses `{mode}`); readers will block writes");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Maps SQLite failures that have a known cause to the error that says what to do about them.
fn classify(path: &str, e: rusqlite::Error) -> StateError {
    let path = path.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StateError::Locked { path },
        Some(ErrorCode::NotADatabase) => StateError::NotStateDb {
            path,
            reason: "it is not an SQLite database".to_string(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StateError::Corrupt { path, source: e },
        _ => StateError::Sqlite { path, source: e },
    }
}

/// The columns of `resources` in the order [`RawResource::from_row`] reads them.
const RESOURCE_COLUMNS: &str =
    "address, kind, name, region, value_json, value_sha256, force_destroy, prevent_destroy, applied_at, run_id";

/// A `resources` row before its value is checked and parsed.
struct RawResource {
    address: String,
    kind: String,
    name: String,
    region: String,
    value_json: String,
    value_sha256: String,
    force_destroy: bool,
    prevent_destroy: bool,
    applied_at: String,
    run_id: Option<i64>,
}

impl RawResource {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawResource> {
        Ok(RawResource {
            address: row.get(0)?,
            kind: row.get(1)?,
            name: row.get(2)?,
            region: row.get(3)?,
            value_json: row.get(4)?,
            value_sha256: row.get(5)?,
            force_destroy: row.get(6)?,
            prevent_destroy: row.get(7)?,
            applied_at: row.get(8)?,
            run_id: row.get(9)?,
        })
    }

    /// Checks the stored hash against the stored text, then parses the value. A mismatch means the row
    /// was edited by hand or damaged, and a plan built on it could be wrong, so it is an error.
    fn decode(self, path: &Path) -> Result<ResourceRecord, StateError> {
        let unreadable = |reason: String| StateError::Unreadable {
            path: path.display().to_string(),
            address: self.address.clone(),
            reason,
        };
        if sha256_hex(self.value_json.as_bytes()) != self.value_sha256 {
            return Err(unreadable("its SHA-256 does not match the recorded hash".to_string()));
        }
        let value: Value = serde_json::from_str(&self.value_json)
            .map_err(|e| unreadable(format!("it is not a value this s3rec knows: {e}")))?;
        Ok(ResourceRecord {
            address: Address(self.address),
            kind: self.kind,
            name: self.name,
            region: self.region,
            value,
            force_destroy: self.force_destroy,
            prevent_destroy: self.prevent_destroy,
            applied_at: self.applied_at,
            run_id: self.run_id.map(RunId),
        })
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn a_second_run_lock_is_refused_until_the_first_is_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = StateDb::open(&dir.path().join("env.db")).expect("open");
        let b = StateDb::open(&dir.path().join("env.db")).expect("open again");
        let held = a.lock_for_run().expect("first lock");
        assert!(matches!(b.lock_for_run(), Err(StateError::RunInProgress { .. })));
        drop(held);
        b.lock_for_run().expect("free again");
    }
}
