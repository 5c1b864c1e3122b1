//! Security findings through the real binary: `validate` offline (text, JSON, SARIF, `--fail-on`,
//! acknowledgements), and the logging target's generated delivery statement against the emulator.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;

use fault_proxy::FaultProxy;
use project::Project;
use serde_json::Value as Json;

fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Defect 1 of issue 14: a public `s3:*` bucket policy and an `Action: "*"` IAM policy used to
/// validate with "0 warnings".
const DEFECT_ONE: &str = r#"buckets:
  site:
    name: findings-site
    policy:
      statements:
        - Effect: Allow
          Principal: "*"
          Action: "s3:*"
          Resource: ["${bucket.site.arn}", "${bucket.site.arn}/*"]
iam:
  policies:
    admin:
      statements:
        - Effect: Allow
          Action: "*"
          Resource: "*"
"#;

#[test]
fn a_public_bucket_policy_and_an_admin_policy_are_critical_findings() {
    let project = Project::new("dev");
    project.write(DEFECT_ONE);
    let (code, stdout, stderr) = project.run(&["validate", "-e", "dev", "--fail-on", "critical"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let text = flat(&stderr);
    assert!(
        text.contains("CRITICAL S3REC-S3-001 bucket.site (environments/dev.yaml:9:5)"),
        "{stderr}"
    );
    assert!(text.contains("CRITICAL S3REC-S3-002 bucket.site"), "{stderr}");
    assert!(
        text.contains("CRITICAL S3REC-IAM-001 iam_policy.admin (environments/dev.yaml:18:7)"),
        "{stderr}"
    );
    assert!(
        text.contains("security findings at or above --fail-on critical are open"),
        "{stderr}"
    );

    // Without --fail-on the findings are listed and the exit code is unchanged.
    let (code, _, stderr) = project.run(&["validate", "-e", "dev"]);
    assert_eq!(code, 0, "{stderr}");

    let (code, stdout, _) = project.run(&["validate", "-e", "dev", "--format", "json"]);
    assert_eq!(code, 0);
    let json: Json = serde_json::from_str(&stdout).expect("json");
    let ids: Vec<&str> = json["files"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"S3REC-S3-001") && ids.contains(&"S3REC-IAM-001"),
        "{ids:?}"
    );
}

#[test]
fn sarif_has_rules_and_located_results_relative_to_the_repository() {
    let project = Project::new("dev");
    project.write(DEFECT_ONE);
    std::fs::create_dir_all(project.path(".git")).expect("a repository root");
    let (code, stdout, stderr) = project.run(&["validate", "-e", "dev", "--format", "sarif"]);
    assert_eq!(code, 0, "{stderr}");
    let sarif: Json = serde_json::from_str(&stdout).expect("sarif is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), s3rec::findings::RuleId::ALL.len());
    assert!(
        rules
            .iter()
            .all(|r| r["id"].is_string() && r["help"]["text"].is_string())
    );
    let results = run["results"].as_array().expect("results");
    let public = results
        .iter()
        .find(|r| r["ruleId"] == "S3REC-S3-001")
        .expect("a public-read result");
    assert_eq!(public["level"], "error");
    let location = &public["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "environments/dev.yaml");
    assert_eq!(location["region"]["startLine"], 9);
    assert_eq!(location["region"]["startColumn"], 5);
    let index = public["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(rules[index]["id"], "S3REC-S3-001");
}

#[test]
fn acknowledged_findings_are_listed_and_do_not_fail() {
    let project = Project::new("dev");
    project.write(
        r#"buckets:
  site:
    name: findings-ack
    policy: {deny_insecure_transport: true}
    lifecycle:
      - {id: parts, abort_incomplete_multipart_upload_days: 7}
    acknowledge:
      - finding: S3REC-S3-013
        reason: "CloudFront logs every request to this bucket"
"#,
    );
    let (code, stdout, stderr) = project.run(&["validate", "-e", "dev", "--fail-on", "low"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        flat(&stderr).contains("acknowledged: CloudFront logs every request to this bucket"),
        "{stderr}"
    );
    let (_, stdout, _) = project.run(&["validate", "-e", "dev", "--format", "sarif"]);
    let sarif: Json = serde_json::from_str(&stdout).expect("sarif");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "S3REC-S3-013");
    assert_eq!(result["suppressions"][0]["kind"], "inSource");
}

#[test]
fn an_acknowledgement_needs_a_known_finding_and_a_reason() {
    let project = Project::new("dev");
    project.write(
        r#"buckets:
  site:
    name: findings-bad-ack
    acknowledge:
      - finding: S3REC-S3-13
        reason: "typo in the ID"
      - finding: S3REC-S3-013
        reason: "  "
"#,
    );
    let (code, _, stderr) = project.run(&["validate", "-e", "dev"]);
    assert_eq!(code, 1, "{stderr}");
    let text = flat(&stderr);
    assert!(
        text.contains("environments/dev.yaml:10:18: `S3REC-S3-13` is not a finding s3rec reports"),
        "{stderr}"
    );
    assert!(text.contains("did you mean `S3REC-S3-013`?"), "{stderr}");
    assert!(
        text.contains("environments/dev.yaml:13:17: the acknowledgement of `S3REC-S3-013` gives no reason"),
        "{stderr}"
    );
    project.write("buckets:\n  site:\n    name: findings-no-reason\n    acknowledge:\n      - finding: S3REC-S3-013\n");
    let (code, _, stderr) = project.run(&["validate", "-e", "dev"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(flat(&stderr).contains("dev.yaml:10:"), "{stderr}");
    assert!(flat(&stderr).contains("reason"), "{stderr}");
}

/// Defect 4 of issue 14: a bucket logging into a target that did not let the logging service write
/// failed at apply with InvalidTargetBucketForLogging. The target now gets the delivery statement
/// and the estate converges in one apply.
#[test]
fn a_logging_target_without_a_delivery_statement_converges_in_one_apply() {
    let project = Project::new("logs");
    let prefix = common::unique_name("logdeliv");
    project.write(&format!(
        "buckets:\n  app:\n    name: {prefix}-app\n    logging: {{target_bucket: logs, prefix: app/}}\n  logs:\n    name: {prefix}-logs\n"
    ));
    let (code, stdout, stderr) = project.run(&["validate", "-e", "logs"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("S3REC-S3-016"), "{stdout}\n{stderr}");
    project.apply_ok();
    project.assert_converged();
    let policy = common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .get_bucket_policy()
            .bucket(format!("{prefix}-logs"))
            .send()
            .await
            .expect("the target has a policy")
            .policy
            .unwrap_or_default()
    });
    assert!(policy.contains("logging.s3.amazonaws.com"), "{policy}");
    assert!(policy.contains(&format!("arn:aws:s3:::{prefix}-app")), "{policy}");
}

/// Defect 2 of issue 14: an inline policy added by hand to a managed user was invisible, even with
/// `--audit`. The plan now lists it as a finding (not as drift: s3rec does not manage it).
#[test]
fn an_inline_policy_added_by_hand_to_a_managed_user_is_a_plan_finding() {
    let project = Project::new("inline");
    let prefix = common::unique_name("inline");
    project.write(&format!(
        "buckets:\n  data:\n    name: {prefix}-data\n    policy: {{deny_insecure_transport: true}}\niam:\n  users:\n    app:\n      name: {prefix}-app\n      grants: [{{bucket: data, access: [read]}}]\n"
    ));
    project.apply_ok();
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.iam()
            .put_user_policy()
            .user_name(format!("{prefix}-app"))
            .policy_name("added-by-hand")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
            .send()
            .await
            .expect("put an inline policy by hand");
    });
    let (code, stdout, stderr) = project.run(&["plan", "-e", "inline"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let text = flat(&stdout);
    assert!(
        text.contains("MEDIUM S3REC-IAM-005 iam_user.app"),
        "the hand-made inline policy is a finding:\n{stdout}"
    );
    assert!(
        text.contains("inline policy `added-by-hand` is not in the manifest"),
        "{stdout}"
    );
    assert!(stdout.contains("No changes."), "a finding is not drift:\n{stdout}");

    let (code, stdout, stderr) = project.run(&["plan", "-e", "inline", "--fail-on", "medium"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(flat(&stderr).contains("S3REC-IAM-005 iam_user.app"), "{stderr}");

    let (code, stdout, _) = project.run(&["plan", "-e", "inline", "--format", "markdown"]);
    assert_eq!(code, 0);
    let findings_at = stdout.find("#### Security findings").expect("a findings section");
    assert!(
        findings_at < stdout.find("No changes").unwrap_or(usize::MAX),
        "{stdout}"
    );

    let (code, stdout, _) = project.run(&["plan", "-e", "inline", "--format", "sarif"]);
    assert_eq!(code, 0);
    let sarif: Json = serde_json::from_str(&stdout).expect("sarif");
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|r| r["ruleId"] == "S3REC-IAM-005"),
        "{stdout}"
    );

    // Acknowledged next to the user: still listed, no longer failing.
    // The bucket's own settings are managed too: the emulator makes buckets without encryption, public
    // access block or ownership controls, which the plan (reading every document) would report.
    project.write(&format!(
        "buckets:\n  data:\n    name: {prefix}-data\n    policy: {{deny_insecure_transport: true}}\n    encryption: {{algorithm: AES256}}\n    public_access_block: {{}}\n    object_ownership: BucketOwnerEnforced\n    acknowledge: [{{finding: S3REC-S3-013, reason: \"a test bucket\"}}]\niam:\n  users:\n    app:\n      name: {prefix}-app\n      grants: [{{bucket: data, access: [read]}}]\n      acknowledge:\n        - {{finding: S3REC-IAM-005, reason: \"break-glass policy, reviewed in TICKET-1\"}}\n"
    ));
    let (code, stdout, stderr) = project.run(&["plan", "-e", "inline", "--fail-on", "medium"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        flat(&stdout).contains("acknowledged: break-glass policy, reviewed in TICKET-1"),
        "{stdout}"
    );
}

/// Item 3 of issue 14: `plan` judges the settings the manifest leaves out without `--audit`. The
/// emulator makes buckets with no public access block and no default encryption (moto, unlike AWS,
/// gives a new bucket neither), so a bucket that manages only its versioning shows both as live
/// findings, and the plan changes nothing there.
#[test]
fn settings_the_manifest_leaves_out_are_live_findings_without_audit() {
    let project = Project::new("leftout");
    let prefix = common::unique_name("leftout");
    project.write(&format!(
        "buckets:\n  data:\n    name: {prefix}-data\n    versioning: enabled\n"
    ));
    project.apply_ok();
    // Someone turns one switch on by hand: the others are still off.
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .put_public_access_block()
            .bucket(format!("{prefix}-data"))
            .public_access_block_configuration(
                aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                    .block_public_policy(true)
                    .build(),
            )
            .send()
            .await
            .expect("put a partial public access block");
    });
    let (code, stdout, stderr) = project.run(&["plan", "-e", "leftout", "--detailed-exitcode"]);
    assert_eq!(code, 0, "no changes:\n{stdout}\n{stderr}");
    let text = flat(&stdout);
    assert!(
        text.contains("HIGH S3REC-S3-004 bucket.data (live): Public access block off or partial: off: block_public_acls, ignore_public_acls, restrict_public_buckets"),
        "{stdout}"
    );
    assert!(
        text.contains("MEDIUM S3REC-S3-008 bucket.data (live): No default encryption"),
        "{stdout}"
    );
    assert!(!text.contains("audit:"), "one message per fact:\n{stdout}");

    let (_, stdout, _) = project.run(&["plan", "-e", "leftout", "--format", "json"]);
    let json: Json = serde_json::from_str(&stdout).expect("json plan");
    let origin = |id: &str| {
        json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["id"] == id)
            .map(|f| f["origin"].clone())
    };
    assert_eq!(origin("S3REC-S3-004"), Some(Json::from("live")), "{stdout}");
    assert_eq!(origin("S3REC-S3-008"), Some(Json::from("live")), "{stdout}");
}

/// SNS-001 and SNS-002 against the emulator: the manifest's topic policy is s3rec's own (never
/// public), so the public one can only be live: opened by hand. The plan judges it as a live finding
/// and plans the update that puts the manifest's policy back.
#[test]
fn a_topic_policy_opened_by_hand_is_a_live_publish_and_subscribe_finding() {
    let project = Project::new("topic");
    let prefix = common::unique_name("topic");
    project.write(&format!("sns:\n  topics:\n    alerts:\n      name: {prefix}-alerts\n"));
    project.apply_ok();
    project.assert_converged();
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let sns = aws.sns("us-east-1");
        let arn = sns
            .create_topic()
            .name(format!("{prefix}-alerts"))
            .send()
            .await
            .expect("the topic's ARN")
            .topic_arn
            .unwrap_or_default();
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "SNS:Publish", "Resource": arn},
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["SNS:Subscribe", "SNS:Receive"], "Resource": arn}
            ]
        });
        sns.set_topic_attributes()
            .topic_arn(&arn)
            .attribute_name("Policy")
            .attribute_value(policy.to_string())
            .send()
            .await
            .expect("open the topic policy by hand");
    });
    let (code, stdout, stderr) = project.run(&["plan", "-e", "topic", "--detailed-exitcode"]);
    assert_eq!(code, 2, "the plan puts the policy back:\n{stdout}\n{stderr}");
    let text = flat(&stdout);
    assert!(text.contains("S3REC-SNS-001 sns_topic.alerts (live)"), "{stdout}");
    assert!(text.contains("S3REC-SNS-002 sns_topic.alerts (live)"), "{stdout}");
    assert!(text.contains("statement #1 is open to everyone (live now"), "{stdout}");
    assert!(text.contains("statement #2 is open to everyone (live now"), "{stdout}");
    // The compact plan: the topic's block, its policy put back, which is drift (changed by hand).
    assert!(stdout.contains("\n  ~ sns_topic.alerts ("), "{stdout}");
    assert!(stdout.contains("\n      ~ policy  [drift]\n"), "{stdout}");
    project.apply_ok();
    let (code, stdout, _) = project.run(&["plan", "-e", "topic"]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("S3REC-SNS-00"), "apply closed it:\n{stdout}");
}

