//! Safety of a seal as a whole: idempotence, the one-seal-at-a-time lock, a kill in the middle
//! and a rerun, refusing without confirmation, and profile errors and untrusted profiles that
//! stop the run before anything is touched.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::dirty::DirtyRoot;
use common::snapshot::{Expected, assert_identical, assert_same_shape};
use common::{Sandbox, Tree, actions};

#[test]
fn sealing_twice_changes_nothing_the_second_time() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let everything = sb.profile("everything", common::EVERYTHING);
    for profile in ["default", everything.as_str()] {
        sb.seal(&[profile], &[]).code(0);
        let once = sb.snapshot();
        let again = sb.plan_json(&[profile]);
        assert_eq!(actions(&again), vec![], "after a seal with {profile}, a plan has nothing left to do");
        let second = sb.seal(&[profile], &["--format", "json"]).code(0).json();
        assert_eq!(second["totals"]["actions"], 0, "{second}");
        // Nothing changes but the receipt, which every seal rewrites.
        Expected::sealed(&once).assert_matches(&sb.snapshot(), &format!("second seal with {profile}"));
    }
    // The account edits were made once, not twice.
    let shadow = String::from_utf8(sb.tree().read("etc/shadow")).unwrap();
    assert!(shadow.starts_with("root:!$y$"), "{shadow}");
}

/// Holds an exclusive flock on the root directory, as a running seal does.
fn hold_lock(root: &Path) -> std::os::fd::OwnedFd {
    use rustix::fs::{FlockOperation, Mode, OFlags};
    // CLOEXEC: an amiprep that another test spawns meanwhile must not inherit the descriptor,
    // or it would keep the lock held after this test drops it.
    let fd = rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
    rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).unwrap();
    fd
}

#[test]
fn a_second_seal_is_refused_while_one_holds_the_lock() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let before = sb.snapshot();
    let lock = hold_lock(&sb.root);
    let run = sb.seal(&["default"], &[]);
    run.code(3);
    assert!(run.stderr.contains("another amiprep seal or firstboot is running"), "{}", run.stderr);
    assert_identical(&before, &sb.snapshot(), "seal refused by the lock");
    // First boot takes the same lock: the two never work on one root at once.
    let fb = sb.run(&["firstboot", "--root", sb.root_arg()]);
    fb.code(3);
    assert_identical(&before, &sb.snapshot(), "firstboot refused by the lock");
    // A plan is read-only and takes no lock.
    sb.plan(&["default"], &[]).code(0);
    drop(lock);
    sb.seal(&["default"], &[]).code(0);
    assert!(!sb.tree().exists("etc/hostname"), "once the lock is free, the seal runs");
}

#[test]
fn without_yes_and_without_a_terminal_seal_refuses_and_changes_nothing() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let before = sb.snapshot();
    let run = sb.run(&["seal", "--root", sb.root_arg(), "-p", "default"]);
    run.code(3);
    assert!(run.stderr.contains("--yes"), "the refusal says how to go on: {}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_identical(&before, &sb.snapshot(), "seal without --yes");
}

