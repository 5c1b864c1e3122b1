//! Unit tests of the state database on real files in a temporary directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::migrations::{APPLICATION_ID, latest_version};
use super::*;
use crate::model::{Doc, DocKind, VersioningState};
use crate::plan::Action;

fn bucket(logical: &str, name: &str) -> ResourceRecord {
    ResourceRecord::new(
        Address::bucket(logical),
        name,
        "eu-west-1",
        Value::Bucket {
            name: name.to_string(),
            region: "eu-west-1".to_string(),
        },
        None,
    )
}

fn tags_doc(logical: &str, name: &str) -> ResourceRecord {
    let tags = BTreeMap::from([("team".to_string(), "platform".to_string())]);
    ResourceRecord::new(
        Address::bucket_doc(logical, DocKind::Tags),
        name,
        "eu-west-1",
        Value::Doc(Doc::Tags(tags)),
        None,
    )
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).expect("raw connection")
}

#[test]
fn state_path_defaults_to_the_environment_file_under_dot_s3rec() {
    let root = Path::new("/project");
    let mut settings = StateSettings::default();
    assert_eq!(
        state_path(root, "prod", &settings),
        Path::new("/project/.s3rec/prod.db")
    );
    settings.path = Some("state/prod.sqlite".to_string());
    assert_eq!(
        state_path(root, "prod", &settings),
        Path::new("/project/state/prod.sqlite")
    );
    settings.path = Some("/var/lib/s3rec/prod.db".to_string());
    assert_eq!(state_path(root, "prod", &settings), Path::new("/var/lib/s3rec/prod.db"));
}

#[test]
fn open_creates_the_directory_and_migrates_an_empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(".s3rec").join("dev.db");
    let db = StateDb::open(&path).expect("open");
    assert_eq!(db.schema_version().expect("version"), latest_version());
    assert!(db.resources().expect("resources").is_empty());
    assert!(db.runs(10).expect("runs").is_empty());
    drop(db);

    let conn = raw(&path);
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("application_id");
    assert_eq!(app_id, APPLICATION_ID);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        tables,
        [
            "journal",
            "meta",
            "migration_buckets",
            "migration_objects",
            "resources",
            "runs",
            "sync_index",
            "sync_parts",
            "sync_upload_intents",
            "sync_uploads"
        ]
    );
}

#[test]
fn reopening_is_idempotent_and_keeps_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.db");
    let record = bucket("logs", "logs-dev");
    {
        let db = StateDb::open(&path).expect("first open");
        db.upsert_resource(&record).expect("upsert");
    }
    for _ in 0..2 {
        let db = StateDb::open(&path).expect("reopen");
        assert_eq!(db.schema_version().expect("version"), latest_version());
        assert_eq!(db.resources().expect("resources"), vec![record.clone()]);
    }
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.db");
    drop(StateDb::open(&path).expect("open"));
    let newer = latest_version() + 1;
    raw(&path)
        .pragma_update(None, "user_version", newer)
        .expect("bump version");

    let err = StateDb::open(&path).expect_err("newer schema must be refused");
    assert!(
        matches!(err, StateError::SchemaTooNew { found, supported, .. } if found == newer && supported == latest_version()),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade s3rec"), "{err}");
    let version: u32 = raw(&path)
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, newer);
}

#[test]
fn other_files_are_not_taken_over() {
    let dir = tempfile::tempdir().expect("tempdir");

    let text = dir.path().join("notes.db");
    std::fs::write(
        &text,
        "these are not the tables you are looking for, and this is long enough to be a header",
    )
    .expect("write");
    let err = StateDb::open(&text).expect_err("a text file is not a database");
    assert!(matches!(err, StateError::NotStateDb { .. }), "{err:?}");

    let foreign = dir.path().join("app.db");
    raw(&foreign)
        .execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        .expect("foreign table");
    let err = StateDb::open(&foreign).expect_err("someone else's database");
    assert!(matches!(err, StateError::NotStateDb { .. }), "{err:?}");
    assert!(err.to_string().contains("state.path"), "{err}");
    let mode: String = raw(&foreign)
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "delete", "a refused file is not switched to WAL");

    let other_app = dir.path().join("other.db");
    raw(&other_app)
        .pragma_update(None, "application_id", 42)
        .expect("application id");
    let err = StateDb::open(&other_app).expect_err("another application's id");
    assert!(matches!(err, StateError::NotStateDb { .. }), "{err:?}");
}

