//! cloud-init: per-instance state, logs, and the network configs it generated.

use std::path::{Path, PathBuf};

use super::Ctx;
use crate::root::Root;

/// Network configs cloud-init writes from the instance's metadata (usually MAC-pinned):
/// `(directory, name test)`.
const GENERATED: &[(&str, super::NameTest)] = &[
    ("etc/netplan", |n| n == "50-cloud-init.yaml"),
    ("etc/NetworkManager/system-connections", |n| n.starts_with("cloud-init-") && n.ends_with(".nmconnection")),
    ("etc/systemd/network", |n| n.starts_with("10-cloud-init-") && n.ends_with(".network")),
    ("etc/network/interfaces.d", |n| n == "50-cloud-init.cfg" || n == "50-cloud-init"),
];

pub fn plan(ctx: &mut Ctx<'_, '_>) {
    let cloud = Path::new("var/lib/cloud");
    if ctx.p.real_dir(cloud) {
        for name in ctx.p.list(cloud) {
            let n = name.to_string_lossy();
            let state = matches!(n.as_ref(), "instances" | "instance" | "data" | "sem" | "handlers");
            if n == "instances" {
                // Keep the directory: cloud-init expects it.
                ctx.p.empty(&cloud.join(&name));
            } else if state || (n == "seed" && ctx.profile.cloud_init_seed) {
                ctx.p.remove(&cloud.join(&name));
            }
        }
    }
    if ctx.profile.cloud_init_logs {
        for log in ["var/log/cloud-init.log", "var/log/cloud-init-output.log"] {
            ctx.p.remove_file(Path::new(log));
        }
    }
    if ctx.profile.cloud_init_network_config && regenerates_network(ctx.p.root) {
        for (dir, generated) in GENERATED {
            let dir = Path::new(dir);
            if !ctx.p.real_dir(dir) {
                continue;
            }
            for name in ctx.p.list(dir) {
                if generated(&name.to_string_lossy()) {
                    ctx.p.remove_file(&dir.join(&name));
                }
            }
        }
    }
}

/// cloud-init regenerates network config at boot when it is installed and its network
/// configuration is not disabled (`network: {config: disabled}` in `etc/cloud/cloud.cfg` or
/// `cloud.cfg.d/*.cfg`, or `etc/cloud/cloud-init.disabled`). Otherwise those files are the
/// image's only network config and must stay.
fn regenerates_network(root: &Root) -> bool {
    active(root) && !config_texts(root).iter().any(|t| disables_network(t))
}

/// True when cloud-init is installed in the root and not switched off with
/// `etc/cloud/cloud-init.disabled`.
pub(crate) fn active(root: &Root) -> bool {
    let installed = ["usr/bin/cloud-init", "bin/cloud-init"].iter().any(|p| root.exists(Path::new(p)));
    installed && !root.exists(Path::new("etc/cloud/cloud-init.disabled"))
}

/// The text of `etc/cloud/cloud.cfg` and `cloud.cfg.d/*.cfg`, in the order cloud-init merges
/// them. `cloud.cfg.d` is read only when it is a directory, not a link to one.
pub(crate) fn config_texts(root: &Root) -> Vec<String> {
    let mut files = vec![PathBuf::from("etc/cloud/cloud.cfg")];
    let d = Path::new("etc/cloud/cloud.cfg.d");
    if matches!(root.lstat_opt(d), Ok(Some(st)) if crate::root::file_type(&st) == rustix::fs::FileType::Directory) {
        let names = root.list_config(d).unwrap_or_default();
        files.extend(names.into_iter().filter(|n| n.to_string_lossy().ends_with(".cfg")).map(|n| d.join(n)));
    }
    files
        .iter()
        .filter_map(|f| root.read_config_opt(f).ok().flatten())
        .map(|data| String::from_utf8_lossy(&data).into_owned())
        .collect()
}

/// Recognises both YAML spellings of `network: {config: disabled}`.
fn disables_network(yaml: &str) -> bool {
    let flat: String = yaml.lines().map(|l| l.split('#').next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let compact: String = flat.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("network:{config:disabled}") {
        return true;
    }
    let mut in_network = false;
    for line in flat.lines() {
        let indented = line.starts_with([' ', '\t']);
        if !indented && !line.trim().is_empty() {
            in_network = line.trim() == "network:";
        } else if in_network && line.split_whitespace().collect::<Vec<_>>() == ["config:", "disabled"] {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn network_disabled_spellings() {
        assert!(super::disables_network("network: {config: disabled}\n"));
        assert!(super::disables_network("# x\nnetwork:\n  config: disabled\n"));
        assert!(!super::disables_network("network:\n  version: 2\nother:\n  config: disabled\n"));
        assert!(!super::disables_network("# network: {config: disabled}\n"));
    }
}
