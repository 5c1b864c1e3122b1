//! Names AWS will accept: bucket naming rules, IAM and SNS names, regions, account IDs, endpoints, tags,
//! and physical names that two logical resources would share.

use std::collections::HashMap;

use super::{Ctx, On, ptr};
use crate::manifest::diagnostic::Problem;
use crate::manifest::schema::closest;

/// Regions S3 is offered in; a region outside this list is most likely a typo, so it is a warning with a
/// suggestion rather than an error (AWS adds regions more often than s3rec releases).
const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    let mut seen: HashMap<String, String> = HashMap::new();
    for (logical, bucket) in &m.buckets {
        let pointer = ptr(&[&"buckets", logical, &"name"]);
        for problem in bucket_name_problems(&bucket.name) {
            ctx.report(problem, &pointer, On::Value);
        }
        if let Some(first) = seen.get(&bucket.name) {
            ctx.report(
                Problem::error(
                    "duplicate-name",
                    format!("bucket name `{}` is already used by bucket `{first}`", bucket.name),
                )
                .with_hint("bucket names are global: each logical bucket needs its own physical name"),
                &pointer,
                On::Value,
            );
        } else {
            seen.insert(bucket.name.clone(), logical.clone());
        }
        if let Some(region) = &bucket.region {
            region_problem(ctx, region, &ptr(&[&"buckets", logical, &"region"]));
        }
        if let Some(tags) = &bucket.tags {
            tag_problems(ctx, tags, &ptr(&[&"buckets", logical, &"tags"]));
        }
    }
    if let Some(tags) = &m.defaults.tags {
        tag_problems(ctx, tags, "/defaults/tags");
    }
    if let Some(region) = &m.aws.region {
        region_problem(ctx, region, "/aws/region");
    }
    if let Some(region) = &m.defaults.region {
        region_problem(ctx, region, "/defaults/region");
    }
    if let Some(account) = &m.aws.account_id
        && !is_account_id(account)
    {
        ctx.report(
            Problem::error("account-id", format!("`{account}` is not an AWS account ID")).with_hint(
                "an account ID is exactly 12 digits; quote it so leading zeros survive: account_id: \"012345678901\"",
            ),
            "/aws/account_id",
            On::Value,
        );
    }
    if let Some(url) = &m.aws.endpoint_url
        && (!(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len())
    {
        ctx.report(
            Problem::error("endpoint-url", format!("`{url}` is not an http(s) URL"))
                .with_hint("write the scheme and host, e.g. http://127.0.0.1:5000 or https://minio.example.com"),
            "/aws/endpoint_url",
            On::Value,
        );
    }
    iam_names(ctx);
    topic_names(ctx);
    logical_names(ctx);
}

/// Logical names appear inside placeholders such as `${bucket.NAME.arn}` and in resource addresses
/// (`bucket.NAME.lifecycle`), where a `.` or a space would be ambiguous.
fn logical_names(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    let sections: [(&str, Vec<&String>); 7] = [
        ("/buckets", m.buckets.keys().collect()),
        ("/iam/users", m.iam.users.keys().collect()),
        ("/iam/roles", m.iam.roles.keys().collect()),
        ("/iam/policies", m.iam.policies.keys().collect()),
        ("/sns/topics", m.sns.topics.keys().collect()),
        ("/sync", m.sync.keys().collect()),
        ("/migrations", m.migrations.keys().collect()),
    ];
    for (section, names) in sections {
        for name in names {
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                ctx.report(
                    Problem::error(
                        "logical-name",
                        format!("logical name `{name}` may only use letters, digits, `-` and `_`"),
                    )
                    .with_hint("logical names appear in references and addresses such as `${bucket.NAME.arn}`"),
                    &format!("{section}/{}", crate::manifest::yaml::escape_pointer(name)),
                    On::Key,
                );
            }
        }
    }
}

