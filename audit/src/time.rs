//! RFC 3339 formatting and parsing in UTC, over `jiff`.
//!
//! The audit log only ever needs "milliseconds since the Unix epoch" <-> RFC 3339 text. The
//! calendar arithmetic is `jiff`'s (the one date-time crate of the workspace); these functions fix
//! the forms komp writes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};

use crate::AuditError;

/// Milliseconds in one day; segments rotate when the UTC day changes.
pub(crate) const DAY_MS: u64 = 86_400_000;

/// Milliseconds since the Unix epoch of `t` (0 for times before 1970).
pub fn system_time_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The `SystemTime` of `ms` milliseconds since the Unix epoch.
pub fn ms_system_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Formats milliseconds since the epoch as RFC 3339 UTC with millisecond precision,
/// e.g. `2025-03-01T12:00:00.000Z`. Fixed width, so the text sorts like the number. This text is
/// hashed into the audit chain: its form must never change.
///
/// Instants past the year 9999 (which RFC 3339 cannot write) are written as its last millisecond.
///
/// The arithmetic is on the civil (UTC) date-time, not on `jiff::Timestamp`, whose range ends a
/// day early (9999-12-30T22:00Z, so that every offset stays in range).
pub fn format_rfc3339(ms: u64) -> String {
    let dt = i64::try_from(ms)
        .ok()
        .and_then(|ms| epoch().checked_add(SignedDuration::from_millis(ms)).ok())
        .unwrap_or(DateTime::MAX);
    format!("{dt:.3}Z")
}

/// 1970-01-01T00:00:00, UTC.
fn epoch() -> DateTime {
    jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0)
}

/// Now, as [`format_rfc3339`] writes it (e.g. the creation time of a token or a report).
pub fn now_rfc3339() -> String {
    format_rfc3339(system_time_ms(SystemTime::now()))
}

/// Parses an RFC 3339 timestamp (`2025-03-01T12:00:00Z`, `...T12:00:00.5+01:00`) or a bare
/// date (`2025-03-01`, meaning midnight UTC) into milliseconds since the epoch (digits past the
/// millisecond are dropped). Used by the CLI's `--since/--until` and by anyone handing us text
/// times. A time without an offset is refused: it would be ambiguous.
pub fn parse_rfc3339(s: &str) -> Result<u64, AuditError> {
    let bad = || AuditError::InvalidTime(s.to_string());
    let since_epoch = if s.len() == 10 {
        let date: jiff::civil::Date = s.parse().map_err(|_| bad())?;
        date.to_datetime(jiff::civil::Time::midnight()).duration_since(epoch())
    } else if let Some(utc) = s.strip_suffix('Z') {
        // UTC is read as a civil date-time, so that the whole of year 9999 parses (see above).
        if utc.contains(['+', 'z', 'Z']) || utc.get(10..).is_some_and(|t| t.contains('-')) {
            return Err(bad());
        }
        utc.parse::<DateTime>().map_err(|_| bad())?.duration_since(epoch())
    } else {
        s.parse::<Timestamp>().map_err(|_| bad())?.duration_since(Timestamp::UNIX_EPOCH)
    };
    // Whole milliseconds, truncated towards the past (as the digits are read).
    u64::try_from(since_epoch.as_millis()).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        // Records carry this text inside their hash: the form is pinned (values from Python's
        // datetime, independent of the implementation).
        for (ms, text) in [
            (1, "1970-01-01T00:00:00.001Z"),
            (86_399_999, "1970-01-01T23:59:59.999Z"),
            (1_740_830_400_000, "2025-03-01T12:00:00.000Z"),
            (1_767_225_599_999, "2025-12-31T23:59:59.999Z"),
            (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(format_rfc3339(ms), text);
            assert_eq!(parse_rfc3339(text).unwrap(), ms);
        }
        assert_eq!(parse_rfc3339("2025-03-01T12:00:00.123456Z").unwrap(), 1_740_830_400_123, "digits past ms dropped");
        for ms in [0u64, 1, 86_399_999, 951_782_400_123, 1_740_830_400_000, 4_102_444_800_000] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)).unwrap(), ms);
        }
        assert_eq!(parse_rfc3339("2025-03-01").unwrap(), parse_rfc3339("2025-03-01T00:00:00Z").unwrap());
        assert_eq!(
            parse_rfc3339("2025-03-01T13:00:00.5+01:00").unwrap(),
            parse_rfc3339("2025-03-01T12:00:00.500Z").unwrap()
        );
        for bad in [
            "",
            "2025-13-01",
            "2025-02-30",
            "2025-03-01T25:00:00Z",
            "2025-03-01T12:00:00",
            "1969-12-31T00:00:00Z",
            "x025-01-01",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
