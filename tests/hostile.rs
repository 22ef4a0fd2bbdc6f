//! Hostile trees: symlinks from every kind of cleanup path to files outside the root and to
//! protected files inside it, link loops, FIFOs, immutable files, nested mounts, non-UTF-8
//! names, very deep and very long paths. amiprep must remove links as links, never follow
//! one, never hang, report what it leaves, and change nothing outside the paths it selects.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::snapshot::{Expected, assert_identical, snapshot};
use common::{Sandbox, Tree, actions, try_command, warnings};

/// A passwd with one ordinary user, `a`, whose home is where the hostile links go.
fn accounts(t: &Tree) {
    t.file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\na:x:1000:1000::/home/a:/bin/bash\n");
    t.file_as("etc/shadow", "root:$y$SECRET-HASH:19000::::::\n", 0o640, 0, 42);
    t.dir_as("root", 0o700, 0, 0);
    t.dir_as("home/a", 0o750, 1000, 1000);
    t.file("etc/machine-id", "uninitialized\n");
    std::fs::set_permissions(t.path("etc/machine-id"), std::fs::Permissions::from_mode(0o444)).unwrap();
    t.dir("tmp", 0o1777);
}

/// Links from cleanup paths to a sentinel outside the root (by absolute host path, and by a
/// relative path that climbs out) and to protected files inside it.
#[test]
fn links_are_removed_as_links_and_never_followed() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    let out = Tree { root: sb.outside.clone() };
    out.file("sentinel.txt", "outside the root: must survive\n");
    out.file("dir/access.log", "outside log line\n");
    out.file("dir/x.leases", "outside lease\n");
    out.file("dir/pkg.deb", "outside package\n");
    out.file("gcloud/credentials.db", "outside credentials\n");
    out.file("hosts", "127.0.1.1 outside\n");
    out.file("ifcfg", "HWADDR=00:11:22:33:44:55\n");
    let sentinel = sb.outside.join("sentinel.txt");
    let outdir = sb.outside.join("dir");
    // From home/a, enough `..` to climb past the top of the root, then the host path.
    let climb = PathBuf::from("../".repeat(20)).join(sentinel.strip_prefix("/").unwrap());
    // Protected files inside the root that links point at.
    t.file("etc/authorized_keys", "protected: sshd's own, not a user's\n");
    t.file("etc/important.conf", "protected\n");
    t.file_as("usr/bin/apt-get", "#!binary\n", 0o755, 0, 0);

    // Removed as links (their targets untouched).
    t.symlink("home/a/.bash_history", "/etc/shadow");
    t.symlink("home/a/.zsh_history", &sentinel);
    t.symlink("home/a/.lesshst", &climb);
    t.symlink("home/a/.python_history", ".python_history"); // a loop onto itself
    t.symlink("home/a/.aws", "/etc");
    t.symlink("home/a/.netrc", &sentinel);
    t.symlink("root/.git-credentials", "/etc/shadow");
    t.symlink("etc/hostname", &sentinel);
    t.symlink("etc/udev/rules.d/70-persistent-net.rules", "/etc/shadow");
    t.symlink("etc/passwd-", "/etc/shadow");
    t.symlink("etc/ssh/ssh_host_rsa_key", &sentinel);
    t.symlink("var/lib/cloud/data", &outdir);
    t.symlink("var/lib/cloud/instance", "/etc");
    t.symlink("var/lib/dhclient/dhclient.leases", &sentinel);
    t.symlink("tmp/link", "/etc");
    t.symlink("tmp/outside", &outdir);
    t.symlink("tmp/file", &sentinel);
    t.symlink("tmp/loop1", "loop2");
    t.symlink("tmp/loop2", "loop1");
    t.file("tmp/dir/real", "tmp file\n");
    t.symlink("tmp/dir/up", "..");
    t.symlink("tmp/dir/escape", &climb);

    // Left in place (a directory on the way is a link, or the link is not a cleanup target as
    // such): the targets must be untouched and the place reported.
    t.symlink("home/a/.ssh", "../../etc");
    t.symlink("home/a/.config", &sb.outside);
    t.symlink("var/log/x.log", "/etc/shadow");
    t.symlink("var/log/out.log", &sentinel);
    t.symlink("var/log/loop.log", "loop.log");
    t.symlink("var/log/nginx", &outdir);
    t.symlink("var/log/journal", &outdir);
    t.symlink("var/lib/cloud/instances", "/etc");
    t.symlink("var/lib/dhcp", &outdir);
    t.symlink("var/cache/apt/archives", &outdir);
    t.symlink("var/tmp", &outdir);
    t.symlink("var/crash", "/etc");
    t.symlink("boot/loader", &sb.outside);
    t.symlink("core", "/etc/shadow");
    t.symlink("etc/hosts", sb.outside.join("hosts"));
    t.symlink("etc/sysconfig/network-scripts/ifcfg-eth0", sb.outside.join("ifcfg"));
    t.symlink("var/lib/dbus/machine-id", "/etc/machine-id");

    let before = sb.snapshot();
    let outside_before = snapshot(&sb.outside);
    let plan = sb.plan_json(&["default"]);
    let run = sb.seal(&["default"], &["--format", "json"]);
    run.code(0);

    let mut e = Expected::unchanged(&before);
    for gone in [
        "home/a/.bash_history",
        "home/a/.zsh_history",
        "home/a/.lesshst",
        "home/a/.python_history",
        "home/a/.aws",
        "home/a/.netrc",
        "root/.git-credentials",
        "etc/hostname",
        "etc/udev/rules.d/70-persistent-net.rules",
        "etc/passwd-",
        "etc/ssh/ssh_host_rsa_key",
        "var/lib/cloud/data",
        "var/lib/cloud/instance",
        "var/lib/dhclient/dhclient.leases",
    ] {
        e.gone(Path::new(gone));
    }
    e.empty(Path::new("tmp"));
    e.receipt();
    e.assert_matches(&sb.snapshot(), "after sealing the hostile root");
    assert_identical(&outside_before, &snapshot(&sb.outside), "the directory outside the root");

    // Every place left alone because of a link is reported, so the operator can look.
    let warned: Vec<String> = warnings(&plan).into_iter().map(|(_, p, _)| p).collect();
    for p in [
        "/home/a/.ssh/authorized_keys",
        "/home/a/.config/gcloud",
        "/var/log/journal",
        "/var/lib/cloud/instances",
        "/var/cache/apt/archives",
        "/var/tmp",
        "/boot/loader/random-seed",
        "/etc/hosts",
        "/etc/sysconfig/network-scripts/ifcfg-eth0",
    ] {
        assert!(warned.iter().any(|w| w == p), "no warning for {p}; warnings: {warned:#?}");
    }
}

