//! Typed S3 XML request bodies (quick-xml + serde). Bodies are parsed here, at the boundary, into
//! values later phases can trust.

use crate::auth::checksum::ChecksumAlgorithm;
use serde::Deserialize;

use crate::s3::error::S3Error;
use crate::s3_error;

/// The body of `CreateBucket`: only the location constraint matters to the gateway.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename = "CreateBucketConfiguration")]
pub struct CreateBucketConfiguration {
    #[serde(rename = "LocationConstraint", default)]
    pub location_constraint: Option<String>,
}

impl CreateBucketConfiguration {
    /// An empty body means "the default region"; anything else must be well-formed XML.
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let text = std::str::from_utf8(body).map_err(|_| {
            s3_error!(
                MalformedXML,
                "The CreateBucketConfiguration body is not UTF-8."
            )
        })?;
        quick_xml::de::from_str(text).map_err(|e| {
            s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema: {e}"
            )
        })
    }
}

/// An object's tag set, as GetObjectTagging answers it.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename = "Tagging")]
pub struct Tagging {
    #[serde(rename = "TagSet", default)]
    pub tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
pub struct TagSet {
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value", default)]
    pub value: String,
}

/// `400 MalformedXML`, saying why.
fn malformed(why: String) -> S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema: {why}"
    )
}

/// Parses a document a client sent: anything that is not UTF-8 or not the schema is
/// `400 MalformedXML`.
pub fn parse_client<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("not UTF-8".into()))?;
    quick_xml::de::from_str(text).map_err(|e| malformed(e.to_string()))
}

/// One part of a `CompleteMultipartUpload` request.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumCRC32", default)]
    pub checksum_crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", default)]
    pub checksum_crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", default)]
    pub checksum_crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", default)]
    pub checksum_sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", default)]
    pub checksum_sha256: Option<String>,
}

impl CompletedPart {
    /// The checksum the request claims for this part, if it names one.
    pub fn claimed_checksum(&self) -> Option<(ChecksumAlgorithm, &str)> {
        [
            (ChecksumAlgorithm::Crc32, &self.checksum_crc32),
            (ChecksumAlgorithm::Crc32c, &self.checksum_crc32c),
            (ChecksumAlgorithm::Crc64Nvme, &self.checksum_crc64nvme),
            (ChecksumAlgorithm::Sha1, &self.checksum_sha1),
            (ChecksumAlgorithm::Sha256, &self.checksum_sha256),
        ]
        .into_iter()
        .find_map(|(a, v)| Some((a, v.as_deref()?.trim())))
    }
}

/// The body of `CompleteMultipartUpload`, checked as S3 checks it (parts listed once each, in
/// ascending order) and rendered anew for the backend.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename = "CompleteMultipartUpload")]
pub struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletedPart>,
}

impl CompleteMultipartUpload {
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let complete: CompleteMultipartUpload = parse_client(body)?;
        if complete.parts.is_empty() {
            return Err(malformed(
                "a CompleteMultipartUpload names at least one part".into(),
            ));
        }
        // Ascending; a part listed twice in a row is tolerated, as RGW (Spaces) tolerates it.
        if complete
            .parts
            .windows(2)
            .any(|w| w[0].part_number > w[1].part_number)
        {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. The parts list must be specified in order by part number."
            ));
        }
        Ok(complete)
    }

    /// Whether any part names a checksum.
    pub fn claims_checksums(&self) -> bool {
        self.parts.iter().any(|p| p.claimed_checksum().is_some())
    }

    /// The ETag S3 gives the object these parts make: the MD5 of the parts' binary MD5s, then
    /// `-<parts>` (unquoted; `None` when a part's ETag is not an MD5).
    pub fn multipart_etag(&self) -> Option<String> {
        use md5::Digest as _;
        let mut md5 = md5::Md5::new();
        for p in &self.parts {
            md5.update(hex::decode(p.etag.trim().trim_matches('"')).ok()?);
        }
        Some(format!(
            "{}-{}",
            hex::encode(md5.finalize()),
            self.parts.len()
        ))
    }

    /// The document for the backend: the parts and their ETags. Checksums stay out: the
    /// gateway checked them (see `object_checksum`), and a backend that checks them its own
    /// way (SeaweedFS refuses a list where some parts name one) must not decide otherwise.
    pub fn to_xml(&self) -> String {
        use quick_xml::escape::escape;
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        for p in &self.parts {
            out.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag>",
                p.part_number,
                escape(p.etag.as_str())
            ));
            out.push_str("</Part>");
        }
        out.push_str("</CompleteMultipartUpload>");
        out
    }
}

