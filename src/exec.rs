//! Finding the external programs amiprep runs (systemctl, ssh-keygen) before relying on them,
//! so a missing one is a clear error up front rather than a failure halfway through a seal.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// The first executable `name` on `PATH`, as the process would find it.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}