/// machine-id itself a link: never followed, never written through; reported.
#[test]
fn a_machine_id_symlink_is_not_written_through() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    std::fs::remove_file(t.path("etc/machine-id")).unwrap();
    t.file("var/lib/machine-id.real", "0123456789abcdef0123456789abcdef\n");
    t.symlink("etc/machine-id", "/var/lib/machine-id.real");
    let before = sb.snapshot();
    let plan = sb.plan_json(&["default"]);
    assert!(
        warnings(&plan).iter().any(|(op, p, _)| op == "machine-id" && p == "/etc/machine-id"),
        "{:?}",
        warnings(&plan)
    );
    // The link is left alone, so the image keeps the id it points to: every clone would share
    // it, and the seal says the image is not ready.
    let run = sb.seal(&["default"], &[]);
    run.code(1);
    assert!(run.stderr.contains("audit: fail img-machine-id-reset"), "{}", run.stderr);
    assert!(run.stdout.contains("NOT-READY") && run.stdout.contains("img-machine-id-reset"), "{}", run.stdout);
    Expected::sealed(&before).assert_matches(&sb.snapshot(), "machine-id link");
}

/// FIFOs where amiprep reads or truncates must never block it.
#[test]
fn fifos_never_hang_a_run() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    t.fifo("tmp/fifo");
    t.fifo("tmp/sub/fifo");
    t.fifo("var/log/fifo.log");
    t.fifo("etc/hosts");
    t.fifo("etc/ssh/sshd_config");
    t.fifo("etc/sysconfig/network-scripts/ifcfg-eth0");
    t.fifo("opt/app/out.log");
    t.fifo("home/a/.bash_history");
    let p = sb.profile("fifo", "extends = [\"default\"]\n[files]\ntruncate = [\"opt/app/out.log\"]\n");
    let before = sb.snapshot();
    let plan = sb.plan_json(&[&p]);
    let warned = warnings(&plan);
    for path in ["/etc/hosts", "/etc/ssh/sshd_config", "/etc/sysconfig/network-scripts/ifcfg-eth0", "/opt/app/out.log"]
    {
        assert!(warned.iter().any(|(_, w, _)| w == path), "no warning for the FIFO at {path}: {warned:#?}");
    }
    // The common helper fails the test if the run outlives its hang timeout.
    sb.seal(&[&p], &[]).code(0);
    let mut e = Expected::unchanged(&before);
    e.empty(Path::new("tmp"));
    // A FIFO named like a history is still not history: removed like any special file there.
    e.gone(Path::new("home/a/.bash_history"));
    e.receipt();
    e.assert_matches(&sb.snapshot(), "after sealing a root full of FIFOs");
}

