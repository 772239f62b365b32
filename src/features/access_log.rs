//! Access logs delivered to another bucket, in the S3 server access log format.
//!
//! Records are buffered per target in memory (bounded: past the limit the oldest records are
//! dropped and counted), and a background task writes each target's records as one object,
//! `<prefix>YYYY-MM-DD-HH-MM-SS-<instance><sequence>`, every interval and once more on graceful
//! shutdown. The instance id is random per process, so replicas never write the same name.
//! Delivery failures keep the records for the next round; client requests never wait on it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::s3::error::S3Error;
use crate::s3_error;

/// Where a bucket's records go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoggingTarget {
    pub bucket: String,
    pub prefix: String,
    /// The user who owned both buckets when logging was configured (absent in records
    /// written before owners were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "BucketLoggingStatus")]
struct StatusDoc {
    #[serde(rename = "LoggingEnabled")]
    enabled: Option<EnabledDoc>,
}

#[derive(Debug, Deserialize)]
struct EnabledDoc {
    #[serde(rename = "TargetBucket")]
    bucket: String,
    #[serde(rename = "TargetPrefix", default)]
    prefix: Option<String>,
    #[serde(rename = "TargetGrants")]
    grants: Option<serde::de::IgnoredAny>,
    #[serde(rename = "TargetObjectKeyFormat")]
    key_format: Option<KeyFormatDoc>,
}

/// `SimplePrefix` is how the gateway names log objects anyway; `PartitionedPrefix` is not
/// offered.
#[derive(Debug, Deserialize)]
struct KeyFormatDoc {
    #[serde(rename = "PartitionedPrefix")]
    partitioned: Option<serde::de::IgnoredAny>,
}

/// Parses a `PutBucketLogging` body: `Some(target)` enables, `None` (an empty status) disables.
pub fn parse_logging_status(body: &[u8]) -> Result<Option<LoggingTarget>, S3Error> {
    let text =
        std::str::from_utf8(body).map_err(|_| s3_error!(MalformedXML, "The body is not UTF-8."))?;
    let doc: StatusDoc = quick_xml::de::from_str(text)
        .map_err(|e| s3_error!(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: {e}"))?;
    match doc.enabled {
        None => Ok(None),
        Some(e) if e.grants.is_some() => Err(s3_error!(
            NotImplemented,
            "TargetGrants are not supported for access logs."
        )),
        Some(e)
            if e.key_format
                .as_ref()
                .is_some_and(|f| f.partitioned.is_some()) =>
        {
            Err(s3_error!(
                NotImplemented,
                "TargetObjectKeyFormat PartitionedPrefix is not supported for access logs; log objects are named with the simple prefix format."
            ))
        }
        Some(e) => Ok(Some(LoggingTarget {
            bucket: e.bucket,
            prefix: e.prefix.unwrap_or_default(),
            owner: None,
        })),
    }
}

/// The `GetBucketLogging` document.
pub fn logging_status_xml(target: Option<&LoggingTarget>) -> String {
    use quick_xml::escape::escape;
    let inner = target
        .map(|t| {
            format!(
                "<LoggingEnabled><TargetBucket>{}</TargetBucket><TargetPrefix>{}</TargetPrefix></LoggingEnabled>",
                escape(&t.bucket),
                escape(&t.prefix)
            )
        })
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BucketLoggingStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{inner}</BucketLoggingStatus>"
    )
}

/// One request, as the access log records it.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub bucket_owner: String,
    pub bucket: String,
    pub time: Option<SystemTime>,
    pub remote_ip: Option<String>,
    pub requester: Option<String>,
    pub request_id: String,
    pub operation: String,
    pub key: Option<String>,
    pub request_uri: String,
    pub status: u16,
    pub error_code: Option<String>,
    pub bytes_sent: u64,
    pub object_size: Option<u64>,
    pub total_time_ms: u64,
    pub turnaround_ms: Option<u64>,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
    pub version_id: Option<String>,
    pub signature_version: Option<String>,
    pub auth_type: Option<String>,
    pub host_header: Option<String>,
    pub tls_version: Option<String>,
}

/// An unquoted field: `-` when empty; bytes that could end the field or the line (space,
/// control characters, `"`, `\\`, non-ASCII) percent-encoded, so no value a client chose can
/// forge a field or a record.
fn dash(v: &Option<String>) -> String {
    match v.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => escape_field(s, true),
        None => "-".to_owned(),
    }
}

/// A quoted field (`"-"` when absent), with the same escaping inside the quotes.
fn quoted(v: &Option<String>) -> String {
    match v.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => format!("\"{}\"", escape_field(s, false)),
        None => "\"-\"".to_owned(),
    }
}

