//! The typed primitives: how each kind of [`Test`] is evaluated against the root, read-only,
//! with evidence (expected, actual, where it was read) for every verdict.

use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use super::catalogue::{AccountRule, ImageRule, Missing, Num, ScanRule, ServiceState, Style, Test, Want};
use super::env::{Env, Family, Mount};
use super::scan::Found;
use super::{Evidence, Outcome, Settings, Status};
use crate::root::{self, show};

/// Paths listed in one piece of evidence before the rest are only counted.
const SHOW: usize = 20;

impl Env<'_> {
    pub fn eval(&self, t: &Test) -> Outcome {
        match t {
            Test::Mode { path, max, need, owner, group, missing } => {
                self.mode(path, *max, *need, owner, group, *missing)
            }
            Test::Absent(paths) => self.absent(paths),
            Test::Present(p) => {
                let ok = self.root.exists(Path::new(p));
                Outcome::verdict(
                    ok,
                    vec![Evidence::new("present", if ok { "present" } else { "absent" }, format!("/{p}"))],
                )
            }
            Test::Content { paths, pattern, want } => self.content(paths, pattern, *want),
            Test::Sysctl { key, want } => self.sysctl(key, want),
            Test::Module(m) => self.module(m),
            Test::SeparateMount(p) => self.separate_mount(p),
            Test::MountOption { path, option } => self.mount_option(path, option),
            Test::Packages { names, installed } => self.packages_test(names, *installed),
            Test::Service { units, state } => self.service(units, *state),
            Test::OneEnabled(groups) => self.one_enabled(groups),
            Test::Setting { files, key, style, default, want } => self.setting(files, key, *style, *default, want),
            Test::Sshd { key, want } => self.sshd_option(key, want),
            Test::Accounts(rule) => self.accounts(*rule),
            Test::Scan(rule) => self.scan_rule(*rule),
            Test::Image(rule) => self.image(*rule),
            Test::All(parts) => all(parts.iter().map(|p| self.eval(p)).collect()),
            Test::Any(parts) => any(parts.iter().map(|p| self.eval(p)).collect()),
            Test::When { cond, then, otherwise } => match self.eval(cond).status {
                Status::Pass => self.eval(then),
                Status::Error => self.eval(cond),
                _ => Outcome::na(*otherwise),
            },
            Test::ByFamily { debian, rhel } => match self.os.family {
                Family::Debian => self.eval(debian),
                Family::Rhel => self.eval(rhel),
                Family::Other => Outcome::na(format!(
                    "no rule for this OS ({}): only the Debian and RHEL families are known",
                    if self.os.id.is_empty() { "no os-release" } else { &self.os.id }
                )),
            },
            Test::Live(t) => {
                if self.live {
                    self.eval(t)
                } else {
                    Outcome::na("a property of the running system; not visible in an offline --root audit")
                }
            }
        }
    }

    /// Expands a root-relative path whose last component may be a glob into the existing
    /// paths it names (sorted). A plain path is returned whether or not it exists.
    pub fn expand(&self, pattern: &str) -> Vec<PathBuf> {
        let rel = Path::new(pattern);
        let (Some(dir), Some(name)) = (rel.parent(), rel.file_name()) else { return vec![rel.to_path_buf()] };
        let name = name.to_string_lossy();
        if !name.contains(['*', '?', '[']) {
            return vec![rel.to_path_buf()];
        }
        let Ok(m) = crate::profile::glob(&name).map(|g| g.compile_matcher()) else { return Vec::new() };
        // The directory is listed without following links: what a symlinked `instances/`
        // points at is not cloud-init's state, and a sealed image is judged by what is there.
        let Ok(fd) = self.root.open_dir(dir) else { return Vec::new() };
        let Ok(entries) = rustix::fs::Dir::new(fd) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| String::from_utf8_lossy(e.file_name().to_bytes()).into_owned())
            .filter(|n| n != "." && n != ".." && m.is_match(n))
            .collect();
        names.sort();
        names.into_iter().map(|n| dir.join(n)).collect()
    }

    fn mode(&self, pattern: &str, max: u32, need: u32, owner: &[&str], group: &[&str], missing: Missing) -> Outcome {
        let expected = format!(
            "mode at most {max:04o}{}, owner {}, group {}",
            if need != 0 { format!(" with {need:04o} set") } else { String::new() },
            owner.join("|"),
            group.join("|")
        );
        let mut evidence = Vec::new();
        let mut ok = true;
        let mut seen = 0;
        for rel in self.expand(pattern) {
            let st = match self.root.stat_config(&rel) {
                Ok(st) => st,
                Err(e) if root::is_absent(&e) => continue,
                Err(e) => return Outcome::error(format!("cannot stat {}: {e}", show(&rel))),
            };
            seen += 1;
            let mode = st.st_mode & 0o7777;
            let uids: Vec<u32> = owner.iter().filter_map(|n| self.uid_of(n)).collect();
            let gids: Vec<u32> = group.iter().filter_map(|n| self.gid_of(n)).collect();
            let good =
                mode & !max == 0 && mode & need == need && uids.contains(&st.st_uid) && gids.contains(&st.st_gid);
            ok &= good;
            let actual = format!("{mode:04o} {}:{}", self.user_name(st.st_uid), self.group_name(st.st_gid));
            evidence.push(Evidence::new(expected.clone(), actual, show(&rel)));
        }
        if seen > 0 {
            return Outcome::verdict(ok, evidence);
        }
        let ev = vec![Evidence::new(expected, "absent", format!("/{pattern}"))];
        match missing {
            Missing::Pass => Outcome::pass(ev),
            Missing::Fail => Outcome::fail(ev).with_reason("the file does not exist"),
            Missing::NotApplicable => Outcome::na(format!("/{pattern} does not exist")),
        }
    }

    fn absent(&self, patterns: &[&str]) -> Outcome {
        let mut found = Vec::new();
        for p in patterns {
            for rel in self.expand(p) {
                match self.root.lstat_opt(&rel) {
                    Ok(Some(_)) => found.push(rel),
                    Ok(None) => {}
                    // A symlink on the way is refused by lstat: then the path is there if it
                    // resolves (inside the root) to something.
                    Err(e) if root::is_symlink_refusal(&e) => {
                        if self.root.exists(&rel) {
                            found.push(rel)
                        }
                    }
                    Err(e) => return Outcome::error(format!("cannot inspect {}: {e}", show(&rel))),
                }
            }
        }
        let source = patterns.iter().map(|p| format!("/{p}")).collect::<Vec<_>>().join(" ");
        absent_of(found, "absent", source)
    }

    fn content(&self, patterns: &[&str], pattern: &str, want: bool) -> Outcome {
        let os = if self.os.id.is_empty() { "[^\\s\\S]".to_string() } else { regex::escape(&self.os.id) };
        let re = match regex::Regex::new(&pattern.replace("{os_id}", &os)) {
            Ok(r) => r,
            Err(e) => return Outcome::error(format!("bad pattern in the catalogue: {e}")),
        };
        let shown = pattern.replace("{os_id}", &self.os.id);
        let expected = if want { format!("a line matching {shown}") } else { format!("no line matching {shown}") };
        let mut matches = Vec::new();
        let mut read_any = false;
        for p in patterns {
            for rel in self.expand(p) {
                let data = match self.root.read_config_opt(&rel) {
                    Ok(Some(d)) => d,
                    Ok(None) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidData => continue,
                    Err(e) => return Outcome::error(format!("cannot read {}: {e}", show(&rel))),
                };
                read_any = true;
                let text = String::from_utf8_lossy(&data);
                for m in re.find_iter(&text) {
                    let line = text[..m.start()].matches('\n').count() + 1;
                    if matches.last().is_some_and(|(f, l, _)| *f == rel && *l == line) {
                        continue;
                    }
                    let content = text.lines().nth(line - 1).unwrap_or("").trim();
                    matches.push((rel.clone(), line, clip(content)));
                }
            }
        }
        let source = patterns.iter().map(|p| format!("/{p}")).collect::<Vec<_>>().join(" ");
        if !read_any {
            let ev = vec![Evidence::new(expected, "no such file", source)];
            return if want { Outcome::fail(ev).with_reason("the file does not exist") } else { Outcome::pass(ev) };
        }
        let ev: Vec<Evidence> = if matches.is_empty() {
            vec![Evidence::new(expected, "no matching line", source)]
        } else {
            matches
                .iter()
                .take(SHOW)
                .map(|(f, l, c)| Evidence::new(expected.clone(), c.clone(), format!("{}:{l}", show(f))))
                .collect()
        };
        Outcome::verdict(matches.is_empty() != want, ev)
    }

    fn sysctl(&self, key: &str, want: &Want) -> Outcome {
        let s = self.settings;
        let expected = format!("{key} {}", want.describe(s));
        let proc_path = PathBuf::from("proc/sys").join(key.replace('.', "/"));
        let mut evidence = Vec::new();
        let mut ok = true;
        if self.live {
            match self.root.read_config_opt(&proc_path) {
                Ok(Some(v)) => {
                    let v = String::from_utf8_lossy(&v).split_whitespace().collect::<Vec<_>>().join(" ");
                    ok &= want.check(&v, s);
                    evidence.push(Evidence::new(expected.clone(), v, format!("/{} (runtime)", proc_path.display())));
                }
                Ok(None) if key.starts_with("net.ipv6.") && !self.root.exists(Path::new("proc/sys/net/ipv6")) => {
                    return Outcome::na("IPv6 is disabled in the running kernel");
                }
                Ok(None) => evidence.push(Evidence::new(
                    expected.clone(),
                    "not in this kernel",
                    format!("/{}", proc_path.display()),
                )),
                Err(e) => return Outcome::error(format!("cannot read /{}: {e}", proc_path.display())),
            }
        }
        let lines: Vec<_> = self.sysctl_lines().iter().filter(|l| key_matches(&l.key, key)).collect();
        match lines.last() {
            Some(last) => {
                let good = want.check(&last.value, s);
                ok &= good;
                evidence.push(Evidence::new(
                    expected.clone(),
                    last.value.clone(),
                    format!("{}:{} (persisted, applied last)", show(&last.file), last.line),
                ));
                for l in &lines[..lines.len() - 1] {
                    if !want.check(&l.value, s) {
                        evidence.push(Evidence::new(
                            expected.clone(),
                            l.value.clone(),
                            format!("{}:{} (persisted, overridden by a later file)", show(&l.file), l.line),
                        ));
                    }
                }
            }
            None => {
                ok = false;
                evidence.push(Evidence::new(
                    expected,
                    "not persisted",
                    "/etc/sysctl.conf, /etc/sysctl.d, /run/sysctl.d, /usr/lib/sysctl.d".to_string(),
                ));
            }
        }
        let mut o = Outcome::verdict(ok, evidence);
        if !self.live && o.status == Status::Pass {
            o.reason = Some(
                "offline --root audit: the persisted configuration was checked, the runtime value cannot be".into(),
            );
        }
        o
    }

    fn module(&self, name: &str) -> Outcome {
        let norm = name.replace('-', "_");
        let same = |w: &str| w.replace('-', "_") == norm;
        const OFF: &[&str] = &["/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true"];
        let mut evidence = Vec::new();
        let mut install = None;
        let mut blacklist = None;
        for (f, line, words) in self.modprobe_lines() {
            match words.as_slice() {
                [kw, m, cmd, ..] if kw == "install" && same(m) && install.is_none() => {
                    install = Some((OFF.contains(&cmd.as_str()), format!("{}:{line}", show(f)), words[2..].join(" ")));
                }
                [kw, m, ..] if kw == "blacklist" && same(m) && blacklist.is_none() => {
                    blacklist = Some(format!("{}:{line}", show(f)));
                }
                _ => {}
            }
        }
        let loaded = if self.live && !self.container {
            let data = self.root.read_config_opt(Path::new("proc/modules")).ok().flatten().unwrap_or_default();
            Some(String::from_utf8_lossy(&data).lines().any(|l| l.split_whitespace().next() == Some(&norm)))
        } else {
            None
        };
        if let Some(mods) = self.kernel_modules() {
            if !mods.contains(&norm) && loaded != Some(true) {
                return Outcome::pass(vec![Evidence::new(
                    "not loadable",
                    "not available in any installed kernel",
                    "/lib/modules/*/modules.dep, modules.builtin",
                )]);
            }
        }
        let (install_ok, install_ev) = match &install {
            Some((off, at, cmd)) => {
                (*off, Evidence::new("install /bin/false (or /bin/true)", format!("install {cmd}"), at.clone()))
            }
            None => (false, Evidence::new("install /bin/false (or /bin/true)", "no install line", "/etc/modprobe.d")),
        };
        evidence.push(install_ev);
        evidence.push(match &blacklist {
            Some(at) => Evidence::new("blacklisted", "blacklisted", at.clone()),
            None => Evidence::new("blacklisted", "not blacklisted", "/etc/modprobe.d"),
        });
        if let Some(l) = loaded {
            evidence.push(Evidence::new("not loaded", if l { "loaded" } else { "not loaded" }, "/proc/modules"));
        }
        Outcome::verdict(install_ok && blacklist.is_some() && loaded != Some(true), evidence)
    }

    /// Where `path` is mounted, as (source, options): the live table when live, and fstab (or
    /// what systemd mounts there by itself). Empty when it is not a separate mount.
    fn mount_sources(&self, path: &str) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let find = |list: &Vec<Mount>| list.iter().rev().find(|m| m.point == path).map(|m| m.options.clone());
        if let Some(live) = self.live_mounts() {
            if let Some(o) = find(live) {
                out.push(("/proc/self/mounts".to_string(), o));
            }
        }
        if let Some(o) = find(self.fstab()) {
            out.push(("/etc/fstab".to_string(), o));
        } else if !self.live {
            // Offline, the mounts systemd makes with no fstab line are part of what boots.
            if path == "dev/shm" {
                out.push((
                    "systemd's own /dev/shm mount (no fstab line)".into(),
                    vec!["rw".into(), "nosuid".into(), "nodev".into()],
                ));
            } else if path == "tmp" && self.unit_enabled("tmp.mount") {
                let opts = self.tmp_mount_options();
                out.push(("tmp.mount".into(), opts));
            }
        }
        out
    }

    fn tmp_mount_options(&self) -> Vec<String> {
        for d in super::env::UNIT_DIRS {
            let Ok(Some(data)) = self.root.read_config_opt(&Path::new(d).join("tmp.mount")) else { continue };
            let text = String::from_utf8_lossy(&data);
            if let Some(o) = text.lines().find_map(|l| l.trim().strip_prefix("Options=")) {
                return o.split(',').map(str::to_string).collect();
            }
        }
        Vec::new()
    }

    fn separate_mount(&self, path: &str) -> Outcome {
        let sources = self.mount_sources(path);
        if let Some((src, _)) = sources.first() {
            return Outcome::pass(vec![Evidence::new("a separate mount", "a separate mount", src.clone())]);
        }
        if self.single_volume {
            return Outcome::na(
                "single-volume image: fstab declares no separate data filesystems, so partition checks cannot apply",
            );
        }
        Outcome::fail(vec![Evidence::new(
            "a separate mount",
            "part of the root filesystem",
            if self.live { "/proc/self/mounts, /etc/fstab" } else { "/etc/fstab" },
        )])
    }

    fn mount_option(&self, path: &str, option: &str) -> Outcome {
        let sources = self.mount_sources(path);
        if sources.is_empty() {
            return Outcome::na(format!("/{path} is not a separate mount"));
        }
        let mut ok = true;
        let ev = sources
            .into_iter()
            .map(|(src, opts)| {
                ok &= opts.iter().any(|o| o == option);
                Evidence::new(format!("{option} in the options of /{path}"), opts.join(","), src)
            })
            .collect();
        Outcome::verdict(ok, ev)
    }

    fn packages_test(&self, names: &[&str], installed: bool) -> Outcome {
        let db = match self.packages() {
            Ok(p) => p,
            Err(e) => return Outcome::error(e),
        };
        let present: Vec<&str> = names.iter().copied().filter(|n| db.names.contains(*n)).collect();
        let actual = if present.is_empty() {
            "none installed".to_string()
        } else {
            format!("installed: {}", present.join(", "))
        };
        let expected = if installed {
            format!("one of {} installed", names.join(", "))
        } else {
            format!("none of {} installed", names.join(", "))
        };
        Outcome::verdict(present.is_empty() != installed, vec![Evidence::new(expected, actual, db.source.clone())])
    }

    /// True when the unit (or the unit an alias of that name points to) is pulled in by some
    /// `.wants`/`.requires` directory and not masked.
    pub fn unit_enabled(&self, unit: &str) -> bool {
        if self.unit_masked(unit) {
            return false;
        }
        if self.wanted_units().contains(unit) {
            return true;
        }
        // `sshd.service` on Debian is an alias link to ssh.service.
        match self.root.read_link(&Path::new("etc/systemd/system").join(unit)) {
            Ok(Some(t)) => {
                t.file_name().is_some_and(|n| n != unit && self.wanted_units().contains(n.to_string_lossy().as_ref()))
            }
            _ => false,
        }
    }

    fn unit_masked(&self, unit: &str) -> bool {
        ["etc/systemd/system", "run/systemd/system"].iter().any(
            |d| matches!(self.root.read_link(&Path::new(d).join(unit)), Ok(Some(t)) if t == Path::new("/dev/null")),
        )
    }

    fn unit_installed(&self, unit: &str) -> bool {
        super::env::UNIT_DIRS.iter().any(|d| self.root.exists(&Path::new(d).join(unit)))
    }

    fn service(&self, units: &[&str], state: ServiceState) -> Outcome {
        let describe = |u: &str| {
            if self.unit_masked(u) {
                "masked"
            } else if self.unit_enabled(u) {
                "enabled"
            } else if self.unit_installed(u) {
                "installed, not enabled"
            } else {
                "not installed"
            }
        };
        let actual = units.iter().map(|u| format!("{u}: {}", describe(u))).collect::<Vec<_>>().join("; ");
        let source = "systemd unit directories (/etc, /run, /usr/lib)";
        match state {
            ServiceState::Enabled => {
                let ok = units.iter().any(|u| self.unit_enabled(u));
                Outcome::verdict(
                    ok,
                    vec![Evidence::new(format!("one of {} enabled", units.join(", ")), actual, source)],
                )
            }
            ServiceState::Disabled => {
                let ok = !units.iter().any(|u| self.unit_enabled(u));
                Outcome::verdict(ok, vec![Evidence::new("not enabled", actual, source)])
            }
            ServiceState::Active if self.live => {
                if !self.root.exists(Path::new("run/systemd/units")) {
                    return Outcome::na("systemd is not running here (no /run/systemd/units)");
                }
                let active: Vec<&str> = units
                    .iter()
                    .copied()
                    .filter(|u| self.root.exists(&Path::new("run/systemd/units").join(format!("invocation:{u}"))))
                    .collect();
                let actual = if active.is_empty() {
                    "not running".to_string()
                } else {
                    format!("running: {}", active.join(", "))
                };
                Outcome::verdict(!active.is_empty(), vec![Evidence::new("active", actual, "/run/systemd/units")])
            }
            ServiceState::Active => {
                // Offline, a unit that is installed and not masked is what will run at boot
                // when it is static (journald) or enabled.
                let ok = units.iter().any(|u| self.unit_installed(u) && !self.unit_masked(u));
                Outcome::verdict(
                    ok,
                    vec![Evidence::new(
                        "installed and not masked (runtime state is not visible offline)",
                        actual,
                        source,
                    )],
                )
            }
        }
    }

    fn one_enabled(&self, groups: &[&[&str]]) -> Outcome {
        let enabled: Vec<&str> =
            groups.iter().filter_map(|g| g.iter().copied().find(|u| self.unit_enabled(u))).collect();
        let actual =
            if enabled.is_empty() { "none enabled".to_string() } else { format!("enabled: {}", enabled.join(", ")) };
        let expected = format!("exactly one of {}", groups.iter().map(|g| g.join("/")).collect::<Vec<_>>().join(", "));
        Outcome::verdict(enabled.len() == 1, vec![Evidence::new(expected, actual, "systemd unit directories")])
    }

    /// The last value of `key` in `files` (in order), with where it was set.
    pub fn setting_value(&self, files: &[&str], key: &str, style: Style) -> Result<Option<(String, String)>, String> {
        let mut last = None;
        for pattern in files {
            for rel in self.expand(pattern) {
                let data = match self.root.read_config_opt(&rel) {
                    Ok(Some(d)) => d,
                    Ok(None) => continue,
                    Err(e) => return Err(format!("cannot read {}: {e}", show(&rel))),
                };
                for (i, line) in String::from_utf8_lossy(&data).lines().enumerate() {
                    for stmt in line.split(';') {
                        if let Some(v) = setting_in(stmt, key, style) {
                            last = Some((v, format!("{}:{}", show(&rel), i + 1)));
                        }
                        if style != Style::Shell {
                            break;
                        }
                    }
                }
            }
        }
        Ok(last)
    }

    fn setting(&self, files: &[&str], key: &str, style: Style, default: Option<&str>, want: &Want) -> Outcome {
        let expected = format!("{key} {}", want.describe(self.settings));
        let (value, source) = match self.setting_value(files, key, style) {
            Err(e) => return Outcome::error(e),
            Ok(Some((v, at))) => (v, at),
            Ok(None) => match default {
                Some(d) => (d.to_string(), format!("not set in /{}: the built-in default", files.join(", /"))),
                None => {
                    return Outcome::fail(vec![Evidence::new(expected, "not set", format!("/{}", files.join(", /")))]);
                }
            },
        };
        Outcome::verdict(want.check(&value, self.settings), vec![Evidence::new(expected, value, source)])
    }

    fn sshd_option(&self, key: &str, want: &Want) -> Outcome {
        if !self.root.exists(Path::new("etc/ssh/sshd_config")) {
            return Outcome::na("sshd is not installed (no /etc/ssh/sshd_config)");
        }
        let config = self.sshd();
        let Some(v) = config.effective(key) else {
            return Outcome::error(format!("sshd option {key} is not modelled"));
        };
        let source = match &v.source {
            Some((f, l)) => format!("{}:{l}", show(f)),
            None => "sshd's built-in default".to_string(),
        };
        let mut o = Outcome::verdict(
            want.check(&v.value, self.settings),
            vec![Evidence::new(format!("{key} {}", want.describe(self.settings)), v.value, source)],
        );
        if let Some((p, problem)) = config.problems.first() {
            o = o.with_reason(format!("while reading the sshd configuration: {}: {problem}", show(p)));
        }
        o
    }

    fn accounts(&self, rule: AccountRule) -> Outcome {
        let passwd = match self.passwd() {
            Ok(p) => p,
            Err(e) => return Outcome::error(e),
        };
        let field = |r: &Vec<String>, i: usize| r.get(i).cloned().unwrap_or_default();
        let uid = |r: &Vec<String>| field(r, 2).parse::<u32>().ok();
        let src_passwd = "/etc/passwd";
        let names = |v: Vec<String>| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        match rule {
            AccountRule::Uid0OnlyRoot => {
                let zero: Vec<String> = passwd.iter().filter(|r| uid(r) == Some(0)).map(|r| r[0].clone()).collect();
                let ok = zero.iter().all(|n| n == "root");
                Outcome::verdict(ok, vec![Evidence::new("only root", names(zero), src_passwd)])
            }
            AccountRule::RootGid0 => match passwd.iter().find(|r| r[0] == "root") {
                Some(r) => {
                    let g = field(r, 3);
                    Outcome::verdict(g == "0", vec![Evidence::new("gid 0", format!("gid {g}"), src_passwd)])
                }
                None => Outcome::fail(vec![Evidence::new("gid 0", "no root account", src_passwd)]),
            },
            AccountRule::ShadowedPasswords => {
                // The value of a non-`x` field may be a password hash: it is never shown.
                let bad: Vec<String> = passwd.iter().filter(|r| field(r, 1) != "x").map(|r| r[0].clone()).collect();
                Outcome::verdict(
                    bad.is_empty(),
                    vec![Evidence::new("x in every password field", format!("not x: {}", names(bad)), src_passwd)],
                )
            }
            AccountRule::NoEmptyPasswords => {
                let mut bad: Vec<String> =
                    passwd.iter().filter(|r| field(r, 1).is_empty()).map(|r| r[0].clone()).collect();
                match self.shadow() {
                    Ok(Some(sh)) => bad.extend(sh.iter().filter(|r| field(r, 1).is_empty()).map(|r| r[0].clone())),
                    Ok(None) => {}
                    Err(e) => return Outcome::error(e),
                }
                bad.dedup();
                Outcome::verdict(
                    bad.is_empty(),
                    vec![Evidence::new(
                        "no empty password field",
                        format!("empty: {}", names(bad)),
                        "/etc/passwd, /etc/shadow",
                    )],
                )
            }
            AccountRule::UniqueUids => duplicates(passwd, 2, "uid", src_passwd),
            AccountRule::UniqueUserNames => duplicates(passwd, 0, "name", src_passwd),
            AccountRule::UniqueGids | AccountRule::UniqueGroupNames => match self.group() {
                Ok(g) => duplicates(
                    g,
                    if rule == AccountRule::UniqueGids { 2 } else { 0 },
                    if rule == AccountRule::UniqueGids { "gid" } else { "name" },
                    "/etc/group",
                ),
                Err(e) => Outcome::error(e),
            },
            AccountRule::PrimaryGroupsExist => {
                let groups = match self.group() {
                    Ok(g) => g,
                    Err(e) => return Outcome::error(e),
                };
                let bad: Vec<String> = passwd
                    .iter()
                    .filter(|r| !groups.iter().any(|g| field(g, 2) == field(r, 3)))
                    .map(|r| format!("{} (gid {})", r[0], field(r, 3)))
                    .collect();
                Outcome::verdict(
                    bad.is_empty(),
                    vec![Evidence::new(
                        "every gid in /etc/group",
                        format!("missing: {}", names(bad)),
                        "/etc/passwd, /etc/group",
                    )],
                )
            }
            AccountRule::SystemAccountsNologin => {
                let min = self.uid_min();
                let bad: Vec<String> = passwd
                    .iter()
                    .filter(|r| {
                        uid(r).is_some_and(|u| u < min)
                            && !matches!(r[0].as_str(), "root" | "sync" | "shutdown" | "halt")
                    })
                    .filter(|r| !is_nologin(&field(r, 6)))
                    .map(|r| format!("{} ({})", r[0], field(r, 6)))
                    .collect();
                Outcome::verdict(
                    bad.is_empty(),
                    vec![Evidence::new(
                        format!("nologin or false for uids below {min} (but root)"),
                        format!("login shells: {}", names(bad)),
                        src_passwd,
                    )],
                )
            }
            AccountRule::SystemAccountsLocked => {
                let min = self.uid_min();
                let shadow = match self.shadow() {
                    Ok(Some(s)) => s,
                    Ok(None) => return Outcome::na("no /etc/shadow"),
                    Err(e) => return Outcome::error(e),
                };
                let bad: Vec<String> = passwd
                    .iter()
                    .filter(|r| uid(r).is_some_and(|u| u < min) && r[0] != "root")
                    .filter(|r| shadow.iter().find(|s| s[0] == r[0]).is_some_and(|s| !is_locked(&field(s, 1))))
                    .map(|r| r[0].clone())
                    .collect();
                Outcome::verdict(
                    bad.is_empty(),
                    vec![Evidence::new(
                        "locked (! or *) for system accounts",
                        format!("usable password: {}", names(bad)),
                        "/etc/shadow",
                    )],
                )
            }
            AccountRule::RootPasswordLocked => {
                let shadow = match self.shadow() {
                    Ok(Some(s)) => s,
                    Ok(None) => return Outcome::na("no /etc/shadow"),
                    Err(e) => return Outcome::error(e),
                };
                let Some(r) = shadow.iter().find(|r| r[0] == "root") else {
                    return Outcome::fail(vec![Evidence::new("locked", "no root entry", "/etc/shadow")]);
                };
                let hash = field(r, 1);
                let actual = if is_locked(&hash) {
                    "locked"
                } else if hash.is_empty() {
                    "empty: root logs in without a password"
                } else {
                    "a password hash is set (not shown)"
                };
                Outcome::verdict(is_locked(&hash), vec![Evidence::new("locked (! or *)", actual, "/etc/shadow")])
            }
            AccountRule::HomeDirectories => {
                let min = self.uid_min();
                let mut bad = Vec::new();
                let mut ev = Vec::new();
                for u in self.users().iter().filter(|u| u.uid >= min && u.uid != 65534 && !is_nologin(&u.shell)) {
                    let Ok(rel) = root::rel(&u.home) else { continue };
                    let actual = match self.root.stat_config(&rel) {
                        Ok(st) => {
                            let mode = st.st_mode & 0o7777;
                            let good =
                                st.st_uid == u.uid && mode & 0o027 == 0 && root::file_type(&st) == FileType::Directory;
                            if !good {
                                bad.push(u.name.clone());
                            }
                            format!("{mode:04o} owned by {}", self.user_name(st.st_uid))
                        }
                        Err(_) => {
                            bad.push(u.name.clone());
                            "does not exist".to_string()
                        }
                    };
                    ev.push(Evidence::new(format!("owned by {}, at most 0750", u.name), actual, u.home.clone()));
                }
                if ev.is_empty() {
                    return Outcome::na(format!("no interactive accounts (uid >= {min} with a login shell)"));
                }
                Outcome::verdict(bad.is_empty(), ev)
            }
            AccountRule::NoTrustFiles => {
                let found = self.in_homes(&[".rhosts", ".shosts", ".netrc", ".forward"]);
                Outcome::verdict(
                    found.is_empty(),
                    vec![Evidence::new("none", listing(&found, found.len() as u64), "every passwd home")],
                )
            }
            AccountRule::RootPath => self.root_path(),
        }
    }

    fn root_path(&self) -> Outcome {
        if !rustix::process::geteuid().is_root() {
            return Outcome::na("amiprep is not running as root, so its PATH is not root's");
        }
        let path = std::env::var("PATH").unwrap_or_default();
        let mut bad = Vec::new();
        for entry in path.split(':') {
            if entry.is_empty() || !entry.starts_with('/') {
                bad.push(format!("{entry:?} (empty or relative)"));
                continue;
            }
            match std::fs::metadata(entry) {
                Ok(m) => {
                    use std::os::unix::fs::MetadataExt;
                    if m.uid() != 0 || m.mode() & 0o022 != 0 {
                        bad.push(format!("{entry} ({:04o}, uid {})", m.mode() & 0o7777, m.uid()));
                    }
                }
                Err(_) => bad.push(format!("{entry} (does not exist)")),
            }
        }
        Outcome::verdict(
            bad.is_empty(),
            vec![Evidence::new(
                "absolute, root-owned, not group/other-writable",
                if bad.is_empty() { path } else { bad.join(", ") },
                "PATH of this root process",
            )],
        )
    }

    /// The paths among `names` (home-relative) that exist in some passwd home.
    fn in_homes(&self, names: &[&str]) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for h in self.homes() {
            for n in names {
                let p = h.path.join(n);
                if matches!(self.root.lstat_opt(&p), Ok(Some(_))) {
                    found.push(p);
                }
            }
        }
        found
    }

    fn scan_rule(&self, rule: ScanRule) -> Outcome {
        let s = self.scan_result();
        let problems = s.problems.problem_count();
        let src = format!(
            "one scan of the root filesystem ({} entries{})",
            s.entries,
            if problems > 0 { format!(", {problems} unreadable") } else { String::new() }
        );
        let paths = |f: &Found| f.paths.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        let list = |f: &Found| listing(&paths(f), f.total);
        let mut o = match rule {
            ScanRule::WorldWritableFiles => {
                Outcome::verdict(s.world_writable.total == 0, vec![Evidence::new("none", list(&s.world_writable), src)])
            }
            ScanRule::WorldWritableDirsSticky => Outcome::verdict(
                s.dirs_without_sticky.total == 0,
                vec![Evidence::new("none without the sticky bit", list(&s.dirs_without_sticky), src)],
            ),
            ScanRule::Unowned => {
                Outcome::verdict(s.unowned.total == 0, vec![Evidence::new("none", list(&s.unowned), src)])
            }
            ScanRule::Ungrouped => {
                Outcome::verdict(s.ungrouped.total == 0, vec![Evidence::new("none", list(&s.ungrouped), src)])
            }
            ScanRule::WorldWritableUnder(dir) => {
                let under: Vec<PathBuf> = paths(&s.world_writable).into_iter().filter(|p| p.starts_with(dir)).collect();
                Outcome::verdict(
                    under.is_empty(),
                    vec![Evidence::new("none", listing(&under, under.len() as u64), format!("/{dir} in {src}"))],
                )
            }
            ScanRule::SuidSgid => {
                let ev = s
                    .suid_sgid
                    .paths
                    .iter()
                    .take(200)
                    .map(|(p, m)| Evidence::new("reviewed", format!("{m:04o}"), show(p)))
                    .collect();
                Outcome::manual(format!("{} SUID/SGID programs to review", s.suid_sgid.total), ev)
            }
        };
        if problems > 0 && o.status == Status::Pass {
            o = o.with_reason(format!("{problems} paths could not be read; see the scan problems"));
        }
        o
    }

    fn image(&self, rule: ImageRule) -> Outcome {
        match rule {
            ImageRule::AuthorizedKeys => {
                let mut found = self.in_homes(&[".ssh/authorized_keys", ".ssh/authorized_keys2"]);
                let config = self.sshd();
                let patterns: Vec<&String> = config
                    .directives
                    .iter()
                    .filter(|d| d.keyword == "authorizedkeysfile")
                    .flat_map(|d| &d.args)
                    .filter(|p| p.as_str() != "none")
                    .collect();
                for u in self.users() {
                    for p in &patterns {
                        let Some(e) = crate::ops::ssh::expand(p, &u.name, u.uid, &u.home) else { continue };
                        let Ok(rel) = root::rel(&e) else { continue };
                        if !rel.as_os_str().is_empty()
                            && !found.contains(&rel)
                            && matches!(self.root.lstat_opt(&rel), Ok(Some(_)))
                        {
                            found.push(rel);
                        }
                    }
                }
                absent_of(found, "none", "every passwd home and AuthorizedKeysFile")
            }
            ImageRule::ShellHistories => {
                let found = self.in_homes(crate::ops::homes::HISTORIES);
                absent_of(found, "none", "every passwd home")
            }
            ImageRule::Credentials => {
                let found = self.in_homes(crate::ops::homes::CREDENTIALS);
                absent_of(found, "none", "every passwd home")
            }
            ImageRule::MachineId => {
                if self.machine_id_mode == crate::profile::schema::MachineIdMode::Keep {
                    return Outcome::na("the profile keeps machine-id (operations.machine-id mode = \"keep\")");
                }
                let mut ev = Vec::new();
                let mut ok = true;
                for (rel, must_exist_empty) in [("etc/machine-id", true), ("var/lib/dbus/machine-id", false)] {
                    // /etc/machine-id is judged by what it resolves to (inside the root): a
                    // link to a file holding an id is an id every clone shares.
                    let read = if must_exist_empty {
                        self.root.read_config_opt(Path::new(rel))
                    } else {
                        self.root.read_nofollow(Path::new(rel)).map(|o| o.map(|(_, d)| d))
                    };
                    let actual = match read {
                        Ok(None) => "absent".to_string(),
                        Ok(Some(d)) if d.is_empty() => "empty".to_string(),
                        Ok(Some(d)) if d == b"uninitialized\n" => "uninitialized".to_string(),
                        Ok(Some(_)) => {
                            ok = false;
                            "holds an id (every instance would share it)".to_string()
                        }
                        // A symlink (dbus's link to /etc/machine-id) is what its target is.
                        Err(e) if root::is_symlink_refusal(&e) && !must_exist_empty => "a symlink".to_string(),
                        Err(e) => return Outcome::error(format!("cannot read /{rel}: {e}")),
                    };
                    ev.push(Evidence::new(
                        if must_exist_empty { "empty or `uninitialized`" } else { "absent, empty or a link" },
                        actual,
                        format!("/{rel}"),
                    ));
                }
                Outcome::verdict(ok, ev)
            }
            ImageRule::RotatedLogs => {
                let mut found = Vec::new();
                let log = Path::new("var/log");
                if let Ok(fd) = self.root.open_dir(log) {
                    let tally = crate::walk::scan(self.root, fd, log, &mut |p: &Path, st| {
                        if root::file_type(st) == FileType::RegularFile
                            && p.file_name().is_some_and(|n| crate::ops::logs::is_rotated(&n.to_string_lossy()))
                        {
                            found.push(p.to_path_buf());
                        }
                        true
                    });
                    let _ = tally;
                }
                absent_of(found, "none", "/var/log")
            }
        }
    }
}

