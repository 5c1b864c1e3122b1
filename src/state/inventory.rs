//! Migration inventories: per migration and bucket, every object version the migration covers (what the
//! scan saw), and how far each one got: restore requested or ready, downloaded, verified, refused,
//! deleted. The phases of `s3rec migrate` are derived from these rows, so a run that is interrupted at
//! any point starts again from them and never repeats a finished download.
//!
//! It lives in the environment's state database (schema migration 3), on its own connection so that
//! concurrent downloads can record as they finish. Each finished object is one small transaction: with
//! WAL and `synchronous = NORMAL` that costs no fsync, and a killed run loses nothing it verified.
//! `s3rec migrate status` reads the same tables from another process while a run writes (WAL).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{StateError, classify, now_rfc3339};

/// Where an archived object's restore stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Restore {
    /// The object can be read as it is (STANDARD, STANDARD_IA, GLACIER_IR, ...).
    #[default]
    None,
    /// Archived: a restore must be requested before it can be downloaded.
    Needed,
    /// RestoreObject was accepted; the copy is not readable yet.
    Requested,
    /// The restored copy is readable until its expiry.
    Ready,
}

impl Restore {
    pub fn as_str(self) -> &'static str {
        match self {
            Restore::None => "none",
            Restore::Needed => "needed",
            Restore::Requested => "requested",
            Restore::Ready => "ready",
        }
    }

    fn parse(s: &str) -> Restore {
        match s {
            "needed" => Restore::Needed,
            "requested" => Restore::Requested,
            "ready" => Restore::Ready,
            _ => Restore::None,
        }
    }
}

/// Where an object version's local copy stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Status {
    /// Not downloaded yet.
    #[default]
    Pending,
    /// Downloaded to its temporary name, not verified yet.
    Downloaded,
    /// Verified and in place under its final name.
    Verified,
    /// A verification found the local copy different from the object (or missing): downloaded again.
    Mismatch,
    /// The last attempt failed (download error, or a second mismatch); the next run tries again.
    Failed,
    /// The key gets no local file (it would escape the destination, collide, ...).
    Refused,
    /// A delete marker: nothing to download; removed with the other versions when the manifest says.
    Marker,
    /// Deleted from S3 after verification.
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Downloaded => "downloaded",
            Status::Verified => "verified",
            Status::Mismatch => "mismatch",
            Status::Failed => "failed",
            Status::Refused => "refused",
            Status::Marker => "marker",
            Status::Deleted => "deleted",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "downloaded" => Status::Downloaded,
            "verified" => Status::Verified,
            "mismatch" => Status::Mismatch,
            "failed" => Status::Failed,
            "refused" => Status::Refused,
            "marker" => Status::Marker,
            "deleted" => Status::Deleted,
            _ => Status::Pending,
        }
    }
}

/// One object version of an inventory. `Default` is a blank row for building scanned ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectRow {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    pub storage_class: String,
    pub local_path: Option<String>,
    pub refused: Option<String>,
    pub restore: Restore,
    pub restore_at: Option<String>,
    pub restore_expiry: Option<String>,
    pub status: Status,
    pub checksum_algorithm: Option<String>,
    pub checksum: Option<String>,
    pub checksum_full: Option<bool>,
    pub part_size: Option<u64>,
    pub sse: Option<String>,
    pub verified_by: Option<String>,
    pub error: Option<String>,
    pub attempts: u32,
    pub downloaded_at: Option<String>,
    pub verified_at: Option<String>,
    pub deleted_at: Option<String>,
}

/// A migration's bucket row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRow {
    pub migration: String,
    pub bucket: String,
    pub prefix: String,
    pub versions: String,
    pub scanned_at: Option<String>,
    pub deleted_at: Option<String>,
    pub confirmed: Option<String>,
}

