//! Findings for people (text) and tools (JSON). SARIF is [`super::sarif`].

use serde::Serialize;

use super::{Finding, Origin, Severity};

/// Where a finding is written: a file (as the caller wants it shown) and a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// A finding with its place in the manifest (none for a resource the manifest does not write).
#[derive(Debug, Clone)]
pub struct Located {
    pub finding: Finding,
    pub location: Option<Location>,
}

/// One finding in the stable JSON shape (`validate --format json`, the plan's `findings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct JsonFinding {
    pub id: String,
    pub severity: String,
    pub title: String,
    pub resource: String,
    /// `manifest` (decided from the manifest) or `live` (from what AWS has).
    pub origin: String,
    pub detail: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub pointer: String,
    pub control: Option<String>,
    pub explanation: String,
    pub fix: String,
    pub acknowledged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub fn to_json(located: &[Located]) -> Vec<JsonFinding> {
    located
        .iter()
        .map(|l| {
            let f = &l.finding;
            let rule = f.rule.rule();
            JsonFinding {
                id: rule.id.to_string(),
                severity: rule.severity.as_str().to_string(),
                title: rule.title.to_string(),
                resource: f.resource.clone(),
                origin: match f.origin {
                    Origin::Manifest => "manifest",
                    Origin::Live => "live",
                }
                .to_string(),
                detail: f.detail.clone(),
                file: l.location.as_ref().map(|x| x.file.clone()),
                line: l.location.as_ref().map(|x| x.line),
                column: l.location.as_ref().map(|x| x.column),
                pointer: f.pointer.clone(),
                control: rule.control.map(str::to_string),
                explanation: rule.explanation.to_string(),
                fix: rule.fix.to_string(),
                acknowledged: f.acknowledged.is_some(),
                reason: f.acknowledged.clone(),
            }
        })
        .collect()
}

/// Findings for a terminal: the most severe first, each with where, what and the fix.
pub fn text(located: &[Located]) -> String {
    if located.is_empty() {
        return String::new();
    }
    let acknowledged = located.iter().filter(|l| l.finding.acknowledged.is_some()).count();
    let mut out = format!("Security findings: {} ({} acknowledged)\n", located.len(), acknowledged);
    for l in located {
        let f = &l.finding;
        let rule = f.rule.rule();
        let place = match (&l.location, f.origin) {
            (_, Origin::Live) => "live".to_string(),
            (Some(x), Origin::Manifest) => format!("{}:{}:{}", x.file, x.line, x.column),
            (None, Origin::Manifest) => "manifest".to_string(),
        };
        let control = rule.control.map(|c| format!(" [Security Hub {c}]")).unwrap_or_default();
        out.push_str(&format!(
            "  {:<8} {} {} ({place}){control}\n    {}: {}\n",
            rule.severity.as_str().to_ascii_uppercase(),
            rule.id,
            f.resource,
            rule.title,
            f.detail
        ));
        match &f.acknowledged {
            Some(reason) => out.push_str(&format!("    acknowledged: {reason}\n")),
            None => out.push_str(&format!("    fix: {}\n", rule.fix)),
        }
    }
    out
}

/// Counts by severity, most severe first, for summaries: `1 critical, 2 low`.
pub fn summary(findings: &[Finding]) -> String {
    let mut parts = Vec::new();
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let n = findings
            .iter()
            .filter(|f| f.severity() == s && f.acknowledged.is_none())
            .count();
        if n > 0 {
            parts.push(format!("{n} {}", s.as_str()));
        }
    }
    if parts.is_empty() {
        "none open".to_string()
    } else {
        parts.join(", ")
    }
}

/// Findings back from their JSON shape (a plan's `findings`), with each file renamed by `file_name`
/// (for SARIF, relative to the repository root). Entries naming a rule this build does not know are
/// dropped.
pub fn from_json(findings: &[JsonFinding], file_name: &dyn Fn(&str) -> String) -> Vec<Located> {
    findings
        .iter()
        .filter_map(|j| {
            let rule = super::RuleId::parse(&j.id)?;
            let location = match (&j.file, j.line, j.column) {
                (Some(file), Some(line), Some(column)) => Some(Location {
                    file: file_name(file),
                    line,
                    column,
                }),
                _ => None,
            };
            Some(Located {
                finding: Finding {
                    rule,
                    resource: j.resource.clone(),
                    pointer: j.pointer.clone(),
                    detail: j.detail.clone(),
                    origin: if j.origin == "live" {
                        Origin::Live
                    } else {
                        Origin::Manifest
                    },
                    acknowledged: j.reason.clone(),
                },
                location,
            })
        })
        .collect()
}
