//! IAM and SNS resources in canonical form: users, roles, managed policies and topics, each with the
//! parts s3rec manages as their own changes (inline grant policy, attached policies, access key, topic
//! policy, subscriptions).
//!
//! As for buckets, desired and observed share one set of types so that "no change" is equality:
//! policy documents are normalized JSON, sets are ordered sets, and "not configured" is an explicit value
//! (`InlinePolicy(None)`, an empty attachment set). Pure: nothing here does I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::desired::{Context, DesiredError, iam_arn, physical_bucket, policy_arn, resolve_json, statement_json};
use super::grants::{POLICY_VERSION, grants_policy};
use super::policy::normalize;
use super::{PublicAccessBlockDoc, bucket_arn};
use crate::manifest::types::{IdentityRef, SubscriptionProtocol};

/// Name of the inline policy that holds a user's or role's generated grants. One fixed name, so s3rec
/// finds (and only ever touches) its own inline policy and leaves hand-made ones alone.
pub const GRANTS_POLICY_NAME: &str = "s3rec-grants";

/// IAM allows five versions of a managed policy; s3rec deletes the oldest non-default one before
/// creating a sixth.
pub const MAX_POLICY_VERSIONS: usize = 5;

/// Default `MaxSessionDuration` of a role (one hour), what IAM gives a role created without one.
pub const DEFAULT_MAX_SESSION_DURATION: u32 = 3600;

/// The kinds of IAM and SNS resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    IamUser,
    IamRole,
    IamPolicy,
    SnsTopic,
    /// Settings of the account itself (S3 Control): `account.public_access_block`.
    Account,
}

impl IdentityKind {
    /// The first segment of addresses (`iam_user.app`) and the kind recorded in the state.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::IamUser => "iam_user",
            IdentityKind::IamRole => "iam_role",
            IdentityKind::IamPolicy => "iam_policy",
            IdentityKind::SnsTopic => "sns_topic",
            IdentityKind::Account => "account",
        }
    }

    pub fn parse(s: &str) -> Option<IdentityKind> {
        [
            IdentityKind::IamUser,
            IdentityKind::IamRole,
            IdentityKind::IamPolicy,
            IdentityKind::SnsTopic,
            IdentityKind::Account,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ARN of the resource of `kind` named `name`: IAM ARNs carry the path, topic ARNs the region.
pub fn arn(kind: IdentityKind, account: &str, region: &str, path: &str, name: &str) -> String {
    match kind {
        IdentityKind::IamUser => format!("arn:aws:iam::{account}:user{path}{name}"),
        IdentityKind::IamRole => format!("arn:aws:iam::{account}:role{path}{name}"),
        IdentityKind::IamPolicy => format!("arn:aws:iam::{account}:policy{path}{name}"),
        IdentityKind::SnsTopic => format!("arn:aws:sns:{region}:{account}:{name}"),
        // Account settings have no ARN of their own; this name only identifies them in the plan and
        // the state, and no policy can name it (so no graph edge points at it).
        IdentityKind::Account => format!("s3control::{account}:{name}"),
    }
}

/// Parts of an IAM or SNS resource that are planned as their own changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// A user's or role's inline policy [`GRANTS_POLICY_NAME`], generated from its grants.
    InlinePolicy,
    /// The managed policies attached to a user or role.
    Attachments,
    /// A user's access key.
    AccessKey,
    /// A topic's access policy.
    TopicPolicy,
    /// A topic's subscriptions.
    Subscriptions,
}

impl PartKind {
    /// The last segment of addresses (`iam_user.app.inline_policy`).
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::InlinePolicy => "inline_policy",
            PartKind::Attachments => "attachments",
            PartKind::AccessKey => "access_key",
            PartKind::TopicPolicy => "policy",
            PartKind::Subscriptions => "subscriptions",
        }
    }
}

impl fmt::Display for PartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of an IAM or SNS resource or part, in canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum IdentityDoc {
    User(UserDoc),
    Role(RoleDoc),
    Policy(PolicyDoc),
    Topic(TopicDoc),
    /// Normalized policy JSON; `None` when there is no inline policy named [`GRANTS_POLICY_NAME`].
    InlinePolicy(Option<Json>),
    /// ARNs of the attached managed policies.
    Attachments(BTreeSet<String>),
    AccessKey(AccessKeyDoc),
    /// Normalized policy JSON.
    TopicPolicy(Json),
    Subscriptions(BTreeSet<SubscriptionDoc>),
    /// The account's public access block (`account.public_access_block`).
    AccountPublicAccessBlock(PublicAccessBlockDoc),
}

