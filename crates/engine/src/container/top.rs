//! `top`: the processes of a running container.

use std::process::Command;

use models::container::TopResponse;

use super::*;
use crate::{Engine, EngineError};

impl Engine {
    /// `GET /containers/{id}/top?ps_args=`: the host's `ps` (default `-ef`)
    /// narrowed to the container's processes (its cgroup's), as Docker does.
    pub fn container_top(&self, name: &str, ps_args: &str) -> Result<TopResponse, EngineError> {
        let c = self.find_container(name)?;
        if !matches!(self.state(&c), State::Running(..)) {
            return Err(Self::not_running(&c));
        }
        let pids = self
            .runtime()
            .pids(&c.id)
            .map_err(|e| ContainerError::failed("the container's processes", e))?;
        let args: Vec<&str> = if ps_args.trim().is_empty() {
            vec!["-ef"]
        } else {
            ps_args.split_whitespace().collect()
        };
        let out = Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| ContainerError::failed("run ps", e))?;
        if !out.status.success() {
            return Err(ContainerError::Invalid(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
            .into());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        let titles: Vec<&str> = header.split_whitespace().collect();
        let pid_col = titles.iter().position(|t| *t == "PID").ok_or_else(|| {
            ContainerError::Invalid("Couldn't find PID field in ps output".into())
        })?;
        let mut procs = Vec::new();
        for line in lines {
            // The last column (the command) may hold spaces.
            let mut fields: Vec<String> = line
                .split_whitespace()
                .take(titles.len() - 1)
                .map(String::from)
                .collect();
            let rest: Vec<&str> = line.split_whitespace().skip(titles.len() - 1).collect();
            fields.push(rest.join(" "));
            if fields
                .get(pid_col)
                .and_then(|p| p.parse::<i32>().ok())
                .is_some_and(|p| pids.contains(&p))
            {
                procs.push(fields);
            }
        }
        Ok(TopResponse {
            titles: titles.iter().map(|t| t.to_string()).collect(),
            processes: procs,
        })
    }
}
