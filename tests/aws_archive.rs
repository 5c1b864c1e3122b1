//! Integration tests of the migration adapter (`s3rec::aws::archive` and
//! `s3rec::aws::transfer::delete_versions`) against moto.
//!
//! Buckets and objects are set up with the SDK ("another client"). Where moto 5.1.22 differs from S3,
//! the `moto_*` tests pin the difference so that a moto upgrade that changes it is noticed:
//! ListObjectVersions ignores `encoding-type=url` and lists every version before every delete marker;
//! RestoreObject ignores `versionId` and finishes at once; HEAD with `partNumber` of a multipart object
//! answers the part's ETag and no `Content-Range`; multipart checksums are moto's own (see
//! tests/aws_transfer.rs), which the SDK's validation of downloads then rejects.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm as SdkChecksumAlgorithm, CompletedMultipartUpload, CompletedPart,
    ServerSideEncryption, StorageClass, VersioningConfiguration,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{TEST_REGION, data, unique_name};
use futures_util::StreamExt as _;
use s3rec::aws::archive::{
    Download, DownloadError, Head, RemoteVersion, RestoreRequest, RestoreState, VERSIONS_PAGE, download_version,
    for_each_version, head_version, restore_version,
};
use s3rec::aws::transfer::{Upload, UploadJournal, delete_versions, upload_file};
use s3rec::aws::{Aws, AwsError, create_bucket};
use s3rec::manifest::types::{ChecksumAlgorithm, RestoreTier};
use s3rec::migrate::StoredChecksum;
use sha2::{Digest as _, Sha256};

const MIB: usize = 1024 * 1024;

/// Creates a fresh bucket, versioned or not, and returns its name.
async fn new_bucket(aws: &Aws, versioned: bool) -> String {
    let name = unique_name("arch");
    create_bucket(aws, &name, TEST_REGION)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    if versioned {
        enable_versioning(aws, &name).await;
    }
    name
}

async fn enable_versioning(aws: &Aws, bucket: &str) {
    aws.s3(TEST_REGION)
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("PutBucketVersioning: {err:?}"));
}

fn md5_etag(bytes: &[u8]) -> String {
    use md5::Digest as _;
    format!("{:x}", md5::Md5::digest(bytes))
}

/// Puts an object and returns its version id ("null" on an unversioned bucket).
async fn put(aws: &Aws, bucket: &str, key: &str, body: &[u8], class: Option<StorageClass>) -> String {
    let out = aws
        .s3(TEST_REGION)
        .put_object()
        .bucket(bucket)
        .key(key)
        .set_storage_class(class)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|err| panic!("PutObject {key}: {err:?}"));
    out.version_id().unwrap_or("null").to_string()
}

/// Deletes a key without naming a version; on a versioned bucket that adds a delete marker, whose
/// version id is returned.
async fn delete(aws: &Aws, bucket: &str, key: &str) -> String {
    let out = aws
        .s3(TEST_REGION)
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|err| panic!("DeleteObject {key}: {err:?}"));
    out.version_id().unwrap_or("null").to_string()
}

async fn list(aws: &Aws, bucket: &str, prefix: &str, page: i32) -> Vec<RemoteVersion> {
    let mut all = Vec::new();
    for_each_version(aws, bucket, TEST_REGION, prefix, page, |v| all.push(v))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    all
}

async fn head(aws: &Aws, bucket: &str, key: &str, version: &str) -> Head {
    head_version(aws, bucket, TEST_REGION, key, version, None)
        .await
        .unwrap_or_else(|err| panic!("head {key} ({version}): {err}"))
}

/// A download of `key`'s `version` with `etag` into `path`.
fn download<'a>(bucket: &'a str, key: &'a str, version: &'a str, etag: &'a str, path: &'a Path) -> Download<'a> {
    Download {
        bucket,
        region: TEST_REGION,
        key,
        version_id: version,
        etag,
        path,
        offset: 0,
    }
}

