//! `ps`: containers listed, filtered and sized.

use std::path::Path;

use models::container::Summary;

use super::ContainerError;
use super::ContainerRecord;
use crate::{Engine, EngineError};

/// moby's `acceptedPsFilterTags` (daemon/list.go); `health` is the
/// daemon's to apply (it keeps the health states).
const PS_FILTERS: &[&str] = &[
    "ancestor",
    "before",
    "exited",
    "id",
    "isolation",
    "label",
    "name",
    "status",
    "health",
    "since",
    "volume",
    "network",
    "is-task",
    "publish",
    "expose",
];

/// The values of `status=` Docker accepts.
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// The values of `health=` Docker accepts.
const HEALTHS: &[&str] = &["starting", "healthy", "unhealthy", "none"];

/// `ps`'s filters, checked and resolved once for the whole list.
struct PsFilters<'a> {
    filters: &'a crate::filters::Filters,
    /// Also stopped containers (`-a`, or a filter that looks at them).
    all: bool,
    exited: Vec<i64>,
    is_task: bool,
    published: std::collections::HashSet<String>,
    exposed: std::collections::HashSet<String>,
    /// The creation times of `before=` and `since=`'s containers.
    before: Option<String>,
    since: Option<String>,
    /// `ancestor=`'s images, as image ids.
    ancestors: Vec<String>,
}

impl<'a> PsFilters<'a> {
    /// Checks the filters with Docker's words for what it refuses.
    fn parse(
        e: &Engine,
        filters: &'a crate::filters::Filters,
        all: bool,
        limit: Option<usize>,
    ) -> Result<PsFilters<'a>, EngineError> {
        filters.validate(PS_FILTERS)?;
        let mut exited = Vec::new();
        for x in filters.get("exited") {
            exited.push(x.parse::<i64>().map_err(|e| {
                ContainerError::Invalid(format!("invalid filter 'exited={x}': {e}"))
            })?);
        }
        for s in filters.get("status") {
            if !STATUSES.contains(&s.as_str()) {
                return Err(ContainerError::Invalid(format!("invalid filter 'status={s}'")).into());
            }
        }
        for h in filters.get("health") {
            if !HEALTHS.contains(&h.as_str()) {
                return Err(ContainerError::Invalid(format!("invalid filter 'health={h}'")).into());
            }
        }
        // No container of berth's is a swarm task.
        let is_task = filters.bool_or("is-task", false)?;
        let published = port_filter(filters, "publish")?;
        let exposed = port_filter(filters, "expose")?;
        // A limit, before and since look at stopped containers too.
        let all = all || limit.is_some() || filters.contains("before") || filters.contains("since");
        let created_of = |name: &str| e.find_container(name).map(|c| c.created);
        let before = filters
            .get("before")
            .first()
            .map(|n| created_of(n))
            .transpose()?;
        let since = filters
            .get("since")
            .first()
            .map(|n| created_of(n))
            .transpose()?;
        // The ancestor filter names images; each becomes an image id.
        let ancestors: Vec<String> = filters
            .get("ancestor")
            .iter()
            .filter_map(|a| store::images::find(e.store().meta(), a).ok().map(|i| i.id))
            .collect();
        Ok(PsFilters {
            filters,
            all,
            exited,
            is_task,
            published,
            exposed,
            before,
            since,
            ancestors,
        })
    }

    /// Whether the record and state pass the filters that need no network.
    fn keeps(&self, c: &ContainerRecord, state: &models::container::State) -> bool {
        let filters = self.filters;
        let st = state.status.as_str();
        let any = |key: &str, f: &dyn Fn(&str) -> bool| {
            let v = filters.get(key);
            v.is_empty() || v.iter().any(|x| f(x))
        };
        let up = st == "running" || st == "paused";
        (self.all || up || filters.contains("status") || filters.contains("exited"))
            && filters.matches("id", &c.id)
            && (filters.matches("name", &c.name)
                || filters.matches("name", &format!("/{}", c.name)))
            && (!filters.contains("is-task") || !self.is_task)
            && filters.matches("isolation", &c.config.host_config.isolation)
            && filters.matches("status", st)
            && any("volume", &|x| {
                c.mounts.iter().any(|m| {
                    m.destination == x || m.name == x || (m.typ == "bind" && m.source == x)
                })
            })
            && (self.exited.is_empty()
                || (st == "exited"
                    && !c.started.is_empty()
                    && self.exited.contains(&state.exit_code)))
            && filters.match_labels_with("label", |k| c.config.config.label(k))
            && (!filters.contains("ancestor") || self.ancestors.contains(&c.image))
            && self.before.as_ref().is_none_or(|b| c.created < *b)
            && self.since.as_ref().is_none_or(|s| c.created > *s)
    }

    /// `network=`: one of the container's networks, by name or id prefix.
    fn keeps_networks(
        &self,
        networks: &Option<std::collections::BTreeMap<String, models::network::EndpointSettings>>,
    ) -> bool {
        !self.filters.contains("network")
            || self.filters.get("network").iter().any(|n| {
                networks.as_ref().is_some_and(|m| {
                    m.contains_key(n.as_str())
                        || m.values().any(|e| e.network_id.starts_with(n.as_str()))
                })
            })
    }

    /// `publish=` and `expose=`: one of the container's ports.
    fn keeps_ports(&self, ports: &[models::container::Port]) -> bool {
        (self.published.is_empty() && self.exposed.is_empty())
            || ports.iter().any(|p| {
                let proto = if p.typ.is_empty() { "tcp" } else { &p.typ };
                (p.public_port != 0
                    && self
                        .published
                        .contains(&format!("{}/{proto}", p.public_port)))
                    || self
                        .exposed
                        .contains(&format!("{}/{proto}", p.private_port))
            })
    }
}