/// A FIFO among the logs is not a log: it is left alone, and the plan says so.
#[test]
fn a_fifo_among_the_logs_is_reported() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    t.fifo("var/log/fifo.log");
    let plan = sb.plan_json(&["default"]);
    assert!(warnings(&plan).iter().any(|(op, p, _)| op == "logs" && p == "/var/log/fifo.log"), "{:?}", warnings(&plan));
}

/// Clears the immutable flag even when the test fails, so the temp dir can be removed.
struct Immutable(PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// A file that cannot be removed (root can do anything but remove an immutable file): the
/// failure is reported per path, the exit code is 1, and everything else is still done.
#[test]
fn an_unremovable_file_fails_its_action_and_the_rest_is_done() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    t.file("tmp/locked", "immutable");
    t.file("tmp/dir/other", "removable");
    t.file("tmp/free", "removable");
    t.file("etc/hostname", "build\n");
    t.file("home/a/.bash_history", "history\n");
    let locked = t.path("tmp/locked");
    if try_command("chattr", &[OsStr::new("+i"), locked.as_os_str()]).is_none() {
        eprintln!("note: skipping: this filesystem does not support chattr +i");
        return;
    }
    let _guard = Immutable(locked);
    let before = sb.snapshot();
    let run = sb.seal(&["default"], &["--format", "json"]);
    run.code(1);
    let r = run.json();
    let acts = r["actions"].as_array().unwrap();
    let tmp = acts.iter().find(|a| a["path"] == "/tmp").expect("tmp action");
    assert_eq!(tmp["outcome"]["status"], "failed", "{tmp}");
    let problems = tmp["outcome"]["problems"].as_array().expect("per-path problems");
    assert_eq!(problems.len(), 1, "{tmp}");
    assert_eq!(problems[0]["path"], "/tmp/locked");
    assert!(problems[0]["message"].as_str().unwrap().contains("immutable"), "{tmp}");
    for a in acts.iter().filter(|a| a["path"] != "/tmp") {
        assert_eq!(a["outcome"]["status"], "done", "{a}");
    }
    assert_eq!(r["totals"]["failed"], 1);
    let mut e = Expected::unchanged(&before);
    for gone in ["tmp/dir", "tmp/free", "etc/hostname", "home/a/.bash_history"] {
        e.gone(Path::new(gone));
    }
    e.receipt();
    e.assert_matches(&sb.snapshot(), "after a seal with an immutable file");
    // A half-sealed root is never announced as ready: no READY line anywhere, a NOT-READY line
    // with the reason, and a receipt that says so.
    assert!(run.stderr.contains("NOT-READY") && run.stderr.contains("1 of 3 actions failed"), "{}", run.stderr);
    let signal = &r["signal"];
    assert_eq!(signal["ready"], false, "{signal}");
    assert_eq!(signal["line"], "amiprep: NOT-READY profile=default reason=\"1 of 3 actions failed\"");
    assert!(!run.stdout.contains("READY-FOR-IMAGE") && !run.stderr.contains("READY-FOR-IMAGE"));
    let receipt: serde_json::Value = serde_json::from_slice(&t.read("var/lib/amiprep/receipt.json")).unwrap();
    assert_eq!(receipt["ready"], false, "{receipt}");
    assert_eq!(receipt["reason"], "1 of 3 actions failed");
    assert_eq!(receipt, signal["receipt"], "the JSON report carries the receipt as written");
    let text = sb.seal(&["default"], &[]);
    text.code(1);
    assert_eq!(text.stdout.lines().last(), Some("amiprep: NOT-READY profile=default reason=\"1 of 1 actions failed\""));
}

