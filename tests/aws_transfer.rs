//! Integration tests of the transfer engine (`s3rec::aws::transfer`) against moto.
//!
//! Every upload is downloaded again with the SDK and compared by SHA-256, and its checksum, metadata
//! and storage class are read back with HeadObject. Where moto 5.1.22 differs from S3 (it validates no
//! checksum, computes multipart object checksums its own way, and lists no part checksums), the
//! `moto_*` tests pin the difference so that a moto upgrade that fixes it is noticed.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm as SdkChecksumAlgorithm, ChecksumMode, ChecksumType};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{TEST_REGION, unique_name};
use futures_util::StreamExt as _;
use s3rec::aws::transfer::{
    DonePart, ResumeState, TransferError, Upload, UploadJournal, abort_multipart_upload, delete_objects,
    list_multipart_uploads, list_objects, list_objects_paged, mtime_metadata, upload_file,
};
use s3rec::aws::{Aws, create_bucket};
use s3rec::manifest::types::ChecksumAlgorithm;
use s3rec::state::time::mtime_ms;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

const MIB: u64 = 1024 * 1024;

/// Creates a fresh bucket and returns its name.
async fn new_bucket(aws: &Aws) -> String {
    let name = unique_name("xfer");
    create_bucket(aws, &name, TEST_REGION)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    name
}

/// A file on disk with what a walk would see of it.
struct LocalFile {
    path: PathBuf,
    bytes: Vec<u8>,
    mtime_ms: i64,
    _dir: tempfile::TempDir,
}

fn local_file(len: u64, seed: u64) -> LocalFile {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("file.bin");
    let bytes = common::data(usize::try_from(len).expect("a test file fits in memory"), seed);
    std::fs::write(&path, &bytes).expect("write the test file");
    let meta = std::fs::metadata(&path).expect("stat the test file");
    LocalFile {
        path,
        bytes,
        mtime_ms: mtime_ms(&meta),
        _dir: dir,
    }
}

/// An upload of `file` with the settings most tests share; they change fields as needed.
fn upload<'a>(bucket: &'a str, key: &'a str, file: &'a LocalFile) -> Upload<'a> {
    Upload {
        bucket,
        region: TEST_REGION,
        key,
        path: &file.path,
        size: file.bytes.len() as u64,
        mtime_ms: file.mtime_ms,
        storage_class: None,
        content_type: "application/octet-stream",
        checksum: ChecksumAlgorithm::Crc64nvme,
        multipart_threshold: 5 * MIB,
        part_size: 5 * MIB,
        resume: None,
    }
}

/// A journal that records every callback.
#[derive(Default)]
struct RecordingJournal {
    started: Mutex<Vec<(String, u64)>>,
    parts: Mutex<Vec<(String, DonePart)>>,
    finished: Mutex<Vec<String>>,
}

impl RecordingJournal {
    fn started(&self) -> Vec<(String, u64)> {
        self.started.lock().unwrap().clone()
    }

    /// The part numbers reported done, in order.
    fn part_numbers(&self) -> Vec<i32> {
        let mut numbers: Vec<i32> = self.parts.lock().unwrap().iter().map(|(_, p)| p.number).collect();
        numbers.sort_unstable();
        numbers
    }

    fn finished(&self) -> Vec<String> {
        self.finished.lock().unwrap().clone()
    }
}

impl UploadJournal for RecordingJournal {
    fn multipart_started(&self, _bucket: &str, _key: &str, upload_id: &str, part_size: u64) {
        self.started.lock().unwrap().push((upload_id.to_string(), part_size));
    }

    fn part_done(&self, upload_id: &str, part: &DonePart) {
        self.parts.lock().unwrap().push((upload_id.to_string(), part.clone()));
    }

    fn multipart_finished(&self, upload_id: &str) {
        self.finished.lock().unwrap().push(upload_id.to_string());
    }
}

