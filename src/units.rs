//! systemd unit files in the root: name validation, lookup, `[Install]` sections, and the
//! symlinks `systemctl enable/disable/mask` would create or remove (read-only).
//!
//! amiprep never creates these links itself: apply runs `systemctl [--root=DIR]`, the one tool
//! that defines their meaning. This module predicts the result so that a dry run shows exactly
//! what will change, so that nothing is run when a unit is already in the wanted state, and so
//! that errors (an unknown unit, a conflicting file) stop the seal before anything is applied.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::root::{self, Entry, Root};

/// Unit types that are unit files and can be enabled, disabled or masked.
const FILE_TYPES: &[&str] = &["service", "socket", "target", "mount", "automount", "swap", "timer", "path", "slice"];

/// Where the administrator's links live; `systemctl enable` writes here.
pub const CONFIG_DIR: &str = "etc/systemd/system";

/// The unit search path, in systemd's order for the system manager (Debian's split-usr build
/// looks in `lib/` before `usr/lib/`; on merged-/usr roots both are the same directory).
fn search_dirs(live: bool) -> Vec<&'static str> {
    let mut v = vec![CONFIG_DIR];
    if live {
        v.push("run/systemd/system");
    }
    v.extend(["usr/local/lib/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"]);
    v
}

/// Checks a unit name against systemd's grammar and returns it in full form: `nginx` becomes
/// `nginx.service`, as systemctl does. Names are later passed to systemctl after `--`, but
/// validating first means no option, path or shell text ever reaches it.
pub fn normalize(name: &str) -> Result<String, String> {
    let full = match name.rsplit_once('.') {
        Some((_, suffix)) if FILE_TYPES.contains(&suffix) => name.to_string(),
        Some((_, suffix)) if !name.contains('/') => {
            return Err(format!(
                "unit {name:?} has type .{suffix}, which is not a unit file type amiprep can enable, disable or mask (one of .{})",
                FILE_TYPES.join(", .")
            ));
        }
        _ => format!("{name}.service"),
    };
    let (stem, _) = full.rsplit_once('.').expect("has a suffix");
    let (prefix, instance) = match stem.split_once('@') {
        Some((p, i)) => (p, Some(i)),
        None => (stem, None),
    };
    let valid = |s: &str, extra: &str| {
        s.bytes().all(|b| b.is_ascii_alphanumeric() || b":-_.\\".contains(&b) || extra.as_bytes().contains(&b))
    };
    if full.len() > 255 {
        return Err(format!("unit name {name:?} is longer than 255 characters"));
    }
    if prefix.is_empty() || !valid(prefix, "") || prefix.starts_with(['-', '.']) {
        return Err(format!(
            "{name:?} is not a valid unit name: use letters, digits and : - _ . \\ only, not starting with - or ."
        ));
    }
    if let Some(i) = instance
        && !valid(i, "@")
    {
        return Err(format!("{name:?} has an invalid instance name: use letters, digits and : - _ . \\ @ only"));
    }
    Ok(full)
}

/// `foo@bar.service` -> `foo@.service`; `None` for non-instances.
pub fn template_of(name: &str) -> Option<String> {
    let (stem, suffix) = name.rsplit_once('.')?;
    let (prefix, inst) = stem.split_once('@')?;
    (!inst.is_empty()).then(|| format!("{prefix}@.{suffix}"))
}

fn is_template(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, _)| stem.ends_with('@'))
}

fn instance_name(template: &str, instance: &str) -> String {
    let (stem, suffix) = template.rsplit_once('.').expect("a unit name");
    format!("{stem}{instance}.{suffix}")
}

/// The `[Install]` section of a unit file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Install {
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
    pub upheld_by: Vec<String>,
    pub alias: Vec<String>,
    pub also: Vec<String>,
    pub default_instance: Option<String>,
}

impl Install {
    pub fn is_empty(&self) -> bool {
        self.wanted_by.is_empty()
            && self.required_by.is_empty()
            && self.upheld_by.is_empty()
            && self.alias.is_empty()
            && self.also.is_empty()
    }
}

