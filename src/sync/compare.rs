//! Deciding what a sync does: the source files, the destination listing and the sync index → uploads,
//! deletes and files left alone. Pure: the caller walks, lists, reads the index and hashes.
//!
//! A file is unchanged, and costs nothing, when the index says it was uploaded from a file of the same
//! size and modification time and the object still has the ETag the upload gave it. Without an index
//! entry (a fresh state, or objects another tool wrote), a file counts as unchanged when the object has
//! the same size and is not older than the file, which is what `aws s3 sync` decides by; the index then
//! learns it. `compare: checksum` looks at content instead: SHA-256 against the index, or MD5 against a
//! single-part ETag.

use std::collections::HashMap;

use super::sorted::{FileRecord, ObjectRecord};
use super::spec::{Scope, SyncSpec};
use super::walk::LocalFile;
use crate::manifest::types::CompareMode;
use crate::state::sync_index::IndexEntry;

/// An object of the destination listing, as far as comparing needs it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RemoteEntry {
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub last_modified_ms: i64,
}

/// Content hashes of a local file, computed only for `compare: checksum` and only where needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// Lowercase hex.
    pub sha256: String,
    /// Lowercase hex.
    pub md5: String,
}

/// Why a file is uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    New,
    Changed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadItem {
    pub file: LocalFile,
    /// Index into the spec's destinations.
    pub destination: usize,
    pub key: String,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteItem {
    pub bucket: String,
    pub region: String,
    pub key: String,
    pub size: u64,
}

/// An index entry of one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    /// Index into the mapping's scopes.
    pub scope: u32,
    pub key: String,
    pub entry: IndexEntry,
}

/// `compare: checksum`: a file of the same size as its object, which only its content can decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashPending {
    /// The upload it becomes if the content differs.
    pub upload: UploadItem,
    pub bucket: String,
    pub remote: RemoteEntry,
    pub known: Option<IndexEntry>,
}

/// What one mapping's sync will do. Its size grows with the work, not with the tree: a file left alone
/// is a count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    pub uploads: Vec<UploadItem>,
    pub deletes: Vec<DeleteItem>,
    pub unchanged: usize,
    /// Index entries to write without uploading: files found equal to their objects.
    pub learned: Vec<(String, String, IndexEntry)>,
    /// `compare: checksum`: files whose content must be hashed before they can be decided
    /// ([`settle_hashed`]).
    pub needs_hash: Vec<HashPending>,
    /// (path, key) of files whose key another file of the mapping already takes (`{name}` templates
    /// flatten paths).
    pub collisions: Vec<(String, String)>,
    /// Extraneous objects that are not deleted because the walk could not read the source path they
    /// may have come from: a file missing from an unreadable directory is not a deleted file.
    pub withheld: usize,
    /// Objects the destination listings held.
    pub listed: usize,
}

impl SyncPlan {
    pub fn upload_bytes(&self) -> u64 {
        self.uploads.iter().map(|u| u.file.size).sum()
    }

    /// Records a decision about a file that has an object.
    fn apply(
        &mut self,
        bucket: &str,
        upload: UploadItem,
        decision: Decision,
        remote: RemoteEntry,
        known: Option<IndexEntry>,
    ) {
        match decision {
            Decision::Upload(reason) => self.uploads.push(UploadItem { reason, ..upload }),
            Decision::Unchanged => self.unchanged += 1,
            Decision::Learn(entry) => {
                self.unchanged += 1;
                self.learned.push((bucket.to_string(), upload.key, entry));
            }
            Decision::NeedsHash => {
                self.needs_hash.push(HashPending {
                    upload,
                    bucket: bucket.to_string(),
                    remote,
                    known,
                });
            }
        }
    }
}