/// `ps`'s STATUS column: `Up 2 hours`, `Exited (0) 5 minutes ago`...
fn status_text(c: &ContainerRecord, state: &models::container::State, now: i64) -> String {
    let since = |t: &str| build::duration::human(now - crate::time::unix_seconds(t));
    match state.status.as_str() {
        "created" => "Created".to_string(),
        "running" => format!("Up {}", since(&c.started)),
        "paused" => format!("Up {} (Paused)", since(&c.started)),
        "restarting" => format!(
            "Restarting ({}) {} ago",
            state.exit_code,
            since(&state.finished_at)
        ),
        _ => format!(
            "Exited ({}) {} ago",
            state.exit_code,
            since(&state.finished_at)
        ),
    }
}

impl Engine {
    /// `GET /containers/json`: Docker's `ContainerSummary` list, newest
    /// first, with `all`, `limit`, `size` and the filters `id`, `name`,
    /// `label`, `status`, `ancestor`, `exited`, `before`, `since`.
    pub fn container_list(
        &self,
        all: bool,
        limit: Option<usize>,
        size: bool,
        filters: &crate::filters::Filters,
    ) -> Result<Vec<Summary>, EngineError> {
        let ps = PsFilters::parse(self, filters, all, limit)?;
        let mut list = self.container_records()?;
        list.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut out = Vec::new();
        // Legacy links name their targets too (`/parent/alias`).
        let everyone = self.container_records()?;
        for c in list {
            let state = self.state_of(&c);
            if !ps.keeps(&c, &state) {
                continue;
            }
            let up = state.status == "running" || state.status == "paused";
            let networks = self.network_settings(&c, up).networks;
            if !ps.keeps_networks(&networks) {
                continue;
            }
            let ports = self.ports_summary(&c, up);
            if !ps.keeps_ports(&ports) {
                continue;
            }
            let mut v = Summary {
                id: c.id.clone(),
                names: std::iter::once(format!("/{}", c.name))
                    .chain(self.link_names(&c, &everyone))
                    .collect(),
                image: c.image_name.clone(),
                image_id: c.image.clone(),
                command: c.config.config.args().join(" "),
                created: crate::time::unix_seconds(&c.created),
                ports,
                labels: c.config.config.labels.clone(),
                status: status_text(&c, &state, now),
                state: state.status.clone(),
                host_config: models::container::SummaryHostConfig {
                    network_mode: crate::network::mode_of(&c.config),
                    ..Default::default()
                },
                network_settings: Some(models::network::SummaryNetworkSettings { networks }),
                mounts: self.mounts_of(&c),
                ..Default::default()
            };
            if size {
                (v.size_rw, v.size_root_fs) = self.container_sizes(&c);
            }
            out.push(v);
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    /// `ps --size`: the bytes of the writable layer, and with the image's.
    fn container_sizes(&self, c: &ContainerRecord) -> (i64, i64) {
        let rw = dir_size(&self.container_dir(&c.id).join("upper"));
        let image = self.store().meta().image(&c.image).ok().flatten();
        let base: u64 = image
            .map(|i| {
                store::config::chain_ids(&i.diff_ids)
                    .iter()
                    .filter_map(|l| self.store().meta().layer(l).ok().flatten())
                    .map(|l| l.size)
                    .sum()
            })
            .unwrap_or(0);
        (rw as i64, (rw + base) as i64)
    }
}

/// The `publish` or `expose` filter's ports, as `port/proto` (moby's
/// `portOp`: `80`, `80/udp`, `8000-8010/tcp`).
pub(super) fn port_filter(
    filters: &crate::filters::Filters,
    key: &str,
) -> Result<std::collections::HashSet<String>, EngineError> {
    let mut out = std::collections::HashSet::new();
    for value in filters.get(key) {
        let bad = |why: &str| {
            ContainerError::Invalid(format!("error while looking up for {key} {value}: {why}"))
        };
        if value.contains(':') {
            return Err(ContainerError::Invalid(format!(
                "filter for '{key}' should not contain ':': {value}"
            ))
            .into());
        }
        let (ports, proto) = value.split_once('/').unwrap_or((value, "tcp"));
        let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
        let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else {
            return Err(bad("invalid port").into());
        };
        if hi < lo || u32::from(hi - lo) > 65535 {
            return Err(bad("invalid range").into());
        }
        for p in lo..=hi {
            out.insert(format!("{p}/{}", proto.to_ascii_lowercase()));
        }
    }
    Ok(out)
}

/// Bytes of regular files under `dir` (not following symlinks).
pub(super) fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}
