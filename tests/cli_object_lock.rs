//! Object Lock end to end against the emulator: enabled on a new versioned bucket, its default
//! retention updated (days 1 → 3, GOVERNANCE → COMPLIANCE), drift made with another client reverted,
//! an empty second plan each time; the irreversible markers in text, JSON and markdown plans; the
//! validation errors; and `import` writing the section back.

mod common;
#[path = "common/project.rs"]
mod project;

use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
};
use common::flat;
use project::Project;

fn manifest(env: &str, retention: &str) -> String {
    format!(
        "buckets:\n  vault:\n    name: {env}-vault\n    versioning: enabled\n    object_lock:\n      enabled: true\n{retention}"
    )
}

fn retention(mode: &str, period: &str) -> String {
    format!("      default_retention:\n        mode: {mode}\n        {period}\n")
}

/// The live Object Lock configuration: (enabled, mode, days, years).
fn live(bucket: &str) -> (Option<String>, Option<String>, Option<i32>, Option<i32>) {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let out = aws
            .s3("us-east-1")
            .get_object_lock_configuration()
            .bucket(bucket)
            .send()
            .await
            .expect("read the Object Lock configuration");
        let config = out.object_lock_configuration().expect("a configuration");
        let retention = config.rule().and_then(|r| r.default_retention());
        (
            config.object_lock_enabled().map(|e| e.as_str().to_string()),
            retention.and_then(|r| r.mode()).map(|m| m.as_str().to_string()),
            retention.and_then(|r| r.days()).filter(|d| *d > 0),
            retention.and_then(|r| r.years()).filter(|y| *y > 0),
        )
    })
}

#[test]
fn object_lock_is_created_updated_and_drift_reverted_with_irreversible_markers() {
    let project = Project::new(&common::unique_name("olock"));
    let bucket = format!("{}-vault", project.env);
    project.write(&manifest(&project.env, &retention("GOVERNANCE", "days: 1")));

    // Create from nothing: enabling is marked irreversible in every format, and waits for versioning.
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("bucket.vault.object_lock will be created"), "{text}");
    assert!(
        text.contains("# IRREVERSIBLE: Object Lock cannot be disabled once enabled"),
        "{text}"
    );
    let (code, json, stderr) = project.run(&["plan", "-e", &project.env, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&json).expect("JSON plan");
    let changes = plan["changes"].as_array().expect("changes");
    let lock = changes
        .iter()
        .find(|c| c["address"] == "bucket.vault.object_lock")
        .expect("the Object Lock change");
    assert_eq!(lock["irreversible"], "Object Lock cannot be disabled once enabled");
    assert!(
        changes
            .iter()
            .filter(|c| c["address"] != "bucket.vault.object_lock")
            .all(|c| c.get("irreversible").is_none()),
        "{json}"
    );
    assert!(
        plan["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .any(|e| e["before"] == "bucket.vault.versioning" && e["after"] == "bucket.vault.object_lock"),
        "Object Lock must wait for versioning: {json}"
    );
    let (code, markdown, stderr) = project.run(&["plan", "-e", &project.env, "--format", "markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        markdown.contains("**IRREVERSIBLE:** Object Lock cannot be disabled once enabled"),
        "{markdown}"
    );

    project.apply_ok();
    assert_eq!(
        live(&bucket),
        (Some("Enabled".into()), Some("GOVERNANCE".into()), Some(1), None)
    );
    project.assert_converged();

    // Update: days 1 → 3 is reversible, GOVERNANCE → COMPLIANCE is allowed too.
    project.write(&manifest(&project.env, &retention("GOVERNANCE", "days: 3")));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("bucket.vault.object_lock will be updated in-place"),
        "{text}"
    );
    assert!(!text.contains("IRREVERSIBLE"), "{text}");
    project.apply_ok();
    assert_eq!(live(&bucket).2, Some(3));
    project.assert_converged();

    project.write(&manifest(&project.env, &retention("COMPLIANCE", "days: 3")));
    project.apply_ok();
    assert_eq!(
        live(&bucket),
        (Some("Enabled".into()), Some("COMPLIANCE".into()), Some(3), None)
    );
    project.assert_converged();

    // Shortening COMPLIANCE retention is marked: objects already written keep theirs.
    project.write(&manifest(&project.env, &retention("COMPLIANCE", "days: 1")));
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(
        flat(&text).contains("IRREVERSIBLE: shortens the COMPLIANCE default retention from 3 days to 1 day"),
        "{text}"
    );
    project.write(&manifest(&project.env, &retention("COMPLIANCE", "days: 3")));
    project.assert_converged();

    // Drift made with another client: the plan shows the update and apply reverts it.
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .put_object_lock_configuration()
            .bucket(&bucket)
            .object_lock_configuration(
                ObjectLockConfiguration::builder()
                    .object_lock_enabled(ObjectLockEnabled::Enabled)
                    .rule(
                        ObjectLockRule::builder()
                            .default_retention(
                                DefaultRetention::builder()
                                    .mode(ObjectLockRetentionMode::Governance)
                                    .years(1)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("drift the Object Lock configuration");
    });
    let (code, text) = project.plan();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("bucket.vault.object_lock will be updated in-place"),
        "{text}"
    );
    project.apply_ok();
    assert_eq!(
        live(&bucket),
        (Some("Enabled".into()), Some("COMPLIANCE".into()), Some(3), None)
    );
    project.assert_converged();

    // Import writes the section back from the live bucket.
    let (code, yaml, stderr) = project.run(&["import", "-e", &project.env, &bucket]);
    assert_eq!(code, 0, "{stderr}");
    let imported = flat(&yaml);
    assert!(
        imported.contains("object_lock: enabled: true default_retention: mode: COMPLIANCE days: 3"),
        "{yaml}"
    );
}

#[test]
fn object_lock_without_versioning_or_with_days_and_years_is_refused() {
    let project = Project::new(&common::unique_name("olockbad"));
    project.write(&format!(
        "buckets:\n  vault:\n    name: {}-vault\n    object_lock:\n      enabled: true\n      default_retention:\n        mode: COMPLIANCE\n        days: 1\n        years: 1\n",
        project.env
    ));
    let (code, stdout, stderr) = project.run(&["validate", "-e", &project.env]);
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    let out = flat(&format!("{stdout}\n{stderr}"));
    assert!(
        out.contains("`object_lock` needs `versioning: enabled` on the bucket"),
        "{out}"
    );
    assert!(out.contains("add `versioning: enabled` to the bucket"), "{out}");
    assert!(
        out.contains("a default retention has exactly one of `days` or `years`"),
        "{out}"
    );
    // Each problem is placed at file:line:col.
    assert!(out.contains(&format!("{}.yaml:9:", project.env)), "{out}");
    assert!(out.contains(&format!("{}.yaml:11:", project.env)), "{out}");
}
