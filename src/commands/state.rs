//! `s3rec state list|show|journal`: read-only views of an environment's state database; `state push|pull`
//! move a whole state between this machine and the S3 backend; `state unlock` removes a stale lock.
//!
//! The views never change the state. They open the database like any other command (which brings an
//! older schema up to date), but a missing database is reported, not created. With the S3 backend they
//! read the remote state (one conditional GET refreshes the working copy).

use std::fmt::Write as _;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::exit;
use crate::manifest::Severity;
use crate::manifest::types::StateBackend;
use crate::output::{duration_text, print_data, table};
use crate::plan::Address;
use crate::planner::{self, Workspace, WorkspaceError};
use crate::state::{JournalEntry, Outcome, ResourceRecord, RunId, RunRecord, StateDb};

/// Version of the JSON documents printed by `state list|show|journal --format json`.
const FORMAT_VERSION: u32 = 1;

/// Inspect the state database of an environment (read-only).
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Environment whose state to read (environments/<ENV>.yaml). Required; accepted before or after
    /// the subcommand (`s3rec state list -e prod`).
    // Global so it can follow the subcommand, as in every other command; clap does not allow a global
    // argument to be required, so `run` checks for it.
    #[arg(short, long, value_name = "ENV", global = true)]
    pub env: Option<String>,
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the managed resources: address, kind, physical name, region, when last applied.
    List(ListArgs),
    /// Show one managed resource: its recorded value as JSON, and when and by which run it was applied.
    Show(ShowArgs),
    /// Show the journal of the last run (or of the run given): every action, its outcome, timing, error.
    Journal(JournalArgs),
    /// Upload a local state database as the environment's S3 state (`state.backend: s3`), under the lock.
    /// Refuses to overwrite an existing remote state unless --force, and says what it would overwrite.
    Push(PushArgs),
    /// Write a local copy of the environment's S3 state, for inspection (sqlite3) or to go back to the
    /// local backend.
    Pull(PullArgs),
    /// Remove the S3 state lock left by a run that died. The ID must be the lock's (shown in the error of
    /// the run it blocks, and by `s3rec doctor`), so a fresh lock of someone else is never removed.
    Unlock(UnlockArgs),
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The database to upload. Default: the local backend's file (`state.path`, or `.s3rec/<env>.db`).
    #[arg(long, value_name = "FILE")]
    pub from: Option<std::path::PathBuf>,
    /// Replace an existing remote state (compare-and-swap against the version just read).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Where to write the copy. Default: the local backend's file (`.s3rec/<env>.db`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Replace the file at --out if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The ID of the lock to remove.
    #[arg(value_name = "LOCK_ID")]
    pub lock_id: String,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format: a table for people, JSON for tools.
    #[arg(long, value_enum, default_value_t = StateFormat::Text)]
    pub format: StateFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Address of the resource, e.g. `bucket.logs` or `bucket.logs.lifecycle`.
    #[arg(value_name = "ADDR")]
    pub address: String,
    /// Output format: metadata and the value for people, one JSON document for tools.
    #[arg(long, value_enum, default_value_t = StateFormat::Text)]
    pub format: StateFormat,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Show this run instead of the most recent ones.
    #[arg(long, value_name = "ID", conflicts_with = "limit")]
    pub run: Option<i64>,
    /// Show the N most recent runs, newest first.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Output format: text for people, JSON for tools.
    #[arg(long, value_enum, default_value_t = StateFormat::Text)]
    pub format: StateFormat,
}

