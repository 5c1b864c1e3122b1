//! SARIF 2.1.0 for code scanning (GitHub `github/codeql-action/upload-sarif` and others): the rule
//! table as `tool.driver.rules`, each finding a result with its rule, level and manifest location.
//! Acknowledged findings are results with an in-source suppression carrying the reason.

use serde_json::{Value as Json, json};

use super::render::Located;
use super::{Origin, RuleId, Severity};

/// SARIF's level for a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The `security-severity` GitHub sorts security alerts by (critical ≥ 9.0, high ≥ 7.0, ...).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// The SARIF log. Every location's `uri` is taken as given: callers pass paths relative to the
/// repository root, which is what code scanning resolves them against. `fallback_uri` is used for
/// findings that have no place in the manifest (SARIF results for code scanning need a location).
pub fn render(located: &[Located], fallback_uri: &str) -> String {
    let rules: Vec<Json> = RuleId::ALL
        .iter()
        .map(|id| {
            let r = id.rule();
            let control = r
                .control
                .map(|c| format!("\n\nAWS Security Hub control: {c}."))
                .unwrap_or_default();
            json!({
                "id": r.id,
                "name": r.title.replace(' ', ""),
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.explanation},
                "help": {
                    "text": format!("{}\n\nFix: {}{control}", r.explanation, r.fix),
                    "markdown": format!("{}\n\n**Fix:** {}{control}", r.explanation, r.fix),
                },
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {
                    "tags": ["security"],
                    "precision": "high",
                    "security-severity": security_severity(r.severity),
                },
            })
        })
        .collect();
    let results: Vec<Json> = located
        .iter()
        .map(|l| {
            let f = &l.finding;
            let r = f.rule.rule();
            let index = RuleId::ALL.iter().position(|x| *x == f.rule).unwrap_or(0);
            let origin = match f.origin {
                Origin::Manifest => "",
                Origin::Live => " (live: AWS has it, the manifest leaves it unmanaged)",
            };
            let (uri, line, column) = match &l.location {
                Some(x) => (x.file.as_str(), x.line, x.column),
                None => (fallback_uri, 1, 1),
            };
            let mut result = json!({
                "ruleId": r.id,
                "ruleIndex": index,
                "level": level(r.severity),
                "message": {"text": format!("{}: {}: {}{origin}", f.resource, r.title, f.detail)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": line, "startColumn": column},
                    },
                    "logicalLocations": [{"fullyQualifiedName": f.resource}],
                }],
                "partialFingerprints": {"s3recFinding/v1": format!("{}|{}|{}", r.id, f.resource, f.detail)},
            });
            if let Some(reason) = &f.acknowledged {
                result["suppressions"] = json!([{"kind": "inSource", "justification": reason}]);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "s3rec",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/s3rec/s3rec",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}
