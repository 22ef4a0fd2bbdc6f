//! `amiprep firstboot`: on the first boot of each instance launched from a sealed image, give it
//! its own identity (SSH host keys, machine-id), record which image it came from, and start
//! what the profile asks for. On an ordinary reboot of the same instance it does nothing.
//!
//! Every step is idempotent, so running it twice, or again after a crash, is safe.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hostkeys;
use crate::profile::FirstbootConf;
use crate::receipt::{self, HISTORY, INSTANCE, RECEIPT, Receipt};
use crate::root::Root;
use crate::signal::Step;

/// What tells one instance from another. EC2 gives every instance a new DMI product UUID and
/// puts its instance id in the board asset tag (Nitro); cloud-init records its datasource's
/// instance id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Identity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_asset_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init_instance_id: Option<String>,
}

impl Identity {
    pub fn read(root: &Root) -> Identity {
        let read = |rel: &str| {
            let data = root.read_config_opt(Path::new(rel)).ok().flatten()?;
            let v = String::from_utf8_lossy(&data).trim().to_string();
            // Firmware fills unused DMI fields with placeholders; they identify nothing.
            let placeholder = v.is_empty()
                || ["not specified", "none", "default string", "to be filled by o.e.m."]
                    .contains(&v.to_ascii_lowercase().as_str());
            (!placeholder).then_some(v)
        };
        Identity {
            product_uuid: read("sys/class/dmi/id/product_uuid").map(|v| v.to_ascii_lowercase()),
            board_asset_tag: read("sys/class/dmi/id/board_asset_tag"),
            cloud_init_instance_id: read("var/lib/cloud/data/instance-id"),
        }
    }

    /// The first field known both now and before that differs, as `(name, before, now)`.
    fn changed_from(&self, before: &Identity) -> Option<(&'static str, String, String)> {
        let fields = [
            ("product_uuid", &before.product_uuid, &self.product_uuid),
            ("board_asset_tag", &before.board_asset_tag, &self.board_asset_tag),
            ("cloud-init instance-id", &before.cloud_init_instance_id, &self.cloud_init_instance_id),
        ];
        fields.into_iter().find_map(|(n, a, b)| match (a, b) {
            (Some(a), Some(b)) if a != b => Some((n, a.clone(), b.clone())),
            _ => None,
        })
    }

    fn comparable(&self, before: &Identity) -> bool {
        (self.product_uuid.is_some() && before.product_uuid.is_some())
            || (self.board_asset_tag.is_some() && before.board_asset_tag.is_some())
            || (self.cloud_init_instance_id.is_some() && before.cloud_init_instance_id.is_some())
    }
}

/// `var/lib/amiprep/instance.json`: the instance that last completed `firstboot`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceState {
    pub identity: Identity,
    pub first_boot_at: String,
    /// Carried over so that an image made from this instance without a new seal still knows
    /// what its first boot should do.
    pub firstboot: FirstbootConf,
}

/// What `firstboot` found and did.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub root: String,
    pub live: bool,
    pub new_instance: bool,
    pub reason: String,
    pub identity: Identity,
    pub steps: Vec<Step>,
    /// Fingerprints of the host keys, as `ssh-keygen -l` prints them.
    pub fingerprints: Vec<String>,
    pub ok: bool,
    /// The console line: FIRSTBOOT-DONE, FIRSTBOOT-NOTHING or FIRSTBOOT-FAILED.
    pub line: String,
}

fn push(steps: &mut Vec<Step>, step: &'static str, status: &'static str, detail: impl Into<String>) {
    let detail = detail.into();
    match status {
        "failed" => log::error!("firstboot {step}: {detail}"),
        _ => log::info!("firstboot {step} {status}: {detail}"),
    }
    steps.push(Step { step, status, detail });
}

