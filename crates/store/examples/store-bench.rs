//! Measurements for `bench/store.sh` (not a test):
//!
//! - `store-bench unpack BLOB DIR`: unpacks a layer blob with berth's
//!   unpacker into DIR/layer and prints `seconds uncompressed_bytes`.
//! - `store-bench shared ROOTFS_TAR ROOT`: imports the tar as a base image,
//!   commits a small change on top as a second image, and prints
//!   `on_disk_bytes sum_of_image_sizes`.
//! - `store-bench durability BLOB DIR [ROUNDS]`: unpacks the blob with each
//!   way of getting a layer to disk before its rename (none, one syncfs, an
//!   fsync per file), rounds interleaved, each after a `sync` so it starts
//!   with nothing else dirty; prints `mode seconds` per unpack.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("unpack") => {
            let blob = std::fs::File::open(&args[2]).expect("blob");
            let t = Instant::now();
            let u = store::layer::unpack(
                blob,
                Path::new(&args[3]),
                "layer",
                store::layer::Options::default(),
            )
            .expect("unpack");
            let secs = t.elapsed().as_secs_f64();
            println!("{secs} {}", u.size);
        }
        Some("shared") => {
            let root = Path::new(&args[3]);
            let s = store::Store::open(root).expect("store");
            let opts = store::ImportOptions {
                created: "2026-01-01T00:00:00Z".into(),
                ..Default::default()
            };
            let base = s
                .import(std::fs::File::open(&args[2]).expect("tar"), &opts)
                .expect("import");
            let ctr = root.join("ctr");
            let upper = ctr.join("upper");
            std::fs::create_dir_all(upper.join("etc")).unwrap();
            std::fs::write(upper.join("etc/derived"), "a small change\n").unwrap();
            let h = store::config::History {
                created: "2026-01-01T00:00:01Z".into(),
                created_by: "bench".into(),
                ..Default::default()
            };
            let derived = s.commit(&base, &upper, h, None, |_| {}).expect("commit");
            let sum = s.size(&base).unwrap() + s.size(&derived).unwrap();
            let du = std::process::Command::new("du")
                .args(["-sb"])
                .arg(root.join("layers"))
                .output()
                .unwrap();
            let on_disk: u64 = String::from_utf8_lossy(&du.stdout)
                .split_whitespace()
                .next()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
            println!("{on_disk} {sum}");
        }
        Some("durability") => {
            use store::tree::Durability;
            let rounds: usize = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(3);
            let dir = Path::new(&args[3]);
            for round in 0..rounds {
                for (name, d) in [
                    ("none", Durability::None),
                    ("syncfs", Durability::Syncfs),
                    ("fsync", Durability::Fsync),
                ] {
                    let _ = std::fs::remove_dir_all(dir.join("layer"));
                    // SAFETY: no arguments.
                    unsafe { libc::sync() };
                    let blob = std::fs::File::open(&args[2]).expect("blob");
                    let t = Instant::now();
                    store::layer::unpack(
                        blob,
                        dir,
                        "layer",
                        store::layer::Options {
                            durability: d,
                            ..Default::default()
                        },
                    )
                    .expect("unpack");
                    println!("{round} {name} {:.3}", t.elapsed().as_secs_f64());
                }
            }
            let _ = std::fs::remove_dir_all(dir.join("layer"));
        }
        _ => {
            eprintln!("usage: store-bench unpack BLOB DIR | shared ROOTFS_TAR ROOT | durability BLOB DIR [ROUNDS]");
            std::process::exit(2);
        }
    }
}
