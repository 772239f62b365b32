//! What stands between a request body and the backend: the aws-chunked decoder, or a checksum
//! verifier for a whole body. Both hold back the body's end until it has verified.

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::checksum::{BodyChecksum, ChecksumAlgorithm};
use crate::auth::chunked::ChunkedDecoder;
use crate::auth::{PayloadHash, Streaming};
use crate::s3::error::S3Error;
use crate::s3::form::FileExtractor;
use crate::s3_error;

/// The verifier of one request body. `Clone`: a request replayed on a fresh backend
/// connection is verified again from the start.
#[derive(Clone)]
pub enum BodyVerifier {
    // Boxed: hashing state dwarfs the form extractor.
    Chunked(Box<ChunkedDecoder>),
    Whole(Box<WholeBody>),
    /// A browser POST form: only the file part's content goes on.
    Form(FileExtractor),
}

impl BodyVerifier {
    /// Runs one `request_body_filter` step: a piece in (or none), what to forward out. At the
    /// end of the body everything must verify, and the held-back tail is released.
    pub fn filter(
        &mut self,
        piece: Option<Bytes>,
        end_of_stream: bool,
    ) -> Result<Option<Bytes>, S3Error> {
        let mut out = match (&mut *self, piece) {
            (_, None) => Bytes::new(),
            (BodyVerifier::Chunked(d), Some(p)) => d.feed(p)?,
            (BodyVerifier::Whole(w), Some(p)) => w.feed(p),
            (BodyVerifier::Form(f), Some(p)) => f.feed(p)?,
        };
        if end_of_stream {
            let tail = self.finish()?;
            out = join(out, tail);
        }
        // Always `Some`: to pingora a `None` body means the end of the body, while an empty
        // piece means "nothing to forward yet".
        Ok(Some(out))
    }

    /// Verifies a body that has been read whole (and is not forwarded piecewise).
    pub fn verify_whole(&mut self, body: Bytes) -> Result<(), S3Error> {
        self.filter(Some(body), true).map(|_| ())
    }

    /// The checksum the body must match, when it is known before the body (a header's).
    pub fn claimed_checksum(&self) -> Option<(ChecksumAlgorithm, &str)> {
        match self {
            BodyVerifier::Chunked(d) => d.header_checksum(),
            BodyVerifier::Whole(w) => w.claimed(),
            BodyVerifier::Form(_) => None,
        }
    }

    /// The algorithm of a checksum that follows the body (an aws-chunked trailer's).
    pub fn trailer_algorithm(&self) -> Option<ChecksumAlgorithm> {
        match self {
            BodyVerifier::Chunked(d) => d.trailer_algorithm(),
            _ => None,
        }
    }

    /// The checksum (algorithm and base64 value) the body was verified against, once it was.
    pub fn verified_checksum(&self) -> Option<(ChecksumAlgorithm, String)> {
        let (alg, value) = match self {
            BodyVerifier::Chunked(d) => d.verified_checksum()?,
            BodyVerifier::Whole(w) => w.verified()?,
            BodyVerifier::Form(_) => return None,
        };
        Some((alg, value.to_owned()))
    }

    fn finish(&mut self) -> Result<Bytes, S3Error> {
        match self {
            BodyVerifier::Chunked(d) => d.finish(),
            BodyVerifier::Whole(w) => w.finish(),
            BodyVerifier::Form(f) => f.finish(),
        }
    }
}

/// Builds the decoder for an aws-chunked request from its framing headers.
pub fn chunked_decoder(
    headers: &HeaderMap,
    streaming: &Streaming,
) -> Result<ChunkedDecoder, S3Error> {
    let decoded: u64 = headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            s3_error!(
                MissingContentLength,
                "aws-chunked uploads must send x-amz-decoded-content-length."
            )
        })?;
    let trailer = match headers
        .get("x-amz-trailer")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => None,
        Some(_) if !streaming.trailer => {
            return Err(s3_error!(
                InvalidRequest,
                "x-amz-trailer needs a STREAMING-*-TRAILER payload."
            ));
        }
        Some(name) => Some(ChecksumAlgorithm::from_header(name).ok_or_else(|| {
            s3_error!(
                InvalidRequest,
                "The value specified in the x-amz-trailer header is not supported: {name:?}."
            )
        })?),
    };
    let decoder = ChunkedDecoder::new(
        streaming.signing.clone(),
        streaming.trailer,
        trailer,
        decoded,
    );
    Ok(match BodyChecksum::from_headers(headers)? {
        Some(_) if trailer.is_some() => {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header or trailer. Multiple checksum Types are not allowed."
            ));
        }
        Some(header) => {
            let (algorithm, expected) = header.claimed();
            decoder.with_header_checksum(algorithm, expected)
        }
        None => decoder,
    })
}

