//! The cost report as text (tables), JSON and markdown. Pure.

use super::BucketCost;
use super::prices::Prices;
use super::recommend::Verdict;
use crate::output::{Align, table};

/// Dollars: cents for sums of a dollar and more, four decimals below, so small buckets do not all
/// read `$0.00`.
pub fn money(x: f64) -> String {
    if x.abs() >= 1.0 {
        format!("${x:.2}")
    } else {
        format!("${x:.4}")
    }
}

/// The header line naming the price table.
fn provenance(prices: &Prices) -> String {
    format!(
        "Prices: {} (taken {}, {}).",
        prices.source, prices.taken, prices.currency
    )
}

/// Tables, one section per bucket.
pub fn text(buckets: &[BucketCost], prices: &Prices) -> String {
    let mut out = String::new();
    for b in buckets {
        out.push_str(&format!(
            "bucket.{} ({}, {}{})\n",
            b.bucket,
            b.name,
            b.region,
            if b.versioned { ", versioned" } else { "" }
        ));
        out.push_str(&format!(
            "  {} current ({}), {} noncurrent ({}), {} delete markers, {} incomplete uploads ({} in parts listed)\n",
            b.current.objects,
            crate::words::size(b.current.bytes),
            b.noncurrent.objects,
            crate::words::size(b.noncurrent.bytes),
            b.delete_markers,
            b.incomplete_uploads.uploads,
            crate::words::size(b.incomplete_uploads.bytes)
        ));
        for (title, bands) in [("class", &b.by_class), ("size", &b.by_size), ("age", &b.by_age)] {
            let mut rows = vec![vec![title.to_string(), "objects".to_string(), "bytes".to_string()]];
            rows.extend(bands.iter().filter(|band| band.objects > 0).map(|band| {
                vec![
                    band.band.clone(),
                    band.objects.to_string(),
                    crate::words::size(band.bytes),
                ]
            }));
            if rows.len() > 1 {
                out.push('\n');
                for line in table(&rows, &[Align::Left, Align::Right, Align::Right]) {
                    out.push_str(&format!("  {line}\n"));
                }
            }
        }
        out.push('\n');
        let mut rows = vec![vec![
            "month".to_string(),
            "storage".to_string(),
            "transitions".to_string(),
            "early deletion".to_string(),
            "total".to_string(),
        ]];
        rows.push(vec![
            "today".to_string(),
            money(b.monthly_today),
            String::new(),
            String::new(),
            money(b.monthly_today),
        ]);
        for (i, m) in b.projection.iter().enumerate() {
            rows.push(vec![
                (i + 1).to_string(),
                money(m.storage),
                money(m.transitions),
                money(m.early_deletion),
                money(m.total()),
            ]);
        }
        for line in table(
            &rows,
            &[Align::Left, Align::Right, Align::Right, Align::Right, Align::Right],
        ) {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str(&format!(
            "\n  12 months under the manifest's lifecycle rules: {} ({} at today's cost; saves {}, one-time fees {})\n",
            money(b.projected_12_months),
            money(b.monthly_today * 12.0),
            money(b.savings_12_months),
            money(b.one_time_fees)
        ));
        for r in &b.recommendations {
            out.push_str(&format!("  recommend: {}\n", recommendation_text(r)));
        }
        for n in &b.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out.push('\n');
    }
    // Every bucket on one screen at the end, where a long report's reader lands.
    if buckets.len() > 1 {
        let aligns = [
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
        ];
        for line in table(&summary_rows(buckets), &aligns) {
            out.push_str(&format!("{line}\n"));
        }
        out.push('\n');
    }
    out.push_str(&provenance(prices));
    out.push('\n');
    out
}

/// The summary of every bucket: a header, one row per bucket, and the totals when there are several.
fn summary_rows(buckets: &[BucketCost]) -> Vec<Vec<String>> {
    let row = |name: String, region: String, objects: u64, size: u64, figures: [f64; 4]| {
        let mut row = vec![name, region, objects.to_string(), crate::words::size(size)];
        row.extend(figures.iter().map(|f| money(*f)));
        row
    };
    let mut rows = vec![
        [
            "bucket",
            "region",
            "objects",
            "bytes",
            "monthly today",
            "next 12 months",
            "savings",
            "one-time fees",
        ]
        .map(str::to_string)
        .to_vec(),
    ];
    for b in buckets {
        rows.push(row(
            b.bucket.clone(),
            b.region.clone(),
            b.current.objects + b.noncurrent.objects,
            b.current.bytes + b.noncurrent.bytes,
            [
                b.monthly_today,
                b.projected_12_months,
                b.savings_12_months,
                b.one_time_fees,
            ],
        ));
    }
    if buckets.len() > 1 {
        let sum = |f: fn(&BucketCost) -> f64| buckets.iter().map(f).sum::<f64>();
        rows.push(row(
            "total".to_string(),
            String::new(),
            buckets.iter().map(|b| b.current.objects + b.noncurrent.objects).sum(),
            buckets.iter().map(|b| b.current.bytes + b.noncurrent.bytes).sum(),
            [
                sum(|b| b.monthly_today),
                sum(|b| b.projected_12_months),
                sum(|b| b.savings_12_months),
                sum(|b| b.one_time_fees),
            ],
        ));
    }
    rows
}

fn recommendation_text(r: &super::recommend::Recommendation) -> String {
    match r.verdict {
        Verdict::PaysBack => format!(
            "{}: saves {} over 12 months after {} in one-time fees (paid back in month {}); {} a month by month 12",
            r.rule,
            money(r.savings_12_months),
            money(r.one_time_fees),
            r.payback_month.map_or_else(|| "-".to_string(), |m| m.to_string()),
            money(r.month_12)
        ),
        Verdict::FeesExceedYear => format!(
            "{} would cost {} a month by month 12, but its one-time fees of {} exceed a year of savings",
            r.rule,
            money(r.month_12),
            money(r.one_time_fees)
        ),
    }
}

/// The report as one JSON document.
pub fn json(buckets: &[BucketCost], prices: &Prices) -> String {
    let doc = serde_json::json!({
        "prices": { "source": prices.source, "taken": prices.taken, "currency": prices.currency },
        "buckets": buckets,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// A markdown summary: one table row per bucket, then its recommendations and notes.
pub fn markdown(buckets: &[BucketCost], prices: &Prices) -> String {
    let mut out = String::new();
    for (i, row) in summary_rows(buckets).iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(column, cell)| match (i, column) {
                // The bucket's logical name as code; the header and the total row as they are.
                (0, _) | (_, 1..) => cell.clone(),
                (_, 0) if i == buckets.len() + 1 => format!("**{cell}**"),
                (_, 0) => format!("`{cell}`"),
            })
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
        if i == 0 {
            out.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
        }
    }
    for b in buckets {
        if b.recommendations.is_empty() && b.notes.is_empty() {
            continue;
        }
        out.push_str(&format!("\n**`{}`**\n\n", b.bucket));
        for r in &b.recommendations {
            out.push_str(&format!("- Recommendation: {}\n", recommendation_text(r)));
        }
        for n in &b.notes {
            out.push_str(&format!("- Note: {n}\n"));
        }
    }
    out.push_str(&format!("\n{}\n", provenance(prices)));
    out
}
