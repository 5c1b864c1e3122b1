//! `s3rec sync` and sync mappings in `plan`/`apply`, through the real binary against the moto emulator:
//! what is uploaded is byte-identical to its source, an unchanged tree uploads nothing, changes and
//! deletes are picked up, routes and key templates place objects, and bad input gets a clear message.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;

use std::collections::BTreeMap;
use std::path::Path;

use fault_proxy::FaultProxy;
use project::Project;
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `files` (relative path → content) under `dir`.
fn write_tree(dir: &Path, files: &[(&str, Vec<u8>)]) {
    for (rel, content) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
}

/// Every object of `bucket` under `prefix`, downloaded: key → SHA-256 of the content.
fn bucket_contents(bucket: &str, prefix: &str) -> BTreeMap<String, String> {
    common::object_bodies(bucket, prefix)
        .into_iter()
        .map(|(key, body)| (key, sha256(&body)))
        .collect()
}

/// A project whose manifest has bucket `data` (created by apply) and mapping `files` from `src/`.
fn project(mapping_extra: &str) -> (Project, String) {
    let p = Project::new(&common::unique_name("sync"));
    let bucket = format!("{}-data", p.env);
    p.write(&format!(
        "buckets:\n  data:\n    name: {bucket}\nsync:\n  files:\n    source: src\n    bucket: data\n    prefix: backup/\n{mapping_extra}"
    ));
    (p, bucket)
}

fn sync(p: &Project, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["sync", "-e", &p.env];
    args.extend_from_slice(extra);
    p.run(&args)
}

#[test]
fn a_tree_is_uploaded_byte_identical_then_nothing_until_it_changes() {
    let (p, bucket) = project("    delete: true\n    multipart_threshold: 5 MiB\n    multipart_chunk_size: 5 MiB\n");
    let src = p.path("src");
    let big: Vec<u8> = (0..12 * 1024 * 1024 + 123).map(|i| (i * 7 % 251) as u8).collect();
    write_tree(
        &src,
        &[
            ("a.txt", b"alpha".to_vec()),
            ("dir/b.txt", b"bravo".to_vec()),
            ("dir/deeper/c.bin", vec![0u8; 10_000]),
            ("big.bin", big.clone()),
        ],
    );
    // The plan shows the work; apply creates the bucket, then syncs.
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("sync.files: 4 to upload"), "{plan}");
    p.apply_ok();
    let expected: BTreeMap<String, String> = [
        ("backup/a.txt", sha256(b"alpha")),
        ("backup/dir/b.txt", sha256(b"bravo")),
        ("backup/dir/deeper/c.bin", sha256(&[0u8; 10_000])),
        ("backup/big.bin", sha256(&big)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(bucket_contents(&bucket, "backup/"), expected);
    p.assert_converged();

    // Nothing changed: nothing uploaded.
    let (code, out, err) = sync(&p, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("sync.files: up to date (4 files)"), "{out}");

    // One file changed (content and mtime), one removed, one added.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_tree(
        &src,
        &[("a.txt", b"alpha, edited".to_vec()), ("new.txt", b"new".to_vec())],
    );
    std::fs::remove_file(src.join("dir/b.txt")).expect("remove");
    let (code, out, _) = sync(&p, &["--dry-run"]);
    assert_eq!(code, 0);
    assert!(out.contains("2 to upload"), "{out}");
    assert!(out.contains("1 to delete"), "{out}");
    assert!(out.contains("delete s3://"), "{out}");
    assert_eq!(
        bucket_contents(&bucket, "backup/").len(),
        4,
        "a dry run changes nothing"
    );
    let (code, out, err) = sync(&p, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let now = bucket_contents(&bucket, "backup/");
    assert_eq!(now.get("backup/a.txt"), Some(&sha256(b"alpha, edited")));
    assert_eq!(now.get("backup/new.txt"), Some(&sha256(b"new")));
    assert!(!now.contains_key("backup/dir/b.txt"), "deleted with delete: true");
    let (_, out, _) = sync(&p, &[]);
    assert!(out.contains("up to date"), "{out}");
}

#[test]
fn without_delete_extraneous_objects_stay_and_a_fresh_index_adopts_what_is_there() {
    let (p, bucket) = project("");
    write_tree(
        &p.path("src"),
        &[("keep.txt", b"k".to_vec()), ("gone.txt", b"g".to_vec())],
    );
    p.apply_ok();
    std::fs::remove_file(p.path("src/gone.txt")).expect("remove");
    let (code, out, _) = sync(&p, &[]);
    assert_eq!(code, 0);
    assert!(out.contains("up to date (1 file)"), "{out}");
    assert_eq!(bucket_contents(&bucket, "backup/").len(), 2, "no delete unless asked");

    // A lost state: the objects are as new as the files and the same size, so nothing is uploaded.
    std::fs::remove_file(p.path(&format!(".s3rec/{}.db", p.env))).expect("remove state");
    let (code, out, err) = sync(&p, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("up to date (1 file)"), "{out}");
}

#[test]
fn routes_and_key_templates_place_objects() {
    let p = Project::new(&common::unique_name("route"));
    let (docs, photos) = (format!("{}-docs", p.env), format!("{}-photos", p.env));
    p.write(&format!(
        "buckets:\n  docs:\n    name: {docs}\n  photos:\n    name: {photos}\nsync:\n  office:\n    source: share\n    bucket: docs\n    key_template: \"{{dir}}/{{name}}\"\n    routes:\n      - extensions: [jpg, PNG]\n        bucket: photos\n        prefix: camera/\n        storage_class: STANDARD_IA\n"
    ));
    write_tree(
        &p.path("share"),
        &[("letters/a.pdf", b"pdf".to_vec()), ("trip/IMG.JPG", b"jpg".to_vec())],
    );
    p.apply_ok();
    assert_eq!(
        bucket_contents(&docs, "").keys().collect::<Vec<_>>(),
        vec!["letters/a.pdf"]
    );
    assert_eq!(
        bucket_contents(&photos, "").keys().collect::<Vec<_>>(),
        vec!["camera/trip/IMG.JPG"]
    );
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let head = aws
            .s3(common::TEST_REGION)
            .head_object()
            .bucket(&photos)
            .key("camera/trip/IMG.JPG")
            .send()
            .await
            .expect("head");
        assert_eq!(head.storage_class().map(|c| c.as_str()), Some("STANDARD_IA"));
        assert!(head.metadata().is_some_and(|m| m.contains_key("mtime")), "{head:?}");
    });
}

