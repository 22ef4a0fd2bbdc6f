//! `amiprep completions SHELL` and `amiprep manpage`: shell completions and man pages generated
//! from the clap definition of this very binary, so they never miss a subcommand or a flag.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};

use super::Cli;
use crate::exit::{Code, Result};

#[derive(Args, Debug)]
pub struct CompletionsCmd {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

impl CompletionsCmd {
    pub fn run(self) -> Result<Code> {
        let mut text = Vec::new();
        clap_complete::generate(self.shell, &mut Cli::command(), "amiprep", &mut text);
        print(&text)
    }
}

#[derive(Args, Debug)]
pub struct ManpageCmd {
    /// Write amiprep.1 and one page per subcommand (amiprep-seal.1, ...) into this existing
    /// directory instead of printing amiprep.1 on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl ManpageCmd {
    pub fn run(self) -> Result<Code> {
        // `help` is clap's, not a command with a page of its own.
        let cmd = Cli::command().disable_help_subcommand(true);
        match self.dir {
            Some(dir) => {
                clap_mangen::generate_to(cmd, &dir)
                    .with_context(|| format!("writing man pages into {}", dir.display()))?;
                Ok(Code::Ok)
            }
            None => {
                let mut page = Vec::new();
                clap_mangen::Man::new(cmd).render(&mut page)?;
                print(&page)
            }
        }
    }
}

/// Writes generated text to stdout. Generated whole first: clap_complete panics on a write
/// error, and `amiprep completions bash | head` must not abort.
fn print(text: &[u8]) -> Result<Code> {
    match std::io::stdout().lock().write_all(text) {
        // A closed pipe is the reader's choice, not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(Code::Ok),
    }
}