/// Unmounts on drop, even when the test fails.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn mount(args: &[&OsStr], at: &Path) -> Option<Mounted> {
    let mut all: Vec<&OsStr> = args.to_vec();
    all.push(at.as_os_str());
    try_command("mount", &all).map(|()| Mounted(at.to_path_buf()))
}

/// A filesystem mounted inside a cleanup tree (and a file bind-mounted over a cleanup target)
/// is another filesystem: left alone unless the profile names it in `walk.include_mounts`.
#[test]
fn nested_mounts_are_left_alone() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    t.dir("var/tmp", 0o1777);
    t.file("var/tmp/build.log", "ours to remove\n");
    t.dir("var/tmp/mnt", 0o755);
    t.file("etc/hostname", "bind target\n");
    let src = Tree { root: sb.outside.clone() };
    src.file("hostname", "the host's hostname, bind-mounted in\n");
    let Some(_tmpfs) = mount(&[OsStr::new("-t"), OsStr::new("tmpfs"), OsStr::new("tmpfs")], &t.path("var/tmp/mnt"))
    else {
        eprintln!("note: skipping: cannot mount a tmpfs here");
        return;
    };
    t.file("var/tmp/mnt/data/keep.bin", "on another filesystem\n");
    let Some(_bind) = mount(&[OsStr::new("--bind"), sb.outside.join("hostname").as_os_str()], &t.path("etc/hostname"))
    else {
        eprintln!("note: skipping: cannot bind-mount a file here");
        return;
    };
    let before = sb.snapshot();
    let outside_before = snapshot(&sb.outside);
    let plan = sb.plan_json(&["default"]);
    let warned = warnings(&plan);
    for p in ["/var/tmp/mnt", "/etc/hostname"] {
        assert!(warned.iter().any(|(_, w, _)| w == p), "no warning for the mount at {p}: {warned:#?}");
    }
    sb.seal(&["default"], &[]).code(0);
    let mut e = Expected::unchanged(&before);
    e.gone(Path::new("var/tmp/build.log"));
    e.receipt();
    e.assert_matches(&sb.snapshot(), "after sealing a root with nested mounts");
    assert_identical(&outside_before, &snapshot(&sb.outside), "the bind mount's source");
    // Nothing left to do: a mount is not an endless pending action.
    assert_eq!(actions(&sb.plan_json(&["default"])), vec![]);
}

/// A cleanup directory that is itself a separate filesystem (var/tmp as a tmpfs) is left
/// alone, and cleaned once the profile names it in `walk.include_mounts`.
#[test]
fn a_cleanup_directory_that_is_a_mount_is_cleaned_only_when_included() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    t.dir("var/tmp", 0o1777);
    let Some(_tmpfs) = mount(&[OsStr::new("-t"), OsStr::new("tmpfs"), OsStr::new("tmpfs")], &t.path("var/tmp")) else {
        eprintln!("note: skipping: cannot mount a tmpfs here");
        return;
    };
    t.file("var/tmp/build/output.o", "object\n");
    let before = sb.snapshot();
    let plan = sb.plan_json(&["default"]);
    assert!(warnings(&plan).iter().any(|(_, p, _)| p == "/var/tmp"), "{:?}", warnings(&plan));
    sb.seal(&["default"], &[]).code(0);
    Expected::sealed(&before).assert_matches(&sb.snapshot(), "var/tmp is another filesystem");
    let p = sb.profile("mounts", "extends = [\"default\"]\n[walk]\ninclude_mounts = [\"var/tmp\"]\n");
    sb.seal(&[&p], &[]).code(0);
    let mut e = Expected::unchanged(&before);
    e.empty(Path::new("var/tmp"));
    e.receipt();
    e.assert_matches(&sb.snapshot(), "var/tmp included");
}