/// The Content-Type of each object of `bucket`: key → type (empty when the server sends none).
fn content_types(bucket: &str, keys: &[&str]) -> BTreeMap<String, String> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        let mut out = BTreeMap::new();
        for key in keys {
            let head = s3.head_object().bucket(bucket).key(*key).send().await.expect("head");
            out.insert(key.to_string(), head.content_type().unwrap_or_default().to_string());
        }
        out
    })
}

#[test]
fn objects_get_the_content_type_of_their_file_s_extension() {
    // 6 MiB goes up in parts, so CreateMultipartUpload carries the type too.
    let (p, bucket) = project("    multipart_threshold: 5 MiB\n    multipart_chunk_size: 5 MiB\n");
    write_tree(
        &p.path("src"),
        &[
            ("notes.txt", b"plain text".to_vec()),
            ("site/index.html", b"<!doctype html><p>hi</p>".to_vec()),
            ("data.json", b"{\"a\": 1}".to_vec()),
            ("photos/IMG_1.JPG", vec![0xff, 0xd8, 0xff, 0xe0]),
            ("disk.s3rec-unknown", vec![1, 2, 3]),
            ("big.json", vec![b' '; 6 * 1024 * 1024]),
        ],
    );
    p.apply_ok();
    let keys = [
        "backup/notes.txt",
        "backup/site/index.html",
        "backup/data.json",
        "backup/photos/IMG_1.JPG",
        "backup/disk.s3rec-unknown",
        "backup/big.json",
    ];
    let expected: BTreeMap<String, String> = keys
        .iter()
        .zip([
            "text/plain",
            "text/html",
            "application/json",
            "image/jpeg",
            "application/octet-stream",
            "application/json",
        ])
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect();
    assert_eq!(content_types(&bucket, &keys), expected);
}