fn no_progress(_: u64) {}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Sleeps past the current second: listings carry whole seconds, and only distinct seconds order a
/// delete marker against a version of the same key on moto (see the module documentation).
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// A pause between writes of one key, so that moto (which orders versions by millisecond) never sees
/// two in the same millisecond.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tokio::test]
async fn versions_and_markers_are_listed_in_server_order_across_pages() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, false).await;
    // What each key should list, oldest first: (version id, is a delete marker, body).
    let mut written: std::collections::BTreeMap<String, Vec<(String, bool, Vec<u8>)>> = Default::default();

    // A "null" version, written before versioning was enabled.
    let key = "k/a".to_string();
    let body = data(10, 1);
    let id = put(&aws, &bucket, &key, &body, None).await;
    assert_eq!(id, "null");
    written.entry(key.clone()).or_default().push((id, false, body));
    enable_versioning(&aws, &bucket).await;

    // Versions and delete markers of one key, alternating; only distinct seconds order the two kinds.
    for (i, marker) in [false, false, true, false, true].into_iter().enumerate() {
        if marker || i == 3 {
            next_second().await;
        } else {
            tick().await;
        }
        if marker {
            let id = delete(&aws, &bucket, &key).await;
            written.entry(key.clone()).or_default().push((id, true, Vec::new()));
        } else {
            let body = data(20 + i, 10 + i as u64);
            let id = put(&aws, &bucket, &key, &body, None).await;
            written.entry(key.clone()).or_default().push((id, false, body));
        }
    }

    // Keys with several versions under a current delete marker, and keys that need URL encoding (or
    // would break a path), which must come back as they were written.
    let mut keys: Vec<String> = (0..6).map(|i| format!("k/b{i}")).collect();
    keys.extend(["k/../../etc/x", "k/a b%2F+c", "k/café/ünï", "k/&<amp>'\""].map(str::to_string));
    for (n, key) in keys.iter().enumerate() {
        let versions = if key.starts_with("k/b") { 4 } else { 2 };
        for v in 0..versions {
            let body = data(30 + v, (100 * n + v) as u64);
            let id = put(&aws, &bucket, key, &body, None).await;
            written.entry(key.clone()).or_default().push((id, false, body));
            tick().await;
        }
        if key.starts_with("k/b") && n % 2 == 0 {
            let id = delete(&aws, &bucket, key).await;
            written.entry(key.clone()).or_default().push((id, true, Vec::new()));
        }
    }
    put(&aws, &bucket, "outside/x", b"x", None).await;
    put(&aws, &bucket, "k", b"the prefix itself is not under k/", None).await;

    let expected: Vec<(String, String, bool)> = written
        .iter()
        .flat_map(|(key, entries)| {
            entries
                .iter()
                .rev()
                .map(move |(id, marker, _)| (key.clone(), id.clone(), *marker))
        })
        .collect();
    assert_eq!(expected.len(), 6 + 6 * 4 + 3 + 4 * 2);

    for page in [3, 7, VERSIONS_PAGE] {
        let listed = list(&aws, &bucket, "k/", page).await;
        let got: Vec<(String, String, bool)> = listed
            .iter()
            .map(|v| (v.key.clone(), v.version_id.clone(), v.delete_marker))
            .collect();
        assert_eq!(got, expected, "pages of {page}");

        for (i, v) in listed.iter().enumerate() {
            let first_of_key = i == 0 || listed[i - 1].key != v.key;
            assert_eq!(
                v.is_latest, first_of_key,
                "only the newest entry of a key is current: {v:?}"
            );
            let (_, _, body) = written[&v.key].iter().find(|(id, _, _)| *id == v.version_id).unwrap();
            if v.delete_marker {
                assert_eq!((v.size, v.etag.as_str()), (0, ""), "{v:?}");
            } else {
                assert_eq!(v.size, body.len() as u64, "{v:?}");
                assert_eq!(v.etag, md5_etag(body), "{v:?}");
            }
            assert_eq!(v.storage_class, "STANDARD");
            assert!(
                (now_ms() - 600_000..=now_ms() + 600_000).contains(&v.last_modified_ms),
                "last_modified_ms is Unix milliseconds: {v:?}"
            );
        }
    }
    assert!(list(&aws, &bucket, "nothing/", 3).await.is_empty());
}

