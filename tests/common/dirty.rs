//! The dirty root: a fake system carrying every artifact of every cleanup operation (paths
//! taken from src/ops/*.rs and the anchors' union table), next to "keepers" that look similar
//! but belong to the image and must survive byte for byte.
//!
//! Each artifact records what it becomes under which switch, so a test can turn a before
//! snapshot into the exact tree it expects after a seal with any profile.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::Tree;
use super::snapshot::{Expected, Snapshot};

/// What a seal does to an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The path and everything under it are removed.
    Gone,
    /// A directory's contents are removed; the directory, its mode and owner stay.
    Emptied,
    /// A regular file is truncated in place: same inode, owner, mode; zero bytes.
    Truncated,
    /// A file's content is replaced atomically (with `mode`, also its permission bits).
    Rewritten(Vec<u8>, Option<u32>),
}

/// One planted artifact. `effects` is tried in order and the first whose switch is on applies:
/// it mirrors the catalogue order (e.g. `logs` truncates cloud-init's log before `cloud-init`
/// gets to remove it).
#[derive(Debug, Clone)]
pub struct Artifact {
    pub path: PathBuf,
    pub effects: Vec<(&'static str, Effect)>,
}

/// The operations, and the options inside them, that a profile switches on. Options are
/// written `operation/option` and are only listed when their operation is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switches(pub BTreeSet<&'static str>);

impl Switches {
    /// What the built-in `default` profile turns on.
    pub fn default_profile() -> Switches {
        Switches(
            [
                "package-cache",
                "tmp",
                "logs",
                "logs/journal",
                "leftovers",
                "cloud-init",
                "cloud-init/logs",
                "cloud-init/network-config",
                "network-identity",
                "network-identity/hostname",
                "random-seed",
                "machine-id",
                "credentials",
                "authorized-keys",
                "shell-history",
                "ssh-host-keys",
            ]
            .into(),
        )
    }

    /// What the built-in `minimal` profile turns on: identity only, cloud-init without its logs
    /// and network configs.
    pub fn minimal() -> Switches {
        Switches(["ssh-host-keys", "authorized-keys", "shell-history", "machine-id", "cloud-init"].into())
    }

