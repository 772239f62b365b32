//! Browser POST uploads: the form's signature over its policy document, and the policy's
//! conditions checked against the form (AWS "Browser-Based Uploads Using POST", V4 and V2).

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use serde_json::Value;

use crate::auth::credentials::{CredentialStore, User};
use crate::auth::sigv4::{self, hmac_sha256, parse_amz_date, signature_matches};
use crate::s3::error::S3Error;
use crate::s3::form::Preamble;
use crate::s3_error;

/// What a verified form grants: who uploads, the final key, the size range the policy allows.
#[derive(Debug, Clone)]
pub struct VerifiedPost {
    pub user: Arc<User>,
    pub key: String,
    pub length_range: Option<(u64, u64)>,
    pub signature_v2: bool,
}

fn denied(why: impl std::fmt::Display) -> S3Error {
    s3_error!(AccessDenied, "Invalid according to Policy: {why}")
}

/// Checks the form's signature and every policy condition; fields the policy does not mention
/// are refused, as AWS refuses them.
pub fn verify(
    form: &Preamble,
    bucket: &str,
    store: &CredentialStore,
    now: SystemTime,
) -> Result<VerifiedPost, S3Error> {
    let policy_b64 = form.field("policy").ok_or_else(|| {
        s3_error!(
            AccessDenied,
            "Anonymous POST uploads are not allowed: the form has no policy."
        )
    })?;
    let (user, signature_v2) = verify_signature(form, policy_b64, store)?;
    let policy_json = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidPolicyDocument,
                "Invalid Policy: the policy is not base64-encoded JSON."
            )
        })?;
    let expiration = policy_json
        .get("expiration")
        .and_then(Value::as_str)
        // ISO 8601 as S3 writes it (`2030-01-01T00:00:00.000Z`): RFC 3339's other spellings
        // (a space for the `T`) are not accepted.
        .filter(|s| s.as_bytes().get(10) == Some(&b'T'))
        .and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
        .ok_or_else(|| {
            s3_error!(
                InvalidPolicyDocument,
                "Invalid Policy: Invalid 'expiration' value."
            )
        })?;
    if now > SystemTime::from(expiration) {
        return Err(denied("Policy expired."));
    }
    let conditions = policy_json
        .get("conditions")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            s3_error!(
                InvalidPolicyDocument,
                "Invalid Policy: the policy has no 'conditions' list."
            )
        })?;
    if conditions.is_empty() {
        return Err(s3_error!(
            InvalidPolicyDocument,
            "Invalid Policy: the policy's 'conditions' list is empty."
        ));
    }

    let raw_key = form.field("key").ok_or_else(|| {
        s3_error!(
            InvalidArgument,
            "Bucket POST must contain a field named 'key'."
        )
    })?;
    let key = match &form.file_name {
        Some(name) => raw_key.replace("${filename}", name),
        None => raw_key.to_owned(),
    };
    if key.is_empty() {
        return Err(s3_error!(InvalidArgument, "The key field is empty."));
    }
    let value_of = |name: &str| -> Option<String> {
        match name.to_ascii_lowercase().as_str() {
            "bucket" => Some(bucket.to_owned()),
            "key" => Some(key.clone()),
            other => form.field(other).map(str::to_owned),
        }
    };
    let mut covered: Vec<String> = vec!["bucket".into()];
    let mut length_range = None;
    for condition in conditions {
        match condition {
            // `{}` states nothing: an invalid condition, not one that always holds.
            Value::Object(map) if map.is_empty() => return Err(policy_error(condition)),
            Value::Object(map) => {
                for (name, want) in map {
                    let want = want.as_str().ok_or_else(|| policy_error(condition))?;
                    if value_of(name).as_deref() != Some(want) {
                        return Err(denied(format!(
                            "Policy Condition failed: [\"eq\", \"${name}\", \"{want}\"]"
                        )));
                    }
                    covered.push(name.to_ascii_lowercase());
                }
            }
            Value::Array(items) => match items
                .first()
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("content-length-range") => {
                    let bound = |i: usize| items.get(i).and_then(Value::as_u64);
                    let (Some(min), Some(max)) = (bound(1), bound(2)) else {
                        return Err(policy_error(condition));
                    };
                    length_range = Some((min, max));
                }
                Some(op @ ("eq" | "starts-with")) => {
                    let (Some(field), Some(want)) = (
                        items
                            .get(1)
                            .and_then(Value::as_str)
                            .and_then(|f| f.strip_prefix('$')),
                        items.get(2).and_then(Value::as_str),
                    ) else {
                        return Err(policy_error(condition));
                    };
                    let have = value_of(field).unwrap_or_default();
                    let ok = if op == "eq" {
                        have == want
                    } else {
                        have.starts_with(want)
                    };
                    if !ok {
                        return Err(denied(format!(
                            "Policy Condition failed: [\"{op}\", \"${field}\", \"{want}\"]"
                        )));
                    }
                    covered.push(field.to_ascii_lowercase());
                }
                _ => return Err(policy_error(condition)),
            },
            _ => return Err(policy_error(condition)),
        }
    }
    let exempt = |n: &str| {
        matches!(
            n,
            "policy" | "x-amz-signature" | "signature" | "awsaccesskeyid" | "file"
        ) || n.starts_with("x-ignore-")
    };
    for (name, _) in &form.fields {
        let lower = name.to_ascii_lowercase();
        if !exempt(&lower) && !covered.contains(&lower) {
            return Err(denied(format!("Extra input fields: {name}")));
        }
    }
    Ok(VerifiedPost {
        user,
        key,
        length_range,
        signature_v2,
    })
}

