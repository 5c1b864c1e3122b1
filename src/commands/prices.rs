//! `s3rec prices FILE...`: a price table for `cost --prices` built from AWS's Price List bulk files
//! (CSV, the AmazonS3 and AmazonS3GlacierDeepArchive offers), for every region they list. The table is
//! JSON on stdout or in `--out`; what was left out, and why, is on stderr.

use std::path::PathBuf;

use clap::Args;
use miette::{IntoDiagnostic, WrapErr};

use super::exit;
use crate::cost::price_list::{OFFERS, PriceList, PriceListError, offer_url};
use crate::cost::prices::Prices;

#[derive(Debug, Args)]
#[command(after_help = price_list_help())]
pub struct PricesArgs {
    /// The bulk files, in CSV: AmazonS3's and AmazonS3GlacierDeepArchive's (`index.csv` of each offer).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Only this region (repeatable); every region of the files when left out.
    #[arg(long, value_name = "REGION")]
    pub region: Vec<String>,
    /// Write the table here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn price_list_help() -> String {
    format!(
        "AWS publishes the files at\n  {}\n  {}\nA class whose prices the files do not give unambiguously is left out of its region and named on stderr.",
        offer_url(OFFERS[0]),
        offer_url(OFFERS[1])
    )
}

fn located(e: PriceListError) -> miette::Report {
    super::report(&e, e.hint())
}

pub fn run(args: &PricesArgs) -> miette::Result<u8> {
    let mut list = PriceList::default();
    for path in &args.files {
        let file = std::fs::File::open(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read {}", path.display()))?;
        list.read(&path.display().to_string(), std::io::BufReader::new(file))
            .map_err(located)?;
    }
    // Minimum durations and sizes are the same in every region: the embedded table has them.
    let terms = Prices::embedded().map_err(|e| miette::miette!("{e}"))?;
    let (prices, gaps) = list.build(&args.region, &terms).map_err(located)?;
    for gap in &gaps {
        eprintln!("warning: left out {gap}");
    }
    for region in &args.region {
        if !prices.regions.contains_key(region) {
            return Err(miette::miette!(
                help = "check the region's code, and that the files are the AmazonS3 offer's",
                "the files give no STANDARD prices for {region}"
            ));
        }
    }
    let classes: usize = prices.regions.values().map(|c| c.len()).sum();
    eprintln!(
        "{} regions, {classes} region classes{}",
        prices.regions.len(),
        if gaps.is_empty() {
            String::new()
        } else {
            format!("; {} left out (above)", gaps.len())
        }
    );
    let text = serde_json::to_string_pretty(&prices).into_diagnostic()? + "\n";
    super::write_data(args.out.as_deref(), &text)?;
    Ok(exit::OK)
}
