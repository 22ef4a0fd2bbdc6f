//! Shared support for the integration tests: a sandbox holding a fake root, the real amiprep
//! binary to run against it, a small tree builder, snapshots, and the dirty-root fixture.
// Each test crate includes this module and uses a different part of it.
#![allow(dead_code)]

pub mod dirty;
pub mod hardened;
pub mod snapshot;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

/// How long one amiprep run may take before it counts as hung. Generous: a run against the
/// fixtures takes well under a second, but CI machines are small and may run under qemu.
pub const HANG_TIMEOUT: Duration = Duration::from_secs(120);

/// These tests plant files owned by other users and check amiprep's root-only behaviour
/// (profile trust, chattr, mounts): they mean nothing as another user, so they say so loudly
/// instead of passing vacuously.
pub fn require_root() {
    assert!(rustix::process::geteuid().is_root(), "the integration tests must run as root (uid 0)");
}

/// A temp directory holding the fake root, a profile directory (what `AMIPREP_PROFILE_PATH`
/// points at, so the host's /etc/amiprep/profiles never matters) and an `outside` directory
/// beside the root, for sentinels that links inside the root point at.
pub struct Sandbox {
    _dir: TempDir,
    pub root: PathBuf,
    pub profiles: PathBuf,
    pub outside: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        require_root();
        let dir = tempfile::Builder::new().prefix("amiprep-it-").tempdir().expect("tempdir");
        let base = dir.path().to_path_buf();
        let (root, profiles, outside) = (base.join("root"), base.join("profiles"), base.join("outside"));
        for d in [&root, &profiles, &outside] {
            std::fs::create_dir(d).unwrap();
            // Fixed modes: the profile directory must pass amiprep's trust check whatever the
            // umask, and the root's own mode is part of what snapshots compare.
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Sandbox { _dir: dir, root, profiles, outside }
    }

    pub fn tree(&self) -> Tree {
        Tree { root: self.root.clone() }
    }

    pub fn root_arg(&self) -> &str {
        self.root.to_str().expect("temp paths are UTF-8")
    }

    /// Writes a profile file (mode 0644, root-owned) in the profile directory and returns its
    /// path, ready for `-p`.
    pub fn profile(&self, name: &str, text: &str) -> String {
        let p = self.profiles.join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p.to_str().unwrap().to_string()
    }

    /// Runs amiprep with exactly these arguments (no `--root` added).
    pub fn run(&self, args: &[&str]) -> Run {
        run_amiprep(&self.profiles, args.iter().map(OsStr::new))
    }

    /// Runs amiprep with these arguments and extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &OsStr)]) -> Run {
        run_amiprep_env(&self.profiles, args.iter().map(OsStr::new), env)
    }

    /// `amiprep plan --root ROOT [-p P]... [extra...]`
    pub fn plan(&self, profiles: &[&str], extra: &[&str]) -> Run {
        let mut args = vec!["plan", "--root", self.root_arg()];
        for p in profiles {
            args.extend(["-p", p]);
        }
        args.extend(extra);
        self.run(&args)
    }

    /// `amiprep seal --root ROOT --yes [-p P]... [extra...]`
    pub fn seal(&self, profiles: &[&str], extra: &[&str]) -> Run {
        let mut args = vec!["seal", "--root", self.root_arg(), "--yes"];
        for p in profiles {
            args.extend(["-p", p]);
        }
        args.extend(extra);
        self.run(&args)
    }

    /// The JSON plan, asserting the plan itself succeeded.
    #[track_caller]
    pub fn plan_json(&self, profiles: &[&str]) -> serde_json::Value {
        self.plan(profiles, &["--format", "json"]).code(0).json()
    }

    pub fn snapshot(&self) -> snapshot::Snapshot {
        snapshot::snapshot(&self.root)
    }
}

/// Every operation id of the catalogue, in its order (src/ops/mod.rs CATALOGUE).
pub const OPERATIONS: &[&str] = &[
    "package-cache",
    "tmp",
    "logs",
    "leftovers",
    "mail-spool",
    "user-crontabs",
    "rpm-db",
    "cloud-init",
    "network-identity",
    "random-seed",
    "machine-id",
    "credentials",
    "authorized-keys",
    "shell-history",
    "ssh-host-keys",
];

