//! A sync mapping's `retention` becomes lifecycle rules of its destination buckets
//! (`model::kinds::lifecycle::retention_rules`); these rules must not fight the buckets' own. A bucket
//! rule with a retention rule's ID, or one that also expires noncurrent versions (or delete markers)
//! of objects a retention rule covers, is a conflict: S3 would apply whichever acts first, so the
//! manifest would not say how long versions are kept. Retention also needs versioning, without which
//! there are no noncurrent versions to keep.

use super::{Ctx, On, ptr};
use crate::manifest::diagnostic::Problem;
use crate::manifest::types::Versioning;
use crate::model::kinds::lifecycle::retention_rules;

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    for (name, mapping) in &m.sync {
        if mapping.retention.is_none() {
            continue;
        }
        let buckets = std::iter::once(&mapping.bucket).chain(mapping.routes.iter().map(|r| &r.bucket));
        let mut seen: Vec<&String> = Vec::new();
        for logical in buckets {
            if seen.contains(&logical) {
                continue;
            }
            seen.push(logical);
            let Some(bucket) = m.buckets.get(logical) else {
                continue;
            };
            if ctx.effective(bucket).versioning != Some(Versioning::Enabled) {
                ctx.report(
                    Problem::error(
                        "retention-versioning",
                        format!(
                            "sync mapping `{name}` keeps versions in bucket `{logical}`, which does not have versioning enabled"
                        ),
                    )
                    .with_hint(format!(
                        "`versioning: enabled` on bucket `{logical}`: without it there are no old versions to keep or restore"
                    )),
                    &ptr(&[&"sync", name, &"retention"]),
                    On::Key,
                );
            }
        }
    }
    for (logical, bucket) in &m.buckets {
        let generated = retention_rules(m, logical);
        if generated.is_empty() {
            continue;
        }
        for (i, own) in bucket.lifecycle.iter().flatten().enumerate() {
            let own_prefix = own.filter.as_ref().and_then(|f| f.prefix.as_deref()).unwrap_or("");
            let expires_noncurrent = own.noncurrent_version_expiration.is_some();
            let expires_markers = own
                .expiration
                .as_ref()
                .is_some_and(|e| e.expired_object_delete_marker == Some(true));
            for r in &generated {
                let at = ptr(&[&"buckets", logical, &"lifecycle", &i]);
                if own.id == r.rule.id {
                    ctx.report(
                        Problem::error(
                            "retention-conflict",
                            format!(
                                "lifecycle rule `{}` of bucket `{logical}` has the ID of the rule the retention of sync mapping `{}` generates",
                                own.id, r.mapping
                            ),
                        )
                        .with_hint("rename the bucket's rule: IDs starting with `s3rec-retention-` belong to retention"),
                        &format!("{at}/id"),
                        On::Value,
                    );
                    continue;
                }
                let retention_prefix = r.rule.prefix.as_deref().unwrap_or("");
                let overlap = own_prefix.starts_with(retention_prefix) || retention_prefix.starts_with(own_prefix);
                let same_action =
                    expires_noncurrent || (expires_markers && r.rule.expired_object_delete_marker == Some(true));
                if overlap && same_action {
                    ctx.report(
                        Problem::error(
                            "retention-conflict",
                            format!(
                                "lifecycle rule `{}` of bucket `{logical}` also expires old versions or delete markers under {:?}, which the retention of sync mapping `{}` decides",
                                own.id,
                                if own_prefix.len() > retention_prefix.len() { own_prefix } else { retention_prefix },
                                r.mapping
                            ),
                        )
                        .with_hint(format!(
                            "remove the rule's noncurrent_version_expiration (and expired_object_delete_marker), or set how long versions are kept only in `sync.{}.retention`",
                            r.mapping
                        )),
                        &at,
                        On::Value,
                    );
                }
            }
        }
    }
}
