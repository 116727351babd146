//! Where a stage stands, and the expansion of its variables in instructions.

use std::collections::BTreeMap;

use build::Command;
use store::config::ImageConfig;
use store::meta::ImageRecord;

use super::BuildError;
use crate::EngineError;

/// Where a stage stands: its image so far (none for `scratch` before the
/// first step) and the config its next step starts from.
pub(super) struct StageState {
    pub(super) image: Option<ImageRecord>,
    pub(super) config: ImageConfig,
    /// ARGs declared in the stage, with their values.
    pub(super) args: BTreeMap<String, String>,
    /// Whether CMD was set in this stage (ENTRYPOINT resets an inherited one).
    pub(super) cmd_set: bool,
}

impl StageState {
    pub(super) fn chain(&self) -> Vec<String> {
        self.image
            .as_ref()
            .map(|i| store::config::chain_ids(&i.diff_ids))
            .unwrap_or_default()
    }

    pub(super) fn parent_key(&self) -> String {
        self.image
            .as_ref()
            .map_or_else(|| "scratch".to_string(), |i| i.id.clone())
    }

    /// Variables for expansion: the stage's ARGs, overridden by its ENV.
    pub(super) fn vars(&self) -> BTreeMap<String, String> {
        let mut v = self.args.clone();
        for e in &self.config.config.env {
            if let Some((k, val)) = e.split_once('=') {
                v.insert(k.to_string(), val.to_string());
            }
        }
        v
    }

    pub(super) fn shell(&self) -> Vec<String> {
        if self.config.config.shell.is_empty() {
            vec!["/bin/sh".into(), "-c".into()]
        } else {
            self.config.config.shell.clone()
        }
    }

    pub(super) fn set_env(&mut self, key: &str, value: &str) {
        let env = &mut self.config.config.env;
        let entry = format!("{key}={value}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map(|(k, _)| k) == Some(key))
        {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
    }
}

/// Expands a word with `vars`.
pub(super) fn expand(
    word: &str,
    escape: char,
    vars: &BTreeMap<String, String>,
) -> Result<String, EngineError> {
    build::expand(word, escape, &|k| vars.get(k).cloned())
        .map_err(|e| BuildError::Invalid(e.to_string()))
        .map_err(EngineError::from)
}

/// Docker's `shell.Lex` words of `text` with `vars`.
pub(super) fn expand_words(
    text: &str,
    escape: char,
    vars: &BTreeMap<String, String>,
) -> Result<Vec<String>, EngineError> {
    build::expand_words(text, escape, &|k| vars.get(k).cloned())
        .map_err(|e| BuildError::Invalid(e.to_string()))
        .map_err(EngineError::from)
}

/// A command's argv: exec form as is, shell form through the shell.
pub(super) fn argv(shell: &[String], c: &Command) -> Vec<String> {
    match c {
        Command::Exec(v) => v.clone(),
        Command::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            v
        }
    }
}
