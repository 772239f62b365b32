//! S3's URI encoding rules, shared by signature verification and re-signing.
//!
//! S3 canonicalises a request by percent-decoding the path and query once and re-encoding every byte
//! except the unreserved set (`A-Z a-z 0-9 - . _ ~`), keeping `/` in paths. There is no dot-segment
//! or slash normalisation: `a//b/../c` is a valid key.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::s3::error::S3Error;
use crate::s3_error;

/// Everything but the RFC 3986 unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// As [`COMPONENT`], but `/` separates path segments and stays literal.
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// Encodes a decoded path (or key) with `/` kept literal.
pub fn encode_path(decoded: &str) -> String {
    utf8_percent_encode(decoded, PATH).to_string()
}

/// Encodes one query name or value.
pub fn encode_component(decoded: &str) -> String {
    utf8_percent_encode(decoded, COMPONENT).to_string()
}

/// Percent-decodes a path or query component; `+` is a literal plus, as S3 reads it.
pub fn decode(raw: &str) -> Result<String, S3Error> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            s3_error!(
                InvalidURI,
                "Couldn't parse the specified URI: it is not valid UTF-8 once decoded."
            )
        })
}

/// The decoded query of a request, in the order the client sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (`a=1&b&c=%20`). A parameter without `=` has an empty value.
    pub fn parse(raw: &str) -> Result<Self, S3Error> {
        let mut pairs = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Query(pairs))
    }

    /// The first value of `name`, if present (names are case-sensitive in S3).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The SigV4 canonical query string: pairs sorted by encoded name then value, each encoded,
    /// joined with `&`; parameters for which `skip` answers true are left out.
    pub fn canonical(&self, skip: impl Fn(&str) -> bool) -> String {
        let mut encoded: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(n, _)| !skip(n))
            .map(|(n, v)| (encode_component(n), encode_component(v)))
            .collect();
        encoded.sort();
        let mut out =
            String::with_capacity(encoded.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
        for (i, (n, v)) in encoded.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(n);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_keeps_slashes_and_unreserved_encodes_the_rest() {
        assert_eq!(encode_path("/b/a b+c~d/ሴ"), "/b/a%20b%2Bc~d/%E1%88%B4");
        assert_eq!(encode_path("/b/a//../c"), "/b/a//../c");
    }

    #[test]
    fn query_is_decoded_once_and_canonicalised_sorted() {
        let q = Query::parse("Param-3=Value3&Param=Value2&%E1%88%B4=Value1&uploads").unwrap();
        assert_eq!(q.get("ሴ"), Some("Value1"));
        assert!(q.has("uploads"));
        assert_eq!(
            q.canonical(|_| false),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3&uploads="
        );
        assert_eq!(
            q.canonical(|n| n == "uploads"),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
    }

    #[test]
    fn plus_is_literal_and_reencoded() {
        let q = Query::parse("prefix=a+b%20c").unwrap();
        assert_eq!(q.get("prefix"), Some("a+b c"));
        assert_eq!(q.canonical(|_| false), "prefix=a%2Bb%20c");
    }

    #[test]
    fn invalid_utf8_is_an_invalid_uri() {
        assert_eq!(
            decode("%FF").unwrap_err().code(),
            crate::s3::error::S3ErrorCode::InvalidURI
        );
    }
}
