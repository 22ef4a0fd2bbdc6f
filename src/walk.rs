//! Descriptor-based directory walks: measuring a tree for the plan and removing it on apply.
//!
//! Both walks work on directory file descriptors and `*at` calls with single path components,
//! the way `rm -rf` does, so a symlink can never redirect them, memory does not grow with the
//! number of files, and no walk ever crosses into another filesystem (bind mounts included).

use std::ffi::{CStr, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use crate::root::{self, Root};

/// Deeper trees than this are reported instead of walked: each level holds one descriptor.
pub const MAX_DEPTH: usize = 512;

/// How many per-path problems one walk keeps verbatim; the rest are only counted, so a tree of a
/// million unremovable files cannot make the report (or memory) explode.
pub const MAX_PROBLEMS: usize = 20;

/// What a walk found or did, in entries and bytes, with the paths it could not handle.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub entries: u64,
    pub bytes: u64,
    /// Entries left in place because a `keep` rule selects them.
    pub kept: u64,
    pub problems: Vec<Problem>,
    /// Problems beyond [`MAX_PROBLEMS`].
    pub more_problems: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

impl Tally {
    pub fn problem(&mut self, path: PathBuf, message: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { path, message: message.into() });
        } else {
            self.more_problems += 1;
        }
    }

    /// Adds another walker's tally to this one.
    pub fn absorb(&mut self, other: Tally) {
        self.entries += other.entries;
        self.bytes += other.bytes;
        self.kept += other.kept;
        self.more_problems += other.more_problems;
        for p in other.problems {
            self.problem(p.path, p.message);
        }
    }

    pub fn problem_count(&self) -> u64 {
        self.problems.len() as u64 + self.more_problems
    }
}

/// Decides whether a root-relative path is protected by a `keep` rule.
pub trait KeepRule: Sync {
    fn keeps(&self, rel: &Path) -> bool;
}

/// Opens the subdirectory `name` of `dir` for walking: never follows a symlink, never blocks on
/// a FIFO swapped in at the last moment.
pub fn open_subdir(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

fn name_of(c: &CStr) -> &OsStr {
    OsStr::from_bytes(c.to_bytes())
}

/// Counts the entries and bytes inside the directory `dir` (at root-relative `rel`), not the
/// directory itself. Kept entries (and their contents) are counted apart, other filesystems are
/// reported and not entered.
pub fn measure(root: &Root, dir: OwnedFd, rel: &Path, keep: &dyn KeepRule) -> Tally {
    fan_out(root, dir, rel, &|e, path, tally| measure_entry(root, e, path, keep, 1, tally))
}

fn measure_into(root: &Root, dir: OwnedFd, path: &mut PathBuf, keep: &dyn KeepRule, depth: usize, tally: &mut Tally) {
    each_entry(root, dir, path, depth, tally, &mut |e, path, tally| {
        measure_entry(root, e, path, keep, depth + 1, tally)
    });
}

/// Counts one entry; `depth` is the depth of a directory entered from here.
fn measure_entry(root: &Root, e: Entry<'_>, path: &mut PathBuf, keep: &dyn KeepRule, depth: usize, tally: &mut Tally) {
    if keep.keeps(path) {
        tally.kept += 1;
        return;
    }
    match rustix::fs::statat(e.dir, e.name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if root::file_type(&st) == FileType::Directory => {
            if let Some(sub) = enter(root, e.dir, e.name, path, true, tally) {
                tally.entries += u64::from(!sub.mount_point);
                measure_into(root, sub.fd, path, keep, depth, tally);
            }
        }
        Ok(st) => {
            tally.entries += 1;
            tally.bytes += root::size_of(&st);
        }
        // Vanished between readdir and stat: nothing to count.
        Err(rustix::io::Errno::NOENT) => {}
        Err(err) => tally.problem(path.clone(), format!("cannot stat: {err}")),
    }
}

/// Runs `each` for every entry of `dir` (root-relative `rel`) on a few worker threads: this
/// thread reads the directory and hands out its entries in batches; a worker takes a whole
/// subtree with each subdirectory it gets. Removing or measuring a big tree is kernel work per
/// file, so on two cores two walkers finish in little more than half the time one would.
/// Memory stays bounded: the queue holds a few batches of names, not the tree.
fn fan_out(
    root: &Root,
    dir: OwnedFd,
    rel: &Path,
    each: &(dyn Fn(Entry<'_>, &mut PathBuf, &mut Tally) + Sync),
) -> Tally {
    let mut tally = Tally::default();
    let mut path = rel.to_path_buf();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS);
    // The workers need their own handle on the directory; without one, walk on this thread.
    let shared = match rustix::io::dup(&dir) {
        Ok(fd) if workers > 1 => fd,
        _ => {
            each_entry(root, dir, &mut path, 0, &mut tally, &mut |e, path, tally| each(e, path, tally));
            return tally;
        }
    };
    type Batch = Vec<(std::ffi::OsString, FileType)>;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(QUEUE);
    let rx = std::sync::Mutex::new(rx);
    let (rx, shared) = (&rx, &shared);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(move || {
                    let mut t = Tally::default();
                    // The lock is only held while waiting for the next batch.
                    while let Ok(batch) = rx.lock().map_err(|_| ()).and_then(|r| r.recv().map_err(|_| ())) {
                        for (name, d_type) in batch {
                            let mut path = rel.join(&name);
                            each(Entry { dir: shared.as_fd(), name: &name, d_type }, &mut path, &mut t);
                        }
                    }
                    t
                })
            })
            .collect();
        let mut batch = Batch::with_capacity(BATCH);
        each_entry(root, dir, &mut path, 0, &mut tally, &mut |e, _, _| {
            batch.push((e.name.to_os_string(), e.d_type));
            if batch.len() == BATCH {
                // Only fails if every worker is gone, which the join below reports.
                let _ = tx.send(std::mem::replace(&mut batch, Batch::with_capacity(BATCH)));
            }
        });
        let _ = tx.send(batch);
        drop(tx);
        for h in handles {
            match h.join() {
                Ok(t) => tally.absorb(t),
                Err(_) => tally.problem(rel.to_path_buf(), "a walker thread failed"),
            }
        }
    });
    tally
}

