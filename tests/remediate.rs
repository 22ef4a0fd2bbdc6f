//! `seal --remediate`: failing checks are fixed through the plan, the audit passes afterwards,
//! sshd edits are checked with `sshd -t` before anything is replaced, and remediation never
//! removes the last way in.
//!
//! The sshd cases run the real `sshd -t` (openssh-server; `.ci/run` installs it). sshd refuses
//! to run without its privilege separation directory, which its service creates at start; the
//! tests create it the same way.

mod common;

use common::hardened::{self, Family};
use common::{Sandbox, only};
use serde_json::Value;

fn require_sshd() {
    assert!(
        std::path::Path::new("/usr/sbin/sshd").exists(),
        "these tests run the real sshd -t: install openssh-server (.ci/run does)"
    );
    std::fs::create_dir_all("/run/sshd").unwrap();
}

/// A profile with no cleanup at all and the cis-level1 checks, so a seal only remediates.
fn remediate_only(sb: &Sandbox) -> String {
    sb.profile("fix", &format!("{}[checks]\ninclude = [\"cis-level1\"]\n", only(&[])))
}

fn failing(sb: &Sandbox, profile: &str) -> Vec<String> {
    let r = sb.run(&["audit", "--root", sb.root_arg(), "-p", profile, "--format", "json"]);
    let report = r.json();
    report["summary"]["failed_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap()
}

#[test]
fn audit_fails_then_seal_remediate_then_audit_passes() {
    require_sshd();
    let sb = Sandbox::new();
    let t = sb.tree();
    hardened::build(&t, Family::Debian);
    let fix = remediate_only(&sb);
    // Break one thing of every kind remediation handles.
    t.file_as("etc/passwd", t.read("etc/passwd"), 0o664, 0, 0);
    t.file_as("etc/crontab", "# crontab\n", 0o644, 1000, 0);
    let sysctl =
        hardened::SYSCTL.iter().filter(|(k, _)| *k != "net.ipv4.ip_forward").map(|(k, v)| format!("{k} = {v}\n"));
    t.file("etc/sysctl.d/60-cis.conf", sysctl.collect::<String>());
    t.file("etc/sysctl.conf", "# local\nnet.ipv4.ip_forward = 1\nvm.swappiness = 10\n");
    let modprobe = String::from_utf8(t.read("etc/modprobe.d/cis.conf")).unwrap();
    t.file("etc/modprobe.d/cis.conf", modprobe.replace("install cramfs /bin/false\nblacklist cramfs\n", ""));
    t.file("etc/login.defs", "# shadow-utils\nMAIL_DIR /var/mail\nPASS_MAX_DAYS 99999\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\nUMASK 022\nENCRYPT_METHOD SHA512\n");
    let sshd = hardened::SSHD_CONFIG
        .replace("MaxAuthTries 4\n", "MaxAuthTries 6\n")
        .replace("X11Forwarding no\n", "X11Forwarding yes\n");
    t.file_as("etc/ssh/sshd_config", &sshd, 0o600, 0, 0);
    let mut before = failing(&sb, &fix);
    before.sort();
    assert_eq!(
        before,
        [
            "acct-pass-max-days",
            "acct-umask",
            "file-passwd-mode",
            "fs-module-cramfs",
            "net-ip-forward",
            "ssh-max-auth-tries",
            "ssh-x11-forwarding",
            "svc-crontab-mode"
        ]
    );
    // The dry run shows the remediation and changes nothing.
    let snap = sb.snapshot();
    let plan =
        sb.run(&["seal", "--root", sb.root_arg(), "--yes", "-p", &fix, "--dry-run", "--remediate", "--format", "json"]);
    let plan = plan.code(0).json();
    let kinds: Vec<(String, String)> = common::actions(&plan).into_iter().map(|(_, k, p)| (k, p)).collect();
    assert!(kinds.contains(&("chmod".into(), "/etc/passwd".into())), "{kinds:?}");
    assert!(
        kinds.contains(&("rewrite".into(), "/etc/ssh/sshd_config.d/00-amiprep-hardening.conf".into())),
        "{kinds:?}"
    );
    common::snapshot::assert_identical(&snap, &sb.snapshot(), "a dry run with --remediate");

    let r = sb.run(&["seal", "--root", sb.root_arg(), "--yes", "-p", &fix, "--remediate"]);
    r.code(0);
    assert!(r.stdout.contains("amiprep: READY-FOR-IMAGE"), "{}", r.stdout);
    assert_eq!(failing(&sb, &fix), Vec::<String>::new());
    // What was written: drop-ins, a commented-out override, login.defs edited in place.
    assert_eq!(
        String::from_utf8(t.read("etc/ssh/sshd_config.d/00-amiprep-hardening.conf"))
            .unwrap()
            .lines()
            .skip(1)
            .collect::<Vec<_>>(),
        ["MaxAuthTries 4", "X11Forwarding no"]
    );
    assert_eq!(t.read("etc/ssh/sshd_config"), sshd.as_bytes(), "the main file is left alone when a drop-in wins");
    let mode = |p: &str| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(t.path(p)).unwrap().permissions()) & 0o7777
    };
    assert_eq!(mode("etc/ssh/sshd_config.d/00-amiprep-hardening.conf"), 0o600);
    assert_eq!(mode("etc/passwd"), 0o644);
    assert_eq!(mode("etc/crontab"), 0o600);
    assert_eq!(std::fs::metadata(t.path("etc/crontab")).map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap(), 0);
    assert!(
        String::from_utf8(t.read("etc/sysctl.d/60-amiprep-hardening.conf"))
            .unwrap()
            .contains("net.ipv4.ip_forward = 0\n")
    );
    assert_eq!(
        String::from_utf8(t.read("etc/sysctl.conf")).unwrap(),
        "# local\n# amiprep: overridden by /etc/sysctl.d/60-amiprep-hardening.conf: net.ipv4.ip_forward = 1\nvm.swappiness = 10\n"
    );
    assert!(
        String::from_utf8(t.read("etc/modprobe.d/60-amiprep-hardening.conf"))
            .unwrap()
            .contains("install cramfs /bin/false\nblacklist cramfs\n")
    );
    assert_eq!(
        String::from_utf8(t.read("etc/login.defs")).unwrap(),
        "# shadow-utils\nMAIL_DIR /var/mail\nPASS_MAX_DAYS\t365\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\nUMASK\t027\nENCRYPT_METHOD SHA512\n"
    );
    // A second run has nothing left to do.
    let again = sb.run(&["plan", "--root", sb.root_arg(), "-p", &fix, "--remediate", "--format", "json"]).json();
    assert_eq!(common::actions(&again), Vec::<(String, String, String)>::new());
}

