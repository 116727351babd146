//! The thin path below the daemon: an image imported into the store, its
//! layers mounted under a writable layer, the spec built as Docker builds it,
//! run by berth-runtime. What Docker users expect of `docker run` holds inside.

mod common;

use std::process::Command;

use common::BIN;

#[test]
fn an_imported_image_runs_with_dockers_defaults() {
    let d = tempfile::tempdir().unwrap();
    let rootfs = d.path().join("src");
    common::busybox_rootfs(&rootfs);
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["-c", "."])
        .output()
        .unwrap()
        .stdout;
    let store = store::Store::open(&d.path().join("store")).unwrap();
    let opts = store::ImportOptions {
        reference: Some(store::reference::Reference::parse("busybox").unwrap()),
        changes: vec!["ENV IMAGE_VAR=from-image".into(), "WORKDIR /tmp".into()],
        created: "2026-11-22T00:00:00Z".into(),
        ..Default::default()
    };
    let image = store.import(tar.as_slice(), &opts).unwrap();
    let id = format!("c0ffee{:010}{}", std::process::id(), "0".repeat(48));
    let ctr = d.path().join("containers").join(&id);
    let merged = ctr.join("rootfs");
    store.mount_rw(&image, &ctr, &merged).unwrap();
    let cfg = store.config(&image).unwrap();
    let req: models::container::CreateBody = serde_json::from_value(serde_json::json!({
        "Cmd": ["sh", "-c", "echo $IMAGE_VAR $REQ_VAR; pwd; hostname; cat /etc/hostname; id -u; grep -E '^(CapEff|Seccomp):' /proc/self/status; touch /made-here"],
        "Env": ["REQ_VAR=from-request"],
        "HostConfig": {"Memory": 67108864, "PidsLimit": 50},
    }))
    .unwrap();
    let spec = engine::spec::build(
        &id,
        &cfg,
        &req,
        &merged,
        &ctr.join("etc"),
        &[],
        &engine::network::NetNs::New,
        &engine::spec::namespaces::Namespaces::default(),
    )
    .unwrap();
    engine::network::write_etc_files(
        &ctr.join("etc"),
        &spec.hostname().clone().unwrap(),
        &engine::network::EtcNet::Loopback,
    )
    .unwrap();
    std::fs::write(ctr.join("config.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
    let out = Command::new(BIN)
        .arg("--root")
        .arg(d.path().join("state"))
        .args(["run", "--bundle"])
        .arg(&ctr)
        .arg(&id)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = store::mount::unmount(&merged);
    assert!(
        out.status.success(),
        "stdout: {text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let short = &id[..12];
    assert_eq!(
        text,
        format!("from-image from-request\n/tmp\n{short}\n{short}\n0\nCapEff:\t00000000a80425fb\nSeccomp:\t2\n"),
        "Docker's default capability set is a80425fb"
    );
    // The write landed in the container's own layer, not in the image.
    assert!(ctr.join("upper/made-here").exists());
    assert!(!store.layer_dir(&image.top_layer).join("made-here").exists());
}
