//! Manifests and indexes: Docker's schema 2 and manifest lists, OCI's
//! manifests and indexes; which entry of an index fits a platform.

use serde::Deserialize;

use crate::error::RegistryError;

/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 1 (signed): long deprecated, refused as Docker 28 does.
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The `Accept` header of a manifest request: every type we understand.
pub const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// Largest manifest or index we read: 4 MiB, as containerd's limit
/// (`images.MaxManifestSize`); real ones are a few KiB.
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Most layers in one manifest (overlay stacks beyond this are no image).
pub const MAX_LAYERS: usize = 1000;
/// Deepest nesting of indexes we follow.
pub const MAX_DEPTH: usize = 4;

/// A content descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    #[serde(default)]
    pub media_type: String,
    /// `sha256:…`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// Where a non-distributable layer may be fetched (never followed).
    #[serde(default)]
    pub urls: Vec<String>,
    /// An index entry's platform.
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// A platform as indexes describe one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Platform {
    /// `linux`.
    #[serde(default)]
    pub os: String,
    /// `amd64`, `arm64`…
    #[serde(default)]
    pub architecture: String,
    /// `v7`, `v8`…
    #[serde(default)]
    pub variant: String,
}

impl Platform {
    /// The host's platform (`linux/amd64`).
    pub fn host() -> Platform {
        let arch = store::config::host_arch().to_string();
        let variant = if arch == "arm64" { "v8" } else { "" };
        Platform {
            os: "linux".into(),
            architecture: arch,
            variant: variant.into(),
        }
    }

    /// Parses `os[/arch[/variant]]` (the API's `platform` parameter) as
    /// containerd's `platforms.Parse` does, with its error texts (dockerd
    /// answers them with 400): a lone word is an OS it knows (the host's
    /// architecture) or an architecture it knows (linux); two or three
    /// parts are taken as given, normalized. Empty is the host's.
    pub fn parse(s: &str) -> Result<Platform, RegistryError> {
        let host = Platform::host();
        let s = s.trim();
        if s.is_empty() {
            return Ok(host);
        }
        let invalid = |why: String| RegistryError::Invalid(why + ": invalid argument");
        if s.contains('*') {
            return Err(invalid(format!("{s:?}: wildcards not yet supported")));
        }
        let parts: Vec<&str> = s.split('/').collect();
        for part in &parts {
            let ok = !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(invalid(format!(
                    "{part:?} is an invalid component of {s:?}: platform specifier component must match \"^[A-Za-z0-9_-]+$\""
                )));
            }
        }
        let os = |o: &str| match o.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            other => other.to_string(),
        };
        match parts[..] {
            [one] => {
                let o = os(one);
                if KNOWN_OS.contains(&o.as_str()) {
                    return Ok(Platform { os: o, ..host });
                }
                let (architecture, variant) = normalize(one, "");
                if KNOWN_ARCH.contains(&architecture.as_str()) {
                    return Ok(Platform {
                        os: "linux".into(),
                        architecture,
                        variant,
                    });
                }
                Err(invalid(format!(
                    "{s:?}: unknown operating system or architecture"
                )))
            }
            [o, a] => {
                let (architecture, variant) = normalize(a, "");
                Ok(Platform {
                    os: os(o),
                    architecture,
                    variant,
                })
            }
            [o, a, v] => {
                let (architecture, mut variant) = normalize(a, v);
                if architecture == "arm64" && variant.is_empty() {
                    variant = "v8".into();
                }
                Ok(Platform {
                    os: os(o),
                    architecture,
                    variant,
                })
            }
            _ => Err(invalid(format!("{s:?}: cannot parse platform specifier"))),
        }
    }

    /// Whether an index entry of `other` runs here. A missing variant on
    /// either side matches, as containerd's matcher does for the common case.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == normalize_arch(&other.architecture)
            && (self.variant.is_empty()
                || other.variant.is_empty()
                || self.variant == other.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

fn normalize_arch(a: &str) -> String {
    normalize(a, "").0
}

/// containerd's `knownOS` (Go's GOOS list).
const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];

/// containerd's `knownArch` (Go's GOARCH list).
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// containerd's `normalizeArch`: the architecture's usual name and its
/// variant.
fn normalize(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" => String::new(),
                _ => variant,
            };
            ("arm64".into(), v)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), v)
        }
        _ => (arch, variant),
    }
}

/// A manifest or an index, as the registry sent it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    schema_version: u32,
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// What a manifest request returned, parsed.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// An image manifest: its config and layers.
    Image {
        /// The config.
        config: Descriptor,
        /// The layers, bottom first.
        layers: Vec<Descriptor>,
    },
    /// An index: the manifests for each platform.
    Index(Vec<Descriptor>),
}

