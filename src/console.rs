//! Lines for the people and hosts watching the machine's consoles: the kernel log, the system
//! console and the first serial port, which is what EC2's get-console-output shows.
//!
//! Only ever used on the live system. Every write is non-blocking: a console nobody reads (or a
//! serial port with flow control held) must never hang a seal or a boot.

use std::io::Write;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

/// Serial ports that carry a cloud console: `ttyS0` on x86 and on Graviton, `ttyAMA0` on other
/// arm machines.
const SERIALS: &[&str] = if cfg!(target_arch = "aarch64") { &["ttyS0", "ttyAMA0"] } else { &["ttyS0"] };

/// Writes `lines` to the kernel log (`/dev/kmsg`, so `dmesg` and the journal have them), to
/// `/dev/console`, and to the first serial console unless `/dev/console` already is that port.
/// Returns the devices written, for the report.
pub fn announce(lines: &[String]) -> Vec<String> {
    let mut written = Vec::new();
    // kmsg takes one record per write; level 5 (notice) keeps it out of the console's own
    // printk output (default loglevel 4), so the console shows each line once.
    if lines.iter().all(|l| write_to("/dev/kmsg", format!("<5>{l}\n").as_bytes())) && !lines.is_empty() {
        written.push("/dev/kmsg".to_string());
    }
    let text: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
    if write_to("/dev/console", text.as_bytes()) {
        written.push("/dev/console".to_string());
    }
    let active = std::fs::read_to_string("/sys/class/tty/console/active").unwrap_or_default();
    // The kernel lists the consoles in registration order; /dev/console is the last one.
    let console_is = active.split_whitespace().last().unwrap_or("").to_string();
    for s in SERIALS {
        if *s == console_is {
            continue;
        }
        let dev = format!("/dev/{s}");
        if Path::new(&format!("/sys/class/tty/{s}/device")).exists() && write_to(&dev, text.as_bytes()) {
            written.push(dev);
            break;
        }
    }
    written
}

fn write_to(dev: &str, data: &[u8]) -> bool {
    let flags = OFlags::WRONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match rustix::fs::open(dev, flags, Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd).write_all(data).is_ok(),
        Err(_) => false,
    }
}
