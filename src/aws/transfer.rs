//! Moving files into S3 for `sync`: listing a destination, uploading one file (one PutObject, or a
//! resumable multipart upload with concurrent parts), deleting keys (or, for migrations, exact
//! versions) in batches, and cleaning up multipart uploads that a run left behind.
//!
//! # Integrity
//!
//! Every PutObject and UploadPart carries a checksum of the mapping's algorithm (CRC64-NVME by default),
//! computed here while reading the file and sent as a precomputed header, so S3 validates the bytes it
//! received and rejects the request (`BadDigest`) when they differ. Computing it here, rather than
//! letting the SDK do it, keeps every body a plain length-delimited stream (the SDK would switch streamed
//! bodies to `aws-chunked` encoding with a trailer, which several S3-compatible servers cannot read) and
//! gives us the value to record in the sync index. Multipart uploads of CRC algorithms use the
//! full-object checksum type, so a multipart object's checksum is the CRC of the whole file, the same
//! value a single PUT would have; SHA-1 and SHA-256 can only be composite (`hash-of-part-hashes-N`).
//!
//! A server that rejects the algorithm itself (see [`rejects_checksum`]) gets the file again without a
//! checksum, with a one-time warning, and is not asked for that algorithm again during this process.
//!
//! # Memory
//!
//! Files up to [`BUFFERED_MAX`] are read into memory once; the checksum and the request body come from
//! that one buffer. Larger files and every part are streamed from disk with
//! [`ByteStream::read_from`], after a first read pass that computes the checksum: the header must be
//! known before the body is sent, and the second read is served from the page cache, which costs far
//! less than holding a part (up to 5 GiB) in memory. Every request, single PUT or part, holds a permit
//! of the caller's semaphore from before it reads until it is answered, so memory stays below
//! `permits × BUFFERED_MAX` plus a few read buffers, whatever the sizes of the files.
//!
//! # Files that change
//!
//! The file's size and modification time are compared with what the walk saw before anything is read
//! and again before the upload counts: for a single PUT right after the checksum pass (S3 then only
//! accepts bytes equal to those that pass read) and after the request; for multipart uploads before
//! CompleteMultipartUpload, which is skipped (and the upload aborted) on a change. A changed file is
//! reported as [`TransferError::Changed`] and never stored torn.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    ChecksumAlgorithm as SdkChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, Delete,
    EncodingType, ObjectIdentifier, StorageClass,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Aws, AwsError, Op};
use crate::checksum::{Hasher, crc_algorithm};
use crate::manifest::types::ChecksumAlgorithm;

/// Files up to this size are read into memory in one piece; larger ones are streamed.
///
/// 2 MiB keeps the worst case (every permit of the sync holding a buffered file) at 256 MiB for the
/// default concurrency of 128, while the files that benefit most from one read (the many small files
/// of a typical tree) never touch the streaming path with its second open and read.
pub const BUFFERED_MAX: u64 = 2 * 1024 * 1024;

/// Files up to this size are read, and checked for changes, on the network task itself instead of the
/// blocking pool: a stat and a read of a few pages from the page cache take microseconds, less than
/// the two thread hand-offs they would otherwise cost per file.
const INLINE_READ_MAX: u64 = 64 * 1024;

/// The read size for checksum passes and streamed bodies: large enough that a read is one syscall per
/// quarter MiB, small enough to be negligible per request in flight.
pub(super) const READ_BUFFER: usize = 256 * 1024;

/// S3's smallest part (every part but the last), its largest part and its most parts per upload.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
const MAX_PARTS: u64 = 10_000;

/// The largest object S3 stores (5 TiB), and the largest single PutObject (5 GiB): above it a file is
/// uploaded in parts whatever the threshold says.
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// Keys per DeleteObjects call, the API's maximum, and how many such calls run at once: a few keep a
/// large prune fast without letting deletes crowd out the uploads of the same sync.
const DELETE_BATCH: usize = 1000;
const DELETE_CONCURRENCY: usize = 4;

/// The user metadata key under which the file's modification time is kept (rclone's convention, so
/// objects written by either tool compare equal in both).
pub const MTIME_METADATA_KEY: &str = "mtime";

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    /// The object key.
    pub key: String,
    /// The size in bytes.
    pub size: u64,
    /// The ETag without its quotes.
    pub etag: String,
    /// When the object was last written, in Unix milliseconds.
    pub last_modified_ms: i64,
    /// The storage class, when the server names one (`STANDARD`, `STANDARD_IA`, ...).
    pub storage_class: Option<String>,
}

/// One file to upload, as the walk saw it.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    /// The destination bucket.
    pub bucket: &'a str,
    /// The bucket's region.
    pub region: &'a str,
    /// The destination key.
    pub key: &'a str,
    /// The local file.
    pub path: &'a Path,
    /// The size the walk saw; the upload fails with [`TransferError::Changed`] when it differs.
    pub size: u64,
    /// The modification time the walk saw, in Unix milliseconds (see [`mtime_ms`]).
    pub mtime_ms: i64,
    /// The storage class to store the object in, e.g. `STANDARD_IA`; `None` for the bucket's default.
    pub storage_class: Option<&'a str>,
    /// The object's Content-Type.
    pub content_type: &'a str,
    /// The integrity checksum sent with every request.
    pub checksum: ChecksumAlgorithm,
    /// Files at least this large are uploaded in parts.
    pub multipart_threshold: u64,
    /// The part size of new multipart uploads (raised to S3's limits where needed).
    pub part_size: u64,
    /// A multipart upload of this same file (same size and mtime) a previous run started: continue it.
    pub resume: Option<ResumeState>,
}

/// What a previous run knew about its unfinished multipart upload of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeState {
    /// The upload id CreateMultipartUpload returned.
    pub upload_id: String,
    /// The part size the upload was started with; the resumed upload keeps it.
    pub part_size: u64,
    /// The parts the previous run saw finish.
    pub parts: Vec<DonePart>,
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonePart {
    /// The part number, from 1.
    pub number: i32,
    /// The part's ETag, without quotes.
    pub etag: String,
    /// The part's checksum (base64) in the upload's algorithm, when it has one.
    pub checksum: Option<String>,
}

/// What a finished upload stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The object's ETag, without quotes.
    pub etag: String,
    /// The object's checksum (base64) in the algorithm used, as S3 reports it: the full-object CRC for
    /// CRC algorithms, `hash-N` for multipart SHA uploads. `None` when the server rejected checksums.
    pub checksum: Option<String>,
}

/// Callbacks so the caller can persist multipart progress: the index remembers upload ids and finished
/// parts so that a later run resumes instead of starting over.
pub trait UploadJournal: Send + Sync {
    /// A CreateMultipartUpload for `key` is about to be sent. Its answer can be lost after the server
    /// created the upload (and the SDK may then send it again), so a caller that must find every upload
    /// it started records the intent here, before the call. Callers that never reconcile may ignore it.
    fn multipart_creating(&self, _bucket: &str, _region: &str, _key: &str) {}
    /// A multipart upload was created.
    fn multipart_started(&self, bucket: &str, key: &str, upload_id: &str, part_size: u64);
    /// One part of it is stored.
    fn part_done(&self, upload_id: &str, part: &DonePart);
    /// The upload was completed, aborted, or found gone: forget it.
    fn multipart_finished(&self, upload_id: &str);
}

/// Why a file could not be uploaded.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// S3 refused or could not be reached. Boxed, as elsewhere in s3rec: AWS errors carry a lot of
    /// context, and a transfer result travels through every `?` of an upload.
    #[error(transparent)]
    Aws(Box<AwsError>),

    /// The local file could not be read.
    #[error("{} could not be read: {source}: check that it exists and that s3rec may read it", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The file's size or modification time changed between the walk and the end of its upload.
    #[error(
        "{} changed while it was being uploaded, so it was not stored: the next sync uploads its new content",
        path.display()
    )]
    Changed {
        /// The file.
        path: PathBuf,
    },

    /// The file is larger than the largest object S3 stores.
    #[error("{} is {size} bytes, more than the 5 TiB S3 stores in one object: exclude it from the mapping", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },

    /// The sync stopped handing out transfer permits (it is shutting down) before the file was stored.
    #[error("the upload of {} was stopped before it finished: the next sync continues it", path.display())]
    Stopped {
        /// The file.
        path: PathBuf,
    },
}

impl From<AwsError> for TransferError {
    fn from(err: AwsError) -> Self {
        Self::Aws(Box::new(err))
    }
}

