//! Docker's units and times as its CLI reads and prints them: sizes
//! (`go-units`), human durations, Go durations and the timestamps that
//! `--since`/`--until` accept (`moby/api/types/time`).

use std::time::{SystemTime, UNIX_EPOCH};

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

/// `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h) = (s / 60, s / 3600);
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if m == 1 => "About a minute".into(),
        _ if m < 60 => format!("{m} minutes"),
        _ if h == 1 => "About an hour".into(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 7 * 2 => format!("{} days", h / 24),
        _ if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        _ if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", h / 24 / 365),
    }
}

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

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Go's `time.Unix(t, 0).UTC().String()`: `2024-05-01 12:34:56 +0000 UTC`.
pub fn go_time_string(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Go's `Format` with docker's `rfc3339NanoFixed` layout
/// (`2006-01-02T15:04:05.000000000Z07:00`) of a time in nanoseconds, in
/// UTC: `2024-05-01T12:34:56.000000123Z`.
pub fn rfc3339_nano_fixed(nanos: i64) -> String {
    let (secs, frac) = (
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000),
    );
    let (days, s) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// An RFC 3339 time (`2024-05-01T12:34:56.123Z`, `…+02:00`, a date alone,
/// or no zone meaning UTC) as seconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let num = |a: &str| a.parse::<i64>().ok();
    let (date, time) = s.split_once('T').unwrap_or((s, "00:00:00Z"));
    let mut dp = date.split('-');
    let (y, mo, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    if dp.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => (&time[..i], &time[i..]),
        None => (time, "Z"),
    };
    let offset_secs = match offset {
        "Z" | "z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (h, m) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
            sign * (num(h)? * 3600 + num(m)? * 60)
        }
    };
    let mut cp = clock.split(':');
    let h = num(cp.next()?)?;
    let mi = cp.next().map(num).unwrap_or(Some(0))?;
    let sec: f64 = cp.next().map(|x| x.parse().ok()).unwrap_or(Some(0.0))?;
    let whole = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 - offset_secs;
    Some(whole as f64 + sec)
}

/// What `--since`/`--until` accept, as `timetypes.GetTimestamp` does: a Go
/// duration before now (`10m`, sent as whole seconds), an RFC 3339 time, or
/// Unix seconds (`0` is the epoch, not a duration); sent to the daemon as
/// `seconds[.nanoseconds]`.
pub fn timestamp(value: &str, now: f64) -> Result<String, String> {
    let secs = if let Some(d) = go_duration(value).filter(|_| value != "0") {
        // Whole seconds, as docker's `reference.Add(-d).Unix()`: `--until 0s`
        // leaves out what happened earlier in the current second.
        return Ok(format!("{}", (now - d).floor()));
    } else if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Ok(value.to_string());
    } else {
        parse_rfc3339(value)
            .ok_or_else(|| format!("failed to parse value as time or duration: \"{value}\""))?
    };
    Ok(format!("{secs:.9}"))
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
            timestamp("yesterday", 0.0).unwrap_err(),
            "failed to parse value as time or duration: \"yesterday\""
        );
        assert_eq!(
            rfc3339_nano_fixed(1_714_566_896_000_000_123),
            "2024-05-01T12:34:56.000000123Z"
        );
        assert_eq!(rfc3339_nano_fixed(0), "1970-01-01T00:00:00.000000000Z");
    }
}
