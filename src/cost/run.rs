//! The use case of `s3rec cost`: which buckets, from the manifest; their listings streamed through the
//! aggregation; and the report of each. The listing calls are `aws::archive::for_each_version` and
//! `aws::transfer`'s multipart-upload calls, the same ones migrations and sync use.

use super::aggregate::{Aggregates, Aggregator, Listed, Upload};
use super::inventory::{self, InventoryError, ReportLocation, ReportManifest};
use super::prices::{Prices, PricesError};
use super::{BucketCost, BucketFacts, analyse};
use crate::aws::{Aws, AwsError, archive, transfer};
use crate::manifest::check::effective_bucket;
use crate::manifest::types::Manifest;
use crate::model::LifecycleRuleDoc;

/// Incomplete uploads whose parts are listed for their bytes (one ListParts each); those beyond are
/// counted, and the report says their bytes are left out.
pub const PARTS_LISTED: usize = 1000;

/// The region of buckets that name none: `aws.region`, else the SDK's default.
pub fn default_region(manifest: &Manifest) -> String {
    manifest
        .aws
        .region
        .clone()
        .unwrap_or_else(|| crate::aws::DEFAULT_REGION.to_string())
}

/// Now, in Unix milliseconds: the date ages are counted from.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A bucket to price, resolved from the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Logical name (the key under `buckets:`), physical name, region.
    pub logical: String,
    pub name: String,
    pub region: String,
    pub versioned: bool,
    /// The manifest's lifecycle rules; none when it leaves lifecycle out.
    pub rules: Vec<LifecycleRuleDoc>,
}

