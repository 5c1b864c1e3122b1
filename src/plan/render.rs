//! Plan output: Terraform-style text for terminals, the versioned JSON document for machines and saved
//! plans, and markdown for pull-request comments. Everything here is a pure function of the plan:
//! no timestamps, no hash-map iteration order, so the same plan always prints the same bytes.
//!
//! Attribute lines come from flattening a value's JSON to dotted paths (`rules[tier].transitions[0].days`):
//! list items with an `id` are keyed by it, others by position; nulls and empty collections print
//! nothing, so a value appearing is an added path (`+`) and a value disappearing a removed one (`-`).
//! Policies are shown as a unified diff of their pretty-printed JSON instead.

mod compact;

use std::fmt::Write as _;

use serde_json::{Map, Value as Json};
use similar::{Algorithm, ChangeTag, TextDiff};

use super::{Action, Address, Change, Plan, Resource, Summary, Value};
use crate::model::Doc;
use crate::model::identity::IdentityDoc;
use crate::style::{CYAN, GREEN, RED, YELLOW, YELLOW_BOLD};

/// What `text` prints instead of a summary when nothing changes in AWS.
pub const NO_CHANGES: &str = "No changes. The estate matches the manifest.";

/// The hidden marker at the top of the markdown output, so CI can find and update its one comment.
pub fn markdown_marker(environment: &str) -> String {
    format!("<!-- s3rec-plan:{environment} -->")
}

/// `Plan: N to create, N to update, N to replace, N to destroy.`, with `, N to adopt` before the
/// period when the plan adopts anything, and a second sentence counting the changes that undo drift.
pub fn summary_line(s: Summary) -> String {
    let adopt = if s.adopt > 0 {
        format!(", {} to adopt", s.adopt)
    } else {
        String::new()
    };
    let drift = match s.drift {
        0 => String::new(),
        1 => " 1 of these changes undoes drift (a change made in AWS outside s3rec).".to_string(),
        n => format!(" {n} of these changes undo drift (changes made in AWS outside s3rec)."),
    };
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to destroy{adopt}.{drift}",
        s.create, s.update, s.replace, s.delete
    )
}

/// How much of each change the text plan shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Detail {
    /// One block per bucket or IAM/SNS resource, one line per changed attribute; new documents and
    /// policies in a line each.
    #[default]
    Compact,
    /// Every change in a block of its own, every attribute of a new document on its own line and new
    /// policies in full.
    Full,
}

// ---------------------------------------------------------------------------------------------------
// text

/// The Terraform-style plan, compact or in full. `color` adds ANSI colours to the action symbols;
/// whether to colour (terminal, `NO_COLOR`) is the caller's decision.
pub fn text(plan: &Plan, color: bool, detail: Detail) -> String {
    let style = Style { color };
    let mut out = findings_text(plan);
    if plan.has_changes() {
        out.push_str(&legend(plan, style));
    }
    match detail {
        Detail::Compact => out.push_str(&compact::changes(plan, style)),
        Detail::Full => {
            for change in ordered(plan) {
                out.push_str(&change_block(change, style));
            }
        }
    }
    for sync in &plan.syncs {
        let _ = writeln!(out, "  # {}\n", sync.line());
    }
    for migration in &plan.migrations {
        let _ = writeln!(out, "  # {}\n", migration.line());
    }
    for cost in &plan.costs {
        let _ = writeln!(out, "  # cost: {}\n", cost.line());
    }
    if plan.has_changes() {
        out.push_str(&summary_line(plan.counts()));
    } else {
        out.push_str(NO_CHANGES);
    }
    out.push('\n');
    let warnings = warnings(plan);
    for warning in &warnings {
        let _ = write!(out, "\n{} {warning}", style.paint(YELLOW_BOLD, "Warning:"));
    }
    if !warnings.is_empty() {
        out.push('\n');
    }
    out
}

/// The environment line, the symbols of the actions present, and the lead-in to the changes.
fn legend(plan: &Plan, style: Style) -> String {
    let account = plan
        .account_id
        .as_ref()
        .map(|a| format!(" (account {a})"))
        .unwrap_or_default();
    let mut out = format!(
        "Environment \"{}\"{account}: resource actions are indicated with the following symbols:\n",
        plan.environment
    );
    let labels = [
        (Action::Create, "create"),
        (Action::Update, "update in-place"),
        (Action::Replace, "replace"),
        (Action::Delete, "destroy"),
        (
            Action::Adopt,
            "adopt (exists in AWS; recorded in the state, nothing changed in AWS)",
        ),
    ];
    for (action, label) in labels {
        if plan.changes.iter().any(|c| c.action == action) {
            let _ = writeln!(out, "{} {label}", style.symbol(action));
        }
    }
    if plan.changes.iter().any(|c| c.cause.is_some()) {
        out.push_str(
            "\n[edit]: the manifest changed since s3rec last applied this; [drift]: AWS changed outside s3rec \
             since then, and applying undoes that.\n",
        );
    }
    out.push_str("\ns3rec will perform the following actions:\n\n");
    out
}

/// One change: the `# ADDR will be …` comment, the reason, the symbol line and the attribute lines.
fn change_block(change: &Change, style: Style) -> String {
    let cause = change.cause.map(|c| format!(" [{}]", c.label())).unwrap_or_default();
    let mut out = format!("  # {} {}{cause}\n", change.address, headline(change.action));
    if let Some(reason) = &change.reason {
        let _ = writeln!(out, "  # ({reason})");
    }
    if let Some(why) = &change.irreversible {
        let _ = writeln!(out, "  # {IRREVERSIBLE}: {why}");
    }
    if change.action.is_visible() {
        let _ = writeln!(out, "{} {}", style.symbol(change.action), change.address);
        for line in body(change, style) {
            let _ = writeln!(out, "      {line}");
        }
    }
    out.push('\n');
    out
}

