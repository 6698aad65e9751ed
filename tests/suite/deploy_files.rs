//! The Kubernetes manifests in `deploy/`, checked without a cluster: each
//! Indexed Job maps `JOB_COMPLETION_INDEX` to `--shard i/n` with n its own
//! completion count, every command it runs parses with our CLI, and every
//! volume claim it names is shipped.

use clap::Parser as _;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/deploy/{name}")).unwrap()
}

/// The folded `args: - >-` block of a manifest's container, joined as
/// YAML folds it (lines with a space).
fn folded_args(manifest: &str) -> String {
    let mut lines = manifest.lines().skip_while(|l| l.trim() != "- >-");
    let marker = lines.next().expect("an args block `- >-`");
    let indent = marker.len() - marker.trim_start().len();
    lines
        .take_while(|l| l.len() - l.trim_start().len() > indent && !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The value of `key: N` in the manifest.
fn number(manifest: &str, key: &str) -> u64 {
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key}"))
}

/// The value of the container's env var `name`.
fn env_value(manifest: &str, name: &str) -> String {
    let mut lines = manifest.lines().skip_while(|l| l.trim() != format!("- name: {name}"));
    lines.next().expect("the env var");
    lines
        .next()
        .and_then(|l| l.trim().strip_prefix("value: "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("its value")
}

/// Splits a shell command line into words (double quotes only), with
/// `${NAME}` replaced by `vars`.
fn words(line: &str, vars: &[(&str, String)]) -> Vec<String> {
    let mut line = line.to_string();
    for (k, v) in vars {
        line = line.replace(&format!("${{{k}}}"), v);
    }
    assert!(!line.contains("${"), "an unset variable in {line}");
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn flag<'a>(argv: &'a [String], name: &str) -> &'a str {
    let at = argv
        .iter()
        .position(|a| a == name)
        .unwrap_or_else(|| panic!("no {name}"));
    &argv[at + 1]
}

#[test]
fn indexed_jobs_give_each_pod_its_shard_and_their_commands_parse() {
    for name in ["load-shards.yaml", "verify-partitions.yaml"] {
        let manifest = read(name);
        assert!(manifest.contains("completionMode: Indexed"), "{name}");
        let completions = number(&manifest, "completions");
        assert_eq!(number(&manifest, "parallelism"), completions, "{name}");
        let shards = env_value(&manifest, "SHARDS");
        assert_eq!(shards, completions.to_string(), "{name}: SHARDS and completions differ");
        let args = folded_args(&manifest);
        assert!(
            args.contains("--shard \"${JOB_COMPLETION_INDEX}/${SHARDS}\""),
            "{name}: {args}"
        );
        for index in 0..completions {
            let vars = [
                ("JOB_COMPLETION_INDEX", index.to_string()),
                ("SHARDS", shards.clone()),
                (
                    "KAFKA_BOOTSTRAP_SERVERS",
                    env_value(&manifest, "KAFKA_BOOTSTRAP_SERVERS"),
                ),
                ("SCHEMA_REGISTRY_URL", env_value(&manifest, "SCHEMA_REGISTRY_URL")),
            ];
            let argv = words(&args, &vars);
            assert_eq!(argv[0], "exec");
            let argv = &argv[1..];
            if let Err(e) = flowharness::cli::Cli::try_parse_from(argv) {
                panic!("{name}: {argv:?} does not parse: {e}");
            }
            assert_eq!(flag(argv, "--shard"), format!("{index}/{completions}"));
        }
    }
}

#[test]
fn the_merge_reads_what_the_shards_write_on_the_shipped_volume() {
    let load = read("load-shards.yaml");
    let merge = read("report-merge.yaml");
    let volume = read("reports-volume.yaml");
    let claim = |m: &str| {
        m.lines()
            .find_map(|l| l.trim().strip_prefix("claimName: "))
            .map(str::to_string)
            .expect("a claim")
    };
    let shipped = volume
        .lines()
        .find_map(|l| l.trim().strip_prefix("name: "))
        .expect("the claim's name");
    assert_eq!(claim(&load), shipped);
    assert_eq!(claim(&merge), shipped);
    let argv = words(&folded_args(&merge), &[]);
    flowharness::cli::Cli::try_parse_from(&argv[1..]).unwrap();
    let report = flag(
        &words(
            &folded_args(&load),
            &[
                ("JOB_COMPLETION_INDEX", "0".into()),
                ("SHARDS", "4".into()),
                ("KAFKA_BOOTSTRAP_SERVERS", "k:9092".into()),
                ("SCHEMA_REGISTRY_URL", "http://r".into()),
            ],
        )[1..],
        "--report",
    )
    .to_string();
    assert_eq!(report, "/reports/shard-0.json");
    assert!(argv.iter().any(|a| a == "/reports/shard-*.json"), "{argv:?}");
}
