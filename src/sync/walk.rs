//! Walking the source tree: every selected regular file with its size and modification time, found by
//! parallel directory reads (the `ignore` crate's walker, without any of its ignore-file filtering).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use super::spec::SyncSpec;

/// One source file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalFile {
    /// Path relative to the source directory, `/`-separated.
    pub rel: String,
    pub size: u64,
    /// Modification time, milliseconds since the Unix epoch.
    pub mtime_ms: i64,
}

/// A file or directory the walk could not take, and why. None of them stops the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// S3 keys are UTF-8; a name that is not cannot be given a faithful key.
    NotUtf8,
    /// A symbolic link, and the mapping does not follow links.
    Symlink,
    /// Not a regular file (socket, device, FIFO).
    Special,
    /// Could not be read (permissions, vanished while walking, a link loop).
    Unreadable(String),
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = match &self.reason {
            SkipReason::NotUtf8 => "its name is not valid UTF-8, so it has no S3 key".to_string(),
            SkipReason::Symlink => "it is a symbolic link (set follow_symlinks: true to follow links)".to_string(),
            SkipReason::Special => "it is not a regular file".to_string(),
            SkipReason::Unreadable(e) => format!("it cannot be read: {e}"),
        };
        write!(f, "{}: {why}", self.path.display())
    }
}

/// The source paths under which the walk could not read everything, from its skipped paths: relative
/// to `root` and `/`-separated: a directory it could not list, a file it could not stat, a link it could
/// not follow. `""` stands for the whole tree (an error without a path, or a path that has no UTF-8
/// name). What lies there is unknown, so sync must not take the missing files for deleted ones.
pub fn unreadable(skipped: &[Skipped], root: &Path) -> Vec<String> {
    skipped
        .iter()
        .filter(|s| matches!(s.reason, SkipReason::Unreadable(_)))
        .map(|s| relative(root, &s.path).unwrap_or_default())
        .collect()
}

/// Why a walk could not start.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("the source directory {path} of sync mapping `{mapping}` does not exist")]
    Missing { mapping: String, path: PathBuf },
    #[error("the source {path} of sync mapping `{mapping}` is not a directory")]
    NotDirectory { mapping: String, path: PathBuf },
    #[error("the source directory {path} of sync mapping `{mapping}` cannot be read: {source}")]
    Unreadable {
        mapping: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Files handed to the sink at once by a walker thread.
const BATCH: usize = 1024;

/// Walks `spec.source` with `threads` directory readers, handing the files to `sink` in batches, in no
/// particular order, as the threads find them; returns what it could not take (sorted by path).
pub fn walk_into(
    spec: &SyncSpec,
    threads: usize,
    sink: &(dyn Fn(Vec<LocalFile>) + Sync),
) -> Result<Vec<Skipped>, WalkError> {
    let root = &spec.source;
    match std::fs::metadata(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(WalkError::Missing {
                mapping: spec.name.clone(),
                path: root.clone(),
            });
        }
        Err(source) => {
            return Err(WalkError::Unreadable {
                mapping: spec.name.clone(),
                path: root.clone(),
                source,
            });
        }
        Ok(m) if !m.is_dir() => {
            return Err(WalkError::NotDirectory {
                mapping: spec.name.clone(),
                path: root.clone(),
            });
        }
        Ok(_) => {}
    }
    // Reading the top directory now turns "permission denied" into an error rather than an empty tree.
    if let Err(source) = std::fs::read_dir(root) {
        return Err(WalkError::Unreadable {
            mapping: spec.name.clone(),
            path: root.clone(),
            source,
        });
    }
    let found = Mutex::new(Vec::new());
    WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .follow_links(spec.follow_symlinks)
        .threads(threads.max(1))
        .build_parallel()
        .run(|| {
            // Each walker thread hands its files over in batches and its skipped paths once, at the end.
            let mut local = Local {
                found: &found,
                sink,
                files: Vec::with_capacity(BATCH),
                skipped: Vec::new(),
            };
            let visit = move |entry: Result<ignore::DirEntry, ignore::Error>| {
                local.visit(root, spec, entry);
                WalkState::Continue
            };
            Box::new(visit)
        });
    let mut skipped = found.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(skipped)
}

/// A walker thread's findings: files go to the sink a batch at a time, skipped paths into the shared
/// list when the thread is done.
struct Local<'a> {
    found: &'a Mutex<Vec<Skipped>>,
    sink: &'a (dyn Fn(Vec<LocalFile>) + Sync),
    files: Vec<LocalFile>,
    skipped: Vec<Skipped>,
}

impl Drop for Local<'_> {
    fn drop(&mut self) {
        if !self.files.is_empty() {
            (self.sink)(std::mem::take(&mut self.files));
        }
        let mut all = self.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.append(&mut self.skipped);
    }
}

