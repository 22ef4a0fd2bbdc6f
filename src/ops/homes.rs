//! Per-home operations (shell histories, credentials) and the passwd homes they work on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{Ctx, Home};
use crate::accounts::{self, User};
use crate::plan::Planner;
use crate::root;

/// Histories of shells and interactive tools (anchors.md), home-relative.
pub const HISTORIES: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".sh_history",
    ".history",
    ".ash_history",
    ".python_history",
    ".lesshst",
    ".viminfo",
    ".mysql_history",
    ".psql_history",
    ".sqlite_history",
    ".node_repl_history",
    ".wget-hsts",
    ".rediscli_history",
    ".local/share/fish/fish_history",
];

/// Credentials that tools leave in a home, home-relative. Directories are removed whole.
pub const CREDENTIALS: &[&str] = &[
    ".aws",
    ".git-credentials",
    ".netrc",
    ".pgpass",
    ".docker/config.json",
    ".config/gcloud",
    ".kube/config",
    ".azure",
];

/// Reads the root's passwd. A missing or unreadable passwd is a warning: the per-home
/// operations then have nothing to work on, and the rest of the seal goes on.
pub fn read_users(p: &mut Planner<'_>) -> Vec<User> {
    let rel = Path::new("etc/passwd");
    match p.root.read_config_opt(rel) {
        Ok(Some(data)) => accounts::parse_passwd(&data),
        Ok(None) => Vec::new(),
        Err(e) => {
            p.io_warn(rel, "cannot read passwd", &e);
            Vec::new()
        }
    }
}

/// Resolves every passwd home inside the root. Homes that do not exist, are `/`, or resolve to
/// the same directory as another are skipped (`/nonexistent`, daemons sharing `/var/lib/x`).
pub fn resolve_homes(p: &mut Planner<'_>, users: &[User]) -> Vec<Home> {
    let mut seen = HashSet::new();
    let mut homes = Vec::new();
    for u in users {
        let Ok(rel) = root::rel(&u.home) else {
            p.warn(PathBuf::from(&u.home), format!("home of {} contains `..`; skipped", u.user_label()));
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        match p.root.canonical_dir(&rel) {
            Ok(path) if !path.as_os_str().is_empty() => {
                if seen.insert(path.clone()) {
                    homes.push(Home { path });
                }
            }
            Ok(_) => {}
            Err(e) => p.io_warn(&rel, &format!("cannot resolve the home of {}", u.name), &e),
        }
    }
    homes
}

trait Label {
    fn user_label(&self) -> String;
}

impl Label for User {
    fn user_label(&self) -> String {
        format!("user {}", self.name)
    }
}

/// Plans removing each home-relative `name` in every home.
/// `remove` is how each path is planned: histories are files only, credentials may be
/// directories (`.aws/`).
fn in_every_home(ctx: &mut Ctx<'_, '_>, names: &[&str], extra: &[String], remove: fn(&mut Planner<'_>, &Path)) {
    for home in ctx.homes {
        for name in names.iter().copied().chain(extra.iter().map(String::as_str)) {
            remove(ctx.p, &home.path.join(name));
        }
    }
}

pub fn shell_history(ctx: &mut Ctx<'_, '_>) {
    in_every_home(ctx, HISTORIES, &ctx.profile.shell_history_extra, |p, r| p.remove_file(r));
}

pub fn credentials(ctx: &mut Ctx<'_, '_>) {
    in_every_home(ctx, CREDENTIALS, &ctx.profile.credentials_extra, |p, r| p.remove(r));
}