use crate::state::time::mtime_ms;

/// Formats an mtime as the `mtime` metadata value: seconds with a fraction, as rclone writes it
/// (`1700000000.123`).
pub fn mtime_metadata(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// Reads an `mtime` metadata value (ours, or rclone's with up to nanoseconds) back into Unix
/// milliseconds; `None` when it is not a number.
pub fn parse_mtime_metadata(value: &str) -> Option<i64> {
    let value = value.trim();
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (secs, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    // Milliseconds are the first three digits of the fraction; finer digits are dropped, as the index
    // keeps milliseconds only.
    let mut millis = 0i64;
    for (i, b) in fraction.bytes().chain(std::iter::repeat(b'0')).take(3).enumerate() {
        millis += i64::from(b - b'0') * [100, 10, 1][i];
    }
    let ms = secs.checked_mul(1000)?.checked_add(millis)?;
    Some(if negative { -ms } else { ms })
}

/// Every object under `prefix`, sorted by key: ListObjectsV2 pages of [`Aws::list_page_size`] objects,
/// no HEAD per object.
///
/// Keys are requested URL-encoded (`encoding-type=url`) and decoded here, because a key may hold
/// characters that XML 1.0 cannot carry (control characters are legal in file names and keys), which
/// would otherwise make a whole page unreadable.
pub async fn list_objects(aws: &Aws, bucket: &str, region: &str, prefix: &str) -> Result<Vec<RemoteObject>, AwsError> {
    list_objects_paged(aws, bucket, region, prefix, aws.list_page_size()).await
}

/// [`list_objects`] asking for `page` objects per page (tests use small pages to exercise paging on
/// servers that honour any page size).
pub async fn list_objects_paged(
    aws: &Aws,
    bucket: &str,
    region: &str,
    prefix: &str,
    page: i32,
) -> Result<Vec<RemoteObject>, AwsError> {
    let mut objects = Vec::new();
    for_each_object(aws, bucket, region, prefix, page, |o| objects.push(o)).await?;
    // S3 lists in UTF-8 byte order, which is `String`'s order; servers that do not are sorted here, and
    // for the ones that do the check costs one pass.
    if !objects.is_sorted_by(|a, b| a.key <= b.key) {
        objects.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(objects)
}

/// Every object under `prefix`, handed to `each` page by page in the server's order, so a caller that
/// keeps only what it needs (sync keeps key, size, ETag and date) never holds the whole listing twice.
pub async fn for_each_object(
    aws: &Aws,
    bucket: &str,
    region: &str,
    prefix: &str,
    page: i32,
    each: impl FnMut(RemoteObject),
) -> Result<(), AwsError> {
    match for_each_object_in(aws, bucket, region, prefix, &KeyRange::default(), page, each).await? {
        // The whole key space has no bounds to break, whatever order the server lists in.
        Listed::Complete | Listed::Unordered => Ok(()),
    }
}

/// A slice of a listing's key space: the keys after `start_after` (exclusive, like S3's `StartAfter`)
/// up to and including `last`; `None` leaves that side open. Several ranges of one prefix are listed at
/// once to cut a large listing's round trips by their number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    pub start_after: Option<String>,
    pub last: Option<String>,
}

impl KeyRange {
    /// The ranges that `boundaries` (sorted, distinct) cut the key space into: one more than there are
    /// boundaries, each ending at a boundary (inclusive) and the next starting after it, so every key
    /// falls in exactly one.
    pub fn split(boundaries: &[String]) -> Vec<KeyRange> {
        let mut ranges = Vec::with_capacity(boundaries.len() + 1);
        let mut start_after = None;
        for boundary in boundaries {
            ranges.push(KeyRange {
                start_after: start_after.take(),
                last: Some(boundary.clone()),
            });
            start_after = Some(boundary.clone());
        }
        ranges.push(KeyRange {
            start_after,
            last: None,
        });
        ranges
    }

    fn contains(&self, key: &str) -> bool {
        self.start_after.as_deref().is_none_or(|after| key > after)
            && self.last.as_deref().is_none_or(|last| key <= last)
    }
}

/// How listing a [`KeyRange`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// Every object of the range was handed over.
    Complete,
    /// The server answered keys out of S3's order (UTF-8 bytes, ascending), so where a range ends
    /// cannot be told from the keys: what was handed over is incomplete and must be discarded. A bounded
    /// range is listed only from servers that list in order; the whole key space works with any.
    Unordered,
}

/// The objects of `range` under `prefix`, handed to `each` in the server's order.
///
/// The first request carries `start-after`; paging stops at the first key past `range.last`, so a range
/// costs its own pages plus at most one page that reaches into the next range (whose keys past `last`
/// are not handed over).
pub async fn for_each_object_in(
    aws: &Aws,
    bucket: &str,
    region: &str,
    prefix: &str,
    range: &KeyRange,
    page: i32,
    mut each: impl FnMut(RemoteObject),
) -> Result<Listed, AwsError> {
    let s3 = aws.s3(region);
    let op = Op::bucket("ListObjectsV2", "s3:ListBucket", bucket);
    let mut token: Option<String> = None;
    // The last key handed over, kept in one buffer: a bounded range checks the server's order.
    let mut previous = String::new();
    let mut first = true;
    let bounded = range.start_after.is_some() || range.last.is_some();
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(page)
            .encoding_type(EncodingType::Url)
            .set_start_after(if first { range.start_after.clone() } else { None })
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
        first = false;
        let encoded = page.encoding_type.as_ref() == Some(&EncodingType::Url);
        // The page is owned, so keys, ETags and storage classes move out of it instead of being copied.
        for object in page.contents.unwrap_or_default() {
            let Some(raw_key) = object.key else { continue };
            let key = if encoded {
                url_decode(raw_key).map_err(|detail| bad_response(&op, detail))?
            } else {
                raw_key
            };
            if bounded {
                if !previous.is_empty() && key <= previous {
                    return Ok(Listed::Unordered);
                }
                if !range.contains(&key) {
                    // Past `last`, in order: the range is done. Before `start_after`: the server
                    // ignored it, and its order cannot be relied on either.
                    return Ok(if range.start_after.as_deref().is_some_and(|a| key.as_str() <= a) {
                        Listed::Unordered
                    } else {
                        Listed::Complete
                    });
                }
                previous.clear();
                previous.push_str(&key);
            }
            let at_last = range.last.as_deref() == Some(key.as_str());
            each(RemoteObject {
                key,
                size: object.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                etag: object.e_tag.map(unquote).unwrap_or_default(),
                last_modified_ms: object.last_modified.and_then(|t| t.to_millis().ok()).unwrap_or(0),
                storage_class: object.storage_class.map(|c| c.as_str().to_string()),
            });
            // Keys are unique and listed in order: nothing after `last` belongs to the range, so a range
            // that ends on a key the bucket holds costs no page past it.
            if at_last {
                return Ok(Listed::Complete);
            }
        }
        match (page.is_truncated, page.next_continuation_token) {
            (Some(true), Some(next)) if !next.is_empty() => token = Some(next),
            _ => break,
        }
    }
    Ok(Listed::Complete)
}

/// Uploads one file: one PutObject below the threshold, a multipart upload at or above it, with parts
/// uploaded concurrently.
///
/// Every request (the PutObject, or each part) first takes a permit from `parts`, a semaphore shared by
/// the whole sync, and holds it until answered, so the requests in flight and the memory they use stay
/// bounded however many files are uploading. The caller must not hold a permit of `parts` itself while
/// awaiting this, or a sync whose every permit is held that way would wait forever.
///
/// The object gets [`Upload::content_type`], the user metadata `mtime` ([`mtime_metadata`]) and the
/// storage class when one is given. Multipart progress is reported through `journal`; with [`Upload::resume`] the upload continues
/// (the server's ListParts, not the journal, decides which parts exist), or starts again when the server
/// no longer knows it. A failed multipart upload stays open for the next run to resume, except when the
/// file changed or the server rejected the checksum algorithm: then it is aborted.
///
/// When the server rejects the checksum algorithm (an S3-compatible server that does not know
/// CRC64-NVME, say), the file is uploaded again without a checksum, a warning is logged once, and the
/// algorithm is not tried again against that endpoint for the rest of the process. S3 itself knows every
/// algorithm s3rec offers, so against AWS this never happens.
pub async fn upload_file(
    aws: &Aws,
    up: &Upload<'_>,
    journal: &dyn UploadJournal,
    parts: &Arc<Semaphore>,
) -> Result<Uploaded, TransferError> {
    if up.size > MAX_OBJECT_SIZE {
        return Err(TransferError::TooLarge {
            path: up.path.to_path_buf(),
            size: up.size,
        });
    }
    let algorithm = (!is_rejected(aws, up.checksum)).then_some(up.checksum);
    match upload_with(aws, up, journal, parts, algorithm).await {
        Err(TransferError::Aws(err)) if algorithm.is_some() && rejects_checksum(&err) => {
            if remember_rejected(aws, up.checksum) {
                tracing::warn!(
                    endpoint = aws.endpoint_url().unwrap_or("AWS"),
                    error = %err,
                    "the server rejects {:?} upload checksums: uploading without integrity checksums from now on",
                    up.checksum
                );
            }
            upload_with(aws, up, journal, parts, None).await
        }
        other => other,
    }
}