#[test]
fn a_route_s_content_type_wins_over_the_mapping_s_and_the_mapping_s_over_the_extension() {
    let (p, bucket) = project(
        "    content_type: \"text/plain; charset=utf-8\"\n    routes:\n      - extensions: [log]\n        bucket: data\n        prefix: logs/\n        content_type: application/x-ndjson\n",
    );
    write_tree(
        &p.path("src"),
        &[
            ("page.html", b"<p>shown as text</p>".to_vec()),
            ("app.log", b"{\"level\": \"info\"}".to_vec()),
        ],
    );
    p.apply_ok();
    let keys = ["backup/page.html", "logs/app.log"];
    let expected: BTreeMap<String, String> = keys
        .iter()
        .zip(["text/plain; charset=utf-8", "application/x-ndjson"])
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect();
    assert_eq!(content_types(&bucket, &keys), expected);
}

#[test]
fn bad_input_gets_a_clear_message() {
    // A source directory that is not on this machine: plan and apply (often run in CI, away from the
    // files) warn and leave the mapping out; `s3rec sync` fails with the message.
    let (p, _) = project("");
    let (_, plan) = p.plan();
    assert!(plan.contains("sync.files: the source directory"), "{plan}");
    assert!(plan.contains("does not exist; not compared here"), "{plan}");
    p.apply_ok();
    let (code, _, err) = sync(&p, &[]);
    assert_eq!(code, 1);
    assert!(
        common::flat(&err).contains("sync mapping `files` does not exist"),
        "{err}"
    );

    // A mapping name that is not in the manifest.
    let (code, _, err) = sync(&p, &["nope"]);
    assert_eq!(code, 1);
    assert!(
        common::flat(&err).contains("sync mapping `nope` is not in environment"),
        "{err}"
    );

    // A destination bucket that does not exist yet (sync does not create buckets: apply does).
    let (q, bucket) = project("");
    write_tree(&q.path("src"), &[("a", b"a".to_vec())]);
    let (code, _, err) = sync(&q, &[]);
    assert_eq!(code, 1);
    assert!(
        common::flat(&err).contains(&format!("uploads to bucket {bucket}, which does not exist")),
        "{err}"
    );

    // A name that is not UTF-8 is reported and fails the run; the other files are uploaded.
    use std::os::unix::ffi::OsStrExt;
    let (r, bucket) = project("");
    write_tree(&r.path("src"), &[("fine.txt", b"ok".to_vec())]);
    std::fs::write(r.path("src").join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt")), b"x").expect("write");
    r.apply_ok_or_sync_failure();
    let (code, _, err) = sync(&r, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not valid UTF-8"), "{err}");
    assert!(bucket_contents(&bucket, "backup/").contains_key("backup/fine.txt"));

    // A file that cannot be read (here a link, followed, to nothing; a permission problem looks the same
    // but root reads everything) is reported and fails the run.
    let (u, _) = project("    follow_symlinks: true\n");
    write_tree(&u.path("src"), &[("ok.txt", b"o".to_vec())]);
    std::os::unix::fs::symlink(u.path("src/missing-target"), u.path("src/dangling")).expect("symlink");
    u.apply_ok_or_sync_failure();
    let (code, _, err) = sync(&u, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("dangling") && err.contains("cannot be read"), "{err}");
}

#[test]
fn objects_of_a_directory_the_walk_cannot_read_are_not_deleted() {
    // The share is a followed link; when it is not mounted (here: its target moved away) the walk cannot
    // read it, which root hits too, unlike a chmod. Its files are then unknown, not deleted.
    let (p, bucket) = project("    delete: true\n    follow_symlinks: true\n");
    write_tree(
        &p.path("src"),
        &[("local.txt", b"l".to_vec()), ("gone.txt", b"g".to_vec())],
    );
    write_tree(
        &p.path("mounted"),
        &[("a.txt", b"a".to_vec()), ("sub/b.txt", b"b".to_vec())],
    );
    std::os::unix::fs::symlink(p.path("mounted"), p.path("src/share")).expect("symlink");
    p.apply_ok();
    let before = bucket_contents(&bucket, "backup/");
    assert_eq!(before.len(), 4, "{before:?}");

    std::fs::rename(p.path("mounted"), p.path("unmounted")).expect("unmount");
    std::fs::remove_file(p.path("src/gone.txt")).expect("remove");
    let (code, out, err) = sync(&p, &["--dry-run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 to delete"), "{out}");
    assert!(err.contains("not deleting 2 objects"), "{err}");

    let (code, out, err) = sync(&p, &[]);
    assert_eq!(code, 1, "a walk error fails the run\n{out}\n{err}");
    assert!(err.contains("share") && err.contains("cannot be read"), "{err}");
    assert!(err.contains("not deleting 2 objects"), "{err}");
    let after = bucket_contents(&bucket, "backup/");
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        vec!["backup/local.txt", "backup/share/a.txt", "backup/share/sub/b.txt"],
        "the unreadable share's objects survive; the really deleted file's object goes"
    );
    assert_eq!(after.get("backup/share/a.txt"), before.get("backup/share/a.txt"));
}

/// Applies with the source held aside (so apply creates the bucket and has nothing to sync), puts the
/// source back, and starts `s3rec sync` in the background, for tests that act while it runs.
fn start_sync_with_only_the_bucket_applied(p: &Project) -> std::process::Child {
    std::fs::rename(p.path("src"), p.path("held")).expect("hold the source");
    std::fs::create_dir(p.path("src")).expect("empty source");
    p.apply_ok();
    std::fs::remove_dir(p.path("src")).expect("rmdir");
    std::fs::rename(p.path("held"), p.path("src")).expect("restore the source");
    p.s3rec_process()
        .args(["sync", "-e", &p.env])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn")
}

trait ApplyAllowingSyncFailure {
    fn apply_ok_or_sync_failure(&self);
}

impl ApplyAllowingSyncFailure for Project {
    /// Apply, which creates the bucket and may then fail in its sync step.
    fn apply_ok_or_sync_failure(&self) {
        let (code, out, err) = self.apply();
        assert!(
            code == 0 || out.contains("sync mapping(s) had failures"),
            "{out}\n{err}"
        );
    }
}

#[test]
fn a_sync_killed_during_a_multipart_upload_resumes_it() {
    let (p, bucket) = project(
        "    multipart_threshold: 5 MiB\n    multipart_chunk_size: 5 MiB\n    concurrency: 1\n    checksum: sha256\n",
    );
    let big: Vec<u8> = (0..80 * 1024 * 1024)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    write_tree(&p.path("src"), &[("big.bin", big.clone())]);
    // Start the sync and kill it as soon as the index has recorded a finished part.
    let mut running = start_sync_with_only_the_bucket_applied(&p);
    let db = p.path(&format!(".s3rec/{}.db", p.env));
    let parts_recorded = || {
        rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT count(*) FROM sync_parts", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while parts_recorded() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no part was recorded in two minutes"
        );
        assert!(
            running.try_wait().expect("wait").is_none(),
            "the sync finished before a part was recorded: make the file larger"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    running.kill().expect("kill");
    running.wait().expect("reap");
    let pending: (String, i64) = rusqlite::Connection::open(&db)
        .and_then(|c| {
            c.query_row(
                "SELECT u.upload_id, count(*) FROM sync_uploads u JOIN sync_parts p USING (upload_id) GROUP BY u.upload_id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .expect("the interrupted upload is in the index");
    assert!(pending.1 >= 1);

    // The next run continues that upload (the same upload ID completes) and the object is whole.
    let (code, out, err) = sync(&p, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let left: i64 = rusqlite::Connection::open(&db)
        .and_then(|c| c.query_row("SELECT count(*) FROM sync_uploads", [], |r| r.get(0)))
        .expect("count");
    assert_eq!(left, 0, "the finished upload is forgotten");
    assert_eq!(
        bucket_contents(&bucket, "backup/").get("backup/big.bin"),
        Some(&sha256(&big))
    );
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let uploads = aws
            .s3(common::TEST_REGION)
            .list_multipart_uploads()
            .bucket(&bucket)
            .send()
            .await
            .expect("uploads");
        assert!(uploads.uploads().is_empty(), "nothing left half-uploaded: {uploads:?}");
    });
}

/// Multipart uploads in progress in `bucket`, asked of the emulator directly: (key, upload id).
fn uploads_in_progress(bucket: &str) -> Vec<(String, String)> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let listed = aws
            .s3(common::TEST_REGION)
            .list_multipart_uploads()
            .bucket(bucket)
            .send()
            .await
            .expect("uploads");
        listed
            .uploads()
            .iter()
            .map(|u| {
                (
                    u.key().unwrap_or_default().to_string(),
                    u.upload_id().unwrap_or_default().to_string(),
                )
            })
            .collect()
    })
}

/// The manifest body of bucket `data` (named `bucket`) and mapping `files` from `src/` into `backup/`, with
/// 5 MiB parts from 5 MiB on, then `mapping_extra`.
fn multipart_manifest(bucket: &str, mapping_extra: &str) -> String {
    format!(
        "buckets:\n  data:\n    name: {bucket}\nsync:\n  files:\n    source: src\n    bucket: data\n    prefix: backup/\n    multipart_threshold: 5 MiB\n    multipart_chunk_size: 5 MiB\n{mapping_extra}"
    )
}

/// A project like [`project`] whose manifest points at `endpoint` (a fault proxy), with one 12 MiB file
/// that goes up in three 5 MiB parts.
fn multipart_project(endpoint: &str) -> (Project, String, Vec<u8>) {
    let mut p = Project::new(&common::unique_name("mpu"));
    p.endpoint = endpoint.to_string();
    let bucket = format!("{}-data", p.env);
    p.write(&multipart_manifest(&bucket, ""));
    let big = common::data(12 * 1024 * 1024 + 7, 12);
    write_tree(&p.path("src"), &[("big.bin", big.clone())]);
    (p, bucket, big)
}

#[test]
fn a_lost_answer_to_create_multipart_upload_leaves_no_upload_behind() {
    // The server creates the upload, then the connection drops before the answer arrives.
    let proxy = FaultProxy::start(&[
        "--match",
        r"POST .*\?uploads",
        "--first",
        "1",
        "--faults",
        "lost-response",
    ]);
    let (p, bucket, big) = multipart_project(&proxy.endpoint);
    let (code, out, err) = p.apply();
    assert_eq!(code, 0, "the file is uploaded in the same run\n{out}\n{err}");
    assert!(
        proxy
            .requests()
            .iter()
            .any(|(op, fault)| op.starts_with("POST") && fault == "lost-response"),
        "{:?}",
        proxy.requests()
    );
    assert_eq!(
        bucket_contents(&bucket, "backup/").get("backup/big.bin"),
        Some(&sha256(&big))
    );
    assert_eq!(
        uploads_in_progress(&bucket),
        vec![],
        "the upload whose answer was lost is aborted"
    );
    let (code, out, _) = sync(&p, &[]);
    assert_eq!(code, 0);
    assert!(out.contains("up to date"), "{out}");
}

#[test]
fn a_sync_killed_before_it_learned_an_upload_id_has_that_upload_aborted_by_the_next() {
    // Every CreateMultipartUpload loses its answer, so the index never learns an id; the sync is killed
    // once the emulator holds such an upload.
    let proxy = FaultProxy::start(&[
        "--match",
        r"POST .*\?uploads",
        "--first",
        "1000",
        "--faults",
        "lost-response",
    ]);
    let (p, bucket, big) = multipart_project(&proxy.endpoint);
    let mut running = start_sync_with_only_the_bucket_applied(&p);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while uploads_in_progress(&bucket).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no upload was created in a minute"
        );
        assert!(
            running.try_wait().expect("wait").is_none(),
            "the sync ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    running.kill().expect("kill");
    running.wait().expect("reap");
    assert!(!uploads_in_progress(&bucket).is_empty());

    // The next run, without faults, aborts what the killed one started and uploads the file.
    let mut direct = Project::new(&p.env);
    direct.dir = p.dir;
    direct.write(&multipart_manifest(&bucket, ""));
    let (code, out, err) = sync(&direct, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("aborted"), "{err}");
    assert_eq!(uploads_in_progress(&bucket), vec![]);
    assert_eq!(
        bucket_contents(&bucket, "backup/").get("backup/big.bin"),
        Some(&sha256(&big))
    );
}

#[test]
fn a_sync_through_ten_percent_faults_finishes_in_one_run_with_nothing_left_behind() {
    // Throttling, resets, lost answers and cut-off answers on one request in ten, seeded.
    let proxy = FaultProxy::start(&[
        "--rate",
        "0.1",
        "--seed",
        "4",
        "--faults",
        "slowdown,reset,lost-response,cut-body",
    ]);
    let mut p = Project::new(&common::unique_name("faults"));
    p.endpoint = proxy.endpoint.clone();
    let bucket = format!("{}-data", p.env);
    p.write(&multipart_manifest(&bucket, "    delete: true\n"));
    let mut files: Vec<(String, Vec<u8>)> = (0..120u32)
        .map(|i| {
            let content = common::data((i as usize * 97) % 5000, u64::from(i));
            (format!("d{}/f{i}.bin", i % 5), content)
        })
        .collect();
    for i in 0..3u32 {
        files.push((
            format!("big{i}.bin"),
            common::data(11 * 1024 * 1024 + i as usize, 1000 + u64::from(i)),
        ));
    }
    let tree: Vec<(&str, Vec<u8>)> = files.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    write_tree(&p.path("src"), &tree);
    // The bucket is made without faults; the sync is what is under test.
    create_bucket(&bucket);

    let (code, out, err) = sync(&p, &[]);
    assert_eq!(code, 0, "one run is enough\n{out}\n{err}");
    assert!(proxy.faults_injected() > 0, "the proxy injected no fault");
    let expected: BTreeMap<String, String> = files
        .iter()
        .map(|(rel, content)| (format!("backup/{rel}"), sha256(content)))
        .collect();
    assert_eq!(
        bucket_contents(&bucket, "backup/"),
        expected,
        "every object byte-identical"
    );
    assert_eq!(uploads_in_progress(&bucket), vec![], "no multipart upload left behind");
}

#[test]
fn doctor_lists_multipart_uploads_the_index_does_not_know() {
    let (p, bucket) = project("");
    std::fs::create_dir_all(p.path("src")).expect("mkdir");
    p.apply_ok();
    let (key, upload_id) = common::runtime().block_on(async {
        let aws = common::emulator().await;
        let created = aws
            .s3(common::TEST_REGION)
            .create_multipart_upload()
            .bucket(&bucket)
            .key("backup/stray.bin")
            .send()
            .await
            .expect("create upload");
        ("backup/stray.bin", created.upload_id().expect("id").to_string())
    });
    let (code, out, err) = p.run(&["doctor", "-e", &p.env]);
    assert_eq!(code, 0, "an orphan does not fail doctor\n{out}\n{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("sync.files"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("s3:ListBucketMultipartUploads"), "{row}");
    assert!(
        row.contains("1 multipart upload(s) in progress that the sync index does not know"),
        "{row}"
    );
    assert!(row.contains(key) && row.contains(&upload_id), "{row}");
    // sync did not start it (no intent), so sync leaves it alone.
    let (code, out, err) = sync(&p, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(uploads_in_progress(&bucket), vec![(key.to_string(), upload_id)]);
}

/// A tree of 120 small files in 6 directories, written under the project's `src/`.
fn listing_tree(p: &Project) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = (0..120u32)
        .map(|i| {
            (
                format!("d{}/f{i:03}.txt", i % 6),
                common::data(64 + i as usize, u64::from(i)),
            )
        })
        .collect();
    let tree: Vec<(&str, Vec<u8>)> = files.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    write_tree(&p.path("src"), &tree);
    files
}

/// Creates `bucket` in the emulator directly, without s3rec or the test's proxy.
fn create_bucket(bucket: &str) {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3(common::TEST_REGION)
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create bucket");
    });
}