#[test]
fn sshd_config_without_includes_is_edited_in_place_at_the_top() {
    require_sshd();
    let sb = Sandbox::new();
    let t = sb.tree();
    hardened::build(&t, Family::Rhel);
    let fix = remediate_only(&sb);
    let sshd = hardened::SSHD_CONFIG
        .replace("Include /etc/ssh/sshd_config.d/*.conf\n", "")
        .replace("PermitRootLogin no\n", "PermitRootLogin yes\n");
    t.file_as("etc/ssh/sshd_config", &sshd, 0o600, 0, 0);
    t.file_as("etc/shadow", t.read("etc/shadow"), 0o640, 0, 0);
    let mut before = failing(&sb, &fix);
    before.sort();
    assert_eq!(before, ["file-shadow-mode", "ssh-permit-root-login"]);
    sb.run(&["seal", "--root", sb.root_arg(), "--yes", "-p", &fix, "--remediate"]).code(0);
    assert_eq!(failing(&sb, &fix), Vec::<String>::new());
    let now = String::from_utf8(t.read("etc/ssh/sshd_config")).unwrap();
    assert!(now.ends_with(&sshd), "the original follows the new lines unchanged");
    assert_eq!(now.lines().nth(1), Some("PermitRootLogin no"));
    assert!(!t.exists("etc/ssh/sshd_config.d/00-amiprep-hardening.conf"));
    // RHEL's shadow is 0000.
    let m = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(t.path("etc/shadow")).unwrap().permissions());
    assert_eq!(m & 0o7777, 0);
}

#[test]
fn an_sshd_change_that_sshd_t_rejects_replaces_nothing() {
    require_sshd();
    let sb = Sandbox::new();
    let t = sb.tree();
    hardened::build(&t, Family::Debian);
    let fix = remediate_only(&sb);
    // The configuration is already broken elsewhere: whatever amiprep adds, sshd -t rejects
    // the result, so nothing may be replaced.
    let sshd = hardened::SSHD_CONFIG.replace("MaxAuthTries 4\n", "MaxAuthTries 6\nNoSuchKeyword yes\n");
    t.file_as("etc/ssh/sshd_config", &sshd, 0o600, 0, 0);
    let before = sb.snapshot();
    let r = sb.run(&["seal", "--root", sb.root_arg(), "--yes", "-p", &fix, "--remediate", "--format", "json"]);
    r.code(1);
    let report = r.json();
    let action = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "/etc/ssh/sshd_config.d/00-amiprep-hardening.conf")
        .expect("the sshd drop-in was planned");
    assert_eq!(action["outcome"]["status"], "failed");
    let reason = action["outcome"]["reason"].as_str().unwrap();
    assert!(reason.contains("not replaced, original untouched") && reason.contains("sshd -t rejected"), "{reason}");
    assert!(reason.contains("NoSuchKeyword"), "{reason}");
    // Nothing but the seal's receipt (which records that it is not ready).
    common::snapshot::Expected::sealed(&before).assert_matches(&sb.snapshot(), "a rejected sshd remediation");
    assert!(r.stderr.contains("audit: fail ssh-max-auth-tries"), "{}", r.stderr);
}

