//! Finding and loading an environment manifest: discovery, `extends`, `${env}`, schema, types, checks.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::check;
use super::diagnostic::{Problem, Severity, Sources};
use super::schema;
use super::types::Manifest;
use super::yaml::{self, Node, SpanIndex, Value};

/// The directory that holds one YAML file per environment.
pub const ENVIRONMENTS_DIR: &str = "environments";

/// Why an environment could not be found.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DiscoveryError {
    #[error("no `{ENVIRONMENTS_DIR}/` directory in {start} or any of its parents")]
    #[diagnostic(
        code(s3rec::no_environments),
        help("run s3rec inside a project that has an environments/ directory, or pass --chdir DIR")
    )]
    NoEnvironments { start: String },
    #[error("environment `{name}` not found: {path} does not exist")]
    #[diagnostic(code(s3rec::unknown_environment), help("{available}"))]
    UnknownEnvironment {
        name: String,
        path: String,
        available: String,
    },
    #[error("`{name}` is not an environment: {path} is a shared base or lies outside `{ENVIRONMENTS_DIR}/`")]
    #[diagnostic(
        code(s3rec::not_an_environment),
        help("files whose name starts with `_` are bases, used through `extends`; {available}")
    )]
    NotAnEnvironment {
        name: String,
        path: String,
        available: String,
    },
    #[error("cannot list {path}: {source}")]
    #[diagnostic(code(s3rec::io))]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The nearest ancestor of `start` (itself included) that has an `environments/` directory, as cargo
/// finds the nearest `Cargo.toml`.
pub fn find_project_root(start: &Path) -> Result<PathBuf, DiscoveryError> {
    start
        .ancestors()
        .find(|dir| dir.join(ENVIRONMENTS_DIR).is_dir())
        .map(Path::to_path_buf)
        .ok_or_else(|| DiscoveryError::NoEnvironments {
            start: start.display().to_string(),
        })
}

/// The name of the environment a manifest file is, from where it lies: a `.yaml` or `.yml` file directly
/// in an `environments/` directory is environment `<stem>`, unless its name starts with `_` (a shared
/// base, used through `extends`). Any other file (an example, a base) is not an environment file.
///
/// This is the one place that decides an environment's name: discovery (`-e NAME`), the state file, run
/// locks and saved plans all use the stem, and `load` refuses an environment file whose `environment:`
/// says otherwise, so two files can never share a state.
pub fn environment_of(path: &Path) -> Option<String> {
    let in_environments_dir = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == ENVIRONMENTS_DIR);
    let is_manifest = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    let stem = path.file_stem()?.to_str()?;
    (in_environments_dir && is_manifest && !stem.is_empty() && !stem.starts_with('_')).then(|| stem.to_string())
}

/// The file of environment `name` in the project around `start`.
pub fn find_environment(start: &Path, name: &str) -> Result<PathBuf, DiscoveryError> {
    let root = find_project_root(start)?;
    let dir = root.join(ENVIRONMENTS_DIR);
    // A name that is not the stem of the file it leads to (a base such as `_base`, or a path such as
    // `../examples/x`) is not an environment, however the file looks.
    let mut not_an_environment = None;
    for ext in ["yaml", "yml"] {
        let candidate = dir.join(format!("{name}.{ext}"));
        if !candidate.is_file() {
            continue;
        }
        if environment_of(&candidate).as_deref() == Some(name) {
            return Ok(candidate);
        }
        not_an_environment.get_or_insert(candidate);
    }
    let names = list_environments(&root)?
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect::<Vec<_>>();
    let available = if names.is_empty() {
        format!("{} has no environment files", dir.display())
    } else {
        format!("available environments: {}", names.join(", "))
    };
    if let Some(path) = not_an_environment {
        return Err(DiscoveryError::NotAnEnvironment {
            name: name.to_string(),
            path: path.display().to_string(),
            available,
        });
    }
    Err(DiscoveryError::UnknownEnvironment {
        name: name.to_string(),
        path: dir.join(format!("{name}.yaml")).display().to_string(),
        available,
    })
}

/// Every environment file of a project, sorted. Files whose name starts with `_` are shared bases used
/// through `extends`, not environments of their own.
pub fn list_environments(root: &Path) -> Result<Vec<PathBuf>, DiscoveryError> {
    let dir = root.join(ENVIRONMENTS_DIR);
    let entries = std::fs::read_dir(&dir).map_err(|source| DiscoveryError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && environment_of(p).is_some())
        .collect();
    files.sort();
    Ok(files)
}

/// A manifest after loading: the typed manifest when there were no errors, and every problem found.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub sources: Sources,
    pub manifest: Option<Manifest>,
    pub problems: Vec<Problem>,
    /// The merged, interpolated document and where each of its nodes came from.
    pub document: Json,
    pub index: SpanIndex,
}

impl Loaded {
    /// The manifest's path as shown to the user.
    pub fn sources_display(&self) -> String {
        let shown = std::env::current_dir()
            .ok()
            .and_then(|cwd| self.path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
            .unwrap_or_else(|| self.path.clone());
        shown.display().to_string()
    }

    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }
}

