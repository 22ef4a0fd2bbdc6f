//! `[users]`: delete accounts (`deluser --remove-home`) and lock passwords (`passwd -l`), on
//! the root's own account files.
//!
//! Action order makes an interrupted run resumable: these actions run after every other
//! action of the seal, homes and spools first (they are found through passwd), then gshadow,
//! group and shadow, and passwd last, so as long as any trace of the account remains, a new
//! run still knows its home and everything else about it.

use std::path::Path;

use rustix::fs::FileType;

use super::Ctx;
use crate::accounts;
use crate::root;

pub fn plan(ctx: &mut Ctx<'_, '_>) {
    let lock = &ctx.profile.users_lock;
    // A uid-0 account is never removed, from any file: an image without root does not boot
    // into anything an administrator can repair.
    let mut remove: Vec<String> = Vec::new();
    for name in &ctx.profile.users_remove {
        if ctx.users.iter().any(|u| u.name == *name && u.uid == 0) {
            ctx.p.warn(Path::new("etc/passwd"), format!("refusing to remove {name}: it has uid 0"));
        } else {
            remove.push(name.clone());
        }
    }
    let remove = &remove;
    if remove.is_empty() && lock.is_empty() {
        return;
    }
    for name in remove {
        let Some(user) = ctx.users.iter().find(|u| u.name == *name) else { continue };
        remove_home(ctx, &user.home, user.uid, name);
        for spool in ["var/mail", "var/spool/mail"] {
            let dir = Path::new(spool);
            if ctx.p.real_dir(dir) {
                ctx.p.remove_file(&dir.join(name));
            }
        }
    }
    let group_data = ctx.p.root.read_config_opt(Path::new("etc/group")).ok().flatten().unwrap_or_default();
    // Decided once from group, then applied to group and gshadow alike.
    let private: Vec<(&String, bool)> = remove
        .iter()
        .map(|n| {
            (n, accounts::is_private_group(&group_data, n, ctx.users.iter().find(|u| u.name == *n).map(|u| u.gid)))
        })
        .collect();
    let detail_rm = |verb: &str| format!("{verb} {}", remove.join(", "));
    for (file, member_fields) in [("etc/gshadow", &[2usize, 3][..]), ("etc/group", &[3][..])] {
        edit(ctx, file, &detail_rm("remove group entries of"), |d| {
            private
                .iter()
                .fold(d.to_vec(), |acc, (n, drop)| accounts::remove_from_groups(&acc, n, *drop, member_fields).data)
        });
    }
    let mut shadow_detail = Vec::new();
    if !remove.is_empty() {
        shadow_detail.push(detail_rm("remove"));
    }
    if !lock.is_empty() {
        shadow_detail.push(format!("lock the password of {}", lock.join(", ")));
    }
    edit(ctx, "etc/shadow", &shadow_detail.join("; "), |d| {
        let removed = remove.iter().fold(d.to_vec(), |acc, n| accounts::remove_record(&acc, n).data);
        lock.iter().fold(removed, |acc, n| accounts::lock(&acc, n).data)
    });
    edit(ctx, "etc/passwd", &detail_rm("remove"), |d| {
        remove.iter().fold(d.to_vec(), |acc, n| accounts::remove_record(&acc, n).data)
    });
    if !lock.is_empty() {
        let shadow = ctx.p.root.read_config_opt(Path::new("etc/shadow")).ok().flatten().unwrap_or_default();
        let present = accounts::parse_names(&shadow);
        for n in lock.iter().filter(|n| !present.contains(n)) {
            ctx.p.warn(Path::new("etc/shadow"), format!("cannot lock {n}: no shadow entry"));
        }
    }
}

/// Plans a rewrite of an account file with `change`; no action when nothing changes.
fn edit(ctx: &mut Ctx<'_, '_>, file: &str, detail: &str, change: impl Fn(&[u8]) -> Vec<u8>) {
    let rel = Path::new(file);
    let Some((st, data)) = ctx.p.read_for_edit(rel) else { return };
    let new = change(&data);
    ctx.p.rewrite(rel, Some((&st, &data)), new, None, detail.to_string());
}

/// Removes a home only when it is a directory owned by the account: a home of `/`, `/tmp`, or
/// a directory shared with a package is never deleted with the user.
fn remove_home(ctx: &mut Ctx<'_, '_>, home: &str, uid: u32, name: &str) {
    let Ok(rel) = root::rel(home) else { return };
    if rel.as_os_str().is_empty() {
        return;
    }
    let Some(st) = ctx.p.lstat(&rel) else { return };
    if root::file_type(&st) != FileType::Directory || st.st_uid != uid {
        ctx.p.warn(&rel, format!("home of {name} is not a directory owned by uid {uid}; left in place"));
        return;
    }
    ctx.p.remove(&rel);
}
