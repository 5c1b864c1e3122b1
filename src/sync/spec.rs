//! A sync mapping of the manifest, resolved for running: physical buckets and regions, compiled globs,
//! routes by extension, and the object key of each file. Pure: no I/O.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::manifest::types::{ChecksumAlgorithm, CompareMode, Manifest, SyncMapping};

/// Where files go: one bucket and key prefix, with the storage class of their objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Logical bucket name (the manifest's key under `buckets`).
    pub logical: String,
    pub bucket: String,
    pub region: String,
    pub prefix: String,
    pub storage_class: Option<String>,
    /// The Content-Type the manifest sets for this destination's objects; `None`: each file's own.
    pub content_type: Option<String>,
    /// The bucket has versioning enabled, so deletes there become delete markers.
    pub versioned: bool,
}

/// One bucket and key prefix that sync lists (and, with `delete`, cleans): every object under it that
/// has no source file is extraneous.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scope {
    pub bucket: String,
    pub region: String,
    pub prefix: String,
}

/// A mapping ready to run.
#[derive(Debug, Clone)]
pub struct SyncSpec {
    pub name: String,
    /// Absolute source directory.
    pub source: PathBuf,
    /// The mapping's own destination first, then one per route.
    pub destinations: Vec<Destination>,
    /// Lower-case extensions → index into `destinations`, first route first.
    routes: Vec<(Vec<String>, usize)>,
    include: Option<GlobSet>,
    exclude: GlobSet,
    key_template: Option<String>,
    pub compare: CompareMode,
    pub checksum: ChecksumAlgorithm,
    pub delete: bool,
    pub follow_symlinks: bool,
    pub multipart_threshold: u64,
    pub part_size: u64,
    pub concurrency: usize,
}

/// Why a mapping cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("sync mapping `{mapping}` sends files to bucket `{bucket}`, which the manifest does not define")]
    UnknownBucket { mapping: String, bucket: String },
    #[error("sync mapping `{mapping}`: glob `{glob}` is invalid: {reason}")]
    BadGlob {
        mapping: String,
        glob: String,
        reason: String,
    },
}

impl SyncSpec {
    /// Resolves mapping `name` of `manifest`. Relative sources are relative to `root` (the project root).
    pub fn new(
        manifest: &Manifest,
        name: &str,
        mapping: &SyncMapping,
        root: &Path,
        default_region: &str,
    ) -> Result<SyncSpec, SpecError> {
        let destination = |logical: &str, prefix: &str, storage_class: Option<&str>, content_type: Option<&str>| {
            let bucket = manifest.buckets.get(logical).ok_or_else(|| SpecError::UnknownBucket {
                mapping: name.to_string(),
                bucket: logical.to_string(),
            })?;
            let effective = crate::manifest::check::effective_bucket(manifest, bucket);
            Ok(Destination {
                logical: logical.to_string(),
                bucket: bucket.name.clone(),
                region: effective.region.clone().unwrap_or_else(|| default_region.to_string()),
                prefix: prefix.to_string(),
                storage_class: storage_class.map(str::to_string),
                content_type: content_type.map(str::to_string),
                versioned: effective.versioning == Some(crate::manifest::types::Versioning::Enabled),
            })
        };
        let own_class = mapping.storage_class.map(|c| c.as_str());
        let own_type = mapping.content_type.as_deref();
        let mut destinations = vec![destination(&mapping.bucket, &mapping.prefix, own_class, own_type)?];
        let mut routes = Vec::new();
        for route in &mapping.routes {
            let prefix = route.prefix.as_deref().unwrap_or(&mapping.prefix);
            let class = route.storage_class.map(|c| c.as_str()).or(own_class);
            let content_type = route.content_type.as_deref().or(own_type);
            destinations.push(destination(&route.bucket, prefix, class, content_type)?);
            let extensions = route
                .extensions
                .iter()
                .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
                .collect();
            routes.push((extensions, destinations.len() - 1));
        }
        let globs = |patterns: &[String]| -> Result<GlobSet, SpecError> {
            let mut builder = GlobSetBuilder::new();
            for p in patterns {
                let glob = Glob::new(p).map_err(|e| SpecError::BadGlob {
                    mapping: name.to_string(),
                    glob: p.clone(),
                    reason: e.kind().to_string(),
                })?;
                builder.add(glob);
            }
            builder.build().map_err(|e| SpecError::BadGlob {
                mapping: name.to_string(),
                glob: patterns.join(", "),
                reason: e.to_string(),
            })
        };
        let source = Path::new(&mapping.source);
        Ok(SyncSpec {
            name: name.to_string(),
            source: if source.is_absolute() {
                source.to_path_buf()
            } else {
                root.join(source)
            },
            destinations,
            routes,
            include: if mapping.include.is_empty() {
                None
            } else {
                Some(globs(&mapping.include)?)
            },
            exclude: globs(&mapping.exclude)?,
            key_template: mapping.key_template.clone(),
            compare: mapping.compare,
            checksum: mapping.checksum,
            delete: mapping.delete,
            follow_symlinks: mapping.follow_symlinks,
            multipart_threshold: mapping.multipart_threshold.0,
            part_size: mapping.multipart_chunk_size.0,
            concurrency: usize::try_from(mapping.concurrency).unwrap_or(1).max(1),
        })
    }

