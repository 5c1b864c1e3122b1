//! `s3rec apply`: converge. With a plan file, exactly that plan (refused when it went stale); without
//! one, a fresh plan, shown and confirmed first.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use miette::{IntoDiagnostic, WrapErr};

use super::exit;
use super::plan::{plan_from, workspace};
use crate::cli::ColorChoice;
use crate::exec::{self, ActionReport, Progress, Status};
use crate::manifest::types::RunKind;
use crate::model::desired::{self, Context};
use crate::output::{print_data, stdout_color};
use crate::plan::{Action, Change, Plan, SavedPlanError, render};
use crate::planner::{self, PlanOptions, Workspace};
use crate::report::RunSummary;
use crate::state::RunOutcome;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `s3rec plan --out FILE`; applied exactly, or refused if it went stale.
    #[arg(value_name = "PLANFILE")]
    pub plan: Option<PathBuf>,
    /// Environment to plan and apply (not needed with a plan file, which names its environment).
    #[arg(short, long, value_name = "ENV")]
    pub env: Option<String>,
    /// Apply without asking for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Actions in flight at once.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub parallelism: usize,
    /// Limit the plan to ADDR and what it depends on. Repeatable.
    #[arg(long = "target", value_name = "ADDR", conflicts_with = "plan")]
    pub targets: Vec<String>,
    /// How much of each change the plan shown before applying says: `compact` or `full` (as `plan --detail`).
    #[arg(long, value_enum, value_name = "DETAIL", default_value_t = render::Detail::Compact)]
    pub detail: render::Detail,
    /// Wait up to DURATION (`30s`, `10m`) for another run's lock on the state (S3 backend); without it a
    /// held lock fails at once, naming its holder.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
}

pub fn run(args: &ApplyArgs, color: ColorChoice) -> miette::Result<u8> {
    let runtime = super::runtime()?;
    match &args.plan {
        Some(file) => {
            let plan = read_plan(file)?;
            if let Some(env) = &args.env
                && *env != plan.environment
            {
                return Err(miette::miette!(
                    "{} is a plan for environment `{}`, not `{env}`",
                    file.display(),
                    plan.environment
                ));
            }
            let Some(ws) = workspace(&plan.environment, color)? else {
                return Ok(exit::ERROR);
            };
            if ws.manifest_sha256 != plan.manifest_sha256 {
                return Err(miette::miette!(
                    help = format!(
                        "make a new plan: s3rec plan -e {} --out {}",
                        plan.environment,
                        file.display()
                    ),
                    "the manifest of `{}` changed since {} was made, so the plan no longer says what the manifest wants",
                    plan.environment,
                    file.display()
                ));
            }
            runtime.block_on(apply_saved(&ws, &plan, args))
        }
        None => {
            let Some(env) = &args.env else {
                return Err(miette::miette!(
                    help = "for example `s3rec apply -e prod` or `s3rec apply plan.json`",
                    "name the environment with -e ENV, or give a saved plan file"
                ));
            };
            let Some(ws) = workspace(env, color)? else {
                return Ok(exit::ERROR);
            };
            runtime.block_on(apply_fresh(&ws, args, color))
        }
    }
}

/// `apply -e ENV`: takes the state first, then plans from it, shows the plan and asks, and applies, all
/// under one lock, so a run that waited for another (`--lock-timeout`) plans from what that one left.
async fn apply_fresh(ws: &Workspace, args: &ApplyArgs, color: ColorChoice) -> miette::Result<u8> {
    let conn = super::connect(ws).await?;
    let lease = ws
        .lease_state(&conn, "apply", args.lock_timeout)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    super::finish_lease(lease, async {
        let mut state = ws.open_state().map_err(|e| miette::miette!("{e}"))?;
        let opts = PlanOptions {
            targets: args.targets.clone(),
            ..PlanOptions::default()
        };
        let plan = plan_from(ws, &conn, &state, &opts).await?;
        print_data(&render::text(&plan, stdout_color(color), args.detail)).into_diagnostic()?;
        if plan.has_changes() && !approved(args.auto_approve)? {
            eprintln!("Apply cancelled.");
            return Ok(exit::ERROR);
        }
        if !has_work(&plan) {
            return Ok(exit::OK);
        }
        execute_plan(ws, &conn, &mut state, &plan, args.parallelism).await
    })
    .await
}

