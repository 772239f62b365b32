//! The gateway's own state, kept in the backend so replicas share it.
//!
//! Bucket records live in the system bucket (`[backend] system_bucket`): `buckets/<name>` holds
//! the owner and canned ACL as JSON; `owners/<user>/<name>` is an empty index object, so a user's
//! buckets are one listing away. Multipart checksums (which backends need not keep) live in
//! `part-checksums/<bucket>/<upload>/` (one empty object per verified part, named by its
//! contents) until the upload ends, then in `object-checksums/<bucket>/<etag>/<key>`; a multipart object's part sizes, for
//! backends that cannot read one part, in `object-parts/<bucket>/<etag>/<key>`. Reads are cached for `[server] state_cache_seconds` (default 5):
//! a change made through one replica is honoured by every other replica within that bound, and
//! at once by the replica that made it.

mod cache;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde::{Deserialize, Serialize};

use self::cache::ReadCache;
use crate::s3::acl::CannedAcl;
use crate::s3::error::S3Error;
use crate::s3::object_checksum::{ObjectChecksum, PartChecksum};
use crate::s3::uri;
use crate::s3_error;
use crate::upstream::client::BackendClient;

/// The object metadata entry that records an object's canned ACL (absent: private).
pub const ACL_META: &str = "x-amz-meta-bucketgate-acl";
/// The gateway's own object metadata entries: no client sets them, no answer shows them.
pub const RESERVED_META: &[&str] = &[ACL_META, CHECKSUM_META, WRITER_META, TAGGING_META];
/// The object metadata entry naming the user who wrote the object when that is not the
/// bucket's owner (a bucket policy let them): the writer may read what it wrote.
pub const WRITER_META: &str = "x-amz-meta-bucketgate-writer";
/// The object metadata entry holding the checksum its upload was verified against
/// (`<ALGORITHM> <base64>`): backends need not keep checksums, so the gateway does, as it keeps
/// the ACL, and answers it as S3 does (`x-amz-checksum-mode: ENABLED`).
pub const CHECKSUM_META: &str = "x-amz-meta-bucketgate-checksum";

/// The object metadata entry carrying the tags a CreateMultipartUpload asked for, on a
/// backend that drops them (`[features] multipart_tagging = false`): the gateway tags the
/// object when the upload completes.
pub const TAGGING_META: &str = "x-amz-meta-bucketgate-tagging";

/// One field of a state key that is not its last: percent-encoded, so that it holds no `/`.
/// A `/` in a field would shift the fields after it, and a backend that reads keys as paths
/// folds `//` into `/` (SeaweedFS), so a value would not come back as it was written. Only the
/// object key, always last, keeps its `/` (keys with an empty segment are refused on such a
/// backend, see `empty_segments` in `backends/`).
/// Upload ids and ETags are unreserved characters on the backends we know, so their records
/// keep the names earlier releases gave them; AWS's version ids are not (see
/// [`legacy_version_acl_key`]).
fn field(value: &str) -> String {
    uri::encode_component(value)
}

/// Where the ACL of one object version is recorded.
fn version_acl_key(bucket: &str, key: &str, version: &str) -> String {
    format!("version-acls/{bucket}/{}/{key}", field(version))
}

/// Where releases before the fields were encoded recorded a version's ACL, when that differs
/// (AWS's version ids hold `/` and `+`): read after the current key misses, so a version made
/// private then stays private rather than falling back to its metadata's ACL. Only the gateway
/// writes there, and a newer record, under the current key, wins.
fn legacy_version_acl_key(bucket: &str, key: &str, version: &str) -> Option<String> {
    (field(version) != version).then(|| format!("version-acls/{bucket}/{version}/{key}"))
}

/// Where the part checksums of one multipart upload are recorded.
fn parts_prefix(bucket: &str, upload_id: &str) -> String {
    format!("part-checksums/{bucket}/{}/", field(upload_id))
}

