//! Backend quirks, corrected in one place: each function names the S3 rule it restores and the
//! backends that break it, so a second backend's differences are added beside the first's.

use crate::s3::object_checksum::ObjectChecksum;
use bytes::Bytes;

use crate::s3::copy_source::CopySource;
use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3_error;
use crate::upstream::backends::Capabilities;

/// The `x-amz-copy-source` value the backend gets for the source the gateway authorized.
///
/// S3 rule: the header is the URL-encoded `/bucket/key`, decoded once. RGW 16 decodes the copy
/// source of UploadPartCopy twice (`RGWPutObj_ObjStore_S3::get_params`, then
/// `parse_copy_location`, which splits `?versionId=` in between): a `%` encoded once reaches the
/// second decoding bare (an invalid escape there aborts the radosgw process), and an encoded
/// `?` in a key becomes a version selector. Encoding the whole canonical value once more lands
/// both decodings on exactly the key and version the gateway authorized.
pub fn copy_source_header(caps: &Capabilities, op: S3Op, source: &CopySource) -> String {
    let header = source.to_header();
    match op {
        S3Op::UploadPartCopy if caps.copies.part_source_encoded_twice => header.replace('%', "%25"),
        _ => header,
    }
}

/// The header names under which the backend reads a copy's source pin (`If-Match` on the
/// source), for the value the gateway decided.
///
/// S3 rule: `x-amz-copy-source-if-match`. RGW 16's CopyObject reads it as
/// `x-amz-copy-if-match` instead (and ignores the S3 name); its UploadPartCopy reads neither.
pub fn copy_source_pin_headers(caps: &Capabilities, op: S3Op) -> Vec<&str> {
    let mut names = vec!["x-amz-copy-source-if-match"];
    if op == S3Op::CopyObject {
        names.extend(caps.copies.source_pin_aliases.iter().map(String::as_str));
    }
    names
}

/// Whether the gateway must carry out a copy itself (read the source, stream it into the
/// destination) because the backend would carry it out wrongly. `sse_c`: the source or the
/// destination is SSE-C encrypted; `pinned`: the copy must read exactly the source version
/// the gateway decided on.
///
/// S3 rules: a copy from an SSE-C object works with the `x-amz-copy-source-server-side-
/// encryption-customer-*` key, and one to an SSE-C object answers its SSE-C headers (RGW 16:
/// CopyObject from an SSE-C source is `501`, one to an SSE-C destination answers no SSE-C
/// headers, UploadPartCopy checks the source against the destination's key); a copy with a
/// source precondition copies that version or nothing (RGW 16's UploadPartCopy honours no
/// source precondition, so a public source replaced after the gateway's decision would be
/// copied).
pub fn copies_itself(caps: &Capabilities, op: S3Op, sse_c: bool, pinned: bool) -> bool {
    (sse_c && caps.copies.sse_c_by_gateway)
        || (op == S3Op::UploadPartCopy && pinned && caps.copies.pinned_part_by_gateway)
}

/// The conditional-write headers (`If-Match`, `If-None-Match`) the backend gets for a write, as
/// `(name, value)` pairs, or `501 NotImplemented` when the backend would ignore them.
///
/// S3 rules: PutObject and CompleteMultipartUpload write only if `If-None-Match: *` finds no
/// object, or `If-Match` names the current ETag (quoted, as ETags are); DeleteObject deletes
/// only if `If-Match` does; `If-None-Match` takes nothing but `*`. A condition the backend
/// ignores would turn "write only if" into "write anyway", the one answer that must never
/// happen (two lockers would both win), so it is refused instead. RGW 16 honours both on
/// PutObject but compares `If-Match` with the ETag unquoted (so a quoted one never matches),
/// and ignores both on CompleteMultipartUpload and DeleteObject.
pub fn conditional_write_headers(
    caps: &Capabilities,
    op: S3Op,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<Vec<(&'static str, String)>, S3Error> {
    if let Some(v) = if_none_match
        && v.trim() != "*"
    {
        return Err(s3_error!(
            NotImplemented,
            "If-None-Match on a write takes only '*' (write only if no object exists)."
        ));
    }
    if op == S3Op::DeleteObject && if_none_match.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "DeleteObject takes If-Match only."
        ));
    }
    if if_match.is_none() && if_none_match.is_none() {
        return Ok(Vec::new());
    }
    let honoured = match op {
        S3Op::PutObject => caps.conditional_writes.put_object,
        S3Op::CompleteMultipartUpload => caps.conditional_writes.complete_multipart_upload,
        S3Op::DeleteObject => caps.conditional_writes.delete_object,
        _ => false,
    };
    if !honoured {
        return Err(s3_error!(
            NotImplemented,
            "Conditional {} (If-Match / If-None-Match) is not supported with the {} storage backend.",
            op.name(),
            caps.name
        ));
    }
    let mut out = Vec::new();
    if let Some(v) = if_match {
        let v = v.trim();
        let v = match caps.conditional_writes.if_match_unquoted {
            true => v.trim_matches('"').to_owned(),
            false => v.to_owned(),
        };
        out.push(("if-match", v));
    }
    if if_none_match.is_some() {
        out.push(("if-none-match", "*".to_owned()));
    }
    Ok(out)
}

