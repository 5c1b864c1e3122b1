//! `import --with-related`: the IAM users, roles and customer-managed policies and the SNS topics that
//! imported buckets name (notification topics, replication roles, principals in bucket policies), and
//! those that these name in turn (policies attached to a user or role, identities a role trusts), as
//! `iam.*` and `sns.topics` entries.
//!
//! Pure: the command reads what [`named_by_buckets`] and [`named_by_identity`] ask for, through
//! `aws::identity`, and hands the answers back as [`LiveIdentity`] values. An identity is written only
//! when the manifest can hold it so that the plan changes nothing it cannot show: an attachment the
//! manifest cannot name (an AWS-managed policy) would be detached by the first apply, so a user or role
//! with one is not imported, and neither is anything that needs it.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::naming::Names;
use crate::manifest::types::{
    IamPolicy, IamRole, IamUser, IdentityRef, Statement, Subscription, SubscriptionProtocol, Topic, Trust,
};
use crate::model::ObservedBucket;
use crate::model::identity::{
    DEFAULT_MAX_SESSION_DURATION, IdentityDoc, IdentityKind, ObservedIdentity, PartKind, protocol_name,
};

/// What to read for one ARN: the resource's kind, physical name and (for topics) region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub kind: IdentityKind,
    pub name: String,
    /// IAM path (`/` for topics).
    pub path: String,
    pub arn: String,
    /// The topic's region; the default region for IAM, which is global.
    pub region: String,
}

/// One related resource as read: `observed` is `None` when it does not exist.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveIdentity {
    pub wanted: Wanted,
    pub observed: Option<ObservedIdentity>,
}

/// What `--with-related` found, by ARN: the resources read, and the ARNs that were not read, with why
/// the manifest cannot hold them (another account, an AWS-managed policy, a queue).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Related {
    pub live: BTreeMap<String, LiveIdentity>,
    pub unreadable: BTreeMap<String, String>,
}

/// The ARN of an IAM user, role or managed policy, or an SNS topic, of `account`, as something to read;
/// otherwise why the manifest cannot hold it.
pub fn parse_arn(arn: &str, account: &str, default_region: &str) -> Result<Wanted, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, owner, resource] = parts.as_slice() else {
        return Err(format!("`{arn}` is not an ARN"));
    };
    if *prefix != "arn" || *partition != "aws" {
        return Err(format!("`{arn}` is not an ARN of the `aws` partition"));
    }
    if *owner == "aws" && *service == "iam" {
        return Err(format!(
            "{arn} is an AWS-managed policy, and the manifest attaches only its own `iam.policies`"
        ));
    }
    if *owner != account {
        return Err(format!(
            "{arn} belongs to account {owner}, and the manifest holds only this account's ({account}) resources"
        ));
    }
    match *service {
        "iam" => {
            let (kind, rest) = if let Some(rest) = resource.strip_prefix("user") {
                (IdentityKind::IamUser, rest)
            } else if let Some(rest) = resource.strip_prefix("role") {
                (IdentityKind::IamRole, rest)
            } else if let Some(rest) = resource.strip_prefix("policy") {
                (IdentityKind::IamPolicy, rest)
            } else {
                return Err(format!("{arn} is not an IAM user, role or policy"));
            };
            let Some(slash) = rest.rfind('/').filter(|_| rest.starts_with('/')) else {
                return Err(format!("{arn} is not an IAM user, role or policy"));
            };
            let (path, name) = (&rest[..=slash], &rest[slash + 1..]);
            if name.is_empty() {
                return Err(format!("{arn} names no IAM resource"));
            }
            Ok(Wanted {
                kind,
                name: name.to_string(),
                path: path.to_string(),
                arn: arn.to_string(),
                region: default_region.to_string(),
            })
        }
        "sns" if !resource.is_empty() && !resource.contains(':') => Ok(Wanted {
            kind: IdentityKind::SnsTopic,
            name: resource.to_string(),
            path: "/".to_string(),
            arn: arn.to_string(),
            region: region.to_string(),
        }),
        "sqs" => Err(format!("{arn} is an SQS queue, and the manifest has no queues")),
        "lambda" => Err(format!("{arn} is a Lambda function, and the manifest has no functions")),
        other => Err(format!(
            "{arn} is an `{other}` resource, which the manifest cannot hold"
        )),
    }
}

/// The ARNs imported buckets name: their notifications' topics, their replication roles, and the IAM
/// users and roles their policies mention (as principals or in conditions).
pub fn named_by_buckets(buckets: &[ObservedBucket]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for b in buckets {
        for doc in b.docs.values() {
            out.extend(doc.named_identities());
        }
    }
    out
}