/// Where the checksum of a completed multipart object is recorded: by ETag, so a later write
/// of the key never inherits it.
fn object_checksum_key(bucket: &str, key: &str, etag: &str) -> String {
    format!("object-checksums/{bucket}/{}/{key}", field(etag))
}

fn object_parts_key(bucket: &str, key: &str, etag: &str) -> String {
    format!("object-parts/{bucket}/{}/{key}", field(etag))
}

/// Creates the system bucket `bucket` unless it is there and the service credential's. Any
/// other answer to the creation leaves it the gateway's when the credential can read the
/// bucket: backends answer `409 BucketAlreadyExists` to the loser of two creations at once by
/// one owner (SeaweedFS: two replicas starting together), or always (s3s-fs, one identity),
/// or fail the loser (s3s-fs: `500`). A bucket of another owner stays an error.
pub async fn create_system_bucket(client: &BackendClient, bucket: &str) -> Result<(), S3Error> {
    let path = format!("/{}", uri::encode_component(bucket));
    let r = client.send(Method::PUT, &path, &[], Bytes::new()).await?;
    if r.is_success() || r.error_code().as_deref() == Some("BucketAlreadyOwnedByYou") {
        return Ok(());
    }
    if client.head_bucket(bucket).await?.is_success() {
        return Ok(());
    }
    Err(s3_error!(
        ServiceUnavailable,
        "Cannot create the system bucket {bucket:?}: backend answered {} {}",
        r.status,
        r.error_code().unwrap_or_default()
    ))
}

/// What the gateway knows about a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    /// The user id of the bucket's owner.
    pub owner: String,
    #[serde(default)]
    pub acl: CannedAcl,
}

/// A bucket name this process is claiming (see [`StateStore::begin_claim`]); the name is
/// free again when the ticket is dropped, with the request that holds it.
pub struct ClaimTicket {
    bucket: String,
    claims: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl Drop for ClaimTicket {
    fn drop(&mut self) {
        let mut claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        claims.remove(&self.bucket);
    }
}

impl std::fmt::Debug for ClaimTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ClaimTicket").field(&self.bucket).finish()
    }
}

/// Reads and writes state documents through the backend, with a read cache.
pub struct StateStore {
    /// Bucket names a CreateBucket of this process is claiming now.
    claims: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    metrics: Arc<crate::telemetry::metrics::Metrics>,
    client: Arc<BackendClient>,
    system_bucket: String,
    buckets: ReadCache<Option<Arc<BucketRecord>>>,
    /// Bucket configurations by `<kind>/<bucket>`, as the JSON stored.
    configs: ReadCache<Option<Bytes>>,
}

/// A bucket configuration whose Put/Get/Delete API the gateway serves from state.
pub trait BucketDocument: Serialize + serde::de::DeserializeOwned {
    const KIND: ConfigKind;
    /// Parses and validates the XML a Put sends.
    fn parse_xml(body: &[u8]) -> Result<Self, S3Error>;
    /// The XML a Get answers.
    fn to_xml(&self) -> String;
    /// The error a Get answers when the bucket has none.
    fn missing() -> S3Error;
}

impl BucketDocument for crate::features::cors::CorsConfiguration {
    const KIND: ConfigKind = ConfigKind::Cors;
    fn parse_xml(body: &[u8]) -> Result<Self, S3Error> {
        Self::parse(body)
    }
    fn to_xml(&self) -> String {
        crate::features::cors::CorsConfiguration::to_xml(self)
    }
    fn missing() -> S3Error {
        s3_error!(
            NoSuchCORSConfiguration,
            "The CORS configuration does not exist"
        )
    }
}

impl BucketDocument for crate::features::website::WebsiteConfiguration {
    const KIND: ConfigKind = ConfigKind::Website;
    fn parse_xml(body: &[u8]) -> Result<Self, S3Error> {
        Self::parse(body)
    }
    fn to_xml(&self) -> String {
        crate::features::website::WebsiteConfiguration::to_xml(self)
    }
    fn missing() -> S3Error {
        s3_error!(
            NoSuchWebsiteConfiguration,
            "The specified bucket does not have a website configuration"
        )
    }
}

