//! Where migrated objects land on the local disk, and the checks that keep them inside the destination.
//!
//! Object keys are untrusted input: anyone who could write to the bucket chose them, and S3 accepts any
//! UTF-8 string up to 1,024 bytes. A key such as `../../etc/cron.d/x` must never become a path outside
//! the destination, and two keys must never silently share one file (the second download would overwrite
//! the first, and deleting the source would then lose data). So every key is mapped to a relative path
//! that is checked component by component ([`relative_path`]), a whole inventory is checked for keys that
//! land on one path ([`assign`]), and nothing is ever written through a symbolic link found under the
//! destination ([`place`], [`ensure_dir`]). A key that cannot be mapped gets a [`Refusal`]: it is
//! reported and left in S3, never guessed at.
//!
//! Downloads are first written to `DEST/.s3rec-partial/` ([`partial_path`]), verified, and only then moved
//! into place with a rename on the same file system, so a file at its final path is always complete.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use sha2::Digest as _;

use crate::manifest::types::MigrationVersions;
use crate::model::hex;

/// The directory under the destination that holds downloads not yet verified. Keys under it are refused.
pub const PARTIAL_DIR: &str = ".s3rec-partial";

/// The longest file name most file systems accept (`NAME_MAX` on Linux, 255 UTF-16 units on NTFS).
const MAX_COMPONENT_BYTES: usize = 255;

/// The longest relative path accepted, leaving room for the destination under Linux's 4,096-byte `PATH_MAX`.
const MAX_PATH_BYTES: usize = 4_000;

/// The version ID S3 gives objects written while versioning was off.
const NULL_VERSION: &str = "null";

/// Why a key gets no local file. Every variant's message is a sentence fragment about the key ("skipped
/// photos/x: its key ..."), so callers can prefix it with the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A `..` or `.` component, or a leading `/`: the path could point outside the destination.
    #[error("its key has a `..` or `.` component or starts with `/`, so its path could escape the destination")]
    Escapes,
    /// `\` separates paths on Windows, so `..\..\x` would escape the destination there.
    #[error("its key contains `\\`, which separates paths on Windows")]
    Backslash,
    /// `a//b`: an empty path component has no file name.
    #[error("its key has an empty path component (`//`)")]
    EmptyComponent,
    /// A NUL byte, a component longer than a file name may be, a path longer than the system accepts.
    #[error("its key is not a valid file name: {0}")]
    InvalidName(String),
    /// The first component is [`PARTIAL_DIR`], where unfinished downloads are kept.
    #[error("its key starts with `{PARTIAL_DIR}/`, the directory s3rec keeps unfinished downloads in")]
    Reserved,
    /// Two objects map to one path (with a case-insensitive destination: to paths equal but for case).
    #[error("it maps to the same local path as {with}")]
    Collision {
        /// The other key (and version).
        with: String,
    },
    /// Key `a` and key `a/b`: the path `a` would have to be a file and a directory.
    #[error("its local path and that of {with} would need one name to be both a file and a directory")]
    FileAndDirectory {
        /// The other key (and version).
        with: String,
    },
    /// A key ending in `/` is a folder marker, mapped to a directory, but this one holds data.
    #[error("its key ends in `/`, so it maps to a directory, but the object holds data a directory cannot keep")]
    MarkerWithData,
    /// The key does not start with the migration's prefix (listings with that prefix never return one).
    #[error("its key does not start with the migration's prefix {prefix:?}")]
    OutsidePrefix {
        /// The migration's prefix.
        prefix: String,
    },
    /// The key is the prefix itself and not a folder marker: its path would be the destination directory.
    #[error("its key is the migration's prefix itself, so its path would be the destination directory")]
    NamesDestination,
    /// With all versions kept, a version ID becomes a file name; this one cannot be one.
    #[error("its version ID {version_id:?} is not a safe file name")]
    UnsafeVersionId {
        /// The version ID.
        version_id: String,
    },
}

/// One object version of an inventory, as [`assign`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    pub key: &'a str,
    pub version_id: &'a str,
    pub is_latest: bool,
    pub size: u64,
}

/// The relative `/`-separated path of `key` under the destination.
///
/// `prefix` is stripped first; when the prefix does not end in `/` (`photos`), the `/` that follows it in
/// the key (`photos/a.jpg`) is stripped too. A key ending in `/` (a "folder" marker) maps to a directory
/// path ending in `/`; the folder marker of the prefix itself (`photos/` with prefix `photos/`) maps to
/// `/`, the destination directory itself ([`final_path`] and [`ensure_dir`] read it so), so that it is
/// migrated like any other marker instead of blocking the bucket.
pub fn relative_path(key: &str, prefix: &str) -> Result<String, Refusal> {
    let Some(mut rest) = key.strip_prefix(prefix) else {
        return Err(Refusal::OutsidePrefix {
            prefix: prefix.to_string(),
        });
    };
    if !prefix.is_empty()
        && !prefix.ends_with('/')
        && let Some(stripped) = rest.strip_prefix('/')
    {
        rest = stripped;
    }
    if rest.is_empty() {
        return if key.ends_with('/') {
            Ok(ROOT.to_string())
        } else {
            Err(Refusal::NamesDestination)
        };
    }
    if rest.starts_with('/') {
        // Without a prefix a leading `/` makes an absolute path; after one it is an empty component
        // (`photos//a` with prefix `photos/`).
        return Err(if prefix.is_empty() {
            Refusal::Escapes
        } else {
            Refusal::EmptyComponent
        });
    }
    let body = rest.strip_suffix('/').unwrap_or(rest);
    check_path(body)?;
    Ok(rest.to_string())
}

