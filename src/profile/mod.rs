//! Profiles: finding them, checking them, resolving `extends`, and the merged result.

mod load;
pub mod schema;
mod show;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use toml::Spanned;

pub use load::{BUILTINS, find, load, profile_dirs};
use schema::{MachineIdMode, ProfileFile, Then};
pub use show::{render_resolved, settings_sha256};

use crate::ops::CATALOGUE;

/// A problem with a profile, located in its file.
#[derive(Debug)]
pub struct ProfileError {
    pub file: String,
    /// 1-based line and column, when the problem has a place.
    pub at: Option<(usize, usize)>,
    pub message: String,
    pub hint: Option<String>,
    /// True when amiprep refuses the file for safety (ownership, permissions) rather than
    /// because it is malformed: the exit code differs.
    pub refused: bool,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((l, c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  fix: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProfileError {}

/// A root-relative glob rule and where it was written.
#[derive(Debug, Clone)]
pub struct Rule {
    pub glob: String,
    pub origin: String,
}

/// The merged profile: every operation switched on or off, every option filled in.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The profiles as named on the command line (or `default`).
    pub names: Vec<String>,
    /// Every file merged, parents first, as `name (origin)`.
    pub chain: Vec<String>,
    pub description: String,
    /// On/off by catalogue id.
    pub enabled: BTreeMap<&'static str, bool>,
    pub authorized_keys_extra: Vec<String>,
    pub shell_history_extra: Vec<String>,
    pub credentials_extra: Vec<String>,
    pub machine_id_mode: MachineIdMode,
    pub cloud_init_seed: bool,
    pub cloud_init_logs: bool,
    pub cloud_init_network_config: bool,
    pub hostname: bool,
    pub journal: bool,
    pub remove: Vec<Rule>,
    pub truncate: Vec<Rule>,
    pub keep: Vec<Rule>,
    pub users_remove: Vec<String>,
    pub users_lock: Vec<String>,
    pub include_mounts: Vec<String>,
    /// The `[checks]` section: audit sets, skips, remediation and thresholds.
    pub checks: crate::audit::Settings,
    /// `[services]`, in the order written, each unit at most once per verb.
    pub services: Vec<ServiceWant>,
    pub services_preset: bool,
    pub then: Then,
    pub console: bool,
    pub firstboot: FirstbootConf,
}

/// What a profile wants done to a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Unmask,
    Disable,
    Mask,
    Enable,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Unmask => "unmask",
            Verb::Disable => "disable",
            Verb::Mask => "mask",
            Verb::Enable => "enable",
        }
    }

    /// Two wishes about one unit that cannot both hold. Unmask goes with enable or disable
    /// (it is applied first), never with mask.
    fn conflicts(self, other: Verb) -> bool {
        self != other
            && !matches!(
                (self, other),
                (Verb::Unmask, Verb::Enable | Verb::Disable) | (Verb::Enable | Verb::Disable, Verb::Unmask)
            )
    }
}

/// One `[services]` entry: a validated, full unit name and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceWant {
    pub unit: String,
    pub verb: Verb,
    pub origin: String,
}

/// The `[firstboot]` section, resolved. It travels in the receipt, so it is serializable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FirstbootConf {
    pub host_keys: bool,
    /// Empty: the types the image's sshd_config asks for.
    pub host_key_types: Vec<String>,
    pub start: Vec<String>,
}

impl Default for FirstbootConf {
    fn default() -> Self {
        FirstbootConf { host_keys: true, host_key_types: Vec::new(), start: Vec::new() }
    }
}

/// The host key types `[firstboot] host_key_types` accepts.
pub const HOST_KEY_TYPES: &[&str] = &["rsa", "ecdsa", "ed25519"];

impl Default for Resolved {
    /// The catalogue defaults, before any profile is applied.
    fn default() -> Self {
        Resolved {
            names: Vec::new(),
            chain: Vec::new(),
            description: String::new(),
            enabled: CATALOGUE.iter().map(|op| (op.id, op.default_on)).collect(),
            authorized_keys_extra: Vec::new(),
            shell_history_extra: Vec::new(),
            credentials_extra: Vec::new(),
            machine_id_mode: MachineIdMode::default(),
            cloud_init_seed: false,
            cloud_init_logs: true,
            cloud_init_network_config: true,
            hostname: true,
            journal: true,
            remove: Vec::new(),
            truncate: Vec::new(),
            keep: Vec::new(),
            users_remove: Vec::new(),
            users_lock: Vec::new(),
            include_mounts: Vec::new(),
            checks: crate::audit::Settings::default(),
            services: Vec::new(),
            services_preset: true,
            then: Then::None,
            console: true,
            firstboot: FirstbootConf::default(),
        }
    }
}

