//! `amiprep audit` and `amiprep checks list` against fake roots: every primitive passing,
//! failing and not applying; the Debian and RHEL families; read-only; output snapshots; no
//! secret in any output.

mod common;

use common::hardened::{self, Family};
use common::{Sandbox, Tree};
use serde_json::Value;

/// A sandbox with the hardened root of `family`, and an empty profile `bare` (no sets), so
/// `--set` alone decides what runs.
fn hardened(family: Family) -> (Sandbox, String) {
    let sb = Sandbox::new();
    hardened::build(&sb.tree(), family);
    let bare = sb.profile("bare", "description = \"no checks of its own\"\n");
    (sb, bare)
}

/// Runs one check (or set) and returns the JSON report.
#[track_caller]
fn audit(sb: &Sandbox, profile: &str, set: &str) -> Value {
    let r = sb.run(&[
        "audit",
        "--root",
        sb.root_arg(),
        "-p",
        profile,
        "--set",
        set,
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    r.code(0).json()
}

/// The status of check `id`, run alone.
#[track_caller]
fn status(sb: &Sandbox, profile: &str, id: &str) -> (String, Value) {
    let report = audit(sb, profile, id);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{report:#}");
    (results[0]["status"].as_str().unwrap().to_string(), results[0].clone())
}

#[track_caller]
fn expect(sb: &Sandbox, profile: &str, id: &str, want: &str) -> Value {
    let (got, result) = status(sb, profile, id);
    assert_eq!(got, want, "{id}: {result:#}");
    result
}

fn not_passing(report: &Value) -> Vec<String> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("fail" | "error")))
        .map(|r| format!("{}: {}", r["id"], r["evidence"]))
        .collect()
}

#[test]
fn hardened_debian_and_rhel_roots_pass_every_check() {
    for family in [Family::Debian, Family::Rhel] {
        let (sb, bare) = hardened(family);
        for set in ["cis-level1", "cis-level2", "image-ready"] {
            let report = audit(&sb, &bare, set);
            assert_eq!(not_passing(&report), Vec::<String>::new(), "{family:?} {set}");
            assert_eq!(report["os"]["family"], if family == Family::Rhel { "rhel" } else { "debian" });
        }
        let r = sb.run(&["audit", "--root", sb.root_arg(), "-p", &bare, "--set", "cis-level1", "--set", "image-ready"]);
        r.code(0);
        assert!(r.stdout.contains("0 failed, "), "{}", r.stdout);
    }
}

#[test]
fn the_families_differ_in_modes_paths_and_package_names() {
    // Debian's shadow mode (0640 root:shadow) is too open for the RHEL rule (0000).
    let (sb, bare) = hardened(Family::Rhel);
    let t = sb.tree();
    t.file_as("etc/shadow", t.read("etc/shadow"), 0o640, 0, 42);
    let r = expect(&sb, &bare, "file-shadow-mode", "fail");
    assert_eq!(r["evidence"][0]["actual"], "0640 root:shadow");
    // The RHEL grub path, the rpm database and cronie are what the checks read there.
    expect(&sb, &bare, "boot-grub-cfg", "pass");
    t.file_as("boot/grub2/grub.cfg", "x", 0o666, 0, 0);
    expect(&sb, &bare, "boot-grub-cfg", "fail");
    let r = expect(&sb, &bare, "svc-cron-enabled", "pass");
    assert!(r["evidence"][0]["actual"].as_str().unwrap().contains("crond.service: enabled"), "{r:#}");
    // apport is Ubuntu's: not applicable on RHEL.
    expect(&sb, &bare, "boot-apport-disabled", "not-applicable");

    let (sb, bare) = hardened(Family::Debian);
    let r = expect(&sb, &bare, "file-shadow-mode", "pass");
    assert_eq!(r["evidence"][0]["actual"], "0640 root:shadow");
    expect(&sb, &bare, "boot-apport-disabled", "pass");
}