    /// Whether deletes land in a versioned bucket, where they become delete markers.
    pub fn deletes_become_markers(&self) -> bool {
        self.destinations.iter().any(|d| d.versioned)
    }

    /// Whether keys come from a template (and so two files may be given one key).
    pub fn has_key_template(&self) -> bool {
        self.key_template.is_some()
    }

    /// The key template, when keys come from one (`restore` inverts it).
    pub fn key_template(&self) -> Option<&str> {
        self.key_template.as_deref()
    }

    /// A number that is the same for destinations in the same bucket.
    pub fn bucket_id(&self, destination: usize) -> usize {
        let bucket = &self.destinations[destination].bucket;
        self.destinations
            .iter()
            .position(|d| d.bucket == *bucket)
            .unwrap_or(destination)
    }

    /// Whether the file at `rel` (relative, `/`-separated) takes part: included and not excluded.
    pub fn selects(&self, rel: &str) -> bool {
        self.include.as_ref().is_none_or(|g| g.is_match(rel)) && !self.exclude.is_match(rel)
    }

    /// The destination of a file: the first route that claims its extension, else the mapping's own.
    pub fn destination_of(&self, rel: &str) -> usize {
        let ext = extension(rel).to_ascii_lowercase();
        self.routes
            .iter()
            .find(|(exts, _)| exts.contains(&ext))
            .map_or(0, |(_, d)| *d)
    }

    /// The object key of a file: the destination's prefix, then the key template filled in.
    pub fn key_of(&self, destination: usize, rel: &str, mtime_ms: i64) -> String {
        let prefix = self.destinations.get(destination).map_or("", |d| d.prefix.as_str());
        let body = match &self.key_template {
            None => rel.to_string(),
            Some(template) => render(template, rel, mtime_ms),
        };
        format!("{prefix}{body}")
    }

    /// Whether the object `bucket`/`key` may have come from a source path under `rel` (a file or a
    /// directory, `/`-separated; `""` for the whole tree). Without a key template a key is a
    /// destination's prefix and the relative path, so the objects of `rel` are `PREFIX+rel` and
    /// everything under `PREFIX+rel/`, whichever route's destination (a directory holds every
    /// extension). A template (`{name}`, `{year}`) cannot be inverted safely, so then every key may be.
    pub fn may_come_from(&self, rel: &str, bucket: &str, key: &str) -> bool {
        if self.key_template.is_some() {
            return true;
        }
        self.destinations.iter().any(|d| {
            d.bucket == bucket
                && key.strip_prefix(d.prefix.as_str()).is_some_and(|body| {
                    rel.is_empty()
                        || body
                            .strip_prefix(rel)
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                })
        })
    }

