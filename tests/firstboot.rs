//! `amiprep firstboot`: a new instance (sealed image, changed DMI or cloud-init identity) gets
//! its host keys, machine-id and receipt history; a reboot of the same instance gets nothing.
//! ssh-keygen is a fake on PATH here (deterministic keys, and a switch to make it fail); the
//! real one is used where the machine has it.

mod common;

use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::snapshot::assert_identical;
use common::{Run, Sandbox, Tree};

/// Public halves the fake ssh-keygen writes, and their fingerprints by the real `ssh-keygen -l`.
const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF4yFmVKVyLMbbyMQdr5ULwiqRBu2f5LE+bfN9mxAu8K";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDfQ5hp4a8+lq6h/JyjQvX9XdFWsc3YVdGbeYYXKWoZLvyHBMH0SUZtbLUBjKOIpsyYdDHHVmeK08YH+dmpskH0ZvMHw/bnYDcNrOArWEioimr0nUlwpQuoBW7DlkWXg6i30Otp40dVkcOqyrduG6Xpu1HdcWKqCK/I4PuTaPGiEWXN7mpb8FFbFwhIu65emeRIn21PSvlbOhBLeWc4lDgY0juImeIrsCswb5v78/hu/mIdUhtQMQE1fWmxx78U8mhRAyUoVnvxIr0ncmN4yAJtq4Llw+7aYtSO6MPoZCPW1oUysO9kXmf1U7FeHyEoIXNKX+OBTnMv+8Fe1mlnC4k0OYxokVBeFpn7u0gL4fj6QovK3AG7gpKYHgPtKI6qW84pKi1RKDbhu5207+twbn7dVpI4sD9L2/G7dUrQxMKiJGi9POEkfLjKFtPg7S8i6zQ5GEuVCSzzxDFrD8tce9LfFQqCt5KUXxIDScTA58UNigSyAJuHdKw3P5bJg0rYSVE=";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNRn+SsDuFQZ9cyOhsfE4IeUKyijKVs3Cx3FuxQsJhW4GJFQUUWyED/R8iwAdhzpDcUFwbeozPn4f8J3dDklQrg=";
const FINGERPRINTS: [&str; 3] = [
    "3072 SHA256:QaxvtOoL71DSJkdYmK79lblKio+u7tShY4g0/sDunw4 root@web-1 (RSA)",
    "256 SHA256:bzjstXmJbIJ9uVecXnbgRMuTnfkgL+zR/90Q9nX+bPY root@web-1 (ECDSA)",
    "256 SHA256:9GT818Bj5oikm3Qts4DW9Z5kPAitYAy8njQ5e9d4yZE root@web-1 (ED25519)",
];

/// A fake ssh-keygen: `-t T ... -C C -f F` writes F (a marker) and F.pub (a fixed key of type
/// T); `-y -f F` prints the public key of F's type. It fails when FAKE_KEYGEN_FAIL is set.
fn fake_keygen(sb: &Sandbox) -> PathBuf {
    let bin = sb.outside.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        r#"#!/bin/sh
[ -n "$FAKE_KEYGEN_FAIL" ] && {{ echo "fake failure" >&2; exit 1; }}
t= f= c= y=
while [ $# -gt 0 ]; do
  case "$1" in
    -t) t=$2; shift ;; -f) f=$2; shift ;; -C) c=$2; shift ;; -N) shift ;; -y) y=1 ;; -q) ;;
    *) echo "unexpected argument $1" >&2; exit 2 ;;
  esac
  shift
done
pub() {{ case "$1" in ed25519) echo "{ED25519}" ;; rsa) echo "{RSA}" ;; ecdsa) echo "{ECDSA}" ;; *) exit 3 ;; esac; }}
if [ -n "$y" ]; then pub "$(cat "$f")"; exit; fi
echo "$t" > "$f"
echo "$(pub "$t") $c" > "$f.pub"
"#
    );
    let p = bin.join("ssh-keygen");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn path_with(bin: &Path) -> std::ffi::OsString {
    let mut p = bin.as_os_str().to_os_string();
    p.push(":/usr/sbin:/usr/bin:/sbin:/bin");
    p
}

