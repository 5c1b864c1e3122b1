//! Settings that decide what happens to data: encryption, CORS, sync mappings (globs, key templates,
//! routes, part sizes, overlapping deletes), migrations (verification before delete) and the state backend.

use std::collections::HashMap;

use globset::Glob;

use super::{Ctx, On, ptr};
use crate::manifest::diagnostic::Problem;
use crate::manifest::types::{DeleteSource, MigrationVersions, SseAlgorithm, StateBackend, VerifyMode};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// Key template placeholders the sync engine fills in.
pub const KEY_PLACEHOLDERS: &[&str] = &["path", "name", "stem", "ext", "dir", "year", "month", "day"];

pub(super) fn check(ctx: &mut Ctx<'_>) {
    encryption(ctx);
    cors(ctx);
    sync(ctx);
    migrations(ctx);
    state(ctx);
}

fn encryption(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    let mut places: Vec<(String, &crate::manifest::types::Encryption)> = Vec::new();
    if let Some(e) = &m.defaults.encryption {
        places.push(("/defaults/encryption".to_string(), e));
    }
    for (logical, bucket) in &m.buckets {
        if let Some(e) = &bucket.encryption {
            places.push((ptr(&[&"buckets", logical, &"encryption"]), e));
        }
    }
    for (at, e) in places {
        if e.algorithm == SseAlgorithm::Aes256 {
            if e.kms_key_id.is_some() {
                ctx.report(
                    Problem::error("encryption", "`kms_key_id` needs `algorithm: aws:kms`")
                        .with_hint("AES256 (SSE-S3) uses S3-managed keys; switch to aws:kms or remove kms_key_id"),
                    &format!("{at}/kms_key_id"),
                    On::Key,
                );
            }
            if e.bucket_key {
                ctx.report(
                    Problem::error("encryption", "`bucket_key` only applies to `algorithm: aws:kms`")
                        .with_hint("S3 Bucket Keys reduce KMS requests; with AES256 there are none"),
                    &format!("{at}/bucket_key"),
                    On::Key,
                );
            }
        }
    }
}

fn cors(ctx: &mut Ctx<'_>) {
    for (logical, bucket) in &ctx.manifest.buckets {
        let Some(rules) = &bucket.cors else { continue };
        let at = ptr(&[&"buckets", logical, &"cors"]);
        if rules.len() > 100 {
            ctx.report(Problem::error("cors", "S3 allows at most 100 CORS rules"), &at, On::Key);
        }
        for (i, rule) in rules.iter().enumerate() {
            if rule.allowed_methods.is_empty() {
                ctx.report(
                    Problem::error("cors", "a CORS rule needs allowed_methods"),
                    &format!("{at}/{i}/allowed_methods"),
                    On::Value,
                );
            }
            if rule.allowed_origins.is_empty() {
                ctx.report(
                    Problem::error("cors", "a CORS rule needs allowed_origins"),
                    &format!("{at}/{i}/allowed_origins"),
                    On::Value,
                );
            }
            for (j, origin) in rule.allowed_origins.iter().enumerate() {
                if origin.matches('*').count() > 1 {
                    ctx.report(
                        Problem::error("cors", format!("origin `{origin}` has more than one `*`"))
                            .with_hint("S3 allows one wildcard per origin"),
                        &format!("{at}/{i}/allowed_origins/{j}"),
                        On::Value,
                    );
                }
            }
        }
    }
}