/// The relative path of the destination directory itself, for the prefix's own folder marker.
pub const ROOT: &str = "/";

/// Whether a relative path from [`relative_path`] or [`assign`] names a directory (a folder marker's),
/// rather than a file.
pub fn is_dir(rel: &str) -> bool {
    rel.ends_with('/')
}

/// Checks a relative path without a trailing `/`: every component a plain, valid file name.
fn check_path(path: &str) -> Result<(), Refusal> {
    if path.contains('\0') {
        return Err(Refusal::InvalidName("it contains a NUL byte".to_string()));
    }
    // Backslashes are refused before components are looked at, so `..\..\x` reports the separator that
    // makes it dangerous on Windows rather than anything about its (Unix) components.
    if path.contains('\\') {
        return Err(Refusal::Backslash);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(Refusal::InvalidName(format!(
            "its path is {} bytes long, more than the {} s3rec accepts",
            path.len(),
            MAX_PATH_BYTES
        )));
    }
    for (i, component) in path.split('/').enumerate() {
        match component {
            "" => return Err(Refusal::EmptyComponent),
            "." | ".." => return Err(Refusal::Escapes),
            _ => {}
        }
        // The reserved name is compared without case: on a case-insensitive destination
        // `.S3REC-PARTIAL/x` is the same directory.
        if i == 0 && component.eq_ignore_ascii_case(PARTIAL_DIR) {
            return Err(Refusal::Reserved);
        }
        check_component_length(component)?;
        // What the platform's own path parser makes of the component: on Unix the checks above already
        // ensure a plain name, on Windows this also catches drive prefixes such as `C:`.
        if !is_plain_component(component) {
            return Err(Refusal::Escapes);
        }
    }
    Ok(())
}

fn check_component_length(component: &str) -> Result<(), Refusal> {
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(Refusal::InvalidName(format!(
            "a path component is {} bytes long, more than the {} a file name may have",
            component.len(),
            MAX_COMPONENT_BYTES
        )));
    }
    Ok(())
}

/// Whether `name` is exactly one normal path component on this platform.
fn is_plain_component(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(components.next(), Some(Component::Normal(n)) if n == name) && components.next().is_none()
}

/// The file name of a version: its ID with `%`, `/` and `\` percent-encoded. AWS documents version
/// IDs that contain `/` (they are URL-ready base64-like strings), and refusing those would keep their
/// whole bucket from completing; the encoding is reversible, so two IDs never share a name. What is
/// left must still be one plain component.
fn version_file_name(version_id: &str) -> Result<String, Refusal> {
    let mut name = String::with_capacity(version_id.len());
    for c in version_id.chars() {
        match c {
            '%' => name.push_str("%25"),
            '/' => name.push_str("%2F"),
            '\\' => name.push_str("%5C"),
            c => name.push(c),
        }
    }
    let safe = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= MAX_COMPONENT_BYTES
        && !name.contains('\0')
        && is_plain_component(&name);
    if safe {
        Ok(name)
    } else {
        Err(Refusal::UnsafeVersionId {
            version_id: version_id.to_string(),
        })
    }
}

/// Local paths for a whole inventory, in the order of `items`.
///
/// With [`MigrationVersions::Current`] each item gets its [`relative_path`] (pass only the latest
/// versions). With [`MigrationVersions::All`] the latest version keeps the plain path and every other
/// version goes to `<path>.versions/<version_id>`; folder markers map to their directory whatever the
/// version. Then every item whose path is taken by another item (with `case_insensitive`, paths equal
/// after lowercasing), or whose path is a directory another item needs (key `a` and key `a/b`), is
/// refused, and so is that other item: which one would win is arbitrary, so neither does.
///
/// Sorting makes this O(n log n): with `/` ordered before every other byte, everything under a path
/// sorts right after it, so one pass with a stack of the enclosing file paths finds every conflict.
pub fn assign(
    items: &[Item<'_>],
    prefix: &str,
    versions: MigrationVersions,
    case_insensitive: bool,
) -> Vec<Result<String, Refusal>> {
    let mut results: Vec<Result<String, Refusal>> =
        items.iter().map(|item| item_path(item, prefix, versions)).collect();

    let mut entries: Vec<Entry> = results
        .iter()
        .enumerate()
        .filter_map(|(idx, result)| {
            let rel = result.as_ref().ok()?;
            // The destination itself (the prefix's own folder marker) conflicts with nothing.
            if rel == ROOT {
                return None;
            }
            let dir = rel.ends_with('/');
            let path = rel.strip_suffix('/').unwrap_or(rel);
            let norm = if case_insensitive {
                path.to_lowercase()
            } else {
                path.to_string()
            };
            Some(Entry { norm, dir, idx })
        })
        .collect();
    entries.sort_unstable_by(|a, b| {
        path_order(&a.norm, &b.norm)
            .then(a.dir.cmp(&b.dir))
            .then(a.idx.cmp(&b.idx))
    });

    let mut conflicts: Vec<Option<Refusal>> = vec![None; items.len()];
    let describe = |idx: usize| describe_item(&items[idx], versions);
    let refuse = |conflicts: &mut Vec<Option<Refusal>>, idx: usize, refusal: Refusal| {
        if conflicts[idx].is_none() {
            conflicts[idx] = Some(refusal);
        }
    };
    // The enclosing files of the current entry, as indices into `entries`: paths that other entries
    // need as directories.
    let mut files_above: Vec<usize> = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let mut end = start + 1;
        while end < entries.len() && entries[end].norm == entries[start].norm {
            end += 1;
        }
        let group = &entries[start..end];
        while let Some(&top) = files_above.last() {
            if is_under(&group[0].norm, &entries[top].norm) {
                break;
            }
            files_above.pop();
        }
        if let Some(&top) = files_above.last() {
            let above = entries[top].idx;
            for entry in group {
                refuse(
                    &mut conflicts,
                    entry.idx,
                    Refusal::FileAndDirectory { with: describe(above) },
                );
            }
            refuse(
                &mut conflicts,
                above,
                Refusal::FileAndDirectory {
                    with: describe(group[0].idx),
                },
            );
        }
        // Files sort before directories within a group.
        let files = group.iter().take_while(|e| !e.dir).count();
        if files >= 2 {
            for (i, entry) in group[..files].iter().enumerate() {
                let other = group[if i == 0 { 1 } else { 0 }].idx;
                refuse(&mut conflicts, entry.idx, Refusal::Collision { with: describe(other) });
            }
        }
        if files >= 1 && files < group.len() {
            let (file, dir) = (group[0].idx, group[files].idx);
            for entry in &group[..files] {
                refuse(
                    &mut conflicts,
                    entry.idx,
                    Refusal::FileAndDirectory { with: describe(dir) },
                );
            }
            for entry in &group[files..] {
                refuse(
                    &mut conflicts,
                    entry.idx,
                    Refusal::FileAndDirectory { with: describe(file) },
                );
            }
        }
        if files >= 1 {
            files_above.push(start);
        }
        start = end;
    }

    for (result, conflict) in results.iter_mut().zip(conflicts) {
        if let Some(refusal) = conflict {
            *result = Err(refusal);
        }
    }
    results
}

