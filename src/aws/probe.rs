//! Read-only probes for `s3rec doctor`: can these credentials read what the manifest manages?
//!
//! Each probe makes exactly one call and classifies its answer as a [`Probe`]: readable (including
//! AWS's "not configured" answers), missing (the bucket, user, role, policy or topic does not exist
//! yet, which a plan creates), denied (with the IAM action that is missing), or another error.
//!
//! This module also holds the one table of IAM actions per configuration document (the registry's descriptors (`model::kinds`)),
//! and its counterpart for IAM users, roles, managed policies and SNS topics ([`IDENTITY_ACCESS`]),
//! shared by the probes and by `doctor --print-policy`, so the permission a probe reports as missing
//! and the permission the printed policy grants cannot disagree.

use serde::Serialize;

use super::identity::Target;
use super::read::region_from_constraint;
use super::{Aws, AwsError, CallerIdentity, Op};
use crate::model::DocKind;
use crate::model::identity::{GRANTS_POLICY_NAME, IdentityKind, PartKind};

/// The IAM action behind `sts:GetCallerIdentity`.
pub const CALLER_IDENTITY_ACTION: &str = "sts:GetCallerIdentity";
/// The action behind GetBucketLocation, which finds a bucket and its region.
pub const LOCATION_ACTION: &str = "s3:GetBucketLocation";
/// The action behind ListObjectsV2 (and HeadBucket): existence and emptiness.
pub const LIST_ACTION: &str = "s3:ListBucket";
/// The action behind CreateBucket.
pub const CREATE_ACTION: &str = "s3:CreateBucket";
/// What deleting a bucket needs on the bucket: the emptiness check (ListObjectVersions) and the delete.
pub const DESTROY_ACTIONS: &[&str] = &["s3:DeleteBucket", "s3:ListBucketVersions"];
/// What emptying a bucket for `force_destroy` needs on the bucket, on top of [`DESTROY_ACTIONS`].
pub const FORCE_DESTROY_BUCKET_ACTIONS: &[&str] = &["s3:ListBucketMultipartUploads"];
/// What emptying a bucket for `force_destroy` needs on its objects (`arn:aws:s3:::NAME/*`):
/// DeleteObjects on every version and delete marker, and AbortMultipartUpload.
pub const FORCE_DESTROY_OBJECT_ACTIONS: &[&str] =
    &["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:DeleteObjectVersion"];
/// What a migration needs on its source bucket: ListObjectVersions for the scans, and s3:ListBucket so
/// that S3 answers a version that went away with 404 (which a migration reads as "changed since the
/// scan") rather than 403.
pub const MIGRATE_BUCKET_ACTIONS: &[&str] = &["s3:ListBucket", "s3:ListBucketVersions"];
/// What a migration needs on its source objects (`arn:aws:s3:::NAME/*`, or the migrated prefix):
/// HeadObject and GetObject of current objects and of named versions, and RestoreObject for archived
/// ones.
pub const MIGRATE_OBJECT_ACTIONS: &[&str] = &["s3:GetObject", "s3:GetObjectVersion", "s3:RestoreObject"];
/// What a migration that deletes its source adds on the objects: DeleteObjects naming each version.
pub const MIGRATE_DELETE_OBJECT_ACTIONS: &[&str] = &["s3:DeleteObject", "s3:DeleteObjectVersion"];
/// What a sync mapping needs on each destination bucket: ListObjectsV2 of its prefixes, and
/// ListMultipartUploads to find the uploads it started and must abort.
pub const SYNC_BUCKET_ACTIONS: &[&str] = &["s3:ListBucket", "s3:ListBucketMultipartUploads"];
/// What a sync mapping needs on the objects under its prefixes: PutObject (which also authorises the
/// multipart upload calls), AbortMultipartUpload, and ListParts of an upload it resumes.
pub const SYNC_OBJECT_ACTIONS: &[&str] = &["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"];
/// What a sync mapping with `delete: true` adds on its objects: DeleteObjects of current objects.
pub const SYNC_DELETE_OBJECT_ACTIONS: &[&str] = &["s3:DeleteObject"];
/// What `restore` needs on a mapping's destination buckets: ListObjectVersions (with s3:ListBucket, so a
/// version that went away answers 404, not 403), as a migration does.
pub const RESTORE_BUCKET_ACTIONS: &[&str] = MIGRATE_BUCKET_ACTIONS;
/// What `restore --into` and `--verify-only` need on the objects: reading versions and restoring archived
/// ones, as a migration does.
pub const RESTORE_OBJECT_ACTIONS: &[&str] = MIGRATE_OBJECT_ACTIONS;
/// What `restore --in-place` adds on the objects: CopyObject and UploadPartCopy onto the key
/// (s3:PutObject, with the source version read through s3:GetObjectVersion), aborting a copy in parts
/// that failed, and DeleteObjects without version IDs for the delete markers.
pub const RESTORE_IN_PLACE_OBJECT_ACTIONS: &[&str] = &["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"];
/// What `cost` needs on each bucket: ListObjectVersions and ListMultipartUploads.
pub const COST_BUCKET_ACTIONS: &[&str] = &["s3:ListBucketMultipartUploads", "s3:ListBucketVersions"];
/// What `cost` needs on a bucket's objects: ListParts, for the bytes of incomplete uploads.
pub const COST_OBJECT_ACTIONS: &[&str] = &["s3:ListMultipartUploadParts"];
/// What `cost --from inventory` needs on an inventory destination bucket: ListObjectsV2 under the
/// report's prefix, to find the latest report.
pub const COST_INVENTORY_BUCKET_ACTIONS: &[&str] = &[LIST_ACTION];
/// What `cost --from inventory` needs on the report's objects: its `manifest.json` and CSV files.
pub const COST_INVENTORY_OBJECT_ACTIONS: &[&str] = &["s3:GetObject"];
/// The action behind ListBuckets: `s3rec import` lists the account's buckets (`--list`, `--prefix`,
/// `--all`) once per run.
pub const LIST_BUCKETS_ACTION: &str = "s3:ListAllMyBuckets";
/// What PutBucketReplication needs on the replication role: S3 is handed the role.
pub const PASS_ROLE_ACTION: &str = "iam:PassRole";

