//! Logs go to the journal when amiprep runs under systemd with its output connected to the
//! journal, and to stderr otherwise. Logging never writes a file.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record<'_>) {
        if self.enabled(r.metadata()) {
            let level = match r.level() {
                Level::Error => "error",
                Level::Warn => "warning",
                Level::Info => "info",
                Level::Debug => "debug",
                Level::Trace => "trace",
            };
            eprintln!("amiprep: {level}: {}", r.args());
        }
    }

    fn flush(&self) {}
}

static STDERR: Stderr = Stderr;

/// `verbose` counts `-v` flags: 0 shows warnings, 1 info, 2 and more debug.
pub fn init(verbose: u8) {
    let level = match verbose {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Info,
        _ => LevelFilter::Debug,
    };
    let journal = systemd_journal_logger::connected_to_journal()
        .then(|| systemd_journal_logger::JournalLog::new().ok())
        .flatten();
    match journal {
        Some(j) => {
            let _ = j.with_syslog_identifier("amiprep".into()).install();
        }
        None => {
            let _ = log::set_logger(&STDERR);
        }
    }
    // Under the journal, info is worth keeping even without -v.
    log::set_max_level(if systemd_journal_logger::connected_to_journal() {
        level.max(LevelFilter::Info)
    } else {
        level
    });
}
