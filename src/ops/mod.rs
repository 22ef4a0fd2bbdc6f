//! The cleanup catalogue: every operation with its id, description and default, in the order
//! the plan runs them, and the shared context they plan with.
//!
//! Order matters. The identity and access material (credentials, authorized_keys, histories,
//! host keys) goes last, so nothing run earlier in the seal can put it back; account removal
//! comes after all of it (see [`plan_all`]).

pub(crate) mod cloud_init;
mod files;
pub(crate) mod homes;
pub(crate) mod logs;
mod machine;
mod misc;
mod network;
pub(crate) mod ssh;
mod users;

use std::path::PathBuf;

use crate::accounts::User;
use crate::plan::Planner;
use crate::profile::Resolved;

/// Everything an operation plans with.
pub struct Ctx<'a, 'r> {
    pub p: &'a mut Planner<'r>,
    pub profile: &'a Resolved,
    /// The root's passwd accounts, with their homes resolved inside the root.
    pub homes: &'a [Home],
    pub users: &'a [User],
}

/// A passwd home directory, resolved to its canonical root-relative path.
#[derive(Debug, Clone)]
pub struct Home {
    pub path: PathBuf,
}

/// Tells whether a file name in a known directory is one an operation handles.
pub type NameTest = fn(&str) -> bool;

/// One catalogue entry.
pub struct OpInfo {
    pub id: &'static str,
    pub description: &'static str,
    pub default_on: bool,
    pub plan: fn(&mut Ctx<'_, '_>),
}

/// The catalogue, in execution order.
pub const CATALOGUE: &[OpInfo] = &[
    OpInfo {
        id: "package-cache",
        description: "Package manager caches and lists (apt, dnf, yum, zypper) for the managers present",
        default_on: true,
        plan: misc::package_cache,
    },
    OpInfo {
        id: "tmp",
        description: "Everything under tmp/ and var/tmp/, keeping the directories and their 1777 mode",
        default_on: true,
        plan: misc::tmp,
    },
    // Before `logs`: cloud-init's logs are removed, not just truncated like other logs.
    OpInfo {
        id: "cloud-init",
        description: "cloud-init instance state, logs and generated network configs (seed/ kept)",
        default_on: true,
        plan: cloud_init::plan,
    },
    OpInfo {
        id: "logs",
        description: "Truncate live logs in place, remove rotated logs, the journal, and truncate wtmp/btmp/lastlog/faillog",
        default_on: true,
        plan: logs::plan,
    },
    OpInfo {
        id: "leftovers",
        description: "Backup account files (etc/passwd- ...), crash dumps, core files, *~ and *.bak in etc/",
        default_on: true,
        plan: misc::leftovers,
    },
    OpInfo {
        id: "mail-spool",
        description: "Mail spools in var/spool/mail and var/mail",
        default_on: false,
        plan: misc::mail_spool,
    },
    OpInfo {
        id: "user-crontabs",
        description: "Per-user crontabs in var/spool/cron",
        default_on: false,
        plan: misc::user_crontabs,
    },
    OpInfo {
        id: "rpm-db",
        description: "Berkeley DB environment files var/lib/rpm/__db.*",
        default_on: false,
        plan: misc::rpm_db,
    },
    OpInfo {
        id: "network-identity",
        description: "DHCP leases, persistent net rules, HWADDR/UUID in ifcfg, hostname and the 127.0.1.1 hosts line",
        default_on: true,
        plan: network::plan,
    },
    OpInfo {
        id: "random-seed",
        description: "Saved random seeds (systemd, sysvinit, ESP loader)",
        default_on: true,
        plan: machine::random_seed,
    },
    OpInfo {
        id: "machine-id",
        description: "Reset etc/machine-id (uninitialized by default) and the other machine identity files",
        default_on: true,
        plan: machine::machine_id,
    },
    OpInfo {
        id: "credentials",
        description: "Cloud, git, docker, kube and database credentials in every passwd home",
        default_on: true,
        plan: homes::credentials,
    },
    OpInfo {
        id: "authorized-keys",
        description: "authorized_keys(2) of every passwd home and sshd's AuthorizedKeysFile locations",
        default_on: true,
        plan: ssh::authorized_keys,
    },
    OpInfo {
        id: "shell-history",
        description: "Shell and tool histories in every passwd home",
        default_on: true,
        plan: homes::shell_history,
    },
    OpInfo {
        id: "ssh-host-keys",
        description: "SSH host keys and certificates etc/ssh/ssh_host_*key*",
        default_on: true,
        plan: ssh::host_keys,
    },
];

/// Plans the whole profile: accounts, generic rules, then the enabled catalogue operations.
pub fn plan_all(p: &mut Planner<'_>, profile: &Resolved) -> crate::exit::Result<Vec<crate::services::Change>> {
    p.begin("users");
    let users = homes::read_users(p);
    let homes = homes::resolve_homes(p, &users);
    let mut ctx = Ctx { p, profile, homes: &homes, users: &users };
    users::plan(&mut ctx);
    ctx.p.begin("files");
    files::plan(&mut ctx);
    for op in CATALOGUE {
        if profile.is_enabled(op.id) {
            ctx.p.begin(op.id);
            (op.plan)(&mut ctx);
        }
    }
    // Planned first, so a removed home makes later per-home actions redundant; executed last,
    // so a run killed after the passwd edit has already done everything else that needed to
    // know the account (its AuthorizedKeysFile outside the home, say).
    // After the cleanup: enabling units is the image's configuration, not its cleanup, and a
    // failed systemctl then leaves the cleanup done.
    let services = crate::services::plan(ctx.p, profile)?;
    ctx.p.move_last("users");
    Ok(services)
}
