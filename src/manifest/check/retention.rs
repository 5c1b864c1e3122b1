//! A sync mapping's `retention`: settings S3 accepts, versioned destinations, and no bucket rule (or
//! other mapping) that decides the same versions' lifetime differently.
//!
//! S3 does not refuse overlapping lifecycle rules: where two rules expire the same noncurrent versions,
//! it applies the one that deletes sooner. A retention that a bucket rule silently shortens is a backup
//! that keeps less than its manifest says, so the overlap is an error here, placed on the bucket rule.

use super::{Ctx, On, ptr, versioning_enabled};
use crate::manifest::diagnostic::Problem;
use crate::manifest::retention::{self, RULE_ID_PREFIX, RetentionRule};
use crate::manifest::types::{DeleteMarkers, Retention};

/// S3's bounds on `NewerNoncurrentVersions`.
const KEEP_VERSIONS_MAX: u32 = 100;

pub(super) fn check(ctx: &mut Ctx<'_>) {
    for (name, mapping) in &ctx.manifest.sync {
        if let Some(retention) = &mapping.retention {
            settings(ctx, retention, &ptr(&[&"sync", name, &"retention"]));
        }
    }
    let generated = retention::rules(ctx.manifest);
    // A mapping with two prefixes in one unversioned bucket gets one error about it, not two.
    let mut unversioned_reported = std::collections::HashSet::new();
    for rule in &generated {
        let first = unversioned_reported.insert((rule.mapping.as_str(), rule.bucket.as_str()));
        destination(ctx, rule, first);
    }
    reserved_ids(ctx);
    for (i, rule) in generated.iter().enumerate() {
        for other in &generated[..i] {
            if other.mapping != rule.mapping && overlaps(rule, other) {
                ctx.report(
                    Problem::error(
                        "retention-conflict",
                        format!(
                            "the retention of sync mapping `{}` and that of `{}` both expire old versions {} of bucket `{}`",
                            rule.mapping,
                            other.mapping,
                            place(narrower(&rule.prefix, &other.prefix)),
                            rule.bucket
                        ),
                    )
                    .with_hint("S3 would apply the shorter one to both: give the mappings separate prefixes, or one retention"),
                    &ptr(&[&"sync", &rule.mapping, &"retention"]),
                    On::Key,
                );
            }
        }
    }
}

/// The values themselves: something to do, days and counts in S3's ranges.
fn settings(ctx: &mut Ctx<'_>, r: &Retention, at: &str) {
    let expires_markers = matches!(r.delete_markers, Some(DeleteMarkers::Expire));
    if r.noncurrent_days.is_none() && r.keep_versions.is_none() && !expires_markers {
        ctx.report(
            Problem::error(
                "retention",
                "retention sets nothing: old versions would be kept forever",
            )
            .with_hint(
                "set `noncurrent_days` (and `keep_versions`), or `delete_markers: expire`, or remove `retention`",
            ),
            at,
            On::Key,
        );
    }
    if r.noncurrent_days == Some(0) {
        ctx.report(
            Problem::error("retention", "`noncurrent_days` must be at least 1"),
            &format!("{at}/noncurrent_days"),
            On::Value,
        );
    }
    if let Some(keep) = r.keep_versions {
        if keep == 0 || keep > KEEP_VERSIONS_MAX {
            ctx.report(
                Problem::error(
                    "retention",
                    format!("`keep_versions` must be 1 to {KEEP_VERSIONS_MAX}, found {keep}"),
                )
                .with_hint("S3 keeps at most 100 newest noncurrent versions per rule"),
                &format!("{at}/keep_versions"),
                On::Value,
            );
        }
        if r.noncurrent_days.is_none() {
            ctx.report(
                Problem::error(
                    "retention",
                    "`keep_versions` needs `noncurrent_days`: S3 expires the versions beyond the newest ones only after that many days",
                )
                .with_hint("add `noncurrent_days: 1` to delete older versions a day after they are replaced"),
                &format!("{at}/keep_versions"),
                On::Key,
            );
        }
    }
}

/// A destination of a mapping with retention: versioned (checked when `check_versioning`, once per
/// mapping and bucket), and without its own rule for the same versions.
fn destination(ctx: &mut Ctx<'_>, generated: &RetentionRule, check_versioning: bool) {
    let Some(bucket) = ctx.manifest.buckets.get(&generated.bucket) else {
        // `references` reports a mapping into a bucket the manifest does not define.
        return;
    };
    let at = ptr(&[&"sync", &generated.mapping, &"retention"]);
    if check_versioning && !versioning_enabled(&ctx.effective(bucket)) {
        ctx.report(
            Problem::error(
                "retention",
                format!(
                    "retention keeps and expires old versions, but bucket `{}` is not versioned",
                    generated.bucket
                ),
            )
            .with_hint(format!(
                "set `versioning: enabled` on bucket `{}`: without versions an overwrite or a delete is final",
                generated.bucket
            )),
            &at,
            On::Key,
        );
    }
    let expires_versions = generated.rule.noncurrent_version_expiration.is_some();
    for (i, own) in bucket.lifecycle.iter().flatten().enumerate() {
        if !own.enabled || own.noncurrent_version_expiration.is_none() || !expires_versions {
            continue;
        }
        let own_prefix = own.filter.as_ref().and_then(|f| f.prefix.as_deref()).unwrap_or("");
        if !retention::prefixes_overlap(own_prefix, &generated.prefix) {
            continue;
        }
        ctx.report(
            Problem::error(
                "retention-conflict",
                format!(
                    "lifecycle rule `{}` of bucket `{}` expires noncurrent versions {}, which the retention of sync mapping `{}` decides",
                    own.id,
                    generated.bucket,
                    place(narrower(own_prefix, &generated.prefix)),
                    generated.mapping
                ),
            )
            .with_hint(format!(
                "S3 would apply the shorter of the two: remove this rule's `noncurrent_version_expiration`, give it a prefix outside `{}`, or change `sync.{}.retention` instead",
                if generated.prefix.is_empty() { "the bucket" } else { generated.prefix.as_str() },
                generated.mapping
            )),
            &ptr(&[&"buckets", &generated.bucket, &"lifecycle", &i, &"noncurrent_version_expiration"]),
            On::Key,
        );
    }
}

/// A bucket's own rule may not take an ID generated rules use.
fn reserved_ids(ctx: &mut Ctx<'_>) {
    for (logical, bucket) in &ctx.manifest.buckets {
        for (i, own) in bucket.lifecycle.iter().flatten().enumerate() {
            if own.id.starts_with(RULE_ID_PREFIX) {
                ctx.report(
                    Problem::error(
                        "retention",
                        format!("lifecycle rule IDs starting with `{RULE_ID_PREFIX}` are s3rec's own"),
                    )
                    .with_hint(
                        "rename the rule: s3rec names the rules a sync mapping's `retention` generates this way",
                    ),
                    &ptr(&[&"buckets", logical, &"lifecycle", &i, &"id"]),
                    On::Value,
                );
            }
        }
    }
}

fn overlaps(a: &RetentionRule, b: &RetentionRule) -> bool {
    a.bucket == b.bucket
        && retention::prefixes_overlap(&a.prefix, &b.prefix)
        && a.rule.noncurrent_version_expiration.is_some()
        && b.rule.noncurrent_version_expiration.is_some()
}

/// Where a rule with this prefix applies, in words.
fn place(prefix: &str) -> String {
    if prefix.is_empty() {
        "anywhere in the bucket".to_string()
    } else {
        format!("under `{prefix}`")
    }
}

/// The narrower of two overlapping prefixes: where both rules apply.
fn narrower<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}
