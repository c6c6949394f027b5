//! Splits `--drain-exec "CMD ARGS"` into words with POSIX shell quoting
//! (XCU 2.2), and nothing else: no `$VAR`, `~` or glob expansion, no shell.

/// Splits `line` into words. Blanks (space, tab, newline) separate words;
/// single quotes keep everything literally; double quotes keep everything
/// but a backslash before `$`, `` ` ``, `"`, `\` or a newline; an unquoted
/// backslash keeps the next character (a backslash-newline pair vanishes).
/// Quoted empty words (`''`, `""`) are kept. Errors on an unbalanced quote
/// or a trailing lone backslash.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    // `None` between words; `Some` once a word has started, even if empty.
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("unbalanced single quote".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('\n') => {}
                            Some(c @ ('$' | '`' | '"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("unbalanced double quote".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("unbalanced double quote".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("ends with a lone backslash".into()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// The words as one line that `split` turns back into the same words, for
/// log lines: a word is bare when it holds only characters no shell
/// treats specially, else in single quotes (a `'` inside as `'\''`), so
/// `curl -X 'POST it'` shows as it was given, not as three words.
pub fn quote(words: &[String]) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    let quoted: Vec<String> = words
        .iter()
        .map(|w| {
            if !w.is_empty() && w.chars().all(bare) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect();
    quoted.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    #[test]
    fn splits_on_blanks() {
        assert_eq!(
            ok("curl -fsS  http://x/drain"),
            ["curl", "-fsS", "http://x/drain"]
        );
        assert_eq!(ok(" \t a\nb "), ["a", "b"]);
        assert!(ok("").is_empty());
        assert!(ok("   ").is_empty());
    }

    #[test]
    fn quotes_group_and_keep_empty_words() {
        assert_eq!(ok("sh -c 'echo a  b'"), ["sh", "-c", "echo a  b"]);
        assert_eq!(ok(r#"a "b c" d"#), ["a", "b c", "d"]);
        assert_eq!(ok("a '' \"\" b"), ["a", "", "", "b"]);
        assert_eq!(ok("x'y'\"z\""), ["xyz"]);
        assert_eq!(ok(r#"'it'\''s'"#), ["it's"]);
    }

    #[test]
    fn quote_shows_the_words_as_a_user_would_write_them() {
        let words = ok(r#"curl -X "POST it" '' http://x/a?b it\'s"#);
        assert_eq!(
            quote(&words),
            r"curl -X 'POST it' '' 'http://x/a?b' 'it'\''s'"
        );
    }

    #[test]
    fn backslashes_follow_posix() {
        assert_eq!(ok(r"a\ b"), ["a b"]);
        assert_eq!(ok(r"\'"), ["'"]);
        assert_eq!(ok(r#""\$ \` \" \\ \n""#), [r#"$ ` " \ \n"#]);
        assert_eq!(ok(r"'\n'"), [r"\n"]);
        assert_eq!(ok("a\\\nb"), ["ab"]);
        assert_eq!(ok("\"a\\\nb\""), ["ab"]);
    }

    #[test]
    fn nothing_is_expanded() {
        assert_eq!(
            ok("echo $HOME ~ * $(id) `id` ;"),
            ["echo", "$HOME", "~", "*", "$(id)", "`id`", ";"]
        );
    }

    #[test]
    fn unbalanced_input_is_an_error() {
        assert_eq!(split("a 'b").unwrap_err(), "unbalanced single quote");
        assert_eq!(split("a \"b").unwrap_err(), "unbalanced double quote");
        assert_eq!(split("\"a\\").unwrap_err(), "unbalanced double quote");
        assert_eq!(split("a\\").unwrap_err(), "ends with a lone backslash");
    }
}
