//! Integration tests of the IAM and SNS adapter (`s3rec::aws::{identity, iam, sns}`) against moto.
//!
//! Each resource is created, read back, changed, read back and deleted through `identity::write` and
//! `identity::read`, the way the executor and the planner use them: a second plan is empty only if
//! reading back what was written gives the same canonical value. Where moto 5.1.22 differs from AWS,
//! a `moto_*` test pins the difference so that an upgrade that changes it is noticed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{TEST_REGION, account_id, tags, unique_name};
use s3rec::aws::identity::{self, Target, Write};
use s3rec::aws::{Aws, AwsError, sns};
use s3rec::model::identity::{
    AccessKeyDoc, GRANTS_POLICY_NAME, IdentityDoc, IdentityKind, MAX_POLICY_VERSIONS, ObservedIdentity, PartKind,
    PolicyDoc, RoleDoc, SubscriptionDoc, TopicDoc, UserDoc,
};
use s3rec::model::policy::normalize;
use s3rec::plan::Action;
use serde_json::{Value as Json, json};

/// A resource under test: what `Target` borrows, owned.
struct Res {
    kind: IdentityKind,
    name: String,
    arn: String,
    region: String,
}

impl Res {
    async fn user(aws: &Aws, prefix: &str, path: &str) -> Res {
        let name = unique_name(prefix);
        let arn = format!("arn:aws:iam::{}:user{path}{name}", account_id(aws).await);
        Res::new(IdentityKind::IamUser, name, arn)
    }

    async fn role(aws: &Aws, prefix: &str, path: &str) -> Res {
        let name = unique_name(prefix);
        let arn = format!("arn:aws:iam::{}:role{path}{name}", account_id(aws).await);
        Res::new(IdentityKind::IamRole, name, arn)
    }

    async fn policy(aws: &Aws, prefix: &str, path: &str) -> Res {
        let name = unique_name(prefix);
        let arn = format!("arn:aws:iam::{}:policy{path}{name}", account_id(aws).await);
        Res::new(IdentityKind::IamPolicy, name, arn)
    }

    async fn topic(aws: &Aws, prefix: &str) -> Res {
        let name = unique_name(prefix);
        let arn = format!("arn:aws:sns:{TEST_REGION}:{}:{name}", account_id(aws).await);
        Res::new(IdentityKind::SnsTopic, name, arn)
    }

    fn new(kind: IdentityKind, name: String, arn: String) -> Res {
        Res {
            kind,
            name,
            arn,
            region: TEST_REGION.to_string(),
        }
    }

    fn target(&self) -> Target<'_> {
        Target {
            kind: self.kind,
            name: &self.name,
            arn: &self.arn,
            region: &self.region,
        }
    }

    /// Performs one change and returns what `write` returned, panicking with the error.
    async fn apply(
        &self,
        aws: &Aws,
        part: Option<PartKind>,
        action: Action,
        before: Option<&IdentityDoc>,
        after: Option<&IdentityDoc>,
    ) -> Option<IdentityDoc> {
        self.try_apply(aws, part, action, before, after, Path::new("."))
            .await
            .unwrap_or_else(|err| panic!("{} {:?} {part:?} failed: {err}", self.name, action))
    }

    async fn try_apply(
        &self,
        aws: &Aws,
        part: Option<PartKind>,
        action: Action,
        before: Option<&IdentityDoc>,
        after: Option<&IdentityDoc>,
        root: &Path,
    ) -> Result<Option<IdentityDoc>, AwsError> {
        let w = Write {
            target: self.target(),
            part,
            action,
            before,
            after,
            root,
        };
        identity::write(aws, &w).await
    }

    async fn read(&self, aws: &Aws) -> Option<ObservedIdentity> {
        identity::read(aws, self.target())
            .await
            .unwrap_or_else(|err| panic!("reading {} failed: {err}", self.name))
    }

    async fn read_existing(&self, aws: &Aws) -> ObservedIdentity {
        self.read(aws)
            .await
            .unwrap_or_else(|| panic!("{} must exist", self.name))
    }
}

fn grants_policy(bucket: &str) -> Json {
    normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Read",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        }],
    }))
}

fn trust(service: &str) -> Json {
    normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TrustServices",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }],
    }))
}