/// Worker threads of one walk; more than the cores buys nothing for kernel-bound work.
const MAX_WORKERS: usize = 4;

/// Entries handed to a worker at a time, and batches waiting for one.
const BATCH: usize = 256;
const QUEUE: usize = 16;

/// Visits every entry under the directory `dir` (root-relative `rel`) without following links
/// or leaving the filesystem. `visit` gets each entry's root-relative path and `lstat`, and
/// returns whether to descend (asked for directories only). Problems are tallied.
pub fn scan(root: &Root, dir: OwnedFd, rel: &Path, visit: &mut dyn FnMut(&Path, &rustix::fs::Stat) -> bool) -> Tally {
    let mut tally = Tally::default();
    let mut path = rel.to_path_buf();
    scan_into(root, dir, &mut path, visit, 0, &mut tally);
    tally
}

fn scan_into(
    root: &Root,
    dir: OwnedFd,
    path: &mut PathBuf,
    visit: &mut dyn FnMut(&Path, &rustix::fs::Stat) -> bool,
    depth: usize,
    tally: &mut Tally,
) {
    each_entry(root, dir, path, depth, tally, &mut |e, path, tally| match rustix::fs::statat(
        e.dir,
        e.name,
        AtFlags::SYMLINK_NOFOLLOW,
    ) {
        Ok(st) => {
            if visit(path, &st) && root::file_type(&st) == FileType::Directory {
                if let Some(sub) = enter(root, e.dir, e.name, path, true, tally) {
                    scan_into(root, sub.fd, path, visit, depth + 1, tally);
                }
            }
        }
        Err(rustix::io::Errno::NOENT) => {}
        Err(err) => tally.problem(path.clone(), format!("cannot stat: {err}")),
    });
}

/// One directory entry met by a walk.
struct Entry<'a> {
    /// The directory holding it, for `*at` calls.
    dir: BorrowedFd<'a>,
    name: &'a OsStr,
    /// The type `getdents` reported (`Unknown` on filesystems that do not say).
    d_type: FileType,
}