/// The migration inventories of one state database.
pub struct Inventory {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "key, version_id, is_latest, delete_marker, size, etag, last_modified_ms, storage_class,
    local_path, refused, restore, restore_at, restore_expiry, status, checksum_algorithm, checksum,
    checksum_full, part_size, sse, verified_by, error, attempts, downloaded_at, verified_at, deleted_at";

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectRow> {
    Ok(ObjectRow {
        key: row.get(0)?,
        version_id: row.get(1)?,
        is_latest: row.get(2)?,
        delete_marker: row.get(3)?,
        size: u64::try_from(row.get::<_, i64>(4)?).unwrap_or_default(),
        etag: row.get(5)?,
        last_modified_ms: row.get(6)?,
        storage_class: row.get(7)?,
        local_path: row.get(8)?,
        refused: row.get(9)?,
        restore: Restore::parse(&row.get::<_, String>(10)?),
        restore_at: row.get(11)?,
        restore_expiry: row.get(12)?,
        status: Status::parse(&row.get::<_, String>(13)?),
        checksum_algorithm: row.get(14)?,
        checksum: row.get(15)?,
        checksum_full: row.get(16)?,
        part_size: row.get::<_, Option<i64>>(17)?.and_then(|n| u64::try_from(n).ok()),
        sse: row.get(18)?,
        verified_by: row.get(19)?,
        error: row.get(20)?,
        attempts: u32::try_from(row.get::<_, i64>(21)?).unwrap_or_default(),
        downloaded_at: row.get(22)?,
        verified_at: row.get(23)?,
        deleted_at: row.get(24)?,
    })
}

impl Inventory {
    /// Opens the inventories of the state database at `path`, which [`super::StateDb::open`] has
    /// already created and migrated.
    pub fn open(path: &Path) -> Result<Inventory, StateError> {
        let conn = super::side_connection(path)?;
        Ok(Inventory {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, StateError> {
        let mut conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut conn).map_err(|e| classify(&self.path.display().to_string(), e))
    }

    /// The bucket row of a migration, if a scan ever started.
    pub fn bucket(&self, migration: &str, bucket: &str) -> Result<Option<BucketRow>, StateError> {
        self.with(|conn| {
            conn.prepare_cached(
                "SELECT migration, bucket, prefix, versions, scanned_at, deleted_at, confirmed
                 FROM migration_buckets WHERE migration = ?1 AND bucket = ?2",
            )?
            .query_row(params![migration, bucket], |row| {
                Ok(BucketRow {
                    migration: row.get(0)?,
                    bucket: row.get(1)?,
                    prefix: row.get(2)?,
                    versions: row.get(3)?,
                    scanned_at: row.get(4)?,
                    deleted_at: row.get(5)?,
                    confirmed: row.get(6)?,
                })
            })
            .optional()
        })
    }

    /// Every object row of a migration's bucket, by key then version.
    pub fn objects(&self, migration: &str, bucket: &str) -> Result<Vec<ObjectRow>, StateError> {
        let mut rows = Vec::new();
        self.for_each_object(migration, bucket, |row| rows.push(row))?;
        Ok(rows)
    }

    /// Every object row of a migration's bucket, by key then version, handed to `each` as it is read:
    /// counting an inventory of millions of rows needs none of them in memory at once.
    pub fn for_each_object(
        &self,
        migration: &str,
        bucket: &str,
        mut each: impl FnMut(ObjectRow),
    ) -> Result<(), StateError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM migration_objects WHERE migration = ?1 AND bucket = ?2
                 ORDER BY key, version_id"
            ))?;
            let mut rows = stmt.query(params![migration, bucket])?;
            while let Some(row) = rows.next()? {
                each(read_row(row)?);
            }
            Ok(())
        })
    }

    /// Replaces the inventory of a migration's bucket with a scan's result, in one transaction, and
    /// marks the scan complete. The caller merged the new listing with the old rows (see
    /// `migrate::run`), so this only writes: rows not in `rows` are removed.
    pub fn record_scan(
        &self,
        migration: &str,
        bucket: &str,
        prefix: &str,
        versions: &str,
        rows: &[ObjectRow],
    ) -> Result<(), StateError> {
        let now = now_rfc3339();
        self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO migration_buckets (migration, bucket, prefix, versions, scanned_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (migration, bucket) DO UPDATE SET prefix = ?3, versions = ?4, scanned_at = ?5",
                params![migration, bucket, prefix, versions, now],
            )?;
            tx.execute(
                "DELETE FROM migration_objects WHERE migration = ?1 AND bucket = ?2",
                params![migration, bucket],
            )?;
            {
                let mut stmt = tx.prepare_cached(&insert_sql())?;
                for row in rows {
                    insert(&mut stmt, migration, bucket, row)?;
                }
            }
            tx.commit()
        })
    }

    /// Writes the given rows' progress (every column but the scanned facts), in one transaction.
    pub fn save(&self, migration: &str, bucket: &str, rows: &[&ObjectRow]) -> Result<(), StateError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.with(|conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(&insert_sql())?;
                for row in rows {
                    insert(&mut stmt, migration, bucket, row)?;
                }
            }
            tx.commit()
        })
    }

    /// Records that the delete phase of a bucket finished, and how it was confirmed.
    pub fn bucket_deleted(&self, migration: &str, bucket: &str, confirmed: &str) -> Result<(), StateError> {
        self.with(|conn| {
            conn.execute(
                "UPDATE migration_buckets SET deleted_at = ?3, confirmed = ?4 WHERE migration = ?1 AND bucket = ?2",
                params![migration, bucket, now_rfc3339(), confirmed],
            )
            .map(|_| ())
        })
    }
}

