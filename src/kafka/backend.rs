//! Broker backends behind one trait: the embedded broker (the default) and
//! an external cluster. The Docker tier's testcontainers backend plugs in
//! the same way.

use std::net::SocketAddr;

use super::embedded::EmbeddedBroker;
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
}

/// The in-process broker.
#[derive(Debug)]
pub struct Embedded {
    addr: SocketAddr,
    listen: SocketAddr,
    /// The host clients are told to connect to, when not the listening one.
    advertised_host: Option<String>,
    broker: Option<EmbeddedBroker>,
}

impl Embedded {
    pub fn start(listen: SocketAddr) -> Result<Embedded> {
        Embedded::start_advertising(listen, None)
    }

    /// Starts on `listen`, advertising `advertised_host` with its port.
    pub fn start_advertising(listen: SocketAddr, advertised_host: Option<String>) -> Result<Embedded> {
        let port = if listen.port() == 0 {
            super::embedded::free_port(listen.ip())?
        } else {
            listen.port()
        };
        let listen = SocketAddr::new(listen.ip(), port);
        let advertised = advertised_host.as_ref().map(|h| format!("{h}:{port}"));
        let broker = EmbeddedBroker::start_advertising(listen, advertised.as_deref())?;
        Ok(Embedded {
            addr: broker.addr(),
            listen,
            advertised_host,
            broker: Some(broker),
        })
    }
}

impl BrokerBackend for Embedded {
    fn kind(&self) -> &'static str {
        "embedded"
    }
    fn bootstrap(&self) -> String {
        match &self.advertised_host {
            Some(host) => format!("{host}:{}", self.addr.port()),
            None => self.addr.to_string(),
        }
    }
    fn stop(&mut self) -> Result<()> {
        if let Some(b) = self.broker.take() {
            b.stop();
        }
        Ok(())
    }
    fn restart(&mut self) -> Result<()> {
        self.stop()?;
        let advertised = self
            .advertised_host
            .as_ref()
            .map(|h| format!("{h}:{}", self.listen.port()));
        self.broker = Some(EmbeddedBroker::start_advertising(self.listen, advertised.as_deref())?);
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
