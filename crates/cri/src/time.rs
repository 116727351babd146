//! Times as the CRI gives them: nanoseconds since the epoch.

/// Now, in ns since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    // The shim's RFC 3339 times are read by the engine's one reader.
    #[test]
    fn nanoseconds() {
        use engine::time::unix_nanos as parse_rfc3339;
        assert_eq!(parse_rfc3339(""), None);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:02.000000007Z"),
            Some(2_000_000_007)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T02:00:00.000000001+02:00"),
            Some(1_795_305_600_000_000_001)
        );
    }
}
