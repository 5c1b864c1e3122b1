//! `s3rec import`: write manifest YAML for live buckets (`NAME...`, `--all`, `--prefix`), or list the
//! buckets no environment manages (`--list`). The conversion is `crate::import`; the reads are
//! `aws::read` through the planner.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use miette::{IntoDiagnostic, miette};

use super::exit;
use crate::cli::ColorChoice;
use crate::import::select::{Selection, select};
use crate::import::{self, emit, unmanaged};
use crate::model::DocKind;
use crate::output::print_data;
use crate::planner::{self, Workspace};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Environment whose connection settings (endpoint, region, account guard) are used, and whose
    /// name becomes `${env}` in bucket names.
    #[arg(short, long, value_name = "ENV")]
    pub env: String,
    /// Buckets to import, by physical name.
    #[arg(value_name = "NAME", conflicts_with_all = ["all", "list"])]
    pub names: Vec<String>,
    /// Import every bucket of the account that no other environment manages.
    #[arg(long, conflicts_with = "list")]
    pub all: bool,
    /// Import the buckets whose names start with P (that no other environment manages); P is also
    /// removed from the front of the logical names.
    #[arg(long, value_name = "P", conflicts_with = "list")]
    pub prefix: Option<String>,
    /// Write the manifest to FILE instead of stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "list")]
    pub out: Option<PathBuf>,
    /// Also import the IAM users, roles and customer-managed policies and the SNS topics that the
    /// buckets' notifications, replication and policies name (and the policies those identities
    /// attach), as `iam.*` and `sns.topics` entries.
    #[arg(long, conflicts_with = "list")]
    pub with_related: bool,
    /// Let --out replace an existing file.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// List the account's buckets that no environment manages, with their findings, instead.
    #[arg(long)]
    pub list: bool,
    /// Output format of --list.
    #[arg(long, value_enum, default_value_t = ListFormat::Table, requires = "list")]
    pub format: ListFormat,
    /// Buckets read from AWS at once.
    #[arg(long, value_name = "N", default_value_t = planner::DEFAULT_READ_CONCURRENCY)]
    pub parallelism: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

pub fn run(args: &ImportArgs, color: ColorChoice) -> miette::Result<u8> {
    if !args.list && args.names.is_empty() && !args.all && args.prefix.is_none() {
        return Err(miette!(
            help = "for example `s3rec import -e prod acme-logs-prod`, `--prefix acme-`, `--all`, or `--list` to see what is unmanaged",
            "name what to import: bucket names, --prefix P or --all"
        ));
    }
    // Refused before anything is read: a manifest is never overwritten by accident.
    if let Some(out) = &args.out
        && out.exists()
        && !args.force
    {
        return Err(miette!(
            help = "add --force to replace it, or choose another file",
            "{} already exists; import does not overwrite it without --force",
            out.display()
        ));
    }
    let Some(ws) = super::plan::workspace(&args.env, color)? else {
        return Ok(exit::ERROR);
    };
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let conn = super::connect(&ws).await?;
        let state = ws
            .read_state(&conn.aws)
            .await
            .map_err(|e| miette!("cannot read the state of {}: {e}", ws.environment()))?;
        if args.list {
            let rows = planner::unmanaged_buckets(&ws, &conn, &state, args.parallelism)
                .await
                .map_err(|e| miette!("{e}"))?;
            let text = match args.format {
                ListFormat::Table => unmanaged::table(&rows),
                ListFormat::Json => unmanaged::json(&rows),
            };
            print_data(&text).into_diagnostic()?;
            eprintln!("{} bucket(s) no environment manages", rows.len());
            return Ok(exit::OK);
        }
        import_buckets(args, &ws, &conn, &state).await
    })
}

