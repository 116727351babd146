//! Docker's units and times as its CLI reads and prints them: sizes
//! (`go-units`), human durations, Go durations and the timestamps that
//! `--since`/`--until` accept (`moby/api/types/time`).

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;

/// Seconds since the epoch, now.
pub fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `units.RAMInBytes`: `64m`, `1g`, `512k`, `1.5GiB`, `100` (binary multiples,
/// case-insensitive, optional `b`/`ib` suffix).
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let lower = s.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    #[allow(clippy::cast_possible_truncation)]
    Ok((n * mult) as i64)
}

/// Go's `%.{precision}g` of a non-negative number below 1000 or so: the
/// shortest form with that many significant digits, trailing zeros cut.
fn go_g(x: f64, precision: usize) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", precision.saturating_sub(1), x);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mant.to_string()), exp.abs());
    }
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    trim(format!("{x:.decimals$}"))
}

/// `units.HumanSizeWithPrecision`: decimal units, `4.1MB`, `0B`.
pub fn human_size_precision(size: f64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1000.0 && i + 1 < UNITS.len() {
        s /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(s, precision), UNITS[i])
}

/// `units.BytesSize`: binary units, `1.5MiB`, `0B`.
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1024.0 && i + 1 < UNITS.len() {
        s /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(s, 4), UNITS[i])
}

/// `units.HumanSize` (four significant digits).
pub fn human_size(size: f64) -> String {
    human_size_precision(size, 4)
}

/// `units.HumanDuration`, the one of `build::duration`.
pub use build::duration::human as human_duration;

/// `HumanDuration(now - t) + " ago"`, as `CREATED` columns print.
pub fn ago(unix: i64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let now = now_f64() as i64;
    format!("{} ago", human_duration(now - unix))
}

/// Go's `time.ParseDuration` in seconds: `1h30m`, `10s`, `1.5h`, `300ms`.
pub fn go_duration(s: &str) -> Option<f64> {
    build::duration::go_nanos(s).map(|n| n / 1e9)
}

/// Go's `time.Unix(t, 0).UTC().String()`: `2024-05-01 12:34:56 +0000 UTC`.
pub fn go_time_string(unix: i64) -> String {
    timestamp_of(unix, 0)
        .strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
        .to_string()
}

/// Go's `Format` with docker's `rfc3339NanoFixed` layout
/// (`2006-01-02T15:04:05.000000000Z07:00`) of a time in nanoseconds, in
/// UTC: `2024-05-01T12:34:56.000000123Z`.
pub fn rfc3339_nano_fixed(nanos: i64) -> String {
    format!(
        "{:.9}",
        timestamp_of(
            nanos.div_euclid(1_000_000_000),
            nanos.rem_euclid(1_000_000_000)
        )
    )
}

/// The timestamp of seconds and nanoseconds since the epoch, held to the
/// years 1 to 9999 that Go's formats print.
fn timestamp_of(secs: i64, nanos: i64) -> Timestamp {
    let ts = if secs < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    };
    Timestamp::new(secs, nanos as i32).unwrap_or(ts)
}

/// An RFC 3339 time (`2024-05-01T12:34:56.123Z`, `…+02:00`, a date alone,
/// or no zone meaning UTC) as seconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let ts = parse_time(s)?;
    Some(ts.as_second() as f64 + f64::from(ts.subsec_nanosecond()) / 1e9)
}

/// [`parse_rfc3339`]'s timestamp.
fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok().or_else(|| {
        let civil = s.parse::<jiff::civil::DateTime>().ok()?;
        jiff::tz::Offset::UTC.to_timestamp(civil).ok()
    })
}

