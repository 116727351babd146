//! Creating a container: names, the restart policy check, the platform check, rename.

use store::meta::Table;

use models::container::{CreateBody, HostConfig};

use super::*;
use crate::spec;
use crate::{Engine, EngineError};

pub(super) const ADJECTIVES: &[&str] = &[
    "admiring", "bold", "brave", "calm", "clever", "eager", "focused", "gentle", "happy", "jolly",
    "keen", "lucid", "nifty", "quirky", "serene", "sharp", "tender", "vigilant", "wizardly",
    "zealous",
];
pub(super) const NAMES: &[&str] = &[
    "babbage", "curie", "darwin", "euler", "fermi", "galileo", "hopper", "kepler", "lovelace",
    "maxwell", "newton", "noether", "pascal", "ritchie", "shannon", "tesla", "thompson", "turing",
    "wozniak", "yalow",
];

impl Engine {
    /// `POST /containers/create`.
    pub fn container_create(
        &self,
        name: Option<&str>,
        body: CreateBody,
        created: String,
    ) -> Result<String, EngineError> {
        self.container_create_warned(name, body, created)
            .map(|(id, _)| id)
    }

    /// `POST /containers/create`, with Docker's `Warnings`: what the host
    /// cannot apply and Docker drops with a warning (see `spec::resources`),
    /// and what the mounts warrant saying.
    pub fn container_create_warned(
        &self,
        name: Option<&str>,
        body: CreateBody,
        created: String,
    ) -> Result<(String, Vec<String>), EngineError> {
        let mut warnings = spec::check_create(&body)?;
        warnings.extend(crate::mounts::warnings(&body.host_config));
        let image_name = body.config.image.clone();
        if image_name.is_empty() {
            return Err(ContainerError::Invalid(
                "config cannot be empty in order to create a container".into(),
            )
            .into());
        }
        crate::logging::settings(&body.host_config.log_config)?;
        restart_policy_ok(&body.host_config)?;
        crate::mounts::parse_requested(&body.host_config)?;
        let mut body = body;
        spec::resources::adapt(&mut body.host_config, spec::support());
        self.network_prepare(&mut body)?;
        let _t = runtime::trace::span("engine create");
        let _w = self.writing();
        let image = store::images::find(self.store().meta(), &image_name)?;
        // Checks that the command resolves before anything is kept.
        let cfg = self.store().config(&image)?;
        spec::args(&cfg, &body.config)?;
        let id = random_hex(32);
        spec::merge(&cfg, &mut body, &id);
        let wanted = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = n.trim_start_matches('/');
                valid_name(n)?;
                // Early, so a refused create makes no volume; the check
                // that counts is the one in the record's transaction.
                if let Some(owner) = self
                    .store()
                    .meta()
                    .get::<String>(Table::ContainerNames, n)?
                {
                    return Err(name_conflict(n, &owner));
                }
                Some(n.to_string())
            }
            None => None,
        };
        // Volumes are made and the record written under the volumes lock:
        // no volume named here can be removed in between.
        let _vl = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mounts = self.resolve_mounts(&body, &created)?;
        crate::perms::private_dir(&self.containers_dir()).map_err(ContainerError::sys)?;
        crate::perms::private_dir(&self.container_dir(&id)).map_err(ContainerError::sys)?;
        runtime::trace::mark("create checked");
        let layers = store::config::chain_ids(&image.diff_ids);
        let mut rec = ContainerRecord {
            layers,
            id: id.clone(),
            name: String::new(),
            image: image.id,
            image_name,
            config: body,
            created,
            started: String::new(),
            mounts,
            ..Default::default()
        };
        // The name is checked in the transaction that records it: of two
        // creates with one name, the second sees the first's record.
        let recorded = self.store().meta().write(|w| {
            rec.name = match &wanted {
                Some(n) => match w.get::<String>(Table::ContainerNames, n)? {
                    Some(owner) => return Err(name_conflict(n, &owner)),
                    None => n.clone(),
                },
                None => loop {
                    let n = random_name();
                    if w.get::<String>(Table::ContainerNames, &n)?.is_none() {
                        break n;
                    }
                },
            };
            w.put(Table::Containers, &id, &rec)?;
            w.put(Table::ContainerNames, &rec.name, &id)?;
            Ok::<_, EngineError>(())
        });
        if let Err(e) = recorded {
            for m in rec
                .mounts
                .iter()
                .filter(|m| m.typ == "volume" && m.anonymous)
            {
                crate::error::ignore(
                    format_args!("remove volume {} of a failed create", m.name),
                    self.remove_volume_locked(&m.name, true),
                );
            }
            crate::error::ignore(
                format_args!("remove the directory of failed create {id}"),
                std::fs::remove_dir_all(self.container_dir(&id)),
            );
            return Err(e);
        }
        Ok((id, warnings))
    }

    /// `?platform=` of a create: the image must be of that platform
    /// (dockerd's 404 otherwise; the docker CLI then tries a pull).
    pub fn check_platform(&self, image: &str, platform: &str) -> Result<(), EngineError> {
        if platform.is_empty() {
            return Ok(());
        }
        let img = store::images::find(self.store().meta(), image)?;
        let cfg = self.store().config(&img)?;
        let mut want = platform.split('/');
        let (os, arch) = (want.next().unwrap_or(""), want.next().unwrap_or(""));
        let variant = want.next().unwrap_or("");
        let norm = |a: &str| match a {
            "x86_64" | "x86-64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            a => a.to_ascii_lowercase(),
        };
        let have_os = if cfg.os.is_empty() {
            "linux"
        } else {
            cfg.os.as_str()
        };
        let have_arch = if cfg.architecture.is_empty() {
            "amd64"
        } else {
            cfg.architecture.as_str()
        };
        let matches = os.eq_ignore_ascii_case(have_os)
            && (arch.is_empty() || norm(arch) == norm(have_arch))
            && (variant.is_empty() || cfg.variant.as_deref().unwrap_or("") == variant);
        if matches {
            return Ok(());
        }
        let have = match cfg.variant.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{have_os}/{have_arch}/{v}"),
            None => format!("{have_os}/{have_arch}"),
        };
        Err(ContainerError::NotFound(format!("image with reference {image} was found but its platform ({have}) does not match the specified platform ({platform})")).into())
    }

    /// `POST /containers/{id}/rename?name=`.
    pub fn container_rename(&self, name: &str, new_name: &str) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        let new_name = new_name.trim_start_matches('/');
        valid_name(new_name)?;
        // Checked and renamed in one transaction, as a create is.
        self.store().meta().write(|w| {
            if let Some(owner) = w.get::<String>(Table::ContainerNames, new_name)? {
                if owner == c.id {
                    return Err(ContainerError::Invalid(
                        "Renaming a container with the same name as its current name".into(),
                    )
                    .into());
                }
                return Err(name_conflict(new_name, &owner));
            }
            if let Some(mut r) = w.get::<ContainerRecord>(Table::Containers, &c.id)? {
                unindex_name(w, &r.name, &c.id)?;
                r.name = new_name.to_string();
                w.put(Table::Containers, &c.id, &r)?;
                w.put(Table::ContainerNames, new_name, &c.id)?;
            }
            Ok(())
        })
    }
}

