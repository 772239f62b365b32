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