    pub fn with(mut self, keys: &[&'static str]) -> Switches {
        self.0.extend(keys);
        self
    }

    pub fn without(mut self, keys: &[&'static str]) -> Switches {
        for k in keys {
            self.0.remove(k);
        }
        self
    }

    pub fn on(&self, key: &str) -> bool {
        self.0.contains(key)
    }
}

/// The planted root and what became of each artifact.
pub struct DirtyRoot {
    pub artifacts: Vec<Artifact>,
    /// The 32-hex id written to etc/machine-id (and the D-Bus copy and the entry token).
    pub machine_id: &'static str,
}

pub const MACHINE_ID: &str = "5f1c0a3e9b7d4c2a8e6f0b1d3c5a7e9f";

/// Users of the fixture's passwd: (name, uid, gid, home). bob's home is outside /home and
/// www-data's is the web root, as on Debian.
pub const USERS: &[(&str, u32, u32, &str)] = &[
    ("root", 0, 0, "root"),
    ("alice", 1000, 1000, "home/alice"),
    ("bob", 1001, 1001, "srv/bob"),
    ("www-data", 33, 33, "var/www"),
];

pub const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
bob:x:1001:1001::/srv/bob:/bin/bash
";

pub const IFCFG_ETH0: &str = "\
# Created by cloud-init on instance boot automatically, do not edit.
# HWADDR= and UUID= in a comment stay
BOOTPROTO=dhcp
DEVICE=eth0
HWADDR=0a:1b:2c:3d:4e:5f
ONBOOT=yes
TYPE=Ethernet
  UUID=5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03
USERCTL=no
";

pub const IFCFG_ETH0_AFTER: &str = "\
# Created by cloud-init on instance boot automatically, do not edit.
# HWADDR= and UUID= in a comment stay
BOOTPROTO=dhcp
DEVICE=eth0
ONBOOT=yes
TYPE=Ethernet
USERCTL=no
";

pub const HOSTS: &str = "\
127.0.0.1\tlocalhost
127.0.1.1\tip-10-0-0-12.ec2.internal ip-10-0-0-12
# 127.0.1.1 in a comment stays
::1\tlocalhost ip6-localhost ip6-loopback
";

pub const HOSTS_AFTER: &str = "\
127.0.0.1\tlocalhost
# 127.0.1.1 in a comment stays
::1\tlocalhost ip6-localhost ip6-loopback
";

/// src/ops/homes.rs HISTORIES.
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

/// Records artifacts while planting them.
struct Planter<'t> {
    t: &'t Tree,
    artifacts: Vec<Artifact>,
}

impl Planter<'_> {
    fn mark(&mut self, rel: &str, effects: Vec<(&'static str, Effect)>) {
        self.artifacts.push(Artifact { path: PathBuf::from(rel), effects });
    }

    /// A file the operation `op` removes.
    fn gone(&mut self, op: &'static str, rel: &str, data: &str) {
        self.t.file(rel, data);
        self.mark(rel, vec![(op, Effect::Gone)]);
    }

    fn gone_as(&mut self, op: &'static str, rel: &str, data: &str, mode: u32, uid: u32, gid: u32) {
        self.t.file_as(rel, data, mode, uid, gid);
        self.mark(rel, vec![(op, Effect::Gone)]);
    }

    /// A live log the `logs` operation truncates in place.
    fn live_log(&mut self, rel: &str, mode: u32, uid: u32, gid: u32) {
        self.t.file_as(rel, format!("{rel}: build host log line\n").repeat(20), mode, uid, gid);
        self.mark(rel, vec![("logs", Effect::Truncated)]);
    }
}

impl DirtyRoot {
    /// Plants the whole fixture in `t` (an empty root).
    pub fn plant(t: &Tree) -> DirtyRoot {
        let mut p = Planter { t, artifacts: Vec::new() };
        base_system(t);
        ssh(&mut p);
        homes(&mut p);
        machine(&mut p);
        cloud_init(&mut p);
        network(&mut p);
        logs(&mut p);
        tmp(&mut p);
        packages(&mut p);
        leftovers(&mut p);
        opt_in(&mut p);
        DirtyRoot { artifacts: p.artifacts, machine_id: MACHINE_ID }
    }

    /// cloud-init's logs, `var/log/cloud-init*.log`: live logs that the `logs` operation would
    /// truncate, and that `cloud-init` removes (README: "`logs = false` keeps them"). Kept out
    /// of `plant` because today the two operations disagree across runs (see
    /// catalogue.rs, cloud_init_logs_are_removed_by_one_seal_with_default); planted by the
    /// tests whose expectation does not depend on that.
    pub fn plant_cloud_init_logs(&mut self, t: &Tree) {
        for log in ["var/log/cloud-init.log", "var/log/cloud-init-output.log"] {
            t.file_as(log, "Cloud-init v. 23.1 running 'init' at build time\n", 0o640, 104, 4);
            self.artifacts.push(Artifact {
                path: PathBuf::from(log),
                effects: vec![("cloud-init/logs", Effect::Gone), ("logs", Effect::Truncated)],
            });
        }
    }

    /// Replaces what the artifact at `path` becomes (for profiles with other options).
    pub fn set(&mut self, path: &str, effects: Vec<(&'static str, Effect)>) {
        let a = self
            .artifacts
            .iter_mut()
            .find(|a| a.path == Path::new(path))
            .unwrap_or_else(|| panic!("no artifact {path} in the fixture"));
        a.effects = effects;
    }

    /// The operations (and options) that have at least one artifact here.
    pub fn covered_switches(&self) -> BTreeSet<&'static str> {
        self.artifacts.iter().flat_map(|a| a.effects.iter().map(|(k, _)| *k)).collect()
    }

