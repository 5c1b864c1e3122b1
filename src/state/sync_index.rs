//! The sync index: per synced object, the local file it was uploaded from (size, mtime, optional
//! SHA-256) and the object's ETag right after the upload; the multipart uploads in progress with
//! their finished parts, so an interrupted sync resumes instead of starting large files again; and the
//! intents written before each CreateMultipartUpload, so an upload whose id never reached the index is
//! still recognisable as s3rec's.
//!
//! It lives in the environment's state database (schema migrations 2 and 4). Uploads run concurrently and
//! report from many tasks, so the index has its own connection behind a mutex; finished objects are
//! written in batches, one transaction each, because a commit per small file would cost more than the
//! upload.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{StateError, classify, now_rfc3339};

/// What the index remembers about one synced object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub size: u64,
    pub mtime_ms: i64,
    pub sha256: Option<String>,
    pub etag: String,
}

/// A multipart upload a previous run started and did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    pub upload_id: String,
    pub size: u64,
    pub mtime_ms: i64,
    pub part_size: u64,
    /// (part number, ETag, checksum) of the parts that finished.
    pub parts: Vec<(i32, String, Option<String>)>,
}

/// A CreateMultipartUpload s3rec sent (or was about to send): whatever upload of `key` the server
/// started since then and the index does not know is an orphan of s3rec's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadIntent {
    pub id: i64,
    pub bucket: String,
    pub region: String,
    pub key: String,
    /// Unix milliseconds, taken before the request was sent.
    pub started_ms: i64,
}

