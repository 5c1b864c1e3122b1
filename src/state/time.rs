//! Timestamps for the state database: RFC 3339 in UTC with milliseconds (`2024-05-01T09:30:00.125Z`).
//!
//! One fixed format, always UTC and always the same width, so the text sorts in time order and SQLite's own
//! date functions (`julianday`) read it for durations. The calendar is the `time` crate's.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// The current time as RFC 3339 UTC text.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// Formats a point in time as RFC 3339 UTC text with millisecond precision.
///
/// A clock set before 1970 is written as the epoch rather than failing: a wrong clock must not stop the
/// journal from recording what happened, and the order of rows is kept by their ids anyway. For the
/// same reason a clock past the year 9999, which the fixed width cannot hold, is written as the epoch too.
pub fn format_rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let at = i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .filter(|at| at.year() <= 9999)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        since_epoch.subsec_millis()
    )
}

/// A file's modification time in Unix milliseconds, the unit the walk, the sync index and uploads share.
///
/// Times before 1970 are negative. Platforms without modification times (none that s3rec supports) read
/// as 0, which only makes every comparison see "unchanged" by mtime; sizes are still compared.
pub fn mtime_ms(meta: &std::fs::Metadata) -> i64 {
    let Ok(modified) = meta.modified() else {
        return 0;
    };
    match modified.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The UTC calendar date (year, month, day) of `secs` seconds since the Unix epoch (negative before it).
/// A time outside the years the calendar holds (±9999) gives the epoch's date: only a corrupt
/// modification time is that far off.
pub fn civil_date(secs: i64) -> (i64, u32, u32) {
    let date = OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .date();
    (
        i64::from(date.year()),
        u32::from(u8::from(date.month())),
        u32::from(date.day()),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64, millis: u64) -> String {
        format_rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(at(1_700_000_000, 125), "2023-11-14T22:13:20.125Z");
        assert_eq!(at(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
        assert_eq!(at(951_868_800, 0), "2000-03-01T00:00:00.000Z");
    }

    #[test]
    fn a_clock_before_the_epoch_is_written_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(format_rfc3339(before), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn dates_of_known_instants() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(civil_date(4_102_444_799), (2099, 12, 31));
        assert_eq!(civil_date(-2_208_988_800), (1900, 1, 1));
        assert_eq!(civil_date(i64::MAX), (1970, 1, 1));
    }

    #[test]
    fn now_has_the_fixed_shape() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z'), "{now}");
    }
}