fn permits() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(8))
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The checksum S3 should report for a single PUT of `bytes`, computed independently of s3rec.
fn expected_checksum(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> String {
    let raw = match algorithm {
        ChecksumAlgorithm::Crc64nvme => crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, bytes)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Crc32c => (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, bytes) as u32)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Crc32 => (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, bytes) as u32)
            .to_be_bytes()
            .to_vec(),
        ChecksumAlgorithm::Sha256 => Sha256::digest(bytes).to_vec(),
        ChecksumAlgorithm::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
    };
    BASE64.encode(raw)
}

async fn download(aws: &Aws, bucket: &str, key: &str) -> Vec<u8> {
    let out = aws
        .s3(TEST_REGION)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GetObject {key}: {err:?}"));
    out.body.collect().await.expect("read the object body").to_vec()
}

/// HeadObject with checksum mode on: what S3 stored about the object.
async fn head(aws: &Aws, bucket: &str, key: &str) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    aws.s3(TEST_REGION)
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap_or_else(|err| panic!("HeadObject {key}: {err:?}"))
}

/// The stored checksum of `algorithm` that HeadObject reports.
fn stored_checksum(
    out: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    algorithm: ChecksumAlgorithm,
) -> Option<String> {
    match algorithm {
        ChecksumAlgorithm::Crc64nvme => out.checksum_crc64_nvme(),
        ChecksumAlgorithm::Crc32c => out.checksum_crc32_c(),
        ChecksumAlgorithm::Crc32 => out.checksum_crc32(),
        ChecksumAlgorithm::Sha256 => out.checksum_sha256(),
        ChecksumAlgorithm::Sha1 => out.checksum_sha1(),
    }
    .map(str::to_string)
}

async fn put_object(aws: &Aws, bucket: &str, key: &str, body: &'static [u8]) {
    aws.s3(TEST_REGION)
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap_or_else(|err| panic!("PutObject {key}: {err:?}"));
}

/// Puts `keys` with the SDK, a few at a time.
async fn put_objects(aws: &Aws, bucket: &str, keys: &[String]) {
    futures_util::stream::iter(keys)
        .for_each_concurrent(16, |key| put_object(aws, bucket, key, b"x"))
        .await;
}

async fn object_exists(aws: &Aws, bucket: &str, key: &str) -> bool {
    match aws.s3(TEST_REGION).head_object().bucket(bucket).key(key).send().await {
        Ok(_) => true,
        Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 404) => false,
        Err(err) => panic!("HeadObject {key}: {err:?}"),
    }
}

async fn upload_ids(aws: &Aws, bucket: &str) -> Vec<String> {
    list_multipart_uploads(aws, bucket, TEST_REGION, "")
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .into_iter()
        .map(|(_, id, _)| id)
        .collect()
}

#[tokio::test]
async fn listing_paginates_past_1000_objects_and_is_sorted() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    // Written in an order unlike the sorted one, with names that need URL encoding in a listing.
    let mut keys: Vec<String> = (0..1100)
        .rev()
        .map(|i| format!("p/{:04}/{}", i * 7 % 1100, i))
        .collect();
    keys.push("p/with space+plus".to_string());
    keys.push("p/café/ünïcode".to_string());
    keys.push("p/control\u{1}char".to_string());
    put_objects(&aws, &bucket, &keys).await;
    put_object(&aws, &bucket, "q/outside-the-prefix", b"x").await;
    put_object(&aws, &bucket, "p", b"the prefix itself is not under p/").await;

    // moto honours any page size, so pages of 500 make this three pages.
    let listed = list_objects_paged(&aws, &bucket, TEST_REGION, "p/", 500)
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    let mut expected = keys.clone();
    expected.sort();
    let listed_keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        listed_keys, expected,
        "every key under the prefix, decoded and sorted, across three pages"
    );
    let first = &listed[0];
    assert_eq!(first.size, 1);
    // The MD5 of "x", which is a single PUT's ETag, without its quotes.
    assert_eq!(first.etag, "9dd4e461268c8034f5c8564e155c67a6");
    assert_eq!(first.storage_class.as_deref(), Some("STANDARD"));
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    assert!(
        (now_ms - 600_000..=now_ms + 600_000).contains(&first.last_modified_ms),
        "last_modified_ms is Unix milliseconds: {}",
        first.last_modified_ms
    );

    let nothing = list_objects(&aws, &bucket, TEST_REGION, "nothing/").await.unwrap();
    assert!(nothing.is_empty());
}

