//! `profile show --resolved`: the merged profile as commented TOML, every key spelled out.
//!
//! The output is itself a valid profile that reproduces the merge, and doubles as the
//! operation list (the `--list-operations` of amiprep).

use std::fmt::Write;

use super::{Resolved, Rule, Verb};
use crate::ops::CATALOGUE;

fn list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}

fn rules(v: &[Rule], origins: bool) -> String {
    if v.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[\n");
    for r in v {
        if origins {
            let _ = writeln!(s, "  {},  # {}", toml_str(&r.glob), r.origin);
        } else {
            let _ = writeln!(s, "  {},", toml_str(&r.glob));
        }
    }
    s.push(']');
    s
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Renders the resolved profile, with where each value came from.
pub fn render_resolved(r: &Resolved) -> String {
    render(r, true)
}

/// The sha256 of the resolved settings alone: the rendering without names and origins, so
/// the same settings give the same hash however the profiles were named or composed.
pub fn settings_sha256(r: &Resolved) -> String {
    crate::receipt::sha256_hex(render(r, false).as_bytes())
}

fn render(r: &Resolved, origins: bool) -> String {
    let mut s = String::new();
    if origins {
        let _ = writeln!(s, "# Resolved profile: {}", r.names.join(" + "));
        let _ = writeln!(s, "# Merged from, in order: {}", r.chain.join(", "));
    }
    let _ = writeln!(s, "description = {}", toml_str(&r.description));
    for op in CATALOGUE {
        let _ = writeln!(s, "\n# {}{}", op.description, if op.default_on { "" } else { " (off unless enabled)" });
        let _ = writeln!(s, "[operations.{}]", op.id);
        let _ = writeln!(s, "enabled = {}", r.is_enabled(op.id));
        match op.id {
            "authorized-keys" => {
                let _ = writeln!(
                    s,
                    "extra_files = {}  # other names in ~/.ssh to remove too",
                    list(&r.authorized_keys_extra)
                );
            }
            "shell-history" => {
                let _ = writeln!(s, "extra = {}", list(&r.shell_history_extra));
            }
            "credentials" => {
                let _ = writeln!(s, "extra = {}", list(&r.credentials_extra));
            }
            "machine-id" => {
                let _ = writeln!(s, "mode = {}  # uninitialized | empty | keep", toml_str(r.machine_id_mode.as_str()));
            }
            "cloud-init" => {
                let _ = writeln!(s, "seed = {}  # also remove var/lib/cloud/seed", r.cloud_init_seed);
                let _ = writeln!(s, "logs = {}", r.cloud_init_logs);
                let _ = writeln!(s, "network_config = {}", r.cloud_init_network_config);
            }
            "network-identity" => {
                let _ = writeln!(s, "hostname = {}  # etc/hostname and the 127.0.1.1 line of etc/hosts", r.hostname);
            }
            "logs" => {
                let _ = writeln!(s, "journal = {}  # the persistent journal in var/log/journal", r.journal);
            }
            _ => {}
        }
    }
    let _ = writeln!(s, "\n# Generic rules (root-relative globs). keep always wins.");
    let _ = writeln!(s, "[files]");
    let _ = writeln!(s, "remove = {}", rules(&r.remove, origins));
    let _ = writeln!(s, "truncate = {}", rules(&r.truncate, origins));
    let _ = writeln!(s, "keep = {}", rules(&r.keep, origins));
    let _ = writeln!(s, "\n# Accounts, edited in the root's own passwd, shadow, group and gshadow.");
    let _ = writeln!(s, "[users]");
    let _ = writeln!(s, "remove = {}", list(&r.users_remove));
    let _ = writeln!(s, "lock = {}", list(&r.users_lock));
    let _ = writeln!(s, "\n# Separate filesystems under the root that cleanup may enter.");
    let _ = writeln!(s, "[walk]");
    let _ = writeln!(s, "include_mounts = {}", list(&r.include_mounts));
    let c = &r.checks;
    let _ = writeln!(s, "\n# The hardening audit (`amiprep audit`, and `seal` after cleanup). skip always wins.");
    let _ = writeln!(s, "[checks]");
    let _ = writeln!(s, "include = {}  # cis-level1 | cis-level2 | image-ready | check ids", list(&c.include));
    let _ = writeln!(s, "skip = {}", list(&c.skip));
    let _ = writeln!(s, "remediate = {}  # let seal fix what it safely can", c.remediate);
    let _ = writeln!(s, "permit_root_login = {}  # no | prohibit-password", toml_str(&c.permit_root_login));
    for (name, default, what) in crate::audit::PARAMS {
        let _ = writeln!(s, "{name} = {}  # {what} (default {default})", c.param(name));
    }
    let _ = writeln!(s, "\n# Units, changed with systemctl (--root under an offline root). Unmask runs first.");
    let _ = writeln!(s, "[services]");
    for verb in [Verb::Enable, Verb::Disable, Verb::Mask, Verb::Unmask] {
        let units: Vec<String> = r
            .services
            .iter()
            .filter(|w| w.verb == verb)
            .map(|w| {
                if origins {
                    format!("{},  # {}", toml_str(&w.unit), w.origin)
                } else {
                    format!("{},", toml_str(&w.unit))
                }
            })
            .collect();
        if units.is_empty() {
            let _ = writeln!(s, "{} = []", verb.as_str());
        } else {
            let _ = writeln!(s, "{} = [\n  {}\n]", verb.as_str(), units.join("\n  "));
        }
    }
    let _ = writeln!(s, "preset = {}  # also write /{}", r.services_preset, crate::services::PRESET_FILE);
    let _ = writeln!(s, "\n# After a successful seal: receipt, READY line on the consoles, sd_notify, then this.");
    let _ = writeln!(s, "[signal]");
    let _ = writeln!(s, "then = {}  # none | poweroff | reboot (live seals only)", toml_str(r.then.as_str()));
    let _ = writeln!(s, "console = {}", r.console);
    let _ = writeln!(s, "\n# `amiprep firstboot` on each new instance (carried in the receipt).");
    let _ = writeln!(s, "[firstboot]");
    let _ = writeln!(s, "host_keys = {}", r.firstboot.host_keys);
    let _ = writeln!(
        s,
        "host_key_types = {}  # empty: what sshd_config's HostKey lines name, else rsa, ecdsa, ed25519",
        list(&r.firstboot.host_key_types)
    );
    let _ = writeln!(s, "start = {}", list(&r.firstboot.start));
    s
}