impl Resolved {
    pub fn is_enabled(&self, id: &str) -> bool {
        self.enabled.get(id).copied().unwrap_or(false)
    }

    /// The `keep` globs, compiled.
    pub fn keep_set(&self) -> GlobSet {
        compile_set(&self.keep)
    }
}

/// Compiles rules that were validated when the profile was applied.
pub fn compile_set(rules: &[Rule]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for r in rules {
        b.add(glob(&r.glob).expect("validated when the profile was loaded"));
    }
    b.build().expect("validated when the profile was loaded")
}

/// Profile globs: `*` and `?` stay within one path component, `**` crosses them, and a leading
/// `/` is optional (globs are always root-relative).
pub fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern.trim_start_matches('/')).literal_separator(true).backslash_escape(true).build()
}

/// Where in a file a spanned value sits.
struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    fn at(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    fn err<T>(&self, v: &Spanned<T>, message: String, hint: &str) -> ProfileError {
        ProfileError {
            file: self.file.to_string(),
            at: Some(self.at(v.span().start)),
            message,
            hint: Some(hint.to_string()),
            refused: false,
        }
    }
}

fn push_unique(list: &mut Vec<String>, v: &str) {
    if !list.iter().any(|x| x == v) {
        list.push(v.to_string());
    }
}