/// Each primitive, from the hardened root: it passes there; a targeted change makes it fail;
/// and where it can, another makes it not applicable.
#[test]
fn mode_primitive() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    expect(&sb, &bare, "file-passwd-mode", "pass");
    t.file_as("etc/passwd", t.read("etc/passwd"), 0o664, 0, 0);
    let r = expect(&sb, &bare, "file-passwd-mode", "fail");
    assert_eq!(r["evidence"][0]["actual"], "0664 root:root");
    assert_eq!(r["evidence"][0]["source"], "/etc/passwd");
    // Owner counts as much as mode.
    t.file_as("etc/crontab", "x", 0o600, 1000, 0);
    expect(&sb, &bare, "svc-crontab-mode", "fail");
    // Missing files: not applicable where the rule says so (no grub: a container image).
    std::fs::remove_file(t.path("boot/grub/grub.cfg")).unwrap();
    let r = expect(&sb, &bare, "boot-grub-cfg", "not-applicable");
    assert!(r["reason"].as_str().unwrap().contains("does not exist"));
    // "Need" bits: /tmp without its sticky bit fails.
    t.dir("tmp", 0o777);
    expect(&sb, &bare, "fs-tmp-sticky", "fail");
    // Globs: every host key must pass.
    t.file_as("etc/ssh/ssh_host_ed25519_key", "k", 0o600, 0, 0).file_as("etc/ssh/ssh_host_rsa_key", "k", 0o644, 0, 0);
    expect(&sb, &bare, "ssh-host-key-modes", "fail");
}

#[test]
fn absent_and_present_primitives() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    expect(&sb, &bare, "img-no-ssh-host-keys", "pass");
    expect(&sb, &bare, "img-no-cloud-init-state", "pass");
    t.file("etc/ssh/ssh_host_ecdsa_key.pub", "k");
    let r = expect(&sb, &bare, "img-no-ssh-host-keys", "fail");
    assert_eq!(r["evidence"][0]["actual"], "1 path: /etc/ssh/ssh_host_ecdsa_key.pub");
    t.symlink("var/lib/cloud/instance", "/var/lib/cloud/instances/i-1");
    expect(&sb, &bare, "img-no-cloud-init-state", "fail");
    // Present is the condition of the coredump check: without systemd-coredump it does not apply.
    expect(&sb, &bare, "boot-coredump-storage", "not-applicable");
    t.file("usr/lib/systemd/systemd-coredump", "");
    expect(&sb, &bare, "boot-coredump-storage", "fail");
    t.file("etc/systemd/coredump.conf.d/60.conf", "[Coredump]\nStorage=none\nProcessSizeMax=0\n");
    expect(&sb, &bare, "boot-coredump-storage", "pass");
}

#[test]
fn content_primitive() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    expect(&sb, &bare, "banner-issue", "pass");
    t.file("etc/issue", "Debian GNU/Linux 12 \\n \\l\n");
    let r = expect(&sb, &bare, "banner-issue", "fail");
    assert_eq!(r["evidence"][0]["source"], "/etc/issue:1");
    t.file("etc/issue", "Kernel \\r on \\m\n");
    expect(&sb, &bare, "banner-issue", "fail");
    // nullok in any PAM file fails; commented out it does not count.
    expect(&sb, &bare, "acct-no-nullok", "pass");
    t.file("etc/pam.d/common-password", "# password [success=1] pam_unix.so nullok\n");
    expect(&sb, &bare, "acct-no-nullok", "pass");
    t.file("etc/pam.d/common-password", "password [success=1] pam_unix.so obscure nullok yescrypt\n");
    expect(&sb, &bare, "acct-no-nullok", "fail");
    // Wanted content missing; and not applicable when sudo is not installed.
    t.file_as("etc/sudoers", "root ALL=(ALL:ALL) ALL\n", 0o440, 0, 0);
    expect(&sb, &bare, "acct-sudo-use-pty", "fail");
    t.file_as("etc/sudoers.d/60-pty", "Defaults  !visiblepw, use_pty\n", 0o440, 0, 0);
    expect(&sb, &bare, "acct-sudo-use-pty", "pass");
    let status =
        String::from_utf8(t.read("var/lib/dpkg/status")).unwrap().replace("Package: sudo\n", "Package: not-sudo\n");
    t.file("var/lib/dpkg/status", status);
    let r = expect(&sb, &bare, "acct-sudo-use-pty", "not-applicable");
    assert_eq!(r["reason"], "sudo is not installed");
}

