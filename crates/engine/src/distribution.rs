//! What a registry says about an image without pulling it:
//! `GET /distribution/{name}/json` (the manifest's descriptor and the
//! platforms it serves, moby `api/server/router/distribution`) and
//! `GET /images/search` (the index's v1 search).

use serde_json::{json, Value};
use store::reference::Reference;

use crate::pull::registry_error;
use crate::{Engine, EngineError, ErrorKind};

/// Docker's most search results (and its default).
pub const MAX_SEARCH_LIMIT: u32 = 100;
/// Results when the client asks no limit.
pub const DEFAULT_SEARCH_LIMIT: u32 = 25;

/// A platform in Docker's (OCI's) JSON: empty fields left out.
fn platform_json(os: &str, arch: &str, variant: &str, os_version: &str) -> Value {
    let mut p = json!({"architecture": arch, "os": os});
    if !variant.is_empty() {
        p["variant"] = json!(variant);
    }
    if !os_version.is_empty() {
        p["os.version"] = json!(os_version);
    }
    p
}

impl Engine {
    /// The descriptor of what `reference` names at its registry (an index
    /// or an image manifest) and the platforms it has: an index's entries,
    /// or an image's config's os and architecture.
    pub async fn distribution_inspect(
        &self,
        client: &registry::Client,
        reference: Reference,
        credentials: registry::Credentials,
    ) -> Result<Value, EngineError> {
        let reference = reference.with_default_tag();
        let err = |e| registry_error(e, &reference);
        let session = client.session(&reference, credentials).await.map_err(err)?;
        let want = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let (bytes, digest, header) = session.manifest(&want).await.map_err(err)?;
        // The document's own media type where the header is vague.
        let doc: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let media = doc["mediaType"]
            .as_str()
            .filter(|m| !m.is_empty())
            .map(String::from)
            .unwrap_or_else(|| header.split(';').next().unwrap_or("").trim().to_string());
        let platforms = match registry::manifest::parse(&bytes, &header).map_err(err)? {
            registry::manifest::Parsed::Index(entries) => entries
                .iter()
                .filter_map(|e| e.platform.as_ref())
                .map(|p| platform_json(&p.os, &p.architecture, &p.variant, ""))
                .collect::<Vec<_>>(),
            registry::manifest::Parsed::Image { config, .. } => {
                let bytes = session
                    .blob_bytes(&config, registry::session::MAX_CONFIG)
                    .await
                    .map_err(err)?;
                let cfg: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    EngineError::new(
                        ErrorKind::InvalidArgument,
                        format!("invalid image config: {e}"),
                    )
                })?;
                let s = |k: &str| cfg[k].as_str().unwrap_or("").to_string();
                vec![platform_json(
                    &s("os"),
                    &s("architecture"),
                    &s("variant"),
                    &s("os.version"),
                )]
            }
        };
        Ok(json!({
            "Descriptor": {"mediaType": media, "digest": digest, "size": bytes.len()},
            "Platforms": platforms,
        }))
    }

    /// `docker search TERM`: the index's results, at most `limit`, those
    /// the filters keep (`stars=N`, `is-official`, `is-automated`).
    pub async fn image_search(
        &self,
        client: &registry::Client,
        term: &str,
        limit: u32,
        filters: &crate::filters::Filters,
        credentials: registry::Credentials,
    ) -> Result<Vec<Value>, EngineError> {
        // moby's `acceptedSearchFilterTags` and its checks.
        filters.validate(&["is-automated", "is-official", "stars"])?;
        let automated = filters
            .contains("is-automated")
            .then(|| filters.bool_or("is-automated", false))
            .transpose()?;
        let official = filters
            .contains("is-official")
            .then(|| filters.bool_or("is-official", false))
            .transpose()?;
        let mut stars = 0i64;
        for s in filters.get("stars") {
            let n = s.parse::<i64>().map_err(|_| {
                EngineError::new(
                    ErrorKind::InvalidArgument,
                    format!("invalid filter 'stars={s}'"),
                )
            })?;
            stars = stars.max(n);
        }
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            return Err(EngineError::new(
                ErrorKind::InvalidArgument,
                format!("limit {limit} is outside the range of [1, {MAX_SEARCH_LIMIT}]"),
            ));
        }
        let (domain, remote) = registry::search::split_term(term);
        let results =
            registry::search::search(client.config(), &domain, &remote, limit, &credentials)
                .await
                .map_err(|e| {
                    // dockerd answers a failed search with a 500 and the error.
                    EngineError::new(ErrorKind::System, e.to_string())
                })?;
        Ok(results
            .into_iter()
            .filter(|r| {
                automated.is_none_or(|a| a == r.is_automated)
                    && official.is_none_or(|o| o == r.is_official)
                    && r.star_count >= stars
            })
            .take(limit as usize)
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect())
    }
}
