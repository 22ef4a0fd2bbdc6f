//! Opt-in remediation (`seal --remediate`, or `[checks] remediate = true`): the failing parts
//! of the `auto` checks become ordinary plan actions, so they are shown by a dry run, applied by
//! the same executor, and every edit is an atomic replace that keeps owner, mode and xattrs.
//!
//! Only what is safe is done: file modes and owners; a sysctl drop-in; a modprobe drop-in; an
//! sshd drop-in (or, when the main file would shadow it, lines at the top of sshd_config),
//! replaced only after `sshd -t` accepts the resulting configuration; login.defs values.
//! `PasswordAuthentication no` is refused when no account would have a key-based way in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::catalogue::{Fix, Style, Test};
use super::env::Env;
use super::primitives::key_matches;
use super::{Status, select};
use crate::plan::Planner;
use crate::profile::Resolved;
use crate::root::show;

pub const SYSCTL_DROPIN: &str = "etc/sysctl.d/60-amiprep-hardening.conf";
pub const MODPROBE_DROPIN: &str = "etc/modprobe.d/60-amiprep-hardening.conf";
pub const SSHD_DROPIN: &str = "etc/ssh/sshd_config.d/00-amiprep-hardening.conf";
const SSHD_CONFIG: &str = "etc/ssh/sshd_config";
const LOGIN_DEFS: &str = "etc/login.defs";

/// A remediation amiprep would not do, and why: reported with the check after the seal.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refusal {
    pub check: String,
    pub reason: String,
}

