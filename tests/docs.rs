//! The documentation held to the code: every option of `drainit --help`
//! (its flags, its variable, its default) is a row of README's options
//! table with the same variable and default, and the table has no row,
//! flag or variable that `--help` lacks. Flags added later are held to it
//! too: the test compares the two, it lists neither.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;

/// One option as a document shows it.
#[derive(Debug, PartialEq, Eq)]
struct Option_ {
    /// Every spelling: `-r`, `--rewrite`.
    flags: Vec<String>,
    /// `DRAINIT_REWRITE`, or empty.
    variable: String,
    /// The default as written (`30s`), `none` for an option with a value
    /// and no default, `off` for a flag with a variable, else empty.
    default: String,
}

/// The flags in `text`: `-r`, `--rewrite`, `-h`...
fn flags(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with('-') && w.len() > 1 && w.as_bytes()[1] != b' ')
        .filter(|w| {
            w.trim_start_matches('-')
                .starts_with(|c: char| c.is_ascii_alphabetic())
        })
        .map(str::to_string)
        .collect()
}

/// The text between `[NAME: ` and its `]` in a help line.
fn bracket<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("[{name}: "))? + name.len() + 3;
    let len = line[start..].find(']')?;
    Some(&line[start..start + len])
}

/// The options of `--help`, keyed by their first flag.
fn from_help(help: &str) -> BTreeMap<String, Option_> {
    let options = help
        .split("\nOptions:\n")
        .nth(1)
        .expect("an Options section in --help");
    let mut found = BTreeMap::new();
    for line in options.lines().take_while(|l| !l.is_empty()) {
        // `  -r, --rewrite <FROM:TO>   Help...`: the flags end at the gap.
        let trimmed = line.trim_start();
        let (spec, _) = trimmed.split_once("  ").unwrap_or((trimmed, ""));
        let takes_value = spec.contains('<');
        let variable = bracket(line, "env")
            .map(|e| e.split('=').next().unwrap_or_default().to_string())
            .unwrap_or_default();
        let default = match bracket(line, "default") {
            Some(d) => d.to_string(),
            None if takes_value => "none".to_string(),
            None if !variable.is_empty() => "off".to_string(),
            None => String::new(),
        };
        let option = Option_ {
            flags: flags(spec.split('<').next().unwrap_or_default()),
            variable,
            default,
        };
        found.insert(option.flags[0].clone(), option);
    }
    found
}

/// The rows of README's options table, keyed by their first flag.
fn from_readme(readme: &str) -> BTreeMap<String, Option_> {
    let table = readme
        .split("\n### Options\n")
        .nth(1)
        .expect("README has ### Options");
    let mut found = BTreeMap::new();
    for row in table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
    {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // | flag | variable | default | meaning |: the flags are in the
        // code spans of the first cell (`-r, --rewrite FROM:TO`).
        let spans: Vec<&str> = cells[1].split('`').skip(1).step_by(2).collect();
        let option = Option_ {
            flags: spans.iter().flat_map(|s| flags(s)).collect(),
            variable: cells[2].split('`').nth(1).unwrap_or_default().to_string(),
            default: cells[3].trim_matches('`').to_string(),
        };
        assert!(!option.flags.is_empty(), "a row without a flag: {row}");
        found.insert(option.flags[0].clone(), option);
    }
    found
}

#[test]
fn every_option_of_help_is_in_readmes_table_with_its_variable_and_default() {
    let out = scrub_env(&mut Command::new(drainit_bin()))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let readme = std::fs::read_to_string(format!("{REPO}/README.md")).unwrap();
    let help_options = from_help(&help);
    let table = from_readme(&readme);
    assert!(help_options.len() > 20, "{help_options:?}");
    for (first, option) in &help_options {
        let row = table
            .values()
            .find(|row| row.flags.contains(first))
            .unwrap_or_else(|| panic!("{first} is not in README's options table"));
        // A row may hold several options that share a meaning (`-s`, `-g`).
        let spelled = option.flags.iter().all(|f| row.flags.contains(f));
        assert!(
            spelled,
            "README's row for {first}: {row:?}, --help: {option:?}"
        );
        assert_eq!(
            (&row.variable, &row.default),
            (&option.variable, &option.default),
            "README's row for {first} against --help (variable, default)"
        );
    }
    for row in table.values() {
        for flag in &row.flags {
            assert!(
                help_options.values().any(|o| o.flags.contains(flag)),
                "README's options table has {flag}, which --help lacks: {row:?}"
            );
        }
    }
    // The peers' variables, in --help's last lines, are in README too.
    let footer = help.rsplit("\n\n").next().unwrap();
    for word in footer.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("TINI_") || word.starts_with("DUMB_INIT_") {
            assert!(readme.contains(word), "{word} is not in README");
        }
    }
}

/// The parsers of the test itself, on a row and a line of each kind.
#[test]
fn the_parsers_read_every_kind_of_row_and_line() {
    let help = "x\n\nOptions:\n  -r, --rewrite <FROM:TO>  Do [env: DRAINIT_REWRITE=] [default: a]\n  \
                -c, --single-child  Only [env: DRAINIT_SINGLE_CHILD=]\n  -s   No effect\n\nfooter\n";
    let options = from_help(help);
    assert_eq!(
        options["-r"],
        Option_ {
            flags: vec!["-r".into(), "--rewrite".into()],
            variable: "DRAINIT_REWRITE".into(),
            default: "a".into(),
        }
    );
    assert_eq!(options["-c"].default, "off");
    assert_eq!(options["-s"].default, "");
    let readme = "\n### Options\n\n| flag | variable | default | meaning |\n| --- | --- | --- | --- |\n\
                  | `-r, --rewrite FROM:TO` | `DRAINIT_REWRITE` (comma-separated) | `a` | x |\n\
                  | `-s`, `-g` | | | y |\n\nafter\n";
    let table = from_readme(readme);
    assert_eq!(table["-r"], options["-r"]);
    assert_eq!(table["-s"].flags, ["-s", "-g"]);
}
