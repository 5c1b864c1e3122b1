//! The schema of the state database and how a database is brought up to it.
//!
//! The schema version is SQLite's `PRAGMA user_version`: 0 is an empty file, N means migrations 1..=N have
//! been applied. Migrations are append-only: a released migration is never edited, because databases
//! in the field already ran it; a change to the schema is a new entry at the end of [`MIGRATIONS`].

use rusqlite::{Connection, TransactionBehavior};

/// `PRAGMA application_id` of an s3rec state database: "s3rc" in ASCII. It lets s3rec (and `file(1)`)
/// tell its databases apart from any other SQLite file that `state.path` might point at by mistake.
pub const APPLICATION_ID: i32 = 0x7333_7263;

/// Each migration's SQL, in order; migration `i` (0-based) produces schema version `i + 1`.
///
/// Tables are STRICT so a wrong type is an error at write time rather than a surprise at read time, and
/// closed sets of values are CHECKed so a bug cannot record an outcome that readers do not understand.
pub const MIGRATIONS: &[&str] = &[
    // 1: managed resources, runs and the apply journal.
    r#"
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    command       TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    plan_sha256   TEXT,
    s3rec_version TEXT    NOT NULL,
    pid           INTEGER NOT NULL,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT,
    outcome       TEXT    CHECK (outcome IN ('succeeded', 'failed', 'cancelled')),
    -- A run is either open (neither set) or finished (both set).
    CHECK ((finished_at IS NULL) = (outcome IS NULL))
) STRICT;

CREATE TABLE resources (
    address         TEXT    PRIMARY KEY NOT NULL,
    kind            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    region          TEXT    NOT NULL,
    value_json      TEXT    NOT NULL CHECK (json_valid(value_json)),
    value_sha256    TEXT    NOT NULL CHECK (length(value_sha256) = 64),
    force_destroy   INTEGER NOT NULL DEFAULT 0 CHECK (force_destroy IN (0, 1)),
    prevent_destroy INTEGER NOT NULL DEFAULT 0 CHECK (prevent_destroy IN (0, 1)),
    applied_at      TEXT    NOT NULL,
    -- The run that last wrote the row; kept when old runs are deleted, so only the link is lost.
    run_id          INTEGER REFERENCES runs (id) ON DELETE SET NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX resources_by_run ON resources (run_id);

CREATE TABLE journal (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    address     TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('started', 'succeeded', 'failed', 'skipped')),
    -- The error of a failed action, or why an action was skipped.
    message     TEXT,
    -- Only a `started` entry lacks an end: that is what marks an action whose outcome is unknown.
    CHECK ((outcome = 'started') = (finished_at IS NULL))
) STRICT;

CREATE INDEX journal_by_run ON journal (run_id, id);
CREATE INDEX journal_by_address ON journal (address, id);
-- Interrupted entries are looked up on every plan; the partial index keeps that cheap as history grows.
CREATE INDEX journal_started ON journal (id) WHERE outcome = 'started';
"#,
    // 2: the sync index: what each synced object was uploaded from, and multipart uploads in progress.
    r#"