/// The loop every walk shares: refuses directories too deep or on another filesystem, reads
/// the entries, skips `.` and `..`, and calls `f` with `path` extended by the entry's name.
fn each_entry(
    root: &Root,
    dir: OwnedFd,
    path: &mut PathBuf,
    depth: usize,
    tally: &mut Tally,
    f: &mut dyn FnMut(Entry<'_>, &mut PathBuf, &mut Tally),
) {
    if let Some(msg) = refuse_dir(root, dir.as_fd(), depth) {
        tally.problem(path.clone(), msg);
        return;
    }
    let mut entries = match Dir::new(dir) {
        Ok(d) => d,
        Err(e) => return tally.problem(path.clone(), format!("cannot read directory: {e}")),
    };
    while let Some(next) = entries.read() {
        let entry = match next {
            Ok(e) => e,
            Err(e) => {
                tally.problem(path.clone(), format!("cannot read directory: {e}"));
                break;
            }
        };
        let name = name_of(entry.file_name());
        if name == "." || name == ".." {
            continue;
        }
        let Ok(dirfd) = entries.fd() else { break };
        path.push(name);
        f(Entry { dir: dirfd, name, d_type: entry.file_type() }, path, tally);
        path.pop();
    }
}

/// Why a directory must not be walked, if it must not: another filesystem, or too deep.
fn refuse_dir(root: &Root, dir: BorrowedFd<'_>, depth: usize) -> Option<String> {
    if depth >= MAX_DEPTH {
        return Some(format!("more than {MAX_DEPTH} directory levels deep; not walked"));
    }
    match root.mount_allowed(dir) {
        Ok(true) => None,
        Ok(false) => Some(FOREIGN.into()),
        Err(e) => Some(format!("cannot tell which filesystem this is: {e}")),
    }
}

const FOREIGN: &str = "another filesystem is mounted here; left alone (name it in walk.include_mounts to clean it)";

/// A subdirectory entered by a walk.
struct Sub {
    fd: OwnedFd,
    /// It is the root of another (included) mount: its content may go, the directory itself
    /// cannot be removed and is not counted.
    mount_point: bool,
}

/// Opens subdirectory `name` for descending. A mount point of a filesystem amiprep may not
/// touch is left alone: counted as kept, and reported as a problem only when `report_foreign`
/// (plans and scans say so; removal just leaves it, as it leaves kept paths).
fn enter(
    root: &Root,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    report_foreign: bool,
    tally: &mut Tally,
) -> Option<Sub> {
    let fd = match open_subdir(dir, name) {
        Ok(fd) => fd,
        Err(e) if root::is_absent(&e) => return None,
        Err(e) => {
            tally.problem(path.to_path_buf(), format!("cannot open directory: {e}"));
            return None;
        }
    };
    if matches!(root.mount_allowed(fd.as_fd()), Ok(true)) {
        let mount_point = root::mount_id(fd.as_fd(), "").ok() != root::mount_id(dir, "").ok();
        return Some(Sub { fd, mount_point });
    }
    tally.kept += 1;
    if report_foreign {
        tally.problem(path.to_path_buf(), FOREIGN);
    }
    None
}

/// Removes everything inside the directory `dir` (root-relative `rel`) except kept entries and
/// their ancestors, and tallies what it removed. The directory itself stays.
pub fn empty(root: &Root, dir: OwnedFd, rel: &Path, keep: &dyn KeepRule) -> Tally {
    fan_out(root, dir, rel, &|e, path, tally| empty_entry(root, e, path, keep, 1, tally))
}

/// Removes `name` inside `parent` (root-relative `rel`): a whole tree if it is a directory.
/// Returns the tally; the directory itself is counted when it is removed.
pub fn remove_tree(root: &Root, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path, keep: &dyn KeepRule) -> Tally {
    let mut tally = match open_subdir(parent, name) {
        Ok(sub) => empty(root, sub, rel, keep),
        Err(e) => {
            let mut t = Tally::default();
            t.problem(rel.to_path_buf(), format!("cannot open directory: {e}"));
            return t;
        }
    };
    if tally.kept == 0 {
        rmdir(parent, name, rel, &mut tally);
    }
    tally
}

fn rmdir(parent: BorrowedFd<'_>, name: &OsStr, path: &Path, tally: &mut Tally) {
    match rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
        Ok(()) => tally.entries += 1,
        Err(rustix::io::Errno::NOENT) => {}
        // A kept entry (or an entry that could not be removed, already reported) holds it.
        Err(rustix::io::Errno::NOTEMPTY) => {}
        Err(e) => tally.problem(path.to_path_buf(), removal_error(e)),
    }
}

