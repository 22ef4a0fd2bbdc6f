//! The cleanup catalogue against the dirty root: every artifact of every enabled operation is
//! removed, truncated or edited exactly as its operation says, and everything else in the tree
//! is byte-for-byte, inode-for-inode unchanged.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::dirty::{DirtyRoot, Effect, Switches};
use common::snapshot::{Check, Expected, Kind, Snapshot};
use common::{Sandbox, actions};

/// Plants the dirty root and returns it with its snapshot.
fn dirty() -> (Sandbox, DirtyRoot, Snapshot) {
    let sb = Sandbox::new();
    let d = DirtyRoot::plant(&sb.tree());
    let before = sb.snapshot();
    (sb, d, before)
}

/// Seals with `profiles`, expecting success, and checks the whole tree against `expected`.
/// Also checks that the plan made just before is exactly what happened: every changed path is
/// covered by a planned action, and every planned action changed something.
#[track_caller]
fn seal_and_compare(sb: &Sandbox, profiles: &[&str], before: &Snapshot, expected: &Expected) {
    let plan = sb.plan_json(profiles);
    let report = sb.seal(profiles, &["--format", "json"]).code(0).json();
    let after = sb.snapshot();
    let mut expected = expected.clone();
    expected.receipt();
    expected.assert_matches(&after, &format!("after seal -p {}", profiles.join(" -p ")));
    // A `run` action (systemctl) names the paths it changes in `touches`.
    let planned: Vec<PathBuf> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| match a["kind"].as_str() {
            Some("run") => a["touches"]
                .as_array()
                .map(|t| t.iter().map(|p| p.as_str().unwrap().to_string()).collect())
                .unwrap_or_default(),
            _ => vec![a["path"].as_str().unwrap().to_string()],
        })
        .map(|p| PathBuf::from(&p[1..]))
        .collect();
    assert_eq!(actions(&plan), actions(&report), "seal must execute the plan that `plan` shows");
    // The receipt (and the directories made for it) is the seal's own output, after the plan.
    let receipt = Path::new("var/lib/amiprep/receipt.json");
    let changed: BTreeSet<PathBuf> =
        changed_paths(before, &after).into_iter().filter(|c| !receipt.starts_with(c)).collect();
    for c in &changed {
        // A directory created to hold a planned path (a .wants directory) is covered by it.
        let made_for = |p: &PathBuf| p.starts_with(c) && !before.contains_key(c);
        assert!(
            planned.iter().any(|p| c.starts_with(p) || made_for(p)),
            "{} changed but no planned action covers it",
            c.display()
        );
    }
    for p in &planned {
        assert!(changed.iter().any(|c| c.starts_with(p)), "planned action on {} changed nothing", p.display());
    }
}

/// Paths that appeared, vanished or changed (directories only count for more than their
/// times).
fn changed_paths(before: &Snapshot, after: &Snapshot) -> BTreeSet<PathBuf> {
    Expected::unchanged(before).mismatches(after).into_iter().map(|(p, _)| p).collect()
}

#[test]
fn default_profile_cleans_every_artifact_and_nothing_else() {
    let (sb, d, before) = dirty();
    let expected = d.expected(&before, &Switches::default_profile());
    seal_and_compare(&sb, &["default"], &before, &expected);

    // The semantics the expectation encodes, spelled out for the reader.
    let t = sb.tree();
    assert_eq!(t.read("etc/machine-id"), b"uninitialized\n");
    let meta = |rel: &str| std::fs::symlink_metadata(t.path(rel)).unwrap();
    assert_eq!(meta("etc/machine-id").mode() & 0o7777, 0o444);
    for dir in ["tmp", "var/tmp"] {
        assert_eq!(meta(dir).mode() & 0o7777, 0o1777, "{dir} keeps its sticky mode");
        assert_eq!(std::fs::read_dir(t.path(dir)).unwrap().count(), 0, "{dir} is empty");
    }
    let syslog = &before[Path::new("var/log/syslog")];
    assert_eq!((meta("var/log/syslog").ino(), meta("var/log/syslog").len()), (syslog.ino, 0));
    assert_eq!(t.read("etc/hosts"), common::dirty::HOSTS_AFTER.as_bytes());
    assert_eq!(t.read("etc/sysconfig/network-scripts/ifcfg-eth0"), common::dirty::IFCFG_ETH0_AFTER.as_bytes());
    assert!(t.exists("var/lib/cloud/seed/nocloud/user-data"), "the cloud-init seed stays");
    assert!(t.exists("var/cache/apt/archives/lock") && t.exists("var/lib/apt/lists/lock"), "apt's locks stay");
    assert!(t.exists("home/alice/.ssh/id_rsa") && t.exists("home/alice/.ssh/known_hosts"));
    assert!(t.exists("etc/sudoers.d/90-cloud-init-users"), "the default user's sudo stays");
}