/// Parses the `[Install]` section the way systemd does: `#`/`;` comments, `\` continuation
/// lines, space-separated lists that accumulate, and an empty assignment that resets a list.
pub fn parse_install(text: &str) -> Install {
    let mut inst = Install::default();
    let mut in_install = false;
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if logical.is_empty() && (line.starts_with('#') || line.starts_with(';')) {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let l = std::mem::take(&mut logical);
        let l = l.trim();
        if l.starts_with('[') {
            in_install = l == "[Install]";
            continue;
        }
        let Some((key, value)) = l.split_once('=').filter(|_| in_install) else { continue };
        let list = match key.trim() {
            "WantedBy" => &mut inst.wanted_by,
            "RequiredBy" => &mut inst.required_by,
            "UpheldBy" => &mut inst.upheld_by,
            "Alias" => &mut inst.alias,
            "Also" => &mut inst.also,
            "DefaultInstance" => {
                let v = value.trim();
                inst.default_instance = (!v.is_empty()).then(|| v.to_string());
                continue;
            }
            _ => continue,
        };
        if value.trim().is_empty() {
            list.clear();
        }
        for v in value.split_whitespace() {
            if !list.iter().any(|x| x == v) {
                list.push(v.to_string());
            }
        }
    }
    inst
}

/// A unit file found in the root.
#[derive(Debug, Clone)]
pub struct UnitFile {
    /// The file's name: the template name for an instance (`getty@.service`).
    pub file_name: String,
    /// Root-relative directory it was found in.
    pub dir: &'static str,
    pub install: Install,
}

impl UnitFile {
    /// The absolute in-image path systemctl points links at.
    pub fn link_target(&self) -> PathBuf {
        Path::new("/").join(self.dir).join(&self.file_name)
    }
}

/// What a symlink under `etc/systemd/system` is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Link {
    /// Root-relative path of the link.
    pub path: PathBuf,
    /// Its target as written.
    pub target: PathBuf,
}

impl Link {
    pub fn show(&self) -> String {
        format!("{} -> {}", root::show(&self.path), self.target.display())
    }
}

/// Read-only view of a root's units.
pub struct Units<'r> {
    root: &'r Root,
    /// Every symlink in `etc/systemd/system` and its `*.wants`/`*.requires`/`*.upholds`
    /// subdirectories: what enable creates and disable removes.
    links: Vec<Link>,
}

impl<'r> Units<'r> {
    pub fn new(root: &'r Root) -> io::Result<Self> {
        let mut links = Vec::new();
        let top = Path::new(CONFIG_DIR);
        for name in root.list_config(top)? {
            let rel = top.join(&name);
            if let Some(Entry::Link(target)) = root.config_entry(&rel)? {
                links.push(Link { path: rel, target });
                continue;
            }
            let n = name.as_bytes();
            if [&b".wants"[..], b".requires", b".upholds"].iter().any(|s| n.ends_with(s)) {
                for sub in root.list_config(&rel)? {
                    let p = rel.join(sub);
                    if let Some(Entry::Link(target)) = root.config_entry(&p)? {
                        links.push(Link { path: p, target });
                    }
                }
            }
        }
        links.sort();
        Ok(Units { root, links })
    }

