//! One Dockerfile instruction: the metadata ones, and the dispatch to `RUN` and `COPY`.

use std::os::fd::OwnedFd;
use std::path::Path;

use build::{Command, Kind};
use models::container::HealthConfig;
use store::config::{History, ImageConfig};
use store::meta::ImageRecord;

use super::*;
use crate::{Engine, EngineError};

impl Engine {
    /// A metadata step's image: the stage's config over the same layers.
    pub(super) fn commit_config(
        &self,
        st: &mut StageState,
        sig: &str,
        cache: Option<&BuildOptions>,
    ) -> Result<ImageRecord, EngineError> {
        let key = hex(format!("{}\n{sig}", st.parent_key()).as_bytes());
        if let (false, Some(o)) = (sig.is_empty(), cache) {
            if let Some(img) = self.cached(&key, o) {
                st.config = self.store().config(&img)?;
                st.image = Some(img.clone());
                return Ok(img);
            }
        }
        let _w = self.writing();
        let mut config = st.config.clone();
        let now = crate::time::now();
        config.created = Some(now.clone());
        if !sig.is_empty() {
            config.history.push(History {
                created: now,
                created_by: format!("/bin/sh -c #(nop)  {sig}"),
                empty_layer: true,
                ..Default::default()
            });
        }
        let parent = st.image.as_ref().map(|i| i.id.clone());
        step_container_config(
            &mut config,
            parent.as_deref(),
            &format!("/bin/sh -c #(nop)  {sig}"),
        );
        let img = self
            .store()
            .commit_step(&st.chain(), None, config.clone(), parent.as_deref())?;
        if !sig.is_empty() {
            self.remember(&key, &img)?;
        }
        st.config = config;
        st.image = Some(img.clone());
        Ok(img)
    }

    /// One instruction of a stage.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
        &self,
        st: &mut StageState,
        ins: &build::Instruction,
        escape: char,
        context: &Path,
        ctx_root: &OwnedFd,
        stages: &[build::Stage],
        done: &[ImageRecord],
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let vars = st.vars();
        let text = &ins.source.text;
        let cfg = &mut st.config.config;
        match &ins.kind {
            Kind::Env(pairs) => {
                let mut shown = Vec::new();
                let mut vars = vars;
                for (k, v) in pairs {
                    let k = expand(k, escape, &vars)?;
                    let v = expand(v, escape, &vars)?;
                    vars.insert(k.clone(), v.clone());
                    shown.push(format!("{k}={v}"));
                    st.set_env(&k, &v);
                }
                self.meta_step(st, &format!("ENV {}", shown.join(" ")), o, out)
            }
            Kind::Arg(decls) => {
                let sig = declare_args(st, decls, escape, o)?;
                self.meta_step(st, &sig, o, out)
            }
            Kind::Label(pairs) => {
                let sig = label_step(cfg, pairs, escape, &vars)?;
                self.meta_step(st, &sig, o, out)
            }
            Kind::Expose(ports) => {
                let sig = expose_step(cfg, ports, escape, &vars)?;
                self.meta_step(st, &sig, o, out)
            }
            Kind::Volume(vols) => {
                let sig = volume_step(cfg, vols, escape, &vars)?;
                self.meta_step(st, &sig, o, out)
            }
            Kind::User(u) => {
                cfg.user = expand(u, escape, &vars)?;
                let sig = format!("USER {}", cfg.user);
                self.meta_step(st, &sig, o, out)
            }
            Kind::Workdir(w) => {
                let w = expand(w, escape, &vars)?;
                cfg.working_dir = join_workdir(&cfg.working_dir, &w);
                let sig = format!("WORKDIR {}", cfg.working_dir);
                self.meta_step(st, &sig, o, out)
            }
            Kind::Stopsignal(s) => {
                cfg.stop_signal = expand(s, escape, &vars)?;
                let sig = format!("STOPSIGNAL {}", cfg.stop_signal);
                self.meta_step(st, &sig, o, out)
            }
            Kind::Cmd(c) => {
                let shell = st.shell();
                st.config.config.cmd = Some(argv(&shell, c));
                st.cmd_set = true;
                let sig = format!(
                    "CMD {}",
                    serde_json::to_string(&st.config.config.cmd).unwrap_or_default()
                );
                self.meta_step(st, &sig, o, out)
            }
            Kind::Entrypoint(c) => {
                let shell = st.shell();
                let cfg = &mut st.config.config;
                cfg.entrypoint = Some(argv(&shell, c));
                if !st.cmd_set {
                    cfg.cmd = None;
                }
                let sig = format!(
                    "ENTRYPOINT {}",
                    serde_json::to_string(&cfg.entrypoint).unwrap_or_default()
                );
                self.meta_step(st, &sig, o, out)
            }
            Kind::Shell(s) => {
                cfg.shell = s.clone();
                let sig = format!("SHELL {}", serde_json::to_string(s).unwrap_or_default());
                self.meta_step(st, &sig, o, out)
            }
            Kind::Maintainer(m) => {
                st.config.author = Some(m.clone());
                self.meta_step(st, &format!("MAINTAINER {m}"), o, out)
            }
            Kind::Onbuild(inner) => {
                let t = inner.source.text.clone();
                cfg.on_build.push(t.clone());
                self.meta_step(st, &format!("ONBUILD {t}"), o, out)
            }
            Kind::Healthcheck(h) => {
                cfg.healthcheck = Some(health_config(h.as_ref())?);
                self.meta_step(st, text, o, out)
            }
            Kind::Run {
                flags,
                command,
                heredocs,
            } => {
                if let Some((f, _)) = flags.first() {
                    return Err(BuildError::Invalid(format!(
                        "RUN --{f} is not supported by the classic builder"
                    ))
                    .into());
                }
                self.run_step(st, command, heredocs, escape, o, out)
            }
            Kind::Copy(spec) => {
                self.copy_step(st, spec, escape, context, ctx_root, stages, done, o, out)
            }
        }
    }

    /// A step that changes only the config.
    pub(super) fn meta_step(
        &self,
        st: &mut StageState,
        sig: &str,
        o: &BuildOptions,
        out: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let before = st.image.as_ref().map(|i| i.id.clone());
        let key_parent = st.parent_key();
        let key = hex(format!("{key_parent}\n{sig}").as_bytes());
        if let Some(img) = self.cached(&key, o) {
            if before.as_deref() != Some(img.id.as_str()) {
                out(" ---> Using cache\n");
                out(&format!(" ---> {}\n", short(&img.id)));
                st.config = self.store().config(&img)?;
                st.image = Some(img);
                return Ok(());
            }
        }
        let img = self.commit_config(st, sig, None)?;
        self.remember(&key, &img)?;
        out(&format!(" ---> {}\n", short(&img.id)));
        Ok(())
    }
}

