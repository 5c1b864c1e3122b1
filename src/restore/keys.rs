//! Object keys back to the relative paths sync made them from: the inverse of
//! [`SyncSpec::key_of`](crate::sync::spec::SyncSpec::key_of). Pure.
//!
//! Without a key template a key is a destination's prefix and the file's relative path, so the path is
//! the key without the prefix. A template (`{dir}/{year}/{name}`) is inverted by matching the key
//! against it: every way the placeholders can take the key apart is tried, each candidate path is put
//! through the template again ([`render`]), and only a path that gives back exactly the key counts. A key
//! that one path explains is restored there; a key no path or more than one path explains is reported,
//! never guessed at.
//!
//! Whether a template can be inverted at all is decided before anything is listed ([`Inverse::new`]): a
//! template without `{path}` or `{dir}` drops the directory of every file, and one without `{path}`,
//! `{name}` or both `{stem}` and `{ext}` drops its name, so no key of it tells where its file was.

use crate::sync::spec::render;

/// A placeholder of a key template, as [`render`] fills it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Path,
    Dir,
    Name,
    Stem,
    Ext,
    Year,
    Month,
    Day,
}

/// Every placeholder with its spelling in a template.
const PLACEHOLDERS: [(&str, Placeholder); 8] = [
    ("{path}", Placeholder::Path),
    ("{dir}", Placeholder::Dir),
    ("{name}", Placeholder::Name),
    ("{stem}", Placeholder::Stem),
    ("{ext}", Placeholder::Ext),
    ("{year}", Placeholder::Year),
    ("{month}", Placeholder::Month),
    ("{day}", Placeholder::Day),
];

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Slot(Placeholder),
}

/// Why a mapping's key template cannot be turned back into paths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key_template {template:?} cannot be inverted: {reason}, so its keys do not tell where their files were")]
pub struct NotInvertible {
    pub template: String,
    pub reason: &'static str,
}

/// Why one key gets no path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unmapped {
    /// The key does not have the template's shape: sync did not make it from any file.
    #[error("it does not match the key template {0:?}")]
    NoMatch(String),
    /// Several paths give this key (`{dir}{name}` and `ab.txt`: `a/b.txt` or `ab.txt`).
    #[error("the key template {template:?} makes it from more than one path ({})", paths.join(", "))]
    Ambiguous { template: String, paths: Vec<String> },
}

/// A mapping's key template, ready to turn key bodies (keys without their destination's prefix) back
/// into relative paths.
#[derive(Debug, Clone)]
pub struct Inverse {
    template: Option<(String, Vec<Part>)>,
}

impl Inverse {
    /// The inverse of `template` (`None`: keys are the relative paths), or why there is none.
    pub fn new(template: Option<&str>) -> Result<Inverse, NotInvertible> {
        let Some(template) = template else {
            return Ok(Inverse { template: None });
        };
        let parts = parse(template);
        let has = |p: Placeholder| parts.contains(&Part::Slot(p));
        let reason = if has(Placeholder::Path) {
            None
        } else if !has(Placeholder::Dir) {
            Some("it has neither `{path}` nor `{dir}`, which drops the directory of every file")
        } else if !(has(Placeholder::Name) || (has(Placeholder::Stem) && has(Placeholder::Ext))) {
            Some("it has neither `{path}`, `{name}` nor both `{stem}` and `{ext}`, which drops the file name")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(NotInvertible {
                template: template.to_string(),
                reason,
            }),
            None => Ok(Inverse {
                template: Some((template.to_string(), parts)),
            }),
        }
    }

    /// The relative path (`/`-separated) the file of a key with this body had. Without a template that
    /// is the body itself; the caller checks it is a safe path.
    pub fn path_of(&self, body: &str) -> Result<String, Unmapped> {
        let Some((template, parts)) = &self.template else {
            return Ok(body.to_string());
        };
        let mut found: Vec<String> = Vec::new();
        let mut slots = Slots::default();
        matches(parts, body, &mut slots, &mut |slots| {
            for rel in slots.paths() {
                // A walk's relative path never starts or ends with `/` and has no empty component.
                let walkable = !rel.starts_with('/') && !rel.ends_with('/') && !rel.contains("//");
                if walkable && render(template, &rel, slots.mtime_ms()) == body && !found.contains(&rel) {
                    found.push(rel);
                }
            }
        });
        match found.len() {
            0 => Err(Unmapped::NoMatch(template.clone())),
            1 => Ok(found.remove(0)),
            _ => {
                found.sort();
                Err(Unmapped::Ambiguous {
                    template: template.clone(),
                    paths: found,
                })
            }
        }
    }
}

