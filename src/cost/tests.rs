//! Hand-computed figures for small fixtures. Prices are the embedded us-east-1 table's; a GB is 2^30
//! bytes and a month 30 days, as docs/cost.md says.

use super::aggregate::{Aggregates, Aggregator, Currency, GroupKey, Listed, Tally, Upload};
use super::prices::{Prices, RegionPrices};
use super::project::{Inputs, Projection, project, today};
use super::recommend::{Verdict, recommend};
use crate::model::{LifecycleRuleDoc, TransitionDoc};

const DAY_MS: i64 = 86_400_000;
const NOW: i64 = 2_000 * DAY_MS;
const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
const KIB: u64 = 1 << 10;

fn east() -> RegionPrices {
    Prices::embedded()
        .expect("embedded")
        .region("us-east-1")
        .expect("us-east-1")
        .clone()
}

/// `(key, latest, size, days ago, class)`, in listing order.
type Row = (&'static str, bool, u64, i64, &'static str);

fn aggregate(rules: &[LifecycleRuleDoc], rows: &[Row], uploads: &[(i64, u64)]) -> Aggregates {
    let mut a = Aggregator::new(rules, NOW, 180);
    for (key, latest, size, days, class) in rows {
        a.version(Listed {
            key,
            is_latest: *latest,
            delete_marker: false,
            size: *size,
            last_modified_ms: NOW - days * DAY_MS,
            storage_class: class,
        });
    }
    for (days, bytes) in uploads {
        a.upload(Upload {
            key: "upload",
            initiated_ms: NOW - days * DAY_MS,
            bytes: Some(*bytes),
        });
    }
    a.finish()
}

fn run(rules: &[LifecycleRuleDoc], versioned: bool, agg: &Aggregates) -> Projection {
    let prices = east();
    project(
        &Inputs {
            aggregates: agg,
            prices: &prices,
            rules,
            versioned,
        },
        None,
    )
}

fn close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
}

fn transition(id: &str, days: u32, class: &str) -> LifecycleRuleDoc {
    let mut r = LifecycleRuleDoc::enabled(id);
    r.transitions.push(TransitionDoc {
        days,
        storage_class: class.to_string(),
    });
    r
}

#[test]
fn each_storage_class_costs_its_price_per_gb_month_plus_its_overheads() {
    // 8 KiB at STANDARD's price and 32 KiB at the class's price per object, in GB.
    let std_overhead = 8.0 * 1024.0 / GIB as f64 * 0.023;
    let class_overhead = 32.0 * 1024.0 / GIB as f64;
    let cases = [
        ("STANDARD", 0.023),
        ("STANDARD_IA", 0.0125),
        ("ONEZONE_IA", 0.01),
        ("GLACIER_IR", 0.004),
        ("GLACIER", 0.0036 + class_overhead * 0.0036 + std_overhead),
        ("DEEP_ARCHIVE", 0.00099 + class_overhead * 0.00099 + std_overhead),
        // Monitoring: $0.0025 per 1,000 objects of 128 KiB and more.
        ("INTELLIGENT_TIERING", 0.023 + 0.0025 / 1000.0),
    ];
    for (class, expected) in cases {
        let agg = aggregate(&[], &[("k", true, GIB, 400, class)], &[]);
        let (monthly, unpriced) = today(&agg, &east());
        assert!(unpriced.is_empty());
        close(monthly, expected);
        // Without rules every month costs the same.
        let p = run(&[], false, &agg);
        for m in p.months {
            close(m.total(), expected);
        }
    }
}

