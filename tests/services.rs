//! `[services]`: the links a seal leaves are exactly those `systemctl --root` makes on an
//! identical copy, the plan predicts them, and every way a unit request can be wrong stops the
//! seal before anything changes.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::snapshot::assert_identical;
use common::{Sandbox, Tree, warnings};

/// Every symlink under `etc` of a root, as `path -> target`.
fn links(root: &Path) -> BTreeMap<PathBuf, PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd {
            let p = e.unwrap().path();
            let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
            if ft.is_symlink() {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read_link(&p).unwrap());
            } else if ft.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &root.join("etc"), &mut out);
    out
}

fn systemctl(root: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("systemctl")
        .arg(format!("--root={}", root.display()))
        .args(args)
        .output()
        .expect("systemctl is installed (the CI installs systemd; the oracle needs the real tool)");
    assert!(out.status.success(), "systemctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

const U: &str = "usr/lib/systemd/system";

/// A merged-/usr root (lib -> usr/lib, as Debian 12 and Amazon Linux 2023 have) with units that
/// exercise every part of `[Install]`, and some state already enabled.
fn unit_root(t: &Tree) {
    t.dir("usr/lib/systemd/system", 0o755);
    t.symlink("lib", "usr/lib");
    t.dir("etc/systemd/system", 0o755);
    let f = |name: &str, text: &str| {
        t.file(format!("{U}/{name}"), text);
    };
    f(
        "web.service",
        "[Unit]\nDescription=web\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n\
         RequiredBy=app.target\nAlias=www.service\nAlso=web-helper.socket\n",
    );
    f("web-helper.socket", "[Socket]\nListenStream=8081\n[Install]\nWantedBy=sockets.target\n");
    f(
        "worker@.service",
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=main\n",
    );
    f("static.service", "[Unit]\nDescription=pulled in by others\n[Service]\nExecStart=/bin/true\n");
    f("old.service", "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=legacy.service\n");
    f("telnet.socket", "[Socket]\nListenStream=23\n[Install]\nWantedBy=sockets.target\n");
    f("fstrim.timer", "[Timer]\nOnCalendar=weekly\n[Install]\nWantedBy=timers.target\n");
    f("debug-shell.service", "[Service]\nExecStart=/bin/sh\n[Install]\nWantedBy=sysinit.target\n");
    // Enabled on the build host: old.service (with its alias), telnet.socket, a masked unit.
    t.symlink("etc/systemd/system/multi-user.target.wants/old.service", "/lib/systemd/system/old.service");
    t.symlink("etc/systemd/system/legacy.service", "/lib/systemd/system/old.service");
    t.symlink("etc/systemd/system/sockets.target.wants/telnet.socket", "/lib/systemd/system/telnet.socket");
    t.symlink("etc/systemd/system/cups.service", "/dev/null");
}

const PROFILE: &str = "[services]\n\
    enable = [\"web\", \"worker@.service\", \"worker@extra.service\", \"fstrim.timer\"]\n\
    disable = [\"old.service\"]\n\
    mask = [\"telnet.socket\", \"debug-shell.service\"]\n\
    unmask = [\"cups.service\"]\n";

/// The systemctl calls the profile amounts to, in the order amiprep runs them.
const ORACLE: &[&[&str]] = &[
    &["unmask", "cups.service"],
    &["disable", "old.service"],
    &["mask", "telnet.socket"],
    &["mask", "debug-shell.service"],
    &["enable", "web.service"],
    &["enable", "worker@.service"],
    &["enable", "worker@extra.service"],
    &["enable", "fstrim.timer"],
];

#[test]
fn seal_leaves_exactly_the_links_systemctl_makes_and_the_plan_predicts_them() {
    let ours = Sandbox::new();
    let theirs = Sandbox::new();
    unit_root(&ours.tree());
    unit_root(&theirs.tree());
    let before = links(&ours.root);
    assert_eq!(before, links(&theirs.root));
    let p = ours.profile("svc", &(common::only(&[]) + PROFILE));

    let plan = ours.plan_json(&[&p]);
    let runs: Vec<&serde_json::Value> =
        plan["actions"].as_array().unwrap().iter().filter(|a| a["kind"] == "run").collect();
    let commands: Vec<String> = runs.iter().map(|a| a["path"].as_str().unwrap().to_string()).collect();
    let root_arg = format!("--root={}", std::fs::canonicalize(&ours.root).unwrap().display());
    let want: Vec<String> = ORACLE.iter().map(|c| format!("systemctl {root_arg} {} -- {}", c[0], c[1])).collect();
    assert_eq!(commands, want, "one systemctl call per unit that changes, unmask first and enable last");

    ours.seal(&[&p], &[]).code(0);
    for c in ORACLE {
        systemctl(&theirs.root, c);
    }
    let after = links(&ours.root);
    assert_eq!(after, links(&theirs.root), "the links after seal == the links systemctl --root makes");

    // The plan named every link that appeared or went, and nothing else.
    let mut predicted: Vec<String> = runs
        .iter()
        .flat_map(|a| a["touches"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()))
        .collect();
    predicted.sort();
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(p, t)| before.get(*p) != Some(t))
        .map(|(p, _)| format!("/{}", p.display()))
        .chain(before.keys().filter(|p| !after.contains_key(*p)).map(|p| format!("/{}", p.display())))
        .collect();
    changed.sort();
    assert_eq!(predicted, changed);
    // Spot checks of the semantics, against systemctl's own reading.
    let is = |u: &str| String::from_utf8(systemctl(&ours.root, &["is-enabled", u]).stdout).unwrap().trim().to_string();
    for (u, state) in [
        ("web.service", "enabled"),
        ("web-helper.socket", "enabled"),
        ("worker@main.service", "enabled"),
        ("worker@extra.service", "enabled"),
        ("fstrim.timer", "enabled"),
    ] {
        assert_eq!(is(u), state, "{u}");
    }
    assert_eq!(after[Path::new("etc/systemd/system/www.service")], Path::new("/lib/systemd/system/web.service"));
    assert_eq!(after[Path::new("etc/systemd/system/telnet.socket")], Path::new("/dev/null"));
    assert!(!after.contains_key(Path::new("etc/systemd/system/cups.service")));
    assert!(!after.contains_key(Path::new("etc/systemd/system/legacy.service")));

    // Everything is now as wanted: a second plan has no unit left to change.
    let again = ours.plan_json(&[&p]);
    assert!(again["actions"].as_array().unwrap().iter().all(|a| a["kind"] != "run"), "{again}");
}

#[test]
fn the_preset_file_says_what_the_profile_enables_and_disables() {
    let sb = Sandbox::new();
    unit_root(&sb.tree());
    let p = sb.profile("svc", &(common::only(&[]) + PROFILE));
    sb.seal(&[&p], &[]).code(0);
    let preset = String::from_utf8(sb.tree().read("etc/systemd/system-preset/01-amiprep.preset")).unwrap();
    let rules: Vec<&str> = preset.lines().filter(|l| !l.starts_with('#')).collect();
    // One line per template listing its instances: preset files are first-match-wins, so two
    // lines for worker@.service would hide the second.
    assert_eq!(
        rules,
        ["disable old.service", "enable web.service", "enable worker@.service main extra", "enable fstrim.timer"]
    );
    let meta = std::fs::metadata(sb.tree().path("etc/systemd/system-preset/01-amiprep.preset")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777, 0o644);
    // systemd reads it as we mean it: `preset` on a fresh copy changes nothing we enabled.
    systemctl(&sb.root, &["preset", "web.service", "worker@.service", "fstrim.timer", "old.service"]);
    let l = links(&sb.root);
    assert!(l.contains_key(Path::new("etc/systemd/system/multi-user.target.wants/worker@extra.service")));
    assert!(l.contains_key(Path::new("etc/systemd/system/multi-user.target.wants/web.service")));
    assert!(!l.contains_key(Path::new("etc/systemd/system/multi-user.target.wants/old.service")));

    let off = sb.profile("nopreset", &(common::only(&[]) + PROFILE + "preset = false\n"));
    std::fs::remove_file(sb.tree().path("etc/systemd/system-preset/01-amiprep.preset")).unwrap();
    sb.seal(&[&off], &[]).code(0);
    assert!(!sb.tree().exists("etc/systemd/system-preset/01-amiprep.preset"));
}

#[test]
fn a_unit_the_root_lacks_stops_the_seal_before_anything_changes() {
    let sb = Sandbox::new();
    unit_root(&sb.tree());
    sb.tree().file("tmp/junk", "would be cleaned");
    let before = sb.snapshot();
    let p = sb.profile("missing", "extends = [\"default\"]\n[services]\nenable = [\"web\", \"apache2\"]\n");
    for run in [sb.plan(&[&p], &[]), sb.seal(&[&p], &[])] {
        run.code(2);
        assert!(run.stderr.contains("missing.toml:3:18: [services] enable apache2.service"), "{}", run.stderr);
        assert!(run.stderr.contains("is not installed in the root"), "{}", run.stderr);
        assert!(run.stderr.contains("\n  fix: "), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    assert_identical(&before, &sb.snapshot(), "after a seal naming a missing unit");

    // The same for a unit named only in another unit's Also=.
    sb.tree().file(format!("{U}/web.service"), "[Service]\nExecStart=/bin/true\n[Install]\nAlso=gone.socket\n");
    let p = sb.profile("also", &(common::only(&[]) + "[services]\nenable = [\"web\"]\n"));
    let run = sb.seal(&[&p], &[]);
    run.code(2);
    assert!(run.stderr.contains("gone.socket (named in Also="), "{}", run.stderr);
}

#[test]
fn a_masked_unit_is_enabled_only_with_an_explicit_unmask() {
    let sb = Sandbox::new();
    unit_root(&sb.tree());
    sb.tree().symlink("etc/systemd/system/fstrim.timer", "/dev/null");
    let before = sb.snapshot();
    let p = sb.profile("en", &(common::only(&[]) + "[services]\nenable = [\"fstrim.timer\"]\n"));
    let run = sb.seal(&[&p], &[]);
    run.code(2);
    assert!(run.stderr.contains("masked") && run.stderr.contains("unmask"), "{}", run.stderr);
    assert_identical(&before, &sb.snapshot(), "after refusing to enable a masked unit");

    let p = sb.profile(
        "both",
        &(common::only(&[]) + "[services]\nunmask = [\"fstrim.timer\"]\nenable = [\"fstrim.timer\"]\n"),
    );
    sb.seal(&[&p], &[]).code(0);
    let l = links(&sb.root);
    assert!(!l.contains_key(Path::new("etc/systemd/system/fstrim.timer")));
    assert_eq!(
        l[Path::new("etc/systemd/system/timers.target.wants/fstrim.timer")],
        Path::new("/lib/systemd/system/fstrim.timer")
    );
}

#[test]
fn static_units_and_bare_templates_are_reported_not_run() {
    let sb = Sandbox::new();
    unit_root(&sb.tree());
    sb.tree()
        .file(format!("{U}/bare@.service"), "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n");
    let p = sb.profile("st", &(common::only(&[]) + "[services]\nenable = [\"static\", \"bare@.service\"]\n"));
    let plan = sb.plan_json(&[&p]);
    assert!(plan["actions"].as_array().unwrap().iter().all(|a| a["kind"] != "run"), "{plan}");
    let w = warnings(&plan);
    assert!(
        w.iter().any(|(op, _, m)| op == "services" && m.contains("static.service has no [Install] section")),
        "{w:?}"
    );
    assert!(w.iter().any(|(_, _, m)| m.contains("bare@.service is a template without DefaultInstance")), "{w:?}");
    // systemctl agrees: enabling them creates nothing.
    let before = links(&sb.root);
    sb.seal(&[&p], &[]).code(0);
    assert_eq!(links(&sb.root), before);
}

#[test]
fn a_file_in_the_way_of_a_link_is_an_error_before_anything_runs() {
    let sb = Sandbox::new();
    unit_root(&sb.tree());
    sb.tree().symlink("etc/systemd/system/timers.target.wants/fstrim.timer", "/etc/elsewhere/fstrim.timer");
    let before = sb.snapshot();
    let p = sb.profile("way", &(common::only(&[]) + "[services]\nenable = [\"fstrim.timer\"]\n"));
    let run = sb.seal(&[&p], &[]);
    run.code(2);
    assert!(run.stderr.contains("is already there (a link to /etc/elsewhere/fstrim.timer)"), "{}", run.stderr);
    assert_identical(&before, &sb.snapshot(), "after refusing to overwrite a link");
}

#[test]
fn without_systemctl_a_seal_that_needs_it_changes_nothing() {
    let sb = Sandbox::new();
    unit_root(&sb.tree());
    sb.tree().file("tmp/junk", "would be cleaned");
    let before = sb.snapshot();
    let p = sb.profile("svc", "extends = [\"default\"]\n[services]\nenable = [\"web\"]\n");
    let empty = tempfile::tempdir().unwrap();
    let run = sb.run_env(&["seal", "--yes", "--root", sb.root_arg(), "-p", &p], &[("PATH", empty.path().as_os_str())]);
    run.code(1);
    assert!(run.stderr.contains("systemctl is not on PATH"), "{}", run.stderr);
    assert_identical(&before, &sb.snapshot(), "after a seal without systemctl");
}

#[test]
fn later_profiles_override_what_earlier_ones_wanted_for_a_unit() {
    let sb = Sandbox::new();
    unit_root(&sb.tree());
    let a = sb.profile("a", &(common::only(&[]) + "[services]\nenable = [\"web\", \"fstrim.timer\"]\n"));
    let b = sb.profile("b", &format!("extends = [{a:?}]\n[services]\nmask = [\"web\"]\n"));
    let shown = sb.run(&["profile", "show", "--resolved", &b]);
    shown.code(0);
    let enable =
        shown.stdout.lines().skip_while(|l| !l.starts_with("enable = ")).take(3).collect::<Vec<_>>().join("\n");
    assert!(enable.contains("fstrim.timer") && !enable.contains("web"), "{}", shown.stdout);
    assert!(shown.stdout.contains("mask = [\n  \"web.service\","), "{}", shown.stdout);
}
