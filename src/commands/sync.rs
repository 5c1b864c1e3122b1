//! `s3rec sync -e ENV [NAME]`: runs the manifest's sync mappings (all, or the one named) without
//! planning buckets or IAM: the nightly backup job. `--dry-run` shows what would be uploaded and deleted.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::ProgressBar;

use super::exit;
use super::plan::workspace;
use crate::cli::ColorChoice;
use crate::manifest::types::RunKind;
use crate::planner::{self, Workspace};
use crate::state::sync_index::SyncIndex;
use crate::sync::run::{self, Outcome, Prepared, Progress};
use crate::sync::spec::SyncSpec;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Environment whose mappings to run.
    #[arg(short, long, value_name = "ENV")]
    pub env: String,
    /// Run only this mapping (a key under `sync:`); all of them when left out.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Show what would be uploaded and deleted, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait up to DURATION (`30s`, `10m`) for another run's lock on the state (S3 backend); without it a
    /// held lock fails at once, naming its holder.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
}

pub fn run(args: &SyncArgs, color: ColorChoice) -> miette::Result<u8> {
    let Some(ws) = workspace(&args.env, color)? else {
        return Ok(exit::ERROR);
    };
    let names: Vec<String> = match &args.name {
        Some(name) if !ws.manifest.sync.contains_key(name) => {
            return Err(unknown_mapping(&ws, &args.env, name));
        }
        Some(name) => vec![name.clone()],
        None => ws.manifest.sync.keys().cloned().collect(),
    };
    if names.is_empty() {
        eprintln!("Environment {} has no sync mappings.", args.env);
        return Ok(exit::OK);
    }
    let runtime = super::runtime()?;
    runtime.block_on(sync(&ws, args, &names))
}

/// The error for a mapping name the manifest does not have, listing the ones it has.
pub(crate) fn unknown_mapping(ws: &Workspace, env: &str, name: &str) -> miette::Report {
    let known: Vec<&str> = ws.manifest.sync.keys().map(String::as_str).collect();
    miette::miette!(
        help = if known.is_empty() {
            "the manifest has no `sync:` mappings".to_string()
        } else {
            format!("mappings of {env}: {}", known.join(", "))
        },
        "sync mapping `{name}` is not in environment {env}"
    )
}

async fn sync(ws: &Workspace, args: &SyncArgs, names: &[String]) -> miette::Result<u8> {
    let conn = super::connect_for_sync(ws).await?;
    if args.dry_run {
        // A dry run reads the index as the state has it, and changes nothing: no lock.
        ws.read_state(&conn.aws).await.map_err(|e| miette::miette!("{e}"))?;
        let (prepared, unprepared) = prepare_all(ws, &conn, names).await?;
        for p in &prepared {
            print_dry_run(p);
        }
        return Ok(if unprepared.is_empty() { exit::OK } else { exit::ERROR });
    }
    let lease = ws
        .lease_state(&conn, "sync", args.lock_timeout)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    super::finish_lease(lease, sync_leased(ws, &conn, names)).await
}

/// The part of a sync that runs while it holds the state.
async fn sync_leased(ws: &Workspace, conn: &planner::Connection, names: &[String]) -> miette::Result<u8> {
    let mut state = ws.open_state().map_err(|e| miette::miette!("{e}"))?;
    let (prepared, unprepared) = prepare_all(ws, conn, names).await?;
    let _graceful = crate::interrupt::graceful();
    let run = super::apply::begin_run(ws, &mut state, RunKind::Sync)?;
    let mut outcomes = unprepared;
    outcomes.extend(execute_all(ws, conn, prepared).await?);
    let ok = outcomes.iter().all(Outcome::ok);
    let (recorded, code) = super::apply::run_end(ok, outcomes.iter().find_map(|o| o.cancelled));
    super::apply::finish_run(ws, conn, &mut state, run, recorded, |s| s.with_sync(&outcomes)).await?;
    Ok(code)
}

/// Walks, lists and decides every named mapping, printing each one's summary on stdout. A mapping that
/// cannot be compared (a missing source, a missing bucket) is reported on stderr and returned as a
/// failed outcome; the others still run.
pub(crate) async fn prepare_all(
    ws: &Workspace,
    conn: &planner::Connection,
    names: &[String],
) -> miette::Result<(Vec<Prepared>, Vec<Outcome>)> {
    let index = Arc::new(SyncIndex::open(&ws.state_path()).map_err(|e| miette::miette!("{e}"))?);
    let mut prepared = Vec::new();
    let mut failed = Vec::new();
    let fail = |name: &str, error: String| {
        crate::output::print_error(format_args!("sync.{name}: {error}"));
        Outcome {
            mapping: name.to_string(),
            failed: vec![("the mapping".to_string(), error)],
            ..Outcome::default()
        }
    };
    for name in names {
        let Some(mapping) = ws.manifest.sync.get(name) else {
            continue;
        };
        let spec = match SyncSpec::new(&ws.manifest, name, mapping, &ws.root, conn.aws.region()) {
            Ok(spec) => spec,
            Err(e) => {
                failed.push(fail(name, e.to_string()));
                continue;
            }
        };
        eprintln!(
            "Comparing sync.{} ({}) with its destination...",
            spec.name,
            spec.source.display()
        );
        match run::prepare(&conn.aws, &index, spec).await {
            Ok(p) => {
                println!("{}", p.work().line());
                prepared.push(p);
            }
            Err(e) => failed.push(fail(name, e.to_string())),
        }
    }
    Ok((prepared, failed))
}

