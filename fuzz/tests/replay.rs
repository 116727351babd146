//! Every seed and every finding of every target, through its function:
//! the fuzz targets' regression test, on the plain toolchain
//! (`cargo test --manifest-path fuzz/Cargo.toml`).

#[test]
fn seeds_and_findings_pass() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ran = 0;
    for (name, target) in berth_fuzz::TARGETS {
        let mut files = 0;
        for dir in ["corpus", "findings"] {
            let Ok(rd) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for e in rd.flatten() {
                let data = std::fs::read(e.path()).unwrap();
                target(&data);
                files += 1;
            }
        }
        assert!(files > 0, "target {name} has no seeds");
        ran += files;
    }
    assert!(ran > 0);
}
