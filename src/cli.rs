//! Command-line surface (clap). Flags are parsed here and turned into each command's settings in
//! `commands/`; nothing here does work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Declarative reconciliation of AWS S3 estates.
///
/// One YAML manifest per environment (environments/<env>.yaml) describes buckets, IAM, SNS, sync
/// mappings and migrations. `plan` shows what would change, `apply` converges.
#[derive(Debug, Parser)]
#[command(name = "s3rec", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// Run as if started in DIR (like `terraform -chdir` or `git -C`).
    #[arg(long, global = true, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// When to colour output; NO_COLOR in the environment turns it off.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// More logging on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests: YAML, schema and semantic rules, with file:line:column for every problem.
    Validate(ValidateArgs),
    /// Print the manifest JSON Schema (the committed copy is schemas/manifest.schema.json).
    Schema(SchemaArgs),
    /// Show what apply would change: reads live AWS and the state, diffs against the manifest.
    Plan(crate::commands::plan::PlanArgs),
    /// Converge: apply a saved plan exactly, or plan, confirm and apply.
    Apply(crate::commands::apply::ApplyArgs),
    /// Check identity, regions, the account guard and read access to everything the manifest manages;
    /// or print the least-privilege policy s3rec needs (--print-policy).
    Doctor(crate::commands::doctor::DoctorArgs),
    /// Inspect the state: managed resources and the apply journal.
    State(crate::commands::state::StateArgs),
    /// Run the sync mappings (local directories → S3), all or one; --dry-run shows what would change.
    Sync(crate::commands::sync::SyncArgs),
    /// Move buckets onto local storage: `[NAME] status` (the default), `run` (scan, restore, download,
    /// verify, and delete when the manifest says and you confirm), or `verify` (re-check local files).
    Migrate(crate::commands::migrate::MigrateArgs),
    /// Bring a sync mapping's backup back as it was at a point in time (--at), from the versions S3
    /// keeps: into a directory (--into DIR), verified and resumable; --dry-run shows the set.
    Restore(crate::commands::restore::RestoreArgs),
    /// What each bucket costs today, what the manifest's lifecycle rules will make it cost over 12
    /// months, and which rules would pay back (from a listing of every object version).
    Cost(crate::commands::cost::CostArgs),
    /// Build a price table for `cost --prices` from AWS's Price List bulk files (CSV), for every region
    /// they list.
    Prices(crate::commands::prices::PricesArgs),
    /// Write manifest YAML for existing buckets (NAME..., --prefix P, --all), or list the buckets no
    /// environment manages (--list).
    Import(crate::commands::import::ImportArgs),
    /// Print a shell completion script (bash, zsh, fish or powershell) on stdout; the README says
    /// where each shell reads it from.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environment to validate (environments/<ENV>.yaml in this project).
    #[arg(short, long, value_name = "ENV", conflicts_with_all = ["all", "files"])]
    pub env: Option<String>,
    /// Validate every environment in environments/ (files starting with `_` are shared bases).
    #[arg(long, conflicts_with = "files")]
    pub all: bool,
    /// Manifest files to validate, e.g. examples/*.yaml.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format: human-readable text, JSON for tools, GitHub Actions annotations, or SARIF (findings).
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
    /// Treat warnings as errors (exit 1 when there are any).
    #[arg(long)]
    pub deny_warnings: bool,
    /// Exit 1 when a security finding at or above SEVERITY is not acknowledged (docs/findings.md).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<crate::findings::Severity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
    Github,
    /// SARIF 2.1.0 of the security findings, for code scanning (GitHub upload-sarif).
    Sarif,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

/// The shells s3rec writes completions for. Our own list rather than `clap_complete::Shell`, which also
/// has elvish: these are the shells the README documents and a test covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Write the schema to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 1 if FILE differs from the generated schema (for CI), instead of printing it.
    #[arg(long, value_name = "FILE", conflicts_with = "out")]
    pub check: Option<PathBuf>,
}
