//! `doctor` end to end: the real binary against the moto emulator. Identity, account guard, the table
//! of read-only checks (existing and missing buckets, IAM users, roles and policies, SNS topics), the
//! JSON report, and `--print-policy`.
//!
//! moto does not enforce IAM, so a denied call cannot be produced here; the classification of
//! AccessDenied answers is unit-tested in `src/aws/probe.rs`.

mod common;
#[path = "common/project.rs"]
mod project;

use project::Project;
use s3rec::manifest::types::AwsSettings;
use serde_json::{Value, json};

/// The account moto reports for every caller.
const MOTO_ACCOUNT: &str = "123456789012";

/// `doctor` on the shared test project.
trait Doctor {
    fn doctor(&self, extra: &[&str]) -> (i32, String, String);
}

impl Doctor for Project {
    fn doctor(&self, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec!["doctor", "-e", &self.env];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

/// Creates a bucket in us-east-1 "with another client", as someone did before s3rec manages it.
fn create_bucket(name: &str) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let settings = AwsSettings {
                force_path_style: true,
                ..AwsSettings::default()
            };
            let aws = s3rec::aws::connect(&settings, &common::test_overrides())
                .await
                .expect("connect");
            s3rec::aws::create_bucket(&aws, name, "us-east-1")
                .await
                .expect("create bucket");
        });
}

/// Runs `f` with an emulator connection, on a runtime of its own.
fn with_aws<T>(f: impl AsyncFnOnce(&s3rec::aws::Aws) -> T) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let settings = AwsSettings {
                force_path_style: true,
                ..AwsSettings::default()
            };
            let aws = s3rec::aws::connect(&settings, &common::test_overrides())
                .await
                .expect("connect");
            f(&aws).await
        })
}

/// The table row for `resource` and `check`, as its cells.
#[track_caller]
fn row<'a>(stdout: &'a str, resource: &str, check: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| {
            let mut cells = line.split_whitespace();
            cells.next() == Some(resource) && cells.nth(1) == Some(check)
        })
        .unwrap_or_else(|| panic!("no row for {resource} {check} in:\n{stdout}"))
}

