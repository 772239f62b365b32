//! Bucket policies: the AWS JSON policy language as Spaces/RGW accept it, parsed into typed
//! statements at the boundary and evaluated purely.
//!
//! Evaluation follows AWS: an explicit Deny in any matching statement wins; otherwise an Allow
//! from the policy grants; otherwise the policy has nothing to say and ownership, grants and
//! ACLs decide.

use std::net::IpAddr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3_error;

/// What a policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// No statement applies.
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Principal {
    Anyone,
    Users(Vec<String>),
    /// An AWS service (`{"Service": "logging.s3.amazonaws.com"}`, what AWS documents for
    /// granting log delivery). The gateway delivers logs itself, so such a statement is kept
    /// but matches no client request.
    Services(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Condition {
    operator: String,
    base: BaseOp,
    if_exists: bool,
    set: SetOp,
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum SetOp {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum BaseOp {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    IpAddress,
    NotIpAddress,
    Bool,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Null,
}

impl BaseOp {
    fn parse(name: &str) -> Option<BaseOp> {
        use BaseOp::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "Bool" => Bool,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "ArnEquals" => ArnEquals,
            "ArnNotEquals" => ArnNotEquals,
            "ArnLike" => ArnLike,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        })
    }

    /// Negated operators hold when no value matches.
    fn negated(self) -> bool {
        matches!(
            self,
            BaseOp::StringNotEquals
                | BaseOp::StringNotEqualsIgnoreCase
                | BaseOp::StringNotLike
                | BaseOp::NotIpAddress
                | BaseOp::NumericNotEquals
                | BaseOp::DateNotEquals
                | BaseOp::ArnNotEquals
                | BaseOp::ArnNotLike
        )
    }
}

/// Condition keys the gateway can supply.
const KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:securetransport",
    "aws:referer",
    "aws:useragent",
    "aws:currenttime",
    "aws:epochtime",
    "aws:username",
    "aws:principaltype",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:x-amz-acl",
    "s3:x-amz-copy-source",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:versionid",
    "s3:requestobjecttagkeys",
    // What a service principal's statement names (log delivery's source bucket and account);
    // no client request carries them, so they hold only under `...IfExists` or `Null`.
    "aws:sourcearn",
    "aws:sourceaccount",
];

/// Condition keys named by a tag key (`s3:ExistingObjectTag/<tag>`, `s3:RequestObjectTag/<tag>`):
/// the prefix is matched in lower case, the tag key keeps its case (tag keys are case-sensitive).
pub const EXISTING_TAG: &str = "s3:existingobjecttag/";
pub const REQUEST_TAG: &str = "s3:requestobjecttag/";
pub const REQUEST_TAG_KEYS: &str = "s3:requestobjecttagkeys";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Statement {
    sid: Option<String>,
    allow: bool,
    principal: Option<Principal>,
    not_principal: Option<Principal>,
    actions: Vec<String>,
    not_actions: Vec<String>,
    resources: Vec<String>,
    not_resources: Vec<String>,
    conditions: Vec<Condition>,
}

/// A validated bucket policy; the original JSON is kept for GetBucketPolicy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketPolicy {
    statements: Vec<Statement>,
    document: String,
}

/// The facts a request presents to a policy.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts<'a> {
    /// The caller's user id, `None` for anonymous.
    pub user: Option<&'a str>,
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: String,
    pub source_ip: Option<IpAddr>,
    pub secure: bool,
    pub now: Option<SystemTime>,
    /// Further condition values by lower-case key (`aws:referer`, `s3:prefix`, ...).
    pub values: Vec<(String, String)>,
}

fn malformed(why: impl std::fmt::Display) -> S3Error {
    s3_error!(MalformedPolicy, "{why}")
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, S3Error> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| malformed(format!("{what} must hold strings")))
            })
            .collect(),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Number(n) => Ok(vec![n.to_string()]),
        _ => Err(malformed(format!(
            "{what} must be a string or a list of strings"
        ))),
    }
}

