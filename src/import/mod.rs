//! `s3rec import`: live buckets → manifest. Pure: the AWS reads happen in `aws::read` (driven by the
//! command), and this module turns the canonical observed documents into manifest types, which
//! [`emit`] writes as YAML.
//!
//! The output must plan with no change: every document written here builds, through
//! `model::desired`, the very document it was read from. A document the manifest cannot express that
//! way (a queue notification, a policy with an `Id`, a tag with an `aws:` key, a reference to a role
//! or topic the manifest does not hold) is left out, which leaves it unmanaged, and a [`Note`] says so.
//! Documents equal to what AWS gives a new bucket are left out too: the manifest says what is special.

pub mod emit;
pub mod naming;
pub mod policy;
pub mod related;
pub mod select;
pub mod templates;
pub mod unmanaged;

use indexmap::IndexMap;

use crate::manifest::types::{Bucket, Iam, Sns, StorageClass};
use crate::model::{Doc, DocKind, ObservedBucket};
use naming::Names;
use related::{Related, Resolved};

/// What an import is asked for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub environment: &'a str,
    /// The manifest's default region: buckets elsewhere get their own `region:`.
    pub default_region: &'a str,
    /// Removed from the front of physical names to make logical names (`--prefix`).
    pub strip_prefix: Option<&'a str>,
    /// The caller's account (from STS): the generated statements and the ARNs of related resources
    /// are compared with what the model builds for it. Without it, nothing is left to the model.
    pub account: Option<&'a str>,
    /// `--with-related`: the IAM and SNS resources the buckets name, as read. `None` without the flag.
    pub related: Option<&'a Related>,
}

/// The imported buckets, by logical name in physical-name order, the related IAM and SNS resources,
/// and what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub buckets: IndexMap<String, Bucket>,
    pub iam: Iam,
    pub sns: Sns,
    pub notes: Vec<Note>,
}

/// Something a reviewer must know about the import: a document that stays unmanaged because the
/// manifest cannot say it as it is, or an imported value the first apply rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The address it is about: `bucket.logs.notifications`, `sns_topic.events.policy`.
    pub address: String,
    pub kind: NoteKind,
    pub reason: String,
}

/// What a [`Note`] says happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// Not written: stays unmanaged.
    LeftOut,
    /// Written, but the manifest generates it differently: the first apply rewrites it (the plan shows
    /// the update).
    Rewritten,
}

impl Note {
    fn left_out(logical: &str, kind: DocKind, reason: String) -> Note {
        Note {
            address: format!("bucket.{logical}.{kind}"),
            kind: NoteKind::LeftOut,
            reason,
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            NoteKind::LeftOut => write!(f, "{} is left out (unmanaged): {}", self.address, self.reason),
            NoteKind::Rewritten => write!(
                f,
                "{} is imported, but the first apply rewrites it: {}",
                self.address, self.reason
            ),
        }
    }
}

/// What documents are converted against: the imported buckets' names and the related resources.
pub struct Refs<'a> {
    pub(crate) names: &'a Names,
    pub(crate) resolved: &'a Resolved,
    /// Whether `--with-related` was given (the hint of a left-out notification or replication).
    pub(crate) with_related: bool,
}

/// Converts `live` buckets (every document read) into manifest buckets.
pub fn import(req: &Request<'_>, live: &[ObservedBucket]) -> Imported {
    let physical: Vec<String> = live.iter().map(|b| b.name.clone()).collect();
    let names = Names::new(&physical, req.environment, req.strip_prefix);
    let mut sorted: Vec<&ObservedBucket> = live.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let empty = Related::default();
    let related = req.related.unwrap_or(&empty);
    let resolved = related::resolve(related, req.environment, req.strip_prefix, req.default_region);
    let refs = Refs {
        names: &names,
        resolved: &resolved,
        with_related: req.related.is_some(),
    };
    let mut buckets = IndexMap::new();
    let mut notes = Vec::new();
    for b in sorted {
        let Some(named) = names.get(&b.name) else { continue };
        let mut bucket = Bucket {
            name: named.template.clone(),
            region: (b.region != req.default_region).then(|| b.region.clone()),
            ..Bucket::default()
        };
        for doc in b.docs.values() {
            if is_aws_default(doc) {
                continue;
            }
            if let Err(reason) = doc.to_manifest(&mut bucket, &b.name, &refs) {
                notes.push(Note::left_out(&named.logical, doc.kind(), reason));
            }
        }
        buckets.insert(named.logical.clone(), bucket);
    }
    let entries = related::entries(
        related,
        &resolved,
        &|physical| naming::template_of(physical, req.environment),
        &|statement| policy::with_references(statement, &names, &resolved),
    );
    let mut imported = Imported {
        buckets,
        iam: Iam {
            users: entries.users,
            roles: entries.roles,
            policies: entries.policies,
        },
        sns: Sns { topics: entries.topics },
        notes,
    };
    if let Some(account) = req.account {
        templates::leave_generated_to_the_model(&mut imported, live, req, account);
        let rewritten = templates::rewritten_identities(&imported, related, req, account);
        imported.notes.extend(rewritten);
    }
    imported
}