/// What `--since`/`--until` accept, as `timetypes.GetTimestamp` does: a Go
/// duration before now (`10m`, sent as whole seconds), an RFC 3339 time, or
/// Unix seconds (`0` is the epoch, not a duration); sent to the daemon as
/// `seconds[.nanoseconds]`.
pub fn timestamp(value: &str, now: f64) -> Result<String, String> {
    if let Some(d) = go_duration(value).filter(|_| value != "0") {
        // Whole seconds, as docker's `reference.Add(-d).Unix()`: `--until 0s`
        // leaves out what happened earlier in the current second.
        return Ok(format!("{}", (now - d).floor()));
    }
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Ok(value.to_string());
    }
    let t = parse_time(value)
        .ok_or_else(|| format!("failed to parse value as time or duration: \"{value}\""))?;
    // `%d.%09d` of `t.Unix()` and `t.Nanosecond()`, as docker sends it.
    let secs = t.as_second() - i64::from(t.subsec_nanosecond() < 0);
    Ok(format!(
        "{secs}.{:09}",
        t.subsec_nanosecond().rem_euclid(1_000_000_000)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_sizes() {
        for (s, want) in [
            ("64m", Ok(64 << 20)),
            ("1g", Ok(1 << 30)),
            ("1GiB", Ok(1 << 30)),
            ("512K", Ok(512 << 10)),
            ("100", Ok(100)),
            ("1.5g", Ok(3 << 29)),
            ("64x", Err("invalid size: '64x'".to_string())),
            ("m", Err("invalid size: 'm'".to_string())),
        ] {
            assert_eq!(ram_in_bytes(s), want, "{s}");
        }
    }

    #[test]
    fn human_sizes_as_go_units() {
        for (n, p, want) in [
            (0.0, 3, "0B"),
            (999.0, 3, "999B"),
            (1_240_000.0, 3, "1.24MB"),
            (4_100_000.0, 3, "4.1MB"),
            (12_345_678.0, 3, "12.3MB"),
            (1_000_000.0, 4, "1MB"),
            (4_866_432.0, 4, "4.866MB"),
        ] {
            assert_eq!(human_size_precision(n, p), want, "{n}");
        }
    }

    #[test]
    fn durations_and_times() {
        assert_eq!(go_duration("1h30m"), Some(5400.0));
        assert_eq!(go_duration("1.5s"), Some(1.5));
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration("abc"), None);
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(61), "About a minute");
        assert_eq!(human_duration(7200), "2 hours");
        assert_eq!(go_time_string(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            go_time_string(1_714_566_896),
            "2024-05-01 12:34:56 +0000 UTC"
        );
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56Z"), Some(1_714_566_896.0));
        assert_eq!(
            parse_rfc3339("2024-05-01T14:34:56+02:00"),
            Some(1_714_566_896.0)
        );
        assert_eq!(parse_rfc3339("2024-05-01"), Some(1_714_521_600.0));
        assert_eq!(timestamp("1700000000", 0.0).unwrap(), "1700000000");
        assert_eq!(timestamp("10s", 100.7).unwrap(), "90");
        assert_eq!(timestamp("0", 100.0).unwrap(), "0");
        assert_eq!(
            timestamp("2024-05-01T12:34:56.123456789Z", 0.0).unwrap(),
            "1714566896.123456789"
        );
        assert_eq!(
            timestamp("2024-05-01", 0.0).unwrap(),
            "1714521600.000000000"
        );
        assert_eq!(
            timestamp("yesterday", 0.0).unwrap_err(),
            "failed to parse value as time or duration: \"yesterday\""
        );
        assert_eq!(
            rfc3339_nano_fixed(1_714_566_896_000_000_123),
            "2024-05-01T12:34:56.000000123Z"
        );
        assert_eq!(rfc3339_nano_fixed(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339_nano_fixed(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            parse_rfc3339("2024-05-01T12:34:56.5Z"),
            Some(1_714_566_896.5)
        );
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56"), Some(1_714_566_896.0));
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56z"), Some(1_714_566_896.0));
        assert_eq!(parse_rfc3339("2024-13-01"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            go_time_string(-62_135_596_800),
            "0001-01-01 00:00:00 +0000 UTC"
        );
    }
}