/// Applies one parsed file over the accumulated result, validating its values.
fn apply(r: &mut Resolved, f: &ProfileFile, loc: &Locator<'_>) -> Result<(), ProfileError> {
    if let Some(d) = &f.description {
        r.description = d.clone();
    }
    let o = &f.operations;
    let switches = [
        ("ssh-host-keys", o.ssh_host_keys.as_ref().and_then(|x| x.enabled)),
        ("authorized-keys", o.authorized_keys.as_ref().and_then(|x| x.enabled)),
        ("shell-history", o.shell_history.as_ref().and_then(|x| x.enabled)),
        ("credentials", o.credentials.as_ref().and_then(|x| x.enabled)),
        ("machine-id", o.machine_id.as_ref().and_then(|x| x.enabled)),
        ("cloud-init", o.cloud_init.as_ref().and_then(|x| x.enabled)),
        ("network-identity", o.network_identity.as_ref().and_then(|x| x.enabled)),
        ("random-seed", o.random_seed.as_ref().and_then(|x| x.enabled)),
        ("logs", o.logs.as_ref().and_then(|x| x.enabled)),
        ("tmp", o.tmp.as_ref().and_then(|x| x.enabled)),
        ("package-cache", o.package_cache.as_ref().and_then(|x| x.enabled)),
        ("leftovers", o.leftovers.as_ref().and_then(|x| x.enabled)),
        ("mail-spool", o.mail_spool.as_ref().and_then(|x| x.enabled)),
        ("user-crontabs", o.user_crontabs.as_ref().and_then(|x| x.enabled)),
        ("rpm-db", o.rpm_db.as_ref().and_then(|x| x.enabled)),
    ];
    for (id, on) in switches {
        if let Some(on) = on {
            r.enabled.insert(id, on);
        }
    }
    let home_rel = |list: &[Spanned<String>], into: &mut Vec<String>, what: &str| -> Result<(), ProfileError> {
        for v in list {
            let s = v.get_ref();
            if s.is_empty()
                || s.starts_with('/')
                || Path::new(s).components().any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(loc.err(
                    v,
                    format!("{what} entry {s:?} must be a plain path relative to the home directory"),
                    "write it like \".config/tool/token\": no leading /, no .. or .",
                ));
            }
            push_unique(into, s);
        }
        Ok(())
    };
    if let Some(a) = &o.authorized_keys {
        for v in &a.extra_files {
            if v.get_ref().contains('/')
                || v.get_ref().is_empty()
                || v.get_ref().starts_with('.') && v.get_ref().trim_matches('.').is_empty()
            {
                return Err(loc.err(
                    v,
                    format!("extra_files entry {:?} must be a file name inside ~/.ssh", v.get_ref()),
                    "write a bare name such as \"id_rsa\"",
                ));
            }
        }
        home_rel(&a.extra_files, &mut r.authorized_keys_extra, "extra_files")?;
    }
    if let Some(h) = &o.shell_history {
        home_rel(&h.extra, &mut r.shell_history_extra, "extra")?;
    }
    if let Some(c) = &o.credentials {
        home_rel(&c.extra, &mut r.credentials_extra, "extra")?;
    }
    if let Some(m) = o.machine_id.as_ref().and_then(|m| m.mode) {
        r.machine_id_mode = m;
    }
    if let Some(c) = &o.cloud_init {
        r.cloud_init_seed = c.seed.unwrap_or(r.cloud_init_seed);
        r.cloud_init_logs = c.logs.unwrap_or(r.cloud_init_logs);
        r.cloud_init_network_config = c.network_config.unwrap_or(r.cloud_init_network_config);
    }
    if let Some(n) = o.network_identity.as_ref().and_then(|n| n.hostname) {
        r.hostname = n;
    }
    if let Some(j) = o.logs.as_ref().and_then(|l| l.journal) {
        r.journal = j;
    }
    for (list, into) in
        [(&f.files.remove, &mut r.remove), (&f.files.truncate, &mut r.truncate), (&f.files.keep, &mut r.keep)]
    {
        for v in list {
            let g = v.get_ref();
            if let Err(e) = glob(g) {
                return Err(loc.err(
                    v,
                    format!("bad glob {g:?}: {}", e.kind()),
                    "globs use * ? [abc] {a,b} and **; escape a literal metacharacter with a backslash",
                ));
            }
            if g.trim_start_matches('/').is_empty() || g.split('/').any(|c| c == "..") {
                return Err(loc.err(
                    v,
                    format!("glob {g:?} must name paths inside the root"),
                    "write a root-relative glob such as \"var/cache/myapp/**\"; `..` is not allowed",
                ));
            }
            if !into.iter().any(|x: &Rule| x.glob == *g) {
                let (line, col) = loc.at(v.span().start);
                into.push(Rule { glob: g.clone(), origin: format!("{}:{line}:{col}", loc.file) });
            }
        }
    }
    for (list, into) in [(&f.users.remove, &mut r.users_remove), (&f.users.lock, &mut r.users_lock)] {
        for v in list {
            if !crate::accounts::valid_name(v.get_ref()) {
                return Err(loc.err(
                    v,
                    format!("{:?} is not a valid user name", v.get_ref()),
                    "user names are 1-32 characters of a-z, 0-9, _ and -, starting with a letter or _",
                ));
            }
            push_unique(into, v.get_ref());
        }
    }
    for v in &f.walk.include_mounts {
        match crate::root::rel(v.get_ref()) {
            Ok(p) if !p.as_os_str().is_empty() => push_unique(&mut r.include_mounts, &p.to_string_lossy()),
            _ => {
                return Err(loc.err(
                    v,
                    format!("include_mounts entry {:?} is not a path inside the root", v.get_ref()),
                    "write the mount point root-relative, e.g. \"var/log\"",
                ));
            }
        }
    }
    apply_services(r, f, loc)?;
    apply_checks(&mut r.checks, &f.checks, loc)?;
    if let Some(t) = f.signal.then {
        r.then = t;
    }
    if let Some(c) = f.signal.console {
        r.console = c;
    }
    let fb = &f.firstboot;
    if let Some(h) = fb.host_keys {
        r.firstboot.host_keys = h;
    }
    for v in &fb.host_key_types {
        if !HOST_KEY_TYPES.contains(&v.get_ref().as_str()) {
            return Err(loc.err(
                v,
                format!("{:?} is not a host key type amiprep generates", v.get_ref()),
                &format!("use one of {}", HOST_KEY_TYPES.join(", ")),
            ));
        }
        push_unique(&mut r.firstboot.host_key_types, v.get_ref());
    }
    for v in &fb.start {
        let unit = crate::units::normalize(v.get_ref())
            .map_err(|m| loc.err(v, m, "write a systemd unit name such as \"nginx.service\""))?;
        push_unique(&mut r.firstboot.start, &unit);
    }
    Ok(())
}

