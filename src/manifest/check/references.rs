//! Cross-references by logical name: every bucket, topic, role, user and policy a manifest names must be
//! defined in it, and the pairs that AWS constrains (replication, logging, notifications) must fit.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::{Ctx, On, ptr, versioning_enabled};
use crate::manifest::diagnostic::Problem;
use crate::manifest::schema::closest;
use crate::manifest::types::{Grant, IdentityRef, SseAlgorithm};

/// Event types S3 can publish to SNS.
const EVENTS: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
];

/// The kinds of things a logical name can refer to.
#[derive(Clone, Copy)]
enum Target {
    Bucket,
    Topic,
    Role,
    User,
    Policy,
}

impl Target {
    fn noun(self) -> &'static str {
        match self {
            Target::Bucket => "bucket",
            Target::Topic => "topic",
            Target::Role => "role",
            Target::User => "user",
            Target::Policy => "policy",
        }
    }

    fn section(self) -> &'static str {
        match self {
            Target::Bucket => "buckets",
            Target::Topic => "sns.topics",
            Target::Role => "iam.roles",
            Target::User => "iam.users",
            Target::Policy => "iam.policies",
        }
    }
}

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    for (logical, bucket) in &m.buckets {
        let eff = ctx.effective(bucket);
        if let Some(logging) = &bucket.logging {
            let at = ptr(&[&"buckets", logical, &"logging", &"target_bucket"]);
            if exists(ctx, Target::Bucket, &logging.target_bucket, &at) {
                let target = ctx.effective(&m.buckets[&logging.target_bucket]);
                if target.region != eff.region {
                    ctx.report(
                        Problem::error(
                            "logging-region",
                            format!(
                                "log bucket `{}` is in {} but `{logical}` is in {}",
                                logging.target_bucket,
                                target.region.as_deref().unwrap_or("the default region"),
                                eff.region.as_deref().unwrap_or("the default region"),
                            ),
                        )
                        .with_hint("S3 delivers access logs only to a bucket in the same region"),
                        &at,
                        On::Value,
                    );
                }
                if target
                    .encryption
                    .as_ref()
                    .is_some_and(|e| e.algorithm == SseAlgorithm::AwsKms)
                {
                    ctx.report(
                        Problem::error(
                            "logging-encryption",
                            format!("log bucket `{}` uses SSE-KMS", logging.target_bucket),
                        )
                        .with_hint("S3 delivers access logs only to buckets with SSE-S3 (AES256) default encryption"),
                        &at,
                        On::Value,
                    );
                }
                if &logging.target_bucket == logical {
                    ctx.report(
                        Problem::warning("logging-self", format!("`{logical}` logs into itself"))
                            .with_hint("every log delivery writes a new object, which is logged in turn; use a separate log bucket"),
                        &at,
                        On::Value,
                    );
                }
            }
        }
        if let Some(notifications) = &bucket.notifications {
            let mut ids: HashMap<String, usize> = HashMap::new();
            for (i, n) in notifications.iter().enumerate() {
                let at = ptr(&[&"buckets", logical, &"notifications", &i]);
                if exists(ctx, Target::Topic, &n.topic, &format!("{at}/topic")) && eff.region != m.aws.region {
                    ctx.report(
                        Problem::error(
                            "notification-region",
                            format!(
                                "bucket `{logical}` is in {} but topic `{}` is in {}",
                                eff.region.as_deref().unwrap_or("the default region"),
                                n.topic,
                                m.aws.region.as_deref().unwrap_or("the default region")
                            ),
                        )
                        .with_hint(
                            "S3 publishes only to SNS topics in the bucket's own region; topics live in `aws.region`",
                        ),
                        &format!("{at}/topic"),
                        On::Value,
                    );
                }
                if n.events.is_empty() {
                    ctx.report(
                        Problem::error("notification", "a notification needs at least one event"),
                        &format!("{at}/events"),
                        On::Value,
                    );
                }
                for (j, event) in n.events.iter().enumerate() {
                    if !EVENTS.contains(&event.as_str()) {
                        let known: Vec<String> = EVENTS.iter().map(|s| s.to_string()).collect();
                        let hint = closest(event, &known).map_or_else(
                            || "e.g. `s3:ObjectCreated:*` or `s3:ObjectRemoved:*`".to_string(),
                            |s| format!("did you mean `{s}`?"),
                        );
                        ctx.report(
                            Problem::error("notification-event", format!("`{event}` is not an S3 event type"))
                                .with_hint(hint),
                            &format!("{at}/events/{j}"),
                            On::Value,
                        );
                    }
                }
                if let Some(id) = &n.id
                    && let Some(first) = ids.insert(id.clone(), i)
                {
                    ctx.report(
                        Problem::error(
                            "notification",
                            format!("notification ID `{id}` is already used by notification {first}"),
                        ),
                        &format!("{at}/id"),
                        On::Value,
                    );
                }
            }
            overlapping_notifications(ctx, logical, notifications);
        }
        if let Some(replication) = &bucket.replication {
            let at = ptr(&[&"buckets", logical, &"replication"]);
            if exists(ctx, Target::Role, &replication.role, &format!("{at}/role")) {
                let role = &m.iam.roles[&replication.role];
                if !role.trust.services.iter().any(|s| s == "s3.amazonaws.com") {
                    ctx.report(
                        Problem::error(
                            "replication-role",
                            format!("role `{}` does not trust s3.amazonaws.com", replication.role),
                        )
                        .with_hint("add `s3.amazonaws.com` to the role's trust.services so S3 can assume it"),
                        &format!("{at}/role"),
                        On::Value,
                    );
                }
            }
            if !versioning_enabled(&eff) {
                ctx.report(
                    Problem::error("replication-versioning", format!("`{logical}` replicates but its versioning is not enabled"))
                        .with_hint("set `versioning: enabled` on the bucket (or in defaults): S3 replicates only versioned buckets"),
                    &at,
                    On::Key,
                );
            }
            if replication.rules.is_empty() {
                ctx.report(
                    Problem::error("replication", "replication needs at least one rule"),
                    &format!("{at}/rules"),
                    On::Value,
                );
            }
            let mut ids: HashMap<&str, usize> = HashMap::new();
            let mut priorities: HashMap<u32, usize> = HashMap::new();
            for (i, rule) in replication.rules.iter().enumerate() {
                let rule_at = format!("{at}/rules/{i}");
                if let Some(first) = ids.insert(rule.id.as_str(), i) {
                    ctx.report(
                        Problem::error(
                            "duplicate-rule-id",
                            format!("replication rule ID `{}` is already used by rule {first}", rule.id),
                        ),
                        &format!("{rule_at}/id"),
                        On::Value,
                    );
                }
                if let Some(first) = priorities.insert(rule.priority, i) {
                    ctx.report(
                        Problem::error(
                            "replication",
                            format!("priority {} is already used by rule {first}", rule.priority),
                        )
                        .with_hint("S3 needs a distinct priority for each rule"),
                        &format!("{rule_at}/priority"),
                        On::Value,
                    );
                }
                let dest_at = format!("{rule_at}/destination/bucket");
                let dest = &rule.destination.bucket;
                if exists(ctx, Target::Bucket, dest, &dest_at) {
                    if dest == logical {
                        ctx.report(
                            Problem::error("replication", "a bucket cannot replicate to itself"),
                            &dest_at,
                            On::Value,
                        );
                    } else if !versioning_enabled(&ctx.effective(&m.buckets[dest])) {
                        ctx.report(
                            Problem::error(
                                "replication-versioning",
                                format!("destination `{dest}` does not have versioning enabled"),
                            )
                            .with_hint(format!("set `versioning: enabled` on bucket `{dest}`")),
                            &dest_at,
                            On::Value,
                        );
                    }
                }
            }
        }
        if let Some(policy) = &bucket.policy {
            for (i, identity) in policy.restrict_to.iter().enumerate() {
                identity_exists(
                    ctx,
                    identity,
                    &ptr(&[&"buckets", logical, &"policy", &"restrict_to", &i]),
                );
            }
        }
    }

    for (logical, user) in &m.iam.users {
        let at = ptr(&[&"iam", &"users", logical]);
        attached_policies(ctx, &user.policies, &at);
        grants(ctx, &user.grants, &at);
    }
    for (logical, role) in &m.iam.roles {
        let at = ptr(&[&"iam", &"roles", logical]);
        attached_policies(ctx, &role.policies, &at);
        grants(ctx, &role.grants, &at);
        let trust = &role.trust;
        if trust.services.is_empty() && trust.accounts.is_empty() && trust.identities.is_empty() {
            ctx.report(
                Problem::error("role-trust", format!("role `{logical}` trusts nobody"))
                    .with_hint("list trust.services (e.g. s3.amazonaws.com), trust.accounts or trust.identities"),
                &format!("{at}/trust"),
                On::Key,
            );
        }
        for (i, service) in trust.services.iter().enumerate() {
            if !service.ends_with(".amazonaws.com") {
                ctx.report(
                    Problem::error("role-trust", format!("`{service}` is not a service principal"))
                        .with_hint("service principals look like `s3.amazonaws.com`"),
                    &format!("{at}/trust/services/{i}"),
                    On::Value,
                );
            }
        }
        for (i, account) in trust.accounts.iter().enumerate() {
            if !super::names::is_account_id(account) {
                ctx.report(
                    Problem::error("account-id", format!("`{account}` is not a 12-digit account ID")),
                    &format!("{at}/trust/accounts/{i}"),
                    On::Value,
                );
            }
        }
        for (i, identity) in trust.identities.iter().enumerate() {
            identity_exists(ctx, identity, &format!("{at}/trust/identities/{i}"));
        }
        if let Some(d) = role.max_session_duration
            && !(3600..=43200).contains(&d)
        {
            ctx.report(
                Problem::error(
                    "role",
                    format!("max_session_duration {d} is outside 3600–43200 seconds"),
                ),
                &format!("{at}/max_session_duration"),
                On::Value,
            );
        }
    }
    for (logical, policy) in &m.iam.policies {
        grants(ctx, &policy.grants, &ptr(&[&"iam", &"policies", logical]));
    }
    for (name, mapping) in &m.sync {
        let at = ptr(&[&"sync", name]);
        exists(ctx, Target::Bucket, &mapping.bucket, &format!("{at}/bucket"));
        for (i, route) in mapping.routes.iter().enumerate() {
            exists(ctx, Target::Bucket, &route.bucket, &format!("{at}/routes/{i}/bucket"));
        }
    }
    for (name, migration) in &m.migrations {
        exists(
            ctx,
            Target::Bucket,
            &migration.bucket,
            &ptr(&[&"migrations", name, &"bucket"]),
        );
    }
    if let Some(report) = &m.report {
        exists(ctx, Target::Topic, &report.topic, "/report/topic");
        if report.on.is_empty() {
            ctx.report(
                Problem::warning("report", "`report.on` is empty, so no run will report")
                    .with_hint("list apply, sync and/or migrate, or remove `on` to report every run"),
                "/report/on",
                On::Value,
            );
        }
    }
    placeholders(ctx, ctx.document, String::new());
}

