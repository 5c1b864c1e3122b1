//! Reading a bucket out for `migrate`: every version and delete marker of a listing, what S3 says about
//! one version (size, ETag, storage class, restore state, stored checksum, encryption), Glacier restore
//! requests, and downloads of exact versions to local files. Deleting the migrated versions is
//! [`super::transfer::delete_versions`], next to the other batched deletes.
//!
//! # Versions and the `null` version
//!
//! Everything here addresses one version: a (key, version id) pair from [`for_each_version`]. Objects
//! written while a bucket was unversioned have the version id `null`. S3 accepts `versionId=null`
//! everywhere, but some servers (moto among them) refuse any `versionId` on an unversioned bucket, so
//! HEAD and GET of the `null` version first go out without a version id, which names the current
//! version; only when the answer shows that the current version is another one (its `x-amz-version-id`
//! is not `null`, or it is a delete marker, or it no longer matches the ETag) is the request repeated
//! with `versionId=null`, which only a bucket that has been versioned since can need. A restore request
//! answers nothing that names its version, so it sends `versionId=null` from the start, and only a
//! server that rejects that as a bad request gets it again without one.
//!
//! # Archived objects
//!
//! Objects in GLACIER or DEEP_ARCHIVE, and Intelligent-Tiering objects in an archive access tier, cannot
//! be read until a restore made a temporary copy. [`head_version`] tells which of these states a version
//! is in ([`RestoreState`]), [`restore_version`] asks for a restore, and [`download_version`] reports
//! an object that is (still, or again) archived as [`DownloadError::Archived`] rather than as a failure.
//!
//! # Downloads
//!
//! A download is pinned to what the scan saw: it names the version and sends the ETag as `If-Match`, so
//! a `null` version that was overwritten since fails ([`DownloadError::Changed`]) instead of being
//! stored and then verified against facts about other bytes. The body is streamed to the file through a
//! small buffer, so memory stays the same whatever the object's size, and the file is flushed to disk
//! (`fsync`) before the download counts as done, so a crash after a migration records an object as
//! downloaded can never leave a file that lost its tail.
//!
//! GetObject asks for the checksum S3 stored with the object, for verification to use. For an object
//! uploaded in one piece the SDK also checks the body against it while streaming, and a mismatch fails
//! the download ([`DownloadError::Body`]). For an object uploaded in parts (its ETag ends in `-N`) the
//! SDK is not let to judge: its checksum may be the composite one of the parts, which the SDK takes for
//! a checksum of the content when the server leaves out the `-N` part count (moto does), failing sound
//! downloads. s3rec verifies every download itself afterwards (`migrate::verify`), and
//! [`stored_checksum`] tells a composite checksum from the ETag and the checksum type, so that it gives
//! way to the ETag there.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeDeserializationInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::{
    ChecksumMode, ChecksumType, EncodingType, GlacierJobParameters, RestoreRequest as SdkRestoreRequest,
    ServerSideEncryption, Tier,
};
use tokio::io::{AsyncWriteExt as _, BufWriter};

use super::transfer::{READ_BUFFER, bad_response, invalid, unquote, url_decode};
use super::{Aws, AwsError, Op};
use crate::manifest::types::{ChecksumAlgorithm, RestoreTier};
use crate::migrate::StoredChecksum;

/// The error code S3 answers when an object's storage class is in the way: reading or copying an
/// archived version without a restored copy, or asking to restore one that is not archived.
pub const INVALID_OBJECT_STATE: &str = "InvalidObjectState";

/// The error code of CopyObject (and UploadPartCopy) from an archived version without a restored copy.
pub const OBJECT_NOT_IN_ACTIVE_TIER: &str = "ObjectNotInActiveTierError";

/// Versions and delete markers asked for per ListObjectVersions page: the most S3 answers.
pub const VERSIONS_PAGE: i32 = 1000;

/// The version id S3 gives objects written while their bucket was unversioned.
const NULL_VERSION: &str = "null";

/// The storage class S3 means when it names none.
const STANDARD: &str = "STANDARD";

/// One version (or delete marker) of a ListObjectVersions listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteVersion {
    /// The object key.
    pub key: String,
    /// The version id; `null` for objects written while the bucket was unversioned.
    pub version_id: String,
    /// Whether this is the key's current version (or current delete marker).
    pub is_latest: bool,
    /// Whether this is a delete marker rather than a version with content.
    pub delete_marker: bool,
    /// The size in bytes; 0 for delete markers.
    pub size: u64,
    /// The ETag without its quotes; empty for delete markers.
    pub etag: String,
    /// When the version was written, in Unix milliseconds (S3 lists whole seconds).
    pub last_modified_ms: i64,
    /// The storage class; `STANDARD` when the server names none (as for delete markers).
    pub storage_class: String,
}