pub fn run(args: &StateArgs) -> miette::Result<u8> {
    let Some(env) = args.env.as_deref() else {
        return Err(miette::miette!(
            help = "for example `s3rec state list -e prod`",
            "name the environment whose state to read with -e ENV"
        ));
    };
    let cwd = std::env::current_dir().map_err(|e| miette::miette!("cannot determine the working directory: {e}"))?;
    // The manifest is read only for its `state` and `aws` settings and environment name; a manifest with
    // errors could name the wrong file, so it is refused rather than guessed around.
    let ws = match planner::open_workspace(env) {
        Ok(ws) => ws,
        Err(WorkspaceError::Invalid(loaded)) => {
            let errors = loaded.problems.iter().filter(|p| p.severity == Severity::Error).count();
            eprintln!(
                "error: {} has {errors} error{}; run `s3rec validate -e {env}` to see them",
                loaded.sources_display(),
                if errors == 1 { "" } else { "s" }
            );
            return Ok(exit::ERROR);
        }
        Err(WorkspaceError::Discovery(e)) => return Err(e.into()),
        Err(e) => return Err(miette::miette!("{e}")),
    };
    let remote = ws.manifest.state.backend == StateBackend::S3;
    let view = match &args.command {
        StateCommand::Push(push) => return moves(&ws, Move::Push(push)),
        StateCommand::Pull(pull) => return moves(&ws, Move::Pull(pull)),
        StateCommand::Unlock(unlock) => return moves(&ws, Move::Unlock(unlock)),
        StateCommand::List(list) => View::List(list),
        StateCommand::Show(show) => View::Show(show),
        StateCommand::Journal(journal) => View::Journal(journal),
    };
    if remote {
        let runtime = super::runtime()?;
        runtime.block_on(async {
            let conn = super::connect(&ws).await?;
            let db = ws.state_path();
            let remote = ws
                .remote(&conn.aws)
                .ok_or_else(|| miette::miette!("the S3 backend has no settings: this is a bug in s3rec"))?;
            let _local = crate::state::lock_run(&db).ok();
            crate::backend::refresh(&conn.aws, &remote, &db)
                .await
                .map_err(|e| miette::miette!("{e}"))
        })?;
    }
    let environment = ws.environment();
    let path = ws.state_path();
    let shown_path = match ws.manifest.state.bucket.as_deref() {
        Some(bucket) if remote => format!(
            "s3://{bucket}/{}",
            ws.manifest
                .state
                .key
                .clone()
                .unwrap_or_else(|| crate::backend::default_key(environment))
        ),
        _ => path.strip_prefix(&cwd).unwrap_or(&path).display().to_string(),
    };

    // Reading must not create a database: a missing file means nothing was ever applied here.
    let db = if path.exists() {
        Some(StateDb::open(&path)?)
    } else {
        None
    };
    let missing = || {
        eprintln!("no state for {environment} yet: {shown_path} does not exist (`s3rec apply -e {env}` creates it)");
    };

    match view {
        View::List(list) => {
            let resources = match &db {
                Some(db) => db.resources()?,
                None => {
                    missing();
                    Vec::new()
                }
            };
            if db.is_some() && resources.is_empty() {
                eprintln!("no resources in the state of {environment}");
            }
            emit(&match list.format {
                StateFormat::Text if resources.is_empty() => String::new(),
                StateFormat::Text => render_list(&resources),
                StateFormat::Json => to_json(&ListDoc {
                    format_version: FORMAT_VERSION,
                    environment,
                    state: &shown_path,
                    resources: resources.iter().map(ListedResource::from).collect(),
                })?,
            })?;
            Ok(exit::OK)
        }
        View::Show(show) => {
            let address = Address(show.address.clone());
            let record = match &db {
                Some(db) => db.resource(&address)?,
                None => None,
            };
            let Some(record) = record else {
                eprintln!(
                    "error: no resource {address} in the state of {environment}; `s3rec state list -e {env}` shows \
                     what is managed"
                );
                return Ok(exit::ERROR);
            };
            let sha = record
                .value_sha256()
                .map_err(|e| miette::miette!("cannot serialize the value of {address}: {e}"))?;
            emit(&match show.format {
                StateFormat::Text => render_show(&record, &sha)?,
                StateFormat::Json => to_json(&ShowDoc {
                    format_version: FORMAT_VERSION,
                    environment,
                    resource: &record,
                    value_sha256: &sha,
                })?,
            })?;
            Ok(exit::OK)
        }
        View::Journal(journal) => {
            let Some(db) = &db else {
                missing();
                if journal.format == StateFormat::Json {
                    emit(&to_json(&JournalDoc {
                        format_version: FORMAT_VERSION,
                        environment,
                        runs: Vec::new(),
                    })?)?;
                }
                return Ok(exit::OK);
            };
            let runs = match journal.run {
                Some(id) => match db.run(RunId(id))? {
                    Some(run) => vec![run],
                    None => {
                        eprintln!(
                            "error: no run {id} in the state of {environment}; `s3rec state journal -e {env} --limit \
                             20` lists recent runs"
                        );
                        return Ok(exit::ERROR);
                    }
                },
                None => db.runs(usize::try_from(journal.limit).unwrap_or(usize::MAX))?,
            };
            if runs.is_empty() {
                eprintln!("no runs recorded in the state of {environment}");
            }
            let mut journals = Vec::with_capacity(runs.len());
            for run in runs {
                let entries = db.journal(run.id)?;
                journals.push(RunJournal { run, entries });
            }
            emit(&match journal.format {
                StateFormat::Text => render_journal(&journals),
                StateFormat::Json => to_json(&JournalDoc {
                    format_version: FORMAT_VERSION,
                    environment,
                    runs: journals,
                })?,
            })?;
            Ok(exit::OK)
        }
    }
}