#[test]
fn resources_are_upserted_read_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = StateDb::open(&dir.path().join("dev.db")).expect("open");
    let logs = bucket("logs", "logs-dev");
    let tags = tags_doc("logs", "logs-dev");
    db.upsert_resource(&tags).expect("upsert tags");
    db.upsert_resource(&logs).expect("upsert bucket");
    assert_eq!(tags.kind, "bucket_tags");
    assert_eq!(logs.kind, "bucket");

    // Sorted by address, whatever the insertion order.
    let all = db.resources().expect("resources");
    assert_eq!(all, vec![logs.clone(), tags.clone()]);

    let mut updated = logs.clone();
    updated.value = Value::Doc(Doc::Versioning(VersioningState::Enabled));
    updated.kind = kind_of(&updated.value);
    updated.force_destroy = true;
    db.upsert_resource(&updated).expect("update");
    assert_eq!(db.resource(&logs.address).expect("read"), Some(updated));

    assert!(db.remove_resource(&logs.address).expect("remove"));
    assert!(!db.remove_resource(&logs.address).expect("remove again"));
    assert_eq!(db.resource(&logs.address).expect("read"), None);
    assert_eq!(db.resources().expect("resources"), vec![tags]);
}

#[test]
fn a_tampered_value_is_reported_not_trusted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.db");
    let db = StateDb::open(&path).expect("open");
    db.upsert_resource(&bucket("logs", "logs-dev")).expect("upsert");
    raw(&path)
        .execute(
            "UPDATE resources SET value_json = '{\"type\":\"bucket\",\"value\":{\"name\":\"x\",\"region\":\"y\"}}'",
            [],
        )
        .expect("tamper");
    let err = db.resources().expect_err("hash mismatch");
    assert!(
        matches!(err, StateError::Unreadable { ref address, .. } if address == "bucket.logs"),
        "{err:?}"
    );
}

#[test]
fn the_journal_records_a_run_from_start_to_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = StateDb::open(&dir.path().join("dev.db")).expect("open");
    let run = db.begin_run("apply", "dev", Some(&"a".repeat(64))).expect("begin");

    let logs = Address::bucket("logs");
    let policy = Address::bucket_doc("logs", DocKind::Policy);
    let logging = Address::bucket_doc("logs", DocKind::Logging);
    let created = db.journal_start(run, &logs, Action::Create).expect("start create");
    // While the run is going, its in-flight entry is not "interrupted".
    assert!(db.interrupted_entries().expect("interrupted").is_empty());
    db.journal_finish(created, Outcome::Succeeded, None)
        .expect("finish create");
    let put = db.journal_start(run, &policy, Action::Update).expect("start policy");
    db.journal_finish(put, Outcome::Failed, Some("AccessDenied: not allowed"))
        .expect("finish policy");
    db.journal_skip(run, &logging, Action::Create, "bucket.logs.policy failed")
        .expect("skip");
    db.finish_run(run, RunOutcome::Failed).expect("finish run");

    let runs = db.runs(10).expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, run);
    assert_eq!(runs[0].command, "apply");
    assert_eq!(runs[0].outcome, Some(RunOutcome::Failed));
    assert!(runs[0].finished_at.is_some());
    assert_eq!(runs[0].pid, std::process::id());
    assert_eq!(db.run(run).expect("run"), Some(runs[0].clone()));
    assert_eq!(db.run(RunId(run.0 + 1)).expect("run"), None);

    let entries = db.journal(run).expect("journal");
    let summary: Vec<(&str, Action, Outcome, Option<&str>)> = entries
        .iter()
        .map(|e| (e.address.as_str(), e.action, e.outcome, e.message.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("bucket.logs", Action::Create, Outcome::Succeeded, None),
            (
                "bucket.logs.policy",
                Action::Update,
                Outcome::Failed,
                Some("AccessDenied: not allowed")
            ),
            (
                "bucket.logs.logging",
                Action::Create,
                Outcome::Skipped,
                Some("bucket.logs.policy failed")
            ),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.finished_at.is_some() && e.duration_ms.is_some_and(|d| d >= 0))
    );
    assert!(db.interrupted_entries().expect("interrupted").is_empty());
}

