//! The readiness signal: the receipt a seal leaves, the READY line, what is skipped under
//! `--root`, and the shipped systemd units passing `systemd-analyze verify`.

mod common;

use std::path::Path;

use common::Sandbox;
use common::dirty::DirtyRoot;

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().expect("sha256sum (coreutils)");
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[test]
fn a_seal_leaves_a_receipt_that_the_json_report_and_the_ready_line_quote() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let run = sb.seal(&["nginx-web"], &["--format", "json"]);
    run.code(0);
    let r = run.json();
    let s = &r["signal"];
    let file = sb.tree().path("var/lib/amiprep/receipt.json");
    let receipt: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(s["receipt"], receipt, "stdout carries the receipt exactly as written");
    let sha = sha256(&file);
    assert_eq!(s["receipt_sha256"], sha);
    assert_eq!(s["ready"], true);
    let actions = r["totals"]["actions"].as_u64().unwrap();
    assert_eq!(
        s["line"],
        format!("amiprep: READY-FOR-IMAGE profile=nginx-web receipt=sha256:{sha} actions={actions} failed=0")
    );

    assert_eq!(receipt["schema_version"], 1);
    assert_eq!(receipt["amiprep_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(receipt["ready"], true);
    assert!(receipt.get("reason").is_none(), "{receipt}");
    assert_eq!(receipt["profiles"], serde_json::json!(["nginx-web"]));
    let at = receipt["sealed_at"].as_str().unwrap();
    assert!(at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T', "RFC 3339 UTC: {at}");
    for k in ["actions", "entries", "bytes", "done", "skipped", "failed", "warnings"] {
        assert_eq!(receipt["totals"][k], r["totals"][k], "totals.{k}");
    }
    let ops: Vec<&str> =
        receipt["by_operation"].as_array().unwrap().iter().map(|o| o["operation"].as_str().unwrap()).collect();
    let report_ops: Vec<&str> =
        r["totals"]["by_operation"].as_array().unwrap().iter().map(|o| o["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, report_ops);
    assert_eq!(
        receipt["services"],
        serde_json::json!([{"unit": "nginx.service", "action": "enable", "was": "disabled"}])
    );
    assert_eq!(receipt["firstboot"], serde_json::json!({"host_keys": true, "host_key_types": [], "start": []}));
    assert_eq!(
        std::fs::metadata(&file).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777).unwrap(),
        0o644
    );

    // Steps in order; under --root the machine's own consoles, systemd and power are not touched.
    let steps: Vec<(String, String)> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["step"].as_str().unwrap().to_string(), x["status"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(String, String)> =
        [("sync", "done"), ("receipt", "done"), ("console", "skipped"), ("notify", "skipped"), ("then", "skipped")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
    assert_eq!(steps, want);

    // The same settings reached another way hash the same.
    let p = sb.profile("mine", "extends = [\"nginx-web\"]\n");
    sb.seal(&[&p], &[]).code(0);
    let again: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(again["profile_sha256"], receipt["profile_sha256"]);
    assert_eq!(again["profiles"], serde_json::json!([p]));
    let other = sb.profile("other", "extends = [\"nginx-web\"]\n[operations.tmp]\nenabled = false\n");
    sb.seal(&[&other], &[]).code(0);
    let third: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_ne!(third["profile_sha256"], receipt["profile_sha256"]);
}

#[test]
fn the_ready_line_is_the_last_line_of_a_text_seal_and_then_is_skipped_offline() {
    let sb = Sandbox::new();
    DirtyRoot::plant(&sb.tree());
    let run = sb.seal(&["default"], &["--then", "poweroff"]);
    run.code(0);
    let last = run.stdout.lines().last().unwrap();
    let sha = sha256(&sb.tree().path("var/lib/amiprep/receipt.json"));
    assert!(last.starts_with(&format!("amiprep: READY-FOR-IMAGE profile=default receipt=sha256:{sha} ")), "{last}");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("then") && l.contains("skipped") && l.contains("offline root")),
        "{}",
        run.stdout
    );
    // The profile's `then` is overridden by the flag, and both are checked values.
    let bad = sb.seal(&["default"], &["--then", "halt"]);
    bad.code(2);
}

#[test]
fn shipped_units_pass_systemd_analyze_verify() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd");
    let tmp = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("amiprep");
    let mut units = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "service" || x == "timer" || x == "target") {
            // verify checks that ExecStart exists: point it at the binary just built.
            let text = std::fs::read_to_string(&p).unwrap().replace("/usr/bin/amiprep", bin.to_str().unwrap());
            let copy = tmp.path().join(p.file_name().unwrap());
            std::fs::write(&copy, text).unwrap();
            units.push(copy);
        }
    }
    assert!(!units.is_empty(), "no units in {}", dir.display());
    let Ok(out) = std::process::Command::new("systemd-analyze").arg("verify").arg("--man=no").args(&units).output()
    else {
        panic!("systemd-analyze is needed (package systemd; .ci/run installs it)");
    };
    // verify exits 0 even for unknown keys, so any message at all is a failure.
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && msg.trim().is_empty(), "systemd-analyze verify:\n{msg}");
}

/// Runs `amiprep plan` on the live system (read-only) from an interactive bash on a pty.
fn plan_from_interactive_bash(sb: &Sandbox, profile: &str) -> String {
    // Through the cross runner (qemu) when the tests use one.
    let bin = common::amiprep_argv().join(" ");
    // `; true` keeps bash from exec'ing amiprep in its place: bash must be the parent.
    let inner = format!("AMIPREP_PROFILE_PATH={} {bin} plan -p {profile}; true", sb.profiles.display());
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("bash --norc --noprofile -i -c '{inner}'"), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux/bsdutils) is needed to give bash a terminal");
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

#[test]
fn a_plan_from_an_interactive_shell_warns_that_its_history_will_be_written_back() {
    let sb = Sandbox::new();
    let p = sb.profile("nothing", &common::only(&[]));
    let out = plan_from_interactive_bash(&sb, &p);
    assert!(
        out.contains("this runs from an interactive bash (pid ")
            && out.contains("--then poweroff, or run `unset HISTFILE`"),
        "{out}"
    );
    // Powering off after the seal is the remedy, so with it there is nothing to warn about.
    let off = sb.profile("off", &(common::only(&[]) + "[signal]\nthen = \"poweroff\"\n"));
    let out = plan_from_interactive_bash(&sb, &off);
    assert!(out.contains("amiprep plan") && !out.contains("interactive bash"), "{out}");
}
