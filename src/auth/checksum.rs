//! Object checksums (`x-amz-checksum-*`): the algorithms S3 defines, computed over body bytes
//! as they stream, and the verifier for whole (non-chunked) bodies that declare one in a header.
//!
//! Like the aws-chunked decoder, the verifier keeps the tail of the body (here, the last piece
//! read) until the checksum has matched, so a mismatch never completes an object upstream.

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::s3::error::S3Error;
use crate::s3_error;

/// The trailing checksums S3 defines (`x-amz-trailer: x-amz-checksum-<alg>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// From the header name that carries it (`x-amz-checksum-crc32`, ...).
    pub fn from_header(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "x-amz-checksum-crc32" => Self::Crc32,
            "x-amz-checksum-crc32c" => Self::Crc32c,
            "x-amz-checksum-crc64nvme" => Self::Crc64Nvme,
            "x-amz-checksum-sha1" => Self::Sha1,
            "x-amz-checksum-sha256" => Self::Sha256,
            _ => return None,
        })
    }

    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The digest size in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// The algorithm of a name as [`Self::name`] writes it.
    /// The element naming this checksum in S3's XML documents (`ChecksumCRC32`, ...).
    pub fn xml_element(self) -> &'static str {
        match self {
            Self::Crc32 => "ChecksumCRC32",
            Self::Crc32c => "ChecksumCRC32C",
            Self::Crc64Nvme => "ChecksumCRC64NVME",
            Self::Sha1 => "ChecksumSHA1",
            Self::Sha256 => "ChecksumSHA256",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }
}

/// A running checksum over decoded bytes.
#[derive(Clone)]
pub enum Checksum {
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(Sha256),
}

impl Checksum {
    pub fn new(alg: ChecksumAlgorithm) -> Self {
        use crc_fast::CrcAlgorithm::*;
        match alg {
            ChecksumAlgorithm::Crc32 => Checksum::Crc(alg, crc_fast::Digest::new(Crc32IsoHdlc)),
            ChecksumAlgorithm::Crc32c => Checksum::Crc(alg, crc_fast::Digest::new(Crc32Iscsi)),
            ChecksumAlgorithm::Crc64Nvme => Checksum::Crc(alg, crc_fast::Digest::new(Crc64Nvme)),
            ChecksumAlgorithm::Sha1 => Checksum::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Checksum::Sha256(Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Checksum::Crc(_, d) => d.update(data),
            Checksum::Sha1(h) => h.update(data),
            Checksum::Sha256(h) => h.update(data),
        }
    }

    /// The value as S3 transmits it: base64 of the big-endian digest.
    pub fn finish_base64(self) -> String {
        let bytes = match self {
            Checksum::Crc(ChecksumAlgorithm::Crc64Nvme, d) => d.finalize().to_be_bytes().to_vec(),
            Checksum::Crc(_, d) => (d.finalize() as u32).to_be_bytes().to_vec(),
            Checksum::Sha1(h) => h.finalize().to_vec(),
            Checksum::Sha256(h) => h.finalize().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

/// Verifies a whole body against the `x-amz-checksum-<alg>` header it was sent with.
#[derive(Clone)]
pub struct BodyChecksum {
    algorithm: ChecksumAlgorithm,
    checksum: Option<Checksum>,
    expected: String,
    held: Option<Bytes>,
    verified: bool,
}

impl std::fmt::Debug for BodyChecksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyChecksum")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl BodyChecksum {
    /// The verifier a request's headers ask for, if any. More than one checksum header, or a
    /// value that is not base64 of the algorithm's size, is refused as S3 refuses it.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<BodyChecksum>, S3Error> {
        let mut found = headers
            .iter()
            .filter_map(|(n, v)| ChecksumAlgorithm::from_header(n.as_str()).map(|a| (a, v)));
        let Some((algorithm, value)) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        let expected = value.to_str().unwrap_or("").trim().to_owned();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&expected)
            .unwrap_or_default();
        // A value that cannot be the algorithm's digest cannot match the body: S3 answers
        // BadDigest (ceph/s3-tests test_object_checksum_sha256 sends "bad").
        if decoded.len() != algorithm.digest_len() {
            return Err(s3_error!(
                BadDigest,
                "The {} you specified did not match the calculated checksum: {} is not the base64 of a {}-byte digest.",
                algorithm.name(),
                algorithm.header(),
                algorithm.digest_len()
            ));
        }
        Ok(Some(BodyChecksum {
            algorithm,
            checksum: Some(Checksum::new(algorithm)),
            expected,
            held: None,
            verified: false,
        }))
    }

    /// The algorithm and the value the body must match.
    pub fn claimed(&self) -> (ChecksumAlgorithm, &str) {
        (self.algorithm, &self.expected)
    }

    /// The checksum the body matched, once [`Self::finish`] verified it.
    pub fn verified(&self) -> Option<(ChecksumAlgorithm, &str)> {
        self.verified
            .then_some((self.algorithm, self.expected.as_str()))
    }

    /// Takes the next piece of the body and returns what may be forwarded now: the previous
    /// piece. The newest piece waits, so the body's end waits for [`Self::finish`].
    pub fn feed(&mut self, piece: Bytes) -> Bytes {
        if let Some(c) = &mut self.checksum {
            c.update(&piece);
        }
        self.held.replace(piece).unwrap_or_default()
    }

    /// At the end of the body: the held piece if the checksum matches, `BadDigest` if not.
    pub fn finish(&mut self) -> Result<Bytes, S3Error> {
        let computed = self
            .checksum
            .take()
            .map(Checksum::finish_base64)
            .unwrap_or_default();
        if computed != self.expected {
            return Err(s3_error!(
                BadDigest,
                "The {} you specified did not match the calculated checksum.",
                self.algorithm.name()
            ));
        }
        self.verified = true;
        Ok(self.held.take().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(name: &'static str, value: &str) -> Result<Option<BodyChecksum>, S3Error> {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        BodyChecksum::from_headers(&h)
    }

    #[test]
    fn the_last_piece_waits_for_the_checksum() {
        let mut v = verifier("x-amz-checksum-crc32", "i9aeUg==")
            .unwrap()
            .unwrap();
        assert_eq!(v.feed(Bytes::from_static(b"Hello ")), Bytes::new());
        assert_eq!(
            v.feed(Bytes::from_static(b"world")),
            Bytes::from_static(b"Hello ")
        );
        assert_eq!(v.finish().unwrap(), Bytes::from_static(b"world"));
    }

    #[test]
    fn a_mismatch_is_bad_digest() {
        let mut v = verifier(
            "x-amz-checksum-sha256",
            "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=",
        )
        .unwrap()
        .unwrap();
        v.feed(Bytes::from_static(b"Hello worle"));
        assert_eq!(v.finish().unwrap_err().code().as_str(), "BadDigest");
    }

    #[test]
    fn malformed_values_and_no_header() {
        assert_eq!(
            verifier("x-amz-checksum-crc32", "not base64")
                .unwrap_err()
                .code()
                .as_str(),
            "BadDigest"
        );
        assert_eq!(
            verifier("x-amz-checksum-crc64nvme", "i9aeUg==")
                .unwrap_err()
                .code()
                .as_str(),
            "BadDigest"
        );
        assert!(
            BodyChecksum::from_headers(&HeaderMap::new())
                .unwrap()
                .is_none()
        );
    }
}