/// Up to how many defined names a dangling reference is compared with for "did you mean" (and listed).
/// Beyond that the comparison would cost every dangling reference a pass over every name, which is
/// quadratic in a large manifest.
const SUGGEST_AMONG: usize = 256;

/// Reports a dangling reference (with the closest defined name) and returns whether the name exists.
fn exists(ctx: &mut Ctx<'_>, target: Target, name: &str, at: &str) -> bool {
    let m = ctx.manifest;
    let (found, count) = match target {
        Target::Bucket => (m.buckets.contains_key(name), m.buckets.len()),
        Target::Topic => (m.sns.topics.contains_key(name), m.sns.topics.len()),
        Target::Role => (m.iam.roles.contains_key(name), m.iam.roles.len()),
        Target::User => (m.iam.users.contains_key(name), m.iam.users.len()),
        Target::Policy => (m.iam.policies.contains_key(name), m.iam.policies.len()),
    };
    if found {
        return true;
    }
    let hint = if count > SUGGEST_AMONG {
        format!("references use logical names under `{}`", target.section())
    } else {
        let defined: Vec<String> = match target {
            Target::Bucket => m.buckets.keys().cloned().collect(),
            Target::Topic => m.sns.topics.keys().cloned().collect(),
            Target::Role => m.iam.roles.keys().cloned().collect(),
            Target::User => m.iam.users.keys().cloned().collect(),
            Target::Policy => m.iam.policies.keys().cloned().collect(),
        };
        match closest(name, &defined) {
            Some(s) => format!(
                "did you mean `{s}`? references use logical names under `{}`",
                target.section()
            ),
            None if defined.is_empty() => format!("define it under `{}` first", target.section()),
            None => format!("defined {}s: {}", target.noun(), defined.join(", ")),
        }
    };
    let arn_hint = if name.starts_with("arn:") {
        format!(
            "refer to the {} by its logical name under `{}`, not by ARN",
            target.noun(),
            target.section()
        )
    } else {
        hint
    };
    ctx.report(
        Problem::error(
            "undefined-reference",
            format!("{} `{name}` is not defined in this manifest", target.noun()),
        )
        .with_hint(arn_hint),
        at,
        On::Value,
    );
    false
}