/// Records what dockerd 20.10's classic builder writes as a step's
/// `container_config`: the config the step ran with, its image the parent,
/// its command the step's own (`["/bin/sh", "-c", "#(nop) ", "CMD …"]` for a
/// metadata step or a copy, the shell command for a RUN). docker-compose
/// 1.29 reads an image's volumes from it (`ContainerConfig.Volumes`) to
/// hand a service's anonymous volumes on when it recreates a container;
/// without it the data under an image's `VOLUME` was lost.
pub(super) fn step_container_config(
    config: &mut ImageConfig,
    parent: Option<&str>,
    created_by: &str,
) {
    let mut cc = models::container::Config::from(&config.config);
    let shell = created_by
        .find("/bin/sh -c ")
        .map(|i| &created_by[i + 11..]);
    cc.cmd = Some(match shell {
        Some(rest) if rest.starts_with("#(nop) ") => vec![
            "/bin/sh".into(),
            "-c".into(),
            "#(nop) ".into(),
            rest["#(nop) ".len()..].trim_start().to_string(),
        ],
        Some(rest) => vec!["/bin/sh".into(), "-c".into(), rest.to_string()],
        None => vec!["/bin/sh".into(), "-c".into(), created_by.to_string()],
    });
    cc.image = parent.unwrap_or_default().to_string();
    config.container_config = Some(cc);
}

/// Go's `time.ParseDuration` in nanoseconds (`30s`, `1m30s`, `500ms`).
pub(super) fn go_duration_ns(s: &str) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)]
    build::duration::go_nanos(s).map(|n| n as i64)
}