/// A template's literals and placeholders; an unknown `{word}` is literal text, as [`render`] leaves it.
fn parse(template: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some((token, p)) = PLACEHOLDERS.iter().find(|(token, _)| rest.starts_with(token)) {
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Slot(*p));
            rest = &rest[token.len()..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    parts
}

/// What the placeholders took of one key, during a match.
#[derive(Debug, Clone, Default)]
struct Slots {
    path: Option<String>,
    dir: Option<String>,
    name: Option<String>,
    stem: Option<String>,
    ext: Option<String>,
    year: Option<i32>,
    month: Option<u8>,
    day: Option<u8>,
}

impl Slots {
    /// The relative paths these values may describe (none when they do not name a file). An empty
    /// `{ext}` is a name without an extension, or one ending in `.`, which has an empty one too.
    fn paths(&self) -> Vec<String> {
        if let Some(path) = &self.path {
            return vec![path.clone()];
        }
        let names = match (&self.name, &self.stem, &self.ext) {
            (Some(name), _, _) => vec![name.clone()],
            (None, Some(stem), Some(ext)) if ext.is_empty() => vec![stem.clone(), format!("{stem}.")],
            (None, Some(stem), Some(ext)) => vec![format!("{stem}.{ext}")],
            _ => Vec::new(),
        };
        names
            .into_iter()
            .filter(|name| !name.is_empty())
            .filter_map(|name| match self.dir.as_deref() {
                Some("") => Some(name),
                Some(dir) => Some(format!("{dir}/{name}")),
                None => None,
            })
            .collect()
    }

    /// A modification time on the date the date placeholders took (noon UTC), for [`render`] to check
    /// the match with; the epoch when the template has none.
    fn mtime_ms(&self) -> i64 {
        let (Some(year), Some(month), Some(day)) = (self.year, self.month, self.day) else {
            // A template with only some date parts: the check below compares the parts it has.
            return partial_date_ms(self.year, self.month, self.day);
        };
        date_ms(year, month, day).unwrap_or(0)
    }

    fn set(&mut self, p: Placeholder, value: &str) -> bool {
        // A placeholder used twice must take the same text both times.
        let same = |old: &Option<String>| old.as_deref().is_none_or(|o| o == value);
        match p {
            Placeholder::Path if same(&self.path) => self.path = Some(value.to_string()),
            Placeholder::Dir if same(&self.dir) => self.dir = Some(value.to_string()),
            Placeholder::Name if same(&self.name) => self.name = Some(value.to_string()),
            Placeholder::Stem if same(&self.stem) => self.stem = Some(value.to_string()),
            Placeholder::Ext if same(&self.ext) => self.ext = Some(value.to_string()),
            Placeholder::Year => self.year = value.parse().ok(),
            Placeholder::Month => self.month = value.parse().ok(),
            Placeholder::Day => self.day = value.parse().ok(),
            Placeholder::Path | Placeholder::Dir | Placeholder::Name | Placeholder::Stem | Placeholder::Ext => {
                return false;
            }
        }
        true
    }
}

/// A time on the given date parts; missing ones are taken from 2000-01-01, and the caller's check
/// compares only what the template shows.
fn partial_date_ms(year: Option<i32>, month: Option<u8>, day: Option<u8>) -> i64 {
    if year.is_none() && month.is_none() && day.is_none() {
        return 0;
    }
    date_ms(year.unwrap_or(2000), month.unwrap_or(1), day.unwrap_or(1)).unwrap_or(0)
}

/// Noon UTC of a calendar date, in Unix milliseconds; `None` for a date that does not exist.
fn date_ms(year: i32, month: u8, day: u8) -> Option<i64> {
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let noon = date.with_hms(12, 0, 0).ok()?.assume_utc();
    Some(noon.unix_timestamp() * 1000)
}

/// The texts a placeholder may take at the start of `rest`, as lengths in bytes.
fn candidates(p: Placeholder, rest: &str) -> Vec<usize> {
    let digits = |n: usize| {
        if rest.len() >= n && rest.as_bytes()[..n].iter().all(u8::is_ascii_digit) {
            vec![n]
        } else {
            Vec::new()
        }
    };
    // Lengths that end on a character boundary, stopping at a byte the placeholder cannot hold.
    let upto = |stop: &dyn Fn(char) -> bool| {
        let mut lengths = vec![0];
        for (i, c) in rest.char_indices() {
            if stop(c) {
                break;
            }
            lengths.push(i + c.len_utf8());
        }
        lengths
    };
    match p {
        Placeholder::Year => digits(4),
        Placeholder::Month | Placeholder::Day => digits(2),
        Placeholder::Path | Placeholder::Dir => upto(&|_| false),
        Placeholder::Name | Placeholder::Stem => upto(&|c| c == '/'),
        Placeholder::Ext => upto(&|c| c == '/' || c == '.'),
    }
}

/// Calls `found` for every way `parts` can take `key` apart. [`render`] collapses `//` and drops a
/// leading `/`, which happens when `{dir}` is empty, so an empty `{dir}` may also take the `/` of the
/// literal after it.
fn matches(parts: &[Part], key: &str, slots: &mut Slots, found: &mut dyn FnMut(&Slots)) {
    let Some((first, rest)) = parts.split_first() else {
        if key.is_empty() {
            found(slots);
        }
        return;
    };
    match first {
        Part::Literal(text) => {
            if let Some(after) = key.strip_prefix(text.as_str()) {
                matches(rest, after, slots, found);
            }
            // The `/` of a literal next to an empty `{dir}` may have been dropped; the render check of
            // every candidate throws out what this lets through wrongly.
            if let Some(shorter) = text.strip_prefix('/')
                && let Some(after) = key.strip_prefix(shorter)
            {
                matches(rest, after, slots, found);
            }
        }
        Part::Slot(p) => {
            for len in candidates(*p, key) {
                let mut next = slots.clone();
                if next.set(*p, &key[..len]) {
                    matches(rest, &key[len..], &mut next, found);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::spec::render;

    fn inverse(template: &str) -> Inverse {
        Inverse::new(Some(template)).expect("invertible")
    }

    /// Every path goes through the template and back to itself.
    fn round_trip(template: &str, paths: &[&str], mtime_ms: i64) {
        let inv = inverse(template);
        for rel in paths {
            let key = render(template, rel, mtime_ms);
            assert_eq!(inv.path_of(&key).as_deref(), Ok(*rel), "{template}: {rel} → {key}");
        }
    }

    #[test]
    fn without_a_template_the_key_body_is_the_path() {
        let inv = Inverse::new(None).expect("no template");
        assert_eq!(inv.path_of("a/b.txt"), Ok("a/b.txt".to_string()));
    }

    #[test]
    fn templates_that_keep_the_directory_and_name_invert_exactly() {
        let paths = [
            "top.txt",
            "a/b.txt",
            "a/b/c.tar.gz",
            "Makefile",
            ".hidden",
            "dir.d/file",
            "ü/ñ.txt",
        ];
        // 2024-03-05T10:00:00Z
        let mtime = 1_709_632_800_000;
        round_trip("{path}", &paths, mtime);
        round_trip("{dir}/{name}", &paths, mtime);
        round_trip("{year}/{month}/{day}/{path}", &paths, mtime);
        round_trip("{dir}/{year}-{month}/{name}", &paths, mtime);
        round_trip("archive/{dir}/{stem}.{ext}", &paths, mtime);
        round_trip("{dir}/{stem}-{year}.{ext}", &paths, mtime);
    }

    #[test]
    fn templates_that_drop_the_directory_or_name_are_refused_before_anything_runs() {
        for (template, what) in [
            ("{name}", "directory"),
            ("{year}/{month}/{name}", "directory"),
            ("{dir}/{stem}", "file name"),
            ("{dir}/{year}", "file name"),
        ] {
            let err = Inverse::new(Some(template)).expect_err(template);
            assert!(err.to_string().contains(what), "{template}: {err}");
            assert!(err.to_string().contains(template), "{err}");
        }
    }

    #[test]
    fn keys_of_another_shape_or_of_several_paths_are_reported_not_guessed() {
        let inv = inverse("{year}/{month}/{path}");
        assert_eq!(
            inv.path_of("notes/a.txt"),
            Err(Unmapped::NoMatch("{year}/{month}/{path}".to_string()))
        );
        assert!(
            inv.path_of("2024/13/a.txt").is_err(),
            "month 13 is no date render gives"
        );
        // Without a separator after `{dir}`, `ab.txt` is `a/b.txt`, `ab.txt` or `a/.../` alike.
        let ambiguous = inverse("{dir}{name}");
        match ambiguous.path_of("ab.txt") {
            Err(Unmapped::Ambiguous { paths, .. }) => {
                assert!(paths.contains(&"ab.txt".to_string()), "{paths:?}");
                assert!(paths.contains(&"a/b.txt".to_string()), "{paths:?}");
            }
            other => panic!("expected ambiguity, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_placeholder_is_literal_text() {
        round_trip("{host}/{path}", &["a/b"], 0);
        assert!(inverse("{host}/{path}").path_of("other/a/b").is_err());
    }
}
