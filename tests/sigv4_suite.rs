//! The AWS SigV4 signing test suite shipped inside the `aws-sigv4` crate, run through the
//! gateway's verifier: one test per vector and signature location. The verifier applies S3's
//! rules (single encoding, no path normalisation), so vectors that need other services' rules
//! are marked `#[ignore]` with the reason — and a companion test checks that each of them really
//! fails, so a skip can never hide a vector we would pass.

use std::path::PathBuf;
use std::time::SystemTime;

use bucketgate::auth::credentials::{CredentialStore, SecretKey, User};
use bucketgate::auth::sigv4::{self, AuthorizationV4, SignedParts};
use bucketgate::s3::uri::{self, Query};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

/// The suite's folder inside the resolved aws-sigv4 crate.
fn suite_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(find_suite_dir).clone()
}

fn find_suite_dir() -> PathBuf {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "aws-sigv4")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("aws-sigv4 is a dependency");
    PathBuf::from(manifest)
        .parent()
        .unwrap()
        .join("aws-signing-test-suite/v4")
}

struct Vector {
    method: String,
    raw_path: String,
    raw_query: String,
    headers: HeaderMap,
    body: Vec<u8>,
    store: CredentialStore,
    now: SystemTime,
}

fn load(name: &str, file: &str) -> Result<Vector, String> {
    let dir = suite_dir().join(name);
    let context: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("context.json"))
            .map_err(|e| format!("context.json: {e}"))?,
    )
    .map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().ok_or("empty request")?;
    let mut words = request_line.splitn(2, ' ');
    let method = words.next().unwrap().to_owned();
    let target = words
        .next()
        .ok_or("no target")?
        .rsplit_once(' ')
        .ok_or("no version")?
        .0;
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HeaderMap::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return Err("obs-fold continuation line".into());
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header {line:?}"))?;
        headers.append(
            HeaderName::from_bytes(n.trim().as_bytes()).map_err(|e| e.to_string())?,
            HeaderValue::from_str(v.trim()).map_err(|e| e.to_string())?,
        );
    }
    let creds = &context["credentials"];
    let store = CredentialStore::new([User {
        id: "suite".into(),
        display_name: "suite".into(),
        access_key: creds["access_key_id"].as_str().unwrap().into(),
        secret_key: SecretKey::new(creds["secret_access_key"].as_str().unwrap()),
        grants: Vec::new(),
    }]);
    let ts = context["timestamp"]
        .as_str()
        .unwrap()
        .replace(['-', ':'], "");
    let now = sigv4::parse_amz_date(&ts).ok_or("bad timestamp")?;
    Ok(Vector {
        method,
        raw_path: raw_path.to_owned(),
        raw_query: raw_query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
        store,
        now,
    })
}

