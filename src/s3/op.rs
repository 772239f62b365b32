//! The closed set of S3 operations, and the one function that tells them apart.
//!
//! Every operation of the S3 REST API (those Spaces lacks included) is a variant of [`S3Op`];
//! whatever no variant matches is [`S3Op::Unknown`]. The profile (`policies/*.toml`) gives each
//! variant a verdict; authorization, metrics and access logs key off the same value.

use http::{HeaderMap, Method};

use crate::s3::request::S3Request;

macro_rules! s3_ops {
    ($($op:ident),+ $(,)?) => {
        /// One S3 operation, as the AWS S3 API reference names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum S3Op {
            $($op,)+
        }

        impl S3Op {
            /// Every operation, in declaration order.
            pub const ALL: &'static [S3Op] = &[$(S3Op::$op,)+];

            /// The operation's name in the AWS API reference.
            pub fn name(self) -> &'static str {
                match self {
                    $(S3Op::$op => stringify!($op),)+
                }
            }

            /// The operation with this exact name, if any.
            pub fn from_name(name: &str) -> Option<S3Op> {
                match name {
                    $(stringify!($op) => Some(S3Op::$op),)+
                    _ => None,
                }
            }
        }
    };
}

s3_ops! {
    AbortMultipartUpload,
    CompleteMultipartUpload,
    CopyObject,
    CreateBucket,
    CreateBucketMetadataConfiguration,
    CreateBucketMetadataTableConfiguration,
    CreateMultipartUpload,
    CreateSession,
    DeleteBucket,
    DeleteBucketAnalyticsConfiguration,
    DeleteBucketCors,
    DeleteBucketEncryption,
    DeleteBucketIntelligentTieringConfiguration,
    DeleteBucketInventoryConfiguration,
    DeleteBucketLifecycle,
    DeleteBucketMetadataConfiguration,
    DeleteBucketMetadataTableConfiguration,
    DeleteBucketMetricsConfiguration,
    DeleteBucketOwnershipControls,
    DeleteBucketPolicy,
    DeleteBucketReplication,
    DeleteBucketTagging,
    DeleteBucketWebsite,
    DeleteObject,
    DeleteObjectTagging,
    DeleteObjects,
    DeletePublicAccessBlock,
    GetBucketAbac,
    GetBucketAccelerateConfiguration,
    GetBucketAcl,
    GetBucketAnalyticsConfiguration,
    GetBucketCors,
    GetBucketEncryption,
    GetBucketIntelligentTieringConfiguration,
    GetBucketInventoryConfiguration,
    GetBucketLifecycleConfiguration,
    GetBucketLocation,
    GetBucketLogging,
    GetBucketMetadataConfiguration,
    GetBucketMetadataTableConfiguration,
    GetBucketMetricsConfiguration,
    GetBucketNotificationConfiguration,
    GetBucketOwnershipControls,
    GetBucketPolicy,
    GetBucketPolicyStatus,
    GetBucketReplication,
    GetBucketRequestPayment,
    GetBucketTagging,
    GetBucketVersioning,
    GetBucketWebsite,
    GetObject,
    GetObjectAcl,
    GetObjectAttributes,
    GetObjectLegalHold,
    GetObjectLockConfiguration,
    GetObjectRetention,
    GetObjectTagging,
    GetObjectTorrent,
    GetPublicAccessBlock,
    HeadBucket,
    HeadObject,
    ListBucketAnalyticsConfigurations,
    ListBucketIntelligentTieringConfigurations,
    ListBucketInventoryConfigurations,
    ListBucketMetricsConfigurations,
    ListBuckets,
    ListDirectoryBuckets,
    ListMultipartUploads,
    ListObjectVersions,
    ListObjects,
    ListObjectsV2,
    ListParts,
    PostObject,
    PreflightCors,
    PutBucketAbac,
    PutBucketAccelerateConfiguration,
    PutBucketAcl,
    PutBucketAnalyticsConfiguration,
    PutBucketCors,
    PutBucketEncryption,
    PutBucketIntelligentTieringConfiguration,
    PutBucketInventoryConfiguration,
    PutBucketLifecycleConfiguration,
    PutBucketLogging,
    PutBucketMetricsConfiguration,
    PutBucketNotificationConfiguration,
    PutBucketOwnershipControls,
    PutBucketPolicy,
    PutBucketReplication,
    PutBucketRequestPayment,
    PutBucketTagging,
    PutBucketVersioning,
    PutBucketWebsite,
    PutObject,
    PutObjectAcl,
    PutObjectLegalHold,
    PutObjectLockConfiguration,
    PutObjectRetention,
    PutObjectTagging,
    PutPublicAccessBlock,
    RenameObject,
    RestoreObject,
    SelectObjectContent,
    UpdateBucketMetadataInventoryTableConfiguration,
    UpdateBucketMetadataJournalTableConfiguration,
    UploadPart,
    UploadPartCopy,
    WriteGetObjectResponse,
    Unknown,
}

