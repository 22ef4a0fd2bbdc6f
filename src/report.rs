//! Reports of a plan and of its outcomes, as text for people and as JSON (schema in
//! `docs/json-schema.md`) for pipelines. Both are made from the same [`Report`].

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::apply::{Outcome, Status};
use crate::plan::{Action, Plan, Warning};

/// Bumped on any incompatible change of the JSON output.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
pub struct Report<'a> {
    pub schema_version: u32,
    pub amiprep_version: &'static str,
    /// `plan` or `seal`.
    pub command: &'static str,
    /// True when nothing was (or will be) changed.
    pub dry_run: bool,
    pub root: String,
    pub live: bool,
    pub profiles: &'a [String],
    pub actions: Vec<Entry<'a>>,
    pub warnings: &'a [Warning],
    pub totals: Totals,
    /// After a seal: the readiness signal, with the receipt as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<&'a crate::signal::Signal>,
}

#[derive(Serialize)]
pub struct Entry<'a> {
    pub id: usize,
    #[serde(flatten)]
    pub action: &'a Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'a Outcome>,
}

#[derive(Serialize, serde::Deserialize, Default, Clone, Debug, PartialEq, Eq)]
pub struct Count {
    pub actions: u64,
    pub entries: u64,
    pub bytes: u64,
    pub done: u64,
    pub skipped: u64,
    pub failed: u64,
}

#[derive(Serialize, Default)]
pub struct Totals {
    #[serde(flatten)]
    pub all: Count,
    pub warnings: u64,
    /// Per operation, in catalogue order of first appearance.
    pub by_operation: Vec<OpCount>,
}

#[derive(Serialize, Clone)]
pub struct OpCount {
    pub operation: &'static str,
    #[serde(flatten)]
    pub count: Count,
}

impl<'a> Report<'a> {
    pub fn new(
        command: &'static str,
        root: &crate::root::Root,
        profiles: &'a [String],
        plan: &'a Plan,
        outcomes: Option<&'a [Outcome]>,
    ) -> Self {
        let actions: Vec<Entry<'a>> = plan
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| Entry { id: i + 1, action: a, outcome: outcomes.map(|o| &o[i]) })
            .collect();
        let mut totals = Totals { warnings: plan.warnings.len() as u64, ..Totals::default() };
        let mut order: Vec<&'static str> = Vec::new();
        let mut per: BTreeMap<&'static str, Count> = BTreeMap::new();
        for e in &actions {
            let op = e.action.operation;
            if !per.contains_key(op) {
                order.push(op);
            }
            for c in [&mut totals.all, per.entry(op).or_default()] {
                c.actions += 1;
                c.entries += e.action.entries;
                c.bytes += e.action.bytes;
                match e.outcome.map(|o| o.status) {
                    Some(Status::Done) => c.done += 1,
                    Some(Status::Skipped) => c.skipped += 1,
                    Some(Status::Failed) => c.failed += 1,
                    None => {}
                }
            }
        }
        totals.by_operation = order.into_iter().map(|op| OpCount { operation: op, count: per[op].clone() }).collect();
        Report {
            schema_version: SCHEMA_VERSION,
            amiprep_version: env!("CARGO_PKG_VERSION"),
            command,
            dry_run: outcomes.is_none(),
            root: root.display().display().to_string(),
            live: root.is_live(),
            profiles,
            actions,
            warnings: &plan.warnings,
            totals,
            signal: None,
        }
    }

    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let what = if self.dry_run { "would change" } else { "changed" };
        let place = if self.live { "the live system" } else { "an offline root; paths are inside it" };
        writeln!(out, "amiprep {}: profile {} on {} ({place})", self.command, self.profiles.join(" + "), self.root)?;
        if self.actions.is_empty() {
            writeln!(out, "nothing to do: the tree is already sealed for this profile")?;
        }
        for e in &self.actions {
            let a = e.action;
            let status = match e.outcome.map(|o| o.status) {
                None => "",
                Some(Status::Done) => "done    ",
                Some(Status::Skipped) => "skipped ",
                Some(Status::Failed) => "FAILED  ",
            };
            // Path last: long paths then never push the other columns out of line.
            writeln!(out, "{status}{:<12} {:>24}  {:<17} {}", a.kind.as_str(), size(a), a.operation, a.target)?;
            if let Some(d) = &a.detail {
                writeln!(out, "{:status_w$}             {d}", "", status_w = status.len())?;
            }
            if let Some(o) = e.outcome {
                if let Some(r) = &o.reason {
                    writeln!(out, "{:status_w$}             {r}", "", status_w = status.len())?;
                }
                for p in &o.problems {
                    writeln!(out, "{:status_w$}             {}: {}", "", p.path, p.message, status_w = status.len())?;
                }
            }
        }
        if !self.warnings.is_empty() {
            writeln!(out, "\nwarnings ({}):", self.warnings.len())?;
            for w in self.warnings {
                writeln!(out, "  [{}] {}: {}", w.operation, crate::root::show(&w.path), w.message)?;
            }
        }
        if !self.totals.by_operation.is_empty() {
            writeln!(out, "\ntotals by operation:")?;
            for o in &self.totals.by_operation {
                writeln!(
                    out,
                    "  {:<18} {:>6} actions {:>10} entries {:>11}{}",
                    o.operation,
                    o.count.actions,
                    o.count.entries,
                    human(o.count.bytes),
                    outcome_summary(&o.count, self.dry_run)
                )?;
            }
        }
        let t = &self.totals.all;
        writeln!(
            out,
            "\ntotal: {} actions {what} {} entries ({}){}",
            t.actions,
            t.entries,
            human(t.bytes),
            outcome_summary(t, self.dry_run)
        )?;
        if self.dry_run {
            writeln!(
                out,
                "then: seal writes /{} and signals READY-FOR-IMAGE, or NOT-READY if an action fails",
                crate::receipt::RECEIPT
            )?;
        }
        if let Some(sig) = self.signal {
            writeln!(out, "\nsignal:")?;
            for st in &sig.steps {
                writeln!(out, "  {:<8} {:<8} {}", st.step, st.status, st.detail)?;
            }
            // Last, on its own line, for `| tail -1` and grep in pipelines.
            writeln!(out, "{}", sig.line)?;
        }
        Ok(())
    }
}

fn outcome_summary(c: &Count, dry_run: bool) -> String {
    if dry_run { String::new() } else { format!(": {} done, {} skipped, {} failed", c.done, c.skipped, c.failed) }
}

fn size(a: &Action) -> String {
    use crate::plan::Kind;
    match a.kind {
        Kind::RemoveTree | Kind::Empty => format!("{} entries, {}", a.entries, human(a.bytes)),
        Kind::Run | Kind::Chmod => String::new(),
        _ => human(a.bytes),
    }
}

/// Bytes in binary units, e.g. `3.9 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_sizes() {
        assert_eq!(super::human(0), "0 B");
        assert_eq!(super::human(1023), "1023 B");
        assert_eq!(super::human(2560), "2.5 KiB");
        assert_eq!(super::human(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
