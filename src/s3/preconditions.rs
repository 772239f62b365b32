//! Conditional reads the gateway evaluates itself, because backends ignore them: the
//! `x-amz-copy-source-if-*` headers of CopyObject and UploadPartCopy, and the part number of a
//! GetObject/HeadObject (`?partNumber=`) against the object's multipart ETag.

use std::time::SystemTime;

use crate::s3::error::S3Error;
use crate::s3_error;

/// The four `x-amz-copy-source-if-*` conditions of a copy, as the client sent them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyConditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<SystemTime>,
    pub if_unmodified_since: Option<SystemTime>,
}

impl CopyConditions {
    /// Reads the conditions from the request's headers (`get` returns a header's first value).
    /// A date that does not parse is ignored, as S3 ignores it.
    pub fn from_headers<'a>(get: impl Fn(&str) -> Option<&'a str>) -> CopyConditions {
        let date = |name: &str| get(name).and_then(|v| httpdate::parse_http_date(v.trim()).ok());
        CopyConditions {
            if_match: get("x-amz-copy-source-if-match").map(str::to_owned),
            if_none_match: get("x-amz-copy-source-if-none-match").map(str::to_owned),
            if_modified_since: date("x-amz-copy-source-if-modified-since"),
            if_unmodified_since: date("x-amz-copy-source-if-unmodified-since"),
        }
    }

    /// True when the copy carries no condition (nothing to read before it).
    pub fn is_empty(&self) -> bool {
        *self == CopyConditions::default()
    }

    /// Decides the copy against the source's ETag and Last-Modified, by the rules of the
    /// CopyObject reference: if-match and if-unmodified-since pass together when if-match holds;
    /// if-none-match and if-modified-since fail together when if-none-match fails.
    pub fn check(&self, etag: &str, last_modified: Option<SystemTime>) -> Result<(), S3Error> {
        let failed = || {
            Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold."
            ))
        };
        let if_match = self.if_match.as_deref().map(|l| etag_list_matches(l, etag));
        let if_none_match = self
            .if_none_match
            .as_deref()
            .map(|l| !etag_list_matches(l, etag));
        // Second precision: HTTP dates carry no fraction, Last-Modified neither.
        let modified_after =
            |since: SystemTime| last_modified.is_some_and(|m| seconds(m) > seconds(since));
        if if_match == Some(false) || if_none_match == Some(false) {
            return failed();
        }
        if if_match.is_none()
            && let Some(since) = self.if_unmodified_since
            && modified_after(since)
        {
            return failed();
        }
        if if_none_match.is_none()
            && let Some(since) = self.if_modified_since
            && last_modified.is_some()
            && !modified_after(since)
        {
            return failed();
        }
        Ok(())
    }
}

fn seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether a comma-separated list of ETags (quoted or not, or `*`) names `etag`.
fn etag_list_matches(list: &str, etag: &str) -> bool {
    let etag = unquote(etag);
    list.split(',')
        .map(|e| unquote(e.trim()))
        .any(|e| e == "*" || e == etag)
}

fn unquote(etag: &str) -> &str {
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"')
}

/// The number of parts of an object, from its ETag: `"<md5>-N"` for a multipart upload, 1 for
/// anything else.
pub fn parts_count(etag: &str) -> Option<u32> {
    let (_, n) = unquote(etag).rsplit_once('-')?;
    n.parse().ok().filter(|n| *n > 0)
}

/// The `partNumber` of a GetObject/HeadObject, parsed as S3 reads it (1..=10000).
pub fn part_number(value: &str) -> Result<u32, S3Error> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive."
            )
        })
}

/// Whether part `n` exists in an object with this ETag; S3 answers `400 InvalidPart` when not
/// (a single-part object has only part 1).
pub fn check_part(n: u32, etag: &str) -> Result<(), S3Error> {
    let parts = parts_count(etag).unwrap_or(1);
    if n > parts {
        return Err(s3_error!(
            InvalidPart,
            "The requested partnumber is not satisfiable: the object has {parts} part(s)."
        ));
    }
    Ok(())
}

