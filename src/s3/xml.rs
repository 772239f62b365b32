//! Typed S3 XML request bodies (quick-xml + serde). Bodies are parsed here, at the boundary, into
//! values later phases can trust.

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

#[cfg(test)]
mod tests {
    use super::*;

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

/// The ListBuckets answer the gateway writes: the caller's buckets, the caller as owner.
pub fn list_buckets_result(owner_id: &str, owner_name: &str, buckets: &[ListedBucket]) -> String {
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
    out.push_str("</Buckets></ListAllMyBucketsResult>");
    out
}
