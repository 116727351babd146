//! berth's fuzz targets, as plain functions of the input bytes: the AFL++
//! binaries in `src/bin/` call them, and `tests/replay.rs` runs every seed
//! and every past finding through them on the plain toolchain. A target
//! passes when it returns: an `Err` is the parser doing its job, a panic,
//! a hang or unbounded memory is a finding. See docs/FUZZING.md.

use std::io::Read;

#[path = "../../crates/berthd/src/api/query.rs"]
#[allow(dead_code, missing_docs)]
mod query;

/// What berthd's `api` module gives `query.rs` (its `super`).
const API_VERSION: &str = "1.47";

/// berthd's API error, as far as `query.rs` needs it.
#[derive(Debug)]
struct ApiError;

impl From<engine::EngineError> for ApiError {
    fn from(_: engine::EngineError) -> ApiError {
        ApiError
    }
}

fn version_tuple(v: &str) -> (u32, u32) {
    let mut it = v.split('.').map(|p| p.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Splits the input at its first newline: two inputs from one.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// A tar stream read with berth's bounded reader: every entry, its
/// fields, its data.
pub fn untar(data: &[u8]) {
    let mut a = untar::Archive::new(data);
    let mut buf = [0u8; 4096];
    while let Ok(Some(mut e)) = a.next_entry() {
        let _ = (e.kind(), e.path_bytes().len(), e.link_bytes(), e.size());
        let _ = (
            e.mode(),
            e.uid(),
            e.gid(),
            e.mtime(),
            e.device(),
            e.xattrs(),
        );
        while let Ok(n) = e.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}

/// A scratch directory on tmpfs when there is one (the targets that write
/// files run thousands of times a second).
fn scratch() -> tempfile::TempDir {
    if std::path::Path::new("/dev/shm").is_dir() {
        if let Ok(d) = tempfile::tempdir_in("/dev/shm") {
            return d;
        }
    }
    tempfile::tempdir().expect("a temporary directory")
}

/// A layer blob (plain, gzip or zstd tar) unpacked on the real filesystem:
/// what a registry or `docker load` hands the store. Nothing may land
/// outside the layer's directory.
pub fn layer(data: &[u8]) {
    let d = scratch();
    let parent = d.path().join("layers");
    let opts = store::layer::Options {
        max_entries: 10_000,
        max_bytes: 64 << 20,
        ..Default::default()
    };
    let _ = store::layer::unpack(data, &parent, "l", opts);
    // The layer's parent holds the layer, or nothing after a refusal; the
    // scratch directory holds only the parent.
    let names: Vec<_> = std::fs::read_dir(d.path())
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        names.len() <= 1,
        "unpack wrote beside its parent: {names:?}"
    );
    let _ = store::walk::remove_tree(&parent);
}

/// An image config as a registry or archive gives it, and what is done
/// with it: serialised again, chain ids, its `created` time read, the
/// `changes` of commit and import applied (first line: one change).
pub fn config(data: &[u8]) {
    let (first, rest) = split(data);
    if let Ok(cfg) = models::de::from_slice::<store::config::ImageConfig>(rest) {
        let _ = cfg.to_bytes();
        let _ = store::config::chain_ids(&cfg.rootfs.diff_ids);
        if let Some(c) = &cfg.created {
            let _ = engine::time::unix_seconds(c);
            let _ = engine::time::unix_seconds_f64(c);
        }
        let req = models::container::Config::default();
        let _ = engine::spec::args(&cfg, &req);
        let _ = engine::spec::env(&cfg, &req, "host");
    }
    let mut run = store::config::RunConfig::default();
    let _ = store::config::apply_changes(&mut run, &[text(first)]);
    let _ = engine::time::unix_seconds(&text(first));
}

/// A manifest or index from a registry (first line: its content type), and
/// the platform choice among an index's entries.
pub fn manifest(data: &[u8]) {
    let (ctype, doc) = split(data);
    let ctype = text(ctype);
    if let Ok(registry::manifest::Parsed::Index(entries)) = registry::manifest::parse(doc, &ctype) {
        let _ = registry::manifest::select(&entries, &registry::manifest::Platform::host());
    }
    if let Ok(p) = registry::manifest::Platform::parse(&ctype) {
        let _ = p.matches(&registry::manifest::Platform::host());
    }
    let _ = store::reference::Reference::parse(&ctype).map(|r| r.with_default_tag().familiar());
}

/// A `docker load` archive (Docker's `manifest.json` or an OCI layout)
/// loaded into a fresh store.
pub fn load(data: &[u8]) {
    let d = scratch();
    let Ok(s) = store::Store::open(&d.path().join("image")) else {
        return;
    };
    let _ = store::archive::load(&s, data);
}

/// A Dockerfile.
pub fn dockerfile(data: &[u8]) {
    let _ = build::parse(&text(data), "Dockerfile");
}

/// Docker's `${}` expansion (first line: the word or line, the rest:
/// `NAME=value` lines the lookup answers from), with `\` and `` ` `` as the
/// escape.
pub fn expand(data: &[u8]) {
    let (word, vars) = split(data);
    let word = text(word);
    let vars = text(vars);
    let lookup = |name: &str| {
        vars.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('=').map(String::from))
    };
    for escape in ['\\', '`'] {
        let _ = build::expand(&word, escape, &lookup);
        let _ = build::expand_words(&word, escape, &lookup);
    }
}

/// A `.dockerignore` (after the first line), and whether the first line's
/// path is excluded.
pub fn dockerignore(data: &[u8]) {
    let (path, patterns) = split(data);
    if let Ok(p) = build::ignore::Patterns::parse(&text(patterns)) {
        let _ = p.excluded(&text(path));
        let _ = p.has_exceptions();
    }
}

/// A DNS packet to the embedded server: read as a query, answered.
pub fn dns(data: &[u8]) {
    use net::dns::wire;
    let _ = wire::id_of(data);
    let _ = wire::error_reply(data, wire::Rcode::FormErr);
    if let Ok(q) = wire::parse_query(data) {
        let _ = wire::reply(&q, wire::Rcode::NoError, &[std::net::Ipv4Addr::LOCALHOST]);
        let _ = wire::reply(&q, wire::Rcode::NxDomain, &[]);
    }
}

/// An API request's query string (first line) and JSON body (the rest):
/// `filters`, and a container create body as the engine reads it.
pub fn api(data: &[u8]) {
    let (q, body) = split(data);
    let q = text(q);
    let query = query::Query::parse(Some(&q));
    let _ = query.filters();
    let _ = query.go_filters();
    let _ = (query.get("name"), query.flag("force"), query.all("t"));
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(s) = v.as_str() {
            let _ = engine::mounts::parse_bind(s);
            let _ = engine::mounts::split_volumes_from(s);
        }
    }
    let Ok(create) = models::de::from_slice::<engine::spec::CreateBody>(body) else {
        return;
    };
    let _ = engine::mounts::warnings(&create.host_config);
    let _ = engine::mounts::parse_requested(&create.host_config);
    for m in &create.host_config.mounts {
        let _ = engine::mounts::parse_mount(m);
    }
    let cfg = store::config::ImageConfig::default();
    let _ = engine::spec::args(&cfg, &create.config);
    let _ = engine::spec::env(&cfg, &create.config, "h");
}

/// `X-Registry-Auth` (first line) and a registry's `WWW-Authenticate`
/// (the rest).
pub fn registry_auth(data: &[u8]) {
    let (header, challenge) = split(data);
    if let Ok(c) = registry::Credentials::from_header(&text(header)) {
        let _ = c.basic();
    }
    if let Some(ch) = registry::auth::parse_challenge(&text(challenge)) {
        let _ = format!("{ch:?}");
    }
}

/// Every target, by name.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("untar", untar),
    ("layer", layer),
    ("config", config),
    ("manifest", manifest),
    ("load", load),
    ("dockerfile", dockerfile),
    ("expand", expand),
    ("dockerignore", dockerignore),
    ("dns", dns),
    ("api", api),
    ("registry_auth", registry_auth),
];
