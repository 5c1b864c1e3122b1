//! The aggregation of a bucket's listing: versions go in one at a time, in the order ListObjectVersions
//! gives them (keys in order, each key's versions newest first), and only counts and byte sums stay.
//!
//! Two kinds of sums are kept. The report's (by class, size band, age band, current or not) are for
//! people. The projection's [`Group`]s hold what a lifecycle rule can tell objects apart by: current or
//! noncurrent, storage class, under 128 KiB or not, age in days (since written for current versions,
//! since they became noncurrent for the others), how many newer noncurrent versions a version has, and
//! which rules' filters match it. Ages are capped where no rule and no minimum duration can tell them
//! apart any more, so the number of groups is bounded by the rules, not by the objects.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::LifecycleRuleDoc;

/// Objects under this size are not transitioned by lifecycle unless a rule's size filter says so, and
/// the classes with a minimum billable size bill them as this size.
pub const SMALL: u64 = 128 * 1024;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The most rules a projection tells apart (rule matches are kept as bits of a `u64`, one left for a
/// recommendation's candidate rule).
pub const MAX_RULES: usize = 63;

/// The size bands of the report: upper bounds (exclusive) and their names.
pub const SIZE_BANDS: [(u64, &str); 5] = [
    (SMALL, "< 128 KiB"),
    (1024 * 1024, "128 KiB - 1 MiB"),
    (100 * 1024 * 1024, "1 - 100 MiB"),
    (1024 * 1024 * 1024, "100 MiB - 1 GiB"),
    (u64::MAX, ">= 1 GiB"),
];

/// The age bands of the report: upper bounds in days (exclusive) and their names.
pub const AGE_BANDS: [(u32, &str); 5] = [
    (30, "< 30 days"),
    (90, "30 - 90 days"),
    (180, "90 - 180 days"),
    (365, "180 - 365 days"),
    (u32::MAX, ">= 365 days"),
];

/// One entry of a version listing, as the aggregation needs it.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    pub key: &'a str,
    pub is_latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    pub last_modified_ms: i64,
    pub storage_class: &'a str,
}

/// An incomplete multipart upload: its key, when it started, its class and, when its parts were listed,
/// their bytes.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    pub key: &'a str,
    pub initiated_ms: i64,
    pub bytes: Option<u64>,
}

/// Whether a group holds current or noncurrent versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Currency {
    Current,
    Noncurrent,
}

/// What the projection can tell versions apart by; see the module's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupKey {
    pub currency: Currency,
    /// Index into [`Aggregates::classes`].
    pub class: u16,
    pub small: bool,
    /// Days since written (current) or since it became noncurrent, capped.
    pub age_days: u32,
    /// Days since written, capped at the longest minimum duration: what early deletion needs.
    pub written_days: u32,
    /// Newer noncurrent versions of the same key, capped (0 for current versions).
    pub rank: u32,
    /// Bit `i`: rule `i`'s filter (prefix, size) matches.
    pub matched: u64,
    /// Bit `i`: rule `i` may transition it (it matches and the object is not too small to transition).
    pub transition_ok: u64,
}

/// Objects and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub objects: u64,
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.objects += 1;
        self.bytes += bytes;
    }
}

/// Incomplete multipart uploads of one age (days since started, capped) and rule match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UploadKey {
    pub age_days: u32,
    pub matched: u64,
}

/// Incomplete multipart uploads: how many, and the bytes of the parts of those whose parts were listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UploadTally {
    pub uploads: u64,
    /// Uploads whose parts were listed, and their bytes.
    pub measured: u64,
    pub bytes: u64,
}

/// Everything kept of a listing.
#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    /// Storage classes in the order first seen; groups name them by index.
    pub classes: Vec<String>,
    pub groups: BTreeMap<GroupKey, Tally>,
    pub by_class: BTreeMap<String, Tally>,
    /// Indexed like [`SIZE_BANDS`] and [`AGE_BANDS`].
    pub by_size: [Tally; 5],
    pub by_age: [Tally; 5],
    pub current: Tally,
    pub noncurrent: Tally,
    pub delete_markers: u64,
    pub uploads: UploadTally,
    pub upload_groups: BTreeMap<UploadKey, UploadTally>,
}