fn duplicates(records: &[Vec<String>], col: usize, what: &str, source: &str) -> Outcome {
    let mut seen = std::collections::BTreeMap::<&str, Vec<&str>>::new();
    for r in records {
        if let Some(v) = r.get(col) {
            seen.entry(v.as_str()).or_default().push(r[0].as_str());
        }
    }
    let dups: Vec<String> = seen
        .iter()
        .filter(|(_, names)| names.len() > 1)
        .map(
            |(v, names)| {
                if col == 0 { format!("{v} ({}x)", names.len()) } else { format!("{what} {v}: {}", names.join(", ")) }
            },
        )
        .collect();
    let actual = if dups.is_empty() { "none".to_string() } else { dups.join("; ") };
    Outcome::verdict(dups.is_empty(), vec![Evidence::new(format!("no duplicate {what}s"), actual, source)])
}

/// `!`, `!!`, `*` or `!<hash>`: no password can log in.
fn is_locked(hash: &str) -> bool {
    hash.starts_with('!') || hash.starts_with('*')
}

fn is_nologin(shell: &str) -> bool {
    shell.ends_with("/nologin") || shell.ends_with("/false")
}

/// The value of `key` on this line in the given style, if the line sets it.
fn setting_in(line: &str, key: &str, style: Style) -> Option<String> {
    let line = line.trim();
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let unquote = |v: &str| v.trim().trim_matches('"').trim_matches('\'').to_string();
    match style {
        Style::Words => {
            let mut w = line.split_whitespace();
            (w.next()? == key).then(|| w.next().map(unquote)).flatten()
        }
        Style::Assign => {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| unquote(v.split('#').next().unwrap_or("")))
        }
        Style::Shell => {
            let mut rest = line;
            for prefix in ["export ", "readonly ", "declare -r ", "declare -x ", "typeset -r "] {
                if let Some(r) = rest.strip_prefix(prefix) {
                    rest = r.trim_start();
                }
            }
            let (k, v) = rest.split_once('=')?;
            (k.trim() == key).then(|| unquote(v.split_whitespace().next().unwrap_or("")))
        }
    }
}