/// Merges `[services]`: names are validated and completed (`nginx` -> `nginx.service`); a unit
/// this file names replaces what earlier files wanted for it; two conflicting wishes in one
/// file are an error.
fn apply_services(r: &mut Resolved, f: &ProfileFile, loc: &Locator<'_>) -> Result<(), ProfileError> {
    let s = &f.services;
    let mut mine: Vec<ServiceWant> = Vec::new();
    for (list, verb) in
        [(&s.unmask, Verb::Unmask), (&s.disable, Verb::Disable), (&s.mask, Verb::Mask), (&s.enable, Verb::Enable)]
    {
        for v in list {
            let unit = crate::units::normalize(v.get_ref()).map_err(|m| {
                loc.err(v, m, "write a systemd unit name such as \"nginx.service\" or \"getty@tty1.service\"")
            })?;
            let (line, col) = loc.at(v.span().start);
            if let Some(other) = mine.iter().find(|w| w.unit == unit && w.verb.conflicts(verb)) {
                return Err(loc.err(
                    v,
                    format!(
                        "{unit} is in both [services] {} ({}) and {}",
                        other.verb.as_str(),
                        other.origin,
                        verb.as_str()
                    ),
                    "name each unit in one list only (unmask may go with enable or disable)",
                ));
            }
            if !mine.iter().any(|w| w.unit == unit && w.verb == verb) {
                mine.push(ServiceWant { unit, verb, origin: format!("{}:{line}:{col}", loc.file) });
            }
        }
    }
    for w in &mine {
        r.services.retain(|old| !(old.unit == w.unit && (old.verb.conflicts(w.verb) || old.verb == w.verb)));
    }
    r.services.extend(mine);
    r.services.sort_by_key(|w| w.verb);
    if let Some(p) = s.preset {
        r.services_preset = p;
    }
    Ok(())
}

/// Merges a `[checks]` section: set and id lists append, scalars replace.
fn apply_checks(r: &mut crate::audit::Settings, c: &schema::Checks, loc: &Locator<'_>) -> Result<(), ProfileError> {
    for (list, into, what) in [(&c.include, &mut r.include, "include"), (&c.skip, &mut r.skip, "skip")] {
        for v in list {
            let name = v.get_ref();
            if !crate::audit::is_known(name) {
                let known: Vec<&str> = crate::audit::SETS
                    .iter()
                    .map(|(s, _)| *s)
                    .chain(crate::audit::CHECKS.iter().map(|c| c.id))
                    .collect();
                let hint = match known
                    .iter()
                    .min_by_key(|k| load::edit_distance(k, name))
                    .filter(|k| load::edit_distance(k, name) <= 3)
                {
                    Some(k) => format!("did you mean {k:?}? `amiprep checks list` shows every set and check id"),
                    None => "name a set (cis-level1, cis-level2, image-ready) or a check id from `amiprep checks list`"
                        .into(),
                };
                return Err(loc.err(v, format!("[checks] {what}: unknown set or check {name:?}"), &hint));
            }
            push_unique(into, name);
        }
    }
    if let Some(on) = c.remediate {
        r.remediate = on;
    }
    if let Some(v) = &c.permit_root_login {
        if !crate::audit::PERMIT_ROOT_LOGIN.contains(&v.get_ref().as_str()) {
            return Err(loc.err(
                v,
                format!("permit_root_login {:?} is not allowed", v.get_ref()),
                "write \"no\" or \"prohibit-password\"",
            ));
        }
        r.permit_root_login = v.get_ref().clone();
    }
    for (name, value) in c.params() {
        let Some(v) = value else { continue };
        let n = *v.get_ref();
        if !(0..=1_000_000).contains(&n) {
            return Err(loc.err(v, format!("{name} = {n} is out of range"), "use a whole number from 0 to 1000000"));
        }
        if let Some(slot) = r.params.iter_mut().find(|(k, _)| *k == name) {
            slot.1 = n;
        }
    }
    Ok(())
}

/// The directory for relative `extends` of a file profile.
fn base_dir(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[cfg(test)]
mod tests;
