//! The hardening audit: checks described as data ([`catalogue`]), evaluated read-only against a
//! root by typed primitives ([`primitives`]), with one shared filesystem scan ([`scan`]), and
//! reported as text, JSON or JUnit ([`output`]). [`remediate`] turns failed checks into plan
//! actions for `seal --remediate`.
//!
//! This module's API for the rest of amiprep: [`run`] audits a root and returns an [`Audit`]
//! with its [`Summary`]; [`remediate::plan`] adds the safe fixes to a [`crate::plan::Planner`].

pub mod catalogue;
mod env;
pub mod output;
mod primitives;
pub mod remediate;
mod rpmdb;
mod scan;

use std::collections::BTreeSet;

use serde::Serialize;

pub use catalogue::{CHECKS, Check, SETS};
pub use env::{Env, Family};

use crate::profile::Resolved;
use crate::root::Root;

/// The result of one check. The order is the order of a report: failures first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Fail,
    Error,
    Manual,
    Pass,
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Manual => "manual",
            Status::Pass => "pass",
            Status::NotApplicable => "not-applicable",
        }
    }
}

/// What a check compared: the value it wanted, the value it found, and where it read it.
/// Never holds a secret (a password hash is described, never copied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub expected: String,
    pub actual: String,
    pub source: String,
}

impl Evidence {
    pub fn new(expected: impl Into<String>, actual: impl Into<String>, source: impl Into<String>) -> Self {
        Evidence { expected: expected.into(), actual: actual.into(), source: source.into() }
    }
}

/// What a primitive found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// Why it is not applicable, errored or failed, in a few words.
    pub reason: Option<String>,
    pub evidence: Vec<Evidence>,
    /// The paths found where none should be (absence checks), for telling what the profile
    /// keeps on purpose apart from what it failed to clean.
    pub found: Vec<std::path::PathBuf>,
}

impl Outcome {
    pub fn pass(evidence: Vec<Evidence>) -> Self {
        Outcome { status: Status::Pass, reason: None, evidence, found: Vec::new() }
    }
    pub fn fail(evidence: Vec<Evidence>) -> Self {
        Outcome { status: Status::Fail, reason: None, evidence, found: Vec::new() }
    }
    pub fn verdict(ok: bool, evidence: Vec<Evidence>) -> Self {
        if ok { Outcome::pass(evidence) } else { Outcome::fail(evidence) }
    }
    pub fn na(reason: impl Into<String>) -> Self {
        Outcome { status: Status::NotApplicable, reason: Some(reason.into()), evidence: Vec::new(), found: Vec::new() }
    }
    pub fn error(reason: impl Into<String>) -> Self {
        Outcome { status: Status::Error, reason: Some(reason.into()), evidence: Vec::new(), found: Vec::new() }
    }
    pub fn manual(reason: impl Into<String>, evidence: Vec<Evidence>) -> Self {
        Outcome { status: Status::Manual, reason: Some(reason.into()), evidence, found: Vec::new() }
    }
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// One check's result in a report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub title: &'static str,
    pub section: &'static str,
    pub level: u8,
    /// True for the checks a seal must pass to be ready (see [`required`]).
    pub required: bool,
    pub refs: catalogue::Refs,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub evidence: Vec<Evidence>,
    /// `auto` (seal --remediate fixes it), `manual` (with instructions) or `none`.
    pub remediation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation_text: Option<&'static str>,
}

/// Counts over a whole audit, small enough to embed in a seal receipt.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    pub passed: u64,
    pub failed: u64,
    pub not_applicable: u64,
    pub errors: u64,
    pub manual: u64,
    /// passed / (passed + failed + errors), as a percentage rounded down; 100 when nothing
    /// applies.
    pub score: u64,
    /// Ids of the failed and errored checks, in report order.
    pub failed_ids: Vec<String>,
    /// Failed or errored checks that a seal requires (see [`required`]).
    pub required_failed: Vec<String>,
}

