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
    /// Also fix the failing hardening checks that can be fixed safely (modes, sysctl, kernel
    /// modules, sshd, login.defs), as `[checks] remediate = true` does.
    #[arg(long)]
    pub remediate: bool,
}

impl SealCmd {
    pub fn run(self) -> Result<Code> {
        if self.dry_run {
            return super::plan::PlanCmd { target: self.target, remediate: self.remediate }.run();
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
        let remediate = self.remediate || profile.checks.remediate;
        let (p, refusals) = Target::plan_with(profile, root, remediate)?;
        if !self.yes && !confirm(&p)? {
            return Err(Failure::new(Code::Refused, anyhow::anyhow!("not confirmed; nothing was changed")));
        }
        let keep = Keep(p.profile.keep_set());
        let outcomes = crate::apply::apply(&p.root, &p.plan, &keep, &mut |a, o| {
            log::debug!("{} {} {}: {:?}", a.operation, a.kind.as_str(), a.target, o.status);
        });
        let mut report = Report::new("seal", &p.root, &p.profile.names, &p.plan, Some(&outcomes));
        // The proof of the seal: the profile's checks (image-ready by default) on the result.
        // A required check that fails makes the seal not ready, like a failed action.
        let mut audit = crate::audit::run(&p.root, &p.profile, &[]);
        audit.note_refusals(&refusals);
        // Like the report below: an unwritable stderr must not stop the signal.
        if let Err(e) = print_audit(&audit) {
            log::warn!("cannot print the audit ({:#}); the receipt has its summary", e.error);
        }
        let t = &report.totals.all;
        let failure = if t.failed > 0 {
            Some(format!("{} of {} actions failed", t.failed, t.actions))
        } else if !audit.summary.required_failed.is_empty() {
            Some(format!("image-ready checks failed: {}", audit.summary.required_failed.join(", ")))
        } else {
            None
        };
        let summary = serde_json::to_value(&audit.summary).ok();
        let signal = crate::signal::finish(&p.root, &p.profile, &report, &p.services, lock.as_fd(), failure, summary);
        report.signal = Some(&signal);
        // The seal is done and signalled; a report that cannot be printed (a provisioner's
        // session gone, a console tty hung up) must not undo that or stop `then`: the receipt
        // holds the same facts.
        if let Err(e) = self.target.print(&report).and_then(|()| Ok(std::io::stdout().flush()?)) {
            log::warn!(
                "cannot print the report ({:#}); the receipt /{} has its totals",
                e.error,
                crate::receipt::RECEIPT
            );
        }
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

/// The audit after a seal, on stderr (stdout holds the seal report in the chosen format): the
/// checks that did not pass, then the summary.
fn print_audit(audit: &crate::audit::Audit) -> Result<()> {
    use crate::audit::Status;
    let mut err = std::io::stderr().lock();
    for r in audit.results.iter().filter(|r| matches!(r.status, Status::Fail | Status::Error)) {
        writeln!(err, "audit: {} {}: {}", r.status.as_str(), r.id, r.title)?;
        if let Some(reason) = &r.reason {
            writeln!(err, "audit:   {reason}")?;
        }
        for e in r.evidence.iter().take(5) {
            writeln!(err, "audit:   expected {}; found {} ({})", e.expected, e.actual, e.source)?;
        }
    }
    writeln!(err, "audit: {}", crate::audit::output::summary_line(audit))?;
    // The READY-FOR-IMAGE / NOT-READY line is the signal's; this says what it rests on.
    if !audit.summary.required_failed.is_empty() {
        writeln!(err, "audit: required checks failed: {}", audit.summary.required_failed.join(", "))?;
    }
    Ok(())
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