/// Runs first boot. `force` treats this boot as a new instance whatever the evidence;
/// `profile` (from `-p`) overrides the `[firstboot]` settings the image was sealed with.
pub fn run(root: &Root, force: bool, profile: Option<&FirstbootConf>) -> Outcome {
    let mut steps = Vec::new();
    let identity = Identity::read(root);
    let receipt_bytes = root.read_config_opt(Path::new(RECEIPT)).ok().flatten();
    let stored: Option<InstanceState> =
        root.read_config_opt(Path::new(INSTANCE)).ok().flatten().and_then(|b| serde_json::from_slice(&b).ok());
    let sealed: Option<Receipt> = receipt_bytes.as_deref().and_then(|b| serde_json::from_slice(b).ok());

    let (new_instance, reason) =
        detect(root, force, &identity, receipt_bytes.is_some(), sealed.as_ref(), stored.as_ref());
    let conf = profile
        .cloned()
        .or_else(|| sealed.as_ref().map(|r| r.firstboot.clone()))
        .or_else(|| stored.as_ref().map(|s| s.firstboot.clone()))
        .unwrap_or_default();
    push(&mut steps, "detect", "done", reason.clone());
    let mut fingerprints = Vec::new();
    if new_instance {
        machine_id(root, &mut steps);
        let cloud_init = cloud_init_makes_keys(root);
        // A new identity without a receipt: the image was made from an instance without sealing
        // it, so keys already present are that instance's, shared by every clone.
        let cloned = receipt_bytes.is_none() && stored.is_some();
        host_keys(root, &conf, cloud_init.as_deref(), cloned, &mut steps, &mut fingerprints);
        receipt_to_history(root, receipt_bytes.as_deref(), &identity, &mut steps);
        start_units(root, &conf, &mut steps);
    }
    let ok = !steps.iter().any(|s| s.status == "failed");
    if new_instance {
        if ok {
            let state =
                InstanceState { identity: identity.clone(), first_boot_at: receipt::now_utc(), firstboot: conf };
            let mut data = serde_json::to_vec_pretty(&state).expect("serializable");
            data.push(b'\n');
            match root.write_atomic(Path::new(INSTANCE), &data, 0o644) {
                Ok(()) => push(
                    &mut steps,
                    "record",
                    "done",
                    format!("/{INSTANCE}: the next boot of this instance does nothing"),
                ),
                Err(e) => push(&mut steps, "record", "failed", format!("cannot write /{INSTANCE}: {e}")),
            }
        } else {
            // Not recorded, so the next boot tries again.
            push(&mut steps, "record", "skipped", "a step failed: the next boot runs first boot again");
        }
    }
    let ok = !steps.iter().any(|s| s.status == "failed");
    let line = if !ok {
        let failed: Vec<&str> = steps.iter().filter(|s| s.status == "failed").map(|s| s.step).collect();
        format!("amiprep: FIRSTBOOT-FAILED steps={} (see `journalctl -u amiprep-firstboot`)", failed.join(","))
    } else if new_instance {
        "amiprep: FIRSTBOOT-DONE new instance set up".to_string()
    } else {
        "amiprep: FIRSTBOOT-NOTHING same instance as the last boot".to_string()
    };
    if root.is_live() && (new_instance || !ok) {
        let mut lines = Vec::new();
        if !fingerprints.is_empty() {
            lines.push("-----BEGIN SSH HOST KEY FINGERPRINTS-----".to_string());
            lines.extend(fingerprints.iter().cloned());
            lines.push("-----END SSH HOST KEY FINGERPRINTS-----".to_string());
        }
        lines.push(line.clone());
        crate::console::announce(&lines);
    }
    Outcome {
        root: root.display().display().to_string(),
        live: root.is_live(),
        new_instance,
        reason,
        identity,
        steps,
        fingerprints,
        ok,
        line,
    }
}