/// The fixture must exercise every operation the catalogue has: a new operation without an
/// artifact here would otherwise go untested by the tests above.
#[test]
fn the_fixture_covers_every_operation_of_the_catalogue() {
    let sb = Sandbox::new();
    let d = DirtyRoot::plant(&sb.tree());
    let resolved = sb.run(&["profile", "show", "default", "--resolved"]).code(0).stdout.clone();
    let resolved: toml::Table = resolved.parse().expect("profile show --resolved is TOML");
    let ops: Vec<&String> = resolved["operations"].as_table().expect("[operations]").keys().collect();
    assert!(ops.len() >= 15, "the catalogue lists its operations: {ops:?}");
    let covered = d.covered_switches();
    for op in ops {
        assert!(covered.contains(op.as_str()), "operation {op} has no artifact in tests/common/dirty.rs");
    }
}

#[test]
fn opt_in_operations_clean_when_a_profile_enables_them() {
    let (sb, d, before) = dirty();
    let p = sb.profile(
        "optin",
        "extends = [\"default\"]\n\
         [operations.mail-spool]\nenabled = true\n\
         [operations.user-crontabs]\nenabled = true\n\
         [operations.rpm-db]\nenabled = true\n",
    );
    let on = Switches::default_profile().with(&["mail-spool", "user-crontabs", "rpm-db"]);
    seal_and_compare(&sb, &[&p], &before, &d.expected(&before, &on));
    // The spool directories and the Debian atjobs neighbour stay.
    let t = sb.tree();
    assert!(t.path("var/mail").is_dir() && t.path("var/spool/cron/crontabs").is_dir());
    assert!(t.exists("var/spool/cron/atjobs/.SEQ") && t.exists("var/lib/rpm/rpmdb.sqlite"));
}

#[test]
fn rhel_user_crontabs_are_files_directly_in_var_spool_cron() {
    let sb = Sandbox::new();
    let t = sb.tree();
    t.file_as("var/spool/cron/alice", "* * * * * job\n", 0o600, 1000, 1000);
    t.file_as("var/spool/cron/root", "@reboot x\n", 0o600, 0, 0);
    t.file("var/spool/cron/lastrun/cron.daily", "");
    let before = sb.snapshot();
    let p = sb.profile("cron", &common::only(&["user-crontabs"]));
    let mut e = Expected::unchanged(&before);
    e.gone(Path::new("var/spool/cron/alice"));
    e.gone(Path::new("var/spool/cron/root"));
    seal_and_compare(&sb, &[&p], &before, &e);
}

#[test]
fn machine_id_mode_empty_leaves_an_empty_read_only_file() {
    let (sb, mut d, before) = dirty();
    let p = sb.profile("empty", "extends = [\"default\"]\n[operations.machine-id]\nmode = \"empty\"\n");
    d.set("etc/machine-id", vec![("machine-id", Effect::Rewritten(Vec::new(), Some(0o444)))]);
    seal_and_compare(&sb, &[&p], &before, &d.expected(&before, &Switches::default_profile()));
    assert_eq!(sb.tree().read("etc/machine-id"), b"");
}

#[test]
fn machine_id_mode_keep_keeps_the_id_and_its_dbus_copy() {
    let (sb, mut d, before) = dirty();
    let p = sb.profile("keep", "extends = [\"default\"]\n[operations.machine-id]\nmode = \"keep\"\n");
    // The id stays, so its D-Bus copy stays consistent with it; the other identity files
    // (credential secret, machine-info, the entry token) are still reset.
    d.set("etc/machine-id", vec![]);
    d.set("var/lib/dbus/machine-id", vec![]);
    seal_and_compare(&sb, &[&p], &before, &d.expected(&before, &Switches::default_profile()));
    assert_eq!(sb.tree().read("etc/machine-id"), format!("{}\n", d.machine_id).as_bytes());
}

#[test]
fn machine_id_is_created_when_missing_and_a_dbus_symlink_stays() {
    let sb = Sandbox::new();
    let t = sb.tree();
    t.dir("etc", 0o755);
    t.symlink("var/lib/dbus/machine-id", "/etc/machine-id");
    let before = sb.snapshot();
    sb.seal(&["minimal"], &[]).code(0);
    let after = sb.snapshot();
    let id = &after[Path::new("etc/machine-id")];
    assert_eq!((id.kind, id.mode, id.uid, id.gid), (common::snapshot::Kind::File, 0o444, 0, 0));
    assert_eq!(t.read("etc/machine-id"), b"uninitialized\n");
    // Apart from the new file, nothing changed: the distribution's symlink is left alone.
    let mut e = Expected::unchanged(&before);
    e.entries.insert("etc/machine-id".into(), (id.clone(), Check::Exact));
    e.receipt();
    e.assert_matches(&after, "machine-id created");
}

