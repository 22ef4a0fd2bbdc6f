//! amiprep: seal a Linux instance for imaging. `main` only parses, runs and maps the outcome
//! to a documented exit code.

mod accounts;
mod apply;
mod atomic;
mod audit;
mod cli;
mod console;
mod exec;
mod exit;
mod firstboot;
mod hostkeys;
mod logging;
mod ops;
mod plan;
mod profile;
mod receipt;
mod report;
mod root;
mod services;
mod signal;
mod sshd;
mod units;
mod walk;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.verbose);
    match cli.run() {
        Ok(code) => code.into(),
        Err(fail) => {
            // `{:#}` prints the whole context chain on one line: "seal: opening ...: denied".
            eprintln!("amiprep: error: {:#}", fail.error);
            fail.code.into()
        }
    }
}