/// The default profile plus everything that is off by default: the opt-in operations,
/// generic rules, account edits (for the dirty root's passwd) and unit changes (for its
/// units), so a test using it meets every kind of action there is.
pub const EVERYTHING: &str = "extends = [\"default\"]\n\
    [operations.mail-spool]\nenabled = true\n\
    [operations.user-crontabs]\nenabled = true\n\
    [operations.rpm-db]\nenabled = true\n\
    [files]\nremove = [\"opt/app/*.yml\"]\ntruncate = [\"var/lib/misc/keep.db\"]\n\
    [users]\nremove = [\"bob\"]\nlock = [\"root\"]\n\
    [services]\nenable = [\"nginx\"]\ndisable = [\"telnet.socket\"]\nmask = [\"debug-shell.service\"]\n";

/// Debian 12's nginx.service, as far as enabling it goes.
pub const NGINX_UNIT: &str = "[Unit]\nDescription=A high performance web server and a reverse proxy server\n\
    After=network-online.target remote-fs.target nss-lookup.target\nWants=network-online.target\n\n\
    [Service]\nType=forking\nPIDFile=/run/nginx.pid\nExecStart=/usr/sbin/nginx -g 'daemon on; master_process on;'\n\n\
    [Install]\nWantedBy=multi-user.target\n";

/// Profile text switching on exactly `ops` and off every other operation: a profile without
/// `extends` starts from the catalogue defaults, which would otherwise act on small fixtures
/// (creating etc/machine-id, for one).
pub fn only(ops: &[&str]) -> String {
    for op in ops {
        assert!(OPERATIONS.contains(op), "unknown operation {op}");
    }
    OPERATIONS.iter().map(|op| format!("[operations.{op}]\nenabled = {}\n", ops.contains(op))).collect()
}

/// The command that runs the real binary, for tests that build a shell command line: the
/// `CARGO_TARGET_<triple>_RUNNER` of the target the tests were built for (qemu for the aarch64
/// suite) split on spaces, as cargo and assert_cmd do, then the binary.
pub fn amiprep_argv() -> Vec<String> {
    let env = if cfg!(target_env = "musl") { "MUSL" } else { "GNU" };
    let var = format!("CARGO_TARGET_{}_UNKNOWN_LINUX_{env}_RUNNER", std::env::consts::ARCH.to_uppercase());
    let mut argv: Vec<String> =
        std::env::var(var).map(|r| r.split(' ').map(str::to_string).collect()).unwrap_or_default();
    argv.push(assert_cmd::cargo::cargo_bin("amiprep").to_str().expect("target paths are UTF-8").to_string());
    argv
}

/// Runs the real binary (through `CARGO_TARGET_<triple>_RUNNER` when set, e.g. qemu) with no
/// terminal: stdin is closed and stdout/stderr are pipes.
pub fn run_amiprep<'a>(profile_dir: &Path, args: impl IntoIterator<Item = &'a OsStr>) -> Run {
    run_amiprep_env(profile_dir, args, &[])
}

/// [`run_amiprep`] with extra environment variables (`PATH` pointing at fake tools).
pub fn run_amiprep_env<'a>(
    profile_dir: &Path,
    args: impl IntoIterator<Item = &'a OsStr>,
    env: &[(&str, &OsStr)],
) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("amiprep").expect("the amiprep binary is built");
    cmd.env("AMIPREP_PROFILE_PATH", profile_dir).args(args).timeout(HANG_TIMEOUT);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let shown = format!("{cmd:?}");
    let out = cmd.output().expect("running amiprep");
    let Some(code) = out.status.code() else {
        panic!(
            "{shown} did not exit normally ({}): hung past {HANG_TIMEOUT:?} and was killed, or crashed\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    Run {
        code,
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        shown,
    }
}

/// What one amiprep run did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    shown: String,
}

impl Run {
    /// Asserts the exit code, showing the whole output when it is not the expected one.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit code of {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.shown, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n--- stderr:\n{}", self.stdout, self.stderr))
    }
}