fn policy_error(condition: &Value) -> S3Error {
    s3_error!(
        InvalidPolicyDocument,
        "Invalid Policy: Invalid condition: {condition}"
    )
}

fn verify_signature(
    form: &Preamble,
    policy_b64: &str,
    store: &CredentialStore,
) -> Result<(Arc<User>, bool), S3Error> {
    let mismatch = || {
        s3_error!(
            SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        )
    };
    if let Some(algorithm) = form.field("x-amz-algorithm") {
        if algorithm != sigv4::ALGORITHM {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-algorithm must be {}.",
                sigv4::ALGORITHM
            ));
        }
        let missing = |f: &str| {
            s3_error!(
                InvalidArgument,
                "Bucket POST must contain a field named '{f}'."
            )
        };
        let credential = form
            .field("x-amz-credential")
            .ok_or_else(|| missing("x-amz-credential"))?;
        let date = form
            .field("x-amz-date")
            .ok_or_else(|| missing("x-amz-date"))?;
        let signature = form
            .field("x-amz-signature")
            .ok_or_else(|| missing("x-amz-signature"))?;
        let mut parts = credential.splitn(5, '/');
        let (Some(access_key), Some(day), Some(region), Some(service), Some("aws4_request")) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(s3_error!(
                InvalidArgument,
                "The x-amz-credential field is malformed."
            ));
        };
        let user = sigv4::lookup(store, access_key)?;
        let time = parse_amz_date(date)
            .ok_or_else(|| s3_error!(InvalidArgument, "The x-amz-date field is malformed."))?;
        if !date.starts_with(day) {
            return Err(s3_error!(
                InvalidArgument,
                "The x-amz-credential date does not match x-amz-date."
            ));
        }
        let key = store.signing_key(user, day, time, region, service);
        if !signature_matches(signature, &hmac_sha256(&key, policy_b64.as_bytes())) {
            return Err(mismatch());
        }
        return Ok((user.clone(), false));
    }
    match (form.field("AWSAccessKeyId"), form.field("signature")) {
        (Some(access_key), Some(signature)) => {
            let user = sigv4::lookup(store, access_key)?;
            if !crate::auth::sigv2::signature_matches(user, policy_b64.as_bytes(), signature) {
                return Err(mismatch());
            }
            Ok((user.clone(), true))
        }
        // A policy without its signature is a malformed form, not an anonymous one (S3: 400).
        (Some(_), None) => Err(s3_error!(
            InvalidArgument,
            "Bucket POST must contain a field named 'Signature'."
        )),
        (None, _) => Err(s3_error!(
            InvalidArgument,
            "Bucket POST must contain a field named 'AWSAccessKeyId' (V2) or 'x-amz-credential' (V4)."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::credentials::SecretKey;

    fn store() -> CredentialStore {
        CredentialStore::new([User {
            id: "u".into(),
            display_name: "u".into(),
            access_key: "AK".into(),
            secret_key: SecretKey::new("secret"),
            grants: Vec::new(),
        }])
    }

    fn v4_form(policy: &str, extra: &[(&str, &str)], key: &str) -> Preamble {
        let b64 = base64::engine::general_purpose::STANDARD.encode(policy);
        let time = parse_amz_date("20260101T000000Z").unwrap();
        let user = store();
        let signing = user.signing_key(user.user("AK").unwrap(), "20260101", time, "nyc3", "s3");
        let sig = hex::encode(hmac_sha256(&signing, b64.as_bytes()));
        let mut fields: Vec<(String, String)> = vec![
            ("key".into(), key.into()),
            ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
            (
                "x-amz-credential".into(),
                "AK/20260101/nyc3/s3/aws4_request".into(),
            ),
            ("x-amz-date".into(), "20260101T000000Z".into()),
            ("policy".into(), b64),
            ("x-amz-signature".into(), sig),
        ];
        fields.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        Preamble {
            fields,
            file_name: Some("photo.jpg".into()),
            file_content_type: None,
            file_offset: 0,
        }
    }

    const POLICY: &str = r#"{"expiration": "2026-01-02T00:00:00.000Z", "conditions": [
        {"bucket": "b"}, ["starts-with", "$key", "user/"], {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
        {"x-amz-credential": "AK/20260101/nyc3/s3/aws4_request"}, {"x-amz-date": "20260101T000000Z"},
        ["content-length-range", 1, 1000], ["starts-with", "$Content-Type", "image/"]]}"#;

    fn now() -> SystemTime {
        parse_amz_date("20260101T010000Z").unwrap()
    }

    #[test]
    fn a_good_v4_form_passes_with_filename_substitution() {
        let form = v4_form(
            POLICY,
            &[("Content-Type", "image/jpeg")],
            "user/${filename}",
        );
        let v = verify(&form, "b", &store(), now()).unwrap();
        assert_eq!(v.key, "user/photo.jpg");
        assert_eq!(v.length_range, Some((1, 1000)));
    }

    #[test]
    fn conditions_are_enforced() {
        let cases = [
            (
                v4_form(POLICY, &[("Content-Type", "text/html")], "user/x"),
                "b",
                "AccessDenied",
            ),
            (
                v4_form(POLICY, &[("Content-Type", "image/png")], "other/x"),
                "b",
                "AccessDenied",
            ),
            (
                v4_form(POLICY, &[("Content-Type", "image/png")], "user/x"),
                "c",
                "AccessDenied",
            ),
            (
                v4_form(
                    POLICY,
                    &[("Content-Type", "image/png"), ("acl", "public-read")],
                    "user/x",
                ),
                "b",
                "AccessDenied",
            ),
        ];
        for (form, bucket, code) in cases {
            assert_eq!(
                verify(&form, bucket, &store(), now())
                    .unwrap_err()
                    .code()
                    .as_str(),
                code
            );
        }
        let late = parse_amz_date("20260103T000000Z").unwrap();
        let form = v4_form(POLICY, &[("Content-Type", "image/png")], "user/x");
        assert!(
            verify(&form, "b", &store(), late)
                .unwrap_err()
                .message()
                .contains("expired")
        );
    }

    #[test]
    fn a_tampered_policy_is_signature_does_not_match() {
        let mut form = v4_form(POLICY, &[("Content-Type", "image/png")], "user/x");
        let other =
            base64::engine::general_purpose::STANDARD.encode(POLICY.replace("1000", "9999999"));
        for (n, v) in form.fields.iter_mut() {
            if n == "policy" {
                *v = other.clone();
            }
        }
        assert_eq!(
            verify(&form, "b", &store(), now())
                .unwrap_err()
                .code()
                .as_str(),
            "SignatureDoesNotMatch"
        );
    }
}