impl IdentityDoc {
    /// The part this value belongs to; `None` for a resource's own attributes.
    pub fn part(&self) -> Option<PartKind> {
        match self {
            IdentityDoc::User(_)
            | IdentityDoc::Role(_)
            | IdentityDoc::Policy(_)
            | IdentityDoc::Topic(_)
            | IdentityDoc::AccountPublicAccessBlock(_) => None,
            IdentityDoc::InlinePolicy(_) => Some(PartKind::InlinePolicy),
            IdentityDoc::Attachments(_) => Some(PartKind::Attachments),
            IdentityDoc::AccessKey(_) => Some(PartKind::AccessKey),
            IdentityDoc::TopicPolicy(_) => Some(PartKind::TopicPolicy),
            IdentityDoc::Subscriptions(_) => Some(PartKind::Subscriptions),
        }
    }

    /// The part as a resource that nobody configured has it, for parts that have such a value.
    pub fn unconfigured(part: PartKind) -> Option<IdentityDoc> {
        match part {
            PartKind::InlinePolicy => Some(IdentityDoc::InlinePolicy(None)),
            PartKind::Attachments => Some(IdentityDoc::Attachments(BTreeSet::new())),
            PartKind::Subscriptions => Some(IdentityDoc::Subscriptions(BTreeSet::new())),
            PartKind::AccessKey | PartKind::TopicPolicy => None,
        }
    }

    /// Policy documents inside the value, for the plan's line diff of policies.
    pub fn policy_document(&self) -> Option<&Json> {
        match self {
            IdentityDoc::Role(r) => Some(&r.trust),
            IdentityDoc::Policy(p) => Some(&p.document),
            IdentityDoc::InlinePolicy(p) => p.as_ref(),
            IdentityDoc::TopicPolicy(p) => Some(p),
            _ => None,
        }
    }
}

/// An IAM user's own attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDoc {
    pub path: String,
    pub tags: BTreeMap<String, String>,
}

/// An IAM role's own attributes, with its trust policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleDoc {
    pub path: String,
    /// `None` and the empty string are the same to IAM; `None` is canonical.
    pub description: Option<String>,
    pub max_session_duration: u32,
    /// The assume-role (trust) policy, normalized.
    pub trust: Json,
    pub tags: BTreeMap<String, String>,
}

/// A customer-managed policy: its path, description (both immutable in IAM) and default version's
/// document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDoc {
    pub path: String,
    pub description: Option<String>,
    /// The default version's document, normalized.
    pub document: Json,
}

/// An SNS topic's own attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicDoc {
    /// `None` and the empty string are the same to SNS; `None` is canonical.
    pub display_name: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A user's access key. The secret is never part of any value: it goes to `secret_file` once, when
/// the key is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyDoc {
    /// Where `apply` writes the new key's secret, relative to the project root (mode 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<String>,
    /// The key's ID once it exists (IDs are not secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
}

/// One subscription, by what it delivers to. Confirmation status is not part of the value: an e-mail
/// subscription waiting for its recipient to click the link is not drift.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SubscriptionDoc {
    /// SNS's protocol name: `email`, `email-json`, `https`, `http`, `sqs`, `lambda`, `sms`.
    pub protocol: String,
    pub endpoint: String,
}

impl SubscriptionDoc {
    /// Subscriptions SNS holds as pending until the endpoint confirms.
    pub fn needs_confirmation(&self) -> bool {
        matches!(self.protocol.as_str(), "email" | "email-json" | "http" | "https")
    }
}

/// An IAM or SNS resource as the manifest wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredIdentity {
    pub kind: IdentityKind,
    pub logical: String,
    /// Physical name (user, role, policy or topic name).
    pub name: String,
    /// The ARN the resource has (or will have): references to it in other documents use this.
    pub arn: String,
    /// The topic's region; IAM resources are global and carry the manifest's default region.
    pub region: String,
    pub main: IdentityDoc,
    pub parts: BTreeMap<PartKind, IdentityDoc>,
}