/// Every version and delete marker under `prefix`, handed to `each` in the server's order (keys in
/// byte order, then each key's versions newest first), page by page.
///
/// Keys are requested URL-encoded (`encoding-type=url`) and decoded here, as in
/// [`super::transfer::for_each_object`], because a key may hold characters XML 1.0 cannot carry. With
/// URL encoding, S3 also encodes `NextKeyMarker`, which is decoded before it is sent back as
/// `key-marker` (the SDK encodes query parameters itself). Servers that ignore `encoding-type` (moto
/// does for this operation) say so by leaving `EncodingType` out, and their keys are taken as they are.
///
/// The SDK hands a page's versions and delete markers over as two lists, which loses how they
/// interleave. The order is rebuilt from the keys, the current version first, and the dates (newest
/// first); as listings carry whole seconds, versions and markers of one key written within the same
/// second are put in the order of the page's XML, read through an interceptor (exact for S3, which
/// interleaves them; moto lists all versions before all markers).
///
/// A listing that says it is truncated without naming where to continue, or names the same place
/// again, is an error rather than a silently short listing: a migration must not take objects it never
/// saw for deleted.
pub async fn for_each_version(
    aws: &Aws,
    bucket: &str,
    region: &str,
    prefix: &str,
    page: i32,
    mut each: impl FnMut(RemoteVersion),
) -> Result<(), AwsError> {
    let s3 = aws.s3(region);
    let op = Op::bucket("ListObjectVersions", "s3:ListBucketVersions", bucket);
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let order = ListingOrder::default();
        let out = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(page)
            .encoding_type(EncodingType::Url)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .customize()
            .interceptor(order.clone())
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
        let encoded = out.encoding_type.as_ref() == Some(&EncodingType::Url);
        let decode = |raw: String| {
            if encoded {
                url_decode(raw).map_err(|detail| bad_response(&op, detail))
            } else {
                Ok(raw)
            }
        };

        let mut versions = Vec::new();
        for v in out.versions.unwrap_or_default() {
            let Some(raw_key) = v.key else { continue };
            versions.push(RemoteVersion {
                key: decode(raw_key)?,
                version_id: version_or_null(v.version_id),
                is_latest: v.is_latest.unwrap_or(false),
                delete_marker: false,
                size: v.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                etag: v.e_tag.map(unquote).unwrap_or_default(),
                last_modified_ms: v.last_modified.and_then(|t| t.to_millis().ok()).unwrap_or(0),
                storage_class: v
                    .storage_class
                    .map_or_else(|| STANDARD.to_string(), |c| c.as_str().to_string()),
            });
        }
        let mut markers = Vec::new();
        for m in out.delete_markers.unwrap_or_default() {
            let Some(raw_key) = m.key else { continue };
            markers.push(RemoteVersion {
                key: decode(raw_key)?,
                version_id: version_or_null(m.version_id),
                is_latest: m.is_latest.unwrap_or(false),
                delete_marker: true,
                size: 0,
                etag: String::new(),
                last_modified_ms: m.last_modified.and_then(|t| t.to_millis().ok()).unwrap_or(0),
                storage_class: STANDARD.to_string(),
            });
        }
        for version in interleave(versions, markers, &order.take()) {
            each(version);
        }

        if out.is_truncated != Some(true) {
            return Ok(());
        }
        let next_key = out.next_key_marker.filter(|m| !m.is_empty()).map(decode).transpose()?;
        let next_version = out.next_version_id_marker.filter(|m| !m.is_empty());
        if next_key.is_none() || (next_key == key_marker && next_version == version_marker) {
            return Err(bad_response(
                &op,
                format!(
                    "the listing is truncated but its continuation ({next_key:?}, {next_version:?}) does not \
                     move past the page before"
                ),
            ));
        }
        key_marker = next_key;
        version_marker = next_version;
    }
}

fn version_or_null(version_id: Option<String>) -> String {
    version_id
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| NULL_VERSION.to_string())
}

/// Records, per ListObjectVersions answer, whether each entry of the XML is a `<Version>` (false) or a
/// `<DeleteMarker>` (true), in document order: the one place the interleaving survives.
#[derive(Debug, Clone, Default)]
struct ListingOrder(Arc<Mutex<Vec<bool>>>);

impl ListingOrder {
    fn take(&self) -> Vec<bool> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Intercept for ListingOrder {
    fn name(&self) -> &'static str {
        "S3recListingOrder"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The body is in memory by now (the SDK read it whole to deserialize it); a retried request
        // overwrites what an earlier attempt recorded.
        let order = context.response().body().bytes().map(entry_kinds).unwrap_or_default();
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = order;
        Ok(())
    }
}

/// The kinds of a ListVersionsResult's entries in document order: true for `<DeleteMarker>`, false for
/// `<Version>`. A document that stops parsing gives the entries before the fault; a list that does not
/// match the SDK's lists is ignored by the caller anyway.
fn entry_kinds(xml: &[u8]) -> Vec<bool> {
    let mut kinds = Vec::new();
    let mut reader = quick_xml::Reader::from_reader(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(element) | quick_xml::events::Event::Empty(element)) => {
                match element.name().as_ref() {
                    "Version" => kinds.push(false),
                    "DeleteMarker" => kinds.push(true),
                    _ => {}
                }
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    kinds
}

/// One page's versions and delete markers (each list in the server's order) as one list in the
/// server's order: by key, the current entry first, then newest first; entries of one key that the
/// dates cannot order (same second, neither current) keep their order in `kinds`, the page's XML, when
/// it describes these lists, and otherwise versions come before markers.
fn interleave(versions: Vec<RemoteVersion>, markers: Vec<RemoteVersion>, kinds: &[bool]) -> Vec<RemoteVersion> {
    // The position of each entry in the XML: the n-th version is at the position of the n-th `false`.
    let usable = kinds.iter().filter(|m| **m).count() == markers.len() && kinds.len() == versions.len() + markers.len();
    let positions = |marker: bool, fallback_base: usize| -> Vec<usize> {
        if usable {
            kinds
                .iter()
                .enumerate()
                .filter(|(_, m)| **m == marker)
                .map(|(i, _)| i)
                .collect()
        } else {
            let count = if marker { markers.len() } else { versions.len() };
            (fallback_base..fallback_base + count).collect()
        }
    };
    let version_positions = positions(false, 0);
    let marker_positions = positions(true, versions.len());

    let mut out = Vec::with_capacity(versions.len() + markers.len());
    let mut vs = versions.into_iter().zip(version_positions).peekable();
    let mut ms = markers.into_iter().zip(marker_positions).peekable();
    loop {
        let take_marker = match (vs.peek(), ms.peek()) {
            (Some(v), Some(m)) => listed_before(m, v),
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (None, None) => break,
        };
        let next = if take_marker { ms.next() } else { vs.next() };
        out.extend(next.map(|(entry, _)| entry));
    }
    out
}

/// Whether `a` comes before `b` in a version listing (each paired with its XML position).
fn listed_before(a: &(RemoteVersion, usize), b: &(RemoteVersion, usize)) -> bool {
    let ((a, a_at), (b, b_at)) = (a, b);
    if a.key != b.key {
        return a.key < b.key;
    }
    if a.is_latest != b.is_latest {
        return a.is_latest;
    }
    if a.last_modified_ms != b.last_modified_ms {
        return a.last_modified_ms > b.last_modified_ms;
    }
    a_at < b_at
}

/// Whether a version can be read now, as far as archiving goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreState {
    /// Not in an archive: GetObject works.
    NotArchived,
    /// Archived, with no restore requested, or with a restored copy that has expired.
    Archived,
    /// A restore was requested and has not finished.
    InProgress,
    /// A restored copy exists; `expiry` is when S3 removes it, as S3 wrote it (an HTTP date).
    Restored {
        /// The `expiry-date` of the `x-amz-restore` header, when it has one.
        expiry: Option<String>,
    },
}