/// Refuses, by name, an operation that needs a feature the backend's table says it lacks
/// (`[features]` in `backends/<kind>.toml`): `501 NotImplemented` naming the feature and the
/// backend, never the backend's own failure or, worse, a success without the feature.
pub fn check_backend_has(
    caps: &Capabilities,
    op: S3Op,
    headers: &http::HeaderMap,
) -> Result<(), S3Error> {
    use S3Op::*;
    let f = &caps.features;
    let missing = match op {
        PutBucketVersioning | ListObjectVersions if !f.versioning => Some("Bucket versioning"),
        PutObjectTagging | GetObjectTagging | DeleteObjectTagging if !f.tagging => {
            Some("Object tagging")
        }
        PutObject | PostObject | CopyObject | CreateMultipartUpload
            if !f.tagging && headers.contains_key("x-amz-tagging") =>
        {
            Some("Object tagging (x-amz-tagging)")
        }
        PutBucketLifecycleConfiguration
        | GetBucketLifecycleConfiguration
        | DeleteBucketLifecycle
            if !f.lifecycle =>
        {
            Some("Bucket lifecycle")
        }
        ListMultipartUploads if !f.multipart_listing => Some("ListMultipartUploads"),
        _ => None,
    };
    match missing {
        Some(feature) => Err(s3_error!(
            NotImplemented,
            "{feature} is not supported with the {} storage backend.",
            caps.name
        )),
        None => Ok(()),
    }
}

/// Whether the backend tags a completed multipart object with the `x-amz-tagging` its
/// CreateMultipartUpload carried (S3 does; RGW 16 drops it, so the gateway carries the tags in
/// the upload's metadata and tags the object at completion).
pub fn keeps_multipart_tagging(caps: &Capabilities) -> bool {
    caps.features.multipart_tagging
}

/// Whether the backend reads one part of a multipart object (`GetObject ?partNumber=`).
///
/// S3 rule: part N of a multipart object is that part's bytes. RGW 16 ignores the parameter
/// and serves the whole object, a wrong answer the gateway refuses to pass on (it answers
/// `501 NotImplemented` for such reads; part 1 of a single-part object is the object).
pub fn serves_part_numbers(caps: &Capabilities) -> bool {
    caps.serves.part_numbers
}

/// The error code S3 gives where a backend gives another, for an operation's error answer.
///
/// S3 rules: a request naming an upload id that does not exist (never created, aborted or
/// completed) is `404 NoSuchUpload`, and one naming a version that does not exist is
/// `404 NoSuchVersion`; RGW 16 answers `NoSuchKey` for both.
pub fn renamed_error_code(
    op: S3Op,
    status: u16,
    names_version: bool,
) -> Option<(&'static str, &'static str)> {
    match (op, status) {
        (
            S3Op::ListParts
            | S3Op::UploadPart
            | S3Op::UploadPartCopy
            | S3Op::AbortMultipartUpload
            | S3Op::CompleteMultipartUpload,
            404,
        ) => Some(("NoSuchKey", "NoSuchUpload")),
        (S3Op::GetObject | S3Op::GetObjectTagging | S3Op::DeleteObjectTagging, 404)
            if names_version =>
        {
            Some(("NoSuchKey", "NoSuchVersion"))
        }
        _ => None,
    }
}

/// Whether the backend says, on a 404 GET/HEAD, that the key's current version is a delete
/// marker (S3 rule below). When it does not, the gateway asks with a version listing.
pub fn reports_delete_markers(caps: &Capabilities) -> bool {
    caps.serves.delete_marker_headers
}

/// Whether a CompleteMultipartUpload answer left `<ETag>` empty (RGW 16 does), so the gateway
/// must read the object's ETag to fill it in ([`BodyFix::Complete`]).
pub fn complete_lacks_etag(body: &[u8]) -> bool {
    memchr::memmem::find(body, b"<ETag></ETag>").is_some()
}

