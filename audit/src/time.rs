//! RFC 3339 formatting and parsing in UTC, without a date-time dependency.
//!
//! The audit log only ever needs "milliseconds since the Unix epoch" <-> RFC 3339 text, so the
//! civil-calendar conversion (Howard Hinnant's `days_from_civil`) is done here in a few lines
//! instead of pulling in a date-time crate for every consumer of the log.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
/// e.g. `2025-03-01T12:00:00.000Z`. Fixed width, so the text sorts like the number.
pub fn format_rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let milli = ms % 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z", sod / 3600, sod / 60 % 60, sod % 60)
}

/// Parses an RFC 3339 timestamp (`2025-03-01T12:00:00Z`, `...T12:00:00.5+01:00`) or a bare
/// date (`2025-03-01`, meaning midnight UTC) into milliseconds since the epoch.
/// Used by the CLI's `--since/--until` and by anyone handing us text times.
pub fn parse_rfc3339(s: &str) -> Result<u64, AuditError> {
    let bad = || AuditError::InvalidTime(s.to_string());
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<u32, AuditError> {
        let part = b.get(r).ok_or_else(bad)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        std::str::from_utf8(part).unwrap().parse().map_err(|_| bad())
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y as i64, mo) {
        return Err(bad());
    }
    let mut ms: i64 = days_from_civil(y as i64, mo, d) * DAY_MS as i64;
    if b.len() > 10 {
        if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || mi > 59 || se > 60 {
            return Err(bad());
        }
        ms += ((h * 3600 + mi * 60 + se.min(59)) as i64) * 1000;
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            let frac = &s[start..i.min(start + 3)];
            let scale = 10i64.pow(3 - frac.len() as u32);
            ms += frac.parse::<i64>().map_err(|_| bad())? * scale;
        }
        match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => {}
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                let off = ((oh * 60 + om) as i64) * 60_000;
                ms += if *sign == b'+' { -off } else { off };
            }
            _ => return Err(bad()),
        }
    }
    u64::try_from(ms).map_err(|_| bad())
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u64;
    let mp = if m > 2 { m - 3 } else { m + 9 } as u64;
    let doy = (153 * mp + 2) / 5 + d as u64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i64 - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
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
