//! `plan` and `apply` end to end: the real binary against the moto emulator, for every configuration
//! document: create from nothing, update, revert of drift made with another client, and an empty
//! second plan. Also saved plans (and their refusal when stale), partial failure, pruning and guards.

mod common;
#[path = "common/project.rs"]
mod project;

use aws_sdk_s3::types::{BucketVersioningStatus, PublicAccessBlockConfiguration, VersioningConfiguration};
use project::Project;
use s3rec::plan::Address;
use s3rec::state::Outcome;

/// A bucket with every configuration document s3rec manages, as a manifest fragment; `v2` changes every
/// one of them. It leaves out what moto accepts but does not keep (lifecycle size filters and
/// newer-noncurrent counts, and the replication rule's filter, storage class and delete-marker switch;
/// see docs/testing.md), so that the emulator can converge.
fn full_estate(prefix: &str, v2: bool) -> String {
    let pick = |one: &'static str, two: &'static str| if v2 { two } else { one };
    format!(
        r#"iam:
  roles:
    replicator:
      trust: {{services: [s3.amazonaws.com]}}
sns:
  topics:
    uploads: {{name: {prefix}-uploads}}
buckets:
  logs:
    name: {prefix}-logs
    versioning: enabled
    policy:
      statements:
        - Sid: S3ServerAccessLogs
          Effect: Allow
          Principal: {{Service: logging.s3.amazonaws.com}}
          Action: s3:PutObject
          Resource: "arn:aws:s3:::{prefix}-logs/*"
  dr:
    name: {prefix}-dr
    region: eu-west-1
    versioning: enabled
  data:
    name: {prefix}-data
    versioning: enabled
    encryption: {encryption}
    public_access_block: {{block_public_acls: {acls}}}
    object_ownership: {ownership}
    tags: {{team: platform, tier: "{tier}"}}
    lifecycle:
      - id: tiering
        filter: {{prefix: logs/}}
        transitions:
          - {{days: 30, storage_class: STANDARD_IA}}
          - {{days: 90, storage_class: GLACIER}}
        expiration: {{days: {retention}}}
        noncurrent_version_expiration: {{days: 30}}
        abort_incomplete_multipart_upload_days: 7
    policy:
      deny_insecure_transport: true
      statements:
        - Sid: ReadReports
          Effect: Allow
          Principal: {{AWS: "${{account_id}}"}}
          Action: {read_actions}
          Resource: "${{bucket.data.arn}}/reports/*"
    logging: {{target_bucket: logs, prefix: {log_prefix}}}
    cors:
      - allowed_methods: [GET, HEAD]
        allowed_origins: ["https://app.example.com"]
        max_age_seconds: {max_age}
    notifications:
      - topic: uploads
        events: {events}
        filter: {{prefix: incoming/}}
    replication:
      role: replicator
      rules:
        - id: to-dr
          priority: {priority}
          destination: {{bucket: dr}}
"#,
        encryption = pick(
            "{algorithm: AES256}",
            "{algorithm: \"aws:kms\", kms_key_id: alias/data, bucket_key: true}"
        ),
        acls = pick("true", "false"),
        ownership = pick("BucketOwnerEnforced", "BucketOwnerPreferred"),
        tier = pick("gold", "silver"),
        retention = pick("365", "400"),
        read_actions = pick("s3:GetObject", "[s3:GetObject, s3:GetObjectVersion]"),
        log_prefix = pick("data/", "data-v2/"),
        max_age = pick("300", "600"),
        events = pick(
            "[\"s3:ObjectCreated:*\"]",
            "[\"s3:ObjectCreated:*\", \"s3:ObjectRemoved:*\"]"
        ),
        priority = pick("1", "2"),
    )
}

const DATA_DOCUMENTS: [&str; 11] = [
    "versioning",
    "encryption",
    "public_access_block",
    "ownership",
    "tags",
    "lifecycle",
    "policy",
    "logging",
    "cors",
    "notifications",
    "replication",
];