/// The sync index of one state database.
pub struct SyncIndex {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for SyncIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncIndex")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SyncIndex {
    /// Opens the index of the state database at `path`, which [`super::StateDb::open`] has already
    /// created and migrated.
    pub fn open(path: &Path) -> Result<SyncIndex, StateError> {
        let conn = super::side_connection(path)?;
        Ok(SyncIndex {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, StateError> {
        let mut conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut conn).map_err(|e| classify(&self.path.display().to_string(), e))
    }

    /// Up to `limit` entries of `bucket` whose key starts with `prefix` and sorts after `after` (`""`
    /// for the first page), in key order: the index read a page at a time, so a sync holds one page of it
    /// however many objects it knows.
    pub fn entries_after(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<(String, IndexEntry)>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let entry = |row: &rusqlite::Row<'_>| {
            Ok((
                row.get::<_, String>(0)?,
                IndexEntry {
                    size: u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
                    mtime_ms: row.get(2)?,
                    sha256: row.get(3)?,
                    etag: row.get(4)?,
                },
            ))
        };
        self.with(|conn| {
            // A range scan of the primary key (bucket, key): from the prefix (or past `after`) to the
            // first key that no longer starts with it, so the last page stops at the prefix's end
            // instead of reading the rest of the bucket.
            let start = if after > prefix { after } else { prefix };
            match prefix_end(prefix) {
                Some(end) => conn
                    .prepare_cached(
                        "SELECT key, size, mtime_ms, sha256, etag FROM sync_index
                         WHERE bucket = ?1 AND key >= ?2 AND key > ?3 AND key < ?4 ORDER BY key LIMIT ?5",
                    )?
                    .query_map(params![bucket, start, after, end, limit], entry)?
                    .collect(),
                None => conn
                    .prepare_cached(
                        "SELECT key, size, mtime_ms, sha256, etag FROM sync_index
                         WHERE bucket = ?1 AND key >= ?2 AND key > ?3 AND substr(key, 1, length(?4)) = ?4
                         ORDER BY key LIMIT ?5",
                    )?
                    .query_map(params![bucket, start, after, prefix, limit], entry)?
                    .collect(),
            }
        })
    }

    /// Keys of `bucket` under `prefix` that cut its index entries into runs of (nearly) equal length, in
    /// key order: as many runs as it takes to keep each at `run` entries or fewer, but at most
    /// `max_parts`; none when one run holds them all. A listing of the prefix split at these keys and
    /// `run` keys a page costs each range one page, as long as the bucket still looks like the index.
    pub fn boundaries(
        &self,
        bucket: &str,
        prefix: &str,
        max_parts: usize,
        run: usize,
    ) -> Result<Vec<String>, StateError> {
        // The keys under the prefix are the range [prefix, prefix_end): the primary key (bucket, key)
        // serves both queries as a range scan that reads keys only and stops at the prefix's end,
        // instead of testing every key to the end of the bucket. Without an end (an empty prefix, or
        // one of `char::MAX` only), every key from the prefix on starts with it.
        let end = prefix_end(prefix);
        let range = match end {
            Some(_) => "bucket = ?1 AND key >= ?2 AND key < ?3",
            None => "bucket = ?1 AND key >= ?2",
        };
        self.with(|conn| {
            let mut count_stmt = conn.prepare_cached(&format!("SELECT count(*) FROM sync_index WHERE {range}"))?;
            let count: i64 = match &end {
                Some(end) => count_stmt.query_row(params![bucket, prefix, end], |row| row.get(0))?,
                None => count_stmt.query_row(params![bucket, prefix], |row| row.get(0))?,
            };
            let count = usize::try_from(count).unwrap_or(0);
            let parts = max_parts.min(count.div_ceil(run.max(1)));
            if parts < 2 {
                return Ok(Vec::new());
            }
            let mut stmt = conn.prepare_cached(&format!("SELECT key FROM sync_index WHERE {range} ORDER BY key"))?;
            let mut rows = match &end {
                Some(end) => stmt.query(params![bucket, prefix, end])?,
                None => stmt.query(params![bucket, prefix])?,
            };
            let mut out = Vec::with_capacity(parts - 1);
            let mut position = 0usize;
            while let Some(row) = rows.next()? {
                position += 1;
                // The i-th boundary ends the i-th run: the key at position count * i / parts.
                if position == count * (out.len() + 1) / parts {
                    out.push(row.get::<_, String>(0)?);
                    if out.len() == parts - 1 {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    /// Records objects as synced, in one transaction.
    pub fn record(&self, mapping: &str, bucket_entries: &[(String, String, IndexEntry)]) -> Result<(), StateError> {
        if bucket_entries.is_empty() {
            return Ok(());
        }
        let now = now_rfc3339();
        self.with(|conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO sync_index (bucket, key, mapping, size, mtime_ms, sha256, etag, synced_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (bucket, key) DO UPDATE SET mapping = ?3, size = ?4, mtime_ms = ?5,
                         sha256 = ?6, etag = ?7, synced_at = ?8",
                )?;
                for (bucket, key, e) in bucket_entries {
                    stmt.execute(params![
                        bucket,
                        key,
                        mapping,
                        i64::try_from(e.size).unwrap_or(i64::MAX),
                        e.mtime_ms,
                        e.sha256,
                        e.etag,
                        now
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Forgets deleted objects, in one transaction.
    pub fn remove(&self, bucket: &str, keys: &[String]) -> Result<(), StateError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.with(|conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached("DELETE FROM sync_index WHERE bucket = ?1 AND key = ?2")?;
                for key in keys {
                    stmt.execute(params![bucket, key])?;
                }
            }
            tx.commit()
        })
    }

    /// The unfinished multipart upload of `bucket`/`key`, if a previous run left one.
    pub fn pending_upload(&self, bucket: &str, key: &str) -> Result<Option<PendingUpload>, StateError> {
        self.with(|conn| {
            let head = conn
                .prepare_cached(
                    "SELECT upload_id, size, mtime_ms, part_size FROM sync_uploads
                     WHERE bucket = ?1 AND key = ?2 ORDER BY started_at DESC LIMIT 1",
                )?
                .query_row(params![bucket, key], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                })
                .optional()?;
            let Some((upload_id, size, mtime_ms, part_size)) = head else {
                return Ok(None);
            };
            let mut stmt = conn
                .prepare_cached("SELECT number, etag, checksum FROM sync_parts WHERE upload_id = ?1 ORDER BY number")?;
            let parts = stmt
                .query_map(params![upload_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(PendingUpload {
                upload_id,
                size: u64::try_from(size).unwrap_or_default(),
                mtime_ms,
                part_size: u64::try_from(part_size).unwrap_or_default(),
                parts,
            }))
        })
    }

    /// Every unfinished multipart upload the index knows in `bucket`: (key, upload id).
    pub fn pending_uploads(&self, bucket: &str) -> Result<Vec<(String, String)>, StateError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached("SELECT key, upload_id FROM sync_uploads WHERE bucket = ?1")?;
            let rows = stmt.query_map(params![bucket], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
    }

    pub fn upload_started(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        size: u64,
        mtime_ms: i64,
        part_size: u64,
    ) -> Result<(), StateError> {
        self.with(|conn| {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO sync_uploads (upload_id, bucket, key, size, mtime_ms, part_size, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                upload_id,
                bucket,
                key,
                i64::try_from(size).unwrap_or(i64::MAX),
                mtime_ms,
                i64::try_from(part_size).unwrap_or(i64::MAX),
                now_rfc3339()
            ])
            .map(|_| ())
        })
    }

    pub fn part_done(
        &self,
        upload_id: &str,
        number: i32,
        etag: &str,
        checksum: Option<&str>,
    ) -> Result<(), StateError> {
        self.with(|conn| {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO sync_parts (upload_id, number, etag, checksum) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![upload_id, number, etag, checksum])
            .map(|_| ())
        })
    }

    /// Records, before CreateMultipartUpload is sent, that s3rec is about to start an upload of `key`.
    pub fn upload_intended(&self, bucket: &str, region: &str, key: &str) -> Result<(), StateError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.with(|conn| {
            conn.prepare_cached(
                "INSERT INTO sync_upload_intents (bucket, region, key, started_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![bucket, region, key, now_ms])
            .map(|_| ())
        })
    }

    /// Every intent not yet reconciled, oldest first.
    pub fn upload_intents(&self) -> Result<Vec<UploadIntent>, StateError> {
        self.with(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id, bucket, region, key, started_ms FROM sync_upload_intents ORDER BY id")?;
            let rows = stmt.query_map([], |row| {
                Ok(UploadIntent {
                    id: row.get(0)?,
                    bucket: row.get(1)?,
                    region: row.get(2)?,
                    key: row.get(3)?,
                    started_ms: row.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Forgets a reconciled intent.
    pub fn intent_reconciled(&self, id: i64) -> Result<(), StateError> {
        self.with(|conn| {
            conn.prepare_cached("DELETE FROM sync_upload_intents WHERE id = ?1")?
                .execute(params![id])
                .map(|_| ())
        })
    }

    /// Forgets a multipart upload that completed or was aborted (its parts go with it).
    pub fn upload_finished(&self, upload_id: &str) -> Result<(), StateError> {
        self.with(|conn| {
            conn.prepare_cached("DELETE FROM sync_uploads WHERE upload_id = ?1")?
                .execute(params![upload_id])
                .map(|_| ())
        })
    }
}

/// The first string past every string that starts with `prefix` (its last character that can be
/// incremented, incremented, and what follows dropped), in the byte order SQLite's BINARY collation and
/// S3 both use; `None` when no such string exists (an empty prefix, or one of only `char::MAX`).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value: UTF-8 byte order is code point order, and surrogates are skipped.
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateDb;

    /// An index in a new state database; the directory lives as long as the guard.
    fn fresh_index() -> (tempfile::TempDir, SyncIndex) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        StateDb::open(&path).expect("state");
        let index = SyncIndex::open(&path).expect("index");
        (dir, index)
    }

    fn small_entry() -> IndexEntry {
        IndexEntry {
            size: 1,
            mtime_ms: 0,
            sha256: None,
            etag: "e".into(),
        }
    }

    #[test]
    fn boundaries_cut_a_prefix_into_equal_runs_in_key_order() {
        let (_dir, index) = fresh_index();
        let entry = small_entry();
        // 100 keys under p/ (k000..k099), inserted out of order, plus keys the prefix must leave out.
        let mut rows: Vec<(String, String, IndexEntry)> = (0..100)
            .rev()
            .map(|i| ("b".to_string(), format!("p/k{i:03}"), entry.clone()))
            .collect();
        rows.push(("b".into(), "o/k000".into(), entry.clone()));
        rows.push(("b".into(), "q".into(), entry.clone()));
        rows.push(("c".into(), "p/k050".into(), entry.clone()));
        index.record("m", &rows).expect("record");

        // Runs of at most 25: four, each ending at count * i / parts.
        assert_eq!(
            index.boundaries("b", "p/", 16, 25).expect("boundaries"),
            vec!["p/k024", "p/k049", "p/k074"],
        );
        // Runs of at most 30: four again (three would hold 34 each), no longer all equal.
        assert_eq!(
            index.boundaries("b", "p/", 16, 30).expect("boundaries"),
            vec!["p/k024", "p/k049", "p/k074"],
        );
        // Capped at two parts however long the runs get.
        assert_eq!(index.boundaries("b", "p/", 2, 10).expect("two runs"), vec!["p/k049"]);
        // One run holds them all, or there is nothing to cut.
        assert!(index.boundaries("b", "p/", 16, 100).expect("one run").is_empty());
        assert!(index.boundaries("b", "none/", 4, 1).expect("empty").is_empty());
        assert!(index.boundaries("b", "p/", 1, 1).expect("one part").is_empty());
        // The empty prefix has no end: the whole bucket (o/k000, the hundred p/ keys, q), not bucket c.
        assert_eq!(index.boundaries("b", "", 2, 60).expect("whole bucket"), vec!["p/k049"]);
    }

    #[test]
    fn index_pages_stay_in_their_prefix_and_in_key_order() {
        let (_dir, index) = fresh_index();
        let entry = small_entry();
        // Neighbours of the prefix on both sides, in byte order: `a-`, `a/…`, `a0`, and a non-ASCII key.
        let keys = ["a-", "a/1", "a/2", "a/3", "a/ü", "a/\u{10FFFF}", "a0", "b/1"];
        let rows: Vec<_> = keys
            .iter()
            .map(|k| ("b".to_string(), k.to_string(), entry.clone()))
            .collect();
        index.record("m", &rows).expect("record");
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let page = index.entries_after("b", "a/", &after, 2).expect("page");
            let Some((last, _)) = page.last() else { break };
            after = last.clone();
            seen.extend(page.into_iter().map(|(k, _)| k));
        }
        assert_eq!(seen, ["a/1", "a/2", "a/3", "a/ü", "a/\u{10FFFF}"]);
        assert_eq!(index.entries_after("b", "", "a0", 10).expect("rest").len(), 1);
        assert_eq!(prefix_end("a/").as_deref(), Some("a0"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn entries_round_trip_by_prefix_and_uploads_resume_with_their_parts() {
        let (_dir, index) = fresh_index();
        let entry = |size| IndexEntry {
            size,
            mtime_ms: 1_700_000_000_000,
            sha256: None,
            etag: "abc".into(),
        };
        index
            .record(
                "m",
                &[
                    ("b".into(), "docs/a.txt".into(), entry(1)),
                    ("b".into(), "photos/p.jpg".into(), entry(2)),
                    ("other".into(), "docs/x".into(), entry(3)),
                ],
            )
            .expect("record");
        let docs = index.entries_after("b", "docs/", "", 10).expect("entries");
        assert_eq!(docs, vec![("docs/a.txt".to_string(), entry(1))]);
        assert_eq!(index.entries_after("b", "", "", 10).expect("all").len(), 2);
        index.remove("b", &["docs/a.txt".to_string()]).expect("remove");
        assert!(index.entries_after("b", "docs/", "", 10).expect("entries").is_empty());

        index.upload_started("b", "big", "u1", 10, 5, 4).expect("start");
        index.part_done("u1", 1, "e1", Some("c1")).expect("part");
        index.part_done("u1", 2, "e2", None).expect("part");
        let pending = index.pending_upload("b", "big").expect("pending").expect("some");
        assert_eq!(pending.upload_id, "u1");
        assert_eq!(pending.parts.len(), 2);
        assert_eq!(
            index.pending_uploads("b").expect("list"),
            vec![("big".to_string(), "u1".to_string())]
        );
        index.upload_finished("u1").expect("finish");
        assert_eq!(index.pending_upload("b", "big").expect("pending"), None);

        index.upload_intended("b", "eu-west-1", "big").expect("intent");
        let intents = index.upload_intents().expect("intents");
        assert_eq!(intents.len(), 1);
        assert_eq!(
            (intents[0].bucket.as_str(), intents[0].region.as_str()),
            ("b", "eu-west-1")
        );
        assert!(intents[0].started_ms > 1_700_000_000_000);
        index.intent_reconciled(intents[0].id).expect("reconciled");
        assert!(index.upload_intents().expect("intents").is_empty());
    }
}
