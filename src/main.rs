//! The `s3rec` binary: parse flags, set up logging, run one command, exit with its code.

use std::process::ExitCode;

use clap::Parser;
use s3rec::cli::{Cli, Command};
use s3rec::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, s3rec::output::stderr_color(cli.color));
    let color = s3rec::output::stderr_color(cli.color);
    // Errors are not wrapped: miette's wrapping splits at hyphens, which cuts bucket names, ARNs and
    // keys in two where a user copies them from; the terminal wraps long lines as it does for cargo.
    miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                .unicode(true)
                .context_lines(1)
                .wrap_lines(false)
                .build(),
        )
    }))
    .ok();
    // `--chdir DIR` runs as if started in DIR, as `terraform -chdir` and `git -C` do: every relative
    // path (the project, `--out`, `--prices`, `--into`, a saved plan) is then DIR's.
    if let Some(dir) = &cli.chdir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!(
            "{:?}",
            miette::miette!(
                help = "pass a directory that exists and that you may enter",
                "cannot run in --chdir {}: {e}",
                dir.display()
            )
        );
        return ExitCode::from(commands::exit::ERROR);
    }
    let result = match &cli.command {
        Command::Validate(args) => commands::validate::run(args, cli.color),
        Command::Schema(args) => commands::schema::run(args),
        Command::Plan(args) => commands::plan::run(args, cli.color),
        Command::Apply(args) => commands::apply::run(args, cli.color),
        Command::Doctor(args) => commands::doctor::run(args, cli.color),
        Command::State(args) => commands::state::run(args),
        Command::Sync(args) => commands::sync::run(args, cli.color),
        Command::Migrate(args) => commands::migrate::run(args, cli.color),
        Command::Restore(args) => commands::restore::run(args, cli.color),
        Command::Cost(args) => commands::cost::run(args, cli.color),
        Command::Prices(args) => commands::prices::run(args),
        Command::Import(args) => commands::import::run(args, cli.color),
        Command::Completions(args) => commands::completions::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(commands::exit::ERROR)
        }
    }
}

/// Logs go to stderr; `RUST_LOG` overrides the level chosen with `-v`.
fn init_logging(verbose: u8, color: bool) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("s3rec={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .init();
}
