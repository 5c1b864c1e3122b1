//! `s3rec restore` through the real binary against the moto emulator: a mapping synced three times
//! (edits, deletes, re-additions between) restores into a directory exactly as each sync left it,
//! hostile keys are refused with nothing written outside the directory, and a restore killed with
//! SIGKILL resumes without downloading a finished file again; `--verify-only` reads and checks every
//! object of a point in time, writes nothing, and its run report carries the result.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;
#[path = "common/queue.rs"]
mod queue;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use fault_proxy::FaultProxy;
use project::Project;

type Tree = BTreeMap<String, Vec<u8>>;

/// Makes `dir` hold exactly `tree`, leaving files whose content stays untouched (so sync keeps them).
fn set_tree(dir: &Path, tree: &Tree) {
    if dir.exists() {
        for rel in common::files_under(dir)
            .into_keys()
            .filter(|rel| !tree.contains_key(rel))
        {
            std::fs::remove_file(dir.join(rel)).expect("remove");
        }
    }
    for (rel, content) in tree {
        let path = dir.join(rel);
        if std::fs::read(&path).is_ok_and(|old| old == *content) {
            continue;
        }
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
}

fn tree(files: &[(&str, &[u8])]) -> Tree {
    files.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect()
}

/// A project with versioned bucket `data` and mapping `files` from `src/` to `backup/`, with deletes.
fn project(name: &str) -> (Project, String) {
    let p = Project::new(&common::unique_name(name));
    let bucket = format!("{}-data", p.env);
    p.write(&format!(
        "buckets:\n  data:\n    name: {bucket}\n    versioning: enabled\nsync:\n  files:\n    source: src\n    bucket: data\n    prefix: backup/\n    delete: true\n    multipart_threshold: 5 MiB\n    multipart_chunk_size: 5 MiB\n"
    ));
    (p, bucket)
}

fn restore(p: &Project, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["restore", "-e", &p.env, "files"];
    all.extend_from_slice(args);
    p.run(&all)
}

fn rfc3339(t: SystemTime) -> String {
    s3rec::state::time::format_rfc3339(t)
}

/// A point in time between two syncs: listings carry whole seconds, so a full second on each side.
fn pause_for_a_point_in_time() -> String {
    std::thread::sleep(Duration::from_millis(1100));
    let at = rfc3339(SystemTime::now());
    std::thread::sleep(Duration::from_millis(1100));
    at
}

fn put_objects(bucket: &str, objects: &[(&str, &[u8])]) {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        for (key, body) in objects {
            s3.put_object()
                .bucket(bucket)
                .key(*key)
                .body(ByteStream::from(body.to_vec()))
                .send()
                .await
                .expect("put");
        }
    });
}

/// A project synced three times, with edits, deletes and re-additions between: each sync's point in
/// time and tree.
fn three_syncs(name: &str) -> (Project, String, [(String, Tree); 3]) {
    let (p, bucket) = project(name);
    let src = p.path("src");
    let big: Vec<u8> = (0..6 * 1024 * 1024 + 77).map(|i| (i * 13 % 251) as u8).collect();
    let first = {
        let mut t = tree(&[
            ("a.txt", b"alpha"),
            ("dir/b.txt", b"bravo"),
            ("dir/deep/c.bin", &[0u8; 10_000]),
            ("gone.txt", b"soon deleted"),
        ]);
        t.insert("big.bin".to_string(), big);
        t
    };
    set_tree(&src, &first);
    p.apply_ok();
    let at_first = pause_for_a_point_in_time();

    // Second: an edit, two deletes, an addition.
    let mut second = first.clone();
    second.insert("a.txt".to_string(), b"alpha, edited".to_vec());
    second.remove("dir/b.txt");
    second.remove("gone.txt");
    second.insert("new.txt".to_string(), b"new".to_vec());
    set_tree(&src, &second);
    let (code, out, err) = p.run(&["sync", "-e", &p.env]);
    assert_eq!(code, 0, "{out}\n{err}");
    let at_second = pause_for_a_point_in_time();

    // Third: a deleted file comes back with other content, another is edited.
    let mut third = second.clone();
    third.insert("dir/b.txt".to_string(), b"bravo, back again".to_vec());
    third.insert("new.txt".to_string(), b"newer content".to_vec());
    set_tree(&src, &third);
    let (code, out, err) = p.run(&["sync", "-e", &p.env]);
    assert_eq!(code, 0, "{out}\n{err}");
    let at_third = pause_for_a_point_in_time();
    (p, bucket, [(at_first, first), (at_second, second), (at_third, third)])
}

