//! Where each operation goes once it is admitted: one exhaustive `match` over [`S3Op`].
//!
//! The profile says whether an operation exists (its verdict); the route says who carries it
//! out. They are checked against each other when a profile loads, so a profile cannot declare
//! `proxy` for an operation the gateway serves itself (whose backend form nobody reviewed), or
//! `gateway` for one it has no handler for.

use crate::s3::op::S3Op;

/// Who carries out an admitted operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Re-signed and streamed to the backend through pingora, built from a forward plan.
    Proxy,
    /// A configuration the backend keeps but the gateway must validate first: read whole,
    /// checked against the profile, sent on with the gateway's own client.
    Validated(Validated),
    /// A multi-delete: every key the body names is authorized on its own (`s3:DeleteObject` on
    /// `bucket/key`), and the backend gets the gateway's document of the allowed ones.
    MultiDelete,
    /// CompleteMultipartUpload: its parts list is checked and rendered anew, and the answer
    /// corrected (location, ETag, unknown uploads) before it goes back.
    Complete,
    /// Answered by the gateway from its own state.
    Serve(Served),
    /// Nothing in this gateway implements it: only `not_implemented` / `not_yet` fit.
    Unimplemented,
}

/// Configurations validated before they reach the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validated {
    Lifecycle,
    Versioning,
    /// PutObjectTagging: the tags a bucket policy decides on are the tags the backend stores.
    ObjectTagging,
}

/// What the gateway answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    ListBuckets,
    /// The gateway's region (the backend's own name for its zone is not the client's business).
    Location,
    Acl,
    Policy,
    Logging,
    Cors,
    Website,
    Preflight,
}

impl Route {
    /// The verdict a profile must give an operation on this route, if it implements it.
    pub fn verdict_name(self) -> Option<&'static str> {
        match self {
            Route::Proxy | Route::Validated(_) | Route::MultiDelete | Route::Complete => {
                Some("proxy")
            }
            Route::Serve(_) => Some("gateway"),
            Route::Unimplemented => None,
        }
    }
}

/// The route of `op`. Exhaustive on purpose: a new operation does not compile until someone
/// decides where it goes.
pub fn route(op: S3Op) -> Route {
    use S3Op::*;
    match op {
        AbortMultipartUpload
        | CopyObject
        | CreateBucket
        | CreateMultipartUpload
        | DeleteBucket
        | DeleteBucketLifecycle
        | DeleteObject
        | DeleteObjectTagging
        | GetBucketLifecycleConfiguration
        | GetBucketVersioning
        | GetObject
        | GetObjectTagging
        | HeadBucket
        | HeadObject
        | ListMultipartUploads
        | ListObjectVersions
        | ListObjects
        | ListObjectsV2
        | ListParts
        | PostObject
        | PutObject
        | UploadPart
        | UploadPartCopy => Route::Proxy,
        PutBucketLifecycleConfiguration => Route::Validated(Validated::Lifecycle),
        PutBucketVersioning => Route::Validated(Validated::Versioning),
        PutObjectTagging => Route::Validated(Validated::ObjectTagging),
        DeleteObjects => Route::MultiDelete,
        CompleteMultipartUpload => Route::Complete,
        ListBuckets => Route::Serve(Served::ListBuckets),
        GetBucketLocation => Route::Serve(Served::Location),
        GetBucketAcl | PutBucketAcl | GetObjectAcl | PutObjectAcl => Route::Serve(Served::Acl),
        GetBucketPolicy | PutBucketPolicy | DeleteBucketPolicy => Route::Serve(Served::Policy),
        GetBucketLogging | PutBucketLogging => Route::Serve(Served::Logging),
        GetBucketCors | PutBucketCors | DeleteBucketCors => Route::Serve(Served::Cors),
        GetBucketWebsite | PutBucketWebsite | DeleteBucketWebsite => Route::Serve(Served::Website),
        PreflightCors => Route::Serve(Served::Preflight),
        CreateBucketMetadataConfiguration
        | CreateBucketMetadataTableConfiguration
        | CreateSession
        | DeleteBucketAnalyticsConfiguration
        | DeleteBucketEncryption
        | DeleteBucketIntelligentTieringConfiguration
        | DeleteBucketInventoryConfiguration
        | DeleteBucketMetadataConfiguration
        | DeleteBucketMetadataTableConfiguration
        | DeleteBucketMetricsConfiguration
        | DeleteBucketOwnershipControls
        | DeleteBucketReplication
        | DeleteBucketTagging
        | DeletePublicAccessBlock
        | GetBucketAbac
        | GetBucketAccelerateConfiguration
        | GetBucketAnalyticsConfiguration
        | GetBucketEncryption
        | GetBucketIntelligentTieringConfiguration
        | GetBucketInventoryConfiguration
        | GetBucketMetadataConfiguration
        | GetBucketMetadataTableConfiguration
        | GetBucketMetricsConfiguration
        | GetBucketNotificationConfiguration
        | GetBucketOwnershipControls
        | GetBucketPolicyStatus
        | GetBucketReplication
        | GetBucketRequestPayment
        | GetBucketTagging
        | GetObjectAttributes
        | GetObjectLegalHold
        | GetObjectLockConfiguration
        | GetObjectRetention
        | GetObjectTorrent
        | GetPublicAccessBlock
        | ListBucketAnalyticsConfigurations
        | ListBucketIntelligentTieringConfigurations
        | ListBucketInventoryConfigurations
        | ListBucketMetricsConfigurations
        | ListDirectoryBuckets
        | PutBucketAbac
        | PutBucketAccelerateConfiguration
        | PutBucketAnalyticsConfiguration
        | PutBucketEncryption
        | PutBucketIntelligentTieringConfiguration
        | PutBucketInventoryConfiguration
        | PutBucketMetricsConfiguration
        | PutBucketNotificationConfiguration
        | PutBucketOwnershipControls
        | PutBucketReplication
        | PutBucketRequestPayment
        | PutBucketTagging
        | PutObjectLegalHold
        | PutObjectLockConfiguration
        | PutObjectRetention
        | PutPublicAccessBlock
        | RenameObject
        | RestoreObject
        | SelectObjectContent
        | UpdateBucketMetadataInventoryTableConfiguration
        | UpdateBucketMetadataJournalTableConfiguration
        | WriteGetObjectResponse
        | Unknown => Route::Unimplemented,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_served_operations_never_reach_the_proxy() {
        for op in [
            S3Op::GetBucketAcl,
            S3Op::PutObjectAcl,
            S3Op::GetBucketPolicy,
            S3Op::PutBucketLogging,
            S3Op::ListBuckets,
            S3Op::PreflightCors,
        ] {
            assert!(matches!(route(op), Route::Serve(_)), "{}", op.name());
        }
        assert_eq!(route(S3Op::GetObjectTorrent), Route::Unimplemented);
        assert_eq!(route(S3Op::Unknown), Route::Unimplemented);
    }
}