/// What one action of the `s3` state backend acts on; [`STATE_BACKEND_ACCESS`] pairs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StateResource {
    /// The state object, `arn:aws:s3:::BUCKET/KEY`: read (GetObject, HeadObject) and written with
    /// compare-and-swap (PutObject with If-Match).
    Object,
    /// The lock object, `arn:aws:s3:::BUCKET/KEY.lock`: created with PutObject and If-None-Match, read to
    /// say who holds it, and released by deleting its own version, so that a versioned bucket keeps no
    /// noncurrent lock versions.
    Lock,
    /// The bucket, `arn:aws:s3:::BUCKET`, listed only under the key and the lock (an `s3:prefix`
    /// condition): with s3:ListBucket, S3 answers a missing state with 404 rather than 403.
    Listing,
    /// The bucket's own configuration that `doctor` reads to check the state bucket; the backend itself
    /// never reads it.
    Checks,
    /// The KMS key of `state.kms_key`, only when it is set: SSE-KMS writes and reads go through it.
    KmsKey,
}

/// The documents `doctor` reads on the state bucket: versioning (recovering an overwritten state),
/// public access block, default encryption and lifecycle (noncurrent versions of the state expire).
/// Their IAM actions come from the registry's descriptors (`model::kinds`), so they are spelled only there.
pub const STATE_BUCKET_DOCS: [DocKind; 4] = [
    DocKind::Versioning,
    DocKind::PublicAccessBlock,
    DocKind::Encryption,
    DocKind::Lifecycle,
];

/// The one table of what the `s3` state backend needs, and on what: the printed policy is made from it,
/// and doctor's probes of the state bucket name their actions from it. The [`StateResource::Checks`]
/// rows are the read actions of [`STATE_BUCKET_DOCS`], taken from the registry's descriptors (`model::kinds`).
pub const STATE_BACKEND_ACCESS: &[(&str, StateResource)] = &[
    ("s3:GetObject", StateResource::Object),
    ("s3:PutObject", StateResource::Object),
    ("s3:DeleteObject", StateResource::Lock),
    ("s3:DeleteObjectVersion", StateResource::Lock),
    ("s3:GetObject", StateResource::Lock),
    ("s3:PutObject", StateResource::Lock),
    (LIST_ACTION, StateResource::Listing),
    (read_action(STATE_BUCKET_DOCS[0]), StateResource::Checks),
    (read_action(STATE_BUCKET_DOCS[1]), StateResource::Checks),
    (read_action(STATE_BUCKET_DOCS[2]), StateResource::Checks),
    (read_action(STATE_BUCKET_DOCS[3]), StateResource::Checks),
    ("kms:Decrypt", StateResource::KmsKey),
    ("kms:Encrypt", StateResource::KmsKey),
    ("kms:GenerateDataKey", StateResource::KmsKey),
];

/// The actions the state backend needs on one kind of resource, in table order.
pub fn state_backend_actions(resource: StateResource) -> impl Iterator<Item = &'static str> {
    STATE_BACKEND_ACCESS
        .iter()
        .filter(move |(_, on)| *on == resource)
        .map(|(action, _)| *action)
}

/// How s3rec reads and writes one configuration document, in IAM terms: each kind's descriptor in the
/// registry (`model::kinds`) holds its row.
pub use crate::model::kinds::DocAccess;

