//! Per-bucket CORS, served by the gateway whatever the backend supports: the configuration
//! (parsed, validated, stored as state), preflight answers, and the headers added to actual
//! cross-origin requests (on success and error answers alike).

use serde::{Deserialize, Serialize};

use crate::s3::error::S3Error;
use crate::s3_error;

/// The most rules a configuration may hold (AWS).
pub const MAX_RULES: usize = 100;
const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
}

/// A bucket's CORS configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfiguration {
    pub rules: Vec<CorsRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "CORSConfiguration")]
struct Doc {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
struct RuleDoc {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "AllowedOrigin", default)]
    origins: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    methods: Vec<String>,
    #[serde(rename = "AllowedHeader", default)]
    headers: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose: Vec<String>,
    #[serde(rename = "MaxAgeSeconds")]
    max_age: Option<String>,
}

fn malformed(why: impl std::fmt::Display) -> S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema: {why}"
    )
}

/// `*` anywhere, at most once: `https://*.example.com`, `*`, `http://localhost:*`.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value.starts_with(prefix)
                && value.ends_with(suffix)
        }
    }
}

impl CorsConfiguration {
    /// Parses and validates a `PutBucketCors` body.
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
        let doc: Doc = quick_xml::de::from_str(text).map_err(malformed)?;
        if doc.rules.is_empty() {
            return Err(malformed("a CORSConfiguration needs at least one CORSRule"));
        }
        if doc.rules.len() > MAX_RULES {
            return Err(s3_error!(
                InvalidRequest,
                "A CORS configuration may hold at most {MAX_RULES} rules."
            ));
        }
        let mut rules = Vec::with_capacity(doc.rules.len());
        for (i, r) in doc.rules.into_iter().enumerate() {
            let name = r.id.clone().unwrap_or_else(|| format!("#{}", i + 1));
            if r.id.as_ref().is_some_and(|id| id.len() > 255) {
                return Err(s3_error!(
                    InvalidRequest,
                    "CORS rule {name}: the ID is longer than 255 characters."
                ));
            }
            if r.origins.is_empty() || r.methods.is_empty() {
                return Err(malformed(format!(
                    "CORS rule {name} needs at least one AllowedOrigin and one AllowedMethod"
                )));
            }
            for m in &r.methods {
                if !METHODS.contains(&m.as_str()) {
                    return Err(s3_error!(
                        InvalidRequest,
                        "Found unsupported HTTP method in CORS config (rule {name}). Unsupported method is {m}"
                    ));
                }
            }
            for o in &r.origins {
                if o.matches('*').count() > 1 {
                    return Err(s3_error!(
                        InvalidRequest,
                        "CORS rule {name}: AllowedOrigin {o:?} can not have more than one wildcard."
                    ));
                }
            }
            for h in &r.headers {
                if h.matches('*').count() > 1 {
                    return Err(s3_error!(
                        InvalidRequest,
                        "CORS rule {name}: AllowedHeader {h:?} can not have more than one wildcard."
                    ));
                }
            }
            let max_age =
                match &r.max_age {
                    None => None,
                    Some(v) => Some(v.trim().parse::<u32>().map_err(|_| {
                        malformed(format!("CORS rule {name}: MaxAgeSeconds {v:?}"))
                    })?),
                };
            rules.push(CorsRule {
                id: r.id,
                allowed_origins: r.origins,
                allowed_methods: r.methods,
                allowed_headers: r
                    .headers
                    .into_iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
                expose_headers: r.expose,
                max_age_seconds: max_age,
            });
        }
        Ok(CorsConfiguration { rules })
    }

    /// The `GetBucketCors` document.
    pub fn to_xml(&self) -> String {
        use quick_xml::escape::escape;
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        for r in &self.rules {
            out.push_str("<CORSRule>");
            if let Some(id) = &r.id {
                out.push_str(&format!("<ID>{}</ID>", escape(id)));
            }
            for (tag, values) in [
                ("AllowedHeader", &r.allowed_headers),
                ("AllowedMethod", &r.allowed_methods),
                ("AllowedOrigin", &r.allowed_origins),
                ("ExposeHeader", &r.expose_headers),
            ] {
                for v in values {
                    out.push_str(&format!("<{tag}>{}</{tag}>", escape(v)));
                }
            }
            if let Some(age) = r.max_age_seconds {
                out.push_str(&format!("<MaxAgeSeconds>{age}</MaxAgeSeconds>"));
            }
            out.push_str("</CORSRule>");
        }
        out.push_str("</CORSConfiguration>");
        out
    }

    /// The first rule allowing `origin`, `method` and every requested header.
    pub fn matching(
        &self,
        origin: &str,
        method: &str,
        request_headers: &[String],
    ) -> Option<&CorsRule> {
        self.rules.iter().find(|r| {
            r.allowed_origins.iter().any(|o| wildcard_match(o, origin))
                && r.allowed_methods.iter().any(|m| m == method)
                && request_headers.iter().all(|h| {
                    r.allowed_headers
                        .iter()
                        .any(|a| wildcard_match(a, &h.to_ascii_lowercase()))
                })
        })
    }
}