#[test]
fn sysctl_primitive_reads_every_file_in_precedence_order() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    let r = expect(&sb, &bare, "net-ip-forward", "pass");
    // Offline, the runtime value cannot be seen: that is said, and the persisted one decides.
    assert!(r["reason"].as_str().unwrap().contains("offline"), "{r:#}");
    // A later file (by name, across directories) overrides: 99 in /usr/lib beats 60 in /etc.
    t.file("usr/lib/sysctl.d/99-forward.conf", "net.ipv4.ip_forward = 1\n");
    let r = expect(&sb, &bare, "net-ip-forward", "fail");
    assert_eq!(r["evidence"][0]["source"], "/usr/lib/sysctl.d/99-forward.conf:1 (persisted, applied last)");
    // A file of the same name in /etc hides the vendor's.
    t.file("etc/sysctl.d/99-forward.conf", "net.ipv4.ip_forward=0\n");
    expect(&sb, &bare, "net-ip-forward", "pass");
    // /etc/sysctl.conf is read last of all, and globs in keys apply.
    t.file("etc/sysctl.conf", "net.ipv4.conf.*.rp_filter = 2\n");
    let r = expect(&sb, &bare, "net-rp-filter", "fail");
    assert!(r["evidence"].to_string().contains("/etc/sysctl.conf:1"), "{r:#}");
    // Not persisted at all fails.
    t.file("etc/sysctl.d/60-cis.conf", "");
    let r = expect(&sb, &bare, "boot-aslr", "fail");
    assert_eq!(r["evidence"][0]["actual"], "not persisted");
}

#[test]
fn kernel_module_primitive() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    expect(&sb, &bare, "fs-module-cramfs", "pass");
    // install alone is not enough: CIS wants the blacklist too.
    t.file("etc/modprobe.d/cis.conf", "install cramfs /bin/true\n");
    let r = expect(&sb, &bare, "fs-module-cramfs", "fail");
    assert_eq!(r["evidence"][1]["actual"], "not blacklisted");
    // usb_storage and usb-storage are the same module.
    t.file("etc/modprobe.d/usb.conf", "install usb_storage /bin/false\nblacklist usb_storage\n");
    expect(&sb, &bare, "fs-module-usb-storage", "pass");
    // A module no installed kernel ships cannot be loaded: it passes without configuration.
    t.file("lib/modules/6.1.0-9-amd64/modules.dep", "kernel/fs/ext4/ext4.ko: kernel/fs/mbcache.ko\n");
    t.file("lib/modules/6.1.0-9-amd64/modules.builtin", "kernel/fs/vfat.ko\n");
    let r = expect(&sb, &bare, "fs-module-cramfs", "pass");
    assert_eq!(r["evidence"][0]["actual"], "not available in any installed kernel");
    t.file("lib/modules/6.1.0-9-amd64/modules.dep", "kernel/fs/cramfs/cramfs.ko.xz:\n");
    expect(&sb, &bare, "fs-module-cramfs", "fail");
}

#[test]
fn mount_primitives() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    // A single-volume image: partition checks do not apply, never fail.
    let r = expect(&sb, &bare, "fs-tmp-separate", "not-applicable");
    assert!(r["reason"].as_str().unwrap().contains("single-volume"));
    expect(&sb, &bare, "fs-tmp-noexec", "not-applicable");
    // With a separate /var the image is not single-volume: /tmp on / fails.
    t.file("etc/fstab", "UUID=1 / ext4 defaults 0 1\nUUID=2 /var ext4 defaults,nodev 0 2\n");
    expect(&sb, &bare, "fs-tmp-separate", "fail");
    expect(&sb, &bare, "fs-var-options", "fail");
    t.file(
        "etc/fstab",
        "UUID=1 / ext4 defaults 0 1\nUUID=2 /var ext4 defaults,nodev,nosuid 0 2\ntmpfs /tmp tmpfs nosuid,nodev 0 0\n",
    );
    expect(&sb, &bare, "fs-var-options", "pass");
    expect(&sb, &bare, "fs-tmp-separate", "pass");
    expect(&sb, &bare, "fs-tmp-nodev", "pass");
    let r = expect(&sb, &bare, "fs-tmp-noexec", "fail");
    assert_eq!(r["evidence"][0]["actual"], "nosuid,nodev");
    // tmp.mount enabled (systemd's own tmpfs) counts as separate, with the unit's options.
    t.file("etc/fstab", "UUID=1 / ext4 defaults 0 1\nUUID=2 /var ext4 defaults,nodev,nosuid 0 2\n");
    t.file(
        "usr/lib/systemd/system/tmp.mount",
        "[Mount]\nWhat=tmpfs\nOptions=mode=1777,strictatime,nosuid,nodev,size=50%\n",
    );
    t.symlink("etc/systemd/system/local-fs.target.wants/tmp.mount", "/usr/lib/systemd/system/tmp.mount");
    expect(&sb, &bare, "fs-tmp-separate", "pass");
    expect(&sb, &bare, "fs-tmp-nosuid", "pass");
    expect(&sb, &bare, "fs-tmp-noexec", "fail");
    // /dev/shm offline: systemd mounts it nosuid,nodev but not noexec unless fstab says so.
    expect(&sb, &bare, "fs-dev-shm-nodev", "pass");
    expect(&sb, &bare, "fs-dev-shm-noexec", "fail");
}

