//! The Docker tier: runs where `docker info` answers, and prints
//! `skipped: no docker` and passes elsewhere.
//!
//! No image can be pulled here, so the flowharness image is built from
//! scratch: the test build's `flowharness` (debug info stripped), the
//! shared libraries it links and the loader, `FROM scratch`. That image is then started through our
//! testcontainers backend as the broker (`flowharness broker` inside), and
//! the shipped feature suite runs against it: port mapping, readiness and
//! teardown happen for real. (The Docker files themselves are checked in
//! `docker_files.rs`.)

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use flowharness::kafka::containers::{ContainerOptions, docker_answers, is_flowharness};
use flowharness::kafka::{Connect, Environment};
use rdkafka::consumer::{BaseConsumer, Consumer};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_flowharness");

fn no_docker() -> bool {
    if docker_answers() {
        return false;
    }
    println!("skipped: no docker");
    true
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("docker runs")
}

/// The libraries `binary` links, and the loader, by their paths.
fn linked_libraries(binary: &str) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(binary).output().expect("ldd runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)"
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Builds `flowharness-test:tier` once per test process, `FROM scratch`,
/// with testcontainers' `GenericBuildableImage`, replacing the previous
/// run's image so that runs do not pile up images.
fn image() -> &'static str {
    use testcontainers_modules::testcontainers::GenericBuildableImage;
    use testcontainers_modules::testcontainers::runners::SyncBuilder as _;
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let (name, tag) = ("flowharness-test", "tier");
        let scratch = tempfile::tempdir().expect("tempdir");
        // Debug info is most of a test build's binary; the image needs none.
        let copied = scratch.path().join("flowharness");
        std::fs::copy(BIN, &copied).expect("copy the binary");
        let _ = Command::new("strip").arg("--strip-debug").arg(&copied).status();
        let _ = docker(&["image", "rm", "--force", &format!("{name}:{tag}")]);
        let libraries = linked_libraries(BIN);
        assert!(!libraries.is_empty(), "ldd found no libraries for {BIN}");
        let copies: String = libraries
            .iter()
            .map(|l| format!("COPY {0} {0}\n", l.display()))
            .collect();
        let mut buildable = GenericBuildableImage::new(name, tag)
            .with_dockerfile_string(format!(
                "FROM scratch\n{copies}COPY flowharness /flowharness\nCOPY tmp /tmp\nENTRYPOINT [\"/flowharness\"]\nCMD [\"--help\"]\n"
            ))
            .with_file(&copied, "flowharness")
            .with_data(Vec::new(), "tmp/.keep");
        for library in &libraries {
            let inside = library.strip_prefix("/").expect("an absolute path");
            buildable = buildable.with_file(library, inside.display().to_string());
        }
        let started = Instant::now();
        let _built = buildable
            .build_image()
            .unwrap_or_else(|e| panic!("building {name}:{tag}: {e}"));
        println!(
            "image {name}:{tag}: built from scratch in {:.1}s ({} libraries)",
            started.elapsed().as_secs_f64(),
            libraries.len()
        );
        format!("{name}:{tag}")
    })
}

/// Tests that start containers take turns, so each can count the
/// containers of the image, and the networks made during its turn, as its
/// own (networks left by an earlier, failed run do not count).
struct Turn {
    _guard: MutexGuard<'static, ()>,
    networks_before: Vec<String>,
}

impl Turn {
    fn new_networks(&self) -> Vec<String> {
        networks()
            .into_iter()
            .filter(|n| !self.networks_before.contains(n))
            .collect()
    }
}

fn one_at_a_time() -> Turn {
    static TURN: Mutex<()> = Mutex::new(());
    let guard = TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Turn {
        _guard: guard,
        networks_before: networks(),
    }
}