/// Runs `amiprep ARGS` on a pseudo-terminal (util-linux `script`), typing `answer`. `None`
/// when `script` is not available.
fn on_a_terminal(sb: &Sandbox, args: &[&str], answer: &str) -> Option<(i32, String)> {
    use std::io::Write;
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    // Through the cross runner (qemu) when the tests use one, like assert_cmd does.
    let mut line = format!("AMIPREP_PROFILE_PATH={}", quote(sb.profiles.to_str().unwrap()));
    for word in common::amiprep_argv() {
        line += &format!(" {}", quote(&word));
    }
    for a in args {
        line += &format!(" {}", quote(a));
    }
    let timeout = common::HANG_TIMEOUT.as_secs().to_string();
    let child = std::process::Command::new("timeout")
        .args([timeout.as_str(), "script", "-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("note: skipping: cannot run timeout/script: {e}");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(answer.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if text.contains("script: ") && !text.contains("amiprep") {
        eprintln!("note: skipping: script failed: {text}");
        return None;
    }
    Some((out.status.code().expect("script exits normally"), text))
}

/// On a terminal, seal shows the summary and asks; anything but yes changes nothing.
#[test]
fn on_a_terminal_seal_asks_and_only_yes_proceeds() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let before = sb.snapshot();
    let args = ["seal", "--root", sb.root_arg(), "-p", "default"];
    for answer in ["n\n", "\n", "yes please\n"] {
        let Some((code, text)) = on_a_terminal(&sb, &args, answer) else { return };
        assert_eq!(code, 3, "answer {answer:?}:\n{text}");
        assert!(text.contains("Seal now?") && text.contains("nothing was changed"), "{text}");
        assert_identical(&before, &sb.snapshot(), &format!("after answering {answer:?}"));
    }
    let Some((code, text)) = on_a_terminal(&sb, &args, "y\n") else { return };
    assert_eq!(code, 0, "{text}");
    assert!(!sb.tree().exists("etc/hostname"), "confirmed, the seal ran:\n{text}");
}

