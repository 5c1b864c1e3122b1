//! The S3 state backend, end to end against the emulator: two checkouts share one state, the lock keeps
//! runs apart and names its holder, every write is a compare-and-swap, checkpoints bound what a killed
//! run repeats, saved plans go stale when the state moves, `state push`/`pull` move everything, and a
//! server that ignores conditional writes is refused (through the fault proxy, which strips the headers).

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;

use common::flat;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fault_proxy::FaultProxy;
use project::Project;
use s3rec::backend::{self, BackendError, LeaseRequest, Remote};
use s3rec::state::StateDb;

/// A versioned, private state bucket, as doctor wants it.
fn state_bucket() -> String {
    let name = common::unique_name("s3rec-state");
    let runtime = common::runtime();
    runtime.block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3("us-east-1");
        s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create the state bucket");
        common::enable_versioning(&aws, &name).await;
    });
    name
}

/// The `state:` section of a manifest on the S3 backend.
fn s3_state(bucket: &str, extra: &str) -> String {
    format!("state:\n  backend: s3\n  bucket: {bucket}\n  prune: true\n{extra}")
}

/// Every version and delete marker of the state bucket, as (key, is a delete marker).
fn versions(bucket: &str) -> Vec<(String, bool)> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let out = aws
            .s3("us-east-1")
            .list_object_versions()
            .bucket(bucket)
            .send()
            .await
            .expect("list versions");
        let mut all: Vec<(String, bool)> = out
            .versions()
            .iter()
            .map(|v| (v.key().unwrap_or_default().to_string(), false))
            .collect();
        all.extend(
            out.delete_markers()
                .iter()
                .map(|m| (m.key().unwrap_or_default().to_string(), true)),
        );
        all
    })
}

/// Writes an object with another client, as a person or another tool would.
fn put_object(bucket: &str, key: &str, body: &[u8]) {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
            .send()
            .await
            .expect("put an object");
    });
}

fn object_exists(bucket: &str, key: &str) -> bool {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    })
}

fn bucket_exists(name: &str) -> bool {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1").head_bucket().bucket(name).send().await.is_ok()
    })
}

/// Writes a lock object by hand, as a run on another machine would have left it `age` ago.
fn leave_lock(bucket: &str, key: &str, id: &str, age: Duration) {
    let created_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        - age.as_millis() as i64;
    let body = serde_json::json!({
        "id": id,
        "operation": "apply",
        "environment": "x",
        "who": "arn:aws:iam::123456789012:user/ci",
        "host": "runner-7",
        "pid": 4242,
        "version": "0.1.0",
        "created_at": "2026-01-01T00:00:00.000Z",
        "created_ms": created_ms,
    });
    put_object(bucket, key, body.to_string().as_bytes());
}

/// The lock ID a refused run names in its `state unlock` hint.
fn lock_id_in(text: &str) -> String {
    let (_, rest) = text
        .split_once("s3rec state unlock -e ")
        .unwrap_or_else(|| panic!("no unlock hint in:\n{text}"));
    rest.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no lock id in:\n{text}"))
        .trim_end_matches(['`', '.', ',', ';'])
        .to_string()
}

/// Two checkouts of one manifest (a laptop and a CI runner) in different directories.
fn two_checkouts(env: &str, body: &str) -> (Project, Project) {
    let a = Project::new(env);
    let b = Project::new(env);
    a.write(body);
    b.write(body);
    (a, b)
}

