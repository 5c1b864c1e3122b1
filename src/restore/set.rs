//! The set a restore brings back: each chosen version with the relative path its file had, and the keys
//! that get none, each with the reason. Pure.
//!
//! A key belongs to the mapping when one of its destinations (same bucket, key under its prefix) turns it
//! back into a path ([`Inverse::path_of`]) that sync would send to that very destination (routes by
//! extension) and that the mapping's globs select. Keys of the listed prefixes that no destination claims
//! were put there by something else and are counted, not restored. The paths are then checked as the
//! migration checks keys ([`local::assign`]): nothing that could escape the target directory, no two
//! objects on one path.

use crate::aws::archive::RemoteVersion;
use crate::migrate::local;
use crate::sync::spec::{Scope, SyncSpec};

use super::keys::{Inverse, Unmapped};

/// Storage classes whose objects must be restored before they can be read.
pub const ARCHIVED_CLASSES: [&str; 2] = ["GLACIER", "DEEP_ARCHIVE"];

/// One version to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub bucket: String,
    pub region: String,
    pub key: String,
    pub version_id: String,
    pub etag: String,
    pub size: u64,
    pub storage_class: String,
    /// The relative path (`/`-separated) of its file under the target directory.
    pub rel: String,
}

impl Item {
    /// The GetObject of this version into `path`, from byte `offset`, pinned to its ETag.
    pub fn download<'a>(&'a self, path: &'a std::path::Path, offset: u64) -> crate::aws::archive::Download<'a> {
        crate::aws::archive::Download {
            bucket: &self.bucket,
            region: &self.region,
            key: &self.key,
            version_id: &self.version_id,
            etag: &self.etag,
            path,
            offset,
        }
    }

    /// Whether the object is in an archive storage class and needs a restore before a download.
    pub fn archived(&self) -> bool {
        ARCHIVED_CLASSES.contains(&self.storage_class.as_str())
    }
}

/// The whole set, with what was left out of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreSet {
    pub items: Vec<Item>,
    /// (key, why) of keys of the mapping that get no file: no path, an unsafe path, a collision.
    pub refused: Vec<(String, String)>,
    /// Keys under the listed prefixes that the mapping does not produce (another writer's, or paths
    /// its globs or routes leave out).
    pub foreign: usize,
    /// Keys that did not exist at the chosen time (a delete marker was current, or nothing was yet).
    pub absent: usize,
}

impl RestoreSet {
    pub fn bytes(&self) -> u64 {
        self.items.iter().map(|i| i.size).sum()
    }

    pub fn archived(&self) -> usize {
        self.items.iter().filter(|i| i.archived()).count()
    }

    /// Adds the versions chosen in one listed scope. `prefix` keeps only paths that start with it.
    pub fn add(&mut self, spec: &SyncSpec, inverse: &Inverse, scope: &Scope, chosen: Vec<RemoteVersion>, prefix: &str) {
        // The destinations in this scope's bucket, longest prefix first, so a route's own prefix inside
        // the mapping's claims its keys first.
        let mut destinations: Vec<usize> = (0..spec.destinations.len())
            .filter(|&d| spec.destinations[d].bucket == scope.bucket)
            .collect();
        destinations.sort_by_key(|&d| std::cmp::Reverse(spec.destinations[d].prefix.len()));
        for v in chosen {
            match claim(spec, inverse, &destinations, &v.key) {
                Claim::Path(rel) => {
                    if rel.starts_with(prefix) {
                        self.items.push(Item {
                            bucket: scope.bucket.clone(),
                            region: scope.region.clone(),
                            key: v.key,
                            version_id: v.version_id,
                            etag: v.etag,
                            size: v.size,
                            storage_class: v.storage_class,
                            rel,
                        });
                    }
                }
                Claim::Refused(why) => self.refused.push((v.key, why)),
                Claim::Foreign => self.foreign += 1,
            }
        }
    }

    /// Refuses every item whose path is unsafe or shared with another item (with `case_insensitive`,
    /// equal but for case), as a migration refuses keys.
    pub fn check_paths(&mut self, case_insensitive: bool) {
        let items: Vec<local::Item<'_>> = self
            .items
            .iter()
            .map(|i| local::Item {
                key: &i.rel,
                version_id: &i.version_id,
                is_latest: true,
                size: i.size,
            })
            .collect();
        let results = local::assign(
            &items,
            "",
            crate::manifest::types::MigrationVersions::Current,
            case_insensitive,
        );
        let mut kept = Vec::with_capacity(self.items.len());
        for (item, result) in std::mem::take(&mut self.items).into_iter().zip(results) {
            match result {
                Ok(_) => kept.push(item),
                Err(refusal) => self
                    .refused
                    .push((item.key, format!("its path {:?}: {refusal}", item.rel))),
            }
        }
        self.items = kept;
    }
}

