//! The aws-chunked body decoder: `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` and
//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
//!
//! It runs in `request_body_filter` on the pieces pingora reads, keeps no more than one chunk
//! header line of state, and hands the data on as slices of the input (no copies while a piece
//! stays inside one chunk). Each chunk signature is checked against the previous one (seeded by
//! the request's signature) as soon as its data has passed; trailing checksums are computed over
//! the decoded bytes as they stream.
//!
//! **Abort before commit.** The backend receives the decoded body with an exact `Content-Length`.
//! The decoder holds back the object's final byte until every signature, the trailer and the
//! checksum have verified, so a bad stream is cut short and the backend never completes it.

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};

use crate::auth::checksum::{Checksum, ChecksumAlgorithm};
use crate::auth::sigv4::{hmac_sha256, signature_matches};
use crate::s3::error::S3Error;
use crate::s3_error;

/// The SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// A chunk header or trailer line longer than this is not a real client's.
const MAX_LINE: usize = 4096;
const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// What signing a chunked body continues from: the request's own signature and scope.
#[derive(Clone)]
pub struct ChunkSigning {
    pub signing_key: [u8; 32],
    pub amz_date: String,
    /// `YYYYMMDD/region/s3/aws4_request`
    pub scope: String,
    /// The request's signature (hex): the first chunk's "previous signature".
    pub seed_signature: String,
}

impl std::fmt::Debug for ChunkSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigning")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading `<hex size>[;chunk-signature=<sig>]\r\n`.
    Header,
    /// Inside a chunk's data, `remaining` bytes to go.
    Data,
    /// Expecting the `\r\n` after a chunk's data (`crlf_seen` of 2 consumed).
    DataEnd,
    /// After the zero-size chunk: trailer lines up to an empty line.
    Trailer,
    Done,
}

/// The streaming decoder for one request body.
#[derive(Clone)]
pub struct ChunkedDecoder {
    signing: Option<ChunkSigning>,
    /// The previous signature (hex), for the chain.
    previous: String,
    trailer_expected: Option<ChecksumAlgorithm>,
    /// A checksum given as a header (`x-amz-checksum-*`) rather than a trailer.
    header_expected: Option<(ChecksumAlgorithm, String)>,
    /// The checksum the decoded body matched, once verified.
    verified: Option<(ChecksumAlgorithm, String)>,
    allow_trailer: bool,
    checksum: Option<Checksum>,
    state: State,
    line: Vec<u8>,
    remaining: u64,
    crlf_seen: u8,
    chunk_signature: Option<String>,
    chunk_hash: Option<Sha256>,
    decoded: u64,
    expected: u64,
    trailers: Vec<(String, String)>,
    trailer_bytes: usize,
    held: Option<Bytes>,
}

impl ChunkedDecoder {
    /// `signing` is `None` for `STREAMING-UNSIGNED-PAYLOAD-TRAILER`. `expected` is
    /// `x-amz-decoded-content-length`; `trailer` the checksum named by `x-amz-trailer`.
    pub fn new(
        signing: Option<ChunkSigning>,
        allow_trailer: bool,
        trailer: Option<ChecksumAlgorithm>,
        expected: u64,
    ) -> Self {
        let previous = signing
            .as_ref()
            .map(|s| s.seed_signature.clone())
            .unwrap_or_default();
        let chunk_hash = signing.as_ref().map(|_| Sha256::new());
        ChunkedDecoder {
            signing,
            previous,
            trailer_expected: trailer,
            header_expected: None,
            verified: None,
            allow_trailer,
            checksum: trailer.map(Checksum::new),
            state: State::Header,
            line: Vec::new(),
            remaining: 0,
            crlf_seen: 0,
            chunk_signature: None,
            chunk_hash,
            decoded: 0,
            expected,
            trailers: Vec::new(),
            trailer_bytes: 0,
            held: None,
        }
    }

