//! Broker backends behind one trait: the embedded broker (the default), an
//! external cluster, and a broker in a container (`containers`).

use std::net::SocketAddr;

use super::embedded::EmbeddedBroker;
use super::retention::{BrokerStore, Retention};
use crate::error::{Error, Result};

/// A broker a run can use.
pub trait BrokerBackend: std::fmt::Debug + Send + Sync {
    /// What it is: `embedded`, `external`, ...
    fn kind(&self) -> &'static str;
    /// `host:port[,...]` for `bootstrap.servers`.
    fn bootstrap(&self) -> String;
    /// Stops the broker, where this backend can.
    fn stop(&mut self) -> Result<()>;
    /// Starts it again on the same address, where this backend can.
    fn restart(&mut self) -> Result<()>;
    /// What it keeps, where flowharness runs it and knows.
    fn retention(&self) -> Option<Retention> {
        None
    }
}

/// The in-process broker.
#[derive(Debug)]
pub struct Embedded {
    /// Where it listens, its port chosen.
    listen: SocketAddr,
    /// `host:port` clients are told to connect to, when not `listen`.
    advertised: Option<String>,
    store: BrokerStore,
    broker: Option<EmbeddedBroker>,
}

impl Embedded {
    /// Starts on `listen` (port 0: a free one), advertising
    /// `advertised_host` with its port, or else the listening address.
    pub fn start(listen: SocketAddr, advertised_host: Option<&str>, store: BrokerStore) -> Result<Embedded> {
        let port = if listen.port() == 0 {
            super::embedded::free_port(listen.ip())?
        } else {
            listen.port()
        };
        let listen = SocketAddr::new(listen.ip(), port);
        let advertised = advertised_host.map(|h| format!("{h}:{port}"));
        let broker = EmbeddedBroker::start(listen, advertised.as_deref(), &store)?;
        Ok(Embedded {
            listen,
            advertised,
            store,
            broker: Some(broker),
        })
    }
}

impl BrokerBackend for Embedded {
    fn kind(&self) -> &'static str {
        "embedded"
    }
    fn bootstrap(&self) -> String {
        self.advertised.clone().unwrap_or_else(|| self.listen.to_string())
    }
    fn stop(&mut self) -> Result<()> {
        if let Some(b) = self.broker.take() {
            b.stop();
        }
        Ok(())
    }
    fn retention(&self) -> Option<Retention> {
        self.store.data_dir.is_none().then_some(self.store.retention)
    }
    fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.broker = Some(EmbeddedBroker::start(
            self.listen,
            self.advertised.as_deref(),
            &self.store,
        )?);
        Ok(())
    }
}

/// A cluster someone else runs.
#[derive(Debug)]
pub struct External {
    pub bootstrap: String,
}

impl BrokerBackend for External {
    fn kind(&self) -> &'static str {
        "external"
    }
    fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }
    fn stop(&mut self) -> Result<()> {
        Err(Error::Usage(format!(
            "an external cluster ({}) cannot be stopped from here",
            self.bootstrap
        )))
    }
    fn restart(&mut self) -> Result<()> {
        Err(Error::Usage(format!(
            "an external cluster ({}) cannot be restarted from here",
            self.bootstrap
        )))
    }
}