/// Parses a manifest of `content_type` (the response's header; the
/// document's own `mediaType` when the header is vague).
pub fn parse(bytes: &[u8], content_type: &str) -> Result<Parsed, RegistryError> {
    let doc: Document = serde_json::from_slice(bytes)
        .map_err(|e| RegistryError::Invalid(format!("invalid manifest: {e}")))?;
    let header = content_type.split(';').next().unwrap_or("").trim();
    let media = if header.is_empty()
        || header == "application/json"
        || header == "text/plain"
        || header == "application/octet-stream"
    {
        // OCI allows an index or manifest without mediaType: tell by shape.
        if !doc.media_type.is_empty() {
            doc.media_type.clone()
        } else if doc.manifests.is_some() {
            OCI_INDEX.to_string()
        } else {
            OCI_MANIFEST.to_string()
        }
    } else {
        header.to_string()
    };
    match media.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST => {
            if doc.schema_version != 2 {
                return Err(RegistryError::Invalid(format!(
                    "manifest has schemaVersion {}, want 2",
                    doc.schema_version
                )));
            }
            let config = doc
                .config
                .ok_or_else(|| RegistryError::Invalid("manifest has no config".into()))?;
            let layers = doc.layers.unwrap_or_default();
            if layers.len() > MAX_LAYERS {
                return Err(RegistryError::Invalid(format!(
                    "manifest has {} layers, more than {MAX_LAYERS}",
                    layers.len()
                )));
            }
            for l in &layers {
                check_layer_type(&l.media_type)?;
                store::content::parse_digest(&l.digest)
                    .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            }
            store::content::parse_digest(&config.digest)
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            Ok(Parsed::Image { config, layers })
        }
        DOCKER_LIST | OCI_INDEX => Ok(Parsed::Index(doc.manifests.unwrap_or_default())),
        DOCKER_SCHEMA1 | "application/vnd.docker.distribution.manifest.v1+json" => {
            Err(RegistryError::UnsupportedMediaType(format!(
                "{media} (Docker image format v1 and schema 1 manifests are no longer supported)"
            )))
        }
        other => Err(RegistryError::UnsupportedMediaType(other.to_string())),
    }
}

/// Layer media types berth unpacks: tars, plain, gzip or zstd.
fn check_layer_type(media: &str) -> Result<(), RegistryError> {
    const KNOWN: &[&str] = &[
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    ];
    if KNOWN.contains(&media) {
        Ok(())
    } else {
        Err(RegistryError::UnsupportedMediaType(format!(
            "{media} (as a layer)"
        )))
    }
}

/// The index entry for `platform`: the first that matches, preferring an
/// exact variant.
pub fn select<'a>(
    entries: &'a [Descriptor],
    platform: &Platform,
) -> Result<&'a Descriptor, RegistryError> {
    let fits = |d: &&Descriptor| d.platform.as_ref().is_some_and(|p| platform.matches(p));
    entries
        .iter()
        .filter(fits)
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.variant == platform.variant)
        })
        .or_else(|| entries.iter().find(fits))
        .ok_or_else(|| RegistryError::NoPlatform(platform.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: &str, digest: char) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: format!("sha256:{}", digest.to_string().repeat(64)),
            size: 1,
            urls: vec![],
            platform: Some(Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.into(),
            }),
        }
    }

    #[test]
    fn platforms() {
        let entries = vec![
            entry("linux", "arm", "v6", 'a'),
            entry("linux", "arm", "v7", 'b'),
            entry("linux", "amd64", "", 'c'),
            entry("linux", "arm64", "v8", 'd'),
            entry("windows", "amd64", "", 'e'),
        ];
        for (p, want) in [
            ("linux/amd64", 'c'),
            ("linux/arm/v7", 'b'),
            // containerd reads a bare arm as arm/v7
            ("linux/arm", 'b'),
            ("linux/arm64", 'd'),
            ("linux/aarch64", 'd'),
            ("windows/amd64", 'e'),
        ] {
            let got = select(&entries, &Platform::parse(p).unwrap()).unwrap();
            assert!(got.digest.ends_with(want), "{p}: {}", got.digest);
        }
        let err = select(&entries, &Platform::parse("linux/s390x").unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no matching manifest for linux/s390x in the manifest list entries"
        );
        assert!(Platform::parse("linux//x").is_err());
    }

    #[test]
    fn platform_words_as_containerd_reads_them() {
        let host = Platform::host();
        for (s, want) in [
            ("linux", format!("linux/{}", host)[6..].to_string()),
            ("arm64", "linux/arm64".to_string()),
            ("x86_64", "linux/amd64".to_string()),
            ("linux/armhf", "linux/arm/v7".to_string()),
            ("linux/arm64/8", "linux/arm64/v8".to_string()),
            ("Windows/AMD64", "windows/amd64".to_string()),
        ] {
            let got = Platform::parse(s).unwrap().to_string();
            let want = if s == "linux" { host.to_string() } else { want };
            assert_eq!(got, want, "{s}");
        }
        for (s, err) in [
            (
                "foobar",
                r#""foobar": unknown operating system or architecture: invalid argument"#,
            ),
            (
                "linux//x",
                r#""" is an invalid component of "linux//x": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument"#,
            ),
            (
                "a/b/c/d",
                r#""a/b/c/d": cannot parse platform specifier: invalid argument"#,
            ),
            (
                "linux/*",
                r#""linux/*": wildcards not yet supported: invalid argument"#,
            ),
        ] {
            assert_eq!(Platform::parse(s).unwrap_err().to_string(), err);
        }
    }

    #[test]
    fn media_types() {
        let d = "sha256:".to_string() + &"a".repeat(64);
        let image = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"{d}","size":1}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{d}","size":2}}]}}"#
        );
        assert!(matches!(
            parse(image.as_bytes(), OCI_MANIFEST).unwrap(),
            Parsed::Image { .. }
        ));
        assert!(matches!(
            parse(image.as_bytes(), "application/json").unwrap(),
            Parsed::Image { .. }
        ));
        let err = parse(image.as_bytes(), "application/vnd.foo").unwrap_err();
        assert!(
            err.to_string().contains("unsupported manifest media type"),
            "{err}"
        );
        let bad_layer = image.replace("v1.tar+gzip", "v1.tar+lz4");
        assert!(parse(bad_layer.as_bytes(), OCI_MANIFEST).is_err());
        let index = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse(index.as_bytes(), "").unwrap(),
            Parsed::Index(_)
        ));
        assert!(parse(b"{}", DOCKER_SCHEMA1).is_err());
    }
}
