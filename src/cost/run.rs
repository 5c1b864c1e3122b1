//! The use case of `s3rec cost`: which buckets, from the manifest; their listings streamed through the
//! aggregation; and the report of each. The listing calls are `aws::archive::for_each_version` and
//! `aws::transfer`'s multipart-upload calls, the same ones migrations and sync use.

use super::aggregate::{Aggregates, Aggregator, Listed, Upload};
use super::prices::{Prices, PricesError};
use super::{BucketCost, BucketFacts, analyse};
use crate::aws::{Aws, AwsError, archive, transfer};
use crate::manifest::check::effective_bucket;
use crate::manifest::types::Manifest;
use crate::model::LifecycleRuleDoc;

/// Incomplete uploads whose parts are listed for their bytes (one ListParts each); those beyond are
/// counted, and the report says their bytes are left out.
pub const PARTS_LISTED: usize = 1000;

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
        }
    }
}

/// The buckets `names` (logical names; every bucket of the manifest when empty), with their regions
/// (the bucket's, then `defaults.region`, then `aws.region`, then `default_region`).
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
            let mut rules: Vec<LifecycleRuleDoc> = effective
                .lifecycle
                .as_deref()
                .unwrap_or_default()
                .iter()
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
    Ok(agg.finish())
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