/// Ids of the containers, running or not, made from `image`.
fn containers_of(image: &str) -> Vec<String> {
    let out = docker(&["ps", "-a", "-q", "--filter", &format!("ancestor={image}")]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Names of the networks the backend made (`flowharness-<uuid>`).
fn networks() -> Vec<String> {
    let out = docker(&[
        "network",
        "ls",
        "--format",
        "{{.Name}}",
        "--filter",
        "name=flowharness-",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn service() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let service = exe.parent()?.parent()?.join("migration-status-service");
    service.exists().then_some(service)
}

fn without_external(command: &mut Command) -> &mut Command {
    command
        .env_remove("KAFKA_BOOTSTRAP_SERVERS")
        .env_remove("SCHEMA_REGISTRY_URL")
}

#[test]
fn the_image_runs_any_subcommand() {
    if no_docker() {
        return;
    }
    let out = docker(&["run", "--rm", image(), "steps"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let steps = String::from_utf8_lossy(&out.stdout);
    assert!(steps.contains("Then no violations are reported"), "{steps}");
    // Recognised by its entrypoint under any name.
    let renamed = "contracts-tool:tier";
    assert!(docker(&["tag", image(), renamed]).status.success());
    let recognised = is_flowharness(renamed);
    let _ = docker(&["image", "rm", renamed]);
    assert!(recognised, "{renamed} runs flowharness");
    assert!(!is_flowharness("no-such-image:none"));
}

#[test]
fn the_feature_suite_passes_against_a_broker_container() {
    if no_docker() {
        return;
    }
    let image = image();
    let turn = one_at_a_time();
    let started = Instant::now();
    let mut command = Command::new(BIN);
    without_external(&mut command)
        .args([
            "test",
            "--broker",
            "testcontainers",
            "--broker-image",
            image,
            "--registry-image",
            image,
            "--junit",
        ])
        .arg(tempfile::tempdir().expect("tempdir").keep().join("junit.xml"))
        .arg(format!("{ROOT}/features"))
        .current_dir(ROOT);
    if let Some(service) = service() {
        command.env("MIGRATION_STATUS_SERVICE", service);
    }
    let out = command.output().expect("flowharness test runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "features failed against the container:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("(testcontainers)"),
        "the run did not use the container:\n{stdout}"
    );
    // The summary's counts, not the text: a scenario or a mix may say "failed".
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.starts_with(|c: char| c.is_ascii_digit()) && (l.contains(" scenarios (") || l.contains(" steps ("))
        })
        .collect();
    assert_eq!(summary.len(), 2, "{stdout}");
    assert!(
        summary.iter().all(|l| !l.contains("failed") && !l.contains("skipped")),
        "{stdout}"
    );
    println!(
        "features against a broker container: passed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        containers_of(image),
        Vec::<String>::new(),
        "the container outlived the run"
    );
    assert_eq!(
        turn.new_networks(),
        Vec::<String>::new(),
        "the network outlived the run"
    );
}

#[test]
fn the_library_api_starts_containers_and_removes_them_on_drop() {
    if no_docker() {
        return;
    }
    let image = image();
    let turn = one_at_a_time();
    let options = |embedded_registry| ContainerOptions {
        broker_image: Some(image.to_string()),
        registry_image: Some(image.to_string()),
        embedded_registry,
        timeout: Some(Duration::from_secs(60)),
    };
    for (embedded_registry, containers) in [(true, 1), (false, 2)] {
        let env = Environment::connect(&Connect {
            containers: Some(options(embedded_registry)),
            ..Connect::default()
        })
        .expect("a broker in a container");
        assert_eq!(env.broker().kind(), "testcontainers");
        assert_eq!(
            containers_of(image).len(),
            containers,
            "embedded registry: {embedded_registry}"
        );
        env.cluster.create_topic("docker-tier", 3).expect("topic");
        let consumer: BaseConsumer = env.cluster.client_config().create().expect("a client");
        let metadata = consumer
            .fetch_metadata(Some("docker-tier"), Duration::from_secs(10))
            .expect("metadata from the container");
        let partitions: Vec<usize> = metadata.topics().iter().map(|t| t.partitions().len()).collect();
        assert_eq!(partitions, vec![3]);
        drop(consumer);
        // The registry, in its container or in process, takes a schema.
        let spec = flowharness::flow::shipped::resolve("account-migration").expect("shipped flow");
        let schema = spec.schema();
        let id = env.registry.register("docker-tier-value", schema).expect("registered");
        assert_eq!(env.registry.schema(id).expect("fetched by id").json(), schema.json());
        drop(env);
        assert_eq!(
            containers_of(image),
            Vec::<String>::new(),
            "drop left a container behind"
        );
        assert_eq!(
            turn.new_networks(),
            Vec::<String>::new(),
            "drop left the network behind"
        );
    }
}

/// Interrupts `child` once `image` has a container, and returns its exit
/// code and standard output.
fn interrupt_once_started(mut child: std::process::Child, image: &str, settle: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while containers_of(image).is_empty() {
        assert!(Instant::now() < deadline, "no container started");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(settle);
    let code = common::interrupt(&mut child, Duration::from_secs(60));
    let mut out = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out);
    (code, out)
}

#[test]
fn ctrl_c_removes_the_containers() {
    if no_docker() {
        return;
    }
    let image = image();
    let turn = one_at_a_time();
    // `up`, which waits for Ctrl-C and leaves the removal to the handler.
    let mut command = Command::new(BIN);
    let child = without_external(&mut command)
        .args([
            "up",
            "--broker",
            "testcontainers",
            "--broker-image",
            image,
            "--embedded-registry",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowharness up starts");
    let (code, out) = interrupt_once_started(child, image, Duration::from_secs(2));
    assert_eq!(code, Some(130), "Ctrl-C exits 130:\n{out}");
    assert!(out.starts_with("broker:   127.0.0.1:"), "{out}");
    assert_eq!(
        containers_of(image),
        Vec::<String>::new(),
        "Ctrl-C left up's container behind"
    );
    assert_eq!(
        turn.new_networks(),
        Vec::<String>::new(),
        "Ctrl-C left up's network behind"
    );
    // `load`, which handles Ctrl-C itself: it writes its partial report,
    // and the containers go with it.
    let report = tempfile::tempdir().expect("tempdir").keep().join("partial.json");
    let mut command = Command::new(BIN);
    let child = without_external(&mut command)
        .args([
            "load",
            "--flow",
            "account-migration",
            "--rate",
            "100/s",
            "--duration",
            "120s",
        ])
        .args([
            "--time-scale",
            "0",
            "--broker",
            "testcontainers",
            "--broker-image",
            image,
        ])
        .args(["--registry-image", image, "--report"])
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowharness load starts");
    let (code, out) = interrupt_once_started(child, image, Duration::from_secs(4));
    assert_eq!(code, Some(130), "Ctrl-C exits 130:\n{out}");
    let r = flowharness::load::report::load(&report).expect("the partial report");
    assert!(r.interrupted && r.flows.started > 0, "{r:#?}");
    assert_eq!(r.events.acknowledged + r.events.failed, r.events.sent);
    assert_eq!(
        containers_of(image),
        Vec::<String>::new(),
        "Ctrl-C left load's containers behind"
    );
    assert_eq!(
        turn.new_networks(),
        Vec::<String>::new(),
        "Ctrl-C left load's network behind"
    );
}

#[test]
fn the_image_serves_up_to_the_host_as_the_compose_profile_does() {
    if no_docker() {
        return;
    }
    let image = image();
    let _turn = one_at_a_time();
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    };
    let (broker, registry) = (free(), free());
    // As the compose file's `up` profile runs it, on ports of our own.
    let (broker_port, registry_port) = (broker.to_string(), registry.to_string());
    let run = docker(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{broker}:{broker}"),
        "-p",
        &format!("127.0.0.1:{registry}:{registry}"),
        image,
        "up",
        "--listen",
        "0.0.0.0",
        "--broker-port",
        &broker_port,
        "--registry-port",
        &registry_port,
        "--advertised-host",
        "127.0.0.1",
        "--for",
        "120s",
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let id = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let logs = loop {
        let logs = docker(&["logs", &id]);
        let text = String::from_utf8_lossy(&logs.stdout).into_owned();
        if text.contains("export SCHEMA_REGISTRY_URL") || Instant::now() >= deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let produced = without_external(&mut Command::new(BIN))
        .args(["produce", "--flow", "account-migration", "--flows", "3", "--seed", "7"])
        .args(["--bootstrap-servers", &format!("127.0.0.1:{broker}")])
        .args(["--registry-url", &format!("http://127.0.0.1:{registry}")])
        .output()
        .expect("produce runs");
    let _ = docker(&["rm", "--force", &id]);
    assert!(
        logs.contains(&format!("export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{broker}")),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("export SCHEMA_REGISTRY_URL=http://127.0.0.1:{registry}")),
        "{logs}"
    );
    let out = String::from_utf8_lossy(&produced.stdout);
    assert!(
        produced.status.success(),
        "produce against the container's up:\n{out}\n{}",
        String::from_utf8_lossy(&produced.stderr)
    );
    assert!(out.contains("lost: 0"), "{out}");
}
