//! What a registry says about an image without pulling it:
//! `GET /distribution/{name}/json` (the manifest's descriptor and the
//! platforms it serves, moby `api/server/router/distribution`) and
//! `GET /images/search` (the index's v1 search).

use models::image::DistributionInspect;
use models::oci::{Descriptor, ImageConfig, Platform};
use store::reference::Reference;

use crate::images::ImageError;
use crate::pull::registry_error;
use crate::{Engine, EngineError};

/// Docker's most search results (and its default).
pub const MAX_SEARCH_LIMIT: u32 = 100;
/// Results when the client asks no limit.
pub const DEFAULT_SEARCH_LIMIT: u32 = 25;

/// A platform in Docker's (OCI's) JSON: empty fields left out.
fn platform(os: &str, arch: &str, variant: &str, os_version: &str) -> Platform {
    Platform {
        architecture: arch.into(),
        os: os.into(),
        variant: variant.into(),
        os_version: os_version.into(),
        ..Default::default()
    }
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
    ) -> Result<DistributionInspect, EngineError> {
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
        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct Doc {
            media_type: String,
        }
        let doc: Doc = serde_json::from_slice(&bytes).unwrap_or_default();
        let media = Some(doc.media_type)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| header.split(';').next().unwrap_or("").trim().to_string());
        let platforms = match registry::manifest::parse(&bytes, &header).map_err(err)? {
            registry::manifest::Parsed::Index(entries) => entries
                .iter()
                .filter_map(|e| e.platform.as_ref())
                .map(|p| platform(&p.os, &p.architecture, &p.variant, ""))
                .collect::<Vec<_>>(),
            registry::manifest::Parsed::Image { config, .. } => {
                let bytes = session
                    .blob_bytes(&config, registry::session::MAX_CONFIG)
                    .await
                    .map_err(err)?;
                let cfg: ImageConfig = models::de::from_slice(&bytes)
                    .map_err(|e| ImageError::Invalid(format!("invalid image config: {e}")))?;
                vec![platform(
                    &cfg.os,
                    &cfg.architecture,
                    cfg.variant.as_deref().unwrap_or(""),
                    &cfg.os_version,
                )]
            }
        };
        Ok(DistributionInspect {
            descriptor: Descriptor {
                media_type: media,
                digest,
                size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                ..Default::default()
            },
            platforms,
        })
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
    ) -> Result<Vec<registry::search::SearchResult>, EngineError> {
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
            let n = s
                .parse::<i64>()
                .map_err(|_| ImageError::Invalid(format!("invalid filter 'stars={s}'")))?;
            stars = stars.max(n);
        }
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            return Err(ImageError::Invalid(format!(
                "limit {limit} is outside the range of [1, {MAX_SEARCH_LIMIT}]"
            ))
            .into());
        }
        let (domain, remote) = registry::search::split_term(term);
        let results =
            registry::search::search(client.config(), &domain, &remote, limit, &credentials)
                .await
                .map_err(|e| {
                    // dockerd answers a failed search with a 500 and the error.
                    ImageError::sys(e)
                })?;
        Ok(results
            .into_iter()
            .filter(|r| {
                automated.is_none_or(|a| a == r.is_automated)
                    && official.is_none_or(|o| o == r.is_official)
                    && r.star_count >= stars
            })
            .take(limit as usize)
            .collect())
    }
}