/// The bucket configurations the gateway serves itself, each a JSON document `<kind>/<bucket>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Cors,
    Website,
    Policy,
    Logging,
}

impl ConfigKind {
    pub const ALL: [ConfigKind; 4] = [
        ConfigKind::Cors,
        ConfigKind::Website,
        ConfigKind::Policy,
        ConfigKind::Logging,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ConfigKind::Cors => "cors",
            ConfigKind::Website => "website",
            ConfigKind::Policy => "policy",
            ConfigKind::Logging => "logging",
        }
    }
}

impl StateStore {
    pub fn new(
        metrics: Arc<crate::telemetry::metrics::Metrics>,
        client: Arc<BackendClient>,
        system_bucket: String,
        ttl: Duration,
    ) -> Self {
        StateStore {
            claims: Arc::default(),
            metrics,
            client,
            system_bucket,
            buckets: ReadCache::new(100_000, ttl),
            configs: ReadCache::new(100_000, ttl),
        }
    }

    pub fn system_bucket(&self) -> &str {
        &self.system_bucket
    }

    fn object_path(&self, key: &str) -> String {
        format!(
            "/{}/{}",
            uri::encode_component(&self.system_bucket),
            uri::encode_path(key)
        )
    }

    fn count(&self, hit: bool) {
        self.metrics
            .state_cache
            .with_label_values(&[if hit { "hit" } else { "miss" }])
            .inc();
    }

    /// Creates the system bucket if it does not exist yet (at start-up).
    pub async fn ensure_system_bucket(&self) -> Result<(), S3Error> {
        create_system_bucket(&self.client, &self.system_bucket).await
    }

    /// The record of `bucket`, `None` when the gateway has none (the bucket is not a client's).
    pub async fn bucket(&self, bucket: &str) -> Result<Option<Arc<BucketRecord>>, S3Error> {
        if let Some(cached) = self.buckets.get(bucket) {
            self.count(true);
            return Ok(cached);
        }
        self.bucket_fresh(bucket).await
    }

    /// Starts claiming `bucket` in this process; `None` while another request of this process
    /// is claiming it. Where writes cannot be conditional (s3s-fs), two claims at once would
    /// both write the record, and the one written last would own the bucket the other's
    /// CreateBucket created.
    pub fn begin_claim(&self, bucket: &str) -> Option<ClaimTicket> {
        let mut claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        claims.insert(bucket.to_owned()).then(|| ClaimTicket {
            bucket: bucket.to_owned(),
            claims: self.claims.clone(),
        })
    }

    /// [`Self::bucket`], read from the backend whatever the cache holds: for a decision the
    /// cache may be behind on (a bucket another replica created a moment ago).
    pub async fn bucket_fresh(&self, bucket: &str) -> Result<Option<Arc<BucketRecord>>, S3Error> {
        self.count(false);
        let since = self.buckets.epoch(bucket);
        let record = self
            .read_json::<BucketRecord>(&format!("buckets/{bucket}"))
            .await?
            .map(Arc::new);
        self.buckets.fill(bucket, record.clone(), since);
        Ok(record)
    }

    /// Writes the record of `bucket` and its owner index.
    pub async fn put_bucket(&self, bucket: &str, record: &BucketRecord) -> Result<(), S3Error> {
        self.write_bucket(bucket, record, false).await.map(|_| ())
    }

    /// Writes the record of a new bucket only if there is none (`If-None-Match: *`, so of two
    /// replicas claiming a name at the same moment exactly one wins): `false` when another
    /// claim came first. `conditional` is the backend's support for conditional PutObject;
    /// without it the write is plain (one gateway per backend).
    pub async fn claim_bucket(
        &self,
        bucket: &str,
        record: &BucketRecord,
        conditional: bool,
    ) -> Result<bool, S3Error> {
        let claimed = self.write_bucket(bucket, record, conditional).await?;
        if !claimed {
            // Whoever won is read again, not remembered as absent.
            self.buckets.invalidate(bucket);
        }
        Ok(claimed)
    }

