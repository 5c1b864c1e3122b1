//! What the model generates from other resources, recognized against the model itself.
//!
//! Some statements depend on more than their own bucket: the log-delivery statement on a log target
//! names the buckets that log there, and `restrict_to` names identities of the manifest. Rather than
//! rebuilding them here, import tries each candidate in the manifest it is writing, builds the desired
//! documents through `model::desired` and `model::identity` (exactly what `plan` will compare), and
//! keeps the template only when the result equals the live document after normalization. Values the
//! model always generates and that differ from the live ones (a topic's access policy, a role's trust
//! policy written another way) are not written twice: they are reported as rewritten by the first apply.

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::related::Related;
use super::{Imported, Note, NoteKind, Request};
use crate::manifest::types::{Bucket, BucketPolicy, IdentityRef, Manifest, Statement};
use crate::model::desired::{self, Context, statement_json};
use crate::model::identity::{self, IdentityDoc, IdentityKind, PartKind};
use crate::model::{Doc, DocKind, ObservedBucket};

/// The manifest `imported` is, with `${env}` resolved, as `manifest::load` would give it.
fn manifest_of(imported: &Imported, environment: &str) -> Manifest {
    let resolve = |s: &str| s.replace("${env}", environment);
    let mut iam = imported.iam.clone();
    for u in iam.users.values_mut() {
        u.name = u.name.as_deref().map(resolve);
    }
    for r in iam.roles.values_mut() {
        r.name = r.name.as_deref().map(resolve);
    }
    for p in iam.policies.values_mut() {
        p.name = p.name.as_deref().map(resolve);
    }
    let mut sns = imported.sns.clone();
    for t in sns.topics.values_mut() {
        t.name = t.name.as_deref().map(resolve);
    }
    Manifest {
        environment: environment.to_string(),
        extends: None,
        aws: Default::default(),
        state: Default::default(),
        defaults: Default::default(),
        account: Default::default(),
        buckets: imported
            .buckets
            .iter()
            .map(|(logical, b)| {
                (
                    logical.clone(),
                    Bucket {
                        name: resolve(&b.name),
                        ..b.clone()
                    },
                )
            })
            .collect::<IndexMap<_, _>>(),
        iam,
        sns,
        sync: IndexMap::new(),
        migrations: IndexMap::new(),
        report: None,
    }
}

/// The policy `plan` would want for bucket `logical` of `imported`.
fn desired_policy(imported: &Imported, logical: &str, req: &Request<'_>, account: &str) -> Option<Doc> {
    let m = manifest_of(imported, req.environment);
    let ctx = Context {
        manifest: &m,
        account_id: Some(account),
        default_region: req.default_region,
    };
    let buckets = desired::buckets(&ctx).ok()?;
    buckets
        .into_iter()
        .find(|b| b.logical == logical)?
        .docs
        .remove(&DocKind::Policy)
}

/// A raw statement that may be one the model generates.
enum Candidate {
    /// The statement that lets `logging.s3.amazonaws.com` deliver access logs, or `s3.amazonaws.com`
    /// inventory reports: left to the model.
    LogDelivery,
    /// `restrict_to` with these identities.
    RestrictTo(Vec<IdentityRef>),
}

fn candidate(s: &Statement, account: &str) -> Option<Candidate> {
    let json = statement_json(s);
    if json["Principal"]["Service"] == crate::findings::LOGGING_SERVICE
        || crate::model::kinds::inventory::is_delivery_statement(&json)
    {
        return Some(Candidate::LogDelivery);
    }
    if json["Sid"] == "RestrictToNamedIdentities" && json["Effect"] == "Deny" {
        let root = format!("arn:aws:iam::{account}:root");
        let allowed = match &json["Condition"]["ArnNotLike"]["aws:PrincipalArn"] {
            Json::String(s) => vec![s.clone()],
            Json::Array(items) => items.iter().filter_map(Json::as_str).map(str::to_string).collect(),
            _ => return None,
        };
        let mut refs = Vec::new();
        for a in allowed.iter().filter(|a| **a != root) {
            let inner = a.strip_prefix("${")?.strip_suffix(".arn}")?;
            refs.push(match inner.split_once('.')? {
                ("user", name) => IdentityRef::User(name.to_string()),
                ("role", name) => IdentityRef::Role(name.to_string()),
                _ => return None,
            });
        }
        return (!refs.is_empty()).then_some(Candidate::RestrictTo(refs));
    }
    None
}