/// The ARNs a user or role names: its attached policies, and the users and roles its trust policy lets
/// assume it.
pub fn named_by_identity(observed: &ObservedIdentity) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(IdentityDoc::Attachments(arns)) = observed.parts.get(&PartKind::Attachments) {
        out.extend(arns.iter().cloned());
    }
    if let IdentityDoc::Role(r) = &observed.main {
        iam_principal_arns(&r.trust, &mut out);
    }
    out
}

/// Every string in `value` that is an IAM user or role ARN.
pub(crate) fn iam_principal_arns(value: &Json, out: &mut BTreeSet<String>) {
    match value {
        Json::String(s) if s.starts_with("arn:aws:iam::") && (s.contains(":user/") || s.contains(":role/")) => {
            out.insert(s.clone());
        }
        Json::Array(items) => items.iter().for_each(|v| iam_principal_arns(v, out)),
        Json::Object(map) => map.values().for_each(|v| iam_principal_arns(v, out)),
        _ => {}
    }
}

/// The related resources the manifest can hold, with their logical names and manifest entries, and
/// why the others cannot be held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// ARN → logical name, of every resource that is written.
    pub logical: BTreeMap<String, (IdentityKind, String)>,
    /// ARN → why it is not written.
    pub refused: BTreeMap<String, String>,
}

impl Resolved {
    /// The logical name of the written resource of `kind` with this ARN.
    pub fn logical(&self, kind: IdentityKind, arn: &str) -> Option<&str> {
        self.logical
            .get(arn)
            .filter(|(k, _)| *k == kind)
            .map(|(_, l)| l.as_str())
    }

    /// Why the resource with this ARN is not written, when it was asked for.
    pub fn why_not(&self, arn: &str) -> Option<&str> {
        self.refused.get(arn).map(String::as_str)
    }

    /// `${user.NAME.arn}` (and the like) for the ARN of a written resource.
    pub fn placeholder(&self, arn: &str) -> Option<String> {
        let (kind, logical) = self.logical.get(arn)?;
        let noun = match kind {
            IdentityKind::IamUser => "user",
            IdentityKind::IamRole => "role",
            IdentityKind::IamPolicy => "policy",
            IdentityKind::SnsTopic => "topic",
            // No policy names the account's settings: they are never related resources.
            IdentityKind::Account => return None,
        };
        Some(format!("${{{noun}.{logical}.arn}}"))
    }
}

