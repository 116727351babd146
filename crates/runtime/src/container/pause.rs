//! `pause` and `resume`: the cgroup freezer.

use super::Runtime;
use crate::error::Result;
use crate::state::Status;

impl Runtime {
    /// Freezes every process of a running container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let (dir, record) = self.open(id)?;
        self.require(&dir, &record, &[Status::Running], "pause")?;
        Ok(record.cgroup.set_frozen(true)?)
    }

    /// Thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        let (dir, record) = self.open(id)?;
        self.require(&dir, &record, &[Status::Paused], "resume")?;
        Ok(record.cgroup.set_frozen(false)?)
    }
}