/// One path of [`assign`]'s conflict search.
struct Entry {
    /// The path without a trailing `/`, lowercased when the destination folds case.
    norm: String,
    /// A folder marker's directory rather than a file.
    dir: bool,
    /// The item's index in the inventory.
    idx: usize,
}

/// Paths ordered component by component: `/` sorts before every other byte (NUL never occurs, it is
/// refused), so `a/b` comes right after `a` and before `a-b`.
fn path_order(a: &str, b: &str) -> std::cmp::Ordering {
    let sep = |byte: u8| if byte == b'/' { 0 } else { byte };
    a.bytes().map(sep).cmp(b.bytes().map(sep))
}

/// Whether `path` lies under the directory `dir`.
fn is_under(path: &str, dir: &str) -> bool {
    path.len() > dir.len() && path.as_bytes()[dir.len()] == b'/' && path.starts_with(dir)
}

/// The path of one item before conflicts are looked at.
fn item_path(item: &Item<'_>, prefix: &str, versions: MigrationVersions) -> Result<String, Refusal> {
    let rel = relative_path(item.key, prefix)?;
    if is_dir(&rel) {
        if item.size > 0 {
            return Err(Refusal::MarkerWithData);
        }
        return Ok(rel);
    }
    if versions == MigrationVersions::Current || item.is_latest {
        return Ok(rel);
    }
    let version_name = version_file_name(item.version_id)?;
    let last = rel.rsplit('/').next().unwrap_or(&rel);
    check_component_length(&format!("{last}.versions"))?;
    let path = format!("{rel}.versions/{version_name}");
    if path.len() > MAX_PATH_BYTES {
        return Err(Refusal::InvalidName(format!(
            "the path of this version is {} bytes long, more than the {} s3rec accepts",
            path.len(),
            MAX_PATH_BYTES
        )));
    }
    Ok(path)
}

/// An item as a refusal names it: the key quoted (control characters escaped), with its version when
/// versions are kept.
fn describe_item(item: &Item<'_>, versions: MigrationVersions) -> String {
    if versions == MigrationVersions::All && item.version_id != NULL_VERSION {
        format!("{:?} (version {:?})", item.key, item.version_id)
    } else {
        format!("{:?}", item.key)
    }
}

/// Whether the file system of `dest` (which exists) folds case: a probe file is created in it and looked
/// up by its upper-cased name, then removed.
pub fn case_insensitive(dest: &Path) -> io::Result<bool> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!(".s3rec-case-probe-{}-{nanos}", std::process::id());
    let probe = dest.join(&name);
    fs::OpenOptions::new().write(true).create_new(true).open(&probe)?;
    let folded = fs::symlink_metadata(dest.join(name.to_uppercase()));
    let removed = fs::remove_file(&probe);
    let folds = match folded {
        Ok(_) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    removed?;
    Ok(folds)
}

/// The directory downloads are written to before they are verified: `DEST/.s3rec-partial`.
pub fn partial_dir(dest: &Path) -> PathBuf {
    dest.join(PARTIAL_DIR)
}

/// Creates [`partial_dir`] if needed, refusing a symbolic link or a file in its place (a link planted
/// there would send every download elsewhere).
pub fn ensure_partial_dir(dest: &Path) -> Result<PathBuf, PlaceError> {
    make_dirs(dest, [PARTIAL_DIR])
}

