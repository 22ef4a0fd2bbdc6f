//! The TOML schema of a profile file, and how a child merges over its parent.
//!
//! Every field is optional so a file says only what it changes. Merge rules, applied from the
//! first parent to the last `-p`: a scalar or option set by a later profile replaces the earlier
//! value; a list is appended to the earlier list (duplicates dropped). To undo a parent's glob,
//! use `keep`, which always wins. `[checks] skip` likewise always wins over `include`.

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// One profile file as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    pub description: Option<String>,
    #[serde(default)]
    pub extends: Vec<Spanned<String>>,
    #[serde(default)]
    pub operations: Operations,
    #[serde(default)]
    pub files: Files,
    #[serde(default)]
    pub users: Users,
    #[serde(default)]
    pub walk: Walk,
    #[serde(default)]
    pub checks: Checks,
    #[serde(default)]
    pub services: Services,
    #[serde(default)]
    pub signal: Signal,
    #[serde(default)]
    pub firstboot: Firstboot,
}

/// Per-operation switches and options. The field names are the catalogue ids.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Operations {
    pub ssh_host_keys: Option<Plain>,
    pub authorized_keys: Option<AuthorizedKeys>,
    pub shell_history: Option<Extra>,
    pub credentials: Option<Extra>,
    pub machine_id: Option<MachineId>,
    pub cloud_init: Option<CloudInit>,
    pub network_identity: Option<NetworkIdentity>,
    pub random_seed: Option<Plain>,
    pub logs: Option<Logs>,
    pub tmp: Option<Plain>,
    pub package_cache: Option<Plain>,
    pub leftovers: Option<Plain>,
    pub mail_spool: Option<Plain>,
    pub user_crontabs: Option<Plain>,
    pub rpm_db: Option<Plain>,
}

/// An operation with no options beyond its switch.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plain {
    pub enabled: Option<bool>,
}

