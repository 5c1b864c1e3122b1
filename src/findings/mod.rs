//! Security findings: the estate as one picture (buckets with their documents, IAM identities, SNS
//! topics), judged by the rules of [`rules`] with the policy evaluator of [`policy`].
//!
//! Pure: the estate is built from the manifest ([`manifest`], for `validate`) or from the manifest
//! and what AWS has (for `plan`), and [`analyze`] turns it into [`Finding`]s. Rendering is
//! [`render`] (text, JSON) and [`sarif`].

pub mod live;
pub mod manifest;
pub mod policy;
pub mod render;
pub mod rules;
pub mod sarif;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;

use crate::model::identity::IdentityKind;
use crate::model::{Doc, DocKind, VersioningState, bucket_arn};
use policy::{Caller, Decision, Policy, Request, TlsDeny};
pub use rules::{Rule, RuleId, Severity};

/// The logging service principal that delivers server access logs.
pub const LOGGING_SERVICE: &str = "logging.s3.amazonaws.com";

/// Where a finding's evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The manifest says so (located by `pointer`).
    Manifest,
    /// AWS has it, and the manifest leaves it unmanaged.
    Live,
}

/// An acknowledgement written next to a resource: the finding is known and accepted, for a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub rule: RuleId,
    pub reason: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: RuleId,
    /// The resource's address (`bucket.logs`, `iam_role.replicator`, `sns_topic.alerts`).
    pub resource: String,
    /// JSON pointer into the manifest of the setting at fault (or of the resource, when the fault is
    /// a setting it leaves out).
    pub pointer: String,
    /// What exactly is wrong here, naming the statement or setting.
    pub detail: String,
    pub origin: Origin,
    /// The acknowledgement's reason, when the manifest acknowledges this finding.
    pub acknowledged: Option<String>,
}

impl Finding {
    pub fn severity(&self) -> Severity {
        self.rule.rule().severity
    }
}

/// A bucket as the rules see it: the documents known for it (from the manifest, or from AWS for
/// settings the manifest leaves out), and what role it plays.
#[derive(Debug, Clone, Default)]
pub struct BucketView {
    pub logical: String,
    pub name: String,
    /// Documents known; a kind missing here is unknown (unmanaged, and not read from AWS).
    pub docs: BTreeMap<DocKind, Doc>,
    /// Kinds in `docs` that came from AWS rather than the manifest.
    pub live: BTreeSet<DocKind>,
    /// The destination of a sync mapping: a backup.
    pub backup: bool,
    pub acks: Vec<Ack>,
}

/// An IAM user, role or managed policy, or an SNS topic, as the rules see it.
#[derive(Debug, Clone)]
pub struct IdentityView {
    pub kind: IdentityKind,
    pub logical: String,
    pub arn: String,
    /// Identity-policy documents in force on a user or role (inline and attached ones that are
    /// known), or the document of a managed policy, or a topic's access policy. Each with the
    /// pointer of where the manifest writes it.
    pub documents: Vec<(Json, String)>,
    /// Attached managed policy ARNs (users and roles).
    pub attached: BTreeSet<String>,
    /// Policy documents AWS has now where they differ from `documents` (read by `plan`): a topic
    /// policy opened by hand is exposed until apply sets the manifest's back, so it is judged too,
    /// as a live finding.
    pub live_documents: Vec<(Json, String)>,
    /// Inline policy names AWS has that the manifest does not define (read by `plan`).
    pub unmanaged_inline: Vec<String>,
    /// Attached policy ARNs AWS has that the manifest does not list (read by `plan`).
    pub unmanaged_attached: Vec<String>,
    pub acks: Vec<Ack>,
}

/// Everything the rules look at.
#[derive(Debug, Clone, Default)]
pub struct Estate {
    /// The account that owns the estate; principals of it are not "others".
    pub account: String,
    pub buckets: Vec<BucketView>,
    pub identities: Vec<IdentityView>,
    /// The account's public access block as the manifest wants it (`account.public_access_block`),
    /// `None` when the manifest leaves it out. AWS applies each switch that is on here to every bucket,
    /// whatever the bucket's own block says.
    pub account_public_access_block: Option<crate::model::PublicAccessBlockDoc>,
}