/// The JSON plan has `count` changes, each with `cause`, and the summary counts the drift.
#[track_caller]
fn assert_causes(project: &Project, count: usize, cause: &str) {
    let (code, json, stderr) = project.run(&["plan", "-e", &project.env, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let document: serde_json::Value = serde_json::from_str(&json).expect("a JSON plan");
    let changes = document["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), count, "{json}");
    for change in changes {
        assert_eq!(change["cause"], cause, "{change}");
    }
    let drift = if cause == "drift" { count } else { 0 };
    assert_eq!(
        document["summary"]["drift"].as_u64().unwrap_or(0),
        drift as u64,
        "{json}"
    );
}

#[test]
fn every_document_is_created_updated_and_drift_reverted() {
    let project = Project::new("full");
    let prefix = common::unique_name("full");
    project.write(&full_estate(&prefix, false));

    // Create from nothing, then an empty second plan.
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    for doc in DATA_DOCUMENTS {
        assert!(
            text.contains(&format!("+ bucket.data.{doc}")),
            "missing {doc} in:\n{text}"
        );
    }
    project.apply_ok();
    project.assert_converged();

    // Update: a changed manifest gives exactly one update per changed document, and converges again.
    // Versioning changes on the log bucket, because the replicated bucket must stay versioned.
    let logs_versioning = format!("  logs:\n    name: {prefix}-logs\n    versioning: enabled");
    project
        .write(&full_estate(&prefix, true).replace(&logs_versioning, &logs_versioning.replace("enabled", "suspended")));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    for doc in DATA_DOCUMENTS.iter().filter(|d| **d != "versioning") {
        assert!(
            text.contains(&format!("~ bucket.data.{doc}")),
            "update of {doc} not shown:\n{text}"
        );
    }
    assert!(text.contains("~ bucket.logs.versioning"), "{text}");
    assert!(
        text.contains("Plan: 0 to create, 11 to update, 0 to replace, 0 to destroy."),
        "{text}"
    );
    // Every one of them is the manifest's doing: AWS still has what the first apply set.
    assert_causes(&project, 11, "edit");
    project.apply_ok();
    project.assert_converged();

    // Drift made with another client is shown and reverted.
    let rt = common::runtime();
    rt.block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3("us-east-1");
        let bucket = format!("{prefix}-data");
        s3.put_public_access_block()
            .bucket(&bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(false)
                    .ignore_public_acls(false)
                    .block_public_policy(false)
                    .restrict_public_buckets(false)
                    .build(),
            )
            .send()
            .await
            .expect("turn off the public access block");
        s3.put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await
            .expect("suspend versioning");
        // Each call has its own error type, so each is checked on its own.
        s3.delete_bucket_tagging()
            .bucket(&bucket)
            .send()
            .await
            .expect("delete tags");
        s3.delete_bucket_lifecycle()
            .bucket(&bucket)
            .send()
            .await
            .expect("delete lifecycle");
        s3.delete_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .expect("delete policy");
        s3.delete_bucket_cors()
            .bucket(&bucket)
            .send()
            .await
            .expect("delete cors");
        s3.delete_bucket_encryption()
            .bucket(&bucket)
            .send()
            .await
            .expect("delete encryption");
        s3.delete_bucket_ownership_controls()
            .bucket(&bucket)
            .send()
            .await
            .expect("delete ownership");
        s3.delete_bucket_replication()
            .bucket(&bucket)
            .send()
            .await
            .expect("delete replication");
        s3.put_bucket_logging()
            .bucket(&bucket)
            .bucket_logging_status(aws_sdk_s3::types::BucketLoggingStatus::builder().build())
            .send()
            .await
            .expect("turn off logging");
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(aws_sdk_s3::types::NotificationConfiguration::builder().build())
            .send()
            .await
            .expect("remove notifications");
    });
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    for doc in [
        "versioning",
        "encryption",
        "public_access_block",
        "ownership",
        "tags",
        "lifecycle",
        "policy",
        "logging",
        "cors",
        "notifications",
        "replication",
    ] {
        assert!(
            text.contains(&format!("~ bucket.data.{doc}")),
            "drift of {doc} not shown:\n{text}"
        );
    }
    assert!(text.contains("block_public_policy: false → true"), "{text}");
    // And these are all drift: the manifest is as it was applied.
    assert_causes(&project, 11, "drift");
    project.apply_ok();
    project.assert_converged();

    // The state records every managed resource with the hash of what was applied.
    let state = project.state();
    let data = state
        .resource(&Address("bucket.data.lifecycle".into()))
        .expect("read state")
        .expect("lifecycle recorded");
    assert_eq!(data.name, format!("{prefix}-data"));
    assert_eq!(data.value_sha256().expect("hash").len(), 64);
}

#[test]
fn saved_plans_apply_exactly_and_stale_plans_are_refused() {
    let project = Project::new("saved");
    let prefix = common::unique_name("saved");
    project.write(&format!(
        "buckets:\n  a:\n    name: {prefix}-a\n    versioning: enabled\n    public_access_block: {{}}\n"
    ));
    let (code, _, stderr) = project.run(&["plan", "-e", "saved", "--out", "plan.json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("s3rec apply plan.json"), "{stderr}");
    let (code, stdout, stderr) = project.run(&["apply", "plan.json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("Apply complete! 3 created"), "{stdout}");
    project.assert_converged();

    // A plan made, then drift: the plan's `before` no longer matches, so it is refused.
    project.write(&format!(
        "buckets:\n  a:\n    name: {prefix}-a\n    versioning: suspended\n    public_access_block: {{}}\n"
    ));
    let (code, _, stderr) = project.run(&["plan", "-e", "saved", "--out", "stale.json"]);
    assert_eq!(code, 0, "{stderr}");
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .put_public_access_block()
            .bucket(format!("{prefix}-a"))
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(false)
                    .build(),
            )
            .send()
            .await
            .expect("drift");
        aws.s3("us-east-1")
            .put_bucket_versioning()
            .bucket(format!("{prefix}-a"))
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await
            .expect("drift");
    });
    let (code, _, stderr) = project.run(&["apply", "stale.json"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the plan is stale"), "{stderr}");
    assert!(stderr.contains("bucket.a.versioning"), "{stderr}");

    // A plan made, then the manifest edited: refused too.
    let (code, _, stderr) = project.run(&["plan", "-e", "saved", "--out", "old.json"]);
    assert_eq!(code, 0, "{stderr}");
    project.write(&format!(
        "buckets:\n  a:\n    name: {prefix}-a\n    versioning: enabled\n"
    ));
    let (code, _, stderr) = project.run(&["apply", "old.json"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("changed since old.json was made"), "{stderr}");
}

/// Issue 12, item 8: `environments/seeds.yaml` saying `environment: acc` was found by `-e seeds` but
/// planned, locked and recorded as `acc`, so its saved plan named a file that does not exist. The file's
/// name is the environment's name: the mismatch is refused before anything runs, and a matching file
/// goes from a saved plan to apply under the one name.
#[test]
fn an_environment_is_named_by_its_file_from_validate_to_a_saved_plan() {
    let project = Project::new("seeds");
    let prefix = common::unique_name("seeds");
    let body = format!("buckets:\n  a:\n    name: {prefix}-a\n    versioning: enabled\n");
    project.write(&body);
    let manifest = project.path("environments/seeds.yaml");
    let text = std::fs::read_to_string(&manifest).expect("read manifest");
    let renamed = text.replacen("environment: seeds\n", "environment: acc\n", 1);
    assert_ne!(renamed, text, "the manifest starts with its environment");
    std::fs::write(&manifest, renamed).expect("write manifest");
    for args in [
        vec!["validate", "-e", "seeds"],
        vec!["validate", "environments/seeds.yaml"],
        vec!["plan", "-e", "seeds", "--out", "plan.json"],
    ] {
        let (code, _, stderr) = project.run(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(stderr.contains("environments/seeds.yaml:1:14"), "{args:?}: {stderr}");
        assert!(stderr.contains("[environment-name]"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("rename the file to acc.yaml, or set `environment: seeds`"),
            "{args:?}: {stderr}"
        );
    }
    assert!(
        !project.path("plan.json").exists(),
        "no plan is written for an invalid manifest"
    );
    assert!(
        !project.path(".s3rec/acc.db").exists(),
        "nothing is recorded under the other name"
    );

    project.write(&body);
    let (code, _, stderr) = project.run(&["plan", "-e", "seeds", "--out", "plan.json"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.path("plan.json")).expect("plan file")).expect("json");
    assert_eq!(plan["environment"], "seeds");
    let (code, stdout, stderr) = project.run(&["apply", "plan.json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        project.path(".s3rec/seeds.db").is_file(),
        "the state is the file's name"
    );
    assert!(!project.path(".s3rec/acc.db").exists());
    assert_eq!(project.state().runs(1).expect("runs")[0].environment, "seeds");
    project.assert_converged();
}

#[test]
fn a_failed_action_skips_its_dependents_and_a_fixed_rerun_converges() {
    let project = Project::new("partial");
    let prefix = common::unique_name("partial");
    let mover = format!("{prefix}-mover");
    // s3rec creates and manages the bucket in eu-west-1; then the manifest wants it in us-east-1: a
    // replace (only ever of a bucket in the state: an unmanaged one is refused, see cli_adopt.rs).
    let rt = common::runtime();
    project.write(&format!(
        "buckets:\n  mover:\n    name: {mover}\n    region: eu-west-1\n    versioning: enabled\n    tags: {{a: b}}\n"
    ));
    project.apply_ok();
    let manifest = format!(
        "buckets:\n  mover:\n    name: {mover}\n    versioning: enabled\n    tags: {{a: b}}\n  other:\n    name: {prefix}-other\n    versioning: enabled\n"
    );
    project.write(&manifest);
    let (code, stdout, stderr) = project.run(&["plan", "-e", "partial", "--out", "plan.json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("-/+ bucket.mover"), "{stdout}");
    // Data arrives after the plan: the replace's delete fails (no force_destroy), so the bucket's
    // documents are skipped, while the independent bucket is still created.
    rt.block_on(async {
        let aws = common::emulator().await;
        aws.s3("eu-west-1")
            .put_object()
            .bucket(&mover)
            .key("arrived-late.txt")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"late"))
            .send()
            .await
            .expect("put object");
    });
    let (code, stdout, stderr) = project.run(&["apply", "plan.json"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("bucket.mover: Replacement FAILED"), "{stderr}");
    assert!(
        stderr.contains("bucket.mover.versioning: skipped because bucket.mover failed"),
        "{stderr}"
    );
    assert!(stderr.contains("bucket.other: Creation complete"), "{stderr}");
    assert!(stdout.contains("Apply failed: 1 failed, 2 skipped"), "{stdout}");

    let state = project.state();
    let last_run = state.runs(1).expect("runs").into_iter().next().expect("a run");
    let journal = state.journal(last_run.id).expect("journal");
    let outcome = |address: &str| {
        journal
            .iter()
            .find(|e| e.address.as_str() == address)
            .map(|e| e.outcome)
            .unwrap_or_else(|| panic!("{address} not journaled: {journal:?}"))
    };
    assert_eq!(outcome("bucket.mover"), Outcome::Failed);
    assert_eq!(outcome("bucket.mover.versioning"), Outcome::Skipped);
    assert_eq!(outcome("bucket.other"), Outcome::Succeeded);
    assert!(
        state
            .resource(&Address("bucket.other".into()))
            .expect("state")
            .is_some()
    );
    assert_eq!(
        state
            .resource(&Address("bucket.mover".into()))
            .expect("state")
            .map(|r| r.region)
            .as_deref(),
        Some("eu-west-1"),
        "the failed replace left the bucket, and the state's record of it, as they were"
    );

    // The fix: allow the replace to empty the bucket. A fresh apply converges.
    project.write(&manifest.replace("    tags: {a: b}\n", "    tags: {a: b}\n    force_destroy: true\n"));
    project.apply_ok();
    project.assert_converged();
}

#[test]
fn removed_buckets_are_forgotten_or_pruned_and_prevent_destroy_blocks() {
    let project = Project::new("prune");
    let prefix = common::unique_name("prune");
    project.write(&format!(
        "buckets:\n  keep:\n    name: {prefix}-keep\n  gone:\n    name: {prefix}-gone\n    prevent_destroy: true\n"
    ));
    project.apply_ok();
    project.write(&format!("buckets:\n  keep:\n    name: {prefix}-keep\n"));
    let (code, text) = project.plan();
    assert_eq!(code, 0, "forgetting is not a change in AWS:\n{text}");
    assert!(text.contains("bucket.gone"), "{text}");

    project.write(&format!(
        "state:\n  prune: true\nbuckets:\n  keep:\n    name: {prefix}-keep\n"
    ));
    let (code, _, stderr) = project.run(&["plan", "-e", "prune"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("prevent_destroy"), "{stderr}");

    // Without the guard (a fresh apply records it off) the bucket is pruned.
    project.write(&format!(
        "buckets:\n  keep:\n    name: {prefix}-keep\n  gone:\n    name: {prefix}-gone\n    prevent_destroy: false\n"
    ));
    project.apply_ok();
    project.write(&format!(
        "state:\n  prune: true\nbuckets:\n  keep:\n    name: {prefix}-keep\n"
    ));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("- bucket.gone"), "{text}");
    project.apply_ok();
    project.assert_converged();
    let exists = common::runtime().block_on(async {
        let aws = common::emulator().await;
        s3rec::aws::read::read_bucket(&aws, &format!("{prefix}-gone"), &[])
            .await
            .expect("read")
    });
    assert!(exists.is_none(), "the pruned bucket still exists");
}

#[test]
fn the_account_guard_refuses_before_any_change() {
    let project = Project::new("guard");
    let prefix = common::unique_name("guard");
    let body = format!("buckets:\n  a:\n    name: {prefix}-a\n");
    let dir = project.dir.path().join("environments");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("guard.yaml"),
        format!(
            "environment: guard\naws:\n  region: us-east-1\n  endpoint_url: {}\n  force_path_style: true\n  account_id: \"999999999999\"\n{body}",
            project.endpoint
        ),
    )
    .expect("write");
    for args in [
        vec!["plan", "-e", "guard"],
        vec!["apply", "-e", "guard", "--auto-approve"],
    ] {
        let (code, _, stderr) = project.run(&args);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("999999999999"), "{stderr}");
        assert!(stderr.contains("123456789012"), "{stderr}");
    }
    let exists = common::runtime().block_on(async {
        let aws = common::emulator().await;
        s3rec::aws::read::read_bucket(&aws, &format!("{prefix}-a"), &[])
            .await
            .expect("read")
    });
    assert!(exists.is_none(), "nothing may be created when the guard refuses");
}

#[test]
fn targets_limit_the_plan_and_apply_needs_approval_without_a_terminal() {
    let project = Project::new("target");
    let prefix = common::unique_name("target");
    project.write(&format!(
        "buckets:\n  a:\n    name: {prefix}-a\n    versioning: enabled\n  b:\n    name: {prefix}-b\n    versioning: enabled\n"
    ));
    let (code, stdout, _) = project.run(&["plan", "-e", "target", "--target", "bucket.a.versioning"]);
    assert_eq!(code, 0);
    // The compact plan: the bucket's block with the targeted document under it.
    assert!(stdout.contains("\n      + versioning: \"enabled\"\n"), "{stdout}");
    assert!(
        stdout.contains("\n  + bucket.a: new bucket "),
        "dependencies come along:\n{stdout}"
    );
    assert!(!stdout.contains("bucket.b"), "{stdout}");
    let (code, _, stderr) = project.run(&["plan", "-e", "target", "--target", "bucket.nope"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--target bucket.nope matches nothing"), "{stderr}");

    let (code, _, stderr) = project.run(&["apply", "-e", "target"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--auto-approve"), "{stderr}");
}

#[test]
fn plan_formats_and_audit_warnings() {
    let project = Project::new("formats");
    let prefix = common::unique_name("formats");
    project.write(&format!(
        "buckets:\n  a:\n    name: {prefix}-a\n    versioning: enabled\n"
    ));
    let (code, stdout, _) = project.run(&["plan", "-e", "formats", "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json plan");
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["environment"], "formats");
    let (code, stdout, _) = project.run(&["plan", "-e", "formats", "--format", "markdown"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("<!-- s3rec-plan:formats -->"), "{stdout}");
    project.apply_ok();

    // Someone opens the bucket by hand; the manifest does not manage the public access block, so the
    // plan changes nothing there, but it reads it and reports it as a live finding (without --audit),
    // once: no `audit:` warning repeats it.
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .put_public_access_block()
            .bucket(format!("{prefix}-a"))
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(false)
                    .build(),
            )
            .send()
            .await
            .expect("open it");
    });
    project.assert_converged();
    for args in [vec!["plan", "-e", "formats"], vec!["plan", "-e", "formats", "--audit"]] {
        let (code, stdout, stderr) = project.run(&args);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains("HIGH     S3REC-S3-004 bucket.a (live)"),
            "{args:?}: {stdout}"
        );
        assert!(stdout.contains("off: block_public_acls"), "{stdout}");
        assert!(!stdout.contains("is not managed by the manifest"), "{stdout}");
    }
}

#[test]
fn apply_asks_for_yes_on_a_terminal() {
    let project = Project::new("prompt");
    let prefix = common::unique_name("prompt");
    project.write(&format!("buckets:\n  a:\n    name: {prefix}-a\n"));
    let bucket_exists = || {
        common::runtime().block_on(async {
            let aws = common::emulator().await;
            s3rec::aws::read::read_bucket(&aws, &format!("{prefix}-a"), &[])
                .await
                .expect("read")
                .is_some()
        })
    };

    let (code, screen) = project.run_on_terminal(&["apply", "-e", "prompt"], "no\n");
    assert!(screen.contains("Only 'yes' will be accepted"), "{screen}");
    assert!(screen.contains("Apply cancelled."), "{screen}");
    assert_eq!(code, 1, "{screen}");
    assert!(!bucket_exists(), "nothing may change without `yes`");

    let (code, screen) = project.run_on_terminal(&["apply", "-e", "prompt"], "yes\n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Apply complete!"), "{screen}");
    assert!(bucket_exists());
}

#[test]
fn the_s3_state_backend_is_refused_until_its_bucket_exists() {
    // The state bucket lives outside the manifest (it holds the state of the manifest that would create
    // it), so s3rec never creates it: a missing one stops plan and apply before anything is read or made.
    let project = Project::new("s3state");
    let prefix = common::unique_name("s3state");
    project.write(&format!(
        "state:\n  backend: s3\n  bucket: {prefix}-state\nbuckets:\n  a:\n    name: {prefix}-a\n"
    ));
    for args in [
        vec!["plan", "-e", "s3state"],
        vec!["apply", "-e", "s3state", "--auto-approve"],
    ] {
        let (code, _, stderr) = project.run(&args);
        let flat = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(code, 1, "{stderr}");
        assert!(
            flat.contains(&format!("{prefix}-state")),
            "the error names the state bucket: {stderr}"
        );
        assert!(flat.contains("NoSuchBucket"), "AWS's own answer is shown: {stderr}");
        assert!(flat.contains("does not exist"), "{stderr}");
        assert!(flat.contains("s3rec never creates it"), "the way out is said: {stderr}");
    }
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        for bucket in [format!("{prefix}-state"), format!("{prefix}-a")] {
            let found = s3rec::aws::read::read_bucket(&aws, &bucket, &[]).await.expect("read");
            assert!(found.is_none(), "{bucket} must not have been created");
        }
    });
}

#[test]
fn a_hand_edited_saved_plan_is_refused_and_nothing_changes() {
    let project = Project::new("sealed");
    let prefix = common::unique_name("sealed");
    project.write(&format!(
        "buckets:\n  a:\n    name: {prefix}-a\n    versioning: enabled\n"
    ));
    let (code, _, stderr) = project.run(&["plan", "-e", "sealed", "--out", "plan.json"]);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(project.path("plan.json")).expect("plan file");
    assert!(text.contains("\"plan_sha256\""), "{text}");
    // The reviewed plan enables versioning; the edited file suspends it.
    assert!(text.contains("\"enabled\""), "{text}");
    std::fs::write(project.path("plan.json"), text.replace("\"enabled\"", "\"suspended\"")).expect("edit");
    let (code, stdout, stderr) = project.run(&["apply", "plan.json"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("was changed after `s3rec plan` wrote it"), "{stderr}");
    assert!(project.state().runs(1).expect("runs").is_empty(), "nothing was run");

    // A file without its digest is refused too; the untouched plan applies.
    let (code, _, _) = project.run(&["plan", "-e", "sealed", "--out", "plan.json"]);
    assert_eq!(code, 0);
    let sealed = std::fs::read_to_string(project.path("plan.json")).expect("plan file");
    let mut value: serde_json::Value = serde_json::from_str(&sealed).expect("json");
    value.as_object_mut().expect("object").remove("plan_sha256");
    std::fs::write(project.path("bare.json"), value.to_string()).expect("write");
    let (code, _, stderr) = project.run(&["apply", "bare.json"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("carries no `plan_sha256`"), "{stderr}");
    let (code, stdout, stderr) = project.run(&["apply", "plan.json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    project.assert_converged();
}

#[test]
fn an_interrupted_action_stops_being_reported_once_a_plan_reads_it_converged() {
    let project = Project::new("interrupted");
    let prefix = common::unique_name("intr");
    project.write(&format!(
        "buckets:\n  a:\n    name: {prefix}-a\n    versioning: enabled\n  b:\n    name: {prefix}-b\n    tags: {{x: y}}\n"
    ));
    project.apply_ok();
    // A run that died during two calls: its entries stay `started`.
    {
        let mut state = project.state();
        let run = state.begin_run("apply", "interrupted", None).expect("run");
        state
            .journal_start(run, &Address("bucket.a.versioning".into()), s3rec::plan::Action::Update)
            .expect("journal");
        state
            .journal_start(run, &Address("bucket.b.tags".into()), s3rec::plan::Action::Update)
            .expect("journal");
    }
    // bucket.b's tags drifted (the interrupted call may have half-written them); bucket.a is as wanted.
    project.write(&format!(
        "buckets:\n  a:\n    name: {prefix}-a\n    versioning: enabled\n  b:\n    name: {prefix}-b\n    tags: {{x: z}}\n"
    ));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(!text.contains("bucket.a.versioning was interrupted"), "{text}");
    assert!(text.contains("bucket.b.tags was interrupted"), "{text}");
    // Settled for good: later plans do not bring it back, and the other one clears once applied.
    let (_, text) = project.plan();
    assert!(!text.contains("bucket.a.versioning was interrupted"), "{text}");
    project.apply_ok();
    let (code, text) = project.plan();
    assert_eq!(code, 0, "{text}");
    // "was interrupted", not the bare word: the environment (and so the file the plan's findings
    // point into) is called `interrupted`.
    assert!(!text.contains("was interrupted"), "{text}");
}