/// Removes every unfinished download (`*.part`) from [`partial_dir`] and returns how many went; anything
/// else there, and the directory itself (the next run needs it again), stays. For a migration that is done: each migration has a destination of
/// its own (the validator refuses a shared one), so whatever is left there belongs to this bucket and can
/// no longer become a file — a download its object was adopted around, or one of a version a rescan
/// dropped. A symbolic link in the directory's place is left alone rather than followed.
pub fn clear_partials(dest: &Path) -> io::Result<usize> {
    let dir = partial_dir(dest);
    match fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Ok(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    }
    let mut removed = 0;
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let path = entry.path();
        let is_part = path.extension().is_some_and(|e| e == "part");
        if is_part && entry.file_type()?.is_file() {
            fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Where the download of one version is written before it is verified:
/// `DEST/.s3rec-partial/<first 32 hex digits of sha256(bucket NUL key NUL version_id)>.part`. The name is
/// fixed per version, so an interrupted download is found again, and says nothing about the key.
pub fn partial_path(dest: &Path, bucket: &str, key: &str, version_id: &str) -> PathBuf {
    let mut hasher = sha2::Sha256::new();
    hasher.update(bucket.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    hasher.update([0]);
    hasher.update(version_id.as_bytes());
    let digest = hasher.finalize();
    partial_dir(dest).join(format!("{}.part", hex(&digest[..16])))
}

/// The final path of a relative path from [`relative_path`] or [`assign`]. It is built one component at
/// a time, so even a path that slipped past the checks could not replace `dest` the way joining an
/// absolute path would.
pub fn final_path(dest: &Path, rel: &str) -> PathBuf {
    let mut path = dest.to_path_buf();
    for component in rel.split('/').filter(|c| !c.is_empty()) {
        path.push(component);
    }
    path
}

/// Why a verified download could not be put in place.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// The relative path did not come from [`relative_path`]: it is empty or not a plain relative path.
    #[error("{rel:?} is not a safe relative path under the destination")]
    InvalidPath {
        /// The relative path given.
        rel: String,
    },
    /// A path under the destination is a symbolic link; s3rec never writes through one.
    #[error(
        "{} is a symbolic link: s3rec does not follow links inside the destination, so nothing is written through it; replace it with a directory",
        path.display()
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A path that has to be a directory is something else.
    #[error("{} is not a directory, but another object's path goes through it: move it away", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The target exists and is not a regular file, so it is not replaced.
    #[error("{} is a {what}, not a file s3rec may replace: move it away", path.display())]
    Occupied {
        /// The target.
        path: PathBuf,
        /// What is there: "directory", "special file".
        what: &'static str,
    },
    /// The operating system refused an operation.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done: "create the directory", "move into place", ...
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        source: io::Error,
    },
}

/// Moves a verified partial file into place at `rel` and returns its final path.
///
/// The parent directories are created one component at a time under `dest`, and any existing component
/// that is a symbolic link or not a directory is refused, so a link planted inside the destination can
/// never redirect a write outside it. An existing regular file at the target is replaced (it is a stale
/// or unverified copy); a directory, link or special file there is an error. The rename stays on one file
/// system (the partial directory is inside `dest`), and the file and its directory are synced, so the file
/// is on disk before the source may be deleted.
pub fn place(dest: &Path, rel: &str, partial: &Path) -> Result<PathBuf, PlaceError> {
    let components = split_checked(rel)?;
    let Some((name, parents)) = components.split_last() else {
        return Err(PlaceError::InvalidPath { rel: rel.to_string() });
    };
    if rel.ends_with('/') {
        return Err(PlaceError::InvalidPath { rel: rel.to_string() });
    }
    let parent = make_dirs(dest, parents.iter().copied())?;
    let target = parent.join(name);
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(PlaceError::Symlink { path: target }),
        Ok(meta) if meta.is_dir() => {
            return Err(PlaceError::Occupied {
                path: target,
                what: "directory",
            });
        }
        Ok(meta) if !meta.is_file() => {
            return Err(PlaceError::Occupied {
                path: target,
                what: "special file",
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PlaceError::Io {
                action: "inspect",
                path: target,
                source,
            });
        }
    }
    sync_file(partial)?;
    fs::rename(partial, &target).map_err(|source| PlaceError::Io {
        action: "move the verified download into place at",
        path: target.clone(),
        source,
    })?;
    sync_dir(&parent)?;
    Ok(target)
}

/// Creates the directory of a folder marker (`rel` ends in `/`; [`ROOT`] is `dest` itself) with the same
/// checks as [`place`], and returns its path.
pub fn ensure_dir(dest: &Path, rel: &str) -> Result<PathBuf, PlaceError> {
    if !is_dir(rel) {
        return Err(PlaceError::InvalidPath { rel: rel.to_string() });
    }
    if rel == ROOT {
        return Ok(dest.to_path_buf());
    }
    let components = split_checked(rel)?;
    make_dirs(dest, components)
}

/// The components of a relative path, each checked to be a plain name; `place` and `ensure_dir` check
/// again what [`relative_path`] checked, as they are where a bad path would do harm.
fn split_checked(rel: &str) -> Result<Vec<&str>, PlaceError> {
    let body = rel.strip_suffix('/').unwrap_or(rel);
    let components: Vec<&str> = body.split('/').collect();
    let plain =
        |c: &&str| !c.is_empty() && *c != "." && *c != ".." && !c.contains(['\\', '\0']) && is_plain_component(c);
    if body.is_empty() || !components.iter().all(plain) {
        return Err(PlaceError::InvalidPath { rel: rel.to_string() });
    }
    Ok(components)
}

/// Walks `components` under `dest`, creating missing directories and refusing links and non-directories;
/// returns the last directory.
fn make_dirs<'c>(dest: &Path, components: impl IntoIterator<Item = &'c str>) -> Result<PathBuf, PlaceError> {
    let mut path = dest.to_path_buf();
    for component in components {
        let parent = path.clone();
        path.push(component);
        if check_dir(&path)? {
            continue;
        }
        match fs::create_dir(&path) {
            Ok(()) => sync_dir(&parent)?,
            // Another download created it meanwhile: check what is there now.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !check_dir(&path)? {
                    return Err(PlaceError::NotADirectory { path });
                }
            }
            Err(source) => {
                return Err(PlaceError::Io {
                    action: "create the directory",
                    path,
                    source,
                });
            }
        }
    }
    Ok(path)
}