#[test]
fn each_of_three_syncs_is_restored_exactly_as_it_was() {
    let (p, bucket, [(at_first, first), (at_second, second), (at_third, third)]) = three_syncs("rst3");
    for (name, at, expected) in [
        ("r1", Some(&at_first), &first),
        ("r2", Some(&at_second), &second),
        ("r3", Some(&at_third), &third),
        ("latest", None, &third),
    ] {
        let into = p.path(name);
        let into_text = into.display().to_string();
        let mut args = vec!["--into", into_text.as_str()];
        if let Some(at) = at {
            args.extend(["--at", at.as_str()]);
        }
        // The dry run counts the set and writes nothing.
        let mut dry = args.clone();
        dry.push("--dry-run");
        let (code, out, err) = restore(&p, &dry);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(
            out.contains(&format!("restore.files: {} files (", expected.len())),
            "{name}: {out}"
        );
        assert!(out.contains("0 of them archived"), "{out}");
        assert!(!into.exists(), "a dry run creates nothing");

        let (code, out, err) = restore(&p, &args);
        assert_eq!(code, 0, "{name}:\n{out}\n{err}");
        assert!(out.contains(&format!("{} downloaded", expected.len())), "{out}");
        let restored = common::files_under(&into);
        assert_eq!(
            restored.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{name}: the tree of that time"
        );
        assert!(restored == *expected, "{name}: the bytes of that time");
    }

    // `--prefix` keeps the files under one directory.
    let into = p.path("dir-only");
    let (code, out, err) = restore(
        &p,
        &[
            "--at",
            &at_first,
            "--prefix",
            "dir/",
            "--into",
            &into.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        common::files_under(&into).into_keys().collect::<Vec<_>>(),
        ["dir/b.txt", "dir/deep/c.bin"]
    );

    // Versions are only read: every version and delete marker is still there.
    let versions = common::all_versions(&bucket);
    assert_eq!(versions.iter().filter(|v| v.2).count(), 2, "{versions:?}");
}

#[test]
fn hostile_keys_are_refused_and_nothing_is_written_outside_the_directory() {
    let (p, bucket) = project("rsthostile");
    set_tree(&p.path("src"), &tree(&[("ok.txt", b"fine")]));
    p.apply_ok();
    let hostile = [
        "backup/../../escape",
        "backup/a/../../../b",
        "backup/..\\..\\win",
        "backup/./dot",
        "backup/.s3rec-partial/planted",
    ];
    let objects: Vec<(&str, &[u8])> = hostile.iter().map(|k| (*k, b"evil".as_slice())).collect();
    put_objects(&bucket, &objects);

    let outer = p.path("outer");
    let into = outer.join("inner");
    let (code, out, err) = restore(&p, &["--into", &into.display().to_string()]);
    assert_eq!(code, 1, "refused keys fail the restore:\n{out}\n{err}");
    for key in hostile {
        assert!(err.contains(&format!("refused {key:?}")), "{key} not reported:\n{err}");
    }
    assert_eq!(common::files_under(&into), tree(&[("ok.txt", b"fine")]));
    let outside: Vec<String> = common::files_under(&outer)
        .into_keys()
        .filter(|k| !k.starts_with("inner/"))
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
    assert!(!p.dir.path().join("escape").exists() && !p.dir.path().join("b").exists());
    assert!(!p.dir.path().parent().expect("parent").join("escape").exists());
}

#[test]
fn a_killed_restore_resumes_without_downloading_a_finished_file_again() {
    let (p, _bucket) = project("rstkill");
    let files: Tree = (0..300)
        .map(|i| (format!("d{}/f{i:03}.bin", i % 7), vec![(i % 251) as u8; 2048 + i]))
        .collect();
    set_tree(&p.path("src"), &files);
    p.apply_ok();

    // Every request of the first restore waits 150 ms, so the kill finds it part way.
    let proxy = FaultProxy::start(&["--latency-ms", "150"]);
    let into = p.path("restored");
    let into_text = into.display().to_string();
    let mut child = p
        .s3rec_process()
        .env("S3REC_ENDPOINT_URL", &proxy.endpoint)
        .args(["restore", "-e", &p.env, "files", "--into", &into_text])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn restore");
    let mut waited = 0;
    while !(into.exists() && common::files_under(&into).len() >= 40) {
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the restore ended before it was killed"
        );
        assert!(waited < 6000, "the restore placed no 40 files");
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let placed = common::files_under(&into);
    assert!(placed.len() < files.len(), "the kill came after the last file");
    let mtimes: BTreeMap<String, SystemTime> = placed
        .keys()
        .map(|rel| {
            let meta = std::fs::metadata(into.join(rel)).expect("stat");
            (rel.clone(), meta.modified().expect("mtime"))
        })
        .collect();
    for (rel, content) in &placed {
        assert_eq!(Some(content), files.get(rel), "{rel}: a placed file is complete");
    }

    let (code, out, err) = restore(&p, &["--into", &into_text, "--json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let outcome: serde_json::Value = serde_json::from_str(&out).expect("JSON outcome");
    let count = |field: &str| {
        outcome[field]
            .as_u64()
            .unwrap_or_else(|| panic!("{field} in {outcome}")) as usize
    };
    assert_eq!(count("files"), files.len());
    assert_eq!(
        count("downloaded"),
        files.len() - placed.len(),
        "only what was not finished is downloaded: {outcome}"
    );
    assert_eq!(count("already_restored") + count("adopted"), placed.len(), "{outcome}");
    assert_eq!(common::files_under(&into), files);
    for (rel, before) in &mtimes {
        let after = std::fs::metadata(into.join(rel))
            .expect("stat")
            .modified()
            .expect("mtime");
        assert_eq!(*before, after, "{rel} was not written again");
    }

    // A third run has nothing left to do.
    let (code, out, err) = restore(&p, &["--into", &into_text, "--json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let outcome: serde_json::Value = serde_json::from_str(&out).expect("JSON outcome");
    assert_eq!(outcome["downloaded"], 0, "{outcome}");
    assert_eq!(outcome["already_restored"], files.len(), "{outcome}");
}

#[test]
fn a_template_that_cannot_be_inverted_is_refused_before_anything_is_restored() {
    let p = Project::new(&common::unique_name("rsttpl"));
    let bucket = format!("{}-data", p.env);
    p.write(&format!(
        "buckets:\n  data:\n    name: {bucket}\n    versioning: enabled\nsync:\n  files:\n    source: src\n    bucket: data\n    key_template: \"{{year}}/{{name}}\"\n"
    ));
    set_tree(&p.path("src"), &tree(&[("a/x.txt", b"x")]));
    p.apply_ok();
    let into = p.path("r");
    let (code, out, err) = restore(&p, &["--into", &into.display().to_string()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("cannot be inverted"), "{err}");
    assert!(err.contains("{year}/{name}"), "{err}");
    assert!(!into.exists(), "nothing was restored");
}

#[test]
fn verify_only_checks_every_object_writes_nothing_and_reports_the_result() {
    let rt = common::runtime();
    let p = Project::new(&common::unique_name("rstver"));
    let bucket = format!("{}-data", p.env);
    let (queue_url, queue_arn) = rt.block_on(queue::queue(&format!("{}-q", p.env)));
    p.write(&format!(
        "sns:\n  topics:\n    runs:\n      name: {env}-runs\n      subscriptions:\n        - {{protocol: sqs, endpoint: \"{queue_arn}\"}}\nreport: {{topic: runs, on: [restore]}}\nbuckets:\n  data:\n    name: {bucket}\n    versioning: enabled\nsync:\n  files:\n    source: src\n    bucket: data\n    prefix: backup/\n    multipart_threshold: 5 MiB\n    multipart_chunk_size: 5 MiB\n",
        env = p.env
    ));
    let big: Vec<u8> = (0..11 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    let mut first = tree(&[("a.txt", b"alpha"), ("d/b.txt", b"bravo")]);
    first.insert("big.bin".to_string(), big);
    set_tree(&p.path("src"), &first);
    p.apply_ok();
    let at = pause_for_a_point_in_time();
    // An object archived after that time does not count at it, but fails the latest set.
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3(common::TEST_REGION)
            .put_object()
            .bucket(&bucket)
            .key("backup/cold.txt")
            .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
            .body(ByteStream::from_static(b"cold"))
            .send()
            .await
            .expect("put archived");
    });
    let before = std::fs::read_dir(p.dir.path()).expect("ls").count();

    let (code, out, err) = restore(&p, &["--verify-only", "--at", &at]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("restore.files: 3 files"), "{out}");
    assert!(out.contains("3 verified, 0 failed"), "{out}");
    assert_eq!(
        std::fs::read_dir(p.dir.path()).expect("ls").count(),
        before,
        "nothing is written"
    );
    let messages = rt.block_on(queue::receive_all(&queue_url));
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(
        messages[0]["Subject"],
        format!("s3rec restore {}: succeeded (3 verified)", p.env)
    );
    let text = messages[0]["Message"].as_str().expect("Message");
    let (_, json) = text
        .split_once(&format!("\n{}\n", s3rec::report::JSON_MARKER))
        .unwrap_or_else(|| panic!("no JSON part in:\n{text}"));
    let report: serde_json::Value = serde_json::from_str(json).expect("JSON");
    assert_eq!(report["command"], "restore");
    assert_eq!(report["restores"][0]["mapping"], "files");
    assert_eq!(report["restores"][0]["mode"], "verify-only");
    assert_eq!(report["restores"][0]["verified"], 3);
    assert_eq!(report["restores"][0]["at"], at.as_str());

    // The latest set holds the archived object, which cannot be read: the run fails and says why.
    let (code, out, err) = restore(&p, &["--verify-only"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("3 verified, 1 failed"), "{out}");
    assert!(
        err.contains("backup/cold.txt") && err.contains("Glacier restore"),
        "{err}"
    );
    let messages = rt.block_on(queue::receive_all(&queue_url));
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(
        messages[0]["Subject"],
        format!("s3rec restore {}: failed (3 verified, 1 failed)", p.env)
    );
}

/// The current objects under `prefix`, downloaded: key without the prefix → content.
fn current_objects(bucket: &str, prefix: &str) -> Tree {
    common::object_bodies(bucket, prefix)
        .into_iter()
        .map(|(key, body)| (key[prefix.len()..].to_string(), body))
        .collect()
}

#[test]
fn in_place_makes_the_current_versions_those_of_the_first_sync_and_loses_no_version() {
    let (p, bucket, [(at_first, first), _, (_, third)]) = three_syncs("rstinpl");
    assert_eq!(current_objects(&bucket, "backup/"), third);
    let before = common::all_versions(&bucket);

    // The plan: a.txt, dir/b.txt and gone.txt copied back, new.txt hidden, big.bin and c.bin as they are.
    let (code, out, err) = restore(&p, &["--in-place", "--at", &at_first, "--dry-run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("3 versions to copy back")
            && out.contains("1 delete marker to add")
            && out.contains("2 keys already current"),
        "{out}"
    );
    assert!(
        out.contains("delete marker s3://") && out.contains("backup/new.txt"),
        "{out}"
    );
    assert_eq!(common::all_versions(&bucket), before, "a dry run changes nothing");
    // Without a terminal and without --auto-approve, nothing happens.
    let (code, _, err) = restore(&p, &["--in-place", "--at", &at_first]);
    assert_eq!(code, 1);
    assert!(err.contains("--auto-approve"), "{err}");
    assert_eq!(common::all_versions(&bucket), before);

    let (code, out, err) = restore(&p, &["--in-place", "--at", &at_first, "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("3 versions copied back"), "{out}");
    assert_eq!(
        current_objects(&bucket, "backup/"),
        first,
        "the current versions are the first sync's"
    );
    let after = common::all_versions(&bucket);
    for version in &before {
        assert!(after.contains(version), "{version:?} was lost");
    }
    assert_eq!(after.len(), before.len() + 4, "3 copies and 1 delete marker on top");

    // A restore --into of the latest versions now gives the first sync's tree too.
    let into = p.path("after-in-place");
    let (code, out, err) = restore(&p, &["--into", &into.display().to_string()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(common::files_under(&into) == first);
}

#[test]
fn retention_is_planned_and_applied_as_lifecycle_rules_next_to_the_buckets_own() {
    let p = Project::new(&common::unique_name("rstret"));
    let bucket = format!("{}-data", p.env);
    p.write(&format!(
        "buckets:\n  data:\n    name: {bucket}\n    versioning: enabled\n    lifecycle:\n      - id: tier\n        transitions:\n          - {{days: 30, storage_class: STANDARD_IA}}\nsync:\n  files:\n    source: src\n    bucket: data\n    prefix: backup/\n    retention: {{noncurrent_days: 30, delete_markers: expire}}\n"
    ));
    // `keep_versions` is left out: moto accepts but does not keep `NewerNoncurrentVersions`
    // (docs/testing.md), so the plan would never converge here; the unit tests cover its rule.
    set_tree(&p.path("src"), &tree(&[("a.txt", b"a")]));
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("s3rec-retention-files"), "{plan}");
    assert!(plan.contains("tier"), "{plan}");
    p.apply_ok();
    let rules = common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3(common::TEST_REGION)
            .get_bucket_lifecycle_configuration()
            .bucket(&bucket)
            .send()
            .await
            .expect("lifecycle")
            .rules()
            .to_vec()
    });
    assert_eq!(rules.len(), 2, "{rules:#?}");
    let retention = rules
        .iter()
        .find(|r| r.id() == Some("s3rec-retention-files"))
        .unwrap_or_else(|| panic!("{rules:#?}"));
    assert_eq!(
        retention.filter().and_then(|f| f.prefix()),
        Some("backup/"),
        "{retention:?}"
    );
    let noncurrent = retention
        .noncurrent_version_expiration()
        .expect("noncurrent expiration");
    assert_eq!(noncurrent.noncurrent_days(), Some(30));
    assert_eq!(
        retention.expiration().and_then(|e| e.expired_object_delete_marker()),
        Some(true)
    );
    p.assert_converged();
}

#[test]
fn archived_objects_are_restored_first_and_the_dry_run_estimates_it() {
    let (p, bucket) = project("rstglacier");
    set_tree(&p.path("src"), &tree(&[("warm.txt", b"warm")]));
    p.apply_ok();
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3(common::TEST_REGION)
            .put_object()
            .bucket(&bucket)
            .key("backup/cold/old.txt")
            .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
            .body(ByteStream::from_static(b"frozen"))
            .send()
            .await
            .expect("put archived");
    });
    let expected = tree(&[("warm.txt", b"warm"), ("cold/old.txt", b"frozen")]);

    let into = p.path("r");
    let into_text = into.display().to_string();
    let (code, out, err) = restore(&p, &["--into", &into_text, "--dry-run", "--tier", "expedited"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 of them archived"), "{out}");
    assert!(
        out.contains("1 object in GLACIER to restore first, Expedited tier: about $0.01")
            && out.contains("1-5 minutes"),
        "{out}"
    );

    // Without --wait the run asks for the restore and says what is left; the next run downloads it.
    let (code, out, err) = restore(&p, &["--into", &into_text]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("1 object archived") && err.contains("1 restore requested"),
        "{err}"
    );
    assert_eq!(common::files_under(&into), tree(&[("warm.txt", b"warm")]));
    let (code, out, err) = restore(&p, &["--into", &into_text, "--json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let outcome: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(outcome["downloaded"], 1, "{outcome}");
    assert_eq!(common::files_under(&into), expected);

    // With --wait one run restores and downloads everything.
    let fresh = p.path("waited");
    let (code, out, err) = restore(
        &p,
        &[
            "--into",
            &fresh.display().to_string(),
            "--wait",
            "--poll-interval",
            "100ms",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(common::files_under(&fresh), expected);
}

#[test]
fn in_place_restores_archived_old_versions_first_and_hides_keys_only_once_they_are_copied() {
    let (p, bucket) = project("rstinplcold");
    set_tree(&p.path("src"), &tree(&[("warm.txt", b"warm")]));
    p.apply_ok();
    // Old versions that lifecycle moved to GLACIER: written archived, then overwritten. moto restores
    // only a key's latest version (RestoreObject ignores the version ID), so the one under `thawed/` is
    // restored while it still is the latest; the one under `stuck/` never can be.
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        for key in ["backup/thawed/cold.txt", "backup/stuck/cold.txt"] {
            s3.put_object()
                .bucket(&bucket)
                .key(key)
                .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
                .body(ByteStream::from_static(b"frozen, as it was"))
                .send()
                .await
                .expect("put archived");
        }
        s3.restore_object()
            .bucket(&bucket)
            .key("backup/thawed/cold.txt")
            .restore_request(aws_sdk_s3::types::RestoreRequest::builder().days(1).build())
            .send()
            .await
            .expect("restore");
    });
    let at = pause_for_a_point_in_time();
    put_objects(
        &bucket,
        &[
            ("backup/thawed/cold.txt", b"changed since"),
            ("backup/thawed/later.txt", b"new since"),
            ("backup/stuck/cold.txt", b"changed since"),
            ("backup/stuck/later.txt", b"new since"),
        ],
    );
    let before = common::all_versions(&bucket);

    let (code, out, err) = restore(&p, &["--in-place", "--at", &at, "--prefix", "stuck/", "--dry-run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("GLACIER: restored first"), "{out}");
    assert!(
        out.contains("1 version archived, restored first (Standard tier"),
        "{out}"
    );

    // A version S3 cannot copy yet is not copied, and no key is hidden while it waits: the run says so.
    let (code, out, err) = restore(&p, &["--in-place", "--at", &at, "--prefix", "stuck/", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("1 version archived") && err.contains("no delete marker was added"),
        "{err}"
    );
    assert!(
        out.contains("0 versions copied back") && out.contains("0 delete markers added"),
        "{out}"
    );
    assert_eq!(common::all_versions(&bucket), before, "nothing copied, no key hidden");

    // A restored one is copied back in its class, then the key written since is hidden.
    let (code, out, err) = restore(
        &p,
        &["--in-place", "--at", &at, "--prefix", "thawed/", "--auto-approve"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("1 version copied back") && out.contains("1 delete marker added"),
        "{out}"
    );
    // The copy is archived as the version was, so it is checked by HEAD: its class, size and ETag (a
    // copy of a single-part object keeps its MD5), and the key written since answers 404.
    let (class, length, etag, later) = common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key("backup/thawed/cold.txt")
            .send()
            .await
            .expect("head");
        let later = s3
            .head_object()
            .bucket(&bucket)
            .key("backup/thawed/later.txt")
            .send()
            .await;
        (
            head.storage_class().map(|c| c.as_str().to_string()),
            head.content_length(),
            head.e_tag().map(str::to_string),
            later.is_err(),
        )
    });
    assert_eq!(class.as_deref(), Some("GLACIER"));
    assert_eq!(length, Some(17));
    assert_eq!(etag.as_deref(), Some("\"85ff5da6501172114bcf3232c887b827\""));
    assert!(later, "later.txt is hidden by a delete marker");
    let after = common::all_versions(&bucket);
    for version in &before {
        assert!(after.contains(version), "{version:?} was lost");
    }
    assert_eq!(after.len(), before.len() + 2, "1 copy and 1 delete marker on top");
}
