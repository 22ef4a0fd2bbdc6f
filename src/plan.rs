//! The plan: the exact list of actions a seal will take, built from a profile and the tree.
//!
//! A dry run prints this list and `seal` executes this same list; reports, JSON and the receipt
//! are all made from it. Each action records what its target was when planned (device, inode,
//! and for rewrites a content hash) so apply can refuse to act on something that changed since.

use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use globset::GlobSet;
use rustix::fs::{FileType, Stat};
use serde::Serialize;

use crate::root::{self, Root};
use crate::walk::{self, KeepRule};

/// What an action does to its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Unlink one non-directory: a file, a symlink (never its target), a FIFO, socket or device.
    Remove,
    /// Remove a directory and everything in it.
    RemoveTree,
    /// Remove everything inside a directory and keep the directory (and its mode) itself.
    Empty,
    /// Truncate a regular file to zero bytes in place, keeping owner, mode and xattrs.
    Truncate,
    /// Replace a file's content atomically (temp file, fsync, rename), keeping its metadata.
    Rewrite,
    /// Run a command (only ever planned on a live system).
    Run,
    /// Set a file's mode and owner in place (remediation of a hardening check).
    Chmod,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Remove => "remove",
            Kind::RemoveTree => "remove-tree",
            Kind::Empty => "empty",
            Kind::Truncate => "truncate",
            Kind::Rewrite => "rewrite",
            Kind::Run => "run",
            Kind::Chmod => "chmod",
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// The catalogue operation (or `files`, `users`) that asked for this action.
    pub operation: &'static str,
    pub kind: Kind,
    /// The path as reports show it (`/etc/hostname`, meaning inside the root), or for `run`
    /// the command line.
    #[serde(rename = "path")]
    pub target: String,
    /// Root-relative path (empty for `run`).
    #[serde(skip)]
    pub path: PathBuf,
    /// Entries affected: 1 for a single file, the number of files and directories for trees.
    pub entries: u64,
    /// Bytes removed or truncated (see [`root::size_of`]).
    pub bytes: u64,
    /// A short human explanation, e.g. which lines an edit removes. Never contains secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For `run`: the paths the command is expected to create or remove (the links of a
    /// `systemctl enable`), as reports show paths.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub touches: Vec<String>,
    #[serde(skip)]
    pub(crate) expect: Expect,
    #[serde(skip)]
    pub(crate) payload: Payload,
}

fn ser_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&root::show(p))
}

/// What the target was at plan time; apply re-checks it before acting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Nothing to check (commands).
    #[default]
    Nothing,
    /// The path did not exist (a rewrite that creates it).
    Absent,
    /// The same inode as at plan time, and for rewrites the same content.
    Inode { dev: u64, ino: u64, content: Option<u64> },
}

#[derive(Debug, Clone, Default)]
pub(crate) enum Payload {
    #[default]
    None,
    Rewrite {
        data: Vec<u8>,
        /// Mode to set; `None` keeps the file's own.
        mode: Option<u32>,
        /// An sshd configuration file: `sshd -t` must accept the configuration with the new
        /// content before anything is replaced.
        sshd_check: bool,
    },
    Run(Vec<String>),
    Chmod {
        mode: u32,
        uid: u32,
        gid: u32,
    },
}

/// Something the planner noticed but that is not an action: an unreadable directory, a FIFO
/// where a log was expected, a link left alone.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    pub operation: &'static str,
    #[serde(serialize_with = "ser_path")]
    pub path: PathBuf,
    pub message: String,
}

/// The finished plan.
#[derive(Debug, Default, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub warnings: Vec<Warning>,
}

/// The profile's `keep` globs: a path is kept if it or any directory above it matches.
pub struct Keep(pub GlobSet);

impl KeepRule for Keep {
    /// Walks only ask about entries whose ancestors were already not kept, so self is enough.
    fn keeps(&self, rel: &Path) -> bool {
        !self.0.is_empty() && self.0.is_match(rel)
    }
}

impl Keep {
    fn keeps_path_or_ancestor(&self, rel: &Path) -> bool {
        !self.0.is_empty() && rel.ancestors().any(|a| !a.as_os_str().is_empty() && self.0.is_match(a))
    }
}

/// Builds a plan. Operations call its methods; it checks `keep`, drops duplicates and paths
/// already inside a planned tree, measures trees and records what apply must re-check.
pub struct Planner<'r> {
    pub root: &'r Root,
    keep: Keep,
    op: &'static str,
    plan: Plan,
    exact: HashSet<PathBuf>,
    trees: BTreeSet<PathBuf>,
}

