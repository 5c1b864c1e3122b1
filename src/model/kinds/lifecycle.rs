//! Lifecycle rules, sorted by ID.

use super::{ApiCall, DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Lifecycle,
    name: "lifecycle",
    manifest_field: "lifecycle",
    access: DocAccess {
        kind: DocKind::Lifecycle,
        read_operation: "GetBucketLifecycleConfiguration",
        read_action: "s3:GetLifecycleConfiguration",
        write_actions: &["s3:PutLifecycleConfiguration"],
        write_calls: &[PUT, DELETE],
    },
    not_configured: &["NoSuchLifecycleConfiguration"],
    preconfigured_by_aws: false,
    render_root: "rules",
    after_own: &[],
    after_target: &[],
};

/// Replaces the rules.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketLifecycleConfiguration",
    action: "s3:PutLifecycleConfiguration",
};

/// Removes every rule (S3 authorises the delete with the put action).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketLifecycle",
    action: "s3:PutLifecycleConfiguration",
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ImportRefs, Kind};
use crate::import::storage_class;
use crate::manifest::types::{
    Bucket, ByteSize, Expiration, LifecycleFilter, LifecycleRule as ManifestLifecycleRule, NoncurrentExpiration,
    NoncurrentTransition, Transition,
};
use crate::model::desired::{Context, DesiredError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRuleDoc {
    pub id: String,
    pub enabled: bool,
    pub prefix: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub object_size_greater_than: Option<u64>,
    pub object_size_less_than: Option<u64>,
    /// `(days, storage class)`, sorted by days.
    pub transitions: Vec<TransitionDoc>,
    pub expiration_days: Option<u32>,
    pub expired_object_delete_marker: Option<bool>,
    pub noncurrent_transitions: Vec<NoncurrentTransitionDoc>,
    pub noncurrent_expiration_days: Option<u32>,
    pub noncurrent_newer_versions: Option<u32>,
    pub abort_incomplete_multipart_upload_days: Option<u32>,
}

impl LifecycleRuleDoc {
    /// An enabled rule for the whole bucket with no actions yet; callers set what they need.
    pub fn enabled(id: &str) -> LifecycleRuleDoc {
        LifecycleRuleDoc {
            id: id.to_string(),
            enabled: true,
            prefix: None,
            tags: BTreeMap::new(),
            object_size_greater_than: None,
            object_size_less_than: None,
            transitions: Vec::new(),
            expiration_days: None,
            expired_object_delete_marker: None,
            noncurrent_transitions: Vec::new(),
            noncurrent_expiration_days: None,
            noncurrent_newer_versions: None,
            abort_incomplete_multipart_upload_days: None,
        }
    }

    pub(crate) fn canonicalize(&mut self) {
        if self.prefix.as_deref() == Some("") {
            self.prefix = None;
        }
        self.transitions.sort_by_key(|t| t.days);
        self.noncurrent_transitions.sort_by_key(|t| t.days);
        // S3 reports `ExpiredObjectDeleteMarker: false` for rules that never set it.
        if self.expired_object_delete_marker == Some(false) {
            self.expired_object_delete_marker = None;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionDoc {
    pub days: u32,
    pub storage_class: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentTransitionDoc {
    pub days: u32,
    pub storage_class: String,
    pub newer_noncurrent_versions: Option<u32>,
}

/// Sorted by rule ID; "not configured" is empty.
pub struct Lifecycle;

impl Kind for Lifecycle {
    type Value = Vec<LifecycleRuleDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Self::Value {
        Vec::new()
    }

    fn canonical(mut rules: Self::Value) -> Self::Value {
        for r in &mut rules {
            r.canonicalize();
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        rules
    }

    /// The bucket's own rules plus those the retention of sync mappings into it generates
    /// (`manifest::retention`); a bucket that only receives retention rules has its lifecycle managed.
    fn desired(ctx: &Context<'_>, logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        let generated = crate::manifest::retention::rules_for(ctx.manifest, logical);
        if b.lifecycle.is_none() && generated.is_empty() {
            return Ok(None);
        }
        let own = b.lifecycle.iter().flatten();
        Ok(Some(own.chain(generated.iter()).map(rule).collect()))
    }

    fn to_manifest(rules: &Self::Value, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        bucket.lifecycle = Some(rules.iter().map(manifest_rule).collect::<Result<_, _>>()?);
        Ok(())
    }
}

/// One manifest rule in the model's form (canonicalized with the rest by [`Lifecycle::canonical`]).
pub(crate) fn rule(r: &ManifestLifecycleRule) -> LifecycleRuleDoc {
    let filter = r.filter.clone().unwrap_or_default();
    LifecycleRuleDoc {
        id: r.id.clone(),
        enabled: r.enabled,
        prefix: filter.prefix,
        tags: filter.tags.into_iter().collect(),
        object_size_greater_than: filter.object_size_greater_than.map(|s| s.0),
        object_size_less_than: filter.object_size_less_than.map(|s| s.0),
        transitions: r
            .transitions
            .iter()
            .map(|t| TransitionDoc {
                days: t.days,
                storage_class: t.storage_class.as_str().to_string(),
            })
            .collect(),
        expiration_days: r.expiration.as_ref().and_then(|e| e.days),
        expired_object_delete_marker: r.expiration.as_ref().and_then(|e| e.expired_object_delete_marker),
        noncurrent_transitions: r
            .noncurrent_version_transitions
            .iter()
            .map(|t| NoncurrentTransitionDoc {
                days: t.days,
                storage_class: t.storage_class.as_str().to_string(),
                newer_noncurrent_versions: t.newer_noncurrent_versions,
            })
            .collect(),
        noncurrent_expiration_days: r.noncurrent_version_expiration.as_ref().map(|e| e.days),
        noncurrent_newer_versions: r
            .noncurrent_version_expiration
            .as_ref()
            .and_then(|e| e.newer_noncurrent_versions),
        abort_incomplete_multipart_upload_days: r.abort_incomplete_multipart_upload_days,
    }
}

/// One rule as the manifest writes it, or why the manifest cannot.
fn manifest_rule(r: &LifecycleRuleDoc) -> Result<ManifestLifecycleRule, String> {
    let filter = LifecycleFilter {
        prefix: r.prefix.clone(),
        tags: r.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        object_size_greater_than: r.object_size_greater_than.map(ByteSize),
        object_size_less_than: r.object_size_less_than.map(ByteSize),
    };
    let expiration = (r.expiration_days.is_some() || r.expired_object_delete_marker.is_some()).then_some(Expiration {
        days: r.expiration_days,
        expired_object_delete_marker: r.expired_object_delete_marker,
    });
    let noncurrent_version_expiration = match (r.noncurrent_expiration_days, r.noncurrent_newer_versions) {
        (Some(days), newer) => Some(NoncurrentExpiration {
            days,
            newer_noncurrent_versions: newer,
        }),
        (None, None) => None,
        (None, Some(_)) => {
            return Err(format!(
                "rule {} keeps newer noncurrent versions without expiring them, which the manifest cannot write",
                r.id
            ));
        }
    };
    Ok(ManifestLifecycleRule {
        id: r.id.clone(),
        enabled: r.enabled,
        filter: (filter != LifecycleFilter::default()).then_some(filter),
        transitions: r
            .transitions
            .iter()
            .map(|t| {
                Ok(Transition {
                    days: t.days,
                    storage_class: storage_class(&t.storage_class)?,
                })
            })
            .collect::<Result<_, String>>()?,
        expiration,
        noncurrent_version_transitions: r
            .noncurrent_transitions
            .iter()
            .map(|t| {
                Ok(NoncurrentTransition {
                    days: t.days,
                    storage_class: storage_class(&t.storage_class)?,
                    newer_noncurrent_versions: t.newer_noncurrent_versions,
                })
            })
            .collect::<Result<_, String>>()?,
        noncurrent_version_expiration,
        abort_incomplete_multipart_upload_days: r.abort_incomplete_multipart_upload_days,
    })
}