/// An operation over per-home files that accepts more names to treat the same way.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extra {
    pub enabled: Option<bool>,
    /// More home-relative paths (e.g. `.lein/credentials.clj`).
    #[serde(default)]
    pub extra: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizedKeys {
    pub enabled: Option<bool>,
    /// Other file names inside each home's `.ssh/` to remove too (e.g. `id_rsa`, `known_hosts`).
    /// Nothing but `authorized_keys*` is touched unless listed here.
    #[serde(default)]
    pub extra_files: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MachineIdMode {
    /// `uninitialized\n`: the next boot is a first boot (ConditionFirstBoot, presets).
    #[default]
    Uninitialized,
    /// Empty file: a new id is generated at boot, but it is not a first boot.
    Empty,
    /// Leave machine-id alone (the other identity files are still reset).
    Keep,
}

impl MachineIdMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineIdMode::Uninitialized => "uninitialized",
            MachineIdMode::Empty => "empty",
            MachineIdMode::Keep => "keep",
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineId {
    pub enabled: Option<bool>,
    pub mode: Option<MachineIdMode>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudInit {
    pub enabled: Option<bool>,
    /// Also remove `var/lib/cloud/seed/` (the NoCloud seed an image may ship). Default false.
    pub seed: Option<bool>,
    /// Remove cloud-init's logs. Default true.
    pub logs: Option<bool>,
    /// Remove network configs cloud-init generated (only when cloud-init is installed and will
    /// regenerate them). Default true.
    pub network_config: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkIdentity {
    pub enabled: Option<bool>,
    /// Remove `etc/hostname` and the `127.0.1.1` line of `etc/hosts`. Default true.
    pub hostname: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    pub enabled: Option<bool>,
    /// Remove the persistent journal under `var/log/journal/`. Default true.
    pub journal: Option<bool>,
}

/// Generic rules for what the catalogue does not cover. Globs are root-relative.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Files {
    #[serde(default)]
    pub remove: Vec<Spanned<String>>,
    #[serde(default)]
    pub truncate: Vec<Spanned<String>>,
    #[serde(default)]
    pub keep: Vec<Spanned<String>>,
}

/// Account changes, done on the root's own passwd, shadow, group and gshadow.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// Accounts to delete with their group memberships, home and mail spool.
    #[serde(default)]
    pub remove: Vec<Spanned<String>>,
    /// Accounts whose password to lock (`!` prefix in shadow).
    #[serde(default)]
    pub lock: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Walk {
    /// Root-relative mount points that cleanup may enter. Other mounts under the root are
    /// never walked or changed.
    #[serde(default)]
    pub include_mounts: Vec<Spanned<String>>,
}

/// The hardening audit: which check sets run, which checks are skipped, whether `seal`
/// remediates, and the thresholds of the catalogue (`amiprep checks list`). `include` and
/// `skip` take set names (`cis-level1`, `cis-level2`, `image-ready`) or check ids.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    #[serde(default)]
    pub skip: Vec<Spanned<String>>,
    /// Let `seal` fix what it safely can (as `seal --remediate`). Default false.
    pub remediate: Option<bool>,
    /// `no` (default) or `prohibit-password`.
    pub permit_root_login: Option<Spanned<String>>,
    pub max_auth_tries: Option<Spanned<i64>>,
    pub login_grace_time: Option<Spanned<i64>>,
    pub client_alive_interval: Option<Spanned<i64>>,
    pub client_alive_count_max: Option<Spanned<i64>>,
    pub max_sessions: Option<Spanned<i64>>,
    pub pass_max_days: Option<Spanned<i64>>,
    pub pass_min_days: Option<Spanned<i64>>,
    pub pass_warn_age: Option<Spanned<i64>>,
    pub inactive_days: Option<Spanned<i64>>,
    pub min_password_length: Option<Spanned<i64>>,
    pub faillock_deny: Option<Spanned<i64>>,
    pub shell_timeout: Option<Spanned<i64>>,
}

impl Checks {
    /// The numeric parameters by their names in [`crate::audit::PARAMS`].
    pub fn params(&self) -> [(&'static str, &Option<Spanned<i64>>); 12] {
        [
            ("max_auth_tries", &self.max_auth_tries),
            ("login_grace_time", &self.login_grace_time),
            ("client_alive_interval", &self.client_alive_interval),
            ("client_alive_count_max", &self.client_alive_count_max),
            ("max_sessions", &self.max_sessions),
            ("pass_max_days", &self.pass_max_days),
            ("pass_min_days", &self.pass_min_days),
            ("pass_warn_age", &self.pass_warn_age),
            ("inactive_days", &self.inactive_days),
            ("min_password_length", &self.min_password_length),
            ("faillock_deny", &self.faillock_deny),
            ("shell_timeout", &self.shell_timeout),
        ]
    }
}
/// Unit files to enable, disable, mask or unmask, by systemd unit name (`nginx` means
/// `nginx.service`). A unit named in a later profile drops out of the other three lists of the
/// earlier ones: the last word about a unit wins.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Services {
    #[serde(default)]
    pub enable: Vec<Spanned<String>>,
    #[serde(default)]
    pub disable: Vec<Spanned<String>>,
    #[serde(default)]
    pub mask: Vec<Spanned<String>>,
    #[serde(default)]
    pub unmask: Vec<Spanned<String>>,
    /// Also write the enables and disables as a preset file, so that presets applied on a first
    /// boot cannot undo them. Default true.
    pub preset: Option<bool>,
}

/// What to do once the seal succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Then {
    #[default]
    None,
    Poweroff,
    Reboot,
}

impl Then {
    pub fn as_str(self) -> &'static str {
        match self {
            Then::None => "none",
            Then::Poweroff => "poweroff",
            Then::Reboot => "reboot",
        }
    }
}

/// The readiness signal after a seal.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// `none`, `poweroff` or `reboot` after a successful live seal (the `--then` flag wins).
    pub then: Option<Then>,
    /// Print the READY / NOT-READY line on the kernel and serial consoles. Default true.
    pub console: Option<bool>,
}

/// What `amiprep firstboot` does on a new instance. Sealing records it in the receipt, so the
/// first boot follows the profile the image was sealed with.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Firstboot {
    /// Generate missing SSH host keys (unless cloud-init does). Default true.
    pub host_keys: Option<bool>,
    /// Key types to make: `rsa`, `ecdsa`, `ed25519`. Default: those the image's sshd_config
    /// names with `HostKey`, or all three when it names none (sshd's own default).
    #[serde(default)]
    pub host_key_types: Vec<Spanned<String>>,
    /// Units to start (without waiting) once the instance's identity is in place.
    #[serde(default)]
    pub start: Vec<Spanned<String>>,
}