fn insert_sql() -> String {
    format!(
        "INSERT OR REPLACE INTO migration_objects (migration, bucket, {COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                 ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
    )
}

fn insert(
    stmt: &mut rusqlite::CachedStatement<'_>,
    migration: &str,
    bucket: &str,
    row: &ObjectRow,
) -> rusqlite::Result<()> {
    stmt.execute(params![
        migration,
        bucket,
        row.key,
        row.version_id,
        row.is_latest,
        row.delete_marker,
        to_i64(row.size),
        row.etag,
        row.last_modified_ms,
        row.storage_class,
        row.local_path,
        row.refused,
        row.restore.as_str(),
        row.restore_at,
        row.restore_expiry,
        row.status.as_str(),
        row.checksum_algorithm,
        row.checksum,
        row.checksum_full,
        row.part_size.map(to_i64),
        row.sse,
        row.verified_by,
        row.error,
        i64::from(row.attempts),
        row.downloaded_at,
        row.verified_at,
        row.deleted_at,
    ])
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateDb;

    #[test]
    fn a_scan_and_progress_round_trip_and_status_reads_while_another_connection_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        StateDb::open(&path).expect("state");
        let inv = Inventory::open(&path).expect("inventory");
        let row = |key: &str, marker| ObjectRow {
            key: key.into(),
            version_id: "null".into(),
            is_latest: true,
            delete_marker: marker,
            size: 3,
            etag: "e".into(),
            storage_class: "GLACIER".into(),
            status: if marker { Status::Marker } else { Status::Pending },
            ..ObjectRow::default()
        };
        inv.record_scan("m", "b", "", "current", &[row("a", false), row("z", true)])
            .expect("scan");
        let bucket = inv.bucket("m", "b").expect("bucket").expect("some");
        assert!(bucket.scanned_at.is_some());
        let mut rows = inv.objects("m", "b").expect("objects");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].status, Status::Marker);
        rows[0].status = Status::Verified;
        rows[0].restore = Restore::Ready;
        rows[0].part_size = Some(8 << 20);
        rows[0].attempts = 1;
        inv.save("m", "b", &[&rows[0]]).expect("save");

        // A second connection (as `migrate status` in another process) sees the committed progress.
        let reader = Inventory::open(&path).expect("reader");
        let seen = reader.objects("m", "b").expect("objects");
        assert_eq!(seen[0], rows[0]);
        inv.bucket_deleted("m", "b", "flag").expect("deleted");
        let bucket = reader.bucket("m", "b").expect("bucket").expect("some");
        assert_eq!(bucket.confirmed.as_deref(), Some("flag"));

        // A rescan replaces the rows it is given and drops the others.
        inv.record_scan("m", "b", "", "current", &[rows[0].clone()])
            .expect("rescan");
        assert_eq!(inv.objects("m", "b").expect("objects"), vec![rows[0].clone()]);
    }
}
