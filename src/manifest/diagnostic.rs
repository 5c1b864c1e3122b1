//! Manifest problems: what is wrong, where, and what to do about it.
//!
//! Every check produces [`Problem`]s against a JSON pointer; [`Sources`] and the span index turn the pointer
//! into file:line:column. Rendering happens at the edge: miette's graphical report for people, JSON and
//! GitHub annotations for CI.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use super::yaml::{FileId, Span, line_col};

/// How bad a problem is. Errors make `validate` exit 1; warnings are shown and do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub severity: Severity,
    /// Stable, greppable identifier of the rule, e.g. `bucket-name`.
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// Where the problem is; `None` for file-level problems (unreadable file, ...).
    pub span: Option<Span>,
    /// The JSON pointer the problem is about, for tools.
    pub pointer: Option<String>,
    /// The file, when there is no span (a file that cannot be read has no text to point into).
    pub file: Option<FileId>,
}

impl Problem {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Error,
            code,
            message: message.into(),
            hint: None,
            span: None,
            pointer: None,
            file: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(code, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn at(mut self, span: Span) -> Self {
        self.file = Some(span.file);
        self.span = Some(span);
        self
    }

    pub fn in_file(mut self, file: FileId) -> Self {
        self.file = Some(file);
        self
    }

    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }
}

/// The files a manifest was read from (the environment file and its `extends` chain).
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<SourceFile>,
}

#[derive(Debug, Clone)]
struct SourceFile {
    /// The path as shown to the user (relative to the working directory when possible).
    display: String,
    path: PathBuf,
    text: Arc<String>,
}

impl Sources {
    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        let display = display_path(path);
        self.files.push(SourceFile {
            display,
            path: path.to_path_buf(),
            text: Arc::new(text),
        });
        FileId(self.files.len() - 1)
    }

    /// Every file, in the order it was read (the environment first, then its bases).
    pub fn ids(&self) -> impl Iterator<Item = FileId> + use<> {
        (0..self.files.len()).map(FileId)
    }

    pub fn text(&self, id: FileId) -> &str {
        &self.files[id.0].text
    }

    pub fn display(&self, id: FileId) -> &str {
        &self.files[id.0].display
    }

    pub fn path(&self, id: FileId) -> &Path {
        &self.files[id.0].path
    }

    /// `(file, line, column)` of a span, 1-based.
    pub fn position(&self, span: Span) -> (&str, usize, usize) {
        let (line, col) = line_col(self.text(span.file), span.offset);
        (self.display(span.file), line, col)
    }
}

/// Shows paths relative to the working directory when they are under it, as compilers do.
fn display_path(path: &Path) -> String {
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    shown.display().to_string()
}

/// A problem with its source attached, as miette wants it.
#[derive(Debug)]
struct Rendered {
    problem: Problem,
    source: Option<NamedSource<Arc<String>>>,
    location: String,
}

impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} [{}]", self.location, self.problem.message, self.problem.code)
    }
}

impl std::error::Error for Rendered {}

impl Diagnostic for Rendered {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.problem.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.problem
            .hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.problem.span?;
        self.source.as_ref()?;
        let label = LabeledSpan::new_with_span(Some("here".to_string()), SourceSpan::new(span.offset.into(), span.len));
        Some(Box::new(std::iter::once(label)))
    }
}

/// Formats problems for people: file:line:column, the source line with a caret, and the hint.
pub fn render_human(problems: &[Problem], sources: &Sources, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(160)
        .with_links(false)
        .with_context_lines(1);
    let mut out = String::new();
    for problem in problems {
        let rendered = Rendered {
            location: location_text(problem, sources),
            source: problem
                .span
                .map(|s| NamedSource::new(sources.display(s.file), sources.files[s.file.0].text.clone())),
            problem: problem.clone(),
        };
        if handler.render_report(&mut out, &rendered).is_err() {
            out.push_str(&rendered.to_string());
        }
        out.push('\n');
    }
    out
}

fn location_text(problem: &Problem, sources: &Sources) -> String {
    match (problem.span, problem.file) {
        (Some(span), _) => {
            let (file, line, col) = sources.position(span);
            format!("{file}:{line}:{col}")
        }
        (None, Some(file)) => sources.display(file).to_string(),
        (None, None) => "manifest".to_string(),
    }
}

/// One problem in the stable JSON shape of `validate --format json` (documented in docs/validation.md).
#[derive(Debug, Serialize)]
pub struct JsonProblem<'a> {
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    pub hint: Option<&'a str>,
    pub file: Option<&'a str>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_column: Option<usize>,
    pub pointer: Option<&'a str>,
}

pub fn to_json_problems<'a>(problems: &'a [Problem], sources: &'a Sources) -> Vec<JsonProblem<'a>> {
    problems
        .iter()
        .map(|p| {
            let (file, line, column, end_column) = match p.span {
                Some(span) => {
                    let (file, line, col) = sources.position(span);
                    let width = sources.text(span.file)[span.offset..span.offset + span.len]
                        .chars()
                        .count();
                    (Some(file), Some(line), Some(col), Some(col + width.max(1)))
                }
                None => (p.file.map(|f| sources.display(f)), None, None, None),
            };
            JsonProblem {
                severity: p.severity,
                code: p.code,
                message: &p.message,
                hint: p.hint.as_deref(),
                file,
                line,
                column,
                end_column,
                pointer: p.pointer.as_deref(),
            }
        })
        .collect()
}

/// GitHub Actions workflow commands, one line per problem, so findings show on the pull request's diff.
pub fn render_github(problems: &[Problem], sources: &Sources) -> String {
    let mut out = String::new();
    for p in to_json_problems(problems, sources) {
        let level = match p.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = Vec::new();
        if let Some(file) = p.file {
            props.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = p.line {
            props.push(format!("line={line}"));
        }
        if let Some(col) = p.column {
            props.push(format!("col={col}"));
        }
        if let Some(end) = p.end_column {
            props.push(format!("endColumn={end}"));
        }
        props.push(format!("title=s3rec {}", escape_property(p.code)));
        let mut message = p.message.to_string();
        if let Some(hint) = p.hint {
            message.push_str("\nhint: ");
            message.push_str(hint);
        }
        out.push_str(&format!("::{level} {}::{}\n", props.join(","), escape_data(&message)));
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
