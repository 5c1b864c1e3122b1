//! IAM users, roles and managed policies: reads into canonical values and the writes of each change.
//!
//! Reads return the same canonical values `model::identity` builds from a manifest, so "no change" is
//! equality: policy documents are decoded (IAM hands them back URL-encoded) and normalized, empty
//! descriptions are `None`, and parts that are not configured have their unconfigured value.
//!
//! Writes are idempotent where IAM allows it, because the executor retries transient failures and a
//! retry must not fail on what the first attempt already did: deleting something that is already gone
//! is success, and creating something that appeared meanwhile converges it to the plan's value.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;

use aws_sdk_iam::types::Tag;
use serde_json::Value as Json;

use super::identity::{Target, Write};
use super::{Aws, AwsError, Op};
use crate::model::identity::{
    AccessKeyDoc, DEFAULT_MAX_SESSION_DURATION, GRANTS_POLICY_NAME, IdentityDoc, IdentityKind, MAX_POLICY_VERSIONS,
    ObservedIdentity, PartKind, PolicyDoc, RoleDoc, UserDoc,
};
use crate::model::policy::normalize;
use crate::plan::Action;

/// The error code IAM answers a create with when the name is taken.
const ALREADY_EXISTS: &str = "EntityAlreadyExists";

/// Reads a user, role or policy with its parts; `None` when it does not exist.
pub async fn read(aws: &Aws, target: Target<'_>) -> Result<Option<ObservedIdentity>, AwsError> {
    match target.kind {
        IdentityKind::IamUser => read_user(aws, target).await,
        IdentityKind::IamRole => read_role(aws, target).await,
        IdentityKind::IamPolicy => read_policy(aws, target.arn).await,
        IdentityKind::SnsTopic | IdentityKind::Account => Err(AwsError::InvalidRequest {
            operation: "read".to_string(),
            resource: target.arn.to_string(),
            detail: format!("a {} was sent to the IAM reader", target.kind),
        }),
    }
}