fn escape_field(s: &str, escape_space: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let plain = b.is_ascii_graphic() && b != b'"' && b != b'\\' || (b == b' ' && !escape_space);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Record {
    /// The record as one line of the S3 server access log format.
    pub fn to_line(&self) -> String {
        let time = self.time.map_or_else(
            || "-".to_owned(),
            |t| {
                let t = time::OffsetDateTime::from(t);
                let fmt = time::macros::format_description!(
                    "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
                );
                format!("[{}]", t.format(fmt).unwrap_or_default())
            },
        );
        let key = self.key.as_ref().map(|k| crate::s3::uri::encode_path(k));
        [
            dash(&Some(self.bucket_owner.clone())),
            dash(&Some(self.bucket.clone())),
            time,
            dash(&self.remote_ip),
            dash(&self.requester),
            escape_field(&self.request_id, true),
            escape_field(&self.operation, true),
            dash(&key),
            quoted(&Some(self.request_uri.clone())),
            self.status.to_string(),
            dash(&self.error_code),
            if self.bytes_sent == 0 {
                "-".to_owned()
            } else {
                self.bytes_sent.to_string()
            },
            self.object_size
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            self.total_time_ms.to_string(),
            self.turnaround_ms
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            quoted(&self.referer),
            quoted(&self.user_agent),
            dash(&self.version_id),
            "-".to_owned(),
            dash(&self.signature_version),
            "-".to_owned(),
            dash(&self.auth_type),
            dash(&self.host_header),
            dash(&self.tls_version),
            // Access Point ARN (no access points here) and aclRequired (no ACL was needed:
            // the gateway decides by owner, grants and policies first).
            "-".to_owned(),
            "-".to_owned(),
        ]
        .join(" ")
    }
}

/// The access log operation name: `REST.GET.OBJECT`, `REST.PUT.ACL`, `WEBSITE.GET.OBJECT`, ...
pub fn operation_name(
    website: bool,
    method: &str,
    has_key: bool,
    query: &crate::s3::uri::Query,
) -> String {
    const SUBRESOURCES: &[(&str, &str)] = &[
        ("acl", "ACL"),
        ("cors", "CORS"),
        ("policy", "BUCKETPOLICY"),
        ("lifecycle", "LIFECYCLE"),
        ("versioning", "VERSIONING"),
        ("website", "WEBSITE"),
        ("logging", "LOGGING_STATUS"),
        ("tagging", "TAGGING"),
        ("uploads", "UPLOADS"),
        ("uploadId", "UPLOAD"),
        ("delete", "MULTI_OBJECT_DELETE"),
        ("versions", "BUCKETVERSIONS"),
        ("location", "LOCATION"),
    ];
    let resource = SUBRESOURCES
        .iter()
        .find(|(q, _)| query.has(q))
        .map(|(_, name)| *name)
        .unwrap_or(if has_key { "OBJECT" } else { "BUCKET" });
    format!(
        "{}.{method}.{resource}",
        if website { "WEBSITE" } else { "REST" }
    )
}

/// Buffered records per target, and their delivery.
pub struct AccessLogs {
    buffers: Mutex<HashMap<LoggingTarget, VecDeque<String>>>,
    max_records: usize,
    dropped: AtomicU64,
    sequence: AtomicU64,
    instance: String,
}

impl AccessLogs {
    pub fn new(max_records: usize) -> Self {
        let mut seed = [0u8; 4];
        let _ = getrandom::fill(&mut seed);
        AccessLogs {
            buffers: Mutex::new(HashMap::new()),
            max_records,
            dropped: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
            instance: hex::encode(seed).to_ascii_uppercase(),
        }
    }

    /// Records dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Buffers one record line for `target`; past the bound the oldest record makes room.
    pub fn push(&self, target: LoggingTarget, line: String) {
        let Ok(mut buffers) = self.buffers.lock() else {
            return;
        };
        let total: usize = buffers.values().map(VecDeque::len).sum();
        if total >= self.max_records {
            if let Some(oldest) = buffers.values_mut().max_by_key(|q| q.len()) {
                oldest.pop_front();
            }
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        buffers.entry(target).or_default().push_back(line);
    }

    /// Takes every buffered batch out for delivery.
    pub fn take(&self) -> Vec<(LoggingTarget, Vec<String>)> {
        let Ok(mut buffers) = self.buffers.lock() else {
            return Vec::new();
        };
        buffers
            .drain()
            .filter(|(_, q)| !q.is_empty())
            .map(|(t, q)| (t, q.into()))
            .collect()
    }

    /// Puts a batch back after a failed delivery (in front of newer records, within the bound).
    pub fn restore(&self, target: LoggingTarget, lines: Vec<String>) {
        let Ok(mut buffers) = self.buffers.lock() else {
            return;
        };
        let total: usize = buffers.values().map(VecDeque::len).sum();
        let room = self.max_records.saturating_sub(total);
        let keep = lines.len().min(room);
        self.dropped
            .fetch_add((lines.len() - keep) as u64, Ordering::Relaxed);
        let queue = buffers.entry(target).or_default();
        for line in lines.into_iter().rev().take(keep) {
            queue.push_front(line);
        }
    }

    /// The object name for a batch delivered at `now`.
    pub fn object_name(&self, prefix: &str, now: SystemTime) -> String {
        let t = time::OffsetDateTime::from(now);
        let fmt =
            time::macros::format_description!("[year]-[month]-[day]-[hour]-[minute]-[second]");
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        format!(
            "{prefix}{}-{}{n:08X}",
            t.format(fmt).unwrap_or_default(),
            self.instance
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(b: &str) -> LoggingTarget {
        LoggingTarget {
            bucket: b.into(),
            prefix: "logs/".into(),
            owner: None,
        }
    }

    #[test]
    fn status_documents() {
        let on = parse_logging_status(b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>p/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>").unwrap();
        assert_eq!(
            on,
            Some(LoggingTarget {
                bucket: "logs".into(),
                prefix: "p/".into(),
                owner: None,
            })
        );
        assert_eq!(
            parse_logging_status(b"<BucketLoggingStatus/>").unwrap(),
            None
        );
        assert_eq!(
            parse_logging_status(logging_status_xml(on.as_ref()).as_bytes()).unwrap(),
            on
        );
        assert!(parse_logging_status(b"<BucketLoggingStatus><Logg").is_err());
        // The simple key format is the gateway's; a partitioned one is refused, not ignored.
        let simple = parse_logging_status(b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>p/</TargetPrefix><TargetObjectKeyFormat><SimplePrefix/></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>").unwrap();
        assert_eq!(simple, on);
        let partitioned = parse_logging_status(b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>p/</TargetPrefix><TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>EventTime</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>").unwrap_err();
        assert_eq!(partitioned.code().as_str(), "NotImplemented");
    }

    #[test]
    fn a_record_has_every_field_in_order() {
        let r = Record {
            bucket_owner: "main".into(),
            bucket: "b".into(),
            time: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_549_411_238)),
            remote_ip: Some("127.0.0.1".into()),
            requester: None,
            request_id: "tx1".into(),
            operation: "REST.GET.OBJECT".into(),
            key: Some("a b.txt".into()),
            request_uri: "GET /b/a%20b.txt HTTP/1.1".into(),
            status: 403,
            error_code: Some("AccessDenied".into()),
            total_time_ms: 7,
            user_agent: Some("curl/8".into()),
            signature_version: None,
            host_header: Some("h".into()),
            ..Default::default()
        };
        assert_eq!(
            r.to_line(),
            "main b [06/Feb/2019:00:00:38 +0000] 127.0.0.1 - tx1 REST.GET.OBJECT a%20b.txt \"GET /b/a%20b.txt HTTP/1.1\" 403 AccessDenied - - 7 - \"-\" \"curl/8\" - - - - - h - - -"
        );
    }

    /// Values a client chose (a decoded `versionId`, a `Host`, a user agent) cannot end a
    /// field or a record.
    #[test]
    fn client_values_cannot_forge_fields_or_records() {
        let r = Record {
            bucket_owner: "main".into(),
            bucket: "b".into(),
            request_id: "tx1".into(),
            operation: "REST.GET.OBJECT".into(),
            request_uri: "GET /b/k\" 204 HTTP/1.1".into(),
            status: 200,
            version_id: Some("x\nmain b [..] FORGED".into()),
            host_header: Some("x y z".into()),
            user_agent: Some("agent\" \"\\".into()),
            ..Default::default()
        };
        let line = r.to_line();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains(" x%0Amain%20b%20[..]%20FORGED "), "{line}");
        assert!(line.contains(" x%20y%20z "), "{line}");
        assert!(line.contains("\"agent%22 %22%5C\""), "{line}");
        assert!(line.contains("\"GET /b/k%22 204 HTTP/1.1\""), "{line}");
        // 26 fields; the quoted request URI holds 3 spaces and the user agent 1.
        assert_eq!(line.split(' ').count(), 26 + 3 + 1, "{line}");
    }

    #[test]
    fn the_buffer_is_bounded_and_drops_the_oldest() {
        let logs = AccessLogs::new(3);
        for i in 0..5 {
            logs.push(target("t"), format!("r{i}"));
        }
        assert_eq!(logs.dropped(), 2);
        let batches = logs.take();
        assert_eq!(
            batches,
            vec![(
                target("t"),
                vec!["r2".to_owned(), "r3".to_owned(), "r4".to_owned()]
            )]
        );
        logs.restore(target("t"), vec!["a".into(), "b".into()]);
        logs.push(target("t"), "c".into());
        assert_eq!(logs.take()[0].1, ["a", "b", "c"]);
    }

    #[test]
    fn object_names_are_unique() {
        let logs = AccessLogs::new(10);
        let now = SystemTime::now();
        let (a, b) = (logs.object_name("p/", now), logs.object_name("p/", now));
        assert_ne!(a, b);
        assert!(a.starts_with("p/") && a.len() > "p/2026-01-01-00-00-00-".len());
    }

    #[test]
    fn operation_names() {
        let q = |s: &str| crate::s3::uri::Query::parse(s).unwrap();
        assert_eq!(
            operation_name(false, "GET", true, &q("")),
            "REST.GET.OBJECT"
        );
        assert_eq!(
            operation_name(false, "GET", false, &q("list-type=2")),
            "REST.GET.BUCKET"
        );
        assert_eq!(
            operation_name(false, "PUT", true, &q("acl")),
            "REST.PUT.ACL"
        );
        assert_eq!(
            operation_name(true, "GET", true, &q("")),
            "WEBSITE.GET.OBJECT"
        );
    }
}
