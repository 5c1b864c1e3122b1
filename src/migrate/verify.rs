//! A local file checked against what S3 says about the object it was downloaded from.
//!
//! Verification is what allows the source to be deleted, so it compares the content whenever S3 gives
//! something to compare with, and says plainly when it cannot ([`Mismatch::Unverifiable`]) rather than
//! pass on size alone. What can be compared, best first:
//!
//! 1. a full-object checksum S3 stored with the object (CRC64-NVME, CRC32C, CRC32, SHA-1, SHA-256);
//! 2. the ETag of a single-part upload, which is the MD5 of the content unless the object is encrypted
//!    with SSE-KMS or SSE-C;
//! 3. the ETag of a multipart upload (`hex-N`), the MD5 of the part MD5s: recomputed with the part size
//!    when S3 told it, else with the part sizes common tools use ([`candidate_part_sizes`]).
//!
//! A composite checksum (a checksum of part checksums, `value-N`) is not used: recomputing it needs the
//! exact part layout, which the multipart ETag needs too and is easier to get right.
//!
//! The file is read once, with every hash it needs fed from the same buffer; the size is compared first,
//! so a truncated download costs no read at all. Everything here blocks: callers run it on a blocking
//! thread.

use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest as _, Md5};

use super::Expected;
use crate::checksum::Hasher;
use crate::manifest::types::{ChecksumAlgorithm, VerifyMode};
use crate::model::hex;

const MIB: u64 = 1024 * 1024;

/// The smallest part S3 accepts in a multipart upload, except for the last part.
const MIN_PART_SIZE: u64 = 5 * MIB;

/// At most this many part sizes are tried for a multipart ETag whose part size is unknown: each one is
/// an MD5 of the whole file.
const MAX_CANDIDATES: usize = 6;

/// The read buffer: large enough that the hashes, not the system calls, set the pace.
const BUFFER: usize = MIB as usize;

/// How a file was found to match its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The size only (`verify: size`).
    Size,
    /// The MD5 of the content, the ETag of a single-part upload.
    Md5,
    /// The ETag of a multipart upload, recomputed with this part layout.
    MultipartEtag { parts: u32, part_size: u64 },
    /// A full-object checksum S3 stored with the object.
    Checksum(ChecksumAlgorithm),
}

impl Method {
    /// A short, stable name for the state database: `size`, `md5`, `multipart-etag`,
    /// `checksum-crc64nvme`, ... (the part layout is left out).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Size => "size",
            Method::Md5 => "md5",
            Method::MultipartEtag { .. } => "multipart-etag",
            Method::Checksum(ChecksumAlgorithm::Crc64nvme) => "checksum-crc64nvme",
            Method::Checksum(ChecksumAlgorithm::Crc32c) => "checksum-crc32c",
            Method::Checksum(ChecksumAlgorithm::Crc32) => "checksum-crc32",
            Method::Checksum(ChecksumAlgorithm::Sha256) => "checksum-sha256",
            Method::Checksum(ChecksumAlgorithm::Sha1) => "checksum-sha1",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::Size => f.write_str("size"),
            Method::Md5 => f.write_str("md5"),
            Method::MultipartEtag { parts, part_size } => {
                let unit = if *parts == 1 { "part" } else { "parts" };
                write!(
                    f,
                    "multipart ETag ({parts} {unit} of {})",
                    crate::words::size(*part_size)
                )
            }
            Method::Checksum(algorithm) => {
                write!(f, "{} checksum", crate::checksum::s3_name(*algorithm).to_lowercase())
            }
        }
    }
}