#[tokio::test]
async fn a_small_file_round_trips_with_its_checksum_mtime_and_storage_class() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(100 * 1024 + 3, 1);
    let journal = RecordingJournal::default();
    let mut up = upload(&bucket, "docs/small.bin", &file);
    up.storage_class = Some("STANDARD_IA");

    let uploaded = upload_file(&aws, &up, &journal, &permits())
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    let expected = expected_checksum(ChecksumAlgorithm::Crc64nvme, &file.bytes);
    assert_eq!(uploaded.checksum.as_deref(), Some(expected.as_str()));
    assert_eq!(
        sha256(&download(&aws, &bucket, "docs/small.bin").await),
        sha256(&file.bytes)
    );
    let stored = head(&aws, &bucket, "docs/small.bin").await;
    assert_eq!(stored_checksum(&stored, ChecksumAlgorithm::Crc64nvme), Some(expected));
    assert_eq!(
        stored.e_tag().map(|e| e.trim_matches('"')),
        Some(uploaded.etag.as_str())
    );
    assert_eq!(
        stored.metadata().and_then(|m| m.get("mtime")).map(String::as_str),
        Some(mtime_metadata(file.mtime_ms).as_str())
    );
    assert_eq!(stored.storage_class().map(|c| c.as_str()), Some("STANDARD_IA"));
    assert!(journal.started().is_empty(), "a single PUT starts no multipart upload");
}

#[tokio::test]
async fn every_checksum_algorithm_is_sent_and_stored() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(4096, 2);
    let algorithms = [
        ChecksumAlgorithm::Crc64nvme,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Sha1,
    ];
    for algorithm in algorithms {
        let key = format!("{algorithm:?}");
        let mut up = upload(&bucket, &key, &file);
        up.checksum = algorithm;
        let uploaded = upload_file(&aws, &up, &RecordingJournal::default(), &permits())
            .await
            .unwrap_or_else(|err| panic!("{algorithm:?}: {err}"));
        let expected = expected_checksum(algorithm, &file.bytes);
        assert_eq!(uploaded.checksum.as_deref(), Some(expected.as_str()), "{algorithm:?}");
        assert_eq!(
            stored_checksum(&head(&aws, &bucket, &key).await, algorithm),
            Some(expected),
            "{algorithm:?} is stored with the object"
        );
    }
}

#[tokio::test]
async fn a_file_above_the_buffer_limit_is_streamed_in_one_put() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(9 * MIB + 11, 3);
    let journal = RecordingJournal::default();
    let mut up = upload(&bucket, "big-single.bin", &file);
    up.multipart_threshold = 64 * MIB;
    up.checksum = ChecksumAlgorithm::Crc32c;

    let uploaded = upload_file(&aws, &up, &journal, &permits())
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    assert!(journal.started().is_empty(), "below the threshold: one PutObject");
    assert!(!uploaded.etag.contains('-'), "a single PUT's ETag: {}", uploaded.etag);
    assert_eq!(
        sha256(&download(&aws, &bucket, "big-single.bin").await),
        sha256(&file.bytes)
    );
    let expected = expected_checksum(ChecksumAlgorithm::Crc32c, &file.bytes);
    assert_eq!(uploaded.checksum.as_deref(), Some(expected.as_str()));
    assert_eq!(
        stored_checksum(&head(&aws, &bucket, "big-single.bin").await, ChecksumAlgorithm::Crc32c),
        Some(expected)
    );
}