fn empty_into(root: &Root, dir: OwnedFd, path: &mut PathBuf, keep: &dyn KeepRule, depth: usize, tally: &mut Tally) {
    each_entry(root, dir, path, depth, tally, &mut |e, path, tally| empty_entry(root, e, path, keep, depth + 1, tally));
}

/// Removes one entry, a directory with everything in it; `depth` is the depth of a directory
/// entered from here.
fn empty_entry(root: &Root, e: Entry<'_>, path: &mut PathBuf, keep: &dyn KeepRule, depth: usize, tally: &mut Tally) {
    if keep.keeps(path) {
        tally.kept += 1;
        return;
    }
    // d_type saves a stat per file, which is most of what separates us from `rm -rf`.
    let is_dir = match e.d_type {
        FileType::Unknown => {
            matches!(rustix::fs::statat(e.dir, e.name, AtFlags::SYMLINK_NOFOLLOW), Ok(st) if root::file_type(&st) == FileType::Directory)
        }
        t => t == FileType::Directory,
    };
    if is_dir {
        if let Some(sub) = enter(root, e.dir, e.name, path, false, tally) {
            empty_into(root, sub.fd, path, keep, depth, tally);
            if sub.mount_point {
                tally.kept += 1;
            } else {
                rmdir(e.dir, e.name, path, tally);
            }
        }
        return;
    }
    match rustix::fs::unlinkat(e.dir, e.name, AtFlags::empty()) {
        Ok(()) => tally.entries += 1,
        Err(rustix::io::Errno::NOENT) => {}
        Err(err) => tally.problem(path.clone(), removal_error(err)),
    }
}

/// Turns a removal errno into a message that says what to do about it.
pub fn removal_error(e: rustix::io::Errno) -> String {
    match e {
        rustix::io::Errno::PERM => {
            format!("{e}: the file is immutable or append-only (see lsattr; chattr -ia to allow it)")
        }
        rustix::io::Errno::ACCESS => format!("{e}: permission denied (run amiprep as root)"),
        rustix::io::Errno::ROFS => format!("{e}: the filesystem is mounted read-only"),
        rustix::io::Errno::BUSY => format!("{e}: a mount point or busy file"),
        rustix::io::Errno::NAMETOOLONG => format!("{e}: the path is too long"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct NoKeep;
    impl KeepRule for NoKeep {
        fn keeps(&self, _: &Path) -> bool {
            false
        }
    }

    struct KeepPath(&'static str);
    impl KeepRule for KeepPath {
        fn keeps(&self, p: &Path) -> bool {
            p == Path::new(self.0)
        }
    }

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("tmp/a/b")).unwrap();
        fs::write(t.path().join("tmp/a/b/f"), b"12345").unwrap();
        fs::write(t.path().join("tmp/g"), b"1").unwrap();
        fs::create_dir(t.path().join("etc")).unwrap();
        fs::write(t.path().join("etc/shadow"), b"secret").unwrap();
        std::os::unix::fs::symlink("/etc", t.path().join("tmp/link")).unwrap();
        t
    }

    #[test]
    fn measure_counts_without_following_links() {
        let t = tree();
        let root = Root::open(t.path()).unwrap();
        let fd = root.open_dir(Path::new("tmp")).unwrap();
        let tally = measure(&root, fd, Path::new("tmp"), &NoKeep);
        // a, a/b, a/b/f, g, link
        assert_eq!(tally.entries, 5);
        assert_eq!(tally.bytes, 5 + 1 + "/etc".len() as u64);
        assert!(tally.problems.is_empty());
    }

    #[test]
    fn empty_keeps_the_directory_and_kept_paths_and_never_follows_links() {
        let t = tree();
        let root = Root::open(t.path()).unwrap();
        let fd = root.open_dir(Path::new("tmp")).unwrap();
        let tally = empty(&root, fd, Path::new("tmp"), &KeepPath("tmp/a/b/f"));
        assert_eq!(tally.kept, 1);
        assert!(t.path().join("tmp/a/b/f").exists());
        assert!(!t.path().join("tmp/g").exists());
        assert!(fs::symlink_metadata(t.path().join("tmp/link")).is_err());
        assert_eq!(fs::read(t.path().join("etc/shadow")).unwrap(), b"secret");
        assert!(t.path().join("tmp").is_dir());
    }
}
