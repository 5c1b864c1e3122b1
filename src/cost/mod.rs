//! `s3rec cost`: what each bucket costs today, what the manifest's lifecycle rules will make it cost
//! over the next 12 months, and which other rules would pay back. Everything here but `run` is pure:
//! the listing goes in one version at a time ([`aggregate`]), only aggregates stay, and the projection
//! ([`project`]) and recommendations ([`recommend`]) work from those with the price table ([`prices`]).
//! The formulas and assumptions are in docs/cost.md.

pub mod aggregate;
pub mod inventory;
pub mod price_list;
pub mod prices;
pub mod project;
pub mod recommend;
pub mod render;
pub mod run;

#[cfg(test)]
mod tests;

use serde::Serialize;

use aggregate::{AGE_BANDS, Aggregates, SIZE_BANDS, Tally, UploadTally};
use prices::RegionPrices;
use project::{Inputs, MonthCost, Projection};
use recommend::Recommendation;

use crate::model::LifecycleRuleDoc;

/// One bucket's figures: the report `cost` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketCost {
    /// The manifest's logical name, the physical name and the region.
    pub bucket: String,
    pub name: String,
    pub region: String,
    pub versioned: bool,
    pub current: Tally,
    pub noncurrent: Tally,
    pub delete_markers: u64,
    pub incomplete_uploads: UploadTally,
    pub by_class: Vec<Band>,
    pub by_size: Vec<Band>,
    pub by_age: Vec<Band>,
    /// What a month costs today (storage, overheads, upload parts).
    pub monthly_today: f64,
    /// The next 12 months under the manifest's lifecycle rules.
    pub projection: Vec<MonthCost>,
    pub projected_12_months: f64,
    /// Twelve months at today's cost, minus the projection.
    pub savings_12_months: f64,
    pub one_time_fees: f64,
    pub transitioned: u64,
    pub expired: u64,
    pub recommendations: Vec<Recommendation>,
    /// What the figures leave out for this bucket.
    pub notes: Vec<String>,
}

/// One line of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    pub band: String,
    pub objects: u64,
    pub bytes: u64,
}

/// Where a bucket is and how it is configured, as the manifest says.
pub struct BucketFacts<'a> {
    pub bucket: &'a str,
    pub name: &'a str,
    pub region: &'a str,
    pub versioned: bool,
    pub rules: &'a [LifecycleRuleDoc],
}

/// The report of one bucket from its aggregates.
pub fn analyse(facts: &BucketFacts<'_>, aggregates: &Aggregates, prices: &RegionPrices) -> BucketCost {
    let inputs = Inputs {
        aggregates,
        prices,
        rules: facts.rules,
        versioned: facts.versioned,
    };
    let (monthly_today, mut unpriced) = project::today(aggregates, prices);
    let projection: Projection = project::project(&inputs, None);
    unpriced.extend(projection.unpriced.iter().cloned());
    let recommendations = recommend::recommend(&inputs, &projection);
    let mut notes = Vec::new();
    for rule in facts.rules.iter().filter(|r| r.enabled && !r.tags.is_empty()) {
        notes.push(format!(
            "rule {} filters by tags, which a listing does not show: it is counted as matching nothing",
            rule.id
        ));
    }
    if facts.rules.len() > aggregate::MAX_RULES {
        notes.push(format!(
            "only the first {} lifecycle rules are projected",
            aggregate::MAX_RULES
        ));
    }
    for class in &unpriced {
        notes.push(format!(
            "the price table has no {class} prices for {}: left out",
            facts.region
        ));
    }
    let uploads = aggregates.uploads;
    if uploads.measured < uploads.uploads {
        notes.push(format!(
            "the parts of {} of {} incomplete uploads were not listed: their bytes are left out",
            uploads.uploads - uploads.measured,
            uploads.uploads
        ));
    }
    let bands = |tallies: &[Tally], names: &mut dyn Iterator<Item = &str>| -> Vec<Band> {
        tallies
            .iter()
            .zip(names)
            .map(|(t, name)| Band {
                band: name.to_string(),
                objects: t.objects,
                bytes: t.bytes,
            })
            .collect()
    };
    let projected = projection.total();
    BucketCost {
        bucket: facts.bucket.to_string(),
        name: facts.name.to_string(),
        region: facts.region.to_string(),
        versioned: facts.versioned,
        current: aggregates.current,
        noncurrent: aggregates.noncurrent,
        delete_markers: aggregates.delete_markers,
        incomplete_uploads: uploads,
        by_class: aggregates
            .by_class
            .iter()
            .map(|(class, t)| Band {
                band: class.clone(),
                objects: t.objects,
                bytes: t.bytes,
            })
            .collect(),
        by_size: bands(&aggregates.by_size, &mut SIZE_BANDS.iter().map(|(_, n)| *n)),
        by_age: bands(&aggregates.by_age, &mut AGE_BANDS.iter().map(|(_, n)| *n)),
        monthly_today,
        projection: projection.months.to_vec(),
        projected_12_months: projected,
        savings_12_months: monthly_today * project::MONTHS as f64 - projected,
        one_time_fees: projection.one_time(),
        transitioned: projection.transitioned,
        expired: projection.expired,
        recommendations,
        notes,
    }
}