/// A caller allowed to read only what the manifest manages (the policy plans needed before) still
/// plans: a refused read of a document the manifest leaves out is one warning naming the permission.
/// A refused read of a managed document still fails the plan. The emulator allows everything, so the
/// fault proxy answers those reads with 403 AccessDenied.
#[test]
fn a_refused_read_of_an_unmanaged_document_is_a_warning_naming_the_permission() {
    let bucket = common::unique_name("unread");
    let mut project = Project::new("unread");
    let body = format!("buckets:\n  data:\n    name: {bucket}\n    versioning: enabled\n");
    project.write(&body);
    project.apply_ok();

    let pattern = format!("^GET /{bucket}/?\\?ownershipControls");
    let proxy = FaultProxy::start(&["--match", &pattern, "--rate", "1", "--faults", "forbidden"]);
    project.endpoint = proxy.endpoint.clone();
    project.write(&body);
    let (code, stdout, stderr) = project.run(&["plan", "-e", "unread"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let both = flat(&format!("{stdout}\n{stderr}"));
    assert!(
        both.contains("bucket.data.ownership (not in the manifest) not read, so no findings on it: s3:GetBucketOwnershipControls was denied"),
        "{stdout}\n{stderr}"
    );
    assert!(
        !both.contains("S3REC-S3-005"),
        "nothing is judged on what was not read:\n{stdout}"
    );
    assert!(proxy.faults_injected() >= 1, "{:?}", proxy.requests());

    let pattern = format!("^GET /{bucket}/?\\?versioning");
    let proxy = FaultProxy::start(&["--match", &pattern, "--rate", "1", "--faults", "forbidden"]);
    project.endpoint = proxy.endpoint.clone();
    project.write(&body);
    let (code, stdout, stderr) = project.run(&["plan", "-e", "unread"]);
    assert_eq!(code, 1, "a managed document must be read:\n{stdout}\n{stderr}");
    assert!(flat(&stderr).contains("s3:GetBucketVersioning"), "{stderr}");
}