/// One attempt at [`upload_file`] with a given algorithm (`None`: no checksum).
async fn upload_with(
    aws: &Aws,
    up: &Upload<'_>,
    journal: &dyn UploadJournal,
    parts: &Arc<Semaphore>,
    algorithm: Option<ChecksumAlgorithm>,
) -> Result<Uploaded, TransferError> {
    if up.size >= up.multipart_threshold.max(1) || up.size > MAX_SINGLE_PUT || up.resume.is_some() {
        put_multipart(aws, up, journal, parts, algorithm).await
    } else {
        put_single(aws, up, parts, algorithm).await
    }
}

/// Uploads a file with one PutObject.
async fn put_single(
    aws: &Aws,
    up: &Upload<'_>,
    parts: &Arc<Semaphore>,
    algorithm: Option<ChecksumAlgorithm>,
) -> Result<Uploaded, TransferError> {
    let _permit = acquire(parts, up.path).await?;
    let path = up.path.to_path_buf();
    let (size, mtime) = (up.size, up.mtime_ms);
    let (body, checksum) = if up.size <= INLINE_READ_MAX {
        let (data, checksum) = read_whole(&path, size, mtime, algorithm)?;
        (ByteStream::from(data), checksum)
    } else if up.size <= BUFFERED_MAX {
        let (data, checksum) = blocking(up.path, move || read_whole(&path, size, mtime, algorithm)).await?;
        (ByteStream::from(data), checksum)
    } else {
        let checksum = blocking(up.path, move || {
            check_unchanged(&path, size, mtime)?;
            let checksum = algorithm.map(|a| hash_range(&path, 0, size, a)).transpose()?;
            // The bytes just hashed are the only ones S3 will accept; checking here that the file did
            // not move while they were read makes them a consistent snapshot.
            check_unchanged(&path, size, mtime)?;
            Ok(checksum)
        })
        .await?;
        (stream_range(up, 0, up.size).await?, checksum)
    };
    let checksum = checksum.map(|raw| BASE64.encode(raw));

    let mut request = aws
        .s3(up.region)
        .put_object()
        .bucket(up.bucket)
        .key(up.key)
        .content_length(to_i64(up.size))
        .content_type(up.content_type)
        .metadata(MTIME_METADATA_KEY, mtime_metadata(up.mtime_ms))
        .body(body);
    if let Some(class) = up.storage_class {
        request = request.storage_class(StorageClass::from(class));
    }
    if let (Some(algorithm), Some(value)) = (algorithm, &checksum) {
        request = match algorithm {
            ChecksumAlgorithm::Crc64nvme => request.checksum_crc64_nvme(value),
            ChecksumAlgorithm::Crc32c => request.checksum_crc32_c(value),
            ChecksumAlgorithm::Crc32 => request.checksum_crc32(value),
            ChecksumAlgorithm::Sha256 => request.checksum_sha256(value),
            ChecksumAlgorithm::Sha1 => request.checksum_sha1(value),
        }
        .checksum_algorithm(sdk_algorithm(algorithm));
    }
    let sent = if unsigned_payload(aws, checksum.as_ref()) {
        request.customize().disable_payload_signing().send().await
    } else {
        request.send().await
    };
    let out = match sent {
        Ok(out) => out,
        Err(err) => {
            // The Op (and its ARN string) is only built for an error, not for each of many small files.
            let op = Op::object("PutObject", "s3:PutObject", up.bucket, up.key);
            return Err(changed_or(up, aws.error(&op, err).into()).await);
        }
    };
    check_unchanged_async(up).await?;
    Ok(Uploaded {
        etag: out.e_tag.map(unquote).unwrap_or_default(),
        checksum,
    })
}

/// How a multipart upload's parts are laid out over the file.
#[derive(Debug, Clone, Copy)]
struct Layout {
    size: u64,
    part_size: u64,
}

impl Layout {
    /// The layout for a new upload: the requested part size, raised to S3's minimum and to whatever
    /// keeps the upload within 10,000 parts.
    fn new(size: u64, requested: u64) -> Self {
        let needed = size.div_ceil(MAX_PARTS);
        Self {
            size,
            part_size: requested.max(MIN_PART_SIZE).max(needed).min(MAX_PART_SIZE),
        }
    }

    /// Whether a resumed upload's part size can describe this file within S3's limits.
    fn fits(size: u64, part_size: u64) -> bool {
        (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) && size.div_ceil(part_size) <= MAX_PARTS
    }

    fn count(self) -> i32 {
        // At most MAX_PARTS by construction, and a zero-byte file still has one (empty) part.
        i32::try_from(self.size.div_ceil(self.part_size).max(1)).unwrap_or(i32::MAX)
    }

    /// The byte range of part `number` (from 1): offset and length.
    fn range(self, number: i32) -> (u64, u64) {
        let offset = u64::try_from(number - 1).unwrap_or(0) * self.part_size;
        (offset, self.part_size.min(self.size.saturating_sub(offset)))
    }
}

/// Uploads a file in parts, continuing `up.resume` when the server still has it.
async fn put_multipart(
    aws: &Aws,
    up: &Upload<'_>,
    journal: &dyn UploadJournal,
    parts: &Arc<Semaphore>,
    algorithm: Option<ChecksumAlgorithm>,
) -> Result<Uploaded, TransferError> {
    if let Err(err) = check_unchanged_async(up).await {
        // The upload to resume holds parts of content the file no longer has.
        if let (TransferError::Changed { .. }, Some(resume)) = (&err, &up.resume) {
            abort_quietly(aws, up, journal, &resume.upload_id).await;
        }
        return Err(err);
    }

    let (upload_id, layout, mut done) = match resume_upload(aws, up, journal, algorithm).await? {
        Some(resumed) => resumed,
        None => {
            let layout = Layout::new(up.size, up.part_size);
            journal.multipart_creating(up.bucket, up.region, up.key);
            let upload_id = create_upload(aws, up, algorithm).await?;
            journal.multipart_started(up.bucket, up.key, &upload_id, layout.part_size);
            (upload_id, layout, BTreeMap::new())
        }
    };

    let missing: Vec<i32> = (1..=layout.count()).filter(|n| !done.contains_key(n)).collect();
    let context = PartContext {
        aws,
        up,
        upload_id: &upload_id,
        layout,
        algorithm,
        s3: aws.s3(up.region),
    };
    if let Err(err) = send_parts(&context, &missing, journal, parts, &mut done).await {
        let err = changed_or(up, err).await;
        let rejected = matches!(&err, TransferError::Aws(e) if algorithm.is_some() && rejects_checksum(e));
        if rejected || matches!(err, TransferError::Changed { .. }) {
            abort_quietly(aws, up, journal, &upload_id).await;
        }
        return Err(err);
    }

    // Parts may each be consistent yet come from different versions of the file; only an unchanged
    // size and mtime at the end make them one file.
    if let Err(err) = check_unchanged_async(up).await {
        if matches!(err, TransferError::Changed { .. }) {
            abort_quietly(aws, up, journal, &upload_id).await;
        }
        return Err(err);
    }
    match complete_upload(&context, &done).await {
        Ok(uploaded) => {
            journal.multipart_finished(&upload_id);
            Ok(uploaded)
        }
        Err(err) => {
            // A server that refuses the checksum only at completion gets a fresh upload without one, so
            // this one would be left behind; any other failure keeps it for the next run to complete.
            if matches!(&err, TransferError::Aws(e) if algorithm.is_some() && rejects_checksum(e)) {
                abort_quietly(aws, up, journal, &upload_id).await;
            }
            Err(err)
        }
    }
}