/// One object of a `DeleteObjects` request.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ObjectIdentifier {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId", default)]
    pub version_id: Option<String>,
}

/// The body of `DeleteObjects`: the gateway authorizes every key it names and sends the backend
/// its own rendering of the keys it allowed, never the client's document.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename = "Delete")]
pub struct DeleteRequest {
    #[serde(rename = "Quiet", default)]
    pub quiet: Option<bool>,
    #[serde(rename = "Object", default)]
    pub objects: Vec<ObjectIdentifier>,
}

/// S3's limit on the keys of one DeleteObjects request.
pub const MAX_DELETE_OBJECTS: usize = 1000;

impl DeleteRequest {
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let request: DeleteRequest = parse_client(body)?;
        if request.objects.is_empty() || request.objects.len() > MAX_DELETE_OBJECTS {
            return Err(malformed(format!(
                "a Delete names 1 to {MAX_DELETE_OBJECTS} objects, this one {}",
                request.objects.len()
            )));
        }
        if request.objects.iter().any(|o| o.key.is_empty()) {
            return Err(malformed("an object has an empty Key".into()));
        }
        Ok(request)
    }

    /// The document for the backend, with only `objects`.
    pub fn to_xml(&self, objects: &[&ObjectIdentifier]) -> String {
        use quick_xml::escape::escape;
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        if self.quiet == Some(true) {
            out.push_str("<Quiet>true</Quiet>");
        }
        for o in objects {
            out.push_str("<Object><Key>");
            out.push_str(&escape_all(&o.key));
            out.push_str("</Key>");
            if let Some(v) = &o.version_id {
                out.push_str("<VersionId>");
                out.push_str(&escape(v.as_str()));
                out.push_str("</VersionId>");
            }
            out.push_str("</Object>");
        }
        out.push_str("</Delete>");
        out
    }
}

/// XML text for any string, whitespace controls included: a parser normalises a literal CR
/// (or CRLF) to LF, so a key the gateway authorized as `k\r` would reach the backend as `k\n`.
fn escape_all(value: &str) -> String {
    quick_xml::escape::escape(value)
        .replace('\r', "&#13;")
        .replace('\n', "&#10;")
        .replace('\t', "&#9;")
}

