//! `s3rec plan`: what apply would change, as text, JSON or markdown; optionally saved for `apply FILE`.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use miette::{IntoDiagnostic, WrapErr};

use super::exit;
use crate::cli::ColorChoice;
use crate::manifest::diagnostic::render_human;
use crate::output::{print_data, stderr_color, stdout_color};
use crate::plan::{Plan, render};
use crate::planner::{self, PlanError, PlanOptions, Workspace, WorkspaceError};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Environment to plan (environments/<ENV>.yaml).
    #[arg(short, long, value_name = "ENV")]
    pub env: String,
    /// Save the plan to FILE (JSON) for `s3rec apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 1 on error, 2 when there are changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Limit the plan to ADDR (e.g. bucket.logs or bucket.logs.lifecycle) and what it depends on. Repeatable.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Also read settings the manifest does not manage and warn where they differ from AWS defaults.
    #[arg(long)]
    pub audit: bool,
    /// Exit 1 when a security finding at or above SEVERITY is not acknowledged (docs/findings.md).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<crate::findings::Severity>,
    /// How much of each change the text plan shows: `compact` (one block per bucket or IAM/SNS
    /// resource) or `full` (every change in a block of its own, every attribute on a line).
    #[arg(long, value_enum, value_name = "DETAIL", default_value_t = render::Detail::Compact)]
    pub detail: render::Detail,
    /// Also price the changes to lifecycle rules and versioning (each changed bucket's versions are
    /// listed and projected over 12 months before and after), and the uploads of sync mappings into a
    /// storage class other than STANDARD (docs/cost.md).
    #[arg(long)]
    pub cost: bool,
    /// The price table for --cost instead of the embedded one.
    #[arg(long, value_name = "FILE", requires = "cost")]
    pub prices: Option<PathBuf>,
    /// Buckets read from AWS at once.
    #[arg(long, value_name = "N", default_value_t = planner::DEFAULT_READ_CONCURRENCY)]
    pub parallelism: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
    /// SARIF 2.1.0 of the plan's security findings, for code scanning.
    Sarif,
}

pub fn run(args: &PlanArgs, color: ColorChoice) -> miette::Result<u8> {
    let Some(ws) = workspace(&args.env, color)? else {
        return Ok(exit::ERROR);
    };
    let runtime = super::runtime()?;
    let opts = PlanOptions {
        targets: args.targets.clone(),
        audit: args.audit,
        read_concurrency: args.parallelism,
    };
    let prices = if args.cost {
        let prices = crate::cost::prices::Prices::load(args.prices.as_deref());
        Some(prices.map_err(|e| super::cost::located(e.into()))?)
    } else {
        None
    };
    let mut plan = runtime.block_on(make_plan(&ws, &opts))?;
    if let Some(prices) = &prices {
        plan.costs = runtime.block_on(price_changes(&ws, &plan, prices))?;
    }
    let text = match args.format {
        PlanFormat::Text => render::text(&plan, stdout_color(color), args.detail),
        PlanFormat::Json => render::json(&plan),
        PlanFormat::Markdown => render::markdown(&plan),
        PlanFormat::Sarif => {
            let cwd =
                std::env::current_dir().map_err(|e| miette::miette!("cannot determine the working directory: {e}"))?;
            let root = super::validate::repository_root(&cwd);
            let located = crate::findings::render::from_json(&plan.findings, &|file| {
                super::validate::repository_uri(&root, &cwd.join(file))
            });
            let fallback = super::validate::repository_uri(&root, &ws.loaded.path);
            crate::findings::sarif::render(&located, &fallback)
        }
    };
    print_data(&text).into_diagnostic()?;
    if let Some(out) = &args.out {
        save(&plan, out)?;
        eprintln!(
            "Saved the plan to {}. Apply exactly this plan with: s3rec apply {}",
            out.display(),
            out.display()
        );
    }
    if let Some(threshold) = args.fail_on {
        let open: Vec<_> = plan
            .findings
            .iter()
            .filter(|f| {
                !f.acknowledged && crate::findings::RuleId::parse(&f.id).is_some_and(|r| r.rule().severity >= threshold)
            })
            .map(|f| format!("{} {}", f.id, f.resource))
            .collect();
        if !open.is_empty() {
            eprintln!(
                "security findings at or above --fail-on {} are open: {}; fix them or acknowledge them in the manifest with a reason",
                threshold.as_str(),
                open.join(", ")
            );
            return Ok(exit::ERROR);
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    })
}

