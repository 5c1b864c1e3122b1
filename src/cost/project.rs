//! The projection: what a bucket's aggregated versions cost month by month over the next 12 months if
//! lifecycle rules apply to them, with the one-time fees (transition requests, early deletion) in the
//! month they fall in. Pure.
//!
//! Each [`Group`](super::aggregate::GroupKey) of versions is followed as one: its storage class from now
//! on, the days at which a rule moves it to a cheaper class, expires it, or (in a versioned bucket)
//! makes it noncurrent, after which the noncurrent rules take over. Months are 30 days. No new objects
//! are assumed, and a version's rank among the noncurrent versions of its key stays as listed.

use std::collections::BTreeSet;

use serde::Serialize;

use super::aggregate::{Aggregates, Currency, GroupKey, Tally, bit};
use super::prices::{ClassPrice, GB, MONTH_DAYS, RegionPrices, STANDARD};
use crate::model::LifecycleRuleDoc;

/// Months projected.
pub const MONTHS: usize = 12;

/// The projection's horizon in days.
const HORIZON: f64 = MONTHS as f64 * MONTH_DAYS;

/// What one month costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MonthCost {
    /// Storage (with the Glacier classes' per-object overhead, Intelligent-Tiering's monitoring, and
    /// the parts of incomplete multipart uploads).
    pub storage: f64,
    /// Lifecycle transition requests.
    pub transitions: f64,
    /// Minimum-duration charges of objects that leave a class early.
    pub early_deletion: f64,
}

impl MonthCost {
    pub fn total(&self) -> f64 {
        self.storage + self.transitions + self.early_deletion
    }
}

/// The 12 months, and what could not be priced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Projection {
    pub months: [MonthCost; MONTHS],
    /// Versions a rule transitions within the horizon.
    pub transitioned: u64,
    /// Versions a rule deletes within the horizon (noncurrent expiration, or current expiration in an
    /// unversioned bucket).
    pub expired: u64,
    /// Storage classes of listed versions, or of rules' targets, that the price table lacks.
    pub unpriced: BTreeSet<String>,
}

impl Projection {
    pub fn total(&self) -> f64 {
        self.months.iter().map(MonthCost::total).sum()
    }

    pub fn one_time(&self) -> f64 {
        self.months.iter().map(|m| m.transitions + m.early_deletion).sum()
    }
}

/// What a projection reads.
pub struct Inputs<'a> {
    pub aggregates: &'a Aggregates,
    pub prices: &'a RegionPrices,
    pub rules: &'a [LifecycleRuleDoc],
    /// Whether expiring a current version keeps it as a noncurrent version (versioning enabled or
    /// suspended) rather than deleting it.
    pub versioned: bool,
}

/// Projects `inputs` with its rules, plus `extra` (a candidate rule for the whole bucket, matching
/// every version and every upload) when given.
pub fn project(inputs: &Inputs<'_>, extra: Option<&LifecycleRuleDoc>) -> Projection {
    let mut sim = Sim {
        inputs,
        extra,
        out: Projection::default(),
    };
    for (key, tally) in &inputs.aggregates.groups {
        sim.group(key, *tally);
    }
    sim.uploads();
    sim.out
}

/// Today's monthly cost: every version in its class for a month, and the uploads' parts.
pub fn today(aggregates: &Aggregates, prices: &RegionPrices) -> (f64, BTreeSet<String>) {
    let inputs = Inputs {
        aggregates,
        prices,
        rules: &[],
        versioned: true,
    };
    let p = project(&inputs, None);
    (p.months[0].total(), p.unpriced)
}

/// The monthly storage cost of `tally` versions in class `p`, `small` when each is under 128 KiB.
pub fn monthly_rate(p: &ClassPrice, standard: &ClassPrice, tally: Tally, small: bool) -> f64 {
    let n = tally.objects as f64;
    // The minimum billable size is at most 128 KiB in AWS's table, so a group of small objects bills
    // each at the minimum and a group of larger ones bills their bytes: max() is exact for both.
    let billable = (tally.bytes as f64).max(n * p.min_billable_bytes as f64);
    let class_bytes = billable + n * p.overhead_class_bytes as f64;
    let mut rate =
        class_bytes / GB * p.storage_gb_month + n * p.overhead_standard_bytes as f64 / GB * standard.storage_gb_month;
    if !small {
        rate += n * p.monitoring_per_1000_objects / 1000.0;
    }
    rate
}