/// An IAM or SNS resource as AWS has it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedIdentity {
    pub main: IdentityDoc,
    pub parts: BTreeMap<PartKind, IdentityDoc>,
    /// Subscriptions waiting for confirmation (shown in the plan, never drift).
    pub pending_subscriptions: Vec<SubscriptionDoc>,
    /// Names of inline policies other than s3rec's own on a user or role: not managed, not drift, but
    /// a security finding (permissions the manifest does not show).
    pub other_inline: Vec<String>,
}

/// Every IAM user, role and policy and every SNS topic of the manifest, as they should be.
///
/// `secrets_dir` is where access-key secrets go, relative to the project root (e.g. `.s3rec/secrets/prod`).
pub fn identities(ctx: &Context<'_>, secrets_dir: &str) -> Result<Vec<DesiredIdentity>, DesiredError> {
    let m = ctx.manifest;
    let mut out = Vec::new();
    for (logical, p) in &m.iam.policies {
        let place = format!("iam.policies.{logical}");
        let name = p.name.clone().unwrap_or_else(|| logical.clone());
        let mut statements = Vec::new();
        for s in &p.statements {
            statements.push(resolve_json(ctx, &statement_json(s), &place)?);
        }
        if let Some(generated) = grants_policy(ctx, &p.grants, &place)?
            && let Some(list) = generated["Statement"].as_array()
        {
            statements.extend(list.iter().cloned());
        }
        let document = normalize(&json!({"Version": POLICY_VERSION, "Statement": statements}));
        out.push(DesiredIdentity {
            kind: IdentityKind::IamPolicy,
            arn: policy_arn(ctx, logical, &place)?,
            logical: logical.clone(),
            name,
            region: ctx.default_region.to_string(),
            main: IdentityDoc::Policy(PolicyDoc {
                path: p.path.clone(),
                description: non_empty(p.description.as_deref()),
                document,
            }),
            parts: BTreeMap::new(),
        });
    }
    for (logical, u) in &m.iam.users {
        let place = format!("iam.users.{logical}");
        let name = u.name.clone().unwrap_or_else(|| logical.clone());
        let mut parts = principal_parts(ctx, &u.policies, &u.grants, &place)?;
        if u.access_key {
            parts.insert(
                PartKind::AccessKey,
                IdentityDoc::AccessKey(AccessKeyDoc {
                    secret_file: Some(format!("{secrets_dir}/{name}.credentials")),
                    access_key_id: None,
                }),
            );
        }
        out.push(DesiredIdentity {
            kind: IdentityKind::IamUser,
            arn: iam_arn(ctx, IdentityKind::IamUser, &name, &u.path, &place)?,
            logical: logical.clone(),
            name,
            region: ctx.default_region.to_string(),
            main: IdentityDoc::User(UserDoc {
                path: u.path.clone(),
                tags: u.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            }),
            parts,
        });
    }
    for (logical, r) in &m.iam.roles {
        let place = format!("iam.roles.{logical}");
        let name = r.name.clone().unwrap_or_else(|| logical.clone());
        let parts = principal_parts(ctx, &r.policies, &r.grants, &place)?;
        out.push(DesiredIdentity {
            kind: IdentityKind::IamRole,
            arn: iam_arn(ctx, IdentityKind::IamRole, &name, &r.path, &place)?,
            logical: logical.clone(),
            name,
            region: ctx.default_region.to_string(),
            main: IdentityDoc::Role(RoleDoc {
                path: r.path.clone(),
                description: non_empty(r.description.as_deref()),
                max_session_duration: r.max_session_duration.unwrap_or(DEFAULT_MAX_SESSION_DURATION),
                trust: trust_policy(ctx, &r.trust, &place)?,
                tags: r.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            }),
            parts,
        });
    }
    for (logical, t) in &m.sns.topics {
        let place = format!("sns.topics.{logical}");
        let name = t.name.clone().unwrap_or_else(|| logical.clone());
        let arn = super::desired::topic_arn(ctx, logical, &place)?;
        let mut parts = BTreeMap::new();
        parts.insert(
            PartKind::TopicPolicy,
            IdentityDoc::TopicPolicy(topic_policy(ctx, logical, &arn, &place)?),
        );
        parts.insert(
            PartKind::Subscriptions,
            IdentityDoc::Subscriptions(
                t.subscriptions
                    .iter()
                    .map(|s| SubscriptionDoc {
                        protocol: protocol_name(s.protocol).to_string(),
                        endpoint: s.endpoint.clone(),
                    })
                    .collect(),
            ),
        );
        out.push(DesiredIdentity {
            kind: IdentityKind::SnsTopic,
            arn,
            logical: logical.clone(),
            name,
            region: ctx.default_region.to_string(),
            main: IdentityDoc::Topic(TopicDoc {
                display_name: non_empty(t.display_name.as_deref()),
                tags: t.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            }),
            parts,
        });
    }
    if let Some(pab) = &m.account.public_access_block {
        let place = format!("{}.{ACCOUNT_PUBLIC_ACCESS_BLOCK}", IdentityKind::Account);
        let account = ctx
            .account_id
            .ok_or_else(|| DesiredError::AccountUnknown { what: place.clone() })?;
        out.push(DesiredIdentity {
            kind: IdentityKind::Account,
            logical: ACCOUNT_PUBLIC_ACCESS_BLOCK.to_string(),
            name: account.to_string(),
            arn: arn(
                IdentityKind::Account,
                account,
                ctx.default_region,
                "",
                ACCOUNT_PUBLIC_ACCESS_BLOCK,
            ),
            region: ctx.default_region.to_string(),
            main: IdentityDoc::AccountPublicAccessBlock(PublicAccessBlockDoc {
                block_public_acls: pab.block_public_acls,
                ignore_public_acls: pab.ignore_public_acls,
                block_public_policy: pab.block_public_policy,
                restrict_public_buckets: pab.restrict_public_buckets,
            }),
            parts: BTreeMap::new(),
        });
    }
    Ok(out)
}

