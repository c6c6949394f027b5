//! The signal rewrite table (`--rewrite FROM:TO`), as in dumb-init: one
//! table and one `translate` lookup; rewriting to 0 drops the signal.

use crate::signals::Signal;

/// One `FROM:TO` rule; `to` is `None` when TO is 0 (drop FROM).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub from: Signal,
    pub to: Option<Signal>,
}

/// Parses a signal that may start a rule or the shutdown: any signal
/// drainit can receive and forward (not KILL, STOP or CHLD; a fault
/// signal sent by another process is forwarded, so it may be one).
pub fn parse_source(spec: &str) -> Result<Signal, String> {
    let sig = Signal::parse(spec)?;
    if sig.is_never_forwarded() {
        return Err(format!("{sig} cannot be received or forwarded by drainit"));
    }
    Ok(sig)
}

impl Rule {
    /// Parses `FROM:TO`, e.g. `TERM:QUIT`, `sigusr1:0`, `15:RTMIN+2`.
    /// Surrounding spaces are allowed (for `DRAINIT_REWRITE="A:B, C:D"`).
    pub fn parse(spec: &str) -> Result<Rule, String> {
        let (from, to) = spec
            .trim()
            .split_once(':')
            .ok_or_else(|| "expected FROM:TO, e.g. TERM:QUIT".to_string())?;
        let from = parse_source(from)?;
        let to = match to {
            "0" => None,
            to => Some(Signal::parse(to)?),
        };
        Ok(Rule { from, to })
    }
}

/// The table of rules; later rules for the same FROM win.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewrite(Vec<Rule>);

impl Rewrite {
    /// Builds the table from rules in the order they were given.
    pub fn new(rules: Vec<Rule>) -> Rewrite {
        Rewrite(rules)
    }

    /// What to deliver for a received `sig`: itself, its rewrite, or `None`
    /// when it is dropped.
    pub fn translate(&self, sig: Signal) -> Option<Signal> {
        match self.0.iter().rev().find(|rule| rule.from == sig) {
            Some(rule) => rule.to,
            None => Some(sig),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(spec: &str) -> Signal {
        Signal::parse(spec).unwrap()
    }

    fn table(specs: &[&str]) -> Rewrite {
        Rewrite::new(specs.iter().map(|s| Rule::parse(s).unwrap()).collect())
    }

    #[test]
    fn rewrites_drops_and_passes_through() {
        let t = table(&["TERM:QUIT", "usr1:0", " SIGHUP:rtmin+1 "]);
        assert_eq!(t.translate(sig("TERM")), Some(sig("QUIT")));
        assert_eq!(t.translate(sig("USR1")), None);
        assert_eq!(t.translate(sig("HUP")), Some(sig("RTMIN+1")));
        assert_eq!(t.translate(sig("INT")), Some(sig("INT")));
        assert_eq!(t.translate(sig("QUIT")), Some(sig("QUIT")));
    }

    #[test]
    fn a_swap_applies_each_rule_once() {
        let t = table(&["USR1:USR2", "USR2:USR1"]);
        assert_eq!(t.translate(sig("USR1")), Some(sig("USR2")));
        assert_eq!(t.translate(sig("USR2")), Some(sig("USR1")));
    }

    #[test]
    fn the_last_rule_for_a_signal_wins() {
        let t = table(&["TERM:QUIT", "TERM:INT"]);
        assert_eq!(t.translate(sig("TERM")), Some(sig("INT")));
    }

    #[test]
    fn to_may_be_kill_but_from_may_not() {
        assert_eq!(
            table(&["TERM:KILL"]).translate(sig("TERM")),
            Some(sig("KILL"))
        );
        for bad in ["KILL:TERM", "STOP:TERM", "CHLD:TERM"] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            table(&["ABRT:QUIT"]).translate(sig("ABRT")),
            Some(sig("QUIT"))
        );
    }

    #[test]
    fn malformed_rules_say_what_is_expected() {
        assert_eq!(
            Rule::parse("TERM").unwrap_err(),
            "expected FROM:TO, e.g. TERM:QUIT"
        );
        assert_eq!(Rule::parse("1:99").unwrap_err(), "\"99\" is not a signal");
        assert_eq!(Rule::parse(":TERM").unwrap_err(), "\"\" is not a signal");
        assert_eq!(Rule::parse("TERM:").unwrap_err(), "\"\" is not a signal");
        assert!(Rule::parse("TERM:QUIT:HUP").is_err());
    }
}