/// Why a local file does not count as a verified copy of its object.
#[derive(Debug, thiserror::Error)]
pub enum Mismatch {
    /// Nothing is at the path.
    #[error("{} does not exist", path.display())]
    Missing { path: PathBuf },
    /// Something other than a regular file is at the path.
    #[error("{} is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    /// The sizes differ (found before any content is read).
    #[error("the file has {found} bytes, the object {expected}")]
    Size { expected: u64, found: u64 },
    /// The content differs.
    #[error("the {method} differs: the object has {expected}, the file {found}")]
    Content {
        method: Method,
        expected: String,
        found: String,
    },
    /// S3 gives nothing the content can be compared with, or nothing that matched for a reason other
    /// than the content; the message says which.
    #[error("the content cannot be verified: {0}")]
    Unverifiable(String),
    /// The file could not be read.
    #[error("could not read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
}

/// The content check `expected` allows, decided before the file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Only the size is compared.
    Size,
    /// The whole-file MD5, against this lowercase hex digest.
    Md5(String),
    /// The multipart ETag (`hex-N`, lowercase), recomputed with each part size in turn. `known` when the
    /// one part size is the object's own, so a difference is the content's; otherwise a difference may be
    /// a part size not tried.
    MultipartEtag {
        etag: String,
        parts: u32,
        part_sizes: Vec<u64>,
        known: bool,
    },
    /// A full-object checksum, against these raw bytes.
    Checksum {
        algorithm: ChecksumAlgorithm,
        expected: Vec<u8>,
    },
}

/// Which content check `expected` allows, best first: a stored full-object checksum; else, when the ETag
/// is an MD5 of the content, the single-part ETag as MD5 or the multipart ETag recomputed with the known
/// part size (or, unknown, with [`candidate_part_sizes`]). With [`VerifyMode::Size`], only the size. Pure.
pub fn content_check(expected: &Expected, mode: VerifyMode) -> Result<Check, Mismatch> {
    if mode == VerifyMode::Size {
        return Ok(Check::Size);
    }
    let mut composite = false;
    if let Some(stored) = &expected.checksum {
        // A `-N` suffix marks a composite checksum whatever the flag says; base64 never contains `-`.
        if stored.full_object && !stored.value.contains('-') {
            if let Some(bytes) = decode_checksum(stored.algorithm, &stored.value) {
                return Ok(Check::Checksum {
                    algorithm: stored.algorithm,
                    expected: bytes,
                });
            }
        } else {
            composite = true;
        }
    }
    if !expected.etag_is_md5 {
        let stored = if composite {
            "S3 stored only a composite checksum of its parts"
        } else {
            "S3 stored no full-object checksum with it"
        };
        return Err(Mismatch::Unverifiable(format!(
            "the object is encrypted with SSE-KMS or SSE-C, so its ETag is not an MD5 of its content, and {stored}"
        )));
    }
    let etag = expected.etag.trim_matches('"').to_ascii_lowercase();
    if is_md5_hex(&etag) {
        return Ok(Check::Md5(etag));
    }
    let Some(parts) = multipart_parts(&etag) else {
        return Err(Mismatch::Unverifiable(format!(
            "its ETag {:?} is neither an MD5 nor a multipart ETag",
            expected.etag
        )));
    };
    let size = expected.size;
    if let Some(part_size) = expected.part_size {
        if !fits(size, parts, part_size) {
            return Err(Mismatch::Unverifiable(format!(
                "its {parts} parts are not all of its first part's size ({}), so the multipart ETag cannot be recomputed",
                crate::words::size(part_size)
            )));
        }
        return Ok(Check::MultipartEtag {
            etag,
            parts,
            part_sizes: vec![part_size],
            known: true,
        });
    }
    let part_sizes = candidate_part_sizes(size, parts);
    if part_sizes.is_empty() {
        return Err(Mismatch::Unverifiable(format!(
            "no part size S3 accepts splits {size} bytes into {parts} parts, so the multipart ETag cannot be recomputed"
        )));
    }
    Ok(Check::MultipartEtag {
        etag,
        parts,
        part_sizes,
        known: false,
    })
}

