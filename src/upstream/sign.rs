//! SigV4 for the backend: every forwarded request is signed with the one service credential.
//!
//! This runs once per request, so it does the least SigV4 allows: the signing key and scope are
//! derived once a day (with `aws-sigv4`'s derivation) instead of four HMACs per request, and the
//! canonical request is built in one buffer from the request header the forward plan made.
//! The result is checked against `aws-sigv4`'s own signer in the tests below.

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use pingora::http::RequestHeader;
use sha2::{Digest, Sha256};

use crate::auth::credentials::SecretKey;
use crate::auth::credentials::derive_signing_key;
use crate::auth::sigv4::{format_amz_date, hmac_sha256, push_canonical_headers};
use crate::s3::error::S3Error;
use crate::s3::uri::Query;
use crate::s3_error;

/// Signs backend requests with the service credential (SigV4, header form, service `s3`).
pub struct BackendSigner {
    access_key: String,
    secret: SecretKey,
    region: String,
    /// The current day's scope and signing key.
    day: ArcSwap<Day>,
}

/// What SigV4 fixes for a whole day: the date, the credential scope, the signing key.
struct Day {
    date: String,
    scope: String,
    key: [u8; 32],
}

impl std::fmt::Debug for BackendSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret and the derived key stay out of logs.
        f.debug_struct("BackendSigner")
            .field("access_key", &self.access_key)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Whether a header is signed toward the backend: `host`, `x-amz-*`, `content-md5` and
/// `content-type`. Signing transport headers (`expect`, `accept-encoding`, SDK headers) makes
/// strict backends reject requests that a hop rewrote.
fn signed(name: &str) -> bool {
    name == "host" || name == "content-md5" || name == "content-type" || name.starts_with("x-amz-")
}

impl BackendSigner {
    pub fn new(access_key: String, secret: SecretKey, region: String) -> Self {
        BackendSigner {
            access_key,
            secret,
            region,
            day: ArcSwap::from_pointee(Day {
                date: String::new(),
                scope: String::new(),
                key: [0; 32],
            }),
        }
    }