#[test]
fn two_checkouts_share_one_state_and_a_removal_in_the_second_is_pruned_there() {
    let state = state_bucket();
    let (keep, gone) = (common::unique_name("keep"), common::unique_name("gone"));
    let (laptop, ci) = two_checkouts(
        "shared",
        &format!(
            "{}buckets:\n  keep:\n    name: {keep}\n  gone:\n    name: {gone}\n",
            s3_state(&state, "")
        ),
    );
    laptop.apply_ok();
    assert!(
        object_exists(&state, "s3rec/shared.db"),
        "the apply wrote the remote state"
    );
    let sse = common::runtime().block_on(async {
        let aws = common::emulator().await;
        let head = aws
            .s3("us-east-1")
            .head_object()
            .bucket(&state)
            .key("s3rec/shared.db")
            .send()
            .await
            .expect("head");
        head.server_side_encryption().map(|e| e.as_str().to_string())
    });
    assert_eq!(
        sse.as_deref(),
        Some("AES256"),
        "the state is encrypted at rest (SSE-S3 by default)"
    );
    // The CI checkout has never run: it knows what the laptop applied only through the S3 state.
    ci.assert_converged();
    assert!(!ci.path(".s3rec/shared.db").exists(), "no local-backend file is used");

    ci.write(&format!(
        "{}buckets:\n  keep:\n    name: {keep}\n",
        s3_state(&state, "")
    ));
    let (code, plan) = ci.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("bucket.gone will be destroyed"), "{plan}");
    ci.apply_ok();
    assert!(!bucket_exists(&gone), "pruned from the second checkout");
    assert!(bucket_exists(&keep));

    // The laptop, still with the old manifest, sees from the state that s3rec no longer manages `gone`
    // (its manifest wants it, so it would be created again, not "adopted" from a stale memory).
    let (_, plan) = laptop.plan();
    assert!(plan.contains("bucket.gone will be created"), "{plan}");
    let listed = laptop.run(&["state", "list", "-e", "shared"]).1;
    assert!(
        listed.contains("bucket.keep") && !listed.contains("bucket.gone"),
        "{listed}"
    );

    // Locks never pile up: the versioned bucket holds versions of the state only.
    let all = versions(&state);
    assert!(all.iter().all(|(key, _)| key == "s3rec/shared.db"), "{all:?}");
}

/// Starts `apply -e ENV --auto-approve` with `extra` flags, piping its output.
fn spawn_apply(p: &Project, extra: &[&str]) -> Child {
    // Two actions at a time, so that (with the proxy's latency) the run lasts seconds, not one.
    p.s3rec_process()
        .args(["apply", "-e", &p.env, "--auto-approve", "--parallelism", "2"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apply")
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        flat(&format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    )
}

/// A manifest slow enough to apply (through a latency proxy) that a second run starts while it runs.
fn slow_estate(state: &str, proxy: &str, buckets: usize) -> (String, Vec<String>) {
    // Each bucket has three documents besides itself, so an apply makes four changes per bucket.
    let names: Vec<String> = (0..buckets).map(|i| common::unique_name(&format!("slow{i}"))).collect();
    let mut body = format!(
        "aws:\n  region: us-east-1\n  endpoint_url: {proxy}\n  force_path_style: true\n{}buckets:\n",
        s3_state(state, "  checkpoint_interval: 1s\n")
    );
    for (i, name) in names.iter().enumerate() {
        body.push_str(&format!(
            "  b{i}:\n    name: {name}\n    versioning: enabled\n    tags: {{team: data}}\n    public_access_block: {{block_public_acls: true, ignore_public_acls: true, block_public_policy: true, restrict_public_buckets: true}}\n"
        ));
    }
    (body, names)
}

/// A project whose whole manifest is `body` (with its own `aws:` section).
fn raw_project(env: &str, body: &str) -> Project {
    let p = Project::new(env);
    rewrite(&p, body);
    p
}

/// Replaces the project's manifest with `body` (which has its own `aws:` section).
fn rewrite(p: &Project, body: &str) {
    let envs = p.path("environments");
    std::fs::create_dir_all(&envs).expect("mkdir");
    std::fs::write(
        envs.join(format!("{}.yaml", p.env)),
        format!("environment: {}\n{body}", p.env),
    )
    .expect("write");
}

#[test]
fn two_applies_at_once_one_runs_and_the_other_names_the_holder_or_waits_and_finds_nothing_to_do() {
    let state = state_bucket();
    let proxy = FaultProxy::start(&["--latency-ms", "60"]);
    let (body, names) = slow_estate(&state, &proxy.endpoint, 6);
    let a = raw_project("race", &body);
    let b = raw_project("race", &body);

    // Without --lock-timeout the second fails at once, naming the first.
    let first = spawn_apply(&a, &[]);
    let start = Instant::now();
    while !object_exists(&state, "s3rec/race.db.lock") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first apply never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, out) = finish(spawn_apply(&b, &[]));
    assert_eq!(code, 1, "{out}");
    assert!(flat(&out).contains("the state of race is locked"), "{out}");
    assert!(flat(&out).contains("apply by "), "the holder is named:\n{out}");
    assert!(flat(&out).contains(" ago)"), "the lock's age is given:\n{out}");
    assert!(flat(&out).contains("--lock-timeout"), "{out}");
    let (code, out) = finish(first);
    assert_eq!(code, 0, "{out}");

    // Both started together with --lock-timeout: one applies, the other waits, then plans from what the
    // first left, and finds nothing to do.
    for name in &names {
        assert!(bucket_exists(name));
    }
    rewrite(&a, &body.replace("team: data", "team: platform"));
    rewrite(&b, &body.replace("team: data", "team: platform"));
    let one = spawn_apply(&a, &["--lock-timeout", "2m"]);
    let two = spawn_apply(&b, &["--lock-timeout", "2m"]);
    let (one, two) = (finish(one), finish(two));
    assert_eq!((one.0, two.0), (0, 0), "{}\n----\n{}", one.1, two.1);
    let changed = [&one.1, &two.1]
        .iter()
        .filter(|out| flat(out).contains("Apply complete! 0 created, 6 updated"))
        .count();
    let idle = [&one.1, &two.1]
        .iter()
        .filter(|out| flat(out).contains("No changes."))
        .count();
    assert_eq!((changed, idle), (1, 1), "{}\n----\n{}", one.1, two.1);
    assert!(
        one.1.contains("Waiting for the state lock") || two.1.contains("Waiting for the state lock"),
        "{}\n----\n{}",
        one.1,
        two.1
    );

    // The journal, read from either checkout, has the runs one after the other, never interleaved.
    let runs = a
        .run(&["state", "journal", "-e", "race", "--limit", "10", "--format", "json"])
        .1;
    let doc: serde_json::Value = serde_json::from_str(&runs).expect("journal json");
    let mut spans: Vec<(String, String)> = doc["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            (
                r["started_at"].as_str().expect("started").to_string(),
                r["finished_at"].as_str().expect("every run finished").to_string(),
            )
        })
        .collect();
    spans.sort();
    assert!(spans.len() >= 2, "{runs}");
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "runs interleave: {spans:?}");
    }
}