async fn import_buckets(
    args: &ImportArgs,
    ws: &Workspace,
    conn: &planner::Connection,
    state: &crate::state::StateDb,
) -> miette::Result<u8> {
    let listed = crate::exec::retry::read(|| crate::aws::read::list_buckets(&conn.aws))
        .await
        .map_err(|e| miette!("{e}"))?;
    let selection = match &args.prefix {
        _ if !args.names.is_empty() => Selection::Names(&args.names),
        Some(prefix) => Selection::Matching { prefix },
        None => Selection::Matching { prefix: "" },
    };
    let others = planner::managed_by_other_environments(&conn.aws, ws, state)
        .await
        .map_err(|e| miette!("{e}"))?;
    let names: Vec<&str> = listed.iter().map(|b| b.name.as_str()).collect();
    let chosen = select(&names, selection, &others).map_err(|e| miette!(help = e.hint(), "{e}"))?;
    if chosen.managed_elsewhere > 0 {
        eprintln!(
            "note: {} matching bucket(s) are managed by another environment and not imported",
            chosen.managed_elsewhere
        );
    }
    let selected: Vec<&crate::aws::read::ListedBucket> =
        listed.iter().filter(|b| chosen.names.contains(&b.name)).collect();
    eprintln!("Reading {} bucket(s)...", selected.len());
    let live = planner::read_listed(&conn.aws, &selected, &DocKind::ALL, args.parallelism)
        .await
        .map_err(|e| miette!("{e}"))?;
    let live: Vec<_> = live.into_values().flatten().collect();
    let account = conn.identity.as_ref().map(|i| i.account.as_str());
    let related = match (args.with_related, account) {
        (false, _) => None,
        (true, None) => {
            return Err(miette!(
                help = format!(
                    "check that STS answers with these credentials (`s3rec doctor -e {}`), or import without --with-related",
                    ws.environment()
                ),
                "--with-related needs the account ID to name IAM and SNS resources, but STS did not answer"
            ));
        }
        (true, Some(account)) => {
            let related = planner::read_related(&conn.aws, account, &live, args.parallelism)
                .await
                .map_err(|e| miette!("{e}"))?;
            eprintln!("Read {} related IAM/SNS resource(s).", related.live.len());
            Some(related)
        }
    };
    let req = import::Request {
        environment: ws.environment(),
        default_region: conn.aws.region(),
        strip_prefix: args.prefix.as_deref(),
        account,
        related: related.as_ref(),
    };
    let imported = import::import(&req, &live);
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let header = emit::Header {
        when: crate::state::time::now_rfc3339(),
        account: conn.identity.as_ref().map(|i| i.account.clone()),
        caller_arn: conn.identity.as_ref().map(|i| i.arn.clone()),
        endpoint: conn.aws.endpoint_url().map(str::to_string),
        region: conn.aws.region().to_string(),
    };
    let settings = emit::Settings {
        aws: ws.manifest.aws.clone(),
        state: ws.manifest.state.clone(),
    };
    let text = emit::manifest_yaml(&header, ws.environment(), &settings, &imported);
    match &args.out {
        Some(out) => {
            write_out(out, &text, args.force)?;
            // The written manifest is checked as `validate` would; a problem here is a gap in import.
            let loaded = crate::manifest::load(out);
            if loaded.has_errors() {
                eprint!(
                    "{}",
                    crate::manifest::diagnostic::render_human(&loaded.problems, &loaded.sources, false)
                );
                return Err(miette!(
                    help = "edit the file by hand where it is refused, and please report the case",
                    "the imported manifest {} does not validate",
                    out.display()
                ));
            }
            eprintln!(
                "Wrote {} bucket(s) and {} IAM/SNS resource(s) to {}. Review it, then run `s3rec plan -e {}`.",
                imported.buckets.len(),
                imported.iam.users.len()
                    + imported.iam.roles.len()
                    + imported.iam.policies.len()
                    + imported.sns.topics.len(),
                out.display(),
                ws.environment()
            );
        }
        None => print_data(&text).into_diagnostic()?,
    }
    Ok(exit::OK)
}

fn write_out(out: &Path, text: &str, force: bool) -> miette::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // Checked again here: the file may have appeared while AWS was read.
        options.create_new(true);
    }
    let mut file = options.open(out).map_err(|e| {
        miette!(
            help = "add --force to replace an existing file",
            "cannot write {}: {e}",
            out.display()
        )
    })?;
    file.write_all(text.as_bytes())
        .map_err(|e| miette!("cannot write {}: {e}", out.display()))
}
