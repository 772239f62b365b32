//! May they: the decision made after authentication and before anything reaches the backend.
//!
//! Today the rule is that every configured user may use every admitted operation and anonymous
//! callers may use none; ownership, ACLs and bucket policies refine it (see the issue tracker).

use crate::auth::Identity;
use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3_error;

/// Decides whether `identity` may perform `op`.
pub fn authorize(identity: &Identity, op: S3Op) -> Result<(), S3Error> {
    if identity.user.is_none() {
        return Err(s3_error!(
            AccessDenied,
            "Anonymous access to {} is not allowed; sign the request.",
            op.name()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_is_denied() {
        let e = authorize(&Identity::anonymous(), S3Op::GetObject).unwrap_err();
        assert_eq!(e.code().as_str(), "AccessDenied");
    }
}
