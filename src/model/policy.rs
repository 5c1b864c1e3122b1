//! Policy documents compared by meaning, not by spelling.
//!
//! IAM accepts the same policy written many ways: keys in any order, `"s3:GetObject"` or
//! `["s3:GetObject"]`, statements in any order, an account ID or its root ARN as principal, `false` or
//! `"false"` in a condition. AWS also hands policies back rewritten. [`normalize`] maps all of these to
//! one form, so a policy nobody changed never shows up in a plan.

use serde_json::{Map, Value};

/// The normalized form of a policy document:
/// - object keys sorted (recursively);
/// - `Statement` always a list, its statements sorted by their normalized JSON;
/// - in statements, one-element lists become scalars, longer lists of strings are sorted and deduplicated;
/// - condition values become strings (IAM compares them as strings);
/// - a 12-digit account ID as an `AWS` principal becomes `arn:aws:iam::ID:root`, as AWS stores it, and
///   the principal `"*"` becomes its documented equivalent `{"AWS": "*"}`;
/// - `Version` defaults to `2012-10-17`.
pub fn normalize(policy: &Value) -> Value {
    let Value::Object(map) = policy else {
        return policy.clone();
    };
    let mut out = Map::new();
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        let value = &map[key];
        let normalized = if key == "Statement" {
            let statements: Vec<Value> = match value {
                Value::Array(items) => items.iter().map(normalize_statement).collect(),
                single => vec![normalize_statement(single)],
            };
            let mut statements = statements;
            statements.sort_by_key(|s| s.to_string());
            Value::Array(statements)
        } else {
            sort_keys(value)
        };
        out.insert(key.clone(), normalized);
    }
    out.entry("Version")
        .or_insert_with(|| Value::String("2012-10-17".to_string()));
    sort_keys(&Value::Object(out))
}

fn normalize_statement(statement: &Value) -> Value {
    let Value::Object(map) = statement else {
        return statement.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let v = match key.as_str() {
            "Principal" | "NotPrincipal" => normalize_principal(value),
            "Condition" => normalize_condition(value),
            _ => collapse(value),
        };
        out.insert(key.clone(), v);
    }
    sort_keys(&Value::Object(out))
}

fn normalize_principal(principal: &Value) -> Value {
    match principal {
        // IAM documents `"*"` and `{"AWS": "*"}` as the same principal (everyone). The mapping form is
        // the canonical one because some S3-compatible servers (moto among them) only parse principals
        // that are mappings.
        Value::String(s) if s == "*" => serde_json::json!({"AWS": "*"}),
        Value::Object(kinds) => {
            let mut out = Map::new();
            for (kind, values) in kinds {
                let values = if kind == "AWS" {
                    map_strings(values, &account_to_root)
                } else {
                    values.clone()
                };
                out.insert(kind.clone(), collapse(&values));
            }
            Value::Object(out)
        }
        other => collapse(other),
    }
}

fn normalize_condition(condition: &Value) -> Value {
    let Value::Object(operators) = condition else {
        return condition.clone();
    };
    let mut out = Map::new();
    for (op, keys) in operators {
        let Value::Object(keys) = keys else {
            out.insert(op.clone(), keys.clone());
            continue;
        };
        let mut inner = Map::new();
        for (k, v) in keys {
            inner.insert(k.clone(), collapse(&map_scalars_to_strings(v)));
        }
        out.insert(op.clone(), Value::Object(inner));
    }
    Value::Object(out)
}

/// One-element list → the element; longer lists of strings → sorted, deduplicated.
fn collapse(value: &Value) -> Value {
    match value {
        Value::Array(items) if items.len() == 1 => items[0].clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let mut strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            strings.sort_unstable();
            strings.dedup();
            if strings.len() == 1 {
                Value::String(strings[0].to_string())
            } else {
                Value::Array(strings.into_iter().map(|s| Value::String(s.to_string())).collect())
            }
        }
        other => other.clone(),
    }
}

fn map_strings(value: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| map_strings(v, f)).collect()),
        other => other.clone(),
    }
}

fn map_scalars_to_strings(value: &Value) -> Value {
    match value {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(map_scalars_to_strings).collect()),
        other => other.clone(),
    }
}

fn account_to_root(s: &str) -> String {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("arn:aws:iam::{s}:root")
    } else {
        s.to_string()
    }
}

/// Recursively sorts object keys (serde_json keeps insertion order in this crate).
fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sort_keys(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spelling_differences_normalize_equal() {
        let a = json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "B", "Effect": "Allow", "Principal": {"AWS": ["111122223333"]}, "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::x/*"},
                {"Effect": "Deny", "Sid": "A", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::x/*", "arn:aws:s3:::x"],
                 "Condition": {"Bool": {"aws:SecureTransport": false}}}
            ]
        });
        let b = json!({
            "Statement": [
                {"Sid": "A", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:*"], "Resource": ["arn:aws:s3:::x", "arn:aws:s3:::x/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {"Action": "s3:GetObject", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Resource": ["arn:aws:s3:::x/*"], "Sid": "B"}
            ],
            "Version": "2012-10-17"
        });
        assert_eq!(normalize(&a), normalize(&b));
        assert_eq!(
            normalize(&a).to_string(),
            normalize(&normalize(&a)).to_string(),
            "idempotent"
        );
    }

    #[test]
    fn real_differences_stay_different() {
        let a = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::x/*"}]});
        assert_ne!(normalize(&a), normalize(&b));
    }
}
