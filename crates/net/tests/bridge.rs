//! The bridge on the real kernel (as root): made, an endpoint attached and
//! reachable, swept, and everything removed by a guard even on failure.

use std::net::Ipv4Addr;
use std::process::Command;

use net::{Bridge, BridgeConfig};

/// Deletes the test's bridge and nftables table when dropped.
struct Cleanup(BridgeConfig);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.0.name])
            .status();
        let _ = net::nft::delete(&self.0.table);
    }
}

fn sh(cmd: &str) -> (bool, String) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn bridge_endpoint_and_sweep() {
    let name = format!("bnt{}", std::process::id() % 100_000);
    let mut cfg = BridgeConfig::new(&name);
    cfg.bip = Some(("10.251.77.1".parse().unwrap(), 24));
    let _guard = Cleanup(cfg.clone());
    let b = Bridge::setup(cfg.clone()).unwrap();
    assert_eq!(b.gateway, "10.251.77.1".parse::<Ipv4Addr>().unwrap());
    // Setting up again (a daemon restart) keeps it.
    let b = Bridge::setup(cfg.clone()).unwrap();
    let (ok, text) = sh(&format!("ip -4 addr show {name}"));
    assert!(ok && text.contains("10.251.77.1/24"), "{text}");
    let (_, rules) = sh(&format!("nft list table ip {}", cfg.table));
    assert!(rules.contains("masquerade"), "{rules}");

    let dir = tempfile::tempdir().unwrap();
    let ns = dir.path().join("netns/c1");
    let id = "0123456789abcdef0123";
    let ep = b
        .attach(id, &net::Iface::eth0("10.251.77.9".parse().unwrap()), &ns)
        .unwrap();
    assert_eq!(ep.mac, "02:42:0a:fb:4d:09");
    let (ok, text) = sh(&format!("nsenter --net={} ip addr show eth0", ns.display()));
    assert!(
        ok && text.contains("10.251.77.9/24") && text.contains("UP"),
        "{text}"
    );
    let (ok, text) = sh(&format!("nsenter --net={} ip route", ns.display()));
    assert!(ok && text.contains("default via 10.251.77.1"), "{text}");
    let (ok, text) = sh("busybox ping -c1 -W2 10.251.77.9");
    assert!(ok, "{text}");

    // A sweep keeping nothing removes the namespace and the veth.
    assert!(b.sweep(&dir.path().join("netns"), &[]).unwrap() >= 1);
    assert!(!ns.exists());
    let (ok, _) = sh(&format!("ip link show {}", Bridge::veth_name(id)));
    assert!(!ok, "the veth is gone");
    b.detach(&Bridge::veth_name(id), &ns);
}
