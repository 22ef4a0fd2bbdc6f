//! What the audit knows about the root, read once and shared by every check: the OS family,
//! whether it runs live, in a container or on a single-volume image, and cached parses of the
//! files many checks read (accounts, packages, sshd_config, sysctl and modprobe settings, mount
//! tables, unit enablement, the filesystem scan).

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::catalogue::{Check, Test};
use super::scan::{self, Ids, ScanResult};
use super::{Outcome, Settings};
use crate::accounts::{self, User};
use crate::profile::schema::MachineIdMode;
use crate::root::{self, Root};
use crate::sshd;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Debian, Ubuntu and their derivatives.
    Debian,
    /// RHEL, Amazon Linux, Fedora, CentOS, Rocky, Alma.
    Rhel,
    Other,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Debian => "debian",
            Family::Rhel => "rhel",
            Family::Other => "other",
        }
    }
}

/// The root's os-release, as far as checks need it.
#[derive(Debug, Clone, Serialize)]
pub struct OsInfo {
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
    pub family: Family,
}

/// One persisted sysctl assignment.
#[derive(Debug, Clone)]
pub struct SysctlLine {
    pub key: String,
    pub value: String,
    pub file: PathBuf,
    pub line: usize,
}

/// One mount: mount point (root-relative), filesystem type, options.
#[derive(Debug, Clone)]
pub struct Mount {
    pub point: String,
    pub fstype: String,
    pub options: Vec<String>,
}

/// The installed packages, and where they were read.
#[derive(Debug, Clone)]
pub struct Packages {
    pub names: HashSet<String>,
    pub source: String,
}

/// A passwd home resolved inside the root.
#[derive(Debug, Clone)]
pub struct Home {
    pub path: PathBuf,
}

pub struct Env<'a> {
    pub root: &'a Root,
    pub live: bool,
    pub os: OsInfo,
    pub container: bool,
    pub single_volume: bool,
    pub settings: &'a Settings,
    pub machine_id_mode: MachineIdMode,
    passwd: OnceCell<Result<Vec<Vec<String>>, String>>,
    group: OnceCell<Result<Vec<Vec<String>>, String>>,
    shadow: OnceCell<Result<Option<Vec<Vec<String>>>, String>>,
    packages: OnceCell<Result<Packages, String>>,
    sshd: OnceCell<sshd::Config>,
    sysctl: OnceCell<Vec<SysctlLine>>,
    modprobe: OnceCell<Vec<(PathBuf, usize, Vec<String>)>>,
    kernel_modules: OnceCell<Option<HashSet<String>>>,
    fstab: OnceCell<Vec<Mount>>,
    live_mounts: OnceCell<Option<Vec<Mount>>>,
    wanted_units: OnceCell<HashSet<String>>,
    homes: OnceCell<Vec<Home>>,
    scan: OnceCell<ScanResult>,
}

/// Unit directories, highest priority first (systemd's search path).
pub const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "run/systemd/system",
    "usr/local/lib/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