#[test]
fn minimal_profile_only_resets_identity() {
    let sb = Sandbox::new();
    let mut d = DirtyRoot::plant(&sb.tree());
    // minimal keeps cloud-init's logs (cloud-init `logs = false`, `logs` off).
    d.plant_cloud_init_logs(&sb.tree());
    let before = sb.snapshot();
    seal_and_compare(&sb, &["minimal"], &before, &d.expected(&before, &Switches::minimal()));
    // Logs, tmp and caches are exactly as they were (checked by the comparison above); say it.
    let t = sb.tree();
    assert!(t.exists("tmp/build.sh") && t.exists("var/log/syslog.1") && t.exists("var/log/cloud-init.log"));
}

#[test]
fn operation_options_change_exactly_their_part() {
    let (sb, d, before) = dirty();
    let p = sb.profile(
        "options",
        "extends = [\"default\"]\n\
         [operations.logs]\njournal = false\n\
         [operations.cloud-init]\nseed = true\nnetwork_config = false\n\
         [operations.network-identity]\nhostname = false\n",
    );
    let on = Switches::default_profile()
        .without(&["logs/journal", "cloud-init/network-config", "network-identity/hostname"])
        .with(&["cloud-init/seed"]);
    seal_and_compare(&sb, &[&p], &before, &d.expected(&before, &on));
}

#[test]
fn cloud_init_removes_its_logs_when_the_logs_operation_is_off() {
    let sb = Sandbox::new();
    let mut d = DirtyRoot::plant(&sb.tree());
    d.plant_cloud_init_logs(&sb.tree());
    let before = sb.snapshot();
    let p = sb.profile("nologs", "extends = [\"default\"]\n[operations.logs]\nenabled = false\n");
    let on = Switches::default_profile().without(&["logs", "logs/journal"]);
    seal_and_compare(&sb, &[&p], &before, &d.expected(&before, &on));
    assert!(!sb.tree().exists("var/log/cloud-init.log"));
}

#[test]
fn cloud_init_logs_are_truncated_like_any_log_when_cloud_init_keeps_them() {
    let sb = Sandbox::new();
    let mut d = DirtyRoot::plant(&sb.tree());
    d.plant_cloud_init_logs(&sb.tree());
    let before = sb.snapshot();
    let p = sb.profile("cilogs", "extends = [\"default\"]\n[operations.cloud-init]\nlogs = false\n");
    let on = Switches::default_profile().without(&["cloud-init/logs"]);
    seal_and_compare(&sb, &[&p], &before, &d.expected(&before, &on));
    assert_eq!(std::fs::metadata(sb.tree().path("var/log/cloud-init.log")).unwrap().len(), 0);
}

/// With the default profile both `logs` (truncate) and `cloud-init` (remove, README) claim
/// cloud-init's logs. One seal must settle it: today the first seal truncates them (`logs`
/// comes first in the catalogue) and the second removes them, so a seal is not idempotent.
#[test]
fn cloud_init_logs_are_removed_by_one_seal_with_default() {
    let sb = Sandbox::new();
    let mut d = DirtyRoot::plant(&sb.tree());
    d.plant_cloud_init_logs(&sb.tree());
    let before = sb.snapshot();
    seal_and_compare(&sb, &["default"], &before, &d.expected(&before, &Switches::default_profile()));
    assert_eq!(actions(&sb.plan_json(&["default"])), vec![], "a second seal has nothing left to do");
}

#[test]
fn generated_network_configs_stay_when_cloud_init_will_not_regenerate_them() {
    for (what, change) in [
        ("network config disabled in cloud.cfg.d", "disabled"),
        ("cloud-init disabled", "cloud-init.disabled"),
        ("cloud-init not installed", "uninstalled"),
    ] {
        let sb = Sandbox::new();
        let d = DirtyRoot::plant(&sb.tree());
        let t = sb.tree();
        match change {
            "disabled" => {
                t.file("etc/cloud/cloud.cfg.d/99-disable-network-config.cfg", "network:\n  config: disabled\n");
            }
            "cloud-init.disabled" => {
                t.file("etc/cloud/cloud-init.disabled", "");
            }
            _ => std::fs::remove_file(t.path("usr/bin/cloud-init")).unwrap(),
        }
        let before = sb.snapshot();
        let on = Switches::default_profile().without(&["cloud-init/network-config"]);
        let mut expected = d.expected(&before, &on);
        sb.seal(&["default"], &[]).code(0);
        expected.receipt();
        expected.assert_matches(&sb.snapshot(), what);
    }
}

