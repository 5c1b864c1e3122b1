//! The bucket of the `s3` state backend: what `doctor` checks on it, and what `--print-policy` grants
//! the backend there.
//!
//! The state bucket is not in the manifest whose state it keeps (that manifest would create it), so no
//! plan ever looks at it; doctor is where a bucket that cannot recover an overwritten state, or could be
//! made public, is noticed. The actions come from one table, [`STATE_BACKEND_ACCESS`], and the documents
//! doctor reads from [`STATE_BUCKET_DOCS`], so the checks and the policy cannot disagree.

use serde_json::{Value as Json, json};

use super::Check;
use crate::aws::probe::{
    self, LIST_ACTION, Probe, STATE_BACKEND_ACCESS, STATE_BUCKET_DOCS, StateListing, StateResource, doc_access,
    state_backend_actions,
};
use crate::aws::{Aws, AwsError};
use crate::manifest::types::{StateBackend, StateSettings};
use crate::model::desired::DesiredError;
use crate::model::{Doc, EncryptionDoc, LifecycleRuleDoc, PublicAccessBlockDoc, VersioningState, bucket_arn};

/// Where the `s3` backend keeps one environment's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RemoteState {
    pub bucket: String,
    pub key: String,
    /// `state.region`, else the manifest's default region.
    pub region: String,
    pub kms_key: Option<String>,
}

impl RemoteState {
    /// `None` for the local backend, and for an `s3` backend without a bucket (which `validate` reports).
    pub fn of(environment: &str, settings: &StateSettings, default_region: &str) -> Option<RemoteState> {
        match settings.backend {
            StateBackend::Local => None,
            StateBackend::S3 => Some(RemoteState {
                bucket: settings.bucket.clone()?,
                key: settings
                    .key
                    .clone()
                    .unwrap_or_else(|| crate::backend::default_key(environment)),
                region: settings.region.clone().unwrap_or_else(|| default_region.to_string()),
                kms_key: settings.kms_key.clone(),
            }),
        }
    }