/// True when `path` is a real directory, false when nothing is there; an error for a link or anything
/// else.
fn check_dir(path: &Path) -> Result<bool, PlaceError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(PlaceError::Symlink {
            path: path.to_path_buf(),
        }),
        Ok(meta) if meta.is_dir() => Ok(true),
        Ok(_) => Err(PlaceError::NotADirectory {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(PlaceError::Io {
            action: "inspect",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Flushes a file's content to disk. Only on Unix: Windows cannot flush a file opened for reading, and
/// its renames are not journaled the same way.
fn sync_file(path: &Path) -> Result<(), PlaceError> {
    #[cfg(unix)]
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| PlaceError::Io {
            action: "flush to disk",
            path: path.to_path_buf(),
            source,
        })?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Flushes a directory's entries to disk, so a created or renamed entry survives a crash. Only on Unix,
/// where directories can be opened.
fn sync_dir(path: &Path) -> Result<(), PlaceError> {
    #[cfg(unix)]
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| PlaceError::Io {
            action: "flush to disk the directory",
            path: path.to_path_buf(),
            source,
        })?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Bytes free for an unprivileged user on the file system holding `dest`.
pub fn available_space(dest: &Path) -> io::Result<u64> {
    fs4::available_space(dest)
}

/// The reserve kept free on the destination: 1% of what the downloads need, at least 64 MiB, so the file
/// system (and the state database, if it lives there) never runs completely full.
pub fn reserve(needed: u64) -> u64 {
    (needed / 100).max(64 * 1024 * 1024)
}

/// The destination has too little free space for the downloads.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error(
        "the downloads need {} but {} has {} free (keeping {} in reserve): free space or migrate a prefix at a time",
        Bytes(*needed),
        dest.display(),
        Bytes(*available),
        Bytes(*reserve)
    )]
    Insufficient {
        /// The destination directory.
        dest: PathBuf,
        /// Bytes the downloads need.
        needed: u64,
        /// Bytes free on its file system.
        available: u64,
        /// Bytes kept free besides.
        reserve: u64,
    },
}

/// Whether `needed` bytes fit into `available` with the [`reserve`] left over. Pure: the caller measures
/// with [`available_space`].
pub fn check_space(dest: &Path, needed: u64, available: u64) -> Result<(), SpaceError> {
    let reserve = reserve(needed);
    if needed.saturating_add(reserve) > available {
        return Err(SpaceError::Insufficient {
            dest: dest.to_path_buf(),
            needed,
            available,
            reserve,
        });
    }
    Ok(())
}

/// A byte count in binary units (`12.3 GiB`), as the rest of s3rec prints sizes.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::words::size(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(key: &str) -> Refusal {
        relative_path(key, "").expect_err(key)
    }

    #[test]
    fn hostile_keys_are_refused_with_their_reason() {
        assert_eq!(refusal("../../etc/x"), Refusal::Escapes);
        assert_eq!(refusal("/abs"), Refusal::Escapes);
        assert_eq!(refusal("a/../../b"), Refusal::Escapes);
        assert_eq!(refusal("./a"), Refusal::Escapes);
        assert_eq!(refusal("a/./b"), Refusal::Escapes);
        assert_eq!(refusal("a/.."), Refusal::Escapes);
        assert_eq!(refusal(".."), Refusal::Escapes);
        assert_eq!(refusal("../"), Refusal::Escapes);
        assert_eq!(refusal("a//b"), Refusal::EmptyComponent);
        assert_eq!(refusal("a//"), Refusal::EmptyComponent);
        assert_eq!(refusal("..\\..\\win"), Refusal::Backslash);
        assert_eq!(refusal("a\\b"), Refusal::Backslash);
        assert!(matches!(refusal("a\0b"), Refusal::InvalidName(m) if m.contains("NUL")));
        let long_component = format!("dir/{}", "x".repeat(300));
        assert!(matches!(refusal(&long_component), Refusal::InvalidName(m) if m.contains("300 bytes")));
        let long_key = vec!["abcd"; 1_000].join("/");
        assert_eq!(long_key.len(), 4_999);
        assert!(matches!(refusal(&long_key), Refusal::InvalidName(m) if m.contains("4999 bytes")));
        assert_eq!(refusal(".s3rec-partial/x"), Refusal::Reserved);
        assert_eq!(refusal(".s3rec-partial"), Refusal::Reserved);
        assert_eq!(refusal(".s3rec-partial/"), Refusal::Reserved);
        assert_eq!(refusal(".S3REC-Partial/x"), Refusal::Reserved);
    }

    #[test]
    fn a_255_byte_component_is_accepted() {
        let key = format!("dir/{}", "é".repeat(127));
        assert_eq!(relative_path(&key, ""), Ok(key.clone()));
    }

    #[test]
    fn ordinary_keys_map_to_themselves() {
        for key in [
            "a.txt",
            "dir/sub/file name with spaces.jpg",
            "unicode/日本語/ファイル.txt",
            "percent/100%25 done%.txt",
            "control/tab\there\u{1}bell\u{7f}",
            "dots/..hidden/a..b/.x/...",
            "nested/deep/",
            ".s3rec-partial-not/x",
            "x/.s3rec-partial/y",
        ] {
            assert_eq!(relative_path(key, ""), Ok(key.to_string()), "{key:?}");
        }
    }

    #[test]
    fn prefix_is_stripped_with_one_slash() {
        assert_eq!(relative_path("photos/2020/a.jpg", "photos/"), Ok("2020/a.jpg".into()));
        assert_eq!(relative_path("photos/2020/a.jpg", "photos"), Ok("2020/a.jpg".into()));
        // A prefix is a string prefix in S3, not a directory.
        assert_eq!(relative_path("photos-old/a.jpg", "photos"), Ok("-old/a.jpg".into()));
        assert_eq!(relative_path("photos//a.jpg", "photos/"), Err(Refusal::EmptyComponent));
        assert_eq!(relative_path("photos//a.jpg", "photos"), Err(Refusal::EmptyComponent));
        assert_eq!(relative_path("photos/../x", "photos/"), Err(Refusal::Escapes));
        assert_eq!(
            relative_path("videos/a.mp4", "photos/"),
            Err(Refusal::OutsidePrefix {
                prefix: "photos/".into()
            })
        );
        assert_eq!(relative_path("photos", "photos"), Err(Refusal::NamesDestination));
        assert_eq!(
            relative_path("photos/.s3rec-partial/x", "photos/"),
            Err(Refusal::Reserved)
        );
    }

    #[test]
    fn folder_markers_map_to_directories() {
        assert_eq!(relative_path("a/b/", ""), Ok("a/b/".into()));
        assert_eq!(relative_path("photos/a/", "photos/"), Ok("a/".into()));
        // The prefix's own marker is the destination directory.
        assert_eq!(relative_path("photos/", "photos/"), Ok("/".into()));
        assert_eq!(relative_path("photos/", "photos"), Ok("/".into()));
        assert!(is_dir(ROOT) && is_dir("a/") && !is_dir("a"));
        assert_eq!(relative_path("/", ""), Err(Refusal::Escapes));
    }

    fn item<'a>(key: &'a str, version_id: &'a str, is_latest: bool) -> Item<'a> {
        Item {
            key,
            version_id,
            is_latest,
            size: if key.ends_with('/') { 0 } else { 1 },
        }
    }

    #[test]
    fn all_versions_go_beside_the_latest() {
        let items = [
            item("p/a.txt", "v3", true),
            item("p/a.txt", "v2", false),
            item("p/a.txt", "null", false),
            item("p/dir/", "m2", true),
            item("p/dir/", "m1", false),
            item("p/gone.txt", "g1", false),
        ];
        let paths = assign(&items, "p/", MigrationVersions::All, false);
        assert_eq!(
            paths,
            vec![
                Ok("a.txt".to_string()),
                Ok("a.txt.versions/v2".to_string()),
                Ok("a.txt.versions/null".to_string()),
                Ok("dir/".to_string()),
                Ok("dir/".to_string()),
                Ok("gone.txt.versions/g1".to_string()),
            ]
        );
    }

    #[test]
    fn unsafe_version_ids_are_refused() {
        for version_id in ["", ".", "..", "a\0b"] {
            let items = [item("k", version_id, false)];
            assert_eq!(
                assign(&items, "", MigrationVersions::All, false),
                vec![Err(Refusal::UnsafeVersionId {
                    version_id: version_id.to_string()
                })]
            );
        }
        let items = [item(
            "k",
            "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
            false,
        )];
        assert!(assign(&items, "", MigrationVersions::All, false)[0].is_ok());
        // AWS documents version IDs with `/`: encoded, not refused, and never equal to another ID's name.
        let items = [item("k", "3/L4+x", false), item("k", "3%2FL4+x", false)];
        assert_eq!(
            assign(&items, "", MigrationVersions::All, false),
            vec![
                Ok("k.versions/3%2FL4+x".to_string()),
                Ok("k.versions/3%252FL4+x".to_string())
            ]
        );
        // The version directory's name must fit too.
        let long = "x".repeat(250);
        let items = [item(&long, "v1", false)];
        assert!(matches!(
            &assign(&items, "", MigrationVersions::All, false)[0],
            Err(Refusal::InvalidName(_))
        ));
    }

    #[test]
    fn markers_holding_data_are_refused() {
        let items = [Item {
            key: "a/",
            version_id: "null",
            is_latest: true,
            size: 3,
        }];
        assert_eq!(
            assign(&items, "", MigrationVersions::Current, false),
            vec![Err(Refusal::MarkerWithData)]
        );
    }

    #[test]
    fn exact_collisions_refuse_every_item_involved() {
        let items = [
            item("a", "1", true),
            item("b", "2", true),
            item("a", "3", true),
            item("a", "4", true),
        ];
        let paths = assign(&items, "", MigrationVersions::All, false);
        assert_eq!(
            paths,
            vec![
                Err(Refusal::Collision {
                    with: "\"a\" (version \"3\")".into()
                }),
                Ok("b".into()),
                Err(Refusal::Collision {
                    with: "\"a\" (version \"1\")".into()
                }),
                Err(Refusal::Collision {
                    with: "\"a\" (version \"1\")".into()
                }),
            ]
        );
    }

    #[test]
    fn case_folded_collisions_only_when_asked() {
        let items = [item("Photo.JPG", "1", true), item("photo.jpg", "2", true)];
        assert_eq!(
            assign(&items, "", MigrationVersions::Current, false),
            vec![Ok("Photo.JPG".to_string()), Ok("photo.jpg".to_string())]
        );
        assert_eq!(
            assign(&items, "", MigrationVersions::Current, true),
            vec![
                Err(Refusal::Collision {
                    with: "\"photo.jpg\"".into()
                }),
                Err(Refusal::Collision {
                    with: "\"Photo.JPG\"".into()
                }),
            ]
        );
        // Two spellings of one directory are one directory, not a conflict.
        let items = [
            item("Dir/a", "1", true),
            item("dir/b", "2", true),
            item("DIR/", "3", true),
        ];
        assert!(
            assign(&items, "", MigrationVersions::Current, true)
                .iter()
                .all(Result::is_ok)
        );
        let items = [item("Dir", "1", true), item("dir/b", "2", true)];
        assert!(
            assign(&items, "", MigrationVersions::Current, true)
                .iter()
                .all(|r| matches!(r, Err(Refusal::FileAndDirectory { .. })))
        );
    }

    #[test]
    fn a_file_cannot_also_be_a_directory() {
        let items = [
            item("a/b/c", "1", true),
            item("a", "2", true),
            item("a-b", "3", true),
            item("a/b", "4", true),
            item("m", "5", true),
            item("m/", "6", true),
            item("n/", "7", true),
            item("n/x", "8", true),
        ];
        let paths = assign(&items, "", MigrationVersions::Current, false);
        assert_eq!(
            paths,
            vec![
                Err(Refusal::FileAndDirectory { with: "\"a/b\"".into() }),
                Err(Refusal::FileAndDirectory { with: "\"a/b\"".into() }),
                Ok("a-b".into()),
                Err(Refusal::FileAndDirectory { with: "\"a\"".into() }),
                Err(Refusal::FileAndDirectory { with: "\"m/\"".into() }),
                Err(Refusal::FileAndDirectory { with: "\"m\"".into() }),
                Ok("n/".into()),
                Ok("n/x".into()),
            ]
        );
    }

    #[test]
    fn version_paths_collide_with_keys_that_look_like_them() {
        let items = [
            item("x", "1", false),
            item("x.versions/1", "null", true),
            item("y", "1", false),
            item("y.versions", "null", true),
            item("x", "2", true),
        ];
        let paths = assign(&items, "", MigrationVersions::All, false);
        assert_eq!(
            paths,
            vec![
                Err(Refusal::Collision {
                    with: "\"x.versions/1\"".into()
                }),
                Err(Refusal::Collision {
                    with: "\"x\" (version \"1\")".into()
                }),
                Err(Refusal::FileAndDirectory {
                    with: "\"y.versions\"".into()
                }),
                Err(Refusal::FileAndDirectory {
                    with: "\"y\" (version \"1\")".into()
                }),
                Ok("x".into()),
            ]
        );
    }

    #[test]
    fn refused_keys_take_part_in_no_conflict() {
        let items = [item("a//b", "1", true), item("a", "2", true)];
        assert_eq!(
            assign(&items, "", MigrationVersions::Current, false),
            vec![Err(Refusal::EmptyComponent), Ok("a".to_string())]
        );
    }

    #[test]
    fn assign_handles_a_large_inventory() {
        let keys: Vec<String> = (0..100_000).map(|i| format!("d{}/s{}/f{i}", i % 97, i % 13)).collect();
        let mut items: Vec<Item<'_>> = keys.iter().map(|k| item(k, "null", true)).collect();
        items.push(item("d5/s5", "null", true));
        let paths = assign(&items, "", MigrationVersions::Current, false);
        let refused = paths.iter().filter(|p| p.is_err()).count();
        // `d5/s5` is a file and the directory of the keys i with i % 97 == 5 and i % 13 == 5.
        let under = (0..100_000).filter(|i| i % 97 == 5 && i % 13 == 5).count();
        assert_eq!(refused, under + 1);
    }

    #[test]
    fn partial_paths_are_fixed_hashes_under_the_partial_dir() {
        let dest = Path::new("/dest");
        let a = partial_path(dest, "b", "k", "v");
        assert_eq!(a, partial_path(dest, "b", "k", "v"));
        assert_ne!(a, partial_path(dest, "b", "k", "w"));
        // The separators keep (bucket, key) pairs apart that concatenate alike.
        assert_ne!(partial_path(dest, "ab", "c", "v"), partial_path(dest, "a", "bc", "v"));
        assert_eq!(a.parent(), Some(Path::new("/dest/.s3rec-partial")));
        let name = a.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert_eq!(name.len(), 32 + ".part".len());
        assert!(name.ends_with(".part"));
        // sha256("b\0k\0v") starts with these 16 bytes (computed with Python's hashlib).
        assert_eq!(name, "8688fd7bd7c3911a2d00ecc53a80c3aa.part");
    }

    #[test]
    fn final_paths_never_leave_the_destination() {
        let dest = Path::new("/dest");
        assert_eq!(final_path(dest, "a/b.txt"), PathBuf::from("/dest/a/b.txt"));
        assert_eq!(final_path(dest, "a/b/"), PathBuf::from("/dest/a/b"));
        assert_eq!(final_path(dest, "/"), PathBuf::from("/dest"));
        assert_eq!(final_path(dest, "/etc/passwd"), PathBuf::from("/dest/etc/passwd"));
    }

    fn partial(dest: &Path, content: &[u8]) -> PathBuf {
        let dir = ensure_partial_dir(dest).unwrap();
        let path = dir.join(format!("{}.part", content.len()));
        fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn place_creates_parents_and_replaces_a_stale_file() {
        let dest = tempfile::tempdir().unwrap();
        let p = partial(dest.path(), b"new");
        let target = place(dest.path(), "a/b/c.txt", &p).unwrap();
        assert_eq!(target, dest.path().join("a/b/c.txt"));
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(!p.exists());

        fs::write(&target, b"stale content").unwrap();
        let p = partial(dest.path(), b"fresh");
        place(dest.path(), "a/b/c.txt", &p).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"fresh");
    }

    #[test]
    fn place_refuses_a_directory_at_the_target() {
        let dest = tempfile::tempdir().unwrap();
        fs::create_dir_all(dest.path().join("a/b")).unwrap();
        let p = partial(dest.path(), b"x");
        let err = place(dest.path(), "a/b", &p).unwrap_err();
        assert!(matches!(err, PlaceError::Occupied { what: "directory", .. }), "{err}");
        assert!(p.exists());
    }

    #[test]
    fn place_refuses_a_file_where_a_directory_belongs() {
        let dest = tempfile::tempdir().unwrap();
        fs::write(dest.path().join("a"), b"file").unwrap();
        let p = partial(dest.path(), b"x");
        let err = place(dest.path(), "a/b", &p).unwrap_err();
        assert!(matches!(err, PlaceError::NotADirectory { .. }), "{err}");
    }

    #[test]
    fn place_and_ensure_dir_refuse_paths_that_did_not_come_from_relative_path() {
        let dest = tempfile::tempdir().unwrap();
        let p = partial(dest.path(), b"x");
        for rel in ["", "/etc/x", "../x", "a/../x", "a//b", "a/", "a\\b"] {
            assert!(
                matches!(place(dest.path(), rel, &p), Err(PlaceError::InvalidPath { .. })),
                "{rel:?}"
            );
        }
        for rel in ["../x/", "a", "/abs/", "", "a//"] {
            assert!(
                matches!(ensure_dir(dest.path(), rel), Err(PlaceError::InvalidPath { .. })),
                "{rel:?}"
            );
        }
    }

    #[test]
    fn ensure_dir_creates_marker_directories() {
        let dest = tempfile::tempdir().unwrap();
        assert_eq!(ensure_dir(dest.path(), "/").unwrap(), dest.path());
        assert_eq!(final_path(dest.path(), "/"), dest.path());
        let dir = ensure_dir(dest.path(), "x/y/").unwrap();
        assert!(dir.is_dir());
        assert_eq!(ensure_dir(dest.path(), "x/y/").unwrap(), dir);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_the_destination_are_never_followed() {
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("dest");
        let outside = root.path().join("outside");
        fs::create_dir_all(&dest).unwrap();
        fs::create_dir_all(&outside).unwrap();
        symlink(&outside, dest.join("link")).unwrap();
        fs::create_dir(dest.join("real")).unwrap();
        symlink(&outside, dest.join("real/deeper")).unwrap();
        symlink(outside.join("target"), dest.join("file-link")).unwrap();

        let p = partial(&dest, b"payload");
        for rel in ["link/x", "link/sub/x", "real/deeper/x", "file-link"] {
            let err = place(&dest, rel, &p).unwrap_err();
            assert!(matches!(err, PlaceError::Symlink { .. }), "{rel}: {err}");
        }
        let err = ensure_dir(&dest, "link/sub/").unwrap_err();
        assert!(matches!(err, PlaceError::Symlink { .. }), "{err}");
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            0,
            "nothing was written outside"
        );
        assert!(p.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_partial_dir_is_refused() {
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("dest");
        fs::create_dir_all(&dest).unwrap();
        symlink(root.path(), dest.join(PARTIAL_DIR)).unwrap();
        assert!(matches!(ensure_partial_dir(&dest), Err(PlaceError::Symlink { .. })));
    }

    #[test]
    fn case_probe_answers_and_cleans_up() {
        let dest = tempfile::tempdir().unwrap();
        let folds = case_insensitive(dest.path()).unwrap();
        // The test machines run Linux file systems, which keep case apart.
        if cfg!(target_os = "linux") {
            assert!(!folds);
        }
        assert_eq!(fs::read_dir(dest.path()).unwrap().count(), 0);
    }

    #[test]
    fn available_space_reads_the_file_system() {
        let dest = tempfile::tempdir().unwrap();
        assert!(available_space(dest.path()).unwrap() > 0);
    }

    #[test]
    fn space_check_keeps_a_reserve() {
        const MIB: u64 = 1024 * 1024;
        const GIB: u64 = 1024 * MIB;
        let dest = Path::new("/nas/x");
        assert!(check_space(dest, 0, 64 * MIB).is_ok());
        assert!(check_space(dest, 1, 64 * MIB).is_err());
        assert!(check_space(dest, 100 * MIB, 164 * MIB).is_ok());
        // Above 6.25 GiB the reserve is 1%.
        assert!(check_space(dest, 100 * GIB, 101 * GIB).is_ok());
        assert!(check_space(dest, 100 * GIB, 101 * GIB - 1).is_err());
        let err = check_space(dest, 12 * GIB + 300 * MIB, 4 * GIB + 100 * MIB).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the downloads need 12.3 GiB but /nas/x has 4.1 GiB free (keeping 125.9 MiB in reserve): free space or migrate a prefix at a time"
        );
    }
}