/// Docker's checks of `RestartPolicy`.
pub(crate) fn restart_policy_ok(host_config: &HostConfig) -> Result<(), EngineError> {
    let p = &host_config.restart_policy;
    let name = p.name.as_str();
    let bad = |m: String| Err(ContainerError::Invalid(m).into());
    if !["", "no", "always", "unless-stopped", "on-failure"].contains(&name) {
        return bad(format!("invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"));
    }
    let max = p.maximum_retry_count;
    if max < 0 {
        return bad("invalid restart policy: maximum retry count can't be negative".into());
    }
    if max > 0 && name != "on-failure" {
        return bad(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'".into(),
        );
    }
    if host_config.auto_remove && !["", "no"].contains(&name) {
        return bad("can't create 'AutoRemove' container with restart policy".into());
    }
    Ok(())
}

pub(super) fn valid_name(n: &str) -> Result<(), EngineError> {
    let ok = !n.is_empty()
        && n.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphanumeric() || (i > 0 && b"_.-".contains(&b)));
    if ok {
        Ok(())
    } else {
        Err(ContainerError::Invalid(format!(
            "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ))
        .into())
    }
}

/// A name as Docker makes one up: `adjective_name`.
pub(super) fn random_name() -> String {
    let r = random_hex(2);
    let i = usize::from_str_radix(&r, 16).unwrap_or(0);
    format!(
        "{}_{}",
        ADJECTIVES[i % ADJECTIVES.len()],
        NAMES[(i / ADJECTIVES.len()) % NAMES.len()]
    )
}

/// Docker's 409 for a name in use.
pub(super) fn name_conflict(n: &str, id: &str) -> EngineError {
    ContainerError::NameInUse {
        name: n.to_string(),
        id: id.to_string(),
    }
    .into()
}
