//! The estate as the manifest alone describes it, for `validate` (no AWS): the desired model built
//! with a stand-in account, the roles buckets play, and the acknowledgements written next to each
//! resource. Also where a finding sits in the manifest's files.

use std::collections::{BTreeMap, BTreeSet};

use super::{Ack, BucketView, Estate, Finding, IdentityView, RuleId};
use crate::manifest::Manifest;
use crate::manifest::types::Acknowledgement;
use crate::manifest::yaml::{Span, SpanIndex};
use crate::model::desired::{self, Context, DesiredError};
use crate::model::identity::{self, DesiredIdentity, IdentityDoc, IdentityKind, PartKind};

/// The account that stands for "this account" when no AWS is asked. `${account_id}` resolves to it,
/// so principals of the manifest's own account are recognised as such; it is no real account.
pub const MANIFEST_ACCOUNT: &str = "000000000000";

/// The estate the manifest describes, judged without AWS.
pub fn estate(manifest: &Manifest) -> Result<Estate, DesiredError> {
    let region = manifest.aws.region.clone().unwrap_or_else(|| "us-east-1".to_string());
    let ctx = Context {
        manifest,
        account_id: Some(manifest.aws.account_id.as_deref().unwrap_or(MANIFEST_ACCOUNT)),
        default_region: &region,
    };
    let buckets = desired::buckets(&ctx)?;
    let identities = identity::identities(&ctx, ".s3rec/secrets")?;
    Ok(Estate {
        account: ctx.account_id.unwrap_or(MANIFEST_ACCOUNT).to_string(),
        buckets: buckets
            .into_iter()
            .map(|b| BucketView {
                backup: is_backup(manifest, &b.logical),
                acks: manifest
                    .buckets
                    .get(&b.logical)
                    .map(|m| acks(&m.acknowledge))
                    .unwrap_or_default(),
                logical: b.logical,
                name: b.name,
                docs: b.docs,
                live: BTreeSet::new(),
            })
            .collect(),
        identities: identities.iter().map(|i| identity_view(manifest, i)).collect(),
        account_public_access_block: super::account_block(&identities),
    })
}

/// Whether a sync mapping (or one of its routes) writes into the bucket: a backup.
fn is_backup(manifest: &Manifest, logical: &str) -> bool {
    manifest
        .sync
        .values()
        .any(|s| s.bucket == logical || s.routes.iter().any(|r| r.bucket == logical))
}

pub(crate) fn acks(written: &[Acknowledgement]) -> Vec<Ack> {
    written
        .iter()
        .filter_map(|a| {
            Some(Ack {
                rule: RuleId::parse(&a.finding)?,
                reason: a.reason.clone(),
            })
        })
        .collect()
}

/// The acknowledgements the manifest writes for an identity.
pub(crate) fn identity_acks(manifest: &Manifest, kind: IdentityKind, logical: &str) -> Vec<Ack> {
    let written = match kind {
        IdentityKind::IamUser => manifest.iam.users.get(logical).map(|u| &u.acknowledge),
        IdentityKind::IamRole => manifest.iam.roles.get(logical).map(|r| &r.acknowledge),
        IdentityKind::IamPolicy => manifest.iam.policies.get(logical).map(|p| &p.acknowledge),
        IdentityKind::SnsTopic => manifest.sns.topics.get(logical).map(|t| &t.acknowledge),
        IdentityKind::Account => None,
    };
    written.map(|w| acks(w)).unwrap_or_default()
}

