//! Grants → least-privilege IAM statements.
//!
//! A grant says what an identity should be able to do (`{bucket: logs, prefix: training-logs/, access:
//! [read, write, list]}`); this module writes the statements a careful engineer would write by hand for
//! it, so a reviewer reading the plan sees familiar IAM and nothing broader than asked for. Pure: the
//! caller supplies the manifest through [`Context`]; nothing here does I/O.
//!
//! The mapping, per grant (see also `docs/grants.md`):
//!
//! | access   | actions                                             | resource                          |
//! |----------|-----------------------------------------------------|-----------------------------------|
//! | `read`   | `s3:GetObject`                                      | `arn:aws:s3:::BUCKET/PREFIX*`     |
//! | `write`  | `s3:PutObject`, `s3:AbortMultipartUpload`           | `arn:aws:s3:::BUCKET/PREFIX*`     |
//! | `delete` | `s3:DeleteObject`                                   | `arn:aws:s3:::BUCKET/PREFIX*`     |
//! | `list`   | `s3:ListBucket` with an `s3:prefix` condition       | `arn:aws:s3:::BUCKET`             |
//! |          | `s3:GetBucketLocation` (own statement, no condition) | `arn:aws:s3:::BUCKET`            |
//! | `manage` | the configuration actions of [`manage_actions`]     | `arn:aws:s3:::BUCKET`             |
//!
//! Statements are ordered by logical bucket, then prefix, so the output does not depend on the order of
//! grants in the manifest, and every statement carries a stable, readable Sid.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value as Json, json};

use super::desired::{Context, DesiredError, physical_bucket};
use super::{DocKind, bucket_arn};
use crate::manifest::types::{Access, Grant};

/// The policy language version every generated document declares. It is the only version that
/// supports policy variables and the current condition operators, and what IAM stores by default.
pub const POLICY_VERSION: &str = "2012-10-17";

/// Object-level actions of `read`.
///
/// Only `s3:GetObject`: `s3:GetObjectVersion` is deliberately left out. On a versioned bucket it reads
/// noncurrent versions, that is data that was overwritten or deleted (a credential removed from a log,
/// a report withdrawn). Reading history is a separate, stronger power than reading what is there now, so
/// a least-privilege grant does not include it; a raw statement can add it where it is wanted.
const READ: &[&str] = &["s3:GetObject"];

/// Object-level actions of `write`.
///
/// `s3:PutObject` covers `PutObject`, `CopyObject` (as the destination) and the multipart calls
/// `CreateMultipartUpload`, `UploadPart` and `CompleteMultipartUpload`; `s3:AbortMultipartUpload` lets
/// a writer clean up its own failed uploads, which every SDK's transfer manager does. Object ACL and
/// tagging writes are not included: ACLs are disabled on buckets s3rec manages, and tags are not data.
const WRITE: &[&str] = &["s3:AbortMultipartUpload", "s3:PutObject"];

/// Object-level actions of `delete`.
///
/// Only `s3:DeleteObject`: `s3:DeleteObjectVersion` is deliberately left out. On a versioned bucket,
/// `DeleteObject` adds a delete marker and the data stays recoverable; `DeleteObjectVersion` destroys a
/// version for good and so defeats the protection versioning was enabled for. An identity that must
/// purge history needs that written explicitly, as a raw statement a reviewer will notice.
const DELETE: &[&str] = &["s3:DeleteObject"];

/// Bucket-level action of `list`, limited to the grant's prefix by a condition.
const LIST: &[&str] = &["s3:ListBucket"];

/// What clients ask before they list: the AWS CLI and several SDKs call `GetBucketLocation` to find the
/// bucket's region. It gets its own statement because the request carries no `s3:prefix`, so a
/// statement with the prefix condition would never allow it.
const LOCATION: &[&str] = &["s3:GetBucketLocation"];