#[tokio::test]
async fn listing_a_missing_bucket_says_no_such_bucket() {
    let aws = common::emulator().await;
    let err = for_each_version(&aws, &unique_name("arch-missing"), TEST_REGION, "", 10, |_| {})
        .await
        .expect_err("the bucket does not exist");
    assert_eq!(err.code(), Some("NoSuchBucket"), "{err}");
}

#[tokio::test]
async fn moto_lists_versions_without_url_encoding_and_markers_after_versions() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, true).await;
    put(&aws, &bucket, "k", b"1", None).await;
    tick().await;
    let marker = delete(&aws, &bucket, "k").await;
    tick().await;
    put(&aws, &bucket, "k", b"2", None).await;
    tick().await;
    put(&aws, &bucket, "k", b"3", None).await;

    let out = aws
        .s3(TEST_REGION)
        .list_object_versions()
        .bucket(&bucket)
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .send()
        .await
        .unwrap();
    // S3 answers `EncodingType: url` with encoded keys; moto ignores the request.
    assert_eq!(out.encoding_type(), None, "moto now URL-encodes version listings");
    // moto lists the marker after the versions; all four entries share one second, so s3rec keeps
    // the versions of that second first too (S3, which interleaves by age, would list it third).
    let listed = list(&aws, &bucket, "", VERSIONS_PAGE).await;
    let kinds: Vec<bool> = listed.iter().map(|v| v.delete_marker).collect();
    if listed
        .iter()
        .all(|v| v.last_modified_ms / 1000 == listed[0].last_modified_ms / 1000)
    {
        assert_eq!(kinds, [false, false, false, true]);
        assert_eq!(listed[3].version_id, marker);
    }
}

#[tokio::test]
async fn moto_cannot_list_versions_of_keys_with_control_characters() {
    // XML 1.0 cannot carry U+0001. S3 lists such a key URL-encoded; moto ignores `encoding-type` for
    // this operation, writes the raw character, and the answer cannot be parsed.
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, true).await;
    put(&aws, &bucket, "ctl\u{1}x", b"x", None).await;
    match for_each_version(&aws, &bucket, TEST_REGION, "", 10, |_| {}).await {
        Err(AwsError::BadResponse { .. }) => {}
        other => panic!("moto now lists control characters in some other way: {other:?}"),
    }
}

#[tokio::test]
async fn an_archived_object_is_restored_then_downloaded() {
    let aws = common::emulator().await;
    for (class, versioned) in [(StorageClass::Glacier, true), (StorageClass::DeepArchive, false)] {
        let bucket = new_bucket(&aws, versioned).await;
        let body = data(3000, 7);
        let key = "cold/../data.bin";
        let version = put(&aws, &bucket, key, &body, Some(class.clone())).await;
        assert_eq!(version == "null", !versioned);

        let before = head(&aws, &bucket, key, &version).await;
        assert_eq!(before.restore, RestoreState::Archived, "{class:?}");
        assert_eq!(before.storage_class, class.as_str());
        assert_eq!((before.size, before.etag.as_str()), (3000, md5_etag(&body).as_str()));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let etag = md5_etag(&body);
        let err = download_version(&aws, &download(&bucket, key, &version, &etag, &path), &no_progress)
            .await
            .expect_err("an archived object cannot be read");
        assert!(matches!(&err, DownloadError::Archived { key: k } if k == key), "{err}");
        assert!(!path.exists(), "no file is created for an object that cannot be read");

        let started = restore_version(&aws, &bucket, TEST_REGION, key, &version, Some(2), RestoreTier::Bulk)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(started, RestoreRequest::Started);
        // moto finishes restores at once.
        let after = head(&aws, &bucket, key, &version).await;
        match &after.restore {
            RestoreState::Restored { expiry: Some(expiry) } => assert!(expiry.ends_with("GMT"), "{expiry}"),
            other => panic!("{class:?}: not restored: {other:?}"),
        }
        assert_eq!(after.storage_class, class.as_str(), "a restored copy keeps its class");
        let again = restore_version(
            &aws,
            &bucket,
            TEST_REGION,
            key,
            &version,
            Some(3),
            RestoreTier::Standard,
        )
        .await
        .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(again, RestoreRequest::AlreadyRestored);

        let got = download_version(&aws, &download(&bucket, key, &version, &etag, &path), &no_progress)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(got.size, 3000);
        assert_eq!(got.etag, etag);
        assert_eq!(sha256(&std::fs::read(&path).unwrap()), sha256(&body));
    }
}