/// Continues `up.resume` when there is one and the server still has it: its id, layout and the parts
/// the server holds. `None` means "start a new upload" (after aborting the old one where it is unusable).
async fn resume_upload(
    aws: &Aws,
    up: &Upload<'_>,
    journal: &dyn UploadJournal,
    algorithm: Option<ChecksumAlgorithm>,
) -> Result<Option<(String, Layout, BTreeMap<i32, DonePart>)>, TransferError> {
    let Some(resume) = &up.resume else {
        return Ok(None);
    };
    let Some(listing) = list_parts(aws, up.bucket, up.region, up.key, &resume.upload_id).await? else {
        tracing::debug!(key = up.key, upload_id = %resume.upload_id, "the multipart upload to resume is gone; starting anew");
        journal.multipart_finished(&resume.upload_id);
        return Ok(None);
    };
    // An upload created with another algorithm (the mapping changed, or the server rejected it since)
    // cannot take these parts. Servers that do not say which algorithm an upload has are judged by the
    // journal: parts recorded with checksums mean the upload was created with one.
    let server_algorithm_differs = match &listing.algorithm {
        Some(server) => Some(server) != algorithm.map(sdk_algorithm).as_ref(),
        None => resume.parts.iter().any(|p| p.checksum.is_some() != algorithm.is_some()),
    };
    if server_algorithm_differs || !Layout::fits(up.size, resume.part_size) {
        tracing::debug!(key = up.key, upload_id = %resume.upload_id, "the multipart upload to resume does not fit this file; starting anew");
        abort_quietly(aws, up, journal, &resume.upload_id).await;
        return Ok(None);
    }
    let layout = Layout {
        size: up.size,
        part_size: resume.part_size,
    };
    let mut done = BTreeMap::new();
    for part in listing.parts {
        if part.number < 1 || part.number > layout.count() || part.size != layout.range(part.number).1 {
            continue;
        }
        // The server's word on which parts exist wins; a checksum it does not report comes from the
        // journal, as long as the journal describes the same stored part (same ETag).
        let checksum = part.checksum.or_else(|| {
            resume
                .parts
                .iter()
                .find(|p| p.number == part.number && unquoted(&p.etag) == part.etag)
                .and_then(|p| p.checksum.clone())
        });
        if algorithm.is_some() && checksum.is_none() {
            continue;
        }
        done.insert(
            part.number,
            DonePart {
                number: part.number,
                etag: part.etag,
                checksum,
            },
        );
    }
    Ok(Some((resume.upload_id.clone(), layout, done)))
}

/// A part as ListParts reports it.
struct ServerPart {
    number: i32,
    etag: String,
    size: u64,
    checksum: Option<String>,
}

/// What ListParts says about an upload.
struct PartListing {
    algorithm: Option<SdkChecksumAlgorithm>,
    parts: Vec<ServerPart>,
}

/// Every part of an upload (ListParts, paginated); `None` when the server no longer has the upload.
async fn list_parts(
    aws: &Aws,
    bucket: &str,
    region: &str,
    key: &str,
    upload_id: &str,
) -> Result<Option<PartListing>, AwsError> {
    let s3 = aws.s3(region);
    let op = Op::object("ListParts", "s3:ListMultipartUploadParts", bucket, key);
    let mut listing = PartListing {
        algorithm: None,
        parts: Vec::new(),
    };
    let mut marker: Option<String> = None;
    loop {
        let result = s3
            .list_parts()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .set_part_number_marker(marker.take())
            .send()
            .await;
        let page = match result {
            Ok(page) => page,
            Err(err) => {
                return match aws.error(&op, err) {
                    err if err.code() == Some("NoSuchUpload") => Ok(None),
                    err => Err(err),
                };
            }
        };
        if listing.algorithm.is_none() {
            listing.algorithm = page.checksum_algorithm.clone();
        }
        let algorithm = listing.algorithm.clone();
        for part in page.parts.unwrap_or_default() {
            let (Some(number), Some(etag)) = (part.part_number, part.e_tag.clone()) else {
                continue;
            };
            let checksum = match algorithm.as_ref() {
                Some(SdkChecksumAlgorithm::Crc64Nvme) => part.checksum_crc64_nvme,
                Some(SdkChecksumAlgorithm::Crc32C) => part.checksum_crc32_c,
                Some(SdkChecksumAlgorithm::Crc32) => part.checksum_crc32,
                Some(SdkChecksumAlgorithm::Sha256) => part.checksum_sha256,
                Some(SdkChecksumAlgorithm::Sha1) => part.checksum_sha1,
                _ => None,
            };
            listing.parts.push(ServerPart {
                number,
                etag: unquote(etag),
                size: part.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                checksum,
            });
        }
        match (page.is_truncated, page.next_part_number_marker) {
            (Some(true), Some(next)) if !next.is_empty() && next != "0" => marker = Some(next),
            _ => break,
        }
    }
    Ok(Some(listing))
}

/// Starts a multipart upload with the object's Content-Type, metadata, storage class and checksum
/// algorithm.
async fn create_upload(aws: &Aws, up: &Upload<'_>, algorithm: Option<ChecksumAlgorithm>) -> Result<String, AwsError> {
    let op = Op::object("CreateMultipartUpload", "s3:PutObject", up.bucket, up.key);
    let mut request = aws
        .s3(up.region)
        .create_multipart_upload()
        .bucket(up.bucket)
        .key(up.key)
        .content_type(up.content_type)
        .metadata(MTIME_METADATA_KEY, mtime_metadata(up.mtime_ms));
    if let Some(class) = up.storage_class {
        request = request.storage_class(StorageClass::from(class));
    }
    if let Some(algorithm) = algorithm {
        request = request
            .checksum_algorithm(sdk_algorithm(algorithm))
            .checksum_type(checksum_type(algorithm));
    }
    let out = request.send().await.map_err(|e| aws.error(&op, e))?;
    out.upload_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| AwsError::BadResponse {
            operation: op.operation.to_string(),
            resource: op.resource.clone(),
            detail: "the answer has no upload id".to_string(),
        })
}

/// What every part of one upload shares.
struct PartContext<'a> {
    aws: &'a Aws,
    up: &'a Upload<'a>,
    upload_id: &'a str,
    layout: Layout,
    algorithm: Option<ChecksumAlgorithm>,
    s3: aws_sdk_s3::Client,
}

/// Uploads the `missing` parts concurrently, each under a permit of `parts`, recording each finished one
/// in `done` and the journal. Stops at the first failure; parts in flight then are dropped (the journal
/// and the server still have every part that finished).
async fn send_parts(
    context: &PartContext<'_>,
    missing: &[i32],
    journal: &dyn UploadJournal,
    parts: &Arc<Semaphore>,
    done: &mut BTreeMap<i32, DonePart>,
) -> Result<(), TransferError> {
    let mut queue = missing.iter().copied().peekable();
    let mut running = FuturesUnordered::new();
    // A part's future is created only once it has a permit, so a 10,000-part upload holds as many part
    // futures as the sync has permits, not 10,000.
    loop {
        tokio::select! {
            biased;
            Some(result) = running.next(), if !running.is_empty() => {
                let part: DonePart = result?;
                journal.part_done(context.upload_id, &part);
                done.insert(part.number, part);
            }
            permit = Arc::clone(parts).acquire_owned(), if queue.peek().is_some() => {
                let permit = permit.map_err(|_| TransferError::Stopped { path: context.up.path.to_path_buf() })?;
                if let Some(number) = queue.next() {
                    running.push(send_part(context, number, permit));
                }
            }
            else => break,
        }
    }
    Ok(())
}

