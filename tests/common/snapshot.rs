//! Whole-tree snapshots of a fake root, and the comparisons the tests make with them.
//!
//! The walk is descriptor-based (`openat` one component at a time, never following a link),
//! like amiprep's own, so it sees trees deeper than `PATH_MAX` and never leaves the root
//! through a symlink. Reading files for their hash changes only their atime, which no snapshot
//! records: taking a snapshot never changes what the next snapshot sees.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

/// What kind of file an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    Other,
}

/// Everything a snapshot records about one path (atime excepted: reading changes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (`& 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// A hash of a regular file's content, the target of a symlink, nothing otherwise.
    pub data: Data,
    pub ino: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    None,
    Hash(u64),
    Link(Vec<u8>),
}

/// Root-relative path (the root itself is the empty path) to what it was.
pub type Snapshot = BTreeMap<PathBuf, Entry>;

/// A content fingerprint. `DefaultHasher::new()` has fixed keys, so equal content hashes
/// equal across snapshots taken by the same test process.
pub fn hash(data: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}

/// Snapshots everything under `root`, including `root` itself (as the empty path).
pub fn snapshot(root: &Path) -> Snapshot {
    let fd = rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .unwrap_or_else(|e| panic!("snapshot: open {}: {e}", root.display()));
    let mut out = Snapshot::new();
    let st = rustix::fs::fstat(&fd).expect("snapshot: fstat root");
    out.insert(PathBuf::new(), entry(&st, Data::None));
    let mut path = PathBuf::new();
    walk(fd, &mut path, &mut out);
    out
}

fn entry(st: &rustix::fs::Stat, data: Data) -> Entry {
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        FileType::Fifo => Kind::Fifo,
        FileType::Socket => Kind::Socket,
        _ => Kind::Other,
    };
    Entry {
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u64,
        data,
        ino: st.st_ino,
        mtime: (st.st_mtime, st.st_mtime_nsec as i64),
        ctime: (st.st_ctime, st.st_ctime_nsec as i64),
    }
}

fn walk(dir: OwnedFd, path: &mut PathBuf, out: &mut Snapshot) {
    // Names first, then descend: one descriptor per level, not one per open readdir stream.
    let mut names: Vec<Vec<u8>> = Vec::new();
    for e in Dir::read_from(&dir).expect("snapshot: readdir") {
        let e = e.expect("snapshot: readdir entry");
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    for n in names {
        let name = OsStr::from_bytes(&n);
        path.push(name);
        let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .unwrap_or_else(|e| panic!("snapshot: stat {}: {e}", path.display()));
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                out.insert(path.clone(), entry(&st, Data::None));
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let sub = rustix::fs::openat(&dir, name, flags, Mode::empty())
                    .unwrap_or_else(|e| panic!("snapshot: open dir {}: {e}", path.display()));
                walk(sub, path, out);
            }
            FileType::RegularFile => {
                let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(&dir, name, flags, Mode::empty())
                    .unwrap_or_else(|e| panic!("snapshot: open {}: {e}", path.display()));
                let mut buf = Vec::new();
                std::fs::File::from(fd).read_to_end(&mut buf).expect("snapshot: read");
                out.insert(path.clone(), entry(&st, Data::Hash(hash(&buf))));
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir.as_fd(), name, Vec::new()).expect("snapshot: readlink");
                out.insert(path.clone(), entry(&st, Data::Link(target.into_bytes())));
            }
            _ => {
                out.insert(path.clone(), entry(&st, Data::None));
            }
        }
        path.pop();
    }
}

/// How closely an expected entry must match the actual one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Byte for byte and inode for inode, timestamps included.
    Exact,
    /// A directory that stays while entries inside it change: its mtime, ctime and size follow
    /// its children, everything else (inode, mode, owner) must not change.
    DirKept,
    /// Truncated in place: the same inode, owner and mode, now empty.
    Truncated,
    /// Replaced atomically: new inode and times, but the expected content, mode and owner.
    Rewritten,
    /// Created by the run with this kind, mode and owner; content checked elsewhere (the seal
    /// receipt, whose content carries a time).
    Created,
}