/// `apply PLANFILE`: exactly the saved plan, refused when live AWS or the state moved since it was made.
async fn apply_saved(ws: &Workspace, plan: &Plan, args: &ApplyArgs) -> miette::Result<u8> {
    let conn = super::connect(ws).await?;
    if let (Some(planned), Some(now)) = (&plan.account_id, &conn.identity)
        && *planned != now.account
    {
        return Err(miette::miette!(
            "the plan was made for account {planned}, but the credentials are for account {} ({})",
            now.account,
            now.arn
        ));
    }
    refuse_if_stale(&conn.aws, plan).await?;
    if !has_work(plan) {
        print_data("No changes. The estate matches the manifest.\n").into_diagnostic()?;
        return Ok(exit::OK);
    }
    let lease = ws
        .lease_state(&conn, "apply", args.lock_timeout)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    super::finish_lease(lease, async {
        let mut state = ws.open_state().map_err(|e| miette::miette!("{e}"))?;
        refuse_if_state_moved(ws, &state, plan)?;
        execute_plan(ws, &conn, &mut state, plan, args.parallelism).await
    })
    .await
}

/// The sync mappings a plan has work for.
fn sync_work(plan: &Plan) -> Vec<String> {
    plan.syncs
        .iter()
        .filter(|s| s.has_work())
        .map(|s| s.mapping.clone())
        .collect()
}

fn has_work(plan: &Plan) -> bool {
    !plan.changes.is_empty() || plan.syncs.iter().any(|s| s.has_work())
}

fn read_plan(file: &Path) -> miette::Result<Plan> {
    let text = std::fs::read_to_string(file)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read the plan {}", file.display()))?;
    crate::plan::unseal(&text).map_err(|e| {
        let help = match e {
            SavedPlanError::Modified { .. } | SavedPlanError::NoDigest => {
                "a saved plan is applied exactly as it was made and reviewed; make a new one: s3rec plan -e ENV --out FILE"
            }
            SavedPlanError::NotAPlan | SavedPlanError::Invalid(_) => {
                "make the plan with this s3rec version: s3rec plan -e ENV --out FILE"
            }
        };
        miette::miette!(help = help, "{} is refused: {e}", file.display())
    })
}

/// Asks for `yes` on a terminal; refuses to guess without one.
pub(crate) fn approved(auto_approve: bool) -> miette::Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(miette::miette!(
            help = "pass --auto-approve, or save a plan with `s3rec plan --out FILE` and apply that file",
            "apply needs confirmation, and stdin is not a terminal"
        ));
    }
    eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).into_diagnostic()?;
    Ok(answer.trim() == "yes")
}