/// Loads and validates the manifest at `path`. Never fails: an unreadable file is a problem like any other.
pub fn load(path: &Path) -> Loaded {
    let mut sources = Sources::default();
    let mut problems = Vec::new();
    let tree = read_tree(path, &mut sources, &mut Vec::new(), &mut problems, None);
    let mut loaded = Loaded {
        path: path.to_path_buf(),
        sources,
        manifest: None,
        problems,
        document: Json::Null,
        index: SpanIndex::default(),
    };
    let Some(mut tree) = tree else {
        return loaded;
    };
    // An environment file's name is its stem, whatever `environment:` says (a difference is reported by
    // the checks); any other file is named by its `environment:`.
    let file_environment = environment_of(path);
    let env = file_environment
        .clone()
        .or_else(|| tree.get("environment").and_then(Node::as_str).map(str::to_string));
    if let Some(env) = env {
        yaml::map_strings(&mut tree, &|s| s.contains("${env}").then(|| s.replace("${env}", &env)));
    }
    let (document, index) = yaml::to_json(&tree);
    let schema_problems = schema::check(&document, &index);
    // Shape errors stop serde, but they should not hide the semantic mistakes elsewhere in the file: the
    // checks run on a copy with the offending values cut out, so one run reports everything it can.
    let refused: BTreeSet<String> = schema_problems.iter().filter_map(|p| p.pointer.clone()).collect();
    let mut checked = document.clone();
    remove_pointers(&mut checked, &refused);
    // A semantic finding on or around a value the schema already refused is the same mistake seen again
    // (a refused `days: -1` then looks like a missing `days`), so it is dropped. The set is sorted, so a
    // refused descendant is the first entry after `ptr/`; a scan of every refused pointer per finding
    // would be quadratic when both are many.
    let independent = |p: &Problem| {
        p.pointer.as_deref().is_none_or(|ptr| {
            let children = format!("{ptr}/");
            let ancestor_or_self = std::iter::once(ptr)
                .chain(ptr.match_indices('/').map(|(i, _)| &ptr[..i]))
                .any(|a| refused.contains(a));
            let descendant = refused
                .range(children.clone()..)
                .next()
                .is_some_and(|r| r.starts_with(&children));
            !ancestor_or_self && !descendant
        })
    };
    loaded.problems.extend(schema_problems);
    match serde_path_to_error::deserialize::<_, Manifest>(&checked) {
        Ok(manifest) => {
            let semantic = check::run(&manifest, file_environment.as_deref(), &checked, &index);
            loaded.problems.extend(semantic.into_iter().filter(independent));
            loaded.manifest = Some(manifest);
        }
        Err(_) if loaded.has_errors() => {}
        Err(e) => {
            // The schema and the types agree, so this is rare: a value the schema cannot express
            // (such as a malformed size string) that serde refuses.
            let pointer = path_to_pointer(e.path());
            let mut p = Problem::error("invalid-value", e.inner().to_string()).with_pointer(pointer.clone());
            if let Some(l) = index.locate(&pointer) {
                p = p.at(l.value);
            }
            loaded.problems.push(p);
        }
    }
    if loaded.has_errors() {
        loaded.manifest = None;
    }
    sort_problems(&mut loaded.problems);
    loaded.document = document;
    loaded.index = index;
    loaded
}

/// Orders problems by file and position, so output reads top to bottom.
fn sort_problems(problems: &mut [Problem]) {
    problems.sort_by_key(|p| {
        let file = p.span.map(|s| s.file).or(p.file).map_or(0, |f| f.0);
        let offset = p.span.map_or(0, |s| s.offset);
        (file, offset, p.severity)
    });
}

/// Reads one file and, recursively, its `extends` base, merged under it.
fn read_tree(
    path: &Path,
    sources: &mut Sources,
    chain: &mut Vec<PathBuf>,
    problems: &mut Vec<Problem>,
    referenced_from: Option<yaml::Span>,
) -> Option<Node> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let mut p = Problem::error("unreadable", format!("cannot read {}: {e}", path.display()));
            if let Some(span) = referenced_from {
                p = p
                    .at(span)
                    .with_hint("`extends` is resolved relative to the file that names it");
            }
            problems.push(p);
            return None;
        }
    };
    let file = sources.add(path, text);
    let mut tree = match yaml::parse(sources.text(file), file) {
        Ok(tree) => tree,
        Err(e) => {
            let mut p = Problem::error("yaml", e.message).at(e.span);
            if let Some(h) = e.hint {
                p = p.with_hint(h);
            }
            problems.push(p);
            return None;
        }
    };
    if !matches!(tree.value, Value::Map(_)) {
        problems.push(
            Problem::error(
                "not-a-mapping",
                "a manifest must be a mapping of sections (`environment:`, `buckets:`, ...)",
            )
            .at(tree.span)
            .with_hint("start the file with `environment: <name>`"),
        );
        return None;
    }
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    chain.push(canonical);

    let Some(extends) = take_extends(&mut tree) else {
        return Some(tree);
    };
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&extends.0);
    let base_canonical = std::fs::canonicalize(&base_path).unwrap_or_else(|_| base_path.clone());
    if chain.contains(&base_canonical) {
        problems.push(
            Problem::error("extends-cycle", format!("`extends: {}` forms a cycle", extends.0))
                .at(extends.1)
                .with_hint("a base file cannot extend a file that extends it"),
        );
        return None;
    }
    let base = read_tree(&base_path, sources, chain, problems, Some(extends.1))?;
    Some(yaml::merge(base, tree))
}

