//! Times as the API shows them.

/// Seconds since the epoch of an RFC 3339 time (`2026-11-22T10:00:00.123Z`,
/// or with an offset); 0 when it cannot be read. The text comes from image
/// configs and is anyone's: it is only ever sliced with `get`, never `[..]`,
/// so a multibyte character anywhere is a bad time, not a panic.
pub fn unix_seconds(t: &str) -> i64 {
    let b = t.as_bytes();
    if b.len() < 19 {
        return 0;
    }
    let num = |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (hh, mm, ss) = (num(11..13), num(14..16), num(17..19));
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut secs = days * 86400 + hh * 3600 + mm * 60 + ss;
    // An offset after the seconds (and fraction): +hh:mm or -hh:mm.
    if let Some(pos) = t.get(19..).and_then(|r| r.find(['+', '-'])).map(|p| p + 19) {
        let sign = if b[pos] == b'+' { 1 } else { -1 };
        secs -= sign * (num(pos + 1..pos + 3) * 3600 + num(pos + 4..pos + 6) * 60);
    }
    secs
}

/// Now, in RFC 3339 with nanoseconds (UTC), as Docker records times.
pub fn now() -> String {
    runtime::now_rfc3339()
}

/// Seconds since the epoch with the fraction, of an RFC 3339 UTC time.
pub fn unix_seconds_f64(t: &str) -> f64 {
    let frac = t
        .get(19..)
        .and_then(|r| r.strip_prefix('.'))
        .map(|r| r.trim_end_matches('Z'))
        .and_then(|d| format!("0.{d}").parse::<f64>().ok())
        .unwrap_or(0.0);
    unix_seconds(t) as f64 + frac
}

/// RFC 3339 (UTC, whole seconds) of seconds since the epoch.
pub fn rfc3339(secs: i64) -> String {
    runtime::time::rfc3339(secs, None)
}

/// RFC 3339 with nanoseconds (UTC) of nanoseconds since the epoch.
pub fn from_unix_nanos(nanos: i64) -> String {
    runtime::time::rfc3339(
        nanos.div_euclid(1_000_000_000),
        Some(nanos.rem_euclid(1_000_000_000) as u32),
    )
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
        assert_eq!(super::unix_seconds("bogus"), 0);
        // Issue 15: a multibyte character across byte 19 (a hostile image's
        // `created`) once panicked the daemon.
        for t in [
            "2024-01-01T00:00:0ééZ",
            "2024-01-01T00:00:00é+0é:00",
            "éééééééééééééééééééééé",
            "2024-01-01T00:00:00+",
        ] {
            // Only that neither panics.
            let _ = (super::unix_seconds(t), super::unix_seconds_f64(t));
        }
        assert_eq!(super::rfc3339(1_795_305_600), "2026-11-22T00:00:00Z");
    }
}