/// `arn:aws:iam::<account>:user/<name>`, `arn:aws:iam:::user/<name>` or a bare user id.
fn principal_id(value: &str) -> String {
    value
        .rsplit_once(":user/")
        .map_or(value, |(_, name)| name)
        .to_owned()
}

fn parse_principal(v: &Value) -> Result<Principal, S3Error> {
    match v {
        Value::String(s) if s == "*" => Ok(Principal::Anyone),
        Value::Object(map) => {
            let mut users = Vec::new();
            let mut services = Vec::new();
            for (kind, ids) in map {
                match kind.as_str() {
                    "AWS" => {
                        for id in strings(ids, "Principal")? {
                            if id == "*" {
                                return Ok(Principal::Anyone);
                            }
                            users.push(principal_id(&id));
                        }
                    }
                    "Service" => services.extend(strings(ids, "Principal")?),
                    _ => {
                        return Err(malformed(format!(
                            "Principal type {kind:?} is not supported; use \"AWS\" or \"Service\""
                        )));
                    }
                }
            }
            match (users.is_empty(), services.is_empty()) {
                (false, true) => Ok(Principal::Users(users)),
                (true, false) => Ok(Principal::Services(services)),
                _ => Err(malformed(
                    "Principal names users under \"AWS\" or services under \"Service\", in separate statements",
                )),
            }
        }
        _ => Err(malformed(
            "Principal must be \"*\", {\"AWS\": ...} or {\"Service\": ...}",
        )),
    }
}

/// Whether `value` matches a pattern with `*` (any run) and `?` (one character).
fn glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let (addr, bits) = cidr
        .split_once('/')
        .unwrap_or((cidr, if cidr.contains(':') { "128" } else { "32" }));
    let (Ok(net), Ok(bits)) = (addr.trim().parse::<IpAddr>(), bits.trim().parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            s.parse::<i64>()
                .ok()
                .and_then(|e| time::OffsetDateTime::from_unix_timestamp(e).ok())
        })
}