/// The tree a test expects after a run, and how strictly each path is compared.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub entries: BTreeMap<PathBuf, (Entry, Check)>,
}

impl Expected {
    /// Expects the tree to be exactly `before`, except that directories may have new times
    /// (apply removes things inside them).
    pub fn unchanged(before: &Snapshot) -> Self {
        let entries = before
            .iter()
            .map(|(p, e)| {
                let check = if e.kind == Kind::Dir { Check::DirKept } else { Check::Exact };
                (p.clone(), (e.clone(), check))
            })
            .collect();
        Expected { entries }
    }

    /// What a seal that changed nothing else leaves: `before` plus the receipt.
    pub fn sealed(before: &Snapshot) -> Self {
        let mut e = Expected::unchanged(before);
        e.receipt();
        e
    }

    fn get_mut(&mut self, p: &Path) -> &mut (Entry, Check) {
        self.entries.get_mut(p).unwrap_or_else(|| panic!("fixture: {} is not in the snapshot", p.display()))
    }

    /// `p` and everything below it are gone.
    pub fn gone(&mut self, p: &Path) {
        assert!(self.entries.remove(p).is_some(), "fixture: {} is not in the snapshot", p.display());
        self.empty(p);
    }

    /// Everything below `p` is gone; `p` itself stays.
    pub fn empty(&mut self, p: &Path) {
        let below: Vec<PathBuf> = self.entries.keys().filter(|k| *k != p && k.starts_with(p)).cloned().collect();
        for k in below {
            self.entries.remove(&k);
        }
    }

    pub fn truncated(&mut self, p: &Path) {
        let (e, check) = self.get_mut(p);
        assert_eq!(e.kind, Kind::File, "fixture: {} must be a regular file to be truncated", p.display());
        e.size = 0;
        e.data = Data::Hash(hash(b""));
        *check = Check::Truncated;
    }

    /// The content (and with `mode`, the permission bits) of `p` is replaced.
    pub fn rewritten(&mut self, p: &Path, content: &[u8], mode: Option<u32>) {
        let (e, check) = self.get_mut(p);
        e.size = content.len() as u64;
        e.data = Data::Hash(hash(content));
        if let Some(m) = mode {
            e.mode = m;
        }
        *check = Check::Rewritten;
    }

    /// A successful seal writes its receipt at var/lib/amiprep/receipt.json (mode 0644,
    /// root-owned), creating var/lib/amiprep (0755) when missing.
    pub fn receipt(&mut self) {
        self.created("var/lib/amiprep/receipt.json", Kind::File, 0o644);
    }

    /// `p` is created, root-owned with this kind and mode, and its missing parents with it
    /// (directories, 0755).
    pub fn created(&mut self, p: impl AsRef<Path>, kind: Kind, mode: u32) {
        let p = p.as_ref();
        let mk = |kind: Kind, mode: u32| Entry {
            kind,
            mode,
            uid: 0,
            gid: 0,
            size: 0,
            ino: 0,
            mtime: (0, 0),
            ctime: (0, 0),
            data: Data::None,
        };
        for d in p.ancestors().skip(1).filter(|d| !d.as_os_str().is_empty()) {
            self.entries.entry(d.to_path_buf()).or_insert_with(|| (mk(Kind::Dir, 0o755), Check::Created));
        }
        self.entries.insert(p.to_path_buf(), (mk(kind, mode), Check::Created));
    }

    /// Every difference between this expectation and `actual`, one line each.
    pub fn diff(&self, actual: &Snapshot) -> Vec<String> {
        self.mismatches(actual).into_iter().map(|(p, what)| format!("{}{what}", show(&p))).collect()
    }