/// The action behind SNS Publish: what sending a run report (`report:` in the manifest) needs on the
/// topic.
pub const PUBLISH_ACTION: &str = "sns:Publish";

/// One read call `plan` makes on an IAM or SNS resource, which `doctor` probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityCall {
    GetUser,
    ListUserTags,
    GetUserPolicy,
    ListAttachedUserPolicies,
    ListAccessKeys,
    GetRole,
    ListRoleTags,
    GetRolePolicy,
    ListAttachedRolePolicies,
    GetPolicy,
    GetPolicyVersion,
    GetTopicAttributes,
    ListTagsForResource,
    ListSubscriptionsByTopic,
    GetAccountPublicAccessBlock,
}

impl IdentityCall {
    /// The API operation, as error messages name it.
    pub const fn operation(self) -> &'static str {
        match self {
            IdentityCall::GetUser => "GetUser",
            IdentityCall::ListUserTags => "ListUserTags",
            IdentityCall::GetUserPolicy => "GetUserPolicy",
            IdentityCall::ListAttachedUserPolicies => "ListAttachedUserPolicies",
            IdentityCall::ListAccessKeys => "ListAccessKeys",
            IdentityCall::GetRole => "GetRole",
            IdentityCall::ListRoleTags => "ListRoleTags",
            IdentityCall::GetRolePolicy => "GetRolePolicy",
            IdentityCall::ListAttachedRolePolicies => "ListAttachedRolePolicies",
            IdentityCall::GetPolicy => "GetPolicy",
            IdentityCall::GetPolicyVersion => "GetPolicyVersion",
            IdentityCall::GetTopicAttributes => "GetTopicAttributes",
            IdentityCall::ListTagsForResource => "ListTagsForResource",
            IdentityCall::ListSubscriptionsByTopic => "ListSubscriptionsByTopic",
            IdentityCall::GetAccountPublicAccessBlock => "GetPublicAccessBlock",
        }
    }

    /// The IAM action that authorises the call (for these calls, the operation with its service prefix).
    pub const fn action(self) -> &'static str {
        match self {
            IdentityCall::GetUser => "iam:GetUser",
            IdentityCall::ListUserTags => "iam:ListUserTags",
            IdentityCall::GetUserPolicy => "iam:GetUserPolicy",
            IdentityCall::ListAttachedUserPolicies => "iam:ListAttachedUserPolicies",
            IdentityCall::ListAccessKeys => "iam:ListAccessKeys",
            IdentityCall::GetRole => "iam:GetRole",
            IdentityCall::ListRoleTags => "iam:ListRoleTags",
            IdentityCall::GetRolePolicy => "iam:GetRolePolicy",
            IdentityCall::ListAttachedRolePolicies => "iam:ListAttachedRolePolicies",
            IdentityCall::GetPolicy => "iam:GetPolicy",
            IdentityCall::GetPolicyVersion => "iam:GetPolicyVersion",
            IdentityCall::GetTopicAttributes => "sns:GetTopicAttributes",
            IdentityCall::ListTagsForResource => "sns:ListTagsForResource",
            IdentityCall::ListSubscriptionsByTopic => "sns:ListSubscriptionsByTopic",
            // S3 Control's GetPublicAccessBlock is authorised by an action with "Account" in its name.
            IdentityCall::GetAccountPublicAccessBlock => "s3:GetAccountPublicAccessBlock",
        }
    }

    /// The part of the resource the call reads, for the address of doctor's row; `None` for the
    /// resource's own attributes.
    pub const fn part(self) -> Option<PartKind> {
        match self {
            IdentityCall::GetUserPolicy | IdentityCall::GetRolePolicy => Some(PartKind::InlinePolicy),
            IdentityCall::ListAttachedUserPolicies | IdentityCall::ListAttachedRolePolicies => {
                Some(PartKind::Attachments)
            }
            IdentityCall::ListAccessKeys => Some(PartKind::AccessKey),
            IdentityCall::ListSubscriptionsByTopic => Some(PartKind::Subscriptions),
            IdentityCall::GetUser
            | IdentityCall::ListUserTags
            | IdentityCall::GetRole
            | IdentityCall::ListRoleTags
            | IdentityCall::GetPolicy
            | IdentityCall::GetPolicyVersion
            | IdentityCall::GetTopicAttributes
            | IdentityCall::ListTagsForResource
            | IdentityCall::GetAccountPublicAccessBlock => None,
        }
    }
}