    /// The lock object: the state key with `.lock` appended, so one listing prefix finds both.
    pub fn lock_key(&self) -> String {
        crate::backend::lock_key(&self.key)
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

// ---------------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------------

/// The state bucket's rows: reachable (listing the state key), then each of [`STATE_BUCKET_DOCS`]
/// judged. A missing bucket is an error, not "will be created": no plan creates it.
pub(super) async fn check_bucket(aws: &Aws, remote: &RemoteState) -> Vec<Check> {
    let row = |resource: String, check: &'static str, probe: Probe| Check {
        resource,
        bucket: Some(remote.bucket.clone()),
        arn: None,
        region: remote.region.clone(),
        check,
        fails: probe != Probe::Ok,
        probe,
        warning: None,
        note: None,
    };
    let listed = probe::list_state(aws, &remote.bucket, &remote.region, &remote.key, &remote.lock_key()).await;
    let (reachable, go_on) = match listed {
        Ok(listing) => (
            Check {
                note: Some(listing_note(remote, &listing)),
                ..row("state.bucket".into(), LIST_ACTION, Probe::Ok)
            },
            true,
        ),
        Err(err) => {
            let probe = Probe::from_error(&err);
            let note = match (&probe, &err) {
                (Probe::Missing, _) => Some(
                    "the state bucket is not created by the manifest whose state it keeps: create it (versioned, \
                     public access blocked) by hand or from another environment's manifest"
                        .to_string(),
                ),
                (
                    _,
                    AwsError::WrongRegion {
                        actual_region: Some(actual),
                        ..
                    },
                ) => Some(format!("the bucket is in {actual}: set `state.region: {actual}`")),
                _ => None,
            };
            // Without the listing the document reads still show which other permissions are missing;
            // a missing bucket or a wrong region would only repeat the same answer four times.
            let go_on = probe.is_denied();
            (
                Check {
                    note,
                    ..row("state.bucket".into(), LIST_ACTION, probe)
                },
                go_on,
            )
        }
    };
    let mut checks = vec![reachable];
    if !go_on {
        return checks;
    }
    let reads = STATE_BUCKET_DOCS.map(|kind| crate::aws::read::read_doc(aws, &remote.bucket, &remote.region, kind));
    let docs = futures_util::future::join_all(reads).await;
    for (kind, doc) in STATE_BUCKET_DOCS.into_iter().zip(docs) {
        let resource = format!("state.bucket.{kind}");
        let check = doc_access(kind).read_action;
        checks.push(match doc {
            Ok(doc) => {
                let finding = assess(&doc, remote);
                Check {
                    warning: finding.warning,
                    note: finding.note,
                    ..row(resource, check, Probe::Ok)
                }
            }
            Err(err) => row(resource, check, Probe::from_error(&err)),
        });
    }
    checks
}

/// How old a lock must be before doctor calls it probably stale: applies and syncs finish well within
/// it; a `migrate run --wait` can hold the lock longer, which the warning says.
const STALE_LOCK: std::time::Duration = std::time::Duration::from_secs(3600);

/// The lock's row when a lock exists: who holds it and since when, and a warning with the unlock
/// command once it is older than [`STALE_LOCK`].
pub(super) async fn check_lock(aws: &Aws, remote: &crate::backend::Remote) -> Option<Check> {
    let found = match crate::backend::lock::read(aws, remote).await {
        Ok(found) => found?,
        Err(e) => {
            eprintln!(
                "warning: doctor could not read the state lock {}: {e}",
                remote.lock_url()
            );
            return None;
        }
    };
    let stale = found.info.as_ref().is_none_or(|i| i.age() > STALE_LOCK);
    let id = found.id();
    let (warning, note) = if stale {
        (
            Some(format!(
                "{} is probably stale (older than an hour, unless a long `migrate run --wait` or sync holds it); if its \
                 run is gone, remove it with `s3rec state unlock -e {} {id}`",
                found.describe(),
                remote.environment
            )),
            None,
        )
    } else {
        (None, Some(format!("{}: a run is going on", found.describe())))
    };
    Some(Check {
        resource: "state.lock".to_string(),
        bucket: Some(remote.bucket.clone()),
        arn: None,
        region: remote.region.clone(),
        check: "s3:GetObject",
        fails: false,
        probe: Probe::Ok,
        warning,
        note,
    })
}

/// What the listing says about the state and its lock.
fn listing_note(remote: &RemoteState, listing: &StateListing) -> String {
    let state = match &listing.state {
        Some(o) => format!(
            "{} holds the state ({} bytes, written {})",
            remote.url(),
            o.size,
            o.last_modified.as_deref().unwrap_or("at an unknown time")
        ),
        None => format!("{} does not exist yet: the first apply writes it", remote.url()),
    };
    match &listing.lock {
        Some(o) => format!(
            "{state}; the lock {} exists since {}: a run holds it, or a killed run left it",
            remote.lock_key(),
            o.last_modified.as_deref().unwrap_or("an unknown time")
        ),
        None => state,
    }
}

/// What one document of the state bucket means for the state: a warning to fix, and a note to know.
#[derive(Debug, Default, PartialEq, Eq)]
struct Finding {
    warning: Option<String>,
    note: Option<String>,
}

fn warn(text: impl Into<String>) -> Finding {
    Finding {
        warning: Some(text.into()),
        note: None,
    }
}

fn note(text: impl Into<String>) -> Finding {
    Finding {
        warning: None,
        note: Some(text.into()),
    }
}

fn assess(doc: &Doc, remote: &RemoteState) -> Finding {
    match doc {
        Doc::Versioning(VersioningState::Enabled) => Finding::default(),
        Doc::Versioning(VersioningState::Unversioned) => {
            warn("versioning is off: enable versioning so an overwritten or damaged state can be recovered")
        }
        Doc::Versioning(VersioningState::Suspended) => {
            warn("versioning is suspended: enable versioning so an overwritten or damaged state can be recovered")
        }
        Doc::PublicAccessBlock(pab) => public_access_block(pab),
        Doc::Encryption(encryption) => default_encryption(encryption.as_ref(), remote),
        Doc::Lifecycle(rules) => noncurrent_expiry(rules, &remote.key),
        // Doctor reads only STATE_BUCKET_DOCS on the state bucket.
        Doc::Ownership(_)
        | Doc::Tags(_)
        | Doc::Policy(_)
        | Doc::Logging(_)
        | Doc::Cors(_)
        | Doc::Notifications(_)
        | Doc::Replication(_)
        | Doc::Inventory(_) => Finding::default(),
    }
}

fn public_access_block(pab: &PublicAccessBlockDoc) -> Finding {
    let off: Vec<&str> = [
        ("block_public_acls", pab.block_public_acls),
        ("ignore_public_acls", pab.ignore_public_acls),
        ("block_public_policy", pab.block_public_policy),
        ("restrict_public_buckets", pab.restrict_public_buckets),
    ]
    .into_iter()
    .filter(|(_, on)| !on)
    .map(|(name, _)| name)
    .collect();
    if off.is_empty() {
        Finding::default()
    } else {
        warn(format!(
            "the public access block is not fully on (off: {}): turn all four on so that no ACL or bucket \
             policy can make the state public",
            off.join(", ")
        ))
    }
}

fn default_encryption(encryption: Option<&EncryptionDoc>, remote: &RemoteState) -> Finding {
    let writes = match &remote.kms_key {
        Some(key) => format!("s3rec writes the state with SSE-KMS under {key} (state.kms_key)"),
        None => "s3rec writes the state with SSE-S3".to_string(),
    };
    let Some(e) = encryption else {
        return warn(format!(
            "no default encryption is configured: AWS has applied SSE-S3 to every bucket since January 2023, \
             but this server reports none; configure SSE-S3 or SSE-KMS ({writes} either way)"
        ));
    };
    let configured = match (e.algorithm.as_str(), e.kms_key_id.as_deref()) {
        ("AES256", _) => "SSE-S3 (AES256)".to_string(),
        ("aws:kms", Some(key)) => format!("SSE-KMS with {key}"),
        ("aws:kms", None) => "SSE-KMS with the AWS managed key aws/s3".to_string(),
        ("aws:kms:dsse", Some(key)) => format!("DSSE-KMS with {key}"),
        ("aws:kms:dsse", None) => "DSSE-KMS with the AWS managed key aws/s3".to_string(),
        (other, _) => other.to_string(),
    };
    note(format!("default encryption: {configured}; {writes}"))
}

/// Every state write keeps the previous state as a noncurrent version; a rule that expires them keeps
/// the bucket from growing forever. Informational: how long to keep them is the operator's choice.
fn noncurrent_expiry(rules: &[LifecycleRuleDoc], key: &str) -> Finding {
    let applies = |r: &&LifecycleRuleDoc| {
        r.enabled
            && r.noncurrent_expiration_days.is_some()
            && r.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && r.tags.is_empty()
            && r.object_size_greater_than.is_none()
            && r.object_size_less_than.is_none()
    };
    match rules.iter().find(applies) {
        Some(r) => note(format!(
            "lifecycle rule `{}` expires noncurrent versions of the state after {} days",
            r.id,
            r.noncurrent_expiration_days.unwrap_or_default()
        )),
        None => note(
            "no lifecycle rule expires noncurrent versions of the state: every write keeps the previous state \
             as one, so add a rule with noncurrent_version_expiration to bound them",
        ),
    }
}

// ---------------------------------------------------------------------------------------------------
// --print-policy
// ---------------------------------------------------------------------------------------------------

/// What the printed policy grants the state backend: where the state is, and how to name its KMS key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StateGrants {
    remote: RemoteState,
    kms: Option<KmsResource>,
}

