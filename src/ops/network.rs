//! Network identity: DHCP leases, MAC-pinned rules and configs, hostname.

use std::path::Path;

use rustix::fs::FileType;

use super::Ctx;
use crate::root;

/// Lease directories and which names in them are leases.
const LEASES: &[(&str, super::NameTest)] = &[
    ("var/lib/dhclient", |_| true),
    ("var/lib/dhcp", |n| n.ends_with(".leases") || n.ends_with(".lease")),
    ("var/lib/dhcpcd", |_| true),
    ("var/lib/dhcpcd5", |_| true),
    ("var/lib/NetworkManager", |n| {
        n.ends_with(".lease") || n == "secret_key" || n == "timestamps" || n == "seen-bssids"
    }),
    ("var/lib/wicked", |n| n.starts_with("lease-")),
];

/// Directories holding RHEL/SUSE `ifcfg-*` files.
const IFCFG_DIRS: &[&str] = &["etc/sysconfig/network-scripts", "etc/sysconfig/network"];

pub fn plan(ctx: &mut Ctx<'_, '_>) {
    for (dir, is_lease) in LEASES {
        let dir = Path::new(dir);
        if !ctx.p.real_dir(dir) {
            continue;
        }
        for name in ctx.p.list(dir) {
            let rel = dir.join(&name);
            let regular =
                matches!(ctx.p.root.lstat_opt(&rel), Ok(Some(st)) if root::file_type(&st) != FileType::Directory);
            if regular && is_lease(&name.to_string_lossy()) {
                ctx.p.remove_file(&rel);
            }
        }
    }
    ctx.p.remove_file(Path::new("etc/udev/rules.d/70-persistent-net.rules"));
    for dir in IFCFG_DIRS {
        let dir = Path::new(dir);
        if !ctx.p.real_dir(dir) {
            continue;
        }
        for name in ctx.p.list(dir) {
            if name.to_string_lossy().starts_with("ifcfg-") {
                edit_lines(
                    ctx,
                    &dir.join(&name),
                    |l| l.starts_with(b"HWADDR=") || l.starts_with(b"UUID="),
                    "remove HWADDR= and UUID= lines",
                );
            }
        }
    }
    if ctx.profile.hostname {
        ctx.p.remove_file(Path::new("etc/hostname"));
        edit_lines(
            ctx,
            Path::new("etc/hosts"),
            |l| l.split(|b| b.is_ascii_whitespace()).find(|w| !w.is_empty()) == Some(b"127.0.1.1"),
            "remove the 127.0.1.1 line",
        );
    }
}

/// Plans an in-place (atomic) edit of `rel` dropping the lines `drop` selects.
pub fn edit_lines(ctx: &mut Ctx<'_, '_>, rel: &Path, drop: impl Fn(&[u8]) -> bool, what: &str) {
    let Some((st, data)) = ctx.p.read_for_edit(rel) else { return };
    let mut out = Vec::with_capacity(data.len());
    let mut dropped = Vec::new();
    for (i, line) in data.split_inclusive(|b| *b == b'\n').enumerate() {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        if drop(body.trim_ascii_start()) {
            dropped.push((i + 1).to_string());
        } else {
            out.extend_from_slice(line);
        }
    }
    if !dropped.is_empty() {
        let detail = format!("{what} (line {})", dropped.join(", "));
        ctx.p.rewrite(rel, Some((&st, &data)), out, None, detail);
    }
}