/// What HeadObject says about one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The object's size in bytes. With a part number, the size of the whole object when the server
    /// sends `Content-Range` (S3 does); a server that does not (moto, for multipart objects) leaves the
    /// part's size here.
    pub size: u64,
    /// The ETag without its quotes. moto answers a HEAD with a part number with the part's ETag; S3
    /// with the object's.
    pub etag: String,
    /// The storage class; `STANDARD` when the server names none.
    pub storage_class: String,
    /// Whether the version must be restored before it can be read.
    pub restore: RestoreState,
    /// `x-amz-archive-status` (`ARCHIVE_ACCESS`, `DEEP_ARCHIVE_ACCESS`) for Intelligent-Tiering objects
    /// in an archive tier.
    pub archive_status: Option<String>,
    /// How many parts a multipart object has; S3 says so when a part number was asked for.
    pub parts_count: Option<u32>,
    /// With a part number: that part's size (`Content-Length`), which for part 1 is the part size the
    /// object was uploaded with.
    pub part_length: Option<u64>,
    /// The checksum S3 stored with the object, when it has one.
    pub checksum: Option<StoredChecksum>,
    /// Server-side encryption: `AES256`, `aws:kms`, `aws:kms:dsse`, or `SSE-C` for customer keys.
    pub sse: Option<String>,
}

/// HeadObject of one version, with checksum mode enabled so that S3 reports the stored checksum, and
/// with `partNumber` when `part_number` is given (part 1 tells the part size of a multipart object).
///
/// `version_id` `null` is first asked for without a version id (see the module documentation).
pub async fn head_version(
    aws: &Aws,
    bucket: &str,
    region: &str,
    key: &str,
    version_id: &str,
    part_number: Option<i32>,
) -> Result<Head, AwsError> {
    let out = if version_id == NULL_VERSION {
        match head_request(aws, bucket, region, key, None, part_number).await {
            Ok(out) if names_null_version(out.version_id.as_deref()) => out,
            // The current version is another one: the null version, if there is one, is older.
            Ok(_) => head_request(aws, bucket, region, key, Some(NULL_VERSION), part_number).await?,
            // The current version is a delete marker (or the key is gone): an older null version may
            // still be there, which a server that rejects `versionId=null` cannot have.
            Err(err) if err.is_not_found() => {
                match head_request(aws, bucket, region, key, Some(NULL_VERSION), part_number).await {
                    Ok(out) => out,
                    Err(retry) if is_bad_request(&retry) => return Err(err),
                    Err(retry) => return Err(retry),
                }
            }
            Err(err) => return Err(err),
        }
    } else {
        head_request(aws, bucket, region, key, Some(version_id), part_number).await?
    };
    Ok(head_from(out, part_number.is_some()))
}

/// One HeadObject, naming `version_id` when given.
async fn head_request(
    aws: &Aws,
    bucket: &str,
    region: &str,
    key: &str,
    version_id: Option<&str>,
    part_number: Option<i32>,
) -> Result<HeadObjectOutput, AwsError> {
    aws.s3(region)
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_string))
        .set_part_number(part_number)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| aws.error(&Op::object("HeadObject", read_action(version_id), bucket, key), e))
}

fn head_from(out: HeadObjectOutput, part: bool) -> Head {
    let content_length = out.content_length.and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
    let size = if part {
        out.content_range
            .as_deref()
            .and_then(range_total)
            .unwrap_or(content_length)
    } else {
        content_length
    };
    let storage_class = out
        .storage_class
        .as_ref()
        .map_or_else(|| STANDARD.to_string(), |c| c.as_str().to_string());
    let archive_status = out.archive_status.as_ref().map(|s| s.as_str().to_string());
    let checksum = stored_checksum(
        [
            (ChecksumAlgorithm::Crc64nvme, out.checksum_crc64_nvme.as_deref()),
            (ChecksumAlgorithm::Crc32c, out.checksum_crc32_c.as_deref()),
            (ChecksumAlgorithm::Crc32, out.checksum_crc32.as_deref()),
            (ChecksumAlgorithm::Sha256, out.checksum_sha256.as_deref()),
            (ChecksumAlgorithm::Sha1, out.checksum_sha1.as_deref()),
        ],
        out.checksum_type.as_ref(),
        out.e_tag.as_deref(),
    );
    Head {
        size,
        etag: out.e_tag.map(unquote).unwrap_or_default(),
        restore: restore_state(&storage_class, archive_status.as_deref(), out.restore.as_deref()),
        storage_class,
        archive_status,
        parts_count: out.parts_count.and_then(|n| u32::try_from(n).ok()),
        part_length: part.then_some(content_length),
        checksum,
        sse: sse_name(
            out.server_side_encryption.as_ref(),
            out.sse_customer_algorithm.as_deref(),
        ),
    }
}

/// The total of a `Content-Range: bytes 0-8388607/52428800` header.
fn range_total(range: &str) -> Option<u64> {
    range.rsplit_once('/')?.1.trim().parse().ok()
}

/// Whether an answer's `x-amz-version-id` is the null version's: absent (an unversioned bucket) or
/// `null`.
fn names_null_version(version_id: Option<&str>) -> bool {
    version_id.is_none_or(|v| v.is_empty() || v == NULL_VERSION)
}

