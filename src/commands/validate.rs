//! `s3rec validate`: every problem of every manifest asked for, located, in one run.

use std::path::PathBuf;

use serde::Serialize;

use super::{exit, working_dir};
use crate::cli::{ColorChoice, ValidateArgs, ValidateFormat};
use crate::manifest::diagnostic::{JsonProblem, render_github, render_human, to_json_problems};
use crate::manifest::load::{find_environment, find_project_root, list_environments};
use crate::manifest::{Loaded, Severity, load};
use crate::output::{print_data, stderr_color};

/// The versioned JSON document of `validate --format json` (see docs/validation.md).
#[derive(Serialize)]
struct Report<'a> {
    format_version: u32,
    valid: bool,
    files: Vec<FileReport<'a>>,
}

#[derive(Serialize)]
struct FileReport<'a> {
    file: String,
    valid: bool,
    errors: usize,
    warnings: usize,
    problems: Vec<JsonProblem<'a>>,
}

pub fn run(args: &ValidateArgs, chdir: Option<&std::path::Path>, color: ColorChoice) -> miette::Result<u8> {
    let cwd = working_dir(chdir).map_err(|e| miette::miette!("cannot determine the working directory: {e}"))?;
    let paths: Vec<PathBuf> = if let Some(env) = &args.env {
        vec![find_environment(&cwd, env)?]
    } else if args.all {
        let root = find_project_root(&cwd)?;
        let found = list_environments(&root)?;
        if found.is_empty() {
            return Err(miette::miette!(
                help = "add environments/<name>.yaml files",
                "no environment files in {}",
                root.join("environments").display()
            ));
        }
        found
    } else if !args.files.is_empty() {
        args.files.iter().map(|f| cwd.join(f)).collect()
    } else {
        return Err(miette::miette!(
            help = "for example `s3rec validate -e prod`, `s3rec validate --all` or `s3rec validate examples/*.yaml`",
            "name what to validate: -e ENV, --all, or manifest files"
        ));
    };

    let loaded: Vec<Loaded> = paths.iter().map(|p| load(p)).collect();
    let failed = |l: &Loaded| {
        l.problems
            .iter()
            .any(|p| p.severity == Severity::Error || (args.deny_warnings && p.severity == Severity::Warning))
    };
    let any_failed = loaded.iter().any(failed);

    match args.format {
        ValidateFormat::Text => {
            let color = stderr_color(color);
            let mut text = String::new();
            for l in &loaded {
                text.push_str(&render_human(&l.problems, &l.sources, color));
                let errors = count(l, Severity::Error);
                let warnings = count(l, Severity::Warning);
                let name = l.sources_display();
                let verdict = if failed(l) { "invalid" } else { "valid" };
                text.push_str(&format!(
                    "{name}: {verdict} ({errors} {}, {warnings} {})\n",
                    plural(errors, "error"),
                    plural(warnings, "warning")
                ));
            }
            eprint!("{text}");
        }
        ValidateFormat::Json => {
            let report = Report {
                format_version: 1,
                valid: !any_failed,
                files: loaded
                    .iter()
                    .map(|l| FileReport {
                        file: l.sources_display(),
                        valid: !failed(l),
                        errors: count(l, Severity::Error),
                        warnings: count(l, Severity::Warning),
                        problems: to_json_problems(&l.problems, &l.sources),
                    })
                    .collect(),
            };
            let mut text = serde_json::to_string_pretty(&report).map_err(|e| miette::miette!("{e}"))?;
            text.push('\n');
            print_data(&text).map_err(|e| miette::miette!("cannot write to stdout: {e}"))?;
        }
        ValidateFormat::Github => {
            let text: String = loaded.iter().map(|l| render_github(&l.problems, &l.sources)).collect();
            print_data(&text).map_err(|e| miette::miette!("cannot write to stdout: {e}"))?;
        }
    }
    Ok(if any_failed { exit::ERROR } else { exit::OK })
}

fn count(l: &Loaded, severity: Severity) -> usize {
    l.problems.iter().filter(|p| p.severity == severity).count()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { word.to_string() } else { format!("{word}s") }
}