#[test]
fn package_primitive_reads_dpkg_and_rpm_databases() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    expect(&sb, &bare, "svc-no-telnet", "pass");
    let status = String::from_utf8(t.read("var/lib/dpkg/status")).unwrap();
    t.file("var/lib/dpkg/status", format!("{status}Package: telnet\nStatus: install ok installed\n\n"));
    let r = expect(&sb, &bare, "svc-no-telnet", "fail");
    assert_eq!(r["evidence"][0]["actual"], "installed: telnet");
    assert_eq!(r["evidence"][0]["source"], "/var/lib/dpkg/status");
    // Removed but not purged (config-files) is not installed.
    t.file("var/lib/dpkg/status", format!("{status}Package: telnet\nStatus: deinstall ok config-files\n\n"));
    expect(&sb, &bare, "svc-no-telnet", "pass");
    // No mail transfer agent: the MTA check does not apply.
    expect(&sb, &bare, "svc-mta-local-only", "not-applicable");

    let (sb, bare) = hardened(Family::Rhel);
    let r = expect(&sb, &bare, "svc-no-telnet", "pass");
    assert_eq!(r["evidence"][0]["source"], "/var/lib/rpm/rpmdb.sqlite");
    // A database amiprep cannot read is an error, not a pass.
    std::fs::remove_file(sb.tree().path("var/lib/rpm/rpmdb.sqlite")).unwrap();
    sb.tree().file("var/lib/rpm/Packages", "\0\0\0\0 berkeley");
    let r = expect(&sb, &bare, "svc-no-telnet", "error");
    assert!(r["reason"].as_str().unwrap().contains("Berkeley DB"));
}

#[test]
fn service_primitive() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    expect(&sb, &bare, "svc-avahi", "pass");
    t.file("lib/systemd/system/avahi-daemon.service", "[Service]\n");
    expect(&sb, &bare, "svc-avahi", "pass");
    t.symlink(
        "etc/systemd/system/multi-user.target.wants/avahi-daemon.service",
        "/lib/systemd/system/avahi-daemon.service",
    );
    let r = expect(&sb, &bare, "svc-avahi", "fail");
    assert!(r["evidence"][0]["actual"].as_str().unwrap().contains("avahi-daemon.service: enabled"));
    // Masked beats enabled.
    t.symlink("etc/systemd/system/avahi-daemon.service", "/dev/null");
    expect(&sb, &bare, "svc-avahi", "pass");
    // Two time daemons is one too many; none is too few.
    expect(&sb, &bare, "svc-one-time-daemon", "pass");
    t.symlink(
        "etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service",
        "/lib/systemd/system/systemd-timesyncd.service",
    );
    expect(&sb, &bare, "svc-one-time-daemon", "fail");
    // cron installed but not enabled fails; not installed does not apply.
    std::fs::remove_file(t.path("etc/systemd/system/multi-user.target.wants/cron.service")).unwrap();
    expect(&sb, &bare, "svc-cron-enabled", "fail");
    let status =
        String::from_utf8(t.read("var/lib/dpkg/status")).unwrap().replace("Package: cron\n", "Package: anacron\n");
    t.file("var/lib/dpkg/status", status);
    expect(&sb, &bare, "svc-cron-enabled", "not-applicable");
}

#[test]
fn login_defs_and_setting_primitives_compare_numbers() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    expect(&sb, &bare, "acct-pass-max-days", "pass");
    t.file("etc/login.defs", "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nUMASK 022\n#PASS_WARN_AGE 30\n");
    let r = expect(&sb, &bare, "acct-pass-max-days", "fail");
    assert_eq!(r["evidence"][0]["actual"], "99999");
    assert_eq!(r["evidence"][0]["source"], "/etc/login.defs:1");
    expect(&sb, &bare, "acct-pass-min-days", "fail");
    expect(&sb, &bare, "acct-umask", "fail");
    // Unset: the program's default decides (PASS_WARN_AGE 7 passes, the comment is ignored).
    let r = expect(&sb, &bare, "acct-pass-warn-age", "pass");
    assert!(r["evidence"][0]["source"].as_str().unwrap().contains("default"));
    // A profile parameter moves the threshold.
    t.file("etc/login.defs", "PASS_MAX_DAYS 180\n");
    expect(&sb, &bare, "acct-pass-max-days", "pass");
    let strict = sb.profile("strict", "[checks]\npass_max_days = 90\n");
    expect(&sb, &strict, "acct-pass-max-days", "fail");
    // Shell style: TMOUT in profile scripts; unset fails.
    std::fs::remove_file(t.path("etc/profile.d/60-tmout.sh")).unwrap();
    expect(&sb, &bare, "acct-shell-timeout", "fail");
}