    async fn write_bucket(
        &self,
        bucket: &str,
        record: &BucketRecord,
        if_absent: bool,
    ) -> Result<bool, S3Error> {
        let json = serde_json::to_vec(record)
            .map_err(|e| s3_error!(InternalError, "Encoding state: {e}"))?;
        let condition: &[(&str, &str)] = if if_absent {
            &[("if-none-match", "*")]
        } else {
            &[]
        };
        // A write that failed may have landed all the same: the record is read again.
        let forget = |_: &S3Error| self.buckets.invalidate(bucket);
        if !self
            .write_with(&format!("buckets/{bucket}"), Bytes::from(json), condition)
            .await
            .inspect_err(forget)?
        {
            return Ok(false);
        }
        self.write(&format!("owners/{}/{bucket}", record.owner), Bytes::new())
            .await
            .inspect_err(forget)?;
        self.buckets.set(bucket, Some(Arc::new(record.clone())));
        Ok(true)
    }

    /// Removes the record of `bucket` and its owner index.
    pub async fn delete_bucket(&self, bucket: &str, owner: &str) -> Result<(), S3Error> {
        // The bucket's configurations go with it, then its index entry and record.
        for kind in ConfigKind::ALL {
            self.set_config::<()>(kind, bucket, None).await?;
        }
        for key in [
            format!("owners/{owner}/{bucket}"),
            format!("buckets/{bucket}"),
        ] {
            self.remove(&key)
                .await
                .inspect_err(|_| self.buckets.invalidate(bucket))?;
        }
        self.buckets.set(bucket, None);
        Ok(())
    }

    /// A bucket configuration of `kind`, if the bucket has one.
    pub async fn config<T: serde::de::DeserializeOwned>(
        &self,
        kind: ConfigKind,
        bucket: &str,
    ) -> Result<Option<T>, S3Error> {
        self.cached(&format!("{}/{bucket}", kind.as_str())).await
    }

    /// Stores (or, with `None`, removes) a bucket configuration of `kind`.
    pub async fn set_config<T: Serialize>(
        &self,
        kind: ConfigKind,
        bucket: &str,
        value: Option<&T>,
    ) -> Result<(), S3Error> {
        self.store(&format!("{}/{bucket}", kind.as_str()), value)
            .await
    }