/// Decides which related resources are written and names them. A resource that needs another one the
/// manifest cannot hold (a role whose attached policy is AWS-managed) is refused too, until nothing
/// changes; names are given afterwards, so a refusal never renumbers the others.
pub fn resolve(related: &Related, environment: &str, strip_prefix: Option<&str>, default_region: &str) -> Resolved {
    let mut refused: BTreeMap<String, String> = related.unreadable.clone();
    for (arn, live) in &related.live {
        if live.observed.is_none() {
            refused.insert(arn.clone(), format!("{arn} does not exist"));
        }
    }
    loop {
        let mut changed = false;
        for (arn, live) in &related.live {
            if refused.contains_key(arn) {
                continue;
            }
            let Some(observed) = &live.observed else { continue };
            if let Err(reason) = holdable(&live.wanted, observed, default_region, &|a: &str| {
                related.live.contains_key(a) && !refused.contains_key(a)
            }) {
                refused.insert(arn.clone(), reason);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut logical = BTreeMap::new();
    for kind in [
        IdentityKind::IamUser,
        IdentityKind::IamRole,
        IdentityKind::IamPolicy,
        IdentityKind::SnsTopic,
    ] {
        let of_kind: Vec<&LiveIdentity> = related
            .live
            .values()
            .filter(|l| l.wanted.kind == kind && !refused.contains_key(&l.wanted.arn))
            .collect();
        // Two IAM resources of one kind never share a name, but two topics in different regions could;
        // only topics of the default region are written, so names are unique per kind.
        let physical: Vec<String> = of_kind.iter().map(|l| l.wanted.name.clone()).collect();
        let names = Names::new(&physical, environment, strip_prefix);
        for l in of_kind {
            if let Some(n) = names.get(&l.wanted.name) {
                logical.insert(l.wanted.arn.clone(), (kind, n.logical.clone()));
            }
        }
    }
    Resolved { logical, refused }
}

/// Whether the manifest can hold `observed` as it is; `written` says whether another ARN is written.
fn holdable(
    wanted: &Wanted,
    observed: &ObservedIdentity,
    default_region: &str,
    written: &dyn Fn(&str) -> bool,
) -> Result<(), String> {
    let needs = |arns: &BTreeSet<String>| -> Result<(), String> {
        match arns.iter().find(|a| !written(a)) {
            Some(a) => Err(format!(
                "it needs {a}, which this import cannot write, and the first apply would otherwise change it"
            )),
            None => Ok(()),
        }
    };
    if let Some(IdentityDoc::InlinePolicy(Some(_))) = observed.parts.get(&PartKind::InlinePolicy) {
        return Err(format!(
            "it has the inline policy `{}`, which the manifest writes only from `grants`",
            crate::model::identity::GRANTS_POLICY_NAME
        ));
    }
    match &observed.main {
        IdentityDoc::User(u) => {
            tags_holdable(&u.tags)?;
            needs(&attachments(observed))
        }
        IdentityDoc::Role(r) => {
            tags_holdable(&r.tags)?;
            needs(&attachments(observed))?;
            let trust = trust_of(&r.trust)?;
            needs(&trust.iter_identity_arns().collect())
        }
        IdentityDoc::Policy(p) => statements_holdable(&p.document).map(|_| ()),
        IdentityDoc::Topic(t) => {
            tags_holdable(&t.tags)?;
            if wanted.region != default_region {
                return Err(format!(
                    "it is in region {}, and the manifest creates topics in aws.region ({default_region})",
                    wanted.region
                ));
            }
            if wanted.name.ends_with(".fifo") {
                return Err("it is a FIFO topic, which the manifest does not support".to_string());
            }
            for s in subscriptions(observed) {
                protocol(&s.protocol)?;
            }
            Ok(())
        }
        IdentityDoc::InlinePolicy(_)
        | IdentityDoc::Attachments(_)
        | IdentityDoc::AccessKey(_)
        | IdentityDoc::TopicPolicy(_)
        | IdentityDoc::Subscriptions(_) => Err("a part was read where a resource was expected".to_string()),
        IdentityDoc::AccountPublicAccessBlock(_) => Err("account settings are not related resources".to_string()),
    }
}

fn attachments(observed: &ObservedIdentity) -> BTreeSet<String> {
    match observed.parts.get(&PartKind::Attachments) {
        Some(IdentityDoc::Attachments(arns)) => arns.clone(),
        _ => BTreeSet::new(),
    }
}

fn subscriptions(observed: &ObservedIdentity) -> Vec<crate::model::identity::SubscriptionDoc> {
    match observed.parts.get(&PartKind::Subscriptions) {
        Some(IdentityDoc::Subscriptions(s)) => s.iter().cloned().collect(),
        _ => Vec::new(),
    }
}

fn protocol(name: &str) -> Result<SubscriptionProtocol, String> {
    [
        SubscriptionProtocol::Email,
        SubscriptionProtocol::EmailJson,
        SubscriptionProtocol::Https,
        SubscriptionProtocol::Http,
        SubscriptionProtocol::Sqs,
        SubscriptionProtocol::Lambda,
        SubscriptionProtocol::Sms,
    ]
    .into_iter()
    .find(|p| protocol_name(*p) == name)
    .ok_or_else(|| {
        format!("it has a `{name}` subscription, which the manifest cannot write (the first apply would remove it)")
    })
}

fn tags_holdable(tags: &BTreeMap<String, String>) -> Result<(), String> {
    if let Some(k) = tags.keys().find(|k| k.to_ascii_lowercase().starts_with("aws:")) {
        return Err(format!("tag `{k}` has the reserved `aws:` prefix"));
    }
    match tags.iter().find(|(k, v)| k.contains("${env}") || v.contains("${env}")) {
        Some((k, _)) => Err(format!(
            "tag `{k}` contains `${{env}}`, which the manifest would replace by the environment name"
        )),
        None => Ok(()),
    }
}

/// The statements of a managed policy document, checked against the manifest's statement shape.
fn statements_holdable(document: &Json) -> Result<Vec<Json>, String> {
    let Json::Object(top) = document else {
        return Err("the policy document is not a JSON object".to_string());
    };
    if let Some(other) = top.keys().find(|k| !matches!(k.as_str(), "Version" | "Statement")) {
        return Err(format!(
            "its document has a top-level `{other}`, which the manifest cannot write"
        ));
    }
    if top.get("Version").and_then(Json::as_str) != Some("2012-10-17") {
        return Err("its document's Version is not 2012-10-17, which the manifest always writes".to_string());
    }
    let statements = top
        .get("Statement")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    for s in &statements {
        serde_json::from_value::<Statement>(s.clone())
            .map_err(|e| format!("a statement does not fit the manifest's statement shape ({e})"))?;
        if s.get("Principal").is_some() || s.get("NotPrincipal").is_some() {
            return Err("a statement names a principal, which an identity policy cannot".to_string());
        }
    }
    Ok(statements)
}

/// A trust policy in the manifest's terms: services, accounts and identity ARNs.
#[derive(Debug, Default)]
struct TrustParts {
    services: Vec<String>,
    accounts: Vec<String>,
    identities: Vec<String>,
}

impl TrustParts {
    fn iter_identity_arns(&self) -> impl Iterator<Item = String> + '_ {
        self.identities.iter().cloned()
    }
}

/// Reads a trust policy whose every statement allows `sts:AssumeRole` to services and AWS principals,
/// without conditions: the only trust the manifest can write.
fn trust_of(trust: &Json) -> Result<TrustParts, String> {
    let refuse = |why: &str| {
        Err(format!(
            "its trust policy {why}, which the manifest's `trust` cannot say"
        ))
    };
    let Some(top) = trust.as_object() else {
        return refuse("is not a JSON object");
    };
    if top.keys().any(|k| !matches!(k.as_str(), "Version" | "Statement")) {
        return refuse("has top-level keys besides Version and Statement");
    }
    let mut out = TrustParts::default();
    for s in top.get("Statement").and_then(Json::as_array).into_iter().flatten() {
        let Some(map) = s.as_object() else {
            return refuse("has a statement that is not an object");
        };
        if map
            .keys()
            .any(|k| !matches!(k.as_str(), "Sid" | "Effect" | "Principal" | "Action"))
        {
            return refuse("has a statement with a condition or other keys");
        }
        if map.get("Effect").and_then(Json::as_str) != Some("Allow")
            || map.get("Action").and_then(Json::as_str) != Some("sts:AssumeRole")
        {
            return refuse("has a statement other than `Allow sts:AssumeRole`");
        }
        let Some(principal) = map.get("Principal").and_then(Json::as_object) else {
            return refuse("has a statement without a principal mapping");
        };
        for (kind, values) in principal {
            let values: Vec<String> = match values {
                Json::String(s) => vec![s.clone()],
                Json::Array(items) => items.iter().filter_map(Json::as_str).map(str::to_string).collect(),
                _ => return refuse("has a principal that is not a string or list"),
            };
            for v in values {
                match kind.as_str() {
                    "Service" => out.services.push(v),
                    "AWS" => {
                        let account = v
                            .strip_prefix("arn:aws:iam::")
                            .and_then(|r| r.strip_suffix(":root"))
                            .filter(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()));
                        match account {
                            Some(a) => out.accounts.push(a.to_string()),
                            None if v.contains(":user/") || v.contains(":role/") => out.identities.push(v),
                            None => return refuse(&format!("trusts `{v}`")),
                        }
                    }
                    other => return refuse(&format!("trusts a `{other}` principal")),
                }
            }
        }
    }
    Ok(out)
}

/// The manifest entries of the written resources, with ARNs inside policies written as placeholders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entries {
    pub users: IndexMap<String, IamUser>,
    pub roles: IndexMap<String, IamRole>,
    pub policies: IndexMap<String, IamPolicy>,
    pub topics: IndexMap<String, Topic>,
}

