//! Manifest problems: what is wrong, where, and what to do about it.
//!
//! Every check produces [`Problem`]s against a JSON pointer; [`Sources`] and the span index turn the pointer
//! into file:line:column. Rendering happens at the edge: miette's graphical report for people, JSON and
//! GitHub annotations for CI.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode,
    SourceSpan, SpanContents,
};
use serde::Serialize;

use super::yaml::{FileId, Span, TextIndex};

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
            message: clip(message.into()),
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
        self.hint = Some(clip(hint.into()));
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

/// The longest value a message quotes in full, in characters.
pub const MAX_QUOTED: usize = 80;
/// The longest message or hint, in characters, whatever it quotes.
pub const MAX_MESSAGE: usize = 1_000;

/// Shortens what a message or hint echoes from the manifest: every `quoted` value longer than
/// [`MAX_QUOTED`] characters becomes its first characters, an ellipsis and its full length, and a message
/// still longer than [`MAX_MESSAGE`] (text from a library, or a value full of backticks) is cut the same
/// way. A 2 MB value would otherwise be copied into every problem about it, and again into each output.
/// Messages quote values in backticks throughout, so this is the one place that bounds them.
fn clip(text: String) -> String {
    let long = |s: &str| s.chars().nth(MAX_QUOTED).is_some();
    let pieces: Vec<&str> = text.split('`').collect();
    let text = if pieces.iter().any(|p| long(p)) {
        pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| match i % 2 {
                // Odd pieces are quoted values; a long even piece (library text, an unpaired backtick)
                // is left to the overall cap below.
                1 if long(piece) => shorten(piece, MAX_QUOTED / 2),
                _ => (*piece).to_string(),
            })
            .collect::<Vec<_>>()
            .join("`")
    } else {
        text
    };
    if text.chars().nth(MAX_MESSAGE).is_some() {
        shorten(&text, MAX_MESSAGE / 2)
    } else {
        text
    }
}

/// The first `keep` characters of `text`, an ellipsis, and how long `text` was.
fn shorten(text: &str, keep: usize) -> String {
    let cut = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    format!("{}… ({} characters)", &text[..cut], text.chars().count())
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
    lines: TextIndex,
}

impl Sources {
    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        let display = display_path(path);
        self.files.push(SourceFile {
            display,
            path: path.to_path_buf(),
            lines: TextIndex::new(&text),
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
        let (line, col) = self.files[span.file.0].lines.line_col(span.offset);
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

/// Lines of context shown above and below a problem's line.
const CONTEXT_LINES: usize = 1;
/// The longest source line shown, in characters; longer lines are cut with an ellipsis.
const MAX_SNIPPET_LINE: usize = 120;

/// The lines around a problem, as miette shows them. Given a whole file, miette finds a span by scanning
/// from the file's start (quadratic over a large file with many problems) and prints whole lines (a 2 MB
/// line in full, for every problem on or next to it). So each problem gets only its own line and its
/// context lines, each cut at [`MAX_SNIPPET_LINE`] characters, numbered as in the file.
#[derive(Debug)]
struct Snippet {
    name: String,
    text: String,
    /// 0-based line number of the first line of `text`.
    first_line: usize,
    /// The problem's span within `text`.
    span: SourceSpan,
}

impl Snippet {
    /// `None` when the span starts beyond the part of its line that is shown.
    fn new(sources: &Sources, span: Span) -> Option<Snippet> {
        let file = &sources.files[span.file.0];
        let line = file.lines.line(span.offset);
        let first_line = line.saturating_sub(CONTEXT_LINES);
        let mut text = String::new();
        let mut relative = None;
        for l in first_line..=line + CONTEXT_LINES {
            let Some(range) = file.lines.line_range(l) else {
                break;
            };
            if l > first_line {
                text.push('\n');
            }
            let content = &file.text[range.clone()];
            let cut = content
                .char_indices()
                .nth(MAX_SNIPPET_LINE)
                .map_or(content.len(), |(i, _)| i);
            if l == line {
                let start = span.offset.checked_sub(range.start).filter(|s| *s <= cut)?;
                relative = Some(SourceSpan::new((text.len() + start).into(), span.len.min(cut - start)));
            }
            text.push_str(&content[..cut]);
            if cut < content.len() {
                text.push('…');
            }
        }
        Some(Snippet {
            name: file.display.clone(),
            text,
            first_line,
            span: relative?,
        })
    }
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self
            .text
            .as_str()
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// A problem with its source attached, as miette wants it.
#[derive(Debug)]
struct Rendered {
    problem: Problem,
    source: Option<Snippet>,
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
        let span = self.source.as_ref()?.span;
        let label = LabeledSpan::new_with_span(Some("here".to_string()), span);
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
        .with_context_lines(CONTEXT_LINES);
    let mut out = String::new();
    for problem in problems {
        let rendered = Rendered {
            location: location_text(problem, sources),
            source: problem.span.and_then(|s| Snippet::new(sources, s)),
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