/// `<Error>` entries of a DeleteResult for objects the gateway refused.
pub fn delete_errors(objects: &[&ObjectIdentifier]) -> String {
    use quick_xml::escape::escape;
    let mut out = String::new();
    for o in objects {
        out.push_str("<Error><Key>");
        out.push_str(&escape(o.key.as_str()));
        out.push_str("</Key>");
        if let Some(v) = &o.version_id {
            out.push_str("<VersionId>");
            out.push_str(&escape(v.as_str()));
            out.push_str("</VersionId>");
        }
        out.push_str("<Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
    }
    out
}

/// The body of `PutBucketVersioning`, validated: `Status` is `Enabled` or `Suspended`,
/// `MfaDelete` is `Enabled` or `Disabled`; anything else is `400 MalformedXML`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename = "VersioningConfiguration")]
pub struct VersioningConfiguration {
    #[serde(rename = "@xmlns", default)]
    _xmlns: Option<String>,
    #[serde(rename = "Status", default)]
    pub status: Option<String>,
    #[serde(rename = "MfaDelete", default)]
    pub mfa_delete: Option<String>,
}

impl VersioningConfiguration {
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let config: VersioningConfiguration = parse_client(body)?;
        match config.status.as_deref() {
            None | Some("Enabled" | "Suspended") => {}
            Some(other) => return Err(malformed(format!("Status {other:?}"))),
        }
        match config.mfa_delete.as_deref() {
            None | Some("Enabled" | "Disabled") => {}
            Some(other) => return Err(malformed(format!("MfaDelete {other:?}"))),
        }
        Ok(config)
    }

    /// The document the backend gets: the validated values only.
    pub fn to_xml(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        // Both values were checked against their closed sets by `parse`.
        if let Some(status) = &self.status {
            out.push_str(&format!("<Status>{status}</Status>"));
        }
        if let Some(mfa) = &self.mfa_delete {
            out.push_str(&format!("<MfaDelete>{mfa}</MfaDelete>"));
        }
        out.push_str("</VersioningConfiguration>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etags_are_the_md5_of_the_parts_md5s() {
        // ceph/s3-tests test_multipart_reupload_checksum_and_etag: three 5 MiB parts of
        // 'A', 'B' and 'C'.
        let c = CompleteMultipartUpload::parse(
            br#"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"b8fc857a25e7958868c2f003d5e0952d"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>ba8c3fac0e224c9b79a8e74bebd54654</ETag></Part><Part><PartNumber>3</PartNumber><ETag>99167c91c1541375b4f9df4b5e051387</ETag></Part></CompleteMultipartUpload>"#,
        )
        .unwrap();
        assert_eq!(
            c.multipart_etag().as_deref(),
            Some("b2add96cc9702bbf4efb0ccdfc6b7747-3")
        );
        assert!(!c.claims_checksums());
    }

    #[test]
    fn delete_requests_are_parsed_and_rendered_anew() {
        let d = DeleteRequest::parse(
            br#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>v1</VersionId></Object></Delete>"#,
        )
        .unwrap();
        assert_eq!(d.objects.len(), 2);
        assert_eq!(d.objects[0].key, "a&b");
        let only_c = [&d.objects[1]];
        assert_eq!(
            d.to_xml(&only_c),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet><Object><Key>c</Key><VersionId>v1</VersionId></Object></Delete>"
        );
        for bad in [
            &b"<Delete></Delete>"[..],
            b"<Delete><Object><Key></Key></Object></Delete>",
            b"<!DOCTYPE d [<!ENTITY k \"victim\">]><Delete><Object><Key>&k;</Key></Object></Delete>",
        ] {
            assert_eq!(
                DeleteRequest::parse(bad).unwrap_err().code().as_str(),
                "MalformedXML",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn complete_documents_are_checked_and_rendered_anew() {
        let c = CompleteMultipartUpload::parse(
            br#"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part><Part><ETag>"b"</ETag><PartNumber>3</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>"#,
        )
        .unwrap();
        assert_eq!(
            c.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part><Part><PartNumber>3</PartNumber><ETag>&quot;b&quot;</ETag></Part></CompleteMultipartUpload>"
        );
        let order = CompleteMultipartUpload::parse(
            br#"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>x</ETag></Part><Part><PartNumber>1</PartNumber><ETag>y</ETag></Part></CompleteMultipartUpload>"#,
        )
        .unwrap_err();
        assert_eq!(order.code().as_str(), "InvalidPartOrder");
        for bad in [
            &b"<CompleteMultipartUpload></CompleteMultipartUpload>"[..],
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>y</ETag></Part></CompleteMultipartUpload>",
        ] {
            assert_eq!(
                CompleteMultipartUpload::parse(bad).unwrap_err().code().as_str(),
                "MalformedXML"
            );
        }
    }

    #[test]
    fn bucket_pages_follow_the_token() {
        let all = |names: &[&str]| -> Vec<ListedBucket> {
            names
                .iter()
                .map(|n| ListedBucket {
                    name: n.to_string(),
                    creation_date: String::new(),
                })
                .collect()
        };
        let names = |bs: &[ListedBucket]| bs.iter().map(|b| b.name.clone()).collect::<Vec<_>>();
        let q = crate::s3::uri::Query::parse("max-buckets=2&prefix=a").unwrap();
        let mut page = BucketPage::from_query(&q).unwrap();
        let first = page.select(all(&["c", "ab", "aa", "ac"]));
        assert_eq!(names(&first), ["aa", "ab"]);
        let token = page.continuation_token.clone().unwrap();
        let q = crate::s3::uri::Query::parse(&format!(
            "max-buckets=2&prefix=a&continuation-token={token}"
        ))
        .unwrap();
        let mut page = BucketPage::from_query(&q).unwrap();
        assert_eq!(names(&page.select(all(&["c", "ab", "aa", "ac"]))), ["ac"]);
        assert_eq!(page.continuation_token, None);
        for bad in ["max-buckets=0", "max-buckets=x", "continuation-token=%%%"] {
            let q = crate::s3::uri::Query::parse(bad);
            if let Ok(q) = q {
                assert!(BucketPage::from_query(&q).is_err(), "{bad}");
            }
        }
    }

    #[test]
    fn versioning_documents_are_validated() {
        let ok = VersioningConfiguration::parse(
            br#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#,
        )
        .unwrap();
        assert_eq!(ok.status.as_deref(), Some("Enabled"));
        for bad in [
            &b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>"[..],
            b"<VersioningConfiguration><MfaDelete>Maybe</MfaDelete></VersioningConfiguration>",
            b"<VersioningConfiguration><Status>Enabled</Status>",
            b"not xml",
        ] {
            let e = VersioningConfiguration::parse(bad).unwrap_err();
            assert_eq!(
                e.code().as_str(),
                "MalformedXML",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn location_constraint_from_the_aws_example() {
        let body = br#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <LocationConstraint>nyc3</LocationConstraint></CreateBucketConfiguration>"#;
        let c = CreateBucketConfiguration::parse(body).unwrap();
        assert_eq!(c.location_constraint.as_deref(), Some("nyc3"));
        assert_eq!(
            CreateBucketConfiguration::parse(b"")
                .unwrap()
                .location_constraint,
            None
        );
    }

    #[test]
    fn garbage_is_malformed_xml() {
        let e = CreateBucketConfiguration::parse(b"<CreateBucketConfiguration><Loc").unwrap_err();
        assert_eq!(e.code(), crate::s3::error::S3ErrorCode::MalformedXML);
    }
}

/// Parses an S3 XML document the backend sent.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, S3Error> {
    let text = std::str::from_utf8(body)
        .map_err(|_| s3_error!(InternalError, "The backend sent XML that is not UTF-8."))?;
    quick_xml::de::from_str(text).map_err(|e| {
        s3_error!(
            InternalError,
            "The backend sent XML the gateway cannot read: {e}"
        )
    })
}

/// One page of a ListObjectsV2 answer (only what the gateway reads).
#[derive(Debug, Default, Deserialize)]
pub struct ListObjectsV2Page {
    #[serde(rename = "Contents", default)]
    pub contents: Vec<ListedObject>,
    #[serde(rename = "IsTruncated", default)]
    pub is_truncated: bool,
    #[serde(rename = "NextContinuationToken", default)]
    pub next_continuation_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListedObject {
    #[serde(rename = "Key")]
    pub key: String,
}

/// One page of a ListParts answer (only what the gateway reads: each part's number and size).
#[derive(Debug, Default, Deserialize)]
pub struct ListPartsPage {
    #[serde(rename = "Part", default)]
    pub parts: Vec<ListedPart>,
    #[serde(rename = "IsTruncated", default)]
    pub is_truncated: bool,
    #[serde(rename = "NextPartNumberMarker", default)]
    pub next_part_number_marker: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListedPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag", default)]
    pub etag: String,
    #[serde(rename = "Size")]
    pub size: u64,
}

/// A ListBuckets answer (`ListAllMyBucketsResult`).
#[derive(Debug, Default, Deserialize)]
pub struct ListAllMyBuckets {
    #[serde(rename = "Buckets", default)]
    pub buckets: BucketList,
}

#[derive(Debug, Default, Deserialize)]
pub struct BucketList {
    #[serde(rename = "Bucket", default)]
    pub bucket: Vec<ListedBucket>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListedBucket {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "CreationDate", default)]
    pub creation_date: String,
}

/// The GetBucketLocation answer: the gateway's region, whatever the backend calls its own.
pub fn location_constraint(region: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}</LocationConstraint>",
        quick_xml::escape::escape(region)
    )
}

/// The ListBuckets answer the gateway writes: the caller's buckets, the caller as owner.
pub fn list_buckets_result(
    owner_id: &str,
    owner_name: &str,
    buckets: &[ListedBucket],
    page: &BucketPage,
) -> String {
    use quick_xml::escape::escape;
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    out.push_str(&format!(
        "<Owner><ID>{}</ID><DisplayName>{}</DisplayName></Owner><Buckets>",
        escape(owner_id),
        escape(owner_name)
    ));
    for b in buckets {
        out.push_str(&format!(
            "<Bucket><Name>{}</Name><CreationDate>{}</CreationDate></Bucket>",
            escape(&b.name),
            escape(&b.creation_date)
        ));
    }
    out.push_str("</Buckets>");
    if let Some(token) = &page.continuation_token {
        out.push_str(&format!(
            "<ContinuationToken>{}</ContinuationToken>",
            escape(token)
        ));
    }
    if let Some(prefix) = &page.prefix {
        out.push_str(&format!("<Prefix>{}</Prefix>", escape(prefix)));
    }
    out.push_str("</ListAllMyBucketsResult>");
    out
}

/// How much of a ListBuckets answer to give: `prefix`, `max-buckets` and `continuation-token`
/// (the name of the last bucket of the previous page, base64-encoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketPage {
    pub prefix: Option<String>,
    pub max_buckets: Option<usize>,
    pub start_after: Option<String>,
    /// The token for the next page, set when there is one.
    pub continuation_token: Option<String>,
}

impl BucketPage {
    /// Reads the page parameters of a ListBuckets query.
    pub fn from_query(query: &crate::s3::uri::Query) -> Result<Self, S3Error> {
        use base64::Engine;
        let max_buckets = match query.get("max-buckets") {
            None => None,
            Some(v) => Some(
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidArgument,
                            "max-buckets must be an integer between 1 and 10000."
                        )
                    })?,
            ),
        };
        let start_after = match query.get("continuation-token") {
            None => None,
            Some(token) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidArgument,
                            "The continuation token provided is incorrect."
                        )
                    })?,
            ),
        };
        Ok(BucketPage {
            prefix: query.get("prefix").map(str::to_owned),
            max_buckets,
            start_after,
            continuation_token: None,
        })
    }

    /// This page of `names` (sorted by name), setting the next page's token.
    pub fn select(&mut self, mut buckets: Vec<ListedBucket>) -> Vec<ListedBucket> {
        use base64::Engine;
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        buckets.retain(|b| {
            self.prefix.as_deref().is_none_or(|p| b.name.starts_with(p))
                && self
                    .start_after
                    .as_deref()
                    .is_none_or(|s| b.name.as_str() > s)
        });
        if let Some(max) = self.max_buckets
            && buckets.len() > max
        {
            buckets.truncate(max);
            self.continuation_token = buckets.last().map(|b| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b.name.as_bytes())
            });
        }
        buckets
    }
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// An `AccessControlPolicy` body, as much as the gateway reads of it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename = "AccessControlPolicy")]
struct AccessControlPolicyDoc {
    #[serde(rename = "AccessControlList", default)]
    list: Option<GrantList>,
}

