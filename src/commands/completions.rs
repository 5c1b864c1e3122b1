//! `s3rec completions SHELL`: print a completion script generated from the clap definitions, so it never
//! lags behind the commands and flags.

use clap::CommandFactory;
use clap_complete::Shell;
use miette::IntoDiagnostic;

use super::exit;
use crate::cli::{Cli, CompletionShell, CompletionsArgs};
use crate::output::print_data;

pub fn run(args: &CompletionsArgs) -> miette::Result<u8> {
    let text = script(args.shell);
    print_data(&text).into_diagnostic()?;
    Ok(exit::OK)
}

/// The completion script for `shell`, as text.
pub fn script(shell: CompletionShell) -> String {
    let generator = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Powershell => Shell::PowerShell,
    };
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut buffer = Vec::new();
    clap_complete::generate(generator, &mut command, name, &mut buffer);
    // The generators write only the text they build from the command's names and help, all UTF-8.
    String::from_utf8_lossy(&buffer).into_owned()
}
