//! A CA and a server certificate made with openssl, and an address off
//! loopback to serve them on (berth verifies certificates there).

use std::path::Path;

/// This machine's first global IPv4 address: a registry there is not on
/// loopback, so berth verifies its certificate.
pub fn global_ipv4() -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let addr = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)?;
    Some(addr.split('/').next()?.to_string())
}

/// `ca.crt`, `server.crt` and `server.key` in `dir`, for `ips`.
pub fn make_certs(dir: &Path, ips: &[&str]) {
    let san: Vec<String> = ips.iter().map(|ip| format!("IP:{ip}")).collect();
    let script = format!(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
           -keyout ca.key -out ca.crt -days 2 -subj /CN=berth-test-ca 2>/dev/null
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
           -keyout server.key -out server.csr -subj /CN=registry 2>/dev/null
         printf 'subjectAltName={}\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext
         openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
           -out server.crt -days 2 -extfile ext 2>/dev/null",
        san.join(",")
    );
    let out = std::process::Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