impl<'r> Planner<'r> {
    pub fn new(root: &'r Root, keep: Keep) -> Self {
        let mut p =
            Planner { root, keep, op: "walk", plan: Plan::default(), exact: HashSet::new(), trees: BTreeSet::new() };
        for (path, message) in root.mount_warnings() {
            p.warn(path, message.as_str());
        }
        p
    }

    /// Sets the operation that following actions and warnings belong to.
    pub fn begin(&mut self, op: &'static str) {
        self.op = op;
    }

    /// Moves the actions of `op` to the end of the plan, keeping their order.
    pub fn move_last(&mut self, op: &str) {
        let (mut last, first): (Vec<Action>, Vec<Action>) =
            self.plan.actions.drain(..).partition(|a| a.operation == op);
        self.plan.actions = first;
        self.plan.actions.append(&mut last);
    }

    pub fn finish(self) -> Plan {
        self.plan
    }

    pub fn warn(&mut self, path: impl Into<PathBuf>, message: impl Into<String>) {
        self.plan.warnings.push(Warning { operation: self.op, path: path.into(), message: message.into() });
    }

    /// Records an I/O error met while planning `path`, unless it just means "not there".
    pub fn io_warn(&mut self, path: &Path, what: &str, e: &io::Error) {
        if root::is_absent(e) {
            return;
        }
        if root::is_symlink_refusal(e) {
            self.warn(path, format!("{what}: a directory on the way is a symlink; not followed"));
        } else {
            self.warn(path, format!("{what}: {e}"));
        }
    }

    /// True when `rel` is a directory itself, not a symlink to one. Used to skip the other
    /// half of layouts that differ by distribution (`var/mail` vs `var/spool/mail`) quietly.
    pub fn real_dir(&self, rel: &Path) -> bool {
        matches!(self.root.lstat_opt(rel), Ok(Some(st)) if root::file_type(&st) == FileType::Directory)
    }

    /// True when `rel` is already covered: planned itself, inside a planned tree, kept, or in
    /// one of the kernel's virtual trees.
    fn covered(&self, rel: &Path) -> bool {
        is_virtual(rel)
            || self.exact.contains(rel)
            || rel.ancestors().skip(1).any(|a| self.trees.contains(a))
            || self.keep.keeps_path_or_ancestor(rel)
    }

    fn push(
        &mut self,
        kind: Kind,
        rel: &Path,
        (entries, bytes): (u64, u64),
        detail: Option<String>,
        expect: Expect,
        payload: Payload,
    ) {
        self.exact.insert(rel.to_path_buf());
        if matches!(kind, Kind::RemoveTree | Kind::Empty) {
            self.trees.insert(rel.to_path_buf());
        }
        let target = match &payload {
            Payload::Run(argv) => argv.join(" "),
            _ => root::show(rel),
        };
        self.plan.actions.push(Action {
            operation: self.op,
            kind,
            target,
            path: rel.to_path_buf(),
            entries,
            bytes,
            detail,
            touches: Vec::new(),
            expect,
            payload,
        });
    }

    /// `lstat` that turns errors into warnings and absence into `None`. A path on a
    /// filesystem amiprep may not change is reported and treated as absent, so no action is
    /// ever planned on another mount.
    pub fn lstat(&mut self, rel: &Path) -> Option<Stat> {
        let st = match self.root.lstat_opt(rel) {
            Ok(st) => st?,
            Err(e) => {
                self.io_warn(rel, "cannot inspect", &e);
                return None;
            }
        };
        match self.root.path_mount_allowed(rel) {
            Ok(true) => Some(st),
            Ok(false) => {
                self.warn(rel, "is on another filesystem (a separate mount); left alone. Name its mount point in walk.include_mounts to clean it");
                None
            }
            Err(e) => {
                self.io_warn(rel, "cannot tell which filesystem this is", &e);
                None
            }
        }
    }

    /// Visits every entry below directory `rel` (see [`walk::scan`]), reporting problems as
    /// warnings. Paths that are kept are not visited.
    pub fn scan(&mut self, rel: &Path, visit: &mut dyn FnMut(&Path, &Stat) -> bool) {
        // The root itself has no parent to lstat it in; it is a directory on an allowed mount.
        if !rel.as_os_str().is_empty() && !self.lstat(rel).is_some_and(|st| root::file_type(&st) == FileType::Directory)
        {
            return;
        }
        let fd = match self.root.open_dir(rel) {
            Ok(fd) => fd,
            Err(e) => return self.io_warn(rel, "cannot open directory", &e),
        };
        let keep = &self.keep;
        let tally = walk::scan(self.root, fd, rel, &mut |p, st| !is_virtual(p) && !keep.keeps(p) && visit(p, st));
        self.tally_warnings(rel, &tally);
    }

