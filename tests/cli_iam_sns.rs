//! IAM users, roles, policies and SNS topics through the real binary against the moto emulator: the
//! examples converge from nothing in one apply with an empty second plan, access-key secrets go to their
//! file and nowhere else, drift made with another client is reverted, and policy spelling is not drift.

mod common;
#[path = "common/project.rs"]
mod project;

use project::Project;

/// An example manifest without its `environment:` line and `aws:` section, which the test project
/// writes itself (pointing at the emulator). Physical names contain `${env}`, and the project's unique
/// environment name makes them unique.
fn example_body(file: &str) -> String {
    let path = format!("{}/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example");
    let mut out = String::new();
    let mut in_aws = false;
    for line in text.lines() {
        if line.starts_with("environment:") {
            continue;
        }
        if line.starts_with("aws:") {
            in_aws = true;
            continue;
        }
        if in_aws && (line.starts_with(' ') || line.is_empty()) {
            continue;
        }
        in_aws = false;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A project for `example` with a fresh, unique environment name.
fn example_project(example: &str) -> Project {
    let p = Project::new(&common::unique_name("ex"));
    p.write(&example_body(example));
    p
}

#[test]
fn the_app_logs_example_converges_and_the_secret_goes_only_to_its_file() {
    let p = example_project("app-logs.yaml");
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    for address in [
        "iam_user.training-logs-app",
        "iam_user.training-logs-app.inline_policy",
        "iam_user.training-logs-app.access_key",
        "bucket.logs.policy",
    ] {
        assert!(
            plan.contains(&format!("# {address} will be created")),
            "{address}:\n{plan}"
        );
    }
    let secret_file = format!(".s3rec/secrets/{0}/training-logs-app-{0}.credentials", p.env);
    assert!(plan.contains(&secret_file), "the plan names the secret's file:\n{plan}");
    // The exact least-privilege shape of the grant, as the plan shows it.
    assert!(plan.contains("\"s3:prefix\""), "{plan}");
    assert!(plan.contains("training-logs/*"), "{plan}");

    let (code, apply_out, apply_err) = p.apply();
    assert_eq!(code, 0, "apply failed:\n{apply_out}\n{apply_err}");
    p.assert_converged();

    // The secret file: mode 0600 in a 0700 directory, in shared-credentials format.
    let path = p.path(&secret_file);
    let text = std::fs::read_to_string(&path).expect("secret file");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "secret file mode {mode:o}");
    let dir_mode = std::fs::metadata(path.parent().expect("dir"))
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700, "secrets directory mode {dir_mode:o}");
    let value_of = |key: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(key)
                    .map(|v| v.trim_start_matches([' ', '=']).trim().to_string())
            })
            .unwrap_or_else(|| panic!("{key} in the secret file:\n{text}"))
    };
    let key_id = value_of("aws_access_key_id");
    let secret = value_of("aws_secret_access_key");
    assert!(secret.len() >= 20, "a real secret was written");

    // The secret appears nowhere else: not in apply's output, a plan (text or JSON), the state or its
    // listing. The key ID (not secret) is recorded.
    let (_, plan_json, plan_err) = p.run(&["plan", "-e", &p.env, "--format", "json"]);
    let (_, state_list, _) = p.run(&["state", "list", "-e", &p.env]);
    let (_, state_show, _) = p.run(&["state", "show", "-e", &p.env, "iam_user.training-logs-app.access_key"]);
    for (what, output) in [
        ("apply stdout", &apply_out),
        ("apply stderr", &apply_err),
        ("plan json", &plan_json),
        ("plan stderr", &plan_err),
        ("state list", &state_list),
        ("state show", &state_show),
    ] {
        assert!(!output.contains(&secret), "the secret leaked into {what}");
    }
    assert!(
        state_show.contains(&key_id),
        "the state records the key ID:\n{state_show}"
    );
    let db = std::fs::read(p.path(&format!(".s3rec/{}.db", p.env))).expect("state file");
    let needle = secret.as_bytes();
    assert!(
        !db.windows(needle.len()).any(|w| w == needle),
        "the secret leaked into the state database"
    );

    // A second apply with nothing to do leaves the file alone; removing it does not make a new key.
    std::fs::remove_file(&path).expect("remove secret");
    p.assert_converged();
}