fn identity_exists(ctx: &mut Ctx<'_>, identity: &IdentityRef, at: &str) {
    match identity {
        IdentityRef::User(name) => exists(ctx, Target::User, name, &format!("{at}/user")),
        IdentityRef::Role(name) => exists(ctx, Target::Role, name, &format!("{at}/role")),
    };
}

fn attached_policies(ctx: &mut Ctx<'_>, policies: &[String], at: &str) {
    for (i, policy) in policies.iter().enumerate() {
        exists(ctx, Target::Policy, policy, &format!("{at}/policies/{i}"));
    }
}

fn grants(ctx: &mut Ctx<'_>, grants: &[Grant], at: &str) {
    for (i, grant) in grants.iter().enumerate() {
        let here = format!("{at}/grants/{i}");
        exists(ctx, Target::Bucket, &grant.bucket, &format!("{here}/bucket"));
        if grant.access.is_empty() {
            ctx.report(
                Problem::error("grant", "a grant needs at least one access level")
                    .with_hint("e.g. access: [read, list]"),
                &format!("{here}/access"),
                On::Value,
            );
        }
        if let Some(prefix) = &grant.prefix
            && (prefix.contains('*') || prefix.contains('?'))
        {
            ctx.report(
                Problem::error("grant", format!("grant prefix `{prefix}` contains a wildcard"))
                    .with_hint("write the literal key prefix, e.g. `training-logs/`; s3rec adds the `*`"),
                &format!("{here}/prefix"),
                On::Value,
            );
        }
    }
}