impl<'a> Env<'a> {
    pub fn new(root: &'a Root, settings: &'a Settings, machine_id_mode: MachineIdMode) -> Env<'a> {
        let os = os_info(root);
        let live = root.is_live();
        let mut env = Env {
            root,
            live,
            os,
            container: live && in_container(root),
            single_volume: false,
            settings,
            machine_id_mode,
            passwd: OnceCell::new(),
            group: OnceCell::new(),
            shadow: OnceCell::new(),
            packages: OnceCell::new(),
            sshd: OnceCell::new(),
            sysctl: OnceCell::new(),
            modprobe: OnceCell::new(),
            kernel_modules: OnceCell::new(),
            fstab: OnceCell::new(),
            live_mounts: OnceCell::new(),
            wanted_units: OnceCell::new(),
            homes: OnceCell::new(),
            scan: OnceCell::new(),
        };
        env.single_volume = env.fstab().iter().all(|m| !is_data_mount(m));
        env
    }

    /// Evaluates the checks, returning their outcomes in the same order. The filesystem scan,
    /// when some check needs it, runs on its own threads while the other checks are made.
    pub fn evaluate(&self, checks: &[&Check]) -> Vec<Outcome> {
        let needs_scan = checks.iter().any(|c| uses_scan(&c.test) && self.applicability(c).is_none());
        let mut out: Vec<Option<Outcome>> = vec![None; checks.len()];
        std::thread::scope(|s| {
            let handle = needs_scan.then(|| {
                let ids = self.ids();
                let root = self.root;
                s.spawn(move || scan::scan(root, &ids))
            });
            for (i, c) in checks.iter().enumerate() {
                if !uses_scan(&c.test) {
                    out[i] = Some(self.check(c));
                }
            }
            if let Some(h) = handle {
                let result = h.join().unwrap_or_default();
                let _ = self.scan.set(result);
            }
        });
        checks.iter().zip(out).map(|(c, o)| o.unwrap_or_else(|| self.check(c))).collect()
    }

    fn check(&self, c: &Check) -> Outcome {
        match self.applicability(c) {
            Some(reason) => Outcome::na(reason),
            None => self.eval(&c.test),
        }
    }

    /// Why a check does not apply here, if it does not.
    fn applicability(&self, c: &Check) -> Option<String> {
        if let Some(f) = c.family {
            if f != self.os.family {
                return Some(format!("only for the {} family; this root is {}", f.as_str(), self.os.family.as_str()));
            }
        }
        if c.host_only && self.container {
            return Some("about the kernel or boot of a machine; this runs in a container".into());
        }
        None
    }

    pub fn scan_result(&self) -> &ScanResult {
        self.scan.get_or_init(|| scan::scan(self.root, &self.ids()))
    }

    fn ids(&self) -> Ids {
        let uids = self.passwd().map(|p| p.iter().filter_map(|r| r.get(2)?.parse().ok()).collect()).unwrap_or_default();
        let gids = self.group().map(|g| g.iter().filter_map(|r| r.get(2)?.parse().ok()).collect()).unwrap_or_default();
        Ids { uids, gids }
    }

    fn colon_file(&self, rel: &str) -> Result<Option<Vec<Vec<String>>>, String> {
        match self.root.read_config_opt(Path::new(rel)) {
            Ok(Some(d)) => Ok(Some(accounts::records(&d))),
            Ok(None) => Ok(None),
            Err(e) => Err(format!("cannot read /{rel}: {e}")),
        }
    }

    /// passwd records (every field). A missing passwd is an empty one.
    pub fn passwd(&self) -> Result<&Vec<Vec<String>>, String> {
        self.passwd
            .get_or_init(|| self.colon_file("etc/passwd").map(Option::unwrap_or_default))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn group(&self) -> Result<&Vec<Vec<String>>, String> {
        self.group
            .get_or_init(|| self.colon_file("etc/group").map(Option::unwrap_or_default))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// shadow records, `None` when the root has no shadow file.
    pub fn shadow(&self) -> Result<Option<&Vec<Vec<String>>>, String> {
        self.shadow.get_or_init(|| self.colon_file("etc/shadow")).as_ref().map(Option::as_ref).map_err(Clone::clone)
    }

    pub fn users(&self) -> Vec<User> {
        match self.root.read_config_opt(Path::new("etc/passwd")) {
            Ok(Some(d)) => accounts::parse_passwd(&d),
            _ => Vec::new(),
        }
    }

    pub fn uid_of(&self, name: &str) -> Option<u32> {
        if name == "root" {
            return Some(0);
        }
        self.passwd().ok()?.iter().find(|r| r[0] == name).and_then(|r| r.get(2)?.parse().ok())
    }

    pub fn gid_of(&self, name: &str) -> Option<u32> {
        if name == "root" {
            return Some(0);
        }
        self.group().ok()?.iter().find(|r| r[0] == name).and_then(|r| r.get(2)?.parse().ok())
    }

    pub fn user_name(&self, uid: u32) -> String {
        let found =
            self.passwd().ok().and_then(|p| p.iter().find(|r| r.get(2).and_then(|u| u.parse().ok()) == Some(uid)));
        found.map_or_else(|| uid.to_string(), |r| r[0].clone())
    }

    pub fn group_name(&self, gid: u32) -> String {
        let found =
            self.group().ok().and_then(|g| g.iter().find(|r| r.get(2).and_then(|u| u.parse().ok()) == Some(gid)));
        found.map_or_else(|| gid.to_string(), |r| r[0].clone())
    }

    /// login.defs `UID_MIN`: accounts below it are system accounts.
    pub fn uid_min(&self) -> u32 {
        let data = self.root.read_config_opt(Path::new("etc/login.defs")).ok().flatten().unwrap_or_default();
        String::from_utf8_lossy(&data)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("UID_MIN")).then(|| w.next()?.parse().ok()).flatten()
            })
            .next_back()
            .unwrap_or(1000)
    }

    /// The passwd homes that exist inside the root, one per directory.
    pub fn homes(&self) -> &Vec<Home> {
        self.homes.get_or_init(|| {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for user in self.users() {
                let Ok(rel) = root::rel(&user.home) else { continue };
                if rel.as_os_str().is_empty() {
                    continue;
                }
                if let Ok(path) = self.root.canonical_dir(&rel) {
                    if !path.as_os_str().is_empty() && seen.insert(path.clone()) {
                        out.push(Home { path });
                    }
                }
            }
            out
        })
    }

    pub fn packages(&self) -> Result<&Packages, String> {
        self.packages.get_or_init(|| read_packages(self.root)).as_ref().map_err(Clone::clone)
    }

    pub fn sshd(&self) -> &sshd::Config {
        self.sshd.get_or_init(|| sshd::read(self.root))
    }

    /// Every persisted sysctl assignment, in the order `systemd-sysctl` applies them: the
    /// `*.conf` files of all sysctl.d directories sorted by name (a name in `/etc` hides the
    /// same name in `/run` and `/usr/lib`), then `/etc/sysctl.conf`. The last assignment of a
    /// key is the one the next boot keeps.
    pub fn sysctl_lines(&self) -> &Vec<SysctlLine> {
        self.sysctl.get_or_init(|| {
            let dirs = ["etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d", "lib/sysctl.d"];
            let mut files = self.conf_files(&dirs, ".conf");
            // Debian's 99-sysctl.conf is a link to ../sysctl.conf, which comes last anyway.
            files.retain(
                |f| !matches!(self.root.read_link(f), Ok(Some(t)) if t.file_name().is_some_and(|n| n == "sysctl.conf")),
            );
            files.push(PathBuf::from("etc/sysctl.conf"));
            let mut out = Vec::new();
            for f in files {
                let Ok(Some(data)) = self.root.read_config_opt(&f) else { continue };
                for (i, line) in String::from_utf8_lossy(&data).lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                        continue;
                    }
                    let Some((k, v)) = line.split_once('=') else { continue };
                    let key = k.trim().trim_start_matches('-').replace('/', ".");
                    out.push(SysctlLine { key, value: v.trim().to_string(), file: f.clone(), line: i + 1 });
                }
            }
            out
        })
    }

    /// The `*suffix` files of config directories listed highest priority first, deduplicated
    /// by name (the first directory holding a name wins) and sorted by name: the rule of
    /// sysctl.d, modprobe.d and tmpfiles.d.
    pub fn conf_files(&self, dirs: &[&str], suffix: &str) -> Vec<PathBuf> {
        let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
        for d in dirs {
            for name in self.list(Path::new(d)) {
                if name.ends_with(suffix) {
                    by_name.entry(name.clone()).or_insert_with(|| Path::new(d).join(&name));
                }
            }
        }
        by_name.into_values().collect()
    }

    /// The names in a directory of the root (symlinks inside the root followed), sorted;
    /// empty when it does not exist.
    pub fn list(&self, dir: &Path) -> Vec<String> {
        let Ok(fd) = self.root.open_config(dir) else { return Vec::new() };
        let Ok(entries) = rustix::fs::Dir::new(fd) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| String::from_utf8_lossy(e.file_name().to_bytes()).into_owned())
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort();
        names
    }

    /// Every `install` and `blacklist` line of modprobe.d, with file and line.
    pub fn modprobe_lines(&self) -> &Vec<(PathBuf, usize, Vec<String>)> {
        self.modprobe.get_or_init(|| {
            let dirs = [
                "etc/modprobe.d",
                "run/modprobe.d",
                "usr/local/lib/modprobe.d",
                "usr/lib/modprobe.d",
                "lib/modprobe.d",
            ];
            let mut out = Vec::new();
            for f in self.conf_files(&dirs, ".conf") {
                let Ok(Some(data)) = self.root.read_config_opt(&f) else { continue };
                for (i, line) in String::from_utf8_lossy(&data).lines().enumerate() {
                    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
                    if matches!(words.first().map(String::as_str), Some("install" | "blacklist")) {
                        out.push((f.clone(), i + 1, words));
                    }
                }
            }
            out
        })
    }

    /// The modules the root's kernels ship (from every `modules.dep` and `modules.builtin`),
    /// with `-` written `_`; `None` when the root has no kernel modules at all (a container).
    pub fn kernel_modules(&self) -> Option<&HashSet<String>> {
        self.kernel_modules
            .get_or_init(|| {
                let mut found = None;
                for base in ["usr/lib/modules", "lib/modules"] {
                    for kernel in self.list(Path::new(base)) {
                        for index in ["modules.dep", "modules.builtin"] {
                            let rel = Path::new(base).join(&kernel).join(index);
                            let Ok(Some(data)) = self.root.read_config_opt(&rel) else { continue };
                            let set = found.get_or_insert_with(HashSet::new);
                            for line in String::from_utf8_lossy(&data).lines() {
                                let path = line.split(':').next().unwrap_or("");
                                let file = path.rsplit('/').next().unwrap_or("");
                                let name = file.split(".ko").next().unwrap_or("");
                                if !name.is_empty() {
                                    set.insert(name.replace('-', "_"));
                                }
                            }
                        }
                    }
                }
                found
            })
            .as_ref()
    }

    /// The root's `etc/fstab` entries.
    pub fn fstab(&self) -> &Vec<Mount> {
        self.fstab.get_or_init(|| {
            let data = self.root.read_config_opt(Path::new("etc/fstab")).ok().flatten().unwrap_or_default();
            parse_mounts(&String::from_utf8_lossy(&data))
        })
    }

    /// The running system's mount table (`/proc/self/mounts`), only on a live root.
    pub fn live_mounts(&self) -> Option<&Vec<Mount>> {
        self.live_mounts
            .get_or_init(|| {
                if !self.live {
                    return None;
                }
                let data = self.root.read_config_opt(Path::new("proc/self/mounts")).ok().flatten()?;
                Some(parse_mounts(&String::from_utf8_lossy(&data)))
            })
            .as_ref()
    }

    /// Unit names pulled in by a `.wants`/`.requires` directory: enabled in `/etc`, or
    /// statically by the vendor in `/usr/lib`.
    pub fn wanted_units(&self) -> &HashSet<String> {
        self.wanted_units.get_or_init(|| {
            let mut set = HashSet::new();
            for d in UNIT_DIRS {
                for sub in self.list(Path::new(d)) {
                    if sub.ends_with(".wants") || sub.ends_with(".requires") {
                        set.extend(self.list(&Path::new(d).join(&sub)));
                    }
                }
            }
            set
        })
    }
}