/// The fixes collected from the failing checks, grouped by the file they go to.
#[derive(Default)]
struct Fixes {
    modes: Vec<(PathBuf, u32, u32, u32, &'static str)>,
    sysctl: BTreeMap<String, String>,
    modules: Vec<String>,
    /// sshd keyword (lowercase) -> (value, check id).
    sshd: BTreeMap<String, (String, &'static str)>,
    login_defs: BTreeMap<String, String>,
}

/// Plans the remediation of every failing `auto` check the profile selects (plus `extra`).
/// Call after the cleanup operations are planned: a key file the plan removes does not count as
/// a way in.
pub fn plan(p: &mut Planner<'_>, profile: &Resolved, extra: &[String]) -> Vec<Refusal> {
    p.begin("remediate");
    let settings = &profile.checks;
    let names: Vec<&str> = settings.include.iter().chain(extra).map(String::as_str).collect();
    let checks = select(names, &settings.skip);
    let env = Env::new(p.root, settings, profile.machine_id_mode);
    let mut fixes = Fixes::default();
    if !checks.iter().any(|c| matches!(c.fix, Fix::Auto)) {
        p.warn(
            PathBuf::new(),
            "nothing to remediate: the profile selects no check amiprep can fix; add \"cis-level1\" to [checks] include",
        );
    }
    for c in checks.iter().filter(|c| matches!(c.fix, Fix::Auto)) {
        if c.family.is_some_and(|f| f != env.os.family) || (c.host_only && env.container) {
            continue;
        }
        collect(&env, &c.test, c.id, &mut fixes);
    }
    let mut refusals = Vec::new();
    plan_modes(p, &fixes);
    plan_sysctl(p, &env, &fixes, &mut refusals);
    plan_modules(p, &fixes);
    plan_login_defs(p, &fixes);
    plan_sshd(p, &env, &mut fixes, &mut refusals);
    for r in &refusals {
        p.warn(PathBuf::from(&r.check), format!("remediation refused: {}", r.reason));
    }
    refusals
}

/// Adds the fixes for the failing parts of `t`.
fn collect(env: &Env<'_>, t: &Test, id: &'static str, f: &mut Fixes) {
    match t {
        Test::All(parts) => parts.iter().for_each(|p| collect(env, p, id, f)),
        Test::When { cond, then, .. } if env.eval(cond).status == Status::Pass => collect(env, then, id, f),
        Test::When { .. } => {}
        Test::ByFamily { debian, rhel } => match env.os.family {
            super::Family::Debian => collect(env, debian, id, f),
            super::Family::Rhel => collect(env, rhel, id, f),
            super::Family::Other => {}
        },
        Test::Live(t) if env.live => collect(env, t, id, f),
        _ if env.eval(t).status != Status::Fail => {}
        Test::Mode { path, max, need, owner, group, .. } => {
            let uids: Vec<u32> = owner.iter().filter_map(|n| env.uid_of(n)).collect();
            let gids: Vec<u32> = group.iter().filter_map(|n| env.gid_of(n)).collect();
            let (Some(&uid0), Some(&gid0)) = (uids.first(), gids.first()) else { return };
            for rel in env.expand(path) {
                let Ok(st) = env.root.stat_config(&rel) else { continue };
                let mode = (st.st_mode & 0o7777 & max) | need;
                let uid = if uids.contains(&st.st_uid) { st.st_uid } else { uid0 };
                let gid = if gids.contains(&st.st_gid) { st.st_gid } else { gid0 };
                f.modes.push((rel, mode, uid, gid, id));
            }
        }
        Test::Sysctl { key, want } => {
            if let Some(v) = want.fix_value(env.settings) {
                f.sysctl.insert(key.to_string(), v);
            }
        }
        Test::Module(m) => f.modules.push(m.to_string()),
        Test::Sshd { key, want } => {
            if let Some(v) = want.fix_value(env.settings) {
                f.sshd.insert(key.to_string(), (v, id));
            }
        }
        Test::Setting { files, key, style: Style::Words, want, .. } if *files == [LOGIN_DEFS] => {
            if let Some(v) = want.fix_value(env.settings) {
                f.login_defs.insert(key.to_string(), v);
            }
        }
        _ => {}
    }
}

fn plan_modes(p: &mut Planner<'_>, f: &Fixes) {
    for (rel, mode, uid, gid, id) in &f.modes {
        p.chmod(rel, *mode, *uid, *gid, format!("{id}: mode {mode:04o}, owner {uid}:{gid}"));
    }
}

/// Reads `key = value` lines of one of our drop-ins, to merge with new values.
fn read_assignments(text: &str, sep: char) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(sep).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect()
}

fn plan_sysctl(p: &mut Planner<'_>, env: &Env<'_>, f: &Fixes, refusals: &mut Vec<Refusal>) {
    if f.sysctl.is_empty() {
        return;
    }
    let rel = Path::new(SYSCTL_DROPIN);
    let old = p.read_for_edit(rel);
    let mut values: BTreeMap<String, String> = old
        .as_ref()
        .map(|(_, d)| read_assignments(&String::from_utf8_lossy(d), '='))
        .unwrap_or_default()
        .into_iter()
        .collect();
    values.extend(f.sysctl.clone());
    let mut text = String::from("# Written by amiprep seal --remediate: kernel settings of the hardening audit.\n");
    for (k, v) in &values {
        text.push_str(&format!("{k} = {v}\n"));
    }
    let keys = f.sysctl.keys().cloned().collect::<Vec<_>>().join(", ");
    p.rewrite(
        rel,
        old.as_ref().map(|(st, d)| (st, d.as_slice())),
        text.into_bytes(),
        Some(0o644),
        format!("sysctl drop-in: {keys}"),
    );
    // Files read after the drop-in that set a wrong value would still win: in /etc they are
    // the administrator's and are commented out with a note; vendor files are reported.
    let ours = "60-amiprep-hardening.conf";
    let mut edits: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for l in env.sysctl_lines() {
        let Some(want) = f.sysctl.iter().find(|(k, _)| key_matches(&l.key, k)).map(|(_, v)| v) else { continue };
        let name = l.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let later = l.file == Path::new("etc/sysctl.conf") || name.as_str() > ours;
        if !later || l.value == *want || l.file == rel {
            continue;
        }
        if l.file.starts_with("etc") {
            edits.entry(l.file.clone()).or_default().push(l.line);
        } else {
            refusals.push(Refusal {
                check: "sysctl".into(),
                reason: format!("{}:{} sets {} = {} after amiprep's drop-in; vendor files are not edited: override it with a file of the same name in /etc/sysctl.d", show(&l.file), l.line, l.key, l.value),
            });
        }
    }
    for (file, lines) in edits {
        let Some((st, data)) = p.read_for_edit(&file) else { continue };
        let text = String::from_utf8_lossy(&data);
        let mut out = String::new();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            if lines.contains(&(i + 1)) {
                out.push_str(&format!("# amiprep: overridden by /{SYSCTL_DROPIN}: {line}"));
            } else {
                out.push_str(line);
            }
        }
        p.rewrite(
            &file,
            Some((&st, &data)),
            out.into_bytes(),
            None,
            format!("comment out {} lines that override the hardening drop-in", lines.len()),
        );
    }
    if env.live && !env.container {
        p.run(
            vec!["sysctl".into(), "-q".into(), "-p".into(), format!("/{SYSCTL_DROPIN}")],
            "apply the hardening sysctl values now, not only at the next boot".into(),
            &[],
        );
    }
}