/// Replaces raw statements by the templates that generate them, where the model gives back the live
/// policy exactly. A policy left with nothing is left out (the model still manages it when it
/// generates something for it, as on a log target).
pub fn leave_generated_to_the_model(
    imported: &mut Imported,
    live: &[ObservedBucket],
    req: &Request<'_>,
    account: &str,
) {
    let logicals: Vec<String> = imported.buckets.keys().cloned().collect();
    for logical in logicals {
        let Some(policy) = imported.buckets[&logical].policy.clone() else {
            continue;
        };
        let physical = imported.buckets[&logical].name.replace("${env}", req.environment);
        let Some(live_policy) = live
            .iter()
            .find(|b| b.name == physical)
            .and_then(|b| b.docs.get(&DocKind::Policy))
        else {
            continue;
        };
        let mut current = policy;
        for i in (0..current.statements.len()).rev() {
            let Some(candidate) = candidate(&current.statements[i], account) else {
                continue;
            };
            let mut trial: BucketPolicy = current.clone();
            trial.statements.remove(i);
            match candidate {
                Candidate::LogDelivery => {}
                Candidate::RestrictTo(refs) if trial.restrict_to.is_empty() => trial.restrict_to = refs,
                Candidate::RestrictTo(_) => continue,
            }
            let empty = trial == BucketPolicy::default();
            let before = imported.buckets[&logical].policy.clone();
            if let Some(b) = imported.buckets.get_mut(&logical) {
                b.policy = (!empty).then_some(trial.clone());
            }
            if desired_policy(imported, &logical, req, account).as_ref() == Some(live_policy) {
                current = trial;
            } else if let Some(b) = imported.buckets.get_mut(&logical) {
                b.policy = before;
            }
        }
    }
}

/// Notes for imported IAM and SNS values that the model generates differently from the live ones:
/// the first apply rewrites them, and the plan shows each one as an update.
pub fn rewritten_identities(imported: &Imported, related: &Related, req: &Request<'_>, account: &str) -> Vec<Note> {
    let m = manifest_of(imported, req.environment);
    let ctx = Context {
        manifest: &m,
        account_id: Some(account),
        default_region: req.default_region,
    };
    // Only ARNs and values matter here; where access-key secrets would go does not.
    let Ok(desired) = identity::identities(&ctx, ".s3rec/secrets") else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    for d in desired {
        let Some(observed) = related.live.get(&d.arn).and_then(|l| l.observed.as_ref()) else {
            continue;
        };
        let address = format!("{}.{}", d.kind, d.logical);
        if observed.main != d.main {
            notes.push(Note {
                address: address.clone(),
                kind: NoteKind::Rewritten,
                reason: match d.kind {
                    IdentityKind::IamRole => {
                        "its trust policy is written differently from the way s3rec writes it (one statement per kind of principal, Sids TrustServices and TrustPrincipals); the plan shows the update".to_string()
                    }
                    IdentityKind::IamUser | IdentityKind::IamPolicy | IdentityKind::SnsTopic | IdentityKind::Account => {
                        "the live value differs from what the manifest generates; the plan shows the update".to_string()
                    }
                },
            });
        }
        for (part, want) in &d.parts {
            let have = observed
                .parts
                .get(part)
                .cloned()
                .or_else(|| IdentityDoc::unconfigured(*part));
            if have.as_ref() == Some(want) {
                continue;
            }
            let reason = match part {
                PartKind::TopicPolicy => "its access policy differs from the one s3rec generates (the account manages the topic; S3 may publish from exactly the imported buckets that notify it); the plan shows the update, and permissions only the live policy grants are lost".to_string(),
                PartKind::InlinePolicy
                | PartKind::Attachments
                | PartKind::AccessKey
                | PartKind::Subscriptions => {
                    "the live value differs from what the manifest generates; the plan shows the update".to_string()
                }
            };
            notes.push(Note {
                address: format!("{address}.{part}"),
                kind: NoteKind::Rewritten,
                reason,
            });
        }
    }
    notes
}