    /// The scope of each destination, by position: the scope of its bucket whose prefix starts the
    /// destination's own ([`Self::scopes`] keeps only the outermost prefix of a bucket).
    pub fn destination_scopes(&self, scopes: &[Scope]) -> Vec<u32> {
        self.destinations
            .iter()
            .map(|d| {
                let n = scopes
                    .iter()
                    .position(|s| s.bucket == d.bucket && d.prefix.starts_with(&s.prefix))
                    .unwrap_or(0);
                u32::try_from(n).unwrap_or(u32::MAX)
            })
            .collect()
    }

    /// The bucket prefixes to list: one per destination bucket and prefix, leaving out a prefix another
    /// scope of the same bucket already covers.
    pub fn scopes(&self) -> Vec<Scope> {
        let mut all: Vec<Scope> = self
            .destinations
            .iter()
            .map(|d| Scope {
                bucket: d.bucket.clone(),
                region: d.region.clone(),
                prefix: d.prefix.clone(),
            })
            .collect();
        all.sort();
        all.dedup();
        let covered = |s: &Scope, all: &[Scope]| {
            all.iter()
                .any(|o| o.bucket == s.bucket && o.prefix != s.prefix && s.prefix.starts_with(&o.prefix))
        };
        all.iter().filter(|s| !covered(s, &all)).cloned().collect()
    }
}

/// What S3 stores as the Content-Type of an object uploaded without one.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The Content-Type a synced file is uploaded with: the media type registered for its extension
/// (`index.html` → `text/html`, `photo.JPG` → `image/jpeg`), else [`DEFAULT_CONTENT_TYPE`]. Without it,
/// every object would be `application/octet-stream`, which browsers download instead of showing, and
/// which breaks anything served from the bucket (a static site, a CDN in front of it).
pub fn content_type_of(file: &Path) -> &'static str {
    mime_guess::from_path(file).first_raw().unwrap_or(DEFAULT_CONTENT_TYPE)
}

impl Destination {
    /// The Content-Type of the object of the file at `path`: the manifest's for this destination, else
    /// the file's own ([`content_type_of`]).
    pub fn content_type_of<'a>(&'a self, path: &Path) -> &'a str {
        self.content_type.as_deref().unwrap_or_else(|| content_type_of(path))
    }
}

/// The extension of a relative path's file name (without the dot), or "".
pub(crate) fn extension(rel: &str) -> &str {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    match name.rfind('.') {
        Some(i) if i > 0 => &name[i + 1..],
        _ => "",
    }
}