/// Streams a listing into [`Aggregates`].
pub struct Aggregator<'r> {
    rules: &'r [LifecycleRuleDoc],
    now_ms: i64,
    age_cap: u32,
    rank_cap: u32,
    written_cap: u32,
    /// The key of the entry before, the date of that entry, and how many noncurrent versions of the key
    /// came before: what a noncurrent version's age and rank are read from.
    last_key: String,
    newer_ms: i64,
    noncurrent_seen: u32,
    out: Aggregates,
}

impl<'r> Aggregator<'r> {
    /// An aggregator for a bucket with `rules`, dating ages from `now_ms`. `longest_min_days` is the
    /// longest minimum storage duration of the price table (ages beyond it cannot change an
    /// early-deletion charge).
    pub fn new(rules: &'r [LifecycleRuleDoc], now_ms: i64, longest_min_days: u32) -> Aggregator<'r> {
        let rule_days = rules
            .iter()
            .flat_map(|r| {
                r.transitions
                    .iter()
                    .map(|t| t.days)
                    .chain(r.noncurrent_transitions.iter().map(|t| t.days))
                    .chain(r.expiration_days)
                    .chain(r.noncurrent_expiration_days)
                    .chain(r.abort_incomplete_multipart_upload_days)
            })
            .max()
            .unwrap_or(0);
        let rank_cap = rules
            .iter()
            .flat_map(|r| {
                r.noncurrent_transitions
                    .iter()
                    .filter_map(|t| t.newer_noncurrent_versions)
                    .chain(r.noncurrent_newer_versions)
            })
            .max()
            .unwrap_or(0);
        Aggregator {
            rules,
            now_ms,
            // Past the last rule's day plus the minimum duration, every later age behaves the same.
            age_cap: rule_days.saturating_add(longest_min_days).saturating_add(1),
            rank_cap,
            written_cap: longest_min_days,
            last_key: String::new(),
            newer_ms: now_ms,
            noncurrent_seen: 0,
            out: Aggregates::default(),
        }
    }

    fn days_since(&self, ms: i64) -> u32 {
        u32::try_from(self.now_ms.saturating_sub(ms).max(0) / DAY_MS).unwrap_or(u32::MAX)
    }

    fn class_index(&mut self, class: &str) -> u16 {
        match self.out.classes.iter().position(|c| c == class) {
            Some(i) => u16::try_from(i).unwrap_or(u16::MAX),
            None => {
                self.out.classes.push(class.to_string());
                u16::try_from(self.out.classes.len() - 1).unwrap_or(u16::MAX)
            }
        }
    }

    /// Takes the next entry of the listing.
    pub fn version(&mut self, v: Listed<'_>) {
        if v.key != self.last_key {
            self.last_key.clear();
            self.last_key.push_str(v.key);
            self.newer_ms = self.now_ms;
            self.noncurrent_seen = 0;
        }
        // A noncurrent version became noncurrent when the entry listed before it (the next newer one)
        // was written.
        let became_noncurrent_ms = self.newer_ms;
        self.newer_ms = v.last_modified_ms;
        if v.delete_marker {
            self.out.delete_markers += 1;
            return;
        }
        let written = self.days_since(v.last_modified_ms);
        let (currency, age, rank) = if v.is_latest {
            (Currency::Current, written, 0)
        } else {
            let rank = self.noncurrent_seen;
            self.noncurrent_seen = self.noncurrent_seen.saturating_add(1);
            (Currency::Noncurrent, self.days_since(became_noncurrent_ms), rank)
        };
        self.record(v, currency, written, age, rank);
    }

    /// Takes an entry of a listing in no particular order (an S3 Inventory report): a noncurrent
    /// version's age is counted from its own date, since the date it became noncurrent is the next
    /// newer version's, which may be anywhere in the report, and its rank is taken as 0.
    pub fn unordered_version(&mut self, v: Listed<'_>) {
        if v.delete_marker {
            self.out.delete_markers += 1;
            return;
        }
        let written = self.days_since(v.last_modified_ms);
        let currency = if v.is_latest {
            Currency::Current
        } else {
            Currency::Noncurrent
        };
        self.record(v, currency, written, written, 0);
    }

    fn record(&mut self, v: Listed<'_>, currency: Currency, written: u32, age: u32, rank: u32) {
        let (matched, transition_ok) = rule_bits(self.rules, v.key, v.size);
        let class = self.class_index(v.storage_class);
        let key = GroupKey {
            currency,
            class,
            small: v.size < SMALL,
            age_days: age.min(self.age_cap),
            written_days: written.min(self.written_cap),
            rank: rank.min(self.rank_cap),
            matched,
            transition_ok,
        };
        self.out.groups.entry(key).or_default().add(v.size);
        match self.out.by_class.get_mut(v.storage_class) {
            Some(t) => t.add(v.size),
            None => {
                let mut t = Tally::default();
                t.add(v.size);
                self.out.by_class.insert(v.storage_class.to_string(), t);
            }
        }
        let size_band = SIZE_BANDS
            .iter()
            .position(|(limit, _)| v.size < *limit)
            .unwrap_or(SIZE_BANDS.len() - 1);
        self.out.by_size[size_band].add(v.size);
        let age_band = AGE_BANDS
            .iter()
            .position(|(limit, _)| written < *limit)
            .unwrap_or(AGE_BANDS.len() - 1);
        self.out.by_age[age_band].add(v.size);
        match currency {
            Currency::Current => self.out.current.add(v.size),
            Currency::Noncurrent => self.out.noncurrent.add(v.size),
        }
    }

    /// Takes an incomplete multipart upload.
    pub fn upload(&mut self, u: Upload<'_>) {
        // Abort rules filter by prefix only (S3 refuses size and tag filters on them).
        let matched = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.enabled && r.tags.is_empty() && r.prefix.as_deref().is_none_or(|p| u.key.starts_with(p)))
            .fold(0u64, |bits, (i, _)| bits | bit(i));
        let key = UploadKey {
            age_days: self.days_since(u.initiated_ms).min(self.age_cap),
            matched,
        };
        for tally in [&mut self.out.uploads, self.out.upload_groups.entry(key).or_default()] {
            tally.uploads += 1;
            if let Some(bytes) = u.bytes {
                tally.measured += 1;
                tally.bytes += bytes;
            }
        }
    }