/// A 400 answer: how a server that refuses `versionId` on an unversioned bucket says so.
fn is_bad_request(err: &AwsError) -> bool {
    matches!(err, AwsError::Service { status: 400, .. })
}

/// The IAM action of a HEAD or GET: reading a named version needs `s3:GetObjectVersion`.
fn read_action(version_id: Option<&str>) -> &'static str {
    if version_id.is_some() {
        "s3:GetObjectVersion"
    } else {
        "s3:GetObject"
    }
}

/// The restore state of a version from its storage class, its Intelligent-Tiering archive status and
/// its `x-amz-restore` header.
///
/// Only GLACIER and DEEP_ARCHIVE (and Intelligent-Tiering's archive tiers) need restores; GLACIER_IR
/// and the other classes are read directly. For those that do, the header decides: a restore under way
/// (`ongoing-request="true"`), or a restored copy (`ongoing-request="false", expiry-date="..."`).
/// Without the header (or with one that cannot be read), the version is archived: no restore was asked
/// for, or its copy expired. An Intelligent-Tiering object whose restore finished leaves the archive
/// tier (its archive status disappears) and keeps the header while the copy lasts.
pub fn restore_state(storage_class: &str, archive_status: Option<&str>, restore: Option<&str>) -> RestoreState {
    let archive_class = matches!(storage_class, "GLACIER" | "DEEP_ARCHIVE");
    let tiering = storage_class == "INTELLIGENT_TIERING";
    if !archive_class && !tiering {
        return RestoreState::NotArchived;
    }
    let fields = restore.map(header_fields).unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    match field("ongoing-request").map(str::to_ascii_lowercase).as_deref() {
        Some("true") => RestoreState::InProgress,
        Some("false") => RestoreState::Restored {
            expiry: field("expiry-date").filter(|d| !d.is_empty()).map(str::to_string),
        },
        _ if archive_class || archive_status.is_some_and(|s| !s.is_empty()) => RestoreState::Archived,
        _ => RestoreState::NotArchived,
    }
}

/// The `name="value"` pairs of a header such as `ongoing-request="false", expiry-date="Fri, 21 Dec
/// 2012 00:00:00 GMT"`: comma-separated, values quoted (and then free to hold commas) or bare.
fn header_fields(header: &str) -> Vec<(&str, &str)> {
    let mut fields = Vec::new();
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some((name, after)) = rest.split_once('=') else {
            return fields;
        };
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
            None => after.split_once(',').map_or((after.trim(), ""), |(v, n)| (v.trim(), n)),
        };
        fields.push((name.trim(), value));
        rest = next;
    }
}

/// The checksum an answer carries: the first `x-amz-checksum-*` value present (S3 sends only the
/// object's one), with whether it covers the whole object. A composite checksum is one S3 types
/// `COMPOSITE`, or one whose value ends in `-N` (the part count; base64 has no `-`), which servers
/// that send no checksum type still write for composite checksums. An object uploaded in parts (its
/// ETag ends in `-N`) has a full-object checksum only when the answer says `FULL_OBJECT`: servers that
/// type nothing and drop the suffix (moto) store the composite one, and taking it for the checksum of the
/// content would fail every such object's verification.
fn stored_checksum(
    values: [(ChecksumAlgorithm, Option<&str>); 5],
    checksum_type: Option<&ChecksumType>,
    etag: Option<&str>,
) -> Option<StoredChecksum> {
    let (algorithm, value) = values
        .into_iter()
        .find_map(|(algorithm, value)| Some((algorithm, value.filter(|v| !v.is_empty())?)))?;
    let full_object = match checksum_type {
        Some(ChecksumType::Composite) => false,
        Some(ChecksumType::FullObject) => !has_part_count(value),
        // No type, or one this SDK does not know.
        _ => !has_part_count(value) && !etag.is_some_and(|e| has_part_count(e.trim_matches('"'))),
    };
    Some(StoredChecksum {
        algorithm,
        value: value.to_string(),
        full_object,
    })
}

/// Whether a checksum or ETag ends in `-N`, the part count S3 appends to the values of objects uploaded
/// in parts.
fn has_part_count(value: &str) -> bool {
    value
        .rsplit_once('-')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The encryption of an object as s3rec reports it: S3's own name for SSE-S3 and SSE-KMS, `SSE-C` when
/// the object is encrypted with a customer-provided key.
fn sse_name(sse: Option<&ServerSideEncryption>, customer_algorithm: Option<&str>) -> Option<String> {
    if customer_algorithm.is_some_and(|a| !a.is_empty()) {
        return Some("SSE-C".to_string());
    }
    sse.map(|s| s.as_str().to_string()).filter(|s| !s.is_empty())
}

/// What S3 said to a restore request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreRequest {
    /// 202 Accepted: the restore started.
    Started,
    /// 200 OK: a restored copy already exists, and its expiry was moved to `days` from now.
    AlreadyRestored,
    /// 409 `RestoreAlreadyInProgress`: an earlier request is still being worked on.
    InProgress,
}

/// RestoreObject for one version, in `tier`, keeping the copy for `days`.
///
/// `days` is `None` for Intelligent-Tiering objects in an archive tier: AWS refuses a number of days
/// there, as the restored object simply moves back to the frequent access tier. The `null` version is
/// sent as `versionId=null` (see the module documentation).
pub async fn restore_version(
    aws: &Aws,
    bucket: &str,
    region: &str,
    key: &str,
    version_id: &str,
    days: Option<u32>,
    tier: RestoreTier,
) -> Result<RestoreRequest, AwsError> {
    let op = Op::object("RestoreObject", "s3:RestoreObject", bucket, key);
    let days = days
        .map(|d| i32::try_from(d).map_err(|_| invalid(&op, format!("{d} days is more than S3 accepts"))))
        .transpose()?;
    let tier = match tier {
        RestoreTier::Expedited => Tier::Expedited,
        RestoreTier::Standard => Tier::Standard,
        RestoreTier::Bulk => Tier::Bulk,
    };
    let parameters = GlacierJobParameters::builder()
        .tier(tier)
        .build()
        .map_err(|e| invalid(&op, e))?;
    let request = SdkRestoreRequest::builder()
        .set_days(days)
        .glacier_job_parameters(parameters)
        .build();
    match restore_request(aws, &op, bucket, region, key, Some(version_id), &request).await {
        Err(err) if version_id == NULL_VERSION && is_bad_request(&err) => {
            restore_request(aws, &op, bucket, region, key, None, &request).await
        }
        other => other,
    }
}