#[tokio::test]
async fn a_large_file_round_trips_through_a_multipart_upload() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(12 * MIB, 4);
    let journal = RecordingJournal::default();
    let mut up = upload(&bucket, "backups/large.bin", &file);
    up.storage_class = Some("STANDARD_IA");

    let uploaded = upload_file(&aws, &up, &journal, &permits())
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    let started = journal.started();
    assert_eq!(started.len(), 1, "one multipart upload");
    assert_eq!(started[0].1, 5 * MIB);
    assert_eq!(journal.part_numbers(), vec![1, 2, 3], "5 + 5 + 2 MiB");
    assert!(journal.parts.lock().unwrap().iter().all(|(_, p)| p.checksum.is_some()));
    assert_eq!(journal.finished(), vec![started[0].0.clone()]);
    assert!(uploaded.etag.ends_with("-3"), "a multipart ETag: {}", uploaded.etag);
    // The full-object CRC64-NVME of the whole file, which is what S3 reports for this upload.
    assert_eq!(
        uploaded.checksum.as_deref(),
        Some(expected_checksum(ChecksumAlgorithm::Crc64nvme, &file.bytes).as_str())
    );
    assert_eq!(
        sha256(&download(&aws, &bucket, "backups/large.bin").await),
        sha256(&file.bytes)
    );
    let stored = head(&aws, &bucket, "backups/large.bin").await;
    assert_eq!(
        stored.metadata().and_then(|m| m.get("mtime")).map(String::as_str),
        Some(mtime_metadata(file.mtime_ms).as_str())
    );
    assert_eq!(stored.storage_class().map(|c| c.as_str()), Some("STANDARD_IA"));
    assert!(
        stored_checksum(&stored, ChecksumAlgorithm::Crc64nvme).is_some(),
        "the object has a checksum"
    );
    assert!(upload_ids(&aws, &bucket).await.is_empty(), "nothing left open");
}

#[tokio::test]
async fn a_multipart_upload_with_sha256_is_composite() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(11 * MIB, 5);
    let mut up = upload(&bucket, "sha.bin", &file);
    up.checksum = ChecksumAlgorithm::Sha256;

    let uploaded = upload_file(&aws, &up, &RecordingJournal::default(), &permits())
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    let mut joined = Vec::new();
    for part in file.bytes.chunks(5 * MIB as usize) {
        joined.extend(Sha256::digest(part));
    }
    let expected = format!("{}-3", BASE64.encode(Sha256::digest(&joined)));
    assert_eq!(uploaded.checksum, Some(expected));
    assert_eq!(sha256(&download(&aws, &bucket, "sha.bin").await), sha256(&file.bytes));
}

/// Starts a multipart upload by hand, as an interrupted earlier run would have left it, with part 1 stored.
async fn interrupted_upload(aws: &Aws, bucket: &str, key: &str, file: &LocalFile) -> (String, DonePart) {
    let s3 = aws.s3(TEST_REGION);
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(SdkChecksumAlgorithm::Crc64Nvme)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap_or_else(|err| panic!("CreateMultipartUpload: {err:?}"));
    let upload_id = created.upload_id().expect("an upload id").to_string();
    let first = &file.bytes[..5 * MIB as usize];
    let checksum = expected_checksum(ChecksumAlgorithm::Crc64nvme, first);
    let part = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .part_number(1)
        .checksum_algorithm(SdkChecksumAlgorithm::Crc64Nvme)
        .checksum_crc64_nvme(&checksum)
        .body(ByteStream::from(first.to_vec()))
        .send()
        .await
        .unwrap_or_else(|err| panic!("UploadPart: {err:?}"));
    let etag = part.e_tag().expect("an ETag").trim_matches('"').to_string();
    (
        upload_id,
        DonePart {
            number: 1,
            etag,
            checksum: Some(checksum),
        },
    )
}