    pub fn finish(self) -> Aggregates {
        self.out
    }
}

/// Bit `i` of a rule mask (rules past [`MAX_RULES`] are never set; the projection refuses them).
pub fn bit(i: usize) -> u64 {
    if i < 64 { 1u64 << i } else { 0 }
}

/// Which enabled rules' filters match an object, and which of those may transition it.
///
/// A rule with a tag filter never matches here: a listing does not carry tags (the report says so).
/// Since September 2024 S3 does not transition objects under 128 KiB unless the rule's own
/// `object_size_greater_than` is below 128 KiB.
pub fn rule_bits(rules: &[LifecycleRuleDoc], key: &str, size: u64) -> (u64, u64) {
    let mut matched = 0;
    let mut transition_ok = 0;
    for (i, r) in rules.iter().enumerate() {
        let fits = r.enabled
            && r.tags.is_empty()
            && r.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && r.object_size_greater_than.is_none_or(|g| size > g)
            && r.object_size_less_than.is_none_or(|l| size < l);
        if fits {
            matched |= bit(i);
            if size >= SMALL || r.object_size_greater_than.is_some_and(|g| g < SMALL) {
                transition_ok |= bit(i);
            }
        }
    }
    (matched, transition_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000 * DAY_MS;

    fn listed<'a>(key: &'a str, latest: bool, marker: bool, size: u64, days_ago: i64, class: &'a str) -> Listed<'a> {
        Listed {
            key,
            is_latest: latest,
            delete_marker: marker,
            size,
            last_modified_ms: NOW - days_ago * DAY_MS,
            storage_class: class,
        }
    }

    #[test]
    fn counts_by_class_size_age_and_currency() {
        let mut rule = LifecycleRuleDoc::enabled("logs");
        rule.prefix = Some("logs/".into());
        rule.expiration_days = Some(400);
        let rules = [rule];
        let mut a = Aggregator::new(&rules, NOW, 180);
        a.version(listed("a", true, false, 1000, 10, "STANDARD"));
        a.version(listed("logs/b", true, true, 0, 5, "STANDARD"));
        a.version(listed("logs/b", false, false, 200_000, 20, "STANDARD_IA"));
        a.version(listed("logs/b", false, false, 300_000, 100, "STANDARD_IA"));
        a.upload(Upload {
            key: "logs/u",
            initiated_ms: NOW - 3 * DAY_MS,
            bytes: Some(5_000_000),
        });
        a.upload(Upload {
            key: "x",
            initiated_ms: NOW,
            bytes: None,
        });
        let out = a.finish();
        assert_eq!(
            out.current,
            Tally {
                objects: 1,
                bytes: 1000
            }
        );
        assert_eq!(
            out.noncurrent,
            Tally {
                objects: 2,
                bytes: 500_000
            }
        );
        assert_eq!(out.delete_markers, 1);
        assert_eq!(
            out.by_class["STANDARD_IA"],
            Tally {
                objects: 2,
                bytes: 500_000
            }
        );
        assert_eq!(
            out.by_size[0],
            Tally {
                objects: 1,
                bytes: 1000
            }
        );
        assert_eq!(
            out.by_size[1],
            Tally {
                objects: 2,
                bytes: 500_000
            }
        );
        assert_eq!(
            out.by_age[0],
            Tally {
                objects: 2,
                bytes: 201_000
            }
        );
        assert_eq!(
            out.by_age[2],
            Tally {
                objects: 1,
                bytes: 300_000
            }
        );
        assert_eq!(
            out.uploads,
            UploadTally {
                uploads: 2,
                measured: 1,
                bytes: 5_000_000
            }
        );
        // The noncurrent versions' ages run from the newer entry's date (the delete marker's, then the
        // 20-day-old version's), and their ranks count the newer noncurrent versions.
        let noncurrent: Vec<(u32, u32, u32, u64)> = out
            .groups
            .keys()
            .filter(|k| k.currency == Currency::Noncurrent)
            .map(|k| (k.age_days, k.rank, k.written_days, k.matched))
            .collect();
        assert_eq!(noncurrent, vec![(5, 0, 20, 1), (20, 0, 100, 1)]);
    }

    #[test]
    fn rule_filters_and_the_small_object_default() {
        let mut sized = LifecycleRuleDoc::enabled("small-too");
        sized.object_size_greater_than = Some(1000);
        let mut tagged = LifecycleRuleDoc::enabled("tagged");
        tagged.tags.insert("k".into(), "v".into());
        let mut disabled = LifecycleRuleDoc::enabled("off");
        disabled.enabled = false;
        let plain = LifecycleRuleDoc::enabled("all");
        let rules = [sized, tagged, disabled, plain];
        // 500 bytes: only the unfiltered rule matches, and it may not transition it.
        assert_eq!(rule_bits(&rules, "k", 500), (0b1000, 0));
        // 2000 bytes: the size rule opts small objects in, the unfiltered one does not.
        assert_eq!(rule_bits(&rules, "k", 2000), (0b1001, 0b0001));
        assert_eq!(rule_bits(&rules, "k", SMALL), (0b1001, 0b1001));
    }
}