fn plan_modules(p: &mut Planner<'_>, f: &Fixes) {
    if f.modules.is_empty() {
        return;
    }
    let rel = Path::new(MODPROBE_DROPIN);
    let old = p.read_for_edit(rel);
    let mut text = match &old {
        Some((_, d)) => String::from_utf8_lossy(d).into_owned(),
        None => "# Written by amiprep seal --remediate: kernel modules the hardening audit disables.\n".into(),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    for m in &f.modules {
        for line in [format!("install {m} /bin/false"), format!("blacklist {m}")] {
            if !text.lines().any(|l| l.trim() == line) {
                text.push_str(&line);
                text.push('\n');
            }
        }
    }
    let detail =
        format!("modprobe drop-in: {} (modules already loaded stay loaded until reboot)", f.modules.join(", "));
    p.rewrite(rel, old.as_ref().map(|(st, d)| (st, d.as_slice())), text.into_bytes(), Some(0o644), detail);
}

fn plan_login_defs(p: &mut Planner<'_>, f: &Fixes) {
    if f.login_defs.is_empty() {
        return;
    }
    let rel = Path::new(LOGIN_DEFS);
    let Some((st, data)) = p.read_for_edit(rel) else {
        p.warn(rel, "login.defs does not exist; not created (shadow-utils owns it)");
        return;
    };
    let text = String::from_utf8_lossy(&data);
    let mut out = String::new();
    let mut done: Vec<&String> = Vec::new();
    for line in text.split_inclusive('\n') {
        let key = line.split_whitespace().next().unwrap_or("");
        match f.login_defs.get_key_value(key) {
            Some((k, v)) if !line.trim_start().starts_with('#') => {
                out.push_str(&format!("{k}\t{v}\n"));
                done.push(k);
            }
            _ => out.push_str(line),
        }
    }
    for (k, v) in &f.login_defs {
        if !done.contains(&k) {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("{k}\t{v}\n"));
        }
    }
    let keys = f.login_defs.keys().cloned().collect::<Vec<_>>().join(", ");
    p.rewrite(rel, Some((&st, &data)), out.into_bytes(), None, format!("login.defs: {keys}"));
}

/// sshd's spelling of the keywords amiprep writes (sshd_config keywords are case-insensitive;
/// this is only for people reading the file).
fn sshd_keyword(k: &str) -> String {
    const NAMES: &[&str] = &[
        "PermitRootLogin",
        "PermitEmptyPasswords",
        "MaxAuthTries",
        "HostbasedAuthentication",
        "IgnoreRhosts",
        "PermitUserEnvironment",
        "LoginGraceTime",
        "ClientAliveInterval",
        "ClientAliveCountMax",
        "MaxStartups",
        "MaxSessions",
        "LogLevel",
        "UsePAM",
        "X11Forwarding",
        "PasswordAuthentication",
    ];
    NAMES.iter().find(|n| n.eq_ignore_ascii_case(k)).map_or_else(|| k.to_string(), |n| n.to_string())
}