#[tokio::test]
async fn restoring_an_object_that_is_not_archived_is_an_error() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, false).await;
    put(&aws, &bucket, "warm", b"x", None).await;
    let head = head(&aws, &bucket, "warm", "null").await;
    assert_eq!(head.restore, RestoreState::NotArchived);
    let err = restore_version(
        &aws,
        &bucket,
        TEST_REGION,
        "warm",
        "null",
        Some(1),
        RestoreTier::Standard,
    )
    .await
    .expect_err("S3 refuses to restore an object that is not archived");
    assert_eq!(err.code(), Some("InvalidObjectState"), "{err}");
    assert!(err.to_string().contains("RestoreObject"), "{err}");
}

#[tokio::test]
async fn a_rewritten_or_deleted_object_is_changed_not_downloaded() {
    let aws = common::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    for versioned in [false, true] {
        let bucket = new_bucket(&aws, versioned).await;
        let old = data(100, 1);
        let version = put(&aws, &bucket, "k", &old, None).await;
        let old_etag = md5_etag(&old);
        // Written again: on an unversioned bucket the null version now has other bytes; on a versioned
        // one the old version is still there under its id, but not under a stale ETag.
        put(&aws, &bucket, "k", &data(100, 2), None).await;
        let stale = if versioned {
            md5_etag(b"what the scan saw of another version")
        } else {
            old_etag.clone()
        };
        let err = download_version(&aws, &download(&bucket, "k", &version, &stale, &path), &no_progress)
            .await
            .expect_err("the ETag no longer matches");
        assert!(matches!(&err, DownloadError::Changed { key } if key == "k"), "{err}");
        assert!(!path.exists());

        let err = download_version(&aws, &download(&bucket, "gone", &version, "", &path), &no_progress)
            .await
            .expect_err("the object does not exist");
        assert!(matches!(err, DownloadError::Changed { .. }), "{err}");
    }
}

#[tokio::test]
async fn the_null_version_under_newer_versions_is_read_by_its_id() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, false).await;
    let old = data(1000, 3);
    put(&aws, &bucket, "k", &old, None).await;
    enable_versioning(&aws, &bucket).await;
    let newer = data(2000, 4);
    put(&aws, &bucket, "k", &newer, None).await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("null");
    for step in ["under a newer version", "under a delete marker"] {
        let head = head(&aws, &bucket, "k", "null").await;
        assert_eq!((head.size, head.etag.clone()), (1000, md5_etag(&old)), "{step}");
        let got = download_version(
            &aws,
            &download(&bucket, "k", "null", &md5_etag(&old), &path),
            &no_progress,
        )
        .await
        .unwrap_or_else(|err| panic!("{step}: {err}"));
        assert_eq!(got.size, 1000, "{step}");
        assert_eq!(sha256(&std::fs::read(&path).unwrap()), sha256(&old), "{step}");
        delete(&aws, &bucket, "k").await;
    }

    // The current version is still read without naming it.
    let unversioned = new_bucket(&aws, false).await;
    put(&aws, &unversioned, "k", &old, None).await;
    assert_eq!(head(&aws, &unversioned, "k", "null").await.size, 1000);
    let err = head_version(&aws, &unversioned, TEST_REGION, "missing", "null", None)
        .await
        .expect_err("no such key");
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn downloads_stream_into_the_file_and_report_progress() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, true).await;
    let body = data(3 * MIB + 17, 9);
    let key = "k/a b%2F+c";
    let version = aws
        .s3(TEST_REGION)
        .put_object()
        .bucket(&bucket)
        .key(key)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    // A newer version, so that only the version id selects the right one.
    put(&aws, &bucket, key, b"newer", None).await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    // An existing, longer file is truncated.
    std::fs::write(&path, vec![b'x'; 4 * MIB]).unwrap();
    let seen = AtomicU64::new(0);
    let calls = AtomicU64::new(0);
    let progress = |n: u64| {
        seen.fetch_add(n, Ordering::Relaxed);
        calls.fetch_add(1, Ordering::Relaxed);
    };
    let etag = md5_etag(&body);
    let got = download_version(&aws, &download(&bucket, key, &version, &etag, &path), &progress)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(got.size, body.len() as u64);
    assert_eq!(got.etag, etag);
    assert_eq!(got.checksum, None, "uploaded without a checksum");
    assert_eq!(got.sse.as_deref(), Some("AES256"));
    assert_eq!(
        seen.load(Ordering::Relaxed),
        body.len() as u64,
        "progress adds up to the size"
    );
    assert!(calls.load(Ordering::Relaxed) > 1, "progress is reported per chunk");
    assert_eq!(sha256(&std::fs::read(&path).unwrap()), sha256(&body));

    let head = head(&aws, &bucket, key, &version).await;
    assert_eq!(head.sse.as_deref(), Some("AES256"));
    assert_eq!((head.parts_count, head.part_length), (None, None));
}