/// The actions of `manage`, sorted: reading and writing every configuration document s3rec manages on
/// a bucket, plus `s3:GetBucketLocation`, which s3rec (and most tools) call to find the bucket's region.
///
/// Named actions are used rather than `s3:GetBucket*`/`s3:PutBucket*`: those wildcards also match
/// ACLs, object lock, website hosting, requester pays and every action AWS adds in the future, and some
/// configuration actions (`s3:PutLifecycleConfiguration`, `s3:PutEncryptionConfiguration`,
/// `s3:PutReplicationConfiguration`) do not match them at all. Creating and deleting the bucket, and
/// the `iam:PassRole` that a replication configuration also needs, are not configuration and are not
/// included.
///
/// `manage` is an administrative level: it includes writing the bucket policy, through which its holder
/// can give itself (or anyone) any access to the bucket. Grant it to the identities that administer the
/// bucket, not to the applications that use it.
pub fn manage_actions() -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = LOCATION.to_vec();
    for kind in DocKind::ALL {
        // The one table of IAM actions: each kind's descriptor in the registry.
        actions.extend(super::kinds::read_write_actions(kind));
    }
    actions.sort_unstable();
    actions.dedup();
    actions
}

/// The statements for `grants`, in a deterministic order with unique Sids.
///
/// Grants on the same bucket and prefix are merged (their access levels are unioned), so writing a
/// grant twice or splitting `[read, list]` over two grants gives the same statements as one grant. Grants
/// on different prefixes of one bucket stay separate statements even when one prefix contains the
/// other: merging them would widen the narrower one. `manage` is bucket-wide, so it ignores the prefix
/// and produces one statement per bucket however many grants ask for it.
///
/// `place` names where the grants come from (e.g. `iam.users.app`) for error messages; the only error is
/// a grant naming a bucket the manifest does not define, which validation reports first.
pub fn grant_statements(ctx: &Context<'_>, grants: &[Grant], place: &str) -> Result<Vec<Json>, DesiredError> {
    let merged = merge(ctx, grants, place)?;

    let mut drafts: Vec<Draft> = Vec::new();
    for (logical, bucket) in &merged {
        let arn = bucket_arn(&bucket.physical);
        let bucket_words = pascal(logical);
        let mut any_list = false;
        for (prefix, levels) in &bucket.prefixes {
            let prefix_str = prefix.as_deref().unwrap_or("");
            let words = format!("{bucket_words}{}", pascal(prefix_str));
            let objects = levels.object_actions();
            if !objects.is_empty() {
                drafts.push(Draft {
                    sid: format!("{words}Objects"),
                    actions: objects,
                    resource: format!("{arn}/{prefix_str}*"),
                    condition: None,
                });
            }
            if levels.list {
                any_list = true;
                // Both the prefix itself and everything under it: the first entry is implied by the
                // second (`*` matches nothing too) but states the intent the way people write it by hand.
                let condition = prefix
                    .as_ref()
                    .map(|p| json!({"StringLike": {"s3:prefix": [p, format!("{p}*")]}}));
                drafts.push(Draft {
                    sid: format!("{words}List"),
                    actions: LIST.to_vec(),
                    resource: arn.clone(),
                    condition,
                });
            }
        }
        if any_list {
            drafts.push(Draft {
                sid: format!("{bucket_words}Location"),
                actions: LOCATION.to_vec(),
                resource: arn.clone(),
                condition: None,
            });
        }
        if bucket.manage {
            drafts.push(Draft {
                sid: format!("{bucket_words}Manage"),
                actions: manage_actions(),
                resource: arn.clone(),
                condition: None,
            });
        }
    }

    let sids = unique_sids(drafts.iter().map(|d| d.sid.as_str()));
    Ok(drafts
        .into_iter()
        .zip(sids)
        .map(|(draft, sid)| draft.into_json(sid))
        .collect())
}

/// The identity policy document for `grants`, or `None` when they produce no statement (no grants),
/// so an identity without grants gets no inline policy rather than an empty one, which IAM refuses.
pub fn grants_policy(ctx: &Context<'_>, grants: &[Grant], place: &str) -> Result<Option<Json>, DesiredError> {
    let statements = grant_statements(ctx, grants, place)?;
    if statements.is_empty() {
        return Ok(None);
    }
    Ok(Some(json!({"Version": POLICY_VERSION, "Statement": statements})))
}

