//! Property tests for every parser: arbitrary and hostile input
//! (unicode, overflow, unbalanced quotes, near-miss names) never panics;
//! what drainit prints or a user quotes parses back to the same value; and
//! every error from the command line names the flag it came from.

use std::ffi::OsString;
use std::time::Duration;

use libc::c_int;
use proptest::collection::vec;
use proptest::prelude::*;

use crate::address::{self, Target};
use crate::http;
use crate::liveness::{Liveness, Schedule, Verdict};
use crate::ready::{self, Head};
use crate::rewrite::{self, Rule};
use crate::signals::{Signal, rtmax};
use crate::{cli, duration, words};

/// Any signal drainit knows: 1-31 and the C library's realtime range.
fn any_signal() -> impl Strategy<Value = Signal> {
    (1..=rtmax()).prop_filter_map("not a signal", Signal::from_raw)
}

/// `drainit FLAG VALUE app` through the real command line.
fn parse_flag(flag: &str, value: &str) -> Result<crate::config::Invocation, cli::Exit> {
    cli::parse(["drainit", flag, value, "app"].map(OsString::from), &|_| {
        None
    })
}

fn unit_nanos(unit: &str) -> u64 {
    match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        _ => 3_600_000_000_000,
    }
}

fn unit() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("ms"), Just("s"), Just("m"), Just("h")]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    // --- signal specs -----------------------------------------------------

    #[test]
    fn signal_parse_never_panics(spec in any::<String>()) {
        if let Err(e) = Signal::parse(&spec) {
            prop_assert_eq!(e, format!("{spec:?} is not a signal"));
        }
    }

    #[test]
    fn near_miss_signal_names_never_panic(
        spec in "(?i)(sig)?(rtmin|rtmax|term|hup|usr|)[+-]{0,2}[0-9]{0,25}[a-z]?"
    ) {
        match Signal::parse(&spec) {
            Ok(sig) => prop_assert_eq!(Signal::from_raw(sig.raw()), Some(sig)),
            Err(e) => prop_assert_eq!(e, format!("{spec:?} is not a signal")),
        }
    }

    #[test]
    fn signal_names_round_trip_in_any_case(
        sig in any_signal(),
        upper in vec(any::<bool>(), 16),
        prefixed in any::<bool>(),
    ) {
        let name = sig.to_string();
        let name = if prefixed { name.as_str() } else { &name[3..] };
        let mixed: String = name
            .chars()
            .zip(upper.iter().cycle())
            .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        prop_assert_eq!(Signal::parse(&mixed), Ok(sig));
        prop_assert_eq!(Signal::parse(&sig.raw().to_string()), Ok(sig));
    }

    #[test]
    fn a_number_parses_exactly_when_it_names_a_signal(n in any::<i64>()) {
        let want = c_int::try_from(n).ok().and_then(Signal::from_raw);
        prop_assert_eq!(Signal::parse(&n.to_string()).ok(), want);
    }

    // --- rewrite lists ----------------------------------------------------

    #[test]
    fn rewrite_parse_never_panics(spec in any::<String>()) {
        let _ = Rule::parse(&spec);
    }

    #[test]
    fn rewrite_rules_round_trip(
        from in any_signal(),
        to in any_signal(),
        drop in any::<bool>(),
        pad in " {0,3}",
    ) {
        let to_text = if drop { "0".to_string() } else { to.to_string() };
        let parsed = Rule::parse(&format!("{pad}{from}:{to_text}{pad}"));
        if from.is_never_forwarded() {
            prop_assert!(parsed.is_err());
        } else {
            prop_assert_eq!(parsed, Ok(Rule { from, to: (!drop).then_some(to) }));
        }
    }

    #[test]
    fn a_rewrite_list_keeps_every_rule(rules in vec((any_signal(), any_signal()), 0..6)) {
        let rules: Vec<(Signal, Signal)> =
            rules.into_iter().filter(|(from, _)| !from.is_never_forwarded()).collect();
        let list: Vec<String> = rules.iter().map(|(f, t)| format!("{f}:{}", t.raw())).collect();
        let crate::config::Invocation::Run(config) = parse_flag("--rewrite", &list.join(" , ")).unwrap() else {
            panic!("not a run");
        };
        for (from, _) in &rules {
            // The last rule for a signal wins.
            let want = rules.iter().rev().find(|(f, _)| f == from).map(|(_, t)| *t);
            prop_assert_eq!(config.policy.rewrite.translate(*from), want);
        }
    }

    // --- durations --------------------------------------------------------

    #[test]
    fn duration_parse_never_panics(text in any::<String>()) {
        let _ = duration::parse(&text);
    }

    #[test]
    fn near_miss_durations_never_panic(text in "[0-9.hms +-]{0,30}") {
        let _ = duration::parse(&text);
    }

    #[test]
    fn durations_round_trip(parts in vec((0u64..1_000_000, unit()), 1..6)) {
        let text: String = parts.iter().map(|(n, u)| format!("{n}{u}")).collect();
        let nanos: u64 = parts.iter().map(|(n, u)| n * unit_nanos(u)).sum();
        prop_assert_eq!(duration::parse(&text), Ok(Duration::from_nanos(nanos)));
    }

    #[test]
    fn decimal_seconds_truncate_below_a_nanosecond(
        whole in 0u64..1_000_000,
        fraction in "[0-9]{1,20}",
        suffix in prop_oneof![Just(""), Just("s")],
    ) {
        let nanos_digits = format!("{:0<9}", &fraction[..fraction.len().min(9)]);
        let want = Duration::new(whole, nanos_digits.parse().unwrap());
        prop_assert_eq!(duration::parse(&format!("{whole}.{fraction}{suffix}")), Ok(want));
    }

    #[test]
    fn huge_durations_are_errors_not_panics(
        digits in "[1-9][0-9]{20,60}",
        unit in prop_oneof![Just(""), unit()],
    ) {
        let text = format!("{digits}{unit}");
        prop_assert!(duration::parse(&text).is_err(), "{}", text);
    }

    #[test]
    fn tiny_durations_are_below_one_unit(zeros in 0usize..30, unit in unit()) {
        let text = format!("0.{}1{unit}", "0".repeat(zeros));
        let d = duration::parse(&text).unwrap();
        prop_assert!(d.as_nanos() < u128::from(unit_nanos(unit)), "{text}: {d:?}");
    }

    // --- word splitting ---------------------------------------------------

    #[test]
    fn split_never_panics(line in any::<String>()) {
        let _ = words::split(&line);
    }

    #[test]
    fn shellish_lines_split_or_say_why(line in "[ a\\\\'\"\t\n$`*;]{0,40}") {
        if let Err(e) = words::split(&line) {
            let known = ["unbalanced single quote", "unbalanced double quote", "ends with a lone backslash"];
            prop_assert!(known.contains(&e.as_str()), "{e}");
        }
    }

    /// What the hook's log line shows splits back into the same words.
    #[test]
    fn quoted_words_round_trip(ws in vec(any::<String>(), 0..8)) {
        prop_assert_eq!(words::split(&words::quote(&ws)), Ok(ws));
    }

    #[test]
    fn plain_words_stay_bare(ws in vec("[a-zA-Z0-9_./:=@%+,-]{1,12}", 0..8)) {
        prop_assert_eq!(words::quote(&ws), ws.join(" "));
    }

    #[test]
    fn double_quoted_words_round_trip(ws in vec(any::<String>(), 0..8)) {
        let quote = |w: &String| {
            let mut q = String::from("\"");
            for c in w.chars() {
                if matches!(c, '\\' | '$' | '`' | '"') {
                    q.push('\\');
                }
                q.push(c);
            }
            q + "\""
        };
        let line: Vec<String> = ws.iter().map(quote).collect();
        prop_assert_eq!(words::split(&line.join("\t")), Ok(ws));
    }

    #[test]
    fn backslashed_words_round_trip(ws in vec("[^\n]{1,12}", 0..8)) {
        let line: Vec<String> = ws.iter().map(|w| w.chars().flat_map(|c| ['\\', c]).collect()).collect();
        prop_assert_eq!(words::split(&line.join("  ")), Ok(ws));
    }

    #[test]
    fn an_unclosed_quote_or_a_final_backslash_is_an_error(
        head in "[a-z ]{0,10}",
        tail in "[a-z \\\\]{0,10}",
    ) {
        prop_assert_eq!(words::split(&format!("{head}'{tail}")), Err("unbalanced single quote".to_string()));
        let tail = tail.replace('\\', "");
        prop_assert_eq!(words::split(&format!("{head}\"{tail}")), Err("unbalanced double quote".to_string()));
        prop_assert_eq!(words::split(&format!("{head}\\")), Err("ends with a lone backslash".to_string()));
    }

    // --- the command line: errors name the flag ----------------------------

    #[test]
    fn bad_durations_are_usage_errors_naming_the_flag(
        flag in prop_oneof![Just("--grace"), Just("--prestop-sleep"), Just("--drain-timeout")],
        bad in any::<String>(),
    ) {
        prop_assume!(duration::parse(&bad).is_err());
        let err = parse_flag(flag, &bad).unwrap_err();
        prop_assert_eq!(err.exit_code(), 2);
        prop_assert!(err.to_string().contains(flag), "{}", err);
    }

    #[test]
    fn bad_signals_are_usage_errors_naming_the_flag(
        flag in prop_oneof![Just("--rewrite"), Just("--stop-signal")],
        bad in prop_oneof![any::<String>(), "(?i)(sig)?(rtm|term|kill|chld|segv)[:0-9+-]{0,6}"],
    ) {
        let valid = if flag == "--rewrite" {
            bad.contains(',') || bad.trim().is_empty() || Rule::parse(&bad).is_ok()
        } else {
            rewrite::parse_source(&bad).is_ok()
        };
        prop_assume!(!valid);
        let err = parse_flag(flag, &bad).unwrap_err();
        prop_assert_eq!(err.exit_code(), 2);
        prop_assert!(err.to_string().contains(flag), "{}", err);
    }

    #[test]
    fn bad_hook_lines_are_usage_errors_naming_the_flag(line in "[a \\\\'\"]{0,20}") {
        prop_assume!(words::split(&line).is_err());
        let err = parse_flag("--drain-exec", &line).unwrap_err();
        prop_assert_eq!(err.exit_code(), 2);
        prop_assert!(err.to_string().contains("--drain-exec"), "{}", err);
    }

    #[test]
    fn any_command_line_parses_or_fails_without_panicking(args in vec(any::<String>(), 0..6)) {
        let _ = cli::parse(std::iter::once("drainit".to_string()).chain(args).map(OsString::from), &|_| None);
    }

    // --- health: addresses, URLs, HTTP heads, the liveness count -----------

    #[test]
    fn address_and_url_parsers_never_panic(text in any::<String>()) {
        let _ = address::parse_listen(&text);
        let _ = address::parse_target(&text);
        let _ = address::parse_request(&text);
    }

    #[test]
    fn near_miss_urls_never_panic(
        text in "(?i)(get |put |)(tcp|http|https|)(:/{0,3})(\\[[0-9a-f:]{0,8}\\]|[a-z0-9.-]{0,8})(:[0-9]{0,6})?(/[ -~]{0,8})?"
    ) {
        let _ = address::parse_request(&text);
        if let Ok(target) = address::parse_target(&text) {
            // What drainit prints in its log lines reads back the same.
            prop_assert_eq!(address::parse_target(&target.to_string()), Ok(target));
        }
    }

    #[test]
    fn parsed_targets_round_trip(
        host in prop_oneof![Just("127.0.0.1".to_string()), Just("::1".to_string()), "[a-z][a-z0-9.-]{0,20}"],
        port in 1u16..,
        path in "(/[a-zA-Z0-9._~?=&%-]{0,12}){1,3}",
    ) {
        let bracketed = if host.contains(':') { format!("[{host}]") } else { host.clone() };
        let url = format!("http://{bracketed}:{port}{path}");
        let target = address::parse_target(&url).unwrap();
        prop_assert_eq!(&target.to_string(), &url);
        let is_http = matches!(target, Target::Http { .. });
        prop_assert!(is_http);
    }

    #[test]
    fn http_status_lines_never_panic(head in vec(any::<u8>(), 0..600)) {
        let _ = http::status(&head);
    }

    #[test]
    fn request_heads_never_panic_and_only_http_completes(head in vec(any::<u8>(), 0..600)) {
        if let Head::Complete { .. } = ready::parse_head(&head) {
            prop_assert!(head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n"));
        }
    }

    #[test]
    fn a_head_split_anywhere_completes_only_at_its_end(
        path in "/[a-z0-9]{0,20}", cut in 0usize..64,
    ) {
        let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: y\r\n\r\n");
        let cut = cut.min(head.len());
        let want = if cut == head.len() { Head::Complete { head_only: false } } else { Head::Partial };
        prop_assert_eq!(ready::parse_head(&head.as_bytes()[..cut]), want);
    }

    #[test]
    fn liveness_stops_after_exactly_the_allowed_failures_in_a_row(
        failures in 1u32..5,
        results in vec(any::<bool>(), 0..40),
    ) {
        let schedule = Schedule {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(100),
            failures,
            start: Duration::ZERO,
        };
        let t0 = std::time::Instant::now();
        let mut live = Liveness::new(schedule, t0);
        let mut run = 0;
        for (i, passed) in results.into_iter().enumerate() {
            let now = t0 + Duration::from_secs(i as u64);
            prop_assert_eq!(live.due(now), Some(true));
            let verdict = live.record(if passed { Ok(()) } else { Err("x".into()) }, now);
            run = if passed { 0 } else { run + 1 };
            match verdict {
                Verdict::Dead { .. } => {
                    prop_assert_eq!(run, failures);
                    break;
                }
                Verdict::Failed { count, .. } => prop_assert_eq!(count, run),
                Verdict::Passed { .. } => prop_assert_eq!(run, 0),
            }
            prop_assert!(run < failures);
        }
    }

    #[test]
    fn bad_health_values_are_usage_errors_naming_the_flag(
        flag in prop_oneof![Just("--ready-listen"), Just("--drain-http"), Just("--liveness")],
        bad in any::<String>(),
    ) {
        let valid = match flag {
            "--ready-listen" => address::parse_listen(&bad).is_ok(),
            "--drain-http" => bad.trim().is_empty() || address::parse_request(&bad).is_ok(),
            _ => address::parse_target(&bad).is_ok(),
        };
        prop_assume!(!valid && !bad.starts_with('-'));
        let err = parse_flag(flag, &bad).unwrap_err();
        prop_assert_eq!(err.exit_code(), 2);
        prop_assert!(err.to_string().contains(flag), "{}", err);
    }
}
