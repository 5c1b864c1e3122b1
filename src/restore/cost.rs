//! What bringing archived objects back costs and how long it takes, per retrieval tier: the estimate
//! `restore --dry-run` prints. Pure.
//!
//! The prices come from the price table `cost` uses (`cost::prices`, its `restore_tiers`), so there is
//! one place to update them; the times are AWS's documented retrieval times, which do not vary by
//! region. The estimate tells the order of magnitude and the choice between tiers, not the invoice.

use std::collections::BTreeMap;

use serde::Serialize;

use super::set::{ARCHIVED_CLASSES, RestoreSet};
use crate::cost::prices::{GB, Prices, RegionPrices, TierPrice};
use crate::manifest::types::RestoreTier;

/// The estimated Glacier restore of the objects of one archive class of a set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThawEstimate {
    pub storage_class: &'static str,
    /// The tier used for this class (Deep Archive has no Expedited).
    pub tier: RestoreTier,
    pub objects: usize,
    pub bytes: u64,
    /// Dollars; `None` when the price table has no price for a region of these objects.
    pub cost_usd: Option<f64>,
    /// The regions without prices, when there are any.
    pub unpriced_regions: Vec<String>,
    /// Until the copies are readable.
    pub time: Option<&'static str>,
}

/// One estimate per archive class the set holds objects of, priced per region from `prices`.
pub fn estimates(set: &RestoreSet, tier: RestoreTier, prices: &Prices) -> Vec<ThawEstimate> {
    ARCHIVED_CLASSES
        .iter()
        .filter_map(|&class| {
            let tier = crate::migrate::spec::tier_for(tier, class);
            // Region → (objects, bytes): the price is the region's.
            let mut by_region: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
            for item in set.items.iter().filter(|i| i.storage_class == class) {
                let entry = by_region.entry(item.region.as_str()).or_default();
                entry.0 += 1;
                entry.1 += item.size;
            }
            if by_region.is_empty() {
                return None;
            }
            let mut cost = 0.0;
            let mut unpriced_regions = Vec::new();
            for (region, (objects, bytes)) in &by_region {
                match prices.region(region).ok().and_then(|p| price(p, class, tier)) {
                    Some(p) => cost += estimate(p, *objects, *bytes),
                    None => unpriced_regions.push(region.to_string()),
                }
            }
            Some(ThawEstimate {
                storage_class: class,
                tier,
                objects: by_region.values().map(|(n, _)| n).sum(),
                bytes: by_region.values().map(|(_, b)| b).sum(),
                cost_usd: unpriced_regions.is_empty().then_some(cost),
                unpriced_regions,
                time: time(class, tier),
            })
        })
        .collect()
}

/// How long a restore in `tier` of an object of `storage_class` takes until the copy is readable, as
/// AWS documents it; `None` for a class that needs no restore or a tier it does not offer.
pub fn time(storage_class: &str, tier: RestoreTier) -> Option<&'static str> {
    match (storage_class, tier) {
        ("GLACIER", RestoreTier::Expedited) => Some("1-5 minutes"),
        ("GLACIER", RestoreTier::Standard) => Some("3-5 hours"),
        ("GLACIER", RestoreTier::Bulk) => Some("5-12 hours"),
        ("DEEP_ARCHIVE", RestoreTier::Standard) => Some("within 12 hours"),
        ("DEEP_ARCHIVE", RestoreTier::Bulk) => Some("within 48 hours"),
        _ => None,
    }
}

/// The price of restoring an object of `storage_class` with `tier` in a region (after
/// [`crate::migrate::spec::tier_for`], so Deep Archive never sees Expedited); `None` when the table has
/// none.
pub fn price(prices: &RegionPrices, storage_class: &str, tier: RestoreTier) -> Option<TierPrice> {
    prices.get(storage_class)?.restore_tiers.get(&tier).copied()
}

/// The estimate for `objects` objects of `bytes` bytes in one class and tier, in dollars.
pub fn estimate(price: TierPrice, objects: usize, bytes: u64) -> f64 {
    bytes as f64 / GB * price.per_gb + objects as f64 / 1000.0 * price.per_1000_requests
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::prices::Prices;

    #[test]
    fn tiers_trade_time_for_money() {
        let prices = Prices::embedded().expect("embedded");
        let east = prices.region("us-east-1").expect("us-east-1");
        let expedited = price(east, "GLACIER", RestoreTier::Expedited).expect("glacier");
        let standard = price(east, "GLACIER", RestoreTier::Standard).expect("glacier");
        // 2,000 objects, 500 GB (as S3 bills: GiB).
        let bytes = 500 * (1u64 << 30);
        // 500 × $0.03 + 2 × $10.00; 500 × $0.01 + 2 × $0.05.
        assert!((estimate(expedited, 2000, bytes) - 35.0).abs() < 1e-9);
        assert!((estimate(standard, 2000, bytes) - 5.1).abs() < 1e-9);
        let bulk = price(east, "GLACIER", RestoreTier::Bulk).expect("bulk");
        assert_eq!(estimate(bulk, 2000, bytes), 0.0);
        assert_eq!(time("DEEP_ARCHIVE", RestoreTier::Bulk), Some("within 48 hours"));
        assert_eq!(price(east, "DEEP_ARCHIVE", RestoreTier::Expedited), None);
        assert_eq!(price(east, "STANDARD", RestoreTier::Standard), None);
        assert_eq!(time("GLACIER_IR", RestoreTier::Bulk), None);
    }
}
