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
    /// Inside a `Match all` block: applies to every connection, and (for the keywords a
    /// Match block may set) overrides the global value, as every Match block that matches
    /// does.
    pub match_all: bool,
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
    read_file(root, Path::new("etc/ssh/sshd_config"), &mut c, &mut None, 0);
    c
}

/// sshd's own include depth limit.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Reads one file into `c`. `block` is the `Match` criteria in force (`None`: global).
fn read_file(root: &Root, rel: &Path, c: &mut Config, block: &mut Option<Vec<String>>, depth: usize) {
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
        let at = |keyword: String, args: Vec<String>, block: &Option<Vec<String>>| Directive {
            keyword,
            args,
            in_match: block.is_some(),
            match_all: block.as_ref().is_some_and(|b| b.len() == 1 && b[0].eq_ignore_ascii_case("all")),
            file: rel.to_path_buf(),
            line: i + 1,
        };
        if keyword == "include" {
            for pattern in args {
                for file in expand_include(root, pattern) {
                    // sshd restores the Match state after an included file: a `Match` opened
                    // in a drop-in ends with that drop-in and never swallows what follows the
                    // `Include` (servconf.c, `oactive`).
                    let outer = block.clone();
                    read_file(root, &file, c, block, depth + 1);
                    *block = outer;
                }
            }
            continue;
        }
        if keyword == "match" {
            *block = Some(args.to_vec());
            c.directives.push(at(keyword, args.to_vec(), &None));
            continue;
        }
        c.directives.push(at(keyword, args.to_vec(), block));
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

/// The effective global value of one keyword, as `sshd -T` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub value: String,
    /// Where it was set (`file:line`), or `None` for sshd's built-in default.
    pub source: Option<(PathBuf, usize)>,
}

impl Config {
    /// The first global directive of `keyword` (lowercase): sshd keeps the first value it
    /// reads for every keyword [`effective`] knows, and directives inside `Match` blocks only
    /// apply to the connections they match.
    pub fn first_global(&self, keyword: &str) -> Option<&Directive> {
        self.directives.iter().find(|d| (!d.in_match || d.match_all) && d.keyword == keyword)
    }

    /// The directive that decides `keyword` for every connection: the first one in a
    /// `Match all` block when the keyword may be set in Match blocks (sshd applies matching
    /// blocks over the global values, first value winning among them), else the first global
    /// one (`Match all` blocks count as global there too).
    pub fn deciding(&self, keyword: &str) -> Option<&Directive> {
        let overriding = MATCH_KEYWORDS
            .contains(&keyword)
            .then(|| self.directives.iter().find(|d| d.match_all && d.keyword == keyword))
            .flatten();
        overriding.or_else(|| self.first_global(keyword))
    }

    /// The effective global value of `keyword`, normalised the way `sshd -T` prints it
    /// (lowercase keyword, times in seconds, `prohibit-password` as `without-password`,
    /// cipher lists with `+ - ^` applied to the default). `None` for keywords amiprep does not
    /// model.
    pub fn effective(&self, keyword: &str) -> Option<Value> {
        let (_, default) = DEFAULTS.iter().find(|(k, _)| *k == keyword)?;
        let Some(d) = self.deciding(keyword) else {
            return Some(Value { value: default.to_string(), source: None });
        };
        let source = Some((d.file.clone(), d.line));
        let value = normalise(keyword, &d.args, default);
        Some(Value { value, source })
    }
}

/// The keywords of [`DEFAULTS`] that a `Match` block may set (sshd_config(5)).
const MATCH_KEYWORDS: &[&str] = &[
    "permitrootlogin",
    "permitemptypasswords",
    "maxauthtries",
    "hostbasedauthentication",
    "ignorerhosts",
    "clientaliveinterval",
    "clientalivecountmax",
    "maxsessions",
    "loglevel",
    "banner",
    "x11forwarding",
    "disableforwarding",
    "passwordauthentication",
    "pubkeyauthentication",
    "authorizedkeysfile",
    "authorizedkeyscommand",
];

/// The keywords the audit reads, with OpenSSH's compiled-in defaults (9.x, as `sshd -T`
/// prints them with an empty config).
pub const DEFAULTS: &[(&str, &str)] = &[
    ("permitrootlogin", "without-password"),
    ("permitemptypasswords", "no"),
    ("maxauthtries", "6"),
    ("hostbasedauthentication", "no"),
    ("ignorerhosts", "yes"),
    ("permituserenvironment", "no"),
    ("logingracetime", "120"),
    ("clientaliveinterval", "0"),
    ("clientalivecountmax", "3"),
    ("maxstartups", "10:30:100"),
    ("maxsessions", "10"),
    ("loglevel", "INFO"),
    ("usepam", "no"),
    ("banner", "none"),
    ("x11forwarding", "no"),
    ("disableforwarding", "no"),
    ("passwordauthentication", "yes"),
    ("pubkeyauthentication", "yes"),
    ("authorizedkeysfile", ".ssh/authorized_keys .ssh/authorized_keys2"),
    ("authorizedkeyscommand", "none"),
    (
        "ciphers",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
    ),
    (
        "macs",
        "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
    ),
    (
        "kexalgorithms",
        "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
    ),
];