/// sysctl.d keys may use `/` and globs (`net.ipv4.conf.*.rp_filter`).
pub(super) fn key_matches(pattern: &str, key: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    p.len() == k.len() && p.iter().zip(&k).all(|(a, b)| a == b || *a == "*")
}

fn clip(s: &str) -> String {
    if s.chars().count() > 160 { format!("{}...", s.chars().take(160).collect::<String>()) } else { s.to_string() }
}

/// The verdict of an absence check, with the paths found as evidence and for the readiness
/// rules (see [`Outcome::found`]).
fn absent_of(found: Vec<PathBuf>, expected: &str, source: impl Into<String>) -> Outcome {
    let ev = vec![Evidence::new(expected, listing(&found, found.len() as u64), source)];
    let mut o = Outcome::verdict(found.is_empty(), ev);
    o.found = found;
    o
}

/// "none", or the first paths and how many there are in all.
fn listing(paths: &[PathBuf], total: u64) -> String {
    if total == 0 {
        return "none".into();
    }
    let shown: Vec<String> = paths.iter().take(SHOW).map(|p| show(p)).collect();
    let more = total.saturating_sub(shown.len() as u64);
    let noun = if total == 1 { "path" } else { "paths" };
    if more > 0 {
        format!("{total} {noun}: {} and {more} more", shown.join(", "))
    } else {
        format!("{total} {noun}: {}", shown.join(", "))
    }
}

