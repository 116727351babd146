//! Go's durations, as Dockerfiles (`HEALTHCHECK --interval`), image
//! configs and docker's flags (`--stop-timeout`, `--since 10m`) write them:
//! the one reader of them in berth.

/// Go's `time.ParseDuration`: `300ms`, `-1.5h`, `2h45m`; units ns, us
/// (µs, μs), ms, s, m, h; a bare `0` is allowed. The value in nanoseconds.
pub fn go_nanos(s: &str) -> Option<f64> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Some(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::go_nanos;

    #[test]
    fn reads_go_durations() {
        assert_eq!(go_nanos("30s"), Some(30e9));
        assert_eq!(go_nanos("1m30s"), Some(90e9));
        assert_eq!(go_nanos("500ms"), Some(5e8));
        assert_eq!(go_nanos("-1.5h"), Some(-5400e9));
        assert_eq!(go_nanos("2µs"), Some(2e3));
        assert_eq!(go_nanos("0"), Some(0.0));
        for bad in ["", "5", "abc", "1..2s", ".s", "1d"] {
            assert_eq!(go_nanos(bad), None, "{bad}");
        }
    }
}
