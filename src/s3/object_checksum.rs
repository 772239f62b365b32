//! Object checksums as S3 keeps them: one per object, of a declared algorithm and type, and
//! for multipart uploads combined from the parts' checksums by the type's rule.
//!
//! Backends need not keep checksums (RGW 16 predates them), so the gateway keeps what it
//! verified: see [`crate::state::CHECKSUM_META`] and the part records of
//! [`crate::state::StateStore::part_checksums`].

use base64::Engine as _;
use http::HeaderMap;

use crate::auth::checksum::{Checksum, ChecksumAlgorithm};
use crate::s3::error::S3Error;
use crate::s3::uri;
use crate::s3::xml::CompleteMultipartUpload;
use crate::s3_error;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// How an object's checksum covers it (`x-amz-checksum-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumType {
    /// The checksum of the whole object's bytes.
    FullObject,
    /// A multipart object's checksum of its parts' checksums, with `-<parts>` appended.
    Composite,
}

impl ChecksumType {
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "FULL_OBJECT" => Some(ChecksumType::FullObject),
            "COMPOSITE" => Some(ChecksumType::Composite),
            _ => None,
        }
    }
}

/// What a CreateMultipartUpload declared: the algorithm every part is checked with, and how
/// the object's checksum is made of theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub kind: ChecksumType,
}

impl UploadChecksum {
    /// The declaration of a CreateMultipartUpload request (`x-amz-checksum-algorithm`, and
    /// `x-amz-checksum-type` or the algorithm's default), refused as S3 refuses a combination
    /// it does not offer: SHA-1 and SHA-256 combine only as COMPOSITE, CRC64NVME only as
    /// FULL_OBJECT.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, S3Error> {
        let text = |name: &str| -> Result<Option<String>, S3Error> {
            headers
                .get(name)
                .map(|v| {
                    v.to_str()
                        .map(|s| s.trim().to_ascii_uppercase())
                        .map_err(|_| s3_error!(InvalidRequest, "{name} is not printable ASCII."))
                })
                .transpose()
        };
        let kind = text("x-amz-checksum-type")?;
        let Some(algorithm) = text("x-amz-checksum-algorithm")? else {
            return match kind {
                Some(_) => Err(s3_error!(
                    InvalidRequest,
                    "x-amz-checksum-type requires x-amz-checksum-algorithm."
                )),
                None => Ok(None),
            };
        };
        let algorithm = ChecksumAlgorithm::from_name(&algorithm).ok_or_else(|| {
            s3_error!(
                InvalidRequest,
                "Checksum algorithm {algorithm:?} is not supported; use one of CRC32, CRC32C, CRC64NVME, SHA1, SHA256."
            )
        })?;
        let kind = match kind.as_deref() {
            None if algorithm == ChecksumAlgorithm::Crc64Nvme => ChecksumType::FullObject,
            None => ChecksumType::Composite,
            Some(name) => ChecksumType::from_name(name).ok_or_else(|| {
                s3_error!(
                    InvalidRequest,
                    "Checksum type {name:?} is not valid; use COMPOSITE or FULL_OBJECT."
                )
            })?,
        };
        let offered = match algorithm {
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => kind == ChecksumType::Composite,
            ChecksumAlgorithm::Crc64Nvme => kind == ChecksumType::FullObject,
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => true,
        };
        if !offered {
            return Err(s3_error!(
                InvalidRequest,
                "The {} checksum type cannot be used with the {} checksum algorithm.",
                kind.name(),
                algorithm.name()
            ));
        }
        Ok(Some(UploadChecksum { algorithm, kind }))
    }
}

/// The checksum recorded with an object: [`crate::state::CHECKSUM_META`] holds either
/// `<ALGORITHM> <base64>` (a single upload: the whole object's), `<ALGORITHM> <TYPE> <value>`
/// (a copy's, kept from its source, which may have been a multipart object's), or
/// `<ALGORITHM> <TYPE>` (a declaration: the value is known only once the object is complete,
/// a multipart upload or a copy the gateway computes, and is kept in the gateway's state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredChecksum {
    Value(ObjectChecksum),
    Declared(UploadChecksum),
}