/// The rules' view of a desired identity: its policy documents with where the manifest writes them.
pub fn identity_view(manifest: &Manifest, i: &DesiredIdentity) -> IdentityView {
    let mut documents = Vec::new();
    let mut attached = BTreeSet::new();
    match &i.main {
        IdentityDoc::Policy(p) => documents.push((p.document.clone(), "statements".to_string())),
        IdentityDoc::User(_) | IdentityDoc::Role(_) | IdentityDoc::Topic(_) => {}
        _ => {}
    }
    let parts: &BTreeMap<PartKind, IdentityDoc> = &i.parts;
    for doc in parts.values() {
        match doc {
            IdentityDoc::InlinePolicy(Some(p)) => documents.push((p.clone(), "grants".to_string())),
            IdentityDoc::TopicPolicy(p) => documents.push((p.clone(), String::new())),
            IdentityDoc::Attachments(arns) => attached.extend(arns.iter().cloned()),
            _ => {}
        }
    }
    IdentityView {
        kind: i.kind,
        logical: i.logical.clone(),
        arn: i.arn.clone(),
        documents,
        attached,
        live_documents: Vec::new(),
        unmanaged_inline: Vec::new(),
        unmanaged_attached: Vec::new(),
        acks: identity_acks(manifest, i.kind, &i.logical),
    }
}

/// Where a finding is written: its setting, or the `defaults` entry the bucket inherits it from,
/// or the nearest written ancestor (the resource itself for a setting it leaves out).
pub fn locate(finding: &Finding, index: &SpanIndex) -> Option<Span> {
    let pointer = finding.pointer.trim_end_matches('/');
    if !index.contains(pointer)
        && let Some(rest) = pointer.strip_prefix("/buckets/")
        && let Some((_, field)) = rest.split_once('/')
    {
        let inherited = format!("/defaults/{field}");
        if index.contains(&inherited) {
            return index.locate(&inherited).map(|l| l.value);
        }
    }
    index.locate(pointer).map(|l| l.key.unwrap_or(l.value))
}

/// Places every finding in the manifest's files. `file_name` turns a file into the name shown (a
/// display path for people, a repository-relative URI for SARIF).
pub fn locate_all(
    findings: Vec<Finding>,
    index: &SpanIndex,
    sources: &crate::manifest::Sources,
    file_name: &dyn Fn(crate::manifest::yaml::FileId) -> String,
) -> Vec<super::render::Located> {
    findings
        .into_iter()
        .map(|finding| {
            let location = locate(&finding, index).map(|span| {
                let (_, line, column) = sources.position(span);
                super::render::Location {
                    file: file_name(span.file),
                    line,
                    column,
                }
            });
            super::render::Located { finding, location }
        })
        .collect()
}

/// The findings of a loaded manifest, placed; none when it did not load (its errors come first).
pub fn of_loaded(
    loaded: &crate::manifest::Loaded,
    file_name: &dyn Fn(crate::manifest::yaml::FileId) -> String,
) -> Vec<super::render::Located> {
    let Some(manifest) = &loaded.manifest else {
        return Vec::new();
    };
    let Ok(estate) = estate(manifest) else {
        return Vec::new();
    };
    locate_all(super::analyze(&estate), &loaded.index, &loaded.sources, file_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pab_off(yaml: &str) -> Vec<String> {
        let m = crate::manifest::load::valid_for_tests(yaml);
        crate::findings::analyze(&estate(&m).expect("estate"))
            .into_iter()
            .filter(|f| f.rule == RuleId::PublicAccessBlockOff)
            .map(|f| f.detail)
            .collect()
    }

    const BUCKET: &str = "environment: t\nbuckets:\n  site:\n    name: site-t\n    public_access_block: {block_public_policy: false, restrict_public_buckets: false}\n";

    #[test]
    fn a_bucket_switch_the_account_block_turns_on_is_not_off() {
        assert_eq!(pab_off(BUCKET), ["off: block_public_policy, restrict_public_buckets"]);
        let all_on = format!("{BUCKET}account:\n  public_access_block: {{}}\n");
        assert!(pab_off(&all_on).is_empty(), "the account's block covers every switch");
        let partly = format!("{BUCKET}account:\n  public_access_block: {{restrict_public_buckets: false}}\n");
        assert_eq!(pab_off(&partly), ["off: restrict_public_buckets"]);
    }
}
