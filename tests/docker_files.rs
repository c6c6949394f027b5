//! The Docker and Kubernetes files checked as text, with no daemon: the
//! multi-stage Dockerfile (it needs a registry) builds what the tests
//! build, pod.yaml's grace period covers drainit's whole sequence, and
//! its securityContext is the restricted Pod Security Standard's.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{REPO, drainit_bin, scrub_env};

/// The multi-stage Dockerfile cannot be built here (it pulls rust:1 and
/// crates); check that it builds the same static binary the tests use and
/// ends with the same entrypoint as the prebuilt variant.
#[test]
fn multi_stage_dockerfile_matches_the_tested_variant() {
    let multi = fs::read_to_string(Path::new(REPO).join("docker/Dockerfile")).unwrap();
    let prebuilt = fs::read_to_string(Path::new(REPO).join("docker/Dockerfile.prebuilt")).unwrap();
    assert!(multi.contains(r#"RUN cp "$(scripts/build-static.sh)" /drainit"#));
    assert!(multi.contains("COPY --from=drainit /drainit /drainit"));
    let entrypoint = r#"ENTRYPOINT ["/drainit", "--"]"#;
    assert!(multi.contains(entrypoint) && prebuilt.contains(entrypoint));
    assert_eq!(multi.matches("\nFROM ").count(), 2, "two stages");
}

/// The value of `- name: NAME` / `value: "..."` in pod.yaml's env list.
fn env_value<'a>(yaml: &'a str, name: &str) -> &'a str {
    let mut lines = yaml.lines().map(str::trim);
    lines
        .find(|l| *l == format!("- name: {name}"))
        .unwrap_or_else(|| panic!("no env {name} in pod.yaml"));
    let value = lines.next().and_then(|l| l.strip_prefix("value: "));
    value
        .unwrap_or_else(|| panic!("no value after {name}"))
        .trim_matches('"')
}

/// Whole seconds from the `10s` form used in pod.yaml.
fn whole_seconds(value: &str) -> u64 {
    value
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("pod.yaml should say whole seconds like 10s, not {value:?}"))
}

#[test]
fn kubernetes_grace_period_covers_drainits_sequence() {
    let yaml = fs::read_to_string(Path::new(REPO).join("docker/kubernetes/pod.yaml")).unwrap();
    let period: u64 = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("terminationGracePeriodSeconds: "))
        .expect("terminationGracePeriodSeconds")
        .parse()
        .unwrap();
    let names = [
        "DRAINIT_DRAIN_TIMEOUT",
        "DRAINIT_PRESTOP_SLEEP",
        "DRAINIT_GRACE",
    ];
    let [drain, sleep, grace] = names.map(|n| whole_seconds(env_value(&yaml, n)));
    eprintln!(
        "kubernetes terminationGracePeriodSeconds={period} drain-timeout={drain}s prestop-sleep={sleep}s grace={grace}s"
    );
    assert!(
        period >= drain + sleep + grace,
        "terminationGracePeriodSeconds {period} < {drain} + {sleep} + {grace}"
    );
    // The comment's arithmetic says the same numbers.
    let sum = format!(
        "{drain}s + {sleep}s + {grace}s = {}s",
        drain + sleep + grace
    );
    assert!(
        yaml.contains(&sum),
        "pod.yaml's comment should read {sum:?}"
    );
    assert!(yaml.contains(&format!("terminationGracePeriodSeconds ({period})")));
    assert!(yaml.contains(r#"command: ["/drainit", "--"]"#));
    assert!(yaml.contains("readinessProbe:"));

    // drainit itself accepts the pod's settings (a bad value exits 2).
    let mut cmd = Command::new(drainit_bin());
    scrub_env(&mut cmd);
    for name in names.iter().chain(&["DRAINIT_DRAIN_EXEC"]) {
        cmd.env(name, env_value(&yaml, name));
    }
    let out = cmd.arg("true").output().unwrap();
    assert!(
        out.status.success(),
        "drainit rejects pod.yaml's env: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The trimmed lines nested under the line `key` (exact, indentation
/// included) of pod.yaml: those indented deeper, up to the next that is not.
fn nested<'a>(yaml: &'a str, key: &str) -> Vec<&'a str> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut lines = yaml.lines().skip_while(|l| *l != key);
    let depth = indent(
        lines
            .next()
            .unwrap_or_else(|| panic!("no {key:?} in pod.yaml")),
    );
    lines
        .take_while(|l| l.trim().is_empty() || indent(l) > depth)
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The "restricted" Pod Security Standard, and a read-only root: the pod
/// runs as a non-root user under the runtime's seccomp profile, and the
/// container cannot gain privileges, has no capability and writes nothing.
/// tests/docker_restricted.rs runs drainit so under Docker.
#[test]
fn kubernetes_pod_uses_the_restricted_security_context() {
    let yaml = fs::read_to_string(Path::new(REPO).join("docker/kubernetes/pod.yaml")).unwrap();
    let pod = nested(&yaml, "  securityContext:");
    assert_eq!(
        pod,
        [
            "runAsNonRoot: true",
            "runAsUser: 65534",
            "runAsGroup: 65534",
            "seccompProfile:",
            "type: RuntimeDefault",
        ],
        "the pod's securityContext"
    );
    let container = nested(&yaml, "      securityContext:");
    assert_eq!(
        container,
        [
            "allowPrivilegeEscalation: false",
            "readOnlyRootFilesystem: true",
            "capabilities:",
            r#"drop: ["ALL"]"#,
        ],
        "the container's securityContext"
    );
    assert_eq!(yaml.matches("securityContext:").count(), 2);
    // A non-root user binds no port below 1024.
    for port in yaml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- containerPort: "))
    {
        let port: u16 = port.parse().unwrap();
        assert!(port >= 1024, "containerPort {port} needs NET_BIND_SERVICE");
    }
}