impl StoredChecksum {
    pub fn parse(meta: &str) -> Option<Self> {
        let (algorithm, rest) = meta.split_once(' ')?;
        let algorithm = ChecksumAlgorithm::from_name(algorithm)?;
        if let Some((kind, value)) = rest.split_once(' ') {
            return Some(StoredChecksum::Value(ObjectChecksum {
                algorithm,
                kind: ChecksumType::from_name(kind)?,
                value: value.to_owned(),
            }));
        }
        Some(match ChecksumType::from_name(rest) {
            Some(kind) => StoredChecksum::Declared(UploadChecksum { algorithm, kind }),
            None => StoredChecksum::Value(ObjectChecksum {
                algorithm,
                kind: ChecksumType::FullObject,
                value: rest.to_owned(),
            }),
        })
    }

    pub fn declared(upload: UploadChecksum) -> String {
        format!("{} {}", upload.algorithm.name(), upload.kind.name())
    }
}

/// An object's checksum as S3 answers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub kind: ChecksumType,
    /// Base64, with `-<parts>` for a composite.
    pub value: String,
}

impl TryFrom<String> for ObjectChecksum {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut words = s.split(' ');
        let (Some(a), Some(k), Some(v), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(format!("not a checksum record: {s:?}"));
        };
        Ok(ObjectChecksum {
            algorithm: ChecksumAlgorithm::from_name(a).ok_or("unknown algorithm")?,
            kind: ChecksumType::from_name(k).ok_or("unknown checksum type")?,
            value: v.to_owned(),
        })
    }
}

impl From<ObjectChecksum> for String {
    fn from(c: ObjectChecksum) -> String {
        format!("{} {} {}", c.algorithm.name(), c.kind.name(), c.value)
    }
}

/// One uploaded part's verified checksum, as recorded when the part was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartChecksum {
    pub part: u32,
    pub size: u64,
    /// The part's ETag, unquoted: the record holds only for the bytes that ETag names.
    pub etag: String,
    pub algorithm: ChecksumAlgorithm,
    pub value: String,
}

impl PartChecksum {
    /// The record's name below its upload's prefix: everything is in the name, so one listing
    /// reads every part's record. The ETag and the value are percent-encoded: a base64 value
    /// holds `/` and `+`, and a backend that reads keys as paths folds `//` into `/`.
    pub fn name(&self) -> String {
        format!(
            "{:05}/{}/{}/{}/{}",
            self.part,
            self.size,
            uri::encode_component(&self.etag),
            self.algorithm.name(),
            uri::encode_component(&self.value)
        )
    }

    /// The record a [`Self::name`] names; `None` for a name it did not make. The value is
    /// the rest of the name: records of earlier releases hold it unencoded.
    pub fn from_name(name: &str) -> Option<Self> {
        let mut fields = name.splitn(5, '/');
        let part = fields.next()?.parse().ok()?;
        let size = fields.next()?.parse().ok()?;
        let etag = uri::decode(fields.next()?).ok()?;
        let algorithm = ChecksumAlgorithm::from_name(fields.next()?)?;
        let value = uri::decode(fields.next()?).ok()?;
        Some(PartChecksum {
            part,
            size,
            etag,
            algorithm,
            value,
        })
    }
}

/// The recorded checksums of the parts a CompleteMultipartUpload names, in its order: `None`
/// when no part was uploaded with one. A part's record is the one of its ETag (a part uploaded
/// again has a record per upload); a checksum the request claims must be the recorded one,
/// and either every part has a checksum of one algorithm or none has.
pub fn completion_parts<'a>(
    complete: &CompleteMultipartUpload,
    records: &'a [PartChecksum],
) -> Result<Option<Vec<&'a PartChecksum>>, S3Error> {
    let mut found = Vec::with_capacity(complete.parts.len());
    let mut missing = None;
    for part in &complete.parts {
        let etag = part.etag.trim().trim_matches('"');
        let claimed = part.claimed_checksum();
        let record = records.iter().find(|r| {
            r.part == part.part_number
                && r.etag == etag
                && claimed.is_none_or(|(a, _)| a == r.algorithm)
        });
        match (record, claimed) {
            (Some(r), Some((_, value))) if r.value != value => {
                return Err(s3_error!(
                    InvalidPart,
                    "The {} checksum given for part {} is not the checksum of the part uploaded.",
                    r.algorithm.name(),
                    part.part_number
                ));
            }
            (None, Some((algorithm, _))) => {
                return Err(s3_error!(
                    InvalidPart,
                    "Part {} was not uploaded with the {} checksum the request gives for it.",
                    part.part_number,
                    algorithm.name()
                ));
            }
            (Some(r), _) => found.push(r),
            (None, None) => missing = missing.or(Some(part.part_number)),
        }
    }
    let Some(first) = found.first() else {
        return Ok(None);
    };
    if let Some(part) = missing {
        return Err(s3_error!(
            InvalidRequest,
            "The upload's parts carry {} checksums, but part {part} was uploaded without one; upload it again with its checksum.",
            first.algorithm.name()
        ));
    }
    if let Some(other) = found.iter().find(|r| r.algorithm != first.algorithm) {
        return Err(s3_error!(
            InvalidRequest,
            "Part {} was uploaded with a {} checksum and part {} with a {} checksum; one upload takes one algorithm.",
            first.part,
            first.algorithm.name(),
            other.part,
            other.algorithm.name()
        ));
    }
    Ok(Some(found))
}