fn uses_scan(t: &Test) -> bool {
    match t {
        Test::Scan(_) => true,
        Test::All(ts) | Test::Any(ts) => ts.iter().any(uses_scan),
        Test::When { cond, then, .. } => uses_scan(cond) || uses_scan(then),
        Test::ByFamily { debian, rhel } => uses_scan(debian) || uses_scan(rhel),
        Test::Live(t) => uses_scan(t),
        _ => false,
    }
}

/// A mount that makes an image more than one volume: a real filesystem somewhere other than
/// `/`, `/boot` or the ESP.
fn is_data_mount(m: &Mount) -> bool {
    const PSEUDO: &[&str] = &["swap", "tmpfs", "proc", "sysfs", "devpts", "devtmpfs", "none", "efivarfs", "cgroup2"];
    !matches!(m.point.as_str(), "" | "boot" | "boot/efi" | "efi" | "none" | "swap")
        && !PSEUDO.contains(&m.fstype.as_str())
}

/// Parses fstab or /proc/self/mounts: `device point type options ...`, with `\040`-style
/// escapes in the point. Points are made root-relative.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() < 4 {
                return None;
            }
            let point = unescape(w[1]);
            let point = point.trim_start_matches('/').trim_end_matches('/').to_string();
            Some(Mount { point, fstype: w[2].to_string(), options: w[3].split(',').map(str::to_string).collect() })
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn os_info(root: &Root) -> OsInfo {
    let data = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| root.read_config_opt(Path::new(p)).ok().flatten())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&data);
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
            .unwrap_or_default()
    };
    let id = get("ID");
    let like = get("ID_LIKE");
    let words: Vec<&str> = std::iter::once(id.as_str()).chain(like.split_whitespace()).collect();
    let family = if words.iter().any(|w| matches!(*w, "debian" | "ubuntu")) {
        Family::Debian
    } else if words.iter().any(|w| matches!(*w, "rhel" | "fedora" | "centos" | "amzn" | "rocky" | "almalinux")) {
        Family::Rhel
    } else {
        Family::Other
    };
    OsInfo { id, version_id: get("VERSION_ID"), pretty_name: get("PRETTY_NAME"), family }
}

