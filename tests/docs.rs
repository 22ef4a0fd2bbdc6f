//! `amiprep completions SHELL` and `amiprep manpage`: what the packages install must cover every
//! subcommand and flag the binary has, whatever subcommands are added later.

mod common;

use std::collections::BTreeSet;

use common::Sandbox;

/// The subcommands `amiprep --help` lists (clap's own `help` left out).
fn subcommands(sb: &Sandbox) -> Vec<String> {
    let help = sb.run(&["--help"]).code(0).stdout.clone();
    let section = help.split("Commands:\n").nth(1).expect("--help has a Commands: section");
    let names: Vec<String> = section
        .lines()
        .take_while(|l| l.starts_with("  "))
        // A long description wraps onto lines indented further than the names.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 5, "plan, seal, profile, completions, manpage at least: {names:?}");
    names
}

/// Every `--long` flag the help of `amiprep ARGS` shows.
fn long_flags(sb: &Sandbox, args: &[&str]) -> BTreeSet<String> {
    let help = sb.run(args).code(0).stdout.clone();
    let flags: BTreeSet<String> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '<' || c == '[')
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_string)
        .collect();
    assert!(flags.contains("--root"), "{args:?}: {flags:?}");
    flags
}

#[test]
fn completions_cover_every_subcommand_and_flag() {
    let sb = Sandbox::new();
    let names = subcommands(&sb);
    let seal_flags = long_flags(&sb, &["seal", "--help"]);
    for shell in ["bash", "zsh", "fish"] {
        let run = sb.run(&["completions", shell]);
        run.code(0);
        for name in &names {
            assert!(run.stdout.contains(name.as_str()), "{shell} completion lacks the subcommand {name}");
        }
        for flag in &seal_flags {
            // fish spells long options `-l root`, the others `--root`.
            let spelled = if shell == "fish" { format!("-l {}", &flag[2..]) } else { flag.clone() };
            assert!(run.stdout.contains(&spelled), "{shell} completion lacks `seal {flag}`");
        }
    }
}

#[test]
fn completions_refuse_an_unknown_shell() {
    let sb = Sandbox::new();
    let run = sb.run(&["completions", "tcsh"]);
    run.code(2);
    assert!(run.stderr.contains("bash") && run.stderr.contains("fish"), "lists the shells: {}", run.stderr);
}

#[test]
fn manpage_prints_the_main_page_with_exit_codes() {
    let sb = Sandbox::new();
    let run = sb.run(&["manpage"]);
    run.code(0);
    assert!(run.stdout.contains(".TH amiprep 1"), "a roff page for section 1: {}", run.stdout);
    for name in subcommands(&sb) {
        assert!(run.stdout.contains(&format!("amiprep\\-{name}(1)")), "the page refers to amiprep-{name}(1)");
    }
    assert!(!run.stdout.contains("amiprep\\-help(1)"), "no page for clap's help exists");
    assert!(run.stdout.contains("Exit codes"), "exit codes are documented");
}

#[test]
fn manpage_dir_writes_one_page_per_subcommand() {
    let sb = Sandbox::new();
    let dir = sb.outside.join("man1");
    std::fs::create_dir(&dir).unwrap();
    sb.run(&["manpage", "--dir", dir.to_str().unwrap()]).code(0);
    let written: BTreeSet<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(written.contains("amiprep.1"), "{written:?}");
    for name in subcommands(&sb) {
        assert!(written.contains(&format!("amiprep-{name}.1")), "amiprep-{name}.1 in {written:?}");
    }
    assert!(written.contains("amiprep-profile-list.1"), "nested subcommands too: {written:?}");
    let seal = std::fs::read_to_string(dir.join("amiprep-seal.1")).unwrap();
    for flag in long_flags(&sb, &["seal", "--help"]) {
        let roff = flag.replace('-', "\\-");
        assert!(seal.contains(&roff), "amiprep-seal.1 documents {flag}");
    }
}

#[test]
fn manpage_dir_must_exist() {
    let sb = Sandbox::new();
    let missing = sb.outside.join("no-such-dir");
    let run = sb.run(&["manpage", "--dir", missing.to_str().unwrap()]);
    run.code(1);
    assert!(run.stderr.contains("no-such-dir"), "names the directory: {}", run.stderr);
    assert!(!missing.exists());
}
