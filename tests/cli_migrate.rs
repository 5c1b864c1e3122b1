//! `s3rec migrate` through the real binary against the moto emulator: a bucket of Standard, Glacier
//! and Deep Archive objects (multipart ones, several versions, delete markers) migrates to a local
//! directory with every file verified, the source is deleted only after confirmation, a killed run
//! resumes without downloading verified files again, hostile keys never write outside the destination,
//! and a corrupted local file is caught by `verify`.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/project.rs"]
mod project;

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, StorageClass};
use common::data;
use fault_proxy::FaultProxy;
use project::Project;

const MIB: usize = 1024 * 1024;

/// A project with bucket `old` (versioned when asked), created by apply, and migration `retire` into
/// `archive/` with the given extra lines.
fn project(versioned: bool, migration_extra: &str) -> (Project, String) {
    let p = Project::new(&common::unique_name("mig"));
    let bucket = format!("{}-old", p.env);
    p.write(&manifest(&bucket, versioned, migration_extra));
    p.apply_ok();
    (p, bucket)
}

/// The manifest body `project` writes.
fn manifest(bucket: &str, versioned: bool, migration_extra: &str) -> String {
    let versioning = if versioned { "    versioning: enabled\n" } else { "" };
    format!(
        "buckets:\n  old:\n    name: {bucket}\n{versioning}migrations:\n  retire:\n    bucket: old\n    destination: archive\n{migration_extra}"
    )
}

/// Points an unversioned `project` at a fault proxy from now on (the bucket was created directly).
fn behind(p: &mut Project, bucket: &str, proxy: &FaultProxy, migration_extra: &str) {
    p.endpoint = proxy.endpoint.clone();
    p.write(&manifest(bucket, false, migration_extra));
}

struct Seed<'a> {
    key: &'a str,
    body: Vec<u8>,
    class: Option<StorageClass>,
    /// Upload in parts of this size.
    part_size: Option<usize>,
}

impl<'a> Seed<'a> {
    /// A Standard object in one PUT.
    fn plain(key: &'a str, body: Vec<u8>) -> Seed<'a> {
        Seed {
            key,
            body,
            class: None,
            part_size: None,
        }
    }
}

/// `kms.bin` (1,000 bytes) under SSE-KMS: its ETag is not the MD5 of its content, so only a stored
/// checksum could verify it.
fn put_kms_object(bucket: &str) {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3(common::TEST_REGION)
            .put_object()
            .bucket(bucket)
            .key("kms.bin")
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .body(ByteStream::from(data(1000, 3)))
            .send()
            .await
            .expect("put");
    });
}

fn put(bucket: &str, objects: Vec<Seed<'_>>) -> Vec<String> {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        let mut versions = Vec::new();
        for o in objects {
            let version = match o.part_size {
                None => {
                    s3.put_object()
                        .bucket(bucket)
                        .key(o.key)
                        .set_storage_class(o.class)
                        .body(ByteStream::from(o.body))
                        .send()
                        .await
                        .expect("put")
                        .version_id
                }
                Some(part) => {
                    let upload = s3
                        .create_multipart_upload()
                        .bucket(bucket)
                        .key(o.key)
                        .set_storage_class(o.class)
                        .send()
                        .await
                        .expect("create upload");
                    let id = upload.upload_id.expect("upload id");
                    let mut parts = Vec::new();
                    for (i, chunk) in o.body.chunks(part).enumerate() {
                        let number = i32::try_from(i + 1).expect("part number");
                        let done = s3
                            .upload_part()
                            .bucket(bucket)
                            .key(o.key)
                            .upload_id(&id)
                            .part_number(number)
                            .body(ByteStream::from(chunk.to_vec()))
                            .send()
                            .await
                            .expect("part");
                        parts.push(
                            CompletedPart::builder()
                                .part_number(number)
                                .set_e_tag(done.e_tag)
                                .build(),
                        );
                    }
                    s3.complete_multipart_upload()
                        .bucket(bucket)
                        .key(o.key)
                        .upload_id(&id)
                        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                        .send()
                        .await
                        .expect("complete")
                        .version_id
                }
            };
            versions.push(version.unwrap_or_else(|| "null".to_string()));
        }
        versions
    })
}