    fn tally_warnings(&mut self, rel: &Path, tally: &walk::Tally) {
        for p in &tally.problems {
            self.plan.warnings.push(Warning { operation: self.op, path: p.path.clone(), message: p.message.clone() });
        }
        if tally.more_problems > 0 {
            self.warn(rel, format!("and {} more problems inside", tally.more_problems));
        }
    }

    /// Reads a regular file that an operation wants to edit, never through a symlink. Absence
    /// is `None`; a link, special file or unreadable file is `None` with a warning.
    pub fn read_for_edit(&mut self, rel: &Path) -> Option<(Stat, Vec<u8>)> {
        match self.root.read_nofollow(rel) {
            Ok(None) => None,
            Ok(Some(v)) => self.lstat(rel).map(|_| v),
            Err(e) if root::is_symlink_refusal(&e) => {
                self.warn(rel, "is a symlink (or a directory on the way is); not edited");
                None
            }
            Err(e) => {
                self.io_warn(rel, "cannot read", &e);
                None
            }
        }
    }

    /// Plans the removal of `rel`, whatever it is: a file or link is unlinked, a directory is
    /// removed as a tree (measured now, one action however many files it holds).
    pub fn remove(&mut self, rel: &Path) {
        self.remove_as(rel, true);
    }

    /// Plans the removal of `rel` only if it is not a directory. Used where the catalogue names
    /// files (`authorized_keys`, host keys): a directory of that name is not ours to delete.
    pub fn remove_file(&mut self, rel: &Path) {
        self.remove_as(rel, false);
    }

    fn remove_as(&mut self, rel: &Path, trees: bool) {
        if self.covered(rel) {
            return;
        }
        let Some(st) = self.lstat(rel) else { return };
        match root::file_type(&st) {
            FileType::Directory if trees => self.tree(Kind::RemoveTree, rel, &st),
            FileType::Directory => self.warn(rel, "is a directory where a file was expected; left alone"),
            _ => self.push(Kind::Remove, rel, (1, root::size_of(&st)), None, inode(&st, None), Payload::None),
        }
    }

    /// Plans emptying the directory `rel`, keeping the directory itself. A symlink or a file in
    /// its place is left alone with a warning.
    pub fn empty(&mut self, rel: &Path) {
        if self.covered(rel) {
            return;
        }
        let Some(st) = self.lstat(rel) else { return };
        if root::file_type(&st) != FileType::Directory {
            self.warn(rel, "is not a directory; left alone");
            return;
        }
        self.tree(Kind::Empty, rel, &st);
    }

    fn tree(&mut self, kind: Kind, rel: &Path, st: &Stat) {
        let fd = match self.root.open_dir(rel) {
            Ok(fd) => fd,
            Err(e) => return self.io_warn(rel, "cannot open directory", &e),
        };
        let tally = walk::measure(self.root, fd, rel, &self.keep);
        self.tally_warnings(rel, &tally);
        // A directory holding kept entries stays, so it is not counted; and when nothing else
        // is left in it there is nothing to do: the plan of a clean tree is empty.
        let dir_goes = kind == Kind::RemoveTree && tally.kept == 0;
        if tally.entries == 0 && !dir_goes {
            return;
        }
        let entries = tally.entries + u64::from(dir_goes);
        let detail = (tally.kept > 0).then(|| format!("{} kept entries stay", tally.kept));
        self.push(kind, rel, (entries, tally.bytes), detail, inode(st, None), Payload::None);
    }

    /// Plans truncating the regular file `rel` to zero bytes. Empty files, links and special
    /// files get no action (links and special files a warning).
    pub fn truncate(&mut self, rel: &Path) {
        if self.covered(rel) {
            return;
        }
        let Some(st) = self.lstat(rel) else { return };
        match root::file_type(&st) {
            FileType::RegularFile if st.st_size == 0 => {}
            FileType::RegularFile => {
                self.push(Kind::Truncate, rel, (1, root::size_of(&st)), None, inode(&st, None), Payload::None)
            }
            FileType::Symlink => self.warn(rel, "is a symlink; not truncated (its target is not ours)"),
            FileType::Directory => {}
            _ => self.warn(rel, "is not a regular file; not truncated"),
        }
    }

    /// Plans replacing the content of `rel` atomically. `old` is the current content (`None`
    /// when the file does not exist and is to be created). No action when nothing changes.
    pub fn rewrite(
        &mut self,
        rel: &Path,
        old: Option<(&Stat, &[u8])>,
        new: Vec<u8>,
        mode: Option<u32>,
        detail: String,
    ) {
        if self.covered(rel) {
            return;
        }
        let expect = match old {
            Some((st, data)) => {
                let mode_ok = mode.is_none_or(|m| st.st_mode & 0o7777 == m);
                if data == new.as_slice() && mode_ok {
                    return;
                }
                inode(st, Some(hash(data)))
            }
            None => Expect::Absent,
        };
        let bytes = old.map_or(0, |(_, d)| d.len() as u64);
        self.push(
            Kind::Rewrite,
            rel,
            (1, bytes),
            Some(detail),
            expect,
            Payload::Rewrite { data: new, mode, sshd_check: false },
        );
    }

