//! `[services]`: plans `systemctl enable/disable/mask/unmask` for the profile's units, and the
//! preset file that keeps those choices through a first boot's preset run.
//!
//! Each unit gets one `run` action, and only when it is not already in the wanted state; the
//! action's detail lists the exact links systemctl will create or remove. Anything that would
//! make systemctl fail (a unit not installed, a file in the way, a masked unit to enable) is an
//! error before anything is applied.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::exit::{Code, Failure};
use crate::plan::Planner;
use crate::profile::{Resolved, Verb};
use crate::root;
use crate::root::Entry as Existing;
use crate::units::{Link, Units};

/// The preset file. Preset files are read in name order across directories and the first
/// match wins, so a low number puts the profile's choices ahead of the distribution's
/// `90-systemd.preset` and `99-default.preset`.
pub const PRESET_FILE: &str = "etc/systemd/system-preset/01-amiprep.preset";

/// A unit whose state the seal changes: what the receipt and the reports record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub unit: String,
    pub verb: Verb,
    /// State before, as `systemctl is-enabled` would say it.
    pub was: &'static str,
    pub creates: Vec<Link>,
    pub removes: Vec<Link>,
}

/// Plans the profile's `[services]`. Errors are complete messages (location, problem and fix),
/// one per unit, and mean the plan must not be applied.
pub fn plan(p: &mut Planner<'_>, profile: &Resolved) -> Result<Vec<Change>, Failure> {
    if profile.services.is_empty() {
        return Ok(Vec::new());
    }
    p.begin("services");
    let root = p.root;
    let units = Units::new(root)
        .map_err(|e| Failure::new(Code::Failed, anyhow::anyhow!("cannot read /{}: {e}", crate::units::CONFIG_DIR)))?;
    let mut errors = Vec::new();
    let mut changes = Vec::new();
    let unmasking: Vec<&str> =
        profile.services.iter().filter(|w| w.verb == Verb::Unmask).map(|w| w.unit.as_str()).collect();
    for w in &profile.services {
        let unit = w.unit.as_str();
        let fail = |msg: String, fix: &str| {
            format!("{}: [services] {} {unit}: {msg}\n  fix: {fix}", w.origin, w.verb.as_str())
        };
        let io =
            |e: std::io::Error| fail(format!("cannot inspect the root's units: {e}"), "check the path is readable");
        let masked = match units.masked(unit) {
            Ok(m) => m,
            Err(e) => {
                errors.push(io(e));
                continue;
            }
        };
        let mask_link = Path::new(crate::units::CONFIG_DIR).join(unit);
        let change = match w.verb {
            Verb::Unmask => masked.then(|| Change {
                unit: unit.to_string(),
                verb: w.verb,
                was: "masked",
                creates: Vec::new(),
                removes: vec![Link { path: mask_link, target: "/dev/null".into() }],
            }),
            Verb::Mask => match units.existing(&mask_link) {
                Ok(_) if masked => None,
                Ok(None) => Some(Change {
                    unit: unit.to_string(),
                    verb: w.verb,
                    was: state(&units, unit),
                    creates: vec![Link { path: mask_link, target: "/dev/null".into() }],
                    removes: Vec::new(),
                }),
                Ok(Some(_)) => {
                    errors.push(fail(
                        format!("{} exists, so systemctl cannot put the mask link there", root::show(&mask_link)),
                        "remove or rename that file in the image first, or drop the unit from [services] mask",
                    ));
                    continue;
                }
                Err(e) => {
                    errors.push(io(e));
                    continue;
                }
            },
            Verb::Disable => match units.disable_links(unit) {
                Ok(_) if masked => {
                    p.warn(&mask_link, format!("{unit} is masked; disable leaves masked units alone"));
                    None
                }
                Ok(links) if links.is_empty() => None,
                Ok(links) => Some(Change {
                    unit: unit.to_string(),
                    verb: w.verb,
                    was: state(&units, unit),
                    creates: Vec::new(),
                    removes: links,
                }),
                Err(e) => {
                    errors.push(io(e));
                    continue;
                }
            },
            Verb::Enable => {
                if masked && !unmasking.contains(&unit) {
                    errors.push(fail(
                        "the unit is masked in the root, and systemctl will not enable a masked unit".into(),
                        "add it to [services] unmask as well (unmask runs first)",
                    ));
                    continue;
                }
                match enable_work(&units, unit) {
                    Ok(Enable::Create(creates)) => Some(Change {
                        unit: unit.to_string(),
                        verb: w.verb,
                        was: state(&units, unit),
                        creates,
                        removes: Vec::new(),
                    }),
                    Ok(Enable::Done) => None,
                    Ok(Enable::Nothing(why)) => {
                        p.warn(Path::new(crate::units::CONFIG_DIR), format!("{}: {unit} {why}", w.origin));
                        None
                    }
                    Err(EnableError::Missing(missing)) => {
                        let via =
                            if missing == unit { "" } else { " (named in Also= of the unit's [Install] section)" };
                        errors.push(fail(
                            format!(
                                "{missing}{via} is not installed in the root (looked in /etc/systemd/system, \
                                 /usr/local/lib/systemd/system, /lib/systemd/system and /usr/lib/systemd/system)"
                            ),
                            "install the package that ships it before sealing, or remove it from the profile",
                        ));
                        continue;
                    }
                    Err(EnableError::InTheWay(l, what)) => {
                        errors.push(fail(
                            format!(
                                "{} is already there ({what}), so systemctl cannot create {}",
                                root::show(&l.path),
                                l.show()
                            ),
                            "remove the stale link or file from the image first",
                        ));
                        continue;
                    }
                    Err(EnableError::Io(e)) => {
                        errors.push(io(e));
                        continue;
                    }
                }
            }
        };
        if let Some(c) = change {
            let touches: Vec<PathBuf> = c.creates.iter().chain(&c.removes).map(|l| l.path.clone()).collect();
            p.run(command(root, w.verb, unit), detail(&c), &touches);
            changes.push(c);
        }
    }
    if !errors.is_empty() {
        // The profile asks for something this root cannot do: a profile error, exit 2.
        return Err(Failure::new(Code::Usage, anyhow::anyhow!("{}", errors.join("\n"))));
    }
    if !changes.is_empty() && crate::exec::find_program("systemctl").is_none() {
        return Err(Failure::new(
            Code::Failed,
            anyhow::anyhow!(
                "[services] needs systemctl to change {} unit(s), and systemctl is not on PATH\n  fix: run amiprep where systemd is installed (for --root, on a host with systemctl), or remove [services] from the profile",
                changes.len()
            ),
        ));
    }
    if profile.services_preset {
        plan_preset(p, profile, &units);
    }
    Ok(changes)
}

