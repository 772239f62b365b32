//! What stands between a request body and the backend: the aws-chunked decoder, or a checksum
//! verifier for a whole body. Both hold back the body's end until it has verified.

use bytes::{Bytes, BytesMut};

use crate::auth::checksum::BodyChecksum;
use crate::auth::chunked::ChunkedDecoder;
use crate::s3::error::S3Error;
use crate::s3::form::FileExtractor;

/// The verifier of one request body.
pub enum BodyVerifier {
    // Boxed: hashing state dwarfs the form extractor.
    Chunked(Box<ChunkedDecoder>),
    Checksum(Box<BodyChecksum>),
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
            (BodyVerifier::Checksum(c), Some(p)) => c.feed(p),
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
    pub fn verify_whole(mut self, body: Bytes) -> Result<(), S3Error> {
        self.filter(Some(body), true).map(|_| ())
    }

    fn finish(&mut self) -> Result<Bytes, S3Error> {
        match self {
            BodyVerifier::Chunked(d) => d.finish(),
            BodyVerifier::Checksum(c) => c.finish(),
            BodyVerifier::Form(f) => f.finish(),
        }
    }
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
