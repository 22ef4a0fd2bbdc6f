//! Audit reports: text for people (grouped by section, failures first, one summary line with
//! the hardening score), JSON for pipelines (schema in `docs/audit-schema.md`) and JUnit XML
//! for CI systems. All three are made from the same [`Audit`]; none ever holds a secret,
//! because evidence never copies one.

use std::io::{self, Write};

use serde::Serialize;

use super::catalogue::{CHECKS, SECTIONS};
use super::{Audit, Status};

/// Bumped on any incompatible change of the JSON output.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    amiprep_version: &'static str,
    command: &'static str,
    #[serde(flatten)]
    audit: &'a Audit,
}

pub fn write_json(audit: &Audit, out: &mut dyn Write) -> io::Result<()> {
    let r = JsonReport {
        schema_version: SCHEMA_VERSION,
        amiprep_version: env!("CARGO_PKG_VERSION"),
        command: "audit",
        audit,
    };
    serde_json::to_writer_pretty(&mut *out, &r)?;
    writeln!(out)
}

fn label(s: Status) -> &'static str {
    match s {
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Manual => "MANUAL",
        Status::Pass => "PASS",
        Status::NotApplicable => "N/A",
    }
}

/// The summary line, also printed by `seal` after its audit.
pub fn summary_line(audit: &Audit) -> String {
    let s = &audit.summary;
    format!(
        "{} passed, {} failed, {} not applicable, {} errors, {} manual; hardening score {}% ({}/{})",
        s.passed,
        s.failed,
        s.not_applicable,
        s.errors,
        s.manual,
        s.score,
        s.passed,
        s.passed + s.failed + s.errors
    )
}

pub fn write_text(audit: &Audit, out: &mut dyn Write) -> io::Result<()> {
    let os = if audit.os.pretty_name.is_empty() { "unknown OS".to_string() } else { audit.os.pretty_name.clone() };
    writeln!(
        out,
        "amiprep audit of {}{} ({os}, {} family{}{})",
        audit.root,
        if audit.live { " (running system)" } else { " (offline)" },
        audit.os.family.as_str(),
        if audit.container { ", container" } else { "" },
        if audit.single_volume { ", single volume" } else { "" },
    )?;
    writeln!(out, "profile {}; checks {}", audit.profiles.join(" + "), audit.selected.join(", "))?;
    let width = audit.results.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for (section, heading) in SECTIONS {
        let rows: Vec<_> = audit.results.iter().filter(|r| r.section == *section).collect();
        if rows.is_empty() {
            continue;
        }
        writeln!(out, "\n== {heading} ==")?;
        for r in rows {
            writeln!(out, "{:<6} {:<width$}  {} [L{}]", label(r.status), r.id, r.title, r.level)?;
            // A passing check's reason is a remark (offline: runtime not seen); it is in the JSON.
            if let Some(reason) = r.reason.as_ref().filter(|_| r.status != Status::Pass) {
                writeln!(out, "{:<6} {:<width$}  {reason}", "", "")?;
            }
            // Evidence of what passed is in the JSON; people need it for what did not.
            if matches!(r.status, Status::Fail | Status::Error | Status::Manual) {
                for e in r.evidence.iter().take(10) {
                    writeln!(
                        out,
                        "{:<6} {:<width$}  expected {}; found {} ({})",
                        "", "", e.expected, e.actual, e.source
                    )?;
                }
                if r.evidence.len() > 10 {
                    writeln!(out, "{:<6} {:<width$}  ... {} more in --format json", "", "", r.evidence.len() - 10)?;
                }
                if let Some(fix) = r.remediation_text {
                    writeln!(out, "{:<6} {:<width$}  fix: {fix}", "", "")?;
                } else if r.remediation == "auto" && r.status == Status::Fail {
                    writeln!(
                        out,
                        "{:<6} {:<width$}  fix: amiprep seal --remediate (with this check in the profile's [checks])",
                        "", ""
                    )?;
                }
            }
        }
    }
    writeln!(out)?;
    writeln!(out, "{}", summary_line(audit))?;
    if !audit.summary.required_failed.is_empty() {
        writeln!(out, "not ready for imaging: {}", audit.summary.required_failed.join(", "))?;
    }
    Ok(())
}