/// The resource (and condition) that grants use of `state.kms_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KmsResource {
    arn: String,
    condition: Option<Json>,
}

/// One statement of the state backend's part of the policy.
pub(super) struct Statement {
    pub sid: &'static str,
    pub actions: Vec<&'static str>,
    pub resource: String,
    pub condition: Option<Json>,
}

impl StateGrants {
    /// `None` when the state is local. A KMS key given by ID or alias needs the account for its ARN.
    pub fn new(
        environment: &str,
        settings: &StateSettings,
        default_region: &str,
        account: Option<&str>,
    ) -> Result<Option<StateGrants>, DesiredError> {
        let Some(remote) = RemoteState::of(environment, settings, default_region) else {
            return Ok(None);
        };
        let kms = match &remote.kms_key {
            Some(key) => Some(kms_resource(key, &remote.region, account)?),
            None => None,
        };
        Ok(Some(StateGrants { remote, kms }))
    }

    /// The statements, one per kind of resource in [`STATE_BACKEND_ACCESS`].
    pub fn statements(&self) -> Vec<Statement> {
        let r = &self.remote;
        let bucket = bucket_arn(&r.bucket);
        let mut kinds: Vec<StateResource> = STATE_BACKEND_ACCESS.iter().map(|(_, on)| *on).collect();
        kinds.sort();
        kinds.dedup();
        kinds
            .into_iter()
            .filter_map(|on| {
                let (sid, resource, condition) = match on {
                    StateResource::Object => ("StateObject", format!("{bucket}/{}", r.key), None),
                    StateResource::Lock => ("StateLock", format!("{bucket}/{}", r.lock_key()), None),
                    // Listing only the key and its lock: enough for S3 to answer 404 for a missing state
                    // and for doctor's listing, and nothing else of the bucket shows.
                    StateResource::Listing => (
                        "StateBucketList",
                        bucket.clone(),
                        Some(json!({"StringEquals": {"s3:prefix": [r.key, r.lock_key()]}})),
                    ),
                    // Only `s3rec doctor` reads these; plan and apply do not need them.
                    StateResource::Checks => ("StateBucketReadByDoctor", bucket.clone(), None),
                    StateResource::KmsKey => {
                        let kms = self.kms.as_ref()?;
                        ("StateKmsKey", kms.arn.clone(), kms.condition.clone())
                    }
                };
                Some(Statement {
                    sid,
                    actions: state_backend_actions(on).collect(),
                    resource,
                    condition,
                })
            })
            .collect()
    }
}