    /// Like [`Planner::rewrite`] for an sshd configuration file: apply replaces nothing
    /// unless `sshd -t` accepts the whole configuration with the new content. A locked-out
    /// image is worse than an unhardened one.
    pub fn rewrite_sshd(&mut self, rel: &Path, old: Option<(&Stat, &[u8])>, new: Vec<u8>, detail: String) {
        let before = self.plan.actions.len();
        self.rewrite(rel, old, new, Some(0o600), detail);
        if let Some(Action { payload: Payload::Rewrite { sshd_check, .. }, .. }) = self.plan.actions.get_mut(before) {
            *sshd_check = true;
        }
    }

    /// Plans setting the mode and owner of `rel` in place. Symlinks are not followed: a link
    /// at a hardened path is reported, not changed.
    pub fn chmod(&mut self, rel: &Path, mode: u32, uid: u32, gid: u32, detail: String) {
        if self.covered(rel) {
            return;
        }
        let Some(st) = self.lstat(rel) else { return };
        if root::file_type(&st) == FileType::Symlink {
            self.warn(rel, "is a symlink; its mode is not changed (fix the file it points to)");
            return;
        }
        if st.st_mode & 0o7777 == mode && st.st_uid == uid && st.st_gid == gid {
            return;
        }
        self.push(Kind::Chmod, rel, (1, 0), Some(detail), inode(&st, None), Payload::Chmod { mode, uid, gid });
    }

    /// True when a planned action removes `rel` (itself, or a tree it is in).
    pub fn removes(&self, rel: &Path) -> bool {
        self.plan.actions.iter().any(|a| match a.kind {
            Kind::Remove | Kind::RemoveTree => rel.starts_with(&a.path),
            Kind::Empty => rel.starts_with(&a.path) && rel != a.path,
            _ => false,
        })
    }

    /// Plans running a command that changes `touches` (root-relative).
    pub fn run(&mut self, argv: Vec<String>, detail: String, touches: &[PathBuf]) {
        if self.plan.actions.iter().any(|a| matches!(&a.payload, Payload::Run(x) if *x == argv)) {
            return;
        }
        self.push(
            Kind::Run,
            Path::new(""),
            (touches.len() as u64, 0),
            Some(detail),
            Expect::Nothing,
            Payload::Run(argv),
        );
        if let Some(a) = self.plan.actions.last_mut() {
            a.touches = touches.iter().map(|p| root::show(p)).collect();
        }
    }

    /// Lists the names in directory `rel` (no symlinks followed on the way), or an empty list
    /// when it does not exist.
    pub fn list(&mut self, rel: &Path) -> Vec<std::ffi::OsString> {
        let fd = match self.root.open_dir(rel) {
            Ok(fd) => fd,
            Err(e) => {
                self.io_warn(rel, "cannot open directory", &e);
                return Vec::new();
            }
        };
        let mut names = Vec::new();
        let dir = match rustix::fs::Dir::new(fd) {
            Ok(d) => d,
            Err(e) => {
                self.warn(rel, format!("cannot read directory: {e}"));
                return names;
            }
        };
        for entry in dir {
            match entry {
                Ok(e) => {
                    let n = std::ffi::OsStr::from_bytes(e.file_name().to_bytes());
                    if n != "." && n != ".." {
                        names.push(n.to_os_string());
                    }
                }
                Err(e) => {
                    self.warn(rel, format!("cannot read directory: {e}"));
                    break;
                }
            }
        }
        // Sorted so plans are stable from run to run.
        names.sort();
        names
    }
}

use std::os::unix::ffi::OsStrExt;

/// `proc`, `sys`, `dev` and `run` at the top of the root: kernel and runtime state, never part
/// of an image, and never touched (under `--root` they are usually empty mount points).
pub fn is_virtual(rel: &Path) -> bool {
    rel.components().next().is_some_and(|c| matches!(c.as_os_str().to_str(), Some("proc" | "sys" | "dev" | "run")))
}

fn inode(st: &Stat, content: Option<u64>) -> Expect {
    Expect::Inode { dev: st.st_dev, ino: st.st_ino, content }
}

/// A content fingerprint for change detection between plan and apply (not for security).
pub(crate) fn hash(data: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}