/// Uploads one part: a checksum pass over its range, then the range streamed from disk.
async fn send_part(
    context: &PartContext<'_>,
    number: i32,
    _permit: OwnedSemaphorePermit,
) -> Result<DonePart, TransferError> {
    let up = context.up;
    let (offset, length) = context.layout.range(number);
    let checksum = match context.algorithm {
        Some(algorithm) => {
            let path = up.path.to_path_buf();
            let raw = blocking(up.path, move || hash_range(&path, offset, length, algorithm)).await?;
            Some(BASE64.encode(raw))
        }
        None => None,
    };
    let body = stream_range(up, offset, length).await?;
    let mut request = context
        .s3
        .upload_part()
        .bucket(up.bucket)
        .key(up.key)
        .upload_id(context.upload_id)
        .part_number(number)
        .content_length(to_i64(length))
        .body(body);
    if let (Some(algorithm), Some(value)) = (context.algorithm, &checksum) {
        request = match algorithm {
            ChecksumAlgorithm::Crc64nvme => request.checksum_crc64_nvme(value),
            ChecksumAlgorithm::Crc32c => request.checksum_crc32_c(value),
            ChecksumAlgorithm::Crc32 => request.checksum_crc32(value),
            ChecksumAlgorithm::Sha256 => request.checksum_sha256(value),
            ChecksumAlgorithm::Sha1 => request.checksum_sha1(value),
        }
        .checksum_algorithm(sdk_algorithm(algorithm));
    }
    let sent = if unsigned_payload(context.aws, checksum.as_ref()) {
        request.customize().disable_payload_signing().send().await
    } else {
        request.send().await
    };
    let out = sent.map_err(|e| {
        context
            .aws
            .error(&Op::object("UploadPart", "s3:PutObject", up.bucket, up.key), e)
    })?;
    Ok(DonePart {
        number,
        etag: out.e_tag.map(unquote).unwrap_or_default(),
        checksum,
    })
}

/// Completes the upload with every part's ETag and checksum and, for full-object CRCs, the whole
/// file's CRC (combined from the parts'), which S3 checks against what it stored.
async fn complete_upload(context: &PartContext<'_>, done: &BTreeMap<i32, DonePart>) -> Result<Uploaded, TransferError> {
    let up = context.up;
    let op = Op::object("CompleteMultipartUpload", "s3:PutObject", up.bucket, up.key);
    let completed: Vec<CompletedPart> = done
        .values()
        .map(|part| {
            let builder = CompletedPart::builder().part_number(part.number).e_tag(&part.etag);
            match (context.algorithm, &part.checksum) {
                (Some(ChecksumAlgorithm::Crc64nvme), Some(v)) => builder.checksum_crc64_nvme(v),
                (Some(ChecksumAlgorithm::Crc32c), Some(v)) => builder.checksum_crc32_c(v),
                (Some(ChecksumAlgorithm::Crc32), Some(v)) => builder.checksum_crc32(v),
                (Some(ChecksumAlgorithm::Sha256), Some(v)) => builder.checksum_sha256(v),
                (Some(ChecksumAlgorithm::Sha1), Some(v)) => builder.checksum_sha1(v),
                _ => builder,
            }
            .build()
        })
        .collect();
    let checksum = context
        .algorithm
        .and_then(|algorithm| object_checksum(algorithm, context.layout, done));
    let mut request = context
        .s3
        .complete_multipart_upload()
        .bucket(up.bucket)
        .key(up.key)
        .upload_id(context.upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build());
    if let Some(algorithm) = context.algorithm {
        request = request.checksum_type(checksum_type(algorithm));
        if checksum_type(algorithm) == ChecksumType::FullObject
            && let Some(value) = &checksum
        {
            request = match algorithm {
                ChecksumAlgorithm::Crc64nvme => request.checksum_crc64_nvme(value),
                ChecksumAlgorithm::Crc32c => request.checksum_crc32_c(value),
                ChecksumAlgorithm::Crc32 => request.checksum_crc32(value),
                ChecksumAlgorithm::Sha256 | ChecksumAlgorithm::Sha1 => request,
            }
            .mpu_object_size(to_i64(up.size));
        }
    }
    let out = request.send().await.map_err(|e| context.aws.error(&op, e))?;
    Ok(Uploaded {
        etag: out.e_tag.map(unquote).unwrap_or_default(),
        checksum,
    })
}

/// The object checksum S3 reports for a multipart upload, computed from the parts' checksums: the
/// combined CRC of the whole file for full-object CRCs, `base64(hash(part hashes))-N` for SHA. `None`
/// when a part's checksum is unreadable, which only a corrupt journal could cause.
fn object_checksum(algorithm: ChecksumAlgorithm, layout: Layout, done: &BTreeMap<i32, DonePart>) -> Option<String> {
    let mut raws = done.values().map(|part| {
        let raw = BASE64.decode(part.checksum.as_deref()?).ok()?;
        Some((raw, layout.range(part.number).1))
    });
    match crc_algorithm(algorithm) {
        Some((crc, width)) => {
            let mut combined: Option<u64> = None;
            for item in raws {
                let (raw, length) = item?;
                if raw.len() != width {
                    return None;
                }
                let value = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                combined = Some(match combined {
                    None => value,
                    Some(acc) => crc_fast::checksum_combine(crc, acc, value, length),
                });
            }
            Some(BASE64.encode(&combined?.to_be_bytes()[8 - width..]))
        }
        None => {
            let mut hasher = Hasher::new(algorithm);
            let mut count = 0usize;
            for item in raws.by_ref() {
                hasher.update(&item?.0);
                count += 1;
            }
            Some(format!("{}-{count}", BASE64.encode(hasher.finish())))
        }
    }
}

/// Aborts an upload, forgetting it in the journal; failures are only logged, because the caller is
/// already reporting the error that made it abort, and an upload left behind is found by
/// [`list_multipart_uploads`] later.
async fn abort_quietly(aws: &Aws, up: &Upload<'_>, journal: &dyn UploadJournal, upload_id: &str) {
    match abort_multipart_upload(aws, up.bucket, up.region, up.key, upload_id).await {
        Ok(()) => journal.multipart_finished(upload_id),
        Err(err) => tracing::warn!(key = up.key, upload_id, error = %err, "could not abort a multipart upload"),
    }
}

/// The part size of multipart copies: large parts keep the number of UploadPartCopy calls low, and the
/// copy happens inside S3, so no memory or disk of this machine holds them.
pub const COPY_PART_SIZE: u64 = 512 * 1024 * 1024;

/// The largest object CopyObject copies in one call; larger ones are copied in parts.
pub const MAX_SINGLE_COPY: u64 = MAX_SINGLE_PUT;

/// One version to copy onto its own key, where it becomes the current version.
#[derive(Debug, Clone)]
pub struct VersionCopy<'a> {
    pub bucket: &'a str,
    pub region: &'a str,
    pub key: &'a str,
    pub version_id: &'a str,
    pub size: u64,
    /// The storage class of the copy; `None` for S3's default (STANDARD).
    pub storage_class: Option<&'a str>,
    /// Objects above this size are copied in parts ([`MAX_SINGLE_COPY`]; tests pass less).
    pub multipart_above: u64,
    /// The part size of such copies ([`COPY_PART_SIZE`]), raised to what S3's limits need.
    pub part_size: u64,
}

/// The bytes of a key that go into `x-amz-copy-source` as they are: RFC 3986's unreserved characters
/// and the `/` between the bucket and the key's segments; everything else is %-encoded.
const COPY_SOURCE_KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The `x-amz-copy-source` of a version: `bucket/key?versionId=ID`, the key %-encoded.
fn copy_source(bucket: &str, key: &str, version_id: &str) -> String {
    let key = percent_encoding::utf8_percent_encode(key, COPY_SOURCE_KEEP);
    let version = percent_encoding::utf8_percent_encode(version_id, COPY_SOURCE_KEEP);
    format!("{bucket}/{key}?versionId={version}")
}

/// Copies a version onto its own key, server-side, so that it becomes the current version again; the
/// version copied and every other one stay. Up to [`VersionCopy::multipart_above`] with one CopyObject
/// (metadata and Content-Type copied with it); above, with a multipart upload of UploadPartCopy ranges
/// that carries the Content-Type, encoding, disposition, cache control and user metadata HEAD reported.
/// A multipart copy that fails is aborted.
pub async fn copy_version(aws: &Aws, c: &VersionCopy<'_>) -> Result<(), AwsError> {
    let s3 = aws.s3(c.region);
    let op = Op::object("CopyObject", "s3:GetObjectVersion", c.bucket, c.key);
    let source = copy_source(c.bucket, c.key, c.version_id);
    let class = c.storage_class.map(aws_sdk_s3::types::StorageClass::from);
    if c.size <= c.multipart_above {
        s3.copy_object()
            .bucket(c.bucket)
            .key(c.key)
            .copy_source(&source)
            .set_storage_class(class)
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
        return Ok(());
    }
    let head_op = Op::object("HeadObject", "s3:GetObjectVersion", c.bucket, c.key);
    let head = s3
        .head_object()
        .bucket(c.bucket)
        .key(c.key)
        .version_id(c.version_id)
        .send()
        .await
        .map_err(|e| aws.error(&head_op, e))?;
    let create_op = Op::object("CreateMultipartUpload", "s3:PutObject", c.bucket, c.key);
    let upload_id = s3
        .create_multipart_upload()
        .bucket(c.bucket)
        .key(c.key)
        .set_storage_class(class)
        .set_content_type(head.content_type)
        .set_content_encoding(head.content_encoding)
        .set_content_disposition(head.content_disposition)
        .set_cache_control(head.cache_control)
        .set_metadata(head.metadata)
        .send()
        .await
        .map_err(|e| aws.error(&create_op, e))?
        .upload_id
        .ok_or_else(|| {
            bad_response(
                &create_op,
                "CreateMultipartUpload answered without an upload id".to_string(),
            )
        })?;
    let result = copy_parts(aws, c, &source, &upload_id).await;
    if result.is_err() {
        let abort = s3
            .abort_multipart_upload()
            .bucket(c.bucket)
            .key(c.key)
            .upload_id(&upload_id)
            .send()
            .await;
        if let Err(err) = abort {
            tracing::warn!(key = c.key, upload_id, error = %err, "could not abort a multipart copy");
        }
    }
    result
}