/// What is wrong with a bucket name: one error that names every rule it breaks (general purpose
/// buckets), with a valid spelling to use when one is near; or, for a valid dotted name, a warning.
pub(crate) fn bucket_name_problems(name: &str) -> Vec<Problem> {
    if let Some(start) = name.find("${") {
        return vec![
            Problem::error(
                "bucket-name",
                format!("bucket name `{name}` contains the placeholder `{}`", &name[start..]),
            )
            .with_hint("only `${env}` may appear in a bucket name"),
        ];
    }
    let broken = broken_rules(name);
    if broken.is_empty() {
        if name.contains('.') {
            return vec![
                Problem::warning("bucket-name", format!("bucket name `{name}` contains dots")).with_hint(
                    "dotted names break virtual-hosted TLS (the certificate covers one label); prefer hyphens",
                ),
            ];
        }
        return Vec::new();
    }
    let (reasons, mut hints): (Vec<String>, Vec<&str>) = broken.into_iter().unzip();
    hints.dedup();
    let mut hint = hints.join("; ");
    if let Some(valid) = suggestion(name) {
        hint.push_str(&format!("; for example `{valid}`"));
    }
    vec![Problem::error("bucket-name", format!("bucket name `{name}` {}", reasons.join("; "))).with_hint(hint)]
}

