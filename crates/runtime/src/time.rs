//! Times as RFC 3339 strings, without a date crate: this crate is linked
//! into `berth-shim` and `berth-runtime`, on every container's start path,
//! and only ever formats a clock reading; the engine, the CRI and the CLI,
//! which also parse times, use `jiff`.

/// `secs` after the epoch as RFC 3339 in UTC, with nanoseconds when given.
pub fn rfc3339(secs: i64, nanos: Option<u32>) -> String {
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let frac = nanos.map(|n| format!(".{n:09}")).unwrap_or_default();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::rfc3339(0, None), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::rfc3339(1_795_305_600, Some(5)),
            "2026-11-22T00:00:00.000000005Z"
        );
        assert_eq!(super::rfc3339(951_782_400, None), "2000-02-29T00:00:00Z");
    }
}