/// The `Content-MD5` a request declares, decoded (`InvalidDigest` if it is not an MD5).
fn declared_md5(headers: &HeaderMap) -> Result<Option<Vec<u8>>, S3Error> {
    let Some(md5) = headers.get("content-md5") else {
        return Ok(None);
    };
    md5.to_str()
        .ok()
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
        })
        .filter(|d| d.len() == 16)
        .map(Some)
        .ok_or_else(|| {
            s3_error!(
                InvalidDigest,
                "The Content-MD5 you specified is not valid base64 of 16 bytes."
            )
        })
}

fn md5_mismatch() -> S3Error {
    s3_error!(
        BadDigest,
        "The Content-MD5 you specified did not match what we received."
    )
}

fn payload_mismatch() -> S3Error {
    s3_error!(
        XAmzContentSHA256Mismatch,
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )
}

/// The digests a whole (not aws-chunked) body is checked against as it streams: its
/// `x-amz-checksum-*` header's, and, where the backend would not check them, the signed
/// payload hash and `Content-MD5`. The newest piece is held back until all of them match, so
/// a body that does not never completes upstream.
#[derive(Clone)]
pub struct WholeBody {
    checksum: Option<BodyChecksum>,
    payload: Option<(Sha256, String)>,
    md5: Option<(Md5, Vec<u8>)>,
    held: Option<Bytes>,
}

impl WholeBody {
    /// The checks a request's headers call for; `payload_hash`: the signed hash the gateway
    /// checks itself, `check_md5`: whether it checks `Content-MD5` itself.
    pub fn new(
        headers: &HeaderMap,
        payload_hash: Option<&str>,
        check_md5: bool,
    ) -> Result<Option<WholeBody>, S3Error> {
        let checksum = BodyChecksum::from_headers(headers)?;
        let payload = payload_hash.map(|h| (Sha256::new(), h.to_ascii_lowercase()));
        let md5 = match check_md5 {
            true => declared_md5(headers)?.map(|d| (Md5::new(), d)),
            false => None,
        };
        if checksum.is_none() && payload.is_none() && md5.is_none() {
            return Ok(None);
        }
        Ok(Some(WholeBody {
            checksum,
            payload,
            md5,
            held: None,
        }))
    }

    pub fn claimed(&self) -> Option<(ChecksumAlgorithm, &str)> {
        self.checksum.as_ref().map(BodyChecksum::claimed)
    }

    pub fn verified(&self) -> Option<(ChecksumAlgorithm, &str)> {
        self.checksum.as_ref()?.verified()
    }

    fn feed(&mut self, piece: Bytes) -> Bytes {
        if let Some((h, _)) = &mut self.payload {
            h.update(&piece);
        }
        if let Some((h, _)) = &mut self.md5 {
            h.update(&piece);
        }
        match &mut self.checksum {
            Some(c) => c.feed(piece),
            None => self.held.replace(piece).unwrap_or_default(),
        }
    }

    fn finish(&mut self) -> Result<Bytes, S3Error> {
        if let Some((h, expected)) = self.payload.take() {
            let computed = hex::encode(h.finalize());
            if !bool::from(computed.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(payload_mismatch());
            }
        }
        if let Some((h, expected)) = self.md5.take()
            && h.finalize().as_slice() != expected.as_slice()
        {
            return Err(md5_mismatch());
        }
        match &mut self.checksum {
            Some(c) => c.finish(),
            None => Ok(self.held.take().unwrap_or_default()),
        }
    }
}

/// Checks a body the gateway read whole (a control document it acts on) against everything
/// the client declared about it — the signed `x-amz-content-sha256` (a hex hash, or the
/// aws-chunked framing and its chunk signatures), `Content-MD5` and `x-amz-checksum-*` — and
/// returns its content. The gateway never acts on a document the signature does not cover.
pub fn verify_control_body(
    headers: &HeaderMap,
    payload: &PayloadHash,
    body: Bytes,
) -> Result<Bytes, S3Error> {
    let content = match payload {
        PayloadHash::Sha256(expected) => {
            let computed = hex::encode(Sha256::digest(&body));
            if !bool::from(computed.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(payload_mismatch());
            }
            body
        }
        PayloadHash::Streaming(streaming) => {
            let mut decoder = chunked_decoder(headers, streaming)?;
            let head = decoder.feed(body)?;
            let tail = decoder.finish()?;
            join(head, tail)
        }
        PayloadHash::Unsigned => body,
    };
    if let Some(expected) = declared_md5(headers)?
        && Md5::digest(&content).as_slice() != expected.as_slice()
    {
        return Err(md5_mismatch());
    }
    if let Some(whole) = WholeBody::new(headers, None, false)? {
        BodyVerifier::Whole(Box::new(whole)).verify_whole(content.clone())?;
    }
    Ok(content)
}

