//! `amiprep audit`: the read-only hardening audit, and `amiprep checks list`, the catalogue.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{Format, Target};
use crate::audit::{self, FailOn};
use crate::exit::{Code, Result};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditFormat {
    Text,
    Json,
    /// JUnit XML, for CI systems.
    Junit,
}

#[derive(Args, Debug)]
pub struct AuditCmd {
    /// Profile: selects the check sets (`[checks] include`), skips and thresholds. Repeat to
    /// compose. Default: `default` (the image-ready set).
    #[arg(short = 'p', long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// The root of the system to audit: `/` (the running system) or a mounted image.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// A check set (cis-level1, cis-level2, image-ready) or check id to run on top of the
    /// profile's. Repeatable.
    #[arg(long = "set", value_name = "SET")]
    pub sets: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Exit 4 when a check of this level or above fails or errors: 1 (any), 2 (level 2 only),
    /// none (never).
    #[arg(long, value_enum, default_value_t = FailOn::Level1, value_name = "LEVEL")]
    pub fail_on: FailOn,
}

impl AuditCmd {
    pub fn run(self) -> Result<Code> {
        for s in &self.sets {
            if !audit::is_known(s) {
                return Err(crate::exit::Failure::new(
                    Code::Usage,
                    anyhow::anyhow!("--set {s:?}: no such check set or check id; `amiprep checks list` shows them"),
                ));
            }
        }
        let target = Target { profiles: self.profiles, root: self.root, format: Format::Text };
        let (profile, root) = target.open()?;
        let report = audit::run(&root, &profile, &self.sets);
        let mut out = std::io::stdout().lock();
        let written = match self.format {
            AuditFormat::Text => audit::output::write_text(&report, &mut out),
            AuditFormat::Json => audit::output::write_json(&report, &mut out),
            AuditFormat::Junit => audit::output::write_junit(&report, &mut out),
        };
        match written.and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
        Ok(if report.fails(self.fail_on) { Code::AuditFailed } else { Code::Ok })
    }
}

#[derive(Subcommand, Debug)]
pub enum ChecksCmd {
    /// Every check with its id, title, level, sets, references, what it reads and its
    /// remediation.
    List {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

impl ChecksCmd {
    pub fn run(self) -> Result<Code> {
        let ChecksCmd::List { format } = self;
        let mut out = std::io::stdout().lock();
        let written = match format {
            Format::Text => audit::output::write_catalogue_text(&mut out),
            Format::Json => serde_json::to_writer_pretty(&mut out, &audit::output::catalogue())
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out)),
        };
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Code::Ok),
            other => {
                other?;
                Ok(Code::Ok)
            }
        }
    }
}
