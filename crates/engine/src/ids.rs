//! Random ids: containers', networks', volumes', execs', the CRI's pods and
//! stream tokens, the daemon's own. One source for all of them, the
//! kernel's `getrandom(2)` through the `getrandom` crate.

/// `bytes` random bytes as lowercase hex (a container id is 32 of them).
///
/// # Panics
///
/// When the kernel gives no random bytes, which `getrandom(2)` does not do
/// once the pool is initialized (it blocks until then): an id of zeros
/// would collide, and a stream token of zeros could be guessed, so no id
/// is made. (A panic in a request is that request's 500.)
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    if let Err(e) = getrandom::fill(&mut b) {
        panic!("the kernel gave no random bytes: {e}");
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_hex_and_differ() {
        let (a, b) = (super::random_hex(32), super::random_hex(32));
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_ne!(super::random_hex(16), "0".repeat(32));
    }
}
