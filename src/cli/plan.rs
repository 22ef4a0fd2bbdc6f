//! `amiprep plan`: the read-only dry run.

use clap::Args;

use super::Target;
use crate::exit::{Code, Result};
use crate::report::Report;

#[derive(Args, Debug)]
pub struct PlanCmd {
    #[command(flatten)]
    pub target: Target,
    /// Also plan the remediation of failing hardening checks (what `seal --remediate` does).
    #[arg(long)]
    pub remediate: bool,
}

impl PlanCmd {
    pub fn run(self) -> Result<Code> {
        let (profile, root) = self.target.open()?;
        let remediate = self.remediate || profile.checks.remediate;
        let (p, _) = Target::plan_with(profile, root, remediate)?;
        self.target.print(&Report::new("plan", &p.root, &p.profile.names, &p.plan, None))?;
        Ok(Code::Ok)
    }
}