/// Why `cost` cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("bucket `{name}` is not in environment {env}")]
    UnknownBucket {
        name: String,
        env: String,
        known: Vec<String>,
    },
    #[error(transparent)]
    Prices(#[from] PricesError),
    #[error(transparent)]
    Aws(Box<AwsError>),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

impl From<AwsError> for CostError {
    fn from(e: AwsError) -> Self {
        CostError::Aws(Box::new(e))
    }
}

impl CostError {
    pub fn hint(&self) -> Option<String> {
        match self {
            CostError::UnknownBucket { known, .. } if known.is_empty() => {
                Some("the manifest has no buckets".to_string())
            }
            CostError::UnknownBucket { known, .. } => Some(format!(
                "name a bucket by its key under `buckets:`: {}",
                known.join(", ")
            )),
            CostError::Prices(e) => e.hint(),
            CostError::Aws(_) => None,
            CostError::Inventory(InventoryError::NoConfiguration { .. }) => Some(
                "give the bucket an `inventory:` configuration with `format: CSV` (docs/manifest.md), or leave out --from inventory to list the bucket".to_string(),
            ),
            CostError::Inventory(InventoryError::NoReport { .. }) => {
                Some("wait for S3's first report, or leave out --from inventory to list the bucket".to_string())
            }
            CostError::Inventory(InventoryError::Manifest { .. } | InventoryError::Csv { .. }) => None,
        }
    }
}

/// The buckets `names` (logical names; every bucket of the manifest when empty), with their regions
/// (the bucket's, then `defaults.region`, then `aws.region`, then `default_region`) and lifecycle rules
/// (their own, then those sync retention generates).
pub fn targets(manifest: &Manifest, names: &[String], default_region: &str) -> Result<Vec<Target>, CostError> {
    let known: Vec<String> = manifest.buckets.keys().cloned().collect();
    if let Some(missing) = names.iter().find(|n| !manifest.buckets.contains_key(n.as_str())) {
        return Err(CostError::UnknownBucket {
            name: missing.clone(),
            env: manifest.environment.clone(),
            known,
        });
    }
    let chosen: Vec<&String> = if names.is_empty() {
        known.iter().collect()
    } else {
        names.iter().collect()
    };
    Ok(chosen
        .into_iter()
        .filter_map(|logical| manifest.buckets.get(logical).map(|b| (logical, b)))
        .map(|(logical, bucket)| {
            let effective = effective_bucket(manifest, bucket);
            // The bucket's own rules and those the retention of sync mappings into it generates, as
            // the lifecycle kind puts them on the bucket.
            let generated = crate::manifest::retention::rules_for(manifest, logical);
            let mut rules: Vec<LifecycleRuleDoc> = effective
                .lifecycle
                .iter()
                .flatten()
                .chain(&generated)
                .map(crate::model::kinds::lifecycle::rule)
                .collect();
            for r in &mut rules {
                r.canonicalize();
            }
            Target {
                logical: logical.clone(),
                name: bucket.name.clone(),
                region: effective.region.clone().unwrap_or_else(|| default_region.to_string()),
                versioned: effective.versioning.is_some(),
                rules,
            }
        })
        .collect())
}

/// Lists `target`'s versions (1,000 a page) and incomplete uploads into aggregates, calling `progress`
/// with the number of versions seen after every page's worth.
pub async fn measure(
    aws: &Aws,
    target: &Target,
    prices: &Prices,
    now_ms: i64,
    mut progress: impl FnMut(u64),
) -> Result<Aggregates, CostError> {
    let region_prices = prices.region(&target.region)?;
    let longest_min_days = region_prices.values().map(|p| p.min_days).max().unwrap_or(0);
    let mut agg = Aggregator::new(&target.rules, now_ms, longest_min_days);
    let mut seen = 0u64;
    archive::for_each_version(aws, &target.name, &target.region, "", archive::VERSIONS_PAGE, |v| {
        agg.version(Listed {
            key: &v.key,
            is_latest: v.is_latest,
            delete_marker: v.delete_marker,
            size: v.size,
            last_modified_ms: v.last_modified_ms,
            storage_class: &v.storage_class,
        });
        seen += 1;
        if seen.is_multiple_of(1000) {
            progress(seen);
        }
    })
    .await?;
    progress(seen);
    add_uploads(aws, target, &mut agg).await?;
    Ok(agg.finish())
}

/// Feeds `target`'s incomplete multipart uploads to `agg`.
async fn add_uploads(aws: &Aws, target: &Target, agg: &mut Aggregator<'_>) -> Result<(), CostError> {
    let uploads = transfer::list_multipart_uploads(aws, &target.name, &target.region, "").await?;
    for (i, (key, id, initiated_ms)) in uploads.iter().enumerate() {
        let bytes = if i < PARTS_LISTED {
            match transfer::upload_bytes(aws, &target.name, &target.region, key, id).await? {
                Some(bytes) => Some(bytes),
                // Finished or aborted since it was listed: nothing left to bill.
                None => continue,
            }
        } else {
            None
        };
        agg.upload(Upload {
            key,
            initiated_ms: *initiated_ms,
            bytes,
        });
    }
    Ok(())
}

/// The report location of each target (`cost --from inventory`), before anything is read.
pub fn report_locations(manifest: &Manifest, targets: &[Target]) -> Result<Vec<ReportLocation>, CostError> {
    targets
        .iter()
        .map(|t| {
            let bucket = manifest
                .buckets
                .get(&t.logical)
                .ok_or_else(|| CostError::UnknownBucket {
                    name: t.logical.clone(),
                    env: manifest.environment.clone(),
                    known: manifest.buckets.keys().cloned().collect(),
                })?;
            Ok(inventory::location(manifest, &t.logical, bucket)?)
        })
        .collect()
}

/// A whole object of the report (a `manifest.json` or one compressed CSV file).
async fn report_object(aws: &Aws, bucket: &str, region: &str, key: &str) -> Result<Vec<u8>, CostError> {
    let object = crate::aws::state_store::ObjectRef { bucket, key, region };
    match aws.read_small_object(object).await? {
        Some(object) => Ok(object.body),
        None => Err(InventoryError::Manifest {
            key: format!("s3://{bucket}/{key}"),
            detail: "named by the report but not found".to_string(),
        }
        .into()),
    }
}

/// Reads `target`'s latest S3 Inventory report at `location` into aggregates, instead of listing the
/// bucket (its incomplete uploads are still listed: reports do not hold them), calling `progress` with
/// the rows read after each file. Returns what the report leaves out, for the bucket's notes.
///
/// Each compressed file is read whole, then decompressed and parsed as a stream: memory holds one
/// compressed file (S3 writes files of a few hundred MB at most) and the aggregates.
pub async fn measure_inventory(
    aws: &Aws,
    target: &Target,
    location: &ReportLocation,
    prices: &Prices,
    now_ms: i64,
    mut progress: impl FnMut(u64),
) -> Result<(Aggregates, Vec<String>), CostError> {
    let region_prices = prices.region(&target.region)?;
    let longest_min_days = region_prices.values().map(|p| p.min_days).max().unwrap_or(0);
    let mut agg = Aggregator::new(&target.rules, now_ms, longest_min_days);
    // The destination is in the bucket's region: S3 refuses an inventory destination elsewhere.
    let listed = transfer::list_objects(aws, &location.bucket, &target.region, &location.prefix).await?;
    let manifest_key = inventory::latest_manifest(listed.iter().map(|o| o.key.as_str()), location)?;
    let text = report_object(aws, &location.bucket, &target.region, &manifest_key).await?;
    let report = ReportManifest::parse(&manifest_key, &text)?;
    let columns = report.columns(&manifest_key)?;
    let mut rows = 0;
    for file in &report.files {
        let compressed = report_object(aws, &location.bucket, &target.region, &file.key).await?;
        let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(compressed.as_slice()));
        rows += inventory::feed_csv(&file.key, reader, columns, &mut agg)?;
        progress(rows);
    }
    add_uploads(aws, target, &mut agg).await?;
    let date = manifest_key
        .trim_end_matches("/manifest.json")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut notes = vec![format!(
        "from the S3 Inventory report {date} (configuration {}): noncurrent versions are aged from their own date, and `newer_noncurrent_versions` sees no newer versions",
        location.id
    )];
    if !location.all_versions {
        notes.push("the inventory report lists current versions only: noncurrent versions are not counted".to_string());
    }
    Ok((agg.finish(), notes))
}