#[test]
fn the_journal_refuses_what_would_make_it_lie() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = StateDb::open(&dir.path().join("dev.db")).expect("open");
    let run = db.begin_run("apply", "dev", None).expect("begin");
    let entry = db
        .journal_start(run, &Address::bucket("logs"), Action::Create)
        .expect("start");
    assert!(matches!(
        db.journal_finish(entry, Outcome::Started, None),
        Err(StateError::Misuse { .. })
    ));
    db.journal_finish(entry, Outcome::Succeeded, None).expect("finish");
    assert!(matches!(
        db.journal_finish(entry, Outcome::Failed, Some("late")),
        Err(StateError::Misuse { .. })
    ));
    db.finish_run(run, RunOutcome::Succeeded).expect("finish run");
    assert!(matches!(
        db.finish_run(run, RunOutcome::Failed),
        Err(StateError::Misuse { .. })
    ));
    assert!(matches!(
        db.journal_start(run, &Address::bucket("logs"), Action::Delete),
        Err(StateError::Misuse { .. })
    ));
    assert!(matches!(
        db.journal_start(RunId(999), &Address::bucket("logs"), Action::Delete),
        Err(StateError::Misuse { .. })
    ));
}

#[test]
fn a_started_entry_survives_a_crash_as_interrupted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.db");
    let policy = Address::bucket_doc("logs", DocKind::Policy);
    let (crashed, entry) = {
        let mut db = StateDb::open(&path).expect("open");
        let run = db.begin_run("apply", "dev", None).expect("begin");
        let done = db
            .journal_start(run, &Address::bucket("logs"), Action::Create)
            .expect("start");
        db.journal_finish(done, Outcome::Succeeded, None).expect("finish");
        let entry = db.journal_start(run, &policy, Action::Update).expect("start");
        // The process "dies" here: the handle is dropped with the run open and the entry started.
        (run, entry)
    };

    let mut db = StateDb::open(&path).expect("reopen");
    let interrupted = db.interrupted_entries().expect("interrupted");
    assert_eq!(interrupted.len(), 1, "{interrupted:?}");
    assert_eq!(interrupted[0].id, entry);
    assert_eq!(interrupted[0].run_id, crashed);
    assert_eq!(interrupted[0].address, policy);
    assert_eq!(interrupted[0].outcome, Outcome::Started);
    assert_eq!(interrupted[0].finished_at, None);
    assert_eq!(interrupted[0].duration_ms, None);
    let run = db.run(crashed).expect("run").expect("run exists");
    assert_eq!(run.outcome, None);
    assert_eq!(run.finished_at, None);

    // A later run that finishes an action on the same resource settles it.
    let next = db.begin_run("apply", "dev", None).expect("begin");
    let redo = db.journal_start(next, &policy, Action::Update).expect("start");
    db.journal_finish(redo, Outcome::Succeeded, None).expect("finish");
    db.finish_run(next, RunOutcome::Succeeded).expect("finish run");
    assert!(db.interrupted_entries().expect("interrupted").is_empty());
}

