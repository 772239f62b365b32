//! The compatibility profile: which S3 operations exist, as data.
//!
//! `policies/spaces.toml` (built in; `[server] profile` may name another file) gives every
//! [`S3Op`] one [`Verdict`]. The code interprets verdicts; it has no per-operation "unsupported"
//! special cases. A profile that misses an operation or names an unknown one does not load.

pub mod route;

use std::collections::HashMap;

use http::HeaderMap;
use serde::Deserialize;

use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3::request::S3Request;
use crate::s3_error;

/// The built-in DigitalOcean Spaces profile.
pub const SPACES: &str = include_str!("../../policies/spaces.toml");

/// Every canned ACL S3 defines.
const S3_CANNED_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "aws-exec-read",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

/// What the gateway does with one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Re-signed and forwarded to the backend.
    Proxy,
    /// Answered by the gateway itself.
    Gateway,
    /// Not part of the profile: 501 NotImplemented.
    NotImplemented,
    /// Part of the profile but not built yet: 501 NotImplemented, saying so.
    NotYet,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    operations: HashMap<String, Verdict>,
    acl: AclRules,
    encryption: EncryptionRules,
    limits: Limits,
}

/// Which access-control elements requests may carry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRules {
    /// Canned ACLs accepted in `x-amz-acl`.
    pub canned: Vec<String>,
}

/// Which server-side encryption modes requests may ask for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionRules {
    /// Customer-provided keys (SSE-C). SSE-S3 and SSE-KMS are never passed on.
    pub sse_c: bool,
}

/// Size and count limits, each answered with its AWS error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_key_bytes: usize,
    pub max_metadata_bytes: usize,
    pub max_put_bytes: u64,
    pub max_part_number: u32,
    pub max_buckets_per_user: usize,
}

/// A loaded, complete profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    verdicts: HashMap<S3Op, Verdict>,
    pub acl: AclRules,
    pub encryption: EncryptionRules,
    pub limits: Limits,
}

impl Profile {
    /// Parses a profile and checks that it gives every operation exactly one verdict.
    pub fn from_toml(text: &str) -> Result<Profile, String> {
        let raw: RawProfile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut verdicts = HashMap::new();
        for (name, verdict) in raw.operations {
            let op = S3Op::from_name(&name)
                .ok_or_else(|| format!("operations.{name}: no such S3 operation"))?;
            if op == S3Op::Unknown {
                return Err(
                    "operations.Unknown: unknown requests are always NotImplemented".into(),
                );
            }
            // The verdict must agree with where the code sends the operation.
            let fits = matches!(
                (route::route(op).verdict_name(), verdict),
                (_, Verdict::NotImplemented | Verdict::NotYet)
                    | (Some("proxy"), Verdict::Proxy)
                    | (Some("gateway"), Verdict::Gateway)
            );
            if !fits {
                return Err(match route::route(op).verdict_name() {
                    Some(expected) => format!(
                        "operations.{name}: the gateway {} this operation; its verdict must be \"{expected}\", \"not_implemented\" or \"not_yet\"",
                        if expected == "proxy" {
                            "forwards"
                        } else {
                            "answers"
                        }
                    ),
                    None => format!(
                        "operations.{name}: this gateway does not implement it; its verdict must be \"not_implemented\" or \"not_yet\""
                    ),
                });
            }
            verdicts.insert(op, verdict);
        }
        let missing: Vec<&str> = S3Op::ALL
            .iter()
            .filter(|op| **op != S3Op::Unknown && !verdicts.contains_key(op))
            .map(|op| op.name())
            .collect();
        if !missing.is_empty() {
            return Err(format!("operations: no verdict for {}", missing.join(", ")));
        }
        Ok(Profile {
            name: raw.name,
            verdicts,
            acl: raw.acl,
            encryption: raw.encryption,
            limits: raw.limits,
        })
    }

    pub fn spaces() -> Profile {
        Profile::from_toml(SPACES).expect("the built-in profile is checked by a unit test")
    }