#[tokio::test]
async fn downloads_and_heads_report_the_stored_checksum() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, false).await;
    let body = data(5000, 11);
    let crc = BASE64.encode(crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, &body).to_be_bytes());
    let sha = BASE64.encode(Sha256::digest(&body));
    let s3 = aws.s3(TEST_REGION);
    s3.put_object()
        .bucket(&bucket)
        .key("crc")
        .checksum_algorithm(SdkChecksumAlgorithm::Crc64Nvme)
        .checksum_crc64_nvme(&crc)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("sha")
        .checksum_algorithm(SdkChecksumAlgorithm::Sha256)
        .checksum_sha256(&sha)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    for (key, algorithm, value) in [
        ("crc", ChecksumAlgorithm::Crc64nvme, &crc),
        ("sha", ChecksumAlgorithm::Sha256, &sha),
    ] {
        let expected = Some(StoredChecksum {
            algorithm,
            value: value.clone(),
            full_object: true,
        });
        assert_eq!(head(&aws, &bucket, key, "null").await.checksum, expected, "{key}");
        let path = dir.path().join(key);
        let got = download_version(
            &aws,
            &download(&bucket, key, "null", &md5_etag(&body), &path),
            &no_progress,
        )
        .await
        .unwrap_or_else(|err| panic!("{key}: {err}"));
        assert_eq!(got.checksum, expected, "{key}");
        assert_eq!(std::fs::read(&path).unwrap(), body);
    }
}

#[tokio::test]
async fn a_wrong_stored_checksum_fails_the_download() {
    // moto stores whatever checksum it is sent (tests/aws_transfer.rs), which is how a corrupted
    // download is simulated here: the SDK checks the bytes against the full-object checksum.
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, false).await;
    let wrong = BASE64.encode(crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, b"other").to_be_bytes());
    aws.s3(TEST_REGION)
        .put_object()
        .bucket(&bucket)
        .key("k")
        .checksum_algorithm(SdkChecksumAlgorithm::Crc64Nvme)
        .checksum_crc64_nvme(&wrong)
        .body(ByteStream::from_static(b"these bytes"))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = download_version(
        &aws,
        &download(&bucket, "k", "null", &md5_etag(b"these bytes"), &dir.path().join("k")),
        &no_progress,
    )
    .await
    .expect_err("the bytes do not match the stored checksum");
    match &err {
        DownloadError::Body { key, .. } => {
            assert_eq!(key, "k");
            let text = err.to_string();
            assert!(text.to_lowercase().contains("checksum"), "{err}");
            assert!(
                !text.contains("may not support GetObject"),
                "the server is not to blame: {err}"
            );
        }
        other => panic!("{other}"),
    }
}

/// Uploads `parts` as one multipart object with the SDK and returns its ETag.
async fn multipart(aws: &Aws, bucket: &str, key: &str, parts: &[Vec<u8>]) -> String {
    let s3 = aws.s3(TEST_REGION);
    let upload_id = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let mut completed = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let number = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(part.clone()))
            .send()
            .await
            .unwrap();
        completed.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    let out = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send()
        .await
        .unwrap();
    out.e_tag().unwrap().trim_matches('"').to_string()
}