/// The subcommands that read the state.
enum View<'a> {
    List(&'a ListArgs),
    Show(&'a ShowArgs),
    Journal(&'a JournalArgs),
}

/// The subcommands that move or unlock the S3 state.
enum Move<'a> {
    Push(&'a PushArgs),
    Pull(&'a PullArgs),
    Unlock(&'a UnlockArgs),
}

fn moves(ws: &Workspace, what: Move<'_>) -> miette::Result<u8> {
    let env = ws.environment();
    if ws.manifest.state.backend != StateBackend::S3 {
        return Err(miette::miette!(
            help =
                "set `state: {backend: s3, bucket: BUCKET}` in the manifest first; the local state stays where it is",
            "environment {env} keeps its state in a local file: push, pull and unlock work on the S3 backend"
        ));
    }
    // The local backend's file: what `push` uploads and `pull` writes by default.
    let local_file = crate::state::state_path(&ws.root, env, &ws.manifest.state);
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let conn = super::connect(ws).await?;
        let remote = ws
            .remote(&conn.aws)
            .ok_or_else(|| miette::miette!("the S3 backend has no settings: this is a bug in s3rec"))?;
        let who = conn.identity.as_ref().map(|i| i.arn.as_str());
        let working_copy = ws.state_path();
        match what {
            Move::Push(args) => {
                let source = args.from.clone().unwrap_or(local_file);
                if !source.exists() {
                    return Err(miette::miette!(
                        help = "name the database with --from FILE",
                        "there is no state to push at {}",
                        source.display()
                    ));
                }
                let pushed = crate::backend::moves::push(&conn.aws, &remote, &working_copy, &source, args.force, who)
                    .await
                    .map_err(|e| miette::miette!("{e}"))?;
                if let Some(replaced) = &pushed.replaced {
                    eprintln!("Replaced the remote state ({replaced}).");
                }
                emit(&format!(
                    "Pushed {} to {} (ETag {}): {}.\n",
                    source.display(),
                    remote.url(),
                    pushed.etag,
                    pushed.summary
                ))?;
                Ok(exit::OK)
            }
            Move::Pull(args) => {
                let out = args.out.clone().unwrap_or(local_file);
                let (out, summary) = crate::backend::moves::pull(&conn.aws, &remote, &working_copy, &out, args.force)
                    .await
                    .map_err(|e| miette::miette!("{e}"))?;
                emit(&format!("Pulled {} to {}: {summary}.\n", remote.url(), out.display()))?;
                Ok(exit::OK)
            }
            Move::Unlock(args) => {
                let found = crate::backend::lock::read(&conn.aws, &remote)
                    .await
                    .map_err(|e| miette::miette!("{e}"))?;
                let Some(found) = found else {
                    eprintln!(
                        "The state of {env} is not locked ({} does not exist).",
                        remote.lock_url()
                    );
                    return Ok(exit::OK);
                };
                eprintln!("The state of {env} is locked: {}.", found.describe());
                if !args.yes && !confirmed(&args.lock_id)? {
                    eprintln!("Unlock cancelled.");
                    return Ok(exit::ERROR);
                }
                let removed = crate::backend::lock::unlock(&conn.aws, &remote, &args.lock_id)
                    .await
                    .map_err(|e| miette::miette!("{e}"))?;
                emit(&format!("Removed the state lock of {env}: {}.\n", removed.describe()))?;
                Ok(exit::OK)
            }
        }
    })
}

/// Asks for `yes` on a terminal before a lock is removed; refuses to guess without one.
fn confirmed(lock_id: &str) -> miette::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(miette::miette!(
            help = format!("pass --yes to remove lock {lock_id} without a prompt"),
            "unlock needs confirmation, and stdin is not a terminal"
        ));
    }
    eprint!(
        "Remove it? If its run is still going, two runs may then change the state at once. Only 'yes' will be accepted: "
    );
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| miette::miette!("cannot read the answer: {e}"))?;
    Ok(answer.trim() == "yes")
}

fn emit(text: &str) -> miette::Result<()> {
    print_data(text).map_err(|e| miette::miette!("cannot write to stdout: {e}"))
}

fn to_json<T: Serialize>(doc: &T) -> miette::Result<String> {
    let mut text = serde_json::to_string_pretty(doc).map_err(|e| miette::miette!("cannot render JSON: {e}"))?;
    text.push('\n');
    Ok(text)
}

#[derive(Serialize)]
struct ListDoc<'a> {
    format_version: u32,
    environment: &'a str,
    /// The database file, relative to the working directory when inside it.
    state: &'a str,
    resources: Vec<ListedResource<'a>>,
}

/// A resource in `list --format json`: everything but the value, which `show` prints.
#[derive(Serialize)]
struct ListedResource<'a> {
    address: &'a str,
    kind: &'a str,
    name: &'a str,
    region: &'a str,
    applied_at: &'a str,
    run_id: Option<RunId>,
    force_destroy: bool,
    prevent_destroy: bool,
}

