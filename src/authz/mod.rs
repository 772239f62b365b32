//! May they: the decision made after authentication and before anything reaches the backend.
//!
//! Anonymous callers may use nothing (public reads come with ACLs); a bucket belongs to the user
//! who created it through the gateway, and only its owner may use it. A bucket the gateway has
//! no record of does not exist for clients — the system bucket and buckets made behind the
//! gateway's back included.

pub mod policy;

use crate::auth::Identity;
use crate::auth::credentials::{Access, User};
use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3_error;
use crate::state::StateStore;

/// Decides whether `identity` may perform `op`.
pub fn authorize(identity: &Identity, op: S3Op) -> Result<(), S3Error> {
    // Reads that public-read ACLs may open are decided once the ACL is known.
    if identity.user.is_none() && !may_be_public(op) {
        return Err(s3_error!(
            AccessDenied,
            "Anonymous access to {} is not allowed; sign the request.",
            op.name()
        ));
    }
    Ok(())
}

/// Reads a `public-read` ACL opens to everyone (AllUsers: anonymous and authenticated alike).
pub fn may_be_public(op: S3Op) -> bool {
    matches!(
        op,
        S3Op::GetObject | S3Op::HeadObject | S3Op::ListObjects | S3Op::ListObjectsV2
    )
}

/// The access an operation needs, by Spaces' read / read-write-delete classes.
pub fn required_access(op: S3Op) -> Access {
    use S3Op::*;
    match op {
        GetObject | HeadObject | ListObjects | ListObjectsV2 | ListObjectVersions
        | GetObjectTagging | GetObjectAcl | HeadBucket | GetBucketLocation
        | ListMultipartUploads | ListParts | GetBucketVersioning => Access::Read,
        PutObject
        | PostObject
        | CopyObject
        | DeleteObject
        | DeleteObjects
        | PutObjectTagging
        | DeleteObjectTagging
        | PutObjectAcl
        | CreateMultipartUpload
        | UploadPart
        | UploadPartCopy
        | CompleteMultipartUpload
        | AbortMultipartUpload => Access::Readwrite,
        _ => Access::Full,
    }
}

/// May `user` perform `op` on `bucket`: its owner may; a user granted enough access may (but
/// never delete the bucket); 404 NoSuchBucket when the gateway knows no such bucket, else 403.
pub async fn authorize_bucket(
    state: &StateStore,
    user: &User,
    bucket: &str,
    op: S3Op,
) -> Result<(), S3Error> {
    let Some(record) = state.bucket(bucket).await? else {
        return Err(
            s3_error!(NoSuchBucket, "The specified bucket does not exist.")
                .with_resource(format!("/{bucket}")),
        );
    };
    if record.owner == user.id {
        return Ok(());
    }
    let granted = user
        .grants
        .iter()
        .find(|g| g.bucket == bucket)
        .map(|g| g.access);
    match granted {
        Some(access) if access >= required_access(op) && op != S3Op::DeleteBucket => Ok(()),
        _ => Err(s3_error!(AccessDenied, "Access Denied")),
    }
}

/// The bucket named by `x-amz-copy-source` (`bucket/key` or `/bucket/key`, URL-encoded).
pub fn copy_source_bucket(value: &str) -> Option<String> {
    let decoded = crate::s3::uri::decode(value).ok()?;
    let path = decoded.strip_prefix('/').unwrap_or(&decoded);
    let bucket = path.split('/').next()?;
    (!bucket.is_empty()).then(|| bucket.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_classes_follow_spaces() {
        assert_eq!(required_access(S3Op::GetObject), Access::Read);
        assert_eq!(required_access(S3Op::ListObjectsV2), Access::Read);
        assert_eq!(required_access(S3Op::PutObject), Access::Readwrite);
        assert_eq!(required_access(S3Op::DeleteObjects), Access::Readwrite);
        assert_eq!(required_access(S3Op::PutBucketAcl), Access::Full);
        assert!(Access::Full > Access::Readwrite && Access::Readwrite > Access::Read);
    }

    #[test]
    fn copy_sources() {
        assert_eq!(copy_source_bucket("/src/a%20b.txt").as_deref(), Some("src"));
        assert_eq!(
            copy_source_bucket("src/k?versionId=1").as_deref(),
            Some("src")
        );
        assert_eq!(copy_source_bucket("/"), None);
    }

    #[test]
    fn anonymous_is_denied() {
        let e = authorize(&Identity::anonymous(), S3Op::PutObject).unwrap_err();
        assert_eq!(e.code().as_str(), "AccessDenied");
        // Reads are decided once the object's or bucket's ACL is known.
        assert!(authorize(&Identity::anonymous(), S3Op::GetObject).is_ok());
    }
}
