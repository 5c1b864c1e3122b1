//! The scan's decisions: which listed versions a migration covers, how a new listing merges with the
//! progress an earlier scan recorded, which local path each version gets, and which ones need a
//! restore. Pure: the listing comes in as rows, the merged inventory goes out.

use std::collections::HashMap;

use super::local::{self, Item};
use super::spec::needs_restore;
use crate::manifest::types::MigrationVersions;
use crate::state::inventory::{ObjectRow, Restore, Status};

/// Whether a listed version is part of the migration: every version and delete marker with
/// `versions: all`; with `current`, the latest version of each key unless it is a delete marker (the
/// key was deleted: there is nothing current to migrate).
pub fn covered(versions: MigrationVersions, is_latest: bool, delete_marker: bool) -> bool {
    match versions {
        MigrationVersions::All => true,
        MigrationVersions::Current => is_latest && !delete_marker,
    }
}

/// What a rescan changed, for the run's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// Versions the earlier scan did not have.
    pub added: usize,
    /// Versions whose content changed since the earlier scan (same key and version id, another ETag or
    /// size: an unversioned object rewritten); their progress starts again.
    pub changed: usize,
    /// Versions the earlier scan had, no longer listed and not migrated: dropped.
    pub dropped: usize,
}

/// Merges a new listing into the earlier inventory. A version listed again with the same ETag and
/// size keeps its progress; one that was verified or deleted by the migration is kept even when the
/// listing no longer has it (its local copy is the migrated object). Then every row gets its local
/// path (or its refusal) and archived ones are marked for restore.
pub fn merge(
    old: Vec<ObjectRow>,
    listed: Vec<ObjectRow>,
    prefix: &str,
    versions: MigrationVersions,
    case_insensitive: bool,
) -> (Vec<ObjectRow>, Merged) {
    let mut merged = Merged::default();
    let mut previous: HashMap<(String, String), ObjectRow> = old
        .into_iter()
        .map(|r| ((r.key.clone(), r.version_id.clone()), r))
        .collect();
    let mut rows: Vec<ObjectRow> = Vec::with_capacity(listed.len());
    for mut row in listed {
        match previous.remove(&(row.key.clone(), row.version_id.clone())) {
            Some(old) if old.etag == row.etag && old.size == row.size && old.delete_marker == row.delete_marker => {
                // Facts that can change without new content (a later version makes this one
                // non-current; a lifecycle rule moves it to Glacier) come from the listing.
                let (is_latest, storage_class) = (row.is_latest, row.storage_class);
                row = old;
                row.is_latest = is_latest;
                if storage_class != row.storage_class && !matches!(row.status, Status::Verified | Status::Deleted) {
                    row.restore = Restore::None;
                }
                row.storage_class = storage_class;
            }
            Some(_) => merged.changed += 1,
            None => merged.added += 1,
        }
        rows.push(row);
    }
    for (_, old) in previous {
        if matches!(old.status, Status::Verified | Status::Deleted) {
            rows.push(old);
        } else {
            merged.dropped += 1;
        }
    }
    rows.sort_by(|a, b| (&a.key, &a.version_id).cmp(&(&b.key, &b.version_id)));

    // Paths are assigned over the whole inventory at once, because collisions are between rows.
    let files: Vec<usize> = (0..rows.len()).filter(|&i| !rows[i].delete_marker).collect();
    let items: Vec<Item<'_>> = files
        .iter()
        .map(|&i| Item {
            key: &rows[i].key,
            version_id: &rows[i].version_id,
            is_latest: rows[i].is_latest,
            size: rows[i].size,
        })
        .collect();
    let paths = local::assign(&items, prefix, versions, case_insensitive);
    for (&i, path) in files.iter().zip(paths) {
        let row = &mut rows[i];
        if matches!(row.status, Status::Verified | Status::Deleted) {
            // A migrated object keeps the path it was written to, even if a key that arrived later now
            // collides with it: the newcomer is the one refused.
            continue;
        }
        match path {
            Ok(path) => {
                row.local_path = Some(path);
                row.refused = None;
                if row.status == Status::Refused {
                    row.status = Status::Pending;
                }
            }
            Err(refusal) => {
                row.local_path = None;
                row.refused = Some(refusal.to_string());
                row.status = Status::Refused;
            }
        }
        if row.restore == Restore::None && needs_restore(&row.storage_class) {
            row.restore = Restore::Needed;
        }
    }
    (rows, merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(key: &str, version: &str, etag: &str, class: &str) -> ObjectRow {
        ObjectRow {
            key: key.into(),
            version_id: version.into(),
            is_latest: true,
            size: 5,
            etag: etag.into(),
            storage_class: class.into(),
            ..ObjectRow::default()
        }
    }

    #[test]
    fn covers_current_versions_or_everything() {
        assert!(covered(MigrationVersions::Current, true, false));
        assert!(!covered(MigrationVersions::Current, false, false));
        assert!(!covered(MigrationVersions::Current, true, true));
        assert!(covered(MigrationVersions::All, false, true));
    }

    #[test]
    fn a_rescan_keeps_progress_restarts_changed_objects_and_refuses_hostile_keys() {
        let (first, m) = merge(
            Vec::new(),
            vec![
                listed("a", "null", "e1", "STANDARD"),
                listed("b", "null", "e2", "DEEP_ARCHIVE"),
                listed("../../etc/x", "null", "e3", "STANDARD"),
            ],
            "",
            MigrationVersions::Current,
            false,
        );
        assert_eq!(m.added, 3);
        let by_key = |rows: &[ObjectRow], k: &str| rows.iter().find(|r| r.key == k).cloned().expect("row");
        assert_eq!(by_key(&first, "a").local_path.as_deref(), Some("a"));
        assert_eq!(by_key(&first, "b").restore, Restore::Needed);
        let hostile = by_key(&first, "../../etc/x");
        assert_eq!(hostile.status, Status::Refused);
        assert!(hostile.local_path.is_none() && hostile.refused.is_some());

        let mut progressed = first.clone();
        for row in &mut progressed {
            if row.key == "a" {
                row.status = Status::Verified;
            }
            if row.key == "b" {
                row.restore = Restore::Requested;
            }
        }
        let (second, m) = merge(
            progressed,
            vec![
                listed("b", "null", "e2", "DEEP_ARCHIVE"),
                listed("c", "null", "e4", "STANDARD"),
            ],
            "",
            MigrationVersions::Current,
            false,
        );
        assert_eq!((m.added, m.changed, m.dropped), (1, 0, 1));
        assert_eq!(
            by_key(&second, "a").status,
            Status::Verified,
            "a verified object outlives its source"
        );
        assert_eq!(
            by_key(&second, "b").restore,
            Restore::Requested,
            "progress survives a rescan"
        );
        assert!(second.iter().all(|r| r.key != "../../etc/x"));

        let (third, m) = merge(
            second,
            vec![listed("b", "null", "changed", "DEEP_ARCHIVE")],
            "",
            MigrationVersions::Current,
            false,
        );
        assert_eq!(m.changed, 1);
        assert_eq!(by_key(&third, "b").restore, Restore::Needed, "new content starts over");
    }
}
