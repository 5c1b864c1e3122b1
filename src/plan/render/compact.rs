//! The compact text plan, the default view: one block per resource (a bucket with its documents, an
//! IAM or SNS resource with its parts), one line per changed attribute of an update, one line per new
//! or removed document (per rule, for documents that are lists of rules), and policies as line diffs
//! only where they change. `--detail full` prints each change as a block of its own instead.
//!
//! Why: in the full view a plan of three new buckets runs to hundreds of lines, most of them the
//! attributes of new documents one per line and the bodies of new policies, and a reviewer of a
//! 200-bucket change stops reading. Every change the full view shows is still named here, with its
//! cause, reason and irreversibility; only the lines are fewer. JSON keeps every change whole.

use std::fmt::Write as _;

use serde_json::Value as Json;

use super::{
    Action, Address, Change, IRREVERSIBLE, Resource, Row, Style, Value, body, changed_rows, children, embedded_policy,
    ordered, policy_texts, resource_of, root, row_line, value_json,
};
use crate::style::{GREEN, RED};

/// Where the lines of a resource's documents and parts start.
const PART: &str = "      ";
/// Where the changed attributes of a document or part start.
const ATTRIBUTE: &str = "          ";

/// The blocks of every resource with changes, in plan order.
pub(super) fn changes(plan: &super::Plan, style: Style) -> String {
    let mut groups: Vec<(Address, Vec<&Change>)> = Vec::new();
    for change in ordered(plan) {
        let owner = resource_of(change);
        match groups.last_mut() {
            Some((last, members)) if *last == owner => members.push(change),
            _ => groups.push((owner, vec![change])),
        }
    }
    groups
        .iter()
        .map(|(owner, changes)| block(owner, changes, style))
        .collect()
}

/// One resource: a headline with the resource's own change (or, when only its documents change, what
/// it is), then one entry per changed document or part.
fn block(owner: &Address, changes: &[&Change], style: Style) -> String {
    let own = changes.iter().copied().find(|c| c.address == *owner);
    let parts: Vec<&Change> = changes.iter().copied().filter(|c| c.address != *owner).collect();
    let action = own.map_or_else(|| parts_action(&parts), |c| c.action);
    let mut out = format!(
        "{} {owner}{}{}\n",
        style.symbol(action),
        headline(own, &parts),
        own.map(cause).unwrap_or_default()
    );
    if let Some(own) = own {
        out.push_str(&notes(own, PART));
        match own.action {
            Action::Update | Action::Replace => {
                for line in body(own, style) {
                    let _ = writeln!(out, "{PART}{line}");
                }
            }
            Action::Create | Action::Delete | Action::Adopt | Action::NoOp => {}
        }
    }
    let adopted: Vec<&str> = parts
        .iter()
        .filter(|c| c.action == Action::Adopt)
        .map(|c| part_name(owner, c))
        .collect();
    if !adopted.is_empty() {
        let _ = writeln!(
            out,
            "{PART}{} adopted as they are in AWS: {}",
            symbol(Action::Adopt, style),
            adopted.join(", ")
        );
    }
    for part in parts.iter().filter(|c| c.action != Action::Adopt) {
        out.push_str(&part_entry(owner, part, style));
    }
    out.push('\n');
    out
}

/// The symbol of a resource whose own value does not change: an update when any of its parts calls
/// AWS, an adoption when they are all adopted, else nothing (changes to the state only).
fn parts_action(parts: &[&Change]) -> Action {
    if parts.iter().any(|c| c.action.calls_aws()) {
        Action::Update
    } else if parts.iter().any(|c| c.action == Action::Adopt) {
        Action::Adopt
    } else {
        Action::NoOp
    }
}