/// Compares by merging three streams sorted by (scope, key): the walk's files with their keys, the
/// listing's objects and the index's entries ([`super::sorted`] sorts the first two; the index is read
/// in key order). Each key is decided when the streams reach it, so nothing but the work is kept.
///
/// `unreadable` holds the source paths the walk could not read ([`super::walk::unreadable`]):
/// no object that may have come from one of them is deleted. With `compare: checksum`, hash the files
/// of `needs_hash` and call [`settle_hashed`].
pub fn compare(
    spec: &SyncSpec,
    scopes: &[Scope],
    files: impl Iterator<Item = FileRecord>,
    objects: impl Iterator<Item = ObjectRecord>,
    index: impl Iterator<Item = Indexed>,
    unreadable: &[String],
) -> SyncPlan {
    let mut plan = SyncPlan::default();
    let mut files = files.peekable();
    let mut objects = objects.peekable();
    let mut index = index.peekable();
    loop {
        let order = match (files.peek(), objects.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(f), Some(o)) => (f.scope, &f.key).cmp(&(o.scope, &o.key)),
        };
        let file = if order.is_le() { files.next() } else { None };
        let object = if order.is_ge() { objects.next() } else { None };
        let (scope, key) = match (&file, &object) {
            (Some(f), _) => (f.scope, f.key.as_str()),
            (None, Some(o)) => (o.scope, o.key.as_str()),
            (None, None) => break,
        };
        // Without a key template a key is a destination's prefix and the file's unique path, so two
        // files cannot share one; with a template (`{name}` flattens directories) they can, and the
        // first path keeps it.
        while let Some(other) = files.next_if(|f| f.scope == scope && f.key == key) {
            plan.collisions.push((other.file.rel, other.key));
        }
        // A range listed twice (a server that ignores `start-after` is listed again as one range).
        while objects.next_if(|o| o.scope == scope && o.key == key).is_some() {}
        while index.next_if(|e| (e.scope, e.key.as_str()) < (scope, key)).is_some() {}
        let known = index.next_if(|e| e.scope == scope && e.key == key).map(|e| e.entry);
        let Some(scope_of) = scopes.get(scope as usize) else {
            continue;
        };
        match (file, object) {
            (Some(f), None) => plan.uploads.push(UploadItem {
                file: f.file,
                destination: f.destination as usize,
                key: f.key,
                reason: Reason::New,
            }),
            (Some(f), Some(o)) => {
                plan.listed += 1;
                let decision = decide(spec.compare, &f.file, &o.remote, known.as_ref(), None);
                let upload = UploadItem {
                    file: f.file,
                    destination: f.destination as usize,
                    key: f.key,
                    reason: Reason::Changed,
                };
                plan.apply(&scope_of.bucket, upload, decision, o.remote, known);
            }
            (None, Some(o)) => {
                plan.listed += 1;
                if !spec.delete {
                    continue;
                }
                if unreadable
                    .iter()
                    .any(|rel| spec.may_come_from(rel, &scope_of.bucket, &o.key))
                {
                    plan.withheld += 1;
                    continue;
                }
                plan.deletes.push(DeleteItem {
                    bucket: scope_of.bucket.clone(),
                    region: scope_of.region.clone(),
                    key: o.key,
                    size: o.remote.size,
                });
            }
            (None, None) => {}
        }
    }
    plan
}

/// Decides the files of `needs_hash` with their hashes, by position; a file without one (it could not
/// be read) is uploaded, and the upload reports why it cannot be read.
pub fn settle_hashed(plan: &mut SyncPlan, hashes: &HashMap<usize, Hashes>) {
    for (i, pending) in std::mem::take(&mut plan.needs_hash).into_iter().enumerate() {
        let HashPending {
            upload,
            bucket,
            remote,
            known,
        } = pending;
        let decision = match hashes.get(&i) {
            Some(h) => decide(CompareMode::Checksum, &upload.file, &remote, known.as_ref(), Some(h)),
            None => Decision::Upload(Reason::Changed),
        };
        plan.apply(&bucket, upload, decision, remote, known);
    }
}

enum Decision {
    Upload(Reason),
    Unchanged,
    /// Unchanged, and the index should remember it.
    Learn(IndexEntry),
    NeedsHash,
}

