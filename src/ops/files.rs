//! `[files]`: the profile's generic `remove` and `truncate` globs.
//!
//! Each glob is matched inside the root by walking only from its literal prefix
//! (`opt/app/cache/**` walks `opt/app/cache`), never the whole tree unless the glob starts with
//! a wildcard. A matched directory is removed whole and not descended.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::GlobSet;
use rustix::fs::FileType;

use super::Ctx;
use crate::profile::{Rule, compile_set};
use crate::root;

/// The directory part of a glob before its first wildcard component.
fn literal_prefix(glob: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    let parts: Vec<&str> = glob.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        // The last component is what is matched, even when it has no wildcard.
        if i + 1 == parts.len() || part.contains(['*', '?', '[', '{', '\\']) {
            break;
        }
        prefix.push(part);
    }
    prefix
}

pub fn plan(ctx: &mut Ctx<'_, '_>) {
    let remove = compile_set(&ctx.profile.remove);
    let truncate = compile_set(&ctx.profile.truncate);
    // One walk per distinct prefix, serving both kinds of rules.
    let mut prefixes: BTreeMap<PathBuf, ()> = BTreeMap::new();
    for r in ctx.profile.remove.iter().chain(&ctx.profile.truncate).filter(|r| has_wildcard(&r.glob)) {
        prefixes.insert(literal_prefix(&r.glob), ());
    }
    // Drop prefixes inside another: the outer walk already covers them.
    let roots: Vec<PathBuf> =
        prefixes.keys().filter(|p| !prefixes.keys().any(|q| q != *p && p.starts_with(q))).cloned().collect();
    for prefix in roots {
        let (mut to_remove, mut to_truncate) = (Vec::new(), Vec::new());
        ctx.p.scan(&prefix, &mut |p, st| select(p, st, &remove, &truncate, &mut to_remove, &mut to_truncate));
        for p in to_remove {
            ctx.p.remove(&p);
        }
        for p in to_truncate {
            ctx.p.truncate(&p);
        }
    }
    // A glob without wildcards names one path: no walk needed.
    for r in &ctx.profile.remove {
        if !has_wildcard(&r.glob) {
            ctx.p.remove(&literal_path(r));
        }
    }
    for r in &ctx.profile.truncate {
        if !has_wildcard(&r.glob) {
            ctx.p.truncate(&literal_path(r));
        }
    }
}

fn has_wildcard(g: &str) -> bool {
    g.contains(['*', '?', '[', '{', '\\'])
}

fn literal_path(r: &Rule) -> PathBuf {
    root::rel(&r.glob).unwrap_or_default()
}

/// Sorts one walked entry; returns whether to descend.
fn select(
    p: &Path,
    st: &rustix::fs::Stat,
    remove: &GlobSet,
    truncate: &GlobSet,
    to_remove: &mut Vec<PathBuf>,
    to_truncate: &mut Vec<PathBuf>,
) -> bool {
    if remove.is_match(p) {
        to_remove.push(p.to_path_buf());
        return false;
    }
    if root::file_type(st) == FileType::RegularFile && truncate.is_match(p) {
        to_truncate.push(p.to_path_buf());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::literal_prefix;
    use std::path::Path;

    #[test]
    fn prefixes() {
        assert_eq!(literal_prefix("/opt/app/cache/**"), Path::new("opt/app/cache"));
        assert_eq!(literal_prefix("var/log/*.gz"), Path::new("var/log"));
        assert_eq!(literal_prefix("**/*.pyc"), Path::new(""));
        assert_eq!(literal_prefix("etc/foo"), Path::new("etc"));
    }
}