/// The account's public access block among the desired identities, for [`Estate`].
pub fn account_block(
    identities: &[crate::model::identity::DesiredIdentity],
) -> Option<crate::model::PublicAccessBlockDoc> {
    identities.iter().find_map(|i| match &i.main {
        crate::model::identity::IdentityDoc::AccountPublicAccessBlock(p) => Some(*p),
        _ => None,
    })
}

/// Judges the estate: every finding, acknowledged ones included, in a stable order.
pub fn analyze(estate: &Estate) -> Vec<Finding> {
    let mut out = Vec::new();
    let logging_targets: BTreeSet<&str> = estate
        .buckets
        .iter()
        .filter_map(|b| match b.docs.get(&DocKind::Logging) {
            Some(Doc::Logging(Some(l))) => Some(l.target_bucket.as_str()),
            _ => None,
        })
        .collect();
    let replica_destinations: BTreeSet<String> = estate
        .buckets
        .iter()
        .filter_map(|b| match b.docs.get(&DocKind::Replication) {
            Some(Doc::Replication(Some(r))) => Some(r.rules.iter().map(|r| r.destination_bucket_arn.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    for b in &estate.buckets {
        let mut f = Sink {
            out: &mut out,
            resource: format!("bucket.{}", b.logical),
            base: format!("/buckets/{}", crate::manifest::yaml::escape_pointer(&b.logical)),
            live: &b.live,
            acks: &b.acks,
        };
        bucket_rules(estate, b, &mut f, &logging_targets, &replica_destinations);
    }
    for i in &estate.identities {
        let section = match i.kind {
            IdentityKind::IamUser => "/iam/users",
            IdentityKind::IamRole => "/iam/roles",
            IdentityKind::IamPolicy => "/iam/policies",
            IdentityKind::SnsTopic => "/sns/topics",
            IdentityKind::Account => "/account",
        };
        let no_live = BTreeSet::new();
        let mut f = Sink {
            out: &mut out,
            resource: format!("{}.{}", i.kind, i.logical),
            base: format!("{section}/{}", crate::manifest::yaml::escape_pointer(&i.logical)),
            live: &no_live,
            acks: &i.acks,
        };
        identity_rules(i, &mut f);
    }
    replication_rules(estate, &mut out);
    out.sort_by(|a, b| {
        (b.severity(), &a.resource, a.rule.id(), &a.detail).cmp(&(a.severity(), &b.resource, b.rule.id(), &b.detail))
    });
    out.dedup();
    out
}

/// Collects the findings of one resource, locating and acknowledging them.
struct Sink<'a> {
    out: &'a mut Vec<Finding>,
    resource: String,
    base: String,
    live: &'a BTreeSet<DocKind>,
    acks: &'a [Ack],
}

impl Sink<'_> {
    /// A finding about document `kind` (located at its field) or about the resource (`None`).
    fn push(&mut self, rule: RuleId, kind: Option<DocKind>, field: Option<&str>, detail: String) {
        let origin = match kind {
            Some(k) if self.live.contains(&k) => Origin::Live,
            _ => Origin::Manifest,
        };
        self.push_from(rule, origin, field, detail);
    }

    /// A finding whose origin the caller knows.
    fn push_from(&mut self, rule: RuleId, origin: Origin, field: Option<&str>, detail: String) {
        let pointer = match field {
            Some(field) => format!("{}/{field}", self.base),
            None => self.base.clone(),
        };
        self.out.push(Finding {
            rule,
            resource: self.resource.clone(),
            pointer,
            detail,
            origin,
            acknowledged: self.acks.iter().find(|a| a.rule == rule).map(|a| a.reason.clone()),
        });
    }
}

fn statements(indices: &[usize]) -> String {
    let list: Vec<String> = indices.iter().map(|i| format!("#{}", i + 1)).collect();
    format!("statement {}", list.join(", "))
}

fn bucket_rules(
    estate: &Estate,
    b: &BucketView,
    f: &mut Sink<'_>,
    logging_targets: &BTreeSet<&str>,
    replica_destinations: &BTreeSet<String>,
) {
    let doc = |k: DocKind| b.docs.get(&k);
    let at = |k: DocKind| (Some(k), Some(k.manifest_field()));

    // Policies.
    match doc(DocKind::Policy) {
        Some(Doc::Policy(Some(json))) => match Policy::parse(json) {
            Ok(p) => bucket_policy_rules(estate, b, &p, f),
            Err(e) => {
                let (k, fl) = at(DocKind::Policy);
                f.push(
                    RuleId::NoTlsDeny,
                    k,
                    fl,
                    format!("the bucket policy cannot be read: {e}"),
                );
            }
        },
        Some(Doc::Policy(None)) => {
            let (k, fl) = at(DocKind::Policy);
            f.push(RuleId::NoTlsDeny, k, fl, "the bucket has no policy at all".into());
        }
        None => f.push(
            RuleId::NoTlsDeny,
            None,
            None,
            "the manifest does not manage the bucket policy, so nothing denies requests without TLS".into(),
        ),
        Some(_) => {}
    }

    if let Some(Doc::PublicAccessBlock(p)) = doc(DocKind::PublicAccessBlock) {
        // A switch the account's block turns on is on for every bucket, whatever the bucket says.
        let account = estate.account_public_access_block.unwrap_or_default();
        let off: Vec<&str> = [
            (p.block_public_acls || account.block_public_acls, "block_public_acls"),
            (p.ignore_public_acls || account.ignore_public_acls, "ignore_public_acls"),
            (
                p.block_public_policy || account.block_public_policy,
                "block_public_policy",
            ),
            (
                p.restrict_public_buckets || account.restrict_public_buckets,
                "restrict_public_buckets",
            ),
        ]
        .into_iter()
        .filter(|(on, _)| !on)
        .map(|(_, n)| n)
        .collect();
        if !off.is_empty() {
            let (k, fl) = at(DocKind::PublicAccessBlock);
            f.push(RuleId::PublicAccessBlockOff, k, fl, format!("off: {}", off.join(", ")));
        }
    }
    if let Some(Doc::Ownership(o)) = doc(DocKind::Ownership)
        && o.as_deref() != Some("BucketOwnerEnforced")
    {
        let (k, fl) = at(DocKind::Ownership);
        f.push(
            RuleId::AclsEnabled,
            k,
            fl,
            format!("object ownership is {}", o.as_deref().unwrap_or("not set")),
        );
    }
    match doc(DocKind::Encryption) {
        Some(Doc::Encryption(None)) => {
            let (k, fl) = at(DocKind::Encryption);
            f.push(
                RuleId::NoDefaultEncryption,
                k,
                fl,
                "no default encryption configuration".into(),
            );
        }
        Some(Doc::Encryption(Some(e))) if e.algorithm.starts_with("aws:kms") && !e.bucket_key => {
            let (k, fl) = at(DocKind::Encryption);
            f.push(
                RuleId::KmsWithoutBucketKey,
                k,
                fl,
                format!("{} without bucket_key", e.algorithm),
            );
        }
        _ => {}
    }

    // Versioning and lifecycle.
    let versioning = match doc(DocKind::Versioning) {
        Some(Doc::Versioning(v)) => Some(*v),
        _ => None,
    };
    let replicates = matches!(doc(DocKind::Replication), Some(Doc::Replication(Some(_))));
    let replica = replica_destinations.contains(&bucket_arn(&b.name));
    if (replicates || replica || b.backup) && versioning.is_some_and(|v| v != VersioningState::Enabled) {
        let why = if replicates {
            "it replicates to another bucket"
        } else if replica {
            "it receives replicas"
        } else {
            "it is the destination of a sync mapping (a backup)"
        };
        let (k, fl) = at(DocKind::Versioning);
        f.push(
            RuleId::VersioningOff,
            k,
            fl,
            format!("versioning is not enabled but {why}"),
        );
    } else if (replicates || replica || b.backup) && versioning.is_none() {
        f.push(
            RuleId::VersioningOff,
            None,
            None,
            "versioning is not managed, but the bucket is replicated or a backup".into(),
        );
    }
    let rules = match doc(DocKind::Lifecycle) {
        Some(Doc::Lifecycle(rules)) => Some(rules.as_slice()),
        _ => None,
    };
    let lifecycle_at = if rules.is_some() {
        at(DocKind::Lifecycle)
    } else {
        (None, None)
    };
    if versioning == Some(VersioningState::Enabled) {
        let expires = rules
            .unwrap_or_default()
            .iter()
            .any(|r| r.enabled && (r.noncurrent_expiration_days.is_some() || r.noncurrent_newer_versions.is_some()));
        if !expires {
            f.push(
                RuleId::NoNoncurrentExpiration,
                lifecycle_at.0,
                lifecycle_at.1,
                "no enabled lifecycle rule expires noncurrent versions".into(),
            );
        }
    }
    let aborts = rules.unwrap_or_default().iter().any(|r| {
        r.enabled
            && r.abort_incomplete_multipart_upload_days.is_some()
            && r.prefix.as_deref().unwrap_or("").is_empty()
            && r.tags.is_empty()
    });
    if !aborts {
        f.push(
            RuleId::NoAbortMultipart,
            lifecycle_at.0,
            lifecycle_at.1,
            "no enabled whole-bucket lifecycle rule sets abort_incomplete_multipart_upload_days".into(),
        );
    }

    // Logging, and the delivery into the target.
    match doc(DocKind::Logging) {
        Some(Doc::Logging(Some(l))) => logging_delivery(estate, b, &l.target_bucket, &l.prefix, f),
        _ if logging_targets.contains(b.name.as_str()) => {}
        Some(Doc::Logging(None)) => {
            let (k, fl) = at(DocKind::Logging);
            f.push(RuleId::AccessLoggingOff, k, fl, "server access logging is off".into());
        }
        _ => f.push(
            RuleId::AccessLoggingOff,
            None,
            None,
            "the manifest does not configure server access logging".into(),
        ),
    }
}

fn bucket_policy_rules(estate: &Estate, b: &BucketView, p: &Policy, f: &mut Sink<'_>) {
    let k = Some(DocKind::Policy);
    let fl = Some("policy");
    let public = p.public_access(&b.name);
    for (rule, opened, what) in [
        (RuleId::PublicRead, &public.read, "read objects"),
        (RuleId::PublicWrite, &public.write, "write or delete objects"),
        (RuleId::PublicList, &public.list, "list the bucket"),
    ] {
        if !opened.is_empty() {
            f.push(
                rule,
                k,
                fl,
                format!(
                    "{} lets anyone {what}, with no restricting condition",
                    statements(opened)
                ),
            );
        }
    }
    match p.tls_deny(&b.name) {
        TlsDeny::Complete => {}
        TlsDeny::Absent => f.push(
            RuleId::NoTlsDeny,
            k,
            fl,
            "no statement denies requests without TLS".into(),
        ),
        TlsDeny::Partial { bucket, objects } => {
            let mut missing = Vec::new();
            if !bucket {
                missing.push(format!("the bucket ARN {}", bucket_arn(&b.name)));
            }
            if !objects {
                missing.push(format!("the objects {}/*", bucket_arn(&b.name)));
            }
            f.push(
                RuleId::PartialTlsDeny,
                k,
                fl,
                format!("the TLS-only deny leaves out {}", missing.join(" and ")),
            );
        }
    }
    let others = p.other_accounts(&estate.account);
    if !others.is_empty() {
        f.push(
            RuleId::CrossAccountGrant,
            k,
            fl,
            format!("grants account(s) {}", others.join(", ")),
        );
    }
    let conditional = p.enforces_conditional_writes();
    if !conditional.is_empty() {
        f.push(
            RuleId::ConditionalWritesEnforced,
            k,
            fl,
            format!(
                "{} denies PutObject without a conditional-write header",
                statements(&conditional)
            ),
        );
    }
}

/// Whether the logging target lets the logging service write this source's logs.
fn logging_delivery(estate: &Estate, source: &BucketView, target: &str, prefix: &str, f: &mut Sink<'_>) {
    let Some(t) = estate.buckets.iter().find(|t| t.name == target) else {
        return;
    };
    let refusal = match t.docs.get(&DocKind::Policy) {
        // Unknown: the manifest leaves the target's policy out and AWS was not asked.
        None => return,
        Some(Doc::Policy(None)) => Some("the target bucket has no policy".to_string()),
        Some(Doc::Policy(Some(json))) => match Policy::parse(json) {
            Err(e) => Some(format!("the target's policy cannot be read: {e}")),
            Ok(p) => {
                let object = format!("{}/{prefix}s3rec-probe-log-object", bucket_arn(target));
                let decision = p.decide(&Request {
                    caller: Caller::Service(LOGGING_SERVICE),
                    action: "s3:PutObject",
                    resource: &object,
                    context: vec![
                        ("aws:sourcearn".into(), bucket_arn(&source.name)),
                        ("aws:sourceaccount".into(), estate.account.clone()),
                        ("aws:securetransport".into(), "true".into()),
                    ],
                });
                match decision {
                    Decision::Allow => None,
                    Decision::Deny => Some(format!(
                        "a Deny in the target's policy refuses {LOGGING_SERVICE} s3:PutObject on {}/{prefix}*",
                        bucket_arn(target)
                    )),
                    Decision::Implicit => Some(format!(
                        "no statement of the target's policy allows {LOGGING_SERVICE} s3:PutObject on {}/{prefix}* for this bucket",
                        bucket_arn(target)
                    )),
                }
            }
        },
        Some(_) => None,
    };
    if let Some(why) = refusal {
        f.push(
            RuleId::LoggingTargetRefuses,
            Some(DocKind::Logging),
            Some("logging"),
            format!("logs into `{}`: {why}", t.logical),
        );
    }
}

fn identity_rules(i: &IdentityView, f: &mut Sink<'_>) {
    let documents = i
        .documents
        .iter()
        .map(|d| (d, Origin::Manifest))
        .chain(i.live_documents.iter().map(|d| (d, Origin::Live)));
    for ((doc, field), origin) in documents {
        let Ok(p) = Policy::parse(doc) else { continue };
        let field = field.as_str();
        if i.kind == IdentityKind::SnsTopic {
            for (rule, actions) in [
                (RuleId::SnsPublicPublish, &["SNS:Publish"][..]),
                (RuleId::SnsPublicSubscribe, &["SNS:Subscribe", "SNS:Receive"][..]),
            ] {
                let mut opened: Vec<usize> = actions
                    .iter()
                    .flat_map(|a| p.public_allows(a, |r| policy::glob_patterns(r, &i.arn)))
                    .filter(|_| {
                        !actions
                            .iter()
                            .all(|a| p.public_denied(a, |r| policy::glob_patterns(r, &i.arn)))
                    })
                    .collect();
                opened.sort_unstable();
                opened.dedup();
                if !opened.is_empty() {
                    let until = match origin {
                        Origin::Live => " (live now; apply sets the manifest's policy back)",
                        Origin::Manifest => "",
                    };
                    f.push_from(
                        rule,
                        origin,
                        Some(field),
                        format!("{} is open to everyone{until}", statements(&opened)),
                    );
                }
            }
            continue;
        }
        for (rule, hits, what) in [
            (
                RuleId::IamFullAdmin,
                p.allows_everything(),
                "allows every action on every resource",
            ),
            (
                RuleId::IamS3AllBuckets,
                p.allows_all_s3_on_every_bucket(),
                "allows s3:* on every bucket",
            ),
            (
                RuleId::IamPassRoleAny,
                p.allows_pass_any_role(),
                "allows iam:PassRole on every role",
            ),
            (
                RuleId::IamAllowNotAction,
                p.allow_not_action(),
                "is an Allow with NotAction",
            ),
        ] {
            if !hits.is_empty() {
                f.push(rule, None, Some(field), format!("{} {what}", statements(&hits)));
            }
        }
    }
    for name in &i.unmanaged_inline {
        f.push(
            RuleId::IamUnmanagedInline,
            None,
            None,
            format!("inline policy `{name}` is not in the manifest"),
        );
    }
    for arn in &i.unmanaged_attached {
        f.push(
            RuleId::IamUnmanagedAttached,
            None,
            None,
            format!("attached policy {arn} is not in the manifest"),
        );
    }
}

/// The actions S3 needs from a replication role, and on what: the source bucket, its objects, or
/// the destination's objects.
const REPLICATION_ACTIONS: &[(&str, ReplicationTarget)] = &[
    ("s3:GetReplicationConfiguration", ReplicationTarget::SourceBucket),
    ("s3:ListBucket", ReplicationTarget::SourceBucket),
    ("s3:GetObjectVersionForReplication", ReplicationTarget::SourceObjects),
    ("s3:GetObjectVersionAcl", ReplicationTarget::SourceObjects),
    ("s3:GetObjectVersionTagging", ReplicationTarget::SourceObjects),
    ("s3:ReplicateObject", ReplicationTarget::DestinationObjects),
    ("s3:ReplicateDelete", ReplicationTarget::DestinationObjects),
    ("s3:ReplicateTags", ReplicationTarget::DestinationObjects),
];

#[derive(Debug, Clone, Copy)]
enum ReplicationTarget {
    SourceBucket,
    SourceObjects,
    DestinationObjects,
}

/// The statement a replication role needs, for docs and hints.
pub fn replication_statement_actions() -> Vec<&'static str> {
    REPLICATION_ACTIONS.iter().map(|(a, _)| *a).collect()
}

fn replication_rules(estate: &Estate, out: &mut Vec<Finding>) {
    for b in &estate.buckets {
        let Some(Doc::Replication(Some(r))) = b.docs.get(&DocKind::Replication) else {
            continue;
        };
        let Some(role) = estate
            .identities
            .iter()
            .find(|i| i.kind == IdentityKind::IamRole && i.arn == r.role_arn)
        else {
            continue;
        };
        let mut policies: Vec<Policy> = role
            .documents
            .iter()
            .filter_map(|(d, _)| Policy::parse(d).ok())
            .collect();
        policies.extend(
            estate
                .identities
                .iter()
                .filter(|p| p.kind == IdentityKind::IamPolicy && role.attached.contains(&p.arn))
                .flat_map(|p| p.documents.iter().filter_map(|(d, _)| Policy::parse(d).ok())),
        );
        let source = bucket_arn(&b.name);
        let mut missing = BTreeSet::new();
        for rule in &r.rules {
            for (action, on) in REPLICATION_ACTIONS {
                let resource = match on {
                    ReplicationTarget::SourceBucket => source.clone(),
                    ReplicationTarget::SourceObjects => format!("{source}/s3rec-probe-key"),
                    ReplicationTarget::DestinationObjects => format!("{}/s3rec-probe-key", rule.destination_bucket_arn),
                };
                let request = Request {
                    caller: Caller::Itself,
                    action,
                    resource: &resource,
                    context: Vec::new(),
                };
                let decisions: Vec<Decision> = policies.iter().map(|p| p.decide(&request)).collect();
                let allowed = decisions.contains(&Decision::Allow) && !decisions.contains(&Decision::Deny);
                if !allowed {
                    missing.insert(format!("{action} on {resource}").replace("/s3rec-probe-key", "/*"));
                }
            }
        }
        if !missing.is_empty() {
            let mut f = Sink {
                out,
                resource: format!("{}.{}", IdentityKind::IamRole, role.logical),
                base: format!("/iam/roles/{}", crate::manifest::yaml::escape_pointer(&role.logical)),
                live: &BTreeSet::new(),
                acks: &role.acks,
            };
            f.push(
                RuleId::ReplicationRoleActions,
                None,
                None,
                format!(
                    "replicates bucket `{}` but is not allowed: {}",
                    b.logical,
                    missing.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
}

/// Whether a finding at or above `threshold` is not acknowledged.
pub fn fails(findings: &[Finding], threshold: Severity) -> bool {
    findings
        .iter()
        .any(|f| f.acknowledged.is_none() && f.severity() >= threshold)
}