/// `Content-MD5` of a body: base64 of its MD5.
pub fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

fn join(a: Bytes, b: Bytes) -> Bytes {
    match (a.is_empty(), b.is_empty()) {
        (_, true) => a,
        (true, false) => b,
        (false, false) => {
            let mut joined = BytesMut::with_capacity(a.len() + b.len());
            joined.extend_from_slice(&a);
            joined.extend_from_slice(&b);
            joined.freeze()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_bodies_are_held_until_the_signed_hash_and_md5_match() {
        let body = Bytes::from_static(b"the body that travelled");
        let signed = hex::encode(Sha256::digest(b"the body that was signed"));
        let mut w = WholeBody::new(&HeaderMap::new(), Some(&signed), true)
            .unwrap()
            .unwrap();
        assert!(w.feed(body.clone()).is_empty(), "the last piece waits");
        assert_eq!(
            w.finish().unwrap_err().code().as_str(),
            "XAmzContentSHA256Mismatch"
        );
        let own = hex::encode(Sha256::digest(&body));
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(b"other"));
        let h = header_map(&[("content-md5", &md5)]);
        let mut w = WholeBody::new(&h, Some(&own), true).unwrap().unwrap();
        w.feed(body.clone());
        assert_eq!(w.finish().unwrap_err().code().as_str(), "BadDigest");
        let mut w = WholeBody::new(&HeaderMap::new(), Some(&own), true)
            .unwrap()
            .unwrap();
        assert!(w.feed(body.slice(..5)).is_empty());
        let first = w.feed(body.slice(5..));
        assert_eq!(join(first, w.finish().unwrap()), body);
        // Nothing to check: no verifier.
        assert!(
            WholeBody::new(&HeaderMap::new(), None, true)
                .unwrap()
                .is_none()
        );
    }
    use crate::auth::credentials::header_map;

    const DENY: &[u8] = br#"{"Statement":[{"Effect":"Deny"}]}"#;
    const ALLOW: &[u8] = br#"{"Statement":[{"Effect":"Allow"}]}"#;

    #[test]
    fn a_document_must_be_the_one_that_was_signed() {
        let signed = PayloadHash::Sha256(hex::encode(Sha256::digest(DENY)));
        let h = HeaderMap::new();
        assert_eq!(
            verify_control_body(&h, &signed, Bytes::from_static(DENY)).unwrap(),
            DENY
        );
        let e = verify_control_body(&h, &signed, Bytes::from_static(ALLOW)).unwrap_err();
        assert_eq!(e.code().as_str(), "XAmzContentSHA256Mismatch");
    }

    #[test]
    fn content_md5_and_checksums_are_checked() {
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(DENY));
        let h = header_map(&[("content-md5", &md5)]);
        verify_control_body(&h, &PayloadHash::Unsigned, Bytes::from_static(DENY)).unwrap();
        let e =
            verify_control_body(&h, &PayloadHash::Unsigned, Bytes::from_static(ALLOW)).unwrap_err();
        assert_eq!(e.code().as_str(), "BadDigest");
        let h = header_map(&[("content-md5", "not base64")]);
        let e =
            verify_control_body(&h, &PayloadHash::Unsigned, Bytes::from_static(DENY)).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidDigest");
        let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(DENY));
        let h = header_map(&[("x-amz-checksum-sha256", &sha)]);
        verify_control_body(&h, &PayloadHash::Unsigned, Bytes::from_static(DENY)).unwrap();
        let e =
            verify_control_body(&h, &PayloadHash::Unsigned, Bytes::from_static(ALLOW)).unwrap_err();
        assert_eq!(e.code().as_str(), "BadDigest");
    }

    #[test]
    fn unsigned_aws_chunked_documents_are_decoded() {
        let h = header_map(&[("x-amz-decoded-content-length", "5")]);
        let streaming = PayloadHash::Streaming(Streaming {
            signing: None,
            trailer: true,
        });
        let body = Bytes::from_static(b"5\r\nhello\r\n0\r\n\r\n");
        assert_eq!(verify_control_body(&h, &streaming, body).unwrap(), "hello");
    }
}
