//! `POST /build`: Docker's classic builder. A Dockerfile (parsed by the
//! `build` crate) is run step by step over a build context already
//! extracted into a directory: every step makes an image (metadata steps
//! without a layer), `RUN` in a container of the previous step's image,
//! committed; `COPY`/`ADD` written into an overlay of the previous step and
//! committed without any container. Each step's image is remembered in the
//! build cache under a key of its parent, its resolved instruction and, for
//! `COPY`/`ADD`, the content copied (not mtimes): a cached step starts
//! nothing.

mod cache;
mod context;
mod copy;
mod error;
mod run;
mod sources;
mod stage;
mod step;

pub use context::extract_context;
use context::*;
use copy::*;
pub use error::BuildError;
use sources::*;
use stage::*;
use step::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use store::meta::ImageRecord;

use crate::{Engine, EngineError};

/// What `POST /build` asks for besides the context.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's path in the context (`Dockerfile`).
    pub dockerfile: String,
    /// `-t` names.
    pub tags: Vec<String>,
    /// `--build-arg` (a name alone takes its value from nowhere: unset).
    pub build_args: BTreeMap<String, Option<String>>,
    /// `--label`s added to the final image.
    pub labels: BTreeMap<String, String>,
    /// `--target` stage.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// Remove intermediate containers after a successful step (`--rm`).
    pub remove: bool,
    /// `--force-rm` (a failed step's container is always removed).
    pub force_remove: bool,
    /// `--cache-from`: when given, a cached step counts only if its image
    /// is one of these images or below one (Docker's classic builder);
    /// names that do not resolve are ignored, so none left means no cache.
    pub cache_from: Vec<String>,
    /// `--network` of the `RUN` containers (`default`, `none`, `host`, a
    /// network's name or id).
    pub network_mode: String,
    /// `--add-host` entries (`host:ip`) of the `RUN` containers.
    pub extra_hosts: Vec<String>,
    /// The shim binary containers run under.
    pub shim: PathBuf,
}