/// Writes objects into `bucket` directly, as another tool would.
fn put_objects(bucket: &str, keys: &[&str]) {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        for key in keys {
            aws.s3(common::TEST_REGION)
                .put_object()
                .bucket(bucket)
                .key(*key)
                .body(b"written by another tool".to_vec().into())
                .send()
                .await
                .expect("put");
        }
    });
}

/// Syncs a 120-file tree with 10 keys per page, so the second run lists the destination as key ranges
/// cut at the index's keys; then objects another tool wrote between those keys, and a file deleted
/// locally, must still be found and deleted, and everything else left alone.
fn ranged_listing_scenario(p: &Project, bucket: &str) {
    let files = listing_tree(p);
    let (code, out, err) = sync(p, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("120 to upload"), "{out}");

    let (code, out, err) = sync(p, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("sync.files: up to date (120 files)"), "{out}\n{err}");

    // Keys that fall inside several ranges, before the first and after the last.
    put_objects(
        bucket,
        &[
            "backup/a-first",
            "backup/d2/f050.txt.extra",
            "backup/d4/zz",
            "backup/zz-last",
        ],
    );
    std::fs::remove_file(p.path("src/d3/f009.txt")).expect("remove");
    let (code, out, err) = sync(p, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("5 to delete"), "{out}\n{err}");
    let expected: BTreeMap<String, String> = files
        .iter()
        .filter(|(rel, _)| rel != "d3/f009.txt")
        .map(|(rel, content)| (format!("backup/{rel}"), sha256(content)))
        .collect();
    assert_eq!(bucket_contents(bucket, "backup/"), expected);
    let (code, out, err) = sync(p, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("up to date (119 files)"), "{out}\n{err}");
}

