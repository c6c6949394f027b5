//! The health and liveness recipes of docker/ hold settings drainit
//! accepts, also those the Docker tests override with shorter times (so a
//! typo in a recipe cannot hide behind a test's `-e`). No daemon needed:
//! drainit reads each recipe's `DRAINIT_*` settings in probe mode, which
//! parses every variable, starts nothing and exits 1 for the failed probe,
//! or 2 for a bad value.

use std::path::Path;
use std::process::Command;

/// The `DRAINIT_*` settings of a recipe, one a line as the recipes write
/// them: `ENV`/`\`-continued Dockerfile lines (`NAME=value`, maybe quoted),
/// an env file (`NAME=value`) or a Compose `environment:` map
/// (`NAME: "value"`).
fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| l.trim().trim_start_matches("ENV ").trim_end_matches('\\'))
        .filter(|l| l.starts_with("DRAINIT_"))
        .filter_map(|l| {
            let at = l.find(['=', ':'])?;
            let value = l[at + 1..].trim().trim_matches('"');
            Some((l[..at].to_string(), value.to_string()))
        })
        .collect()
}

#[test]
fn health_and_liveness_recipes_hold_values_drainit_accepts() {
    for recipe in [
        "health/Dockerfile",
        "liveness/Dockerfile",
        "eureka/drainit.env",
        "compose/docker-compose.yml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docker")
            .join(recipe);
        let settings = settings(&std::fs::read_to_string(path).unwrap());
        assert!(settings.len() >= 3, "{recipe}: found only {settings:?}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_drainit"));
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("DRAINIT_")) {
            cmd.env_remove(name);
        }
        let out = cmd
            .envs(settings.iter().map(|(k, v)| (k, v)))
            .args(["--probe", "tcp://127.0.0.1:1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{recipe}: drainit rejects {settings:?}: {stderr}"
        );
        assert!(
            stderr.contains("probe tcp://127.0.0.1:1 failed"),
            "{stderr}"
        );
    }
}