/// The report of `target` from its aggregates.
pub fn report(target: &Target, aggregates: &Aggregates, prices: &Prices) -> Result<BucketCost, CostError> {
    let facts = BucketFacts {
        bucket: &target.logical,
        name: &target.name,
        region: &target.region,
        versioned: target.versioned,
        rules: &target.rules,
    };
    Ok(analyse(&facts, aggregates, prices.region(&target.region)?))
}

/// `plan --cost`: for each bucket whose lifecycle rules or versioning the plan changes (and that exists
/// already: a new bucket holds nothing to price), the 12-month projection with the live configuration
/// and with the manifest's, from one listing. A bucket that cannot be priced gets its reason instead.
pub async fn plan_costs(
    aws: &Aws,
    manifest: &Manifest,
    plan: &crate::plan::Plan,
    prices: &Prices,
    default_region: &str,
    now_ms: i64,
) -> Vec<crate::plan::CostDelta> {
    use crate::model::{Doc, DocKind};
    use crate::plan::{Action, Address, Resource, Value};

    // Logical bucket → (lifecycle before/after, versioning before/after) for the changes that matter.
    type Side<T> = Option<(T, T)>;
    let mut changed: std::collections::BTreeMap<String, (Side<Vec<LifecycleRuleDoc>>, Side<bool>)> =
        std::collections::BTreeMap::new();
    let created: std::collections::BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .filter_map(|c| match &c.resource {
            Resource::Bucket { logical, .. } => Some(logical.as_str()),
            _ => None,
        })
        .collect();
    for change in plan.visible() {
        let Resource::BucketDoc { logical, kind, .. } = &change.resource else {
            continue;
        };
        if created.contains(logical.as_str()) {
            continue;
        }
        let doc = |v: &Option<Value>| match v {
            Some(Value::Doc(doc)) => Some(doc.clone()),
            _ => None,
        };
        let entry = changed.entry(logical.clone()).or_default();
        if *kind == DocKind::Lifecycle {
            let rules = |d: Option<Doc>| {
                if let Some(Doc::Lifecycle(rules)) = d {
                    rules
                } else {
                    Vec::new()
                }
            };
            entry.0 = Some((rules(doc(&change.before)), rules(doc(&change.after))));
        } else if *kind == DocKind::Versioning {
            let versioned = |d: Option<Doc>| matches!(d, Some(Doc::Versioning(state)) if state != crate::model::kinds::versioning::VersioningState::Unversioned);
            entry.1 = Some((versioned(doc(&change.before)), versioned(doc(&change.after))));
        }
        if entry.0.is_none() && entry.1.is_none() {
            changed.remove(logical);
        }
    }
    let mut out = sync_costs(plan, prices);
    for (logical, (lifecycle, versioning)) in changed {
        let Ok(mut targets) = targets(manifest, std::slice::from_ref(&logical), default_region) else {
            continue;
        };
        let Some(mut target) = targets.pop() else { continue };
        let mut what = Vec::new();
        let (rules_before, rules_after) = match lifecycle {
            Some(pair) => {
                what.push("lifecycle".to_string());
                pair
            }
            None => (target.rules.clone(), target.rules.clone()),
        };
        let (versioned_before, versioned_after) = match versioning {
            Some(pair) => {
                what.push("versioning".to_string());
                pair
            }
            None => (target.versioned, target.versioned),
        };
        let mut delta = crate::plan::CostDelta {
            address: Address::bucket(&logical),
            changed: what,
            monthly_before: 0.0,
            monthly_after: 0.0,
            one_time_fees: 0.0,
            total_12_months: 0.0,
            error: None,
        };
        // Both sides in one rule list, so one listing serves both; each side is projected with the
        // other side's rules disabled.
        let split = rules_before.len();
        target.rules = rules_before.iter().chain(&rules_after).cloned().collect();
        let side = |before: bool| -> Vec<LifecycleRuleDoc> {
            let mut rules = target.rules.clone();
            for (i, r) in rules.iter_mut().enumerate() {
                if (i < split) != before {
                    r.enabled = false;
                }
            }
            rules
        };
        let (before, after) = (side(true), side(false));
        match measure(aws, &target, prices, now_ms, |_| {}).await {
            Err(e) => delta.error = Some(e.to_string()),
            Ok(aggregates) => match prices.region(&target.region) {
                Err(e) => delta.error = Some(e.to_string()),
                Ok(region) => {
                    let project = |rules: &[LifecycleRuleDoc], versioned: bool| {
                        super::project::project(
                            &super::project::Inputs {
                                aggregates: &aggregates,
                                prices: region,
                                rules,
                                versioned,
                            },
                            None,
                        )
                    };
                    let b = project(&before, versioned_before);
                    let a = project(&after, versioned_after);
                    let last = super::project::MONTHS - 1;
                    delta.monthly_before = b.months[last].total();
                    delta.monthly_after = a.months[last].total();
                    delta.one_time_fees = a.one_time() - b.one_time();
                    delta.total_12_months = a.total() - b.total();
                }
            },
        }
        out.push(delta);
    }
    out
}