/// What a build reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildEvent<'a> {
    /// Progress text (Docker's `{"stream": …}`): step lines, a `RUN`'s
    /// output (its stderr between `ESC[91m` and `ESC[0m`, as Docker's).
    Stream(&'a str),
    /// The final image's id, before the `Successfully built` line (Docker's
    /// `{"aux": {"ID": …}}`).
    Built(&'a str),
}

/// Largest Dockerfile read.
const MAX_DOCKERFILE: u64 = 4 << 20;

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

impl Engine {
    /// The images a build starts from (its stages' `FROM`s that are
    /// neither `scratch` nor an earlier stage), so that the daemon can
    /// pull them first (missing ones, or all with `--pull`).
    pub fn build_bases(
        &self,
        context: &Path,
        o: &BuildOptions,
    ) -> Result<Vec<String>, EngineError> {
        let ctx_root = open_root(context)?;
        let Plan { df, meta, last } = plan(&ctx_root, o)?;
        // Held for the whole build: its intermediate images are untagged
        // until the end, and a prune meanwhile must not collect their
        // layers from under the next step.
        let _w = self.writing();
        let mut out: Vec<String> = Vec::new();
        for (i, stage) in df.stages[..=last].iter().enumerate() {
            let base = expand(&stage.base, df.directives.escape, &meta)?;
            let lower = base.to_ascii_lowercase();
            let is_stage = df.stages[..i]
                .iter()
                .any(|s| s.name.as_deref() == Some(lower.as_str()));
            if base != "scratch" && !is_stage && !out.contains(&base) {
                out.push(base);
            }
        }
        Ok(out)
    }

    /// Builds the Dockerfile of the context at `context`; `events` gets the
    /// progress as Docker's classic builder writes it. Returns the final
    /// image's id. A `RUN` that exits non-zero fails the build with its
    /// code in the error (`EngineError::code`).
    pub fn build(
        &self,
        context: &Path,
        o: &BuildOptions,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<String, EngineError> {
        let ctx_root = open_root(context)?;
        let Plan { df, meta, last } = plan(&ctx_root, o)?;
        remove_ignored_dockerfile(&ctx_root, o)?;
        let mut stream = |s: &str| events(BuildEvent::Stream(s));
        let out: &mut dyn FnMut(&str) = &mut stream;
        // Held for the whole build: its intermediate images are untagged
        // until the end, and a prune meanwhile must not collect their
        // layers from under the next step.
        let _w = self.writing();
        let escape = df.directives.escape;
        let stages = &df.stages[..=last];
        let total: usize = stages.iter().map(|s| 1 + s.instructions.len()).sum();
        let mut step = 0;
        let mut done: Vec<ImageRecord> = Vec::new();
        let mut final_image: Option<ImageRecord> = None;
        for (si, stage) in stages.iter().enumerate() {
            step += 1;
            // dockerd writes the step and its newline as two messages.
            out(&format!("Step {step}/{total} : {}", stage.from.text));
            out("\n");
            let base = expand(&stage.base, escape, &meta)?;
            let mut st = self.base_state(&base, &stages[..si], &done, out)?;
            // The base's ONBUILD triggers run first, then are not inherited.
            let triggers = std::mem::take(&mut st.config.config.on_build);
            if !triggers.is_empty() {
                out(&format!(
                    "# Executing {} build trigger{}\n",
                    triggers.len(),
                    if triggers.len() == 1 { "" } else { "s" }
                ));
                for t in &triggers {
                    let parsed = build::parse(&format!("FROM scratch\n{t}\n"), "ONBUILD")
                        .map_err(|e| BuildError::Invalid(e.to_string()))?;
                    for ins in &parsed.stages[0].instructions {
                        self.step(
                            &mut st, ins, escape, context, &ctx_root, stages, &done, o, out,
                        )?;
                    }
                }
            }
            for ins in &stage.instructions {
                step += 1;
                out(&format!("Step {step}/{total} : {}", ins.source.text));
                out("\n");
                self.step(
                    &mut st, ins, escape, context, &ctx_root, stages, &done, o, out,
                )?;
            }
            // A stage without steps is its base (or an empty image).
            let image = match st.image.clone() {
                Some(i) => i,
                None => self.commit_config(&mut st, "", Some(o))?,
            };
            done.push(image.clone());
            final_image = Some(image);
        }
        let image = self.with_labels(final_image.expect("at least one stage"), o)?;
        events(BuildEvent::Built(&image.id));
        let out = &mut |s: &str| events(BuildEvent::Stream(s));
        out(&format!("Successfully built {}\n", short(&image.id)));
        self.tag_built(&image.id, &o.tags, out)?;
        Ok(image.id)
    }

    /// The state a stage starts from: `scratch` (an empty config), an
    /// earlier stage of this build by name, or an image of the store.
    fn base_state(
        &self,
        base: &str,
        earlier: &[build::Stage],
        done: &[ImageRecord],
        out: &mut dyn FnMut(&str),
    ) -> Result<StageState, EngineError> {
        Ok(if base == "scratch" {
            let mut config = store::config::new_config(&crate::time::now());
            config.config = Default::default();
            StageState {
                image: None,
                config,
                args: BTreeMap::new(),
                cmd_set: false,
            }
        } else {
            let image = match earlier
                .iter()
                .position(|s| s.name.as_deref() == Some(base.to_ascii_lowercase().as_str()))
            {
                Some(i) => done[i].clone(),
                None => store::images::find(self.store().meta(), base).map_err(|_| {
                    BuildError::NotFound(format!("pull access denied for {base}, repository does not exist or may require 'docker login'"))
                })?,
            };
            out(&format!(" ---> {}\n", short(&image.id)));
            StageState {
                config: self.store().config(&image)?,
                image: Some(image),
                args: BTreeMap::new(),
                cmd_set: false,
            }
        })
    }

    /// `--label`s: one more image on top of the last stage's with them.
    fn with_labels(
        &self,
        mut image: ImageRecord,
        o: &BuildOptions,
    ) -> Result<ImageRecord, EngineError> {
        if !o.labels.is_empty() {
            let mut st = StageState {
                config: self.store().config(&image)?,
                image: Some(image.clone()),
                args: BTreeMap::new(),
                cmd_set: true,
            };
            for (k, v) in &o.labels {
                st.config.config.labels.insert(k.clone(), v.clone());
            }
            let sig = format!("labels {:?}", o.labels);
            image = self.commit_config(&mut st, &sig, Some(o))?;
        }
        Ok(image)
    }

    /// `--tag`s: each name given to the image built, as Docker says it.
    fn tag_built(
        &self,
        id: &str,
        tags: &[String],
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        for t in tags {
            let r = store::reference::Reference::parse(t)
                .map_err(|e| BuildError::Invalid(format!("invalid tag {t:?}: {e}")))?
                .with_default_tag();
            self.store().meta().write(|w| w.tag(&r.to_string(), id))?;
            out(&format!(
                "Successfully tagged {}\n",
                crate::images::familiar(&r.to_string())
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(go_duration_ns("30s"), Some(30_000_000_000));
        assert_eq!(go_duration_ns("1m30s"), Some(90_000_000_000));
        assert_eq!(go_duration_ns("500ms"), Some(500_000_000));
        assert_eq!(go_duration_ns("5"), None);
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean_rel("../../etc/passwd"), "etc/passwd");
        assert_eq!(clean_rel("./a/./b/../c"), "a/c");
    }
}