#[test]
fn a_finished_containing_resource_settles_an_interrupted_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = StateDb::open(&dir.path().join("dev.db")).expect("open");
    let run = db.begin_run("apply", "dev", None).expect("begin");
    db.journal_start(
        run,
        &Address::bucket_doc("logs", DocKind::PublicAccessBlock),
        Action::Update,
    )
    .expect("start");
    // A cancelled run keeps its in-flight entry `started`: the outcome of that call is unknown.
    db.finish_run(run, RunOutcome::Cancelled).expect("finish");
    // `bucket.log` is a prefix of the text but not a containing address, so it settles nothing.
    let other = db.begin_run("apply", "dev", None).expect("begin");
    let e = db
        .journal_start(other, &Address::bucket("log"), Action::Create)
        .expect("start");
    db.journal_finish(e, Outcome::Succeeded, None).expect("finish");
    db.finish_run(other, RunOutcome::Succeeded).expect("finish");
    assert_eq!(db.interrupted_entries().expect("interrupted").len(), 1);

    let delete = db.begin_run("apply", "dev", None).expect("begin");
    let e = db
        .journal_start(delete, &Address::bucket("logs"), Action::Delete)
        .expect("start");
    db.journal_finish(e, Outcome::Succeeded, None).expect("finish");
    db.finish_run(delete, RunOutcome::Succeeded).expect("finish");
    assert!(db.interrupted_entries().expect("interrupted").is_empty());
}

#[test]
fn runs_are_listed_newest_first_and_limited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = StateDb::open(&dir.path().join("dev.db")).expect("open");
    let ids: Vec<RunId> = (0..3)
        .map(|_| {
            let run = db.begin_run("apply", "dev", None).expect("begin");
            db.finish_run(run, RunOutcome::Succeeded).expect("finish");
            run
        })
        .collect();
    let listed: Vec<RunId> = db.runs(2).expect("runs").iter().map(|r| r.id).collect();
    assert_eq!(listed, [ids[2], ids[1]]);
}

#[test]
fn a_held_write_lock_is_reported_as_another_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.db");
    let db = StateDb::open(&path).expect("open");
    db.conn.busy_timeout(Duration::from_millis(50)).expect("short timeout");
    let other = raw(&path);
    other.execute_batch("BEGIN IMMEDIATE").expect("hold the write lock");
    let err = db.upsert_resource(&bucket("logs", "logs-dev")).expect_err("busy");
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("another s3rec run holds the state"), "{err}");
    // Readers are not blocked by the writer in WAL mode.
    assert!(db.resources().expect("read while locked").is_empty());
    other.execute_batch("ROLLBACK").expect("release");
    db.upsert_resource(&bucket("logs", "logs-dev"))
        .expect("write after release");
}

#[test]
fn the_version_keeps_its_lineage_and_moves_its_serial_when_a_run_begins_and_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("env.db");
    let mut db = StateDb::open(&path).expect("open");
    let fresh = db.version().expect("version");
    assert_eq!(fresh.serial, 0);
    assert_eq!(fresh.lineage.len(), 32, "{}", fresh.lineage);
    let run = db.begin_run("apply", "env", None).expect("begin");
    let during = db.version().expect("version");
    assert_eq!(during.serial, 1);
    // Writes inside a run do not move the serial; its end does.
    db.upsert_resource(&bucket("logs", "acme-logs")).expect("upsert");
    assert_eq!(db.version().expect("version"), during);
    db.finish_run(run, RunOutcome::Succeeded).expect("finish");
    let after = db.version().expect("version");
    assert_eq!(after.serial, 2);
    assert_eq!(after.lineage, fresh.lineage);
    // A plan made during the run is stale after it; two untouched states are the same.
    assert!(during.moved_to(&after));
    assert!(!after.moved_to(&after));
    drop(db);
    let reopened = StateDb::open(&path).expect("reopen");
    assert_eq!(reopened.version().expect("version"), after);
    let other = StateDb::open(&dir.path().join("other.db")).expect("other");
    let untouched = other.version().expect("version");
    assert_ne!(untouched.lineage, fresh.lineage, "each database draws its own lineage");
    assert!(!fresh.moved_to(&untouched), "two states no run touched are the same");
    assert!(after.moved_to(&untouched));
}
