//! `berth network …` and `berth run --network/--ip/--network-alias` end to
//! end against a berthd with a bridge of its own: exit codes, stdout and
//! stderr as docker's.

mod common;

use common::Daemon;

#[test]
fn network_commands_as_docker() {
    let d = Daemon::with_bridge_and_busybox();
    let n = d
        .bridge
        .as_deref()
        .unwrap()
        .rsplit('x')
        .next()
        .unwrap()
        .to_string();
    let subnet = format!("10.96.{n}.0/24");
    let id = d.ok(&[
        "network", "create", "--subnet", &subnet, "--label", "team=a", "front",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let ls = d.ok(&["network", "ls"]);
    let mut lines = ls.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    );
    assert!(
        ls.contains(&format!("{}   front     bridge    local", &id[..12])),
        "{ls}"
    );
    assert_eq!(
        d.ok(&[
            "network",
            "ls",
            "-q",
            "--filter",
            "label=team=a",
            "--no-trunc"
        ])
        .trim(),
        id.trim()
    );
    let got = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{json .IPAM.Config}} {{.Labels.team}}",
        "front",
    ]);
    assert!(
        got.contains(&format!("\"Subnet\":\"{subnet}\"")) && got.trim_end().ends_with(" a"),
        "{got}"
    );
    let (code, _, err) = d.berth(&["network", "create", "front"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error response from daemon: network with name front already exists\n"
    );
    let fixed = subnet.replace(".0/24", ".9");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "--ip",
        &fixed,
        "--network-alias",
        "www",
        "busybox",
        "sleep",
        "300",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "front",
        "busybox",
        "sleep",
        "300",
    ]);
    let out = d.ok(&["exec", "cli", "nslookup", "www"]);
    assert!(out.contains(&fixed), "{out}");
    let (code, _, err) = d.berth(&["network", "rm", "front"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Error response from daemon: error while removing network: network front has active endpoints"), "{err}");
    d.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("10.95.{n}.0/24"),
        "back",
    ]);
    d.ok(&["network", "connect", "--alias", "api", "back", "web"]);
    let nets = d.ok(&["inspect", "-f", "{{json .NetworkSettings.Networks}}", "web"]);
    let nets: serde_json::Value = serde_json::from_str(&nets).unwrap();
    let names: Vec<&String> = nets.as_object().unwrap().keys().collect();
    assert_eq!(names, ["back", "front"]);
    d.ok(&["network", "disconnect", "back", "web"]);
    let (code, _, err) = d.berth(&["network", "disconnect", "back", "web"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        d.ok(&["network", "prune", "-f"]),
        "Deleted Networks:\nback\n"
    );
    d.ok(&["rm", "-f", "web", "cli"]);
    assert_eq!(d.ok(&["network", "rm", "front"]), "front\n");
    let (code, _, err) = d.berth(&["network", "inspect", "front"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Error response from daemon: network front not found\n")
    );
}