/// The version id of `key`'s current version when that is a delete marker, read from the
/// first entry of a `ListObjectVersions` answer for `prefix=key&max-keys=1` (a key's versions
/// come first among the keys it prefixes, newest first).
///
/// S3 rule: a GET or HEAD of a key whose current version is a delete marker is a 404 that says
/// so (`x-amz-delete-marker: true`, the marker's `x-amz-version-id`); RGW 16 says neither.
pub fn current_delete_marker(listing: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(listing).ok()?;
    let marker = text.find("<DeleteMarker>")?;
    if text.find("<Version>").is_some_and(|v| v < marker) {
        return None;
    }
    let entry = &text[marker..];
    let entry = &entry[..entry.find("</DeleteMarker>")?];
    let escaped = quick_xml::escape::escape(key);
    (element(entry, "Key") == Some(escaped.as_ref()) && element(entry, "IsLatest") == Some("true"))
        .then(|| element(entry, "VersionId").map(str::to_owned))
        .flatten()
}

/// The ETag of `key` in a ListObjectsV2 answer for `prefix=key&max-keys=1`, if it is listed.
pub fn listed_etag(listing: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(listing).ok()?;
    let entry = &text[text.find("<Contents>")?..];
    let entry = &entry[..entry.find("</Contents>")?];
    let escaped = quick_xml::escape::escape(key);
    (element(entry, "Key") == Some(escaped.as_ref()))
        .then(|| element(entry, "ETag"))
        .flatten()
        .map(|etag| {
            quick_xml::escape::unescape(etag).map_or_else(|_| etag.to_owned(), |e| e.into_owned())
        })
}

/// Backend response headers that name the backend (its software, host or internal counters):
/// the client talks to the gateway, not to it.
pub fn is_backend_header(name: &str) -> bool {
    name.starts_with("x-rgw-") || name == "x-amz-id-2" || name == "server"
}

/// How a backend answer's body must be corrected on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFix {
    /// An S3 error document: `<RequestId>` becomes the gateway's (the one in the
    /// `x-amz-request-id` header), `<HostId>` (the backend's host) is dropped, and a code the
    /// backend got wrong is renamed (`rename`: from, to).
    Error {
        request_id: String,
        rename: Option<(&'static str, &'static str)>,
    },
    /// A CompleteMultipartUpload result: `<Location>` names the object at the gateway, not
    /// at the backend; an empty `<ETag>` (RGW 16 sends one) gets the object's ETag; the
    /// object's checksum (the gateway combines it; backends may not) is added.
    Complete {
        location: String,
        etag: Option<String>,
        checksum: Option<ObjectChecksum>,
    },
    /// A CopyObjectResult or CopyPartResult: S3 quotes the `<ETag>` (RGW 16 does not), and
    /// answers the copy's checksum (the gateway keeps it; backends may not).
    CopyResult { checksum: Option<ObjectChecksum> },
    /// The whole body replaced by the gateway's own (an answer the backend got wrong).
    Replace(Bytes),
    /// A listing. `owner`: its `<Owner>` and `<Initiator>` name the bucket's owner at the
    /// gateway (the backend's service account owns everything there). `url_encode`: the client
    /// asked `op` for `encoding-type=url`, which the gateway does itself over the raw names it
    /// asks the backend for (RGW 16 leaves markers and prefixes raw, which clients then
    /// decode wrongly, and answers ListMultipartUploads without `<EncodingType>`).
    /// `opaque_tokens`: a ListObjectsV2 answer's continuation tokens are the gateway's.
    /// `parts`: a ListParts answer's parts get the checksums the gateway recorded for them.
    Listing {
        owner: Option<(String, String)>,
        url_encode: Option<S3Op>,
        opaque_tokens: bool,
        parts: Vec<crate::s3::object_checksum::PartChecksum>,
    },
}

/// An error document whose `<Message>` is empty or missing (RGW 16 sends `<Message></Message>`)
/// gets the message AWS gives for its code: clients print it, and some (the AWS CLI) fail
/// on an empty one.
fn explain_error(text: String) -> String {
    let Some(code) = element(&text, "Code") else {
        return text;
    };
    match element(&text, "Message") {
        Some(m) if !m.is_empty() => text,
        Some(_) => {
            let message = standard_message(code);
            replace_element(&text, "Message", Some(&message))
        }
        None => {
            let message = standard_message(code);
            let at = text
                .find("</Code>")
                .map_or(text.len(), |i| i + "</Code>".len());
            let mut out = text;
            out.insert_str(at, &format!("<Message>{message}</Message>"));
            out
        }
    }
}

