//! `s3rec restore -e ENV MAPPING --into DIR [--at TIME] [--prefix P] [--dry-run]`: brings a sync
//! mapping's backup back into a directory as it was at a point in time (the latest versions without
//! `--at`). The use case is `crate::restore`; this turns flags into it and prints the outcome.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::exit;
use super::plan::workspace;
use crate::cli::ColorChoice;
use crate::migrate::run::Progress;
use crate::planner::Workspace;
use crate::restore::pick::{self, At};
use crate::restore::run::{self, Outcome};
use crate::restore::set::RestoreSet;
use crate::sync::spec::SyncSpec;
use crate::words::counted;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Environment whose mapping to restore.
    #[arg(short, long, value_name = "ENV")]
    pub env: String,
    /// The sync mapping (a key under `sync:`) whose backup to restore.
    #[arg(value_name = "MAPPING")]
    pub mapping: String,
    /// Restore the versions current at TIME: RFC 3339 (`2024-05-01T09:30:00Z`) or a duration ago
    /// (`2d`, `36h`). Without it, the latest versions.
    #[arg(long, value_name = "TIME", value_parser = pick::parse_at_now)]
    pub at: Option<At>,
    /// Only files whose path (relative to the mapping's source) starts with P.
    #[arg(long, value_name = "P", default_value = "")]
    pub prefix: String,
    /// Download the set into DIR (created if missing); nothing is written outside it.
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
    /// Show what would be restored (every file, then counts, bytes and archived objects) and change
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &RestoreArgs, chdir: Option<&Path>, color: ColorChoice) -> miette::Result<u8> {
    let Some(ws) = workspace(&args.env, chdir, color)? else {
        return Ok(exit::ERROR);
    };
    if !ws.manifest.sync.contains_key(&args.mapping) {
        let known: Vec<&str> = ws.manifest.sync.keys().map(String::as_str).collect();
        return Err(miette::miette!(
            help = if known.is_empty() {
                "the manifest has no `sync:` mappings".to_string()
            } else {
                format!("mappings of {}: {}", args.env, known.join(", "))
            },
            "sync mapping `{}` is not in environment {}",
            args.mapping,
            args.env
        ));
    }
    let runtime = super::runtime()?;
    runtime.block_on(restore(&ws, args))
}

async fn restore(ws: &Workspace, args: &RestoreArgs) -> miette::Result<u8> {
    let conn = super::connect_for_sync(ws).await?;
    let Some(mapping) = ws.manifest.sync.get(&args.mapping) else {
        return Ok(exit::ERROR);
    };
    let spec = SyncSpec::new(&ws.manifest, &args.mapping, mapping, &ws.root, conn.aws.region())
        .map_err(|e| miette::miette!("{e}"))?;
    let at = args.at.unwrap_or(At::Latest);
    let into = super::working_dir(None)
        .map(|cwd| cwd.join(&args.into))
        .map_err(|e| miette::miette!("cannot read the current directory: {e}"))?;
    eprintln!(
        "Listing the versions of sync.{} for {}...",
        spec.name,
        pick::describe(at)
    );
    let mut set = run::choose(&conn.aws, &spec, at, &args.prefix)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    if args.dry_run {
        // A dry run writes nothing, not even the probe of the directory's case folding.
        set.check_paths(false);
    } else {
        run::prepare_target(&into, &mut set).map_err(|e| miette::miette!("{e}"))?;
    }
    let mut outcome = Outcome {
        mapping: spec.name.clone(),
        at: match at {
            At::Latest => "latest".to_string(),
            At::Time(_) => pick::describe(at),
        },
        files: set.items.len(),
        bytes: set.bytes(),
        refused: set.refused.clone(),
        foreign: set.foreign,
        absent: set.absent,
        ..Outcome::default()
    };
    for (key, why) in &set.refused {
        crate::output::print_error(format_args!("sync.{}: refused {key:?}: {why}", spec.name));
    }
    if args.dry_run {
        print_dry_run(&set, &into, args.json, &outcome);
        return Ok(if set.refused.is_empty() { exit::OK } else { exit::ERROR });
    }
    let _graceful = crate::interrupt::graceful();
    let progress: Arc<dyn Progress> = Arc::new(super::StepProgress::new("restore"));
    run::download(conn.aws.clone(), set, &into, &mut outcome, &progress)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    print_outcome(&outcome, &into, args.json);
    if let Some(signal) = crate::interrupt::requested() {
        return Ok(signal.exit_code());
    }
    Ok(if outcome.ok() { exit::OK } else { exit::ERROR })
}

/// Every file of a dry run on stdout (`restore KEY (version V) → PATH (SIZE)`), then the counts.
fn print_dry_run(set: &RestoreSet, into: &Path, json: bool, outcome: &Outcome) {
    let archived = set.archived();
    if json {
        let value = serde_json::json!({
            "mapping": outcome.mapping,
            "at": outcome.at,
            "files": set.items.len(),
            "bytes": set.bytes(),
            "archived": archived,
            "refused": set.refused.len(),
            "foreign": set.foreign,
            "absent": set.absent,
        });
        let _ = crate::output::print_data(&format!("{value:#}"));
        return;
    }
    let mut lines = String::new();
    for item in &set.items {
        lines.push_str(&format!(
            "restore s3://{}/{} (version {}) → {} ({}{})\n",
            item.bucket,
            item.key,
            item.version_id,
            local_display(into, &item.rel),
            size(item.size),
            if item.archived() {
                format!(", {}: needs a Glacier restore", item.storage_class)
            } else {
                String::new()
            }
        ));
    }
    lines.push_str(&format!(
        "restore.{}: {} ({}) as of {}, {archived} of them archived (need a Glacier restore), {} refused, {} absent then\n",
        outcome.mapping,
        counted(set.items.len(), "file"),
        size(set.bytes()),
        outcome.at,
        set.refused.len(),
        counted(set.absent, "key"),
    ));
    let _ = crate::output::print_data(lines.trim_end());
}

fn local_display(into: &Path, rel: &str) -> String {
    crate::migrate::local::final_path(into, rel).display().to_string()
}

fn size(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().iec().to_string()
}

/// The outcome on stdout (a summary line, or JSON), every failure on stderr.
fn print_outcome(o: &Outcome, into: &Path, json: bool) {
    for (key, why) in &o.failed {
        crate::output::print_error(format_args!("restore.{}: {key}: {why}", o.mapping));
    }
    if o.archived > 0 {
        crate::output::print_error(format_args!(
            "restore.{}: {} archived (GLACIER or DEEP_ARCHIVE) and not downloaded: restore them from the archive first",
            o.mapping,
            counted(o.archived, "object")
        ));
    }
    if json {
        let text = serde_json::to_string_pretty(o).unwrap_or_default();
        let _ = crate::output::print_data(&text);
        return;
    }
    let _ = crate::output::print_data(&format!(
        "restore.{}: {} ({}) as of {} into {}: {} downloaded ({}), {} already restored, {} adopted, {} failed, {} refused in {}.",
        o.mapping,
        counted(o.files, "file"),
        size(o.bytes),
        o.at,
        into.display(),
        o.downloaded,
        size(o.downloaded_bytes),
        o.already_restored,
        o.adopted,
        o.failed.len() + o.archived,
        o.refused.len(),
        crate::output::duration_text(o.duration),
    ));
}
