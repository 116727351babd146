//! `update`: new resource limits for a live container, written into its
//! cgroup (as `runc update` does).

use oci_spec::runtime::LinuxResources;

use super::Runtime;
use crate::error::Result;
use crate::state::Status;

impl Runtime {
    /// Writes `resources` into the cgroup of a created, running or paused
    /// container; limits it leaves out stay as they are.
    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        let (dir, record) = self.open(id)?;
        self.require(
            &dir,
            &record,
            &[Status::Created, Status::Running, Status::Paused],
            "update",
        )?;
        Ok(record.cgroup.apply(resources)?)
    }
}