/// How s3rec reads, writes and deletes one kind of IAM or SNS resource, in IAM terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityAccess {
    pub kind: IdentityKind,
    /// The reads `plan` makes, in order. The first one finds the resource (its "not found" answer
    /// means "will be created"); the others run only when it exists.
    pub reads: &'static [IdentityCall],
    /// Actions that plan or apply need on top of the probed reads, whenever the resource is managed.
    pub extra_read_actions: &'static [&'static str],
    /// The resources of this kind `import --with-related` may read (with the reads above), whatever
    /// the manifest holds: which ones a bucket names is known only when it runs. `{account}` stands for
    /// the account ID.
    pub import_resource: &'static str,
    /// The actions of every call apply makes to create the resource or change it and its parts.
    pub write_actions: &'static [&'static str],
    /// What deleting the resource needs on top of the above: the delete itself, and the List calls and
    /// detaching that IAM requires before it. Granted only where s3rec may delete (`state.prune`).
    pub destroy_actions: &'static [&'static str],
}

/// The one mapping from IAM and SNS resource kinds to IAM actions (in [`IdentityKind`] order). Every
/// list is sorted, so the printed policy and tests read the same way.
pub const IDENTITY_ACCESS: [IdentityAccess; 5] = [
    IdentityAccess {
        kind: IdentityKind::IamUser,
        reads: &[
            IdentityCall::GetUser,
            IdentityCall::ListUserTags,
            IdentityCall::GetUserPolicy,
            IdentityCall::ListAttachedUserPolicies,
            IdentityCall::ListAccessKeys,
        ],
        // Inline policies other than s3rec's own are listed for the findings (and left alone).
        extra_read_actions: &["iam:ListUserPolicies"],
        import_resource: "arn:aws:iam::{account}:user/*",
        write_actions: &[
            "iam:AttachUserPolicy",
            "iam:CreateAccessKey",
            "iam:CreateUser",
            "iam:DeleteAccessKey",
            "iam:DeleteUserPolicy",
            "iam:DetachUserPolicy",
            "iam:PutUserPolicy",
            "iam:TagUser",
            "iam:UntagUser",
            "iam:UpdateUser",
        ],
        destroy_actions: &[
            "iam:DeleteLoginProfile",
            "iam:DeleteUser",
            "iam:ListGroupsForUser",
            "iam:ListUserPolicies",
            "iam:RemoveUserFromGroup",
        ],
    },
    IdentityAccess {
        kind: IdentityKind::IamRole,
        reads: &[
            IdentityCall::GetRole,
            IdentityCall::ListRoleTags,
            IdentityCall::GetRolePolicy,
            IdentityCall::ListAttachedRolePolicies,
        ],
        extra_read_actions: &["iam:ListRolePolicies"],
        import_resource: "arn:aws:iam::{account}:role/*",
        write_actions: &[
            "iam:AttachRolePolicy",
            "iam:CreateRole",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:PutRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
        ],
        destroy_actions: &[
            "iam:DeleteRole",
            "iam:ListInstanceProfilesForRole",
            "iam:ListRolePolicies",
            "iam:RemoveRoleFromInstanceProfile",
        ],
    },
    IdentityAccess {
        kind: IdentityKind::IamPolicy,
        reads: &[IdentityCall::GetPolicy, IdentityCall::GetPolicyVersion],
        // Listing versions finds the oldest one to delete before a sixth is created.
        extra_read_actions: &["iam:ListPolicyVersions"],
        import_resource: "arn:aws:iam::{account}:policy/*",
        write_actions: &["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion"],
        // A policy is detached from every user, role and group before it is deleted.
        // Replacing re-attaches it to the same users, roles and groups.
        destroy_actions: &[
            "iam:AttachGroupPolicy",
            "iam:DeletePolicy",
            "iam:DetachGroupPolicy",
            "iam:ListEntitiesForPolicy",
        ],
    },
    IdentityAccess {
        kind: IdentityKind::SnsTopic,
        reads: &[
            IdentityCall::GetTopicAttributes,
            IdentityCall::ListTagsForResource,
            IdentityCall::ListSubscriptionsByTopic,
        ],
        extra_read_actions: &[],
        import_resource: "arn:aws:sns:*:{account}:*",
        write_actions: &[
            "sns:CreateTopic",
            "sns:SetTopicAttributes",
            "sns:Subscribe",
            "sns:TagResource",
            "sns:Unsubscribe",
            "sns:UntagResource",
        ],
        destroy_actions: &["sns:DeleteTopic"],
    },
    IdentityAccess {
        kind: IdentityKind::Account,
        reads: &[IdentityCall::GetAccountPublicAccessBlock],
        extra_read_actions: &[],
        // Account-level S3 actions have no resource type: IAM grants them on `*` only.
        import_resource: ACCOUNT_RESOURCE,
        write_actions: &["s3:PutAccountPublicAccessBlock"],
        // DeletePublicAccessBlock is authorised by s3:PutAccountPublicAccessBlock.
        destroy_actions: &[],
    },
];

/// The IAM resource of account-level S3 actions, which have no resource type of their own.
pub const ACCOUNT_RESOURCE: &str = "*";