/// What `objects` uploads of `bytes` in all cost a month in `class` and in STANDARD, and the PUT
/// requests' fees in `class` beyond STANDARD's: `(monthly in STANDARD, monthly in class, extra fees)`,
/// or `None` when the table prices neither. The uploads' sizes are known only as a sum, so a class's
/// minimum billable size applies to their average (exact when all are above it, or all below).
pub fn upload_class_delta(prices: &RegionPrices, class: &str, objects: u64, bytes: u64) -> Option<(f64, f64, f64)> {
    let standard = prices.get(STANDARD)?;
    let p = prices.get(class)?;
    let tally = Tally { objects, bytes };
    let small = objects > 0 && bytes / objects < super::aggregate::SMALL;
    let before = monthly_rate(standard, standard, tally, small);
    let after = monthly_rate(p, standard, tally, small);
    let fees = objects as f64 * (p.put_per_1000 - standard.put_per_1000) / 1000.0;
    Some((before, after, fees))
}

/// What happens to a group at a day of the projection.
#[derive(Debug, Clone, PartialEq)]
enum Event<'r> {
    Expire,
    Transition(&'r str),
}

struct Sim<'a, 'r> {
    inputs: &'a Inputs<'r>,
    extra: Option<&'r LifecycleRuleDoc>,
    out: Projection,
}

/// A group's place in its life: current, or noncurrent with its rank.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Current,
    Noncurrent { rank: u32 },
}