/// Whether `doc` is what a bucket created today on AWS has without anyone configuring it (or what the
/// manifest can only say by leaving the document out): such documents are not written.
///
/// - versioning never enabled; no tags, lifecycle rules, policy, logging, CORS, notifications or
///   replication;
/// - default encryption SSE-S3 without a bucket key, or none at all (AWS encrypts every new object
///   with SSE-S3 since 2023; some S3-compatible servers report no configuration);
/// - all four public access block switches on, and ownership `BucketOwnerEnforced` (the defaults of
///   new buckets since April 2023); no ownership controls at all, which the manifest cannot write.
pub fn is_aws_default(doc: &Doc) -> bool {
    doc.is_aws_default()
}

/// Why a related resource that a document names is not in the manifest: the hint to use
/// `--with-related`, or why even that cannot write it.
pub(crate) fn not_imported(refs: &Refs<'_>, what: &str, arn: &str) -> String {
    if !refs.with_related {
        return format!(
            "it names {what} {arn}, which the manifest can only name as its own entry; use --with-related to import it too"
        );
    }
    match refs.resolved.why_not(arn) {
        Some(why) => format!("it names {what} {arn}, which is not imported: {why}"),
        None => format!("it names {what} {arn}, which is not imported"),
    }
}

/// `${env}` in a value would be replaced by the environment name when the manifest loads.
pub(crate) fn refuse_env_text<'a>(mut values: impl Iterator<Item = &'a String>) -> Result<(), String> {
    match values.find(|v| v.contains("${env}")) {
        Some(v) => Err(format!(
            "`{v}` contains `${{env}}`, which the manifest would replace by the environment name"
        )),
        None => Ok(()),
    }
}

