//! What bringing archived objects back costs and how long it takes, per retrieval tier: the estimate
//! `restore --dry-run` prints. Pure.
//!
//! The figures are AWS's published S3 list prices for us-east-1 and its documented retrieval times (see
//! docs/restore.md). Other regions and negotiated prices differ, and AWS changes them: the estimate
//! tells the order of magnitude and the choice between tiers, not the invoice.

use crate::manifest::types::RestoreTier;

/// One storage class and tier: dollars per GB retrieved, dollars per 1,000 restore requests, and the
/// time until the copy is readable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_gb: f64,
    pub per_1000_requests: f64,
    pub time: &'static str,
}

/// The rate of restoring an object of `storage_class` with `tier` (after [`crate::migrate::spec::tier_for`],
/// so Deep Archive never sees Expedited); `None` for a class that needs no restore.
pub fn rate(storage_class: &str, tier: RestoreTier) -> Option<Rate> {
    let rate = |per_gb, per_1000_requests, time| Rate {
        per_gb,
        per_1000_requests,
        time,
    };
    match (storage_class, tier) {
        ("GLACIER", RestoreTier::Expedited) => Some(rate(0.03, 10.0, "1-5 minutes")),
        ("GLACIER", RestoreTier::Standard) => Some(rate(0.01, 0.05, "3-5 hours")),
        ("GLACIER", RestoreTier::Bulk) => Some(rate(0.0, 0.0, "5-12 hours")),
        ("DEEP_ARCHIVE", RestoreTier::Standard | RestoreTier::Expedited) => Some(rate(0.02, 0.10, "within 12 hours")),
        ("DEEP_ARCHIVE", RestoreTier::Bulk) => Some(rate(0.0025, 0.025, "within 48 hours")),
        _ => None,
    }
}

/// The estimate for `objects` objects of `bytes` bytes in one class and tier, in dollars.
pub fn estimate(rate: Rate, objects: usize, bytes: u64) -> f64 {
    let gb = bytes as f64 / 1e9;
    gb * rate.per_gb + objects as f64 / 1000.0 * rate.per_1000_requests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_trade_time_for_money() {
        let expedited = rate("GLACIER", RestoreTier::Expedited).expect("glacier");
        let standard = rate("GLACIER", RestoreTier::Standard).expect("glacier");
        // 2,000 objects, 500 GB.
        let bytes = 500_000_000_000;
        assert!((estimate(expedited, 2000, bytes) - 35.0).abs() < 1e-9);
        assert!((estimate(standard, 2000, bytes) - 5.1).abs() < 1e-9);
        assert_eq!(
            estimate(rate("GLACIER", RestoreTier::Bulk).expect("bulk"), 2000, bytes),
            0.0
        );
        assert_eq!(
            rate("DEEP_ARCHIVE", RestoreTier::Bulk).map(|r| r.time),
            Some("within 48 hours")
        );
        assert_eq!(rate("STANDARD", RestoreTier::Standard), None);
        assert_eq!(rate("GLACIER_IR", RestoreTier::Bulk), None);
    }
}