#[test]
fn objects_under_128_kib_bill_as_128_kib_in_ia_and_are_not_transitioned() {
    let rows: Vec<Row> = (0..1000).map(|_| ("small", true, KIB, 400, "STANDARD_IA")).collect();
    let agg = aggregate(&[], &rows, &[]);
    // 1,000 × 128 KiB = 125 MiB = 0.1220703125 GB.
    close(today(&agg, &east()).0, 0.1220703125 * 0.0125);

    // In STANDARD they bill their own 1,000 KiB, and a transition rule does not move them.
    let rows: Vec<Row> = (0..1000).map(|_| ("small", true, KIB, 400, "STANDARD")).collect();
    let rules = [transition("ia", 30, "STANDARD_IA")];
    let agg = aggregate(&rules, &rows, &[]);
    let p = run(&rules, false, &agg);
    assert_eq!(p.transitioned, 0);
    for m in p.months {
        close(m.total(), 1000.0 * KIB as f64 / GIB as f64 * 0.023);
    }
    // A rule whose size filter is below 128 KiB opts them in.
    let mut opt_in = transition("ia", 30, "STANDARD_IA");
    opt_in.object_size_greater_than = Some(512);
    let rules = [opt_in];
    let agg = aggregate(&rules, &rows, &[]);
    let p = run(&rules, false, &agg);
    assert_eq!(p.transitioned, 1000);
    // Month 1 at IA's price for the 128 KiB minimum, plus 1,000 transitions at $0.01 per 1,000.
    close(p.months[0].total(), 0.1220703125 * 0.0125 + 0.01);
}

#[test]
fn a_transition_costs_its_request_fee_in_the_month_it_happens() {
    // 1,000 objects of 1 MiB written today; to STANDARD_IA at 30 days.
    let rows: Vec<Row> = (0..1000).map(|_| ("k", true, MIB, 0, "STANDARD")).collect();
    let rules = [transition("ia", 30, "STANDARD_IA")];
    let agg = aggregate(&rules, &rows, &[]);
    let p = run(&rules, false, &agg);
    let gb = 1000.0 / 1024.0;
    close(p.months[0].total(), gb * 0.023);
    close(p.months[1].storage, gb * 0.0125);
    close(p.months[1].transitions, 0.01);
    close(p.months[1].early_deletion, 0.0);
    for m in &p.months[2..] {
        close(m.total(), gb * 0.0125);
    }
    close(p.total(), gb * 0.023 + 11.0 * gb * 0.0125 + 0.01);
    assert_eq!(p.transitioned, 1000);
}

#[test]
fn deleting_before_the_minimum_duration_bills_the_rest_of_it() {
    // 1 GiB in STANDARD_IA (30 days minimum) written 10 days ago, expired at 15 days: 5 days stored,
    // then the missing 15 days billed as early deletion.
    let mut rule = LifecycleRuleDoc::enabled("expire");
    rule.expiration_days = Some(15);
    let rules = [rule];
    let agg = aggregate(&rules, &[("k", true, GIB, 10, "STANDARD_IA")], &[]);
    let p = run(&rules, false, &agg);
    close(p.months[0].storage, 0.0125 * 5.0 / 30.0);
    close(p.months[0].early_deletion, 0.0125 * 15.0 / 30.0);
    for m in &p.months[1..] {
        close(m.total(), 0.0);
    }
    assert_eq!(p.expired, 1);
    // Moving IA to GLACIER at day 20 bills IA's remaining 10 days, then GLACIER's 90-day minimum is
    // met only if it stays; the projection ends before anything leaves GLACIER.
    let rules = [transition("glacier", 20, "GLACIER")];
    let agg = aggregate(&rules, &[("k", true, GIB, 10, "STANDARD_IA")], &[]);
    let p = run(&rules, false, &agg);
    close(p.months[0].early_deletion, 0.0125 * 10.0 / 30.0);
    close(p.months[0].transitions, 0.03 / 1000.0);
}

#[test]
fn noncurrent_versions_expire_by_days_since_noncurrent_and_keep_the_newer_ones() {
    // Current 1 GiB written 40 days ago; the version before it (1 GiB, 100 days old) became
    // noncurrent 40 days ago and expires 60 days after that: 20 more days of storage.
    let mut rule = LifecycleRuleDoc::enabled("nc");
    rule.noncurrent_expiration_days = Some(60);
    let rules = [rule];
    let rows = [("k", true, GIB, 40, "STANDARD"), ("k", false, GIB, 100, "STANDARD")];
    let agg = aggregate(&rules, &rows, &[]);
    let p = run(&rules, true, &agg);
    close(p.months[0].total(), 0.023 + 0.023 * 20.0 / 30.0);
    for m in &p.months[1..] {
        close(m.total(), 0.023);
    }
    assert_eq!(p.expired, 1);

    // Keeping one newer noncurrent version: of two noncurrent versions only the older one goes (at
    // once, being past 30 days), the newer one stays.
    let mut rule = LifecycleRuleDoc::enabled("nc");
    rule.noncurrent_expiration_days = Some(30);
    rule.noncurrent_newer_versions = Some(1);
    let rules = [rule];
    let rows = [
        ("k", true, GIB, 10, "STANDARD"),
        ("k", false, GIB, 50, "STANDARD"),
        ("k", false, GIB, 100, "STANDARD"),
    ];
    let agg = aggregate(&rules, &rows, &[]);
    let p = run(&rules, true, &agg);
    for m in p.months {
        close(m.total(), 2.0 * 0.023);
    }
    assert_eq!(p.expired, 1);
}

