//! Where a migration's bucket stands, derived from its inventory rows: the counts `migrate status` and
//! `plan` show, the phase, and which versions the delete phase may remove. Pure.

use serde::{Deserialize, Serialize};

use crate::manifest::types::DeleteSource;
use crate::state::inventory::{ObjectRow, Restore, Status};

/// The phases of a bucket, in order. Phases overlap in a run (Standard objects download while
/// archived ones wait for their restores); a bucket's phase is the earliest one with work left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No complete scan yet.
    Scan,
    /// Archived objects whose restore has not been requested.
    Restore,
    /// Restores requested and not finished.
    Wait,
    /// Readable objects not downloaded (or to download again).
    Download,
    /// Downloaded objects not verified yet.
    Verify,
    /// Everything verified; the manifest deletes the source and it has not been deleted.
    Delete,
    /// Everything verified (and deleted, when the manifest asks).
    Done,
    /// Everything else is done, but some keys were refused: the bucket cannot complete.
    Blocked,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Scan => "scan",
            Phase::Restore => "restore",
            Phase::Wait => "wait",
            Phase::Download => "download",
            Phase::Verify => "verify",
            Phase::Delete => "delete",
            Phase::Done => "done",
            Phase::Blocked => "blocked",
        }
    }
}

/// Counts of one bucket's inventory. Byte figures are of the objects counted next to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Object versions to migrate (delete markers excluded) and their bytes.
    pub objects: usize,
    pub bytes: u64,
    pub to_restore: usize,
    pub to_restore_bytes: u64,
    pub restoring: usize,
    pub to_download: usize,
    pub to_download_bytes: u64,
    pub to_verify: usize,
    pub verified: usize,
    pub verified_bytes: u64,
    pub refused: usize,
    pub failed: usize,
    pub markers: usize,
    /// Versions the delete phase would remove now (0 until every object is verified).
    pub eligible_for_delete: usize,
    pub deleted: usize,
}

/// Counts the rows of one bucket.
pub fn tally(rows: &[ObjectRow], delete: DeleteSource) -> Tally {
    let mut counter = Counter::new(delete);
    for row in rows {
        counter.add(row);
    }
    counter.finish()
}

/// A [`Tally`] built one row at a time, so `status` and `plan` can count an inventory of millions of
/// rows as it streams out of the state without holding it.
#[derive(Debug, Clone)]
pub struct Counter {
    tally: Tally,
    delete: DeleteSource,
    /// Rows that keep the bucket from being complete, and rows the delete phase would take if it were.
    incomplete: usize,
    candidates: usize,
}

impl Counter {
    pub fn new(delete: DeleteSource) -> Counter {
        Counter {
            tally: Tally::default(),
            delete,
            incomplete: 0,
            candidates: 0,
        }
    }

    pub fn add(&mut self, row: &ObjectRow) {
        let t = &mut self.tally;
        if !is_complete(row) {
            self.incomplete += 1;
        }
        if delete_candidate(row, self.delete) {
            self.candidates += 1;
        }
        if row.delete_marker {
            t.markers += 1;
            if row.status == Status::Deleted {
                t.deleted += 1;
            }
            return;
        }
        t.objects += 1;
        t.bytes += row.size;
        match row.status {
            Status::Verified => {
                t.verified += 1;
                t.verified_bytes += row.size;
            }
            Status::Deleted => {
                t.verified += 1;
                t.verified_bytes += row.size;
                t.deleted += 1;
            }
            Status::Refused => t.refused += 1,
            Status::Downloaded => t.to_verify += 1,
            Status::Marker => {}
            Status::Pending | Status::Mismatch | Status::Failed => {
                if row.status == Status::Failed {
                    t.failed += 1;
                }
                match row.restore {
                    Restore::Needed => {
                        t.to_restore += 1;
                        t.to_restore_bytes += row.size;
                    }
                    Restore::Requested => t.restoring += 1,
                    Restore::None | Restore::Ready => {
                        t.to_download += 1;
                        t.to_download_bytes += row.size;
                    }
                }
            }
        }
    }

    pub fn finish(mut self) -> Tally {
        self.tally.eligible_for_delete = if self.incomplete == 0 { self.candidates } else { 0 };
        self.tally
    }
}