impl BucketPolicy {
    /// Parses and validates a policy for `bucket`: JSON, Effect, known actions, resources inside
    /// this bucket, supported condition operators and keys.
    pub fn parse(json: &[u8], bucket: &str) -> Result<BucketPolicy, S3Error> {
        let doc: Value = serde_json::from_slice(json)
            .map_err(|e| malformed(format!("This policy is not valid JSON: {e}")))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| malformed("A policy must be a JSON object"))?;
        for key in obj.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(malformed(format!("Unknown policy element {key:?}")));
            }
        }
        if let Some(v) = obj.get("Version").and_then(Value::as_str)
            && v != "2012-10-17"
            && v != "2008-10-17"
        {
            return Err(malformed(format!("Unsupported policy Version {v:?}")));
        }
        let statements = match obj.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(s @ Value::Object(_)) => vec![s.clone()],
            _ => return Err(malformed("Missing required field Statement")),
        };
        if statements.is_empty() {
            return Err(malformed("Statement must not be empty"));
        }
        let mut out = Vec::new();
        for (i, s) in statements.iter().enumerate() {
            out.push(Self::statement(s, i, bucket)?);
        }
        Ok(BucketPolicy {
            statements: out,
            document: String::from_utf8_lossy(json).into_owned(),
        })
    }

    fn statement(s: &Value, i: usize, bucket: &str) -> Result<Statement, S3Error> {
        let obj = s
            .as_object()
            .ok_or_else(|| malformed("Each Statement must be an object"))?;
        let sid = obj.get("Sid").and_then(Value::as_str).map(str::to_owned);
        let name = sid.clone().unwrap_or_else(|| format!("#{}", i + 1));
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "Sid"
                    | "Effect"
                    | "Principal"
                    | "NotPrincipal"
                    | "Action"
                    | "NotAction"
                    | "Resource"
                    | "NotResource"
                    | "Condition"
            ) {
                return Err(malformed(format!(
                    "Statement {name}: unknown element {key:?}"
                )));
            }
        }
        let allow = match obj.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            other => {
                return Err(malformed(format!(
                    "Statement {name}: Effect must be Allow or Deny, not {other:?}"
                )));
            }
        };
        let principal = obj.get("Principal").map(parse_principal).transpose()?;
        let not_principal = obj.get("NotPrincipal").map(parse_principal).transpose()?;
        if principal.is_none() && not_principal.is_none() {
            return Err(malformed(format!(
                "Statement {name}: a bucket policy statement needs a Principal"
            )));
        }
        if allow && not_principal.is_some() {
            // "Everyone but X" may do this: S3 (and RGW) refuse it in a bucket policy.
            return Err(malformed(format!(
                "Statement {name}: NotPrincipal may be used only with Effect Deny"
            )));
        }
        let actions = obj
            .get("Action")
            .map(|v| strings(v, "Action"))
            .transpose()?
            .unwrap_or_default();
        let not_actions = obj
            .get("NotAction")
            .map(|v| strings(v, "NotAction"))
            .transpose()?
            .unwrap_or_default();
        if actions.is_empty() && not_actions.is_empty() {
            return Err(malformed(format!(
                "Statement {name}: Action or NotAction is required"
            )));
        }
        for a in actions.iter().chain(&not_actions) {
            let known = a == "*"
                || a.strip_prefix("s3:").is_some_and(|rest| {
                    rest.contains('*')
                        || rest.contains('?')
                        || action_names().any(|n| n.eq_ignore_ascii_case(a))
                });
            if !known {
                return Err(malformed(format!(
                    "Statement {name}: Policy has an invalid action: {a}"
                )));
            }
        }
        let resources = obj
            .get("Resource")
            .map(|v| strings(v, "Resource"))
            .transpose()?
            .unwrap_or_default();
        let not_resources = obj
            .get("NotResource")
            .map(|v| strings(v, "NotResource"))
            .transpose()?
            .unwrap_or_default();
        if resources.is_empty() && not_resources.is_empty() {
            return Err(malformed(format!(
                "Statement {name}: Resource or NotResource is required"
            )));
        }
        let own = format!("arn:aws:s3:::{bucket}");
        for r in resources.iter().chain(&not_resources) {
            // A pattern may be wider than the bucket (`arn:aws:s3:::*`), as long as it covers
            // the bucket or its objects; it can never reach another bucket's, since a policy
            // only ever applies to requests on its own bucket.
            let literal = &r[..r.find(['*', '?']).unwrap_or(r.len())];
            let inside = r == &own
                || r.strip_prefix(&own)
                    .is_some_and(|rest| rest.starts_with('/'))
                || (literal.len() < r.len() && format!("{own}/").starts_with(literal));
            if !inside {
                return Err(malformed(format!(
                    "Statement {name}: Policy has invalid resource {r:?}: it must be inside {own}"
                )));
            }
        }
        let mut conditions = Vec::new();
        if let Some(c) = obj.get("Condition") {
            let map = c.as_object().ok_or_else(|| {
                malformed(format!("Statement {name}: Condition must be an object"))
            })?;
            for (operator, block) in map {
                let (set, rest) = if let Some(r) = operator.strip_prefix("ForAnyValue:") {
                    (SetOp::ForAnyValue, r)
                } else if let Some(r) = operator.strip_prefix("ForAllValues:") {
                    (SetOp::ForAllValues, r)
                } else {
                    (SetOp::Single, operator.as_str())
                };
                let (base_name, if_exists) = match rest.strip_suffix("IfExists") {
                    Some(b) => (b, true),
                    None => (rest, false),
                };
                let base = BaseOp::parse(base_name).ok_or_else(|| {
                    malformed(format!(
                        "Statement {name}: invalid Condition operator {operator:?}"
                    ))
                })?;
                let block = block.as_object().ok_or_else(|| {
                    malformed(format!(
                        "Statement {name}: Condition {operator} must map keys to values"
                    ))
                })?;
                for (key, values) in block {
                    let mut lower = key.to_ascii_lowercase();
                    if let Some(prefix) = [EXISTING_TAG, REQUEST_TAG]
                        .into_iter()
                        .find(|p| lower.starts_with(p) && lower.len() > p.len())
                    {
                        lower = format!("{prefix}{}", &key[prefix.len()..]);
                    } else if !KEYS.contains(&lower.as_str()) {
                        return Err(malformed(format!(
                            "Statement {name}: Policy has an invalid condition key {key}"
                        )));
                    }
                    conditions.push(Condition {
                        operator: operator.clone(),
                        base,
                        if_exists,
                        set,
                        key: lower,
                        values: strings(values, "Condition value")?,
                    });
                }
            }
        }
        Ok(Statement {
            sid,
            allow,
            principal,
            not_principal,
            actions,
            not_actions,
            resources,
            not_resources,
            conditions,
        })
    }

    /// Whether a statement reads the object's current tags (`s3:ExistingObjectTag/...`): the
    /// gateway fetches them only then.
    pub fn needs_existing_tags(&self) -> bool {
        self.statements
            .iter()
            .flat_map(|s| &s.conditions)
            .any(|c| c.key.starts_with(EXISTING_TAG))
    }

    /// The policy as the owner wrote it.
    pub fn document(&self) -> &str {
        &self.document
    }

    /// Evaluates the policy for one request.
    pub fn evaluate(&self, facts: &RequestFacts<'_>) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if !s.applies(facts) {
                continue;
            }
            if !s.allow {
                return Decision::Deny;
            }
            allowed = true;
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }
}

