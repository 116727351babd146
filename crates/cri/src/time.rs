//! Times as the CRI gives them: nanoseconds since the epoch.

/// Now, in ns since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Nanoseconds since the epoch of an RFC 3339 UTC time with up to nine
/// digits of fraction (what the shim records); `None` when empty.
pub fn parse_rfc3339(t: &str) -> Option<i64> {
    if t.len() < 19 {
        return None;
    }
    let secs = engine::time::unix_seconds(t);
    let frac = t
        .get(19..)
        .and_then(|r| r.strip_prefix('.'))
        .map(|r| r.trim_end_matches('Z'))
        .map(|d| {
            d.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .map(|d| format!("{d:0<9}"))
        .and_then(|d| d.get(..9).and_then(|d| d.parse::<i64>().ok()))
        .unwrap_or(0);
    Some(secs * 1_000_000_000 + frac)
}

#[cfg(test)]
mod tests {
    #[test]
    fn nanoseconds() {
        assert_eq!(super::parse_rfc3339(""), None);
        assert_eq!(
            super::parse_rfc3339("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(
            super::parse_rfc3339("1970-01-01T00:00:02.000000007Z"),
            Some(2_000_000_007)
        );
    }
}