/// Checks the file at `path` against `expected`: the size first, then the content as [`content_check`]
/// decides, reading the file once. Returns how it matched.
pub fn verify_file(path: &Path, expected: &Expected, mode: VerifyMode) -> Result<Method, Mismatch> {
    let read_error = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            Mismatch::Missing {
                path: path.to_path_buf(),
            }
        } else {
            Mismatch::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    };
    let meta = std::fs::metadata(path).map_err(read_error)?;
    if !meta.is_file() {
        return Err(Mismatch::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() != expected.size {
        return Err(Mismatch::Size {
            expected: expected.size,
            found: meta.len(),
        });
    }
    let mut verifier = Verifier::new(expected, mode)?;
    if verifier.size_only() {
        return Ok(Method::Size);
    }
    let mut file = File::open(path).map_err(read_error)?;
    let mut buffer = vec![0u8; BUFFER];
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        verifier.update(&buffer[..n]);
    }
    // A file that changed size while it was read fails the size check in `finish`.
    verifier.finish()
}

/// The content check of one object fed chunk by chunk, so that a stream can be verified without being
/// stored (`restore --verify-only`) as well as a file ([`verify_file`]).
pub struct Verifier {
    expected_size: u64,
    check: Check,
    digests: Digests,
    read: u64,
}

impl Verifier {
    /// The check [`content_check`] allows for `expected`, ready for the content.
    pub fn new(expected: &Expected, mode: VerifyMode) -> Result<Verifier, Mismatch> {
        let check = content_check(expected, mode)?;
        Ok(Verifier {
            expected_size: expected.size,
            digests: Digests::new(&check),
            check,
            read: 0,
        })
    }

    /// Whether only the size is compared, so the content need not be read.
    pub fn size_only(&self) -> bool {
        self.check == Check::Size
    }

    pub fn update(&mut self, data: &[u8]) {
        self.read += data.len() as u64;
        self.digests.update(data);
    }

    /// The size of what was fed, then its content, against the object; how it matched.
    pub fn finish(self) -> Result<Method, Mismatch> {
        if self.check != Check::Size && self.read != self.expected_size {
            return Err(Mismatch::Size {
                expected: self.expected_size,
                found: self.read,
            });
        }
        self.digests.finish(self.check)
    }
}

/// The running hashes of one [`Check`].
enum Digests {
    /// Boxed: a CRC digest holds its lookup state, several times the size of the other variants.
    Checksum(Box<Hasher>),
    Md5(Md5),
    Parts(Vec<PartHasher>),
    None,
}

impl Digests {
    fn new(check: &Check) -> Self {
        match check {
            Check::Size => Digests::None,
            Check::Md5(_) => Digests::Md5(Md5::new()),
            Check::MultipartEtag { part_sizes, .. } => {
                Digests::Parts(part_sizes.iter().map(|&size| PartHasher::new(size)).collect())
            }
            Check::Checksum { algorithm, .. } => Digests::Checksum(Box::new(Hasher::new(*algorithm))),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Digests::Checksum(hasher) => hasher.update(data),
            Digests::Md5(md5) => md5.update(data),
            Digests::Parts(parts) => parts.iter_mut().for_each(|p| p.update(data)),
            Digests::None => {}
        }
    }

    fn finish(self, check: Check) -> Result<Method, Mismatch> {
        match (self, check) {
            (Digests::Checksum(hasher), Check::Checksum { algorithm, expected }) => {
                let found = hasher.finish();
                if found == expected {
                    Ok(Method::Checksum(algorithm))
                } else {
                    Err(Mismatch::Content {
                        method: Method::Checksum(algorithm),
                        expected: BASE64.encode(expected),
                        found: BASE64.encode(found),
                    })
                }
            }
            (Digests::Md5(md5), Check::Md5(expected)) => {
                let found = hex(&md5.finalize());
                if found == expected {
                    Ok(Method::Md5)
                } else {
                    Err(Mismatch::Content {
                        method: Method::Md5,
                        expected,
                        found,
                    })
                }
            }
            (
                Digests::Parts(hashers),
                Check::MultipartEtag {
                    etag,
                    parts,
                    part_sizes,
                    known,
                },
            ) => {
                let mut found = Vec::with_capacity(hashers.len());
                for hasher in hashers {
                    let part_size = hasher.part_size;
                    let computed = multipart_etag(&hasher.finish());
                    if computed == etag {
                        return Ok(Method::MultipartEtag { parts, part_size });
                    }
                    found.push(computed);
                }
                match (known, part_sizes.first(), found.pop()) {
                    (true, Some(&part_size), Some(computed)) => Err(Mismatch::Content {
                        method: Method::MultipartEtag { parts, part_size },
                        expected: etag,
                        found: computed,
                    }),
                    _ => {
                        let tried: Vec<String> = part_sizes.iter().map(|&s| crate::words::size(s)).collect();
                        Err(Mismatch::Unverifiable(format!(
                            "the multipart ETag {etag} matched none of the part sizes tried ({}): either the file differs or the object was uploaded with another part size",
                            tried.join(", ")
                        )))
                    }
                }
            }
            _ => Ok(Method::Size),
        }
    }
}