    /// Also verifies the decoded body against a checksum sent as a header (without one, it
    /// would reach the backend unchecked). Only without a trailer checksum: S3 takes one.
    pub fn with_header_checksum(mut self, algorithm: ChecksumAlgorithm, expected: &str) -> Self {
        if self.trailer_expected.is_none() {
            self.checksum = Some(Checksum::new(algorithm));
            self.header_expected = Some((algorithm, expected.to_owned()));
        }
        self
    }

    /// The algorithm of the checksum the trailer will carry (`x-amz-trailer`).
    pub fn trailer_algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.trailer_expected
    }

    /// The checksum given as a header, known before the body (a trailer's comes after it).
    pub fn header_checksum(&self) -> Option<(ChecksumAlgorithm, &str)> {
        self.header_expected.as_ref().map(|(a, v)| (*a, v.as_str()))
    }

    /// The checksum the decoded body matched (trailer or header), once verified.
    pub fn verified_checksum(&self) -> Option<(ChecksumAlgorithm, &str)> {
        self.verified.as_ref().map(|(a, v)| (*a, v.as_str()))
    }

    /// The decoded body length the backend is told to expect.
    pub fn decoded_length(&self) -> u64 {
        self.expected
    }

    /// Decodes one piece of the wire body; returns the data to forward now (possibly empty).
    pub fn feed(&mut self, input: Bytes) -> Result<Bytes, S3Error> {
        let mut out: Vec<Bytes> = Vec::new();
        let mut pos = 0usize;
        while pos < input.len() {
            match self.state {
                State::Header | State::Trailer => {
                    let Some(nl) = input[pos..].iter().position(|b| *b == b'\n') else {
                        self.push_line(&input[pos..])?;
                        pos = input.len();
                        continue;
                    };
                    self.push_line(&input[pos..pos + nl + 1])?;
                    pos += nl + 1;
                    let line = std::mem::take(&mut self.line);
                    let line = line
                        .strip_suffix(b"\r\n")
                        .ok_or_else(|| malformed("a chunk line must end with CRLF"))?;
                    if self.state == State::Header {
                        self.on_header(line)?;
                    } else {
                        self.on_trailer_line(line)?;
                    }
                }
                State::Data => {
                    let take = (input.len() - pos)
                        .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                    let data = input.slice(pos..pos + take);
                    pos += take;
                    self.remaining -= take as u64;
                    self.decoded += take as u64;
                    if self.decoded > self.expected {
                        return Err(s3_error!(
                            IncompleteBody,
                            "The decoded body is longer than x-amz-decoded-content-length ({}).",
                            self.expected
                        ));
                    }
                    if let Some(h) = &mut self.chunk_hash {
                        h.update(&data);
                    }
                    if let Some(c) = &mut self.checksum {
                        c.update(&data);
                    }
                    out.push(data);
                    if self.remaining == 0 {
                        self.state = State::DataEnd;
                        self.crlf_seen = 0;
                    }
                }
                State::DataEnd => {
                    let want = b"\r\n"[self.crlf_seen as usize];
                    if input[pos] != want {
                        return Err(malformed("chunk data must be followed by CRLF"));
                    }
                    pos += 1;
                    self.crlf_seen += 1;
                    if self.crlf_seen == 2 {
                        self.end_chunk(false)?;
                        self.state = State::Header;
                    }
                }
                State::Done => return Err(malformed("data after the end of the aws-chunked body")),
            }
        }
        Ok(self.hold_back_last_byte(out))
    }

    /// Called at the end of the wire body: everything must have verified. Returns the held-back
    /// final byte, releasing the object to the backend.
    pub fn finish(&mut self) -> Result<Bytes, S3Error> {
        if self.state != State::Done {
            return Err(s3_error!(
                IncompleteBody,
                "The aws-chunked body ended early: {} of {} decoded bytes received.",
                self.decoded,
                self.expected
            ));
        }
        if self.decoded != self.expected {
            return Err(s3_error!(
                IncompleteBody,
                "The decoded body has {} bytes but x-amz-decoded-content-length says {}.",
                self.decoded,
                self.expected
            ));
        }
        if let Some((alg, expected)) = self.header_expected.take() {
            let computed = self
                .checksum
                .take()
                .map(Checksum::finish_base64)
                .unwrap_or_default();
            if computed != expected {
                return Err(s3_error!(
                    BadDigest,
                    "The {} you specified did not match the calculated checksum.",
                    alg.name()
                ));
            }
            self.verified = Some((alg, expected));
        }
        Ok(self.held.take().unwrap_or_default())
    }

    fn push_line(&mut self, part: &[u8]) -> Result<(), S3Error> {
        if self.line.len() + part.len() > MAX_LINE {
            return Err(malformed("a chunk header or trailer line is too long"));
        }
        self.line.extend_from_slice(part);
        Ok(())
    }

    fn on_header(&mut self, line: &[u8]) -> Result<(), S3Error> {
        let text =
            std::str::from_utf8(line).map_err(|_| malformed("a chunk header is not ASCII"))?;
        let (size, ext) = text.split_once(';').unwrap_or((text, ""));
        let size = u64::from_str_radix(size.trim(), 16)
            .map_err(|_| malformed("a chunk size is not hexadecimal"))?;
        self.chunk_signature = match (&self.signing, ext.trim().strip_prefix("chunk-signature=")) {
            (Some(_), Some(sig)) => Some(sig.to_owned()),
            (Some(_), None) => return Err(malformed("a signed chunk has no chunk-signature")),
            (None, _) => None,
        };
        if size > self.expected - self.decoded.min(self.expected) {
            return Err(s3_error!(
                IncompleteBody,
                "A chunk of {size} bytes exceeds x-amz-decoded-content-length ({}).",
                self.expected
            ));
        }
        if size == 0 {
            self.end_chunk(true)?;
            self.state = State::Trailer;
        } else {
            self.remaining = size;
            self.state = State::Data;
        }
        Ok(())
    }

    /// Verifies the chunk just completed against the chain.
    fn end_chunk(&mut self, last: bool) -> Result<(), S3Error> {
        let Some(signing) = &self.signing else {
            return Ok(());
        };
        let data_hash = self
            .chunk_hash
            .replace(Sha256::new())
            .map(|h| hex::encode(h.finalize()));
        let data_hash = if last {
            EMPTY_SHA256.to_owned()
        } else {
            data_hash.unwrap_or_default()
        };
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{data_hash}",
            signing.amz_date, signing.scope, self.previous
        );
        let expected = hmac_sha256(&signing.signing_key, string_to_sign.as_bytes());
        let given = self.chunk_signature.take().unwrap_or_default();
        if !signature_matches(&given, &expected) {
            return Err(s3_error!(
                SignatureDoesNotMatch,
                "The chunk signature of the chunk ending at decoded byte {} does not match.",
                self.decoded
            ));
        }
        self.previous = given;
        Ok(())
    }

    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), S3Error> {
        if !line.is_empty() {
            self.trailer_bytes += line.len();
            if !self.allow_trailer || self.trailer_bytes > MAX_TRAILER_BYTES {
                return Err(malformed("unexpected trailer after the final chunk"));
            }
            let text =
                std::str::from_utf8(line).map_err(|_| malformed("a trailer is not ASCII"))?;
            let (name, value) = text
                .split_once(':')
                .ok_or_else(|| malformed("a trailer is not name:value"))?;
            self.trailers
                .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            return Ok(());
        }
        self.verify_trailers()?;
        self.state = State::Done;
        Ok(())
    }

    fn verify_trailers(&mut self) -> Result<(), S3Error> {
        if let Some(signing) = &self.signing
            && self.allow_trailer
        {
            let mut canonical = String::new();
            let mut signature = None;
            for (name, value) in &self.trailers {
                if name == "x-amz-trailer-signature" {
                    signature = Some(value.as_str());
                } else {
                    canonical.push_str(&format!("{name}:{value}\n"));
                }
            }
            let signature =
                signature.ok_or_else(|| malformed("the trailer has no x-amz-trailer-signature"))?;
            let string_to_sign = format!(
                "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
                signing.amz_date,
                signing.scope,
                self.previous,
                hex::encode(Sha256::digest(canonical.as_bytes()))
            );
            let expected = hmac_sha256(&signing.signing_key, string_to_sign.as_bytes());
            if !signature_matches(signature, &expected) {
                return Err(s3_error!(
                    SignatureDoesNotMatch,
                    "The trailer signature does not match."
                ));
            }
        }
        if let Some(alg) = self.trailer_expected {
            let given = self
                .trailers
                .iter()
                .find(|(n, _)| n == alg.header())
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    s3_error!(
                        InvalidRequest,
                        "x-amz-trailer names {} but the body has no such trailer.",
                        alg.header()
                    )
                })?;
            let computed = self
                .checksum
                .take()
                .map(Checksum::finish_base64)
                .unwrap_or_default();
            if computed != given {
                return Err(s3_error!(
                    BadDigest,
                    "The {} you specified did not match the calculated checksum.",
                    alg.name()
                ));
            }
            self.verified = Some((alg, given));
        }
        Ok(())
    }

    /// Forwards everything but the object's final byte, which waits for [`Self::finish`].
    fn hold_back_last_byte(&mut self, mut out: Vec<Bytes>) -> Bytes {
        if self.decoded == self.expected
            && self.expected > 0
            && self.held.is_none()
            && let Some(last) = out.iter_mut().rev().find(|b| !b.is_empty())
        {
            self.held = Some(last.split_off(last.len() - 1));
        }
        match out.len() {
            0 => Bytes::new(),
            1 => out.pop().unwrap_or_default(),
            _ => {
                let mut joined = BytesMut::with_capacity(out.iter().map(Bytes::len).sum());
                for piece in &out {
                    joined.extend_from_slice(piece);
                }
                joined.freeze()
            }
        }
    }
}

