//! Logs: live logs truncated in place, rotated logs removed, the journal removed, login
//! records truncated, audit logs covered.

use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Stat};

use super::Ctx;
use crate::root;

/// True for names logrotate and friends give to old logs: `x.gz` (and other compressions),
/// `x.1`, `x.old`, and RHEL's `dateext` suffix `x-20240131`.
pub fn is_rotated(name: &str) -> bool {
    const COMPRESSED: &[&str] = &[".gz", ".xz", ".bz2", ".zst", ".lz4", ".z"];
    if COMPRESSED.iter().any(|s| name.ends_with(s)) || name.ends_with(".old") {
        return true;
    }
    let numbered = name
        .rsplit_once('.')
        .is_some_and(|(base, n)| !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let dated = name.rsplit_once('-').is_some_and(|(base, d)| {
        !base.is_empty() && d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) && d.starts_with("20")
    });
    numbered || dated
}

pub fn plan(ctx: &mut Ctx<'_, '_>) {
    let log = Path::new("var/log");
    let journal = log.join("journal");
    if ctx.profile.journal {
        if ctx.p.root.is_live() && ctx.p.real_dir(&journal) && !ctx.p.list(&journal).is_empty() {
            // journald lets go of var/log/journal and logs to run/log/journal until the next
            // boot: it closes its files before they are removed, and writes nothing into the
            // image afterwards (with a mere --rotate it recreates a journal there as soon as
            // anything logs, the seal's own messages included; the VM test caught that).
            ctx.p.run(
                vec!["journalctl".into(), "--relinquish-var".into()],
                "journald logs to /run until the next boot, so nothing is written into the image's journal".into(),
                &[],
            );
        }
        ctx.p.empty(&journal);
    }
    let mut rotated: Vec<PathBuf> = Vec::new();
    let mut live: Vec<PathBuf> = Vec::new();
    let mut special: Vec<PathBuf> = Vec::new();
    let journal_ref = &journal;
    ctx.p.scan(log, &mut |p: &Path, st: &Stat| {
        if p == journal_ref {
            return false;
        }
        match root::file_type(st) {
            FileType::RegularFile => {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if is_rotated(&name) {
                    rotated.push(p.to_path_buf());
                } else if st.st_size > 0 {
                    live.push(p.to_path_buf());
                }
            }
            // Directories are walked; symlinks (`var/log/README`) belong to packages.
            FileType::Directory | FileType::Symlink => {}
            _ => special.push(p.to_path_buf()),
        }
        true
    });
    for p in special {
        ctx.p.warn(p, "is a FIFO, socket or device, not a log; left alone");
    }
    for p in rotated {
        ctx.p.remove_file(&p);
    }
    // Truncated in place, not replaced: daemons hold them open, and owner, mode and SELinux
    // label must stay what the packages set. wtmp, btmp, lastlog and faillog are among them.
    for p in live {
        ctx.p.truncate(&p);
    }
    // rsyslog's cursor into the journal that is being removed.
    ctx.p.remove_file(Path::new("var/lib/rsyslog/imjournal.state"));
}

#[cfg(test)]
mod tests {
    use super::is_rotated;

    #[test]
    fn rotated_names() {
        for n in ["syslog.1", "syslog.2.gz", "messages-20240131", "dpkg.log.old", "audit.log.3", "x.xz", "btmp.1"] {
            assert!(is_rotated(n), "{n}");
        }
        for n in ["syslog", "auth.log", "wtmp", "lastlog", "cloud-init.log", "php8.2-fpm.log", "Xorg.0.log", "kern.log"]
        {
            assert!(!is_rotated(n), "{n}");
        }
    }
}