/// Writes every resource `resolved` keeps, in logical-name order per kind. `name_template` turns a
/// physical name into its `name:` value (the environment as `${env}`); `references` rewrites ARNs in
/// policy statements.
pub fn entries(
    related: &Related,
    resolved: &Resolved,
    name_template: &dyn Fn(&str) -> String,
    references: &dyn Fn(&Json) -> Json,
) -> Entries {
    let mut out = Entries::default();
    let mut written: Vec<(&String, &LiveIdentity, &ObservedIdentity)> = related
        .live
        .iter()
        .filter_map(|(arn, l)| {
            let (_, logical) = resolved.logical.get(arn)?;
            Some((logical, l, l.observed.as_ref()?))
        })
        .collect();
    written.sort_by(|a, b| a.0.cmp(b.0));
    let policies_of = |observed: &ObservedIdentity| -> Vec<String> {
        attachments(observed)
            .iter()
            .filter_map(|a| resolved.logical(IdentityKind::IamPolicy, a).map(str::to_string))
            .collect()
    };
    for (logical, live, observed) in written {
        let name = Some(name_template(&live.wanted.name));
        match &observed.main {
            IdentityDoc::User(u) => {
                out.users.insert(
                    logical.clone(),
                    IamUser {
                        name,
                        path: u.path.clone(),
                        policies: policies_of(observed),
                        tags: u.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        ..IamUser::default()
                    },
                );
            }
            IdentityDoc::Role(r) => {
                let Ok(trust) = trust_of(&r.trust) else { continue };
                let identities = trust
                    .identities
                    .iter()
                    .filter_map(|a| {
                        resolved
                            .logical(IdentityKind::IamUser, a)
                            .map(|l| IdentityRef::User(l.to_string()))
                            .or_else(|| {
                                resolved
                                    .logical(IdentityKind::IamRole, a)
                                    .map(|l| IdentityRef::Role(l.to_string()))
                            })
                    })
                    .collect();
                out.roles.insert(
                    logical.clone(),
                    IamRole {
                        name,
                        path: r.path.clone(),
                        description: r.description.clone(),
                        trust: Trust {
                            services: trust.services,
                            accounts: trust.accounts,
                            identities,
                        },
                        policies: policies_of(observed),
                        max_session_duration: (r.max_session_duration != DEFAULT_MAX_SESSION_DURATION)
                            .then_some(r.max_session_duration),
                        tags: r.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        ..IamRole::default()
                    },
                );
            }
            IdentityDoc::Policy(p) => {
                let statements = statements_holdable(&p.document)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| serde_json::from_value::<Statement>(references(s)).ok())
                    .collect();
                out.policies.insert(
                    logical.clone(),
                    IamPolicy {
                        name,
                        path: p.path.clone(),
                        description: p.description.clone(),
                        statements,
                        ..IamPolicy::default()
                    },
                );
            }
            IdentityDoc::Topic(t) => {
                out.topics.insert(
                    logical.clone(),
                    Topic {
                        name,
                        display_name: t.display_name.clone(),
                        subscriptions: subscriptions(observed)
                            .into_iter()
                            .filter_map(|s| {
                                Some(Subscription {
                                    protocol: protocol(&s.protocol).ok()?,
                                    endpoint: s.endpoint,
                                })
                            })
                            .collect(),
                        tags: t.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        ..Topic::default()
                    },
                );
            }
            // A resource's own value is never one of its parts.
            IdentityDoc::InlinePolicy(_)
            | IdentityDoc::Attachments(_)
            | IdentityDoc::AccessKey(_)
            | IdentityDoc::TopicPolicy(_)
            | IdentityDoc::Subscriptions(_)
            | IdentityDoc::AccountPublicAccessBlock(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "123456789012";

    #[test]
    fn arns_of_this_account_are_read_and_the_others_say_why_not() {
        let user = parse_arn("arn:aws:iam::123456789012:user/team/app-prod", ACCOUNT, "us-east-1").expect("user");
        assert_eq!(
            (user.kind, user.name.as_str(), user.path.as_str()),
            (IdentityKind::IamUser, "app-prod", "/team/")
        );
        let topic = parse_arn("arn:aws:sns:eu-west-1:123456789012:events", ACCOUNT, "us-east-1").expect("topic");
        assert_eq!(
            (topic.kind, topic.region.as_str()),
            (IdentityKind::SnsTopic, "eu-west-1")
        );
        let e = parse_arn("arn:aws:iam::999999999999:role/x", ACCOUNT, "us-east-1").unwrap_err();
        assert!(e.contains("belongs to account 999999999999"), "{e}");
        let e = parse_arn("arn:aws:iam::aws:policy/ReadOnlyAccess", ACCOUNT, "us-east-1").unwrap_err();
        assert!(e.contains("AWS-managed"), "{e}");
        let e = parse_arn("arn:aws:sqs:us-east-1:123456789012:q", ACCOUNT, "us-east-1").unwrap_err();
        assert!(e.contains("SQS queue"), "{e}");
    }

    #[test]
    fn a_trust_with_a_condition_is_not_the_manifests() {
        let t = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        }]});
        assert!(trust_of(&t).unwrap_err().contains("condition"));
        let ok = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com", "AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::123456789012:user/u"]}, "Action": "sts:AssumeRole"
        }]});
        let parts = trust_of(&ok).expect("trust");
        assert_eq!(parts.services, vec!["s3.amazonaws.com"]);
        assert_eq!(parts.accounts, vec!["111122223333"]);
        assert_eq!(parts.identities, vec!["arn:aws:iam::123456789012:user/u"]);
    }
}