/// Performs one change on a user, role or policy.
pub async fn write(aws: &Aws, w: &Write<'_>) -> Result<Option<IdentityDoc>, AwsError> {
    if !w.action.calls_aws() {
        return Ok(None);
    }
    let t = w.target;
    match (t.kind, w.part) {
        (IdentityKind::IamUser | IdentityKind::IamRole, Some(PartKind::InlinePolicy)) => {
            write_inline_policy(aws, w).await.map(|()| None)
        }
        (IdentityKind::IamUser | IdentityKind::IamRole, Some(PartKind::Attachments)) => {
            write_attachments(aws, w).await.map(|()| None)
        }
        (IdentityKind::IamUser, Some(PartKind::AccessKey)) => write_access_key(aws, w).await,
        (IdentityKind::IamUser, None) => write_user(aws, w).await.map(|()| None),
        (IdentityKind::IamRole, None) => write_role(aws, w).await.map(|()| None),
        (IdentityKind::IamPolicy, None) => write_policy(aws, w).await.map(|()| None),
        (kind, part) => Err(plan_bug(
            "write",
            t.arn,
            format!(
                "{kind} has no part {} that the IAM writer knows",
                part.map_or("(none)", PartKind::as_str)
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------------------
// Reads.
// ---------------------------------------------------------------------------------------------------

async fn read_user(aws: &Aws, t: Target<'_>) -> Result<Option<ObservedIdentity>, AwsError> {
    let iam = aws.iam();
    let op = Op::new("GetUser", "iam:GetUser", t.arn);
    let out = match iam.get_user().user_name(t.name).send().await {
        Ok(out) => out,
        Err(e) => return absent_is_none(aws.error(&op, e)),
    };
    let path = out
        .user()
        .map(|u| u.path().to_string())
        .ok_or_else(|| bad_response(&op, "the answer has no User"))?;
    // The user can vanish between GetUser and the part reads; that is the same as not existing.
    let parts = tokio::try_join!(
        user_tags(aws, t),
        read_user_inline_policy(aws, t),
        attached_user_policies(aws, t),
        access_key_ids(aws, t),
        async { user_inline_policies(aws, t).await.map(other_inline) },
    );
    let (tags, inline, attached, keys, other_inline) = match parts {
        Ok(parts) => parts,
        Err(err) => return absent_is_none(err),
    };
    let mut parts = BTreeMap::new();
    parts.insert(PartKind::InlinePolicy, IdentityDoc::InlinePolicy(inline));
    parts.insert(PartKind::Attachments, IdentityDoc::Attachments(attached));
    // `keys` is sorted, so the first one is a stable choice when a user has two.
    if let Some(first) = keys.into_iter().next() {
        parts.insert(
            PartKind::AccessKey,
            IdentityDoc::AccessKey(AccessKeyDoc {
                secret_file: None,
                access_key_id: Some(first),
            }),
        );
    }
    Ok(Some(ObservedIdentity {
        main: IdentityDoc::User(UserDoc { path, tags }),
        parts,
        pending_subscriptions: Vec::new(),
        other_inline,
    }))
}

async fn read_role(aws: &Aws, t: Target<'_>) -> Result<Option<ObservedIdentity>, AwsError> {
    let op = Op::new("GetRole", "iam:GetRole", t.arn);
    let out = match aws.iam().get_role().role_name(t.name).send().await {
        Ok(out) => out,
        Err(e) => return absent_is_none(aws.error(&op, e)),
    };
    let role = out.role().ok_or_else(|| bad_response(&op, "the answer has no Role"))?;
    let trust_text = role
        .assume_role_policy_document()
        .ok_or_else(|| bad_response(&op, "the role has no AssumeRolePolicyDocument"))?;
    let trust = policy_from_iam(trust_text).map_err(|detail| bad_response(&op, detail))?;
    let max_session_duration = match role.max_session_duration() {
        None => DEFAULT_MAX_SESSION_DURATION,
        Some(seconds) => u32::try_from(seconds)
            .map_err(|_| bad_response(&op, format!("MaxSessionDuration {seconds} is negative")))?,
    };
    let path = role.path().to_string();
    let description = role.description().filter(|d| !d.is_empty()).map(str::to_string);
    let parts = tokio::try_join!(
        role_tags(aws, t),
        read_role_inline_policy(aws, t),
        attached_role_policies(aws, t),
        async { role_inline_policies(aws, t).await.map(other_inline) },
    );
    let (tags, inline, attached, other_inline) = match parts {
        Ok(parts) => parts,
        Err(err) => return absent_is_none(err),
    };
    let mut parts = BTreeMap::new();
    parts.insert(PartKind::InlinePolicy, IdentityDoc::InlinePolicy(inline));
    parts.insert(PartKind::Attachments, IdentityDoc::Attachments(attached));
    Ok(Some(ObservedIdentity {
        main: IdentityDoc::Role(RoleDoc {
            path,
            description,
            max_session_duration,
            trust,
            tags,
        }),
        parts,
        pending_subscriptions: Vec::new(),
        other_inline,
    }))
}

async fn read_policy(aws: &Aws, arn: &str) -> Result<Option<ObservedIdentity>, AwsError> {
    let op = Op::new("GetPolicy", "iam:GetPolicy", arn);
    let out = match aws.iam().get_policy().policy_arn(arn).send().await {
        Ok(out) => out,
        Err(e) => return absent_is_none(aws.error(&op, e)),
    };
    let policy = out
        .policy()
        .ok_or_else(|| bad_response(&op, "the answer has no Policy"))?;
    let path = policy.path().unwrap_or("/").to_string();
    let description = policy.description().filter(|d| !d.is_empty()).map(str::to_string);
    let version = policy
        .default_version_id()
        .ok_or_else(|| bad_response(&op, "the policy has no DefaultVersionId"))?;
    let document = match policy_version_document(aws, arn, version).await {
        Ok(document) => document,
        Err(err) => return absent_is_none(err),
    };
    Ok(Some(ObservedIdentity {
        main: IdentityDoc::Policy(PolicyDoc {
            path,
            description,
            document,
        }),
        parts: BTreeMap::new(),
        pending_subscriptions: Vec::new(),
        other_inline: Vec::new(),
    }))
}

/// The normalized document of one version of a managed policy.
async fn policy_version_document(aws: &Aws, arn: &str, version: &str) -> Result<Json, AwsError> {
    let op = Op::new("GetPolicyVersion", "iam:GetPolicyVersion", arn);
    let out = aws
        .iam()
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| aws.error(&op, e))?;
    let text = out
        .policy_version()
        .and_then(|v| v.document())
        .ok_or_else(|| bad_response(&op, format!("version {version} has no Document")))?;
    policy_from_iam(text).map_err(|detail| bad_response(&op, detail))
}

async fn user_tags(aws: &Aws, t: Target<'_>) -> Result<BTreeMap<String, String>, AwsError> {
    let op = Op::new("ListUserTags", "iam:ListUserTags", t.arn);
    let tags = aws
        .iam()
        .list_user_tags()
        .user_name(t.name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))?;
    Ok(tags_from_sdk(&tags))
}

async fn role_tags(aws: &Aws, t: Target<'_>) -> Result<BTreeMap<String, String>, AwsError> {
    let op = Op::new("ListRoleTags", "iam:ListRoleTags", t.arn);
    let tags = aws
        .iam()
        .list_role_tags()
        .role_name(t.name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))?;
    Ok(tags_from_sdk(&tags))
}

/// The user's [`GRANTS_POLICY_NAME`] inline policy, `None` when it has none.
async fn read_user_inline_policy(aws: &Aws, t: Target<'_>) -> Result<Option<Json>, AwsError> {
    let op = Op::new("GetUserPolicy", "iam:GetUserPolicy", t.arn);
    match aws
        .iam()
        .get_user_policy()
        .user_name(t.name)
        .policy_name(GRANTS_POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => policy_from_iam(out.policy_document())
            .map(Some)
            .map_err(|detail| bad_response(&op, detail)),
        // NoSuchEntity here means either no such policy or no such principal; a principal that
        // vanished also fails the other part reads, which `read` turns into "absent".
        Err(e) => absent_is_none(aws.error(&op, e)),
    }
}

/// The role's [`GRANTS_POLICY_NAME`] inline policy, `None` when it has none.
async fn read_role_inline_policy(aws: &Aws, t: Target<'_>) -> Result<Option<Json>, AwsError> {
    let op = Op::new("GetRolePolicy", "iam:GetRolePolicy", t.arn);
    match aws
        .iam()
        .get_role_policy()
        .role_name(t.name)
        .policy_name(GRANTS_POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => policy_from_iam(out.policy_document())
            .map(Some)
            .map_err(|detail| bad_response(&op, detail)),
        // NoSuchEntity here means either no such policy or no such principal; a principal that
        // vanished also fails the other part reads, which `read` turns into "absent".
        Err(e) => absent_is_none(aws.error(&op, e)),
    }
}

/// Inline policies of a user or role other than s3rec's own (`s3rec-grants`), by name.
fn other_inline(names: Vec<String>) -> Vec<String> {
    names.into_iter().filter(|n| n != GRANTS_POLICY_NAME).collect()
}

/// Every inline policy of a user, by name.
async fn user_inline_policies(aws: &Aws, t: Target<'_>) -> Result<Vec<String>, AwsError> {
    let op = Op::new("ListUserPolicies", "iam:ListUserPolicies", t.arn);
    aws.iam()
        .list_user_policies()
        .user_name(t.name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))
}

/// Every inline policy of a role, by name.
async fn role_inline_policies(aws: &Aws, t: Target<'_>) -> Result<Vec<String>, AwsError> {
    let op = Op::new("ListRolePolicies", "iam:ListRolePolicies", t.arn);
    aws.iam()
        .list_role_policies()
        .role_name(t.name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))
}

async fn attached_user_policies(aws: &Aws, t: Target<'_>) -> Result<BTreeSet<String>, AwsError> {
    let op = Op::new("ListAttachedUserPolicies", "iam:ListAttachedUserPolicies", t.arn);
    let attached = aws
        .iam()
        .list_attached_user_policies()
        .user_name(t.name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))?;
    Ok(attached
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect())
}

async fn attached_role_policies(aws: &Aws, t: Target<'_>) -> Result<BTreeSet<String>, AwsError> {
    let op = Op::new("ListAttachedRolePolicies", "iam:ListAttachedRolePolicies", t.arn);
    let attached = aws
        .iam()
        .list_attached_role_policies()
        .role_name(t.name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))?;
    Ok(attached
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect())
}

