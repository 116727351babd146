//! The CRI's `ImageService` on the engine's store and registry client:
//! List, Status (with `verbose`), Pull (with auth), Remove, ImageFsInfo.
//! Images are named as containerd's CRI plugin names them: full references
//! (`docker.io/library/busybox:latest`), ids `sha256:<hex>`.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use store::meta::ImageRecord;
use store::reference::Reference;

use crate::api;
use crate::error::{CriError, Result};

/// An image in the CRI's shape.
pub fn to_cri(engine: &engine::Engine, img: &ImageRecord) -> Result<api::Image> {
    let store = engine.store();
    let tags = store::images::tags_of(store.meta(), &img.id).map_err(engine::EngineError::from)?;
    let digests = img
        .repo_digests
        .iter()
        .map(|d| {
            Reference::parse(d)
                .map(|r| r.to_string())
                .unwrap_or_else(|_| d.clone())
        })
        .collect();
    let cfg = store.config(img)?;
    // The image's user decides uid/username, as containerd reports them.
    let user = cfg.config.user.split(':').next().unwrap_or("").to_string();
    let (uid, username) = match user.parse::<i64>() {
        Ok(n) => (Some(api::Int64Value { value: n }), String::new()),
        Err(_) if user.is_empty() => (None, String::new()),
        Err(_) => (None, user),
    };
    Ok(api::Image {
        id: img.id.clone(),
        repo_tags: tags,
        repo_digests: digests,
        size: store.size(img)?,
        uid,
        username,
        spec: Some(api::ImageSpec {
            image: img.id.clone(),
            annotations: HashMap::new(),
        }),
        pinned: false,
    })
}

/// The image a CRI reference names: by id (or its prefix), by tag or by
/// digest; `None` when there is none.
pub fn lookup(engine: &engine::Engine, name: &str) -> Result<Option<ImageRecord>> {
    match store::images::find(engine.store().meta(), name) {
        Ok(img) => Ok(Some(img)),
        Err(store::images::ImageError::NotFound(_)) => Ok(None),
        Err(e) => Err(engine::EngineError::from(e).into()),
    }
}

/// `ListImages`, narrowed to the filter's image when it names one.
pub fn list(engine: &engine::Engine, filter: Option<&api::ImageFilter>) -> Result<Vec<api::Image>> {
    let wanted = filter
        .and_then(|f| f.image.as_ref())
        .map(|s| s.image.as_str())
        .filter(|s| !s.is_empty());
    if let Some(name) = wanted {
        return Ok(match lookup(engine, name)? {
            Some(img) => vec![to_cri(engine, &img)?],
            None => Vec::new(),
        });
    }
    let mut images = engine.store().meta().images()?;
    images.sort_by(|a, b| a.id.cmp(&b.id));
    images.iter().map(|i| to_cri(engine, i)).collect()
}

/// `ImageStatus`: the image, or none; with `verbose`, its config as `info`.
pub fn status(
    engine: &engine::Engine,
    spec: Option<&api::ImageSpec>,
    verbose: bool,
) -> Result<api::ImageStatusResponse> {
    let name = spec.map(|s| s.image.as_str()).unwrap_or("");
    if name.is_empty() {
        return Err(CriError::invalid("image spec must not be empty"));
    }
    let Some(img) = lookup(engine, name)? else {
        return Ok(api::ImageStatusResponse::default());
    };
    let mut info = HashMap::new();
    if verbose {
        let cfg = engine.store().config(&img)?;
        let v = serde_json::json!({
            "id": img.id,
            "chainID": img.top_layer,
            "imageSpec": serde_json::to_value(&cfg).unwrap_or_default(),
        });
        info.insert("info".to_string(), v.to_string());
    }
    Ok(api::ImageStatusResponse {
        image: Some(to_cri(engine, &img)?),
        info,
    })
}

/// The registry credentials of a CRI `AuthConfig` (`auth` is base64
/// `user:password`, as in docker's config.json).
pub fn credentials(auth: Option<&api::AuthConfig>) -> registry::Credentials {
    let mut c = registry::Credentials::default();
    let Some(a) = auth else { return c };
    c.username = a.username.clone();
    c.password = a.password.clone();
    if !a.auth.is_empty() {
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(a.auth.trim()) {
            if let Some((u, p)) = String::from_utf8_lossy(&raw).split_once(':') {
                c.username = u.to_string();
                c.password = p.to_string();
            }
        }
    }
    c.identity_token = a.identity_token.clone();
    c.registry_token = a.registry_token.clone();
    c.server_address = a.server_address.clone();
    c
}

/// `PullImage`: the image's id once it is in the store.
pub async fn pull(
    engine: &Arc<engine::Engine>,
    client: &registry::Client,
    spec: Option<&api::ImageSpec>,
    auth: Option<&api::AuthConfig>,
) -> Result<String> {
    let name = spec.map(|s| s.image.as_str()).unwrap_or("");
    let reference = Reference::parse(name)
        .map_err(|e| CriError::invalid(format!("invalid image reference {name:?}: {e}")))?;
    let pull = engine
        .pull_prepare(
            client,
            reference,
            &registry::Platform::host(),
            credentials(auth),
        )
        .await?;
    let sink: engine::pull::Sink = Arc::new(|_| {});
    Ok(pull.run(sink).await?)
}

/// `RemoveImage`: every tag of the image goes, then the image; removing
/// one that is not there succeeds (the CRI's rule).
pub fn remove(engine: &engine::Engine, spec: Option<&api::ImageSpec>) -> Result<()> {
    let name = spec.map(|s| s.image.as_str()).unwrap_or("");
    if name.is_empty() {
        return Err(CriError::invalid("image spec must not be empty"));
    }
    let Some(img) = lookup(engine, name)? else {
        return Ok(());
    };
    match engine.image_remove(&img.id, true, false) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == engine::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `ImageFsInfo`: the bytes and inodes of the unpacked layers, on the
/// filesystem of the image store.
pub fn fs_info(
    engine: &engine::Engine,
    root: &std::path::Path,
) -> Result<api::ImageFsInfoResponse> {
    let layers = engine.store().meta().layers()?;
    let used: u64 = layers.iter().map(|l| l.size).sum();
    Ok(api::ImageFsInfoResponse {
        image_filesystems: vec![api::FilesystemUsage {
            timestamp: crate::time::now_ns(),
            fs_id: Some(api::FilesystemIdentifier {
                mountpoint: root.display().to_string(),
            }),
            used_bytes: Some(api::UInt64Value { value: used }),
            inodes_used: Some(api::UInt64Value {
                value: layers.len() as u64,
            }),
        }],
    })
}