#[derive(Debug, Default, Deserialize)]
struct GrantList {
    #[serde(rename = "Grant", default)]
    grants: Vec<GrantDoc>,
}

#[derive(Debug, Default, Deserialize)]
struct GrantDoc {
    #[serde(rename = "Grantee")]
    grantee: Option<GranteeDoc>,
    #[serde(rename = "Permission")]
    permission: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct GranteeDoc {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "URI", default)]
    uri: Option<String>,
    #[serde(rename = "EmailAddress", default)]
    email: Option<String>,
}

/// Reads an `AccessControlPolicy` into the canned ACL it spells: the owner's FULL_CONTROL, plus
/// AllUsers READ for public-read. Anything else is a grant the profile does not support.
pub fn parse_access_control_policy(
    body: &[u8],
    owner: &str,
) -> Result<crate::s3::acl::CannedAcl, S3Error> {
    let text = std::str::from_utf8(body)
        .map_err(|_| s3_error!(MalformedACLError, "The ACL document is not UTF-8."))?;
    let doc: AccessControlPolicyDoc = quick_xml::de::from_str(text).map_err(|e| {
        s3_error!(MalformedACLError, "The XML you provided was not well-formed or did not validate against our published schema: {e}")
    })?;
    let grants = doc
        .list
        .ok_or_else(|| {
            s3_error!(
                MalformedACLError,
                "The ACL document has no AccessControlList."
            )
        })?
        .grants;
    let mut public = false;
    for grant in grants {
        let permission = grant.permission.unwrap_or_default();
        let grantee = grant
            .grantee
            .ok_or_else(|| s3_error!(MalformedACLError, "A Grant has no Grantee."))?;
        match (&grantee.id, &grantee.uri, permission.as_str()) {
            (Some(id), None, "FULL_CONTROL") if id == owner => {}
            (None, Some(uri), "READ") if uri == ALL_USERS => public = true,
            _ => {
                let who = grantee
                    .id
                    .or(grantee.uri)
                    .or(grantee.email)
                    .unwrap_or_else(|| "(none)".into());
                return Err(s3_error!(
                    NotImplemented,
                    "The grant of {permission} to {who} is not supported: only the owner's FULL_CONTROL and AllUsers READ (public-read)."
                ));
            }
        }
    }
    Ok(if public {
        crate::s3::acl::CannedAcl::PublicRead
    } else {
        crate::s3::acl::CannedAcl::Private
    })
}