/// The access entry of one IAM or SNS resource kind.
pub fn identity_access(kind: IdentityKind) -> &'static IdentityAccess {
    let index = match kind {
        IdentityKind::IamUser => 0,
        IdentityKind::IamRole => 1,
        IdentityKind::IamPolicy => 2,
        IdentityKind::SnsTopic => 3,
        IdentityKind::Account => 4,
    };
    &IDENTITY_ACCESS[index]
}

/// The access entry of one document kind, from its descriptor in the registry.
pub fn doc_access(kind: DocKind) -> &'static DocAccess {
    &crate::model::kinds::spec(kind).access
}

/// The IAM action that reads document `kind`, usable in constant tables.
pub const fn read_action(kind: DocKind) -> &'static str {
    crate::model::kinds::spec(kind).access.read_action
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Probe {
    /// Readable. "Not configured" answers count: they prove the permission as well.
    Ok,
    /// The bucket (or IAM or SNS resource) does not exist (yet): a plan creates it, so nothing is wrong.
    Missing,
    /// The caller lacks `action` on `resource` (or a policy denies it).
    Denied { action: String, resource: String },
    /// Any other failure (network, credentials, throttling), as the user-facing message.
    Error { message: String },
}

impl Probe {
    /// Classifies a failed call.
    ///
    /// `NoSuchBucket` is [`Probe::Missing`]; any other "no such thing" answer to a read is the
    /// document's "not configured" answer and so [`Probe::Ok`]; access denied becomes
    /// [`Probe::Denied`] with the action and resource of the call.
    pub fn from_error(err: &AwsError) -> Probe {
        if err.code() == Some("NoSuchBucket") {
            return Probe::Missing;
        }
        match err {
            AwsError::AccessDenied { action, resource, .. } => Probe::Denied {
                action: action.clone(),
                resource: resource.clone(),
            },
            AwsError::BucketNotAccessible { action, bucket, .. } => Probe::Denied {
                action: action.clone(),
                resource: crate::model::bucket_arn(bucket),
            },
            err if err.is_not_found() => Probe::Ok,
            err => Probe::Error {
                message: err.to_string(),
            },
        }
    }

    /// Classifies the outcome of one call.
    pub fn from_result<T>(result: &Result<T, AwsError>) -> Probe {
        match result {
            Ok(_) => Probe::Ok,
            Err(err) => Probe::from_error(err),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Probe::Ok | Probe::Missing)
    }

    pub fn is_denied(&self) -> bool {
        matches!(self, Probe::Denied { .. })
    }
}

/// Asks STS who the caller is (one GetCallerIdentity call, cached by [`Aws`]).
pub async fn probe_identity(aws: &Aws) -> Result<CallerIdentity, Probe> {
    aws.caller_identity().await.map_err(|e| Probe::from_error(&e))
}

/// Where a bucket is: the probe of GetBucketLocation and, when it exists, its region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationProbe {
    pub probe: Probe,
    pub region: Option<String>,
}

/// One GetBucketLocation call through the default-region client, as the planner makes it.
pub async fn probe_location(aws: &Aws, bucket: &str) -> LocationProbe {
    let op = Op::bucket("GetBucketLocation", LOCATION_ACTION, bucket);
    match aws.s3(aws.region()).get_bucket_location().bucket(bucket).send().await {
        Ok(out) => LocationProbe {
            probe: Probe::Ok,
            region: Some(region_from_constraint(out.location_constraint())),
        },
        Err(err) => match aws.error(&op, err) {
            // Endpoints that answer only for their own region name the bucket's region in the redirect:
            // the call did what it was for.
            AwsError::WrongRegion {
                actual_region: Some(region),
                ..
            } => LocationProbe {
                probe: Probe::Ok,
                region: Some(region),
            },
            err => LocationProbe {
                probe: Probe::from_error(&err),
                region: None,
            },
        },
    }
}

/// One ListObjectsV2 call (at most one key) through the client of the bucket's region.
pub async fn probe_list(aws: &Aws, bucket: &str, region: &str) -> Probe {
    let op = Op::bucket("ListObjectsV2", LIST_ACTION, bucket);
    let result = aws
        .s3(region)
        .list_objects_v2()
        .bucket(bucket)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| aws.error(&op, e));
    Probe::from_result(&result)
}

/// An object a listing showed: its size and when it was last written (RFC 3339), for doctor's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub size: i64,
    pub last_modified: Option<String>,
}

/// What listing the state bucket under the state key found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateListing {
    /// The state object, when one was written.
    pub state: Option<ListedObject>,
    /// The lock object, when a run holds the lock (or a killed run left it).
    pub lock: Option<ListedObject>,
}

