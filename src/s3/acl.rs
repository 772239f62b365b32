//! Canned ACLs: the access-control vocabulary of the Spaces profile (`private`, `public-read`).
//! Bucket ACLs are kept in the gateway's state, object ACLs in object metadata (`state`).

use serde::{Deserialize, Serialize};

/// A canned ACL the profile accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CannedAcl {
    #[default]
    Private,
    PublicRead,
}

impl CannedAcl {
    pub fn parse(value: &str) -> Option<CannedAcl> {
        match value {
            "private" => Some(CannedAcl::Private),
            "public-read" => Some(CannedAcl::PublicRead),
            _ => None,
        }
    }
}
