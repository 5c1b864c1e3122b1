//! Ctrl-C and SIGTERM stop a run cleanly: nothing new starts, the calls in flight finish, the run is
//! recorded as `cancelled`, the lock is released and the exit code is 130 or 143. A fault proxy adds
//! latency so that the signal arrives while the run still has work to do.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fault_proxy::FaultProxy;
use project::Project;
use s3rec::state::{Outcome, RunOutcome};

/// Sends `signal` (`INT`, `TERM`) to the child with the system's `kill`.
fn send(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill(1)");
    assert!(status.success(), "kill -{signal} failed");
}

/// Waits until `ready` holds, polling; panics with `what` after two minutes, or at once when the
/// child ended before it did.
fn wait_for(child: &mut Child, what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut stderr).ok();
            }
            panic!("s3rec ended ({status}) before {what}:\n{stderr}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child to exit; returns its exit code and stderr.
fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn last_run_outcome(p: &Project) -> Option<RunOutcome> {
    let runs = p.state().runs(1).expect("runs");
    runs.first().and_then(|r| r.outcome)
}

#[test]
fn sigint_during_a_sync_finishes_the_uploads_in_flight_and_records_a_cancelled_run() {
    let proxy = FaultProxy::start(&["--latency-ms", "150"]);
    let mut p = Project::new("dev");
    p.endpoint = proxy.endpoint.clone();
    let bucket = common::unique_name("sigint-sync");
    p.write(&format!(
        "buckets:\n  data:\n    name: {bucket}\nsync:\n  files:\n    source: src\n    bucket: data\n    prefix: backup/\n"
    ));
    let files = 1200;
    for i in 0..files {
        let path = p.path(&format!("src/d{}/f{i}.bin", i % 7));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, common::data(2048, i)).expect("write");
    }
    let (code, out, err) = p.run(&["apply", "-e", "dev", "--auto-approve", "--target", "bucket.data"]);
    assert_eq!(code, 0, "{out}\n{err}");

    let mut child = p
        .s3rec_process()
        .args(["sync", "-e", "dev"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sync");
    let uploads = || {
        proxy
            .requests()
            .iter()
            .filter(|(op, _)| op.starts_with(&format!("PUT /{bucket}/backup/")))
            .count()
    };
    wait_for(&mut child, "the first uploads", || uploads() >= 64);
    send(&child, "INT");
    let (code, stderr) = finish(child);
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("SIGINT received"), "{stderr}");
    assert_eq!(last_run_outcome(&p), Some(RunOutcome::Cancelled), "{stderr}");
    let uploaded_then = uploads();
    assert!(
        uploaded_then < files as usize,
        "the signal came after every upload: {uploaded_then}"
    );

    // The lock is free and the next run uploads the rest; every object is the file it came from.
    let (code, out, err) = p.run(&["sync", "-e", "dev"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let rt = common::runtime();
    rt.block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        let mut listed = 0;
        let mut token = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(&bucket)
                .set_continuation_token(token)
                .send()
                .await
                .expect("list");
            listed += page.contents().len();
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        assert_eq!(listed, files as usize);
        let uploads = s3
            .list_multipart_uploads()
            .bucket(&bucket)
            .send()
            .await
            .expect("list uploads");
        assert!(uploads.uploads().is_empty(), "orphan uploads: {:?}", uploads.uploads());
        for i in (0..files).step_by(97) {
            let key = format!("backup/d{}/f{i}.bin", i % 7);
            let body = s3
                .get_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .expect("get")
                .body
                .collect()
                .await
                .expect("body")
                .into_bytes();
            assert_eq!(body.as_ref(), common::data(2048, i).as_slice(), "{key}");
        }
    });
}

#[test]
fn sigterm_during_an_apply_stops_starting_actions_and_a_rerun_converges() {
    let proxy = FaultProxy::start(&["--latency-ms", "120"]);
    let mut p = Project::new("dev");
    p.endpoint = proxy.endpoint.clone();
    let mut body = String::from("buckets:\n");
    let names: Vec<String> = (0..8).map(|i| common::unique_name(&format!("sigterm-{i}"))).collect();
    for (i, name) in names.iter().enumerate() {
        body.push_str(&format!(
            "  b{i}:\n    name: {name}\n    versioning: enabled\n    tags: {{team: core, n: \"{i}\"}}\n    encryption: {{algorithm: AES256}}\n"
        ));
    }
    p.write(&body);
    let mut child = p
        .s3rec_process()
        .args(["apply", "-e", "dev", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apply");
    let creates = || {
        proxy
            .requests()
            .iter()
            .filter(|(op, _)| names.iter().any(|n| op.trim_end_matches('/') == format!("PUT /{n}")))
            .count()
    };
    wait_for(&mut child, "the first bucket creation", || creates() >= 2);
    send(&child, "TERM");
    let (code, stderr) = finish(child);
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(
        creates() < names.len(),
        "the signal came after every bucket was created"
    );
    let state = p.state();
    let run = state.runs(1).expect("runs").remove(0);
    assert_eq!(run.outcome, Some(RunOutcome::Cancelled));
    // The calls in flight finished: no action of the cancelled run is left looking half-done.
    let journal = state.journal(run.id).expect("journal");
    assert!(
        journal.iter().all(|e| e.outcome != Outcome::Started),
        "an action of the cancelled run was left started: {journal:?}"
    );
    assert!(state.interrupted_entries().expect("interrupted").is_empty());
    drop(state);

    p.apply_ok();
    p.assert_converged();
}