/// The project of the ranged-listing tests: bucket `data`, 10 keys per listing page, `delete: true`.
fn ranged_project(endpoint: Option<&str>) -> (Project, String) {
    let mut p = Project::new(&common::unique_name("ranges"));
    if let Some(endpoint) = endpoint {
        p.endpoint = endpoint.to_string();
    }
    let bucket = format!("{}-data", p.env);
    p.write_with(
        "  list_page_size: 10\n",
        &format!(
            "buckets:\n  data:\n    name: {bucket}\nsync:\n  files:\n    source: src\n    bucket: data\n    prefix: backup/\n    delete: true\n"
        ),
    );
    create_bucket(&bucket);
    (p, bucket)
}

#[test]
fn a_destination_listed_as_key_ranges_finds_every_object() {
    // One SlowDown on the first request that carries `start-after` (the SDK retries it): that the
    // proxy injected it proves the listing was split into ranges.
    let proxy = FaultProxy::start(&["--match", "start-after=", "--first", "1", "--faults", "slowdown"]);
    let (p, bucket) = ranged_project(Some(&proxy.endpoint));
    ranged_listing_scenario(&p, &bucket);
    assert_eq!(proxy.faults_injected(), 1, "no listing request carried start-after");
    // Nothing in this manifest uses the caller's identity (no account guard, local state, no report),
    // so sync never asks STS.
    let asked_sts = proxy
        .requests()
        .iter()
        .filter(|(op, _)| op.contains("GetCallerIdentity"))
        .count();
    assert_eq!(asked_sts, 0, "sync asked STS although nothing uses the answer");
}