/// The IDs of the user's access keys, sorted.
pub(super) async fn access_key_ids(aws: &Aws, t: Target<'_>) -> Result<Vec<String>, AwsError> {
    let op = Op::new("ListAccessKeys", "iam:ListAccessKeys", t.arn);
    let keys = aws
        .iam()
        .list_access_keys()
        .user_name(t.name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))?;
    let mut ids: Vec<String> = keys
        .iter()
        .filter_map(|k| k.access_key_id().map(str::to_string))
        .collect();
    ids.sort();
    Ok(ids)
}

// ---------------------------------------------------------------------------------------------------
// Users.
// ---------------------------------------------------------------------------------------------------

async fn write_user(aws: &Aws, w: &Write<'_>) -> Result<(), AwsError> {
    let t = w.target;
    match w.action {
        Action::Create => create_user(aws, t, user_value(w.after, t, "create")?).await,
        Action::Update => {
            update_user(
                aws,
                t,
                user_value(w.before, t, "update").ok(),
                user_value(w.after, t, "update")?,
            )
            .await
        }
        Action::Replace => {
            let after = user_value(w.after, t, "replace")?;
            delete_user(aws, t).await?;
            create_user(aws, t, after).await
        }
        Action::Delete => delete_user(aws, t).await,
        Action::Adopt | Action::NoOp => Ok(()),
    }
}

async fn create_user(aws: &Aws, t: Target<'_>, after: &UserDoc) -> Result<(), AwsError> {
    let op = Op::new("CreateUser", "iam:CreateUser", t.arn);
    let result = aws
        .iam()
        .create_user()
        .user_name(t.name)
        .path(&after.path)
        .set_tags(non_empty(iam_tags(&after.tags, &op)?))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = aws.error(&op, e);
            if err.code() != Some(ALREADY_EXISTS) {
                return Err(err);
            }
            // A retry of a create whose answer was lost, or a race with another writer: make what is
            // there what the plan wants instead of failing on a name that is already right.
            tracing::warn!(
                user = t.name,
                "IAM user already exists; updating it to the planned value"
            );
            let live = match read_user(aws, t).await? {
                Some(ObservedIdentity {
                    main: IdentityDoc::User(live),
                    ..
                }) => live,
                _ => return Err(err),
            };
            update_user(aws, t, Some(&live), after).await
        }
    }
}

/// Brings the user's path and tags from `before` (`None`: unknown, so everything is written) to
/// `after`.
async fn update_user(aws: &Aws, t: Target<'_>, before: Option<&UserDoc>, after: &UserDoc) -> Result<(), AwsError> {
    let iam = aws.iam();
    if before.is_none_or(|b| b.path != after.path) {
        let op = Op::new("UpdateUser", "iam:UpdateUser", t.arn);
        iam.update_user()
            .user_name(t.name)
            .new_path(&after.path)
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    let (set, remove) = tag_changes(before.map(|b| &b.tags), &after.tags);
    if !set.is_empty() {
        let op = Op::new("TagUser", "iam:TagUser", t.arn);
        iam.tag_user()
            .user_name(t.name)
            .set_tags(Some(iam_tags(&set, &op)?))
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    if !remove.is_empty() {
        let op = Op::new("UntagUser", "iam:UntagUser", t.arn);
        iam.untag_user()
            .user_name(t.name)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    Ok(())
}

/// Deletes a user after everything IAM refuses to delete a user with: access keys, inline policies,
/// attached policies, group memberships and the console password. A user that is already gone, at any
/// step, counts as deleted.
async fn delete_user(aws: &Aws, t: Target<'_>) -> Result<(), AwsError> {
    gone_ok(delete_user_steps(aws, t).await)
}

async fn delete_user_steps(aws: &Aws, t: Target<'_>) -> Result<(), AwsError> {
    let iam = aws.iam();
    for key in access_key_ids(aws, t).await? {
        delete_access_key(aws, t, &key).await?;
    }

    for policy in user_inline_policies(aws, t).await? {
        delete_inline_policy(aws, t, &policy).await?;
    }

    for arn in attached_user_policies(aws, t).await? {
        detach(aws, t, &arn).await?;
    }

    let op = Op::new("ListGroupsForUser", "iam:ListGroupsForUser", t.arn);
    let groups = iam
        .list_groups_for_user()
        .user_name(t.name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))?;
    for group in groups {
        let op = Op::new("RemoveUserFromGroup", "iam:RemoveUserFromGroup", group.arn());
        let removed = iam
            .remove_user_from_group()
            .group_name(group.group_name())
            .user_name(t.name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e));
        gone_ok(removed)?;
    }

    // Most users managed by s3rec never had a console password; NoSuchEntity is the usual answer.
    let op = Op::new("DeleteLoginProfile", "iam:DeleteLoginProfile", t.arn);
    let deleted = iam
        .delete_login_profile()
        .user_name(t.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e));
    gone_ok(deleted)?;

    let op = Op::new("DeleteUser", "iam:DeleteUser", t.arn);
    iam.delete_user()
        .user_name(t.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e))
}

// ---------------------------------------------------------------------------------------------------
// Roles.
// ---------------------------------------------------------------------------------------------------

async fn write_role(aws: &Aws, w: &Write<'_>) -> Result<(), AwsError> {
    let t = w.target;
    match w.action {
        Action::Create => create_role(aws, t, role_value(w.after, t, "create")?).await,
        Action::Update => {
            update_role(
                aws,
                t,
                role_value(w.before, t, "update").ok(),
                role_value(w.after, t, "update")?,
            )
            .await
        }
        Action::Replace => {
            let after = role_value(w.after, t, "replace")?;
            delete_role(aws, t).await?;
            create_role(aws, t, after).await
        }
        Action::Delete => delete_role(aws, t).await,
        Action::Adopt | Action::NoOp => Ok(()),
    }
}

async fn create_role(aws: &Aws, t: Target<'_>, after: &RoleDoc) -> Result<(), AwsError> {
    let op = Op::new("CreateRole", "iam:CreateRole", t.arn);
    let result = aws
        .iam()
        .create_role()
        .role_name(t.name)
        .path(&after.path)
        .set_description(after.description.clone())
        .max_session_duration(session_seconds(after.max_session_duration, &op)?)
        .assume_role_policy_document(after.trust.to_string())
        .set_tags(non_empty(iam_tags(&after.tags, &op)?))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = aws.error(&op, e);
            if err.code() != Some(ALREADY_EXISTS) {
                return Err(err);
            }
            // As for users: a lost answer or a race; converge rather than fail on a name that is right.
            tracing::warn!(
                role = t.name,
                "IAM role already exists; updating it to the planned value"
            );
            let live = match read_role(aws, t).await? {
                Some(ObservedIdentity {
                    main: IdentityDoc::Role(live),
                    ..
                }) => live,
                _ => return Err(err),
            };
            if live.path != after.path {
                // IAM cannot move a role; only a replace can.
                return Err(err);
            }
            update_role(aws, t, Some(&live), after).await
        }
    }
}

