//! `amiprep firstboot`: run by amiprep-firstboot.service on each boot; acts only on the first
//! boot of a new instance (see src/firstboot.rs).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::Format;
use crate::exit::{Code, Failure, Result};
use crate::root::Root;

#[derive(Args, Debug)]
pub struct FirstbootCmd {
    /// The root of the system: `/` at boot, or a mounted image to prepare offline.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Take `[firstboot]` from these profiles instead of from the image's receipt.
    #[arg(short = 'p', long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Act as on a new instance even if this looks like a reboot of the same one.
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

impl FirstbootCmd {
    pub fn run(self) -> Result<Code> {
        let profile = if self.profiles.is_empty() { None } else { Some(crate::profile::load(&self.profiles)?) };
        let root = Root::open(&self.root).map_err(|e| {
            Failure::new(Code::Usage, e.context("--root must name an existing directory (/ or a mounted image)"))
        })?;
        let _lock = super::lock(&root)?;
        let out = crate::firstboot::run(&root, self.force, profile.as_ref().map(|p| &p.firstboot));
        if root.is_live() && std::env::var_os("NOTIFY_SOCKET").is_some() {
            // Ready either way: a failure is reported, and must never hold up the boot.
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&out.line), sd_notify::NotifyState::Ready]);
        }
        let mut o = std::io::stdout().lock();
        let r = match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut o, &out).map_err(std::io::Error::from).and_then(|()| writeln!(o))
            }
            Format::Text => write_text(&mut o, &out),
        };
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
        Ok(if out.ok { Code::Ok } else { Code::Failed })
    }
}

fn write_text(o: &mut dyn Write, out: &crate::firstboot::Outcome) -> std::io::Result<()> {
    let place = if out.live { "the live system" } else { "an offline root" };
    writeln!(o, "amiprep firstboot on {} ({place})", out.root)?;
    writeln!(o, "new instance: {} ({})", if out.new_instance { "yes" } else { "no" }, out.reason)?;
    for s in &out.steps {
        writeln!(o, "  {:<11} {:<8} {}", s.step, s.status, s.detail)?;
    }
    if !out.fingerprints.is_empty() {
        writeln!(o, "-----BEGIN SSH HOST KEY FINGERPRINTS-----")?;
        for f in &out.fingerprints {
            writeln!(o, "{f}")?;
        }
        writeln!(o, "-----END SSH HOST KEY FINGERPRINTS-----")?;
    }
    writeln!(o, "{}", out.line)
}
