//! `RUN`: a container of the previous step's image, committed.

use std::time::Duration;

use build::Command;
use store::config::History;
use store::meta::ImageRecord;

use super::*;
use crate::container::record::State;
use crate::{Engine, EngineError};

impl Engine {
    /// `RUN`: a container of the current image runs the command; its
    /// changes become the step's layer.
    pub(super) fn run_step(
        &self,
        st: &mut StageState,
        command: &Command,
        heredocs: &[build::Heredoc],
        escape: char,
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let shell = st.shell();
        let cmd = run_command(&shell, command, heredocs, escape, &st.vars());
        let (env, used_args) = run_env(st, o);
        let created_by = if used_args.is_empty() {
            cmd.join(" ")
        } else {
            format!(
                "|{} {} {}",
                used_args.len(),
                used_args.join(" "),
                cmd.join(" ")
            )
        };
        let key = hex(format!(
            "{}\nRUN {}",
            st.parent_key(),
            serde_json::to_string(&(
                &cmd,
                &used_args,
                &st.config.config.user,
                &st.config.config.working_dir
            ))
            .unwrap_or_default()
        )
        .as_bytes());
        if let Some(img) = self.cached(&key, o) {
            out(" ---> Using cache\n");
            out(&format!(" ---> {}\n", short(&img.id)));
            st.config = self.store().config(&img)?;
            st.image = Some(img);
            return Ok(());
        }
        let Some(image) = st.image.clone() else {
            return Err(BuildError::Invalid(format!(
                "The command '{}' cannot run: the stage has no files (FROM scratch)",
                cmd.join(" ")
            ))
            .into());
        };
        let body = models::container::CreateBody {
            config: models::container::Config {
                image: image.id.clone(),
                cmd: Some(cmd.clone()),
                entrypoint: Some(Vec::new()),
                env: Some(env),
                user: st.config.config.user.clone(),
                working_dir: st.config.config.working_dir.clone(),
                labels: Some(Default::default()),
                ..Default::default()
            },
            host_config: models::container::HostConfig {
                network_mode: o.network_mode.clone(),
                extra_hosts: Some(o.extra_hosts.clone()).filter(|h| !h.is_empty()),
                ..Default::default()
            },
            ..Default::default()
        };
        let id = self.container_create(None, body, crate::time::now())?;
        out(&format!(" ---> Running in {}\n", &id[..12]));
        let result = self.run_and_commit(st, &id, &image, &created_by, o, out);
        // A failed step's container goes too: its output was streamed and
        // its exit code is in the error; nothing dangles.
        let remove = match &result {
            Ok(_) => o.remove || o.force_remove,
            Err(_) => true,
        };
        if remove {
            if let Err(e) = self.container_remove(&id, true, true) {
                tracing::warn!("removing intermediate container {id}: {e}");
            }
            if result.is_ok() {
                out(&format!("Removing intermediate container {}\n", &id[..12]));
            }
        }
        let img = result?;
        self.remember(&key, &img)?;
        out(&format!(" ---> {}\n", short(&img.id)));
        Ok(())
    }

    pub(super) fn run_and_commit(
        &self,
        st: &mut StageState,
        id: &str,
        image: &ImageRecord,
        created_by: &str,
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<ImageRecord, EngineError> {
        self.container_start(id, &o.shim, crate::time::now(), 0)?;
        let c = self.find_container(id)?;
        let mut offset = 0;
        let code = loop {
            let state = self.state(&c);
            let (lines, next) = self.container_log(&c, offset);
            offset = next;
            for l in &lines {
                run_output(l, out);
            }
            if let State::Exited(code, _) = state {
                let (lines, _) = self.container_log(&c, offset);
                for l in &lines {
                    run_output(l, out);
                }
                break code;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.container_release(&c);
        if code != 0 {
            return Err(EngineError::from(BuildError::Invalid(format!(
                "The command '{created_by}' returned a non-zero code: {code}"
            )))
            .with_code(i64::from(code)));
        }
        let _w = self.writing();
        let mut config = st.config.clone();
        let now = crate::time::now();
        config.created = Some(now.clone());
        config.history.push(History {
            created: now,
            created_by: created_by.to_string(),
            ..Default::default()
        });
        step_container_config(&mut config, Some(&image.id), created_by);
        let img = self.store().commit_step(
            &c.layers,
            Some(&self.container_dir(id).join("upper")),
            config.clone(),
            Some(&image.id),
        )?;
        st.config = config;
        st.image = Some(img.clone());
        Ok(img)
    }
}

/// A `RUN`'s output line as a `stream` message: stderr between
/// `ESC[91m` and `ESC[0m`, as Docker's classic builder colours it.
pub(super) fn run_output(l: &crate::container::record::LogLine, out: &mut dyn FnMut(&str)) {
    let text = String::from_utf8_lossy(&l.data);
    if l.stream == 2 {
        out(&format!("\x1b[91m{text}\x1b[0m"));
    } else {
        out(&text);
    }
}

/// `RUN`'s argv: the exec form as written, the shell form through the
/// stage's shell; with here-documents, `RUN <<EOF` alone runs the body as
/// the script, else the shell reads them itself.
fn run_command(
    shell: &[String],
    command: &Command,
    heredocs: &[build::Heredoc],
    escape: char,
    vars: &BTreeMap<String, String>,
) -> Vec<String> {
    let shell = shell.to_vec();
    match command {
        Command::Shell(s) if !heredocs.is_empty() => {
            let trimmed = s.trim();
            // `RUN <<EOF` alone: the body is the script.
            if heredocs.len() == 1 && trimmed.starts_with("<<") && !trimmed.contains(' ') {
                let h = &heredocs[0];
                let body = if h.expand {
                    expand(&h.content, escape, vars).unwrap_or_else(|_| h.content.clone())
                } else {
                    h.content.clone()
                };
                let mut v = shell.clone();
                v.push(body);
                v
            } else {
                // The shell reads the here-documents itself.
                let mut script = s.clone();
                for h in heredocs {
                    script.push('\n');
                    script.push_str(&h.content);
                    if !h.content.ends_with('\n') && !h.content.is_empty() {
                        script.push('\n');
                    }
                    script.push_str(&h.name);
                }
                let mut v = shell.clone();
                v.push(script);
                v
            }
        }
        c => argv(&shell, c),
    }
}

/// `RUN`'s environment: the stage's, with the build args it does not set
/// (returned apart: they go into the history and the cache key), and
/// Docker's predefined proxy args given with `--build-arg`.
fn run_env(st: &StageState, o: &BuildOptions) -> (Vec<String>, Vec<String>) {
    // Build args are in the command's environment, not in the image.
    let mut env = st.config.config.env.clone();
    let mut used_args = Vec::new();
    for (k, v) in &st.args {
        if !env
            .iter()
            .any(|e| e.split_once('=').map(|(n, _)| n) == Some(k.as_str()))
        {
            env.push(format!("{k}={v}"));
            used_args.push(format!("{k}={v}"));
        }
    }
    // Docker's predefined proxy args need no ARG and stay out of the
    // history and the cache key.
    for k in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        if let Some(Some(v)) = o.build_args.get(k) {
            if !env
                .iter()
                .any(|e| e.split_once('=').map(|(n, _)| n) == Some(k))
            {
                env.push(format!("{k}={v}"));
            }
        }
    }
    (env, used_args)
}