#[test]
fn account_primitives() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    for id in
        ["acct-uid0-only-root", "user-no-empty-passwords", "acct-system-nologin", "user-unique-uids", "user-home-dirs"]
    {
        expect(&sb, &bare, id, "pass");
    }
    let passwd = String::from_utf8(t.read("etc/passwd")).unwrap();
    t.file("etc/passwd", format!("{passwd}toor:x:0:0::/root:/bin/sh\nlp:x:7:7:lp:/var/spool/lpd:/bin/sh\n"));
    let r = expect(&sb, &bare, "acct-uid0-only-root", "fail");
    assert_eq!(r["evidence"][0]["actual"], "root, toor");
    expect(&sb, &bare, "user-unique-uids", "fail");
    let r = expect(&sb, &bare, "acct-system-nologin", "fail");
    assert_eq!(r["evidence"][0]["actual"], "login shells: toor (/bin/sh), lp (/bin/sh)");
    t.dir_as("home/alice", 0o755, 1000, 1000);
    expect(&sb, &bare, "user-home-dirs", "fail");
    // Without a shadow file, the shadow-only rules do not apply.
    std::fs::remove_file(t.path("etc/shadow")).unwrap();
    expect(&sb, &bare, "acct-system-locked", "not-applicable");
    expect(&sb, &bare, "img-root-password-locked", "not-applicable");
}

#[test]
fn sshd_primitive_uses_the_effective_value() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    expect(&sb, &bare, "ssh-max-auth-tries", "pass");
    // A drop-in read first wins over the main file (first value wins)...
    t.file_as("etc/ssh/sshd_config.d/50-cloud.conf", "MaxAuthTries 6\nPasswordAuthentication yes\n", 0o600, 0, 0);
    let r = expect(&sb, &bare, "ssh-max-auth-tries", "fail");
    assert_eq!(r["evidence"][0]["source"], "/etc/ssh/sshd_config.d/50-cloud.conf:1");
    expect(&sb, &bare, "ssh-password-authentication", "fail");
    // ...but values inside a Match block are not global.
    t.file_as(
        "etc/ssh/sshd_config.d/50-cloud.conf",
        "Match User deploy\n  MaxAuthTries 6\n  PasswordAuthentication yes\n",
        0o600,
        0,
        0,
    );
    expect(&sb, &bare, "ssh-max-auth-tries", "pass");
    expect(&sb, &bare, "ssh-password-authentication", "pass");
    // Unset keywords are sshd's defaults: MaxStartups 10:30:100 is too lax.
    t.file_as("etc/ssh/sshd_config", hardened::SSHD_CONFIG.replace("MaxStartups 10:30:60\n", ""), 0o600, 0, 0);
    let r = expect(&sb, &bare, "ssh-max-startups", "fail");
    assert_eq!(r["evidence"][0]["source"], "sshd's built-in default");
    // No sshd: the SSH checks do not apply.
    std::fs::remove_file(t.path("etc/ssh/sshd_config")).unwrap();
    expect(&sb, &bare, "ssh-max-auth-tries", "not-applicable");
    expect(&sb, &bare, "ssh-config-modes", "not-applicable");
}

#[test]
fn one_filesystem_scan_serves_every_whole_tree_check() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    for id in ["file-world-writable", "file-sticky-dirs", "file-unowned", "file-ungrouped", "log-not-world-writable"] {
        expect(&sb, &bare, id, "pass");
    }
    t.file_as("opt/app/data.txt", "x", 0o666, 0, 0);
    t.file_as("var/log/app.log", "x", 0o646, 0, 0);
    t.dir("srv/drop", 0o777);
    t.file_as("opt/app/orphan", "x", 0o644, 4242, 4343);
    t.file_as("usr/bin/helper", "x", 0o4755, 0, 0);
    let report = audit(&sb, &bare, "cis-level1");
    let get = |id: &str| report["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(get("file-world-writable")["evidence"][0]["actual"], "2 paths: /opt/app/data.txt, /var/log/app.log");
    assert_eq!(get("log-not-world-writable")["evidence"][0]["actual"], "1 path: /var/log/app.log");
    assert_eq!(get("file-sticky-dirs")["evidence"][0]["actual"], "1 path: /srv/drop");
    assert_eq!(get("file-unowned")["evidence"][0]["actual"], "1 path: /opt/app/orphan");
    assert_eq!(get("file-ungrouped")["status"], "fail");
    let suid = get("file-suid-sgid");
    assert_eq!(suid["status"], "manual");
    assert_eq!(suid["evidence"][0]["source"], "/usr/bin/helper");
    assert_eq!(suid["evidence"][0]["actual"], "4755");
}

