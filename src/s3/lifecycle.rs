//! Lifecycle configurations, parsed and held to the Spaces subset: expiration by age or date
//! (and of expired delete markers), expiration of noncurrent versions, and aborting incomplete
//! multipart uploads, filtered by prefix only. Transitions, tag and size filters are
//! NotImplemented, naming the element; invalid documents are MalformedXML or InvalidArgument.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::s3::error::S3Error;
use crate::s3_error;

/// The most rules one configuration may hold (AWS).
const MAX_RULES: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(rename = "LifecycleConfiguration")]
struct Doc {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
struct RuleDoc {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Filter")]
    filter: Option<FilterDoc>,
    #[serde(rename = "Expiration")]
    expiration: Option<ExpirationDoc>,
    #[serde(rename = "NoncurrentVersionExpiration")]
    noncurrent_expiration: Option<NoncurrentDoc>,
    #[serde(rename = "AbortIncompleteMultipartUpload")]
    abort: Option<AbortDoc>,
    #[serde(rename = "Transition")]
    transition: Option<IgnoredAny>,
    #[serde(rename = "NoncurrentVersionTransition")]
    noncurrent_transition: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct FilterDoc {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag")]
    tag: Option<IgnoredAny>,
    #[serde(rename = "And")]
    and: Option<IgnoredAny>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    size_greater: Option<IgnoredAny>,
    #[serde(rename = "ObjectSizeLessThan")]
    size_less: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct ExpirationDoc {
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "Date")]
    date: Option<String>,
    #[serde(rename = "ExpiredObjectDeleteMarker")]
    delete_marker: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NoncurrentDoc {
    #[serde(rename = "NoncurrentDays")]
    days: Option<String>,
    #[serde(rename = "NewerNoncurrentVersions")]
    newer: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct AbortDoc {
    #[serde(rename = "DaysAfterInitiation")]
    days: Option<String>,
}

/// When a rule expires current objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiration {
    Days(u32),
    /// An ISO 8601 date at midnight UTC.
    Date(String),
    ExpiredObjectDeleteMarker,
}

/// How a rule named its prefix; rendered back the same way, so the configuration reads back
/// as it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixForm {
    /// Neither `Prefix` nor `Filter`.
    Absent,
    /// `<Prefix>` (the older form).
    Prefix,
    /// `<Filter>` with no prefix in it.
    EmptyFilter,
    /// `<Filter><Prefix>`.
    FilterPrefix,
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: Option<String>,
    pub enabled: bool,
    pub prefix: String,
    pub prefix_form: PrefixForm,
    pub expiration: Option<Expiration>,
    pub noncurrent_days: Option<u32>,
    pub abort_days: Option<u32>,
}

/// A lifecycle configuration within the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleConfiguration {
    pub rules: Vec<Rule>,
}

fn malformed(why: impl std::fmt::Display) -> S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema: {why}"
    )
}

fn positive_days(value: &str, element: &str) -> Result<u32, S3Error> {
    match value.trim().parse::<u32>() {
        Ok(d) if d > 0 => Ok(d),
        _ => Err(s3_error!(
            InvalidArgument,
            "'{element}' for lifecycle rules must be a positive integer, not {value:?}."
        )),
    }
}

