//! Object tag sets, read from `x-amz-tagging` (`k=v&k2=v2`) or a `Tagging` document, held to
//! S3's rules, and rendered anew for the backend.
//!
//! A bucket policy decides on these tags (`s3:RequestObjectTag/<key>`), so the backend must
//! store exactly them: it never sees the client's spelling, which it would decode its own way
//! (RGW reads `+` as a space and keeps the last of duplicated keys).

use crate::s3::error::S3Error;
use crate::s3::uri::{decode, encode_component};
use crate::s3::xml::{self, Tagging};
use crate::s3_error;

/// The most tags one object may carry (S3).
const MAX_TAGS: usize = 10;
/// The longest tag key and value, in Unicode characters (S3).
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// A validated tag set, in the order the client gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSet(Vec<(String, String)>);

impl TagSet {
    /// Reads `x-amz-tagging`: a URL-encoded query string (`+` is a plus, as S3 reads it); a key
    /// without `=` has an empty value.
    pub fn from_header(raw: &str) -> Result<TagSet, S3Error> {
        let mut tags = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            tags.push((decode(key)?, decode(value)?));
        }
        TagSet::new(tags)
    }

    /// Reads a `Tagging` document (the body of PutObjectTagging): anything off the schema,
    /// a repeated `TagSet` included, is `400 MalformedXML`.
    pub fn from_xml(body: &[u8]) -> Result<TagSet, S3Error> {
        let doc: Tagging = xml::parse_client(body)?;
        TagSet::new(
            doc.tag_set
                .tags
                .into_iter()
                .map(|t| (t.key, t.value))
                .collect(),
        )
    }

    fn new(tags: Vec<(String, String)>) -> Result<TagSet, S3Error> {
        if tags.len() > MAX_TAGS {
            return Err(s3_error!(
                InvalidTag,
                "Object tags cannot be greater than {MAX_TAGS}."
            ));
        }
        for (i, (key, value)) in tags.iter().enumerate() {
            let chars = key.chars().count();
            if chars == 0 || chars > MAX_KEY_CHARS {
                return Err(s3_error!(
                    InvalidTag,
                    "The TagKey you have provided is invalid: it must be 1 to {MAX_KEY_CHARS} characters."
                ));
            }
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(s3_error!(
                    InvalidTag,
                    "The TagValue you have provided is invalid: it must be at most {MAX_VALUE_CHARS} characters."
                ));
            }
            if key.chars().chain(value.chars()).any(char::is_control) {
                return Err(s3_error!(
                    InvalidTag,
                    "Tag keys and values may not contain control characters."
                ));
            }
            if tags[..i].iter().any(|(k, _)| k == key) {
                return Err(s3_error!(
                    InvalidTag,
                    "Cannot provide multiple Tags with the same key ({key:?})."
                ));
            }
        }
        Ok(TagSet(tags))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The `x-amz-tagging` value the backend gets: every key and value percent-encoded, so no
    /// backend can read a `+`, `=` or `&` differently.
    pub fn to_header(&self) -> String {
        let mut out = String::new();
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(&encode_component(key));
            out.push('=');
            out.push_str(&encode_component(value));
        }
        out
    }

    /// The `Tagging` document the backend gets for PutObjectTagging.
    pub fn to_xml(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>",
        );
        for (key, value) in &self.0 {
            out.push_str("<Tag><Key>");
            out.push_str(&quick_xml::escape::escape(key.as_str()));
            out.push_str("</Key><Value>");
            out.push_str(&quick_xml::escape::escape(value.as_str()));
            out.push_str("</Value></Tag>");
        }
        out.push_str("</TagSet></Tagging>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(t: &TagSet) -> Vec<(&str, &str)> {
        t.pairs().collect()
    }

    #[test]
    fn headers_decode_as_s3_does_and_render_unambiguously() {
        let t = TagSet::from_header("a%20b=c+d&e&f=%3D%26").unwrap();
        assert_eq!(pairs(&t), [("a b", "c+d"), ("e", ""), ("f", "=&")]);
        assert_eq!(t.to_header(), "a%20b=c%2Bd&e=&f=%3D%26");
        assert_eq!(TagSet::from_header(&t.to_header()).unwrap(), t);
        assert!(TagSet::from_header("").unwrap().is_empty());
    }

    #[test]
    fn documents_parse_and_render_anew() {
        let t = TagSet::from_xml(
            b"<Tagging><TagSet><Tag><Key>k&amp;1</Key><Value>&lt;v&gt;</Value></Tag><Tag><Key>k2</Key></Tag></TagSet></Tagging>",
        )
        .unwrap();
        assert_eq!(pairs(&t), [("k&1", "<v>"), ("k2", "")]);
        assert_eq!(TagSet::from_xml(t.to_xml().as_bytes()).unwrap(), t);
    }

    #[test]
    fn what_s3_refuses_is_refused() {
        let code = |r: Result<TagSet, S3Error>| r.unwrap_err().code().as_str();
        assert_eq!(code(TagSet::from_header("k=1&k=2")), "InvalidTag");
        assert_eq!(code(TagSet::from_header("=v")), "InvalidTag");
        assert_eq!(code(TagSet::from_header("k=%0A")), "InvalidTag");
        assert_eq!(code(TagSet::from_header(&"k".repeat(129))), "InvalidTag");
        assert!(TagSet::from_header(&"ü".repeat(128)).is_ok());
        assert_eq!(
            code(TagSet::from_header(&format!("k={}", "v".repeat(257)))),
            "InvalidTag"
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(code(TagSet::from_header(&eleven.join("&"))), "InvalidTag");
        assert_eq!(code(TagSet::from_header("k=%ff")), "InvalidURI");
        let two_sets = b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet><TagSet><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>";
        assert_eq!(code(TagSet::from_xml(two_sets)), "MalformedXML");
        assert_eq!(
            code(TagSet::from_xml(
                b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>"
            )),
            "InvalidTag"
        );
    }
}