/// Turns the arguments of a directive into `sshd -T`'s spelling of the value.
fn normalise(keyword: &str, args: &[String], default: &str) -> String {
    let first = args.first().map(String::as_str).unwrap_or("");
    match keyword {
        "permitrootlogin" => match first.to_ascii_lowercase().as_str() {
            "prohibit-password" | "without-password" => "without-password".into(),
            other => other.into(),
        },
        "logingracetime" | "clientaliveinterval" => parse_time(first).map_or(first.into(), |t| t.to_string()),
        "loglevel" => first.to_ascii_uppercase(),
        "maxstartups" => {
            // `begin[:rate:full]`; a bare number is begin and full with the default rate.
            let parts: Vec<&str> = first.split(':').collect();
            match parts.as_slice() {
                [n] => format!("{n}:30:{n}"),
                _ => first.into(),
            }
        }
        "ciphers" | "macs" | "kexalgorithms" => apply_list_modifier(first, default),
        "authorizedkeysfile" => args.join(" "),
        "banner" | "authorizedkeyscommand" => first.into(),
        _ => first.to_ascii_lowercase(),
    }
}

/// sshd's time format: `90`, `1m`, `1h30m`, `2d` (seconds, minutes, hours, days, weeks).
pub fn parse_time(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let mult = match ch.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return None,
        };
        total += num.parse::<u64>().ok()? * mult;
        num.clear();
    }
    if !num.is_empty() {
        total += num.parse::<u64>().ok()?;
    }
    Some(total)
}

/// `+list` appends to the default, `-list` removes from it (wildcards allowed), `^list`
/// puts the list first; anything else replaces it.
fn apply_list_modifier(spec: &str, default: &str) -> String {
    let defaults: Vec<&str> = default.split(',').collect();
    let Some(rest) = spec.get(1..) else { return spec.into() };
    let given: Vec<&str> = rest.split(',').filter(|x| !x.is_empty()).collect();
    let list: Vec<&str> = match spec.as_bytes().first() {
        Some(b'+') => defaults.iter().copied().chain(given.iter().copied().filter(|g| !defaults.contains(g))).collect(),
        Some(b'-') => defaults.iter().copied().filter(|d| !given.iter().any(|g| wildcard(g, d))).collect(),
        Some(b'^') => given.iter().copied().chain(defaults.iter().copied().filter(|d| !given.contains(d))).collect(),
        _ => return spec.into(),
    };
    list.join(",")
}

/// sshd's `match_pattern`: `*` and `?` wildcards.
fn wildcard(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

/// Copies the root's sshd configuration into `dir` (main file and every included file, at
/// their root-relative paths under `dir`), with `Include` arguments pointed at the copies, so
/// `sshd -t -f <returned path>` reads exactly what the root's sshd would, Match blocks and
/// include order included, on whatever system runs it. `changes` replaces or adds files
/// (root-relative) before copying: the candidate a remediation wants checked.
pub fn stage(root: &Root, dir: &Path, changes: &[(PathBuf, Vec<u8>)]) -> Result<PathBuf, String> {
    let main = PathBuf::from("etc/ssh/sshd_config");
    let mut todo = vec![main.clone()];
    let mut done: Vec<PathBuf> = Vec::new();
    while let Some(rel) = todo.pop() {
        if done.contains(&rel) || done.len() > 256 {
            continue;
        }
        done.push(rel.clone());
        let data = match changes.iter().find(|(p, _)| *p == rel) {
            Some((_, d)) => d.clone(),
            None => match root.read_config_opt(&rel) {
                Ok(Some(d)) => d,
                Ok(None) => continue,
                Err(e) => return Err(format!("cannot read {}: {e}", root::show(&rel))),
            },
        };
        let mut out = String::new();
        for line in String::from_utf8_lossy(&data).lines() {
            let words = split_words(line);
            if !words.first().is_some_and(|w| w.eq_ignore_ascii_case("include")) {
                out.push_str(line);
                out.push('\n');
                continue;
            }
            let mut args = Vec::new();
            for pattern in &words[1..] {
                let full = if pattern.starts_with('/') { pattern.clone() } else { format!("/etc/ssh/{pattern}") };
                let Ok(prel) = root::rel(&full) else { continue };
                let mut files = expand_include(root, pattern);
                if let Some(m) = prel.file_name().and_then(|n| crate::profile::glob(&n.to_string_lossy()).ok()) {
                    let m = m.compile_matcher();
                    for (p, _) in changes {
                        if p.parent() == prel.parent()
                            && p.file_name().is_some_and(|n| m.is_match(n))
                            && !files.contains(p)
                        {
                            files.push(p.clone());
                        }
                    }
                }
                todo.extend(files);
                args.push(format!("\"{}\"", dir.join(&prel).display()));
            }
            out.push_str(&format!("Include {}\n", args.join(" ")));
        }
        let target = dir.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap_or(dir)).map_err(|e| format!("cannot stage the config: {e}"))?;
        std::fs::write(&target, out).map_err(|e| format!("cannot stage the config: {e}"))?;
    }
    Ok(dir.join(main))
}

