//! Run reports end to end: `apply` publishes one SNS message per run when the manifest has `report:`,
//! read back here from an SQS queue subscribed to the topic (moto delivers SNS to SQS); and a report
//! that cannot be published is a warning that changes neither the exit code nor the recorded outcome.
//!
//! In test (a) the same apply creates the topic, its SQS subscription and a bucket, then reports; test
//! (b) limits its apply with `--target` to one bucket, so that the report topic stays missing; test (c)
//! reports a `migrate run` with its per-migration counts.

mod common;
#[path = "common/project.rs"]
mod project;
#[path = "common/queue.rs"]
mod queue;

use project::Project;
use queue::{queue, receive_all};
use serde_json::Value;

/// The account moto reports for every caller.
const MOTO_ACCOUNT: &str = "123456789012";

/// The counts of `Apply complete! 1 created, 0 updated, 0 replaced, 0 destroyed in 0.1s.`
#[track_caller]
fn applied_counts(stdout: &str) -> [u64; 4] {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Apply complete! "))
        .unwrap_or_else(|| panic!("no `Apply complete!` in:\n{stdout}"));
    let numbers: Vec<u64> = line
        .split(", ")
        .map(|part| {
            part.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a count: {part}"))
        })
        .collect();
    [numbers[0], numbers[1], numbers[2], numbers[3]]
}

#[test]
fn apply_publishes_one_report_per_run_with_environment_and_counts() {
    let rt = common::runtime();
    let project = Project::new("rep");
    let prefix = common::unique_name("report");
    let (queue_url, queue_arn) = rt.block_on(queue(&format!("{prefix}-q")));
    // The apply creates the topic and the queue's subscription, then the bucket, then reports.
    project.write(&format!(
        "sns:\n  topics:\n    runs:\n      name: {prefix}-runs\n      subscriptions:\n        - {{protocol: sqs, endpoint: \"{queue_arn}\"}}\nreport: {{topic: runs, on: [apply]}}\nbuckets:\n  data:\n    name: {prefix}-data\n    versioning: enabled\n"
    ));

    let (code, stdout, stderr) = project.run(&["apply", "-e", "rep", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("sns_topic.runs.subscriptions: Creation complete"),
        "{stderr}"
    );
    assert!(stderr.contains("Run report sent to SNS topic `runs`"), "{stderr}");
    let [created, updated, replaced, deleted] = applied_counts(&stdout);
    assert!(
        created >= 5,
        "the topic, its policy and subscription, the bucket and its versioning: {stdout}"
    );

    let messages = rt.block_on(receive_all(&queue_url));
    assert_eq!(messages.len(), 1, "one message per run: {messages:#?}");
    let envelope = &messages[0];
    let mut expected_subject = format!("s3rec apply rep: succeeded ({created} created");
    if updated > 0 {
        expected_subject.push_str(&format!(", {updated} updated"));
    }
    expected_subject.push(')');
    assert_eq!(envelope["Subject"], expected_subject.as_str(), "{envelope:#}");
    let text = envelope["Message"].as_str().expect("Message");
    assert!(
        text.starts_with("s3rec apply of environment rep succeeded.\n"),
        "{text}"
    );
    assert!(text.contains("\nEnvironment: rep\n"), "{text}");
    assert!(text.contains(&format!("\nAccount:     {MOTO_ACCOUNT}\n")), "{text}");
    assert!(
        text.contains(&format!(
            "\nChanges:     {created} created, {updated} updated, {replaced} replaced, {deleted} deleted\n"
        )),
        "{text}"
    );

    let (_, json) = text
        .split_once(&format!("\n{}\n", s3rec::report::JSON_MARKER))
        .unwrap_or_else(|| panic!("no JSON part in:\n{text}"));
    let report: Value = serde_json::from_str(json).expect("the JSON part parses");
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["command"], "apply");
    assert_eq!(report["environment"], "rep");
    assert_eq!(report["account"], MOTO_ACCOUNT);
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(report["counts"]["created"], created);
    assert_eq!(report["counts"]["updated"], updated);
    assert_eq!(report["counts"]["failed"], 0);
    assert_eq!(report["counts"]["skipped"], 0);
    assert_eq!(report["failures"], serde_json::json!([]));
    // The run id is the one the state recorded, so `s3rec state journal --run ID` finds it.
    let run_id = report["run_id"].as_i64().expect("run_id");
    let (code, journal, stderr) = project.run(&["state", "journal", "-e", "rep", "--run", &run_id.to_string()]);
    assert_eq!(code, 0, "{journal}\n{stderr}");
    assert!(journal.contains(&format!("run {run_id}: apply -e rep")), "{journal}");
    assert!(journal.contains("succeeded at"), "{journal}");

    // Nothing to change: no run, so no message.
    let (code, stdout, stderr) = project.run(&["apply", "-e", "rep", "--auto-approve"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("No changes."), "{stdout}");
    assert!(!stderr.contains("Run report"), "{stderr}");
    let messages = rt.block_on(receive_all(&queue_url));
    assert!(messages.is_empty(), "no run, no message: {messages:#?}");
}

#[test]
fn a_report_that_cannot_be_published_is_a_warning_not_a_failed_run() {
    let project = Project::new("norep");
    let prefix = common::unique_name("report-gone");
    // The report topic is never created: the apply below is limited to the bucket, so nothing makes it.
    project.write(&format!(
        "sns:\n  topics:\n    gone:\n      name: {prefix}-gone\nreport: {{topic: gone}}\nbuckets:\n  data:\n    name: {prefix}-data\n"
    ));

    let (code, stdout, stderr) = project.run(&["apply", "-e", "norep", "--auto-approve", "--target", "bucket.data"]);
    assert_eq!(code, 0, "a failed report must not fail apply:\n{stdout}\n{stderr}");
    assert!(stdout.contains("Apply complete! 1 created"), "{stdout}");
    let topic_arn = format!("arn:aws:sns:us-east-1:{MOTO_ACCOUNT}:{prefix}-gone");
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("warning: the run report was not sent"))
        .unwrap_or_else(|| panic!("no warning in:\n{stderr}"));
    assert!(warning.contains("SNS topic `gone`"), "{warning}");
    assert!(warning.contains(&topic_arn), "{warning}");
    assert!(warning.contains("Publish"), "{warning}");
    // The warning is not data: stdout has no trace of it.
    assert!(!stdout.contains("warning"), "{stdout}");

    let (code, journal, stderr) = project.run(&["state", "journal", "-e", "norep"]);
    assert_eq!(code, 0, "{journal}\n{stderr}");
    assert!(journal.contains("apply -e norep"), "{journal}");
    assert!(journal.contains("succeeded at"), "the run stays succeeded:\n{journal}");
}