fn firstboot(sb: &Sandbox, bin: &Path, extra: &[&str], env: &[(&str, &OsStr)]) -> Run {
    let mut args = vec!["firstboot", "--root", sb.root_arg()];
    args.extend(extra);
    let path = path_with(bin);
    let mut e: Vec<(&str, &OsStr)> = vec![("PATH", path.as_os_str())];
    e.extend(env);
    sb.run_env(&args, &e)
}

/// A small image with sshd and an identity.
fn image(t: &Tree) {
    t.file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    t.file("etc/group", "root:x:0:\n");
    t.file("etc/hostname", "web-1\n");
    t.file("etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n");
    t.file("sys/class/dmi/id/product_uuid", "EC2B1C7E-0000-1111-2222-333344445555\n");
    t.file("sys/class/dmi/id/board_asset_tag", "i-0123456789abcdef0\n");
}

fn mode(t: &Tree, rel: &str) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(t.path(rel)).unwrap();
    (m.mode() & 0o7777, m.uid(), m.gid())
}

#[test]
fn first_boot_of_a_sealed_image_makes_keys_and_keeps_the_receipt_in_history() {
    let sb = Sandbox::new();
    let t = sb.tree();
    image(&t);
    t.file("etc/ssh/ssh_host_ed25519_key", "the build host's key");
    t.file("etc/ssh/ssh_host_ed25519_key.pub", format!("{ED25519} root@build\n"));
    let bin = fake_keygen(&sb);
    sb.seal(&["default"], &[]).code(0);
    let receipt = t.read("var/lib/amiprep/receipt.json");
    assert!(!t.exists("etc/ssh/ssh_host_ed25519_key"), "the seal removed the build host's keys");
    assert_eq!(t.read("etc/machine-id"), b"uninitialized\n");
    // The seal removed the build host's name; the new instance has its own by now (offline,
    // the key comment takes it from etc/hostname).
    assert!(!t.exists("etc/hostname"));
    t.file("etc/hostname", "web-1\n");

    let run = firstboot(&sb, &bin, &[], &[]);
    run.code(0);
    assert!(run.stdout.contains("new instance: yes (first boot of a sealed image"), "{}", run.stdout);
    // Every type sshd loads by default, with the modes sshd insists on.
    for k in ["rsa", "ecdsa", "ed25519"] {
        assert_eq!(t.read(format!("etc/ssh/ssh_host_{k}_key")), format!("{k}\n").as_bytes());
        assert_eq!(mode(&t, &format!("etc/ssh/ssh_host_{k}_key")), (0o600, 0, 0));
        assert_eq!(mode(&t, &format!("etc/ssh/ssh_host_{k}_key.pub")), (0o644, 0, 0));
    }
    assert!(
        !std::fs::read_dir(t.path("etc/ssh")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.'))
    );
    // The fingerprints, as cloud-init prints them, between its markers.
    let block: Vec<&str> =
        run.stdout.lines().skip_while(|l| *l != "-----BEGIN SSH HOST KEY FINGERPRINTS-----").take(5).collect();
    assert_eq!(block[1..4], FINGERPRINTS, "{}", run.stdout);
    assert_eq!(block[4], "-----END SSH HOST KEY FINGERPRINTS-----");
    assert_eq!(run.stdout.lines().last(), Some("amiprep: FIRSTBOOT-DONE new instance set up"));

    // A valid machine-id in place of "uninitialized".
    let id = String::from_utf8(t.read("etc/machine-id")).unwrap();
    assert!(id.len() == 33 && id[..32].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id:?}");
    assert_eq!(mode(&t, "etc/machine-id").0, 0o444);

    // The receipt moved into the history, whole.
    assert!(!t.exists("var/lib/amiprep/receipt.json"));
    let history = String::from_utf8(t.read("var/lib/amiprep/history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 1);
    let entry: serde_json::Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    assert_eq!(entry["receipt"], serde_json::from_slice::<serde_json::Value>(&receipt).unwrap());
    assert_eq!(entry["identity"]["product_uuid"], "ec2b1c7e-0000-1111-2222-333344445555");
    assert_eq!(entry["identity"]["board_asset_tag"], "i-0123456789abcdef0");
    let sha = run.stdout.split("sha256:").nth(1).unwrap().split(')').next().unwrap();
    assert_eq!(entry["receipt_sha256"], sha);

    // A reboot of the same instance does nothing at all.
    let before = sb.snapshot();
    let again = firstboot(&sb, &bin, &[], &[]);
    again.code(0);
    assert!(again.stdout.contains("new instance: no (same instance as the last boot"), "{}", again.stdout);
    assert_eq!(again.stdout.lines().last(), Some("amiprep: FIRSTBOOT-NOTHING same instance as the last boot"));
    assert_identical(&before, &sb.snapshot(), "a reboot of the same instance");
}

#[test]
fn a_new_identity_is_a_new_instance_and_a_reboot_is_not() {
    let sb = Sandbox::new();
    let t = sb.tree();
    image(&t);
    t.file("var/lib/cloud/data/instance-id", "i-0123456789abcdef0\n");
    let bin = fake_keygen(&sb);
    firstboot(&sb, &bin, &[], &[]).code(0);
    let state: serde_json::Value = serde_json::from_slice(&t.read("var/lib/amiprep/instance.json")).unwrap();
    assert_eq!(state["identity"]["cloud_init_instance_id"], "i-0123456789abcdef0");

    // Launched again from an image of this instance that was not sealed: the DMI UUID changed.
    for (file, value, field) in [
        ("sys/class/dmi/id/product_uuid", "EC2AAAAA-9999-8888-7777-666655554444", "product_uuid"),
        ("sys/class/dmi/id/board_asset_tag", "i-0fedcba9876543210", "board_asset_tag"),
        ("var/lib/cloud/data/instance-id", "i-0aaaabbbbccccdddd", "cloud-init instance-id"),
    ] {
        std::fs::remove_file(t.path("etc/ssh/ssh_host_ecdsa_key")).unwrap();
        let before = sb.snapshot();
        // Same identity: a reboot, even with a key missing (first boot is not a repair tool).
        let reboot = firstboot(&sb, &bin, &["--format", "json"], &[]);
        reboot.code(0);
        assert_eq!(reboot.json()["new_instance"], false);
        assert_identical(&before, &sb.snapshot(), "a reboot");

        t.file(file, format!("{value}\n"));
        let run = firstboot(&sb, &bin, &["--format", "json"], &[]);
        run.code(0);
        let out = run.json();
        assert_eq!(out["new_instance"], true, "{out}");
        assert!(out["reason"].as_str().unwrap().contains(&format!("a new instance: {field} was")), "{out}");
        let keys = out["steps"].as_array().unwrap().iter().find(|s| s["step"] == "host-keys").unwrap().clone();
        assert_eq!(keys["status"], "done", "{keys}");
        assert!(keys["detail"].as_str().unwrap().starts_with("made ecdsa (/etc/ssh/ssh_host_ecdsa_key)"), "{keys}");
        assert!(t.exists("etc/ssh/ssh_host_ecdsa_key"));
    }
    // A clone of an unsealed instance with every key present: the keys are not ours to replace,
    // but the shared keys are called out.
    t.file("sys/class/dmi/id/product_uuid", "EC2CCCCC-0000-0000-0000-000000000001\n");
    let out = firstboot(&sb, &bin, &["--format", "json"], &[]).json();
    let keys = out["steps"].as_array().unwrap().iter().find(|s| s["step"] == "host-keys").unwrap().clone();
    assert_eq!(keys["status"], "skipped");
    assert!(keys["detail"].as_str().unwrap().contains("came with an image that was not sealed"), "{keys}");
}

#[test]
fn machine_id_uninitialized_is_a_first_boot_even_without_a_receipt() {
    let sb = Sandbox::new();
    let t = sb.tree();
    image(&t);
    let bin = fake_keygen(&sb);
    firstboot(&sb, &bin, &[], &[]).code(0);
    t.file("etc/machine-id", "uninitialized\n");
    let run = firstboot(&sb, &bin, &[], &[]);
    run.code(0);
    assert!(run.stdout.contains("machine-id is \"uninitialized\": a first boot"), "{}", run.stdout);
    assert_ne!(t.read("etc/machine-id"), b"uninitialized\n");
}

#[test]
fn cloud_init_that_makes_keys_is_left_to_make_them() {
    let sb = Sandbox::new();
    let t = sb.tree();
    image(&t);
    t.file("usr/bin/cloud-init", "#!/usr/bin/python3\n");
    t.symlink(
        "etc/systemd/system/cloud-init.target.wants/cloud-init.service",
        "/lib/systemd/system/cloud-init.service",
    );
    t.file("etc/cloud/cloud.cfg", "cloud_init_modules:\n  - seed_random\n  - ssh\n  - set_hostname\n");
    let bin = fake_keygen(&sb);
    let run = firstboot(&sb, &bin, &["--format", "json"], &[]);
    run.code(0);
    let out = run.json();
    let keys = out["steps"].as_array().unwrap().iter().find(|s| s["step"] == "host-keys").unwrap().clone();
    assert_eq!(keys["status"], "skipped", "{keys}");
    assert!(keys["detail"].as_str().unwrap().contains("cloud-init"), "{keys}");
    assert!(!t.exists("etc/ssh/ssh_host_ed25519_key"), "the two never race over the keys");

    // Told not to make keys (or disabled), cloud-init leaves them to amiprep.
    for (file, text) in
        [("etc/cloud/cloud.cfg.d/50-keys.cfg", "ssh_genkeytypes: []\n"), ("etc/cloud/cloud-init.disabled", "")]
    {
        t.file(file, text);
        let run = firstboot(&sb, &bin, &["--force"], &[]);
        run.code(0);
        assert!(t.exists("etc/ssh/ssh_host_ed25519_key"), "{file}: {}", run.stdout);
        for k in ["rsa", "ecdsa", "ed25519"] {
            std::fs::remove_file(t.path(format!("etc/ssh/ssh_host_{k}_key"))).unwrap();
            std::fs::remove_file(t.path(format!("etc/ssh/ssh_host_{k}_key.pub"))).unwrap();
        }
        std::fs::remove_file(t.path(file)).unwrap();
    }
}

#[test]
fn only_the_host_keys_sshd_config_names_are_made_with_the_distributions_modes() {
    let sb = Sandbox::new();
    let t = sb.tree();
    image(&t);
    t.file("etc/ssh/sshd_config.d/10-keys.conf", "HostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\nMatch User x\n  HostKey /etc/ssh/ssh_host_rsa_key\n");
    // The RHEL family keeps private host keys 0640 root:ssh_keys.
    t.file("etc/group", "root:x:0:\nssh_keys:x:994:\n");
    let bin = fake_keygen(&sb);
    firstboot(&sb, &bin, &[], &[]).code(0);
    assert!(!t.exists("etc/ssh/ssh_host_rsa_key"), "rsa is named only inside a Match block");
    for k in ["ed25519", "ecdsa"] {
        assert_eq!(mode(&t, &format!("etc/ssh/ssh_host_{k}_key")), (0o640, 0, 994));
    }
}

#[test]
fn the_profile_the_image_was_sealed_with_decides_the_key_types() {
    let sb = Sandbox::new();
    let t = sb.tree();
    image(&t);
    let p = sb.profile("fb", "extends = [\"minimal\"]\n[firstboot]\nhost_key_types = [\"ed25519\"]\n");
    sb.seal(&[&p], &[]).code(0);
    let receipt: serde_json::Value = serde_json::from_slice(&t.read("var/lib/amiprep/receipt.json")).unwrap();
    assert_eq!(receipt["firstboot"]["host_key_types"], serde_json::json!(["ed25519"]));
    let bin = fake_keygen(&sb);
    firstboot(&sb, &bin, &[], &[]).code(0);
    assert!(t.exists("etc/ssh/ssh_host_ed25519_key"));
    assert!(!t.exists("etc/ssh/ssh_host_rsa_key") && !t.exists("etc/ssh/ssh_host_ecdsa_key"));
}

#[test]
fn a_failure_is_reported_and_the_next_boot_tries_again() {
    let sb = Sandbox::new();
    let t = sb.tree();
    image(&t);
    sb.seal(&["minimal"], &[]).code(0);
    let bin = fake_keygen(&sb);
    // A stale temp directory from a run killed mid-generation is cleared, not tripped over.
    t.file("etc/ssh/.amiprep-keygen-rsa/key", "half-written");
    let run = firstboot(&sb, &bin, &[], &[("FAKE_KEYGEN_FAIL", OsStr::new("1"))]);
    run.code(1);
    assert!(run.stdout.contains("fake failure"), "{}", run.stdout);
    assert_eq!(
        run.stdout.lines().last(),
        Some("amiprep: FIRSTBOOT-FAILED steps=host-keys (see `journalctl -u amiprep-firstboot`)")
    );
    assert!(!t.exists("var/lib/amiprep/instance.json"), "not recorded, so the next boot retries");
    assert!(!t.exists("etc/ssh/ssh_host_rsa_key") && !t.exists("etc/ssh/.amiprep-keygen-rsa"));

    let run = firstboot(&sb, &bin, &[], &[]);
    run.code(0);
    assert!(run.stdout.contains("first run on this machine"), "{}", run.stdout);
    assert!(t.exists("etc/ssh/ssh_host_rsa_key"));
    // The receipt went to the history once, not once per attempt.
    assert_eq!(String::from_utf8(t.read("var/lib/amiprep/history.jsonl")).unwrap().lines().count(), 1);
}

#[test]
fn without_sshd_there_are_no_host_keys_to_make() {
    let sb = Sandbox::new();
    let t = sb.tree();
    image(&t);
    std::fs::remove_dir_all(t.path("etc/ssh")).unwrap();
    let run = firstboot(&sb, &fake_keygen(&sb), &[], &[]);
    run.code(0);
    assert!(run.stdout.contains("sshd is not installed"), "{}", run.stdout);
}

/// With the real ssh-keygen: real keys that the real tool reads back, and our fingerprints
/// agree with its own. A private key whose .pub is missing gets its public half back.
#[test]
fn real_ssh_keygen_keys_and_fingerprints() {
    if common::try_command("ssh-keygen", &[OsStr::new("-V")]).is_none() && !Path::new("/usr/bin/ssh-keygen").exists() {
        panic!("ssh-keygen is needed (package openssh-client; .ci/run installs it)");
    }
    let sb = Sandbox::new();
    let t = sb.tree();
    image(&t);
    let run = sb.run(&["firstboot", "--root", sb.root_arg()]);
    run.code(0);
    for k in ["rsa", "ecdsa", "ed25519"] {
        let p = t.path(format!("etc/ssh/ssh_host_{k}_key.pub"));
        let out = std::process::Command::new("ssh-keygen").arg("-l").arg("-f").arg(&p).output().unwrap();
        assert!(out.status.success());
        let theirs = String::from_utf8(out.stdout).unwrap();
        assert!(
            run.stdout.lines().any(|l| l == theirs.trim()),
            "ssh-keygen -l says {theirs:?}; we printed:\n{}",
            run.stdout
        );
    }
    let pubkey = t.read("etc/ssh/ssh_host_ed25519_key.pub");
    std::fs::remove_file(t.path("etc/ssh/ssh_host_ed25519_key.pub")).unwrap();
    sb.run(&["firstboot", "--force", "--root", sb.root_arg()]).code(0);
    let derived = t.read("etc/ssh/ssh_host_ed25519_key.pub");
    let key = |b: &[u8]| String::from_utf8_lossy(b).split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(key(&derived), key(&pubkey), "the public half is derived from the existing private key");
}