/// Removes the top-level `extends` key and returns its path and span; a non-string `extends` is left in
/// place for the schema to report.
fn take_extends(tree: &mut Node) -> Option<(String, yaml::Span)> {
    let Value::Map(entries) = &mut tree.value else {
        return None;
    };
    let i = entries
        .iter()
        .position(|(k, v)| k.text == "extends" && v.as_str().is_some())?;
    let (_, node) = entries.remove(i);
    let span = node.span;
    node.as_str().map(|s| (s.to_string(), span))
}

/// Removes the values at `pointers` from `doc`. List elements are set to null first (so the indices of
/// later pointers into the same list stay right) and the lists compacted at the end; mapping entries are
/// removed with one pass per mapping, because one removal at a time from an ordered map is quadratic.
fn remove_pointers(doc: &mut Json, pointers: &BTreeSet<String>) {
    let mut by_parent: HashMap<&str, HashSet<String>> = HashMap::new();
    for pointer in pointers {
        if let Some((parent, last)) = pointer.rsplit_once('/') {
            let last = last.replace("~1", "/").replace("~0", "~");
            by_parent.entry(parent).or_default().insert(last);
        }
    }
    let mut lists = Vec::new();
    for (parent, names) in &by_parent {
        match doc.pointer_mut(parent) {
            Some(Json::Object(map)) => map.retain(|k, _| !names.contains(k)),
            Some(Json::Array(items)) => {
                for i in names.iter().filter_map(|n| n.parse::<usize>().ok()) {
                    if let Some(item) = items.get_mut(i) {
                        *item = Json::Null;
                    }
                }
                lists.push(*parent);
            }
            _ => {}
        }
    }
    // Inner lists first: compacting an outer list first would move the inner ones' indices.
    lists.sort_unstable();
    for list in lists.into_iter().rev() {
        if let Some(Json::Array(items)) = doc.pointer_mut(list) {
            items.retain(|item| !item.is_null());
        }
    }
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } => pointer.push_str(&format!("/{}", yaml::escape_pointer(key))),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}

/// Loads a manifest written inline by a unit test, through the real loader; panics on any error, with
/// the problems, because a test manifest must be valid.
#[cfg(test)]
pub(crate) fn valid_for_tests(yaml: &str) -> Manifest {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("test.yaml");
    std::fs::write(&path, yaml).expect("write the test manifest");
    let loaded = load(&path);
    loaded
        .manifest
        .unwrap_or_else(|| panic!("invalid test manifest: {:?}", loaded.problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_walks_up_to_the_nearest_environments_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let envs = dir.path().join("environments");
        std::fs::create_dir_all(&envs).expect("mkdir");
        std::fs::write(envs.join("prod.yaml"), "environment: prod\n").expect("write");
        std::fs::write(envs.join("_base.yaml"), "defaults: {}\n").expect("write");
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).expect("mkdir");
        assert_eq!(find_environment(&deep, "prod").expect("found"), envs.join("prod.yaml"));
        let listed = list_environments(dir.path()).expect("listed");
        assert_eq!(listed, vec![envs.join("prod.yaml")]);
        match find_environment(&deep, "qa") {
            Err(DiscoveryError::UnknownEnvironment { available, .. }) => assert!(available.contains("prod")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_environment_is_named_by_its_file_in_environments() {
        let cases = [
            ("p/environments/prod.yaml", Some("prod")),
            ("p/environments/prod.yml", Some("prod")),
            ("p/environments/_base.yaml", None),
            ("p/environments/notes.txt", None),
            ("p/examples/prod.yaml", None),
            ("p/environments/sub/prod.yaml", None),
            ("prod.yaml", None),
        ];
        for (path, expected) in cases {
            assert_eq!(environment_of(Path::new(path)).as_deref(), expected, "{path}");
        }
    }

    #[test]
    fn a_base_or_a_path_is_not_an_environment_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let envs = dir.path().join("environments");
        std::fs::create_dir_all(&envs).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("examples")).expect("mkdir");
        std::fs::write(envs.join("prod.yaml"), "environment: prod\n").expect("write");
        std::fs::write(envs.join("_base.yaml"), "environment: prod\n").expect("write");
        std::fs::write(dir.path().join("examples/x.yaml"), "environment: x\n").expect("write");
        match find_environment(dir.path(), "_base") {
            Err(DiscoveryError::NotAnEnvironment { available, .. }) => assert!(available.contains("prod")),
            other => panic!("unexpected {other:?}"),
        }
        match find_environment(dir.path(), "../examples/x") {
            Err(DiscoveryError::NotAnEnvironment { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