/// Fills in a key template. `{dir}` of a file at the top is empty, and the `/` after it then goes too.
pub(crate) fn render(template: &str, rel: &str, mtime_ms: i64) -> String {
    let (dir, name) = match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    };
    let ext = extension(rel);
    let stem = if ext.is_empty() {
        name
    } else {
        &name[..name.len() - ext.len() - 1]
    };
    let (year, month, day) = crate::state::time::civil_date(mtime_ms.div_euclid(1000));
    let mut out = template
        .replace("{path}", rel)
        .replace("{name}", name)
        .replace("{stem}", stem)
        .replace("{ext}", ext)
        .replace("{dir}", dir)
        .replace("{year}", &format!("{year:04}"))
        .replace("{month}", &format!("{month:02}"))
        .replace("{day}", &format!("{day:02}"));
    while out.contains("//") {
        out = out.replace("//", "/");
    }
    out.trim_start_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml_sync: &str) -> SyncSpec {
        let m = crate::manifest::load::valid_for_tests(&format!(
            "environment: t\nbuckets:\n  docs:\n    name: docs-t\n  photos:\n    name: photos-t\n    region: eu-west-1\nsync:\n  office:\n{yaml_sync}"
        ));
        let mapping = &m.sync["office"];
        SyncSpec::new(&m, "office", mapping, Path::new("/project"), "us-east-1").expect("spec")
    }

    #[test]
    fn routes_send_files_by_extension_and_keys_follow_the_template() {
        let s = spec(
            "    source: share\n    bucket: docs\n    prefix: office/\n    key_template: \"{year}/{month}/{name}\"\n    routes:\n      - extensions: [JPG, png]\n        bucket: photos\n        prefix: pics/\n        storage_class: STANDARD_IA\n",
        );
        assert_eq!(s.source, PathBuf::from("/project/share"));
        let photo = s.destination_of("trip/IMG_1.jpg");
        assert_eq!(s.destinations[photo].bucket, "photos-t");
        assert_eq!(s.destinations[photo].region, "eu-west-1");
        assert_eq!(s.destinations[photo].storage_class.as_deref(), Some("STANDARD_IA"));
        assert_eq!(s.destination_of("report.pdf"), 0);
        // 2024-03-05T10:00:00Z
        let mtime = 1_709_632_800_000;
        assert_eq!(s.key_of(photo, "trip/IMG_1.jpg", mtime), "pics/2024/03/IMG_1.jpg");
        assert_eq!(s.key_of(0, "report.pdf", mtime), "office/2024/03/report.pdf");
        assert_eq!(s.scopes().len(), 2);
    }

    #[test]
    fn default_keys_are_the_relative_path_and_globs_select() {
        let s = spec("    source: /data\n    bucket: docs\n    include: [\"**/*.txt\"]\n    exclude: [\"tmp/**\"]\n");
        assert_eq!(s.key_of(0, "a/b.txt", 0), "a/b.txt");
        assert!(s.selects("a/b.txt"));
        assert!(!s.selects("a/b.bin"));
        assert!(!s.selects("tmp/x.txt"));
    }

    #[test]
    fn files_get_the_media_type_of_their_extension() {
        for (file, expected) in [
            ("notes.txt", "text/plain"),
            ("site/index.html", "text/html"),
            ("data.json", "application/json"),
            ("trip/IMG_1.JPG", "image/jpeg"),
            ("report.pdf", "application/pdf"),
            ("archive.tar.gz", "application/gzip"),
            ("disk.s3rec-unknown", DEFAULT_CONTENT_TYPE),
            ("Makefile", DEFAULT_CONTENT_TYPE),
            (".hidden", DEFAULT_CONTENT_TYPE),
        ] {
            assert_eq!(content_type_of(Path::new(file)), expected, "{file}");
        }
    }

    #[test]
    fn templates_fill_every_placeholder() {
        assert_eq!(render("{dir}/{stem}.{ext}", "a/b/c.tar.gz", 0), "a/b/c.tar.gz");
        assert_eq!(render("{dir}/{name}", "top.txt", 0), "top.txt");
        assert_eq!(render("{year}-{month}-{day}/{path}", "x", 0), "1970-01-01/x");
    }

    #[test]
    fn the_objects_of_a_source_path_are_its_key_and_everything_under_it_in_every_destination() {
        let s = spec(
            "    source: s\n    bucket: docs\n    prefix: office/\n    routes:\n      - extensions: [jpg]\n        bucket: photos\n        prefix: pics/\n",
        );
        assert!(s.may_come_from("a/b", "docs-t", "office/a/b"));
        assert!(s.may_come_from("a/b", "docs-t", "office/a/b/c.txt"));
        assert!(s.may_come_from("a/b", "photos-t", "pics/a/b/c.jpg"));
        assert!(
            !s.may_come_from("a/b", "docs-t", "office/a/bc.txt"),
            "a sibling is not under it"
        );
        assert!(
            !s.may_come_from("a/b", "docs-t", "pics/a/b/c.jpg"),
            "another destination's prefix"
        );
        assert!(!s.may_come_from("a/b", "photos-t", "office/a/b/c.txt"));
        assert!(s.may_come_from("", "docs-t", "office/x"), "the whole tree");
        assert!(!s.may_come_from("", "docs-t", "elsewhere/x"));

        let templated = spec("    source: s\n    bucket: docs\n    key_template: \"{name}\"\n");
        assert!(
            templated.may_come_from("a/b", "docs-t", "anything"),
            "a template cannot be inverted"
        );
    }

    #[test]
    fn nested_prefixes_of_one_bucket_are_listed_once() {
        let s = spec(
            "    source: s\n    bucket: docs\n    routes:\n      - extensions: [pdf]\n        bucket: docs\n        prefix: pdf/\n",
        );
        let scopes = s.scopes();
        assert_eq!(scopes.len(), 1, "{scopes:?}");
        assert_eq!(scopes[0].prefix, "");
    }
}