#[tokio::test]
async fn a_resumed_multipart_upload_sends_only_the_missing_parts() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(12 * MIB, 6);
    let (upload_id, part1) = interrupted_upload(&aws, &bucket, "resumed.bin", &file).await;
    // The journal also claims part 2, which the server never got: the server's ListParts wins.
    let phantom = DonePart {
        number: 2,
        etag: "0123456789abcdef0123456789abcdef".to_string(),
        checksum: Some("AAAAAAAAAAA=".to_string()),
    };
    let journal = RecordingJournal::default();
    let mut up = upload(&bucket, "resumed.bin", &file);
    up.resume = Some(ResumeState {
        upload_id: upload_id.clone(),
        part_size: 5 * MIB,
        parts: vec![part1, phantom],
    });

    let uploaded = upload_file(&aws, &up, &journal, &permits())
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    assert!(
        journal.started().is_empty(),
        "the existing upload is continued, not replaced"
    );
    assert_eq!(journal.part_numbers(), vec![2, 3], "part 1 is not sent again");
    assert!(journal.parts.lock().unwrap().iter().all(|(id, _)| *id == upload_id));
    assert_eq!(journal.finished(), vec![upload_id]);
    assert!(uploaded.etag.ends_with("-3"), "{}", uploaded.etag);
    assert_eq!(
        uploaded.checksum.as_deref(),
        Some(expected_checksum(ChecksumAlgorithm::Crc64nvme, &file.bytes).as_str())
    );
    assert_eq!(
        sha256(&download(&aws, &bucket, "resumed.bin").await),
        sha256(&file.bytes)
    );
    assert!(upload_ids(&aws, &bucket).await.is_empty());
}

#[tokio::test]
async fn resuming_an_upload_the_server_forgot_starts_a_new_one() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(11 * MIB, 7);
    let journal = RecordingJournal::default();
    let mut up = upload(&bucket, "forgotten.bin", &file);
    up.resume = Some(ResumeState {
        upload_id: "no-such-upload-id".to_string(),
        part_size: 5 * MIB,
        parts: Vec::new(),
    });

    upload_file(&aws, &up, &journal, &permits())
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    let started = journal.started();
    assert_eq!(started.len(), 1, "a new upload");
    assert_eq!(journal.part_numbers(), vec![1, 2, 3]);
    assert_eq!(
        journal.finished(),
        vec!["no-such-upload-id".to_string(), started[0].0.clone()]
    );
    assert_eq!(
        sha256(&download(&aws, &bucket, "forgotten.bin").await),
        sha256(&file.bytes)
    );
}

#[tokio::test]
async fn a_file_that_changed_since_the_walk_is_not_uploaded() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(1000, 8);

    // The walk saw another size.
    let mut up = upload(&bucket, "changed-size", &file);
    up.size += 1;
    let err = upload_file(&aws, &up, &RecordingJournal::default(), &permits())
        .await
        .expect_err("the size differs");
    assert!(matches!(err, TransferError::Changed { .. }), "{err}");
    assert!(err.to_string().contains("changed while it was being uploaded"), "{err}");

    // The walk saw another mtime.
    let mut up = upload(&bucket, "changed-mtime", &file);
    up.mtime_ms -= 1000;
    let err = upload_file(&aws, &up, &RecordingJournal::default(), &permits())
        .await
        .expect_err("the mtime differs");
    assert!(matches!(err, TransferError::Changed { .. }), "{err}");
    assert!(!object_exists(&aws, &bucket, "changed-size").await);
    assert!(!object_exists(&aws, &bucket, "changed-mtime").await);
}

#[tokio::test]
async fn a_changed_file_aborts_the_multipart_upload_it_would_resume() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(12 * MIB, 9);
    let (upload_id, part1) = interrupted_upload(&aws, &bucket, "changed.bin", &file).await;
    let journal = RecordingJournal::default();
    let mut up = upload(&bucket, "changed.bin", &file);
    up.mtime_ms += 5000;
    up.resume = Some(ResumeState {
        upload_id: upload_id.clone(),
        part_size: 5 * MIB,
        parts: vec![part1],
    });

    let err = upload_file(&aws, &up, &journal, &permits())
        .await
        .expect_err("the mtime differs");

    assert!(matches!(err, TransferError::Changed { .. }), "{err}");
    assert_eq!(
        journal.finished(),
        vec![upload_id.clone()],
        "the stale upload is forgotten"
    );
    assert!(!upload_ids(&aws, &bucket).await.contains(&upload_id), "and aborted");
    assert!(!object_exists(&aws, &bucket, "changed.bin").await);
}