#[test]
fn image_ready_checks_see_every_home_and_the_sealed_state() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    let report = audit(&sb, &bare, "image-ready");
    assert_eq!(not_passing(&report), Vec::<String>::new());
    t.file("home/alice/.ssh/authorized_keys", "ssh-ed25519 AAAA");
    t.file("root/.bash_history", "ls\n");
    t.file("home/alice/.aws/credentials", "[default]\n");
    t.file("etc/machine-id", "5f1c0a3e9b7d4c2a8e6f0b1d3c5a7e9f\n");
    t.file("var/lib/dhcp/dhclient.eth0.leases", "lease {}\n");
    t.file("var/log/syslog.2.gz", "x");
    t.file("var/lib/cloud/instances/i-0abc/obj.pkl", "x");
    t.file_as("etc/shadow", "root:$y$j9T$rootsalt$roothashvalue:19000:0:99999:7:::\n", 0o640, 0, 42);
    let report = audit(&sb, &bare, "image-ready");
    let failed: Vec<&str> =
        report["summary"]["required_failed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        failed,
        [
            "img-no-authorized-keys",
            "img-no-shell-history",
            "img-no-credentials",
            "img-machine-id-reset",
            "img-no-cloud-init-state",
            "img-no-dhcp-leases",
            "img-no-rotated-logs",
        ]
    );
    // root's password is checked, but required only of a profile that locks root.
    assert!(report["summary"]["failed_ids"].as_array().unwrap().iter().any(|v| v == "img-root-password-locked"));
    let locks = sb.profile("locks", "[users]\nlock = [\"root\"]\n");
    let report = audit(&sb, &locks, "image-ready");
    assert!(report["summary"]["required_failed"].as_array().unwrap().iter().any(|v| v == "img-root-password-locked"));
    // What the profile keeps on purpose is reported, not required.
    let keeps = sb.profile("keeps", "[files]\nkeep = [\"home/alice/**\"]\n");
    let report = audit(&sb, &keeps, "image-ready");
    let required = report["summary"]["required_failed"].as_array().unwrap();
    assert!(!required.iter().any(|v| v == "img-no-authorized-keys"), "{required:?}");
    assert!(required.iter().any(|v| v == "img-no-shell-history"), "root's history is not kept: {required:?}");
    // The default profile runs image-ready: `audit -p default` shows what is still dirty.
    let r = sb.run(&["audit", "--root", sb.root_arg(), "-p", "default"]);
    r.code(4);
    assert!(r.stdout.contains("not ready for imaging: img-no-authorized-keys"), "{}", r.stdout);
    // A profile that keeps machine-id makes that check not applicable.
    let keep = sb.profile("keep", "[operations.machine-id]\nmode = \"keep\"\n");
    expect(&sb, &keep, "img-machine-id-reset", "not-applicable");
}

