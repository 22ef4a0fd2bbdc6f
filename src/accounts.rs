//! Our own reader and editor of passwd, shadow, group and gshadow, working on the files under
//! the target root. The host's libc user database is never consulted: under `--root` it would
//! describe the wrong system.
//!
//! Edits work line by line on bytes: every line that is not changed (comments, NSS `+`/`-`
//! lines, malformed lines, other users) comes out byte-for-byte identical.

/// A passwd entry, as far as amiprep needs one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// True for names `useradd` would accept (the portable subset, plus a trailing `$` for Samba
/// machine accounts). It also keeps option-like or shell text out of anything we do with them.
pub fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 32 {
        return false;
    }
    let body = b.strip_suffix(b"$").unwrap_or(b);
    !body.is_empty()
        && (body[0].is_ascii_lowercase() || body[0] == b'_')
        && body.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// The lines of a file, each without its `\n`; `ends_with_newline` tells how to join them back.
struct Lines<'a> {
    lines: Vec<&'a [u8]>,
    ends_with_newline: bool,
}

fn lines(data: &[u8]) -> Lines<'_> {
    let ends_with_newline = data.ends_with(b"\n");
    let body = if ends_with_newline { &data[..data.len() - 1] } else { data };
    let lines = if data.is_empty() { Vec::new() } else { body.split(|b| *b == b'\n').collect() };
    Lines { lines, ends_with_newline }
}

fn join(lines: &[Vec<u8>], ends_with_newline: bool) -> Vec<u8> {
    let mut out = lines.join(&b'\n');
    if ends_with_newline && !lines.is_empty() {
        out.push(b'\n');
    }
    out
}

/// True for lines that are data records (not comments, blanks or NSS compat `+`/`-` lines).
fn is_record(line: &[u8]) -> bool {
    !(line.is_empty() || line[0] == b'#' || line[0] == b'+' || line[0] == b'-')
}

fn fields(line: &[u8]) -> Vec<&[u8]> {
    line.split(|b| *b == b':').collect()
}

/// Parses passwd. Malformed lines are skipped, not fatal: a half-broken passwd must not stop
/// the cleanup of the users that are well formed.
pub fn parse_passwd(data: &[u8]) -> Vec<User> {
    lines(data)
        .lines
        .into_iter()
        .filter(|l| is_record(l))
        .filter_map(|l| {
            let f = fields(l);
            if f.len() < 7 {
                return None;
            }
            Some(User {
                name: String::from_utf8(f[0].to_vec()).ok()?,
                uid: std::str::from_utf8(f[2]).ok()?.parse().ok()?,
                gid: std::str::from_utf8(f[3]).ok()?.parse().ok()?,
                home: String::from_utf8(f[5].to_vec()).ok()?,
                shell: String::from_utf8(f[6].to_vec()).ok()?,
            })
        })
        .collect()
}

/// Every record of a colon file (passwd, shadow, group, gshadow) split into its fields, for
/// read-only checks. Non-UTF-8 bytes are replaced, which only matters for display.
pub fn records(data: &[u8]) -> Vec<Vec<String>> {
    lines(data)
        .lines
        .into_iter()
        .filter(|l| is_record(l))
        .map(|l| fields(l).into_iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect())
        .collect()
}

/// The result of an edit: the new content and how many records changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Edit {
    pub data: Vec<u8>,
    pub changed: usize,
}

/// Rewrites the records of a colon file with `f`, which returns the new line or `None` to drop
/// it. Non-records pass through untouched.
fn edit(data: &[u8], mut f: impl FnMut(&[u8]) -> Option<Option<Vec<u8>>>) -> Edit {
    let l = lines(data);
    let mut out = Vec::with_capacity(l.lines.len());
    let mut changed = 0;
    for line in l.lines {
        match if is_record(line) { f(line) } else { None } {
            None => out.push(line.to_vec()),
            Some(replacement) => {
                changed += 1;
                if let Some(r) = replacement {
                    out.push(r);
                }
            }
        }
    }
    Edit { data: join(&out, l.ends_with_newline), changed }
}

/// Drops the record whose first field is `name` (passwd and shadow).
pub fn remove_record(data: &[u8], name: &str) -> Edit {
    edit(data, |line| (fields(line)[0] == name.as_bytes()).then_some(None))
}

/// True when `name`'s private group exists in group content: a group of that name (with the
/// user's primary gid, when known) that has no members besides the user. `deluser` drops such
/// a group with the user.
pub fn is_private_group(group_data: &[u8], name: &str, gid: Option<u32>) -> bool {
    lines(group_data).lines.into_iter().filter(|l| is_record(l)).any(|l| {
        let f = fields(l);
        let gid_ok = gid.is_none_or(|g| {
            f.get(2).and_then(|x| std::str::from_utf8(x).ok()).and_then(|x| x.parse::<u32>().ok()) == Some(g)
        });
        let members_ok = f.get(3).is_none_or(|m| m.split(|b| *b == b',').all(|x| x.is_empty() || x == name.as_bytes()));
        f[0] == name.as_bytes() && gid_ok && members_ok
    })
}

