//! Inventory configurations as S3 will accept and deliver them: unique IDs, at most 1,000 per bucket, a
//! destination that is a bucket of this manifest in the same region or the ARN of a bucket elsewhere,
//! and a 12-digit destination account.

use std::collections::HashMap;

use super::{Ctx, On, ptr};
use crate::manifest::diagnostic::Problem;

/// S3's limit of inventory configurations per bucket.
const MAX_CONFIGURATIONS: usize = 1000;

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    for (logical, bucket) in &m.buckets {
        let Some(configs) = &bucket.inventory else {
            continue;
        };
        let region = ctx.effective(bucket).region;
        let base = ptr(&[&"buckets", logical, &"inventory"]);
        if configs.len() > MAX_CONFIGURATIONS {
            ctx.report(
                Problem::error(
                    "inventory",
                    "S3 allows at most 1,000 inventory configurations per bucket",
                ),
                &base,
                On::Key,
            );
        }
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, c) in configs.iter().enumerate() {
            let at = format!("{base}/{i}");
            if c.id.is_empty() {
                ctx.report(
                    Problem::error("inventory", "an inventory configuration needs a non-empty `id`"),
                    &format!("{at}/id"),
                    On::Value,
                );
            } else if let Some(first) = ids.insert(c.id.as_str(), i) {
                ctx.report(
                    Problem::error(
                        "duplicate-inventory-id",
                        format!(
                            "inventory ID `{}` of bucket `{logical}` is already used by configuration {first}",
                            c.id
                        ),
                    )
                    .with_hint("inventory IDs must be unique within a bucket; S3 keeps one configuration per ID"),
                    &format!("{at}/id"),
                    On::Value,
                );
            }
            let dest = &c.destination.bucket;
            let dest_at = format!("{at}/destination/bucket");
            if let Some(name) = dest.strip_prefix("arn:") {
                let valid = name
                    .split_once(":s3:::")
                    .is_some_and(|(partition, bucket)| partition.starts_with("aws") && !bucket.is_empty());
                if !valid {
                    ctx.report(
                        Problem::error("inventory-destination", format!("`{dest}` is not the ARN of a bucket"))
                            .with_hint("a bucket elsewhere is named by its ARN, `arn:aws:s3:::BUCKET`"),
                        &dest_at,
                        On::Value,
                    );
                }
            } else if let Some(target) = m.buckets.get(dest) {
                let target_region = ctx.effective(target).region;
                if target_region != region {
                    ctx.report(
                        Problem::error(
                            "inventory-region",
                            format!(
                                "inventory destination `{dest}` is in {} but `{logical}` is in {}",
                                target_region.as_deref().unwrap_or("the default region"),
                                region.as_deref().unwrap_or("the default region"),
                            ),
                        )
                        .with_hint("S3 writes inventory reports only to a bucket in the source bucket's region"),
                        &dest_at,
                        On::Value,
                    );
                }
            } else {
                let defined: Vec<&str> = m.buckets.keys().map(String::as_str).collect();
                ctx.report(
                    Problem::error(
                        "undefined-reference",
                        format!("inventory destination `{dest}` is not a bucket of this manifest"),
                    )
                    .with_hint(format!(
                        "name a bucket under `buckets` (defined: {}) or give the ARN of a bucket elsewhere, \
                         `arn:aws:s3:::BUCKET`",
                        defined.join(", ")
                    )),
                    &dest_at,
                    On::Value,
                );
            }
            if let Some(account) = &c.destination.account
                && (account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()))
            {
                ctx.report(
                    Problem::error(
                        "inventory-destination",
                        format!("destination account `{account}` is not a 12-digit AWS account ID"),
                    )
                    .with_hint("leave `account` out unless the destination bucket belongs to another account"),
                    &format!("{at}/destination/account"),
                    On::Value,
                );
            }
            let mut seen = Vec::new();
            for (j, field) in c.optional_fields.iter().enumerate() {
                if seen.contains(field) {
                    ctx.report(
                        Problem::warning(
                            "duplicate-inventory-field",
                            format!("optional field `{field:?}` is listed twice"),
                        )
                        .with_hint("each field is included once; remove the repeat"),
                        &format!("{at}/optional_fields/{j}"),
                        On::Value,
                    );
                }
                seen.push(*field);
            }
        }
    }
}