#[test]
fn an_expired_current_version_of_a_versioned_bucket_becomes_noncurrent() {
    // 1 GiB written 10 days ago expires at 20 days (day 10 from now) and, being noncurrent from then,
    // goes 30 days later (day 40).
    let mut rule = LifecycleRuleDoc::enabled("both");
    rule.expiration_days = Some(20);
    rule.noncurrent_expiration_days = Some(30);
    let rules = [rule];
    let agg = aggregate(&rules, &[("k", true, GIB, 10, "STANDARD")], &[]);
    let p = run(&rules, true, &agg);
    close(p.months[0].total(), 0.023);
    close(p.months[1].total(), 0.023 * 10.0 / 30.0);
    close(p.months[2].total(), 0.0);
    // Unversioned, the same rule deletes it at day 10.
    let p = run(&rules, false, &agg);
    close(p.months[0].total(), 0.023 * 10.0 / 30.0);
}

#[test]
fn incomplete_uploads_cost_their_parts_until_a_rule_aborts_them() {
    // 1 GiB of parts started 2 days ago; aborted 7 days after the start: 5 more days.
    let agg = aggregate(&[], &[], &[(2, GIB)]);
    close(today(&agg, &east()).0, 0.023);
    let mut rule = LifecycleRuleDoc::enabled("abort");
    rule.abort_incomplete_multipart_upload_days = Some(7);
    let rules = [rule];
    let agg = aggregate(&rules, &[], &[(2, GIB)]);
    let p = run(&rules, false, &agg);
    close(p.months[0].total(), 0.023 * 5.0 / 30.0);
    close(p.months[1].total(), 0.0);
}

/// One group of `objects` current STANDARD versions of `size` bytes each, 400 days old.
fn one_group(objects: u64, size: u64) -> Aggregates {
    let mut agg = Aggregates {
        classes: vec!["STANDARD".to_string()],
        ..Aggregates::default()
    };
    let tally = Tally {
        objects,
        bytes: objects * size,
    };
    agg.current = tally;
    agg.groups.insert(
        GroupKey {
            currency: Currency::Current,
            class: 0,
            small: size < super::aggregate::SMALL,
            age_days: 400,
            written_days: 180,
            rank: 0,
            matched: 0,
            transition_ok: 0,
        },
        tally,
    );
    agg
}

#[test]
fn recommends_the_transition_that_saves_most_and_says_when_fees_exceed_a_year() {
    // 100 objects of 1 GiB, old: Deep Archive saves most and pays back in the first month.
    let agg = one_group(100, GIB);
    let prices = east();
    let inputs = Inputs {
        aggregates: &agg,
        prices: &prices,
        rules: &[],
        versioned: false,
    };
    let base = project(&inputs, None);
    let recs = recommend(&inputs, &base);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].verdict, Verdict::PaysBack);
    assert!(recs[0].rule.contains("DEEP_ARCHIVE"), "{}", recs[0].rule);
    assert_eq!(recs[0].payback_month, Some(1));
    close(recs[0].one_time_fees, 100.0 * 0.05 / 1000.0);

    // 1,000,000 objects of 150 KiB with only Deep Archive to go to: $50 of transitions against
    // (3.2902 - 0.3473) a month of savings, $35.3 a year.
    let mut only_deep: RegionPrices = RegionPrices::new();
    only_deep.insert("STANDARD".into(), prices["STANDARD"].clone());
    only_deep.insert("DEEP_ARCHIVE".into(), prices["DEEP_ARCHIVE"].clone());
    let agg = one_group(1_000_000, 150 * KIB);
    let inputs = Inputs {
        aggregates: &agg,
        prices: &only_deep,
        rules: &[],
        versioned: false,
    };
    let base = project(&inputs, None);
    let recs = recommend(&inputs, &base);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].verdict, Verdict::FeesExceedYear);
    close(recs[0].one_time_fees, 50.0);
    let gb = |bytes: f64| bytes / GIB as f64;
    let deep = gb(1e6 * 150.0 * 1024.0) * 0.00099 + gb(1e6 * 32.0 * 1024.0) * 0.00099 + gb(1e6 * 8.0 * 1024.0) * 0.023;
    assert!((recs[0].month_12 - deep).abs() < 1e-9, "{} != {deep}", recs[0].month_12);
    assert_eq!(recs[0].payback_month, None);
}

