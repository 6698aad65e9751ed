//! The Docker artefacts, checked without an engine: `docker-compose.yml`
//! agrees with the README's table and validates with `docker compose
//! config` (where a compose tool is installed), its commands parse, the
//! Dockerfile copies what exists, and every command line in the CI recipe
//! and the README's Docker section parses with our CLI.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Services and their published ports, read off `docker-compose.yml`.
fn compose_services(compose: &str) -> Vec<(String, Vec<String>)> {
    let mut services: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_services = false;
    for line in compose.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
            in_services = line.trim_end() == "services:";
            continue;
        }
        if !in_services {
            continue;
        }
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            services.push((name.to_string(), Vec::new()));
            continue;
        }
        let item = line.trim().strip_prefix("- ").map(|p| p.trim_matches('"'));
        if let (Some(port), Some(last)) = (item, services.last_mut())
            && port.split(':').count() == 2
            && port.split(':').all(|p| p.parse::<u16>().is_ok())
        {
            last.1.push(port.to_string());
        }
    }
    services
}

/// Rows of the README's compose table: `| service | ports | ... |`.
fn readme_services(readme: &str) -> Vec<(String, Vec<String>)> {
    let section = readme
        .split("<!-- compose services -->")
        .nth(1)
        .expect("README has a compose services table");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let ports = cells[2]
                .split(',')
                .map(|p| p.trim().trim_matches('`').to_string())
                .filter(|p| !p.is_empty() && p != "none")
                .collect();
            (cells[1].trim_matches('`').to_string(), ports)
        })
        .collect()
}

#[test]
fn compose_services_and_ports_agree_with_the_readme() {
    let compose = std::fs::read_to_string(format!("{ROOT}/docker-compose.yml")).expect("docker-compose.yml");
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).expect("README.md");
    let services = compose_services(&compose);
    assert!(services.len() >= 4, "{services:?}");
    assert_eq!(readme_services(&readme), services);
}

#[test]
fn compose_config_validates() {
    // `docker compose` (v2) where present, else `docker-compose` (v1).
    let v2 = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut command = if v2 {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    } else if Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        Command::new("docker-compose")
    } else {
        println!("skipped: no docker compose");
        return;
    };
    let out = command
        .args(["--profile", "up", "config", "--services"])
        .current_dir(ROOT)
        .output()
        .expect("compose runs");
    assert!(
        out.status.success(),
        "compose config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    listed.sort();
    let compose = std::fs::read_to_string(format!("{ROOT}/docker-compose.yml")).expect("docker-compose.yml");
    let mut ours: Vec<String> = compose_services(&compose).into_iter().map(|s| s.0).collect();
    ours.sort();
    assert_eq!(listed, ours);
}

/// Every `flowharness ...` command line in `text`: `run: >` blocks of a
/// workflow, folded, or lines of a README `sh` block.
fn command_lines(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let indent = line.len() - line.trim_start().len();
        let mut joined = line.trim().to_string();
        if joined.ends_with("run: >") {
            joined.clear();
            while let Some(next) = lines.peek() {
                if next.trim().is_empty() || next.len() - next.trim_start().len() <= indent {
                    break;
                }
                joined.push(' ');
                joined.push_str(next.trim());
                lines.next();
            }
        }
        while joined.ends_with('\\') {
            joined.pop();
            match lines.next() {
                Some(next) => joined.push_str(next.trim()),
                None => break,
            }
        }
        let joined = joined.split(" #").next().unwrap_or_default();
        if let Some(at) = joined.find("flowharness ") {
            let head = &joined[..at];
            // `target/release/flowharness test ...`, never `cargo build ... --bin flowharness`.
            if head.is_empty()
                || head.ends_with('/')
                || (head.ends_with(' ') && !head.contains("cargo") && !head.contains("docker"))
            {
                commands.push(joined[at..].to_string());
            }
        }
    }
    commands
}

#[test]
fn the_ci_recipes_and_the_readme_docker_commands_parse() {
    use clap::Parser;
    let workflow = std::fs::read_to_string(format!("{ROOT}/examples/ci/github-actions.yml")).expect("workflow");
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).expect("README.md");
    let docker = readme
        .split("## Docker")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Docker section");
    let workflow_commands = command_lines(&workflow);
    let sh_blocks: String = docker
        .split("```sh\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .collect();
    let readme_commands = command_lines(&sh_blocks);
    assert!(workflow_commands.len() >= 3, "{workflow_commands:?}");
    assert!(readme_commands.len() >= 6, "{readme_commands:?}");
    for command in workflow_commands.iter().chain(&readme_commands) {
        let argv: Vec<&str> = command.split_whitespace().collect();
        if let Err(e) = flowharness::cli::Cli::try_parse_from(&argv) {
            panic!("{command}: {e}");
        }
    }
    assert!(
        workflow_commands
            .iter()
            .any(|c| c.contains("--broker testcontainers") && c.contains("--junit"))
    );
    assert!(
        workflow_commands
            .iter()
            .any(|c| !c.contains("--broker") && c.starts_with("flowharness test"))
    );
    assert!(workflow_commands.iter().any(|c| c.starts_with("flowharness verify")));
}

#[test]
fn the_compose_commands_parse_and_the_dockerfile_copies_what_exists() {
    use clap::Parser;
    let compose = std::fs::read_to_string(format!("{ROOT}/docker-compose.yml")).expect("docker-compose.yml");
    let commands: Vec<Vec<String>> = compose
        .lines()
        .filter_map(|l| l.trim().strip_prefix("command: "))
        .map(|array| serde_json::from_str(array).expect("command: a JSON-style array"))
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    for command in &commands {
        let argv = std::iter::once("flowharness").chain(command.iter().map(String::as_str));
        if let Err(e) = flowharness::cli::Cli::try_parse_from(argv) {
            panic!("docker-compose.yml: command {command:?}: {e}");
        }
    }
    let dockerfile = std::fs::read_to_string(format!("{ROOT}/Dockerfile")).expect("Dockerfile");
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let source = line.split_whitespace().nth(1).expect("a source");
        assert!(Path::new(ROOT).join(source).exists(), "Dockerfile: {line}: no {source}");
    }
    assert!(dockerfile.contains("--bin flowharness --bin migration-status-service"));
    assert!(
        Path::new(ROOT)
            .join("examples/migration-status-service/main.rs")
            .exists()
    );
}
