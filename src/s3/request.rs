//! Where a request points: addressing style, bucket and key, decoded once.
//!
//! Path-style (`/bucket/key`) is accepted on any host; virtual-hosted style on
//! `<bucket>.<region>.<domain>`; website hosts are `<bucket>.<region>-static.<domain>`.

use crate::s3::error::S3Error;
use crate::s3::uri::{self, Query};
use crate::s3_error;

/// How the client named the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `/bucket/key` on any host.
    Path,
    /// `bucket.<region>.<domain>` with the key as the path.
    VirtualHost,
    /// `bucket.<region>-static.<domain>`: the bucket's website, not the S3 API.
    Website,
}

/// The hostnames the gateway answers as itself, derived from `[server] region` and `domain`.
#[derive(Debug, Clone)]
pub struct HostRules {
    api_suffix: String,
    website_suffix: String,
}

impl HostRules {
    pub fn new(region: &str, domain: &str) -> Self {
        let domain = domain.trim_matches('.').to_ascii_lowercase();
        let region = region.to_ascii_lowercase();
        HostRules {
            api_suffix: format!(".{region}.{domain}"),
            website_suffix: format!(".{region}-static.{domain}"),
        }
    }

    /// Classifies a `Host` value (port ignored, case-insensitive) into an addressing style and,
    /// for virtual-hosted and website hosts, the bucket it names.
    pub fn classify_host(&self, host: &str) -> (Addressing, Option<String>) {
        let name = strip_port(host).to_ascii_lowercase();
        if let Some(bucket) = name
            .strip_suffix(&self.website_suffix)
            .filter(|b| !b.is_empty())
        {
            return (Addressing::Website, Some(bucket.to_owned()));
        }
        if let Some(bucket) = name
            .strip_suffix(&self.api_suffix)
            .filter(|b| !b.is_empty())
        {
            return (Addressing::VirtualHost, Some(bucket.to_owned()));
        }
        (Addressing::Path, None)
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // An IPv6 literal never names a bucket; keep it whole.
        return host;
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// A request's target, decoded: what every later phase reasons about.
#[derive(Debug, Clone)]
pub struct S3Request {
    pub addressing: Addressing,
    pub bucket: Option<String>,
    /// The object key, decoded; `None` for service and bucket requests.
    pub key: Option<String>,
    pub query: Query,
    /// The decoded path exactly as the client addressed it (without the vhost bucket).
    pub decoded_path: String,
}

impl S3Request {
    /// Parses host, raw path and raw query. Fails only on bytes no S3 client sends.
    pub fn parse(
        rules: &HostRules,
        host: &str,
        raw_path: &str,
        raw_query: &str,
    ) -> Result<Self, S3Error> {
        let query = Query::parse(raw_query)?;
        let decoded_path = uri::decode(raw_path)?;
        if !decoded_path.starts_with('/') {
            return Err(s3_error!(
                InvalidURI,
                "Couldn't parse the specified URI: the path must start with '/'."
            ));
        }
        let (addressing, host_bucket) = rules.classify_host(host);
        // A host label that is no bucket name (a `/` in it, say) would name a different
        // path at the backend than the one decided here.
        if let Some(bucket) = &host_bucket
            && !crate::s3::names::is_valid_bucket_name(bucket)
        {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid: {bucket:?}."
            ));
        }
        let (bucket, key) = match host_bucket {
            Some(bucket) => (Some(bucket), non_empty(&decoded_path[1..])),
            None => {
                let rest = &decoded_path[1..];
                match rest.split_once('/') {
                    Some((bucket, key)) => (non_empty(bucket), non_empty(key)),
                    None => (non_empty(rest), None),
                }
            }
        };
        if bucket.is_none() && key.is_some() {
            return Err(s3_error!(
                InvalidURI,
                "Couldn't parse the specified URI: an object key needs a bucket."
            ));
        }
        Ok(S3Request {
            addressing,
            bucket,
            key,
            query,
            decoded_path,
        })
    }

    /// The path-style path for the backend: `/bucket/key`, in canonical S3 encoding.
    pub fn backend_path(&self) -> String {
        let mut path = String::from("/");
        if let Some(bucket) = &self.bucket {
            path.push_str(&uri::encode_component(bucket));
            if let Some(key) = &self.key {
                path.push('/');
                path.push_str(&uri::encode_path(key));
            }
        }
        path
    }

    /// `/bucket` or `/bucket/key`, as S3 names a resource in error documents.
    pub fn resource(&self) -> String {
        self.resource_display().to_string()
    }

    /// [`Self::resource`], written where it is displayed (the request log line) rather than
    /// allocated.
    pub fn resource_display(&self) -> Resource<'_> {
        Resource(self)
    }
}

/// The `/bucket/key` a request names, as displayed (see [`S3Request::resource_display`]).
pub struct Resource<'a>(&'a S3Request);

impl std::fmt::Display for Resource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.0.bucket, &self.0.key) {
            (Some(b), Some(k)) => write!(f, "/{b}/{k}"),
            (Some(b), None) => write!(f, "/{b}"),
            _ => f.write_str("/"),
        }
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> HostRules {
        HostRules::new("nyc3", "example.test")
    }

    #[test]
    fn path_style_on_any_host() {
        let r = S3Request::parse(&rules(), "127.0.0.1:8080", "/bucket/dir/a%20b.txt", "").unwrap();
        assert_eq!(r.addressing, Addressing::Path);
        assert_eq!(r.bucket.as_deref(), Some("bucket"));
        assert_eq!(r.key.as_deref(), Some("dir/a b.txt"));
        assert_eq!(r.backend_path(), "/bucket/dir/a%20b.txt");
    }

    #[test]
    fn service_and_bucket_paths() {
        let r = S3Request::parse(&rules(), "nyc3.example.test", "/", "").unwrap();
        assert_eq!((r.bucket, r.key), (None, None));
        let r = S3Request::parse(&rules(), "nyc3.example.test", "/bucket/", "").unwrap();
        assert_eq!((r.bucket.as_deref(), r.key), (Some("bucket"), None));
    }

    #[test]
    fn virtual_hosted_style() {
        let r = S3Request::parse(&rules(), "Photos.NYC3.example.test:443", "/a//b", "acl").unwrap();
        assert_eq!(r.addressing, Addressing::VirtualHost);
        assert_eq!(r.bucket.as_deref(), Some("photos"));
        assert_eq!(r.key.as_deref(), Some("a//b"));
        assert!(r.query.has("acl"));
        assert_eq!(r.backend_path(), "/photos/a//b");
    }

    #[test]
    fn website_host() {
        let (a, b) = rules().classify_host("site.nyc3-static.example.test");
        assert_eq!((a, b.as_deref()), (Addressing::Website, Some("site")));
    }

    #[test]
    fn keys_with_reserved_characters_round_trip() {
        let r = S3Request::parse(&rules(), "h", "/b/a%2Bb%3Fc%23", "").unwrap();
        assert_eq!(r.key.as_deref(), Some("a+b?c#"));
        assert_eq!(r.backend_path(), "/b/a%2Bb%3Fc%23");
    }
}