fn headline(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::Adopt => "will be adopted: it exists in AWS and passes under management",
        Action::NoOp => "changes in the state only, not in AWS",
    }
}

/// The lines under a change's symbol line, without their indentation.
fn body(change: &Change, style: Style) -> Vec<String> {
    // An adoption changes nothing: its value is what AWS has, and what the manifest wants is shown by
    // the updates that follow it.
    if change.action == Action::Adopt {
        return Vec::new();
    }
    if let Some((before, after)) = policy_texts(change) {
        return policy_diff(&before, &after, style);
    }
    let mut lines: Vec<String> = match change.action {
        Action::Create | Action::Delete => changed_rows(change).iter().map(plain_line).collect(),
        Action::Update | Action::Replace => {
            let forces = change.action == Action::Replace;
            changed_rows(change)
                .iter()
                .map(|row| row_line(row, forces, style))
                .collect()
        }
        Action::Adopt | Action::NoOp => Vec::new(),
    };
    // A role's trust policy or a managed policy's document: its row says it changed, the line diff
    // under it shows how.
    if let Some((_, before, after)) = embedded_policy(change)
        && before != after
    {
        lines.extend(
            policy_diff(&before, &after, style)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
    }
    if lines.is_empty() && matches!(change.action, Action::Create | Action::Delete) {
        return vec!["(not configured)".to_string()];
    }
    lines
}

/// `path: value` (the side that exists, for a create or a delete).
fn plain_line(row: &Row) -> String {
    format!(
        "{}: {}",
        row.path,
        row.new.as_ref().or(row.old.as_ref()).map_or("", String::as_str)
    )
}

/// `~ path: old → new`, `+ path: new` or `- path: old`.
fn row_line(row: &Row, forces_replacement: bool, style: Style) -> String {
    let suffix = if forces_replacement {
        " # forces replacement"
    } else {
        ""
    };
    let line = match (&row.old, &row.new) {
        (Some(old), Some(new)) => format!("{} {}: {old} → {new}", style.paint(YELLOW, "~"), row.path),
        (None, Some(new)) => format!("{} {}: {new}", style.paint(GREEN, "+"), row.path),
        (Some(old), None) => format!("{} {}: {old}", style.paint(RED, "-"), row.path),
        (None, None) => row.path.clone(),
    };
    format!("{line}{suffix}")
}

/// Where a finding is: `file:line:column` from the manifest, or `live` for what AWS has.
fn finding_place(f: &crate::findings::render::JsonFinding) -> String {
    match (f.origin.as_str(), &f.file, f.line, f.column) {
        ("live", ..) => "live".to_string(),
        (_, Some(file), Some(line), Some(column)) => format!("{file}:{line}:{column}"),
        _ => "manifest".to_string(),
    }
}

/// The security findings, before the changes: what a reviewer reads first.
fn findings_text(plan: &Plan) -> String {
    if plan.findings.is_empty() {
        return String::new();
    }
    let acknowledged = plan.findings.iter().filter(|f| f.acknowledged).count();
    let mut out = format!(
        "Security findings: {} ({acknowledged} acknowledged; docs/findings.md)\n",
        plan.findings.len()
    );
    for f in &plan.findings {
        let _ = writeln!(
            out,
            "  {:<8} {} {} ({}): {}: {}",
            f.severity.to_ascii_uppercase(),
            f.id,
            f.resource,
            finding_place(f),
            f.title,
            f.detail
        );
        if let Some(reason) = &f.reason {
            let _ = writeln!(out, "           acknowledged: {reason}");
        }
    }
    out.push('\n');
    out
}

/// The head of the security findings' markdown table.
const FINDINGS_HEAD: &str =
    "#### Security findings\n\n| severity | finding | resource | where | detail |\n|---|---|---|---|---|\n";

/// The security findings as rows of a markdown table, at the top of the pull-request comment.
fn finding_rows(plan: &Plan) -> Vec<String> {
    plan.findings
        .iter()
        .map(|f| {
            let detail = match &f.reason {
                Some(reason) => format!("{} (acknowledged: {reason})", f.detail),
                None => f.detail.clone(),
            };
            format!(
                "| {} | `{}` {} | `{}` | {} | {} |\n",
                f.severity,
                f.id,
                md_escape(&f.title),
                f.resource,
                md_escape(&finding_place(f)),
                md_escape(&detail)
            )
        })
        .collect()
}

/// Warnings to print at the end: targeting first (as Terraform does), then the plan's own.
fn warnings(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if !plan.targets.is_empty() {
        out.push(format!(
            "resource targeting is in effect ({}): the plan covers only these addresses and may be incomplete.",
            plan.targets.join(", ")
        ));
    }
    out.extend(plan.warnings.iter().cloned());
    out
}

// ---------------------------------------------------------------------------------------------------
// json

/// The plan as its versioned JSON document (docs/plan-format.md): every [`Plan`] field as serialized,
/// plus `summary` (the counts of [`Plan::counts`]) placed just before `changes`. Pretty-printed, with a
/// trailing newline. The document deserializes back into a [`Plan`] (`summary` is ignored on reading).
pub fn json(plan: &Plan) -> String {
    let document = match serde_json::to_value(plan).expect("a plan serializes to JSON") {
        Json::Object(fields) => Json::Object(with_summary(fields, plan.counts())),
        other => other,
    };
    let mut out = serde_json::to_string_pretty(&document).expect("JSON values serialize");
    out.push('\n');
    out
}

fn with_summary(fields: Map<String, Json>, summary: Summary) -> Map<String, Json> {
    let summary = serde_json::to_value(summary).expect("a summary serializes to JSON");
    let mut out = Map::new();
    for (key, value) in fields {
        if key == "changes" {
            out.insert("summary".to_string(), summary.clone());
        }
        out.insert(key, value);
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// markdown

/// The marker of a change that cannot be undone, in text and markdown plans (JSON has the
/// `irreversible` field).
const IRREVERSIBLE: &str = "IRREVERSIBLE";

/// The most a markdown plan may be, in bytes. GitHub refuses a comment over 65,535 characters (a
/// character is never less than one byte); the rest is left for the footer CI adds (the commit, a link
/// to the run). A plan that would be longer is shortened by [`markdown`] to fit.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// A pull-request comment: the hidden marker, a heading, the summary line, a table of the changes and
/// the full text plan in a collapsed `diff` block. A plan that would be longer than
/// [`MARKDOWN_LIMIT`] is shortened instead: the summary, the findings and every destroy and replace
/// stay, the other changes are counted per resource, and the comment says how to get the whole plan.
pub fn markdown(plan: &Plan) -> String {
    let full = markdown_full(plan);
    if full.len() <= MARKDOWN_LIMIT {
        return full;
    }
    markdown_shortened(plan, full.chars().count(), MARKDOWN_LIMIT)
}

fn markdown_full(plan: &Plan) -> String {
    let mut out = markdown_heading(plan);
    if !plan.findings.is_empty() {
        out.push_str(FINDINGS_HEAD);
        out.extend(finding_rows(plan));
        out.push('\n');
    }
    if plan.has_changes() {
        let _ = writeln!(out, "{}\n", summary_line(plan.counts()));
        if plan.visible().next().is_some() {
            out.push_str(CHANGE_TABLE_HEAD);
            out.extend(ordered(plan).filter(|c| c.action.is_visible()).map(change_row));
            out.push('\n');
        }
        out.push_str(&list(&sync_lines(plan)));
    } else {
        let _ = writeln!(out, "{NO_CHANGES}\n");
    }
    out.push_str(&list(&migration_lines(plan)));
    out.push_str(&cost_section(plan));
    let warnings = warnings(plan);
    if !warnings.is_empty() {
        out.push_str(WARNINGS_HEAD);
        out.push_str(&list(&warnings));
    }
    if !plan.changes.is_empty() {
        out.push_str(&details("Plan", &text(plan, false, Detail::Compact)));
    }
    out
}

fn markdown_heading(plan: &Plan) -> String {
    format!(
        "{}\n### s3rec plan for `{}`\n\n",
        markdown_marker(&plan.environment),
        plan.environment
    )
}

const CHANGE_TABLE_HEAD: &str = "| Action | Address | Change |\n|---|---|---|\n";
const WARNINGS_HEAD: &str = "**Warnings**\n\n";

/// Markdown list items, followed by a blank line when there are any.
fn list(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out: String = lines.iter().map(|l| format!("- {}\n", md_escape(l))).collect();
    out.push('\n');
    out
}

fn sync_lines(plan: &Plan) -> Vec<String> {
    plan.syncs.iter().map(|s| s.line()).collect()
}

/// `plan --cost`'s line for the environment (the sum of its buckets' deltas, as Infracost's comment
/// has), then one item per bucket; nothing without `--cost`.
fn cost_section(plan: &Plan) -> String {
    if plan.costs.is_empty() {
        return String::new();
    }
    cost_head(plan) + &list(&cost_lines(plan))
}

/// The environment's cost line of `plan --cost`, and the blank line after it.
fn cost_head(plan: &Plan) -> String {
    let money = crate::cost::render::money;
    let priced: Vec<&crate::plan::CostDelta> = plan.costs.iter().filter(|c| c.error.is_none()).collect();
    let before: f64 = priced.iter().map(|c| c.monthly_before).sum();
    let after: f64 = priced.iter().map(|c| c.monthly_after).sum();
    let fees: f64 = priced.iter().map(|c| c.one_time_fees).sum();
    let delta = after - before;
    let sign = if delta < 0.0 { "-" } else { "+" };
    format!(
        "**Cost** of `{}`: {} → {} a month by month 12 ({sign}{}), one-time fees {}\n\n",
        plan.environment,
        money(before),
        money(after),
        money(delta.abs()),
        money(fees)
    )
}

/// One line per bucket whose cost `plan --cost` priced.
fn cost_lines(plan: &Plan) -> Vec<String> {
    plan.costs.iter().map(crate::plan::CostDelta::line).collect()
}

fn migration_lines(plan: &Plan) -> Vec<String> {
    plan.migrations.iter().map(|m| m.line()).collect()
}

/// Whether a reviewer must see a change in full even in a shortened plan: what it takes away cannot
/// be given back by the next apply.
fn is_destructive(action: Action) -> bool {
    match action {
        Action::Replace | Action::Delete => true,
        Action::Create | Action::Update | Action::Adopt | Action::NoOp => false,
    }
}

/// The plan shortened to `limit` bytes. Sections are filled in order of importance (findings, the
/// destroys and replaces, `plan --cost`'s lines, warnings, syncs and migrations, the destroys' and
/// replaces' text, the other changes counted per resource); a section that does not fit whole says
/// how many of its rows it left out, so nothing disappears without a word. `full_len` is the length of the plan it replaces.
fn markdown_shortened(plan: &Plan, full_len: usize, limit: usize) -> String {
    let destructive: Vec<&Change> = ordered(plan).filter(|c| is_destructive(c.action)).collect();
    let heading = markdown_heading(plan);
    let summary = format!(
        "{}\n\n**This plan is shortened to fit a pull-request comment** (the whole one is {full_len} \
         characters; GitHub takes at most 65535): the summary, the security findings and every destroy and \
         replace are shown in full, the other changes are counted per resource. The whole plan: `s3rec plan \
         -e {} --format json` (or `--format text`), or the plan CI keeps as an artifact of this run.\n\n",
        summary_line(plan.counts()),
        plan.environment
    );
    let detail_text: String = destructive
        .iter()
        .map(|c| change_block(c, Style { color: false }))
        .collect();
    let detail_lines: Vec<String> = diff_lines(&detail_text).into_iter().map(|l| format!("{l}\n")).collect();
    let fence = "`".repeat(longest_backtick_run(&detail_lines.concat()).max(2) + 1);
    let items = |lines: Vec<String>| -> Vec<String> { lines.iter().map(|l| format!("- {}\n", md_escape(l))).collect() };

    // In order of importance: the budget goes to the first sections first.
    let mut sections = [
        Section::new(FINDINGS_HEAD.to_string(), finding_rows(plan), "\n".to_string(), |n| {
            format!("| … | {n} more findings: see the whole plan | | | |\n")
        }),
        Section::new(
            format!("#### Destroyed or replaced\n\n{CHANGE_TABLE_HEAD}"),
            destructive.iter().map(|c| change_row(c)).collect(),
            "\n".to_string(),
            |n| format!("| … | {n} more destroys and replaces: see the whole plan | |\n"),
        ),
        // The environment's cost line is the section's head: it stays whenever there are costs.
        Section::new(cost_head(plan), items(cost_lines(plan)), "\n".to_string(), |n| {
            format!("- … {n} more cost lines: see the whole plan\n")
        }),
        Section::new(
            WARNINGS_HEAD.to_string(),
            items(warnings(plan)),
            "\n".to_string(),
            |n| format!("- … {n} more warnings: see the whole plan\n"),
        ),
        Section::new(String::new(), items(sync_lines(plan)), "\n".to_string(), |n| {
            format!("- … {n} more syncs: see the whole plan\n")
        }),
        Section::new(String::new(), items(migration_lines(plan)), "\n".to_string(), |n| {
            format!("- … {n} more migrations: see the whole plan\n")
        }),
        Section::new(
            format!("<details><summary>Destroys and replaces in full</summary>\n\n{fence}diff\n"),
            detail_lines,
            format!("{fence}\n\n</details>\n"),
            |n| format!("… {n} more lines: see the whole plan\n"),
        ),
        Section::new(
            "#### Other changes, counted per resource\n\n| Resource | create | update | adopt |\n|---|---|---|---|\n"
                .to_string(),
            count_rows(plan),
            "\n".to_string(),
            |n| format!("| … {n} more resources: see the whole plan | | | |\n"),
        ),
    ];
    let fixed = heading.len() + summary.len() + sections.iter().map(Section::fixed_len).sum::<usize>();
    let mut budget = limit.saturating_sub(fixed);
    for section in &mut sections {
        section.fill(&mut budget);
    }
    let [findings, destroys, costs, warnings, syncs, migrations, details, counts] = sections;
    let mut out = heading;
    out.push_str(&findings.render());
    out.push_str(&summary);
    for section in [destroys, counts, syncs, migrations, costs, warnings, details] {
        out.push_str(&section.render());
    }
    // The sections' fixed parts are bounded by the environment's name and the counts, so this only
    // bites on an absurd plan; even then the comment must be accepted.
    if out.len() > limit {
        let mut end = limit.saturating_sub(TRUNCATED.len());
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str(TRUNCATED);
    }
    out
}

const TRUNCATED: &str = "\n\n… (cut to fit a pull-request comment: see the whole plan)\n";

/// A part of a shortened markdown plan: a head and a foot printed whenever it has rows, and as many
/// rows as the budget allows, the rest named by `more(n)`.
struct Section {
    head: String,
    rows: Vec<String>,
    foot: String,
    more: fn(usize) -> String,
    /// How many rows fit.
    shown: usize,
}

impl Section {
    fn new(head: String, rows: Vec<String>, foot: String, more: fn(usize) -> String) -> Section {
        Section {
            head,
            rows,
            foot,
            more,
            shown: 0,
        }
    }

    /// What the section takes whatever the budget: nothing without rows, else its head, its foot and
    /// the longest `more` line it could need.
    fn fixed_len(&self) -> usize {
        if self.rows.is_empty() {
            0
        } else {
            self.head.len() + self.foot.len() + (self.more)(self.rows.len()).len()
        }
    }

    /// Takes rows in order while they fit in `budget`, and spends what they take.
    fn fill(&mut self, budget: &mut usize) {
        for row in &self.rows {
            if row.len() > *budget {
                break;
            }
            *budget -= row.len();
            self.shown += 1;
        }
    }

    fn render(&self) -> String {
        if self.rows.is_empty() {
            return String::new();
        }
        let mut out = self.head.clone();
        out.extend(self.rows[..self.shown].iter().map(String::as_str));
        if self.shown < self.rows.len() {
            out.push_str(&(self.more)(self.rows.len() - self.shown));
        }
        out.push_str(&self.foot);
        out
    }
}

/// One table row per resource (a bucket with its documents, an IAM or SNS resource with its parts)
/// counting the changes that are neither destroys nor replaces, for a shortened plan.
fn count_rows(plan: &Plan) -> Vec<String> {
    let mut counts: indexmap::IndexMap<String, [usize; 3]> = indexmap::IndexMap::new();
    for change in ordered(plan) {
        let column = match change.action {
            Action::Create => 0,
            Action::Update => 1,
            Action::Adopt => 2,
            Action::Replace | Action::Delete | Action::NoOp => continue,
        };
        counts.entry(resource_of(change).to_string()).or_default()[column] += 1;
    }
    counts
        .into_iter()
        .map(|(resource, [create, update, adopt])| format!("| `{resource}` | {create} | {update} | {adopt} |\n"))
        .collect()
}

/// The resource a change belongs to: the bucket of a bucket document, the IAM or SNS resource of one
/// of its parts.
fn resource_of(change: &Change) -> Address {
    match &change.resource {
        Resource::Bucket { logical, .. } | Resource::BucketDoc { logical, .. } => Address::bucket(logical),
        Resource::Identity { kind, logical, .. } => Address::identity(*kind, logical, None),
    }
}

fn change_row(change: &Change) -> String {
    format!(
        "| `{}` {}{} | `{}` | {} |\n",
        change.action.symbol(),
        verb(change.action),
        change.cause.map(|c| format!(" ({})", c.label())).unwrap_or_default(),
        change.address,
        match &change.irreversible {
            Some(why) => format!("{}<br>**{IRREVERSIBLE}:** {}", phrase(change), md_escape(why)),
            None => phrase(change),
        }
    )
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Delete => "destroy",
        other => other.verb(),
    }
}

/// A text plan in a collapsed block, symbols moved to column 0 so GitHub colours the lines.
fn details(summary: &str, text: &str) -> String {
    let body = diff_lines(text).join("\n");
    let fence = "`".repeat(longest_backtick_run(&body).max(2) + 1);
    format!("<details><summary>{summary}</summary>\n\n{fence}diff\n{body}\n{fence}\n\n</details>\n")
}

/// The text plan for a `diff` block: symbols moved by [`diff_line`], and the plain attribute lines of a
/// created or destroyed resource marked with its `+` or `-` so the whole block is coloured.
fn diff_lines(text: &str) -> Vec<String> {
    let mut block: Option<char> = None;
    // Inside a policy's line diff, unmarked lines are context: they stay unmarked.
    let mut in_hunk = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let moved = diff_line(line);
        let indent = line.len() - line.trim_start().len();
        if line.contains("@@ ") {
            in_hunk = true;
        }
        if line.is_empty() {
            block = None;
            in_hunk = false;
        } else if moved != line && indent <= 2 {
            block = Some(moved.as_bytes()[0] as char).filter(|_| !moved.starts_with("-/+"));
            in_hunk = false;
        } else if let (Some(mark), true) = (block, moved == line && indent >= 6 && !in_hunk) {
            out.push(format!("{mark}{}", &line[1..]));
            continue;
        }
        out.push(moved);
    }
    out
}

/// `      ~ versioning: …` → `!     versioning: …`: a leading action symbol moves to the first column
/// (`~` becomes `!`, which GitHub's diff highlighting marks as changed).
fn diff_line(line: &str) -> String {
    let indent = line.len() - line.trim_start().len();
    let rest = &line[indent..];
    for symbol in ["-/+ ", "+ ", "- ", "~ "] {
        if let Some(tail) = rest.strip_prefix(symbol) {
            let mark = if symbol == "~ " { "!" } else { symbol.trim_end() };
            let pad = (indent + symbol.len()).saturating_sub(mark.len());
            return format!("{mark}{}{tail}", " ".repeat(pad));
        }
    }
    line.to_string()
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// What a change does, in one short phrase for the table.
fn phrase(change: &Change) -> String {
    let what = match policy_texts(change) {
        Some((before, after)) if change.action != Action::Adopt => policy_phrase(change.action, &before, &after),
        Some(_) | None => value_phrase(change),
    };
    match &change.reason {
        Some(reason) => format!("{what} ({})", md_escape(reason)),
        None => what,
    }
}

fn value_phrase(change: &Change) -> String {
    if let (Action::Create | Action::Delete, Some(Value::Bucket { name, region })) =
        (change.action, change.after.as_ref().or(change.before.as_ref()))
    {
        let verb = if change.action == Action::Create {
            "new bucket"
        } else {
            "bucket"
        };
        return format!("{verb} {} in {}", code(name), code(region));
    }
    if let (Action::Adopt, Some(Value::Bucket { name, region })) = (change.action, change.before.as_ref()) {
        return format!("existing bucket {} in {}", code(name), code(region));
    }
    match change.action {
        Action::Create => leaves_phrase("sets", &changed_rows(change)),
        Action::Delete => leaves_phrase("removes", &changed_rows(change)),
        Action::Update => rows_phrase(&changed_rows(change)),
        Action::Replace => format!("{} (forces replacement)", rows_phrase(&changed_rows(change))),
        Action::Adopt => "exists in AWS; recorded in the state".to_string(),
        Action::NoOp => String::new(),
    }
}

fn leaves_phrase(verb: &str, rows: &[Row]) -> String {
    match rows {
        [] => "not configured".to_string(),
        [row] => code(&plain_line(row)),
        _ => format!("{verb} {}", group_list(rows.iter().map(|r| r.path.as_str()))),
    }
}

fn rows_phrase(rows: &[Row]) -> String {
    match rows {
        [] => "no visible attribute changes".to_string(),
        [row] => match (&row.old, &row.new) {
            (Some(old), Some(new)) => format!("{}: {} → {}", code(&row.path), code(old), code(new)),
            (None, Some(new)) => format!("adds {}", code(&format!("{}: {new}", row.path))),
            _ => format!("removes {}", code(&row.path)),
        },
        _ => format!("changes {}", group_list(rows.iter().map(|r| r.path.as_str()))),
    }
}

fn policy_phrase(action: Action, before: &str, after: &str) -> String {
    match action {
        Action::Create => format!("new policy ({})", statements(after)),
        Action::Delete => "removes the policy".to_string(),
        Action::Update | Action::Replace | Action::Adopt | Action::NoOp => {
            let (added, removed) = line_counts(before, after);
            format!("policy document: {added} lines added, {removed} removed")
        }
    }
}

fn statements(policy_text: &str) -> String {
    let n = serde_json::from_str::<Json>(policy_text)
        .ok()
        .and_then(|v| v.get("Statement").and_then(Json::as_array).map(Vec::len))
        .unwrap_or(0);
    if n == 1 {
        "1 statement".to_string()
    } else {
        format!("{n} statements")
    }
}

/// Paths shortened to their first keyed item (`rules[tier].enabled` → `rules[tier]`), deduplicated, at
/// most three named.
fn group_list<'a>(paths: impl Iterator<Item = &'a str>) -> String {
    let mut groups: Vec<&str> = Vec::new();
    for path in paths {
        let group = path.find(']').map_or(path, |end| &path[..=end]);
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    let named: Vec<String> = groups.iter().take(3).map(|g| code(g)).collect();
    match groups.len().saturating_sub(3) {
        0 => named.join(", "),
        more => format!("{} and {more} more", named.join(", ")),
    }
}

/// A markdown code span safe inside a table cell.
fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'").replace('|', "\\|"))
}

/// Plain text safe inside a table cell or list item (no HTML, no column breaks).
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;")
}