pub(crate) fn storage_class(name: &str) -> Result<StorageClass, String> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| format!("the manifest has no storage class `{name}`"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::VersioningState;
    use crate::model::desired::{self, Context};
    use crate::model::{EncryptionDoc, LoggingDoc, PublicAccessBlockDoc, TransitionDoc};
    use crate::model::{LifecycleRuleDoc, NotificationTarget};

    fn observed(name: &str, region: &str, docs: Vec<Doc>) -> ObservedBucket {
        let mut all: BTreeMap<DocKind, Doc> = DocKind::ALL.into_iter().map(|k| (k, Doc::unconfigured(k))).collect();
        for d in docs {
            all.insert(d.kind(), d.canonical());
        }
        ObservedBucket {
            name: name.to_string(),
            region: region.to_string(),
            docs: all,
            non_empty: None,
        }
    }

    fn req() -> Request<'static> {
        Request {
            environment: "prod",
            default_region: "us-east-1",
            strip_prefix: None,
            account: Some("123456789012"),
            related: None,
        }
    }

    /// What `live` imports to: the manifest YAML, what it says read back through the desired model, and
    /// the import itself.
    fn imported_and_desired(live: &[ObservedBucket]) -> (String, Vec<crate::model::DesiredBucket>, Imported) {
        let imported = import(&req(), live);
        let yaml = emit::manifest_yaml(&emit::Header::default(), "prod", &Default::default(), &imported);
        let m = crate::manifest::load::valid_for_tests(&yaml);
        let ctx = Context {
            manifest: &m,
            account_id: Some("123456789012"),
            default_region: "us-east-1",
        };
        let desired = desired::buckets(&ctx).expect("desired");
        (yaml, desired, imported)
    }

    /// The policy the desired model gives bucket `name` once `live` is imported.
    fn desired_policy_of(live: &[ObservedBucket], name: &str) -> Doc {
        let (_, desired, _) = imported_and_desired(live);
        let bucket = desired.iter().find(|d| d.name == name).expect("imported bucket");
        bucket.docs.get(&DocKind::Policy).cloned().expect("a generated policy")
    }

    /// The manifest the import writes, read back through the desired model, gives the live documents.
    fn assert_round_trip(live: &[ObservedBucket]) -> Imported {
        let (yaml, desired, imported) = imported_and_desired(live);
        for d in &desired {
            let l = live.iter().find(|l| l.name == d.name).expect("same bucket");
            assert_eq!(d.region, l.region, "{yaml}");
            for (kind, doc) in &d.docs {
                assert_eq!(Some(doc), l.docs.get(kind), "{kind} of {}\n{yaml}", d.name);
            }
        }
        imported
    }

    #[test]
    fn defaults_are_left_out() {
        let live = [observed(
            "acme-plain-prod",
            "us-east-1",
            vec![
                Doc::Encryption(Some(EncryptionDoc {
                    algorithm: "AES256".into(),
                    kms_key_id: None,
                    bucket_key: false,
                })),
                Doc::PublicAccessBlock(PublicAccessBlockDoc {
                    block_public_acls: true,
                    ignore_public_acls: true,
                    block_public_policy: true,
                    restrict_public_buckets: true,
                }),
                Doc::Ownership(Some("BucketOwnerEnforced".into())),
            ],
        )];
        let imported = assert_round_trip(&live);
        let b = &imported.buckets["acme-plain"];
        assert_eq!(
            b,
            &Bucket {
                name: "acme-plain-${env}".into(),
                ..Bucket::default()
            }
        );
        assert!(imported.notes.is_empty());
    }

    #[test]
    fn special_settings_round_trip_and_references_are_logical() {
        let mut rule = LifecycleRuleDoc::enabled("archive");
        rule.prefix = Some("logs/".into());
        rule.transitions.push(TransitionDoc {
            days: 30,
            storage_class: "STANDARD_IA".into(),
        });
        rule.expiration_days = Some(365);
        let live = [
            observed(
                "acme-app-prod",
                "eu-west-1",
                vec![
                    Doc::Versioning(VersioningState::Enabled),
                    Doc::Encryption(Some(EncryptionDoc {
                        algorithm: "aws:kms".into(),
                        kms_key_id: Some("arn:aws:kms:eu-west-1:123456789012:key/k".into()),
                        bucket_key: true,
                    })),
                    Doc::Tags(BTreeMap::from([("owner".into(), "Zoë «ops»: #1".into())])),
                    Doc::Lifecycle(vec![rule]),
                    Doc::Logging(Some(LoggingDoc {
                        target_bucket: "acme-logs-prod".into(),
                        prefix: "app/".into(),
                    })),
                    Doc::Ownership(Some("ObjectWriter".into())),
                ],
            ),
            observed("acme-logs-prod", "eu-west-1", vec![]),
        ];
        // A log target that receives logs carries the delivery statement (s3rec generates it on the
        // target, docs/findings.md); the estate as AWS holds it once logging works has it, and then the
        // round trip is exact (a target without it gets it added by the first apply, as it should).
        let mut live = live;
        let delivery = desired_policy_of(&live, "acme-logs-prod");
        live[1].docs.insert(DocKind::Policy, delivery);
        let imported = assert_round_trip(&live);
        let app = &imported.buckets["app"];
        assert_eq!(app.region.as_deref(), Some("eu-west-1"));
        assert_eq!(app.logging.as_ref().map(|l| l.target_bucket.as_str()), Some("logs"));
    }

    #[test]
    fn what_the_manifest_cannot_say_is_a_note_not_a_guess() {
        let live = [observed(
            "b-prod",
            "us-east-1",
            vec![
                Doc::Tags(BTreeMap::from([("aws:cloudformation:stack-name".into(), "s".into())])),
                Doc::Logging(Some(LoggingDoc {
                    target_bucket: "elsewhere".into(),
                    prefix: String::new(),
                })),
            ],
        )];
        let imported = import(&req(), &live);
        let addresses: Vec<&str> = imported.notes.iter().map(|n| n.address.as_str()).collect();
        assert_eq!(addresses, vec!["bucket.b.tags", "bucket.b.logging"]);
        assert!(imported.notes[1].to_string().contains("elsewhere"));
        assert_eq!(imported.buckets["b"].tags, None);
    }

    fn live_identity(arn: &str, observed: crate::model::identity::ObservedIdentity) -> (String, related::LiveIdentity) {
        let wanted = related::parse_arn(arn, "123456789012", "us-east-1").expect("arn of this account");
        (
            arn.to_string(),
            related::LiveIdentity {
                wanted,
                observed: Some(observed),
            },
        )
    }

    #[test]
    fn with_related_notifications_and_replication_name_entries_and_differences_are_said() {
        use crate::model::identity::{IdentityDoc, ObservedIdentity, PartKind, RoleDoc, TopicDoc};
        use crate::model::{NotificationDoc, ReplicationDoc, ReplicationRuleDoc};
        let topic = "arn:aws:sns:us-east-1:123456789012:events-prod";
        let role = "arn:aws:iam::123456789012:role/replicator";
        let live = [
            observed(
                "acme-src-prod",
                "us-east-1",
                vec![
                    Doc::Versioning(VersioningState::Enabled),
                    Doc::Notifications(vec![NotificationDoc {
                        id: "created".into(),
                        target: NotificationTarget::Topic,
                        arn: topic.into(),
                        events: vec!["s3:ObjectCreated:*".into()],
                        prefix: Some("in/".into()),
                        suffix: None,
                    }]),
                    Doc::Replication(Some(ReplicationDoc {
                        role_arn: role.into(),
                        rules: vec![ReplicationRuleDoc {
                            id: "all".into(),
                            priority: 0,
                            enabled: true,
                            prefix: None,
                            tags: BTreeMap::new(),
                            destination_bucket_arn: "arn:aws:s3:::acme-dst-prod".into(),
                            storage_class: None,
                            delete_marker_replication: false,
                        }],
                    })),
                ],
            ),
            observed(
                "acme-dst-prod",
                "eu-west-1",
                vec![Doc::Versioning(VersioningState::Enabled)],
            ),
        ];
        let sns_default = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "SNS:Publish",
            "Resource": topic, "Condition": {"StringEquals": {"AWS:SourceOwner": "123456789012"}}}]});
        // The trust as the console writes it: no Sid, so s3rec's spelling differs.
        let trust = crate::model::policy::normalize(&serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]}));
        let related = Related {
            live: [
                live_identity(
                    topic,
                    ObservedIdentity {
                        main: IdentityDoc::Topic(TopicDoc {
                            display_name: None,
                            tags: BTreeMap::new(),
                        }),
                        parts: BTreeMap::from([
                            (
                                PartKind::TopicPolicy,
                                IdentityDoc::TopicPolicy(crate::model::policy::normalize(&sns_default)),
                            ),
                            (PartKind::Subscriptions, IdentityDoc::Subscriptions(Default::default())),
                        ]),
                        pending_subscriptions: Vec::new(),
                        other_inline: Vec::new(),
                    },
                ),
                live_identity(
                    role,
                    ObservedIdentity {
                        main: IdentityDoc::Role(RoleDoc {
                            path: "/".into(),
                            description: None,
                            max_session_duration: 3600,
                            trust,
                            tags: BTreeMap::new(),
                        }),
                        parts: BTreeMap::from([
                            (PartKind::InlinePolicy, IdentityDoc::InlinePolicy(None)),
                            (PartKind::Attachments, IdentityDoc::Attachments(Default::default())),
                        ]),
                        pending_subscriptions: Vec::new(),
                        // Someone's own inline policy: left alone, not written.
                        other_inline: vec!["hand-made".into()],
                    },
                ),
            ]
            .into_iter()
            .collect(),
            unreadable: BTreeMap::new(),
        };
        let mut request = req();
        request.related = Some(&related);
        let imported = import(&request, &live);
        let src = &imported.buckets["src"];
        let n = &src.notifications.as_ref().expect("notifications")[0];
        assert_eq!((n.topic.as_str(), n.id.as_deref()), ("events", Some("created")));
        let r = src.replication.as_ref().expect("replication");
        assert_eq!(
            (r.role.as_str(), r.rules[0].destination.bucket.as_str()),
            ("replicator", "dst")
        );
        assert_eq!(imported.sns.topics["events"].name.as_deref(), Some("events-${env}"));
        assert_eq!(
            imported.iam.roles["replicator"].trust.services,
            vec!["s3.amazonaws.com"]
        );
        let said: Vec<String> = imported.notes.iter().map(ToString::to_string).collect();
        assert!(
            said.iter()
                .any(|n| n.starts_with("sns_topic.events.policy is imported, but the first apply rewrites it")),
            "{said:?}"
        );
        assert!(
            said.iter().any(|n| n.starts_with("iam_role.replicator is imported")),
            "{said:?}"
        );
        assert_eq!(said.len(), 2, "{said:?}");
    }

    #[test]
    fn without_related_a_notification_says_use_with_related_and_a_queue_says_why_never() {
        use crate::model::NotificationDoc;
        let config = |id: &str, target, arn: &str| NotificationDoc {
            id: id.into(),
            target,
            arn: arn.into(),
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: None,
            suffix: None,
        };
        let topic = [observed(
            "t-prod",
            "us-east-1",
            vec![Doc::Notifications(vec![config(
                "a",
                NotificationTarget::Topic,
                "arn:aws:sns:us-east-1:123456789012:x",
            )])],
        )];
        let imported = import(&req(), &topic);
        assert!(
            imported.notes[0].reason.contains("use --with-related"),
            "{:?}",
            imported.notes
        );
        let queue = [observed(
            "q-prod",
            "us-east-1",
            vec![Doc::Notifications(vec![config(
                "q",
                NotificationTarget::Queue,
                "arn:aws:sqs:us-east-1:123456789012:q",
            )])],
        )];
        let imported = import(&req(), &queue);
        assert!(
            imported.notes[0].reason.contains("the manifest has no queues"),
            "{:?}",
            imported.notes
        );
    }
}
