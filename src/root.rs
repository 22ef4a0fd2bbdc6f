//! The one handle on the target root: every filesystem access of amiprep goes through it.
//!
//! Paths handed to a [`Root`] are root-relative (`etc/ssh/sshd_config`). They are resolved by the
//! kernel with `openat2(RESOLVE_IN_ROOT)`, so `..` and absolute symlinks stay inside the root and a
//! path can never escape it. Two resolution modes exist, and which one a caller uses is the
//! safety policy:
//! - [`Root::open_config`] follows symlinks (inside the root). It is for reading configuration
//!   such as `etc/os-release`, which is routinely a symlink, and never for deleting.
//! - Everything that changes the tree uses [`Root::open_parent`], which refuses every symlink on
//!   the way (`RESOLVE_NO_SYMLINKS`) and hands back the parent directory plus the final name, so
//!   the final component is acted on with `*at(..., AT_SYMLINK_NOFOLLOW)` and a symlink there is
//!   removed as a link, never followed.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, Stat, StatxFlags};

/// A validated root-relative path: no leading `/`, no `.` or `..`, never empty except for the
/// root itself.
pub type RelPath = Path;

/// Normalises a user- or profile-supplied path (`/etc/x`, `etc//x`, `./etc/x`) into a
/// root-relative one. `..` is rejected rather than resolved: a profile has no reason to use it
/// and resolving it lexically would hide intent.
pub fn rel(path: impl AsRef<Path>) -> Result<PathBuf> {
    let path = path.as_ref();
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir => bail!("path {} contains `..`; write it without `..`", path.display()),
            Component::Prefix(_) => bail!("path {} is not a unix path", path.display()),
        }
    }
    Ok(out)
}