/// Brings the role's trust policy, description, session duration and tags from `before` (`None`:
/// unknown, so everything is written) to `after`. The path cannot change in place; the plan replaces
/// the role for that.
async fn update_role(aws: &Aws, t: Target<'_>, before: Option<&RoleDoc>, after: &RoleDoc) -> Result<(), AwsError> {
    let iam = aws.iam();
    if before.is_none_or(|b| b.trust != after.trust) {
        let op = Op::new("UpdateAssumeRolePolicy", "iam:UpdateAssumeRolePolicy", t.arn);
        iam.update_assume_role_policy()
            .role_name(t.name)
            .policy_document(after.trust.to_string())
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    if before.is_none_or(|b| b.description != after.description || b.max_session_duration != after.max_session_duration)
    {
        let op = Op::new("UpdateRole", "iam:UpdateRole", t.arn);
        // The empty description is how UpdateRole clears one; leaving it out would keep the old text.
        iam.update_role()
            .role_name(t.name)
            .description(after.description.clone().unwrap_or_default())
            .max_session_duration(session_seconds(after.max_session_duration, &op)?)
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    let (set, remove) = tag_changes(before.map(|b| &b.tags), &after.tags);
    if !set.is_empty() {
        let op = Op::new("TagRole", "iam:TagRole", t.arn);
        iam.tag_role()
            .role_name(t.name)
            .set_tags(Some(iam_tags(&set, &op)?))
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    if !remove.is_empty() {
        let op = Op::new("UntagRole", "iam:UntagRole", t.arn);
        iam.untag_role()
            .role_name(t.name)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
    }
    Ok(())
}

/// Deletes a role after what IAM refuses to delete a role with: attached and inline policies and
/// instance-profile memberships. A role that is already gone, at any step, counts as deleted.
async fn delete_role(aws: &Aws, t: Target<'_>) -> Result<(), AwsError> {
    gone_ok(delete_role_steps(aws, t).await)
}

async fn delete_role_steps(aws: &Aws, t: Target<'_>) -> Result<(), AwsError> {
    let iam = aws.iam();
    for arn in attached_role_policies(aws, t).await? {
        detach(aws, t, &arn).await?;
    }

    for policy in role_inline_policies(aws, t).await? {
        delete_inline_policy(aws, t, &policy).await?;
    }

    let op = Op::new("ListInstanceProfilesForRole", "iam:ListInstanceProfilesForRole", t.arn);
    let profiles = iam
        .list_instance_profiles_for_role()
        .role_name(t.name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))?;
    for profile in profiles {
        let op = Op::new(
            "RemoveRoleFromInstanceProfile",
            "iam:RemoveRoleFromInstanceProfile",
            profile.arn(),
        );
        let removed = iam
            .remove_role_from_instance_profile()
            .instance_profile_name(profile.instance_profile_name())
            .role_name(t.name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e));
        gone_ok(removed)?;
    }

    let op = Op::new("DeleteRole", "iam:DeleteRole", t.arn);
    iam.delete_role()
        .role_name(t.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e))
}

// ---------------------------------------------------------------------------------------------------
// Managed policies.
// ---------------------------------------------------------------------------------------------------

/// Users, roles and groups a managed policy is attached to, by name.
#[derive(Debug, Default)]
struct Entities {
    users: Vec<String>,
    roles: Vec<String>,
    groups: Vec<String>,
}

async fn write_policy(aws: &Aws, w: &Write<'_>) -> Result<(), AwsError> {
    let t = w.target;
    match w.action {
        Action::Create => create_policy(aws, t, policy_value(w.after, t, "create")?)
            .await
            .map(|_| ()),
        Action::Update => {
            let after = policy_value(w.after, t, "update")?;
            new_default_version(aws, t.arn, &after.document).await
        }
        Action::Replace => replace_policy(aws, w).await,
        Action::Delete => {
            let arn = match policy_value(w.before, t, "delete") {
                Ok(before) => policy_arn_with_path(t.arn, t.name, &before.path),
                Err(_) => t.arn.to_string(),
            };
            gone_ok(delete_policy(aws, &arn).await.map(|_| ()))
        }
        Action::Adopt | Action::NoOp => Ok(()),
    }
}

/// Creates a managed policy and returns its ARN.
async fn create_policy(aws: &Aws, t: Target<'_>, after: &PolicyDoc) -> Result<String, AwsError> {
    let arn = policy_arn_with_path(t.arn, t.name, &after.path);
    let op = Op::new("CreatePolicy", "iam:CreatePolicy", arn.as_str());
    let result = aws
        .iam()
        .create_policy()
        .policy_name(t.name)
        .path(&after.path)
        .set_description(after.description.clone())
        .policy_document(after.document.to_string())
        .send()
        .await;
    match result {
        Ok(out) => Ok(out.policy().and_then(|p| p.arn()).map_or(arn, str::to_string)),
        Err(e) => {
            let err = aws.error(&op, e);
            if err.code() != Some(ALREADY_EXISTS) {
                return Err(err);
            }
            // A lost answer or a race. The document can be brought to the plan's value with a new
            // version; a different path or description cannot, and then the error stands.
            let live = match read_policy(aws, &arn).await? {
                Some(ObservedIdentity {
                    main: IdentityDoc::Policy(live),
                    ..
                }) => live,
                _ => return Err(err),
            };
            if live.path != after.path || live.description != after.description {
                return Err(err);
            }
            tracing::warn!(policy = %arn, "IAM policy already exists; bringing its document to the planned value");
            if live.document != after.document {
                new_default_version(aws, &arn, &after.document).await?;
            }
            Ok(arn)
        }
    }
}

/// Makes `document` the policy's default version, first deleting the oldest non-default version when
/// IAM's limit of [`MAX_POLICY_VERSIONS`] is reached.
async fn new_default_version(aws: &Aws, arn: &str, document: &Json) -> Result<(), AwsError> {
    let iam = aws.iam();
    let versions = policy_versions(aws, arn).await?;
    if versions.len() >= MAX_POLICY_VERSIONS
        && let Some(oldest) = versions.iter().find(|v| !v.is_default)
    {
        delete_policy_version(aws, arn, &oldest.id).await?;
    }
    let op = Op::new("CreatePolicyVersion", "iam:CreatePolicyVersion", arn);
    iam.create_policy_version()
        .policy_arn(arn)
        .policy_document(document.to_string())
        .set_as_default(true)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e))
}