/// The UploadPartCopy calls of one multipart copy, one after another, then its completion.
async fn copy_parts(aws: &Aws, c: &VersionCopy<'_>, source: &str, upload_id: &str) -> Result<(), AwsError> {
    let s3 = aws.s3(c.region);
    let op = Op::object("UploadPartCopy", "s3:PutObject", c.bucket, c.key);
    let layout = Layout::new(c.size, c.part_size);
    let mut parts = Vec::new();
    for number in 1..=layout.count() {
        let (offset, length) = layout.range(number);
        let out = s3
            .upload_part_copy()
            .bucket(c.bucket)
            .key(c.key)
            .upload_id(upload_id)
            .part_number(number)
            .copy_source(source)
            .copy_source_range(format!("bytes={offset}-{}", offset + length.max(1) - 1))
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
        let etag = out
            .copy_part_result
            .and_then(|r| r.e_tag)
            .ok_or_else(|| bad_response(&op, format!("part {number} was copied without an ETag")))?;
        parts.push(CompletedPart::builder().part_number(number).e_tag(etag).build());
    }
    let complete_op = Op::object("CompleteMultipartUpload", "s3:PutObject", c.bucket, c.key);
    s3.complete_multipart_upload()
        .bucket(c.bucket)
        .key(c.key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .map_err(|e| aws.error(&complete_op, e))?;
    Ok(())
}

/// Deletes keys with DeleteObjects in batches of up to 1000, a few batches at once; returns the keys
/// S3 refused to delete, each with `code: message`.
///
/// On a versioned bucket each delete becomes a delete marker, as with any DeleteObject.
pub async fn delete_objects(
    aws: &Aws,
    bucket: &str,
    region: &str,
    keys: &[String],
) -> Result<Vec<(String, String)>, AwsError> {
    let op = Op::object("DeleteObjects", "s3:DeleteObject", bucket, "*");
    let refused = delete_batches(aws, bucket, region, &op, keys, |key| (key.as_str(), None)).await?;
    Ok(refused.into_iter().map(|(key, _, detail)| (key, detail)).collect())
}

/// Deletes exact versions, each a (key, version id) pair with `null` for the version of an object
/// written while the bucket was unversioned, with DeleteObjects in batches of up to 1000 (Quiet), a few
/// batches at once; returns the versions S3 refused to delete, each with `code: message`.
///
/// A delete that names its version removes that version (or delete marker) for good instead of adding
/// a delete marker, which is what a migration that has verified a copy of exactly that version wants.
/// `null` is sent as the version id too: S3 accepts it on unversioned buckets, and leaving it out on
/// a bucket that was versioned since would add a delete marker and keep the null version.
pub async fn delete_versions(
    aws: &Aws,
    bucket: &str,
    region: &str,
    versions: &[(String, String)],
) -> Result<Vec<(String, String, String)>, AwsError> {
    let op = Op::object("DeleteObjects", "s3:DeleteObjectVersion", bucket, "*");
    delete_batches(aws, bucket, region, &op, versions, |(key, version)| {
        (key.as_str(), Some(version.as_str()))
    })
    .await
}

/// The DeleteObjects machinery behind [`delete_objects`] and [`delete_versions`]: batches of
/// [`DELETE_BATCH`] objects, [`DELETE_CONCURRENCY`] batches in flight, Quiet mode so that S3 only
/// answers with the refusals. Each refusal is (key, version id, `code: message`); when S3 does not name
/// the version of a refusal, it is the version the batch asked for that key, if the batch asked for
/// exactly one (otherwise empty).
async fn delete_batches<T: Sync>(
    aws: &Aws,
    bucket: &str,
    region: &str,
    op: &Op,
    items: &[T],
    identify: fn(&T) -> (&str, Option<&str>),
) -> Result<Vec<(String, String, String)>, AwsError> {
    let s3 = aws.s3(region);
    let batches = items.chunks(DELETE_BATCH).map(|batch| {
        let s3 = &s3;
        async move {
            let objects = batch
                .iter()
                .map(|item| {
                    let (key, version) = identify(item);
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.map(str::to_string))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(op, e))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| invalid(op, e))?;
            let out = s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| aws.error(op, e))?;
            Ok::<_, AwsError>(
                out.errors
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| {
                        let detail = format!(
                            "{}: {}",
                            e.code.as_deref().unwrap_or("Unknown"),
                            e.message.as_deref().unwrap_or_default()
                        );
                        let key = e.key.unwrap_or_default();
                        let version = e.version_id.filter(|v| !v.is_empty()).unwrap_or_else(|| {
                            let mut asked = batch.iter().map(identify).filter(|(k, _)| *k == key);
                            match (asked.next(), asked.next()) {
                                (Some((_, Some(version))), None) => version.to_string(),
                                _ => String::new(),
                            }
                        });
                        (key, version, detail)
                    })
                    .collect::<Vec<_>>(),
            )
        }
    });
    let mut failures = Vec::new();
    let mut results = futures_util::stream::iter(batches).buffer_unordered(DELETE_CONCURRENCY);
    while let Some(result) = results.next().await {
        failures.extend(result?);
    }
    Ok(failures)
}

/// Multipart uploads in progress under `prefix` (ListMultipartUploads, paginated): key, upload id and
/// when it was started, in Unix milliseconds.
pub async fn list_multipart_uploads(
    aws: &Aws,
    bucket: &str,
    region: &str,
    prefix: &str,
) -> Result<Vec<(String, String, i64)>, AwsError> {
    let s3 = aws.s3(region);
    let op = Op::bucket("ListMultipartUploads", "s3:ListBucketMultipartUploads", bucket);
    let mut uploads = Vec::new();
    let mut key_marker: Option<String> = None;
    let mut id_marker: Option<String> = None;
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(id_marker.take())
            .send()
            .await
            .map_err(|e| aws.error(&op, e))?;
        for upload in page.uploads.unwrap_or_default() {
            let (Some(key), Some(id)) = (upload.key, upload.upload_id) else {
                continue;
            };
            let initiated = upload.initiated.and_then(|t| t.to_millis().ok()).unwrap_or(0);
            uploads.push((key, id, initiated));
        }
        if page.is_truncated != Some(true) {
            break;
        }
        key_marker = page.next_key_marker.filter(|m| !m.is_empty());
        id_marker = page.next_upload_id_marker.filter(|m| !m.is_empty());
        if key_marker.is_none() && id_marker.is_none() {
            break;
        }
    }
    Ok(uploads)
}

/// The bytes of the parts an incomplete upload holds (ListParts, paginated); `None` when the server no
/// longer has the upload.
pub async fn upload_bytes(
    aws: &Aws,
    bucket: &str,
    region: &str,
    key: &str,
    upload_id: &str,
) -> Result<Option<u64>, AwsError> {
    let listing = list_parts(aws, bucket, region, key, upload_id).await?;
    Ok(listing.map(|l| l.parts.iter().map(|p| p.size).sum()))
}

/// Aborts a multipart upload, freeing its parts; an upload that is already gone (`NoSuchUpload`) counts
/// as aborted.
pub async fn abort_multipart_upload(
    aws: &Aws,
    bucket: &str,
    region: &str,
    key: &str,
    upload_id: &str,
) -> Result<(), AwsError> {
    let op = Op::object("AbortMultipartUpload", "s3:AbortMultipartUpload", bucket, key);
    let result = aws
        .s3(region)
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) => match aws.error(&op, err) {
            err if err.code() == Some("NoSuchUpload") => Ok(()),
            err => Err(err),
        },
    }
}