fn malformed(why: &str) -> S3Error {
    s3_error!(IncompleteBody, "The aws-chunked body is malformed: {why}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::credentials::CredentialStore;
    use crate::auth::sigv4::parse_amz_date;

    /// The AWS documentation example "Signature Calculation: Transfer Payload in Multiple Chunks"
    /// (sigv4-streaming): 65 KiB of 'a' in a 64 KiB chunk, a 1 KiB chunk and the final chunk.
    fn doc_signing() -> ChunkSigning {
        let user = crate::auth::credentials::doc_user();
        let time = parse_amz_date("20130524T000000Z").unwrap();
        ChunkSigning {
            signing_key: CredentialStore::signing_key_uncached(&user, time, "us-east-1", "s3"),
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
            seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
                .into(),
        }
    }

    fn doc_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
        body.extend(std::iter::repeat_n(b'a', 65536));
        body.extend_from_slice(b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
        body.extend(std::iter::repeat_n(b'a', 1024));
        body.extend_from_slice(b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
        body
    }

    fn decode_in_pieces(
        mut d: ChunkedDecoder,
        body: &[u8],
        piece: usize,
    ) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        for part in body.chunks(piece) {
            out.extend_from_slice(&d.feed(Bytes::copy_from_slice(part))?);
        }
        out.extend_from_slice(&d.finish()?);
        Ok(out)
    }

    #[test]
    fn aws_doc_example_decodes_in_any_piece_size() {
        for piece in [1, 7, 100, 4096, 65536, 1 << 20] {
            let d = ChunkedDecoder::new(Some(doc_signing()), false, None, 66560);
            let out = decode_in_pieces(d, &doc_body(), piece).unwrap();
            assert_eq!(out.len(), 66560, "piece {piece}");
            assert!(out.iter().all(|b| *b == b'a'));
        }
    }

    #[test]
    fn the_last_byte_waits_for_verification() {
        let mut d = ChunkedDecoder::new(Some(doc_signing()), false, None, 66560);
        let body = doc_body();
        let forwarded = d.feed(Bytes::from(body)).unwrap();
        assert_eq!(forwarded.len(), 66559, "one byte held back");
        assert_eq!(d.finish().unwrap().len(), 1);
    }

    #[test]
    fn a_tampered_chunk_fails_before_the_last_byte() {
        let mut body = doc_body();
        body[200] = b'b';
        let mut d = ChunkedDecoder::new(Some(doc_signing()), false, None, 66560);
        let e = d.feed(Bytes::from(body)).unwrap_err();
        assert_eq!(e.code().as_str(), "SignatureDoesNotMatch");
    }

    #[test]
    fn a_bad_final_signature_withholds_the_last_byte() {
        let mut body = doc_body();
        let n = body.len();
        body[n - 10] = b'0';
        let mut d = ChunkedDecoder::new(Some(doc_signing()), false, None, 66560);
        let e = d.feed(Bytes::from(body)).unwrap_err();
        assert_eq!(e.code().as_str(), "SignatureDoesNotMatch");
    }

    #[test]
    fn truncation_and_length_mismatches_fail() {
        let body = doc_body();
        let d = ChunkedDecoder::new(Some(doc_signing()), false, None, 66560);
        let e = decode_in_pieces(d, &body[..body.len() - 40], 1000).unwrap_err();
        assert_eq!(e.code().as_str(), "IncompleteBody");
        let d = ChunkedDecoder::new(Some(doc_signing()), false, None, 1000);
        assert_eq!(
            decode_in_pieces(d, &body, 1000)
                .unwrap_err()
                .code()
                .as_str(),
            "IncompleteBody"
        );
        let d = ChunkedDecoder::new(Some(doc_signing()), false, None, 70000);
        assert_eq!(
            decode_in_pieces(d, &body, 1000)
                .unwrap_err()
                .code()
                .as_str(),
            "IncompleteBody"
        );
    }

    fn unsigned_trailer_body(data: &[u8], trailer: &str) -> Vec<u8> {
        let mut body = format!("{:x}\r\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n0\r\n{trailer}\r\n\r\n").as_bytes());
        body
    }

    #[test]
    fn unsigned_trailer_with_each_checksum() {
        let data = b"Hello world";
        // Values from the AWS SDKs' checksum test vectors for "Hello world".
        for (alg, value) in [
            (ChecksumAlgorithm::Crc32, "i9aeUg=="),
            (ChecksumAlgorithm::Crc32c, "crUfeA=="),
            (ChecksumAlgorithm::Crc64Nvme, "OOJZ0D8xKts="),
            (ChecksumAlgorithm::Sha1, "e1AsOh9IyGCa4hLN+2Od7jlnP14="),
            (
                ChecksumAlgorithm::Sha256,
                "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=",
            ),
        ] {
            let body = unsigned_trailer_body(data, &format!("{}:{value}", alg.header()));
            let d = ChunkedDecoder::new(None, true, Some(alg), data.len() as u64);
            assert_eq!(decode_in_pieces(d, &body, 3).unwrap(), data, "{alg:?}");
            let bad = unsigned_trailer_body(data, &format!("{}:AAAAAA==", alg.header()));
            let d = ChunkedDecoder::new(None, true, Some(alg), data.len() as u64);
            assert_eq!(
                decode_in_pieces(d, &bad, 3).unwrap_err().code().as_str(),
                "BadDigest",
                "{alg:?}"
            );
        }
    }

    #[test]
    fn garbage_never_panics() {
        for body in [
            &b"zz\r\n"[..],
            b"5\r\nab",
            b"ffffffffffffffffffff\r\n",
            b"\r\n\r\n",
            b"5\nabcde",
            b"0\r\nx-amz-checksum-crc32\r\n\r\n",
        ] {
            let d = ChunkedDecoder::new(None, true, Some(ChecksumAlgorithm::Crc32), 5);
            assert!(
                decode_in_pieces(d, body, 2).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