/// What follows the address on a resource's first line.
fn headline(own: Option<&Change>, parts: &[&Change]) -> String {
    let Some(own) = own else {
        return match parts.first().map(|c| &c.resource) {
            Some(Resource::BucketDoc { bucket, .. }) => format!(" ({bucket})"),
            Some(Resource::Identity { name, .. }) if !name.is_empty() => format!(" ({name})"),
            Some(Resource::Bucket { .. } | Resource::Identity { .. }) | None => String::new(),
        };
    };
    if let Some(Value::Bucket { name, region }) = own.after.as_ref().or(own.before.as_ref()) {
        let quoted = quoted(name);
        return match own.action {
            Action::Create => format!(": new bucket {quoted} in {region}"),
            Action::Delete => format!(": bucket {quoted} in {region} will be destroyed"),
            Action::Replace => format!(": bucket {quoted} must be replaced"),
            Action::Adopt => {
                format!(
                    ": existing bucket {quoted} in {region}, adopted (recorded in the state; nothing changes in AWS)"
                )
            }
            Action::Update => format!(" ({name})"),
            Action::NoOp => ": changes in the state only, not in AWS".to_string(),
        };
    }
    let name = match &own.resource {
        Resource::Identity { name, .. } => quoted(name),
        Resource::Bucket { name, .. } => quoted(name),
        Resource::BucketDoc { bucket, .. } => quoted(bucket),
    };
    let with = |rows: Vec<Row>, side| {
        if rows.is_empty() {
            String::new()
        } else {
            format!(" ({})", attributes(&rows, side))
        }
    };
    match own.action {
        Action::Create => format!(": new {name}{}", with(changed_rows(own), Side::New)),
        Action::Delete => format!(": {name} will be destroyed{}", with(changed_rows(own), Side::Old)),
        Action::Adopt => ": exists in AWS, adopted (recorded in the state; nothing changes in AWS)".to_string(),
        Action::NoOp => ": changes in the state only, not in AWS".to_string(),
        Action::Update | Action::Replace => match &own.resource {
            Resource::Identity { name, .. } if !name.is_empty() => format!(" ({name})"),
            Resource::Identity { .. } | Resource::Bucket { .. } | Resource::BucketDoc { .. } => String::new(),
        },
    }
}

/// One document or part: a line of its own for a new or removed one, its name then one line per
/// changed attribute (or the policy's line diff) for an update.
fn part_entry(owner: &Address, change: &Change, style: Style) -> String {
    let name = part_name(owner, change);
    let symbol = symbol(change.action, style);
    let cause = cause(change);
    let mut out = String::new();
    match change.action {
        Action::Create | Action::Delete => {
            for line in created_or_removed(name, change) {
                let _ = writeln!(out, "{PART}{symbol} {line}{cause}");
            }
        }
        Action::Update | Action::Replace => {
            let _ = writeln!(out, "{PART}{symbol} {name}{cause}");
            for line in updated(change, style) {
                let _ = writeln!(out, "{ATTRIBUTE}{line}");
            }
        }
        Action::NoOp => {
            let _ = writeln!(out, "{PART}  {name}: changes in the state only, not in AWS");
        }
        // Adoptions are listed together on one line by `block`.
        Action::Adopt => return out,
    }
    out.push_str(&notes(change, PART));
    out
}

/// The lines of an updated document or part: one per changed attribute, except that a list item (a
/// lifecycle rule, a subscription) added or removed whole is one line; policies as line diffs.
fn updated(change: &Change, style: Style) -> Vec<String> {
    if policy_texts(change).is_some() || embedded_policy(change).is_some() {
        return body(change, style);
    }
    let forces = change.action == Action::Replace;
    let rows = changed_rows(change);
    let items = |value: Option<&Value>| -> Vec<String> {
        let Some(value) = value else { return Vec::new() };
        let json = value_json(value);
        if !json.is_array() {
            return Vec::new();
        }
        let base = root(value);
        children(&json, false)
            .into_iter()
            .map(|(segment, _, _)| format!("{base}{segment}"))
            .collect()
    };
    let (old_items, new_items) = (items(change.before.as_ref()), items(change.after.as_ref()));
    let whole = |path: &str| -> Option<(&String, Side)> {
        let added = new_items.iter().find(|i| is_within(path, i) && !old_items.contains(i));
        let removed = old_items.iter().find(|i| is_within(path, i) && !new_items.contains(i));
        added.map(|i| (i, Side::New)).or(removed.map(|i| (i, Side::Old)))
    };
    let mut lines = Vec::new();
    let mut rest = rows.as_slice();
    while let Some(row) = rest.first() {
        match whole(&row.path) {
            Some((item, side)) => {
                let taken = rest.iter().take_while(|r| is_within(&r.path, item)).count();
                let members: Vec<&Row> = rest[..taken].iter().collect();
                let (symbol, colour) = match side {
                    Side::New => ("+", GREEN),
                    Side::Old => ("-", RED),
                };
                lines.push(format!(
                    "{} {item}: {}",
                    style.paint(colour, symbol),
                    relative_attributes(item, &members, side)
                ));
                rest = &rest[taken..];
            }
            None => {
                lines.push(row_line(row, forces, style));
                rest = &rest[1..];
            }
        }
    }
    lines
}