    pub fn verdict(&self, op: S3Op) -> Verdict {
        self.verdicts
            .get(&op)
            .copied()
            .unwrap_or(Verdict::NotImplemented)
    }

    /// Ok for operations the gateway handles; the 501 error otherwise.
    pub fn admit(&self, op: S3Op) -> Result<Verdict, S3Error> {
        match self.verdict(op) {
            v @ (Verdict::Proxy | Verdict::Gateway) => Ok(v),
            Verdict::NotImplemented if op == S3Op::Unknown => Err(s3_error!(
                NotImplemented,
                "A header or query you provided implies functionality that is not implemented."
            )),
            Verdict::NotImplemented => Err(s3_error!(
                NotImplemented,
                "{} is not supported by the {} profile of this endpoint.",
                op.name(),
                self.name
            )),
            Verdict::NotYet => Err(s3_error!(
                NotImplemented,
                "{} is not implemented by this gateway yet.",
                op.name()
            )),
        }
    }

    /// Checks what a request carries against the profile's element rules and limits: canned
    /// ACLs, grant headers, encryption modes, object lock and MFA, key and metadata sizes, part
    /// numbers, body size and bucket names.
    pub fn check_request(
        &self,
        op: S3Op,
        request: &S3Request,
        headers: &HeaderMap,
    ) -> Result<(), S3Error> {
        use S3Op::*;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(acl) = header("x-amz-acl")
            && !self.acl.canned.iter().any(|c| c == acl)
        {
            // A canned ACL S3 knows but the profile leaves out is a feature Spaces lacks (501);
            // anything else is no canned ACL at all (400, as S3 answers it).
            return Err(if S3_CANNED_ACLS.contains(&acl) {
                s3_error!(
                    NotImplemented,
                    "The canned ACL {acl:?} is not supported; use one of: {}.",
                    self.acl.canned.join(", ")
                )
            } else {
                s3_error!(InvalidArgument, "{acl:?} is not a canned ACL.")
            });
        }
        for name in headers.keys().map(|n| n.as_str()) {
            if name.starts_with("x-amz-grant-") {
                return Err(s3_error!(
                    NotImplemented,
                    "ACL grant headers ({name}) are not supported; use a canned ACL."
                ));
            }
            if name.starts_with("x-amz-object-lock-") || name == "x-amz-bucket-object-lock-enabled"
            {
                return Err(s3_error!(
                    NotImplemented,
                    "Object Lock ({name}) is not supported."
                ));
            }
            if name == "x-amz-mfa" {
                return Err(s3_error!(
                    NotImplemented,
                    "MFA delete (x-amz-mfa) is not supported."
                ));
            }
            if matches!(
                name,
                "x-amz-server-side-encryption"
                    | "x-amz-server-side-encryption-aws-kms-key-id"
                    | "x-amz-server-side-encryption-context"
                    | "x-amz-server-side-encryption-bucket-key-enabled"
            ) {
                let mode = header(name).unwrap_or("");
                return Err(s3_error!(
                    NotImplemented,
                    "Server-side encryption {name}: {mode} (SSE-S3/SSE-KMS) is not supported; only SSE-C is."
                ));
            }
            if !self.encryption.sse_c && name.starts_with("x-amz-server-side-encryption-customer-")
            {
                return Err(s3_error!(
                    NotImplemented,
                    "Server-side encryption with customer keys is not supported."
                ));
            }
        }
        if op == CreateBucket
            && let Some(bucket) = &request.bucket
            && !crate::s3::names::is_valid_bucket_name(bucket)
        {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid: {bucket:?}."
            ));
        }
        if let Some(key) = &request.key
            && key.len() > self.limits.max_key_bytes
        {
            return Err(s3_error!(
                KeyTooLongError,
                "Your key is too long: {} bytes, at most {}.",
                key.len(),
                self.limits.max_key_bytes
            ));
        }
        if matches!(
            op,
            PutObject | CopyObject | CreateMultipartUpload | PostObject
        ) {
            let metadata: usize = headers
                .iter()
                .filter_map(|(n, v)| {
                    n.as_str()
                        .strip_prefix("x-amz-meta-")
                        .map(|k| k.len() + v.len())
                })
                .sum();
            if metadata > self.limits.max_metadata_bytes {
                return Err(s3_error!(
                    MetadataTooLarge,
                    "Your metadata headers exceed the maximum allowed metadata size ({metadata} bytes; at most {}).",
                    self.limits.max_metadata_bytes
                ));
            }
        }
        if matches!(op, PutObject | UploadPart) {
            let length = header("x-amz-decoded-content-length")
                .or_else(|| header("content-length"))
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(length) = length
                && length > self.limits.max_put_bytes
            {
                return Err(s3_error!(
                    EntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed size ({length} bytes; at most {}).",
                    self.limits.max_put_bytes
                ));
            }
        }
        if matches!(op, UploadPart | UploadPartCopy) {
            let part = request
                .query
                .get("partNumber")
                .and_then(|p| p.parse::<u32>().ok());
            if !part.is_some_and(|p| (1..=self.limits.max_part_number).contains(&p)) {
                return Err(s3_error!(
                    InvalidArgument,
                    "Part number must be an integer between 1 and {}, inclusive.",
                    self.limits.max_part_number
                ));
            }
        }
        Ok(())
    }

    /// Every operation with its verdict, sorted by name (the README's compatibility matrix).
    pub fn table(&self) -> Vec<(S3Op, Verdict)> {
        let mut rows: Vec<_> = self.verdicts.iter().map(|(o, v)| (*o, *v)).collect();
        rows.sort_by_key(|(o, _)| o.name());
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::request::HostRules;

    #[test]
    fn the_spaces_profile_covers_every_operation() {
        let p = Profile::from_toml(SPACES).unwrap();
        assert_eq!(p.verdict(S3Op::PutObject), Verdict::Proxy);
        assert_eq!(
            p.verdict(S3Op::PutBucketEncryption),
            Verdict::NotImplemented
        );
        assert_eq!(
            p.admit(S3Op::GetBucketReplication).unwrap_err().status(),
            501
        );
        assert_eq!(
            p.admit(S3Op::Unknown).unwrap_err().code().as_str(),
            "NotImplemented"
        );
    }

    fn check(op: S3Op, target: &str, headers: &[(&str, &str)]) -> Result<(), S3Error> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let request =
            S3Request::parse(&HostRules::new("nyc3", "example.test"), "h", path, query).unwrap();
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Profile::spaces().check_request(op, &request, &map)
    }

    fn code(r: Result<(), S3Error>) -> String {
        r.map_or_else(|e| e.code().as_str().to_owned(), |()| "ok".to_owned())
    }

    #[test]
    fn element_rules_answer_not_implemented_naming_the_element() {
        assert_eq!(
            code(check(
                S3Op::PutObject,
                "/b/k",
                &[("x-amz-acl", "public-read")]
            )),
            "ok"
        );
        assert_eq!(
            code(check(S3Op::PutObject, "/b/k", &[("x-amz-acl", "private")])),
            "ok"
        );
        let e = check(
            S3Op::PutObject,
            "/b/k",
            &[("x-amz-acl", "authenticated-read")],
        )
        .unwrap_err();
        assert_eq!(
            (
                e.code().as_str(),
                e.message().contains("authenticated-read")
            ),
            ("NotImplemented", true)
        );
        let e = check(S3Op::PutObject, "/b/k", &[("x-amz-grant-read", "id=x")]).unwrap_err();
        assert!(e.message().contains("x-amz-grant-read"));
        let e = check(
            S3Op::PutObject,
            "/b/k",
            &[("x-amz-server-side-encryption", "aws:kms")],
        )
        .unwrap_err();
        assert_eq!(e.code().as_str(), "NotImplemented");
        assert_eq!(
            code(check(
                S3Op::PutObject,
                "/b/k",
                &[("x-amz-server-side-encryption-customer-algorithm", "AES256")]
            )),
            "ok"
        );
        assert_eq!(
            code(check(
                S3Op::CreateBucket,
                "/b",
                &[("x-amz-bucket-object-lock-enabled", "true")]
            )),
            "NotImplemented"
        );
        assert_eq!(
            code(check(
                S3Op::DeleteObject,
                "/b/k",
                &[("x-amz-mfa", "123 456")]
            )),
            "NotImplemented"
        );
    }

    #[test]
    fn limits_answer_their_aws_errors() {
        assert_eq!(
            code(check(S3Op::CreateBucket, "/Bad_Name", &[])),
            "InvalidBucketName"
        );
        assert_eq!(code(check(S3Op::CreateBucket, "/good-name", &[])), "ok");
        let long = format!("/b/{}", "k".repeat(1025));
        assert_eq!(code(check(S3Op::PutObject, &long, &[])), "KeyTooLongError");
        let value = "v".repeat(2048);
        assert_eq!(
            code(check(S3Op::PutObject, "/b/k", &[("x-amz-meta-a", &value)])),
            "MetadataTooLarge"
        );
        assert_eq!(
            code(check(
                S3Op::PutObject,
                "/b/k",
                &[("content-length", "5368709121")]
            )),
            "EntityTooLarge"
        );
        assert_eq!(
            code(check(
                S3Op::PutObject,
                "/b/k",
                &[("content-length", "5368709120")]
            )),
            "ok"
        );
        assert_eq!(
            code(check(
                S3Op::UploadPart,
                "/b/k?partNumber=10001&uploadId=u",
                &[]
            )),
            "InvalidArgument"
        );
        assert_eq!(
            code(check(S3Op::UploadPart, "/b/k?partNumber=0&uploadId=u", &[])),
            "InvalidArgument"
        );
        assert_eq!(
            code(check(
                S3Op::UploadPart,
                "/b/k?partNumber=10000&uploadId=u",
                &[]
            )),
            "ok"
        );
    }

    #[test]
    fn incomplete_and_misspelt_profiles_are_refused() {
        let e = Profile::from_toml(&SPACES.replace("GetObject = \"proxy\"\n", "")).unwrap_err();
        assert!(
            e.contains("no verdict for") && e.contains("GetObject"),
            "{e}"
        );
        let e = Profile::from_toml(&SPACES.replace("GetObject = ", "GetObjekt = ")).unwrap_err();
        assert!(e.contains("GetObjekt"), "{e}");
        let e =
            Profile::from_toml(&SPACES.replace("GetObject = \"proxy\"", "GetObject = \"maybe\""))
                .unwrap_err();
        assert!(e.contains("maybe"), "{e}");
    }

    #[test]
    fn verdicts_must_match_the_routes_of_the_code() {
        let e = Profile::from_toml(
            &SPACES.replace("GetBucketAcl = \"gateway\"", "GetBucketAcl = \"proxy\""),
        )
        .unwrap_err();
        assert!(
            e.contains("GetBucketAcl") && e.contains("\"gateway\""),
            "{e}"
        );
        let e =
            Profile::from_toml(&SPACES.replace("GetObject = \"proxy\"", "GetObject = \"gateway\""))
                .unwrap_err();
        assert!(e.contains("GetObject") && e.contains("\"proxy\""), "{e}");
        let e = Profile::from_toml(&SPACES.replace(
            "GetObjectTorrent = \"not_implemented\"",
            "GetObjectTorrent = \"proxy\"",
        ))
        .unwrap_err();
        assert!(e.contains("does not implement"), "{e}");
        // Turning an implemented operation off is always allowed.
        Profile::from_toml(
            &SPACES.replace("GetBucketAcl = \"gateway\"", "GetBucketAcl = \"not_yet\""),
        )
        .unwrap();
    }
}