/// A sub-resource and the operations GET, PUT and DELETE perform on it.
type SubResource = (&'static str, Option<S3Op>, Option<S3Op>, Option<S3Op>);

/// Bucket sub-resources that name a configuration: `(query key, get, put, delete)`.
const BUCKET_CONFIGS: &[SubResource] = {
    use S3Op::*;
    &[
        ("abac", Some(GetBucketAbac), Some(PutBucketAbac), None),
        (
            "accelerate",
            Some(GetBucketAccelerateConfiguration),
            Some(PutBucketAccelerateConfiguration),
            None,
        ),
        ("acl", Some(GetBucketAcl), Some(PutBucketAcl), None),
        (
            "cors",
            Some(GetBucketCors),
            Some(PutBucketCors),
            Some(DeleteBucketCors),
        ),
        (
            "encryption",
            Some(GetBucketEncryption),
            Some(PutBucketEncryption),
            Some(DeleteBucketEncryption),
        ),
        (
            "lifecycle",
            Some(GetBucketLifecycleConfiguration),
            Some(PutBucketLifecycleConfiguration),
            Some(DeleteBucketLifecycle),
        ),
        ("location", Some(GetBucketLocation), None, None),
        (
            "logging",
            Some(GetBucketLogging),
            Some(PutBucketLogging),
            None,
        ),
        (
            "metadataConfiguration",
            Some(GetBucketMetadataConfiguration),
            None,
            Some(DeleteBucketMetadataConfiguration),
        ),
        (
            "metadataTable",
            Some(GetBucketMetadataTableConfiguration),
            None,
            Some(DeleteBucketMetadataTableConfiguration),
        ),
        (
            "metadataInventoryTable",
            None,
            Some(UpdateBucketMetadataInventoryTableConfiguration),
            None,
        ),
        (
            "metadataJournalTable",
            None,
            Some(UpdateBucketMetadataJournalTableConfiguration),
            None,
        ),
        (
            "notification",
            Some(GetBucketNotificationConfiguration),
            Some(PutBucketNotificationConfiguration),
            None,
        ),
        (
            "object-lock",
            Some(GetObjectLockConfiguration),
            Some(PutObjectLockConfiguration),
            None,
        ),
        (
            "ownershipControls",
            Some(GetBucketOwnershipControls),
            Some(PutBucketOwnershipControls),
            Some(DeleteBucketOwnershipControls),
        ),
        (
            "policy",
            Some(GetBucketPolicy),
            Some(PutBucketPolicy),
            Some(DeleteBucketPolicy),
        ),
        ("policyStatus", Some(GetBucketPolicyStatus), None, None),
        (
            "publicAccessBlock",
            Some(GetPublicAccessBlock),
            Some(PutPublicAccessBlock),
            Some(DeletePublicAccessBlock),
        ),
        (
            "replication",
            Some(GetBucketReplication),
            Some(PutBucketReplication),
            Some(DeleteBucketReplication),
        ),
        (
            "requestPayment",
            Some(GetBucketRequestPayment),
            Some(PutBucketRequestPayment),
            None,
        ),
        (
            "tagging",
            Some(GetBucketTagging),
            Some(PutBucketTagging),
            Some(DeleteBucketTagging),
        ),
        (
            "versioning",
            Some(GetBucketVersioning),
            Some(PutBucketVersioning),
            None,
        ),
        (
            "website",
            Some(GetBucketWebsite),
            Some(PutBucketWebsite),
            Some(DeleteBucketWebsite),
        ),
    ]
};

/// Bucket configurations addressed by `?<key>&id=`: `(query key, get, list, put, delete)`.
const BUCKET_ID_CONFIGS: &[(&str, S3Op, S3Op, S3Op, S3Op)] = {
    use S3Op::*;
    &[
        (
            "analytics",
            GetBucketAnalyticsConfiguration,
            ListBucketAnalyticsConfigurations,
            PutBucketAnalyticsConfiguration,
            DeleteBucketAnalyticsConfiguration,
        ),
        (
            "intelligent-tiering",
            GetBucketIntelligentTieringConfiguration,
            ListBucketIntelligentTieringConfigurations,
            PutBucketIntelligentTieringConfiguration,
            DeleteBucketIntelligentTieringConfiguration,
        ),
        (
            "inventory",
            GetBucketInventoryConfiguration,
            ListBucketInventoryConfigurations,
            PutBucketInventoryConfiguration,
            DeleteBucketInventoryConfiguration,
        ),
        (
            "metrics",
            GetBucketMetricsConfiguration,
            ListBucketMetricsConfigurations,
            PutBucketMetricsConfiguration,
            DeleteBucketMetricsConfiguration,
        ),
    ]
};

/// Object sub-resources: `(query key, get, put, delete)`.
const OBJECT_SUBRESOURCES: &[SubResource] = {
    use S3Op::*;
    &[
        ("acl", Some(GetObjectAcl), Some(PutObjectAcl), None),
        ("attributes", Some(GetObjectAttributes), None, None),
        (
            "legal-hold",
            Some(GetObjectLegalHold),
            Some(PutObjectLegalHold),
            None,
        ),
        (
            "retention",
            Some(GetObjectRetention),
            Some(PutObjectRetention),
            None,
        ),
        (
            "tagging",
            Some(GetObjectTagging),
            Some(PutObjectTagging),
            Some(DeleteObjectTagging),
        ),
        ("torrent", Some(GetObjectTorrent), None, None),
        ("renameObject", None, Some(RenameObject), None),
    ]
};

/// Names the operation a request performs, from method, addressing, query and headers alone.
pub fn classify(method: &Method, req: &S3Request, headers: &HeaderMap) -> S3Op {
    use S3Op::*;
    if *method == Method::OPTIONS {
        return PreflightCors;
    }
    // Object Lambda's callback names no bucket of ours: it is routed by this header alone.
    if *method == Method::POST && headers.contains_key("x-amz-request-route") {
        return WriteGetObjectResponse;
    }
    let q = &req.query;
    match (&req.bucket, &req.key) {
        (None, _) => match *method {
            Method::GET if q.has("session") => CreateSession,
            Method::GET => ListBuckets,
            _ => Unknown,
        },
        (Some(_), None) => classify_bucket(method, q, headers),
        (Some(_), Some(_)) => classify_object(method, q, headers),
    }
}

fn classify_bucket(method: &Method, q: &crate::s3::uri::Query, headers: &HeaderMap) -> S3Op {
    use S3Op::*;
    if let Some(&(_, get, list, put, delete)) = BUCKET_ID_CONFIGS.iter().find(|c| q.has(c.0)) {
        let by_id = q.has("id");
        return match *method {
            Method::GET if by_id => get,
            Method::GET => list,
            Method::PUT => put,
            Method::DELETE => delete,
            _ => Unknown,
        };
    }
    if *method == Method::POST {
        return if q.has("delete") {
            DeleteObjects
        } else if q.has("metadataTable") {
            CreateBucketMetadataTableConfiguration
        } else if q.has("metadataConfiguration") {
            CreateBucketMetadataConfiguration
        } else if is_form_upload(headers) {
            PostObject
        } else {
            Unknown
        };
    }
    if let Some(&(_, get, put, delete)) = BUCKET_CONFIGS.iter().find(|c| q.has(c.0)) {
        let op = match *method {
            Method::GET => get,
            Method::PUT => put,
            Method::DELETE => delete,
            _ => None,
        };
        return op.unwrap_or(Unknown);
    }
    match *method {
        Method::GET if q.has("versions") => ListObjectVersions,
        Method::GET if q.has("uploads") => ListMultipartUploads,
        Method::GET if q.get("list-type") == Some("2") => ListObjectsV2,
        Method::GET => ListObjects,
        Method::HEAD => HeadBucket,
        Method::PUT => CreateBucket,
        Method::DELETE => DeleteBucket,
        _ => Unknown,
    }
}

fn classify_object(method: &Method, q: &crate::s3::uri::Query, headers: &HeaderMap) -> S3Op {
    use S3Op::*;
    if let Some(&(_, get, put, delete)) = OBJECT_SUBRESOURCES.iter().find(|c| q.has(c.0)) {
        let op = match *method {
            Method::GET => get,
            Method::PUT => put,
            Method::DELETE => delete,
            _ => None,
        };
        return op.unwrap_or(Unknown);
    }
    let copy = headers.contains_key("x-amz-copy-source");
    match *method {
        Method::GET if q.has("uploadId") => ListParts,
        Method::GET => GetObject,
        Method::HEAD => HeadObject,
        Method::PUT if q.has("uploadId") && q.has("partNumber") => {
            if copy {
                UploadPartCopy
            } else {
                UploadPart
            }
        }
        Method::PUT if copy => CopyObject,
        Method::PUT => PutObject,
        Method::POST if q.has("uploads") => CreateMultipartUpload,
        Method::POST if q.has("uploadId") => CompleteMultipartUpload,
        Method::POST if q.has("restore") => RestoreObject,
        Method::POST if q.has("select") => SelectObjectContent,
        Method::DELETE if q.has("uploadId") => AbortMultipartUpload,
        Method::DELETE => DeleteObject,
        _ => Unknown,
    }
}

fn is_form_upload(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::request::HostRules;

    /// Request lines from the AWS S3 API reference ("Request Syntax" of each operation), checked
    /// path-style and virtual-hosted.
    /// (method, request target, headers, expected operation)
    type Case = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
        S3Op,
    );

    const CASES: &[Case] = {
        use S3Op::*;
        &[
            ("GET", "/", &[], ListBuckets),
            ("GET", "/?session", &[], CreateSession),
            ("PUT", "/BUCKET", &[], CreateBucket),
            ("HEAD", "/BUCKET", &[], HeadBucket),
            ("DELETE", "/BUCKET", &[], DeleteBucket),
            (
                "GET",
                "/BUCKET?delimiter=D&encoding-type=url&marker=M&max-keys=1&prefix=P",
                &[],
                ListObjects,
            ),
            (
                "GET",
                "/BUCKET?list-type=2&continuation-token=C&fetch-owner=true&start-after=S",
                &[],
                ListObjectsV2,
            ),
            (
                "GET",
                "/BUCKET?versions&key-marker=K&version-id-marker=V",
                &[],
                ListObjectVersions,
            ),
            (
                "GET",
                "/BUCKET?uploads&max-uploads=10",
                &[],
                ListMultipartUploads,
            ),
            ("POST", "/BUCKET?delete", &[], DeleteObjects),
            ("GET", "/BUCKET?acl", &[], GetBucketAcl),
            ("PUT", "/BUCKET?acl", &[], PutBucketAcl),
            ("GET", "/BUCKET?cors", &[], GetBucketCors),
            ("PUT", "/BUCKET?cors", &[], PutBucketCors),
            ("DELETE", "/BUCKET?cors", &[], DeleteBucketCors),
            (
                "GET",
                "/BUCKET?lifecycle",
                &[],
                GetBucketLifecycleConfiguration,
            ),
            (
                "PUT",
                "/BUCKET?lifecycle",
                &[],
                PutBucketLifecycleConfiguration,
            ),
            ("DELETE", "/BUCKET?lifecycle", &[], DeleteBucketLifecycle),
            ("GET", "/BUCKET?location", &[], GetBucketLocation),
            ("GET", "/BUCKET?logging", &[], GetBucketLogging),
            ("PUT", "/BUCKET?logging", &[], PutBucketLogging),
            ("GET", "/BUCKET?policy", &[], GetBucketPolicy),
            ("PUT", "/BUCKET?policy", &[], PutBucketPolicy),
            ("DELETE", "/BUCKET?policy", &[], DeleteBucketPolicy),
            ("GET", "/BUCKET?policyStatus", &[], GetBucketPolicyStatus),
            ("GET", "/BUCKET?versioning", &[], GetBucketVersioning),
            ("PUT", "/BUCKET?versioning", &[], PutBucketVersioning),
            ("GET", "/BUCKET?website", &[], GetBucketWebsite),
            ("PUT", "/BUCKET?website", &[], PutBucketWebsite),
            ("DELETE", "/BUCKET?website", &[], DeleteBucketWebsite),
            ("GET", "/BUCKET?encryption", &[], GetBucketEncryption),
            ("PUT", "/BUCKET?encryption", &[], PutBucketEncryption),
            ("DELETE", "/BUCKET?encryption", &[], DeleteBucketEncryption),
            ("GET", "/BUCKET?tagging", &[], GetBucketTagging),
            ("PUT", "/BUCKET?tagging", &[], PutBucketTagging),
            ("DELETE", "/BUCKET?tagging", &[], DeleteBucketTagging),
            ("GET", "/BUCKET?replication", &[], GetBucketReplication),
            ("PUT", "/BUCKET?replication", &[], PutBucketReplication),
            (
                "DELETE",
                "/BUCKET?replication",
                &[],
                DeleteBucketReplication,
            ),
            (
                "GET",
                "/BUCKET?notification",
                &[],
                GetBucketNotificationConfiguration,
            ),
            (
                "PUT",
                "/BUCKET?notification",
                &[],
                PutBucketNotificationConfiguration,
            ),
            (
                "GET",
                "/BUCKET?accelerate",
                &[],
                GetBucketAccelerateConfiguration,
            ),
            (
                "PUT",
                "/BUCKET?accelerate",
                &[],
                PutBucketAccelerateConfiguration,
            ),
            (
                "GET",
                "/BUCKET?requestPayment",
                &[],
                GetBucketRequestPayment,
            ),
            (
                "PUT",
                "/BUCKET?requestPayment",
                &[],
                PutBucketRequestPayment,
            ),
            (
                "GET",
                "/BUCKET?object-lock",
                &[],
                GetObjectLockConfiguration,
            ),
            (
                "PUT",
                "/BUCKET?object-lock",
                &[],
                PutObjectLockConfiguration,
            ),
            (
                "GET",
                "/BUCKET?publicAccessBlock",
                &[],
                GetPublicAccessBlock,
            ),
            (
                "PUT",
                "/BUCKET?publicAccessBlock",
                &[],
                PutPublicAccessBlock,
            ),
            (
                "DELETE",
                "/BUCKET?publicAccessBlock",
                &[],
                DeletePublicAccessBlock,
            ),
            (
                "GET",
                "/BUCKET?ownershipControls",
                &[],
                GetBucketOwnershipControls,
            ),
            (
                "PUT",
                "/BUCKET?ownershipControls",
                &[],
                PutBucketOwnershipControls,
            ),
            (
                "DELETE",
                "/BUCKET?ownershipControls",
                &[],
                DeleteBucketOwnershipControls,
            ),
            (
                "GET",
                "/BUCKET?analytics&id=I",
                &[],
                GetBucketAnalyticsConfiguration,
            ),
            (
                "GET",
                "/BUCKET?analytics&continuation-token=C",
                &[],
                ListBucketAnalyticsConfigurations,
            ),
            (
                "PUT",
                "/BUCKET?analytics&id=I",
                &[],
                PutBucketAnalyticsConfiguration,
            ),
            (
                "DELETE",
                "/BUCKET?analytics&id=I",
                &[],
                DeleteBucketAnalyticsConfiguration,
            ),
            (
                "GET",
                "/BUCKET?inventory&id=I",
                &[],
                GetBucketInventoryConfiguration,
            ),
            (
                "GET",
                "/BUCKET?inventory",
                &[],
                ListBucketInventoryConfigurations,
            ),
            (
                "PUT",
                "/BUCKET?inventory&id=I",
                &[],
                PutBucketInventoryConfiguration,
            ),
            (
                "DELETE",
                "/BUCKET?inventory&id=I",
                &[],
                DeleteBucketInventoryConfiguration,
            ),
            (
                "GET",
                "/BUCKET?metrics&id=I",
                &[],
                GetBucketMetricsConfiguration,
            ),
            (
                "GET",
                "/BUCKET?metrics",
                &[],
                ListBucketMetricsConfigurations,
            ),
            (
                "PUT",
                "/BUCKET?metrics&id=I",
                &[],
                PutBucketMetricsConfiguration,
            ),
            (
                "DELETE",
                "/BUCKET?metrics&id=I",
                &[],
                DeleteBucketMetricsConfiguration,
            ),
            (
                "GET",
                "/BUCKET?intelligent-tiering&id=I",
                &[],
                GetBucketIntelligentTieringConfiguration,
            ),
            (
                "GET",
                "/BUCKET?intelligent-tiering",
                &[],
                ListBucketIntelligentTieringConfigurations,
            ),
            (
                "PUT",
                "/BUCKET?intelligent-tiering&id=I",
                &[],
                PutBucketIntelligentTieringConfiguration,
            ),
            (
                "DELETE",
                "/BUCKET?intelligent-tiering&id=I",
                &[],
                DeleteBucketIntelligentTieringConfiguration,
            ),
            (
                "POST",
                "/BUCKET?metadataTable",
                &[],
                CreateBucketMetadataTableConfiguration,
            ),
            (
                "GET",
                "/BUCKET?metadataTable",
                &[],
                GetBucketMetadataTableConfiguration,
            ),
            (
                "DELETE",
                "/BUCKET?metadataTable",
                &[],
                DeleteBucketMetadataTableConfiguration,
            ),
            (
                "POST",
                "/BUCKET?metadataConfiguration",
                &[],
                CreateBucketMetadataConfiguration,
            ),
            (
                "GET",
                "/BUCKET?metadataConfiguration",
                &[],
                GetBucketMetadataConfiguration,
            ),
            (
                "DELETE",
                "/BUCKET?metadataConfiguration",
                &[],
                DeleteBucketMetadataConfiguration,
            ),
            (
                "PUT",
                "/BUCKET?metadataInventoryTable",
                &[],
                UpdateBucketMetadataInventoryTableConfiguration,
            ),
            (
                "PUT",
                "/BUCKET?metadataJournalTable",
                &[],
                UpdateBucketMetadataJournalTableConfiguration,
            ),
            ("GET", "/BUCKET?abac", &[], GetBucketAbac),
            ("PUT", "/BUCKET?abac", &[], PutBucketAbac),
            (
                "POST",
                "/BUCKET",
                &[("content-type", "multipart/form-data; boundary=x")],
                PostObject,
            ),
            ("OPTIONS", "/BUCKET/Key", &[], PreflightCors),
            ("PUT", "/BUCKET/Key", &[], PutObject),
            (
                "GET",
                "/BUCKET/Key?partNumber=1&response-content-type=T&versionId=V",
                &[],
                GetObject,
            ),
            ("HEAD", "/BUCKET/Key?versionId=V", &[], HeadObject),
            ("DELETE", "/BUCKET/Key?versionId=V", &[], DeleteObject),
            (
                "PUT",
                "/BUCKET/Key",
                &[("x-amz-copy-source", "/src/k")],
                CopyObject,
            ),
            ("POST", "/BUCKET/Key?uploads", &[], CreateMultipartUpload),
            (
                "PUT",
                "/BUCKET/Key?partNumber=1&uploadId=U",
                &[],
                UploadPart,
            ),
            (
                "PUT",
                "/BUCKET/Key?partNumber=1&uploadId=U",
                &[("x-amz-copy-source", "/src/k")],
                UploadPartCopy,
            ),
            (
                "POST",
                "/BUCKET/Key?uploadId=U",
                &[],
                CompleteMultipartUpload,
            ),
            (
                "DELETE",
                "/BUCKET/Key?uploadId=U",
                &[],
                AbortMultipartUpload,
            ),
            ("GET", "/BUCKET/Key?uploadId=U&max-parts=2", &[], ListParts),
            ("GET", "/BUCKET/Key?acl", &[], GetObjectAcl),
            ("PUT", "/BUCKET/Key?acl", &[], PutObjectAcl),
            ("GET", "/BUCKET/Key?tagging", &[], GetObjectTagging),
            ("PUT", "/BUCKET/Key?tagging", &[], PutObjectTagging),
            ("DELETE", "/BUCKET/Key?tagging", &[], DeleteObjectTagging),
            ("GET", "/BUCKET/Key?attributes", &[], GetObjectAttributes),
            ("GET", "/BUCKET/Key?legal-hold", &[], GetObjectLegalHold),
            ("PUT", "/BUCKET/Key?legal-hold", &[], PutObjectLegalHold),
            ("GET", "/BUCKET/Key?retention", &[], GetObjectRetention),
            ("PUT", "/BUCKET/Key?retention", &[], PutObjectRetention),
            ("GET", "/BUCKET/Key?torrent", &[], GetObjectTorrent),
            (
                "POST",
                "/BUCKET/Key?restore&versionId=V",
                &[],
                RestoreObject,
            ),
            (
                "POST",
                "/BUCKET/Key?select&select-type=2",
                &[],
                SelectObjectContent,
            ),
            ("PUT", "/BUCKET/Key?renameObject", &[], RenameObject),
            (
                "POST",
                "/WriteGetObjectResponse",
                &[("x-amz-request-route", "r")],
                WriteGetObjectResponse,
            ),
            ("PATCH", "/BUCKET/Key", &[], Unknown),
            ("POST", "/BUCKET/Key", &[], Unknown),
        ]
    };

    fn classify_line(host: &str, method: &str, target: &str, headers: &[(&str, &str)]) -> S3Op {
        let rules = HostRules::new("nyc3", "example.test");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let req = S3Request::parse(&rules, host, path, query).unwrap();
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        classify(&method.parse().unwrap(), &req, &map)
    }

    #[test]
    fn api_reference_request_lines_path_style() {
        for (method, target, headers, want) in CASES {
            assert_eq!(
                classify_line("nyc3.example.test", method, target, headers),
                *want,
                "{method} {target}"
            );
        }
    }

    #[test]
    fn api_reference_request_lines_virtual_hosted() {
        for (method, target, headers, want) in CASES {
            let Some(rest) = target.strip_prefix("/BUCKET") else {
                continue;
            };
            let rest = if rest.is_empty() || rest.starts_with('?') {
                format!("/{rest}")
            } else {
                rest.to_owned()
            };
            let got = classify_line("bucket.nyc3.example.test", method, &rest, headers);
            assert_eq!(got, *want, "vhost {method} {rest}");
        }
    }

    #[test]
    fn names_round_trip() {
        for op in S3Op::ALL {
            assert_eq!(S3Op::from_name(op.name()), Some(*op));
        }
    }
}