/// Each S3 naming rule `name` breaks: what is wrong (to follow "bucket name `NAME`") and what to do.
fn broken_rules(name: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let len = name.chars().count();
    if !(3..=63).contains(&len) {
        out.push((
            format!("is {len} characters long; S3 allows 3 to 63"),
            "shorten the name (an `${env}` suffix counts too)",
        ));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        out.push(("has uppercase letters".to_string(), "bucket names are lowercase"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.' || c.is_ascii_uppercase()))
    {
        out.push((
            format!("contains `{bad}`"),
            "use only lowercase letters, digits, hyphens and dots",
        ));
    }
    let first_last_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if len > 0 && (!first_last_ok(name.chars().next()) || !first_last_ok(name.chars().last())) {
        out.push((
            "must begin and end with a letter or digit".to_string(),
            "remove the leading or trailing `-` or `.`",
        ));
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        out.push((
            "has adjacent periods or a period next to a hyphen".to_string(),
            "separate labels with a single `.`, or use hyphens instead",
        ));
    }
    if is_ip_shaped(name) {
        out.push((
            "is formatted as an IP address".to_string(),
            "S3 refuses IP-shaped names; use a descriptive name",
        ));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            out.push((
                format!("starts with the reserved prefix `{prefix}`"),
                "choose a name that does not start with xn--, sthree- or amzn-s3-demo-",
            ));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            out.push((
                format!("ends with the reserved suffix `{suffix}`"),
                "S3 reserves these suffixes for access points and directory buckets",
            ));
        }
    }
    out
}

/// A close valid spelling of `name`, for hints: lowercase, other characters turned into hyphens, a run
/// of separators with a dot made one dot, no separator at either end, at most 63
/// characters. `None` when that is still not a valid name (too short, IP-shaped, reserved), so a hint
/// never proposes another invalid name.
fn suggestion(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        let c = match c {
            'a'..='z' | '0'..='9' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        };
        // S3 refuses a dot next to a dot or a hyphen, so a dot swallows the separators around it.
        match c {
            '.' => {
                out.truncate(out.trim_end_matches('-').len());
                if !out.ends_with('.') {
                    out.push('.');
                }
            }
            '-' if out.ends_with('.') => {}
            _ => out.push(c),
        }
    }
    let valid: String = out.trim_matches(['-', '.']).chars().take(63).collect();
    let valid = valid.trim_end_matches(['-', '.']).to_string();
    (valid != name && broken_rules(&valid).is_empty()).then_some(valid)
}

fn is_ip_shaped(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn region_problem(ctx: &mut Ctx<'_>, region: &str, pointer: &str) {
    if KNOWN_REGIONS.contains(&region) {
        return;
    }
    let shaped = {
        let parts: Vec<&str> = region.split('-').collect();
        parts.len() >= 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
    };
    let known: Vec<String> = KNOWN_REGIONS.iter().map(|s| s.to_string()).collect();
    let suggestion = closest(region, &known);
    let hint = match &suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => "regions look like `eu-west-1`".to_string(),
    };
    let problem = if shaped && suggestion.is_none() {
        Problem::warning("region", format!("`{region}` is not a region s3rec knows"))
            .with_hint("fine if AWS opened it recently; otherwise check the spelling")
    } else {
        let base = if shaped {
            Problem::warning("region", format!("`{region}` is not a region s3rec knows"))
        } else {
            Problem::error("region", format!("`{region}` is not an AWS region name"))
        };
        base.with_hint(hint)
    };
    ctx.report(problem, pointer, On::Value);
}

fn tag_problems(ctx: &mut Ctx<'_>, tags: &indexmap::IndexMap<String, String>, pointer: &str) {
    if tags.len() > 50 {
        ctx.report(
            Problem::error("tags", format!("{} tags; S3 allows at most 50 per bucket", tags.len())),
            pointer,
            On::Key,
        );
    }
    for (k, v) in tags {
        let at = format!("{pointer}/{}", crate::manifest::yaml::escape_pointer(k));
        if k.to_ascii_lowercase().starts_with("aws:") {
            ctx.report(
                Problem::error("tags", format!("tag key `{k}` uses the reserved `aws:` prefix"))
                    .with_hint("AWS sets `aws:` tags itself; choose another key"),
                &at,
                On::Key,
            );
        }
        if k.is_empty() || k.chars().count() > 128 {
            ctx.report(Problem::error("tags", "tag keys are 1 to 128 characters"), &at, On::Key);
        }
        if v.chars().count() > 256 {
            ctx.report(
                Problem::error("tags", "tag values are at most 256 characters"),
                &at,
                On::Value,
            );
        }
    }
}

/// IAM names: users and roles up to 64 characters, policies up to 128, from `[A-Za-z0-9+=,.@_-]`; paths
/// begin and end with `/`. Physical names must be unique per kind.
fn iam_names(ctx: &mut Ctx<'_>) {
    let iam = &ctx.manifest.iam;
    /// Logical name, physical name if given, IAM path.
    type Entry<'a> = (&'a String, Option<&'a String>, &'a String);
    let kinds: [(&str, usize, Vec<Entry<'_>>); 3] = [
        (
            "users",
            64,
            iam.users.iter().map(|(k, u)| (k, u.name.as_ref(), &u.path)).collect(),
        ),
        (
            "roles",
            64,
            iam.roles.iter().map(|(k, r)| (k, r.name.as_ref(), &r.path)).collect(),
        ),
        (
            "policies",
            128,
            iam.policies
                .iter()
                .map(|(k, p)| (k, p.name.as_ref(), &p.path))
                .collect(),
        ),
    ];
    for (kind, max, entries) in kinds {
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for (logical, name, path) in entries {
            let physical = name.map_or(logical.as_str(), String::as_str);
            let pointer = match name {
                Some(_) => ptr(&[&"iam", &kind, logical, &"name"]),
                None => ptr(&[&"iam", &kind, logical]),
            };
            let on = if name.is_some() { On::Value } else { On::Key };
            let valid_chars = physical
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
            if physical.is_empty() || physical.chars().count() > max || !valid_chars {
                ctx.report(
                    Problem::error(
                        "iam-name",
                        format!("`{physical}` is not a valid IAM {} name", singular(kind)),
                    )
                    .with_hint(format!(
                        "use 1 to {max} characters from letters, digits and + = , . @ _ -"
                    )),
                    &pointer,
                    on,
                );
            }
            if let Some(first) = seen.insert(physical, logical) {
                ctx.report(
                    Problem::error(
                        "duplicate-name",
                        format!("IAM {} name `{physical}` is already used by `{first}`", singular(kind)),
                    )
                    .with_hint("each logical identity needs its own physical name"),
                    &pointer,
                    on,
                );
            }
            if !(path.starts_with('/') && path.ends_with('/')) || path.chars().count() > 512 {
                ctx.report(
                    Problem::error("iam-path", format!("IAM path `{path}` must begin and end with `/`"))
                        .with_hint("for example `/` or `/s3rec/`"),
                    &ptr(&[&"iam", &kind, logical, &"path"]),
                    On::Value,
                );
            }
        }
    }
}

fn singular(kind: &str) -> &'static str {
    match kind {
        "users" => "user",
        "roles" => "role",
        _ => "policy",
    }
}