// ---------------------------------------------------------------------------------------------------
// shared: ordering, flattening, policy diffs, colour

/// Changes ordered by address, compared segment by segment so a bucket's documents follow the bucket
/// (`bucket.logs`, `bucket.logs.lifecycle`, `bucket.logs-archive`).
fn ordered(plan: &Plan) -> impl Iterator<Item = &Change> {
    let mut changes: Vec<&Change> = plan.changes.iter().collect();
    changes.sort_by(|a, b| {
        let a_key = (a.address.as_str().split('.'), a.action);
        let b_key = (b.address.as_str().split('.'), b.action);
        a_key.0.cmp(b_key.0).then(a_key.1.cmp(&b_key.1))
    });
    changes.into_iter()
}

/// One path of a change's before/after view: the scalar at it on each side, JSON-encoded (`"enabled"`,
/// `30`, `true`); `None` where the side lacks the path.
struct Row {
    path: String,
    old: Option<String>,
    new: Option<String>,
}

/// The rows of a change whose value differs: for a create every path of `after`, for a delete every
/// path of `before`.
fn changed_rows(change: &Change) -> Vec<Row> {
    let mut rows = Vec::new();
    let (before, after) = (
        change.before.as_ref().map(value_json),
        change.after.as_ref().map(value_json),
    );
    let root = change.after.as_ref().or(change.before.as_ref()).map_or("", root);
    zip(root, before.as_ref(), after.as_ref(), false, &mut rows);
    rows.retain(|r| r.old != r.new);
    // An embedded policy document is one row (its statements are shown as a line diff), not one row
    // per JSON leaf.
    if let Some((label, before, after)) = embedded_policy(change) {
        rows.retain(|r| r.path != label && !r.path.starts_with(&format!("{label}.")));
        if before != after {
            let summary = |text: &str| (!text.is_empty()).then(|| format!("({})", statements(text)));
            rows.push(Row {
                path: label.to_string(),
                old: summary(&before),
                new: summary(&after),
            });
        }
    }
    rows
}