/// Escapes text for XML attributes and content.
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => o.push_str(&format!("&#x{:x};", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: one testsuite per section, one testcase per check. Failures are `<failure>`,
/// errors `<error>`, not-applicable and manual checks `<skipped>` with the reason.
pub fn write_junit(audit: &Audit, out: &mut dyn Write) -> io::Result<()> {
    let s = &audit.summary;
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="amiprep audit" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
        audit.results.len(),
        s.failed,
        s.errors,
        s.not_applicable + s.manual
    )?;
    for (section, heading) in SECTIONS {
        let rows: Vec<_> = audit.results.iter().filter(|r| r.section == *section).collect();
        if rows.is_empty() {
            continue;
        }
        let count = |st: Status| rows.iter().filter(|r| r.status == st).count();
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
            xml(heading),
            rows.len(),
            count(Status::Fail),
            count(Status::Error),
            count(Status::NotApplicable) + count(Status::Manual)
        )?;
        for r in rows {
            let evidence: Vec<String> = r
                .evidence
                .iter()
                .map(|e| format!("expected {}; found {} ({})", e.expected, e.actual, e.source))
                .collect();
            let body = xml(&evidence.join("\n"));
            let reason = r.reason.clone().unwrap_or_default();
            write!(out, r#"    <testcase classname="amiprep.{}" name="{}: {}">"#, section, xml(r.id), xml(r.title))?;
            match r.status {
                Status::Pass => {}
                Status::Fail => write!(
                    out,
                    r#"<failure message="{}">{body}</failure>"#,
                    xml(if reason.is_empty() { r.title } else { &reason })
                )?,
                Status::Error => write!(out, r#"<error message="{}">{body}</error>"#, xml(&reason))?,
                Status::NotApplicable => write!(out, r#"<skipped message="not applicable: {}"/>"#, xml(&reason))?,
                Status::Manual => write!(out, r#"<skipped message="manual: {}"/>"#, xml(&reason))?,
            }
            writeln!(out, "</testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// `amiprep checks list`: every check with its id, title, level, sets, references, what it
/// looks at and how it is remediated.
#[derive(Serialize)]
pub struct Listed {
    pub id: &'static str,
    pub title: &'static str,
    pub section: &'static str,
    pub level: u8,
    pub sets: &'static [&'static str],
    pub refs: super::catalogue::Refs,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<&'static str>,
    pub host_only: bool,
    /// The paths, keys or units it reads, in words.
    pub looks_at: String,
    pub remediation: &'static str,
}

pub fn catalogue() -> Vec<Listed> {
    CHECKS
        .iter()
        .map(|c| Listed {
            id: c.id,
            title: c.title,
            section: c.section,
            level: c.level,
            sets: c.sets(),
            refs: c.refs,
            family: c.family.map(|f| f.as_str()),
            host_only: c.host_only,
            looks_at: super::catalogue::looks_at(&c.test),
            remediation: match c.fix {
                super::catalogue::Fix::None => "none",
                super::catalogue::Fix::Auto => "auto",
                super::catalogue::Fix::Manual(_) => "manual",
            },
        })
        .collect()
}

pub fn write_catalogue_text(out: &mut dyn Write) -> io::Result<()> {
    let list = catalogue();
    let width = list.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for (section, heading) in SECTIONS {
        writeln!(out, "== {heading} ==")?;
        for c in list.iter().filter(|c| c.section == *section) {
            let refs = [
                ("CIS-U22", c.refs.cis_ubuntu),
                ("CIS-AL2023", c.refs.cis_al2023),
                ("dev-sec", c.refs.devsec),
                ("Lynis", c.refs.lynis),
            ]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
            writeln!(out, "{:<width$}  L{}  {}", c.id, c.level, c.title)?;
            writeln!(out, "{:<width$}      looks at: {}", "", c.looks_at)?;
            let mut meta = format!("sets: {}; remediation: {}", c.sets.join(", "), c.remediation);
            if !refs.is_empty() {
                meta.push_str(&format!("; refs: {refs}"));
            }
            if let Some(f) = c.family {
                meta.push_str(&format!("; {f} family only"));
            }
            writeln!(out, "{:<width$}      {meta}", "")?;
        }
        writeln!(out)?;
    }
    let l1 = list.iter().filter(|c| c.sets.contains(&"cis-level1")).count();
    let l2 = list.iter().filter(|c| c.sets.contains(&"cis-level2")).count();
    let img = list.iter().filter(|c| c.sets.contains(&"image-ready")).count();
    writeln!(out, "{} checks: cis-level1 {l1}, cis-level2 {l2}, image-ready {img}", list.len())
}
