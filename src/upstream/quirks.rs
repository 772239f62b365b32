//! Backend quirks, corrected in one place: each function names the S3 rule it restores and the
//! backends that break it, so a second backend's differences are added beside the first's.

use crate::s3::copy_source::CopySource;
use crate::s3::op::S3Op;
use crate::upstream::BackendKind;

/// The `x-amz-copy-source` value the backend gets for the source the gateway authorized.
///
/// S3 rule: the header is the URL-encoded `/bucket/key`, decoded once. RGW 16 decodes the copy
/// source of UploadPartCopy twice (`RGWPutObj_ObjStore_S3::get_params`, then
/// `parse_copy_location`): a `%` encoded once reaches the second decoding bare, and an invalid
/// escape there aborts the radosgw process. Encoding `%` once more lands both decodings on the
/// key the gateway authorized.
pub fn copy_source_header(kind: BackendKind, op: S3Op, source: &CopySource) -> String {
    let header = source.to_header();
    match (kind, op) {
        (BackendKind::Rgw, S3Op::UploadPartCopy) => header.replace("%25", "%2525"),
        _ => header,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgw_part_copies_encode_percent_twice() {
        let source = CopySource::parse("/bkt/50%2541%25real%20x").unwrap();
        assert_eq!(source.key, "50%41%real x");
        assert_eq!(
            copy_source_header(BackendKind::Rgw, S3Op::UploadPartCopy, &source),
            "/bkt/50%252541%2525real%20x"
        );
        // CopyObject decodes once on RGW too; other backends follow the rule.
        for (kind, op) in [
            (BackendKind::Rgw, S3Op::CopyObject),
            (BackendKind::Generic, S3Op::UploadPartCopy),
        ] {
            assert_eq!(
                copy_source_header(kind, op, &source),
                "/bkt/50%2541%25real%20x"
            );
        }
    }
}