impl<'a> From<&'a ResourceRecord> for ListedResource<'a> {
    fn from(r: &'a ResourceRecord) -> Self {
        ListedResource {
            address: r.address.as_str(),
            kind: &r.kind,
            name: &r.name,
            region: &r.region,
            applied_at: &r.applied_at,
            run_id: r.run_id,
            force_destroy: r.force_destroy,
            prevent_destroy: r.prevent_destroy,
        }
    }
}

#[derive(Serialize)]
struct ShowDoc<'a> {
    format_version: u32,
    environment: &'a str,
    #[serde(flatten)]
    resource: &'a ResourceRecord,
    value_sha256: &'a str,
}

#[derive(Serialize)]
struct JournalDoc<'a> {
    format_version: u32,
    environment: &'a str,
    /// Newest first.
    runs: Vec<RunJournal>,
}

#[derive(Serialize)]
struct RunJournal {
    #[serde(flatten)]
    run: RunRecord,
    entries: Vec<JournalEntry>,
}

/// The managed resources as a plain table.
fn render_list(resources: &[ResourceRecord]) -> String {
    let header = ["ADDRESS", "KIND", "NAME", "REGION", "APPLIED AT"];
    let rows: Vec<Vec<String>> = std::iter::once(header.map(str::to_string).to_vec())
        .chain(resources.iter().map(|r| {
            vec![
                r.address.to_string(),
                r.kind.clone(),
                r.name.clone(),
                r.region.clone(),
                r.applied_at.clone(),
            ]
        }))
        .collect();
    table(&rows, &[]).into_iter().map(|line| line + "\n").collect()
}

fn render_show(r: &ResourceRecord, sha: &str) -> miette::Result<String> {
    let value =
        serde_json::to_string_pretty(&r.value).map_err(|e| miette::miette!("cannot render the value as JSON: {e}"))?;
    let run = r.run_id.map_or_else(|| "-".to_string(), |id| id.to_string());
    let mut out = String::new();
    for (key, val) in [
        ("address", r.address.as_str()),
        ("kind", &r.kind),
        ("name", &r.name),
        ("region", &r.region),
        ("applied_at", &r.applied_at),
        ("run", &run),
        ("force_destroy", if r.force_destroy { "true" } else { "false" }),
        ("prevent_destroy", if r.prevent_destroy { "true" } else { "false" }),
        ("value_sha256", sha),
    ] {
        let _ = writeln!(out, "{:<16} {val}", format!("{key}:"));
    }
    let _ = writeln!(out, "value:\n{value}");
    Ok(out)
}

fn render_journal(journals: &[RunJournal]) -> String {
    let mut out = String::new();
    for (i, RunJournal { run, entries }) in journals.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let status = match (&run.outcome, &run.finished_at) {
            (Some(outcome), Some(finished)) => format!("{outcome} at {finished}"),
            _ => "unfinished (s3rec stopped before recording the end, or is still running)".to_string(),
        };
        let _ = writeln!(
            out,
            "run {}: {} -e {}, started {}, {status}",
            run.id, run.command, run.environment, run.started_at
        );
        if let Some(sha) = &run.plan_sha256 {
            let _ = writeln!(out, "plan sha256 {sha}");
        }
        if entries.is_empty() {
            out.push_str("  (no actions)\n");
            continue;
        }
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                let timing = match (e.outcome, e.duration_ms) {
                    (Outcome::Started | Outcome::Skipped, _) => String::new(),
                    // A negative duration can only come from a clock set back during the action.
                    (_, Some(ms)) => duration_text(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
                    (_, None) => String::new(),
                };
                vec![
                    e.outcome.as_str().to_string(),
                    e.action.verb().to_string(),
                    e.address.to_string(),
                    timing,
                ]
            })
            .collect();
        for (line, e) in table(&rows, &[]).into_iter().zip(entries) {
            let _ = writeln!(out, "  {line}");
            let note = match (e.outcome, e.message.as_deref()) {
                (Outcome::Failed, Some(msg)) => Some(format!("error: {msg}")),
                (Outcome::Skipped, Some(msg)) => Some(format!("reason: {msg}")),
                // A later plan found the resource converged (`StateDb::settle_interrupted`).
                (Outcome::Started, Some(msg)) => Some(format!("settled: {msg}")),
                (Outcome::Started, None) => Some(
                    "s3rec never learned the outcome of this action; it may be half-done (the next plan reads AWS \
                     and shows what is left)"
                        .to_string(),
                ),
                // A success needs no note, and a failure or skip without a message has none to give.
                (Outcome::Succeeded, _) | (Outcome::Failed | Outcome::Skipped, None) => None,
            };
            if let Some(note) = note {
                for line in note.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
    out
}