/// The actions of a JSON report as `(operation, kind, path)`.
pub fn actions(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["actions"]
        .as_array()
        .expect("report has an actions array")
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_else(|| panic!("action without {k}: {a}")).to_string();
            (s("operation"), s("kind"), s("path"))
        })
        .collect()
}

/// The warnings of a JSON report as `(operation, path, message)`.
pub fn warnings(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["warnings"]
        .as_array()
        .expect("report has a warnings array")
        .iter()
        .map(|w| {
            let s = |k: &str| w[k].as_str().unwrap_or_else(|| panic!("warning without {k}: {w}")).to_string();
            (s("operation"), s("path"), s("message"))
        })
        .collect()
}

/// Builds files in a fake root. Paths are root-relative; parents are created as needed
/// (root-owned, mode 0755). Every call fixes mode and owner explicitly so the umask of the
/// machine running the tests never matters.
#[derive(Clone)]
pub struct Tree {
    pub root: PathBuf,
}

impl Tree {
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        let rel = rel.as_ref();
        assert!(rel.is_relative(), "fixture paths are root-relative: {}", rel.display());
        self.root.join(rel)
    }

    fn parent(&self, rel: &Path) {
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !self.path(parent).exists() {
                self.dir(parent, 0o755);
            }
        }
    }

    /// A directory with this mode (and its missing parents, 0755).
    pub fn dir(&self, rel: impl AsRef<Path>, mode: u32) -> &Self {
        let rel = rel.as_ref();
        self.parent(rel);
        let p = self.path(rel);
        if !p.is_dir() {
            std::fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    pub fn dir_as(&self, rel: impl AsRef<Path>, mode: u32, uid: u32, gid: u32) -> &Self {
        self.dir(rel.as_ref(), mode);
        std::os::unix::fs::chown(self.path(rel), Some(uid), Some(gid)).unwrap();
        self
    }

    /// A root-owned regular file, mode 0644.
    pub fn file(&self, rel: impl AsRef<Path>, data: impl AsRef<[u8]>) -> &Self {
        self.file_as(rel, data, 0o644, 0, 0)
    }

    pub fn file_as(&self, rel: impl AsRef<Path>, data: impl AsRef<[u8]>, mode: u32, uid: u32, gid: u32) -> &Self {
        let rel = rel.as_ref();
        self.parent(rel);
        let p = self.path(rel);
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
        // After chown, which would clear set-id bits.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    pub fn symlink(&self, rel: impl AsRef<Path>, target: impl AsRef<Path>) -> &Self {
        let rel = rel.as_ref();
        self.parent(rel);
        std::os::unix::fs::symlink(target, self.path(rel)).unwrap();
        self
    }

    pub fn fifo(&self, rel: impl AsRef<Path>) -> &Self {
        let rel = rel.as_ref();
        self.parent(rel);
        rustix::fs::mknodat(rustix::fs::CWD, self.path(rel), rustix::fs::FileType::Fifo, 0o644.into(), 0).unwrap();
        self
    }

    /// A unix socket file (the listener is closed at once; the file stays, as after a crash).
    pub fn socket(&self, rel: impl AsRef<Path>) -> &Self {
        let rel = rel.as_ref();
        self.parent(rel);
        drop(std::os::unix::net::UnixListener::bind(self.path(rel)).unwrap());
        self
    }

    pub fn read(&self, rel: impl AsRef<Path>) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap()
    }

    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        std::fs::symlink_metadata(self.path(rel)).is_ok()
    }
}

/// Runs a shell command for test setup; `None` (with the reason printed) when it fails, so
/// a test that needs a facility the machine lacks can skip itself visibly.
pub fn try_command(program: &str, args: &[&OsStr]) -> Option<()> {
    match std::process::Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => Some(()),
        Ok(o) => {
            eprintln!("note: `{program} {args:?}` failed: {}", String::from_utf8_lossy(&o.stderr).trim());
            None
        }
        Err(e) => {
            eprintln!("note: cannot run {program}: {e}");
            None
        }
    }
}
