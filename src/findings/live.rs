//! The estate as `plan` sees it: the manifest's desired documents (what apply will make true), and for
//! every setting the manifest leaves out, what AWS has. Identities add what only AWS shows: inline
//! policies and attachments the manifest does not define.

use std::collections::BTreeMap;

use super::manifest::{acks, identity_acks, identity_view};
use super::{BucketView, Estate};
use crate::manifest::Manifest;
use crate::model::identity::{DesiredIdentity, IdentityDoc, ObservedIdentity, PartKind};
use crate::model::{DesiredBucket, ObservedBucket};
use crate::plan::Address;

/// The estate a plan judges. `observed` and `observed_identities` are what the plan read.
pub fn estate(
    manifest: &Manifest,
    account: &str,
    desired: &[DesiredBucket],
    observed: &BTreeMap<String, Option<ObservedBucket>>,
    desired_identities: &[DesiredIdentity],
    observed_identities: &BTreeMap<Address, Option<ObservedIdentity>>,
) -> Estate {
    let buckets = desired
        .iter()
        .map(|b| {
            let mut view = BucketView {
                logical: b.logical.clone(),
                name: b.name.clone(),
                docs: b.docs.clone(),
                backup: manifest
                    .sync
                    .values()
                    .any(|s| s.bucket == b.logical || s.routes.iter().any(|r| r.bucket == b.logical)),
                acks: manifest
                    .buckets
                    .get(&b.logical)
                    .map(|m| acks(&m.acknowledge))
                    .unwrap_or_default(),
                ..BucketView::default()
            };
            if let Some(Some(live)) = observed.get(&b.name) {
                for (kind, doc) in &live.docs {
                    if !view.docs.contains_key(kind) {
                        view.docs.insert(*kind, doc.clone());
                        view.live.insert(*kind);
                    }
                }
            }
            view
        })
        .collect();
    let identities = desired_identities
        .iter()
        .map(|d| {
            let mut view = identity_view(manifest, d);
            view.acks = identity_acks(manifest, d.kind, &d.logical);
            let address = Address::identity(d.kind, &d.logical, None);
            if let Some(Some(live)) = observed_identities.get(&address) {
                view.unmanaged_inline = live.other_inline.clone();
                if let (Some(want), Some(IdentityDoc::TopicPolicy(have))) = (
                    d.parts.get(&PartKind::TopicPolicy),
                    live.parts.get(&PartKind::TopicPolicy),
                ) && want != &IdentityDoc::TopicPolicy(have.clone())
                {
                    view.live_documents
                        .push((have.clone(), PartKind::TopicPolicy.as_str().to_string()));
                }
                if let (Some(IdentityDoc::Attachments(want)), Some(IdentityDoc::Attachments(have))) = (
                    d.parts.get(&PartKind::Attachments),
                    live.parts.get(&PartKind::Attachments),
                ) {
                    view.unmanaged_attached = have.difference(want).cloned().collect();
                }
            }
            view
        })
        .collect();
    Estate {
        account: account.to_string(),
        buckets,
        identities,
        account_public_access_block: super::account_block(desired_identities),
    }
}