CREATE TABLE sync_index (
    bucket    TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    mapping   TEXT    NOT NULL,
    -- The local file the object was uploaded from, as the walk saw it.
    size      INTEGER NOT NULL CHECK (size >= 0),
    mtime_ms  INTEGER NOT NULL,
    -- Lowercase hex SHA-256 of the content, when `compare: checksum` computed it.
    sha256    TEXT    CHECK (sha256 IS NULL OR length(sha256) = 64),
    -- The object's ETag (without quotes) right after the upload: a different one means someone else
    -- wrote the object since.
    etag      TEXT    NOT NULL,
    synced_at TEXT    NOT NULL,
    PRIMARY KEY (bucket, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE sync_uploads (
    upload_id  TEXT    PRIMARY KEY NOT NULL,
    bucket     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    -- The file being uploaded, as the walk saw it: a later run resumes only the same file.
    size       INTEGER NOT NULL CHECK (size >= 0),
    mtime_ms   INTEGER NOT NULL,
    part_size  INTEGER NOT NULL CHECK (part_size > 0),
    started_at TEXT    NOT NULL
) STRICT;

CREATE INDEX sync_uploads_by_object ON sync_uploads (bucket, key);

CREATE TABLE sync_parts (
    upload_id TEXT    NOT NULL REFERENCES sync_uploads (upload_id) ON DELETE CASCADE,
    number    INTEGER NOT NULL CHECK (number BETWEEN 1 AND 10000),
    etag      TEXT    NOT NULL,
    checksum  TEXT,
    PRIMARY KEY (upload_id, number)
) STRICT, WITHOUT ROWID;
"#,
    // 3: migration inventories: every object version a migration covers and how far it got.
    r#"
CREATE TABLE migration_buckets (
    migration  TEXT NOT NULL,
    bucket     TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    versions   TEXT NOT NULL CHECK (versions IN ('current', 'all')),
    -- When the last complete scan finished; NULL while the first one has not.
    scanned_at TEXT,
    -- When the delete phase finished, and who confirmed it (`terminal` or `flag`).
    deleted_at TEXT,
    confirmed  TEXT,
    PRIMARY KEY (migration, bucket)
) STRICT, WITHOUT ROWID;

CREATE TABLE migration_objects (
    migration        TEXT    NOT NULL,
    bucket           TEXT    NOT NULL,
    key              TEXT    NOT NULL,
    -- `null` for objects written while the bucket was unversioned, as S3 names them.
    version_id       TEXT    NOT NULL,
    is_latest        INTEGER NOT NULL CHECK (is_latest IN (0, 1)),
    delete_marker    INTEGER NOT NULL CHECK (delete_marker IN (0, 1)),
    size             INTEGER NOT NULL CHECK (size >= 0),
    etag             TEXT    NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    storage_class    TEXT    NOT NULL,
    -- The '/'-separated path under the destination, or why the key gets none.
    local_path       TEXT,
    refused          TEXT,
    restore          TEXT    NOT NULL CHECK (restore IN ('none', 'needed', 'requested', 'ready')),
    restore_at       TEXT,
    restore_expiry   TEXT,
    status           TEXT    NOT NULL CHECK (status IN
        ('pending', 'downloaded', 'verified', 'mismatch', 'failed', 'refused', 'marker', 'deleted')),
    -- What the download learned that verification needs: S3's stored checksum, the multipart part
    -- size, the encryption (SSE-KMS ETags are not MD5s).
    checksum_algorithm TEXT,
    checksum         TEXT,
    checksum_full    INTEGER CHECK (checksum_full IS NULL OR checksum_full IN (0, 1)),
    part_size        INTEGER,
    sse              TEXT,
    verified_by      TEXT,
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    downloaded_at    TEXT,
    verified_at      TEXT,
    deleted_at       TEXT,
    PRIMARY KEY (migration, bucket, key, version_id),
    FOREIGN KEY (migration, bucket) REFERENCES migration_buckets (migration, bucket) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
"#,
    // 4: multipart uploads sync is about to create, written before CreateMultipartUpload: an upload whose
    // answer was lost (the SDK then retries and creates a second one) or whose process was killed before
    // it recorded the id is still recognisable as s3rec's, so a later reconcile can abort it.
    r#"
CREATE TABLE sync_upload_intents (
    id         INTEGER PRIMARY KEY,
    bucket     TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    -- Unix milliseconds, taken before the request was sent.
    started_ms INTEGER NOT NULL
) STRICT;
"#,
    // 5: the state's identity and version. `lineage` is drawn once, when the database is created (or
    // first upgraded), and travels with every copy (`state push`, the S3 backend's cached copies); `serial`
    // counts the runs begun and finished. A saved plan records both, and `apply` refuses it once either
    // moved: another run changed the state since the plan was made.
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('lineage', lower(hex(randomblob(16)))), ('serial', '0');
"#,
];

/// The schema version this binary writes and understands.
pub fn latest_version() -> u32 {
    // The list is a handful of entries long; the conversion cannot overflow.
    u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX)
}

/// What a connection found when it looked at the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The schema is at the latest version after [`migrate`], or can be brought there (from
    /// [`inspect`]).
    Current,
    /// The database was written by a newer s3rec.
    Newer(u32),
    /// A non-empty database that s3rec did not create.
    Foreign,
}

/// A migration that failed, with the version it was producing.
#[derive(Debug)]
pub struct MigrationFailure {
    pub version: u32,
    pub source: rusqlite::Error,
}

/// Reads `PRAGMA user_version`.
pub fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get::<_, u32>(0))
}

/// Looks at the schema without writing: whether this binary can use (and if needed migrate) the file.
pub fn inspect(conn: &Connection) -> rusqlite::Result<Found> {
    let version = user_version(conn)?;
    Ok(if version > latest_version() {
        Found::Newer(version)
    } else if version == 0 && is_foreign(conn)? {
        Found::Foreign
    } else {
        Found::Current
    })
}

/// Brings the schema up to [`latest_version`], one transaction per migration.
///
/// Each migration takes the write lock first (`BEGIN IMMEDIATE`) and re-reads the version inside it, so
/// two processes opening a fresh database at the same moment do not both run migration 1. A failure
/// rolls back only the migration that failed; the database stays at the previous version and opens
/// again with the same binary once the cause (disk full, permissions) is fixed.
pub fn migrate(conn: &mut Connection) -> Result<Found, MigrationFailure> {
    let fail = |version: u32| move |source: rusqlite::Error| MigrationFailure { version, source };
    let start = match inspect(conn).map_err(fail(0))? {
        Found::Current => user_version(conn).map_err(fail(0))?,
        other => return Ok(other),
    };
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if version <= start {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail(version))?;
        let now = user_version(&tx).map_err(fail(version))?;
        if now > latest_version() {
            return Ok(Found::Newer(now));
        }
        if now >= version {
            // Another process applied this migration while we waited for the lock.
            continue;
        }
        tx.execute_batch(sql).map_err(fail(version))?;
        if version == 1 {
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(fail(version))?;
        }
        tx.pragma_update(None, "user_version", version).map_err(fail(version))?;
        tx.commit().map_err(fail(version))?;
    }
    Ok(Found::Current)
}

/// Whether a database at version 0 already holds someone else's tables: s3rec must not add its tables
/// next to them (the file is almost certainly the wrong `state.path`).
fn is_foreign(conn: &Connection) -> rusqlite::Result<bool> {
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
        [],
        |row| row.get(0),
    )?;
    Ok(tables > 0)
}