#[test]
fn the_cross_region_example_converges_from_nothing_in_one_apply() {
    // moto keeps no destination storage class on replication rules (docs/testing.md, pinned in
    // tests/aws_buckets.rs), so against it the example's `storage_class: STANDARD_IA` would show as a
    // change on every plan. Everything else of the example is applied as written.
    let p = Project::new(&common::unique_name("ex"));
    let body = example_body("cross-region-backup.yaml");
    assert!(
        body.contains("            storage_class: STANDARD_IA\n"),
        "the example changed"
    );
    p.write(&body.replace("            storage_class: STANDARD_IA\n", ""));
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    for address in [
        "iam_role.replication",
        "iam_role.replication.attachments",
        "iam_policy.replication",
        "sns_topic.backup-events",
        "sns_topic.backup-events.policy",
        "sns_topic.backup-events.subscriptions",
        "bucket.source.replication",
        "bucket.source.notifications",
    ] {
        assert!(
            plan.contains(&format!("# {address} will be created")),
            "{address}:\n{plan}"
        );
    }
    p.apply_ok();
    p.assert_converged();

    // What S3 got refers to what IAM and SNS have.
    let rt = common::runtime();
    rt.block_on(async {
        let aws = common::emulator().await;
        let role = aws
            .iam()
            .get_role()
            .role_name(format!("s3-replication-acme-files-{}", p.env))
            .send()
            .await
            .expect("role exists");
        let role_arn = role.role().map(|r| r.arn().to_string()).unwrap_or_default();
        let replication = aws
            .s3("us-east-1")
            .get_bucket_replication()
            .bucket(format!("acme-files-{}-us-east-1", p.env))
            .send()
            .await
            .expect("replication");
        assert_eq!(
            replication.replication_configuration().map(|c| c.role()),
            Some(role_arn.as_str())
        );
        let attached = aws
            .iam()
            .list_attached_role_policies()
            .role_name(format!("s3-replication-acme-files-{}", p.env))
            .send()
            .await
            .expect("attached");
        assert_eq!(attached.attached_policies().len(), 1);
    });
}

/// A bucket, a user with grants, a role with an attached managed policy, and a topic; `sid` names the
/// managed policy's statement, so changing it makes a new policy version.
fn identities_manifest(env: &str, sid: &str) -> String {
    format!(
        r#"
buckets:
  data:
    name: {env}-data
iam:
  users:
    app:
      name: {env}-app
      grants:
        - bucket: data
          prefix: in/
          access: [read, list]
      tags:
        team: data
  roles:
    worker:
      name: {env}-role
      description: Worker role
      trust:
        services: [ec2.amazonaws.com]
      policies: [read-all]
  policies:
    read-all:
      name: {env}-read-all
      statements:
        - Sid: {sid}
          Effect: Allow
          Action: [s3:GetObject]
          Resource: "${{bucket.data.arn}}/*"
sns:
  topics:
    events:
      name: {env}-events
      display_name: Events
"#
    )
}