    /// The paths that differ from this expectation (including paths that should not exist),
    /// each with what differs.
    pub fn mismatches(&self, actual: &Snapshot) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        for (p, (want, check)) in &self.entries {
            let Some(got) = actual.get(p) else {
                out.push((p.clone(), format!(": should still exist ({:?}), but is gone", want.kind)));
                continue;
            };
            let mut fields = Vec::new();
            let mut cmp = |name: &str, a: &dyn fmt::Debug, b: &dyn fmt::Debug, same: bool| {
                if !same {
                    fields.push(format!("{name} {a:?} -> {b:?}"));
                }
            };
            cmp("kind", &want.kind, &got.kind, want.kind == got.kind);
            cmp("mode", &Oct(want.mode), &Oct(got.mode), want.mode == got.mode);
            cmp("uid", &want.uid, &got.uid, want.uid == got.uid);
            cmp("gid", &want.gid, &got.gid, want.gid == got.gid);
            if *check == Check::Created {
                if !fields.is_empty() {
                    out.push((p.clone(), format!(" (Created): {}", fields.join(", "))));
                }
                continue;
            }
            if *check != Check::DirKept {
                cmp("size", &want.size, &got.size, want.size == got.size);
                cmp("content", &want.data, &got.data, want.data == got.data);
            }
            if *check != Check::Rewritten {
                cmp("inode", &want.ino, &got.ino, want.ino == got.ino);
            }
            if *check == Check::Exact {
                cmp("mtime", &want.mtime, &got.mtime, want.mtime == got.mtime);
                cmp("ctime", &want.ctime, &got.ctime, want.ctime == got.ctime);
            }
            if !fields.is_empty() {
                out.push((p.clone(), format!(" ({check:?}): {}", fields.join(", "))));
            }
        }
        for (p, got) in actual {
            if !self.entries.contains_key(p) {
                out.push((p.clone(), format!(": should be gone, but is there ({:?})", got.kind)));
            }
        }
        out
    }

    /// Panics with every difference listed when `actual` is not what was expected.
    #[track_caller]
    pub fn assert_matches(&self, actual: &Snapshot, context: &str) {
        let d = self.diff(actual);
        if !d.is_empty() {
            let shown: Vec<&String> = d.iter().take(60).collect();
            panic!(
                "{context}: the tree differs from the expectation in {} places:\n  {}{}",
                d.len(),
                shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
                if d.len() > shown.len() { "\n  ..." } else { "" }
            );
        }
    }
}

/// Asserts two snapshots are identical in every recorded field, timestamps included.
#[track_caller]
pub fn assert_identical(before: &Snapshot, after: &Snapshot, context: &str) {
    let exact = Expected { entries: before.iter().map(|(p, e)| (p.clone(), (e.clone(), Check::Exact))).collect() };
    exact.assert_matches(after, context);
}

/// The parts of a tree that two independently built copies share: no inodes, no times.
pub fn shape(s: &Snapshot) -> BTreeMap<PathBuf, (Kind, u32, u32, u32, Data)> {
    s.iter()
        .map(|(p, e)| {
            // A directory's size depends on its history (ext4 never shrinks one), not its content.
            let data = if e.kind == Kind::Dir { Data::None } else { e.data.clone() };
            (p.clone(), (e.kind, e.mode, e.uid, e.gid, data))
        })
        .collect()
}

/// Asserts two independently built trees have the same shape (see [`shape`]), listing only
/// the paths that differ.
#[track_caller]
pub fn assert_same_shape(a: &Snapshot, b: &Snapshot, context: &str) {
    let (a, b) = (shape(a), shape(b));
    let mut d = Vec::new();
    for (p, x) in &a {
        match b.get(p) {
            None => d.push(format!("{}: only in the first tree", show(p))),
            Some(y) if x != y => d.push(format!("{}: {x:?} != {y:?}", show(p))),
            _ => {}
        }
    }
    d.extend(b.keys().filter(|p| !a.contains_key(*p)).map(|p| format!("{}: only in the second tree", show(p))));
    let shown: Vec<&str> = d.iter().take(60).map(String::as_str).collect();
    assert!(d.is_empty(), "{context}: {} differences:\n  {}", d.len(), shown.join("\n  "));
}

struct Oct(u32);

impl fmt::Debug for Oct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

/// A root-relative path as a readable string (non-UTF-8 bytes escaped).
pub fn show(p: &Path) -> String {
    format!("/{}", p.as_os_str().as_bytes().escape_ascii())
}