/// One version of a managed policy, as far as pruning needs it.
#[derive(Debug)]
struct Version {
    id: String,
    is_default: bool,
    /// Seconds and nanoseconds of its creation, for ordering.
    created: (i64, u32),
}

/// The versions of a managed policy, oldest first. Versions created in the same instant are ordered
/// by their number (`v2` before `v10`), which is IAM's creation order.
async fn policy_versions(aws: &Aws, arn: &str) -> Result<Vec<Version>, AwsError> {
    let op = Op::new("ListPolicyVersions", "iam:ListPolicyVersions", arn);
    let listed = aws
        .iam()
        .list_policy_versions()
        .policy_arn(arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))?;
    let mut versions: Vec<Version> = listed
        .iter()
        .filter_map(|v| {
            Some(Version {
                id: v.version_id()?.to_string(),
                is_default: v.is_default_version(),
                created: v.create_date().map_or((0, 0), |d| (d.secs(), d.subsec_nanos())),
            })
        })
        .collect();
    versions.sort_by_key(|v| (v.created, version_number(&v.id), v.id.clone()));
    Ok(versions)
}

/// The number of a version ID such as `v12`, for ordering; IDs of another shape sort last.
fn version_number(id: &str) -> u64 {
    id.strip_prefix('v').and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
}

async fn delete_policy_version(aws: &Aws, arn: &str, version: &str) -> Result<(), AwsError> {
    let op = Op::new("DeletePolicyVersion", "iam:DeletePolicyVersion", arn);
    let deleted = aws
        .iam()
        .delete_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e));
    gone_ok(deleted)
}

/// Path and description of a managed policy are immutable, so a change to either deletes the policy
/// and creates it again, re-attaching it to every user, role and group that had it.
async fn replace_policy(aws: &Aws, w: &Write<'_>) -> Result<(), AwsError> {
    let t = w.target;
    let after = policy_value(w.after, t, "replace")?;
    // A new path is a new ARN: the old policy is found by the path it had.
    let old_arn = match policy_value(w.before, t, "replace") {
        Ok(before) => policy_arn_with_path(t.arn, t.name, &before.path),
        Err(_) => t.arn.to_string(),
    };
    let entities = match delete_policy(aws, &old_arn).await {
        Ok(entities) => entities,
        // Already deleted by an earlier attempt of this change: the entities it had are unknown now,
        // and the attachments parts of the plan re-attach them.
        Err(err) if err.is_not_found() => Entities::default(),
        Err(err) => return Err(err),
    };
    let new_arn = create_policy(aws, t, after).await?;
    attach_entities(aws, &new_arn, &entities).await
}

/// Detaches a managed policy from everything, deletes its non-default versions and then the policy.
/// Returns what it was attached to.
async fn delete_policy(aws: &Aws, arn: &str) -> Result<Entities, AwsError> {
    let entities = policy_entities(aws, arn).await?;
    detach_entities(aws, arn, &entities).await?;
    for version in policy_versions(aws, arn).await? {
        if !version.is_default {
            delete_policy_version(aws, arn, &version.id).await?;
        }
    }
    let op = Op::new("DeletePolicy", "iam:DeletePolicy", arn);
    aws.iam()
        .delete_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| aws.error(&op, e))?;
    Ok(entities)
}

async fn policy_entities(aws: &Aws, arn: &str) -> Result<Entities, AwsError> {
    let op = Op::new("ListEntitiesForPolicy", "iam:ListEntitiesForPolicy", arn);
    let pages = aws
        .iam()
        .list_entities_for_policy()
        .policy_arn(arn)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws.error(&op, e))?;
    let mut entities = Entities::default();
    for page in &pages {
        entities.users.extend(
            page.policy_users()
                .iter()
                .filter_map(|u| u.user_name().map(str::to_string)),
        );
        entities.roles.extend(
            page.policy_roles()
                .iter()
                .filter_map(|r| r.role_name().map(str::to_string)),
        );
        entities.groups.extend(
            page.policy_groups()
                .iter()
                .filter_map(|g| g.group_name().map(str::to_string)),
        );
    }
    Ok(entities)
}

/// Detaches a policy from the given entities. The resource named in errors is the entity's name: IAM
/// authorizes the detach on the entity, and ListEntitiesForPolicy gives names, not ARNs.
async fn detach_entities(aws: &Aws, arn: &str, entities: &Entities) -> Result<(), AwsError> {
    let iam = aws.iam();
    for user in &entities.users {
        let op = Op::new("DetachUserPolicy", "iam:DetachUserPolicy", format!("user {user}"));
        let r = iam.detach_user_policy().user_name(user).policy_arn(arn).send().await;
        gone_ok(r.map(|_| ()).map_err(|e| aws.error(&op, e)))?;
    }
    for role in &entities.roles {
        let op = Op::new("DetachRolePolicy", "iam:DetachRolePolicy", format!("role {role}"));
        let r = iam.detach_role_policy().role_name(role).policy_arn(arn).send().await;
        gone_ok(r.map(|_| ()).map_err(|e| aws.error(&op, e)))?;
    }
    for group in &entities.groups {
        let op = Op::new("DetachGroupPolicy", "iam:DetachGroupPolicy", format!("group {group}"));
        let r = iam.detach_group_policy().group_name(group).policy_arn(arn).send().await;
        gone_ok(r.map(|_| ()).map_err(|e| aws.error(&op, e)))?;
    }
    Ok(())
}

/// Attaches a policy to the given entities; an entity deleted meanwhile is skipped.
async fn attach_entities(aws: &Aws, arn: &str, entities: &Entities) -> Result<(), AwsError> {
    let iam = aws.iam();
    for user in &entities.users {
        let op = Op::new("AttachUserPolicy", "iam:AttachUserPolicy", format!("user {user}"));
        let r = iam.attach_user_policy().user_name(user).policy_arn(arn).send().await;
        gone_ok(r.map(|_| ()).map_err(|e| aws.error(&op, e)))?;
    }
    for role in &entities.roles {
        let op = Op::new("AttachRolePolicy", "iam:AttachRolePolicy", format!("role {role}"));
        let r = iam.attach_role_policy().role_name(role).policy_arn(arn).send().await;
        gone_ok(r.map(|_| ()).map_err(|e| aws.error(&op, e)))?;
    }
    for group in &entities.groups {
        let op = Op::new("AttachGroupPolicy", "iam:AttachGroupPolicy", format!("group {group}"));
        let r = iam.attach_group_policy().group_name(group).policy_arn(arn).send().await;
        gone_ok(r.map(|_| ()).map_err(|e| aws.error(&op, e)))?;
    }
    Ok(())
}