/// Two notification configurations whose events and key filters overlap are refused by S3
/// ("Configurations overlap"), so catch them here.
fn overlapping_notifications(ctx: &mut Ctx<'_>, logical: &str, notifications: &[crate::manifest::types::Notification]) {
    let covers = |a: &str, b: &str| {
        a == b
            || a.strip_suffix('*').is_some_and(|p| b.starts_with(p))
            || b.strip_suffix('*').is_some_and(|p| a.starts_with(p))
    };
    let prefix_overlap = |a: Option<&str>, b: Option<&str>| {
        let (a, b) = (a.unwrap_or(""), b.unwrap_or(""));
        a.starts_with(b) || b.starts_with(a)
    };
    let suffix_overlap = |a: Option<&str>, b: Option<&str>| {
        let (a, b) = (a.unwrap_or(""), b.unwrap_or(""));
        a.ends_with(b) || b.ends_with(a)
    };
    for (i, a) in notifications.iter().enumerate() {
        for (j, b) in notifications.iter().enumerate().skip(i + 1) {
            let events = a.events.iter().any(|x| b.events.iter().any(|y| covers(x, y)));
            let fa = a.filter.clone().unwrap_or_default();
            let fb = b.filter.clone().unwrap_or_default();
            if events
                && prefix_overlap(fa.prefix.as_deref(), fb.prefix.as_deref())
                && suffix_overlap(fa.suffix.as_deref(), fb.suffix.as_deref())
            {
                ctx.report(
                    Problem::error("notification-overlap", format!("notification {j} overlaps notification {i} (same events, overlapping filters)"))
                        .with_hint("S3 refuses overlapping configurations: merge them into one, or make their prefixes or suffixes disjoint"),
                    &ptr(&[&"buckets", &logical, &"notifications", &j]),
                    On::Value,
                );
            }
        }
    }
}