impl Statement {
    fn applies(&self, f: &RequestFacts<'_>) -> bool {
        let principal_ok = match (&self.principal, &self.not_principal) {
            (Some(p), _) => principal_matches(p, f.user),
            (None, Some(np)) => !principal_matches(np, f.user),
            (None, None) => false,
        };
        let action_ok = if self.actions.is_empty() {
            !self.not_actions.iter().any(|a| action_matches(a, f.action))
        } else {
            self.actions.iter().any(|a| action_matches(a, f.action))
        };
        let resource_ok = if self.resources.is_empty() {
            !self.not_resources.iter().any(|r| glob(r, &f.resource))
        } else {
            self.resources.iter().any(|r| glob(r, &f.resource))
        };
        principal_ok && action_ok && resource_ok && self.conditions.iter().all(|c| c.holds(f))
    }
}

fn principal_matches(p: &Principal, user: Option<&str>) -> bool {
    match p {
        Principal::Anyone => true,
        Principal::Users(ids) => user.is_some_and(|u| ids.iter().any(|id| id == u)),
        Principal::Services(_) => false,
    }
}

fn action_matches(pattern: &str, action: &str) -> bool {
    glob(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

impl Condition {
    fn request_values(&self, f: &RequestFacts<'_>) -> Vec<String> {
        match self.key.as_str() {
            "aws:sourceip" => f.source_ip.map(|ip| ip.to_string()).into_iter().collect(),
            "aws:securetransport" => vec![f.secure.to_string()],
            "aws:username" => f.user.map(str::to_owned).into_iter().collect(),
            "aws:principaltype" => vec![
                if f.user.is_some() {
                    "User"
                } else {
                    "Anonymous"
                }
                .to_owned(),
            ],
            "aws:currenttime" | "aws:epochtime" => f
                .now
                .map(|t| time::OffsetDateTime::from(t).unix_timestamp().to_string())
                .into_iter()
                .collect(),
            key => f
                .values
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .collect(),
        }
    }

    fn holds(&self, f: &RequestFacts<'_>) -> bool {
        let have = self.request_values(f);
        if self.base == BaseOp::Null {
            let want_null = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return have.is_empty() == want_null;
        }
        if have.is_empty() {
            // A missing key satisfies ...IfExists and the negated operators' set forms only.
            return self.if_exists || (self.set == SetOp::ForAllValues);
        }
        let one = |value: &str| self.values.iter().any(|want| self.compare(value, want));
        match self.set {
            SetOp::ForAllValues => have.iter().all(|v| one(v)),
            SetOp::ForAnyValue | SetOp::Single => {
                if self.base.negated() {
                    // "not equal to any of the listed values".
                    have.iter().all(|v| {
                        !self
                            .values
                            .iter()
                            .any(|want| self.compare_positive(v, want))
                    })
                } else {
                    have.iter().any(|v| one(v))
                }
            }
        }
    }

    /// The positive form of a negated operator (used to negate over the whole value list).
    fn compare_positive(&self, have: &str, want: &str) -> bool {
        use BaseOp::*;
        match self.base {
            StringNotEquals => have == want,
            StringNotEqualsIgnoreCase => have.eq_ignore_ascii_case(want),
            StringNotLike | ArnNotLike => glob(want, have),
            ArnNotEquals => have == want,
            NotIpAddress => have.parse().is_ok_and(|ip| cidr_contains(want, ip)),
            NumericNotEquals => {
                matches!((have.parse::<f64>(), want.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
            }
            DateNotEquals => {
                matches!((parse_time(have), parse_time(want)), (Some(a), Some(b)) if a == b)
            }
            _ => self.compare(have, want),
        }
    }

    fn compare(&self, have: &str, want: &str) -> bool {
        use BaseOp::*;
        let num = || match (have.parse::<f64>(), want.parse::<f64>()) {
            (Ok(a), Ok(b)) => Some((a, b)),
            _ => None,
        };
        let date = || match (parse_time(have), parse_time(want)) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        match self.base {
            StringEquals => have == want,
            StringEqualsIgnoreCase => have.eq_ignore_ascii_case(want),
            StringLike | ArnLike => glob(want, have),
            ArnEquals => have == want,
            IpAddress => have.parse().is_ok_and(|ip| cidr_contains(want, ip)),
            Bool => have.eq_ignore_ascii_case(want),
            NumericEquals => num().is_some_and(|(a, b)| a == b),
            NumericLessThan => num().is_some_and(|(a, b)| a < b),
            NumericLessThanEquals => num().is_some_and(|(a, b)| a <= b),
            NumericGreaterThan => num().is_some_and(|(a, b)| a > b),
            NumericGreaterThanEquals => num().is_some_and(|(a, b)| a >= b),
            DateEquals => date().is_some_and(|(a, b)| a == b),
            DateLessThan => date().is_some_and(|(a, b)| a < b),
            DateLessThanEquals => date().is_some_and(|(a, b)| a <= b),
            DateGreaterThan => date().is_some_and(|(a, b)| a > b),
            DateGreaterThanEquals => date().is_some_and(|(a, b)| a >= b),
            // Negated operators are evaluated through `compare_positive`.
            StringNotEquals
            | StringNotEqualsIgnoreCase
            | StringNotLike
            | NotIpAddress
            | NumericNotEquals
            | DateNotEquals
            | ArnNotEquals
            | ArnNotLike => !self.compare_positive(have, want),
            Null => false,
        }
    }
}

/// The IAM action an operation needs, from one table.
pub fn action(op: S3Op) -> &'static str {
    use S3Op::*;
    match op {
        GetObject | HeadObject => "s3:GetObject",
        PutObject
        | PostObject
        | CopyObject
        | CreateMultipartUpload
        | UploadPart
        | UploadPartCopy
        | CompleteMultipartUpload => "s3:PutObject",
        DeleteObject | DeleteObjects => "s3:DeleteObject",
        AbortMultipartUpload => "s3:AbortMultipartUpload",
        ListParts => "s3:ListMultipartUploadParts",
        ListMultipartUploads => "s3:ListBucketMultipartUploads",
        ListObjects | ListObjectsV2 | HeadBucket => "s3:ListBucket",
        ListObjectVersions => "s3:ListBucketVersions",
        GetObjectAcl => "s3:GetObjectAcl",
        PutObjectAcl => "s3:PutObjectAcl",
        GetBucketAcl => "s3:GetBucketAcl",
        PutBucketAcl => "s3:PutBucketAcl",
        GetObjectTagging => "s3:GetObjectTagging",
        PutObjectTagging => "s3:PutObjectTagging",
        DeleteObjectTagging => "s3:DeleteObjectTagging",
        GetBucketCors => "s3:GetBucketCORS",
        PutBucketCors | DeleteBucketCors => "s3:PutBucketCORS",
        GetBucketWebsite => "s3:GetBucketWebsite",
        PutBucketWebsite => "s3:PutBucketWebsite",
        DeleteBucketWebsite => "s3:DeleteBucketWebsite",
        GetBucketPolicy => "s3:GetBucketPolicy",
        PutBucketPolicy => "s3:PutBucketPolicy",
        DeleteBucketPolicy => "s3:DeleteBucketPolicy",
        GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
        GetBucketLifecycleConfiguration => "s3:GetLifecycleConfiguration",
        PutBucketLifecycleConfiguration | DeleteBucketLifecycle => "s3:PutLifecycleConfiguration",
        GetBucketVersioning => "s3:GetBucketVersioning",
        PutBucketVersioning => "s3:PutBucketVersioning",
        GetBucketLogging => "s3:GetBucketLogging",
        PutBucketLogging => "s3:PutBucketLogging",
        GetBucketLocation => "s3:GetBucketLocation",
        DeleteBucket => "s3:DeleteBucket",
        CreateBucket => "s3:CreateBucket",
        ListBuckets => "s3:ListAllMyBuckets",
        _ => "s3:Unsupported",
    }
}

/// Every action name the table knows (to validate policies).
fn action_names() -> impl Iterator<Item = &'static str> {
    S3Op::ALL
        .iter()
        .map(|op| action(*op))
        .filter(|a| *a != "s3:Unsupported")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> BucketPolicy {
        BucketPolicy::parse(json.as_bytes(), "b").unwrap()
    }

    fn facts<'a>(user: Option<&'a str>, action: &'a str, key: Option<&str>) -> RequestFacts<'a> {
        RequestFacts {
            user,
            action,
            resource: key.map_or("arn:aws:s3:::b".to_owned(), |k| {
                format!("arn:aws:s3:::b/{k}")
            }),
            source_ip: "10.1.2.3".parse().ok(),
            ..Default::default()
        }
    }

    #[test]
    fn deny_wins_over_allow() {
        let p = policy(
            r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/secret/*"}]}"#,
        );
        assert_eq!(
            p.evaluate(&facts(None, "s3:GetObject", Some("pub/x"))),
            Decision::Allow
        );
        assert_eq!(
            p.evaluate(&facts(Some("main"), "s3:GetObject", Some("secret/x"))),
            Decision::Deny
        );
        assert_eq!(
            p.evaluate(&facts(None, "s3:PutObject", Some("pub/x"))),
            Decision::NotApplicable
        );
    }

    #[test]
    fn principals_in_every_form() {
        let p = policy(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123:user/alt","arn:aws:iam:::user/third","fourth"]},"Action":["s3:Get*","s3:ListBucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}}"#,
        );
        for u in ["alt", "third", "fourth"] {
            assert_eq!(
                p.evaluate(&facts(Some(u), "s3:GetObject", Some("k"))),
                Decision::Allow,
                "{u}"
            );
        }
        assert_eq!(
            p.evaluate(&facts(Some("main"), "s3:GetObject", Some("k"))),
            Decision::NotApplicable
        );
        assert_eq!(
            p.evaluate(&facts(None, "s3:GetObject", Some("k"))),
            Decision::NotApplicable
        );
        let np = policy(
            r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"main"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}}"#,
        );
        assert_eq!(
            np.evaluate(&facts(Some("alt"), "s3:GetObject", Some("k"))),
            Decision::Deny
        );
        assert_eq!(
            np.evaluate(&facts(Some("main"), "s3:GetObject", Some("k"))),
            Decision::NotApplicable
        );
    }

    /// AWS's documented log-delivery grant (ceph/s3-tests `_set_log_bucket_policy`): accepted,
    /// and it lets no client do anything; users and services in one Principal are refused.
    #[test]
    fn service_principals_match_no_client() {
        let p = policy(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"S3ServerAccessLogsPolicy","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::b/log/","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::src"},"StringEquals":{"aws:SourceAccount":"main"}}}]}"#,
        );
        for user in [Some("main"), Some("alt"), None] {
            assert_eq!(
                p.evaluate(&facts(user, "s3:PutObject", Some("log/"))),
                Decision::NotApplicable,
                "{user:?}"
            );
        }
        let e = BucketPolicy::parse(
            br#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"alt","Service":"logging.s3.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
            "b",
        )
        .unwrap_err();
        assert_eq!(e.code().as_str(), "MalformedPolicy");
        // Arn operators compare like their String counterparts; a client request has no
        // aws:SourceArn, so only the IfExists form holds for it.
        let arn = policy(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::src*"}}}}"#,
        );
        assert_eq!(
            arn.evaluate(&facts(None, "s3:GetObject", Some("k"))),
            Decision::Allow
        );
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = policy(
            r#"{"Statement":{"Effect":"Deny","Principal":"*","NotAction":"s3:GetObject","NotResource":"arn:aws:s3:::b/open/*"}}"#,
        );
        assert_eq!(
            p.evaluate(&facts(None, "s3:PutObject", Some("closed/x"))),
            Decision::Deny
        );
        assert_eq!(
            p.evaluate(&facts(None, "s3:GetObject", Some("closed/x"))),
            Decision::NotApplicable
        );
        assert_eq!(
            p.evaluate(&facts(None, "s3:PutObject", Some("open/x"))),
            Decision::NotApplicable
        );
    }

    fn cond(operator: &str, key: &str, values: &str) -> BucketPolicy {
        policy(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{{"{operator}":{{"{key}":{values}}}}}}}}}"#
        ))
    }

    fn with(values: &[(&str, &str)]) -> RequestFacts<'static> {
        let mut f = facts(Some("alt"), "s3:ListBucket", None);
        f.values = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        f.now = Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000));
        f.secure = false;
        f
    }

    #[test]
    fn each_operator() {
        let yes = Decision::Allow;
        let no = Decision::NotApplicable;
        let cases: Vec<(BucketPolicy, RequestFacts, Decision)> = vec![
            (
                cond("StringEquals", "s3:prefix", r#""home/""#),
                with(&[("s3:prefix", "home/")]),
                yes,
            ),
            (
                cond("StringEquals", "s3:prefix", r#""home/""#),
                with(&[("s3:prefix", "Home/")]),
                no,
            ),
            (
                cond("StringEqualsIgnoreCase", "s3:prefix", r#""home/""#),
                with(&[("s3:prefix", "HOME/")]),
                yes,
            ),
            (
                cond("StringNotEquals", "s3:prefix", r#"["a","b"]"#),
                with(&[("s3:prefix", "c")]),
                yes,
            ),
            (
                cond("StringNotEquals", "s3:prefix", r#"["a","b"]"#),
                with(&[("s3:prefix", "b")]),
                no,
            ),
            (
                cond("StringLike", "aws:Referer", r#""https://*.example.com/*""#),
                with(&[("aws:referer", "https://www.example.com/p")]),
                yes,
            ),
            (
                cond("StringNotLike", "aws:UserAgent", r#""curl/*""#),
                with(&[("aws:useragent", "curl/8")]),
                no,
            ),
            (
                cond("IpAddress", "aws:SourceIp", r#""10.0.0.0/8""#),
                with(&[]),
                yes,
            ),
            (
                cond("IpAddress", "aws:SourceIp", r#""192.168.0.0/16""#),
                with(&[]),
                no,
            ),
            (
                cond("NotIpAddress", "aws:SourceIp", r#""192.168.0.0/16""#),
                with(&[]),
                yes,
            ),
            (
                cond("Bool", "aws:SecureTransport", r#""false""#),
                with(&[]),
                yes,
            ),
            (cond("Bool", "aws:SecureTransport", "true"), with(&[]), no),
            (
                cond("NumericLessThan", "s3:max-keys", r#""10""#),
                with(&[("s3:max-keys", "5")]),
                yes,
            ),
            (
                cond("NumericGreaterThanEquals", "s3:max-keys", r#""10""#),
                with(&[("s3:max-keys", "5")]),
                no,
            ),
            (
                cond(
                    "DateLessThan",
                    "aws:CurrentTime",
                    r#""2030-01-01T00:00:00Z""#,
                ),
                with(&[]),
                yes,
            ),
            (
                cond(
                    "DateGreaterThan",
                    "aws:CurrentTime",
                    r#""2030-01-01T00:00:00Z""#,
                ),
                with(&[]),
                no,
            ),
            (
                cond("StringEqualsIfExists", "s3:x-amz-acl", r#""private""#),
                with(&[]),
                yes,
            ),
            (
                cond("StringEquals", "s3:x-amz-acl", r#""private""#),
                with(&[]),
                no,
            ),
            (
                cond("ForAnyValue:StringEquals", "s3:prefix", r#"["x","y"]"#),
                with(&[("s3:prefix", "y")]),
                yes,
            ),
            (
                cond("ForAllValues:StringEquals", "s3:prefix", r#"["x"]"#),
                with(&[("s3:prefix", "x"), ("s3:prefix", "z")]),
                no,
            ),
            (cond("Null", "s3:delimiter", "true"), with(&[]), yes),
            (
                cond("StringEquals", "aws:username", r#""alt""#),
                with(&[]),
                yes,
            ),
        ];
        for (i, (p, f, want)) in cases.iter().enumerate() {
            assert_eq!(p.evaluate(f), *want, "case {i}");
        }
    }

    #[test]
    fn invalid_policies_name_the_problem() {
        let err = |json: &str| BucketPolicy::parse(json.as_bytes(), "b").unwrap_err();
        let e = err("not json");
        assert_eq!(e.code().as_str(), "MalformedPolicy");
        assert!(err(r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#).message().contains("Effect"));
        assert!(err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Fly","Resource":"arn:aws:s3:::b/*"}]}"#).message().contains("s3:Fly"));
        assert!(err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#).message().contains("other"));
        assert!(err(r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"alt"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#).message().contains("NotPrincipal"));
        // Wider patterns that cover the bucket are fine.
        for wide in ["arn:aws:s3:::*", "arn:aws:s3:::b*", "arn:aws:s3:::*/*"] {
            let doc = format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"{wide}"}}]}}"#
            );
            BucketPolicy::parse(doc.as_bytes(), "b").unwrap_or_else(|e| panic!("{wide}: {e}"));
        }
        assert!(err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringWhatever":{"s3:prefix":"x"}}}]}"#).message().contains("StringWhatever"));
        assert!(err(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/":"v"}}}]}"#).message().contains("condition key"));
    }

    /// Tag conditions: the tag key keeps its case; request tags are a set for the `...TagKeys`
    /// key; existing tags are asked for only by policies that name them.
    #[test]
    fn tag_conditions() {
        let p = BucketPolicy::parse(
            br#"{"Statement":[
              {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/Public":"yes"}}},
              {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"s3:RequestObjectTag/team":"blue"},"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team","env"]}}}
            ]}"#,
            "b",
        )
        .unwrap();
        assert!(p.needs_existing_tags());
        let facts = |action, values: &[(&str, &str)]| RequestFacts {
            action,
            resource: "arn:aws:s3:::b/k".into(),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        let get = |values: &[(&str, &str)]| p.evaluate(&facts("s3:GetObject", values));
        assert_eq!(
            get(&[("s3:existingobjecttag/Public", "yes")]),
            Decision::Allow
        );
        assert_eq!(
            get(&[("s3:existingobjecttag/public", "yes")]),
            Decision::NotApplicable
        );
        assert_eq!(get(&[]), Decision::NotApplicable);
        let put = |values: &[(&str, &str)]| p.evaluate(&facts("s3:PutObject", values));
        let blue = [
            ("s3:requestobjecttag/team", "blue"),
            ("s3:requestobjecttagkeys", "team"),
        ];
        assert_eq!(put(&blue), Decision::Allow);
        let extra = [
            ("s3:requestobjecttag/team", "blue"),
            ("s3:requestobjecttagkeys", "team"),
            ("s3:requestobjecttagkeys", "owner"),
        ];
        assert_eq!(put(&extra), Decision::NotApplicable);
        assert_eq!(
            put(&[("s3:requestobjecttag/team", "red")]),
            Decision::NotApplicable
        );
    }

    #[test]
    fn globbing() {
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
        assert!(glob("*", "") && glob("a*b*c", "aXbYc") && !glob("a*b", "aXc"));
    }
}