/// The policy document inside an IAM role (its trust policy) or managed policy, as pretty text on
/// each side (empty where the side is absent), with the field's name.
fn embedded_policy(change: &Change) -> Option<(&'static str, String, String)> {
    let field = |v: Option<&Value>| match v {
        Some(Value::Identity(IdentityDoc::Role(r))) => Some(("trust", pretty(&r.trust))),
        Some(Value::Identity(IdentityDoc::Policy(p))) => Some(("document", pretty(&p.document))),
        _ => None,
    };
    let (before, after) = (field(change.before.as_ref()), field(change.after.as_ref()));
    let label = after.as_ref().or(before.as_ref())?.0;
    Some((
        label,
        before.map(|b| b.1).unwrap_or_default(),
        after.map(|a| a.1).unwrap_or_default(),
    ))
}

fn pretty(policy: &Json) -> String {
    let mut text = serde_json::to_string_pretty(policy).unwrap_or_default();
    text.push('\n');
    text
}

/// Where a value's paths start: scalar documents are named, list documents name their items, objects
/// (a bucket, object-shaped documents) show their fields at the top.
fn root(value: &Value) -> &'static str {
    match value {
        Value::Identity(IdentityDoc::Attachments(_)) => return "attachments",
        Value::Identity(IdentityDoc::Subscriptions(_)) => return "subscriptions",
        _ => {}
    }
    let Value::Doc(doc) = value else { return "" };
    doc.kind().spec().render_root
}