#[test]
fn a_migrate_run_reports_its_migrations() {
    let rt = common::runtime();
    let project = Project::new("repmig");
    let prefix = common::unique_name("reportmig");
    let (queue_url, queue_arn) = rt.block_on(queue(&format!("{prefix}-q")));
    project.write(&format!(
        "sns:\n  topics:\n    runs:\n      name: {prefix}-runs\n      subscriptions:\n        - {{protocol: sqs, endpoint: \"{queue_arn}\"}}\nreport: {{topic: runs, on: [migrate]}}\nbuckets:\n  old:\n    name: {prefix}-old\nmigrations:\n  retire:\n    bucket: old\n    destination: archive\n"
    ));
    project.apply_ok();
    assert!(
        rt.block_on(receive_all(&queue_url)).is_empty(),
        "apply is not reported here"
    );
    rt.block_on(async {
        let aws = common::emulator().await;
        for key in ["a.txt", "b/c.txt"] {
            aws.s3(common::TEST_REGION)
                .put_object()
                .bucket(format!("{prefix}-old"))
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"data"))
                .send()
                .await
                .expect("put");
        }
    });

    let (code, stdout, stderr) = project.run(&["migrate", "-e", "repmig", "run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let messages = rt.block_on(receive_all(&queue_url));
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["Subject"], "s3rec migrate repmig: succeeded (2 downloaded)");
    let text = messages[0]["Message"].as_str().expect("Message");
    let (_, json) = text
        .split_once(&format!("\n{}\n", s3rec::report::JSON_MARKER))
        .unwrap_or_else(|| panic!("no JSON part in:\n{text}"));
    let report: Value = serde_json::from_str(json).expect("the JSON part parses");
    assert_eq!(report["command"], "migrate");
    assert_eq!(report["migrations"][0]["migration"], "retire");
    assert_eq!(report["migrations"][0]["phase"], "done");
    assert_eq!(report["migrations"][0]["downloaded"], 2);
    assert_eq!(report["migrations"][0]["verified"], 2);

    // `status` and `verify` are not runs: no message.
    let (code, _, _) = project.run(&["migrate", "-e", "repmig", "verify"]);
    assert_eq!(code, 0);
    assert!(rt.block_on(receive_all(&queue_url)).is_empty());
}
