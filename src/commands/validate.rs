//! `s3rec validate`: every problem of every manifest asked for, located, in one run.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::exit;
use crate::cli::{ColorChoice, ValidateArgs, ValidateFormat};
use crate::findings::render::{JsonFinding, Located};
use crate::findings::{self, Severity as FindingSeverity};
use crate::manifest::diagnostic::{JsonProblem, render_github, render_human, to_json_problems};
use crate::manifest::load::{find_environment, find_project_root, list_environments};
use crate::manifest::{Loaded, Severity, load};
use crate::output::{print_data, stderr_color};
use crate::words::counted;

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
    /// Security findings (docs/findings.md), acknowledged ones included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    findings: Vec<JsonFinding>,
}

pub fn run(args: &ValidateArgs, color: ColorChoice) -> miette::Result<u8> {
    let cwd = std::env::current_dir().map_err(|e| miette::miette!("cannot determine the working directory: {e}"))?;
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
    // Findings are placed with the paths people see, except in SARIF, whose URIs are relative to
    // the repository root that code scanning resolves them against.
    let root = repository_root(&cwd);
    let located: Vec<Vec<Located>> = loaded
        .iter()
        .map(|l| {
            findings::manifest::of_loaded(l, &|file| match args.format {
                ValidateFormat::Sarif => repository_uri(&root, l.sources.path(file)),
                ValidateFormat::Text | ValidateFormat::Json | ValidateFormat::Github => {
                    l.sources.display(file).to_string()
                }
            })
        })
        .collect();
    let fails_findings = |found: &[Located]| {
        args.fail_on.is_some_and(|threshold| {
            let plain: Vec<_> = found.iter().map(|l| l.finding.clone()).collect();
            findings::fails(&plain, threshold)
        })
    };
    let any_failed = loaded.iter().any(failed) || located.iter().any(|f| fails_findings(f));

    match args.format {
        ValidateFormat::Text => {
            // Like `terraform validate`: the problems go to stderr, the verdict of each file to stdout,
            // where a script reads it.
            let color = stderr_color(color);
            let mut text = String::new();
            let mut verdicts = String::new();
            for (l, found) in loaded.iter().zip(&located) {
                text.push_str(&render_human(&l.problems, &l.sources, color));
                text.push_str(&findings::render::text(found));
                let errors = count(l, Severity::Error);
                let warnings = count(l, Severity::Warning);
                let name = l.sources_display();
                let verdict = if failed(l) { "invalid" } else { "valid" };
                verdicts.push_str(&format!(
                    "{name}: {verdict} ({}, {})\n",
                    counted(errors, "error"),
                    counted(warnings, "warning")
                ));
                if fails_findings(found) {
                    let plain: Vec<_> = found.iter().map(|l| l.finding.clone()).collect();
                    text.push_str(&format!(
                        "{name}: security findings at or above --fail-on {} are open ({}); fix them or acknowledge them in the manifest with a reason\n",
                        args.fail_on.map_or("", FindingSeverity::as_str),
                        findings::render::summary(&plain)
                    ));
                }
            }
            eprint!("{text}");
            print_data(&verdicts).map_err(|e| miette::miette!("cannot write to stdout: {e}"))?;
        }
        ValidateFormat::Json => {
            let report = Report {
                format_version: 1,
                valid: !any_failed,
                files: loaded
                    .iter()
                    .zip(&located)
                    .map(|(l, found)| FileReport {
                        file: l.sources_display(),
                        valid: !failed(l) && !fails_findings(found),
                        findings: findings::render::to_json(found),
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
        ValidateFormat::Sarif => {
            let all: Vec<Located> = located.into_iter().flatten().collect();
            let fallback = paths.first().map(|p| repository_uri(&root, p)).unwrap_or_default();
            // Problems that stop a manifest from loading are not findings; they still go to stderr so
            // a CI log shows why a file has no results.
            for l in loaded.iter().filter(|l| l.has_errors()) {
                eprint!("{}", render_human(&l.problems, &l.sources, stderr_color(color)));
            }
            print_data(&findings::sarif::render(&all, &fallback))
                .map_err(|e| miette::miette!("cannot write to stdout: {e}"))?;
        }
        ValidateFormat::Github => {
            let text: String = loaded.iter().map(|l| render_github(&l.problems, &l.sources)).collect();
            print_data(&text).map_err(|e| miette::miette!("cannot write to stdout: {e}"))?;
        }
    }
    Ok(if any_failed { exit::ERROR } else { exit::OK })
}

/// The nearest ancestor of `start` with a `.git` entry (the repository root), or `start` itself.
pub(crate) fn repository_root(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(start)
        .to_path_buf()
}

/// `path` relative to the repository root, with `/` separators, as SARIF `artifactLocation.uri`.
pub(crate) fn repository_uri(root: &Path, path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let relative = absolute.strip_prefix(&root).unwrap_or(&absolute);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn count(l: &Loaded, severity: Severity) -> usize {
    l.problems.iter().filter(|p| p.severity == severity).count()
}
