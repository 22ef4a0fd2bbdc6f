//! Hardened fake roots for the audit tests: a Debian 12 root and an Amazon Linux 2023 root on
//! which every `cis-level1` and `image-ready` check passes (or does not apply), so a test can
//! break exactly one thing and see exactly one check fail.

use super::Tree;

/// Which family a fixture imitates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    Debian,
    Rhel,
}

const MODULES: &[&str] =
    &["cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "squashfs", "udf", "usb-storage", "dccp", "tipc", "rds", "sctp"];

pub const SYSCTL: &[(&str, &str)] = &[
    ("kernel.randomize_va_space", "2"),
    ("kernel.yama.ptrace_scope", "1"),
    ("fs.suid_dumpable", "0"),
    ("kernel.kptr_restrict", "2"),
    ("kernel.dmesg_restrict", "1"),
    ("fs.protected_hardlinks", "1"),
    ("fs.protected_symlinks", "1"),
    ("kernel.sysrq", "0"),
    ("kernel.unprivileged_bpf_disabled", "1"),
    ("fs.protected_fifos", "2"),
    ("fs.protected_regular", "2"),
    ("net.ipv4.ip_forward", "0"),
    ("net.ipv6.conf.all.forwarding", "0"),
    ("net.ipv4.conf.all.send_redirects", "0"),
    ("net.ipv4.conf.default.send_redirects", "0"),
    ("net.ipv4.icmp_ignore_bogus_error_responses", "1"),
    ("net.ipv4.icmp_echo_ignore_broadcasts", "1"),
    ("net.ipv4.conf.all.accept_redirects", "0"),
    ("net.ipv4.conf.default.accept_redirects", "0"),
    ("net.ipv6.conf.all.accept_redirects", "0"),
    ("net.ipv6.conf.default.accept_redirects", "0"),
    ("net.ipv4.conf.all.secure_redirects", "0"),
    ("net.ipv4.conf.default.secure_redirects", "0"),
    ("net.ipv4.conf.all.rp_filter", "1"),
    ("net.ipv4.conf.default.rp_filter", "1"),
    ("net.ipv4.conf.all.accept_source_route", "0"),
    ("net.ipv4.conf.default.accept_source_route", "0"),
    ("net.ipv6.conf.all.accept_source_route", "0"),
    ("net.ipv6.conf.default.accept_source_route", "0"),
    ("net.ipv4.conf.all.log_martians", "1"),
    ("net.ipv4.conf.default.log_martians", "1"),
    ("net.ipv4.tcp_syncookies", "1"),
    ("net.ipv6.conf.all.accept_ra", "0"),
    ("net.ipv6.conf.default.accept_ra", "0"),
];

/// A hardened sshd_config that includes its drop-in directory first, like Debian's and
/// Amazon Linux's own.
pub const SSHD_CONFIG: &str = "Include /etc/ssh/sshd_config.d/*.conf\n\
PermitRootLogin no\nPermitEmptyPasswords no\nMaxAuthTries 4\nHostbasedAuthentication no\nIgnoreRhosts yes\n\
PermitUserEnvironment no\nLoginGraceTime 60\nClientAliveInterval 300\nClientAliveCountMax 3\nMaxStartups 10:30:60\n\
MaxSessions 10\nLogLevel VERBOSE\nUsePAM yes\nBanner /etc/issue.net\nX11Forwarding no\nPasswordAuthentication no\n\
Ciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr\n\
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com\n\
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512\n\
Subsystem sftp internal-sftp\n";

/// Builds the hardened root of `family` in `t`.
pub fn build(t: &Tree, family: Family) {
    let rhel = family == Family::Rhel;
    if rhel {
        t.file("etc/os-release", "NAME=\"Amazon Linux\"\nVERSION_ID=\"2023\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nPRETTY_NAME=\"Amazon Linux 2023\"\n");
    } else {
        t.file(
            "etc/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
        );
    }
    // Accounts: root locked, a system account, an interactive user.
    let nologin = if rhel { "/sbin/nologin" } else { "/usr/sbin/nologin" };
    t.file(
        "etc/passwd",
        format!("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:{nologin}\nsshd:x:74:74::/run/sshd:{nologin}\nalice:x:1000:1000::/home/alice:/bin/bash\n"),
    );
    let (shadow_mode, shadow_gid) = if rhel { (0o000, 0) } else { (0o640, 42) };
    t.file_as(
        "etc/shadow",
        "root:!*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nsshd:!:19000::::::\nalice:$y$j9T$alicesalt$alicehashvalue:19000:1:90:7:30::\n",
        shadow_mode,
        0,
        shadow_gid,
    );
    t.file("etc/group", "root:x:0:\ndaemon:x:1:\nshadow:x:42:\nsshd:x:74:\ncrontab:x:101:\nalice:x:1000:\n");
    t.file_as("etc/gshadow", "root:*::\nshadow:*::\nalice:!::\n", shadow_mode, 0, shadow_gid);
    t.dir_as("home/alice", 0o750, 1000, 1000);
    t.dir("root", 0o700);
    t.dir("tmp", 0o1777).dir("var/tmp", 0o1777).dir("var/log", 0o755);
    t.file_as("etc/machine-id", "uninitialized\n", 0o444, 0, 0);
    t.file(
        "etc/fstab",
        "UUID=0a1b / ext4 defaults 0 1\nUUID=2c3d /boot/efi vfat umask=0077 0 1\ntmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec 0 0\n",
    );
    // Packages.
    let packages = ["openssh-server", "cron", "sudo", "chrony", "ufw", "bash"];
    if rhel {
        t.file("var/lib/rpm/rpmdb.sqlite", include_bytes!("../fixtures/rpmdb.sqlite"));
    } else {
        let status: String =
            packages.iter().map(|p| format!("Package: {p}\nStatus: install ok installed\nVersion: 1\n\n")).collect();
        t.file("var/lib/dpkg/status", status);
    }
    // Services: cron, chrony, sshd, auditd and a firewall enabled; journald installed (static).
    let units = "usr/lib/systemd/system";
    let (cron, chrony, ssh) = if rhel { ("crond", "chronyd", "sshd") } else { ("cron", "chrony", "ssh") };
    let firewall = if rhel { "firewalld" } else { "ufw" };
    for u in [cron, chrony, ssh, firewall, "auditd", "systemd-journald"] {
        t.file(format!("{units}/{u}.service"), "[Service]\nExecStart=/bin/true\n");
    }
    for u in [cron, chrony, ssh, firewall, "auditd"] {
        t.symlink(format!("etc/systemd/system/multi-user.target.wants/{u}.service"), format!("/{units}/{u}.service"));
    }
    if !rhel {
        t.file("etc/ufw/ufw.conf", "ENABLED=yes\nLOGLEVEL=low\n");
        t.file("etc/default/ufw", "IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\n");
    }
    // Kernel: modules and sysctl.
    let modprobe: String = MODULES.iter().map(|m| format!("install {m} /bin/false\nblacklist {m}\n")).collect();
    t.file("etc/modprobe.d/cis.conf", modprobe);
    let sysctl: String = SYSCTL.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    t.file("etc/sysctl.d/60-cis.conf", sysctl);
    t.file("etc/security/limits.d/60-core.conf", "* hard core 0\n");
    let grub = if rhel { "boot/grub2/grub.cfg" } else { "boot/grub/grub.cfg" };
    t.file_as(grub, "set timeout=1\n", 0o600, 0, 0);
    // Banners.
    for f in ["etc/issue", "etc/issue.net", "etc/motd"] {
        t.file(f, "Authorised use only.\n");
    }
    // Cron and at.
    t.file_as("etc/crontab", "# m h dom mon dow user command\n", 0o600, 0, 0);
    for d in ["cron.hourly", "cron.daily", "cron.weekly", "cron.monthly", "cron.d"] {
        t.dir(format!("etc/{d}"), 0o700);
    }
    t.file_as("etc/cron.allow", "root\n", 0o640, 0, 0);
    // SSH.
    t.file_as("etc/ssh/sshd_config", SSHD_CONFIG, 0o600, 0, 0);
    t.dir("etc/ssh/sshd_config.d", 0o755);
    // Accounts and PAM.
    t.file(
        "etc/login.defs",
        "MAIL_DIR /var/mail\nPASS_MAX_DAYS 365\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\nUID_MIN 1000\nUMASK 027\nENCRYPT_METHOD YESCRYPT\n",
    );
    t.file("etc/default/useradd", "SHELL=/bin/sh\nINACTIVE=30\n");
    t.file("etc/security/pwquality.conf", "minlen = 14\n");
    t.file("etc/security/faillock.conf", "deny = 5\nunlock_time = 900\n");
    let pam_auth = if rhel { "etc/pam.d/system-auth" } else { "etc/pam.d/common-auth" };
    t.file(pam_auth, "auth required pam_faillock.so preauth\nauth [success=1 default=ignore] pam_unix.so\nauth required pam_faillock.so authfail\n");
    t.file("etc/pam.d/su", "auth sufficient pam_rootok.so\nauth required pam_wheel.so use_uid group=sugroup\n");
    t.file_as(
        "etc/sudoers",
        "Defaults use_pty\nDefaults logfile=\"/var/log/sudo.log\"\nroot ALL=(ALL:ALL) ALL\n",
        0o440,
        0,
        0,
    );
    t.file("etc/profile.d/60-tmout.sh", "readonly TMOUT=900; export TMOUT\n");
}