#[tokio::test]
async fn head_with_a_part_number_gives_the_part_size_and_count() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, true).await;
    let parts = vec![data(5 * MIB, 1), data(5 * MIB, 2), data(MIB, 3)];
    let etag = multipart(&aws, &bucket, "big", &parts).await;
    assert!(etag.ends_with("-3"), "{etag}");
    let version = list(&aws, &bucket, "big", 10).await[0].version_id.clone();

    let whole = head(&aws, &bucket, "big", &version).await;
    assert_eq!(whole.size, 11 * MIB as u64);
    assert_eq!(whole.etag, etag);
    assert_eq!((whole.parts_count, whole.part_length), (None, None));

    let first = head_version(&aws, &bucket, TEST_REGION, "big", &version, Some(1))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(first.part_length, Some(5 * MIB as u64));
    assert_eq!(first.parts_count, Some(3));
    // S3 answers the object's size (Content-Range) and ETag; moto the part's. Pinned so that a moto
    // that starts answering like S3 is noticed.
    assert_eq!(first.size, 5 * MIB as u64, "moto now sends Content-Range for parts");
    assert_eq!(first.etag, md5_etag(&parts[0]), "moto now answers the object's ETag");

    // A single-part object is its own part 1.
    let small = data(1000, 4);
    let small_version = put(&aws, &bucket, "small", &small, None).await;
    let part = head_version(&aws, &bucket, TEST_REGION, "small", &small_version, Some(1))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        (part.size, part.part_length, part.parts_count),
        (1000, Some(1000), None)
    );
}

/// A journal that ignores every callback.
struct NoJournal;

impl UploadJournal for NoJournal {
    fn multipart_started(&self, _: &str, _: &str, _: &str, _: u64) {}
    fn part_done(&self, _: &str, _: &s3rec::aws::transfer::DonePart) {}
    fn multipart_finished(&self, _: &str) {}
}

#[tokio::test]
async fn a_multipart_checksum_without_its_part_count_is_left_to_s3rec_s_verification() {
    // s3rec's multipart uploads store the full-object CRC64-NVME. moto stores its own SHA-256 based
    // value without the `-N` suffix under that name (tests/aws_transfer.rs) and types nothing, so the
    // SDK, checking the body against it, rejected the download. The download is s3rec's to judge: it
    // succeeds, the value is recorded as composite (the ETag says the object came in parts), and
    // verification then uses the multipart ETag.
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, false).await;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let bytes = data(11 * MIB, 5);
    std::fs::write(&source, &bytes).unwrap();
    let meta = std::fs::metadata(&source).unwrap();
    let up = Upload {
        bucket: &bucket,
        region: TEST_REGION,
        key: "mp",
        path: &source,
        size: bytes.len() as u64,
        mtime_ms: s3rec::state::time::mtime_ms(&meta),
        storage_class: None,
        content_type: "application/octet-stream",
        checksum: ChecksumAlgorithm::Crc64nvme,
        multipart_threshold: 5 * MIB as u64,
        part_size: 5 * MIB as u64,
        resume: None,
    };
    let uploaded = upload_file(
        &aws,
        &up,
        &NoJournal,
        &std::sync::Arc::new(tokio::sync::Semaphore::new(4)),
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    let head = head(&aws, &bucket, "mp", "null").await;
    let stored = head.checksum.expect("moto stores a checksum");
    assert_ne!(
        Some(stored.value.clone()),
        uploaded.checksum,
        "moto now stores the full-object CRC: the composite case needs another server to test"
    );
    assert!(
        !stored.full_object,
        "a multipart object's untyped checksum is composite: {stored:?}"
    );

    let target = dir.path().join("mp");
    let got = download_version(
        &aws,
        &download(&bucket, "mp", "null", &uploaded.etag, &target),
        &no_progress,
    )
    .await
    .unwrap_or_else(|err| panic!("the SDK still judges moto's multipart checksum: {err}"));
    assert_eq!(std::fs::read(&target).unwrap(), bytes);
    let checksum = got.checksum.expect("the stored checksum comes with the download");
    assert_eq!(checksum.value, stored.value);
    assert!(!checksum.full_object, "{checksum:?}");
}