/// True when the running system is a container: the markers podman, docker and systemd-nspawn
/// leave, or a `container=` variable in PID 1's environment.
fn in_container(root: &Root) -> bool {
    if root.exists(Path::new("run/.containerenv")) || root.exists(Path::new(".dockerenv")) {
        return true;
    }
    let env = root.read_config_opt(Path::new("proc/1/environ")).ok().flatten().unwrap_or_default();
    env.split(|b| *b == 0).any(|v| v.starts_with(b"container="))
}

/// The package database of the root: dpkg's status file, or rpm's sqlite database. A root
/// with neither has no packages (a minimal or fake root); one with rpm's old Berkeley DB
/// cannot be read without rpm.
fn read_packages(root: &Root) -> Result<Packages, String> {
    if let Some(data) = root.read_config_opt(Path::new("var/lib/dpkg/status")).map_err(|e| e.to_string())? {
        return Ok(Packages {
            names: dpkg_installed(&String::from_utf8_lossy(&data)),
            source: "/var/lib/dpkg/status".into(),
        });
    }
    for p in ["var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"] {
        if let Some(data) = root.read_config_opt(Path::new(p)).map_err(|e| format!("cannot read /{p}: {e}"))? {
            let names = super::rpmdb::package_names(&data).map_err(|e| format!("/{p}: {e}"))?;
            let wal = Path::new(p).with_extension("sqlite-wal");
            let mut source = format!("/{p}");
            if root.stat_config(&wal).is_ok_and(|st| st.st_size > 0) {
                source.push_str(" (its -wal file holds changes not yet merged; run `rpm -qa` once to merge them)");
            }
            return Ok(Packages { names, source });
        }
    }
    if root.exists(Path::new("var/lib/rpm/Packages")) {
        return Err("the rpm database is Berkeley DB (/var/lib/rpm/Packages), which amiprep cannot read; package checks need rpm >= 4.16's rpmdb.sqlite".into());
    }
    Ok(Packages { names: HashSet::new(), source: "no package database in the root".into() })
}