/// Checks the object checksum a CompleteMultipartUpload request gives in its
/// `x-amz-checksum-<algorithm>` header (a composite ends in `-<parts>`), before anything is
/// completed: against the one combined from the parts' verified checksums, or, when the
/// upload was completed already (a retried completion), the one recorded then.
pub fn check_claimed_object_checksum(
    headers: &HeaderMap,
    parts: Option<&[&PartChecksum]>,
    previous: Option<&ObjectChecksum>,
) -> Result<(), S3Error> {
    let Some((algorithm, claimed)) = ChecksumAlgorithm::ALL
        .into_iter()
        .find_map(|a| Some((a, headers.get(a.header())?.to_str().unwrap_or("").trim())))
    else {
        return Ok(());
    };
    let computed = match (previous, parts) {
        (Some(p), _) => (p.algorithm == algorithm).then(|| p.value.clone()),
        (None, Some(parts)) => {
            let kind = if claimed.contains('-') {
                ChecksumType::Composite
            } else {
                ChecksumType::FullObject
            };
            parts
                .first()
                .filter(|p| p.algorithm == algorithm)
                .and_then(|_| combine(UploadChecksum { algorithm, kind }, parts).ok())
        }
        (None, None) => {
            return Err(s3_error!(
                InvalidRequest,
                "The request gives the object's {} checksum, but its parts were uploaded without checksums.",
                algorithm.name()
            ));
        }
    };
    if computed.as_deref() != Some(claimed) {
        return Err(s3_error!(
            BadDigest,
            "The {} you specified did not match the calculated checksum.",
            algorithm.name()
        ));
    }
    Ok(())
}