/// A bucket's attributes, or a document's own value (the `value` of its `{"kind", "value"}` form).
/// Sets of IAM/SNS parts are shown keyed by their members, so a change reads as members added and
/// removed rather than as positions that changed.
fn value_json(value: &Value) -> Json {
    match value {
        Value::Bucket { name, region } => serde_json::json!({ "name": name, "region": region }),
        Value::Doc(doc) => match serde_json::to_value(doc).expect("a document serializes to JSON") {
            Json::Object(mut fields) => fields.remove("value").unwrap_or(Json::Null),
            other => other,
        },
        Value::Identity(IdentityDoc::Attachments(arns)) => {
            Json::Object(arns.iter().map(|a| (a.clone(), Json::from("attached"))).collect())
        }
        Value::Identity(IdentityDoc::Subscriptions(subs)) => {
            // Keyed by endpoint, with the protocol as value; by `protocol:endpoint` when one endpoint
            // has several protocols.
            let unique = subs
                .iter()
                .map(|s| &s.endpoint)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                == subs.len();
            Json::Object(
                subs.iter()
                    .map(|s| {
                        let key = if unique {
                            s.endpoint.clone()
                        } else {
                            format!("{}:{}", s.protocol, s.endpoint)
                        };
                        (key, Json::from(s.protocol.clone()))
                    })
                    .collect(),
            )
        }
        Value::Identity(doc) => match serde_json::to_value(doc).expect("a value serializes to JSON") {
            Json::Object(mut fields) => fields.remove("value").unwrap_or(Json::Null),
            other => other,
        },
    }
}

