//! The JSON Schema of the manifest, generated from the Rust types, and schema validation with located,
//! actionable messages.
//!
//! Schema validation runs before deserialization because it reports every shape error at once (serde stops
//! at the first), each at a JSON pointer the span index can place.

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::diagnostic::Problem;
use super::types::Manifest;
use super::yaml::{SpanIndex, escape_pointer};

/// The manifest's JSON Schema (draft 2020-12), as committed in `schemas/manifest.schema.json`.
pub fn manifest_schema() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Manifest>();
    let mut value = schema.to_value();
    strip_null(&mut value);
    value
}

/// `Option<T>` in the manifest types means "may be left out", not "may be null". Keeping `null` out of
/// the schema keeps errors inside optional sections precise: without this every optional section is an
/// `anyOf [T, null]`, and a typo inside it is reported as "matches none of the alternatives".
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(branches)) = map.get("anyOf") {
                let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
                if branches.len() == 2 && branches.iter().any(is_null) {
                    let kept = branches.iter().find(|b| !is_null(b)).cloned().unwrap_or(Value::Null);
                    map.remove("anyOf");
                    if let Value::Object(inner) = kept {
                        for (k, v) in inner {
                            map.entry(k).or_insert(v);
                        }
                    }
                }
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types[0].clone();
                    map.insert("type".to_string(), only);
                }
            }
            if let Some(Value::Array(options)) = map.get_mut("enum") {
                options.retain(|o| !o.is_null());
            }
            if map.get("default").is_some_and(Value::is_null) {
                map.remove("default");
            }
            map.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// The schema as pretty JSON with a trailing newline, exactly as committed.
pub fn manifest_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&manifest_schema()).unwrap_or_default();
    text.push('\n');
    text
}

static SCHEMA: LazyLock<Value> = LazyLock::new(manifest_schema);

static VALIDATOR: LazyLock<Result<Validator, String>> =
    LazyLock::new(|| jsonschema::validator_for(&SCHEMA).map_err(|e| e.to_string()));

/// Validates a manifest document against the schema and returns every violation, located.
pub fn check(document: &Value, index: &SpanIndex) -> Vec<Problem> {
    let validator = match &*VALIDATOR {
        Ok(v) => v,
        Err(e) => {
            return vec![Problem::error(
                "internal",
                format!("the built-in schema does not compile: {e}"),
            )];
        }
    };
    let mut problems = Vec::new();
    for error in validator.iter_errors(document) {
        explain(&error, document, index, &mut problems);
    }
    problems.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    problems
}

fn explain(error: &ValidationError<'_>, document: &Value, index: &SpanIndex, out: &mut Vec<Problem>) {
    let pointer = error.instance_path().as_str().to_string();
    let instance = document.pointer(&pointer).unwrap_or(&Value::Null);
    let value_span = index.locate(&pointer).map(|l| l.value);
    let key_span = index.locate(&pointer).and_then(|l| l.key).or(value_span);
    let field = field_name(&pointer);

    let mut problem = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                let child = format!("{pointer}/{}", escape_pointer(name));
                let span = index.locate(&child).and_then(|l| l.key.or(Some(l.value)));
                let allowed = properties_at(&SCHEMA, &pointer);
                let mut p = Problem::error(
                    "unknown-field",
                    format!("unknown field `{name}` in {}", describe(&pointer)),
                )
                .with_pointer(child)
                .with_hint(suggest(name, &allowed));
                if let Some(span) = span {
                    p = p.at(span);
                }
                out.push(p);
            }
            return;
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let mut p = Problem::error(
                "missing-field",
                format!("missing required field `{name}` in {}", describe(&pointer)),
            )
            .with_hint(format!("add `{name}:` here"));
            if let Some(span) = key_span {
                p = p.at(span);
            }
            p
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => type_name(&format!("{t:?}")),
                TypeKind::Multiple(ts) => ts
                    .iter()
                    .map(|t| type_name(&format!("{t:?}")))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            let p = Problem::error(
                "wrong-type",
                format!("`{field}` must be {expected}, found {}", found(instance)),
            );
            with_type_hint(p, &pointer, &expected, instance)
        }
        ValidationErrorKind::Enum { options } => {
            enum_problem(&field, instance, options.as_array().map(Vec::as_slice).unwrap_or(&[]))
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            // Enums with documented variants become `oneOf` of constants: report them as one enum error.
            let constants: Option<Vec<Value>> = context
                .iter()
                .map(|branch| match branch.as_slice() {
                    [e] => match e.kind() {
                        ValidationErrorKind::Constant { expected_value } => Some(vec![(**expected_value).clone()]),
                        ValidationErrorKind::Enum { options } => options.as_array().cloned(),
                        _ => None,
                    },
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(|v| v.into_iter().flatten().collect());
            if let Some(options) = constants {
                enum_problem(&field, instance, &options)
            } else if let Some(best) = deepest_branch(context, &pointer).or_else(|| right_type_branch(context)) {
                for e in best {
                    explain(e, document, index, out);
                }
                return;
            } else {
                let expected = branch_types(context);
                Problem::error(
                    "wrong-type",
                    format!("`{field}` must be {expected}, found {}", found(instance)),
                )
            }
        }
        ValidationErrorKind::Minimum { limit } => Problem::error(
            "out-of-range",
            format!("`{field}` must be at least {limit}, found {instance}"),
        ),
        ValidationErrorKind::Maximum { limit } => Problem::error(
            "out-of-range",
            format!("`{field}` must be at most {limit}, found {instance}"),
        ),
        ValidationErrorKind::Pattern { pattern } => Problem::error(
            "invalid-format",
            format!("`{field}` does not have the expected format, found {}", found(instance)),
        )
        .with_hint(format!("expected text matching `{pattern}`")),
        _ => Problem::error("schema", format!("{} ({})", error, describe(&pointer))),
    };
    if problem.span.is_none()
        && let Some(span) = value_span
    {
        problem = problem.at(span);
    }
    out.push(problem.with_pointer(pointer));
}

