//! The readiness signal after a seal: sync, the receipt, the READY / NOT-READY console line,
//! `READY=1` to systemd, then optionally power off. A pipeline reads one of these and images
//! the instance only on READY.

use std::os::fd::BorrowedFd;
use std::path::Path;

use serde::Serialize;

use crate::profile::Resolved;
use crate::profile::schema::Then;
use crate::receipt::{self, OperationTotals, Receipt, ServiceChange, Totals};
use crate::report::Report;
use crate::root::Root;

/// One step of the signal, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: &'static str,
    /// `done`, `skipped` or `failed`.
    pub status: &'static str,
    pub detail: String,
}

/// What the signal did.
#[derive(Debug, Clone, Serialize)]
pub struct Signal {
    pub ready: bool,
    /// The console line, also printed last on stdout.
    pub line: String,
    pub receipt_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_sha256: Option<String>,
    /// The receipt exactly as written to `receipt_path`.
    pub receipt: Receipt,
    pub steps: Vec<Step>,
    /// Set when the last step is to power off or reboot: [`Signal::then_now`] does it, after
    /// the report is out.
    #[serde(skip)]
    pub then: Option<Then>,
}

fn step(steps: &mut Vec<Step>, step: &'static str, status: &'static str, detail: impl Into<String>) {
    steps.push(Step { step, status, detail: detail.into() });
}

/// Runs the signal steps in order. `failure` is why the seal is not ready (failed actions),
/// `None` when it is. `dir` is an open (non-`O_PATH`) descriptor on the root, for `syncfs`.
pub fn finish(
    root: &Root,
    profile: &Resolved,
    report: &Report<'_>,
    services: &[crate::services::Change],
    dir: BorrowedFd<'_>,
    mut failure: Option<String>,
    audit: Option<serde_json::Value>,
) -> Signal {
    let mut steps = Vec::new();
    rustix::fs::sync();
    match rustix::fs::syncfs(dir) {
        Ok(()) => step(&mut steps, "sync", "done", "sync and syncfs on the root's filesystem"),
        Err(e) => step(&mut steps, "sync", "failed", format!("syncfs: {e}")),
    }

    let t = &report.totals;
    let mut receipt = Receipt {
        schema_version: receipt::RECEIPT_VERSION,
        amiprep_version: env!("CARGO_PKG_VERSION").to_string(),
        ready: failure.is_none(),
        reason: failure.clone(),
        sealed_at: receipt::now_utc(),
        profiles: profile.names.clone(),
        profile_sha256: crate::profile::settings_sha256(profile),
        totals: Totals { all: t.all.clone(), warnings: t.warnings },
        by_operation: t
            .by_operation
            .iter()
            .map(|o| OperationTotals {
                operation: o.operation.to_string(),
                actions: o.count.actions,
                entries: o.count.entries,
                bytes: o.count.bytes,
                failed: o.count.failed,
            })
            .collect(),
        services: services
            .iter()
            .map(|c| ServiceChange {
                unit: c.unit.clone(),
                action: c.verb.as_str().to_string(),
                was: c.was.to_string(),
            })
            .collect(),
        firstboot: profile.firstboot.clone(),
        audit,
    };
    let bytes = receipt.to_bytes();
    let sha = receipt::sha256_hex(&bytes);
    let receipt_sha256 = match root.write_atomic(Path::new(receipt::RECEIPT), &bytes, 0o644) {
        Ok(()) => {
            step(&mut steps, "receipt", "done", format!("/{} sha256:{sha}", receipt::RECEIPT));
            Some(sha)
        }
        Err(e) => {
            let why = format!("cannot write the receipt /{}: {e}", receipt::RECEIPT);
            step(&mut steps, "receipt", "failed", why.clone());
            failure.get_or_insert(why);
            receipt.ready = false;
            receipt.reason = failure.clone();
            None
        }
    };

    let who = profile.names.join("+");
    let line = match (&failure, &receipt_sha256) {
        (None, Some(sha)) => {
            format!("amiprep: READY-FOR-IMAGE profile={who} receipt=sha256:{sha} actions={} failed=0", t.all.actions)
        }
        (reason, _) => format!(
            "amiprep: NOT-READY profile={who} reason={:?}",
            reason.as_deref().unwrap_or("the receipt was not written")
        ),
    };
    let ready = failure.is_none();

    let live = root.is_live();
    if !live {
        step(&mut steps, "console", "skipped", "offline root: its consoles are not this machine's");
    } else if !profile.console {
        step(&mut steps, "console", "skipped", "[signal] console = false");
    } else {
        let devs = crate::console::announce(std::slice::from_ref(&line));
        if devs.is_empty() {
            step(&mut steps, "console", "failed", "no console device could be written");
        } else {
            step(&mut steps, "console", "done", devs.join(", "));
        }
    }

    if !live {
        step(&mut steps, "notify", "skipped", "offline root");
    } else if std::env::var_os("NOTIFY_SOCKET").is_none() {
        step(&mut steps, "notify", "skipped", "not running under a Type=notify unit");
    } else {
        let mut states = vec![sd_notify::NotifyState::Status(&line)];
        if ready {
            states.push(sd_notify::NotifyState::Ready);
        }
        match sd_notify::notify(&states) {
            Ok(()) => step(&mut steps, "notify", "done", if ready { "READY=1 and STATUS" } else { "STATUS" }),
            Err(e) => step(&mut steps, "notify", "failed", format!("sd_notify: {e}")),
        }
    }

    let mut then = None;
    match profile.then {
        Then::None => step(&mut steps, "then", "skipped", "then = none"),
        _ if !live => step(&mut steps, "then", "skipped", "offline root: nothing to power off"),
        _ if !ready => step(&mut steps, "then", "skipped", "not ready: the machine stays up for inspection"),
        t => {
            step(
                &mut steps,
                "then",
                "done",
                format!("{} right after this report, without running shutdown jobs", t.as_str()),
            );
            then = Some(t);
        }
    }
    Signal { ready, line, receipt_path: format!("/{}", receipt::RECEIPT), receipt_sha256, receipt, steps, then }
}