fn delete_key(bucket: &str, key: &str) {
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3(common::TEST_REGION)
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("delete");
    });
}

/// Every version and delete marker left in the bucket: (key, version id).
fn versions_left(bucket: &str) -> Vec<(String, String)> {
    common::all_versions(bucket)
        .into_iter()
        .map(|(key, version, _)| (key, version))
        .collect()
}

fn migrate(p: &Project, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["migrate", "-e", &p.env];
    all.extend_from_slice(args);
    p.run(&all)
}

/// The status table's row of the migration, split on whitespace.
fn status_row(p: &Project) -> Vec<String> {
    let (code, stdout, stderr) = migrate(p, &["status"]);
    assert_eq!(code, 0, "status failed:\n{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("retire "))
        .unwrap_or_else(|| panic!("no status row:\n{stdout}"));
    line.split_whitespace().map(str::to_string).collect()
}

/// Columns of the status table (after MIGRATION, BUCKET, PHASE, OBJECTS, SIZE as two words).
fn column(row: &[String], name: &str) -> String {
    let names = [
        "migration",
        "bucket",
        "phase",
        "objects",
        "size",
        "unit",
        "to_restore",
        "restoring",
        "to_download",
        "to_verify",
        "verified",
        "refused",
        "failed",
        "deleted",
    ];
    let i = names.iter().position(|n| *n == name).expect("column");
    row[i].clone()
}

#[test]
fn standard_glacier_and_deep_archive_versions_migrate_verified_and_are_deleted_only_when_confirmed() {
    let (p, bucket) = project(
        true,
        "    versions: all\n    delete_source: all-versions-after-verify\n    restore: { tier: Expedited, days: 2 }\n",
    );
    let big = data(11 * MIB, 7);
    let archived_big = data(6 * MIB, 8);
    let seeds = vec![
        Seed::plain("docs/readme.txt", b"hello".to_vec()),
        Seed {
            key: "docs/big.bin",
            body: big.clone(),
            class: None,
            part_size: Some(5 * MIB),
        },
        Seed {
            key: "cold/glacier.bin",
            body: data(300_000, 1),
            class: Some(StorageClass::Glacier),
            part_size: None,
        },
        Seed {
            key: "cold/deep.bin",
            body: data(200_000, 2),
            class: Some(StorageClass::DeepArchive),
            part_size: None,
        },
        Seed {
            key: "cold/deep-multipart.bin",
            body: archived_big.clone(),
            class: Some(StorageClass::DeepArchive),
            part_size: Some(5 * MIB),
        },
        Seed::plain("notes.txt", b"v1".to_vec()),
        // moto restores only the current version whatever versionId says, so the archived version of
        // this key is its current one (docs/testing.md).
        Seed::plain("notes.txt", b"v2".to_vec()),
        Seed {
            key: "notes.txt",
            body: b"v3".to_vec(),
            class: Some(StorageClass::Glacier),
            part_size: None,
        },
        Seed::plain("removed.txt", b"gone".to_vec()),
        Seed::plain("folder/", Vec::new()),
    ];
    let ids = put(&bucket, seeds);
    delete_key(&bucket, "removed.txt");

    // Before the first run: status says scan, the plan counts from a listing.
    assert_eq!(column(&status_row(&p), "phase"), "scan");
    let (code, plan) = p.plan();
    assert_eq!(code, 0, "a migration alone is not a change for apply:\n{plan}");
    assert!(plan.contains("migration.retire"), "{plan}");
    assert!(plan.contains("not scanned yet"), "{plan}");
    assert!(plan.contains("4 to restore (6.5 MiB), 6 to download"), "{plan}");

    let (code, stdout, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 0, "run failed:\n{stdout}\n{stderr}");
    assert!(stderr.contains("delete held"), "no confirmation, no delete:\n{stderr}");
    let row = status_row(&p);
    assert_eq!(column(&row, "phase"), "delete", "{row:?}");
    assert_eq!(column(&row, "objects"), "10");
    assert_eq!(column(&row, "verified"), "10");
    assert_eq!(column(&row, "deleted"), "0");
    assert_eq!(versions_left(&bucket).len(), 11, "nothing deleted without confirmation");

    let files = common::files_under(&p.path("archive"));
    assert_eq!(files["docs/readme.txt"], b"hello");
    assert_eq!(files["docs/big.bin"], big);
    assert_eq!(files["cold/glacier.bin"], data(300_000, 1));
    assert_eq!(files["cold/deep.bin"], data(200_000, 2));
    assert_eq!(files["cold/deep-multipart.bin"], archived_big);
    assert_eq!(files["notes.txt"], b"v3", "the latest version has the plain name");
    assert_eq!(files[&format!("notes.txt.versions/{}", ids[5])], b"v1");
    assert_eq!(files[&format!("notes.txt.versions/{}", ids[6])], b"v2");
    assert_eq!(files[&format!("removed.txt.versions/{}", ids[8])], b"gone");
    assert!(!files.contains_key("removed.txt"), "a deleted key has no current file");
    assert!(p.path("archive/folder").is_dir());

    // The plan now reads the inventory.
    let (_, plan) = p.plan();
    assert!(plan.contains("phase delete"), "{plan}");
    assert!(plan.contains("11 eligible for delete"), "{plan}");

    // A wrong typed confirmation deletes nothing; the right one deletes every version and marker.
    let (code, screen) = p.run_on_terminal(&["migrate", "-e", &p.env, "retire", "run"], "not-the-bucket\n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Type the bucket name"), "{screen}");
    assert_eq!(versions_left(&bucket).len(), 11);
    let (code, stdout, stderr) = migrate(&p, &["retire", "run", "--confirm-delete", &bucket]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(versions_left(&bucket).is_empty(), "{:?}", versions_left(&bucket));
    let row = status_row(&p);
    assert_eq!(column(&row, "phase"), "done", "{row:?}");
    assert_eq!(column(&row, "deleted"), "11");

    let (code, stdout, stderr) = migrate(&p, &["verify"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("10 files checked") || stdout.contains("9 files checked"),
        "{stdout}"
    );
}

#[test]
fn a_killed_run_resumes_without_downloading_verified_files_again() {
    let (p, bucket) = project(false, "");
    let count = 320;
    let keys: Vec<String> = (0..count).map(|i| format!("data/{i:04}.bin")).collect();
    put(
        &bucket,
        keys.iter()
            .enumerate()
            .map(|(i, k)| Seed::plain(k, data(512 * 1024, i as u64)))
            .collect(),
    );
    let db = p.path(&format!(".s3rec/{}.db", p.env));
    let verified = |db: &Path| -> BTreeMap<String, (String, i64)> {
        let Ok(conn) = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
            return BTreeMap::new();
        };
        let Ok(mut stmt) =
            conn.prepare("SELECT key, verified_at, attempts FROM migration_objects WHERE status = 'verified'")
        else {
            return BTreeMap::new();
        };
        stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, (r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
        })
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
    };

    let mut child = p
        .s3rec_process()
        .args(["migrate", "-e", &p.env, "retire", "run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if verified(&db).len() >= 20 {
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run finished before it could be interrupted"
        );
        assert!(std::time::Instant::now() < deadline, "no object was verified in time");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // While the run goes on: `status` reads the inventory from this other process, and a second run of
    // the same migration is refused.
    let row = status_row(&p);
    assert_eq!(column(&row, "phase"), "download", "{row:?}");
    let (code, _, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("another s3rec run is working on this"), "{stderr}");
    child.kill().expect("kill");
    child.wait().expect("reap");
    let before = verified(&db);
    assert!(before.len() < count, "killed after everything was done");

    // Still-status works on the interrupted state; a rerun finishes.
    let (code, stdout, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let after = verified(&db);
    assert_eq!(after.len(), count);
    for (key, seen) in &before {
        assert_eq!(
            &after[key], seen,
            "{key} was verified before the kill and must not be touched again"
        );
    }
    // Objects downloaded by the second run: at most those that were not verified before the kill.
    let downloaded: usize = stderr
        .split(" restores requested, ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    assert!(
        downloaded <= count - before.len(),
        "{downloaded} downloads after {} were verified:\n{stderr}",
        before.len()
    );
    let files = common::files_under(&p.path("archive"));
    assert_eq!(files.len(), count);
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(files[key], data(512 * 1024, i as u64), "{key}");
    }
    assert!(
        std::fs::read_dir(p.path("archive/.s3rec-partial"))
            .expect("partial dir")
            .next()
            .is_none(),
        "no partial download is left behind"
    );
}

#[test]
fn hostile_keys_are_refused_and_nothing_is_written_outside_the_destination() {
    let (p, bucket) = project(false, "    delete_source: after-verify\n");
    let long = "n".repeat(300);
    let hostile = [
        "../../etc/x".to_string(),
        "/abs".to_string(),
        "a/../../b".to_string(),
        "..\\..\\win".to_string(),
        format!("dir/{long}"),
        "./dot".to_string(),
        ".s3rec-partial/planted".to_string(),
    ];
    let mut seeds: Vec<Seed<'_>> = hostile.iter().map(|k| Seed::plain(k, b"evil".to_vec())).collect();
    seeds.push(Seed::plain("ok.txt", b"fine".to_vec()));
    put(&bucket, seeds);

    let (code, stdout, stderr) = migrate(&p, &["retire", "run", "--confirm-delete", &bucket]);
    assert_eq!(code, 1, "refused keys fail the run:\n{stdout}\n{stderr}");
    for key in &hostile {
        assert!(
            stderr.contains(&format!("refused: {key:?}")),
            "{key} not reported:\n{stderr}"
        );
    }
    let files = common::files_under(&p.path("archive"));
    assert_eq!(files.keys().collect::<Vec<_>>(), ["ok.txt"], "{files:?}");
    // Nothing anywhere else in the project (or next to it) was written.
    let project_files: Vec<String> = common::files_under(p.dir.path())
        .into_keys()
        .filter(|k| !k.starts_with("environments/") && !k.starts_with(".s3rec/") && !k.starts_with("archive/"))
        .collect();
    assert!(project_files.is_empty(), "{project_files:?}");
    let parent = p.dir.path().parent().expect("parent");
    assert!(!parent.join("etc/x").exists() && !parent.join("b").exists() && !Path::new("/abs").exists());
    // A refused key keeps the bucket from completing, so nothing is deleted.
    assert_eq!(versions_left(&bucket).len(), hostile.len() + 1);
    let row = status_row(&p);
    assert_eq!(column(&row, "refused"), hostile.len().to_string());
    assert_eq!(column(&row, "phase"), "blocked");
}

#[test]
fn a_flipped_byte_is_caught_by_verify_and_repaired_by_the_next_run() {
    let (p, bucket) = project(false, "");
    put(
        &bucket,
        vec![
            Seed::plain("a.bin", data(100_000, 1)),
            Seed {
                key: "b/multi.bin",
                body: data(7 * MIB, 2),
                class: None,
                part_size: Some(5 * MIB),
            },
        ],
    );
    let (code, stdout, stderr) = migrate(&p, &["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (code, stdout, _) = migrate(&p, &["verify"]);
    assert_eq!(code, 0, "{stdout}");

    for rel in ["a.bin", "b/multi.bin"] {
        let path = p.path(&format!("archive/{rel}"));
        let mut bytes = std::fs::read(&path).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&path, &bytes).expect("write");
    }
    let (code, stdout, stderr) = migrate(&p, &["retire", "verify"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("2 differ"), "{stdout}");
    assert!(stdout.contains("mismatch: \"a.bin\""), "{stdout}");
    assert!(stdout.contains("mismatch: \"b/multi.bin\""), "{stdout}");
    assert_eq!(column(&status_row(&p), "to_download"), "2");

    let (code, stdout, stderr) = migrate(&p, &["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(std::fs::read(p.path("archive/a.bin")).expect("read"), data(100_000, 1));
    assert_eq!(
        std::fs::read(p.path("archive/b/multi.bin")).expect("read"),
        data(7 * MIB, 2)
    );
    let (code, stdout, _) = migrate(&p, &["verify"]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn restores_beyond_max_in_flight_wait_for_the_next_run_or_for_wait() {
    let (p, bucket) = project(false, "    restore: { max_in_flight: 1 }\n");
    put(
        &bucket,
        (0..3)
            .map(|i| Seed {
                key: ["x1", "x2", "x3"][i],
                body: data(1000, i as u64),
                class: Some(StorageClass::Glacier),
                part_size: None,
            })
            .collect(),
    );
    let (code, stdout, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let row = status_row(&p);
    assert_eq!(column(&row, "phase"), "restore", "{row:?}");
    assert_eq!(column(&row, "to_restore"), "2", "one restore at a time: {row:?}");
    assert_eq!(column(&row, "verified"), "1");

    let (code, stdout, stderr) = migrate(&p, &["retire", "run", "--wait", "--poll-interval", "0.05"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(column(&status_row(&p), "phase"), "done");
    assert_eq!(common::files_under(&p.path("archive")).len(), 3);
}

#[test]
fn bad_input_gets_a_clear_message() {
    let (p, bucket) = project(false, "");
    let (code, _, stderr) = migrate(&p, &["nope", "run"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("migration `nope` is not in environment"), "{stderr}");
    let (code, _, stderr) = migrate(&p, &["retire", "explode"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("`explode` is not something migrate does"), "{stderr}");

    // A source bucket that does not exist.
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        aws.s3(common::TEST_REGION)
            .delete_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("delete bucket");
    });
    let (code, _, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("does not exist"), "{stderr}");
    // The plan creates the bucket again; until then its migration has nothing to do, which is no error.
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.contains("phase scan (not scanned yet; counted from a listing): 0 objects"),
        "{plan}"
    );
}

#[test]
fn an_object_whose_etag_is_not_an_md5_fails_verification_instead_of_passing() {
    let (p, bucket) = project(false, "");
    put_kms_object(&bucket);
    let (code, stdout, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("failed: \"kms.bin\": cannot be verified"), "{stderr}");
    assert!(
        !p.path("archive/kms.bin").exists(),
        "an unverified file never gets its final name"
    );
    assert_eq!(column(&status_row(&p), "failed"), "1");

    // `verify: size` accepts it (and the validator keeps such a migration from deleting its source).
    p.write(&format!(
        "buckets:\n  old:\n    name: {bucket}\nmigrations:\n  retire:\n    bucket: old\n    destination: archive\n    verify: size\n"
    ));
    let (code, stdout, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(std::fs::read(p.path("archive/kms.bin")).expect("read"), data(1000, 3));
}

#[test]
fn a_download_cut_off_part_way_continues_from_its_partial_file() {
    let (p, bucket) = project(false, "");
    let size = 160 * MIB;
    let body = data(size, 11);
    put(&bucket, vec![Seed::plain("big.bin", body.clone())]);

    let mut child = p
        .s3rec_process()
        .args(["migrate", "-e", &p.env, "retire", "run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let partial_dir = p.path("archive/.s3rec-partial");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let cut_at = loop {
        let len = std::fs::read_dir(&partial_dir)
            .ok()
            .and_then(|mut entries| entries.next())
            .and_then(|entry| entry.ok()?.metadata().ok())
            .map_or(0, |m| m.len());
        if len >= 16 * MIB as u64 {
            break len;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the download finished before it could be cut off"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the download did not start in time"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert!(cut_at < size as u64, "cut off after the whole object was written");

    let (code, stdout, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // `1 downloaded (N MiB)`: only what the first run had not written.
    let fetched: f64 = stderr
        .split("1 downloaded (")
        .nth(1)
        .and_then(|rest| rest.split_once(" MiB"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no download figure in:\n{stderr}"));
    assert!(
        fetched < 160.0 - 15.0,
        "{fetched} MiB downloaded after {cut_at} bytes were already there:\n{stderr}"
    );
    assert_eq!(std::fs::read(p.path("archive/big.bin")).expect("read"), body);
}

#[test]
fn a_local_copy_lost_after_verification_holds_the_delete_until_it_is_downloaded_again() {
    let (p, bucket) = project(false, "    delete_source: after-verify\n");
    put(
        &bucket,
        vec![
            Seed::plain("keep/a.txt", b"alpha".to_vec()),
            Seed::plain("keep/b.txt", b"beta".to_vec()),
        ],
    );
    let (code, stdout, stderr) = migrate(&p, &["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    std::fs::remove_file(p.path("archive/keep/b.txt")).expect("lose a file");

    let (code, stdout, stderr) = migrate(&p, &["run", "--confirm-delete", &bucket]);
    assert_eq!(code, 1, "the held delete is a failure of the run:\n{stdout}\n{stderr}");
    assert!(stderr.contains("1 local file is missing or changed"), "{stderr}");
    assert_eq!(
        versions_left(&bucket).len(),
        2,
        "nothing deleted while a copy is missing"
    );

    let (code, stdout, stderr) = migrate(&p, &["run", "--confirm-delete", &bucket]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(std::fs::read(p.path("archive/keep/b.txt")).expect("read"), b"beta");
    assert!(versions_left(&bucket).is_empty());
}

#[test]
fn a_rescan_picks_up_new_and_rewritten_objects_and_keeps_finished_work() {
    let (p, bucket) = project(false, "");
    put(
        &bucket,
        vec![
            Seed::plain("a.txt", b"first".to_vec()),
            Seed::plain("b.txt", b"stays".to_vec()),
        ],
    );
    let (code, stdout, stderr) = migrate(&p, &["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    put(
        &bucket,
        vec![
            Seed::plain("a.txt", b"second".to_vec()),
            Seed::plain("c.txt", b"new".to_vec()),
        ],
    );

    // Without --rescan the recorded inventory is the work: nothing new is seen.
    let (code, stdout, stderr) = migrate(&p, &["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(!p.path("archive/c.txt").exists());

    let (code, stdout, stderr) = migrate(&p, &["run", "--rescan"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("scan: 1 new, 1 changed, 0 gone"), "{stderr}");
    assert!(
        stderr.contains("2 downloaded"),
        "only the new and the rewritten object: {stderr}"
    );
    let files = common::files_under(&p.path("archive"));
    assert_eq!(files["a.txt"], b"second");
    assert_eq!(files["b.txt"], b"stays");
    assert_eq!(files["c.txt"], b"new");
}

#[test]
fn a_flipped_byte_after_verification_keeps_its_source_and_is_downloaded_again() {
    let (p, bucket) = project(false, "    delete_source: after-verify\n");
    let seeds: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| (format!("f{i}.bin"), data(50_000 + i * 1000, 20 + i as u64)))
        .collect();
    put(&bucket, seeds.iter().map(|(k, b)| Seed::plain(k, b.clone())).collect());
    let (code, stdout, stderr) = migrate(&p, &["run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // Same size, one byte different: only the content tells.
    let flipped = p.path("archive/f2.bin");
    let mut bytes = std::fs::read(&flipped).expect("read");
    bytes[1234] ^= 0x01;
    std::fs::write(&flipped, &bytes).expect("write");

    let (code, stdout, stderr) = migrate(&p, &["run", "--confirm-delete", &bucket]);
    assert_eq!(code, 1, "the held delete is a failure of the run:\n{stdout}\n{stderr}");
    assert!(stderr.contains("\"f2.bin\""), "{stderr}");
    assert!(stderr.contains("1 local file is missing or changed"), "{stderr}");
    assert!(
        versions_left(&bucket).iter().any(|(k, _)| k == "f2.bin"),
        "the source of the corrupt copy was deleted"
    );
    assert_eq!(column(&status_row(&p), "to_download"), "1");

    let (code, stdout, stderr) = migrate(&p, &["run", "--confirm-delete", &bucket]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("1 downloaded"), "{stderr}");
    assert!(versions_left(&bucket).is_empty());
    for (key, body) in &seeds {
        assert_eq!(
            &std::fs::read(p.path(&format!("archive/{key}"))).expect("read"),
            body,
            "{key}"
        );
    }
}

#[test]
fn a_body_cut_off_mid_download_is_resumed_within_the_run() {
    let (mut p, bucket) = project(false, "");
    let body = data(3 * MIB, 31);
    put(&bucket, vec![Seed::plain("big.bin", body.clone())]);
    let proxy = FaultProxy::start(&[
        "--match",
        &format!("^GET /{bucket}/big\\.bin"),
        "--first",
        "1",
        "--faults",
        "cut-body",
    ]);
    behind(&mut p, &bucket, &proxy, "");

    let (code, stdout, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 0, "one run finishes the cut download:\n{stdout}\n{stderr}");
    assert_eq!(std::fs::read(p.path("archive/big.bin")).expect("read"), body);
    let gets: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|(op, _)| op.starts_with("GET ") && op.ends_with("/big.bin"))
        .map(|(_, fault)| fault)
        .collect();
    assert_eq!(gets, ["cut-body", "ok"], "the cut GET, then one that continues it");
}

#[test]
fn a_migration_finishes_in_one_run_with_a_tenth_of_requests_failing() {
    let (mut p, bucket) = project(false, "");
    let seeds: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("d{}/o{i}.bin", i % 4), data(20_000 + i * 3_000, 100 + i as u64)))
        .collect();
    put(&bucket, seeds.iter().map(|(k, b)| Seed::plain(k, b.clone())).collect());
    let proxy = FaultProxy::start(&[
        "--rate",
        "0.1",
        "--seed",
        "3",
        "--faults",
        "slowdown,reset,lost-response,cut-body",
    ]);
    behind(&mut p, &bucket, &proxy, "");

    let (code, stdout, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(proxy.faults_injected() > 0, "no fault was injected");
    assert_eq!(column(&status_row(&p), "verified"), "40");
    for (key, body) in &seeds {
        assert_eq!(
            &std::fs::read(p.path(&format!("archive/{key}"))).expect("read"),
            body,
            "{key}"
        );
    }
}

/// Uploads `body` as `key` in parts of `part` bytes with CRC32 checksums, as the AWS CLI and boto3 do by
/// default: the object's checksum is then the composite one of its parts.
fn put_in_parts_with_crc32(bucket: &str, key: &str, body: &[u8], part: usize) {
    use aws_sdk_s3::types::ChecksumAlgorithm;
    common::runtime().block_on(async {
        let aws = common::emulator().await;
        let s3 = aws.s3(common::TEST_REGION);
        let upload = s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .expect("create upload");
        let id = upload.upload_id.expect("upload id");
        let mut parts = Vec::new();
        for (i, chunk) in body.chunks(part).enumerate() {
            let number = i32::try_from(i + 1).expect("part number");
            let done = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .part_number(number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(chunk.to_vec()))
                .send()
                .await
                .expect("part");
            assert!(done.checksum_crc32.is_some(), "the part was sent without its checksum");
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(done.e_tag)
                    .set_checksum_crc32(done.checksum_crc32)
                    .build(),
            );
        }
        s3.complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .expect("complete");
    });
}

#[test]
fn an_object_uploaded_in_parts_with_checksums_by_another_tool_migrates_verified() {
    // 12 MiB in the AWS CLI's 8 MiB parts. moto answers GetObject with the composite CRC32 of the parts
    // under the plain CRC32 header, without the `-2` that marks it composite on S3; the SDK used to
    // check the body against it and fail the download.
    let (p, bucket) = project(false, "");
    let body = data(12 * MIB, 17);
    put_in_parts_with_crc32(&bucket, "cli/upload.bin", &body, 8 * MIB);

    let (code, stdout, stderr) = migrate(&p, &["retire", "run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(!stderr.contains("may not support GetObject"), "{stderr}");
    assert!(
        std::fs::read(p.path("archive/cli/upload.bin")).expect("read") == body,
        "the migrated file differs from the object"
    );
    let row = status_row(&p);
    assert_eq!(column(&row, "verified"), "1", "{row:?}");
    assert_eq!(column(&row, "failed"), "0", "{row:?}");

    // `verify` checks the file against the object again, by its multipart ETag.
    let (code, stdout, stderr) = migrate(&p, &["retire", "verify"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

#[test]
fn a_confirm_delete_naming_no_migration_s_bucket_is_refused() {
    let (p, bucket) = project(false, "    delete_source: after-verify\n");
    put(&bucket, vec![Seed::plain("a.txt", b"alpha".to_vec())]);

    let (code, stdout, stderr) = migrate(&p, &["retire", "run", "--confirm-delete", &format!("{bucket}-typo")]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    // miette wraps long lines, even inside a name, and marks continued ones with a bar.
    let unwrapped = |text: &str| text.replace(|c: char| c.is_whitespace() || c == '│', "");
    let said = unwrapped(&stderr);
    assert!(
        said.contains(&unwrapped(&format!(
            "--confirm-delete `{bucket}-typo` is not the source bucket of any migration"
        ))),
        "{stderr}"
    );
    assert!(
        said.contains(&format!("migrations:{bucket}")),
        "the valid names are listed:\n{stderr}"
    );
    assert!(!p.path("archive/a.txt").exists(), "a refused run does nothing");
    assert_eq!(versions_left(&bucket).len(), 1);

    // The migration's name is what an operator most likely types instead: the hint gives the bucket.
    let (code, _, stderr) = migrate(&p, &["run", "--confirm-delete", &bucket, "--confirm-delete", "retire"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        unwrapped(&stderr).contains(&format!("--confirm-delete{bucket}")),
        "{stderr}"
    );
    assert_eq!(versions_left(&bucket).len(), 1);

    let (code, stdout, stderr) = migrate(&p, &["run", "--confirm-delete", &bucket]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(versions_left(&bucket).is_empty());
}

#[test]
fn a_held_delete_says_why_and_a_done_migration_leaves_no_partial_download() {
    let (p, bucket) = project(false, "    delete_source: after-verify\n");
    put(&bucket, vec![Seed::plain("a.txt", b"alpha".to_vec())]);
    put_kms_object(&bucket);
    // What a download leaves when its version goes away before it finishes: a partial file no row
    // will ever continue.
    let partial_dir = p.path("archive/.s3rec-partial");
    std::fs::create_dir_all(&partial_dir).expect("mkdir");
    let stray = partial_dir.join("0123456789abcdef0123456789abcdef.part");
    std::fs::write(&stray, b"half a download").expect("write");

    // kms.bin cannot be verified (its ETag is no MD5 and moto stores no checksum), so nothing is deleted.
    let (code, stdout, stderr) = migrate(&p, &["retire", "run", "--confirm-delete", &bucket]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "delete held: 1 object is not verified yet; the source is deleted only once every object is verified\n"
        ),
        "{stderr}"
    );
    assert_eq!(versions_left(&bucket).len(), 2);
    assert!(stray.exists(), "a migration that is not done keeps its partial files");

    // Once the unverifiable object is gone from the source, the bucket completes and nothing partial stays.
    delete_key(&bucket, "kms.bin");
    let (code, stdout, stderr) = migrate(&p, &["retire", "run", "--rescan", "--confirm-delete", &bucket]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(column(&status_row(&p), "phase"), "done");
    assert!(versions_left(&bucket).is_empty());
    let left: Vec<_> = std::fs::read_dir(&partial_dir)
        .expect("partial dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(
        left.is_empty(),
        "partial files left after the migration is done: {left:?}"
    );
    assert_eq!(std::fs::read(p.path("archive/a.txt")).expect("read"), b"alpha");
}
