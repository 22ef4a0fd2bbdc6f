//! The documented exit codes, and the error type that carries one.

use crate::profile::ProfileError;

/// Exit codes. Documented in `--help` and the README; never renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Everything planned was done (or, for a dry run, planned without error).
    Ok = 0,
    /// The run went through but some actions failed, or an I/O error stopped it.
    Failed = 1,
    /// Bad command line or bad profile (clap also uses 2 for usage errors).
    Usage = 2,
    /// amiprep refused to act: no confirmation, another seal holds the lock, or a profile
    /// file is not trustworthy. Nothing was changed.
    Refused = 3,
    /// `audit`: a check at or above the `--fail-on` level failed or errored.
    AuditFailed = 4,
}

impl From<Code> for std::process::ExitCode {
    fn from(c: Code) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: Code, error: impl Into<anyhow::Error>) -> Self {
        Failure { code, error: error.into() }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure { code: Code::Failed, error }
    }
}

impl From<ProfileError> for Failure {
    fn from(e: ProfileError) -> Self {
        let code = if e.refused { Code::Refused } else { Code::Usage };
        Failure { code, error: e.into() }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure { code: Code::Failed, error: e.into() }
    }
}

pub type Result<T> = std::result::Result<T, Failure>;