/// Shows a root-relative path the way reports print it: with a leading `/`, meaning "from the
/// top of the target root", and with non-UTF-8 bytes escaped so output stays one line per path.
pub fn show(path: &RelPath) -> String {
    let bytes = path.as_os_str().as_bytes();
    let mut s = String::with_capacity(bytes.len() + 1);
    s.push('/');
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch.is_control() {
                s.extend(ch.escape_default());
            } else {
                s.push(ch);
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// A handle on the target root directory.
pub struct Root {
    fd: OwnedFd,
    /// The path the user gave, for messages only: it is never used to reach files.
    display: PathBuf,
    /// True when the root is the running system's `/`, which enables live-only steps.
    live: bool,
    /// Mount ids that walks and edits may touch: the root's own plus the profile's
    /// `walk.include_mounts`. Anything else is another filesystem and is left alone.
    allowed_mounts: Vec<u64>,
    mount_warnings: Vec<(PathBuf, String)>,
}

impl Root {
    /// Opens the target root. `/` (or anything resolving to the same inode as `/`) is live.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .with_context(|| format!("opening target root {}", path.display()))?;
        let st = rustix::fs::fstat(&fd).with_context(|| format!("stat {}", path.display()))?;
        let slash = rustix::fs::stat("/").context("stat /")?;
        let live = st.st_dev == slash.st_dev && st.st_ino == slash.st_ino;
        let mnt = mount_id(fd.as_fd(), "").with_context(|| format!("statx {}", path.display()))?;
        Ok(Root { fd, display: path.to_path_buf(), live, allowed_mounts: vec![mnt], mount_warnings: Vec::new() })
    }

    /// Lets walks and edits enter the filesystem mounted at `rel` (a profile's
    /// `walk.include_mounts`). A missing path is not an error: the same profile serves images
    /// with and without that mount. Anything else that stops it (a symlink in the way) is kept
    /// in [`Root::mount_warnings`] for the report, and the mount stays out of bounds.
    pub fn allow_mount(&mut self, rel: &RelPath) {
        let id = self.open_dir(rel).and_then(|fd| mount_id(fd.as_fd(), ""));
        match id {
            Ok(id) if !self.allowed_mounts.contains(&id) => self.allowed_mounts.push(id),
            Ok(_) => {}
            Err(e) if is_absent(&e) => {}
            Err(e) if is_symlink_refusal(&e) => self.mount_warnings.push((
                rel.to_path_buf(),
                "include_mounts entry is (or goes through) a symlink; not followed: name the real mount point".into(),
            )),
            Err(e) => {
                self.mount_warnings.push((rel.to_path_buf(), format!("include_mounts entry cannot be opened: {e}")))
            }
        }
    }

    /// Problems met by [`Root::allow_mount`].
    pub fn mount_warnings(&self) -> &[(PathBuf, String)] {
        &self.mount_warnings
    }

    pub fn display(&self) -> &Path {
        &self.display
    }

    /// The root's real path, from the kernel (for tools that take a path, like
    /// `systemctl --root`). Falls back to the path given.
    pub fn real_path(&self) -> PathBuf {
        proc_fd_path(self.fd.as_fd()).unwrap_or_else(|_| self.display.clone())
    }

    pub fn is_live(&self) -> bool {
        self.live
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// True when the directory `dir` lives on a filesystem amiprep may change.
    pub fn mount_allowed(&self, dir: BorrowedFd<'_>) -> io::Result<bool> {
        Ok(self.allowed_mounts.contains(&mount_id(dir, "")?))
    }

    /// Opens a file for reading configuration, following symlinks inside the root.
    pub fn open_config(&self, rel: &RelPath) -> io::Result<OwnedFd> {
        self.open_following(rel, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK)
    }

    /// openat2 that follows symlinks, but only inside the root: for reading configuration.
    fn open_following(&self, rel: &RelPath, flags: OFlags) -> io::Result<OwnedFd> {
        Ok(rustix::fs::openat2(&self.fd, dot(rel), flags, Mode::empty(), following())?)
    }

    /// Reads a whole configuration file (following symlinks inside the root). Refuses anything
    /// that is not a regular file, so a FIFO planted at `etc/passwd` cannot hang us.
    pub fn read_config(&self, rel: &RelPath) -> io::Result<Vec<u8>> {
        let fd = self.open_config(rel)?;
        read_regular(fd)
    }

    /// Like [`Root::read_config`], but `Ok(None)` when the file does not exist.
    pub fn read_config_opt(&self, rel: &RelPath) -> io::Result<Option<Vec<u8>>> {
        match self.read_config(rel) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.raw_os_error() == Some(libc_enoent()) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// True when `rel` exists, following symlinks inside the root. For presence tests only
    /// ("is dnf installed?"), never before changing anything.
    pub fn exists(&self, rel: &RelPath) -> bool {
        self.open_following(rel, OFlags::PATH | OFlags::CLOEXEC).is_ok()
    }

    /// `stat` of a configuration path, following symlinks inside the root (what `chmod` and
    /// the services reading it see). For audits only, never before changing anything.
    pub fn stat_config(&self, rel: &RelPath) -> io::Result<Stat> {
        let flags = OFlags::PATH | OFlags::CLOEXEC;
        let fd = rustix::fs::openat2(
            &self.fd,
            dot(rel),
            flags,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?;
        Ok(rustix::fs::fstat(&fd)?)
    }

    /// The target of the symlink `rel` (no symlink followed on the way), `Ok(None)` when `rel`
    /// does not exist or is not a symlink.
    pub fn read_link(&self, rel: &RelPath) -> io::Result<Option<PathBuf>> {
        let (dir, name) = match self.open_parent(rel) {
            Ok(v) => v,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        match rustix::fs::readlinkat(&dir, name, Vec::new()) {
            Ok(t) => Ok(Some(PathBuf::from(OsString::from_vec(t.into_bytes())))),
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::INVAL) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// True when `rel` (not followed if it is a symlink) lives on a filesystem amiprep may
    /// change. A file bind-mounted over (`etc/resolv.conf` in some setups) is its own mount.
    pub fn path_mount_allowed(&self, rel: &RelPath) -> io::Result<bool> {
        let (dir, name) = self.open_parent(rel)?;
        Ok(self.allowed_mounts.contains(&mount_id(dir.as_fd(), name)?))
    }

    /// Opens a directory without following any symlink on the way. Used for everything that
    /// modifies the tree.
    pub fn open_dir(&self, rel: &RelPath) -> io::Result<OwnedFd> {
        // No O_NOFOLLOW: RESOLVE_NO_SYMLINKS already refuses a final symlink, and answers ELOOP
        // for it (O_NOFOLLOW would make that ENOTDIR, indistinguishable from "not there").
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(rustix::fs::openat2(&self.fd, dot(rel), flags, Mode::empty(), strict())?)
    }

    /// Opens the parent directory of `rel` (refusing symlinks on the way) and returns it with
    /// the final path component, ready for `*at` calls with `AT_SYMLINK_NOFOLLOW`.
    pub fn open_parent<'p>(&self, rel: &'p RelPath) -> io::Result<(OwnedFd, &'p OsStr)> {
        let name = rel
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the root itself has no parent"))?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        Ok((self.open_dir(parent)?, name))
    }

    /// Reads a regular file for editing: no symlink is followed anywhere, including the final
    /// component (a link there answers `ELOOP`). `Ok(None)` when it does not exist.
    pub fn read_nofollow(&self, rel: &RelPath) -> io::Result<Option<(Stat, Vec<u8>)>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let fd = match rustix::fs::openat2(&self.fd, dot(rel), flags, Mode::empty(), strict()) {
            Ok(fd) => fd,
            Err(e) if is_absent(&e.into()) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let st = rustix::fs::fstat(&fd)?;
        Ok(Some((st, read_regular(fd)?)))
    }

    /// `lstat` of a root-relative path: the final component is not followed, and no symlink on
    /// the way is either.
    pub fn lstat(&self, rel: &RelPath) -> io::Result<Stat> {
        let (dir, name) = self.open_parent(rel)?;
        Ok(rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?)
    }

    /// Like [`Root::lstat`], but `Ok(None)` when the path (or a directory on the way) does not
    /// exist.
    pub fn lstat_opt(&self, rel: &RelPath) -> io::Result<Option<Stat>> {
        match self.lstat(rel) {
            Ok(st) => Ok(Some(st)),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens a directory of configuration (a unit directory, `etc/systemd/system`), following
    /// symlinks inside the root the way the tools that read it do (`lib` -> `usr/lib`). For
    /// reading only.
    pub fn open_config_dir(&self, rel: &RelPath) -> io::Result<OwnedFd> {
        self.open_following(rel, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC)
    }

    /// The names in a configuration directory (followed inside the root), sorted; empty when
    /// it does not exist.
    pub fn list_config(&self, rel: &RelPath) -> io::Result<Vec<OsString>> {
        let fd = match self.open_config_dir(rel) {
            Ok(fd) => fd,
            Err(e) if is_absent(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::new(fd)? {
            let n = OsStr::from_bytes(entry?.file_name().to_bytes()).to_os_string();
            if n != "." && n != ".." {
                names.push(n);
            }
        }
        names.sort();
        Ok(names)
    }

    /// What is at `rel` in configuration terms: the directories on the way are followed inside
    /// the root, the final component is not. `Ok(None)` when nothing is there.
    pub fn config_entry(&self, rel: &RelPath) -> io::Result<Option<Entry>> {
        let Some(name) = rel.file_name() else { return Ok(Some(Entry::Other)) };
        let dir = match self.open_config_dir(rel.parent().unwrap_or(Path::new(""))) {
            Ok(d) => d,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        match rustix::fs::readlinkat(&dir, name, Vec::new()) {
            Ok(t) => Ok(Some(Entry::Link(PathBuf::from(OsString::from_vec(t.into_bytes()))))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(rustix::io::Errno::INVAL) => Ok(Some(Entry::Other)),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates directory `rel` and any missing parents (root-owned, `mode`), refusing symlinks
    /// on the way like every other change, and returns it opened.
    pub fn create_dirs(&self, rel: &RelPath, mode: u32) -> io::Result<OwnedFd> {
        self.create_dirs_with(rel, mode, strict())
    }

    fn create_dirs_with(&self, rel: &RelPath, mode: u32, resolve: ResolveFlags) -> io::Result<OwnedFd> {
        let open = |r: &RelPath| -> io::Result<OwnedFd> {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            Ok(rustix::fs::openat2(&self.fd, dot(r), flags, Mode::empty(), resolve)?)
        };
        match open(rel) {
            Ok(fd) => return Ok(fd),
            Err(e) if !is_absent(&e) => return Err(e),
            Err(_) => {}
        }
        if let Some(parent) = rel.parent() {
            let dir = self.create_dirs_with(parent, mode, resolve)?;
            let name = rel.file_name().expect("a non-empty path");
            match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        open(rel)
    }

    /// Writes amiprep's own file `rel` (the receipt, first-boot state) atomically (see
    /// [`crate::atomic`]), creating missing directories. Directories on the way are followed
    /// inside the root, as for configuration (a `var` that links to `data/var` is where the
    /// system keeps its state); the file itself is replaced, never written through a link.
    pub fn write_atomic(&self, rel: &RelPath, data: &[u8], mode: u32) -> io::Result<()> {
        let name = rel.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = self.create_dirs_with(parent, 0o755, following())?;
        let like = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if file_type(&st) == rustix::fs::FileType::RegularFile => Some(st),
            Ok(_) => return Err(io::Error::other(format!("{} exists and is not a regular file", show(rel)))),
            Err(rustix::io::Errno::NOENT) => None,
            Err(e) => return Err(e.into()),
        };
        crate::atomic::replace(dir.as_fd(), name, data, like.as_ref(), Some(mode))
    }

    /// The real path on this system of directory `rel` (see [`Root::canonical_dir`]), for
    /// tools that take a path, such as ssh-keygen.
    pub fn host_dir(&self, rel: &RelPath) -> io::Result<PathBuf> {
        Ok(self.real_path().join(self.canonical_dir(rel)?))
    }

    /// Resolves a directory given by the image's own configuration (a passwd home, an
    /// `AuthorizedKeysFile` directory) to its canonical root-relative path. Symlinks are
    /// followed *inside the root* here, because administrators legitimately point `/home` at
    /// `/var/home`; everything beneath the returned path is then reached without following
    /// symlinks, so a user cannot redirect a cleanup by planting a link in their own home.
    pub fn canonical_dir(&self, rel: &RelPath) -> io::Result<PathBuf> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = self.open_following(rel, flags)?;
        let target = proc_fd_path(fd.as_fd())?;
        let root = proc_fd_path(self.fd.as_fd())?;
        match target.strip_prefix(&root) {
            Ok(r) => Ok(r.to_path_buf()),
            // Cannot happen with RESOLVE_IN_ROOT, but if /proc lies we refuse rather than guess.
            Err(_) => Err(io::Error::other(format!("{} resolves outside the root", show(rel)))),
        }
    }
}

/// A directory entry seen by [`Root::config_entry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A symlink, with its target as written.
    Link(PathBuf),
    /// Anything else: a file, a directory, a device.
    Other,
}

/// The resolve flags for reading configuration: symlinks are followed, inside the root.
fn following() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// The resolve flags for anything that modifies the tree: contained in the root and no symlink
/// anywhere on the way.
fn strict() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

/// openat2 wants "." for the directory itself rather than an empty path.
fn dot(rel: &RelPath) -> &Path {
    if rel.as_os_str().is_empty() { Path::new(".") } else { rel }
}

fn proc_fd_path(fd: BorrowedFd<'_>) -> io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    let link = rustix::fs::readlink(format!("/proc/self/fd/{}", fd.as_raw_fd()), Vec::new())?;
    Ok(PathBuf::from(OsString::from_vec(link.into_bytes())))
}

use std::os::unix::ffi::OsStringExt;

/// The kernel's mount id of `name` in `dir` (`""` for `dir` itself), not following a symlink.
/// Unlike `st_dev` it also tells bind mounts of the same filesystem apart.
pub fn mount_id(dir: BorrowedFd<'_>, name: impl AsRef<OsStr>) -> io::Result<u64> {
    let name = name.as_ref();
    let flags = AtFlags::SYMLINK_NOFOLLOW | if name.is_empty() { AtFlags::EMPTY_PATH } else { AtFlags::empty() };
    let st = rustix::fs::statx(dir, name, flags, StatxFlags::MNT_ID)?;
    if st.stx_mask & StatxFlags::MNT_ID.bits() != 0 && st.stx_mnt_id != 0 {
        return Ok(st.stx_mnt_id);
    }
    // Kernels before 5.8 have no STATX_MNT_ID, and qemu-user (which runs the aarch64 tests)
    // claims it but leaves it 0: every file would look like one mount and walks would cross
    // into any. fdinfo has had the id of any open descriptor since Linux 3.15; O_PATH with
    // O_NOFOLLOW opens the name itself (a symlink, a FIFO) without following or reading it.
    use std::os::fd::AsRawFd;
    let opened;
    let fd = if name.is_empty() {
        dir
    } else {
        opened = rustix::fs::openat(dir, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
        opened.as_fd()
    };
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?;
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no mount id from statx or /proc/self/fdinfo"))
}

/// Reads a regular file to the end, refusing FIFOs, devices and directories.
pub fn read_regular(fd: OwnedFd) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let st = rustix::fs::fstat(&fd)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a regular file"));
    }
    let mut buf = Vec::with_capacity(st.st_size.max(0) as usize);
    std::fs::File::from(fd).read_to_end(&mut buf)?;
    Ok(buf)
}

/// True for the errors that mean "not there": the path or a directory on the way is missing,
/// or a directory on the way is not a directory.
pub fn is_absent(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(c) if c == libc_enoent() || c == rustix::io::Errno::NOTDIR.raw_os_error())
}

fn libc_enoent() -> i32 {
    rustix::io::Errno::NOENT.raw_os_error()
}

/// True when an openat2 refused a path because a component on the way is a symlink
/// (`RESOLVE_NO_SYMLINKS` answers `ELOOP`).
pub fn is_symlink_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

/// The file type of a stat result.
pub fn file_type(st: &Stat) -> rustix::fs::FileType {
    rustix::fs::FileType::from_raw_mode(st.st_mode)
}

/// Bytes a file really occupies, for reports: the apparent size, except for sparse files
/// (`lastlog` is routinely tens of MB apparent and a few KB on disk) where the allocated size is
/// the honest figure.
pub fn size_of(st: &Stat) -> u64 {
    let apparent = st.st_size.max(0) as u64;
    let allocated = (st.st_blocks.max(0) as u64) * 512;
    // Small files and links can be stored inline with no blocks at all: only a hole bigger
    // than a few blocks marks a file as sparse.
    if allocated + 64 * 1024 < apparent { allocated } else { apparent }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_normalises_and_rejects_dotdot() {
        assert_eq!(rel("/etc//ssh/./x").unwrap(), PathBuf::from("etc/ssh/x"));
        assert_eq!(rel("/").unwrap(), PathBuf::from(""));
        assert!(rel("etc/../../x").is_err());
    }

    #[test]
    fn show_escapes_non_utf8_and_controls() {
        let p = PathBuf::from(OsStr::from_bytes(b"tmp/a\xffb\nc"));
        assert_eq!(show(&p), "/tmp/a\\xffb\\nc");
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/real"), b"inside").unwrap();
        std::os::unix::fs::symlink("/etc/real", t.path().join("etc/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../etc/passwd", t.path().join("etc/escape")).unwrap();
        let root = Root::open(t.path()).unwrap();
        assert_eq!(root.read_config(Path::new("etc/abs")).unwrap(), b"inside");
        // `..` past the top stays at the top: the host's /etc/passwd is never reached.
        assert!(root.read_config(Path::new("etc/escape")).is_err());
        // The strict mode refuses the link itself.
        std::os::unix::fs::symlink("/etc", t.path().join("lnk")).unwrap();
        let e = root.open_dir(Path::new("lnk")).unwrap_err();
        assert!(is_symlink_refusal(&e), "{e:?}");
    }
}
