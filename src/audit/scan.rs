//! The one shared filesystem scan: a single pass over the root's own filesystem (like
//! `find / -xdev`) that collects everything the whole-filesystem checks need at once:
//! world-writable files, world-writable directories without the sticky bit, files of unknown
//! owner or group, and the SUID/SGID inventory.
//!
//! Directories are handed out to a few worker threads through a shared queue, so the deep
//! trees (`usr/`) are split between cores instead of landing on one. Workers only share a
//! directory when the queue runs low and otherwise go depth-first on their own, which keeps the
//! number of open descriptors bounded by the tree depth, not its width. Like every walk of
//! amiprep it works on directory descriptors with single-component `*at` calls, never follows
//! a symlink and never enters another mount.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use rustix::fs::{AtFlags, Dir, FileType, Stat};

use crate::root::{self, Root};
use crate::walk;

/// How many paths each list keeps verbatim; beyond that only the count grows. A broken image
/// with a million unowned files must not make the report explode.
pub const KEEP: usize = 1000;

/// A list of findings: the first [`KEEP`] paths (sorted) and the total.
#[derive(Debug, Default, Clone)]
pub struct Found {
    pub paths: Vec<(PathBuf, u32)>,
    pub total: u64,
}

impl Found {
    fn add(&mut self, path: &Path, value: u32) {
        self.total += 1;
        if self.paths.len() < KEEP {
            self.paths.push((path.to_path_buf(), value));
        }
    }
    fn absorb(&mut self, other: Found) {
        self.total += other.total;
        for (p, v) in other.paths {
            if self.paths.len() < KEEP {
                self.paths.push((p, v));
            }
        }
    }
}

/// What the scan found. The `u32` of each entry is its mode, or its uid/gid for the ownership
/// lists.
#[derive(Debug, Default, Clone)]
pub struct ScanResult {
    pub world_writable: Found,
    pub dirs_without_sticky: Found,
    pub unowned: Found,
    pub ungrouped: Found,
    pub suid_sgid: Found,
    pub entries: u64,
    pub problems: walk::Tally,
}

/// Who exists in the root: the ids the ownership checks compare against.
pub struct Ids {
    pub uids: HashSet<u32>,
    pub gids: HashSet<u32>,
}

/// A directory waiting to be read.
struct Job {
    fd: OwnedFd,
    path: PathBuf,
    depth: usize,
}

struct Queue {
    jobs: Vec<Job>,
    /// Workers reading a directory right now: while any is, more jobs may come.
    busy: usize,
}

struct Shared<'a> {
    root: &'a Root,
    ids: &'a Ids,
    queue: Mutex<Queue>,
    wake: Condvar,
    workers: usize,
}

/// Scans the whole root filesystem once.
pub fn scan(root: &Root, ids: &Ids) -> ScanResult {
    let mut result = ScanResult::default();
    let fd = match root.open_dir(Path::new("")) {
        Ok(fd) => fd,
        Err(e) => {
            result.problems.problem(PathBuf::new(), format!("cannot open the root: {e}"));
            return result;
        }
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    let shared = Shared {
        root,
        ids,
        queue: Mutex::new(Queue { jobs: vec![Job { fd, path: PathBuf::new(), depth: 0 }], busy: 0 }),
        wake: Condvar::new(),
        workers,
    };
    let parts: Vec<ScanResult> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(|| worker(&shared))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    for p in parts {
        result.world_writable.absorb(p.world_writable);
        result.dirs_without_sticky.absorb(p.dirs_without_sticky);
        result.unowned.absorb(p.unowned);
        result.ungrouped.absorb(p.ungrouped);
        result.suid_sgid.absorb(p.suid_sgid);
        result.entries += p.entries;
        result.problems.absorb(p.problems);
    }
    // Workers finish in any order: sort so reports are stable.
    for f in [
        &mut result.world_writable,
        &mut result.dirs_without_sticky,
        &mut result.unowned,
        &mut result.ungrouped,
        &mut result.suid_sgid,
    ] {
        f.paths.sort();
    }
    result
}

fn worker(shared: &Shared<'_>) -> ScanResult {
    let mut out = ScanResult::default();
    loop {
        let job = {
            let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = q.jobs.pop() {
                    q.busy += 1;
                    break Some(job);
                }
                if q.busy == 0 {
                    break None;
                }
                q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some(job) = job else {
            shared.wake.notify_all();
            return out;
        };
        read_dir(shared, job, &mut out);
        let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.busy -= 1;
        if q.busy == 0 && q.jobs.is_empty() {
            shared.wake.notify_all();
        }
    }
}

/// Reads one directory: classifies every entry, and for each subdirectory either shares it
/// (when other workers are short of work) or descends into it here.
fn read_dir(shared: &Shared<'_>, job: Job, out: &mut ScanResult) {
    let Job { fd, mut path, depth } = job;
    if depth >= walk::MAX_DEPTH {
        out.problems.problem(path, format!("more than {} directory levels deep; not scanned", walk::MAX_DEPTH));
        return;
    }
    let mut entries = match Dir::new(fd) {
        Ok(d) => d,
        Err(e) => return out.problems.problem(path, format!("cannot read directory: {e}")),
    };
    // Subdirectories are opened one at a time after the listing, so a directory with a
    // hundred thousand subdirectories never holds a hundred thousand descriptors.
    let mut subdirs: Vec<std::ffi::OsString> = Vec::new();
    while let Some(next) = entries.read() {
        let entry = match next {
            Ok(e) => e,
            Err(e) => {
                out.problems.problem(path.clone(), format!("cannot read directory: {e}"));
                break;
            }
        };
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let Ok(dirfd) = entries.fd() else { break };
        path.push(name);
        match rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                out.entries += 1;
                classify(shared.ids, &path, &st, out);
                if root::file_type(&st) == FileType::Directory && !(depth == 0 && crate::plan::is_virtual(&path)) {
                    subdirs.push(name.to_os_string());
                }
            }
            Err(rustix::io::Errno::NOENT) => {}
            Err(e) => out.problems.problem(path.clone(), format!("cannot stat: {e}")),
        }
        path.pop();
    }
    let Ok(dirfd) = entries.fd() else { return };
    for name in subdirs {
        path.push(&name);
        let Some(fd) = enter(shared.root, dirfd, &name, &path, out) else {
            path.pop();
            continue;
        };
        let job = Job { fd, path: path.clone(), depth: depth + 1 };
        path.pop();
        // Share while the queue is short; otherwise keep going here, depth-first.
        let mine = {
            let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            if q.jobs.len() < shared.workers * 2 {
                q.jobs.push(job);
                None
            } else {
                Some(job)
            }
        };
        match mine {
            None => shared.wake.notify_one(),
            Some(job) => read_dir(shared, job, out),
        }
    }
}

