//! SSH host keys on a new instance: which ones the image's sshd expects, making the missing
//! ones with `ssh-keygen` (atomically), and their fingerprints for the console.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use rustix::fs::{AtFlags, Mode};
use sha2::{Digest, Sha256};

use crate::root::Root;

/// sshd's default host keys when its config names none.
const DEFAULT_TYPES: &[&str] = &["rsa", "ecdsa", "ed25519"];

/// A host key sshd will load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// `rsa`, `ecdsa` or `ed25519`.
    pub kind: String,
    /// Root-relative path of the private key; the public key is beside it with `.pub`.
    pub path: PathBuf,
}

impl HostKey {
    pub fn public(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".pub");
        PathBuf::from(p)
    }
}

/// The host keys to have: the global `HostKey` lines of sshd_config (sshd loads every one), or
/// sshd's defaults when there are none, limited to `types` when the profile names some.
/// Returns them and warnings about lines amiprep cannot act on.
pub fn expected(root: &Root, types: &[String]) -> (Vec<HostKey>, Vec<String>) {
    let config = crate::sshd::read(root);
    let mut warnings: Vec<String> =
        config.problems.iter().map(|(p, m)| format!("{}: {m}", crate::root::show(p))).collect();
    let wanted = |k: &str| types.is_empty() || types.iter().any(|t| t == k);
    let mut keys = Vec::new();
    for d in config.directives.iter().filter(|d| d.keyword == "hostkey" && !d.in_match) {
        let Some(arg) = d.args.first() else { continue };
        let name = Path::new(arg).file_name().and_then(OsStr::to_str).unwrap_or("");
        let kind = DEFAULT_TYPES.iter().find(|t| name.contains(&format!("_{t}_")) || name.ends_with(&format!("_{t}")));
        match (kind, crate::root::rel(arg)) {
            (Some(k), Ok(rel)) if wanted(k) => keys.push(HostKey { kind: k.to_string(), path: rel }),
            (Some(_), Ok(_)) => {}
            _ => warnings.push(format!(
                "{}:{}: HostKey {arg} does not name its type (rsa, ecdsa, ed25519); amiprep cannot make it",
                crate::root::show(&d.file),
                d.line
            )),
        }
    }
    if keys.is_empty() && !config.directives.iter().any(|d| d.keyword == "hostkey" && !d.in_match) {
        for t in DEFAULT_TYPES.iter().filter(|t| wanted(t)) {
            keys.push(HostKey { kind: t.to_string(), path: PathBuf::from(format!("etc/ssh/ssh_host_{t}_key")) });
        }
    }
    (keys, warnings)
}