/// Whether an error says the server does not accept the checksum algorithm (as opposed to the bytes not
/// matching it, which is `BadDigest` and is never worked around).
///
/// S3-compatible servers word this differently: MinIO answers `NotImplemented` ("a header you provided
/// implies functionality that is not implemented"), others `InvalidArgument` or `InvalidRequest` naming
/// the checksum header or algorithm.
fn rejects_checksum(err: &AwsError) -> bool {
    let AwsError::Service { code, message, .. } = err else {
        return false;
    };
    let message = message.to_ascii_lowercase();
    let about_checksum = ["checksum", "crc", "sha"].iter().any(|word| message.contains(word));
    match code.as_str() {
        "NotImplemented" => about_checksum || message.contains("header"),
        "InvalidArgument" | "InvalidRequest" | "UnsupportedArgument" => about_checksum,
        _ => false,
    }
}

/// Codes with which S3 says the bytes it received do not match the checksum sent with them.
fn is_digest_mismatch(err: &AwsError) -> bool {
    matches!(
        err.code(),
        Some("BadDigest" | "InvalidDigest" | "XAmzContentChecksumMismatch" | "InvalidChecksum")
    )
}

/// Endpoints and algorithms that were rejected during this process; tiny, so a list.
static REJECTED: Mutex<Vec<(String, ChecksumAlgorithm)>> = Mutex::new(Vec::new());

fn endpoint_key(aws: &Aws) -> String {
    aws.endpoint_url().unwrap_or_default().to_string()
}

fn is_rejected(aws: &Aws, algorithm: ChecksumAlgorithm) -> bool {
    let endpoint = endpoint_key(aws);
    let rejected = REJECTED.lock().unwrap_or_else(|p| p.into_inner());
    rejected.iter().any(|(e, a)| *e == endpoint && *a == algorithm)
}

/// Records a rejection; true the first time, so the warning is logged once.
fn remember_rejected(aws: &Aws, algorithm: ChecksumAlgorithm) -> bool {
    let endpoint = endpoint_key(aws);
    let mut rejected = REJECTED.lock().unwrap_or_else(|p| p.into_inner());
    if rejected.iter().any(|(e, a)| *e == endpoint && *a == algorithm) {
        return false;
    }
    rejected.push((endpoint, algorithm));
    true
}

/// Turns an upload error into [`TransferError::Changed`] when the file no longer matches the walk: a
/// checksum mismatch or a short read is then the file moving under the upload, not a fault of S3 or disk.
async fn changed_or(up: &Upload<'_>, err: TransferError) -> TransferError {
    let worth_checking = match &err {
        TransferError::Aws(aws) => is_digest_mismatch(aws),
        TransferError::Read { .. } => true,
        TransferError::Changed { .. } | TransferError::TooLarge { .. } | TransferError::Stopped { .. } => false,
    };
    if worth_checking && let Err(changed @ TransferError::Changed { .. }) = check_unchanged_async(up).await {
        return changed;
    }
    err
}

/// The file's (size, mtime) compared with the walk's, on a blocking thread.
async fn check_unchanged_async(up: &Upload<'_>) -> Result<(), TransferError> {
    if up.size <= INLINE_READ_MAX {
        return check_unchanged(up.path, up.size, up.mtime_ms);
    }
    let path = up.path.to_path_buf();
    let (size, mtime) = (up.size, up.mtime_ms);
    blocking(up.path, move || check_unchanged(&path, size, mtime)).await
}

/// Fails with [`TransferError::Changed`] unless the file still has the size and mtime the walk saw.
fn check_unchanged(path: &Path, size: u64, mtime: i64) -> Result<(), TransferError> {
    let meta = std::fs::metadata(path).map_err(|source| read_error(path, source))?;
    if meta.len() != size || mtime_ms(&meta) != mtime {
        return Err(TransferError::Changed {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Reads a small file whole, checking that it did not change around the read, and checksums the buffer.
fn read_whole(
    path: &Path,
    size: u64,
    mtime: i64,
    algorithm: Option<ChecksumAlgorithm>,
) -> Result<(Vec<u8>, Option<Vec<u8>>), TransferError> {
    check_unchanged(path, size, mtime)?;
    let file = File::open(path).map_err(|source| read_error(path, source))?;
    let capacity = usize::try_from(size).unwrap_or(0);
    let mut data = Vec::with_capacity(capacity);
    // One byte more than expected is read, so a file that grew is noticed without a second stat.
    file.take(size + 1)
        .read_to_end(&mut data)
        .map_err(|source| read_error(path, source))?;
    if data.len() as u64 != size {
        return Err(TransferError::Changed {
            path: path.to_path_buf(),
        });
    }
    check_unchanged(path, size, mtime)?;
    let checksum = algorithm.map(|algorithm| {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(&data);
        hasher.finish()
    });
    Ok((data, checksum))
}

/// Checksums `length` bytes of a file from `offset`, reading in [`READ_BUFFER`] pieces.
fn hash_range(path: &Path, offset: u64, length: u64, algorithm: ChecksumAlgorithm) -> Result<Vec<u8>, TransferError> {
    let mut file = File::open(path).map_err(|source| read_error(path, source))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|source| read_error(path, source))?;
    let mut hasher = Hasher::new(algorithm);
    let mut buffer = vec![0u8; READ_BUFFER];
    let mut left = length;
    while left > 0 {
        let want = usize::try_from(left.min(READ_BUFFER as u64)).unwrap_or(READ_BUFFER);
        let read = match file.read(&mut buffer[..want]) {
            Ok(0) => {
                // The file ended early: it shrank since the walk.
                return Err(TransferError::Changed {
                    path: path.to_path_buf(),
                });
            }
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(read_error(path, source)),
        };
        hasher.update(&buffer[..read]);
        left -= read as u64;
    }
    Ok(hasher.finish())
}

/// A request body streaming `length` bytes of the file from `offset`.
///
/// The SDK reopens the file when it retries, so a retried request sends the same range again.
async fn stream_range(up: &Upload<'_>, offset: u64, length: u64) -> Result<ByteStream, TransferError> {
    ByteStream::read_from()
        .path(up.path)
        .offset(offset)
        .length(Length::Exact(length))
        .buffer_size(READ_BUFFER)
        .build()
        .await
        .map_err(|err| read_error(up.path, std::io::Error::other(err)))
}

/// Runs file work on the blocking pool, where it does not stall the network tasks.
async fn blocking<T, F>(path: &Path, work: F) -> Result<T, TransferError>
where
    F: FnOnce() -> Result<T, TransferError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join| Err(read_error(path, std::io::Error::other(join))))
}

/// Whether a PUT or part goes without a SHA-256 of its body in the signature: only over TLS, which
/// protects the bytes in transit, and only with a checksum header, which S3 checks against the bytes it
/// stored. The body is then hashed once (the checksum) instead of twice. Over plain HTTP the signature
/// keeps covering the body.
fn unsigned_payload(aws: &Aws, checksum: Option<&String>) -> bool {
    checksum.is_some() && aws.uses_tls()
}

/// Takes one permit of the sync's request budget.
async fn acquire(parts: &Arc<Semaphore>, path: &Path) -> Result<OwnedSemaphorePermit, TransferError> {
    Arc::clone(parts)
        .acquire_owned()
        .await
        .map_err(|_| TransferError::Stopped {
            path: path.to_path_buf(),
        })
}

fn sdk_algorithm(algorithm: ChecksumAlgorithm) -> SdkChecksumAlgorithm {
    match algorithm {
        ChecksumAlgorithm::Crc64nvme => SdkChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Crc32c => SdkChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc32 => SdkChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Sha256 => SdkChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Sha1 => SdkChecksumAlgorithm::Sha1,
    }
}

/// CRCs can describe the whole object (and CRC64-NVME can only do that); SHA checksums of a multipart
/// object can only be composite.
fn checksum_type(algorithm: ChecksumAlgorithm) -> ChecksumType {
    match crc_algorithm(algorithm) {
        Some(_) => ChecksumType::FullObject,
        None => ChecksumType::Composite,
    }
}

/// Sizes are `u64` here and `i64` in the SDK; no file reaches the difference.
fn to_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// An ETag without the quotes S3 wraps it in.
pub(super) fn unquote(etag: String) -> String {
    if etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"') {
        etag[1..etag.len() - 1].to_string()
    } else {
        etag
    }
}

fn unquoted(etag: &str) -> &str {
    etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or(etag)
}

