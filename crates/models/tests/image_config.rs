//! Image configs as Docker writes them: the four recorded from dockerd
//! 20.10 here (`docker import`, `docker import -c 'CMD ["sh"]'`, a classic
//! `docker build` of a busybox image, a `FROM scratch` hello-world; files
//! in `dockerd-20.10/`, copied from its `imagedb`), read with Go's rules.

use models::oci::ImageConfig;

const IMPORT: &str = include_str!("dockerd-20.10/import.config.json");
const IMPORT_CMD: &str = include_str!("dockerd-20.10/import-cmd.config.json");
const CLASSIC_BUILD: &str = include_str!("dockerd-20.10/classic-build.config.json");
const HELLO_WORLD: &str = include_str!("dockerd-20.10/hello-world.config.json");

fn read(s: &str) -> ImageConfig {
    models::de::from_slice(s.as_bytes()).expect("a Docker-made config reads")
}

#[test]
fn nulls_read_as_go_reads_them() {
    let c = read(IMPORT);
    assert_eq!(c.config.env, Vec::<String>::new());
    assert_eq!(c.config.cmd, None);
    assert_eq!(c.config.entrypoint, None);
    assert!(c.config.volumes.is_empty() && c.config.labels.is_empty());
    assert_eq!(c.comment, "Imported from -");
    assert_eq!(c.docker_version, "20.10.24+dfsg1");
    let cc = c.container_config.as_ref().unwrap();
    assert_eq!((cc.env.as_ref(), cc.cmd.as_ref()), (None, None));
    assert_eq!(c.history.len(), 1);
    assert_eq!(c.rootfs.diff_ids.len(), 1);
    assert_eq!(read(IMPORT_CMD).config.cmd, Some(vec!["sh".to_string()]));
}

#[test]
fn a_classic_build_reads_whole() {
    let c = read(CLASSIC_BUILD);
    assert_eq!(c.config.cmd.as_deref().unwrap(), ["cat", "/greeting.txt"]);
    assert_eq!(c.config.env[1], "GREETING=hello");
    assert!(c.config.exposed_ports.contains_key("8080/tcp"));
    assert!(c.config.volumes.contains_key("/data"));
    assert_eq!(c.config.working_dir, "/srv");
    assert_eq!(c.config.labels["org.example.kind"], "test");
    assert_eq!(c.container.len(), 64);
    assert_eq!(c.history.len(), 8);
    assert!(c.history[1].empty_layer && !c.history[3].empty_layer);
    assert_eq!(c.rootfs.diff_ids.len(), 3);
    // The build container's config: Docker's `#(nop)` command.
    let cc = c.container_config.unwrap();
    assert_eq!(cc.cmd.unwrap()[2], "#(nop) ");
}

#[test]
fn hello_world_from_scratch() {
    let c = read(HELLO_WORLD);
    assert_eq!(c.config.cmd.as_deref().unwrap(), ["/hello"]);
    assert!(c.config.labels.is_empty());
    assert_eq!(c.created.as_deref(), Some("2026-12-07T16:42:46.13590573Z"));
}

#[test]
fn times_with_offsets_and_case_folded_keys() {
    // Go's RFC 3339 with nanoseconds and an offset, keys as Go matches them.
    let raw = r#"{"Architecture":"amd64","OS":"linux","created":"2024-05-01T12:34:56.123456789+02:00",
        "config":{"cmd":"echo hi","env":null,"ExposedPorts":null,"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000}},
        "rootfs":{"type":"layers","diff_ids":null},"history":null,"unknown":{"x":[1]}}"#;
    let c = read(raw);
    assert_eq!((c.architecture.as_str(), c.os.as_str()), ("amd64", "linux"));
    assert_eq!(
        c.created.as_deref(),
        Some("2024-05-01T12:34:56.123456789+02:00")
    );
    assert_eq!(c.config.cmd, Some(vec!["echo hi".to_string()]));
    assert_eq!(c.config.healthcheck.unwrap().interval, 1_000_000_000);
    assert!(c.rootfs.diff_ids.is_empty() && c.history.is_empty());
}

#[test]
fn what_berth_writes_leaves_empty_fields_out() {
    let mut c = read(IMPORT);
    c.comment.clear();
    c.docker_version.clear();
    c.container_config = None;
    let out = String::from_utf8(c.to_bytes()).unwrap();
    assert!(!out.contains("null"), "{out}");
    assert!(
        out.starts_with(r#"{"architecture":"amd64","os":"linux","created":"#),
        "{out}"
    );
}
