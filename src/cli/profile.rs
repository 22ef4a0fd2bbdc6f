//! `amiprep profile list|show|check`.

use std::io::Write;

use clap::Subcommand;

use crate::exit::{Code, Result};
use crate::profile::{self, BUILTINS};

#[derive(Subcommand, Debug)]
pub enum ProfileCmd {
    /// List the built-in profiles and those in /etc/amiprep/profiles.
    List,
    /// Print a profile as written, or with --resolved the merged result of `extends` with
    /// every operation and option spelled out.
    Show {
        /// A built-in name, a name in /etc/amiprep/profiles, or a path.
        profile: String,
        #[arg(long)]
        resolved: bool,
    },
    /// Validate a profile (and everything it extends) without doing anything.
    Check {
        /// A built-in name, a name in /etc/amiprep/profiles, or a path.
        profile: String,
    },
}

impl ProfileCmd {
    pub fn run(self) -> Result<Code> {
        let mut out = std::io::stdout().lock();
        match self {
            ProfileCmd::List => {
                writeln!(out, "{:<16} {:<40} DESCRIPTION", "NAME", "SOURCE")?;
                for (name, _) in BUILTINS {
                    let d = profile::load(&[format!("builtin:{name}")])
                        .map(|r| r.description)
                        .unwrap_or_else(|e| format!("(invalid: {e})"));
                    writeln!(out, "{name:<16} {:<40} {d}", format!("builtin:{name}"))?;
                }
                for dir in profile::profile_dirs() {
                    let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                    let mut files: Vec<_> = entries
                        .filter_map(|e| e.ok())
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                        .collect();
                    files.sort();
                    for f in files {
                        let name = f.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                        let d = profile::load(&[f.display().to_string()])
                            .map(|r| r.description)
                            .unwrap_or_else(|e| format!("(invalid: {})", e.message));
                        writeln!(out, "{name:<16} {:<40} {d}", f.display().to_string())?;
                    }
                }
            }
            ProfileCmd::Show { profile: spec, resolved: false } => {
                let src = profile::find(&spec, None, false)?;
                write!(out, "{}", src.text)?;
            }
            ProfileCmd::Show { profile: spec, resolved: true } => {
                let r = profile::load(&[spec])?;
                write!(out, "{}", profile::render_resolved(&r))?;
            }
            ProfileCmd::Check { profile: spec } => {
                let r = profile::load(std::slice::from_ref(&spec))?;
                writeln!(out, "{spec}: ok (merged from {})", r.chain.join(", "))?;
            }
        }
        Ok(Code::Ok)
    }
}