#[test]
fn exit_codes_follow_fail_on_and_profiles_select_and_skip() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    t.file_as("etc/passwd", t.read("etc/passwd"), 0o666, 0, 0); // level 1
    let run = |extra: &[&str]| {
        let mut a = vec!["audit", "--root", sb.root_arg(), "-p", bare.as_str(), "--set", "cis-level2"];
        a.extend(extra);
        sb.run(&a).code
    };
    assert_eq!(run(&[]), 4);
    assert_eq!(run(&["--fail-on", "1"]), 4);
    assert_eq!(run(&["--fail-on", "2"]), 0);
    assert_eq!(run(&["--fail-on", "none"]), 0);
    t.file("etc/modprobe.d/cis.conf", ""); // level 2 modules now fail too (and level 1 ones)
    assert_eq!(run(&["--fail-on", "2"]), 4);
    // A profile includes sets and skips checks; skip wins.
    let p = sb
        .profile("cis", "[checks]\ninclude = [\"cis-level1\"]\nskip = [\"file-passwd-mode\", \"fs-module-cramfs\"]\n");
    let report = sb.run(&["audit", "--root", sb.root_arg(), "-p", &p, "--format", "json"]).json();
    let ids: Vec<&str> = report["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&"file-passwd-mode") && !ids.contains(&"fs-module-cramfs") && ids.contains(&"fs-module-hfs"));
    assert!(!ids.iter().any(|i| i.starts_with("img-")), "image-ready is not in that profile");
    // Bad names are located errors with a suggestion; an unknown --set is a usage error.
    let bad = sb.profile("bad", "[checks]\ninclude = [\"cis-levl1\"]\n");
    let r = sb.run(&["audit", "--root", sb.root_arg(), "-p", &bad]);
    r.code(2);
    assert!(r.stderr.contains("bad.toml:2:12") && r.stderr.contains("did you mean \"cis-level1\""), "{}", r.stderr);
    let bad = sb.profile("bad2", "[checks]\nmax_auth_trys = 3\n");
    sb.run(&["audit", "--root", sb.root_arg(), "-p", &bad]).code(2);
    sb.run(&["audit", "--root", sb.root_arg(), "--set", "nope"]).code(2);
}

#[test]
fn audit_is_read_only() {
    let sb = Sandbox::new();
    let t = sb.tree();
    common::dirty::DirtyRoot::plant(&t);
    hardened_extras(&t);
    let before = sb.snapshot();
    for format in ["text", "json", "junit"] {
        sb.run(&["audit", "--root", sb.root_arg(), "--set", "cis-level2", "--set", "image-ready", "--format", format])
            .code(4);
    }
    let after = sb.snapshot();
    common::snapshot::assert_identical(&before, &after, "audit must not change the root");
}

/// Things of the dirty root's kind that the audit reads and cleanup does not plant.
fn hardened_extras(t: &Tree) {
    t.file_as("etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nMaxAuthTries 9\n", 0o644, 0, 0);
    t.file("etc/ssh/sshd_config.d/a.conf", "Match User x\n PermitRootLogin yes\n");
    t.file("etc/sysctl.d/10-x.conf", "net.ipv4.ip_forward = 1\n");
    t.file("var/lib/rpm/rpmdb.sqlite", include_bytes!("fixtures/rpmdb.sqlite"));
}

#[test]
fn no_output_prints_a_secret() {
    let sb = Sandbox::new();
    let t = sb.tree();
    hardened::build(&t, Family::Debian);
    // Unlocked hashes and a hash in passwd itself: every format describes, none copies.
    t.file_as(
        "etc/shadow",
        "root:$6$rootSALT$SECRETHASHroot:19000:0:99999:7:::\ndaemon:$6$dSALT$SECRETHASHdaemon:1::::::\n",
        0o640,
        0,
        42,
    );
    let passwd = String::from_utf8(t.read("etc/passwd")).unwrap();
    t.file("etc/passwd", passwd.replace("daemon:x:", "daemon:$1$pSALT$SECRETHASHpasswd:"));
    for format in ["text", "json", "junit"] {
        let r = sb.run(&[
            "audit",
            "--root",
            sb.root_arg(),
            "--set",
            "cis-level2",
            "--set",
            "image-ready",
            "--format",
            format,
        ]);
        r.code(4);
        assert!(r.stdout.contains("img-root-password-locked"));
        for secret in ["SECRETHASH", "SALT", "$6$", "$1$"] {
            assert!(
                !r.stdout.contains(secret) && !r.stderr.contains(secret),
                "{format} output shows {secret}:\n{}",
                r.stdout
            );
        }
    }
}