/// The ARN a managed policy has with `path`: `arn:aws:iam::ACCOUNT:policy` + path + name. The plan's
/// ARN carries the desired path, which differs from the live one when a replace moves the policy.
fn policy_arn_with_path(arn: &str, name: &str, path: &str) -> String {
    match arn.find(":policy/") {
        Some(at) => format!("{}{path}{name}", &arn[..at + ":policy".len()]),
        None => arn.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Parts: inline policy and attachments (users and roles).
// ---------------------------------------------------------------------------------------------------

async fn write_inline_policy(aws: &Aws, w: &Write<'_>) -> Result<(), AwsError> {
    let t = w.target;
    let document = match (w.action, w.after) {
        (Action::Delete | Action::Adopt | Action::NoOp, _) => None,
        (_, Some(IdentityDoc::InlinePolicy(document))) => document.as_ref(),
        (action, _) => {
            return Err(plan_bug(
                "PutUserPolicy",
                t.arn,
                format!("the {} of an inline policy has no inline-policy value", action.verb()),
            ));
        }
    };
    match document {
        Some(document) => put_inline_policy(aws, t, document).await,
        None => delete_inline_policy(aws, t, GRANTS_POLICY_NAME).await,
    }
}

async fn put_inline_policy(aws: &Aws, t: Target<'_>, document: &Json) -> Result<(), AwsError> {
    let iam = aws.iam();
    if t.kind == IdentityKind::IamRole {
        let op = Op::new("PutRolePolicy", "iam:PutRolePolicy", t.arn);
        iam.put_role_policy()
            .role_name(t.name)
            .policy_name(GRANTS_POLICY_NAME)
            .policy_document(document.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e))
    } else {
        let op = Op::new("PutUserPolicy", "iam:PutUserPolicy", t.arn);
        iam.put_user_policy()
            .user_name(t.name)
            .policy_name(GRANTS_POLICY_NAME)
            .policy_document(document.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e))
    }
}

/// Deletes one inline policy of a user or role; one that is already gone counts as deleted.
async fn delete_inline_policy(aws: &Aws, t: Target<'_>, policy: &str) -> Result<(), AwsError> {
    let iam = aws.iam();
    let result = if t.kind == IdentityKind::IamRole {
        let op = Op::new("DeleteRolePolicy", "iam:DeleteRolePolicy", t.arn);
        iam.delete_role_policy()
            .role_name(t.name)
            .policy_name(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e))
    } else {
        let op = Op::new("DeleteUserPolicy", "iam:DeleteUserPolicy", t.arn);
        iam.delete_user_policy()
            .user_name(t.name)
            .policy_name(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e))
    };
    gone_ok(result)
}

async fn write_attachments(aws: &Aws, w: &Write<'_>) -> Result<(), AwsError> {
    let t = w.target;
    let empty = BTreeSet::new();
    let before = match w.before {
        Some(IdentityDoc::Attachments(arns)) => arns,
        _ => &empty,
    };
    let after = match (w.action, w.after) {
        (Action::Delete, _) => &empty,
        (_, Some(IdentityDoc::Attachments(arns))) => arns,
        (action, _) => {
            return Err(plan_bug(
                "AttachUserPolicy",
                t.arn,
                format!("the {} of attachments has no attachments value", action.verb()),
            ));
        }
    };
    for arn in after.difference(before) {
        attach(aws, t, arn).await?;
    }
    for arn in before.difference(after) {
        detach(aws, t, arn).await?;
    }
    Ok(())
}

/// Attaches a managed policy to the target user or role (attaching one that is attached is a no-op in
/// IAM).
async fn attach(aws: &Aws, t: Target<'_>, policy_arn: &str) -> Result<(), AwsError> {
    let iam = aws.iam();
    if t.kind == IdentityKind::IamRole {
        let op = Op::new("AttachRolePolicy", "iam:AttachRolePolicy", t.arn);
        iam.attach_role_policy()
            .role_name(t.name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e))
    } else {
        let op = Op::new("AttachUserPolicy", "iam:AttachUserPolicy", t.arn);
        iam.attach_user_policy()
            .user_name(t.name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e))
    }
}

/// Detaches a managed policy from the target user or role; one no longer attached counts as detached.
async fn detach(aws: &Aws, t: Target<'_>, policy_arn: &str) -> Result<(), AwsError> {
    let iam = aws.iam();
    let result = if t.kind == IdentityKind::IamRole {
        let op = Op::new("DetachRolePolicy", "iam:DetachRolePolicy", t.arn);
        iam.detach_role_policy()
            .role_name(t.name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e))
    } else {
        let op = Op::new("DetachUserPolicy", "iam:DetachUserPolicy", t.arn);
        iam.detach_user_policy()
            .user_name(t.name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(&op, e))
    };
    gone_ok(result)
}

// ---------------------------------------------------------------------------------------------------
// Part: access key.
// ---------------------------------------------------------------------------------------------------

async fn write_access_key(aws: &Aws, w: &Write<'_>) -> Result<Option<IdentityDoc>, AwsError> {
    let t = w.target;
    let before_id = match w.before {
        Some(IdentityDoc::AccessKey(AccessKeyDoc {
            access_key_id: Some(id),
            ..
        })) => Some(id.as_str()),
        _ => None,
    };
    match w.action {
        Action::Create | Action::Replace => {
            let Some(IdentityDoc::AccessKey(after)) = w.after else {
                return Err(plan_bug(
                    "CreateAccessKey",
                    t.arn,
                    "the plan has no access-key value to create",
                ));
            };
            let replaced = if w.action == Action::Replace { before_id } else { None };
            create_access_key(aws, t, w.root, after, replaced).await.map(Some)
        }
        // Nothing about a key can change in place; its ID is learned, never configured.
        Action::Update | Action::Adopt | Action::NoOp => Ok(None),
        Action::Delete => {
            // A key whose ID never reached the state cannot be told from a hand-made one: leave it.
            if let Some(id) = before_id {
                delete_access_key(aws, t, id).await?;
            }
            Ok(None)
        }
    }
}

