//! Unit tests of profile loading, merging and error reporting.

use std::io::Write;

use super::*;

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::File::create(&p).unwrap().write_all(text.as_bytes()).unwrap();
    p.display().to_string()
}

#[test]
fn builtins_parse_and_default_matches_the_catalogue() {
    for (name, _) in BUILTINS {
        load(&[name.to_string()]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let d = load(&[]).unwrap();
    for op in crate::ops::CATALOGUE {
        assert_eq!(d.is_enabled(op.id), op.default_on, "default.toml and the catalogue disagree on {}", op.id);
    }
    let m = load(&["minimal".into()]).unwrap();
    let on: Vec<_> = m.enabled.iter().filter(|(_, on)| **on).map(|(id, _)| *id).collect();
    assert_eq!(on, ["authorized-keys", "cloud-init", "machine-id", "shell-history", "ssh-host-keys"]);
}

#[test]
fn child_overrides_scalars_and_appends_lists() {
    let t = tempfile::tempdir().unwrap();
    let _parent = file(
        &t,
        "parent.toml",
        "extends = [\"default\"]\n[files]\nremove = [\"opt/a/**\"]\n[operations.machine-id]\nmode = \"empty\"\n",
    );
    let child = file(
        &t,
        "child.toml",
        "extends = [\"parent.toml\"]\n[files]\nremove = [\"opt/b/**\", \"opt/a/**\"]\n[operations.tmp]\nenabled = false\n",
    );
    let r = load(&[child]).unwrap();
    assert_eq!(r.remove.iter().map(|r| r.glob.as_str()).collect::<Vec<_>>(), ["opt/a/**", "opt/b/**"]);
    assert_eq!(r.machine_id_mode, schema::MachineIdMode::Empty);
    assert!(!r.is_enabled("tmp"));
    assert!(r.is_enabled("logs"));
    assert_eq!(r.chain.len(), 3);
}

#[test]
fn later_profiles_on_the_command_line_win() {
    let r = load(&["default".into(), "minimal".into()]).unwrap();
    assert!(!r.is_enabled("tmp"));
    let r = load(&["minimal".into(), "default".into()]).unwrap();
    assert!(r.is_enabled("tmp"));
}

#[test]
fn unknown_key_names_file_line_and_column() {
    let t = tempfile::tempdir().unwrap();
    let p = file(&t, "bad.toml", "description = \"x\"\n\n[operations.tmp]\nenabeld = true\n");
    let e = load(std::slice::from_ref(&p)).unwrap_err();
    assert_eq!(e.file, p);
    assert_eq!(e.at, Some((4, 1)));
    assert!(e.message.contains("unknown field `enabeld`"), "{}", e.message);
    assert!(e.hint.is_some());
}

#[test]
fn bad_glob_is_located() {
    let t = tempfile::tempdir().unwrap();
    let p = file(&t, "g.toml", "[files]\nremove = [\n  \"ok/**\",\n  \"bad/[x\",\n]\n");
    let e = load(&[p]).unwrap_err();
    assert_eq!(e.at, Some((4, 3)));
    assert!(e.message.contains("bad glob"), "{}", e.message);
}

#[test]
fn cycles_and_missing_parents() {
    let t = tempfile::tempdir().unwrap();
    let a = file(&t, "a.toml", "extends = [\"b.toml\"]\n");
    file(&t, "b.toml", "extends = [\"a.toml\"]\n");
    let e = load(&[a]).unwrap_err();
    assert!(e.message.contains("extends cycle"), "{}", e.message);
    let m = file(&t, "m.toml", "\nextends = [\"nope\"]\n");
    let e = load(&[m]).unwrap_err();
    assert_eq!(e.at, Some((2, 12)));
    assert!(e.message.contains("no profile named"), "{}", e.message);
}

#[test]
fn resolved_rendering_is_itself_a_valid_profile() {
    let r = load(&["nginx-web".into()]).unwrap();
    let text = render_resolved(&r);
    let t = tempfile::tempdir().unwrap();
    let p = file(&t, "resolved.toml", &text);
    let again = load(&[p]).unwrap();
    assert_eq!(again.enabled, r.enabled);
    assert_eq!(
        again.keep.iter().map(|r| &r.glob).collect::<Vec<_>>(),
        r.keep.iter().map(|r| &r.glob).collect::<Vec<_>>()
    );
}
