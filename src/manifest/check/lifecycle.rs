//! Lifecycle rules as S3 will accept them: unique IDs, at least one action, transitions in increasing
//! days down the storage-class waterfall with the 30-day minimums, expiration after the last transition,
//! and the combinations S3 refuses.

use std::collections::HashMap;

use super::{Ctx, On, ptr, versioning_enabled};
use crate::manifest::diagnostic::Problem;
use crate::manifest::types::{LifecycleRule, StorageClass};

/// S3's minimum days for a transition into an infrequent-access class.
const IA_MINIMUM_DAYS: u32 = 30;

pub(super) fn check(ctx: &mut Ctx<'_>) {
    for (logical, bucket) in &ctx.manifest.buckets {
        let Some(rules) = &bucket.lifecycle else {
            continue;
        };
        let versioned = versioning_enabled(&ctx.effective(bucket));
        let base = ptr(&[&"buckets", logical, &"lifecycle"]);
        if rules.len() > 1000 {
            ctx.report(
                Problem::error("lifecycle", "S3 allows at most 1,000 lifecycle rules per bucket"),
                &base,
                On::Key,
            );
        }
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("{base}/{i}");
            if let Some(first) = ids.insert(rule.id.as_str(), i) {
                ctx.report(
                    Problem::error(
                        "duplicate-rule-id",
                        format!("lifecycle rule ID `{}` is already used by rule {first}", rule.id),
                    )
                    .with_hint("rule IDs must be unique within a bucket"),
                    &format!("{at}/id"),
                    On::Value,
                );
            }
            if rule.id.is_empty() || rule.id.chars().count() > 255 {
                ctx.report(
                    Problem::error("lifecycle", "a rule ID is 1 to 255 characters"),
                    &format!("{at}/id"),
                    On::Value,
                );
            }
            check_rule(ctx, rule, &at, versioned);
        }
    }
}

fn check_rule(ctx: &mut Ctx<'_>, rule: &LifecycleRule, at: &str, versioned: bool) {
    let has_action = !rule.transitions.is_empty()
        || rule.expiration.is_some()
        || !rule.noncurrent_version_transitions.is_empty()
        || rule.noncurrent_version_expiration.is_some()
        || rule.abort_incomplete_multipart_upload_days.is_some();
    if !has_action {
        ctx.report(
            Problem::error("lifecycle", format!("lifecycle rule `{}` has no action", rule.id)).with_hint(
                "add transitions, expiration, noncurrent_version_transitions, noncurrent_version_expiration or abort_incomplete_multipart_upload_days",
            ),
            at,
            On::Key,
        );
    }

    let current: Vec<(u32, StorageClass)> = rule.transitions.iter().map(|t| (t.days, t.storage_class)).collect();
    check_transitions(ctx, &current, &format!("{at}/transitions"), false);
    let noncurrent: Vec<(u32, StorageClass)> = rule
        .noncurrent_version_transitions
        .iter()
        .map(|t| (t.days, t.storage_class))
        .collect();
    check_transitions(ctx, &noncurrent, &format!("{at}/noncurrent_version_transitions"), true);

    let has_tag_filter = rule.filter.as_ref().is_some_and(|f| !f.tags.is_empty());
    if let Some(exp) = &rule.expiration {
        let exp_at = format!("{at}/expiration");
        match (exp.days, exp.expired_object_delete_marker) {
            (Some(_), Some(true)) => ctx.report(
                Problem::error(
                    "lifecycle",
                    "`expired_object_delete_marker` cannot be combined with `days`",
                )
                .with_hint("S3 refuses both in one expiration: put them in two rules"),
                &format!("{exp_at}/expired_object_delete_marker"),
                On::Key,
            ),
            (None, None) | (None, Some(false)) => ctx.report(
                Problem::error(
                    "lifecycle",
                    "expiration needs `days` or `expired_object_delete_marker: true`",
                ),
                &exp_at,
                On::Key,
            ),
            _ => {}
        }
        if exp.days == Some(0) {
            ctx.report(
                Problem::error("lifecycle", "expiration days must be at least 1"),
                &format!("{exp_at}/days"),
                On::Value,
            );
        }
        if let (Some(days), Some((last_days, last_class))) = (exp.days, current.last())
            && days <= *last_days
        {
            ctx.report(
                Problem::error(
                    "lifecycle-order",
                    format!(
                        "expiration at day {days} is not after the last transition (to {} at day {last_days})",
                        last_class.as_str()
                    ),
                )
                .with_hint(format!(
                    "expire after day {last_days}, or drop the transitions it makes pointless"
                )),
                &format!("{exp_at}/days"),
                On::Value,
            );
        }
        if exp.expired_object_delete_marker == Some(true) && has_tag_filter {
            ctx.report(
                Problem::error(
                    "lifecycle",
                    "`expired_object_delete_marker` cannot be used with a tag filter",
                ),
                &format!("{exp_at}/expired_object_delete_marker"),
                On::Key,
            );
        }
    }
    if let Some(nexp) = &rule.noncurrent_version_expiration {
        let nexp_at = format!("{at}/noncurrent_version_expiration/days");
        if nexp.days == 0 {
            ctx.report(
                Problem::error("lifecycle", "noncurrent expiration days must be at least 1"),
                &nexp_at,
                On::Value,
            );
        }
        if let Some((last_days, last_class)) = noncurrent.last()
            && nexp.days <= *last_days
        {
            ctx.report(
                    Problem::error(
                        "lifecycle-order",
                        format!(
                            "noncurrent expiration at day {} is not after the last noncurrent transition (to {} at day {last_days})",
                            nexp.days,
                            last_class.as_str()
                        ),
                    ),
                    &nexp_at,
                    On::Value,
                );
        }
    }
    if let Some(days) = rule.abort_incomplete_multipart_upload_days {
        let abort_at = format!("{at}/abort_incomplete_multipart_upload_days");
        if days == 0 {
            ctx.report(
                Problem::error("lifecycle", "abort_incomplete_multipart_upload_days must be at least 1"),
                &abort_at,
                On::Value,
            );
        }
        if has_tag_filter {
            ctx.report(
                Problem::error(
                    "lifecycle",
                    "abort_incomplete_multipart_upload_days cannot be used with a tag filter",
                )
                .with_hint("incomplete uploads have no tags: move this action to a rule filtered by prefix only"),
                &abort_at,
                On::Key,
            );
        }
    }
    if let Some(filter) = &rule.filter
        && let (Some(gt), Some(lt)) = (filter.object_size_greater_than, filter.object_size_less_than)
        && gt >= lt
    {
        ctx.report(
            Problem::error(
                "lifecycle",
                "object_size_greater_than must be smaller than object_size_less_than",
            )
            .with_hint("no object can match this filter"),
            &format!("{at}/filter/object_size_less_than"),
            On::Value,
        );
    }
    let noncurrent_actions =
        !rule.noncurrent_version_transitions.is_empty() || rule.noncurrent_version_expiration.is_some();
    if noncurrent_actions && !versioned {
        ctx.report(
            Problem::warning(
                "lifecycle",
                "noncurrent-version actions on a bucket without `versioning: enabled`",
            )
            .with_hint("they only act on versioned buckets; enable versioning or remove them"),
            at,
            On::Key,
        );
    }
}

