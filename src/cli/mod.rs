//! The command line: one file per subcommand, each with a `run` returning an exit code.

mod docs;
mod plan;
mod profile;
mod seal;

use std::path::PathBuf;

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
     another seal holds the lock, or a profile file writable by others than root";

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
    /// Print shell completions, generated from this binary's commands.
    Completions(docs::CompletionsCmd),
    /// Print the man page, or write every page into a directory with --dir.
    Manpage(docs::ManpageCmd),
}

impl Cli {
    pub fn run(self) -> Result<Code> {
        match self.command {
            Command::Plan(c) => c.run(),
            Command::Seal(c) => c.run(),
            Command::Profile(c) => c.run(),
            Command::Completions(c) => c.run(),
            Command::Manpage(c) => c.run(),
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

    /// Makes the plan: read-only.
    pub fn plan(profile: Resolved, root: Root) -> Prepared {
        let mut planner = Planner::new(&root, Keep(profile.keep_set()));
        crate::ops::plan_all(&mut planner, &profile);
        let plan = planner.finish();
        Prepared { profile, root, plan }
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