#[test]
fn existing_buckets_are_readable_and_missing_ones_will_be_created() {
    let project = Project::new("doc");
    let prefix = common::unique_name("doctor");
    create_bucket(&format!("{prefix}-old"));
    project.write_with(
        "",
        &format!(
            "buckets:\n  old:\n    name: {prefix}-old\n    versioning: enabled\n    tags: {{team: data}}\n    lifecycle:\n      - id: expire\n        expiration: {{days: 30}}\n  new:\n    name: {prefix}-new\n    region: eu-west-1\n    versioning: enabled\n"
        ),
    );

    let (code, stdout, stderr) = project.doctor(&[]);
    assert_eq!(code, 0, "doctor failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("(account {MOTO_ACCOUNT})")), "{stdout}");
    assert!(stdout.contains("no guard set"), "{stdout}");
    assert!(stdout.contains("eu-west-1, us-east-1 (default)"), "{stdout}");
    assert!(
        stdout.contains(&format!("Endpoint    {}", project.endpoint)),
        "{stdout}"
    );
    assert!(row(&stdout, "caller", "sts:GetCallerIdentity").ends_with(" ok"));
    for (resource, check) in [
        ("bucket.old", "s3:GetBucketLocation"),
        ("bucket.old", "s3:ListBucket"),
        ("bucket.old.versioning", "s3:GetBucketVersioning"),
        ("bucket.old.tags", "s3:GetBucketTagging"),
        // Never configured: AWS's "not configured" answer proves the permission just as well.
        ("bucket.old.lifecycle", "s3:GetLifecycleConfiguration"),
    ] {
        let line = row(&stdout, resource, check);
        assert!(line.contains("us-east-1") && line.ends_with(" ok"), "{line}");
    }
    for (resource, check) in [
        ("bucket.new", "s3:GetBucketLocation"),
        ("bucket.new", "s3:ListBucket"),
        ("bucket.new.versioning", "s3:GetBucketVersioning"),
    ] {
        let line = row(&stdout, resource, check);
        assert!(
            line.contains("eu-west-1") && line.ends_with("missing: will be created"),
            "{line}"
        );
    }
    assert!(
        stdout.contains("9 checks: 6 ok, 3 missing (will be created), 0 denied, 0 errors."),
        "{stdout}"
    );

    let (code, stdout, stderr) = project.doctor(&["--format", "json"]);
    assert_eq!(code, 0, "doctor --format json failed:\n{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("doctor --format json prints JSON");
    assert_eq!(report["ok"], true);
    assert_eq!(report["caller"]["account"], MOTO_ACCOUNT);
    assert_eq!(report["account_guard"], json!({"status": "unset"}));
    assert_eq!(report["regions"], json!(["eu-west-1", "us-east-1"]));
    let checks = report["checks"].as_array().expect("checks");
    let find = |resource: &str, check: &str| {
        checks
            .iter()
            .find(|c| c["resource"] == resource && c["check"] == check)
            .unwrap_or_else(|| panic!("no check {resource} {check} in {report:#}"))
    };
    assert_eq!(
        find("bucket.old.tags", "s3:GetBucketTagging"),
        &json!({"resource": "bucket.old.tags", "bucket": format!("{prefix}-old"), "region": "us-east-1",
                "check": "s3:GetBucketTagging", "result": "ok", "fails": false})
    );
    assert_eq!(find("bucket.new", "s3:GetBucketLocation")["result"], "missing");
    assert_eq!(checks.len(), 9);
}

#[test]
fn print_policy_is_the_exact_least_privilege_policy() {
    let project = Project::new("pol");
    // With the account in the manifest, the policy is made without asking AWS anything.
    project.write_with(
        &format!("  account_id: \"{MOTO_ACCOUNT}\"\n"),
        "iam:\n  roles:\n    replicator:\n      trust: {services: [s3.amazonaws.com]}\nbuckets:\n  logs:\n    name: acme-logs\n    tags: {team: data}\n  assets:\n    name: acme-assets\n    tags: {team: web}\n  src:\n    name: acme-src\n    versioning: enabled\n    force_destroy: true\n    policy:\n      deny_insecure_transport: true\n    replication:\n      role: replicator\n      rules:\n        - id: to-dst\n          priority: 1\n          destination: {bucket: dst}\n  dst:\n    name: acme-dst\n    versioning: enabled\n    prevent_destroy: true\n    force_destroy: true\n",
    );
    let (code, stdout, stderr) = project.doctor(&["--print-policy"]);
    assert_eq!(code, 0, "doctor --print-policy failed:\n{stdout}\n{stderr}");
    let policy = without_import(serde_json::from_str(&stdout).expect("the policy is JSON"));
    let expected = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BucketObjectsForceDestroy",
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": ["arn:aws:s3:::acme-src/*"]
            },
            {
                "Sid": "BucketsTags",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket",
                    "s3:GetBucketLocation",
                    "s3:GetBucketTagging",
                    "s3:ListBucket",
                    "s3:PutBucketTagging"
                ],
                "Resource": ["arn:aws:s3:::acme-assets", "arn:aws:s3:::acme-logs"]
            },
            {
                // prevent_destroy wins over force_destroy: s3rec never deletes this bucket.
                "Sid": "BucketsVersioning",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket",
                    "s3:GetBucketLocation",
                    "s3:GetBucketVersioning",
                    "s3:ListBucket",
                    "s3:PutBucketVersioning"
                ],
                "Resource": ["arn:aws:s3:::acme-dst"]
            },
            {
                "Sid": "BucketsVersioningPolicyReplicationForceDestroy",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket",
                    "s3:DeleteBucket",
                    "s3:DeleteBucketPolicy",
                    "s3:GetBucketLocation",
                    "s3:GetBucketPolicy",
                    "s3:GetBucketVersioning",
                    "s3:GetReplicationConfiguration",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                    "s3:ListBucketVersions",
                    "s3:PutBucketPolicy",
                    "s3:PutBucketVersioning",
                    "s3:PutReplicationConfiguration"
                ],
                "Resource": ["arn:aws:s3:::acme-src"]
            },
            {
                "Sid": "CallerIdentity",
                "Effect": "Allow",
                "Action": ["sts:GetCallerIdentity"],
                "Resource": ["*"]
            },
            {
                // `s3rec cost` lists every bucket's versions and incomplete uploads.
                "Sid": "CostBuckets",
                "Effect": "Allow",
                "Action": ["s3:ListBucketMultipartUploads", "s3:ListBucketVersions"],
                "Resource": ["arn:aws:s3:::acme-assets", "arn:aws:s3:::acme-dst", "arn:aws:s3:::acme-logs", "arn:aws:s3:::acme-src"]
            },
            {
                "Sid": "CostObjects",
                "Effect": "Allow",
                "Action": ["s3:ListMultipartUploadParts"],
                "Resource": ["arn:aws:s3:::acme-assets/*", "arn:aws:s3:::acme-dst/*", "arn:aws:s3:::acme-logs/*", "arn:aws:s3:::acme-src/*"]
            },
            {
                // The replication role is managed by the manifest too: plan reads it, apply writes it.
                "Sid": "IamRoles",
                "Effect": "Allow",
                "Action": [
                    "iam:AttachRolePolicy",
                    "iam:CreateRole",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:GetRole",
                    "iam:GetRolePolicy",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListRolePolicies",
                    "iam:ListRoleTags",
                    "iam:PutRolePolicy",
                    "iam:TagRole",
                    "iam:UntagRole",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:UpdateRole"
                ],
                "Resource": [format!("arn:aws:iam::{MOTO_ACCOUNT}:role/replicator")]
            },
            {
                "Sid": "PassReplicationRole",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": [format!("arn:aws:iam::{MOTO_ACCOUNT}:role/replicator")],
                "Condition": {"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}}
            }
        ]
    });
    assert_eq!(policy, expected, "got:\n{stdout}");
    // `s3rec import` reads the account's listing, every document of what it adopts, and with
    // --with-related the IAM and SNS resources the buckets name.
    let full: Value = serde_json::from_str(&stdout).expect("the policy is JSON");
    let import: Vec<&Value> = full["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter(|s| s["Sid"].as_str().is_some_and(|sid| sid.starts_with("Import")))
        .collect();
    assert!(
        import.iter().any(|s| s["Action"] == json!(["s3:ListAllMyBuckets"])),
        "{stdout}"
    );
    assert!(
        import
            .iter()
            .any(|s| s["Resource"] == json!([format!("arn:aws:iam::{MOTO_ACCOUNT}:role/*")])),
        "{stdout}"
    );
    // Pretty-printed, one statement key per line, so a reviewer can diff it.
    assert!(stdout.contains("\n      \"Sid\": \"CallerIdentity\",\n"), "{stdout}");
}

#[test]
fn iam_and_sns_resources_are_probed_and_missing_ones_will_be_created() {
    let project = Project::new("ids");
    let prefix = common::unique_name("doctor-ids");
    let (user, role, policy, topic) = (
        format!("{prefix}-app"),
        format!("{prefix}-ci"),
        format!("{prefix}-readers"),
        format!("{prefix}-alerts"),
    );
    // The user, policy and topic exist already (made "with another client"); the role does not.
    let policy_document =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
    let topic_arn = with_aws(async |aws| {
        aws.iam()
            .create_user()
            .user_name(&user)
            .send()
            .await
            .expect("create user");
        aws.iam()
            .create_policy()
            .policy_name(&policy)
            .policy_document(policy_document)
            .send()
            .await
            .expect("create policy");
        let topic = aws
            .sns("us-east-1")
            .create_topic()
            .name(&topic)
            .send()
            .await
            .expect("create topic");
        topic.topic_arn().expect("topic ARN").to_string()
    });
    project.write(&format!(
        "iam:\n  policies:\n    readers:\n      name: {policy}\n      statements:\n        - Effect: Allow\n          Action: s3:ListAllMyBuckets\n          Resource: \"*\"\n  users:\n    app:\n      name: {user}\n      policies: [readers]\n  roles:\n    ci:\n      name: {role}\n      trust: {{services: [ec2.amazonaws.com]}}\nsns:\n  topics:\n    alerts:\n      name: {topic}\n"
    ));

    let (code, stdout, stderr) = project.doctor(&[]);
    assert_eq!(code, 0, "doctor failed:\n{stdout}\n{stderr}");
    assert!(stderr.contains("and 4 IAM/SNS resources"), "{stderr}");
    for (resource, check) in [
        ("iam_user.app", "iam:GetUser"),
        ("iam_user.app", "iam:ListUserTags"),
        // No s3rec inline policy yet: IAM's NoSuchEntity proves the permission as well.
        ("iam_user.app.inline_policy", "iam:GetUserPolicy"),
        ("iam_user.app.attachments", "iam:ListAttachedUserPolicies"),
        ("iam_user.app.access_key", "iam:ListAccessKeys"),
        ("iam_policy.readers", "iam:GetPolicy"),
        ("iam_policy.readers", "iam:GetPolicyVersion"),
    ] {
        let line = row(&stdout, resource, check);
        assert!(line.contains(" global ") && line.ends_with(" ok"), "{line}");
    }
    for (resource, check) in [
        ("iam_role.ci", "iam:GetRole"),
        ("iam_role.ci", "iam:ListRoleTags"),
        ("iam_role.ci.inline_policy", "iam:GetRolePolicy"),
        ("iam_role.ci.attachments", "iam:ListAttachedRolePolicies"),
    ] {
        let line = row(&stdout, resource, check);
        assert!(line.ends_with("missing: will be created"), "{line}");
    }
    for (resource, check) in [
        ("sns_topic.alerts", "sns:GetTopicAttributes"),
        ("sns_topic.alerts", "sns:ListTagsForResource"),
        ("sns_topic.alerts.subscriptions", "sns:ListSubscriptionsByTopic"),
    ] {
        let line = row(&stdout, resource, check);
        assert!(line.contains(" us-east-1 ") && line.ends_with(" ok"), "{line}");
    }
    // IAM is global: it adds no region.
    assert!(stdout.contains("Regions     us-east-1 (default)\n"), "{stdout}");
    assert!(
        stdout.contains("15 checks: 11 ok, 4 missing (will be created), 0 denied, 0 errors."),
        "{stdout}"
    );

    let (code, stdout, stderr) = project.doctor(&["--format", "json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    let checks = report["checks"].as_array().expect("checks");
    let find = |resource: &str, check: &str| {
        checks
            .iter()
            .find(|c| c["resource"] == resource && c["check"] == check)
            .unwrap_or_else(|| panic!("no check {resource} {check} in {report:#}"))
    };
    assert_eq!(
        find("sns_topic.alerts", "sns:GetTopicAttributes"),
        &json!({"resource": "sns_topic.alerts", "arn": topic_arn, "region": "us-east-1",
                "check": "sns:GetTopicAttributes", "result": "ok", "fails": false})
    );
    assert_eq!(
        find("iam_role.ci", "iam:GetRole"),
        &json!({"resource": "iam_role.ci", "arn": format!("arn:aws:iam::{MOTO_ACCOUNT}:role/{role}"),
                "region": "global", "check": "iam:GetRole", "result": "missing", "fails": false})
    );
    assert_eq!(report["regions"], json!(["us-east-1"]));
}

#[test]
fn print_policy_scopes_iam_and_sns_actions_to_their_arns() {
    let project = Project::new("idpol");
    project.write_with(
        &format!("  account_id: \"{MOTO_ACCOUNT}\"\n"),
        "state:\n  prune: true\niam:\n  users:\n    app:\n      name: app-${env}\n      access_key: true\nsns:\n  topics:\n    runs:\n      name: runs-${env}\nreport: {topic: runs, on: [apply]}\n",
    );
    let (code, stdout, stderr) = project.doctor(&["--print-policy"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let policy: Value = serde_json::from_str(&stdout).expect("the policy is JSON");
    let statement = |sid: &str| {
        policy["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .find(|s| s["Sid"] == sid)
            .cloned()
            .unwrap_or_else(|| panic!("no {sid} in {policy:#}"))
    };
    let topic = format!("arn:aws:sns:us-east-1:{MOTO_ACCOUNT}:runs-idpol");
    // Under state.prune, s3rec may delete what leaves the manifest, so the delete actions are granted.
    let users = statement("IamUsersDestroy");
    assert_eq!(
        users["Resource"],
        json!([format!("arn:aws:iam::{MOTO_ACCOUNT}:user/app-idpol")])
    );
    for action in [
        "iam:CreateUser",
        "iam:GetUser",
        "iam:CreateAccessKey",
        "iam:DeleteUser",
        "iam:ListUserPolicies",
    ] {
        assert!(
            users["Action"].as_array().expect("actions").contains(&json!(action)),
            "{action}: {users:#}"
        );
    }
    let topics = statement("SnsTopicsDestroy");
    assert_eq!(topics["Resource"], json!([topic]));
    assert!(
        topics["Action"]
            .as_array()
            .expect("actions")
            .contains(&json!("sns:DeleteTopic"))
    );
    assert_eq!(
        statement("PublishRunReports"),
        json!({"Sid": "PublishRunReports", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic]})
    );
}

#[test]
fn an_account_guard_mismatch_fails_and_names_both_accounts() {
    let project = Project::new("guard");
    let prefix = common::unique_name("doctor-guard");
    project.write_with(
        "  account_id: \"999999999999\"\n",
        &format!("buckets:\n  a:\n    name: {prefix}-a\n"),
    );
    let (code, stdout, stderr) = project.doctor(&[]);
    assert_eq!(code, 1, "a guard mismatch must fail:\n{stdout}\n{stderr}");
    let account = stdout
        .lines()
        .find(|l| l.starts_with("Account"))
        .unwrap_or_else(|| panic!("no Account line in:\n{stdout}"));
    assert!(account.contains("MISMATCH"), "{account}");
    assert!(account.contains("999999999999"), "{account}");
    assert!(account.contains(MOTO_ACCOUNT), "{account}");
    assert!(stdout.contains("the account guard does not hold"), "{stdout}");

    let (code, stdout, _) = project.doctor(&["--format", "json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["account_guard"],
        json!({"status": "mismatch", "expected": "999999999999", "actual": MOTO_ACCOUNT})
    );
}

#[test]
fn a_matching_account_guard_is_reported() {
    let project = Project::new("match");
    let prefix = common::unique_name("doctor-match");
    project.write_with(
        &format!("  account_id: \"{MOTO_ACCOUNT}\"\n"),
        &format!("buckets:\n  a:\n    name: {prefix}-a\n"),
    );
    let (code, stdout, stderr) = project.doctor(&[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("Account     {MOTO_ACCOUNT} matches aws.account_id")),
        "{stdout}"
    );
}

#[test]
fn an_invalid_manifest_is_reported_like_plan_does() {
    let project = Project::new("bad");
    project.write("buckets:\n  a:\n    name: Not_A_Valid_Bucket\n");
    let (code, stdout, stderr) = project.doctor(&[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("is not valid"), "{stderr}");
}

/// A manifest whose state is kept in `bucket` by the `s3` backend, managing nothing else.
fn s3_state_project(env: &str, bucket: &str) -> Project {
    let project = Project::new(env);
    project.write(&format!("state:\n  backend: s3\n  bucket: {bucket}\n"));
    project
}

/// The state bucket's rows: reachability, then the four documents doctor judges.
const STATE_ROWS: [(&str, &str); 5] = [
    ("state.bucket", "s3:ListBucket"),
    ("state.bucket.versioning", "s3:GetBucketVersioning"),
    ("state.bucket.public_access_block", "s3:GetBucketPublicAccessBlock"),
    ("state.bucket.encryption", "s3:GetEncryptionConfiguration"),
    ("state.bucket.lifecycle", "s3:GetLifecycleConfiguration"),
];

#[test]
fn a_missing_state_bucket_is_an_error_naming_it() {
    let bucket = common::unique_name("doctor-state-missing");
    let project = s3_state_project("stm", &bucket);

    let (code, stdout, stderr) = project.doctor(&[]);
    assert_eq!(code, 1, "a missing state bucket must fail doctor:\n{stdout}\n{stderr}");
    let line = row(&stdout, "state.bucket", "s3:ListBucket");
    assert!(
        line.contains(&format!("error: bucket {bucket} does not exist")),
        "{line}"
    );
    // Nothing else of a bucket that is not there is read.
    assert!(!stdout.contains("state.bucket.versioning"), "{stdout}");
    assert!(
        stdout.contains("0 missing (will be created), 0 denied, 1 error."),
        "{stdout}"
    );
    assert!(stdout.contains("Not ready: some checks failed."), "{stdout}");

    let (code, stdout, _) = project.doctor(&["--format", "json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    let check = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["resource"] == "state.bucket")
        .expect("a state.bucket check");
    assert_eq!(check["bucket"], bucket);
    assert_eq!(check["result"], "missing");
    assert_eq!(check["fails"], true);
}

#[test]
fn an_unversioned_state_bucket_without_public_access_block_gets_warnings_but_passes() {
    let bucket = common::unique_name("doctor-state-bare");
    create_bucket(&bucket);
    let project = s3_state_project("stb", &bucket);

    let (code, stdout, stderr) = project.doctor(&[]);
    assert_eq!(code, 0, "warnings must not fail doctor:\n{stdout}\n{stderr}");
    assert!(
        row(&stdout, "state.bucket", "s3:ListBucket").contains(&format!(
            "ok (s3://{bucket}/s3rec/stb.db does not exist yet: the first apply writes it)"
        )),
        "{stdout}"
    );
    let versioning = row(&stdout, "state.bucket.versioning", "s3:GetBucketVersioning");
    assert!(
        versioning.contains(
            "WARNING: versioning is off: enable versioning so an overwritten or damaged state can be recovered"
        ),
        "{versioning}"
    );
    let pab = row(
        &stdout,
        "state.bucket.public_access_block",
        "s3:GetBucketPublicAccessBlock",
    );
    assert!(
        pab.contains("WARNING: the public access block is not fully on (off: block_public_acls, ignore_public_acls, block_public_policy, restrict_public_buckets)"),
        "{pab}"
    );
    let lifecycle = row(&stdout, "state.bucket.lifecycle", "s3:GetLifecycleConfiguration");
    assert!(
        lifecycle.contains("ok (no lifecycle rule expires noncurrent versions"),
        "{lifecycle}"
    );
    assert!(stdout.contains("warnings above deserve a fix"), "{stdout}");

    let (_, stdout, _) = project.doctor(&["--format", "json"]);
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["ok"], true);
    let checks = report["checks"].as_array().expect("checks");
    let versioning = checks
        .iter()
        .find(|c| c["resource"] == "state.bucket.versioning")
        .expect("versioning check");
    assert_eq!(versioning["result"], "ok");
    assert_eq!(versioning["fails"], false);
    assert!(
        versioning["warning"]
            .as_str()
            .expect("a warning")
            .contains("enable versioning")
    );
}

#[test]
fn a_versioned_private_encrypted_state_bucket_is_ok_and_its_state_and_lock_are_noted() {
    use s3rec::model::{Doc, EncryptionDoc, PublicAccessBlockDoc, VersioningState};
    let bucket = common::unique_name("doctor-state-good");
    create_bucket(&bucket);
    with_aws(async |aws| {
        for doc in [
            Doc::Versioning(VersioningState::Enabled),
            Doc::PublicAccessBlock(PublicAccessBlockDoc {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            }),
            Doc::Encryption(Some(EncryptionDoc {
                algorithm: "AES256".into(),
                kms_key_id: None,
                bucket_key: false,
            })),
        ] {
            s3rec::aws::put_doc(aws, &bucket, "us-east-1", &doc)
                .await
                .expect("put doc");
        }
        // A state and a fresh lock, as the backend leaves them while a run goes on ("with another client").
        let lock = s3rec::backend::lock::LockInfo::new("apply", "stg", Some("arn:aws:iam::123456789012:user/ci"));
        let bodies = [
            ("s3rec/stg.db", b"x".to_vec()),
            ("s3rec/stg.db.lock", serde_json::to_vec(&lock).expect("lock json")),
        ];
        for (key, body) in bodies {
            aws.s3("us-east-1")
                .put_object()
                .bucket(&bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .expect("put object");
        }
    });
    let project = s3_state_project("stg", &bucket);

    let (code, stdout, stderr) = project.doctor(&[]);
    assert_eq!(code, 0, "doctor failed:\n{stdout}\n{stderr}");
    for (resource, check) in STATE_ROWS {
        let line = row(&stdout, resource, check);
        assert!(line.contains("us-east-1  ") && line.contains("  ok"), "{line}");
        assert!(!line.contains("WARNING"), "{line}");
    }
    let reachable = row(&stdout, "state.bucket", "s3:ListBucket");
    assert!(
        reachable.contains(&format!(
            "s3://{bucket}/s3rec/stg.db holds the state (1 bytes, written "
        )),
        "{reachable}"
    );
    assert!(
        reachable.contains("the lock s3rec/stg.db.lock exists since "),
        "{reachable}"
    );
    assert!(
        row(&stdout, "state.bucket.encryption", "s3:GetEncryptionConfiguration")
            .contains("ok (default encryption: SSE-S3 (AES256); s3rec writes the state with SSE-S3)"),
        "{stdout}"
    );
    let lock = row(&stdout, "state.lock", "s3:GetObject");
    assert!(
        lock.contains("ok (lock ") && lock.contains("held for apply by arn:aws:iam::123456789012:user/ci"),
        "{lock}"
    );
    assert!(lock.contains("a run is going on"), "{lock}");
    assert!(
        stdout.contains("7 checks: 7 ok, 0 missing (will be created), 0 denied, 0 errors.\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("The credentials can read everything the manifest manages.\n"),
        "{stdout}"
    );
}

/// The printed policy without its `import` statements (`ImportListBuckets`, `ImportReadBuckets`,
/// `ImportIamUsers`, ...), which every printed policy has: they are checked on their own, in
/// `print_policy_is_the_exact_least_privilege_policy`.
fn without_import(mut policy: Value) -> Value {
    let sids: Vec<String> = policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["Sid"].as_str().map(str::to_string))
        .collect();
    for sid in [
        "ImportListBuckets",
        "ImportReadBuckets",
        "ImportIamUsers",
        "ImportIamRoles",
        "ImportIamPolicies",
        "ImportSnsTopics",
    ] {
        assert!(sids.iter().any(|s| s == sid), "{sid} missing from {policy}");
    }
    if let Some(statements) = policy["Statement"].as_array_mut() {
        statements.retain(|s| !s["Sid"].as_str().is_some_and(|sid| sid.starts_with("Import")));
    }
    policy
}

#[test]
fn print_policy_grants_the_s3_state_backend_its_object_lock_listing_and_key() {
    let project = Project::new("sp");
    project.write_with(
        &format!("  account_id: \"{MOTO_ACCOUNT}\"\n"),
        "state:\n  backend: s3\n  bucket: acme-state\n  region: eu-west-1\n  kms_key: alias/state\n",
    );
    let (code, stdout, stderr) = project.doctor(&["--print-policy"]);
    assert_eq!(code, 0, "doctor --print-policy failed:\n{stdout}\n{stderr}");
    let policy = without_import(serde_json::from_str(&stdout).expect("the policy is JSON"));
    assert_eq!(
        policy["Statement"],
        json!([
            {"Sid": "CallerIdentity", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": ["*"]},
            {"Sid": "StateBucketList", "Effect": "Allow", "Action": ["s3:ListBucket"],
             "Resource": ["arn:aws:s3:::acme-state"],
             "Condition": {"StringEquals": {"s3:prefix": ["s3rec/sp.db", "s3rec/sp.db.lock"]}}},
            {"Sid": "StateBucketReadByDoctor", "Effect": "Allow",
             "Action": ["s3:GetBucketPublicAccessBlock", "s3:GetBucketVersioning",
                        "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration"],
             "Resource": ["arn:aws:s3:::acme-state"]},
            {"Sid": "StateKmsKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
             "Resource": [format!("arn:aws:kms:eu-west-1:{MOTO_ACCOUNT}:key/*")],
             "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/state"}}},
            {"Sid": "StateLock", "Effect": "Allow",
             "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:PutObject"],
             "Resource": ["arn:aws:s3:::acme-state/s3rec/sp.db.lock"]},
            {"Sid": "StateObject", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": ["arn:aws:s3:::acme-state/s3rec/sp.db"]}
        ]),
        "got:\n{stdout}"
    );
}
