//! The compatibility profile: which S3 operations exist, as data.
//!
//! `policies/spaces.toml` (built in; `[server] profile` may name another file) gives every
//! [`S3Op`] one [`Verdict`]. The code interprets verdicts; it has no per-operation "unsupported"
//! special cases. A profile that misses an operation or names an unknown one does not load.

use std::collections::HashMap;

use serde::Deserialize;

use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3_error;

/// The built-in DigitalOcean Spaces profile.
pub const SPACES: &str = include_str!("../../policies/spaces.toml");

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
}

/// A loaded, complete profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    verdicts: HashMap<S3Op, Verdict>,
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

    #[test]
    fn incomplete_and_misspelt_profiles_are_refused() {
        let e =
            Profile::from_toml("name = \"x\"\n[operations]\nPutObject = \"proxy\"\n").unwrap_err();
        assert!(
            e.contains("no verdict for") && e.contains("GetObject"),
            "{e}"
        );
        let e =
            Profile::from_toml("name = \"x\"\n[operations]\nPutObjekt = \"proxy\"\n").unwrap_err();
        assert!(e.contains("PutObjekt"), "{e}");
        let e =
            Profile::from_toml("name = \"x\"\n[operations]\nPutObject = \"maybe\"\n").unwrap_err();
        assert!(e.contains("maybe"), "{e}");
    }
}