/// The message AWS's error reference gives for a code a backend may answer, as XML text.
fn standard_message(code: &str) -> std::borrow::Cow<'static, str> {
    let message = match code {
        "AccessDenied" => "Access Denied",
        "BucketAlreadyExists" => {
            "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
        }
        "BucketAlreadyOwnedByYou" => {
            "The bucket you tried to create already exists, and you own it."
        }
        "BucketNotEmpty" => "The bucket you tried to delete is not empty.",
        "EntityTooSmall" => "Your proposed upload is smaller than the minimum allowed object size.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed object size.",
        "InternalError" => "We encountered an internal error. Please try again.",
        "InvalidArgument" => "Invalid Argument",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "InvalidDigest" => "The Content-MD5 you specified is not valid.",
        "BadDigest" => "The Content-MD5 you specified did not match what we received.",
        "InvalidPart" => {
            "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."
        }
        "InvalidPartOrder" => {
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        }
        "InvalidRange" => "The requested range is not satisfiable",
        "InvalidRequest" => "Invalid Request",
        "InvalidTag" => "The tag provided was not a valid tag.",
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema."
        }
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchLifecycleConfiguration" => "The lifecycle configuration does not exist",
        "NoSuchTagSet" => "The TagSet does not exist",
        "NoSuchUpload" => {
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        }
        "NoSuchVersion" => "The specified version does not exist.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented.",
        "PreconditionFailed" => "At least one of the preconditions you specified did not hold.",
        "ServiceUnavailable" => "Please reduce your request rate.",
        "SlowDown" => "Please reduce your request rate.",
        "InvalidObjectState" => "The operation is not valid for the object's storage class.",
        "TooManyBuckets" => "You have attempted to create more buckets than allowed.",
        other => {
            // `other` is XML text already, as read from the document.
            return format!("The storage backend answered {other}.").into();
        }
    };
    message.into()
}

/// A ListParts answer with each part's recorded checksum (the record of its number and ETag)
/// and the upload's `<ChecksumAlgorithm>`.
fn list_part_checksums(text: &str, parts: &[crate::s3::object_checksum::PartChecksum]) -> String {
    let mut algorithm = None;
    let text = map_all_elements(text, "Part", |inner| {
        let number = element(inner, "PartNumber").and_then(|n| n.trim().parse::<u32>().ok());
        let etag = element(inner, "ETag")
            .and_then(|e| quick_xml::escape::unescape(e).ok())
            .map(|e| e.trim().trim_matches('"').to_owned());
        let record = parts
            .iter()
            .find(|p| Some(p.part) == number && etag.as_deref() == Some(p.etag.as_str()));
        match record {
            Some(p) if !inner.contains(&format!("<{}>", p.algorithm.xml_element())) => {
                algorithm = Some(p.algorithm);
                let name = p.algorithm.xml_element();
                format!(
                    "{inner}<{name}>{}</{name}>",
                    quick_xml::escape::escape(p.value.as_str())
                )
            }
            _ => inner.to_owned(),
        }
    });
    match (algorithm, text.rfind("</")) {
        (Some(a), Some(end)) if !text.contains("<ChecksumAlgorithm>") => {
            let mut text = text;
            text.insert_str(
                end,
                &format!("<ChecksumAlgorithm>{}</ChecksumAlgorithm>", a.name()),
            );
            text
        }
        _ => text,
    }
}

/// The `<Code>` of an S3 error document.
pub fn error_code(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    text.contains("<Error>").then(|| element(text, "Code"))?
}

/// An object's checksum as S3 answers it in a result document.
pub fn checksum_elements(c: &ObjectChecksum) -> String {
    let name = c.algorithm.xml_element();
    format!(
        "<{name}>{}</{name}><ChecksumType>{}</ChecksumType>",
        quick_xml::escape::escape(c.value.as_str()),
        c.kind.name()
    )
}

/// The document with its `<ETag>` quoted as S3 quotes it (an empty one stays empty).
fn quote_etag(text: &str) -> String {
    match element(text, "ETag") {
        // Quoted in any XML spelling (`&quot;`, `&#34;` from Go's encoder, a bare `"`).
        Some(etag)
            if !etag.is_empty()
                && !quick_xml::escape::unescape(etag).is_ok_and(|e| e.starts_with('"')) =>
        {
            replace_element(text, "ETag", Some(&format!("&quot;{etag}&quot;")))
        }
        _ => text.to_owned(),
    }
}

/// The largest body a fix reads whole; a bigger one passes unchanged.
pub const MAX_FIXED_BODY: usize = 4 * 1024 * 1024;