/// Every `${...}` left after `${env}` is a plan-time reference: check its form and its target.
fn placeholders(ctx: &mut Ctx<'_>, node: &Json, pointer: String) {
    match node {
        Json::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                let after = &rest[start + 2..];
                let Some(end) = after.find('}') else {
                    ctx.report(
                        Problem::error("placeholder", "unterminated `${` placeholder").with_hint("close it with `}`"),
                        &pointer,
                        On::Value,
                    );
                    break;
                };
                placeholder(ctx, &after[..end], &pointer);
                rest = &after[end + 1..];
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                placeholders(ctx, item, format!("{pointer}/{i}"));
            }
        }
        Json::Object(map) => {
            for (k, v) in map {
                placeholders(
                    ctx,
                    v,
                    format!("{pointer}/{}", crate::manifest::yaml::escape_pointer(k)),
                );
            }
        }
        _ => {}
    }
}

fn placeholder(ctx: &mut Ctx<'_>, inner: &str, at: &str) {
    // IAM policy variables (`${aws:username}`, `${s3:prefix}`) and the escapes `${*}`, `${?}`, `${$}`
    // belong to AWS, which resolves them at request time.
    if inner.contains(':') || matches!(inner, "*" | "?" | "$") {
        return;
    }
    let parts: Vec<&str> = inner.split('.').collect();
    let target = match parts.as_slice() {
        ["account_id"] | ["region"] => return,
        ["bucket", _] | ["bucket", _, "arn"] => Some(Target::Bucket),
        ["user", _, "arn"] => Some(Target::User),
        ["role", _, "arn"] => Some(Target::Role),
        ["policy", _, "arn"] => Some(Target::Policy),
        ["topic", _, "arn"] => Some(Target::Topic),
        _ => None,
    };
    match target {
        Some(t) => {
            exists(ctx, t, parts[1], at);
        }
        None => {
            let hint = if inner.eq_ignore_ascii_case("env") {
                "did you mean `${env}`? placeholders are lowercase".to_string()
            } else {
                "known placeholders: ${env}, ${account_id}, ${region}, ${bucket.NAME}, ${bucket.NAME.arn}, ${user.NAME.arn}, ${role.NAME.arn}, ${policy.NAME.arn}, ${topic.NAME.arn}".to_string()
            };
            ctx.report(
                Problem::error("placeholder", format!("unknown placeholder `${{{inner}}}`")).with_hint(hint),
                at,
                On::Value,
            );
        }
    }
}