fn sync(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    for (name, mapping) in &m.sync {
        let at = ptr(&[&"sync", name]);
        if mapping.source.trim().is_empty() {
            ctx.report(
                Problem::error("sync", "`source` is empty").with_hint("name the local directory to back up"),
                &format!("{at}/source"),
                On::Value,
            );
        }
        for field in ["include", "exclude"] {
            let patterns = if field == "include" {
                &mapping.include
            } else {
                &mapping.exclude
            };
            for (i, pattern) in patterns.iter().enumerate() {
                if let Err(e) = Glob::new(pattern) {
                    ctx.report(
                        Problem::error("glob", format!("`{pattern}` is not a valid glob: {}", e.kind()))
                            .with_hint("globs use `*`, `**`, `?`, `[abc]` and `{a,b}`"),
                        &format!("{at}/{field}/{i}"),
                        On::Value,
                    );
                }
            }
        }
        if let Some(template) = &mapping.key_template {
            key_template(ctx, template, &format!("{at}/key_template"));
        }
        if let Some(value) = &mapping.content_type {
            content_type(ctx, value, &format!("{at}/content_type"));
        }
        if mapping.prefix.starts_with('/') {
            ctx.report(
                Problem::warning("sync", format!("prefix `{}` starts with `/`", mapping.prefix))
                    .with_hint("S3 keys then begin with an empty path segment; drop the leading `/`"),
                &format!("{at}/prefix"),
                On::Value,
            );
        }
        // Extension → the first route that claims it; a map, because a scan per extension is quadratic.
        let mut claimed: HashMap<String, usize> = HashMap::new();
        for (i, route) in mapping.routes.iter().enumerate() {
            let route_at = format!("{at}/routes/{i}");
            if let Some(value) = &route.content_type {
                content_type(ctx, value, &format!("{route_at}/content_type"));
            }
            if route.extensions.is_empty() {
                ctx.report(
                    Problem::error("sync-route", "a route needs at least one extension"),
                    &format!("{route_at}/extensions"),
                    On::Value,
                );
            }
            for (j, ext) in route.extensions.iter().enumerate() {
                let ext_at = format!("{route_at}/extensions/{j}");
                if ext.starts_with('.') {
                    ctx.report(
                        Problem::error("sync-route", format!("extension `{ext}` starts with a dot"))
                            .with_hint(format!("write `{}`", ext.trim_start_matches('.'))),
                        &ext_at,
                        On::Value,
                    );
                }
                let key = ext.trim_start_matches('.').to_ascii_lowercase();
                if let Some(first) = claimed.get(&key) {
                    ctx.report(
                        Problem::warning(
                            "sync-route",
                            format!("extension `{ext}` is already routed by route {first}"),
                        )
                        .with_hint("the first matching route wins, so this one never applies to it"),
                        &ext_at,
                        On::Value,
                    );
                } else {
                    claimed.insert(key, i);
                }
            }
        }
        let chunk = mapping.multipart_chunk_size.0;
        if !(5 * MIB..=5 * GIB).contains(&chunk) {
            ctx.report(
                Problem::error(
                    "multipart",
                    format!(
                        "multipart_chunk_size {} is outside S3's 5 MiB to 5 GiB part size",
                        crate::words::size(chunk)
                    ),
                ),
                &format!("{at}/multipart_chunk_size"),
                On::Value,
            );
        }
        if mapping.concurrency == 0 || mapping.concurrency > 1024 {
            ctx.report(
                Problem::error(
                    "sync",
                    format!("concurrency {} is outside 1 to 1024", mapping.concurrency),
                ),
                &format!("{at}/concurrency"),
                On::Value,
            );
        }
    }
    // Two mappings that write under the same bucket and overlapping prefixes, one of them deleting
    // extraneous objects, would delete each other's uploads on every run.
    let entries: Vec<_> = m.sync.iter().collect();
    for (i, (name_a, a)) in entries.iter().enumerate() {
        for (name_b, b) in entries.iter().skip(i + 1) {
            let overlap = a.bucket == b.bucket && (a.prefix.starts_with(&b.prefix) || b.prefix.starts_with(&a.prefix));
            if overlap && (a.delete || b.delete) {
                ctx.report(
                    Problem::error(
                        "sync-overlap",
                        format!(
                            "sync `{name_b}` writes where `{name_a}` writes, and one of them deletes extraneous objects"
                        ),
                    )
                    .with_hint("give each mapping its own prefix, or turn `delete` off"),
                    &ptr(&[&"sync", name_b, &"prefix"]),
                    On::Value,
                );
            }
        }
    }
}

/// A Content-Type must be a media type (`type/subtype`, parameters allowed): S3 stores whatever it is
/// given, and a browser or CDN then misreads every object of the mapping.
fn content_type(ctx: &mut Ctx<'_>, value: &str, at: &str) {
    if value.parse::<mime_guess::mime::Mime>().is_err() {
        ctx.report(
            Problem::error("content-type", format!("`{value}` is not a media type"))
                .with_hint("write `type/subtype`, e.g. `text/plain; charset=utf-8` or `application/json`"),
            at,
            On::Value,
        );
    }
}

fn key_template(ctx: &mut Ctx<'_>, template: &str, at: &str) {
    let mut rest = template;
    let mut names = Vec::new();
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            ctx.report(
                Problem::error("key-template", "unclosed `{` in key template"),
                at,
                On::Value,
            );
            return;
        };
        names.push(after[..close].to_string());
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        ctx.report(
            Problem::error("key-template", "unmatched `}` in key template"),
            at,
            On::Value,
        );
    }
    for name in &names {
        if !KEY_PLACEHOLDERS.contains(&name.as_str()) {
            let known: Vec<String> = KEY_PLACEHOLDERS.iter().map(|s| s.to_string()).collect();
            let hint = crate::manifest::schema::closest(name, &known).map_or_else(
                || format!("known placeholders: {{{}}}", KEY_PLACEHOLDERS.join("}, {")),
                |s| format!("did you mean `{{{s}}}`?"),
            );
            ctx.report(
                Problem::error(
                    "key-template",
                    format!("unknown placeholder `{{{name}}}` in key template"),
                )
                .with_hint(hint),
                at,
                On::Value,
            );
        }
    }
    if !names.iter().any(|n| matches!(n.as_str(), "path" | "name" | "stem")) {
        ctx.report(
            Problem::error("key-template", "every file would get the same key")
                .with_hint("include `{name}`, `{stem}` or `{path}` in the key template"),
            at,
            On::Value,
        );
    }
}