/// The object checksum of a multipart upload made of `parts` (in order), by `upload`'s rule:
/// COMPOSITE is the algorithm over the parts' raw checksums, then `-<parts>`; FULL_OBJECT
/// (CRCs only) is the CRC of the whole object, combined from the parts' CRCs and sizes.
pub fn combine(upload: UploadChecksum, parts: &[&PartChecksum]) -> Result<String, S3Error> {
    let raw = |p: &PartChecksum| {
        B64.decode(&p.value)
            .ok()
            .filter(|r| r.len() == upload.algorithm.digest_len())
            .ok_or_else(|| s3_error!(InternalError, "part {} has an unreadable checksum", p.part))
    };
    match upload.kind {
        ChecksumType::Composite => {
            let mut digest = Checksum::new(upload.algorithm);
            for p in parts {
                digest.update(&raw(p)?);
            }
            Ok(format!("{}-{}", digest.finish_base64(), parts.len()))
        }
        ChecksumType::FullObject => {
            use crc_fast::CrcAlgorithm;
            let crc = match upload.algorithm {
                ChecksumAlgorithm::Crc32 => CrcAlgorithm::Crc32IsoHdlc,
                ChecksumAlgorithm::Crc32c => CrcAlgorithm::Crc32Iscsi,
                ChecksumAlgorithm::Crc64Nvme => CrcAlgorithm::Crc64Nvme,
                other => {
                    return Err(s3_error!(
                        InvalidRequest,
                        "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                        other.name()
                    ));
                }
            };
            let mut combined: Option<u64> = None;
            for p in parts {
                let value = raw(p)?
                    .iter()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                combined = Some(match combined {
                    None => value,
                    Some(acc) => crc_fast::checksum_combine(crc, acc, value, p.size),
                });
            }
            let value = combined.unwrap_or(0);
            let bytes = value.to_be_bytes();
            Ok(B64.encode(&bytes[8 - upload.algorithm.digest_len()..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (http::HeaderName::from_static(n), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn declarations_follow_the_algorithms_rules() {
        let d = |pairs| UploadChecksum::from_headers(&headers(pairs));
        assert_eq!(d(&[]).unwrap(), None);
        let crc32 = d(&[("x-amz-checksum-algorithm", "crc32")])
            .unwrap()
            .unwrap();
        assert_eq!(crc32.kind, ChecksumType::Composite);
        let nvme = d(&[("x-amz-checksum-algorithm", "CRC64NVME")])
            .unwrap()
            .unwrap();
        assert_eq!(nvme.kind, ChecksumType::FullObject);
        let full = d(&[
            ("x-amz-checksum-algorithm", "CRC32C"),
            ("x-amz-checksum-type", "FULL_OBJECT"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(full.kind, ChecksumType::FullObject);
        for bad in [
            &[
                ("x-amz-checksum-algorithm", "SHA256"),
                ("x-amz-checksum-type", "FULL_OBJECT"),
            ][..],
            &[
                ("x-amz-checksum-algorithm", "CRC64NVME"),
                ("x-amz-checksum-type", "COMPOSITE"),
            ],
            &[("x-amz-checksum-algorithm", "MD5")],
            &[("x-amz-checksum-type", "COMPOSITE")],
            &[
                ("x-amz-checksum-algorithm", "CRC32"),
                ("x-amz-checksum-type", "PARTIAL"),
            ],
        ] {
            assert_eq!(
                d(bad).unwrap_err().code().as_str(),
                "InvalidRequest",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn stored_checksums_round_trip() {
        assert_eq!(
            StoredChecksum::parse("CRC32 AAAAAA=="),
            Some(StoredChecksum::Value(ObjectChecksum {
                algorithm: ChecksumAlgorithm::Crc32,
                kind: ChecksumType::FullObject,
                value: "AAAAAA==".into()
            }))
        );
        let declared = UploadChecksum {
            algorithm: ChecksumAlgorithm::Sha256,
            kind: ChecksumType::Composite,
        };
        assert_eq!(
            StoredChecksum::parse(&StoredChecksum::declared(declared)),
            Some(StoredChecksum::Declared(declared))
        );
        assert_eq!(StoredChecksum::parse("MD5 x"), None);
        let object = ObjectChecksum {
            algorithm: ChecksumAlgorithm::Crc32c,
            kind: ChecksumType::Composite,
            value: "abc=-2".into(),
        };
        let json = serde_json::to_string(&object).unwrap();
        assert_eq!(json, "\"CRC32C COMPOSITE abc=-2\"");
        // A copy's, kept from its source in the same form.
        assert_eq!(
            StoredChecksum::parse(&String::from(object.clone())),
            Some(StoredChecksum::Value(object.clone()))
        );
        assert_eq!(
            serde_json::from_str::<ObjectChecksum>(&json).unwrap(),
            object
        );
    }

    #[test]
    fn part_records_are_read_back_from_their_names() {
        let p = PartChecksum {
            part: 7,
            size: 5 << 20,
            etag: "0123abcd".into(),
            algorithm: ChecksumAlgorithm::Sha1,
            value: "//a/b+c==".into(),
        };
        // No `/` of the value's in the name: a backend that folds `//` would change it.
        assert_eq!(
            p.name(),
            "00007/5242880/0123abcd/SHA1/%2F%2Fa%2Fb%2Bc%3D%3D"
        );
        assert_eq!(PartChecksum::from_name(&p.name()), Some(p.clone()));
        // A record of an earlier release, value unencoded, still reads.
        assert_eq!(
            PartChecksum::from_name("00007/5242880/0123abcd/SHA1///a/b+c=="),
            Some(p)
        );
        assert_eq!(PartChecksum::from_name("x/1/e/CRC32/v"), None);
    }

    fn record(part: u32, etag: &str, algorithm: ChecksumAlgorithm, value: &str) -> PartChecksum {
        PartChecksum {
            part,
            size: 5,
            etag: etag.into(),
            algorithm,
            value: value.into(),
        }
    }

    fn complete(parts: &[(u32, &str, Option<&str>)]) -> CompleteMultipartUpload {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, etag, crc) in parts {
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag>"
            ));
            if let Some(c) = crc {
                xml.push_str(&format!("<ChecksumCRC32>{c}</ChecksumCRC32>"));
            }
            xml.push_str("</Part>");
        }
        xml.push_str("</CompleteMultipartUpload>");
        CompleteMultipartUpload::parse(xml.as_bytes()).unwrap()
    }

    #[test]
    fn completion_takes_each_parts_current_record() {
        use ChecksumAlgorithm::*;
        let records = [
            record(1, "e1", Crc32, "AAAAAQ=="),
            // Part 2 uploaded twice: the ETag names the current one.
            record(2, "old", Crc32, "AAAAAg=="),
            record(2, "e2", Crc32, "AAAAAw=="),
        ];
        let got = completion_parts(
            &complete(&[(1, "\"e1\"", None), (2, "e2", Some("AAAAAw=="))]),
            &records,
        )
        .unwrap()
        .unwrap();
        assert_eq!(got, [&records[0], &records[2]]);
        // Nothing recorded, nothing claimed: no checksum.
        assert_eq!(
            completion_parts(&complete(&[(1, "x", None)]), &records).unwrap(),
            None
        );
        let code = |c: CompleteMultipartUpload, r: &[PartChecksum]| {
            completion_parts(&c, r)
                .unwrap_err()
                .code()
                .as_str()
                .to_owned()
        };
        // A claim that is not the recorded checksum, or has no record.
        assert_eq!(
            code(complete(&[(2, "e2", Some("AAAAAg=="))]), &records),
            "InvalidPart"
        );
        assert_eq!(
            code(complete(&[(3, "e3", Some("AAAAAg=="))]), &records),
            "InvalidPart"
        );
        // One part without a checksum among parts with them.
        assert_eq!(
            code(complete(&[(1, "e1", None), (3, "e3", None)]), &records),
            "InvalidRequest"
        );
        // Two algorithms.
        let mixed = [
            record(1, "e1", Crc32, "AAAAAQ=="),
            record(2, "e2", Sha1, "x"),
        ];
        assert_eq!(
            code(complete(&[(1, "e1", None), (2, "e2", None)]), &mixed),
            "InvalidRequest"
        );
    }

    fn part(algorithm: ChecksumAlgorithm, n: u32, data: &[u8]) -> PartChecksum {
        let mut c = Checksum::new(algorithm);
        c.update(data);
        PartChecksum {
            part: n,
            size: data.len() as u64,
            etag: String::new(),
            algorithm,
            value: c.finish_base64(),
        }
    }

    #[test]
    fn full_object_crcs_equal_the_crc_of_the_whole() {
        let a = vec![7u8; 5 << 20];
        let b = b"tail bytes".to_vec();
        for algorithm in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let parts = [part(algorithm, 1, &a), part(algorithm, 2, &b)];
            let mut whole = Checksum::new(algorithm);
            whole.update(&a);
            whole.update(&b);
            let upload = UploadChecksum {
                algorithm,
                kind: ChecksumType::FullObject,
            };
            assert_eq!(
                combine(upload, &parts.iter().collect::<Vec<_>>()).unwrap(),
                whole.finish_base64(),
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn composites_hash_the_parts_checksums() {
        // The SHA-256 composite of two parts is SHA-256(raw(part 1) || raw(part 2)) with "-2".
        let algorithm = ChecksumAlgorithm::Sha256;
        let parts = [part(algorithm, 1, b"one"), part(algorithm, 2, b"two")];
        let upload = UploadChecksum {
            algorithm,
            kind: ChecksumType::Composite,
        };
        // python3: b64encode(sha256(sha256(b"one").digest() + sha256(b"two").digest()).digest())
        assert_eq!(
            combine(upload, &parts.iter().collect::<Vec<_>>()).unwrap(),
            "EZFMGaKKmMV9EvPM5sMreUR4T0tHgacGwk6x3ChOKFY=-2"
        );
    }
}