/// 10,000 files in tmp/big, in 100 directories: enough that a kill lands in the middle of
/// removing them (the poll below waits for that), few enough that planting two copies stays
/// quick on a small machine.
fn plant_big_tmp(t: &Tree) {
    for d in 0..100 {
        let dir = t.path(format!("tmp/big/d{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            std::fs::write(dir.join(format!("f{f:03}")), b"x").unwrap();
        }
    }
}

/// SIGKILLs a seal of the dirty root (plus a big tmp) with `profile` once it has visibly
/// started removing tmp/big, reruns it, and checks the result is exactly that of one
/// uninterrupted seal of the same fixture, with nothing left to do.
fn kill_midway_and_rerun(profile: &str) {
    use assert_cmd::cargo::CommandCargoExt;
    let (killed, whole) = (Sandbox::new(), Sandbox::new());
    let profile = [killed.profile("p", profile), whole.profile("p", profile)];
    DirtyRoot::plant(&killed.tree());
    DirtyRoot::plant(&whole.tree());
    assert_same_shape(&killed.snapshot(), &whole.snapshot(), "the two fixtures");
    // Only the root to be killed needs the big tree: tmp is emptied whole, so the tree a
    // complete seal leaves does not depend on it (and planting files is the slow part).
    plant_big_tmp(&killed.tree());
    whole.seal(&[&profile[1]], &[]).code(0);

    let mut child = std::process::Command::cargo_bin("amiprep")
        .unwrap()
        .env("AMIPREP_PROFILE_PATH", &killed.profiles)
        .args(["seal", "--yes", "--root", killed.root_arg(), "-p", &profile[0]])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the removal of tmp/big has started: mid-apply, not mid-plan. Polling
    // makes this independent of the machine's speed; the deadline only catches a hang.
    let big = killed.root.join("tmp/big");
    let deadline = Instant::now() + common::HANG_TIMEOUT;
    let mut killed_midway = false;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::fs::read_dir(&big).map_or(0, |d| d.count()) < 100 {
            child.kill().unwrap();
            killed_midway = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = child.wait().unwrap();
    if killed_midway {
        assert!(status.code().is_none(), "killed by a signal: {status}");
        let left = std::fs::read_dir(&big).map_or(0, |d| d.count());
        eprintln!("killed with {left} of 100 directories of tmp/big left");
    } else {
        // The rerun is still checked, but say the kill did not land.
        eprintln!("note: the seal finished ({status}) before it could be killed");
    }
    killed.seal(&[&profile[0]], &[]).code(0);
    // The receipts differ in time and in how much each run had left to do; the settings they
    // were sealed with must not.
    let receipt = Path::new("var/lib/amiprep/receipt.json");
    let (mut a, mut b) = (killed.snapshot(), whole.snapshot());
    let read = |sb: &Sandbox| -> serde_json::Value { serde_json::from_slice(&sb.tree().read(receipt)).unwrap() };
    let (ra, rb) = (read(&killed), read(&whole));
    for k in ["ready", "profile_sha256", "firstboot"] {
        assert_eq!(ra[k], rb[k], "receipt field {k}");
    }
    assert_eq!(ra["ready"], true);
    for s in [&mut a, &mut b] {
        s.get_mut(receipt).expect("a receipt").data = common::snapshot::Data::None;
    }
    assert_same_shape(&a, &b, "rerun after a kill vs one whole seal");
    assert_eq!(actions(&killed.plan_json(&[&profile[0]])), vec![]);
}

#[test]
fn a_seal_killed_midway_and_rerun_ends_like_an_uninterrupted_one() {
    kill_midway_and_rerun("extends = [\"default\"]\n");
}

/// The same with account removal: the users' actions come first in the plan, so a kill after
/// them must not make the rerun forget what belonged to the removed user.
#[test]
fn a_seal_with_account_removal_killed_midway_and_rerun_ends_like_an_uninterrupted_one() {
    kill_midway_and_rerun(common::EVERYTHING);
}

/// A profile error stops everything before the root is touched: exit 2, and the message names
/// the file, the line and column, and says how to fix it.
#[test]
fn profile_errors_name_file_line_column_and_a_fix() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let before = sb.snapshot();
    let cases = [
        ("bad-toml", "description = \"x\"\n[operations.tmp\nenabled = true\n", "bad-toml.toml:2:"),
        ("unknown-key", "[operations.tmp]\nenabeld = true\n", "unknown-key.toml:2:1:"),
        ("unknown-op", "[operations.tmpp]\nenabled = true\n", "unknown-op.toml:1:"),
        ("bad-glob", "[files]\nremove = [\n  \"ok/**\",\n  \"bad/[x\",\n]\n", "bad-glob.toml:4:3:"),
        ("dotdot-glob", "[files]\nremove = [\"var/../etc/**\"]\n", "dotdot-glob.toml:2:11:"),
        ("bad-mode", "[operations.machine-id]\nmode = \"bogus\"\n", "bad-mode.toml:2:8:"),
        ("bad-user", "[users]\nremove = [\"Bad User\"]\n", "bad-user.toml:2:11:"),
        ("missing-parent", "\nextends = [\"nope\"]\n", "missing-parent.toml:2:12:"),
        ("missing-file", "extends = [\"./not-there.toml\"]\n", "missing-file.toml:1:12:"),
        ("bad-history", "[operations.shell-history]\nextra = [\"../../etc/shadow\"]\n", "bad-history.toml:2:10:"),
        ("bad-unit", "[services]\nenable = [\"nginx.service\", \"x;reboot\"]\n", "bad-unit.toml:2:28:"),
        ("option-unit", "[services]\nmask = [\"--root=/\"]\n", "option-unit.toml:2:9:"),
        ("unit-conflict", "[services]\nenable = [\"nginx\"]\nmask = [\"nginx.service\"]\n", "unit-conflict.toml:"),
        ("bad-key-type", "[firstboot]\nhost_key_types = [\"dsa\"]\n", "bad-key-type.toml:2:19:"),
        ("bad-then", "[signal]\nthen = \"halt\"\n", "bad-then.toml:2:8:"),
    ];
    for (name, text, at) in cases {
        let p = sb.profile(name, text);
        for cmd in ["plan", "seal"] {
            let run = if cmd == "plan" { sb.plan(&[&p], &[]) } else { sb.seal(&[&p], &[]) };
            run.code(2);
            assert!(run.stderr.contains(at), "{name}: stderr must locate the error as {at}:\n{}", run.stderr);
            assert!(run.stderr.contains("\n  fix: "), "{name}: stderr must say how to fix it:\n{}", run.stderr);
            assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
        }
        let check = sb.run(&["profile", "check", &p]);
        check.code(2);
        assert!(check.stderr.contains(at), "profile check {name}:\n{}", check.stderr);
    }
    assert_identical(&before, &sb.snapshot(), "after seals with broken profiles");
}

#[test]
fn an_extends_cycle_is_located_at_the_extends_entry_that_closes_it() {
    let sb = Sandbox::new();
    let a = sb.profile("a", "extends = [\"b.toml\"]\n");
    sb.profile("b", "\nextends = [\"a.toml\"]\n");
    let run = sb.seal(&[&a], &[]);
    run.code(2);
    assert!(run.stderr.contains("extends cycle"), "{}", run.stderr);
    assert!(run.stderr.contains("b.toml:2:12:"), "the entry closing the cycle is located: {}", run.stderr);
    assert!(run.stderr.contains("\n  fix: "), "{}", run.stderr);
}

#[test]
fn an_extends_cycle_is_a_usage_error_that_changes_nothing() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let before = sb.snapshot();
    let a = sb.profile("a", "extends = [\"b.toml\"]\n");
    sb.profile("b", "\nextends = [\"a.toml\"]\n");
    let run = sb.seal(&[&a], &[]);
    run.code(2);
    assert!(run.stderr.contains("extends cycle") && run.stderr.contains("\n  fix: "), "{}", run.stderr);
    assert_identical(&before, &sb.snapshot(), "after a seal with a cyclic profile");
}