/// One ListObjectsV2 call under the state key, through the client of the state bucket's region.
///
/// The lock key (`KEY.lock`) starts with the state key, so the one prefix the printed policy allows
/// finds both. A bucket that does not exist answers `NoSuchBucket`, one in another region a redirect,
/// and a caller without s3:ListBucket a 403: the call is doctor's check that the bucket is reachable
/// with exactly the permission the backend relies on, where HeadBucket or GetBucketLocation would need
/// more than the policy grants.
pub async fn list_state(
    aws: &Aws,
    bucket: &str,
    region: &str,
    key: &str,
    lock_key: &str,
) -> Result<StateListing, AwsError> {
    let op = Op::bucket("ListObjectsV2", LIST_ACTION, bucket);
    let out = aws
        .s3(region)
        .list_objects_v2()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .map_err(|e| aws.error(&op, e))?;
    let find = |wanted: &str| {
        out.contents()
            .iter()
            .find(|o| o.key() == Some(wanted))
            .map(|o| ListedObject {
                size: o.size().unwrap_or_default(),
                last_modified: o
                    .last_modified()
                    .and_then(|t| t.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok()),
            })
    };
    Ok(StateListing {
        state: find(key),
        lock: find(lock_key),
    })
}

/// The one Get call that reads document `kind` of a bucket, through the client of its region: the same
/// call plan makes (`read::read_doc`), so a probe that passes means plan can read it.
pub async fn probe_doc(aws: &Aws, bucket: &str, region: &str, kind: DocKind) -> Probe {
    Probe::from_result(&super::read::read_doc(aws, bucket, region, kind).await)
}

/// Whether an IAM or SNS resource exists, from the first read of its kind (GetUser, GetRole,
/// GetPolicy, GetTopicAttributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistenceProbe {
    /// [`Probe::Missing`] when it does not exist yet: apply creates it.
    pub probe: Probe,
    /// A managed policy's default version, which GetPolicyVersion reads.
    pub default_version: Option<String>,
}

/// Makes the first read of `target`'s kind, which says whether it exists.
pub async fn probe_identity_exists(aws: &Aws, target: Target<'_>) -> ExistenceProbe {
    let call = identity_access(target.kind).reads[0];
    let op = Op::new(call.operation(), call.action(), target.arn);
    let result: Result<Option<String>, AwsError> = match target.kind {
        IdentityKind::IamUser => aws
            .iam()
            .get_user()
            .user_name(target.name)
            .send()
            .await
            .map(|_| None)
            .map_err(|e| aws.error(&op, e)),
        IdentityKind::IamRole => aws
            .iam()
            .get_role()
            .role_name(target.name)
            .send()
            .await
            .map(|_| None)
            .map_err(|e| aws.error(&op, e)),
        IdentityKind::IamPolicy => aws
            .iam()
            .get_policy()
            .policy_arn(target.arn)
            .send()
            .await
            .map(|out| out.policy().and_then(|p| p.default_version_id()).map(str::to_string))
            .map_err(|e| aws.error(&op, e)),
        IdentityKind::Account => match aws
            .s3control()
            .get_public_access_block()
            .account_id(target.name)
            .send()
            .await
        {
            Ok(_) => Ok(None),
            // An account without a block is there to be configured, like a bucket without a document.
            Err(e) => {
                let err = aws.error(&op, e);
                if err.is_not_found() { Ok(None) } else { Err(err) }
            }
        },
        IdentityKind::SnsTopic => aws
            .sns(target.region)
            .get_topic_attributes()
            .topic_arn(target.arn)
            .send()
            .await
            .map(|_| None)
            .map_err(|e| aws.error(&op, e)),
    };
    match result {
        Ok(default_version) => ExistenceProbe {
            probe: Probe::Ok,
            default_version,
        },
        // For the first read, "no such thing" is the resource itself (IAM's NoSuchEntity, SNS's
        // NotFound), not a part that is merely not configured.
        Err(err) if err.is_not_found() => ExistenceProbe {
            probe: Probe::Missing,
            default_version: None,
        },
        Err(err) => ExistenceProbe {
            probe: Probe::from_error(&err),
            default_version: None,
        },
    }
}