/// A finished audit.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub root: String,
    pub live: bool,
    pub os: env::OsInfo,
    pub container: bool,
    pub single_volume: bool,
    pub profiles: Vec<String>,
    /// The sets and check ids that were selected, and the ids skipped by the profile.
    pub selected: Vec<String>,
    pub skipped: Vec<String>,
    pub results: Vec<CheckResult>,
    pub summary: Summary,
}

/// The tunable thresholds of the catalogue, with their defaults; a profile's `[checks]`
/// section overrides them by name.
pub const PARAMS: &[(&str, i64, &str)] = &[
    ("max_auth_tries", 4, "sshd MaxAuthTries at most"),
    ("login_grace_time", 60, "sshd LoginGraceTime at most (seconds)"),
    ("client_alive_interval", 900, "sshd ClientAliveInterval at most (seconds, and above 0)"),
    ("client_alive_count_max", 3, "sshd ClientAliveCountMax at most"),
    ("max_sessions", 10, "sshd MaxSessions at most"),
    ("pass_max_days", 365, "login.defs PASS_MAX_DAYS at most"),
    ("pass_min_days", 1, "login.defs PASS_MIN_DAYS at least"),
    ("pass_warn_age", 7, "login.defs PASS_WARN_AGE at least"),
    ("inactive_days", 45, "useradd INACTIVE at most (and set)"),
    ("min_password_length", 14, "pwquality minlen at least"),
    ("faillock_deny", 5, "faillock deny at most (and above 0)"),
    ("shell_timeout", 900, "TMOUT at most (seconds, and set)"),
];

/// Values of `permit_root_login` a profile may choose.
pub const PERMIT_ROOT_LOGIN: &[&str] = &["no", "prohibit-password"];

/// The `[checks]` settings of a resolved profile.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Sets and check ids to run.
    pub include: Vec<String>,
    /// Sets and check ids not to run.
    pub skip: Vec<String>,
    pub remediate: bool,
    /// Every entry of [`PARAMS`], with the profile's value or the default.
    pub params: Vec<(&'static str, i64)>,
    pub permit_root_login: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            include: Vec::new(),
            skip: Vec::new(),
            remediate: false,
            params: PARAMS.iter().map(|(n, v, _)| (*n, *v)).collect(),
            permit_root_login: "no".into(),
        }
    }
}

impl Settings {
    pub fn param(&self, name: &str) -> i64 {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).expect("the catalogue names only known params")
    }
}

/// True when `name` is a set or a check id.
pub fn is_known(name: &str) -> bool {
    SETS.iter().any(|(s, _)| *s == name) || CHECKS.iter().any(|c| c.id == name)
}

/// The checks selected by `include` minus `skip`, in catalogue order.
pub fn select<'a>(include: impl IntoIterator<Item = &'a str>, skip: &[String]) -> Vec<&'static Check> {
    let include: BTreeSet<&str> = include.into_iter().collect();
    let picked = |c: &Check, names: &dyn Fn(&str) -> bool| names(c.id) || c.sets().iter().any(|s| names(s));
    CHECKS
        .iter()
        .filter(|c| picked(c, &|n| include.contains(n)))
        .filter(|c| !picked(c, &|n| skip.iter().any(|s| s == n)))
        .collect()
}

/// Audits `root` with the checks the profile selects plus `extra` (sets or ids given on the
/// command line). Strictly read-only.
pub fn run(root: &Root, profile: &Resolved, extra: &[String]) -> Audit {
    let settings = &profile.checks;
    let mut selected: Vec<String> = settings.include.clone();
    for e in extra {
        if !selected.contains(e) {
            selected.push(e.clone());
        }
    }
    let checks = select(selected.iter().map(String::as_str), &settings.skip);
    let env = Env::new(root, settings, profile.machine_id_mode);
    let outcomes = env.evaluate(&checks);
    let keep = profile.keep_set();
    let mut results: Vec<CheckResult> = checks
        .iter()
        .zip(outcomes)
        .map(|(c, mut o)| {
            let mut req = required(c, profile);
            // What the profile keeps on purpose (`[files] keep`) is reported but does not make
            // the seal not ready: the operator chose to ship it.
            if req && o.status == Status::Fail && !o.found.is_empty() && o.found.iter().all(|p| keep.is_match(p)) {
                req = false;
                o.reason =
                    Some("everything found is kept by the profile's [files] keep rules: reported, not required".into());
            }
            result_of(c, o, req)
        })
        .collect();
    // Report order: by section in catalogue order, failures first within a section.
    let section_rank = |s: &str| catalogue::SECTIONS.iter().position(|(id, _)| *id == s).unwrap_or(usize::MAX);
    results.sort_by_key(|r| (section_rank(r.section), r.status));
    let summary = summarise(&results);
    Audit {
        root: root.display().display().to_string(),
        live: root.is_live(),
        os: env.os.clone(),
        container: env.container,
        single_volume: env.single_volume,
        profiles: profile.names.clone(),
        selected,
        skipped: settings.skip.clone(),
        results,
        summary,
    }
}

