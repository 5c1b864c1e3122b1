//! `restore --in-place`: what makes the mapping's destinations look as they did at a point in time,
//! compared with how they look now. Pure; `run::in_place` carries it out.
//!
//! A key whose current version is not the one of the time gets that version copied onto itself (a new
//! current version with the old content); a key that exists now but did not then gets a delete marker.
//! Nothing is deleted for good: the copies and markers are new versions on top of every existing one,
//! so the restore itself can be undone by restoring again to a time before it.

use std::collections::HashMap;

use super::set::{Item, RestoreSet};

/// The work of one in-place restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InPlace {
    /// Versions of the time to copy onto their keys.
    pub copies: Vec<Item>,
    /// Keys current now that did not exist then: (bucket, region, key).
    pub markers: Vec<(String, String, String)>,
    /// Keys whose current version already is the one of the time.
    pub unchanged: usize,
}

impl InPlace {
    /// Compares the set of the time (`then`) with the set of the latest versions (`now`), both chosen
    /// with the same mapping and prefix.
    pub fn plan(then: &RestoreSet, now: &RestoreSet) -> InPlace {
        let current: HashMap<(&str, &str), &Item> = now
            .items
            .iter()
            .map(|i| ((i.bucket.as_str(), i.key.as_str()), i))
            .collect();
        let mut plan = InPlace::default();
        for item in &then.items {
            match current.get(&(item.bucket.as_str(), item.key.as_str())) {
                Some(live) if live.version_id == item.version_id => plan.unchanged += 1,
                _ => plan.copies.push(item.clone()),
            }
        }
        let wanted: std::collections::HashSet<(&str, &str)> =
            then.items.iter().map(|i| (i.bucket.as_str(), i.key.as_str())).collect();
        for live in &now.items {
            if !wanted.contains(&(live.bucket.as_str(), live.key.as_str())) {
                plan.markers
                    .push((live.bucket.clone(), live.region.clone(), live.key.clone()));
            }
        }
        plan
    }

    pub fn copy_bytes(&self) -> u64 {
        self.copies.iter().map(|i| i.size).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.copies.is_empty() && self.markers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, version: &str) -> Item {
        Item {
            bucket: "b".to_string(),
            region: "r".to_string(),
            key: key.to_string(),
            version_id: version.to_string(),
            etag: String::new(),
            size: 10,
            storage_class: "STANDARD".to_string(),
            rel: key.to_string(),
        }
    }

    fn set(items: &[(&str, &str)]) -> RestoreSet {
        RestoreSet {
            items: items.iter().map(|(k, v)| item(k, v)).collect(),
            ..RestoreSet::default()
        }
    }

    #[test]
    fn old_versions_are_copied_back_and_newer_keys_get_delete_markers() {
        let then = set(&[("a", "a1"), ("b", "b1"), ("same", "s1")]);
        let now = set(&[("a", "a2"), ("same", "s1"), ("new", "n1")]);
        let plan = InPlace::plan(&then, &now);
        let copies: Vec<(&str, &str)> = plan
            .copies
            .iter()
            .map(|i| (i.key.as_str(), i.version_id.as_str()))
            .collect();
        assert_eq!(copies, [("a", "a1"), ("b", "b1")], "an edited and a deleted key");
        assert_eq!(plan.markers, [("b".to_string(), "r".to_string(), "new".to_string())]);
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.copy_bytes(), 20);
        assert!(InPlace::plan(&now, &now).is_empty());
    }
}
