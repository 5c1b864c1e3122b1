//! Which version of each key a restore brings back: the one that was current at a point in time. Pure.
//!
//! A version listing gives each key's versions and delete markers newest first
//! ([`crate::aws::archive::for_each_version`]). The version current at `at` is the first entry of its key
//! written at or before `at`; when that entry is a delete marker, or no entry is that old, the key did not
//! exist then and nothing is restored for it. Without `at`, the current entry decides. Listings carry
//! whole seconds, so `at` is compared with them as written.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::aws::archive::RemoteVersion;

/// When to restore from: a point in time in Unix milliseconds, or the latest versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Latest,
    Time(i64),
}

/// Reads `--at`: an RFC 3339 time (`2024-05-01T09:30:00Z`, `2024-05-01T11:30:00+02:00`) or a duration
/// ago (`2d`, `36h`, `1h 30m`) counted back from `now`.
pub fn parse_at(text: &str, now: SystemTime) -> Result<At, String> {
    let text = text.trim();
    let format = &time::format_description::well_known::Rfc3339;
    if let Ok(time) = time::OffsetDateTime::parse(text, format) {
        let ms = time.unix_timestamp_nanos() / 1_000_000;
        return i64::try_from(ms)
            .map(At::Time)
            .map_err(|_| format!("{text} is too far from today"));
    }
    match humantime::parse_duration(text) {
        Ok(ago) => {
            let then = now
                .checked_sub(ago)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .ok_or_else(|| format!("{text} ago is before 1970"))?;
            Ok(At::Time(i64::try_from(then.as_millis()).unwrap_or(i64::MAX)))
        }
        Err(_) => Err(format!(
            "{text:?} is neither an RFC 3339 time (`2024-05-01T09:30:00Z`) nor a duration ago (`2d`, `36h`)"
        )),
    }
}

/// [`parse_at`] against the clock, for clap.
pub fn parse_at_now(text: &str) -> Result<At, String> {
    parse_at(text, SystemTime::now())
}

/// `at` as RFC 3339 text, for messages and reports.
pub fn describe(at: At) -> String {
    match at {
        At::Latest => "the latest versions".to_string(),
        At::Time(ms) => crate::state::time::format_rfc3339(
            UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or_default()),
        ),
    }
}

/// Takes a listing entry by entry and keeps, per key, the version current at `at`.
#[derive(Debug)]
pub struct Picker {
    at: At,
    /// The key whose entries are being read, and whether its version is decided.
    key: Option<String>,
    decided: bool,
    chosen: Vec<RemoteVersion>,
    /// Keys that did not exist at `at` (a delete marker, or nothing that old), counted.
    absent: usize,
}

impl Picker {
    pub fn new(at: At) -> Picker {
        Picker {
            at,
            key: None,
            decided: false,
            chosen: Vec::new(),
            absent: 0,
        }
    }

    /// One entry, in listing order (a key's entries together, newest first).
    pub fn push(&mut self, v: RemoteVersion) {
        if self.key.as_deref() != Some(v.key.as_str()) {
            self.close_key();
            self.key = Some(v.key.clone());
            self.decided = false;
        }
        if self.decided {
            return;
        }
        let current = match self.at {
            At::Latest => v.is_latest,
            At::Time(at) => v.last_modified_ms <= at,
        };
        if current {
            self.decided = true;
            if v.delete_marker {
                self.absent += 1;
            } else {
                self.chosen.push(v);
            }
        }
    }

    fn close_key(&mut self) {
        if self.key.is_some() && !self.decided {
            self.absent += 1;
        }
    }

    /// The chosen versions, in listing order, and how many listed keys did not exist at `at`.
    pub fn finish(mut self) -> (Vec<RemoteVersion>, usize) {
        self.close_key();
        (self.chosen, self.absent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(key: &str, id: &str, latest: bool, marker: bool, secs: i64) -> RemoteVersion {
        RemoteVersion {
            key: key.to_string(),
            version_id: id.to_string(),
            is_latest: latest,
            delete_marker: marker,
            size: if marker { 0 } else { 10 },
            etag: if marker { String::new() } else { format!("etag-{id}") },
            last_modified_ms: secs * 1000,
            storage_class: "STANDARD".to_string(),
        }
    }

    /// A listing of three syncs at 100, 200 and 300 s: `a` written at 100 and edited at 200; `b` written
    /// at 100 and deleted at 200, re-added at 300; `c` only from 200; `d` deleted at 300.
    fn listing() -> Vec<RemoteVersion> {
        vec![
            v("a", "a2", true, false, 200),
            v("a", "a1", false, false, 100),
            v("b", "b3", true, false, 300),
            v("b", "bm", false, true, 200),
            v("b", "b1", false, false, 100),
            v("c", "c2", true, false, 200),
            v("d", "dm", true, true, 300),
            v("d", "d1", false, false, 100),
        ]
    }

    fn pick(at: At) -> (Vec<(String, String)>, usize) {
        let mut picker = Picker::new(at);
        for entry in listing() {
            picker.push(entry);
        }
        let (chosen, absent) = picker.finish();
        (chosen.into_iter().map(|v| (v.key, v.version_id)).collect(), absent)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn each_key_gets_the_version_current_at_the_time() {
        assert_eq!(
            pick(At::Time(150_000)),
            (pairs(&[("a", "a1"), ("b", "b1"), ("d", "d1")]), 1),
            "c did not exist yet"
        );
        assert_eq!(
            pick(At::Time(250_000)),
            (pairs(&[("a", "a2"), ("c", "c2"), ("d", "d1")]), 1),
            "b's delete marker was current"
        );
        assert_eq!(
            pick(At::Time(300_000)),
            (pairs(&[("a", "a2"), ("b", "b3"), ("c", "c2")]), 1),
            "a version written in the very second of `at` counts"
        );
        assert_eq!(pick(At::Latest), pick(At::Time(1_000_000)));
        assert_eq!(
            pick(At::Time(50_000)),
            (Vec::new(), 4),
            "nothing existed before the first sync"
        );
    }

    #[test]
    fn at_is_an_rfc3339_time_or_a_duration_ago() {
        let now = UNIX_EPOCH + Duration::from_secs(10 * 86_400);
        assert_eq!(parse_at("1970-01-02T00:00:00Z", now), Ok(At::Time(86_400_000)));
        assert_eq!(parse_at("1970-01-02T02:00:00+02:00", now), Ok(At::Time(86_400_000)));
        assert_eq!(parse_at("1970-01-02T00:00:00.250Z", now), Ok(At::Time(86_400_250)));
        assert_eq!(parse_at("2d", now), Ok(At::Time(8 * 86_400_000)));
        assert_eq!(parse_at("1h 30m", now), Ok(At::Time(10 * 86_400_000 - 5_400_000)));
        assert!(parse_at("yesterday", now).unwrap_err().contains("RFC 3339"));
        assert!(parse_at("20d", now).unwrap_err().contains("before 1970"));
        assert_eq!(describe(At::Time(86_400_000)), "1970-01-02T00:00:00.000Z");
    }
}