    /// The canned ACL PutObjectAcl gave one version of an object by its `versionId`, if any
    /// (it wins over the ACL in that version's metadata: versions are immutable, so an ACL
    /// changed in place lives here).
    pub async fn version_acl(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<CannedAcl>, S3Error> {
        let acl = self.cached(&version_acl_key(bucket, key, version)).await?;
        match legacy_version_acl_key(bucket, key, version) {
            Some(legacy) if acl.is_none() => self.cached(&legacy).await,
            _ => Ok(acl),
        }
    }

    /// Records the canned ACL of one object version.
    pub async fn set_version_acl(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        acl: CannedAcl,
    ) -> Result<(), S3Error> {
        self.store(&version_acl_key(bucket, key, version), Some(&acl))
            .await
    }

    /// A state document, through the cache.
    async fn cached<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, S3Error> {
        let raw = match self.configs.get(key) {
            Some(cached) => {
                self.count(true);
                cached
            }
            None => {
                self.count(false);
                let since = self.configs.epoch(key);
                let raw = self.read_raw(key).await?;
                self.configs.fill(key, raw.clone(), since);
                raw
            }
        };
        raw.map(|json| {
            serde_json::from_slice(&json).map_err(|e| {
                s3_error!(
                    InternalError,
                    "The gateway's state document {key:?} is unreadable: {e}"
                )
            })
        })
        .transpose()
    }

    /// Writes (or, with `None`, removes) a state document and updates the cache.
    async fn store<T: Serialize>(&self, key: &str, value: Option<&T>) -> Result<(), S3Error> {
        let forget = |_: &S3Error| self.configs.invalidate(key);
        let json = match value {
            Some(v) => {
                let json = Bytes::from(
                    serde_json::to_vec(v)
                        .map_err(|e| s3_error!(InternalError, "Encoding state: {e}"))?,
                );
                self.write(key, json.clone()).await.inspect_err(forget)?;
                Some(json)
            }
            None => {
                self.remove(key).await.inspect_err(forget)?;
                None
            }
        };
        self.configs.set(key, json);
        Ok(())
    }

    async fn read_raw(&self, key: &str) -> Result<Option<Bytes>, S3Error> {
        let r = self
            .client
            .send(Method::GET, &self.object_path(key), &[], Bytes::new())
            .await?;
        match r.status {
            200 => Ok(Some(r.body)),
            404 => Ok(None),
            other => Err(s3_error!(
                ServiceUnavailable,
                "Reading the gateway's state failed ({other}); please retry."
            )),
        }
    }

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, S3Error> {
        self.read_raw(key)
            .await?
            .map(|json| {
                serde_json::from_slice(&json).map_err(|e| {
                    s3_error!(
                        InternalError,
                        "The gateway's state document {key:?} is unreadable: {e}"
                    )
                })
            })
            .transpose()
    }

    async fn remove(&self, key: &str) -> Result<(), S3Error> {
        let r = self
            .client
            .send(Method::DELETE, &self.object_path(key), &[], Bytes::new())
            .await?;
        if !r.is_success() && r.status != 404 {
            return Err(s3_error!(
                ServiceUnavailable,
                "Updating the gateway's state failed ({}); please retry.",
                r.status
            ));
        }
        Ok(())
    }

    /// The names of the buckets `owner` owns.
    pub async fn buckets_of(&self, owner: &str) -> Result<Vec<String>, S3Error> {
        self.names_under(&format!("owners/{owner}/")).await
    }

    /// Records the verified checksum of one uploaded part (see [`PartChecksum::name`]).
    pub async fn record_part_checksum(
        &self,
        bucket: &str,
        upload_id: &str,
        part: &PartChecksum,
    ) -> Result<(), S3Error> {
        let key = format!("{}{}", parts_prefix(bucket, upload_id), part.name());
        self.write(&key, Bytes::new()).await
    }

    /// Every part checksum recorded for an upload (a part uploaded again has several: the
    /// part's ETag tells which one is current).
    pub async fn part_checksums(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Vec<PartChecksum>, S3Error> {
        Ok(self
            .names_under(&parts_prefix(bucket, upload_id))
            .await?
            .iter()
            .filter_map(|n| PartChecksum::from_name(n))
            .collect())
    }

    /// Removes an upload's part records once it is completed or aborted.
    pub async fn forget_part_checksums(&self, bucket: &str, upload_id: &str) {
        let prefix = parts_prefix(bucket, upload_id);
        let Ok(names) = self.names_under(&prefix).await else {
            return;
        };
        for name in names {
            if let Err(e) = self.remove(&format!("{prefix}{name}")).await {
                tracing::warn!("could not remove a part checksum record of {bucket}: {e}");
            }
        }
    }

    /// The checksum of a completed multipart object, by its ETag (unquoted).
    pub async fn object_checksum(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<Option<ObjectChecksum>, S3Error> {
        self.cached(&object_checksum_key(bucket, key, etag)).await
    }

    /// Records the checksum of a completed multipart object.
    pub async fn set_object_checksum(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
        checksum: &ObjectChecksum,
    ) -> Result<(), S3Error> {
        self.store(&object_checksum_key(bucket, key, etag), Some(checksum))
            .await
    }

    /// The part sizes of a completed multipart object, in part order, by its ETag (unquoted):
    /// what reads of one part (`?partNumber=`) are served from when the backend cannot.
    pub async fn object_part_sizes(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<Option<Vec<u64>>, S3Error> {
        self.cached(&object_parts_key(bucket, key, etag)).await
    }

    /// Records the part sizes of a just-completed multipart object.
    pub async fn set_object_part_sizes(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
        sizes: &[u64],
    ) -> Result<(), S3Error> {
        self.store(&object_parts_key(bucket, key, etag), Some(&sizes))
            .await
    }

    /// The keys below `prefix` in the system bucket, without the prefix.
    async fn names_under(&self, prefix: &str) -> Result<Vec<String>, S3Error> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = format!("list-type=2&prefix={}", uri::encode_component(prefix));
            if let Some(t) = &token {
                query.push_str(&format!("&continuation-token={}", uri::encode_component(t)));
            }
            let path = format!("/{}?{query}", uri::encode_component(&self.system_bucket));
            let r = self
                .client
                .send(Method::GET, &path, &[], Bytes::new())
                .await?;
            if r.status == 404 {
                return Ok(names);
            }
            if !r.is_success() {
                return Err(s3_error!(
                    ServiceUnavailable,
                    "Listing the gateway's state failed ({}); please retry.",
                    r.status
                ));
            }
            let page: crate::s3::xml::ListObjectsV2Page = crate::s3::xml::parse(&r.body)?;
            names.extend(
                page.contents
                    .into_iter()
                    .filter_map(|o| o.key.strip_prefix(prefix).map(str::to_owned)),
            );
            match page.next_continuation_token {
                Some(t) if page.is_truncated => token = Some(t),
                _ => return Ok(names),
            }
        }
    }

    async fn write(&self, key: &str, body: Bytes) -> Result<(), S3Error> {
        self.write_with(key, body, &[]).await.map(|_| ())
    }

    /// [`Self::write`] with extra headers (a write condition): `false` when the backend
    /// answered `412 Precondition Failed`.
    async fn write_with(
        &self,
        key: &str,
        body: Bytes,
        extra: &[(&str, &str)],
    ) -> Result<bool, S3Error> {
        let path = self.object_path(key);
        let mut headers = vec![("content-type", "application/json")];
        headers.extend_from_slice(extra);
        let mut r = self
            .client
            .send(Method::PUT, &path, &headers, body.clone())
            .await?;
        if r.error_code().as_deref() == Some("NoSuchBucket") {
            // The first write on a fresh backend creates the system bucket.
            self.ensure_system_bucket().await?;
            r = self.client.send(Method::PUT, &path, &headers, body).await?;
        }
        if r.status == 412 && !extra.is_empty() {
            return Ok(false);
        }
        if !r.is_success() {
            return Err(s3_error!(
                ServiceUnavailable,
                "Writing the gateway's state failed ({}); please retry.",
                r.status
            ));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_object_key_brings_slashes_into_a_state_key() {
        assert_eq!(
            version_acl_key("b", "dir/k", "v/1"),
            "version-acls/b/v%2F1/dir/k"
        );
        assert_eq!(parts_prefix("b", "2~u/p"), "part-checksums/b/2~u%2Fp/");
        assert_eq!(
            object_checksum_key("b", "dir/k", "e/t-2"),
            "object-checksums/b/e%2Ft-2/dir/k"
        );
        // RGW's and SeaweedFS's ids keep the names earlier releases wrote; AWS's (from its
        // documentation) are read from the earlier name too.
        let rgw = "2ZyWT.6AW4-FE8hZ_tcG3l9o0oBKVdW1";
        assert_eq!(
            version_acl_key("b", "k", rgw),
            "version-acls/b/2ZyWT.6AW4-FE8hZ_tcG3l9o0oBKVdW1/k"
        );
        assert_eq!(legacy_version_acl_key("b", "k", rgw), None);
        let aws = "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo";
        assert_eq!(
            legacy_version_acl_key("b", "dir/k", aws).as_deref(),
            Some(
                "version-acls/b/3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo/dir/k"
            )
        );
        assert_eq!(
            version_acl_key("b", "dir/k", aws),
            "version-acls/b/3%2FL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY%2BMTRCxf3vjVBH40Nr8X8gdRQBpUMLUo/dir/k"
        );
    }
}