enum EnableError {
    Missing(String),
    InTheWay(Link, String),
    Io(std::io::Error),
}

/// What enabling a unit amounts to.
enum Enable {
    /// Links to create.
    Create(Vec<Link>),
    /// Already enabled.
    Done,
    /// Enabling cannot do anything for this unit; why, for a warning.
    Nothing(&'static str),
}

fn enable_work(units: &Units<'_>, unit: &str) -> Result<Enable, EnableError> {
    let links = units.enable_links(unit).map_err(EnableError::Io)?.map_err(EnableError::Missing)?;
    if links.is_empty() {
        let template = units.find(unit).ok().flatten().is_some_and(|u| !u.install.is_empty());
        return Ok(Enable::Nothing(if template {
            "is a template without DefaultInstance=: name an instance to enable, e.g. name@instance.service"
        } else {
            "has no [Install] section (a static unit): there is nothing to enable; it runs when another unit pulls it in"
        }));
    }
    let mut creates = Vec::new();
    for l in links {
        match units.existing(&l.path).map_err(EnableError::Io)? {
            None => creates.push(l),
            Some(Existing::Link(t)) if t == l.target => {}
            Some(Existing::Link(t)) => return Err(EnableError::InTheWay(l, format!("a link to {}", t.display()))),
            Some(Existing::Other) => return Err(EnableError::InTheWay(l, "not a symlink".into())),
        }
    }
    Ok(if creates.is_empty() { Enable::Done } else { Enable::Create(creates) })
}

/// The unit's state in `systemctl is-enabled` terms, for reports.
fn state(units: &Units<'_>, unit: &str) -> &'static str {
    if units.masked(unit).unwrap_or(false) {
        return "masked";
    }
    match (units.find(unit), units.enable_links(unit)) {
        (Ok(None), _) => "not-found",
        (Ok(Some(uf)), _) if uf.install.is_empty() => "static",
        (_, Ok(Ok(links)))
            if !links.is_empty()
                && links
                    .iter()
                    .all(|l| units.existing(&l.path).ok().flatten() == Some(Existing::Link(l.target.clone()))) =>
        {
            "enabled"
        }
        _ => "disabled",
    }
}

fn command(root: &crate::root::Root, verb: Verb, unit: &str) -> Vec<String> {
    let mut argv = vec!["systemctl".to_string()];
    if !root.is_live() {
        argv.push(format!("--root={}", root.real_path().display()));
    }
    // `--` ends systemctl's options: the name was validated already, this is belt and braces.
    argv.extend([verb.as_str().to_string(), "--".into(), unit.to_string()]);
    argv
}

fn detail(c: &Change) -> String {
    let now = match c.verb {
        Verb::Enable => "enabled",
        Verb::Disable => "disabled",
        Verb::Mask => "masked",
        Verb::Unmask => "unmasked",
    };
    let mut s = format!("{}: {} -> {now}", c.unit, c.was);
    for l in &c.creates {
        let _ = write!(s, "; creates {}", l.show());
    }
    for l in &c.removes {
        let _ = write!(s, "; removes {}", l.show());
    }
    s
}

/// The preset file content for the profile's enables and disables, or `None` when it has
/// none. Preset files match first-line-wins, so each template gets one line listing all its
/// instances (`enable getty@.service tty1 tty2`); `default_instance` supplies the instance of a
/// template named on its own.
pub fn preset_text(profile: &Resolved, default_instance: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut lines: Vec<(&str, String, Vec<String>)> = Vec::new();
    for w in &profile.services {
        let verb = match w.verb {
            Verb::Enable => "enable",
            Verb::Disable => "disable",
            _ => continue,
        };
        let (unit, instance) = match crate::units::template_of(&w.unit) {
            Some(t) => {
                let inst = w.unit.rsplit_once('.').and_then(|(s, _)| s.split_once('@')).map(|(_, i)| i.to_string());
                (t, inst)
            }
            None if w.unit.contains("@.") => (w.unit.clone(), default_instance(&w.unit)),
            None => (w.unit.clone(), None),
        };
        match lines.iter_mut().find(|(v, u, _)| *v == verb && *u == unit) {
            Some((_, _, insts)) => insts.extend(instance),
            None => lines.push((verb, unit, instance.into_iter().collect())),
        }
    }
    let mut body = String::new();
    for (verb, unit, insts) in &lines {
        let _ = writeln!(body, "{verb} {unit}{}{}", if insts.is_empty() { "" } else { " " }, insts.join(" "));
    }
    (!body.is_empty()).then(|| {
        format!(
            "# Written by amiprep seal. A first boot with machine-id \"uninitialized\" applies presets;\n\
             # these lines keep the [services] choices of the profile the image was sealed with.\n{body}"
        )
    })
}

fn plan_preset(p: &mut Planner<'_>, profile: &Resolved, units: &Units<'_>) {
    let default_instance = |t: &str| units.find(t).ok().flatten().and_then(|u| u.install.default_instance);
    let Some(text) = preset_text(profile, &default_instance) else { return };
    let rel = PathBuf::from(PRESET_FILE);
    let old = p.read_for_edit(&rel);
    if old.is_none() && p.root.lstat_opt(&rel).ok().flatten().is_some() {
        // read_for_edit warned: a link or special file sits there.
        return;
    }
    let detail =
        format!("preset lines: {}", text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("; "));
    p.rewrite(&rel, old.as_ref().map(|(st, d)| (st, d.as_slice())), text.into_bytes(), Some(0o644), detail);
}
