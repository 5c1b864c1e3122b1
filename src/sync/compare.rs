//! Deciding what a sync does: the source files, the destination listing and the sync index → uploads,
//! deletes and files left alone. Pure: the caller walks, lists, reads the index and hashes.
//!
//! A file is unchanged, and costs nothing, when the index says it was uploaded from a file of the same
//! size and modification time and the object still has the ETag the upload gave it. Without an index
//! entry (a fresh state, or objects another tool wrote), a file counts as unchanged when the object has
//! the same size and is not older than the file, which is what `aws s3 sync` decides by; the index then
//! learns it. `compare: checksum` looks at content instead: SHA-256 against the index, or MD5 against a
//! single-part ETag.

use std::collections::{HashMap, HashSet};

use super::spec::SyncSpec;
use super::walk::LocalFile;
use crate::manifest::types::CompareMode;
use crate::state::sync_index::IndexEntry;

/// An object of the destination listing, as far as comparing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Index into the walked files.
    pub file: usize,
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

/// What one mapping's sync will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    pub uploads: Vec<UploadItem>,
    pub deletes: Vec<DeleteItem>,
    pub unchanged: usize,
    /// Index entries to write without uploading: files found equal to their objects.
    pub learned: Vec<(String, String, IndexEntry)>,
    /// `compare: checksum`: files whose content must be hashed before they can be decided.
    pub needs_hash: Vec<usize>,
    /// Files whose key another file of the mapping already takes (`{name}` templates flatten paths).
    pub collisions: Vec<(usize, String)>,
    /// Extraneous objects that are not deleted because the walk could not read the source path they
    /// may have come from: a file missing from an unreadable directory is not a deleted file.
    pub withheld: usize,
}

impl SyncPlan {
    pub fn upload_bytes(&self, files: &[LocalFile]) -> u64 {
        self.uploads.iter().map(|u| files[u.file].size).sum()
    }
}

/// The listing of every scope: bucket → key → object. Keyed per bucket so a key is stored once, not with
/// a copy of its bucket's name: at 200,000 objects that is the difference between fitting the memory
/// budget and not.
pub type Listing = HashMap<String, HashMap<String, RemoteEntry>>;
/// The index entries of every scope: bucket → key → entry.
pub type Index = HashMap<String, HashMap<String, IndexEntry>>;