#[test]
fn twenty_writers_racing_on_the_state_lose_no_update_and_every_loser_gets_the_cas_error() {
    let state = state_bucket();
    let key = format!("race/{}.db", common::unique_name("cas"));
    let runtime = common::runtime();
    let (conflicts, attempts) = runtime.block_on(async {
        let aws = Arc::new(common::emulator().await);
        let remote = Remote {
            environment: "cas".to_string(),
            bucket: state.clone(),
            key: key.clone(),
            lock_key: backend::lock_key(&key),
            region: "us-east-1".to_string(),
            kms_key: None,
            // No lock: the writers race on the compare-and-swap alone, as after a lock broken by hand.
            lock: false,
            checkpoint_interval: Duration::from_secs(3600),
        };
        let dirs: Vec<tempfile::TempDir> = (0..20).map(|_| tempfile::tempdir().expect("tempdir")).collect();
        let mut tasks = tokio::task::JoinSet::new();
        for (writer, dir) in dirs.iter().enumerate() {
            let (aws, remote, db) = (Arc::clone(&aws), remote.clone(), dir.path().join("cas.db"));
            tasks.spawn(async move {
                let mut conflicts = 0;
                let mut attempts = 0;
                // Each writer adds its own resource, reading the state anew after every lost race.
                loop {
                    attempts += 1;
                    let request = LeaseRequest {
                        operation: "test",
                        who: None,
                        lock_timeout: None,
                    };
                    let lease = backend::lease(Some(&aws), Some(&remote), &db, request, || Ok(Vec::new()))
                        .await
                        .expect("lease");
                    {
                        let db = StateDb::open(&db).expect("open");
                        let record = s3rec::state::ResourceRecord::new(
                            s3rec::plan::Address(format!("bucket.w{writer}")),
                            &format!("w{writer}"),
                            "us-east-1",
                            s3rec::plan::Value::Bucket {
                                name: format!("w{writer}"),
                                region: "us-east-1".to_string(),
                            },
                            None,
                        );
                        db.upsert_resource(&record).expect("write");
                    }
                    match lease.finish().await {
                        Ok(()) => return (conflicts, attempts),
                        Err(BackendError::Conflict { .. }) => conflicts += 1,
                        Err(other) => panic!("writer {writer}: not a CAS error: {other}"),
                    }
                }
            });
        }
        let mut conflicts = 0;
        let mut attempts = 0;
        while let Some(done) = tasks.join_next().await {
            let (c, a) = done.expect("writer");
            conflicts += c;
            attempts += a;
        }
        (conflicts, attempts)
    });
    // Every attempt either landed or got the CAS error; and every writer's update is in the final state.
    assert_eq!(attempts, 20 + conflicts);
    let pulled = tempfile::tempdir().expect("tempdir");
    let out = pulled.path().join("final.db");
    download_state(&state, &key, &out);
    let got: BTreeSet<String> = StateDb::open(&out)
        .expect("open")
        .resources()
        .expect("resources")
        .into_iter()
        .map(|r| r.address.0)
        .collect();
    let want: BTreeSet<String> = (0..20).map(|w| format!("bucket.w{w}")).collect();
    assert_eq!(got, want, "lost updates after {conflicts} CAS conflicts");
    eprintln!("20 writers: {attempts} attempts, {conflicts} CAS conflicts, 0 lost updates");
}