#[tokio::test]
async fn an_unreadable_file_is_a_read_error() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(10, 10);
    let missing = file.path.with_file_name("missing.bin");
    let mut up = upload(&bucket, "missing", &file);
    up.path = &missing;
    let err = upload_file(&aws, &up, &RecordingJournal::default(), &permits())
        .await
        .expect_err("there is no file");
    assert!(
        matches!(&err, TransferError::Read { path, .. } if path == Path::new(&missing)),
        "{err}"
    );
}

#[tokio::test]
async fn a_closed_semaphore_stops_the_upload() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(10, 11);
    let permits = permits();
    permits.close();
    let err = upload_file(
        &aws,
        &upload(&bucket, "stopped", &file),
        &RecordingJournal::default(),
        &permits,
    )
    .await
    .expect_err("no permits are handed out");
    assert!(matches!(err, TransferError::Stopped { .. }), "{err}");
}

#[tokio::test]
async fn delete_objects_removes_2500_keys_in_batches() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let keys: Vec<String> = (0..2500).map(|i| format!("old/{i:05}")).collect();
    put_objects(&aws, &bucket, &keys).await;
    put_object(&aws, &bucket, "keep/this", b"x").await;
    let mut doomed = keys.clone();
    doomed.push("old/never-existed".to_string());

    let failures = delete_objects(&aws, &bucket, TEST_REGION, &doomed)
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    assert!(failures.is_empty(), "{failures:?}");
    assert!(
        list_objects(&aws, &bucket, TEST_REGION, "old/")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(list_objects(&aws, &bucket, TEST_REGION, "").await.unwrap().len(), 1);
    assert!(
        delete_objects(&aws, &bucket, TEST_REGION, &[])
            .await
            .unwrap()
            .is_empty(),
        "nothing to delete is no call"
    );
}

#[tokio::test]
async fn abandoned_uploads_are_listed_and_aborted() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let s3 = aws.s3(TEST_REGION);
    let mut ids = Vec::new();
    for key in ["backup/a.bin", "backup/b.bin", "other/c.bin"] {
        let out = s3
            .create_multipart_upload()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        ids.push(out.upload_id().unwrap().to_string());
    }

    let listed = list_multipart_uploads(&aws, &bucket, TEST_REGION, "backup/")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let mut keys: Vec<&str> = listed.iter().map(|(key, _, _)| key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["backup/a.bin", "backup/b.bin"]);
    assert!(
        listed
            .iter()
            .all(|(_, id, initiated)| ids.contains(id) && *initiated > 0)
    );

    let (key, id, _) = &listed[0];
    abort_multipart_upload(&aws, &bucket, TEST_REGION, key, id)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(!upload_ids(&aws, &bucket).await.contains(id));
    abort_multipart_upload(&aws, &bucket, TEST_REGION, key, id)
        .await
        .unwrap_or_else(|err| panic!("an upload that is already gone counts as aborted: {err}"));
}

#[tokio::test]
async fn moto_accepts_a_wrong_checksum() {
    // AWS rejects this PUT with BadDigest; moto stores the object with the wrong value. The checksum
    // validation of uploads is therefore only exercised against AWS itself.
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let wrong = expected_checksum(ChecksumAlgorithm::Crc32, b"other bytes");
    aws.s3(TEST_REGION)
        .put_object()
        .bucket(&bucket)
        .key("wrong")
        .checksum_algorithm(SdkChecksumAlgorithm::Crc32)
        .checksum_crc32(&wrong)
        .body(ByteStream::from_static(b"these bytes"))
        .send()
        .await
        .unwrap_or_else(|err| panic!("moto now rejects a wrong checksum: {err:?}"));
    assert_eq!(
        stored_checksum(&head(&aws, &bucket, "wrong").await, ChecksumAlgorithm::Crc32),
        Some(wrong)
    );
}

