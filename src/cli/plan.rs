//! `amiprep plan`: the read-only dry run.

use clap::Args;

use super::Target;
use crate::exit::{Code, Result};
use crate::report::Report;

#[derive(Args, Debug)]
pub struct PlanCmd {
    #[command(flatten)]
    pub target: Target,
}

impl PlanCmd {
    pub fn run(self) -> Result<Code> {
        let (profile, root) = self.target.open()?;
        let p = Target::plan(profile, root)?;
        self.target.print(&Report::new("plan", &p.root, &p.profile.names, &p.plan, None))?;
        Ok(Code::Ok)
    }
}
