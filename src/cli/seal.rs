//! `amiprep seal`: plan, confirm, then apply that same plan under the one-run-at-a-time lock.

use std::io::{BufRead, IsTerminal, Write};
use std::os::fd::AsFd;

use clap::Args;

use super::Target;
use crate::exit::{Code, Failure, Result};
use crate::plan::Keep;
use crate::profile::schema::Then;
use crate::report::{Report, human};

#[derive(Args, Debug)]
pub struct SealCmd {
    #[command(flatten)]
    pub target: Target,
    /// Do not ask for confirmation. Required when there is no terminal.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Only show the plan, exactly like `amiprep plan`.
    #[arg(long)]
    pub dry_run: bool,
    /// After a successful live seal: `poweroff` or `reboot` at once, or `none`. Overrides the
    /// profile's `[signal] then`. Powering off is the only sure way that the shell you ran this
    /// from cannot write its history back after the cleanup.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub then: Option<Then>,
}

impl SealCmd {
    pub fn run(self) -> Result<Code> {
        if self.dry_run {
            return super::plan::PlanCmd { target: self.target }.run();
        }
        let live = crate::root::Root::open(&self.target.root).is_ok_and(|r| r.is_live());
        let who = if self.target.profiles.is_empty() { "default".to_string() } else { self.target.profiles.join("+") };
        let result = self.seal();
        // A seal that stopped before its signal (a profile error, a unit the image lacks, the
        // lock) still tells the console watcher it is not ready, so a pipeline that only reads
        // the console never waits for a READY that will not come.
        if let Err(f) = &result
            && live
        {
            let reason = format!("{:#}", f.error).lines().next().unwrap_or("").to_string();
            crate::console::announce(&[format!("amiprep: NOT-READY profile={who} reason={reason:?}")]);
        }
        result
    }

    fn seal(self) -> Result<Code> {
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        if !self.yes && !interactive {
            return Err(Failure::new(
                Code::Refused,
                anyhow::anyhow!(
                    "refusing to seal without confirmation: there is no terminal to ask on. Review `amiprep plan` and run `amiprep seal --yes`"
                ),
            ));
        }
        let (mut profile, root) = self.target.open()?;
        if let Some(t) = self.then {
            profile.then = t;
        }
        let lock = super::lock(&root)?;
        let p = Target::plan(profile, root)?;
        if !self.yes && !confirm(&p)? {
            return Err(Failure::new(Code::Refused, anyhow::anyhow!("not confirmed; nothing was changed")));
        }
        let keep = Keep(p.profile.keep_set());
        let outcomes = crate::apply::apply(&p.root, &p.plan, &keep, &mut |a, o| {
            log::debug!("{} {} {}: {:?}", a.operation, a.kind.as_str(), a.target, o.status);
        });
        let mut report = Report::new("seal", &p.root, &p.profile.names, &p.plan, Some(&outcomes));
        let t = &report.totals.all;
        let failure = (t.failed > 0).then(|| format!("{} of {} actions failed", t.failed, t.actions));
        let signal = crate::signal::finish(&p.root, &p.profile, &report, &p.services, lock.as_fd(), failure);
        report.signal = Some(&signal);
        self.target.print(&report)?;
        let _ = std::io::stdout().flush();
        if !signal.ready {
            log::error!("seal of {} is NOT ready: {}", p.root.display().display(), signal.line);
            return Ok(Code::Failed);
        }
        log::info!(
            "sealed {} with profile {}: {} actions, {} entries, {}",
            p.root.display().display(),
            p.profile.names.join(" + "),
            t.actions,
            t.entries,
            human(t.bytes)
        );
        signal.then_now()?;
        Ok(Code::Ok)
    }
}

/// Shows the summary on stderr and asks; true only for an explicit yes.
fn confirm(p: &super::Prepared) -> Result<bool> {
    let report = Report::new("plan", &p.root, &p.profile.names, &p.plan, None);
    let mut err = std::io::stderr().lock();
    writeln!(err, "amiprep seal: profile {} on {}", p.profile.names.join(" + "), p.root.display().display())?;
    for o in &report.totals.by_operation {
        writeln!(
            err,
            "  {:<18} {:>6} actions {:>10} entries {:>11}",
            o.operation,
            o.count.actions,
            o.count.entries,
            human(o.count.bytes)
        )?;
    }
    let t = &report.totals.all;
    writeln!(
        err,
        "{} actions, {} entries, {}; {} warnings. `amiprep plan` lists every path.",
        t.actions,
        t.entries,
        human(t.bytes),
        report.totals.warnings
    )?;
    write!(err, "Seal now? This deletes the files listed. [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