/// Removes user `name` from group or gshadow content: out of every member list, and, when
/// `drop_own_group` (see [`is_private_group`]), the group named like the user goes too.
/// `member_fields` are the comma-list fields: `[3]` for group, `[2, 3]` for gshadow.
pub fn remove_from_groups(data: &[u8], name: &str, drop_own_group: bool, member_fields: &[usize]) -> Edit {
    edit(data, |line| {
        let f = fields(line);
        if drop_own_group && f[0] == name.as_bytes() {
            return Some(None);
        }
        let mut changed = false;
        let new: Vec<Vec<u8>> = f
            .iter()
            .enumerate()
            .map(|(i, field)| {
                if !member_fields.contains(&i) {
                    return field.to_vec();
                }
                let members: Vec<&[u8]> = field.split(|b| *b == b',').collect();
                let kept: Vec<&[u8]> = members.iter().copied().filter(|m| *m != name.as_bytes()).collect();
                if kept.len() == members.len() {
                    return field.to_vec();
                }
                changed = true;
                kept.join(&b',')
            })
            .collect();
        changed.then(|| Some(new.join(&b':')))
    })
}

/// The names of the records of a colon file.
pub fn parse_names(data: &[u8]) -> Vec<String> {
    lines(data)
        .lines
        .into_iter()
        .filter(|l| is_record(l))
        .filter_map(|l| String::from_utf8(fields(l)[0].to_vec()).ok())
        .collect()
}

/// Locks the password of `name` in shadow content by prefixing the hash with `!`, as
/// `passwd -l` does. Already-locked entries are left as they are.
pub fn lock(data: &[u8], name: &str) -> Edit {
    edit(data, |line| {
        let f = fields(line);
        if f[0] != name.as_bytes() || f.len() < 2 || f[1].starts_with(b"!") {
            return None;
        }
        let mut new = f.iter().map(|x| x.to_vec()).collect::<Vec<_>>();
        new[1].insert(0, b'!');
        Some(Some(new.join(&b':')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"# comment line\nroot:x:0:0:root:/root:/bin/bash\ntempuser:x:1001:1001:,,,:/home/tempuser:/bin/bash\n+@netgroup::::::\n-baduser\nalice:x:1002:1002::/srv/alice:/bin/sh\nbroken line\n";

    #[test]
    fn names() {
        assert!(valid_name("tempuser") && valid_name("_apt") && valid_name("host$") && valid_name("a-b_1"));
        assert!(
            !valid_name("")
                && !valid_name("-rf")
                && !valid_name("Root")
                && !valid_name("a b")
                && !valid_name("a;b")
                && !valid_name(&"a".repeat(33))
        );
    }

    #[test]
    fn parses_only_records() {
        let users = parse_passwd(PASSWD);
        let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["root", "tempuser", "alice"]);
        assert_eq!(users[2].home, "/srv/alice");
    }

    #[test]
    fn removing_a_user_keeps_every_other_byte() {
        let e = remove_record(PASSWD, "tempuser");
        assert_eq!(e.changed, 1);
        let expected = b"# comment line\nroot:x:0:0:root:/root:/bin/bash\n+@netgroup::::::\n-baduser\nalice:x:1002:1002::/srv/alice:/bin/sh\nbroken line\n";
        assert_eq!(e.data, expected);
        // No trailing newline in, none out.
        assert_eq!(remove_record(b"a:x\nb:x", "b").data, b"a:x");
        // The NSS line `-baduser` is not a record, even though its name part matches.
        assert_eq!(remove_record(PASSWD, "-baduser").changed, 0);
    }

    #[test]
    fn groups_drop_private_group_and_memberships() {
        let group = b"sudo:x:27:alice,tempuser\ntempuser:x:1001:\nshared:x:1001:bob\nadm:x:4:tempuser\n";
        assert!(is_private_group(group, "tempuser", Some(1001)));
        let e = remove_from_groups(group, "tempuser", true, &[3]);
        assert_eq!(e.data, b"sudo:x:27:alice\nshared:x:1001:bob\nadm:x:4:\n");
        assert_eq!(e.changed, 3);
        let gshadow = b"sudo:*:tempuser:alice,tempuser\ntempuser:!::\n";
        assert_eq!(remove_from_groups(gshadow, "tempuser", true, &[2, 3]).data, b"sudo:*::alice\n");
        // A group named like the user but with members of its own stays.
        let shared = b"tempuser:x:1001:bob,tempuser\n";
        assert!(!is_private_group(shared, "tempuser", Some(1001)));
        assert_eq!(remove_from_groups(shared, "tempuser", false, &[3]).data, b"tempuser:x:1001:bob\n");
        // Nor does one with another gid than the user's primary group.
        assert!(!is_private_group(b"tempuser:x:5000:\n", "tempuser", Some(1001)));
    }

    #[test]
    fn lock_prefixes_once() {
        let shadow = b"root:$y$j9T$abc:19000:0:99999:7:::\nu:!$6$x:1::::::\n";
        let e = lock(shadow, "root");
        assert_eq!(e.data, b"root:!$y$j9T$abc:19000:0:99999:7:::\nu:!$6$x:1::::::\n");
        assert_eq!(lock(&e.data, "root").changed, 0);
        assert_eq!(lock(shadow, "u").changed, 0);
    }
}