impl BodyFix {
    /// Applies the fix to a whole body.
    pub fn apply(&self, body: &[u8]) -> Bytes {
        if let BodyFix::Replace(replacement) = self {
            return replacement.clone();
        }
        let Ok(text) = std::str::from_utf8(body) else {
            return Bytes::copy_from_slice(body);
        };
        let fixed =
            match self {
                BodyFix::Error { request_id, rename } => {
                    let text = replace_element(text, "RequestId", Some(request_id));
                    let text = replace_element(&text, "HostId", None);
                    let text = match rename {
                        Some((from, to)) if element(&text, "Code") == Some(from) => {
                            replace_element(&text, "Code", Some(to))
                        }
                        _ => text,
                    };
                    explain_error(text)
                }
                BodyFix::Complete {
                    location,
                    etag,
                    checksum,
                } => {
                    let text = replace_element(
                        text,
                        "Location",
                        Some(&quick_xml::escape::escape(location.as_str())),
                    );
                    let text = match etag {
                        Some(etag) if text.contains("<ETag></ETag>") => replace_element(
                            &text,
                            "ETag",
                            Some(&quick_xml::escape::escape(etag.as_str())),
                        ),
                        _ => text,
                    };
                    // A retried completion gets the ETag from RGW 16, unquoted.
                    let mut text = quote_etag(&text);
                    if let Some(c) = checksum
                        && let Some(end) = text.rfind("</CompleteMultipartUploadResult>")
                    {
                        text.insert_str(end, &checksum_elements(c));
                    }
                    text
                }
                BodyFix::CopyResult { checksum } => {
                    let mut text = quote_etag(text);
                    if let Some(c) = checksum
                        && let Some(end) = text.rfind("</")
                    {
                        text.insert_str(end, &checksum_elements(c));
                    }
                    text
                }
                BodyFix::Replace(replacement) => return replacement.clone(),
                BodyFix::Listing {
                    owner,
                    url_encode,
                    opaque_tokens,
                    parts,
                } => {
                    let mut text = text.to_owned();
                    if !parts.is_empty() {
                        text = list_part_checksums(&text, parts);
                    }
                    if *opaque_tokens {
                        for tag in ["NextContinuationToken", "ContinuationToken"] {
                            text = map_all_elements(&text, tag, |inner| {
                                match quick_xml::escape::unescape(inner) {
                                    Ok(raw) => {
                                        crate::upstream::plan::client_continuation_token(&raw)
                                    }
                                    Err(_) => inner.to_owned(),
                                }
                            });
                        }
                    }
                    if let Some((id, display_name)) = owner {
                        let inner = format!(
                            "<ID>{}</ID><DisplayName>{}</DisplayName>",
                            quick_xml::escape::escape(id.as_str()),
                            quick_xml::escape::escape(display_name.as_str())
                        );
                        for tag in ["Owner", "Initiator"] {
                            text = map_all_elements(&text, tag, |_| inner.clone());
                        }
                        // Entries the backend answered without an owner (SeaweedFS's v1 listing)
                        // get the one S3 gives them.
                        for (entry, needs) in [
                            ("Contents", &["Owner"][..]),
                            ("Version", &["Owner"][..]),
                            ("DeleteMarker", &["Owner"][..]),
                            ("Upload", &["Initiator", "Owner"][..]),
                        ] {
                            text = map_all_elements(&text, entry, |content| {
                                let mut content = content.to_owned();
                                for tag in needs {
                                    if !content.contains(&format!("<{tag}>")) {
                                        content.push_str(&format!("<{tag}>{inner}</{tag}>"));
                                    }
                                }
                                content
                            });
                        }
                    }
                    if let Some(op) = url_encode {
                        text = url_encode_listing(&text, *op);
                    }
                    text
                }
            };
        Bytes::from(fixed)
    }
}