/// The first and last byte of part `n` in an object of `count` parts with these part sizes
/// (in part order), or `None` when the sizes do not describe such an object.
pub fn part_range(sizes: &[u64], count: u32, n: u32) -> Option<(u64, u64)> {
    if sizes.len() != usize::try_from(count).ok()? || n == 0 {
        return None;
    }
    let index = usize::try_from(n - 1).ok()?;
    let size = *sizes.get(index)?;
    let start: u64 = sizes[..index].iter().sum();
    if size == 0 {
        return None;
    }
    Some((start, start + size - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ETAG: &str = "\"acbd18db4cc2f85cedef654fccc4a4d8\"";

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn code(r: Result<(), S3Error>) -> Option<&'static str> {
        r.err().map(|e| e.code().as_str())
    }

    #[test]
    fn if_match_compares_unquoted_etags() {
        let c = CopyConditions {
            if_match: Some("acbd18db4cc2f85cedef654fccc4a4d8".into()),
            ..Default::default()
        };
        assert_eq!(code(c.check(ETAG, None)), None);
        let c = CopyConditions {
            if_match: Some("ABCORZ".into()),
            ..Default::default()
        };
        assert_eq!(code(c.check(ETAG, None)), Some("PreconditionFailed"));
        let c = CopyConditions {
            if_match: Some("\"x\", *".into()),
            ..Default::default()
        };
        assert_eq!(code(c.check(ETAG, None)), None);
    }

    #[test]
    fn if_none_match_fails_on_the_same_etag() {
        let c = CopyConditions {
            if_none_match: Some(ETAG.into()),
            ..Default::default()
        };
        assert_eq!(code(c.check(ETAG, None)), Some("PreconditionFailed"));
        let c = CopyConditions {
            if_none_match: Some("ABCORZ".into()),
            ..Default::default()
        };
        assert_eq!(code(c.check(ETAG, None)), None);
    }

    #[test]
    fn dates_compare_to_the_second() {
        let modified = SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_500);
        let unmodified_since = |s| CopyConditions {
            if_unmodified_since: Some(at(s)),
            ..Default::default()
        };
        let modified_since = |s| CopyConditions {
            if_modified_since: Some(at(s)),
            ..Default::default()
        };
        assert_eq!(
            code(unmodified_since(1_000).check(ETAG, Some(modified))),
            None
        );
        assert_eq!(
            code(unmodified_since(999).check(ETAG, Some(modified))),
            Some("PreconditionFailed")
        );
        assert_eq!(
            code(modified_since(1_000).check(ETAG, Some(modified))),
            Some("PreconditionFailed")
        );
        assert_eq!(code(modified_since(999).check(ETAG, Some(modified))), None);
    }

    // The pairs the CopyObject reference spells out.
    #[test]
    fn if_match_wins_over_if_unmodified_since() {
        let c = CopyConditions {
            if_match: Some(ETAG.into()),
            if_unmodified_since: Some(at(1)),
            ..Default::default()
        };
        assert_eq!(code(c.check(ETAG, Some(at(5)))), None);
    }

    #[test]
    fn a_failed_if_none_match_fails_even_when_modified() {
        let c = CopyConditions {
            if_none_match: Some(ETAG.into()),
            if_modified_since: Some(at(1)),
            ..Default::default()
        };
        assert_eq!(code(c.check(ETAG, Some(at(5)))), Some("PreconditionFailed"));
    }

    #[test]
    fn unparsable_dates_are_ignored() {
        let c = CopyConditions::from_headers(|n| {
            (n == "x-amz-copy-source-if-modified-since").then_some("not a date")
        });
        assert!(c.is_empty());
    }

    #[test]
    fn parts_come_from_the_multipart_etag() {
        assert_eq!(
            parts_count("\"9b2cf535f27731c974343645a3985328-4\""),
            Some(4)
        );
        assert_eq!(parts_count(ETAG), None);
        assert!(check_part(4, "\"9b2cf535f27731c974343645a3985328-4\"").is_ok());
        assert_eq!(
            code(check_part(5, "\"9b2cf535f27731c974343645a3985328-4\"")),
            Some("InvalidPart")
        );
        assert!(check_part(1, ETAG).is_ok());
        assert_eq!(code(check_part(2, ETAG)), Some("InvalidPart"));
    }

    #[test]
    fn a_part_is_the_range_its_sizes_give() {
        let sizes = [5, 5, 2];
        assert_eq!(part_range(&sizes, 3, 1), Some((0, 4)));
        assert_eq!(part_range(&sizes, 3, 2), Some((5, 9)));
        assert_eq!(part_range(&sizes, 3, 3), Some((10, 11)));
        // Sizes of another object (another count), a part past the end, an empty part.
        assert_eq!(part_range(&sizes, 4, 1), None);
        assert_eq!(part_range(&sizes, 3, 4), None);
        assert_eq!(part_range(&[0], 1, 1), None);
    }

    #[test]
    fn part_numbers_are_1_to_10000() {
        assert_eq!(part_number("1").ok(), Some(1));
        assert_eq!(part_number("10000").ok(), Some(10_000));
        for bad in ["0", "10001", "-1", "x", ""] {
            assert!(part_number(bad).is_err(), "{bad}");
        }
    }
}
