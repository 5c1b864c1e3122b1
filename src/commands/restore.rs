//! `s3rec restore -e ENV MAPPING --into DIR [--at TIME] [--prefix P] [--dry-run]`: brings a sync
//! mapping's backup back into a directory as it was at a point in time (the latest versions without
//! `--at`); with `--verify-only` instead of `--into`, reads and checks every object of the set, writing
//! nothing, as a run that is reported. The use case is `crate::restore`; this turns flags into it and prints the outcome.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::exit;
use super::plan::workspace;
use crate::cli::ColorChoice;
use crate::manifest::types::{RestoreTier, RunKind};
use crate::migrate::run::Progress;
use crate::planner::Workspace;
use crate::restore::inplace::InPlace;
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
    #[arg(long, value_name = "DIR", required_unless_present_any = ["verify_only", "in_place"])]
    pub into: Option<PathBuf>,
    /// Write nothing: read every object of the set whole and check it against the checksum S3
    /// recorded (else its MD5 or multipart ETag). Recorded as a run and reported (`report:`), so a
    /// nightly job proves its backups restore.
    #[arg(long, conflicts_with_all = ["into", "dry_run", "in_place"])]
    pub verify_only: bool,
    /// Make S3 itself look as it did at --at: copy each old version onto its key (server-side) and add
    /// delete markers for keys created since; nothing is deleted for good. Shows the plan and asks
    /// for confirmation like `apply`; with --dry-run only shows it.
    #[arg(long, conflicts_with = "into")]
    pub in_place: bool,
    /// Retrieval tier of archived objects (GLACIER, DEEP_ARCHIVE) that --into and --in-place restore
    /// first; Deep Archive has no Expedited and uses Standard.
    #[arg(long, value_enum, default_value = "standard")]
    pub tier: TierArg,
    /// Days the restored copies of archived objects stay readable.
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    pub days: u32,
    /// Restore requests outstanding at once.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,
    /// Keep polling archived objects' restores and download (or copy back) each as it finishes,
    /// instead of leaving them to the next run.
    #[arg(long)]
    pub wait: bool,
    /// First wait between restore polls with --wait (`30s`, `10m`); it doubles up to 15 minutes.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::parse_duration)]
    pub poll_interval: std::time::Duration,
    /// Skip the confirmation of --in-place.
    #[arg(long, requires = "in_place")]
    pub auto_approve: bool,
    /// Wait up to DURATION (`30s`, `10m`) for another run's lock on the state (--verify-only records a
    /// run); without it a held lock fails at once, naming its holder.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
    /// Show what would be restored (every file, then counts, bytes and archived objects) and change
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The retrieval tiers, as flags spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TierArg {
    Expedited,
    Standard,
    Bulk,
}

impl TierArg {
    fn tier(self) -> RestoreTier {
        match self {
            TierArg::Expedited => RestoreTier::Expedited,
            TierArg::Standard => RestoreTier::Standard,
            TierArg::Bulk => RestoreTier::Bulk,
        }
    }
}

