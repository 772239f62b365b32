//! What each kind of backend does as S3 does, declared as data in `backends/<kind>.toml`
//! (chosen by `[backend] kind`), not guessed at request time. The gateway reads these tables
//! to decide where it corrects the backend ([`super::quirks`]), where it does the work itself
//! (verifying bodies, copying), and what it refuses because the backend lacks it.

use serde::Deserialize;

use super::BackendKind;

/// A backend kind's capability and quirk table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// The backend's name in messages ("... is not supported with the <name> storage backend").
    pub name: String,
    pub verifies: Verifies,
    pub features: Features,
    pub keys: Keys,
    pub serves: Serves,
    pub conditional_writes: ConditionalWrites,
    pub copies: Copies,
}

/// Checks the backend makes on a body before it stores it. What it does not check, the
/// gateway checks as the body streams (and holds back its end until it has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verifies {
    /// A signed `x-amz-content-sha256` (hex) is compared with the body.
    pub payload_hash: bool,
    /// `Content-MD5` is compared with the body.
    pub content_md5: bool,
    /// A body cut off before its `Content-Length` is refused, not stored (SeaweedFS stores
    /// one cut off before its first byte as an empty object). Where not, a body the gateway
    /// may refuse on the way goes to it with chunked framing, whose cut-off end no server
    /// takes for a complete body.
    pub short_body_refused: bool,
}

/// Features the backend has; without one, the requests that need it answer
/// `501 NotImplemented` naming the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    pub versioning: bool,
    pub sse_c: bool,
    /// A CreateMultipartUpload's `x-amz-tagging` tags the completed object.
    pub multipart_tagging: bool,
    /// Object tags (`?tagging`, `x-amz-tagging`).
    pub tagging: bool,
    /// Bucket lifecycle configurations (`?lifecycle`), which the backend enforces.
    pub lifecycle: bool,
    /// ListMultipartUploads (`GET /?uploads`).
    pub multipart_listing: bool,
}

/// Object keys the backend stores as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    /// Keys with an empty path segment (`a//b`, a leading `/`, `/` alone) stay distinct keys.
    pub empty_segments: bool,
}

/// Reads the backend answers as S3 does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serves {
    /// `GetObject ?partNumber=` serves that part's bytes.
    pub part_numbers: bool,
    /// A 404 GET/HEAD of a delete marker says so (`x-amz-delete-marker`, the version id).
    pub delete_marker_headers: bool,
}

/// Conditional writes (`If-Match`, `If-None-Match`) the backend honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionalWrites {
    pub put_object: bool,
    pub complete_multipart_upload: bool,
    pub delete_object: bool,
    /// It compares `If-Match` with the ETag stripped of its quotes.
    pub if_match_unquoted: bool,
}

/// How the backend carries out copies.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Copies {
    /// SSE-C copies are carried out by the gateway (read, then write).
    pub sse_c_by_gateway: bool,
    /// Part copies pinned to a source version are carried out by the gateway.
    pub pinned_part_by_gateway: bool,
    /// UploadPartCopy decodes `x-amz-copy-source` twice.
    pub part_source_encoded_twice: bool,
    /// Other names under which CopyObject reads its source pin (`x-amz-copy-source-if-match`).
    pub source_pin_aliases: Vec<String>,
}

impl Capabilities {
    /// The table of `kind`, as shipped in `backends/`.
    pub fn of(kind: BackendKind) -> Result<Capabilities, String> {
        let text = match kind {
            BackendKind::Rgw => include_str!("../../backends/rgw.toml"),
            BackendKind::Seaweedfs => include_str!("../../backends/seaweedfs.toml"),
            BackendKind::S3sFs => include_str!("../../backends/s3s-fs.toml"),
            BackendKind::Aws => include_str!("../../backends/aws.toml"),
            BackendKind::Generic => include_str!("../../backends/generic.toml"),
        };
        toml::from_str(text).map_err(|e| format!("backends/{}.toml: {e}", kind.as_str()))
    }

    /// What the gateway does itself on this backend, one line each (for `check-config`).
    pub fn gateway_fills_in(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.verifies.payload_hash {
            out.push("verifies signed payload hashes (x-amz-content-sha256) of forwarded bodies");
        }
        if !self.verifies.content_md5 {
            out.push("verifies Content-MD5 of forwarded bodies");
        }
        if !self.verifies.short_body_refused {
            out.push(
                "sends bodies it verifies with chunked framing (a refused one is never stored)",
            );
        }
        if !self.serves.part_numbers {
            out.push("serves part-number reads of multipart objects as ranges (part sizes recorded at completion)");
        }
        if !self.features.multipart_tagging {
            out.push("tags multipart objects with their upload's x-amz-tagging at completion");
        }
        if !self.serves.delete_marker_headers {
            out.push("reads delete markers from the versions listing");
        }
        if self.copies.sse_c_by_gateway {
            out.push("carries out SSE-C copies");
        }
        if self.copies.pinned_part_by_gateway {
            out.push("carries out part copies pinned to a source version");
        }
        if !self.keys.empty_segments {
            out.push("refuses keys with empty path segments ('a//b', '/x') (501)");
        }
        if !self.features.versioning {
            out.push("refuses versioning (501)");
        }
        if !self.features.sse_c {
            out.push("refuses SSE-C (501)");
        }
        if !self.features.tagging {
            out.push("refuses object tagging (501)");
        }
        if !self.features.lifecycle {
            out.push("refuses lifecycle configurations (501)");
        }
        if !self.features.multipart_listing {
            out.push("refuses ListMultipartUploads (501)");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_table() {
        for kind in BackendKind::ALL {
            let caps = Capabilities::of(kind).unwrap_or_else(|e| panic!("{e}"));
            assert!(!caps.name.is_empty());
        }
        let rgw = Capabilities::of(BackendKind::Rgw).unwrap();
        assert!(rgw.conditional_writes.if_match_unquoted && !rgw.serves.part_numbers);
        // The gateway never assumes an unknown backend checks bodies.
        let generic = Capabilities::of(BackendKind::Generic).unwrap();
        assert!(!generic.verifies.payload_hash && !generic.verifies.content_md5);
    }
}
