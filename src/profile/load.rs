//! Finding profiles (built-in, `/etc/amiprep/profiles/`, explicit paths), reading them safely,
//! and resolving `extends` into one [`Resolved`] profile.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::schema::ProfileFile;
use super::{Locator, ProfileError, Resolved, apply, base_dir};

/// The built-in profiles, embedded in the binary: `(name, TOML text)`.
pub const BUILTINS: &[(&str, &str)] = &[
    ("default", include_str!("../../profiles/default.toml")),
    ("minimal", include_str!("../../profiles/minimal.toml")),
    ("nginx-web", include_str!("../../profiles/nginx-web.toml")),
];

/// Where profiles named without a path are looked up on the running system (never inside a
/// `--root` image: a profile is the operator's input, not the image's). `AMIPREP_PROFILE_PATH`
/// (colon-separated) replaces it, for tests and unusual installs.
pub fn profile_dirs() -> Vec<PathBuf> {
    match std::env::var_os("AMIPREP_PROFILE_PATH") {
        Some(v) => std::env::split_paths(&v).collect(),
        None => vec![PathBuf::from("/etc/amiprep/profiles")],
    }
}

/// A profile's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    /// `None` for a built-in.
    pub path: Option<PathBuf>,
    pub text: String,
}

impl Source {
    /// How errors and `profile list` name it.
    pub fn label(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => format!("builtin:{}", self.name),
        }
    }

    /// A stable identity for cycle detection.
    fn key(&self) -> String {
        match &self.path {
            Some(p) => std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()).display().to_string(),
            None => format!("builtin:{}", self.name),
        }
    }
}

fn is_path(spec: &str) -> bool {
    spec.contains('/') || spec.ends_with(".toml")
}

/// Finds a profile by name or path. `relative_to` is the directory of the file that names it in
/// `extends` (relative paths are taken from there); `builtin_only` is set for the `extends` of a
/// built-in, which always means another built-in.
pub fn find(spec: &str, relative_to: Option<&Path>, builtin_only: bool) -> Result<Source, ProfileError> {
    let not_found = |msg: String, hint: &str| ProfileError {
        file: spec.to_string(),
        at: None,
        message: msg,
        hint: Some(hint.to_string()),
        refused: false,
    };
    if let Some(name) = spec.strip_prefix("builtin:") {
        return builtin(name).ok_or_else(|| {
            not_found(
                format!("no built-in profile named {name:?}"),
                "run `amiprep profile list` to see the built-in profiles",
            )
        });
    }
    if is_path(spec) {
        if builtin_only {
            return Err(not_found("a built-in profile cannot extend a file".into(), "extend built-ins by name"));
        }
        let p = match relative_to {
            Some(dir) if Path::new(spec).is_relative() => dir.join(spec),
            _ => PathBuf::from(spec),
        };
        return read_file(spec, &p);
    }
    if !builtin_only {
        for dir in profile_dirs() {
            let p = dir.join(format!("{spec}.toml"));
            if p.exists() {
                return read_file(spec, &p);
            }
        }
    }
    builtin(spec).ok_or_else(|| {
        let dirs: Vec<String> = profile_dirs().iter().map(|d| d.display().to_string()).collect();
        not_found(
            format!("no profile named {spec:?} (looked in the built-ins and {})", dirs.join(", ")),
            "run `amiprep profile list`, or give a path to a .toml file",
        )
    })
}

fn builtin(name: &str) -> Option<Source> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(n, t)| Source {
        name: n.to_string(),
        path: None,
        text: t.to_string(),
    })
}

/// Reads a profile file, refusing it when running as root and it could have been written by
/// someone else: an unprivileged user who can edit it could make root delete anything.
fn read_file(spec: &str, p: &Path) -> Result<Source, ProfileError> {
    let file = p.display().to_string();
    let err = |message: String, hint: &str, refused: bool| ProfileError {
        file: file.clone(),
        at: None,
        message,
        hint: Some(hint.to_string()),
        refused,
    };
    let f = std::fs::File::open(p).map_err(|e| {
        err(
            format!("cannot open profile: {e}"),
            "check the path; `amiprep profile list` shows the known profiles",
            false,
        )
    })?;
    let meta = f.metadata().map_err(|e| err(format!("cannot stat profile: {e}"), "check the file", false))?;
    if !meta.is_file() {
        return Err(err("is not a regular file".into(), "give the path of a .toml file", false));
    }
    if rustix::process::geteuid().is_root() {
        check_trusted(p, &meta).map_err(|m| err(m, &format!("run `chown root:root {file} && chmod go-w {file}` (and the same for its directory) if you trust its content"), true))?;
    }
    let text = std::io::read_to_string(f)
        .map_err(|e| err(format!("cannot read profile: {e}"), "profiles are UTF-8 TOML", false))?;
    let name = p.file_stem().map_or_else(|| spec.to_string(), |s| s.to_string_lossy().into_owned());
    Ok(Source { name, path: Some(p.to_path_buf()), text })
}

