//! Where a run happens: the embedded broker and registry (the default), or
//! an external cluster and registry, or a mix (an external broker with the
//! embedded registry).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::backend::{BrokerBackend, Embedded, External};
use super::cluster::Cluster;
use super::containers::{ContainerOptions, Containers};
use super::retention::{BrokerStore, Retention};
use crate::error::{Error, Result};
use crate::registry::{EmbeddedRegistry, RegistryClient, RegistryConfig};

/// How to connect, as the command line and environment say.
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// External brokers; none starts the embedded broker.
    pub bootstrap: Option<String>,
    /// librdkafka properties, `key=value`.
    pub properties: Vec<String>,
    /// External registry; none starts the embedded registry.
    pub registry_url: Option<String>,
    /// Basic auth `user:password` for the registry.
    pub registry_auth: Option<String>,
    pub timeout: Option<Duration>,
    /// Address the embedded broker and registry bind to (default 127.0.0.1).
    pub listen: Option<IpAddr>,
    /// A broker (and registry) in containers instead of the embedded pair.
    pub containers: Option<ContainerOptions>,
    /// Fixed ports for the embedded broker and registry (default: free ones).
    pub broker_port: Option<u16>,
    pub registry_port: Option<u16>,
    /// The host the embedded broker tells clients to connect to (default:
    /// the listening address).
    pub advertised_host: Option<String>,
    /// What the embedded broker keeps (default: `retention::DEFAULT`).
    pub retention: Option<Retention>,
    /// Where the embedded broker keeps its data (default: memory).
    pub data_dir: Option<std::path::PathBuf>,
}

/// A broker and a registry to run against.
#[derive(Debug)]
pub struct Environment {
    pub cluster: Cluster,
    pub registry: RegistryClient,
    broker: Box<dyn BrokerBackend>,
    embedded_registry: Option<EmbeddedRegistry>,
}

impl Environment {
    /// The embedded broker and registry on 127.0.0.1, ephemeral ports.
    pub fn embedded() -> Result<Environment> {
        Environment::connect(&Connect::default())
    }

    pub fn connect(c: &Connect) -> Result<Environment> {
        let ip = c.listen.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let timeout = c.timeout.unwrap_or(Duration::from_secs(10));
        let mut registry_url = c.registry_url.clone();
        let broker: Box<dyn BrokerBackend> = match (&c.bootstrap, &c.containers) {
            (Some(b), _) => Box::new(External { bootstrap: b.clone() }),
            (None, Some(options)) => {
                let containers = Containers::start(options)?;
                if registry_url.is_none() {
                    registry_url = containers.registry_url();
                }
                Box::new(containers)
            }
            (None, None) => {
                let listen = SocketAddr::new(ip, c.broker_port.unwrap_or(0));
                Box::new(Embedded::start(
                    listen,
                    c.advertised_host.as_deref(),
                    BrokerStore {
                        retention: c.retention.unwrap_or_default(),
                        data_dir: c.data_dir.clone(),
                    },
                )?)
            }
        };
        let mut cluster = Cluster::new(&broker.bootstrap()).with_properties(&c.properties)?;
        cluster.timeout = timeout;
        if broker.kind() != "embedded" {
            cluster.ping()?;
        }
        let (url, embedded_registry) = match &registry_url {
            Some(u) => (u.clone(), None),
            None => {
                let r = EmbeddedRegistry::start(SocketAddr::new(ip, c.registry_port.unwrap_or(0)))?;
                (r.url().to_string(), Some(r))
            }
        };
        let mut config = RegistryConfig::new(&url);
        config.timeout = timeout;
        if let Some(auth) = &c.registry_auth {
            let (user, password) = auth
                .split_once(':')
                .ok_or_else(|| Error::Usage("registry credentials: expected user:password".into()))?;
            config.auth = Some((user.to_string(), password.to_string()));
        }
        let registry = RegistryClient::new(config)?;
        Ok(Environment {
            cluster,
            registry,
            broker,
            embedded_registry,
        })
    }

    /// The broker backend in use.
    pub fn broker(&self) -> &dyn BrokerBackend {
        self.broker.as_ref()
    }

    /// Stops the broker (tests of broker loss), where the backend can.
    pub fn stop_broker(&mut self) -> Result<()> {
        self.broker.stop()
    }

    /// Starts the broker again on the same address.
    pub fn restart_broker(&mut self) -> Result<()> {
        self.broker.restart()
    }

    /// The registry URL as shown to users (no credentials).
    pub fn registry_url(&self) -> String {
        self.embedded_registry
            .as_ref()
            .map_or_else(|| self.registry.url(), |r| r.url().to_string())
    }
}