/// Runs a plan while the state is held: the changes, then the sync mappings, recorded as one run.
async fn execute_plan(
    ws: &Workspace,
    conn: &planner::Connection,
    state: &mut crate::state::StateDb,
    plan: &Plan,
    parallelism: usize,
) -> miette::Result<u8> {
    let syncs = sync_work(plan);
    // Before the run is recorded and before any AWS call: nothing the state does not manage is ever
    // deleted or replaced, whatever the plan says.
    exec::refuse_unmanaged(plan, state).map_err(|e| miette::miette!("{e}"))?;
    let _graceful = crate::interrupt::graceful();
    let plan_sha = plan.sha256();
    let run = state
        .begin_run("apply", ws.environment(), Some(&plan_sha))
        .map_err(|e| miette::miette!("{e}"))?;
    let started = Instant::now();
    let report = exec::execute(
        plan,
        Arc::clone(&conn.aws),
        state,
        run,
        parallelism,
        &ws.root,
        &StderrProgress,
    )
    .await
    .map_err(|e| miette::miette!("{e}"))?;
    let failed = report.failed();
    // The mappings run once the buckets they write to are as the plan wants; they decide again what to
    // upload, since files change between plan and apply.
    let (sync_failed, sync_outcomes) = if failed == 0 && report.cancelled.is_none() && !syncs.is_empty() {
        run_syncs(ws, conn, &syncs).await
    } else {
        (0, Vec::new())
    };
    let cancelled = report
        .cancelled
        .or_else(|| sync_outcomes.iter().find_map(|o| o.cancelled));
    let outcome = if cancelled.is_some() {
        RunOutcome::Cancelled
    } else if failed == 0 && sync_failed == 0 {
        RunOutcome::Succeeded
    } else {
        RunOutcome::Failed
    };
    state.finish_run(run, outcome).map_err(|e| miette::miette!("{e}"))?;
    let summary = RunSummary::new(
        "apply",
        ws.environment(),
        conn.identity.as_ref().map(|i| i.account.as_str()),
        run.0,
        outcome,
        &report,
        started.elapsed(),
    )
    .with_sync(&sync_outcomes);
    publish_report(ws, conn, RunKind::Apply, &summary).await;
    if let Some(signal) = cancelled {
        print_data(&format!(
            "Apply cancelled by {}: {} not started. The state and journal (`s3rec state journal -e {}`) record what was done; run apply again to finish.\n",
            signal.name(),
            report.skipped(),
            ws.environment()
        ))
        .into_diagnostic()?;
        return Ok(signal.exit_code());
    }
    if sync_failed > 0 {
        print_data(&format!(
            "Apply failed: {sync_failed} sync mapping(s) had failures (listed above); the sync index records what was uploaded, so running apply or sync again resumes.\n"
        ))
        .into_diagnostic()?;
        return Ok(exit::ERROR);
    }
    let adopted = match report.succeeded(Action::Adopt) {
        0 => String::new(),
        n => format!(", {n} adopted"),
    };
    let summary = format!(
        "{} created, {} updated, {} replaced, {} destroyed{adopted}",
        report.succeeded(Action::Create),
        report.succeeded(Action::Update),
        report.succeeded(Action::Replace),
        report.succeeded(Action::Delete)
    );
    let secs = started.elapsed().as_secs_f64();
    if failed == 0 {
        print_data(&format!("Apply complete! {summary} in {secs:.1}s.\n")).into_diagnostic()?;
        Ok(exit::OK)
    } else {
        print_data(&format!(
            "Apply failed: {failed} failed, {} skipped; {summary}. The state and journal (`s3rec state journal -e {}`) record what was done; fix the cause and run apply again.\n",
            report.skipped(),
            ws.environment()
        ))
        .into_diagnostic()?;
        Ok(exit::ERROR)
    }
}

/// Runs the sync mappings of an apply; returns how many had failures, and what each did. Errors are
/// printed here: the run must still be finished and recorded whatever happens to the mappings.
async fn run_syncs(
    ws: &Workspace,
    conn: &planner::Connection,
    names: &[String],
) -> (usize, Vec<crate::sync::run::Outcome>) {
    let (prepared, unprepared) = match super::sync::prepare_all(ws, conn, names).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e:?}");
            return (names.len(), Vec::new());
        }
    };
    match super::sync::execute_all(ws, conn, prepared).await {
        Ok(executed) => {
            let mut outcomes = unprepared;
            outcomes.extend(executed);
            (outcomes.iter().filter(|o| !o.ok()).count(), outcomes)
        }
        Err(e) => {
            eprintln!("{e:?}");
            (names.len(), Vec::new())
        }
    }
}