/// Flattens `old` and `new` together into rows, walking both trees at once so a path only one side
/// has sits among its siblings: children in `new`'s order, an `old`-only child right after the child
/// that preceded it in `old`. Nulls and empty collections give no rows. `skip_id` drops the `id`
/// field of a list item that is keyed by it.
fn zip(path: &str, old: Option<&Json>, new: Option<&Json>, skip_id: bool, out: &mut Vec<Row>) {
    let old = old.filter(|v| !v.is_null());
    let new = new.filter(|v| !v.is_null());
    let scalar = |v: Option<&Json>| v.filter(|v| !v.is_object() && !v.is_array()).map(Json::to_string);
    let (old_scalar, new_scalar) = (scalar(old), scalar(new));
    if old_scalar.is_some() || new_scalar.is_some() {
        out.push(Row {
            path: path.to_string(),
            old: old_scalar,
            new: new_scalar,
        });
    }
    let old_children = old.map(|v| children(v, skip_id)).unwrap_or_default();
    let new_children = new.map(|v| children(v, skip_id)).unwrap_or_default();
    for (segment, old, new, keyed) in merge(old_children, new_children) {
        zip(&child_path(path, &segment), old, new, keyed, out);
    }
}

/// A child of a container: its path segment (`.key`, `["odd key"]`, `[id]`, `[0]`), the child, and
/// whether the child is a list item keyed by its `id`.
type Child<'a> = (String, &'a Json, bool);