/// Transitions must go strictly later and strictly down the waterfall; infrequent-access classes need 30
/// days before entering them and 30 days of residence before leaving them.
fn check_transitions(ctx: &mut Ctx<'_>, transitions: &[(u32, StorageClass)], at: &str, noncurrent: bool) {
    let mut previous: Option<(u32, StorageClass)> = None;
    for (i, &(days, class)) in transitions.iter().enumerate() {
        let here = format!("{at}/{i}");
        if class == StorageClass::Standard {
            ctx.report(
                Problem::error("lifecycle", "a lifecycle transition cannot target STANDARD")
                    .with_hint("objects start in STANDARD; transitions move them to cheaper classes"),
                &format!("{here}/storage_class"),
                On::Value,
            );
            continue;
        }
        if class.is_infrequent_access() && days < IA_MINIMUM_DAYS {
            let what = if noncurrent { "noncurrent versions" } else { "objects" };
            ctx.report(
                Problem::error(
                    "lifecycle-minimum",
                    format!(
                        "transition to {} at day {days}: S3 requires at least {IA_MINIMUM_DAYS} days",
                        class.as_str()
                    ),
                )
                .with_hint(format!(
                    "{what} must stay {IA_MINIMUM_DAYS} days before moving to STANDARD_IA or ONEZONE_IA"
                )),
                &format!("{here}/days"),
                On::Value,
            );
        }
        if let Some((prev_days, prev_class)) = previous {
            if days <= prev_days {
                ctx.report(
                    Problem::error(
                        "lifecycle-order",
                        format!(
                            "transition to {} at day {days} is not after the previous transition (to {} at day {prev_days})",
                            class.as_str(),
                            prev_class.as_str()
                        ),
                    )
                    .with_hint("list transitions in increasing days"),
                    &format!("{here}/days"),
                    On::Value,
                );
            } else if prev_class.is_infrequent_access() && days < prev_days + IA_MINIMUM_DAYS {
                ctx.report(
                    Problem::error(
                        "lifecycle-minimum",
                        format!(
                            "transition to {} at day {days} leaves objects only {} days in {}",
                            class.as_str(),
                            days - prev_days,
                            prev_class.as_str()
                        ),
                    )
                    .with_hint(format!(
                        "S3 requires {IA_MINIMUM_DAYS} days in an infrequent-access class: use day {} or later",
                        prev_days + IA_MINIMUM_DAYS
                    )),
                    &format!("{here}/days"),
                    On::Value,
                );
            }
            if class.waterfall_rank() <= prev_class.waterfall_rank() {
                ctx.report(
                    Problem::error(
                        "lifecycle-order",
                        format!(
                            "transition from {} to {} goes back up the storage-class waterfall",
                            prev_class.as_str(),
                            class.as_str()
                        ),
                    )
                    .with_hint(
                        "order: STANDARD_IA → INTELLIGENT_TIERING → ONEZONE_IA → GLACIER_IR → GLACIER → DEEP_ARCHIVE",
                    ),
                    &format!("{here}/storage_class"),
                    On::Value,
                );
            }
        }
        previous = Some((days, class));
    }
}