/// The access levels asked for one bucket and prefix, after merging.
#[derive(Debug, Default, Clone, Copy)]
struct Levels {
    read: bool,
    write: bool,
    delete: bool,
    list: bool,
}

impl Levels {
    /// The object-level actions, sorted, for the one object statement of this prefix.
    fn object_actions(self) -> Vec<&'static str> {
        let mut actions = Vec::new();
        for (on, list) in [(self.read, READ), (self.write, WRITE), (self.delete, DELETE)] {
            if on {
                actions.extend_from_slice(list);
            }
        }
        actions.sort_unstable();
        actions.dedup();
        actions
    }
}

/// Everything granted on one logical bucket.
#[derive(Debug)]
struct BucketGrants {
    physical: String,
    /// `None` (the whole bucket) sorts first.
    prefixes: BTreeMap<Option<String>, Levels>,
    manage: bool,
}

/// Groups grants by logical bucket and prefix, unioning access levels. An empty prefix means the
/// whole bucket, the same as none.
fn merge(ctx: &Context<'_>, grants: &[Grant], place: &str) -> Result<BTreeMap<String, BucketGrants>, DesiredError> {
    let mut merged: BTreeMap<String, BucketGrants> = BTreeMap::new();
    for grant in grants {
        if !merged.contains_key(&grant.bucket) {
            let physical = physical_bucket(ctx, &grant.bucket, place)?;
            merged.insert(
                grant.bucket.clone(),
                BucketGrants {
                    physical,
                    prefixes: BTreeMap::new(),
                    manage: false,
                },
            );
        }
        let Some(bucket) = merged.get_mut(&grant.bucket) else {
            continue;
        };
        let prefix = grant.prefix.clone().filter(|p| !p.is_empty());
        let mut levels = Levels::default();
        let mut object_or_list = false;
        for access in &grant.access {
            match access {
                Access::Read => levels.read = true,
                Access::Write => levels.write = true,
                Access::Delete => levels.delete = true,
                Access::List => levels.list = true,
                Access::Manage => bucket.manage = true,
            }
            object_or_list |= !matches!(access, Access::Manage);
        }
        // A manage-only grant adds no prefix entry: it would produce no statement of its own.
        if object_or_list {
            let entry = bucket.prefixes.entry(prefix).or_default();
            entry.read |= levels.read;
            entry.write |= levels.write;
            entry.delete |= levels.delete;
            entry.list |= levels.list;
        }
    }
    Ok(merged)
}

/// One statement before its Sid is made unique.
struct Draft {
    sid: String,
    actions: Vec<&'static str>,
    resource: String,
    condition: Option<Json>,
}

impl Draft {
    /// The statement with its keys in the order people write them (Sid, Effect, Action, Resource,
    /// Condition), so the generated document reads naturally before normalization sorts it.
    fn into_json(self, sid: String) -> Json {
        let mut statement = Map::new();
        statement.insert("Sid".to_string(), Json::String(sid));
        statement.insert("Effect".to_string(), Json::String("Allow".to_string()));
        statement.insert(
            "Action".to_string(),
            Json::Array(self.actions.into_iter().map(|a| Json::String(a.to_string())).collect()),
        );
        statement.insert("Resource".to_string(), Json::String(self.resource));
        if let Some(condition) = self.condition {
            statement.insert("Condition".to_string(), condition);
        }
        Json::Object(statement)
    }
}

