//! `plan` and `seal --dry-run` are read-only: the whole tree, timestamps included, is identical
//! before and after, in both output formats. Also the shape of the JSON reports.

mod common;

use std::collections::BTreeSet;

use common::dirty::DirtyRoot;
use common::snapshot::assert_identical;
use common::{OPERATIONS, Sandbox, actions};
use serde_json::Value;

fn dirty_with_specials() -> Sandbox {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let t = sb.tree();
    // Things a careless dry run could trip over: a FIFO where a log is, a link out of a home.
    t.fifo("var/log/fifo.log");
    t.symlink("home/alice/.mysql_history.old", "/etc/shadow");
    t.file("tmp/\u{e9}t\u{e9}.txt", "utf-8 name");
    sb
}

#[test]
fn plan_and_dry_run_change_nothing_in_any_format() {
    let sb = dirty_with_specials();
    let everything = sb.profile("everything", common::EVERYTHING);
    let before = sb.snapshot();
    for profile in ["default", "minimal", "nginx-web", everything.as_str()] {
        for format in ["text", "json"] {
            let root = sb.root_arg();
            for args in [
                vec!["plan", "--root", root, "-p", profile, "--format", format],
                vec!["seal", "--dry-run", "--root", root, "-p", profile, "--format", format],
                // --dry-run wins over --yes.
                vec!["seal", "--dry-run", "--yes", "--root", root, "-p", profile, "--format", format],
            ] {
                let run = sb.run(&args);
                run.code(0);
                assert!(!run.stdout.is_empty(), "{args:?} printed the plan");
                assert_identical(&before, &sb.snapshot(), &format!("after {args:?}"));
            }
        }
    }
}

#[test]
fn dry_run_prints_the_same_plan_as_plan() {
    let sb = dirty_with_specials();
    let plan = sb.plan(&["default"], &["--format", "json"]).code(0).json();
    let dry = sb.seal(&["default"], &["--dry-run", "--format", "json"]).code(0).json();
    assert_eq!(plan, dry);
    let text = sb.plan(&["default"], &[]).code(0).stdout.clone();
    assert_eq!(text, sb.seal(&["default"], &["--dry-run"]).code(0).stdout);
}

/// Checks the JSON report fields common to plan and seal, and returns the actions.
fn check_report(r: &Value, command: &str, dry_run: bool, sb: &Sandbox) -> Vec<Value> {
    assert_eq!(r["schema_version"], 1, "{r}");
    assert_eq!(r["command"], command);
    assert_eq!(r["dry_run"], dry_run);
    assert_eq!(r["live"], false, "a temp dir is not the running system");
    assert_eq!(r["root"], sb.root_arg());
    assert!(r["amiprep_version"].is_string());
    assert_eq!(r["profiles"], serde_json::json!(["default"]));
    let acts = r["actions"].as_array().expect("actions").clone();
    assert!(acts.len() > 50, "the dirty root needs many actions, got {}", acts.len());
    let known_ops: BTreeSet<&str> = OPERATIONS.iter().copied().chain(["files", "users"]).collect();
    let kinds = ["remove", "remove-tree", "empty", "truncate", "rewrite", "run"];
    let (mut entries, mut bytes) = (0, 0);
    for (i, a) in acts.iter().enumerate() {
        assert_eq!(a["id"].as_u64(), Some(i as u64 + 1), "ids count from 1: {a}");
        assert!(known_ops.contains(a["operation"].as_str().unwrap_or("")), "operation: {a}");
        assert!(kinds.contains(&a["kind"].as_str().unwrap_or("")), "kind: {a}");
        assert_ne!(a["kind"], "run", "nothing is run on an offline root: {a}");
        assert!(a["path"].as_str().is_some_and(|p| p.starts_with('/')), "path: {a}");
        entries += a["entries"].as_u64().unwrap_or_else(|| panic!("entries: {a}"));
        bytes += a["bytes"].as_u64().unwrap_or_else(|| panic!("bytes: {a}"));
    }
    let t = &r["totals"];
    assert_eq!(t["actions"].as_u64(), Some(acts.len() as u64));
    assert_eq!((t["entries"].as_u64(), t["bytes"].as_u64()), (Some(entries), Some(bytes)));
    assert_eq!(t["warnings"].as_u64(), Some(r["warnings"].as_array().expect("warnings").len() as u64));
    let by_op = t["by_operation"].as_array().expect("by_operation");
    let sum = |k: &str| by_op.iter().map(|o| o[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("actions"), sum("entries"), sum("bytes")), (acts.len() as u64, entries, bytes));
    for w in r["warnings"].as_array().unwrap() {
        assert!(w["operation"].is_string() && w["path"].is_string() && w["message"].is_string(), "{w}");
    }
    acts
}