/// Creates an access key and writes its secret to `root/after.secret_file` (mode 0600), which must not
/// exist yet. `replaced` is a key to delete once the file is reserved, so that a replace that cannot
/// write its secret leaves the old key working.
///
/// The secret goes to the file and nowhere else: it is never logged, put in an error or returned.
async fn create_access_key(
    aws: &Aws,
    t: Target<'_>,
    root: &Path,
    after: &AccessKeyDoc,
    replaced: Option<&str>,
) -> Result<IdentityDoc, AwsError> {
    let op = Op::new("CreateAccessKey", "iam:CreateAccessKey", t.arn);
    let relative = after
        .secret_file
        .as_deref()
        .ok_or_else(|| plan_bug(op.operation, t.arn, "the plan names no secret file for the new key"))?;
    let path = root.join(relative);
    let mut file = reserve_secret_file(&path, t.name)?;

    if let Some(old) = replaced
        && let Err(err) = delete_access_key(aws, t, old).await
    {
        discard_secret_file(&path);
        return Err(err);
    }

    // The keys the user has before the call. After a call whose answer was lost, any other key is one
    // that call made, and its secret is gone with the answer: it is deleted before the next attempt, so
    // a lost answer never leaves a second key nobody has the secret of.
    let existing = match access_key_ids(aws, t).await {
        Ok(ids) => ids,
        Err(err) => {
            discard_secret_file(&path);
            return Err(err);
        }
    };
    let mut attempt = 1;
    let out = loop {
        // The SDK must not retry this call by itself: a retry after a lost answer makes a second key
        // without telling anyone, which is exactly what the reconciliation below prevents.
        let sent = aws
            .iam()
            .create_access_key()
            .user_name(t.name)
            .customize()
            .config_override(
                aws_sdk_iam::config::Builder::default()
                    .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| aws.error(&op, e));
        let err = match sent {
            Ok(out) => break out,
            Err(err) => err,
        };
        let reconciled = if err.is_ambiguous() {
            delete_keys_made_since(aws, t, &existing).await
        } else {
            Ok(())
        };
        if err.is_ambiguous() && reconciled.is_ok() && attempt < CREATE_KEY_ATTEMPTS {
            tracing::info!(user = t.name, attempt, error = %err, "the answer to CreateAccessKey was lost; deleted any key it made, creating again");
            attempt += 1;
            continue;
        }
        if let Err(cleanup) = reconciled {
            tracing::warn!(user = t.name, error = %cleanup, "could not delete the access key a lost CreateAccessKey may have made; `s3rec doctor` lists it");
        }
        // Without a key the file stays empty; removing it lets a retry reserve it again.
        discard_secret_file(&path);
        return Err(err);
    };
    let Some(key) = out.access_key() else {
        discard_secret_file(&path);
        return Err(bad_response(&op, "the answer has no AccessKey"));
    };
    let id = key.access_key_id().to_string();
    let contents = format!(
        "# Access key for IAM user {}, created by s3rec on {}. Keep this file secret.\n\
         [default]\n\
         aws_access_key_id = {id}\n\
         aws_secret_access_key = {}\n",
        t.name,
        crate::state::time::now_rfc3339(),
        key.secret_access_key(),
    );
    let written = file.write_all(contents.as_bytes()).and_then(|()| file.sync_all());
    drop(contents);
    drop(out);
    if let Err(io) = written {
        // The secret is lost with the failed write, and a key nobody can use only counts against the
        // user's limit of two: delete it, so that a retry starts from scratch.
        discard_secret_file(&path);
        if let Err(err) = delete_access_key(aws, t, &id).await {
            tracing::warn!(user = t.name, access_key_id = %id, error = %err, "could not delete the access key whose secret could not be written");
        }
        return Err(secret_file_error(&path, t.name, format!("could not write it: {io}")));
    }
    tracing::info!(user = t.name, access_key_id = %id, file = %path.display(), "created access key and wrote its secret");
    Ok(IdentityDoc::AccessKey(AccessKeyDoc {
        secret_file: after.secret_file.clone(),
        access_key_id: Some(id),
    }))
}

/// CreateAccessKey calls per key when answers are lost (each followed by a cleanup of what it made).
const CREATE_KEY_ATTEMPTS: u32 = 5;

/// Deletes the user's access keys that are not in `existing`: the ones a CreateAccessKey whose answer
/// was lost made. Keys that were there before the call are never touched.
async fn delete_keys_made_since(aws: &Aws, t: Target<'_>, existing: &[String]) -> Result<(), AwsError> {
    for id in access_key_ids(aws, t).await? {
        if !existing.contains(&id) {
            tracing::info!(user = t.name, access_key_id = %id, "deleting the access key a lost CreateAccessKey made (its secret was lost with the answer)");
            delete_access_key(aws, t, &id).await?;
        }
    }
    Ok(())
}

/// Creates the secret file's directories (0700) and the file itself (0600), refusing to overwrite a file
/// that is already there: it may hold the only copy of another key's secret.
fn reserve_secret_file(path: &Path, user: &str) -> Result<std::fs::File, AwsError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(|io| secret_file_error(path, user, format!("could not create its directory: {io}")))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let opened = options.open(path);
    // An empty file is a reservation left by an s3rec that was killed before the key's answer came:
    // the secret is written in one write, so an empty file holds nothing to lose, and refusing it would
    // block every later apply.
    if let Err(io) = &opened
        && io.kind() == std::io::ErrorKind::AlreadyExists
        && std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0)
    {
        tracing::info!(user, file = %path.display(), "reusing the empty secret file an interrupted run reserved");
        return std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(|io| secret_file_error(path, user, format!("could not reopen it: {io}")));
    }
    opened.map_err(|io| {
        if io.kind() == std::io::ErrorKind::AlreadyExists {
            AwsError::SecretFile {
                path: path.display().to_string(),
                user: user.to_string(),
                detail: "it already exists, and s3rec never overwrites one: move it away (after saving any key \
                         it holds), then apply again"
                    .to_string(),
            }
        } else {
            secret_file_error(path, user, format!("could not create it: {io}"))
        }
    })
}