#[test]
fn nginx_web_keeps_the_site_even_against_catalogue_operations() {
    let (sb, mut d, before) = dirty();
    let t = sb.tree();
    // www-data's home is /var/www: its histories and keys are artifacts of the catalogue, but
    // nginx-web keeps var/www/**, and keep always wins.
    let kept: Vec<String> = d
        .artifacts
        .iter()
        .map(|a| a.path.to_string_lossy().into_owned())
        .filter(|p| p.starts_with("var/www/"))
        .collect();
    assert!(kept.len() > 10, "the fixture has artifacts in www-data's home");
    for p in &kept {
        d.set(p, vec![]);
    }
    // What nginx-web adds on top of default, planted after the first snapshot.
    t.file("var/cache/nginx/proxy_temp/1/00/0000000001", "cached response");
    t.file("var/lib/nginx/proxy/2/x", "proxied");
    t.file("var/lib/nginx/fastcgi/3/y", "fastcgi");
    t.file("var/lib/nginx/body/keep", "not named by nginx-web");
    let before_nginx = sb.snapshot();
    let mut e = d.expected(&before_nginx, &Switches::default_profile());
    e.empty(Path::new("var/cache/nginx"));
    e.empty(Path::new("var/lib/nginx/proxy"));
    e.empty(Path::new("var/lib/nginx/fastcgi"));
    let link = "etc/systemd/system/multi-user.target.wants/nginx.service";
    e.created(link, Kind::Symlink, 0o777);
    e.created("etc/systemd/system-preset/01-amiprep.preset", Kind::File, 0o644);
    seal_and_compare(&sb, &["nginx-web"], &before_nginx, &e);
    assert_eq!(before[Path::new("var/www/html/index.html")], sb.snapshot()[Path::new("var/www/html/index.html")]);
    assert_eq!(std::fs::read_link(t.path(link)).unwrap(), Path::new("/lib/systemd/system/nginx.service"));
    let preset = String::from_utf8(t.read("etc/systemd/system-preset/01-amiprep.preset")).unwrap();
    assert!(preset.lines().any(|l| l == "enable nginx.service"), "{preset}");
}

/// The `[files]` fixture: build output, caches and logs of an application, plus the files a
/// catalogue operation would clean that a keep rule protects.
fn files_fixture(sb: &Sandbox) {
    let t = sb.tree();
    t.file("opt/app/cache/a/b.bin", "cache");
    t.file("opt/app/cache/c.bin", "cache");
    t.file("opt/app/cache/pinned/model.bin", "keep me");
    t.file("opt/app/cache/pinned/sub/more.bin", "keep me too");
    t.file("opt/app/logs/app.log", "log line\n");
    t.file("opt/app/logs/app.log.txt", "not matched by *.log\n");
    t.file("opt/app/logs/old/app.log", "* stays in one component\n");
    t.file("opt/app/src/main.py", "print()\n");
    t.file("opt/app/src/main.pyc", "bytecode");
    t.file("opt/app/src/keep.pyc", "kept bytecode");
    t.file("usr/lib/python3/x.pyc", "bytecode");
    // The kernel's virtual trees are never walked, even by a glob starting with **.
    t.file("proc/1/x.pyc", "not a real file in a real /proc, never touched");
    t.file("run/y.pyc", "runtime");
    t.file("srv/old-release/bin/app", "old");
    t.file_as("var/app.out", "stdout of the build\n", 0o640, 33, 4);
    t.file("tmp/junk", "junk");
    t.file("tmp/keep-me/important", "kept inside an emptied tmp");
    t.dir("tmp", 0o1777);
    t.file_as("var/log/keep.log", "kept log\n", 0o640, 0, 4);
    t.file_as("var/log/other.log", "truncated log\n", 0o640, 0, 4);
}

const FILES_KEEP: &str =
    "keep = [\"opt/app/cache/pinned/**\", \"**/keep.pyc\", \"tmp/keep-me\", \"var/log/keep.log\"]\n";