/// What a key is to the mapping.
enum Claim {
    Path(String),
    Refused(String),
    Foreign,
}

fn claim(spec: &SyncSpec, inverse: &Inverse, destinations: &[usize], key: &str) -> Claim {
    let mut unmapped: Option<Unmapped> = None;
    for &d in destinations {
        let Some(body) = key.strip_prefix(spec.destinations[d].prefix.as_str()) else {
            continue;
        };
        match inverse.path_of(body) {
            Ok(rel) if spec.destination_of(&rel) == d && spec.selects(&rel) => return Claim::Path(rel),
            Ok(_) => {}
            Err(e @ Unmapped::Ambiguous { .. }) => return Claim::Refused(e.to_string()),
            Err(e @ Unmapped::NoMatch(_)) => unmapped = Some(e),
        }
    }
    match unmapped {
        Some(e) => Claim::Refused(e.to_string()),
        None => Claim::Foreign,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn spec(yaml_sync: &str) -> SyncSpec {
        let m = crate::manifest::load::valid_for_tests(&format!(
            "environment: t\nbuckets:\n  docs:\n    name: docs-t\nsync:\n  office:\n{yaml_sync}"
        ));
        SyncSpec::new(&m, "office", &m.sync["office"], Path::new("/p"), "us-east-1").expect("spec")
    }

    fn version(key: &str) -> RemoteVersion {
        RemoteVersion {
            key: key.to_string(),
            version_id: format!("v-{key}"),
            is_latest: true,
            delete_marker: false,
            size: 3,
            etag: "e".to_string(),
            last_modified_ms: 0,
            storage_class: "STANDARD".to_string(),
        }
    }

    fn set_of(spec: &SyncSpec, keys: &[&str], prefix: &str) -> RestoreSet {
        let inverse = Inverse::new(spec.key_template()).expect("invertible");
        let mut set = RestoreSet::default();
        for scope in spec.scopes() {
            let chosen = keys.iter().map(|k| version(k)).collect();
            set.add(spec, &inverse, &scope, chosen, prefix);
        }
        set.check_paths(false);
        set
    }

    fn rels(set: &RestoreSet) -> Vec<(&str, &str)> {
        set.items.iter().map(|i| (i.key.as_str(), i.rel.as_str())).collect()
    }

    #[test]
    fn routes_and_templates_map_keys_back_to_their_files() {
        let s = spec(
            "    source: s\n    bucket: docs\n    prefix: office/\n    key_template: \"{year}/{path}\"\n    exclude: [\"tmp/**\"]\n    routes:\n      - extensions: [pdf]\n        bucket: docs\n        prefix: office/pdf/\n",
        );
        let set = set_of(
            &s,
            &[
                "office/2024/a/b.txt",
                "office/pdf/2023/r.pdf",
                "office/2024/x.pdf",
                "office/2024/tmp/t.txt",
                "office/notes.txt",
            ],
            "",
        );
        assert_eq!(
            rels(&set),
            [("office/2024/a/b.txt", "a/b.txt"), ("office/pdf/2023/r.pdf", "r.pdf")]
        );
        assert_eq!(set.foreign, 2, "a pdf outside its route and an excluded path");
        assert_eq!(set.refused.len(), 1, "{:?}", set.refused);
        assert!(set.refused[0].1.contains("does not match"), "{:?}", set.refused);
    }

    #[test]
    fn the_prefix_keeps_the_paths_under_it() {
        let s = spec("    source: s\n    bucket: docs\n    prefix: office/\n");
        let set = set_of(&s, &["office/a/1", "office/a/2", "office/b/1"], "a/");
        assert_eq!(rels(&set), [("office/a/1", "a/1"), ("office/a/2", "a/2")]);
    }

    #[test]
    fn hostile_and_colliding_keys_are_refused_like_a_migration_refuses_them() {
        let s = spec("    source: s\n    bucket: docs\n    prefix: office/\n");
        let set = set_of(
            &s,
            &[
                "office/../../etc/passwd",
                "office//abs",
                "office/a\\..\\b",
                "office/.s3rec-partial/x",
                "office/f",
                "office/f/g",
                "office/ok.txt",
            ],
            "",
        );
        assert_eq!(rels(&set), [("office/ok.txt", "ok.txt")]);
        let refused: Vec<&str> = set.refused.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(refused.len(), 6, "{:?}", set.refused);
        assert!(
            set.refused.iter().any(|(_, why)| why.contains("escape")),
            "{:?}",
            set.refused
        );
    }
}