/// The MD5s of consecutive parts of one size.
struct PartHasher {
    part_size: u64,
    filled: u64,
    current: Md5,
    done: Vec<[u8; 16]>,
}

impl PartHasher {
    fn new(part_size: u64) -> Self {
        PartHasher {
            part_size: part_size.max(1),
            filled: 0,
            current: Md5::new(),
            done: Vec::new(),
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = self.part_size - self.filled;
            let take = usize::try_from(room).map_or(data.len(), |room| room.min(data.len()));
            self.current.update(&data[..take]);
            self.filled += take as u64;
            data = &data[take..];
            if self.filled == self.part_size {
                self.done.push(self.current.finalize_reset().into());
                self.filled = 0;
            }
        }
    }

    fn finish(mut self) -> Vec<[u8; 16]> {
        // The last, shorter part; or the one empty part of an empty object.
        if self.filled > 0 || self.done.is_empty() {
            self.done.push(self.current.finalize().into());
        }
        self.done
    }
}

/// The ETag S3 gives a multipart upload with these part MD5s: the MD5 of their concatenation, in hex,
/// then `-` and the number of parts.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut md5 = Md5::new();
    for part in part_md5s {
        md5.update(part);
    }
    format!("{}-{}", hex(&md5.finalize()), part_md5s.len())
}

/// Part sizes that split `size` bytes into `parts` parts (`ceil(size / p) == parts`, `p` at least 5 MiB
/// unless there is one part), the ones common tools use first: 8 MiB (aws-cli, boto3), 5 MiB (the SDKs'
/// minimum, rclone), 16 MiB (s3rec), 15 MiB, 32 MiB (boto3 doubling past 10,000 parts), 50 MiB (s5cmd),
/// 64 MiB, 100 MiB, 128 MiB, 256 MiB, 512 MiB, 1 GiB, then the smallest whole number of MiB that fits.
/// At most six. With one part every part size gives the same ETag, so only one is returned.
pub fn candidate_part_sizes(size: u64, parts: u32) -> Vec<u64> {
    match parts {
        0 => return Vec::new(),
        1 => return vec![size.max(1)],
        _ => {}
    }
    const COMMON_MIB: [u64; 12] = [8, 5, 16, 15, 32, 50, 64, 100, 128, 256, 512, 1024];
    let mut sizes: Vec<u64> = COMMON_MIB
        .iter()
        .map(|m| m * MIB)
        .filter(|&p| fits(size, parts, p))
        .collect();
    // The smallest part size that fits is ceil(size / parts); rounded up to whole MiB it is what tools
    // that grow the part size to stay under S3's 10,000 parts tend to pick.
    let smallest = size.div_ceil(u64::from(parts)).div_ceil(MIB).max(MIN_PART_SIZE / MIB) * MIB;
    if fits(size, parts, smallest) && !sizes.contains(&smallest) {
        sizes.push(smallest);
    }
    sizes.truncate(MAX_CANDIDATES);
    sizes
}