/// The logical name of the account's public access block: its address is `account.public_access_block`.
pub const ACCOUNT_PUBLIC_ACCESS_BLOCK: &str = "public_access_block";

/// The inline grant policy and the attachments of a user or role. Both are always managed: no grants
/// means no s3rec inline policy, no `policies` means nothing attached.
fn principal_parts(
    ctx: &Context<'_>,
    policies: &[String],
    grants: &[crate::manifest::types::Grant],
    place: &str,
) -> Result<BTreeMap<PartKind, IdentityDoc>, DesiredError> {
    let mut parts = BTreeMap::new();
    let inline = grants_policy(ctx, grants, place)?.map(|p| normalize(&p));
    parts.insert(PartKind::InlinePolicy, IdentityDoc::InlinePolicy(inline));
    let mut attached = BTreeSet::new();
    for p in policies {
        attached.insert(policy_arn(ctx, p, place)?);
    }
    parts.insert(PartKind::Attachments, IdentityDoc::Attachments(attached));
    Ok(parts)
}

/// The assume-role policy of a role: one statement per kind of principal, with stable Sids.
fn trust_policy(ctx: &Context<'_>, trust: &crate::manifest::types::Trust, place: &str) -> Result<Json, DesiredError> {
    let mut statements = Vec::new();
    if !trust.services.is_empty() {
        statements.push(json!({
            "Sid": "TrustServices",
            "Effect": "Allow",
            "Principal": {"Service": trust.services},
            "Action": "sts:AssumeRole",
        }));
    }
    let mut aws_principals: Vec<String> = trust
        .accounts
        .iter()
        .map(|a| format!("arn:aws:iam::{a}:root"))
        .collect();
    for identity in &trust.identities {
        aws_principals.push(match identity {
            IdentityRef::User(u) => super::desired::user_arn(ctx, u, place)?,
            IdentityRef::Role(r) => super::desired::role_arn(ctx, r, place)?,
        });
    }
    if !aws_principals.is_empty() {
        statements.push(json!({
            "Sid": "TrustPrincipals",
            "Effect": "Allow",
            "Principal": {"AWS": aws_principals},
            "Action": "sts:AssumeRole",
        }));
    }
    Ok(normalize(&json!({"Version": POLICY_VERSION, "Statement": statements})))
}