/// The branch of an `anyOf`/`oneOf` that got furthest into the value: its errors are about the shape
/// the author most likely meant.
fn deepest_branch<'a>(
    context: &'a [Vec<ValidationError<'static>>],
    pointer: &str,
) -> Option<&'a Vec<ValidationError<'static>>> {
    context
        .iter()
        .filter(|branch| !branch.is_empty())
        .map(|branch| {
            let depth = branch
                .iter()
                .map(|e| e.instance_path().as_str().len())
                .max()
                .unwrap_or(0);
            (depth, branch)
        })
        .filter(|(depth, _)| *depth > pointer.len())
        .max_by_key(|(depth, _)| *depth)
        .map(|(_, branch)| branch)
}

/// The one branch whose errors are not type mismatches: the value has that branch's type, so its errors
/// (a pattern, a range) are the ones that explain what is wrong.
fn right_type_branch<'a>(context: &'a [Vec<ValidationError<'static>>]) -> Option<&'a Vec<ValidationError<'static>>> {
    let mut candidates = context.iter().filter(|branch| {
        !branch
            .iter()
            .any(|e| matches!(e.kind(), ValidationErrorKind::Type { .. }))
    });
    let first = candidates.next()?;
    candidates.next().is_none().then_some(first)
}

fn branch_types(context: &[Vec<ValidationError<'static>>]) -> String {
    let mut names: Vec<String> = Vec::new();
    for branch in context {
        for e in branch {
            if let ValidationErrorKind::Type { kind } = e.kind() {
                let n = match kind {
                    TypeKind::Single(t) => type_name(&format!("{t:?}")),
                    TypeKind::Multiple(ts) => ts
                        .iter()
                        .map(|t| type_name(&format!("{t:?}")))
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
    }
    if names.is_empty() {
        "a different shape".to_string()
    } else {
        names.join(" or ")
    }
}

fn enum_problem(field: &str, instance: &Value, options: &[Value]) -> Problem {
    let listed: Vec<String> = options
        .iter()
        .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_string))
        .collect();
    let mut p = Problem::error("invalid-value", format!("`{field}` cannot be {}", found(instance)));
    let given = instance.as_str().unwrap_or_default();
    match closest(given, &listed) {
        Some(best) => p = p.with_hint(format!("did you mean `{best}`? expected one of: {}", listed.join(", "))),
        None => p = p.with_hint(format!("expected one of: {}", listed.join(", "))),
    }
    p
}

fn with_type_hint(p: Problem, pointer: &str, expected: &str, instance: &Value) -> Problem {
    if let Some(hint) = shorthand_hint(pointer, instance) {
        return p.with_hint(hint);
    }
    match (expected, instance.as_str()) {
        ("a boolean", Some(s)) if ["yes", "no", "on", "off", "y", "n"].contains(&s.to_ascii_lowercase().as_str()) => {
            p.with_hint("YAML 1.2 reads `yes`/`no`/`on`/`off` as text: write `true` or `false`")
        }
        ("an integer", Some(s)) if s.trim().parse::<f64>().is_ok() => {
            p.with_hint("remove the quotes around the number")
        }
        ("text", None) if instance.is_number() => p.with_hint(
            "quote the value so YAML reads it as text (an account ID keeps its leading zeros only when quoted)",
        ),
        (_, _) if instance.is_null() => {
            p.with_hint("the value is empty: write a value after the colon, or remove the line")
        }
        _ => p,
    }
}

/// The documented shape of a field that people naturally write in a shorter form (a word for a set of
/// switches, a list where each entry needs a name), for the wrong-type error at `pointer`.
fn shorthand_hint(pointer: &str, instance: &Value) -> Option<&'static str> {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    match (segments.as_slice(), instance) {
        ([.., "public_access_block"], Value::String(_) | Value::Bool(_)) => Some(
            "`public_access_block` is a mapping of four switches that all default to true: write \
             `public_access_block: {}` to block all public access, or turn one off, e.g. \
             `public_access_block: {block_public_policy: false}`",
        ),
        (["iam", "roles", _, "trust"], Value::Array(_) | Value::String(_)) => Some(
            "`trust` names each kind of principal: write `trust: {services: [s3.amazonaws.com]}`; \
             `accounts:` takes account IDs and `identities:` this manifest's users and roles",
        ),
        (["sync"], Value::Array(_)) => Some(
            "`sync` maps a name to each mapping: write `sync: {site: {source: ./site, bucket: NAME}}`, or \
             the name on its own line with the fields indented under it (docs/sync.md)",
        ),
        (["migrations"], Value::Array(_)) => Some(
            "`migrations` maps a name to each migration: write \
             `migrations: {old: {bucket: NAME, destination: /mnt/archive}}`, or the name on its own line with \
             the fields indented under it (docs/migrations.md)",
        ),
        _ => None,
    }
}