/// True for the checks a seal with this profile must pass to be ready: the image-ready checks
/// of what the profile cleans (the check of an operation it enables; root's password when it
/// locks root). The others are reported, by `audit` too, but a profile that keeps that state on
/// purpose (`[operations.logs] enabled = false`) still seals a ready image.
pub fn required(c: &Check, profile: &Resolved) -> bool {
    if !c.sets().contains(&"image-ready") {
        return false;
    }
    match catalogue::operation_of(c.id) {
        Some(op) => profile.is_enabled(op),
        None => profile.users_lock.iter().any(|u| u == "root"),
    }
}

fn result_of(c: &'static Check, o: Outcome, required: bool) -> CheckResult {
    let (remediation, remediation_text) = match c.fix {
        catalogue::Fix::None => ("none", None),
        catalogue::Fix::Auto => ("auto", None),
        catalogue::Fix::Manual(t) => ("manual", Some(t)),
    };
    CheckResult {
        id: c.id,
        title: c.title,
        section: c.section,
        level: c.level,
        required,
        refs: c.refs,
        status: o.status,
        reason: o.reason,
        evidence: o.evidence,
        remediation,
        remediation_text,
    }
}

pub fn summarise(results: &[CheckResult]) -> Summary {
    let mut s = Summary::default();
    for r in results {
        match r.status {
            Status::Pass => s.passed += 1,
            Status::Fail => s.failed += 1,
            Status::NotApplicable => s.not_applicable += 1,
            Status::Error => s.errors += 1,
            Status::Manual => s.manual += 1,
        }
        if matches!(r.status, Status::Fail | Status::Error) {
            s.failed_ids.push(r.id.to_string());
            if r.required {
                s.required_failed.push(r.id.to_string());
            }
        }
    }
    let applicable = s.passed + s.failed + s.errors;
    s.score = (s.passed * 100).checked_div(applicable).unwrap_or(100);
    s
}

/// `--fail-on`: which failures make `audit` exit non-zero. Errors count as failures: a check
/// that could not be made has not shown the image is hardened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any failed or errored check (level 1 or 2).
    #[value(name = "1")]
    Level1,
    /// Only failed or errored level-2 checks.
    #[value(name = "2")]
    Level2,
    /// Never: report only.
    #[value(name = "none")]
    Never,
}

impl Audit {
    /// True when a failed or errored check is at or above the fail level.
    pub fn fails(&self, on: FailOn) -> bool {
        let min = match on {
            FailOn::Level1 => 1,
            FailOn::Level2 => 2,
            FailOn::Never => return false,
        };
        self.results.iter().any(|r| matches!(r.status, Status::Fail | Status::Error) && r.level >= min)
    }

    /// Adds why a remediation was not done to the check's reason, for the report after a seal.
    pub fn note_refusals(&mut self, refusals: &[remediate::Refusal]) {
        for f in refusals {
            if let Some(r) = self.results.iter_mut().find(|r| r.id == f.check && r.status != Status::Pass) {
                let note = format!("remediation refused: {}", f.reason);
                r.reason = Some(match r.reason.take() {
                    Some(old) => format!("{old}; {note}"),
                    None => note,
                });
            }
        }
    }
}