/// A mount named in `walk.include_mounts` that sits inside a tree being emptied: its content
/// goes, its mount point stays (it cannot be removed while mounted, and it is the mount's).
#[test]
fn an_included_mount_inside_a_cleanup_tree_is_emptied_and_its_mount_point_stays() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    t.dir("var/tmp", 0o1777);
    t.file("var/tmp/build.log", "ours to remove\n");
    t.dir("var/tmp/mnt", 0o755);
    let Some(_tmpfs) = mount(&[OsStr::new("-t"), OsStr::new("tmpfs"), OsStr::new("tmpfs")], &t.path("var/tmp/mnt"))
    else {
        eprintln!("note: skipping: cannot mount a tmpfs here");
        return;
    };
    t.file("var/tmp/mnt/data/x.bin", "included: to be removed\n");
    let before = sb.snapshot();
    let p = sb.profile("mounts", "extends = [\"default\"]\n[walk]\ninclude_mounts = [\"var/tmp/mnt\"]\n");
    sb.seal(&[&p], &[]).code(0);
    let mut e = Expected::unchanged(&before);
    e.gone(Path::new("var/tmp/build.log"));
    e.empty(Path::new("var/tmp/mnt"));
    e.receipt();
    e.assert_matches(&sb.snapshot(), "after sealing with the mount included");
    assert_eq!(actions(&sb.plan_json(&[&p])), vec![], "nothing left to do");
}

/// `efi -> boot/efi` is a common layout, and `efi` is one of the default profile's
/// `include_mounts`: a link (or a file) there must not stop the run.
#[test]
fn a_symlinked_include_mounts_entry_does_not_abort_the_run() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    t.file("boot/efi/loader/random-seed", "seed");
    t.symlink("efi", "boot/efi");
    t.file("etc/hostname", "build\n");
    let before = sb.snapshot();
    sb.plan(&["default"], &[]).code(0);
    sb.seal(&["default"], &[]).code(0);
    let mut e = Expected::unchanged(&before);
    e.gone(Path::new("boot/efi/loader/random-seed"));
    e.gone(Path::new("etc/hostname"));
    e.receipt();
    e.assert_matches(&sb.snapshot(), "after sealing with efi -> boot/efi");
}

#[test]
fn non_utf8_and_control_character_names_are_cleaned_and_reported_escaped() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    let odd = |bytes: &[u8]| PathBuf::from(OsStr::from_bytes(bytes));
    t.file(Path::new("tmp").join(odd(b"latin1-\xe9t\xe9")), "x");
    t.file(Path::new("tmp").join(odd(b"dir\xff")).join(odd(b"new\nline")), "y");
    t.file(Path::new("var/log").join(odd(b"app-\xfe.log")), "log line\n");
    t.file(Path::new("var/log").join(odd(b"app-\xfe.log.1")), "old\n");
    let before = sb.snapshot();
    let plan = sb.plan_json(&["default"]);
    let paths: Vec<String> = actions(&plan).into_iter().map(|(_, _, p)| p).collect();
    assert!(paths.contains(&"/var/log/app-\\xfe.log".to_string()), "{paths:?}");
    assert!(paths.contains(&"/var/log/app-\\xfe.log.1".to_string()), "{paths:?}");
    let text = sb.plan(&["default"], &[]).code(0).stdout.clone();
    assert!(text.lines().all(|l| !l.contains('\u{fffd}')), "bytes are escaped, not replaced:\n{text}");
    sb.seal(&["default"], &[]).code(0);
    let mut e = Expected::unchanged(&before);
    e.empty(Path::new("tmp"));
    e.truncated(&Path::new("var/log").join(odd(b"app-\xfe.log")));
    e.gone(&Path::new("var/log").join(odd(b"app-\xfe.log.1")));
    e.receipt();
    e.assert_matches(&sb.snapshot(), "after sealing odd names");
}