/// One RestoreObject call. The answer's status is the only thing that tells a started restore (202)
/// from an extended one (200), and the SDK's output does not keep it, so an interceptor reads it.
async fn restore_request(
    aws: &Aws,
    op: &Op,
    bucket: &str,
    region: &str,
    key: &str,
    version_id: Option<&str>,
    request: &SdkRestoreRequest,
) -> Result<RestoreRequest, AwsError> {
    let status = StatusTap::default();
    let result = aws
        .s3(region)
        .restore_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_string))
        .restore_request(request.clone())
        .customize()
        .interceptor(status.clone())
        .send()
        .await;
    match result {
        Ok(_) if status.get() == 200 => Ok(RestoreRequest::AlreadyRestored),
        Ok(_) => Ok(RestoreRequest::Started),
        Err(err) => match aws.error(op, err) {
            err if err.code() == Some("RestoreAlreadyInProgress") => Ok(RestoreRequest::InProgress),
            err => Err(err),
        },
    }
}

/// Records the HTTP status of the last answer to one request.
#[derive(Debug, Clone, Default)]
struct StatusTap(Arc<AtomicU16>);

impl StatusTap {
    fn get(&self) -> u16 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for StatusTap {
    fn name(&self) -> &'static str {
        "S3recStatusTap"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.store(context.response().status().as_u16(), Ordering::Relaxed);
        Ok(())
    }
}

/// One version to download.
#[derive(Debug, Clone)]
pub struct Download<'a> {
    /// The source bucket.
    pub bucket: &'a str,
    /// The bucket's region.
    pub region: &'a str,
    /// The object key.
    pub key: &'a str,
    /// The version id; `null` for the version of an object written while the bucket was unversioned.
    pub version_id: &'a str,
    /// The ETag the scan saw, sent as If-Match so that a rewritten object fails instead of being
    /// verified against stale facts. Empty: no condition.
    pub etag: &'a str,
    /// The file to create (truncated if present); its parent exists. On an error it may hold part of
    /// the object: the caller owns it.
    pub path: &'a Path,
    /// Resume: `path` already holds this many bytes of the object (a download an earlier run lost),
    /// so only the rest is asked for (`Range: bytes=OFFSET-`) and appended. A server that answers with
    /// the whole object instead gets the file written from the start. 0 downloads it all.
    pub offset: u64,
}

/// What a finished download stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The file's size afterwards, which is the object's size.
    pub size: u64,
    /// The bytes this download transferred (less than `size` when it resumed).
    pub transferred: u64,
    /// The ETag of what was downloaded, without quotes.
    pub etag: String,
    /// The checksum S3 stored with the object, when it has one.
    pub checksum: Option<StoredChecksum>,
    /// Server-side encryption, as in [`Head::sse`].
    pub sse: Option<String>,
}

/// Why a version could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// S3 answered `InvalidObjectState`: the object is archived and not (or no longer) restored.
    #[error("{key} is archived and has no restored copy (InvalidObjectState): restore it, then download it again")]
    Archived {
        /// The object key.
        key: String,
    },

    /// The object changed or went away since the scan: `412 PreconditionFailed` (its ETag is another
    /// one now), `NoSuchKey` or `NoSuchVersion`.
    #[error("{key} changed or was deleted since the scan, so it was not downloaded: scan the bucket again")]
    Changed {
        /// The object key.
        key: String,
    },

    /// S3 refused or could not be reached, or the body broke off or failed its checksum. Boxed, as
    /// elsewhere in s3rec: AWS errors carry a lot of context.
    #[error(transparent)]
    Aws(Box<AwsError>),

    /// The body broke off (the connection closed or reset) before the object's last byte. What
    /// arrived is flushed to the file first, so it holds the object's first `received` bytes plus any
    /// earlier offset: a download resumed from there (`Range` + `If-Match`) continues it.
    #[error("the download of {key} broke off after {received} bytes: {detail}")]
    Cut {
        /// The object key.
        key: String,
        /// The file's length afterwards: the bytes of the object it holds.
        received: u64,
        /// What the connection said.
        detail: String,
    },

    /// Every byte of the body arrived, but reading it failed at its end: the SDK found that the bytes do
    /// not match the checksum S3 sent with them. What was written is not trusted: a partial file as long
    /// as the object is downloaded again from its start.
    #[error("the body of {key} does not match what S3 sent with it: {detail}; the next run downloads it again")]
    Body {
        /// The object key.
        key: String,
        /// What the body's reader said.
        detail: String,
    },

    /// The local file could not be created, written or flushed.
    #[error("{} could not be written: {source}: check free space and that s3rec may write there", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl From<AwsError> for DownloadError {
    fn from(err: AwsError) -> Self {
        Self::Aws(Box::new(err))
    }
}