/// The text and JSON of a fixed root, against committed snapshots (root path as `ROOT`).
/// Set `AMIPREP_UPDATE_SNAPSHOTS=1` to rewrite them after an intended change, then review the
/// diff.
#[test]
fn text_and_json_output_snapshots() {
    let sb = Sandbox::new();
    let t = sb.tree();
    hardened::build(&t, Family::Debian);
    t.file_as("etc/passwd", t.read("etc/passwd"), 0o664, 0, 0);
    t.file("etc/issue", "Debian \\r\n");
    t.file("etc/sysctl.d/99-z.conf", "net.ipv4.ip_forward = 1\n");
    t.file("etc/ssh/ssh_host_ed25519_key", "k");
    t.file_as("usr/bin/helper", "x", 0o4755, 0, 0);
    let bare = sb.profile("bare", "");
    let root = sb.root_arg().to_string();
    for (format, file) in [("text", "audit-debian.txt"), ("json", "audit-debian.json")] {
        let r = sb.run(&[
            "audit",
            "--root",
            &root,
            "-p",
            &bare,
            "--set",
            "cis-level1",
            "--set",
            "image-ready",
            "--format",
            format,
        ]);
        r.code(4);
        let got = r
            .stdout
            .replace(sb.profiles.to_str().unwrap(), "PROFILES")
            .replace(&root, "ROOT")
            .replace(env!("CARGO_PKG_VERSION"), "VERSION");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(file);
        if std::env::var_os("AMIPREP_UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got, want, "{file} differs: rerun with AMIPREP_UPDATE_SNAPSHOTS=1 and review the diff");
    }
}

#[test]
fn junit_has_one_testcase_per_check() {
    let (sb, bare) = hardened(Family::Debian);
    sb.tree().file("etc/issue", "\\s <&> \"x\"\n");
    let r = sb.run(&["audit", "--root", sb.root_arg(), "-p", &bare, "--set", "cis-level1", "--format", "junit"]);
    r.code(4);
    let x = &r.stdout;
    assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"amiprep audit\""));
    let json = audit(&sb, &bare, "cis-level1");
    let n = json["results"].as_array().unwrap().len();
    assert_eq!(x.matches("<testcase ").count(), n);
    assert_eq!(x.matches("<failure ").count(), 1);
    assert!(x.contains("name=\"banner-issue: "), "{x}");
    assert!(x.contains("\\s &lt;&amp;&gt; &quot;x&quot;"), "escaped evidence: {x}");
    assert_eq!(x.matches("<testsuite ").count(), x.matches("</testsuite>").count());
}

#[test]
fn checks_list_covers_every_section_with_at_least_60_level1_checks() {
    let sb = Sandbox::new();
    let r = sb.run(&["checks", "list", "--format", "json"]);
    let list = r.code(0).json();
    let list = list.as_array().unwrap();
    let l1: Vec<&Value> =
        list.iter().filter(|c| c["sets"].as_array().unwrap().iter().any(|s| s == "cis-level1")).collect();
    assert!(l1.len() >= 60, "{} level 1 checks", l1.len());
    for section in ["filesystem", "boot", "banners", "services", "network", "ssh", "accounts", "logging", "files"] {
        assert!(l1.iter().any(|c| c["section"] == section), "no level 1 check in {section}");
    }
    let img: Vec<&str> = list.iter().filter(|c| c["section"] == "image").map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(img.len(), 9);
    for c in list {
        assert!(!c["looks_at"].as_str().unwrap().is_empty());
        assert!(matches!(c["level"].as_u64(), Some(1 | 2)));
    }
    let text = sb.run(&["checks", "list"]);
    assert!(text.code(0).stdout.contains("ssh-max-auth-tries"));
}

/// Hostile trees: FIFOs where config files belong, symlink loops, links out of the root. The
/// audit neither hangs nor reads outside the root; what it cannot read is an error result
/// with the reason, never a pass.
#[test]
fn hostile_trees_give_errors_not_hangs_or_escapes() {
    let (sb, bare) = hardened(Family::Debian);
    let t = sb.tree();
    std::fs::remove_file(t.path("etc/login.defs")).unwrap();
    t.fifo("etc/login.defs");
    std::fs::remove_file(t.path("var/lib/dpkg/status")).unwrap();
    t.fifo("var/lib/dpkg/status");
    t.symlink("etc/sysctl.d/90-loop.conf", "90-loop.conf");
    // A link to the host's real /etc/shadow stays inside the root: it names the root's own.
    std::fs::remove_file(t.path("etc/issue.net")).unwrap();
    t.symlink("etc/issue.net", "/etc/shadow");
    std::fs::write(sb.outside.join("secret.conf"), "net.ipv4.ip_forward = 1\n").unwrap();
    t.symlink("etc/sysctl.d/99-outside.conf", sb.outside.join("secret.conf"));
    t.symlink("home/alice/.ssh", "/../../../../etc");
    let report = audit(&sb, &bare, "cis-level1");
    let get = |id: &str| report["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    let r = get("acct-pass-max-days");
    assert_eq!(r["status"], "error", "{r:#}");
    assert!(r["reason"].as_str().unwrap().contains("/etc/login.defs"), "{r:#}");
    assert_eq!(get("svc-no-telnet")["status"], "error");
    // The link out of the root resolves inside it (to nothing): the outside file is not read.
    assert_eq!(get("net-ip-forward")["status"], "pass");
    assert_eq!(get("banner-issue-net")["status"], "pass");
}