/// A `sync` or `migrate` run recorded in the state and not finished yet.
pub(crate) struct OpenRun {
    id: crate::state::RunId,
    kind: RunKind,
    started: std::time::Instant,
}

impl OpenRun {
    fn command(&self) -> &'static str {
        match self.kind {
            RunKind::Apply => "apply",
            RunKind::Sync => "sync",
            RunKind::Migrate => "migrate",
            RunKind::Restore => "restore",
        }
    }
}

/// How a `sync` or `migrate` run ended, and the exit code that says so: a signal wins over failures,
/// which win over success.
pub(crate) fn run_end(ok: bool, cancelled: Option<crate::interrupt::Signal>) -> (RunOutcome, u8) {
    match cancelled {
        Some(signal) => (RunOutcome::Cancelled, signal.exit_code()),
        None if ok => (RunOutcome::Succeeded, exit::OK),
        None => (RunOutcome::Failed, exit::ERROR),
    }
}

/// Records the start of a `sync` or `migrate` run in the state.
pub(crate) fn begin_run(ws: &Workspace, state: &mut crate::state::StateDb, kind: RunKind) -> miette::Result<OpenRun> {
    let mut run = OpenRun {
        id: crate::state::RunId(0),
        kind,
        started: std::time::Instant::now(),
    };
    run.id = state
        .begin_run(run.command(), ws.environment(), None)
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(run)
}

/// Ends a `sync` or `migrate` run: records its outcome in the state, then sends its report, to which
/// `section` adds the command's own part (per mapping, per migration).
pub(crate) async fn finish_run(
    ws: &Workspace,
    conn: &planner::Connection,
    state: &mut crate::state::StateDb,
    run: OpenRun,
    recorded: RunOutcome,
    section: impl FnOnce(RunSummary) -> RunSummary,
) -> miette::Result<()> {
    state.finish_run(run.id, recorded).map_err(|e| miette::miette!("{e}"))?;
    let summary = section(RunSummary::new(
        run.command(),
        ws.environment(),
        conn.identity.as_ref().map(|i| i.account.as_str()),
        run.id.0,
        recorded,
        &crate::exec::Report::default(),
        run.started.elapsed(),
    ));
    publish_report(ws, conn, run.kind, &summary).await;
    Ok(())
}

/// Publishes the run report when the manifest asks for one for runs of `kind` (`report:`; see
/// docs/reports.md). The run is over and recorded by then: a report that cannot be sent is a warning on
/// stderr, never a failed run.
pub(crate) async fn publish_report(ws: &Workspace, conn: &planner::Connection, kind: RunKind, summary: &RunSummary) {
    let m = &ws.manifest;
    let Some(settings) = m.report.as_ref().filter(|r| r.on.contains(&kind)) else {
        return;
    };
    let region = conn.aws.region();
    let ctx = Context {
        manifest: m,
        account_id: conn.identity.as_ref().map(|i| i.account.as_str()),
        default_region: region,
    };
    let topic = &settings.topic;
    let arn = match desired::topic_arn(&ctx, topic, "report.topic") {
        Ok(arn) => arn,
        Err(e) => {
            eprintln!("warning: the run report was not sent to SNS topic `{topic}`: {e}");
            return;
        }
    };
    let subject = crate::report::subject(summary);
    let message = crate::report::message(summary);
    match crate::aws::sns::publish(&conn.aws, &arn, region, &subject, &message).await {
        Ok(()) => eprintln!("Run report sent to SNS topic `{topic}` ({arn})."),
        // AwsError's text names the operation and, when denied, the missing sns:Publish on the topic.
        Err(e) => eprintln!("warning: the run report was not sent to SNS topic `{topic}` ({arn}): {e}"),
    }
}