/// The `AccessControlPolicy` document of a canned ACL.
pub fn access_control_policy(
    owner_id: &str,
    owner_name: &str,
    acl: crate::s3::acl::CannedAcl,
) -> String {
    use quick_xml::escape::escape;
    let (id, name) = (escape(owner_id), escape(owner_name));
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Owner><ID>{id}</ID><DisplayName>{name}</DisplayName></Owner><AccessControlList>"
    );
    // The group grant first, as RGW (the engine Spaces runs on) lists it.
    if acl == crate::s3::acl::CannedAcl::PublicRead {
        out.push_str(&format!(
            "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">\
             <URI>{ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant>"
        ));
    }
    out.push_str(&format!(
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">\
         <ID>{id}</ID><DisplayName>{name}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>"
    ));
    out.push_str("</AccessControlList></AccessControlPolicy>");
    out
}

#[cfg(test)]
mod acl_tests {
    use super::*;
    use crate::s3::acl::CannedAcl;

    #[test]
    fn round_trips_both_canned_acls() {
        for acl in [CannedAcl::Private, CannedAcl::PublicRead] {
            let doc = access_control_policy("main", "Main User", acl);
            assert_eq!(
                parse_access_control_policy(doc.as_bytes(), "main").unwrap(),
                acl
            );
        }
    }

    #[test]
    fn other_grants_are_not_implemented_and_garbage_is_malformed() {
        let doc = access_control_policy("main", "Main", CannedAcl::Private)
            .replace("</AccessControlList>", "<Grant><Grantee><ID>alt</ID></Grantee><Permission>WRITE</Permission></Grant></AccessControlList>");
        let e = parse_access_control_policy(doc.as_bytes(), "main").unwrap_err();
        assert_eq!(e.code().as_str(), "NotImplemented");
        assert!(e.message().contains("WRITE") && e.message().contains("alt"));
        assert_eq!(
            parse_access_control_policy(b"<AccessControlPolicy><Acc", "main")
                .unwrap_err()
                .code()
                .as_str(),
            "MalformedACLError"
        );
    }
}
