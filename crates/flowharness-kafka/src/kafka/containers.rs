//! The testcontainers backend (`--broker testcontainers`): a broker in a
//! container on a network of its own, and optionally a schema registry in
//! a container in the host's network namespace (so Linux engines only).
//!
//! By default the broker is the apache/kafka KRaft image (testcontainers-
//! modules' `kafka::apache`) and the registry Confluent's; `--broker-image`
//! and `--registry-image` name others. A flowharness image is recognised by
//! its name or its entrypoint and runs `flowharness broker` (its port mapped one to one, so
//! the address it advertises is the one clients reach) or `flowharness
//! registry`. Readiness is a metadata request (for the registry, `GET
//! /subjects`) that succeeds, never a fixed sleep. Containers and their
//! network are removed when dropped, and by [`remove_all`] on Ctrl-C.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use testcontainers_modules::kafka::apache::{KAFKA_PORT, Kafka};
use testcontainers_modules::testcontainers::core::{ContainerPort, WaitFor};
use testcontainers_modules::testcontainers::runners::SyncRunner;
use testcontainers_modules::testcontainers::{Container, GenericImage, ImageExt};

use super::backend::BrokerBackend;
use super::cluster::Cluster;
use super::embedded::free_port;
use crate::error::{Error, Result};

/// The default registry image, beside a containerised broker.
pub const REGISTRY_IMAGE: &str = "confluentinc/cp-schema-registry:7.7.1";

/// Ids of the containers this process started, for Ctrl-C.
static STARTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Names of the networks this process made, for Ctrl-C.
static NETWORKS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct ContainerOptions {
    /// `name:tag` of the broker image; default apache/kafka (KRaft).
    pub broker_image: Option<String>,
    /// `name:tag` of the registry image; default [`REGISTRY_IMAGE`].
    pub registry_image: Option<String>,
    /// Keep the embedded registry instead of a registry container.
    pub embedded_registry: bool,
    pub timeout: Option<Duration>,
}

fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
        Some((name, tag)) => (name.to_string(), tag.to_string()),
        None => (image.to_string(), "latest".to_string()),
    }
}

fn failed(what: &str, image: &str, e: impl Into<crate::error::BoxError>) -> Error {
    Error::unreachable(
        format!(
            "testcontainers: cannot start {what} {image} (is the image present or pullable, and does `docker info` answer?)"
        ),
        e,
    )
}

enum Running {
    Kafka(Container<Kafka>),
    Generic(Container<GenericImage>),
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Running::Kafka(_) => "kafka container",
            Running::Generic(_) => "broker container",
        })
    }
}

impl Running {
    fn id(&self) -> &str {
        match self {
            Running::Kafka(c) => c.id(),
            Running::Generic(c) => c.id(),
        }
    }
}

/// A broker in a container.
#[derive(Debug)]
pub struct Containers {
    /// `None` only while being dropped.
    broker: Option<Running>,
    bootstrap: String,
    network: String,
    registry: Option<(Container<GenericImage>, String)>,
}

impl Drop for Containers {
    fn drop(&mut self) {
        let mine = [
            self.broker.as_ref().map(|b| b.id().to_string()),
            self.registry.as_ref().map(|r| r.0.id().to_string()),
        ];
        // testcontainers removes the containers on drop, and the network
        // it made for them with the last one (the Docker tier checks that
        // none is left); `remove_all` is for Ctrl-C, which skips drops.
        self.registry = None;
        self.broker = None;
        lock(&STARTED).retain(|id| !mine.contains(&Some(id.clone())));
        lock(&NETWORKS).retain(|n| n != &self.network);
    }
}

fn lock(list: &'static Mutex<Vec<String>>) -> std::sync::MutexGuard<'static, Vec<String>> {
    list.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn remember(id: &str) {
    lock(&STARTED).push(id.to_string());
}

fn remove_network(name: &str) {
    lock(&NETWORKS).retain(|n| n != name);
    let _ = std::process::Command::new("docker")
        .args(["network", "rm", name])
        .output();
}

/// Removes every container and network this process started (for a
/// Ctrl-C handler, and for environments kept in a `static`).
pub fn remove_all() {
    let ids = std::mem::take(&mut *lock(&STARTED));
    for id in ids {
        let _ = std::process::Command::new("docker").args(["rm", "-f", &id]).output();
    }
    let networks = std::mem::take(&mut *lock(&NETWORKS));
    for network in networks {
        remove_network(&network);
    }
}

/// Whether `image` is a flowharness image: its name says so, or its
/// entrypoint (when the image is present) is a `flowharness` binary.
pub fn is_flowharness(image: &str) -> bool {
    if split_image(image).0.contains("flowharness") {
        return true;
    }
    std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{json .Config.Entrypoint}}", image])
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("flowharness\""))
}

