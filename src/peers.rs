//! The variables of tini and dumb-init that mean something to drainit, so
//! that an image which switches its init keeps their meaning. Each one is
//! read only when drainit's own flag and variable for the same thing are
//! not set, and each one honoured leaves a debug line.

use std::ffi::OsString;

use log::LevelFilter;

/// What the peers' variables say, with a note for the debug log per
/// variable honoured.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Peers {
    /// `DUMB_INIT_SETSID=0`: signal the child only.
    pub single_child: bool,
    /// `TINI_VERBOSITY` or `DUMB_INIT_DEBUG=1`.
    pub log_level: Option<LevelFilter>,
    pub notes: Vec<String>,
}

/// Reads the peers' variables through `var`. `single_child_set` and
/// `log_set`: whether the user set drainit's own flag or variable for
/// that, which then wins. A bad `TINI_VERBOSITY` is a usage error that
/// names it.
pub fn read(
    var: impl Fn(&str) -> Option<OsString>,
    single_child_set: bool,
    log_set: bool,
) -> Result<Peers, String> {
    let mut peers = Peers::default();
    let text = |name: &str| var(name).map(|v| v.to_string_lossy().into_owned());
    if !single_child_set && let Some(setsid) = text("DUMB_INIT_SETSID") {
        // dumb-init compares with "0" only; anything else keeps setsid.
        peers.single_child = setsid == "0";
        peers.notes.push(if peers.single_child {
            "DUMB_INIT_SETSID=0: signalling the child only, as with --single-child".into()
        } else {
            format!(
                "DUMB_INIT_SETSID={setsid}: signalling the child's process group, as by default"
            )
        });
    }
    for (name, already) in [
        (
            "TINI_SUBREAPER",
            "registers as a subreaper when it is not PID 1",
        ),
        (
            "TINI_KILL_PROCESS_GROUP",
            "signals the child's process group",
        ),
    ] {
        if var(name).is_some() {
            peers.notes.push(format!(
                "{name} is set: no effect, drainit always {already}"
            ));
        }
    }
    if log_set {
        return Ok(peers);
    }
    if let Some(verbosity) = text("TINI_VERBOSITY") {
        let level = match verbosity.as_str() {
            "0" => LevelFilter::Warn,
            "1" => LevelFilter::Info,
            "2" => LevelFilter::Debug,
            "3" => LevelFilter::Trace,
            _ => {
                return Err(format!(
                    "invalid value '{verbosity}' for TINI_VERBOSITY: expected 0, 1, 2 or 3"
                ));
            }
        };
        peers.log_level = Some(level);
        peers.notes.push(format!(
            "TINI_VERBOSITY={verbosity}: log level {}",
            level.as_str().to_ascii_lowercase()
        ));
    } else if text("DUMB_INIT_DEBUG").as_deref() == Some("1") {
        peers.log_level = Some(LevelFilter::Debug);
        peers
            .notes
            .push("DUMB_INIT_DEBUG=1: log level debug".into());
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_with(vars: &[(&str, &str)], single_child_set: bool, log_set: bool) -> Peers {
        let var = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        };
        read(var, single_child_set, log_set).unwrap()
    }

    #[test]
    fn nothing_set_means_nothing() {
        assert_eq!(read_with(&[], false, false), Peers::default());
    }

    #[test]
    fn dumb_init_setsid_0_only_means_single_child() {
        let p = read_with(&[("DUMB_INIT_SETSID", "0")], false, false);
        assert!(p.single_child);
        assert_eq!(p.notes.len(), 1);
        for other in ["1", "", "false"] {
            let p = read_with(&[("DUMB_INIT_SETSID", other)], false, false);
            assert!(!p.single_child, "{other:?}");
            assert_eq!(p.notes.len(), 1);
        }
        // drainit's own flag or variable wins, and the peer's is not read.
        assert_eq!(
            read_with(&[("DUMB_INIT_SETSID", "0")], true, false),
            Peers::default()
        );
    }

    #[test]
    fn tini_flags_variables_are_noted_only() {
        let p = read_with(
            &[("TINI_SUBREAPER", ""), ("TINI_KILL_PROCESS_GROUP", "1")],
            false,
            false,
        );
        assert!(!p.single_child && p.log_level.is_none());
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
    }

    #[test]
    fn tini_verbosity_maps_to_the_log_level() {
        for (v, level) in [
            ("0", LevelFilter::Warn),
            ("1", LevelFilter::Info),
            ("2", LevelFilter::Debug),
            ("3", LevelFilter::Trace),
        ] {
            let p = read_with(&[("TINI_VERBOSITY", v)], false, false);
            assert_eq!(p.log_level, Some(level));
            assert_eq!(p.notes.len(), 1);
        }
        for bad in ["4", "", "-1", "debug"] {
            let var = |_: &str| Some(OsString::from(bad));
            let err = read(var, true, false).unwrap_err();
            assert!(err.contains("TINI_VERBOSITY"), "{err}");
        }
        // DRAINIT_LOG, -v or -q win, and TINI_VERBOSITY is not read.
        let p = read_with(&[("TINI_VERBOSITY", "bad")], false, true);
        assert_eq!(p, Peers::default());
    }

    #[test]
    fn dumb_init_debug_1_means_debug() {
        let p = read_with(&[("DUMB_INIT_DEBUG", "1")], false, false);
        assert_eq!(p.log_level, Some(LevelFilter::Debug));
        let p = read_with(&[("DUMB_INIT_DEBUG", "0")], false, false);
        assert_eq!(p, Peers::default());
    }
}