fn type_name(debug: &str) -> String {
    match debug.to_ascii_lowercase().as_str() {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "text",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "null" => "empty",
        other => return other.to_string(),
    }
    .to_string()
}

fn found(instance: &Value) -> String {
    match instance {
        Value::Null => "an empty value".to_string(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`{s}`"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

/// The last segment of a pointer, or "the manifest" for the root.
fn field_name(pointer: &str) -> String {
    match pointer.rsplit('/').next() {
        Some(last) if !pointer.is_empty() => last.replace("~1", "/").replace("~0", "~"),
        _ => "manifest".to_string(),
    }
}

/// `/buckets/logs/lifecycle/0` → "buckets.logs.lifecycle[0]".
pub fn describe(pointer: &str) -> String {
    if pointer.is_empty() {
        return "the manifest".to_string();
    }
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    format!("`{out}`")
}

/// "did you mean" for an unknown name, or the list of allowed names.
fn suggest(name: &str, allowed: &[String]) -> String {
    match closest(name, allowed) {
        Some(best) => format!("did you mean `{best}`?"),
        None if allowed.is_empty() => "remove this field".to_string(),
        None => format!("allowed fields here: {}", allowed.join(", ")),
    }
}

/// The closest candidate by edit distance, if it is close enough to be a typo.
pub fn closest(name: &str, candidates: &[String]) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let len = lower.chars().count();
    let close_enough = |c: &String| (c.len() / 3).max(2);
    candidates
        .iter()
        // The distance is at least the difference in length; skipping what cannot be close keeps a huge
        // value from costing a distance matrix of its length per candidate.
        .filter(|c| len.abs_diff(c.chars().count()) <= close_enough(c))
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= close_enough(c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

/// The property names the schema allows at an instance pointer, following `$ref`, `properties`,
/// `additionalProperties`, `items` and the branches of `anyOf`/`oneOf`/`allOf`.
fn properties_at(schema: &Value, pointer: &str) -> Vec<String> {
    let segments: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut names = Vec::new();
    collect_properties(schema, schema, &segments, &mut names, 0);
    names
}

fn collect_properties(root: &Value, node: &Value, path: &[String], out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    let node = resolve_ref(root, node);
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = node.get(key).and_then(Value::as_array) {
            for b in branches {
                collect_properties(root, b, path, out, depth + 1);
            }
        }
    }
    match path.split_first() {
        None => {
            if let Some(props) = node.get("properties").and_then(Value::as_object) {
                for k in props.keys() {
                    if !out.contains(k) {
                        out.push(k.clone());
                    }
                }
            }
        }
        Some((seg, rest)) => {
            if let Some(child) = node.get("properties").and_then(|p| p.get(seg)) {
                collect_properties(root, child, rest, out, depth + 1);
            } else if let Some(child) = node.get("additionalProperties").filter(|v| v.is_object()) {
                collect_properties(root, child, rest, out, depth + 1);
            } else if let Some(child) = node.get("items").filter(|v| v.is_object()) {
                collect_properties(root, child, rest, out, depth + 1);
            }
        }
    }
}

fn resolve_ref<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..16 {
        match node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(p) => match root.pointer(p) {
                Some(target) => node = target,
                None => break,
            },
            None => break,
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_properties_follow_refs_into_maps_and_lists() {
        let schema = manifest_schema();
        let bucket = properties_at(&schema, "/buckets/logs");
        assert!(bucket.contains(&"versioning".to_string()), "{bucket:?}");
        let rule = properties_at(&schema, "/buckets/logs/lifecycle/0");
        assert!(rule.contains(&"transitions".to_string()), "{rule:?}");
    }

    #[test]
    fn typos_get_the_closest_name() {
        let names: Vec<String> = ["versioning", "encryption", "tags"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(closest("versoning", &names).as_deref(), Some("versioning"));
        assert_eq!(closest("completely-else", &names), None);
    }

    #[test]
    fn pointers_read_like_paths() {
        assert_eq!(describe("/buckets/logs/lifecycle/0"), "`buckets.logs.lifecycle[0]`");
        assert_eq!(describe(""), "the manifest");
    }
}