#[test]
fn password_authentication_is_not_turned_off_without_a_key_based_way_in() {
    require_sshd();
    let sb = Sandbox::new();
    let t = sb.tree();
    hardened::build(&t, Family::Debian);
    let sshd = hardened::SSHD_CONFIG.replace("PasswordAuthentication no\n", "PasswordAuthentication yes\n");
    t.file_as("etc/ssh/sshd_config", &sshd, 0o600, 0, 0);
    // No keys anywhere, no cloud-init: refused, and said so with the check.
    let fix = remediate_only(&sb);
    let r = sb.run(&["seal", "--root", sb.root_arg(), "--yes", "-p", &fix, "--remediate", "--format", "json"]);
    r.code(0);
    assert!(common::warnings(&r.json()).iter().any(|(op, path, msg)| op == "remediate"
        && path == "/ssh-password-authentication"
        && msg.contains("would remove the last way in")));
    assert!(
        r.stderr.contains("remediation refused: PasswordAuthentication no would remove the last way in"),
        "{}",
        r.stderr
    );
    assert_eq!(t.read("etc/ssh/sshd_config"), sshd.as_bytes());
    assert!(!t.exists("etc/ssh/sshd_config.d/00-amiprep-hardening.conf"));
    // alice's key would be removed by this seal's authorized-keys cleanup: still refused.
    t.file_as("home/alice/.ssh/authorized_keys", "ssh-ed25519 AAAAC3Nza alice\n", 0o600, 1000, 1000);
    let cleanup =
        sb.profile("cleanup", &format!("{}[checks]\ninclude = [\"cis-level1\"]\n", only(&["authorized-keys"])));
    let r = sb.run(&[
        "seal",
        "--root",
        sb.root_arg(),
        "--yes",
        "-p",
        &cleanup,
        "--remediate",
        "--dry-run",
        "--format",
        "json",
    ]);
    assert!(common::warnings(&r.code(0).json()).iter().any(|(_, _, m)| m.contains("would remove the last way in")));
    // Kept, it is a way in: the change is made.
    let r = sb.run(&["seal", "--root", sb.root_arg(), "--yes", "-p", &fix, "--remediate"]);
    r.code(0);
    assert_eq!(failing(&sb, &fix), Vec::<String>::new());
    let dropin = String::from_utf8(t.read("etc/ssh/sshd_config.d/00-amiprep-hardening.conf")).unwrap();
    assert!(dropin.contains("PasswordAuthentication no\n"));
    // cloud-init, which installs keys at first boot, is a way in too.
    std::fs::remove_file(t.path("etc/ssh/sshd_config.d/00-amiprep-hardening.conf")).unwrap();
    std::fs::remove_file(t.path("home/alice/.ssh/authorized_keys")).unwrap();
    let report = sb.run(&["audit", "--root", sb.root_arg(), "-p", &fix, "--format", "json"]).json();
    assert_eq!(result(&report, "ssh-password-authentication")["status"], "fail");
    t.file("etc/cloud/cloud.cfg", "users: [default]\n");
    sb.run(&["seal", "--root", sb.root_arg(), "--yes", "-p", &fix, "--remediate"]).code(0);
    assert_eq!(failing(&sb, &fix), Vec::<String>::new());
}

#[test]
fn remediate_with_no_fixable_check_selected_says_so() {
    let sb = Sandbox::new();
    hardened::build(&sb.tree(), Family::Debian);
    let images = sb.profile("img", &format!("{}[checks]\ninclude = [\"image-ready\"]\n", only(&[])));
    let plan = sb.run(&["plan", "--root", sb.root_arg(), "-p", &images, "--remediate", "--format", "json"]).json();
    assert!(common::warnings(&plan).iter().any(|(op, _, m)| op == "remediate" && m.contains("nothing to remediate")));
    assert_eq!(common::actions(&plan), Vec::<(String, String, String)>::new());
}