fn managed_document(n: usize) -> Json {
    normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": format!("Version{n}"),
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::bucket-{n}/*"),
        }],
    }))
}

/// Creates a managed policy through the adapter and returns its resource.
async fn new_policy(aws: &Aws, prefix: &str) -> Res {
    let policy = Res::policy(aws, prefix, "/").await;
    let doc = IdentityDoc::Policy(PolicyDoc {
        path: "/".into(),
        description: None,
        document: managed_document(0),
    });
    policy.apply(aws, None, Action::Create, None, Some(&doc)).await;
    policy
}

fn attachments(arns: &[&str]) -> IdentityDoc {
    IdentityDoc::Attachments(arns.iter().map(|a| a.to_string()).collect())
}

// ---------------------------------------------------------------------------------------------------
// Users.
// ---------------------------------------------------------------------------------------------------

/// A user at `/` without tags.
fn plain_user() -> IdentityDoc {
    IdentityDoc::User(UserDoc {
        path: "/".into(),
        tags: BTreeMap::new(),
    })
}

/// A new user with `policy_arn` attached.
async fn user_attached_to(aws: &Aws, prefix: &str, policy_arn: &str) -> Res {
    let user = Res::user(aws, prefix, "/").await;
    user.apply(aws, None, Action::Create, None, Some(&plain_user())).await;
    user.apply(
        aws,
        Some(PartKind::Attachments),
        Action::Create,
        None,
        Some(&attachments(&[policy_arn])),
    )
    .await;
    user
}

#[tokio::test]
async fn a_user_round_trips_with_tags_inline_policy_and_attachments() {
    let aws = common::emulator().await;
    let user = Res::user(&aws, "s3rec-user", "/s3rec-test/").await;
    assert_eq!(
        user.read(&aws).await,
        None,
        "a user that was never created reads as None"
    );

    let created = IdentityDoc::User(UserDoc {
        path: "/s3rec-test/".into(),
        tags: tags(&[("team", "data"), ("env", "test")]),
    });
    assert_eq!(user.apply(&aws, None, Action::Create, None, Some(&created)).await, None);
    let live = user.read_existing(&aws).await;
    assert_eq!(live.main, created);
    assert_eq!(live.parts[&PartKind::InlinePolicy], IdentityDoc::InlinePolicy(None));
    assert_eq!(live.parts[&PartKind::Attachments], attachments(&[]));
    assert!(
        !live.parts.contains_key(&PartKind::AccessKey),
        "a user without keys has no access-key part: {live:?}"
    );
    assert!(live.pending_subscriptions.is_empty());

    // One tag changed, one added, one removed, and a new path.
    let updated = IdentityDoc::User(UserDoc {
        path: "/s3rec-moved/".into(),
        tags: tags(&[("team", "platform"), ("owner", "me")]),
    });
    user.apply(&aws, None, Action::Update, Some(&created), Some(&updated))
        .await;
    assert_eq!(user.read_existing(&aws).await.main, updated);

    // The inline grants policy: put, changed, deleted.
    let inline = IdentityDoc::InlinePolicy(Some(grants_policy("one")));
    user.apply(
        &aws,
        Some(PartKind::InlinePolicy),
        Action::Create,
        Some(&IdentityDoc::InlinePolicy(None)),
        Some(&inline),
    )
    .await;
    assert_eq!(user.read_existing(&aws).await.parts[&PartKind::InlinePolicy], inline);
    let inline2 = IdentityDoc::InlinePolicy(Some(grants_policy("two")));
    user.apply(
        &aws,
        Some(PartKind::InlinePolicy),
        Action::Update,
        Some(&inline),
        Some(&inline2),
    )
    .await;
    assert_eq!(user.read_existing(&aws).await.parts[&PartKind::InlinePolicy], inline2);

    // Attachments: two added, then one swapped for another.
    let (p1, p2, p3) = (
        new_policy(&aws, "s3rec-att1").await,
        new_policy(&aws, "s3rec-att2").await,
        new_policy(&aws, "s3rec-att3").await,
    );
    let first = attachments(&[&p1.arn, &p2.arn]);
    user.apply(
        &aws,
        Some(PartKind::Attachments),
        Action::Create,
        Some(&attachments(&[])),
        Some(&first),
    )
    .await;
    assert_eq!(user.read_existing(&aws).await.parts[&PartKind::Attachments], first);
    let second = attachments(&[&p2.arn, &p3.arn]);
    user.apply(
        &aws,
        Some(PartKind::Attachments),
        Action::Update,
        Some(&first),
        Some(&second),
    )
    .await;
    assert_eq!(user.read_existing(&aws).await.parts[&PartKind::Attachments], second);
    // Running the same change again (an executor retry) changes nothing and does not fail.
    user.apply(
        &aws,
        Some(PartKind::Attachments),
        Action::Update,
        Some(&first),
        Some(&second),
    )
    .await;
    assert_eq!(user.read_existing(&aws).await.parts[&PartKind::Attachments], second);

    // Setting the inline policy to "none" deletes it, twice without error.
    for _ in 0..2 {
        user.apply(
            &aws,
            Some(PartKind::InlinePolicy),
            Action::Update,
            Some(&inline2),
            Some(&IdentityDoc::InlinePolicy(None)),
        )
        .await;
    }
    assert_eq!(
        user.read_existing(&aws).await.parts[&PartKind::InlinePolicy],
        IdentityDoc::InlinePolicy(None)
    );

    // Deleting the attachments part detaches everything in `before`.
    user.apply(&aws, Some(PartKind::Attachments), Action::Delete, Some(&second), None)
        .await;
    assert_eq!(
        user.read_existing(&aws).await.parts[&PartKind::Attachments],
        attachments(&[])
    );

    user.apply(&aws, None, Action::Delete, Some(&updated), None).await;
    assert_eq!(user.read(&aws).await, None);
    for p in [p1, p2, p3] {
        p.apply(&aws, None, Action::Delete, None, None).await;
    }
}

#[tokio::test]
async fn deleting_a_user_removes_what_iam_would_refuse_to_delete_it_with() {
    let aws = common::emulator().await;
    let user = Res::user(&aws, "s3rec-userdel", "/").await;
    let doc = IdentityDoc::User(UserDoc {
        path: "/".into(),
        tags: BTreeMap::new(),
    });
    user.apply(&aws, None, Action::Create, None, Some(&doc)).await;
    let policy = new_policy(&aws, "s3rec-userdel-p").await;
    user.apply(
        &aws,
        Some(PartKind::Attachments),
        Action::Create,
        None,
        Some(&attachments(&[&policy.arn])),
    )
    .await;

    // What another tool may have added: a hand-made inline policy, a group, a key, a console password.
    let iam = aws.iam();
    iam.put_user_policy()
        .user_name(&user.name)
        .policy_name("hand-made")
        .policy_document(grants_policy("x").to_string())
        .send()
        .await
        .unwrap();
    let group = unique_name("s3rec-group");
    iam.create_group().group_name(&group).send().await.unwrap();
    iam.add_user_to_group()
        .group_name(&group)
        .user_name(&user.name)
        .send()
        .await
        .unwrap();
    iam.create_access_key().user_name(&user.name).send().await.unwrap();
    iam.create_login_profile()
        .user_name(&user.name)
        .password("Correct-Horse-9")
        .send()
        .await
        .unwrap();

    user.apply(&aws, None, Action::Delete, Some(&doc), None).await;
    assert_eq!(user.read(&aws).await, None);
    // A retried delete of a user that is gone succeeds.
    user.apply(&aws, None, Action::Delete, Some(&doc), None).await;

    // The policy survived, detached.
    let entities = iam
        .list_entities_for_policy()
        .policy_arn(&policy.arn)
        .send()
        .await
        .unwrap();
    assert!(entities.policy_users().is_empty());
    policy.apply(&aws, None, Action::Delete, None, None).await;
    // moto would keep a deleted user in its groups; s3rec removed it first.
    let members = iam.get_group().group_name(&group).send().await.unwrap();
    assert!(members.users().is_empty(), "{members:?}");
    iam.delete_group().group_name(&group).send().await.unwrap();
}

#[tokio::test]
async fn replacing_a_user_recreates_it_with_the_new_value() {
    let aws = common::emulator().await;
    let user = Res::user(&aws, "s3rec-userrep", "/").await;
    let before = IdentityDoc::User(UserDoc {
        path: "/".into(),
        tags: tags(&[("a", "1")]),
    });
    let after = IdentityDoc::User(UserDoc {
        path: "/".into(),
        tags: tags(&[("b", "2")]),
    });
    user.apply(&aws, None, Action::Create, None, Some(&before)).await;
    user.apply(&aws, None, Action::Replace, Some(&before), Some(&after))
        .await;
    assert_eq!(user.read_existing(&aws).await.main, after);
    // A create of a user that already exists (a retry whose first answer was lost) converges it.
    user.apply(&aws, None, Action::Create, None, Some(&before)).await;
    assert_eq!(user.read_existing(&aws).await.main, before);
    user.apply(&aws, None, Action::Delete, Some(&before), None).await;
}

// ---------------------------------------------------------------------------------------------------
// Access keys.
// ---------------------------------------------------------------------------------------------------

#[cfg(unix)]
#[tokio::test]
async fn an_access_key_writes_its_secret_once_to_a_private_file() {
    use std::os::unix::fs::PermissionsExt;

    let aws = common::emulator().await;
    let root = tempfile::tempdir().unwrap();
    let user = Res::user(&aws, "s3rec-key", "/").await;
    let doc = IdentityDoc::User(UserDoc {
        path: "/".into(),
        tags: BTreeMap::new(),
    });
    user.apply(&aws, None, Action::Create, None, Some(&doc)).await;

    let relative = format!(".s3rec/secrets/test/{}.credentials", user.name);
    let planned = IdentityDoc::AccessKey(AccessKeyDoc {
        secret_file: Some(relative.clone()),
        access_key_id: None,
    });
    let returned = user
        .try_apply(
            &aws,
            Some(PartKind::AccessKey),
            Action::Create,
            None,
            Some(&planned),
            root.path(),
        )
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .expect("creating a key returns the value with its ID");
    let IdentityDoc::AccessKey(AccessKeyDoc {
        secret_file,
        access_key_id: Some(id),
    }) = &returned
    else {
        panic!("not an access key with an ID: {returned:?}");
    };
    assert_eq!(secret_file.as_deref(), Some(relative.as_str()));

    let path = root.path().join(&relative);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the secret file is private");
    let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700, "the secrets directory is private");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "# Access key for IAM user {}, created by s3rec on ",
            user.name
        )),
        "{text}"
    );
    assert_eq!(lines[1], "[default]");
    assert_eq!(lines[2], format!("aws_access_key_id = {id}"));
    let secret = lines[3]
        .strip_prefix("aws_secret_access_key = ")
        .expect("the file holds the secret");
    assert!(secret.len() >= 20, "a real secret: {secret:?}");

    // The secret is in the file and nowhere in the value that goes to the state.
    assert!(!format!("{returned:?}").contains(secret));
    assert!(!serde_json::to_string(&returned).unwrap().contains(secret));

    // `read` reports the same key, without a file.
    let live = user.read_existing(&aws).await;
    assert_eq!(
        live.parts[&PartKind::AccessKey],
        IdentityDoc::AccessKey(AccessKeyDoc {
            secret_file: None,
            access_key_id: Some(id.clone()),
        })
    );

    // A second create must not overwrite the file: it fails, leaves the file alone and makes no key.
    let err = user
        .try_apply(
            &aws,
            Some(PartKind::AccessKey),
            Action::Create,
            None,
            Some(&planned),
            root.path(),
        )
        .await
        .expect_err("an existing secret file is never overwritten");
    let message = err.to_string();
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("move it away"), "{message}");
    assert!(!message.contains(secret));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let keys = aws.iam().list_access_keys().user_name(&user.name).send().await.unwrap();
    assert_eq!(keys.access_key_metadata().len(), 1, "no second key was created");

    // An update does nothing; a delete removes the key, twice without error.
    user.apply(
        &aws,
        Some(PartKind::AccessKey),
        Action::Update,
        Some(&returned),
        Some(&returned),
    )
    .await;
    for _ in 0..2 {
        user.apply(&aws, Some(PartKind::AccessKey), Action::Delete, Some(&returned), None)
            .await;
    }
    assert!(!user.read_existing(&aws).await.parts.contains_key(&PartKind::AccessKey));
    // A key whose ID is unknown is left alone.
    user.apply(&aws, Some(PartKind::AccessKey), Action::Delete, Some(&planned), None)
        .await;

    // An empty file is the reservation of a run killed before CreateAccessKey answered: it holds no
    // secret, so the next create takes it instead of refusing it forever.
    std::fs::write(&path, "").unwrap();
    let again = user
        .try_apply(
            &aws,
            Some(PartKind::AccessKey),
            Action::Create,
            None,
            Some(&planned),
            root.path(),
        )
        .await
        .expect("an empty secret file left by a killed run is reused")
        .expect("the new key's ID");
    let IdentityDoc::AccessKey(AccessKeyDoc {
        access_key_id: Some(new_id),
        ..
    }) = &again
    else {
        panic!("{again:?}")
    };
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("aws_access_key_id = {new_id}")), "{text}");
    user.apply(&aws, Some(PartKind::AccessKey), Action::Delete, Some(&again), None)
        .await;

    user.apply(&aws, None, Action::Delete, Some(&doc), None).await;
}

#[tokio::test]
async fn a_failed_key_creation_leaves_no_secret_file_behind() {
    let aws = common::emulator().await;
    let root = tempfile::tempdir().unwrap();
    // The user does not exist, so CreateAccessKey fails after the file was reserved.
    let user = Res::user(&aws, "s3rec-nokey", "/").await;
    let planned = IdentityDoc::AccessKey(AccessKeyDoc {
        secret_file: Some("secrets/missing.credentials".into()),
        access_key_id: None,
    });
    let err = user
        .try_apply(
            &aws,
            Some(PartKind::AccessKey),
            Action::Create,
            None,
            Some(&planned),
            root.path(),
        )
        .await
        .expect_err("a key for a missing user cannot be created");
    assert!(err.is_not_found(), "{err}");
    assert!(
        !root.path().join("secrets/missing.credentials").exists(),
        "the empty file is removed so that a retry can create it"
    );
}

// ---------------------------------------------------------------------------------------------------
// Roles.
// ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_role_round_trips_and_updates_trust_description_duration_and_tags() {
    let aws = common::emulator().await;
    let role = Res::role(&aws, "s3rec-role", "/").await;
    assert_eq!(role.read(&aws).await, None);

    let created = IdentityDoc::Role(RoleDoc {
        path: "/".into(),
        description: None,
        max_session_duration: 3600,
        trust: trust("ec2.amazonaws.com"),
        tags: tags(&[("a", "1")]),
    });
    role.apply(&aws, None, Action::Create, None, Some(&created)).await;
    let live = role.read_existing(&aws).await;
    assert_eq!(live.main, created);
    assert_eq!(live.parts[&PartKind::InlinePolicy], IdentityDoc::InlinePolicy(None));
    assert_eq!(live.parts[&PartKind::Attachments], attachments(&[]));

    let updated = IdentityDoc::Role(RoleDoc {
        path: "/".into(),
        description: Some("reads the data bucket".into()),
        max_session_duration: 7200,
        trust: trust("lambda.amazonaws.com"),
        tags: tags(&[("b", "2")]),
    });
    role.apply(&aws, None, Action::Update, Some(&created), Some(&updated))
        .await;
    assert_eq!(role.read_existing(&aws).await.main, updated);

    // Clearing the description reads back as `None`.
    let cleared = IdentityDoc::Role(RoleDoc {
        description: None,
        ..match &updated {
            IdentityDoc::Role(r) => r.clone(),
            _ => unreachable!(),
        }
    });
    role.apply(&aws, None, Action::Update, Some(&updated), Some(&cleared))
        .await;
    assert_eq!(role.read_existing(&aws).await.main, cleared);

    // Parts work for roles as for users.
    let inline = IdentityDoc::InlinePolicy(Some(grants_policy("role-data")));
    role.apply(&aws, Some(PartKind::InlinePolicy), Action::Create, None, Some(&inline))
        .await;
    let policy = new_policy(&aws, "s3rec-role-att").await;
    let attached = attachments(&[&policy.arn]);
    role.apply(&aws, Some(PartKind::Attachments), Action::Create, None, Some(&attached))
        .await;
    let live = role.read_existing(&aws).await;
    assert_eq!(live.parts[&PartKind::InlinePolicy], inline);
    assert_eq!(live.parts[&PartKind::Attachments], attached);

    // Deleting the role takes its inline policy, attachments and instance profiles with it.
    let profile = unique_name("s3rec-profile");
    aws.iam()
        .create_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await
        .unwrap();
    aws.iam()
        .add_role_to_instance_profile()
        .instance_profile_name(&profile)
        .role_name(&role.name)
        .send()
        .await
        .unwrap();
    for _ in 0..2 {
        role.apply(&aws, None, Action::Delete, Some(&cleared), None).await;
    }
    assert_eq!(role.read(&aws).await, None);
    let profile_roles = aws
        .iam()
        .get_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await
        .unwrap();
    assert!(profile_roles.instance_profile().unwrap().roles().is_empty());
    aws.iam()
        .delete_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await
        .unwrap();
    policy.apply(&aws, None, Action::Delete, None, None).await;
}

// ---------------------------------------------------------------------------------------------------
// Managed policies.
// ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_policy_update_creates_a_version_and_prunes_to_five() {
    let aws = common::emulator().await;
    let policy = Res::policy(&aws, "s3rec-pol", "/s3rec-test/").await;
    assert_eq!(policy.read(&aws).await, None);

    let mut current = IdentityDoc::Policy(PolicyDoc {
        path: "/s3rec-test/".into(),
        description: Some("what the app may read".into()),
        document: managed_document(0),
    });
    policy.apply(&aws, None, Action::Create, None, Some(&current)).await;
    let live = policy.read_existing(&aws).await;
    assert_eq!(live.main, current);
    assert!(live.parts.is_empty(), "a managed policy has no parts");

    for n in 1..=6 {
        let next = IdentityDoc::Policy(PolicyDoc {
            path: "/s3rec-test/".into(),
            description: Some("what the app may read".into()),
            document: managed_document(n),
        });
        policy
            .apply(&aws, None, Action::Update, Some(&current), Some(&next))
            .await;
        assert_eq!(policy.read_existing(&aws).await.main, next, "after update {n}");
        current = next;
    }

    let versions = aws
        .iam()
        .list_policy_versions()
        .policy_arn(&policy.arn)
        .send()
        .await
        .unwrap();
    let versions = versions.versions();
    assert!(
        versions.len() <= MAX_POLICY_VERSIONS,
        "at most {MAX_POLICY_VERSIONS} versions: {versions:?}"
    );
    let default = versions
        .iter()
        .find(|v| v.is_default_version())
        .expect("one version is the default");
    assert_eq!(default.version_id(), Some("v7"), "the newest version is the default");
    assert!(
        !versions.iter().any(|v| matches!(v.version_id(), Some("v1" | "v2"))),
        "the oldest versions were pruned: {versions:?}"
    );

    // Deleting works with non-default versions present, and twice.
    for _ in 0..2 {
        policy.apply(&aws, None, Action::Delete, Some(&current), None).await;
    }
    assert_eq!(policy.read(&aws).await, None);
}

#[tokio::test]
async fn replacing_a_policy_moves_it_and_keeps_what_it_was_attached_to() {
    let aws = common::emulator().await;
    let old = Res::policy(&aws, "s3rec-polrep", "/old/").await;
    let before = IdentityDoc::Policy(PolicyDoc {
        path: "/old/".into(),
        description: None,
        document: managed_document(1),
    });
    old.apply(&aws, None, Action::Create, None, Some(&before)).await;
    // A second version, so the delete has a non-default version to remove first.
    let before2 = IdentityDoc::Policy(PolicyDoc {
        document: managed_document(2),
        ..match &before {
            IdentityDoc::Policy(p) => p.clone(),
            _ => unreachable!(),
        }
    });
    old.apply(&aws, None, Action::Update, Some(&before), Some(&before2))
        .await;

    let user = user_attached_to(&aws, "s3rec-polrep-u", &old.arn).await;
    let role = Res::role(&aws, "s3rec-polrep-r", "/").await;
    let role_doc = IdentityDoc::Role(RoleDoc {
        path: "/".into(),
        description: None,
        max_session_duration: 3600,
        trust: trust("ec2.amazonaws.com"),
        tags: BTreeMap::new(),
    });
    role.apply(&aws, None, Action::Create, None, Some(&role_doc)).await;
    role.apply(
        &aws,
        Some(PartKind::Attachments),
        Action::Create,
        None,
        Some(&attachments(&[&old.arn])),
    )
    .await;

    // The plan carries the new ARN; the old one follows from `before`'s path.
    let new = Res::new(
        IdentityKind::IamPolicy,
        old.name.clone(),
        old.arn.replace(":policy/old/", ":policy/new/"),
    );
    let after = IdentityDoc::Policy(PolicyDoc {
        path: "/new/".into(),
        description: Some("moved".into()),
        document: managed_document(3),
    });
    new.apply(&aws, None, Action::Replace, Some(&before2), Some(&after))
        .await;
    assert_eq!(old.read(&aws).await, None, "the old policy is gone");
    assert_eq!(new.read_existing(&aws).await.main, after);
    assert_eq!(
        user.read_existing(&aws).await.parts[&PartKind::Attachments],
        attachments(&[&new.arn])
    );
    assert_eq!(
        role.read_existing(&aws).await.parts[&PartKind::Attachments],
        attachments(&[&new.arn])
    );

    user.apply(&aws, None, Action::Delete, Some(&plain_user()), None).await;
    role.apply(&aws, None, Action::Delete, Some(&role_doc), None).await;
    new.apply(&aws, None, Action::Delete, Some(&after), None).await;
    assert_eq!(new.read(&aws).await, None);
}

#[tokio::test]
async fn deleting_an_attached_policy_detaches_it_first() {
    let aws = common::emulator().await;
    let policy = new_policy(&aws, "s3rec-poldel").await;
    let user = user_attached_to(&aws, "s3rec-poldel-u", &policy.arn).await;
    policy.apply(&aws, None, Action::Delete, None, None).await;
    assert_eq!(policy.read(&aws).await, None);
    assert_eq!(
        user.read_existing(&aws).await.parts[&PartKind::Attachments],
        attachments(&[])
    );
    // Detaching a policy that no longer exists is success too.
    user.apply(
        &aws,
        Some(PartKind::Attachments),
        Action::Delete,
        Some(&attachments(&[&policy.arn])),
        None,
    )
    .await;
    user.apply(&aws, None, Action::Delete, Some(&plain_user()), None).await;
}

#[tokio::test]
async fn deleting_what_never_existed_succeeds() {
    let aws = common::emulator().await;
    let user = Res::user(&aws, "s3rec-ghost-u", "/").await;
    let role = Res::role(&aws, "s3rec-ghost-r", "/").await;
    let policy = Res::policy(&aws, "s3rec-ghost-p", "/").await;
    let topic = Res::topic(&aws, "s3rec-ghost-t").await;
    for r in [&user, &role, &policy, &topic] {
        assert_eq!(r.read(&aws).await, None, "{} reads as None", r.name);
        r.apply(&aws, None, Action::Delete, None, None).await;
    }
    for r in [&user, &role] {
        r.apply(
            &aws,
            Some(PartKind::InlinePolicy),
            Action::Delete,
            Some(&IdentityDoc::InlinePolicy(Some(grants_policy("x")))),
            None,
        )
        .await;
    }
    user.apply(
        &aws,
        Some(PartKind::AccessKey),
        Action::Delete,
        Some(&IdentityDoc::AccessKey(AccessKeyDoc {
            secret_file: None,
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        })),
        None,
    )
    .await;
    let subs: BTreeSet<SubscriptionDoc> = [SubscriptionDoc {
        protocol: "email".into(),
        endpoint: "gone@example.com".into(),
    }]
    .into();
    topic
        .apply(
            &aws,
            Some(PartKind::Subscriptions),
            Action::Delete,
            Some(&IdentityDoc::Subscriptions(subs)),
            None,
        )
        .await;
}

// ---------------------------------------------------------------------------------------------------
// Topics.
// ---------------------------------------------------------------------------------------------------

fn topic_policy(arn: &str, account: &str) -> Json {
    normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AccountManagesTopic",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes"],
            "Resource": arn,
        }],
    }))
}

fn sub(protocol: &str, endpoint: &str) -> SubscriptionDoc {
    SubscriptionDoc {
        protocol: protocol.into(),
        endpoint: endpoint.into(),
    }
}

#[tokio::test]
async fn a_topic_round_trips_with_display_name_policy_and_subscriptions() {
    let aws = common::emulator().await;
    let account = account_id(&aws).await;
    let topic = Res::topic(&aws, "s3rec-topic").await;
    assert_eq!(topic.read(&aws).await, None);

    let created = IdentityDoc::Topic(TopicDoc {
        display_name: Some("Reports".into()),
        tags: tags(&[("a", "1"), ("b", "2")]),
    });
    topic.apply(&aws, None, Action::Create, None, Some(&created)).await;
    let live = topic.read_existing(&aws).await;
    assert_eq!(live.main, created);
    assert_eq!(
        live.parts[&PartKind::Subscriptions],
        IdentityDoc::Subscriptions(BTreeSet::new())
    );
    assert!(
        matches!(
            live.parts.get(&PartKind::TopicPolicy),
            Some(IdentityDoc::TopicPolicy(_))
        ),
        "a new topic has SNS's default policy: {live:?}"
    );

    // Display name cleared, tags changed.
    let updated = IdentityDoc::Topic(TopicDoc {
        display_name: None,
        tags: tags(&[("a", "10"), ("c", "3")]),
    });
    topic
        .apply(&aws, None, Action::Update, Some(&created), Some(&updated))
        .await;
    assert_eq!(topic.read_existing(&aws).await.main, updated);

    let policy = IdentityDoc::TopicPolicy(topic_policy(&topic.arn, &account));
    topic
        .apply(&aws, Some(PartKind::TopicPolicy), Action::Update, None, Some(&policy))
        .await;
    assert_eq!(topic.read_existing(&aws).await.parts[&PartKind::TopicPolicy], policy);
    // Deleting the policy part leaves the topic's policy as it is.
    topic
        .apply(&aws, Some(PartKind::TopicPolicy), Action::Delete, Some(&policy), None)
        .await;
    assert_eq!(topic.read_existing(&aws).await.parts[&PartKind::TopicPolicy], policy);

    let none = IdentityDoc::Subscriptions(BTreeSet::new());
    let two = IdentityDoc::Subscriptions(
        [
            sub("email", "ops@example.com"),
            sub("https", "https://hooks.example.com/s3rec"),
        ]
        .into(),
    );
    topic
        .apply(
            &aws,
            Some(PartKind::Subscriptions),
            Action::Create,
            Some(&none),
            Some(&two),
        )
        .await;
    assert_eq!(topic.read_existing(&aws).await.parts[&PartKind::Subscriptions], two);
    // Subscribing again (a retry) does not duplicate anything.
    topic
        .apply(
            &aws,
            Some(PartKind::Subscriptions),
            Action::Create,
            Some(&none),
            Some(&two),
        )
        .await;
    let listed = aws
        .sns(TEST_REGION)
        .list_subscriptions_by_topic()
        .topic_arn(&topic.arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.subscriptions().len(), 2, "{listed:?}");

    let swapped =
        IdentityDoc::Subscriptions([sub("email", "ops@example.com"), sub("email-json", "robot@example.com")].into());
    topic
        .apply(
            &aws,
            Some(PartKind::Subscriptions),
            Action::Update,
            Some(&two),
            Some(&swapped),
        )
        .await;
    assert_eq!(topic.read_existing(&aws).await.parts[&PartKind::Subscriptions], swapped);
    topic
        .apply(
            &aws,
            Some(PartKind::Subscriptions),
            Action::Delete,
            Some(&swapped),
            None,
        )
        .await;
    assert_eq!(topic.read_existing(&aws).await.parts[&PartKind::Subscriptions], none);

    sns::publish(&aws, &topic.arn, TEST_REGION, "s3rec apply: 3 changes", "all done")
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    for _ in 0..2 {
        topic.apply(&aws, None, Action::Delete, Some(&updated), None).await;
    }
    assert_eq!(topic.read(&aws).await, None);
}

#[tokio::test]
async fn replacing_a_topic_recreates_it() {
    let aws = common::emulator().await;
    let topic = Res::topic(&aws, "s3rec-topicrep").await;
    let before = IdentityDoc::Topic(TopicDoc {
        display_name: Some("Old".into()),
        tags: tags(&[("a", "1")]),
    });
    let after = IdentityDoc::Topic(TopicDoc {
        display_name: Some("New".into()),
        tags: BTreeMap::new(),
    });
    topic.apply(&aws, None, Action::Create, None, Some(&before)).await;
    topic
        .apply(&aws, None, Action::Replace, Some(&before), Some(&after))
        .await;
    assert_eq!(topic.read_existing(&aws).await.main, after);
    topic.apply(&aws, None, Action::Delete, Some(&after), None).await;
}

#[tokio::test]
async fn publish_fits_long_and_multi_line_subjects_to_what_sns_accepts() {
    let aws = common::emulator().await;
    let topic = Res::topic(&aws, "s3rec-publish").await;
    let doc = IdentityDoc::Topic(TopicDoc {
        display_name: None,
        tags: BTreeMap::new(),
    });
    topic.apply(&aws, None, Action::Create, None, Some(&doc)).await;
    let subject = format!("s3rec apply on prod — {}\nsecond line", "x".repeat(200));
    sns::publish(&aws, &topic.arn, TEST_REGION, &subject, "report body")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let err = sns::publish(&aws, &format!("{}-missing", topic.arn), TEST_REGION, "s", "m")
        .await
        .expect_err("publishing to a missing topic fails");
    assert!(err.is_not_found(), "{err}");
    topic.apply(&aws, None, Action::Delete, Some(&doc), None).await;
}

// ---------------------------------------------------------------------------------------------------
// What moto does differently from AWS.
// ---------------------------------------------------------------------------------------------------

/// moto URL-encodes inline and trust policies as AWS does, but returns managed policy versions as the
/// raw JSON that was written; `iam::read` accepts both.
#[tokio::test]
async fn moto_returns_policy_versions_raw_but_inline_policies_url_encoded() {
    let aws = common::emulator().await;
    let user = Res::user(&aws, "s3rec-quirk-u", "/").await;
    let doc = IdentityDoc::User(UserDoc {
        path: "/".into(),
        tags: BTreeMap::new(),
    });
    user.apply(&aws, None, Action::Create, None, Some(&doc)).await;
    let inline = IdentityDoc::InlinePolicy(Some(grants_policy("quirk")));
    user.apply(&aws, Some(PartKind::InlinePolicy), Action::Create, None, Some(&inline))
        .await;
    let raw = aws
        .iam()
        .get_user_policy()
        .user_name(&user.name)
        .policy_name(GRANTS_POLICY_NAME)
        .send()
        .await
        .unwrap();
    assert!(raw.policy_document().starts_with("%7B"), "{}", raw.policy_document());

    let policy = new_policy(&aws, "s3rec-quirk-p").await;
    let version = aws
        .iam()
        .get_policy_version()
        .policy_arn(&policy.arn)
        .version_id("v1")
        .send()
        .await
        .unwrap();
    let text = version.policy_version().and_then(|v| v.document()).unwrap();
    assert!(text.starts_with('{'), "moto now encodes policy versions: {text}");
    // Both read back as the canonical document.
    assert_eq!(user.read_existing(&aws).await.parts[&PartKind::InlinePolicy], inline);
    match policy.read_existing(&aws).await.main {
        IdentityDoc::Policy(p) => assert_eq!(p.document, managed_document(0)),
        other => panic!("{other:?}"),
    }
    user.apply(&aws, None, Action::Delete, Some(&doc), None).await;
    policy.apply(&aws, None, Action::Delete, None, None).await;
}

/// moto confirms e-mail and HTTPS subscriptions at once; AWS lists them as `PendingConfirmation` until
/// the endpoint confirms. The pending path is covered by `sns.rs`'s unit tests instead.
#[tokio::test]
async fn moto_confirms_email_subscriptions_immediately() {
    let aws = common::emulator().await;
    let topic = Res::topic(&aws, "s3rec-quirk-t").await;
    let doc = IdentityDoc::Topic(TopicDoc {
        display_name: None,
        tags: BTreeMap::new(),
    });
    topic.apply(&aws, None, Action::Create, None, Some(&doc)).await;
    let subs = IdentityDoc::Subscriptions([sub("email", "pending@example.com")].into());
    topic
        .apply(&aws, Some(PartKind::Subscriptions), Action::Create, None, Some(&subs))
        .await;
    let listed = aws
        .sns(TEST_REGION)
        .list_subscriptions_by_topic()
        .topic_arn(&topic.arn)
        .send()
        .await
        .unwrap();
    let arn = listed.subscriptions()[0].subscription_arn().unwrap_or_default();
    assert_ne!(
        arn, "PendingConfirmation",
        "moto now keeps e-mail subscriptions pending"
    );
    let live = topic.read_existing(&aws).await;
    assert_eq!(live.parts[&PartKind::Subscriptions], subs);
    assert!(live.pending_subscriptions.is_empty());
    topic.apply(&aws, None, Action::Delete, Some(&doc), None).await;
}

/// AWS refuses to delete a user that still has access keys, group memberships or a console password,
/// and a managed policy that is still attached or has other versions (DeleteConflict); moto deletes
/// them anyway, leaving the policy listed as attached. The tests above therefore check what s3rec
/// removed first (group members, attachments) rather than relying on moto to refuse.
#[tokio::test]
async fn moto_allows_deletes_that_aws_refuses() {
    let aws = common::emulator().await;
    let iam = aws.iam();
    let user = unique_name("s3rec-quirk-del");
    iam.create_user().user_name(&user).send().await.unwrap();
    iam.create_access_key().user_name(&user).send().await.unwrap();
    iam.delete_user()
        .user_name(&user)
        .send()
        .await
        .expect("moto now refuses to delete a user with access keys, as AWS does");

    let holder = unique_name("s3rec-quirk-hold");
    iam.create_user().user_name(&holder).send().await.unwrap();
    let name = unique_name("s3rec-quirk-pol");
    let created = iam
        .create_policy()
        .policy_name(&name)
        .policy_document(managed_document(0).to_string())
        .send()
        .await
        .unwrap();
    let arn = created.policy().and_then(|p| p.arn()).unwrap().to_string();
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(managed_document(1).to_string())
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name(&holder)
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    iam.delete_policy()
        .policy_arn(&arn)
        .send()
        .await
        .expect("moto now refuses to delete an attached policy with versions, as AWS does");
    let attached = iam
        .list_attached_user_policies()
        .user_name(&holder)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies().len(),
        1,
        "moto keeps the dangling attachment"
    );
    iam.detach_user_policy()
        .user_name(&holder)
        .policy_arn(&arn)
        .send()
        .await
        .ok();
    iam.delete_user().user_name(&holder).send().await.ok();
}