/// Decides whether this boot is a new instance, and says why.
fn detect(
    root: &Root,
    force: bool,
    now: &Identity,
    receipt_present: bool,
    sealed: Option<&Receipt>,
    stored: Option<&InstanceState>,
) -> (bool, String) {
    if force {
        return (true, "--force: treated as a new instance".into());
    }
    if receipt_present {
        let what = sealed.map_or("an unreadable receipt".to_string(), |r| {
            format!("sealed {} with profile {}", r.sealed_at, r.profiles.join(" + "))
        });
        return (true, format!("first boot of a sealed image: /{RECEIPT} is present ({what})"));
    }
    match machine_id_state(root) {
        MachineId::Valid => {}
        other => return (true, format!("machine-id is {}: a first boot", other.as_str())),
    }
    if root.is_live() && root.exists(Path::new("run/systemd/first-boot")) {
        return (true, "systemd detected a first boot (ConditionFirstBoot)".into());
    }
    let Some(stored) = stored else {
        return (true, format!("first run on this machine: no /{INSTANCE} yet"));
    };
    match now.changed_from(&stored.identity) {
        Some((field, before, after)) => (true, format!("a new instance: {field} was {before}, is {after}")),
        None if now.comparable(&stored.identity) => (false, "same instance as the last boot: nothing to do".into()),
        None => (
            false,
            "no instance identity (DMI, cloud-init) to compare with the last boot; assuming the same instance".into(),
        ),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum MachineId {
    Valid,
    Missing,
    Empty,
    Uninitialized,
    Invalid,
}

impl MachineId {
    fn as_str(&self) -> &'static str {
        match self {
            MachineId::Valid => "valid",
            MachineId::Missing => "missing",
            MachineId::Empty => "empty",
            MachineId::Uninitialized => "\"uninitialized\"",
            MachineId::Invalid => "not a valid id",
        }
    }
}

fn machine_id_state(root: &Root) -> MachineId {
    match root.read_config_opt(Path::new("etc/machine-id")) {
        Ok(None) | Err(_) => MachineId::Missing,
        Ok(Some(d)) => {
            let s = String::from_utf8_lossy(&d);
            let s = s.trim();
            if s.is_empty() {
                MachineId::Empty
            } else if s == "uninitialized" {
                MachineId::Uninitialized
            } else if s.len() == 32
                && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                && s.bytes().any(|b| b != b'0')
            {
                MachineId::Valid
            } else {
                MachineId::Invalid
            }
        }
    }
}

/// On a live systemd boot, PID 1 has already put a fresh id in place (mounted over an
/// "uninitialized" file until it is committed), so this only acts offline or without systemd.
fn machine_id(root: &Root, steps: &mut Vec<Step>) {
    let state = machine_id_state(root);
    if state == MachineId::Valid {
        return push(steps, "machine-id", "skipped", "valid already");
    }
    let mut id = [0u8; 16];
    if let Err(e) = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut id)) {
        return push(steps, "machine-id", "failed", format!("no randomness for a new id: {e}"));
    }
    // A version 4 UUID, as systemd makes them.
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let text: String = id.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n";
    match root.write_atomic(Path::new("etc/machine-id"), text.as_bytes(), 0o444) {
        Ok(()) => push(steps, "machine-id", "done", format!("was {}; wrote a new id", state.as_str())),
        Err(e) => push(steps, "machine-id", "failed", format!("cannot write /etc/machine-id: {e}")),
    }
}

/// Why cloud-init will make the host keys itself on this boot, or `None` when it will not: it
/// is installed, not disabled, enabled in systemd, and runs its ssh module with key types.
pub fn cloud_init_makes_keys(root: &Root) -> Option<String> {
    if !crate::ops::cloud_init::active(root) {
        return None;
    }
    if root.is_live() && std::fs::read_to_string("/proc/cmdline").is_ok_and(|c| c.contains("cloud-init=disabled")) {
        return None;
    }
    let units = crate::units::Units::new(root).ok()?;
    if !["cloud-init.service", "cloud-init-network.service", "cloud-init.target"].iter().any(|u| units.linked(u)) {
        return None;
    }
    let text = crate::ops::cloud_init::config_texts(root).join("\n");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let ssh_module = lines.iter().any(|l| {
        let item = l.trim_start_matches('-').trim().trim_start_matches('[').trim();
        l.starts_with('-')
            && (item.starts_with("ssh,") || item == "ssh" || item == "cc_ssh" || item.starts_with("cc_ssh,"))
    });
    let no_types = lines.iter().any(|l| l.replace(' ', "") == "ssh_genkeytypes:[]");
    (ssh_module && !no_types).then(|| {
        "cloud-init is installed and enabled and runs its ssh module, which makes this instance's host keys; they are left to it".to_string()
    })
}