    /// The scope and signing key of `date` (`YYYYMMDD`), derived when the day changes.
    fn day(&self, date: &str, now: SystemTime) -> Arc<Day> {
        let current = self.day.load_full();
        if current.date == date {
            return current;
        }
        let day = Arc::new(Day {
            date: date.to_owned(),
            scope: format!("{date}/{}/s3/aws4_request", self.region),
            key: derive_signing_key(&self.secret, now, &self.region, "s3"),
        });
        self.day.store(day.clone());
        day
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` and `Authorization` to `header`, whose target
    /// (path and query, already in their canonical encoding) and other headers are final.
    pub fn sign(
        &self,
        header: &mut RequestHeader,
        payload_hash: &str,
        now: SystemTime,
    ) -> Result<(), S3Error> {
        let internal = |what: &str| {
            s3_error!(
                InternalError,
                "Could not prepare the backend request: {what}."
            )
        };
        let amz_date = format_amz_date(now);
        let date = &amz_date[..8];
        header
            .insert_header("x-amz-date", amz_date.as_str())
            .map_err(|_| internal("date"))?;
        header
            .insert_header("x-amz-content-sha256", payload_hash)
            .map_err(|_| internal("payload hash"))?;

        // A shared handle on the target's bytes, not a copy.
        let target = header
            .uri
            .path_and_query()
            .cloned()
            .ok_or_else(|| internal("no target"))?;
        let (path, query) = (target.path(), target.query().unwrap_or(""));
        let mut names: Vec<&str> = header
            .headers
            .keys()
            .map(|n| n.as_str())
            .filter(|n| signed(n))
            .collect();
        names.sort_unstable();
        let mut canonical = String::with_capacity(256 + target.as_str().len());
        canonical.push_str(header.method.as_str());
        canonical.push('\n');
        canonical.push_str(path);
        canonical.push('\n');
        canonical.push_str(&Query::parse(query)?.canonical(|_| false));
        canonical.push('\n');
        // Values are visible ASCII: the plan and the gateway's own requests build them with
        // `HeaderValue::from_str`, which accepts nothing else.
        push_canonical_headers(&mut canonical, &header.headers, names.iter().copied());
        canonical.push('\n');
        let signed_headers = names.join(";");
        canonical.push_str(&signed_headers);
        canonical.push('\n');
        canonical.push_str(payload_hash);

        let day = self.day(date, now);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
            day.scope,
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let signature = hex::encode(hmac_sha256(&day.key, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key, day.scope
        );
        header
            .insert_header(http::header::AUTHORIZATION, authorization)
            .map_err(|_| internal("authorization"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings, UriPathNormalizationMode, sign,
    };
    use proptest::prelude::*;

    const AK: &str = "AKIDEXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// What `aws-sigv4` (the AWS SDKs' signer) puts in `Authorization` for the same request.
    fn reference(
        method: &str,
        authority: &str,
        target: &str,
        headers: &[(&str, &str)],
        payload_hash: &str,
        now: SystemTime,
    ) -> String {
        let identity = aws_credential_types::Credentials::new(AK, SK, None, None, "test").into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.signature_location = SignatureLocation::Headers;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let mut all = vec![("host", authority)];
        all.extend_from_slice(headers);
        let request = SignableRequest::new(
            method,
            format!("http://{authority}{target}"),
            all.into_iter().filter(|(n, _)| signed(n)),
            SignableBody::Precomputed(payload_hash.to_owned()),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let (headers, _) = instructions.into_parts();
        headers
            .into_iter()
            .find(|h| h.name() == "authorization")
            .map(|h| h.value().to_owned())
            .unwrap()
    }

    fn ours(
        method: &str,
        authority: &str,
        target: &str,
        headers: &[(&str, &str)],
        payload_hash: &str,
        now: SystemTime,
    ) -> String {
        let signer = BackendSigner::new(AK.into(), SecretKey::new(SK), "us-east-1".into());
        let mut header = RequestHeader::build(
            method.parse::<http::Method>().unwrap(),
            target.as_bytes(),
            None,
        )
        .unwrap();
        header.insert_header("host", authority).unwrap();
        for (n, v) in headers {
            header.append_header(n.to_string(), *v).unwrap();
        }
        signer.sign(&mut header, payload_hash, now).unwrap();
        header
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn signs_as_aws_sigv4_does() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_369_353_600);
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            ("GET", "/bucket/test.txt", &[("range", "bytes=0-9")]),
            ("GET", "/bucket?list-type=2&prefix=a%20b&delimiter=%2F", &[]),
            (
                "PUT",
                "/bucket/k%2By%20z",
                &[
                    ("content-type", "text/plain"),
                    ("x-amz-meta-colour", "  blue   sky "),
                    ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
                    ("user-agent", "not signed"),
                ],
            ),
            ("POST", "/bucket/key?uploads", &[("x-amz-acl", "private")]),
            ("DELETE", "/bucket/key?versionId=abc%2Bdef", &[]),
        ];
        for (method, target, headers) in cases {
            assert_eq!(
                ours(method, "127.0.0.1:7480", target, headers, EMPTY, now),
                reference(method, "127.0.0.1:7480", target, headers, EMPTY, now),
                "{method} {target}"
            );
        }
    }

    #[test]
    fn the_days_key_is_derived_again_the_next_day() {
        let day = std::time::Duration::from_secs(86_400);
        let t = SystemTime::UNIX_EPOCH + day * 15_000;
        let target = "/b/k";
        assert_eq!(
            ours("GET", "h", target, &[], EMPTY, t + day),
            reference("GET", "h", target, &[], EMPTY, t + day)
        );
        // One signer across the day boundary.
        let signer = BackendSigner::new(AK.into(), SecretKey::new(SK), "us-east-1".into());
        for now in [t, t + day] {
            let mut header = RequestHeader::build("GET", target.as_bytes(), None).unwrap();
            header.insert_header("host", "h").unwrap();
            signer.sign(&mut header, EMPTY, now).unwrap();
            assert_eq!(
                header
                    .headers
                    .get("authorization")
                    .unwrap()
                    .to_str()
                    .unwrap(),
                reference("GET", "h", target, &[], EMPTY, now)
            );
        }
    }

    proptest! {
        // Any canonical target and any printable header values sign as aws-sigv4 signs them.
        #[test]
        fn matches_aws_sigv4_on_any_request(
            key in "[a-zA-Z0-9._~-]{1,12}(%2F|%20|%2B|%25)?[a-z0-9]{0,6}",
            params in proptest::collection::vec(("[a-z-]{1,8}", "[a-zA-Z0-9._~-]{0,8}(%2F|%3D|%26)?"), 0..4),
            meta in "[ -~]{0,24}",
            secs in 0u64..4_000_000_000,
        ) {
            let query: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let target = if query.is_empty() {
                format!("/bucket/{key}")
            } else {
                format!("/bucket/{key}?{}", query.join("&"))
            };
            let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            let headers = [("x-amz-meta-m", meta.as_str()), ("content-type", "a/b")];
            prop_assert_eq!(
                ours("PUT", "backend:7480", &target, &headers, EMPTY, now),
                reference("PUT", "backend:7480", &target, &headers, EMPTY, now)
            );
        }
    }
}