#[test]
fn untrusted_profile_files_are_refused() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let before = sb.snapshot();
    let writable = sb.profile("writable", "extends = [\"default\"]\n");
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o664)).unwrap();
    let foreign = sb.profile("foreign", "extends = [\"default\"]\n");
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    // A trusted file that extends an untrusted one is refused as well.
    let child = sb.profile("child", "extends = [\"writable.toml\"]\n");
    // A root-owned 0644 file in a directory others can write to could be replaced.
    let open_dir = sb.outside.join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let in_open_dir = open_dir.join("p.toml");
    std::fs::write(&in_open_dir, "extends = [\"default\"]\n").unwrap();
    std::fs::set_permissions(&in_open_dir, std::fs::Permissions::from_mode(0o644)).unwrap();
    for p in [writable.as_str(), foreign.as_str(), child.as_str(), in_open_dir.to_str().unwrap()] {
        let run = sb.seal(&[p], &[]);
        run.code(3);
        assert!(run.stderr.contains("refusing"), "{p}: {}", run.stderr);
        assert!(run.stderr.contains("\n  fix: "), "{p}: {}", run.stderr);
        sb.plan(&[p], &[]).code(3);
    }
    assert_identical(&before, &sb.snapshot(), "after seals with untrusted profiles");
}

#[test]
fn a_profile_in_the_profile_path_is_found_by_name_and_the_host_is_never_consulted() {
    let sb = Sandbox::new();
    let t = sb.tree();
    t.file("etc/hostname", "build\n");
    t.file("tmp/x", "x");
    // A profile named like a built-in but found in the profile path wins over the built-in.
    sb.profile("default", &(common::only(&["network-identity"])));
    let plan = sb.plan_json(&["default"]);
    let ops: Vec<String> = actions(&plan).into_iter().map(|(op, _, _)| op).collect();
    assert_eq!(ops, ["network-identity"], "{plan}");
    // builtin: always means the embedded one.
    let builtin = sb.plan_json(&["builtin:default"]);
    assert!(actions(&builtin).iter().any(|(op, _, _)| op == "tmp"), "{builtin}");
    // Profiles are never looked up inside the image being sealed.
    sb.tree().file("etc/amiprep/profiles/imageonly.toml", "description = \"from the image\"\n");
    let run = sb.plan(&["imageonly"], &[]);
    run.code(2);
    assert!(run.stderr.contains("no profile named \"imageonly\""), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2_and_change_nothing() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let before = sb.snapshot();
    sb.run(&["seal", "--root", sb.root_arg(), "--yes", "--bogus"]).code(2);
    sb.run(&["seal", "--root", sb.root_arg(), "--yes", "--format", "yaml"]).code(2);
    let missing = sb.root.join("not-there");
    let run = sb.run(&["seal", "--root", missing.to_str().unwrap(), "--yes"]);
    run.code(2);
    assert!(run.stderr.contains("--root"), "{}", run.stderr);
    assert_identical(&before, &sb.snapshot(), "after usage errors");
}