pub fn run(args: &RestoreArgs, color: ColorChoice) -> miette::Result<u8> {
    let Some(ws) = workspace(&args.env, color)? else {
        return Ok(exit::ERROR);
    };
    if !ws.manifest.sync.contains_key(&args.mapping) {
        return Err(super::sync::unknown_mapping(&ws, &args.env, &args.mapping));
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
    eprintln!(
        "Listing the versions of sync.{} for {}...",
        spec.name,
        pick::describe(at)
    );
    // `--in-place` also needs the latest versions, chosen from the same listing.
    let [mut set, latest] = if args.in_place {
        run::choose_each(&conn.aws, &spec, [at, At::Latest], &args.prefix).await
    } else {
        run::choose(&conn.aws, &spec, at, &args.prefix)
            .await
            .map(|set| [set, RestoreSet::default()])
    }
    .map_err(|e| miette::miette!("{e}"))?;
    let mut outcome = Outcome {
        mapping: spec.name.clone(),
        at: match at {
            At::Latest => "latest".to_string(),
            At::Time(_) => pick::describe(at),
        },
        ..Outcome::default()
    };
    if args.in_place {
        report_set(&mut outcome, &set);
        return in_place(ws, &conn, &spec, args, set, latest, outcome).await;
    }
    let Some(into) = &args.into else {
        // Nothing is placed, so paths are checked without a directory to probe.
        set.check_paths(false);
        report_set(&mut outcome, &set);
        return recorded_run(ws, &conn, args, RecordedWork::Verify(set), outcome).await;
    };
    let into = std::env::current_dir()
        .map(|cwd| cwd.join(into))
        .map_err(|e| miette::miette!("cannot read the current directory: {e}"))?;
    if args.dry_run {
        // A dry run writes nothing, not even the probe of the directory's case folding.
        set.check_paths(false);
    } else {
        run::prepare_target(&into, &mut set).map_err(|e| miette::miette!("{e}"))?;
    }
    report_set(&mut outcome, &set);
    if args.dry_run {
        print_dry_run(&set, &into, args.json, &outcome, args.tier.tier());
        return Ok(if set.refused.is_empty() { exit::OK } else { exit::ERROR });
    }
    let _graceful = crate::interrupt::graceful();
    let progress: Arc<dyn Progress> = Arc::new(super::StepProgress::new("restore"));
    run::download(conn.aws.clone(), set, &into, &mut outcome, &progress, &thaw(args))
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    print_outcome(&outcome, &into, args.json);
    if let Some(signal) = crate::interrupt::requested() {
        return Ok(signal.exit_code());
    }
    Ok(if outcome.ok() { exit::OK } else { exit::ERROR })
}

/// How archived objects are restored first, from the flags.
fn thaw(args: &RestoreArgs) -> run::Thaw {
    run::Thaw {
        tier: args.tier.tier(),
        days: args.days,
        max_in_flight: usize::try_from(args.max_in_flight).unwrap_or(usize::MAX),
        wait: args.wait,
        poll: args.poll_interval,
        poll_max: std::time::Duration::from_secs(15 * 60).max(args.poll_interval),
    }
}

/// Takes the set's counts into the outcome, and reports every refused key on stderr.
fn report_set(outcome: &mut Outcome, set: &RestoreSet) {
    outcome.files = set.items.len();
    outcome.bytes = set.bytes();
    outcome.refused = set.refused.clone();
    outcome.foreign = set.foreign;
    outcome.absent = set.absent;
    for (key, why) in &set.refused {
        crate::output::print_error(format_args!("restore.{}: refused {key:?}: {why}", outcome.mapping));
    }
}

/// The restores that change or prove something and so are runs in the state, with a report.
enum RecordedWork {
    /// `--verify-only` of this set.
    Verify(RestoreSet),
    /// `--in-place` with this plan.
    InPlace(InPlace),
}

/// Runs `work` as a restore run: the state leased, the run recorded, the outcome printed, and the run
/// report sent with the outcome's counts.
async fn recorded_run(
    ws: &Workspace,
    conn: &crate::planner::Connection,
    args: &RestoreArgs,
    work: RecordedWork,
    mut outcome: Outcome,
) -> miette::Result<u8> {
    let lease = ws
        .lease_state(conn, "restore", args.lock_timeout)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    super::finish_lease(lease, async {
        let mut state = ws.open_state().map_err(|e| miette::miette!("{e}"))?;
        let _graceful = crate::interrupt::graceful();
        let run = super::apply::begin_run(ws, &mut state, RunKind::Restore)?;
        let progress: Arc<dyn Progress> = Arc::new(super::StepProgress::new("restore"));
        let mode = match work {
            RecordedWork::Verify(set) => {
                run::verify_only(conn.aws.clone(), set, &mut outcome, &progress).await;
                print_verified(&outcome, args.json);
                "verify-only"
            }
            RecordedWork::InPlace(plan) => {
                run::copy_back_in_place(conn.aws.clone(), plan, &mut outcome, &progress, &thaw(args)).await;
                print_copied(&outcome);
                "in-place"
            }
        };
        let (recorded, code) = super::apply::run_end(outcome.ok(), crate::interrupt::requested());
        let outcomes = [outcome];
        super::apply::finish_run(ws, conn, &mut state, run, recorded, |s| {
            s.with_restores(&outcomes, mode)
        })
        .await?;
        Ok(code)
    })
    .await
}

/// `--in-place`: the plan (the latest versions against those of the time), confirmation, then a run
/// in the state that copies the old versions back and adds the delete markers, reported like the others.
async fn in_place(
    ws: &Workspace,
    conn: &crate::planner::Connection,
    spec: &SyncSpec,
    args: &RestoreArgs,
    then: RestoreSet,
    now: RestoreSet,
    outcome: Outcome,
) -> miette::Result<u8> {
    run::check_versioned(&conn.aws, spec)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    let plan = InPlace::plan(&then, &now);
    let mut lines = String::new();
    for item in &plan.copies {
        lines.push_str(&format!(
            "copy back s3://{}/{} (version {}, {}{})\n",
            item.bucket,
            item.key,
            item.version_id,
            crate::words::size(item.size),
            if item.archived() {
                format!(", {}: restored first", item.storage_class)
            } else {
                String::new()
            }
        ));
    }
    for (bucket, _, key) in &plan.markers {
        lines.push_str(&format!("delete marker s3://{bucket}/{key}\n"));
    }
    lines.push_str(&format!(
        "restore.{} in place as of {}: {} to copy back ({}), {} to add, {} already current",
        outcome.mapping,
        outcome.at,
        counted(plan.copies.len(), "version"),
        crate::words::size(plan.copy_bytes()),
        counted(plan.markers.len(), "delete marker"),
        counted(plan.unchanged, "key"),
    ));
    let archived = plan.copies.iter().filter(|i| i.archived()).count();
    if archived > 0 {
        lines.push_str(&format!(
            "; {} archived, restored first ({:?} tier, readable {} days{})",
            counted(archived, "version"),
            args.tier.tier(),
            args.days,
            if args.wait {
                ", waited for"
            } else {
                ": run again once they are readable, or pass --wait"
            }
        ));
    }
    lines.push('\n');
    let _ = crate::output::print_data(&lines);
    if args.dry_run {
        return Ok(if outcome.refused.is_empty() {
            exit::OK
        } else {
            exit::ERROR
        });
    }
    if plan.is_empty() {
        eprintln!("Nothing to restore: every key is as it was.");
        return Ok(if outcome.refused.is_empty() {
            exit::OK
        } else {
            exit::ERROR
        });
    }
    if !super::apply::approved(args.auto_approve)? {
        eprintln!("Restore cancelled.");
        return Ok(exit::ERROR);
    }
    recorded_run(ws, conn, args, RecordedWork::InPlace(plan), outcome).await
}

/// Each key that failed, with why, on stderr.
fn print_failures(o: &Outcome) {
    for (key, why) in &o.failed {
        crate::output::print_error(format_args!("restore.{}: {key}: {why}", o.mapping));
    }
}

/// The whole outcome as JSON on stdout.
fn print_json(o: &Outcome) {
    let _ = crate::output::print_data(&(serde_json::to_string_pretty(o).unwrap_or_default() + "\n"));
}

/// On stderr, what still waits for a Glacier restore (nothing when nothing does): `what` the set holds,
/// what was not `done` to them yet, and what that held back.
fn print_waiting(o: &Outcome, what: &str, done: &str, held_back: &str) {
    if o.archived > 0 {
        crate::output::print_error(format_args!(
            "restore.{}: {} archived (GLACIER or DEEP_ARCHIVE) and not {done} yet ({} requested by this run, {} under way){held_back}: run the restore again once they are readable, or pass --wait",
            o.mapping,
            counted(o.archived, what),
            counted(o.restores_requested, "restore"),
            o.restoring
        ));
    }
}

/// The outcome of `--in-place` on stdout, every failure on stderr.
fn print_copied(o: &Outcome) {
    print_failures(o);
    print_waiting(o, "version", "copied back", ", so no delete marker was added");
    let _ = crate::output::print_data(&format!(
        "restore.{}: {} copied back ({}), {} added, {} failed in {}.\n",
        o.mapping,
        counted(o.copied, "version"),
        crate::words::size(o.copied_bytes),
        counted(o.delete_markers, "delete marker"),
        o.failed.len(),
        crate::output::duration_text(o.duration),
    ));
}

/// The outcome of `--verify-only` on stdout, every failure on stderr.
fn print_verified(o: &Outcome, json: bool) {
    print_failures(o);
    if json {
        print_json(o);
        return;
    }
    let _ = crate::output::print_data(&format!(
        "restore.{}: {} ({}) as of {}: {} verified, {} failed, {} refused in {}.\n",
        o.mapping,
        counted(o.files, "file"),
        crate::words::size(o.bytes),
        o.at,
        o.verified,
        o.failed.len(),
        o.refused.len(),
        crate::output::duration_text(o.duration),
    ));
}

/// Every file of a dry run on stdout (`restore KEY (version V) → PATH (SIZE)`), then the counts.
fn print_dry_run(set: &RestoreSet, into: &Path, json: bool, outcome: &Outcome, tier: RestoreTier) {
    let archived = set.archived();
    // The embedded table is part of the binary and tested; without it there is only no estimate.
    let thaw = match crate::cost::prices::Prices::embedded() {
        Ok(prices) => crate::restore::cost::estimates(set, tier, &prices),
        Err(_) => Vec::new(),
    };
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
            "glacier_restores": thaw.iter().map(|t| serde_json::json!({
                "storage_class": t.storage_class,
                "tier": format!("{:?}", t.tier),
                "objects": t.objects,
                "bytes": t.bytes,
                "estimated_cost_usd": t.cost_usd,
                "unpriced_regions": t.unpriced_regions,
                "time": t.time,
            })).collect::<Vec<_>>(),
        });
        let _ = crate::output::print_data(&format!("{value:#}\n"));
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
            crate::words::size(item.size),
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
        crate::words::size(set.bytes()),
        outcome.at,
        set.refused.len(),
        counted(set.absent, "key"),
    ));
    for t in &thaw {
        let cost = match t.cost_usd {
            Some(dollars) => format!("about ${dollars:.2} (list prices, docs/cost.md)"),
            None => format!(
                "cost unknown (no prices for {} in the embedded table)",
                t.unpriced_regions.join(", ")
            ),
        };
        lines.push_str(&format!(
            "restore.{}: {} in {} to restore first, {:?} tier: {cost}, readable {}\n",
            outcome.mapping,
            counted(t.objects, "object"),
            t.storage_class,
            t.tier,
            t.time.unwrap_or("when S3 says"),
        ));
    }
    let _ = crate::output::print_data(&format!("{}\n", lines.trim_end()));
}

fn local_display(into: &Path, rel: &str) -> String {
    crate::migrate::local::final_path(into, rel).display().to_string()
}

/// The outcome on stdout (a summary line, or JSON), every failure on stderr.
fn print_outcome(o: &Outcome, into: &Path, json: bool) {
    print_failures(o);
    print_waiting(o, "object", "downloaded", "");
    if json {
        print_json(o);
        return;
    }
    let _ = crate::output::print_data(&format!(
        "restore.{}: {} ({}) as of {} into {}: {} downloaded ({}), {} already restored, {} adopted, {} failed, {} refused in {}.\n",
        o.mapping,
        counted(o.files, "file"),
        crate::words::size(o.bytes),
        o.at,
        into.display(),
        o.downloaded,
        crate::words::size(o.downloaded_bytes),
        o.already_restored,
        o.adopted,
        o.failed.len() + o.archived,
        o.refused.len(),
        crate::output::duration_text(o.duration),
    ));
}
