//! The command line: one file per subcommand, each with a `run` returning an exit code.

mod audit;
mod docs;
mod firstboot;
mod plan;
mod profile;
mod seal;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use anyhow::Context;
use rustix::fs::{FlockOperation, Mode, OFlags};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::{Code, Failure, Result};
use crate::plan::{Keep, Plan, Planner};
use crate::profile::Resolved;
use crate::report::Report;
use crate::root::Root;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (for plan: the plan was made)
  1  runtime failure: some actions failed, or an I/O error stopped the run
  2  usage or profile error (bad flag, bad TOML, unknown key, bad glob, extends cycle)
  3  refused, nothing changed: no --yes without a terminal, confirmation declined,
     another seal holds the lock, or a profile file writable by others than root
  4  audit: a check at or above --fail-on failed or errored";

/// Seal a Linux instance for imaging: clean per-instance state, then signal it is ready.
#[derive(Parser, Debug)]
#[command(name = "amiprep", version, about = "Seal a Linux instance for imaging: clean its per-instance state before CreateImage", after_help = EXIT_CODES)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show every action `seal` would take. Read-only: writes nothing anywhere.
    Plan(plan::PlanCmd),
    /// Clean the root according to the profile(s).
    Seal(seal::SealCmd),
    /// List, show and check profiles.
    #[command(subcommand)]
    Profile(profile::ProfileCmd),
    /// Run the hardening checks. Read-only: writes nothing anywhere.
    Audit(audit::AuditCmd),
    /// The check catalogue.
    #[command(subcommand)]
    Checks(audit::ChecksCmd),
    /// Print shell completions, generated from this binary's commands.
    Completions(docs::CompletionsCmd),
    /// Print the man page, or write every page into a directory with --dir.
    Manpage(docs::ManpageCmd),
    /// First boot of a new instance from a sealed image: host keys, machine-id, receipt
    /// history. Does nothing on a reboot of the same instance. Run by amiprep-firstboot.service.
    Firstboot(firstboot::FirstbootCmd),
}

impl Cli {
    pub fn run(self) -> Result<Code> {
        match self.command {
            Command::Plan(c) => c.run(),
            Command::Seal(c) => c.run(),
            Command::Profile(c) => c.run(),
            Command::Audit(c) => c.run(),
            Command::Checks(c) => c.run(),
            Command::Completions(c) => c.run(),
            Command::Manpage(c) => c.run(),
            Command::Firstboot(c) => c.run(),
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// What to work on: shared by plan and seal.
#[derive(Args, Debug)]
pub struct Target {
    /// Profile: a built-in name, a name in /etc/amiprep/profiles, or a path to a .toml file.
    /// Repeat to compose, later ones override earlier ones. Default: `default`.
    #[arg(short = 'p', long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// The root of the system to work on: `/` (the running system) or a mounted image.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// A loaded profile, the opened root and the plan made from them.
pub struct Prepared {
    pub profile: Resolved,
    pub root: Root,
    pub plan: Plan,
    /// The units whose state the plan changes.
    pub services: Vec<crate::services::Change>,
}

impl Target {
    /// Loads the profile and opens the root, ready to plan.
    pub fn open(&self) -> Result<(Resolved, Root)> {
        let profile = crate::profile::load(&self.profiles)?;
        let mut root = Root::open(&self.root).map_err(|e| {
            Failure::new(
                Code::Usage,
                e.context("--root must name an existing directory (the running system's / or a mounted image)"),
            )
        })?;
        for m in &profile.include_mounts {
            root.allow_mount(std::path::Path::new(m));
        }
        Ok((profile, root))
    }

    /// Makes the plan: read-only. Fails when the profile asks for something this root cannot
    /// do (an enable of a unit it does not have), before anything is applied. With
    /// `remediate`, the fixes of the failing hardening checks follow the cleanup; the
    /// remediations refused as unsafe are returned with the plan.
    pub fn plan_with(
        profile: Resolved,
        root: Root,
        remediate: bool,
    ) -> Result<(Prepared, Vec<crate::audit::remediate::Refusal>)> {
        let mut planner = Planner::new(&root, Keep(profile.keep_set()));
        let services = crate::ops::plan_all(&mut planner, &profile)?;
        if root.is_live() && profile.then != crate::profile::schema::Then::Poweroff {
            if let Some((shell, pid)) = crate::signal::history_shell() {
                planner.begin("signal");
                planner.warn(
                    format!("proc/{pid}"),
                    format!(
                        "this runs from an interactive {shell} (pid {pid}), which writes its history file when it exits, \
                         after the cleanup; seal with --then poweroff, or run `unset HISTFILE` in that shell first"
                    ),
                );
            }
        }
        let refusals = if remediate { crate::audit::remediate::plan(&mut planner, &profile, &[]) } else { Vec::new() };
        let plan = planner.finish();
        Ok((Prepared { profile, root, plan, services }, refusals))
    }

    pub fn print(&self, report: &Report<'_>) -> Result<()> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let r = match self.format {
            Format::Text => report.write_text(&mut out),
            Format::Json => report.write_json(&mut out),
        };
        match r {
            // A closed pipe (`amiprep plan | head`) is the reader's choice, not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }
}

/// Takes the one-run-at-a-time lock (seal and firstboot): an exclusive `flock` on the root directory itself. It
/// needs no lock file, so it leaves nothing in the image, works the same on a live system and
/// under `--root`, and is released by the kernel if amiprep is killed.
pub fn lock(root: &Root) -> Result<OwnedFd> {
    let fd = rustix::fs::openat(root.fd(), ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .context("opening the root to lock it")?;
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(fd),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(Failure::new(
            Code::Refused,
            anyhow::anyhow!(
                "another amiprep seal or firstboot is running on {}; wait for it to finish",
                root.display().display()
            ),
        )),
        Err(e) => Err(anyhow::Error::from(e).context("locking the root").into()),
    }
}
