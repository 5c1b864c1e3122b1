//! `s3rec migrate -e ENV [NAME] [status|run|verify]`: moves buckets (or prefixes) onto local storage.
//!
//! - `status` (the default) prints a table per migration and bucket from the state database. It takes
//!   no lock and needs no AWS access, so it works while a run is in progress in another process.
//! - `run` advances every named migration as far as it can: scan, restore requests, downloads with
//!   verification, and the delete phase when the manifest asks and the operator confirms. `--wait`
//!   keeps polling restores until every archived object is down.
//! - `verify` re-reads every migrated local file and compares it with the inventory.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::exit;
use super::plan::workspace;
use crate::cli::ColorChoice;
use crate::manifest::types::{RunKind, StateBackend};
use crate::migrate::run::{self, Options, Outcome, Progress};
use crate::migrate::spec::MigrationSpec;
use crate::migrate::status::{self, Phase, Tally};
use crate::output::Align;
use crate::planner::{self, Workspace};
use crate::state::inventory::Inventory;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Environment whose migrations to work on.
    #[arg(short, long, value_name = "ENV")]
    pub env: String,
    /// `[NAME] [status|run|verify]`: a migration (a key under `migrations:`; all when left out), then
    /// what to do (`status` when left out).
    #[arg(value_name = "ARGS", num_args = 0..=2)]
    pub args: Vec<String>,
    /// Confirm the delete phase for this bucket without a prompt (repeat for several buckets). Needed
    /// when stdin is not a terminal; deletes still happen only once every object is verified.
    #[arg(long, value_name = "BUCKET")]
    pub confirm_delete: Vec<String>,
    /// Keep polling restores (with backoff) until every archived object is downloaded, instead of
    /// returning once nothing more can be done now.
    #[arg(long)]
    pub wait: bool,
    /// First wait between restore polls with --wait, in seconds; it doubles up to 15 minutes.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub poll_interval: f64,
    /// List the source again before running, to pick up objects written since the last scan.
    #[arg(long)]
    pub rescan: bool,
    /// Print `status` as JSON.
    #[arg(long)]
    pub json: bool,
    /// Wait up to DURATION (`30s`, `10m`) for another run's lock on the state (S3 backend); without it a
    /// held lock fails at once, naming its holder.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Status,
    Run,
    Verify,
}

fn action_named(word: &str) -> Option<Action> {
    match word {
        "status" => Some(Action::Status),
        "run" => Some(Action::Run),
        "verify" => Some(Action::Verify),
        _ => None,
    }
}

pub fn run(args: &MigrateArgs, color: ColorChoice) -> miette::Result<u8> {
    let Some(ws) = workspace(&args.env, color)? else {
        return Ok(exit::ERROR);
    };
    // One word is the action when it names one, else a migration; two are the migration, then the action.
    let (name, action) = match args.args.as_slice() {
        [] => (None, Action::Status),
        [one] => match action_named(one) {
            Some(action) => (None, action),
            None => (Some(one.clone()), Action::Status),
        },
        [name, word, ..] => match action_named(word) {
            Some(action) => (Some(name.clone()), action),
            None => {
                return Err(miette::miette!(
                    help = "the last argument is one of status, run, verify",
                    "`{word}` is not something migrate does"
                ));
            }
        },
    };
    let names: Vec<String> = match name {
        Some(name) if !ws.manifest.migrations.contains_key(&name) => {
            let known: Vec<&str> = ws.manifest.migrations.keys().map(String::as_str).collect();
            return Err(miette::miette!(
                help = if known.is_empty() {
                    "the manifest has no `migrations:`".to_string()
                } else {
                    format!("migrations of {}: {}", args.env, known.join(", "))
                },
                "migration `{name}` is not in environment {}",
                args.env
            ));
        }
        Some(name) => vec![name],
        None => ws.manifest.migrations.keys().cloned().collect(),
    };
    // A confirmation that names no migration's bucket is refused whatever the action: ignoring it would
    // let a typo pass for consent that was never given, and hold the delete without saying why.
    if let Err(e) = crate::migrate::spec::check_confirmations(&ws.manifest, &args.confirm_delete) {
        let help = match &e.meant {
            Some((migration, bucket)) => {
                format!("confirm migration.{migration}'s delete with its bucket's name: --confirm-delete {bucket}")
            }
            None if e.buckets.is_empty() => format!("environment {} has no migrations", args.env),
            None => format!(
                "the source buckets of {}'s migrations: {}",
                args.env,
                e.buckets.join(", ")
            ),
        };
        return Err(miette::miette!(help = help, "{e}"));
    }
    if names.is_empty() {
        eprintln!("Environment {} has no migrations.", args.env);
        return Ok(exit::OK);
    }
    if !args.poll_interval.is_finite() || args.poll_interval <= 0.0 {
        return Err(miette::miette!("--poll-interval must be a positive number of seconds"));
    }
    let runtime = super::runtime()?;
    runtime.block_on(migrate(&ws, action, &names, args))
}

