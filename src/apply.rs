//! Executing a plan: each action re-checks that its target is still what the plan saw, then
//! acts through the root handle. One action's failure never stops the others.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use serde::Serialize;

use crate::atomic;
use crate::plan::{Action, Expect, Keep, Kind, Payload, Plan, hash};
use crate::root::{self, Root};
use crate::walk::{self, Tally};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Done,
    Skipped,
    Failed,
}

/// What happened to one action.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Entries actually removed or changed.
    pub entries: u64,
    /// Per-path problems inside a tree (at most [`walk::MAX_PROBLEMS`], then a count).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<PathProblem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathProblem {
    pub path: String,
    pub message: String,
}

impl Outcome {
    fn done(entries: u64) -> Self {
        Outcome { status: Status::Done, reason: None, entries, problems: Vec::new() }
    }
    fn skipped(reason: impl Into<String>) -> Self {
        Outcome { status: Status::Skipped, reason: Some(reason.into()), entries: 0, problems: Vec::new() }
    }
    fn failed(reason: impl Into<String>) -> Self {
        Outcome { status: Status::Failed, reason: Some(reason.into()), entries: 0, problems: Vec::new() }
    }
    fn from_tally(t: Tally) -> Self {
        let count = t.problem_count();
        let problems =
            t.problems.into_iter().map(|p| PathProblem { path: root::show(&p.path), message: p.message }).collect();
        if count == 0 {
            Outcome { status: Status::Done, reason: None, entries: t.entries, problems }
        } else {
            Outcome {
                status: Status::Failed,
                reason: Some(format!("{count} entries could not be removed")),
                entries: t.entries,
                problems,
            }
        }
    }
}

/// Executes every action of the plan in order. `progress` is told after each action.
pub fn apply(root: &Root, plan: &Plan, keep: &Keep, progress: &mut dyn FnMut(&Action, &Outcome)) -> Vec<Outcome> {
    plan.actions
        .iter()
        .map(|a| {
            let o = apply_one(root, a, keep);
            progress(a, &o);
            o
        })
        .collect()
}

fn apply_one(root: &Root, a: &Action, keep: &Keep) -> Outcome {
    if let Payload::Run(argv) = &a.payload {
        return run(argv);
    }
    let (dir, name) = match root.open_parent(&a.path) {
        Ok(v) => v,
        // A file to create (a preset file) may need its directory made first.
        Err(e) if root::is_absent(&e) && a.expect == Expect::Absent => {
            let parent = a.path.parent().unwrap_or(Path::new(""));
            match root.create_dirs(parent, 0o755) {
                Ok(fd) => (fd, a.path.file_name().expect("a planned file has a name")),
                Err(e) => return Outcome::failed(format!("cannot create {}: {e}", root::show(parent))),
            }
        }
        Err(e) if root::is_absent(&e) => return gone(),
        Err(e) if root::is_symlink_refusal(&e) => {
            return Outcome::skipped("a directory on the way became a symlink since the plan; not followed");
        }
        Err(e) => return Outcome::failed(format!("cannot open the parent directory: {e}")),
    };
    let current = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Some(st),
        Err(rustix::io::Errno::NOENT) => None,
        Err(e) => return Outcome::failed(format!("cannot stat: {e}")),
    };
    match (&a.expect, &current) {
        (Expect::Absent, None) | (Expect::Nothing, _) => {}
        (Expect::Inode { dev, ino, .. }, Some(st)) if st.st_dev == *dev && st.st_ino == *ino => {}
        (Expect::Inode { .. }, None) => return gone(),
        _ => return Outcome::skipped("changed since the plan was made; run amiprep again"),
    }
    match a.kind {
        Kind::Remove => match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
            Ok(()) => Outcome::done(1),
            Err(rustix::io::Errno::NOENT) => gone(),
            Err(e) => Outcome::failed(walk::removal_error(e)),
        },
        Kind::RemoveTree => Outcome::from_tally(walk::remove_tree(root, dir.as_fd(), name, &a.path, keep)),
        Kind::Empty => match walk::open_subdir(dir.as_fd(), name) {
            Ok(fd) => Outcome::from_tally(walk::empty(root, fd, &a.path, keep)),
            Err(e) => Outcome::failed(format!("cannot open directory: {e}")),
        },
        Kind::Truncate => truncate(root, &a.path, current.as_ref().map(|s| s.st_ino)),
        Kind::Rewrite => rewrite(root, a, dir.as_fd(), name, current.as_ref()),
        Kind::Run => Outcome::failed("internal: a run action without a command"),
        Kind::Chmod => chmod(root, a, current.map(|s| s.st_ino)),
    }
}