/// A topic's access policy: the account manages the topic (what SNS gives a new topic, written with
/// the account root instead of a wildcard principal), and, when bucket notifications target the topic,
/// S3 may publish from exactly those buckets of this account.
fn topic_policy(ctx: &Context<'_>, logical: &str, arn: &str, place: &str) -> Result<Json, DesiredError> {
    let account = ctx.account_id.ok_or_else(|| DesiredError::AccountUnknown {
        what: place.to_string(),
    })?;
    let mut statements = vec![json!({
        "Sid": "AccountManagesTopic",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": [
            "SNS:AddPermission",
            "SNS:DeleteTopic",
            "SNS:GetTopicAttributes",
            "SNS:ListSubscriptionsByTopic",
            "SNS:Publish",
            "SNS:RemovePermission",
            "SNS:SetTopicAttributes",
            "SNS:Subscribe",
        ],
        "Resource": arn,
    })];
    let mut sources = Vec::new();
    for (bucket_logical, b) in &ctx.manifest.buckets {
        if b.notifications.iter().flatten().any(|n| n.topic == logical) {
            sources.push(bucket_arn(&physical_bucket(ctx, bucket_logical, place)?));
        }
    }
    if !sources.is_empty() {
        statements.push(json!({
            "Sid": "AllowS3Publish",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": arn,
            "Condition": {
                "ArnLike": {"aws:SourceArn": sources},
                "StringEquals": {"aws:SourceAccount": account},
            },
        }));
    }
    Ok(normalize(&json!({"Version": POLICY_VERSION, "Statement": statements})))
}

/// SNS's name for a protocol.
pub fn protocol_name(p: SubscriptionProtocol) -> &'static str {
    match p {
        SubscriptionProtocol::Email => "email",
        SubscriptionProtocol::EmailJson => "email-json",
        SubscriptionProtocol::Https => "https",
        SubscriptionProtocol::Http => "http",
        SubscriptionProtocol::Sqs => "sqs",
        SubscriptionProtocol::Lambda => "lambda",
        SubscriptionProtocol::Sms => "sms",
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "123456789012";

    fn build(yaml: &str) -> Vec<DesiredIdentity> {
        let m = crate::manifest::load::valid_for_tests(yaml);
        let ctx = Context {
            manifest: &m,
            account_id: Some(ACCOUNT),
            default_region: "eu-west-1",
        };
        identities(&ctx, ".s3rec/secrets/t").expect("desired")
    }

    fn find<'a>(all: &'a [DesiredIdentity], kind: IdentityKind, logical: &str) -> &'a DesiredIdentity {
        all.iter()
            .find(|d| d.kind == kind && d.logical == logical)
            .unwrap_or_else(|| panic!("{kind}.{logical}"))
    }

    const MANIFEST: &str = r#"
environment: t
buckets:
  source:
    name: src-${env}
    notifications:
      - id: created
        topic: events
        events: ["s3:ObjectCreated:*"]
  other:
    name: other-${env}
iam:
  users:
    app:
      name: app-${env}
      access_key: true
      grants:
        - {bucket: source, prefix: in/, access: [read]}
  roles:
    replication:
      path: /service-role/
      trust:
        services: [s3.amazonaws.com]
        identities: [{user: app}]
      policies: [replicate]
  policies:
    replicate:
      statements:
        - Effect: Allow
          Action: s3:ReplicateObject
          Resource: "${bucket.other.arn}/*"
sns:
  topics:
    events:
      name: events-${env}
      subscriptions:
        - {protocol: email, endpoint: ops@example.com}