async fn migrate(ws: &Workspace, action: Action, names: &[String], args: &MigrateArgs) -> miette::Result<u8> {
    // The local backend's `status` and `verify` work offline; the S3 backend needs AWS for the state.
    let remote = ws.manifest.state.backend == StateBackend::S3;
    let conn = if remote || action == Action::Run {
        Some(super::connect(ws).await?)
    } else {
        None
    };
    if action == Action::Status {
        if let Some(conn) = &conn {
            ws.read_state(&conn.aws).await.map_err(|e| miette::miette!("{e}"))?;
        }
        // The state is opened (and migrated) before anything else reads the inventory tables.
        ws.open_state().map_err(|e| miette::miette!("{e}"))?;
        let inventory = Inventory::open(&ws.state_path()).map_err(|e| miette::miette!("{e}"))?;
        return status_table(ws, &inventory, names, args.json);
    }
    let operation = if action == Action::Run {
        "migrate run"
    } else {
        "migrate verify"
    };
    let lease = ws
        .lease_migrations(conn.as_ref(), operation, names, args.lock_timeout)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    super::finish_lease(lease, async {
        let state = ws.open_state().map_err(|e| miette::miette!("{e}"))?;
        let inventory = Arc::new(Inventory::open(&ws.state_path()).map_err(|e| miette::miette!("{e}"))?);
        match (action, &conn) {
            (Action::Run, Some(conn)) => run_all(ws, conn, state, &inventory, names, args).await,
            (Action::Verify, _) => verify_all(ws, &inventory, names).await,
            (Action::Run | Action::Status, _) => {
                Err(miette::miette!("migrate {operation} needs AWS: this is a bug in s3rec"))
            }
        }
    })
    .await
}

/// Resolves a migration, with the environment's default region (no AWS call needed for that).
fn spec_of(ws: &Workspace, name: &str, region: &str) -> miette::Result<MigrationSpec> {
    let migration = ws
        .manifest
        .migrations
        .get(name)
        .ok_or_else(|| miette::miette!("migration `{name}` is not in the manifest"))?;
    MigrationSpec::new(&ws.manifest, name, migration, &ws.root, region).map_err(|e| miette::miette!("{e}"))
}

fn default_region(ws: &Workspace) -> String {
    ws.manifest
        .aws
        .region
        .clone()
        .unwrap_or_else(|| crate::aws::DEFAULT_REGION.to_string())
}

/// One row of `status`.
#[derive(Debug, Serialize)]
struct StatusRow {
    migration: String,
    bucket: String,
    destination: String,
    phase: Phase,
    scanned_at: Option<String>,
    deleted_at: Option<String>,
    #[serde(flatten)]
    tally: Tally,
}

fn status_rows(ws: &Workspace, inventory: &Inventory, names: &[String]) -> miette::Result<Vec<StatusRow>> {
    let region = default_region(ws);
    let mut rows = Vec::new();
    for name in names {
        let spec = spec_of(ws, name, &region)?;
        let bucket = inventory
            .bucket(&spec.name, &spec.bucket)
            .map_err(|e| miette::miette!("{e}"))?;
        let mut counter = status::Counter::new(spec.delete_source);
        inventory
            .for_each_object(&spec.name, &spec.bucket, |row| counter.add(&row))
            .map_err(|e| miette::miette!("{e}"))?;
        let tally = counter.finish();
        let scanned_at = bucket.as_ref().and_then(|b| b.scanned_at.clone());
        let deleted_at = bucket.and_then(|b| b.deleted_at);
        rows.push(StatusRow {
            phase: status::phase(&tally, scanned_at.is_some(), spec.delete_source),
            migration: spec.name,
            bucket: spec.bucket,
            destination: spec.destination.display().to_string(),
            scanned_at,
            deleted_at,
            tally,
        });
    }
    Ok(rows)
}