/// Makes one of the other reads of an existing resource: the same call plan makes. `default_version`
/// is the policy version GetPolicyVersion reads (from [`probe_identity_exists`]).
pub async fn probe_identity_read(
    aws: &Aws,
    target: Target<'_>,
    call: IdentityCall,
    default_version: Option<&str>,
) -> Probe {
    let op = Op::new(call.operation(), call.action(), target.arn);
    let iam = aws.iam();
    let result: Result<(), AwsError> = match call {
        IdentityCall::GetUser => iam
            .get_user()
            .user_name(target.name)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::ListUserTags => iam
            .list_user_tags()
            .user_name(target.name)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::GetUserPolicy => iam
            .get_user_policy()
            .user_name(target.name)
            .policy_name(GRANTS_POLICY_NAME)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::ListAttachedUserPolicies => iam
            .list_attached_user_policies()
            .user_name(target.name)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::ListAccessKeys => iam
            .list_access_keys()
            .user_name(target.name)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::GetRole => iam
            .get_role()
            .role_name(target.name)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::ListRoleTags => iam
            .list_role_tags()
            .role_name(target.name)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::GetRolePolicy => iam
            .get_role_policy()
            .role_name(target.name)
            .policy_name(GRANTS_POLICY_NAME)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::ListAttachedRolePolicies => iam
            .list_attached_role_policies()
            .role_name(target.name)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::GetPolicy => iam
            .get_policy()
            .policy_arn(target.arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::GetPolicyVersion => match default_version {
            Some(version) => iam
                .get_policy_version()
                .policy_arn(target.arn)
                .version_id(version)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws.error(&op, e)),
            // IAM always names a default version; without one there is nothing plan would read.
            None => Ok(()),
        },
        IdentityCall::GetTopicAttributes => aws
            .sns(target.region)
            .get_topic_attributes()
            .topic_arn(target.arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        IdentityCall::ListTagsForResource => aws
            .sns(target.region)
            .list_tags_for_resource()
            .resource_arn(target.arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
        // Made by the existence probe already; nothing else to read.
        IdentityCall::GetAccountPublicAccessBlock => Ok(()),
        IdentityCall::ListSubscriptionsByTopic => aws
            .sns(target.region)
            .list_subscriptions_by_topic()
            .topic_arn(target.arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws.error(&op, e)),
    };
    Probe::from_result(&result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_table_is_in_kind_order_sorted_and_prefixed() {
        for kind in [
            IdentityKind::IamUser,
            IdentityKind::IamRole,
            IdentityKind::IamPolicy,
            IdentityKind::SnsTopic,
        ] {
            let access = identity_access(kind);
            assert_eq!(access.kind, kind);
            let prefix = if kind == IdentityKind::SnsTopic { "sns:" } else { "iam:" };
            for list in [access.extra_read_actions, access.write_actions, access.destroy_actions] {
                assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
                assert!(list.iter().all(|a| a.starts_with(prefix)), "{list:?}");
            }
            for call in access.reads {
                assert!(call.action().starts_with(prefix), "{call:?}");
                assert!(call.action().ends_with(call.operation()), "{call:?}");
            }
        }
        assert_eq!(identity_access(IdentityKind::IamUser).reads[0], IdentityCall::GetUser);
        assert_eq!(IdentityCall::ListAccessKeys.part(), Some(PartKind::AccessKey));
    }

    #[test]
    fn the_table_covers_every_document() {
        for kind in DocKind::ALL {
            assert_eq!(doc_access(kind).kind, kind);
        }
    }

    #[test]
    fn the_state_backend_table_takes_doctors_reads_from_the_document_table_and_names_each_pair_once() {
        let checks: Vec<&str> = state_backend_actions(StateResource::Checks).collect();
        let docs: Vec<&str> = STATE_BUCKET_DOCS.iter().map(|k| doc_access(*k).read_action).collect();
        assert_eq!(checks, docs);
        assert_eq!(
            state_backend_actions(StateResource::Listing).collect::<Vec<_>>(),
            [LIST_ACTION]
        );
        for (i, row) in STATE_BACKEND_ACCESS.iter().enumerate() {
            assert!(!STATE_BACKEND_ACCESS[..i].contains(row), "{row:?} twice");
            // KMS actions go on the key, and nothing else does.
            assert_eq!(row.0.starts_with("kms:"), row.1 == StateResource::KmsKey, "{row:?}");
        }
        // The state object is never deleted; only the lock is, by its own version.
        assert!(!state_backend_actions(StateResource::Object).any(|a| a.starts_with("s3:Delete")));
        assert!(state_backend_actions(StateResource::Lock).any(|a| a == "s3:DeleteObjectVersion"));
    }

    #[test]
    fn action_names_are_iam_actions_and_write_actions_are_sorted() {
        for a in DocKind::ALL.map(doc_access) {
            assert!(a.read_action.starts_with("s3:Get"), "{}", a.read_action);
            assert!(!a.write_actions.is_empty());
            assert!(a.write_actions.windows(2).all(|w| w[0] < w[1]), "{:?}", a.write_actions);
            for w in a.write_actions {
                assert!(w.starts_with("s3:Put") || w.starts_with("s3:Delete"), "{w}");
            }
        }
        assert_eq!(
            doc_access(DocKind::Lifecycle).read_action,
            "s3:GetLifecycleConfiguration"
        );
        assert_eq!(
            doc_access(DocKind::Encryption).read_action,
            "s3:GetEncryptionConfiguration"
        );
        assert_eq!(doc_access(DocKind::Cors).read_action, "s3:GetBucketCORS");
    }

    #[test]
    fn access_denied_is_denied_with_the_missing_action_and_resource() {
        let err = AwsError::AccessDenied {
            operation: "GetBucketLifecycleConfiguration".into(),
            action: "s3:GetLifecycleConfiguration".into(),
            resource: "arn:aws:s3:::logs".into(),
            caller: "arn:aws:iam::123456789012:user/ci".into(),
            message: "Access Denied".into(),
        };
        let probe = Probe::from_error(&err);
        assert_eq!(
            probe,
            Probe::Denied {
                action: "s3:GetLifecycleConfiguration".into(),
                resource: "arn:aws:s3:::logs".into(),
            }
        );
        assert!(probe.is_denied());
        assert!(!probe.is_ok());
    }

    #[test]
    fn a_bucket_that_is_not_accessible_is_denied_on_its_arn() {
        let err = AwsError::BucketNotAccessible {
            operation: "GetBucketLocation".into(),
            action: LOCATION_ACTION.into(),
            bucket: "logs".into(),
            caller: "ci".into(),
            message: String::new(),
        };
        assert_eq!(
            Probe::from_error(&err),
            Probe::Denied {
                action: "s3:GetBucketLocation".into(),
                resource: "arn:aws:s3:::logs".into(),
            }
        );
    }

    #[test]
    fn a_missing_bucket_is_missing_and_not_configured_is_ok() {
        let not_found = |code: &str| AwsError::NotFound {
            operation: "Get".into(),
            resource: "arn:aws:s3:::logs".into(),
            code: code.into(),
            message: String::new(),
        };
        assert_eq!(Probe::from_error(&not_found("NoSuchBucket")), Probe::Missing);
        for code in [
            "NoSuchLifecycleConfiguration",
            "NoSuchBucketPolicy",
            "ServerSideEncryptionConfigurationNotFoundError",
            "OwnershipControlsNotFoundError",
            "NoSuchTagSet",
        ] {
            assert_eq!(Probe::from_error(&not_found(code)), Probe::Ok, "{code}");
        }
        assert!(Probe::Missing.is_ok());
    }

    #[test]
    fn other_failures_are_errors_with_the_message() {
        let err = AwsError::Throttled {
            operation: "GetBucketTagging".into(),
            resource: "arn:aws:s3:::logs".into(),
            code: "SlowDown".into(),
            attempts: 5,
        };
        match Probe::from_error(&err) {
            Probe::Error { message } => assert!(message.contains("SlowDown"), "{message}"),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn probes_serialize_with_a_result_tag() {
        let denied = Probe::Denied {
            action: "s3:GetBucketTagging".into(),
            resource: "arn:aws:s3:::x".into(),
        };
        assert_eq!(
            serde_json::to_value(&denied).unwrap(),
            serde_json::json!({"result": "denied", "action": "s3:GetBucketTagging", "resource": "arn:aws:s3:::x"})
        );
        assert_eq!(
            serde_json::to_value(Probe::Ok).unwrap(),
            serde_json::json!({"result": "ok"})
        );
    }

    /// Doctor spawns probes onto the runtime, so they must stay `Send`; this fails to compile otherwise.
    #[allow(dead_code)]
    fn probes_are_send(aws: &Aws) {
        fn send<T: Send>(_: T) {}
        send(probe_location(aws, "b"));
        send(probe_list(aws, "b", "us-east-1"));
        send(probe_doc(aws, "b", "us-east-1", DocKind::Tags));
        send(probe_identity(aws));
        let target = Target {
            kind: IdentityKind::SnsTopic,
            name: "t",
            arn: "arn:aws:sns:us-east-1:123456789012:t",
            region: "us-east-1",
        };
        send(probe_identity_exists(aws, target));
        send(probe_identity_read(
            aws,
            target,
            IdentityCall::ListTagsForResource,
            None,
        ));
    }

    #[test]
    fn every_iam_and_sns_action_the_adapter_calls_is_in_the_access_tables() {
        // The adapter names the action of each call in its `Op`; the printed policy must grant each.
        let mut granted: Vec<&str> = vec![PUBLISH_ACTION];
        for access in &IDENTITY_ACCESS {
            granted.extend(access.reads.iter().map(|r| r.action()));
            granted.extend(access.extra_read_actions);
            granted.extend(access.write_actions);
            granted.extend(access.destroy_actions);
        }
        for (file, source) in [("iam.rs", include_str!("iam.rs")), ("sns.rs", include_str!("sns.rs"))] {
            for prefix in ["\"iam:", "\"sns:"] {
                for (at, _) in source.match_indices(prefix) {
                    let rest = &source[at + 1..];
                    let action = &rest[..rest.find('"').unwrap_or(rest.len())];
                    assert!(
                        granted.contains(&action),
                        "{file} calls {action}, which IDENTITY_ACCESS lacks"
                    );
                }
            }
        }
    }
}