/// `text` with the content of every `<tag>` element replaced by `content` (XML text).
fn map_all_elements(text: &str, tag: &str, mut content: impl FnMut(&str) -> String) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        let inner = start + open.len();
        let Some(end) = rest[inner..].find(&close).map(|e| inner + e) else {
            break;
        };
        out.push_str(&rest[..inner]);
        out.push_str(&content(&rest[inner..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `text` with the content of its root's child `<tag>` (not one nested deeper) mapped.
fn map_top_level_element(text: &str, tag: &str, content: impl Fn(&str) -> String) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(lt) = text[at..].find('<').map(|i| at + i) {
        let Some(gt) = text[lt..].find('>').map(|i| lt + i) else {
            break;
        };
        let markup = &text[lt..=gt];
        if markup.starts_with("</") {
            depth = depth.saturating_sub(1);
        } else if markup.starts_with("<?") || markup.starts_with("<!") || markup.ends_with("/>") {
        } else if depth == 1 && markup == open {
            let inner = gt + 1;
            let Some(end) = text[inner..].find(&close).map(|e| inner + e) else {
                break;
            };
            return format!(
                "{}{}{}",
                &text[..inner],
                content(&text[inner..end]),
                &text[end..]
            );
        } else {
            depth += 1;
        }
        at = gt + 1;
    }
    text.to_owned()
}

/// The top-level elements S3 URL-encodes under `encoding-type=url` in a listing, besides
/// every `<Key>` and every `<CommonPrefixes>`' `<Prefix>`. These are the ones the AWS SDKs
/// decode (botocore's `decode_list_object*`): ListObjects (v1) leaves its `<Prefix>` as sent.
fn url_encoded_elements(op: S3Op) -> &'static [&'static str] {
    match op {
        S3Op::ListObjects => &["Delimiter", "Marker", "NextMarker"],
        S3Op::ListObjectsV2 => &["Delimiter", "Prefix", "StartAfter"],
        S3Op::ListObjectVersions | S3Op::ListMultipartUploads => {
            &["Delimiter", "KeyMarker", "NextKeyMarker", "Prefix"]
        }
        _ => &[],
    }
}

/// A listing of raw names (`op`'s) with the elements S3 encodes URL-encoded (`/` kept, as
/// in paths) and an `<EncodingType>url</EncodingType>` saying so.
fn url_encode_listing(text: &str, op: S3Op) -> String {
    let encode = |inner: &str| match quick_xml::escape::unescape(inner) {
        Ok(raw) => crate::s3::uri::encode_path(&raw),
        // Not XML text the gateway can read: left as the backend wrote it.
        Err(_) => inner.to_owned(),
    };
    let mut text = map_all_elements(text, "Key", encode);
    text = map_all_elements(&text, "CommonPrefixes", |inner| {
        map_all_elements(inner, "Prefix", encode)
    });
    for tag in url_encoded_elements(op) {
        text = map_top_level_element(&text, tag, encode);
    }
    let mut text = replace_element(&text, "EncodingType", None);
    if let Some(end) = text.rfind("</") {
        text.insert_str(end, "<EncodingType>url</EncodingType>");
    }
    text
}

/// The text of the first `<tag>` element.
fn element<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(&text[start..end])
}