#[test]
fn a_server_that_ignores_start_after_is_listed_as_one_range() {
    // Every ranged request loses its `start-after`: each range then sees keys before its start, which
    // s3rec must take as "this server cannot be split", not as the range's objects.
    let proxy = FaultProxy::start(&[
        "--match",
        "start-after=",
        "--rate",
        "1",
        "--faults",
        "ignore-start-after",
    ]);
    let (p, bucket) = ranged_project(Some(&proxy.endpoint));
    ranged_listing_scenario(&p, &bucket);
    assert!(proxy.faults_injected() > 0, "no listing request carried start-after");
}

#[test]
fn a_tree_larger_than_the_sort_buffer_is_compared_through_temporary_files() {
    // Seven records in memory per sort: the walk's 120 files and the listing's objects go through
    // sorted runs on disk, merged back; every decision must be the same as in memory.
    let (mut p, bucket) = ranged_project(None);
    let scratch = tempfile::tempdir().expect("tempdir");
    p.vars = vec![
        ("S3REC_SYNC_SORT_BUFFER".to_string(), "7".to_string()),
        ("TMPDIR".to_string(), scratch.path().display().to_string()),
    ];
    ranged_listing_scenario(&p, &bucket);
    let left: Vec<_> = std::fs::read_dir(scratch.path()).expect("read scratch").collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");

    // Where the sorted runs cannot be written, the mapping fails before anything is uploaded or deleted,
    // and says where it tried.
    std::fs::write(p.path("src/new.txt"), b"new").expect("write");
    p.vars[1].1 = scratch.path().join("missing").display().to_string();
    let (code, out, err) = sync(&p, &[]);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(err.contains("temporary files") && err.contains("TMPDIR"), "{err}");
    assert!(!bucket_contents(&bucket, "backup/").contains_key("backup/new.txt"));
}
