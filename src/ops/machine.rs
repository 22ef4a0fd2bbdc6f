//! Machine identity (machine-id and its companions) and saved random seeds.

use std::path::Path;

use rustix::fs::FileType;

use super::Ctx;
use crate::profile::schema::MachineIdMode;
use crate::root;

/// Resets `etc/machine-id` according to the mode, keeping the file present with mode 0444
/// (deleting it breaks boots with a read-only /etc), and removes the files derived from the old
/// identity.
pub fn machine_id(ctx: &mut Ctx<'_, '_>) {
    let mode = ctx.profile.machine_id_mode;
    let id_path = Path::new("etc/machine-id");
    let old = ctx.p.read_for_edit(id_path);
    let old_id = old.as_ref().map(|(_, d)| String::from_utf8_lossy(d).trim().to_string());
    let content: &[u8] = match mode {
        MachineIdMode::Uninitialized => b"uninitialized\n",
        MachineIdMode::Empty => b"",
        MachineIdMode::Keep => b"",
    };
    if mode != MachineIdMode::Keep {
        // Created when missing (the next boot then is a first boot), but never over a link or
        // special file, and never into a root without etc/.
        let writable = old.is_some() || (ctx.p.lstat(id_path).is_none() && ctx.p.real_dir(Path::new("etc")));
        if writable {
            let old_ref = old.as_ref().map(|(st, d)| (st, d.as_slice()));
            ctx.p.rewrite(
                id_path,
                old_ref,
                content.to_vec(),
                Some(0o444),
                format!("reset machine-id ({})", mode.as_str()),
            );
        }
        // The D-Bus copy seeds a new id when etc/machine-id is empty, so it must go; but a
        // symlink (usually to /etc/machine-id) is the distribution's choice and stays.
        let dbus = Path::new("var/lib/dbus/machine-id");
        if let Some(st) = ctx.p.lstat(dbus) {
            if root::file_type(&st) == FileType::RegularFile {
                ctx.p.remove(dbus);
            }
        }
    }
    ctx.p.remove_file(Path::new("var/lib/systemd/credential.secret"));
    ctx.p.remove_file(Path::new("etc/machine-info"));
    // kernel-install's entry token defaults to the machine-id; only that case is per-instance.
    // A token set deliberately (an OS id, a literal) is configuration and stays.
    let token = Path::new("etc/kernel/entry-token");
    if let (Some(old_id), Some((_, t))) = (old_id.filter(|s| s.len() == 32), ctx.p.read_for_edit(token)) {
        if String::from_utf8_lossy(&t).trim() == old_id {
            ctx.p.remove_file(token);
        }
    }
}

/// Saved entropy: restoring the same seed on every clone defeats its purpose.
pub fn random_seed(ctx: &mut Ctx<'_, '_>) {
    for p in [
        "var/lib/systemd/random-seed",
        "var/lib/random-seed",
        "boot/efi/loader/random-seed",
        "efi/loader/random-seed",
        "boot/loader/random-seed",
    ] {
        ctx.p.remove_file(Path::new(p));
    }
}
