//! The check catalogue as data: every check is an id, a title, a level, references, where it
//! applies, a [`Test`] built from the typed primitives, and a remediation. `amiprep checks list`
//! prints this table; nothing else defines a check.
//!
//! References: `cis_ubuntu` are CIS Ubuntu Linux 22.04 LTS Benchmark v2.0.0 section numbers,
//! `cis_al2023` CIS Amazon Linux 2023 Benchmark v1.0.0, `devsec` the dev-sec linux-baseline and
//! ssh-baseline control ids, `lynis` Lynis test ids. An empty string means no counterpart.

use serde::Serialize;

use super::Family;

/// A test: one typed primitive, or a combination of them.
#[derive(Debug)]
pub enum Test {
    /// The file's mode has no bit outside `max` and every bit of `need`; its owner and group
    /// are among the names (resolved in the root's passwd and group; `root` is always uid 0).
    /// The last path component may be a glob, and then every match must pass.
    Mode {
        path: &'static str,
        max: u32,
        need: u32,
        owner: &'static [&'static str],
        group: &'static [&'static str],
        missing: Missing,
    },
    /// None of these paths (globs in the last component) exists.
    Absent(&'static [&'static str]),
    /// The path exists.
    Present(&'static str),
    /// Some line of these files (globs in the last component) matches the regex (`want`), or
    /// no line of them does (`!want`). `{os_id}` in the pattern is the root's os-release `ID`.
    Content {
        paths: &'static [&'static str],
        pattern: &'static str,
        want: bool,
    },
    /// A kernel parameter: the runtime value (live systems) and every persisted assignment, in
    /// sysctl's precedence order; the last persisted one is what the next boot applies.
    Sysctl {
        key: &'static str,
        want: Want,
    },
    /// A kernel module cannot be loaded (`install <m> /bin/false` or `/bin/true`, and
    /// `blacklist <m>` in modprobe.d) and is not loaded.
    Module(&'static str),
    /// The directory is its own mount (not applicable on a single-volume image).
    SeparateMount(&'static str),
    /// The mount at the path has the option, in the live mount table and in fstab (not
    /// applicable when the path is not a separate mount).
    MountOption {
        path: &'static str,
        option: &'static str,
    },
    /// Some package of `names` is installed (`installed`), or none is.
    Packages {
        names: &'static [&'static str],
        installed: bool,
    },
    /// Systemd units: some is enabled / active (`Enabled`, `Active`), or none is (`Disabled`).
    Service {
        units: &'static [&'static str],
        state: ServiceState,
    },
    /// Exactly one of these groups of alternative units is enabled (time daemons).
    OneEnabled(&'static [&'static [&'static str]]),
    /// A `key value` setting of config files read in order, the last value winning, compared
    /// with `want`; `default` is the program's value when no file sets it.
    Setting {
        files: &'static [&'static str],
        key: &'static str,
        style: Style,
        default: Option<&'static str>,
        want: Want,
    },
    /// The effective global value of an sshd option (see [`crate::sshd::Config::effective`]).
    Sshd {
        key: &'static str,
        want: Want,
    },
    Accounts(AccountRule),
    /// A finding of the one shared filesystem scan.
    Scan(ScanRule),
    Image(ImageRule),
    /// Every part passes (not-applicable parts are ignored).
    All(&'static [Test]),
    /// Some part passes.
    Any(&'static [Test]),
    /// `then` applies only when `cond` passes; otherwise not applicable with `otherwise`.
    When {
        cond: &'static Test,
        then: &'static Test,
        otherwise: &'static str,
    },
    /// Paths, modes and package names that differ between the two families.
    ByFamily {
        debian: &'static Test,
        rhel: &'static Test,
    },
    /// Only meaningful on the running system (not applicable under `--root`).
    Live(&'static Test),
}

/// What a missing file means for a [`Test::Mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Pass,
    Fail,
    NotApplicable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    Enabled,
    Disabled,
    /// Running now; under `--root` the enabled state stands in for it.
    Active,
}

/// How a [`Test::Setting`] file writes `key value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `KEY VALUE` (login.defs).
    Words,
    /// `key = value` or `key=value` (pwquality.conf, faillock.conf, coredump.conf, useradd).
    Assign,
    /// A shell assignment, possibly `export`ed or `readonly` (TMOUT in profile scripts).
    Shell,
}

/// A number in a [`Want`]: literal, or a profile parameter (see [`super::PARAMS`]).
#[derive(Debug, Clone, Copy)]
pub enum Num {
    Lit(i64),
    Param(&'static str),
}

/// What a value must be.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// Equal, ignoring ASCII case.
    Eq(&'static str),
    OneOf(&'static [&'static str]),
    /// Anything but this value (e.g. `Banner` not `none`).
    Not(&'static str),
    AtMost(Num),
    AtLeast(Num),
    /// Within the bounds, inclusive.
    Range(Num, Num),
    /// A comma-separated list containing none of these.
    NoneOf(&'static [&'static str]),
    /// `a:b:c` with each part at most the given one (sshd MaxStartups).
    ColonsAtMost(&'static [i64]),
    /// An octal umask that masks at least these bits.
    MaskCovers(u32),
    /// sshd PermitRootLogin as the profile's `permit_root_login` allows.
    PermitRootLogin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRule {
    Uid0OnlyRoot,
    RootGid0,
    ShadowedPasswords,
    NoEmptyPasswords,
    UniqueUids,
    UniqueGids,
    UniqueUserNames,
    UniqueGroupNames,
    PrimaryGroupsExist,
    SystemAccountsNologin,
    SystemAccountsLocked,
    RootPasswordLocked,
    HomeDirectories,
    NoTrustFiles,
    RootPath,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanRule {
    WorldWritableFiles,
    WorldWritableDirsSticky,
    Unowned,
    Ungrouped,
    SuidSgid,
    /// World-writable files under this root-relative directory.
    WorldWritableUnder(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRule {
    AuthorizedKeys,
    ShellHistories,
    Credentials,
    MachineId,
    RotatedLogs,
}

/// How a failed check is put right.
#[derive(Debug, Clone, Copy)]
pub enum Fix {
    None,
    /// `seal --remediate` fixes the failing parts it safely can (modes, sysctl, modules, sshd,
    /// login.defs).
    Auto,
    /// What an administrator should do.
    Manual(&'static str),
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Refs {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub cis_ubuntu: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub cis_al2023: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub devsec: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub lynis: &'static str,
}

#[derive(Debug)]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    /// One of [`SECTIONS`].
    pub section: &'static str,
    /// 1 or 2 (image-readiness checks are level 1).
    pub level: u8,
    pub refs: Refs,
    /// Only for this OS family (not applicable on the other).
    pub family: Option<Family>,
    /// About the kernel or boot of a machine: not applicable inside a container.
    pub host_only: bool,
    pub test: Test,
    pub fix: Fix,
}

impl Check {
    /// The sets this check belongs to.
    pub fn sets(&self) -> &'static [&'static str] {
        match (self.section, self.level) {
            ("image", _) => &["image-ready"],
            (_, 1) => &["cis-level1", "cis-level2"],
            _ => &["cis-level2"],
        }
    }

    const fn refs(
        mut self,
        cis_ubuntu: &'static str,
        cis_al2023: &'static str,
        devsec: &'static str,
        lynis: &'static str,
    ) -> Self {
        self.refs = Refs { cis_ubuntu, cis_al2023, devsec, lynis };
        self
    }
    const fn auto(mut self) -> Self {
        self.fix = Fix::Auto;
        self
    }
    const fn manual(mut self, how: &'static str) -> Self {
        self.fix = Fix::Manual(how);
        self
    }
    const fn only(mut self, f: Family) -> Self {
        self.family = Some(f);
        self
    }
    const fn host(mut self) -> Self {
        self.host_only = true;
        self
    }
}

const fn c(id: &'static str, section: &'static str, level: u8, title: &'static str, test: Test) -> Check {
    Check {
        id,
        title,
        section,
        level,
        refs: Refs { cis_ubuntu: "", cis_al2023: "", devsec: "", lynis: "" },
        family: None,
        host_only: false,
        test,
        fix: Fix::None,
    }
}

/// Sections in report order, with their headings.
pub const SECTIONS: &[(&str, &str)] = &[
    ("filesystem", "Filesystem"),
    ("boot", "Boot and process"),
    ("banners", "Banners"),
    ("services", "Services"),
    ("network", "Network"),
    ("ssh", "SSH"),
    ("accounts", "Accounts and PAM"),
    ("logging", "Logging"),
    ("files", "Files and users"),
    ("image", "Image readiness"),
];

/// The built-in check sets.
pub const SETS: &[(&str, &str)] = &[
    ("cis-level1", "CIS-style level 1: every section of the catalogue, Debian/Ubuntu and Amazon Linux/RHEL"),
    ("cis-level2", "cis-level1 plus the level 2 checks (more modules, auditd, stricter kernel settings)"),
    ("image-ready", "The sealed state: no per-instance identity, access or history left in the image"),
];

const ROOT: &[&str] = &["root"];
const SSHD_PRESENT: Test = Test::Present("etc/ssh/sshd_config");
const SHADOW_GROUPS: &[&str] = &["root", "shadow"];

const fn mode(path: &'static str, max: u32, missing: Missing) -> Test {
    Test::Mode { path, max, need: 0, owner: ROOT, group: ROOT, missing }
}
const fn sysctl(key: &'static str, value: &'static str) -> Test {
    Test::Sysctl { key, want: Want::Eq(value) }
}
const fn disabled(units: &'static [&'static str]) -> Test {
    Test::Service { units, state: ServiceState::Disabled }
}
const fn absent_pkgs(names: &'static [&'static str]) -> Test {
    Test::Packages { names, installed: false }
}
/// Not applicable when the root has no `etc/ssh/sshd_config`.
const fn sshd(key: &'static str, want: Want) -> Test {
    Test::Sshd { key, want }
}
const fn login_defs(key: &'static str, default: &'static str, want: Want) -> Test {
    Test::Setting { files: &["etc/login.defs"], key, style: Style::Words, default: Some(default), want }
}
const fn module(m: &'static str) -> Test {
    Test::Module(m)
}
const fn param_at_most(p: &'static str) -> Want {
    Want::AtMost(Num::Param(p))
}
const fn param_at_least(p: &'static str) -> Want {
    Want::AtLeast(Num::Param(p))
}
const fn scan(rule: ScanRule) -> Test {
    Test::Scan(rule)
}
const fn accounts(rule: AccountRule) -> Test {
    Test::Accounts(rule)
}

const CRON_INSTALLED: Test =
    Test::Packages { names: &["cron", "cronie", "cronie-noanacron", "systemd-cron"], installed: true };
const AT_INSTALLED: Test = Test::Packages { names: &["at"], installed: true };
const SUDO_INSTALLED: Test = Test::Packages { names: &["sudo", "sudo-ldap"], installed: true };
const MTA_INSTALLED: Test =
    Test::Packages { names: &["postfix", "exim4-daemon-light", "exim4-daemon-heavy", "sendmail"], installed: true };

/// Weak algorithms (CIS U22 5.1.6, 5.1.12, 5.1.15).
const WEAK_CIPHERS: &[&str] = &[
    "3des-cbc",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "blowfish-cbc",
    "cast128-cbc",
    "arcfour",
    "arcfour128",
    "arcfour256",
    "rijndael-cbc@lysator.liu.se",
    "chacha20-poly1305@openssh.com",
];
const WEAK_MACS: &[&str] = &[
    "hmac-md5",
    "hmac-md5-96",
    "hmac-ripemd160",
    "hmac-sha1-96",
    "umac-64@openssh.com",
    "hmac-md5-etm@openssh.com",
    "hmac-md5-96-etm@openssh.com",
    "hmac-ripemd160-etm@openssh.com",
    "hmac-sha1-96-etm@openssh.com",
    "umac-64-etm@openssh.com",
    "hmac-sha1",
    "hmac-sha1-etm@openssh.com",
];
const WEAK_KEX: &[&str] =
    &["diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1"];

/// Every check, in catalogue order.
pub static CHECKS: &[Check] = &[
    // ---- Filesystem
    c("fs-module-cramfs", "filesystem", 1, "cramfs cannot be loaded", module("cramfs"))
        .refs("1.1.1.1", "1.1.1.3", "os-10", "FILE-6430").auto(),
    c("fs-module-freevxfs", "filesystem", 1, "freevxfs cannot be loaded", module("freevxfs"))
        .refs("1.1.1.2", "1.1.1.4", "os-10", "FILE-6430").auto(),
    c("fs-module-hfs", "filesystem", 1, "hfs cannot be loaded", module("hfs"))
        .refs("1.1.1.3", "1.1.1.5", "os-10", "FILE-6430").auto(),
    c("fs-module-hfsplus", "filesystem", 1, "hfsplus cannot be loaded", module("hfsplus"))
        .refs("1.1.1.4", "1.1.1.6", "os-10", "FILE-6430").auto(),
    c("fs-module-jffs2", "filesystem", 1, "jffs2 cannot be loaded", module("jffs2"))
        .refs("1.1.1.5", "1.1.1.7", "os-10", "FILE-6430").auto(),
    c("fs-module-squashfs", "filesystem", 2, "squashfs cannot be loaded", module("squashfs"))
        .refs("1.1.1.6", "", "os-10", "FILE-6430").auto(),
    c("fs-module-udf", "filesystem", 2, "udf cannot be loaded", module("udf"))
        .refs("1.1.1.7", "", "os-10", "FILE-6430").auto(),
    c("fs-module-usb-storage", "filesystem", 1, "usb-storage cannot be loaded", module("usb-storage"))
        .refs("1.1.1.8", "", "", "USB-1000").auto(),
    c("fs-tmp-separate", "filesystem", 1, "/tmp is a separate mount (tmpfs allowed)", Test::SeparateMount("tmp"))
        .refs("1.1.2.1.1", "", "", "FILE-6310")
        .manual("mount a tmpfs on /tmp: `systemctl enable tmp.mount`, or an fstab line"),
    c("fs-tmp-nodev", "filesystem", 1, "/tmp is mounted nodev", Test::MountOption { path: "tmp", option: "nodev" })
        .refs("1.1.2.1.2", "", "os-14", "")
        .manual("add nodev to the /tmp mount options (fstab or a tmp.mount drop-in)"),
    c("fs-tmp-nosuid", "filesystem", 1, "/tmp is mounted nosuid", Test::MountOption { path: "tmp", option: "nosuid" })
        .refs("1.1.2.1.3", "", "os-15", "")
        .manual("add nosuid to the /tmp mount options (fstab or a tmp.mount drop-in)"),
    c("fs-tmp-noexec", "filesystem", 1, "/tmp is mounted noexec", Test::MountOption { path: "tmp", option: "noexec" })
        .refs("1.1.2.1.4", "", "os-16", "")
        .manual("add noexec to the /tmp mount options (fstab or a tmp.mount drop-in)"),
    c("fs-dev-shm-nodev", "filesystem", 1, "/dev/shm is mounted nodev", Test::MountOption { path: "dev/shm", option: "nodev" })
        .refs("1.1.2.2.2", "", "", "")
        .host()
        .manual("add `tmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec 0 0` to /etc/fstab"),
    c("fs-dev-shm-nosuid", "filesystem", 1, "/dev/shm is mounted nosuid", Test::MountOption { path: "dev/shm", option: "nosuid" })
        .refs("1.1.2.2.3", "", "", "")
        .host()
        .manual("add `tmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec 0 0` to /etc/fstab"),
    c("fs-dev-shm-noexec", "filesystem", 1, "/dev/shm is mounted noexec", Test::MountOption { path: "dev/shm", option: "noexec" })
        .refs("1.1.2.2.4", "", "", "")
        .host()
        .manual("add `tmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec 0 0` to /etc/fstab"),
    c(
        "fs-var-tmp-options",
        "filesystem",
        1,
        "/var/tmp, where separate, is mounted nodev,nosuid,noexec",
        Test::All(&[
            Test::MountOption { path: "var/tmp", option: "nodev" },
            Test::MountOption { path: "var/tmp", option: "nosuid" },
            Test::MountOption { path: "var/tmp", option: "noexec" },
        ]),
    )
    .refs("1.1.2.5.2-4", "", "", "")
    .manual("add nodev,nosuid,noexec to the /var/tmp line of /etc/fstab"),
    c(
        "fs-home-nodev",
        "filesystem",
        1,
        "/home, where separate, is mounted nodev,nosuid",
        Test::All(&[
            Test::MountOption { path: "home", option: "nodev" },
            Test::MountOption { path: "home", option: "nosuid" },
        ]),
    )
    .refs("1.1.2.3.2-3", "", "", "")
    .manual("add nodev,nosuid to the /home line of /etc/fstab"),
    c(
        "fs-var-options",
        "filesystem",
        1,
        "/var, where separate, is mounted nodev,nosuid",
        Test::All(&[Test::MountOption { path: "var", option: "nodev" }, Test::MountOption { path: "var", option: "nosuid" }]),
    )
    .refs("1.1.2.4.2-3", "", "", "")
    .manual("add nodev,nosuid to the /var line of /etc/fstab"),
    c(
        "fs-var-log-options",
        "filesystem",
        1,
        "/var/log and /var/log/audit, where separate, are mounted nodev,nosuid,noexec",
        Test::All(&[
            Test::MountOption { path: "var/log", option: "nodev" },
            Test::MountOption { path: "var/log", option: "nosuid" },
            Test::MountOption { path: "var/log", option: "noexec" },
            Test::MountOption { path: "var/log/audit", option: "nodev" },
            Test::MountOption { path: "var/log/audit", option: "nosuid" },
            Test::MountOption { path: "var/log/audit", option: "noexec" },
        ]),
    )
    .refs("1.1.2.6.2-4, 1.1.2.7.2-4", "", "", "")
    .manual("add nodev,nosuid,noexec to the /var/log and /var/log/audit lines of /etc/fstab"),
    c(
        "fs-tmp-sticky",
        "filesystem",
        1,
        "/tmp and /var/tmp have the sticky bit",
        Test::All(&[
            Test::Mode { path: "tmp", max: 0o1777, need: 0o1000, owner: ROOT, group: ROOT, missing: Missing::Pass },
            Test::Mode { path: "var/tmp", max: 0o1777, need: 0o1000, owner: ROOT, group: ROOT, missing: Missing::Pass },
        ]),
    )
    .refs("", "", "", "FILE-6362")
    .auto(),
    // ---- Boot and process
    c(
        "boot-grub-cfg",
        "boot",
        1,
        "grub.cfg is owned by root and not writable by group or others",
        Test::ByFamily {
            debian: &Test::Mode { path: "boot/grub/grub.cfg", max: 0o644, need: 0, owner: ROOT, group: ROOT, missing: Missing::NotApplicable },
            rhel: &Test::Mode { path: "boot/grub2/grub.cfg", max: 0o644, need: 0, owner: ROOT, group: ROOT, missing: Missing::NotApplicable },
        },
    )
    .refs("1.4.2", "1.4.2", "", "BOOT-5184")
    .host()
    .auto(),
    c("boot-aslr", "boot", 1, "address space layout randomisation is full (kernel.randomize_va_space = 2)", sysctl("kernel.randomize_va_space", "2"))
        .refs("1.5.1", "1.5.1", "sysctl-32", "KRNL-6000").host().auto(),
    c("boot-ptrace-scope", "boot", 1, "ptrace is restricted (kernel.yama.ptrace_scope >= 1)", Test::Sysctl { key: "kernel.yama.ptrace_scope", want: Want::AtLeast(Num::Lit(1)) })
        .refs("1.5.2", "1.5.2", "", "KRNL-6000").host().auto(),
    c("boot-suid-dumpable", "boot", 1, "setuid programs do not dump core (fs.suid_dumpable = 0)", sysctl("fs.suid_dumpable", "0"))
        .refs("1.5.3", "1.5.4", "sysctl-31a", "KRNL-6000").host().auto(),
    c(
        "boot-core-limits",
        "boot",
        1,
        "core dumps are limited to zero for everyone (`* hard core 0`)",
        Test::Content { paths: &["etc/security/limits.conf", "etc/security/limits.d/*.conf"], pattern: r"(?m)^\s*\*\s+hard\s+core\s+0\s*$", want: true },
    )
    .refs("1.5.3", "1.5.4", "", "KRNL-5820")
    .manual("add `* hard core 0` to /etc/security/limits.d/60-coredump.conf"),
    c(
        "boot-coredump-storage",
        "boot",
        1,
        "systemd-coredump stores nothing (Storage=none, ProcessSizeMax=0)",
        Test::When {
            cond: &Test::Any(&[Test::Present("lib/systemd/systemd-coredump"), Test::Present("usr/lib/systemd/systemd-coredump")]),
            then: &Test::All(&[
                Test::Setting { files: &["etc/systemd/coredump.conf", "etc/systemd/coredump.conf.d/*.conf"], key: "Storage", style: Style::Assign, default: Some("external"), want: Want::Eq("none") },
                Test::Setting { files: &["etc/systemd/coredump.conf", "etc/systemd/coredump.conf.d/*.conf"], key: "ProcessSizeMax", style: Style::Assign, default: Some("2G"), want: Want::Eq("0") },
            ]),
            otherwise: "systemd-coredump is not installed",
        },
    )
    .refs("1.5.3", "1.5.4", "", "KRNL-5820")
    .manual("set Storage=none and ProcessSizeMax=0 in /etc/systemd/coredump.conf.d/60-amiprep.conf"),
    c("boot-prelink-absent", "boot", 1, "prelink is not installed", absent_pkgs(&["prelink"]))
        .refs("1.5.4", "1.5.3", "", "")
        .manual("remove the prelink package (`prelink -ua` first)"),
    c(
        "boot-apport-disabled",
        "boot",
        1,
        "apport does not collect crash reports",
        Test::Any(&[
            Test::Packages { names: &["apport"], installed: false },
            Test::Setting { files: &["etc/default/apport"], key: "enabled", style: Style::Assign, default: Some("1"), want: Want::Eq("0") },
        ]),
    )
    .refs("1.5.5", "", "", "")
    .only(Family::Debian)
    .manual("set enabled=0 in /etc/default/apport, or remove apport"),
    c("boot-kptr-restrict", "boot", 1, "kernel pointers are hidden (kernel.kptr_restrict = 2)", sysctl("kernel.kptr_restrict", "2"))
        .refs("", "", "sysctl-03", "KRNL-6000").host().auto(),
    c("boot-dmesg-restrict", "boot", 1, "dmesg is for root only (kernel.dmesg_restrict = 1)", sysctl("kernel.dmesg_restrict", "1"))
        .refs("", "", "", "KRNL-6000").host().auto(),
    c("boot-protected-links", "boot", 1, "hard and symbolic link protections are on", Test::All(&[
        Test::Sysctl { key: "fs.protected_hardlinks", want: Want::Eq("1") },
        Test::Sysctl { key: "fs.protected_symlinks", want: Want::Eq("1") },
    ]))
    .refs("", "", "", "KRNL-6000").host().auto(),
    c("boot-sysrq", "boot", 2, "the magic SysRq key is off (kernel.sysrq = 0)", sysctl("kernel.sysrq", "0"))
        .refs("", "", "sysctl-30", "KRNL-6000").host().auto(),
    c("boot-unprivileged-bpf", "boot", 2, "unprivileged BPF is off (kernel.unprivileged_bpf_disabled = 1)", sysctl("kernel.unprivileged_bpf_disabled", "1"))
        .refs("", "", "", "KRNL-6000").host().auto(),
    c("boot-protected-fifos-regular", "boot", 2, "FIFO and regular file protections in sticky directories are on", Test::All(&[
        Test::Sysctl { key: "fs.protected_fifos", want: Want::AtLeast(Num::Lit(1)) },
        Test::Sysctl { key: "fs.protected_regular", want: Want::AtLeast(Num::Lit(1)) },
    ]))
    .refs("", "", "", "KRNL-6000").host().auto(),
    // ---- Banners
    c(
        "banner-issue",
        "banners",
        1,
        "/etc/issue does not reveal the OS (no \\m \\r \\s \\v, no OS name)",
        Test::Content { paths: &["etc/issue"], pattern: r"(?mi)\\[mrsv]|{os_id}", want: false },
    )
    .refs("1.7.2", "1.7.2", "", "BANN-7126")
    .manual("write a site banner to /etc/issue without escapes or OS details"),
    c(
        "banner-issue-net",
        "banners",
        1,
        "/etc/issue.net does not reveal the OS",
        Test::Content { paths: &["etc/issue.net"], pattern: r"(?mi)\\[mrsv]|{os_id}", want: false },
    )
    .refs("1.7.3", "1.7.3", "", "BANN-7130")
    .manual("write a site banner to /etc/issue.net without escapes or OS details"),
    c(
        "banner-motd",
        "banners",
        1,
        "/etc/motd does not reveal the OS",
        Test::Content { paths: &["etc/motd"], pattern: r"(?mi)\\[mrsv]|{os_id}", want: false },
    )
    .refs("1.7.1", "1.7.1", "", "")
    .manual("remove OS details and escapes from /etc/motd"),
    c(
        "banner-modes",
        "banners",
        1,
        "/etc/issue, /etc/issue.net and /etc/motd are at most 0644 root:root",
        Test::All(&[
            Test::Mode { path: "etc/issue", max: 0o644, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
            Test::Mode { path: "etc/issue.net", max: 0o644, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
            Test::Mode { path: "etc/motd", max: 0o644, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
        ]),
    )
    .refs("1.7.4-6", "1.7.4-6", "", "")
    .auto(),
    // ---- Services
    c("svc-no-inetd", "services", 1, "no inetd or xinetd is installed", absent_pkgs(&["xinetd", "openbsd-inetd", "inetutils-inetd", "rlinetd"]))
        .refs("2.1.19", "2.1.20", "package-05", "")
        .manual("remove the inetd package; run services under systemd"),
    c("svc-no-telnet", "services", 1, "no telnet server or client is installed", absent_pkgs(&["telnetd", "telnet", "inetutils-telnet", "inetutils-telnetd", "telnet-server"]))
        .refs("2.2.4", "2.2.4", "package-02", "")
        .manual("remove the telnet packages"),
    c("svc-no-rsh", "services", 1, "no rsh server or client is installed", absent_pkgs(&["rsh-client", "rsh-server", "rsh", "rsh-redone-client", "rsh-redone-server"]))
        .refs("2.2.2", "", "package-03", "")
        .manual("remove the rsh packages"),
    c("svc-no-nis", "services", 1, "no NIS server or client is installed", absent_pkgs(&["nis", "ypbind", "ypserv", "yp-tools"]))
        .refs("2.1.10, 2.2.1", "2.1.9, 2.2.1", "package-04", "")
        .manual("remove the NIS packages"),
    c("svc-no-tftp", "services", 1, "no tftp server or client is installed", absent_pkgs(&["tftpd-hpa", "tftp-hpa", "tftpd", "tftp", "tftp-server", "atftpd"]))
        .refs("2.1.16", "2.1.17", "package-06", "")
        .manual("remove the tftp packages"),
    c("svc-avahi", "services", 1, "avahi is not enabled", disabled(&["avahi-daemon.service", "avahi-daemon.socket"]))
        .refs("2.1.2", "2.1.2", "", "").manual("systemctl disable --now avahi-daemon.socket avahi-daemon.service (or remove avahi-daemon)"),
    c("svc-cups", "services", 1, "cups is not enabled", disabled(&["cups.service", "cups.socket"]))
        .refs("2.1.11", "2.1.11", "", "").manual("systemctl disable --now cups.socket cups.service (or remove cups)"),
    c("svc-dhcp-server", "services", 1, "no DHCP server is enabled", disabled(&["isc-dhcp-server.service", "isc-dhcp-server6.service", "dhcpd.service", "kea-dhcp4-server.service", "kea-dhcp6-server.service"]))
        .refs("2.1.3", "2.1.3", "", "").manual("disable or remove the DHCP server"),
    c("svc-dns-server", "services", 1, "no DNS server is enabled", disabled(&["named.service", "bind9.service"]))
        .refs("2.1.4", "2.1.4", "", "").manual("disable or remove the DNS server"),
    c("svc-ftp-server", "services", 1, "no FTP server is enabled", disabled(&["vsftpd.service", "proftpd.service", "pure-ftpd.service"]))
        .refs("2.1.6", "2.1.6", "", "").manual("disable or remove the FTP server"),
    c("svc-ldap-server", "services", 1, "no LDAP server is enabled", disabled(&["slapd.service"]))
        .refs("2.1.7", "2.1.7", "", "").manual("disable or remove slapd"),
    c("svc-nfs-server", "services", 1, "no NFS server is enabled", disabled(&["nfs-server.service", "nfs-kernel-server.service"]))
        .refs("2.1.9", "2.1.10", "", "").manual("disable or remove the NFS server"),
    c("svc-rpcbind", "services", 1, "rpcbind is not enabled", disabled(&["rpcbind.service", "rpcbind.socket"]))
        .refs("2.1.12", "2.1.12", "", "").manual("systemctl disable --now rpcbind.socket rpcbind.service"),
    c("svc-rsync", "services", 1, "the rsync daemon is not enabled", disabled(&["rsync.service", "rsyncd.service"]))
        .refs("2.1.13", "2.1.13", "", "").manual("systemctl disable --now rsync"),
    c("svc-samba", "services", 1, "samba is not enabled", disabled(&["smbd.service", "smb.service", "nmbd.service", "nmb.service"]))
        .refs("2.1.14", "2.1.14", "", "").manual("disable or remove samba"),
    c("svc-snmp", "services", 1, "the SNMP daemon is not enabled", disabled(&["snmpd.service"]))
        .refs("2.1.15", "2.1.15", "", "").manual("disable or remove snmpd"),
    c(
        "svc-mta-local-only",
        "services",
        1,
        "the mail transfer agent listens on loopback only",
        Test::When {
            cond: &MTA_INSTALLED,
            then: &Test::Any(&[
                Test::Setting { files: &["etc/postfix/main.cf"], key: "inet_interfaces", style: Style::Assign, default: Some("all"), want: Want::OneOf(&["loopback-only", "localhost", "127.0.0.1"]) },
                Test::Content { paths: &["etc/exim4/update-exim4.conf.conf"], pattern: r"(?m)^\s*dc_local_interfaces\s*=\s*'127\.0\.0\.1\s*;\s*::1'\s*$", want: true },
            ]),
            otherwise: "no mail transfer agent is installed",
        },
    )
    .refs("2.1.21", "2.1.21", "", "MAIL-8818")
    .manual("set inet_interfaces = loopback-only in /etc/postfix/main.cf"),
    c(
        "svc-one-time-daemon",
        "services",
        1,
        "exactly one time synchronisation daemon is enabled",
        Test::OneEnabled(&[&["chrony.service", "chronyd.service"], &["systemd-timesyncd.service"], &["ntp.service", "ntpd.service", "ntpsec.service"]]),
    )
    .refs("2.3.1.1", "2.3.1", "", "TIME-3104")
    .host()
    .manual("enable chrony or systemd-timesyncd, and only one of them"),
    c("svc-cron-enabled", "services", 1, "cron is enabled", Test::When {
        cond: &CRON_INSTALLED,
        then: &Test::Service { units: &["cron.service", "crond.service"], state: ServiceState::Enabled },
        otherwise: "cron is not installed",
    })
    .refs("2.4.1.1", "2.4.1.1", "", "")
    .manual("systemctl enable cron (crond on RHEL)"),
    c("svc-crontab-mode", "services", 1, "/etc/crontab is at most 0600 root:root", mode("etc/crontab", 0o600, Missing::NotApplicable))
        .refs("2.4.1.2", "2.4.1.2", "", "SCHD-7704").auto(),
    c("svc-cron-hourly-mode", "services", 1, "/etc/cron.hourly is at most 0700 root:root", mode("etc/cron.hourly", 0o700, Missing::NotApplicable))
        .refs("2.4.1.3", "2.4.1.3", "", "").auto(),
    c("svc-cron-daily-mode", "services", 1, "/etc/cron.daily is at most 0700 root:root", mode("etc/cron.daily", 0o700, Missing::NotApplicable))
        .refs("2.4.1.4", "2.4.1.4", "", "").auto(),
    c("svc-cron-weekly-mode", "services", 1, "/etc/cron.weekly is at most 0700 root:root", mode("etc/cron.weekly", 0o700, Missing::NotApplicable))
        .refs("2.4.1.5", "2.4.1.5", "", "").auto(),
    c("svc-cron-monthly-mode", "services", 1, "/etc/cron.monthly is at most 0700 root:root", mode("etc/cron.monthly", 0o700, Missing::NotApplicable))
        .refs("2.4.1.6", "2.4.1.6", "", "").auto(),
    c("svc-cron-d-mode", "services", 1, "/etc/cron.d is at most 0700 root:root", mode("etc/cron.d", 0o700, Missing::NotApplicable))
        .refs("2.4.1.7", "2.4.1.7", "", "").auto(),
    c("svc-cron-allow", "services", 1, "cron is restricted: cron.allow exists (at most 0640), cron.deny does not", Test::When {
        cond: &CRON_INSTALLED,
        then: &Test::All(&[
            Test::Mode { path: "etc/cron.allow", max: 0o640, need: 0, owner: ROOT, group: &["root", "crontab"], missing: Missing::Fail },
            Test::Absent(&["etc/cron.deny"]),
        ]),
        otherwise: "cron is not installed",
    })
    .refs("2.4.1.8", "2.4.1.8", "", "")
    .manual("create /etc/cron.allow (root:root 0640) listing who may use cron; remove /etc/cron.deny"),
    c("svc-at-allow", "services", 1, "at is restricted: at.allow exists (at most 0640), at.deny does not", Test::When {
        cond: &AT_INSTALLED,
        then: &Test::All(&[
            Test::Mode { path: "etc/at.allow", max: 0o640, need: 0, owner: ROOT, group: &["root", "daemon"], missing: Missing::Fail },
            Test::Absent(&["etc/at.deny"]),
        ]),
        otherwise: "at is not installed",
    })
    .refs("2.4.2.1", "2.4.2.1", "", "")
    .manual("create /etc/at.allow (root:root 0640); remove /etc/at.deny"),
    // ---- Network
    c("net-ip-forward", "network", 1, "IPv4 forwarding is off", sysctl("net.ipv4.ip_forward", "0"))
        .refs("3.3.1", "3.3.1", "sysctl-01", "KRNL-6000").host().auto(),
    c("net-ipv6-forward", "network", 1, "IPv6 forwarding is off", sysctl("net.ipv6.conf.all.forwarding", "0"))
        .refs("3.3.1", "3.3.1", "sysctl-19", "KRNL-6000").host().auto(),
    c("net-send-redirects", "network", 1, "ICMP redirects are not sent", Test::All(&[
        Test::Sysctl { key: "net.ipv4.conf.all.send_redirects", want: Want::Eq("0") },
        Test::Sysctl { key: "net.ipv4.conf.default.send_redirects", want: Want::Eq("0") },
    ]))
    .refs("3.3.2", "3.3.2", "sysctl-13", "KRNL-6000").host().auto(),
    c("net-icmp-bogus", "network", 1, "bogus ICMP error responses are ignored", sysctl("net.ipv4.icmp_ignore_bogus_error_responses", "1"))
        .refs("3.3.3", "3.3.3", "sysctl-06", "KRNL-6000").host().auto(),
    c("net-icmp-broadcasts", "network", 1, "broadcast ICMP echo requests are ignored", sysctl("net.ipv4.icmp_echo_ignore_broadcasts", "1"))
        .refs("3.3.4", "3.3.4", "sysctl-05", "KRNL-6000").host().auto(),
    c("net-accept-redirects", "network", 1, "ICMP redirects are not accepted (IPv4 and IPv6)", Test::All(&[
        Test::Sysctl { key: "net.ipv4.conf.all.accept_redirects", want: Want::Eq("0") },
        Test::Sysctl { key: "net.ipv4.conf.default.accept_redirects", want: Want::Eq("0") },
        Test::Sysctl { key: "net.ipv6.conf.all.accept_redirects", want: Want::Eq("0") },
        Test::Sysctl { key: "net.ipv6.conf.default.accept_redirects", want: Want::Eq("0") },
    ]))
    .refs("3.3.5", "3.3.5", "sysctl-11", "KRNL-6000").host().auto(),
    c("net-secure-redirects", "network", 1, "secure ICMP redirects are not accepted", Test::All(&[
        Test::Sysctl { key: "net.ipv4.conf.all.secure_redirects", want: Want::Eq("0") },
        Test::Sysctl { key: "net.ipv4.conf.default.secure_redirects", want: Want::Eq("0") },
    ]))
    .refs("3.3.6", "3.3.6", "sysctl-12", "KRNL-6000").host().auto(),
    c("net-rp-filter", "network", 1, "reverse path filtering is strict", Test::All(&[
        Test::Sysctl { key: "net.ipv4.conf.all.rp_filter", want: Want::Eq("1") },
        Test::Sysctl { key: "net.ipv4.conf.default.rp_filter", want: Want::Eq("1") },
    ]))
    .refs("3.3.7", "3.3.7", "sysctl-03", "KRNL-6000").host().auto(),
    c("net-source-route", "network", 1, "source-routed packets are not accepted (IPv4 and IPv6)", Test::All(&[
        Test::Sysctl { key: "net.ipv4.conf.all.accept_source_route", want: Want::Eq("0") },
        Test::Sysctl { key: "net.ipv4.conf.default.accept_source_route", want: Want::Eq("0") },
        Test::Sysctl { key: "net.ipv6.conf.all.accept_source_route", want: Want::Eq("0") },
        Test::Sysctl { key: "net.ipv6.conf.default.accept_source_route", want: Want::Eq("0") },
    ]))
    .refs("3.3.8", "3.3.8", "sysctl-09", "KRNL-6000").host().auto(),
    c("net-log-martians", "network", 1, "suspicious packets are logged", Test::All(&[
        Test::Sysctl { key: "net.ipv4.conf.all.log_martians", want: Want::Eq("1") },
        Test::Sysctl { key: "net.ipv4.conf.default.log_martians", want: Want::Eq("1") },
    ]))
    .refs("3.3.9", "3.3.9", "sysctl-14", "KRNL-6000").host().auto(),
    c("net-syncookies", "network", 1, "TCP SYN cookies are on", sysctl("net.ipv4.tcp_syncookies", "1"))
        .refs("3.3.10", "3.3.10", "sysctl-04", "KRNL-6000").host().auto(),
    c("net-ipv6-accept-ra", "network", 1, "IPv6 router advertisements are not accepted", Test::All(&[
        Test::Sysctl { key: "net.ipv6.conf.all.accept_ra", want: Want::Eq("0") },
        Test::Sysctl { key: "net.ipv6.conf.default.accept_ra", want: Want::Eq("0") },
    ]))
    .refs("3.3.11", "3.3.11", "sysctl-25", "KRNL-6000").host().auto(),
    c("net-module-dccp", "network", 2, "dccp cannot be loaded", module("dccp")).refs("3.2.1", "3.2.1", "", "NETW-3200").auto(),
    c("net-module-tipc", "network", 2, "tipc cannot be loaded", module("tipc")).refs("3.2.2", "3.2.2", "", "NETW-3200").auto(),
    c("net-module-rds", "network", 2, "rds cannot be loaded", module("rds")).refs("3.2.3", "3.2.3", "", "NETW-3200").auto(),
    c("net-module-sctp", "network", 2, "sctp cannot be loaded", module("sctp")).refs("3.2.4", "3.2.4", "", "NETW-3200").auto(),
    c(
        "net-firewall",
        "network",
        1,
        "a host firewall is enabled with a default-deny input policy",
        Test::Any(&[
            Test::All(&[
                Test::Service { units: &["ufw.service"], state: ServiceState::Enabled },
                Test::Setting { files: &["etc/ufw/ufw.conf"], key: "ENABLED", style: Style::Assign, default: Some("no"), want: Want::Eq("yes") },
                Test::Setting { files: &["etc/default/ufw"], key: "DEFAULT_INPUT_POLICY", style: Style::Assign, default: Some("ACCEPT"), want: Want::OneOf(&["DROP", "REJECT"]) },
            ]),
            Test::All(&[
                Test::Service { units: &["nftables.service"], state: ServiceState::Enabled },
                Test::Content { paths: &["etc/nftables.conf", "etc/sysconfig/nftables.conf"], pattern: r"(?m)hook\s+input\b[^\n;]*;[^}]*policy\s+drop", want: true },
            ]),
            Test::Service { units: &["firewalld.service"], state: ServiceState::Enabled },
        ]),
    )
    .refs("4.1.1", "4.1.1", "", "FIRE-4512")
    .host()
    .manual("enable one firewall (ufw, nftables or firewalld) with a default-deny input policy; on EC2 security groups may stand in for it"),
    // ---- SSH
    c(
        "ssh-config-modes",
        "ssh",
        1,
        "sshd_config and sshd_config.d/*.conf are at most 0600 root:root",
        Test::When {
            cond: &SSHD_PRESENT,
            then: &Test::All(&[
                Test::Mode { path: "etc/ssh/sshd_config", max: 0o600, need: 0, owner: ROOT, group: ROOT, missing: Missing::Fail },
                Test::Mode { path: "etc/ssh/sshd_config.d/*.conf", max: 0o600, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
            ]),
            otherwise: "sshd is not installed (no /etc/ssh/sshd_config)",
        },
    )
    .refs("5.1.1", "5.1.1", "sshd-03", "SSH-7408")
    .auto(),
    c(
        "ssh-host-key-modes",
        "ssh",
        1,
        "SSH host private keys are at most 0600 (0640 group ssh_keys on RHEL), public keys at most 0644",
        Test::ByFamily {
            debian: &Test::All(&[
                Test::Mode { path: "etc/ssh/ssh_host_*_key", max: 0o600, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
                Test::Mode { path: "etc/ssh/ssh_host_*_key.pub", max: 0o644, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
            ]),
            rhel: &Test::All(&[
                Test::Mode { path: "etc/ssh/ssh_host_*_key", max: 0o640, need: 0, owner: ROOT, group: &["root", "ssh_keys"], missing: Missing::Pass },
                Test::Mode { path: "etc/ssh/ssh_host_*_key.pub", max: 0o644, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
            ]),
        },
    )
    .refs("5.1.2-3", "5.1.2-3", "", "")
    .auto(),
    c("ssh-permit-root-login", "ssh", 1, "root cannot log in over SSH (PermitRootLogin no, or prohibit-password where the profile allows)", sshd("permitrootlogin", Want::PermitRootLogin))
        .refs("5.1.20", "5.2.10", "sshd-11", "SSH-7408").auto(),
    c("ssh-permit-empty-passwords", "ssh", 1, "empty passwords are refused (PermitEmptyPasswords no)", sshd("permitemptypasswords", Want::Eq("no")))
        .refs("5.1.19", "5.2.11", "sshd-13", "SSH-7408").auto(),
    c("ssh-max-auth-tries", "ssh", 1, "MaxAuthTries is at most the profile's max_auth_tries (4)", sshd("maxauthtries", param_at_most("max_auth_tries")))
        .refs("5.1.16", "5.2.18", "", "SSH-7408").auto(),
    c("ssh-hostbased", "ssh", 1, "host-based authentication is off (HostbasedAuthentication no)", sshd("hostbasedauthentication", Want::Eq("no")))
        .refs("5.1.10", "5.2.9", "sshd-19", "SSH-7408").auto(),
    c("ssh-ignore-rhosts", "ssh", 1, ".rhosts files are ignored (IgnoreRhosts yes)", sshd("ignorerhosts", Want::Eq("yes")))
        .refs("5.1.11", "5.2.8", "sshd-18", "SSH-7408").auto(),
    c("ssh-permit-user-environment", "ssh", 1, "users cannot set sshd's environment (PermitUserEnvironment no)", sshd("permituserenvironment", Want::Eq("no")))
        .refs("5.1.21", "5.2.12", "sshd-44", "SSH-7408").auto(),
    c("ssh-login-grace-time", "ssh", 1, "LoginGraceTime is at most the profile's login_grace_time (60 s)", sshd("logingracetime", Want::Range(Num::Lit(1), Num::Param("login_grace_time"))))
        .refs("5.1.13", "5.2.20", "", "SSH-7408").auto(),
    c("ssh-client-alive-interval", "ssh", 1, "idle sessions are probed (ClientAliveInterval above 0, at most client_alive_interval)", sshd("clientaliveinterval", Want::Range(Num::Lit(1), Num::Param("client_alive_interval"))))
        .refs("5.1.7", "5.2.21", "sshd-08", "SSH-7408").auto(),
    c("ssh-client-alive-count-max", "ssh", 1, "ClientAliveCountMax is at most client_alive_count_max (3)", sshd("clientalivecountmax", param_at_most("client_alive_count_max")))
        .refs("5.1.7", "5.2.21", "sshd-09", "SSH-7408").auto(),
    c("ssh-max-startups", "ssh", 1, "MaxStartups is 10:30:60 or stricter", sshd("maxstartups", Want::ColonsAtMost(&[10, 30, 60])))
        .refs("5.1.18", "5.2.17", "", "SSH-7408").auto(),
    c("ssh-max-sessions", "ssh", 1, "MaxSessions is at most max_sessions (10)", sshd("maxsessions", param_at_most("max_sessions")))
        .refs("5.1.17", "5.2.19", "", "SSH-7408").auto(),
    c("ssh-log-level", "ssh", 1, "LogLevel is INFO or VERBOSE", sshd("loglevel", Want::OneOf(&["INFO", "VERBOSE"])))
        .refs("5.1.14", "5.2.5", "sshd-21", "SSH-7408").auto(),
    c("ssh-use-pam", "ssh", 1, "UsePAM is on", sshd("usepam", Want::Eq("yes")))
        .refs("5.1.22", "5.2.6", "sshd-47", "SSH-7408").auto(),
    c("ssh-banner", "ssh", 1, "a pre-login banner is configured (Banner)", sshd("banner", Want::Not("none")))
        .refs("5.1.5", "5.2.16", "", "SSH-7408").manual("set `Banner /etc/issue.net` with a site banner"),
    c("ssh-x11-forwarding", "ssh", 1, "X11 forwarding is off", sshd("x11forwarding", Want::Eq("no")))
        .refs("5.1.8", "5.2.13", "sshd-33", "SSH-7408").auto(),
    c("ssh-ciphers", "ssh", 1, "no weak ciphers (CBC, arcfour, 3DES; chacha20-poly1305 per CVE-2023-48795)", sshd("ciphers", Want::NoneOf(WEAK_CIPHERS)))
        .refs("5.1.6", "5.2.14", "sshd-06", "SSH-7408")
        .manual("set `Ciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr`"),
    c("ssh-macs", "ssh", 1, "no weak MACs (MD5, SHA-1, 64-bit UMAC)", sshd("macs", Want::NoneOf(WEAK_MACS)))
        .refs("5.1.15", "5.2.14", "sshd-07", "SSH-7408")
        .manual("set `MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-512,hmac-sha2-256`"),
    c("ssh-kex", "ssh", 1, "no weak key exchange algorithms (SHA-1 Diffie-Hellman)", sshd("kexalgorithms", Want::NoneOf(WEAK_KEX)))
        .refs("5.1.12", "5.2.14", "sshd-05", "SSH-7408")
        .manual("remove the SHA-1 diffie-hellman algorithms from KexAlgorithms"),
    c("ssh-password-authentication", "ssh", 1, "password authentication is off (keys only)", sshd("passwordauthentication", Want::Eq("no")))
        .refs("", "", "sshd-12", "SSH-7408").auto(),
    // ---- Accounts and PAM
    c("acct-sudo-use-pty", "accounts", 1, "sudo runs commands in a pseudo-terminal (Defaults use_pty)", Test::When {
        cond: &SUDO_INSTALLED,
        then: &Test::Content { paths: &["etc/sudoers", "etc/sudoers.d/*"], pattern: r"(?m)^\s*Defaults\s+([^#\n]*[\s,])?use_pty\b", want: true },
        otherwise: "sudo is not installed",
    })
    .refs("5.2.2", "5.3.2", "", "")
    .manual("add `Defaults use_pty` to /etc/sudoers.d/60-amiprep (visudo -f)"),
    c("acct-sudo-logfile", "accounts", 1, "sudo keeps its own log (Defaults logfile=)", Test::When {
        cond: &SUDO_INSTALLED,
        then: &Test::Content { paths: &["etc/sudoers", "etc/sudoers.d/*"], pattern: r#"(?m)^\s*Defaults\s+([^#\n]*[\s,])?logfile\s*=\s*"?/\S+"#, want: true },
        otherwise: "sudo is not installed",
    })
    .refs("5.2.3", "5.3.3", "", "")
    .manual("add `Defaults logfile=\"/var/log/sudo.log\"` to /etc/sudoers.d/60-amiprep (visudo -f)"),
    c("acct-su-wheel", "accounts", 1, "su is restricted to a group (pam_wheel)", Test::Content {
        paths: &["etc/pam.d/su"],
        pattern: r"(?m)^\s*auth\s+(required|requisite)\s+pam_wheel\.so\b",
        want: true,
    })
    .refs("5.2.7", "5.3.7", "", "")
    .manual("add `auth required pam_wheel.so use_uid group=sugroup` to /etc/pam.d/su with an empty sugroup"),
    c("acct-pwquality-minlen", "accounts", 1, "passwords have at least min_password_length (14) characters", Test::Setting {
        files: &["etc/security/pwquality.conf", "etc/security/pwquality.conf.d/*.conf"],
        key: "minlen",
        style: Style::Assign,
        default: Some("8"),
        want: Want::AtLeast(Num::Param("min_password_length")),
    })
    .refs("5.3.3.2.2", "5.4.1.1", "", "AUTH-9262")
    .manual("set minlen = 14 in /etc/security/pwquality.conf.d/60-amiprep.conf"),
    c(
        "acct-faillock",
        "accounts",
        1,
        "accounts lock after at most faillock_deny (5) failed logins",
        Test::All(&[
            Test::ByFamily {
                debian: &Test::Content { paths: &["etc/pam.d/common-auth"], pattern: r"(?m)^\s*auth\s+\S+\s+pam_faillock\.so\b", want: true },
                rhel: &Test::Content { paths: &["etc/pam.d/system-auth"], pattern: r"(?m)^\s*auth\s+\S+\s+pam_faillock\.so\b", want: true },
            },
            Test::Setting { files: &["etc/security/faillock.conf"], key: "deny", style: Style::Assign, default: Some("3"), want: Want::Range(Num::Lit(1), Num::Param("faillock_deny")) },
        ]),
    )
    .refs("5.3.3.1.1", "5.4.2.1", "", "AUTH-9408")
    .manual("enable pam_faillock (pam-auth-update / authselect enable-feature with-faillock) and set deny in /etc/security/faillock.conf"),
    c("acct-no-nullok", "accounts", 1, "PAM does not accept empty passwords (no nullok)", Test::Content {
        paths: &["etc/pam.d/*"],
        pattern: r"(?m)^[^#\n]*\bnullok\b",
        want: false,
    })
    .refs("5.3.3.4.1", "5.4.3.4", "", "")
    .manual("remove nullok from the pam_unix lines (pam-auth-update / authselect)"),
    c("acct-pass-max-days", "accounts", 1, "passwords expire (PASS_MAX_DAYS at most pass_max_days, 365)", login_defs("PASS_MAX_DAYS", "99999", Want::Range(Num::Lit(1), Num::Param("pass_max_days"))))
        .refs("5.4.1.1", "5.6.1.1", "os-05", "AUTH-9286").auto(),
    c("acct-pass-min-days", "accounts", 1, "passwords cannot be changed back at once (PASS_MIN_DAYS at least pass_min_days, 1)", login_defs("PASS_MIN_DAYS", "0", param_at_least("pass_min_days")))
        .refs("5.4.1.2", "5.6.1.2", "os-05", "AUTH-9286").auto(),
    c("acct-pass-warn-age", "accounts", 1, "users are warned before expiry (PASS_WARN_AGE at least pass_warn_age, 7)", login_defs("PASS_WARN_AGE", "7", param_at_least("pass_warn_age")))
        .refs("5.4.1.3", "5.6.1.3", "os-05", "AUTH-9286").auto(),
    c("acct-encrypt-method", "accounts", 1, "password hashes are yescrypt or SHA-512 (ENCRYPT_METHOD)", login_defs("ENCRYPT_METHOD", "DES", Want::OneOf(&["SHA512", "YESCRYPT"])))
        .refs("5.4.1.4", "5.6.1.4", "os-05b", "AUTH-9230").auto(),
    c("acct-inactive", "accounts", 1, "unused accounts are disabled (useradd INACTIVE between 0 and inactive_days, 45)", Test::Setting {
        files: &["etc/default/useradd"],
        key: "INACTIVE",
        style: Style::Assign,
        default: Some("-1"),
        want: Want::Range(Num::Lit(0), Num::Param("inactive_days")),
    })
    .refs("5.4.1.5", "5.6.1.5", "", "")
    .manual("useradd -D -f 45"),
    c("acct-uid0-only-root", "accounts", 1, "root is the only account with UID 0", accounts(AccountRule::Uid0OnlyRoot))
        .refs("5.4.2.1", "5.6.6", "os-09", "AUTH-9204").manual("give the other UID-0 accounts their own UID, or remove them"),
    c("acct-root-gid0", "accounts", 1, "root's primary group is GID 0", accounts(AccountRule::RootGid0))
        .refs("5.4.2.2", "5.6.4", "", "").manual("usermod -g 0 root"),
    c("acct-root-path", "accounts", 1, "root's PATH has no empty, relative or group/other-writable entry", Test::Live(&Test::Accounts(AccountRule::RootPath)))
        .refs("5.4.2.5", "", "", "").manual("fix root's PATH in /root/.profile, /etc/profile and /etc/environment"),
    c("acct-system-nologin", "accounts", 1, "system accounts have a nologin shell", accounts(AccountRule::SystemAccountsNologin))
        .refs("5.4.2.7", "5.6.2", "os-03", "").manual("usermod -s /usr/sbin/nologin ACCOUNT"),
    c("acct-system-locked", "accounts", 1, "system accounts with a login shell have a locked password", accounts(AccountRule::SystemAccountsLocked))
        .refs("5.4.2.8", "5.6.2", "", "").manual("usermod -L ACCOUNT"),
    c("acct-shell-timeout", "accounts", 1, "idle shells time out (TMOUT set, at most shell_timeout, 900)", Test::Setting {
        files: &["etc/profile", "etc/profile.d/*.sh", "etc/bash.bashrc", "etc/bashrc"],
        key: "TMOUT",
        style: Style::Shell,
        default: None,
        want: Want::Range(Num::Lit(1), Num::Param("shell_timeout")),
    })
    .refs("5.4.3.2", "5.6.3", "", "SHLL-6220")
    .manual("add `readonly TMOUT=900; export TMOUT` to /etc/profile.d/60-amiprep-tmout.sh"),
    c("acct-umask", "accounts", 1, "the default umask is 027 or stricter (login.defs UMASK)", login_defs("UMASK", "022", Want::MaskCovers(0o027)))
        .refs("5.4.3.3", "5.6.5", "os-05", "AUTH-9328").auto(),
    // ---- Logging
    c("log-journald-active", "logging", 1, "systemd-journald is active", Test::Service { units: &["systemd-journald.service"], state: ServiceState::Active })
        .refs("6.1.1.1", "4.2.1.1", "", "LOGG-2138").host().manual("systemd-journald must run; check for a masked unit"),
    c("log-not-world-writable", "logging", 1, "no log file under /var/log is writable by others", scan(ScanRule::WorldWritableUnder("var/log")))
        .refs("6.1.4.1", "4.2.3", "", "").manual("chmod o-w the files listed"),
    c("log-auditd-enabled", "logging", 2, "auditd is enabled", Test::Service { units: &["auditd.service"], state: ServiceState::Enabled })
        .refs("6.2.1.2", "4.1.1.2", "", "ACCT-9628").host().manual("install auditd (audit on RHEL) and systemctl enable auditd"),
    // ---- Files and users
    c("file-passwd-mode", "files", 1, "/etc/passwd is at most 0644 root:root", mode("etc/passwd", 0o644, Missing::Fail)).refs("7.1.1", "6.1.1", "os-06", "").auto(),
    c("file-passwd-backup-mode", "files", 1, "/etc/passwd- is at most 0644 root:root", mode("etc/passwd-", 0o644, Missing::Pass)).refs("7.1.2", "6.1.2", "", "").auto(),
    c("file-group-mode", "files", 1, "/etc/group is at most 0644 root:root", mode("etc/group", 0o644, Missing::Fail)).refs("7.1.3", "6.1.3", "", "").auto(),
    c("file-group-backup-mode", "files", 1, "/etc/group- is at most 0644 root:root", mode("etc/group-", 0o644, Missing::Pass)).refs("7.1.4", "6.1.4", "", "").auto(),
    c(
        "file-shadow-mode",
        "files",
        1,
        "/etc/shadow is at most 0640 root:shadow (Debian) or 0000 root:root (RHEL)",
        Test::ByFamily {
            debian: &Test::Mode { path: "etc/shadow", max: 0o640, need: 0, owner: ROOT, group: SHADOW_GROUPS, missing: Missing::Fail },
            rhel: &Test::Mode { path: "etc/shadow", max: 0, need: 0, owner: ROOT, group: ROOT, missing: Missing::Fail },
        },
    )
    .refs("7.1.5", "6.1.5", "os-02", "")
    .auto(),
    c(
        "file-shadow-backup-mode",
        "files",
        1,
        "/etc/shadow- is at most 0640 root:shadow (Debian) or 0000 root:root (RHEL)",
        Test::ByFamily {
            debian: &Test::Mode { path: "etc/shadow-", max: 0o640, need: 0, owner: ROOT, group: SHADOW_GROUPS, missing: Missing::Pass },
            rhel: &Test::Mode { path: "etc/shadow-", max: 0, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
        },
    )
    .refs("7.1.6", "6.1.6", "", "")
    .auto(),
    c(
        "file-gshadow-mode",
        "files",
        1,
        "/etc/gshadow is at most 0640 root:shadow (Debian) or 0000 root:root (RHEL)",
        Test::ByFamily {
            debian: &Test::Mode { path: "etc/gshadow", max: 0o640, need: 0, owner: ROOT, group: SHADOW_GROUPS, missing: Missing::Pass },
            rhel: &Test::Mode { path: "etc/gshadow", max: 0, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
        },
    )
    .refs("7.1.7", "6.1.7", "", "")
    .auto(),
    c(
        "file-gshadow-backup-mode",
        "files",
        1,
        "/etc/gshadow- is at most 0640 root:shadow (Debian) or 0000 root:root (RHEL)",
        Test::ByFamily {
            debian: &Test::Mode { path: "etc/gshadow-", max: 0o640, need: 0, owner: ROOT, group: SHADOW_GROUPS, missing: Missing::Pass },
            rhel: &Test::Mode { path: "etc/gshadow-", max: 0, need: 0, owner: ROOT, group: ROOT, missing: Missing::Pass },
        },
    )
    .refs("7.1.8", "6.1.8", "", "")
    .auto(),
    c("file-world-writable", "files", 1, "no world-writable files", scan(ScanRule::WorldWritableFiles))
        .refs("7.1.11", "6.1.9", "os-01", "FILE-6354").manual("chmod o-w the files listed, or remove them"),
    c("file-sticky-dirs", "files", 1, "world-writable directories have the sticky bit", scan(ScanRule::WorldWritableDirsSticky))
        .refs("7.1.11", "6.1.9", "", "FILE-6362").manual("chmod +t the directories listed"),
    c("file-unowned", "files", 1, "no file belongs to a UID without an account", scan(ScanRule::Unowned))
        .refs("7.1.12", "6.1.10", "", "").manual("chown the files listed to an existing account, or remove them"),
    c("file-ungrouped", "files", 1, "no file belongs to a GID without a group", scan(ScanRule::Ungrouped))
        .refs("7.1.12", "6.1.11", "", "").manual("chgrp the files listed to an existing group, or remove them"),
    c("file-suid-sgid", "files", 1, "SUID and SGID programs are reviewed (inventory)", scan(ScanRule::SuidSgid))
        .refs("7.1.13", "6.1.13-14", "os-07", "FILE-6374"),
    c("user-shadowed-passwords", "files", 1, "every passwd entry uses shadowed passwords", accounts(AccountRule::ShadowedPasswords))
        .refs("7.2.1", "6.2.1", "", "AUTH-9228").manual("pwconv"),
    c("user-no-empty-passwords", "files", 1, "no account has an empty password field", accounts(AccountRule::NoEmptyPasswords))
        .refs("7.2.2", "6.2.2", "", "AUTH-9283").manual("passwd -l ACCOUNT"),
    c("user-groups-exist", "files", 1, "every primary group in passwd exists in group", accounts(AccountRule::PrimaryGroupsExist))
        .refs("7.2.3", "6.2.3", "", "").manual("create the missing groups, or change the accounts' groups"),
    c("user-unique-uids", "files", 1, "no duplicate UIDs", accounts(AccountRule::UniqueUids))
        .refs("7.2.5", "6.2.5", "", "AUTH-9208").manual("give each account its own UID"),
    c("user-unique-gids", "files", 1, "no duplicate GIDs", accounts(AccountRule::UniqueGids))
        .refs("7.2.6", "6.2.6", "", "").manual("give each group its own GID"),
    c("user-unique-names", "files", 1, "no duplicate user names", accounts(AccountRule::UniqueUserNames))
        .refs("7.2.7", "6.2.7", "", "AUTH-9208").manual("remove or rename the duplicate accounts"),
    c("user-unique-group-names", "files", 1, "no duplicate group names", accounts(AccountRule::UniqueGroupNames))
        .refs("7.2.8", "6.2.8", "", "").manual("remove or rename the duplicate groups"),
    c("user-home-dirs", "files", 1, "interactive users' homes exist, are theirs and at most 0750", accounts(AccountRule::HomeDirectories))
        .refs("7.2.9", "6.2.9", "", "HOME-9304").manual("chown USER: and chmod 0750 the homes listed"),
    c("user-no-trust-files", "files", 1, "no .rhosts, .netrc or .forward in any home", accounts(AccountRule::NoTrustFiles))
        .refs("7.2.10", "6.2.10", "os-01", "").manual("remove the files listed"),
    // ---- Image readiness
    c("img-no-ssh-host-keys", "image", 1, "no SSH host keys (each instance makes its own)", Test::Absent(&["etc/ssh/ssh_host_*key*"]))
        .manual("amiprep seal (operation ssh-host-keys)"),
    c("img-no-authorized-keys", "image", 1, "no authorized_keys in any passwd home or AuthorizedKeysFile location", Test::Image(ImageRule::AuthorizedKeys))
        .manual("amiprep seal (operation authorized-keys)"),
    c("img-no-shell-history", "image", 1, "no shell or tool histories in any passwd home", Test::Image(ImageRule::ShellHistories))
        .manual("amiprep seal (operation shell-history)"),
    c("img-no-credentials", "image", 1, "no credentials files in any passwd home", Test::Image(ImageRule::Credentials))
        .manual("amiprep seal (operation credentials)"),
    c("img-machine-id-reset", "image", 1, "machine-id is reset (empty or `uninitialized`)", Test::Image(ImageRule::MachineId))
        .manual("amiprep seal (operation machine-id)"),
    c(
        "img-no-cloud-init-state",
        "image",
        1,
        "no cloud-init instance state",
        Test::Absent(&["var/lib/cloud/instance", "var/lib/cloud/instances/*", "var/lib/cloud/data/*", "var/lib/cloud/sem/*"]),
    )
    .manual("amiprep seal (operation cloud-init)"),
    c(
        "img-no-dhcp-leases",
        "image",
        1,
        "no DHCP leases",
        Test::Absent(&[
            "var/lib/dhclient/*",
            "var/lib/dhcp/*.lease",
            "var/lib/dhcp/*.leases",
            "var/lib/dhcpcd/*.lease*",
            "var/lib/dhcpcd5/*.lease*",
            "var/lib/NetworkManager/*.lease",
            "var/lib/wicked/lease-*",
            "var/lib/systemd/netif/leases/*",
        ]),
    )
    .manual("amiprep seal (operation network-identity)"),
    c("img-no-rotated-logs", "image", 1, "no rotated logs under /var/log", Test::Image(ImageRule::RotatedLogs))
        .manual("amiprep seal (operation logs)"),
    c("img-root-password-locked", "image", 1, "root's password is locked (no password login as root)", accounts(AccountRule::RootPasswordLocked))
        .manual("add \"root\" to [users] lock in the profile, or passwd -l root"),
];

/// What a test reads, in words, for `amiprep checks list`.
pub fn looks_at(t: &Test) -> String {
    let paths = |ps: &[&str]| ps.iter().map(|p| format!("/{p}")).collect::<Vec<_>>().join(" ");
    match t {
        Test::Mode { path, .. } => format!("mode and owner of /{path}"),
        Test::Absent(ps) => format!("absence of {}", paths(ps)),
        Test::Present(p) => format!("presence of /{p}"),
        Test::Content { paths: ps, .. } => format!("content of {}", paths(ps)),
        Test::Sysctl { key, .. } => format!("sysctl {key}: /proc/sys and every sysctl.d file"),
        Test::Module(m) => format!("modprobe.d install/blacklist for {m}, /proc/modules"),
        Test::SeparateMount(p) => format!("/proc/self/mounts and /etc/fstab for /{p}"),
        Test::MountOption { path, option } => format!("{option} on /{path} in /proc/self/mounts and /etc/fstab"),
        Test::Packages { names, .. } => format!("packages {} (dpkg or rpm database)", names.join(", ")),
        Test::Service { units, .. } => format!("systemd units {}", units.join(", ")),
        Test::OneEnabled(groups) => {
            format!("systemd units {}", groups.iter().map(|g| g.join("/")).collect::<Vec<_>>().join(", "))
        }
        Test::Setting { files, key, .. } => format!("{key} in {}", paths(files)),
        Test::Sshd { key, .. } => format!("effective sshd {key} (sshd_config with Include and drop-ins)"),
        Test::Accounts(_) => "/etc/passwd, /etc/shadow, /etc/group".into(),
        Test::Scan(_) => "the one filesystem scan".into(),
        Test::Image(ImageRule::MachineId) => "/etc/machine-id, /var/lib/dbus/machine-id".into(),
        Test::Image(ImageRule::RotatedLogs) => "/var/log".into(),
        Test::Image(_) => "every passwd home (and AuthorizedKeysFile)".into(),
        Test::All(ts) | Test::Any(ts) => {
            let mut parts: Vec<String> = Vec::new();
            for t in ts.iter() {
                let s = looks_at(t);
                if !parts.contains(&s) {
                    parts.push(s);
                }
            }
            parts.join("; ")
        }
        Test::When { then, .. } => looks_at(then),
        Test::ByFamily { debian, rhel } => {
            let (d, r) = (looks_at(debian), looks_at(rhel));
            if d == r { d } else { format!("Debian: {d}; RHEL: {r}") }
        }
        Test::Live(t) => looks_at(t),
    }
}

/// The cleanup operation whose work an image-ready check verifies; `None` for root's password,
/// which `[users] lock` handles.
pub fn operation_of(id: &str) -> Option<&'static str> {
    Some(match id {
        "img-no-ssh-host-keys" => "ssh-host-keys",
        "img-no-authorized-keys" => "authorized-keys",
        "img-no-shell-history" => "shell-history",
        "img-no-credentials" => "credentials",
        "img-machine-id-reset" => "machine-id",
        "img-no-cloud-init-state" => "cloud-init",
        "img-no-dhcp-leases" => "network-identity",
        "img-no-rotated-logs" => "logs",
        _ => return None,
    })
}
