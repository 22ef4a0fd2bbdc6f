//! SSH host keys and users' authorized keys.

use std::path::{Path, PathBuf};

use super::Ctx;
use crate::{root, sshd};

/// `etc/ssh/ssh_host_*key*`: private keys, `.pub` files and `-cert.pub` certificates.
pub fn host_keys(ctx: &mut Ctx<'_, '_>) {
    let dir = Path::new("etc/ssh");
    for name in ctx.p.list(dir) {
        let n = name.to_string_lossy();
        if n.starts_with("ssh_host_") && n["ssh_host_".len()..].contains("key") {
            ctx.p.remove_file(&dir.join(&name));
        }
    }
}

/// `authorized_keys` and `authorized_keys2` in every passwd home's `.ssh`, the profile's extra
/// names there, and every `AuthorizedKeysFile` location sshd is configured with, expanded for
/// every account. Nothing else in `.ssh` is touched.
pub fn authorized_keys(ctx: &mut Ctx<'_, '_>) {
    for home in ctx.homes {
        for name in ["authorized_keys", "authorized_keys2"]
            .into_iter()
            .chain(ctx.profile.authorized_keys_extra.iter().map(String::as_str))
        {
            ctx.p.remove_file(&home.path.join(".ssh").join(name));
        }
    }
    let config = sshd::read(ctx.p.root);
    for (path, problem) in &config.problems {
        ctx.p.warn(path.clone(), format!("sshd_config: {problem}"));
    }
    // Global and per-Match values alike: a key file a Match block points to is still a key file.
    let patterns: Vec<String> =
        config.directives.iter().filter(|d| d.keyword == "authorizedkeysfile").flat_map(|d| d.args.clone()).collect();
    for pattern in patterns.iter().filter(|p| p.as_str() != "none") {
        for u in ctx.users {
            let Some(expanded) = expand(pattern, &u.name, u.uid, &u.home) else { continue };
            match root::rel(&expanded) {
                Ok(rel) if !rel.as_os_str().is_empty() => ctx.p.remove_file(&rel),
                _ => ctx.p.warn(
                    PathBuf::from(&expanded),
                    format!("AuthorizedKeysFile {pattern:?} expands outside the root for {}; skipped", u.name),
                ),
            }
        }
    }
}

/// Expands sshd's `%%`, `%h`, `%u`, `%U` tokens; a relative result is relative to the home.
/// `None` for tokens amiprep cannot know statically.
pub(crate) fn expand(pattern: &str, user: &str, uid: u32, home: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            'h' => out.push_str(home),
            'u' => out.push_str(user),
            'U' => out.push_str(&uid.to_string()),
            _ => return None,
        }
    }
    Some(if out.starts_with('/') { out } else { format!("{}/{out}", home.trim_end_matches('/')) })
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn tokens() {
        assert_eq!(expand("%h/.ssh/authorized_keys", "a", 1, "/home/a").unwrap(), "/home/a/.ssh/authorized_keys");
        assert_eq!(expand(".ssh/k", "a", 1, "/home/a/").unwrap(), "/home/a/.ssh/k");
        assert_eq!(expand("/etc/ssh/keys/%u.%U%%", "a", 7, "/h").unwrap(), "/etc/ssh/keys/a.7%");
        assert!(expand("/x/%k", "a", 1, "/h").is_none());
    }
}
