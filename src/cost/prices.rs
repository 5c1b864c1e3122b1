//! The price table: per region and storage class, what storing, requesting, transitioning and retrieving
//! cost, and the minimum duration and size S3 bills. The embedded table (`prices.json`) names its source
//! and the date it was taken; `--prices FILE` replaces it with a file of the same format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::manifest::types::RestoreTier;

/// The embedded table, read once per run.
const EMBEDDED: &str = include_str!("prices.json");

/// Bytes in a GB as S3 bills storage (GiB: AWS's "GB-month" is 2^30 bytes).
pub const GB: f64 = 1_073_741_824.0;

/// Days in the month the projection and the per-day prorating use.
pub const MONTH_DAYS: f64 = 30.0;

/// A price table: its provenance and the prices of each region's storage classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// Where the prices come from (a page, a document).
    pub source: String,
    /// When they were taken (`YYYY-MM-DD`).
    pub taken: String,
    pub currency: String,
    /// Region → storage class (as AWS names it, e.g. `STANDARD_IA`) → prices.
    pub regions: BTreeMap<String, BTreeMap<String, ClassPrice>>,
}

/// The prices of one storage class in one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassPrice {
    /// Storage per GB-month.
    pub storage_gb_month: f64,
    /// PUT, COPY, POST and LIST requests per 1,000.
    pub put_per_1000: f64,
    /// GET and other reads per 1,000.
    pub get_per_1000: f64,
    /// Lifecycle transitions into this class per 1,000 objects.
    pub transition_per_1000: f64,
    /// Retrieval per GB of the classes read without a restore (the IA classes, Glacier Instant
    /// Retrieval); 0 for the archive classes, whose retrieval is priced per tier in `restore_tiers`.
    pub retrieval_gb: f64,
    /// Minimum storage duration in days: an object deleted or transitioned earlier is billed the rest.
    pub min_days: u32,
    /// Minimum billable object size in bytes: a smaller object is billed as this size.
    pub min_billable_bytes: u64,
    /// Per-object metadata billed at STANDARD's price (the Glacier classes' 8 KiB).
    #[serde(default)]
    pub overhead_standard_bytes: u64,
    /// Per-object metadata billed at this class's price (the Glacier classes' 32 KiB).
    #[serde(default)]
    pub overhead_class_bytes: u64,
    /// Monthly monitoring per 1,000 objects of at least 128 KiB (Intelligent-Tiering).
    #[serde(default)]
    pub monitoring_per_1000_objects: f64,
    /// What a restore (RestoreObject) of an archived object costs per retrieval tier (GLACIER,
    /// DEEP_ARCHIVE); `restore --dry-run` estimates from it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub restore_tiers: BTreeMap<RestoreTier, TierPrice>,
}

/// The price of restoring archived objects in one retrieval tier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierPrice {
    /// Per GB restored.
    pub per_gb: f64,
    /// Per 1,000 restore requests (one per object).
    pub per_1000_requests: f64,
}

/// A price table that cannot be used, located where serde could place it.
#[derive(Debug, thiserror::Error)]
pub enum PricesError {
    #[error("cannot read the price file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("no embedded prices for {region}")]
    NoRegion { region: String, known: Vec<String> },
}

impl PricesError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            PricesError::Read { .. } => None,
            PricesError::Parse { .. } | PricesError::Invalid { .. } => {
                Some("the format is that of src/cost/prices.json, described in docs/cost.md".to_string())
            }
            PricesError::NoRegion { known, .. } => Some(format!(
                "pass --prices FILE with this region's prices: `s3rec prices` builds one for every region from AWS's Price List files (docs/cost.md); the embedded table has {}",
                known.join(", ")
            )),
        }
    }
}

impl Prices {
    /// The embedded table.
    pub fn embedded() -> Result<Prices, PricesError> {
        Prices::parse("embedded prices.json", EMBEDDED)
    }

    /// The table of `--prices FILE` when given, else the embedded one.
    pub fn load(path: Option<&std::path::Path>) -> Result<Prices, PricesError> {
        match path {
            Some(path) => Prices::from_file(path),
            None => Prices::embedded(),
        }
    }