impl Signal {
    /// Powers off or reboots now, if the profile asked for it. The kernel is told directly,
    /// after a last sync: a clean `systemctl poweroff` would run shutdown jobs and hang up on
    /// shells, and a hung-up bash writes its history, journald flushes, random-seed saves a
    /// seed. The filesystems were synced, so nothing written before this is lost.
    pub fn then_now(&self) -> anyhow::Result<()> {
        let Some(t) = self.then else { return Ok(()) };
        rustix::fs::sync();
        // Let the serial console drain the READY line before the machine goes away.
        std::thread::sleep(std::time::Duration::from_secs(1));
        let cmd = match t {
            Then::Poweroff => rustix::system::RebootCommand::PowerOff,
            Then::Reboot => rustix::system::RebootCommand::Restart,
            Then::None => return Ok(()),
        };
        rustix::system::reboot(cmd).map_err(|e| anyhow::anyhow!("{} failed: {e}", t.as_str()))
    }
}

/// The interactive shell this process was started from, if any, that keeps a history file
/// and will write it when it exits, after the cleanup: `(name, pid)`.
pub fn history_shell() -> Option<(String, u32)> {
    const SHELLS: &[&str] = &["bash", "zsh", "ksh", "ksh93", "mksh", "fish", "tcsh", "csh"];
    let mut pid = rustix::process::getppid()?.as_raw_nonzero().get() as u32;
    for _ in 0..32 {
        if pid <= 1 {
            return None;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        let comm = comm.trim().trim_start_matches('-');
        let tty = std::fs::read_link(format!("/proc/{pid}/fd/0"))
            .is_ok_and(|t| t.starts_with("/dev/pts") || t.to_string_lossy().starts_with("/dev/tty"));
        if SHELLS.contains(&comm) && tty {
            return Some((comm.to_string(), pid));
        }
        pid = parent_of(pid)?;
    }
    None
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may itself contain spaces and parentheses.
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}