fn decide(
    mode: CompareMode,
    file: &LocalFile,
    remote: &RemoteEntry,
    known: Option<&IndexEntry>,
    hashes: Option<&Hashes>,
) -> Decision {
    // The object was rewritten since s3rec uploaded it (another writer): the source is the truth, so
    // it is uploaded again whatever its date says. Some S3-compatible servers (s3s-fs) list objects
    // without an ETag; there only the size can tell.
    let rewritten = |k: &IndexEntry| k.size != remote.size || (!remote.etag.is_empty() && k.etag != remote.etag);
    if known.is_some_and(rewritten) {
        return Decision::Upload(Reason::Changed);
    }
    let same_stat = known.is_some_and(|k| k.size == file.size && k.mtime_ms == file.mtime_ms);
    match mode {
        CompareMode::SizeMtime => {
            if same_stat {
                Decision::Unchanged
            } else if known.is_none()
                && remote.size == file.size
                // Listings give LastModified to the second (AWS and S3-compatible servers alike).
                && remote.last_modified_ms.div_euclid(1000) >= file.mtime_ms.div_euclid(1000)
            {
                Decision::Learn(IndexEntry {
                    size: file.size,
                    mtime_ms: file.mtime_ms,
                    sha256: None,
                    etag: remote.etag.clone(),
                })
            } else {
                Decision::Upload(Reason::Changed)
            }
        }
        CompareMode::Checksum => {
            if same_stat && known.is_some_and(|k| k.sha256.is_some()) {
                return Decision::Unchanged;
            }
            if remote.size != file.size {
                return Decision::Upload(Reason::Changed);
            }
            let Some(hashes) = hashes else {
                return Decision::NeedsHash;
            };
            let equal = match known.and_then(|k| k.sha256.as_deref()) {
                Some(sha) => sha == hashes.sha256,
                // A single-part upload's ETag is the MD5 of the content (without SSE-KMS); a multipart
                // ETag (`…-N`) is not, and then only an upload makes the index sure.
                None => !remote.etag.contains('-') && remote.etag.eq_ignore_ascii_case(&hashes.md5),
            };
            if equal {
                Decision::Learn(IndexEntry {
                    size: file.size,
                    mtime_ms: file.mtime_ms,
                    sha256: Some(hashes.sha256.clone()),
                    etag: remote.etag.clone(),
                })
            } else {
                Decision::Upload(Reason::Changed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn spec(extra: &str) -> SyncSpec {
        let m = crate::manifest::load::valid_for_tests(&format!(
            "environment: t\nbuckets:\n  b:\n    name: b-t\nsync:\n  m:\n    source: /src\n    bucket: b\n    prefix: p/\n{extra}"
        ));
        SyncSpec::new(&m, "m", &m.sync["m"], Path::new("/"), "us-east-1").expect("spec")
    }

    fn file(rel: &str, size: u64, mtime_ms: i64) -> LocalFile {
        LocalFile {
            rel: rel.into(),
            size,
            mtime_ms,
        }
    }

    fn remote(key: &str, size: u64, etag: &str, last_modified_ms: i64) -> (String, RemoteEntry) {
        (
            key.to_string(),
            RemoteEntry {
                size,
                etag: etag.into(),
                last_modified_ms,
            },
        )
    }

    fn entry(size: u64, mtime_ms: i64, etag: &str) -> IndexEntry {
        IndexEntry {
            size,
            mtime_ms,
            sha256: None,
            etag: etag.into(),
        }
    }

    /// Compares as a sync does: files, objects and index entries of bucket `b-t` in any order, put in
    /// their scopes and sorted; an object outside every scope is never listed, so it is left out.
    fn run(
        spec: &SyncSpec,
        files: &[LocalFile],
        objects: &[(String, RemoteEntry)],
        index: &[(&str, IndexEntry)],
        unreadable: &[String],
    ) -> SyncPlan {
        let scopes = spec.scopes();
        let scope_of = spec.destination_scopes(&scopes);
        let scope_of_key = |key: &str| {
            let n = scopes
                .iter()
                .position(|s| s.bucket == "b-t" && key.starts_with(&s.prefix))?;
            u32::try_from(n).ok()
        };
        let mut file_records: Vec<FileRecord> = files
            .iter()
            .map(|f| FileRecord::of(spec, &scope_of, f.clone()))
            .collect();
        file_records.sort();
        let mut object_records: Vec<ObjectRecord> = objects
            .iter()
            .filter_map(|(key, remote)| {
                Some(ObjectRecord {
                    scope: scope_of_key(key)?,
                    key: key.clone(),
                    remote: remote.clone(),
                })
            })
            .collect();
        object_records.sort();
        let mut indexed: Vec<Indexed> = index
            .iter()
            .filter_map(|(key, entry)| {
                Some(Indexed {
                    scope: scope_of_key(key)?,
                    key: (*key).to_string(),
                    entry: entry.clone(),
                })
            })
            .collect();
        indexed.sort_by(|a, b| (a.scope, &a.key).cmp(&(b.scope, &b.key)));
        compare(
            spec,
            &scopes,
            file_records.into_iter(),
            object_records.into_iter(),
            indexed.into_iter(),
            unreadable,
        )
    }

    #[test]
    fn new_changed_unchanged_and_extraneous_objects() {
        let s = spec("    delete: true\n");
        let files = vec![
            file("d", 4, 500_000),
            file("a", 1, 100_000),
            file("c", 3, 100_000),
            file("b", 2, 100_000),
        ];
        let listing = [
            remote("p/old", 9, "eo", 1),     // extraneous: deleted
            remote("p/b", 2, "eb", 50_000),  // indexed, same stat: unchanged
            remote("p/c", 3, "ec", 100_900), // not indexed, same size, same second: learned
            remote("p/d", 4, "ed", 200_000), // not indexed, older than the file: changed
            remote("other/x", 9, "ex", 1),
        ];
        let plan = run(&s, &files, &listing, &[("p/b", entry(2, 100_000, "eb"))], &[]);
        let uploads: Vec<(&str, Reason)> = plan.uploads.iter().map(|u| (u.key.as_str(), u.reason)).collect();
        assert_eq!(uploads, vec![("p/a", Reason::New), ("p/d", Reason::Changed)]);
        assert_eq!(plan.uploads[0].file, file("a", 1, 100_000));
        assert_eq!(plan.unchanged, 2);
        assert_eq!(plan.learned.len(), 1);
        assert_eq!(plan.learned[0].1, "p/c");
        let deletes: Vec<&str> = plan.deletes.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(deletes, vec!["p/old"], "only under the mapping's prefix");
        assert_eq!(plan.listed, 4);
        assert_eq!(plan.upload_bytes(), 5);
    }

    #[test]
    fn nothing_the_walk_could_not_read_is_deleted() {
        let s = spec("    delete: true\n");
        // `private/` could not be listed and `lost.txt` could not be stat'ed: their objects stay.
        let files = vec![file("kept", 1, 100_000)];
        let listing = [
            remote("p/kept", 1, "ek", 200_000),
            remote("p/private/a.txt", 1, "ea", 1),
            remote("p/private/deep/b.txt", 1, "eb", 1),
            remote("p/lost.txt", 1, "el", 1),
            remote("p/privateer.txt", 1, "ep", 1),
        ];
        let unreadable = ["private".to_string(), "lost.txt".to_string()];
        let plan = run(&s, &files, &listing, &[], &unreadable);
        let deletes: Vec<&str> = plan.deletes.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            deletes,
            vec!["p/privateer.txt"],
            "only what is outside the unreadable paths"
        );
        assert_eq!(plan.withheld, 3);

        // An error at the top of the tree (or one without a path) withholds every delete.
        let plan = run(&s, &files, &listing, &[], &[String::new()]);
        assert!(plan.deletes.is_empty(), "{plan:?}");
        assert_eq!(plan.withheld, 4);

        // So does any error when keys come from a template, which cannot be mapped back to paths.
        let templated = spec("    delete: true\n    key_template: \"{path}\"\n");
        let plan = run(&templated, &files, &listing, &[], &unreadable[1..]);
        assert!(plan.deletes.is_empty(), "{plan:?}");
        assert_eq!(plan.withheld, 4);
    }

    #[test]
    fn an_object_rewritten_by_someone_else_or_a_touched_file_is_uploaded_again() {
        let s = spec("");
        // `a` was rewritten by another writer after s3rec uploaded it (newer, same size); `b` was touched.
        let files = vec![file("a", 1, 100_000), file("b", 1, 300_000)];
        let listing = [remote("p/a", 1, "new-etag", 900_000), remote("p/b", 1, "eb", 50_000)];
        let index = [("p/a", entry(1, 100_000, "old-etag")), ("p/b", entry(1, 100_000, "eb"))];
        let plan = run(&s, &files, &listing, &index, &[]);
        assert_eq!(plan.uploads.len(), 2, "{plan:?}");
        assert!(plan.deletes.is_empty(), "no delete unless the mapping asks");
    }

    #[test]
    fn checksum_mode_hashes_only_what_it_must_and_compares_content() {
        let s = spec("    compare: checksum\n");
        let files = vec![
            file("same", 3, 999),
            file("diff", 3, 999),
            file("size", 4, 1),
            file("gone", 3, 1),
        ];
        let md5 = "900150983cd24fb0d6963f7d28e17f72";
        let listing = [
            remote("p/same", 3, md5, 1),
            remote("p/diff", 3, md5, 1),
            remote("p/size", 3, "x", 1),
            remote("p/gone", 3, md5, 1),
        ];
        let mut plan = run(&s, &files, &listing, &[], &[]);
        let pending: Vec<&str> = plan.needs_hash.iter().map(|p| p.upload.key.as_str()).collect();
        assert_eq!(
            pending,
            vec!["p/diff", "p/gone", "p/same"],
            "a different size needs no hash"
        );
        let hash = |sha: &str, md5: &str| Hashes {
            sha256: sha.into(),
            md5: md5.into(),
        };
        // `p/gone` has no hash (it could not be read): it is uploaded, and the upload says why it fails.
        let hashes = HashMap::from([(0, hash("t", "00000000000000000000000000000000")), (2, hash("s", md5))]);
        settle_hashed(&mut plan, &hashes);
        let keys: Vec<&str> = plan.uploads.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, vec!["p/size", "p/diff", "p/gone"]);
        assert!(plan.needs_hash.is_empty());
        assert_eq!(plan.learned.len(), 1);
        assert_eq!(plan.learned[0].1, "p/same");
        assert_eq!(plan.learned[0].2.sha256.as_deref(), Some("s"));
    }

    #[test]
    fn two_files_with_one_key_are_a_collision_and_the_first_path_keeps_it() {
        let s = spec("    key_template: \"{name}\"\n");
        let files = vec![file("b/x.txt", 1, 1), file("a/x.txt", 1, 1)];
        let plan = run(&s, &files, &[], &[], &[]);
        assert_eq!(plan.uploads.len(), 1);
        assert_eq!(plan.uploads[0].file.rel, "a/x.txt");
        assert_eq!(plan.collisions, vec![("b/x.txt".to_string(), "p/x.txt".to_string())]);
    }

    #[test]
    fn a_listing_without_etags_still_finds_unchanged_files() {
        let s = spec("");
        let files = vec![file("a", 1, 100_000), file("b", 2, 200_000)];
        let listing = [remote("p/a", 1, "", 100_000), remote("p/b", 3, "", 100_000)];
        let index = [("p/a", entry(1, 100_000, "ea")), ("p/b", entry(2, 200_000, "eb"))];
        let plan = run(&s, &files, &listing, &index, &[]);
        let keys: Vec<&str> = plan.uploads.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, vec!["p/b"], "the size still tells a rewritten object");
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn keys_listed_twice_count_once_and_index_entries_without_objects_are_passed_over() {
        let s = spec("    delete: true\n");
        let files = vec![file("a", 1, 100_000)];
        // A server that ignores `start-after` has its ranges listed again as one: keys come twice.
        let listing = [
            remote("p/a", 1, "ea", 1),
            remote("p/a", 1, "ea", 1),
            remote("p/z", 1, "ez", 1),
            remote("p/z", 1, "ez", 1),
        ];
        let index = [
            ("p/0", entry(5, 5, "gone")),
            ("p/a", entry(1, 100_000, "ea")),
            ("p/m", entry(5, 5, "gone")),
        ];
        let plan = run(&s, &files, &listing, &index, &[]);
        assert!(plan.uploads.is_empty(), "{plan:?}");
        assert_eq!(plan.unchanged, 1);
        let deletes: Vec<&str> = plan.deletes.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(deletes, vec!["p/z"]);
        assert_eq!(plan.listed, 2);
    }

    #[test]
    fn routes_to_prefixes_of_one_bucket_merge_in_one_scope_in_key_order() {
        // Route `.log` files under `p/logs/`: one scope (`p/`), whose keys interleave the two
        // destinations in an order the walk's paths do not have.
        let s = spec(
            "    delete: true\n    routes:\n      - extensions: [log]\n        bucket: b\n        prefix: p/logs/\n",
        );
        let files = vec![
            file("a.log", 1, 100_000),
            file("k.txt", 1, 100_000),
            file("z.log", 1, 100_000),
        ];
        let listing = [
            remote("p/k.txt", 1, "ek", 200_000),
            remote("p/logs/a.log", 1, "ea", 200_000),
            remote("p/logs/old.log", 1, "eo", 200_000),
            remote("p/a.log", 1, "stale", 200_000),
        ];
        let plan = run(&s, &files, &listing, &[], &[]);
        let uploads: Vec<&str> = plan.uploads.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(uploads, vec!["p/logs/z.log"]);
        assert_eq!(plan.unchanged, 2);
        let deletes: Vec<&str> = plan.deletes.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(deletes, vec!["p/a.log", "p/logs/old.log"]);
    }
}