/// Every part must pass; not-applicable parts are left out. An error wins over a pass.
fn all(parts: Vec<Outcome>) -> Outcome {
    let applicable: Vec<Outcome> = parts.iter().filter(|o| o.status != Status::NotApplicable).cloned().collect();
    if applicable.is_empty() {
        return Outcome::na(reasons(&parts));
    }
    let status = applicable.iter().map(|o| o.status).min().unwrap_or(Status::Pass);
    let reason = applicable.iter().filter(|o| o.status == status).filter_map(|o| o.reason.clone()).next();
    let found = applicable.iter().flat_map(|o| o.found.clone()).collect();
    Outcome { status, reason, evidence: applicable.into_iter().flat_map(|o| o.evidence).collect(), found }
}

/// The distinct reasons of some outcomes, joined.
fn reasons(parts: &[Outcome]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for r in parts.iter().filter_map(|o| o.reason.as_deref()) {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out.join("; ")
}

/// Some part must pass.
fn any(parts: Vec<Outcome>) -> Outcome {
    if let Some(p) = parts.iter().find(|o| o.status == Status::Pass) {
        return p.clone();
    }
    if parts.iter().all(|o| o.status == Status::NotApplicable) {
        return Outcome::na(reasons(&parts));
    }
    let status = if parts.iter().any(|o| o.status == Status::Fail) { Status::Fail } else { Status::Error };
    let reason = parts.iter().filter_map(|o| o.reason.clone()).next();
    let found = parts.iter().flat_map(|o| o.found.clone()).collect();
    Outcome { status, reason, evidence: parts.into_iter().flat_map(|o| o.evidence).collect(), found }
}

impl Num {
    pub fn value(self, s: &Settings) -> i64 {
        match self {
            Num::Lit(n) => n,
            Num::Param(p) => s.param(p),
        }
    }
}

impl Want {
    pub fn describe(&self, s: &Settings) -> String {
        match self {
            Want::Eq(v) => format!("= {v}"),
            Want::OneOf(v) => format!("one of {}", v.join(", ")),
            Want::Not(v) => format!("not {v}"),
            Want::AtMost(n) => format!("<= {}", n.value(s)),
            Want::AtLeast(n) => format!(">= {}", n.value(s)),
            Want::Range(a, b) => format!("between {} and {}", a.value(s), b.value(s)),
            Want::NoneOf(v) => format!("none of {}", v.join(",")),
            Want::ColonsAtMost(v) => format!("at most {}", v.iter().map(i64::to_string).collect::<Vec<_>>().join(":")),
            Want::MaskCovers(b) => format!("masking at least {b:03o}"),
            Want::PermitRootLogin => {
                if s.permit_root_login == "no" {
                    "= no".into()
                } else {
                    "no or prohibit-password".into()
                }
            }
        }
    }

    pub fn check(&self, value: &str, s: &Settings) -> bool {
        let num = || value.trim().parse::<i64>().ok();
        match self {
            Want::Eq(v) => value.eq_ignore_ascii_case(v),
            Want::OneOf(v) => v.iter().any(|x| value.eq_ignore_ascii_case(x)),
            Want::Not(v) => !value.eq_ignore_ascii_case(v),
            Want::AtMost(n) => num().is_some_and(|x| x <= n.value(s)),
            Want::AtLeast(n) => num().is_some_and(|x| x >= n.value(s)),
            Want::Range(a, b) => num().is_some_and(|x| x >= a.value(s) && x <= b.value(s)),
            Want::NoneOf(v) => !value.split(',').any(|x| v.iter().any(|w| x.trim().eq_ignore_ascii_case(w))),
            Want::ColonsAtMost(max) => {
                let parts: Vec<Option<i64>> = value.split(':').map(|p| p.parse().ok()).collect();
                parts.len() == max.len() && parts.iter().zip(max.iter()).all(|(p, m)| p.is_some_and(|p| p <= *m))
            }
            Want::MaskCovers(bits) => u32::from_str_radix(value.trim(), 8).is_ok_and(|m| m & bits == *bits),
            Want::PermitRootLogin => {
                value.eq_ignore_ascii_case("no")
                    || (s.permit_root_login == "prohibit-password"
                        && (value.eq_ignore_ascii_case("without-password")
                            || value.eq_ignore_ascii_case("prohibit-password")))
            }
        }
    }

    /// The value a remediation writes, when there is one obvious safe value.
    pub fn fix_value(&self, s: &Settings) -> Option<String> {
        match self {
            Want::Eq(v) => Some(v.to_string()),
            Want::OneOf(v) => v.first().map(|x| x.to_string()),
            Want::AtMost(n) | Want::AtLeast(n) | Want::Range(_, n) => Some(n.value(s).to_string()),
            Want::ColonsAtMost(v) => Some(v.iter().map(i64::to_string).collect::<Vec<_>>().join(":")),
            Want::MaskCovers(b) => Some(format!("{b:03o}")),
            Want::PermitRootLogin => Some(s.permit_root_login.clone()),
            Want::Not(_) | Want::NoneOf(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_in_each_style() {
        assert_eq!(setting_in("PASS_MAX_DAYS   90", "PASS_MAX_DAYS", Style::Words).as_deref(), Some("90"));
        assert_eq!(setting_in("#PASS_MAX_DAYS 90", "PASS_MAX_DAYS", Style::Words), None);
        assert_eq!(setting_in("minlen = 14 # site", "minlen", Style::Assign).as_deref(), Some("14"));
        assert_eq!(setting_in("Storage=none", "Storage", Style::Assign).as_deref(), Some("none"));
        assert_eq!(setting_in("readonly TMOUT=900", "TMOUT", Style::Shell).as_deref(), Some("900"));
        assert_eq!(setting_in("export TMOUT=\"600\"", "TMOUT", Style::Shell).as_deref(), Some("600"));
    }

    #[test]
    fn wants() {
        let s = Settings::default();
        assert!(Want::ColonsAtMost(&[10, 30, 60]).check("10:30:60", &s));
        assert!(!Want::ColonsAtMost(&[10, 30, 60]).check("10:30:100", &s));
        assert!(Want::MaskCovers(0o027).check("077", &s) && !Want::MaskCovers(0o027).check("022", &s));
        assert!(Want::NoneOf(&["hmac-sha1"]).check("hmac-sha2-256,umac-128@openssh.com", &s));
        assert!(!Want::NoneOf(&["hmac-sha1"]).check("hmac-sha2-256,hmac-sha1", &s));
        assert!(Want::AtMost(Num::Param("max_auth_tries")).check("4", &s));
        assert!(!Want::AtMost(Num::Param("max_auth_tries")).check("6", &s));
        assert!(!Want::PermitRootLogin.check("without-password", &s));
        let lax = Settings { permit_root_login: "prohibit-password".into(), ..Settings::default() };
        assert!(Want::PermitRootLogin.check("without-password", &lax));
        assert!(key_matches("net.ipv4.conf.*.rp_filter", "net.ipv4.conf.all.rp_filter"));
    }
}