/// Runs prepared mappings one after the other, printing each one's final summary on stderr.
pub(crate) async fn execute_all(
    ws: &Workspace,
    conn: &planner::Connection,
    prepared: Vec<Prepared>,
) -> miette::Result<Vec<Outcome>> {
    let index = Arc::new(SyncIndex::open(&ws.state_path()).map_err(|e| miette::miette!("{e}"))?);
    let mut outcomes = Vec::new();
    for p in prepared {
        if crate::interrupt::requested().is_some() {
            // A stopped run starts no further mapping; the ones not run are simply not in the outcomes.
            break;
        }
        let progress = SyncProgress::new();
        let outcome = run::execute(conn.aws.clone(), index.clone(), p, &progress).await;
        print_outcome(&outcome);
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Every upload and delete of a dry run, one per line on stdout (`upload KEY (SIZE, new)`).
fn print_dry_run(p: &Prepared) {
    for u in &p.plan.uploads {
        let f = &u.file;
        let d = &p.spec.destinations[u.destination];
        let why = match u.reason {
            crate::sync::compare::Reason::New => "new",
            crate::sync::compare::Reason::Changed => "changed",
        };
        println!(
            "upload {} → s3://{}/{} ({}, {why})",
            f.rel,
            d.bucket,
            u.key,
            crate::words::size(f.size)
        );
    }
    for d in &p.plan.deletes {
        println!("delete s3://{}/{}", d.bucket, d.key);
    }
    for s in &p.skipped {
        eprintln!("warning: skipped {s}");
    }
    if p.plan.withheld > 0 {
        eprintln!("warning: sync.{}: {}", p.spec.name, withheld_message(p.plan.withheld));
    }
}

/// Why extraneous objects are kept, as rclone says it ("not deleting files as there were IO errors").
fn withheld_message(count: usize) -> String {
    format!(
        "not deleting {}, because the walk could not read the source paths they may have come from \
         (listed as failed); fix that and sync again",
        crate::words::counted(count, "object")
    )
}

/// The final summary of one mapping on stderr, with every failure.
fn print_outcome(o: &Outcome) {
    let secs = o.duration.as_secs_f64();
    let rate = if secs > 0.0 {
        format!(", {}/s", crate::words::size((o.uploaded_bytes as f64 / secs) as u64))
    } else {
        String::new()
    };
    eprintln!(
        "sync.{}: {} uploaded ({}{rate}), {} unchanged, {} deleted, {} failed in {secs:.1}s.",
        o.mapping,
        o.uploaded,
        crate::words::size(o.uploaded_bytes),
        o.unchanged,
        o.deleted,
        o.failed.len() + o.skipped.len()
    );
    if o.links_skipped > 0 {
        eprintln!(
            "  {} symbolic link(s) skipped (set follow_symlinks: true to follow them; `s3rec sync --dry-run` lists them)",
            o.links_skipped
        );
    }
    if o.withheld > 0 {
        eprintln!("  {}", withheld_message(o.withheld));
    }
    if o.aborted_uploads > 0 {
        eprintln!(
            "  aborted {} multipart upload(s) that s3rec had started and no run owned (a lost answer or an \
             interrupted run)",
            o.aborted_uploads
        );
    }
    for s in &o.skipped {
        eprintln!("  failed: {s}");
    }
    for (what, error) in &o.failed {
        eprintln!("  failed: {what}: {error}");
    }
}

/// A progress bar on a terminal; otherwise a line every ten seconds, so CI logs show the job is alive.
struct SyncProgress {
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

struct Plain {
    mapping: String,
    files: usize,
    bytes: u64,
    done_files: usize,
    done_bytes: u64,
    last: Instant,
}

const PLAIN_EVERY: Duration = Duration::from_secs(10);

impl SyncProgress {
    fn new() -> SyncProgress {
        let bar =
            super::progress_bar("{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}");
        SyncProgress {
            bar,
            plain: Mutex::new(Plain {
                mapping: String::new(),
                files: 0,
                bytes: 0,
                done_files: 0,
                done_bytes: 0,
                last: Instant::now(),
            }),
        }
    }
}

impl Progress for SyncProgress {
    fn start(&self, mapping: &str, files: usize, bytes: u64, deletes: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(bytes);
            bar.set_prefix(format!("sync.{mapping}"));
            bar.set_message(format!("0/{files} files"));
        }
        let mut p = self.plain.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        p.mapping = mapping.to_string();
        p.files = files;
        p.bytes = bytes;
        if files > 0 || deletes > 0 {
            eprintln!(
                "sync.{mapping}: uploading {} ({}), deleting {deletes}...",
                crate::words::counted(files, "file"),
                crate::words::size(bytes)
            );
        }
    }

    fn file_done(&self, bytes: u64) {
        let mut p = self.plain.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        p.done_files += 1;
        p.done_bytes += bytes;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            bar.set_message(format!("{}/{} files", p.done_files, p.files));
        } else if p.last.elapsed() >= PLAIN_EVERY {
            p.last = Instant::now();
            eprintln!(
                "sync.{}: {}/{} files, {}/{}",
                p.mapping,
                p.done_files,
                p.files,
                crate::words::size(p.done_bytes),
                crate::words::size(p.bytes)
            );
        }
    }

    fn deleted(&self, _count: usize) {}

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