/// Runs `sshd -t` on the root's configuration with `changes` applied (see [`stage`]) and a
/// throwaway host key, so the check never depends on the image's own keys (a sealed image has
/// none). Nothing of the root is touched: the copies live in a private temporary directory of
/// the system amiprep runs on. `Err` says why sshd refused it, or why it could not be run;
/// callers must then not replace anything.
pub fn validate(sshd: &Path, root: &Root, changes: &[(PathBuf, Vec<u8>)]) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let dir = private_temp_dir().map_err(|e| format!("cannot make a temporary directory for sshd -t: {e}"))?;
    let result = (|| {
        let conf = stage(root, &dir.join("root"), changes)?;
        let key = dir.join("host_key");
        let keygen = sshd.with_file_name("ssh-keygen");
        throwaway_host_key(if keygen.exists() { &keygen } else { Path::new("ssh-keygen") }, &key)?;
        let out = Command::new(sshd)
            .arg("-t")
            .arg("-f")
            .arg(&conf)
            .arg("-h")
            .arg(&key)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {} -t: {e}", sshd.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("sshd -t rejected it: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Makes a throwaway ed25519 host key at `key`, so `sshd -t` and `-T` never need the image's
/// own keys.
fn throwaway_host_key(keygen: &Path, key: &Path) -> Result<(), String> {
    let out = std::process::Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(key)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", keygen.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ssh-keygen failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// A fresh directory only root can enter, under the temp directory of the system amiprep
/// runs on (never inside an offline `--root`).
fn private_temp_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let pid = std::process::id();
    for n in 0..100u32 {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!("amiprep-sshd-{pid}-{nanos:x}-{n}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary directory name"))
}

/// The sshd binary that `sshd -t` validation uses: the live system's own, or on an offline
/// root the one of the system amiprep runs on (the image's own sshd cannot run without its
/// libraries and devices). `None` when there is none.
pub fn binary() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"].iter().map(PathBuf::from).find(|p| p.exists())
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

    /// The effective values of the static reader agree with `sshd -T` (openssh-server must be
    /// installed: CI installs it). The fake root is reachable by the same absolute paths from
    /// the host and from inside itself: `<root><root>` is a link to `/`, which inside the
    /// root resolves to the root, so an `Include /<root>/etc/ssh/...` names the same files for
    /// the real sshd and for the reader.
    #[test]
    fn effective_values_agree_with_sshd_dash_t() {
        let sshd = binary().expect("sshd -T is the reference: install openssh-server (.ci/run does)");
        // sshd refuses to run, even for -T, without its privilege separation directory, which
        // the service creates at start; create it the same way (empty, root's, 0755).
        std::fs::create_dir_all("/run/sshd").unwrap();
        let cases: &[(&str, &[(&str, &str)])] = &[
            // Duplicate keys: the first wins.
            ("MaxAuthTries 3\nMaxAuthTries 9\nPermitRootLogin no\nLogLevel verbose\n", &[]),
            // A drop-in included first wins over the main file; a Match block in a drop-in
            // ends with that drop-in and its values are not global.
            (
                "Include {D}/*.conf\nPasswordAuthentication yes\nMaxSessions 4\nX11Forwarding yes\n",
                &[
                    ("10-a.conf", "PasswordAuthentication no\nMatch User bob\n  MaxSessions 2\n"),
                    ("20-b.conf", "LoginGraceTime 1m30s\nClientAliveInterval 300\nMaxStartups 20\n"),
                ],
            ),
            // Include in the middle: values before it win over the drop-in's.
            (
                "PermitRootLogin prohibit-password\nInclude {D}/*.conf\nUsePAM yes\nMatch Address 10.0.0.0/8\n  PermitRootLogin yes\n  MaxAuthTries 1\n",
                &[(
                    "50-c.conf",
                    "PermitRootLogin yes\nMaxAuthTries 2\nCiphers aes256-gcm@openssh.com,aes128-ctr\nBanner /etc/issue.net\n",
                )],
            ),
            // `Match all` returns to global scope; list modifiers apply to the defaults.
            (
                "Match User alice\n  X11Forwarding yes\nMatch all\nX11Forwarding no\nMACs -hmac-sha1*,umac-64*\nKexAlgorithms +diffie-hellman-group14-sha1\n",
                &[],
            ),
        ];
        for (main, dropins) in cases {
            let t = tempfile::tempdir().unwrap();
            let r = t.path();
            let d = r.join("etc/ssh/sshd_config.d");
            std::fs::create_dir_all(&d).unwrap();
            let inner = r.strip_prefix("/").unwrap();
            std::fs::create_dir_all(r.join(inner).parent().unwrap()).unwrap();
            std::os::unix::fs::symlink("/", r.join(inner)).unwrap();
            let abs_d = format!("{}/etc/ssh/sshd_config.d", r.display());
            std::fs::write(r.join("etc/ssh/sshd_config"), main.replace("{D}", &abs_d)).unwrap();
            for (name, text) in dropins.iter() {
                std::fs::write(d.join(name), text).unwrap();
            }
            let key = r.join("hostkey");
            throwaway_host_key(Path::new("ssh-keygen"), &key).unwrap();
            let out = std::process::Command::new(&sshd)
                .arg("-T")
                .arg("-f")
                .arg(r.join("etc/ssh/sshd_config"))
                .arg("-h")
                .arg(&key)
                .output()
                .unwrap();
            assert!(out.status.success(), "sshd -T failed: {}", String::from_utf8_lossy(&out.stderr));
            let reference = String::from_utf8(out.stdout).unwrap();
            let root = Root::open(r).unwrap();
            let c = read(&root);
            assert!(c.problems.is_empty(), "{:?}", c.problems);
            for (kw, _) in DEFAULTS {
                let theirs = reference
                    .lines()
                    .find_map(|l| l.strip_prefix(kw).and_then(|v| v.strip_prefix(' ')))
                    .unwrap_or_else(|| panic!("sshd -T prints no {kw}"));
                let ours = c.effective(kw).unwrap().value;
                assert_eq!(ours, theirs, "{kw} for config:\n{main}\n{dropins:?}");
            }
            // The staged copy means the same to sshd as the original files, for the global
            // values and for connections that Match blocks select.
            let staged = stage(&root, &r.join("staged"), &[]).unwrap();
            for spec in [None, Some("user=bob,host=h,addr=10.1.2.3"), Some("user=alice,host=h,addr=192.0.2.1")] {
                let run = |f: &Path| {
                    let mut cmd = std::process::Command::new(&sshd);
                    cmd.arg("-T").arg("-f").arg(f).arg("-h").arg(&key);
                    if let Some(s) = spec {
                        cmd.arg("-C").arg(s);
                    }
                    String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
                };
                assert_eq!(run(&staged), run(&r.join("etc/ssh/sshd_config")), "staged config differs for {spec:?}");
            }
        }
    }

    /// On the live system (CI installs openssh-server), the reader's values for the running
    /// system's own configuration are what `sshd -T` says.
    #[test]
    fn the_live_configuration_agrees_with_sshd_dash_t() {
        let sshd = binary().expect("sshd -T is the reference: install openssh-server (.ci/run does)");
        std::fs::create_dir_all("/run/sshd").unwrap();
        let t = tempfile::tempdir().unwrap();
        let key = t.path().join("hostkey");
        throwaway_host_key(Path::new("ssh-keygen"), &key).unwrap();
        let out = std::process::Command::new(&sshd).arg("-T").arg("-h").arg(&key).output().unwrap();
        assert!(out.status.success(), "sshd -T: {}", String::from_utf8_lossy(&out.stderr));
        let reference = String::from_utf8(out.stdout).unwrap();
        let c = read(&Root::open(Path::new("/")).unwrap());
        for (kw, _) in DEFAULTS {
            let theirs = reference.lines().find_map(|l| l.strip_prefix(kw).and_then(|v| v.strip_prefix(' '))).unwrap();
            assert_eq!(c.effective(kw).unwrap().value, theirs, "{kw}");
        }
    }

    #[test]
    fn times_and_modifiers() {
        assert_eq!(parse_time("1m30s"), Some(90));
        assert_eq!(parse_time("2h"), Some(7200));
        assert_eq!(parse_time("x"), None);
        assert_eq!(apply_list_modifier("-a*", "ab,b,ca"), "b,ca");
        assert_eq!(apply_list_modifier("^c", "a,b,c"), "c,a,b");
        assert_eq!(apply_list_modifier("+d", "a,b"), "a,b,d");
        assert_eq!(apply_list_modifier("x,y", "a,b"), "x,y");
    }
}
