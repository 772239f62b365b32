//! Bucket websites, served by the gateway on `<bucket>.<region>-static.<domain>`: the
//! configuration (parsed, validated, stored as state) and the pure decisions of serving — which
//! key a path means, and which routing rule redirects.

use serde::{Deserialize, Serialize};

use crate::s3::error::S3Error;
use crate::s3_error;

/// A redirect target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub protocol: Option<String>,
    pub host_name: Option<String>,
    pub replace_key_prefix_with: Option<String>,
    pub replace_key_with: Option<String>,
    pub http_redirect_code: Option<u16>,
}

/// One routing rule: when its condition holds, redirect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRule {
    pub key_prefix_equals: Option<String>,
    pub http_error_code_returned_equals: Option<u16>,
    pub redirect: Redirect,
}

/// A bucket's website configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebsiteConfiguration {
    /// Every request goes to another host.
    RedirectAll {
        host_name: String,
        protocol: Option<String>,
    },
    Site {
        index_suffix: String,
        error_key: Option<String>,
        routing_rules: Vec<RoutingRule>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename = "WebsiteConfiguration")]
struct Doc {
    #[serde(rename = "IndexDocument")]
    index: Option<IndexDoc>,
    #[serde(rename = "ErrorDocument")]
    error: Option<ErrorDoc>,
    #[serde(rename = "RedirectAllRequestsTo")]
    redirect_all: Option<RedirectAllDoc>,
    #[serde(rename = "RoutingRules")]
    rules: Option<RulesDoc>,
}

#[derive(Debug, Deserialize)]
struct IndexDoc {
    #[serde(rename = "Suffix")]
    suffix: String,
}

#[derive(Debug, Deserialize)]
struct ErrorDoc {
    #[serde(rename = "Key")]
    key: String,
}

#[derive(Debug, Deserialize)]
struct RedirectAllDoc {
    #[serde(rename = "HostName")]
    host_name: String,
    #[serde(rename = "Protocol")]
    protocol: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RulesDoc {
    #[serde(rename = "RoutingRule", default)]
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
struct RuleDoc {
    #[serde(rename = "Condition")]
    condition: Option<ConditionDoc>,
    #[serde(rename = "Redirect")]
    redirect: RedirectDoc,
}

#[derive(Debug, Deserialize)]
struct ConditionDoc {
    #[serde(rename = "KeyPrefixEquals")]
    key_prefix: Option<String>,
    #[serde(rename = "HttpErrorCodeReturnedEquals")]
    error_code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RedirectDoc {
    #[serde(rename = "Protocol")]
    protocol: Option<String>,
    #[serde(rename = "HostName")]
    host_name: Option<String>,
    #[serde(rename = "ReplaceKeyPrefixWith")]
    replace_prefix: Option<String>,
    #[serde(rename = "ReplaceKeyWith")]
    replace_key: Option<String>,
    #[serde(rename = "HttpRedirectCode")]
    code: Option<String>,
}

fn invalid(why: impl std::fmt::Display) -> S3Error {
    s3_error!(InvalidArgument, "{why}")
}

fn protocol(p: Option<String>) -> Result<Option<String>, S3Error> {
    match p.as_deref() {
        None | Some("http") | Some("https") => Ok(p),
        Some(other) => Err(invalid(format!(
            "Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically: {other:?}"
        ))),
    }
}

impl WebsiteConfiguration {
    /// Parses and validates a `PutBucketWebsite` body.
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let text = std::str::from_utf8(body)
            .map_err(|_| s3_error!(MalformedXML, "The body is not UTF-8."))?;
        let doc: Doc = quick_xml::de::from_str(text)
            .map_err(|e| s3_error!(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: {e}"))?;
        if let Some(all) = doc.redirect_all {
            if doc.index.is_some() || doc.error.is_some() || doc.rules.is_some() {
                return Err(invalid(
                    "RedirectAllRequestsTo cannot be provided in conjunction with other Routing/Redirect configurations.",
                ));
            }
            if all.host_name.trim().is_empty() {
                return Err(invalid("RedirectAllRequestsTo needs a HostName."));
            }
            return Ok(WebsiteConfiguration::RedirectAll {
                host_name: all.host_name,
                protocol: protocol(all.protocol)?,
            });
        }
        let index = doc.index.ok_or_else(|| invalid("A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty"))?;
        if index.suffix.is_empty() || index.suffix.contains('/') {
            return Err(invalid(
                "The IndexDocument Suffix is not well formed: it must be non-empty and contain no slash.",
            ));
        }
        let mut routing_rules = Vec::new();
        for r in doc.rules.map(|r| r.rules).unwrap_or_default() {
            let condition = r.condition;
            let error_code = match condition.as_ref().and_then(|c| c.error_code.as_deref()) {
                None => None,
                Some(code) => Some(
                    code.trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|c| (400..600).contains(c))
                        .ok_or_else(|| invalid(format!("The provided HTTP error code ({code}) is not valid. Valid codes are 4XX or 5XX.")))?,
                ),
            };
            let d = r.redirect;
            if d.replace_prefix.is_some() && d.replace_key.is_some() {
                return Err(invalid(
                    "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
                ));
            }
            let code = match d.code.as_deref() {
                None => None,
                Some(c) => Some(
                    c.trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|c| (300..400).contains(c))
                        .ok_or_else(|| invalid(format!("The provided HTTP redirect code ({c}) is not valid. Valid codes are 3XX except 300.")))?,
                ),
            };
            let redirect = Redirect {
                protocol: protocol(d.protocol)?,
                host_name: d.host_name,
                replace_key_prefix_with: d.replace_prefix,
                replace_key_with: d.replace_key,
                http_redirect_code: code,
            };
            if redirect == Redirect::default() {
                return Err(invalid(
                    "A Redirect must name at least one of Protocol, HostName, ReplaceKeyPrefixWith, ReplaceKeyWith, HttpRedirectCode.",
                ));
            }
            routing_rules.push(RoutingRule {
                key_prefix_equals: condition.and_then(|c| c.key_prefix),
                http_error_code_returned_equals: error_code,
                redirect,
            });
        }
        Ok(WebsiteConfiguration::Site {
            index_suffix: index.suffix,
            error_key: doc.error.map(|e| e.key),
            routing_rules,
        })
    }

