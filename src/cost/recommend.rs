//! Recommendations: whole-bucket rules added to the manifest's that would cost less over the 12 months
//! (fees included), and the best transition whose fees a year of savings does not pay back. Pure.

use serde::Serialize;

use super::project::{Inputs, MONTHS, Projection, project};
use crate::model::{LifecycleRuleDoc, NoncurrentTransitionDoc, TransitionDoc};

/// The transitions tried: target classes and days after creation.
const TARGETS: [&str; 4] = ["STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"];
const DAYS: [u32; 3] = [30, 90, 180];

/// Days after which the candidate rules expire noncurrent versions and abort incomplete uploads.
const NONCURRENT_DAYS: u32 = 30;
const ABORT_DAYS: u32 = 7;

/// Whether a candidate pays for itself within the 12 months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    PaysBack,
    /// Cheaper to store afterwards, but its one-time fees exceed a year of savings.
    FeesExceedYear,
}

/// One candidate rule and what it would change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// The rule in words.
    pub rule: String,
    pub verdict: Verdict,
    /// Over the 12 months, fees included: the manifest's rules' total minus the candidate's.
    pub savings_12_months: f64,
    /// The candidate's one-time fees (transition requests and early deletion).
    pub one_time_fees: f64,
    /// The monthly cost in the 12th month with the candidate rule added.
    pub month_12: f64,
    /// The first month (1-based) by whose end the cumulative savings are positive.
    pub payback_month: Option<usize>,
}

/// The recommendations for `inputs`, given the projection of its own rules (`base`).
pub fn recommend(inputs: &Inputs<'_>, base: &Projection) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut best: Option<Recommendation> = None;
    let mut best_unpaid: Option<Recommendation> = None;
    for target in TARGETS {
        if !inputs.prices.contains_key(target) {
            continue;
        }
        for days in DAYS {
            let mut rule = LifecycleRuleDoc::enabled("s3rec-candidate");
            rule.transitions.push(TransitionDoc {
                days,
                storage_class: target.to_string(),
            });
            rule.noncurrent_transitions.push(NoncurrentTransitionDoc {
                days,
                storage_class: target.to_string(),
                newer_noncurrent_versions: None,
            });
            let text = format!("transition objects of 128 KiB and more to {target} after {days} days");
            let Some(r) = judge(inputs, base, &rule, text) else {
                continue;
            };
            let slot = match r.verdict {
                Verdict::PaysBack => &mut best,
                Verdict::FeesExceedYear => &mut best_unpaid,
            };
            let better = match (slot.as_ref(), r.verdict) {
                (None, _) => true,
                (Some(old), Verdict::PaysBack) => r.savings_12_months > old.savings_12_months,
                (Some(old), Verdict::FeesExceedYear) => r.month_12 < old.month_12,
            };
            if better {
                *slot = Some(r);
            }
        }
    }
    // A transition that pays back makes one that does not beside it moot.
    out.extend(best.or(best_unpaid));
    if inputs.aggregates.noncurrent.objects > 0 {
        let mut rule = LifecycleRuleDoc::enabled("s3rec-candidate");
        rule.noncurrent_expiration_days = Some(NONCURRENT_DAYS);
        let text = format!("expire noncurrent versions {NONCURRENT_DAYS} days after they become noncurrent");
        out.extend(judge(inputs, base, &rule, text).filter(|r| r.verdict == Verdict::PaysBack));
    }
    if inputs.aggregates.uploads.bytes > 0 {
        let mut rule = LifecycleRuleDoc::enabled("s3rec-candidate");
        rule.abort_incomplete_multipart_upload_days = Some(ABORT_DAYS);
        let text = format!("abort incomplete multipart uploads {ABORT_DAYS} days after they start");
        out.extend(judge(inputs, base, &rule, text).filter(|r| r.verdict == Verdict::PaysBack));
    }
    out
}

/// The candidate `rule` against `base`; `None` when it changes nothing worth saying (no lower cost
/// even in the last month).
fn judge(inputs: &Inputs<'_>, base: &Projection, rule: &LifecycleRuleDoc, text: String) -> Option<Recommendation> {
    let with = project(inputs, Some(rule));
    let savings = base.total() - with.total();
    let month_12 = with.months[MONTHS - 1].total();
    // Below a hundredth of a cent nothing is worth a rule.
    const EPSILON: f64 = 0.0001;
    let verdict = if savings > EPSILON {
        Verdict::PaysBack
    } else if month_12 < base.months[MONTHS - 1].total() - EPSILON {
        Verdict::FeesExceedYear
    } else {
        return None;
    };
    let mut cumulative = 0.0;
    let payback_month = base.months.iter().zip(&with.months).position(|(b, w)| {
        cumulative += b.total() - w.total();
        cumulative > 0.0
    });
    Some(Recommendation {
        rule: text,
        verdict,
        savings_12_months: savings,
        one_time_fees: with.one_time() - base.one_time(),
        month_12,
        payback_month: payback_month.map(|m| m + 1),
    })
}