/// The `Vary` every CORS-aware answer carries.
pub const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// Headers answering a preflight that `rule` allowed: those of an actual answer, plus the
/// request headers it may send.
pub fn preflight_headers(
    rule: &CorsRule,
    origin: &str,
    request_headers: &[String],
) -> Vec<(http::HeaderName, String)> {
    let mut out = response_headers(rule, origin);
    if !request_headers.is_empty() {
        out.push((
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            request_headers.join(", "),
        ));
    }
    out
}

/// Headers added to an actual cross-origin request's answer that `rule` allowed.
pub fn response_headers(rule: &CorsRule, origin: &str) -> Vec<(http::HeaderName, String)> {
    use http::header::*;
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    let mut out = vec![
        (
            ACCESS_CONTROL_ALLOW_ORIGIN,
            if any_origin {
                "*".to_owned()
            } else {
                origin.to_owned()
            },
        ),
        (
            ACCESS_CONTROL_ALLOW_METHODS,
            rule.allowed_methods.join(", "),
        ),
        (VARY, self::VARY.to_owned()),
    ];
    if !rule.expose_headers.is_empty() {
        out.push((
            ACCESS_CONTROL_EXPOSE_HEADERS,
            rule.expose_headers.join(", "),
        ));
    }
    if let Some(age) = rule.max_age_seconds {
        out.push((ACCESS_CONTROL_MAX_AGE, age.to_string()));
    }
    if !any_origin {
        out.push((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true".to_owned()));
    }
    out
}

/// `Access-Control-Request-Headers`, split and trimmed.
pub fn requested_headers(value: Option<&str>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<CORSConfiguration>
        <CORSRule><ID>app</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>
          <AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>content-type</AllowedHeader>
          <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>
        <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
      </CORSConfiguration>"#;

    #[test]
    fn the_first_matching_rule_wins() {
        let c = CorsConfiguration::parse(DOC.as_bytes()).unwrap();
        let h = requested_headers(Some("X-Amz-Date, Content-Type"));
        assert_eq!(
            c.matching("https://app.example.com", "PUT", &h)
                .and_then(|r| r.id.as_deref()),
            Some("app")
        );
        assert_eq!(
            c.matching("https://other.org", "GET", &[])
                .map(|r| r.allowed_origins[0].as_str()),
            Some("*")
        );
        assert!(
            c.matching("https://other.org", "PUT", &[]).is_none(),
            "wrong method"
        );
        assert!(
            c.matching(
                "https://app.example.com",
                "PUT",
                &requested_headers(Some("authorization"))
            )
            .is_none(),
            "header"
        );
        assert!(
            c.matching("http://app.example.com", "PUT", &[]).is_none(),
            "scheme is part of the origin"
        );
    }

    #[test]
    fn preflight_answers_echo_origin_or_star() {
        let c = CorsConfiguration::parse(DOC.as_bytes()).unwrap();
        let h = requested_headers(Some("x-amz-date"));
        let rule = c.matching("https://a.example.com", "PUT", &h).unwrap();
        let headers = preflight_headers(rule, "https://a.example.com", &h);
        let get = |n: http::HeaderName| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get(http::header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("https://a.example.com")
        );
        assert_eq!(
            get(http::header::ACCESS_CONTROL_ALLOW_METHODS),
            Some("GET, PUT")
        );
        assert_eq!(
            get(http::header::ACCESS_CONTROL_ALLOW_HEADERS),
            Some("x-amz-date")
        );
        assert_eq!(get(http::header::ACCESS_CONTROL_MAX_AGE), Some("3000"));
        assert_eq!(
            get(http::header::ACCESS_CONTROL_EXPOSE_HEADERS),
            Some("ETag")
        );
        let star = c.matching("https://x.org", "GET", &[]).unwrap();
        let headers = preflight_headers(star, "https://x.org", &[]);
        assert!(headers.contains(&(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".into())));
        let round = CorsConfiguration::parse(c.to_xml().as_bytes()).unwrap();
        assert_eq!(round, c);
    }

    #[test]
    fn invalid_configurations_name_the_problem() {
        let code = |doc: &str| {
            CorsConfiguration::parse(doc.as_bytes()).map_or_else(
                |e| (e.code().as_str().to_owned(), e.message().to_owned()),
                |_| ("ok".into(), String::new()),
            )
        };
        let (c, m) = code(
            "<CORSConfiguration><CORSRule><ID>r1</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>",
        );
        assert_eq!(c, "InvalidRequest");
        assert!(m.contains("PATCH") && m.contains("r1"), "{m}");
        let (c, _) = code(
            "<CORSConfiguration><CORSRule><AllowedOrigin>*.*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
        );
        assert_eq!(c, "InvalidRequest");
        assert_eq!(code("<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>").0, "MalformedXML");
        assert_eq!(
            code("<CORSConfiguration></CORSConfiguration>").0,
            "MalformedXML"
        );
        let many = format!("<CORSConfiguration>{}</CORSConfiguration>", "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>".repeat(101));
        assert_eq!(code(&many).0, "InvalidRequest");
    }
}
