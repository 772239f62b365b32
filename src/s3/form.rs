//! `multipart/form-data` bodies of browser POST uploads, streamed.
//!
//! [`parse_preamble`] reads the form fields that precede the `file` part (the gateway needs them
//! whole to check the policy); [`FileExtractor`] then passes the file's bytes on as they arrive,
//! withholding the last one until the closing boundary shows up exactly where the request's
//! `Content-Length` said it would, so a malformed or truncated form never completes an object.

use bytes::{Bytes, BytesMut};

use crate::s3::error::S3Error;
use crate::s3_error;

/// The form up to the start of the file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preamble {
    /// Fields before the file, names as sent (S3 compares them case-insensitively).
    pub fields: Vec<(String, String)>,
    pub file_name: Option<String>,
    pub file_content_type: Option<String>,
    /// Offset of the file's first byte in the body.
    pub file_offset: usize,
}

impl Preamble {
    /// The first field name that appears more than once (case-insensitively). S3 reads one
    /// value per field; a form that carries two is refused rather than read one way by the
    /// policy check and another way by the upload.
    pub fn duplicate_field(&self) -> Option<&str> {
        self.fields.iter().enumerate().find_map(|(i, (name, _))| {
            self.fields[..i]
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
                .then_some(name.as_str())
        })
    }

    /// The value of a field, by case-insensitive name.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (name, value) = p.trim().split_once('=')?;
        let value = value.trim().trim_matches('"');
        (name.trim().eq_ignore_ascii_case("boundary") && !value.is_empty() && value.len() <= 70)
            .then(|| value.to_owned())
    })
}

fn malformed(why: &str) -> S3Error {
    s3_error!(
        MalformedPOSTRequest,
        "The body of your POST request is not well-formed multipart/form-data: {why}."
    )
}

/// Parses the fields before the `file` part. `Ok(None)`: more bytes are needed.
pub fn parse_preamble(body: &[u8], boundary: &str) -> Result<Option<Preamble>, S3Error> {
    let opening = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let Some(start) = memchr::memmem::find(body, opening.as_bytes()) else {
        return Ok(None);
    };
    let mut pos = start + opening.len();
    let mut fields = Vec::new();
    loop {
        // After a boundary: `--` ends the form, CRLF starts a part.
        let Some(after) = body.get(pos..pos + 2) else {
            return Ok(None);
        };
        if after == b"--" {
            return Err(s3_error!(
                InvalidArgument,
                "POST requires exactly one file upload per request."
            ));
        }
        if after != b"\r\n" {
            return Err(malformed("a boundary must be followed by CRLF"));
        }
        pos += 2;
        let Some(end) = memchr::memmem::find(&body[pos..], b"\r\n\r\n") else {
            return Ok(None);
        };
        let head = std::str::from_utf8(&body[pos..pos + end])
            .map_err(|_| malformed("part headers are not UTF-8"))?;
        pos += end + 4;
        let disposition = head
            .split("\r\n")
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(n, _)| n.trim().eq_ignore_ascii_case("content-disposition"))
            })
            .map(|(_, v)| v.trim())
            .ok_or_else(|| malformed("a part has no Content-Disposition"))?;
        let name = disposition_param(disposition, "name")
            .ok_or_else(|| malformed("a part has no name"))?;
        if name.eq_ignore_ascii_case("file") {
            let file_content_type = head.split("\r\n").find_map(|l| {
                l.split_once(':')
                    .filter(|(n, _)| n.trim().eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.trim().to_owned())
            });
            return Ok(Some(Preamble {
                fields,
                file_name: disposition_param(disposition, "filename"),
                file_content_type,
                file_offset: pos,
            }));
        }
        let Some(len) = memchr::memmem::find(&body[pos..], delimiter.as_bytes()) else {
            return Ok(None);
        };
        let value = std::str::from_utf8(&body[pos..pos + len])
            .map_err(|_| malformed("a field value is not UTF-8"))?;
        fields.push((name, value.to_owned()));
        pos += len + delimiter.len();
    }
}