impl<'a, 'r> Sim<'a, 'r> {
    fn price(&mut self, class: &str) -> Option<&'r ClassPrice> {
        let p = self.inputs.prices.get(class);
        if p.is_none() {
            self.out.unpriced.insert(class.to_string());
        }
        p
    }

    /// The rules that apply to a group: (rule, whether it may transition the group).
    /// The extra rule matches every group and, as S3's default, may transition all but small objects.
    fn rules_of(&self, matched: u64, transition_ok: u64, small: bool) -> Vec<(&'r LifecycleRuleDoc, bool)> {
        let mut rules: Vec<(&'r LifecycleRuleDoc, bool)> = self
            .inputs
            .rules
            .iter()
            .enumerate()
            // A disabled rule is left out even where its filter matched: `plan --cost` aggregates the rules
            // before and after a change at once and projects each side with the other disabled.
            .filter(|(i, r)| r.enabled && matched & bit(*i) != 0)
            .map(|(i, r)| (r, transition_ok & bit(i) != 0))
            .collect();
        rules.extend(self.extra.map(|r| (r, !small)));
        rules
    }

    fn charge_storage(&mut self, rate: f64, from: f64, to: f64) {
        for (m, month) in self.out.months.iter_mut().enumerate() {
            let start = m as f64 * MONTH_DAYS;
            let overlap = (to.min(start + MONTH_DAYS) - from.max(start)).max(0.0);
            month.storage += rate * overlap / MONTH_DAYS;
        }
    }

    fn month_of(t: f64) -> usize {
        ((t / MONTH_DAYS).floor().max(0.0) as usize).min(MONTHS - 1)
    }

    fn group(&mut self, key: &GroupKey, tally: Tally) {
        let aggregates: &'r Aggregates = self.inputs.aggregates;
        let Some(class) = aggregates.classes.get(usize::from(key.class)) else {
            return;
        };
        if self.price(class).is_none() {
            return;
        }
        let rules = self.rules_of(key.matched, key.transition_ok, key.small);
        let stage = match key.currency {
            Currency::Current => Stage::Current,
            Currency::Noncurrent => Stage::Noncurrent { rank: key.rank },
        };
        let entered = -f64::from(key.written_days);
        self.live(
            &rules,
            tally,
            key.small,
            stage,
            f64::from(key.age_days),
            class,
            entered,
            0.0,
        );
    }

    /// Follows `tally` from day `t0` (where it is `age` days into its stage, in `class` since day
    /// `entered`) to the horizon.
    #[allow(clippy::too_many_arguments)]
    fn live(
        &mut self,
        rules: &[(&'r LifecycleRuleDoc, bool)],
        tally: Tally,
        small: bool,
        stage: Stage,
        age: f64,
        mut class: &'r str,
        mut entered: f64,
        t0: f64,
    ) {
        let prices = self.inputs.prices;
        let Some(standard) = prices.get(STANDARD) else {
            self.out.unpriced.insert(STANDARD.to_string());
            return;
        };
        let at = |days: u32| t0 + (f64::from(days) - age).max(0.0);
        let mut events: Vec<(f64, Event<'r>)> = Vec::new();
        for (rule, may_transition) in rules {
            match stage {
                Stage::Current => {
                    events.extend(rule.expiration_days.map(|d| (at(d), Event::Expire)));
                    if *may_transition {
                        events.extend(
                            rule.transitions
                                .iter()
                                .map(|t| (at(t.days), Event::Transition(t.storage_class.as_str()))),
                        );
                    }
                }
                Stage::Noncurrent { rank } => {
                    if rank >= rule.noncurrent_newer_versions.unwrap_or(0) {
                        events.extend(rule.noncurrent_expiration_days.map(|d| (at(d), Event::Expire)));
                    }
                    if *may_transition {
                        events.extend(
                            rule.noncurrent_transitions
                                .iter()
                                .filter(|t| rank >= t.newer_noncurrent_versions.unwrap_or(0))
                                .map(|t| (at(t.days), Event::Transition(t.storage_class.as_str()))),
                        );
                    }
                }
            }
        }
        // Same day: expiration wins over transitions (as S3 resolves conflicts), then the cheapest
        // class first, so a dearer transition on the same day no longer applies.
        let storage_price = |e: &Event<'_>| match e {
            Event::Expire => -1.0,
            Event::Transition(c) => prices.get(*c).map_or(f64::MAX, |p| p.storage_gb_month),
        };
        events.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then(storage_price(&a.1).total_cmp(&storage_price(&b.1)))
        });

        let mut now = t0;
        for (t, event) in events {
            if t >= HORIZON {
                break;
            }
            let Some(current) = prices.get(class) else { return };
            let rate = monthly_rate(current, standard, tally, small);
            self.charge_storage(rate, now, t);
            now = t;
            match event {
                Event::Transition(target) => {
                    let Some(next) = self.price(target) else { continue };
                    let down = match (waterfall(class), waterfall(target)) {
                        (Some(from), Some(to)) => to > from,
                        _ => false,
                    };
                    if !down || next.storage_gb_month >= current.storage_gb_month {
                        continue;
                    }
                    self.early_deletion(current, rate, t - entered, t);
                    self.out.months[Self::month_of(t)].transitions +=
                        tally.objects as f64 * next.transition_per_1000 / 1000.0;
                    self.out.transitioned += tally.objects;
                    class = target;
                    entered = t;
                }
                Event::Expire => {
                    match stage {
                        // In a versioned bucket the expired current version stays, as the newest
                        // noncurrent version, in its class: no early deletion yet.
                        Stage::Current if self.inputs.versioned => {
                            self.live(
                                rules,
                                tally,
                                small,
                                Stage::Noncurrent { rank: 0 },
                                0.0,
                                class,
                                entered,
                                t,
                            );
                        }
                        Stage::Current | Stage::Noncurrent { .. } => {
                            self.early_deletion(current, rate, t - entered, t);
                            self.out.expired += tally.objects;
                        }
                    }
                    return;
                }
            }
        }
        if let Some(current) = prices.get(class) {
            let rate = monthly_rate(current, standard, tally, small);
            self.charge_storage(rate, now, HORIZON);
        }
    }

    /// The rest of the minimum duration of a class left after `days_in_class`, at day `t`.
    fn early_deletion(&mut self, p: &ClassPrice, rate: f64, days_in_class: f64, t: f64) {
        let short = f64::from(p.min_days) - days_in_class;
        if short > 0.0 {
            self.out.months[Self::month_of(t)].early_deletion += rate * short / MONTH_DAYS;
        }
    }

    /// The parts of incomplete multipart uploads, billed at STANDARD's price until a rule aborts them.
    fn uploads(&mut self) {
        let Some(standard) = self.inputs.prices.get(STANDARD) else {
            return;
        };
        for (key, tally) in &self.inputs.aggregates.upload_groups {
            let abort = self
                .rules_of(key.matched, 0, true)
                .iter()
                .filter_map(|(r, _)| r.abort_incomplete_multipart_upload_days)
                .min();
            let end = abort.map_or(HORIZON, |d| (f64::from(d) - f64::from(key.age_days)).max(0.0));
            let rate = tally.bytes as f64 / GB * standard.storage_gb_month;
            self.charge_storage(rate, 0.0, end.min(HORIZON));
        }
    }
}

/// A class's place in the lifecycle waterfall (transitions only go further down), from the manifest's
/// one definition; `None` for classes lifecycle cannot move to.
fn waterfall(class: &str) -> Option<u8> {
    crate::import::storage_class(class).ok().map(|c| c.waterfall_rank())
}