fn verify(name: &str, presigned: bool) -> Result<(), String> {
    let file = if presigned {
        "query-signed-request.txt"
    } else {
        "header-signed-request.txt"
    };
    let v = load(name, file)?;
    let decoded_path = uri::decode(&v.raw_path).map_err(|e| e.to_string())?;
    let query = Query::parse(&v.raw_query).map_err(|e| e.to_string())?;
    let parts = SignedParts {
        method: &v.method,
        decoded_path: &decoded_path,
        raw_path: &v.raw_path,
        host_bucket: None,
        query: &query,
        headers: &v.headers,
    };
    // These vectors are for a generic service: the payload hash is always the body's SHA-256.
    let payload = hex::encode(Sha256::digest(&v.body));
    let result = if presigned {
        sigv4::verify_presigned(&parts, &payload, &v.store, v.now)
    } else {
        let auth = v
            .headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .ok_or("no Authorization")?;
        let auth = AuthorizationV4::parse(auth).map_err(|e| e.to_string())?;
        sigv4::verify_header(&parts, &auth, &payload, &v.store, v.now)
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// Declares the header and presigned tests of one vector. `skip = "why"` marks a vector whose
/// rules S3 does not use (both forms), `skip_presigned = "why"` only its presigned form; a
/// skipped vector gets a test asserting that it does fail, so no skip outlives its reason.
macro_rules! vectors {
    ($($test:ident: $name:literal $(, $kind:ident = $why:literal)?;)+) => {
        mod header {
            $(vectors!(@header $test, $name $(, $kind, $why)?);)+
        }
        mod presigned {
            $(vectors!(@presigned $test, $name $(, $kind, $why)?);)+
        }
    };
    (@header $test:ident, $name:literal, skip, $why:literal) => { vectors!(@fails $test, $name, false, $why); };
    (@header $test:ident, $name:literal $(, skip_presigned, $why:literal)?) => { vectors!(@passes $test, $name, false); };
    (@presigned $test:ident, $name:literal) => { vectors!(@passes $test, $name, true); };
    (@presigned $test:ident, $name:literal, $kind:ident, $why:literal) => {
        vectors!(@fails $test, $name, true, $why);
    };
    (@passes $test:ident, $name:literal, $presigned:expr) => {
        #[test]
        fn $test() {
            super::verify($name, $presigned).unwrap_or_else(|e| panic!("{}: {e}", $name));
        }
    };
    (@fails $test:ident, $name:literal, $presigned:expr, $why:literal) => {
        #[test]
        #[doc = $why]
        fn $test() {
            assert!(
                super::verify($name, $presigned).is_err(),
                "{} now verifies, so its skip ({}) is stale: remove it",
                $name,
                $why
            );
        }
    };
}

vectors! {
    double_encode_path: "double-encode-path",
        skip = "double URI encoding of the path (other services); S3 encodes once";
    double_url_encode: "double-url-encode",
        skip = "double URI encoding of the path (other services); S3 encodes once";
    get_header_key_duplicate: "get-header-key-duplicate";
    get_header_value_multiline: "get-header-value-multiline",
        skip = "obs-fold continuation lines are rejected by HTTP parsers (RFC 9112 section 5.2) before auth";
    get_header_value_order: "get-header-value-order";
    get_header_value_trim: "get-header-value-trim";
    get_relative_normalized: "get-relative-normalized",
        skip = "dot-segment normalisation of the path, which S3 never applies";
    get_relative_relative_normalized: "get-relative-relative-normalized",
        skip = "dot-segment normalisation of the path, which S3 never applies";
    get_relative_relative_unnormalized: "get-relative-relative-unnormalized";
    get_relative_unnormalized: "get-relative-unnormalized";
    get_slash_dot_slash_normalized: "get-slash-dot-slash-normalized",
        skip = "dot-segment normalisation of the path, which S3 never applies";
    get_slash_dot_slash_unnormalized: "get-slash-dot-slash-unnormalized";
    get_slash_normalized: "get-slash-normalized",
        skip = "slash-merging normalisation of the path, which S3 never applies";
    get_slash_pointless_dot_normalized: "get-slash-pointless-dot-normalized",
        skip = "dot-segment normalisation of the path, which S3 never applies";
    get_slash_pointless_dot_unnormalized: "get-slash-pointless-dot-unnormalized";
    get_slash_unnormalized: "get-slash-unnormalized";
    get_slashes_normalized: "get-slashes-normalized",
        skip = "slash-merging normalisation of the path, which S3 never applies";
    get_slashes_unnormalized: "get-slashes-unnormalized";
    get_space_normalized: "get-space-normalized";
    get_space_unnormalized: "get-space-unnormalized";
    get_unreserved: "get-unreserved";
    get_utf8: "get-utf8";
    get_vanilla: "get-vanilla";
    get_vanilla_empty_query_key: "get-vanilla-empty-query-key";
    get_vanilla_query: "get-vanilla-query";
    get_vanilla_query_order_encoded: "get-vanilla-query-order-encoded";
    get_vanilla_query_order_key_case: "get-vanilla-query-order-key-case";
    get_vanilla_query_unreserved: "get-vanilla-query-unreserved";
    get_vanilla_utf8_query: "get-vanilla-utf8-query";
    get_vanilla_with_session_token: "get-vanilla-with-session-token";
    post_header_key_case: "post-header-key-case";
    post_header_key_sort: "post-header-key-sort";
    post_header_value_case: "post-header-value-case";
    post_sts_header_after: "post-sts-header-after",
        skip_presigned = "the session token is appended after signing (SessionTokenMode::Exclude); S3 signs X-Amz-Security-Token";
    post_sts_header_before: "post-sts-header-before";
    post_vanilla: "post-vanilla";
    post_vanilla_empty_query_value: "post-vanilla-empty-query-value";
    post_vanilla_query: "post-vanilla-query";
    post_x_www_form_urlencoded: "post-x-www-form-urlencoded";
    post_x_www_form_urlencoded_parameters: "post-x-www-form-urlencoded-parameters";
}

#[test]
fn every_vector_in_the_suite_is_listed() {
    let listed = include_str!("sigv4_suite.rs");
    for entry in std::fs::read_dir(suite_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            listed.contains(&format!("\"{name}\"")),
            "vector {name} is not listed in this file"
        );
    }
}
