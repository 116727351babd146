//! The build cache: a step's key to the image it made.

use store::meta::ImageRecord;
use store::meta::Table;

use super::*;
use crate::{Engine, EngineError};

impl Engine {
    /// `POST /build/prune`: forgets every cached step (the images stay
    /// until pruned); returns the keys dropped.
    pub fn build_cache_prune(&self) -> Result<Vec<String>, EngineError> {
        let keys: Vec<String> = self.store().meta().keys(Table::BuildCache)?;
        self.store().meta().write(|w| {
            for k in &keys {
                w.delete(Table::BuildCache, k)?;
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(keys)
    }

    /// A cached image for `key`, if it is still there (and, with
    /// `--cache-from`, one of those images or below one).
    pub(super) fn cached(&self, key: &str, o: &BuildOptions) -> Option<ImageRecord> {
        if o.no_cache {
            return None;
        }
        let id: String = self.store().meta().get(Table::BuildCache, key).ok()??;
        // Resolved at each hit: the images may change during a build,
        // and a hit is rare enough that a walk of parents costs nothing.
        if !o.cache_from.is_empty() && !self.cache_sources(&o.cache_from).contains(&id) {
            return None;
        }
        self.store().meta().image(&id).ok()?
    }

    /// The ids of `names` (those that resolve) and of every image below
    /// them, following the parents recorded at build and commit.
    pub(super) fn cache_sources(&self, names: &[String]) -> std::collections::HashSet<String> {
        let mut out = std::collections::HashSet::new();
        for name in names {
            let Ok(mut img) = store::images::find(self.store().meta(), name) else {
                continue;
            };
            // Bounded: a parent chain is as long as an image's history.
            for _ in 0..4096 {
                if !out.insert(img.id.clone()) {
                    break;
                }
                let Some(parent) = img.parent.clone() else {
                    break;
                };
                match self.store().meta().image(&parent) {
                    Ok(Some(p)) => img = p,
                    _ => break,
                }
            }
        }
        out
    }

    pub(super) fn remember(&self, key: &str, image: &ImageRecord) -> Result<(), EngineError> {
        self.store()
            .meta()
            .write(|w| w.put(Table::BuildCache, key, &image.id))?;
        Ok(())
    }
}