#[test]
fn plan_json_lists_every_action_with_totals() {
    let sb = dirty_with_specials();
    let r = sb.plan_json(&["default"]);
    let acts = check_report(&r, "plan", true, &sb);
    for a in &acts {
        assert!(a.get("outcome").is_none(), "a plan has no outcomes: {a}");
    }
    let t = &r["totals"];
    assert_eq!((t["done"].as_u64(), t["skipped"].as_u64(), t["failed"].as_u64()), (Some(0), Some(0), Some(0)));
    // Spot checks of what the dirty root must produce, one per kind.
    let acts = actions(&r);
    for want in [
        ("ssh-host-keys", "remove", "/etc/ssh/ssh_host_ed25519_key"),
        ("credentials", "remove-tree", "/home/alice/.aws"),
        ("tmp", "empty", "/tmp"),
        ("logs", "truncate", "/var/log/syslog"),
        ("machine-id", "rewrite", "/etc/machine-id"),
    ] {
        let want = (want.0.to_string(), want.1.to_string(), want.2.to_string());
        assert!(acts.contains(&want), "{want:?} not in the plan");
    }
    // A tree action counts what is inside it: tmp holds 13 entries in the fixture (files,
    // directories, the FIFO, sockets, a link), plus the one this test adds. Bytes are file
    // sizes plus link target lengths: 10 + 5 + 1 + 19 ("/nonexistent/target") + 10.
    let tmp = r["actions"].as_array().unwrap().iter().find(|a| a["path"] == "/tmp").unwrap();
    assert_eq!((tmp["entries"].as_u64(), tmp["bytes"].as_u64()), (Some(14), Some(45)), "{tmp}");
}

#[test]
fn seal_json_reports_an_outcome_for_every_action() {
    let sb = dirty_with_specials();
    let plan = sb.plan_json(&["default"]);
    let r = sb.seal(&["default"], &["--format", "json"]).code(0).json();
    let acts = check_report(&r, "seal", false, &sb);
    assert_eq!(actions(&plan), actions(&r), "seal executes exactly the plan");
    let mut counts = [0u64; 3];
    for a in &acts {
        let o = &a["outcome"];
        let i = ["done", "skipped", "failed"]
            .iter()
            .position(|s| o["status"] == *s)
            .unwrap_or_else(|| panic!("status must be done, skipped or failed: {a}"));
        counts[i] += 1;
        assert!(o["entries"].is_u64(), "{a}");
    }
    // Nothing changed between plan and apply and nothing resists: everything is done.
    assert_eq!(counts, [acts.len() as u64, 0, 0], "{r}");
    let t = &r["totals"];
    assert_eq!([t["done"].as_u64(), t["skipped"].as_u64(), t["failed"].as_u64()], counts.map(Some));
}

#[test]
fn text_plan_names_every_path_and_totals() {
    let sb = dirty_with_specials();
    let json = sb.plan_json(&["default"]);
    let text = sb.plan(&["default"], &[]).code(0).stdout.clone();
    assert!(text.contains("an offline root"), "{text}");
    for (op, kind, path) in actions(&json) {
        let line = text
            .lines()
            .find(|l| l.ends_with(&format!(" {path}")) && l.starts_with(&kind))
            .unwrap_or_else(|| panic!("no `{kind} ... {path}` line in the text plan:\n{text}"));
        assert!(line.contains(&op), "{line}");
    }
    let n = json["actions"].as_array().unwrap().len();
    assert!(text.contains(&format!("total: {n} actions would change")), "{text}");
    let sealed = sb.seal(&["default"], &[]).code(0).stdout.clone();
    assert!(sealed.contains(&format!("total: {n} actions changed")), "{sealed}");
    assert_eq!(sealed.lines().filter(|l| l.starts_with("done ")).count(), n, "{sealed}");
}

#[test]
fn a_clean_tree_has_an_empty_plan() {
    let sb = Sandbox::new();
    let t = sb.tree();
    t.file("etc/machine-id", "uninitialized\n");
    std::fs::set_permissions(t.path("etc/machine-id"), std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
    t.dir("tmp", 0o1777);
    let r = sb.plan_json(&["default"]);
    assert_eq!(actions(&r), vec![]);
    assert_eq!(r["totals"]["actions"], 0);
    let text = sb.plan(&["default"], &[]).code(0).stdout.clone();
    assert!(text.contains("nothing to do"), "{text}");
}