/// Removes a secret file that holds no usable secret. Failing to is only worth a warning: the error
/// being returned already says what went wrong, and the next attempt reports the file if it is still there.
fn discard_secret_file(path: &Path) {
    if let Err(io) = std::fs::remove_file(path) {
        tracing::warn!(file = %path.display(), error = %io, "could not remove the unused secret file");
    }
}

/// A local failure around the secret file.
fn secret_file_error(path: &Path, user: &str, detail: String) -> AwsError {
    AwsError::SecretFile {
        path: path.display().to_string(),
        user: user.to_string(),
        detail,
    }
}

/// Deletes one access key; one that is already gone counts as deleted.
async fn delete_access_key(aws: &Aws, t: Target<'_>, id: &str) -> Result<(), AwsError> {
    let op = Op::new("DeleteAccessKey", "iam:DeleteAccessKey", t.arn);
    let deleted = aws
        .iam()
        .delete_access_key()
        .user_name(t.name)
        .access_key_id(id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws.error(&op, e));
    gone_ok(deleted)
}

// ---------------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------------

/// Parses a policy document as IAM hands it back and normalizes it. IAM URL-encodes documents
/// (RFC 3986); some emulators return them as they were written, so text that already parses as JSON is
/// taken as it is. `Err` says why the text is not a policy.
pub(crate) fn policy_from_iam(text: &str) -> Result<Json, String> {
    if let Ok(value) = serde_json::from_str::<Json>(text) {
        return Ok(normalize(&value));
    }
    let decoded = super::percent_decode(text)
        .map_err(|_| "the policy document is neither JSON nor URL-encoded JSON".to_string())?;
    serde_json::from_str::<Json>(&decoded)
        .map(|value| normalize(&value))
        .map_err(|e| format!("the decoded policy document is not valid JSON: {e}"))
}

/// The tags to set (added or changed) and the keys to remove to go from `before` to `after`. An
/// unknown `before` sets every tag and removes nothing.
pub(crate) fn tag_changes(
    before: Option<&BTreeMap<String, String>>,
    after: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = after
        .iter()
        .filter(|(k, v)| before.and_then(|b| b.get(*k)) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = before
        .map(|b| b.keys().filter(|k| !after.contains_key(*k)).cloned().collect())
        .unwrap_or_default();
    (set, remove)
}

fn tags_from_sdk(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn iam_tags(tags: &BTreeMap<String, String>, op: &Op) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| plan_bug(op.operation, &op.resource, e))
        })
        .collect()
}

/// `None` for an empty list, so a create without tags sends no `Tags` parameter at all.
fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    if items.is_empty() { None } else { Some(items) }
}

fn session_seconds(seconds: u32, op: &Op) -> Result<i32, AwsError> {
    i32::try_from(seconds).map_err(|_| {
        plan_bug(
            op.operation,
            &op.resource,
            format!("max_session_duration {seconds} is larger than IAM accepts"),
        )
    })
}

/// `Ok(None)` when the error says the resource does not exist; the error otherwise.
fn absent_is_none<T>(err: AwsError) -> Result<Option<T>, AwsError> {
    if err.is_not_found() { Ok(None) } else { Err(err) }
}

/// Success when the error says the thing is already gone, for deletes a retry may repeat.
fn gone_ok(result: Result<(), AwsError>) -> Result<(), AwsError> {
    match result {
        Err(err) if err.is_not_found() => Ok(()),
        other => other,
    }
}

fn bad_response(op: &Op, detail: impl std::fmt::Display) -> AwsError {
    AwsError::BadResponse {
        operation: op.operation.to_string(),
        resource: op.resource.clone(),
        detail: detail.to_string(),
    }
}

/// A change the plan should never contain (a value of the wrong kind), which is a bug in s3rec.
fn plan_bug(operation: &str, resource: &str, detail: impl std::fmt::Display) -> AwsError {
    AwsError::InvalidRequest {
        operation: operation.to_string(),
        resource: resource.to_string(),
        detail: detail.to_string(),
    }
}

fn user_value<'a>(doc: Option<&'a IdentityDoc>, t: Target<'_>, what: &str) -> Result<&'a UserDoc, AwsError> {
    match doc {
        Some(IdentityDoc::User(u)) => Ok(u),
        _ => Err(plan_bug(what, t.arn, "the plan has no user value for this change")),
    }
}

fn role_value<'a>(doc: Option<&'a IdentityDoc>, t: Target<'_>, what: &str) -> Result<&'a RoleDoc, AwsError> {
    match doc {
        Some(IdentityDoc::Role(r)) => Ok(r),
        _ => Err(plan_bug(what, t.arn, "the plan has no role value for this change")),
    }
}

fn policy_value<'a>(doc: Option<&'a IdentityDoc>, t: Target<'_>, what: &str) -> Result<&'a PolicyDoc, AwsError> {
    match doc {
        Some(IdentityDoc::Policy(p)) => Ok(p),
        _ => Err(plan_bug(what, t.arn, "the plan has no policy value for this change")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_encoded_and_raw_documents_read_the_same() {
        let raw = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22s3%3AGetObject%22%2C%20%22Resource%22%3A%20%22arn%3Aaws%3As3%3A%3A%3Ab/%2A%22%7D%5D%7D";
        assert_eq!(policy_from_iam(raw), policy_from_iam(encoded));
        assert!(policy_from_iam("%7B%ZZ").is_err());
        assert!(policy_from_iam("not json").is_err());
    }

    #[test]
    fn tag_changes_set_added_and_changed_and_remove_dropped_keys() {
        let before: BTreeMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let after: BTreeMap<String, String> = [("a", "1"), ("b", "20"), ("d", "4")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (set, remove) = tag_changes(Some(&before), &after);
        assert_eq!(set.keys().collect::<Vec<_>>(), ["b", "d"]);
        assert_eq!(remove, ["c"]);
        let (set, remove) = tag_changes(None, &after);
        assert_eq!(set, after);
        assert!(remove.is_empty());
    }

    #[test]
    fn policy_arns_follow_the_path() {
        let arn = "arn:aws:iam::123456789012:policy/old/app";
        assert_eq!(
            policy_arn_with_path(arn, "app", "/"),
            "arn:aws:iam::123456789012:policy/app"
        );
        assert_eq!(
            policy_arn_with_path("arn:aws:iam::123456789012:policy/app", "app", "/new/"),
            "arn:aws:iam::123456789012:policy/new/app"
        );
        assert_eq!(json!(version_number("v12")), json!(12));
        assert_eq!(version_number("x"), u64::MAX);
    }
}