/// `[files]`: generic remove and truncate globs, walked from their literal prefix, with keep
/// winning everywhere, including inside a tree being removed and inside catalogue operations.
#[test]
fn files_rules_remove_truncate_and_keep() {
    let sb = Sandbox::new();
    files_fixture(&sb);
    let before = sb.snapshot();
    let p = sb.profile(
        "files",
        &(common::only(&["tmp", "logs"])
            + "[files]\n\
               remove = [\"opt/app/cache/**\", \"srv/old-release\", \"opt/**/*.pyc\", \"usr/lib/*/*.pyc\"]\n\
               truncate = [\"opt/app/logs/*.log\", \"/var/app.out\"]\n"
            + FILES_KEEP),
    );
    let mut e = Expected::unchanged(&before);
    for gone in [
        "opt/app/cache/a",
        "opt/app/cache/c.bin",
        "srv/old-release",
        "opt/app/src/main.pyc",
        "usr/lib/python3/x.pyc",
        "tmp/junk",
    ] {
        e.gone(Path::new(gone));
    }
    for truncated in ["opt/app/logs/app.log", "var/app.out", "var/log/other.log"] {
        e.truncated(Path::new(truncated));
    }
    // Not `seal_and_compare`: the plan also holds an action on opt/app/cache/pinned that can
    // change nothing (see keep_inside_a_removed_tree_plans_no_action_that_changes_nothing).
    // The tree itself must be exactly right.
    let report = sb.seal(&[&p], &["--format", "json"]).code(0).json();
    e.receipt();
    e.assert_matches(&sb.snapshot(), "after seal with [files] rules");
    assert!(report["warnings"].as_array().unwrap().is_empty(), "{}", report["warnings"]);
}

/// When everything left inside a removed tree is kept, the plan must not list that tree:
/// a dry run would announce a removal that never happens, and every later seal repeats it.
#[test]
fn keep_inside_a_removed_tree_plans_no_action_that_changes_nothing() {
    let sb = Sandbox::new();
    files_fixture(&sb);
    let before = sb.snapshot();
    let p = sb.profile("files", &(common::only(&[]) + "[files]\nremove = [\"opt/app/cache/**\"]\n" + FILES_KEEP));
    let mut e = Expected::unchanged(&before);
    e.gone(Path::new("opt/app/cache/a"));
    e.gone(Path::new("opt/app/cache/c.bin"));
    seal_and_compare(&sb, &[&p], &before, &e);
    let again = sb.plan_json(&[&p]);
    assert_eq!(actions(&again), vec![], "a second plan has nothing left to do");
}

/// A glob that starts with a wildcard has an empty literal prefix: it is matched against the
/// whole root (minus the virtual trees), and it must not disturb the other rules.
#[test]
fn files_glob_with_a_leading_wildcard_walks_the_whole_root() {
    let sb = Sandbox::new();
    files_fixture(&sb);
    let before = sb.snapshot();
    let p = sb.profile(
        "files",
        &(common::only(&[])
            + "[files]\n\
               remove = [\"opt/app/cache/**\", \"**/*.pyc\"]\n\
               truncate = [\"opt/app/logs/*.log\"]\n"
            + FILES_KEEP),
    );
    let plan = sb.plan_json(&[&p]);
    assert!(common::warnings(&plan).is_empty(), "{:?}", common::warnings(&plan));
    let mut e = Expected::unchanged(&before);
    for gone in ["opt/app/cache/a", "opt/app/cache/c.bin", "opt/app/src/main.pyc", "usr/lib/python3/x.pyc"] {
        e.gone(Path::new(gone));
    }
    e.truncated(Path::new("opt/app/logs/app.log"));
    seal_and_compare(&sb, &[&p], &before, &e);
}

/// The same rules through the plan: kept entries are counted as such, not as removals.
#[test]
fn plan_counts_kept_entries_apart() {
    let sb = Sandbox::new();
    let t = sb.tree();
    t.file("opt/app/cache/x", "12345");
    t.file("opt/app/cache/pinned/y", "kept");
    let p = sb
        .profile("k", &(common::only(&[]) + "[files]\nremove = [\"opt/app/**\"]\nkeep = [\"opt/app/cache/pinned\"]\n"));
    let plan = sb.plan_json(&[&p]);
    let a = &plan["actions"][0];
    assert_eq!((a["kind"].as_str(), a["path"].as_str()), (Some("remove-tree"), Some("/opt/app/cache")));
    // Only x: pinned (and y inside it) are kept, so the directory holding them stays too.
    assert_eq!((a["entries"].as_u64(), a["bytes"].as_u64()), (Some(1), Some(5)));
    assert!(a["detail"].as_str().unwrap_or("").contains("kept"), "{a}");
    assert_eq!(plan["actions"].as_array().unwrap().len(), 1, "{plan}");
}