/// A saved plan is applied only against the state it was made from: another run since (a CI apply between
/// this plan and its apply) may have changed what is managed, or what a sync index knows.
fn refuse_if_state_moved(ws: &Workspace, state: &crate::state::StateDb, plan: &Plan) -> miette::Result<()> {
    let Some(planned) = &plan.state else {
        return Ok(());
    };
    let now = state.version().map_err(|e| miette::miette!("{e}"))?;
    if !planned.moved_to(&now) {
        return Ok(());
    }
    let last = state
        .runs(1)
        .ok()
        .and_then(|runs| runs.into_iter().next())
        .map(|r| format!(" (the last run is {} #{} started {})", r.command, r.id, r.started_at))
        .unwrap_or_default();
    Err(miette::miette!(
        help = format!("make a new plan: s3rec plan -e {} --out FILE", ws.environment()),
        "the plan is stale: the state of {} moved since the plan was made ({planned}, now {now}){last}",
        ws.environment()
    ))
}

/// A saved plan is applied only if every resource it touches is still as it was when planned.
async fn refuse_if_stale(aws: &crate::aws::Aws, plan: &Plan) -> miette::Result<()> {
    // A document of a bucket (or a part of an IAM/SNS resource) the plan creates or replaces is new by
    // definition; the owner's own change carries the staleness check.
    let rebuilt: Vec<&str> = plan
        .actionable()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .filter_map(|c| match &c.resource {
            crate::plan::Resource::Bucket { .. } | crate::plan::Resource::Identity { part: None, .. } => {
                Some(c.address.as_str())
            }
            _ => None,
        })
        .collect();
    let mut stale = Vec::new();
    // Adoptions too: recording a resource that is no longer as planned would be a lie in the state.
    for change in plan.visible() {
        if rebuilt
            .iter()
            .any(|owner| change.address.as_str() != *owner && change.address.within(owner))
        {
            continue;
        }
        let live = crate::exec::retry::read(|| planner::current_value(aws, change))
            .await
            .map_err(|e| miette::miette!("{e}"))?;
        if !planner::is_current(change, &live) {
            stale.push(change.address.to_string());
        }
    }
    if stale.is_empty() {
        return Ok(());
    }
    Err(miette::miette!(
        help = format!("make a new plan: s3rec plan -e {} --out FILE", plan.environment),
        "the plan is stale: {} changed since it was made ({})",
        if stale.len() == 1 {
            "this resource"
        } else {
            "these resources"
        },
        stale.join(", ")
    ))
}

/// Terraform-style progress lines on stderr.
struct StderrProgress;

impl Progress for StderrProgress {
    fn started(&self, change: &Change) {
        if change.action != Action::NoOp {
            eprintln!("{}: {}...", change.address, progressive(change.action));
        }
    }

    fn finished(&self, r: &ActionReport) {
        match &r.status {
            Status::Succeeded if r.action == Action::NoOp => {}
            Status::Succeeded => eprintln!(
                "{}: {} complete after {:.1}s",
                r.address,
                noun(r.action),
                r.elapsed.as_secs_f64()
            ),
            Status::Failed(e) => eprintln!(
                "{}: {} FAILED after {} attempt{}: {e}",
                r.address,
                noun(r.action),
                r.attempts,
                if r.attempts == 1 { "" } else { "s" }
            ),
            Status::Skipped { because } => eprintln!("{}: skipped because {because}", r.address),
        }
    }
}

fn progressive(action: Action) -> &'static str {
    match action {
        Action::Create => "Creating",
        Action::Update => "Modifying",
        Action::Replace => "Replacing",
        Action::Delete => "Destroying",
        Action::Adopt => "Adopting",
        Action::NoOp => "Recording",
    }
}

fn noun(action: Action) -> &'static str {
    match action {
        Action::Create => "Creation",
        Action::Update => "Modifications",
        Action::Replace => "Replacement",
        Action::Delete => "Destruction",
        Action::Adopt => "Adoption",
        Action::NoOp => "Recording",
    }
}
