//! A static reader of the root's `sshd_config`: follows `Include` (with globs, in sorted order,
//! as sshd does) and tells global directives apart from those inside `Match` blocks.
//!
//! sshd uses the first value it sees for most keywords, so the first global directive of a
//! keyword is its effective global value.

use std::path::{Path, PathBuf};

use crate::root::{self, Root};

/// One directive in file order after includes are expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Lowercased keyword.
    pub keyword: String,
    pub args: Vec<String>,
    /// True inside a `Match` block: not a global value.
    pub in_match: bool,
    /// Root-relative file and 1-based line it came from.
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Default)]
pub struct Config {
    pub directives: Vec<Directive>,
    /// Problems met while reading (unreadable includes, include loops).
    pub problems: Vec<(PathBuf, String)>,
}

/// Reads `etc/ssh/sshd_config` of the root, or an empty config when there is none.
pub fn read(root: &Root) -> Config {
    let mut c = Config::default();
    let mut in_match = false;
    read_file(root, Path::new("etc/ssh/sshd_config"), &mut c, &mut in_match, 0);
    c
}

/// sshd's own include depth limit.
const MAX_INCLUDE_DEPTH: usize = 16;

fn read_file(root: &Root, rel: &Path, c: &mut Config, in_match: &mut bool, depth: usize) {
    if depth > MAX_INCLUDE_DEPTH {
        c.problems.push((rel.to_path_buf(), "Include nested too deeply (a loop?)".into()));
        return;
    }
    let data = match root.read_config_opt(rel) {
        Ok(Some(d)) => d,
        Ok(None) => return,
        Err(e) => {
            c.problems.push((rel.to_path_buf(), format!("cannot read: {e}")));
            return;
        }
    };
    let text = String::from_utf8_lossy(&data);
    for (i, line) in text.lines().enumerate() {
        let words = split_words(line);
        let Some((kw, args)) = words.split_first() else { continue };
        let keyword = kw.to_ascii_lowercase();
        if keyword == "include" {
            for pattern in args {
                for file in expand_include(root, pattern) {
                    read_file(root, &file, c, in_match, depth + 1);
                }
            }
            continue;
        }
        if keyword == "match" {
            // `Match all` ends the conditional block in recent OpenSSH.
            *in_match = !(args.len() == 1 && args[0].eq_ignore_ascii_case("all"));
            continue;
        }
        c.directives.push(Directive {
            keyword,
            args: args.to_vec(),
            in_match: *in_match,
            file: rel.to_path_buf(),
            line: i + 1,
        });
    }
}

/// Splits a config line into words: `#` starts a comment, `=` may separate keyword and value,
/// double quotes group.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut has = false;
    for ch in line.trim().chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                has = true;
            }
            '#' if !quoted && !has && cur.is_empty() => break,
            c if !quoted && (c.is_whitespace() || (c == '=' && words.is_empty())) => {
                if has {
                    words.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has {
        words.push(cur);
    }
    words
}

/// Expands an `Include` argument: relative paths are under `etc/ssh`, and a glob in the last
/// component is matched against that directory's names, sorted.
fn expand_include(root: &Root, pattern: &str) -> Vec<PathBuf> {
    let full = if pattern.starts_with('/') { pattern.to_string() } else { format!("/etc/ssh/{pattern}") };
    let Ok(rel) = root::rel(&full) else { return Vec::new() };
    let (Some(dir), Some(name)) = (rel.parent(), rel.file_name()) else { return Vec::new() };
    let name = name.to_string_lossy();
    if !name.contains(['*', '?', '[']) {
        return vec![rel.clone()];
    }
    let Ok(matcher) = crate::profile::glob(&name).map(|g| g.compile_matcher()) else { return Vec::new() };
    let Ok(fd) = root.open_config(dir) else { return Vec::new() };
    let Ok(entries) = rustix::fs::Dir::new(fd) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| String::from_utf8_lossy(e.file_name().to_bytes()).into_owned())
        .filter(|n| n != "." && n != ".." && matcher.is_match(n))
        .map(|n| dir.join(n))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            split_words("  AuthorizedKeysFile .ssh/a  \"/etc/x y\" # c"),
            ["AuthorizedKeysFile", ".ssh/a", "/etc/x y"]
        );
        assert_eq!(split_words("Port=22"), ["Port", "22"]);
        assert!(split_words("# only a comment").is_empty());
    }

    #[test]
    fn includes_and_match_blocks() {
        let t = tempfile::tempdir().unwrap();
        let ssh = t.path().join("etc/ssh");
        std::fs::create_dir_all(ssh.join("sshd_config.d")).unwrap();
        std::fs::write(
            ssh.join("sshd_config"),
            "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nMatch User bob\n  AuthorizedKeysFile /bob\n",
        )
        .unwrap();
        std::fs::write(ssh.join("sshd_config.d/50-b.conf"), "AuthorizedKeysFile /b\n").unwrap();
        std::fs::write(ssh.join("sshd_config.d/10-a.conf"), "PermitRootLogin no\n").unwrap();
        let root = Root::open(t.path()).unwrap();
        let c = read(&root);
        let first = |k: &str| c.directives.iter().find(|d| !d.in_match && d.keyword == k).unwrap();
        // Includes are read where they stand, sorted: 10-a before 50-b, both before the rest.
        assert_eq!(first("permitrootlogin").args, ["no"]);
        assert_eq!(first("authorizedkeysfile").args, ["/b"]);
        assert!(c.directives.iter().any(|d| d.in_match && d.args == ["/bob"]));
    }
}
