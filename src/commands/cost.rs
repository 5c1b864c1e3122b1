//! `s3rec cost -e ENV [BUCKET...]`: what each bucket costs today, what the manifest's lifecycle rules
//! make it cost over the next 12 months, and the rules that would pay back (docs/cost.md). The report
//! is on stdout (a table, `--format json` or `--format markdown`); progress is on stderr.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::exit;
use super::plan::workspace;
use crate::cli::ColorChoice;
use crate::cost::prices::Prices;
use crate::cost::run::{self, CostError};
use crate::cost::{BucketCost, render};
use crate::output::print_data;

#[derive(Debug, Args)]
pub struct CostArgs {
    /// Environment whose buckets to price.
    #[arg(short, long, value_name = "ENV")]
    pub env: String,
    /// Buckets by logical name (their keys under `buckets:`); every bucket of the manifest when left out.
    #[arg(value_name = "BUCKET")]
    pub buckets: Vec<String>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = CostFormat::Text)]
    pub format: CostFormat,
    /// Where the objects come from: a listing of every version (`listing`), or the latest S3 Inventory
    /// report (`inventory`, CSV) of the bucket's inventory configuration in the manifest.
    #[arg(long, value_enum, default_value_t = CostSource::Listing)]
    pub from: CostSource,
    /// A price table replacing the embedded one (the format of src/cost/prices.json; docs/cost.md).
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostSource {
    Listing,
    Inventory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostFormat {
    Text,
    Json,
    Markdown,
}

/// A line on stderr every this often while a bucket is listed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// A cost error with its hint, as miette shows it; `plan --cost` shares it.
pub(crate) fn located(e: CostError) -> miette::Report {
    super::report(&e, e.hint())
}

pub fn run(args: &CostArgs, color: ColorChoice) -> miette::Result<u8> {
    let Some(ws) = workspace(&args.env, color)? else {
        return Ok(exit::ERROR);
    };
    let prices = Prices::load(args.prices.as_deref()).map_err(|e| located(e.into()))?;
    let default_region = run::default_region(&ws.manifest);
    let targets = run::targets(&ws.manifest, &args.buckets, &default_region).map_err(located)?;
    // Every region must be priced before anything is listed: a long listing must not end in this error.
    for t in &targets {
        prices.region(&t.region).map_err(|e| located(e.into()))?;
    }
    let locations = match args.from {
        CostSource::Listing => None,
        CostSource::Inventory => Some(run::report_locations(&ws.manifest, &targets).map_err(located)?),
    };
    let now_ms = run::now_ms();
    let runtime = super::runtime()?;
    let reports: Vec<BucketCost> = runtime.block_on(async {
        // The caller's identity is not needed to list buckets: STS is asked only for the account guard
        // (and what else needs it), as for sync, so S3-compatible servers without STS work.
        let conn = super::connect_for_sync(&ws).await?;
        let mut reports = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let started = Instant::now();
            let bar = super::progress_bar("{prefix} {pos} versions read {elapsed}");
            if let Some(bar) = &bar {
                bar.set_prefix(format!("bucket.{}", t.logical));
            }
            let mut last = Instant::now();
            let progress = |seen: u64| match &bar {
                Some(bar) => bar.set_position(seen),
                None if last.elapsed() >= PROGRESS_EVERY => {
                    last = Instant::now();
                    eprintln!("bucket.{}: {seen} versions read...", t.logical);
                }
                None => {}
            };
            let (aggregates, notes) = match locations.as_ref().and_then(|l| l.get(i)) {
                Some(location) => run::measure_inventory(&conn.aws, t, location, &prices, now_ms, progress)
                    .await
                    .map_err(located)?,
                None => (
                    run::measure(&conn.aws, t, &prices, now_ms, progress)
                        .await
                        .map_err(located)?,
                    Vec::new(),
                ),
            };
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            eprintln!(
                "bucket.{}: {} read in {}",
                t.logical,
                crate::words::counted(
                    usize::try_from(aggregates.current.objects + aggregates.noncurrent.objects).unwrap_or(usize::MAX),
                    "version"
                ),
                crate::output::duration_text(started.elapsed())
            );
            let mut report = run::report(t, &aggregates, &prices).map_err(located)?;
            report.notes.extend(notes);
            reports.push(report);
        }
        Ok::<_, miette::Report>(reports)
    })?;
    let text = match args.format {
        CostFormat::Text => render::text(&reports, &prices),
        CostFormat::Json => render::json(&reports, &prices),
        CostFormat::Markdown => render::markdown(&reports, &prices),
    };
    print_data(&text).map_err(|e| miette::miette!("cannot write the report: {e}"))?;
    Ok(exit::OK)
}