"#;

    #[test]
    fn users_get_their_grants_inline_an_attachment_set_and_a_named_secret_file() {
        let all = build(MANIFEST);
        let app = find(&all, IdentityKind::IamUser, "app");
        assert_eq!(app.name, "app-t");
        assert_eq!(app.arn, "arn:aws:iam::123456789012:user/app-t");
        let IdentityDoc::InlinePolicy(Some(policy)) = &app.parts[&PartKind::InlinePolicy] else {
            panic!("inline policy")
        };
        assert_eq!(policy["Statement"][0]["Resource"], "arn:aws:s3:::src-t/in/*");
        assert_eq!(
            app.parts[&PartKind::Attachments],
            IdentityDoc::Attachments(BTreeSet::new())
        );
        assert_eq!(
            app.parts[&PartKind::AccessKey],
            IdentityDoc::AccessKey(AccessKeyDoc {
                secret_file: Some(".s3rec/secrets/t/app-t.credentials".into()),
                access_key_id: None,
            })
        );
    }

    #[test]
    fn roles_trust_services_and_identities_with_stable_sids_and_attach_by_arn() {
        let all = build(MANIFEST);
        let role = find(&all, IdentityKind::IamRole, "replication");
        assert_eq!(role.arn, "arn:aws:iam::123456789012:role/service-role/replication");
        let IdentityDoc::Role(doc) = &role.main else {
            panic!("role")
        };
        assert_eq!(
            doc.trust,
            normalize(&json!({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "TrustServices", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"},
                    {"Sid": "TrustPrincipals", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/app-t"}, "Action": "sts:AssumeRole"},
                ],
            }))
        );
        assert_eq!(doc.max_session_duration, DEFAULT_MAX_SESSION_DURATION);
        assert_eq!(
            role.parts[&PartKind::Attachments],
            IdentityDoc::Attachments(BTreeSet::from([
                "arn:aws:iam::123456789012:policy/replicate".to_string()
            ]))
        );
        assert_eq!(role.parts[&PartKind::InlinePolicy], IdentityDoc::InlinePolicy(None));
        let policy = find(&all, IdentityKind::IamPolicy, "replicate");
        let IdentityDoc::Policy(p) = &policy.main else {
            panic!("policy")
        };
        assert_eq!(p.document["Statement"][0]["Resource"], "arn:aws:s3:::other-t/*");
    }

    #[test]
    fn a_topic_lets_s3_publish_from_exactly_the_buckets_that_notify_it() {
        let all = build(MANIFEST);
        let topic = find(&all, IdentityKind::SnsTopic, "events");
        assert_eq!(topic.arn, "arn:aws:sns:eu-west-1:123456789012:events-t");
        let IdentityDoc::TopicPolicy(policy) = &topic.parts[&PartKind::TopicPolicy] else {
            panic!("topic policy")
        };
        let statements = policy["Statement"].as_array().expect("statements");
        let s3 = statements
            .iter()
            .find(|s| s["Sid"] == "AllowS3Publish")
            .expect("S3 statement");
        assert_eq!(
            *s3,
            normalize(&json!({"Statement": [{
                "Sid": "AllowS3Publish",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": "arn:aws:sns:eu-west-1:123456789012:events-t",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": "arn:aws:s3:::src-t"},
                    "StringEquals": {"aws:SourceAccount": "123456789012"},
                },
            }]}))["Statement"][0]
        );
        assert!(
            statements.iter().any(|s| s["Sid"] == "AccountManagesTopic"),
            "the account keeps managing the topic"
        );
        assert_eq!(
            topic.parts[&PartKind::Subscriptions],
            IdentityDoc::Subscriptions(BTreeSet::from([SubscriptionDoc {
                protocol: "email".into(),
                endpoint: "ops@example.com".into(),
            }]))
        );
    }

    #[test]
    fn the_account_block_is_one_resource_at_account_public_access_block_with_every_switch_on_by_default() {
        let all = build("environment: t\naccount:\n  public_access_block:\n    restrict_public_buckets: false\n");
        let block = find(&all, IdentityKind::Account, ACCOUNT_PUBLIC_ACCESS_BLOCK);
        assert_eq!(block.name, ACCOUNT, "S3 Control addresses it by the account ID");
        assert_eq!(
            crate::plan::Address::identity(block.kind, &block.logical, None).as_str(),
            "account.public_access_block"
        );
        assert_eq!(
            block.main,
            IdentityDoc::AccountPublicAccessBlock(PublicAccessBlockDoc {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: false,
            })
        );
        assert!(block.parts.is_empty());
        assert!(
            build("environment: t\n")
                .iter()
                .all(|d| d.kind != IdentityKind::Account),
            "left out means unmanaged"
        );
        assert_eq!(IdentityKind::parse("account"), Some(IdentityKind::Account));
    }

    #[test]
    fn without_the_account_arns_cannot_be_made() {
        let m = crate::manifest::load::valid_for_tests(MANIFEST);
        let ctx = Context {
            manifest: &m,
            account_id: None,
            default_region: "eu-west-1",
        };
        assert!(matches!(
            identities(&ctx, "x"),
            Err(DesiredError::AccountUnknown { .. })
        ));
    }
}
