//! Go's durations, as Dockerfiles (`HEALTHCHECK --interval`), image
//! configs and docker's flags (`--stop-timeout`, `--since 10m`) write them:
//! the one reader of them in berth; and Docker's human durations
//! (`About an hour`), the one writer of them.

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

/// Docker's `units.HumanDuration` (go-units) of a number of seconds, as
/// `ps`'s STATUS and the `CREATED` columns print it: `Less than a second`,
/// `About a minute`, `3 hours`, `2 weeks`; negative is none.
pub fn human(secs: i64) -> String {
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

#[cfg(test)]
mod tests {
    use super::{go_nanos, human};

    #[test]
    fn human_durations_as_go_units() {
        for (secs, want) in [
            (-5, "Less than a second"),
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (61, "About a minute"),
            (59 * 60, "59 minutes"),
            (3600, "About an hour"),
            (7200, "2 hours"),
            (47 * 3600, "47 hours"),
            (48 * 3600, "2 days"),
            (14 * 86_400, "2 weeks"),
            (60 * 86_400, "2 months"),
            (2 * 365 * 86_400, "2 years"),
        ] {
            assert_eq!(human(secs), want, "{secs}");
        }
    }

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