#[test]
fn recommends_expiring_noncurrent_versions_and_aborting_uploads() {
    let rows = [("k", true, GIB, 10, "STANDARD"), ("k", false, GIB, 100, "STANDARD")];
    let agg = aggregate(&[], &rows, &[(1, GIB)]);
    let prices = east();
    let inputs = Inputs {
        aggregates: &agg,
        prices: &prices,
        rules: &[],
        versioned: true,
    };
    let base = project(&inputs, None);
    let recs = recommend(&inputs, &base);
    let rules: Vec<&str> = recs.iter().map(|r| r.rule.as_str()).collect();
    assert!(
        rules
            .iter()
            .any(|r| r.starts_with("expire noncurrent versions 30 days")),
        "{rules:?}"
    );
    assert!(
        rules
            .iter()
            .any(|r| r.starts_with("abort incomplete multipart uploads 7 days")),
        "{rules:?}"
    );
}

#[test]
fn uploads_into_a_class_cost_its_storage_and_put_price_against_standard() {
    // 1,000 uploads of 1 MiB into GLACIER: 1,000 MiB plus 1,000 × 32 KiB at $0.0036, 1,000 × 8 KiB at
    // STANDARD's $0.023; PUTs at $0.03 instead of $0.005 per 1,000.
    let (before, after, fees) =
        super::project::upload_class_delta(&east(), "GLACIER", 1000, 1000 * MIB).expect("priced");
    close(before, 1000.0 / 1024.0 * 0.023);
    let gb = |b: f64| b / GIB as f64;
    close(
        after,
        gb(1000.0 * (MIB + 32 * KIB) as f64) * 0.0036 + gb(1000.0 * 8.0 * KIB as f64) * 0.023,
    );
    close(fees, 1000.0 * (0.03 - 0.005) / 1000.0);
    // 10 uploads of 1 KiB into STANDARD_IA bill 128 KiB each.
    let (_, after, _) = super::project::upload_class_delta(&east(), "STANDARD_IA", 10, 10 * KIB).expect("priced");
    close(after, gb(10.0 * 128.0 * KIB as f64) * 0.0125);
    assert!(super::project::upload_class_delta(&east(), "REDUCED_REDUNDANCY", 1, 1).is_none());
}

#[test]
fn the_text_and_markdown_reports_end_with_every_bucket_and_their_total() {
    let prices = Prices::embedded().expect("embedded");
    let east = east();
    let report = |bucket: &str, size: u64| {
        let agg = aggregate(&[], &[("k", true, size, 10, "STANDARD")], &[]);
        let facts = super::BucketFacts {
            bucket,
            name: bucket,
            region: "us-east-1",
            versioned: false,
            rules: &[],
        };
        super::analyse(&facts, &agg, &east)
    };
    // 1 GiB and 3 GiB of STANDARD: $0.023 and $0.069 a month, $0.092 together.
    let buckets = [report("small", GIB), report("large", 3 * GIB)];
    let text = super::render::text(&buckets, &prices);
    let total = text
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_else(|| panic!("no total row in\n{text}"));
    let cells: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(cells[..5], ["total", "2", "4.0", "GiB", "$0.0920"], "{total}");
    let markdown = super::render::markdown(&buckets, &prices);
    assert!(
        markdown.contains("| `small` | us-east-1 | 1 | 1.0 GiB | $0.0230 |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| **total** |  | 2 | 4.0 GiB | $0.0920 |"),
        "{markdown}"
    );
    // One bucket needs no total.
    assert!(!super::render::text(&buckets[..1], &prices).contains("\ntotal"));
}