/// `text` with the content of its first `<tag>` element replaced by `content` (already XML
/// text), or the element removed when `content` is `None`.
fn replace_element(text: &str, tag: &str, content: Option<&str>) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let Some(start) = text.find(&open) else {
        return text.to_owned();
    };
    let Some(end) = text[start..].find(&close).map(|e| start + e + close.len()) else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    if let Some(content) = content {
        out.push_str(&open);
        out.push_str(content);
        out.push_str(&close);
    }
    out.push_str(&text[end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::BackendKind;

    fn caps(kind: BackendKind) -> Capabilities {
        Capabilities::of(kind).unwrap()
    }

    #[test]
    fn rgw_part_copies_encode_percent_twice() {
        let source = CopySource::parse("/bkt/50%2541%25real%20x").unwrap();
        assert_eq!(source.key, "50%41%real x");
        assert_eq!(
            copy_source_header(&caps(BackendKind::Rgw), S3Op::UploadPartCopy, &source),
            "/bkt/50%252541%2525real%2520x"
        );
        // A `?` in the key stays part of the key through both decodings; a real version
        // selector stays one.
        let question = CopySource::parse("/bkt/secret.txt%3FversionId=null").unwrap();
        assert_eq!(question.key, "secret.txt?versionId=null");
        assert_eq!(
            copy_source_header(&caps(BackendKind::Rgw), S3Op::UploadPartCopy, &question),
            "/bkt/secret.txt%253FversionId%253Dnull"
        );
        let versioned = CopySource::parse("/bkt/k?versionId=v1").unwrap();
        assert_eq!(
            copy_source_header(&caps(BackendKind::Rgw), S3Op::UploadPartCopy, &versioned),
            "/bkt/k?versionId=v1"
        );
        // CopyObject decodes once on RGW too; other backends follow the rule.
        for (kind, op) in [
            (BackendKind::Rgw, S3Op::CopyObject),
            (BackendKind::Generic, S3Op::UploadPartCopy),
        ] {
            assert_eq!(
                copy_source_header(&caps(kind), op, &source),
                "/bkt/50%2541%25real%20x"
            );
        }
    }

    #[test]
    fn backend_identities_are_replaced_in_error_documents() {
        let rgw = br#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message></Message><BucketName>b</BucketName><RequestId>tx00000e313754498a5ae5b-006b12e404-100e-default</RequestId><HostId>100e-default-default</HostId></Error>"#;
        let fixed = BodyFix::Error {
            request_id: "tx1-bucketgate".into(),
            rename: None,
        }
        .apply(rgw);
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><BucketName>b</BucketName><RequestId>tx1-bucketgate</RequestId></Error>"#
        );
        let bare = br#"<Error><Code>Odd&amp;</Code><RequestId>r</RequestId></Error>"#;
        let fixed = BodyFix::Error {
            request_id: "x".into(),
            rename: None,
        }
        .apply(bare);
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            "<Error><Code>Odd&amp;</Code><Message>The storage backend answered Odd&amp;.</Message><RequestId>x</RequestId></Error>"
        );
        let complete = br#"<CompleteMultipartUploadResult><Location>http://127.0.0.1:7480/b/k</Location><Bucket>b</Bucket><ETag></ETag></CompleteMultipartUploadResult>"#;
        let fixed = BodyFix::Complete {
            checksum: None,
            location: "https://b.nyc3.example.com/a&b".into(),
            etag: Some("\"abc-2\"".into()),
        }
        .apply(complete);
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"<CompleteMultipartUploadResult><Location>https://b.nyc3.example.com/a&amp;b</Location><Bucket>b</Bucket><ETag>&quot;abc-2&quot;</ETag></CompleteMultipartUploadResult>"#
        );
        let retried =
            br#"<CompleteMultipartUploadResult><ETag>abc-2</ETag></CompleteMultipartUploadResult>"#;
        let fixed = BodyFix::Complete {
            checksum: None,
            location: "l".into(),
            etag: None,
        }
        .apply(retried);
        assert!(
            std::str::from_utf8(&fixed)
                .unwrap()
                .contains("<ETag>&quot;abc-2&quot;</ETag>")
        );
        assert!(is_backend_header("x-rgw-object-type") && !is_backend_header("etag"));
        let copy = br#"<CopyObjectResult><LastModified>x</LastModified><ETag>0cc175b9c0f1b6a831c399e269772661</ETag></CopyObjectResult>"#;
        assert_eq!(
            std::str::from_utf8(&BodyFix::CopyResult { checksum: None }.apply(copy)).unwrap(),
            r#"<CopyObjectResult><LastModified>x</LastModified><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag></CopyObjectResult>"#
        );
        let listing = br#"<ListVersionsResult><Name>b</Name><DeleteMarker><Key>a&amp;b</Key><VersionId>m1</VersionId><IsLatest>true</IsLatest></DeleteMarker><Version><Key>a&amp;b</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest></Version></ListVersionsResult>"#;
        assert_eq!(current_delete_marker(listing, "a&b").as_deref(), Some("m1"));
        assert_eq!(current_delete_marker(listing, "a"), None);
        let live = br#"<ListVersionsResult><Version><Key>k</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest></Version><DeleteMarker><Key>k</Key><VersionId>m1</VersionId><IsLatest>false</IsLatest></DeleteMarker></ListVersionsResult>"#;
        assert_eq!(current_delete_marker(live, "k"), None);
        let listing = br#"<ListBucketResult><Contents><Key>a</Key><Owner><ID>svc</ID><DisplayName>Backend Service</DisplayName></Owner></Contents><Contents><Key>b</Key><Owner><ID>svc</ID></Owner></Contents><Contents><Key>c</Key></Contents></ListBucketResult>"#;
        let fixed = BodyFix::Listing {
            owner: Some(("main".into(), "Main & Co".into())),
            url_encode: None,
            opaque_tokens: false,
            parts: Vec::new(),
        }
        .apply(listing);
        let fixed = std::str::from_utf8(&fixed).unwrap();
        assert!(
            !fixed.contains("svc") && !fixed.contains("Backend"),
            "{fixed}"
        );
        assert_eq!(
            fixed
                .matches("<ID>main</ID><DisplayName>Main &amp; Co</DisplayName>")
                .count(),
            3
        );
        // SeaweedFS (Go's XML encoder) writes the quotes as &#34;.
        let go = br#"<CompleteMultipartUploadResult><ETag>&#34;abc-2&#34;</ETag></CompleteMultipartUploadResult>"#;
        let fixed = BodyFix::Complete {
            checksum: None,
            location: "l".into(),
            etag: None,
        }
        .apply(go);
        assert!(
            std::str::from_utf8(&fixed)
                .unwrap()
                .contains("<ETag>&#34;abc-2&#34;</ETag>")
        );
        let quoted = br#"<CopyPartResult><ETag>&quot;abc&quot;</ETag></CopyPartResult>"#;
        assert_eq!(
            BodyFix::CopyResult { checksum: None }
                .apply(quoted)
                .as_ref(),
            quoted
        );
    }

    #[test]
    fn listings_are_url_encoded_by_the_gateway() {
        // RGW writes the markers after the entries.
        let raw = r#"<?xml version="1.0"?><ListBucketResult><Name>b</Name><Prefix>a b+c/</Prefix><Delimiter>/</Delimiter><Contents><Key>a b+c/&lt;ü&gt;</Key><Owner><ID>svc</ID></Owner></Contents><CommonPrefixes><Prefix>a b+c/d/</Prefix></CommonPrefixes><Marker>a b+c/&amp;</Marker><NextMarker>a b+c/z z.txt</NextMarker></ListBucketResult>"#;
        let fixed = BodyFix::Listing {
            owner: None,
            url_encode: Some(S3Op::ListObjects),
            opaque_tokens: false,
            parts: Vec::new(),
        }
        .apply(raw.as_bytes());
        // v1 leaves its own <Prefix> as sent (the SDKs do not decode it).
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"<?xml version="1.0"?><ListBucketResult><Name>b</Name><Prefix>a b+c/</Prefix><Delimiter>/</Delimiter><Contents><Key>a%20b%2Bc/%3C%C3%BC%3E</Key><Owner><ID>svc</ID></Owner></Contents><CommonPrefixes><Prefix>a%20b%2Bc/d/</Prefix></CommonPrefixes><Marker>a%20b%2Bc/%26</Marker><NextMarker>a%20b%2Bc/z%20z.txt</NextMarker><EncodingType>url</EncodingType></ListBucketResult>"#
        );
        // One <EncodingType>, whatever the backend said.
        let said = r#"<ListVersionsResult><EncodingType>url</EncodingType><KeyMarker>k k</KeyMarker><Prefix>p p</Prefix><Version><Key>k k</Key></Version></ListVersionsResult>"#;
        let fixed = BodyFix::Listing {
            owner: None,
            url_encode: Some(S3Op::ListObjectVersions),
            opaque_tokens: false,
            parts: Vec::new(),
        }
        .apply(said.as_bytes());
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            "<ListVersionsResult><KeyMarker>k%20k</KeyMarker><Prefix>p%20p</Prefix><Version><Key>k%20k</Key></Version><EncodingType>url</EncodingType></ListVersionsResult>"
        );
    }

    #[test]
    fn listed_parts_get_their_recorded_checksums() {
        use crate::auth::checksum::ChecksumAlgorithm;
        use crate::s3::object_checksum::PartChecksum;
        let record = |part, etag: &str, value: &str| PartChecksum {
            part,
            size: 5,
            etag: etag.into(),
            algorithm: ChecksumAlgorithm::Crc32,
            value: value.into(),
        };
        let body = br#"<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"e2"</ETag></Part></ListPartsResult>"#;
        let fixed = BodyFix::Listing {
            owner: None,
            url_encode: None,
            opaque_tokens: false,
            // Part 2's record is of an earlier upload of it (another ETag): not listed.
            parts: vec![record(1, "e1", "AAAAAA=="), record(2, "old", "BBBBBB==")],
        }
        .apply(body);
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><PartNumber>2</PartNumber><ETag>"e2"</ETag></Part><ChecksumAlgorithm>CRC32</ChecksumAlgorithm></ListPartsResult>"#
        );
    }

    #[test]
    fn conditional_writes_reach_the_backend_in_its_form_or_are_refused() {
        use BackendKind::*;
        let w = |kind, op, m: Option<&str>, n: Option<&str>| {
            conditional_write_headers(&caps(kind), op, m, n)
                .map_err(|e| e.code().as_str().to_owned())
        };
        assert_eq!(w(Rgw, S3Op::PutObject, None, None), Ok(vec![]));
        assert_eq!(
            w(Rgw, S3Op::PutObject, Some("\"abc\""), None),
            Ok(vec![("if-match", "abc".to_owned())])
        );
        assert_eq!(
            w(Generic, S3Op::PutObject, Some("\"abc\""), None),
            Ok(vec![("if-match", "\"abc\"".to_owned())])
        );
        assert_eq!(
            w(Rgw, S3Op::PutObject, None, Some(" * ")),
            Ok(vec![("if-none-match", "*".to_owned())])
        );
        for (op, m, n) in [
            (S3Op::PutObject, None, Some("\"abc\"")),
            (S3Op::CompleteMultipartUpload, None, Some("*")),
            (S3Op::CompleteMultipartUpload, Some("\"abc\""), None),
            (S3Op::DeleteObject, Some("\"abc\""), None),
            (S3Op::DeleteObject, None, Some("*")),
        ] {
            assert_eq!(w(Rgw, op, m, n), Err("NotImplemented".to_owned()), "{op:?}");
        }
        assert!(w(Generic, S3Op::CompleteMultipartUpload, None, Some("*")).is_ok());
    }

    #[test]
    fn the_listed_etag_is_the_keys_own() {
        let listing = br#"<ListBucketResult><Contents><Key>a&amp;b</Key><ETag>&quot;abc-3&quot;</ETag></Contents></ListBucketResult>"#;
        assert_eq!(listed_etag(listing, "a&b").as_deref(), Some("\"abc-3\""));
        // Another key under the same prefix, or nothing listed.
        assert_eq!(listed_etag(listing, "a"), None);
        assert_eq!(listed_etag(b"<ListBucketResult/>", "a"), None);
    }
}