/// `plan --cost` for sync mappings: what the plan's uploads that land in a class other than STANDARD
/// (the mapping's `storage_class`, or a route's) cost a month in that class against STANDARD, and the
/// PUT requests' extra fees, each group in its destination's region. Existing objects keep their class
/// (sync does not rewrite them), so only the uploads are priced. One line per mapping.
fn sync_costs(plan: &crate::plan::Plan, prices: &Prices) -> Vec<crate::plan::CostDelta> {
    let mut out = Vec::new();
    for work in plan.syncs.iter().filter(|w| w.uploads > 0 && w.error.is_none()) {
        let priced: Vec<&crate::plan::UploadClass> = work
            .upload_classes
            .iter()
            .filter(|g| g.storage_class != super::prices::STANDARD)
            .collect();
        if priced.is_empty() {
            continue;
        }
        let classes: std::collections::BTreeSet<String> = priced
            .iter()
            .map(|g| format!("storage_class {}", g.storage_class))
            .collect();
        let mut delta = crate::plan::CostDelta {
            address: crate::plan::Address(format!("sync.{}", work.mapping)),
            changed: classes.into_iter().collect(),
            monthly_before: 0.0,
            monthly_after: 0.0,
            one_time_fees: 0.0,
            total_12_months: 0.0,
            error: None,
        };
        for group in priced {
            let class = group.storage_class.as_str();
            let uploads = u64::try_from(group.uploads).unwrap_or(u64::MAX);
            let result = prices
                .region(&group.region)
                .map_err(|e| e.to_string())
                .and_then(|region_prices| {
                    super::project::upload_class_delta(region_prices, class, uploads, group.bytes)
                        .ok_or_else(|| format!("the price table has no {class} prices for {}", group.region))
                });
            match result {
                Ok((before, after, fees)) => {
                    delta.monthly_before += before;
                    delta.monthly_after += after;
                    delta.one_time_fees += fees;
                }
                Err(e) => {
                    // No figures rather than a part of them: the environment's sum leaves this line out.
                    delta.monthly_before = 0.0;
                    delta.monthly_after = 0.0;
                    delta.one_time_fees = 0.0;
                    delta.error = Some(e);
                    break;
                }
            }
        }
        if delta.error.is_none() {
            delta.total_12_months =
                (delta.monthly_after - delta.monthly_before) * super::project::MONTHS as f64 + delta.one_time_fees;
        }
        out.push(delta);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_take_regions_versioning_and_the_rules_sync_retention_adds() {
        let m = crate::manifest::load::valid_for_tests(
            r#"
environment: dev
aws:
  region: eu-west-1
buckets:
  backups:
    name: backups-dev
    region: us-east-1
    versioning: enabled
    lifecycle:
      - id: uploads
        abort_incomplete_multipart_upload_days: 7
  plain:
    name: plain-dev
sync:
  home:
    source: home
    bucket: backups
    prefix: home/
    retention: {noncurrent_days: 30}
"#,
        );
        let all = targets(&m, &[], "us-west-2").expect("targets");
        assert_eq!(all.len(), 2);
        let backups = &all[0];
        assert_eq!(
            (backups.name.as_str(), backups.region.as_str(), backups.versioned),
            ("backups-dev", "us-east-1", true)
        );
        let ids: Vec<&str> = backups.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["uploads", "s3rec-retention-home"]);
        assert_eq!(backups.rules[1].noncurrent_expiration_days, Some(30));
        assert_eq!(backups.rules[1].prefix.as_deref(), Some("home/"));
        // The manifest's `aws.region` comes before the fallback.
        assert_eq!(
            (all[1].region.as_str(), all[1].versioned, all[1].rules.len()),
            ("eu-west-1", false, 0)
        );
        let err = targets(&m, &["nope".to_string()], "us-west-2").expect_err("unknown");
        assert!(err.hint().expect("hint").contains("backups, plain"), "{err}");
    }
}
