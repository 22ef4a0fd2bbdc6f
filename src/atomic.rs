//! Atomic replacement of a file's content: temp file in the same directory, fsync, rename,
//! fsync the directory. Owner, mode and extended attributes (the SELinux label among them) are
//! carried over, so the original is either untouched or wholly replaced, never half-written.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use rustix::fs::{AtFlags, Mode, OFlags, Stat, XattrFlags};

/// The temp name used for `name`. It is fixed, not random, so a run killed between creating it
/// and renaming it leaves a file the next run recognises and replaces.
pub fn temp_name(name: &OsStr) -> OsString {
    let mut t = b".".to_vec();
    t.extend_from_slice(name.as_bytes());
    t.extend_from_slice(b".amiprep-new");
    OsString::from_vec(t)
}

/// Replaces `name` in `dir` with `data`. `like` is the current file's stat (owner and mode to
/// keep), `None` when creating; `mode` overrides the mode.
pub fn replace(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    data: &[u8],
    like: Option<&Stat>,
    mode: Option<u32>,
) -> io::Result<()> {
    let tmp = temp_name(name);
    match rustix::fs::unlinkat(dir, &tmp, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, &tmp, flags, Mode::from_raw_mode(0o600))?;
    let result = fill(dir, name, &fd, data, like, mode).and_then(|()| {
        rustix::fs::renameat(dir, &tmp, dir, name)?;
        rustix::fs::fsync(dir)?;
        Ok(())
    });
    if result.is_err() {
        // Leave the original as it was and no stray temp file behind.
        let _ = rustix::fs::unlinkat(dir, &tmp, AtFlags::empty());
    }
    result
}

fn fill(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    fd: &OwnedFd,
    data: &[u8],
    like: Option<&Stat>,
    mode: Option<u32>,
) -> io::Result<()> {
    let mut f = std::fs::File::from(fd.try_clone()?);
    f.write_all(data)?;
    let (uid, gid, old_mode) = like.map_or((0, 0, 0o644), |st| (st.st_uid, st.st_gid, st.st_mode & 0o7777));
    rustix::fs::fchown(fd, Some(rustix::fs::Uid::from_raw(uid)), Some(rustix::fs::Gid::from_raw(gid)))?;
    // After chown, which clears set-id bits.
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode.unwrap_or(old_mode)))?;
    if like.is_some() {
        copy_xattrs(dir, name, fd.as_fd())?;
    }
    f.sync_all()?;
    Ok(())
}

/// Copies every extended attribute of the original to the new file. Failing to copy one fails
/// the replacement: a file that lost its SELinux label can stop a service from starting.
fn copy_xattrs(dir: BorrowedFd<'_>, name: &OsStr, to: BorrowedFd<'_>) -> io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let from = rustix::fs::openat(dir, name, flags, Mode::empty())?;
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::flistxattr(&from, &mut names[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(()),
        Err(rustix::io::Errno::RANGE) => {
            let size = rustix::fs::flistxattr_query(&from)?;
            names.resize(size, 0);
            rustix::fs::flistxattr(&from, &mut names[..])?
        }
        Err(e) => return Err(e.into()),
    };
    for attr in names[..n].split(|b| *b == 0).filter(|a| !a.is_empty()) {
        let attr = OsStr::from_bytes(attr);
        let size = rustix::fs::fgetxattr_query(&from, attr)?;
        let mut value = vec![0u8; size];
        let len = rustix::fs::fgetxattr(&from, attr, &mut value[..])?;
        rustix::fs::fsetxattr(to, attr, &value[..len], XattrFlags::empty()).map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("cannot copy extended attribute {}: {e}", attr.to_string_lossy()),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_keeping_mode_and_xattrs_and_cleans_stale_temp() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("hosts");
        std::fs::write(&p, b"old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let set = rustix::fs::setxattr(&p, "user.test", b"label", XattrFlags::empty());
        // A temp file from a killed run.
        std::fs::write(t.path().join(".hosts.amiprep-new"), b"stale").unwrap();
        let dir = rustix::fs::open(t.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let st = rustix::fs::stat(&p).unwrap();
        replace(dir.as_fd(), OsStr::new("hosts"), b"new", Some(&st), None).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777, 0o640);
        if set.is_ok() {
            let mut buf = [0u8; 16];
            let n = rustix::fs::getxattr(&p, "user.test", &mut buf[..]).unwrap();
            assert_eq!(&buf[..n], b"label");
        }
        assert!(!t.path().join(".hosts.amiprep-new").exists());
    }
}