/// `ARG`: each name takes its `--build-arg` value, else its default
/// (expanded), else stays unset. Returns the step's text.
fn declare_args(
    st: &mut StageState,
    decls: &[build::ArgDecl],
    escape: char,
    o: &BuildOptions,
) -> Result<String, EngineError> {
    let mut shown = Vec::new();
    for a in decls {
        let value = match o.build_args.get(&a.name) {
            Some(Some(v)) => Some(v.clone()),
            _ => match &a.default {
                Some(d) => Some(expand(d, escape, &st.vars())?),
                None => None,
            },
        };
        shown.push(match &a.default {
            Some(d) => format!("{}={d}", a.name),
            None => a.name.clone(),
        });
        if let Some(v) = value {
            st.args.insert(a.name.clone(), v);
        }
    }
    Ok(format!("ARG {}", shown.join(" ")))
}

/// `WORKDIR`: a relative directory is under the current one; the result
/// cleaned and absolute.
fn join_workdir(current: &str, w: &str) -> String {
    let joined = if w.starts_with('/') {
        w.to_string()
    } else {
        let base = if current.is_empty() { "/" } else { current };
        format!("{}/{w}", base.trim_end_matches('/'))
    };
    format!("/{}", clean_rel(&joined))
}

/// `HEALTHCHECK`'s config: `NONE`, or the test with its durations (Go's
/// syntax) and retries.
fn health_config(h: Option<&build::Healthcheck>) -> Result<HealthConfig, EngineError> {
    let Some(h) = h else {
        return Ok(HealthConfig {
            test: vec!["NONE".into()],
            ..HealthConfig::default()
        });
    };
    let test = match &h.command {
        Command::Exec(v) => {
            let mut t = vec!["CMD".to_string()];
            t.extend(v.iter().cloned());
            t
        }
        Command::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
    };
    let mut v = HealthConfig {
        test,
        ..HealthConfig::default()
    };
    for (k, val) in &h.flags {
        let field = match k.as_str() {
            "interval" => &mut v.interval,
            "timeout" => &mut v.timeout,
            "start-period" => &mut v.start_period,
            "start-interval" => &mut v.start_interval,
            "retries" => {
                v.retries = val.parse::<i64>().map_err(|_| {
                    BuildError::Invalid(format!("HEALTHCHECK --retries: {val:?} is not a number"))
                })?;
                continue;
            }
            other => {
                return Err(
                    BuildError::Invalid(format!("HEALTHCHECK: unknown flag --{other}")).into(),
                )
            }
        };
        *field = go_duration_ns(val).ok_or_else(|| {
            BuildError::Invalid(format!("HEALTHCHECK --{k}: invalid duration {val:?}"))
        })?;
    }
    Ok(v)
}

/// `LABEL`: the pairs, expanded, into the config. Returns the step's text.
fn label_step(
    cfg: &mut store::config::RunConfig,
    pairs: &[(String, String)],
    escape: char,
    vars: &BTreeMap<String, String>,
) -> Result<String, EngineError> {
    let mut shown = Vec::new();
    for (k, v) in pairs {
        let k = expand(k, escape, vars)?;
        let v = expand(v, escape, vars)?;
        shown.push(format!("{k}={v}"));
        cfg.labels.insert(k, v);
    }
    Ok(format!("LABEL {}", shown.join(" ")))
}

/// `EXPOSE`: each port (`tcp` when no protocol is named) into the config.
fn expose_step(
    cfg: &mut store::config::RunConfig,
    ports: &[String],
    escape: char,
    vars: &BTreeMap<String, String>,
) -> Result<String, EngineError> {
    let mut shown = Vec::new();
    for p in ports {
        for p in expand_words(p, escape, vars)? {
            let p = if p.contains('/') {
                p
            } else {
                format!("{p}/tcp")
            };
            shown.push(p.clone());
            cfg.exposed_ports.insert(p, models::Empty {});
        }
    }
    Ok(format!("EXPOSE {}", shown.join(" ")))
}

/// `VOLUME`: each path into the config; an empty one refused in Docker's
/// words.
fn volume_step(
    cfg: &mut store::config::RunConfig,
    vols: &[String],
    escape: char,
    vars: &BTreeMap<String, String>,
) -> Result<String, EngineError> {
    let mut shown = Vec::new();
    for v in vols {
        let v = expand(v, escape, vars)?;
        if v.is_empty() {
            return Err(
                BuildError::Invalid("VOLUME specified can not be an empty string".into()).into(),
            );
        }
        shown.push(v.clone());
        cfg.volumes.insert(v, models::Empty {});
    }
    Ok(format!("VOLUME [{}]", shown.join(" ")))
}