fn migrations(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    let mut destinations: Vec<(&str, &str)> = Vec::new();
    for (name, migration) in &m.migrations {
        let at = ptr(&[&"migrations", name]);
        if migration.destination.trim().is_empty() {
            ctx.report(
                Problem::error("migration", "`destination` is empty"),
                &format!("{at}/destination"),
                On::Value,
            );
        }
        if migration.delete_source != DeleteSource::Never && migration.verify != VerifyMode::Checksum {
            ctx.report(
                Problem::error("migration-delete", "`delete_source` needs `verify: checksum`")
                    .with_hint("a source is deleted only after its content is verified; size alone cannot prove that"),
                &format!("{at}/delete_source"),
                On::Value,
            );
        }
        if !migration.prefix.is_empty() && !migration.prefix.ends_with('/') {
            ctx.report(
                Problem::warning(
                    "migration-prefix",
                    format!("prefix `{}` does not end with `/`", migration.prefix),
                )
                .with_hint(format!(
                    "S3 prefixes are plain string prefixes: `{0}` also takes `{0}-old/...`; write `{0}/` to migrate one folder",
                    migration.prefix
                )),
                &format!("{at}/prefix"),
                On::Value,
            );
        }
        if migration.delete_source == DeleteSource::AllVersionsAfterVerify
            && migration.versions != MigrationVersions::All
        {
            ctx.report(
                Problem::error(
                    "migration-delete",
                    "`all-versions-after-verify` deletes every version, but only current versions are migrated",
                )
                .with_hint("set `versions: all` so every version is downloaded and verified before any is deleted"),
                &format!("{at}/delete_source"),
                On::Value,
            );
        }
        if migration.restore.days == 0 {
            ctx.report(
                Problem::error("migration", "restore days must be at least 1"),
                &format!("{at}/restore/days"),
                On::Value,
            );
        }
        if migration.restore.max_in_flight == 0 {
            ctx.report(
                Problem::error("migration", "max_in_flight must be at least 1"),
                &format!("{at}/restore/max_in_flight"),
                On::Value,
            );
        }
        if let Some((other, _)) = destinations.iter().find(|(_, d)| *d == migration.destination) {
            ctx.report(
                Problem::error(
                    "migration",
                    format!("migration `{other}` already downloads into `{}`", migration.destination),
                )
                .with_hint("give each migration its own destination directory"),
                &format!("{at}/destination"),
                On::Value,
            );
        } else {
            destinations.push((name, &migration.destination));
        }
    }
}

fn state(ctx: &mut Ctx<'_>) {
    let s = &ctx.manifest.state;
    match s.backend {
        StateBackend::S3 if s.bucket.is_none() => ctx.report(
            Problem::error("state", "the s3 state backend needs `state.bucket`")
                .with_hint("name the bucket (physical name) that keeps the state"),
            "/state/backend",
            On::Value,
        ),
        StateBackend::Local
            if s.bucket.is_some()
                || s.key.is_some()
                || s.region.is_some()
                || s.kms_key.is_some()
                || s.lock.is_some()
                || s.checkpoint_interval.is_some() =>
        {
            ctx.report(
                Problem::warning(
                    "state",
                    "`state.bucket`, `key`, `region`, `kms_key`, `lock` and `checkpoint_interval` are ignored by the local backend",
                )
                .with_hint("set `backend: s3` to keep state in S3"),
                "/state",
                On::Key,
            )
        }
        StateBackend::S3 | StateBackend::Local => {}
    }
    if s.backend == StateBackend::S3 && s.lock == Some(false) {
        ctx.report(
            Problem::warning(
                "state",
                "`state.lock: false`: nothing keeps two runs of this environment apart, and a server that ignores \
                 conditional writes does not make the compare-and-swap of the state safe either",
            )
            .with_hint("keep the default `lock: true` unless the S3-compatible server cannot do conditional writes"),
            "/state/lock",
            On::Value,
        );
    }
    if let Some(interval) = &s.checkpoint_interval
        && let Err(why) = crate::backend::parse_interval(interval)
    {
        ctx.report(
            Problem::error(
                "state",
                format!("`checkpoint_interval: {interval}` is not a usable interval: {why}"),
            )
            .with_hint("write a duration of at least 1s, such as `30s`, `5m` or `1h`"),
            "/state/checkpoint_interval",
            On::Value,
        );
    }
    if let Some(key) = &s.key
        && (key.is_empty() || key.ends_with('/') || key.ends_with(".lock"))
    {
        ctx.report(
            Problem::error("state", format!("`state.key: {key}` cannot hold the state"))
                .with_hint("name an object key such as `s3rec/prod.db` (the lock is kept beside it, at `<key>.lock`)"),
            "/state/key",
            On::Value,
        );
    }
}