/// Names of installed packages in dpkg's status file (`Status: ... installed`, also
/// half-installed states; `config-files` and `not-installed` are absent).
pub fn dpkg_installed(text: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    for para in text.split("\n\n") {
        let mut name = None;
        let mut present = false;
        for line in para.lines() {
            if let Some(n) = line.strip_prefix("Package:") {
                name = Some(n.trim().to_string());
            } else if let Some(s) = line.strip_prefix("Status:") {
                let state = s.split_whitespace().last().unwrap_or("");
                present = !matches!(state, "not-installed" | "config-files");
            }
        }
        if let (Some(n), true) = (name, present) {
            out.insert(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_and_escapes() {
        let m = parse_mounts("# c\nUUID=1 / ext4 defaults 0 1\ntmpfs /my\\040tmp tmpfs rw,nosuid 0 0\n");
        assert_eq!(m[0].point, "");
        assert_eq!(m[1].point, "my tmp");
        assert_eq!(m[1].options, ["rw", "nosuid"]);
        assert!(!is_data_mount(&m[0]) && !is_data_mount(&m[1]));
    }

    #[test]
    fn dpkg_states() {
        let s = "Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: deinstall ok config-files\n\nPackage: c\nStatus: install ok half-configured\n";
        let set = dpkg_installed(s);
        assert!(set.contains("a") && !set.contains("b") && set.contains("c"));
    }
}
