//! The gateway's own key store: who holds which access key.
//!
//! Secrets never print: [`SecretKey`] redacts itself in `Debug`, and nothing else exposes it but
//! [`SecretKey::expose`], used only to derive signing keys. Derived SigV4 signing keys are cached
//! per (access key, date, region, service) — they are valid for the whole UTC day — so a request
//! costs one HMAC instead of five.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use moka::sync::Cache;

/// A secret access key. Redacted in `Debug`; no `Display`, no `PartialEq`.
#[derive(Clone)]
pub struct SecretKey(Arc<str>);

impl SecretKey {
    pub fn new(secret: impl Into<Arc<str>>) -> Self {
        SecretKey(secret.into())
    }

    /// The secret itself, for key derivation only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A user of the gateway, as configured in `[[users]]`.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub access_key: String,
    pub secret_key: SecretKey,
    /// Access to other users' buckets, like Spaces' limited-access keys (`[[users]] grants`).
    pub grants: Vec<BucketGrant>,
}

/// A level of access to a bucket granted to a user who does not own it (Spaces' limited keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Reading objects and listings.
    Read,
    /// Reading, writing and deleting objects.
    Readwrite,
    /// Everything the owner may do but delete the bucket.
    Full,
}

/// Access a user has to a bucket it does not own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketGrant {
    pub bucket: String,
    pub access: Access,
}

/// Access key -> user, plus the signing-key cache derived from those users' secrets.
///
/// Built anew on every (re)load, so a rotated secret never meets a stale cached key.
pub struct CredentialStore {
    by_access_key: HashMap<String, Arc<User>>,
    /// `None` derives every key anew (benchmarks measure the difference).
    signing_keys: Option<Cache<String, [u8; 32]>>,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("users", &self.by_access_key.len())
            .finish_non_exhaustive()
    }
}

impl CredentialStore {
    pub fn new(users: impl IntoIterator<Item = User>) -> Self {
        // A key lives one UTC day; clients near midnight may use yesterday's for a while.
        let cache = Cache::builder()
            .max_capacity(100_000)
            .time_to_live(Duration::from_secs(26 * 3600))
            .build();
        CredentialStore {
            by_access_key: Self::index(users),
            signing_keys: Some(cache),
        }
    }

    /// A store that derives every signing key anew: the baseline the cache is measured against.
    pub fn uncached(users: impl IntoIterator<Item = User>) -> Self {
        CredentialStore {
            by_access_key: Self::index(users),
            signing_keys: None,
        }
    }

    fn index(users: impl IntoIterator<Item = User>) -> HashMap<String, Arc<User>> {
        users
            .into_iter()
            .map(|u| (u.access_key.clone(), Arc::new(u)))
            .collect()
    }

    /// The display name of the user with this id (bucket owners are recorded by id).
    pub fn display_name(&self, id: &str) -> Option<&str> {
        self.by_access_key
            .values()
            .find(|u| u.id == id)
            .map(|u| u.display_name.as_str())
    }

    pub fn user(&self, access_key: &str) -> Option<&Arc<User>> {
        self.by_access_key.get(access_key)
    }

    /// The SigV4 signing key for `user` and a credential scope (`date` is `YYYYMMDD`).
    pub fn signing_key(
        &self,
        user: &User,
        date: &str,
        time: SystemTime,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        let derive = || derive_signing_key(&user.secret_key, time, region, service);
        match &self.signing_keys {
            Some(cache) => cache.get_with(
                format!("{}/{date}/{region}/{service}", user.access_key),
                derive,
            ),
            None => derive(),
        }
    }

    /// Derives a signing key without the cache (benchmarks compare the two).
    pub fn signing_key_uncached(
        user: &User,
        time: SystemTime,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        derive_signing_key(&user.secret_key, time, region, service)
    }
}

/// The SigV4 signing key of `secret` for the day of `time` (aws-sigv4's derivation).
pub(crate) fn derive_signing_key(
    secret: &SecretKey,
    time: SystemTime,
    region: &str,
    service: &str,
) -> [u8; 32] {
    let key = aws_sigv4::sign::v4::generate_signing_key(secret.expose(), time, region, service);
    let mut out = [0u8; 32];
    out.copy_from_slice(key.as_ref());
    out
}

/// The AWS documentation's example user (`AKIAIOSFODNN7EXAMPLE`), for tests driven by AWS's
/// published examples.
#[cfg(test)]
pub fn doc_user() -> User {
    User {
        id: "doc".into(),
        display_name: "doc".into(),
        access_key: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_key: SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        grants: Vec::new(),
    }
}

/// A header map from name/value pairs, for tests built from published examples.
#[cfg(test)]
pub fn header_map(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (n, v) in pairs {
        h.append(
            *n,
            http::HeaderValue::from_str(v).expect("test header values are valid"),
        );
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let user = User {
            id: "u".into(),
            display_name: "U".into(),
            access_key: "AK".into(),
            secret_key: SecretKey::new("very-secret-value"),
            grants: Vec::new(),
        };
        let printed = format!("{user:?} {:?}", CredentialStore::new([user.clone()]));
        assert!(!printed.contains("very-secret-value"), "{printed}");
        assert!(printed.contains("redacted"));
    }
}