    /// The `GetBucketWebsite` document.
    pub fn to_xml(&self) -> String {
        use quick_xml::escape::escape;
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<WebsiteConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        let opt = |tag: &str, v: &Option<String>| {
            v.as_ref()
                .map(|v| format!("<{tag}>{}</{tag}>", escape(v)))
                .unwrap_or_default()
        };
        match self {
            WebsiteConfiguration::RedirectAll {
                host_name,
                protocol,
            } => {
                out.push_str(&format!(
                    "<RedirectAllRequestsTo><HostName>{}</HostName>{}</RedirectAllRequestsTo>",
                    escape(host_name),
                    opt("Protocol", protocol)
                ));
            }
            WebsiteConfiguration::Site {
                index_suffix,
                error_key,
                routing_rules,
            } => {
                out.push_str(&format!(
                    "<IndexDocument><Suffix>{}</Suffix></IndexDocument>",
                    escape(index_suffix)
                ));
                if let Some(k) = error_key {
                    out.push_str(&format!(
                        "<ErrorDocument><Key>{}</Key></ErrorDocument>",
                        escape(k)
                    ));
                }
                if !routing_rules.is_empty() {
                    out.push_str("<RoutingRules>");
                    for r in routing_rules {
                        out.push_str("<RoutingRule>");
                        if r.key_prefix_equals.is_some()
                            || r.http_error_code_returned_equals.is_some()
                        {
                            out.push_str("<Condition>");
                            out.push_str(&opt("KeyPrefixEquals", &r.key_prefix_equals));
                            out.push_str(&opt(
                                "HttpErrorCodeReturnedEquals",
                                &r.http_error_code_returned_equals.map(|c| c.to_string()),
                            ));
                            out.push_str("</Condition>");
                        }
                        let d = &r.redirect;
                        out.push_str("<Redirect>");
                        out.push_str(&opt("Protocol", &d.protocol));
                        out.push_str(&opt("HostName", &d.host_name));
                        out.push_str(&opt("ReplaceKeyPrefixWith", &d.replace_key_prefix_with));
                        out.push_str(&opt("ReplaceKeyWith", &d.replace_key_with));
                        out.push_str(&opt(
                            "HttpRedirectCode",
                            &d.http_redirect_code.map(|c| c.to_string()),
                        ));
                        out.push_str("</Redirect></RoutingRule>");
                    }
                    out.push_str("</RoutingRules>");
                }
            }
        }
        out.push_str("</WebsiteConfiguration>");
        out
    }
}

/// The first routing rule whose condition holds for `key` and (if the rule names one) the error
/// code the object lookup produced.
pub fn matching_rule<'a>(
    rules: &'a [RoutingRule],
    key: &str,
    error: Option<u16>,
) -> Option<&'a RoutingRule> {
    rules.iter().find(|r| {
        r.key_prefix_equals
            .as_ref()
            .is_none_or(|p| key.starts_with(p.as_str()))
            && match r.http_error_code_returned_equals {
                None => error.is_none(),
                Some(code) => error == Some(code),
            }
    })
}

/// Where a rule redirects `key` on a request for `host`: (status, Location).
pub fn redirect_location(
    redirect: &Redirect,
    rule_prefix: Option<&str>,
    key: &str,
    host: &str,
) -> (u16, String) {
    let new_key = match (
        &redirect.replace_key_with,
        &redirect.replace_key_prefix_with,
    ) {
        (Some(k), _) => k.clone(),
        (None, Some(p)) => format!(
            "{p}{}",
            key.strip_prefix(rule_prefix.unwrap_or("")).unwrap_or(key)
        ),
        (None, None) => key.to_owned(),
    };
    let protocol = redirect.protocol.as_deref().unwrap_or("http");
    let host = redirect.host_name.as_deref().unwrap_or(host);
    let path = crate::s3::uri::encode_path(&new_key);
    (
        redirect.http_redirect_code.unwrap_or(301),
        format!("{protocol}://{host}/{path}"),
    )
}

