//! `s3rec state list|show|journal` on a temporary project whose state database is filled through the
//! library, the way `apply` fills it.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use s3rec::model::{Doc, DocKind, VersioningState};
use s3rec::plan::{Action, Address, Value};
use s3rec::state::{Outcome, ResourceRecord, RunId, RunOutcome, StateDb};

const MANIFEST: &str = "environment: dev\nbuckets:\n  logs:\n    name: logs-${env}\n    versioning: enabled\n";

fn project(manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("environments")).expect("mkdir");
    std::fs::write(dir.path().join("environments/dev.yaml"), manifest).expect("write manifest");
    dir
}

fn record(address: Address, value: Value, applied_at: &str, run: Option<RunId>) -> ResourceRecord {
    let mut r = ResourceRecord::new(address, "logs-dev", "eu-west-1", value, run);
    r.applied_at = applied_at.to_string();
    r
}

/// Two runs: run 1 finished with a success, a failure and a skip; run 2 died during an action.
fn populate(db_path: &Path) -> (RunId, RunId) {
    let mut db = StateDb::open(db_path).expect("open state");
    let first = db.begin_run("apply", "dev", Some(&"ab".repeat(32))).expect("begin run");
    let logs = Address::bucket("logs");
    let versioning = Address::bucket_doc("logs", DocKind::Versioning);
    let tags = Address::bucket_doc("logs", DocKind::Tags);
    let created = db.journal_start(first, &logs, Action::Create).expect("start");
    db.journal_finish(created, Outcome::Succeeded, None).expect("finish");
    db.upsert_resource(&record(
        logs.clone(),
        Value::Bucket {
            name: "logs-dev".to_string(),
            region: "eu-west-1".to_string(),
        },
        "2025-01-02T03:04:05.000Z",
        Some(first),
    ))
    .expect("record bucket");
    let put = db.journal_start(first, &versioning, Action::Update).expect("start");
    db.journal_finish(put, Outcome::Succeeded, None).expect("finish");
    db.upsert_resource(&record(
        versioning,
        Value::Doc(Doc::Versioning(VersioningState::Enabled)),
        "2025-01-02T03:04:06.000Z",
        Some(first),
    ))
    .expect("record versioning");
    let failed = db.journal_start(first, &tags, Action::Update).expect("start");
    db.journal_finish(failed, Outcome::Failed, Some("AccessDenied: s3:PutBucketTagging"))
        .expect("finish");
    db.journal_skip(
        first,
        &Address::bucket_doc("logs", DocKind::Policy),
        Action::Update,
        "bucket.logs.tags failed",
    )
    .expect("skip");
    db.finish_run(first, RunOutcome::Failed).expect("finish run");

    let second = db.begin_run("apply", "dev", None).expect("begin run");
    db.journal_start(second, &tags, Action::Update).expect("start");
    // No finish: the process "crashed" during the call.
    (first, second)
}

fn s3rec(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("s3rec").expect("binary");
    cmd.current_dir(dir).env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run s3rec");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{text}"))
}