    /// Reads a table from `path`.
    pub fn from_file(path: &std::path::Path) -> Result<Prices, PricesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PricesError::Read {
            path: shown.clone(),
            source,
        })?;
        Prices::parse(&shown, &text)
    }

    /// Parses and checks a table; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Prices, PricesError> {
        let prices: Prices = serde_json::from_str(text).map_err(|e| PricesError::Parse {
            path: path.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
        })?;
        for (region, classes) in &prices.regions {
            if !classes.contains_key(STANDARD) {
                return Err(PricesError::Invalid {
                    path: path.to_string(),
                    message: format!(
                        "region {region} has no STANDARD prices, which every other class's overhead needs"
                    ),
                });
            }
            for (class, p) in classes {
                let numbers = [
                    p.storage_gb_month,
                    p.put_per_1000,
                    p.get_per_1000,
                    p.transition_per_1000,
                    p.retrieval_gb,
                    p.monitoring_per_1000_objects,
                ]
                .into_iter()
                .chain(p.restore_tiers.values().flat_map(|t| [t.per_gb, t.per_1000_requests]))
                .collect::<Vec<f64>>();
                if numbers.iter().any(|n| !n.is_finite() || *n < 0.0) {
                    return Err(PricesError::Invalid {
                        path: path.to_string(),
                        message: format!("{region} {class}: prices must be finite and not negative"),
                    });
                }
            }
        }
        Ok(prices)
    }

    /// The prices of `region`, or why there are none.
    pub fn region(&self, region: &str) -> Result<&RegionPrices, PricesError> {
        self.regions.get(region).ok_or_else(|| PricesError::NoRegion {
            region: region.to_string(),
            known: self.regions.keys().cloned().collect(),
        })
    }
}

/// The STANDARD class's name.
pub const STANDARD: &str = "STANDARD";

/// One region's prices by class.
pub type RegionPrices = BTreeMap<String, ClassPrice>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_parses_and_prices_us_east_1() {
        let prices = Prices::embedded().expect("embedded");
        let east = prices.region("us-east-1").expect("us-east-1");
        assert_eq!(east["STANDARD"].storage_gb_month, 0.023);
        assert_eq!(east["STANDARD_IA"].min_billable_bytes, 128 * 1024);
        assert_eq!(east["DEEP_ARCHIVE"].min_days, 180);
        assert_eq!(east["GLACIER"].overhead_class_bytes, 32 * 1024);
        assert!(!prices.source.is_empty() && !prices.taken.is_empty());
    }

    #[test]
    fn an_unknown_region_is_an_error_with_a_hint() {
        let err = Prices::embedded()
            .expect("embedded")
            .region("xx-nowhere-9")
            .expect_err("unknown");
        assert_eq!(err.to_string(), "no embedded prices for xx-nowhere-9");
        assert!(err.hint().expect("hint").contains("--prices FILE"));
    }

    #[test]
    fn a_bad_file_is_located() {
        let text = "{\n  \"source\": \"x\",\n  \"taken\": \"2026-01-01\",\n  \"currency\": \"USD\",\n  \"regions\": { \"r\": { \"STANDARD\": { \"storage_gb_month\": \"cheap\" } } }\n}";
        let err = Prices::parse("p.json", text).expect_err("bad");
        match &err {
            PricesError::Parse { line, .. } => assert_eq!(*line, 5),
            other => panic!("not a parse error: {other}"),
        }
        assert!(err.to_string().starts_with("p.json:5:"), "{err}");
    }

    #[test]
    fn negative_prices_and_a_missing_standard_are_refused() {
        let class = r#"{"storage_gb_month": -1, "put_per_1000": 0, "get_per_1000": 0, "transition_per_1000": 0, "retrieval_gb": 0, "min_days": 0, "min_billable_bytes": 0}"#;
        let text = format!(
            r#"{{"source": "s", "taken": "t", "currency": "USD", "regions": {{"r": {{"STANDARD": {class}}}}}}}"#
        );
        assert!(
            Prices::parse("p", &text)
                .expect_err("negative")
                .to_string()
                .contains("not negative")
        );
        let text = text.replace("STANDARD", "GLACIER");
        assert!(
            Prices::parse("p", &text)
                .expect_err("no standard")
                .to_string()
                .contains("no STANDARD")
        );
    }
}