/// The sudoers rule: owned by root and writable by nobody else, and the same for the directory
/// holding it (unless that directory is sticky, like /tmp, where others cannot replace it).
fn check_trusted(p: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    if meta.uid() != 0 {
        return Err(format!("refusing a profile owned by uid {} while running as root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "refusing a profile that group or others can write (mode {:04o}) while running as root",
            meta.mode() & 0o7777
        ));
    }
    let dir =
        std::fs::canonicalize(p).ok().and_then(|c| c.parent().map(Path::to_path_buf)).unwrap_or_else(|| base_dir(p));
    if let Ok(d) = std::fs::metadata(&dir) {
        let sticky = d.mode() & 0o1000 != 0;
        if !sticky && (d.uid() != 0 || d.mode() & 0o022 != 0) {
            return Err(format!(
                "refusing a profile in {}, which someone other than root can write to (owner uid {}, mode {:04o})",
                dir.display(),
                d.uid(),
                d.mode() & 0o7777
            ));
        }
    }
    Ok(())
}

/// Parses one source, reporting errors with its file, line and column.
pub(super) fn parse(src: &Source) -> Result<ProfileFile, ProfileError> {
    toml::from_str(&src.text).map_err(|e| {
        let loc = Locator { file: &src.label(), text: &src.text };
        let at = e.span().map(|s| loc.at(s.start));
        let msg = e.message().trim().to_string();
        let hint = if msg.contains("unknown field") {
            let guess = did_you_mean(&msg).map(|g| format!("did you mean `{g}`? ")).unwrap_or_default();
            format!("{guess}remove or rename the key; `amiprep profile show default --resolved` lists every key")
        } else if msg.contains("unknown variant") {
            let guess = did_you_mean(&msg).map(|g| format!("did you mean `{g}`? ")).unwrap_or_default();
            format!("{guess}use one of the values listed above")
        } else {
            "fix the TOML syntax at that place".to_string()
        };
        ProfileError { file: src.label(), at, message: msg, hint: Some(hint), refused: false }
    })
}

/// Loads and merges the profiles named on the command line, in order.
pub fn load(specs: &[String]) -> Result<Resolved, ProfileError> {
    let specs: Vec<String> = if specs.is_empty() { vec!["default".into()] } else { specs.to_vec() };
    let mut r = Resolved { names: specs.clone(), ..Resolved::default() };
    for spec in &specs {
        let src = find(spec, None, false)?;
        merge(&mut r, &src, &mut Vec::new())?;
    }
    Ok(r)
}

/// Merges `src` over `r`: its parents first, in the order listed, then itself. `stack` holds
/// the files being merged above this one, to catch `extends` cycles at the entry closing them.
fn merge(r: &mut Resolved, src: &Source, stack: &mut Vec<String>) -> Result<(), ProfileError> {
    let file = parse(src)?;
    let label = src.label();
    let loc = Locator { file: &label, text: &src.text };
    stack.push(src.key());
    for parent in &file.extends {
        let located = |message: String, hint: Option<String>, refused: bool| ProfileError {
            file: label.clone(),
            at: Some(loc.at(parent.span().start)),
            message,
            hint,
            refused,
        };
        let found =
            find(parent.get_ref(), src.path.as_deref().map(base_dir).as_deref(), src.path.is_none()).map_err(|e| {
                located(format!("extends {:?}: {}", parent.get_ref(), e.message), e.hint.clone(), e.refused)
            })?;
        let key = found.key();
        if let Some(pos) = stack.iter().position(|k| *k == key) {
            let mut cycle: Vec<&str> = stack[pos..].iter().map(String::as_str).collect();
            cycle.push(&key);
            let hint = Some("remove one of the `extends` entries so the chain ends".to_string());
            return Err(located(format!("extends cycle: {}", cycle.join(" -> ")), hint, false));
        }
        merge(r, &found, stack)?;
    }
    stack.pop();
    apply(r, &file, &loc)?;
    r.chain.push(label);
    Ok(())
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" picks the expected name closest
/// to the unknown one, if it is close enough to be a typo.
fn did_you_mean(msg: &str) -> Option<String> {
    let names: Vec<&str> = msg.split('`').skip(1).step_by(2).collect();
    let (unknown, expected) = names.split_first()?;
    expected.iter().map(|e| (edit_distance(unknown, e), *e)).filter(|(d, _)| *d <= 3).min().map(|(_, e)| e.to_string())
}

/// Levenshtein distance, for typo suggestions.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggestions() {
        assert_eq!(super::did_you_mean("unknown field `tmpx`, expected one of `tmp`, `logs`").as_deref(), Some("tmp"));
        assert_eq!(super::did_you_mean("unknown field `zzzzzzzz`, expected one of `tmp`, `logs`"), None);
        assert_eq!(super::edit_distance("enabeld", "enabled"), 2);
    }
}