fn status_table(ws: &Workspace, inventory: &Inventory, names: &[String], json: bool) -> miette::Result<u8> {
    let rows = status_rows(ws, inventory, names)?;
    if json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| miette::miette!("{e}"))?;
        crate::output::print_data(&format!("{text}\n")).map_err(|e| miette::miette!("{e}"))?;
    } else {
        crate::output::print_data(&render_status(&rows)).map_err(|e| miette::miette!("{e}"))?;
    }
    Ok(exit::OK)
}

/// The status table: one line per migration and bucket.
fn render_status(rows: &[StatusRow]) -> String {
    let header = [
        "MIGRATION",
        "BUCKET",
        "PHASE",
        "OBJECTS",
        "SIZE",
        "TO RESTORE",
        "RESTORING",
        "TO DOWNLOAD",
        "TO VERIFY",
        "VERIFIED",
        "REFUSED",
        "FAILED",
        "DELETED",
    ];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(ToString::to_string).collect()];
    for r in rows {
        let t = &r.tally;
        table.push(vec![
            r.migration.clone(),
            r.bucket.clone(),
            r.phase.as_str().to_string(),
            t.objects.to_string(),
            crate::words::size(t.bytes),
            t.to_restore.to_string(),
            t.restoring.to_string(),
            t.to_download.to_string(),
            t.to_verify.to_string(),
            t.verified.to_string(),
            t.refused.to_string(),
            t.failed.to_string(),
            t.deleted.to_string(),
        ]);
    }
    // Names left-aligned, numbers right-aligned.
    let align: Vec<Align> = (0..header.len())
        .map(|c| if c < 3 { Align::Left } else { Align::Right })
        .collect();
    let mut out: String = crate::output::table(&table, &align)
        .into_iter()
        .map(|line| line + "\n")
        .collect();
    for r in rows {
        if r.phase == Phase::Scan {
            out.push_str(&format!(
                "migration.{}: not scanned yet: `s3rec migrate -e ENV {} run` starts it\n",
                r.migration, r.migration
            ));
        }
    }
    out
}

async fn run_all(
    ws: &Workspace,
    conn: &planner::Connection,
    mut state: crate::state::StateDb,
    inventory: &Arc<Inventory>,
    names: &[String],
    args: &MigrateArgs,
) -> miette::Result<u8> {
    // Everything that can refuse the run does so before it is recorded as started.
    let specs = names
        .iter()
        .map(|name| spec_of(ws, name, conn.aws.region()))
        .collect::<miette::Result<Vec<_>>>()?;
    let run = super::apply::begin_run(ws, &mut state, RunKind::Migrate)?;
    let options = Options {
        wait: args.wait,
        poll: Duration::from_secs_f64(args.poll_interval),
        rescan: args.rescan,
        ..Options::default()
    };
    let confirmed = args.confirm_delete.clone();
    let confirm = move |spec: &MigrationSpec, count: usize, bytes: u64| confirm_delete(spec, count, bytes, &confirmed);
    let mut outcomes = Vec::new();
    let mut errors = 0;
    let _graceful = crate::interrupt::graceful();
    for spec in specs {
        if crate::interrupt::requested().is_some() {
            break;
        }
        eprintln!(
            "migration.{}: s3://{}/{} → {}",
            spec.name,
            spec.bucket,
            spec.prefix,
            spec.destination.display()
        );
        let progress: Arc<dyn Progress> = Arc::new(super::StepProgress::new("migration"));
        match run::run(&conn.aws, inventory, &spec, &options, &progress, &confirm).await {
            Ok(outcome) => {
                print_outcome(&outcome);
                outcomes.push(outcome);
            }
            Err(e) => {
                errors += 1;
                crate::output::print_error(format_args!("migration.{}: {e}", spec.name));
                outcomes.push(Outcome {
                    migration: spec.name.clone(),
                    bucket: spec.bucket.clone(),
                    failed: vec![("the migration".to_string(), e.to_string())],
                    ..Outcome::default()
                });
            }
        }
    }
    let ok = errors == 0 && outcomes.iter().all(Outcome::ok);
    let (recorded, code) = super::apply::run_end(ok, crate::interrupt::requested());
    super::apply::finish_run(ws, conn, &mut state, run, recorded, |s| s.with_migrations(&outcomes)).await?;
    // The table after the run is the data; the summaries above went to stderr.
    let rows = status_rows(ws, inventory, names)?;
    crate::output::print_data(&render_status(&rows)).map_err(|e| miette::miette!("{e}"))?;
    Ok(code)
}