/// A target that disappeared on its own is what the action wanted.
fn gone() -> Outcome {
    Outcome::skipped("already gone")
}

fn truncate(root: &Root, rel: &Path, ino: Option<u64>) -> Outcome {
    // O_NONBLOCK: a FIFO swapped in since the plan must not hang us; it fails the type check.
    let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let fd = match rustix::fs::openat2(root.fd(), rel, flags, Mode::empty(), resolve) {
        Ok(fd) => fd,
        Err(e) => return Outcome::failed(format!("cannot open for truncation: {}", walk::removal_error(e))),
    };
    match rustix::fs::fstat(&fd) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && Some(st.st_ino) == ino => {}
        Ok(_) => return Outcome::skipped("changed since the plan was made; run amiprep again"),
        Err(e) => return Outcome::failed(format!("cannot stat: {e}")),
    }
    match rustix::fs::ftruncate(&fd, 0) {
        Ok(()) => Outcome::done(1),
        Err(e) => Outcome::failed(walk::removal_error(e)),
    }
}

fn rewrite(
    root: &Root,
    a: &Action,
    dir: std::os::fd::BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    current: Option<&rustix::fs::Stat>,
) -> Outcome {
    let Payload::Rewrite { data, mode, sshd_check } = &a.payload else {
        return Outcome::failed("internal: rewrite without content");
    };
    if let Expect::Inode { content: Some(h), .. } = a.expect {
        match root.read_nofollow(&a.path) {
            Ok(Some((_, now))) if hash(&now) == h => {}
            Ok(_) => return Outcome::skipped("content changed since the plan was made; run amiprep again"),
            Err(e) => return Outcome::failed(format!("cannot read: {e}")),
        }
    }
    if *sshd_check {
        let candidate = [(a.path.clone(), data.clone())];
        let checked = match crate::sshd::binary() {
            Some(sshd) => crate::sshd::validate(&sshd, root, &candidate),
            None => Err("there is no sshd here to check it with `sshd -t`".into()),
        };
        if let Err(why) = checked {
            return Outcome::failed(format!("not replaced, original untouched: {why}"));
        }
    }
    match atomic::replace(dir, name, data, current, *mode) {
        Ok(()) => Outcome::done(1),
        Err(e) => Outcome::failed(format!("not replaced, original untouched: {e}")),
    }
}

/// Sets mode and owner through a descriptor of the file itself, opened without following any
/// symlink, so the change lands on the inode the plan saw and nowhere else.
fn chmod(root: &Root, a: &Action, ino: Option<u64>) -> Outcome {
    let Payload::Chmod { mode, uid, gid } = a.payload else { return Outcome::failed("internal: chmod without a mode") };
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let fd = match rustix::fs::openat2(root.fd(), &a.path, flags, Mode::empty(), resolve) {
        Ok(fd) => fd,
        Err(e) => return Outcome::failed(format!("cannot open: {e}")),
    };
    match rustix::fs::fstat(&fd) {
        Ok(st) if Some(st.st_ino) == ino => {}
        Ok(_) => return Outcome::skipped("changed since the plan was made; run amiprep again"),
        Err(e) => return Outcome::failed(format!("cannot stat: {e}")),
    }
    // Owner first: chown clears the set-id bits, the mode then sets what is wanted.
    let owner = rustix::fs::fchown(&fd, Some(rustix::fs::Uid::from_raw(uid)), Some(rustix::fs::Gid::from_raw(gid)));
    match owner.and_then(|()| rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))) {
        Ok(()) => Outcome::done(1),
        Err(e) => Outcome::failed(walk::removal_error(e)),
    }
}

fn run(argv: &[String]) -> Outcome {
    let Some((cmd, args)) = argv.split_first() else { return Outcome::failed("empty command") };
    match Command::new(cmd).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).output() {
        Ok(out) if out.status.success() => Outcome::done(0),
        Ok(out) => {
            Outcome::failed(format!("{cmd} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Outcome::failed(format!("{cmd} is not installed")),
        Err(e) => Outcome::failed(format!("cannot run {cmd}: {e}")),
    }
}