#[tokio::test]
async fn moto_lists_no_part_checksums_and_computes_its_own_multipart_checksum() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    let file = local_file(12 * MIB, 12);
    let (upload_id, part1) = interrupted_upload(&aws, &bucket, "quirk.bin", &file).await;

    let parts = aws
        .s3(TEST_REGION)
        .list_parts()
        .bucket(&bucket)
        .key("quirk.bin")
        .upload_id(&upload_id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 1);
    assert_eq!(
        parts.parts()[0].e_tag().map(|e| e.trim_matches('"')),
        Some(part1.etag.as_str())
    );
    // AWS lists each part's checksum and the upload's algorithm; moto lists neither, which is why a
    // resume takes part checksums from the journal when the server does not report them.
    assert_eq!(parts.parts()[0].checksum_crc64_nvme(), None);
    assert_eq!(parts.checksum_algorithm(), None);

    abort_multipart_upload(&aws, &bucket, TEST_REGION, "quirk.bin", &upload_id)
        .await
        .unwrap();
    let uploaded = upload_file(
        &aws,
        &upload(&bucket, "quirk.bin", &file),
        &RecordingJournal::default(),
        &permits(),
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    // AWS reports the full-object CRC64-NVME that s3rec computed; moto reports a composite checksum it
    // computes with SHA-256 (it does not know CRC64-NVME), without the `-N` suffix.
    let stored = stored_checksum(&head(&aws, &bucket, "quirk.bin").await, ChecksumAlgorithm::Crc64nvme);
    assert_ne!(stored, uploaded.checksum, "moto now reports the full-object checksum");
    let mut joined = Vec::new();
    for part in file.bytes.chunks(5 * MIB as usize) {
        joined.extend(Sha256::digest(part));
    }
    assert_eq!(stored, Some(BASE64.encode(Sha256::digest(&joined))));
}

/// Puts `body` under `key` with a Content-Type and user metadata; returns the new version id.
async fn put_version(aws: &Aws, bucket: &str, key: &str, body: Vec<u8>) -> String {
    aws.s3(TEST_REGION)
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("text/x-old")
        .metadata("mtime", "123")
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("put")
        .version_id
        .expect("a versioned bucket names the version")
}

#[tokio::test]
async fn an_old_version_copied_onto_its_key_becomes_current_in_one_copy_or_in_parts() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws).await;
    common::enable_versioning(&aws, &bucket).await;
    // One key copied with CopyObject, one (above the limit the test sets) with UploadPartCopy; the key
    // names need %-encoding in the copy source.
    for (key, size, multipart_above) in [
        ("one copy/ä+b.txt", 1000u64, u64::MAX),
        ("in parts/x%y.bin", 11 * MIB + 3, 5 * MIB),
    ] {
        let old = common::data(usize::try_from(size).expect("fits"), 7);
        let old_version = put_version(&aws, &bucket, key, old.clone()).await;
        put_version(&aws, &bucket, key, b"newer".to_vec()).await;
        s3rec::aws::transfer::copy_version(
            &aws,
            &s3rec::aws::transfer::VersionCopy {
                bucket: &bucket,
                region: TEST_REGION,
                key,
                version_id: &old_version,
                size,
                storage_class: None,
                multipart_above,
                part_size: 5 * MIB,
            },
        )
        .await
        .unwrap_or_else(|err| panic!("{key}: {err}"));
        assert_eq!(sha256(&download(&aws, &bucket, key).await), sha256(&old), "{key}");
        let h = head(&aws, &bucket, key).await;
        assert_eq!(h.content_type(), Some("text/x-old"), "{key}");
        assert_eq!(
            h.metadata().and_then(|m| m.get("mtime")).map(String::as_str),
            Some("123"),
            "{key}"
        );
        if multipart_above < size {
            assert!(h.e_tag().is_some_and(|e| e.ends_with("-3\"")), "{key}: {:?}", h.e_tag());
        }
        let versions = aws
            .s3(TEST_REGION)
            .list_object_versions()
            .bucket(&bucket)
            .prefix(key)
            .send()
            .await
            .expect("versions");
        assert_eq!(versions.versions().len(), 3, "{key}: both old versions stay");
    }
}