/// Whether a Docker engine answers here.
pub fn docker_answers() -> bool {
    std::process::Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Waits until a metadata request to `bootstrap` succeeds.
fn wait_ready(bootstrap: &str, within: Duration) -> Result<()> {
    let mut cluster = Cluster::new(bootstrap);
    cluster.timeout = Duration::from_secs(2);
    let deadline = Instant::now() + within;
    loop {
        match cluster.ping() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::unreachable(
                    format!(
                        "testcontainers: the broker at {bootstrap} did not answer a metadata request within {within:?}"
                    ),
                    e,
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Waits until `GET /subjects` on the registry answers 200.
fn wait_registry(url: &str, port: u16, within: Duration) -> Result<()> {
    use std::io::{Read, Write};
    let deadline = Instant::now() + within;
    loop {
        let answer = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            stream.write_all(b"GET /subjects HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
            let mut head = [0u8; 12];
            stream.read_exact(&mut head)?;
            Ok(String::from_utf8_lossy(&head).into_owned())
        });
        let last = match answer {
            Ok(head) if head.ends_with(" 200") => return Ok(()),
            Ok(head) => format!("it answered {head:?}"),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(Error::unanswered(format!(
                "testcontainers: the registry at {url} did not answer GET /subjects within {within:?}: {last}"
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

impl Containers {
    /// Starts the broker (and the registry, unless the embedded one is
    /// kept) and waits until the broker answers.
    pub fn start(options: &ContainerOptions) -> Result<Containers> {
        let timeout = options.timeout.unwrap_or(Duration::from_secs(120));
        let network = format!("flowharness-{}", uuid::Uuid::new_v4().simple());
        let image = options
            .broker_image
            .clone()
            .unwrap_or_else(|| "apache/kafka:3.8.0".into());
        let (name, tag) = split_image(&image);
        lock(&NETWORKS).push(network.clone());
        let started = Containers::start_broker(&network, &image, name, tag, timeout);
        let (broker, bootstrap) = match started {
            Ok(b) => b,
            Err(e) => {
                remove_network(&network);
                return Err(e);
            }
        };
        let mut out = Containers {
            broker: Some(broker),
            bootstrap,
            network,
            registry: None,
        };
        wait_ready(&out.bootstrap, timeout)?;
        let registry_image = options.registry_image.clone().unwrap_or_else(|| REGISTRY_IMAGE.into());
        let ours = is_flowharness(&registry_image);
        if !options.embedded_registry {
            out.registry = Some(out.start_registry(&registry_image, ours, timeout)?);
        }
        Ok(out)
    }

    fn start_broker(
        network: &str,
        image: &str,
        name: String,
        tag: String,
        timeout: Duration,
    ) -> Result<(Running, String)> {
        Ok(if is_flowharness(image) {
            // Our own image: `flowharness broker`, its port mapped one to
            // one so the address it advertises is the one clients reach.
            let port = free_port(std::net::Ipv4Addr::LOCALHOST.into())?;
            let container = GenericImage::new(name, tag)
                .with_wait_for(WaitFor::message_on_stderr("broker listening"))
                .with_mapped_port(port, ContainerPort::Tcp(port))
                .with_network(network)
                .with_container_name(format!("broker-{network}"))
                .with_cmd([
                    "broker".to_string(),
                    "--listen".into(),
                    format!("0.0.0.0:{port}"),
                    "--advertised-listener".into(),
                    format!("127.0.0.1:{port}"),
                ])
                .with_startup_timeout(timeout)
                .start()
                .map_err(|e| failed("the broker", image, e))?;
            remember(container.id());
            (Running::Generic(container), format!("127.0.0.1:{port}"))
        } else {
            let container = Kafka::default()
                .with_name(name)
                .with_tag(tag)
                .with_network(network)
                .with_container_name(format!("broker-{network}"))
                .with_startup_timeout(timeout)
                .start()
                .map_err(|e| failed("the broker", image, e))?;
            remember(container.id());
            let port = container
                .get_host_port_ipv4(KAFKA_PORT)
                .map_err(|e| failed("the broker", image, e))?;
            (Running::Kafka(container), format!("127.0.0.1:{port}"))
        })
    }

    /// A schema registry in the host's network namespace, listening on
    /// 127.0.0.1 only: Confluent's, which keeps its schemas in the broker
    /// and so must reach it at the address the broker advertises (both the
    /// kafka module and a flowharness broker advertise 127.0.0.1 and the
    /// mapped port, which only the host's namespace reaches), or our own
    /// image running `flowharness registry`.
    fn start_registry(&self, image: &str, ours: bool, timeout: Duration) -> Result<(Container<GenericImage>, String)> {
        let (name, tag) = split_image(image);
        let port = free_port(std::net::Ipv4Addr::LOCALHOST.into())?;
        let listen = format!("127.0.0.1:{port}");
        let base = GenericImage::new(name, tag);
        let request = if ours {
            base.with_wait_for(WaitFor::message_on_stderr("registry listening"))
                .with_network("host")
                .with_cmd(["registry".to_string(), "--listen".into(), listen.clone()])
        } else {
            base.with_wait_for(WaitFor::message_on_stdout("Server started"))
                .with_network("host")
                .with_env_var("SCHEMA_REGISTRY_HOST_NAME", "127.0.0.1")
                .with_env_var("SCHEMA_REGISTRY_LISTENERS", format!("http://{listen}"))
                .with_env_var(
                    "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS",
                    format!("PLAINTEXT://{}", self.bootstrap),
                )
        };
        let container = request
            .with_startup_timeout(timeout)
            .start()
            .map_err(|e| failed("the registry", image, e))?;
        remember(container.id());
        let url = format!("http://{listen}");
        wait_registry(&url, port, timeout)?;
        Ok((container, url))
    }

    /// The registry container's URL, when one was started.
    pub fn registry_url(&self) -> Option<String> {
        self.registry.as_ref().map(|r| r.1.clone())
    }
}

impl BrokerBackend for Containers {
    fn kind(&self) -> &'static str {
        "testcontainers"
    }
    fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }
    fn stop(&mut self) -> Result<()> {
        match &self.broker {
            Some(Running::Kafka(c)) => c.stop(),
            Some(Running::Generic(c)) => c.stop(),
            None => Ok(()),
        }
        .map_err(|e| Error::unreachable("testcontainers: stop the broker", e))
    }
    fn restart(&mut self) -> Result<()> {
        match &self.broker {
            Some(Running::Kafka(c)) => c.start(),
            Some(Running::Generic(c)) => c.start(),
            None => Ok(()),
        }
        .map_err(|e| Error::unreachable("testcontainers: start the broker again", e))?;
        wait_ready(&self.bootstrap, Duration::from_secs(60))
    }
}