/// The phase of a bucket from its tally; `scanned` is whether a complete scan exists. The delete phase
/// lasts as long as verified versions are eligible for delete (objects a rescan added after an earlier
/// delete bring it back).
pub fn phase(t: &Tally, scanned: bool, delete: DeleteSource) -> Phase {
    if !scanned {
        Phase::Scan
    } else if t.to_restore > 0 {
        Phase::Restore
    } else if t.restoring > 0 {
        Phase::Wait
    } else if t.to_download > 0 {
        Phase::Download
    } else if t.to_verify > 0 {
        Phase::Verify
    } else if t.refused > 0 {
        Phase::Blocked
    } else if delete != DeleteSource::Never && t.eligible_for_delete > 0 {
        Phase::Delete
    } else {
        Phase::Done
    }
}

/// Whether every object version of the bucket is verified (or already deleted after verification):
/// the precondition of any delete.
pub fn complete(rows: &[ObjectRow]) -> bool {
    rows.iter().all(is_complete)
}

fn is_complete(row: &ObjectRow) -> bool {
    row.delete_marker || matches!(row.status, Status::Verified | Status::Deleted)
}

/// Whether the delete phase takes `row` once the bucket is complete.
fn delete_candidate(row: &ObjectRow, delete: DeleteSource) -> bool {
    match delete {
        DeleteSource::Never => false,
        DeleteSource::AfterVerify => row.status == Status::Verified && row.is_latest,
        DeleteSource::AllVersionsAfterVerify => matches!(row.status, Status::Verified | Status::Marker),
    }
}

/// The versions the delete phase removes: none unless the whole bucket is verified; then the
/// verified current versions (`after-verify`), or every verified version and every delete marker
/// (`all-versions-after-verify`). Only rows of the inventory are ever named, each by its version id,
/// so nothing written after the scan can be deleted. Returns indices into `rows`.
pub fn deletable(rows: &[ObjectRow], delete: DeleteSource) -> Vec<usize> {
    if delete == DeleteSource::Never || !complete(rows) {
        return Vec::new();
    }
    (0..rows.len())
        .filter(|&i| delete_candidate(&rows[i], delete))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, status: Status, restore: Restore, size: u64) -> ObjectRow {
        ObjectRow {
            key: key.into(),
            version_id: "v".into(),
            is_latest: true,
            size,
            status,
            restore,
            ..ObjectRow::default()
        }
    }

    #[test]
    fn phases_follow_the_earliest_work_left() {
        let d = DeleteSource::AfterVerify;
        let rows = vec![
            row("a", Status::Pending, Restore::Needed, 10),
            row("b", Status::Pending, Restore::Requested, 20),
            row("c", Status::Pending, Restore::None, 30),
            row("d", Status::Verified, Restore::None, 40),
        ];
        let t = tally(&rows, d);
        assert_eq!((t.objects, t.bytes), (4, 100));
        assert_eq!((t.to_restore, t.to_restore_bytes, t.restoring), (1, 10, 1));
        assert_eq!((t.to_download, t.to_download_bytes, t.verified), (1, 30, 1));
        assert_eq!(
            t.eligible_for_delete, 0,
            "nothing is deletable before everything is verified"
        );
        assert_eq!(phase(&t, true, d), Phase::Restore);
        assert_eq!(phase(&t, false, d), Phase::Scan);

        let done: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|k| row(k, Status::Verified, Restore::Ready, 1))
            .collect();
        let t = tally(&done, d);
        assert_eq!(t.eligible_for_delete, 4);
        assert_eq!(phase(&t, true, d), Phase::Delete);
        assert_eq!(phase(&t, true, DeleteSource::Never), Phase::Done);
        let deleted: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|k| row(k, Status::Deleted, Restore::Ready, 1))
            .collect();
        assert_eq!(phase(&tally(&deleted, d), true, d), Phase::Done);

        let mut refused = done.clone();
        refused[0].status = Status::Refused;
        let t = tally(&refused, d);
        assert_eq!(phase(&t, true, d), Phase::Blocked);
        assert!(
            deletable(&refused, d).is_empty(),
            "a refused key blocks every delete of the bucket"
        );
    }

    #[test]
    fn deletes_name_current_versions_or_every_version_and_marker() {
        let mut old = row("k", Status::Verified, Restore::None, 1);
        old.is_latest = false;
        old.version_id = "old".into();
        let mut marker = row("gone", Status::Marker, Restore::None, 0);
        marker.delete_marker = true;
        let rows = vec![row("k", Status::Verified, Restore::None, 1), old, marker];
        let current: Vec<_> = deletable(&rows, DeleteSource::AfterVerify)
            .into_iter()
            .map(|i| rows[i].version_id.as_str())
            .collect();
        assert_eq!(current, ["v"]);
        assert_eq!(deletable(&rows, DeleteSource::AllVersionsAfterVerify).len(), 3);
        assert!(deletable(&rows, DeleteSource::Never).is_empty());
    }
}