fn plan_sshd(p: &mut Planner<'_>, env: &Env<'_>, f: &mut Fixes, refusals: &mut Vec<Refusal>) {
    if let Some((v, id)) = f.sshd.get("passwordauthentication").cloned() {
        if v == "no" {
            if let Err(why) = key_login_possible(p, env) {
                f.sshd.remove("passwordauthentication");
                refusals.push(Refusal {
                    check: id.into(),
                    reason: format!("PasswordAuthentication no would remove the last way in: {why}"),
                });
            }
        }
    }
    if f.sshd.is_empty() {
        return;
    }
    // A value in a `Match all` block beats every global line, so neither a drop-in nor the
    // top of sshd_config would change it: that is for a person to edit.
    let config = env.sshd();
    let decided_in_match: Vec<String> =
        f.sshd.keys().filter(|k| config.deciding(k).is_some_and(|d| d.match_all)).cloned().collect();
    for k in decided_in_match {
        if let Some((_, id)) = f.sshd.remove(&k) {
            let d = config.deciding(&k).expect("just found");
            refusals.push(Refusal {
                check: id.into(),
                reason: format!(
                    "{} is set in a `Match all` block at {}:{}; edit it there",
                    sshd_keyword(&k),
                    show(&d.file),
                    d.line
                ),
            });
        }
    }
    if f.sshd.is_empty() {
        return;
    }
    // sshd prints `without-password` for what is written `prohibit-password`.
    let lines: String = f
        .sshd
        .iter()
        .map(|(k, (v, _))| {
            format!("{} {}\n", sshd_keyword(k), if v == "without-password" { "prohibit-password" } else { v })
        })
        .collect();
    let dropin = Path::new(SSHD_DROPIN);
    let keys = f.sshd.keys().map(|k| sshd_keyword(k)).collect::<Vec<_>>().join(", ");
    let header = "# Written by amiprep seal --remediate (hardening audit). sshd keeps the first value it reads.\n";
    if dropin_is_read_first(env, f) {
        let old = p.read_for_edit(dropin);
        let mut merged: BTreeMap<String, String> = old
            .as_ref()
            .map(|(_, d)| {
                String::from_utf8_lossy(d)
                    .lines()
                    .filter(|l| !l.trim_start().starts_with('#'))
                    .filter_map(|l| {
                        l.trim()
                            .split_once(char::is_whitespace)
                            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (k, (v, _)) in &f.sshd {
            merged.insert(k.clone(), if v == "without-password" { "prohibit-password".into() } else { v.clone() });
        }
        let body: String = merged.iter().map(|(k, v)| format!("{} {v}\n", sshd_keyword(k))).collect();
        let text = format!("{header}{body}");
        p.rewrite_sshd(
            dropin,
            old.as_ref().map(|(st, d)| (st, d.as_slice())),
            text.into_bytes(),
            format!("sshd drop-in: {keys} (checked with sshd -t first)"),
        );
    } else {
        let rel = Path::new(SSHD_CONFIG);
        let Some((st, data)) = p.read_for_edit(rel) else { return };
        let mut text = format!("{header}{lines}\n").into_bytes();
        text.extend_from_slice(&data);
        p.rewrite_sshd(
            rel,
            Some((&st, &data)),
            text,
            format!("sshd_config: {keys} at the top (checked with sshd -t first)"),
        );
    }
}

/// True when our drop-in would be read before any global setting of the keys it sets: the
/// main file includes `sshd_config.d/*.conf` and every existing setting of those keys comes
/// after that Include (later in the main file, or in a drop-in named after ours).
fn dropin_is_read_first(env: &Env<'_>, f: &Fixes) -> bool {
    let Ok(Some(main)) = env.root.read_config_opt(Path::new(SSHD_CONFIG)) else { return false };
    let ours = format!("/{SSHD_DROPIN}");
    let mut include_line = None;
    for (i, line) in String::from_utf8_lossy(&main).lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first().map(|w| w.to_ascii_lowercase()) {
            Some(w) if w == "match" => break,
            Some(w) if w == "include" => {
                let hit = words[1..].iter().any(|pat| {
                    let full = if pat.starts_with('/') { pat.to_string() } else { format!("/etc/ssh/{pat}") };
                    crate::profile::glob(&full)
                        .is_ok_and(|g| g.compile_matcher().is_match(ours.trim_start_matches('/')))
                });
                if hit {
                    include_line = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(at) = include_line else { return false };
    let dropin_name = Path::new(SSHD_DROPIN).file_name().unwrap_or_default();
    f.sshd.keys().all(|k| match env.sshd().first_global(k) {
        None => true,
        Some(d) if d.file == Path::new(SSHD_CONFIG) => d.line > at,
        Some(d) if d.file == Path::new(SSHD_DROPIN) => true,
        Some(d) => {
            d.file.parent() == Path::new(SSHD_DROPIN).parent() && d.file.file_name().unwrap_or_default() > dropin_name
        }
    })
}

/// Whether someone could still log in with a key once password logins are off: public keys
/// are on, and keys come from an AuthorizedKeysCommand, from cloud-init at first boot, or from
/// an authorized keys file of a login account that this seal does not remove.
fn key_login_possible(p: &Planner<'_>, env: &Env<'_>) -> Result<(), String> {
    let config = env.sshd();
    let pubkey = config.effective("pubkeyauthentication").map(|v| v.value).unwrap_or_default();
    if pubkey != "yes" {
        return Err("PubkeyAuthentication is off".into());
    }
    if config.effective("authorizedkeyscommand").is_some_and(|v| v.value != "none") {
        return Ok(());
    }
    if env.root.exists(Path::new("etc/cloud/cloud.cfg")) && !env.root.exists(Path::new("etc/cloud/cloud-init.disabled"))
    {
        return Ok(());
    }
    let patterns = config.effective("authorizedkeysfile").map(|v| v.value).unwrap_or_default();
    for u in env.users() {
        if u.shell.ends_with("nologin") || u.shell.ends_with("false") {
            continue;
        }
        for pat in patterns.split_whitespace().filter(|p| *p != "none") {
            let Some(path) = crate::ops::ssh::expand(pat, &u.name, u.uid, &u.home) else { continue };
            let Ok(rel) = crate::root::rel(&path) else { continue };
            let has_keys = env.root.stat_config(&rel).is_ok_and(|st| st.st_size > 0);
            if has_keys && !p.removes(&rel) {
                return Ok(());
            }
        }
    }
    Err("no login account keeps an authorized keys file after this seal, there is no AuthorizedKeysCommand and cloud-init is not installed to add keys at boot".into())
}