/// Whether parts of `part_size` split `size` bytes into exactly `parts` parts, as S3 accepts them.
fn fits(size: u64, parts: u32, part_size: u64) -> bool {
    if part_size == 0 {
        return false;
    }
    if parts == 1 {
        return part_size >= size;
    }
    part_size >= MIN_PART_SIZE && size.div_ceil(part_size) == u64::from(parts)
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The part count of a multipart ETag (`hex-N`, N from 1 to S3's 10,000).
fn multipart_parts(etag: &str) -> Option<u32> {
    let (md5, parts) = etag.split_once('-')?;
    if !is_md5_hex(md5) || parts.is_empty() || !parts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parts: u32 = parts.parse().ok()?;
    (1..=10_000).contains(&parts).then_some(parts)
}

/// The raw bytes of a stored checksum, when it is valid base64 of the algorithm's length.
fn decode_checksum(algorithm: ChecksumAlgorithm, value: &str) -> Option<Vec<u8>> {
    let bytes = BASE64.decode(value.trim()).ok()?;
    let width = match algorithm {
        ChecksumAlgorithm::Crc64nvme => 8,
        ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc32 => 4,
        ChecksumAlgorithm::Sha1 => 20,
        ChecksumAlgorithm::Sha256 => 32,
    };
    (bytes.len() == width).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::StoredChecksum;

    const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog";
    const FOX_MD5: &str = "9e107d9d372bb6826bd81d3542a419d6";

    fn file(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    fn expected(size: usize, etag: &str) -> Expected {
        Expected {
            size: size as u64,
            etag: etag.to_string(),
            part_size: None,
            checksum: None,
            etag_is_md5: true,
        }
    }

    fn crc64(content: &[u8]) -> String {
        let mut hasher = Hasher::new(ChecksumAlgorithm::Crc64nvme);
        hasher.update(content);
        BASE64.encode(hasher.finish())
    }

    /// Content that differs from part to part, so a wrong part boundary changes the ETag.
    fn patterned(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn single_part_etags_are_md5s() {
        let (_dir, path) = file(FOX);
        assert_eq!(
            verify_file(&path, &expected(FOX.len(), FOX_MD5), VerifyMode::Checksum).unwrap(),
            Method::Md5
        );
        // Quoted and upper-case ETags are the same ETag.
        let quoted = format!("\"{}\"", FOX_MD5.to_uppercase());
        assert_eq!(
            verify_file(&path, &expected(FOX.len(), &quoted), VerifyMode::Checksum).unwrap(),
            Method::Md5
        );
        let (_dir, empty) = file(b"");
        let md5_of_nothing = "d41d8cd98f00b204e9800998ecf8427e";
        assert_eq!(
            verify_file(&empty, &expected(0, md5_of_nothing), VerifyMode::Checksum).unwrap(),
            Method::Md5
        );
    }

    #[test]
    fn a_changed_byte_fails_the_md5() {
        let mut content = FOX.to_vec();
        content[4] ^= 1;
        let (_dir, path) = file(&content);
        let err = verify_file(&path, &expected(FOX.len(), FOX_MD5), VerifyMode::Checksum).unwrap_err();
        assert!(
            matches!(&err, Mismatch::Content { method: Method::Md5, expected, .. } if expected == FOX_MD5),
            "{err}"
        );
    }

    #[test]
    fn multipart_etag_of_known_parts() {
        // The MD5s of the fox sentence and of nothing; the ETag computed with Python's hashlib.
        let parts = [
            *b"\x9e\x10\x7d\x9d\x37\x2b\xb6\x82\x6b\xd8\x1d\x35\x42\xa4\x19\xd6",
            *b"\xd4\x1d\x8c\xd9\x8f\x00\xb2\x04\xe9\x80\x09\x98\xec\xf8\x42\x7e",
        ];
        assert_eq!(multipart_etag(&parts), "2ef6d3eebb6b340a5667d4e455f64ce3-2");
    }

    #[test]
    fn a_multipart_etag_is_recomputed_with_the_known_part_size() {
        let content = patterned(11 * MIB as usize + 12_345);
        let (_dir, path) = file(&content);
        // Computed with Python's hashlib for the same content and 5 MiB parts.
        let etag = "2e149674ac48ccc23496eac76f5090c3-3";
        let mut exp = expected(content.len(), etag);
        exp.part_size = Some(5 * MIB);
        let method = verify_file(&path, &exp, VerifyMode::Checksum).unwrap();
        assert_eq!(
            method,
            Method::MultipartEtag {
                parts: 3,
                part_size: 5 * MIB
            }
        );
        assert_eq!(method.to_string(), "multipart ETag (3 parts of 5.0 MiB)");
        assert_eq!(method.as_str(), "multipart-etag");

        // The same ETag, also computed here from the parts themselves.
        let part_md5s: Vec<[u8; 16]> = content
            .chunks(5 * MIB as usize)
            .map(|c| Md5::digest(c).into())
            .collect();
        assert_eq!(multipart_etag(&part_md5s), etag);

        // A different byte in the last part is the content's fault: the part size is the object's own.
        let mut changed = content.clone();
        *changed.last_mut().unwrap() ^= 0xff;
        let (_dir2, path2) = file(&changed);
        let err = verify_file(&path2, &exp, VerifyMode::Checksum).unwrap_err();
        assert!(
            matches!(
                err,
                Mismatch::Content {
                    method: Method::MultipartEtag { .. },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_part_size_is_found_among_the_candidates() {
        let content = patterned(11 * MIB as usize + 12_345);
        let (_dir, path) = file(&content);
        let exp = expected(content.len(), "2e149674ac48ccc23496eac76f5090c3-3");
        // 8 MiB gives two parts, so 5 MiB is the first candidate tried for three.
        assert_eq!(candidate_part_sizes(content.len() as u64, 3)[0], 5 * MIB);
        assert_eq!(
            verify_file(&path, &exp, VerifyMode::Checksum).unwrap(),
            Method::MultipartEtag {
                parts: 3,
                part_size: 5 * MIB
            }
        );

        // With no candidate matching, the content may be fine: unverifiable, not a mismatch.
        let exp = expected(content.len(), "00000000000000000000000000000000-3");
        let err = verify_file(&path, &exp, VerifyMode::Checksum).unwrap_err();
        assert!(
            matches!(&err, Mismatch::Unverifiable(m) if m.contains("5.0 MiB")),
            "{err}"
        );
    }

    #[test]
    fn candidate_part_sizes_fit_the_object() {
        // 100 MiB in 13 parts: 8 MiB fits (ceil(100 / 8) = 13), the smallest whole MiB is 8 too.
        assert_eq!(candidate_part_sizes(100 * MIB, 13), vec![8 * MIB]);
        // 100 MiB in 7 parts: 15 MiB and 16 MiB fit; the smallest whole MiB is 15.
        assert_eq!(candidate_part_sizes(100 * MIB, 7), vec![16 * MIB, 15 * MIB]);
        // 1 GiB in 10 parts: none of the common sizes; 103 MiB is the smallest that fits.
        assert_eq!(candidate_part_sizes(1024 * MIB, 10), vec![103 * MIB]);
        // Parts under 5 MiB are never candidates, except for a single part.
        assert_eq!(candidate_part_sizes(6 * MIB, 3), Vec::<u64>::new());
        assert_eq!(candidate_part_sizes(6 * MIB, 1), vec![6 * MIB]);
        assert_eq!(candidate_part_sizes(0, 1), vec![1]);
        assert_eq!(candidate_part_sizes(10 * MIB, 0), Vec::<u64>::new());
        // Never more than six.
        assert!(candidate_part_sizes(200 * MIB, 2).len() <= 6);
        for (size, parts) in [
            (100 * MIB, 13),
            (1024 * MIB, 10),
            (200 * MIB, 2),
            (5 * 1024 * MIB + 7, 37),
        ] {
            for p in candidate_part_sizes(size, parts) {
                assert_eq!(size.div_ceil(p), u64::from(parts), "{size} {parts} {p}");
            }
        }
    }

    #[test]
    fn a_single_part_multipart_etag_is_the_md5_of_the_md5() {
        let (_dir, path) = file(FOX);
        let etag = multipart_etag(&[Md5::digest(FOX).into()]);
        assert_eq!(
            verify_file(&path, &expected(FOX.len(), &etag), VerifyMode::Checksum).unwrap(),
            Method::MultipartEtag {
                parts: 1,
                part_size: FOX.len() as u64
            }
        );
    }

    #[test]
    fn sse_kms_etags_are_unverifiable_without_a_checksum() {
        let (_dir, path) = file(FOX);
        let mut exp = expected(FOX.len(), FOX_MD5);
        exp.etag_is_md5 = false;
        let err = verify_file(&path, &exp, VerifyMode::Checksum).unwrap_err();
        assert!(
            matches!(&err, Mismatch::Unverifiable(m) if m.contains("SSE-KMS")),
            "{err}"
        );

        exp.checksum = Some(StoredChecksum {
            algorithm: ChecksumAlgorithm::Crc64nvme,
            value: crc64(FOX),
            full_object: true,
        });
        assert_eq!(
            verify_file(&path, &exp, VerifyMode::Checksum).unwrap(),
            Method::Checksum(ChecksumAlgorithm::Crc64nvme)
        );
    }

    #[test]
    fn a_stored_full_object_checksum_is_preferred_and_checked() {
        let (_dir, path) = file(FOX);
        let mut exp = expected(FOX.len(), "00000000000000000000000000000000");
        exp.checksum = Some(StoredChecksum {
            algorithm: ChecksumAlgorithm::Crc64nvme,
            value: crc64(FOX),
            full_object: true,
        });
        let method = verify_file(&path, &exp, VerifyMode::Checksum).unwrap();
        assert_eq!(method, Method::Checksum(ChecksumAlgorithm::Crc64nvme));
        assert_eq!(method.to_string(), "crc64nvme checksum");
        assert_eq!(method.as_str(), "checksum-crc64nvme");

        let mut flipped = FOX.to_vec();
        flipped[10] ^= 0x20;
        let (_dir2, path2) = file(&flipped);
        let err = verify_file(&path2, &exp, VerifyMode::Checksum).unwrap_err();
        assert!(
            matches!(
                &err,
                Mismatch::Content { method: Method::Checksum(ChecksumAlgorithm::Crc64nvme), expected, found }
                    if *expected == crc64(FOX) && *found == crc64(&flipped)
            ),
            "{err}"
        );
    }

    #[test]
    fn sha256_checksums_work_too() {
        let (_dir, path) = file(FOX);
        let mut exp = expected(FOX.len(), FOX_MD5);
        let mut hasher = Hasher::new(ChecksumAlgorithm::Sha256);
        hasher.update(FOX);
        exp.checksum = Some(StoredChecksum {
            algorithm: ChecksumAlgorithm::Sha256,
            value: BASE64.encode(hasher.finish()),
            full_object: true,
        });
        assert_eq!(
            verify_file(&path, &exp, VerifyMode::Checksum).unwrap(),
            Method::Checksum(ChecksumAlgorithm::Sha256)
        );
    }

    #[test]
    fn composite_checksums_give_way_to_the_etag() {
        let (_dir, path) = file(FOX);
        let mut exp = expected(FOX.len(), FOX_MD5);
        exp.checksum = Some(StoredChecksum {
            algorithm: ChecksumAlgorithm::Crc32c,
            value: "AAAAAA==-3".to_string(),
            full_object: false,
        });
        assert_eq!(verify_file(&path, &exp, VerifyMode::Checksum).unwrap(), Method::Md5);
        // Even when mislabelled as full-object, a `-N` value is composite.
        exp.checksum = Some(StoredChecksum {
            algorithm: ChecksumAlgorithm::Crc32c,
            value: "AAAAAA==-3".to_string(),
            full_object: true,
        });
        assert_eq!(verify_file(&path, &exp, VerifyMode::Checksum).unwrap(), Method::Md5);
        // With an opaque ETag, a composite checksum leaves nothing to compare.
        exp.etag_is_md5 = false;
        let err = content_check(&exp, VerifyMode::Checksum).unwrap_err();
        assert!(
            matches!(&err, Mismatch::Unverifiable(m) if m.contains("composite")),
            "{err}"
        );
    }

    #[test]
    fn size_is_compared_before_anything_is_read() {
        let (_dir, path) = file(FOX);
        // The ETag is not even valid: the size mismatch is reported first.
        let err = verify_file(&path, &expected(FOX.len() + 1, "not an etag"), VerifyMode::Checksum).unwrap_err();
        assert!(
            matches!(err, Mismatch::Size { expected, found } if expected == FOX.len() as u64 + 1 && found == FOX.len() as u64)
        );
    }

    #[cfg(unix)]
    #[test]
    fn size_mode_never_reads_content() {
        use std::os::unix::fs::PermissionsExt as _;
        let (_dir, path) = file(FOX);
        let exp = expected(FOX.len(), "00000000000000000000000000000000");
        assert_eq!(content_check(&exp, VerifyMode::Size).unwrap(), Check::Size);
        // An unreadable file still verifies by size (root reads anything, so this only shows when the
        // tests run unprivileged; the content check above shows it regardless).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        assert_eq!(verify_file(&path, &exp, VerifyMode::Size).unwrap(), Method::Size);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        // The wrong ETag would fail a content check.
        assert!(verify_file(&path, &exp, VerifyMode::Checksum).is_err());
    }

    #[test]
    fn missing_files_and_directories_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = verify_file(&missing, &expected(1, FOX_MD5), VerifyMode::Size).unwrap_err();
        assert!(matches!(&err, Mismatch::Missing { path } if *path == missing), "{err}");
        let err = verify_file(dir.path(), &expected(0, FOX_MD5), VerifyMode::Size).unwrap_err();
        assert!(matches!(err, Mismatch::NotAFile { .. }), "{err}");
    }

    #[test]
    fn unusable_etags_are_unverifiable() {
        for etag in [
            "",
            "abc",
            "9e107d9d372bb6826bd81d3542a419d6-0",
            "9e107d9d372bb6826bd81d3542a419d6-x",
        ] {
            let err = content_check(&expected(10, etag), VerifyMode::Checksum).unwrap_err();
            assert!(matches!(err, Mismatch::Unverifiable(_)), "{etag:?}");
        }
        // Parts of unequal size: the first part's size does not give the part count.
        let mut exp = expected(20 * MIB as usize, "9e107d9d372bb6826bd81d3542a419d6-3");
        exp.part_size = Some(5 * MIB);
        assert!(matches!(
            content_check(&exp, VerifyMode::Checksum),
            Err(Mismatch::Unverifiable(_))
        ));
        // A stored checksum that does not decode is passed over for the ETag.
        let mut exp = expected(10, FOX_MD5);
        exp.checksum = Some(StoredChecksum {
            algorithm: ChecksumAlgorithm::Crc64nvme,
            value: "not base64!".into(),
            full_object: true,
        });
        assert_eq!(
            content_check(&exp, VerifyMode::Checksum).unwrap(),
            Check::Md5(FOX_MD5.into())
        );
    }

    #[test]
    fn method_names() {
        assert_eq!(Method::Size.to_string(), "size");
        assert_eq!(Method::Md5.to_string(), "md5");
        assert_eq!(Method::Checksum(ChecksumAlgorithm::Crc32c).as_str(), "checksum-crc32c");
        assert_eq!(Method::Checksum(ChecksumAlgorithm::Sha1).to_string(), "sha1 checksum");
        assert_eq!(
            Method::MultipartEtag {
                parts: 1,
                part_size: 1536
            }
            .to_string(),
            "multipart ETag (1 part of 1.5 KiB)"
        );
    }
}