/// A new or removed document or part in one line, or one line per item of a document that is a list
/// (a lifecycle rule, a CORS rule); a policy as its statement count and IDs, not its text.
fn created_or_removed(name: &str, change: &Change) -> Vec<String> {
    let side = if change.action == Action::Delete {
        Side::Old
    } else {
        Side::New
    };
    if let Some((before, after)) = policy_texts(change) {
        return vec![match side {
            Side::Old => format!("{name}: removed ({})", statement_ids(&before)),
            Side::New => format!("{name}: {}", statement_ids(&after)),
        }];
    }
    let Some(value) = change.after.as_ref().or(change.before.as_ref()) else {
        return vec![name.to_string()];
    };
    let rows = changed_rows(change);
    let base = root(value);
    let json = value_json(value);
    if !json.is_array() || rows.is_empty() {
        let rows: Vec<&Row> = rows.iter().collect();
        return vec![format!("{name}: {}", relative_attributes(base, &rows, side))];
    }
    children(&json, false)
        .into_iter()
        .map(|(segment, _, _)| {
            let item = format!("{base}{segment}");
            let own: Vec<&Row> = rows.iter().filter(|r| is_within(&r.path, &item)).collect();
            // `notifications[x]`, not `notifications notifications[x]`; `lifecycle rules[x]`.
            let label = if base == name {
                item.clone()
            } else {
                format!("{name} {item}")
            };
            format!("{label}: {}", relative_attributes(&item, &own, side))
        })
        .collect()
}

/// Whether `path` is `item` or one of its attributes.
fn is_within(path: &str, item: &str) -> bool {
    path.strip_prefix(item)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// Which side of a row to show.
#[derive(Clone, Copy)]
enum Side {
    Old,
    New,
}

/// `name = "x", path = "/"`: rows with their whole paths.
fn attributes(rows: &[Row], side: Side) -> String {
    let rows: Vec<&Row> = rows.iter().collect();
    relative_attributes("", &rows, side)
}

/// `enabled = true, transitions[0].days = 30`: rows with their paths relative to `base`; a row at
/// `base` itself is its bare value.
fn relative_attributes(base: &str, rows: &[&Row], side: Side) -> String {
    if rows.is_empty() {
        return "(not configured)".to_string();
    }
    // Consecutive items of one list of scalars (`allowed_methods[0]`, `allowed_methods[1]`) are one
    // attribute: `allowed_methods = ["GET", "PUT"]`.
    let mut pairs: Vec<(&str, Vec<&str>, bool)> = Vec::new();
    for row in rows {
        let value = match side {
            Side::Old => row.old.as_deref(),
            Side::New => row.new.as_deref(),
        }
        .unwrap_or("");
        let path = row.path.strip_prefix(base).unwrap_or(&row.path);
        let path = path.strip_prefix('.').unwrap_or(path);
        match (list_of(path), pairs.last_mut()) {
            (Some(list), Some((last, values, true))) if *last == list => values.push(value),
            (Some(list), _) => pairs.push((list, vec![value], true)),
            (None, _) => pairs.push((path, vec![value], false)),
        }
    }
    pairs
        .iter()
        .map(|(path, values, is_list)| {
            let value = if *is_list {
                format!("[{}]", values.join(", "))
            } else {
                values.concat()
            };
            if path.is_empty() {
                value
            } else {
                format!("{path} = {value}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `allowed_methods` for `allowed_methods[3]`: the list a path is a numbered item of, when it is one.
fn list_of(path: &str) -> Option<&str> {
    let (list, index) = path.strip_suffix(']')?.rsplit_once('[')?;
    (!list.is_empty() && !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())).then_some(list)
}

/// `1 statement (DenyInsecureTransport)`: how many statements a policy has, with the IDs they carry.
fn statement_ids(policy_text: &str) -> String {
    let count = super::statements(policy_text);
    let ids: Vec<String> = serde_json::from_str::<Json>(policy_text)
        .ok()
        .and_then(|v| v.get("Statement").and_then(Json::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.get("Sid").and_then(Json::as_str).map(str::to_string))
        .collect();
    if ids.is_empty() {
        count
    } else {
        format!("{count}: {}", ids.join(", "))
    }
}

/// The document's or part's name within its resource (`lifecycle`, `inline_policy`).
fn part_name<'a>(owner: &Address, change: &'a Change) -> &'a str {
    change
        .address
        .as_str()
        .strip_prefix(owner.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(change.address.as_str())
}

/// `  [drift]` after a change that has a cause.
fn cause(change: &Change) -> String {
    change.cause.map(|c| format!("  [{}]", c.label())).unwrap_or_default()
}

/// The reason and the irreversibility warning of a change, as comment lines.
fn notes(change: &Change, indent: &str) -> String {
    let mut out = String::new();
    if let Some(reason) = &change.reason {
        let _ = writeln!(out, "{indent}# ({reason})");
    }
    if let Some(why) = &change.irreversible {
        let _ = writeln!(out, "{indent}# {IRREVERSIBLE}: {why}");
    }
    out
}

/// The action's symbol without the right-alignment of headlines.
fn symbol(action: Action, style: Style) -> String {
    style.symbol(action).trim_start().to_string()
}

fn quoted(s: &str) -> String {
    Json::from(s).to_string()
}
