//! AWS Signature Version 2: `Authorization: AWS <key>:<signature>` and presigned
//! `?AWSAccessKeyId=&Expires=&Signature=` URLs (HMAC-SHA1 over the string-to-sign).
//!
//! Signers disagree about which sub-resources belong in the canonical resource (AWS documents a
//! short list; botocore and others sign a longer one) and about a bucket's trailing slash
//! (botocore signs `/bucket/` for a request to `/bucket`), so the verifier tries each of those
//! readings; all other parts are fixed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::auth::credentials::{CredentialStore, User};
use crate::auth::sigv4::{SignedParts, check_skew, lookup, parse_date_header};
use crate::s3::error::S3Error;
use crate::s3_error;

/// The sub-resources AWS's SigV2 documentation lists, sorted.
const AWS_SUBRESOURCES: &[&str] = &[
    "acl",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// The longer list common signers (botocore's HMAC-v1, s3cmd) use, sorted.
const EXTENDED_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// Verifies `Authorization: AWS <key>:<signature>`.
pub fn verify_header(
    req: &SignedParts<'_>,
    value: &str,
    store: &CredentialStore,
    now: SystemTime,
) -> Result<std::sync::Arc<User>, S3Error> {
    let credentials = value.strip_prefix("AWS ").unwrap_or("").trim();
    let (access_key, signature) = credentials.rsplit_once(':').ok_or_else(|| {
        s3_error!(
            InvalidArgument,
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"
        )
    })?;
    let user = lookup(store, access_key)?;
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let date = header("x-amz-date")
        .or_else(|| header("date"))
        .ok_or_else(|| {
            s3_error!(
                AccessDenied,
                "AWS authentication requires a valid Date or x-amz-date header"
            )
        })?;
    let signed_at = parse_date_header(date)
        .or_else(|| crate::auth::sigv4::parse_amz_date(date))
        // A date before the epoch is no valid date (S3: AccessDenied, not a clock skew).
        .filter(|t| *t >= UNIX_EPOCH)
        .ok_or_else(|| {
            s3_error!(
                AccessDenied,
                "AWS authentication requires a valid Date or x-amz-date header"
            )
        })?;
    check_skew(signed_at, now)?;
    // With x-amz-date present, the Date slot of the string-to-sign is empty.
    let date_slot = if header("x-amz-date").is_some() {
        ""
    } else {
        date
    };
    check(req, date_slot, signature, user)?;
    Ok(user.clone())
}

/// Verifies a presigned `?AWSAccessKeyId=&Expires=&Signature=` request.
pub fn verify_query(
    req: &SignedParts<'_>,
    store: &CredentialStore,
    now: SystemTime,
) -> Result<std::sync::Arc<User>, S3Error> {
    let q = req.query;
    let missing = |p: &str| {
        s3_error!(
            AccessDenied,
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters; {p} is missing"
        )
    };
    let access_key = q
        .get("AWSAccessKeyId")
        .ok_or_else(|| missing("AWSAccessKeyId"))?;
    let signature = q.get("Signature").ok_or_else(|| missing("Signature"))?;
    let expires = q.get("Expires").ok_or_else(|| missing("Expires"))?;
    let expires_at: u64 = expires.parse().map_err(|_| {
        s3_error!(
            AccessDenied,
            "Invalid date (should be seconds since epoch): {expires}"
        )
    })?;
    let user = lookup(store, access_key)?;
    // An expiry past what a clock can hold is not a date (adding it would overflow).
    let expires_time = UNIX_EPOCH
        .checked_add(Duration::from_secs(expires_at))
        .ok_or_else(|| {
            s3_error!(
                AccessDenied,
                "Invalid date (should be seconds since epoch): {expires}"
            )
        })?;
    if now > expires_time {
        return Err(s3_error!(AccessDenied, "Request has expired"));
    }
    check(req, expires, signature, user)?;
    Ok(user.clone())
}

fn check(
    req: &SignedParts<'_>,
    date_slot: &str,
    signature: &str,
    user: &User,
) -> Result<(), S3Error> {
    let base = string_to_sign_prefix(req, date_slot);
    let paths = resource_paths(req);
    // The documented short list leaves out sub-resources that select an operation (`tagging`,
    // `cors`, ...): a reading without one that is present would let it ride along unsigned,
    // turning a presigned GET of an object into a GetObjectTagging of it, say.
    let unsigned_in_short = req
        .query
        .pairs()
        .any(|(n, _)| EXTENDED_SUBRESOURCES.contains(&n) && !AWS_SUBRESOURCES.contains(&n));
    let lists: &[&[&str]] = if unsigned_in_short {
        &[EXTENDED_SUBRESOURCES]
    } else {
        &[EXTENDED_SUBRESOURCES, AWS_SUBRESOURCES]
    };
    for path in &paths {
        for list in lists.iter().copied() {
            let sts = format!("{base}{path}{}", subresources(req, list));
            if signature_matches(user, sts.as_bytes(), signature) {
                return Ok(());
            }
        }
    }
    Err(mismatch())
}

fn mismatch() -> S3Error {
    s3_error!(
        SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )
}

/// `VERB\nContent-MD5\nContent-Type\nDate\n` and the canonicalised `x-amz-*` headers.
pub fn string_to_sign_prefix(req: &SignedParts<'_>, date_slot: &str) -> String {
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let mut out = format!(
        "{}\n{}\n{}\n{date_slot}\n",
        req.method,
        header("content-md5").trim(),
        header("content-type").trim()
    );
    let mut names: Vec<&str> = req
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-amz-"))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let values: Vec<String> = req
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// The canonical resource path: `/<vhost bucket>` + the path as sent (undecoded); for a bare
/// bucket, also with the trailing slash some signers add.
fn resource_paths(req: &SignedParts<'_>) -> Vec<String> {
    let mut path = String::new();
    if let Some(bucket) = req.host_bucket {
        path.push('/');
        path.push_str(bucket);
    }
    path.push_str(req.raw_path);
    let bare_bucket = req.host_bucket.is_none() && path.len() > 1 && path[1..].find('/').is_none();
    if bare_bucket {
        vec![path.clone(), format!("{path}/")]
    } else {
        vec![path]
    }
}

fn subresources(req: &SignedParts<'_>, list: &[&str]) -> String {
    let mut out = String::new();
    for name in list {
        if let Some(value) = req.query.get(name) {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(name);
            if !value.is_empty() {
                out.push('=');
                out.push_str(value);
            }
        }
    }
    out
}

/// Whether `signature` (base64) is the SigV2 HMAC-SHA1 of `data` under the user's secret,
/// compared in constant time. Shared by header, query and POST-form signatures.
pub(crate) fn signature_matches(user: &User, data: &[u8], signature: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(user.secret_key.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(data);
    let expected = mac.finalize().into_bytes();
    given.len() == expected.len() && bool::from(given.ct_eq(&expected[..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::uri::Query;
    use http::HeaderMap;

    fn store() -> CredentialStore {
        CredentialStore::new([crate::auth::credentials::doc_user()])
    }

    use crate::auth::credentials::header_map as headers;

    /// One example of the AWS "Signing and authenticating REST requests" (Signature Version 2)
    /// documentation: method, raw path, query, virtual-host bucket, headers, signature.
    fn doc_case(
        method: &str,
        raw_path: &str,
        query: &str,
        bucket: Option<&str>,
        h: &[(&'static str, &str)],
        sig: &str,
    ) {
        let h = headers(h);
        let q = Query::parse(query).unwrap();
        let decoded = crate::s3::uri::decode(raw_path).unwrap();
        let req = SignedParts {
            method,
            decoded_path: &decoded,
            raw_path,
            host_bucket: bucket,
            query: &q,
            headers: &h,
        };
        let date = h.get("date").and_then(|v| v.to_str().ok()).unwrap_or("");
        let now = parse_date_header(date).unwrap();
        let auth = format!("AWS AKIAIOSFODNN7EXAMPLE:{sig}");
        verify_header(&req, &auth, &store(), now)
            .unwrap_or_else(|e| panic!("{method} {raw_path}: {e}"));
        let wrong = format!("AWS AKIAIOSFODNN7EXAMPLE:{}", "A".repeat(28));
        assert_eq!(
            verify_header(&req, &wrong, &store(), now)
                .unwrap_err()
                .code()
                .as_str(),
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn aws_doc_object_get() {
        doc_case(
            "GET",
            "/photos/puppy.jpg",
            "",
            Some("awsexamplebucket1"),
            &[("date", "Tue, 27 Mar 2007 19:36:42 +0000")],
            "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
        );
    }

    #[test]
    fn aws_doc_object_put() {
        doc_case(
            "PUT",
            "/photos/puppy.jpg",
            "",
            Some("awsexamplebucket1"),
            &[
                ("content-type", "image/jpeg"),
                ("date", "Tue, 27 Mar 2007 21:15:45 +0000"),
            ],
            "iqRzw+ileNPu1fhspnRs8nOjjIA=",
        );
    }

    #[test]
    fn aws_doc_list() {
        doc_case(
            "GET",
            "/",
            "prefix=photos&max-keys=50&marker=puppy",
            Some("awsexamplebucket1"),
            &[("date", "Tue, 27 Mar 2007 19:42:41 +0000")],
            "m0WP8eCtspQl5Ahe6L1SozdX9YA=",
        );
    }

    #[test]
    fn aws_doc_fetch_acl() {
        doc_case(
            "GET",
            "/",
            "acl",
            Some("awsexamplebucket1"),
            &[("date", "Tue, 27 Mar 2007 19:44:46 +0000")],
            "82ZHiFIjc+WbcwFKGUVEQspPn+0=",
        );
    }

    #[test]
    fn aws_doc_upload_with_amz_headers() {
        doc_case(
            "PUT",
            "/db-backup.dat.gz",
            "",
            Some("static.example.com"),
            &[
                ("date", "Tue, 27 Mar 2007 21:06:08 +0000"),
                ("x-amz-acl", "public-read"),
                ("content-type", "application/x-download"),
                ("content-md5", "4gJE4saaMU4BqNR0kLY+lw=="),
                ("x-amz-meta-reviewedby", "joe@example.com"),
                ("x-amz-meta-reviewedby", "jane@example.com"),
                ("x-amz-meta-filechecksum", "0x02661779"),
                ("x-amz-meta-checksumalgorithm", "crc32"),
            ],
            "jtBQa0Aq+DkULFI8qrpwIjGEx0E=",
        );
    }

    #[test]
    fn aws_doc_list_all_buckets() {
        doc_case(
            "GET",
            "/",
            "",
            None,
            &[("date", "Wed, 28 Mar 2007 01:29:59 +0000")],
            "qGdzdERIC03wnaRNKh6OqZehG9s=",
        );
    }

    #[test]
    fn aws_doc_unicode_keys_are_signed_as_sent() {
        doc_case(
            "GET",
            "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
            "",
            None,
            &[("date", "Wed, 28 Mar 2007 01:49:49 +0000")],
            "DNEZGsoieTZ92F3bUfSPQcbGmlM=",
        );
    }

    /// A presigned URL for `GET /b/obj` must not also authorize `GET /b/obj?tagging` (an
    /// operation-selecting sub-resource the short documented list leaves out).
    #[test]
    fn an_added_sub_resource_is_not_covered_by_the_signature() {
        let user = crate::auth::credentials::doc_user();
        let sign = |sts: &str| {
            let mut mac =
                <Hmac<Sha1> as KeyInit>::new_from_slice(user.secret_key.expose().as_bytes())
                    .unwrap();
            mac.update(sts.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        };
        let signature = sign("GET\n\n\n1175139620\n/b/obj");
        let h = HeaderMap::new();
        let now = UNIX_EPOCH + Duration::from_secs(1_175_139_000);
        for (query, ok) in [("", true), ("tagging", false), ("cors", false)] {
            let mut raw = format!(
                "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature={}",
                crate::s3::uri::encode_component(&signature)
            );
            if !query.is_empty() {
                raw = format!("{query}&{raw}");
            }
            let q = Query::parse(&raw).unwrap();
            let req = SignedParts {
                method: "GET",
                decoded_path: "/b/obj",
                raw_path: "/b/obj",
                host_bucket: None,
                query: &q,
                headers: &h,
            };
            assert_eq!(verify_query(&req, &store(), now).is_ok(), ok, "{query}");
        }
    }

    #[test]
    fn aws_doc_query_string_authentication() {
        let h = HeaderMap::new();
        let q = Query::parse("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=1No4mq5ETf02z8aet9voy6gui6E%3D&Expires=1175139620").unwrap();
        let req = SignedParts {
            method: "GET",
            decoded_path: "/photos/puppy.jpg",
            raw_path: "/photos/puppy.jpg",
            host_bucket: Some("awsexamplebucket1"),
            query: &q,
            headers: &h,
        };
        let before = UNIX_EPOCH + Duration::from_secs(1_175_139_000);
        verify_query(&req, &store(), before).unwrap();
        let after = UNIX_EPOCH + Duration::from_secs(1_175_139_621);
        let e = verify_query(&req, &store(), after).unwrap_err();
        assert_eq!(
            (e.code().as_str(), e.message()),
            ("AccessDenied", "Request has expired")
        );
        // An expiry no clock can hold is refused, not added (which would overflow).
        let q = Query::parse(
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=x&Expires=18446744073709551615",
        )
        .unwrap();
        let e = verify_query(&SignedParts { query: &q, ..req }, &store(), before).unwrap_err();
        assert_eq!(e.code().as_str(), "AccessDenied");
    }

    #[test]
    fn skew_and_malformed_headers() {
        let h = headers(&[("date", "Tue, 27 Mar 2007 19:36:42 +0000")]);
        let q = Query::default();
        let req = SignedParts {
            method: "GET",
            decoded_path: "/",
            raw_path: "/",
            host_bucket: None,
            query: &q,
            headers: &h,
        };
        let late = parse_date_header("Tue, 27 Mar 2007 20:36:42 +0000").unwrap();
        let e = verify_header(&req, "AWS AKIAIOSFODNN7EXAMPLE:x", &store(), late).unwrap_err();
        assert_eq!(e.code().as_str(), "RequestTimeTooSkewed");
        let h = headers(&[("date", "Tue, 07 Jul 1950 21:53:04 GMT")]);
        let before_epoch = SignedParts { headers: &h, ..req };
        let e =
            verify_header(&before_epoch, "AWS AKIAIOSFODNN7EXAMPLE:x", &store(), late).unwrap_err();
        assert_eq!(e.code().as_str(), "AccessDenied");
        let e = verify_header(&req, "AWS nocolon", &store(), late).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidArgument");
        let e = verify_header(&req, "AWS NOPE:x", &store(), late).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidAccessKeyId");
    }
}