#[test]
fn a_killed_apply_leaves_its_lock_which_unlock_frees_and_a_rerun_converges() {
    let state = state_bucket();
    let proxy = FaultProxy::start(&["--latency-ms", "150"]);
    let (body, names) = slow_estate(&state, &proxy.endpoint, 15);
    let p = raw_project("killed", &body);
    let mut child = spawn_apply(&p, &[]);
    // Killed once the run is under way (its first checkpoint is out) and before it ends.
    let start = Instant::now();
    while !object_exists(&state, "s3rec/killed.db") {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("apply ended ({status}) before its first checkpoint");
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(
        object_exists(&state, "s3rec/killed.db.lock"),
        "a killed run cannot release its lock"
    );

    let (code, out, err) = p.run(&["apply", "-e", "killed", "--auto-approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(flat(&err).contains("the state of killed is locked"), "{err}");
    assert!(
        flat(&err).contains(&format!("on {}", gethostname())),
        "the host is named: {err}"
    );
    let id = lock_id_in(&flat(&err));

    // The wrong ID removes nothing.
    let (code, _, err) = p.run(&["state", "unlock", "-e", "killed", "not-the-id", "--yes"]);
    assert_eq!(code, 1, "{err}");
    assert!(flat(&err).contains("is not `not-the-id`"), "{err}");
    assert!(object_exists(&state, "s3rec/killed.db.lock"));
    // Without --yes and without a terminal, nothing is removed either.
    let (code, _, err) = p.run(&["state", "unlock", "-e", "killed", &id]);
    assert_eq!(code, 1, "{err}");
    assert!(object_exists(&state, "s3rec/killed.db.lock"));

    let (code, out, err) = p.run(&["state", "unlock", "-e", "killed", &id, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!object_exists(&state, "s3rec/killed.db.lock"));

    p.apply_ok();
    p.assert_converged();
    let listed = p.run(&["state", "list", "-e", "killed"]).1;
    for i in 0..names.len() {
        assert!(listed.contains(&format!("bucket.b{i} ")), "{listed}");
    }
    let journal = p.run(&["state", "journal", "-e", "killed", "--limit", "5"]).1;
    assert!(
        journal.contains("interrupted") || journal.contains("started"),
        "{journal}"
    );
}

fn gethostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn a_saved_plan_made_before_another_apply_is_refused_as_stale() {
    let state = state_bucket();
    let (mine, theirs) = (common::unique_name("mine"), common::unique_name("theirs"));
    let laptop = Project::new("stale");
    let ci = Project::new("stale");
    laptop.write(&format!(
        "{}buckets:\n  mine:\n    name: {mine}\n",
        s3_state(&state, "")
    ));
    // The other checkout is on another branch: it applies a bucket the saved plan does not touch, so
    // only the state (not live AWS) tells that the plan is stale.
    ci.write(&format!(
        "state:\n  backend: s3\n  bucket: {state}\nbuckets:\n  theirs:\n    name: {theirs}\n"
    ));
    let (code, out, err) = laptop.run(&["plan", "-e", "stale", "--out", "plan.json"]);
    assert_eq!(code, 0, "{out}{err}");
    ci.apply_ok();
    let (code, out, err) = laptop.run(&["apply", "plan.json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        flat(&err).contains("the plan is stale: the state of stale moved"),
        "{err}"
    );
    assert!(!bucket_exists(&mine), "nothing was applied");
    // A new plan from the new state applies.
    let (code, out, err) = laptop.run(&["plan", "-e", "stale", "--out", "plan.json"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = laptop.run(&["apply", "plan.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(bucket_exists(&mine));
}

/// Every row of every table of the state, as text, for comparing two databases.
fn dump(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .expect("tables")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("names");
    let mut rows = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).expect("select");
        let columns = stmt.column_count();
        let mut found: Vec<String> = stmt
            .query_map([], |r| {
                let mut row = table.clone();
                for i in 0..columns {
                    let v: rusqlite::types::Value = r.get(i)?;
                    row.push_str(&format!("|{v:?}"));
                }
                Ok(row)
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        found.sort();
        rows.extend(found);
    }
    rows
}

fn count(rows: &[String], table: &str) -> usize {
    rows.iter().filter(|r| r.starts_with(&format!("{table}|"))).count()
}

#[test]
fn state_push_then_pull_round_trips_resources_journal_sync_index_and_inventory() {
    let state = state_bucket();
    let (data, archive) = (common::unique_name("data"), common::unique_name("archive"));
    let p = Project::new("moving");
    let body = format!(
        "buckets:\n  data:\n    name: {data}\n  archive:\n    name: {archive}\nsync:\n  files:\n    source: src\n    bucket: data\nmigrations:\n  old:\n    bucket: archive\n    destination: restored\n"
    );
    p.write(&body);
    std::fs::create_dir_all(p.path("src/sub")).expect("mkdir");
    std::fs::write(p.path("src/a.txt"), "a").expect("write");
    std::fs::write(p.path("src/sub/b.txt"), "b").expect("write");
    p.apply_ok();
    for key in ["x/1.csv", "x/2.csv"] {
        put_object(&archive, key, b"1,2,3\n");
    }
    let (code, out, err) = p.run(&["migrate", "-e", "moving", "old", "run"]);
    assert_eq!(code, 0, "{out}{err}");
    let local = p.path(".s3rec/moving.db");
    let before = dump(&local);
    for table in ["resources", "runs", "journal", "sync_index", "migration_objects"] {
        assert!(count(&before, table) > 0, "nothing in {table} to move: {before:#?}");
    }

    // The team moves to the S3 backend: push, then every command reads the remote state.
    p.write(&format!("{}{body}", s3_state(&state, "")));
    let (code, out, err) = p.run(&["state", "push", "-e", "moving"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        flat(&out).contains("Pushed ") && flat(&out).contains("managed resource(s)"),
        "{out}"
    );
    p.assert_converged();
    let (code, out, err) = p.run(&["sync", "-e", "moving", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        flat(&out).contains("sync.files: up to date (2 files)"),
        "the index came along: {out}"
    );

    // A second push refuses to overwrite, saying what it would replace.
    let (code, out, err) = p.run(&["state", "push", "-e", "moving"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(flat(&err).contains("already holds the state of moving"), "{err}");
    assert!(flat(&err).contains("managed resource(s)"), "{err}");

    let out_file = p.path("pulled.db");
    let (code, out, err) = p.run(&["state", "pull", "-e", "moving", "--out", "pulled.db"]);
    assert_eq!(code, 0, "{out}{err}");
    let after = dump(&out_file);
    // Everything moved; the pulled copy has what the push had, plus nothing (no run since changed it).
    assert_eq!(before, after);
    // Pulling over an existing file needs --force.
    let (code, _, err) = p.run(&["state", "pull", "-e", "moving", "--out", "pulled.db"]);
    assert_eq!(code, 1, "{err}");
    assert!(flat(&err).contains("--force"), "{err}");
}

#[test]
fn a_server_that_ignores_conditional_writes_is_refused_unless_lock_is_false() {
    let state = state_bucket();
    let proxy = FaultProxy::start(&["--faults", "strip-conditional", "--rate", "1"]);
    let bucket = common::unique_name("cond");
    let body = |extra: &str| {
        format!(
            "aws:\n  region: us-east-1\n  endpoint_url: {}\n  force_path_style: true\n{}buckets:\n  b:\n    name: {bucket}\n",
            proxy.endpoint,
            s3_state(&state, extra)
        )
    };
    let p = raw_project("nocond", &body(""));
    let (code, out, err) = p.apply();
    assert_eq!(code, 1, "{out}{err}");
    assert!(flat(&err).contains("ignores conditional writes"), "{err}");
    assert!(flat(&err).contains("lock: false"), "{err}");
    assert!(!bucket_exists(&bucket), "nothing was applied");
    assert!(
        !object_exists(&state, "s3rec/nocond.db.lock"),
        "the probe's lock is removed"
    );

    let p2 = raw_project("nocond", &body("  lock: false\n"));
    p2.apply_ok();
    assert!(bucket_exists(&bucket));
}

#[test]
fn doctor_names_a_stale_lock_with_the_unlock_command() {
    let state = state_bucket();
    let p = Project::new("doc");
    p.write(&format!("{}buckets: {{}}\n", s3_state(&state, "")));
    leave_lock(
        &state,
        "s3rec/doc.db.lock",
        "0b4c2a1e-old",
        Duration::from_secs(3 * 3600),
    );
    let (_, out, err) = p.run(&["doctor", "-e", "doc"]);
    let all = format!("{out}{err}");
    assert!(flat(&all).contains("probably stale"), "{all}");
    assert!(flat(&all).contains("s3rec state unlock -e doc 0b4c2a1e-old"), "{all}");
    assert!(flat(&all).contains("runner-7"), "{all}");
}

#[test]
fn a_no_op_plan_on_the_s3_backend_adds_one_request_and_downloads_nothing_new() {
    let state = state_bucket();
    let proxy = FaultProxy::start(&[]);
    let bucket = common::unique_name("noop");
    let body = |backend: &str| {
        format!(
            "aws:\n  region: us-east-1\n  endpoint_url: {}\n  force_path_style: true\n{backend}buckets:\n  b:\n    name: {bucket}\n",
            proxy.endpoint
        )
    };
    let local = raw_project("noop", &body(""));
    local.apply_ok();
    let before = proxy.requests().len();
    local.assert_converged();
    let local_requests = proxy.requests().len() - before;

    let remote = raw_project("noop", &body(&s3_state(&state, "")));
    let (code, out, err) = remote.run(&[
        "state",
        "push",
        "-e",
        "noop",
        "--from",
        &local.path(".s3rec/noop.db").display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let before = proxy.requests().len();
    remote.assert_converged();
    let log = proxy.requests();
    let added: Vec<&(String, String)> = log[before..].iter().collect();
    assert_eq!(
        added.len(),
        local_requests + 1,
        "a no-op plan on the S3 backend sends one request more than on the local one: {added:#?}"
    );
}

/// Rows of the sync index in the database at `db`, with when each was recorded (RFC 3339, sortable).
fn index_rows(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.prepare("SELECT synced_at FROM sync_index")
        .expect("select")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The remote state, downloaded into `to`.
fn download_state(bucket: &str, key: &str, to: &Path) {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let body = aws
            .s3("us-east-1")
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("get the state")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes();
        std::fs::write(to, body).expect("write");
    });
}

fn object_count(bucket: &str) -> usize {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let mut pages = aws
            .s3("us-east-1")
            .list_objects_v2()
            .bucket(bucket)
            .into_paginator()
            .send();
        let mut n = 0;
        while let Some(page) = pages.next().await {
            n += page.expect("list").contents().len();
        }
        n
    })
}

/// The ETag of the remote state, if there is one.
fn state_etag(bucket: &str, key: &str) -> Option<String> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .ok()
            .and_then(|h| h.e_tag().map(str::to_string))
    })
}

#[test]
fn a_sync_killed_mid_way_resumes_from_its_last_checkpoint_on_another_machine() {
    const FILES: usize = 20_000;
    const INTERVAL_SECS: i64 = 2;
    let state = state_bucket();
    let data = common::unique_name("ckpt");
    // The files live outside both checkouts, so the second (a CI runner) sees the same files with the
    // same modification times, as a restored backup source would be.
    let source = tempfile::tempdir().expect("source");
    for i in 0..FILES {
        let dir = source.path().join(format!("d{:03}", i % 200));
        if i < 200 {
            std::fs::create_dir_all(&dir).expect("mkdir");
        }
        std::fs::write(dir.join(format!("f{i:05}.txt")), format!("file {i}\n")).expect("write");
    }
    let body = format!(
        "{}buckets:\n  data:\n    name: {data}\nsync:\n  files:\n    source: {}\n    bucket: data\n",
        s3_state(&state, &format!("  checkpoint_interval: {INTERVAL_SECS}s\n")),
        source.path().display()
    );
    let (laptop, ci) = two_checkouts("ckpt", &body);
    // The bucket first, so the sync below is the only thing running.
    let (code, out, err) = laptop.run(&["apply", "-e", "ckpt", "--auto-approve", "--target", "bucket.data"]);
    assert_eq!(code, 0, "{out}{err}");

    let mut child = laptop
        .s3rec_process()
        .args(["sync", "-e", "ckpt"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sync");
    // Killed after the sync's second checkpoint (the remote state changed twice since it started), and
    // before it finished.
    let start = Instant::now();
    let first = state_etag(&state, "s3rec/ckpt.db");
    let mut seen = vec![first];
    while seen.len() < 3 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the sync ended ({status}) before two checkpoints; make it slower");
        }
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoints");
        let now = state_etag(&state, "s3rec/ckpt.db");
        if seen.last() != Some(&now) {
            seen.push(now);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let uploaded = object_count(&data);
    assert!(uploaded < FILES, "the sync finished before it was killed");
    let remote = tempfile::tempdir().expect("tempdir");
    let checkpoint = remote.path().join("checkpoint.db");
    download_state(&state, "s3rec/ckpt.db", &checkpoint);
    let in_checkpoint = index_rows(&checkpoint).len();
    let mut at_kill = index_rows(&laptop.path(".s3rec/s3/ckpt.db"));
    at_kill.sort();
    assert!(in_checkpoint > 0, "a checkpoint holds sync progress");
    // What the checkpoint misses is what the killed run recorded after its last push: at most one interval
    // of work (with slack for the push itself on this shared machine).
    let last = at_kill.last().cloned().unwrap_or_default();
    let missed = at_kill.len() - in_checkpoint;
    let window = recorded_within(&at_kill, &last, 3 * INTERVAL_SECS);
    assert!(
        missed <= window,
        "the checkpoint misses {missed} recorded files, more than the {window} recorded in the last {} s",
        3 * INTERVAL_SECS
    );

    // The CI runner resumes: the lock of the killed run first.
    let (_, _, err) = ci.run(&["sync", "-e", "ckpt"]);
    let id = lock_id_in(&flat(&err));
    let (code, out, err) = ci.run(&["state", "unlock", "-e", "ckpt", &id, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = ci.run(&["sync", "-e", "ckpt"]);
    assert_eq!(code, 0, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("sync.files:"))
        .unwrap_or_else(|| panic!("no summary line:\n{out}"));
    let to_upload: usize = line
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // No file that was finished before the kill is uploaded again: exactly the rest are.
    assert_eq!(to_upload, FILES - uploaded, "{line}");
    assert_eq!(object_count(&data), FILES);
    eprintln!(
        "killed with {uploaded} of {FILES} objects uploaded; {at_kill} recorded locally, {in_checkpoint} in the \
         last checkpoint ({missed} to re-check from the listing); the resumed run uploaded {to_upload}, none twice",
        at_kill = at_kill.len()
    );
}

/// How many of `sorted` timestamps lie within `secs` seconds before `last` (RFC 3339 text, same format).
fn recorded_within(sorted: &[String], last: &str, secs: i64) -> usize {
    let to_ms = |t: &str| -> i64 {
        // `2026-12-04T20:52:29.123Z`: the time of day is enough within one test run that does not cross
        // midnight; a run that does only makes the window wider.
        let time = t.get(11..23).unwrap_or("00:00:00.000");
        let h: i64 = time[0..2].parse().unwrap_or(0);
        let m: i64 = time[3..5].parse().unwrap_or(0);
        let s: i64 = time[6..8].parse().unwrap_or(0);
        let ms: i64 = time[9..12].parse().unwrap_or(0);
        ((h * 60 + m) * 60 + s) * 1000 + ms
    };
    let end = to_ms(last);
    sorted.iter().filter(|t| end - to_ms(t) <= secs * 1000).count()
}

#[test]
fn ctrl_c_during_an_apply_on_the_s3_backend_releases_the_lock_and_pushes_what_was_done() {
    let state = state_bucket();
    let proxy = FaultProxy::start(&["--latency-ms", "150"]);
    let (body, names) = slow_estate(&state, &proxy.endpoint, 10);
    let p = raw_project("sigint", &body);
    let child = spawn_apply(&p, &[]);
    let start = Instant::now();
    while !object_exists(&state, "s3rec/sigint.db.lock") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the apply never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The signal must land while the apply executes (a signal during planning stops at once): wait
    // for its first bucket rather than for a fixed time, since how long planning takes depends on
    // how many buckets the shared emulator lists.
    while !names.iter().any(|name| bucket_exists(name)) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the apply never created a bucket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill(1)");
    assert!(status.success());
    let (code, out) = finish(child);
    assert_eq!(code, 130, "{out}");
    assert!(
        !object_exists(&state, "s3rec/sigint.db.lock"),
        "the lock is released: {out}"
    );
    // What the cancelled run did is in the remote state: another checkout sees its run as cancelled.
    let other = raw_project("sigint", &body);
    let journal = other.run(&["state", "journal", "-e", "sigint"]).1;
    assert!(journal.contains("cancelled"), "{journal}");
    other.apply_ok();
    other.assert_converged();
}

#[test]
fn a_lock_s3rec_cannot_read_is_removed_by_its_etag() {
    let state = state_bucket();
    let p = Project::new("garbled");
    p.write(&format!("{}buckets: {{}}\n", s3_state(&state, "")));
    put_object(&state, "s3rec/garbled.db.lock", b"held by a shell script");
    let (code, out, err) = p.apply();
    assert_eq!(code, 1, "{out}{err}");
    assert!(flat(&err).contains("a lock object s3rec cannot read"), "{err}");
    let id = lock_id_in(&flat(&err));
    let (code, out, err) = p.run(&["state", "unlock", "-e", "garbled", &id, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    p.apply_ok();
}

#[test]
fn a_run_whose_push_fails_keeps_the_lock_and_the_next_run_here_takes_it_over_and_pushes() {
    let state = state_bucket();
    // Every PUT of the state itself (not of its lock) is answered 503 SlowDown, past the SDK's retries.
    let pattern = format!("PUT /{state}/s3rec/unpushed\\.db(\\?|\\n)");
    let proxy = FaultProxy::start(&["--match", &pattern, "--faults", "slowdown", "--rate", "1"]);
    let bucket = common::unique_name("unpushed");
    let body = |endpoint: &str| {
        format!(
            "aws:\n  region: us-east-1\n  endpoint_url: {endpoint}\n  force_path_style: true\n{}buckets:\n  b:\n    name: {bucket}\n",
            s3_state(&state, "")
        )
    };
    let laptop = raw_project("unpushed", &body(&proxy.endpoint));
    let (code, out, err) = laptop.apply();
    assert_eq!(code, 1, "{out}{err}");
    let err = flat(&err);
    assert!(err.contains("the state could not be written to"), "{err}");
    assert!(
        err.contains("is kept, so that no other run works from a state without them"),
        "{err}"
    );
    assert!(bucket_exists(&bucket), "the apply itself happened");
    assert!(object_exists(&state, "s3rec/unpushed.db.lock"), "the lock is kept");

    // Another checkout is kept out, with the lock's holder named.
    let ci = raw_project("unpushed", &body(&common::emulator_endpoint()));
    let (code, out, err) = ci.apply();
    assert_eq!(code, 1, "{out}{err}");
    assert!(flat(&err).contains("the state of unpushed is locked"), "{err}");

    // The laptop, once S3 answers again, takes its own lock over and pushes what it did.
    rewrite(&laptop, &body(&common::emulator_endpoint()));
    let (code, out, err) = laptop.apply();
    assert_eq!(code, 0, "{out}{err}");
    assert!(flat(&err).contains("Taking over the state lock"), "{err}");
    assert!(!object_exists(&state, "s3rec/unpushed.db.lock"));
    ci.assert_converged();
    let listed = ci.run(&["state", "list", "-e", "unpushed"]).1;
    assert!(listed.contains("bucket.b "), "{listed}");
}

#[test]
fn a_migration_run_on_the_s3_backend_is_seen_from_another_checkout() {
    let state = state_bucket();
    let old = common::unique_name("old");
    let body = format!(
        "{}buckets:\n  old:\n    name: {old}\nmigrations:\n  retire:\n    bucket: old\n    destination: archive\n",
        s3_state(&state, "")
    );
    let (laptop, ci) = two_checkouts("mig", &body);
    laptop.apply_ok();
    for key in ["a.csv", "b/c.csv"] {
        put_object(&old, key, b"x,y\n");
    }
    let (code, out, err) = laptop.run(&["migrate", "-e", "mig", "retire", "run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!object_exists(&state, "s3rec/mig.db.lock"), "migrate released the lock");
    // The inventory travelled with the state: the other checkout knows both objects are verified.
    let (code, out, err) = ci.run(&["migrate", "-e", "mig", "retire", "status", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).expect("status json");
    let text = rows.to_string();
    assert!(text.contains("\"verified\":2"), "{text}");
}

#[test]
fn a_deleted_remote_state_is_reported_and_restored_from_this_machines_copy() {
    let state = state_bucket();
    let bucket = common::unique_name("vanish");
    let p = Project::new("vanish");
    p.write(&format!("{}buckets:\n  b:\n    name: {bucket}\n", s3_state(&state, "")));
    p.apply_ok();
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3("us-east-1")
            .delete_object()
            .bucket(&state)
            .key("s3rec/vanish.db")
            .send()
            .await
            .expect("delete the state");
    });
    let (code, out, err) = p.run(&["plan", "-e", "vanish"]);
    assert_eq!(code, 1, "{out}{err}");
    let err = flat(&err);
    assert!(err.contains("the state s3://") && err.contains("is gone"), "{err}");
    assert!(err.contains("`s3rec state push -e vanish --from "), "{err}");
    let copy = p.path(".s3rec/s3/vanish.db").display().to_string();
    let command = format!("state push -e vanish --from {copy}");
    let (code, out, err) = p.run(&["state", "push", "-e", "vanish", "--from", &copy]);
    assert_eq!(code, 0, "{command}: {out}{err}");
    p.assert_converged();
    assert!(p.run(&["state", "list", "-e", "vanish"]).1.contains("bucket.b "));
}