/// A key ARN is granted as is; a key ID becomes its ARN in the state bucket's region (SSE-KMS needs a
/// key in the bucket's region); an alias grants the account's keys that carry it, because KMS
/// authorises by key, never by alias.
fn kms_resource(key: &str, region: &str, account: Option<&str>) -> Result<KmsResource, DesiredError> {
    let alias_condition = |alias: &str| Some(json!({"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}));
    if key.starts_with("arn:") {
        // arn:PARTITION:kms:REGION:ACCOUNT:key/ID or ...:alias/NAME
        let parts: Vec<&str> = key.splitn(6, ':').collect();
        if let [_, partition, _, key_region, key_account, resource] = parts[..]
            && let Some(name) = resource.strip_prefix("alias/")
        {
            return Ok(KmsResource {
                arn: format!("arn:{partition}:kms:{key_region}:{key_account}:key/*"),
                condition: alias_condition(&format!("alias/{name}")),
            });
        }
        return Ok(KmsResource {
            arn: key.to_string(),
            condition: None,
        });
    }
    let account = account.ok_or_else(|| DesiredError::AccountUnknown {
        what: "state.kms_key".to_string(),
    })?;
    Ok(match key.strip_prefix("alias/") {
        Some(_) => KmsResource {
            arn: format!("arn:aws:kms:{region}:{account}:key/*"),
            condition: alias_condition(key),
        },
        None => KmsResource {
            arn: format!("arn:aws:kms:{region}:{account}:key/{key}"),
            condition: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> RemoteState {
        RemoteState {
            bucket: "acme-state".into(),
            key: "s3rec/prod.db".into(),
            region: "eu-west-1".into(),
            kms_key: None,
        }
    }

    fn s3(bucket: &str) -> StateSettings {
        StateSettings {
            backend: StateBackend::S3,
            bucket: Some(bucket.into()),
            ..StateSettings::default()
        }
    }

    #[test]
    fn the_remote_state_defaults_its_key_and_region_and_local_has_none() {
        assert_eq!(RemoteState::of("prod", &s3("acme-state"), "eu-west-1"), Some(remote()));
        let settings = StateSettings {
            key: Some("k/state.db".into()),
            region: Some("us-west-2".into()),
            ..s3("b")
        };
        let r = RemoteState::of("prod", &settings, "eu-west-1").unwrap();
        assert_eq!((r.key.as_str(), r.region.as_str()), ("k/state.db", "us-west-2"));
        assert_eq!(r.lock_key(), "k/state.db.lock");
        assert_eq!(RemoteState::of("prod", &StateSettings::default(), "eu-west-1"), None);
    }

    #[test]
    fn versioning_off_or_suspended_warns_and_enabled_is_ok() {
        assert_eq!(
            assess(&Doc::Versioning(VersioningState::Enabled), &remote()),
            Finding::default()
        );
        for state in [VersioningState::Unversioned, VersioningState::Suspended] {
            let w = assess(&Doc::Versioning(state), &remote()).warning.unwrap();
            assert!(
                w.contains("enable versioning so an overwritten or damaged state can be recovered"),
                "{w}"
            );
        }
    }

    #[test]
    fn a_public_access_block_with_a_flag_off_warns_naming_it() {
        let all = PublicAccessBlockDoc {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        };
        assert_eq!(assess(&Doc::PublicAccessBlock(all), &remote()), Finding::default());
        let one_off = PublicAccessBlockDoc {
            restrict_public_buckets: false,
            ..all
        };
        let w = assess(&Doc::PublicAccessBlock(one_off), &remote()).warning.unwrap();
        assert!(w.contains("(off: restrict_public_buckets)"), "{w}");
    }

    #[test]
    fn encryption_says_which_and_warns_when_none_is_configured() {
        let kms = EncryptionDoc {
            algorithm: "aws:kms".into(),
            kms_key_id: None,
            bucket_key: true,
        };
        let f = assess(&Doc::Encryption(Some(kms)), &remote());
        assert_eq!(f.warning, None);
        assert_eq!(
            f.note.as_deref(),
            Some("default encryption: SSE-KMS with the AWS managed key aws/s3; s3rec writes the state with SSE-S3")
        );
        let with_key = RemoteState {
            kms_key: Some("alias/state".into()),
            ..remote()
        };
        let w = assess(&Doc::Encryption(None), &with_key).warning.unwrap();
        assert!(w.starts_with("no default encryption is configured"), "{w}");
        assert!(w.contains("SSE-KMS under alias/state"), "{w}");
    }

    #[test]
    fn only_an_enabled_rule_covering_the_key_counts_as_expiring_noncurrent_versions() {
        let mut elsewhere = LifecycleRuleDoc::enabled("logs");
        elsewhere.prefix = Some("logs/".into());
        elsewhere.noncurrent_expiration_days = Some(7);
        let mut disabled = LifecycleRuleDoc::enabled("off");
        disabled.enabled = false;
        disabled.noncurrent_expiration_days = Some(7);
        let f = noncurrent_expiry(&[elsewhere.clone(), disabled], "s3rec/prod.db");
        assert!(f.note.unwrap().starts_with("no lifecycle rule"));
        let mut state = LifecycleRuleDoc::enabled("state");
        state.prefix = Some("s3rec/".into());
        state.noncurrent_expiration_days = Some(30);
        let f = noncurrent_expiry(&[elsewhere, state], "s3rec/prod.db");
        assert_eq!(f.warning, None);
        assert_eq!(
            f.note.as_deref(),
            Some("lifecycle rule `state` expires noncurrent versions of the state after 30 days")
        );
    }

    #[test]
    fn kms_keys_are_granted_by_arn_id_or_alias() {
        let arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            kms_resource(arn, "eu-west-1", None).unwrap(),
            KmsResource {
                arn: arn.into(),
                condition: None
            }
        );
        assert_eq!(
            kms_resource("1234abcd", "eu-west-1", Some("123456789012")).unwrap().arn,
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd"
        );
        let alias = kms_resource("alias/state", "eu-west-1", Some("123456789012")).unwrap();
        assert_eq!(alias.arn, "arn:aws:kms:eu-west-1:123456789012:key/*");
        assert_eq!(
            alias.condition,
            Some(json!({"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/state"}}))
        );
        let alias_arn = kms_resource("arn:aws:kms:us-east-1:111122223333:alias/state", "eu-west-1", None).unwrap();
        assert_eq!(alias_arn.arn, "arn:aws:kms:us-east-1:111122223333:key/*");
        assert!(matches!(
            kms_resource("alias/state", "eu-west-1", None),
            Err(DesiredError::AccountUnknown { .. })
        ));
    }
}
