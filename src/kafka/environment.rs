//! Where a run happens: the embedded broker and registry (the default), or
//! an external cluster and registry, or a mix (an external broker with the
//! embedded registry).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::cluster::Cluster;
use super::embedded::EmbeddedBroker;
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
}

/// A broker and a registry to run against.
#[derive(Debug)]
pub struct Environment {
    pub cluster: Cluster,
    pub registry: RegistryClient,
    broker: Option<EmbeddedBroker>,
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
        let (bootstrap, broker) = match &c.bootstrap {
            Some(b) => (b.clone(), None),
            None => {
                let broker = EmbeddedBroker::start(SocketAddr::new(ip, 0))?;
                (broker.bootstrap(), Some(broker))
            }
        };
        let mut cluster = Cluster::new(&bootstrap).with_properties(&c.properties)?;
        cluster.timeout = timeout;
        if broker.is_none() {
            cluster.ping()?;
        }
        let (url, embedded_registry) = match &c.registry_url {
            Some(u) => (u.clone(), None),
            None => {
                let r = EmbeddedRegistry::start(SocketAddr::new(ip, 0))?;
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

    /// The embedded broker, when this environment runs one.
    pub fn broker(&self) -> Option<&EmbeddedBroker> {
        self.broker.as_ref()
    }

    /// Stops the embedded broker (tests of broker loss); it can be started
    /// again on the same port with [`restart_broker`](Self::restart_broker).
    pub fn stop_broker(&mut self) {
        if let Some(b) = self.broker.take() {
            b.stop();
        }
    }

    pub fn restart_broker(&mut self) -> Result<()> {
        let addr = self
            .cluster
            .bootstrap
            .parse::<SocketAddr>()
            .map_err(|e| Error::Usage(format!("restart: {}: {e}", self.cluster.bootstrap)))?;
        self.broker = Some(EmbeddedBroker::start(addr)?);
        Ok(())
    }

    /// The registry URL as shown to users (no credentials).
    pub fn registry_url(&self) -> String {
        self.embedded_registry
            .as_ref()
            .map_or_else(|| self.registry.url(), |r| r.url().to_string())
    }
}