/// SNS topic names: 1 to 256 characters from letters, digits, `-` and `_`.
fn topic_names(ctx: &mut Ctx<'_>) {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (logical, topic) in &ctx.manifest.sns.topics {
        let physical = topic.name.clone().unwrap_or_else(|| logical.clone());
        let (pointer, on) = match topic.name {
            Some(_) => (ptr(&[&"sns", &"topics", logical, &"name"]), On::Value),
            None => (ptr(&[&"sns", &"topics", logical]), On::Key),
        };
        if physical.is_empty()
            || physical.chars().count() > 256
            || !physical
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            ctx.report(
                Problem::error("topic-name", format!("`{physical}` is not a valid SNS topic name")).with_hint(
                    "use 1 to 256 characters from letters, digits, `-` and `_` (FIFO topics are not supported)",
                ),
                &pointer,
                on,
            );
        }
        if let Some(first) = seen.insert(physical.clone(), logical.clone()) {
            ctx.report(
                Problem::error(
                    "duplicate-name",
                    format!("topic name `{physical}` is already used by `{first}`"),
                ),
                &pointer,
                on,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::diagnostic::Severity;

    fn codes(name: &str) -> Vec<String> {
        bucket_name_problems(name).into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn valid_names_pass() {
        assert!(bucket_name_problems("app-logs-prod").is_empty());
        assert!(bucket_name_problems("abc").is_empty());
    }

    #[test]
    fn hints_propose_only_valid_names() {
        assert_eq!(
            suggestion("Acme_Archive..Bucket").as_deref(),
            Some("acme-archive.bucket")
        );
        assert_eq!(suggestion("App_Logs-bad").as_deref(), Some("app-logs-bad"));
        assert_eq!(suggestion("-Logs_-.x-").as_deref(), Some("logs.x"));
        assert_eq!(suggestion(&"A".repeat(70)).as_deref(), Some("a".repeat(63).as_str()));
        assert_eq!(suggestion("A_"), None, "too short");
        assert_eq!(suggestion("10.0.0.1"), None, "still an IP address");
        assert_eq!(suggestion("XN--abc"), None, "still reserved");
        assert_eq!(suggestion("valid-name"), None, "nothing to propose");
    }

    #[test]
    fn one_bad_name_is_one_problem() {
        let problems = bucket_name_problems("Acme_Archive..Bucket");
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].message,
            "bucket name `Acme_Archive..Bucket` has uppercase letters; contains `_`; has adjacent periods or a \
             period next to a hyphen"
        );
    }

    #[test]
    fn each_rule_is_reported() {
        assert!(codes("ab")[0].contains("3 to 63"));
        assert!(codes(&"a".repeat(64))[0].contains("3 to 63"));
        assert!(codes("My-Bucket")[0].contains("uppercase"));
        assert!(codes("a_b-c")[0].contains("contains `_`"));
        assert!(codes("-abc")[0].contains("begin and end"));
        assert!(codes("a..b")[0].contains("adjacent periods"));
        assert!(codes("192.168.1.10")[0].contains("IP address"));
        assert!(codes("xn--abc")[0].contains("reserved prefix"));
        assert!(codes("data-s3alias")[0].contains("reserved suffix"));
        let dotted = bucket_name_problems("a.b.c");
        assert_eq!(dotted[0].severity, Severity::Warning);
    }
}