/// GetObject of one version streamed into `d.path`, with `If-Match` on the scanned ETag, asking for the
/// stored checksum (which the SDK checks only for objects uploaded in one piece: see the module
/// documentation). `progress` is called with the size of each chunk once it is written (a delta, not a
/// running total). The file is synced to disk (`sync_all`) before this returns.
///
/// The body goes through a [`READ_BUFFER`]-sized buffer, so memory per download stays at that plus one
/// network chunk whatever the object's size. The file is created only once S3 has answered with the
/// object, so an archived or changed object leaves an existing file untouched.
pub async fn download_version(
    aws: &Aws,
    d: &Download<'_>,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Downloaded, DownloadError> {
    let (out, version_sent) = open_version(aws, d).await?;
    let op = Op::object("GetObject", read_action(version_sent), d.bucket, d.key);
    let expected = out.content_length.and_then(|l| u64::try_from(l).ok());
    let checksum = stored_checksum(
        [
            (ChecksumAlgorithm::Crc64nvme, out.checksum_crc64_nvme.as_deref()),
            (ChecksumAlgorithm::Crc32c, out.checksum_crc32_c.as_deref()),
            (ChecksumAlgorithm::Crc32, out.checksum_crc32.as_deref()),
            (ChecksumAlgorithm::Sha256, out.checksum_sha256.as_deref()),
            (ChecksumAlgorithm::Sha1, out.checksum_sha1.as_deref()),
        ],
        out.checksum_type.as_ref(),
        out.e_tag.as_deref(),
    );
    let sse = sse_name(
        out.server_side_encryption.as_ref(),
        out.sse_customer_algorithm.as_deref(),
    );
    let etag = out.e_tag.map(unquote).unwrap_or_default();

    let write_error = |source| DownloadError::Write {
        path: d.path.to_path_buf(),
        source,
    };
    // A ranged answer (206, with Content-Range) continues the file; anything else is the whole object.
    let resumed = if d.offset > 0 && out.content_range.is_some() {
        d.offset
    } else {
        0
    };
    let file = if resumed > 0 {
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(d.path)
            .await
            .map_err(write_error)?;
        // Whatever lies past the offset (a torn last write) is cut before appending.
        file.set_len(resumed).await.map_err(write_error)?;
        let mut file = file;
        tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(resumed))
            .await
            .map_err(write_error)?;
        file
    } else {
        tokio::fs::File::create(d.path).await.map_err(write_error)?
    };
    let mut writer = BufWriter::with_capacity(READ_BUFFER, file);
    let mut body = out.body;
    let mut written = 0u64;
    let mut broke = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                writer.write_all(&chunk).await.map_err(write_error)?;
                written += chunk.len() as u64;
                progress(chunk.len() as u64);
            }
            Err(err) => {
                broke = Some(chain(&err));
                break;
            }
        }
    }
    // Flushed and synced even when the body broke: the bytes that did arrive are the prefix a resume
    // continues from.
    writer.flush().await.map_err(write_error)?;
    writer.into_inner().sync_all().await.map_err(write_error)?;
    let cut = |detail: String| DownloadError::Cut {
        key: d.key.to_string(),
        received: resumed + written,
        detail,
    };
    match (broke, expected) {
        // Short of the announced length: the connection broke off, and what arrived is good so far.
        (Some(detail), Some(expected)) if written < expected => return Err(cut(detail)),
        // Every byte arrived and the stream still failed: the SDK's check of the body against the stored
        // checksum, which runs at its end. These bytes are wrong, so nothing is resumed from them.
        (Some(detail), _) => {
            return Err(DownloadError::Body {
                key: d.key.to_string(),
                detail,
            });
        }
        (None, Some(expected)) if written < expected => {
            return Err(cut(format!("the body ended after {written} of {expected} bytes")));
        }
        (None, Some(expected)) if written != expected => {
            return Err(bad_response(&op, format!("the body ended after {written} of {expected} bytes")).into());
        }
        (None, _) => {}
    }
    Ok(Downloaded {
        size: resumed + written,
        transferred: written,
        etag,
        // A checksum in a ranged answer would be the range's, not the object's.
        checksum: if resumed > 0 { None } else { checksum },
        sse,
    })
}

/// GetObject of one version with its body handed to `each` chunk by chunk and stored nowhere: what
/// `restore --verify-only` hashes to prove a backup can be read. `d.path` and `d.offset` are not used.
/// Returns the bytes read. A body that breaks off is [`DownloadError::Cut`]; a body the SDK finds does
/// not match its checksum is [`DownloadError::Body`].
pub async fn read_version(
    aws: &Aws,
    d: &Download<'_>,
    each: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<u64, DownloadError> {
    let whole = Download { offset: 0, ..d.clone() };
    let (out, _) = open_version(aws, &whole).await?;
    let expected = out.content_length.and_then(|l| u64::try_from(l).ok());
    let mut body = out.body;
    let mut read = 0u64;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                each(&chunk);
                read += chunk.len() as u64;
            }
            Err(err) if expected.is_some_and(|e| read < e) => {
                return Err(DownloadError::Cut {
                    key: d.key.to_string(),
                    received: read,
                    detail: chain(&err),
                });
            }
            Err(err) => {
                return Err(DownloadError::Body {
                    key: d.key.to_string(),
                    detail: chain(&err),
                });
            }
        }
    }
    Ok(read)
}

/// Starts the GetObject of `d`'s version; also says which version id was sent. The `null` version is
/// first asked for without one (see the module documentation).
async fn open_version<'a>(aws: &Aws, d: &Download<'a>) -> Result<(GetObjectOutput, Option<&'a str>), DownloadError> {
    if d.version_id != NULL_VERSION {
        return Ok((get_request(aws, d, Some(d.version_id)).await?, Some(d.version_id)));
    }
    match get_request(aws, d, None).await {
        Ok(out) if names_null_version(out.version_id.as_deref()) => Ok((out, None)),
        // The current version is another one (dropping its answer closes that connection), or the
        // current one is a delete marker or has another ETag: the null version may be an older one.
        Ok(_) | Err(DownloadError::Changed { .. }) => match get_request(aws, d, Some(NULL_VERSION)).await {
            Ok(out) => Ok((out, Some(NULL_VERSION))),
            Err(DownloadError::Aws(err)) if is_bad_request(&err) => {
                Err(DownloadError::Changed { key: d.key.to_string() })
            }
            Err(err) => Err(err),
        },
        Err(err) => Err(err),
    }
}