#[test]
fn iam_and_topic_drift_is_reverted_and_policy_spelling_is_not_drift() {
    let p = Project::new(&common::unique_name("drift"));
    p.write(&identities_manifest(&p.env, "ReadAll"));
    p.apply_ok();
    p.assert_converged();

    let rt = common::runtime();
    let account = rt.block_on(async {
        let aws = common::emulator().await;
        let account = aws.caller_identity().await.expect("sts").account;
        // Drift made with another client: a tag removed, the trust policy rewritten with the same
        // meaning (one-element lists, keys reordered: not drift), the topic's display name changed.
        aws.iam()
            .untag_user()
            .user_name(format!("{}-app", p.env))
            .tag_keys("team")
            .send()
            .await
            .expect("untag");
        let same_trust = r#"{"Statement":[{"Action":["sts:AssumeRole"],"Principal":{"Service":["ec2.amazonaws.com"]},"Effect":"Allow","Sid":"TrustServices"}],"Version":"2012-10-17"}"#;
        aws.iam()
            .update_assume_role_policy()
            .role_name(format!("{}-role", p.env))
            .policy_document(same_trust)
            .send()
            .await
            .expect("trust");
        aws.sns("us-east-1")
            .set_topic_attributes()
            .topic_arn(format!("arn:aws:sns:us-east-1:{account}:{}-events", p.env))
            .attribute_name("DisplayName")
            .attribute_value("Changed by hand")
            .send()
            .await
            .expect("display name");
        account
    });
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("# iam_user.app will be updated in-place"), "{plan}");
    assert!(plan.contains("# sns_topic.events will be updated in-place"), "{plan}");
    assert!(
        !plan.contains("iam_role.worker will"),
        "same trust, other spelling:\n{plan}"
    );
    p.apply_ok();
    p.assert_converged();

    // A new document for the managed policy is a new default version; six changes keep five versions.
    for i in 0..6 {
        p.write(&identities_manifest(&p.env, &format!("ReadAll{i}")));
        p.apply_ok();
    }
    p.assert_converged();
    rt.block_on(async {
        let aws = common::emulator().await;
        let arn = format!("arn:aws:iam::{account}:policy/{}-read-all", p.env);
        let versions = aws
            .iam()
            .list_policy_versions()
            .policy_arn(&arn)
            .send()
            .await
            .expect("versions");
        assert_eq!(versions.versions().len(), 5, "{:?}", versions.versions());
        // One version from the create and six new ones: IAM names them v1 to v7.
        let default = versions.versions().iter().find(|v| v.is_default_version());
        assert_eq!(
            default.and_then(|v| v.version_id()),
            Some("v7"),
            "the newest version is the default: {:?}",
            versions.versions()
        );
    });
}

#[test]
fn removed_identities_are_forgotten_or_deleted_with_prune() {
    let p = Project::new(&common::unique_name("prune"));
    let full = identities_manifest(&p.env, "ReadAll");
    p.write(&full);
    p.apply_ok();
    let only_bucket = format!("\nbuckets:\n  data:\n    name: {}-data\n", p.env);

    // Without pruning: forgotten, left in AWS.
    p.write(&only_bucket);
    let (code, plan) = p.plan();
    assert_eq!(code, 0, "forgetting changes nothing in AWS:\n{plan}");
    assert!(plan.contains("# iam_user.app changes in the state only"), "{plan}");
    p.apply_ok();
    let addresses: Vec<String> = p
        .state()
        .resources()
        .expect("resources")
        .into_iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(addresses, vec!["bucket.data".to_string()], "parts go with their owner");
    let rt = common::runtime();
    rt.block_on(async {
        let aws = common::emulator().await;
        aws.iam()
            .get_user()
            .user_name(format!("{}-app", p.env))
            .send()
            .await
            .expect("the forgotten user is still there");
    });

    // Managed again (adopted), then removed with pruning on: deleted, dependencies first.
    p.write(&full);
    p.apply_ok();
    p.write(&format!("\nstate:\n  prune: true\n{only_bucket}"));
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    for address in [
        "iam_user.app",
        "iam_role.worker",
        "iam_policy.read-all",
        "sns_topic.events",
    ] {
        assert!(
            plan.contains(&format!("# {address} will be destroyed")),
            "{address}:\n{plan}"
        );
    }
    p.apply_ok();
    p.assert_converged();
    rt.block_on(async {
        let aws = common::emulator().await;
        let user = aws.iam().get_user().user_name(format!("{}-app", p.env)).send().await;
        assert!(user.is_err(), "the user is deleted");
        let role = aws.iam().get_role().role_name(format!("{}-role", p.env)).send().await;
        assert!(role.is_err(), "the role is deleted");
        let topics = aws.sns("us-east-1").list_topics().send().await.expect("topics");
        assert!(
            !topics.topics().iter().any(|t| t
                .topic_arn()
                .is_some_and(|a| a.ends_with(&format!(":{}-events", p.env)))),
            "the topic is deleted"
        );
    });
}