fn disposition_param(disposition: &str, param: &str) -> Option<String> {
    disposition.split(';').skip(1).find_map(|p| {
        let (n, v) = p.trim().split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Streams the file part's content out of the rest of the body.
#[derive(Debug, Clone)]
pub struct FileExtractor {
    /// Body bytes still to drop before the file starts (the preamble, replayed).
    skip: usize,
    delimiter: Vec<u8>,
    /// The file's length, as implied by `Content-Length` and a standard closing boundary.
    expected: u64,
    forwarded: u64,
    /// Bytes that may still turn out to be the start of the closing boundary.
    tail: BytesMut,
    held: Option<Bytes>,
    done: bool,
}

/// The bytes after the file in a form whose file is the last part: `\r\n--boundary--\r\n`.
pub fn epilogue_len(boundary: &str) -> usize {
    boundary.len() + 8
}

impl FileExtractor {
    pub fn new(preamble: &Preamble, boundary: &str, content_length: u64) -> Result<Self, S3Error> {
        let overhead = (preamble.file_offset + epilogue_len(boundary)) as u64;
        let expected = content_length
            .checked_sub(overhead)
            .ok_or_else(|| malformed("the body is shorter than its own framing"))?;
        Ok(FileExtractor {
            skip: preamble.file_offset,
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            expected,
            forwarded: 0,
            tail: BytesMut::new(),
            held: None,
            done: false,
        })
    }

    /// The file's length: what the backend is told to expect.
    pub fn file_length(&self) -> u64 {
        self.expected
    }

    /// Takes the next piece of the body and returns the file bytes to forward now.
    pub fn feed(&mut self, mut piece: Bytes) -> Result<Bytes, S3Error> {
        if self.skip > 0 {
            let n = self.skip.min(piece.len());
            let _ = piece.split_to(n);
            self.skip -= n;
        }
        if self.done || piece.is_empty() {
            return Ok(Bytes::new());
        }
        self.tail.extend_from_slice(&piece);
        let keep = match memchr::memmem::find(&self.tail, &self.delimiter) {
            Some(at) => {
                self.done = true;
                at
            }
            None => self.tail.len().saturating_sub(self.delimiter.len() - 1),
        };
        let mut out = self.tail.split_to(keep).freeze();
        if self.done {
            self.tail.clear();
        }
        self.forwarded += out.len() as u64;
        if self.forwarded > self.expected {
            return Err(malformed(
                "the file part does not end where Content-Length says it does",
            ));
        }
        if self.forwarded == self.expected && self.held.is_none() && !out.is_empty() {
            self.held = Some(out.split_off(out.len() - 1));
        }
        Ok(out)
    }

    /// At the end of the body: the file must have ended exactly where expected.
    pub fn finish(&mut self) -> Result<Bytes, S3Error> {
        if !self.done || self.forwarded != self.expected {
            return Err(malformed(
                "the file part does not end where Content-Length says it does",
            ));
        }
        Ok(self.held.take().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuser/${filename}\r\n\
        --XyZ\r\nContent-Disposition: form-data; name=\"Content-Type\"\r\n\r\nimage/jpeg\r\n\
        --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\
        FILE CONTENT\r\n--XyZ--\r\n";

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=XyZ").as_deref(),
            Some("XyZ")
        );
        assert_eq!(
            boundary("multipart/form-data; charset=utf-8; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("text/plain; boundary=x"), None);
    }

    #[test]
    fn preamble_fields_and_file_offset() {
        let p = parse_preamble(FORM.as_bytes(), "XyZ").unwrap().unwrap();
        assert_eq!(p.field("KEY"), Some("user/${filename}"));
        assert_eq!(p.field("content-type"), Some("image/jpeg"));
        assert_eq!(p.file_name.as_deref(), Some("a.jpg"));
        assert_eq!(&FORM[p.file_offset..p.file_offset + 12], "FILE CONTENT");
        for cut in 0..p.file_offset {
            assert_eq!(
                parse_preamble(&FORM.as_bytes()[..cut], "XyZ").unwrap(),
                None,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn the_file_streams_out_in_any_split() {
        let p = parse_preamble(FORM.as_bytes(), "XyZ").unwrap().unwrap();
        for size in 1..FORM.len() {
            let mut x = FileExtractor::new(&p, "XyZ", FORM.len() as u64).unwrap();
            assert_eq!(x.file_length(), 12);
            let mut out = Vec::new();
            for piece in FORM.as_bytes().chunks(size) {
                out.extend_from_slice(&x.feed(Bytes::copy_from_slice(piece)).unwrap());
            }
            out.extend_from_slice(&x.finish().unwrap());
            assert_eq!(out, b"FILE CONTENT", "piece size {size}");
        }
    }

    #[test]
    fn a_misplaced_boundary_fails_before_the_last_byte() {
        let body = FORM.replace("FILE CONTENT", "SHORT");
        let p = parse_preamble(body.as_bytes(), "XyZ").unwrap().unwrap();
        // Content-Length claims 7 more bytes than the body has.
        let mut x = FileExtractor::new(&p, "XyZ", body.len() as u64 + 7).unwrap();
        let out = x.feed(Bytes::from(body)).unwrap();
        assert_eq!(out.as_ref(), b"SHORT");
        assert!(x.finish().is_err());
    }

    #[test]
    fn no_file_is_an_error() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XyZ--\r\n";
        assert!(parse_preamble(body.as_bytes(), "XyZ").is_err());
    }
}

/// Form fields that become headers of the stored object, as S3's POST maps them.
pub fn object_headers(
    form: &Preamble,
) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, S3Error> {
    const PASSED: &[&str] = &[
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "expires",
        "x-amz-storage-class",
        "x-amz-website-redirect-location",
        "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-server-side-encryption-customer-key",
        "x-amz-server-side-encryption-customer-key-md5",
    ];
    let mut out = Vec::new();
    let mut push = |name: &str, value: &str| -> Result<(), S3Error> {
        let invalid = || {
            s3_error!(
                InvalidArgument,
                "The form field {name} has a value that cannot be a header."
            )
        };
        out.push((
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?,
            http::HeaderValue::from_str(value).map_err(|_| invalid())?,
        ));
        Ok(())
    };
    // Only the form's own field, which the policy covers: the file part's header is the
    // browser's guess and no policy condition ever sees it (a `text/html` upload could pass a
    // policy written for images).
    let content_type = form.field("content-type").unwrap_or("binary/octet-stream");
    push("content-type", content_type)?;
    if let Some(acl) = form.field("acl") {
        push("x-amz-acl", acl)?;
    }
    for (name, value) in &form.fields {
        let lower = name.to_ascii_lowercase();
        if PASSED.contains(&lower.as_str()) || lower.starts_with("x-amz-meta-") {
            push(&lower, value)?;
        }
    }
    Ok(out)
}

/// How a successful POST answers, from `success_action_redirect` / `success_action_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostSuccess {
    /// 200 or 204, no body.
    Empty(u16),
    /// 201 with a `PostResponse` document.
    Created,
    /// 303 to this URL (bucket, key and etag appended).
    Redirect(String),
}

impl PostSuccess {
    pub fn from_form(form: &Preamble) -> PostSuccess {
        if let Some(url) = form
            .field("success_action_redirect")
            .or_else(|| form.field("redirect"))
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            // A redirect becomes a `Location` header: nothing that could end it.
            .filter(|u| !u.chars().any(|c| c.is_control() || c == ' '))
        {
            return PostSuccess::Redirect(url.to_owned());
        }
        match form.field("success_action_status") {
            Some("200") => PostSuccess::Empty(200),
            Some("201") => PostSuccess::Created,
            _ => PostSuccess::Empty(204),
        }
    }
}

/// The `PostResponse` document of a 201.
pub fn post_response_xml(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    use quick_xml::escape::escape;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket>\
         <Key>{}</Key><ETag>{}</ETag></PostResponse>",
        escape(location),
        escape(bucket),
        escape(key),
        escape(etag)
    )
}