/// The request header that asks S3 to send the object's stored checksum with it.
const CHECKSUM_MODE_HEADER: &str = "x-amz-checksum-mode";

/// One GetObject, naming `version_id` when given, with the answers that matter to a migration turned
/// into [`DownloadError::Archived`] and [`DownloadError::Changed`].
async fn get_request(aws: &Aws, d: &Download<'_>, version_id: Option<&str>) -> Result<GetObjectOutput, DownloadError> {
    // S3 compares If-Match with the quoted entity tag; the quotes are added back here.
    let if_match = (!d.etag.is_empty()).then(|| format!("\"{}\"", d.etag));
    let request = aws
        .s3(d.region)
        .get_object()
        .bucket(d.bucket)
        .key(d.key)
        .set_version_id(version_id.map(str::to_string))
        .set_if_match(if_match)
        .set_range((d.offset > 0).then(|| format!("bytes={}-", d.offset)));
    // An object in parts, or one whose ETag the scan did not learn, may carry a composite checksum (see
    // the module documentation). Its checksum mode goes in as a header rather than through
    // `checksum_mode`, which would make the SDK check the body whatever its configuration says, and
    // `WhenRequired` keeps the SDK from checking on its own.
    let result = if d.etag.is_empty() || has_part_count(d.etag) {
        request
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default()
                    .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired),
            )
            .mutate_request(|request| {
                request.headers_mut().insert(CHECKSUM_MODE_HEADER, "ENABLED");
            })
            .send()
            .await
    } else {
        request.checksum_mode(ChecksumMode::Enabled).send().await
    };
    result.map_err(|err| {
        let op = Op::object("GetObject", read_action(version_id), d.bucket, d.key);
        let err = aws.error(&op, err);
        let key = d.key.to_string();
        match err.code() {
            Some(INVALID_OBJECT_STATE) => DownloadError::Archived { key },
            Some("PreconditionFailed" | "NoSuchKey" | "NoSuchVersion" | "NotFound") => DownloadError::Changed { key },
            _ if matches!(err, AwsError::Service { status: 412, .. }) => DownloadError::Changed { key },
            _ => err.into(),
        }
    })
}