/// PascalCase of the ASCII letters and digits of `s`; everything else separates words. IAM accepts only
/// `[A-Za-z0-9]` in a Sid, and the words keep it readable: `training-logs/` → `TrainingLogs`.
fn pascal(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

/// Makes Sids unique in order: the first holder of a Sid keeps it, later ones get the smallest numeric
/// suffix from 2 that is neither taken nor the natural Sid of another statement. Natural Sids are
/// reserved up front so that a suffixed Sid never takes the plain name of a later statement; and since
/// statements come in sorted order, the same grants always get the same Sids.
fn unique_sids<'a>(bases: impl Iterator<Item = &'a str> + Clone) -> Vec<String> {
    let reserved: HashSet<&str> = bases.clone().collect();
    let mut taken: HashSet<String> = HashSet::new();
    bases
        .map(|base| {
            if taken.insert(base.to_string()) {
                return base.to_string();
            }
            (2u32..)
                .map(|n| format!("{base}{n}"))
                .find(|candidate| !reserved.contains(candidate.as_str()) && taken.insert(candidate.clone()))
                .unwrap_or_else(|| base.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::types::Manifest;
    use crate::model::policy::normalize;

    const BUCKETS: &str = "environment: t\nbuckets:\n  logs:\n    name: logs-${env}\n  data:\n    name: data-${env}\n";

    /// A manifest with the two buckets and a user `app` whose grants are `grants_yaml` (a YAML flow
    /// list), loaded through the real loader so the grants are parsed and validated as users write them.
    fn manifest(grants_yaml: &str) -> Manifest {
        crate::manifest::load::valid_for_tests(&format!(
            "{BUCKETS}iam:\n  users:\n    app:\n      grants: {grants_yaml}\n"
        ))
    }

    fn ctx(m: &Manifest) -> Context<'_> {
        Context {
            manifest: m,
            account_id: Some("123456789012"),
            default_region: "eu-west-1",
        }
    }

    fn policy(grants_yaml: &str) -> Json {
        let m = manifest(grants_yaml);
        grants_policy(&ctx(&m), &m.iam.users["app"].grants, "iam.users.app")
            .expect("policy")
            .expect("some policy")
    }

    fn statements(grants_yaml: &str) -> Vec<Json> {
        let m = manifest(grants_yaml);
        grant_statements(&ctx(&m), &m.iam.users["app"].grants, "iam.users.app").expect("statements")
    }

    fn sids(statements: &[Json]) -> Vec<&str> {
        statements.iter().filter_map(|s| s["Sid"].as_str()).collect()
    }

    /// Exact JSON, including key order (the crate keeps insertion order), so a reviewer sees what IAM gets.
    fn assert_json(actual: &Json, expected: &Json) {
        assert_eq!(
            serde_json::to_string_pretty(actual).expect("json"),
            serde_json::to_string_pretty(expected).expect("json")
        );
    }

    #[test]
    fn issue_example_is_exactly_what_one_writes_by_hand() {
        let p = policy("[{bucket: logs, prefix: training-logs/, access: [read, write, list]}]");
        assert_json(
            &p,
            &json!({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "LogsTrainingLogsObjects",
                        "Effect": "Allow",
                        "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                        "Resource": "arn:aws:s3:::logs-t/training-logs/*"
                    },
                    {
                        "Sid": "LogsTrainingLogsList",
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket"],
                        "Resource": "arn:aws:s3:::logs-t",
                        "Condition": {"StringLike": {"s3:prefix": ["training-logs/", "training-logs/*"]}}
                    },
                    {
                        "Sid": "LogsLocation",
                        "Effect": "Allow",
                        "Action": ["s3:GetBucketLocation"],
                        "Resource": "arn:aws:s3:::logs-t"
                    }
                ]
            }),
        );
    }

    #[test]
    fn read_alone() {
        assert_json(
            &Json::Array(statements("[{bucket: logs, prefix: a/, access: [read]}]")),
            &json!([{
                "Sid": "LogsAObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": "arn:aws:s3:::logs-t/a/*"
            }]),
        );
    }

    #[test]
    fn write_alone() {
        assert_json(
            &Json::Array(statements("[{bucket: logs, prefix: a/, access: [write]}]")),
            &json!([{
                "Sid": "LogsAObjects",
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
                "Resource": "arn:aws:s3:::logs-t/a/*"
            }]),
        );
    }

    #[test]
    fn delete_alone_never_includes_version_deletion() {
        let s = statements("[{bucket: logs, prefix: a/, access: [delete]}]");
        assert_json(
            &Json::Array(s.clone()),
            &json!([{
                "Sid": "LogsAObjects",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject"],
                "Resource": "arn:aws:s3:::logs-t/a/*"
            }]),
        );
        let all = Json::Array(statements(
            "[{bucket: logs, access: [read, write, delete, list, manage]}]",
        ))
        .to_string();
        assert!(
            !all.contains("s3:GetObjectVersion") && !all.contains("s3:DeleteObjectVersion"),
            "no versioned object actions: {all}"
        );
    }

    #[test]
    fn list_alone() {
        assert_json(
            &Json::Array(statements("[{bucket: logs, prefix: a/, access: [list]}]")),
            &json!([
                {
                    "Sid": "LogsAList",
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket"],
                    "Resource": "arn:aws:s3:::logs-t",
                    "Condition": {"StringLike": {"s3:prefix": ["a/", "a/*"]}}
                },
                {
                    "Sid": "LogsLocation",
                    "Effect": "Allow",
                    "Action": ["s3:GetBucketLocation"],
                    "Resource": "arn:aws:s3:::logs-t"
                }
            ]),
        );
    }

    #[test]
    fn manage_alone_is_bucket_wide_and_names_each_action() {
        let expected_actions = [
            "s3:DeleteBucketPolicy",
            "s3:GetBucketCORS",
            "s3:GetBucketLocation",
            "s3:GetBucketLogging",
            "s3:GetBucketNotification",
            "s3:GetBucketOwnershipControls",
            "s3:GetBucketPolicy",
            "s3:GetBucketPublicAccessBlock",
            "s3:GetBucketTagging",
            "s3:GetBucketVersioning",
            "s3:GetEncryptionConfiguration",
            "s3:GetInventoryConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:PutBucketCORS",
            "s3:PutBucketLogging",
            "s3:PutBucketNotification",
            "s3:PutBucketOwnershipControls",
            "s3:PutBucketPolicy",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketTagging",
            "s3:PutBucketVersioning",
            "s3:PutEncryptionConfiguration",
            "s3:PutInventoryConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:PutReplicationConfiguration",
        ];
        assert_eq!(manage_actions(), expected_actions);
        // The prefix does not narrow bucket configuration, and gives no object or list statement.
        assert_json(
            &Json::Array(statements("[{bucket: logs, prefix: a/, access: [manage]}]")),
            &json!([{
                "Sid": "LogsManage",
                "Effect": "Allow",
                "Action": expected_actions,
                "Resource": "arn:aws:s3:::logs-t"
            }]),
        );
    }

    #[test]
    fn no_prefix_means_the_whole_bucket_without_condition() {
        let expected = json!([
            {
                "Sid": "LogsObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": "arn:aws:s3:::logs-t/*"
            },
            {
                "Sid": "LogsList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": "arn:aws:s3:::logs-t"
            },
            {
                "Sid": "LogsLocation",
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation"],
                "Resource": "arn:aws:s3:::logs-t"
            }
        ]);
        assert_json(
            &Json::Array(statements("[{bucket: logs, access: [list, read]}]")),
            &expected,
        );
        // An empty prefix is the whole bucket too.
        assert_json(
            &Json::Array(statements("[{bucket: logs, prefix: '', access: [list, read]}]")),
            &expected,
        );
    }

    #[test]
    fn two_buckets_are_sorted_by_logical_name_whatever_the_grant_order() {
        let s = statements("[{bucket: logs, access: [read]}, {bucket: data, prefix: in/, access: [write, list]}]");
        assert_eq!(sids(&s), ["DataInObjects", "DataInList", "DataLocation", "LogsObjects"]);
        assert_eq!(s[0]["Resource"], "arn:aws:s3:::data-t/in/*");
        assert_eq!(s[3]["Resource"], "arn:aws:s3:::logs-t/*");
        let swapped =
            statements("[{bucket: data, prefix: in/, access: [list, write]}, {bucket: logs, access: [read]}]");
        assert_eq!(s, swapped);
    }

    #[test]
    fn grants_on_the_same_bucket_and_prefix_merge() {
        let merged = statements(
            "[{bucket: logs, prefix: a/, access: [read]}, {bucket: logs, prefix: a/, access: [write, read]}, {bucket: logs, prefix: a/, access: [list]}]",
        );
        let single = statements("[{bucket: logs, prefix: a/, access: [read, write, list]}]");
        assert_eq!(merged, single);
        assert_eq!(sids(&merged), ["LogsAObjects", "LogsAList", "LogsLocation"]);

        // Different prefixes stay apart (merging would widen the narrower one); manage and location are
        // once per bucket.
        let s = statements(
            "[{bucket: logs, prefix: a/, access: [list, manage]}, {bucket: logs, prefix: a/b/, access: [read, list, manage]}]",
        );
        assert_eq!(
            sids(&s),
            ["LogsAList", "LogsABObjects", "LogsABList", "LogsLocation", "LogsManage"]
        );
    }

    #[test]
    fn sids_are_stable_and_collisions_get_a_numeric_suffix() {
        // Same grants, same Sids, whatever the order and however often asked.
        let a = statements("[{bucket: logs, prefix: training-logs/, access: [read]}, {bucket: data, access: [list]}]");
        let b = statements("[{bucket: data, access: [list]}, {bucket: logs, prefix: training-logs/, access: [read]}]");
        assert_eq!(sids(&a), sids(&b));
        assert_eq!(sids(&a), ["DataList", "DataLocation", "LogsTrainingLogsObjects"]);

        // Three prefixes that spell the same words: in byte order of the prefix (`-` < `L` < `_`), the
        // first keeps the plain Sid.
        let s = statements(
            "[{bucket: logs, prefix: training_logs/, access: [read]}, {bucket: logs, prefix: training-logs/, access: [read]}, {bucket: logs, prefix: trainingLogs/, access: [read]}]",
        );
        assert_eq!(
            sids(&s),
            [
                "LogsTrainingLogsObjects",
                "LogsTrainingLogsObjects2",
                "LogsTrainingLogsObjects3"
            ]
        );
        assert_eq!(s[0]["Resource"], "arn:aws:s3:::logs-t/training-logs/*");
        assert_eq!(s[1]["Resource"], "arn:aws:s3:::logs-t/trainingLogs/*");
        assert_eq!(s[2]["Resource"], "arn:aws:s3:::logs-t/training_logs/*");
        for sid in sids(&s) {
            assert!(sid.bytes().all(|b| b.is_ascii_alphanumeric()), "{sid}");
        }
    }

    #[test]
    fn a_suffix_never_takes_another_statements_natural_sid() {
        assert_eq!(unique_sids(["A", "A", "A2"].into_iter()), ["A", "A3", "A2"]);
        assert_eq!(unique_sids(["A", "B", "A", "B"].into_iter()), ["A", "B", "A2", "B2"]);
    }

    #[test]
    fn sid_words_are_ascii_alphanumeric() {
        assert_eq!(pascal("training-logs/"), "TrainingLogs");
        assert_eq!(pascal("raw_data"), "RawData");
        assert_eq!(pascal("2024/07/"), "202407");
        assert_eq!(pascal("été/x"), "TX");
        assert_eq!(pascal(""), "");
    }

    #[test]
    fn no_grants_no_policy() {
        let m = manifest("[]");
        assert_eq!(grants_policy(&ctx(&m), &[], "iam.users.app"), Ok(None));
    }

    #[test]
    fn unknown_bucket_is_an_error_not_a_panic() {
        let m = manifest("[]");
        let grant = Grant {
            bucket: "nope".to_string(),
            prefix: None,
            access: vec![Access::Read],
        };
        assert!(matches!(
            grants_policy(&ctx(&m), &[grant], "iam.users.app"),
            Err(DesiredError::Unresolved { .. })
        ));
    }

    #[test]
    fn normalization_is_idempotent_and_ignores_grant_order() {
        let p = policy(
            "[{bucket: logs, prefix: training-logs/, access: [read, write, list]}, {bucket: data, access: [delete, manage]}]",
        );
        let once = normalize(&p);
        assert_eq!(normalize(&once), once);
        assert_eq!(normalize(&once).to_string(), once.to_string());
        let reordered = policy(
            "[{bucket: data, access: [manage, delete]}, {bucket: logs, prefix: training-logs/, access: [list, write, read]}]",
        );
        assert_eq!(normalize(&reordered), once);
    }
}