/// Compares. With `compare: checksum`, call once with no hashes to learn `needs_hash`, hash those files,
/// and call again with the hashes. `unreadable` holds the source paths the walk could not read
/// ([`super::walk::Walked::unreadable`]): no object that may have come from one of them is deleted.
pub fn compare(
    spec: &SyncSpec,
    files: &[LocalFile],
    unreadable: &[String],
    listing: &Listing,
    index: &Index,
    hashes: &HashMap<usize, Hashes>,
) -> SyncPlan {
    let no_objects = HashMap::new();
    let no_entries = HashMap::new();
    let mut plan = SyncPlan::default();
    // Objects that have a source file, borrowed from the listing: what is left over is extraneous.
    let mut matched: HashSet<(&str, &str)> = HashSet::with_capacity(files.len());
    // Without a key template, a key is the destination's prefix and the file's unique relative path, so
    // two files cannot share one; with a template (`{name}` flattens directories) they can.
    let mut taken: Option<HashSet<(usize, String)>> = spec.has_key_template().then(HashSet::new);
    for (i, file) in files.iter().enumerate() {
        let destination = spec.destination_of(&file.rel);
        let key = spec.key_of(destination, &file.rel, file.mtime_ms);
        let bucket = spec.destinations[destination].bucket.as_str();
        if let Some(taken) = taken.as_mut() {
            let bucket_id = spec.bucket_id(destination);
            if !taken.insert((bucket_id, key.clone())) {
                plan.collisions.push((i, key));
                continue;
            }
        }
        let objects = listing.get(bucket).unwrap_or(&no_objects);
        let decision = match objects.get_key_value(&key) {
            None => Decision::Upload(Reason::New),
            Some((listed_key, remote)) => {
                matched.insert((bucket, listed_key.as_str()));
                let known = index.get(bucket).unwrap_or(&no_entries).get(&key);
                decide(spec.compare, file, remote, known, hashes.get(&i))
            }
        };
        match decision {
            Decision::Upload(reason) => plan.uploads.push(UploadItem {
                file: i,
                destination,
                key,
                reason,
            }),
            Decision::Unchanged => plan.unchanged += 1,
            Decision::Learn(entry) => {
                plan.unchanged += 1;
                plan.learned.push((bucket.to_string(), key, entry));
            }
            Decision::NeedsHash => plan.needs_hash.push(i),
        }
    }
    if spec.delete {
        let scopes = spec.scopes();
        for (bucket, objects) in listing {
            for (key, remote) in objects {
                if matched.contains(&(bucket.as_str(), key.as_str())) {
                    continue;
                }
                let Some(scope) = scopes
                    .iter()
                    .find(|s| s.bucket == *bucket && key.starts_with(&s.prefix))
                else {
                    continue;
                };
                if unreadable.iter().any(|rel| spec.may_come_from(rel, bucket, key)) {
                    plan.withheld += 1;
                    continue;
                }
                plan.deletes.push(DeleteItem {
                    bucket: bucket.clone(),
                    region: scope.region.clone(),
                    key: key.clone(),
                    size: remote.size,
                });
            }
        }
        plan.deletes
            .sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
    }
    plan
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

    fn remote(key: &str, size: u64, etag: &str, last_modified_ms: i64) -> ((String, String), RemoteEntry) {
        (
            ("b-t".to_string(), key.to_string()),
            RemoteEntry {
                size,
                etag: etag.into(),
                last_modified_ms,
            },
        )
    }

    /// Per-bucket maps from (bucket, key) pairs.
    fn by_bucket<V>(pairs: impl IntoIterator<Item = ((String, String), V)>) -> HashMap<String, HashMap<String, V>> {
        let mut out: HashMap<String, HashMap<String, V>> = HashMap::new();
        for ((bucket, key), v) in pairs {
            out.entry(bucket).or_default().insert(key, v);
        }
        out
    }

    fn entry(size: u64, mtime_ms: i64, etag: &str) -> IndexEntry {
        IndexEntry {
            size,
            mtime_ms,
            sha256: None,
            etag: etag.into(),
        }
    }

    #[test]
    fn new_changed_unchanged_and_extraneous_objects() {
        let s = spec("    delete: true\n");
        let files = vec![
            file("a", 1, 100_000),
            file("b", 2, 100_000),
            file("c", 3, 100_000),
            file("d", 4, 500_000),
        ];
        let listing: Listing = by_bucket([
            remote("p/b", 2, "eb", 50_000),  // indexed, same stat: unchanged
            remote("p/c", 3, "ec", 100_900), // not indexed, same size, same second: learned
            remote("p/d", 4, "ed", 200_000), // not indexed, older than the file: changed
            remote("p/old", 9, "eo", 1),     // extraneous: deleted
            remote("other/x", 9, "ex", 1),
        ]);
        let index: Index = by_bucket([(("b-t".to_string(), "p/b".to_string()), entry(2, 100_000, "eb"))]);
        let plan = compare(&s, &files, &[], &listing, &index, &HashMap::new());
        let uploads: Vec<(&str, Reason)> = plan.uploads.iter().map(|u| (u.key.as_str(), u.reason)).collect();
        assert_eq!(uploads, vec![("p/a", Reason::New), ("p/d", Reason::Changed)]);
        assert_eq!(plan.unchanged, 2);
        assert_eq!(plan.learned.len(), 1);
        assert_eq!(plan.learned[0].1, "p/c");
        let deletes: Vec<&str> = plan.deletes.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(deletes, vec!["p/old"], "only under the mapping's prefix");
    }

    #[test]
    fn nothing_the_walk_could_not_read_is_deleted() {
        let s = spec("    delete: true\n");
        // `private/` could not be listed and `lost.txt` could not be stat'ed: their objects stay.
        let files = vec![file("kept", 1, 100_000)];
        let listing: Listing = by_bucket([
            remote("p/kept", 1, "ek", 200_000),
            remote("p/private/a.txt", 1, "ea", 1),
            remote("p/private/deep/b.txt", 1, "eb", 1),
            remote("p/lost.txt", 1, "el", 1),
            remote("p/privateer.txt", 1, "ep", 1),
        ]);
        let unreadable = ["private".to_string(), "lost.txt".to_string()];
        let plan = compare(&s, &files, &unreadable, &listing, &Index::new(), &HashMap::new());
        let deletes: Vec<&str> = plan.deletes.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            deletes,
            vec!["p/privateer.txt"],
            "only what is outside the unreadable paths"
        );
        assert_eq!(plan.withheld, 3);

        // An error at the top of the tree (or one without a path) withholds every delete.
        let plan = compare(&s, &files, &[String::new()], &listing, &Index::new(), &HashMap::new());
        assert!(plan.deletes.is_empty(), "{plan:?}");
        assert_eq!(plan.withheld, 4);

        // So does any error when keys come from a template, which cannot be mapped back to paths.
        let templated = spec("    delete: true\n    key_template: \"{path}\"\n");
        let plan = compare(
            &templated,
            &files,
            &unreadable[1..],
            &listing,
            &Index::new(),
            &HashMap::new(),
        );
        assert!(plan.deletes.is_empty(), "{plan:?}");
        assert_eq!(plan.withheld, 4);
    }

    #[test]
    fn an_object_rewritten_by_someone_else_or_a_touched_file_is_uploaded_again() {
        let s = spec("");
        // `a` was rewritten by another writer after s3rec uploaded it (newer, same size); `b` was touched.
        let files = vec![file("a", 1, 100_000), file("b", 1, 300_000)];
        let listing: Listing = by_bucket([remote("p/a", 1, "new-etag", 900_000), remote("p/b", 1, "eb", 50_000)]);
        let index: Index = by_bucket([
            (("b-t".to_string(), "p/a".to_string()), entry(1, 100_000, "old-etag")),
            (("b-t".to_string(), "p/b".to_string()), entry(1, 100_000, "eb")),
        ]);
        let plan = compare(&s, &files, &[], &listing, &index, &HashMap::new());
        assert_eq!(plan.uploads.len(), 2, "{plan:?}");
        assert!(plan.deletes.is_empty(), "no delete unless the mapping asks");
    }

    #[test]
    fn checksum_mode_hashes_only_what_it_must_and_compares_content() {
        let s = spec("    compare: checksum\n");
        let files = vec![file("same", 3, 999), file("diff", 3, 999), file("size", 4, 1)];
        let listing: Listing = by_bucket([
            remote("p/same", 3, "900150983cd24fb0d6963f7d28e17f72", 1),
            remote("p/diff", 3, "900150983cd24fb0d6963f7d28e17f72", 1),
            remote("p/size", 3, "x", 1),
        ]);
        let first = compare(&s, &files, &[], &listing, &Index::new(), &HashMap::new());
        assert_eq!(first.needs_hash, vec![0, 1], "a different size needs no hash");
        let hashes = HashMap::from([
            (
                0,
                Hashes {
                    sha256: "s".into(),
                    md5: "900150983cd24fb0d6963f7d28e17f72".into(),
                },
            ),
            (
                1,
                Hashes {
                    sha256: "t".into(),
                    md5: "00000000000000000000000000000000".into(),
                },
            ),
        ]);
        let second = compare(&s, &files, &[], &listing, &Index::new(), &hashes);
        let keys: Vec<&str> = second.uploads.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, vec!["p/diff", "p/size"]);
        assert_eq!(second.learned.len(), 1);
        assert_eq!(second.learned[0].2.sha256.as_deref(), Some("s"));
    }

    #[test]
    fn two_files_with_one_key_are_a_collision() {
        let s = spec("    key_template: \"{name}\"\n");
        let files = vec![file("a/x.txt", 1, 1), file("b/x.txt", 1, 1)];
        let plan = compare(&s, &files, &[], &Listing::new(), &Index::new(), &HashMap::new());
        assert_eq!(plan.uploads.len(), 1);
        assert_eq!(plan.collisions, vec![(1, "p/x.txt".to_string())]);
    }

    #[test]
    fn a_listing_without_etags_still_finds_unchanged_files() {
        let s = spec("");
        let files = vec![file("a", 1, 100_000), file("b", 2, 200_000)];
        let listing: Listing = by_bucket([remote("p/a", 1, "", 100_000), remote("p/b", 3, "", 100_000)]);
        let index: Index = by_bucket([
            (("b-t".to_string(), "p/a".to_string()), entry(1, 100_000, "ea")),
            (("b-t".to_string(), "p/b".to_string()), entry(2, 200_000, "eb")),
        ]);
        let plan = compare(&s, &files, &[], &listing, &index, &HashMap::new());
        let keys: Vec<&str> = plan.uploads.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, vec!["p/b"], "the size still tells a rewritten object");
        assert_eq!(plan.unchanged, 1);
    }
}