    /// Finds the unit file for `name` (an instance falls back to its template).
    pub fn find(&self, name: &str) -> io::Result<Option<UnitFile>> {
        let candidates: Vec<String> = std::iter::once(name.to_string()).chain(template_of(name)).collect();
        for file_name in candidates {
            for dir in search_dirs(self.root.is_live()) {
                let rel = Path::new(dir).join(&file_name);
                // A mask hides nothing from us: `masked` reports it, and the real file below
                // is still what enable would link to once unmasked. Other links (linked unit
                // files, aliases) are read through, inside the root.
                if is_mask(self.root.config_entry(&rel)?) {
                    continue;
                }
                match self.root.read_config_opt(&rel) {
                    Ok(Some(text)) => {
                        let install = parse_install(&String::from_utf8_lossy(&text));
                        return Ok(Some(UnitFile { file_name, dir, install }));
                    }
                    Ok(None) => {}
                    // A directory or device by that name: not a unit file here.
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    }

    /// True when `name` is masked: a link to /dev/null in a configuration directory.
    pub fn masked(&self, name: &str) -> io::Result<bool> {
        let mut dirs = vec![CONFIG_DIR];
        if self.root.is_live() {
            dirs.push("run/systemd/system");
        }
        for d in dirs {
            if is_mask(self.root.config_entry(&Path::new(d).join(name))?) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The links `systemctl enable NAME` makes, following `Also=`: `Ok(None)` when `NAME` or a
    /// unit it names in `Also=` is not installed (with the missing name).
    pub fn enable_links(&self, name: &str) -> io::Result<Result<Vec<Link>, String>> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            if !seen.insert(n.clone()) {
                continue;
            }
            let Some(uf) = self.find(&n)? else { return Ok(Err(n)) };
            let i = &uf.install;
            // The name the links carry: an instance's own name, a template's default instance,
            // or the unit's name.
            let link_name = if is_template(&n) {
                i.default_instance.as_ref().map(|d| instance_name(&n, d))
            } else {
                Some(n.clone())
            };
            let target = uf.link_target();
            if let Some(ln) = &link_name {
                for (list, suffix) in [(&i.wanted_by, "wants"), (&i.required_by, "requires"), (&i.upheld_by, "upholds")]
                {
                    for t in list {
                        let path = Path::new(CONFIG_DIR).join(format!("{t}.{suffix}")).join(ln);
                        out.insert(Link { path, target: target.clone() });
                    }
                }
            }
            for a in &i.alias {
                out.insert(Link { path: Path::new(CONFIG_DIR).join(a), target: target.clone() });
            }
            todo.extend(i.also.iter().cloned());
        }
        Ok(Ok(out.into_iter().collect()))
    }

    /// The existing links `systemctl disable NAME` removes: those named after the unit (or a
    /// unit of its `Also=`) or pointing at it, never a mask.
    pub fn disable_links(&self, name: &str) -> io::Result<Vec<Link>> {
        let mut names = BTreeSet::from([name.to_string()]);
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            if let Some(uf) = self.find(&n)? {
                for a in uf.install.also {
                    if names.insert(a.clone()) {
                        todo.push(a);
                    }
                }
            }
        }
        let base = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(self
            .links
            .iter()
            .filter(|l| l.target != Path::new("/dev/null"))
            .filter(|l| names.contains(&base(&l.path)) || names.contains(&base(&l.target)))
            .cloned()
            .collect())
    }

    /// True when some link in `etc/systemd/system` carries this unit name: the unit is wanted
    /// by something (enabled), whatever its target.
    pub fn linked(&self, name: &str) -> bool {
        self.links.iter().any(|l| l.path.file_name().is_some_and(|n| n == name) && l.target != Path::new("/dev/null"))
    }

    /// What is at a link's path now: `Ok(None)` when nothing is there.
    pub fn existing(&self, path: &Path) -> io::Result<Option<Entry>> {
        self.root.config_entry(path)
    }
}

fn is_mask(e: Option<Entry>) -> bool {
    e.is_some_and(|e| e == Entry::Link("/dev/null".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_completed_like_systemctl() {
        assert_eq!(normalize("nginx").unwrap(), "nginx.service");
        assert_eq!(normalize("nginx.service").unwrap(), "nginx.service");
        assert_eq!(normalize("getty@tty1.service").unwrap(), "getty@tty1.service");
        assert_eq!(normalize("getty@.service").unwrap(), "getty@.service");
        assert_eq!(
            normalize("systemd-fsck@dev-disk-by\\x2dlabel-x.service").unwrap(),
            "systemd-fsck@dev-disk-by\\x2dlabel-x.service"
        );
        assert_eq!(normalize("fstrim.timer").unwrap(), "fstrim.timer");
        for bad in [
            "--now",
            "-x.service",
            "a b.service",
            "nginx;reboot",
            "$(reboot).service",
            "../x.service",
            "/etc/x.service",
            "@x.service",
            "x.scope",
            "x.device",
            "",
            ".service",
            "a\nb",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(normalize(&"a".repeat(300)).is_err());
    }

    #[test]
    fn install_sections_accumulate_reset_and_continue() {
        let text = "[Unit]\nWantedBy=not-this.target\n[Install]\n# comment\nWantedBy=a.target b.target\nWantedBy=c.target\n\
                    RequiredBy=x.target\nRequiredBy=\nRequiredBy=y.target\nAlias=one.service \\\n  two.service\n\
                    Also=helper.socket\nDefaultInstance=tty1\n[Service]\nAlias=nope\n";
        let i = parse_install(text);
        assert_eq!(i.wanted_by, ["a.target", "b.target", "c.target"]);
        assert_eq!(i.required_by, ["y.target"]);
        assert_eq!(i.alias, ["one.service", "two.service"]);
        assert_eq!(i.also, ["helper.socket"]);
        assert_eq!(i.default_instance.as_deref(), Some("tty1"));
        assert!(parse_install("[Service]\nExecStart=/bin/true\n").is_empty());
    }

    #[test]
    fn templates_and_instances() {
        assert_eq!(template_of("getty@tty1.service").as_deref(), Some("getty@.service"));
        assert_eq!(template_of("getty@.service"), None);
        assert_eq!(template_of("nginx.service"), None);
        assert_eq!(instance_name("getty@.service", "tty1"), "getty@tty1.service");
    }
}