/// Opens the workspace; an invalid manifest is rendered (as `validate` does) and gives `None`.
pub(crate) fn workspace(env: &str, color: ColorChoice) -> miette::Result<Option<Workspace>> {
    match planner::open_workspace(env) {
        Ok(ws) => Ok(Some(ws)),
        Err(WorkspaceError::Invalid(loaded)) => {
            eprint!(
                "{}",
                render_human(&loaded.problems, &loaded.sources, stderr_color(color))
            );
            eprintln!(
                "{} is not valid: fix the errors above (`s3rec validate -e {env}` shows them too)",
                loaded.sources_display()
            );
            Ok(None)
        }
        Err(WorkspaceError::Discovery(e)) => Err(e.into()),
        Err(e) => Err(miette::miette!("{e}")),
    }
}

/// Connects, checks the account guard, reads AWS and the state, and plans.
pub(crate) async fn make_plan(ws: &Workspace, opts: &PlanOptions) -> miette::Result<Plan> {
    let conn = super::connect(ws).await?;
    let state = ws
        .read_state(&conn.aws)
        .await
        .map_err(|e| miette::miette!("{e}"))
        .wrap_err_with(|| format!("cannot read the state of {}", ws.environment()))?;
    plan_from(ws, &conn, &state, opts).await
}

/// Reads AWS and plans against `state` (already opened, and held by the caller when it will apply).
pub(crate) async fn plan_from(
    ws: &Workspace,
    conn: &planner::Connection,
    state: &crate::state::StateDb,
    opts: &PlanOptions,
) -> miette::Result<Plan> {
    let m = &ws.manifest;
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let mut what = vec![plural(m.buckets.len(), "bucket")];
    let identities = m.iam.users.len() + m.iam.roles.len() + m.iam.policies.len();
    if identities > 0 {
        what.push(plural(identities, "IAM resource"));
    }
    if !m.sns.topics.is_empty() {
        what.push(plural(m.sns.topics.len(), "topic"));
    }
    eprintln!("Reading {} of {} from AWS...", what.join(", "), ws.environment());
    planner::plan(ws, conn, state, opts).await.map_err(plan_error)
}

/// `--cost`: lists each bucket whose lifecycle rules or versioning change and prices both sides.
async fn price_changes(
    ws: &Workspace,
    plan: &Plan,
    prices: &crate::cost::prices::Prices,
) -> miette::Result<Vec<crate::plan::CostDelta>> {
    let conn = super::connect(ws).await?;
    let default_region = crate::cost::run::default_region(&ws.manifest);
    eprintln!("Pricing the lifecycle and versioning changes...");
    Ok(crate::cost::run::plan_costs(
        &conn.aws,
        &ws.manifest,
        plan,
        prices,
        &default_region,
        crate::cost::run::now_ms(),
    )
    .await)
}

pub(crate) fn plan_error(e: PlanError) -> miette::Report {
    super::report(&e, e.hint())
}

/// Writes the plan as JSON with its digest (`plan_sha256`), atomically, so a half-written plan file
/// never exists and an edited one is refused by `apply`.
fn save(plan: &Plan, out: &Path) -> miette::Result<()> {
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, crate::plan::seal(plan))
        .and_then(|()| std::fs::rename(&tmp, out))
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot write the plan to {}", out.display()))
}