#[test]
fn list_prints_a_table_of_managed_resources() {
    let dir = project(MANIFEST);
    populate(&dir.path().join(".s3rec/dev.db"));
    let (code, stdout, stderr) = output(s3rec(dir.path()).args(["state", "list", "-e", "dev"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "\
ADDRESS                 KIND               NAME      REGION     APPLIED AT
bucket.logs             bucket             logs-dev  eu-west-1  2025-01-02T03:04:05.000Z
bucket.logs.versioning  bucket_versioning  logs-dev  eu-west-1  2025-01-02T03:04:06.000Z
"
    );
    assert_eq!(stderr, "");
}

#[test]
fn list_as_json_has_every_field_but_the_value() {
    let dir = project(MANIFEST);
    let (first, _) = populate(&dir.path().join(".s3rec/dev.db"));
    let (code, stdout, stderr) = output(s3rec(dir.path()).args(["state", "-e", "dev", "list", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let doc = json(&stdout);
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["environment"], "dev");
    assert_eq!(doc["state"], ".s3rec/dev.db");
    let resources = doc["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 2);
    assert_eq!(resources[0]["address"], "bucket.logs");
    assert_eq!(resources[0]["kind"], "bucket");
    assert_eq!(resources[0]["name"], "logs-dev");
    assert_eq!(resources[0]["region"], "eu-west-1");
    assert_eq!(resources[0]["run_id"], first.0);
    assert_eq!(resources[0]["force_destroy"], false);
    assert!(resources[0].get("value").is_none());
    assert_eq!(resources[1]["address"], "bucket.logs.versioning");
}

#[test]
fn show_prints_the_recorded_value_and_its_metadata() {
    let dir = project(MANIFEST);
    populate(&dir.path().join(".s3rec/dev.db"));
    let (code, stdout, stderr) =
        output(s3rec(dir.path()).args(["state", "show", "bucket.logs.versioning", "-e", "dev"]));
    assert_eq!(code, 0, "{stderr}");
    for line in [
        "address:         bucket.logs.versioning",
        "kind:            bucket_versioning",
        "applied_at:      2025-01-02T03:04:06.000Z",
        "run:             1",
        "value_sha256:    ",
        "\"kind\": \"versioning\"",
        "\"value\": \"enabled\"",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }

    let (code, stdout, stderr) = output(s3rec(dir.path()).args([
        "state",
        "show",
        "bucket.logs.versioning",
        "-e",
        "dev",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let doc = json(&stdout);
    assert_eq!(doc["address"], "bucket.logs.versioning");
    assert_eq!(
        doc["value"],
        serde_json::json!({"type": "doc", "value": {"kind": "versioning", "value": "enabled"}})
    );
    let sha = doc["value_sha256"].as_str().expect("sha");
    assert_eq!(sha.len(), 64);
    assert!(sha.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn show_of_an_unmanaged_address_says_where_to_look() {
    let dir = project(MANIFEST);
    populate(&dir.path().join(".s3rec/dev.db"));
    let (code, stdout, stderr) = output(s3rec(dir.path()).args(["state", "show", "bucket.web", "-e", "dev"]));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("no resource bucket.web in the state of dev; `s3rec state list -e dev` shows what is managed"),
        "{stderr}"
    );
}

#[test]
fn journal_shows_the_last_run_and_flags_an_interrupted_action() {
    let dir = project(MANIFEST);
    let (_, second) = populate(&dir.path().join(".s3rec/dev.db"));
    let (code, stdout, stderr) = output(s3rec(dir.path()).args(["state", "journal", "-e", "dev"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!("run {second}: apply -e dev, started ")),
        "{stdout}"
    );
    assert!(stdout.contains("unfinished"), "{stdout}");
    assert!(stdout.contains("started  update  bucket.logs.tags"), "{stdout}");
    assert!(stdout.contains("may be half-done"), "{stdout}");
    assert!(!stdout.contains("run 1:"), "only the last run by default:\n{stdout}");
}

#[test]
fn journal_of_a_given_run_shows_outcomes_errors_and_reasons() {
    let dir = project(MANIFEST);
    let (first, _) = populate(&dir.path().join(".s3rec/dev.db"));
    let (code, stdout, stderr) =
        output(s3rec(dir.path()).args(["state", "journal", "-e", "dev", "--run", &first.to_string()]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(", failed at "), "{stdout}");
    assert!(stdout.contains(&format!("plan sha256 {}", "ab".repeat(32))), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let actions: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("  ") && !l.starts_with("      "))
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        actions,
        [
            "succeeded create bucket.logs",
            "succeeded update bucket.logs.versioning",
            "failed update bucket.logs.tags",
            "skipped update bucket.logs.policy",
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains("      error: AccessDenied: s3:PutBucketTagging"),
        "{stdout}"
    );
    assert!(stdout.contains("      reason: bucket.logs.tags failed"), "{stdout}");
    assert!(
        stdout.contains(" ms") || stdout.contains(" s"),
        "timings shown:\n{stdout}"
    );
}

#[test]
fn journal_as_json_lists_recent_runs_newest_first() {
    let dir = project(MANIFEST);
    let (first, second) = populate(&dir.path().join(".s3rec/dev.db"));
    let (code, stdout, stderr) =
        output(s3rec(dir.path()).args(["state", "journal", "-e", "dev", "--limit", "5", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let doc = json(&stdout);
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["id"], second.0);
    assert_eq!(runs[0]["outcome"], serde_json::Value::Null);
    assert_eq!(runs[0]["entries"][0]["outcome"], "started");
    assert_eq!(runs[1]["id"], first.0);
    assert_eq!(runs[1]["outcome"], "failed");
    let entries = runs[1]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[2]["message"], "AccessDenied: s3:PutBucketTagging");
    assert!(entries[0]["duration_ms"].is_i64());
}

#[test]
fn journal_of_an_unknown_run_fails() {
    let dir = project(MANIFEST);
    populate(&dir.path().join(".s3rec/dev.db"));
    let (code, _, stderr) = output(s3rec(dir.path()).args(["state", "journal", "-e", "dev", "--run", "99"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no run 99 in the state of dev"), "{stderr}");
}

#[test]
fn a_missing_database_is_reported_and_not_created() {
    let dir = project(MANIFEST);
    let (code, stdout, stderr) = output(s3rec(dir.path()).args(["state", "list", "-e", "dev"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("no state for dev yet"), "{stderr}");
    assert!(
        !dir.path().join(".s3rec").exists(),
        "reading must not create the database"
    );

    let (code, _, stderr) = output(s3rec(dir.path()).args(["state", "show", "bucket.logs", "-e", "dev"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no resource bucket.logs in the state of dev"),
        "{stderr}"
    );
}

#[test]
fn state_path_from_the_manifest_is_honoured_from_a_subdirectory() {
    let dir = project(&format!("{MANIFEST}state:\n  path: var/dev-state.sqlite\n"));
    populate(&dir.path().join("var/dev-state.sqlite"));
    std::fs::create_dir_all(dir.path().join("sub/dir")).expect("mkdir");
    let (code, stdout, stderr) = output(s3rec(&dir.path().join("sub/dir")).args(["state", "list", "-e", "dev"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("bucket.logs.versioning"), "{stdout}");
    assert!(!dir.path().join(".s3rec").exists());
}

#[test]
fn a_manifest_with_errors_is_refused() {
    let dir = project("environment: dev\nbuckets:\n  logs:\n    versoning: enabled\n");
    let (code, stdout, stderr) = output(s3rec(dir.path()).args(["state", "list", "-e", "dev"]));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(stderr.contains("s3rec validate -e dev"), "{stderr}");
}

#[test]
fn a_state_from_a_newer_s3rec_is_refused() {
    let dir = project(MANIFEST);
    let path = dir.path().join(".s3rec/dev.db");
    populate(&path);
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.pragma_update(None, "user_version", 9999).expect("bump");
    drop(conn);
    let (code, _, stderr) = output(s3rec(dir.path()).args(["state", "list", "-e", "dev"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("upgrade s3rec"), "{stderr}");
}

#[test]
fn the_environment_is_required() {
    let dir = project(MANIFEST);
    let (code, _, stderr) = output(s3rec(dir.path()).args(["state", "list"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("-e ENV"), "{stderr}");
}

#[test]
fn a_map_valued_document_round_trips_through_show() {
    // A document value with a map round-trips through the CLI's JSON unchanged.
    let dir = project(MANIFEST);
    let path = dir.path().join(".s3rec/dev.db");
    let db = StateDb::open(&path).expect("open");
    let tags = BTreeMap::from([("b".to_string(), "2".to_string()), ("a".to_string(), "1".to_string())]);
    db.upsert_resource(&record(
        Address::bucket_doc("logs", DocKind::Tags),
        Value::Doc(Doc::Tags(tags)),
        "2025-01-01T00:00:00.000Z",
        None,
    ))
    .expect("record");
    drop(db);
    let (code, stdout, stderr) =
        output(s3rec(dir.path()).args(["state", "show", "bucket.logs.tags", "-e", "dev", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let doc = json(&stdout);
    assert_eq!(doc["value"]["value"]["value"], serde_json::json!({"a": "1", "b": "2"}));
    assert_eq!(doc["run_id"], serde_json::Value::Null);
}