impl LifecycleConfiguration {
    /// Parses and validates a `PutBucketLifecycleConfiguration` body.
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
        let doc: Doc = quick_xml::de::from_str(text).map_err(malformed)?;
        if doc.rules.is_empty() {
            return Err(malformed(
                "a LifecycleConfiguration needs at least one Rule",
            ));
        }
        if doc.rules.len() > MAX_RULES {
            return Err(s3_error!(
                InvalidRequest,
                "A lifecycle configuration may hold at most {MAX_RULES} rules."
            ));
        }
        let mut rules = Vec::with_capacity(doc.rules.len());
        for (i, r) in doc.rules.into_iter().enumerate() {
            let name = r.id.clone().unwrap_or_else(|| format!("#{}", i + 1));
            if r.transition.is_some() {
                return Err(s3_error!(
                    NotImplemented,
                    "Lifecycle rule {name}: Transition is not supported (Spaces expires objects only)."
                ));
            }
            if r.noncurrent_transition.is_some() {
                return Err(s3_error!(
                    NotImplemented,
                    "Lifecycle rule {name}: NoncurrentVersionTransition is not supported."
                ));
            }
            if r.id.as_ref().is_some_and(|id| id.len() > 255) {
                return Err(s3_error!(
                    InvalidArgument,
                    "Lifecycle rule ID {name} is longer than 255 characters."
                ));
            }
            let enabled = match r.status.as_deref() {
                Some("Enabled") => true,
                Some("Disabled") => false,
                other => {
                    return Err(malformed(format!(
                        "rule {name}: Status must be Enabled or Disabled, not {other:?}"
                    )));
                }
            };
            let (prefix, prefix_form) = match (&r.prefix, &r.filter) {
                (Some(_), Some(_)) => {
                    return Err(malformed(format!(
                        "rule {name}: use either Prefix or Filter, not both"
                    )));
                }
                (Some(p), None) => (p.clone(), PrefixForm::Prefix),
                (None, None) => (String::new(), PrefixForm::Absent),
                (None, Some(f)) => {
                    let unsupported = [
                        (f.tag.is_some(), "Filter/Tag"),
                        (f.and.is_some(), "Filter/And"),
                        (f.size_greater.is_some(), "Filter/ObjectSizeGreaterThan"),
                        (f.size_less.is_some(), "Filter/ObjectSizeLessThan"),
                    ];
                    if let Some((_, element)) = unsupported.iter().find(|(present, _)| *present) {
                        return Err(s3_error!(
                            NotImplemented,
                            "Lifecycle rule {name}: {element} is not supported; filter by Prefix."
                        ));
                    }
                    match &f.prefix {
                        Some(p) => (p.clone(), PrefixForm::FilterPrefix),
                        None => (String::new(), PrefixForm::EmptyFilter),
                    }
                }
            };
            let expiration = match r.expiration {
                None => None,
                Some(e) => Some(match (e.days, e.date, e.delete_marker) {
                    (Some(d), None, None) => Expiration::Days(positive_days(&d, "Days")?),
                    (None, Some(date), None) => {
                        let midnight = date.len() >= 10
                            && time::Date::parse(
                                &date[..10],
                                time::macros::format_description!("[year]-[month]-[day]"),
                            )
                            .is_ok()
                            && date[10..]
                                .trim_start_matches('T')
                                .trim_end_matches('Z')
                                .trim_end_matches(".000")
                                .trim_matches(['0', ':'])
                                .is_empty();
                        if !midnight {
                            return Err(s3_error!(
                                InvalidArgument,
                                "Lifecycle rule {name}: 'Date' must be an ISO 8601 date at midnight UTC, not {date:?}."
                            ));
                        }
                        Expiration::Date(date)
                    }
                    (None, None, Some(m)) if m.trim() == "true" => {
                        Expiration::ExpiredObjectDeleteMarker
                    }
                    (None, None, Some(_)) => {
                        return Err(malformed(format!(
                            "rule {name}: ExpiredObjectDeleteMarker must be true"
                        )));
                    }
                    _ => {
                        return Err(malformed(format!(
                            "rule {name}: Expiration takes exactly one of Days, Date, ExpiredObjectDeleteMarker"
                        )));
                    }
                }),
            };
            let noncurrent_days = match r.noncurrent_expiration {
                None => None,
                Some(n) => {
                    if n.newer.is_some() {
                        return Err(s3_error!(
                            NotImplemented,
                            "Lifecycle rule {name}: NewerNoncurrentVersions is not supported."
                        ));
                    }
                    Some(positive_days(
                        &n.days.ok_or_else(|| {
                            malformed(format!("rule {name}: NoncurrentDays is required"))
                        })?,
                        "NoncurrentDays",
                    )?)
                }
            };
            let abort_days = match r.abort {
                None => None,
                Some(a) => Some(positive_days(
                    &a.days.ok_or_else(|| {
                        malformed(format!("rule {name}: DaysAfterInitiation is required"))
                    })?,
                    "DaysAfterInitiation",
                )?),
            };
            if expiration.is_none() && noncurrent_days.is_none() && abort_days.is_none() {
                return Err(malformed(format!(
                    "rule {name} has no action (Expiration, NoncurrentVersionExpiration or AbortIncompleteMultipartUpload)"
                )));
            }
            rules.push(Rule {
                id: r.id,
                enabled,
                prefix,
                prefix_form,
                expiration,
                noncurrent_days,
                abort_days,
            });
        }
        Ok(LifecycleConfiguration { rules })
    }

    /// The document the backend gets: the validated rules rendered anew, so it never parses
    /// what the gateway did not (a repeated element, an unknown one, an entity).
    pub fn to_xml(&self) -> String {
        use quick_xml::escape::escape;
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        for r in &self.rules {
            out.push_str("<Rule>");
            if let Some(id) = &r.id {
                out.push_str(&format!("<ID>{}</ID>", escape(id.as_str())));
            }
            let prefix = escape(r.prefix.as_str());
            match r.prefix_form {
                PrefixForm::Absent => {}
                PrefixForm::Prefix => out.push_str(&format!("<Prefix>{prefix}</Prefix>")),
                PrefixForm::EmptyFilter => out.push_str("<Filter></Filter>"),
                PrefixForm::FilterPrefix => {
                    out.push_str(&format!("<Filter><Prefix>{prefix}</Prefix></Filter>"))
                }
            }
            out.push_str(if r.enabled {
                "<Status>Enabled</Status>"
            } else {
                "<Status>Disabled</Status>"
            });
            match &r.expiration {
                None => {}
                Some(Expiration::Days(d)) => {
                    out.push_str(&format!("<Expiration><Days>{d}</Days></Expiration>"))
                }
                Some(Expiration::Date(date)) => out.push_str(&format!(
                    "<Expiration><Date>{}</Date></Expiration>",
                    escape(date.as_str())
                )),
                Some(Expiration::ExpiredObjectDeleteMarker) => out.push_str(
                    "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
                ),
            }
            if let Some(d) = r.noncurrent_days {
                out.push_str(&format!(
                    "<NoncurrentVersionExpiration><NoncurrentDays>{d}</NoncurrentDays></NoncurrentVersionExpiration>"
                ));
            }
            if let Some(d) = r.abort_days {
                out.push_str(&format!(
                    "<AbortIncompleteMultipartUpload><DaysAfterInitiation>{d}</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
                ));
            }
            out.push_str("</Rule>");
        }
        out.push_str("</LifecycleConfiguration>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rules: &str) -> String {
        format!(
            "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{rules}</LifecycleConfiguration>"
        )
    }

    fn code(rules: &str) -> String {
        LifecycleConfiguration::parse(doc(rules).as_bytes())
            .map_or_else(|e| e.code().as_str().to_owned(), |_| "ok".into())
    }

    #[test]
    fn rules_render_anew_and_read_back_the_same() {
        let c = LifecycleConfiguration::parse(doc(
            "<Rule><ID>a&amp;b</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule>\
             <Rule><Prefix>x</Prefix><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>\
             <Rule><Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays></NoncurrentVersionExpiration></Rule>\
             <Rule><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
        ).as_bytes())
        .unwrap();
        let rendered = c.to_xml();
        assert_eq!(
            LifecycleConfiguration::parse(rendered.as_bytes()).unwrap(),
            c
        );
        assert!(rendered.contains("<ID>a&amp;b</ID><Filter><Prefix>tmp/</Prefix></Filter>"));
        assert!(rendered.contains("<Prefix>x</Prefix><Status>Disabled</Status>"));
        assert!(rendered.contains("<Filter></Filter>"));
    }

    #[test]
    fn the_spaces_subset_is_accepted() {
        let c = LifecycleConfiguration::parse(doc(
            "<Rule><ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule>\
             <Rule><ID>mpu</ID><Prefix></Prefix><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>\
             <Rule><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays></NoncurrentVersionExpiration></Rule>\
             <Rule><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
        ).as_bytes())
        .unwrap();
        assert_eq!(c.rules.len(), 4);
        assert_eq!(c.rules[0].prefix, "tmp/");
        assert_eq!(c.rules[0].expiration, Some(Expiration::Days(7)));
        assert_eq!(c.rules[1].abort_days, Some(2));
        assert!(!c.rules[1].enabled);
        assert_eq!(c.rules[2].noncurrent_days, Some(3));
        assert_eq!(
            c.rules[3].expiration,
            Some(Expiration::ExpiredObjectDeleteMarker)
        );
    }

    #[test]
    fn unsupported_elements_are_not_implemented() {
        for rule in [
            "<Rule><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>",
            "<Rule><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>30</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition></Rule>",
            "<Rule><Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration><Days>1</Days></Expiration></Rule>",
            "<Rule><Status>Enabled</Status><Filter><And><Prefix>p</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter><Expiration><Days>1</Days></Expiration></Rule>",
            "<Rule><Status>Enabled</Status><Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter><Expiration><Days>1</Days></Expiration></Rule>",
        ] {
            assert_eq!(code(rule), "NotImplemented", "{rule}");
        }
    }

    #[test]
    fn invalid_documents_are_refused() {
        assert_eq!(code(""), "MalformedXML");
        assert_eq!(
            code("<Rule><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>"),
            "MalformedXML"
        );
        assert_eq!(
            code("<Rule><Status>Enabled</Status></Rule>"),
            "MalformedXML"
        );
        assert_eq!(
            code("<Rule><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>"),
            "InvalidArgument"
        );
        assert_eq!(
            code(
                "<Rule><Status>Enabled</Status><Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration></Rule>"
            ),
            "InvalidArgument"
        );
        assert_eq!(
            code(
                "<Rule><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>"
            ),
            "MalformedXML"
        );
        assert!(LifecycleConfiguration::parse(b"<Lifecycle").is_err());
    }
}