fn children(value: &Json, skip_id: bool) -> Vec<Child<'_>> {
    match value {
        Json::Object(fields) => fields
            .iter()
            .filter(|(key, _)| !(skip_id && *key == "id"))
            .map(|(key, v)| (key_segment(key), v, false))
            .collect(),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item.get("id").and_then(Json::as_str) {
                Some(id) => (format!("[{}]", id_segment(id)), item, true),
                None => (format!("[{index}]"), item, false),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A segment with the child at it on each side, and whether it is a keyed list item.
type Paired<'a> = (String, Option<&'a Json>, Option<&'a Json>, bool);

/// Both sides' children paired by segment, in `new`'s order with `old`-only ones after their
/// predecessor in `old`.
fn merge<'a>(old: Vec<Child<'a>>, new: Vec<Child<'a>>) -> Vec<Paired<'a>> {
    let mut merged: Vec<_> = new
        .into_iter()
        .map(|(seg, v, keyed)| (seg, None, Some(v), keyed))
        .collect();
    let mut cursor = 0;
    for (seg, v, keyed) in old {
        match merged.iter().position(|m| m.0 == seg) {
            Some(i) => {
                merged[i].1 = Some(v);
                cursor = i + 1;
            }
            None => {
                merged.insert(cursor, (seg, Some(v), None, keyed));
                cursor += 1;
            }
        }
    }
    merged
}

fn child_path(path: &str, segment: &str) -> String {
    match segment.strip_prefix('.') {
        Some(key) if path.is_empty() => key.to_string(),
        _ => format!("{path}{segment}"),
    }
}

/// `.key`, or `["odd key"]` when the key is not a plain identifier (tag keys such as
/// `aws:cloudformation:stack-name` or `cost center`).
fn key_segment(key: &str) -> String {
    if is_plain(key) {
        format!(".{key}")
    } else {
        format!("[{}]", Json::from(key))
    }
}

/// An item's `id` as a path segment: bare when plain and not a number (which would read as an index).
fn id_segment(id: &str) -> String {
    if is_plain(id) && !id.bytes().all(|b| b.is_ascii_digit()) {
        id.to_string()
    } else {
        Json::from(id).to_string()
    }
}

fn is_plain(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Pretty-printed policy JSON before and after, when the change is to a policy document (an absent
/// policy is empty text).
fn policy_texts(change: &Change) -> Option<(String, String)> {
    let is_policy = |v: &Option<Value>| {
        matches!(
            v,
            Some(
                Value::Doc(Doc::Policy(_))
                    | Value::Identity(IdentityDoc::InlinePolicy(_) | IdentityDoc::TopicPolicy(_))
            )
        )
    };
    if !is_policy(&change.before) && !is_policy(&change.after) {
        return None;
    }
    Some((policy_text(change.before.as_ref()), policy_text(change.after.as_ref())))
}

fn policy_text(value: Option<&Value>) -> String {
    match value {
        Some(
            Value::Doc(Doc::Policy(Some(policy)))
            | Value::Identity(IdentityDoc::InlinePolicy(Some(policy)) | IdentityDoc::TopicPolicy(policy)),
        ) => pretty(policy),
        _ => String::new(),
    }
}

/// A unified diff (3 lines of context, no file header) of two policy texts; a space follows each line's
/// `+`/`-`/` ` tag so the tag reads as a symbol (and moves to the first column in markdown).
fn policy_diff(before: &str, after: &str, style: Style) -> Vec<String> {
    let diff = line_diff(before, after);
    let mut out = Vec::new();
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push(hunk.header().to_string());
        for change in hunk.iter_changes() {
            let tag = match change.tag() {
                ChangeTag::Equal => " ".to_string(),
                ChangeTag::Delete => style.paint(RED, "-"),
                ChangeTag::Insert => style.paint(GREEN, "+"),
            };
            out.push(format!("{tag} {}", change.value().trim_end_matches('\n')));
        }
    }
    out
}

/// Patience keeps whole statements together better than Myers on pretty-printed JSON.
fn line_diff<'a>(before: &'a str, after: &'a str) -> TextDiff<'a, 'a, str> {
    TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .diff_lines(before, after)
}

fn line_counts(before: &str, after: &str) -> (usize, usize) {
    let diff = line_diff(before, after);
    let count = |tag| diff.iter_all_changes().filter(|c| c.tag() == tag).count();
    (count(ChangeTag::Insert), count(ChangeTag::Delete))
}

#[derive(Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    fn paint(self, style: anstyle::Style, s: &str) -> String {
        crate::style::paint(style, s, self.color)
    }

    /// The action symbol right-aligned in three columns (`  +`, `-/+`), coloured.
    fn symbol(self, action: Action) -> String {
        match action {
            Action::Create => format!("  {}", self.paint(GREEN, "+")),
            Action::Update => format!("  {}", self.paint(YELLOW, "~")),
            Action::Replace => format!("{}/{}", self.paint(RED, "-"), self.paint(GREEN, "+")),
            Action::Delete => format!("  {}", self.paint(RED, "-")),
            Action::Adopt => format!("  {}", self.paint(CYAN, "=")),
            Action::NoOp => "   ".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_keyed_lists_and_odd_keys() {
        let value = serde_json::json!([
            {"id": "tier", "transitions": [{"days": 30, "storage_class": "GLACIER"}], "prefix": null},
            {"id": "0", "tags": {"cost center": "it"}},
        ]);
        let mut rows = Vec::new();
        zip("rules", None, Some(&value), false, &mut rows);
        let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "rules[tier].transitions[0].days",
                "rules[tier].transitions[0].storage_class",
                "rules[\"0\"].tags[\"cost center\"]",
            ]
        );
    }

    #[test]
    fn removed_paths_stay_among_their_siblings() {
        let old = serde_json::json!({"a": 1, "b": {"x": 1}, "c": 3, "d": 4});
        let new = serde_json::json!({"a": 1, "b": {"x": 1, "y": 2}, "d": 5, "e": 6});
        let mut rows = Vec::new();
        zip("", Some(&old), Some(&new), false, &mut rows);
        rows.retain(|r| r.old != r.new);
        let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["b.y", "c", "d", "e"]);
    }

    #[test]
    fn diff_lines_move_symbols_to_the_first_column() {
        assert_eq!(diff_line("  + bucket.logs"), "+   bucket.logs");
        assert_eq!(diff_line("-/+ bucket.logs"), "-/+ bucket.logs");
        assert_eq!(diff_line("      ~ versioning: 1 → 2"), "!       versioning: 1 → 2");
        assert_eq!(diff_line("      -   \"Effect\""), "-         \"Effect\"");
        assert_eq!(diff_line("      + {"), "+       {");
        assert_eq!(diff_line("      name: \"x\""), "      name: \"x\"");
    }

    #[test]
    fn created_and_destroyed_attributes_take_the_block_symbol() {
        let text = "  + bucket.a\n      name: \"a\"\n\n  - bucket.b\n      name: \"b\"\n\n  # x\n      name: \"c\"";
        assert_eq!(
            diff_lines(text),
            [
                "+   bucket.a",
                "+     name: \"a\"",
                "",
                "-   bucket.b",
                "-     name: \"b\"",
                "",
                "  # x",
                "      name: \"c\""
            ]
        );
    }

    #[test]
    fn a_shortened_plan_never_passes_its_limit() {
        let bucket = |i: usize| Change {
            address: Address::bucket(&format!("b{i}")),
            action: Action::Delete,
            resource: Resource::Bucket {
                logical: format!("b{i}"),
                name: format!("bucket-{i}"),
                region: "eu-west-1".to_string(),
                current_region: None,
                force_destroy: false,
                prevent_destroy: false,
            },
            before: Some(Value::Bucket {
                name: format!("bucket-{i}"),
                region: "eu-west-1".to_string(),
            }),
            after: None,
            reason: None,
            irreversible: None,
            cause: None,
        };
        let plan = Plan {
            format_version: super::super::PLAN_FORMAT_VERSION,
            environment: "prod".to_string(),
            manifest_sha256: String::new(),
            account_id: None,
            targets: Vec::new(),
            changes: (0..50).map(bucket).collect(),
            edges: Vec::new(),
            findings: Vec::new(),
            warnings: Vec::new(),
            syncs: Vec::new(),
            state: None,
            migrations: Vec::new(),
            costs: Vec::new(),
        };
        // Room for some rows: the rest is counted.
        let out = markdown_shortened(&plan, 10_000, 2_500);
        assert!(out.len() <= 2_500, "{}", out.len());
        assert!(out.contains("| `-` destroy | `bucket.b0` |"), "{out}");
        assert!(
            out.contains(" more destroys and replaces: see the whole plan |"),
            "{out}"
        );
        // Not even room for the fixed parts: cut, and said so.
        let out = markdown_shortened(&plan, 10_000, 300);
        assert!(out.len() <= 300, "{}", out.len());
        assert!(out.ends_with(TRUNCATED), "{out}");
    }

    #[test]
    fn groups_paths_by_first_keyed_item() {
        let paths = ["rules[a].x", "rules[a].y", "rules[b].x", "tags.env", "tags.team"];
        assert_eq!(
            group_list(paths.into_iter()),
            "`rules[a]`, `rules[b]`, `tags.env` and 1 more"
        );
    }
}