/// An error and its causes, joined: what the SDK's body errors say only in their sources.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, version: &str, latest: bool, marker: bool, ms: i64) -> RemoteVersion {
        RemoteVersion {
            key: key.to_string(),
            version_id: version.to_string(),
            is_latest: latest,
            delete_marker: marker,
            size: 0,
            etag: String::new(),
            last_modified_ms: ms,
            storage_class: STANDARD.to_string(),
        }
    }

    fn ids(list: &[RemoteVersion]) -> Vec<&str> {
        list.iter().map(|v| v.version_id.as_str()).collect()
    }

    #[test]
    fn restore_headers_are_read() {
        use RestoreState::*;
        assert_eq!(restore_state("GLACIER", None, None), Archived);
        assert_eq!(restore_state("DEEP_ARCHIVE", None, None), Archived);
        assert_eq!(
            restore_state("GLACIER", None, Some("ongoing-request=\"true\"")),
            InProgress
        );
        assert_eq!(
            restore_state(
                "DEEP_ARCHIVE",
                None,
                Some("ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\"")
            ),
            Restored {
                expiry: Some("Fri, 21 Dec 2012 00:00:00 GMT".to_string())
            }
        );
        // Spacing and case vary between servers; a header without an expiry is still a restored copy.
        assert_eq!(
            restore_state("GLACIER", None, Some(" Ongoing-Request = \"FALSE\" ")),
            Restored { expiry: None }
        );
        // A header that says nothing readable leaves an archived object archived.
        assert_eq!(restore_state("GLACIER", None, Some("garbage")), Archived);
        assert_eq!(restore_state("GLACIER", None, Some("")), Archived);
    }

    #[test]
    fn only_archive_classes_and_tiers_need_restores() {
        use RestoreState::*;
        for class in [
            "STANDARD",
            "STANDARD_IA",
            "ONEZONE_IA",
            "GLACIER_IR",
            "REDUCED_REDUNDANCY",
            "",
        ] {
            assert_eq!(restore_state(class, None, None), NotArchived, "{class}");
        }
        assert_eq!(restore_state("INTELLIGENT_TIERING", None, None), NotArchived);
        assert_eq!(
            restore_state("INTELLIGENT_TIERING", Some("ARCHIVE_ACCESS"), None),
            Archived
        );
        assert_eq!(
            restore_state(
                "INTELLIGENT_TIERING",
                Some("DEEP_ARCHIVE_ACCESS"),
                Some("ongoing-request=\"true\"")
            ),
            InProgress
        );
        // A finished Intelligent-Tiering restore leaves the archive tier and keeps the header.
        assert_eq!(
            restore_state("INTELLIGENT_TIERING", None, Some("ongoing-request=\"false\"")),
            Restored { expiry: None }
        );
    }

    #[test]
    fn header_fields_keep_commas_inside_quotes() {
        assert_eq!(
            header_fields("ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\""),
            vec![
                ("ongoing-request", "false"),
                ("expiry-date", "Fri, 21 Dec 2012 00:00:00 GMT")
            ]
        );
        assert_eq!(
            header_fields("a=1, b = two ,c=\"x"),
            vec![("a", "1"), ("b", "two"), ("c", "x")]
        );
        assert!(header_fields("").is_empty());
    }

    #[test]
    fn checksums_know_whether_they_cover_the_whole_object() {
        let none = [
            (ChecksumAlgorithm::Crc64nvme, None),
            (ChecksumAlgorithm::Crc32c, None),
            (ChecksumAlgorithm::Crc32, None),
            (ChecksumAlgorithm::Sha256, None),
            (ChecksumAlgorithm::Sha1, None),
        ];
        assert_eq!(stored_checksum(none, None, None), None);
        let mut sha = none;
        sha[3].1 = Some("abc+/=-3");
        assert_eq!(
            stored_checksum(sha, None, None),
            Some(StoredChecksum {
                algorithm: ChecksumAlgorithm::Sha256,
                value: "abc+/=-3".to_string(),
                full_object: false
            })
        );
        let mut crc = none;
        crc[0].1 = Some("AAAAAAAAAAA=");
        assert!(stored_checksum(crc, None, None).is_some_and(|c| c.full_object));
        assert!(stored_checksum(crc, Some(&ChecksumType::FullObject), None).is_some_and(|c| c.full_object));
        assert!(stored_checksum(crc, Some(&ChecksumType::Composite), None).is_some_and(|c| !c.full_object));
        // An object uploaded in parts: full-object only when the answer says so; untyped, it is the
        // composite checksum a server wrote without its part count.
        let multipart = Some("\"32ce5fc215280a5cb173411075f5619a-2\"");
        let single = Some("\"32ce5fc215280a5cb173411075f5619a\"");
        assert!(stored_checksum(crc, None, multipart).is_some_and(|c| !c.full_object));
        assert!(stored_checksum(crc, Some(&ChecksumType::FullObject), multipart).is_some_and(|c| c.full_object));
        assert!(stored_checksum(crc, Some(&ChecksumType::Composite), multipart).is_some_and(|c| !c.full_object));
        assert!(stored_checksum(crc, None, single).is_some_and(|c| c.full_object));
        let mut empty = none;
        empty[2].1 = Some("");
        assert_eq!(stored_checksum(empty, None, None), None);
    }

    #[test]
    fn encryption_names() {
        assert_eq!(sse_name(None, None), None);
        assert_eq!(
            sse_name(Some(&ServerSideEncryption::Aes256), None).as_deref(),
            Some("AES256")
        );
        assert_eq!(
            sse_name(Some(&ServerSideEncryption::AwsKms), None).as_deref(),
            Some("aws:kms")
        );
        assert_eq!(
            sse_name(Some(&ServerSideEncryption::AwsKmsDsse), None).as_deref(),
            Some("aws:kms:dsse")
        );
        assert_eq!(sse_name(None, Some("AES256")).as_deref(), Some("SSE-C"));
    }

    #[test]
    fn content_ranges_give_the_object_size() {
        assert_eq!(range_total("bytes 0-8388607/52428800"), Some(52_428_800));
        assert_eq!(range_total("bytes 0-0/*"), None);
        assert_eq!(range_total("nonsense"), None);
    }

    #[test]
    fn the_xml_tells_versions_from_markers_in_order() {
        let xml = br#"<ListVersionsResult><KeyMarker></KeyMarker><VersionIdMarker/><NextVersionIdMarker>x</NextVersionIdMarker>
            <Version><Key>a</Key><VersionId>3</VersionId></Version>
            <DeleteMarker><Key>a</Key><VersionId>2</VersionId></DeleteMarker>
            <Version ><Key>a&lt;Version&gt;</Key><VersionId>1</VersionId></Version></ListVersionsResult>"#;
        assert_eq!(entry_kinds(xml), vec![false, true, false]);
        assert!(entry_kinds(b"").is_empty());
        // A cut document keeps the entries before the cut.
        assert_eq!(
            entry_kinds(b"<ListVersionsResult><Version><Key>a</Key></Version><DeleteMarker><Key>b</Ke"),
            vec![false, true]
        );
    }

    #[test]
    fn pages_interleave_by_key_then_newest_first() {
        let versions = vec![
            entry("a", "a3", false, false, 3000),
            entry("a", "a1", false, false, 1000),
            entry("b", "b1", true, false, 1000),
            entry("c", "c2", true, false, 5000),
            entry("c", "c1", false, false, 5000),
        ];
        let markers = vec![
            entry("a", "a4", true, true, 4000),
            entry("a", "a2", false, true, 2000),
            entry("c", "c0", false, true, 1000),
        ];
        // Without the XML (or with one that does not describe these lists), dates decide.
        let merged = interleave(versions.clone(), markers.clone(), &[]);
        assert_eq!(ids(&merged), ["a4", "a3", "a2", "a1", "b1", "c2", "c1", "c0"]);
    }

    #[test]
    fn same_second_entries_keep_the_xml_order() {
        // Versions and markers of "k" written within one second: only the XML knows their order.
        let versions = vec![
            entry("k", "v3", true, false, 1000),
            entry("k", "v2", false, false, 1000),
            entry("k", "v1", false, false, 1000),
        ];
        let markers = vec![entry("k", "m2", false, true, 1000), entry("k", "m1", false, true, 1000)];
        let kinds = [false, true, false, true, false];
        assert_eq!(
            ids(&interleave(versions.clone(), markers.clone(), &kinds)),
            ["v3", "m2", "v2", "m1", "v1"]
        );
        // An XML that does not match the lists is ignored: versions before markers.
        assert_eq!(
            ids(&interleave(versions, markers, &[true])),
            ["v3", "v2", "v1", "m2", "m1"]
        );
    }

    fn assert_send<T: Send>(_: T) {}

    #[test]
    fn the_calls_can_run_on_any_thread() {
        // Never called: it only has to compile, which it does when each future is `Send`, as the
        // migration's tasks need.
        let _ = |aws: &Aws, d: &Download<'_>| {
            assert_send(download_version(aws, d, &|_| {}));
            assert_send(head_version(aws, "b", "r", "k", "null", None));
            assert_send(restore_version(aws, "b", "r", "k", "null", None, RestoreTier::Bulk));
            assert_send(for_each_version(aws, "b", "r", "", 1, |_| {}));
        };
    }

    #[test]
    fn null_versions_are_recognized() {
        assert!(names_null_version(None));
        assert!(names_null_version(Some("null")));
        assert!(names_null_version(Some("")));
        assert!(!names_null_version(Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")));
        assert_eq!(version_or_null(None), "null");
        assert_eq!(version_or_null(Some(String::new())), "null");
        assert_eq!(version_or_null(Some("v1".into())), "v1");
    }
}