/// Decodes a URL-encoded key (`encoding-type=url`); keys without `%` or `+` are returned as they are,
/// without copying.
pub(super) fn url_decode(key: String) -> Result<String, String> {
    if !key.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(key);
    }
    // S3 encodes spaces as `+` in URL-encoded listings (form encoding), and a literal `+` as %2B.
    super::percent_decode(&key.replace('+', " ")).map_err(|e| match e {
        super::PercentError::Malformed => format!("the listed key `{key}` has a malformed %-escape"),
        super::PercentError::NotUtf8 => format!("the listed key `{key}` does not decode to UTF-8"),
    })
}

fn read_error(path: &Path, source: std::io::Error) -> TransferError {
    TransferError::Read {
        path: path.to_path_buf(),
        source,
    }
}

pub(super) fn bad_response(op: &Op, detail: String) -> AwsError {
    AwsError::BadResponse {
        operation: op.operation.to_string(),
        resource: op.resource.clone(),
        detail,
    }
}

pub(super) fn invalid(op: &Op, detail: impl std::fmt::Display) -> AwsError {
    AwsError::InvalidRequest {
        operation: op.operation.to_string(),
        resource: op.resource.clone(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ranges_cover_every_key_exactly_once() {
        let boundaries = vec!["b".to_string(), "d".to_string()];
        let ranges = KeyRange::split(&boundaries);
        assert_eq!(
            ranges,
            vec![
                KeyRange {
                    start_after: None,
                    last: Some("b".into())
                },
                KeyRange {
                    start_after: Some("b".into()),
                    last: Some("d".into())
                },
                KeyRange {
                    start_after: Some("d".into()),
                    last: None
                },
            ]
        );
        for key in ["", "a", "b", "b0", "c", "d", "d\u{0}", "e", "\u{10FFFF}"] {
            let holding = ranges.iter().filter(|r| r.contains(key)).count();
            assert_eq!(holding, 1, "{key:?} is in {holding} ranges");
        }
        assert_eq!(KeyRange::split(&[]), vec![KeyRange::default()]);
        assert!(KeyRange::default().contains("anything"));
    }

    fn checksum_of(algorithm: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(data);
        hasher.finish()
    }

    #[test]
    fn checksums_match_the_standard_check_values() {
        // The "check" value of each CRC is its checksum of "123456789".
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Crc32, b"123456789"),
            0xCBF4_3926u32.to_be_bytes()
        );
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Crc32c, b"123456789"),
            0xE306_9283u32.to_be_bytes()
        );
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Crc64nvme, b"123456789"),
            0xAE8B_1486_0A79_9888u64.to_be_bytes()
        );
        assert_eq!(
            BASE64.encode(checksum_of(ChecksumAlgorithm::Sha256, b"")),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            BASE64.encode(checksum_of(ChecksumAlgorithm::Sha1, b"")),
            "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
        );
    }

    #[test]
    fn full_object_crcs_combine_from_parts() {
        let data: Vec<u8> = (0..(3 * 1024 + 17)).map(|i| (i * 7 % 251) as u8).collect();
        let layout = Layout {
            size: data.len() as u64,
            part_size: 1024,
        };
        for algorithm in [
            ChecksumAlgorithm::Crc64nvme,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc32,
        ] {
            let done: BTreeMap<i32, DonePart> = (1..=layout.count())
                .map(|n| {
                    let (offset, length) = layout.range(n);
                    let part = &data[offset as usize..(offset + length) as usize];
                    let part = DonePart {
                        number: n,
                        etag: String::new(),
                        checksum: Some(BASE64.encode(checksum_of(algorithm, part))),
                    };
                    (n, part)
                })
                .collect();
            assert_eq!(
                object_checksum(algorithm, layout, &done),
                Some(BASE64.encode(checksum_of(algorithm, &data))),
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn composite_sha_checksums_hash_the_part_hashes() {
        let layout = Layout { size: 10, part_size: 5 };
        let parts = [b"hello".as_slice(), b"world".as_slice()];
        let done: BTreeMap<i32, DonePart> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let number = i as i32 + 1;
                let checksum = Some(BASE64.encode(checksum_of(ChecksumAlgorithm::Sha256, p)));
                (
                    number,
                    DonePart {
                        number,
                        etag: String::new(),
                        checksum,
                    },
                )
            })
            .collect();
        let mut joined = checksum_of(ChecksumAlgorithm::Sha256, b"hello");
        joined.extend(checksum_of(ChecksumAlgorithm::Sha256, b"world"));
        let expected = format!("{}-2", BASE64.encode(checksum_of(ChecksumAlgorithm::Sha256, &joined)));
        assert_eq!(
            object_checksum(ChecksumAlgorithm::Sha256, layout, &done),
            Some(expected)
        );
        let mut broken = done.clone();
        if let Some(part) = broken.get_mut(&2) {
            part.checksum = Some("not base64!".into());
        }
        assert_eq!(object_checksum(ChecksumAlgorithm::Sha256, layout, &broken), None);
    }

    #[test]
    fn layouts_respect_s3_limits() {
        let small = Layout::new(12 * 1024 * 1024, 1024);
        assert_eq!(small.part_size, MIN_PART_SIZE, "parts are at least 5 MiB");
        assert_eq!(small.count(), 3);
        assert_eq!(small.range(3), (10 * 1024 * 1024, 2 * 1024 * 1024));
        let huge = Layout::new(4 * 1024 * 1024 * 1024 * 1024, 16 * 1024 * 1024);
        assert!(huge.count() as u64 <= MAX_PARTS, "at most 10,000 parts");
        assert_eq!(huge.range(huge.count()).0 + huge.range(huge.count()).1, huge.size);
        assert_eq!(Layout::new(0, MIN_PART_SIZE).count(), 1);
        assert!(Layout::fits(12 * 1024 * 1024, MIN_PART_SIZE));
        assert!(!Layout::fits(12 * 1024 * 1024, 1024));
    }

    #[test]
    fn mtime_metadata_round_trips_and_reads_rclone_values() {
        for ms in [0, 1_700_000_000_123, 1_700_000_000_005, -1_123, -5] {
            assert_eq!(parse_mtime_metadata(&mtime_metadata(ms)), Some(ms), "{ms}");
        }
        assert_eq!(mtime_metadata(1_700_000_000_123), "1700000000.123");
        assert_eq!(mtime_metadata(-1_123), "-1.123");
        assert_eq!(parse_mtime_metadata("1700000000.123456789"), Some(1_700_000_000_123));
        assert_eq!(parse_mtime_metadata("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_mtime_metadata("1700000000.5"), Some(1_700_000_000_500));
        assert_eq!(parse_mtime_metadata("soon"), None);
        assert_eq!(parse_mtime_metadata("1.2.3"), None);
        assert_eq!(parse_mtime_metadata(""), None);
    }

    #[test]
    fn listed_keys_are_url_decoded() {
        assert_eq!(url_decode("plain/key.txt".into()).as_deref(), Ok("plain/key.txt"));
        assert_eq!(url_decode("a+b%2Bc%20d".into()).as_deref(), Ok("a b+c d"));
        assert_eq!(url_decode("caf%C3%A9%01".into()).as_deref(), Ok("café\u{1}"));
        assert!(url_decode("bad%zz".into()).is_err());
        assert!(url_decode("bad%2".into()).is_err());
        assert!(url_decode("%".into()).is_err());
        assert_eq!(url_decode("100%25+done".into()).as_deref(), Ok("100% done"));
        assert!(url_decode("bad%ff".into()).is_err());
    }

    #[test]
    fn only_algorithm_rejections_fall_back() {
        let service = |code: &str, message: &str| AwsError::Service {
            operation: "PutObject".into(),
            resource: "arn:aws:s3:::b/k".into(),
            code: code.into(),
            status: 400,
            message: message.into(),
        };
        assert!(rejects_checksum(&service(
            "NotImplemented",
            "A header you provided implies functionality that is not implemented"
        )));
        assert!(rejects_checksum(&service(
            "InvalidArgument",
            "Unsupported checksum algorithm CRC64NVME"
        )));
        assert!(!rejects_checksum(&service(
            "BadDigest",
            "The CRC64NVME you specified did not match"
        )));
        assert!(!rejects_checksum(&service("InvalidArgument", "Invalid storage class")));
        assert!(!rejects_checksum(&service("AccessDenied", "checksum")));
        assert!(is_digest_mismatch(&service("BadDigest", "")));
    }
}