/// The object key a website path asks for: the index document for `/` and `dir/`.
pub fn key_for_path(decoded_path: &str, index_suffix: &str) -> String {
    let key = decoded_path.trim_start_matches('/');
    if key.is_empty() || key.ends_with('/') {
        format!("{key}{index_suffix}")
    } else {
        key.to_owned()
    }
}

/// The HTML page of a website error without an error document.
pub fn error_page(status: u16, code: &str, message: &str, request_id: &str) -> String {
    use quick_xml::escape::escape;
    let title = match status {
        403 => "403 Forbidden",
        404 => "404 Not Found",
        405 => "405 Method Not Allowed",
        _ => "Error",
    };
    format!(
        "<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n<li>Code: {}</li>\n<li>Message: {}</li>\n<li>RequestId: {}</li>\n</ul>\n<hr/>\n</body>\n</html>\n",
        escape(code),
        escape(message),
        escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument>\
        <ErrorDocument><Key>error.html</Key></ErrorDocument><RoutingRules>\
        <RoutingRule><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith></Redirect></RoutingRule>\
        <RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>fallback.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>\
        </RoutingRules></WebsiteConfiguration>";

    #[test]
    fn a_site_parses_round_trips_and_routes() {
        let c = WebsiteConfiguration::parse(SITE.as_bytes()).unwrap();
        assert_eq!(
            WebsiteConfiguration::parse(c.to_xml().as_bytes()).unwrap(),
            c
        );
        let WebsiteConfiguration::Site { routing_rules, .. } = &c else {
            panic!()
        };
        let r = matching_rule(routing_rules, "old/a.html", None).unwrap();
        assert_eq!(
            redirect_location(
                &r.redirect,
                r.key_prefix_equals.as_deref(),
                "old/a.html",
                "site"
            ),
            (301, "http://site/new/a.html".into())
        );
        assert!(matching_rule(routing_rules, "x.html", None).is_none());
        let r = matching_rule(routing_rules, "x.html", Some(404)).unwrap();
        assert_eq!(
            redirect_location(&r.redirect, None, "x.html", "site"),
            (302, "http://fallback.example.com/x.html".into())
        );
    }

    #[test]
    fn paths_map_to_keys() {
        assert_eq!(key_for_path("/", "index.html"), "index.html");
        assert_eq!(key_for_path("/docs/", "index.html"), "docs/index.html");
        assert_eq!(key_for_path("/docs", "index.html"), "docs");
        assert_eq!(key_for_path("/a b.html", "index.html"), "a b.html");
    }

    #[test]
    fn invalid_configurations() {
        let code = |d: &str| {
            WebsiteConfiguration::parse(d.as_bytes())
                .map_or_else(|e| e.code().as_str().to_owned(), |_| "ok".into())
        };
        assert_eq!(
            code(
                "<WebsiteConfiguration><IndexDocument><Suffix></Suffix></IndexDocument></WebsiteConfiguration>"
            ),
            "InvalidArgument"
        );
        assert_eq!(
            code(
                "<WebsiteConfiguration><IndexDocument><Suffix>a/b</Suffix></IndexDocument></WebsiteConfiguration>"
            ),
            "InvalidArgument"
        );
        assert_eq!(
            code(
                "<WebsiteConfiguration><ErrorDocument><Key>e</Key></ErrorDocument></WebsiteConfiguration>"
            ),
            "InvalidArgument"
        );
        assert_eq!(
            code(
                "<WebsiteConfiguration><RedirectAllRequestsTo><HostName>h</HostName></RedirectAllRequestsTo><IndexDocument><Suffix>i</Suffix></IndexDocument></WebsiteConfiguration>"
            ),
            "InvalidArgument"
        );
        assert_eq!(
            code(
                "<WebsiteConfiguration><RedirectAllRequestsTo><HostName>h</HostName><Protocol>ftp</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>"
            ),
            "InvalidArgument"
        );
        assert_eq!(
            code(
                "<WebsiteConfiguration><IndexDocument><Suffix>i</Suffix></IndexDocument><RoutingRules><RoutingRule><Redirect><HttpRedirectCode>200</HttpRedirectCode></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>"
            ),
            "InvalidArgument"
        );
        assert_eq!(
            code("<WebsiteConfiguration><IndexDocument><Suffix>i</Suffix>"),
            "MalformedXML"
        );
        assert_eq!(
            code(
                "<WebsiteConfiguration><RedirectAllRequestsTo><HostName>h</HostName></RedirectAllRequestsTo></WebsiteConfiguration>"
            ),
            "ok"
        );
    }
}
