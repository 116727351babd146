//! Times as the API shows them: RFC 3339 read and written with `jiff`, as
//! Go's `time` reads and writes them (moby records `RFC3339Nano`).

use jiff::Timestamp;

/// An RFC 3339 time (`2026-11-22T10:00:00.123Z`, or with an offset; without
/// a zone it is UTC) as a timestamp; `None` when it cannot be read. The text
/// comes from image configs and is anyone's.
fn parse(t: &str) -> Option<Timestamp> {
    // A date and a time at least (`2026-11-22T10:00:00`): a date alone is
    // no time Docker writes.
    if t.len() < 19 {
        return None;
    }
    t.parse::<Timestamp>().ok().or_else(|| {
        let civil = t.parse::<jiff::civil::DateTime>().ok()?;
        jiff::tz::Offset::UTC.to_timestamp(civil).ok()
    })
}

/// Seconds since the epoch of an RFC 3339 time (the fraction dropped, as
/// Go's `Unix()`); 0 when it cannot be read.
pub fn unix_seconds(t: &str) -> i64 {
    parse(t).map_or(0, floor_seconds)
}

/// Whole seconds, rounded down (jiff truncates towards the epoch).
fn floor_seconds(ts: Timestamp) -> i64 {
    ts.as_second() - i64::from(ts.subsec_nanosecond() < 0)
}

/// Nanoseconds since the epoch of an RFC 3339 time; `None` when it cannot
/// be read (or lies outside the ±292 years an `i64` of nanoseconds holds).
pub fn unix_nanos(t: &str) -> Option<i64> {
    parse(t).and_then(|ts| i64::try_from(ts.as_nanosecond()).ok())
}

/// Seconds since the epoch with the fraction, of an RFC 3339 time; 0 when
/// it cannot be read.
pub fn unix_seconds_f64(t: &str) -> f64 {
    parse(t).map_or(0.0, |ts| {
        floor_seconds(ts) as f64 + f64::from(ts.subsec_nanosecond().rem_euclid(1_000_000_000)) / 1e9
    })
}

/// Now, in RFC 3339 with nine digits of nanoseconds (UTC), as Docker
/// records times (and as the shim and the runtime write theirs).
pub fn now() -> String {
    format!("{:.9}", Timestamp::now())
}

/// RFC 3339 (UTC, whole seconds) of seconds since the epoch; times beyond
/// ±9999 years (a hostile tar's mtime) show as the last (first) second
/// jiff holds, late on 9999-12-30.
pub fn rfc3339(secs: i64) -> String {
    let ts = Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    format!("{ts:.0}")
}

/// RFC 3339 with nine digits of nanoseconds (UTC) of nanoseconds since the
/// epoch.
pub fn from_unix_nanos(nanos: i64) -> String {
    // Every i64 of nanoseconds (±292 years) is a timestamp jiff holds.
    let ts = Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(Timestamp::UNIX_EPOCH);
    format!("{ts:.9}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::unix_seconds("1970-01-01T00:00:00Z"), 0);
        assert_eq!(super::unix_seconds("2026-11-22T00:00:00.5Z"), 1_795_305_600);
        assert_eq!(
            super::unix_seconds("2026-11-22T02:00:00+02:00"),
            1_795_305_600
        );
        assert_eq!(super::unix_seconds("2026-11-22T00:00:00"), 1_795_305_600);
        assert_eq!(super::unix_seconds("0001-01-01T00:00:00Z"), -62_135_596_800);
        assert_eq!(super::unix_seconds("1969-12-31T23:59:59.5Z"), -1);
        assert_eq!(super::unix_seconds("bogus"), 0);
        assert_eq!(super::unix_seconds(""), 0);
        assert_eq!(super::unix_seconds("2026-11-22"), 0);
        // Issue 15: a multibyte character across byte 19 (a hostile image's
        // `created`) once panicked the daemon.
        for t in [
            "2024-01-01T00:00:0ééZ",
            "2024-01-01T00:00:00é+0é:00",
            "éééééééééééééééééééééé",
            "2024-01-01T00:00:00+",
        ] {
            assert_eq!(super::unix_seconds(t), 0, "{t}");
            assert_eq!(super::unix_seconds_f64(t), 0.0, "{t}");
        }
        assert_eq!(
            super::unix_seconds_f64("2026-11-22T00:00:00.25Z"),
            1_795_305_600.25
        );
        assert_eq!(super::unix_seconds_f64("1969-12-31T23:59:59.5Z"), -0.5);
        assert_eq!(
            super::unix_nanos("1970-01-01T00:00:02.000000007Z"),
            Some(2_000_000_007)
        );
        assert_eq!(super::unix_nanos("nope"), None);
        assert_eq!(super::rfc3339(1_795_305_600), "2026-11-22T00:00:00Z");
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(-62_135_596_800), "0001-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(i64::MAX), "9999-12-30T22:00:00Z");
        assert_eq!(super::rfc3339(i64::MIN), "-009999-01-02T01:59:59Z");
        assert_eq!(
            super::from_unix_nanos(1_795_305_600_000_000_005),
            "2026-11-22T00:00:00.000000005Z"
        );
        assert_eq!(super::from_unix_nanos(0), "1970-01-01T00:00:00.000000000Z");
        let now = super::now();
        assert_eq!(now.len(), 30, "{now}");
        assert_eq!(now.len(), runtime::now_rfc3339().len());
    }
}
