//! The plan as a reviewer reads it, through the real binary against the moto emulator: the compact
//! default (one block per bucket), `--detail full`, and the cause of each change (drift made in AWS
//! with another client, an edit of the manifest, or both) in text, JSON and markdown.

mod common;
#[path = "common/project.rs"]
mod project;

use std::collections::BTreeMap;

use project::Project;

fn manifest(prefix: &str, lifecycle_days: u32, logs_team: &str) -> String {
    format!(
        "buckets:
  data:
    name: {prefix}-data
    versioning: enabled
    tags:
      team: data
    lifecycle:
      - id: tier
        filter:
          prefix: tmp/
        expiration:
          days: {lifecycle_days}
  logs:
    name: {prefix}-logs
    tags:
      team: {logs_team}
"
    )
}

async fn retag(bucket: &str, team: &str) {
    let aws = common::emulator().await;
    aws.s3("us-east-1")
        .put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key("team")
                        .value(team)
                        .build()
                        .expect("a tag"),
                )
                .build()
                .expect("a tag set"),
        )
        .send()
        .await
        .expect("retag the bucket with another client");
}

#[test]
fn compact_plan_with_drift_and_edit_labels_in_every_format() {
    let project = Project::new("view");
    let prefix = common::unique_name("view");
    project.write(&manifest(&prefix, 7, "logs"));

    // A first plan: each bucket is one block, its documents one line each, and nothing has a cause
    // (the state holds nothing yet).
    let (code, text, stderr) = project.run(&["plan", "-e", "view", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{text}\n{stderr}");
    assert!(
        text.contains(&format!(
            "\n  + bucket.data: new bucket \"{prefix}-data\" in us-east-1\n"
        )),
        "{text}"
    );
    assert!(text.contains("\n      + versioning: \"enabled\"\n"), "{text}");
    assert!(
        text.contains("\n      + lifecycle rules[tier]: enabled = true, prefix = \"tmp/\", expiration_days = 7\n"),
        "{text}"
    );
    assert!(!text.contains("# bucket.data.versioning will be created"), "{text}");
    assert!(!text.contains("[edit]") && !text.contains("[drift]"), "{text}");
    let (code, full, stderr) = project.run(&["plan", "-e", "view", "--detail", "full"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(full.contains("  # bucket.data.versioning will be created\n"), "{full}");
    assert!(
        text.lines().count() < full.lines().count(),
        "compact:\n{text}\nfull:\n{full}"
    );
    project.apply_ok();
    project.assert_converged();

    // Someone retags both buckets in the console; the pull request changes a lifecycle rule and the
    // logs bucket's tags.
    common::runtime().block_on(async {
        retag(&format!("{prefix}-data"), "console").await;
        retag(&format!("{prefix}-logs"), "console").await;
    });
    project.write(&manifest(&prefix, 30, "platform"));

    let (code, text, stderr) = project.run(&["plan", "-e", "view", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{text}\n{stderr}");
    for line in [
        format!("\n  ~ bucket.data ({prefix}-data)\n"),
        "\n      ~ lifecycle  [edit]\n          ~ rules[tier].expiration_days: 7 → 30\n".to_string(),
        "\n      ~ tags  [drift]\n          ~ tags.team: \"console\" → \"data\"\n".to_string(),
        format!("\n  ~ bucket.logs ({prefix}-logs)\n"),
        "\n      ~ tags  [drift + edit]\n          ~ tags.team: \"console\" → \"platform\"\n".to_string(),
        "[edit]: the manifest changed since s3rec last applied this; [drift]: AWS changed outside s3rec".to_string(),
        "\nPlan: 0 to create, 3 to update, 0 to replace, 0 to destroy. 2 of these changes undo drift (changes made in AWS outside s3rec).\n".to_string(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }

    let (code, full, stderr) = project.run(&["plan", "-e", "view", "--detail", "full"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        full.contains("  # bucket.data.tags will be updated in-place [drift]\n"),
        "{full}"
    );
    assert!(
        full.contains("  # bucket.logs.tags will be updated in-place [drift + edit]\n"),
        "{full}"
    );

    let (code, json, stderr) = project.run(&["plan", "-e", "view", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let document: serde_json::Value = serde_json::from_str(&json).expect("a JSON plan");
    assert_eq!(document["summary"]["drift"], 2, "{json}");
    let causes: BTreeMap<String, String> = document["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["cause"].as_str().unwrap_or("none").to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("bucket.data.lifecycle", "edit"),
        ("bucket.data.tags", "drift"),
        ("bucket.logs.tags", "drift_and_edit"),
    ]
    .into_iter()
    .map(|(a, c)| (a.to_string(), c.to_string()))
    .collect();
    assert_eq!(causes, expected, "{json}");

    let (code, markdown, stderr) = project.run(&["plan", "-e", "view", "--format", "markdown"]);
    assert_eq!(code, 0, "{stderr}");
    for row in [
        "| `~` update (edit) | `bucket.data.lifecycle` |",
        "| `~` update (drift) | `bucket.data.tags` |",
        "| `~` update (drift + edit) | `bucket.logs.tags` |",
    ] {
        assert!(markdown.contains(row), "missing {row} in:\n{markdown}");
    }

    project.apply_ok();
    project.assert_converged();
}