/// Opens a subdirectory to scan it, unless it is another filesystem (a mount point: left
/// alone, like `find -xdev`).
fn enter(
    root: &Root,
    dir: std::os::fd::BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    out: &mut ScanResult,
) -> Option<OwnedFd> {
    let fd = match walk::open_subdir(dir, name) {
        Ok(fd) => fd,
        Err(e) if root::is_absent(&e) => return None,
        Err(e) => {
            out.problems.problem(path.to_path_buf(), format!("cannot open directory: {e}"));
            return None;
        }
    };
    match root.mount_allowed(fd.as_fd()) {
        Ok(true) => Some(fd),
        Ok(false) => None,
        Err(e) => {
            out.problems.problem(path.to_path_buf(), format!("cannot tell which filesystem this is: {e}"));
            None
        }
    }
}

fn classify(ids: &Ids, path: &Path, st: &Stat, out: &mut ScanResult) {
    let mode = st.st_mode & 0o7777;
    let kind = root::file_type(st);
    if kind == FileType::Symlink {
        // A link's own mode is always 0777 and means nothing; its owner still does.
    } else if mode & 0o002 != 0 {
        if kind == FileType::Directory {
            if mode & 0o1000 == 0 {
                out.dirs_without_sticky.add(path, mode);
            }
        } else if kind == FileType::RegularFile {
            out.world_writable.add(path, mode);
        }
    }
    if kind == FileType::RegularFile && mode & 0o6000 != 0 {
        out.suid_sgid.add(path, mode);
    }
    if !ids.uids.contains(&st.st_uid) {
        out.unowned.add(path, st.st_uid);
    }
    if !ids.gids.contains(&st.st_gid) {
        out.ungrouped.add(path, st.st_gid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, chown};

    #[test]
    fn one_pass_finds_everything_and_stays_in_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for d in ["a/b/c", "tmp", "open", "proc/1"] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        fs::write(r.join("a/b/c/ww"), b"x").unwrap();
        fs::set_permissions(r.join("a/b/c/ww"), fs::Permissions::from_mode(0o666)).unwrap();
        fs::set_permissions(r.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::set_permissions(r.join("open"), fs::Permissions::from_mode(0o777)).unwrap();
        fs::write(r.join("a/suid"), b"x").unwrap();
        fs::set_permissions(r.join("a/suid"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::write(r.join("a/orphan"), b"x").unwrap();
        chown(r.join("a/orphan"), Some(4242), Some(4343)).unwrap();
        // Under proc/ (a kernel tree) nothing is looked at.
        fs::write(r.join("proc/1/ww"), b"x").unwrap();
        fs::set_permissions(r.join("proc/1/ww"), fs::Permissions::from_mode(0o666)).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("a/link")).unwrap();
        let root = Root::open(r).unwrap();
        let ids = Ids { uids: [0].into(), gids: [0].into() };
        let s = scan(&root, &ids);
        let paths = |f: &Found| f.paths.iter().map(|(p, _)| p.to_string_lossy().into_owned()).collect::<Vec<_>>();
        assert_eq!(paths(&s.world_writable), ["a/b/c/ww"]);
        assert_eq!(paths(&s.dirs_without_sticky), ["open"]);
        assert_eq!(paths(&s.suid_sgid), ["a/suid"]);
        assert_eq!(s.unowned.paths, [(PathBuf::from("a/orphan"), 4242)]);
        assert_eq!(s.ungrouped.paths, [(PathBuf::from("a/orphan"), 4343)]);
        assert!(s.problems.problems.is_empty(), "{:?}", s.problems);
    }
}
