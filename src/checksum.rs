//! The checksums S3 stores and validates (CRC32, CRC32C, CRC64-NVME, SHA-1, SHA-256), computed the same
//! way for uploads (`aws::transfer`) and for verifying downloads (`migrate::verify`). No SDK types here:
//! the algorithm is the manifest's [`ChecksumAlgorithm`], the value the raw big-endian bytes S3
//! base64-encodes.

use sha2::Digest as _;

use crate::manifest::types::ChecksumAlgorithm;

/// A running checksum of one of the algorithms S3 validates.
pub enum Hasher {
    Crc(crc_fast::Digest, usize),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match (crc_algorithm(algorithm), algorithm) {
            (Some((crc, width)), _) => Self::Crc(crc_fast::Digest::new(crc), width),
            (None, ChecksumAlgorithm::Sha1) => Self::Sha1(sha1::Sha1::new()),
            (None, _) => Self::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc(digest, _) => digest.update(data),
            Self::Sha1(hasher) => hasher.update(data),
            Self::Sha256(hasher) => hasher.update(data),
        }
    }

    /// The raw checksum, big-endian, as S3 base64-encodes it.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Crc(digest, width) => digest.finalize().to_be_bytes()[8 - width..].to_vec(),
            Self::Sha1(hasher) => hasher.finalize().to_vec(),
            Self::Sha256(hasher) => hasher.finalize().to_vec(),
        }
    }
}

/// The CRC variant and its width in bytes for the CRC algorithms; `None` for the SHA ones.
pub fn crc_algorithm(algorithm: ChecksumAlgorithm) -> Option<(crc_fast::CrcAlgorithm, usize)> {
    match algorithm {
        ChecksumAlgorithm::Crc64nvme => Some((crc_fast::CrcAlgorithm::Crc64Nvme, 8)),
        ChecksumAlgorithm::Crc32c => Some((crc_fast::CrcAlgorithm::Crc32Iscsi, 4)),
        ChecksumAlgorithm::Crc32 => Some((crc_fast::CrcAlgorithm::Crc32IsoHdlc, 4)),
        ChecksumAlgorithm::Sha256 | ChecksumAlgorithm::Sha1 => None,
    }
}

/// The algorithm's name as S3 writes it in headers and listings (`CRC64NVME`, `SHA256`, ...).
pub fn s3_name(algorithm: ChecksumAlgorithm) -> &'static str {
    match algorithm {
        ChecksumAlgorithm::Crc64nvme => "CRC64NVME",
        ChecksumAlgorithm::Crc32c => "CRC32C",
        ChecksumAlgorithm::Crc32 => "CRC32",
        ChecksumAlgorithm::Sha256 => "SHA256",
        ChecksumAlgorithm::Sha1 => "SHA1",
    }
}

/// The algorithm S3 names `name` (any case); `None` for one s3rec does not know.
pub fn from_s3_name(name: &str) -> Option<ChecksumAlgorithm> {
    [
        ChecksumAlgorithm::Crc64nvme,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Sha1,
    ]
    .into_iter()
    .find(|a| s3_name(*a).eq_ignore_ascii_case(name))
}