fn host_keys(
    root: &Root,
    conf: &FirstbootConf,
    cloud_init: Option<&str>,
    cloned: bool,
    steps: &mut Vec<Step>,
    fps: &mut Vec<String>,
) {
    if !conf.host_keys {
        return push(steps, "host-keys", "skipped", "[firstboot] host_keys = false");
    }
    if !root.exists(Path::new("etc/ssh/sshd_config")) && !root.exists(Path::new("usr/sbin/sshd")) {
        return push(steps, "host-keys", "skipped", "sshd is not installed: no host keys to make");
    }
    if let Some(why) = cloud_init {
        return push(steps, "host-keys", "skipped", why);
    }
    let (keys, warnings) = hostkeys::expected(root, &conf.host_key_types);
    for w in &warnings {
        log::warn!("firstboot host-keys: {w}");
    }
    let comment = format!("root@{}", hostname(root));
    let mut made = Vec::new();
    let mut failed = Vec::new();
    for key in &keys {
        let private = root.lstat_opt(&key.path).ok().flatten().is_some();
        let public = root.lstat_opt(&key.public()).ok().flatten().is_some();
        if private && public {
            continue;
        }
        let r = if private { hostkeys::derive_public(root, key) } else { hostkeys::generate(root, key, &comment) };
        match r {
            Ok(()) => made.push(format!("{} (/{})", key.kind, key.path.display())),
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    for key in &keys {
        if let Ok(Some(d)) = root.read_config_opt(&key.public()) {
            fps.extend(String::from_utf8_lossy(&d).lines().next().and_then(hostkeys::fingerprint));
        }
    }
    let mut detail = match (made.is_empty(), cloned) {
        (true, false) => "every host key sshd expects is present".to_string(),
        (true, true) => {
            log::warn!("firstboot: this instance's host keys came with an unsealed image and are shared by its clones");
            "every host key sshd expects is present, but they came with an image that was not sealed, so every \
             instance made from it shares them: seal images with amiprep, or remove the keys and run \
             `amiprep firstboot --force`"
                .to_string()
        }
        (false, _) => format!("made {}", made.join(", ")),
    };
    if !warnings.is_empty() {
        detail.push_str(&format!("; {}", warnings.join("; ")));
    }
    if !failed.is_empty() {
        push(steps, "host-keys", "failed", format!("{}; {detail}", failed.join("; ")));
    } else {
        push(steps, "host-keys", if made.is_empty() { "skipped" } else { "done" }, detail);
    }
}

fn hostname(root: &Root) -> String {
    if root.is_live() {
        return rustix::system::uname().nodename().to_string_lossy().into_owned();
    }
    root.read_config_opt(Path::new("etc/hostname"))
        .ok()
        .flatten()
        .map(|d| String::from_utf8_lossy(&d).trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Appends the image's receipt to the history (once: the history is keyed by the receipt's
/// sha256, so a rerun after a crash does not add it twice), then removes the receipt.
fn receipt_to_history(root: &Root, receipt: Option<&[u8]>, identity: &Identity, steps: &mut Vec<Step>) {
    let Some(bytes) = receipt else {
        return push(
            steps,
            "receipt",
            "skipped",
            format!("no /{RECEIPT}: the image was not sealed by amiprep, or this is not its first boot"),
        );
    };
    let sha = receipt::sha256_hex(bytes);
    let mut history = match root.read_config_opt(Path::new(HISTORY)) {
        Ok(h) => h.unwrap_or_default(),
        Err(e) => return push(steps, "receipt", "failed", format!("cannot read /{HISTORY}: {e}")),
    };
    let marker = format!("\"receipt_sha256\":\"{sha}\"");
    if !String::from_utf8_lossy(&history).lines().any(|l| l.contains(&marker)) {
        let image = serde_json::from_slice::<serde_json::Value>(bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()));
        let entry = serde_json::json!({
            "first_boot_at": receipt::now_utc(),
            "identity": identity,
            "receipt_sha256": sha,
            "receipt": image,
        });
        if !history.is_empty() && !history.ends_with(b"\n") {
            history.push(b'\n');
        }
        history.extend(serde_json::to_vec(&entry).expect("serializable"));
        history.push(b'\n');
        if let Err(e) = root.write_atomic(Path::new(HISTORY), &history, 0o644) {
            return push(steps, "receipt", "failed", format!("cannot write /{HISTORY}: {e}"));
        }
    }
    let removed = root.open_parent(Path::new(RECEIPT)).and_then(|(dir, name)| {
        rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty()).map_err(std::io::Error::from)
    });
    match removed {
        Ok(()) => push(steps, "receipt", "done", format!("moved to /{HISTORY} (sha256:{sha})")),
        Err(e) => push(steps, "receipt", "failed", format!("recorded in /{HISTORY} but cannot remove /{RECEIPT}: {e}")),
    }
}

/// `[firstboot] start`: asked of systemd without waiting, since this runs early in the boot
/// and a unit ordered after it would otherwise deadlock the transaction.
fn start_units(root: &Root, conf: &FirstbootConf, steps: &mut Vec<Step>) {
    if conf.start.is_empty() {
        return;
    }
    if !root.is_live() {
        return push(steps, "start", "skipped", format!("offline root: not starting {}", conf.start.join(", ")));
    }
    let out = std::process::Command::new("systemctl")
        .args(["start", "--no-block", "--"])
        .args(&conf.start)
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => push(steps, "start", "done", format!("queued {}", conf.start.join(", "))),
        Ok(o) => {
            push(steps, "start", "failed", format!("systemctl start: {}", String::from_utf8_lossy(&o.stderr).trim()))
        }
        Err(e) => push(steps, "start", "failed", format!("cannot run systemctl: {e}")),
    }
}