    /// The tree expected after a seal with the given switches on, starting from `before`.
    pub fn expected(&self, before: &Snapshot, on: &Switches) -> Expected {
        let mut e = Expected::unchanged(before);
        // Removals last: an artifact inside a removed tree (none today) must not be looked up
        // after its parent is gone.
        let mut gone = Vec::new();
        for a in &self.artifacts {
            assert!(before.contains_key(&a.path), "fixture: artifact {} was not planted", a.path.display());
            let Some((_, effect)) = a.effects.iter().find(|(k, _)| on.on(k)) else { continue };
            match effect {
                Effect::Gone => gone.push(a.path.clone()),
                Effect::Emptied => e.empty(&a.path),
                Effect::Truncated => e.truncated(&a.path),
                Effect::Rewritten(data, mode) => e.rewritten(&a.path, data, *mode),
            }
        }
        for g in gone {
            if e.entries.contains_key(&g) {
                e.gone(&g);
            }
        }
        e
    }
}

/// The skeleton every root has, and keepers that no operation may touch.
fn base_system(t: &Tree) {
    for d in ["proc", "sys", "dev", "run"] {
        t.dir(d, 0o755);
    }
    // Runtime state under the virtual top-level dirs is never amiprep's business.
    t.file("run/systemd/netif/leases/2", "ADDRESS=10.0.0.12\n");
    t.file("etc/passwd", PASSWD);
    t.file_as("etc/shadow", "root:$y$j9T$salt$hash:19000:0:99999:7:::\nalice:!:19000::::::\n", 0o640, 0, 42);
    t.file("etc/group", "root:x:0:\nadm:x:4:syslog\nalice:x:1000:\nbob:x:1001:\n");
    t.file_as("etc/gshadow", "root:*::\nalice:!::\n", 0o640, 0, 42);
    t.file("etc/fstab", "UUID=abcd / ext4 defaults 0 1\n");
    t.file("etc/foo", "configuration, not a backup\n");
    // The web server the seeds' image serves with; nginx-web enables it.
    t.file("lib/systemd/system/nginx.service", super::NGINX_UNIT);
    t.file(
        "lib/systemd/system/telnet.socket",
        "[Socket]\nListenStream=23\nAccept=yes\n[Install]\nWantedBy=sockets.target\n",
    );
    t.symlink("etc/systemd/system/sockets.target.wants/telnet.socket", "/lib/systemd/system/telnet.socket");
    t.file("etc/ssh/ssh_config", "Host *\n  SendEnv LANG\n");
    t.file("etc/ssh/moduli", "20190427 2 6 100 2047 2 ...\n");
    t.file_as("etc/sudoers.d/90-cloud-init-users", "alice ALL=(ALL) NOPASSWD:ALL\n", 0o440, 0, 0);
    t.file("usr/lib/os-release", "ID=debian\nVERSION_ID=12\n");
    t.symlink("etc/os-release", "../usr/lib/os-release");
    // resolv.conf is routinely a symlink into /run (waagent #1151): never ours to delete.
    t.symlink("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
    t.file_as("usr/bin/bash", "#!binary\n", 0o755, 0, 0);
    t.file_as("usr/sbin/nologin", "#!binary\n", 0o755, 0, 0);
    t.file_as("usr/bin/passwd", "#!binary\n", 0o4755, 0, 0);
    t.file("usr/share/doc/systemd/README.logs", "see journalctl\n");
    t.dir_as("var/www", 0o755, 0, 0);
    t.file_as("var/www/html/index.html", "<h1>Welcome</h1>\n", 0o644, 33, 33);
    t.file("var/lib/misc/keep.db", "package data\n");
    t.file("opt/app/config.yml", "listen: 8080\n");
}

fn ssh(p: &mut Planter<'_>) {
    let t = p.t;
    for key in ["rsa", "ecdsa", "ed25519"] {
        p.gone_as(
            "ssh-host-keys",
            &format!("etc/ssh/ssh_host_{key}_key"),
            "-----BEGIN OPENSSH PRIVATE KEY-----\n",
            0o600,
            0,
            0,
        );
        p.gone("ssh-host-keys", &format!("etc/ssh/ssh_host_{key}_key.pub"), "ssh-x AAAA host\n");
    }
    p.gone("ssh-host-keys", "etc/ssh/ssh_host_ed25519_key-cert.pub", "ssh-ed25519-cert-v01@openssh.com AAAA\n");
    p.gone("ssh-host-keys", "etc/ssh/ssh_host_rsa_key-cert.pub", "ssh-rsa-cert-v01@openssh.com AAAA\n");
    // Keys are found through sshd_config too: in a drop-in, in the main file (after the
    // Include, so not its effective value) and inside a Match block.
    t.file_as(
        "etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config.d/*.conf\n\
         PermitRootLogin prohibit-password\n\
         AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 /etc/ssh/authorized_keys/%u\n\
         Match User bob\n    AuthorizedKeysFile /etc/ssh/match_keys/%u\n",
        0o600,
        0,
        0,
    );
    t.file_as("etc/ssh/sshd_config.d/50-keys.conf", "AuthorizedKeysFile /var/lib/sshkeys/%u/keys\n", 0o600, 0, 0);
    p.gone("authorized-keys", "etc/ssh/authorized_keys/alice", "ssh-ed25519 AAAA alice@build\n");
    p.gone("authorized-keys", "etc/ssh/authorized_keys/root", "ssh-ed25519 AAAA packer\n");
    t.file("etc/ssh/authorized_keys/README", "one file per user\n");
    p.gone("authorized-keys", "etc/ssh/match_keys/bob", "ssh-ed25519 AAAA bob@build\n");
    p.gone("authorized-keys", "var/lib/sshkeys/alice/keys", "ssh-ed25519 AAAA alice@drop-in\n");
}

fn homes(p: &mut Planter<'_>) {
    let t = p.t;
    for &(user, uid, gid, home) in USERS {
        if user != "www-data" {
            t.dir_as(home, if uid == 0 { 0o700 } else { 0o750 }, uid, gid);
        }
        let own = |rel: &str| format!("{home}/{rel}");
        // ~/.ssh: only authorized_keys and authorized_keys2 go.
        t.dir_as(own(".ssh"), 0o700, uid, gid);
        p.gone_as("authorized-keys", &own(".ssh/authorized_keys"), "ssh-ed25519 AAAA build\n", 0o600, uid, gid);
        p.gone_as("authorized-keys", &own(".ssh/authorized_keys2"), "ssh-rsa AAAA old\n", 0o600, uid, gid);
        t.file_as(own(".ssh/id_rsa"), "-----BEGIN OPENSSH PRIVATE KEY-----\n", 0o600, uid, gid);
        t.file_as(own(".ssh/id_rsa.pub"), "ssh-rsa AAAA user\n", 0o644, uid, gid);
        t.file_as(own(".ssh/known_hosts"), "github.com ssh-ed25519 AAAA\n", 0o644, uid, gid);
        t.file_as(own(".ssh/config"), "Host git\n  User git\n", 0o600, uid, gid);
        for h in HISTORIES {
            p.gone_as("shell-history", &own(h), "sudo reboot\n", 0o600, uid, gid);
        }
        // Credentials: files and whole directories.
        for f in [".git-credentials", ".netrc", ".pgpass", ".docker/config.json", ".kube/config"] {
            p.gone_as("credentials", &own(f), "secret\n", 0o600, uid, gid);
        }
        for (d, files) in [
            (".aws", &["credentials", "config"][..]),
            (".config/gcloud", &["credentials.db", "access_tokens.db", "configurations/config_default"][..]),
            (".azure", &["msal_token_cache.json", "azureProfile.json"][..]),
        ] {
            for f in files {
                t.file_as(own(&format!("{d}/{f}")), "secret\n", 0o600, uid, gid);
            }
            p.mark(&own(d), vec![("credentials", Effect::Gone)]);
        }
        // Neighbours of credentials that are configuration.
        t.file_as(own(".docker/daemon.json"), "{}\n", 0o644, uid, gid);
        t.file_as(own(".kube/cache/discovery/servergroups.json"), "{}\n", 0o644, uid, gid);
        t.file_as(own(".config/htop/htoprc"), "fields=0\n", 0o644, uid, gid);
        t.file_as(own(".local/share/fish/fish_variables"), "SETUVAR x\n", 0o644, uid, gid);
        t.file_as(own(".bashrc"), "alias ll='ls -l'\n", 0o644, uid, gid);
        t.file_as(own(".profile"), "PATH=$PATH\n", 0o644, uid, gid);
    }
    // Core files sit in a crashed process's working directory; only core names go.
    p.gone_as("leftovers", "home/alice/core.1234", "ELF core\n", 0o600, 1000, 1000);
    t.file_as("home/alice/core.py", "print('not a core')\n", 0o644, 1000, 1000);
    t.file_as("home/alice/corefile", "not a core\n", 0o644, 1000, 1000);
    t.file_as("home/alice/project/.git/config", "[core]\n", 0o644, 1000, 1000);
}

fn machine(p: &mut Planter<'_>) {
    let t = p.t;
    t.file_as("etc/machine-id", format!("{MACHINE_ID}\n"), 0o444, 0, 0);
    p.mark("etc/machine-id", vec![("machine-id", Effect::Rewritten(b"uninitialized\n".to_vec(), Some(0o444)))]);
    p.gone("machine-id", "var/lib/dbus/machine-id", &format!("{MACHINE_ID}\n"));
    p.gone_as("machine-id", "var/lib/systemd/credential.secret", "0123456789abcdef", 0o400, 0, 0);
    p.gone("machine-id", "etc/machine-info", "PRETTY_HOSTNAME=build-host\n");
    p.gone("machine-id", "etc/kernel/entry-token", &format!("{MACHINE_ID}\n"));
    t.file("etc/kernel/install.conf", "layout=bls\n");
    for seed in [
        "var/lib/systemd/random-seed",
        "var/lib/random-seed",
        "boot/efi/loader/random-seed",
        "efi/loader/random-seed",
        "boot/loader/random-seed",
    ] {
        p.gone_as("random-seed", seed, "\u{1}\u{2}entropy", 0o600, 0, 0);
    }
    t.file("boot/efi/loader/loader.conf", "timeout 3\n");
    t.file("boot/vmlinuz-6.1.0", "kernel\n");
}

fn cloud_init(p: &mut Planter<'_>) {
    let t = p.t;
    t.file_as("usr/bin/cloud-init", "#!/usr/bin/python3\n", 0o755, 0, 0);
    t.file("etc/cloud/cloud.cfg", "users:\n  - default\nnetwork:\n  version: 2\n");
    t.file("etc/cloud/cloud.cfg.d/90_dpkg.cfg", "datasource_list: [ Ec2, None ]\n");
    t.file("var/lib/cloud/instances/i-0123456789abcdef0/obj.pkl", "pickle");
    t.file("var/lib/cloud/instances/i-0123456789abcdef0/user-data.txt", "#cloud-config\npassword: hunter2\n");
    t.file("var/lib/cloud/instances/i-0123456789abcdef0/sem/config_ssh", "done\n");
    t.file("var/lib/cloud/instances/i-0abc/boot-finished", "1\n");
    p.mark("var/lib/cloud/instances", vec![("cloud-init", Effect::Emptied)]);
    t.symlink("var/lib/cloud/instance", "/var/lib/cloud/instances/i-0123456789abcdef0");
    p.mark("var/lib/cloud/instance", vec![("cloud-init", Effect::Gone)]);
    for (d, f) in [("data", "instance-id"), ("sem", "config_scripts_per_once.once"), ("handlers", "handler.py")] {
        t.file(format!("var/lib/cloud/{d}/{f}"), "i-0123456789abcdef0\n");
        p.mark(&format!("var/lib/cloud/{d}"), vec![("cloud-init", Effect::Gone)]);
    }
    // The seed (NoCloud) ships with the image unless a profile says otherwise; scripts too.
    t.file("var/lib/cloud/seed/nocloud/user-data", "#cloud-config\n");
    t.file("var/lib/cloud/seed/nocloud/meta-data", "instance-id: iid-local01\n");
    p.mark("var/lib/cloud/seed", vec![("cloud-init/seed", Effect::Gone)]);
    t.file_as("var/lib/cloud/scripts/per-boot/10-app.sh", "#!/bin/sh\n", 0o755, 0, 0);
    // Network configs cloud-init generated (it is installed and will regenerate them).
    for (gen_, keep) in [
        ("etc/netplan/50-cloud-init.yaml", "etc/netplan/01-custom.yaml"),
        (
            "etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection",
            "etc/NetworkManager/system-connections/Wired.nmconnection",
        ),
        ("etc/systemd/network/10-cloud-init-eth0.network", "etc/systemd/network/20-wired.network"),
        ("etc/network/interfaces.d/50-cloud-init.cfg", "etc/network/interfaces.d/60-static.cfg"),
    ] {
        p.t.file_as(gen_, "match:\n  macaddress: 0a:1b:2c:3d:4e:5f\n", 0o600, 0, 0);
        p.mark(gen_, vec![("cloud-init/network-config", Effect::Gone)]);
        p.t.file_as(keep, "# the image's own network config\n", 0o600, 0, 0);
    }
    t.file("etc/network/interfaces", "source /etc/network/interfaces.d/*\n");
}

fn network(p: &mut Planter<'_>) {
    let t = p.t;
    for lease in [
        "var/lib/dhclient/dhclient--eth0.lease",
        "var/lib/dhcp/dhclient.eth0.leases",
        "var/lib/dhcp/dhcpd6.lease",
        "var/lib/dhcpcd/eth0.lease",
        "var/lib/dhcpcd5/eth0.lease6",
        "var/lib/NetworkManager/internal-3c2f-eth0.lease",
        "var/lib/NetworkManager/secret_key",
        "var/lib/NetworkManager/timestamps",
        "var/lib/NetworkManager/seen-bssids",
        "var/lib/wicked/lease-eth0-dhcp-ipv4.xml",
    ] {
        p.gone("network-identity", lease, "lease { fixed-address 10.0.0.12; }\n");
    }
    t.file("var/lib/dhcp/README", "not a lease\n");
    t.file("var/lib/NetworkManager/NetworkManager.state", "[main]\nNetworkingEnabled=true\n");
    t.file("var/lib/wicked/duid.xml", "<duid/>\n");
    p.gone(
        "network-identity",
        "etc/udev/rules.d/70-persistent-net.rules",
        "SUBSYSTEM==\"net\", ATTR{address}==\"0a:1b\"\n",
    );
    t.file("etc/udev/rules.d/99-local.rules", "# local rules\n");
    t.file("etc/sysconfig/network-scripts/ifcfg-eth0", IFCFG_ETH0);
    p.mark(
        "etc/sysconfig/network-scripts/ifcfg-eth0",
        vec![("network-identity", Effect::Rewritten(IFCFG_ETH0_AFTER.into(), None))],
    );
    // Nothing to drop in these: no action, not even a rewrite with the same bytes.
    t.file("etc/sysconfig/network-scripts/ifcfg-lo", "DEVICE=lo\nONBOOT=yes\n");
    t.file("etc/sysconfig/network-scripts/route-eth0", "HWADDR=this file is not an ifcfg file\n");
    t.file_as(
        "etc/sysconfig/network/ifcfg-eth1",
        "STARTMODE='auto'\nHWADDR='0a:1b:2c:3d:4e:60'\nBOOTPROTO='dhcp'\n",
        0o600,
        0,
        0,
    );
    p.mark(
        "etc/sysconfig/network/ifcfg-eth1",
        vec![("network-identity", Effect::Rewritten(b"STARTMODE='auto'\nBOOTPROTO='dhcp'\n".to_vec(), None))],
    );
    t.file("etc/sysconfig/network/config", "NETCONFIG_DNS_POLICY='auto'\n");
    p.gone("network-identity/hostname", "etc/hostname", "ip-10-0-0-12\n");
    t.file("etc/hosts", HOSTS);
    p.mark("etc/hosts", vec![("network-identity/hostname", Effect::Rewritten(HOSTS_AFTER.into(), None))]);
}

fn logs(p: &mut Planter<'_>) {
    let t = p.t;
    t.dir_as("var/log", 0o755, 0, 0);
    p.live_log("var/log/syslog", 0o640, 104, 4);
    p.live_log("var/log/auth.log", 0o640, 104, 4);
    p.live_log("var/log/kern.log", 0o640, 104, 4);
    p.live_log("var/log/dpkg.log", 0o644, 0, 0);
    p.live_log("var/log/nginx/access.log", 0o640, 33, 4);
    p.live_log("var/log/nginx/error.log", 0o640, 33, 4);
    p.live_log("var/log/php8.2-fpm.log", 0o600, 0, 0);
    p.live_log("var/log/wtmp", 0o664, 0, 43);
    p.live_log("var/log/btmp", 0o660, 0, 43);
    p.live_log("var/log/lastlog", 0o664, 0, 43);
    p.live_log("var/log/faillog", 0o644, 0, 0);
    t.dir_as("var/log/audit", 0o700, 0, 0);
    p.live_log("var/log/audit/audit.log", 0o600, 0, 0);
    for rotated in [
        "var/log/syslog.1",
        "var/log/syslog.2.gz",
        "var/log/auth.log.3.xz",
        "var/log/dpkg.log.old",
        "var/log/messages-20240131",
        "var/log/nginx/access.log.1",
        "var/log/nginx/error.log.14.gz",
        "var/log/audit/audit.log.1",
        "var/log/btmp.1",
    ] {
        p.gone_as("logs", rotated, "old log\n", 0o640, 0, 4);
    }
    // Empty logs need no truncation; directories and a link stay.
    t.file_as("var/log/empty.log", "", 0o640, 0, 4);
    t.dir_as("var/log/private", 0o700, 0, 0);
    t.symlink("var/log/README", "../../usr/share/doc/systemd/README.logs");
    t.dir_as("var/log/journal", 0o2755, 0, 101);
    t.dir_as(format!("var/log/journal/{MACHINE_ID}"), 0o2755, 0, 101);
    t.file_as(format!("var/log/journal/{MACHINE_ID}/system.journal"), "LPKSHHRH journal", 0o640, 0, 101);
    t.file_as(format!("var/log/journal/{MACHINE_ID}/user-1000.journal"), "LPKSHHRH journal", 0o640, 1000, 101);
    p.mark("var/log/journal", vec![("logs/journal", Effect::Emptied)]);
    p.gone("logs", "var/lib/rsyslog/imjournal.state", "cursor=s=abc\n");
}

fn tmp(p: &mut Planter<'_>) {
    let t = p.t;
    t.dir("tmp", 0o1777);
    t.file_as("tmp/build.sh", "#!/bin/sh\n", 0o755, 1000, 1000);
    t.dir("tmp/.X11-unix", 0o1777);
    t.socket("tmp/.X11-unix/X0");
    t.file("tmp/nested/a/b/c/deep.txt", "deep\n");
    t.dir_as("tmp/private", 0o700, 1000, 1000);
    t.file_as("tmp/private/secret", "x", 0o600, 1000, 1000);
    t.fifo("tmp/fifo");
    t.socket("tmp/agent.sock");
    t.symlink("tmp/dangling", "/nonexistent/target");
    p.mark("tmp", vec![("tmp", Effect::Emptied)]);
    t.dir("var/tmp", 0o1777);
    t.file("var/tmp/systemd-private-abc-chronyd.service-xyz/tmp/f", "f\n");
    t.file("var/tmp/cloud-init/cloud-init-dhcp-xyz/dhcp.leases", "lease\n");
    t.file("var/tmp/.hidden", "h\n");
    p.mark("var/tmp", vec![("tmp", Effect::Emptied)]);
}

fn packages(p: &mut Planter<'_>) {
    let t = p.t;
    t.file_as("usr/bin/apt-get", "#!binary\n", 0o755, 0, 0);
    for deb in ["var/cache/apt/archives/nginx_1.22.1-9_amd64.deb", "var/cache/apt/archives/libssl3_3.0.11_amd64.deb"] {
        p.gone("package-cache", deb, "!<arch>\n");
    }
    // apt needs its lock files and partial/ directories; only their contents go.
    t.file_as("var/cache/apt/archives/lock", "", 0o640, 0, 0);
    t.dir_as("var/cache/apt/archives/partial", 0o700, 42, 0);
    t.file_as("var/cache/apt/archives/partial/curl_8.0_amd64.deb", "half", 0o644, 42, 0);
    p.mark("var/cache/apt/archives/partial", vec![("package-cache", Effect::Emptied)]);
    p.gone("package-cache", "var/cache/apt/pkgcache.bin", "cache");
    p.gone("package-cache", "var/cache/apt/srcpkgcache.bin", "cache");
    for list in [
        "var/lib/apt/lists/mirror.example_debian_dists_bookworm_InRelease",
        "var/lib/apt/lists/mirror.example_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
    ] {
        p.gone("package-cache", list, "Package: x\n");
    }
    t.file_as("var/lib/apt/lists/lock", "", 0o640, 0, 0);
    t.dir_as("var/lib/apt/lists/partial", 0o700, 42, 0);
    t.file_as("var/lib/apt/lists/partial/x_Packages", "half", 0o644, 42, 0);
    p.mark("var/lib/apt/lists/partial", vec![("package-cache", Effect::Emptied)]);
    t.file("var/lib/apt/lists/auxfiles/y", "aux\n");
    p.mark("var/lib/apt/lists/auxfiles", vec![("package-cache", Effect::Emptied)]);
    t.file("var/lib/apt/extended_states", "Package: nginx\nAuto-Installed: 0\n");
    t.file("var/cache/debconf/config.dat", "Name: x\n");
    // No dnf in this root: its cache is another distribution's business.
    t.file("var/cache/dnf/packages/x.rpm", "rpm\n");
}

fn leftovers(p: &mut Planter<'_>) {
    let t = p.t;
    for f in ["passwd-", "shadow-", "group-", "gshadow-", "subuid-", "subgid-"] {
        p.gone_as("leftovers", &format!("etc/{f}"), "old copy\n", 0o600, 0, 0);
    }
    t.file_as("var/crash/_usr_bin_app.1000.crash", "ProblemType: Crash\n", 0o640, 1000, 0);
    t.file("var/crash/subdir/x.upload", "x\n");
    p.mark("var/crash", vec![("leftovers", Effect::Emptied)]);
    t.file("var/lib/systemd/coredump/core.app.1000.abc.1234.zst", "zstd core\n");
    p.mark("var/lib/systemd/coredump", vec![("leftovers", Effect::Emptied)]);
    p.gone_as("leftovers", "core", "ELF core\n", 0o600, 0, 0);
    p.gone("leftovers", "etc/foo~", "editor backup\n");
    p.gone("leftovers", "etc/x.bak", "backup\n");
    p.gone("leftovers", "etc/nginx/sites-available/default.bak", "backup\n");
    t.file("etc/nginx/sites-available/default", "server { listen 80; }\n");
    t.file("etc/nginx/nginx.conf", "events {}\n");
}

/// Artifacts of the operations that are off unless a profile enables them.
fn opt_in(p: &mut Planter<'_>) {
    let t = p.t;
    // Debian: var/mail is the directory, var/spool/mail links to it.
    t.dir_as("var/mail", 0o2775, 0, 8);
    t.file_as("var/mail/alice", "From root\nSubject: build done\n", 0o660, 1000, 8);
    t.file_as("var/mail/root", "From cron\n", 0o600, 0, 8);
    p.mark("var/mail", vec![("mail-spool", Effect::Emptied)]);
    t.symlink("var/spool/mail", "../mail");
    t.dir_as("var/spool/cron/crontabs", 0o1730, 0, 0);
    t.file_as("var/spool/cron/crontabs/alice", "* * * * * /home/alice/job\n", 0o600, 1000, 0);
    p.mark("var/spool/cron/crontabs", vec![("user-crontabs", Effect::Emptied)]);
    t.file("var/spool/cron/atjobs/.SEQ", "0\n");
    for db in ["var/lib/rpm/__db.001", "var/lib/rpm/__db.002"] {
        p.gone("rpm-db", db, "berkeley env\n");
    }
    t.file("var/lib/rpm/rpmdb.sqlite", "SQLite format 3\n");
}