/// A tree deeper than amiprep walks (512 levels) is reported and left, the run goes on; a
/// deep tree within the limit is removed whole.
#[test]
fn very_deep_trees() {
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    let chain = |levels: usize| PathBuf::from("d/".repeat(levels));
    t.file(Path::new("tmp/ok").join(chain(300)).join("leaf"), "deep leaf\n");
    sb.seal(&["default"], &[]).code(0);
    assert_eq!(std::fs::read_dir(t.path("tmp")).unwrap().count(), 0);

    t.file(Path::new("tmp/deep").join(chain(600)).join("leaf"), "too deep\n");
    t.file("tmp/shallow", "removed anyway\n");
    t.file("etc/hostname", "build\n");
    let run = sb.seal(&["default"], &["--format", "json"]);
    run.code(1);
    let r = run.json();
    let tmp = r["actions"].as_array().unwrap().iter().find(|a| a["path"] == "/tmp").unwrap().clone();
    assert_eq!(tmp["outcome"]["status"], "failed");
    assert!(tmp["outcome"]["problems"][0]["message"].as_str().unwrap().contains("levels deep"), "{tmp}");
    assert!(!t.exists("tmp/shallow") && !t.exists("etc/hostname"), "the rest of the run is done");
    assert!(t.exists(Path::new("tmp/deep").join(chain(600)).join("leaf")), "the part beyond the limit is left");
}

/// Paths longer than PATH_MAX (4096) are removed: the walk goes one component at a time.
#[test]
fn paths_longer_than_path_max() {
    use rustix::fs::{Mode, OFlags};
    let sb = Sandbox::new();
    let t = sb.tree();
    accounts(&t);
    let name = "n".repeat(250);
    let mut dir = rustix::fs::open(t.path("tmp"), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
    for _ in 0..30 {
        rustix::fs::mkdirat(&dir, name.as_str(), Mode::from_raw_mode(0o755)).unwrap();
        dir = rustix::fs::openat(&dir, name.as_str(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
    }
    let f = rustix::fs::openat(&dir, "leaf", OFlags::WRONLY | OFlags::CREATE, Mode::from_raw_mode(0o644)).unwrap();
    rustix::io::write(&f, b"far away").unwrap();
    let before = sb.snapshot();
    assert!(before.keys().any(|p| p.as_os_str().len() > 7000), "the fixture really is longer than PATH_MAX");
    let plan = sb.plan_json(&["default"]);
    let tmp = plan["actions"].as_array().unwrap().iter().find(|a| a["path"] == "/tmp").unwrap().clone();
    assert_eq!((tmp["entries"].as_u64(), tmp["bytes"].as_u64()), (Some(31), Some(8)), "{tmp}");
    sb.seal(&["default"], &[]).code(0);
    let mut e = Expected::unchanged(&before);
    e.empty(Path::new("tmp"));
    e.receipt();
    e.assert_matches(&sb.snapshot(), "after removing a very long path");
}

/// The cleanup roots themselves being links: tmp -> /etc must not empty etc.
#[test]
fn top_level_cleanup_directories_that_are_links_are_left_alone() {
    let sb = Sandbox::new();
    let t = sb.tree();
    t.file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    t.file("etc/important.conf", "protected\n");
    t.file("etc/machine-id", "uninitialized\n");
    std::fs::set_permissions(t.path("etc/machine-id"), std::fs::Permissions::from_mode(0o444)).unwrap();
    t.symlink("tmp", "/etc");
    t.symlink("var/log", "/etc");
    t.symlink("var/lib/cloud", "/etc");
    t.symlink("root", "/etc");
    let before = sb.snapshot();
    let plan = sb.plan_json(&["default"]);
    assert!(warnings(&plan).iter().any(|(_, p, _)| p == "/tmp"), "{:?}", warnings(&plan));
    sb.seal(&["default"], &[]).code(0);
    Expected::sealed(&before).assert_matches(&sb.snapshot(), "links at the top");
}