#[tokio::test]
async fn delete_versions_removes_2500_versions_markers_and_null_versions() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, false).await;
    let put_all = |keys: Vec<String>| {
        let aws = &aws;
        let bucket = &bucket;
        async move {
            futures_util::stream::iter(keys)
                .for_each_concurrent(16, |key| async move {
                    put(aws, bucket, &key, b"x", None).await;
                })
                .await;
        }
    };
    // 200 null versions from before versioning, then 1,000 keys with two versions each and 300 delete
    // markers on top: 2,500 entries.
    put_all((0..200).map(|i| format!("n/{i:04}")).collect()).await;
    enable_versioning(&aws, &bucket).await;
    let keys: Vec<String> = (0..1000).map(|i| format!("v/{i:04}")).collect();
    put_all(keys.clone()).await;
    put_all(keys.clone()).await;
    futures_util::stream::iter(&keys[..300])
        .for_each_concurrent(16, |key| {
            let (aws, bucket) = (&aws, &bucket);
            async move {
                delete(aws, bucket, key).await;
            }
        })
        .await;

    let listed = list(&aws, &bucket, "", VERSIONS_PAGE).await;
    assert_eq!(listed.len(), 2500);
    assert_eq!(listed.iter().filter(|v| v.delete_marker).count(), 300);
    assert_eq!(listed.iter().filter(|v| v.version_id == "null").count(), 200);
    // Everything but the newest version of v/0999.
    let keep = listed
        .iter()
        .find(|v| v.key == "v/0999" && v.is_latest)
        .unwrap()
        .clone();
    let doomed: Vec<(String, String)> = listed
        .iter()
        .filter(|v| **v != keep)
        .map(|v| (v.key.clone(), v.version_id.clone()))
        .collect();
    assert_eq!(doomed.len(), 2499);

    let refused = delete_versions(&aws, &bucket, TEST_REGION, &doomed)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(list(&aws, &bucket, "", VERSIONS_PAGE).await, vec![keep]);

    // The null versions of an unversioned bucket are deleted by naming them.
    let plain = new_bucket(&aws, false).await;
    for i in 0..3 {
        put(&aws, &plain, &format!("p/{i}"), b"x", None).await;
    }
    let nulls: Vec<(String, String)> = (0..3).map(|i| (format!("p/{i}"), "null".to_string())).collect();
    let refused = delete_versions(&aws, &plain, TEST_REGION, &nulls)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(refused.is_empty(), "{refused:?}");
    assert!(list(&aws, &plain, "", 10).await.is_empty());
    assert!(
        delete_versions(&aws, &plain, TEST_REGION, &[])
            .await
            .unwrap()
            .is_empty(),
        "nothing to delete is no call"
    );
}

#[tokio::test]
async fn a_cut_body_keeps_what_arrived_and_a_ranged_download_finishes_it() {
    let aws = common::emulator().await;
    let bucket = new_bucket(&aws, false).await;
    let body = data(2 * MIB, 41);
    aws.s3(TEST_REGION)
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let proxy = fault_proxy::FaultProxy::start(&[
        "--match",
        &format!("^GET /{bucket}/k"),
        "--first",
        "1",
        "--faults",
        "cut-body",
    ]);
    let via_proxy = s3rec::aws::connect(
        &s3rec::manifest::types::AwsSettings {
            force_path_style: true,
            ..Default::default()
        },
        &s3rec::aws::Overrides {
            endpoint_url: Some(proxy.endpoint.clone()),
            ..common::test_overrides()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let etag = md5_etag(&body);

    let err = download_version(&via_proxy, &download(&bucket, "k", "null", &etag, &path), &no_progress)
        .await
        .expect_err("the first GET is cut off");
    let DownloadError::Cut { received, .. } = err else {
        panic!("not reported as a cut body: {err}");
    };
    assert!(received > 0 && received < body.len() as u64, "{received}");
    // Every byte that arrived is on disk, and they are the object's first bytes.
    let kept = std::fs::read(&path).unwrap();
    assert_eq!(kept.len() as u64, received);
    assert!(body.starts_with(&kept));

    let resume = Download {
        offset: received,
        ..download(&bucket, "k", "null", &etag, &path)
    };
    let got = download_version(&via_proxy, &resume, &no_progress)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(got.transferred, body.len() as u64 - received);
    assert_eq!(std::fs::read(&path).unwrap(), body);
}
