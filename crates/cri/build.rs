//! Generates the CRI's messages and services from the vendored
//! `proto/runtime/v1/api.proto` (kubernetes/cri-api v0.26.0, the version
//! critest v1.26.1 vendors) with prost and tonic. The file is kept as
//! upstream has it; its gogoproto import and options only steer Go's code
//! generator, so they are dropped from a copy in `OUT_DIR` before `protoc`
//! (Debian's `protobuf-compiler`) reads it.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let src = "proto/runtime/v1/api.proto";
    println!("cargo:rerun-if-changed={src}");
    let text = std::fs::read_to_string(src)?;
    let kept: String = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("import \"github.com/gogo") && !t.starts_with("option (gogoproto.")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let dir = out.join("proto/runtime/v1");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("api.proto"), kept)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(&[dir.join("api.proto")], &[out.join("proto")])?;
    Ok(())
}
