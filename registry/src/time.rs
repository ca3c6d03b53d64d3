//! Timestamps as RFC 3339 UTC text (`2026-03-01T12:00:00Z`).
//!
//! Revocation lists and index entries carry times that people read, so they
//! are stored as text, to the second. The calendar is `jiff`'s (the one
//! date-time crate of the workspace); this module fixes the one form the
//! registry writes and accepts. Revocation lists are signed over this text:
//! its form must never change.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::civil::DateTime;
use jiff::SignedDuration;

/// The current time, to the second, in UTC.
pub fn now_rfc3339() -> String {
    format_unix(unix_secs(SystemTime::now()))
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2026-03-01T12:00:00Z`). Instants past
/// the year 9999, which RFC 3339 cannot write, are written as its last second.
///
/// The arithmetic is on the civil (UTC) date-time, not on `jiff::Timestamp`, whose range ends a
/// day early (9999-12-30T22:00Z, so that every offset stays in range).
pub fn format_unix(secs: u64) -> String {
    let dt = i64::try_from(secs)
        .ok()
        .and_then(|s| epoch().checked_add(SignedDuration::from_secs(s)).ok())
        .unwrap_or(DateTime::MAX);
    format!("{dt:.0}Z")
}

/// 1970-01-01T00:00:00, UTC.
fn epoch() -> DateTime {
    jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0)
}

/// Parses the RFC 3339 UTC form this crate writes (`2026-03-01T12:00:00Z`,
/// optionally with fractional seconds, which are dropped) into seconds since
/// the Unix epoch. Offsets other than `Z` are refused: every komp timestamp
/// is UTC, and accepting only one form keeps comparisons exact.
pub fn parse_rfc3339_utc(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    // The shape first (jiff accepts more: offsets, lower-case separators, leap seconds).
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && b.last() == Some(&b'Z')
        && digits(0..4)
        && (b[4], b[7], b[10], b[13], b[16]) == (b'-', b'-', b'T', b':', b':')
        && digits(17..19);
    if !shape {
        return None;
    }
    let frac = text.get(19..text.len() - 1)?;
    if !(frac.is_empty() || (frac.len() >= 2 && frac.starts_with('.') && digits(20..b.len() - 1))) {
        return None;
    }
    if &text[17..19] == "60" {
        return None;
    }
    let dt: DateTime = text[..text.len() - 1].parse().ok()?;
    u64::try_from(dt.duration_since(epoch()).as_secs()).ok()
}

/// Seconds since the Unix epoch of `t` (0 before the epoch).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_known_instants() {
        assert_eq!(super::format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::format_unix(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn parses_what_it_formats_and_nothing_looser() {
        for secs in [0, 951_782_400, 1_767_225_599, 4_102_444_800, 253_402_300_799] {
            assert_eq!(super::parse_rfc3339_utc(&super::format_unix(secs)), Some(secs));
        }
        assert_eq!(super::parse_rfc3339_utc("2026-03-01T12:00:00.123Z"), Some(1_772_366_400));
        for bad in [
            "",
            "2026-03-01",
            "2026-03-01T12:00:00",
            "2026-03-01T12:00:00+01:00",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01 12:00:00Z",
            "+026-03-01T12:00:00Z",
            "2026-03-01T12:00:00.Z",
        ] {
            assert_eq!(super::parse_rfc3339_utc(bad), None, "{bad:?}");
        }
    }
}