/// Makes `key` with ssh-keygen in a private temp directory beside it, then renames both files
/// into place: sshd never sees a half-written key, and a killed run leaves only the temp
/// directory, which the next run clears. The private key gets mode 0600, or 0640 with group
/// `ssh_keys` where the image has that group (the RHEL family's convention).
pub fn generate(root: &Root, key: &HostKey, comment: &str) -> Result<()> {
    let dir_rel = key.path.parent().unwrap_or(Path::new(""));
    let name = key.path.file_name().ok_or_else(|| anyhow!("HostKey {} has no file name", key.path.display()))?;
    let dir = root.open_dir(dir_rel).with_context(|| format!("opening /{}", dir_rel.display()))?;
    let tmp_name = format!(".amiprep-keygen-{}", key.kind);
    clear(&dir, &tmp_name)?;
    rustix::fs::mkdirat(&dir, tmp_name.as_str(), Mode::from_raw_mode(0o700)).context("creating the key directory")?;
    let result = (|| -> Result<()> {
        let tmp_rel = dir_rel.join(&tmp_name);
        // ssh-keygen takes a path: the temp directory's real one, which only root can change.
        let host_dir = root.host_dir(&tmp_rel)?;
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", &key.kind, "-N", "", "-C", comment, "-f"])
            .arg(host_dir.join("key"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => anyhow!("ssh-keygen is not installed (package openssh-client)"),
                _ => anyhow!("cannot run ssh-keygen: {e}"),
            })?;
        if !out.status.success() {
            bail!(
                "ssh-keygen -t {} failed ({}): {}",
                key.kind,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let tmp = root.open_dir(&tmp_rel)?;
        let gid = ssh_keys_gid(root);
        let (mode, gid) = gid.map_or((0o600, 0), |g| (0o640, g));
        set_owner_mode(&tmp, "key", 0, gid, mode)?;
        set_owner_mode(&tmp, "key.pub", 0, 0, 0o644)?;
        rustix::fs::fsync(&tmp)?;
        let mut pub_name = name.to_os_string();
        pub_name.push(".pub");
        // Public first: a private key without its .pub is what a crash here leaves, and the next
        // run regenerates both, whereas a stale .pub beside a new private key would be wrong.
        rustix::fs::renameat(&tmp, "key.pub", &dir, pub_name.as_os_str())?;
        rustix::fs::renameat(&tmp, "key", &dir, name)?;
        rustix::fs::fsync(&dir)?;
        Ok(())
    })();
    clear(&dir, &tmp_name)?;
    result.with_context(|| format!("making {} host key /{}", key.kind, key.path.display()))
}

fn set_owner_mode(dir: &impl AsFd, name: &str, uid: u32, gid: u32, mode: u32) -> Result<()> {
    let fd = rustix::fs::openat(
        dir,
        name,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("ssh-keygen did not write {name}"))?;
    rustix::fs::fchown(&fd, Some(rustix::fs::Uid::from_raw(uid)), Some(rustix::fs::Gid::from_raw(gid)))?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    rustix::fs::fsync(&fd)?;
    Ok(())
}

/// Removes our temp directory `name` in `dir` and what it holds (two files at most).
fn clear(dir: &impl AsFd, name: &str) -> Result<()> {
    let sub = match rustix::fs::openat(
        dir,
        name,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::NOFOLLOW,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(anyhow!("cannot open the stale key directory {name}: {e}")),
    };
    for f in ["key", "key.pub"] {
        match rustix::fs::unlinkat(&sub, f, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(anyhow!("cannot clear {name}/{f}: {e}")),
        }
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(|e| anyhow!("cannot remove {name}: {e}"))
}

fn ssh_keys_gid(root: &Root) -> Option<u32> {
    let group = root.read_config_opt(Path::new("etc/group")).ok()??;
    crate::accounts::records(&group)
        .into_iter()
        .find(|r| r.first().is_some_and(|n| n == "ssh_keys"))
        .and_then(|r| r.get(2)?.parse().ok())
}

/// A private key whose `.pub` is missing: the public half is derived from it, not replaced.
pub fn derive_public(root: &Root, key: &HostKey) -> Result<()> {
    let dir = root.host_dir(key.path.parent().unwrap_or(Path::new("")))?;
    let out = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(dir.join(key.path.file_name().unwrap_or_default()))
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!("ssh-keygen -y {}: {}", key.path.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    root.write_atomic(&key.public(), &out.stdout, 0o644)?;
    Ok(())
}

/// A public key's fingerprint line as `ssh-keygen -l` and cloud-init print it:
/// `256 SHA256:... root@host (ED25519)`.
pub fn fingerprint(pub_line: &str) -> Option<String> {
    let mut f = pub_line.split_whitespace();
    let (algo, b64) = (f.next()?, f.next()?);
    let comment = f.collect::<Vec<_>>().join(" ");
    let blob = base64_decode(b64)?;
    let (label, bits) = match algo {
        "ssh-ed25519" => ("ED25519", 256),
        "ssh-rsa" => ("RSA", rsa_bits(&blob)?),
        a if a.starts_with("ecdsa-sha2-nistp") => ("ECDSA", a["ecdsa-sha2-nistp".len()..].parse().ok()?),
        _ => return None,
    };
    let digest = base64_encode(&Sha256::digest(&blob));
    let comment = if comment.is_empty() { "no comment".to_string() } else { comment };
    Some(format!("{bits} SHA256:{} {comment} ({label})", digest.trim_end_matches('=')))
}

/// The modulus size of an `ssh-rsa` blob: string "ssh-rsa", mpint e, mpint n.
fn rsa_bits(blob: &[u8]) -> Option<u32> {
    let mut rest = blob;
    let mut field = || -> Option<&[u8]> {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let v = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        Some(v)
    };
    let (_, _, n) = (field()?, field()?, field()?);
    let n: &[u8] = &n[n.iter().position(|b| *b != 0)?..];
    Some(n.len() as u32 * 8 - n[0].leading_zeros())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().take_while(|c| *c != b'=') {
        acc = (acc << 6) | B64.iter().position(|x| *x == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Keys and fingerprints made with OpenSSH 9.2's ssh-keygen and `ssh-keygen -l`.
    #[test]
    fn fingerprints_match_ssh_keygen() {
        let cases = [
            (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF4yFmVKVyLMbbyMQdr5ULwiqRBu2f5LE+bfN9mxAu8K root@build",
                "256 SHA256:9GT818Bj5oikm3Qts4DW9Z5kPAitYAy8njQ5e9d4yZE root@build (ED25519)",
            ),
            (
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDfQ5hp4a8+lq6h/JyjQvX9XdFWsc3YVdGbeYYXKWoZLvyHBMH0SUZtbLUBjKOIpsyYdDHHVmeK08YH+dmpskH0ZvMHw/bnYDcNrOArWEioimr0nUlwpQuoBW7DlkWXg6i30Otp40dVkcOqyrduG6Xpu1HdcWKqCK/I4PuTaPGiEWXN7mpb8FFbFwhIu65emeRIn21PSvlbOhBLeWc4lDgY0juImeIrsCswb5v78/hu/mIdUhtQMQE1fWmxx78U8mhRAyUoVnvxIr0ncmN4yAJtq4Llw+7aYtSO6MPoZCPW1oUysO9kXmf1U7FeHyEoIXNKX+OBTnMv+8Fe1mlnC4k0OYxokVBeFpn7u0gL4fj6QovK3AG7gpKYHgPtKI6qW84pKi1RKDbhu5207+twbn7dVpI4sD9L2/G7dUrQxMKiJGi9POEkfLjKFtPg7S8i6zQ5GEuVCSzzxDFrD8tce9LfFQqCt5KUXxIDScTA58UNigSyAJuHdKw3P5bJg0rYSVE= ",
                "3072 SHA256:QaxvtOoL71DSJkdYmK79lblKio+u7tShY4g0/sDunw4 no comment (RSA)",
            ),
            (
                "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNRn+SsDuFQZ9cyOhsfE4IeUKyijKVs3Cx3FuxQsJhW4GJFQUUWyED/R8iwAdhzpDcUFwbeozPn4f8J3dDklQrg= root@build",
                "256 SHA256:bzjstXmJbIJ9uVecXnbgRMuTnfkgL+zR/90Q9nX+bPY root@build (ECDSA)",
            ),
        ];
        for (key, want) in cases {
            assert_eq!(fingerprint(key).as_deref(), Some(want));
        }
        assert_eq!(fingerprint("ssh-dss AAAA x"), None);
        assert_eq!(fingerprint("garbage"), None);
    }

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base64_decode(&base64_encode(data)).unwrap(), data);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
    }
}
