//! Imported buckets as manifest YAML: a header comment, the environment's connection settings, and
//! the buckets, with fields equal to the manifest's own defaults left out. The manifest types are
//! serialized with serde and written by `yaml-rust2`'s emitter, which quotes what YAML would misread
//! (`yes`, `012`, `: `, `#`) and keeps non-ASCII text as it is.

use serde_json::Value as Json;
use yaml_rust2::yaml::{Hash, Yaml};

use super::Imported;
use crate::manifest::types::{AwsSettings, StateSettings};

/// Where and when the import read AWS, for the header comment.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// RFC 3339 time of the import.
    pub when: String,
    pub account: Option<String>,
    pub caller_arn: Option<String>,
    pub endpoint: Option<String>,
    pub region: String,
}

/// The environment settings kept from the manifest the import ran in, so `--out` over it keeps working.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub aws: AwsSettings,
    pub state: StateSettings,
}

/// The whole manifest text.
pub fn manifest_yaml(header: &Header, environment: &str, settings: &Settings, imported: &Imported) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Imported by `s3rec import` at {} from account {}",
        if header.when.is_empty() {
            "an unknown time"
        } else {
            &header.when
        },
        header.account.as_deref().unwrap_or("unknown (STS did not answer)")
    ));
    if let Some(arn) = &header.caller_arn {
        out.push_str(&format!(" as {arn}"));
    }
    out.push('\n');
    out.push_str(&format!(
        "# through {} in region {}.\n",
        header.endpoint.as_deref().unwrap_or("the AWS endpoints"),
        header.region
    ));
    out.push_str("# Review it, then `s3rec plan` should show only buckets passing under management.\n");
    if !imported.notes.is_empty() {
        out.push_str(
            "#\n# Notes: what is left out, so not managed (the manifest cannot say it as it is), and what the\n# first apply rewrites:\n",
        );
        for note in &imported.notes {
            for (i, line) in note.to_string().lines().enumerate() {
                out.push_str(if i == 0 { "# - " } else { "#   " });
                out.push_str(line);
                out.push('\n');
            }
        }
    }

    let mut doc = serde_json::Map::new();
    doc.insert("environment".into(), Json::String(environment.to_string()));
    let aws = without(
        serde_json::to_value(&settings.aws).unwrap_or_default(),
        &[("force_path_style", Json::Bool(false))],
    );
    if aws.as_object().is_some_and(|o| !o.is_empty()) {
        doc.insert("aws".into(), aws);
    }
    let state = without(
        serde_json::to_value(&settings.state).unwrap_or_default(),
        &[("backend", Json::String("local".into())), ("prune", Json::Bool(false))],
    );
    if state.as_object().is_some_and(|o| !o.is_empty()) {
        doc.insert("state".into(), state);
    }
    let mut buckets = serde_json::Map::new();
    for (logical, b) in &imported.buckets {
        buckets.insert(
            logical.clone(),
            bucket_json(serde_json::to_value(b).unwrap_or_default()),
        );
    }
    doc.insert("buckets".into(), Json::Object(buckets));
    let mut iam = serde_json::Map::new();
    for (section, entries) in [
        ("users", serde_json::to_value(&imported.iam.users)),
        ("roles", serde_json::to_value(&imported.iam.roles)),
        ("policies", serde_json::to_value(&imported.iam.policies)),
    ] {
        if let Ok(Json::Object(entries)) = entries
            && !entries.is_empty()
        {
            iam.insert(section.into(), identity_entries(entries));
        }
    }
    if !iam.is_empty() {
        doc.insert("iam".into(), Json::Object(iam));
    }
    if let Ok(Json::Object(topics)) = serde_json::to_value(&imported.sns.topics)
        && !topics.is_empty()
    {
        doc.insert("sns".into(), serde_json::json!({ "topics": identity_entries(topics) }));
    }

    let mut text = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut text);
    // The emitter fails only when writing to the String fails, which it does not.
    if emitter.dump(&to_yaml(&Json::Object(doc))).is_err() {
        return out;
    }
    // The emitter starts with a document marker; a manifest file does not need one.
    out.push_str(text.strip_prefix("---\n").unwrap_or(&text));
    out.push('\n');
    out
}

/// A bucket's JSON without the fields whose value is the manifest's default for them.
fn bucket_json(mut b: Json) -> Json {
    b = without(b, &[("force_destroy", Json::Bool(false))]);
    if let Some(p) = b.get_mut("public_access_block") {
        *p = without(
            p.take(),
            &[
                ("block_public_acls", Json::Bool(true)),
                ("ignore_public_acls", Json::Bool(true)),
                ("block_public_policy", Json::Bool(true)),
                ("restrict_public_buckets", Json::Bool(true)),
            ],
        );
    }
    if let Some(e) = b.get_mut("encryption") {
        *e = without(e.take(), &[("bucket_key", Json::Bool(false))]);
    }
    if let Some(l) = b.get_mut("logging") {
        *l = without(l.take(), &[("prefix", Json::String(String::new()))]);
    }
    if let Some(Json::Array(rules)) = b.get_mut("lifecycle") {
        for r in rules {
            *r = without(r.take(), &[("enabled", Json::Bool(true))]);
        }
    }
    b
}

/// IAM and SNS entries without the fields whose value is the manifest's default for them.
fn identity_entries(entries: serde_json::Map<String, Json>) -> Json {
    Json::Object(
        entries
            .into_iter()
            .map(|(logical, e)| {
                (
                    logical,
                    without(
                        e,
                        &[("path", Json::String("/".into())), ("access_key", Json::Bool(false))],
                    ),
                )
            })
            .collect(),
    )
}

/// `value` without the keys that hold exactly the given default.
fn without(value: Json, defaults: &[(&str, Json)]) -> Json {
    match value {
        Json::Object(mut map) => {
            for (key, default) in defaults {
                if map.get(*key) == Some(default) {
                    map.shift_remove(*key);
                }
            }
            Json::Object(map)
        }
        other => other,
    }
}

fn to_yaml(value: &Json) -> Yaml {
    match value {
        Json::Null => Yaml::Null,
        Json::Bool(b) => Yaml::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Json::String(s) => Yaml::String(s.clone()),
        Json::Array(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        Json::Object(map) => {
            let mut hash = Hash::new();
            for (k, v) in map {
                hash.insert(Yaml::String(k.clone()), to_yaml(v));
            }
            Yaml::Hash(hash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::types::Bucket;

    #[test]
    fn awkward_strings_are_quoted_and_read_back_unchanged() {
        let tags: indexmap::IndexMap<String, String> = [
            ("owner", "Zoë «ops»"),
            ("yes", "no"),
            ("code", "012"),
            ("note", "a: b # c"),
            ("empty", ""),
            ("multi", "line1\nline2"),
            ("quote", "it's \"x\""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let imported = Imported {
            buckets: [(
                "b".to_string(),
                Bucket {
                    name: "b-${env}".into(),
                    tags: Some(tags.clone()),
                    ..Bucket::default()
                },
            )]
            .into_iter()
            .collect(),
            iam: Default::default(),
            sns: Default::default(),
            notes: Vec::new(),
        };
        let text = manifest_yaml(&Header::default(), "prod", &Settings::default(), &imported);
        let m = crate::manifest::load::valid_for_tests(&text);
        assert_eq!(m.buckets["b"].tags.as_ref(), Some(&tags), "{text}");
        assert_eq!(m.buckets["b"].name, "b-prod");
        assert!(text.starts_with("# Imported by `s3rec import`"), "{text}");
        assert!(!text.contains("force_destroy"), "{text}");
    }
}