impl Local<'_> {
    fn visit(&mut self, root: &Path, spec: &SyncSpec, entry: Result<ignore::DirEntry, ignore::Error>) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = error_path(&e).unwrap_or_else(|| root.to_path_buf());
                self.skip(path, SkipReason::Unreadable(e.to_string()));
                return;
            }
        };
        let Some(file_type) = entry.file_type() else { return };
        if file_type.is_dir() {
            return;
        }
        let path = entry.path();
        if path.strip_prefix(root).is_err() {
            return;
        }
        let Some(rel) = relative(root, path) else {
            self.skip(path.to_path_buf(), SkipReason::NotUtf8);
            return;
        };
        if !spec.selects(&rel) {
            return;
        }
        if file_type.is_symlink() {
            // With follow_links on, the walker reports the target's type; a link seen here is not followed.
            self.skip(path.to_path_buf(), SkipReason::Symlink);
            return;
        }
        if !file_type.is_file() {
            self.skip(path.to_path_buf(), SkipReason::Special);
            return;
        }
        match entry.metadata() {
            Ok(meta) => {
                self.files.push(LocalFile {
                    rel,
                    size: meta.len(),
                    mtime_ms: crate::state::time::mtime_ms(&meta),
                });
                if self.files.len() >= BATCH {
                    (self.sink)(std::mem::replace(&mut self.files, Vec::with_capacity(BATCH)));
                }
            }
            Err(e) => self.skip(path.to_path_buf(), SkipReason::Unreadable(e.to_string())),
        }
    }

    fn skip(&mut self, path: PathBuf, reason: SkipReason) {
        self.skipped.push(Skipped { path, reason });
    }
}

/// `path` relative to `root`, `/`-separated; `None` when it is not under `root` or its name is not UTF-8.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?.to_str()?;
    Some(if std::path::MAIN_SEPARATOR == '/' {
        rel.to_string()
    } else {
        rel.replace(std::path::MAIN_SEPARATOR, "/")
    })
}

fn error_path(e: &ignore::Error) -> Option<PathBuf> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => error_path(err),
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a walk found: the files sorted by path, and the skipped paths.
    #[derive(Debug)]
    struct Walked {
        files: Vec<LocalFile>,
        skipped: Vec<Skipped>,
    }

    impl Walked {
        fn unreadable(&self, root: &Path) -> Vec<String> {
            unreadable(&self.skipped, root)
        }
    }

    /// [`walk_into`], collected.
    fn walk(spec: &SyncSpec, threads: usize) -> Result<Walked, WalkError> {
        let files = Mutex::new(Vec::new());
        let skipped = walk_into(spec, threads, &|mut batch: Vec<LocalFile>| {
            files
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .append(&mut batch);
        })?;
        let mut files = files.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Walked { files, skipped })
    }

    fn spec(source: &Path, extra: &str) -> SyncSpec {
        let m = crate::manifest::load::valid_for_tests(&format!(
            "environment: t\nbuckets:\n  b:\n    name: b-t\nsync:\n  m:\n    source: {}\n    bucket: b\n{extra}",
            source.display()
        ));
        SyncSpec::new(&m, "m", &m.sync["m"], Path::new("/"), "us-east-1").expect("spec")
    }

    #[test]
    fn finds_selected_regular_files_sorted_and_reports_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
        std::fs::write(root.join("a/b/two.txt"), b"22").expect("write");
        std::fs::write(root.join("one.txt"), b"1").expect("write");
        std::fs::write(root.join("skip.tmp"), b"x").expect("write");
        std::os::unix::fs::symlink(root.join("one.txt"), root.join("link.txt")).expect("symlink");
        let walked = walk(&spec(root, "    exclude: [\"*.tmp\"]\n"), 2).expect("walk");
        let rels: Vec<(&str, u64)> = walked.files.iter().map(|f| (f.rel.as_str(), f.size)).collect();
        assert_eq!(rels, vec![("a/b/two.txt", 2), ("one.txt", 1)]);
        assert_eq!(walked.skipped.len(), 1);
        assert_eq!(walked.skipped[0].reason, SkipReason::Symlink);

        let followed = walk(&spec(root, "    follow_symlinks: true\n"), 2).expect("walk");
        assert!(followed.files.iter().any(|f| f.rel == "link.txt"));
        assert!(followed.unreadable(root).is_empty());
    }

    #[test]
    fn paths_the_walk_could_not_read_are_named_relative_to_the_source() {
        // Root reads every directory whatever its mode, so the unreadable places here are links,
        // followed, to nothing: a share that is not mounted looks the same.
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a")).expect("mkdir");
        std::fs::write(root.join("a/ok.txt"), b"1").expect("write");
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("a/share")).expect("symlink");
        std::os::unix::fs::symlink(root.join("nothing"), root.join("gone.txt")).expect("symlink");
        let walked = walk(&spec(root, "    follow_symlinks: true\n"), 2).expect("walk");
        let mut unreadable = walked.unreadable(root);
        unreadable.sort();
        assert_eq!(unreadable, vec!["a/share", "gone.txt"]);
        assert_eq!(walked.files.len(), 1);
    }

    #[test]
    fn a_missing_source_is_an_error_naming_the_mapping() {
        let err = walk(&spec(Path::new("/nonexistent/s3rec-source"), ""), 1).expect_err("missing");
        assert!(err.to_string().contains("sync mapping `m` does not exist"), "{err}");
    }

    #[test]
    fn names_that_are_not_utf8_are_skipped_with_a_reason() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt"));
        std::fs::write(&bad, b"x").expect("write");
        let walked = walk(&spec(dir.path(), ""), 1).expect("walk");
        assert!(walked.files.is_empty());
        assert_eq!(walked.skipped[0].reason, SkipReason::NotUtf8);
    }
}
