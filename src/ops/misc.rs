//! Temp files, package caches, leftovers, and the opt-in spool and database operations.

use std::path::Path;

use rustix::fs::FileType;

use super::Ctx;
use crate::root;

/// Everything under `tmp/` and `var/tmp/`; the directories themselves (mode 1777) stay.
pub fn tmp(ctx: &mut Ctx<'_, '_>) {
    ctx.p.empty(Path::new("tmp"));
    ctx.p.empty(Path::new("var/tmp"));
}

/// Removes the entries of `dir` whose names satisfy `select`.
fn remove_matching(ctx: &mut Ctx<'_, '_>, dir: &Path, select: impl Fn(&str) -> bool) {
    for name in ctx.p.list(dir) {
        if select(&name.to_string_lossy()) {
            ctx.p.remove(&dir.join(name));
        }
    }
}

/// Empties `dir` only if it is a real directory; a symlink there (`var/mail -> spool/mail`) is
/// the distribution's layout, not something to warn about.
fn empty_if_dir(ctx: &mut Ctx<'_, '_>, dir: &Path) {
    if matches!(ctx.p.root.lstat_opt(dir), Ok(Some(st)) if root::file_type(&st) == FileType::Directory) {
        ctx.p.empty(dir);
    }
}

fn installed(ctx: &Ctx<'_, '_>, tool: &str) -> bool {
    ["usr/bin", "bin", "usr/sbin", "sbin"].iter().any(|d| ctx.p.root.exists(&Path::new(d).join(tool)))
}

/// Caches of the package managers installed in the root. apt's lock files and `partial/`
/// directories stay so apt keeps working; only their contents go.
pub fn package_cache(ctx: &mut Ctx<'_, '_>) {
    if installed(ctx, "apt-get") {
        let archives = Path::new("var/cache/apt/archives");
        remove_matching(ctx, archives, |n| n.ends_with(".deb"));
        empty_if_dir(ctx, &archives.join("partial"));
        remove_matching(ctx, Path::new("var/cache/apt"), |n| n.ends_with(".bin"));
        let lists = Path::new("var/lib/apt/lists");
        remove_matching(ctx, lists, |n| n != "lock" && n != "partial" && n != "auxfiles");
        empty_if_dir(ctx, &lists.join("partial"));
        empty_if_dir(ctx, &lists.join("auxfiles"));
    }
    if installed(ctx, "dnf") || installed(ctx, "dnf5") {
        empty_if_dir(ctx, Path::new("var/cache/dnf"));
        empty_if_dir(ctx, Path::new("var/cache/libdnf5"));
    }
    if installed(ctx, "yum") {
        empty_if_dir(ctx, Path::new("var/cache/yum"));
    }
    if installed(ctx, "zypper") {
        empty_if_dir(ctx, Path::new("var/cache/zypp"));
    }
    if installed(ctx, "apk") {
        empty_if_dir(ctx, Path::new("var/cache/apk"));
    }
}

/// True for core dump names: `core`, `core.<pid>`, `core.<anything>.<pid>`.
fn is_core(name: &str) -> bool {
    name == "core"
        || name.strip_prefix("core.").is_some_and(|rest| {
            rest.rsplit('.').next().is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Old copies of account files (they hold old password hashes), crash and core dumps, and
/// editor backups in `etc/`.
pub fn leftovers(ctx: &mut Ctx<'_, '_>) {
    for f in ["passwd-", "shadow-", "group-", "gshadow-", "subuid-", "subgid-"] {
        ctx.p.remove_file(&Path::new("etc").join(f));
    }
    empty_if_dir(ctx, Path::new("var/crash"));
    empty_if_dir(ctx, Path::new("var/lib/systemd/coredump"));
    // Core files land in the working directory of the crashed process: the top of the root
    // and home directories are where they are found in practice.
    let homes: Vec<_> = ctx.homes.iter().map(|h| h.path.clone()).collect();
    for dir in std::iter::once(Path::new("").to_path_buf()).chain(homes) {
        for name in ctx.p.list(&dir) {
            if is_core(&name.to_string_lossy()) {
                let rel = dir.join(&name);
                if matches!(ctx.p.root.lstat_opt(&rel), Ok(Some(st)) if root::file_type(&st) == FileType::RegularFile) {
                    ctx.p.remove_file(&rel);
                }
            }
        }
    }
    let mut backups = Vec::new();
    ctx.p.scan(Path::new("etc"), &mut |p, st| {
        let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if root::file_type(st) == FileType::RegularFile && (n.ends_with('~') || n.ends_with(".bak")) {
            backups.push(p.to_path_buf());
        }
        true
    });
    for b in backups {
        ctx.p.remove_file(&b);
    }
}

pub fn mail_spool(ctx: &mut Ctx<'_, '_>) {
    empty_if_dir(ctx, Path::new("var/spool/mail"));
    empty_if_dir(ctx, Path::new("var/mail"));
}

/// Debian keeps user crontabs in `var/spool/cron/crontabs/`; the RHEL family directly in
/// `var/spool/cron/` (where Debian also keeps the `atjobs/` directories, which stay).
pub fn user_crontabs(ctx: &mut Ctx<'_, '_>) {
    let debian = Path::new("var/spool/cron/crontabs");
    if ctx.p.root.lstat_opt(debian).ok().flatten().is_some() {
        empty_if_dir(ctx, debian);
        return;
    }
    let dir = Path::new("var/spool/cron");
    for name in ctx.p.list(dir) {
        let rel = dir.join(&name);
        if matches!(ctx.p.root.lstat_opt(&rel), Ok(Some(st)) if root::file_type(&st) == FileType::RegularFile) {
            ctx.p.remove_file(&rel);
        }
    }
}

pub fn rpm_db(ctx: &mut Ctx<'_, '_>) {
    remove_matching(ctx, Path::new("var/lib/rpm"), |n| n.starts_with("__db."));
}

#[cfg(test)]
mod tests {
    #[test]
    fn core_names() {
        assert!(super::is_core("core") && super::is_core("core.1234") && super::is_core("core.nginx.1234"));
        assert!(!super::is_core("core.py") && !super::is_core("corefile") && !super::is_core("core."));
    }
}