/// The delete confirmation: `--confirm-delete BUCKET`, or the bucket's name typed on a terminal.
fn confirm_delete(spec: &MigrationSpec, count: usize, bytes: u64, confirmed: &[String]) -> Option<String> {
    if confirmed.contains(&spec.bucket) {
        return Some("flag".to_string());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return None;
    }
    eprint!(
        "\nmigration.{}: every object is verified under {}.\nDelete {count} object version(s) ({}) from s3://{}? This cannot be undone.\nType the bucket name to confirm: ",
        spec.name,
        spec.destination.display(),
        crate::words::size(bytes),
        spec.bucket
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(_) if line.trim() == spec.bucket => Some("terminal".to_string()),
        _ => {
            eprintln!("Not confirmed: nothing deleted.");
            None
        }
    }
}

/// The final summary of one migration on stderr, with every failure and refused key.
fn print_outcome(o: &Outcome) {
    if let Some(m) = &o.scanned
        && m.added + m.changed + m.dropped > 0
    {
        eprintln!(
            "migration.{}: scan: {} new, {} changed, {} gone",
            o.migration, m.added, m.changed, m.dropped
        );
    }
    eprintln!(
        "migration.{}: {} restores requested, {} downloaded ({}), {} already in place, {} verified, {} deleted, {} failed, {} refused in {:.1}s; phase {}.",
        o.migration,
        o.restores_requested,
        o.downloaded,
        crate::words::size(o.downloaded_bytes),
        o.adopted,
        o.verified,
        o.deleted,
        o.failed.len(),
        o.refused.len(),
        o.duration.as_secs_f64(),
        o.phase.map_or("scan", Phase::as_str)
    );
    if o.tally.restoring > 0 {
        eprintln!(
            "  {} restore(s) in progress: run again later, or pass --wait to poll until they finish",
            o.tally.restoring
        );
    }
    if let Some(why) = &o.delete_held {
        eprintln!("  delete held: {why}");
    }
    for (key, why) in &o.refused {
        eprintln!("  refused: {key:?}: {why}");
    }
    for (key, why) in &o.failed {
        eprintln!("  failed: {key:?}: {why}");
    }
}

async fn verify_all(ws: &Workspace, inventory: &Arc<Inventory>, names: &[String]) -> miette::Result<u8> {
    let region = default_region(ws);
    let mut ok = true;
    for name in names {
        let spec = spec_of(ws, name, &region)?;
        let progress = super::StepProgress::new("migration");
        let outcome = run::verify_local(inventory, &spec, &progress)
            .await
            .map_err(|e| miette::miette!("{e}"))?;
        println!(
            "migration.{}: {} checked, {} match, {} differ",
            outcome.migration,
            crate::words::counted(outcome.checked, "file"),
            outcome.ok,
            outcome.mismatched.len()
        );
        for (key, why) in &outcome.mismatched {
            println!("  mismatch: {key:?}: {why}");
        }
        if !outcome.mismatched.is_empty() {
            ok = false;
            eprintln!(
                "migration.{}: the next `s3rec migrate -e {} {} run` downloads the differing files again (while their source exists)",
                outcome.migration,
                ws.environment(),
                outcome.migration
            );
        }
    }
    Ok(if ok { exit::OK } else { exit::ERROR })
}
